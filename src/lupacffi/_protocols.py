"""How Lua sees a Python object: the protocol views (as_attrgetter,
as_itemgetter) and the named-argument decorators (unpacks_lua_table)."""


class _Protocol(object):
    """A view of a Python object restricted to one indexing protocol."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __repr__(self):
        return "<%s of %r>" % (type(self).__name__, self.obj)


class _AttrGetter(_Protocol):
    __slots__ = ()


class _ItemGetter(_Protocol):
    __slots__ = ()


class _Boxed(_Protocol):
    """An object that goes to Lua as a userdata although it would convert:
    an int too large for Lua, handed to (or returned by) an overflow
    handler set from Lua.  Back in Python it is the object again."""

    __slots__ = ()


def as_attrgetter(obj):
    """Lua indexing of obj uses attribute access (``getattr``)."""
    return _AttrGetter(unwrap(obj))


def as_itemgetter(obj):
    """Lua indexing of obj uses item access (``obj[key]``)."""
    return _ItemGetter(unwrap(obj))


def unwrap(obj):
    return obj.obj if isinstance(obj, _Protocol) else obj


def unpacks_lua_table(func):
    """Lets Lua call func with a table of named arguments:
    ``func{a=1, b=2}`` or ``func{1, b=2}`` as well as ``func(1, 2)``.
    A single Lua table argument is unpacked; any other call passes through."""

    def wrapper(*args, **kwargs):
        if len(args) == 1 and not kwargs:
            args, kwargs = _unpack_single_table(args)
        return func(*args, **kwargs)

    _copy_names(wrapper, func)
    return wrapper


def unpacks_lua_table_method(meth):
    """unpacks_lua_table for methods: the table is the argument after self."""

    def wrapper(self, *args, **kwargs):
        if len(args) == 1 and not kwargs:
            args, kwargs = _unpack_single_table(args)
        return meth(self, *args, **kwargs)

    _copy_names(wrapper, meth)
    return wrapper


def _copy_names(wrapper, func):
    for name in ("__name__", "__qualname__", "__doc__", "__module__"):
        try:
            setattr(wrapper, name, getattr(func, name))
        except (AttributeError, TypeError):
            pass
    wrapper.__wrapped__ = func


def _unpack_single_table(args):
    from ._lua_objects import _LuaTable

    if isinstance(args[0], _LuaTable):
        return _table_args(args[0])
    return args, {}


def _table_args(table):
    """Positional (keys 1..n) and keyword (string keys) arguments of a Lua
    table; the errors are lupa's (which crashes on tables with holes)."""
    kwargs, numbered = {}, {}
    for key, value in table.items():
        if isinstance(key, int) and not isinstance(key, bool):
            numbered[key] = value
        elif isinstance(key, str):
            kwargs[key] = value
        elif isinstance(key, bytes):
            kwargs[key.decode("utf-8")] = value
        else:
            raise TypeError("table key is neither an integer nor a string")
    positional = []
    for i in range(1, len(numbered) + 1):
        if i not in numbered:  # a hole, or keys outside 1..n
            raise IndexError("table index out of range")
        positional.append(numbered[i])
    return tuple(positional), kwargs
