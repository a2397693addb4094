"""Long result strings (LONG_STRING bytes or more) reach Python without the
copy into the calling thread's result buffer: Python makes the str or bytes
straight from Lua's memory in a callback (OP_STRING; lc_take_long_strings in
csrc/lc_convert.c), holds it until it reads the results (LuaRuntime._taken),
and C hands back its handle (TAKEN).  Every way a result comes back must give
exactly what it gives for short strings, and the Python objects made on the
way must not stay behind.  Each test runs both
ways ("taken" and "copied": lc_long_strings_to_python, which PyPy leaves
off) on both interpreters."""

import gc

import pytest

from helpers import run_threads
from lupacffi._constants import LONG_STRING

SIZES = [LONG_STRING - 1, LONG_STRING, LONG_STRING + 1, 1 << 20]


@pytest.fixture(autouse=True, params=["taken", "copied"])
def way(request, lupa):
    """Sets the backend's choice for the test (C reads it at each result)."""
    lib = lupa.LuaRuntime()._lib
    saved = lib.lc_long_strings_to_python
    lib.lc_long_strings_to_python = int(request.param == "taken")
    yield request.param
    lib.lc_long_strings_to_python = saved


def _data(n, salt=b""):
    """n bytes of ASCII with NULs in them (as text: n characters)."""
    unit = salt + b"ab\0cd\n"
    return (unit * (n // len(unit) + 1))[:n]


def _runtimes(lupa):
    """A runtime with the default encoding, and one without (bytes), each
    with the value type of its strings."""
    return [(lupa.LuaRuntime(), lambda b: b.decode()), (lupa.LuaRuntime(encoding=None), bytes)]


def _settled(lua):
    """The number of Python objects the runtime holds, once the wrappers
    that were dropped are gone; no taken string is left unread."""
    gc.collect()
    assert lua._taken == {}
    return len(lua._objects)


@pytest.mark.parametrize("n", SIZES)
def test_every_result_path(lupa, n):
    for lua, as_value in _runtimes(lupa):
        before = _settled(lua)
        s = as_value(_data(n))
        s2 = as_value(_data(n, b"x"))
        identity = lua.eval("function(...) return ... end")
        assert identity(s) == s and type(identity(s)) is type(s)
        assert lua.eval("function(x) return x end")(s) == s  # (one argument)
        assert identity(s, 1, s2, as_value(b"short")) == (s, 1, s2, as_value(b"short"))
        lua.globals().G = s
        assert lua.eval("G") == s
        assert lua.execute("return G, G") == (s, s)
        t = lua.table()
        t[1] = s
        k = as_value(b"k")
        t[k] = s2
        assert t[1] == s and t[k] == s2
        if lua._encoding is not None:
            assert t.k == s2
        assert sorted(t.values()) == sorted([s, s2])
        assert dict(t.items()) == {1: s, k: s2}
        co = lua.eval("function(x) while true do x = coroutine.yield(x, #x) end end").coroutine(s)
        assert next(co) == (s, n)
        assert co.send(s2) == (s2, n)
        assert lua.eval("function(x) return x .. x end")(s) == s + s
        assert _settled(lua) == before


def test_more_results_than_the_buffer_holds(lupa):
    """(beyond NOUT results Python fetches the rest from C: lc_fetch)"""
    from lupacffi._constants import NOUT

    lua = lupa.LuaRuntime()
    before = _settled(lua)
    values = [chr(65 + k % 26) * (LONG_STRING + k) for k in range(NOUT + 10)]
    assert lua.eval("function(...) return ... end")(*values) == tuple(values)
    t = lua.table_from(values)
    assert list(t.values()) == values
    del t
    assert _settled(lua) == before


def test_utf8_text(lupa):
    lua = lupa.LuaRuntime()
    s = "é€😀 " * (LONG_STRING // 4)
    assert lua.eval("function(x) return x, #x end")(s) == (s, len(s.encode()))
    assert lua.eval("function(x) return x:sub(1, -2) end")(s) == s[:-1]  # (ends in ASCII)


def test_undecodable_long_strings(lupa):
    lua = lupa.LuaRuntime()
    before = _settled(lua)
    code = "string.rep('\\255', %d)" % (LONG_STRING + 10)
    with pytest.raises(UnicodeDecodeError):
        lua.eval(code)
    with pytest.raises(UnicodeDecodeError):  # the others are released on the way
        lua.eval("function(s) return s, %s, s end" % code)("x" * LONG_STRING)
    t = lua.eval("{a = %s, b = string.rep('x', %d)}" % (code, LONG_STRING))
    with pytest.raises(UnicodeDecodeError):
        list(t.items())
    del t
    assert lua.eval("1 + 1") == 2
    assert _settled(lua) == before
    raw = lupa.LuaRuntime(encoding=None)
    assert raw.eval(code) == b"\xff" * (LONG_STRING + 10)


def test_long_tostring(lupa):
    for lua, as_value in _runtimes(lupa):
        code = "setmetatable({}, {__tostring = function() return string.rep('%s', %d) end})"
        assert str(lua.eval(code % ("x", LONG_STRING + 1))) == "x" * (LONG_STRING + 1)
        # undecodable text prints as Latin-1, as for short strings
        assert str(lua.eval(code % ("\\255", LONG_STRING))) == "\xff" * LONG_STRING


def test_python_declining_takes_the_usual_way(lupa, way):
    for lua, as_value in _runtimes(lupa):
        calls = []

        def decline(v, out):
            calls.append(v.i)
            return 0

        lua._take_string = decline
        s = as_value(_data(LONG_STRING * 2))
        assert lua.eval("function(...) return ... end")(s, s) == (s, s)
        assert calls == ([LONG_STRING * 2] * 2 if way == "taken" else [])


def test_lua_called_while_a_long_string_is_taken(lupa):
    """Python code running in the callback (a finalizer, say) may call Lua
    in the same thread, which reuses the thread's result buffers."""
    for lua, as_value in _runtimes(lupa):
        before = _settled(lua)
        take = lua._take_string
        other = as_value(_data(LONG_STRING + 3, b"other"))
        nested = lua.eval("function() return 1, 'short', O, 2.5 end")
        lua.globals().O = other
        depth = []

        def take_after_calling_lua(v, out):
            if not depth:  # (the nested call's own long string is taken plainly)
                depth.append(1)
                try:
                    assert nested() == (1, as_value(b"short"), other, 2.5)
                finally:
                    depth.pop()
            return take(v, out)

        lua._take_string = take_after_calling_lua
        s = as_value(_data(LONG_STRING * 3))
        f = lua.eval("function(x) return 7, x, 'tail', x .. 'y', {} end")
        results = f(s)
        assert results[:4] == (7, s, as_value(b"tail"), s + as_value(b"y"))
        del lua._take_string, results
        assert _settled(lua) == before


def test_at_a_full_memory_limit(lupa):
    lua = lupa.LuaRuntime(max_memory=4 << 20)
    s = "z" * (1 << 20)
    f = lua.eval("function(x) return x, x end")
    assert f(s) == (s, s)
    with pytest.raises(lupa.LuaMemoryError):
        lua.eval("function(x) return x .. x .. x .. x .. x end")(s)
    assert f(s) == (s, s)


def test_from_several_threads(lua):
    f = lua.eval("function(x, k) return x, k, x end")
    before = _settled(lua)

    def work(k):
        s = chr(ord("a") + k) * (LONG_STRING + k)
        for i in range(30):
            assert f(s, i) == (s, i, s)

    run_threads([(work, (k,)) for k in range(6)])
    assert _settled(lua) == before
