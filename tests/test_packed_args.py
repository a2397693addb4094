"""Calls with several arguments of the common types (None, bool, int, float,
str, bytes) cross packed by the struct module on CPython (lc_call_p,
lc_call_chunk_p, lc_resume_p; lc_unpack_args in csrc/lc_ops.c); any other
argument, an int that does not fit, or PyPy take the general way.  Either
way Lua must see exactly the values Python passed."""

import enum
import math

import pytest

from helpers import run_threads
from lupacffi import _constants

# returns the number of arguments, then a description of each as Lua sees it
DESCRIBE = """function(...)
    local n = select('#', ...)
    local out = {n}
    for i = 1, n do
        local v = select(i, ...)
        local kind = type(v)
        if kind == 'number' and math.type then kind = math.type(v) end
        out[2 * i] = kind
        out[2 * i + 1] = v
    end
    return (table.unpack or unpack)(out, 1, 2 * n + 1)
end"""


def _describe(lua):
    return lua.eval(DESCRIBE)


def _number_kind(lua, x):
    """What Lua's math.type says of int x once passed (Lua 5.1 and 5.2 have
    no integers: 'number')."""
    if lua.lua_version < (5, 3):
        return "number"
    return "integer"


def test_every_common_type_in_one_call(lua):
    describe = _describe(lua)
    args = (0, -1, 2**31, 1.5, -0.0, "", "héllo", b"\x00b", None, True, False)
    got = describe(*args)
    assert got[0] == len(args)
    kinds, values = got[1::2], got[2::2]
    n = _number_kind(lua, 0)
    float_kind = "float" if lua.lua_version >= (5, 3) else "number"
    assert kinds == (n, n, n, float_kind, float_kind) + ("string",) * 3 + (
        "nil",
        "boolean",
        "boolean",
    )
    assert values[:6] == (0, -1, 2**31, 1.5, -0.0, "")
    if lua.lua_version >= (5, 3):  # (before, a whole number is an int, as from any path)
        assert math.copysign(1, values[4]) == -1.0
    assert values[6] == "héllo" and values[7] == "\x00b"
    assert values[8:] == (None, True, False)
    # invalid UTF-8 comes back undecodable, as from any other path
    with pytest.raises(UnicodeDecodeError):
        describe(1, b"\xff")
    raw = lua.eval("function(a, b) return #a, a:byte(1), a:byte(2), b end")
    assert raw(b"\x00\xff", 2) == (2, 0, 255, 2)


def test_strings_several_and_empty_and_with_nul(lua):
    concat = lua.eval("function(...) return table.concat({...}, '|') end")
    assert concat("a\0b", "", "c", b"d\0", "é") == "a\0b||c|d\0|é"
    lengths = lua.eval("function(a, b, c) return #a, #b, #c end")
    big = "x" * (1 << 20) + "\0" + "y" * 10
    assert lengths(big, "", big) == (len(big), 0, len(big))
    assert lengths(b"", b"\0", "é") == (0, 1, 2)


@pytest.mark.parametrize(
    "x",
    [0, 1, -1, 2**31, 2**53 - 1, -(2**53 - 1), 2**53, 2**53 + 1, 2**62, 2**63 - 1, -(2**63)],
)
def test_ints_at_the_edges(lua, x):
    f = lua.eval("function(a, b, c) return a, b, c end")
    identity = lua.eval("function(a) return a end")
    exact = 2**63 - 1 if lua.lua_version >= (5, 3) else 2**53 - 1
    if abs(x) <= exact or (x == -(2**63) and lua.lua_version >= (5, 3)):
        assert f(x, 1.5, x) == (x, 1.5, x)
        assert all(type(v) is int for v in f(x, x, x))
    else:  # Lua 5.1, LuaJIT: not exact, so the general way decides (as for f(x))
        try:
            expected = identity(x)
        except OverflowError:
            with pytest.raises(OverflowError):
                f(x, 1.5, "s")
        else:
            assert f(x, 1.5, "s") == (expected, 1.5, "s")


def test_ints_beyond_64_bits_ask_the_overflow_handler(lupa):
    lua = lupa.LuaRuntime()
    f = lua.eval("function(a, b) return a, b end")
    with pytest.raises(OverflowError):
        f(2**64, "s")
    with pytest.raises(OverflowError):
        f("s", -(2**63) - 1)
    handled = lupa.LuaRuntime(overflow_handler=float)
    g = handled.eval("function(a, b, c) return a, b, c end")
    assert g(2**64, "s", True) == (float(2**64), "s", True)


def test_nan_and_infinities(lua):
    f = lua.eval("function(a, b, c, d) return a, b, c, d ~= d end")
    a, b, c, nan_is_nan = f(math.nan, math.inf, -math.inf, math.nan)
    assert math.isnan(a) and b == math.inf and c == -math.inf and nan_is_nan is True


