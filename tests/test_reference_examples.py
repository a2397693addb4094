"""The examples of lupa 2.0's project description (its PyPI page) about
Python objects in Lua, as tests with lupa's results.  Each test takes only
the backend module, so the same functions also run against lupa itself
(see the __main__ block)."""

import operator

import pytest


def test_intro(lupa):
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    assert lua.eval("1+1") == 2
    lua_func = lua.eval("function(f, n) return f(n) end")

    def py_add1(n):
        return n + 1

    assert lua_func(py_add1, 2) == 3
    assert lua.eval('python.eval(" 2 ** 2 ")') == 4
    assert lua.eval("python.builtins.str(4)") == "4"
    assert lupa.lua_type(lua_func) == "function"
    assert lupa.lua_type(lua.eval("{}")) == "table"
    assert lupa.lua_type(123) is None
    assert lupa.lua_type("abc") is None
    assert lupa.lua_type({}) is None


def test_unpack_returned_tuples(lupa):
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    lua.execute('a,b,c = python.eval("(1,2)")')
    g = lua.globals()
    assert (g.a, g.b, g.c) == (1, 2, None)
    non_explode_lua = lupa.LuaRuntime(unpack_returned_tuples=False)
    non_explode_lua.execute('a,b,c = python.eval("(1,2)")')
    g = non_explode_lua.globals()
    assert g.a == (1, 2)
    assert g.b is None and g.c is None


def test_python_objects_in_lua(lupa):
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    wrapped_type = lua.globals().type
    assert wrapped_type(1) == "number"
    assert wrapped_type("abc") == "string"
    assert wrapped_type(wrapped_type) == "function"
    assert wrapped_type(len) == "userdata"
    assert wrapped_type([]) == "userdata"


def test_protocol_helpers(lupa):
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    lua_func = lua.eval('function(obj) return obj["get"] end')
    d = {"get": "value"}
    value = lua_func(d)
    assert value == d["get"] == "value"
    value = lua_func(lupa.as_itemgetter(d))
    assert value == d["get"] == "value"
    dict_get = lua_func(lupa.as_attrgetter(d))
    assert dict_get == d.get
    assert dict_get("get") == d.get("get") == "value"
    lua_func = lua.eval('function(obj) return python.as_attrgetter(obj)["get"] end')
    dict_get = lua_func(d)
    assert dict_get("get") == d.get("get") == "value"


def test_callables_support_indexing(lupa):
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)

    def py_func():
        pass

    py_func.ATTR = 2
    lua_func = lua.eval("function(obj) return obj.ATTR end")
    assert lua_func(py_func) == 2
    lua_func = lua.eval("function(obj) return python.as_attrgetter(obj).ATTR end")
    assert lua_func(py_func) == 2
    lua_func = lua.eval('function(obj) return python.as_attrgetter(obj)["ATTR"] end')
    assert lua_func(py_func) == 2


def test_iteration(lupa):
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    lua_copy = lua.eval("""
        function(L)
            local t, i = {}, 1
            for item in python.iter(L) do
                t[i] = item
                i = i + 1
            end
            return t
        end
    """)
    table = lua_copy([1, 2, 3, 4])
    assert len(table) == 4
    assert table[1] == 1
    lua_copy = lua.eval("""
        function(L)
            local t = {}
            for index, item in python.enumerate(L) do
                t[ index+1 ] = item
            end
            return t
        end
    """)
    table = lua_copy([1, 2, 3, 4])
    assert len(table) == 4
    assert table[1] == 1
    lua_copy = lua.eval("""
        function(d)
            local t = {}
            for key, value in python.iterex(d.items()) do
                t[key] = value
            end
            return t
        end
    """)
    d = dict(a=1, b=2, c=3)
    table = lua_copy(lupa.as_attrgetter(d))
    assert table["b"] == 2


