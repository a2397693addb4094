"""Leak check of the shim's own allocations, run by scripts/sanitize.sh under
LeakSanitizer (ASAN_OPTIONS=detect_leaks=1) against the sanitizer build.

    python fuzz/leak_check.py [CYCLES]       # work; LSan reports at exit
    python fuzz/leak_check.py --report LOG... # which leaks were allocated by a lupacffi module

The work: per backend, CYCLES runtimes created, used (tables, callbacks, Python
objects held by Lua, coroutines left suspended, errors, a memory limit hit)
and dropped.  Python itself leaks at exit, so the report keeps only leaks
with a frame in a lupacffi module (the shim or the Lua inside it): with
CYCLES runtimes any leak per runtime shows up CYCLES times.
"""

import gc
import importlib
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def work(cycles):
    import lupacffi

    for name in lupacffi.available_backends():
        lupa = importlib.import_module("lupacffi." + name)
        for i in range(cycles):
            lua = lupa.LuaRuntime(max_memory=1 << 22)
            lua.globals().cb = lambda *a: a
            lua.globals().obj = object()
            t = lua.eval("{cb(1, 2), obj, {...}}", i, "x" * i)
            assert t[2] is lua.globals().obj
            co = lua.eval("coroutine.create(function(...) coroutine.yield(...) end)")(i)
            next(co)  # left suspended
            try:
                lua.execute("error({})")
            except lupa.LuaError:
                pass
            try:
                lua.execute("local t = {} for i = 1, 1e7 do t[i] = i end")
            except lupa.LuaMemoryError:
                pass
            try:
                lua.execute("cb(nil) python.none = nil error(obj)")
            except lupa.LuaError:
                pass
            del lua, t, co
            if i % 50 == 0:
                gc.collect()
        gc.collect()
        print("%s: %d runtimes" % (name, cycles))


LEAK = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\)", re.M)


def report(paths):
    """Prints the leaks allocated from a lupacffi module; exit status 1 if any."""
    ours = []
    total = 0
    for path in paths:
        with open(path, errors="replace") as f:
            text = f.read()
        blocks = LEAK.split(text)
        # split() gives [head, kind, bytes, objects, body, kind, bytes, objects, body, ...]
        for k in range(1, len(blocks) - 3, 4):
            kind, nbytes, nobjects, body = blocks[k : k + 4]
            total += 1
            stack = body.split("\n\n")[0]
            if "_lua_" in stack or "/csrc/" in stack or "/vendor/lua" in stack:
                ours.append(
                    "%s leak of %s bytes in %s objects:%s" % (kind, nbytes, nobjects, stack)
                )
    print(
        "leak check: %d leak records in %d report(s), %d from lupacffi's C code"
        % (total, len(paths), len(ours))
    )
    for leak in ours:
        print(leak)
    return 1 if ours else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--report"]:
        sys.exit(report(sys.argv[2:]))
    work(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
