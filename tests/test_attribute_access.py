"""attribute_filter and attribute_handlers: control over every attribute
read and write that Lua makes on Python objects."""

import pytest


class Obj(object):
    x = 1
    _private = 2

    def meth(self):
        return "meth"


class X(object):
    yes = 123
    put = "abc"
    noway = 2.1


@pytest.fixture
def recorded(lupa):
    """A runtime whose attribute filter records its calls and allows all."""
    calls = []

    def record(obj, name, is_setting):
        calls.append((type(obj).__name__, name, is_setting))
        return name

    lua = lupa.LuaRuntime(attribute_filter=record)
    g = lua.globals()
    g.obj = Obj()
    g.d = {"a": 1}
    return lua, calls


# ---- attribute_filter ----------------------------------------------------------------
def test_filter_sees_reads_writes_and_methods(recorded):
    lua, calls = recorded
    assert lua.eval("obj.x") == 1
    lua.execute("obj.y = 5")
    assert lua.eval("obj:meth()") == "meth"
    assert lua.eval("python.as_attrgetter(d).keys ~= nil") is True
    assert calls == [
        ("Obj", "x", False),
        ("Obj", "y", True),
        ("Obj", "meth", False),
        ("dict", "keys", False),
    ]
    assert lua.eval("obj.y") == 5


def test_filter_not_used_for_items(recorded):
    lua, calls = recorded
    assert lua.eval("d.a, d['a'], python.as_itemgetter(d).a") == (1, 1, 1)
    lua.execute("d.b = 2")
    assert calls == []


def test_filter_on_modules_and_classes(recorded):
    lua, calls = recorded
    lua.globals().Obj = Obj
    assert lua.eval("python.builtins.len('ab')") == 2
    assert lua.eval("Obj.x") == 1
    assert calls == [("module", "len", False), ("type", "x", False)]


def test_filter_gets_non_string_keys(recorded):
    lua, calls = recorded
    for key, name in (("1", "int"), ("true", "bool"), ("1.5", "float")):
        with pytest.raises(TypeError, match="attribute name must be string, not '%s'" % name):
            lua.eval("obj[%s]" % key)
    with pytest.raises(TypeError, match="not 'int'"):
        lua.execute("obj[2] = 5")
    assert calls == [("Obj", 1, False), ("Obj", True, False), ("Obj", 1.5, False), ("Obj", 2, True)]


def test_filter_renames(lupa):
    lua = lupa.LuaRuntime(attribute_filter=lambda obj, name, setting: "meth")
    lua.globals().obj = Obj()
    assert lua.eval("obj.whatever()") == "meth"


def test_filter_returning_bytes_or_str_subclass(lupa):
    class S(str):
        pass

    for result in (b"x", S("x")):
        lua = lupa.LuaRuntime(attribute_filter=lambda o, n, s, r=result: r)
        lua.globals().obj = Obj()
        assert lua.eval("obj.q") == 1


@pytest.mark.parametrize("result", [123, None, 1.5, ["x"]])
def test_filter_returning_non_string(lupa, result):
    lua = lupa.LuaRuntime(attribute_filter=lambda o, n, s: result)
    obj = Obj()
    lua.globals().obj = obj
    with pytest.raises(
        TypeError, match="attribute name must be string, not '%s'" % type(result).__name__
    ):
        lua.eval("obj.x")
    with pytest.raises(TypeError, match="attribute name must be string"):
        lua.execute("obj.x = 1")
    assert obj.x == 1
    ok, err = lua.execute("return pcall(function() return obj.x end)")
    assert ok is False and isinstance(err, TypeError)


def test_filter_denies(lupa):
    def filter_attribute_access(obj, attr_name, is_setting):
        if isinstance(attr_name, str) and not attr_name.startswith("_"):
            return attr_name
        raise AttributeError("access denied")

    lua = lupa.LuaRuntime(register_eval=False, attribute_filter=filter_attribute_access)
    obj = Obj()
    lua.globals().obj = obj
    for code in ("obj.__class__", "obj._private", "obj.__dict__", "python.builtins.__import__"):
        with pytest.raises(AttributeError, match="access denied"):
            lua.eval(code)
    with pytest.raises(AttributeError, match="access denied"):
        lua.execute("obj._x = 1")
    assert not hasattr(obj, "_x")
    ok, err = lua.execute("return pcall(function() return obj.__class__ end)")
    assert ok is False and isinstance(err, AttributeError) and str(err) == "access denied"
    assert lua.eval("obj.x") == 1


