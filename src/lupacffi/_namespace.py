"""The namespace of a backend module: export() fills lupacffi.lua54 and its
siblings with the public API (one source for all of them)."""

from . import _runtime
from ._backend import get_backend
from ._protocols import as_attrgetter, as_itemgetter, unpacks_lua_table, unpacks_lua_table_method
from ._to_python import to_python
from ._lua_objects import lua_type
from .errors import LuaError, LuaInterrupted, LuaLimitError, LuaMemoryError, LuaSyntaxError

__all__ = [
    "LuaRuntime",
    "LuaError",
    "LuaSyntaxError",
    "LuaMemoryError",
    "lua_type",
    "as_attrgetter",
    "as_itemgetter",
    "unpacks_lua_table",
    "unpacks_lua_table_method",
    "LUA_VERSION",
    "LUA_MAXINTEGER",
    "LUA_MININTEGER",
    "to_python",
    "LuaLimitError",
    "LuaInterrupted",
    "call_interruptibly",  # beyond lupa
]


def export(namespace, backend_name):
    """Fills a backend module's namespace; ImportError if it was not built."""
    backend = get_backend(backend_name)
    module = namespace["__name__"]
    runtime_class = type(
        "LuaRuntime",
        (_runtime.LuaRuntime,),
        {
            "__doc__": _runtime.LuaRuntime.__doc__,
            "__module__": module,
            "_backend_name": backend_name,
        },
    )
    namespace.update(
        LuaRuntime=runtime_class,
        LuaError=LuaError,
        LuaSyntaxError=LuaSyntaxError,
        LuaMemoryError=LuaMemoryError,
        LuaLimitError=LuaLimitError,
        LuaInterrupted=LuaInterrupted,
        lua_type=lua_type,
        to_python=to_python,
        call_interruptibly=_runtime.call_interruptibly,
        as_attrgetter=as_attrgetter,
        as_itemgetter=as_itemgetter,
        unpacks_lua_table=unpacks_lua_table,
        unpacks_lua_table_method=unpacks_lua_table_method,
        LUA_VERSION=backend.version,
        LUA_MAXINTEGER=backend.maxinteger,
        LUA_MININTEGER=backend.mininteger,
        __all__=list(__all__),
    )
