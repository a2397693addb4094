"""lupacffi with Lua 5.3 (the lupa API; see lupacffi._namespace)."""

from ._namespace import export as _export

_export(globals(), "53")
