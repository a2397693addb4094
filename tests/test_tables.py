"""Lua tables seen from Python: the mapping protocol with lupa's rules,
table() and table_from(), and the errors around them."""

import collections
import gc

import pytest

MIXED = "{10, 20, 30, x=1, y='s', [1.5]='f', [true]='b'}"


# ---- the examples of lupa's project description ------------------------------------
def test_reference_table_examples(lua, lupa):
    table = lua.eval("{10,20,30,40}")
    assert table[1] == 10
    assert table[4] == 40
    assert list(table) == [1, 2, 3, 4]
    assert list(table.values()) == [10, 20, 30, 40]
    assert len(table) == 4

    mapping = lua.eval("{ [1] = -1 }")
    assert list(mapping) == [1]

    mapping = lua.eval("{ [20] = -20; [3] = -3 }")
    assert mapping[20] == -20
    assert mapping[3] == -3
    assert sorted(mapping.values()) == [-20, -3]
    assert sorted(mapping.items()) == [(3, -3), (20, -20)]

    mapping[-3] = 3  # -3 used as key, not index!
    assert mapping[-3] == 3
    assert sorted(mapping) == [-3, 3, 20]
    assert sorted(mapping.items()) == [(-3, 3), (3, -3), (20, -20)]

    t = lua.table(1, 2, 3, 4)
    assert lupa.lua_type(t) == "table"
    assert list(t) == [1, 2, 3, 4]

    t = lua.table(1, 2, 3, 4, a=1, b=2)
    assert t[3] == 3
    assert t["b"] == 2

    t = lua.table_from([1, 2, 3], {"a": 1, "b": 2}, (4, 5), {"b": 42})
    assert t["b"] == 42
    assert t[5] == 5

    assert table[1000000] is None
    assert table["no such key"] is None
    assert mapping["no such key"] is None
    assert len(table) == 4
    assert len(mapping) == 0

    table = lua.eval("{ a=1, b=2 }")
    assert (table.a, table.b) == (1, 2)
    assert table.a == table["a"]

    string = lua.eval("string")
    assert string.lower("A") == "a"


# ---- reading ---------------------------------------------------------------------------
def test_getitem_of_every_key_type(lua):
    t = lua.eval(MIXED)
    assert (t[1], t[2], t[3], t[4]) == (10, 20, 30, None)
    assert (t["x"], t.x, t.y) == (1, 1, "s")
    assert (t[1.5], t[True]) == ("f", "b")
    assert t[False] is None


def test_missing_keys_are_none(lua):
    t = lua.eval(MIXED)
    assert t.missing is None
    assert t["missing"] is None
    assert t[None] is None
    assert t[float("nan")] is None
    assert t[0] is None and t[-1] is None and t[2**40] is None
    assert t[b"x"] == 1  # bytes are Lua strings too


def test_unhashable_python_key_reads_none(lua):
    t = lua.eval(MIXED)
    assert t[[1, 2]] is None  # a Python object as key: nothing stored under it
    assert t[1:2] is None


def test_python_object_as_key_round_trip(lua):
    key = object()
    t = lua.table()
    t[key] = "v"
    assert t[key] == "v"
    assert list(t.keys()) == [key]
    assert list(t.keys())[0] is key


def test_float_key_is_normalised(lua):
    t = lua.eval("{}")
    t[1.0] = "one"
    assert t[1] == "one"
    assert list(t.keys()) == [1]


# ---- None keys -----------------------------------------------------------------------------
def test_none_key_maps_to_python_none(lua):
    t = lua.eval("{}")
    t[None] = 1
    assert t[None] == 1
    assert None in t
    assert list(t.keys()) == [None]
    assert list(t.items()) == [(None, 1)]
    key_type, value = lua.eval("""function(t)
        for k, v in pairs(t) do
            if k == python.none then return type(k), v end
        end
    end""")(t)
    assert (key_type, value) == ("userdata", 1)
    del t[None]
    assert t[None] is None
    assert list(t) == []


def test_nil_key_set_from_lua_code_is_a_lua_error(lua, lupa):
    t = lua.eval("{}")
    setter = lua.eval("function(t, k) t[k] = 1 end")
    with pytest.raises(lupa.LuaError, match="index is nil|nil index"):
        setter(t, None)
    assert list(t) == []


