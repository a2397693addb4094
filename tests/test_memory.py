"""Memory accounting and limits (the allocator in csrc/lc_alloc.c), on every
backend including LuaJIT.

Semantics tested here: get_memory_used() counts the bytes beyond a fresh
runtime's (total=True: all of them); get_max_memory() is None without a limit;
set_max_memory(n) with n <= 0 removes the limit.  A Lua allocation over the
limit is a Lua memory error ('not enough memory', catchable with pcall) and a
LuaMemoryError (a LuaError and a MemoryError) in Python."""

import gc
import os

import pytest

LIMIT = 1000000
BIG = 3 * LIMIT  # comfortably over the limit


def limited(lupa, limit=LIMIT):
    return lupa.LuaRuntime(max_memory=limit)


def is_memory_message(msg):
    # Lua 5.3's string buffers report 'not enough memory for buffer allocation'
    return isinstance(msg, str) and msg.startswith("not enough memory")


# ---- accounting -------------------------------------------------------------
def test_memory_used_without_limit(lua):
    assert lua.get_max_memory() is None
    assert lua.get_max_memory(total=True) is None
    base = lua.get_memory_used()
    total = lua.get_memory_used(total=True)
    assert isinstance(base, int) and isinstance(total, int)
    assert 0 <= base < total
    lua.execute("big = string.rep('x', 200000)")
    assert lua.get_memory_used() >= base + 200000
    assert lua.get_memory_used(total=True) >= total + 200000
    lua.execute("big = nil")
    lua.gccollect()
    assert lua.get_memory_used() < base + 200000


def test_fresh_runtime_uses_nothing_beyond_its_base(lupa):
    lm = limited(lupa)
    assert lm.get_memory_used() == 0
    assert lm.get_memory_used(total=True) > 0
    assert lm.get_max_memory() == LIMIT
    # the total limit is the limit plus the base usage
    assert lm.get_max_memory(total=True) == LIMIT + lm.get_memory_used(total=True)


def test_memory_used_follows_allocations(lupa):
    lm = limited(lupa, 50 * LIMIT)
    lm.execute("t = {} for i = 1, 100000 do t[i] = i end")
    used = lm.get_memory_used()
    assert used >= 100000 * 4  # at least 4 bytes an entry on any Lua
    lm.execute("t = nil")
    lm.gccollect()
    assert lm.get_memory_used() < used


def test_string_hash_seed_and_max_memory_together(lupa):
    lm = lupa.LuaRuntime(max_memory=LIMIT, string_hash_seed=42)
    assert lm.get_max_memory() == LIMIT
    assert lm.eval("'a' .. 'b'") == "ab"


# ---- the limit ---------------------------------------------------------------
@pytest.mark.parametrize(
    "code",
    [
        "local t = {} for i = 1, 1e7 do t[i] = i end",
        "local t = {} for i = 1, 1e7 do t[i] = {} end",
        "local s = string.rep('x', %d)" % BIG,
        "local t = {} for i = 1, 1e6 do t[#t + 1] = tostring(i) .. 'abcdefgh' end",
    ],
)
def test_limit_raises_lua_memory_error(lupa, code):
    lm = limited(lupa)
    with pytest.raises(lupa.LuaMemoryError) as info:
        lm.execute(code)
    assert isinstance(info.value, lupa.LuaError)
    assert isinstance(info.value, MemoryError)
    assert "not enough memory" in str(info.value)
    assert lm.get_memory_used() <= LIMIT


def test_lua_memory_error_classes(lupa):
    assert issubclass(lupa.LuaMemoryError, lupa.LuaError)
    assert issubclass(lupa.LuaMemoryError, MemoryError)
    assert not issubclass(lupa.LuaSyntaxError, MemoryError)
    with pytest.raises(MemoryError):
        limited(lupa).eval("string.rep('x', %d)" % BIG)


