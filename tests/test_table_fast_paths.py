"""t[k] and t[k] = v on a plain table skip the protected call when nothing in
them can raise a Lua error (csrc/lc_ops.c, "raw fast paths"): number and
boolean keys, a table without a metatable, and for assignment an existing key
and a number, boolean or nil value.  These tests check that every case inside
and at the edges of that path gives what the protected path gives."""

import math
import sys
import threading

import pytest

from helpers import run_threads


def test_reads_of_every_result_type(lua, lupa):
    t = lua.eval("{10, 2.5, 'text', true, false, {}, print, [1.5] = 'half', [true] = 'yes'}")
    assert t[1] == 10 and t[2] == 2.5 and t[3] == "text"
    assert t[4] is True and t[5] is False
    assert lupa.lua_type(t[6]) == "table"  # (a reference: the protected path)
    assert lupa.lua_type(t[7]) == "function"
    assert t[1.5] == "half" and t[True] == "yes"
    assert t[8] is None and t[-1] is None and t[False] is None


def test_float_keys_read_as_lua_does(lua):
    t = lua.eval("{'a', 'b'}")
    assert t[1.0] == "a" and t[2.0] == "b"
    assert t[float("nan")] is None
    assert t[float("inf")] is None and t[-0.0] is None


def test_string_results_stay_valid(lua):
    t = lua.eval("{('x'):rep(100000), 'short', ''}")
    long, short, empty = t[1], t[2], t[3]
    assert long == "x" * 100000 and short == "short" and empty == ""


def test_string_results_honour_the_encoding(lupa):
    raw = lupa.LuaRuntime(encoding=None)
    t = raw.eval("{'\\255\\254'}")
    assert t[1] == b"\xff\xfe"
    strict = lupa.LuaRuntime()
    t = strict.eval("{'\\255\\254'}")
    with pytest.raises(UnicodeDecodeError):
        t[1]


def test_big_integers(lua, lupa):
    t = lua.eval("{}")
    t[lupa.LUA_MAXINTEGER] = 1
    assert t[lupa.LUA_MAXINTEGER] == 1
    t[lupa.LUA_MAXINTEGER] = lupa.LUA_MININTEGER
    assert t[lupa.LUA_MAXINTEGER] == lupa.LUA_MININTEGER


def test_overwriting_existing_keys(lua):
    t = lua.eval("{1, 2, 3, x = 4, [2.5] = 5, [true] = 6}")
    t[1] = 10
    t[2] = 2.5
    t[3] = False
    t[2.5] = True
    t[True] = -7
    assert [t[1], t[2], t[3], t[2.5], t[True], t.x] == [10, 2.5, False, True, -7, 4]
    assert lua.eval("function(t) return t[1], t[2], t[3], t[2.5], t[true] end")(t) == (
        10,
        2.5,
        False,
        True,
        -7,
    )


def test_overwriting_with_nil_deletes(lua):
    t = lua.eval("{1, 2, 3, [true] = 1}")
    t[3] = None
    t[True] = None
    assert len(t) == 2 and t[3] is None and t[True] is None
    assert list(t.keys()) == [1, 2]


def test_new_keys_and_other_values_take_the_protected_path(lua):
    t = lua.eval("{1}")
    t[2] = 2  # new key
    t[1] = "one"  # string value
    t[3] = t  # table value
    t[1.5] = [1]  # Python object value
    assert t[2] == 2 and t[1] == "one" and t[3] == t and t[1.5] == [1]
    t[1] = 1  # back to a number on an existing key
    assert t[1] == 1


def test_nan_key_assignment_stays_a_lua_error(lua, lupa):
    t = lua.eval("{}")
    with pytest.raises(lupa.LuaError):
        t[float("nan")] = 1
    with pytest.raises(lupa.LuaError):
        t[float("nan")] = None


def test_metatables_are_honoured(lua):
    t = lua.eval("""setmetatable({1, 2}, {
        __index = function(t, k) return 'index ' .. tostring(k) end,
        __newindex = function(t, k, v) rawset(t, k, v * 2) end})""")
    assert t[1] == 1 and t[5] == "index 5" and t[True] == "index true"
    t[1] = 10  # existing key: raw, as in Lua
    t[7] = 3  # new key: __newindex
    assert t[1] == 10 and t[7] == 6


def test_metatable_without_index_is_raw_either_way(lua):
    t = lua.eval("setmetatable({1}, {})")
    assert t[1] == 1 and t[2] is None
    t[1] = 5
    assert t[1] == 5


