"""Reference cycles that run through Lua and Python (src/lupacffi/_cycles.py,
csrc/lc_gc.c): collected when nothing else holds them, never when Lua can
still reach the Python objects, and never at the price of a crash, a
deadlock or a wrong object."""

import gc
import platform
import sys
import threading
import weakref

import pytest

import lupacffi
from lupacffi import _cycles
from helpers import JOIN_TIMEOUT, Obj, collect, stack_depth
from workloads import make_cycle

PYPY = platform.python_implementation() == "PyPy"


def alive(refs):
    return sum(r() is not None for r in refs)


@pytest.mark.skipif(
    PYPY,
    reason="PyPy's gc.collect() has no hook before it runs (gccollect() "
    "does it there: test_cycles_collected)",
)
def test_gc_collect_alone_frees_cycles(lua):
    refs = [make_cycle(lua, i) for i in range(50)]
    before = len(lua._objects)
    gc.collect()
    assert alive(refs) == 0
    assert len(lua._objects) == before - 50


def test_cycles_collected(lua):
    base = lua.get_memory_used()
    refs = [make_cycle(lua, "x" * 100) for _ in range(500)]
    grown = lua.get_memory_used()
    collect(lua)
    assert alive(refs) == 0
    assert lua.get_memory_used() < base + (grown - base) // 2


def test_cycle_through_closure_upvalues(lua):
    make = lua.eval("function(x) local t = {x} return function() return t[1] end end")
    refs = []
    for i in range(20):
        o = Obj(i)
        o.get = make(o)  # o -> function -> upvalue table -> o
        assert o.get() is o
        refs.append(weakref.ref(o))
    del o
    collect(lua)
    assert alive(refs) == 0


def test_longer_cycle_through_python_and_lua(lua):
    refs = []
    for i in range(20):
        a, b = Obj(i), Obj(i)
        t1, t2 = lua.table(), lua.table()
        t1.next = b  # a -> t1 -> b -> t2 -> a
        b.next = t2
        t2.next = a
        a.next = t1
        refs += [weakref.ref(a), weakref.ref(b)]
    del a, b, t1, t2
    collect(lua)
    assert alive(refs) == 0


def test_objects_lua_reaches_from_globals_survive(lua):
    o = Obj("kept")
    t = lua.table()
    t.owner = o
    o.table = t
    lua.globals().keep = o  # also reachable from Lua's globals
    ref = weakref.ref(o)
    del o, t
    collect(lua)
    assert ref() is not None
    assert lua.eval("keep").payload == "kept"
    assert lua.eval("keep").table.owner is lua.eval("keep")
    lua.globals().keep = None
    collect(lua)
    assert ref() is None


def test_objects_of_live_wrappers_stay_registered(lua):
    t = lua.table()
    x = Obj("x")
    t.x = x  # Lua reaches x only through t's reference
    t.inner = lua.table()
    t.inner.y = Obj("y")
    yref = weakref.ref(t.inner.y)
    gc.collect()
    lua.gccollect()
    assert id(x) in lua._objects  # moved back after the collection
    assert t.x is x
    assert yref() is not None and t.inner.y.payload == "y"
    assert not hasattr(t, "__luakept__") or not _cycles._KEPT_SLOT.__get__(t)


def test_a_wrapper_found_as_it_dies_moves_nothing(lua):
    """gc.get_referrers() (in _cycles.freeze) can find a wrapper while its
    finalizer runs, and by the scan its reference may be a new table's.
    The new table's Python objects must stay registered: they were moved
    onto the dying wrapper, and lost with it (a KeyError on reading them,
    seen in test_collector_thread_while_others_work)."""
    lua.execute("function pack(...) return {...} end")
    pack = lua.globals().pack
    found = lua.eval("{}")
    ref = found._ref
    found.__del__()  # (its finalizer runs: its reference is released)
    obj = Obj("new")
    new = pack(obj)
    assert new._ref == ref  # (Lua reuses the number: the case under test)
    window = _cycles._freeze(lua, {ref: [found]})
    assert id(obj) in lua._objects  # nothing moved
    assert window is None
    del found
    collect()  # (frees the wrapper; on PyPy its finalizer runs again)
    assert new[1] is obj
    assert pack(1)[1] == 1  # the runtime's references intact


