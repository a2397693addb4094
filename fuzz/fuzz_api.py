"""Fuzzes lupacffi's public API: fuzzer-chosen sequences of operations on
runtimes of every built backend.

    python fuzz/fuzz_api.py fuzz/corpus -dict=fuzz/lua.dict -max_total_time=3600   # atheris (CPython)
    python fuzz/fuzz_api.py --random --seconds 600 [--seed N]                    # no atheris (PyPy too)
    python fuzz/fuzz_api.py CRASH_FILE                                           # replays one input (atheris)

An input is `LUA SNIPPET` [NUL `CONTROL BYTES`]: the snippet part is plain Lua
text (so the seed corpus, fuzz/corpus/, is real Lua snippets and syntax
errors that libFuzzer mutates byte by byte), the control bytes choose the
operations through a FuzzedDataProvider.  Without control bytes the default
choices (all zero) still make a runtime and run the snippet.

A finding is anything that is not an allowed outcome: a crash or abort (the
process dies), a hang (libFuzzer's -timeout, or a thread that does not come
back), an exception outside EXPECTED, or a broken invariant (`Finding`).

What the harness keeps away from Lua, because it would end or endanger the
fuzzing process without being a bug of lupacffi (every runtime gets PRELUDE):
io, os (but time/clock), package/require/dofile/loadfile, most of debug
(debug.setmetatable and friends can break any C library's assumptions),
binary chunks (Lua does not verify bytecode), python.builtins (replaced by a
dict of harmless builtins) and python.eval of anything but short literal-like
expressions.  Every runtime has an instruction limit and a memory limit,
so no snippet can loop forever or take the machine's memory.
"""

import asyncio
import gc
import importlib
import contextlib
import importlib.util
import math
import os
import pkgutil
import random
import re
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
if importlib.util.find_spec("lupacffi") is None:
    sys.path.insert(0, SRC)  # not installed, nor on PYTHONPATH: the development tree

try:
    import atheris
except ImportError:  # PyPy, or not installed: --random still works
    atheris = None

# coverage feedback for atheris: lupacffi's Python modules (all of them are
# imported inside the block) and the harness's own operations (see main())
INSTRUMENT = atheris is not None and "--random" not in sys.argv
with atheris.instrument_imports(include=["lupacffi"]) if INSTRUMENT else contextlib.nullcontext():
    import lupacffi
    from lupacffi.errors import LuaError

    BACKENDS = [
        importlib.import_module("lupacffi." + name) for name in lupacffi.available_backends()
    ]
    # every Python module of the package (not the compiled backends, _lua_54 & co)
    for _info in pkgutil.iter_modules(lupacffi.__path__):
        if _info.name.startswith("_") and not re.match(r"_lua_(jit)?\d+$|__main__$", _info.name):
            importlib.import_module("lupacffi." + _info.name)
CORPUS_DIR = os.path.join(HERE, "corpus")


class Finding(AssertionError):
    """A broken invariant: the harness found a bug."""


class FuzzError(Exception):
    """Raised on purpose by the harness's callbacks and evil objects; it must
    come back to Python as itself (or as a LuaError where Lua caught it)."""


class FuzzInterrupt(KeyboardInterrupt):
    """A KeyboardInterrupt raised on purpose in a callback: lupacffi must let
    it through pcall and hand it back as itself."""


# The exception types an operation may end with.  Everything else is a finding.
EXPECTED = (
    LuaError,  # Lua errors, syntax errors, memory and limit errors (one class for all backends)
    FuzzError,  # the harness's own exceptions, re-raised as themselves (SPEC: callbacks)
    TypeError,  # wrong argument types, calling/indexing what cannot be (documented, lupa-behaviour.md)
    ValueError,  # bad option values; UnicodeError for text not valid in the runtime's encoding
    OverflowError,  # ints that do not fit lua_Integer without an overflow_handler (lupa-behaviour #11)
    AttributeError,  # attribute_filter denials, missing attributes of Python objects reached from Lua
    IndexError,  # non-sequence unpacking (SPEC), Python sequences indexed from Lua
    KeyError,  # Python mappings indexed from Lua raise their own KeyError
    MemoryError,  # LuaMemoryError is one; Python running out under a Lua memory limit
    RecursionError,  # Lua -> Python -> Lua recursion reaching Python's recursion limit
    SyntaxError,
    NameError,
    ZeroDivisionError,  # python.eval of fuzzed expressions
)


