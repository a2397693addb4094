"""The hot paths (csrc/lc_types.h, enum lc_packed): calls with one int, t[k]
with int and str keys, t[k] = v with an int key, len() and coroutine sends
return their result packed in a C long long, and hand everything else to the
general path.  Each must give exactly what the general path gives, at the
edges of the packing and of Lua's numbers."""

import gc
import math
import threading
import weakref

import pytest

from helpers import run_threads
from lupacffi import _constants


def _general(lua):
    """Calls through the general path (lc_call with an argument array)."""
    return lua.eval("function(...) return ... end")


INTS = [
    0,
    1,
    -1,
    7,
    -8,
    2**31,
    -(2**31) - 1,
    2**53 - 1,
    -(2**53 - 1),
    2**53,
    2**53 + 1,
    2**59,
    2**60 - 1,
    -(2**60),
    2**60,
    -(2**60) - 1,
    2**62,
    2**63 - 1,
    -(2**63),
]


def _exact(lua):
    """The ints this Lua holds exactly (Lua 5.1 and LuaJIT: doubles)."""
    return 2**63 - 1 if lua.lua_version >= (5, 3) else 2**53 - 1


@pytest.mark.parametrize("x", INTS)
def test_call_with_one_int(lua, x):
    f = lua.eval("function(x) return x end")
    if abs(x) <= _exact(lua) or x == -(2**63) and lua.lua_version >= (5, 3):
        assert f(x) == x
        assert type(f(x)) is int
    else:  # Lua 5.1 / LuaJIT: the general path decides, as before
        try:
            expected = _general(lua)(x)
        except OverflowError:
            with pytest.raises(OverflowError):
                f(x)
        else:
            assert f(x) == expected


def test_call_with_ints_too_large_for_c(lua):
    f = lua.eval("function(x) return x end")
    for x in (2**63, -(2**63) - 1, 2**100):
        with pytest.raises(OverflowError):
            f(x)
    lua.set_overflow_handler(float)
    assert f(2**100) == float(2**100)


def test_results_of_every_packed_kind(lua):
    f = lua.eval("function(x) return x end")
    assert f(None) is None
    assert f(True) is True and f(False) is False
    t = lua.eval("function() return {1, 2} end")()
    assert list(t.values()) == [1, 2]
    g = lua.eval("function() return function() return 5 end end")()
    assert g() == 5
    assert lua.eval("function() end")() is None
    assert lua.eval("function() return 1, 2 end")() == (1, 2)
    assert lua.eval("function(...) return ... end")() is None


@pytest.mark.parametrize(
    "code, expected",
    [
        ("2^53", 2**53),
        ("-2^53", -(2**53)),
        ("2^60", 2**60),
        ("-2^60", -(2**60)),
        ("2^62", 2**62),
        ("0.5", 0.5),
        ("-0.0", None),
        ("1/0", math.inf),
        ("-1/0", -math.inf),
    ],
)
def test_number_results(lua, code, expected):
    value = lua.eval(code)
    if lua.lua_version >= (5, 3) or code == "0.5" or "/0" in code:
        # floats stay floats (Lua 5.3+), except whole ones in 5.1/LuaJIT
        if expected is None:
            assert value == 0.0 and math.copysign(1, value) == -1
        else:
            assert value == expected and type(value) is float
    else:
        general = _general(lua)(value)
        assert value == general and type(value) is type(general)
        if abs(float(lua.eval(code))) <= 2**53 - 1:
            assert type(value) is int


def test_nan_and_infinities_both_ways(lua):
    f = lua.eval("function(x) return x end")
    assert math.isnan(f(math.nan))
    assert f(math.inf) == math.inf and f(-math.inf) == -math.inf
    t = lua.table()
    t[1] = math.nan
    t[2] = math.inf
    assert math.isnan(t[1]) and t[2] == math.inf
    assert math.isnan(lua.eval("0/0"))


