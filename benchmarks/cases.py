"""The benchmark cases, written once against the lupa API.

Each case is ``setup(lupa) -> run``: ``lupa`` is a backend module (``lupa.lua54``,
``lupacffi.luajit21``, ...) and ``run(n)`` performs ``n`` operations.  Operations
per ``run(1)`` other than one are given as ``unit`` (the timer divides by
``n * unit``).

run.py loads this file once per library (two module objects), so that on PyPy
each library gets its own code objects and JIT traces.
"""

import struct
from operator import countOf
import threading

CASES = []


class Case(object):
    def __init__(self, name, what, func, kind="crossing", unit=1, heavy=False, threaded=False):
        self.name = name  # short id, used by --filter
        self.what = what  # what one operation is
        self.func = func
        self.floor = None  # floor(lupacffi backend) -> run: see floor() below
        self.frame_floor = None  # the same, see frame_floor() below
        self.kind = kind  # "crossing", "bulk" (100k / 1 MB) or "compute"
        self.unit = unit
        self.heavy = heavy  # one operation takes milliseconds
        self.threaded = threaded  # runs threads (process CPU time is no measure)


def case(name, what, **kw):
    def deco(func):
        CASES.append(Case(name, what, func, **kw))
        return func

    return deco


def floor(name):
    """The floor of a crossing case: the same loop around a bare cffi call,
    with the argument and result types of the case's C entry point, into a C
    function that does nothing (csrc/lc_floor.c).  What cffi itself costs
    per operation: lupacffi cannot go below it."""

    def deco(func):
        next(c for c in CASES if c.name == name).floor = func
        return func

    return deco


def frame_floor(name):
    """The floor of a crossing case for a pure-Python wrapper class (the
    design lupacffi follows): the floor's C call made from one method of a
    slotted wrapper (below), doing only what such a wrapper cannot skip."""

    def deco(func):
        next(c for c in CASES if c.name == name).frame_floor = func
        return func

    return deco


class _FloorRuntime(object):
    __slots__ = ("_ptr", "_entry")

    def __init__(self, ptr, entry):
        self._ptr = ptr  # read on every call: a runtime can be closed
        self._entry = entry


class _FloorWrapper(object):
    """The least a lupa-like wrapper of a Lua value does per operation in
    Python: one method frame, its runtime and reference read from slots, the
    state pointer and the entry point read from the runtime, one C call, and
    an int result decoded from the packed return value (csrc/lc_types.h).
    No argument checks and no other result kinds.  lupa's wrappers answer
    unknown attributes (``t.name`` reads the table; a function raises
    AttributeError with lupa's message), so the class has a ``__getattr__``,
    as lupacffi's; on CPython 3.11 that takes the slot reads off the
    specialised path."""

    __slots__ = ("_rt", "_ref")

    def __init__(self, rt, ref):
        self._rt = rt
        self._ref = ref

    def __getattr__(self, name):
        raise AttributeError(name)

    def __call__(self, x):
        rt = self._rt
        r = rt._entry(rt._ptr, self._ref, x)
        return r >> 3 if r & 7 == 0 else None

    send = __call__

    def __getitem__(self, key):
        rt = self._rt
        if type(key) is str:
            key = key.encode("utf-8")
            r = rt._entry(rt._ptr, self._ref, key, len(key))
        else:
            r = rt._entry(rt._ptr, self._ref, key)
        return r >> 3 if r & 7 == 0 else None

    def __setitem__(self, key, value):
        rt = self._rt
        if rt._entry(rt._ptr, self._ref, key, value << 3):
            raise RuntimeError("the floor function failed")


_PACK_5MIXED = struct.Struct("<qdq??").pack


class _FloorWrapperPacked(_FloorWrapper):
    """The same for call_5mixed's arguments, packed as lupacffi packs them on
    CPython (lc_call_p), their types known beforehand: no per-argument type
    test, only the str encoded and the values packed."""

    __slots__ = ()

    def __call__(self, *args):
        rt = self._rt
        s = args[2].encode("utf-8")
        data = _PACK_5MIXED(args[0], args[1], len(s), args[3], args[4])
        r = rt._entry(rt._ptr, self._ref, 5, b"idsbn", data, s)
        return r >> 3 if r & 7 == 0 else None


