"""Python objects seen from Lua: the callback that carries every Lua operation
on a Python object (index, call, operators, iteration...) into Python, and
the functions of the ``python`` table."""
import builtins
import operator
import types

from ._constants import (CB_ERROR, CB_FUNC, CB_ITER, NONE, OP_ADD, OP_CALL, OP_CONCAT, OP_DIV,
                         OP_EQ, OP_FETCH, OP_IDIV, OP_INDEX, OP_ITER_NEXT, OP_LE, OP_LEN, OP_LT,
                         OP_MOD, OP_MUL, OP_NEWINDEX, OP_POW, OP_PYFUNC, OP_RELEASE, OP_SUB,
                         OP_TOSTRING, OP_UNM, PYOBJ)
from ._lua_objects import _LuaTable
from ._protocols import (_AS_NONE, _AttrGetter, _ItemGetter, _PyArgs, _PyIterator, _table_args,
                         unwrap)

_BINARY = {OP_EQ: operator.eq, OP_LT: operator.lt, OP_LE: operator.le,
           OP_ADD: operator.add, OP_SUB: operator.sub, OP_MUL: operator.mul,
           OP_DIV: operator.truediv, OP_MOD: operator.mod, OP_POW: operator.pow,
           OP_IDIV: operator.floordiv, OP_CONCAT: operator.add}


