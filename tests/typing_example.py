"""A typed program that uses the public API broadly: tests/test_typing.py
checks it with `mypy --strict` (and it runs: tests/test_typing.py runs it too)."""

import asyncio
from typing import Any, Dict, List, Optional, Tuple

import lupacffi
import lupacffi.lua54
import lupacffi.luajit21
from lupacffi import lua51, lua52, lua53, lua55
from lupacffi.errors import LuaError, LuaLimitError, LuaMemoryError, LuaSyntaxError


def attribute_filter(obj: Any, name: Any, is_setting: bool) -> Any:
    if isinstance(name, str) and name.startswith("_"):
        raise AttributeError("private")
    return name


@lupacffi.unpacks_lua_table
def greet(name: str, greeting: str = "hello") -> str:
    return greeting + " " + name


class Greeter:
    @lupacffi.unpacks_lua_table_method
    def greet(self, name: str) -> str:
        return "hi " + name


def basics(lua: lupacffi.LuaRuntime) -> int:
    version: Tuple[int, int] = lua.lua_version
    impl: str = lua.lua_implementation
    assert version >= (5, 1) and impl
    total: int = lua.eval("1 + 1")
    results = lua.execute("return ...", 1, "two", name="=example")
    assert results == (1, "two")
    add = lua.compile("local a, b = ... return a + b", name=b"add", mode="t")
    total += add(40, 2)
    assert lupacffi.lua_type(add) == "function"
    gen = lua.eval("function(n) for i = 1, n do coroutine.yield(i) end end")
    co = gen.coroutine(3)
    first = next(co)
    rest: List[Any] = list(co)
    assert [first] + rest == [1, 2, 3]
    echo = lua.eval("function(a) local b = coroutine.yield(a) return b end")
    thread = echo.coroutine("a")
    assert thread.send(None) == "a" and thread.send("b") == "b" and not thread
    return total


def tables(lua: lupacffi.LuaRuntime) -> Dict[Any, Any]:
    t = lua.table(1, 2, 3, name="lua")
    t[4] = 4
    t.extra = "x"
    del t["extra"]
    assert len(t) == 4 and 1 in t.values() and "name" in t
    g = lua.globals()
    g.greet = greet
    g.greeter = lupacffi.as_attrgetter(Greeter())
    g["items"] = lupacffi.as_itemgetter({"a": 1})
    assert lua.eval("greet{'lua', greeting='hi'}") == "hi lua"
    nested = lua.table_from({"a": [1, 2]}, [3], recursive=True)
    data: Any = lupacffi.to_python(nested, max_depth=None, allow_cycles=False)
    pairs: Dict[Any, Any] = dict(t.items())
    for key in t.keys():
        assert key in pairs
    for key in t:
        assert key in pairs
    assert isinstance(data, dict)
    return pairs


def memory_and_limits() -> Optional[int]:
    lua = lupacffi.lua54.LuaRuntime(
        max_memory=10 * 2**20,
        max_instructions=10**6,
        max_time=2.5,
        encoding=None,
        libraries=["base", "string"],
        register_eval=False,
        register_builtins=False,
        attribute_filter=attribute_filter,
        overflow_handler=float,
        string_hash_seed=42,
    )
    used: int = lua.get_memory_used() + lua.get_memory_used(total=True)
    assert used > 0
    lua.set_max_memory(20 * 2**20, total=False)
    lua.set_limits(max_instructions=None, max_time=1)
    budget: Tuple[Optional[int], Optional[float]] = lua.get_limits()
    assert budget == (None, 1)
    with lua.limits(max_instructions=1000) as limited:
        try:
            limited.execute("while true do end")
        except LuaLimitError as e:
            assert e.limit == "instructions" and e.budget == 1000
    with lua.nogc():
        lua.gccollect()
    lua.set_overflow_handler(None)
    return lua.get_max_memory()


def sandbox_and_errors() -> List[str]:
    seen: List[str] = []
    box = lupacffi.luajit21.LuaRuntime(sandbox={"max_time": 1.0, "max_memory": 8 * 2**20})
    for code in ("x = = 1", "error('boom')", "string.rep('x', 2^26)"):
        try:
            box.execute(code)
        except LuaSyntaxError:
            seen.append("syntax")
        except LuaMemoryError:
            seen.append("memory")
        except LuaError as e:
            seen.append("error" if "boom" in str(e.value) else "other")
    handlers = lupacffi.lua53.LuaRuntime(
        attribute_handlers=(lambda obj, name: getattr(obj, name), None)
    )
    assert handlers.eval("1") == 1
    return seen


async def run_async(lua: lupacffi.LuaRuntime) -> Any:
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    lua.globals().double = double
    a = await lua.eval_async("double(...)", 2)
    b = await lua.execute_async("return double(...)", 3)
    c = await lua.call_async(lua.eval("function(x) return double(x) end"), 4)
    return (a, b, c)


def modules() -> List[str]:
    names: List[str] = lupacffi.available_backends()
    for module in (lua51, lua52, lua53, lua55):
        version: Tuple[int, int] = module.LUA_VERSION
        assert version[0] == 5 and module.LUA_MAXINTEGER > module.LUA_MININTEGER
    with lupacffi.allow_lua_module_loading():
        pass
    assert lupacffi.__version__ and lupacffi.BACKEND_MODULES
    return names


def main() -> None:
    lua = lupacffi.LuaRuntime()
    assert basics(lua) == 44
    assert tables(lua)["name"] == "lua"
    memory_and_limits()
    assert sandbox_and_errors() == ["syntax", "error", "memory"]
    assert asyncio.run(run_async(lupacffi.lua54.LuaRuntime())) == (4, 6, 8)
    modules()


if __name__ == "__main__":
    main()
