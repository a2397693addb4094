"""Lua frames in Python tracebacks (src/lupacffi/_traceback.py and the frame
records of csrc/lc_traceback.c): a Lua error shows its Lua frames after the
Python frames of the caller, and a Python exception that crossed Lua keeps
its own frames after the Lua ones.  The LuaError message keeps Lua's own
traceback text, as in lupa."""

import asyncio
import gc
import os
import sys
import threading
import traceback
import types

import pytest

from lupacffi import _traceback
from lupacffi.errors import LuaError, LuaLimitError, LuaSyntaxError

CHUNK = '[string "<python>"]'
THIS_FILE = os.path.normcase(os.path.abspath(__file__))

NESTED = """\
local function f(x)
  error('boom')
end
local function g() f(1) end
g()
"""


def entries(exc):
    return [(f.filename, f.lineno, f.name) for f in traceback.extract_tb(exc.__traceback__)]


def lua_entries(exc):
    """The entries that are not Python source files."""
    return [e for e in entries(exc) if not e[0].endswith(".py")]


def is_this_file(filename):
    return os.path.normcase(os.path.abspath(filename)) == THIS_FILE


def raised(function, *args, exc=LuaError, **kwargs):
    with pytest.raises(exc) as info:
        function(*args, **kwargs)
    return info.value


# ---- Lua errors ------------------------------------------------------------------
def test_execute_shows_nested_lua_frames(lua):
    error = raised(lua.execute, NESTED)
    assert entries(error)[-4:] == [
        (CHUNK, 5, "<main chunk>"),
        (CHUNK, 4, "g"),
        (CHUNK, 2, "f"),
        ("[C]", 0, "error"),
    ]
    # the Python frames of the caller come first
    first = entries(error)[0]
    assert is_this_file(first[0]) and first[2] == "raised"


def test_eval_and_function_call(lua):
    error = raised(lua.eval, "nil + 1")
    assert lua_entries(error) == [(CHUNK, 1, "<main chunk>")]
    f = lua.eval("function(n)\n  local t = nil\n  return t[n]\nend")
    error = raised(f, 1)
    assert lua_entries(error) == [(CHUNK, 3, "<function at line 1>")]


def test_chunk_name_is_the_file_name(lua):
    error = raised(lua.execute, "\n\nerror('x')", name="=my chunk")
    assert lua_entries(error)[0] == ("my chunk", 3, "<main chunk>")
    error = raised(lua.execute, "error('x')", name="some code")
    assert lua_entries(error)[0] == ('[string "some code"]', 1, "<main chunk>")


def test_file_chunk_has_its_full_path_and_source_line(lua, tmp_path):
    directory = tmp_path / ("a_long_directory_name_" * 4)  # beyond Lua's short_src
    directory.mkdir()
    path = directory / "module.lua"
    path.write_text("local M = {}\nfunction M.fail()\n  error('from a file')\nend\nreturn M\n")
    m = lua.eval("dofile")(str(path))
    error = raised(m.fail)
    assert lua_entries(error)[-2:] == [(str(path), 3, "<function at line 2>"), ("[C]", 0, "error")]
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert "File \"%s\", line 3, in <function at line 2>\n    error('from a file')" % path in text


def test_formatted_traceback(lua):
    error = raised(lua.execute, NESTED)
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    lines = text.splitlines()
    start = lines.index('  File "%s", line 5, in <main chunk>' % CHUNK)
    assert lines[start : start + 4] == [
        '  File "%s", line 5, in <main chunk>' % CHUNK,
        '  File "%s", line 4, in g' % CHUNK,
        '  File "%s", line 2, in f' % CHUNK,
        '  File "[C]", line 0, in error',
    ]
    # the message is still Lua's, with its own traceback text, and no record
    assert str(error).startswith("%s:2: boom\nstack traceback:" % CHUNK)
    assert "\0" not in str(error)
    assert "in main chunk" in str(error).splitlines()[2]


def test_message_unchanged_by_the_frames(lua):
    error = raised(lua.execute, "error('plain', 0)")
    assert str(error).split("\n")[0] == "plain"
    assert str(error).split("\n")[1] == "stack traceback:"
    assert lua_entries(error) == [(CHUNK, 1, "<main chunk>"), ("[C]", 0, "error")]


