#!/usr/bin/env python3
"""Profiles one benchmark case of lupacffi (or lupa) with cProfile.

    PYTHONPATH=src python benchmarks/profile_case.py NAME [--backend 54|jit21]
        [--lib lupacffi|lupa] [-n N] [--sort tottime|cumtime] [--top 25]

Runs run(N) of the case once unprofiled (warm-up) and once under cProfile,
then prints the functions by own time and the number of calls per operation:
which Python functions and which cffi calls (``{built-in method lc_...}``) one
operation costs.  cProfile adds about 0.1-0.3 us per profiled call, so read
the call counts and the proportions, not the absolute times.
"""

import argparse
import cProfile
import importlib
import pstats
import sys

from run import BACKENDS, load_cases


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name")
    p.add_argument("--backend", default="54", choices=sorted(BACKENDS))
    p.add_argument("--lib", default="lupacffi", choices=["lupacffi", "lupa"])
    p.add_argument("-n", type=int, default=None, help="operations (default: by kind)")
    p.add_argument("--sort", default="tottime")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)

    cases = load_cases(args.lib)
    case = next((c for c in cases.CASES if c.name == args.name), None)
    if case is None:
        p.error("no case %r (have: %s)" % (args.name, ", ".join(c.name for c in cases.CASES)))
    module = importlib.import_module("%s.%s" % (args.lib, BACKENDS[args.backend]))
    n = args.n or (3 if case.heavy else 20000)
    run = case.func(module)
    run(n)
    prof = cProfile.Profile()
    prof.runcall(run, n)
    ops = n * case.unit
    print(
        "%s (%s) on %s, %d operations; ncalls / %d = calls per operation"
        % (case.name, case.what, args.backend, ops, ops)
    )
    stats = pstats.Stats(prof, stream=sys.stdout)
    stats.sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
