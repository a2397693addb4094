"""table_from packs a column of ints, floats, strs or bytes into one buffer
(csrc lc_fill_columns) and sends anything else value by value: both paths
must give the same table.  Every test compares with what Lua itself sees."""

import enum
import math
import threading

import pytest

from helpers import run_threads


def lua_items(lua, table):
    """(key, value, Lua type of value) of every entry, read by Lua itself."""
    collect = lua.eval("""function(t)
        local r = {}
        for k, v in pairs(t) do r[#r + 1] = {k, v, type(v)} end
        return r
    end""")
    return sorted(((e[1], e[2], e[3]) for e in collect(table).values()), key=repr)


def expected(lua, pairs):
    """The same entries made by rawset from Lua, one pair at a time."""
    t = lua.eval("{}")
    setter = lua.eval("function(t, k, v) rawset(t, k, v) end")
    for k, v in pairs:
        setter(t, k, v)
    return lua_items(lua, t)


INT64 = 2**63


@pytest.mark.parametrize(
    "values",
    [
        [1, 2, 3],
        [0, -1, INT64 - 1, -INT64],
        [1.5, -0.0, 1e308, float("inf")],
        [1.0, 2.0],
        ["a", "", "héllo", "日本", "x" * 1000],
        ["", ""],
        [b"\xc3\xa9", b"", b"a\0b"],
        [True, False],
        [1, 2.5, "three", b"four", True],
    ],
)
def test_a_list_gives_what_lua_would_build(lua, values):
    t = lua.table_from(values)
    assert lua_items(lua, t) == expected(lua, enumerate(values, 1))
    assert len(t) == len(values)


def test_bools_stay_booleans(lua):
    t = lua.table_from([True, False, True])
    assert [lua.eval("type")(v) for v in t.values()] == ["boolean"] * 3


class Colour(enum.IntEnum):
    RED = 1
    BLUE = 2


def test_int_subclasses_and_float_subclasses_are_numbers(lua):
    class F(float):
        pass

    t = lua.table_from([Colour.RED, Colour.BLUE, F(0.5)])
    assert list(t.values()) == [1, 2, 0.5]


def test_a_dict_of_str_keys(lua):
    d = {"k%d" % i: i for i in range(500)}
    d.update({"é%d" % i: float(i) + 0.5 for i in range(10)})
    t = lua.table_from(d)
    assert dict(t.items()) == d


def test_a_dict_of_int_and_float_keys(lua, lupa):
    t = lua.table_from({1: "a", 2: "b", 10: "c", 2.5: "d", 3.0: "e"})
    assert t[1] == "a" and t[2] == "b" and t[10] == "c" and t[2.5] == "d"
    assert t[3] == "e"  # 3.0 is the key 3 in every Lua (5.1: one number type)


def test_python_objects_keep_their_identity(lua):
    objs = [object() for _ in range(100)]
    t = lua.table_from(objs)
    assert all(t[i + 1] is o for i, o in enumerate(objs))
    d = lua.table_from({"o%d" % i: o for i, o in enumerate(objs)})
    assert all(d["o%d" % i] is o for i, o in enumerate(objs))


def test_python_object_keys_and_values(lua):
    keys = [object() for _ in range(50)]
    values = [object() for _ in range(50)]
    t = lua.table_from(dict(zip(keys, values)))
    assert all(t[k] is v for k, v in zip(keys, values))
    assert len(list(t.keys())) == 50


def test_none_key_and_none_values(lua, lupa):
    t = lua.table_from({None: 1, "a": None}, [None, 2])
    assert t[None] == 1
    assert t.a is None and t[1] is None and t[2] == 2


def test_later_arguments_win_and_indices_continue(lua):
    t = lua.table_from([1, 2], {1: "one", "k": "v"}, ["three", "four"], {"k": 2.5})
    assert list(t.items()) == [(1, "one"), (2, 2), (3, "three"), (4, "four"), ("k", 2.5)]


def test_generators_and_other_iterables(lua):
    t = lua.table_from((i * i for i in range(5)), range(3), "ab")
    assert list(t.values()) == [0, 1, 4, 9, 16, 0, 1, 2, "a", "b"]


def test_ints_out_of_range(lua, lupa):
    with pytest.raises(OverflowError):
        lua.table_from([1, 2**64])
    with pytest.raises(OverflowError):
        lua.table_from({"big": -(2**63) - 1})
    seen = []

    def handler(value):
        seen.append(value)
        return float(value)

    lua.execute("python.set_overflow_handler(...)", handler)
    t = lua.table_from([1, 2**64, 3])
    assert list(t.values()) == [1, float(2**64), 3]
    assert seen == [2**64]  # called once per value