class _FloorWrapperVals(_FloorWrapper):
    """The same on PyPy, where lupacffi fills lc_call's lc_val array field by
    field (the JIT makes that cheap there), the types known beforehand."""

    __slots__ = ("_vals", "_ffi")

    def __call__(self, *args):
        from lupacffi._constants import BOOL, FLOAT, INT, NIL, STR

        rt, v = self._rt, self._vals
        v[0].tag = INT
        v[0].i = args[0]
        v[1].tag = FLOAT
        v[1].d = args[1]
        s = self._ffi.new("char[]", args[2].encode("utf-8"))
        v[2].tag = STR
        v[2].s = s
        v[2].i = len(s) - 1
        v[3].tag = BOOL
        v[3].i = args[3]
        v[4].tag = NIL
        r = rt._entry(rt._ptr, self._ref, v, 5)
        return r >> 3 if r & 7 == 0 else None


def _packs_args():
    """Whether lupacffi packs several arguments with struct (CPython)."""
    from lupacffi import _convert

    return _convert._PACK_ARGS


def _frame_floor_wrapper(lupa, entry_name, wrapper=_FloorWrapper):
    lua, lib, ptr, f = _floor_lib(lupa)
    w = wrapper(_FloorRuntime(ptr, getattr(lib, entry_name)), f._ref)
    if wrapper is _FloorWrapperVals:
        w._ffi = lua._ffi
        w._vals = lua._ffi.new("lc_val[]", 5)
    return w


def _floor_lib(lupa, code="function(x) return x end"):
    lua = lupa.LuaRuntime()
    f = lua.eval(code)
    return lua, lua._lib, lua._ptr, f


# ---- Python -> Lua calls ----------------------------------------------------


@case("call_1int", "Python->Lua call f(i), one int argument")
def call_1int(lupa):
    lua = lupa.LuaRuntime()
    f = lua.eval("function(x) return x end")

    def run(n):
        for i in range(n):
            f(i)

    return run


@floor("call_1int")
def call_1int_floor(lupa):
    lua, lib, ptr, f = _floor_lib(lupa)
    call, ref = lib.lc_floor_call_i, f._ref

    def run(n):
        for i in range(n):
            call(ptr, ref, i)

    return run


@frame_floor("call_1int")
def call_1int_frame_floor(lupa):
    f = _frame_floor_wrapper(lupa, "lc_floor_call_i")

    def run(n):
        for i in range(n):
            f(i)

    return run


@case("call_5mixed", "Python->Lua call f(i, 1.5, 'abc', True, None)")
def call_5mixed(lupa):
    lua = lupa.LuaRuntime()
    f = lua.eval("function(a, b, c, d, e) return a end")

    def run(n):
        for i in range(n):
            f(i, 1.5, "abc", True, None)

    return run


@floor("call_5mixed")
def call_5mixed_floor(lupa):
    lua, lib, ptr, f = _floor_lib(lupa)
    ref = f._ref
    if _packs_args():  # CPython: what lc_call_p takes, packed beforehand
        call, data = lib.lc_floor_call_p, _PACK_5MIXED(0, 1.5, 3, True, None)

        def run(n):
            for i in range(n):
                call(ptr, ref, 5, b"idsbn", data, b"abc")

    else:  # PyPy: the lc_val array of lc_call
        call, args = lib.lc_floor_call, lua._ffi.new("lc_val[]", 5)

        def run(n):
            for i in range(n):
                call(ptr, ref, args, 5)

    return run


@frame_floor("call_5mixed")
def call_5mixed_frame_floor(lupa):
    if _packs_args():
        f = _frame_floor_wrapper(lupa, "lc_floor_call_p", _FloorWrapperPacked)
    else:
        f = _frame_floor_wrapper(lupa, "lc_floor_call", _FloorWrapperVals)

    def run(n):
        for i in range(n):
            f(i, 1.5, "abc", True, None)

    return run


@case("eval_small", "lua.eval('1 + 2')")
def eval_small(lupa):
    lua = lupa.LuaRuntime()
    ev = lua.eval

    def run(n):
        for _ in range(n):
            ev("1 + 2")

    return run