def test_a_wrapper_dying_as_its_window_ends_releases_its_reference(lua, monkeypatch):
    """A wrapper's finalizer reads the runtime's window while another thread
    may end it: read twice, the second read could be None, and the finalizer
    failed before it released its reference (a registry leak)."""
    t = lua.table()
    ref = t._ref
    reads = iter([_cycles._Window()])  # a window, then none
    monkeypatch.setattr(
        type(lua), "_gc_window", property(lambda self: next(reads, None)), raising=False
    )
    t.__del__()
    monkeypatch.undo()
    assert lua.table()._ref == ref  # released: Lua gives its number again


class _PausingSlot(object):
    """Stands for _cycles._KEPT_SLOT: the first read on this thread pauses
    (up to `wait` seconds) while another thread runs `meanwhile`."""

    def __init__(self, meanwhile, wait):
        self.slot = _cycles._KEPT_SLOT
        self.thread = threading.get_ident()
        self.meanwhile, self.wait = meanwhile, wait
        self.other = None

    def __get__(self, wrapper):
        value = self.slot.__get__(wrapper)
        if threading.get_ident() == self.thread and self.other is None:
            self.other = threading.Thread(target=self.meanwhile)
            self.other.start()
            self.other.join(self.wait)
        return value

    def __set__(self, wrapper, value):
        self.slot.__set__(wrapper, value)

    def __delete__(self, wrapper):
        self.slot.__delete__(wrapper)


def test_a_window_ends_under_the_runtime_lock(lua, monkeypatch):
    """The thread whose freeze made a window ends it (end_window) while
    other threads may enter the runtime.  Unlocked, another thread could
    thaw, let Lua release an object and return, all while the first thaw
    was half-way; that thaw then put the object back, held for ever (the
    leak of test_identity_stress_threads_own_runtimes; the same race could
    take a newer window's objects: its KeyError)."""
    lua.execute("function drop(t) t[1] = nil; collectgarbage(); collectgarbage() end")
    drop = lua.globals().drop
    t = lua.table()
    obj = Obj("only through t")
    t[1] = obj
    ref, h = weakref.ref(obj), id(obj)
    del obj
    frozen = _cycles.freeze([lua])
    assert [rt for rt, _ in frozen] == [lua]
    assert h not in lua._objects  # moved onto t's wrapper
    errors = []

    def enter_and_drop():
        try:
            drop(t)  # (waits for the lock while the window ends)
        except BaseException as e:
            errors.append(e)

    slot = _PausingSlot(enter_and_drop, wait=0.3)
    monkeypatch.setattr(_cycles, "_KEPT_SLOT", slot)
    _cycles.end_window(lua, frozen[0][1])
    slot.other.join(JOIN_TIMEOUT)
    monkeypatch.undo()
    assert errors == []
    assert lua._gc_window is None
    assert h not in lua._objects  # Lua released it, and nothing put it back
    collect(lua)
    assert ref() is None


def test_lua_finalizers_keep_what_they_reach(lupa, lua):
    """An object with a __gc metamethod is a root: its finalizer may still use
    the Python object, so the cycle stays until it is broken by hand.  (Lua
    calls the finalizers of one cycle in the reverse order of their objects'
    creation: the table's before that of the Python object's userdata.)"""
    if lupa.LUA_VERSION >= (5, 2):
        make = lua.eval("""function(o)
            local inner = {obj = o}
            return {fin = setmetatable({inner = inner},
                        {__gc = function(self) rescued = self.inner.obj.payload end})}
        end""")
    else:
        make = lua.eval("""function(o)
            local inner = {obj = o}
            local p = newproxy(true)
            getmetatable(p).__gc = function() rescued = inner.obj.payload end
            return {fin = p}
        end""")
    o = Obj("fin")
    o.t = make(o)
    ref = weakref.ref(o)
    del o
    collect(lua)
    assert ref() is not None  # not freed under the finalizer's feet
    ref().t = None  # broken by hand: now Lua may finalize
    collect(lua)
    assert lua.globals().rescued == "fin"


def walks_coroutines(lupa, lua):
    """Lua 5.2+ show every slot of a suspended coroutine to lua_getlocal;
    on Lua 5.1 and LuaJIT the scan gives up while one is reachable."""
    return lupa.LUA_VERSION >= (5, 2) and "LuaJIT" not in lua.lua_implementation


