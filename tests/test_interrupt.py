"""LuaRuntime.interrupt(): stops the Lua code running in a runtime, from
another thread or a signal handler, without taking the runtime's lock.  The
call running Lua raises LuaInterrupted (a LuaLimitError), which pcall cannot
swallow; the runtime stays usable.  call_interruptibly() (used for Ctrl-C)
runs a call in a worker thread and interrupts it on KeyboardInterrupt.

No timing assertions: a loop must simply end; a hang fails through the
generous join timeouts.  On LuaJIT, compiled code never checks hooks, so the
runtimes here run with the JIT off (jit.off()), except where a loop calls
Python (checked at every callback)."""

import _thread
import signal
import threading
import time

import pytest

from lupacffi import call_interruptibly
from lupacffi.errors import LuaError, LuaInterrupted, LuaLimitError

JOIN = 60  # seconds: only a hang gets near this


def _runtime(lupa, **kwargs):
    lua = lupa.LuaRuntime(**kwargs)
    if lua.lua_implementation.startswith("LuaJIT"):
        lua.execute("jit.off()")
    return lua


class Worker(object):
    """Runs lua.execute(code, started, *args) in a thread; the code calls
    started() once it runs, so that one interrupt() reaches it."""

    def __init__(self, lua, code, *args):
        self.started = threading.Event()
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, args=(lua, code, args))
        self.thread.daemon = True
        self.thread.start()
        assert self.started.wait(JOIN), "the Lua code did not start"

    def _run(self, lua, code, args):
        try:
            self.result = lua.execute(code, self.started.set, *args)
        except BaseException as e:
            self.error = e

    def join(self):
        self.thread.join(JOIN)
        assert not self.thread.is_alive(), "Lua was not stopped"
        return self


def _interrupted(lua, code, *args):
    worker = Worker(lua, code, *args)
    assert lua.interrupt() is True
    worker.join()
    assert isinstance(worker.error, LuaInterrupted), repr(worker.error)
    return worker.error


LOOPS = {
    "plain": "local started = ... started() while true do end",
    "arithmetic": "local started = ... started() local x = 0 while true do x = (x + 1) % 7 end",
    "pcall": "local started = ... started() while true do pcall(function() while true do end end) end",
    "error-in-pcall": "local started = ... started() while true do pcall(error, 'x') end",
    "xpcall": "local started = ... started() while true do xpcall(function() while true do end end, "
    "function(e) return e end) end",
    "coroutine-wrap": "local started = ... coroutine.wrap(function() started() while true do end end)()",
    "coroutine-resume": "local started = ... coroutine.resume(coroutine.create(function() "
    "started() while true do end end))",
    "nested-coroutines": "local started = ... coroutine.wrap(function() coroutine.wrap(function() "
    "coroutine.resume(coroutine.create(function() started() while true do end "
    "end)) end)() end)()",
    "coroutine-loop": "local started = ... started() while true do coroutine.wrap(function() "
    "for i = 1, 100 do end end)() end",
    "metamethod": "local started = ... local t = setmetatable({}, {__index = function() "
    "started() while true do end end}) return t.x",
    "callbacks": "local started, f = ... started() while true do f() end",
    "after-caught-error": "local started = ... coroutine.wrap(function() "
    "pcall(coroutine.wrap(function() error('x') end)) "
    "started() while true do end end)()",
}


@pytest.mark.parametrize("name", sorted(LOOPS))
def test_interrupt_stops_a_loop(lupa, name):
    lua = _runtime(lupa)
    error = _interrupted(lua, LOOPS[name], lambda: None)
    assert isinstance(error, LuaLimitError) and isinstance(error, LuaError)
    assert error.limit == "interrupt" and error.budget is None
    assert "interrupted" in str(error)
    # usable afterwards, and not interrupted again
    assert lua.eval("1 + 1") == 2
    assert lua.execute("local s = 0 for i = 1, 10^5 do s = s + 1 end return s") == 10**5


def test_callback_loop_with_the_jit_on(lupa):
    # a loop that calls Python is reached even when compiled (LuaJIT's JIT on)
    lua = lupa.LuaRuntime()
    _interrupted(lua, LOOPS["callbacks"], lambda: None)
    assert lua.eval("1 + 1") == 2


def test_coroutine_created_before_and_resumed_from_python(lupa):
    lua = _runtime(lupa)
    started = threading.Event()
    f = lua.eval("function(started) coroutine.yield(1) started() while true do end end")
    gen = f.coroutine(started.set)
    assert next(gen) == 1
    result = []

    def run():
        try:
            next(gen)
        except BaseException as e:
            result.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(JOIN)
    assert lua.interrupt() is True
    thread.join(JOIN)
    assert not thread.is_alive()
    assert isinstance(result[0], LuaInterrupted)
    assert lua.eval("1 + 1") == 2


