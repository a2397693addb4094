"""Lua calling a plain Python function with an int, and Lua reading an
attribute of a plain Python object, run in the scalar callbacks' one frame
(_callbacks.scalar_callbacks); everything else they hand to the runtime.
These tests check the edges between the two: each must give what the other
gives, for every kind of result and error, and leak nothing."""

import gc
import sys
import types
import weakref

import pytest

from helpers import Obj, run_threads

CALL_EACH = (
    "function(f, ...) local out = {} for i, x in ipairs({...}) do out[i] = f(x) end return out end"
)


def test_int_results_at_and_beyond_what_packs(lua, lupa):
    # a result that does not pack (beyond 61 bits, or beyond 2^53 where Lua
    # holds no bigger ints exactly) is handed to the runtime's conversion
    call = lua.eval(
        "function(f, x) local r = f(x) return r, math.type and math.type(r) or type(r) end"
    )
    edges = [0, -1, 2**53, -(2**53), 2**60 - 1, -(2**60), 2**60, -(2**60) - 1, 2**62]
    if lua.lua_version >= (5, 3):
        edges += [lupa.LUA_MAXINTEGER, lupa.LUA_MININTEGER]
    for value in edges:
        result, kind = call(lambda x, v=value: v, 1)
        if lua.lua_version >= (5, 3):
            assert result == value and kind == "integer", value
        else:  # (a Lua number: a double, as any int of that size there)
            assert result == float(value) and kind == "number", value


def test_other_results_take_the_runtime_path(lua):
    results = [None, True, False, 1.5, "text", b"raw", (1, 2), [1], {"a": 1}, Obj()]
    call = lua.eval("function(f, x) return f(x) end")
    for value in results:
        got = call(lambda x, v=value: v, 7)
        if isinstance(value, tuple):
            assert got == value  # (unpacked into several Lua results)
        elif isinstance(value, bytes) and lua._encoding is not None:
            assert got in (value, value.decode())
        else:
            assert got == value or got is value


def test_arguments_that_are_not_ints(lua):
    # nil, booleans, floats, strings, tables: not the one-frame case
    seen = []
    lua.eval(CALL_EACH)(lambda x: seen.append(x) or 0, 1, 2.5, "s", True, False)
    assert seen == [1, 2.5, "s", True, False]
    assert lua.eval("function(f) return f(nil) end")(lambda x: x is None) is True


def test_errors_raised_by_the_function_reach_python(lua, lupa):
    class Boom(Exception):
        pass

    def boom(x):
        raise Boom(x)

    with pytest.raises(Boom):
        lua.eval("function(f) return f(5) end")(boom)
    # caught in Lua as an error value, and the runtime stays usable
    ok, err = lua.eval("function(f) return pcall(f, 5) end")(boom)
    assert ok is False and err is not None
    assert lua.eval("function(f) return f(6) end")(lambda x: x * 7) == 42


def test_bound_methods_and_other_callables(lua):
    class Adder(object):
        def __init__(self, n):
            self.n = n

        def add(self, x):
            return x + self.n

        def __call__(self, x):
            return x - self.n

    a = Adder(10)
    call = lua.eval("function(f, x) return f(x) end")
    assert call(a.add, 1) == 11 and call(a, 1) == -9 and call(len, "abc") == 3
    assert call(abs, -4) == 4 and call(a.add, 2**40) == 2**40 + 10
    with pytest.raises(TypeError):
        call(a.add, None)  # (None + 10, on the runtime path)
    # obj:method() passes obj, which a bound method has already (lupa's
    # rule): so does a method bound to the int it is called with
    bound_to_5 = types.MethodType(lambda self, *rest: [self, list(rest)], 5)
    assert list(call(bound_to_5, 5)) == [5, []]
    assert list(call(bound_to_5, 6)) == [5, [6]]
    assert lua.eval("function(o) return o:add(1) end")(a) == 11


def test_attribute_reads_of_every_kind(lua):
    o = Obj()
    o.small, o.big, o.text, o.none, o.flag = 42, 2**62, "t", None, True
    read = lua.eval("function(o, name) return o[name] end")
    assert read(o, "small") == 42 and read(o, "big") == 2**62 and read(o, "text") == "t"
    assert read(o, "none") is None and read(o, "flag") is True
    for _ in range(3):  # the name kept after the first read: the one-frame path
        assert lua.eval("function(o) return o.small end")(o) == 42


