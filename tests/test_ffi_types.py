"""The C types the package names by strings are parsed once, when a backend
loads (_backend.C_TYPES).  PyPy's cffi parses a type string it has not seen
into one buffer per ffi with the GIL released: two threads parsing different
strings at once could get each other's types (seen as "'int' object has no
attribute 'tag'" and KeyErrors in the threaded identity stress test)."""

import ast
import glob
import os
import re
import textwrap


import lupacffi
from helpers import run_ok_child
from lupacffi._backend import C_TYPES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = sorted(glob.glob(os.path.join(ROOT, "src", "lupacffi", "*.py")))

# a string that names one of the C types the package uses
LOOKS_LIKE_A_C_TYPE = re.compile(
    r"^(lc_val|lc_column|char|int|double|long long|size_t|uintptr_t)( ?\*+| ?\[\d*\])*$"
)
# ffi methods whose first argument may be a type string
TYPE_TAKING = {"new", "cast", "sizeof", "typeof", "alignof", "offsetof"}


def string_constants(path):
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_every_type_string_in_the_sources_is_parsed_at_load():
    missing = [
        "%s:%d %r" % (os.path.basename(path), line, value)
        for path in SOURCES
        for line, value in string_constants(path)
        if LOOKS_LIKE_A_C_TYPE.match(value) and value not in C_TYPES
    ]
    assert missing == [], "add these to _backend.C_TYPES"


def test_type_strings_are_never_computed():
    # a type string built at run time ("lc_val[%d]" % n) would be parsed
    # again for each new value, beside other threads
    computed = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(open(path).read())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in TYPE_TAKING
                and "ffi" in ast.unparse(node.func.value)
                and node.args
                and not isinstance(node.args[0], ast.Constant)
                and ast.unparse(node.args[0]) != "cdecl"  # (the loop over C_TYPES)
            ):
                computed.append("%s:%d" % (os.path.basename(path), node.lineno))
    assert computed == []


def test_the_list_holds_only_types_the_sources_use():
    used = {value for path in SOURCES for _, value in string_constants(path)}
    backend_source = os.path.join(ROOT, "src", "lupacffi", "_backend.py")
    elsewhere = {
        value for path in SOURCES if path != backend_source for _, value in string_constants(path)
    }
    assert set(C_TYPES) <= used
    unused = sorted(set(C_TYPES) - elsewhere - {"char[]"})  # (from_buffer's default)
    assert unused == []


def test_each_type_parses_in_every_backend(lupa):
    ffi = lupa.LuaRuntime()._ffi
    for cdecl in C_TYPES:
        ffi.typeof(cdecl)  # (a typo would raise cffi's parse error)


def test_threads_first_using_a_backend_get_the_right_types():
    # a fresh interpreter: every backend loads while eight threads start at
    # once, each making every listed type as soon as it can
    script = textwrap.dedent(
        """
        import importlib
        import threading
        from lupacffi._backend import C_TYPES

        names = %r
        barrier = threading.Barrier(8)
        wrong = []

        def worker(k):
            barrier.wait()
            for name in names:
                ffi = importlib.import_module("lupacffi." + name).LuaRuntime()._ffi
                for cdecl in C_TYPES[k %% 4 :] + C_TYPES[: k %% 4]:
                    ctype = ffi.typeof(cdecl)
                    if ctype.kind == "array":
                        made = ffi.typeof(ffi.new(cdecl, 3 if ctype.length is None else None))
                    elif ctype.kind == "pointer":
                        made = ffi.typeof(ffi.new(cdecl))
                    else:
                        made = ctype
                    if made is not ctype or ffi.typeof(cdecl) is not ctype:
                        wrong.append((name, cdecl, ctype.cname, made.cname))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("ok" if not wrong else wrong)
        """
        % (lupacffi.available_backends(),)
    )
    run_ok_child(script, timeout=300)


def test_a_backend_parses_every_listed_type_as_it_loads(lupa):
    # in a fresh interpreter (loading a backend twice would register its
    # callbacks twice): the backend's ffi records what it is asked to parse
    script = textwrap.dedent(
        """
        import importlib
        import types
        from lupacffi import _backend

        real = importlib.import_module("lupacffi._lua_%s")
        asked = []

        class Recording(object):
            def __init__(self, ffi):
                self._ffi = ffi

            def __getattr__(self, name):
                value = getattr(self._ffi, name)
                if name in ("new", "cast", "typeof", "sizeof"):
                    def recorded(*args, **kwargs):
                        if args and isinstance(args[0], str):
                            asked.append(args[0])
                        return value(*args, **kwargs)
                    return recorded
                return value

        stub = types.SimpleNamespace(ffi=Recording(real.ffi), lib=real.lib)
        _backend.importlib = types.SimpleNamespace(import_module=lambda name: stub)
        _backend.Backend("%s")
        missing = sorted(set(_backend.C_TYPES) - set(asked))
        print("ok" if not missing else missing)
        """
        % (lupa.LuaRuntime._backend_name, lupa.LuaRuntime._backend_name)
    )
    run_ok_child(script, timeout=300)
