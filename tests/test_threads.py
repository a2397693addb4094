"""Threads: runtimes in parallel threads, one runtime shared by many threads,
and wrappers freed on any thread at any moment.

No test asserts on time.  A thread that does not finish within a generous
join timeout counts as a deadlock and fails the test (threads are daemons, so
a hung one cannot keep the test process alive)."""

import gc
import threading
import time
import weakref

from helpers import JOIN_TIMEOUT, Obj, collect, run_threads
from workloads import hammer


# ---------------------------------------------------------------------------
# 1. parallel runtimes
def _runtime_work(lupa, k):
    lua = lupa.LuaRuntime()
    calls = []

    def weight(i):  # a callback into Python
        calls.append(i)
        return i % 7

    lua.globals().weight = weight
    work = lua.eval("""function(n, k)
        local s = 0
        for i = 1, n do s = s + (i * k) % 13 end
        local w = 0
        for i = 1, 200 do w = w + weight(i) end
        local t = {}
        for i = 1, 1000 do t[i] = i * k end
        return s, w, #t, t[1000]
    end""")
    out = []
    for rnd in range(5):
        n = 20000 + rnd
        out.append(work(n, k))
        expected = (
            sum((i * k) % 13 for i in range(1, n + 1)),
            sum(i % 7 for i in range(1, 201)),
            1000,
            1000 * k,
        )
        assert out[-1] == expected
    assert len(calls) == 5 * 200
    return k


def test_parallel_runtimes(lupa):
    n = 6
    results = run_threads([(_runtime_work, (lupa, k)) for k in range(1, n + 1)])
    assert results == list(range(1, n + 1))


def test_parallel_runtimes_of_every_backend():
    """Runtimes of different backends at once, in separate threads."""
    import importlib
    import lupacffi

    modules = [
        importlib.import_module("lupacffi." + name) for name in lupacffi.available_backends()
    ]
    targets = [(_runtime_work, (m, k)) for k, m in enumerate(modules * 2, 1)]
    assert run_threads(targets) == list(range(1, len(targets) + 1))


# ---------------------------------------------------------------------------
# 2. one runtime, many threads
def test_one_runtime_many_threads(lupa):
    hammer(lupa, seconds=1.0)


def test_waiting_thread_does_not_block_callbacks(lupa):
    """Thread A is inside Lua and calls Python again and again; thread B keeps
    trying to enter the same runtime.  If B waited for the runtime while
    holding the GIL, A's next callback could never run: deadlock."""
    lua = lupa.LuaRuntime()
    inside = threading.Event()
    ticks = []

    def tick(i):
        inside.set()
        ticks.append(i)
        time.sleep(0.001)  # B is now likely waiting for the lock

    lua.globals().tick = tick
    loop = lua.eval("function(n) for i = 1, n do tick(i) end return n end")

    def a():
        return loop(300)

    def b():
        inside.wait(JOIN_TIMEOUT)
        return [lua.eval("1 + ...", k) for k in range(300)]

    ra, rb = run_threads([(a, ()), (b, ())])
    assert ra == 300 and ticks == list(range(1, 301))
    assert rb == [1 + k for k in range(300)]


def test_callback_reenters_same_runtime_while_others_wait(lupa):
    """A callback running on one thread may call into its runtime (re-entrant
    lock) while other threads are blocked on that lock."""
    lua = lupa.LuaRuntime()
    lua.execute("function add(a, b) return a + b end")
    add = lua.globals().add

    def nested(depth):
        if depth == 0:
            return 0
        return add(lua.eval("function(f, d) return f(d) end")(nested, depth - 1), 1)

    lua.globals().nested = nested
    outer = lua.eval("function(d) return nested(d) end")
    results = run_threads([(lambda: [outer(10) for _ in range(20)], ()) for _ in range(4)])
    assert results == [[10] * 20] * 4


def test_coroutine_resumed_from_several_threads(lupa):
    """One coroutine handed from thread to thread keeps its state."""
    lua = lupa.LuaRuntime()
    co = lua.eval(
        "function() local i = 0 while true do i = i + 1 coroutine.yield(i) end end"
    ).coroutine()
    lock = threading.Lock()
    seen = []

    def worker():
        for _ in range(200):
            with lock:  # send() and append in one step
                seen.append(next(co))

    run_threads([(worker, ()) for _ in range(4)])
    assert seen == list(range(1, 801))


def test_many_threads_share_a_table(lupa):
    lua = lupa.LuaRuntime()
    t = lua.table()

    def writer(tid):
        for i in range(500):
            t["%d:%d" % (tid, i)] = i
            assert t["%d:%d" % (tid, i)] == i
        return tid

    run_threads([(writer, (tid,)) for tid in range(8)])
    assert len(list(t.keys())) == 8 * 500
    assert sum(t.values()) == 8 * sum(range(500))