def test_attribute_errors_and_raising_properties(lua, lupa):
    class Prop(object):
        @property
        def bad(self):
            raise KeyError("inside")

        good = 5

    p = Prop()
    read = lua.eval("function(o) return o.good, o.bad end")
    for _ in range(2):
        with pytest.raises(KeyError):
            read(p)
    with pytest.raises(AttributeError):
        lua.eval("function(o) return o.missing end")(p)
    assert lua.eval("function(o) return o.good end")(p) == 5


def test_objects_with_getitem_are_indexed_by_item(lua):
    d = {"key": 1}
    for _ in range(3):
        assert lua.eval("function(o) return o.key end")(d) == 1


def test_attribute_filter_and_handlers_are_always_asked(lupa):
    asked = []

    def attribute_filter(obj, name, is_setting):
        asked.append(name)
        if name.startswith("_"):
            raise AttributeError("not allowed")
        return name

    lua = lupa.LuaRuntime(attribute_filter=attribute_filter)
    o = Obj()
    o.x, o._hidden = 1, 2
    read = lua.eval("function(o) return o.x end")
    assert [read(o) for _ in range(3)] == [1, 1, 1] and asked.count("x") == 3
    with pytest.raises(AttributeError):
        lua.eval("function(o) return o._hidden end")(o)
    getter = lupa.LuaRuntime(attribute_handlers=(lambda obj, name: "got " + name, None))
    assert [getter.eval("function(o) return o.x end")(o) for _ in range(2)] == ["got x"] * 2


def test_bytes_names_without_an_encoding(lupa):
    lua = lupa.LuaRuntime(encoding=None)
    o = Obj()
    o.x = 3
    for _ in range(3):
        assert lua.eval("function(o) return o.x end")(o) == 3


def test_a_runtime_held_only_through_its_objects_is_collected(lupa):
    # the one-frame path reaches the runtime by weak reference only
    lua = lupa.LuaRuntime()
    o = Obj()
    o.lua, o.x = lua, 1
    lua.globals().o = o
    assert lua.eval("o.x") == 1 and lua.eval("function(f) return f(2) end")(lambda x: x) == 2
    ref = weakref.ref(o)
    del o, lua
    gc.collect()
    gc.collect()
    assert ref() is None


def test_from_several_threads_and_runtimes(lupa):
    shared = lupa.LuaRuntime()
    shared_loop = shared.eval(
        "function(f, o, n) local s = 0 for i = 1, n do s = s + f(i) + o.x end return s end"
    )

    def work(k):
        own = lupa.LuaRuntime()
        own_loop = own.eval(
            "function(f, o, n) local s = 0 for i = 1, n do s = s + f(i) + o.x end return s end"
        )
        o = Obj()
        o.x = k
        for loop in (shared_loop, own_loop):
            assert loop(lambda i: i * 2, o, 2000) == 2000 * 2001 + 2000 * k

    run_threads([(work, (k,)) for k in range(4)])


def test_deep_recursion_through_the_one_frame_path(lua, lupa):
    # Lua -> Python -> Lua ... ends with a clear error, never a crash
    f = lua.eval("function(g, x) return g(x) end")

    def again(x):
        return f(again, x + 1)

    limit = sys.getrecursionlimit()
    with pytest.raises((RecursionError, lupa.LuaError)):
        again(0)
    assert sys.getrecursionlimit() == limit
    assert f(lambda x: x + 1, 1) == 2


def test_int_arguments_at_their_edges(lua, lupa):
    # an int argument crosses as a plain int; numbers Python gets as floats,
    # and every other kind, take the runtime path (with the same result)
    edges = [0, 1, -1, 2**31, -(2**31) - 1, 2**53 - 1, -(2**53) + 1]
    if lua.lua_version >= (5, 3):
        edges += [2**53, 2**60, lupa.LUA_MAXINTEGER, lupa.LUA_MININTEGER]
    seen = []
    lua.eval(CALL_EACH)(lambda x: seen.append(x) or 0, *edges)
    assert seen == edges and all(type(x) is int for x in seen)
    floats = lua.eval("function(f) return f(0.5), f(1/0), f(-1/0), f(0/0), f(2^53) end")
    seen = []
    floats(lambda x: seen.append(x) or 0)
    assert seen[:3] == [0.5, float("inf"), float("-inf")] and seen[3] != seen[3]
    if lua.lua_version >= (5, 3):
        assert seen[4] == 2.0**53 and type(seen[4]) is float
    else:  # (a whole float beyond 2^53 is a float there; 2^53 is an int)
        assert seen[4] == 2**53


