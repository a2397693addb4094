"""Lua -> Python: the dispatcher of the callbacks that carry every Lua
operation on a Python object (index, call, operators, iteration...) into
Python, the two scalar callbacks of the common cases, and the functions of
the ``python`` table (python.iter, python.args ...)."""

import builtins
import operator
import sys
import types
from types import FunctionType as _FunctionType

from ._constants import (
    BOOL,
    CB_ERROR,
    CB_FUNC,
    CB_ITER,
    FLOAT,
    INT,
    NIL,
    NONE,
    OP_ADD,
    OP_CALL,
    OP_CONCAT,
    OP_DIV,
    OP_EQ,
    OP_FETCH,
    OP_IDIV,
    OP_INDEX,
    OP_ITER_NEXT,
    OP_LE,
    OP_LEN,
    OP_LT,
    OP_MOD,
    OP_MUL,
    OP_NEWINDEX,
    OP_PENDING,
    OP_POW,
    OP_PYFUNC,
    OP_RELEASE,
    OP_STRING,
    OP_SUB,
    OP_THAW,
    OP_TOSTRING,
    OP_UNM,
    P_BOOL,
    P_ERR,
    P_NIL,
    P_OUT,
    PYOBJ,
    REF,
    STR,
    TAKEN,
)
from . import _cycles
from ._constants import TFUNCTION
from ._convert import _LuaHandler
from ._lua_objects import _TYPE_NAMES, _LuaTable
from ._protocols import _AttrGetter, _ItemGetter, _table_args, unwrap

_COMPARISONS = {OP_EQ: operator.eq, OP_LT: operator.lt, OP_LE: operator.le}
_ARITHMETIC = {
    OP_ADD: operator.add,
    OP_SUB: operator.sub,
    OP_MUL: operator.mul,
    OP_DIV: operator.truediv,
    OP_MOD: operator.mod,
    OP_POW: operator.pow,
    OP_IDIV: operator.floordiv,
}

# the functions of the python table, numbered as in csrc/lc_pyobject.c
(
    _PY_ITER,
    _PY_ITEREX,
    _PY_ENUMERATE,
    _PY_AS_ATTRGETTER,
    _PY_AS_ITEMGETTER,
    _PY_AS_FUNCTION,
    _PY_ARGS,
    _PY_SET_OVERFLOW_HANDLER,
) = range(1, 9)
_PY_NAMES = {
    _PY_ITER: "iter",
    _PY_ITEREX: "iterex",
    _PY_ENUMERATE: "enumerate",
    _PY_AS_ATTRGETTER: "as_attrgetter",
    _PY_AS_ITEMGETTER: "as_itemgetter",
    _PY_AS_FUNCTION: "as_function",
}


class _PyArgs(object):
    """What python.args{...} makes: arguments for the Python call it is passed to."""

    __slots__ = ("args", "kwargs")

    def __init__(self, args, kwargs):
        self.args = args
        self.kwargs = kwargs


class _PyIterator(object):
    """The state of python.iter/iterex/enumerate in a Lua for loop."""

    __slots__ = ("it", "explode", "index")

    def __init__(self, it, explode, index=None):
        self.it = it
        self.explode = explode
        self.index = index  # enumerate: the index given last


class _NoneValue(object):
    """Marks a None that must reach Lua as python.none (iteration values)."""


_AS_NONE = _NoneValue()


# builtins that look at the calling Python frame: called from Lua, they see
# the innermost Python frame outside lupacffi (as they would in lupa)
_FRAME_BUILTINS = (
    builtins.eval,
    builtins.exec,
    builtins.globals,
    builtins.locals,
    builtins.vars,
    builtins.dir,
)
_FRAME_BUILTIN_IDS = frozenset(id(f) for f in _FRAME_BUILTINS)  # by identity: no __eq__ calls


def _lost_callback():
    return RuntimeError("Python callback failed (is Python's recursion limit reached?)")


class _LuaMessage(Exception):
    """Raised inside a callback to make a plain Lua error (a string) rather
    than hand the exception to Lua."""


