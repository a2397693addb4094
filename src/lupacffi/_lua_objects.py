"""Lua values seen from Python: tables, functions, coroutines and other
objects, each a wrapper around a registry reference in its runtime.

The semantics follow lupa: tables are mappings (``t[k]``, ``t.k``, ``keys()``
...), functions are callable, coroutines behave like generators.  Beyond lupa,
two wrappers of the same Lua value compare equal and hash alike.

Every wrapper keeps its runtime alive (``_rt``) and owns one registry
reference (``_ref``); both names are used by the rest of the package.  The
other per-wrapper fields have dunder names because ``t.name`` looks up
non-dunder names in the Lua table.
"""

from weakref import ref as _weakref

from ._constants import CURSOR_DONE as _CURSOR_DONE
from ._constants import ERR_RANGE as _ERR_RANGE
from ._constants import LUA_NOREF as _LUA_NOREF
from ._constants import NOUT as _NOUT
from ._constants import P_BOOL as _P_BOOL
from ._constants import P_ERR as _P_ERR
from ._constants import P_NIL as _P_NIL
from ._constants import P_OUT as _P_OUT
from ._constants import P_REF as _P_REF
from ._constants import STR as _STR
from ._constants import TFUNCTION as _TFUNCTION
from ._constants import TLIGHTUSERDATA as _TLIGHTUSERDATA
from ._constants import TTABLE as _TTABLE
from ._constants import TTHREAD as _TTHREAD
from ._constants import TUSERDATA as _TUSERDATA
from ._backend import _PYPY
from ._lc_constants import lib as _lc_constants_lib
from .errors import LuaError

_TYPE_NAMES = {
    _TLIGHTUSERDATA: "userdata",
    _TTABLE: "table",
    _TFUNCTION: "function",
    _TUSERDATA: "userdata",
    _TTHREAD: "thread",
}

# lc_costatus() results
_CO_DEAD, _CO_NEW, _CO_SUSPENDED, _CO_RUNNING, _CO_FAILED = 0, 1, 2, 3, 4


def _wrapper_base():
    """On CPython, the C type that runs the common crossings itself (calls
    with one scalar argument, t[i], t["name"], t.name, t[i] = v: see
    csrc/lc_wrapper.c and the end of this module); on PyPy, object (the
    Python methods below are the fast way there)."""
    if _PYPY:
        return object
    namespace = {}
    if _lc_constants_lib.lc_wrapper_install(id(namespace)) != 0:
        raise ImportError("lupacffi: could not make the wrappers' C base type")
    return namespace["LuaWrapperBase"]


_Base = _wrapper_base()
_set = object.__setattr__
_new = _Base.__new__
_NO_ACCESS = "item/attribute access not supported on functions"
_NO_ARG = object()  # f() called without arguments

# The hot paths (calls, t[k], t[k] = v, send) call the C entry point
# themselves, one Python frame per operation.  Those take the common
# argument types as C scalars and give one result of a common kind packed in
# their return value r (csrc/lc_types.h, enum lc_packed): r & 7 == 0 is an
# int, r >> 3; a table or function (r & 7 == _P_REF) gets its wrapper from
# _wrap there too; anything else goes to LuaRuntime._unpack.  _RANGE is what
# they return for a number Lua cannot hold exactly (and what an int too
# large for C stands for here): the general path then handles it.  A closed
# runtime needs no check: C answers LC_ERR_CLOSED.
_RANGE = (_ERR_RANGE << 3) | _P_ERR


def _is_dunder(name):
    return name[:2] == "__" and name[-2:] == "__"


def _name_key(rt, name):
    """The key of attribute `name` in a runtime without an encoding: its Lua
    string, encoded with the source encoding (as lupa), not a str userdata
    as ``t[name]`` would give."""
    return name.encode(rt._source_encoding) if type(name) is str else name