def test_many_names_beyond_what_is_numbered_and_remembered(lua):
    # more names than the runtime numbers (LC_NAMES, 256) and remembers by
    # their bytes (LC_NAME_SLOTS, 64), read in rounds in changing orders:
    # each read gives its own attribute
    o = Obj()
    names = ["n%d" % k for k in range(300)]
    for k, name in enumerate(names):
        setattr(o, name, k)
    read_all = lua.eval(
        "function(o, names) local out = {} for i, n in ipairs(names) do out[i] = o[n] end "
        "return out end"
    )
    for order in (names, names[::-1], names[::7] + names[::3]):
        got = read_all(o, lua.table_from(order))
        assert [got[i + 1] for i in range(len(order))] == [getattr(o, n) for n in order]


def test_names_at_the_kept_length_and_beyond(lua):
    # LC_KEY_MAX (64 bytes) is the longest name numbered; longer ones, and
    # names built at run time (Lua 5.4: strings over 40 bytes are separate
    # objects for the same text), are read by their bytes
    o = Obj()
    for length in (1, 40, 41, 63, 64, 65, 200):
        name = ("a" * length)[:length]
        setattr(o, name, length)
        read = lua.eval("function(o, a, b) return o[a .. b] end")
        for _ in range(3):
            assert read(o, name[:1], name[1:]) == length
            assert lua.eval("function(o) return o.%s end" % name)(o) == length


def test_names_with_nul_bytes_and_invalid_utf8(lua):
    o = Obj()
    setattr(o, "a\0b", 1)
    setattr(o, "a", 2)
    read = lua.eval("function(o, n) return o[n] end")
    for _ in range(3):
        assert read(o, "a\0b") == 1 and read(o, "a") == 2
    bad = lua.eval("function(o) return o['\\255x'] end")
    for _ in range(3):  # the name is numbered but never decoded: each read fails
        with pytest.raises(UnicodeDecodeError):
            bad(o)
    assert read(o, "a") == 2


def test_names_under_a_memory_limit(lupa):
    # under a limit no name is numbered (the names table must not grow
    # there): every read goes by the key's bytes, and gives the same
    lua = lupa.LuaRuntime(max_memory=4 * 2**20)
    o = Obj()
    o.x, o.y = 1, "why"
    read = lua.eval("function(o) return o.x, o.y end")
    for _ in range(3):
        assert read(o) == (1, "why")


def test_many_names_from_several_threads(lupa):
    # the numbered names and the slots that remember them belong to the
    # runtime: threads reading different names of their own objects through
    # one shared runtime each get their own attributes
    shared = lupa.LuaRuntime()
    read_all = shared.eval(
        "function(o, names, rounds) local s = 0 for r = 1, rounds do "
        "for _, n in ipairs(names) do s = s + o[n] end end return s end"
    )

    def work(k):
        o = Obj()
        names = ["t%d_%d" % (k, j) for j in range(80)]
        for j, name in enumerate(names):
            setattr(o, name, j + k)
        expected = sum(j + k for j in range(80)) * 20
        assert read_all(o, shared.table_from(names), 20) == expected

    run_threads([(work, (k,)) for k in range(4)])


def test_plain_function_calls_leak_nothing(lua):
    class Result(object):
        pass

    refs = []

    def make(x):
        r = Result()
        refs.append(weakref.ref(r))
        return r

    def boom(x):
        raise ValueError(x)

    def same(x):
        return x

    loop = lua.eval("function(f, n) for i = 1, n do f(i) end end")
    catch = lua.eval("function(f, n) for i = 1, n do pcall(f, i) end end")

    def settle():  # (the references counted where Python counts them)
        lua.execute("collectgarbage() collectgarbage()")
        gc.collect()
        count = getattr(sys, "getrefcount", lambda obj: None)
        return count(same), count(boom)

    loop(same, 10)
    catch(boom, 10)
    before = settle()
    loop(same, 2000)
    catch(boom, 2000)
    loop(make, 200)
    assert settle() == before
    assert all(r() is None for r in refs)
    if hasattr(sys, "getallocatedblocks"):  # (CPython) no int argument or result left
        loop(same, 1000)
        blocks = sys.getallocatedblocks()
        lua.eval("function(f) for i = 1000, 21000 do f(i) end end")(same)
        assert sys.getallocatedblocks() - blocks < 1000


