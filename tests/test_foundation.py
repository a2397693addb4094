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
