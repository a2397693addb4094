"""Limits set after a coroutine was created (set_limits(), a limits() block)
cover it when Lua code resumes it: on PUC Lua the count hook is per coroutine
and only installed while limits are on, so coroutine.resume, coroutine.close
and the functions made by coroutine.wrap give the coroutine the hook (C
wrappers around the library's own functions, csrc/lc_hook.c).  LuaJIT's hook
is global.  No timing: a counter in a host table shows how far Lua got
(unlimited, the loops count to 10^7 and finish)."""

import pytest

from lupacffi.errors import LuaError, LuaLimitError

BUDGET = 10**5
FAR = 10 * BUDGET  # a stopped loop counts to well below this
COUNT = "while c.n < 10^7 do c.n = c.n + 1 end return 'finished'"


def _setup(lupa, how):
    """A runtime without limits, and a function that turns them on."""
    lua = lupa.LuaRuntime()
    if how == "set_limits":
        return lua, lambda: lua.set_limits(max_instructions=BUDGET)
    if how == "time":
        return lua, lambda: lua.set_limits(max_time=0.05)
    return lua, None  # "block": the test uses lua.limits()


def _run_limited(lua, turn_on, code, *args):
    """Runs code under limits; it must end with LuaLimitError."""
    if turn_on is not None:
        turn_on()
        with pytest.raises(LuaLimitError):
            lua.execute(code, *args)
    else:
        with lua.limits(max_instructions=BUDGET):
            with pytest.raises(LuaLimitError):
                lua.execute(code, *args)


HOW = ["set_limits", "time", "block"]

CASES = {
    # what is created before the limits, and the code that runs it under them
    "resume": (
        "coroutine.create(function(c) %s end)" % COUNT,
        "local co, c = ... return coroutine.resume(co, c)",
    ),
    "wrap": ("coroutine.wrap(function(c) %s end)" % COUNT, "local f, c = ... return f(c)"),
    "resume-in-pcall": (
        "coroutine.create(function(c) %s end)" % COUNT,
        "local co, c = ... return pcall(coroutine.resume, co, c)",
    ),
    "wrap-in-pcall": (
        "coroutine.wrap(function(c) %s end)" % COUNT,
        "local f, c = ... local ok, e = pcall(f, c) return ok, e",
    ),
    "wrap-in-xpcall": (
        "coroutine.wrap(function(c) %s end)" % COUNT,
        "local f, c = ... return xpcall(function() return f(c) end, function(e) return e end)",
    ),
    "pcall-loop": (
        "coroutine.wrap(function(c) while true do pcall(function() %s end) end end)" % COUNT,
        "local f, c = ... return f(c)",
    ),
    "nested-resume": (
        "coroutine.create(function(c) local inner = coroutine.create("
        "function() %s end) return coroutine.resume(inner) end)" % COUNT,
        "local co, c = ... return coroutine.resume(co, c)",
    ),
    "nested-wrap": (
        "coroutine.wrap(function(c) return coroutine.wrap(function() %s end)() end)" % COUNT,
        "local f, c = ... return f(c)",
    ),
    "after-yield": (
        "coroutine.create(function(c) coroutine.yield() %s end)" % COUNT,
        "local co, c = ... coroutine.resume(co, c) return coroutine.resume(co)",
    ),
    "loop-of-resumes": (
        "coroutine.wrap(function(c) while true do c.n = c.n + 1 coroutine.yield() end end)",
        "local f, c = ... while c.n < 10^7 do f(c) end",
    ),
}


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("case", sorted(CASES))
def test_coroutine_created_before_the_limits_is_limited(lupa, case, how):
    lua, turn_on = _setup(lupa, how)
    make, run = CASES[case]
    co = lua.eval(make)
    counter = lua.table(n=0)
    _run_limited(lua, turn_on, run, co, counter)
    # a time budget gives no count: the loop must just not have finished
    assert counter["n"] < (10**7 if how == "time" else FAR)
    assert lua.eval("1 + 1") == 2