# ---------------------------------------------------------------------------
# A pure-Python FuzzedDataProvider (the methods the harness uses), for
# --random and for interpreters without atheris.
class ByteProvider(object):
    def __init__(self, data):
        self._data = data
        self._pos = 0

    def remaining_bytes(self):
        return len(self._data) - self._pos

    def _take(self, n):
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk

    def ConsumeIntInRange(self, lo, hi):
        span = hi - lo
        if span <= 0:
            return lo
        nbytes = (span.bit_length() + 7) // 8
        raw = self._take(nbytes)
        return lo + int.from_bytes(raw.ljust(nbytes, b"\0"), "little") % (span + 1)

    def ConsumeBool(self):
        return bool(self.ConsumeIntInRange(0, 1))

    def ConsumeBytes(self, n):
        return bytes(self._take(n))

    def ConsumeUnicode(self, n):
        raw = self._take(2 * n)
        return "".join(
            chr(int.from_bytes(raw[i : i + 2], "little") % 0xE000 + (0x800 if raw[i] & 1 else 0))
            for i in range(0, len(raw) - 1, 2)
        )

    def ConsumeUnicodeNoSurrogates(self, n):
        return "".join(c for c in self.ConsumeUnicode(n) if not 0xD800 <= ord(c) < 0xE000)

    def ConsumeRegularFloat(self):
        raw = self._take(8).ljust(8, b"\0")
        value = struct.unpack("<d", raw)[0]
        return value if math.isfinite(value) else 0.5

    def PickValueInList(self, values):
        return values[self.ConsumeIntInRange(0, len(values) - 1)]


# ---------------------------------------------------------------------------
# Lua side
PRELUDE = r"""
local rawload, type, error, tostring, select = load, type, error, tostring, select
-- print converts its arguments as usual but writes nothing
print = function(...) for i = 1, select('#', ...) do tostring((select(i, ...))) end end
os = os and {time = os.time, clock = os.clock}
io, package, require, dofile, loadfile, module = nil, nil, nil, nil, nil, nil
if debug then debug = {traceback = debug.traceback, getinfo = debug.getinfo} end
if string then string.dump = nil end
local function textonly(chunk)
  return type(chunk) == 'string' and chunk:byte(1) ~= 27
end
if rawload then
  load = function(chunk, name, mode, env)
    if not textonly(chunk) then return nil, 'fuzz: text chunks only' end
    if env ~= nil then return rawload(chunk, name, 't', env) end
    return rawload(chunk, name, 't')
  end
end
if loadstring then
  local rawloadstring = loadstring
  loadstring = function(chunk, name)
    if not textonly(chunk) then return nil, 'fuzz: text chunks only' end
    return rawloadstring(chunk, name)
  end
end
if python then
  local rawval = python.eval
  if rawval then
    python.eval = function(s)
      if type(s) ~= 'string' or #s > 40 or s:find('[^%w%s%.%[%],{}:\'"+-]') or s:find('_') then
        error('fuzz: python.eval of this expression is not allowed')
      end
      return rawval(s)
    end
  end
  if python.builtins then python.builtins = py_builtins end
end
py_builtins = nil
"""

SAFE_BUILTINS = {
    name: getattr(__builtins__, name, None)
    if not isinstance(__builtins__, dict)
    else __builtins__[name]
    for name in (
        "len",
        "str",
        "int",
        "float",
        "list",
        "dict",
        "tuple",
        "type",
        "isinstance",
        "repr",
        "sorted",
        "abs",
        "max",
        "min",
        "range",
        "bool",
        "bytes",
        "set",
    )
}

FALLBACK_SNIPPETS = [
    "return 1 + 1",
    "return ...",
    "local t = {...} return t, #t",
    "return function(...) return ... end",
    "x = = 1",
    "return {1, 2, nil, 4}",
    "error('boom')",
    "return coroutine.wrap(function() end)",
]


