"""Exceptions across the border: Python exceptions raised in callbacks, Lua
errors carrying Python objects, uncatchable exceptions, deep call chains."""

import contextlib
import sys
import threading
import traceback

import pytest

from helpers import run_ok_child, stack_depth


def raiser(exc):
    def raise_it(*args):
        raise exc

    return raise_it


# ---- Python exceptions as Lua errors -------------------------------------------------------
def test_pcall_catches_python_exception(lua):
    ve = ValueError("bad value")
    f = raiser(ve)
    result = lua.execute("local ok, e = pcall(...); return ok, type(e), tostring(e)", f)
    assert result == (False, "userdata", "bad value")
    assert lua.execute("local ok, e = pcall(...); return e", f) is ve
    assert lua.execute("local ok, e = pcall(...); return python.builtins.type(e)", f) is ValueError
    assert lua.execute("local ok, e = pcall(...); return e.args", f) == ("bad value",)


def test_tostring_of_error_is_str_of_exception(lua):
    for exc, text in (
        (KeyError("k"), "'k'"),
        (StopIteration(), ""),
        (RuntimeError(1, 2), "(1, 2)"),
    ):
        assert lua.execute("local ok, e = pcall(...); return tostring(e)", raiser(exc)) == text


def test_uncaught_exception_is_reraised_as_itself(lua):
    ve = ValueError("bad value")
    with pytest.raises(ValueError) as info:
        lua.eval("function(f) f(); reached = true end")(raiser(ve))
    assert info.value is ve
    assert lua.globals().reached is None
    assert lua.eval("1 + 1") == 2


def test_reraised_exception_keeps_its_python_frames(lua):
    def deep_python_function():
        raise ValueError("deep")

    with pytest.raises(ValueError) as info:
        lua.eval("function(f) f() end")(deep_python_function)
    names = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "deep_python_function" in names
    assert names[0] == "test_reraised_exception_keeps_its_python_frames"


def test_error_rethrows_caught_exception(lua):
    ve = ValueError("again")
    for code in (
        "local ok, e = pcall(...); error(e)",
        "local ok, e = pcall(...); error(e, 0)",
        "local ok, e = pcall(...); local ok2, e2 = pcall(error, e); error(e2)",
    ):
        with pytest.raises(ValueError) as info:
            lua.execute(code, raiser(ve))
        assert info.value is ve


def test_error_with_message_of_exception(lua, lupa):
    with pytest.raises(lupa.LuaError, match=r"\]:1: same\?\nstack traceback"):
        lua.execute("local ok, e = pcall(...); error(tostring(e))", raiser(ValueError("same?")))


def test_stop_iteration_and_lua_error_from_python(lua, lupa):
    assert lua.execute(
        "local ok, e = pcall(...); return ok, type(e), tostring(e)", raiser(StopIteration())
    ) == (False, "userdata", "")
    with pytest.raises(StopIteration):
        lua.eval("function(f) f() end")(raiser(StopIteration()))
    le = lupa.LuaError("from python")
    assert lua.execute("local ok, e = pcall(...); return ok, type(e), tostring(e)", raiser(le)) == (
        False,
        "userdata",
        "from python",
    )
    with pytest.raises(lupa.LuaError) as info:
        lua.eval("function(f) f() end")(raiser(le))
    assert info.value is le


def test_exception_with_broken_str(lua):
    class Broken(Exception):
        def __str__(self):
            raise RuntimeError("no str")

    exc = Broken()
    assert lua.execute("local ok, e = pcall(...); return ok, type(e)", raiser(exc)) == (
        False,
        "userdata",
    )
    with pytest.raises(RuntimeError, match="no str"):
        lua.execute("local ok, e = pcall(...); return tostring(e)", raiser(exc))
    with pytest.raises(Broken):
        lua.eval("function(f) f() end")(raiser(exc))


def test_exception_in_index_metamethod_from_python(lua):
    ve = ValueError("index failed")
    t = lua.eval(
        "function(f) return setmetatable({}, {__index = function(t, k) return f(k) end}) end"
    )(raiser(ve))
    with pytest.raises(ValueError) as info:
        t["x"]
    assert info.value is ve


