"""Loading a compiled backend (``lupacffi._lua_<ver>``) and the state it
shares between runtimes: the cffi objects, per-thread value buffers and the
table that routes C callbacks to their runtime."""

import importlib
import os
import platform
import sys
import threading

from . import _constants

# (the package's one test of the interpreter: the other modules import it)
_PYPY = platform.python_implementation() == "PyPy"

BUFFER_SIZE = _constants.NOUT  # lc_val slots in each per-thread buffer

_backends = {}
_lock = threading.Lock()

# Every C type the package names by a string (tests/test_ffi_types.py checks
# the list against the sources).  PyPy's cffi parses a type string it has not
# seen before into one buffer of its ffi, with the GIL released: two threads
# parsing different strings at once can get each other's types (an
# "lc_val[]" made as an "int[]").  Each is parsed here once, while the backend
# loads under _lock; every later use finds it in the ffi's cache.
C_TYPES = (
    "char[]",
    "double[]",
    "int *",
    "int[]",
    "lc_column *",
    "lc_val",
    "lc_val *",
    "lc_val[1]",
    "lc_val[2]",
    "lc_val[3]",
    "lc_val[]",
    "long long **",
    "long long[2]",
    "long long[]",
    "size_t *",
    "uintptr_t",
)


class _Buffers(object):
    """A thread's own argument and result arrays (so that no allocation is
    needed per call, and threads never share them).  `out` is the thread's
    result buffer in C (lc_thread_out), where the entry points with packed
    results leave the rest.  out0, args0 and args1 point at single elements:
    reading a field through them creates no cdata object (out[0] would,
    every time).  `pack` is the thread's pack buffer in C (lc_thread_pack),
    where results are also left packed on CPython."""

    __slots__ = ("args", "out", "out0", "args0", "args1", "pack", "batch")

    def __init__(self, ffi, lib):
        self.args = ffi.new("lc_val[]", BUFFER_SIZE)
        self.out = lib.lc_thread_out()
        self.out0 = ffi.addressof(self.out, 0)
        self.args0 = ffi.addressof(self.args, 0)
        self.args1 = ffi.addressof(self.args, 1)
        self.pack = ffi.buffer(lib.lc_thread_pack(), _constants.PACK_BYTES)
        self.batch = None  # made by the first iterator over a big table (_LuaIter)


