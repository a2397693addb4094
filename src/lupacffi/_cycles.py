"""Reference cycles that run through Lua and Python.

A Python object held by Lua is kept alive by its runtime (``_objects``), and a
Lua value held by Python by the registry reference of its wrapper.  So a cycle
like ``obj.table = lua_table; lua_table.obj = obj`` is invisible to both
garbage collectors: Python sees the runtime holding ``obj``, Lua sees the
registry holding the table.

Before a full Python collection, each idle runtime scans its Lua heap
(``lc_gc_scan`` in csrc/lc_gc.c) for the Python objects that Lua reaches
*only* through wrappers' references, and through which.  Their strong
references move from ``_objects`` onto those wrappers (a list in the
wrapper's ``__luakept__`` slot), so that Python's collector sees the whole
cycle and frees it; the wrappers' finalizers release their references, and
Lua's collector frees the rest.  When the collection ends, or as soon as Lua
is entered again (the C shim calls back with OP_THAW before any Lua runs),
the references of the survivors move back.

CPython runs this around every full collection (``gc.callbacks``), so
``gc.collect()`` frees such cycles.  PyPy has no hook before a collection:
there it runs in ``gccollect()`` when the runtime holds Python objects
besides its own (``before_lua_gc``).  On both, a runtime also runs it, with
a ``gc.collect()`` of its own, when its Python objects have doubled since
the last time (``note_growth``): full collections may be far apart
(CPython 3.13 makes one after some 100,000 new container objects), and
cycles through Lua are freed by full collections only.
"""

import gc
import sys
import time
import weakref

from ._backend import _PYPY, _backends
from ._lua_objects import _LuaObject

_KEPT_SLOT = _LuaObject.__dict__["__luakept__"]  # (bypasses the tables' __getattr__)


class _Window(object):
    """The moved references of one runtime: each wrapper that got some has
    them in its __luakept__ slot."""

    def __init__(self):
        self.wrappers = {}  # registry reference -> weak reference to its wrapper
        self.dead = set()  # references whose wrapper was finalized since

    def wrapper_died(self, ref):
        """The wrapper of registry reference ref is being finalized (on PyPy
        its weak references may still work until it is freed)."""
        self.dead.add(ref)


def _live_runtimes():
    """The runtimes worth a scan: Python objects held, something new since
    the last scan, and not throttled (see _SLOW_SCAN)."""
    runtimes = []
    now = time.monotonic()
    for backend in list(_backends.values()):
        for ref in list(backend.runtimes.values()):
            rt = ref()
            if (
                rt is not None
                and rt._ptr is not None
                and rt._gc_window is None
                and len(rt._objects) > rt._gc_objects_base
                and now >= rt._gc_next_scan
                and rt._lib.lc_gc_pending(rt._ptr)
            ):
                runtimes.append(rt)
    return runtimes


_HEADROOM = 200  # nested Python calls that must still fit when a scan starts


def _has_headroom():
    """Whether _HEADROOM more nested calls fit on the stack.  A scan holds the
    runtime's lock from lc_gc_begin() to lc_gc_end().  At the recursion limit
    (on PyPy: its stack limit, checked in any call) the call that releases it
    can fail, and the lock would stay taken for good: another thread that
    uses or frees that runtime would wait forever.  So no scan starts deep in
    a recursion; the cycles wait for a later collection.

    Two tests: the frames on the stack against the recursion limit, and
    _HEADROOM calls made.  The calls are the exact test on CPython, where
    C code counts against the limit too.  PyPy's limit is on the stack's
    size, and once its JIT has compiled _descend, those calls take almost
    none: they would pass 10 frames short of the limit.  Counting the
    frames is the test there (interpreted frames fail only at ~1.7 times
    the limit: counting errs on the safe side)."""
    limit = sys.getrecursionlimit() - _HEADROOM
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth += 1
        if depth > limit:
            return False
        frame = frame.f_back
    try:
        _descend(_HEADROOM)
    except (RecursionError, TypeError):
        # (PyPy 7.3.11 at its limit may raise "TypeError: couldn't record
        # exception context for exception 'RecursionError'" instead)
        return False
    return True