def test_pcall_catches_memory_error(lupa):
    lm = limited(lupa)
    ok, msg = lm.eval("pcall(string.rep, 'x', %d)" % BIG)
    assert ok is False and is_memory_message(msg)
    ok, msg = lm.execute("return pcall(function() local t = {} for i = 1, 1e7 do t[i] = i end end)")
    assert ok is False and msg == "not enough memory"
    assert lm.eval("1 + 1") == 2


def test_garbage_of_a_caught_memory_error_is_collected(lupa):
    """Lua 5.1 and LuaJIT do not collect when an allocation fails: after an
    entry in which the limit refused one, the shim collects, also when a
    pcall caught the error (on musl, where Lua 5.1's buffers are 1 KiB,
    the pieces of a failed string.rep otherwise made the next load fail)."""
    lm = limited(lupa)
    lm.gccollect()
    before = lm.get_memory_used()
    ok, msg = lm.eval("pcall(function() local t = {} for i = 1, 1e7 do t[i] = {} end end)")
    assert ok is False and is_memory_message(msg)
    if lm.lua_version == (5, 1):  # (5.2 and later: Lua's own collector decides)
        assert lm.get_memory_used() < before + LIMIT // 4
    assert lm.execute("local t = {} for i = 1, 1000 do t[i] = {} end return #t") == 1000


def test_runtime_usable_after_memory_error(lupa):
    lm = limited(lupa)
    with pytest.raises(lupa.LuaMemoryError):
        lm.execute("s = string.rep('x', %d)" % BIG)
    assert lm.eval("1 + 1") == 2
    lm.execute("t = {} for i = 1, 1000 do t[i] = i end")
    assert lm.eval("#t") == 1000


@pytest.mark.parametrize(
    "code",
    [
        "local t = {} for i = 1, 1e7 do t[i] = {} end",  # garbage fills the limit
    ],
)
def test_runtime_usable_right_after_filling_the_limit(lupa, code):
    """After a memory error whose garbage filled the limit, the next call works
    without an explicit gccollect() (Lua 5.1 and LuaJIT have no emergency
    collection of their own: lc_run runs one after a memory error)."""
    lm = limited(lupa)
    with pytest.raises(lupa.LuaMemoryError):
        lm.execute(code)
    assert lm.eval("1 + 1") == 2


def test_gccollect_frees_after_memory_error(lupa):
    lm = limited(lupa)
    with pytest.raises(lupa.LuaMemoryError):
        lm.execute("local t = {} for i = 1, 1e7 do t[i] = {} end")
    lm.gccollect()
    assert lm.get_memory_used() < LIMIT // 2
    assert lm.eval("1 + 1") == 2


def test_limit_applies_on_luajit_too(lupa):
    """64-bit LuaJIT needs its own allocator hook: the limit must hold there."""
    lm = limited(lupa, 200000)
    with pytest.raises(lupa.LuaMemoryError):
        lm.execute("local t = {} for i = 1, 1e6 do t[i] = 'x' .. i end")
    assert lm.get_memory_used() <= 200000


def test_tiny_limit(lupa):
    lm = limited(lupa, 10)
    assert lm.get_max_memory() == 10
    with pytest.raises(lupa.LuaMemoryError) as info:
        lm.eval("{}")
    assert "not enough memory" in str(info.value)
    lm.set_max_memory(0)
    assert lm.eval("1 + 1") == 2


def test_tiny_limit_message_as_lupa(lupa):
    lm = limited(lupa, 10)
    with pytest.raises(lupa.LuaMemoryError) as info:
        lm.eval("1")
    assert info.value.args == ("not enough memory",)


def test_limit_excludes_base(lupa):
    # lupa: LuaRuntime(max_memory=1000).eval("1") -> 1 (base memory is not counted)
    assert limited(lupa, 1000).eval("1") == 1


# ---- set_max_memory / get_max_memory ----------------------------------------------
def test_set_max_memory(lupa):
    lm = limited(lupa)
    lm.set_max_memory(20 * LIMIT)
    assert lm.get_max_memory() == 20 * LIMIT
    assert lm.eval("#string.rep('x', %d)" % BIG) == BIG
    lm.set_max_memory(LIMIT)
    with pytest.raises(lupa.LuaMemoryError):
        lm.eval("#string.rep('x', %d)" % BIG)
    lm.set_max_memory(0)
    assert lm.get_max_memory() is None
    assert lm.eval("#string.rep('x', %d)" % BIG) == BIG


