"""LuaRuntime: one Lua state, its options and the operations on it."""
import builtins
import contextlib
import gc
import itertools
import platform
import threading
import types
import weakref

from . import _async, _cycles
from ._backend import BUFFER_SIZE, get_backend
from ._bridge import Bridge
from ._constants import ERR_SYNTAX, LIB_ALL, LUA_NOREF, NONE, PYOBJ
from ._convert import Converter
from ._lua_objects import _LuaThread
from .errors import LuaError, LuaInterrupted, LuaMemoryError
_runtime_ids = itertools.count(1)
_KEEP = object()          # limits(): keep the current value
_CoroutineType = types.CoroutineType

_DEFAULT_NAME = b"<python>"
_CHUNK_CACHE_SIZE = 64    # compiled chunks kept per runtime for eval()/execute()
_CHUNK_MAX_LEN = 4096     # longer code is compiled every time
_ERR_INTERRUPTED = -10    # csrc/lc_types.h LC_ERR_INTERRUPTED


def _is_plain_name(value):
    """None, str or bytes (as a cache key: exact types, no custom __eq__)."""
    return value is None or type(value) is str or type(value) is bytes


def _as_bytes(value, what, encoding):
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode(encoding)
    raise TypeError("Expected string, got %s" % (type(value),))


