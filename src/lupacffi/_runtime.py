"""LuaRuntime: one Lua state, its options and the operations on it."""

import builtins
import codecs
import contextlib
import gc
import itertools
import struct
import threading
import types
import weakref

from . import _async, _cycles
from ._backend import _PYPY, BUFFER_SIZE, get_backend
from ._callbacks import Callbacks
from ._constants import (
    ENC_NONE,
    ENC_UTF8,
    ERR_SYNTAX,
    LIB_ALL,
    LUA_NOREF,
    NONE,
    P_BOOL,
    P_INT,
    P_NIL,
    P_OUT,
    P_FLOAT,
    P_REF,
    P_STR,
    PYOBJ,
)
from ._convert import _PACK_ARGS, _PACK_RESULTS, Converter
from ._lua_objects import _RANGE, _LuaThread, _TakenRef, _wrap
from .errors import LuaError, LuaMemoryError

_runtime_ids = itertools.count(1)
_unpack_double = struct.Struct("=d").unpack_from  # (a P_FLOAT result)
_KEEP = object()  # limits(): keep the current value
_CoroutineType = types.CoroutineType

_DEFAULT_NAME = b"<python>"
_CHUNK_CACHE_SIZE = 64  # compiled chunks kept per runtime for eval()/execute()
_CHUNK_MAX_LEN = 4096  # longer code is compiled every time


def _is_plain_name(value):
    """None, str or bytes (as a cache key: exact types, no custom __eq__)."""
    return value is None or type(value) is str or type(value) is bytes


def _as_bytes(value, encoding):
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode(encoding)
    raise TypeError("Expected string, got %s" % (type(value),))


