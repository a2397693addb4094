"""Deep conversion of Lua tables into plain Python data (beyond lupa)."""

from ._lua_objects import _LuaTable


def to_python(obj, max_depth=None, allow_cycles=False):
    """Converts a Lua table, and the tables in it, into plain Python data.

    A table whose keys are exactly 1..n (n >= 1) becomes a list, any other
    table (the empty one included) a dict.  Keys are kept as they are (a
    table used as a key stays a Lua table, which is hashable); values that
    are tables are converted in turn, everything else (functions, coroutines,
    userdata, Python objects) stays as it is.  A table that is referenced
    several times becomes one Python object referenced as often.

    max_depth: None converts everything; n converts tables down to nesting
    level n (1: only obj itself) and leaves deeper ones as Lua tables.
    A table that contains itself (through any path) raises ValueError,
    unless allow_cycles is true: then the result contains the same cycle.
    So do keys that Python sees as one (1 and true, 0 and false).
    Anything that is not a Lua table is returned unchanged.

    ``lupacffi.lua54.to_python(lua.eval("{1, 2, {x = 'y'}}"))`` gives
    ``[1, 2, {'x': 'y'}]``.
    """
    if not isinstance(obj, _LuaTable):
        return obj
    if max_depth is not None:
        if not isinstance(max_depth, int) or max_depth < 0:
            raise ValueError("max_depth must be None or an int >= 0")
        if max_depth == 0:
            return obj
    root, items = _start(obj)
    done = {obj: root}  # table -> its Python container
    path = {obj}  # tables being converted (a cycle comes back to one)
    stack = [(obj, root, items, 0, 1)]
    while stack:
        table, container, items, pos, depth = stack.pop()
        is_list = type(container) is list
        n = len(items)
        while pos < n:
            key, value = items[pos]
            pos += 1
            if type(value) is _LuaTable and (max_depth is None or depth < max_depth):
                known = done.get(value, _MISSING)
                if known is _MISSING:
                    child, child_items = _start(value)
                    done[value] = child
                    path.add(value)
                    # come back to this table after the child
                    stack.append((table, container, items, pos, depth))
                    stack.append((value, child, child_items, 0, depth + 1))
                    _store(container, is_list, key, child)
                    break
                if value in path and not allow_cycles:
                    raise ValueError(
                        "cannot convert a Lua table that contains itself "
                        "into plain data (use allow_cycles=True)"
                    )
                value = known
            _store(container, is_list, key, value)
        else:
            path.discard(table)
            if len(container) != n:  # Lua keys that are one key in Python
                raise ValueError(
                    "keys of a Lua table collide in a Python dict "
                    "(such as 1 and true): %r" % (table,)
                )
    return root


_MISSING = object()


def _start(table):
    """An empty container for table (a list or a dict) and its items."""
    items = list(table.items())
    n = len(items)
    if n and all(type(k) is int and 0 < k <= n for k, _ in items):
        return [None] * n, items  # keys are unique, so they are exactly 1..n
    return {}, items


def _store(container, is_list, key, value):
    if is_list:
        container[key - 1] = value
    else:
        container[key] = value