def test_metatable_added_and_removed_later(lua):
    t = lua.eval("{1}")
    assert t[2] is None
    lua.eval("function(t) setmetatable(t, {__index = function() return 'mt' end}) end")(t)
    assert t[2] == "mt"
    lua.eval("function(t) setmetatable(t, nil) end")(t)
    assert t[2] is None


def test_userdata_takes_the_protected_path(lua, lupa):
    stdout = lua.eval("io.stdout")
    assert lupa.lua_type(stdout) == "userdata"
    assert lupa.lua_type(stdout["write"]) == "function"  # through its __index
    assert stdout[1] is None
    with pytest.raises(TypeError):  # as in lupa
        stdout[1] = 2


def test_functions_cannot_be_indexed(lua):
    f = lua.eval("print")
    with pytest.raises(TypeError):
        f[1]
    with pytest.raises(TypeError):
        f[1] = 2


def test_inside_callbacks(lua):
    t = lua.eval("{1, 2, 3}")
    seen = []

    def callback():
        seen.append(t[2])
        t[2] = 20
        seen.append(t[2])

    lua.eval("function(f, t) f() return t[2] end")(callback, t)
    assert seen == [2, 20] and t[2] == 20


def test_inside_callbacks_with_a_full_stack(lua):
    # a callback called with many arguments leaves little stack room:
    # indexing from it takes the protected path, which makes room
    t = lua.eval("{1, 2, 3}")
    seen = []

    def callback(*args):
        seen.append((len(args), t[1]))
        t[1] = len(args)

    lua.eval(
        "function(f) local a = {} for i = 1, 5000 do a[i] = i end f(table.unpack(a)) end"
        if lua.lua_version >= (5, 2)
        else "function(f) local a = {} for i = 1, 5000 do a[i] = i end f(unpack(a)) end"
    )(callback)
    assert seen == [(5000, 1)] and t[1] == 5000


def test_closed_runtime(lupa):
    # closed in C (as the runtime's finalizer does): the C side refuses
    lua = lupa.LuaRuntime()
    t = lua.eval("{1}")
    lua._lib.lc_close(lua._ptr)
    with pytest.raises(lupa.LuaError):
        t[1]
    with pytest.raises(lupa.LuaError):
        t[1] = 2


def test_overwriting_needs_no_memory(lupa):
    # at the memory limit, reading and overwriting existing keys still work;
    # a new key gives LuaMemoryError, and the table is unharmed
    lua = lupa.LuaRuntime(max_memory=2**20)
    t = lua.eval("{1, 2, 3}")
    lua.execute("junk = {}")
    fill = lua.eval("""function()
        return pcall(function() while true do junk[#junk + 1] = {} end end) end""")
    free = lua.eval("function() junk = nil collectgarbage() end")
    assert fill() == (False, "not enough memory")
    t[1] = 100
    assert t[1] == 100 and t[2] == 2 and t[3] == 3
    with pytest.raises(lupa.LuaMemoryError):
        for k in range(4, 100000):
            t[k] = k
    assert t[1] == 100 and t[2] == 2 and t[3] == 3
    free()
    t[4] = 4
    assert t[4] == 4


