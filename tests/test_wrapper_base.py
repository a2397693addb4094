"""The wrappers' C base type (csrc/lc_wrapper.c, CPython): f(i), t[i] and
t["name"] run there; everything else goes to the Python methods, which are
the whole behaviour on PyPy.  The edges of the values themselves (int
limits, NaN, NUL bytes, memory limits, errors) are in test_packed_results.py
and test_table_fast_paths.py, which run through it too."""

import enum
import gc
import platform
import sys
import threading
import time

import pytest

from helpers import JOIN_TIMEOUT, Obj

PYPY = platform.python_implementation() == "PyPy"


def test_the_base_is_the_c_type_on_cpython_only(lua):
    f = lua.eval("function(x) return x end")
    names = [cls.__name__ for cls in type(f).__mro__]
    assert ("LuaWrapperBase" in names) == (not PYPY)
    assert f._ref > 0 and f._rt is lua


def test_every_kind_of_result_of_an_int_call_and_read(lua, lupa):
    f = lua.eval(
        """function(i)
        if i == 1 then return 7 elseif i == 2 then return nil
        elseif i == 3 then return true elseif i == 4 then return false
        elseif i == 5 then return 1.5 elseif i == 6 then return "s\\0t"
        elseif i == 7 then return {i} elseif i == 8 then return print
        elseif i == 9 then return 1, 2 elseif i == 10 then return obj
        else error("boom " .. i) end
    end"""
    )
    obj = Obj()
    lua.globals().obj = obj
    t = lua.eval("{7, nil, true, false, 1.5, 's\\0t', {8}, print, nil, obj}")
    t[10] = obj
    assert [f(1), f(2), f(3), f(4), f(5), f(6)] == [7, None, True, False, 1.5, "s\0t"]
    assert f(7)[1] == 7 and lupa.lua_type(f(8)) == "function"
    assert f(9) == (1, 2) and f(10) is obj
    assert [t[1], t[2], t[3], t[4], t[5], t[6]] == [7, None, True, False, 1.5, "s\0t"]
    assert t[7][1] == 8 and lupa.lua_type(t[8]) == "function" and t[10] is obj
    with pytest.raises(lupa.LuaError, match="boom 11"):
        f(11)


def test_bools_and_int_subclasses_are_not_ints_to_lua(lua):
    class Color(enum.IntEnum):
        RED = 1

    class MyInt(int):
        pass

    kind = lua.eval("function(x) return type(x) .. ':' .. tostring(x) end")
    assert kind(True) == "boolean:true"
    assert kind(Color.RED) == "number:1"
    assert kind(MyInt(5)) == "number:5"
    t = lua.eval("{[true] = 'yes', [1] = 'one', [5] = 'five'}")
    assert t[True] == "yes" and t[Color.RED] == "one" and t[MyInt(5)] == "five"


def test_str_subclass_keys_and_other_encodings(lupa):
    class Name(str):
        pass

    lua = lupa.LuaRuntime()
    t = lua.eval("{name = 1, ['\\195\\169'] = 2}")
    assert t[Name("name")] == 1 and t["name"] == 1 and t["\xe9"] == 2
    latin = lupa.LuaRuntime(encoding="latin-1")
    t = latin.eval("{['\\233'] = 3}")
    assert t["\xe9"] == 3  # latin-1 bytes, not UTF-8 ones
    raw = lupa.LuaRuntime(encoding=None)
    t = raw.eval("{name = 4}")
    assert t[b"name"] == 4


def test_unencodable_str_keys_fail_as_encoding_them_does(lua):
    t = lua.table()
    with pytest.raises(UnicodeEncodeError):
        "\ud800".encode("utf-8")
    with pytest.raises(UnicodeEncodeError):
        t["\ud800"]


