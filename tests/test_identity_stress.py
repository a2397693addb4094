"""Identity under load: a Python object passed into Lua any number of times
is one userdata and always comes back as the very same object, while objects
are created and freed throughout (freed ids are reused by new objects, which
is where lupa hands back wrong objects).  Run with ``-m slow``."""

import threading

import pytest

from helpers import run_threads
from workloads import STEP, Stress, assert_all_freed, iterations, run, setup_step

pytestmark = pytest.mark.slow

# round trips per backend: at least a million in total
ROUND_TRIPS = 700000  # the single-threaded test
THREADS = 4
PER_THREAD = 40000  # in each thread of the two threaded tests
assert ROUND_TRIPS + 2 * THREADS * PER_THREAD >= 1000000


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
        stress = Stress(seed=seed, slots=list(range(20)), next_serial=seed * 10**9)
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
        stress = local.stress = Stress(
            seed=k, slots=list(range(k * 100, k * 100 + 20)), next_serial=k * 10**9
        )
        stresses.append(stress)
        run(lua, stress, step, iterations(PER_THREAD), collect_every=150)

    run_threads([(worker, (k,)) for k in range(THREADS)])
    assert len(stresses) == THREADS
    for stress in stresses:
        assert stress.wrong == []
        assert stress.checked >= PER_THREAD
    assert_all_freed(lua, clear, stresses)
