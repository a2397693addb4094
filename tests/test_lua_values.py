"""Lua values in general: lua_type(), str()/repr(), identity and equality of
wrappers (beyond lupa), wrappers of other runtimes and of dead runtimes."""

import copy
import gc
import importlib
import pickle
import re

import pytest

import lupacffi


def address_of(lua, obj):
    """The address in Lua's own tostring() of obj (None if it shows none)."""
    text = lua.eval("tostring")(obj)
    if ": 0x" not in text:  # e.g. LuaJIT's "function: builtin#29"
        return None
    return int(text.split(": ")[1], 16)


# ---- lua_type ------------------------------------------------------------------------------
def test_lua_type_of_every_lua_type(lua, lupa):
    lua_type = lupa.lua_type
    assert lua_type(lua.eval("{}")) == "table"
    assert lua_type(lua.globals()) == "table"
    assert lua_type(lua.eval("function() end")) == "function"
    assert lua_type(lua.eval("print")) == "function"
    assert lua_type(lua.eval("function() end").coroutine()) == "thread"
    started = lua.execute(
        "local c = coroutine.create(function() coroutine.yield() end) coroutine.resume(c) return c"
    )
    assert lua_type(started) == "thread"
    # not started yet: acts as a function, as in lupa
    assert lua_type(lua.eval("coroutine.create(function() end)")) == "function"
    assert lua_type(lua.eval("io.stdout")) == "userdata"


def test_lua_type_of_python_values(lua, lupa):
    for value in (
        None,
        1,
        1.5,
        True,
        "s",
        b"b",
        [],
        {},
        object(),
        lua,
        len,
        lupa.LuaRuntime,
        lua.eval("python.none"),
        lua.eval("python.builtins"),
    ):
        assert lupa.lua_type(value) is None
    with pytest.raises(TypeError):
        lupa.lua_type()


# ---- repr / str ------------------------------------------------------------------------------
def test_repr_names_type_and_address(lua):
    for code, name in (
        ("{}", "table"),
        ("function() end", "function"),
        ("print", "function"),
        ("io.stdout", "userdata"),
    ):
        obj = lua.eval(code)
        match = re.match(r"<Lua %s at 0x([0-9a-f]+)>$" % name, repr(obj))
        assert match, repr(obj)
        if name != "userdata":  # io.stdout's tostring shows its FILE*
            assert address_of(lua, obj) in (int(match.group(1), 16), None)
    thread = lua.eval("function() end").coroutine()
    assert re.match(r"<Lua thread at 0x[0-9a-f]+>$", repr(thread))
    match = re.match(r"<Lua thread at 0x([0-9a-f]+)>$", repr(thread))
    assert int(match.group(1), 16) == address_of(lua, thread)


def test_str_without_tostring_is_repr(lua):
    for code in (
        "{}",
        "function() end",
        "print",
        "setmetatable({}, {__name='MyType'})",
        "setmetatable({}, {})",
    ):
        obj = lua.eval(code)
        assert str(obj) == repr(obj)
        assert format(obj, "") == repr(obj)
    thread = lua.eval("function() end").coroutine()
    assert str(thread) == repr(thread)


def test_str_honours_tostring(lua):
    t = lua.eval("setmetatable({}, {__tostring=function() return 'custom!' end})")
    assert str(t) == "custom!"
    assert repr(t).startswith("<Lua table at 0x")
    assert str(lua.eval("setmetatable({}, {__tostring=function() return 42 end})")) == "42"
    # userdata with a __tostring of its own
    assert str(lua.eval("io.stdout")).startswith("file (")


def test_str_with_undecodable_text_falls_back_to_latin1(lua, lupa):
    t = lua.eval("setmetatable({}, {__tostring=function() return 'b\\255' end})")
    assert str(t) == "b\xff"
    raw = lupa.LuaRuntime(encoding=None)
    t = raw.eval("setmetatable({}, {__tostring=function() return 'b\\255' end})")
    assert str(t) == "b\xff"
    t = raw.eval("setmetatable({}, {__tostring=function() return 'h\\195\\169' end})")
    assert str(t) == "h\xe9"


def test_str_with_failing_tostring_is_lua_error(lua, lupa):
    t = lua.eval("setmetatable({}, {__tostring=function() error('tostring failed') end})")
    with pytest.raises(lupa.LuaError, match="tostring failed"):
        str(t)
    with pytest.raises((lupa.LuaError, TypeError)):
        str(lua.eval("setmetatable({}, {__tostring=function() return {} end})"))
    assert repr(t).startswith("<Lua table at")
    assert lua.eval("1 + 1") == 2


