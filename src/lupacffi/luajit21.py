"""lupacffi with LuaJIT 2.1 (the lupa API; see lupacffi._namespace)."""

from ._namespace import export as _export

_export(globals(), "jit21")
