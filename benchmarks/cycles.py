"""Memory of a loop that builds reference cycles through Lua and Python:
Python object -> wrapper -> Lua table -> the Python object.

    PYTHONPATH=src python benchmarks/cycles.py [--cycles 1000000] [--backend lua54]

Prints, every tenth of the run, the Lua memory of the runtime, the Python
objects it holds for Lua and the process's RSS, with no explicit collection
(Python's own collections, or on PyPy the runtime's growth trigger, do the
work); then the same after gc.collect() and gccollect().  See
src/lupacffi/_cycles.py.
"""

import argparse
import gc
import importlib
import platform
import time


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class Obj(object):
    pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=1000000)
    parser.add_argument("--backend", default="lua54")
    args = parser.parse_args()
    lupa = importlib.import_module("lupacffi." + args.backend)
    lua = lupa.LuaRuntime()
    print(
        "%s %s, %s, %d cycles"
        % (
            platform.python_implementation(),
            platform.python_version(),
            lua.lua_implementation,
            args.cycles,
        )
    )
    print("%10s %12s %14s %9s %7s" % ("cycles", "Lua KiB", "Python objs", "RSS MiB", "s"))
    start = time.monotonic()
    step = max(1, args.cycles // 10)
    for i in range(1, args.cycles + 1):
        o = Obj()
        t = lua.table()
        t.owner = o
        o.table = t
        if i % step == 0:
            print(
                "%10d %12d %14d %9.1f %7.1f"
                % (
                    i,
                    lua.get_memory_used() // 1024,
                    len(lua._objects),
                    rss_mib(),
                    time.monotonic() - start,
                )
            )
    del o, t
    for _ in range(2):
        gc.collect()
        lua.gccollect()
    print(
        "%10s %12d %14d %9.1f %7.1f"
        % (
            "collected",
            lua.get_memory_used() // 1024,
            len(lua._objects),
            rss_mib(),
            time.monotonic() - start,
        )
    )


if __name__ == "__main__":
    main()
