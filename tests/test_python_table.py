"""The ``python`` table in Lua: eval, builtins, iter/iterex/enumerate and the
None/nil rules of iteration, none, args, set_overflow_handler."""

import builtins

import pytest

PYTHON_KEYS = [
    "args",
    "as_attrgetter",
    "as_function",
    "as_itemgetter",
    "builtins",
    "enumerate",
    "eval",
    "iter",
    "iterex",
    "none",
    "set_overflow_handler",
]


def test_python_table_contents(lua):
    python = lua.eval("python")
    assert sorted(python.keys()) == PYTHON_KEYS
    assert lua.eval("package.loaded.python == python") is True
    assert lua.eval("type(python.eval), type(python.builtins), type(python.none)") == (
        "userdata",
        "userdata",
        "userdata",
    )
    assert lua.eval("type(python.iter), type(python.as_function)") == ("function", "function")
    assert lua.eval("python.builtins") is builtins
    assert lua.eval("python.eval") is builtins.eval
    assert lua.eval("python.none") is None


def test_register_flags(lupa):
    lua = lupa.LuaRuntime(register_eval=False, register_builtins=False)
    assert lua.eval("python.eval") is None
    assert lua.eval("python.builtins") is None
    python = lua.eval("python")
    assert sorted(python.keys()) == [k for k in PYTHON_KEYS if k not in ("eval", "builtins")]
    assert lupa.LuaRuntime(register_eval=0).eval("python.eval") is None
    assert lupa.LuaRuntime(register_builtins=False).eval("python.eval") is builtins.eval


# ---- eval and builtins ---------------------------------------------------------------
GLOBAL_X = 42


def test_eval(lua):
    assert lua.eval('python.eval(" 2 ** 2 ")') == 4
    assert lua.eval("python.eval('None')") is None
    assert lua.eval("type(python.eval('None'))") == "nil"
    assert lua.eval("python.eval('GLOBAL_X')") == 42


def test_eval_sees_the_calling_python_frame(lua):
    local_y = 7
    assert lua.eval("python.eval('local_y + GLOBAL_X')") == 49
    assert lua.eval("python.builtins.globals()")["__name__"] == __name__
    assert lua.eval("python.builtins.locals()")["local_y"] == local_y

    def inner():
        z = 3  # noqa: F841 (python.eval sees the caller's locals)
        return lua.eval("python.eval('z')")

    assert inner() == 3
    f = lua.eval("function() return python.eval('local_y') end")
    assert f() == 7


def test_eval_with_explicit_namespace(lua):
    assert lua.eval("python.eval('x + 1', python.builtins.dict(python.args{x=1}))") == 2
    with pytest.raises(TypeError):
        lua.eval("python.eval('x', {x=1})")
    with pytest.raises(NameError):
        lua.eval("python.eval('GLOBAL_X', python.builtins.dict())")


def test_eval_errors(lua):
    with pytest.raises(SyntaxError):
        lua.eval("python.eval('1+')")
    ok, err = lua.eval("pcall(python.eval, '1/0')")
    assert ok is False and isinstance(err, ZeroDivisionError)


def test_builtins(lua):
    assert lua.eval("python.builtins.len('abc'), python.builtins.str(42)") == (3, "42")
    assert lua.eval("python.builtins.str(4)") == "4"
    assert lua.eval("python.builtins.list") is list


# ---- iteration ------------------------------------------------------------------------
COLLECT = """function(f, ...)
    local out = {}
    for a, b, c in f(...) do
        out[#out+1] = {tostring(a), type(a), a == python.none, tostring(b), type(b),
                       b == python.none, tostring(c), type(c)}
    end
    return out
end"""


def rows(table):
    return [list(row.values()) for row in table.values()]


def v(text, luatype=None, none=False):
    """One value of a row: tostring, type, (== python.none)."""
    if luatype is None:
        luatype = "number" if text.lstrip("-").isdigit() else "userdata"
    return [text, luatype, none]


NIL = ["nil", "nil", False]
NONE = ["None", "userdata", True]

DATA = [[None, 1], [(None, 2), (3, None)], [()], [(None,)], [(1, 2, 3)], [((1, 2), 3)]]