def test_pcall_cannot_swallow_the_interrupt(lupa):
    lua = _runtime(lupa)
    worker = Worker(
        lua,
        "local started = ... local ok = pcall(function() started() "
        "while true do end end) return 'escaped', ok",
    )
    lua.interrupt()
    worker.join()
    assert worker.result is None
    assert isinstance(worker.error, LuaInterrupted)


def test_interrupt_with_nothing_running(lupa):
    lua = _runtime(lupa)
    assert lua.interrupt() is False
    assert lua.interrupt() is False
    # the next calls are not affected
    assert lua.execute("local s = 0 for i = 1, 10^5 do s = s + 1 end return s") == 10**5
    assert lua.eval("coroutine.wrap(function() return 3 end)()") == 3


def test_interrupt_many_times(lupa):
    lua = _runtime(lupa)
    worker = Worker(lua, LOOPS["pcall"])
    for _ in range(1000):
        lua.interrupt()
    worker.join()
    assert isinstance(worker.error, LuaInterrupted)
    for _ in range(100):
        assert lua.interrupt() is False
    assert lua.eval("1 + 1") == 2


def test_interrupt_from_several_threads_at_once(lupa):
    lua = _runtime(lupa)
    worker = Worker(lua, LOOPS["nested-coroutines"])
    go = threading.Event()

    def hammer():
        go.wait()
        for _ in range(200):
            lua.interrupt()

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(JOIN)
    worker.join()
    assert isinstance(worker.error, LuaInterrupted)
    assert lua.eval("1 + 1") == 2


def test_interrupt_does_not_wait_for_the_lock(lupa):
    # a Python callback holds the runtime (lock held) and waits for the
    # interrupt; interrupt() must return while the lock is taken
    lua = _runtime(lupa)
    release = threading.Event()
    returned = threading.Event()

    def callback():
        release.wait(JOIN)

    worker = Worker(lua, "local started, f = ... started() f() while true do end", callback)
    interrupter = threading.Thread(target=lambda: (lua.interrupt(), returned.set()), daemon=True)
    interrupter.start()
    assert returned.wait(JOIN), "interrupt() blocked"
    release.set()
    worker.join()
    # the callback itself ran to its end; Lua stopped right after it
    assert isinstance(worker.error, LuaInterrupted)


def test_interrupt_from_a_callback_in_the_same_thread(lupa):
    lua = _runtime(lupa)
    calls = []

    def stop():
        calls.append(lua.interrupt())

    with pytest.raises(LuaInterrupted):
        lua.execute("local stop = ... stop() while true do end", stop)
    assert calls == [True]
    assert lua.eval("1 + 1") == 2


def test_interrupt_while_limits_are_set(lupa):
    lua = _runtime(lupa, max_time=3600, max_instructions=10**15)
    error = _interrupted(lua, LOOPS["coroutine-resume"])
    assert error.limit == "interrupt"
    # the limits still work afterwards
    lua.set_limits(max_instructions=10**5)
    with pytest.raises(LuaLimitError) as info:
        lua.execute("while true do end")
    assert info.value.limit == "instructions"


def test_interrupt_a_call_that_frees_many_coroutines(lupa):
    # coroutines that end with errors (thrown through the wrappers) and are
    # collected while interrupt() may be looking at them
    lua = _runtime(lupa)
    code = """local started = ... started()
        while true do
            for i = 1, 20 do
                local co = coroutine.wrap(function() coroutine.wrap(function() error('x') end)() end)
                pcall(co)
            end
            collectgarbage()
        end"""
    for _ in range(5):
        worker = Worker(lua, code)
        for _ in range(50):
            lua.interrupt()
            time.sleep(0.0005)
        worker.join()
        assert isinstance(worker.error, LuaInterrupted)
    assert lua.eval("1 + 1") == 2


def test_interrupt_from_a_signal_handler(lupa):
    # Python runs signal handlers in the main thread between bytecodes, so
    # Lua runs in a worker thread here (see docs/sandbox.md)
    if not hasattr(signal, "setitimer"):
        pytest.skip("no setitimer")
    lua = _runtime(lupa)
    hits = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: hits.append(lua.interrupt()))
    try:
        worker = Worker(lua, LOOPS["coroutine-wrap"])
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        deadline = time.monotonic() + JOIN
        while worker.thread.is_alive() and time.monotonic() < deadline:
            worker.thread.join(0.01)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    worker.join()
    assert hits and hits[0] is True
    assert isinstance(worker.error, LuaInterrupted)


