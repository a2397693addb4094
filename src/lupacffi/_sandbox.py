"""The sandbox preset for untrusted Lua code: ``LuaRuntime(sandbox=True)``.

Two steps, both called by LuaRuntime.__init__:

* sandbox_options() turns the constructor arguments and the ``sandbox``
  argument (True, or a dict of overrides) into the options the runtime is
  created with: safe libraries only, no python.eval / python.builtins, a
  filter that denies private attributes, memory and time limits.
* apply_sandbox() then runs Lua setup code on the new state: it strips the
  global table down to safe functions, locks the metatables every script
  shares, replaces the functions that could load bytecode, register
  finalizers or run unstoppable C loops, and makes every chunk (execute,
  eval, compile, and load() inside Lua) run in an environment of its own.

docs/sandbox.md says what this protects against and what it does not.
"""

import weakref

from ._constants import ERR_MEMORY, ERR_SYNTAX, LUA_NOREF
from .errors import LuaError, LuaMemoryError

# the libraries a sandbox may open ("bit" is LuaJIT's bit / Lua 5.2's bit32)
SAFE_LIBRARIES = ("base", "coroutine", "string", "table", "math", "utf8", "bit")

DEFAULTS = {
    "max_memory": 64 * 1024 * 1024,  # bytes beyond a fresh runtime's use
    "max_time": 5.0,  # seconds per call from Python into Lua
    "max_instructions": None,
    "allow_private_attributes": False,
}

# attribute names (besides those starting with "_") that lead from an object
# to frames, code and globals: generators, coroutines, tracebacks, frames
DENIED_ATTRIBUTES = frozenset(
    [
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "cr_origin",
        "ag_frame",
        "ag_code",
        "ag_await",
        "tb_frame",
        "tb_next",
        "f_back",
        "f_builtins",
        "f_code",
        "f_globals",
        "f_locals",
        "f_trace",
        "func_globals",
        "func_code",
        "func_closure",
        "im_func",
        "im_self",
        "im_class",
        "mro",
    ]
)
# str.format("{0.__class__}", obj) walks attributes inside Python
_FORMAT_ATTRIBUTES = ("format", "format_map")


def sandbox_options(sandbox, libraries, max_memory, max_time, max_instructions, attribute_filter):
    """The runtime options of LuaRuntime(..., sandbox=sandbox), from the
    constructor's own arguments of the same names.

    Sandbox defaults apply where the constructor argument was left at its
    default; the `sandbox` dict overrides the defaults (None switches a limit
    off).  Giving a limit both ways is an error."""
    overrides = _overrides(sandbox)
    settings = dict(DEFAULTS)
    settings.update(overrides)
    args = {"max_memory": max_memory, "max_time": max_time, "max_instructions": max_instructions}
    options = {
        "register_eval": False,
        "register_builtins": False,
        "libraries": _libraries(libraries),
    }
    for key in ("max_memory", "max_time", "max_instructions"):
        given = args[key]
        if given is not None and key in overrides:
            raise ValueError("%s given both as an argument and in sandbox" % key)
        options[key] = given if given is not None else settings[key]
    options["max_memory"] = _memory(options["max_memory"])
    if settings["allow_private_attributes"]:
        options["attribute_filter"] = attribute_filter
    else:
        options["attribute_filter"] = _PrivateFilter(attribute_filter)
    return options


def _overrides(sandbox):
    if sandbox is True:
        return {}
    if not isinstance(sandbox, dict):
        raise TypeError("sandbox must be True, False or a dict of settings")
    unknown = sorted(set(sandbox) - set(DEFAULTS), key=repr)
    if unknown:
        raise ValueError(
            "unknown sandbox setting(s) %s (known: %s)"
            % (", ".join(map(repr, unknown)), ", ".join(sorted(DEFAULTS)))
        )
    return sandbox