def _descend(n):
    if n:
        _descend(n - 1)


def freeze(runtimes):
    """Moves the references as described above, for each of runtimes that no
    thread is using; returns those it moved some for."""
    if not runtimes or not _has_headroom():
        return []
    wrappers = {}  # runtime -> {ref: [its wrappers]}
    for obj in gc.get_referrers(*runtimes):
        if isinstance(obj, _LuaObject):
            ref = getattr(obj, "_ref", -1)
            if ref >= 0:
                wrappers.setdefault(obj._rt, {}).setdefault(ref, []).append(obj)
    frozen = []  # (runtime, the window its references moved in)
    try:
        for rt in runtimes:
            by_ref = wrappers.get(rt)
            window = _freeze(rt, by_ref) if by_ref else None
            if window is not None:
                frozen.append((rt, window))
    except BaseException:
        for rt, window in frozen:
            end_window(rt, window)
        raise
    return frozen


_SLOW_SCAN = 0.05  # seconds: a scan this long that moves little (a big Lua
# heap, few cycles) waits ten times as long before the
# next one: at most 10% of the time goes into scans


def _freeze(rt, by_ref):
    lib, ffi, ptr = rt._lib, rt._ffi, rt._ptr
    if ptr is None or time.monotonic() < rt._gc_next_scan or not lib.lc_gc_begin(ptr):
        return None  # busy, or nothing new since the last scan: another time
    if rt._gc_window is not None:  # frozen by another thread since _live_runtimes() looked
        lib.lc_gc_end(ptr, 1)  # (it stays frozen until that thread's window ends)
        return None
    window = None
    try:
        # gc.get_referrers() also finds wrappers whose finalizer is running:
        # their reference may have been released since, and its number given
        # to a new table.  A dying wrapper's _ref is -1 by then (__del__), and
        # under the lock no number is reused until lc_gc_end().
        by_ref = _still_held(by_ref)
        refs = sorted(by_ref)
        pairs = ffi.new("long long **")
        out = ffi.new("lc_val[2]")
        start = time.monotonic()
        n = lib.lc_gc_scan(ptr, ffi.new("int[]", refs), len(refs), pairs, out)
        took = time.monotonic() - start
        if took > _SLOW_SCAN:  # (undone below if the scan moves much)
            rt._gc_next_scan = start + 10 * took
        if n < 0:
            rt._error(n, out)  # (releases the error value; a failed scan moves nothing)
            return None
        if pairs[0] == ffi.NULL:
            return None
        data = ffi.unpack(pairs[0], 2 * n)
        lib.lc_free_buffer(pairs[0])
        reach = {}  # handle -> the references that reach it
        for k in range(0, 2 * n, 2):
            reach.setdefault(data[k + 1], []).append(refs[data[k]])
        window = rt._gc_window = _Window()  # (set first: thaw undoes a partial move)
        objects, wrappers = rt._objects, window.wrappers
        moved = 0
        for h, hrefs in reach.items():
            obj = objects.get(h)
            # (two wrappers of one reference: one of them could die unnoticed)
            if obj is None or any(len(by_ref[ref]) != 1 for ref in hrefs):
                continue
            for ref in hrefs:
                wrapper = by_ref[ref][0]
                if ref in wrappers:
                    try:
                        _KEPT_SLOT.__get__(wrapper).append(obj)
                    except AttributeError:  # (defensive: it should still have the list)
                        _KEPT_SLOT.__set__(wrapper, [obj])
                else:
                    _KEPT_SLOT.__set__(wrapper, [obj])
                    wrappers[ref] = weakref.ref(wrapper)
            del objects[h]
            moved += 1
        if moved * 10 >= len(objects):
            rt._gc_next_scan = 0.0
    except BaseException:
        if window is not None:
            thaw(rt)
            window = None
        raise
    finally:
        if window is not None and not window.wrappers:
            rt._gc_window = window = None
        lib.lc_gc_end(ptr, 1 if window is not None else 0)
    return window