def _not_python_object(function):
    return _LuaMessage("bad argument #1 to '%s' (not a python object)" % function)


def _is_method_of(func, first):
    """True when func is a bound Python method whose self is `first`:
    ``obj:meth()`` passes obj, which the method has already (lupa's rule:
    functions and classmethods, not methods of builtin types)."""
    return (
        type(func) is types.MethodType
        and func.__self__ is first
        and isinstance(getattr(func.__func__, "__code__", None), types.CodeType)
    )


def _number_from_text(text):
    """A Lua numeric string as an int or float (None if it is not one)."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    text = text.strip()
    try:
        return int(text, 10)
    except ValueError:
        pass
    try:
        sign = -1 if text[:1] == "-" else 1
        body = text.lstrip("+-")
        if body[:2].lower() == "0x":
            return sign * int(body[2:], 16)
        return float(text)
    except ValueError:
        return None


_ATTRIBUTE_TYPES = {}  # type -> whether Lua indexes its objects by attribute


def _uses_attributes(cls):
    """Whether Lua's obj.key is getattr for an object of class cls that is
    not a protocol view: unless the class has __getitem__ (_python_getitem).
    Remembered per class (at most 1,000), since asking a class for a missing
    attribute costs ~150 ns on CPython 3.11; a class given __getitem__ after
    Lua has indexed its objects keeps attribute access."""
    uses = _ATTRIBUTE_TYPES.get(cls)
    if uses is None:
        uses = cls is not _ItemGetter and cls is not _AttrGetter and not hasattr(cls, "__getitem__")
        if len(_ATTRIBUTE_TYPES) >= 1000:
            _ATTRIBUTE_TYPES.clear()
        _ATTRIBUTE_TYPES[cls] = uses
    return uses


def _caller_frame():
    """The innermost Python frame that is not part of lupacffi, or None."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if not (isinstance(name, str) and (name == "lupacffi" or name.startswith("lupacffi."))):
            return frame
        frame = frame.f_back
    return None


def scalar_callbacks(runtimes, pack_min, pack_max):
    """A backend's scalar callbacks (lc_py_call1, lc_py_index and
    lc_py_index_key in csrc/lc_callbacks.h), and `handoff`.  Their common
    cases, a plain function or bound method called with an int and an
    attribute of a plain object read by a name the runtime keeps, run here in
    this one frame; anything else, and what those return beyond an int that
    packs, goes to the runtime's methods.  On CPython csrc/lc_pycall.c runs
    the plain function and the attribute itself, hands what it does not pack
    to `handoff`, and calls the first two through the C API for the rest.
    `runtimes` maps runtime ids to weak references."""
    function_type, method_type, attribute_types = _FunctionType, types.MethodType, _ATTRIBUTE_TYPES

    def runtime_of(rid):  # (None once the runtime is gone)
        ref = runtimes.get(rid)
        return ref() if ref is not None else None

    def call1(rid, handle, arg):
        try:
            runtime = runtimes[rid]()
            func = runtime._objects[handle]
        except (KeyError, AttributeError):  # (AttributeError: the runtime is gone)
            runtime, func = runtime_of(rid), None
        # (a bound method is called as it is unless its self is the argument:
        # _python_call's rule for obj:method())
        if type(func) is function_type or (type(func) is method_type and func.__self__ is not arg):
            try:
                result = func(arg)
            except BaseException as e:
                return runtime._raised_in_scalar(e)
            if type(result) is int and pack_min <= result <= pack_max:
                return result << 3
            return runtime._call1_returned(result)
        return runtime._call1(handle, arg) if runtime is not None else P_NIL

    def index1(rid, handle, name):
        try:
            runtime = runtimes[rid]()
            view, decoded = runtime._objects[handle], runtime._names[name]
        except KeyError:  # (a name Python has not decoded: C sends its bytes)
            return P_ERR
        except AttributeError:  # (the runtime is gone)
            return P_NIL
        if type(decoded) is str and runtime._plain_attributes:
            cls = type(view)
            if attribute_types.get(cls) or _uses_attributes(cls):
                try:
                    value = getattr(view, decoded)
                except BaseException as e:
                    return runtime._raised_in_scalar(e)
                if type(value) is int and pack_min <= value <= pack_max:
                    return value << 3
                return runtime._pack_value(value)
        return runtime._index1(handle, None, 0, name)

    def index_key(rid, handle, key, length, name):
        runtime = runtime_of(rid)
        return runtime._index1(handle, key, length, name) if runtime is not None else P_NIL

    def handoff(rid, value, raised, attribute):
        # (CPython: csrc/lc_pycall.c ran the common case of call1 or index1
        # itself, and hands over what it does not pack: as those would)
        runtime = runtime_of(rid)
        if runtime is None:
            return P_NIL
        if raised:
            return runtime._raised_in_scalar(value)
        return runtime._pack_value(value) if attribute else runtime._call1_returned(value)

    return call1, index1, index_key, handoff