# The contract between LuaRuntime and the modules that work on its behalf
# (_lua_objects, _table_from, _cycles, _sandbox, _async, _convert and
# _callbacks, which are mixed in).  They may use these members, and no others:
#   _ffi, _lib, _ptr        the backend's cffi objects and the lc_runtime *
#                           (after the state is freed: lc_closed_runtime())
#   _addr                   _ptr's address, always (csrc/lc_wrapper.c reads it)
#   _backend, _encoding, _source_encoding, _objects (Python objects Lua holds)
#   _buffers()              this thread's argument buffer and result buffer
#   _unpack(r), _results(n, out, nout), _batch(n, out)    results -> Python
#   _error(status, out)     the exception of an entry point's status; the
#   _exception(status, value, traceback, prefix)   one mapping behind it
#   _to_val, _fill, _with_objects(keep, entry, ...), _register   Python -> C
#   _call, _getitem, _setitem, _resume, _resume_packed, _new_coroutine,
#   _new_table, _pyobj_metatable                           operations
#   _attribute_filter, _attribute_handlers (the sandbox wraps them), _async,
#   _gc_window and _gc_* (_cycles.py's bookkeeping), _overflow
# The sandbox's chunk loader comes back from apply_sandbox() (self._loader).
class LuaRuntime(Converter, Callbacks):
    """A Lua interpreter state: ``LuaRuntime(**options)``.

    Every option is a keyword argument (``encoding`` may also come first,
    positionally); all have defaults.  lupa's options:

    encoding='UTF-8'
        How Lua strings and Python ``str`` convert.  Lua strings reach
        Python decoded with it, as ``str``, and ``str`` values are encoded
        with it on their way into Lua.  ``None``: Lua strings reach Python
        as ``bytes``, and a ``str`` passed into Lua stays a Python object
        (a userdata), except for attribute names (``t.name``), which are
        Lua strings in the source encoding.  ``str()`` of a Lua object is
        always a ``str``.  Bytes are accepted too (``b'latin-1'``).

    source_encoding=None
        The encoding of Lua code given as ``str`` to ``eval()``,
        ``execute()`` and ``compile()``.  ``None``: the ``encoding``, or
        UTF-8 when that is ``None``.

    attribute_filter=None
        ``f(obj, name, is_setting)``, called whenever Lua reads
        (``is_setting`` False) or writes (True) an attribute of a Python
        object (not for item access): it returns the attribute name to use
        (a ``str``), or raises ``AttributeError`` to deny access.  The name
        Lua used need not be a string.  Not together with
        ``attribute_handlers``.

    attribute_handlers=None
        ``(getter, setter)``: ``getter(obj, name)`` returns the value of
        every index operation of Lua on a Python object (attributes and
        items alike), ``setter(obj, name, value)`` carries out every
        assignment (its result is ignored); either raises ``AttributeError``
        (or any error) to refuse.  A ``None`` side keeps the default
        behaviour for it; ``None``, an empty sequence or ``(None, None)``
        means no handlers.  Any iterable of two works, an iterator too.

    register_eval=True
        Whether Lua gets Python's ``eval()`` as ``python.eval``.  (It stays
        reachable through ``python.builtins`` unless that is off too, or an
        attribute filter denies it.)

    register_builtins=True
        Whether Lua gets Python's ``builtins`` module as
        ``python.builtins``.  Turning it off alone does not shut Python
        away from Lua: objects passed in lead to their classes, modules and
        globals; use an attribute filter or the sandbox for that.

    unpack_returned_tuples=False
        Whether a tuple that a Python function returns to Lua becomes that
        many Lua values (``local a, b = f()``), instead of one Python object.

    overflow_handler=None
        ``f(n)``, called for a Python ``int`` outside the 64-bit range of
        Lua integers (on every Lua, 5.1 and LuaJIT too); its result goes to
        Lua instead (e.g. ``float``).  Without it such ints raise
        ``OverflowError``.  Lua code can set it too, with
        ``python.set_overflow_handler(f)`` (a Lua function gets the int as
        a Python object); ``set_overflow_handler()`` does it from Python.

    max_memory=None
        A limit, in bytes, on the memory Lua uses beyond what a fresh
        runtime uses.  Past it allocations fail: Lua code gets ``not enough
        memory`` errors (``pcall`` can catch them), Python gets
        ``LuaMemoryError``.  ``None`` or 0: no limit.  ``set_max_memory()``
        changes it later, also on a runtime made without one (lupa refuses
        that), and ``get_max_memory()`` / ``get_memory_used()`` report.

    string_hash_seed=None
        The seed of Lua's string hashing (an unsigned 32-bit int), for
        reproducible runs; ``None``: a random seed.  Used by Lua 5.5 only,
        ignored by the other versions.

    lupacffi's own options (not in lupa):

    max_instructions=None
    max_time=None
        Execution limits: every call from Python into Lua (eval, execute,
        calling a Lua function, resuming a coroutine) stops after that many
        Lua VM instructions or seconds of wall-clock time, raising
        ``LuaLimitError``, which ``pcall`` cannot catch.  See
        ``set_limits()``, ``limits()`` and ``interrupt()``.  On LuaJIT a
        limited runtime runs with the JIT compiler off.

    libraries='all'
        The standard libraries to open: ``'all'``, or a collection of names
        from base, package, coroutine, table, io, os, string, math, utf8,
        debug, bit, jit, ffi (bit, jit and ffi on LuaJIT; utf8 from Lua
        5.3).  A runtime without the debug library still gets Lua
        tracebacks in its error messages; one with it gets none once Lua
        code removed ``debug.traceback`` (as lupa).

    sandbox=False
        ``True``, or a dict of settings, for untrusted code: only the safe
        libraries (base, coroutine, string, table, math, utf8), text-only
        ``load``, no ``python.eval`` or ``python.builtins``, no access to
        Python attributes whose names start with an underscore (or that
        lead to frames and code), a fresh environment for every chunk, and
        limits on by default.  The settings: ``max_memory`` (64 MiB),
        ``max_time`` (5 s), ``max_instructions`` (None), and
        ``allow_private_attributes`` (False).  docs/sandbox.md says what it
        protects against.

    Example::

        >>> lua = LuaRuntime()
        >>> lua.eval("1 + 1")
        2
        >>> lua.eval("function(f, n) return f(n) end")(lambda n: n + 1, 2)
        3
    """

    _backend_name = None  # set by each backend module's subclass
    _gc_window = None  # references moved during a collection (_cycles.py)
    _gc_objects_mark = _cycles._GROWTH_FLOOR  # see _cycles.note_growth
    _gc_objects_base = 0  # Python objects of the python table (_cycles.py)
    _gc_next_scan = 0.0  # see _cycles._freeze

    def __init__(
        self,
        encoding="UTF-8",
        source_encoding=None,
        attribute_filter=None,
        attribute_handlers=None,
        register_eval=True,
        unpack_returned_tuples=False,
        register_builtins=True,
        overflow_handler=None,
        max_memory=None,
        string_hash_seed=None,
        max_instructions=None,
        max_time=None,
        libraries="all",
        sandbox=False,
    ):
        self._ptr = None
        self._addr = 0  # the address of _ptr, always (read by csrc/lc_wrapper.c)
        backend = self._backend = get_backend(self._backend_name)
        o = _checked_options(
            encoding,
            source_encoding,
            attribute_filter,
            attribute_handlers,
            register_eval,
            register_builtins,
            overflow_handler,
            max_memory,
            string_hash_seed,
            max_instructions,
            max_time,
            libraries,
            sandbox,
        )
        encoding, max_memory = o.encoding, o.max_memory

        self._ffi = backend.ffi
        self._lib = lib = backend.lib
        self._null = backend.ffi.NULL
        self._encoding = encoding
        self._source_encoding = o.source_encoding or encoding or "utf-8"
        self._attribute_filter = o.attribute_filter
        self._attribute_handlers = o.attribute_handlers
        self._unpack_returned_tuples = bool(unpack_returned_tuples)
        self._overflow_handler = o.overflow_handler
        self._has_integers = backend.has_integers
        self._maxint = backend.maxinteger
        self._minint = backend.mininteger
        self._pack_max, self._pack_min = backend.pack_max, backend.pack_min
        self._names = {}  # number -> attribute name (_index1)
        self._plans = {}  # argument types -> how to pack them (_args_plan)
        # the entry points of the wrappers' hot paths (_lua_objects.py), read
        # from here: reading them from lib (a module-like object) costs ~40 ns
        # more per call on CPython 3.11
        self._lc_call_i = lib.lc_call_i
        self._lc_call_d = lib.lc_call_d
        self._lc_call_s = lib.lc_call_s
        self._lc_getitem_i = lib.lc_getitem_i
        self._lc_getitem_s = lib.lc_getitem_s
        self._lc_setitem_i = lib.lc_setitem_i
        self._lc_resume_i = lib.lc_resume_i
        self._lc_call = lib.lc_call
        self._lc_call_p = lib.lc_call_p
        self._lc_unref = lib.lc_unref
        self._objects = {}  # id(obj) -> obj for Python objects held by Lua
        self._taken = {}  # id -> long result string not read yet (_take_string)
        self._cb_keep = None  # what the last callback handed to C
        self._pending = None  # callback results beyond the buffer
        self._nogc_depth = 0
        self._limits = (None, None)
        self._async = _async.AsyncState()
        self._tls = backend._tls  # per-thread buffers (see _buffers)
        self._rid = next(_runtime_ids)
        # compiled chunks of execute() and eval(), see _chunk; None: no cache
        self._chunks = None if backend.system_lua or (max_memory or 0) > 0 else ({}, {})
        self._loader = None  # the sandbox's chunk loader (see _load)

        seed = o.string_hash_seed
        ptr = lib.lc_new(self._rid, _library_mask(o.libraries), seed is not None, seed or 0)
        if ptr == backend.ffi.NULL:
            raise LuaMemoryError("could not create a Lua state")
        self._ptr = ptr
        self._addr = int(backend.ffi.cast("uintptr_t", ptr))
        # how strings cross in csrc/lc_wrapper.c (enum lc_encoding)
        if encoding is None:
            lib.lc_set_encoding(ptr, ENC_NONE)
        elif codecs.lookup(encoding).name == "utf-8":
            lib.lc_set_encoding(ptr, ENC_UTF8)
        backend.runtimes[self._rid] = weakref.ref(self)
        _cycles.install()
        if _PYPY:
            _collect_dropped_runtimes(backend)
        self._init_python_table(o.register_eval, o.register_builtins)
        self._gc_objects_base = len(self._objects)
        if max_memory is not None and max_memory > 0:
            lib.lc_set_memory_limit(ptr, max_memory, 0)
        if o.max_instructions is not None or o.max_time is not None:
            self.set_limits(o.max_instructions, o.max_time)
        if sandbox:
            from ._sandbox import apply_sandbox

            # its loader gives each chunk an environment of its own: no cache,
            # and chunks run as loaded (see _run_chunk)
            self._chunks = None
            self._loader = apply_sandbox(self)
        # (the attribute options are final now: see Callbacks._plain_attributes)
        self._plain_attributes = self._attribute_handlers is None and self._attribute_filter is None
        if self._backend.pycall:  # (CPython: csrc/lc_pycall.c reads both dicts)
            names = id(self._names) if self._plain_attributes else 0
            lib.lc_pycall_bind(self._ptr, id(self._objects), names)

    @staticmethod
    def _hash_seed(seed):
        if seed is None:
            return None
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError("string_hash_seed must be an int")
        if not 0 <= seed <= 0xFFFFFFFF:
            raise OverflowError("string_hash_seed must fit an unsigned int")
        return seed

    def _init_python_table(self, register_eval, register_builtins):
        objects = self._ffi.new("lc_val[3]")
        values = [
            None,
            builtins if register_builtins else _Absent,
            builtins.eval if register_eval else _Absent,
        ]
        for k, value in enumerate(values):
            if value is _Absent:
                objects[k].tag = 0
            else:
                objects[k].tag = PYOBJ
                objects[k].i = id(value)
                self._objects[id(value)] = value
        out = self._buffers().out
        r = self._lib.lc_init_python(self._ptr, objects, out)
        if r < 0:
            raise self._error(r, out)

    def __del__(self):
        ptr = getattr(self, "_ptr", None)
        if ptr is not None and ptr != self._backend.closed_runtime:
            # what is left (wrappers in the same garbage cycle) finds it closed
            self._ptr = self._backend.closed_runtime
            self._addr = self._backend.closed_runtime_addr
            try:
                self._lib.lc_free(ptr)
                self._backend.runtimes.pop(self._rid, None)
            except Exception:  # interpreter shutdown
                pass

    def close(self):
        """Frees the Lua state now: its memory, and the Python objects Lua
        held.  Afterwards every use of the runtime and of its Lua objects
        raises LuaError ("the Lua runtime is closed"); closing again does
        nothing.  Not from inside Lua (a callback): that raises LuaError.
        ``with LuaRuntime() as lua:`` closes it at the end of the block."""
        if self._lib.lc_close(self._ptr) < 0:
            raise LuaError("cannot close the Lua runtime while Lua code runs in it")
        self._chunks = None  # (their references are gone with the state)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ---- properties -------------------------------------------------------
    @property
    def lua_version(self):
        """The Lua language version, e.g. (5, 4)."""
        return self._backend.version

    @property
    def lua_implementation(self):
        """The Lua implementation, e.g. 'Lua 5.4' or 'LuaJIT 2.1.1774896198'."""
        return self._backend.implementation

    # ---- code -------------------------------------------------------------
    def compile(self, lua_code, name=None, mode=None):
        """Compiles lua_code into a Lua function without running it."""
        return self._load(lua_code, name, mode, "")

    def execute(self, lua_code, *args, name=None, mode=None):
        """Runs a chunk of Lua code with args (``...``) and returns its results."""
        chunks = self._chunks
        if chunks is not None and not args and type(lua_code) is str and name is mode is None:
            chunk = chunks[0].get(lua_code)  # (held: keeps the reference alive)
            if chunk is not None:
                r = self._lib.lc_call_chunk(self._ptr, chunk._ref, self._null, 0)
                return r >> 3 if r & 7 == 0 else self._unpack(r)
        chunk = self._chunk(lua_code, name, mode, False)
        return self._run_chunk(chunk._ref, args)

    def eval(self, lua_code, *args, name=None, mode=None):
        """Evaluates a Lua expression and returns its value(s)."""
        chunks = self._chunks
        if chunks is not None and not args and type(lua_code) is str and name is mode is None:
            chunk = chunks[1].get(lua_code)
            if chunk is not None:
                r = self._lib.lc_call_chunk(self._ptr, chunk._ref, self._null, 0)
                return r >> 3 if r & 7 == 0 else self._unpack(r)
        chunk = self._chunk(lua_code, name, mode, True)
        return self._run_chunk(chunk._ref, args)

    def _chunk(self, code, name, mode, is_eval):
        """The compiled chunk of code, from the cache of recent ones if there.
        It is never called itself: lc_call_chunk runs a new closure of it each
        time, the same as compiling the code again would give (new upvalues,
        the current globals), so the cache cannot be seen from Lua except in
        the memory it holds (runtimes with a memory limit have none)."""
        caches = self._chunks
        key = None
        if (
            caches is not None
            and (type(code) is str or type(code) is bytes)
            and len(code) <= _CHUNK_MAX_LEN
        ):
            # (the code alone as the key in the common case: much faster on PyPy)
            if name is None and mode is None:
                key = code
            elif _is_plain_name(name) and _is_plain_name(mode):
                key = (code, name, mode)
            if key is not None:
                chunks = caches[is_eval]
                chunk = chunks.get(key)
                if chunk is not None:
                    return chunk
        if is_eval:
            if isinstance(code, (bytes, bytearray)):
                code = b"return " + bytes(code)
            elif isinstance(code, str):
                code = "return " + code
        chunk = self._load(code, name, mode, "error loading code: ")
        if key is not None:
            chunk = _Chunk(self, chunk)
            if len(chunks) >= _CHUNK_CACHE_SIZE:
                try:  # the oldest goes (and releases its reference)
                    chunks.pop(next(iter(chunks)), None)
                except (RuntimeError, StopIteration):  # changed by another thread
                    pass
            chunks[key] = chunk
        return chunk

    def _run_chunk(self, ref, args):
        """Runs a new closure of chunk ref with args (see _chunk)."""
        if self._loader is not None:
            return self._call(ref, args)
        if args:
            r = self._call_any(ref, args, self._lib.lc_call_chunk, self._lib.lc_call_chunk_p)
        else:
            r = self._lib.lc_call_chunk(self._ptr, ref, self._null, 0)
        return r >> 3 if r & 7 == 0 else self._unpack(r)

    def _load(self, code, name, mode, prefix):
        if self._loader is not None:
            return self._loader(code, name, mode, prefix)
        code = _as_bytes(code, self._source_encoding)
        name = _DEFAULT_NAME if name is None else _as_bytes(name, self._source_encoding)
        if mode is not None:
            if not isinstance(mode, (str, bytes)):
                raise ValueError("expected string, got %s" % (type(mode),))
            mode = mode.encode("ascii") if isinstance(mode, str) else mode
        else:
            mode = self._ffi.NULL
        out = self._buffers().out
        r = self._lib.lc_load(self._ptr, code, len(code), name, mode, out)
        if r < 0:
            raise self._error(r, out, prefix if r == ERR_SYNTAX else "")
        return self._results(r, out, BUFFER_SIZE)

    def require(self, modulename):
        """Lua's require(modulename)."""
        if not isinstance(modulename, (str, bytes)):
            raise TypeError("modulename must be a string")
        require = self.globals()["require"]
        if require is None:
            raise LuaError("require is not available in this runtime")
        result = require(modulename)
        return result[0] if type(result) is tuple else result  # 5.4: (module, path)

    def globals(self):
        """The table of Lua's global variables."""
        out = self._buffers().out
        r = self._lib.lc_globals(self._ptr, out)
        if r < 0:
            raise self._error(r, out)
        return self._results(r, out, BUFFER_SIZE)

    # ---- tables -----------------------------------------------------------
    def table(self, *items, **kwargs):
        """A new Lua table: items at 1, 2, ..., and kwargs by name."""
        pairs = [(i, v) for i, v in enumerate(items, 1)]
        pairs.extend(kwargs.items())
        return self._new_table(pairs)

    def table_from(self, *args, recursive=False):
        """A new Lua table from mappings (their items) and other iterables
        (their values at 1, 2, ...); later keys win.  With recursive=True,
        nested dicts, lists and tuples become tables too (shared ones once)."""
        from ._table_from import table_from

        return table_from(self, args, recursive)

    def _new_table(self, pairs, ref=LUA_NOREF):
        """Creates (or, given ref, fills) a table from (key, value) pairs."""
        n = len(pairs)
        vals = self._ffi.new("lc_val[]", max(2 * n, 1))
        keep = []
        pyobjs = False
        to_val = self._to_val
        for k, (key, value) in enumerate(pairs):
            if key is None:
                vals[2 * k].tag = NONE
            elif to_val(vals[2 * k], key, keep):
                pyobjs = True
            if to_val(vals[2 * k + 1], value, keep):
                pyobjs = True
        out = self._buffers().out
        if pyobjs:
            r = self._with_objects(keep, self._lib.lc_fill_table, ref, vals, n, out)
        else:
            r = self._lib.lc_fill_table(self._ptr, ref, vals, n, out)
        if r < 0:
            raise self._error(r, out)
        return self._results(r, out, BUFFER_SIZE) if ref == LUA_NOREF else None

    # ---- memory and garbage -------------------------------------------------
    def gccollect(self):
        """Runs a full cycle of Lua's garbage collector.  (On PyPy, whose
        gc.collect() cannot be hooked, first the cycles that run through
        Python objects: see _cycles.py.)"""
        if _PYPY:
            _cycles.before_lua_gc(self)
        self._gc(0)
        if self._nogc_depth:
            self._gc(1)  # Lua 5.1 and LuaJIT restart the collector

    @contextlib.contextmanager
    def nogc(self):
        """Stops Lua's garbage collector inside the with block (nests); the
        collector's previous state comes back afterwards."""
        if self._nogc_depth == 0:
            self._gc_was_running = self._gc(3)
            self._gc(1)
        self._nogc_depth += 1
        try:
            yield
        finally:
            self._nogc_depth -= 1
            if self._nogc_depth == 0 and self._gc_was_running:
                self._gc(2)

    def _gc(self, what):
        """0 collect, 1 stop, 2 restart, 3 is the collector running?"""
        out = self._buffers().out
        r = self._lib.lc_gc(self._ptr, what, out)
        if r < 0:
            raise self._error(r, out)
        return r

    def get_memory_used(self, total=False):
        """Bytes Lua uses: beyond a fresh runtime's, or all with total=True.
        Counted on every runtime, with or without a limit (lupa: None
        without max_memory)."""
        return self._lib.lc_memory_used(self._ptr, bool(total))

    def get_max_memory(self, total=False):
        """The memory limit in force, in bytes beyond a fresh runtime's use
        (or in all, total=True), as max_memory or set_max_memory() set it;
        None when there is none (never asked for, or set to 0)."""
        limit = self._lib.lc_memory_limit(self._ptr, bool(total))
        return None if limit < 0 else limit

    def set_max_memory(self, max_memory, total=False):
        """Sets the memory limit: max_memory bytes beyond a fresh runtime's
        use (with total=True: in all); 0 or less: no limit.  Works on every
        runtime, also one made without max_memory (lupa raises RuntimeError
        there).  A limit below what is in use makes new allocations fail
        until memory is freed; the globals can still be had, to free it."""
        if not isinstance(max_memory, int) or isinstance(max_memory, bool):
            raise TypeError("max_memory must be an int")
        self._lib.lc_set_memory_limit(self._ptr, min(max_memory, 2**62), bool(total))
        # compiled chunks kept for eval() would count against the limit
        if self._loader is None:
            self._chunks = None if max_memory > 0 else (self._chunks or ({}, {}))

    # ---- execution limits -----------------------------------------------------
    def set_limits(self, max_instructions=_KEEP, max_time=_KEEP):
        """Limits every call into Lua from Python (eval, execute, calling a Lua
        function, resuming a coroutine) to max_instructions Lua VM
        instructions and max_time seconds of wall-clock time (None: no
        limit; a limit not given keeps its current value, as in limits()).  A call that runs out raises LuaLimitError; Lua code cannot
        catch the stop with pcall.  Counted to a granularity of 1000
        instructions; time spent in Python callbacks counts towards max_time.
        Coroutines are covered wherever they were created and whoever resumes
        them.  While a call is running in another thread, this waits for it to
        end (interrupt() does not)."""
        if max_instructions is _KEEP:
            max_instructions = self._limits[0]
        if max_time is _KEEP:
            max_time = self._limits[1]
        instructions = _check_limit(max_instructions, "max_instructions", int)
        seconds = _check_limit(max_time, "max_time", (int, float))
        if seconds is not None and seconds > 1e9:
            raise ValueError("max_time is too large")
        self._lib.lc_set_limits(
            self._ptr,
            -1 if instructions is None else instructions,
            0.0 if seconds is None else float(seconds),
        )
        self._limits = (instructions, seconds)  # after: a running call reports its own

    def get_limits(self):
        """The current (max_instructions, max_time)."""
        return self._limits

    @contextlib.contextmanager
    def limits(self, max_instructions=_KEEP, max_time=_KEEP):
        """Applies set_limits() inside a with block, restoring the previous
        limits afterwards; a limit not given keeps its current value."""
        previous = self._limits
        self.set_limits(
            previous[0] if max_instructions is _KEEP else max_instructions,
            previous[1] if max_time is _KEEP else max_time,
        )
        try:
            yield self
        finally:
            self.set_limits(*previous)

    def interrupt(self):
        """Stops the Lua code running in this runtime, from another thread or
        from a signal handler: the call running Lua (in whatever thread) raises
        LuaInterrupted, which pcall cannot catch; the runtime stays usable.
        Does not wait for the runtime's lock and never blocks.  Lua stops at
        its next VM instruction; a Python callback that is running is not
        interrupted, Lua stops when it returns.  Returns True if a call was
        running, False if not: then nothing happens (later calls are not
        affected; execute() may compile first, a call of its own: repeat
        interrupt() until the caller's thread is done to stop it for sure).  On LuaJIT, code compiled by the JIT never checks: an
        interrupt reaches it only when it leaves compiled code (runtimes with
        limits run with the JIT off, and are always reached)."""
        ptr = self._ptr
        return ptr is not None and bool(self._lib.lc_interrupt(ptr))

    # ---- asyncio ------------------------------------------------------------------
    async def eval_async(self, lua_code, *args, name=None, mode=None):
        """Like eval(), but Lua may call async Python functions: each such call
        suspends the Lua code until the awaitable is done (on the running loop)."""
        if isinstance(lua_code, (bytes, bytearray)):
            lua_code = b"return " + bytes(lua_code)
        elif isinstance(lua_code, str):
            lua_code = "return " + lua_code
        return await self.execute_async(lua_code, *args, name=name, mode=mode)

    async def execute_async(self, lua_code, *args, name=None, mode=None):
        """Like execute(), with async Python functions callable from Lua."""
        func = self._load(lua_code, name, mode, "error loading code: ")
        return await _async.drive(self, func, args)

    async def call_async(self, lua_function, *args):
        """Calls a Lua function with async Python functions callable from Lua."""
        return await _async.drive(self, lua_function, args)

    def _call_results(self, result):
        results = Callbacks._call_results(self, result)
        if len(results) == 1 and (type(results[0]) is _CoroutineType or self._async.enabled):
            return _async.check_result(self, results)
        return results

    def _pyobj_metatable(self):
        out = self._buffers().out
        r = self._lib.lc_pyobj_metatable(self._ptr, out)
        if r < 0:
            raise self._error(r, out)
        return self._results(r, out, BUFFER_SIZE)

    def _abort(self):
        """A KeyboardInterrupt/SystemExit in a callback: Lua must not catch it."""
        self._lib.lc_abort(self._ptr)

    def set_overflow_handler(self, overflow_handler):
        """Sets the function that converts Python ints too large for Lua."""
        if overflow_handler is not None and not callable(overflow_handler):
            raise ValueError("overflow_handler must be callable")
        self._overflow_handler = overflow_handler

    # ---- operations used by the wrappers --------------------------------------
    def _with_objects(self, keep, entry, *args):
        """Calls C function `entry` for values among which are Python objects
        (in `keep`, see _to_val): they are pinned in C, then registered,
        until the entry has pushed them, so that Lua (in another thread)
        cannot release them in between.  (An unpin that fails, Python's
        stack being exhausted, leaves them alive, and no lock taken.)"""
        lib, ptr = self._lib, self._ptr
        handles = self._handles(keep)
        lib.lc_pin_handles(ptr, handles, len(handles), 1)
        try:
            self._register(keep)
            return entry(ptr, *args)
        finally:
            lib.lc_pin_handles(ptr, handles, len(handles), -1)
            if len(self._objects) > self._gc_objects_mark:
                _cycles.note_growth(self)

    def _buffers(self):
        try:
            return self._tls.buffers
        except AttributeError:
            return self._backend.buffers()

    def _unpack(self, r):
        """The value of packed result r (csrc/lc_types.h, enum lc_packed),
        raising the error it reports."""
        kind = r & 7
        if kind == P_NIL:
            return None
        if kind >= P_STR:  # (CPython: in this thread's pack buffer)
            try:
                pack = self._tls.buffers.pack
            except AttributeError:  # (a thread's first use)
                pack = self._buffers().pack
            if kind == P_FLOAT:
                return _unpack_double(pack)[0]
            data = pack[0 : r >> 3]
            return data.decode(self._encoding) if self._encoding is not None else data
        if kind == P_REF:
            r >>= 3
            return _wrap(self, r >> 4, r & 15)
        if kind == P_OUT:
            if _PACK_RESULTS and r >= 16:  # (2 results or more)
                values = self._unpacked(r >> 3)
                if values is not None:
                    return tuple(values)
            return self._results(r >> 3, self._buffers().out, BUFFER_SIZE)
        if kind == P_BOOL:
            return r > 7
        if kind == P_INT:
            return r >> 3
        raise self._error(r >> 3, self._buffers().out)

    def _call(self, ref, args):
        """Calls the Lua value `ref` with any arguments (the wrappers call
        lc_call_i, lc_call_d and lc_call_s themselves for one int, float,
        str or bytes)."""
        n = len(args)
        lib = self._lib
        if n == 0:
            r = lib.lc_call(self._ptr, ref, self._null, 0)
        elif n == 1 and type(args[0]) is str and self._encoding is not None:
            a = args[0].encode(self._encoding)
            r = lib.lc_call_s(self._ptr, ref, a, len(a))
        elif n == 1 and type(args[0]) is float:
            r = lib.lc_call_d(self._ptr, ref, args[0])
        elif n == 1 and type(args[0]) is bytes:
            r = lib.lc_call_s(self._ptr, ref, args[0], len(args[0]))
        else:
            r = self._call_any(ref, args, self._lc_call, self._lc_call_p)
        return r >> 3 if r & 7 == 0 else self._unpack(r)

    def _call_any(self, ref, args, entry, packed_entry):
        """entry (lc_call, lc_call_chunk or lc_resume) with any arguments;
        packed_entry, its variant for arguments of the common types packed
        by the struct module (see _args_plan)."""
        if _PACK_ARGS:
            types = tuple(map(type, args))
            plan = self._plans.get(types)
            if plan is None:
                plan = self._args_plan(types)
            if plan:
                sig, pack, strings = plan
                try:
                    if strings:
                        data, strs = self._packed_args(args, pack, strings)
                    else:
                        data, strs = pack(*args), b""
                except struct.error:  # (an int beyond 64 bits: the general way)
                    pass
                else:
                    r = packed_entry(self._ptr, ref, len(args), sig, data, strs)
                    if r != _RANGE:  # (an int Lua cannot hold: the general way)
                        return r
        n = len(args)
        argv = self._buffers().args if n <= BUFFER_SIZE else self._ffi.new("lc_val[]", n)
        keep, pyobjs = self._fill(argv, args)
        if pyobjs:
            return self._with_objects(keep, entry, ref, argv, n)
        return entry(self._ptr, ref, argv, n)

    def _getitem(self, ref, key):
        """t[key] for any key (the wrappers call lc_getitem_i and
        lc_getitem_s themselves for int and str keys)."""
        b = self._buffers()
        t = type(key)
        if t is str and self._encoding is not None:
            key = key.encode(self._encoding)
            r = self._lib.lc_getitem_s(self._ptr, ref, key, len(key))
        elif key is None:
            b.args0.tag = NONE
            r = self._lib.lc_getitem(self._ptr, ref, b.args0)
        else:
            keep = []
            if self._to_val(b.args0, key, keep):
                r = self._with_objects(keep, self._lib.lc_getitem, ref, b.args0)
            else:
                r = self._lib.lc_getitem(self._ptr, ref, b.args0)
        return r >> 3 if r & 7 == 0 else self._unpack(r)

    def _setitem(self, ref, key, value):
        b = self._buffers()
        keep = []
        if key is None:
            b.args0.tag = NONE
            pyobjs = False
        else:
            pyobjs = self._to_val(b.args0, key, keep)
        if self._to_val(b.args1, value, keep):
            pyobjs = True
        if pyobjs:
            r = self._with_objects(keep, self._lib.lc_setitem, ref, b.args0, b.args1)
        else:
            r = self._lib.lc_setitem(self._ptr, ref, b.args0, b.args1)
        if r < 0:
            raise self._error(r, b.out)

    def _new_coroutine(self, fref, args):
        out = self._buffers().out
        r = self._lib.lc_newthread(self._ptr, fref, out)
        if r < 0:
            raise self._error(r, out)
        return _LuaThread(self, out[0].i, args)

    def _resume_packed(self, ref, args):
        """Resumes coroutine ref: lc_resume's packed result (see _LuaThread)."""
        if not args:
            return self._lib.lc_resume(self._ptr, ref, self._null, 0)
        return self._call_any(ref, args, self._lib.lc_resume, self._lib.lc_resume_p)

    def _resume(self, ref, args):
        """Resumes coroutine ref: (results, finished, number of results)."""
        r = self._resume_packed(ref, args)
        kind = r & 7
        if kind != P_OUT:
            return self._unpack(r), False, 1  # one value yielded (or an error)
        count = r >> 4
        return self._results(count, self._buffers().out, BUFFER_SIZE), bool(r & 8), count