def test_keyword_arguments_are_refused(lua):
    f = lua.eval("function(...) return select('#', ...) end")
    words = r"__call__\(\) got an unexpected keyword argument 'x'"  # (as documented)
    with pytest.raises(TypeError, match=words):
        f(x=1)
    with pytest.raises(TypeError, match=words):
        f(1, x=1)
    assert f(1) == 1 and f() == 0 and f(1, 2) == 2


def test_a_wrapper_that_outlives_its_freed_runtime(lupa):
    # (as in a garbage cycle, where finalizers run in any order)
    lua = lupa.LuaRuntime()
    f = lua.eval("function(x) return x end")
    t = lua.eval("{1, name = 2}")
    lua.__del__()  # frees the Lua state and the C runtime
    for use in (lambda: f(1), lambda: t[1], lambda: t["name"], lambda: f(1.5)):
        with pytest.raises(lupa.LuaError, match="closed"):
            use()


def test_the_gil_is_released_while_lua_runs(lua):
    spin = lua.eval("function(n) local x = 0 for i = 1, n do x = x + i end return x end")
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while len(ticks) == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        before = len(ticks)
        n = 1000
        start = time.monotonic()
        while time.monotonic() - start < 0.2:  # long enough for ticks, however fast Lua is
            spin(n)
            n *= 2
        during = len(ticks) - before
    finally:
        stop.set()
        thread.join(JOIN_TIMEOUT)
    assert during > 5


@pytest.mark.skipif(not hasattr(sys, "getrefcount"), reason="CPython's reference counts")
def test_no_reference_leaks_on_the_c_paths(lua):
    f = lua.eval("function(i) if i == 0 then return {} end return i end")
    t = lua.eval("{1, name = 2, [3] = {}}")
    obj = Obj()
    g = lua.eval("function(o) return function(i) return o end end")(obj)
    s = lua.eval("function(x) return x .. '!' end")
    n = lua.eval("function(...) return select('#', ...) end")

    def every_c_path(i):
        f(i), f(0), t[1], t["name"], t[3], t[99], g(1), t.name, t.missing, t.keys
        s("abc"), s(b"abc"), f(1.5), s(1.5), f(), n(1, 1.5, "abc", None, True, b"xy")
        t[1] = i
        t[2] = None
        t[4] = True
        del t[4]

    for i in range(10):  # (warm caches first)
        every_c_path(i)
    gc.collect()
    counts = sys.getrefcount(lua), sys.getrefcount(obj), sys.getrefcount(f), sys.getrefcount(t)
    import tracemalloc  # (CPython's)

    tracemalloc.start()
    try:
        for i in range(10000):
            every_c_path(i)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert grown < 100000  # (a leaked object per crossing would be megabytes)
    assert (
        sys.getrefcount(lua),
        sys.getrefcount(obj),
        sys.getrefcount(f),
        sys.getrefcount(t),
    ) == counts


def test_calls_and_reads_from_threads_sharing_a_runtime(lua):
    f = lua.eval("function(i) return i * 2 end")
    t = lua.eval("{}")
    for i in range(1, 101):
        t[i] = i
    t["k"] = "v"
    errors = []

    def worker(k):
        try:
            own = lua.table()
            for i in range(1, 2001):
                assert f(i + k) == 2 * (i + k)
                assert t[i % 100 + 1] == i % 100 + 1
                assert t["k"] == "v" and t.k == "v"
                own[i % 7] = i
                assert own[i % 7] == i
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert errors == []


def test_item_assignment_on_tables_only(lua):
    f = lua.eval("print")
    u = lua.eval("io.stdout")
    for obj, name in ((f, "_LuaFunction"), (u, "_LuaObject")):
        with pytest.raises(TypeError, match="'%s' object does not support item assignment" % name):
            obj[1] = 2
        with pytest.raises(TypeError, match="'%s' object does not support item deletion" % name):
            del obj[1]
    t = lua.table()
    t[1] = 2
    del t[1]
    assert t[1] is None and len(t) == 0


