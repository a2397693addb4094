"""asyncio: Lua code calling async Python functions from async entry points."""

import asyncio
import subprocess
import sys
import threading

import pytest

from helpers import child_env


def run(coro):
    return asyncio.run(coro)


async def fetch(value, delay=0):
    await asyncio.sleep(delay)
    return "got %s" % (value,)


async def fails():
    await asyncio.sleep(0)
    raise ValueError("nope")


def is_lua51(lua):
    return lua.lua_version == (5, 1) and not lua.lua_implementation.startswith("LuaJIT")


def test_eval_async_plain_values(lua):
    assert run(lua.eval_async("1 + 1")) == 2
    assert run(lua.execute_async("return ...", 1, "a")) == (1, "a")


def test_awaits_python_coroutine(lua):
    f = lua.eval("function(fetch, x) return fetch(x) .. '!' end")
    assert run(lua.call_async(f, fetch, 7)) == "got 7!"


def test_execute_async_with_globals(lua):
    lua.globals().fetch = fetch
    assert run(lua.execute_async("local a = fetch(1); local b = fetch(2); return a, b")) == (
        "got 1",
        "got 2",
    )


def test_two_calls_fetch_concurrently(lua):
    """The README example: one Lua script, two async fetches interleaved."""
    order = []

    async def slow(name, delay):
        order.append("start " + name)
        await asyncio.sleep(delay)
        order.append("end " + name)
        return name

    f = lua.eval("function(get, name, delay) return get(name, delay) end")

    async def main():
        return await asyncio.gather(
            lua.call_async(f, slow, "a", 0.3), lua.call_async(f, slow, "b", 0.01)
        )

    assert run(main()) == ["a", "b"]
    assert order == ["start a", "start b", "end b", "end a"]


def test_call_async_of_a_lua_function(lua, lupa):
    f = lua.eval("function(get, name) return get(name), get(name .. '!') end")
    assert run(f.call_async(fetch, "x")) == ("got x", "got x!")
    assert run(f.call_async(lambda name: name.upper(), "y")) == ("Y", "Y!")

    async def both():
        return await asyncio.gather(f.call_async(fetch, "a"), lua.call_async(f, fetch, "b"))

    assert run(both()) == [("got a", "got a!"), ("got b", "got b!")]
    with pytest.raises(lupa.LuaError):
        run(lua.eval("function() error('boom') end").call_async())
    with pytest.raises(TypeError):  # as any call: a plain function is not async-callable
        f(fetch, "z")


def test_exception_in_awaitable_is_catchable_in_lua(lua):
    if is_lua51(lua):
        pytest.skip("Lua 5.1 cannot yield across pcall")
    f = lua.eval("function(fails) local ok, e = pcall(fails); return ok, tostring(e) end")
    assert run(lua.call_async(f, fails)) == (False, "nope")


def test_exception_in_awaitable_reaches_python(lua):
    f = lua.eval("function(fails) return fails() end")
    with pytest.raises(ValueError, match="nope"):
        run(lua.call_async(f, fails))


def test_lua51_pcall_says_it_cannot_yield(lua):
    if not is_lua51(lua):
        pytest.skip("only Lua 5.1 lacks yield across pcall")
    f = lua.eval("function(fetch) local ok, e = pcall(fetch, 1); return ok, e end")
    ok, message = run(lua.call_async(f, fetch))
    assert ok is False and "yield across" in message


def test_unserved_await_is_closed_at_once(lua):
    # the coroutine of an await that cannot reach the driver (Lua 5.1: a
    # pcall in between) is closed when the resume ends, not by a finalizer
    made = []

    def fetch_recorded(x):
        made.append(fetch(x))
        return made[-1]

    f = lua.eval("function(g) local ok, e = pcall(g, 1); return ok end")
    ok = run(lua.call_async(f, fetch_recorded))
    assert len(made) == 1
    if is_lua51(lua):
        assert ok is False and made[0].cr_frame is None  # closed
    else:
        assert ok is True and made[0].cr_frame is None  # awaited to its end


def test_sync_call_of_async_function_is_a_clear_error(lua):
    f = lua.eval("function(fetch) return fetch(1) end")
    with pytest.raises(TypeError, match="eval_async"):
        f(fetch)


def test_wait_for_timeout_and_runtime_still_usable(lua):
    f = lua.eval("function(fetch) return fetch('slow', 10) end")

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(lua.call_async(f, fetch), 0.05)

    run(main())
    assert lua.eval("1 + 1") == 2
    assert run(lua.call_async(lua.eval("function(f) return f(3) end"), fetch)) == "got 3"


def test_cancellation_propagates(lua):
    f = lua.eval("function(fetch) return fetch('x', 10) end")

    async def main():
        task = asyncio.ensure_future(lua.call_async(f, fetch))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())


def test_never_finishing_awaitable_cancelled(lua):
    async def forever():
        await asyncio.Event().wait()

    f = lua.eval("function(g) return g() end")

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(lua.call_async(f, forever), 0.02)

    run(main())


def test_lua_error_in_async_call(lua, lupa):
    with pytest.raises(lupa.LuaError, match="boom"):
        run(lua.execute_async("error('boom')"))


def test_plain_coroutine_yield_in_async_call(lua):
    assert run(lua.execute_async("coroutine.yield(1); return 2")) == 2


def test_sync_calls_from_other_threads_while_async_runs(lua):
    f = lua.eval("function(fetch) return fetch('x', 0.05) end")
    results = []

    def worker():
        for _ in range(50):
            results.append(lua.eval("1 + 1"))

    async def main():
        thread = threading.Thread(target=worker)
        thread.start()
        value = await lua.call_async(f, fetch)
        thread.join(30)
        return value

    assert run(main()) == "got x"
    assert results == [2] * 50


def test_limits_apply_to_lua_parts(lua, lupa):
    with lua.limits(max_instructions=10**5):
        with pytest.raises(lupa.LuaError):
            run(lua.execute_async("while true do end"))


def test_event_loop_closed_mid_call(lua):
    """The loop goes away while Lua waits for an awaitable: the runtime stays
    usable and the abandoned Lua coroutine is simply never resumed."""
    started = []

    async def forever():
        started.append(1)
        await asyncio.Event().wait()

    f = lua.eval("function(g) return g() end")
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(lua.call_async(f, forever))
        loop.run_until_complete(asyncio.sleep(0.01))
        assert started == [1] and not task.done()
        task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    assert task.cancelled()
    assert lua.eval("1 + 1") == 2


def test_event_loop_closed_with_call_pending(lua):
    async def forever():
        await asyncio.Event().wait()

    f = lua.eval("function(g) return g() end")
    loop = asyncio.new_event_loop()
    loop.create_task(lua.call_async(f, forever))
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()  # the pending task is dropped with its coroutine
    assert lua.eval("'still usable'") == "still usable"
    assert run(lua.call_async(lua.eval("function(g, x) return g(x) end"), fetch, 1)) == "got 1"


def test_importing_a_backend_does_not_import_asyncio():
    """asyncio (and inspect) come in when async is first used, not with the
    package: they were about half of a backend's import time."""
    code = (
        "import sys, lupacffi\n"
        "lupacffi.LuaRuntime().eval('1')\n"
        "print('asyncio' in sys.modules, 'inspect' in sys.modules)"
    )
    out = (
        subprocess.run(
            [sys.executable, "-c", code], env=child_env(), check=True, stdout=subprocess.PIPE
        )
        .stdout.decode()
        .split()
    )
    assert out == ["False", "False"]