def test_nan_key_assignment_is_a_lua_error(lua, lupa):
    t = lua.eval("{}")
    with pytest.raises(lupa.LuaError, match="NaN"):
        t[float("nan")] = 1
    assert list(t) == []
    with pytest.raises(lupa.LuaError, match="NaN"):
        lua.table_from({float("nan"): 1})
    with pytest.raises(lupa.LuaError, match="NaN"):
        lua.table_from([{float("nan"): 1}], recursive=True)
    try:
        del t[float("nan")]  # setting nil under NaN: an error in some Lua versions
    except lupa.LuaError as e:
        assert "NaN" in str(e)
    assert list(t) == [] and lua.eval("1 + 1") == 2


# ---- writing ----------------------------------------------------------------------------------
def test_set_and_delete_by_item_and_attribute(lua):
    t = lua.eval(MIXED)
    t.z = 5
    t["w"] = 6
    assert (t.z, t.w, t["z"], t["w"]) == (5, 6, 5, 6)
    del t["w"]
    del t.z
    assert (t.z, t.w) == (None, None)
    assert "z" not in list(t.keys())
    del t["nonexistent"]
    del t.nonexistent
    t[1] = None
    assert t[1] is None


def test_values_of_every_type_round_trip(lua):
    t = lua.table()
    obj = object()
    values = {
        "i": 7,
        "f": 2.5,
        "s": "text",
        "b": True,
        "o": obj,
        "t": lua.eval("{1}"),
        "fn": lua.eval("print"),
    }
    for k, v in values.items():
        t[k] = v
    for k, v in values.items():
        got = t[k]
        assert got == v and type(got) is type(v)
    assert t.o is obj


def test_attribute_rules(lua):
    t3 = lua.eval(
        "{keys=1, values=2, items=3, coroutine=4, __class__=5, __dict__=6, _private=7, __len__=8}"
    )
    assert callable(t3.keys) and t3["keys"] == 1
    assert callable(t3.values) and t3["values"] == 2
    assert callable(t3.items) and t3["items"] == 3
    assert t3.coroutine == 4  # tables have no coroutine() method
    assert t3.__class__.__name__ == "_LuaTable" and t3["__class__"] == 5
    with pytest.raises(AttributeError):
        t3.__dict__
    with pytest.raises(AttributeError):
        t3.__foo__
    assert t3._private == 7  # a single underscore is looked up in Lua
    assert t3._other is None
    assert hasattr(t3, "nothere")
    assert getattr(t3, "nothere", "default") is None
    t3.keys = 99  # sets the Lua key; the method stays
    assert t3["keys"] == 99 and callable(t3.keys)
    t3._newpriv = 1
    assert t3["_newpriv"] == 1
    with pytest.raises(TypeError):
        t3.__newdunder__ = 1
    with pytest.raises(TypeError):
        del t3.__newdunder__
    assert t3["__newdunder__"] is None


def test_internal_names_do_not_break_the_wrapper(lua):
    t = lua.eval("{}")
    t._rt = "a"  # Lua keys; the wrapper keeps working
    t._ref = "b"
    assert t["_rt"] == "a" and t["_ref"] == "b"
    t.x = 1
    assert t.x == 1 and len(list(t)) == 3


# ---- len, bool, in -------------------------------------------------------------------------------
def test_len_is_the_raw_length(lua):
    assert len(lua.eval("{1, 2, 3}")) == 3
    assert len(lua.eval("{x=1, y=2}")) == 0
    assert len(lua.eval("{}")) == 0
    assert len(lua.eval("{1, 2, nil, 4}")) in (2, 4)  # any border
    assert len(lua.eval("setmetatable({}, {__len=function() return 5 end})")) == 0
    assert len(lua.eval("setmetatable({1}, {__len=function() error('no') end})")) == 1
    assert len(lua.table(*range(1000))) == 1000


def test_bool_is_always_true(lua):
    assert bool(lua.eval("{}"))
    assert bool(lua.eval("{x=1}"))


