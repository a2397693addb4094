"""Lua coroutines driven from Python like generators (lupa's rules), and
coroutine objects made in Lua."""

import gc

import pytest

GEN = """function(n)
    for i = 1, n do
        local got = coroutine.yield(i)
        if got then n = got end
    end
    return 'done'
end"""
IDENTITY_YIELD = "function(...) coroutine.yield(...) end"


def echo_coroutine(lua):
    """Yields the number of values it was resumed with, then those values."""
    return lua.eval("""function()
        local function pack(...) return {n = select('#', ...), ...} end
        local unpack = table.unpack or unpack
        local a = pack()
        while true do
            a = pack(coroutine.yield(a.n, unpack(a, 1, a.n)))
        end
    end""").coroutine()


# ---- the examples of lupa's project description -------------------------------------------------
def test_reference_coroutine_examples(lupa):
    lua_code = """\
        function(N)
            for i=0,N do
                coroutine.yield( i%2 )
            end
        end
    """
    lua = lupa.LuaRuntime()
    f = lua.eval(lua_code)
    gen = f.coroutine(4)
    assert list(enumerate(gen)) == [(0, 0), (1, 1), (2, 0), (3, 1), (4, 0)]

    lua_code = """\
        function()
            local t,i = {},0
            local value = coroutine.yield()
            while value do
                t[i] = value
                i = i + 1
                value = coroutine.yield()
            end
            return t
        end
    """
    f = lua.eval(lua_code)
    co = f.coroutine()
    assert co.send(None) is None
    for i in range(3):
        assert co.send(i * 2) is None
    mapping = co.send(None)
    assert sorted(mapping.items()) == [(0, 0), (1, 2), (2, 4)]

    lua_code = """\
      function f(N)
            for i=0,N do
                coroutine.yield( i%2 )
            end
      end ;
      co1 = coroutine.create(f) ;
      co2 = coroutine.create(f) ;
      status, first_result = coroutine.resume(co2, 2) ;   -- starting!
      return f, co1, co2, status, first_result
    """
    lua = lupa.LuaRuntime()
    f, co, lua_gen, status, first_result = lua.execute(lua_code)
    assert status is True
    assert first_result == 0
    assert list(lua_gen) == [1, 0]
    assert list(lua_gen) == []
    gen = co(4)
    assert list(enumerate(gen)) == [(0, 0), (1, 1), (2, 0), (3, 1), (4, 0)]
    gen = co(2)
    assert list(enumerate(gen)) == [(0, 0), (1, 1), (2, 0)]
    gen = f.coroutine(4)
    assert list(enumerate(gen)) == [(0, 0), (1, 1), (2, 0), (3, 1), (4, 0)]


# ---- the generator protocol ---------------------------------------------------------------------------
def test_generator_protocol(lua):
    c = lua.eval(GEN).coroutine(3)
    assert repr(c).startswith("<Lua thread at 0x")
    assert bool(c)
    assert c.send(None) == 1
    assert bool(c)
    assert c.send(None) == 2
    assert next(c) == 3
    assert next(c) == "done"  # the final return value is the last item
    assert not c
    for resume in (lambda: next(c), lambda: c.send(None), lambda: c.send(1)):
        with pytest.raises(StopIteration):
            resume()
    assert not c
    assert iter(c) is c


def test_iteration(lua):
    gen = lua.eval(GEN)
    assert list(gen.coroutine(3)) == [1, 2, 3, "done"]
    c = gen.coroutine(3)
    assert list(c) == [1, 2, 3, "done"]
    assert list(c) == []
    assert list(gen.coroutine(2, 99)) == [1, 2, "done"]  # extra arguments ignored
    assert list(gen.coroutine(0)) == ["done"]
    c = gen.coroutine(5)
    assert c.send(None) == 1
    assert c.send(1) == 2  # the value sent reaches the coroutine
    assert list(c) == [3, 4, 5, "done"]


def test_first_send_must_be_none(lua):
    gen = lua.eval(GEN)
    for value in (5, 0, False, (), (None,), [1]):
        c = gen.coroutine(3)
        with pytest.raises(TypeError, match="just-started"):
            c.send(value)
        assert c.send(None) == 1  # the refused send did not start it


def test_return_values(lua):
    c = lua.eval("function() return 1, 2 end").coroutine()
    assert c.send(None) == (1, 2)
    with pytest.raises(StopIteration):
        c.send(None)
    c = lua.eval("function() return end").coroutine()
    with pytest.raises(StopIteration):  # no values: no last item
        c.send(None)
    assert not c
    assert list(lua.eval("function() return nil end").coroutine()) == [None]
    assert list(lua.eval("function() coroutine.yield(1) end").coroutine()) == [1]


