"""Garbage: gccollect(), nogc(), the lifetime of Python objects held by Lua and
of Lua values held by Python wrappers, leaks, and reference cycles that run
through both heaps."""

import weakref

import pytest


from helpers import Obj, collect
from workloads import make_cycle


def has_isrunning(lupa):
    # collectgarbage('isrunning') exists from Lua 5.2 on, and in LuaJIT 2.1
    return lupa.LUA_VERSION >= (5, 2) or lupa.LuaRuntime().lua_implementation.startswith("LuaJIT")


def gc_running(lua):
    return lua.eval("collectgarbage('isrunning')")


# ---- gccollect ----------------------------------------------------------------
def test_gccollect_returns_none_and_frees(lua):
    assert lua.gccollect() is None
    base = lua.get_memory_used()
    lua.execute("local t = {} for i = 1, 100000 do t[i] = {i} end")  # garbage
    assert lua.get_memory_used() > base
    lua.gccollect()
    assert lua.get_memory_used() < base + 50000


def test_gccollect_runs_lua_finalizers(lua, lupa):
    if lupa.LUA_VERSION == (5, 1):
        # Lua 5.1 and LuaJIT: __gc only on userdata (newproxy)
        lua.execute(
            "finalized = false; local p = newproxy(true) "
            "getmetatable(p).__gc = function() finalized = true end"
        )
    else:
        lua.execute("finalized = false; setmetatable({}, {__gc = function() finalized = true end})")
    lua.gccollect()
    assert lua.eval("finalized") is True


# ---- nogc ---------------------------------------------------------------------------
def _garbage_growth(lua):
    """Memory left behind by making ~6 MB of short-lived tables."""
    before = lua.get_memory_used()
    lua.execute("for i = 1, 60000 do local t = {i, i, i, i, i, i, i, i} end")
    return lua.get_memory_used() - before


def test_nogc_stops_and_restarts_collector(lua, lupa):
    if has_isrunning(lupa):
        assert gc_running(lua) is True
        with lua.nogc():
            assert gc_running(lua) is False
        assert gc_running(lua) is True
    else:
        # Lua 5.1 has no collectgarbage('isrunning'): watch the garbage pile up
        lua.gccollect()
        with lua.nogc():
            stopped = _garbage_growth(lua)
        lua.gccollect()
        running = _garbage_growth(lua)
        assert stopped > 3000000
        assert running < stopped // 2


def test_nogc_nests(lua, lupa):
    with lua.nogc():
        with lua.nogc():
            pass
        # leaving the inner block must not restart the collector
        if has_isrunning(lupa):
            assert gc_running(lua) is False
        else:
            assert _garbage_growth(lua) > 3000000
    if has_isrunning(lupa):
        assert gc_running(lua) is True


def test_nogc_restores_on_exception(lua, lupa):
    with pytest.raises(ZeroDivisionError):
        with lua.nogc():
            1 / 0
    with pytest.raises(lupa.LuaError):
        with lua.nogc():
            lua.execute("error('x')")
    if has_isrunning(lupa):
        assert gc_running(lua) is True
    else:
        lua.gccollect()
        assert _garbage_growth(lua) < 3000000


def test_nogc_keeps_a_collector_stopped_by_lua(lua, lupa):
    """The previous state comes back: a collector that Lua code had stopped
    stays stopped after the block (lupa restarts it)."""
    lua.execute("collectgarbage('stop')")
    with lua.nogc():
        pass
    if has_isrunning(lupa):
        assert gc_running(lua) is False
    else:
        assert _garbage_growth(lua) > 3000000


def test_gccollect_inside_nogc(lua, lupa):
    """A full collection inside nogc() leaves the collector stopped (Lua 5.1
    and LuaJIT restart it as a side effect of a full collection)."""
    with lua.nogc():
        lua.execute("local t = {} for i = 1, 10000 do t[i] = {} end")
        lua.gccollect()
        if has_isrunning(lupa):
            assert gc_running(lua) is False
        else:
            assert _garbage_growth(lua) > 3000000
    if has_isrunning(lupa):
        assert gc_running(lua) is True


def test_nogc_per_runtime(lupa):
    a, b = lupa.LuaRuntime(), lupa.LuaRuntime()
    with a.nogc():
        if has_isrunning(lupa):
            assert gc_running(a) is False
            assert gc_running(b) is True
        else:
            assert _garbage_growth(a) > 3000000
            assert _garbage_growth(b) < 3000000


# ---- Python objects held by Lua -------------------------------------------------------
def test_python_object_freed_after_lua_drops_it(lua):
    obj = Obj()
    ref = weakref.ref(obj)
    lua.globals().held = obj
    lua.execute("other = {held, held}")
    del obj
    collect(lua)
    assert ref() is not None and lua.eval("held") is ref()
    lua.execute("held = nil")
    collect(lua)
    assert ref() is not None  # still in `other`
    lua.execute("other = nil")
    collect(lua)
    assert ref() is None


