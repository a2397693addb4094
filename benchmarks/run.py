#!/usr/bin/env python3
"""Benchmarks lupacffi against lupa, in one run and one interpreter.

    python benchmarks/run.py [--quick] [--filter NAME] [--backend 54|jit21]
                             [--lib lupacffi|lupa] [--rounds N] [--json FILE]

Both libraries must be importable (benchmarks/run.sh makes venvs where they
are).  For each benchmark and backend, every library is set up and warmed up
(long enough for PyPy's JIT), then timed in alternating rounds (lupacffi,
lupa, lupacffi, lupa, ...), each round one batch of n operations timed with
time.perf_counter_ns.  Printed: the median ns per operation of each library
and the ratio lupacffi/lupa.
"""

import argparse
import faulthandler
import gc
import importlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIBS = ("lupacffi", "lupa")
FLOOR = "floor"  # the bare cffi call of a crossing case (cases.floor), timed with them
FRAME = "frame"  # that call inside the least a pure-Python wrapper does (cases.frame_floor)
FLOORS = (FLOOR, FRAME)
BACKENDS = {"54": "lua54", "jit21": "luajit21"}
IS_PYPY = platform.python_implementation() == "PyPy"

# target of the ratio lupacffi/lupa per kind of benchmark (issue 6), and
# per benchmark where the CPython crossing issue (15) set one
if IS_PYPY:
    TARGETS = {
        "crossing": 0.10,
        "bulk": 0.10,
        "compute": None,
        "resume_in_lua": None,
        "call_3results": None,  # (paths issue 15 does not name: tracked, no target)
        "items_small": None,
        "call_1int": 0.15,
        "getitem": 0.15,
        "setitem": 0.15,
    }
else:
    TARGETS = {
        "crossing": 1.0,
        "bulk": 1.0,
        "compute": 1.0,
        "call_1int": 1.25,
        "getitem": 1.25,
        "getitem_str": 1.25,
        "eval_small": 1.25,
        "callback": 1.5,
        "coroutine_send": 1.5,
        "call_5mixed": 1.5,
        "setitem": 2.0,
        "py_attr": 2.0,
        "wrappers_10k": 2.0,
        "runtime_cycle": 2.0,
        "resume_in_lua": None,  # (a measure of Lua itself, for coroutine_send's bound)
        "call_3results": None,  # (paths issue 15 does not name: tracked, no target)
        "items_small": None,
    }


def target_of(case):
    return TARGETS.get(case.name, TARGETS[case.kind])