def _still_held(by_ref):
    """by_ref without the wrappers that no longer hold their reference."""
    held = {}
    for ref, found in by_ref.items():
        found = [wrapper for wrapper in found if wrapper._ref == ref]
        if found:
            held[ref] = found
    return held


def end_window(rt, window):
    """The end of the window that this thread's freeze made: thaw() under
    the runtime's lock, if no entry ended the window first.  Without the
    lock, another thread could enter, thaw, let Lua release some of the
    objects and a new freeze move others while this thaw is half-way: it
    would put back objects that Lua no longer holds (never released
    again) and take the new window's (lost: a KeyError when Lua hands
    them over).  When another thread holds the runtime, the window waits
    for the next entry, which ends it (the C shim calls back first)."""
    ptr = rt._ptr
    if rt._gc_window is not window or ptr is None or not rt._lib.lc_gc_relock(ptr):
        return
    try:
        thaw(rt, window)
    finally:
        rt._lib.lc_gc_end(ptr, 1 if rt._gc_window is window else 0)


def thaw(rt, window=None):
    """Moves back the references held by the wrappers that are still alive.
    Runs under the runtime's lock: in an entry (OP_THAW), in _freeze, or
    through end_window.  Given the window a freeze made, only while that
    window is the current one: once it was thawed (before Lua ran again),
    another thread may have frozen the runtime anew, and that window is not
    ours to end."""
    current = rt._gc_window
    if current is None or (window is not None and current is not window):
        return
    window = current
    objects = rt._objects
    for ref, wrapper_ref in list(window.wrappers.items()):
        wrapper = wrapper_ref()
        if wrapper is None:
            continue
        try:
            kept = _KEPT_SLOT.__get__(wrapper)
        except AttributeError:  # (nothing moved onto it after all)
            continue
        if ref not in window.dead:
            for obj in kept:
                if id(obj) not in objects:
                    objects[id(obj)] = obj
        try:
            _KEPT_SLOT.__delete__(wrapper)
        except AttributeError:
            pass
    if rt._gc_window is window:
        rt._gc_window = None
    if rt._ptr is not None:
        rt._lib.lc_gc_thawed(rt._ptr)


def collect_cycles():
    """Frees the cycles through Lua and Python of every runtime (a cycle may
    run through several): scan, move, gc.collect(), move back.  (Lua frees
    its part in its next collection.)"""
    frozen = freeze(_live_runtimes())
    if not frozen:  # nothing to free (or nothing new since the last time)
        return
    try:
        gc.collect()
        if _PYPY:
            gc.collect()  # (PyPy frees what the finalizers released in a second one)
    finally:
        for rt, window in frozen:
            end_window(rt, window)


# ---- when it runs -------------------------------------------------------------
_frozen: list = []  # weak references to the runtimes frozen by _on_gc


def _on_gc(phase, info):
    """CPython's gc.callbacks: around every full collection."""
    global _frozen
    if info.get("generation") != 2:
        return
    if phase == "start":
        _frozen = [(weakref.ref(rt), window) for rt, window in freeze(_live_runtimes())]
    else:
        _thaw_all()


def _thaw_all():
    global _frozen
    frozen, _frozen = _frozen, []
    for ref, window in frozen:
        rt = ref()
        if rt is not None:
            end_window(rt, window)


_GROWTH_FLOOR = 10000  # Python objects held by Lua before the first run


def note_growth(rt):
    """Called when rt holds more Python objects than its mark (a doubling
    since the last time): runs a collection, unless the program turned
    Python's collector off (gc.disable())."""
    rt._gc_objects_mark = 1 << 62  # (no second run from inside this one)
    try:
        if gc.isenabled():
            collect_cycles()
    finally:
        rt._gc_objects_mark = max(_GROWTH_FLOOR, 2 * len(rt._objects))


def before_lua_gc(rt):
    """PyPy: LuaRuntime.gccollect() frees the cycles through Python first
    when rt holds Python objects besides those of its python table."""
    if len(rt._objects) > rt._gc_objects_base and rt._gc_window is None:
        collect_cycles()


def install():
    if not _PYPY and _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)