def load_snippets():
    snippets = []
    if os.path.isdir(CORPUS_DIR):
        for name in sorted(os.listdir(CORPUS_DIR)):
            with open(os.path.join(CORPUS_DIR, name), "rb") as f:
                snippets.append(f.read().split(b"\0", 1)[0])
    return snippets or [s.encode() for s in FALLBACK_SNIPPETS]


SNIPPETS = load_snippets()
# small expressions used from inside callbacks (re-entering a runtime)
INNER = [
    "1 + 1",
    "{1, 2, 3}",
    "function(...) return ... end",
    "py_id",
    "select('#', ...)",
    "coroutine.create(function(...) coroutine.yield(...) return 1 end)",
    "error('inner')",
    "python and python.none",
    "string.rep('ab', 100)",
    "setmetatable({}, {__index = function(t, k) return k end})",
]


# ---------------------------------------------------------------------------
# Python values
class EvilBase(object):
    """Each dunder raises FuzzError when its bit is set in `mode`."""

    def __init__(self, mode, payload=None):
        self.mode = mode
        self.payload = payload

    def _check(self, bit):
        if self.mode & (1 << bit):
            raise FuzzError("evil %d" % bit)

    def __eq__(self, other):
        self._check(0)
        return self is other

    def __hash__(self):
        self._check(1)
        return id(self) >> 4

    def __str__(self):
        self._check(2)
        return "Evil"

    def __repr__(self):
        self._check(3)
        return "<Evil %d>" % self.mode

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self._check(4)
        raise AttributeError(name)

    def __call__(self, *args):
        self._check(5)
        return args

    def __lt__(self, other):
        self._check(6)
        return id(self) < id(other)

    def __len__(self):
        self._check(7)
        return 3

    def __bool__(self):
        self._check(8)
        return True

    def __iter__(self):
        self._check(9)
        return iter((1, 2, 3))


class EvilItem(EvilBase):
    def __getitem__(self, key):
        self._check(10)
        if isinstance(key, int) and 0 <= key < 3:
            return key
        raise KeyError(key)

    def __setitem__(self, key, value):
        self._check(11)


class Plain(object):
    def __init__(self, value=None):
        self.value = value
        self.name = "plain"

    def method(self, *args):
        return (self.value,) + args


async def py_async(x=None):
    return x


def lua_type(value):
    return BACKENDS[0].lua_type(value)