def test_global_function_called_from_python(lua):
    lua.execute("function outer()\n  inner()\nend\nfunction inner()\n  error('deep')\nend")
    error = raised(lua.globals().outer)
    assert lua_entries(error) == [
        (CHUNK, 2, "<function at line 1>"),
        (CHUNK, 5, "inner"),
        ("[C]", 0, "error"),
    ]


def test_error_rethrown_after_pcall(lua):
    code = (
        "local function f() error('first') end\n"
        "local ok, e = pcall(f)\n"
        "local function again()\n  error(e, 0)\nend\n"
        "again()\n"
    )
    error = raised(lua.execute, code)
    # frames of where it was raised again: the pcall'd frames are gone
    assert lua_entries(error) == [
        (CHUNK, 6, "<main chunk>"),
        (CHUNK, 4, "again"),
        ("[C]", 0, "error"),
    ]
    assert str(error).startswith(CHUNK + ":1: first")


@pytest.mark.parametrize(
    "code, value",
    [
        ("error({code = 7})", "table"),
        ("error(42)", 42),
        ("error(true)", True),
        ("error(nil)", None),
        ("error(setmetatable({}, {__tostring = function() return 'obj' end}))", "table"),
    ],
)
def test_non_string_error_values(lua, code, value):
    error = raised(lua.execute, "local function f()\n  " + code + "\nend\nf()")
    assert lua_entries(error) == [(CHUNK, 4, "<main chunk>"), (CHUNK, 2, "f"), ("[C]", 0, "error")]
    if value == "table":
        assert lua.eval("type")(error.value) == "table"
    elif value == 42 and lua.lua_version < (5, 3):
        assert error.value.endswith(b":2: 42")  # a string there, with the position
    elif value is None and lua.lua_version >= (5, 5):
        assert error.value == b"<no error object>"
    else:
        assert error.value == value


def test_python_object_as_error_value(lua):
    class Payload(object):
        pass

    payload = Payload()
    error = raised(lua.eval("function(p)\n  error(p)\nend"), payload)
    assert error.value is payload
    assert lua_entries(error) == [(CHUNK, 2, "<function at line 1>"), ("[C]", 0, "error")]


def test_runtime_errors_without_error_call(lua):
    error = raised(lua.execute, "local t\nlocal x = 1\nreturn t.x")
    assert lua_entries(error) == [(CHUNK, 3, "<main chunk>")]
    error = raised(lua.execute, "return ('x'):rep(1, 2, 3) .. {}")
    assert lua_entries(error) == [(CHUNK, 1, "<main chunk>")]


def test_error_in_c_function_called_from_lua(lua):
    error = raised(
        lua.execute, "local t = {3, 1, 2}\ntable.sort(t, function(a, b)\n  return a.x < b\nend)"
    )
    names = [e[2] for e in lua_entries(error)]
    filenames = [e[0] for e in lua_entries(error)]
    lines = [e[1] for e in lua_entries(error)]
    assert names[0] == "<main chunk>" and lines[0] == 2
    assert filenames[1] == "[C]" and lines[1] == 0  # table.sort
    assert filenames[-1] == CHUNK and lines[-1] == 3  # the comparator


def test_syntax_error_has_no_lua_frames(lua):
    error = raised(lua.execute, "this is not lua", exc=LuaSyntaxError)
    assert lua_entries(error) == []
    assert all(e[0].endswith(".py") for e in entries(error))


def test_deep_recursion_keeps_the_ends(lua):
    f = lua.eval(
        "function()\n  local function rec(n)\n    if n == 0 then error('deep') end\n"
        "    return 1 + rec(n - 1)\n  end\n  local r = rec(200)\n  return r\nend"
    )
    error = raised(f)
    frames = lua_entries(error)
    assert len(frames) == 41
    assert frames[0] == (CHUNK, 6, "<function at line 1>")
    assert frames[20] == ("...", 0, "<163 more Lua frames>")  # 203 - 40
    assert frames[-1] == ("[C]", 0, "error")
    assert frames[-2] == (CHUNK, 3, "rec")
    assert frames[1:20] == [(CHUNK, 4, "rec")] * 19


@pytest.mark.slow  # (Lua 5.2+ take a while to overflow a stack of ~200000 frames)
def test_stack_overflow(lua):
    error = raised(lua.execute, "local function f(n) return 1 + f(n) end\nf(1)")
    assert "stack overflow" in str(error)
    frames = lua_entries(error)
    assert len(frames) <= 41
    assert frames[0] == (CHUNK, 2, "<main chunk>")
    assert frames[1][2] == "f" and frames[1][1] == 1


