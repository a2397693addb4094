"""Issue 17: untrusted code, hardened.  KeyboardInterrupt & co through pcall
in every position, C-stack exhaustion (child processes), limits across awaits,
async calls inside Lua coroutines, pattern matching under the limits."""
import asyncio
import subprocess
import sys
import textwrap
import time

import pytest


def raiser(exc):
    def f(*args):
        raise exc
    return f


# ---- BaseExceptions are never swallowed by pcall/xpcall ------------------------------------------
UNCATCHABLE_POSITIONS = [
    "return pcall(f)",
    "return pcall(f, 1, 2)",
    "pcall(f)",
    "local ok, e = pcall(f)",
    "return xpcall(f, function(e) return e end)",
    "return xpcall(f, debug and debug.traceback or tostring)",
    "return (pcall(f))",
    "local function g() return pcall(f) end return g()",
    "local function g() return pcall(f) end local a, b = g() return a, b",
    "return coroutine.wrap(function() return pcall(f) end)()",
    "return coroutine.resume(coroutine.create(function() return pcall(f) end))",
    "local co = coroutine.create(function() return pcall(f) end) "
    "local ok, a, b = coroutine.resume(co) return ok, a, b",
    "return pcall(pcall, f)",
    "return pcall(coroutine.wrap(function() f() end))",
    "return select('#', pcall(f))",
    "return pcall(function() return pcall(f) end)",
    "return pcall(setmetatable({}, {__index = function() return f() end}).x)",
]


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit, GeneratorExit])
@pytest.mark.parametrize("code", UNCATCHABLE_POSITIONS)
def test_uncatchable_in_every_pcall_position(lua, code, exc_type):
    exc = exc_type("stop")
    with pytest.raises(exc_type) as info:
        lua.execute("local f = ... " + code, raiser(exc))
    assert info.value is exc
    assert lua.eval("1 + 1") == 2
    # ordinary exceptions stay catchable afterwards
    ve = ValueError("x")
    assert lua.execute("return pcall(...)", raiser(ve)) == (False, ve)


def test_uncatchable_eval_pcall(lua):
    lua.globals()["kb"] = raiser(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        lua.eval("pcall(kb)")
    with pytest.raises(KeyboardInterrupt):
        lua.eval("xpcall(kb, function(e) return e end)")


def test_uncatchable_in_sandbox_and_with_limits(lupa):
    for lua in (lupa.LuaRuntime(sandbox=True), lupa.LuaRuntime(max_instructions=10**7)):
        lua.globals()["kb"] = raiser(KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            lua.execute("return pcall(kb)")
        with pytest.raises(KeyboardInterrupt):
            lua.execute("return xpcall(kb, function(e) return e end)")
        assert lua.execute("return pcall(error, 'x')") == (False, "x")


def test_uncatchable_from_a_lua_function_called_by_python(lua):
    f = lua.eval("function(g) return pcall(g) end")
    with pytest.raises(KeyboardInterrupt):
        f(raiser(KeyboardInterrupt()))
    co = f.coroutine(raiser(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        next(co)


def test_uncatchable_in_a_nested_entry(lua):
    # Python -> Lua -> Python -> Lua (pcall swallows) -> Python: the inner
    # call fails with the exception, and so does the outer one
    inner = lua.eval("function(g) return pcall(g) end")
    with pytest.raises(KeyboardInterrupt):
        lua.execute("local inner, g = ... local ok, e = pcall(inner, g) return ok, e",
                    lambda g: inner(g), raiser(KeyboardInterrupt()))


def test_catchable_error_values_are_not_affected(lua):
    assert lua.execute("return pcall(error, 'x')") == (False, "x")
    ve = ValueError("ordinary")
    assert lua.execute("return pcall(...)", raiser(ve)) == (False, ve)
    assert lua.execute("return pcall(...)", lambda: 5) == (True, 5)
