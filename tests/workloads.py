"""Workloads that several test modules run: the identity stress (Python
objects through Lua and back while objects come and go), the hammer (many
threads in one runtime), and a reference cycle through both heaps.  The
normal tests run them briefly, the slow and long stress tests for long."""

import gc
import random
import time
import weakref

from helpers import JOIN_TIMEOUT, Obj, collect, run_threads


# ---- a cycle through Lua and Python ----------------------------------------------
def make_cycle(lua, payload=None):
    """A Python object holding a wrapper of a Lua table that holds it."""
    obj = Obj(payload)
    t = lua.table()
    t.owner = obj
    obj.table = t
    return weakref.ref(obj)


# ---- the hammer: many threads in one runtime ---------------------------------------
HAMMER_SETUP = """
counter = 0
shared = {}
function double(x) return 2 * x end
function via_python(x) return py_square(x) + 1 end
function gen(n) for i = 1, n do coroutine.yield(i) end end
function endless() local i = 0 while true do i = i + 1 coroutine.yield(i) end end
-- read, call Python (which lets other threads run), write: only atomic if
-- the runtime lock keeps every other thread out while this thread is in Lua
function incr(n) for i = 1, n do local c = counter; py_pause(); counter = c + 1 end end
function identity(...) return ... end
function store(k, v) shared[k] = v end
function fetch(k) return shared[k] end
"""


def setup_hammer(lua):
    lua.execute(HAMMER_SETUP)
    g = lua.globals()
    double = g.double

    def py_square(x):  # calls back into the same runtime
        return double(x) * x // 2

    def py_pause():
        time.sleep(0)  # a chance for other threads to run
        t = lua.table(1, 2, 3)  # wrappers made and dropped inside a callback
        assert t[3] == 3
        del t

    g.py_square = py_square
    g.py_pause = py_pause


def hammer_thread(lua, tid, duration, min_rounds, dropbox):
    """One thread's share of the work; returns the number of incr() calls made."""
    g = lua.globals()
    double, via_python, gen, incr = g.double, g.via_python, g.gen, g.incr
    identity, store, fetch = g.identity, g.store, g.fetch
    endless = g.endless.coroutine()
    expected_next = 1
    increments = 0
    end = time.monotonic() + duration
    i = 0
    while i < min_rounds or time.monotonic() < end:
        i += 1
        assert double(i) == 2 * i
        assert via_python(i) == i * i + 1
        # globals and tables
        key = "t%d_%d" % (tid, i % 5)
        g[key] = i
        assert lua.eval(key) == i
        t = lua.table(tid, i, name="x%d" % i)
        store(key, t)
        back = fetch(key)
        assert back[2] == i and back.name == "x%d" % i
        assert back == t
        # Python objects in and out
        obj = Obj(i)
        assert identity(obj, i, "s") == (obj, i, "s")
        # coroutines: a fresh one, and a long-lived one resumed step by step
        assert [v for v in gen.coroutine(4)] == [1, 2, 3, 4]
        assert next(endless) == expected_next
        expected_next += 1
        # the lock must make each incr() atomic
        incr(2)
        increments += 2
        # wrappers created here, dropped later by some other thread
        dropbox.append(lua.eval("{...}", i))
        if len(dropbox) > 50:
            for _ in range(25):
                try:
                    dropbox.pop(0)
                except IndexError:
                    break
        if i % 50 == 0:
            gc.collect()  # wrappers freed on this thread, any of them
    return increments


def hammer(lupa, seconds, nthreads=8, min_rounds=20):
    lua = lupa.LuaRuntime()
    setup_hammer(lua)
    dropbox = []
    counts = run_threads(
        [(hammer_thread, (lua, tid, seconds, min_rounds, dropbox)) for tid in range(nthreads)],
        timeout=seconds + JOIN_TIMEOUT,
    )
    assert lua.eval("counter") == sum(counts)
    del dropbox[:]
    collect()
    lua.gccollect()
    assert lua.eval("1 + 1") == 2


# ---- the identity stress ---------------------------------------------------------------
# step(slot, want, mode, x, a, b, d1, d2, ...):
#   stores a, b under `slot` (mode 2: two new objects made by Python instead),
#   returns the pair stored under `want` before, drops d1 and d2, and returns
#   the other objects (...) unchanged; x is the first of them passed again.
#   mode 1 also sends ... through a Python function and back.
#   The first result says whether every check made in Lua held.
STEP = """
local store = {}
local py_echo, py_new
local function step(slot, want, mode, x, a, b, d1, d2, ...)
    local ok = rawequal(x, (...)) and x == (...)
    local keys = {[x] = true, [d1] = 1, [d2] = 2}
    ok = ok and keys[(...)] == true and keys[d1] == 1 and not rawequal(d1, d2)
    local old = store[want]
    local old1, old2
    if old then old1, old2 = old[1], old[2] end
    if mode == 2 then
        local n1, n2 = py_new()
        store[slot] = {n1, n2}
    else
        store[slot] = {a, b}
    end
    if mode == 1 then
        local back = {py_echo(...)}
        local sent = {...}
        for i = 1, #sent do
            ok = ok and rawequal(back[i], sent[i])
        end
        ok = ok and #back == #sent
    end
    return ok, old1, old2, ...
end
local function setup(echo, new)
    py_echo, py_new = echo, new
    return step
end
local function clear()
    store = {}
end
return setup, clear
"""