# ---- Python exceptions through Lua --------------------------------------------
def test_python_exception_keeps_its_frames(lua):
    def callback(x):
        raise KeyError(x)

    f = lua.eval("function(cb)\n  local y = 1\n  cb(y)\nend")
    error = raised(f, callback, exc=KeyError)
    all_entries = entries(error)
    names = [e[2] for e in all_entries]
    assert is_this_file(all_entries[0][0]) and names[0] == "raised"
    assert all_entries[-1][2] == "callback" and is_this_file(all_entries[-1][0])
    lua_part = lua_entries(error)
    assert lua_part == [(CHUNK, 3, "<function at line 1>"), ("[C]", 0, "cb")]
    # Python caller, then the Lua frames, then the callback's
    assert names.index("<function at line 1>") < names.index("cb") < names.index("callback")
    raise_line = callback.__code__.co_firstlineno + 1
    assert all_entries[-1][1] == raise_line


def test_python_exception_through_nested_lua_and_pcall(lua):
    def inner_callback():
        raise ValueError("deep")

    lua.globals().inner_callback = inner_callback
    code = (
        "local function level2()\n  inner_callback()\nend\n"
        "local function level1()\n  level2()\nend\n"
        "local ok, e = pcall(level1)\n"
        "error(e)\n"
    )
    error = raised(lua.execute, code, exc=ValueError)
    assert str(error) == "deep"
    # re-raised from Lua's main chunk: the frames where it was raised again
    assert lua_entries(error) == [(CHUNK, 8, "<main chunk>"), ("[C]", 0, "error")]
    assert entries(error)[-1][2] == "inner_callback"


def test_lua_error_through_python_through_lua(lua):
    """Lua -> Python -> Lua: the inner LuaError crosses the outer Lua and
    comes back as itself, with every frame in order."""

    def middle():
        lua.execute("local t\n\nreturn t.x")

    lua.globals().middle = middle
    error = raised(lua.execute, "local function outer()\n  middle()\nend\nouter()")
    names = [e[2] for e in entries(error)]
    lua_part = lua_entries(error)
    assert lua_part == [
        (CHUNK, 4, "<main chunk>"),
        (CHUNK, 2, "outer"),
        ("[C]", 0, "middle"),
        (CHUNK, 3, "<main chunk>"),
    ]
    assert names.index("middle") > names.index("outer")
    assert entries(error)[-1] == (CHUNK, 3, "<main chunk>")
    # the inner Lua frames are not repeated: the outer entry point's frames
    # belong to the outer error only
    assert names.count("<main chunk>") == 2


def test_keyboard_interrupt_keeps_frames(lua):
    def stop():
        raise KeyboardInterrupt("stop")

    f = lua.eval("function(cb)\n  pcall(cb)\n  return 1\nend")
    error = raised(f, stop, exc=KeyboardInterrupt)
    assert entries(error)[-1][2] == "stop"


def test_same_exception_raised_twice(lua):
    exc = RuntimeError("again")

    def thrower():
        raise exc

    f = lua.eval("function(cb)\n  cb()\nend")
    first = entries(raised(f, thrower, exc=RuntimeError))
    assert first[-1][2] == "thrower"
    # raising the same object again adds to its traceback, as Python does
    second = raised(f, thrower, exc=RuntimeError)
    assert second is exc
    assert entries(second)[-1][2] == "thrower"
    assert entries(second)[len(first) :] == first


# ---- coroutines, limits, asyncio, threads ------------------------------------------
def test_error_in_coroutine_resumed_from_python(lua):
    f = lua.eval(
        "function(x)\n  coroutine.yield(x)\n  local function inside()\n"
        "    error('in co')\n  end\n  inside()\nend"
    )
    co = f.coroutine(1)
    assert next(co) == 1
    error = raised(next, co)
    assert lua_entries(error) == [
        (CHUNK, 6, "<function at line 1>"),
        (CHUNK, 4, "inside"),
        ("[C]", 0, "error"),
    ]
    assert "in co" in str(error)