def test_cycle_through_suspended_coroutine(lupa, lua):
    co = lua.eval("""coroutine.create(function(o)
        local keep = o
        coroutine.yield(1)
        return keep
    end)""")
    o = Obj("co")
    assert lua.eval("coroutine.resume")(co, o) == (True, 1)
    o.co = co  # o -> coroutine -> its local -> o
    ref = weakref.ref(o)
    refs = [make_cycle(lua) for _ in range(10)]
    del o, co
    collect(lua)
    if walks_coroutines(lupa, lua):
        assert ref() is None and alive(refs) == 0
        return
    assert ref() is not None and alive(refs) == 10  # the scan gave up
    assert lua.eval("coroutine.resume")(ref().co) == (True, ref())
    ref().co = None
    collect(lua)  # the coroutine is finished: the scan works again
    assert ref() is None
    assert alive(refs) == 0


@pytest.mark.parametrize("how", ["param", "vararg", "closure"])
def test_suspended_coroutine_reachable_from_lua_keeps_its_objects(lua, how):
    """A coroutine that Lua itself holds keeps the objects on its stack, even
    when they are also in cycles with wrappers."""
    lua.execute(
        {
            "param": "co = coroutine.create(function(o) coroutine.yield() return o end)",
            "vararg": "co = coroutine.create(function(...) coroutine.yield() return ... end)",
            "closure": "co = coroutine.create(function(o) local f = function() return o end "
            "coroutine.yield() return f() end)",
        }[how]
    )
    objs = [Obj(i) for i in range(3)]
    kept = objs if how == "vararg" else objs[:1]
    assert lua.eval("coroutine.resume")(lua.eval("co"), *objs) is True
    for o in objs:  # each also in a cycle with a wrapper
        t = lua.table()
        t.owner = o
        o.table = t
    refs = [weakref.ref(o) for o in kept]
    del objs, kept, o, t
    collect(lua)
    assert alive(refs) == len(refs)
    result = lua.eval("coroutine.resume")(lua.eval("co"))
    assert result == (True,) + tuple(r() for r in refs)
    assert all(r().table.owner is r() for r in refs)


def test_failed_coroutine_is_walked_or_blocks(lupa, lua):
    co = lua.eval("coroutine.create(function(o) local keep = o error('boom') end)")
    o = Obj("failed")
    ok, message = lua.eval("coroutine.resume")(co, o)
    assert ok is False and "boom" in message
    o.co = co
    ref = weakref.ref(o)
    del o, co
    collect(lua)
    assert (ref() is None) == walks_coroutines(lupa, lua)


def test_userdata_used_after_its_finalizer_is_a_lua_error(lupa, lua):
    """A Lua finalizer may keep a userdata whose own finalizer runs in the
    same cycle: using it afterwards is a clear Lua error, not a wrong object
    (before, tostring() of it recursed until Python's recursion limit)."""
    if lupa.LUA_VERSION < (5, 2):
        pytest.skip("Lua 5.1 and LuaJIT call no __gc of tables")
    lua.execute("""
        function keep(o)
            -- marked after o's userdata: finalized before it, so `late` then
            -- holds a userdata whose finalizer runs next
            local holder = setmetatable({}, {__gc = function(self) late = self.o end})
            holder.o = o
        end""")
    lua.globals().keep(Obj("late"))
    collect(lua)
    assert lua.eval("type(late)") == "userdata"
    with pytest.raises(lupa.LuaError, match="deleted python object"):
        lua.eval("tostring(late)")
    ok, message = lua.execute("return pcall(function() return late.payload end)")
    assert ok is False and "deleted python object" in message


def test_not_started_coroutine_is_seen_through(lua):
    make = lua.eval("function(o) return coroutine.create(function() return o end) end")
    refs = []
    for i in range(10):
        o = Obj(i)
        o.co = make(o)
        refs.append(weakref.ref(o))
    del o
    collect(lua)
    assert alive(refs) == 0