class _LuaObject(_Base):
    """A Lua value without a Python equivalent.  Used as is for userdata:
    reading items and attributes goes through Lua (``__index``)."""

    # (__luatype__: the Lua type; a class attribute in the subclasses, which
    # are of one type each, so that making their wrappers sets two slots)
    # (_rt and _ref: fields of the C base type on CPython)
    __slots__ = ("_rt", "_ref") * _PYPY + ("__luatype__", "__luaid__", "__luakept__", "__weakref__")

    def __init__(self, runtime, ref, luatype):
        _set(self, "_rt", runtime)
        _set(self, "_ref", ref)
        _set(self, "__luatype__", luatype)

    def __del__(self):
        try:
            rt, ref = self._rt, self._ref
            # (before the reference goes: a scan can find this wrapper while it
            # dies, and its number may be a new table's by then, _cycles._freeze)
            _set(self, "_ref", -1)
            window = rt._gc_window  # (read once: another thread may end it meanwhile)
            if window is not None:  # see _cycles.py
                window.wrapper_died(ref)
            # (a freed runtime's _ptr is lc_closed_runtime(), which ignores it)
            rt._lc_unref(rt._ptr, ref)
        except Exception:  # interpreter shutdown, half-built wrapper
            pass

    def __reduce__(self):
        raise TypeError("Lua objects cannot be pickled or copied")

    # ---- identity: two wrappers of one Lua value are equal ----
    def _identity(self):
        try:
            return self.__luaid__
        except AttributeError:
            rt = self._rt
            ident = rt._lib.lc_topointer(rt._ptr, self._ref) if rt._ptr is not None else 0
            _set(self, "__luaid__", ident)
            return ident

    def __eq__(self, other):
        if not isinstance(other, _LuaObject):
            return NotImplemented
        return self is other or (self._rt is other._rt and self._identity() == other._identity())

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash(self._identity())

    def __bool__(self):
        return True

    # ---- text ----
    def __repr__(self):
        return "<Lua %s at 0x%x>" % (_TYPE_NAMES.get(self.__luatype__, "object"), self._identity())

    def __str__(self):
        """Lua's tostring() when the value has a __tostring metamethod,
        otherwise the same text as repr()."""
        rt = self._rt
        out = rt._buffers().out
        n = rt._lib.lc_tostring(rt._ptr, self._ref, out)
        if n < 0:
            raise rt._error(n, out)
        if out[0].tag == _STR:
            text = rt._ffi.unpack(out[0].s, out[0].i)
        else:  # a long string (already a str or bytes), a number, or worse (Lua 5.2)
            value = rt._results(n, out, 1)
            if type(value) is str:
                return value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return str(value)
            if type(value) is not bytes:
                raise TypeError("__tostring returned non-string object")
            text = value
        head, sep, tail = text.rpartition(b": ")
        if sep and (tail.startswith(b"builtin#") or _is_address(tail, self._identity())):
            return repr(self)  # Lua's default "<type or __name>: <address>"
        try:
            return text.decode(rt._encoding or "utf-8")
        except UnicodeDecodeError:  # like lupa: undecodable text still prints
            return text.decode("latin-1")

    # ---- operations through Lua ----
    def __call__(self, arg=_NO_ARG, /, *rest):
        # (the first argument apart: on CPython an empty *rest costs less
        # than a tuple of all the arguments)
        rt = self._rt
        if type(arg) is int and not rest:
            try:
                r = rt._lc_call_i(rt._ptr, self._ref, arg)
            except OverflowError:
                r = _RANGE
            if r & 7 == 0:
                return r >> 3
            if r & 7 == _P_REF:  # (a table or function: its wrapper, made here)
                return _wrap(rt, r >> 7, (r >> 3) & 15)
            if r != _RANGE:
                return rt._unpack(r)
            return rt._call(self._ref, (arg,))
        if arg is _NO_ARG:
            r = rt._lc_call(rt._ptr, self._ref, rt._null, 0)
            if r & 7 == 0:
                return r >> 3
            return _wrap(rt, r >> 7, (r >> 3) & 15) if r & 7 == _P_REF else rt._unpack(r)
        if rest:  # (several arguments: straight to the general entry)
            r = rt._call_any(self._ref, (arg,) + rest, rt._lc_call, rt._lc_call_p)
        elif type(arg) is str and rt._encoding is not None:
            data = arg.encode(rt._encoding)
            r = rt._lc_call_s(rt._ptr, self._ref, data, len(data))
        elif type(arg) is float:
            r = rt._lc_call_d(rt._ptr, self._ref, arg)
        elif type(arg) is bytes:
            r = rt._lc_call_s(rt._ptr, self._ref, arg, len(arg))
        else:
            return rt._call(self._ref, (arg,))
        return r >> 3 if r & 7 == 0 else rt._unpack(r)

    def _finish_call(self, r, args):
        """self(*args) made by the C base type, when its packed result r
        needs Python: a string in another encoding, several results, an
        error, or an int Lua cannot hold (_RANGE: the general way)."""
        rt = self._rt
        if r != _RANGE:
            return rt._unpack(r)
        return rt._call(self._ref, args)

    def __getitem__(self, key):
        rt = self._rt
        t = type(key)
        if t is int:
            try:
                r = rt._lc_getitem_i(rt._ptr, self._ref, key)
            except OverflowError:
                r = _RANGE
        elif t is str and rt._encoding is not None:
            key = key.encode(rt._encoding)
            r = rt._lc_getitem_s(rt._ptr, self._ref, key, len(key))
        else:
            return rt._getitem(self._ref, key)
        if r & 7 == 0:
            return r >> 3
        if r & 7 == _P_REF:
            return _wrap(rt, r >> 7, (r >> 3) & 15)
        if r != _RANGE:
            return rt._unpack(r)
        return rt._getitem(self._ref, key)

    def _finish_getitem(self, r, key):
        """self[key] (or self.key) read by the C base type, when its packed
        result r needs Python (as for _finish_call)."""
        rt = self._rt
        if r != _RANGE:
            return rt._unpack(r)
        return rt._getitem(self._ref, key)

    def __getattr__(self, name):
        if name[:2] == "__" and name[-2:] == "__":  # (_is_dunder, inlined: a hot path)
            raise AttributeError(name)
        rt = self._rt
        encoding = rt._encoding
        if encoding is None:  # names are Lua strings there too
            return rt._getitem(self._ref, _name_key(rt, name))
        key = name.encode(encoding)  # (as __getitem__ with a str key)
        r = rt._lc_getitem_s(rt._ptr, self._ref, key, len(key))
        if r & 7 == 0:
            return r >> 3
        return _wrap(rt, r >> 7, (r >> 3) & 15) if r & 7 == _P_REF else rt._unpack(r)

    def __setattr__(self, name, value):
        raise AttributeError("'%s' object has no attribute %r" % (type(self).__name__, name))

    def __delattr__(self, name):
        raise AttributeError("'%s' object has no attribute %r" % (type(self).__name__, name))

    def __len__(self):
        rt = self._rt
        r = rt._lib.lc_len(rt._ptr, self._ref)
        return r >> 3 if r & 7 == 0 else rt._unpack(r)

    def __iter__(self):
        raise TypeError("iteration is only supported for tables")