def test_yielded_values(lua):
    c = lua.eval("""function()
        coroutine.yield()
        coroutine.yield(1, 2)
        coroutine.yield(nil, nil)
        coroutine.yield(nil)
        coroutine.yield({1})
    end""").coroutine()
    values = list(c)
    assert values[:4] == [None, (1, 2), (None, None), None]
    assert list(values[4].values()) == [1]


def test_sent_values(lua):
    e = echo_coroutine(lua)
    assert e.send(None) == 0
    assert e.send(5) == (1, 5)
    assert e.send((5, 6)) == (2, 5, 6)  # a tuple is several resume values
    assert e.send([5, 6])[1] == [5, 6]
    assert e.send(()) == 0
    assert e.send((None,)) == (1, None)
    assert e.send(None) == 0
    assert e.send((None, None)) == (2, None, None)
    assert e.send({"a": 1}) == (1, {"a": 1})
    big = tuple(range(300))
    assert e.send(big) == (300,) + big


def test_many_start_arguments(lua):
    c = lua.eval(IDENTITY_YIELD).coroutine(*range(200))
    assert c.send(None) == tuple(range(200))


# ---- errors -----------------------------------------------------------------------------------------------
def test_error_ends_the_coroutine(lua, lupa):
    c = lua.eval("function() coroutine.yield(1); error('in co') end").coroutine()
    assert c.send(None) == 1
    with pytest.raises(lupa.LuaError, match="in co"):
        c.send(None)
    assert not c
    for resume in (lambda: c.send(None), lambda: next(c), lambda: list(c)):
        with pytest.raises(lupa.LuaError, match="cannot resume dead coroutine"):
            resume()


def test_error_with_non_string_value(lua, lupa):
    c = lua.eval("function() error({}) end").coroutine()
    with pytest.raises(lupa.LuaError):
        c.send(None)
    assert not c


def test_python_exception_inside_a_coroutine(lua, lupa):
    def boom():
        raise ValueError("bad")

    c = lua.eval("function(f) coroutine.yield(1) f() end").coroutine(boom)
    assert c.send(None) == 1
    with pytest.raises(ValueError, match="bad"):  # lupa loses it (LuaError(''))
        c.send(None)
    assert not c
    with pytest.raises(lupa.LuaError, match="cannot resume dead coroutine"):
        c.send(None)


def test_python_exception_while_converting_arguments(lua, lupa):
    c = lua.eval(GEN).coroutine(3)
    assert c.send(None) == 1
    if lupa.LUA_VERSION >= (5, 3):
        with pytest.raises(OverflowError):
            c.send(2**70)
        assert c  # nothing was resumed
    assert c.send(None) == 2


def test_resuming_a_running_coroutine(lua, lupa):
    holder = {}

    def inner():
        c = holder["c"]
        assert c  # running: still alive
        with pytest.raises(lupa.LuaError, match="non-suspended"):
            c.send(None)
        return 5

    c = lua.eval("function(f) coroutine.yield(f()) return 'end' end").coroutine(inner)
    holder["c"] = c
    assert c.send(None) == 5
    assert next(c) == "end"


def test_yield_outside_the_coroutine_is_an_error(lua, lupa):
    lua_yield = lua.eval("coroutine.yield")
    c = lua.eval("function(f) f() end").coroutine(lambda: lua_yield(1))
    with pytest.raises(lupa.LuaError):
        c.send(None)
    assert not c


def test_no_throw_and_no_close(lua):
    c = lua.eval(GEN).coroutine(1)
    assert not hasattr(c, "throw") and not hasattr(c, "close")


def test_calling_and_indexing_a_thread(lua, lupa):
    c = lua.eval(GEN).coroutine(1)
    with pytest.raises(lupa.LuaError, match="attempt to call a thread value"):
        c(5)
    with pytest.raises(TypeError, match="not supported"):
        c[1]
    with pytest.raises(AttributeError):
        c.x
    with pytest.raises(AttributeError):
        c.x = 1
    with pytest.raises(TypeError):
        c[1] = 1
    assert len(c) == 0
    assert list(c) == [1, "done"]


def test_equality(lua):
    gen = lua.eval(GEN)
    c1, c2 = gen.coroutine(1), gen.coroutine(1)
    assert c1 != c2 and c1 == c1
    back = lua.eval("function(c) return c end")(c1)
    assert back == c1 and hash(back) == hash(c1)


def test_running_inside(lua, lupa):
    c = lua.eval("function() return coroutine.running() end").coroutine()
    result = c.send(None)
    if lupa.LUA_VERSION >= (5, 2) and "LuaJIT" not in lua.lua_implementation:
        thread, is_main = result
        assert is_main is False
    else:
        thread = result
    assert thread == c
    if lupa.LUA_VERSION >= (5, 3):
        assert lua.eval("function() return coroutine.isyieldable() end").coroutine().send(None)


