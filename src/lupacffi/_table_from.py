"""Building Lua tables from Python containers (LuaRuntime.table_from)."""

import codecs
import struct
from collections.abc import Mapping, Sequence
from operator import countOf

from ._backend import _PYPY, BUFFER_SIZE
from ._constants import COL_FLOAT, COL_INDEX, COL_INT, COL_STR, COL_VALS, LUA_NOREF, NONE
from ._lua_objects import _LuaTable

_PLAIN = (dict, list, tuple)


def _is_mapping(obj):
    return type(obj) is dict or isinstance(obj, (Mapping, _LuaTable))


def _is_container(obj):
    """What recursive=True turns into a table (lupa's choice): mappings and
    sequences other than strings, but no sets, iterators or Lua tables."""
    if type(obj) in _PLAIN:
        return True
    return isinstance(obj, (Mapping, Sequence)) and not isinstance(obj, (str, bytes))


def _pairs(arg, counter):
    """The (key, value) pairs an argument of table_from contributes: a
    mapping its items, any other iterable its values at counter[0] + 1,
    counter[0] + 2, ... (counter[0] is then the last index used)."""
    if _is_mapping(arg):
        return list(arg.items())
    pairs = []
    n = counter[0]
    for value in arg:  # not iterable: TypeError, as in lupa
        n += 1
        pairs.append((n, value))
    counter[0] = n
    return pairs


def table_from(runtime, args, recursive):
    """LuaRuntime.table_from(): one table from all args, later keys winning."""
    if not recursive:
        return _from_columns(runtime, args)
    counter = [0]
    pairs = []
    for arg in args:
        pairs.extend(_pairs(arg, counter))
    return _Builder(runtime).build(args, pairs)


# ---- non-recursive: the keys and the values of each argument as columns --------
# A column of ints, floats or strings is packed at C speed (struct, bytes.join)
# and crosses as one buffer; anything else goes as lc_val structs.


def _from_columns(runtime, args):
    parts = []  # (first index or None, keys, values) per argument
    narr = nrec = 0
    for arg in args:
        if type(arg) is dict:
            parts.append((None, list(arg), list(arg.values())))
            nrec += len(arg)
        elif _is_mapping(arg):
            items = list(arg.items())
            parts.append((None, [k for k, _ in items], [v for _, v in items]))
            nrec += len(items)
        else:
            values = list(arg)  # not iterable: TypeError, as in lupa
            parts.append((narr, None, values))
            narr += len(values)
    array = _array_size(narr, args)
    table = None
    for start, keys, values in parts:
        ref = LUA_NOREF if table is None else table._ref
        result = _fill(runtime, ref, start, keys, values, array, nrec)
        if table is None:
            table = result
    return table if table is not None else _fill(runtime, LUA_NOREF, 0, None, [], 0, 0)


def _array_size(narr, args):
    """The size of the new table's array part: what Lua's own rehash gives a
    table filled key by key (computesizes in ltable.c: the largest power of
    2, n, of which more than half of the keys 1..n exist), counting the
    sequences' narr values and the dicts' int keys, so that those keys are
    iterated in order and len() agrees with lupa.  Computed only when a dict
    has the key narr + 1 (dicts of other keys cost one lookup)."""
    if not any(type(arg) is dict and narr + 1 in arg for arg in args):
        return narr
    extra = sorted(
        {k for arg in args if type(arg) is dict for k in arg if type(k) is int and k > narr}
    )
    best, n, i = narr, 1, 0
    while n // 2 < narr + len(extra):  # (beyond, no n can be more than half used)
        while i < len(extra) and extra[i] <= n:
            i += 1
        if min(n, narr) + i > n // 2:
            best = max(best, n)
        n *= 2
    return best


def _fill(runtime, ref, start, keys, values, narr, nrec):
    ffi = runtime._ffi
    keep = []
    kcol = ffi.new("lc_column *")
    vcol = ffi.new("lc_column *")
    if keys is None:
        kcol.kind = COL_INDEX
        kcol.start = start
        packed_keys = True
    else:
        packed_keys = _pack(runtime, kcol, keys, keep)
    packed_values = _pack(runtime, vcol, values, keep)
    if not (packed_keys or packed_values):
        # C pins the Python objects of one lc_val column only: go pair by pair
        return runtime._new_table(list(zip(keys, values)), ref)
    pyobjs = False
    if not packed_keys:
        pyobjs = _vals_column(runtime, kcol, keys, keep, True)
    if not packed_values:
        pyobjs = _vals_column(runtime, vcol, values, keep, False)
    out = runtime._buffers().out
    args = (ref, len(values), kcol, vcol, narr, nrec, out)
    if pyobjs:
        r = runtime._with_objects(keep, runtime._lib.lc_fill_columns, *args)
    else:
        r = runtime._lib.lc_fill_columns(runtime._ptr, *args)
    if r < 0:
        raise runtime._error(r, out)
    return runtime._results(r, out, BUFFER_SIZE) if ref == LUA_NOREF else None