class LuaRuntime(Converter, Bridge):
    """A Lua interpreter state.  See the README for the options."""

    _backend_name = None          # set by each backend module's subclass
    _gc_window = None             # references moved during a collection (_cycles.py)
    _gc_objects_mark = _cycles._GROWTH_FLOOR   # PyPy: see _cycles.note_growth
    _gc_objects_base = 0          # Python objects of the python table (_cycles.py)
    _gc_next_scan = 0.0           # see _cycles._freeze

    def __init__(self, encoding="UTF-8", source_encoding=None, attribute_filter=None,
                 attribute_handlers=None, register_eval=True, unpack_returned_tuples=False,
                 register_builtins=True, overflow_handler=None, max_memory=None,
                 string_hash_seed=None, max_instructions=None, max_time=None,
                 libraries="all", sandbox=False):
        self._ptr = None
        backend = self._backend = get_backend(self._backend_name)
        encoding = _encoding_name(encoding)
        source_encoding = _encoding_name(source_encoding)
        if attribute_filter is not None and attribute_handlers is not None:
            raise ValueError("attribute_filter and attribute_handlers are mutually exclusive")
        if attribute_filter is not None and not callable(attribute_filter):
            raise ValueError("attribute_filter must be callable")
        if attribute_handlers is not None:
            try:
                getter, setter = attribute_handlers
            except (TypeError, ValueError):
                raise ValueError("attribute_handlers must be a sequence of two callables")
            if not all(f is None or callable(f) for f in (getter, setter)):
                raise ValueError("attribute_handlers must be a sequence of two callables")
            # a None side keeps the default behaviour (see Bridge._python_getitem)
            attribute_handlers = None if getter is None and setter is None else (getter, setter)
        if overflow_handler is not None and not callable(overflow_handler):
            raise ValueError("overflow_handler must be callable")
        if max_memory is not None:
            if not isinstance(max_memory, (int, float)) or isinstance(max_memory, bool):
                raise TypeError("max_memory must be a number or None")
            max_memory = int(min(max_memory, 2 ** 62))
        seed = self._hash_seed(string_hash_seed)
        if sandbox:
            from ._sandbox import sandbox_options
            options = sandbox_options(locals(), sandbox)
            register_eval, register_builtins = options["register_eval"], options["register_builtins"]
            attribute_filter = options["attribute_filter"]
            libraries, max_memory = options["libraries"], options["max_memory"]
            max_instructions, max_time = options["max_instructions"], options["max_time"]
        libs = _library_mask(libraries, backend.is_luajit)

        self._ffi = backend.ffi
        self._lib = lib = backend.lib
        self._encoding = encoding
        self._source_encoding = source_encoding or encoding or "utf-8"
        self._attribute_filter = attribute_filter
        self._attribute_handlers = attribute_handlers
        self._unpack_returned_tuples = bool(unpack_returned_tuples)
        self._overflow_handler = overflow_handler
        self._has_integers = backend.has_integers
        self._maxint = backend.maxinteger
        self._minint = backend.mininteger
        self._objects = {}        # id(obj) -> obj for Python objects held by Lua
        self._cb_keep = None      # what the last callback handed to C
        self._pending = None      # callback results beyond the buffer
        self._nogc_depth = 0
        self._limits = (None, None)
        self._async = _async.AsyncState()
        self._tls = backend._tls          # per-thread buffers (see _buffers)
        self._rid = next(_runtime_ids)
        # compiled chunks of execute() and eval(), see _chunk; None: no cache
        self._chunks = None if backend.system_lua or (max_memory or 0) > 0 else ({}, {})
        self._plain_chunks = True     # _load is lua_load's (not the sandbox's)

        ptr = lib.lc_new(self._rid, libs, seed is not None, seed or 0)
        if ptr == backend.ffi.NULL:
            raise LuaMemoryError("could not create a Lua state")
        self._ptr = ptr
        backend.runtimes[self._rid] = weakref.ref(self)
        _cycles.install()
        if _PYPY:
            _collect_dropped_runtimes(backend)
        self._init_python_table(register_eval, register_builtins)
        self._gc_objects_base = len(self._objects)
        if max_memory is not None and max_memory > 0:
            lib.lc_set_memory_limit(ptr, max_memory, 0)
        if max_instructions is not None or max_time is not None:
            self.set_limits(max_instructions, max_time)
        if sandbox:
            from ._sandbox import apply_sandbox
            apply_sandbox(self)
            # its loader gives each chunk an environment of its own: no cache,
            # and chunks run as loaded (see _run_chunk)
            self._chunks = None
            self._plain_chunks = False

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
        keep = []
        values = [None, builtins if register_builtins else _Absent,
                  builtins.eval if register_eval else _Absent]
        for k, value in enumerate(values):
            if value is _Absent:
                objects[k].tag = 0
            else:
                objects[k].tag = PYOBJ
                objects[k].i = id(value)
                self._objects[id(value)] = value
                keep.append(value)
        out = self._backend.buffers().out
        r = self._lib.lc_init_python(self._ptr, objects, out)
        if r < 0:
            raise self._error(r, out)

    def __del__(self):
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr is not None:
            try:
                self._lib.lc_free(ptr)
                self._backend.runtimes.pop(self._rid, None)
            except Exception:     # interpreter shutdown
                pass

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
        chunk = self._chunk(lua_code, name, mode, False)
        return self._run_chunk(chunk._ref, args)    # `chunk` keeps the reference alive

    def eval(self, lua_code, *args, name=None, mode=None):
        """Evaluates a Lua expression and returns its value(s)."""
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
        if caches is not None and (type(code) is str or type(code) is bytes) \
                and len(code) <= _CHUNK_MAX_LEN:
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
                try:      # the oldest goes (and releases its reference)
                    chunks.pop(next(iter(chunks)), None)
                except (RuntimeError, StopIteration):     # changed by another thread
                    pass
            chunks[key] = chunk
        return chunk

    def _run_chunk(self, ref, args):
        """Runs a new closure of chunk ref with args (see _chunk)."""
        if not self._plain_chunks:
            return self._call(ref, args)
        b = self._buffers()
        if args:
            r = self._call_any(ref, args, b, self._lib.lc_call_chunk)
        else:
            r = self._lib.lc_call_chunk(self._ptr, ref, b.args, 0, b.out, BUFFER_SIZE)
        if r == 1:
            return self._value1(b.out0)
        if r < 0:
            raise self._error(r, b.out)
        return self._results(r, b.out, BUFFER_SIZE)

    def _load(self, code, name, mode, prefix):
        code = _as_bytes(code, "code", self._source_encoding)
        name = _DEFAULT_NAME if name is None else _as_bytes(name, "name", self._source_encoding)
        if mode is not None:
            if not isinstance(mode, (str, bytes)):
                raise ValueError("expected string, got %s" % (type(mode),))
            mode = mode.encode("ascii") if isinstance(mode, str) else mode
        else:
            mode = self._ffi.NULL
        out = self._backend.buffers().out
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
        return result[0] if type(result) is tuple else result     # 5.4: (module, path)

    def globals(self):
        """The table of Lua's global variables."""
        out = self._backend.buffers().out
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
        from ._tables import table_from
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
        out = self._backend.buffers().out
        if pyobjs:
            r = self._locked(keep, self._lib.lc_fill_table, ref, vals, n, out)
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
            self._gc(1)       # Lua 5.1 and LuaJIT restart the collector

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
        """Bytes Lua uses: beyond a fresh runtime's, or all with total=True."""
        return self._lib.lc_memory_used(self._ptr, bool(total))

    def get_max_memory(self, total=False):
        """The memory limit in bytes, or None when there is none."""
        limit = self._lib.lc_memory_limit(self._ptr, bool(total))
        return None if limit < 0 else limit

    def set_max_memory(self, max_memory, total=False):
        """Sets the memory limit (bytes; 0 or less: no limit)."""
        if not isinstance(max_memory, int) or isinstance(max_memory, bool):
            raise TypeError("max_memory must be an int")
        self._lib.lc_set_memory_limit(self._ptr, min(max_memory, 2 ** 62), bool(total))
        # compiled chunks kept for eval() would count against the limit
        if self._plain_chunks:
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
        self._lib.lc_set_limits(self._ptr, -1 if instructions is None else instructions,
                                0.0 if seconds is None else float(seconds))
        self._limits = (instructions, seconds)     # after: a running call reports its own

    def get_limits(self):
        """The current (max_instructions, max_time)."""
        return self._limits

    @contextlib.contextmanager
    def limits(self, max_instructions=_KEEP, max_time=_KEEP):
        """Applies set_limits() inside a with block, restoring the previous
        limits afterwards; a limit not given keeps its current value."""
        previous = self._limits
        self.set_limits(previous[0] if max_instructions is _KEEP else max_instructions,
                        previous[1] if max_time is _KEEP else max_time)
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

    def _error(self, status, out, prefix=""):
        if status == _ERR_INTERRUPTED:
            return LuaInterrupted()
        return Converter._error(self, status, out, prefix)

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
        results = Bridge._call_results(self, result)
        if len(results) == 1 and (type(results[0]) is _CoroutineType or self._async.enabled):
            return _async.check_result(self, results)
        return results

    def _pyobj_metatable(self):
        out = self._backend.buffers().out
        r = self._lib.lc_pyobj_metatable(self._ptr, out)
        if r < 0:
            raise self._error(r, out)
        return self._results(r, out, BUFFER_SIZE)

    def _abort(self, exc):
        """A KeyboardInterrupt/SystemExit in a callback: Lua must not catch it."""
        self._lib.lc_abort(self._ptr)

    def set_overflow_handler(self, overflow_handler):
        """Sets the function that converts Python ints too large for Lua."""
        if overflow_handler is not None and not callable(overflow_handler):
            raise ValueError("overflow_handler must be callable")
        self._overflow_handler = overflow_handler

    # ---- operations used by the wrappers --------------------------------------
    def _locked(self, keep, entry, *args):
        """Calls C function `entry` holding the runtime lock while the Python
        objects among the values are registered and pushed, so that Lua cannot
        release them in between."""
        lib, ptr = self._lib, self._ptr
        lib.lc_lock(ptr)
        try:
            self._register(keep)
            return entry(ptr, *args)
        finally:
            lib.lc_unlock(ptr)
            if _PYPY and len(self._objects) > self._gc_objects_mark:
                _cycles.note_growth(self)

    def _buffers(self):
        try:
            return self._tls.buffers
        except AttributeError:
            return self._backend.buffers()

    def _call(self, ref, args):
        """Calls the Lua value `ref` (fast paths for no argument and for one
        int, float or string)."""
        b = self._buffers()
        lib = self._lib
        n = len(args)
        if n == 1:
            a = args[0]
            t = type(a)
            if t is int and self._minint <= a <= self._maxint:
                r = lib.lc_call_i(self._ptr, ref, a, b.out, BUFFER_SIZE)
            elif t is str and self._encoding is not None:
                a = a.encode(self._encoding)
                r = lib.lc_call_s(self._ptr, ref, a, len(a), b.out, BUFFER_SIZE)
            elif t is float:
                r = lib.lc_call_d(self._ptr, ref, a, b.out, BUFFER_SIZE)
            elif t is bytes:
                r = lib.lc_call_s(self._ptr, ref, a, len(a), b.out, BUFFER_SIZE)
            else:
                r = self._call_any(ref, args, b, lib.lc_call)
        elif n == 0:
            r = lib.lc_call(self._ptr, ref, b.args, 0, b.out, BUFFER_SIZE)
        else:
            r = self._call_any(ref, args, b, lib.lc_call)
        if r == 1:
            return self._value1(b.out0)
        if r < 0:
            raise self._error(r, b.out)
        return self._results(r, b.out, BUFFER_SIZE)

    def _call_any(self, ref, args, b, entry):
        """entry (lc_call or lc_call_chunk) with any arguments."""
        n = len(args)
        argv = b.args if n <= BUFFER_SIZE else self._ffi.new("lc_val[]", n)
        keep, pyobjs = self._fill(argv, args)
        if pyobjs:
            return self._locked(keep, entry, ref, argv, n, b.out, BUFFER_SIZE)
        return entry(self._ptr, ref, argv, n, b.out, BUFFER_SIZE)

    def _getitem(self, ref, key):
        b = self._buffers()
        t = type(key)
        if t is str and self._encoding is not None:
            key = key.encode(self._encoding)
            r = self._lib.lc_getitem_s(self._ptr, ref, key, len(key), b.out)
        elif t is int and self._minint <= key <= self._maxint:
            r = self._lib.lc_getitem_i(self._ptr, ref, key, b.out)
        elif key is None:
            b.args0.tag = NONE
            r = self._lib.lc_getitem(self._ptr, ref, b.args, b.out)
        else:
            keep = []
            if self._to_val(b.args0, key, keep):
                r = self._locked(keep, self._lib.lc_getitem, ref, b.args, b.out)
            else:
                r = self._lib.lc_getitem(self._ptr, ref, b.args, b.out)
        if r == 1:
            return self._value1(b.out0)
        raise self._error(r, b.out)

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
            r = self._locked(keep, self._lib.lc_setitem, ref, b.args0, b.args1, b.out)
        else:
            r = self._lib.lc_setitem(self._ptr, ref, b.args0, b.args1, b.out)
        if r < 0:
            raise self._error(r, b.out)

    def _len(self, ref):
        b = self._buffers()
        r = self._lib.lc_len(self._ptr, ref, b.out)
        if r < 0:
            raise self._error(r, b.out)
        return self._value1(b.out0)

    def _new_coroutine(self, fref, args):
        out = self._backend.buffers().out
        r = self._lib.lc_newthread(self._ptr, fref, out)
        if r < 0:
            raise self._error(r, out)
        return _LuaThread(self, out[0].i, out[0].aux, args)

    def _resume(self, ref, args):
        """Resumes coroutine ref: (results, finished, number of results)."""
        lib = self._lib
        b = self._backend.buffers()
        n = len(args)
        argv = b.args if n <= BUFFER_SIZE else self._ffi.new("lc_val[]", n)
        keep, pyobjs = self._fill(argv, args)
        out = b.out
        if pyobjs:
            r = self._locked(keep, lib.lc_resume, ref, argv, n, out, BUFFER_SIZE, b.int1)
        else:
            r = lib.lc_resume(self._ptr, ref, argv, n, out, BUFFER_SIZE, b.int1)
        if r < 0:
            raise self._error(r, out)
        done = b.int1[0]
        return self._results(r, out, BUFFER_SIZE), done, r