def test_exception_through_nested_calls(lua):
    ve = ValueError("innermost")
    outer = lua.eval("function(py) return py() end")
    inner = lua.eval("function(f) f() end")

    def level1():
        return inner(raiser(ve))

    with pytest.raises(ValueError) as info:
        outer(level1)
    assert info.value is ve
    # an intermediate Lua pcall catches it
    catching = lua.eval("function(py) local ok, e = pcall(py); return ok, e end")
    assert catching(level1) == (False, ve)


def test_exception_in_coroutine(lua):
    ke = KeyError("in coroutine")
    co = lua.eval("function(f) coroutine.yield(1); f() end").coroutine(raiser(ke))
    assert co.send(None) == 1
    with pytest.raises(KeyError) as info:  # lupa loses it (LuaError(''))
        co.send(None)
    assert info.value is ke
    wrapped = lua.eval("function(f) return coroutine.wrap(function() f() end)() end")
    with pytest.raises(KeyError) as info:
        wrapped(raiser(ke))
    assert info.value is ke


def test_same_exception_raised_twice(lua):
    ve = ValueError("twice")
    f = lua.eval(
        "function(f) local ok, e = pcall(f); local ok2, e2 = pcall(f); return rawequal(e, e2), e end"
    )
    assert f(raiser(ve)) == (True, ve)


# ---- Lua errors with Python values ----------------------------------------------------------
def test_error_with_python_object_value(lua, lupa):
    obj = object()
    with pytest.raises(lupa.LuaError) as info:
        lua.eval("function(o) error(o) end")(obj)
    assert str(info.value) == ""
    assert info.value.value is obj
    with pytest.raises(lupa.LuaError) as info:
        lua.execute("error({code = 5})")
    assert info.value.value["code"] == 5


def test_error_with_exception_never_raised(lua, lupa):
    # any Python exception as a Lua error value comes back as itself (lupa
    # gives LuaError('') unless a callback had raised it)
    ve = ValueError("not raised")
    with pytest.raises(ValueError) as info:
        lua.eval("function(o) error(o) end")(ve)
    assert info.value is ve
    with pytest.raises(KeyError) as info:
        lua.eval("function() error(python.builtins.KeyError('k')) end")()
    assert info.value.args == ("k",)


def test_error_value_reaching_python_table_access(lua, lupa):
    obj = object()
    t = lua.eval("function(o) return setmetatable({}, {__index = function() error(o) end}) end")(
        obj
    )
    with pytest.raises(lupa.LuaError) as info:
        t.x
    assert info.value.value is obj


# ---- uncatchable exceptions --------------------------------------------------------------------
@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_uncatchable_uncaught(lua, exc_type):
    exc = exc_type("stop")
    with pytest.raises(exc_type) as info:
        lua.eval("function(f) f(); reached = true end")(raiser(exc))
    assert info.value is exc
    assert lua.globals().reached is None
    assert lua.eval("1 + 1") == 2


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_uncatchable_through_pcall(lua, exc_type):
    exc = exc_type("stop")
    with pytest.raises(exc_type) as info:
        lua.execute("local ok, e = pcall(...); reached = true; return ok", raiser(exc))
    assert info.value is exc
    assert lua.globals().reached is None


def test_uncatchable_through_xpcall_and_nested_pcalls(lua):
    exc = KeyboardInterrupt("stop")
    code = """local f = ...
        local function handler(e) handled = true; return e end
        local ok = pcall(function()
            local ok2 = xpcall(function() pcall(f) end, handler)
            reached = true
        end)
        reached = true"""
    with pytest.raises(KeyboardInterrupt) as info:
        lua.execute(code, raiser(exc))
    assert info.value is exc
    assert lua.globals().reached is None


def test_uncatchable_in_coroutine_and_loop(lua):
    exc = KeyboardInterrupt("stop")
    code = """local f = ...
        local co = coroutine.wrap(function() for i = 1, 3 do pcall(f) end end)
        pcall(co)
        reached = true"""
    with pytest.raises(KeyboardInterrupt) as info:
        lua.execute(code, raiser(exc))
    assert info.value is exc
    assert lua.globals().reached is None


