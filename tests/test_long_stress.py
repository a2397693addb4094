"""A long mixed stress run with a memory check: RSS after warm-up and at the end.

    bash scripts/stress.sh SECONDS          (or: python tests/test_long_stress.py --seconds N)

Runs, all at once for SECONDS: on one shared runtime per backend, threads
doing test_threads' hammer rounds (callbacks re-entering the runtime,
coroutines, wrappers dropped on other threads, an atomic counter) and
test_identity_stress' identity steps; threads that keep making short-lived
runtimes of every backend with a memory limit they hit now and then; and a
collector thread running Python's and Lua's collectors.  Every result is
checked as it comes.  Memory: the process RSS and the shared runtimes' Lua
memory, the bytes in use in malloc and the number of Python objects are
measured (after full collections) when the warm-up ends and at the end; the
end may exceed the warm-up figures only by the tolerances below.  The short version below is marked slow (CI runs it).
"""

import ctypes
import gc
import importlib
import os
import platform
import random
import sys
import threading
import time

import pytest

import lupacffi
from helpers import JOIN_TIMEOUT, Obj, collect, run_threads
from workloads import Stress, hammer_thread, setup_hammer, setup_step

# The precise checks are on live memory: Python objects, bytes malloc has
# handed out (glibc's mallinfo2: the shim's and Lua's C memory) and each
# shared runtime's Lua memory.  RSS also counts memory the allocators keep
# after it was freed (pymalloc arenas, glibc arenas of many threads): it
# drifts upward (RELIABILITY.md has the figures), so its bound only catches
# gross leaks: RSS at the end <= RSS after warm-up * RSS_FACTOR + RSS_SLACK.
IS_PYPY = platform.python_implementation() == "PyPy"
RSS_FACTOR = 2.0
RSS_SLACK = 64 * 1024 * 1024
MALLOC_SLACK = 8 * 1024 * 1024
WARMUP = 0.5 if IS_PYPY else 0.25  # part of the run (PyPy's JIT warms up longer)
# bytes of Lua memory in a shared runtime, after gccollect(); on PyPy up to
# 0.6 MiB more were seen after 40 s (wrappers released late; RELIABILITY.md)
LUA_SLACK = (2048 if IS_PYPY else 256) * 1024
OBJECTS_SLACK = 20000  # objects known to Python's collector (gc.get_objects())


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
    ]


