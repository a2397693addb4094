"""Several results at once: a call, a chunk or a coroutine giving back two or
more values, and the batches of a table's iterator.  On CPython C also packs
them for one struct.unpack (lc_pack in csrc/lc_convert.c: nil, booleans,
numbers, strings and references; anything else, or more than fits, goes the
general way); on PyPy they are read field by field.  Either way Python must
get exactly what the one-value paths give, value by value."""

import math
import threading

import pytest

from helpers import collect, run_ok_child, run_threads
from lupacffi import _constants

PACK_BYTES = _constants.PACK_BYTES
NOUT = _constants.NOUT


def _one_by_one(lua, code):
    """The values of the Lua expressions in `code`, fetched one at a time
    (the one-value paths), as a tuple."""
    return tuple(lua.eval(expr) for expr in code.split(";"))


def test_every_kind_among_several_results(lua, lupa):
    f = lua.eval(
        """function()
            local co = coroutine.create(function() coroutine.yield() end)
            coroutine.resume(co)  -- (a thread not started yet is a function in lupa)
            return nil, true, false, 0, -1, 1.5, -0.0, '', 'héllo', 'a\\0b',
                   {7}, function() return 8 end, co, 1 / 0, -1 / 0
        end"""
    )
    got = f()
    assert len(got) == 15
    assert got[:10] == (None, True, False, 0, -1, 1.5, -0.0, "", "héllo", "a\0b")
    assert [type(x) for x in got[1:6]] == [bool, bool, int, int, float]
    assert got[10][1] == 7 and lupa.lua_type(got[10]) == "table"
    assert got[11]() == 8
    assert lupa.lua_type(got[12]) == "thread"
    assert got[13:] == (math.inf, -math.inf)
    nan = lua.eval("function() return 0 / 0, 0 / 0 end")()
    assert all(math.isnan(x) for x in nan)


def test_nils_anywhere_among_several(lua):
    assert lua.eval("function() return nil, nil end")() == (None, None)
    assert lua.eval("function() return nil, 1, nil end")() == (None, 1, None)
    assert lua.eval("function() return 'a', nil, 'b', nil end")() == ("a", None, "b", None)


def test_numbers_as_the_one_value_paths_give_them(lua):
    exprs = "2^53; 2^53 + 2; -2^53; 2^60; 2^63; -2^63; 0.5; 1e300; 3; -7"
    if lua.lua_version >= (5, 3):
        exprs += "; math.maxinteger; math.mininteger; 3.0; -0.0"
    expected = _one_by_one(lua, exprs)
    got = lua.eval("function() return %s end" % exprs.replace(";", ","))()
    assert got == expected
    assert [type(x) for x in got] == [type(x) for x in expected]