def test_nan_keys_are_a_lua_error(lua, lupa):
    with pytest.raises(lupa.LuaError):
        lua.table_from({float("nan"): 1})
    with pytest.raises(lupa.LuaError):
        lua.table_from({1.5: 1, float("nan"): 2})
    assert lua.eval("1 + 1") == 2


def test_nan_values(lua):
    t = lua.table_from([float("nan"), 1.0])
    assert math.isnan(t[1]) and t[2] == 1


def test_strings_that_cannot_be_encoded(lupa):
    lua = lupa.LuaRuntime(encoding="ascii")
    with pytest.raises(UnicodeEncodeError):
        lua.table_from(["ok", "é"])
    t = lua.table_from(["ok", "fine"])
    assert list(t.values()) == ["ok", "fine"]


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16-le", "utf-8"])
def test_other_encodings(lupa, encoding):
    lua = lupa.LuaRuntime(encoding=encoding, source_encoding="ascii")
    values = ["abc", "é", "", "日本" if encoding != "latin-1" else "ÿ"]
    t = lua.table_from(values)
    assert list(t.values()) == values
    lengths = lua.eval(
        "function(t) local r = {} for i, s in ipairs(t) do r[i] = #s end return r end"
    )
    assert list(lengths(t).values()) == [len(v.encode(encoding)) for v in values]


def test_strs_without_encoding_are_python_objects(lupa):
    lua = lupa.LuaRuntime(encoding=None)
    t = lua.table_from(["a", "b"])
    assert lua.eval("function(t) return type(t[1]) end")(t) == b"userdata"
    assert list(t.values()) == ["a", "b"]
    assert list(lua.table_from([b"a", b"\xff\xfe", b""]).values()) == [b"a", b"\xff\xfe", b""]


@pytest.mark.parametrize("n", [1, 2**16 - 1, 2**16, 2**16 + 1, 2**17 + 1])
def test_ints_packed_in_chunks(lua, n):
    """(CPython packs ints 2**16 at a time, _table_from._packed_ints)"""
    values = [i * 7 - n for i in range(n)]
    assert list(lua.table_from(values).values()) == values
    last = values[:-1] + [2**64]  # out of range in the last chunk: an error, not a wrong table
    with pytest.raises(OverflowError):
        lua.table_from(last)
    lengths = ["x" * (i % 5) for i in range(n)]  # the string lengths, packed the same way
    assert list(lua.table_from(lengths).values()) == lengths
    assert list(lua.table_from(values[:3], values).values()) == values[:3] + values


def test_a_million_ints_and_strings(lua):
    n = 10**6
    t = lua.table_from(range(n))
    assert len(t) == n and t[1] == 0 and t[n] == n - 1
    s = lua.table_from(["s%d" % i for i in range(n)])
    assert len(s) == n and s[n] == "s%d" % (n - 1)


def test_memory_limit(lupa):
    lua = lupa.LuaRuntime(max_memory=2 * 10**6)
    with pytest.raises(lupa.LuaMemoryError):
        lua.table_from(range(10**6))
    with pytest.raises(lupa.LuaMemoryError):
        lua.table_from(["x" * 100 + str(i) for i in range(10**5)])
    assert len(lua.table_from(range(100))) == 100


def test_many_threads_one_runtime(lua):
    def worker(k):
        for i in range(200):
            objs = [object(), object()]
            t = lua.table_from([k, i, "s%d" % i, 0.5], {"a": objs[0], "b": objs[1]})
            assert list(t.values())[:4] == [k, i, "s%d" % i, 0.5]
            assert t.a is objs[0] and t.b is objs[1]
        return k

    assert run_threads([(worker, (k,)) for k in range(4)]) == list(range(4))


def test_a_lua_table_argument_is_copied(lua):
    src = lua.eval("{10, 20, x = 'y'}")
    t = lua.table_from(src, [30])
    assert dict(t.items()) == {1: 30, 2: 20, "x": "y"}


def test_bad_arguments(lua):
    with pytest.raises(TypeError):
        lua.table_from(5)
    with pytest.raises(TypeError):
        lua.table_from([1], None)
    lock = threading.Lock()
    t = lua.table_from([lock])  # an unsupported value is wrapped
    assert t[1] is lock