def _libraries(libraries):
    if libraries == "all" or libraries is None:
        return list(SAFE_LIBRARIES)
    if isinstance(libraries, (str, bytes)):
        raise TypeError("libraries must be 'all' or a collection of library names")
    names = list(libraries)
    unsafe = sorted(
        set(
            n
            for n in names
            if isinstance(n, str)
            and n not in SAFE_LIBRARIES
            and n in ("package", "io", "os", "debug", "jit", "ffi")
        )
    )
    if unsafe:
        raise ValueError(
            "library %s cannot be opened in a sandbox (safe: %s)"
            % (", ".join(unsafe), ", ".join(SAFE_LIBRARIES))
        )
    if "base" not in names:
        raise ValueError("a sandbox needs the 'base' library")
    return names  # unknown names: LuaRuntime raises ValueError


def _memory(value):
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        raise TypeError("max_memory must be a number or None")
    if value <= 0:  # (plain runtimes take 0 as "no limit", as lupa does)
        raise ValueError("max_memory must be positive (None: no limit)")
    return int(min(value, 2**62))


# ---- attribute access from Lua ------------------------------------------------
def _check_name(obj, name):
    """Raises AttributeError if Lua must not reach attribute `name` of obj."""
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    if not isinstance(name, str):
        return  # not an attribute name: the runtime decides
    if (
        name.startswith("_")
        or name in DENIED_ATTRIBUTES
        or (
            name in _FORMAT_ATTRIBUTES
            and (isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str)))
        )
    ):
        raise AttributeError("access to attribute %r is not allowed in the sandbox" % (name,))


class _PrivateFilter(object):
    """The sandbox's attribute_filter: private and frame-reaching names are
    denied first; then the user's own filter (if any) decides as usual."""

    def __init__(self, user_filter):
        self.user_filter = user_filter

    def __call__(self, obj, name, is_setting):
        _check_name(obj, name)
        if self.user_filter is not None:
            return self.user_filter(obj, name, is_setting)
        return name


def _guarded_handlers(handlers):
    """attribute_handlers with the same denial in front (they replace the
    filter in the runtime, so they are wrapped instead).  A side that is None
    means the runtime's default access, which goes through the filter."""
    getter, setter = handlers

    def get(obj, name):
        _check_name(obj, name)
        return getter(obj, name)

    def set_(obj, name, value):
        _check_name(obj, name)
        return setter(obj, name, value)

    return (None if getter is None else get, None if setter is None else set_)


def _is_abort(value):
    """True for the error value of an abort (KeyboardInterrupt & co)."""
    return isinstance(value, BaseException) and not isinstance(value, Exception)


