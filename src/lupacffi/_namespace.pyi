# The public API of one backend module (lupacffi.lua54 and its siblings
# re-export it: `from ._namespace import *`).  At run time _namespace.export() fills each
# backend module; these stubs describe the result.
from typing import Any, Dict, List, Tuple

from ._to_python import to_python as to_python
from ._lua_objects import lua_type as lua_type
from ._protocols import as_attrgetter as as_attrgetter
from ._protocols import as_itemgetter as as_itemgetter
from ._protocols import unpacks_lua_table as unpacks_lua_table
from ._protocols import unpacks_lua_table_method as unpacks_lua_table_method
from ._runtime import LuaRuntime as LuaRuntime
from ._runtime import call_interruptibly as call_interruptibly
from .errors import LuaError as LuaError
from .errors import LuaInterrupted as LuaInterrupted
from .errors import LuaLimitError as LuaLimitError
from .errors import LuaMemoryError as LuaMemoryError
from .errors import LuaSyntaxError as LuaSyntaxError

__all__ = [
    "LuaRuntime",
    "LuaError",
    "LuaSyntaxError",
    "LuaMemoryError",
    "LuaLimitError",
    "LuaInterrupted",
    "lua_type",
    "as_attrgetter",
    "as_itemgetter",
    "unpacks_lua_table",
    "unpacks_lua_table_method",
    "LUA_VERSION",
    "LUA_MAXINTEGER",
    "LUA_MININTEGER",
    "to_python",
    "call_interruptibly",
]

LUA_VERSION: Tuple[int, int]
LUA_MAXINTEGER: int
LUA_MININTEGER: int

def export(namespace: Dict[str, Any], backend_name: str) -> None: ...