@floor("eval_small")
def eval_small_floor(lupa):
    lua, lib, ptr, f = _floor_lib(lupa)
    call, ref, null = lib.lc_floor_call, f._ref, lua._ffi.NULL

    def run(n):
        for _ in range(n):
            call(ptr, ref, null, 0)

    return run


@case("call_3results", "Python->Lua call f() returning 1, 'abc', 2.5")
def call_3results(lupa):
    lua = lupa.LuaRuntime()
    f = lua.eval("function() return 1, 'abc', 2.5 end")

    def run(n):
        for _ in range(n):
            f()

    return run


# ---- Lua -> Python ------------------------------------------------------------


@case("callback", "Lua->Python call cb(i) in a Lua loop, per call")
def callback(lupa):
    lua = lupa.LuaRuntime()
    loop = lua.eval("function(cb, n) for i = 1, n do cb(i) end end")

    def cb(x):
        return x

    def run(n):
        loop(cb, n)

    return run


@floor("callback")
def callback_floor(lupa):
    lua, lib, ptr, f = _floor_lib(lupa)
    register = lua._ffi.def_extern(name="lc_py_floor_call1")

    def nothing(rid, handle, arg):
        return 0

    def run(n):
        register(nothing)  # (each run: the frame floor registers its own)
        lib.lc_floor_call1s(n, 1)

    return run


class _FloorDispatch(object):
    """The least a Python dispatcher of lupacffi's scalar callbacks
    (lc_py_call1, lc_py_index) does: find the runtime by its number (the
    callbacks are one per backend, the runtimes many), the object by its
    handle, the name by its number; call it or read the attribute; pack an
    int result.  No checks, no other kinds of values, no error handling."""

    def __init__(self, obj, name):
        self.runtimes = {0: self}
        self._objects = {1: obj}
        self._names = {1: name}

    # Called from lc_floor_lua_loop: a Lua loop calling or indexing a
    # userdata whose metamethod is a C function calling the callback, which
    # is Lua's own part of these rows (lupa's time holds it too).

    def call1(self, lib, register, ptr, n):
        runtimes = self.runtimes

        def call1(rid, handle, arg):
            return runtimes[rid]._objects[handle](arg) << 3

        register(call1)
        if lib.lc_floor_lua_loop(ptr, n, 0) != 0:
            raise RuntimeError("the floor's Lua loop failed")

    def index(self, lib, register, ptr, n):
        runtimes = self.runtimes

        def index(rid, handle, name):
            rt = runtimes[rid]
            return getattr(rt._objects[handle], rt._names[name]) << 3

        register(index)
        if lib.lc_floor_lua_loop(ptr, n, 1) != 0:
            raise RuntimeError("the floor's Lua loop failed")


@frame_floor("callback")
def callback_frame_floor(lupa):
    lua, lib, ptr, f = _floor_lib(lupa)
    register = lua._ffi.def_extern(name="lc_py_floor_call1")

    def cb(x):
        return x

    dispatch = _FloorDispatch(cb, None)

    def run(n, lua=lua):  # (lua: the runtime must outlive the floor)
        dispatch.call1(lib, register, ptr, n)

    return run


class _Obj(object):
    pass


@case("py_attr", "Lua reads o.attr of a Python object in a Lua loop, per read")
def py_attr(lupa):
    lua = lupa.LuaRuntime()
    loop = lua.eval("function(o, n) local x for i = 1, n do x = o.attr end return x end")
    obj = _Obj()
    obj.attr = 42

    def run(n):
        loop(obj, n)

    return run


@floor("py_attr")
def py_attr_floor(lupa):
    lua, lib, ptr, f = _floor_lib(lupa)
    register = lua._ffi.def_extern(name="lc_py_floor_index")

    def nothing(rid, handle, name):
        return 0

    def run(n):
        register(nothing)
        lib.lc_floor_indexes(n, 1, 1)

    return run


@frame_floor("py_attr")
def py_attr_frame_floor(lupa):
    lua, lib, ptr, f = _floor_lib(lupa)
    register = lua._ffi.def_extern(name="lc_py_floor_index")
    obj = _Obj()
    obj.attr = 42
    dispatch = _FloorDispatch(obj, "attr")

    def run(n, lua=lua):  # (lua: the runtime must outlive the floor)
        dispatch.index(lib, register, ptr, n)

    return run


