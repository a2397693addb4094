"""The fallback of build_ffi.py: a backend built against the system's Lua
(found by pkg-config, linked as a shared library, without Lua's internal
headers) instead of the vendored sources.  Builds Lua 5.4 that way into a
copy of the installed package that has no other backend, and runs a part of
the test suite against it in a subprocess.  CI installs the system Lua
(liblua5.4-dev) and sets LUPACFFI_REQUIRE_SYSTEM_LUA=1, so that there this
test cannot skip."""

import os
import shutil
import subprocess
import sys

import pytest

import lupacffi

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = [
    "test_foundation.py",
    "test_tables.py",
    "test_table_fast_paths.py",
    "test_functions.py",
    "test_coroutines.py",
    "test_callback_errors.py",
    "test_limits.py",
    "test_eval_cache.py",
    "test_cycles.py",
    "test_python_objects.py",
]


def _unavailable():
    if not os.path.exists(os.path.join(ROOT, "build_ffi.py")):
        return "no build_ffi.py next to the tests"
    if (
        shutil.which("pkg-config") is None
        or subprocess.call(["pkg-config", "--exists", "lua5.4"]) != 0
    ):
        return "no system Lua 5.4 (pkg-config lua5.4; Debian: liblua5.4-dev)"
    return None


@pytest.fixture(scope="module")
def system_package(tmp_path_factory):
    why = _unavailable()
    if why is not None:
        if os.environ.get("LUPACFFI_REQUIRE_SYSTEM_LUA") == "1":
            pytest.fail(why)
        pytest.skip(why)
    root = tmp_path_factory.mktemp("system-lua")
    package = root / "lupacffi"
    shutil.copytree(
        os.path.dirname(lupacffi.__file__),
        str(package),
        ignore=shutil.ignore_patterns("*.so", "__pycache__"),
    )
    build = (
        "import shutil, sys, build_ffi\n"
        "built = build_ffi.make_ffi('54', absolute_paths=True).compile(tmpdir=sys.argv[1])\n"
        "shutil.copy(built, sys.argv[2])\n"
        "built = build_ffi.make_constants_ffi().compile(tmpdir=sys.argv[1])\n"
        "shutil.copy(built, sys.argv[2])\n"
    )
    env = dict(os.environ, LUPACFFI_LUA="system")
    subprocess.check_call(
        [sys.executable, "-c", build, str(root / "build"), str(package)], cwd=ROOT, env=env
    )
    return root


def _env(root):
    env = dict(os.environ, PYTHONPATH=str(root))
    env.pop("LUPACFFI_REQUIRE_BACKENDS", None)
    return env


def test_the_system_backend_is_the_default(system_package):
    code = (
        "import lupacffi, lupacffi.lua54 as lua54\n"
        "assert lupacffi.__file__.startswith(%r), lupacffi.__file__\n"
        "assert lupacffi.available_backends() == ['lua54']\n"
        "lua = lupacffi.LuaRuntime()\n"
        "assert lua._backend.system_lua and lua._chunks is None\n"
        "assert lua.eval('_VERSION') == 'Lua 5.4' and lua.lua_version == (5, 4)\n"
        "assert lupacffi.lua_type(lua.eval('{}')) == 'table'\n"
        "print('ok')\n" % str(system_package)
    )
    out = subprocess.check_output(
        [sys.executable, "-c", code], env=_env(system_package), cwd=str(system_package)
    )
    assert out.decode().strip() == "ok"


def test_the_suite_passes_against_the_system_backend(system_package):
    args = [os.path.join(ROOT, "tests", name) for name in TESTS]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-m",
            "not slow",
            "--rootdir",
            ROOT,
        ]
        # (Debian's PyPy 7.3.11 can crash while pytest rewrites asserts:
        # PyPy issue 3959; scripts/test.sh passes the same for the same reason)
        + (["--assert=plain"] if sys.implementation.name == "pypy" else [])
        + args,
        env=_env(system_package),
        cwd=str(system_package),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = result.stdout.decode(errors="replace")
    assert result.returncode == 0, output[-4000:]
    assert "lupacffi backends: lua54" in output