def test_in_compares_keys_like_lupa(lua):
    t = lua.eval(MIXED)
    assert 1 in t and "x" in t and 1.5 in t and True in t
    assert 10 not in t  # values are not keys
    assert "missing" not in t
    assert None not in t
    assert 1.0 in t  # Python equality, as in lupa
    assert True in lua.eval("{1}")  # True == 1 in Python
    indexed = lua.eval("setmetatable({}, {__index=function(t, k) return 1 end})")
    assert indexed["foo"] == 1
    assert "foo" not in indexed  # raw keys only
    failing = lua.eval("setmetatable({}, {__index=function(t, k) error('idx') end})")
    assert "foo" not in failing


# ---- iteration ----------------------------------------------------------------------------------
def test_iterators_are_lupa_style(lua):
    t = lua.eval("{1, 2, 3}")
    k = t.keys()
    assert type(k).__name__ == "_LuaIter"
    assert type(t.values()) is type(k) and type(t.items()) is type(k) and type(iter(t)) is type(k)
    assert repr(k) == "LuaIter(%r)" % (t,)
    assert iter(k) is k
    with pytest.raises(TypeError):
        len(k)
    assert list(k) == [1, 2, 3]
    assert list(k) == []  # an iterator, not a view
    it = t.items()
    assert next(it) == (1, 1)
    assert next(it) == (2, 2)


def test_iteration_order_array_part_first(lua):
    t = lua.eval(MIXED)
    keys = list(t)
    assert keys[:3] == [1, 2, 3]
    assert sorted(keys[3:], key=repr) == sorted([True, "x", 1.5, "y"], key=repr)
    assert dict(t.items()) == {1: 10, 2: 20, 3: 30, True: "b", "x": 1, 1.5: "f", "y": "s"}  # noqa: F601
    assert sorted(map(repr, t.values())) == sorted(map(repr, [10, 20, 30, 1, "s", "f", "b"]))


def test_iteration_of_a_temporary_table(lua):
    # the iterator keeps the table alive
    assert sorted(lua.table(1, 2, 4).items()) == [(1, 1), (2, 2), (3, 4)]
    it = lua.eval("{a=1, b=2}").keys()
    gc.collect()
    lua.gccollect()
    assert sorted(it) == ["a", "b"]


def test_iteration_is_raw(lua):
    t = lua.eval("""setmetatable({a=1}, {
        __pairs=function(t) return function() return nil end, t, nil end,
        __index=function(t, k) return 'idx' end})""")
    assert list(t) == ["a"]
    assert list(t.items()) == [("a", 1)]


@pytest.mark.parametrize("n", [0, 1, 31, 32, 33, 63, 64, 65, 1000])
def test_iteration_across_batches(lua, n):
    t = lua.eval("""function(n)
        local t = {}
        for i = 1, n do t[i] = i * 2; t['k' .. i] = i end
        return t end""")(n)
    items = list(t.items())
    assert len(items) == 2 * n
    assert dict(items) == dict(
        [(i, i * 2) for i in range(1, n + 1)] + [("k%d" % i, i) for i in range(1, n + 1)]
    )
    assert len(list(t.keys())) == len(list(t.values())) == len(list(t)) == 2 * n


@pytest.mark.parametrize("n", [64, 1100, 3000])
def test_iteration_of_every_value_type_across_batches(lua, lupa, n):
    """Batches are converted column by column: every Lua type, strings with
    NULs and non-ASCII text, Python objects, in big and small batches."""
    objs = [object() for _ in range(7)]
    t = lua.eval("""function(n, objs)
        local t = {}
        for i = 1, n do
            local m = i % 8
            if m == 0 then t[i] = i
            elseif m == 1 then t[i] = i + 0.5
            elseif m == 2 then t[i] = 's\0' .. i .. 'é'
            elseif m == 3 then t[i] = (i % 16 == 3)
            elseif m == 4 then t[i] = {i}
            elseif m == 5 then t[i] = objs[i % 7 + 1]
            elseif m == 6 then t[i] = function() return i end
            else
                t[i] = coroutine.create(function() coroutine.yield() end)
                coroutine.resume(t[i])     -- a started thread is a thread in Python
            end
            t['k' .. i] = i
        end
        return t end""")(n, lua.table_from(objs))
    expected = {}
    for i in range(1, n + 1):
        m = i % 8
        expected[i] = [i, i + 0.5, "s\0%dé" % i, i % 16 == 3, None, objs[i % 7], None, None][m]
        expected["k%d" % i] = i
    items = list(t.items())
    assert len(items) == 2 * n
    for k, v in items:
        if isinstance(k, int) and k % 8 == 4:
            assert lupa.lua_type(v) == "table" and v[1] == k
        elif isinstance(k, int) and k % 8 == 6:
            assert v() == k
        elif isinstance(k, int) and k % 8 == 7:
            assert lupa.lua_type(v) == "thread"
        elif isinstance(k, int) and k % 8 == 5:
            assert v is expected[k]
        else:
            assert v == expected[k] and type(v) is type(expected[k])
    assert sorted(map(repr, t.keys())) == sorted(map(repr, expected))
    assert len(list(t.values())) == 2 * n


