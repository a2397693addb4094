"""lupacffi with Lua 5.1 (the lupa API; see lupacffi._api)."""
from ._api import export as _export

_export(globals(), "51")
