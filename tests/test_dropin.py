"""lupa 2.8 behaviours a drop-in must share (issue 16), each checked
black-box against lupa 2.8 on every backend."""

import gc
import sys
import threading

import pytest


class Obj(object):
    abc = 5


def _getter(obj, name):
    return "got:%s" % (name,)


def _setter(obj, name, value):
    obj.set_calls = (name, value)


# ---- 1. attribute_handlers ---------------------------------------------------
@pytest.mark.parametrize(
    "handlers", [None, (), [], (None, None)], ids=["None", "empty-tuple", "empty-list", "None-None"]
)
def test_attribute_handlers_default(lupa, handlers):
    lua = lupa.LuaRuntime(attribute_handlers=handlers)
    assert lua.eval("function(o) return o.abc end")(Obj()) == 5


@pytest.mark.parametrize(
    "make",
    [
        lambda: iter([_getter, _setter]),
        lambda: (f for f in (_getter, _setter)),
        lambda: [_getter, _setter],
        lambda: (_getter, None),
    ],
    ids=["iterator", "generator", "list", "getter-only"],
)
def test_attribute_handlers_any_iterable(lupa, make):
    lua = lupa.LuaRuntime(attribute_handlers=make())
    assert lua.eval("function(o) return o.abc end")(Obj()) == "got:abc"


def test_attribute_handlers_iterator_setter(lupa):
    lua = lupa.LuaRuntime(attribute_handlers=iter([None, _setter]))
    obj = Obj()
    assert lua.eval("function(o) o.x = 7; return o.abc end")(obj) == 5
    assert obj.set_calls == ("x", 7)


@pytest.mark.parametrize(
    "handlers", [(_getter,), (None,), (1, 2), "ab", _getter, (None, None, None), 5]
)
def test_attribute_handlers_bad(lupa, handlers):
    with pytest.raises(ValueError, match="attribute_handlers must be a sequence of two callables"):
        lupa.LuaRuntime(attribute_handlers=handlers)


def test_attribute_handlers_empty_with_filter(lupa):
    # no handlers at all: not in conflict with a filter (as lupa)
    seen = []

    def attribute_filter(obj, name, is_setting):
        seen.append(name)
        return name

    for handlers in ((), (None, None)):
        lua = lupa.LuaRuntime(attribute_filter=attribute_filter, attribute_handlers=handlers)
        assert lua.eval("function(o) return o.abc end")(Obj()) == 5
    assert seen == ["abc", "abc"]
    with pytest.raises(ValueError, match="mutually exclusive"):
        lupa.LuaRuntime(attribute_filter=attribute_filter, attribute_handlers=(_getter, None))


# ---- 11. lupacffi.version ----------------------------------------------------------
def test_version_module():
    import lupacffi
    import lupacffi.version

    assert lupacffi.version is lupacffi.version
    assert isinstance(lupacffi.version.__version__, str) and lupacffi.version.__version__
    assert lupacffi.version.__version__ == lupacffi.__version__
    assert "version" in dir(lupacffi)


# ---- 12. set_max_memory() on a runtime made without max_memory ------------------------
def test_set_max_memory_without_max_memory(lupa):
    # lupa raises RuntimeError; lupacffi sets the limit (README: Differences from lupa)
    lua = lupa.LuaRuntime()
    assert lua.get_max_memory() is None and lua.get_max_memory(total=True) is None
    assert isinstance(lua.get_memory_used(), int)
    lua.set_max_memory(10**6)
    assert lua.get_max_memory() == 10**6
    assert 10**6 < lua.get_max_memory(total=True) < 10**6 + 200000  # + the base use
    with pytest.raises(lupa.LuaMemoryError):
        lua.execute("return #string.rep('x', 2000000)")
    lua.set_max_memory(0)
    assert lua.get_max_memory() is None and lua.get_max_memory(total=True) is None
    assert lua.execute("return #string.rep('x', 2000000)") == 2000000


# ---- 5. a userdata resurrected by a __gc metamethod after Python dropped it -------------
class Resurrected(object):
    x = 1

    def __call__(self):
        return 5

    def __iter__(self):
        return iter([1, 2])

    def __getitem__(self, key):
        return key

    def __str__(self):
        return "alive"