class Backend(object):
    """One compiled Lua: its ffi/lib and facts about it."""

    def __init__(self, name):
        module = importlib.import_module("lupacffi._lua_" + name)
        self.name = name
        self.ffi = ffi = module.ffi
        self.lib = lib = module.lib
        for cdecl in C_TYPES:
            ffi.typeof(cdecl)
        _constants.check(lib)
        num = lib.lc_lua_version_num()
        self.version = (num // 100, num % 100)
        self.has_integers = num >= 503
        self.is_luajit = name.startswith("jit")
        # built against a system Lua (pkg-config): no chunk cache, see lupacffi.h
        self.system_lua = bool(lib.lc_system_lua())
        impl = ffi.string(lib.lc_lua_implementation()).decode("ascii")
        # "Lua 5.4.9" -> "Lua 5.4"; LuaJIT keeps its full version
        self.implementation = (
            impl
            if self.is_luajit
            else " ".join([impl.split()[0], ".".join(impl.split()[1].split(".")[:2])])
        )
        self.maxinteger = lib.lc_lua_maxinteger() if self.has_integers else 2**63 - 1
        self.mininteger = lib.lc_lua_mininteger() if self.has_integers else -(2**63)
        # the ints a packed result holds (csrc/lc_types.h) that Lua holds exactly
        self.pack_max = min(self.maxinteger, 2**60 - 1)
        self.pack_min = max(self.mininteger, -(2**60))
        # what a LuaRuntime's _ptr becomes when its Lua state is freed
        self.closed_runtime = lib.lc_closed_runtime()
        self.closed_runtime_addr = int(ffi.cast("uintptr_t", self.closed_runtime))
        # long result strings made into str/bytes by Python straight from
        # Lua's memory (csrc/lc_api.h); on PyPy that measured slower than
        # C's copy (its GC, not the copy, is what costs there)
        lib.lc_long_strings_to_python = 0 if _PYPY else 1
        # several results also packed for one struct.unpack (lc_api.h): on
        # PyPy the JIT makes reading the lc_vals' fields the faster way
        lib.lc_pack_results = 0 if _PYPY else 1
        self.runtimes = {}  # runtime id -> weak reference to the LuaRuntime
        self.new_runtimes = 0  # PyPy: runtimes made since the last Lua memory check
        self.lua_memory_mark = 0  # PyPy: the live runtimes' Lua memory after the last collection
        self._tls = threading.local()
        # cffi makes a function object on the first use of each C function and
        # keeps it: made now, so that runtimes made later, and dropped, leave
        # nothing behind, the first ones included (gc.get_objects() stays flat)
        for fname in dir(lib):
            if fname.startswith("lc_"):
                getattr(lib, fname)
        # error=-1 (LC_CB_ERROR): if Python fails before _dispatch can report
        # (e.g. at the recursion limit), C raises a generic Lua error
        ffi.def_extern(name="lc_py_dispatch", error=-1)(self._dispatch)
        # the scalar callbacks: error=-1 is not a packed result, so C asks
        # for it (LC_OP_PENDING), and finds the generic error.  (Imported
        # here: _callbacks imports this module.)
        from ._callbacks import _ATTRIBUTE_TYPES, _FunctionType, scalar_callbacks

        # (kept: C is given their addresses below)
        self._scalar_callbacks = call1, index1, index_key, handoff = scalar_callbacks(
            self.runtimes, self.pack_min, self.pack_max
        )
        ffi.def_extern(name="lc_py_call1", error=-1)(call1)
        ffi.def_extern(name="lc_py_index", error=-1)(index1)
        ffi.def_extern(name="lc_py_index_key", error=-1)(index_key)
        # CPython: C runs the common cases itself and calls call1 and index1
        # through the C API (csrc/lc_pycall.c), given the addresses of what
        # it uses, which are their id() there (all kept for good)
        self.pycall = sys.implementation.name == "cpython"
        if self.pycall:
            lib.lc_pycall_init(
                id(_FunctionType),
                id(call1),
                id(index1),
                id(handoff),
                id(_ATTRIBUTE_TYPES),
                self.pack_min,
                self.pack_max,
            )

    def buffers(self):
        try:
            return self._tls.buffers
        except AttributeError:
            b = self._tls.buffers = _Buffers(self.ffi, self.lib)
            return b

    def _dispatch(self, rid, op, args, nargs, out, nout):
        ref = self.runtimes.get(rid)
        runtime = ref() if ref is not None else None
        if runtime is None:  # the runtime is being torn down
            return 0
        return runtime._callback(op, args, nargs, out, nout)


_global_backend = None  # the backend loaded with RTLD_GLOBAL, if any


def get_backend(name):
    """The Backend of ``name`` ("54", "jit21", ...); ImportError if not built."""
    try:
        return _backends[name]
    except KeyError:
        with _lock:
            if name not in _backends:
                _check_global_loading(name)
                _backends[name] = Backend(name)
                thread_stacks_for_lua()
            return _backends[name]


MUSL_THREAD_STACK = 4 << 20


def thread_stacks_for_lua(confstr=os.confstr):
    """Outside glibc (musl: Alpine), new threads get 128 KiB of stack, where
    glibc gives 8 MiB: less than Lua's C recursion needs before its own limit
    stops it (some 512 KiB: LUAI_MAXCCALLS levels of C calls), or the C-stack
    cap of LuaJIT's limited runtimes (1 MiB).  A thread running deeply
    recursive Lua would crash the process.  So, unless the program chose a
    size itself, threads started from now on get MUSL_THREAD_STACK bytes
    (reserved address space; pages are used as touched).  Returns whether it
    changed the size."""
    try:
        glibc = confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        glibc = None
    if glibc or not sys.platform.startswith("linux"):
        return False
    chosen = threading.stack_size(MUSL_THREAD_STACK)  # (returns the size before)
    if chosen != 0:
        threading.stack_size(chosen)
        return False
    return True


def _check_global_loading(name):
    """Lua C modules bind to the first Lua whose symbols are loaded globally
    (allow_lua_module_loading()); a second such backend would hand them the
    wrong Lua, so it is refused."""
    global _global_backend
    if not sys.getdlopenflags() & getattr(os, "RTLD_GLOBAL", 0):
        return
    if _global_backend is not None and _global_backend != name:
        raise ImportError(
            "backend %s is already loaded for Lua C modules; "
            "allow_lua_module_loading() works with one backend per process"
            % _BACKEND_MODULES.get(_global_backend, _global_backend)
        )
    _global_backend = name


_BACKEND_MODULES = {
    "51": "lua51",
    "52": "lua52",
    "53": "lua53",
    "54": "lua54",
    "55": "lua55",
    "jit21": "luajit21",
}
