"""Lua C modules: `require` of a compiled module under
lupacffi.allow_lua_module_loading().

Each test builds a tiny C module with gcc against the backend's own Lua
headers (no linking to Lua: the module takes Lua's API from the backend
loaded with RTLD_GLOBAL) and loads it in a fresh interpreter, because the
dlopen flags only matter for the first import of a backend, and this test
process has imported every backend already."""

import os
import shlex
import shutil
import subprocess
import sys
import textwrap

import pytest

import lupacffi

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# the child interpreters import the same lupacffi as this process
SRC = os.path.dirname(os.path.dirname(os.path.abspath(lupacffi.__file__)))

HEADERS = {
    "lua51": "vendor/lua/5.1/src",
    "lua52": "vendor/lua/5.2/src",
    "lua53": "vendor/lua/5.3/src",
    "lua54": "vendor/lua/5.4/src",
    "lua55": "vendor/lua/5.5/src",
    "luajit21": "vendor/luajit/2.1/src",
}

MODULE_C = r"""
#include "lua.h"
#include "lauxlib.h"

static int add(lua_State *L)
{
    lua_pushnumber(L, luaL_checknumber(L, 1) + luaL_checknumber(L, 2));
    return 1;
}

static int greet(lua_State *L)
{
    lua_pushfstring(L, "hello, %s!", luaL_checkstring(L, 1));
    return 1;
}

/* calls its first argument with the second: back into Lua (or Python) */
static int apply(lua_State *L)
{
    lua_settop(L, 2);
    lua_call(L, 1, 1);
    return 1;
}

static int fail(lua_State *L)
{
    return luaL_error(L, "failed in C: %d", (int)luaL_checknumber(L, 1));
}

int luaopen_tinymod(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, add);
    lua_setfield(L, -2, "add");
    lua_pushcfunction(L, greet);
    lua_setfield(L, -2, "greet");
    lua_pushcfunction(L, apply);
    lua_setfield(L, -2, "apply");
    lua_pushcfunction(L, fail);
    lua_setfield(L, -2, "fail");
    lua_pushstring(L, "tiny");
    lua_setfield(L, -2, "name");
    return 1;
}
"""


def build_module(backend, directory):
    """Compiles tinymod.so for backend into directory."""
    # CC names the compiler for the interpreter's platform where the host's
    # would build for the wrong one (scripts/cross-wheels.sh: aarch64 under qemu)
    cc = shlex.split(os.environ.get("CC", "")) or [shutil.which("gcc") or shutil.which("cc")]
    if cc[0] is None:
        pytest.skip("no C compiler to build a Lua C module")
    include = os.path.join(ROOT, HEADERS[backend])
    if not os.path.exists(os.path.join(include, "lua.h")):
        pytest.skip("no Lua headers for %s (vendored sources absent)" % backend)
    source = os.path.join(str(directory), "tinymod.c")
    with open(source, "w") as f:
        f.write(MODULE_C)
    target = os.path.join(str(directory), "tinymod.so")
    subprocess.check_call(cc + ["-shared", "-fPIC", "-O1", "-I", include, source, "-o", target])
    return str(directory)


def run_python(code, timeout=120):
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def backend_name(lupa):
    return lupa.__name__.rsplit(".", 1)[1]


LOAD_AND_USE = """
import lupacffi
with lupacffi.allow_lua_module_loading():
    import lupacffi.{backend} as m
lua = m.LuaRuntime()
lua.execute("package.cpath = ... .. '/?.so;' .. package.cpath", {directory!r})
mod = lua.require("tinymod")
print(mod.name)
print(mod.add(1, 2) == 3)
print(mod.greet("lua"))
print(lua.eval("require('tinymod').apply(function(x) return x * 2 end, 21)"))
print(mod.apply(lambda x: x + 1, 41))
try:
    mod.fail(7)
except m.LuaError as e:
    print(str(e).splitlines()[0])
print(lua.eval("pcall(require('tinymod').fail, 8)"))
print(lua.eval("package.loaded.tinymod == require('tinymod')"))
"""


def test_require_c_module(lupa, tmp_path):
    name = backend_name(lupa)
    directory = build_module(name, tmp_path)
    rc, out, err = run_python(LOAD_AND_USE.format(backend=name, directory=directory))
    assert rc == 0, err
    assert out.splitlines() == [
        "tiny",
        "True",
        "hello, lua!",
        "42",
        "42",
        "failed in C: 7",
        "(False, 'failed in C: 8')",
        "True",
    ]


def test_c_module_without_allow_fails_cleanly(lupa, tmp_path):
    """Imported normally, a backend keeps Lua's symbols to itself: require
    fails with a LuaError (the dynamic loader's "undefined symbol"), not a
    crash."""
    name = backend_name(lupa)
    directory = build_module(name, tmp_path)
    code = """
        import lupacffi.{backend} as m
        lua = m.LuaRuntime()
        lua.execute("package.cpath = ... .. '/?.so;' .. package.cpath", {directory!r})
        try:
            lua.require("tinymod")
        except m.LuaError as e:
            # glibc: "undefined symbol: lua_...", musl: "symbol not found"
            print("LuaError", "undefined symbol" in str(e) or "symbol not found" in str(e))
        print(lua.eval("1 + 1"))
    """.format(backend=name, directory=directory)
    rc, out, err = run_python(code)
    assert rc == 0, err
    assert out.split() == ["LuaError", "True", "2"]


def test_allow_lua_module_loading_restores_dlopen_flags():
    before = sys.getdlopenflags()
    with lupacffi.allow_lua_module_loading():
        assert sys.getdlopenflags() & os.RTLD_GLOBAL
    assert sys.getdlopenflags() == before
    with pytest.raises(ZeroDivisionError):
        with lupacffi.allow_lua_module_loading():
            1 / 0
    assert sys.getdlopenflags() == before


def test_two_backends_in_allow_block(tmp_path):
    """C modules bind to the first Lua loaded globally: a second backend in
    the block would hand them the wrong Lua (crashes), so it is refused."""
    backends = lupacffi.available_backends()
    if "lua54" not in backends or "lua53" not in backends:
        pytest.skip("needs lua54 and lua53")
    directory = build_module("lua53", tmp_path)
    code = """
        import lupacffi
        with lupacffi.allow_lua_module_loading():
            import lupacffi.lua54
            try:
                import lupacffi.lua53 as m
            except ImportError as e:       # one backend only: C modules bind to it
                print("ImportError" if "lua54" in str(e) else e)
                raise SystemExit(0)
        lua = m.LuaRuntime()
        lua.execute("package.cpath = ... .. '/?.so;' .. package.cpath", {directory!r})
        try:
            mod = lua.require("tinymod")
            print(mod.add(1, 2))
        except m.LuaError as e:
            print("LuaError")
    """.format(directory=directory)
    rc, out, err = run_python(code, timeout=60)
    assert rc == 0, err
    assert out.split() in (["3"], ["3.0"], ["LuaError"], ["ImportError"])