def test_strings_with_nul_bytes_and_invalid_utf8(lupa):
    lua = lupa.LuaRuntime()
    f = lua.eval("function(x) return x end")
    assert f("a\0b") == "a\0b"
    t = lua.table()
    t["k\0ey"] = 1
    assert t["k\0ey"] == 1 and t["k"] is None
    with pytest.raises(UnicodeDecodeError):
        lua.eval("'\\255'")
    with pytest.raises(UnicodeDecodeError):
        lua.eval("{['x'] = '\\255'}")["x"]
    raw = lupa.LuaRuntime(encoding=None)
    g = raw.eval("function(x) return x end")
    assert g(b"\xff\0") == b"\xff\0"
    assert raw.eval("'\\255'") == b"\xff"


def test_table_reads_with_int_and_str_keys(lua):
    t = lua.eval("{10, 20, [2^53] = 'big', [-1] = 'neg', name = 'lua', [''] = 'empty'}")
    assert t[1] == 10 and t[2] == 20 and t[3] is None
    assert t[-1] == "neg" and t[0] is None
    assert t[2**53] == "big"
    assert t["name"] == "lua" and t.name == "lua" and t[""] == "empty"
    assert t["missing"] is None
    with pytest.raises(OverflowError):
        t[2**64]
    for key in INTS:
        if abs(key) <= _exact(lua) and key not in (1, 2, -1, 2**53):
            assert t[key] is None, key


def test_table_writes_of_every_scalar(lua):
    t = lua.table()
    values = [0, -1, 2**62, -(2**60) - 1, 1.5, -0.0, True, False, None, "s", b"b", lua.table()]
    for k, v in enumerate(values, 1):
        t[k] = v
    assert t[1] == 0 and t[2] == -1 and t[3] == (2**62 if lua.lua_version >= (5, 3) else 2.0**62)
    assert t[5] == 1.5 and t[7] is True and t[8] is False and t[9] is None and t[10] == "s"
    assert t[11] == "b" and lua.eval("function(t) return type(t[12]) end")(t) == "table"
    t[1] = 5  # overwriting in place (the fast path of C)
    t[1] = None
    assert t[1] is None
    with pytest.raises(OverflowError):
        t[2**64] = 1
    with pytest.raises(OverflowError):
        t[1] = 2**64
    if lua.lua_version < (5, 3):  # beyond 2^53: the general path decides
        t[2**53 + 1] = 2**53 + 1
        assert t[2**53 + 1] == _general(lua)(2**53 + 1)
    t[2] = lua.eval("python.none")
    assert t[2] is None


def test_python_objects_through_the_fast_paths(lua):
    obj = object()
    f = lua.eval("function(x) return x end")
    assert f(obj) is obj
    t = lua.table()
    t[1] = obj
    assert t[1] is obj
    t["o"] = obj
    assert t["o"] is obj and t.o is obj
    co = lua.eval(
        "function() local x = coroutine.yield() while true do x = coroutine.yield(x) end end"
    ).coroutine()
    co.send(None)
    assert co.send(obj) is obj
    assert co.send(5) == 5


def test_errors_in_the_middle(lua):
    t = lua.eval(
        "setmetatable({}, {__index = function(t, k) error('no ' .. k) end, "
        "__newindex = function(t, k, v) error('cannot ' .. k) end})"
    )
    with pytest.raises(lua_error(lua), match="no 5"):
        t[5]
    with pytest.raises(lua_error(lua), match="no x"):
        t["x"]
    with pytest.raises(lua_error(lua), match="cannot 5"):
        t[5] = 1
    f = lua.eval("function(x) if x == 3 then error('three') end return x end")
    assert f(2) == 2
    with pytest.raises(lua_error(lua), match="three"):
        f(3)
    assert f(4) == 4  # the runtime is still usable
    co = lua.eval("function() local x = coroutine.yield() error('bad ' .. x) end").coroutine()
    co.send(None)
    with pytest.raises(lua_error(lua), match="bad 7"):
        co.send(7)
    assert not co
    with pytest.raises(lua_error(lua)):
        co.send(1)


