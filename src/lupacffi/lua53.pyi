from ._namespace import *
from ._namespace import __all__ as __all__