def test_set_max_memory_on_runtime_without_limit(lua, lupa):
    # lupa raises RuntimeError here; lupacffi always counts, so a limit can be
    # added later
    lua.set_max_memory(LIMIT)
    assert lua.get_max_memory() == LIMIT
    with pytest.raises(lupa.LuaMemoryError):
        lua.eval("string.rep('x', %d)" % BIG)
    lua.set_max_memory(-1)
    assert lua.get_max_memory() is None


def test_set_max_memory_total(lupa):
    lm = limited(lupa)
    base = lm.get_memory_used(total=True)
    lm.set_max_memory(base + 500000, total=True)
    assert lm.get_max_memory(total=True) == base + 500000
    assert lm.get_max_memory() == 500000
    with pytest.raises(lupa.LuaMemoryError):
        lm.eval("string.rep('x', 600000)")
    lm.gccollect()  # Lua 5.1/LuaJIT keep the failed call's garbage until then
    assert lm.eval("#string.rep('x', 100000)") == 100000


def test_set_max_memory_total_below_base(lupa):
    lm = limited(lupa)
    lm.set_max_memory(100, total=True)
    assert lm.get_max_memory(total=True) == 100
    assert lm.get_max_memory() == 0  # (lupa underflows to ~2**64 here)
    with pytest.raises(lupa.LuaMemoryError):
        lm.eval("{}")
    lm.set_max_memory(0, total=True)
    assert lm.get_max_memory() is None and lm.get_max_memory(total=True) is None
    assert lm.eval("1 + 1") == 2


def test_lowering_limit_below_current_use(lupa):
    lm = limited(lupa, 10 * LIMIT)
    g = lm.globals()  # (a new wrapper may need memory later)
    lm.execute("keep = string.rep('x', %d)" % (2 * LIMIT))
    lm.set_max_memory(LIMIT)
    with pytest.raises(lupa.LuaMemoryError):
        lm.execute("local more = {} for i = 1, 1e5 do more[i] = i end")
    with pytest.raises(lupa.LuaMemoryError):
        lm.execute("keep = nil")  # even loading code needs memory
    g.keep = None  # assigning to an existing key does not
    for _ in range(4):  # LuaJIT halves its string buffer once a cycle
        lm.gccollect()
    assert lm.eval("#string.rep('y', 1000)") == 1000


# ---- bad input ------------------------------------------------------------------
@pytest.mark.parametrize("value", [0, -1, -(10**30)])
def test_max_memory_zero_or_negative_means_no_limit(lupa, value):
    lm = lupa.LuaRuntime(max_memory=value)
    assert lm.get_max_memory() is None
    assert lm.get_memory_used() == 0
    assert lm.eval("#string.rep('x', %d)" % BIG) == BIG


@pytest.mark.parametrize("value", [10**30, float("inf"), 2**64])
def test_max_memory_absurd_is_effectively_unlimited(lupa, value):
    lm = lupa.LuaRuntime(max_memory=value)
    limit = lm.get_max_memory()
    assert isinstance(limit, int) and limit >= 2**60
    assert lm.eval("#string.rep('x', %d)" % BIG) == BIG


def test_max_memory_float(lupa):
    # lupa: max_memory=1.5 -> get_max_memory() == 1
    assert lupa.LuaRuntime(max_memory=1.5).get_max_memory() == 1
    assert lupa.LuaRuntime(max_memory=123456.9).get_max_memory() == 123456


@pytest.mark.parametrize("value", ["x", b"100", [100], object(), True])
def test_max_memory_bad_type(lupa, value):
    with pytest.raises(TypeError):
        lupa.LuaRuntime(max_memory=value)


def test_max_memory_nan(lupa):
    with pytest.raises((ValueError, TypeError)):
        lupa.LuaRuntime(max_memory=float("nan"))