def test_python_exception_in_coroutine(lua):
    def cb():
        raise IndexError("co")

    f = lua.eval("function(cb)\n  coroutine.yield(1)\n  cb()\nend")
    co = f.coroutine(cb)
    assert next(co) == 1
    error = raised(next, co, exc=IndexError)
    assert lua_entries(error) == [(CHUNK, 3, "<function at line 1>"), ("[C]", 0, "cb")]
    assert entries(error)[-1][2] == "cb" and is_this_file(entries(error)[-1][0])


def test_error_in_coroutine_resumed_from_lua(lua):
    code = (
        "local co = coroutine.wrap(function()\n  error('wrapped')\nend)\n"
        "local function run()\n  co()\nend\nrun()"
    )
    error = raised(lua.execute, code)
    frames = lua_entries(error)
    assert frames[0] == (CHUNK, 7, "<main chunk>") and frames[1] == (CHUNK, 5, "run")


def test_limit_error(lupa):
    lua = lupa.LuaRuntime(max_instructions=10**5)
    spin = "local function spin()\n  while true do end\nend\nspin()"
    error = raised(lua.execute, spin, exc=LuaLimitError)
    assert error.limit == "instructions"
    # where Lua was stopped
    assert lua_entries(error) == [(CHUNK, 4, "<main chunk>"), (CHUNK, 2, "spin")]
    assert str(error) == "Lua stopped: instruction limit of 100000 exceeded"
    traceback.format_exception(type(error), error, error.__traceback__)
    assert lua.eval("1 + 1") == 2
    error = raised(lua.execute, "error('after')")
    assert lua_entries(error) == [(CHUNK, 1, "<main chunk>"), ("[C]", 0, "error")]
    # a pcall that catches the stop as the very last thing: no frames to show
    # (Lua 5.1 to 5.3 run one more instruction after it: stopped there)
    error = raised(lua.execute, "return pcall(function() while true do end end)", exc=LuaLimitError)
    assert lua_entries(error) in ([], [(CHUNK, 1, "<main chunk>")])
    if lua.lua_version >= (5, 4):
        assert lua_entries(error) == []
    # pcall catches it, and the next instruction is stopped again
    error = raised(
        lua.execute,
        "local ok = pcall(function()\n while true do end\n end)\nlocal x = 1\nreturn x",
        exc=LuaLimitError,
    )
    assert (
        lua_entries(error) == [(CHUNK, 1, "<main chunk>")]
        or lua_entries(error)[0][2] == "<main chunk>"
    )
    lua.set_limits(max_time=0.05, max_instructions=None)
    error = raised(lua.execute, spin, exc=LuaLimitError)
    assert error.limit == "time"
    assert lua_entries(error) == [(CHUNK, 4, "<main chunk>"), (CHUNK, 2, "spin")]


def test_limit_error_in_coroutine(lupa):
    lua = lupa.LuaRuntime()
    f = lua.eval("function()\n  coroutine.yield(1)\n  while true do end\nend")
    co = f.coroutine()
    assert next(co) == 1
    lua.set_limits(max_instructions=10**5)
    error = raised(next, co, exc=LuaLimitError)
    frames = lua_entries(error)
    assert frames[0][0] == CHUNK and frames[0][2] == "<function at line 1>"
    if not lua.lua_implementation.startswith("LuaJIT"):  # (no current line there)
        assert frames == [(CHUNK, 3, "<function at line 1>")]


def test_limit_error_through_a_callback(lupa):
    lua = lupa.LuaRuntime(max_instructions=10**5)

    def callback():
        lua.execute("local n = 0\nwhile true do\n  n = n + 1\nend")

    lua.globals().callback = callback
    error = raised(
        lua.execute, "local function outer()\n  callback()\nend\nouter()", exc=LuaLimitError
    )
    # the Lua frames of both entry points (the Python ones between are gone:
    # LuaLimitError is raised afresh when the outermost call ends)
    frames = lua_entries(error)
    assert frames[:3] == [(CHUNK, 4, "<main chunk>"), (CHUNK, 2, "outer"), ("[C]", 0, "callback")]
    assert len(frames) == 4 and frames[3][0] == CHUNK and frames[3][1] in (2, 3)
    # and nothing is left for the next one
    error = raised(lua.execute, "while true do end", exc=LuaLimitError)
    assert lua_entries(error) == [(CHUNK, 1, "<main chunk>")]