def test_bool_stays_boolean_and_subclasses_convert(lua):
    describe = _describe(lua)

    class Colour(enum.IntEnum):
        RED = 3

    class Text(str):
        pass

    got = describe(True, 1, Colour.RED, Text("t"), 2.0)
    assert got[1:3] == ("boolean", True)
    assert got[4] == 1 and got[6] == 3 and type(got[6]) is int
    assert got[7:9] == ("string", "t")
    assert got[9] in ("float", "number") and got[10] == 2.0


def test_python_objects_among_them_keep_their_identity(lua):
    f = lua.eval("function(a, b, c, d) return d, c, b, a end")
    obj = object()
    table = lua.table(1, 2)
    assert f(1, obj, "s", table) == (table, "s", obj, 1)
    assert f(1, obj, "s", table)[2] is obj


def test_str_is_a_python_object_without_an_encoding(lupa):
    lua = lupa.LuaRuntime(encoding=None)
    f = lua.eval("function(a, b, c) return type(a), type(b), c end")
    assert f("text", b"bytes", 1) == (b"userdata", b"string", 1)


@pytest.mark.parametrize("n", [2, 15, 16, 17, 300])
def test_many_arguments(lua, n):
    count = lua.eval("function(...) return select('#', ...), select(-1, ...) end")
    args = tuple(range(n - 1)) + ("last",)
    assert count(*args) == (n, "last")
    args = ("first",) + (None,) * (n - 1)
    assert count(*args) == (n, None)


def test_errors_in_the_middle(lupa):
    lua = lupa.LuaRuntime()
    f = lua.eval("function(a, b, c) if c then error('failed: ' .. a .. b) end return a end")
    with pytest.raises(lupa.LuaError, match="failed: x1.5"):
        f("x", 1.5, True)
    assert f("x", 1.5, False) == "x"
    with pytest.raises(lupa.LuaError):
        lua.eval("function(a, b) return a + b end")("x", None)


def test_at_a_full_memory_limit(lupa):
    lua = lupa.LuaRuntime(max_memory=400000)
    lua.execute("store = {}")
    keep = lua.eval("function(a, b) store[#store + 1] = a .. b return #store end")
    clear = lua.eval("function() store = nil collectgarbage() end")
    concat = lua.eval("function(a, b) return a .. b end")
    with pytest.raises(lupa.LuaMemoryError):
        for i in range(10**6):
            keep("x" * 1000, i)
    clear()
    assert concat("a", 2) == "a2"


def test_coroutine_sends_and_chunks_with_several_arguments(lua):
    co = lua.eval(
        "function() local a, b, c = coroutine.yield() while true do "
        "a, b, c = coroutine.yield(c, b, a) end end"
    ).coroutine()
    co.send(None)
    assert co.send((1, "two", 3.5)) == (3.5, "two", 1)
    assert co.send((None, b"\0", True)) == (True, "\0", None)
    with pytest.raises(OverflowError):
        co.send((2**70, 1))
    assert co.send((False, 2, "x")) == ("x", 2, False)
    assert lua.execute("return select('#', ...), ...", 1, 2.5, "s", None) == (4, 1, 2.5, "s", None)
    assert lua.eval("...", "a", True) == ("a", True)


def test_many_type_signatures_are_not_all_remembered(lua):
    f = lua.eval("function(...) return select('#', ...) end")
    kinds = [1, 1.5, "s", b"b", None, True]
    for a in kinds:
        for b in kinds:
            for c in kinds:
                for d in kinds:
                    assert f(a, b, c, d) == 4
    assert len(lua._plans) <= 256


def test_from_several_threads(lua):
    f = lua.eval("function(a, b, c, d) return d, c, b, a end")

    def work(k):
        for i in range(500):
            s = "t%d-%d" % (k, i)
            assert f(i, k + 0.5, s, i % 2 == 0) == (i % 2 == 0, s, k + 0.5, i)

    run_threads([(work, (k,)) for k in range(4)])


def test_the_entry_refuses_what_it_cannot_read(lua):
    """The C entry itself: an unknown letter, or more arguments than it
    has room for, send Python the general way (LC_ERR_RANGE)."""
    lib, ffi = lua._lib, lua._ffi
    f = lua.eval("function(...) return select('#', ...) end")
    ref = f._ref
    rng = (_constants.ERR_RANGE << 3) | _constants.P_ERR
    assert lib.lc_call_p(lua._ptr, ref, 1, b"x", b"\0" * 8, b"") == rng
    assert lib.lc_call_p(lua._ptr, ref, 17, b"n" * 17, b"\0" * 17, b"") == rng
    assert lib.lc_call_p(lua._ptr, ref, -1, b"", b"", b"") == rng
    assert lib.lc_call_p(lua._ptr, ref, 2, b"nb", b"\0\1", ffi.NULL) == 2 << 3
    assert f(None, True) == 2