N_ECHO = 40  # objects sent to Lua and back per step
POOL = 300  # live objects the echoed ones are drawn from


class Same(object):
    """Equal to everything, with one hash: equality must never stand in for identity."""

    __slots__ = ("serial", "__weakref__")

    def __eq__(self, other):
        return True

    def __hash__(self):
        return 0


class Seq(list):
    pass


class Err(Exception):
    pass


def make(serial):
    kind = serial % 4
    if kind == 0:
        obj = Same()
    elif kind == 1:
        obj = Seq()
    elif kind == 2:
        obj = Err()
    else:

        def obj():
            return None

    obj.serial = serial
    return obj


class Stress(object):
    """One client of a step function: makes objects, checks every one that
    comes back, and mirrors what Lua stores (by weak reference only)."""

    def __init__(self, seed, slots, next_serial):
        self.rng = random.Random(seed)
        self.slots = slots
        self.serial = next_serial
        self.mirror = {}  # slot -> ((serial, weakref), (serial, weakref))
        self.created = []  # objects py_new made during the current step
        self.samples = []  # weak references to some objects, all freed at the end
        self.checked = 0
        self.wrong = []
        self.pool = [self.new() for _ in range(POOL)]

    def new(self):
        self.serial += 1
        obj = make(self.serial)
        if self.serial % 97 == 0:
            self.samples.append(weakref.ref(obj))
        return obj

    def py_new(self):
        a, b = self.new(), self.new()
        self.created.append(a)
        self.created.append(b)
        return a, b

    def check(self, got, expected, what):
        self.checked += 1
        if got is not expected:
            self.wrong.append((what, got, expected))

    def one_step(self, step, i):
        rng = self.rng
        slot = rng.choice(self.slots)
        want = rng.choice(self.slots)
        mode = i % 3
        stored = [self.new(), self.new()]
        dropped = [self.new(), self.new()]
        # the echoed objects come from a pool in which some objects are
        # replaced by new ones at every step (the old ones are freed)
        pool = self.pool
        for _ in range(2):
            pool[rng.randrange(POOL)] = self.new()
        start = rng.randrange(POOL - N_ECHO)
        echo = pool[start : start + N_ECHO]
        echo[-1] = echo[0]  # one object twice in the same call
        self.created = []
        results = step(
            slot, want, mode, echo[0], stored[0], stored[1], dropped[0], dropped[1], *echo
        )
        ok, old1, old2 = results[:3]
        if ok is not True:
            self.wrong.append(("checks in Lua", ok, True))
        if mode == 1:
            self.checked += N_ECHO  # Lua -> Python -> Lua, checked in Lua
        self.checked += N_ECHO
        for got, expected in zip(results[3:], echo):
            if got is not expected:
                self.wrong.append(("echo", got, expected))
        if len(results) != 3 + N_ECHO:
            self.wrong.append(("result count", len(results), 3 + N_ECHO))
        expected_old = self.mirror.get(want)
        if expected_old is None:
            self.check(old1, None, "empty slot")
            self.check(old2, None, "empty slot")
        else:
            for got, (serial, ref) in zip((old1, old2), expected_old):
                self.check(got, ref(), "stored")
                if getattr(got, "serial", None) != serial:
                    self.wrong.append(("serial", getattr(got, "serial", None), serial))
        now = self.created if mode == 2 else stored
        self.mirror[slot] = tuple((o.serial, weakref.ref(o)) for o in now)
        self.created = []


def iterations(round_trips):
    # N_ECHO + 2 round trips per step, and N_ECHO more through a callback in mode 1
    return round_trips // (N_ECHO * 4 // 3 + 2) + 1


def run(lua, stress, step, iterations, collect_every=400):
    for i in range(iterations):
        stress.one_step(step, i)
        if i % collect_every == collect_every - 1:
            if (i // collect_every) % 2:
                lua.gccollect()
            else:
                gc.collect()


def setup_step(lua, stress):
    setup, clear = lua.execute(STEP)
    return setup(lambda *args: args, stress.py_new), clear


def assert_all_freed(lua, clear, stresses):
    clear()
    stresses_mirror = [s.mirror for s in stresses]
    for s in stresses:
        s.mirror = {}
        s.pool = []
    del stresses_mirror
    for _ in range(3):
        lua.gccollect()
        gc.collect()
    alive = [r for s in stresses for r in s.samples if r() is not None]
    assert alive == []