def has_no_lua_object(value, depth=0):
    """True for Python values that hold no Lua object (as far as Lua can reach)."""
    if depth > 4:
        return False
    if value is None or isinstance(value, (bool, int, float, str, bytes, bytearray)):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(has_no_lua_object(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(
            has_no_lua_object(k, depth + 1) and has_no_lua_object(v, depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, EvilBase):
        return has_no_lua_object(value.payload, depth + 1)
    return isinstance(value, Plain)


# ---------------------------------------------------------------------------
class Session(object):
    """One input: some runtimes, a pool of values, a sequence of operations."""

    MAX_OPS = 48

    def __init__(self, fdp, snippet):
        self.fdp = fdp
        self.snippet = snippet
        self.runtimes = []
        self.pool = []
        self.in_thread_op = False  # see op_thread

    # -- helpers ------------------------------------------------------------
    def int(self, lo, hi):
        return self.fdp.ConsumeIntInRange(lo, hi)

    def chance(self, n):
        """True once in n."""
        return self.int(0, n - 1) == 0

    def pick(self, values):
        return values[self.int(0, len(values) - 1)] if values else None

    def runtime(self):
        if not self.runtimes:
            self.new_runtime()
        return self.pick(self.runtimes)

    def code(self):
        """A snippet: the input's own, a corpus one, a mutated one, or fuzzer text."""
        how = self.int(0, 5)
        if how <= 1:
            code = self.snippet
        elif how == 2:
            code = self.pick(SNIPPETS)
        elif how == 3:
            code = bytearray(self.pick(SNIPPETS))
            for _ in range(self.int(1, 4)):
                if not code:
                    break
                at = self.int(0, len(code) - 1)
                kind = self.int(0, 2)
                if kind == 0:
                    del code[at : at + self.int(1, 8)]
                elif kind == 1:
                    code[at:at] = self.pick(SNIPPETS)[: self.int(0, 40)]
                else:
                    code[at] = self.int(32, 126)
            code = bytes(code)
        elif how == 4:
            code = self.pick(SNIPPETS) + b"\n" + self.snippet
        else:
            code = self.fdp.ConsumeUnicodeNoSurrogates(self.int(0, 60)).encode("utf-8", "replace")
        return code.lstrip(b"\x1b")  # never a binary chunk (Lua does not verify bytecode)

    def value(self, depth=0):
        kind = self.int(0, 24)
        if kind == 0:
            return None
        if kind == 1:
            return self.fdp.ConsumeBool()
        if kind == 2:
            return self.int(-1000, 1000)
        if kind == 3:
            return self.pick(
                [
                    2**63 - 1,
                    -(2**63),
                    2**63,
                    -(2**63) - 1,
                    2**64,
                    10**30,
                    -(10**400),
                    2**53 + 1,
                    1 << 1000,
                ]
            )
        if kind == 4:
            return self.pick(
                [
                    float("nan"),
                    float("inf"),
                    float("-inf"),
                    -0.0,
                    1e308,
                    5e-324,
                    self.fdp.ConsumeRegularFloat(),
                ]
            )
        if kind == 5:
            return self.fdp.ConsumeUnicode(self.int(0, 20))  # may hold lone surrogates
        if kind == 6:
            return self.fdp.ConsumeBytes(self.int(0, 20))  # often invalid UTF-8
        if kind == 7:
            return self.pick(
                [b"\xff\xfe", b"\xc3", b"a\0b", "\0", "\udc80", "é€𝄞", bytearray(b"\x80x")]
            )
        if kind <= 10 and depth < 3:
            items = [self.value(depth + 1) for _ in range(self.int(0, 4))]
            shape = self.int(0, 3)
            if shape == 0:
                return items
            if shape == 1:
                return tuple(items)
            if shape == 2:
                d = {}
                for item in items:
                    try:
                        d[item] = self.value(depth + 1)
                    except (TypeError, FuzzError):  # unhashable or evil keys
                        pass
                return d
            try:
                return set(items)
            except (TypeError, FuzzError):
                return items
        if kind == 11:
            cls = EvilItem if self.fdp.ConsumeBool() else EvilBase
            return cls(self.int(0, 4095), self.value(depth + 1) if depth < 2 else None)
        if kind == 12:
            return Plain(self.int(0, 9))
        if kind == 13:
            return self.pick(self.callbacks())
        if kind == 14 and self.runtimes:
            return (
                self.pick(BACKENDS).as_attrgetter(self.pick(self.pool)) if self.pool else object()
            )
        if kind == 15 and self.pool:
            return self.pick(BACKENDS).as_itemgetter(self.pick(self.pool))
        if kind == 16:
            return self.pick(
                [object, Plain, len, sys, range(5), iter([1, 2]), (x for x in range(3)), py_async]
            )
        # a value seen before: a Lua object (maybe of another runtime) or a Python one
        return self.pick(self.pool) if self.pool else self.int(0, 9)

    def args(self):
        return [self.value() for _ in range(self.int(0, 3))]

    def keep(self, result):
        if isinstance(result, tuple) and self.fdp.ConsumeBool():
            self.pool.extend(result[:8])
        else:
            self.pool.append(result)
        if len(self.pool) > 64:
            del self.pool[:16]

    # -- callbacks from Lua ---------------------------------------------------
    def callbacks(self):
        session = self

        def py_id(*args):
            return args[0] if len(args) == 1 else args

        def py_raise(kind=None):
            if kind == 1:
                raise FuzzInterrupt()
            if kind == 2:
                raise ValueError("fuzz value error")
            raise FuzzError("raised in a callback")

        def py_call(f=None, *args):
            return f(*args)

        def py_eval(*args):
            rt = session.runtime()
            return rt.eval(session.pick(INNER), *args)

        def py_gc():
            gc.collect()

        def py_drop():
            for _ in range(session.int(0, 4)):
                if session.pool:
                    del session.pool[session.int(0, len(session.pool) - 1)]

        def py_value(*args):
            return session.value()

        return [py_id, py_raise, py_call, py_eval, py_gc, py_drop, py_value, py_async]

    # -- operations -----------------------------------------------------------
    def new_runtime(self):
        if self.in_thread_op:
            return None
        if len(self.runtimes) >= 4:
            return self.op_drop_runtime()
        module = self.pick(BACKENDS)
        fdp = self.fdp
        kwargs = {
            "unpack_returned_tuples": fdp.ConsumeBool(),
            "register_eval": fdp.ConsumeBool(),
            "register_builtins": fdp.ConsumeBool(),
            "max_memory": self.pick([1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 25]),
            "max_instructions": self.pick([100, 3000, 10**5, 10**6]),
        }
        if self.chance(4):
            kwargs["encoding"] = self.pick([None, "latin-1", "ascii", "utf-16", "UTF-8"])
        if self.chance(3):

            def attribute_filter(obj, name, setting, session=self):
                how = session.int(0, 3)
                if how == 0:
                    raise AttributeError("denied " + str(name))
                if how == 1:
                    raise FuzzError("filter")
                return name if how == 2 else "value"

            kwargs["attribute_filter"] = attribute_filter
        elif self.chance(4):
            kwargs["attribute_handlers"] = (
                lambda obj, name: self.value(),
                lambda obj, name, value: self.pool.append(value),
            )
        if self.chance(4):
            kwargs["overflow_handler"] = self.pick(
                [float, str, lambda n: n % 1000, lambda n: 1 / 0]
            )
        if self.chance(5):
            kwargs["sandbox"] = self.pick([True, {"max_time": 5}])
        elif self.chance(6):
            kwargs["libraries"] = self.pick(
                [(), ("base",), ("base", "string", "table"), ("coroutine", "math")]
            )
        if self.chance(8):
            kwargs["string_hash_seed"] = self.int(0, 2**32 - 1)
        rt = module.LuaRuntime(**kwargs)
        rt.globals().py_builtins = dict(SAFE_BUILTINS)
        rt.execute(PRELUDE.encode())  # bytes: whatever the runtime's encoding
        g = rt.globals()
        for f in self.callbacks():
            g[f.__name__] = f
        g.obj = Plain(1)
        self.runtimes.append(rt)
        self.pool.append(rt.globals())

    def op_drop_runtime(self):
        if self.runtimes and not self.in_thread_op:
            del self.runtimes[self.int(0, len(self.runtimes) - 1)]

    def op_eval(self):
        rt = self.runtime()
        how = self.int(0, 3)
        code = self.code()
        if self.fdp.ConsumeBool():
            code = code.decode("utf-8", "replace")
        if how == 0:
            self.keep(rt.execute(code, *self.args()))
        elif how == 1:
            self.keep(rt.eval(code, *self.args()))
        elif how == 2:
            self.keep(rt.compile(code, name=self.pick([None, "=fuzz", "@f.lua", "x" * 300])))
        else:
            try:
                self.keep(asyncio.run(rt.execute_async(code, *self.args())))
            except RuntimeError as e:
                # documented: a runtime opened without the coroutine library
                if "coroutine library" not in str(e):
                    raise

    def op_call(self):
        target = self.pick(self.pool)
        if callable(target):
            self.keep(target(*self.args()))

    def op_index(self):
        self.runtime()  # (a choice the fuzzer makes, as in the other ops)
        target = self.pick(self.pool)
        if lua_type(target) is None:
            return
        key = self.value()
        how = self.int(0, 5)
        if how == 0:
            self.keep(target[key])
        elif how == 1:
            target[key] = self.value()
        elif how == 2:
            del target[key]
        elif how == 3:
            name = self.pick(["x", "name", "value", "__index", "n", "method"])
            self.keep(getattr(target, name))
        elif how == 4:
            setattr(target, self.pick(["x", "value", "1"]), self.value())
        else:
            self.keep(len(target))

    def op_iterate(self):
        target = self.pick(self.pool)
        if lua_type(target) not in ("table", "thread", "function", "userdata"):
            return
        how = self.int(0, 4)
        if lua_type(target) == "thread":
            if how == 0:
                self.keep(target.send(self.value()))
            else:
                self.keep(next(target))
            return
        if lua_type(target) == "function":
            co = target.coroutine(*self.args())
            self.pool.append(co)
            return
        it = [
            target.keys,
            target.values,
            target.items,
            lambda: iter(target),
            lambda: iter(target.items()),
        ][how]()
        for n, item in enumerate(it):
            if n > 100:
                break
            if self.chance(16):
                target[self.value()] = self.value()  # changes the table while iterating
                break
            if self.chance(8):
                self.keep(item)

    def op_tables(self):
        rt = self.runtime()
        how = self.int(0, 3)
        if how == 0:
            self.keep(rt.table(*self.args(), **{"k": self.value(), "n": self.value()}))
        elif how == 1:
            self.keep(
                rt.table_from(
                    *[self.value() for _ in range(self.int(1, 3))], recursive=self.fdp.ConsumeBool()
                )
            )
        elif how == 2:
            target = self.pick(self.pool)
            if lua_type(target) == "table":
                module = self.pick(BACKENDS)
                self.keep(
                    module.to_python(
                        target,
                        max_depth=self.pick([None, 1, 3]),
                        allow_cycles=self.fdp.ConsumeBool(),
                    )
                )
        else:
            self.keep(rt.globals()[self.pick(["obj", "py_id", "string", "_G", "python", "x"])])

    def op_globals(self):
        rt = self.runtime()
        name = self.pick(["x", "obj", "f", "t", "py_id", "print", "_G", "python"])
        rt.globals()[name] = self.value()

    def op_text(self):
        target = self.pick(self.pool)
        how = self.int(0, 4)
        if how == 0:
            str(target)
        elif how == 1:
            repr(target)
        elif how == 2:
            hash(target)
        elif how == 3:
            target == self.pick(self.pool)
        else:
            bool(target)

    def op_identity(self):
        """A Python object through Lua and back is the very same object."""
        rt = self.runtime()
        value = self.value()
        ident = rt.eval("function(...) return ... end")
        back = ident(value)
        # as_attrgetter()/as_itemgetter() are markers: Lua gets (and hands back) the object inside
        marker = type(value).__module__ == "lupacffi._protocols"
        if (
            lua_type(value) is None
            and not isinstance(value, (int, float, str, bytes, bytearray))
            and value is not None
            and not marker
        ):
            if back is not value:
                raise Finding("identity lost: %r came back as %r" % (type(value), type(back)))
        elif isinstance(value, bool) and back is not value:
            raise Finding("bool %r came back as %r" % (value, back))

    def op_memory(self):
        rt = self.runtime()
        how = self.int(0, 5)
        if how == 0:
            rt.gccollect()
        elif how == 1:
            gc.collect()
        elif how == 2:
            rt.set_max_memory(self.pick([1 << 16, 1 << 20, 1 << 25]))
        elif how == 3:
            with rt.nogc():
                self.op_eval()
        elif how == 4:
            with rt.limits(max_instructions=self.pick([10, 1000, 10**5])):
                self.op_call()
        else:
            rt.get_memory_used()
            rt.get_max_memory()

    def op_drop(self):
        for _ in range(self.int(1, 8)):
            if self.pool:
                del self.pool[self.int(0, len(self.pool) - 1)]

    def op_thread(self):
        """Another thread runs operations on a runtime while this one does too.

        Both work on one fresh runtime and on plain Python values only: a
        callback holds its runtime's lock, so two threads calling across two
        runtimes from callbacks can deadlock (A waits for B, B for A) like
        any two locks taken in opposite orders; that is not what we look for."""
        if self.in_thread_op:
            return
        saved_runtimes, saved_pool = self.runtimes, self.pool
        self.runtimes = []
        self.new_runtime()
        plain = [v for v in saved_pool if has_no_lua_object(v)]
        self.pool = list(plain)
        sub = Session(ByteProvider(self.fdp.ConsumeBytes(self.int(0, 96))), self.snippet)
        sub.runtimes, sub.pool = list(self.runtimes), list(plain)
        self.in_thread_op = sub.in_thread_op = True
        errors = []

        def run():
            try:
                sub.run_ops(8)
            except BaseException as e:  # checked below, on this thread
                errors.append(e)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        try:
            for _ in range(self.int(1, 4)):
                self.step()
        finally:
            t.join(120)
            self.in_thread_op = False
            new_items = self.pool + sub.pool
            self.runtimes = saved_runtimes + self.runtimes
            self.pool = saved_pool + new_items[-16:]
            if t.is_alive():
                raise Finding("a thread did not come back within 120 s (deadlock?)")
        sub = None
        for e in errors:
            self.check(e)

    OPS = [
        "new_runtime",
        "op_eval",
        "op_eval",
        "op_call",
        "op_index",
        "op_iterate",
        "op_tables",
        "op_globals",
        "op_text",
        "op_identity",
        "op_memory",
        "op_drop",
        "op_drop_runtime",
        "op_thread",
    ]

    def step(self):
        op = getattr(self, self.OPS[self.int(0, len(self.OPS) - 1)])
        try:
            op()
        except BaseException as e:
            self.check(e)

    @staticmethod
    def check(e):
        if isinstance(e, (FuzzInterrupt, StopIteration) + EXPECTED) and not isinstance(e, Finding):
            return
        raise e

    def run_ops(self, n):
        for _ in range(n):
            if self.fdp.remaining_bytes() == 0:
                break
            self.step()

    def run(self):
        # with no control bytes: one default runtime running the snippet
        try:
            self.new_runtime()
            self.keep(self.runtimes[0].execute(self.snippet.lstrip(b"\x1b")))
        except BaseException as e:
            self.check(e)
        self.run_ops(self.MAX_OPS)
        # drop everything in a fuzzer-chosen order
        while self.pool or self.runtimes:
            if self.runtimes and self.fdp.ConsumeBool():
                self.op_drop_runtime()
            elif self.pool:
                del self.pool[self.int(0, len(self.pool) - 1)]
            else:
                self.runtimes.pop()
        if self.fdp.remaining_bytes() and self.chance(4):
            gc.collect()


def split_input(data):
    snippet, _, control = bytes(data).partition(b"\0")
    return snippet, control


def test_one_input(data, provider_class=None):
    snippet, control = split_input(data)
    if provider_class is None:
        provider_class = atheris.FuzzedDataProvider if atheris is not None else ByteProvider
    Session(provider_class(control), snippet).run()


# ---------------------------------------------------------------------------
def random_inputs(seed):
    """Inputs for --random: a corpus snippet, maybe mutated, then random control bytes."""
    rng = random.Random(seed)
    while True:
        snippet = bytearray(rng.choice(SNIPPETS))
        for _ in range(rng.choice([0, 0, 1, 3])):
            if snippet:
                at = rng.randrange(len(snippet))
                snippet[at : at + rng.randrange(4)] = rng.choice(SNIPPETS)[: rng.randrange(20)]
        control = bytes(rng.randrange(256) for _ in range(rng.randrange(16, 400)))
        yield bytes(snippet).replace(b"\0", b" ") + b"\0" + control


def main_random(argv):
    import argparse

    parser = argparse.ArgumentParser(description="random-driven fuzzing without atheris")
    parser.add_argument("--random", action="store_true")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--runs", type=int, default=0, help="stop after this many inputs (0: by time)"
    )
    parser.add_argument("--seed", type=int, default=None)
    opts = parser.parse_args(argv)
    seed = opts.seed if opts.seed is not None else random.randrange(2**32)
    end = time.monotonic() + opts.seconds
    runs = 0
    for data in random_inputs(seed):
        if (opts.runs and runs >= opts.runs) or (not opts.runs and time.monotonic() > end):
            break
        try:
            test_one_input(data, ByteProvider)
        except BaseException:
            path = "crash-random-%d-%d" % (seed, runs)
            with open(path, "wb") as f:
                f.write(data)
            print("FINDING on input %d of seed %d, input saved to %s" % (runs, seed, path))
            raise
        runs += 1
    print("fuzz --random: %d inputs, seed %d, no finding" % (runs, seed))


def main():
    if "--random" in sys.argv:
        return main_random(sys.argv[1:])
    if atheris is None:
        sys.exit("atheris is not installed (pip install atheris; CPython only): use --random")
    for name, member in list(vars(Session).items()):
        if callable(member) and not isinstance(member, staticmethod):
            setattr(Session, name, atheris.instrument_func(member))
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
