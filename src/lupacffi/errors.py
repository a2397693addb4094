"""The exceptions, shared by every backend."""


class LuaError(Exception):
    """An error raised by Lua code (or by the Lua API).

    ``value`` holds the Lua error value itself, converted to Python (a string,
    a number, a wrapped table, a Python object...); the message holds it as
    text together with the Lua traceback, innermost frame last.
    """

    value = None


class LuaSyntaxError(LuaError):
    """Lua code that does not compile."""


class LuaMemoryError(LuaError, MemoryError):
    """Lua ran out of memory (or over its ``max_memory`` limit)."""


class LuaLimitError(LuaError):
    """Lua was stopped by an execution limit.  ``limit`` names it
    ("instructions" or "time") and ``budget`` is its value (a count of
    instructions, or seconds)."""

    def __init__(self, message, limit=None, budget=None):
        LuaError.__init__(self, message)
        self.limit = limit
        self.budget = budget


class LuaInterrupted(LuaLimitError):
    """Lua was stopped by ``LuaRuntime.interrupt()`` (called from another
    thread or a signal handler).  ``limit`` is "interrupt", ``budget`` None.
    A LuaLimitError, so handlers of runaway code catch it too."""

    def __init__(self, message="Lua was interrupted"):
        LuaLimitError.__init__(self, message, "interrupt", None)