def test_nothing_moves_while_lua_gc_is_stopped(lua):
    refs = [make_cycle(lua) for _ in range(10)]
    with lua.nogc():
        gc.collect()
        gc.collect()
        assert alive(refs) == 10
        assert lua.eval("1 + 1") == 2
    collect(lua)
    assert alive(refs) == 0


def test_luajit_ffi_disables_the_scan(lupa, lua):
    if "LuaJIT" not in lua.lua_implementation:
        pytest.skip("LuaJIT only")
    lua.execute("ffi = require('ffi')")
    refs = [make_cycle(lua) for _ in range(10)]
    collect(lua)
    assert alive(refs) == 10  # cdata finalizers are roots the scan cannot see
    assert all(r().table.owner is r() for r in refs)


def test_scan_works_at_the_memory_limit(lupa):
    lua = lupa.LuaRuntime(max_memory=4 * 1024 * 1024)
    refs = [make_cycle(lua, i) for i in range(2000)]
    with pytest.raises(lupa.LuaMemoryError):
        lua.execute("local t = {} for i = 1, 1e7 do t[i] = i end")
    collect(lua)
    assert alive(refs) == 0
    assert lua.get_max_memory() == 4 * 1024 * 1024
    with pytest.raises(lupa.LuaMemoryError):
        lua.execute("local t = {} for i = 1, 1e7 do t[i] = i end")


def test_finalizer_entering_lua_during_the_collection(lua):
    """A Python finalizer that calls into the runtime while the references are
    moved: the runtime moves them back first."""
    calls = []

    class Noisy(object):
        def __del__(self):
            calls.append(lua.eval("40 + 2"))

    t = lua.table()
    x = Obj("x")
    t.x = x  # moved onto t during the collection
    for _ in range(5):
        n = Noisy()
        n.self = n  # garbage with a finalizer
    del n
    gc.collect()
    lua.gccollect()
    assert 42 in calls
    assert id(x) in lua._objects and t.x is x


def test_objects_identity_after_many_collections(lua):
    objs = [Obj(i) for i in range(200)]
    tables = []
    for o in objs:
        t = lua.table()
        t.o = o
        tables.append(t)
    for _ in range(5):
        gc.collect()
        lua.gccollect()
    assert all(t.o is o for t, o in zip(tables, objs))
    assert lua.eval("function(...) return select('#', ...) end")(*objs) == 200


