"""to_python(): Lua tables into plain Python data in one call (beyond lupa)."""

import json

import pytest

import lupacffi


def test_exported_by_every_backend(lupa):
    assert "to_python" in lupa.__all__
    assert lupa.to_python is lupacffi.to_python
    assert lupa.to_python.__doc__


def test_sequences_become_lists_and_others_dicts(lua, lupa):
    to_python = lupa.to_python
    assert to_python(lua.eval("{1, 2, 3}")) == [1, 2, 3]
    assert to_python(lua.eval("{'a', 'b'}")) == ["a", "b"]
    assert to_python(lua.eval("{a=1, b='x'}")) == {"a": 1, "b": "x"}
    assert to_python(lua.eval("{}")) == {}
    assert to_python(lua.eval("{1, 2, x=3}")) == {1: 1, 2: 2, "x": 3}
    assert to_python(lua.eval("{[1]=1, [3]=3}")) == {1: 1, 3: 3}  # a hole
    assert to_python(lua.eval("{[0]=0, [1]=1}")) == {0: 0, 1: 1}
    assert to_python(lua.eval("{[2]=2, [1]=1}")) == [1, 2]  # any order
    assert to_python(lua.eval("{[1.5]=1}")) == {1.5: 1}
    assert to_python(lua.eval("{[true]=1}")) == {True: 1}  # not a list
    assert to_python(lua.eval("{[2]=1, [true]=2}")) == {2: 1, True: 2}


def test_keys_equal_in_python_are_an_error(lua, lupa):
    for code in ("{[1]=1, [true]=2}", "{[0]=1, [false]=2}", "{x={[1]=1, [true]=2}}"):
        with pytest.raises(ValueError, match="collide"):
            lupa.to_python(lua.eval(code))


def test_nested(lua, lupa):
    t = lua.eval("{name='x', list={1, 2, {3, 4}}, map={a={b={c='deep'}}}, empty={}}")
    assert lupa.to_python(t) == {
        "name": "x",
        "list": [1, 2, [3, 4]],
        "map": {"a": {"b": {"c": "deep"}}},
        "empty": {},
    }
    assert json.loads(json.dumps(lupa.to_python(t))) == lupa.to_python(t)


def test_round_trip_with_table_from(lua, lupa):
    data = {"a": [1, 2.5, {"b": "c"}], "d": {"e": [True, False]}, "f": "g"}
    assert lupa.to_python(lua.table_from(data, recursive=True)) == data


def test_other_values_stay(lua, lupa):
    obj = object()
    f = lua.eval("function() end")
    t = lua.eval(
        "function(o, f) return {o, f, print, io.stdout, python.none,"
        " coroutine.create(f), x={o}} end"
    )(obj, f)
    result = lupa.to_python(t)
    assert result[1] is obj and result[2] == f
    assert lupa.lua_type(result[3]) == "function"
    assert lupa.lua_type(result[4]) == "userdata"
    assert result[5] is None  # python.none
    assert lupa.lua_type(result[6]) == "function"  # a not yet started coroutine
    assert result["x"] == [obj] and result["x"][0] is obj


def test_not_a_table_is_returned_unchanged(lua, lupa):
    f = lua.eval("function() end")
    for value in (None, 1, "s", b"b", [1, {}], f, lua.eval("io.stdout")):
        assert lupa.to_python(value) is value


def test_table_keys_stay_tables(lua, lupa):
    key = lua.eval("{1}")
    lua.globals().key = key
    t = lua.eval("{[key] = {2}}")
    result = lupa.to_python(t)
    assert result == {key: [2]}
    assert result[lua.globals().key] == [2]


def test_shared_tables_stay_shared(lua, lupa):
    t = lua.execute("local s = {1, 2} return {a=s, b=s, c={s}, d={x=s}}")
    result = lupa.to_python(t)
    assert result["a"] == [1, 2]
    assert result["a"] is result["b"] is result["c"][0] is result["d"]["x"]
    seq = lua.execute("local s = {k=1} return {s, s, s}")
    a, b, c = lupa.to_python(seq)
    assert a is b is c and a == {"k": 1}