@pytest.mark.parametrize("value", ["x", None, 1.5, [1], True])
def test_set_max_memory_bad_type(lua, value):
    with pytest.raises(TypeError):
        lua.set_max_memory(value)
    assert lua.get_max_memory() is None


def test_set_max_memory_absurd(lua):
    lua.set_max_memory(10**30)
    assert lua.get_max_memory() >= 2**60
    assert lua.eval("1 + 1") == 2


# ---- limits hit in the middle of conversions --------------------------------------
def test_limit_in_callback_return_value(lupa):
    """The Python callback's result is too big to become a Lua string."""
    lm = limited(lupa)
    big = "x" * BIG
    lm.globals().make_big = lambda: big
    with pytest.raises(lupa.LuaMemoryError):
        lm.eval("make_big()")
    assert lm.eval("pcall(make_big)") == (False, "not enough memory")
    assert lm.eval("1 + 1") == 2


def test_limit_in_callback_results_releases_the_others(lupa):
    """The memory error strikes while the callback's results are pushed:
    the Python objects among the earlier results must not stay pinned."""
    import weakref

    class Obj(object):
        pass

    lm = lupa.LuaRuntime(max_memory=LIMIT, unpack_returned_tuples=True)
    big = "x" * BIG
    lm.globals().both = lambda o: (o, big)
    lm.globals().nothing = lambda: None
    refs = []
    for _ in range(20):
        o = Obj()
        refs.append(weakref.ref(o))
        ok, msg = lm.execute("return pcall(both, ...)", o)
        assert ok is False and msg == "not enough memory"
        del o
    lm.execute("nothing()")  # the runtime holds the last callback's result until the next
    lm.gccollect()
    for _ in range(3):
        gc.collect()
    assert sum(r() is not None for r in refs) == 0


def test_limit_in_callback_returning_many_values(lupa):
    lm = limited(lupa, 200000)
    lm.globals().many = lambda: tuple("s%07d" % i for i in range(100000))
    lm2 = lupa.LuaRuntime(max_memory=200000, unpack_returned_tuples=True)
    lm2.globals().many = lm.globals().many
    for rt in (lm, lm2):
        ok, msg = rt.execute("return pcall(function() return select('#', many()) end)")
        if ok is False:
            assert "not enough memory" in msg or "stack" in msg
        assert rt.eval("1 + 1") == 2


def test_limit_in_table_from(lupa):
    lm = limited(lupa)
    with pytest.raises(lupa.LuaMemoryError):
        lm.table_from(list(range(300000)))
    with pytest.raises(lupa.LuaMemoryError):
        lm.table_from({"k%d" % i: i for i in range(100000)})
    with pytest.raises(lupa.LuaMemoryError):
        lm.table_from([[i, str(i)] for i in range(100000)], recursive=True)
    with pytest.raises(lupa.LuaMemoryError):
        lm.table(*range(300000))
    gc.collect()  # (PyPy) wrappers of the nested tables made before the error
    lm.gccollect()
    assert lm.table_from([1, 2, 3])[3] == 3


def test_limit_in_huge_string_argument(lupa):
    lm = limited(lupa)
    length = lm.eval("function(s) return #s end")
    with pytest.raises(lupa.LuaMemoryError):
        length("x" * BIG)
    with pytest.raises(lupa.LuaMemoryError):
        length(b"x" * BIG)
    with pytest.raises(lupa.LuaMemoryError):
        lm.globals()["big"] = "x" * BIG
    with pytest.raises(lupa.LuaMemoryError):
        lm.globals()["y" * BIG]
    with pytest.raises(lupa.LuaMemoryError):
        lm.execute("return ...", "x" * BIG)
    assert length("abc") == 3


def test_limit_in_huge_source_code(lupa):
    lm = limited(lupa)
    with pytest.raises(lupa.LuaMemoryError):
        lm.execute("return '" + "x" * BIG + "'")
    assert lm.eval("1 + 1") == 2


