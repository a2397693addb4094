"""The version of lupacffi (``lupacffi.version.__version__``, as lupa.version)."""

__version__ = "0.1.0"
