"""eval() and execute() keep recently compiled chunks and run a new closure
of one each time (lc_call_chunk): that must behave exactly as compiling the
code again.  The reference here is compile(), which always compiles."""

import threading

import pytest

from conftest import needs_lua_internals
from lupacffi.errors import LuaError, LuaSyntaxError


def is_51(lupa):
    return lupa.LUA_VERSION == (5, 1)  # Lua 5.1 and LuaJIT: environments, no _ENV


def test_repeated_eval_and_execute_give_the_same_results(lua):
    for _ in range(3):
        assert lua.eval("1 + 2") == 3
        assert lua.eval(b"'a' .. 'b'") == "ab"
        assert lua.execute("return 1, 2") == (1, 2)
        assert lua.execute("x = 7") is None
    assert lua.eval("x") == 7


def test_each_run_makes_new_closures(lua):
    code = "local n = 0 return function() n = n + 1 return n end"
    f, g = lua.execute(code), lua.execute(code)
    assert (f(), f(), g(), f()) == (1, 2, 1, 3)
    assert f != g


def test_each_run_is_a_new_main_function(lua):
    code = (
        "local me = debug.getinfo(1, 'f').func; seen = seen or {}; "
        "local before = seen[me]; seen[me] = true; return before"
    )
    for _ in range(3):
        assert lua.execute(code) is None  # never the same function twice
    assert lua.eval("debug.getinfo(1, 'f').func") != lua.eval("debug.getinfo(1, 'f').func")


def test_upvalues_of_the_chunk_are_fresh(lua, lupa):
    # changing the environment of one run must not leak into the next run
    if is_51(lupa):
        code = "local old = y; setfenv(1, {y = 'private'}); return old"
    else:
        code = (
            "local old = y; "
            "debug.setupvalue(debug.getinfo(1, 'f').func, 1, {y = 'private'}); return old"
        )
    lua.execute("y = 'global'")
    assert lua.execute(code) == "global"
    assert lua.execute(code) == "global"
    assert lua.eval("y") == "global"


def test_new_thread_environment_is_seen_as_by_load(lua, lupa):
    if not is_51(lupa):
        pytest.skip("setfenv(0, ...) exists in Lua 5.1 and LuaJIT only")
    assert lua.eval("marker") is None
    lua.execute("setfenv(0, setmetatable({marker = 1}, {__index = _G}))")
    assert lua.compile("return marker")() == 1  # what a fresh load sees
    assert lua.eval("marker") == 1


def test_varargs_are_those_of_each_call(lua):
    code = "return select('#', ...), ..."
    assert lua.execute(code, 1, "a", None) == (3, 1, "a", None)
    assert lua.execute(code) == 0
    assert lua.execute(code, 2.5) == (1, 2.5)
    assert lua.eval("...", "x") == "x"
    assert lua.eval("...") is None


def test_name_is_part_of_the_key(lua):
    code = "return debug.getinfo(1, 'S').source"
    assert lua.execute(code, name="first") == "first"
    assert lua.execute(code, name="second") == "second"
    assert lua.execute(code, name=b"first") == "first"
    assert lua.execute(code) == lua.compile(code)()
    with pytest.raises(LuaError, match="chunk_a"):
        lua.execute("error('boom')", name="=chunk_a")
    with pytest.raises(LuaError, match="chunk_b"):
        lua.execute("error('boom')", name="=chunk_b")


def test_mode_is_part_of_the_key(lua):
    assert lua.execute("return 5", mode="t") == 5
    with pytest.raises(LuaSyntaxError):
        lua.execute("return 5", mode="b")
    assert lua.execute("return 5", mode="bt") == 5


def test_binary_chunks(lupa):
    lua = lupa.LuaRuntime(encoding=None)
    dumped = lua.eval(b"string.dump(function(...) return select('#', ...) end)")
    for _ in range(2):
        assert lua.execute(dumped, 1, 2) == 2
        with pytest.raises(LuaSyntaxError):
            lua.execute(dumped, mode="t")


def test_str_and_bytes_code(lua):
    assert lua.eval("'\u00e9'") == lua.eval("'\u00e9'".encode("utf-8")) == "\u00e9"
    assert lua.eval(bytearray(b"40 + 2")) == 42
    assert lua.eval(bytearray(b"40 + 2")) == 42


def test_source_encoding(lupa):
    lua = lupa.LuaRuntime(source_encoding="latin-1", encoding="latin-1")
    for _ in range(2):
        assert lua.eval("'\u00e9'") == "\u00e9"
        assert lua.eval("#'\u00e9'") == 1