def test_many_coroutines_are_freed(lua):
    gen = lua.eval(GEN)
    lua.gccollect()
    before = lua.eval("(collectgarbage('count'))")
    for _ in range(3000):
        c = gen.coroutine(3)
        c.send(None)
    del c
    gc.collect()
    lua.gccollect()
    after = lua.eval("(collectgarbage('count'))")
    assert after - before < 1000  # kB; 3000 live threads would be far more


# ---- coroutine objects made in Lua ----------------------------------------------------------------------
def test_not_started_lua_coroutine(lua, lupa):
    co = lua.eval(
        "coroutine.create(function(a, b) local x = coroutine.yield(a + b);"
        " coroutine.yield(x * 2); return 'end' end)"
    )
    assert type(co).__name__ == "_LuaCoroutineFunction"
    assert lupa.lua_type(co) == "function"
    assert repr(co).startswith("<Lua function at 0x") and str(co) == repr(co)
    assert bool(co) and co == co
    th = co(4, 5)
    assert type(th).__name__ == "_LuaThread" and lupa.lua_type(th) == "thread"
    assert th.send(None) == 9
    assert th.send(10) == 20
    assert th.send(None) == "end"
    with pytest.raises(StopIteration):
        th.send(None)
    assert co(1, 2).send(None) == 3  # every call: a new coroutine
    assert co.coroutine(4, 5).send(None) == 9
    with pytest.raises(TypeError, match="not supported"):
        co[1]
    with pytest.raises(AttributeError):
        co.send


def test_not_started_lua_coroutine_stays_untouched(lua, lupa):
    co = lua.execute(
        "co1 = coroutine.create(function(n) coroutine.yield(n) return n + 1 end) return co1"
    )
    assert list(co(5)) == [5, 6]
    assert lua.eval("coroutine.status(co1)") == "suspended"
    # given back to Lua, it is that coroutine
    assert lua.eval("function(c) return c == co1, coroutine.status(c) end")(co) == (
        True,
        "suspended",
    )
    assert lua.eval("coroutine.resume")(co, 1) == (True, 1)
    with pytest.raises(lupa.LuaError, match="already started"):
        co(1)


def test_started_lua_coroutine(lua, lupa):
    s = lua.execute(
        "local c = coroutine.create(function() coroutine.yield(1)"
        " coroutine.yield(2) end); coroutine.resume(c); return c"
    )
    assert type(s).__name__ == "_LuaThread" and lupa.lua_type(s) == "thread"
    assert bool(s)
    assert s.send(None) == 2
    assert list(s) == []
    assert not s
    with pytest.raises(StopIteration):
        s.send(None)


def test_started_lua_coroutine_accepts_values_at_once(lua):
    s = lua.execute(
        "local c = coroutine.create(function() local x = coroutine.yield(1)"
        " return x * 2 end); coroutine.resume(c); return c"
    )
    assert s.send(21) == 42


def test_finished_lua_coroutine(lua):
    d = lua.execute("local c = coroutine.create(function() end); coroutine.resume(c); return c")
    assert type(d).__name__ == "_LuaThread"
    assert not d
    with pytest.raises(StopIteration):
        d.send(None)
    assert list(d) == []


def test_failed_lua_coroutine(lua, lupa):
    x = lua.execute(
        "local c = coroutine.create(function() error('x') end); coroutine.resume(c); return c"
    )
    assert type(x).__name__ == "_LuaThread"
    assert not x
    with pytest.raises(lupa.LuaError, match="cannot resume dead coroutine"):
        x.send(None)
    with pytest.raises(lupa.LuaError, match="cannot resume dead coroutine"):
        list(x)


def test_main_thread(lua, lupa):
    main = lua.eval("coroutine.running()")
    if lupa.LUA_VERSION == (5, 1):  # Lua 5.1 and LuaJIT: nil in the main thread
        assert main is None
        return
    thread, is_main = main
    assert is_main is True
    assert type(thread).__name__ == "_LuaThread" and lupa.lua_type(thread) == "thread"
    assert thread == lua.eval("coroutine.running()")[0]
    with pytest.raises(lupa.LuaError, match="non-suspended"):
        thread.send(None)
    with pytest.raises(lupa.LuaError):
        thread.send(None)


def test_wrap_gives_a_plain_function(lua, lupa):
    w = lua.eval("coroutine.wrap(function() coroutine.yield(1) coroutine.yield(2) end)")
    assert type(w).__name__ == "_LuaFunction"
    assert (w(), w()) == (1, 2)


def test_coroutine_driven_from_lua_and_python(lua):
    c = lua.eval(GEN).coroutine(4)
    assert c.send(None) == 1
    resume = lua.eval("coroutine.resume")
    assert resume(c) == (True, 2)
    assert c.send(None) == 3
    assert resume(c) == (True, 4)
    assert next(c) == "done"
    assert resume(c)[0] is False