def test_asyncio_entry_point(lua):
    async def fails():
        await asyncio.sleep(0)
        raise ValueError("nope")

    f = lua.eval("function(fails)\n  local x = fails()\n  return x\nend")
    with pytest.raises(ValueError) as info:
        asyncio.run(lua.call_async(f, fails))
    names = [e[2] for e in entries(info.value)]
    assert names[-1] == "fails"
    assert (CHUNK, 2, "<function at line 1>") in lua_entries(info.value)
    with pytest.raises(LuaError) as info:
        asyncio.run(lua.eval_async("nil + 1"))
    # (LuaJIT knows no current line in that coroutine: its own text shows none)
    assert lua_entries(info.value) in ([(CHUNK, 1, "<main chunk>")], [(CHUNK, 0, "<main chunk>")])
    if not lua.lua_implementation.startswith("LuaJIT"):
        assert lua_entries(info.value) == [(CHUNK, 1, "<main chunk>")]


def test_errors_in_threads(lupa):
    results = []

    def worker(k):
        lua = lupa.LuaRuntime()
        for _ in range(50):
            try:
                lua.execute("\n" * k + "error('t')")
            except LuaError as e:
                results.append(lua_entries(e)[0] == (CHUNK, k + 1, "<main chunk>"))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 200


# ---- cost and leaks -----------------------------------------------------------------
def _count(types_):
    gc.collect()
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) in types_)


def test_many_errors_do_not_leak(lua):
    f = lua.eval("function(n)\n  local function g()\n    error('x' .. n)\n  end\n  g()\nend")

    def callback():
        raise ValueError("cb")

    h = lua.eval("function(cb)\n  cb()\nend")
    watched = (types.TracebackType, types.FrameType, LuaError, ValueError)

    def run(n):
        for k in range(n):
            try:
                f(k)
            except LuaError as e:
                assert k % 1000 or len(lua_entries(e)) == 3
            try:
                h(callback)
            except ValueError as e:
                assert k % 1000 or entries(e)[-1][2] == "callback"

    run(200)
    lua.gccollect()
    memory = lua.get_memory_used()
    objects = len(lua._objects)
    before = _count(watched)
    run(5000)
    lua.gccollect()
    after = _count(watched)
    assert after - before < 200
    assert len(lua._objects) == objects
    assert lua.get_memory_used() - memory < 64 * 1024


def test_frame_cache_is_bounded(lua):
    for k in range(_traceback._MAX_FRAMES + 100):
        with pytest.raises(LuaError):
            lua.execute("error('x')", name="chunk %d" % k)
    assert len(_traceback._frames) <= _traceback._MAX_FRAMES


def test_lua_frames_keep_no_python_frames_alive(lua):
    error = raised(lua.execute, NESTED)
    tb = error.__traceback__
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.endswith(".py"):
            assert tb.tb_frame.f_back is None
            assert tb.tb_frame.f_locals == {}
        tb = tb.tb_next


def test_clear_frames_is_harmless(lua):
    error = raised(lua.execute, NESTED)
    traceback.clear_frames(error.__traceback__)
    again = raised(lua.execute, NESTED)
    assert lua_entries(again)[-4:] == lua_entries(error)[-4:]


def test_records_parser():
    # compared with the state before, not with "no exception": on PyPy an
    # earlier test's RecursionError from deep in its callback machinery was
    # once seen to stay in sys.exc_info() of pytest's own frames
    exc_info_before = sys.exc_info()
    records = (
        b'm\x001\x000\x00\x00=[string "x"]\x00'
        b"L\x004\x003\x00f\x00@/tmp/x.lua\x00"
        b"L\x002\x001\x00\x00=stdin\x00"
        b".\x00-1\x000\x00\x00=\x00"
        b"C\x00-1\x00-1\x00\x00=[C]\x00"
    )
    assert _traceback.lua_frames(records) == [
        ('[string "x"]', 1, "<main chunk>"),
        ("/tmp/x.lua", 4, "f"),
        ("stdin", 2, "<function at line 1>"),
        ("...", 0, "<some more Lua frames>"),
        ("[C]", 0, "?"),
    ]
    assert _traceback.split(b"text\0rest\0") == (b"text", b"rest\0")
    assert _traceback.split(b"text") == (b"text", b"")
    exc = ValueError()
    assert _traceback.add_lua_frames(exc, b"") is exc and exc.__traceback__ is None
    _traceback.add_lua_frames(exc, b"garbage\0")  # never fails
    assert sys.exc_info() == exc_info_before