def load_cases(lib):
    """cases.py as a module of its own for each library (own code objects)."""
    spec = importlib.util.spec_from_file_location(
        "bench_cases_" + lib, os.path.join(HERE, "cases.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Settings(object):
    def __init__(self, quick, rounds=None):
        self.rounds = rounds or (3 if quick else 11)
        self.batch_ns = (10 if quick else 40) * 10**6  # aim of one timed batch
        # warm-up per library and benchmark: long on PyPy, for the JIT
        if IS_PYPY:
            self.warmup_ns = (300 if quick else 1000) * 10**6
        else:
            self.warmup_ns = (20 if quick else 100) * 10**6
        self.budget_ns = (2 if quick else 8) * 10**9  # cap for the slow ones


def timed(run, n):
    """(wall ns, process CPU ns) of run(n)."""
    gc.collect()
    c0 = time.process_time_ns()
    t0 = time.perf_counter_ns()
    run(n)
    t1 = time.perf_counter_ns()
    return t1 - t0, time.process_time_ns() - c0


def warm_up(run, settings):
    """Runs batches of growing size until the warm-up time is spent; returns
    wall ns per run(1) of the last batch."""
    n, spent, per_op = 1, 0, None
    while True:
        t = timed(run, n)[0]
        spent += t
        per_op = t / n
        if spent >= settings.warmup_ns:
            return per_op
        n *= 2
        # do not overshoot the warm-up by much with the next batch
        n = max(1, min(n, int((settings.warmup_ns - spent) / max(per_op, 1)) + 1))


def _summary(values):
    return {
        "median_ns": statistics.median(values),
        "min_ns": min(values),
        "max_ns": max(values),
        "samples_ns": values,
    }


def measure(case_by_lib, modules, settings):
    """Times one benchmark for each library; returns {lib: result dict}."""
    runs, results = {}, {}
    for lib, module in modules.items():
        try:
            runs[lib] = case_by_lib[lib].func(module)
        except Exception as e:  # a broken case must not stop the suite
            results[lib] = {"error": "setup: %s: %s" % (type(e).__name__, e)}
    ns = {}
    for lib in list(runs):
        try:
            per_op = warm_up(runs[lib], settings)
            ns[lib] = max(1, int(settings.batch_ns / max(per_op, 1)))
        except Exception as e:
            results[lib] = {"error": "%s: %s" % (type(e).__name__, e)}
            del runs[lib]
    if not runs:
        return results
    # slow benchmarks: fewer rounds, but at least 3
    one_round = sum(timed(runs[lib], ns[lib])[0] for lib in runs)
    rounds = settings.rounds
    if one_round * rounds > settings.budget_ns:
        rounds = max(3, int(settings.budget_ns / one_round))
    unit = next(iter(case_by_lib.values())).unit
    wall = {lib: [] for lib in runs}
    cpu = {lib: [] for lib in runs}
    for _ in range(rounds):
        for lib in LIBS + FLOORS:
            if lib not in runs:
                continue
            try:
                w, c = timed(runs[lib], ns[lib])
            except Exception as e:
                results[lib] = {"error": "%s: %s" % (type(e).__name__, e)}
                del runs[lib]
                continue
            wall[lib].append(w / (ns[lib] * unit))
            cpu[lib].append(c / (ns[lib] * unit))
    for lib in runs:
        results[lib] = {
            "n": ns[lib],
            "rounds": rounds,
            "wall": _summary(wall[lib]),
            "cpu": _summary(cpu[lib]),
        }
    return results


def fmt_ratio(value):
    return "-" if value is None else "%.3f" % value


def fmt_ns(value):
    if value is None:
        return "-"
    if value >= 100:
        return "{:,.0f}".format(value)
    return "{:.1f}".format(value)


def machine_info():
    info = {"nproc": os.cpu_count(), "cpu": platform.processor() or "?"}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["python"] = "%s %s" % (platform.python_implementation(), platform.python_version())
    if IS_PYPY:
        info["python"] += " (PyPy %s)" % ".".join(map(str, sys.pypy_version_info[:3]))
    info["executable"] = sys.executable
    info["loadavg_start"] = loadavg()
    return info


def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def library_info(modules_by_backend):
    info = {}
    import lupa
    import lupacffi

    info["lupa"] = getattr(lupa, "__version__", "?")
    info["lupa_path"] = os.path.dirname(lupa.__file__)
    info["lupacffi"] = getattr(lupacffi, "__version__", "?")
    info["lupacffi_path"] = os.path.dirname(lupacffi.__file__)
    try:
        commit = (
            subprocess.check_output(
                ["git", "-C", ROOT, "describe", "--always", "--dirty"], stderr=subprocess.DEVNULL
            )
            .decode()
            .strip()
        )
        info["lupacffi_commit"] = commit
    except (OSError, subprocess.CalledProcessError):
        pass
    for backend, modules in modules_by_backend.items():
        for lib, module in modules.items():
            try:
                impl = module.LuaRuntime().lua_implementation
            except Exception:
                impl = getattr(module, "LUA_VERSION", "?")
            info["%s.%s" % (lib, BACKENDS[backend])] = str(impl)
    return info


def markdown_table(meta, rows, speedups, clock):
    m, lib = meta["machine"], meta["libraries"]
    lines = [
        "%s; lupa %s, lupacffi %s (%s); ns per operation by the %s clock "
        "(threaded: wall), medians; the target is checked on the ratio by that clock"
        % (
            m["python"],
            lib["lupa"],
            lib["lupacffi"],
            lib.get("lupacffi_commit", "?"),
            "wall" if clock == "wall" else "CPU",
        ),
        "",
        "| benchmark | Lua | lupacffi ns | lupa ns | floor ns | frame floor ns "
        "| ratio (wall) | ratio (CPU) | target |",
        "|---|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in rows:
        med = [r.get(x, {}).get(r["clock"], {}).get("median_ns") for x in LIBS + FLOORS]
        if r["target"] is None:
            tgt = "-"
        else:
            tgt = "<= %.2f %s" % (
                r["target"],
                {True: "met", False: "**missed**", None: ""}[r["met"]],
            )
        lines.append(
            "| %s | %s | %s | %s | %s | %s | %s | %s | %s |"
            % (
                r["name"],
                r["backend"],
                fmt_ns(med[0]),
                fmt_ns(med[1]),
                fmt_ns(med[2]),
                fmt_ns(med[3]),
                fmt_ratio(r["ratio"]),
                fmt_ratio(r["cpu_ratio"]),
                tgt,
            )
        )
    if speedups:
        lines.append("")
        lines.append(
            "Speed-up of %d threads over one thread (Mandelbrot, wall time): %s"
            % (meta["threads"], ", ".join("%s %.2fx" % kv for kv in sorted(speedups.items())))
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="few rounds, short warm-up (smoke test)")
    p.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="NAME",
        help="only benchmarks whose name contains NAME (repeatable)",
    )
    p.add_argument(
        "--backend",
        action="append",
        choices=sorted(BACKENDS),
        help="54 (Lua 5.4) or jit21 (LuaJIT 2.1); default both",
    )
    p.add_argument("--lib", choices=LIBS, help="time only this library (for profiling)")
    p.add_argument("--rounds", type=int, help="alternating rounds (default 11, --quick 3)")
    p.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="the clock of the ns columns and the targets: wall (perf_counter_ns, "
        "default) or cpu (process_time_ns, steadier on a loaded machine)",
    )
    p.add_argument("--json", metavar="FILE", help="write all results as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write the results table as Markdown")
    args = p.parse_args(argv)
    faulthandler.enable()  # a crash in C still names the benchmark

    settings = Settings(args.quick, args.rounds)
    libs = [args.lib] if args.lib else list(LIBS)
    backends = args.backend or ["54", "jit21"]
    cases_by_lib = {lib: load_cases(lib) for lib in libs}
    threads = min(os.cpu_count() or 1, 8)
    for module in cases_by_lib.values():
        module.THREADS = threads
    names = [c.name for c in cases_by_lib[libs[0]].CASES]
    if args.filter:
        names = [n for n in names if any(f in n for f in args.filter)]
    if not names:
        p.error("no benchmark matches %s" % args.filter)

    modules_by_backend = {}
    for backend in backends:
        modules_by_backend[backend] = {
            lib: importlib.import_module("%s.%s" % (lib, BACKENDS[backend])) for lib in libs
        }
    meta = {
        "machine": machine_info(),
        "libraries": library_info(modules_by_backend),
        "threads": threads,
        "quick": args.quick,
        "rounds": settings.rounds,
        "warmup_ms": settings.warmup_ns // 10**6,
        "batch_ms": settings.batch_ns // 10**6,
    }
    print("# %(python)s on %(cpu)s, %(nproc)s CPUs" % meta["machine"])
    print(
        "# "
        + ", ".join(
            "%s %s" % kv for kv in sorted(meta["libraries"].items()) if not kv[0].endswith("_path")
        )
    )
    print(
        "# rounds %d, warm-up %d ms, batch %d ms, load average %s"
        % (settings.rounds, meta["warmup_ms"], meta["batch_ms"], meta["machine"]["loadavg_start"])
    )
    print()
    clock = args.clock
    columns = "%-20s %-6s %12s %12s %10s %10s %7s %7s  %s"
    header = columns % (
        "benchmark",
        "lua",
        "lupacffi ns",
        "lupa ns",
        "floor ns",
        "frame ns",
        "ratio",
        "cpu-r",
        "target",
    )
    print(
        "ns per operation by the %s clock, median of the rounds; ratio = lupacffi/lupa; "
        "cpu-r = the same ratio by process CPU time (threaded cases: wall clock only); "
        "floor = a bare cffi call of the same signature into C that does nothing; "
        "frame = that call made by the least a pure-Python wrapper class does "
        "(one method frame, its slot reads, the packed result's decoding)"
        % ("wall" if clock == "wall" else "CPU")
    )
    print(header)
    print("-" * len(header))
    sys.stdout.flush()

    rows = []
    for backend in backends:
        modules = modules_by_backend[backend]
        for name in names:
            case_by_lib = {
                lib: next(c for c in cases_by_lib[lib].CASES if c.name == name) for lib in libs
            }
            c = case_by_lib[libs[0]]
            runs_with = dict(modules)
            if "lupacffi" in libs and case_by_lib["lupacffi"].floor is not None:
                floor_case = cases_by_lib["lupacffi"].Case(
                    name, "floor", case_by_lib["lupacffi"].floor, unit=c.unit
                )
                case_by_lib[FLOOR] = floor_case
                runs_with[FLOOR] = modules["lupacffi"]
            if "lupacffi" in libs and case_by_lib["lupacffi"].frame_floor is not None:
                case_by_lib[FRAME] = cases_by_lib["lupacffi"].Case(
                    name, "frame floor", case_by_lib["lupacffi"].frame_floor, unit=c.unit
                )
                runs_with[FRAME] = modules["lupacffi"]
            res = measure(case_by_lib, runs_with, settings)
            row = {
                "name": name,
                "backend": backend,
                "what": c.what.replace("THREADS", str(threads)),
                "kind": c.kind,
                "unit": c.unit,
            }
            row.update(res)
            ratios = {}
            for clk in ("wall", "cpu"):
                med = [res.get(lib, {}).get(clk, {}).get("median_ns") for lib in LIBS]
                ratios[clk] = med[0] / med[1] if med[0] and med[1] else None
            if c.threaded:  # CPU time adds up the threads: no measure of speed
                ratios["cpu"] = None
            ratio = ratios["wall" if c.threaded else clock]
            target = target_of(c)
            row.update(
                ratio=ratios["wall"],
                cpu_ratio=ratios["cpu"],
                target=target,
                clock="wall" if c.threaded else clock,
            )
            row["met"] = None if ratio is None or target is None else ratio <= target
            rows.append(row)
            clk = "wall" if c.threaded else clock
            med = {lib: res.get(lib, {}).get(clk, {}).get("median_ns") for lib in LIBS + FLOORS}
            mark = "" if row["met"] is None else ("ok" if row["met"] else "MISSED")
            tgt = "-" if target is None else "<= %.2f %s" % (target, mark)
            print(
                columns
                % (
                    name,
                    backend,
                    fmt_ns(med["lupacffi"]),
                    fmt_ns(med["lupa"]),
                    fmt_ns(med[FLOOR]),
                    fmt_ns(med[FRAME]),
                    fmt_ratio(ratios["wall"]),
                    fmt_ratio(ratios["cpu"]),
                    tgt,
                )
            )
            for lib in LIBS + FLOORS:
                if "error" in res.get(lib, {}):
                    print("    %s error: %s" % (lib, res[lib]["error"]))
            sys.stdout.flush()

    speedups = {}
    for backend in backends:
        by = {r["name"]: r for r in rows if r["backend"] == backend}
        if "mandelbrot_serial" in by and "mandelbrot_threads" in by:
            for lib in libs:
                s = by["mandelbrot_serial"].get(lib, {}).get("wall", {}).get("median_ns")
                t = by["mandelbrot_threads"].get(lib, {}).get("wall", {}).get("median_ns")
                if s and t:
                    speedups["%s.%s" % (lib, backend)] = s / t
    if speedups:
        print()
        print(
            "speed-up of %d threads over one (Mandelbrot, wall time serial / threaded):" % threads
        )
        for key, value in sorted(speedups.items()):
            print("  %-18s %.2fx" % (key, value))

    crossing = [r for r in rows if r["met"] is not None]
    if crossing:
        missed = [r for r in crossing if not r["met"]]
        print()
        print("targets met: %d of %d" % (len(crossing) - len(missed), len(crossing)))
    meta["machine"]["loadavg_end"] = loadavg()
    print("load average at the end: %s" % (meta["machine"]["loadavg_end"],))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_table(meta, rows, speedups, clock))
        print("Markdown written to %s" % args.markdown)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": rows, "speedups": speedups}, f, indent=1)
        print("JSON written to %s" % args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
