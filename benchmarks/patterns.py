"""Time taken by pathological Lua patterns, per backend (one call each).

    PYTHONPATH=src python3 benchmarks/patterns.py [--max-seconds 20]
    PYTHONPATH=src python3 benchmarks/patterns.py --ordinary 20000

Pattern matching runs inside one C function, where no hook (and so no
execution limit) can stop it.  This measures `s:find(p)` for subjects made of
"a" only (no match, so every start position is tried), at subject lengths
1k / 5k / 20k, and extrapolates the worst case under the sandbox's default
memory limit (64 MiB: a subject of about 64 million bytes) from the growth
rate.  A cell that would take longer than --max-seconds (estimated from the
previous length) is not run but extrapolated and marked "~".  Figures in
docs/sandbox.md."""

import argparse
import importlib
import platform

import lupacffi

LENGTHS = [1000, 5000, 20000]
MEMORY_SUBJECT = 64 * 2**20  # the sandbox's default max_memory, in bytes

# pattern -> its growth with the subject's length n (steps ~ n ** power)
PATTERNS = [(".-b", 2), ("a*b", 2), ("%a-%a-b", 3)]
# exponential: k optional items then k fixed ones, on a subject of k "a"
EXPONENTIAL = [16, 22, 26]


def time_find(lua, subject_len, pattern):
    f = lua.eval(
        "function(n, p) local s = string.rep('a', n) "
        "local t = os.clock() s:find(p) return os.clock() - t end"
    )
    return f(subject_len, pattern)


def cell(seconds, estimated):
    text = (
        "%.3g s" % seconds
        if seconds < 3600
        else (
            "%.3g h" % (seconds / 3600) if seconds < 86400 * 3 else "%.3g days" % (seconds / 86400)
        )
    )
    return ("~" + text) if estimated else text


# Ordinary patterns, the cost of the matcher's step counter (vendor/patch_strlib.py):
# a Lua loop of typical calls, best of 5 runs, CPU seconds.
ORDINARY = """
local line = "2024-05-17 12:34:56 user=alice id=12345 path=/a/b/c.txt status=ok"
local text = string.rep("The quick brown fox jumps over the lazy dog. ", 20)
local n = 0
for i = 1, %d do
  local y, m, d = line:match("^(%%d+)-(%%d+)-(%%d+)")
  for k, v in line:gmatch("(%%w+)=([^%%s]+)") do n = n + #v end
  n = n + select(2, text:gsub("%%a+", "x"))
  n = n + (text:find("lazy", 1, true) or 0) + (text:find("l%%a+y") or 0)
  local s = ("  padded value  "):match("^%%s*(.-)%%s*$")
  n = n + #s + #y
end
return n
"""


def ordinary(iterations):
    print(
        "%s %s; CPU seconds of %d rounds of ordinary pattern calls, best of 5"
        % (platform.python_implementation(), platform.python_version(), iterations)
    )
    for name in lupacffi.available_backends():
        mod = importlib.import_module("lupacffi." + name)
        lua = mod.LuaRuntime()
        f = lua.eval(
            "function(code) local f = assert((loadstring or load)(code)) "
            "local t = os.clock() f() return os.clock() - t end"
        )
        best = min(f(ORDINARY % iterations) for _ in range(5))
        print("%s\t%.4f" % (lua.lua_implementation, best))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-seconds", type=float, default=20.0)
    parser.add_argument(
        "--ordinary",
        type=int,
        metavar="ROUNDS",
        default=0,
        help="time ordinary patterns instead (e.g. 20000 rounds)",
    )
    args = parser.parse_args()
    if args.ordinary:
        return ordinary(args.ordinary)
    print(
        "%s %s; CPU seconds of one s:find(p), s = string.rep('a', n)"
        % (platform.python_implementation(), platform.python_version())
    )
    header = ["pattern"] + ["n = %d" % n for n in LENGTHS] + ["n = 64 Mi (64 MiB limit)"]
    print("| backend | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 1) + "|")
    for name in lupacffi.available_backends():
        mod = importlib.import_module("lupacffi." + name)
        lua = mod.LuaRuntime()
        impl = lua.lua_implementation
        for pattern, power in PATTERNS:
            cells, last = [], None
            for n in LENGTHS:
                if last is not None:
                    guess = last[1] * (n / last[0]) ** power
                    if guess > args.max_seconds:
                        cells.append(cell(guess, True))
                        continue
                t = time_find(lua, n, pattern)
                cells.append(cell(t, False))
                last = (n, max(t, 1e-6))
            worst = last[1] * (MEMORY_SUBJECT / last[0]) ** power
            cells.append(cell(worst, True))
            print("| %s | `%s` | %s |" % (impl, pattern, " | ".join(cells)))
        cells = []
        for k in EXPONENTIAL:
            p = "a?" * k + "a" * k
            cells.append(cell(time_find(lua, k, p), False))
        print(
            "| %s | `a?`x k `a`x k on k `a`, k = %s | %s | (about 2^k: no bound) |"
            % (impl, "/".join(map(str, EXPONENTIAL)), " | ".join(cells))
        )


if __name__ == "__main__":
    main()