@pytest.mark.parametrize("case", ["resume", "wrap", "nested-wrap"])
def test_coroutine_limited_after_limits_lifted_and_set_again(lupa, case):
    # created under limits; the hook removes itself while there are none
    lua = lupa.LuaRuntime(max_instructions=BUDGET)
    make, run = CASES[case]
    co = lua.eval(make)
    lua.set_limits(None, None)
    assert lua.execute("local s = 0 for i = 1, 10^6 do s = s + 1 end return s") == 10**6
    counter = lua.table(n=0)
    lua.set_limits(max_instructions=BUDGET)
    with pytest.raises(LuaLimitError):
        lua.execute(run, co, counter)
    assert counter["n"] < FAR


def test_coroutine_created_by_python_before_the_limits(lupa):
    lua = lupa.LuaRuntime()
    f = lua.eval("function(c) %s end" % COUNT)
    co = f.coroutine()  # a Lua thread made by Python, resumed from Lua below
    assert lua.eval("type(...)", co) == "thread"
    counter = lua.table(n=0)
    lua.set_limits(max_instructions=BUDGET)
    with pytest.raises(LuaLimitError):
        lua.execute("local co, c = ... return coroutine.resume(co, c)", co, counter)
    assert 0 < counter["n"] < FAR


def test_close_runs_to_be_closed_handlers_under_the_limits(lupa):
    if lupa.LUA_VERSION < (5, 4):
        pytest.skip("coroutine.close and to-be-closed variables are Lua 5.4+")
    lua = lupa.LuaRuntime()
    co = lua.eval(
        "coroutine.create(function(c) local x <close> = setmetatable({}, "
        "{__close = function() %s end}) coroutine.yield() end)" % COUNT
    )
    counter = lua.table(n=0)
    lua.execute("local co, c = ... coroutine.resume(co, c)", co, counter)
    lua.set_limits(max_instructions=BUDGET)
    with pytest.raises(LuaLimitError):
        lua.execute("local co = ... return coroutine.close(co)", co)
    assert counter["n"] < FAR


def test_no_limits_no_stop(lupa):
    # the wrappers change nothing without limits: the coroutines finish
    lua = lupa.LuaRuntime()
    for case in ("resume", "wrap", "nested-wrap", "after-yield"):
        make, run = CASES[case]
        counter = lua.table(n=0)
        lua.execute(run, lua.eval(make.replace("10^7", "10^6")), counter)
        assert counter["n"] == 10**6


# ---- the wrapped library behaves like the original --------------------------------
def test_wrap_and_resume_pass_values_and_yields(lua):
    assert (
        lua.execute("""
        local co = coroutine.create(function(a, b)
            local c = coroutine.yield(a + b)
            local d, e = coroutine.yield(c * 2)
            return d, e, 'end'
        end)
        local r = {}
        local function add(...) for i = 1, select('#', ...) do r[#r + 1] = tostring((select(i, ...))) end end
        add(coroutine.resume(co, 1, 2))
        add(coroutine.resume(co, 10))
        add(coroutine.resume(co, 'x', nil))
        add(coroutine.resume(co))
        return table.concat(r, ',')""")
        == "true,3,true,20,true,x,nil,end,false,cannot resume dead coroutine"
    )
    assert lua.execute("""
        local gen = coroutine.wrap(function(n) for i = 1, n do coroutine.yield(i) end return 'done' end)
        return gen(3), gen(), gen(), gen()""") == (1, 2, 3, "done")


def test_nested_coroutines_that_yield_through_each_other(lua):
    # an outer coroutine resumes inner ones (resume and wrap) and yields their values
    assert lua.execute("""
        local outer = coroutine.wrap(function()
            local inner = coroutine.wrap(function() coroutine.yield(1) coroutine.yield(2) end)
            local co = coroutine.create(function() coroutine.yield(3) return 4 end)
            coroutine.yield(inner())
            coroutine.yield(inner())
            coroutine.yield(select(2, coroutine.resume(co)))
            coroutine.yield(select(2, coroutine.resume(co)))
            return 'end'
        end)
        return outer(), outer(), outer(), outer(), outer()""") == (1, 2, 3, 4, "end")