# lupa's results (black-box, lupa 2.8), per iterator and unpack_returned_tuples
EXPECTED = {
    ("iter", False): [
        [NONE + NIL + NIL[:2], v("1") + NIL + NIL[:2]],
        [v("(None, 2)") + NIL + NIL[:2], v("(3, None)") + NIL + NIL[:2]],
        [v("()") + NIL + NIL[:2]],
        [v("(None,)") + NIL + NIL[:2]],
        [v("(1, 2, 3)") + NIL + NIL[:2]],
        [v("((1, 2), 3)") + NIL + NIL[:2]],
    ],
    ("iterex", False): [
        [NONE + NIL + NIL[:2], v("1") + NIL + NIL[:2]],
        [NONE + v("2") + NIL[:2], v("3") + NIL + NIL[:2]],
        [],
        [NONE + NIL + NIL[:2]],
        [v("1") + v("2") + v("3")[:2]],
        [v("(1, 2)") + v("3") + NIL[:2]],
    ],
    ("enumerate", False): [
        [v("0") + NIL + NIL[:2], v("1") + v("1") + NIL[:2]],
        [v("0") + v("(None, 2)") + NIL[:2], v("1") + v("(3, None)") + NIL[:2]],
        [v("0") + v("()") + NIL[:2]],
        [v("0") + v("(None,)") + NIL[:2]],
        [v("0") + v("(1, 2, 3)") + NIL[:2]],
        [v("0") + v("((1, 2), 3)") + NIL[:2]],
    ],
    ("enumerate", True): [
        [v("0") + NIL + NIL[:2], v("1") + v("1") + NIL[:2]],
        [v("0") + NIL + v("2")[:2], v("1") + v("3") + NIL[:2]],
        [v("0") + NIL + NIL[:2]],
        [v("0") + NIL + NIL[:2]],
        [v("0") + v("1") + v("2")[:2]],
        [v("0") + v("(1, 2)") + v("3")[:2]],
    ],
}
# with unpack_returned_tuples, iter explodes tuples like iterex (lupa 1.0 changelog)
EXPECTED[("iter", True)] = EXPECTED[("iterex", False)]
EXPECTED[("iterex", True)] = EXPECTED[("iterex", False)]


@pytest.mark.parametrize("unpack", [False, True])
@pytest.mark.parametrize("function", ["iter", "iterex", "enumerate"])
def test_iteration_none_rules(lupa, function, unpack):
    lua = lupa.LuaRuntime(unpack_returned_tuples=unpack)
    collect = lua.eval(COLLECT)
    f = lua.eval("python." + function)
    for data, expected in zip(DATA, EXPECTED[(function, unpack)]):
        assert rows(collect(f, data)) == expected, data


def test_iter(lua):
    copy = lua.eval("""function(L)
        local t, i = {}, 1
        for item in python.iter(L) do t[i] = item; i = i + 1 end
        return t end""")
    table = copy([1, 2, 3, 4])
    assert len(table) == 4 and table[1] == 1
    assert list(copy({"a": 1}).values()) == ["a"]  # dicts iterate over keys
    assert list(copy(iter([5, 6])).values()) == [5, 6]
    assert list(copy(x * 2 for x in range(3)).values()) == [0, 2, 4]
    assert len(copy([])) == 0


def test_iter_of_views(lua, lupa):
    first = lua.eval("function(x) for v in python.iter(x) do return v end end")
    assert first(lupa.as_attrgetter([7])) == 7
    assert first(lupa.as_itemgetter([8])) == 8


def test_iterex_over_items(lua, lupa):
    copy = lua.eval("""function(d)
        local t = {}
        for key, value in python.iterex(d.items()) do t[key] = value end
        return t end""")
    table = copy(lupa.as_attrgetter({"a": 1, "b": 2}))
    assert table["a"] == 1 and table["b"] == 2
    # only tuples are exploded
    first = lua.eval("function(x) for a, b in python.iterex(x) do return a, b end end")
    assert first(["ab"]) == ("ab", None)
    assert first([[1, 2]]) == ([1, 2], None)