# ---- the Lua side ------------------------------------------------------------
# Runs once, in the real global table, before any untrusted code.  Returns the
# function that compiles a chunk of text into a fresh environment.
_SETUP = r"""
local puc51, is_abort = ...
local G = _G
local next, type, rawget, rawset, select, error, tostring =
      next, type, rawget, rawset, select, error, tostring
local real_setmetatable, real_getmetatable = setmetatable, getmetatable
local real_load, real_xpcall, real_collectgarbage = load, xpcall, collectgarbage
local real_setfenv = setfenv
local LOCKED = "The metatable is locked"
local MAX_SHIFT = 16777216      -- elements a table function may walk in C

-- metatables that every script shares: getmetatable() gives LOCKED instead
local smt = real_getmetatable("")
if type(smt) == "table" then rawset(smt, "__metatable", LOCKED) end
local pmt = real_getmetatable(python.none)
if type(pmt) == "table" then rawset(pmt, "__metatable", LOCKED) end

-- C functions that run long loops without allocating (no hook runs in C)
local tonumber = tonumber
local function check_count(name, first, last)
  first, last = tonumber(first), tonumber(last)
  if first and last and last - first > MAX_SHIFT then
    error("table." .. name .. ": more than " .. MAX_SHIFT ..
          " elements in one call are not allowed in the sandbox", 3)
  end
end
local string = rawget(G, "string")
if type(string) == "table" then
  string.dump = nil
  local rep = string.rep
  if rep then
    string.rep = function(s, n, sep)          -- Lua 5.1-5.4 loop n times on ""
      if s == "" and (sep == nil or sep == "") and type(n) == "number" and n > 1
          and n % 1 == 0 then
        return ""
      end
      return rep(s, n, sep)
    end
  end
end
local tbl = rawget(G, "table")
if type(tbl) == "table" then                  -- a lying __len (Lua 5.2+)
  local insert, remove, move, concat, sort = tbl.insert, tbl.remove, tbl.move,
                                             tbl.concat, tbl.sort
  if insert then
    tbl.insert = function(t, ...)
      if select("#", ...) >= 2 and type(t) == "table" then
        check_count("insert", (...), #t)
      end
      return insert(t, ...)
    end
  end
  if remove then
    tbl.remove = function(t, ...)
      if select("#", ...) >= 1 and type(t) == "table" then
        check_count("remove", (...), #t)
      end
      return remove(t, ...)
    end
  end
  if move then
    tbl.move = function(a1, f, e, ...)
      check_count("move", f, e)
      return move(a1, f, e, ...)
    end
  end
  if concat then
    tbl.concat = function(t, sep, i, j, ...)
      if type(t) == "table" then
        local first, last = i, j
        if first == nil then first = 1 end
        if last == nil then last = #t end
        check_count("concat", first, last)
      end
      return concat(t, sep, i, j, ...)
    end
  end
  if sort then
    tbl.sort = function(t, ...)
      if type(t) == "table" then check_count("sort", 1, #t) end
      return sort(t, ...)
    end
  end
end

-- base functions, replaced in the global table itself
G.collectgarbage = function(opt, ...)
  if opt == "count" then return real_collectgarbage("count") end
  error("collectgarbage: only \"count\" is allowed in the sandbox", 2)
end
-- finalizers run with hooks off: a loop in one could never be stopped
G.setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("setmetatable: __gc metamethods are not allowed in the sandbox", 2)
  end
  return real_setmetatable(t, mt)
end
-- a stop raised by the hook calls the message handler with hooks off: the
-- handler must not run then, or a loop in it would never end
local function is_stop(e)
  return e == "time limit exceeded" or e == "instruction limit exceeded"
      or (type(e) == "userdata" and is_abort(e))
end
G.xpcall = function(f, handler, ...)
  if type(handler) == "function" then
    local h = handler
    handler = function(e)
      if is_stop(e) then return e end
      return h(e)
    end
  end
  return real_xpcall(f, handler, ...)
end

-- the global table keeps only these; libraries are copied for each chunk
local keep = {assert=1, error=1, getmetatable=1, ipairs=1, next=1, pairs=1, pcall=1,
              print=1, rawequal=1, rawget=1, rawlen=1, rawset=1, select=1,
              setmetatable=1, tonumber=1, tostring=1, type=1, unpack=1, xpcall=1,
              _VERSION=1, collectgarbage=1, gcinfo=1, warn=1}
local libnames = {string=1, table=1, math=1, coroutine=1, utf8=1, bit=1, bit32=1,
                  python=1}
local libs = {}
for k, v in next, G do
  if libnames[k] and type(v) == "table" then
    libs[k] = v
  elseif not keep[k] then
    G[k] = nil                  -- _G, load, loadstring, dofile, getfenv...
  end
end
if libs.python then             -- no set_overflow_handler for scripts
  local p = {}
  for k, v in next, libs.python do
    if k ~= "set_overflow_handler" then p[k] = v end
  end
  libs.python = p
end

-- loading text only, into a given environment
local text_load
if puc51 then
  -- Lua 5.1 has no load modes: a leading space makes any chunk text
  text_load = function(chunk, name, env)
    local first, reader = true, nil
    if type(chunk) == "string" then
      if name == nil then name = chunk end
      local s = chunk
      reader = function()
        if first then first = false; return " " end
        local r = s; s = nil; return r
      end
    elseif type(chunk) == "function" then
      reader = function()
        if first then first = false; return " " end
        return chunk()
      end
    else
      error("bad argument #1 to 'load' (string or function expected, got "
            .. type(chunk) .. ")", 3)
    end
    local f, err = real_load(reader, name)
    if not f then return nil, err end
    return real_setfenv(f, type(env) == "table" and env or {})
  end
elseif real_setfenv then
  -- LuaJIT: an env that is not a table would mean the real globals
  text_load = function(chunk, name, env)
    return real_load(chunk, name, "t", type(env) == "table" and env or {})
  end
else
  text_load = function(chunk, name, env)
    return real_load(chunk, name, "t", env)
  end
end

local function new_env()
  local env = {}
  local function index(_, k)
    local lib = libs[k]
    if lib ~= nil then
      local copy = {}
      for name, v in next, lib do copy[name] = v end
      rawset(env, k, copy)
      return copy
    end
    if k == "_G" then return nil end
    return rawget(G, k)
  end
  env._G = env
  env.load = function(chunk, name, mode, ...)
    if select("#", ...) > 0 then return text_load(chunk, name, (...)) end
    return text_load(chunk, name, env)
  end
  if real_setfenv then
    env.loadstring = function(s, name) return text_load(s, name, env) end
  end
  return real_setmetatable(env, {__index = index})
end

return function(code, name)
  local f, message = text_load(code, name, new_env())
  -- raised rather than returned: an error value reaches Python as bytes,
  -- where a returned message would be decoded (and may not be valid text)
  if f == nil then error(message, 0) end
  return f
end
"""