# ---- the callback ------------------------------------------------------------
class Bridge(object):
    """Handles callbacks from Lua; mixed into LuaRuntime."""

    def _callback(self, op, args, nargs, out, nout):
        if op == OP_RELEASE:
            self._objects.pop(args[0].i, None)
            return 0
        if op == OP_FETCH:
            return self._write_results(self._pending, out, nout)
        try:
            from_val = self._from_val
            values = [from_val(args[k]) for k in range(nargs)]
            if op == OP_CALL:
                results = self._python_call(values[0], values[1:])
            elif op == OP_INDEX:
                results = (self._python_getitem(args[0], values[0], values[1]),)
            elif op == OP_NEWINDEX:
                self._python_setitem(args[0], values[0], values[1], values[2])
                return 0
            elif op >= OP_PYFUNC:
                return self._python_table_function(op - OP_PYFUNC, values, out)
            elif op == OP_ITER_NEXT:
                results = self._iter_next(values[0])
            else:
                results = (self._operator(op, args, values),)
            return self._write_results(results, out, nout)
        except BaseException as e:
            return self._raise_in_lua(e, out)

    def _raise_in_lua(self, exc, out):
        """Hands exc to Lua as the error value (a userdata whose tostring is
        str(exc)); if it comes back to Python it is re-raised as itself."""
        try:
            self._objects[id(exc)] = exc
            out[0].tag = PYOBJ
            out[0].i = id(exc)
            self._cb_keep = exc
            if not isinstance(exc, Exception):      # KeyboardInterrupt & co
                self._abort(exc)
        except BaseException:
            return CB_ERROR
        return CB_ERROR

    def _abort(self, exc):
        """Hook for uncatchable errors (set up by the runtime)."""

    def _write_results(self, results, out, nout):
        n = len(results)
        if n > nout:
            self._pending = results
            return n
        self._pending = None
        keep = []
        to_val = self._to_val
        objects = self._objects
        for k in range(n):
            value = results[k]
            if value is _AS_NONE:
                out[k].tag = NONE
            elif to_val(out[k], value, keep):
                objects[id(value)] = value
        self._cb_keep = keep      # alive until C has pushed them
        return n

    # ---- calls ----
    def _python_call(self, func, args):
        if args and isinstance(args[-1], _PyArgs):
            extra = args[-1]
            args = args[:-1] + extra.args
            kwargs = extra.kwargs
        else:
            kwargs = {}
        func = unwrap(func)
        # obj:method() passes obj as self; a bound method has it already
        if args and getattr(func, "__self__", None) is args[0] \
                and not isinstance(args[0], types.ModuleType):
            args = args[1:]
        result = func(*args, **kwargs)
        if type(result) is tuple and self._unpack_returned_tuples:
            return result
        return (result,)

    # ---- indexing ----
    def _use_items(self, obj):
        return hasattr(type(obj), "__getitem__") and not isinstance(obj, type)

    def _python_getitem(self, handle_val, obj, key):
        wrapper = self._objects.get(handle_val.i)
        if isinstance(wrapper, _ItemGetter) or (
                not isinstance(wrapper, _AttrGetter) and self._use_items(obj)):
            return obj[key]
        return self._getattr(obj, key)

    def _python_setitem(self, handle_val, obj, key, value):
        wrapper = self._objects.get(handle_val.i)
        if isinstance(wrapper, _ItemGetter) or (
                not isinstance(wrapper, _AttrGetter) and self._use_items(obj)):
            obj[key] = value
        else:
            self._setattr(obj, key, value)

    def _attribute_name(self, key):
        if isinstance(key, bytes):
            key = key.decode(self._encoding or "utf-8")
        if not isinstance(key, str):
            raise AttributeError("attribute names must be strings, not %s" % type(key).__name__)
        return key

    def _getattr(self, obj, key):
        if self._attribute_handlers is not None:
            return self._attribute_handlers[0](obj, key)
        name = self._attribute_name(key)
        if self._attribute_filter is not None:
            name = self._checked_name(self._attribute_filter(obj, name, False))
        return getattr(obj, name)

    def _setattr(self, obj, key, value):
        if self._attribute_handlers is not None:
            self._attribute_handlers[1](obj, key, value)
            return
        name = self._attribute_name(key)
        if self._attribute_filter is not None:
            name = self._checked_name(self._attribute_filter(obj, name, True))
        setattr(obj, name, value)

    @staticmethod
    def _checked_name(name):
        if not isinstance(name, str):
            raise AttributeError("attribute filter returned %s, not a name"
                                 % type(name).__name__)
        return name

    # ---- operators ----
    def _operator(self, op, args, values):
        if op == OP_TOSTRING:
            return str(unwrap(values[0]))
        if op == OP_LEN:
            return len(unwrap(values[0]))
        if op == OP_UNM:
            return -unwrap(values[0])
        a, b = unwrap(values[0]), unwrap(values[1])
        if op == OP_CONCAT and isinstance(a, (str, bytes)) and not isinstance(b, (str, bytes)):
            b = str(b) if isinstance(a, str) else b
        return _BINARY[op](a, b)

    # ---- iteration ----
    def _iter_next(self, state):
        try:
            item = next(state.it)
        except StopIteration:
            return ()
        if state.explode == "enumerate":
            index, value = item
            if type(value) is tuple and self._unpack_returned_tuples:
                return (index,) + value
            return (index, value)
        if type(item) is tuple and (state.explode or self._unpack_returned_tuples):
            if not item:
                return (_AS_NONE,)
            return ((_AS_NONE if item[0] is None else item[0]),) + item[1:]
        return (_AS_NONE if item is None else item,)

    # ---- the python table ----
    def _python_table_function(self, index, values, out):
        # index: 1 iter, 2 iterex, 3 enumerate, 4 as_attrgetter, 5 as_itemgetter,
        # 6 as_function, 7 args, 8 set_overflow_handler (csrc/lc_pyobject.c)
        if index in (1, 2, 3):
            if not values:
                raise TypeError("python iteration needs an object to iterate over")
            obj = unwrap(values[0])
            if index == 3:
                start = values[1] if len(values) > 1 and values[1] is not None else 0
                state = _PyIterator(iter(builtins.enumerate(obj, start)), "enumerate")
            else:
                state = _PyIterator(iter(obj), index == 2)
            return self._return_special(state, out, CB_ITER)
        if index in (4, 5):
            if not values:
                raise TypeError("missing object argument")
            wrapper = (_AttrGetter if index == 4 else _ItemGetter)(unwrap(values[0]))
            return self._write_results((wrapper,), out, 1)
        if index == 6:
            if not values:
                raise TypeError("missing object argument")
            return self._return_special(unwrap(values[0]), out, CB_FUNC)
        if index == 7:
            if len(values) != 1 or not isinstance(values[0], _LuaTable):
                raise TypeError("python.args() takes one table")
            args, kwargs = _table_args(values[0])
            return self._write_results((_PyArgs(args, kwargs),), out, 1)
        if index == 8:
            self.set_overflow_handler(values[0] if values else None)
            return 0
        raise TypeError("unknown python function %d" % index)

    def _return_special(self, obj, out, status):
        self._objects[id(obj)] = obj
        self._cb_keep = obj
        out[0].tag = PYOBJ
        out[0].i = id(obj)
        return status