def test_calls_without_arguments(lua):
    """(the wrappers call lc_call themselves when there are no arguments)"""
    assert lua.eval("function() return 2^53 end")() == 2**53
    assert lua.eval("function() return 'x', 2.5, nil, true end")() == ("x", 2.5, None, True)
    assert lua.eval("function() return python.none end")() is None
    obj = object()
    assert lua.eval("function(o) return function() return o end end")(obj)() is obj
    assert lua.eval("function(...) return ... end")() is None
    with pytest.raises(lua_error(lua), match="nothing"):
        lua.eval("function() error('nothing') end")()
    f = lua.eval("function() return {} end")
    lua.close()
    with pytest.raises(lua_error(lua), match="closed"):
        f()


def lua_error(lua):
    import lupacffi

    return lupacffi.LuaError


def test_len_of_tables_and_errors(lua):
    assert len(lua.table(1, 2, 3)) == 3
    assert len(lua.table()) == 0
    assert len(lua.eval("setmetatable({}, {__len = function() return 5 end})")) == 0  # raw


def test_writes_at_a_full_memory_limit(lupa):
    lua = lupa.LuaRuntime(max_memory=200000)
    t = lua.table()
    t[1] = 1
    with pytest.raises(lupa.LuaMemoryError):
        lua.execute("local t = {} for i = 1, 1e7 do t[i] = i end")
    lua.gccollect()
    big = lua.eval("function() local s = {} for i = 1, 5000 do s[i] = i end return s end")()
    with pytest.raises(lupa.LuaMemoryError):
        for k in range(10**6):
            t[k + 2] = k  # new keys: the table grows until the limit
    t[1] = 2  # an overwrite needs no memory
    assert t[1] == 2 and big[5000] == 5000


def test_coroutine_send_edges(lua):
    co = lua.eval(
        "function() local x = coroutine.yield() while x ~= 0 do x = coroutine.yield(x) end "
        "return 'end' end"
    ).coroutine()
    co.send(None)
    for x in (1, -1, 2**40, 2**60 - 1, -(2**60), 2**53 - 1, 2**63 - 1):
        if abs(x) <= _exact(lua):
            assert co.send(x) == x
        else:  # (Lua 5.1, 5.2, LuaJIT: as a double, the general path)
            assert co.send(x) == _general(lua)(x)
    with pytest.raises(OverflowError):
        co.send(2**70)
    assert co.send(0) == "end"
    with pytest.raises(StopIteration):
        co.send(1)
    assert not co


def test_hot_paths_from_several_threads(lua):
    f = lua.eval("function(x) return x end")
    t = lua.table_from(list(range(100)))
    co_src = lua.eval(
        "function() local x = coroutine.yield() while true do x = coroutine.yield(x) end end"
    )

    def work(k):
        co = co_src.coroutine()
        co.send(None)
        for i in range(300):
            assert f(i * k) == i * k
            assert t[i % 100 + 1] == i % 100
            t[101 + k] = i
            assert t[101 + k] == i
            assert co.send(i) == i
            assert len(t) >= 100

    run_threads([(work, (k,)) for k in range(1, 7)])


# ---- close() ---------------------------------------------------------------------------------
def test_close_makes_every_use_a_lua_error(lupa):
    lua = lupa.LuaRuntime()
    t = lua.eval("{1, 2, x = 3}")
    f = lua.eval("function(x) return x end")
    co = lua.eval("function() coroutine.yield(1) end").coroutine()
    it = iter(t)
    lua.close()
    lua.close()  # again: nothing
    for action in (
        lambda: t[1],
        lambda: t["x"],
        lambda: t.x,
        lambda: len(t),
        lambda: list(t),
        lambda: t.__setitem__(1, 2),
        lambda: t.__setitem__("k", "v"),
        lambda: f(1),
        lambda: f("s"),
        lambda: f(),
        lambda: co.send(None),
        lambda: next(it),
        lambda: lua.eval("1"),
        lambda: lua.execute("return 1"),
        lambda: lua.globals(),
        lambda: lua.table(),
        lambda: lua.table_from([1]),
        lambda: lua.compile("x = 1"),
        lambda: f.coroutine(),
        lambda: str(t),
    ):
        with pytest.raises(lupa.LuaError, match="closed"):
            action()
    assert not co
    t = f = co = it = None
    gc.collect()