# ---- tables -----------------------------------------------------------------


@case("getitem", "t[5] on a Lua table from Python (int key)")
def getitem(lupa):
    lua = lupa.LuaRuntime()
    t = lua.table_from(list(range(100)))

    def run(n):
        for _ in range(n):
            t[5]

    return run


@floor("getitem")
def getitem_floor(lupa):
    lua, lib, ptr, f = _floor_lib(lupa)
    get, ref = lib.lc_floor_call_i, f._ref

    def run(n):
        for _ in range(n):
            get(ptr, ref, 5)

    return run


@frame_floor("getitem")
def getitem_frame_floor(lupa):
    # (with what the read needs in C whatever the wrapper: the runtime's
    # lock and Lua's own reads, lc_floor_getitem_i)
    lua, lib, ptr, table = _floor_lib(lupa, "{0, 1, 2, 3, 4, 5, 6}")
    t = _FloorWrapper(_FloorRuntime(ptr, lib.lc_floor_getitem_i), table._ref)

    def run(n, lua=lua, table=table):  # (both must outlive the floor)
        for _ in range(n):
            t[5]

    return run


@case("getitem_str", "t['name'] on a Lua table from Python (str key)")
def getitem_str(lupa):
    lua = lupa.LuaRuntime()
    t = lua.table_from({"name": 1, "other": 2})

    def run(n):
        for _ in range(n):
            t["name"]

    return run


@floor("getitem_str")
def getitem_str_floor(lupa):
    lua, lib, ptr, f = _floor_lib(lupa)
    get, ref = lib.lc_floor_getitem_s, f._ref

    def run(n):
        for _ in range(n):
            get(ptr, ref, b"name", 4)

    return run


@frame_floor("getitem_str")
def getitem_str_frame_floor(lupa):
    t = _frame_floor_wrapper(lupa, "lc_floor_getitem_s")

    def run(n):
        for _ in range(n):
            t["name"]

    return run


@case("setitem", "t[5] = i on a Lua table from Python")
def setitem(lupa):
    lua = lupa.LuaRuntime()
    t = lua.table_from(list(range(100)))

    def run(n):
        for i in range(n):
            t[5] = i

    return run


_LIST_100K = list(range(100000))
_DICT_100K = {"k%d" % i: i for i in range(100000)}


@floor("setitem")
def setitem_floor(lupa):
    lua, lib, ptr, f = _floor_lib(lupa)
    put, ref = lib.lc_floor_setitem_i, f._ref

    def run(n):
        for i in range(n):
            put(ptr, ref, 5, i << 3)

    return run


@frame_floor("setitem")
def setitem_frame_floor(lupa):
    # (with what the write needs in C whatever the wrapper: the runtime's
    # lock and Lua's own write, lc_floor_setitem_lua)
    lua, lib, ptr, table = _floor_lib(lupa, "{0, 1, 2, 3, 4, 5, 6}")
    t = _FloorWrapper(_FloorRuntime(ptr, lib.lc_floor_setitem_lua), table._ref)

    def run(n, lua=lua, table=table):  # (both must outlive the floor)
        for i in range(n):
            t[5] = i

    return run


@case("table_from_list", "lua.table_from(list of 100k ints)", kind="bulk", heavy=True)
def table_from_list(lupa):
    lua = lupa.LuaRuntime()
    lst = _LIST_100K

    def run(n):
        for _ in range(n):
            lua.table_from(lst)

    return run


@case("table_from_dict", "lua.table_from(dict of 100k str->int)", kind="bulk", heavy=True)
def table_from_dict(lupa):
    lua = lupa.LuaRuntime()
    d = _DICT_100K

    def run(n):
        for _ in range(n):
            lua.table_from(d)

    return run


@frame_floor("table_from_list")
def table_from_list_frame_floor(lupa):
    """The least a Python binding does to hand the list to C in one buffer:
    check that every item is an exact int (a bool, a float or any other
    object converts differently) and pack them; no Lua at all."""
    lst = _LIST_100K

    def run(n):
        for _ in range(n):
            if countOf(map(type, lst), int) == len(lst):
                struct.pack("%dq" % len(lst), *lst)

    return run