def test_python_object_freed_with_weakref_callback(lua):
    freed = []
    obj = Obj()
    ref = weakref.ref(obj, lambda r: freed.append(True))
    lua.eval("function(o) stash = o end")(obj)
    del obj
    collect(lua)
    assert not freed
    lua.execute("stash = nil")
    collect(lua)
    assert freed == [True] and ref() is None


def test_callback_argument_and_result_freed(lua):
    seen = []
    lua.globals().keep = lambda o: seen.append(weakref.ref(o)) or o
    for _ in range(10):
        lua.execute("local x = keep(python.builtins.object and ...)", Obj())
    collect(lua)
    assert len(seen) == 10 and all(r() is None for r in seen[:-1])


def test_last_callback_result_is_not_kept(lua):
    """What a callback returned is Lua's alone once Lua has it: when Lua drops
    it, it is freed (the runtime must not hold on to the last result)."""
    refs = []

    def make():
        o = Obj()
        refs.append(weakref.ref(o))
        return o

    lua.globals().make = make
    lua.execute("local x = make()")
    collect(lua)
    assert refs[0]() is None


def test_exception_from_callback_freed(lua):
    """An exception raised in a callback and swallowed by pcall does not keep
    its traceback (and the frames' locals) alive."""
    refs = []

    def fail():
        local = Obj("a local of the failing frame")
        refs.append(weakref.ref(local))
        raise ValueError("boom")

    lua.globals().fail = fail
    assert lua.eval("select('#', pcall(fail))") == 2
    collect(lua)
    assert refs[0]() is None


def test_python_objects_not_leaked_in_loop(lua):
    refs = []
    identity = lua.eval("function(x) return x end")
    store = lua.eval("function(x) last = x end")
    for _ in range(20000):
        o = Obj()
        refs.append(weakref.ref(o))
        assert identity(o) is o
        store(o)
    del o
    lua.execute("last = nil")
    collect(lua)
    assert sum(r() is not None for r in refs) == 0


def test_object_stays_the_same_while_lua_holds_it(lua):
    """The handle Lua holds keeps the very object: passing it again, from a
    nested call or another place, gives the same object back."""
    obj = Obj("x")
    lua.globals().o = obj
    for _ in range(1000):
        assert lua.eval("o") is obj
        lua.eval("function(x) return x end")(obj)
    del obj
    collect(lua)
    assert lua.eval("o").payload == "x"


def test_nested_call_does_not_confuse_argument_pins(lua):
    """A call into Lua from inside a callback (same thread) must not disturb
    the bookkeeping of the outer call's Python arguments: afterwards Lua still
    holds both objects, and both are freed once Lua drops them."""
    inner_obj, outer_obj = Obj("inner"), Obj("outer")
    refs = [weakref.ref(inner_obj), weakref.ref(outer_obj)]
    store_inner = lua.eval("function(x) keep_inner = x end")
    lua.globals().cb = lambda: store_inner(inner_obj)
    lua.eval("function(x) keep_outer = x; cb() end")(outer_obj)
    inner_obj = outer_obj = None
    lua.globals().cb = None
    collect(lua)
    assert lua.eval("keep_inner").payload == "inner"
    assert lua.eval("keep_outer").payload == "outer"
    lua.execute("keep_inner = nil; keep_outer = nil")
    collect(lua)
    assert [r() for r in refs] == [None, None]


def test_same_object_in_two_runtimes(lupa):
    a, b = lupa.LuaRuntime(), lupa.LuaRuntime()
    obj = Obj()
    ref = weakref.ref(obj)
    a.globals().x = obj
    b.globals().x = obj
    put_b = b.eval("function(o) y = o end")
    a.globals().cb = lambda: put_b(ref())  # a call into b from a's callback
    a.eval("function(o) cb() end")(obj)
    del obj
    a.execute("x = nil")
    collect(a)
    assert ref() is not None and b.eval("x") is ref() and b.eval("y") is ref()
    b.execute("x = nil; y = nil")
    a.globals().cb = None
    collect(b)
    assert ref() is None


# ---- Lua values held by Python wrappers ---------------------------------------------
def test_wrapper_keeps_lua_value_alive(lua):
    lua.execute("weak = setmetatable({}, {__mode = 'v'})")
    t = lua.eval("{1, 2, 3}")
    f = lua.eval("function() return 42 end")
    co = lua.eval("function() coroutine.yield(1) end").coroutine()
    weak = lua.globals().weak
    weak.t, weak.f, weak.co = t, f, co
    collect(lua)
    assert lua.eval("weak.t[3]") == 3 and lua.eval("weak.f()") == 42
    assert lua.eval("type(weak.co)") == "thread"
    del t
    collect(lua)
    assert lua.eval("weak.t") is None and lua.eval("weak.f()") == 42
    del f, co
    collect(lua)
    assert lua.eval("next(weak)") is None


