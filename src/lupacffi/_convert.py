"""Conversion between Python values and lc_val structs (the border format),
and turning error results into Python exceptions.  Mixed into LuaRuntime."""

import itertools
import struct

from ._backend import _PYPY
from ._constants import (
    BOOL,
    ERR_CLOSED,
    ERR_DEPTH,
    ERR_INSTRUCTIONS,
    ERR_INTERRUPTED,
    ERR_MEMORY,
    ERR_SYNTAX,
    ERR_TIME,
    FLOAT,
    INT,
    MAX_PACKED_ARGS,
    NIL,
    NONE,
    PYOBJ,
    REF,
    STR,
    TAKEN,
)
from ._lua_objects import _LuaObject, _TakenRef, _wrap
from ._protocols import _Boxed, unwrap
from ._traceback import add_lua_frames, split as _split_traceback
from .errors import LuaError, LuaInterrupted, LuaLimitError, LuaMemoryError, LuaSyntaxError

_STATUS_MESSAGES = {
    ERR_CLOSED: "the Lua runtime is closed",
    ERR_DEPTH: "too many nested calls between Python and Lua",
}


# On PyPy ffi.from_buffer() of a small bytes object costs ~300 ns (it has to
# pin or copy a movable object); a copy by ffi.new() ~80 ns: strings shorter
# than this are copied there.  (On CPython from_buffer is the cheaper one.)
_COPY_MAX = 1 << 16

# lc_val (csrc/lc_types.h) is {int tag, int aux, long long i, double d,
# const char *s}: 32 bytes, read as columns when converting many results
_LC_VAL_SIZE = struct.calcsize("iiqdP")

# batches of at least this many values try lc_int_column first (_batch)
_INT_COLUMN_MIN = 32

_MAX_HANDLE = 1 << 53  # handles must be exact as Lua 5.1 numbers
# Lua 5.1 and LuaJIT: a whole float below this (in magnitude) that the
# backend's integers hold becomes a Python int (the C side packs those within
# 2^53 the same way, lc_packed in csrc/lc_convert.c)
_WHOLE_MAX = 9.2e18
_surrogate_handles = itertools.count(-1, -1)  # (next() is atomic)


class _Surrogate(object):
    """An object with a surrogate handle, as it waits to be registered."""

    __slots__ = ("h", "obj")

    def __init__(self, h, obj):
        self.h = h
        self.obj = obj

    def register(self, rt):
        # (again: Lua may have released the handle since it was chosen)
        rt._objects[self.h] = self.obj
        rt._surrogates[id(self.obj)] = self.h


class _LuaHandler(_TakenRef):
    """An overflow handler set from Lua (python.set_overflow_handler): the
    Lua function's registry reference, with the runtime held weakly."""

    __slots__ = ()

    def __call__(self, value):  # (callable, as a handler must be; used through _overflow)
        runtime = self._runtime()
        if runtime is None:
            raise ValueError("the Lua runtime of this handler is gone")
        return runtime._overflow(value, [])


def _format_traceback(tb):
    """Lua's "stack traceback:" text with the innermost frame last."""
    lines = tb.split("\n\t")
    return "\n\t".join(lines[:1] + lines[:0:-1])


# Several arguments of the common types cross packed by the struct module
# (lc_unpack_args in csrc/lc_ops.c): on CPython that fills the arguments in C
# for ~100 ns, where each lc_val field written from Python costs ~50 ns.  On
# PyPy the JIT makes the fields almost free, and they stay.
_PACK_ARGS = not _PYPY
# type -> (its letter in the signature, its struct code)
_ARG_CODES = {
    type(None): ("n", "?"),
    bool: ("b", "?"),
    int: ("i", "q"),
    float: ("d", "d"),
    str: ("s", "q"),
    bytes: ("s", "q"),
}
_MAX_PLANS = 256  # argument type signatures remembered per runtime

# Several results come back the same way (lc_pack in csrc/lc_convert.c): a tag
# per value, then one struct field each, then the strings' bytes.
_PACK_RESULTS = not _PYPY
_RESULT_CODES = {NIL: "?", BOOL: "?", INT: "q", FLOAT: "d", STR: "q", REF: "q"}
_result_plans = {}  # the tags (and their count before them) -> _result_plan()


def _result_plan(key):
    """What reading packed results with these tags takes: their struct, and
    the (index, tag) of the values that are not the field itself."""
    if len(_result_plans) >= 1024:  # (batches of mixed values can make many)
        _result_plans.clear()
    tags = key[1:]
    plan = _result_plans[key] = (
        struct.Struct("=" + "".join(_RESULT_CODES[tag] for tag in tags)),
        tuple((k, tag) for k, tag in enumerate(tags) if tag in (NIL, STR, REF)),
    )
    return plan