def malloc_in_use():
    """Bytes handed out by glibc's malloc, all arenas (None elsewhere), less
    what PyPy's own collector holds there (its arenas, nursery and large
    objects: their size follows the collector's heuristics, not the live
    objects, and varies by more than the slack between two full collections)."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    in_use = info.uordblks + info.hblkhd
    if IS_PYPY:
        in_use -= gc.get_stats()._s.total_allocated_memory
    return in_use


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def full_collect(runtimes):
    # several rounds: on PyPy a wrapper's finalizer releases its Lua value
    # only on the runtime's next operation, and finalizers can free others
    for _ in range(4):
        collect()
        for lua in runtimes:
            lua.gccollect()


def separate_runtimes_worker(modules, seed, stop):
    """Short-lived runtimes with a memory limit: callbacks, coroutines,
    identity, memory errors; each dropped on this thread or kept for a while."""
    rnd = random.Random(seed)
    kept = []
    rounds = 0
    while not stop.is_set():
        lupa = rnd.choice(modules)
        lua = lupa.LuaRuntime(max_memory=rnd.choice([1 << 20, 4 << 20]))
        obj = Obj(rounds)
        lua.globals().cb = lambda x: (x, obj)
        f = lua.eval("function(n) local t = {} for i = 1, n do t[i] = cb(i) end return t, #t end")
        t, n = f(50)
        assert n == 50 and t[50] == (50, obj) and t[50][1] is obj
        co = lua.eval("function(a) while true do a = coroutine.yield(a * 2) end end").coroutine(1)
        assert next(co) == 2 and co.send(5) == 10
        try:
            lua.execute("local t = {} for i = 1, 1e7 do t[i] = {} end")
            raise AssertionError("the memory limit did not hold")
        except lupa.LuaMemoryError:
            pass
        assert lua.eval("1 + 1") == 2  # still usable after the memory error
        if rnd.random() < 0.3:
            kept.append((lua, co))  # dropped later, maybe after its runtime object
            if len(kept) > 5:
                kept.pop(rnd.randrange(len(kept)))
        del lua, f, t, co, obj
        rounds += 1
        if IS_PYPY and rounds % 10 == 0:
            # PyPy does not collect dropped runtimes by itself: finding 1 in
            # test_fuzz_regressions.py, which tests it; here it would only hide
            # the rest of the memory figures
            gc.collect()
    return rounds


def shared_hammer_worker(lua, tid, stop, dropbox, counts):
    rounds = 0
    while not stop.is_set():
        counts[tid] = counts.get(tid, 0) + hammer_thread(lua, tid, 0.0, 10, dropbox)
        rounds += 1
    return rounds


def identity_worker(lua, seed, stop):
    stress = Stress(
        seed=seed, slots=list(range(seed * 100, seed * 100 + 20)), next_serial=seed * 10**9
    )
    step, clear = setup_step(lua, stress)
    i = 0
    while not stop.is_set():
        stress.one_step(step, i)
        i += 1
    clear()
    assert stress.wrong == [], stress.wrong[:3]
    return stress.checked


def collector(runtimes, stop):
    rounds = 0
    while not stop.is_set():
        start = time.monotonic()
        gc.collect()
        for lua in runtimes:
            lua.gccollect()
        rounds += 1
        # pauses between rounds: gc.collect() holds the GIL all the while
        stop.wait(max(0.05, 5 * (time.monotonic() - start)))
    return rounds


def run_stress(seconds, threads_per_kind=2, log=print):
    """Runs the mix for `seconds` and returns the figures; raises on any error."""
    modules = [
        importlib.import_module("lupacffi." + name) for name in lupacffi.available_backends()
    ]
    shared = []
    for lupa in modules:
        lua = lupa.LuaRuntime(unpack_returned_tuples=True)
        setup_hammer(lua)
        shared.append(lua)
    counts = [dict() for _ in shared]
    dropboxes = [[] for _ in shared]

    def phase(duration, seed):
        stop = threading.Event()
        targets = [(collector, (shared, stop))]
        for k in range(threads_per_kind):
            targets.append((separate_runtimes_worker, (modules, seed * 100 + k, stop)))
            lua_index = (seed + k) % len(shared)
            targets.append(
                (
                    shared_hammer_worker,
                    (shared[lua_index], k, stop, dropboxes[lua_index], counts[lua_index]),
                )
            )
            targets.append(
                (identity_worker, (shared[(seed + k + 1) % len(shared)], seed * 10 + k + 1, stop))
            )
        timer = threading.Timer(duration, stop.set)
        timer.start()
        try:
            return run_threads(targets, timeout=duration + JOIN_TIMEOUT)
        finally:
            stop.set()
            timer.cancel()

    def measure():
        for box in dropboxes:
            del box[:]
        full_collect(shared)
        return (
            rss(),
            len(gc.get_objects()),
            malloc_in_use(),
            [lua.get_memory_used() for lua in shared],
        )

    start = time.monotonic()
    warmup = max(1.0, seconds * WARMUP)
    figures = {"seconds": seconds, "rss_start": rss()}
    results = phase(warmup, 1)
    figures["rss_warm"], figures["objects_warm"], figures["malloc_warm"], lua_warm = measure()
    log(
        "warm-up done after %.0f s: RSS %.1f MiB"
        % (time.monotonic() - start, figures["rss_warm"] / 2**20)
    )
    totals = [0] * len(results)
    # the rest in several phases, each with the threads on other runtimes
    phases = max(1, int((seconds - warmup) // 30))
    for p in range(phases):
        results = phase((seconds - warmup) / phases, p + 2)
        totals = [a + b for a, b in zip(totals, results)]
        log("phase %d/%d: RSS %.1f MiB" % (p + 1, phases, rss() / 2**20))
    figures["rss_end"], figures["objects_end"], figures["malloc_end"], lua_end = measure()
    figures["elapsed"] = time.monotonic() - start
    figures["separate_runtimes"] = sum(totals[1::3])
    figures["identity_checks"] = sum(totals[3::3])
    figures["collector_rounds"] = totals[0]
    for lua, box_counts in zip(shared, counts):
        assert lua.eval("counter") == sum(box_counts.values())  # every incr() was atomic
    figures["increments"] = sum(sum(c.values()) for c in counts)
    limit = figures["rss_warm"] * RSS_FACTOR + RSS_SLACK

    def mib(n):
        return "?" if n is None else "%.1f" % (n / 2**20)

    log(
        "RSS: start %s MiB, after warm-up %s MiB, end %s MiB (limit %s MiB); malloc in use %s -> %s MiB; "
        "Python objects %d -> %d; %d short-lived runtimes, %d identity checks, %d atomic increments, "
        "%d collector rounds"
        % (
            mib(figures["rss_start"]),
            mib(figures["rss_warm"]),
            mib(figures["rss_end"]),
            mib(limit),
            mib(figures["malloc_warm"]),
            mib(figures["malloc_end"]),
            figures["objects_warm"],
            figures["objects_end"],
            figures["separate_runtimes"],
            figures["identity_checks"],
            figures["increments"],
            figures["collector_rounds"],
        )
    )
    # a leak of one object per operation would be millions of objects
    assert figures["objects_end"] <= figures["objects_warm"] + OBJECTS_SLACK, (
        "Python objects: %r" % figures
    )
    if figures["malloc_warm"] is not None:
        assert figures["malloc_end"] <= figures["malloc_warm"] + MALLOC_SLACK, (
            "malloc: %r" % figures
        )
    assert figures["rss_end"] <= limit, "RSS grew: %r" % figures
    for name, before, after in zip(lupacffi.available_backends(), lua_warm, lua_end):
        assert after <= before + LUA_SLACK, "Lua memory of the shared %s runtime grew: %d -> %d" % (
            name,
            before,
            after,
        )
    return figures


@pytest.mark.slow
def test_long_stress_short_version():
    figures = run_stress(float(os.environ.get("LUPACFFI_LONG_STRESS_SECONDS", "40")))
    assert figures["separate_runtimes"] > 0 and figures["identity_checks"] > 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument(
        "--threads", type=int, default=2, help="threads of each kind (x3, plus a collector)"
    )
    opts = parser.parse_args()
    print(
        "lupacffi %s on %s %s, backends %s"
        % (
            lupacffi.__version__,
            sys.implementation.name,
            sys.version.split()[0],
            ", ".join(lupacffi.available_backends()),
        )
    )
    run_stress(opts.seconds, opts.threads, log=lambda s: print(s, flush=True))
    print("stress: no error")