def test_iteration_of_undecodable_strings_releases_the_batch(lupa):
    lua = lupa.LuaRuntime()
    t = lua.eval(
        "(function() local t = {} for i = 1, 2000 do t[i] = i == 1500 and '\\255' or {} end return t end)()"
    )
    with pytest.raises(UnicodeDecodeError):
        list(t.values())
    lua.gccollect()
    assert lua.eval("1 + 1") == 2


def test_partial_iteration_then_drop(lua):
    t = lua.eval("(function() local t = {} for i = 1, 500 do t[i] = i end return t end)()")
    for _ in range(200):
        it = iter(t)
        assert next(it) == 1
        del it
    gc.collect()
    assert len(list(t)) == 500


def test_clearing_keys_while_iterating(lua):
    t = lua.eval("(function() local t = {} for i = 1, 300 do t['k' .. i] = i end return t end)()")
    seen = []
    for k in t:
        seen.append(k)
        t[k] = None  # allowed by Lua's next()
    assert sorted(seen) == sorted("k%d" % i for i in range(1, 301))
    assert list(t) == []


def test_adding_keys_while_iterating_never_crashes(lua, lupa):
    # lupa aborts the process here; Lua's next() may refuse the key instead
    for code in [
        "{1, 2, 3, 4, 5, 6, 7, 8}",
        "(function() local t = {} for i = 1, 200 do t['k' .. i] = i end return t end)()",
    ]:
        t = lua.eval(code)
        count = 0
        try:
            for k in t:
                t[k] = None
                t[(k if isinstance(k, int) else len(k)) + 10000 + count] = 1
                count += 1
                if count > 5000:
                    break
        except lupa.LuaError as e:
            assert "next" in str(e)
        assert lua.eval("1 + 1") == 2


def test_undecodable_key_raises_while_iterating(lua):
    t = lua.eval("{['\\255'] = 1}")
    it = t.keys()  # making the iterator works
    with pytest.raises(UnicodeDecodeError):
        list(it)


# ---- metamethods from Python ------------------------------------------------------------------------
def test_index_metamethod_used_by_item_and_attribute_access(lua):
    t = lua.eval("setmetatable({}, {__index=function(t, k) return k .. '!' end})")
    assert t.foo == "foo!"
    assert t["bar"] == "bar!"


def test_index_metamethod_error_is_lua_error(lua, lupa):
    t = lua.eval("setmetatable({}, {__index=function(t, k) error('idx err') end})")
    for get in (lambda: t.foo, lambda: t["foo"], lambda: t[1]):
        with pytest.raises(lupa.LuaError, match="idx err"):
            get()
    assert lua.eval("1 + 1") == 2


def test_newindex_metamethod_error_is_lua_error(lua, lupa):
    # lupa aborts the process in this case
    t = lua.eval("setmetatable({}, {__newindex=function(t, k, v) error('set err ' .. k) end})")
    with pytest.raises(lupa.LuaError, match="set err x"):
        t.x = 1
    with pytest.raises(lupa.LuaError, match="set err y"):
        t["y"] = 1
    with pytest.raises(lupa.LuaError, match="set err z"):
        del t["z"]
    assert list(t) == []
    readonly = lua.eval("setmetatable({}, {__newindex=function() error('read-only', 0) end})")
    with pytest.raises(lupa.LuaError, match="read-only"):
        readonly[1] = 2