def test_filter_raising_other_errors(lupa):
    def filt(obj, name, is_setting):
        raise ValueError("filter boom")

    lua = lupa.LuaRuntime(attribute_filter=filt)
    lua.globals().obj = Obj()
    with pytest.raises(ValueError, match="filter boom"):
        lua.eval("obj.x")
    ok, err = lua.execute("return pcall(function() return obj.x end)")
    assert ok is False and isinstance(err, ValueError)


def test_filter_with_bytes_runtime(lupa):
    calls = []

    def filt(obj, name, is_setting):
        calls.append(name)
        return name

    lua = lupa.LuaRuntime(encoding=None, attribute_filter=filt)
    lua.globals()[b"obj"] = Obj()
    assert lua.eval(b"obj.x") == 1
    assert calls == [b"x"]


def test_bytes_runtime_attribute_names(lupa):
    lua = lupa.LuaRuntime(encoding=None)
    obj = Obj()
    lua.globals()[b"obj"] = obj
    assert lua.eval(b"obj.x") == 1
    lua.execute(b"obj.zz = 3")
    assert obj.zz == 3


# ---- attribute_handlers ---------------------------------------------------------------
def test_handlers_used_for_all_indexing(lupa):
    calls = []

    def getter(obj, name):
        calls.append(("get", type(obj).__name__, name))
        return "got:%r" % (name,)

    def setter(obj, name, value):
        calls.append(("set", type(obj).__name__, name, value))

    lua = lupa.LuaRuntime(attribute_handlers=(getter, setter))
    obj, d = Obj(), {"a": 1}
    lua.globals().obj = obj
    lua.globals().d = d
    assert lua.eval(
        "d.a, d[1], obj.x, obj[2], python.as_itemgetter(d).a, python.as_attrgetter(d).a"
    ) == ("got:'a'", "got:1", "got:'x'", "got:2", "got:'a'", "got:'a'")
    lua.execute("d.a = 5; d[1] = 6; obj.x = 7; obj[2] = 8; python.as_itemgetter(d).z = 9")
    assert calls[6:] == [
        ("set", "dict", "a", 5),
        ("set", "dict", 1, 6),
        ("set", "Obj", "x", 7),
        ("set", "Obj", 2, 8),
        ("set", "dict", "z", 9),
    ]
    assert d == {"a": 1} and obj.x == 1
    with pytest.raises(lupa.LuaError, match="attempt to call .*string"):
        lua.eval("obj:meth()")  # the getter's string is not callable


def test_getter_that_raises(lupa):
    def bad_getter(obj, name):
        raise KeyError("nope")

    lua = lupa.LuaRuntime(attribute_handlers=(bad_getter, lambda o, n, v: None))
    lua.globals().obj = Obj()
    with pytest.raises(KeyError, match="nope"):
        lua.eval("obj.x")
    ok, err = lua.execute("return pcall(function() return obj.x end)")
    assert ok is False and isinstance(err, KeyError)
    assert lua.eval("1") == 1


def test_setter_that_raises(lupa):
    def bad_setter(obj, name, value):
        raise RuntimeError("read only")

    lua = lupa.LuaRuntime(attribute_handlers=(getattr, bad_setter))
    obj = Obj()
    lua.globals().obj = obj
    assert lua.eval("obj.x") == 1
    with pytest.raises(RuntimeError, match="read only"):
        lua.execute("obj.x = 2")
    assert obj.x == 1


def test_handlers_with_none_entries(lupa):
    # lupa accepts None for either handler: that operation is the default one
    seen = []

    def getter(obj, name):
        seen.append(name)
        return getattr(obj, name)

    obj = Obj()
    lua = lupa.LuaRuntime(attribute_handlers=(getter, None))
    lua.globals().obj = obj
    assert lua.eval("obj.x") == 1
    lua.execute("obj.x = 5")
    assert obj.x == 5 and seen == ["x"]
    lua = lupa.LuaRuntime(attribute_handlers=(None, None))
    lua.globals().obj = obj
    assert lua.eval("obj.x") == 5


def test_handler_arguments_validated(lupa):
    getter, setter = (lambda o, n: None), (lambda o, n, v: None)
    with pytest.raises(ValueError, match="mutually exclusive"):
        lupa.LuaRuntime(attribute_filter=lambda o, n, s: n, attribute_handlers=(getter, setter))
    for bad in ((getter,), getter, (1, 2), (getter, setter, None), 5):
        with pytest.raises(ValueError, match="attribute_handlers"):
            lupa.LuaRuntime(attribute_handlers=bad)
    with pytest.raises(ValueError, match="attribute_filter must be callable"):
        lupa.LuaRuntime(attribute_filter=1)
    lupa.LuaRuntime(attribute_handlers=[getter, setter])
