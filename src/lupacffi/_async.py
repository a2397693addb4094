"""asyncio: Lua code that calls ``async def`` functions, driven from async Python.

An async entry point (``LuaRuntime.eval_async`` & co) runs the Lua function as a
Lua coroutine.  When Lua calls a Python function that returns an awaitable, the
call yields (AWAIT, request) all the way out to the driver below, which awaits
the awaitable on the running event loop and resumes Lua with (True, value) or
(False, exception); a small Lua wrapper around the Python-object ``__call`` turns
that back into the call's value or an error raised where the call was made.
The runtime lock is never held across an await.
"""

import threading
import types


# asyncio and inspect are imported when async is first used: together they
# were about half the import time of a backend on CPython
def _asyncio():
    import asyncio

    return asyncio


def _isawaitable(obj):
    if type(obj) is types.CoroutineType:
        return True
    import inspect

    return inspect.isawaitable(obj)


# Installed as the __call metamethod of Python objects once a runtime is used
# asynchronously: `raw` is the C trampoline it wraps.
_CALL_WRAPPER = """
local raw, AWAIT, yield, error, running, drivers, discard = ...
local function finish(first, ...)
    if first == AWAIT then
        if not drivers[running() or false] then
            discard(...)
            error("an async Python function was called inside a Lua coroutine "
                  .. "(coroutine.wrap/resume): it can only be awaited from the "
                  .. "Lua code that the async entry point runs itself", 3)
        end
        local ok, value = yield(AWAIT, ...)
        if ok then return value end
        error(value, 0)
    end
    return first, ...
end
return function(...) return finish(raw(...)) end
"""


class _AwaitMarker(object):
    """The first value a suspended Lua call yields to the driver."""

    def __repr__(self):
        return "<lupacffi await marker>"


AWAIT = _AwaitMarker()


class AwaitRequest(object):
    __slots__ = ("awaitable", "awaited")

    def __init__(self, awaitable):
        self.awaitable = awaitable
        self.awaited = False

    def __del__(self):
        # never reached the driver (e.g. Lua 5.1 cannot yield across pcall)
        if not self.awaited and isinstance(self.awaitable, types.CoroutineType):
            self.awaitable.close()


def _discard(request):
    """An await asked for where it cannot be served: the awaitable is dropped."""
    request.awaited = True
    if isinstance(request.awaitable, types.CoroutineType):
        request.awaitable.close()


class AsyncState(object):
    """Per runtime: whether async calls are set up, and per thread whether an
    async driver is resuming Lua right now."""

    def __init__(self):
        self.enabled = False
        self.drivers = None
        self.local = threading.local()

    def active(self):
        return getattr(self.local, "depth", 0) > 0


def enable(runtime):
    """Installs the __call wrapper (once per runtime)."""
    state = runtime._async
    if state.enabled:
        return
    coroutine = runtime.globals()["coroutine"]
    if coroutine is None:
        raise RuntimeError("async calls need Lua's coroutine library")
    metatable = runtime._pyobj_metatable()
    factory = runtime.compile(_CALL_WRAPPER, name="=lupacffi.async")
    # the Lua threads that async drivers run: weak keys
    state.drivers = runtime.eval("setmetatable({}, {__mode = 'k'})")
    metatable["__call"] = factory(
        metatable["__call"],
        AWAIT,
        coroutine["yield"],
        runtime.globals()["error"],
        coroutine["running"],
        state.drivers,
        _discard,
    )
    state.enabled = True


def check_result(runtime, results):
    """Turns a Python call's awaitable result into an await request when an
    async driver is running, and refuses coroutines elsewhere."""
    if len(results) != 1 or not _isawaitable(results[0]):
        return results
    if runtime._async.enabled and runtime._async.active():
        request = AwaitRequest(results[0])
        made = getattr(runtime._async.local, "made", None)
        if made is not None:
            made.append(request)
        return (AWAIT, request)
    if isinstance(results[0], types.CoroutineType):
        results[0].close()
        raise TypeError(
            "Lua called an async function outside an async entry point: "
            "use 'await runtime.eval_async(...)', 'execute_async' or "
            "'call_async' to run Lua code that awaits Python coroutines"
        )
    return results


def _close_unserved(requests, result):
    """The await requests made during one resume that did not reach the
    driver (on Lua 5.1 a pcall stops the yield): their coroutines are closed
    now, not left to a finalizer, which may run after the coroutine's own
    "never awaited" warning when the runtime is freed as cyclic garbage."""
    served = result[1] if type(result) is tuple and len(result) == 2 else None
    for request in requests:
        if request is not served and not request.awaited:
            _discard(request)


async def drive(runtime, function, args):
    """Runs Lua `function(*args)` as a coroutine, awaiting what it asks for."""
    enable(runtime)
    thread = function.coroutine(*args)
    local = runtime._async.local
    runtime._async.drivers[thread] = True
    lib = runtime._lib
    used = runtime._ffi.new("long long[2]")
    send = None
    while True:
        local.depth = getattr(local, "depth", 0) + 1
        outer, local.made = getattr(local, "made", None), []
        result = None
        try:
            if send is not None:  # one budget for all the Lua work of this call
                lib.lc_limits_carry(used[0], used[1])
            result, done, count = runtime._resume(
                thread._ref, send if send is not None else (thread._args or ())
            )
        finally:
            lib.lc_limits_carry(-1, -1)
            lib.lc_limits_used(used)
            local.depth -= 1
            made, local.made = local.made, outer
            _close_unserved(made, result)
        send = ()
        object.__setattr__(thread, "_args", None)
        if done:
            return result
        if type(result) is tuple and len(result) == 2 and result[0] is AWAIT:
            result[1].awaited = True
            try:
                value = await result[1].awaitable
            except Exception as e:  # raised inside Lua, where the call was made
                send = (False, e)
            else:
                send = (True, value)
            # CancelledError, GeneratorExit (the loop went away), KeyboardInterrupt:
            # propagate; the Lua coroutine is simply never resumed
        else:
            await _asyncio().sleep(0)  # a plain coroutine.yield(): let others run
