"""What the CPython C API would give the Python->Lua crossings, measured
beside cffi in one process (CPython only; BENCHMARKS.md, session 14).

    PYTHONPATH=src python3 benchmarks/capi_probe.py [--rounds 9]
    PYTHONPATH=src .venv-bench/cpython/bin/python benchmarks/capi_probe.py  (with lupa)

Builds benchmarks/capi_probe.c with the C compiler into a temporary
directory, then times, alternating, 200,000 operations each: a bare cffi call
of lc_call_i's shape into a no-op (the `floor`), the same through the C API
(a METH_FASTCALL builtin), each from one Python method (the `frame` floor
and its C-API twin), and lupacffi's real entries (lc_call_i, lc_getitem_i)
called bare, against f(i) and t[1] through the wrappers.  What lupacffi's C
does for an operation is its entry's time less the no-op's.  Last, the
no-op and those entries called through a C type of the wrappers' shape
(tp_call, mp_subscript; the runtime pointer and the reference in its
struct, the GIL released): what the wrappers would cost as C types on
CPython."""

import argparse
import importlib.util
import os
import subprocess
import sys
import sysconfig
import tempfile
import time

import lupacffi.lua54
from cases import _FloorRuntime, _FloorWrapper  # (benchmarks/ is the script's directory)

HERE = os.path.dirname(os.path.abspath(__file__))


def build_probe(workdir):
    target = os.path.join(workdir, "capi_probe" + sysconfig.get_config_var("EXT_SUFFIX"))
    cc = os.environ.get("CC", "cc")
    subprocess.check_call(
        [cc, "-O2", "-shared", "-fPIC", "-I", sysconfig.get_paths()["include"]]
        + [os.path.join(HERE, "capi_probe.c"), "-o", target]
    )
    spec = importlib.util.spec_from_file_location("capi_probe", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cases(probe):
    lua = lupacffi.lua54.LuaRuntime()
    lib, ffi, ptr = lua._lib, lua._ffi, lua._ptr
    f = lua.eval("function(x) return x end")
    t = lua.eval("{1, 2, 3}")
    ref, tref = f._ref, t._ref
    address = int(ffi.cast("uintptr_t", ptr))
    floor, noop = lib.lc_floor_call_i, probe.noop
    # the frame floor's wrapper (benchmarks/cases.py), and its twin calling the builtin
    in_cffi = _FloorWrapper(_FloorRuntime(ptr, floor), ref)
    in_capi = _FloorWrapper(_FloorRuntime(address, noop), ref)
    call_i, getitem_i = lib.lc_call_i, lib.lc_getitem_i

    def entry(name, ref):  # (a slotted subclass, as the wrapper classes would be)
        return _InC(int(ffi.cast("uintptr_t", ffi.addressof(lib, name))), address, ref)

    class _InC(probe.Entry):
        __slots__ = ("_rt",)

        def __getattr__(self, name):
            raise AttributeError(name)

    f_in_c, t_in_c = entry("lc_call_i", ref), entry("lc_getitem_i", tref)
    in_c = entry("lc_floor_call_i", ref)
    keep = (lua, f, t)  # (alive while the cases run: the entries take their references)
    timed = {
        "empty loop": lambda n: [i for i in range(n)],
        "cffi no-op (floor)": lambda n: [floor(ptr, ref, i) for i in range(n)],
        "C-API no-op": lambda n: [noop(address, ref, i) for i in range(n)],
        "method + cffi no-op (frame floor)": lambda n: [in_cffi(i) for i in range(n)],
        "method + C-API no-op": lambda n: [in_capi(i) for i in range(n)],
        "C type: the no-op via tp_call (no frame)": lambda n: [in_c(i) for i in range(n)],
        "cffi lc_call_i": lambda n: [call_i(ptr, ref, i) for i in range(n)],
        "cffi lc_getitem_i": lambda n: [getitem_i(ptr, tref, 1) for i in range(n)],
        "lupacffi f(i)": lambda n: [f(i) for i in range(n)],
        "lupacffi t[1]": lambda n: [t[1] for i in range(n)],
        "C type: f(i) via lc_call_i": lambda n: [f_in_c(i) for i in range(n)],
        "C type: t[1] via lc_getitem_i": lambda n: [t_in_c[1] for i in range(n)],
    }
    try:  # (lupa, where it is installed: benchmarks/run.sh's venv)
        import lupa.lua54
    except ImportError:
        return keep, timed
    other = lupa.lua54.LuaRuntime()
    lupa_f, lupa_t = other.eval("function(x) return x end"), other.eval("{1, 2, 3}")
    timed["lupa f(i)"] = lambda n: [lupa_f(i) for i in range(n)]
    timed["lupa t[1]"] = lambda n: [lupa_t[1] for i in range(n)]
    return keep + (other,), timed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    opts = parser.parse_args()
    if sys.implementation.name != "cpython":
        sys.exit("capi_probe: CPython only")
    with tempfile.TemporaryDirectory() as workdir:
        probe = build_probe(workdir)
        keep, timed = cases(probe)
        ns = {name: [] for name in timed}
        for _ in range(opts.rounds):
            for name, run in timed.items():
                start = time.process_time()
                run(200000)
                ns[name].append((time.process_time() - start) / 200000 * 1e9)
        del keep
    loop = sorted(ns["empty loop"])[len(ns["empty loop"]) // 2]
    print("%-44s %8s %12s" % ("ns per operation (CPU, median)", "", "less loop"))
    for name, values in ns.items():
        median = sorted(values)[len(values) // 2]
        print("%-44s %8.0f %12.0f" % (name, median, median - loop))


if __name__ == "__main__":
    main()