def test_exceptions_of_plain_functions_keep_their_traceback(lua, lupa):
    def inner(x):
        raise KeyError("deep %d" % x)

    def outer(x):
        return inner(x)

    with pytest.raises(KeyError) as info:
        lua.eval("function(f) return f(7) end")(outer)
    names = [entry.name for entry in info.traceback]
    assert "outer" in names and "inner" in names
    assert info.value.args == ("deep 7",)

    class Stop(BaseException):
        pass

    def stop(x):
        raise Stop(x)

    with pytest.raises(Stop):
        lua.eval("function(f) return f(1) end")(stop)
    # a Lua pcall catches it as a Lua error, and the runtime stays usable
    ok, _ = lua.eval("function(f) return pcall(f, 2) end")(
        lambda x: (_ for _ in ()).throw(ValueError(x))
    )
    assert ok is False
    assert lua.eval("function(f) return f(3) end")(lambda x: x * 2) == 6


def test_attribute_reads_leak_nothing(lua):
    refs = []

    class Value(object):
        pass

    class Holder(object):
        small, text = 7, "t"

        @property
        def fresh(self):
            v = Value()
            refs.append(weakref.ref(v))
            return v

    o = Holder()
    read = lua.eval("function(o, n) local x for i = 1, n do x = o.small, o.text, o.fresh end end")
    read(o, 10)

    def settle():
        lua.execute("collectgarbage() collectgarbage()")
        gc.collect()
        return getattr(sys, "getrefcount", lambda obj: None)(o)

    before = settle()
    read(o, 300)
    assert settle() == before
    assert all(r() is None for r in refs)
    if hasattr(sys, "getallocatedblocks"):  # (CPython) no handle or name left
        small = lua.eval("function(o, n) local x for i = 1, n do x = o.small end end")
        small(o, 100)
        blocks = sys.getallocatedblocks()
        small(o, 20000)
        assert sys.getallocatedblocks() - blocks < 1000


def test_a_handle_no_longer_registered_finds_nothing(lua):
    """The object of a handle is the one the runtime's _objects has for it
    (on CPython looked up by csrc/lc_pycall.c, never taken from the handle,
    which is its address there): a handle it does not have gives a KeyError,
    never a call into freed memory."""

    def f(x):
        return x

    class Plain(object):
        attr = 5

    o = Plain()
    lua.globals().f, lua.globals().o = f, o
    assert lua.eval("f(3)") == 3 and lua.eval("o.attr") == 5
    del lua._objects[id(f)], lua._objects[id(o)]
    del f, o
    gc.collect()
    junk = [bytearray(48) for _ in range(2000)]  # (reuses the freed memory)
    with pytest.raises(KeyError):
        lua.eval("f(3)")
    with pytest.raises(KeyError):
        lua.eval("o.attr")
    assert len(junk) == 2000 and lua.eval("1 + 1") == 2


FINALIZER_AT_CLOSE = """
local function fin() note(o.attr) end
if newproxy then  -- (Lua 5.1, LuaJIT: no __gc on tables)
  keep = newproxy(true)
  getmetatable(keep).__gc = fin
else
  keep = setmetatable({}, {__gc = fin})
end
"""


def test_python_called_by_lua_finalizers_as_the_runtime_closes(lupa):
    # (the runtime lets go of its dicts when it closes: csrc/lc_pycall.c)
    seen = []

    def note(x):
        seen.append(x)
        return x

    class Plain(object):
        attr = 9

    lua = lupa.LuaRuntime()
    lua.globals().note, lua.globals().o = note, Plain()
    lua.execute(FINALIZER_AT_CLOSE)
    lua.close()
    assert seen == [9]
    with pytest.raises(lupa.LuaError):
        lua.eval("1")
