"""lupacffi: Lua and LuaJIT inside Python through CFFI, a drop-in for lupa.

``import lupacffi`` gives the API of the newest backend that was built (PUC Lua
before LuaJIT, highest version first); ``import lupacffi.lua54`` (or lua51 ...
lua55, luajit21) picks one.  The backend is imported on first use.
"""

import contextlib
import importlib
import sys

from . import version as version
from .version import __version__ as __version__

# newest first: PUC Lua, then LuaJIT
BACKEND_MODULES = ["lua55", "lua54", "lua53", "lua52", "lua51", "luajit21"]

_default = None


def _default_backend():
    global _default
    if _default is None:
        errors = []
        for name in BACKEND_MODULES:
            try:
                _default = importlib.import_module("lupacffi." + name)
                break
            except ImportError as e:
                errors.append("%s: %s" % (name, e))
        else:
            raise ImportError("no lupacffi backend is available (%s)" % "; ".join(errors))
    return _default


def available_backends():
    """The names of the backend modules that can be imported here."""
    found = []
    for name in BACKEND_MODULES:
        try:
            importlib.import_module("lupacffi." + name)
            found.append(name)
        except ImportError:
            pass
    return found


@contextlib.contextmanager
def allow_lua_module_loading():
    """Import backends inside this block so that Lua C modules loaded by
    ``require`` can link against the Lua in them (RTLD_GLOBAL)."""
    import os

    old = sys.getdlopenflags()
    sys.setdlopenflags(os.RTLD_NOW | os.RTLD_GLOBAL)
    try:
        yield
    finally:
        sys.setdlopenflags(old)


def __getattr__(name):
    # Private names and the backend modules are looked up here while they are
    # being imported (`from . import _runtime`): importing the default backend
    # for them would re-enter a half-done import.
    if name.startswith("_") or name in BACKEND_MODULES:
        raise AttributeError("module 'lupacffi' has no attribute %r" % (name,))
    return getattr(_default_backend(), name)


def __dir__():
    names = set(globals())
    try:
        names.update(_default_backend().__all__)
    except ImportError:
        pass
    return sorted(names)