@frame_floor("table_from_dict")
def table_from_dict_frame_floor(lupa):
    """The same for the dict: its keys and values as lists, each checked to
    be all strs / all ints, the keys encoded as one text with their lengths
    packed, the values packed; then Lua's own work, which lupa does as well:
    the table filled from those buffers in C (lc_fill_columns: for each pair
    the key pushed, the value pushed, a raw set; most of it Lua interning the
    keys)."""
    from lupacffi._constants import COL_INT, COL_STR, LUA_NOREF

    lua = lupa.LuaRuntime()
    ffi, lib, ptr = lua._ffi, lua._lib, lua._ptr
    d = _DICT_100K
    out = ffi.new("lc_val[2]")

    def run(n, lua=lua):  # (the runtime lives as long as run)
        for _ in range(n):
            keys, values = list(d), list(d.values())
            kcol, vcol = ffi.new("lc_column *"), ffi.new("lc_column *")
            if countOf(map(type, keys), str) == len(keys):
                text = ffi.from_buffer("".join(keys).encode("utf-8"))
                lengths = ffi.from_buffer(
                    "long long[]", struct.pack("%dq" % len(keys), *map(len, keys))
                )
                kcol.kind, kcol.bytes, kcol.ints = COL_STR, text, lengths
            if countOf(map(type, values), int) == len(values):
                ints = ffi.from_buffer("long long[]", struct.pack("%dq" % len(values), *values))
                vcol.kind, vcol.ints = COL_INT, ints
            lib.lc_fill_columns(ptr, LUA_NOREF, len(keys), kcol, vcol, 0, len(keys), out)
            lib.lc_unref(ptr, out[0].i)

    return run


@case("items_100k", "for k, v in t.items() over a 100k-entry table", kind="bulk", heavy=True)
def items_100k(lupa):
    lua = lupa.LuaRuntime()
    t = lua.execute("local t = {} for i = 1, 100000 do t[i] = i end return t")

    def run(n):
        for _ in range(n):
            for k, v in t.items():
                pass

    return run


@case("items_small", "for k, v in t.items() over a 3-entry table, per table")
def items_small(lupa):
    lua = lupa.LuaRuntime()
    t = lua.eval("{a = 1, b = 'two', c = 3.5}")

    def run(n):
        for _ in range(n):
            for k, v in t.items():
                pass

    return run


class _FloorItems(object):
    """A Python iterator of (key, value) pairs over batches of 512 pairs of
    ints read from a C buffer (ffi.unpack), the way lupacffi's items() reads
    Lua's: one __next__ frame per item, a tuple and two ints per item.  The
    batches come from Lua's own traversal of the table (lc_floor_next_ints:
    lua_next and the ints read), which lupa's time holds too."""

    __slots__ = ("_batch", "_ffi", "_column", "_next", "_ptr", "_ref", "_done")

    def __init__(self, ffi, column, next_ints, ptr, ref):
        self._ffi, self._column, self._batch, self._done = ffi, column, [], False
        self._next, self._ptr, self._ref = next_ints, ptr, ref

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return self._batch.pop()
        except IndexError:
            if self._done:
                raise StopIteration
            n = self._next(self._ptr, self._ref, self._column, 512)
            self._done = n < 512
            if n == 0:
                raise StopIteration
            values = iter(self._ffi.unpack(self._column, 2 * n))
            batch = list(zip(values, values))
            batch.reverse()
            self._batch = batch
            return batch.pop()


@frame_floor("items_100k")
def items_100k_frame_floor(lupa):
    lua = lupa.LuaRuntime()
    t = lua.execute("local t = {} for i = 1, 100000 do t[i] = i end return t")
    ffi, next_ints = lua._ffi, lua._lib.lc_floor_next_ints
    column = ffi.new("long long[]", 1024)

    def run(n, t=t, lua=lua):  # (the table and its runtime outlive the floor)
        for _ in range(n):
            for k, v in _FloorItems(ffi, column, next_ints, lua._ptr, t._ref):
                pass

    return run


# ---- strings ----------------------------------------------------------------

_STR_1MB = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20000)[:1000000]
_BYTES_1MB = bytes(range(256)) * 3906 + bytes(range(64))