# the `libraries` argument: names of the standard libraries to open
LIBRARY_BITS = {"base": 1, "package": 2, "coroutine": 4, "table": 8, "io": 16, "os": 32,
                "string": 64, "math": 128, "utf8": 256, "debug": 512, "bit": 1024, "jit": 2048,
                "ffi": 4096}


def _library_mask(libraries, is_luajit):
    if libraries == "all" or libraries is None:
        return LIB_ALL
    if isinstance(libraries, (str, bytes)):
        raise TypeError("libraries must be 'all' or a collection of library names")
    mask = 0
    for name in libraries:
        if name not in LIBRARY_BITS:
            raise ValueError("unknown Lua library %r (known: %s)"
                             % (name, ", ".join(sorted(LIBRARY_BITS))))
        mask |= LIBRARY_BITS[name]
    return mask


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
        raise TypeError("%s must be %s or None"
                        % (name, "an int" if types is int else "a number"))
    if value != value or value <= 0:
        raise ValueError("%s must be positive" % name)
    if value > 2 ** 62:
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
    done = threading.Event()       # (Thread.join can be confused by Ctrl-C)

    def work():
        try:
            result.append((True, func(*args, **kwargs)))
        except BaseException as e:      # handed to the waiting thread
            result.append((False, e))
        finally:
            done.set()
    interrupted = False
    try:
        threading.Thread(target=work, name="lupacffi-call", daemon=True).start()
    except KeyboardInterrupt:       # in start(), which waits for the thread
        interrupted = True
    waited = 0
    while True:
        try:
            if interrupted:
                runtime.interrupt()
                waited += 1
                if waited == 2 and notice is not None:
                    notice()
            if done.wait(0.05):
                break
        except KeyboardInterrupt:
            if interrupted:       # the second Ctrl-C: Lua may still be running
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


