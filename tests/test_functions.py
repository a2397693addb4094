"""Lua functions called from Python: arguments, results, errors, and what
functions do not support."""

import pytest

IDENTITY = "function(...) return ... end"
COUNT = "function(...) return select('#', ...) end"


def test_results_none_value_tuple(lua):
    assert lua.eval("function() end")() is None
    assert lua.eval("function() return end")() is None
    assert lua.eval("function() return 1 end")() == 1
    assert lua.eval("function() return 1, 2 end")() == (1, 2)
    assert lua.eval("function() return nil end")() is None
    assert lua.eval("function() return nil, nil end")() == (None, None)
    assert lua.eval("function() return {} end")().__class__.__name__ == "_LuaTable"


def test_arguments_of_every_type(lua):
    f = lua.eval(IDENTITY)
    obj = object()
    t = lua.eval("{}")
    assert f(1, None, "a", 2.5, True, b"x") == (1, None, "a", 2.5, True, "x")
    result = f(obj, t, len)
    assert result[0] is obj and result[1] == t and result[2] is len
    assert lua.eval(COUNT)(None, None) == 2
    assert lua.eval(COUNT)() == 0


def test_keyword_arguments_are_refused(lua):
    f = lua.eval(IDENTITY)
    # (arg: the name of __call__'s first, positional-only, parameter)
    for args, kwargs in (((), {"a": 1}), ((), {"arg": 1}), ((1,), {"arg": 2}), ((1, 2), {"a": 3})):
        with pytest.raises(TypeError):
            f(*args, **kwargs)
    assert f(1, 2) == (1, 2)


@pytest.mark.parametrize("n", [63, 64, 65, 128, 300, 5000])
def test_many_arguments_and_results(lua, n):
    values = tuple(range(n))
    assert lua.eval(COUNT)(*values) == n
    assert lua.eval(IDENTITY)(*values) == values
    assert lua.eval("select")("#", *values) == n  # a C function
    assert lua.eval("function(...) return {...} end")(*values)[n] == n - 1
    strings = tuple("s%d" % i for i in range(n))
    assert lua.eval(IDENTITY)(*strings) == strings


def test_many_arguments_through_a_python_callback(lua):
    g = lua.eval("function(f, ...) return f(...) end")
    assert g(lambda *a: a, *range(100)) == tuple(range(100))
    assert g(lambda *a: len(a), *range(1000)) == 1000


def test_many_results_from_a_python_callback(lua, lupa):
    unpacking = lupa.LuaRuntime(unpack_returned_tuples=True)
    g = unpacking.eval("function(f) return select('#', f()) end")
    assert g(lambda: tuple(range(200))) == 200
    h = unpacking.eval("function(f) return f() end")
    assert h(lambda: tuple(range(200))) == tuple(range(200))


def test_c_functions(lua):
    assert lua.eval("string.format")("%d-%s", 5, "x") == "5-x"
    assert lua.eval("math.max")(3, 9, 4) == 9
    assert lua.eval("tostring")(None) == "nil"
    assert lua.eval("type")(lua.eval("{}")) == "table"


def test_compiled_chunk_is_a_function(lua, lupa):
    f = lua.compile("local a, b = ... return a + b, 'x'")
    assert lupa.lua_type(f) == "function"
    assert f(1, 2) == (3, "x")
    assert f(10, 20) == (30, "x")


def test_many_calls(lua):
    f = lua.eval("function(a) return a + 1 end")
    total = 0
    for i in range(20000):
        total = f(total)
    assert total == 20000


def test_errors_raise_lua_error_and_leave_the_function_usable(lua, lupa):
    f = lua.eval("function(x) if x then error('bad ' .. x) end return 'ok' end")
    with pytest.raises(lupa.LuaError, match="bad 1") as info:
        f(1)
    assert "stack traceback" in str(info.value)
    assert f() == "ok"
    with pytest.raises(lupa.LuaError, match="attempt to perform arithmetic"):
        lua.eval("function(a) return a + 1 end")(lua.eval("{}"))


def test_python_exception_through_a_lua_function(lua):
    def boom():
        raise KeyError("k")

    with pytest.raises(KeyError):
        lua.eval("function(f) f() end")(boom)


def test_recursion_between_python_and_lua(lua):
    f = lua.eval("function(g, n) if n == 0 then return 0 end return 1 + g(n - 1) end")

    def g(n):
        return f(g, n)

    assert g(50) == 50


# ---- what functions do not support (as lupa) ----------------------------------------------------
def test_indexing_a_function(lua):
    f = lua.eval("function() end")
    for key in (1, "x"):
        with pytest.raises(TypeError, match="not supported on functions"):
            f[key]
    with pytest.raises(AttributeError, match="not supported on functions"):
        f.x
    with pytest.raises(AttributeError):
        f.x = 1
    with pytest.raises(AttributeError):
        del f.x
    with pytest.raises(TypeError):
        f[1] = 1
    with pytest.raises(TypeError):
        del f[1]
    with pytest.raises(TypeError, match="iteration is only supported for tables"):
        list(f)
    with pytest.raises(TypeError):
        1 in f
    assert len(f) == 0
    assert bool(f)
    assert f() is None  # still fine


def test_coroutine_method(lua, lupa):
    f = lua.eval("function(a, b) coroutine.yield(a) return b end")
    c = f.coroutine(1, 2)
    assert lupa.lua_type(c) == "thread"
    assert type(c).__name__ == "_LuaThread"
    assert list(c) == [1, 2]
    assert list(f.coroutine("x", "y")) == ["x", "y"]
    assert lua.eval("{}").coroutine is None  # a table: a Lua key lookup


def test_coroutine_of_a_c_function_is_refused(lua, lupa):
    # as in lupa (Lua 5.1 would crash resuming such a coroutine after a yield)
    with pytest.raises((lupa.LuaError, TypeError)):
        lua.eval("print").coroutine()
    with pytest.raises((lupa.LuaError, TypeError)):
        lua.eval("coroutine.yield").coroutine(1, 2)
    assert lua.eval("1 + 1") == 2
