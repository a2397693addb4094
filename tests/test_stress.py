"""Long stress runs (marked slow; CI runs them with `-m slow`).

The thread tests fail on a hang (join timeout), a wrong result or a crash,
never on time.  LUPACFFI_STRESS_SECONDS sets the total length of the
one-runtime hammer (default 60 s, shared between the backends)."""

import gc
import os
import platform
import random
import threading
import time
import weakref

import pytest

import lupacffi
from helpers import JOIN_TIMEOUT, Obj, collect, run_threads
from workloads import hammer

pytestmark = pytest.mark.slow

TOTAL_SECONDS = float(os.environ.get("LUPACFFI_STRESS_SECONDS", "60"))
PER_BACKEND = TOTAL_SECONDS / max(1, len(lupacffi.available_backends()))


def test_hammer_one_runtime_for_a_minute(lupa):
    """Eight threads: calls, tables, callbacks that re-enter the runtime,
    coroutines, wrappers made on one thread and dropped on another."""
    hammer(lupa, seconds=PER_BACKEND, nthreads=8, min_rounds=50)


def test_collector_thread_while_others_work(lupa):
    """One thread does nothing but run Python's and Lua's collectors while
    the others use the runtime: wrappers die at arbitrary moments."""
    lua = lupa.LuaRuntime()
    stop = threading.Event()
    lua.execute("function pack(...) return {...} end")
    pack = lua.globals().pack

    def collector():
        # a short pause between rounds: gc.collect() holds the GIL for its whole
        # run, and over a big heap (a whole test session) back-to-back rounds
        # starve the workers (seen in CI: no deadlock, just no progress)
        n = 0
        while not stop.is_set():
            start = time.monotonic()
            gc.collect()
            lua.gccollect()
            n += 1
            stop.wait(max(0.01, 5 * (time.monotonic() - start)))
        return n

    def worker(tid):
        for i in range(3000):
            t = pack(tid, i, Obj(i))
            assert t[1] == tid and t[2] == i and t[3].payload == i
            assert len(lua.table_from([i] * 10)) == 10
        return tid

    collector_thread = threading.Thread(target=collector, daemon=True)
    collector_thread.start()
    try:
        assert run_threads([(worker, (tid,)) for tid in range(4)]) == list(range(4))
    finally:
        stop.set()
        collector_thread.join(JOIN_TIMEOUT)
    assert not collector_thread.is_alive()


def test_runtimes_made_and_dropped_on_many_threads(lupa):
    """Runtimes created on one thread, used on another and freed on a third."""
    handoff = []
    lock = threading.Lock()
    refs = []

    def producer(k):
        for i in range(150):
            lua = lupa.LuaRuntime()
            lua.globals().obj = Obj(i)
            t = lua.eval("{...}", k, i)
            with lock:
                refs.append(weakref.ref(lua))
                handoff.append((lua, t, k, i))
            del lua, t
        return k

    consumed = []  # one entry per item taken, shared by both consumers

    def consumer():
        # runs until both consumers together took all 300 items (however slow
        # the producers are under load); run_threads' timeout catches a hang
        done = 0
        while True:
            with lock:
                if len(consumed) == 150 * 2:
                    return done
                item = handoff.pop(0) if handoff else None
                if item is not None:
                    consumed.append(1)
            if item is None:
                time.sleep(0.0005)
                continue
            lua, t, k, i = item
            assert t[1] == k and t[2] == i and lua.eval("obj.payload") == i
            del item, lua, t  # freed here, or later on some other thread
            done += 1

    results = run_threads([(producer, (0,)), (producer, (1,)), (consumer, ()), (consumer, ())])
    assert results[2] + results[3] == 300
    collect()
    assert all(r() is None for r in refs)


def test_memory_errors_under_threads(lupa):
    """A runtime with a memory limit, shared by threads that push it over the
    limit now and then: every error is a LuaMemoryError, the runtime stays
    consistent, and the limit holds."""
    limit = 2000000
    lua = lupa.LuaRuntime(max_memory=limit)
    lua.execute("function grab(n) local t = {} for i = 1, n do t[i] = i end return #t end")
    grab = lua.globals().grab

    def worker(seed):
        rnd = random.Random(seed)
        errors = 0
        for _ in range(300):
            n = rnd.choice([10, 1000, 10**5, 10**6])
            try:
                assert grab(n) == n
            except lupa.LuaMemoryError:
                errors += 1
                assert n >= 10**5
                lua.gccollect()
            assert lua.get_memory_used() <= limit
        return errors

    errors = run_threads([(worker, (s,)) for s in range(4)])
    assert sum(errors) > 0
    lua.gccollect()
    assert grab(1000) == 1000


def test_parallel_runtimes_long(lupa):
    def work(k):
        lua = lupa.LuaRuntime()
        lua.globals().f = lambda x: x + k
        run = lua.eval("function(n) local s = 0 for i = 1, n do s = s + f(i) end return s end")
        for rnd in range(10):
            n = 3000 + rnd
            assert run(n) == n * (n + 1) // 2 + n * k
        return k

    assert run_threads([(work, (k,)) for k in range(8)]) == list(range(8))


def test_million_cycles_stay_flat(lupa):
    """Builds Python object <-> Lua table cycles up to a million times; memory
    must stay flat.  Stops early once growth shows.  (PyPy: 200,000, still
    ten scans started by growth alone; each of its scans looks at the whole
    Python heap, which in a test session is large: a million took minutes.)"""
    lua = lupa.LuaRuntime()
    cycles = 2 * 10**5 if platform.python_implementation() == "PyPy" else 10**6

    def full():
        for _ in range(2):
            gc.collect()
            lua.gccollect()

    full()
    base = lua.get_memory_used()
    for i in range(1, cycles + 1):
        o = Obj()
        t = lua.table()
        t.owner = o
        o.table = t
        if i % 20000 == 0:
            del o, t
            full()
            assert lua.get_memory_used() < base + 4 * 1024 * 1024, "after %d cycles" % i