def test_strings_at_the_edge_of_the_pack_buffer(lua):
    """The strings of two results fill the pack buffer exactly, overflow it by
    a byte (the general way), or are long strings (Python objects)."""
    f = lua.eval("function(a, b) return string.rep('x', a), string.rep('y', b), 5 end")
    header = 1 + 3 + 8 * 3  # count, tags, one field each
    room = PACK_BYTES - header
    for a, b in [
        (room // 2, room - room // 2),
        (room // 2, room - room // 2 + 1),
        (0, room),
        (1, 0),
    ]:
        assert f(a, b) == ("x" * a, "y" * b, 5)
    big = _constants.LONG_STRING
    assert f(big, 3) == ("x" * big, "yyy", 5)


@pytest.mark.parametrize("n", [2, 3, NOUT - 1, NOUT, NOUT + 1, 300])
def test_any_number_of_mixed_results(lua, n):
    f = lua.eval(
        """function(n)
            local out = {}
            for i = 1, n do
                local m = i % 5
                if m == 0 then out[i] = i
                elseif m == 1 then out[i] = i + 0.25
                elseif m == 2 then out[i] = 's' .. i
                elseif m == 3 then out[i] = (i % 2 == 0)
                else out[i] = {i} end
            end
            return (table.unpack or unpack)(out, 1, n)
        end"""
    )
    got = f(n)
    assert len(got) == n
    for i, value in enumerate(got, 1):
        m = i % 5
        if m == 4:
            assert value[1] == i
        else:
            expected = [i, i + 0.25, "s%d" % i, i % 2 == 0][m]
            assert value == expected and type(value) is type(expected)


def test_python_objects_among_several_results(lua):
    objs = [object(), [1], {"a": 1}]
    f = lua.eval("function(a, b, c) return a, 1, b, 'x', c end")
    got = f(*objs)
    assert got[0] is objs[0] and got[2] is objs[1] and got[4] is objs[2]
    assert got[1] == 1 and got[3] == "x"
    # a packed call right after: nothing of the unpacked one shows through
    assert lua.eval("function() return 1, 'y', 2 end")() == (1, "y", 2)
    assert f(*objs)[0] is objs[0]


def test_each_call_reads_its_own_results(lua):
    """Results that pack after results that do not, and the other way round,
    and counts that differ: each call gets its own values."""
    packs = lua.eval("function(x) return x, 'p', x end")
    does_not = lua.eval("function(o, x) return x, o, x end")
    obj = object()
    for i in range(50):
        assert packs(i) == (i, "p", i)
        assert does_not(obj, i) == (i, obj, i)
        assert lua.eval("function() return 1, 2 end")() == (1, 2)
        assert packs(-i) == (-i, "p", -i)


def test_undecodable_string_among_several_results(lupa):
    lua = lupa.LuaRuntime()
    lua.execute("weak = setmetatable({}, {__mode = 'k'})")
    f = lua.eval("function() local t = {} weak[t] = true return t, '\\255', 3 end")
    with pytest.raises(UnicodeDecodeError):
        f()
    collect(lua)
    assert lua.eval("next(weak)") is None  # the table's reference was released
    raw = lupa.LuaRuntime(encoding=None)
    assert raw.eval("function() return '\\255', 'a\\0' end")() == (b"\xff", b"a\x00")


def test_encoding_none_gives_bytes(lupa):
    lua = lupa.LuaRuntime(encoding=None)
    assert lua.eval("function() return 'abc', '', 1 end")() == (b"abc", b"", 1)
    t = lua.eval("{x = 'y', [1] = 'z'}")
    assert sorted(t.items(), key=repr) == sorted([(b"x", b"y"), (1, b"z")], key=repr)


def test_several_results_from_chunks_and_coroutines(lua):
    assert lua.execute("return 1, 'two', nil, 4.5") == (1, "two", None, 4.5)
    co = lua.eval(
        "function() coroutine.yield(1, 'a') coroutine.yield({}, true) return 'end', 9 end"
    ).coroutine()
    first = co.send(None)
    assert first == (1, "a")
    second = co.send(None)
    assert second[1] is True and len(second[0]) == 0
    assert co.send(None) == ("end", 9)


def test_several_results_inside_a_callback(lua):
    """A callback's own calls reuse the thread's buffers: the outer call's
    results are read after the callback has returned."""
    inner = lua.eval("function() return 'in', 1, {5} end")

    def callback():
        got = inner()
        assert got[:2] == ("in", 1) and got[2][1] == 5
        return "cb"

    outer = lua.eval("function(f) local x = f() return 'out', x, f() end")
    assert outer(callback) == ("out", "cb", "cb")


def test_several_results_from_several_threads(lua):
    f = lua.eval("function(i) return i, 's' .. i, i + 0.5, {i}, i % 2 == 0 end")

    def worker(tid):
        for i in range(300):
            k = tid * 1000 + i
            got = f(k)
            assert got[:3] == (k, "s%d" % k, k + 0.5) and got[3][1] == k and got[4] == (k % 2 == 0)
        return tid

    assert sorted(run_threads([(worker, (t,)) for t in range(4)])) == [0, 1, 2, 3]


def test_several_results_at_a_full_memory_limit(lupa):
    lua = lupa.LuaRuntime(max_memory=200000)
    scalars = lua.eval("function() return 'a', 2, true, nil end")
    table = lua.eval("function() return 'a', 2, {3} end")
    with pytest.raises(lupa.LuaMemoryError):
        lua.execute("big = {} for i = 1, 1e6 do big[i] = i end")  # (kept: the limit stays near)
    for _ in range(20):
        assert scalars() == ("a", 2, True, None)  # (nothing to allocate)
        try:
            got = table()
        except lupa.LuaMemoryError:
            continue
        assert got[:2] == ("a", 2) and got[2][1] == 3
    lua.execute("big = nil")
    lua.gccollect()
    assert table()[2][1] == 3


# ---- the batches of a table's iterator ---------------------------------------------------------
def test_small_tables_of_every_kind_iterate_right(lua, lupa):
    t = lua.eval("{1, 'two', 3.5, true, false, {6}, k = 'v', [8.5] = 'f', ['a\\0b'] = ''}")
    items = dict(t.items())
    assert {k: v for k, v in items.items() if k != 6} == {
        1: 1,
        2: "two",
        3: 3.5,
        4: True,
        5: False,
        "k": "v",
        8.5: "f",
        "a\0b": "",
    }
    assert items[6][1] == 6
    assert sorted(map(repr, t)) == sorted(map(repr, items))
    assert len(list(t.values())) == 9


def test_an_iterator_is_lazy(lua):
    """As in lupa: the table is read when the iteration gets there, not when
    the iterator is made."""
    t = lua.eval("{1, 2, 3}")
    keys, values = t.keys(), t.values()
    t[4] = 4
    t[1] = 10
    assert list(keys) == [1, 2, 3, 4]
    assert list(values) == [10, 2, 3, 4]


def test_a_finished_iterator_stays_finished(lua):
    t = lua.eval("{1, 2}")
    it = iter(t)
    assert list(it) == [1, 2]
    t[3] = 3
    assert list(it) == [] and next(it, "end") == "end"


def test_iterators_at_the_recursion_limit_leave_no_lock_taken(lupa):
    """A refill of an iterator takes no lock from Python (at the recursion
    limit, a cffi call in a `finally` that unlocks can itself fail: measured
    on PyPy, where the runtime then stayed locked and these threads hung), so
    other threads can still use the runtime afterwards."""
    code = """
import sys, threading
import lupacffi.{backend} as lupa
lua = lupa.LuaRuntime()
t = lua.eval("{{1, 2, 3}}")

def drain():
    try:
        for _ in t.items():
            pass
    except Exception:  # (RecursionError; on PyPy also a TypeError about it)
        pass

def deep(n):
    drain()
    try:
        return deep(n + 1)
    except Exception:
        drain()
        raise

sys.unraisablehook = lambda report: None
for _ in range(20):
    try:
        deep(0)
    except Exception:
        pass
results = []
threads = [threading.Thread(target=lambda: results.append(lua.eval("1 + 1")), daemon=True)
           for _ in range(2)]
for th in threads:
    th.start()
for th in threads:
    th.join(20)
assert results == [2, 2], results
print("ok")
"""
    backend = lupa.__name__.rsplit(".", 1)[1]
    run_ok_child(code.format(backend=backend))


def test_iterators_shared_by_threads_in_every_size(lua):
    """Each item once in all, whoever refills (small tables: one batch;
    big ones: several, copied by each thread into its own buffer)."""
    make = lua.eval("function(n) local t = {} for i = 1, n do t['k' .. i] = i end return t end")
    for size in (1, 2, NOUT // 2, NOUT // 2 + 1, 700, 2500):
        table = make(size)
        it = table.items()
        start = threading.Barrier(4)

        def drain():
            start.wait()
            return list(it)

        got = [pair for part in run_threads([(drain, ())] * 4) for pair in part]
        assert sorted(got) == sorted(("k%d" % i, i) for i in range(1, size + 1))