_PYPY = platform.python_implementation() == "PyPy"


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
        gc.collect()          # (the first one runs the finalizers,
        gc.collect()          # the second one frees what they released)
        backend.lua_memory_mark = _live_lua_memory(backend)


def _live_lua_memory(backend):
    total = 0
    for ref in list(backend.runtimes.values()):
        rt = ref()
        if rt is not None and rt._ptr is not None:
            total += rt._lib.lc_memory_used(rt._ptr, 1)
    return total


class _Chunk(object):
    """A compiled chunk in a runtime's cache (see LuaRuntime._chunk): the
    registry reference of its function wrapper, taken over.  It refers to
    the runtime only weakly: a wrapper (which holds its runtime) in the
    runtime's own cache would make a cycle, which CPython frees only in a
    garbage collection, with the whole Lua state."""
    __slots__ = ("_ref", "_runtime")

    def __init__(self, runtime, func):
        self._runtime = weakref.ref(runtime)
        self._ref = func._ref
        object.__setattr__(func, "_ref", LUA_NOREF)     # its __del__ releases nothing now

    def __del__(self):
        runtime = self._runtime()
        try:
            if runtime is not None and runtime._ptr is not None:
                runtime._lib.lc_unref(runtime._ptr, self._ref)
        except Exception:     # interpreter shutdown
            pass


class _Absent(object):
    """Marks an optional entry of the python table that is left out."""