def _is_address(text, address):
    try:
        return int(text, 16) == address
    except ValueError:
        return False


class _LuaTable(_LuaObject):
    """A Lua table as a mapping: ``t[k]``, ``t.k`` (any name except keys,
    values, items and dunder names), assignment and ``del`` (which sets nil).
    Missing keys read as None; a None key is Lua's ``python.none``.

    ``len(t)`` is the raw length (Lua's ``#`` without ``__len``).  Iteration,
    ``keys()``, ``values()`` and ``items()`` are raw (no ``__pairs``) and give
    iterators; ``k in t`` compares k with the keys, like lupa.  Changing values
    while iterating is allowed (Lua's ``next()`` rules); adding keys while
    iterating may raise LuaError ("invalid key to 'next'") or visit keys
    again, but never crashes.
    """

    __slots__ = ()
    __luatype__ = _TTABLE

    def __setattr__(self, name, value):
        if _is_dunder(name):
            raise TypeError("cannot set attribute %r of a Lua table" % (name,))
        rt = self._rt
        rt._setitem(self._ref, name if rt._encoding is not None else _name_key(rt, name), value)

    def __delattr__(self, name):
        if _is_dunder(name):
            raise TypeError("cannot delete attribute %r of a Lua table" % (name,))
        rt = self._rt
        rt._setitem(self._ref, name if rt._encoding is not None else _name_key(rt, name), None)

    def __setitem__(self, key, value):
        rt = self._rt
        if type(key) is int:
            t = type(value)
            # the value packed (see above); one too large for a long long
            # raises OverflowError in cffi, and takes the general path
            if t is int:
                value_packed = value << 3
            elif value is None:
                value_packed = _P_NIL
            elif t is bool:
                value_packed = _P_BOOL | 8 if value else _P_BOOL
            else:
                value_packed = None
            if value_packed is not None:
                try:
                    r = rt._lc_setitem_i(rt._ptr, self._ref, key, value_packed)
                except OverflowError:
                    r = _ERR_RANGE
                if r == 0:
                    return
                if r != _ERR_RANGE:
                    raise rt._error(r, rt._buffers().out)
        rt._setitem(self._ref, key, value)

    def __delitem__(self, key):
        self._rt._setitem(self._ref, key, None)

    def _setitem_failed(self, r):
        """The error of lc_setitem_i's status r (csrc/lc_wrapper.c)."""
        rt = self._rt
        raise rt._error(r, rt._buffers().out)

    def __contains__(self, key):
        for k in _LuaIter(self, 1):
            if k is key or k == key:
                return True
        return False

    def __iter__(self):
        return _LuaIter(self, 1)

    def keys(self):
        """An iterator over the keys (raw, in Lua's ``next()`` order)."""
        return _LuaIter(self, 1)

    def values(self):
        """An iterator over the values (raw, in Lua's ``next()`` order)."""
        return _LuaIter(self, 2)

    def items(self):
        """An iterator over (key, value) pairs (raw, in Lua's ``next()`` order)."""
        return _LuaIter(self, 3)