def _checked_options(
    encoding,
    source_encoding,
    attribute_filter,
    attribute_handlers,
    register_eval,
    register_builtins,
    overflow_handler,
    max_memory,
    string_hash_seed,
    max_instructions,
    max_time,
    libraries,
    sandbox,
):
    """LuaRuntime's arguments checked (TypeError/ValueError for bad ones)
    and normalised, with the sandbox's settings applied."""
    attribute_handlers = _attribute_handlers(attribute_handlers)
    if attribute_filter is not None and attribute_handlers is not None:
        raise ValueError("attribute_filter and attribute_handlers are mutually exclusive")
    if attribute_filter is not None and not callable(attribute_filter):
        raise ValueError("attribute_filter must be callable")
    if overflow_handler is not None and not callable(overflow_handler):
        raise ValueError("overflow_handler must be callable")
    if max_memory is not None:
        if not isinstance(max_memory, (int, float)) or isinstance(max_memory, bool):
            raise TypeError("max_memory must be a number or None")
        max_memory = int(min(max_memory, 2**62))
    o = types.SimpleNamespace(
        encoding=_encoding_name(encoding),
        source_encoding=_encoding_name(source_encoding),
        attribute_filter=attribute_filter,
        attribute_handlers=attribute_handlers,
        register_eval=register_eval,
        register_builtins=register_builtins,
        overflow_handler=overflow_handler,
        max_memory=max_memory,
        string_hash_seed=LuaRuntime._hash_seed(string_hash_seed),
        max_instructions=max_instructions,
        max_time=max_time,
        libraries=libraries,
    )
    if sandbox:
        from ._sandbox import sandbox_options

        o.__dict__.update(
            sandbox_options(
                sandbox,
                libraries=libraries,
                max_memory=max_memory,
                max_time=max_time,
                max_instructions=max_instructions,
                attribute_filter=attribute_filter,
            )
        )
    _library_mask(o.libraries)  # (checks the names)
    return o