def test_newindex_metamethod_is_honoured(lua):
    store = lua.eval("{}")
    t = lua.eval("function(store) return setmetatable({}, {__newindex=store}) end")(store)
    t.a = 1
    assert t.a is None and store.a == 1
    assert list(t) == []


def test_calling_a_table(lua, lupa):
    with pytest.raises(lupa.LuaError, match="attempt to call a table value"):
        lua.eval("{}")()
    with pytest.raises(lupa.LuaError, match="attempt to call"):
        lua.eval("{1, 2}")(1, 2)
    callable_table = lua.eval("setmetatable({}, {__call=function(self, a) return a * 2 end})")
    assert callable_table(21) == 42


# ---- table() -----------------------------------------------------------------------------------------------
def test_table_from_arguments(lua):
    assert sorted(lua.table(1, 2, 3).items()) == [(1, 1), (2, 2), (3, 3)]
    assert dict(lua.table(1, 2, a=3).items()) == {1: 1, 2: 2, "a": 3}
    assert dict(lua.table(None, 2, None).items()) == {2: 2}
    assert dict(lua.table(a=None, b=1).items()) == {"b": 1}
    assert dict(lua.table(**{"1": "x"}).items()) == {"1": "x"}
    assert dict(lua.table(1, 2, **{"1": "a"}).items()) == {1: 1, 2: 2, "1": "a"}
    assert list(lua.table()) == []


def test_table_keeps_python_containers_as_objects(lua, lupa):
    lst, d = [1, 2], {"a": 1}
    t = lua.table(lst, d)
    assert t[1] is lst and t[2] is d
    assert lupa.lua_type(t[1]) is None


def test_table_with_many_items(lua):
    t = lua.table(*range(5000), **{"k%d" % i: i for i in range(500)})
    assert len(t) == 5000
    assert t[5000] == 4999 and t.k499 == 499
    assert len(list(t.items())) == 5500


# ---- table_from() -----------------------------------------------------------------------------------------
def test_table_from_mappings_and_sequences(lua):
    def d(t):
        return dict(t.items())

    assert d(lua.table_from([1, 2, 3])) == {1: 1, 2: 2, 3: 3}
    assert d(lua.table_from({"a": 1, 2: "b"})) == {"a": 1, 2: "b"}
    assert d(lua.table_from({"a": 1}, [10, 20], {"a": 2})) == {"a": 2, 1: 10, 2: 20}
    assert d(lua.table_from([1, 2], [3, 4])) == {1: 1, 2: 2, 3: 3, 4: 4}
    assert d(lua.table_from([1, 2], {1: "x"})) == {1: "x", 2: 2}
    assert d(lua.table_from({1: "x"}, [1, 2])) == {1: 1, 2: 2}
    assert d(lua.table_from({"a": None})) == {}
    assert d(lua.table_from([None, 1, None])) == {2: 1}
    assert d(lua.table_from("abc")) == {1: "a", 2: "b", 3: "c"}
    assert d(lua.table_from(b"ab")) == {1: 97, 2: 98}
    assert d(lua.table_from(range(3))) == {1: 0, 2: 1, 3: 2}
    assert d(lua.table_from(x * 2 for x in range(3))) == {1: 0, 2: 2, 3: 4}
    assert sorted(lua.table_from({5, 6}).values()) == [5, 6]
    assert d(lua.table_from()) == {}
    assert d(lua.table_from({1: "int", 1.0: "float"})) == {1: "float"}  # noqa: F601


def test_table_from_none_key(lua):
    t = lua.table_from({None: 1, "a": 2})
    assert t[None] == 1 and t.a == 2
    assert None in t


def test_table_from_tuples_stay_values(lua):
    t = lua.table_from([(1, 2), (3, 4)])
    assert t[1] == (1, 2) and t[2] == (3, 4)