def test_syntax_errors_every_time(lua):
    for _ in range(3):
        with pytest.raises(LuaSyntaxError, match="error loading code"):
            lua.execute("return +")
        with pytest.raises(LuaSyntaxError):
            lua.eval("1 +")


def test_runtime_errors_every_time_with_their_line(lua):
    code = "local a = 1\nlocal b = nil\nreturn b.field"
    messages = []
    for _ in range(3):
        with pytest.raises(LuaError) as info:
            lua.execute(code)
        messages.append(str(info.value).split("\n")[0])
    assert messages[0] == messages[1] == messages[2]
    assert ":3:" in messages[0]


def test_bad_arguments(lua):
    with pytest.raises(TypeError):
        lua.eval(123)
    with pytest.raises(TypeError):
        lua.execute(None)
    with pytest.raises(TypeError):
        lua.execute("return 1", name=5)
    with pytest.raises(ValueError):
        lua.execute("return 1", mode=5)
    assert lua.execute("return 1") == 1


def test_many_different_chunks(lua, lupa):
    needs_lua_internals(lupa)
    for i in range(300):
        assert lua.eval("%d * 2" % i) == 2 * i
    for i in range(300):
        assert lua.eval("%d * 2" % i) == 2 * i
    assert len(lua._chunks[0]) + len(lua._chunks[1]) <= 128


def test_long_code_is_correct(lua):
    code = "local t = {}\n" + "t[#t + 1] = 1\n" * 1000 + "return #t"
    assert lua.execute(code) == 1000
    assert lua.execute(code) == 1000


def test_nested_functions_are_new_per_run(lua):
    code = "local t = {} function t.inc() t.n = (t.n or 0) + 1 return t.n end return t"
    a, b = lua.execute(code), lua.execute(code)
    assert (a.inc(), a.inc(), b.inc()) == (1, 2, 1)


def test_memory_limited_runtime_keeps_no_chunks(lupa):
    needs_lua_internals(lupa)
    lua = lupa.LuaRuntime(max_memory=10 * 2**20)
    for _ in range(2):
        assert lua.eval("1 + 1") == 2
    assert lua._chunks is None
    plain = lupa.LuaRuntime()
    plain.eval("1")
    assert len(plain._chunks[1]) == 1
    plain.set_max_memory(10 * 2**20)
    assert plain._chunks is None
    assert plain.eval("2") == 2
    plain.set_max_memory(0)
    assert plain.eval("3") == 3
    assert len(plain._chunks[1]) == 1


def test_sandboxed_runtime(lupa):
    # the sandbox gives every chunk an environment of its own, every time
    lua = lupa.LuaRuntime(sandbox=True)
    for _ in range(3):
        assert lua.eval("1 + 2") == 3
        assert lua.execute("x = (x or 0) + 1 return x") == 1
        assert lua.eval("python.set_overflow_handler") is None
        assert lua.eval("x") is None


def test_limits_apply_to_cached_chunks(lua):
    from lupacffi.errors import LuaLimitError

    code = "local n = 0 while true do n = n + 1 end"
    for _ in range(2):
        with lua.limits(max_instructions=100000):
            with pytest.raises(LuaLimitError):
                lua.execute(code)
    assert lua.eval("1") == 1


def test_threads(lua):
    errors = []

    def work(k):
        try:
            for i in range(300):
                assert lua.eval("... + %d" % (i % 70), k) == k + i % 70
                assert lua.execute("return ...", k) == k
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_closed_runtime(lupa):
    lua = lupa.LuaRuntime()
    assert lua.eval("1") == 1
    lua._lib.lc_close(lua._ptr)
    with pytest.raises(LuaError):
        lua.eval("1")


def test_cache_makes_no_reference_cycle(lupa):
    """A runtime with cached chunks is freed as soon as it is dropped (on
    CPython by reference counting alone, elsewhere in a collection)."""
    import gc
    import platform
    import weakref

    lua = lupa.LuaRuntime()
    assert lua.eval("1 + 1") == 2
    assert lua.execute("return 3") == 3
    dropped = weakref.ref(lua)
    gc.disable()
    try:
        del lua
        if platform.python_implementation() != "CPython":
            for _ in range(3):  # PyPy: finalizers first, then the objects
                gc.collect()
        assert dropped() is None
    finally:
        gc.enable()


def test_evicted_chunks_release_their_reference(lua):
    for i in range(500):
        assert lua.eval("%d" % i) == i
    import gc

    for _ in range(3):  # PyPy frees the evicted ones in a collection
        gc.collect()
    lua.gccollect()
    count = lua.execute(
        "local n = 0 for _, v in pairs(debug.getregistry()) do "
        "if type(v) == 'function' then n = n + 1 end end return n"
    )
    assert count < 200  # 500 chunks made, at most 64 kept