# the `libraries` argument: names of the standard libraries to open
LIBRARY_BITS = {
    "base": 1,
    "package": 2,
    "coroutine": 4,
    "table": 8,
    "io": 16,
    "os": 32,
    "string": 64,
    "math": 128,
    "utf8": 256,
    "debug": 512,
    "bit": 1024,
    "jit": 2048,
    "ffi": 4096,
}


def _library_mask(libraries):
    if libraries == "all" or libraries is None:
        return LIB_ALL
    if isinstance(libraries, (str, bytes)):
        raise TypeError("libraries must be 'all' or a collection of library names")
    mask = 0
    for name in libraries:
        if name not in LIBRARY_BITS:
            raise ValueError(
                "unknown Lua library %r (known: %s)" % (name, ", ".join(sorted(LIBRARY_BITS)))
            )
        mask |= LIBRARY_BITS[name]
    return mask


def _attribute_handlers(handlers):
    """The attribute_handlers argument as (getter, setter), or None for the
    default behaviour: None, an empty sequence or (None, None) (as lupa).
    Any iterable of two works, a one-shot iterator included."""
    if handlers is None:
        return None
    try:
        handlers = tuple(handlers)
    except TypeError:
        raise ValueError("attribute_handlers must be a sequence of two callables")
    if not handlers:
        return None
    if len(handlers) != 2 or not all(f is None or callable(f) for f in handlers):
        raise ValueError("attribute_handlers must be a sequence of two callables")
    # a None side keeps the default behaviour (see Callbacks._python_getitem)
    return None if handlers[0] is None and handlers[1] is None else handlers