@case("str_1mb", "identity(s), s a 1 MB str (UTF-8 both ways)", kind="bulk")
def str_1mb(lupa):
    lua = lupa.LuaRuntime()
    f = lua.eval("function(s) return s end")
    s = _STR_1MB

    def run(n):
        for _ in range(n):
            f(s)

    return run


@frame_floor("str_1mb")
def str_1mb_frame_floor(lupa):
    """What Python itself must do with the string: encode it (cffi takes no
    str), and decode the result from C memory; and what Lua itself does: one
    copy into a new block (lua_pushlstring; lc_floor_copy)."""
    lua = lupa.LuaRuntime()
    ffi, copy, s = lua._ffi, lua._lib.lc_floor_copy, _STR_1MB

    def run(n):
        for _ in range(n):
            data = s.encode("utf-8")
            str(ffi.buffer(copy(data, len(data)), len(data)), "utf-8")

    return run


@case("bytes_1mb", "identity(b), b 1 MB bytes, encoding=None", kind="bulk")
def bytes_1mb(lupa):
    lua = lupa.LuaRuntime(encoding=None)
    f = lua.eval("function(s) return s end")
    b = _BYTES_1MB

    def run(n):
        for _ in range(n):
            f(b)

    return run


@frame_floor("bytes_1mb")
def bytes_1mb_frame_floor(lupa):
    """Lua's one copy of the argument (lc_floor_copy, as in str_1mb), and
    the result made into bytes from that C memory (the argument itself
    crosses without a copy)."""
    lua = lupa.LuaRuntime()
    ffi, copy, b = lua._ffi, lua._lib.lc_floor_copy, _BYTES_1MB

    def run(n):
        for _ in range(n):
            ffi.unpack(copy(b, len(b)), len(b))

    return run


# ---- coroutines and wrappers ------------------------------------------------


@case("coroutine_send", "co.send(i) to a Lua coroutine that yields it back")
def coroutine_send(lupa):
    lua = lupa.LuaRuntime()
    gen = lua.eval(
        "function() local x = coroutine.yield() while true do x = coroutine.yield(x) end end"
    )
    co = gen.coroutine()
    co.send(None)  # runs up to the first yield

    def run(n):
        send = co.send
        for i in range(n):
            send(i)

    return run


@floor("coroutine_send")
def coroutine_send_floor(lupa):
    return call_1int_floor(lupa)


@frame_floor("coroutine_send")
def coroutine_send_frame_floor(lupa):
    co = _frame_floor_wrapper(lupa, "lc_floor_call_i")

    def run(n):
        send = co.send
        for i in range(n):
            send(i)

    return run


@case(
    "resume_in_lua",
    "coroutine.resume(co, i) in a Lua loop: what Lua itself spends on a send",
    kind="compute",
)
def resume_in_lua(lupa):
    lua = lupa.LuaRuntime()
    loop = lua.eval(
        """function(n)
        local co = coroutine.create(function()
            local x = coroutine.yield() while true do x = coroutine.yield(x) end end)
        coroutine.resume(co)
        local resume = coroutine.resume
        for i = 1, n do resume(co, i) end end"""
    )

    def run(n):
        loop(n)

    return run


@case("wrappers_10k", "a new Lua table wrapper, 10k made then dropped, per wrapper", unit=10000)
def wrappers_10k(lupa):
    lua = lupa.LuaRuntime()
    f = lua.eval("function() return {} end")

    def run(n):
        for _ in range(n):
            held = [f() for _ in range(10000)]
            del held

    return run


@floor("wrappers_10k")
def wrappers_10k_floor(lupa):
    # a no-argument call and the release of its reference
    lua, lib, ptr, f = _floor_lib(lupa)
    call, ref, null = lib.lc_floor_call, f._ref, lua._ffi.NULL

    def run(n):
        for _ in range(n):
            for _ in range(10000):
                call(ptr, ref, null, 0)
                call(ptr, ref, null, 0)

    return run


class _FloorTable(_FloorWrapper):
    """A wrapper of a Lua value that releases its reference when it dies."""

    __slots__ = ()

    def __del__(self):
        rt = self._rt
        rt._release(rt._ptr, self._ref, 0)


class _FloorMakerRuntime(_FloorRuntime):
    __slots__ = ("_release",)

    def __init__(self, ptr, entry, release):
        _FloorRuntime.__init__(self, ptr, entry)
        self._release = release


