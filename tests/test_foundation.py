"""The runtime core: eval/execute/compile, basic conversion and errors."""

import pytest


def test_eval_basic(lua):
    assert lua.eval("1+1") == 2
    assert lua.eval("'abc'") == "abc"
    assert lua.eval("1, 2, nil") == (1, 2, None)
    assert lua.eval("nil") is None


def test_execute_args(lua):
    assert lua.execute("return ...", 1, "a", None) == (1, "a", None)
    assert lua.eval("select('#', ...)", 1, None, 3) == 3


def test_runtime_error_traceback_innermost_last(lua, lupa):
    with pytest.raises(lupa.LuaError) as info:
        lua.execute("local function f() error('deep') end\nf()")
    message = str(info.value)
    assert message.startswith('[string "<python>"]:1: deep\nstack traceback:\n\t')
    lines = message.split("\n\t")
    assert "main chunk" in lines[1]
    assert "error" in lines[-1]


def test_syntax_error(lua, lupa):
    with pytest.raises(lupa.LuaSyntaxError) as info:
        lua.execute("x = = 1")
    assert str(info.value).startswith('error loading code: [string "<python>"]:1:')
    with pytest.raises(lupa.LuaSyntaxError) as info:
        lua.compile("x = = 1", name="myname")
    assert str(info.value).startswith('[string "myname"]:1:')


def test_python_side_constants_match_the_c_shim(lua):
    """_constants.py re-exports the numbers of csrc/lc_types.h, read from the
    compiled _lc_constants; they match the backend's own C; the lc_val layout
    that _convert reads in bulk mirrors lc_types.h."""
    from lupacffi import _constants, _convert

    lib, ffi = lua._lib, lua._ffi
    assert _convert._LC_VAL_SIZE == ffi.sizeof("lc_val")
    assert ffi.offsetof("lc_val", "i") == 8 and ffi.offsetof("lc_val", "d") == 16
    assert ffi.offsetof("lc_val", "s") == 24
    c_names = [n for n in dir(_constants._c) if n.startswith("LC_")]
    assert len(c_names) > 80
    for name in c_names:
        if not name.startswith("LC_STOP_"):  # only C uses those
            assert getattr(_constants, name[3:]) == getattr(_constants._c, name), name
            assert getattr(_constants, name[3:]) == getattr(lib, name), name
    _constants.check(lib)  # every constant, by the backend's own check


def test_constants_check_rejects_another_numbering(lua):
    from lupacffi import _constants

    class Renumbered:
        def __getattr__(self, name):
            value = getattr(lua._lib, name)
            return value + 1 if name == "LC_ERR_TIME" else value

    with pytest.raises(ImportError, match="ERR_TIME = -9, LC_ERR_TIME = -8"):
        _constants.check(Renumbered())
    with pytest.raises(ImportError, match="NOUT"):
        _constants.check(type("NoNout", (), {"__getattr__": lambda self, n: None})())


MISSING_BACKEND = """
import importlib.abc, sys

class Missing(importlib.abc.MetaPathFinder):       # as if Lua %s were not built
    def find_spec(self, name, path, target=None):
        if name == "lupacffi._lua_%s":
            raise ModuleNotFoundError("No module named %%r" %% name)

sys.meta_path.insert(0, Missing())
import lupacffi
%s
print(lupacffi.available_backends()[0], lupacffi.LuaRuntime().lua_version)
"""


@pytest.mark.parametrize(
    "first",
    ["", "lupacffi.available_backends()", "import lupacffi.lua54", "from lupacffi import lua54"],
)
def test_default_backend_when_the_newest_is_missing(first):
    # the default is the newest backend that imports, whatever was imported first
    # (importing a missing backend must leave no half-made module behind)
    import subprocess
    import sys
    import lupacffi

    if "lua54" not in lupacffi.available_backends() or "lua55" not in lupacffi.available_backends():
        pytest.skip("needs Lua 5.4 and 5.5 built")
    out = subprocess.check_output([sys.executable, "-c", MISSING_BACKEND % ("5.5", "55", first)])
    assert out.decode().split() == ["lua54", "(5,", "4)"]


def test_long_strings_go_to_python_except_on_pypy(lupa):
    """(csrc/lc_api.h, lc_long_strings_to_python; tests/test_long_strings.py
    tests both ways)"""
    import platform

    lib = lupa.LuaRuntime()._lib
    assert lib.lc_long_strings_to_python == (platform.python_implementation() != "PyPy")