# ---- the callback ------------------------------------------------------------
class Callbacks(object):
    """Handles callbacks from Lua; mixed into LuaRuntime."""

    _cb_depth = 0  # callbacks running now (nested), see _callback
    _views = None  # (protocol, id(obj)) -> the view Lua holds
    _held = None  # (results, exception) of _call1/_index1 for OP_PENDING
    # no attribute filter or handlers (set by LuaRuntime.__init__ at its end):
    # scalar_callbacks reads attributes itself
    _plain_attributes = False

    # ---- the scalar callbacks (csrc/lc_callbacks.h) ----------------------------
    # C calls these two only from entries nested LC_FAST_DEPTH (csrc/lupacffi.h)
    # deep at most: they leave the counting of nested callbacks, and the
    # RecursionError of deep ones, to _callback, which serves the deeper ones.
    def _call1(self, handle, arg):
        """Lua calls the Python object `handle` with the int `arg` (what
        scalar_callbacks leaves to the runtime)."""
        try:
            func = self._objects[handle]
            return self._pack_results(self._python_call(unwrap(func), (arg,)))
        except BaseException as e:
            return self._raised_in_scalar(e)

    def _call1_returned(self, result):
        """What a plain function called by scalar_callbacks returned, when
        that is not an int that packs."""
        try:
            return self._pack_results(self._call_results(result))
        except BaseException as e:
            self._held = (None, e)
            return P_OUT

    def _raised_in_scalar(self, e):
        """An exception raised in the common case of scalar_callbacks."""
        self._held = (None, e)
        return P_OUT

    def _index1(self, handle, key, length, name):
        """Lua reads the string key `key` of the Python object `handle`;
        `name` numbers the key among those the runtime keeps (0: none), so
        that each is decoded once (lc_name_number in csrc/lc_pyobject.c);
        `key` is None for a name decoded already."""
        try:
            decoded = self._names.get(name) if name else None
            if decoded is None:
                decoded = self._ffi.unpack(key, length)
                if self._encoding is not None:
                    decoded = decoded.decode(self._encoding)
                if name:
                    self._names[name] = decoded
            view = self._objects[handle]
            if (
                type(decoded) is str
                and self._plain_attributes
                and (_ATTRIBUTE_TYPES.get(type(view)) or _uses_attributes(type(view)))
            ):
                # the common case of _python_getitem (as scalar_callbacks has
                # it): a first read of the name, or one the runtime keeps no
                # number for (under a memory limit, none)
                return self._pack_value(getattr(view, decoded))
            return self._pack_value(self._python_getitem(view, unwrap(view), decoded))
        except BaseException as e:
            return self._raised_in_scalar(e)

    def _pack_results(self, results):
        """One int (that Lua holds exactly), boolean or None packed (enum
        lc_packed); anything else is held for OP_PENDING."""
        if len(results) == 1:
            return self._pack_value(results[0])
        self._held = (results, None)
        return P_OUT

    def _pack_value(self, value):
        t = type(value)
        if t is int and self._pack_min <= value <= self._pack_max:
            return value << 3
        if value is None:
            return P_NIL
        if t is bool:
            return P_BOOL | 8 if value else P_BOOL
        self._held = ((value,), None)
        return P_OUT

    def _callback(self, op, args, nargs, out, nout):
        if op == OP_RELEASE:
            self._release(args[0].i)
            return 0
        if op == OP_FETCH:
            return self._fetch(out, nout)
        if op == OP_THAW:
            _cycles.thaw(self)
            return 0
        if op == OP_STRING:
            return self._take_string(args[0], out)
        depth = self._cb_depth
        try:
            # Deep Lua->Python->Lua chains end here with a clear error, before
            # the Python stack runs out where no exception could be reported.
            if depth and depth >= sys.getrecursionlimit() // 10:
                raise RecursionError("too many nested calls between Lua and Python")
            self._cb_depth = depth + 1
            if op == OP_PENDING:  # what _call1 or _index1 held
                (results, error), self._held = self._held or ((), _lost_callback()), None
                if error is not None:
                    raise error
                return self._write_results(results, out, nout)
            from_val = self._from_val
            if op == OP_CALL:  # the common cases first, without a list
                func = unwrap(self._view_of(args[0]))
                if nargs == 2:
                    a = args[1]
                    results = self._python_call(func, (a.i if a.tag == INT else from_val(a),))
                else:
                    results = self._python_call(func, [from_val(args[k]) for k in range(1, nargs)])
                return self._write_results(results, out, nout)
            if op == OP_INDEX:
                view = self._view_of(args[0])
                result = self._python_getitem(view, unwrap(view), from_val(args[1]))
                return self._write_results((result,), out, nout)
            values = [from_val(args[k]) for k in range(nargs)]
            if op == OP_NEWINDEX:
                self._python_setitem(self._view_of(args[0]), values[0], values[1], values[2])
                return 0
            elif op == OP_ITER_NEXT:  # args: our state, the for loop's state and control
                results = self._iter_next(values[0], values[2] if nargs > 2 else None)
            elif op >= OP_PYFUNC:
                return self._python_table_function(op - OP_PYFUNC, args, values, out)
            else:
                results = (self._operator(op, args, values),)
            return self._write_results(results, out, nout)
        except BaseException as e:
            # Inline, without calling anything first: near the recursion limit
            # a call could fail, and C must always get a valid error value.
            self._objects[id(e)] = e
            out[0].tag = PYOBJ
            out[0].i = id(e)
            try:
                return self._raised_in_callback(e, out)
            except BaseException:
                return CB_ERROR
        finally:
            self._cb_depth = depth

    def _take_string(self, v, out):
        """A long string among the results of an entry point (OP_STRING),
        made into its str or bytes straight from Lua's memory, and handed
        back to C as TAKEN: held in _taken until the results are read (C
        pins nothing for it); 0 leaves it to the usual way (which raises the
        same decoding error, if any).  Only asked where
        lc_long_strings_to_python is set (not on PyPy: _backend.py)."""
        try:
            if self._encoding is None:
                value = self._ffi.unpack(v.s, v.i)
            else:
                value = str(self._ffi.buffer(v.s, v.i), self._encoding)
        except Exception:
            return 0
        self._taken[id(value)] = value
        out[0].tag = TAKEN
        out[0].i = id(value)
        return 1

    def _release(self, handle):
        """Lua dropped its last reference to a Python object."""
        obj = self._objects.pop(handle, None)
        if handle < 0:
            self._forget_handle(handle, obj)
        if type(obj) is _AttrGetter or type(obj) is _ItemGetter:
            views = self._views
            key = (type(obj), id(obj.obj))
            if views is not None and views.get(key) is obj:
                del views[key]

    def _raised_in_callback(self, exc, out):
        """exc is the error value in out[0] (a userdata whose tostring is
        str(exc)); if it comes back to Python it is re-raised as itself."""
        if type(exc) is _LuaMessage:
            self._objects.pop(id(exc), None)  # (Lua gets a string instead)
            return self._lua_message(str(exc), out)
        if not isinstance(exc, Exception):  # KeyboardInterrupt & co
            self._abort()
        return CB_ERROR

    def _lua_message(self, message, out):
        """A Lua error whose value is the string message."""
        data = message.encode("utf-8")
        buf = self._ffi.from_buffer(data)
        self._cb_keep = (data, buf)
        out[0].tag = STR
        out[0].s = buf
        out[0].i = len(data)
        return CB_ERROR

    def _abort(self):
        """Hook for uncatchable errors (set up by the runtime)."""

    def _write_results(self, results, out, nout):
        """Converts results into out; more than nout of them wait in a buffer
        of their own for C to fetch (OP_FETCH).  Returns their number."""
        n = len(results)
        if n == 1:  # the common case
            value = results[0]
            keep = []
            if value is _AS_NONE:
                out[0].tag = NONE
            elif self._to_val(out[0], value, keep):
                if keep[0] is value:
                    self._objects[id(value)] = value
                else:  # a surrogate handle
                    self._register(keep)
                keep = None  # registered: C pins it before anything else runs
            self._cb_keep = keep  # a string buffer: alive until C has copied it
            self._pending = None
            return 1
        if n > nout:
            out = self._ffi.new("lc_val[]", n)
        keep = []
        new = []
        to_val = self._to_val
        for k in range(n):
            value = results[k]
            if value is _AS_NONE:
                out[k].tag = NONE
            elif to_val(out[k], value, keep):
                new.append(keep[-1])  # the value, or its surrogate handle
        self._register(new)  # only once every value converted
        if new:  # registered: C pins them before anything else runs
            cdata = self._ffi.CData
            keep = [k for k in keep if isinstance(k, cdata)]
        self._cb_keep = keep  # string buffers: alive until C has copied them
        self._pending = (out, n, new) if n > nout else None
        return n

    def _fetch(self, out, nout):
        pending, self._pending = self._pending, None
        if pending is None:
            return 0
        buf, n, new = pending
        # C allocated its buffer since: a garbage collection may have released
        # some of these objects (an old userdata of theirs), so register again
        self._register(new)
        n = min(n, nout)
        self._ffi.memmove(out, buf, self._ffi.sizeof("lc_val") * n)
        return n

    # ---- calls ----
    def _view_of(self, val):
        """The object of a userdata as Lua holds it: a protocol view
        (as_attrgetter...) or the object itself."""
        return self._objects[val.i] if val.tag == PYOBJ else self._from_val(val)

    def _python_call(self, func, args):
        kwargs = None
        # python.args{...} is expanded where it stands (no loop for one
        # argument: on PyPy a loop of one round costs as much as the call)
        if (
            type(args[0]) is _PyArgs
            if len(args) == 1
            else len(args) > 1 and any(type(arg) is _PyArgs for arg in args)
        ):
            args, kwargs = self._expand_args(args)
        # (plain Python functions are neither bound methods nor frame builtins)
        if type(func) is not _FunctionType:
            if args and _is_method_of(func, args[0]):
                args = args[1:]
            if id(func) in _FRAME_BUILTIN_IDS:
                return self._call_results(self._call_in_caller_frame(func, args, kwargs or {}))
        return self._call_results(func(*args, **kwargs) if kwargs else func(*args))

    def _call_results(self, result):
        """The values a Python call returns to Lua (asyncio support overrides it)."""
        if isinstance(result, tuple) and self._unpack_returned_tuples:
            return result
        return (result,)

    @staticmethod
    def _expand_args(args):
        positional, kwargs = [], {}
        for arg in args:
            if type(arg) is _PyArgs:
                positional.extend(arg.args)
                for name, value in arg.kwargs.items():
                    if name in kwargs:
                        raise TypeError(
                            "function() got multiple values for keyword argument '%s'" % name
                        )
                    kwargs[name] = value
            else:
                positional.append(arg)
        return positional, kwargs

    @staticmethod
    def _call_in_caller_frame(func, args, kwargs):
        frame = _caller_frame()
        f_globals = frame.f_globals if frame is not None else {}
        f_locals = frame.f_locals if frame is not None else f_globals
        if func is builtins.eval or func is builtins.exec:
            if len(args) == 1 and not kwargs:
                args = (args[0], f_globals, f_locals)
        elif not args and not kwargs:
            if func is builtins.globals:
                return f_globals
            if func is builtins.locals or func is builtins.vars:
                return f_locals
            if func is builtins.dir:
                return sorted(f_locals)
        return func(*args, **kwargs)

    # ---- indexing ----
    def _python_getitem(self, view, obj, key):
        """Lua's view[key]; view is obj or a protocol view of it."""
        handlers = self._attribute_handlers
        if handlers is not None and handlers[0] is not None:
            return handlers[0](obj, key)
        view = type(view)
        # the type decides, as Python's obj[key] does; classes use attributes
        if view is _ItemGetter or (
            view is not _AttrGetter
            and hasattr(type(obj), "__getitem__")
            and not isinstance(obj, type)
        ):
            return obj[key]
        return getattr(obj, self._attribute_name(obj, key, False))

    def _python_setitem(self, view, obj, key, value):
        handlers = self._attribute_handlers
        if handlers is not None and handlers[1] is not None:
            handlers[1](obj, key, value)
            return
        view = type(view)
        if view is _ItemGetter or (
            view is not _AttrGetter
            and hasattr(type(obj), "__getitem__")
            and not isinstance(obj, type)
        ):
            obj[key] = value
        else:
            setattr(obj, self._attribute_name(obj, key, True), value)

    def _attribute_name(self, obj, key, is_setting):
        """The attribute name for Lua key `key`, passed through the filter."""
        if self._attribute_filter is not None:
            key = self._attribute_filter(obj, key, is_setting)
        if isinstance(key, bytes):
            key = key.decode(self._encoding or "utf-8")
        if not isinstance(key, str):
            raise TypeError("attribute name must be string, not '%s'" % type(key).__name__)
        return key

    # ---- operators ----
    def _operator(self, op, args, values):
        a = values[0]
        if op == OP_TOSTRING:
            return str(a).encode(self._encoding or "utf-8", "replace")
        if op == OP_LEN:
            return len(a)
        if op == OP_UNM:
            return -a
        b = values[1]
        if op in _COMPARISONS:
            return bool(_COMPARISONS[op](a, b))
        if op == OP_CONCAT:
            return self._concat(args, a, b)
        return _ARITHMETIC[op](a, b)

    def _concat(self, args, a, b):
        """``..``: with a Lua string or number on either side it joins text
        (Python objects by str()); between Python objects it is Python's +."""
        if args[0].tag not in (STR, INT, FLOAT) and args[1].tag not in (STR, INT, FLOAT):
            return a + b
        parts = [self._concat_text(args[k], x) for k, x in ((0, a), (1, b))]
        if isinstance(parts[0], bytes) or isinstance(parts[1], bytes):
            parts = [
                p if isinstance(p, bytes) else p.encode(self._encoding or "utf-8") for p in parts
            ]
        return parts[0] + parts[1]

    def _concat_text(self, val, x):
        if val.tag == STR:
            return x
        if val.tag == INT or (val.tag == FLOAT and not self._has_integers):
            return str(x) if isinstance(x, int) else "%.14g" % x
        if val.tag == FLOAT:
            text = "%.14g" % x
            if text.lstrip("-").isdigit():
                text += ".0"
            return text
        return str(x)

    # ---- iteration ----
    def _iter_next(self, state, control):
        try:
            item = next(state.it)
        except StopIteration:
            return ()
        kind = state.explode
        if kind == "enumerate":
            # as in lupa, the index follows the for loop's control value
            if type(control) is not int:
                control = state.index
            index = state.index = control + 1
            value = item
            if isinstance(value, tuple) and self._unpack_returned_tuples:
                return (index,) + value
            return (index, value)
        if isinstance(item, tuple) and (kind or self._unpack_returned_tuples):
            # only the first value can end a Lua loop: None there is python.none
            if item and item[0] is None:
                return (_AS_NONE,) + item[1:]
            return item
        return (_AS_NONE if item is None else item,)

    # ---- the python table ----
    def _python_table_function(self, index, args, values, out):
        if index in _PY_NAMES and (not values or args[0].tag != PYOBJ):
            raise _not_python_object(_PY_NAMES[index])
        if index in (_PY_ITER, _PY_ITEREX, _PY_ENUMERATE):
            it = iter(values[0])
            if index == _PY_ENUMERATE:
                control = self._enumerate_start(args, values) - 1
                state = _PyIterator(it, "enumerate", control)
            else:
                control = None
                state = _PyIterator(it, index == _PY_ITEREX)
            # as in lupa, what a generic for needs: the iterator function (a
            # closure over `state`), the Python iterator and the control value
            self._write_results((state, it, control), out, 3)
            return CB_ITER
        if index in (_PY_AS_ATTRGETTER, _PY_AS_ITEMGETTER):
            return self._write_results((self._view(index, values[0]),), out, 1)
        if index == _PY_AS_FUNCTION:
            return self._return_special(values[0], out, CB_FUNC)
        if index == _PY_ARGS:
            if not values or not isinstance(values[0], _LuaTable):
                raise _LuaMessage(
                    "bad argument #1 to 'args' (table expected, got %s)"
                    % (self._lua_type_name(args[0]) if values else "no value")
                )
            positional, kwargs = _table_args(values[0])
            return self._write_results((_PyArgs(positional, kwargs),), out, 1)
        if index == _PY_SET_OVERFLOW_HANDLER:
            self.set_overflow_handler(self._lua_overflow_handler(args, values))
            return 0
        raise TypeError("unknown python function %d" % index)

    def _lua_overflow_handler(self, args, values):
        """python.set_overflow_handler's argument: a Lua function, a callable
        Python object, or nil (python.none) to clear; anything else is a
        Lua error."""
        if not values or values[0] is None:
            return None
        handler = values[0]
        tag = args[0].tag
        if tag == PYOBJ and callable(handler):
            return handler
        if tag == REF and args[0].aux == TFUNCTION:
            return _LuaHandler(self, handler)  # (no cycle through the runtime)
        got = "Python object that is not callable" if tag == PYOBJ else self._lua_type_name(args[0])
        raise _LuaMessage(
            "bad argument #1 to 'set_overflow_handler' (function expected, got %s)" % got
        )

    def _enumerate_start(self, args, values):
        """python.enumerate's start: an integer (a whole float or a numeric
        string converts, as Lua's lua_tointeger does); nil: 0."""
        if len(values) < 2 or values[1] is None:
            return 0
        start, tag = values[1], args[1].tag
        if tag == INT:
            return start
        if tag == STR:
            start = _number_from_text(start)
        elif tag != FLOAT:
            start = None
        if isinstance(start, float) and start.is_integer():
            start = int(start)
        if type(start) is not int:
            if tag == FLOAT or (tag == STR and start is not None):
                raise _LuaMessage(
                    "bad argument #2 to 'enumerate' (number has no integer representation)"
                )
            raise _LuaMessage(
                "bad argument #2 to 'enumerate' (integer expected, got %s)"
                % self._lua_type_name(args[1])
            )
        return start

    def _view(self, index, obj):
        """One view per object and protocol while Lua holds it, so that
        python.as_attrgetter(x) is the same userdata each time."""
        cls = _AttrGetter if index == _PY_AS_ATTRGETTER else _ItemGetter
        views = self._views
        if views is None:
            views = self._views = {}
        key = (cls, id(obj))
        view = views.get(key)
        if view is None or view.obj is not obj:
            view = views[key] = cls(obj)
        return view

    @staticmethod
    def _lua_type_name(val):
        tag = val.tag
        if tag == NIL or tag == NONE:
            return "nil"
        if tag == BOOL:
            return "boolean"
        if tag in (INT, FLOAT):
            return "number"
        if tag == STR:
            return "string"
        if tag == REF:
            return _TYPE_NAMES.get(val.aux, "userdata")
        return "userdata"

    def _return_special(self, obj, out, status):
        h = self._handle(obj)
        self._objects[h] = obj
        out[0].tag = PYOBJ
        out[0].i = h
        return status