class _NoAccess(_LuaObject):
    """Functions and coroutines: no items, no attributes (as in lupa)."""

    __slots__ = ()

    def __getitem__(self, key):
        raise TypeError(_NO_ACCESS)

    def __getattr__(self, name):
        raise AttributeError(_NO_ACCESS)

    def __len__(self):
        return 0


class _LuaFunction(_NoAccess):
    """A Lua function: call it with any arguments; it returns None, one
    value or a tuple.  ``coroutine(*args)`` runs it as a coroutine."""

    __slots__ = ()
    __luatype__ = _TFUNCTION

    def coroutine(self, *args):
        """A new coroutine (a _LuaThread) that runs this function with args."""
        return self._rt._new_coroutine(self._ref, args)

    async def call_async(self, *args):
        """``await f.call_async(*args)``: calls the function with async Python
        functions callable from Lua (the same as LuaRuntime.call_async)."""
        return await self._rt.call_async(self, *args)


class _LuaCoroutineFunction(_LuaFunction):
    """A Lua coroutine that had not started when it reached Python.  As in
    lupa it acts as its function: every call, like ``coroutine(*args)``,
    starts a new coroutine running that function with args (the original
    Lua coroutine itself stays untouched; passed back to Lua it is that
    coroutine)."""

    __slots__ = ()
    __luatype__ = _TTHREAD

    def __call__(self, *args):
        return self.coroutine(*args)

    def __repr__(self):
        return "<Lua function at 0x%x>" % self._identity()