def test_close_releases_the_python_objects_lua_held(lupa):
    class Obj(object):
        pass

    obj = Obj()
    ref = weakref.ref(obj)
    lua = lupa.LuaRuntime()
    lua.globals().held = obj
    del obj
    gc.collect()
    assert ref() is not None
    lua.close()
    gc.collect()
    assert ref() is None


def test_with_block_closes(lupa):
    with lupa.LuaRuntime() as lua:
        assert lua.eval("1 + 1") == 2
        f = lua.eval("function() return 1 end")
    with pytest.raises(lupa.LuaError, match="closed"):
        f()
    with pytest.raises(ValueError):
        with lupa.LuaRuntime() as lua2:
            raise ValueError("inside")
    with pytest.raises(lupa.LuaError, match="closed"):
        lua2.eval("1")


def test_close_from_a_callback_is_refused(lupa):
    lua = lupa.LuaRuntime()
    errors = []

    def closer():
        try:
            lua.close()
        except lupa.LuaError as e:
            errors.append(str(e))
        return 1

    assert lua.eval("function(f) return f() + 1 end")(closer) == 2
    assert errors and "while Lua code runs" in errors[0]
    assert lua.eval("1 + 1") == 2


def test_close_waits_for_a_call_in_another_thread(lupa):
    lua = lupa.LuaRuntime()
    started = threading.Event()

    def slow():
        started.set()
        return 1

    f = lua.eval("function(cb) cb() local x = 0 for i = 1, 3e6 do x = x + i end return x end")
    results = []
    thread = threading.Thread(target=lambda: results.append(f(slow)))
    thread.start()
    started.wait(10)
    lua.close()  # waits for the call to end
    thread.join(30)
    assert results == [sum(range(1, 3 * 10**6 + 1))]
    with pytest.raises(lupa.LuaError, match="closed"):
        f(slow)


def test_whole_floats_at_the_edge_of_ints(lua):
    """Lua 5.1 and LuaJIT have only floats: whole ones below 9.2e18 (in
    magnitude) are Python ints, one by one (packed within 2^53, the rest in
    Python) and in bulk (_batch) alike; 9.25e18 stays a float both ways."""
    one_by_one = [lua.eval(code) for code in ("2^53 - 1", "-(2^53 - 1)", "2^53", "9.25e18", "-0.0")]
    in_bulk = list(lua.eval("{2^53 - 1, -(2^53 - 1), 2^53, 9.25e18, -0.0}").values())
    for values in (one_by_one, in_bulk):
        if lua.lua_version >= (5, 3):
            assert [type(v) for v in values] == [float] * 5
        else:
            assert [type(v) for v in values] == [int, int, int, float, int]
        assert values[:4] == [2**53 - 1, -(2**53 - 1), 2**53, 9.25e18]