def test_two_wrappers_of_one_value(lua):
    lua.execute("weak = setmetatable({}, {__mode = 'v'}); weak[1] = {}")
    a = lua.eval("weak[1]")
    b = lua.eval("weak[1]")
    del a
    collect(lua)
    assert lua.eval("weak[1]") is not None
    del b
    collect(lua)
    assert lua.eval("weak[1]") is None


def test_abandoned_iteration_releases_its_cursor(lua):
    t = lua.table_from({"k%d" % i: i for i in range(300)})
    lua.execute("weak = setmetatable({}, {__mode = 'k'})")
    lua.globals().weak[t] = True
    it = iter(t.items())
    next(it)
    del it
    del t
    collect(lua)
    assert lua.eval("next(weak)") is None


# The first round may leave Lua's registry bigger (on PyPy many wrappers are
# alive at once before the collector frees them, and a Lua table keeps its
# size): the rounds after it must not grow.
def _rounds_of_wrappers(lua, rounds, body):
    used = []
    for _ in range(rounds):
        body()
        collect(lua)
        used.append(lua.get_memory_used())
    return used


def test_no_leak_creating_and_dropping_wrappers(lua):
    make = lua.eval("function(i) return {i} end")

    def body():
        for i in range(50000):
            t = make(i)
            assert t[1] == i
            if i % 3 == 0:
                lua.table(i, i)

    first, second, third = _rounds_of_wrappers(lua, 3, body)
    assert first < 16 * 1024 * 1024
    assert third < first + 64 * 1024
    assert second < first + 64 * 1024


def test_no_leak_with_globals_and_functions(lua):
    def body():
        for i in range(15000):
            g = lua.globals()
            g.x = i
            f = lua.eval("function() return x end")
            assert f() == i

    first, second, third = _rounds_of_wrappers(lua, 3, body)
    assert third < first + 64 * 1024
    assert second < first + 64 * 1024


def test_wrappers_return_to_baseline_on_cpython(lua):
    """With reference counting each wrapper is freed at once: Lua's memory
    comes back to where it was."""
    import platform

    if platform.python_implementation() != "CPython":
        pytest.skip("needs prompt freeing (reference counting)")
    collect(lua)
    base = lua.get_memory_used()
    make = lua.eval("function(i) return {i} end")
    for i in range(100000):
        t = make(i)
        assert t[1] == i
    del t
    collect(lua)
    assert lua.get_memory_used() < base + 64 * 1024


# ---- cycles through Lua and Python -----------------------------------------------------
def test_cycles_of_dropped_runtime_are_freed(lupa):
    lua = lupa.LuaRuntime()
    refs = [make_cycle(lua, i) for i in range(100)]
    rref = weakref.ref(lua)
    del lua
    collect()
    assert rref() is None
    assert all(r() is None for r in refs)


def test_object_in_dropped_runtime_is_freed(lupa):
    lua = lupa.LuaRuntime()
    obj = Obj()
    ref = weakref.ref(obj)
    lua.globals().x = obj
    lua.execute("t = {x, x}")
    obj.lua = lua  # a plain Python cycle through the runtime
    del obj, lua
    collect()
    assert ref() is None


def test_cycles_through_lua_are_collected(lua):
    refs = [make_cycle(lua, i) for i in range(100)]
    collect(lua)
    assert sum(r() is not None for r in refs) == 0


def test_cycles_across_two_runtimes_are_collected(lupa):
    a, b = lupa.LuaRuntime(), lupa.LuaRuntime()
    refs = []
    for i in range(50):
        x, y = Obj(i), Obj(i)
        ta, tb = a.table(), b.table()
        ta.obj, tb.obj = x, y  # a's table holds x, b's holds y
        x.other, y.other = tb, ta  # x holds b's table, y holds a's
        refs += [weakref.ref(x), weakref.ref(y)]
    del x, y, ta, tb
    collect(a)
    collect(b)
    assert sum(r() is not None for r in refs) == 0


def test_cycle_leak_is_bounded_by_the_runtime(lupa):
    """Whatever the cycles leak while a runtime lives goes with the runtime."""
    lua = lupa.LuaRuntime()
    refs = [make_cycle(lua, "x" * 1000) for _ in range(1000)]
    del lua
    collect()
    assert sum(r() is not None for r in refs) == 0