class _LuaThread(_NoAccess):
    """A Lua coroutine, driven like a Python generator: ``send(value)``,
    ``next()``, iteration; true while it can still be resumed.

    The first resume of a coroutine made by ``f.coroutine(*args)`` passes
    args (and must be ``send(None)``).  A tuple sent is unpacked into several
    resume values.  What the coroutine returns at its end is the last item
    (nothing if it returns no values); an error in it raises at the Python
    call and ends it.  Resuming it after its end raises StopIteration, after
    an error LuaError ("cannot resume dead coroutine").
    """

    __slots__ = ("_args", "_state")
    __luatype__ = _TTHREAD

    def __init__(self, runtime, ref, args=None):
        _set(self, "_rt", runtime)
        _set(self, "_ref", ref)
        _set(self, "_args", args)
        # known state: new (args pending), None = ask Lua on the first resume
        _set(self, "_state", _CO_NEW if args is not None else None)

    def __iter__(self):
        return self

    def __next__(self):
        return self.send(None)

    def send(self, value):
        """Resumes the coroutine with value and returns what it yields next."""
        if type(value) is int and self._state == _CO_SUSPENDED:
            rt = self._rt
            try:
                r = rt._lc_resume_i(rt._ptr, self._ref, value)
            except OverflowError:
                r = _RANGE
            if r & 7 == 0:  # one int yielded
                return r >> 3
            if r != _RANGE:
                return self._resumed(r)
        return self._send(value)

    def _send(self, value):
        state = self._state
        if state is None or state == _CO_DEAD or state == _CO_FAILED:
            state = self._check_resumable(state)
        if state == _CO_NEW:
            if value is not None:
                raise TypeError("can't send non-None value to a just-started generator")
            args = self._args
            _set(self, "_args", None)
            _set(self, "_state", _CO_SUSPENDED)
        elif value is None:
            args = ()
        elif type(value) is tuple:
            args = value
        else:
            args = (value,)
        return self._resumed(self._rt._resume_packed(self._ref, args))

    def _resumed(self, r):
        """What send() returns for packed result r of lc_resume (see
        csrc/lc_ops.c): the values yielded, or returned at the end."""
        kind = r & 7
        if kind == _P_ERR:
            try:
                raise self._rt._error(r >> 3, self._rt._buffers().out)
            except BaseException:
                self._after_error()
                raise
        if kind != _P_OUT:  # one value yielded
            return self._rt._unpack(r)
        count, done = r >> 4, r & 8
        rt = self._rt
        result = rt._results(count, rt._buffers().out, _NOUT)
        if done:
            _set(self, "_state", _CO_DEAD)
            if count == 0:
                raise StopIteration
        return result

    def __call__(self, *args):
        """A coroutine made in Lua and not started yet, called with arguments,
        gives a new coroutine of the same function with them (as in lupa)."""
        if self._args is not None:  # f.coroutine(...): Lua cannot call a thread
            return _LuaObject.__call__(self, *args)
        return self._rt._new_coroutine(self._ref, args)

    def _check_resumable(self, state):
        if state is None:  # made in Lua: ask where it stands
            state = self._status()
            if state == _CO_NEW:  # created by coroutine.create(), never run
                state = _CO_SUSPENDED
            _set(self, "_state", state)
        if state == _CO_DEAD:
            raise StopIteration
        if state == _CO_FAILED:
            raise LuaError("cannot resume dead coroutine")
        return state

    def _after_error(self):
        """An error came out of a resume: did the coroutine die of it?"""
        try:
            alive = self._status() in (_CO_NEW, _CO_SUSPENDED, _CO_RUNNING)
        except Exception:
            alive = False
        if not alive:
            _set(self, "_state", _CO_FAILED)

    def _status(self):
        rt = self._rt
        status = rt._lib.lc_costatus(rt._ptr, self._ref)
        if status < 0:
            raise rt._error(status, rt._buffers().out)
        return status

    def __bool__(self):
        state = self._state
        if state == _CO_DEAD or state == _CO_FAILED:
            return False
        try:
            return self._status() in (_CO_NEW, _CO_SUSPENDED, _CO_RUNNING)
        except LuaError:  # the runtime is closed
            return False


_BIG_BATCH = 1024  # lc_vals per batch once a table turned out to be big


class _LuaIter(object):
    """What ``keys()``, ``values()``, ``items()`` and ``iter(table)`` return:
    a raw iterator over the table, fetching entries in batches.

    Threads may share one: C moves the cursor under the runtime's lock, so
    that each refill gets a batch of its own, which joins the shared one;
    each item comes out once in all, and no lock is taken from Python (an
    unlock that failed, at the recursion limit, would leave it taken)."""

    __slots__ = ("_table", "_what", "_cursor", "_batch", "_big", "__weakref__")

    def __init__(self, table, what):
        self._table = table  # keeps the table's reference alive
        self._what = what  # 1 keys, 2 values, 3 (key, value) pairs
        # (made here, in one thread, so that every thread moves the same one)
        self._cursor = table._rt._ffi.new("int *", _LUA_NOREF)
        self._batch = []  # stored last entry first
        self._big = False  # the first batch did not hold the whole table

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return self._batch.pop()
        except IndexError:
            if self._cursor[0] == _CURSOR_DONE:
                raise StopIteration from None
            return self._refill()

    def _refill(self):
        rt = self._table._rt
        big = self._big
        self._big = True  # (most tables fit in the first batch)
        n = rt._lib.lc_next(
            rt._ptr, self._table._ref, self._cursor, self._what, _BIG_BATCH if big else _NOUT
        )
        if n <= 0:
            if n < 0:
                raise rt._error(n, rt._buffers().out)
            raise StopIteration
        if n <= _NOUT:
            values = rt._batch(n, None)
        else:  # copied into a buffer of this thread's own
            buffers = rt._buffers()
            out = buffers.batch
            if out is None:
                out = buffers.batch = rt._ffi.new("lc_val[]", _BIG_BATCH)
            rt._lib.lc_fetch(out, n)
            values = rt._batch(n, out)
        if self._what == 3:
            pairs = iter(values)
            values = list(zip(pairs, pairs))
        values.reverse()
        item = values.pop()  # ours; the rest joins the shared batch, after
        self._batch[:0] = values  # what other threads' refills left there
        return item

    def __del__(self):
        # an unfinished traversal's last key, still referenced
        try:
            ref = self._cursor[0]
            if ref > 0:
                rt = self._table._rt
                if rt._ptr is not None:
                    rt._lib.lc_unref(rt._ptr, ref)
        except Exception:  # interpreter shutdown
            pass

    def __repr__(self):
        return "LuaIter(%r)" % (self._table,)