def test_limit_in_coroutine(lupa):
    lm = limited(lupa)
    co = lm.eval("function(s) local x = coroutine.yield(#s) return #x end").coroutine("a")
    assert next(co) == 1
    with pytest.raises(lupa.LuaMemoryError):
        co.send("x" * BIG)
    co2 = lm.eval(
        "function() coroutine.yield(1) local t = {} for i = 1, 1e7 do t[i] = i end end"
    ).coroutine()
    assert next(co2) == 1
    with pytest.raises(lupa.LuaMemoryError):
        next(co2)
    assert lm.eval("1 + 1") == 2


def test_limit_in_tostring_of_python_object(lupa):
    class Big(object):
        def __str__(self):
            return "z" * BIG

    lm = limited(lupa)
    lm.globals().obj = Big()
    with pytest.raises(lupa.LuaMemoryError):
        lm.eval("tostring(obj)")
    ok, msg = lm.eval("pcall(tostring, obj)")
    assert ok is False and is_memory_message(msg)


def test_limit_with_many_python_objects(lupa):
    """Userdata for Python objects count too; when the limit stops Lua, the
    objects it had taken are released after a collection."""
    import weakref

    class Obj(object):
        pass

    made = []

    def make():
        o = Obj()
        made.append(weakref.ref(o))
        return o

    lm = limited(lupa, 300000)
    lm.globals().make = make
    lm.globals().nothing = lambda: None
    for _ in range(5):
        with pytest.raises(lupa.LuaMemoryError):
            lm.execute("local t = {} for i = 1, 1e6 do t[i] = make() end")
    lm.gccollect()
    lm.execute("nothing()")  # the runtime holds the last callback's result until the next
    lm.gccollect()
    for _ in range(3):
        gc.collect()
    assert made and all(r() is None for r in made)


def test_error_message_too_big_for_the_limit(lupa):
    lm = limited(lupa)
    with pytest.raises(lupa.LuaError):
        lm.execute("local s = string.rep('x', %d) error(s .. s)" % (LIMIT * 6 // 10))
    assert lm.eval("1 + 1") == 2


def test_memory_limit_per_runtime(lupa):
    small, large = limited(lupa, 100000), limited(lupa, 10 * LIMIT)
    with pytest.raises(lupa.LuaMemoryError):
        small.eval("string.rep('x', 200000)")
    assert large.eval("#string.rep('x', 200000)") == 200000
    assert small.eval("1 + 1") == 2


# ---- LuaJIT's own allocator (lc_alloc.c: a heap per runtime) -------------------------------------
def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc/self/statm")
def test_luajit_gives_a_closed_runtimes_memory_back(lupa):
    """On LuaJIT a runtime's blocks come from a heap of its own (LuaJIT's
    allocator): closing a runtime that grew big gives its memory back to the
    system, round after round (malloc, with PUC Lua, may keep it)."""
    if not lupa.__name__.endswith("luajit21"):
        pytest.skip("LuaJIT only")
    grown = []
    for _ in range(4):
        lua = lupa.LuaRuntime()
        before = _rss_mb()
        lua.execute("t = {} for i = 1, 4e5 do t[i] = {i} end")  # ~40 MB of small blocks
        grown.append(_rss_mb() - before)
        lua.close()
        del lua
        gc.collect()
        assert _rss_mb() - before < grown[-1] / 2
    assert min(grown) > 10  # (the measure measures)


def test_small_runtimes_made_and_dropped_in_threads(lupa):
    """The heap of a small runtime is kept for the next one (lc_alloc.c);
    threads making and dropping runtimes at once each get a heap of their
    own."""
    from helpers import run_threads

    def worker(tid):
        for i in range(60):
            lua = lupa.LuaRuntime(max_memory=10**6 if i % 3 == 0 else None)
            t = lua.eval(
                "function(n) local t = {} for i = 1, n do t[i] = 's' .. i end return t end"
            )(50 + tid)
            assert len(t) == 50 + tid and t[50] == "s50"
            if i % 2:
                lua.close()
            del lua, t
        return tid

    assert sorted(run_threads([(worker, (tid,)) for tid in range(4)])) == [0, 1, 2, 3]