def test_int_writes_at_the_edges_of_the_packed_range(lua, lupa):
    # t[k] = v in C for ints within 60 bits; beyond, the general way: the
    # outcome must be what a write made in Lua (the general way) gives
    reference = lua.eval("function(t, k, v) t[k] = v end")
    edges = [2**60 - 1, 2**60, -(2**60), -(2**60) - 1, 2**53, 2**53 + 1, 2**63 - 1, -(2**63)]
    for v in edges + [True, False, None, 0, -1]:
        fast, slow = lua.table(), lua.table()
        outcomes = []
        for t, write in (
            (fast, lambda t: t.__setitem__(1, v)),
            (slow, lambda t: reference(t, 1, v)),
        ):
            try:
                write(t)
                outcomes.append(("ok", t[1]))
            except Exception as e:
                outcomes.append(("error", type(e)))
        assert outcomes[0] == outcomes[1], v


def test_writes_that_fail_in_lua(lua, lupa):
    t = lua.eval("setmetatable({}, {__newindex = function(t, k, v) error('no ' .. k) end})")
    with pytest.raises(lupa.LuaError, match="no 1"):
        t[1] = 5
    with pytest.raises(lupa.LuaError, match="no 1"):
        t[1] = None
    nan_key = float("nan")
    with pytest.raises(lupa.LuaError):
        lua.table()[nan_key] = 1


def test_attribute_reads_of_tables(lupa):
    lua = lupa.LuaRuntime()
    t = lua.eval("{x = 1, keys = 'shadowed', _ref = 'shadowed too', [1] = 2}")
    assert t.x == 1 and t.missing is None
    assert callable(t.keys) and isinstance(t._ref, int)  # (the class's names first)
    with pytest.raises(AttributeError):
        t.__missing_dunder__
    assert lua.globals().string.format("%d!", 5) == "5!"
    raw = lupa.LuaRuntime(encoding=None)
    assert raw.eval("{x = 3}").x == 3
    latin = lupa.LuaRuntime(encoding="latin-1")
    assert getattr(latin.eval("{['\\233'] = 4}"), "\xe9") == 4


def test_attributes_of_functions_and_userdata(lua, lupa):
    f = lua.eval("print")
    with pytest.raises(AttributeError, match="not supported on functions"):
        f.x
    u = lua.eval("io.stdout")  # a userdata whose __index has the file's methods
    assert lupa.lua_type(u.write) == "function" and u.no_such_method is None
    with pytest.raises(AttributeError):
        u.__missing_dunder__


SHOW = """function(...)
    local shown = {}
    for i = 1, select('#', ...) do
        local v = select(i, ...)
        shown[i] = type(v) .. ':' .. tostring(v)
    end
    return table.concat(shown, ',')
end"""


def test_calls_with_several_scalars_and_with_anything_else(lua, lupa):
    show = lua.eval(SHOW)
    reference = lua.eval("function(f, ...) return f(...) end")  # (the general way)
    obj, t = Obj(), lua.table()
    cases = [
        (),
        (1, 2),
        (1, 1.5, "s", None, True, b"b\0c"),
        (2**53, -(2**53), 2**53 + 1, -(2**53) - 1, 2**63 - 1),
        (False, 0.0, -0.0, float("inf"), "", b""),
        tuple(range(8)),
        tuple(range(9)),  # (more than C takes)
        (1, obj),  # (a Python object: the general way)
        (t, 1),  # (a wrapper: the general way)
        ("\xe9", "\u20ac"),
    ]
    for args in cases:
        assert show(*args) == reference(show, *args), args
    assert show(1, obj) == "number:1," + show(obj)
    with pytest.raises(UnicodeEncodeError):
        show(1, "\ud800")
    other = lupa.LuaRuntime(encoding="latin-1")
    assert other.eval(SHOW)("\xe9", 1) == "string:\xe9,number:1"
    raw = lupa.LuaRuntime(encoding=None)
    assert raw.eval(SHOW)(b"x", 1) == b"string:x,number:1"
