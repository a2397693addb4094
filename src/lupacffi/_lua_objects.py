"""Lua values seen from Python: tables, functions, coroutines and other
objects, each a wrapper around a registry reference in its runtime."""
from ._constants import TLIGHTUSERDATA as _TLIGHTUSERDATA
from ._constants import TFUNCTION as _TFUNCTION
from ._constants import TTABLE as _TTABLE
from ._constants import TTHREAD as _TTHREAD
from ._constants import TUSERDATA as _TUSERDATA
from .errors import LuaError
_TYPE_NAMES = {_TLIGHTUSERDATA: "userdata", _TTABLE: "table", _TFUNCTION: "function",
               _TUSERDATA: "userdata", _TTHREAD: "thread"}


class _LuaObject(object):
    """A Lua value that has no Python equivalent, kept alive by a reference."""
    __slots__ = ("_rt", "_ref", "_type", "_id", "__weakref__")

    def __init__(self, runtime, ref, luatype):
        object.__setattr__(self, "_rt", runtime)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", luatype)
        object.__setattr__(self, "_id", None)

    def __del__(self):
        try:
            rt = self._rt
            rt._lib.lc_unref(rt._ptr, self._ref)
        except Exception:     # interpreter shutdown
            pass

    # ---- identity (two wrappers of one Lua value are equal) ----
    def _identity(self):
        ident = self._id
        if ident is None:
            rt = self._rt
            ident = rt._lib.lc_topointer(rt._ptr, self._ref)
            object.__setattr__(self, "_id", ident)
        return ident

    def __eq__(self, other):
        if not isinstance(other, _LuaObject):
            return NotImplemented
        return self._rt is other._rt and self._identity() == other._identity()

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash(self._identity())

    # ---- text ----
    def __repr__(self):
        return "<Lua %s at 0x%x>" % (_TYPE_NAMES.get(self._type, "object"), self._identity())

    def __str__(self):
        rt = self._rt
        out = rt._backend.buffers().out
        n = rt._lib.lc_tostring(rt._ptr, self._ref, out)
        if n < 0:
            raise rt._error(n, out)
        s = rt._results(n, out, 1)
        if isinstance(s, bytes):
            s = s.decode(rt._encoding or "utf-8", "replace")
        if s.startswith(("table: ", "function: ", "thread: ", "userdata: ")) and \
                s.split(": ", 1)[1].startswith(("0x", "builtin")):
            return repr(self)     # no __tostring: the same text as repr()
        return s

    # ---- calling ----
    def __call__(self, *args):
        return self._rt._call(self._ref, args)

    # ---- indexing ----
    def __getitem__(self, key):
        return self._rt._getitem(self._ref, key)

    def __setitem__(self, key, value):
        self._rt._setitem(self._ref, key, value)

    def __delitem__(self, key):
        self._rt._setitem(self._ref, key, None)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        try:
            return self._rt._getitem(self._ref, name)
        except LuaError:
            raise AttributeError("Lua %s has no attribute %r"
                                 % (_TYPE_NAMES.get(self._type, "object"), name))

    def __setattr__(self, name, value):
        if name in _LuaObject.__slots__:
            raise AttributeError("cannot set %r" % name)
        self._rt._setitem(self._ref, name, value)

    def __delattr__(self, name):
        self._rt._setitem(self._ref, name, None)

    def __len__(self):
        return self._rt._len(self._ref)

    def __bool__(self):
        return True


class _LuaTable(_LuaObject):
    """A Lua table: a mapping with Lua's keys (``t[1]`` is the first item)."""
    __slots__ = ()

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._rt._getitem(self._ref, name)

    def __iter__(self):
        return self._rt._iterate(self._ref, 1)

    def keys(self):
        return self._rt._iterate(self._ref, 1)

    def values(self):
        return self._rt._iterate(self._ref, 2)

    def items(self):
        return self._rt._iterate(self._ref, 3)


class _LuaFunction(_LuaObject):
    """A Lua function; ``coroutine(*args)`` runs it as a coroutine."""
    __slots__ = ()

    def coroutine(self, *args):
        return self._rt._new_coroutine(self._ref, args)


class _LuaThread(_LuaObject):
    """A Lua coroutine, driven like a Python generator."""
    __slots__ = ("_args", "_done")

    def __init__(self, runtime, ref, luatype, args=None):
        _LuaObject.__init__(self, runtime, ref, luatype)
        object.__setattr__(self, "_args", args)
        object.__setattr__(self, "_done", False)

    def __iter__(self):
        return self

    def __next__(self):
        return self.send(None)

    def send(self, value):
        """Resumes the coroutine with value (the first resume passes the
        coroutine's own arguments) and returns what it yields."""
        if self._done:
            raise StopIteration
        args = self._args
        if args is not None:
            object.__setattr__(self, "_args", None)
        else:
            args = () if value is None else (value,)
        result, done, count = self._rt._resume(self._ref, args)
        if done:
            object.__setattr__(self, "_done", True)
            if count == 0:
                raise StopIteration
        return result

    def __call__(self, *args):
        """A coroutine not yet started takes its arguments by being called."""
        object.__setattr__(self, "_args", args)
        return self

    def __bool__(self):
        if self._done:
            return False
        rt = self._rt
        return rt._lib.lc_costatus(rt._ptr, self._ref) != 0

    __nonzero__ = __bool__


class _LuaUserdata(_LuaObject):
    """Userdata made by Lua or its C libraries."""
    __slots__ = ()


_WRAPPERS = {_TTABLE: _LuaTable, _TFUNCTION: _LuaFunction, _TTHREAD: _LuaThread,
             _TUSERDATA: _LuaUserdata}


def _wrap(runtime, ref, luatype):
    return _WRAPPERS.get(luatype, _LuaObject)(runtime, ref, luatype)


def lua_type(obj):
    """The Lua type name of a wrapped Lua object, or None for Python objects."""
    if isinstance(obj, _LuaObject):
        return _TYPE_NAMES.get(obj._type)
    return None

