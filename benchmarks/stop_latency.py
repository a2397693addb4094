"""How late a time limit and interrupt() stop an endless Lua loop, per backend.

    PYTHONPATH=src python3 benchmarks/stop_latency.py [--runs 20] [--budget 0.2]
    PYTHONPATH=src /work/venv-pypy/bin/python benchmarks/stop_latency.py

For each built backend: `while true do end` (and a loop inside pcall) under a
max_time budget; latency = elapsed time - budget, until LuaLimitError reaches
Python.  Then interrupt(): a worker thread runs the loop, the main thread
calls interrupt() and measures until the worker has the LuaInterrupted.
Prints mean / worst in milliseconds (figures in docs/sandbox.md)."""

import argparse
import importlib
import platform
import statistics
import threading
import time

import lupacffi
from lupacffi.errors import LuaInterrupted, LuaLimitError

LOOPS = ["while true do end", "while true do pcall(function() while true do end end) end"]


def limit_latency(mod, budget, runs):
    lua = mod.LuaRuntime(max_time=budget)
    late = []
    for k in range(runs):
        code = LOOPS[k % len(LOOPS)]
        t = time.perf_counter()
        try:
            lua.execute(code)
        except LuaLimitError:
            late.append(time.perf_counter() - t - budget)
        else:
            raise AssertionError("not stopped")
    return late


def interrupt_latency(mod, runs):
    lua = mod.LuaRuntime(max_time=3600)  # limits: LuaJIT runs interpreted
    late = []
    for k in range(runs):
        started, done = threading.Event(), threading.Event()
        errors = []

        def work():
            try:
                lua.execute("local started = ... started() " + LOOPS[k % len(LOOPS)], started.set)
            except LuaInterrupted as e:
                errors.append(e)
            done.set()

        threading.Thread(target=work, daemon=True).start()
        started.wait()
        time.sleep(0.01)
        t = time.perf_counter()
        lua.interrupt()
        done.wait()
        late.append(time.perf_counter() - t)
        assert errors, "not interrupted"
    return late


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--budget", type=float, default=0.2)
    args = parser.parse_args()
    print(
        "%s %s; %d runs; budget %.2f s; mean / worst in ms"
        % (platform.python_implementation(), platform.python_version(), args.runs, args.budget)
    )
    print("| backend | time limit: mean / worst | interrupt(): mean / worst |")
    print("|---|---|---|")
    for name in lupacffi.available_backends():
        mod = importlib.import_module("lupacffi." + name)
        a = limit_latency(mod, args.budget, args.runs)
        b = interrupt_latency(mod, args.runs)
        print(
            "| %s | %.2f / %.2f | %.2f / %.2f |"
            % (
                mod.LuaRuntime().lua_implementation,
                statistics.mean(a) * 1e3,
                max(a) * 1e3,
                statistics.mean(b) * 1e3,
                max(b) * 1e3,
            )
        )


if __name__ == "__main__":
    main()
