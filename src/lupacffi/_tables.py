"""Building Lua tables from Python containers (LuaRuntime.table_from)."""
from collections.abc import Mapping

from ._lua_objects import _LuaTable

_NESTED = (dict, list, tuple)


def _pairs(arg, counter):
    """The (key, value) pairs an argument of table_from contributes;
    counter[0] is the last sequence index used so far."""
    if isinstance(arg, (Mapping, _LuaTable)):
        return list(arg.items())
    try:
        it = iter(arg)
    except TypeError:
        raise TypeError("table_from() takes mappings and iterables, not %s"
                        % type(arg).__name__)
    pairs = []
    for value in it:
        counter[0] += 1
        pairs.append((counter[0], value))
    return pairs


def table_from(runtime, args, recursive):
    if not recursive:
        counter = [0]
        pairs = []
        for arg in args:
            pairs.extend(_pairs(arg, counter))
        return runtime._new_table(pairs)
    return _Builder(runtime).build(args)


class _Builder(object):
    """Recursive conversion: one Lua table per Python container, created
    before it is filled so that shared and cyclic references stay so."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.tables = {}          # id(container) -> Lua table
        self.alive = []           # keeps containers alive (their ids stay unique)

    def build(self, args):
        root = self.runtime._new_table([])
        counter = [0]
        pairs = []
        for arg in args:
            pairs.extend(_pairs(arg, counter))
        self._fill(root, pairs)
        return root

    def _convert(self, value):
        if not isinstance(value, _NESTED):
            return value
        table = self.tables.get(id(value))
        if table is None:
            table = self.tables[id(value)] = self.runtime._new_table([])
            self.alive.append(value)
            self._fill(table, _pairs(value, [0]))
        return table

    def _fill(self, table, pairs):
        converted = [(self._convert(k), self._convert(v)) for k, v in pairs]
        self.runtime._new_table(converted, table._ref)