def test_cycles_are_an_error_by_default(lua, lupa):
    for code in (
        "local t = {} t.self = t return t",
        "local t = {1} t[2] = t return t",
        "local a, b = {}, {} a.b = b b.a = a return {root=a}",
        "local a = {} a[1] = {{a}} return a",
    ):
        with pytest.raises(ValueError, match="contains itself"):
            lupa.to_python(lua.execute(code))


def test_cycles_kept_when_allowed(lua, lupa):
    t = lupa.to_python(lua.execute("local t = {x=1} t.self = t return t"), allow_cycles=True)
    assert t["self"] is t and t["x"] == 1
    lst = lupa.to_python(lua.execute("local t = {1} t[2] = t return t"), allow_cycles=True)
    assert lst[0] == 1 and lst[1] is lst
    r = lupa.to_python(
        lua.execute("local a, b = {}, {} a.b = b b.a = a return {root=a}"), allow_cycles=True
    )
    assert r["root"]["b"]["a"] is r["root"]


def test_shared_but_not_cyclic_is_no_error(lua, lupa):
    # the same table twice on different branches is not a cycle
    t = lua.execute("local s = {} return {{s}, {s}, s}")
    result = lupa.to_python(t)
    assert result[0][0] is result[1][0] is result[2]


def test_max_depth(lua, lupa):
    t = lua.eval("{1, {2, {3, {4}}}}")
    assert lupa.to_python(t, max_depth=0) is t
    one = lupa.to_python(t, max_depth=1)
    assert one[0] == 1 and lupa.lua_type(one[1]) == "table"
    assert lupa.to_python(one[1]) == [2, [3, [4]]]
    two = lupa.to_python(t, max_depth=2)
    assert two[1][0] == 2 and lupa.lua_type(two[1][1]) == "table"
    assert lupa.to_python(t, max_depth=4) == [1, [2, [3, [4]]]]
    assert lupa.to_python(t, max_depth=100) == [1, [2, [3, [4]]]]
    # a cycle beyond max_depth is not seen
    c = lua.execute("local t = {} t.self = t return t")
    assert lupa.lua_type(lupa.to_python(c, max_depth=1)["self"]) == "table"
    with pytest.raises(ValueError):
        lupa.to_python(c, max_depth=2)
    for bad in (-1, 1.5, "2"):
        with pytest.raises(ValueError):
            lupa.to_python(t, max_depth=bad)


def test_deep_nesting(lua, lupa):
    t = lua.eval("""(function()
        local root = {}
        local cur = root
        for i = 1, 20000 do local n = {} cur[1] = n cur = n end
        cur[1] = 'bottom'
        return root end)()""")
    result = lupa.to_python(t)
    depth = 0
    while isinstance(result, list):
        result = result[0]
        depth += 1
    assert (depth, result) == (20001, "bottom")


def test_big_tables(lua, lupa):
    t = lua.eval("""(function()
        local t = {list={}, map={}}
        for i = 1, 20000 do t.list[i] = i; t.map['k' .. i] = {i} end
        return t end)()""")
    result = lupa.to_python(t)
    assert result["list"] == list(range(1, 20001))
    assert result["map"] == {"k%d" % i: [i] for i in range(1, 20001)}


def test_encoding_none_gives_bytes(lupa):
    lua = lupa.LuaRuntime(encoding=None)
    assert lupa.to_python(lua.eval("{a={'b'}}")) == {b"a": [b"b"]}


def test_tables_with_metamethods_are_read_raw(lua, lupa):
    t = lua.eval("""setmetatable({1}, {
        __index=function() error('no') end,
        __pairs=function() error('no') end,
        __len=function() return 99 end})""")
    assert lupa.to_python(t) == [1]