def test_none_vs_nil(lupa):
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    assert lua.eval("nil") is None
    is_nil = lua.eval("function(x) return x == nil end")
    assert is_nil(None) is True
    _ = lua.require("table")
    func = lua.eval("""
        function(items)
            local t = {}
            for value in python.iter(items) do
                table.insert(t, value == python.none)
            end
            return t
        end
    """)
    items = [1, None, 2]
    assert list(func(items).values()) == [False, True, False]
    func = lua.eval("""
        function(items)
            for a, b, c, d in python.iterex(items) do
                return {a == python.none, a == nil,   -->  a == python.none
                        b == python.none, b == nil,   -->  b == nil
                        c == python.none, c == nil,   -->  c == nil
                        d == python.none, d == nil}   -->  d == nil ...
            end
        end
    """)
    items = [(None, None, None, None)]
    assert list(func(items).values()) == [True, False, False, True, False, True, False, True]
    items = [(None, None)]  # note: no values for c/d => nil in Lua
    assert list(func(items).values()) == [True, False, False, True, False, True, False, True]


def test_python_callables(lupa):
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)

    def add_one(num):
        return num + 1

    lua_func = lua.eval("function(num, py_func) return py_func(num) end")
    assert lua_func(48, add_one) == 49

    class MyClass:
        def my_method(self):
            return 345

    obj = MyClass()
    lua_func = lua.eval("function(py_obj) return py_obj:my_method() end")
    assert lua_func(obj) == 345


def test_named_arguments(lupa):
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)

    @lupa.unpacks_lua_table
    def add(a, b):
        return a + b

    lua_func = lua.eval("function(a, b, py_func) return py_func{a=a, b=b} end")
    assert lua_func(5, 6, add) == 11
    lua_func = lua.eval("function(a, b, py_func) return py_func{a, b=b} end")
    assert lua_func(5, 6, add) == 11
    wrapped_py_add = lupa.unpacks_lua_table(operator.add)
    lua_func = lua.eval("function(a, b, py_func) return py_func{a, b} end")
    assert lua_func(5, 6, wrapped_py_add) == 11
    assert lua.eval("function(a, b, py_func) return py_func(a, b) end")(5, 6, add) == 11


def test_attribute_filter(lupa):
    def filter_attribute_access(obj, attr_name, is_setting):
        if isinstance(attr_name, str):
            if not attr_name.startswith("_"):
                return attr_name
        raise AttributeError("access denied")

    lua = lupa.LuaRuntime(register_eval=False, attribute_filter=filter_attribute_access)
    func = lua.eval("function(x) return x.__class__ end")
    with pytest.raises(AttributeError, match="access denied"):
        func(lua)


def test_attribute_handlers(lupa):
    def getter(obj, attr_name):
        if attr_name == "yes":
            return getattr(obj, attr_name)
        raise AttributeError('not allowed to read attribute "%s"' % attr_name)

    def setter(obj, attr_name, value):
        if attr_name == "put":
            setattr(obj, attr_name, value)
            return
        raise AttributeError('not allowed to write attribute "%s"' % attr_name)

    class X(object):
        yes = 123
        put = "abc"
        noway = 2.1

    x = X()
    lua = lupa.LuaRuntime(attribute_handlers=(getter, setter))
    func = lua.eval("function(x) return x.yes end")
    assert func(x) == 123
    func = lua.eval('function(x) x.put = "ABC"; end')
    func(x)
    assert x.put == "ABC"
    func = lua.eval("function(x) x.noway = 42; end")
    with pytest.raises(AttributeError, match='not allowed to write attribute "noway"'):
        func(x)


if __name__ == "__main__":
    # python tests/test_reference_examples.py lupa.lua54: runs these tests
    # against another implementation (e.g. lupa itself) without pytest fixtures
    import importlib
    import sys

    module = importlib.import_module(sys.argv[1] if len(sys.argv) > 1 else "lupacffi.lua54")
    failed = 0
    for name, test in sorted(globals().items()):
        if name.startswith("test_"):
            try:
                test(module)
                print("ok  ", name)
            except Exception as e:
                failed += 1
                print("FAIL", name, repr(e))
    sys.exit(1 if failed else 0)