def test_table_from_what_counts_as_a_mapping(lua):
    class M(collections.abc.Mapping):
        def __getitem__(self, k):
            return {"a": 1}[k]

        def __iter__(self):
            return iter(["a"])

        def __len__(self):
            return 1

    class WithItems(object):  # not a Mapping: iterated like lupa does
        def items(self):
            return [("x", 1)]

        def __iter__(self):
            return iter([7, 8])

    assert dict(lua.table_from(M()).items()) == {"a": 1}
    assert dict(lua.table_from(collections.OrderedDict(b=2)).items()) == {"b": 2}
    assert dict(lua.table_from(WithItems()).items()) == {1: 7, 2: 8}


def test_table_from_a_lua_table_copies_it(lua):
    src = lua.eval("{1, 2, a=3}")
    copy = lua.table_from(src)
    assert dict(copy.items()) == {1: 1, 2: 2, "a": 3}
    assert copy != src
    copy.a = 4
    assert src.a == 3


def test_table_from_bad_arguments(lua):
    for bad in (1, None, 1.5):
        with pytest.raises(TypeError, match="not iterable"):
            lua.table_from(bad)
    with pytest.raises(TypeError):
        lua.table_from([1], foo=1)
    assert lua.table_from([1], recursive=1)[1] == 1


def test_table_from_overflowing_int(lua, lupa):
    with pytest.raises(OverflowError):
        lua.table_from([2**64])
    with pytest.raises(OverflowError):
        lua.table(2**64)


def test_table_from_not_recursive_keeps_containers(lua):
    inner = [1]
    t = lua.table_from({"a": inner, "b": {"c": 1}})
    assert t.a is inner
    assert t.b == {"c": 1}


def test_table_from_recursive(lua, lupa):
    t = lua.table_from({"a": {"b": [1, 2]}}, recursive=True)
    assert lupa.lua_type(t.a) == "table"
    assert t.a.b[2] == 2
    t = lua.table_from([(1, 2)], recursive=True)
    assert dict(t[1].items()) == {1: 1, 2: 2}
    t = lua.table_from([[1, 2], {"a": [3]}], recursive=True)
    assert list(t[2]["a"].items()) == [(1, 3)]


def test_table_from_recursive_what_is_converted(lua, lupa):
    P = collections.namedtuple("P", "x y")
    converted = [
        P(1, 2),
        range(3),
        collections.deque([1]),
        collections.OrderedDict(a=1),
        collections.UserList([1]),
        collections.UserDict(a=1),
        bytearray(b"ab"),
    ]
    kept = [{1, 2}, frozenset([1]), "ab", b"ab", iter([1]), {"a": 1}.keys(), 5, None]
    for value in converted:
        assert lupa.lua_type(lua.table_from([value], recursive=True)[1]) == "table", value
    t = lua.table_from(kept, recursive=True)
    assert t[1] == {1, 2} and t[2] == frozenset([1])
    assert t[3] == "ab" and t[4] == "ab"  # strings are not split
    assert lupa.lua_type(t[5]) is None and t[7] == 5 and t[8] is None
    assert dict(lua.table_from([P(1, 2)], recursive=True)[1].items()) == {1: 1, 2: 2}


def test_table_from_recursive_cycles(lua):
    rawequal = lua.eval("rawequal")
    cyc = {"a": 1}
    cyc["self"] = cyc
    rc = lua.table_from(cyc, recursive=True)
    assert rawequal(rc, rc.self) and rc.self.self.a == 1
    lc = [1]
    lc.append(lc)
    rl = lua.table_from(lc, recursive=True)
    assert rawequal(rl, rl[2])
    a, b = {}, []
    a["b"] = b
    b.append(a)
    t = lua.table_from({"root": a}, recursive=True)
    assert rawequal(t.root, t.root.b[1])
    assert rc == rc.self  # and the wrappers agree


def test_table_from_recursive_shares_shared_containers(lua):
    rawequal = lua.eval("rawequal")
    shared = [1, 2]
    r = lua.table_from({"x": shared, "y": shared, "z": [shared]}, recursive=True)
    assert rawequal(r.x, r.y) and rawequal(r.x, r.z[1])
    equal_but_distinct = lua.table_from([[1], [1]], recursive=True)
    assert not rawequal(equal_but_distinct[1], equal_but_distinct[2])


