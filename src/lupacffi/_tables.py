"""Building Lua tables from Python containers (LuaRuntime.table_from)."""
from collections.abc import Mapping, Sequence

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
    for value in arg:         # not iterable: TypeError, as in lupa
        n += 1
        pairs.append((n, value))
    counter[0] = n
    return pairs


def table_from(runtime, args, recursive):
    """LuaRuntime.table_from(): one table from all args, later keys winning."""
    counter = [0]
    pairs = []
    for arg in args:
        pairs.extend(_pairs(arg, counter))
    if not recursive:
        return runtime._new_table(pairs)
    return _Builder(runtime).build(args, pairs)


class _Builder(object):
    """Recursive conversion: one Lua table per Python container, made before
    it is filled so that shared and cyclic references stay so.  Works through
    a to-do list, not recursion, so that deep nesting is no problem."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.tables = {}          # id(container) -> its Lua table
        self.alive = []           # keeps the containers alive (their ids stay unique)
        self.todo = []            # (Lua table, pairs) still to be filled

    def build(self, args, pairs):
        root = self.runtime._new_table([])
        for arg in args:          # a reference back to an argument is the result
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