def test_runtime_usable_after_uncatchable(lua):
    with pytest.raises(KeyboardInterrupt):
        lua.execute("pcall(...); reached = true", raiser(KeyboardInterrupt()))
    assert lua.globals().reached is None
    # ordinary errors are catchable again, and Lua runs normally
    ve = ValueError("ordinary")
    assert lua.execute("local ok, e = pcall(...); return ok, e", raiser(ve)) == (False, ve)
    assert (
        lua.eval("(function() local n = 0 for i = 1, 1000 do n = n + i end return n end)()")
        == 500500
    )


def test_ordinary_exceptions_stay_catchable_after_uncaught_interrupt(lua):
    with pytest.raises(KeyboardInterrupt):
        lua.eval("function(f) f() end")(raiser(KeyboardInterrupt()))
    ve = ValueError("ordinary")
    assert lua.execute("local ok, e = pcall(...); return ok, e", raiser(ve)) == (False, ve)


# ---- deep call chains -----------------------------------------------------------------------------
@contextlib.contextmanager
def recursion_reports_only():
    """At Python's recursion limit cffi may fail to even enter the callback
    dispatcher.  It reports that through sys.unraisablehook (CPython) or on
    stderr (PyPy), and Lua raises "Python callback failed".  pytest's own
    hook, called that deep, can fail itself: take the reports with a hook that
    needs no Python frame, and check that they are all recursion errors."""
    seen = []
    old, sys.unraisablehook = sys.unraisablehook, seen.append
    try:
        yield
    finally:
        sys.unraisablehook = old
    assert [s.exc_type for s in seen if not issubclass(s.exc_type, RecursionError)] == []


def assert_recursion_failure(exc, lupa):
    """A deep chain must end in LuaError or RecursionError.  On PyPy, also in
    the TypeError its interpreter raises instead when recording an exception's
    __context__ itself hits the limit ("couldn't record exception context for
    exception '...', got: RecursionError(...)"): still an error, never a result."""
    if isinstance(exc, (lupa.LuaError, RecursionError)):
        return
    pypy_substitute = isinstance(exc, TypeError) and "RecursionError" in str(exc)
    assert pypy_substitute and sys.implementation.name == "pypy", repr(exc)


def mutual_recursion(lua, pad_frames, depth=10000):
    """A Python and a Lua function calling each other `depth` levels deep,
    with pad_frames extra Python frames per level."""
    step = lua.eval("function(py, n) if n <= 0 then return 'bottom' end return py(n - 1) end")

    def pad(k, n):
        if k:
            return pad(k - 1, n)
        return step(py, n)

    def py(n):
        return pad(pad_frames, n)

    return py(depth)


def test_scalar_callbacks_at_every_nesting_depth(lua):
    """Calls with one int and attribute reads take the scalar callbacks only
    from entries nested a few levels deep (LC_FAST_DEPTH); each depth, on
    both sides of that, gives the same results and errors."""
    down = lua.eval("function(cb, n) return cb(n) end")
    read = lua.eval("function(o) return o.value end")

    class Holder(object):
        def __init__(self, n):
            self.n = n

        @property
        def value(self):
            if self.n == 0:
                raise KeyError("bottom")
            return read(Holder(self.n - 1)) + 1

    def count(n):
        return 0 if n == 0 else down(count, n - 1) + 1

    def fail(n):
        if n == 0:
            raise ValueError("at the bottom")
        return down(fail, n - 1)

    for depth in range(10):
        assert down(count, depth) == depth
        with pytest.raises(ValueError, match="at the bottom"):
            down(fail, depth)
        with pytest.raises(KeyError, match="bottom"):
            read(Holder(depth))
        caught = lua.eval("function(cb, n) local ok, e = pcall(cb, n) return ok end")
        assert caught(fail, depth) is False
    assert lua.eval("1 + 1") == 2


def test_deep_mutual_recursion_is_a_clear_error(lua, lupa):
    with recursion_reports_only(), pytest.raises(Exception) as info:
        mutual_recursion(lua, 0)
    assert_recursion_failure(info.value, lupa)
    assert any(text in str(info.value) for text in ("stack overflow", "nested calls", "recursion"))
    assert lua.eval("1 + 1") == 2
    assert mutual_recursion(lua, 0, depth=20) == "bottom"