def apply_sandbox(runtime):
    """Prepares the new state of `runtime` for untrusted code; returns the
    runtime's chunk loader (LuaRuntime._loader, see _chunk_loader)."""
    is_51 = runtime.lua_version == (5, 1) and not runtime._backend.is_luajit
    setup = runtime.compile(_SETUP, name="=sandbox")
    compile_chunk = setup(is_51, _is_abort)
    # Keep the compiler by its registry reference rather than its wrapper:
    # a wrapper stored on the runtime would keep it alive in a cycle.
    ref = compile_chunk._ref
    object.__setattr__(compile_chunk, "_ref", LUA_NOREF)
    handlers = runtime._attribute_handlers
    if handlers is not None and isinstance(runtime._attribute_filter, _PrivateFilter):
        runtime._attribute_handlers = _guarded_handlers(handlers)
    return _chunk_loader(weakref.ref(runtime), ref)


def _chunk_loader(runtime_ref, compile_ref):
    """The sandbox's LuaRuntime._load: chunks are compiled as text only, each into
    an environment of its own."""
    from ._runtime import _DEFAULT_NAME, _as_bytes

    def load(code, name, mode, prefix):
        runtime = runtime_ref()
        code = _as_bytes(code, runtime._source_encoding)
        name = _DEFAULT_NAME if name is None else _as_bytes(name, runtime._source_encoding)
        if mode is not None:
            if not isinstance(mode, (str, bytes)):
                raise ValueError("expected string, got %s" % (type(mode),))
            if "t" not in (mode.decode("ascii", "replace") if isinstance(mode, bytes) else mode):
                raise ValueError("a sandbox loads text chunks only (mode %r)" % (mode,))
        try:
            return runtime._call(compile_ref, (code, name))
        except LuaError as e:
            if type(e) not in (LuaError, LuaMemoryError) or not isinstance(e.value, bytes):
                raise
            message = e.value
        # the status lua_load would have given; _exception maps it (and, as
        # for LuaRuntime._load, prefixes only syntax errors)
        if message == b"not enough memory":
            raise runtime._exception(ERR_MEMORY, message, b"") from None
        raise runtime._exception(ERR_SYNTAX, message, b"", prefix) from None

    return load
