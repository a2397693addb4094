"""Identity under load: a Python object passed into Lua any number of times
is one userdata and always comes back as the very same object, while objects
are created and freed throughout (freed ids are reused by new objects, which
is where lupa hands back wrong objects).  Run with ``-m slow``."""
import gc
import random
import threading
import weakref

import pytest

from helpers import run_threads

pytestmark = pytest.mark.slow

# round trips per backend: at least a million in total
ROUND_TRIPS = 700000         # the single-threaded test
THREADS = 4
PER_THREAD = 40000           # in each thread of the two threaded tests
assert ROUND_TRIPS + 2 * THREADS * PER_THREAD >= 1000000

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

N_ECHO = 40          # objects sent to Lua and back per step
POOL = 300           # live objects the echoed ones are drawn from


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
        self.mirror = {}          # slot -> ((serial, weakref), (serial, weakref))
        self.created = []         # objects py_new made during the current step
        self.samples = []         # weak references to some objects, all freed at the end
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
        echo = pool[start:start + N_ECHO]
        echo[-1] = echo[0]        # one object twice in the same call
        self.created = []
        results = step(slot, want, mode, echo[0], stored[0], stored[1], dropped[0], dropped[1], *echo)
        ok, old1, old2 = results[:3]
        if ok is not True:
            self.wrong.append(("checks in Lua", ok, True))
        if mode == 1:
            self.checked += N_ECHO          # Lua -> Python -> Lua, checked in Lua
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


def test_identity_stress(lupa):
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    stress = Stress(seed=1, slots=list(range(50)), next_serial=0)
    step, clear = setup_step(lua, stress)
    run(lua, stress, step, iterations(ROUND_TRIPS))
    assert stress.wrong == []
    assert stress.checked >= ROUND_TRIPS
    assert_all_freed(lua, clear, [stress])


def test_identity_stress_threads_own_runtimes(lupa):
    results = []

    def worker(seed):
        lua = lupa.LuaRuntime(unpack_returned_tuples=True)
        stress = Stress(seed=seed, slots=list(range(20)), next_serial=seed * 10 ** 9)
        step, clear = setup_step(lua, stress)
        run(lua, stress, step, iterations(PER_THREAD), collect_every=150)
        assert_all_freed(lua, clear, [stress])
        results.append(stress)
    run_threads([(worker, (s,)) for s in range(THREADS)])
    assert len(results) == THREADS
    for stress in results:
        assert stress.wrong == []
        assert stress.checked >= PER_THREAD


def test_identity_stress_threads_sharing_a_runtime(lupa):
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    local = threading.local()
    setup, clear = lua.execute(STEP)
    step = setup(lambda *args: args, lambda: local.stress.py_new())
    stresses = []

    def worker(k):
        # each thread its own slots in the shared store
        stress = local.stress = Stress(seed=k, slots=list(range(k * 100, k * 100 + 20)),
                                       next_serial=k * 10 ** 9)
        stresses.append(stress)
        run(lua, stress, step, iterations(PER_THREAD), collect_every=150)
    run_threads([(worker, (k,)) for k in range(THREADS)])
    assert len(stresses) == THREADS
    for stress in stresses:
        assert stress.wrong == []
        assert stress.checked >= PER_THREAD
    assert_all_freed(lua, clear, stresses)