def test_running_and_status_inside_wrapped_coroutines(lua):
    assert lua.execute("""
        local co
        co = coroutine.create(function()
            local inner = coroutine.wrap(function() return coroutine.status(co) end)
            return coroutine.status(co), inner()
        end)
        return select(2, coroutine.resume(co))""") == ("running", "normal")


def test_errors_through_the_wrappers(lua):
    ok, message = lua.execute("return pcall(coroutine.wrap(function() error('boom') end))")
    assert ok is False and "boom" in message
    ok, value = lua.execute(
        "local t = {} return pcall(coroutine.wrap(function() error(t) end)), t"
    )[:2]
    assert ok is False
    assert lua.execute(
        "return coroutine.resume(coroutine.create(function() error('x', 0) end))"
    ) == (False, "x")
    # bad arguments are reported by the library under the usual names
    ok, message = lua.execute("return pcall(function() coroutine.resume(42) end)")
    assert ok is False and "resume" in message
    ok, message = lua.execute("return pcall(function() coroutine.wrap(42) end)")
    assert ok is False and "wrap" in message
    with pytest.raises(LuaError) as info:
        lua.execute("local f = coroutine.wrap(function() error('inside') end) f()")
    assert "inside" in str(info.value)
    # resuming a dead wrapped function
    ok, message = lua.execute("local f = coroutine.wrap(function() end) f() return pcall(f)")
    assert ok is False and "dead" in message


def test_wrapped_functions_are_c_functions(lua):
    # no Lua frame in between: debug info and tracebacks look as before
    assert lua.execute("""
        local f = coroutine.wrap(function() end)
        return debug.getinfo(coroutine.resume, 'S').what, debug.getinfo(f, 'S').what,
               debug.getinfo(coroutine.wrap, 'S').what""") == ("C", "C", "C")


def test_deep_nesting_of_coroutines_still_works(lua):
    # 50 coroutines resumed inside each other (each level through a wrapper)
    assert (
        lua.execute("""
        local function nest(n)
            if n == 0 then return 0 end
            return coroutine.wrap(function() return 1 + nest(n - 1) end)()
        end
        return nest(50)""")
        == 50
    )


def test_coroutine_library_not_opened(lupa):
    lua = lupa.LuaRuntime(libraries=["base", "string"])
    assert lua.eval("coroutine") is None
    assert lua.eval("1 + 1") == 2


def test_originals_unreachable_in_the_sandbox(lupa):
    lua = lupa.LuaRuntime(sandbox=True)
    assert lua.eval("debug") is None
    # the library's own functions live only in C: nothing in Lua refers to them
    assert lua.execute("return type(coroutine.resume), type(coroutine.wrap)") == (
        "function",
        "function",
    )
    co = lua.eval("coroutine.create(function(c) %s end)" % COUNT)
    counter = lua.table(n=0)
    lua.set_limits(None, None)
    lua.set_limits(max_instructions=BUDGET)
    with pytest.raises(LuaLimitError):
        lua.execute("local co, c = ... return coroutine.resume(co, c)", co, counter)
    assert counter["n"] < FAR


def test_many_coroutines_under_limits(lupa):
    # coroutines created, resumed and abandoned by the thousand, some with errors
    lua = lupa.LuaRuntime()
    lua.set_limits(max_instructions=10**8)
    assert (
        lua.execute("""
        local n = 0
        for i = 1, 3000 do
            local co = coroutine.wrap(function(x) coroutine.yield(x) error('e') end)
            n = n + co(1)
            if i % 3 == 0 then pcall(co) end
        end
        collectgarbage()
        return n""")
        == 3000
    )