def test_enumerate(lua, lupa):
    f = lua.eval("""function(L, ...)
        local t = {}
        for i, x in python.enumerate(L, ...) do t[#t+1] = i .. '=' .. tostring(x) end
        return table.concat(t, ',') end""")
    assert f([10, 20, 30]) == "0=10,1=20,2=30"
    assert f([10, 20, 30], 5) == "5=10,6=20,7=30"
    assert f([10, 20], -1) == "-1=10,0=20"
    assert f([None, 1, None]) == "0=nil,1=1,2=nil"
    assert f([10], None) == "0=10"
    # a start that is not an integer is a Lua error (as lupa), see test_dropin.py
    with pytest.raises(lupa.LuaError, match="bad argument #2 to 'enumerate'"):
        f([1], "x")
    with pytest.raises(lupa.LuaError, match="bad argument #2 to 'enumerate'"):
        f([1], 2.5)


def test_enumerate_index_is_integer(lua, lupa):
    f = lua.eval(
        "function(L) for i in python.enumerate(L) do return i, math.type and math.type(i) end end"
    )
    index, kind = f([1])
    assert index == 0 and isinstance(index, int)
    if lupa.LUA_VERSION >= (5, 3):
        assert kind == "integer"


def test_iteration_errors(lua):
    def gen():
        yield 1
        raise ValueError("in gen")

    collect = lua.eval(
        "function(g) local t = {} for x in python.iter(g) do t[#t+1] = x end return t end"
    )
    with pytest.raises(ValueError, match="in gen"):
        collect(gen())
    ok, err = lua.eval("pcall(function(g) for x in python.iter(g) do end end, ...)", gen())
    assert ok is False and isinstance(err, ValueError)
    with pytest.raises(TypeError, match="not iterable"):
        lua.eval("python.iter(...)", object())
    with pytest.raises(TypeError, match="not iterable"):
        lua.eval("python.iter(python.none)")
    with pytest.raises(TypeError, match="not iterable"):
        lua.eval("python.enumerate(...)", object())


def test_iteration_with_break_and_nested(lua):
    f = lua.eval("""function(a, b)
        local t = {}
        for x in python.iter(a) do
            for y in python.iter(b) do
                if y > 2 then break end
                t[#t+1] = x * 10 + y
            end
        end
        return t end""")
    assert list(f([1, 2], [1, 2, 3, 4]).values()) == [11, 12, 21, 22]


def test_iteration_large(lua):
    f = lua.eval("function(x) local n = 0 for v in python.iter(x) do n = n + v end return n end")
    assert f(range(20000)) == sum(range(20000))


# ---- python.none, python.args ---------------------------------------------------------
def kw(*args, **kwargs):
    return args, sorted(kwargs.items())


def test_none(lua):
    lua.globals().kw = kw
    assert lua.eval("kw(python.none)") == ((None,), [])
    assert lua.eval("kw(nil)") == ((None,), [])
    assert lua.eval("python.none == nil") is False


def test_args(lua):
    lua.globals().kw = kw
    assert lua.eval("kw(python.args{1, 2, a=3})") == ((1, 2), [("a", 3)])
    assert lua.eval("kw(0, python.args{1, a=3})") == ((0, 1), [("a", 3)])
    assert lua.eval("kw(python.args{1}, 2)") == ((1, 2), [])
    assert lua.eval("kw(python.args{1}, python.args{2})") == ((1, 2), [])
    assert lua.eval("kw(python.args{a=1}, 5)") == ((5,), [("a", 1)])
    assert lua.eval("kw(python.args{a=python.none})") == ((), [("a", None)])
    assert lua.eval("kw(python.args{})") == ((), [])
    assert lua.eval("kw({1, 2})")[0][0][2] == 2  # a plain table stays a table
    assert lua.eval("type(python.args{1})") == "userdata"