# ---- identity and equality (beyond lupa) --------------------------------------------------------------
def test_wrappers_of_one_value_are_equal(lua):
    t = lua.eval("{}")
    lua.globals().tt = t
    same = lua.globals().tt
    assert same is not t
    assert same == t and not (same != t)
    assert hash(same) == hash(t)
    assert lua.globals() == lua.globals()
    assert lua.globals()["_G"] == lua.globals()
    assert lua.eval("print") == lua.eval("print")
    assert lua.eval("io.stdout") == lua.eval("io.stdout")
    assert lua.require("string") == lua.globals().string
    f = lua.eval("function() end")
    assert lua.eval("function(x) return x end")(f) == f


def test_wrappers_of_different_values_differ(lua):
    a, b = lua.eval("{}"), lua.eval("{}")
    assert a != b and not (a == b)
    assert lua.eval("print") != lua.eval("tostring")
    assert lua.eval("{}") != {} and {} != lua.eval("{}")
    assert lua.eval("{}") != None  # noqa: E711
    assert lua.eval("{a=1}") != lua.eval("{a=1}")
    with pytest.raises(TypeError):
        a < b


def test_wrappers_as_dict_keys_and_in_sets(lua):
    t1 = lua.eval("{}")
    lua.globals().t1 = t1
    f = lua.eval("function() end")
    lua.globals().f = f
    d = {t1: "table", f: "function"}
    assert d[lua.globals().t1] == "table"
    assert d[lua.globals().f] == "function"
    assert lua.eval("{}") not in d
    assert len({t1, lua.globals().t1, lua.eval("t1"), lua.eval("{}")}) == 2
    holder = lua.execute("local t = {} t[t1] = 'x' return t")
    (key,) = list(holder.keys())
    assert key == t1 and d[key] == "table"


def test_identity_of_threads(lua):
    c = lua.eval("function() return coroutine.running() end").coroutine()
    running = c.send(None)
    if isinstance(running, tuple):  # Lua 5.2+: (thread, ismain)
        running, is_main = running
        assert is_main is False
    assert running == c and hash(running) == hash(c)
    assert c != lua.eval("function() end").coroutine()


def test_equality_across_runtimes(lupa):
    lua1, lua2 = lupa.LuaRuntime(), lupa.LuaRuntime()
    assert lua1.eval("{}") != lua2.eval("{}")
    assert lua1.globals() != lua2.globals()
    assert lua1.globals() == lua1.globals()


def test_many_wrappers_hash_consistently(lua):
    tables = lua.eval("(function() local t = {} for i = 1, 300 do t[i] = {} end return t end)()")
    first = {tables[i]: i for i in range(1, 301)}
    assert len(first) == 300
    assert all(first[v] == k for k, v in tables.items())


# ---- pickling and copying ----------------------------------------------------------------------------------
def test_wrappers_cannot_be_pickled_or_copied(lua):
    for obj in (lua.eval("{}"), lua.eval("print"), lua.eval("function() end").coroutine()):
        with pytest.raises(TypeError):
            pickle.dumps(obj)
        with pytest.raises(TypeError):
            copy.copy(obj)


# ---- other kinds of objects as containers ------------------------------------------------------------------------
def test_userdata_reads_through_lua(lua, lupa):
    ud = lua.eval("io.stdout")
    assert type(ud).__name__ == "_LuaObject"
    assert ud[1] is None
    assert lupa.lua_type(ud.write) == "function"
    assert ud["write"] == ud.write
    assert ud._x is None
    with pytest.raises(AttributeError):
        ud.__foo__
    with pytest.raises(AttributeError):
        ud.x = 1
    with pytest.raises(AttributeError):
        del ud.x
    with pytest.raises(TypeError):
        ud[1] = 1
    with pytest.raises(TypeError):
        del ud[1]
    with pytest.raises(TypeError):
        list(ud)
    with pytest.raises(TypeError):
        "write" in ud
    assert bool(ud)
    with pytest.raises(lupa.LuaError, match="attempt to call"):
        ud()


def test_len_is_raw_for_every_type(lua):
    # lupa's len(): Lua's raw length, so __len is ignored and a userdata gives its size
    assert len(lua.eval("io.stdout")) > 0
    assert len(lua.eval("setmetatable({1, 2}, {__len=function() return 9 end})")) == 2
    assert len(lua.eval("function() end")) == 0
    assert len(lua.eval("function() end").coroutine()) == 0