_DEAD_USES = {
    "tostring": "return tostring(o)",
    "index": "return o.x",
    "index item": "return o[1]",
    "assign": "o.y = 2",
    "call": "return o()",
    "as_attrgetter": "return python.as_attrgetter(o)",
    "as_itemgetter": "return python.as_itemgetter(o)",
    "as_attrgetter index": "return python.as_attrgetter(o).x",
    "as_itemgetter index": "return python.as_itemgetter(o)[1]",
    "as_function": "return python.as_function(o)",
    "iter": "for x in python.iter(o) do end",
    "iterex": "for x in python.iterex(o) do end",
    "enumerate": "for i, x in python.enumerate(o) do end",
    "print": "python.builtins.print(o)",
    "passed to Python": "return python.builtins.id(o)",
    "len": "return #o",
    "concat": "return o .. 'x'",
    "arithmetic": "return o + 1",
}


def test_resurrected_userdata_is_a_lua_error(lupa, lua, capsys):
    # The holder's finalizer is set before the userdata exists, so it runs
    # after the userdata's own (which releases the Python object) and sees
    # the userdata again (Lua 5.1 and LuaJIT: a newproxy, tables have no __gc).
    lua.execute("""
        function make(get, code)
          local box = {}
          local function fin()
            local env = setmetatable({o = box.o}, {__index = _G})
            local f
            if setfenv then f = loadstring(code, 'op'); setfenv(f, env)
            else f = load(code, 'op', 't', env) end
            result = {pcall(f)}
            kept = box.o
          end
          if newproxy then
            local p = newproxy(true); getmetatable(p).__gc = fin
          else
            setmetatable({}, {__gc = fin})
          end
          box.o = get()
        end""")
    failures = []
    for name, code in _DEAD_USES.items():
        lua.execute("result = nil")
        lua.globals().make(Resurrected, code)
        lua.execute("collectgarbage(); collectgarbage()")
        result = lua.eval("result")
        assert result is not None, "the finalizer did not run"
        ok, message = result[1], str(result[2])
        if ok is not False or "deleted python object" not in message:
            failures.append((name, ok, message))
    assert failures == []
    assert "alive" not in capsys.readouterr().out
    # the same from Python: a LuaError, and the runtime goes on
    with pytest.raises(lupa.LuaError, match="deleted python object"):
        lua.eval("tostring(kept)")
    with pytest.raises(lupa.LuaError, match="deleted python object"):
        lua.eval("kept.x")
    assert lua.eval("type(kept)") == "userdata"
    assert lua.eval("function(o) return o[2] end")(Resurrected()) == 2


# ---- 6. str() of a table whose __tostring returns a non-string ---------------------------
@pytest.mark.parametrize(
    "value",
    [
        "true",
        "nil",
        "{}",
        "function() end",
        "python.eval('[1]')",
        "coroutine.create(function() end)",
    ],
)
def test_tostring_returning_non_string(lua, value):
    t = lua.eval("setmetatable({}, {__tostring = function() return %s end})" % value)
    with pytest.raises(TypeError, match="^__tostring returned non-string object$"):
        str(t)
    assert lua.eval("1 + 1") == 2


def test_tostring_returning_number_or_string(lua):
    make = lua.eval(
        "function(v) return setmetatable({}, {__tostring = function() return v end}) end"
    )
    assert str(make(42)) == "42"
    assert str(make(4.5)) == "4.5"
    assert str(make("text")) == "text"
    with pytest.raises(lupa_error(lua), match="bad"):
        str(lua.eval("setmetatable({}, {__tostring = function() error('bad') end})"))


def lupa_error(lua):
    return sys.modules[type(lua).__module__].LuaError