def test_args_errors(lua, lupa):
    lua.globals().kw = kw
    with pytest.raises(TypeError, match="multiple values for keyword argument 'a'"):
        lua.eval("kw(python.args{a=1}, python.args{a=2})")
    with pytest.raises(
        lupa.LuaError, match=r"bad argument #1 to 'args' \(table expected, got number\)"
    ):
        lua.eval("python.args(1)")
    with pytest.raises(
        lupa.LuaError, match=r"bad argument #1 to 'args' \(table expected, got no value\)"
    ):
        lua.eval("python.args()")
    with pytest.raises(lupa.LuaError, match=r"\(table expected, got userdata\)"):
        lua.eval("python.args(python.none)")
    for table in ("{[0]=1}", "{[2]=1}", "{1, nil, 3}", "{nil, 2}"):
        with pytest.raises(IndexError, match="table index out of range"):
            lua.eval("kw(python.args%s)" % table)
    with pytest.raises(TypeError, match="neither an integer nor a string"):
        lua.eval("kw(python.args{[true]=1})")
    ok, err = lua.eval("pcall(python.args, 'x')")
    assert ok is False and "table expected, got string" in err


# ---- set_overflow_handler ---------------------------------------------------------------
def test_set_overflow_handler_from_lua(lua, lupa):
    LuaError = lupa.LuaError
    lua.globals().big = lambda: 2**64
    with pytest.raises(OverflowError):
        lua.eval("big()")
    lua.execute("python.set_overflow_handler(python.builtins.float)")
    assert lua.eval("big()") == float(2**64)
    assert lua.eval("math.type and math.type(big()) or type(big())") in ("float", "number")
    lua.execute("python.set_overflow_handler(nil)")
    with pytest.raises(OverflowError):
        lua.eval("big()")
    with pytest.raises(LuaError, match="set_overflow_handler"):  # a Lua error, as in lupa
        lua.eval("python.set_overflow_handler(5)")


def test_iter_functions_return_what_a_generic_for_needs(lua, lupa):
    """As in lupa: python.iter/iterex/enumerate return the iterator function,
    the Python iterator and the control value (nil, or start - 1)."""
    info = lua.eval("""function(name, ...)
        local f, s, c = python[name](...)
        return type(f), tostring(s), c
    end""")
    for name in ("iter", "iterex"):
        kind, state, control = info(name, [1, 2])
        assert kind == "function"
        assert state.startswith("<%s object" % type(iter([])).__name__)  # the Python iterator
        assert control is None
    assert info("enumerate", [1, 2])[2] == -1
    assert info("enumerate", [1, 2], 5)[2] == 4
    # the index follows the control value passed in
    step = lua.eval("function(x, c) local f, s = python.enumerate(x) return f(s, c) end")
    assert step([10, 20], 100) == (101, 10)
    assert step([10, 20], None) == (0, 10)
    collect = lua.eval("""function(x, start)
        local t = {}
        for i, v in python.enumerate(x, start) do t[#t + 1] = i .. '=' .. v end
        return table.concat(t, ',')
    end""")
    assert collect(["a", "b"], None) == "0=a,1=b"
    assert collect(["a", "b"], 3) == "3=a,4=b"
    with pytest.raises(lupa.LuaError, match="enumerate"):  # a Lua error, as in lupa
        collect(["a"], 1.5)


def test_iterator_functions_work_outside_a_for_loop(lua):
    """Called by hand, the function of python.iter keeps going over its own
    iterator, with or without the state argument."""
    f = lua.eval("""function(x)
        local f, s = python.iter(x)
        local a = f(s)
        local b = f()
        local c = f(s)
        return a, b, c
    end""")
    assert f([1, 2]) == (1, 2, None)


@pytest.mark.parametrize(
    "call, message",
    [
        ("python.iter(1)", "bad argument #1 to 'iter' (not a python object)"),
        ("python.args(1)", "bad argument #1 to 'args' (table expected, got number)"),
        ("python.as_attrgetter({})", "bad argument #1 to 'as_attrgetter' (not a python object)"),
    ],
)
def test_argument_errors_say_where_lua_called(lupa, call, message):
    # as luaL_argerror's (and lupa's): the position of the call in Lua first
    lua = lupa.LuaRuntime()
    with pytest.raises(lupa.LuaError) as info:
        lua.execute("local x = 1\n" + call, name="chunk")
    assert str(info.value).splitlines()[0] == '[string "chunk"]:2: ' + message
    ok, error = lua.eval("function(f) return pcall(f) end")(lua.eval("function() %s end" % call))
    assert ok is False and error == '[string "<python>"]:1: ' + message