def _encoding_name(encoding):
    """An encoding argument as a str (lupa accepts bytes too)."""
    if encoding is None or isinstance(encoding, str):
        return encoding
    if isinstance(encoding, bytes):
        return encoding.decode("ascii")
    raise ValueError("expected string, got %s" % (type(encoding),))


def _check_limit(value, name, types):
    if value is None:
        return None
    if not isinstance(value, types) or isinstance(value, bool):
        raise TypeError("%s must be %s or None" % (name, "an int" if types is int else "a number"))
    if value != value or value <= 0:
        raise ValueError("%s must be positive" % name)
    if value > 2**62:
        raise ValueError("%s is too large" % name)
    return value


_STILL_RUNNING = "Lua did not stop; the runtime may still be busy"


def call_interruptibly(runtime, func, *args, **kwargs):
    """Calls func(*args, **kwargs) (something that runs Lua code in `runtime`,
    e.g. runtime.execute) in a worker thread and waits for it, so that Ctrl-C
    can stop Lua: KeyboardInterrupt while waiting calls runtime.interrupt()
    (again every 50 ms until Lua is reached: a Python callback may be
    running), and the Lua code raises LuaInterrupted, which is raised here
    like any other exception of func; if func ends normally after a Ctrl-C,
    KeyboardInterrupt is raised.  A second Ctrl-C while still waiting raises
    KeyboardInterrupt at once, with the message in _STILL_RUNNING (as lua.c,
    whose second Ctrl-C ends the process): for what interrupt() cannot reach (code compiled by LuaJIT's
    JIT, a long C call, a Python callback that does not return); the worker
    thread (a daemon) may then still run and hold the runtime.  Must be
    called from the main thread, the only one that gets KeyboardInterrupt."""
    return _call_interruptibly(runtime, func, args, kwargs)