def test_table_from_recursive_none_keys_and_values(lua):
    t = lua.table_from([{None: 5}, [None, 1]], recursive=True)
    assert list(t[1].items()) == [(None, 5)]
    assert dict(t[2].items()) == {2: 1}


def test_table_from_recursive_tuple_keys(lua, lupa):
    t = lua.table_from({(1, 2): 3}, recursive=True)
    (key,) = list(t.keys())
    assert lupa.lua_type(key) == "table" and dict(key.items()) == {1: 1, 2: 2}
    assert t[key] == 3


def test_table_from_recursive_wraps_other_values(lua):
    obj, s = object(), {1}
    t = lua.table_from({"o": obj, "l": [obj, s], "f": len}, recursive=True)
    assert t.o is obj and t.l[1] is obj and t.l[2] is s and t.f is len


def test_table_from_recursive_keeps_lua_tables(lua):
    inner = lua.eval("{1}")
    t = lua.table_from({"a": inner, "b": [inner]}, recursive=True)
    assert lua.eval("rawequal")(t.a, inner) and t.b[1] == inner


def test_table_from_recursive_deep_nesting(lua):
    deep = []
    cur = deep
    for _ in range(5000):
        nxt = []
        cur.append(nxt)
        cur = nxt
    cur.append("bottom")
    t = lua.table_from(deep, recursive=True)
    depth = lua.eval("""function(t)
        local n = 0
        while type(t) == 'table' do t = t[1]; n = n + 1 end
        return n, t end""")(t)
    assert depth == (5001, "bottom")


def test_table_from_recursive_many_arguments_later_wins(lua):
    t = lua.table_from({"a": [1]}, [[2], [3]], {"a": {"x": 1}}, recursive=True)
    assert dict(t.a.items()) == {"x": 1}
    assert t[1][1] == 2 and t[2][1] == 3


# ---- sequences required (lupa 2.0, GH#177) ---------------------------------------------------------------
def test_python_args_needs_a_sequence(lua, lupa):
    def kw(*a, **k):
        return a, sorted(k.items())

    lua.globals().kw = kw
    assert lua.eval("kw(python.args{1, 2, a=3})") == ((1, 2), [("a", 3)])
    for bad in ("{[3]=1}", "{1, [3]=1}", "{[0]=1}", "{1, 2, [-1]=3}", "{a=1, [2]=5}"):
        with pytest.raises(IndexError):
            lua.eval("kw(python.args%s)" % bad)
    for bad in ("{[1.5]=1}", "{[true]=1}", "{1, [{}]=2}"):
        with pytest.raises(TypeError):
            lua.eval("kw(python.args%s)" % bad)


def test_unpacks_lua_table_needs_a_sequence(lua, lupa):
    @lupa.unpacks_lua_table
    def ul(*a, **k):
        return a, sorted(k.items())

    lua.globals().ul = ul
    assert lua.eval("ul{1, b=5}") == ((1,), [("b", 5)])
    for bad in ("{[3]=1}", "{1, [3]=1}", "{[0]=1}", "{[2]=1}", "{a=1, [2]=5}"):
        with pytest.raises(IndexError):
            lua.eval("ul%s" % bad)
        with pytest.raises(IndexError):
            ul(lua.eval(bad))  # also when called from Python
    with pytest.raises(TypeError):
        lua.eval("ul{1, [1.5]=2}")
    assert ul(lua.eval("{[2]=2, [1]=1}")) == ((1, 2), [])


def test_unpacking_tables_with_holes_never_crashes(lua, lupa):
    # lupa segfaults on these
    @lupa.unpacks_lua_table
    def ul(*a, **k):
        return a, k

    lua.globals().ul = ul
    lua.globals().kw = lambda *a, **k: (a, k)
    for code in (
        "ul{1, nil, 3}",
        "ul{nil, 2}",
        "kw(python.args{1, nil, 3})",
        "kw(python.args{nil, 2})",
    ):
        with pytest.raises(IndexError):
            lua.eval(code)


