from typing import Any, Optional

class LuaError(Exception):
    value: Any

class LuaSyntaxError(LuaError): ...
class LuaMemoryError(LuaError, MemoryError): ...

class LuaLimitError(LuaError):
    limit: Optional[str]
    budget: Optional[float]
    def __init__(
        self, message: str, limit: Optional[str] = ..., budget: Optional[float] = ...
    ) -> None: ...

class LuaInterrupted(LuaLimitError):
    def __init__(self, message: str = ...) -> None: ...