def _call_interruptibly(runtime, func, args, kwargs, notice=None):
    """call_interruptibly; notice() is called once when Lua has not stopped
    0.1 s after the first Ctrl-C (the command line says then that a second
    Ctrl-C exits)."""
    result = []
    # released when the work is done.  A plain lock: Ctrl-C can interrupt
    # its acquire() and leave it sound, where in Event.wait() (and so in
    # Thread.join) it can land inside the Condition's own lock handling,
    # and the next wait fails ("release unlocked lock")
    done = threading.Lock()
    done.acquire()

    def work():
        try:
            result.append((True, func(*args, **kwargs)))
        except BaseException as e:  # handed to the waiting thread
            result.append((False, e))
        finally:
            done.release()

    interrupted = False
    try:
        threading.Thread(target=work, name="lupacffi-call", daemon=True).start()
    except KeyboardInterrupt:  # in start(), which waits for the thread
        interrupted = True
    waited = 0
    while True:
        try:
            if interrupted:
                runtime.interrupt()
                waited += 1
                if waited == 2 and notice is not None:
                    notice()
            if done.acquire(timeout=0.05):
                break
        except KeyboardInterrupt:
            if interrupted:  # the second Ctrl-C: Lua may still be running
                raise KeyboardInterrupt(_STILL_RUNNING) from None
            interrupted = True
    ok, value = result[0]
    if not ok:
        try:
            raise value
        finally:
            value = None
    if interrupted:
        raise KeyboardInterrupt
    return value


def _collect_dropped_runtimes(backend):
    """PyPy frees a dropped runtime only in a full garbage collection, and its
    collector does not see Lua's memory, only the small Python object: a
    program that drops many runtimes would grow without end.  So every 8th
    new runtime sums the Lua memory of the live ones, and collects when it
    has doubled (and grown by 32 MiB) since the last collection made here."""
    backend.new_runtimes += 1
    if backend.new_runtimes < 8:
        return
    backend.new_runtimes = 0
    if _live_lua_memory(backend) > 2 * backend.lua_memory_mark + (32 << 20):
        gc.collect()  # (the first one runs the finalizers,
        gc.collect()  # the second one frees what they released)
        backend.lua_memory_mark = _live_lua_memory(backend)


def _live_lua_memory(backend):
    total = 0
    for ref in list(backend.runtimes.values()):
        rt = ref()
        if rt is not None and rt._ptr is not None:
            total += rt._lib.lc_memory_used(rt._ptr, 1)
    return total


class _Chunk(_TakenRef):
    """A compiled chunk in a runtime's cache (see LuaRuntime._chunk): the
    registry reference of its function wrapper, taken over."""

    __slots__ = ()


class _Absent(object):
    """Marks an optional entry of the python table that is left out."""