def test_deep_mutual_recursion_never_silent(lua, lupa):
    # with more Python frames per level, Python's own limit is reached first,
    # anywhere in the callback machinery: always an exception, never a wrong result
    silent = []
    with recursion_reports_only():
        for pad_frames in (4, 10, 20):
            for offset in range(8):
                try:
                    result = nested(offset, lambda: mutual_recursion(lua, pad_frames))
                except Exception as exc:
                    assert_recursion_failure(exc, lupa)
                    continue
                silent.append((pad_frames, offset, result))
    assert silent == []
    assert lua.eval("1 + 1") == 2


def nested(k, f):
    return nested(k - 1, f) if k else f()


def test_deep_recursion_with_pcall_levels(lua, lupa):
    step = lua.eval("""function(py, n)
        local ok, r = pcall(py, n - 1)
        if not ok then error(r, 0) end
        return r end""")

    def py(n):
        return step(py, n)

    with recursion_reports_only(), pytest.raises(Exception) as info:
        py(10000)
    assert_recursion_failure(info.value, lupa)
    assert lua.eval("1 + 1") == 2


def test_deep_lua_recursion_inside_callback(lua, lupa):
    deep = lua.eval("function() local function f(n) return f(n + 1) + 1 end return f(1) end")
    with pytest.raises(lupa.LuaError, match="stack overflow"):
        lua.eval("function(py) return py() end")(deep)


def test_recursion_limit_scales(lua, lupa):
    # the nesting limit follows sys.getrecursionlimit(): with a lower limit,
    # a chain that is fine by default ends with a clear error
    assert mutual_recursion(lua, 0, depth=60) == "bottom"
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(stack_depth() + 400)
    try:
        assert mutual_recursion(lua, 0, depth=30) == "bottom"
        with recursion_reports_only(), pytest.raises(Exception) as info:
            mutual_recursion(lua, 0, depth=60)
        assert_recursion_failure(info.value, lupa)
    finally:
        sys.setrecursionlimit(old)
    assert mutual_recursion(lua, 0, depth=60) == "bottom"


# (in a child interpreter: PyPy keeps the frames of a recursion that reached
# its limit alive, and with them the runtime, which slows every later
# collection of the test run)
_AT_THE_LIMIT = """
import sys, threading
import lupacffi.{backend} as lupa
lua = lupa.LuaRuntime()
f = lua.eval("function(o) return o end")
obj = object()
# (PyPy may raise, at its limit, "TypeError: couldn't record exception
# context for exception 'RecursionError'" in place of the RecursionError)
LIMIT = (RecursionError, TypeError) if sys.implementation.name == "pypy" else RecursionError

def deep(n):
    try:
        f(obj)
    except LIMIT:
        pass
    try:
        return deep(n + 1)
    except LIMIT:
        try:
            f(obj)
        except LIMIT:
            pass
        raise

sys.unraisablehook = lambda report: None  # (cffi's reports at the limit)
for _ in range(10):
    try:
        deep(0)
    except LIMIT:
        pass
    else:
        raise AssertionError("no RecursionError")
results = []
threads = [threading.Thread(target=lambda: results.append(f(1)), daemon=True),
           threading.Thread(target=lambda: results.append(lua.eval("1 + 1")), daemon=True)]
for t in threads:
    t.start()
for t in threads:
    t.join(30)
assert sorted(results) == [1, 2], results
assert f(obj) is obj
print("ok")
"""


def test_calls_with_python_objects_at_the_recursion_limit_leave_no_lock_taken(lupa):
    """A call that passes a Python object pins it in C until Lua has it; at
    Python's recursion limit the unpin itself can fail (the cffi call is
    refused there, on CPython as on PyPy).  That may leave the object alive,
    never the runtime locked: other threads can still use the runtime."""
    backend = lupa.__name__.rsplit(".", 1)[1]
    run_ok_child(_AT_THE_LIMIT.format(backend=backend))


# ---- threads ------------------------------------------------------------------------------------
def test_exceptions_in_threads(lupa):
    errors = []

    def worker(i):
        try:
            lua = lupa.LuaRuntime()
            f = lua.eval("function(f) local ok, e = pcall(f); return ok, e end")
            g = lua.eval("function(f) f() end")
            for k in range(200):
                exc = ValueError(i, k)
                ok, e = f(raiser(exc))
                assert ok is False and e is exc
                try:
                    g(raiser(exc))
                except ValueError as caught:
                    assert caught is exc
                else:
                    raise AssertionError("not raised")
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
