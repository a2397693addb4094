# `import lupacffi` gives the API of the default backend (see _namespace.pyi).
from typing import ContextManager, List

from ._namespace import *
from . import version as version

__version__: str
BACKEND_MODULES: List[str]

def __dir__() -> List[str]: ...
def available_backends() -> List[str]: ...
def allow_lua_module_loading() -> ContextManager[None]: ...