# ---- one string or float result (CPython: P_STR / P_FLOAT, in the pack buffer) ------------------
def test_one_string_result_of_any_length(lupa):
    """A string result up to the pack buffer's size comes back through it,
    a longer one the general way; both must be the same string."""
    lua = lupa.LuaRuntime()
    rep = lua.eval("function(n) return string.rep('ab\\0é', n) end")
    edge = _constants.PACK_BYTES // 5  # (5 bytes per 'ab\0é')
    for n in [0, 1, edge - 1, edge, edge + 1, 3 * edge, _constants.LONG_STRING // 5 + 1]:
        assert rep(n) == "ab\0é" * n
    exact = lua.eval("function(n) return string.rep('x', n) end")
    for n in [_constants.PACK_BYTES - 1, _constants.PACK_BYTES, _constants.PACK_BYTES + 1]:
        assert exact(n) == "x" * n
    raw = lupa.LuaRuntime(encoding=None)
    assert raw.eval("function() return '\\255\\0' end")() == b"\xff\x00"
    assert raw.eval("{k = ''}")[b"k"] == b""


def test_one_string_result_from_every_path(lua):
    t = lua.eval("{name = 'value', [1] = 'one', [2.5] = 'x'}")
    assert t["name"] == "value" and t.name == "value" and t[1] == "one" and t[2.5] == "x"
    assert lua.eval("function(i) return 's' .. i end")(7) == "s7"
    co = lua.eval("function() local x = coroutine.yield('first') coroutine.yield('got ' .. x) end")
    gen = co.coroutine()
    assert gen.send(None) == "first" and gen.send(5) == "got 5"
    assert lua.eval("'text'") == "text" and lua.execute("return 'chunk'") == "chunk"


def test_one_undecodable_string_result(lupa):
    lua = lupa.LuaRuntime()
    f = lua.eval("function() return '\\255' end")
    for _ in range(3):
        with pytest.raises(UnicodeDecodeError):
            f()
    assert lua.eval("function() return 'ok' end")() == "ok"  # nothing left behind


def test_one_float_result_from_every_path(lua):
    t = lua.eval("{x = 1.5, [1] = -0.25}")
    assert t.x == 1.5 and t["x"] == 1.5 and t[1] == -0.25
    f = lua.eval("function(x) return x / 4 end")
    assert f(1) == 0.25 and f(1.0) == 0.25
    gen = lua.eval("function() coroutine.yield(0.5) end").coroutine()
    assert gen.send(None) == 0.5
    nan = lua.eval("function() return 0 / 0 end")()
    assert math.isnan(nan)
    assert lua.eval("function() return -0.0 end")() == 0.0
    if lua.lua_version >= (5, 3):  # (5.1, LuaJIT: whole numbers are ints)
        assert math.copysign(1, lua.eval("function() return -0.0 end")()) == -1
        assert type(lua.eval("function() return 3.0 end")()) is float
    assert lua.eval("function() return 1 / 0 end")() == math.inf
    assert lua.eval("function() return 1e308 * 10 end")() == math.inf


def test_one_string_or_float_result_from_several_threads(lua):
    f = lua.eval("function(i) return 's' .. i end")
    g = lua.eval("function(i) return i + 0.5 end")

    def worker(tid):
        for i in range(500):
            k = tid * 10000 + i
            assert f(k) == "s%d" % k and g(k) == k + 0.5
        return tid

    assert sorted(run_threads([(worker, (t,)) for t in range(4)])) == [0, 1, 2, 3]


REFERENCE_VALUES = {
    "table": "{}",
    "function": "function() end",
    "new coroutine": "coroutine.create(function() end)",
    "suspended coroutine": "(function() local co = coroutine.create(function() coroutine.yield() end) coroutine.resume(co) return co end)()",
    "userdata": "io and io.stdout or python.none",
}


@pytest.mark.parametrize("what", sorted(REFERENCE_VALUES))
def test_lua_objects_packed_as_references(lua, lupa, what):
    # a table, function, thread or userdata result is packed as its registry
    # reference and wrapped in the hot path itself: each way to reach one
    # gives the wrapper the general path gives
    lua.execute("value = " + REFERENCE_VALUES[what])
    expected = lua.eval("value")
    kind = lupa.lua_type(expected)
    get = lua.eval("function(...) return value end")
    holder = lua.eval("{value, value = value}")
    results = [get(), get(1), get(2.5), get("s"), holder[1], holder["value"], holder.value]
    for result in results:
        assert lupa.lua_type(result) == kind, what
        assert result == expected and type(result) is type(expected)
    del results, expected
    gc.collect()
    assert lua.eval("type(value)") in ("table", "function", "thread", "userdata")