class _FloorMaker(_FloorWrapper):
    """f() of wrappers_10k: a call without arguments whose result is a new
    _FloorTable (its reference decoded from the packed result)."""

    __slots__ = ()

    def __call__(self):
        rt = self._rt
        r = rt._entry(rt._ptr, self._ref, 5 << 3)
        return _FloorTable(rt, r >> 3)


@frame_floor("wrappers_10k")
def wrappers_10k_frame_floor(lupa):
    # with Lua's own part, as lupa has it: the function called under
    # lua_pcall, its result referenced in the registry, and released
    lua, lib, ptr, lua_f = _floor_lib(lupa, "function() return {} end")
    rt = _FloorMakerRuntime(ptr, lib.lc_floor_lua_call, lib.lc_floor_lua_unref)
    f = _FloorMaker(rt, lua_f._ref)
    keep = (lua, lua_f)  # (the runtime and the function must outlive the floor)

    def run(n):
        assert keep
        for _ in range(n):
            held = [f() for _ in range(10000)]
            del held

    return run


@case("runtime_cycle", "LuaRuntime() + eval('1 + 1') + drop it", heavy=True)
def runtime_cycle(lupa):
    make = lupa.LuaRuntime

    def run(n):
        for _ in range(n):
            make().eval("1 + 1")

    return run


# ---- threads ----------------------------------------------------------------

# The Mandelbrot example of lupa's project description (Computer Language
# Benchmarks Game), each call computing lines [start_line, end_line] of an
# N x N bitmap; `unpack` covers LuaJIT, which has no table.unpack.
MANDELBROT = """\
function(N, i, total)
    local char, unpack = string.char, table.unpack or unpack
    local result = ""
    local M, ba, bb, buf = 2/N, 2^(N%8+1)-1, 2^(8-N%8), {}
    local start_line, end_line = N/total * (i-1), N/total * i - 1
    for y=start_line,end_line do
        local Ci, b, p = y*M-1, 1, 0
        for x=0,N-1 do
            local Cr = x*M-1.5
            local Zr, Zi, Zrq, Ziq = Cr, Ci, Cr*Cr, Ci*Ci
            b = b + b
            for i=1,49 do
                Zi = Zr*Zi*2 + Ci
                Zr = Zrq-Ziq + Cr
                Ziq = Zi*Zi
                Zrq = Zr*Zr
                if Zrq+Ziq > 4.0 then b = b + 1; break; end
            end
            if b >= 256 then p = p + 1; buf[p] = 511 - b; b = 1; end
        end
        if b ~= 1 then p = p + 1; buf[p] = (ba-b)*bb; end
        result = result .. char(unpack(buf, 1, p))
    end
    return result
end
"""
MANDELBROT_SIZE = 480  # divisible by 1..6 and 8, so the lines split evenly
THREADS = 2  # set by run.py to the number of CPUs (at most 8)


def _mandelbrot_funcs(lupa):
    return [lupa.LuaRuntime(encoding=None).eval(MANDELBROT) for _ in range(THREADS)]


@case(
    "mandelbrot_serial",
    "Mandelbrot 480x480 in THREADS runtimes, one after another",
    kind="compute",
    heavy=True,
)
def mandelbrot_serial(lupa):
    funcs = _mandelbrot_funcs(lupa)
    total = len(funcs)

    def run(n):
        for _ in range(n):
            result = b"".join([f(MANDELBROT_SIZE, i + 1, total) for i, f in enumerate(funcs)])
            assert len(result) == MANDELBROT_SIZE * MANDELBROT_SIZE // 8

    return run


@case(
    "mandelbrot_threads",
    "the same with each runtime in its own thread",
    kind="compute",
    heavy=True,
    threaded=True,
)
def mandelbrot_threads(lupa):
    funcs = _mandelbrot_funcs(lupa)
    total = len(funcs)

    def run(n):
        for _ in range(n):
            results = [None] * total

            def work(i):
                results[i] = funcs[i](MANDELBROT_SIZE, i + 1, total)

            threads = [threading.Thread(target=work, args=(i,)) for i in range(total)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(b"".join(results)) == MANDELBROT_SIZE * MANDELBROT_SIZE // 8

    return run