# ---- objects of other runtimes and backends ---------------------------------------------------------------------
def test_object_of_another_runtime_is_a_clear_error(lua, lupa):
    other = lupa.LuaRuntime()
    f = other.eval("function(x) return x end")
    t = other.eval("{}")
    with pytest.raises((lupa.LuaError, ValueError), match="different Lua runtimes"):
        f(lua.eval("{}"))
    with pytest.raises((lupa.LuaError, ValueError), match="different Lua runtimes"):
        t.x = lua.eval("print")
    with pytest.raises((lupa.LuaError, ValueError), match="different Lua runtimes"):
        lua.eval("function(...) end")(1, 2, t)
    assert t.x is None
    assert f(1) == 1 and lua.eval("1") == 1


def test_object_of_another_backend(lupa):
    others = [
        name for name in lupacffi.available_backends() if name != lupa.__name__.split(".")[-1]
    ]
    if not others:
        return
    other = importlib.import_module("lupacffi." + others[0]).LuaRuntime()
    lua = lupa.LuaRuntime()
    foreign = other.eval("{a=1}")
    try:
        back = lua.eval("function(x) return x end")(foreign)
    except (lupa.LuaError, ValueError) as e:
        assert "different Lua runtimes" in str(e)
    else:  # lupa passes it as a Python object
        assert back is foreign
    assert foreign.a == 1


# ---- wrappers that outlive their runtime ----------------------------------------------------------------------------
def test_wrappers_after_the_runtime_is_gone(lupa):
    lua = lupa.LuaRuntime()
    t = lua.eval("{1, 2, x=3}")
    other_t = lua.eval("{}")
    f = lua.eval("function() return 1 end")
    c = lua.eval("function() coroutine.yield(1) coroutine.yield(2) end").coroutine()
    assert c.send(None) == 1
    it = t.items()
    big = lua.eval("(function() local t = {} for i = 1, 500 do t[i] = i end return t end)()")
    started = iter(big)
    assert next(started) == 1
    hash(t)
    lua.__del__()  # what a garbage collection of a cycle may do first
    for action in (
        lambda: t[1],
        lambda: t.x,
        lambda: len(t),
        lambda: list(t),
        lambda: str(t),
        lambda: f(),
        lambda: c.send(None),
        lambda: next(it),
        lambda: list(started),
        lambda: f.coroutine(),
        lambda: setattr(t, "y", 1),
        lambda: t.__setitem__(1, 2),
        lambda: t.__delitem__(1),
    ):
        with pytest.raises(lupa.LuaError):
            action()
    assert not c
    assert repr(t).startswith("<Lua table at 0x")
    assert t == t and t != other_t
    hash(other_t)
    t = other_t = f = c = it = big = started = None
    gc.collect()


def test_cycles_through_the_runtime_are_collected_without_crash(lupa):
    def make():
        lua = lupa.LuaRuntime()
        holder = {}
        lua.globals().holder = holder  # runtime -> holder
        holder["t"] = lua.eval("{1, 2, 3}")  # holder -> wrapper -> runtime
        holder["it"] = holder["t"].items()
        next(holder["it"])
        holder["f"] = lua.eval("function() end")
        holder["co"] = lua.eval("function() coroutine.yield(1) end").coroutine()
        next(holder["co"])
        holder["lua"] = lua

    for _ in range(30):
        make()
    for _ in range(3):
        gc.collect()
    assert lupa.LuaRuntime().eval("1 + 1") == 2


def test_python_subclasses_of_scalars_cross_as_lupa_does(lupa):
    """Subclasses of int, float, str and bytes become Lua numbers and
    strings; a bytearray or memoryview stays a Python object (userdata), as
    in lupa."""
    import enum

    class Number(enum.IntEnum):
        THREE = 3

    class Text(str):
        pass

    class Real(float):
        pass

    class Raw(bytes):
        pass

    lua = lupa.LuaRuntime()
    kind = lua.eval("function(x) return type(x) end")
    assert (
        kind(Number.THREE) == "number"
        and lua.eval("function(x) return x + 1 end")(Number.THREE) == 4
    )
    assert kind(Text("x")) == "string" and kind(Real(1.5)) == "number"
    assert (
        kind(Raw(b"x")) == "string"
        and lua.eval("function(x) return x .. '!' end")(Raw(b"x")) == "x!"
    )
    buffer = bytearray(b"ab")
    assert kind(buffer) == "userdata" and kind(memoryview(b"ab")) == "userdata"
    assert lua.eval("function(x) return x end")(buffer) is buffer
    raw = lupa.LuaRuntime(encoding=None)
    assert raw.eval("function(x) return type(x) end")(bytearray(b"ab")) == b"userdata"
    assert raw.eval("function(x) return x end")(Raw(b"x")) == b"x"
