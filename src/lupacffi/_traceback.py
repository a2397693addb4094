"""Lua frames in Python tracebacks.

When a Lua error reaches Python, the C message handler has recorded the Lua
stack twice: as Lua's own "stack traceback:" text (which goes into the
LuaError message, as in lupa) and, after a NUL byte, as records of one frame
each (see csrc/lc_traceback.c).  From the records we build real traceback
entries, one per Lua frame, with the Lua chunk as file name, the current line
and the function's name, so that Python shows them like its own frames:

    File "[string "<python>"]", line 3, in <main chunk>
    File "[string "<python>"]", line 2, in f
    File "[C]", line 0, in error

C functions have no line: they show line 0.  The entries sit between the
Python frames of the caller and, for a Python exception that crossed Lua, the
frames of the callback that raised it.  A LuaLimitError gets the frames where
Lua was stopped (lc_stop_traceback).

A frame object is needed per entry.  We take the frame of a generator that is
never started: it has no f_back (so it keeps no Python frames or locals alive
and makes no reference cycle with the exception) and can be shared by any
number of tracebacks, so frames are cached.
"""

import os
import types


# One line: on PyPy 3.11 a traceback's line comes from the instruction at
# tb_lasti, and a `def` generator's first instruction is on the line after the
# `def` (all Lua lines would be one too high); in a lambda every instruction is
# on its first line.
_template = lambda: (yield)  # noqa: E731


_CODE = _template.__code__
_HAS_QUALNAME = hasattr(_CODE, "co_qualname")
# tb_lasti 0 is the generator's first instruction: it has a line (the code's
# first line, set to the Lua line below) and no columns, so Python prints the
# line without pointing at columns of it.
_LASTI = 0

_frames = {}  # type: dict  # (filename, name, line) -> frame
_MAX_FRAMES = 2000


def _frame(filename, name, line):
    key = (filename, name, line)
    frame = _frames.get(key)
    if frame is None:
        if len(_frames) >= _MAX_FRAMES:
            _frames.clear()
        if _HAS_QUALNAME:
            code = _CODE.replace(
                co_filename=filename, co_name=name, co_qualname=name, co_firstlineno=line
            )
        else:
            code = _CODE.replace(co_filename=filename, co_name=name, co_firstlineno=line)
        frame = _frames[key] = types.FunctionType(code, {})().gi_frame
    return frame


def split(data):
    """(Lua's traceback text, frame records) of a traceback string from C."""
    text, _, records = data.partition(b"\0")
    return text, records


def lua_frames(records):
    """The frames in records as (filename, line, name), innermost first."""
    fields = records.split(b"\0")
    frames = []
    for k in range(0, len(fields) - 4, 5):
        kind, current, defined, name, source = fields[k : k + 5]
        if kind == b".":
            skipped = int(current)  # -1: not known
            frames.append(
                ("...", 0, "<%s more Lua frames>" % (skipped if skipped >= 0 else "some"))
            )
            continue
        if source[:1] == b"@":
            filename = os.fsdecode(source[1:])
        else:
            filename = source[1:].decode("utf-8", "replace")
        line = max(int(current), 0)
        if name:
            name = name.decode("utf-8", "replace")
        elif kind == b"m":
            name = "<main chunk>"
        elif kind == b"L":
            name = "<function at line %d>" % int(defined)
        else:
            name = "?"
        frames.append((filename, line, name))
    return frames


def add_lua_frames(exc, records):
    """Puts the Lua frames in records in front of exc's traceback (exc is
    about to be raised: the raising Python frames will come before them)."""
    if not records:
        return exc
    try:
        tb = exc.__traceback__
        for filename, line, name in lua_frames(records):
            tb = types.TracebackType(tb, _frame(filename, name, line), _LASTI, line)
        exc.__traceback__ = tb
    except Exception:  # never lose the error itself over its traceback
        pass
    return exc