def test_cycles_from_threads_while_runtime_is_busy(lupa):
    """Threads build cycles and collect, others call the same runtime: no
    deadlock, no wrong object, and the cycles are freed in the end."""
    lua = lupa.LuaRuntime()
    lua.execute("function echo(x) return x end")
    echo = lua.globals().echo
    errors, refs, lock = [], [], threading.Lock()

    def builder(k):
        try:
            for i in range(300):
                r = make_cycle(lua, (k, i))
                with lock:
                    refs.append(r)
                if i % 50 == 0:
                    gc.collect()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def caller(k):
        try:
            for i in range(2000):
                o = Obj((k, i))
                t = lua.table()
                t.o = o
                if echo(o) is not o or t.o is not o:
                    errors.append("wrong object")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=builder, args=(k,)) for k in range(3)]
    threads += [threading.Thread(target=caller, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    collect(lua)
    assert alive(refs) == 0


def test_cycles_bounded_without_explicit_collection(lua):
    """Python's own collections (CPython) or the growth trigger (PyPy) keep a
    loop that makes cycles from piling up."""
    most = 0
    for i in range(1, 60001):
        make_cycle(lua)
        if i % 5000 == 0:
            most = max(most, len(lua._objects))
    assert most < 50000


def test_growth_trigger_respects_gc_disable(lua):
    """The runtime's own collection when its Python objects double
    (note_growth) runs only while Python's collector is on."""
    collections = []

    def count(phase, info):
        if phase == "start":
            collections.append(info)

    hooks = getattr(gc, "callbacks", [])  # (PyPy has none: the count stays empty)
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    hooks.append(count)
    try:
        for _ in range(25000):
            make_cycle(lua)
        assert collections == []
        assert len(lua._objects) >= 25000  # nothing freed
    finally:
        hooks.remove(count)
        if enabled:
            gc.enable()
    gc.collect()  # CPython: frees them now that the collector is on
    lua.gccollect()  # PyPy: frees them (before_lua_gc)
    assert len(lua._objects) < 1000


def test_closed_runtime_wrappers_in_cycles(lupa):
    lua = lupa.LuaRuntime()
    refs = [make_cycle(lua) for _ in range(10)]
    rref = weakref.ref(lua)
    del lua
    gc.collect()
    gc.collect()
    assert rref() is None and alive(refs) == 0


# ---- deep in a recursion ---------------------------------------------------------------------
def _something_to_scan(lua):
    t = lua.table()
    t.o = Obj()  # a Python object Lua reaches only through a wrapper
    return t


def test_no_scan_starts_deep_in_a_recursion(lupa, monkeypatch):
    # a scan holds the runtime's lock until it ends; near the recursion limit
    # the call ending it could fail and leave the lock taken for good
    lua = lupa.LuaRuntime()
    keep = _something_to_scan(lua)
    scans = []
    real = _cycles._freeze
    monkeypatch.setattr(_cycles, "_freeze", lambda rt, by_ref: scans.append(rt) or real(rt, by_ref))
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(stack_depth() + _cycles._HEADROOM // 2)
    try:
        assert _cycles.freeze([lua]) == []
    finally:
        sys.setrecursionlimit(old)
    assert scans == []
    frozen = _cycles.freeze([lua])  # with room, it scans
    assert scans == [lua]
    for rt, window in frozen:
        _cycles.thaw(rt, window)
    assert keep.o is not None


def test_the_headroom_test_holds_once_its_probe_is_compiled():
    # PyPy: once the JIT has compiled the probe's calls they take almost no
    # stack, and passed 10 frames short of the limit; the frames are counted
    # too now (on the old test, this failed on PyPy and passed on CPython)
    for _ in range(20000):
        _cycles._has_headroom()
    old = sys.getrecursionlimit()
    try:
        for room in (10, _cycles._HEADROOM // 2, _cycles._HEADROOM - 5):
            sys.setrecursionlimit(stack_depth() + room)
            assert not _cycles._has_headroom(), room
        sys.setrecursionlimit(stack_depth() + 4 * _cycles._HEADROOM)
        assert _cycles._has_headroom()
    finally:
        sys.setrecursionlimit(old)


def test_collections_at_every_depth_leave_the_runtime_usable():
    # (the default backend only: the logic is Python's, and on PyPy each
    # RecursionError near the limit is slow)
    # collections started at every depth up to the recursion limit (some of
    # them fail there): afterwards another thread can still use the runtime
    # (without _has_headroom, PyPy could leave the lock taken: its stack check
    # can fail the very call that releases it)
    lua = lupacffi.LuaRuntime()
    kept = []

    # (PyPy 7.3.11 at its limit may raise "TypeError: couldn't record
    # exception context for exception 'RecursionError'" instead of it)
    def dive(k):
        if k:
            try:
                dive(k - 1)
            except (RecursionError, TypeError):
                pass
        try:
            kept.append(_something_to_scan(lua))
            _cycles.collect_cycles()
        except (RecursionError, TypeError):
            pass

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(stack_depth() + 60)  # (fewer than _HEADROOM: no scan may start)
    try:
        dive(100)
    finally:
        sys.setrecursionlimit(old)
    done = []
    thread = threading.Thread(target=lambda: done.append(lua.eval("1 + 1")), daemon=True)
    thread.start()
    thread.join(30)
    assert done == [2]
    assert all(t.o is not None for t in kept)


def test_freeing_does_not_wait_for_a_lock_left_taken(lupa):
    # a thread that failed to release the runtime's lock (at PyPy's stack
    # limit even the call in a `finally` can fail) must not make the thread
    # that finalizes the runtime wait forever: the runtime is leaked instead
    lua = lupa.LuaRuntime()
    lib, ptr = lua._lib, lua._ptr
    lua._ptr = lua._backend.closed_runtime  # (its finalizer leaves ptr to us)
    lib.lc_lock(ptr)  # left taken by this thread
    done = []

    def free():
        lib.lc_free(ptr)  # what the finalizer does
        done.append(True)

    thread = threading.Thread(target=free, daemon=True)
    thread.start()
    thread.join(30)
    assert done == [True]
    lib.lc_unlock(ptr)
    lib.lc_free(ptr)  # with the lock free, it is freed