# ---------------------------------------------------------------------------
# 3. freeing from anywhere
def test_wrappers_dropped_on_other_thread_while_lua_runs(lupa):
    """Thread A sits inside Lua (in a callback, so holding the runtime lock)
    until thread B has dropped many wrappers of that runtime: dropping must
    not wait for the runtime."""
    lua = lupa.LuaRuntime()
    wrappers = [lua.eval("{...}", i) for i in range(2000)]
    lua.execute("weak = setmetatable({}, {__mode = 'v'})")
    weak = lua.globals().weak
    for i, w in enumerate(wrappers, 1):
        weak[i] = w
    del w
    dropped = threading.Event()

    def wait_for_drop():
        assert dropped.wait(JOIN_TIMEOUT), "dropping wrappers blocked"
        return "done"

    lua.globals().wait_for_drop = wait_for_drop
    inside = threading.Event()
    lua.globals().mark_inside = inside.set
    run = lua.eval("function() mark_inside() return wait_for_drop() end")

    def a():
        return run()

    def b():
        assert inside.wait(JOIN_TIMEOUT)
        del wrappers[:]
        collect()
        dropped.set()

    assert run_threads([(a, ()), (b, ())])[0] == "done"
    lua.gccollect()  # drains the queue, then collects
    assert lua.eval("next(weak)") is None


def test_wrappers_dropped_inside_callback(lupa):
    lua = lupa.LuaRuntime()
    keep = [lua.eval("{...}", i) for i in range(500)]
    lua.execute("weak = setmetatable({}, {__mode = 'k'})")
    for w in keep:
        lua.globals().weak[w] = True
    del w

    def cb():
        del keep[:]  # last references, released inside Lua
        collect()
        made = [lua.table(i) for i in range(100)]  # and more made and dropped
        assert [m[1] for m in made] == list(range(100))
        return len(made)

    lua.globals().cb = cb
    assert lua.eval("cb()") == 100
    lua.gccollect()
    assert lua.eval("next(weak)") is None


def test_runtime_dropped_while_wrappers_live(lupa):
    """A wrapper keeps its runtime (and the Lua state) alive."""
    lua = lupa.LuaRuntime()
    t = lua.eval("{10, 20, 30, name = 'n'}")
    f = lua.eval("function(x) return x * 2 end")
    co = lua.eval("function() coroutine.yield(1) coroutine.yield(2) end").coroutine()
    r = weakref.ref(lua)
    del lua
    gc.collect()
    assert r() is not None
    assert t[2] == 20 and t.name == "n" and len(t) == 3
    t[4] = 40
    assert sorted(t.values(), key=str) == sorted([10, 20, 30, 40, "n"], key=str)
    assert f(21) == 42
    assert next(co) == 1
    del t, f, co
    collect()
    assert r() is None


def test_last_runtime_reference_dropped_on_other_thread(lupa):
    lua = lupa.LuaRuntime()
    held = Obj("held by Lua")
    lua.globals().held = held
    w_held = weakref.ref(held)
    del held
    r = weakref.ref(lua)
    box = [lua]
    del lua

    def drop():
        box[0].execute("x = 1")
        del box[:]  # the last reference: freed on this thread
        collect()
        return r() is None

    assert run_threads([(drop, ())]) == [True]
    collect()
    assert w_held() is None


def test_runtime_dropped_by_main_while_thread_is_inside(lupa):
    """The main thread drops its references while a thread is inside Lua;
    the runtime lives until that thread is done, and is freed there."""
    lua = lupa.LuaRuntime()
    inside, go_on = threading.Event(), threading.Event()
    lua.globals().enter = inside.set
    lua.globals().wait = lambda: go_on.wait(JOIN_TIMEOUT)
    func = lua.eval(
        "function() enter() wait() local t = {} for i = 1, 1000 do t[i] = i end return #t end"
    )
    r = weakref.ref(lua)
    results = []

    def worker(f):
        results.append(f())

    th = threading.Thread(target=worker, args=(func,), daemon=True)
    del lua, func
    th.start()
    assert inside.wait(JOIN_TIMEOUT)
    gc.collect()
    assert r() is not None  # the thread's function keeps it alive
    go_on.set()
    th.join(JOIN_TIMEOUT)
    assert not th.is_alive()
    assert results == [1000]
    collect()
    assert r() is None


def test_wrappers_of_many_runtimes_freed_by_other_threads(lupa):
    runtimes = [lupa.LuaRuntime() for _ in range(4)]
    wrappers = [[rt.eval("{...}", i) for i in range(300)] for rt in runtimes]
    refs = [weakref.ref(rt) for rt in runtimes]
    del runtimes

    def drop(k):
        del wrappers[k][:]
        gc.collect()

    run_threads([(drop, (k,)) for k in range(4)])
    collect()
    assert all(r() is None for r in refs)