# ---- 7. the globals and del under a lowered memory limit ----------------------------------
def test_del_global_under_lowered_memory_limit(lupa):
    lua = lupa.LuaRuntime(max_memory=10**7)
    lua.execute("a = {} for i = 1, 10000 do a[i] = {} end")
    lua.set_max_memory(lua.get_memory_used() // 2)
    with pytest.raises(lupa.LuaMemoryError):
        lua.eval("{}")
    repr(lua.globals())  # a reference made and dropped: reused by the next
    for _ in range(3):
        assert lua.globals() is not None
    del lua.globals()["a"]
    assert lua.globals()["a"] is None
    lua.gccollect()
    if lupa.LUA_VERSION >= (5, 2):
        assert lua.eval("{}") is not None
        assert lua.execute("b = {} for i = 1, 100 do b[i] = {} end return #b") == 100


# ---- 8. no "stack traceback:" without Lua's debug.traceback ---------------------------------
@pytest.mark.parametrize(
    "removal", ["debug = nil", "debug.traceback = nil", "debug = {traceback = 5}"]
)
def test_no_traceback_text_without_debug_traceback(lupa, removal):
    lua = lupa.LuaRuntime()
    with pytest.raises(lupa.LuaError) as info:
        lua.execute("error('before')")
    assert "stack traceback:" in str(info.value)
    lua.execute(removal)
    for code in ["error('x')", "local t = nil; return t.x"]:
        with pytest.raises(lupa.LuaError) as info:
            lua.execute(code)
        assert "stack traceback" not in str(info.value)
        assert str(info.value).startswith('[string "<python>"]:1: ')
    with pytest.raises(lupa.LuaError) as info:
        lua.eval("function() error('y') end")()
    assert str(info.value) == '[string "<python>"]:1: y'
    with pytest.raises(lupa.LuaError) as info:
        list(lua.eval("function() error('z') end").coroutine())
    assert str(info.value) == '[string "<python>"]:1: z'
    # the Lua frames are still in the Python traceback
    import traceback

    text = "".join(traceback.format_exception(info.type, info.value, info.tb))
    assert '[string "<python>"]' in text


# ---- 2. python.enumerate with a start that is not an integer ------------------------------
_ENUMERATE = """
local out = {}
for i, v in python.enumerate(python.eval('[10, 20]'), %s) do out[#out + 1] = i .. '=' .. v end
return table.concat(out, ',')"""


@pytest.mark.parametrize(
    "start",
    [
        "'x'",
        "{}",
        "function() end",
        "true",
        "1.5",
        "'1.5'",
        "python.eval('[1]')",
        "coroutine.create(print)",
    ],
)
def test_enumerate_bad_start_is_lua_error(lupa, lua, start):
    if start == "coroutine.create(print)" and lupa.LUA_VERSION < (5, 2):
        start = "coroutine.create(function() end)"
    with pytest.raises(lupa.LuaError, match=r"bad argument #2 to 'enumerate'"):
        lua.execute(_ENUMERATE % start)
    ok, message = lua.execute("return pcall(python.enumerate, python.eval('[1]'), %s)" % start)
    assert ok is False and "bad argument #2 to 'enumerate'" in message


@pytest.mark.parametrize(
    "start, expected",
    [
        ("nil", "0=10,1=20"),
        ("3", "3=10,4=20"),
        ("2.0", "2=10,3=20"),
        ("'3'", "3=10,4=20"),
        ("-1", "-1=10,0=20"),
        ("python.none", "0=10,1=20"),
    ],
)
def test_enumerate_start(lua, start, expected):
    assert lua.execute(_ENUMERATE % start) == expected


# ---- 3. encoding=None: attributes by str name ------------------------------------------------
def test_attribute_names_without_encoding(lupa):
    lua = lupa.LuaRuntime(encoding=None)
    assert lua.eval("string").lower(b"ABC") == b"abc"
    assert lua.globals().string == lua.globals()[b"string"]
    assert lua.globals()["string"] is None  # an item key: a str is a Python object
    t = lua.table()
    t.x = 1
    assert list(t.keys()) == [b"x"] and t.x == 1 and t[b"x"] == 1
    del t.x
    assert list(t.keys()) == []
    setattr(t, "é", 2)
    assert list(t.keys()) == ["é".encode("utf-8")]
    assert lua.eval("io.stdout").write is not None  # userdata: through __index
    latin = lupa.LuaRuntime(encoding=None, source_encoding="latin-1")
    t = latin.table()
    setattr(t, "é", 3)
    assert list(t.keys()) == [b"\xe9"] and getattr(t, "é") == 3


# ---- 4. the overflow handler set from Lua ------------------------------------------------------
def test_overflow_handler_from_lua(lupa, lua):
    ty = lua.eval("function(x) return type(x), x end")
    with pytest.raises(OverflowError):
        ty(2**64)
    lua.execute("python.set_overflow_handler(function(o) return o end)")
    assert ty(2**64) == ("userdata", 2**64)
    assert lua.eval("function(x) return x end")(-(2**70)) == -(2**70)
    lua.execute("python.set_overflow_handler(function(o) return python.builtins.float(o) end)")
    assert ty(2**64) == ("number", float(2**64))
    assert lua.eval("python.eval('2**64')") == float(2**64)  # a callback's result
    assert lua.table_from([2**64])[1] == float(2**64)
    assert ty(1, 2**64, "s") == ("number", 1)  # other arguments survive the nested call
    lua.execute("python.set_overflow_handler(function(o) return {tostring(o)}, 2 end)")
    t = ty(2**64)
    assert t[0] == "table" and t[1][1] == str(2**64)
    lua.set_overflow_handler(str)  # Python's replaces Lua's ...
    assert ty(2**64) == ("string", str(2**64))
    lua.execute("python.set_overflow_handler(function(o) return 7 end)")  # ... and back
    assert ty(2**64) == ("number", 7)
    lua.execute("python.set_overflow_handler(nil)")
    with pytest.raises(OverflowError):
        ty(2**64)


@pytest.mark.parametrize(
    "value",
    ["1", "{}", "true", "'s'", "coroutine.create(function() end)", "python.eval('object()')"],
)
def test_overflow_handler_from_lua_bad(lupa, lua, value):
    lua.set_overflow_handler(float)
    ok, message = lua.execute("return pcall(python.set_overflow_handler, %s)" % value)
    assert ok is False and "bad argument #1 to 'set_overflow_handler'" in message
    with pytest.raises(lupa.LuaError, match="set_overflow_handler"):
        lua.execute("python.set_overflow_handler(%s)" % value)
    assert lua.eval("function(x) return x end")(2**64) == float(2**64)  # unchanged


# ---- 9. one table iterator shared by threads ----------------------------------------------------
@pytest.mark.parametrize("size", [99, 3000])  # one batch; several (the big-table buffer)
def test_iterator_shared_by_threads(lua, size):
    from test_threads import run_threads

    table = lua.eval("function(n) local t = {} for i = 1, n do t['k' .. i] = i end return t end")(
        size
    )
    for rounds in range(3):
        it = iter(table.items()) if rounds else iter(table)
        start = threading.Barrier(6)

        def drain():
            start.wait()
            got = []
            for item in it:
                got.append(item)
            return got

        results = run_threads([(drain, ())] * 6)
        everything = [x for r in results for x in r]
        expected = ["k%d" % i for i in range(1, size + 1)]
        if rounds:
            assert sorted(everything) == sorted(zip(expected, range(1, size + 1)))
        else:
            assert sorted(everything) == sorted(expected)


# ---- 10. runtimes leave nothing behind -------------------------------------------------------------
_PYPY = sys.implementation.name == "pypy"


def _runtime_with_function(lupa):
    lua = lupa.LuaRuntime()
    lua.globals().f = lambda: lua.eval("1 + 1")
    assert lua.eval("f()") == 2
    return lua


def _runtime_with_handlers(lupa):
    lua = None

    def getter(obj, name):
        return lua.eval("'got'")

    lua = lupa.LuaRuntime(attribute_handlers=(getter, None))
    assert lua.eval("function(o) return o.x end")(object()) == "got"
    return lua


def _runtime_dropped_with_table(lupa):
    lua = lupa.LuaRuntime()
    t = lua.eval("{1, 2, 3, x = {}}")
    rt = weakref_of(lua)
    del lua
    assert list(t.keys()) == [1, 2, 3, "x"] or sorted(t.keys(), key=str) == [1, 2, 3, "x"]
    t[4] = t.x
    assert len(t) == 4
    return rt


def weakref_of(obj):
    import weakref

    return weakref.ref(obj)


@pytest.mark.parametrize(
    "scenario",
    [_runtime_with_function, _runtime_with_handlers, _runtime_dropped_with_table],
    ids=["globals-hold-function", "attribute-handlers", "table-outlives"],
)
def test_runtimes_leave_nothing_behind(lupa, scenario):
    import weakref

    def one_round():
        made = scenario(lupa)
        return made if isinstance(made, weakref.ref) else weakref.ref(made)

    one_round()  # the first use of each C function and such
    gc.collect()
    before = len(gc.get_objects())
    refs = [one_round() for _ in range(100)]
    for _ in range(3 if _PYPY else 1):  # PyPy: finalizers first, then freeing
        gc.collect()
    assert [r for r in refs if r() is not None] == []
    del refs
    if not _PYPY:  # (PyPy's gc.get_objects() lists other things)
        assert len(gc.get_objects()) <= before


def test_runtime_freed_without_collection(lupa):
    """No cycle of the runtime with itself: freed as soon as it is dropped
    (CPython's reference counting), also with a handler set from Lua and
    after Lua errors made by the python table's functions."""
    import weakref

    enabled = gc.isenabled()
    gc.disable()
    try:
        lua = lupa.LuaRuntime()
        lua.execute("python.set_overflow_handler(function(o) return o end)")
        assert lua.eval("function(x) return x end")(2**65) == 2**65
        for _ in range(10):
            lua.execute("pcall(python.args, 1)")
        objects = len(lua._objects)
        lua.gccollect()
        for _ in range(10):
            lua.execute("pcall(python.args, 1)")
        lua.gccollect()
        assert len(lua._objects) <= objects  # the messages' exceptions are not kept
        ref = weakref.ref(lua)
        del lua
        if _PYPY:  # (PyPy frees objects only in a collection)
            for _ in range(3):
                gc.collect()
        assert ref() is None
    finally:
        if enabled:
            gc.enable()


# ---- 13. help(LuaRuntime) explains every option -----------------------------------------------------
_OPTIONS = [
    "encoding",
    "source_encoding",
    "attribute_filter",
    "attribute_handlers",
    "register_eval",
    "register_builtins",
    "unpack_returned_tuples",
    "overflow_handler",
    "max_memory",
    "string_hash_seed",
    "max_instructions",
    "max_time",
    "libraries",
    "sandbox",
]


def test_help_lists_every_option(lupa):
    import inspect
    import pydoc

    text = pydoc.render_doc(lupa.LuaRuntime, renderer=pydoc.plaintext)
    doc = lupa.LuaRuntime.__doc__
    parameters = inspect.signature(lupa.LuaRuntime).parameters
    assert sorted(parameters) == sorted(_OPTIONS)  # (a new option needs its entry)
    for name in _OPTIONS:
        # each explained on a line of its own that starts with its name
        assert any(line.strip().startswith(name) for line in doc.splitlines()), name
        assert name in text


# ---- 14. LuaError.value ------------------------------------------------------------------------------
def test_lua_error_value(lupa, lua):
    with pytest.raises(lupa.LuaError) as info:
        lua.execute("error({code = 42})")
    assert str(info.value) == "" and info.value.value.code == 42
    with pytest.raises(lupa.LuaError) as info:
        lua.execute("error('boom')")
    assert info.value.value == b'[string "<python>"]:1: boom'
    with pytest.raises(lupa.LuaError) as info:
        lua.execute("error(7, 0)")  # (level 1 makes it a string on Lua 5.1)
    assert info.value.value == 7
    with pytest.raises(lupa.LuaSyntaxError) as info:
        lua.execute("x = = 1")
    assert isinstance(info.value.value, bytes) and b"error loading code" not in info.value.value
    doc = lupa.LuaError.__doc__
    assert "value" in doc and "bytes" in doc and "code == 42" in doc


# ---- 16. what trips up new users (documented in the README) ------------------------------------------
def test_pairs_on_python_containers_and_the_python_loops(lupa, lua):
    for container in ([1, 2], {"a": 1}):
        with pytest.raises(lupa.LuaError, match="table expected"):
            lua.execute("for k, v in pairs(...) do end", container)
    assert (
        lua.execute(
            """
        local out = {}
        for k, v in python.iterex(python.as_attrgetter(...).items()) do out[#out + 1] = k .. v end
        return table.concat(out, ' ')""",
            {"a": 1, "b": 2},
        )
        == "a1 b2"
    )
    assert (
        lua.execute("local n = 0 for x in python.iter(...) do n = n + x end return n", [1, 2, 3])
        == 6
    )


def test_table_from_is_shallow_unless_recursive(lupa, lua):
    inner = [1, 2]
    assert lua.table_from({"p": inner}).p is inner
    assert lupa.lua_type(lua.table_from({"p": inner}, recursive=True).p) == "table"


def test_lua_print_writes_to_the_process_stdout(lua, capfd):
    import contextlib
    import io

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        lua.execute("print('from lua') io.stdout:flush()")
    assert captured.getvalue() == ""
    assert "from lua" in capfd.readouterr().out
    lua.globals().print = print  # through Python instead (README)
    with contextlib.redirect_stdout(captured):
        lua.execute("print('through python')")
    assert captured.getvalue() == "through python\n"
