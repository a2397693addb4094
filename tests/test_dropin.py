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
@pytest.mark.parametrize("handlers", [None, (), [], (None, None)],
                         ids=["None", "empty-tuple", "empty-list", "None-None"])
def test_attribute_handlers_default(lupa, handlers):
    lua = lupa.LuaRuntime(attribute_handlers=handlers)
    assert lua.eval("function(o) return o.abc end")(Obj()) == 5


@pytest.mark.parametrize("make", [
    lambda: iter([_getter, _setter]),
    lambda: (f for f in (_getter, _setter)),
    lambda: [_getter, _setter],
    lambda: (_getter, None),
], ids=["iterator", "generator", "list", "getter-only"])
def test_attribute_handlers_any_iterable(lupa, make):
    lua = lupa.LuaRuntime(attribute_handlers=make())
    assert lua.eval("function(o) return o.abc end")(Obj()) == "got:abc"


def test_attribute_handlers_iterator_setter(lupa):
    lua = lupa.LuaRuntime(attribute_handlers=iter([None, _setter]))
    obj = Obj()
    assert lua.eval("function(o) o.x = 7; return o.abc end")(obj) == 5
    assert obj.set_calls == ("x", 7)


@pytest.mark.parametrize("handlers", [(_getter,), (None,), (1, 2), "ab", _getter,
                                      (None, None, None), 5])
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
    lua.set_max_memory(10 ** 6)
    assert lua.get_max_memory() == 10 ** 6
    assert 10 ** 6 < lua.get_max_memory(total=True) < 10 ** 6 + 200000   # + the base use
    with pytest.raises(lupa.LuaMemoryError):
        lua.execute("return #string.rep('x', 2000000)")
    lua.set_max_memory(0)
    assert lua.get_max_memory() is None and lua.get_max_memory(total=True) is None
    assert lua.execute("return #string.rep('x', 2000000)") == 2000000