# ---- objects of another runtime ---------------------------------------------------------------------------
def test_tables_of_another_runtime(lua, lupa):
    other_runtime = lupa.LuaRuntime()
    other = other_runtime.eval("{a=1}")
    for action in (
        lambda: lua.table(other),
        lambda: lua.table_from({"k": other}),
        lambda: lua.table_from([other], recursive=True),
        lambda: lua.eval("function(x) return x end")(other),
        lambda: lua.globals().__setitem__("o", other),
        lambda: lua.eval("{}").__setitem__(other, 1),
    ):
        with pytest.raises((lupa.LuaError, ValueError), match="different Lua runtimes"):
            action()
    assert lua.globals().o is None
    copy = lua.table_from(other)  # copied as a mapping, like lupa
    assert dict(copy.items()) == {"a": 1}
    assert other != lua.eval("{a=1}")


@pytest.mark.parametrize("extra", ["", "1/0", "-1/0", "0/0", "1e300", "-2^63", "2^63", "2^53"])
def test_iteration_of_numbers_matches_indexing(lua, extra):
    """Batches of numbers only are converted in one go (whole numbers are
    ints on Lua 5.1 and LuaJIT): the same values as indexing gives."""
    t = lua.eval(
        """function(extra)
        local t = {}
        for i = 1, 3000 do t[i] = (i %% 3 == 0) and i + 0.5 or i * 1.0 end
        t[1500] = extra
        return t end""".replace("%%", "%")
    )(lua.eval(extra) if extra else 7.0)
    values = list(t.values())
    assert len(values) == 3000
    for k, v in zip(range(1, 3001), values):
        expected = t[k]
        assert type(v) is type(expected)
        assert v == expected or (v != v and expected != expected)
    assert [k for k, _ in t.items()] == list(range(1, 3001))


@pytest.mark.parametrize(
    "args",
    [
        [{1: "a", 2: "b", 3: "c"}],
        [{3: "c", 1: "a", 2: "b"}],
        [{1: "a", 2: "b", 4: "d"}],  # 3 of 1..4: an array part of 4 in PUC Lua 5.1-5.4
        [{0: "z", 1: "a", 2: "b"}],  # (LuaJIT's array part has a slot 0)
        [{1: "a", 10: "j"}],
        [["a", "b"], {3: "c", 4: "d"}],
        [{3: "c"}, ["a", "b"]],
        [{k: k for k in range(1, 1001)}],
    ],
)
def test_table_from_dict_int_keys_as_lua_fills_them(lua, args):
    """A dict's int keys 1, 2, ... land in the table's array part as in a
    table that Lua fills key by key (and as in lupa): pairs() gives them in
    the same order, and # the same length."""
    t = lua.table_from(*args)
    pairs = []
    for arg in args:
        pairs += arg.items() if isinstance(arg, dict) else []
    for i, v in enumerate(v for arg in args if isinstance(arg, list) for v in arg):
        pairs.append((i + 1, v))
    filled = lua.eval(
        "function(pairs_) local t = {} for _, p in ipairs(pairs_) do t[p[1]] = p[2] end return t end"
    )(lua.table_from([lua.table(k, v) for k, v in pairs]))
    assert list(t.keys()) == list(filled.keys())
    assert len(t) == len(filled)


def test_big_batches_of_ints_and_of_mixed_values(lua):
    """Iterating a big table reads batches of ints in one go (lc_int_column)
    and any other batch value by value: the same items either way."""
    make = lua.eval(
        """function(n, extreme)
        local t = {}
        for i = 1, n do t[i] = i * 7 end
        if extreme then
            for i = 1, 1500 do t[n + i] = (i % 2 == 0) and (math.maxinteger - i)
                                                     or (math.mininteger + i) end
        end
        t[#t + 1] = 'x'; t[#t + 1] = 2.5; t[#t + 1] = true
        return t end"""
    )
    has_integers = lua.lua_version >= (5, 3)
    t = make(3000, has_integers)
    values = list(t.values())
    expected = [i * 7 for i in range(1, 3001)]
    if has_integers:
        expected += [(2**63 - 1 - i) if i % 2 == 0 else (-(2**63) + i) for i in range(1, 1501)]
    assert values == expected + ["x", 2.5, True]
    assert list(t.keys()) == list(range(1, len(expected) + 4))
    assert list(t.items()) == list(zip(range(1, len(expected) + 4), values))
    assert all(type(v) is int for v in values[: len(expected)])