def test_runtimes_are_interrupted_separately(lupa):
    a, b = _runtime(lupa), _runtime(lupa)
    worker_a = Worker(a, LOOPS["plain"])
    worker_b = Worker(
        b,
        "local started, n = ... started() local s = 0 for i = 1, n do s = s + 1 end return s",
        10**6,
    )
    a.interrupt()
    worker_a.join()
    worker_b.join()
    assert isinstance(worker_a.error, LuaInterrupted)
    assert worker_b.error is None and worker_b.result == 10**6


# ---- call_interruptibly: Ctrl-C ---------------------------------------------
# Ctrl-C is simulated with _thread.interrupt_main(), which makes the main
# thread raise KeyboardInterrupt at its next check, as a SIGINT does.  (With
# os.kill(os.getpid(), SIGINT) the second Ctrl-C of the test below was now
# and then taken after the test, ending the whole pytest session.)
def _ctrl_c():
    _thread.interrupt_main()


class _CtrlC(object):
    """SIGINT raises KeyboardInterrupt (as default_int_handler does) while
    the test runs; at its end the helper threads that send Ctrl-C are joined
    and one that arrives late, under load, is dropped instead of ending the
    whole pytest session (seen once on a loaded machine)."""

    def __init__(self):
        self.armed = True
        self.threads = []

    def handler(self, signum, frame):
        if self.armed:
            raise KeyboardInterrupt

    def send_when(self, event, twice_after=None):
        """Ctrl-C once `event` is set; again once `twice_after` is set."""

        def run():
            if event.wait(JOIN):
                _ctrl_c()
                if twice_after is not None and twice_after.wait(JOIN):
                    _ctrl_c()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def __enter__(self):
        self.previous = signal.signal(signal.SIGINT, self.handler)
        return self

    def __exit__(self, *exc):
        try:
            for thread in self.threads:
                thread.join(JOIN)
        finally:
            self.armed = False
            for _ in range(1000):  # a pending Ctrl-C runs the handler in here
                time.sleep(0)
            signal.signal(signal.SIGINT, self.previous)


def test_call_interruptibly_stops_on_ctrl_c(lupa):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    lua = _runtime(lupa)
    started = threading.Event()
    with _CtrlC() as ctrl_c:
        ctrl_c.send_when(started)
        with pytest.raises(LuaInterrupted):
            call_interruptibly(lua, lua.execute, LOOPS["pcall"], started.set)
    assert lua.eval("1 + 1") == 2


def test_call_interruptibly_second_ctrl_c_gives_up(lupa):
    # Lua is inside a Python callback that does not return: the first Ctrl-C
    # cannot reach it, the second raises KeyboardInterrupt at once; once the
    # callback returns, the pending interrupt stops Lua
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    lua = _runtime(lupa)
    started, release, stopped = threading.Event(), threading.Event(), threading.Event()
    errors = []

    def run():
        try:
            lua.execute(
                "local started, wait = ... started() wait() while true do end",
                started.set,
                lambda: release.wait(JOIN),
            )
        except BaseException as e:
            errors.append(e)
        stopped.set()

    first_seen = threading.Event()

    class Runtime(object):  # sees when the first Ctrl-C was handled
        def interrupt(self):
            result = lua.interrupt()
            first_seen.set()
            return result

    try:
        with _CtrlC() as ctrl_c:
            ctrl_c.send_when(started, twice_after=first_seen)
            with pytest.raises(KeyboardInterrupt):
                call_interruptibly(Runtime(), run)
    finally:
        release.set()
    assert stopped.wait(JOIN)
    assert isinstance(errors[0], LuaInterrupted)
    assert lua.eval("1 + 1") == 2


def test_call_interruptibly_results_and_errors(lupa):
    lua = _runtime(lupa)
    assert call_interruptibly(lua, lua.eval, "1 + 2") == 3
    assert call_interruptibly(lua, lua.execute, "return ...", 1, 2) == (1, 2)
    with pytest.raises(LuaError) as info:
        call_interruptibly(lua, lua.execute, "error('boom')")
    assert "boom" in str(info.value)
    with pytest.raises(ZeroDivisionError):
        call_interruptibly(lua, lambda: 1 / 0)


def test_call_interruptibly_is_public(lupa):
    import lupacffi

    assert lupa.call_interruptibly is lupacffi.call_interruptibly
    assert "call_interruptibly" in lupa.__all__