if _PYPY:
    # PyPy knows when a list holds nothing but exact ints, floats, strs or
    # bytes (its storage strategy): no need to look at every item
    from __pypy__ import strategy as _strategy

    _STRATEGY_KINDS = {
        "IntegerListStrategy": int,
        "FloatListStrategy": float,
        "AsciiListStrategy": str,
        "UnicodeListStrategy": str,
        "BytesListStrategy": bytes,
    }
_ONE_BYTE_PER_CHAR = {"utf-8", "ascii", "iso8859-1"}  # ASCII text is its own encoding


def _pack(runtime, col, values, keep):
    """Packs values into col when they are all ints (in range), floats, strs
    or bytes; returns whether it did."""
    ffi = runtime._ffi
    kind = _STRATEGY_KINDS.get(_strategy(values)) if _PYPY and type(values) is list else None
    if kind is None and values:
        # (counting one type is faster than collecting them in a set)
        first = type(values[0])
        kind = first if countOf(map(type, values), first) == len(values) else None
    if kind is int:
        try:
            col.ints = _int_array(ffi, values, keep)
        except (OverflowError, struct.error):  # the overflow handler decides, value by value
            return False
        col.kind = COL_INT
        return True
    if kind is float:
        col.kind = COL_FLOAT
        col.floats = floats = ffi.new("double[]", values)
        keep.append(floats)
        return True
    encoding = runtime._encoding
    if kind is str and encoding is not None:
        text = "".join(values)
        data = text.encode(encoding)
        if len(data) == len(text) and codecs.lookup(encoding).name in _ONE_BYTE_PER_CHAR:
            strings = values  # (their lengths are those of the encoded ones)
        else:
            strings = [v.encode(encoding) for v in values]
            data = b"".join(strings)
        return _str_column(ffi, col, data, strings, keep)
    if kind is bytes:
        return _str_column(ffi, col, b"".join(values), values, keep)
    return False


def _int_array(ffi, values, keep):
    """A C array of the ints (OverflowError or struct.error when one does
    not fit)."""
    if _PYPY:  # cffi's own conversion is the fastest on PyPy, struct's on CPython
        ints = ffi.new("long long[]", values)
        keep.append(ints)
        return ints
    return _buffer(ffi, "long long[]", _packed_ints(values), keep)


_CHUNK = 1 << 16  # ints per struct.pack() call: its argument tuple stays small


def _packed_ints(values):
    """The ints of the list `values` as native long longs: struct.pack() does
    that in half the time of array('q', values) on CPython 3.11."""
    n = len(values)
    if n <= _CHUNK:
        return struct.pack("%dq" % n, *values)
    parts = (values[i : i + _CHUNK] for i in range(0, n, _CHUNK))
    return b"".join(struct.pack("%dq" % len(part), *part) for part in parts)


def _str_column(ffi, col, data, strings, keep):
    """data: the strings (of the same lengths as those in `strings`) joined."""
    col.kind = COL_STR
    col.bytes = _buffer(ffi, "char[]", data or b"\0", keep)  # never NULL, even for ""s
    if _PYPY:  # (as in _int_array)
        col.ints = lengths = ffi.new("long long[]", list(map(len, strings)))
        keep.append(lengths)
    else:
        col.ints = _buffer(ffi, "long long[]", _packed_ints(list(map(len, strings))), keep)
    return True


def _vals_column(runtime, col, values, keep, is_key):
    """Any values, one lc_val each (a None key is python.none, as in lupa)."""
    vals = runtime._ffi.new("lc_val[]", max(len(values), 1))
    keep.append(vals)
    to_val = runtime._to_val
    pyobjs = False
    for k, value in enumerate(values):
        if value is None and is_key:
            vals[k].tag = NONE
        elif to_val(vals[k], value, keep):
            pyobjs = True
    col.kind = COL_VALS
    col.vals = vals
    return pyobjs


def _buffer(ffi, ctype, data, keep):
    """A C view of data, kept in `keep` until the C call is over (the view
    keeps data alive; `keep` must hold nothing but cdata and Python objects
    to register)."""
    if not len(data):
        return ffi.NULL
    buf = ffi.from_buffer(ctype, data)
    keep.append(buf)
    return buf


class _Builder(object):
    """Recursive conversion: one Lua table per Python container, made before
    it is filled so that shared and cyclic references stay so.  Works through
    a to-do list, not recursion, so that deep nesting is no problem."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.tables = {}  # id(container) -> its Lua table
        self.alive = []  # keeps the containers alive (their ids stay unique)
        self.todo = []  # (Lua table, pairs) still to be filled

    def build(self, args, pairs):
        root = self.runtime._new_table([])
        for arg in args:  # a reference back to an argument is the result
            if _is_container(arg) and id(arg) not in self.tables:
                self.tables[id(arg)] = root
                self.alive.append(arg)
        self.todo.append((root, pairs))
        while self.todo:
            table, pairs = self.todo.pop()
            convert = self._convert
            filled = [(convert(k), convert(v)) for k, v in pairs]
            self.runtime._new_table(filled, table._ref)
        return root

    def _convert(self, value):
        if not _is_container(value):
            return value
        table = self.tables.get(id(value))
        if table is None:
            table = self.tables[id(value)] = self.runtime._new_table([])
            self.alive.append(value)
            self.todo.append((table, _pairs(value, [0])))
        return table