class _TakenRef(object):
    """A registry reference taken over from a wrapper, for an object the
    runtime itself keeps (a cached chunk, an overflow handler set from Lua):
    it holds the runtime only weakly, where a wrapper, which holds its
    runtime, would make a cycle that only a garbage collection frees (with
    the whole Lua state)."""

    __slots__ = ("_ref", "_runtime")

    def __init__(self, runtime, func):
        self._runtime = _weakref(runtime)
        self._ref = func._ref
        _set(func, "_ref", _LUA_NOREF)  # its __del__ releases nothing now

    def __del__(self):
        runtime = self._runtime()
        try:
            if runtime is not None and runtime._ptr is not None:
                runtime._lib.lc_unref(runtime._ptr, self._ref)
        except Exception:  # interpreter shutdown
            pass


def _wrap(runtime, ref, luatype):
    """The wrapper of a Lua value that reached Python as registry reference ref."""
    if luatype == _TTABLE:
        cls = _LuaTable
    elif luatype == _TFUNCTION:
        cls = _LuaFunction
    elif luatype == _TTHREAD:
        if runtime._lib.lc_costatus(runtime._ptr, ref) == _CO_NEW:
            cls = _LuaCoroutineFunction
        else:
            return _LuaThread(runtime, ref)
    else:
        return _LuaObject(runtime, ref, luatype)
    wrapper = _new(cls)  # (no __init__: two slots to set)
    _set(wrapper, "_rt", runtime)
    _set(wrapper, "_ref", ref)
    return wrapper


def lua_type(obj):
    """The Lua type name of a wrapped Lua object ('table', 'function',
    'thread', 'userdata'), or None for anything else.  A coroutine that had
    not started when it reached Python is a 'function' (see
    _LuaCoroutineFunction)."""
    if isinstance(obj, _LuaObject):
        if isinstance(obj, _LuaCoroutineFunction):
            return "function"
        return _TYPE_NAMES.get(obj.__luatype__)
    return None


# ---- CPython: the C base type's share (csrc/lc_wrapper.c) ----------------------
def _hand_over_to_c(cls, *names):
    """The C base type runs these operations (its slots); the class keeps
    each Python method as _<name>_general, for what C hands over."""
    for name in names:
        setattr(cls, "_%s_general" % name.strip("_"), cls.__dict__[name])
        delattr(cls, name)


if not _PYPY:
    _hand_over_to_c(_LuaObject, "__call__", "__getitem__", "__getattr__")
    _hand_over_to_c(_LuaTable, "__setitem__", "__delitem__")
    _hand_over_to_c(_NoAccess, "__getattr__")  # (its __getitem__ stays: it refuses)
    # the names a table's class has: t.name reads the table for any other
    # (non-dunder) name
    _TABLE_CLASS_NAMES = frozenset(name for cls in _LuaTable.__mro__ for name in vars(cls))
    _HANDED_TO_C = (
        _LuaTable,
        _TABLE_CLASS_NAMES,
        _wrap,
        _LuaObject._call_general,
        _LuaObject._getitem_general,
        _LuaObject._finish_call,
        _LuaObject._finish_getitem,
        _LuaTable._setitem_general,
        _LuaTable._delitem_general,
        _LuaTable._setitem_failed,
    )
    if _lc_constants_lib.lc_wrapper_methods(id(_HANDED_TO_C)) != 0:
        raise ImportError("lupacffi: the wrappers' C base type refused its methods")