class Converter(object):
    """Value conversion; expects the runtime's _ffi, _lib, _ptr, _objects,
    _encoding and _backend attributes."""

    # ---- Python -> Lua ----------------------------------------------------
    def _to_val(self, v, obj, keep):
        """Writes obj into v.  Buffers that must outlive the C call are added to
        `keep`.  Returns True for a Python object that still needs registering
        (it is added to `keep` too)."""
        t = type(obj)
        if t is int:
            if self._minint <= obj <= self._maxint:
                v.tag = INT
                v.i = obj
                return False
            return self._to_val(v, self._overflow(obj, keep), keep)
        if t is str and self._encoding is not None:
            b = obj.encode(self._encoding)
            buf = (
                self._ffi.new("char[]", b)
                if _PYPY and len(b) < _COPY_MAX
                else self._ffi.from_buffer(b)
            )
            keep.append(buf)
            v.tag = STR
            v.s = buf
            v.i = len(b)
            return False
        if t is float:
            v.tag = FLOAT
            v.d = obj
            return False
        if obj is None:
            v.tag = NIL
            return False
        if t is bool:
            v.tag = BOOL
            v.i = obj
            return False
        if t is bytes:
            buf = (
                self._ffi.new("char[]", obj)
                if _PYPY and len(obj) < _COPY_MAX
                else self._ffi.from_buffer(obj)
            )
            keep.append(buf)
            v.tag = STR
            v.s = buf
            v.i = len(obj)
            return False
        if isinstance(obj, _LuaObject):
            if obj._rt is not self:
                raise ValueError("cannot mix objects from different Lua runtimes")
            v.tag = REF
            v.i = obj._ref
            return False
        if isinstance(obj, int):  # (bool has no subclasses: handled above)
            return self._to_val(v, int(obj), keep)
        if isinstance(obj, float):
            return self._to_val(v, float(obj), keep)
        if isinstance(obj, str) and self._encoding is not None:
            return self._to_val(v, str(obj), keep)
        if isinstance(obj, bytes):  # (a bytearray stays a Python object, as in lupa)
            return self._to_val(v, bytes(obj), keep)
        v.tag = PYOBJ
        h = id(obj)
        if 0 < h < _MAX_HANDLE:
            v.i = h
            keep.append(obj)
        else:
            s = self._surrogate(obj, h)
            v.i = s.h
            keep.append(s)
        return True

    # ---- handles of Python objects -----------------------------------------
    # An object's handle is its id(), except where that does not fit the C
    # handle (PyPy gives complex numbers ids of 130 bits, some negative): such
    # objects get a negative surrogate handle from a counter, the same one
    # for as long as Lua holds the object.
    _surrogates = None  # id(obj) -> surrogate handle

    def _surrogate(self, obj, h):
        surrogates = self._surrogates
        if surrogates is None:  # (setdefault: atomic, threads may race here)
            surrogates = self.__dict__.setdefault("_surrogates", {})
        handle = surrogates.get(h)
        if handle is None:
            if len(surrogates) > 2 * len(self._objects) + 100:
                # drop those of objects that never reached Lua (a failed call)
                objects = self._objects
                for key, value in list(surrogates.items()):
                    if value not in objects:
                        surrogates.pop(key, None)
            handle = surrogates.setdefault(h, next(_surrogate_handles))
        return _Surrogate(handle, obj)

    def _handle(self, obj):
        """obj's handle, for registering it at once."""
        h = id(obj)
        if 0 < h < _MAX_HANDLE:
            return h
        return self._surrogate(obj, h).h

    def _forget_handle(self, handle, obj):
        """Lua released handle, the handle of obj."""
        if handle < 0 and self._surrogates is not None:
            key = id(obj)
            if self._surrogates.get(key) == handle:
                del self._surrogates[key]

    def _overflow(self, value, keep):
        """What the overflow handler makes of int `value`.  A Lua object it
        returns is a new wrapper that nothing else holds: kept alive (in
        `keep`, as a cffi handle, which is never registered) until C has
        pushed its reference."""
        handler = self._overflow_handler
        if handler is None:
            raise OverflowError("Python int too large to convert to Lua integer")
        if type(handler) is _LuaHandler:
            result = self._overflow_in_lua(handler._ref, value)
        elif isinstance(handler, _LuaObject):
            if handler._rt is not self:
                raise ValueError("cannot mix objects from different Lua runtimes")
            result = self._overflow_in_lua(handler._ref, value)
        else:
            result = handler(value)
            if type(result) is int and not (self._minint <= result <= self._maxint):
                raise OverflowError("overflow handler returned an int out of range")
        if isinstance(result, _LuaObject):
            keep.append(self._ffi.new_handle(result))
        return result

    def _overflow_in_lua(self, ref, value):
        """A handler that is a Lua function (registry reference ref): it gets
        the int as a Python object (a userdata), and its first result goes to
        Lua as it is, the int itself staying a userdata (as in lupa).  With
        an argument buffer of its own: the thread's is being filled by the
        caller."""
        argv = self._ffi.new("lc_val[1]")
        keep = []
        self._to_val(argv[0], _Boxed(value), keep)
        r = self._with_objects(keep, self._lib.lc_call, ref, argv, 1)
        result = r >> 3 if r & 7 == 0 else self._unpack(r)
        if type(result) is tuple:
            result = result[0]
        if (
            isinstance(result, int)
            and not isinstance(result, bool)
            and not (self._minint <= result <= self._maxint)
        ):
            return _Boxed(result)
        return result

    def _handles(self, keep):
        """The handles of the Python objects in `keep`."""
        return [
            obj.h if type(obj) is _Surrogate else id(obj)
            for obj in keep
            if not isinstance(obj, self._ffi.CData)
        ]

    def _register(self, keep):
        """Makes the Python objects in `keep` known to Lua (pinned, see
        _with_objects)."""
        objects = self._objects
        for obj in keep:
            if type(obj) is _Surrogate:
                obj.register(self)
            elif not isinstance(obj, self._ffi.CData):
                objects[id(obj)] = obj

    def _args_plan(self, types):
        """How to pack arguments of these types (a tuple) for the entries
        that take them packed (lc_unpack_args in csrc/lc_ops.c), remembered
        in self._plans: (signature, struct packer, the (index, is a str) of
        the strings, whose lengths are packed, the bytes passed apart), or
        False for the general way."""
        plan = False
        if 0 < len(types) <= MAX_PACKED_ARGS and all(t in _ARG_CODES for t in types):
            if str not in types or self._encoding is not None:
                codes = [_ARG_CODES[t] for t in types]
                strings = tuple((k, t is str) for k, t in enumerate(types) if t in (str, bytes))
                plan = (
                    "".join(c[0] for c in codes).encode("ascii"),
                    struct.Struct("<" + "".join(c[1] for c in codes)).pack,
                    strings,
                )
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        self._plans[types] = plan
        return plan

    def _packed_args(self, args, pack, strings):
        """(data, strs) of args with strings among them, packed by `pack`
        (_args_plan): the strings' lengths are packed, their bytes passed
        apart, one after the other.  struct.error if an int does not fit 64
        bits (the general way asks the overflow handler)."""
        values = list(args)
        parts = []
        for k, is_str in strings:
            b = values[k].encode(self._encoding) if is_str else values[k]
            values[k] = len(b)
            parts.append(b)
        return pack(*values), parts[0] if len(parts) == 1 else b"".join(parts)

    def _fill(self, vals, items):
        """Writes items into vals; returns (keep, needs_registering)."""
        keep = []
        to_val = self._to_val
        n = len(items)
        if n <= 6:
            # unrolled: on PyPy a loop of a few rounds inside the caller's
            # loop costs ~40 ns a round (the JIT does not unroll it)
            pyobjs = n > 0 and to_val(vals[0], items[0], keep)
            pyobjs = n > 1 and to_val(vals[1], items[1], keep) or pyobjs
            pyobjs = n > 2 and to_val(vals[2], items[2], keep) or pyobjs
            pyobjs = n > 3 and to_val(vals[3], items[3], keep) or pyobjs
            pyobjs = n > 4 and to_val(vals[4], items[4], keep) or pyobjs
            pyobjs = n > 5 and to_val(vals[5], items[5], keep) or pyobjs
            return keep, pyobjs
        pyobjs = False
        for i, item in enumerate(items):
            if to_val(vals[i], item, keep):
                pyobjs = True
        return keep, pyobjs

    # ---- Lua -> Python ----------------------------------------------------
    def _from_val(self, v):
        tag = v.tag
        if tag == INT:
            return v.i
        if tag == STR:
            b = self._ffi.unpack(v.s, v.i)
            return b.decode(self._encoding) if self._encoding else b
        if tag == FLOAT:
            d = v.d
            if not self._has_integers and d.is_integer() and -_WHOLE_MAX < d < _WHOLE_MAX:
                i = int(d)
                if self._minint <= i <= self._maxint:
                    return i
            return d
        if tag == NIL or tag == NONE:
            return None
        if tag == BOOL:
            return v.i != 0
        if tag == REF:
            return _wrap(self, v.i, v.aux)
        if tag == PYOBJ:
            return unwrap(self._objects[v.i])
        if tag == TAKEN:
            return self._taken.pop(v.i)
        raise TypeError("unknown value tag %d" % tag)

    def _value1(self, v):
        """The value of one result at pointer v (pinned, if a Python object)."""
        if v.tag == PYOBJ:
            h = v.i
            try:
                return unwrap(self._objects[h])
            finally:
                self._lib.lc_unpin(self._ptr, h)
        return self._from_val(v)

    def _results(self, n, out, nout):
        """The Python value of n results: None, one value, or a tuple.  Python
        objects among them were pinned by C until we have taken them."""
        if n == 1:
            return self._value1(out[0])
        if n == 0:
            return None
        if _PACK_RESULTS:
            values = self._unpacked(n)
            if values is not None:
                return tuple(values)  # (no copy when it is one already)
        if n > nout:
            out = self._ffi.new("lc_val[]", n)
            self._lib.lc_fetch(out, n)
        values = [None] * n
        error = None
        pinned = []
        for k in range(n):
            try:
                if out[k].tag == PYOBJ:
                    pinned.append(out[k].i)
                values[k] = self._from_val(out[k])
            except Exception as e:  # convert (and so release) all the others
                error = error or e
        for h in pinned:
            self._lib.lc_unpin(self._ptr, h)
        if error is not None:
            raise error
        return tuple(values)

    def _batch(self, n, out):
        """The values of out[0:n] (None: this thread's result buffer, n <=
        BUFFER_SIZE) as a list: the same as _results, faster for many values
        on CPython: the structs are read as columns through memoryviews, the
        strings from one copy of the thread's string buffer.  On PyPy the JIT
        makes reading them field by field the faster way."""
        if out is None:
            if _PACK_RESULTS and n >= 2:
                values = self._unpacked(n)
                if values is not None:
                    return list(values)
            out = self._buffers().out
        if _PYPY:
            values = self._results(n, out, n)
            return [values] if n == 1 else list(values)
        ffi = self._ffi
        if n >= _INT_COLUMN_MIN:  # all ints (the common big batch): C copies them out
            column = ffi.new("long long[]", n)
            if self._lib.lc_int_column(out, n, column):
                return ffi.unpack(column, n)
        raw = memoryview(ffi.buffer(out, n * _LC_VAL_SIZE))
        tags = raw.cast("i")[0 :: _LC_VAL_SIZE // 4].tolist()
        ints = raw.cast("q")[1 :: _LC_VAL_SIZE // 8].tolist()
        if tags.count(INT) == n:
            return ints
        floats = raw.cast("d")[2 :: _LC_VAL_SIZE // 8].tolist()
        whole = not self._has_integers  # Lua 5.1, LuaJIT: whole numbers are ints
        if (
            whole
            and tags.count(FLOAT) == n
            and -_WHOLE_MAX < min(floats)
            and max(floats) < _WHOLE_MAX
        ):
            return [int(d) if d.is_integer() else d for d in floats]
        lo, hi = self._minint, self._maxint
        if STR in tags:
            strings, base = self._result_strings()
            pointers = raw.cast("Q")[3 :: _LC_VAL_SIZE // 8].tolist()
        encoding = self._encoding
        values = []
        append = values.append
        pinned = []
        error = None
        for k, tag in enumerate(tags):
            if tag == INT:
                append(ints[k])
            elif tag == STR:
                start = pointers[k] - base
                b = strings[start : start + ints[k]]
                if encoding is None:
                    append(b)
                else:
                    try:
                        append(b.decode(encoding))
                    except UnicodeDecodeError as e:  # release the rest first
                        error = error or e
                        append(None)
            elif tag == FLOAT:
                d = floats[k]
                # (as _from_val does)
                if whole and d.is_integer() and -_WHOLE_MAX < d < _WHOLE_MAX and lo <= int(d) <= hi:
                    append(int(d))
                else:
                    append(d)
            elif tag == PYOBJ:
                pinned.append(ints[k])
                try:
                    append(unwrap(self._objects[ints[k]]))
                except Exception as e:
                    error = error or e
                    append(None)
            else:
                try:
                    append(self._from_val(out[k]))
                except Exception as e:
                    error = error or e
                    append(None)
        for h in pinned:
            self._lib.lc_unpin(self._ptr, h)
        if error is not None:
            raise error
        return values

    def _unpacked(self, n):
        """The n (>= 2) results of this thread's last entry point, read from
        their packed form (lc_pack, csrc/lc_api.h), as a tuple or a list;
        None if they were not packed."""
        try:
            pack = self._tls.buffers.pack
        except AttributeError:  # (a thread's first use)
            pack = self._buffers().pack
        key = pack[0 : n + 1]
        if key[0] != n:
            return None
        layout, others = _result_plans.get(key) or _result_plan(key)
        if not others:
            return layout.unpack_from(pack, n + 1)
        values = list(layout.unpack_from(pack, n + 1))
        pos = n + 1 + layout.size  # the strings
        encoding = self._encoding
        error = None
        for k, tag in others:
            if tag == STR:  # (its field: its length)
                end = pos + values[k]
                value = pack[pos:end]
                pos = end
                if encoding is not None:
                    try:
                        value = value.decode(encoding)
                    except UnicodeDecodeError as e:  # (the references still get wrappers)
                        error = error or e
                values[k] = value
            elif tag == REF:
                values[k] = _wrap(self, values[k] >> 4, values[k] & 15)
            else:
                values[k] = None
        if error is not None:
            raise error
        return values

    def _result_strings(self):
        """A copy of this thread's result strings, and the address it had."""
        ffi = self._ffi
        size = ffi.new("size_t *")
        base = self._lib.lc_result_strings(size)
        return ffi.buffer(base, size[0])[:], int(ffi.cast("uintptr_t", base))

    # ---- errors ------------------------------------------------------------
    def _error(self, status, out, prefix=""):
        """The exception for a negative status of an entry point (the one
        place that maps them); out[0] and out[1] are the error value and the
        traceback."""
        if status in _STATUS_MESSAGES:
            return LuaError(_STATUS_MESSAGES[status])
        if status == ERR_INTERRUPTED:
            return LuaInterrupted()
        if status == ERR_INSTRUCTIONS:
            budget = self._limits[0]  # (another thread may have changed it since)
            return self._stopped_at(
                LuaLimitError(
                    "Lua stopped: instruction limit of %s exceeded" % budget, "instructions", budget
                )
            )
        if status == ERR_TIME:
            budget = self._limits[1]
            return self._stopped_at(
                LuaLimitError(
                    "Lua stopped: time limit of %s seconds exceeded" % budget, "time", budget
                )
            )
        traceback = self._ffi.unpack(out[1].s, out[1].i) if out[1].tag == STR else b""
        return self._exception(status, self._error_value(out), traceback, prefix)

    def _exception(self, status, value, traceback, prefix=""):
        """The exception for a Lua error with `value` (ERR_SYNTAX, ERR_MEMORY
        or any other error status); `traceback` is the shim's text traceback
        and frame records (see _traceback), or b""."""
        tb, records = _split_traceback(traceback)
        if isinstance(value, BaseException):
            return add_lua_frames(value, records)
        tb = tb.decode("utf-8", "replace")
        if isinstance(value, bytes):
            message = value.decode(self._encoding or "utf-8", "replace")
        elif isinstance(value, str):
            message = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            message = self._number_text(value)
        elif value is None:
            message = None
        else:
            message = ""
        if message is not None and prefix:
            message = prefix + message
        if tb and message != "":
            tb = _format_traceback(tb)
            message = tb if message is None else message + "\n" + tb
        cls = {ERR_SYNTAX: LuaSyntaxError, ERR_MEMORY: LuaMemoryError}.get(status, LuaError)
        if cls is LuaError and message and "not enough memory" in message.split("\n", 1)[0]:
            cls = LuaMemoryError  # raised as a plain error by a library (e.g. buffers)
        error = cls(message or "")
        error.value = value
        return add_lua_frames(error, records)

    def _stopped_at(self, error):
        """A limit error, with the Lua frames where Lua was stopped."""
        v = self._ffi.new("lc_val *")
        if self._lib.lc_stop_traceback(v) and v.tag == STR:
            add_lua_frames(error, self._ffi.unpack(v.s, v.i))
        return error

    def _error_value(self, out):
        if out[0].tag == STR:  # keep the bytes: messages may be undecodable
            return self._ffi.unpack(out[0].s, out[0].i)
        try:
            return self._results(1, out, 1)
        except Exception as e:
            return "error value lost: %r" % (e,)

    def _number_text(self, value):
        if isinstance(value, float) and value.is_integer() and self._has_integers:
            return "%.1f" % value
        if isinstance(value, float):
            return "%.14g" % value
        return str(value)
