"""The exceptions, shared by every backend."""


class LuaError(Exception):
    """An error raised by Lua code (or by the Lua API).

    The message (``str(e)``) is the error value as text, followed by the Lua
    traceback, innermost frame last.

    ``value`` holds the Lua error value itself, converted to Python:

    * a string error (``error('boom')``, and Lua's own errors): the message
      as Lua made it, as ``bytes`` whatever the runtime's encoding (a Lua
      string need not be valid text in it), with the position Lua put in
      front (``b'[string "<python>"]:1: boom'``), without the traceback and
      without the ``error loading code:`` prefix of the message;
    * a number: an int or a float; ``true``/``false``: a bool; ``nil``: None;
    * a table (``error({code = 42})``, whose message is empty) or another
      Lua value: its wrapper, so ``e.value.code == 42``;
    * a Python object raised with ``error(obj)``: the object.

    It is None for errors that lupacffi raises itself (a limit, an
    interrupt, a closed runtime).
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