def test_threads_on_one_table(lua):
    # readers and writers on existing keys from several threads: every read
    # sees a value some writer wrote, and nothing is lost or torn
    n_keys, n_rounds = 16, 2000
    t = lua.table_from([0] * n_keys)

    def writer(w):
        for r in range(n_rounds):
            t[1 + (r % n_keys)] = w * 100000 + r

    def reader():
        for r in range(n_rounds):
            v = t[1 + (r % n_keys)]
            assert isinstance(v, int) and (v == 0 or v // 100000 in (1, 2, 3))

    run_threads([(writer, (w,)) for w in (1, 2, 3)] + [(reader, ())] * 3)
    assert sorted(set(t.values()) - {0})[-1] // 100000 in (1, 2, 3)
    assert len(t) == n_keys


def test_threads_while_lua_runs(lua):
    # while one thread is inside a long Lua call, another's t[k] waits for it:
    # its reads never see the call half done
    t = lua.eval("{0}")
    spin = lua.eval("function(t, n) for i = 1, n do t[1] = t[1] + 1 end t[1] = -n end")
    seen = []

    def read():
        for _ in range(3000):
            seen.append(t[1])

    th = threading.Thread(target=read)
    th.start()
    spin(t, 200000)
    th.join()
    assert set(seen) <= {0, -200000} and t[1] == -200000


def test_huge_and_odd_numbers(lua):
    t = lua.eval("{0}")
    for value in (sys.float_info.max, -sys.float_info.max, math.inf, -math.inf, 5e-324):
        t[1] = value
        assert t[1] == value
    t[1] = float("nan")
    assert math.isnan(t[1])


# ---- int keys: one lua_rawgeti, nil/bool/int results packed (lc_getitem_i) ------

# keys at the edges of a C int (lua_rawgeti's index before Lua 5.3) and of
# what Lua 5.1/LuaJIT numbers hold exactly; values at the edges of a packed
# result (61 bits) and of each kind the path packs or hands on
EDGE_KEYS = [0, 1, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**53, -(2**53), 2**62]
EDGE_VALUES = [None, True, False, 0, -1, 2**60 - 1, 2**60, -(2**60), -(2**60) - 1, 2**62]
EDGE_VALUES += [1.0, 2.5, -0.0, 2.0**53, 1e300, math.inf, "s", "\0\xff"[:1], {}]


def _lua_holds(lua, number):
    return lua.lua_version >= (5, 3) or abs(number) <= 2**53


def _outcome(action):
    try:
        value = action()
    except Exception as e:  # the same error either way is the same outcome
        return ("error", type(e))
    return ("value", type(value), value if value == value else "nan")


def test_int_keys_read_at_their_edges_as_the_protected_path_does(lua):
    # t[k] (the int fast path) against rawget(t, k) called through Lua (the
    # protected call and lc_results): the same value of the same type
    rawget = lua.eval("function(t, k) return rawget(t, k) end")
    values = [v if not isinstance(v, dict) else lua.table() for v in EDGE_VALUES]
    for key in [k for k in EDGE_KEYS if _lua_holds(lua, k)]:
        for value in [v for v in values if not isinstance(v, int) or _lua_holds(lua, v)]:
            t = lua.table()
            lua.eval("rawset")(t, key, value)
            fast, slow = t[key], rawget(t, key)
            assert _outcome(lambda: fast) == _outcome(lambda: slow), (key, value)
            assert t[7] is None  # (key + 1 would be key itself at 2^53 in Lua 5.1/5.2)


def test_int_keys_written_at_their_edges_as_the_protected_path_does(lua):
    # t[k] = v on an existing key (the raw fast path) against rawset called
    # through Lua: Lua then holds the same value
    rawget = lua.eval("function(t, k) return rawget(t, k) end")
    rawset = lua.eval("function(t, k, v) rawset(t, k, v) end")
    for key in [k for k in EDGE_KEYS if _lua_holds(lua, k)]:
        for value in EDGE_VALUES:
            if isinstance(value, dict):
                value = lua.table()
            fast, slow = lua.table(), lua.table()
            for t in (fast, slow):
                rawset(t, key, "old")
            a = _outcome(lambda: fast.__setitem__(key, value))
            b = _outcome(lambda: rawset(slow, key, value))
            assert a[0] == b[0], (key, value, a, b)
            assert _outcome(lambda: rawget(fast, key)) == _outcome(lambda: rawget(slow, key))


def test_int_keys_beyond_what_lua_holds(lua, lupa):
    # Lua 5.1/LuaJIT numbers hold ints up to 2^53 exactly: a key beyond that
    # takes the general path, which says what it makes of it, either way alike
    t = lua.table()
    for key in (2**53 + 1, 2**63 - 1, -(2**63), 2**64, -(2**100)):
        read = _outcome(lambda: t[key])
        assert read[0] == "error" or read[2] is None, (key, read)
        written = _outcome(lambda: t.__setitem__(key, 1))
        if written[0] == "value":
            assert t[key] == 1
    assert t[1] is None


def test_int_keys_on_tables_with_metatables_and_on_other_types(lua, lupa):
    proxy = lua.eval("""setmetatable({10}, {__index = function(t, k) return k * 2 end,
                                           __newindex = function(t, k, v) rawset(t, k, -v) end})""")
    assert proxy[1] == 10 and proxy[2**31] == 2**32 and proxy[-3] == -6
    proxy[1] = 11  # existing: raw
    proxy[2] = 5  # new: __newindex
    assert proxy[1] == 11 and proxy[2] == -5
    failing = lua.eval("setmetatable({}, {__index = function() error('no such key') end})")
    with pytest.raises(lupa.LuaError, match="no such key"):
        failing[1]
    with pytest.raises(lupa.LuaError):
        failing[2**31]
    assert lua.eval("1 + 1") == 2
    with pytest.raises(TypeError):
        lua.eval("print")[1]


def test_int_keys_from_threads_each_on_its_own_runtime_and_on_a_shared_one(lupa):
    shared = lupa.LuaRuntime()
    shared_table = shared.table_from(list(range(64)))

    def work(i):
        own = lupa.LuaRuntime().table_from([i] * 8)
        for r in range(3000):
            k = 1 + r % 64
            assert shared_table[k] in (k - 1, -(k - 1))
            shared_table[k] = -shared_table[k] if r % 7 == 0 else shared_table[k]
            own[1 + r % 8] = r
            assert own[1 + r % 8] == r
            assert own[9] is None

    run_threads([(work, (i,)) for i in range(4)])
    assert sorted(abs(v) for v in shared_table.values()) == list(range(64))


# ---- string keys: remembered Lua strings (lc_remember_key) ----------------------


def test_string_keys_read_and_write(lua):
    t = lua.eval("{name = 'n', other = 2, flag = true}")
    for _ in range(3):  # the first access remembers the key
        assert t["name"] == "n" and t.other == 2 and t["flag"] is True
        assert t["missing"] is None and t.missing is None
    t["other"] = 3
    t.flag = False
    t.name = None  # deletes
    assert (t.name, t.other, t.flag) == (None, 3, False)
    assert lua.eval("function(t) return t.name, t.other, t.flag end")(t) == (None, 3, False)


def test_many_string_keys_share_the_slots(lua):
    # more keys than remembered slots: evicted keys are looked up again, and
    # the registry keeps one reference per slot, not one per key ever used
    t = lua.table_from({"key%d" % i: i for i in range(1000)})
    count = lua.eval(
        "function() collectgarbage() collectgarbage() return (collectgarbage('count')) end"
    )
    for _ in range(2):
        assert [t["key%d" % i] for i in range(1000)] == list(range(1000))
    used = count()
    for i in range(20000):
        assert t["key%d" % (i % 1000)] == i % 1000
        assert t["absent%d" % i] is None
    assert count() - used < 64  # KiB: no reference per key ever seen


def test_string_keys_that_differ_late_or_in_nul_bytes(lupa):
    lua = lupa.LuaRuntime(encoding=None)
    t = lua.eval(
        "{['a\\0b'] = 1, ['a\\0c'] = 2, ['" + "x" * 63 + "1'] = 3, ['" + "x" * 63 + "2'] = 4}"
    )
    for _ in range(3):
        assert t[b"a\x00b"] == 1 and t[b"a\x00c"] == 2 and t[b"a"] is None
        assert t[b"x" * 63 + b"1"] == 3 and t[b"x" * 63 + b"2"] == 4


def test_long_and_empty_string_keys(lua):
    long = "k" * 1000
    t = lua.table_from({long: 1, "": 2})
    for _ in range(3):
        assert t[long] == 1 and t[""] == 2 and t["k" * 999] is None
    t[long] = 5
    assert t[long] == 5


def test_string_keys_in_other_encodings(lupa):
    lua = lupa.LuaRuntime(encoding="latin-1")
    t = lua.eval("{['\\233t\\233'] = 1}")
    for _ in range(3):
        assert t["été"] == 1
    assert list(t.keys()) == ["été"]


def test_string_keys_under_a_memory_limit(lupa):
    lua = lupa.LuaRuntime(max_memory=2**22)
    t = lua.eval("{name = 1}")
    for i in range(3):
        assert t.name == i + 1
        t.name = i + 2
    assert t.name == 4 and t.other is None


def test_string_keys_with_metatables(lua):
    t = lua.eval("setmetatable({x = 1}, {__index = function(t, k) return k .. '!' end})")
    for _ in range(3):
        assert t.x == 1 and t.y == "y!"


def test_string_keys_from_several_threads(lua):
    names = ["name%d" % i for i in range(200)]
    t = lua.table_from({n: i for i, n in enumerate(names)})

    def work(offset):
        for r in range(3000):
            i = (r * 7 + offset) % len(names)
            assert t[names[i]] == i

    run_threads([(work, (k,)) for k in range(4)])


def test_string_key_read_from_a_finalizer(lua):
    # a Lua finalizer that indexes a table from Python while t[k] makes its
    # key string: the nested call must not disturb the outer one
    t = lua.eval("{}")
    for i in range(50):
        t["k%d" % i] = i

    def fin():
        return [t["k%d" % i] for i in range(50)]

    make = lua.eval("""function(f)
        for i = 1, 200 do
            setmetatable({}, {__gc = function() f() end})
        end end""")
    seen = []
    for r in range(20):
        make(fin)
        seen.append(t["k%d" % (r % 50)])
        t["new%d" % r] = r  # allocates: finalizers may run here
    lua.eval("collectgarbage")()
    assert seen == [r % 50 for r in range(20)]
    assert [t["new%d" % r] for r in range(20)] == list(range(20))
