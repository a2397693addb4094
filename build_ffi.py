"""Builds the cffi backends: one module ``lupacffi._lua_<ver>`` per Lua.

Every backend is the same C shim (``csrc/``) compiled against a different Lua:
the vendored sources under ``vendor/`` (see ``vendor/fetch.py``), or, where
those are missing, a system Lua found through pkg-config.  A backend with
neither is skipped with a message.
"""

import os
import shutil
import subprocess
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(HERE, "csrc")

# The shim's C files, in the order they are included into one translation unit.
SHIM_SOURCES = [
    "lc_alloc.c",
    "lc_counts.c",
    "lc_convert.c",
    "lc_traceback.c",
    "lc_hook.c",
    "lc_runtime.c",
    "lc_ops.c",
    "lc_pycall.c",
    "lc_pyobject.c",
    "lc_gc.c",
    "lc_floor.c",
]
CDEF_HEADERS = ["lc_types.h", "lc_api.h", "lc_callbacks.h", "lc_floor.h"]

# backend -> (vendored source dir, pkg-config names of a system Lua)
BACKENDS = {
    "51": ("vendor/lua/5.1", ["lua5.1", "lua-5.1"]),
    "52": ("vendor/lua/5.2", ["lua5.2", "lua-5.2"]),
    "53": ("vendor/lua/5.3", ["lua5.3", "lua-5.3"]),
    "54": ("vendor/lua/5.4", ["lua5.4", "lua-5.4"]),
    "55": ("vendor/lua/5.5", ["lua5.5", "lua-5.5"]),
    "jit21": ("vendor/luajit/2.1", ["luajit"]),
}
NOT_LIBRARY = {"lua.c", "luac.c", "onelua.c"}


def _read(name):
    with open(os.path.join(CSRC, name)) as f:
        return f.read()


def _pkg_config(names):
    """(cflags, libs) of the first system Lua pkg-config knows, or None."""
    if shutil.which("pkg-config") is None:
        return None
    for name in names:
        if subprocess.call(["pkg-config", "--exists", name]) == 0:
            cflags = subprocess.check_output(["pkg-config", "--cflags", name]).decode().split()
            libs = subprocess.check_output(["pkg-config", "--libs", name]).decode().split()
            return cflags, libs
    return None


def sanitizer_flags():
    """(compile flags, link flags) for LUPACFFI_SANITIZE, e.g. "address,undefined":
    the shim and Lua built with those sanitizers and with Lua's API checks and
    internal assertions on (see scripts/sanitize.sh).  Unset: ([], [])."""
    sanitizers = os.environ.get("LUPACFFI_SANITIZE", "").strip()
    if not sanitizers:
        return [], []
    cflags = [
        "-fsanitize=" + sanitizers,
        "-fno-omit-frame-pointer",
        "-g",
        "-UNDEBUG",
        "-DLUA_USE_APICHECK",
        "-DLUAI_ASSERT",
    ]
    return cflags, ["-fsanitize=" + sanitizers]


def _build_luajit(tree):
    """LuaJIT builds with its own makefile into a static, position-independent archive."""
    archive = os.path.join(tree, "src", "libluajit.a")
    if not os.path.exists(archive):
        cflags, ldflags = sanitizer_flags()
        if cflags:  # plus LuaJIT's own switches for assertions and the system malloc
            cflags += ["-DLUA_USE_ASSERT", "-DLUAJIT_USE_SYSMALLOC"]
        # (its build tools run under the sanitizer too: no leak report at their exit)
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        subprocess.check_call(
            [
                "make",
                "-j2",
                "BUILDMODE=static",
                "XCFLAGS=" + " ".join(["-fPIC"] + cflags),
                "LDFLAGS=" + " ".join(ldflags),
            ],
            cwd=tree,
            env=env,
        )
    return archive


def _use_system_lua():
    """LUPACFFI_LUA=system: build against the system Lua even where vendored
    sources exist (how the tests check the fallback)."""
    return os.environ.get("LUPACFFI_LUA") == "system"


def available_backends():
    """Backends that can be built here, each with where its Lua comes from."""
    found = {}
    for name, (tree, pkgs) in BACKENDS.items():
        header = "luajit.h" if name.startswith("jit") else "lua.h"
        if os.path.exists(os.path.join(HERE, tree, "src", header)) and not _use_system_lua():
            found[name] = "vendor"
        elif _pkg_config(pkgs) is not None:
            found[name] = "system"
        else:
            print(
                "lupacffi: no sources for backend %s (run vendor/fetch.py); skipped" % name,
                file=sys.stderr,
            )
    return found


def make_ffi(backend, absolute_paths=False):
    """The FFI builder of one backend.  setuptools wants source paths relative
    to this directory; ffi.compile() (the development build) absolute ones."""
    tree, pkgs = BACKENDS[backend]
    tree = os.path.join(HERE, tree)
    is_jit = backend.startswith("jit")
    ffi = FFI()
    ffi.cdef("".join(_read(h) for h in CDEF_HEADERS))
    source = '#include "lupacffi.h"\n' + "".join('#include "%s"\n' % f for f in SHIM_SOURCES)
    # Lua's API stays exported (Lua C modules loaded under allow_lua_module_loading()
    # link against it) while -Bsymbolic binds the module's own calls to its own Lua,
    # so that several backends, or another Lua in the process, cannot interpose.
    kwargs = dict(
        include_dirs=[CSRC],
        extra_compile_args=["-O2"] + sanitizer_flags()[0],
        extra_link_args=["-Wl,-Bsymbolic"] + sanitizer_flags()[1],
        libraries=["m", "dl"],
        define_macros=[("LC_LUAJIT", "1")] if is_jit else [],
    )
    src = os.path.join(tree, "src")
    if os.path.isdir(src) and not _use_system_lua():  # vendored sources
        kwargs["include_dirs"].append(src)
        if is_jit:
            # whole archive: Lua C modules may need API functions we do not call
            kwargs["extra_link_args"] += [
                "-Wl,--whole-archive",
                _build_luajit(tree),
                "-Wl,--no-whole-archive",
            ]
        else:
            kwargs["sources"] = sorted(
                os.path.join(src, f)
                if absolute_paths
                else os.path.relpath(os.path.join(src, f), HERE)
                for f in os.listdir(src)
                if f.endswith(".c") and f not in NOT_LIBRARY
            )
            kwargs["define_macros"].append(("LUA_USE_LINUX", "1"))
        # the string library patched by vendor/fetch.py (vendor/patch_strlib.py):
        # the limits reach its pattern matcher
        strlib = os.path.join(src, "lib_string.c" if is_jit else "lstrlib.c")
        with open(strlib, encoding="latin-1") as f:
            if "lc_match_check" in f.read():
                kwargs["define_macros"].append(("LC_MATCH_HOOK", "1"))
    else:  # system Lua: link its shared library
        found = _pkg_config(pkgs)
        if found is None:
            raise RuntimeError(
                "backend %s: no vendored sources and no system Lua (pkg-config %s)"
                % (backend, " / ".join(pkgs))
            )
        cflags, libs = found
        kwargs["define_macros"].append(("LC_SYSTEM_LUA", "1"))
        kwargs["include_dirs"] += [f[2:] for f in cflags if f.startswith("-I")]
        kwargs["libraries"] += [f[2:] for f in libs if f.startswith("-l")]
        kwargs["library_dirs"] = [f[2:] for f in libs if f.startswith("-L")]
    ffi.set_source("lupacffi._lua_%s" % backend, source, **kwargs)
    return ffi


def make_constants_ffi():
    """The FFI builder of ``lupacffi._lc_constants``: no Lua, only the numbers
    of csrc/lc_types.h and lc_api.h (tags, status codes, ops, ...), which
    _constants.py reads from it, so that C is their one source; and, on
    CPython, the wrappers' C base type (csrc/lc_wrapper.c)."""
    ffi = FFI()
    ffi.cdef(
        _read("lc_types.h")
        + "#define LC_NOUT ...\n#define LC_LONG_STRING ...\n#define LC_MAX_PACKED_ARGS ...\n"
        + "#define LC_PACK_BYTES ...\n"
        + "int lc_wrapper_install(uintptr_t namespace);\n"
        + "int lc_wrapper_methods(uintptr_t handed);\n"
    )
    ffi.set_source(
        "lupacffi._lc_constants",
        _read("lc_constants.c"),
        include_dirs=[CSRC],
        extra_compile_args=["-O2"],
    )
    return ffi


def cffi_modules():
    """The ``cffi_modules`` list for setup(): the constants, and one entry per
    available backend."""
    return ["build_ffi.py:ffi_constants"] + [
        "build_ffi.py:ffi_%s" % name for name in available_backends()
    ]


# cffi's setuptools hook looks these names up (and calls them).
def ffi_constants():
    return make_constants_ffi()


def ffi_51():
    return make_ffi("51")


def ffi_52():
    return make_ffi("52")


def ffi_53():
    return make_ffi("53")


def ffi_54():
    return make_ffi("54")


def ffi_55():
    return make_ffi("55")


def ffi_jit21():
    return make_ffi("jit21")


if __name__ == "__main__":
    # Development build into src/lupacffi/: python build_ffi.py [BACKEND ...]
    # (the constants module always)
    for name in ["constants"] + (sys.argv[1:] or list(available_backends())):
        tmp = os.path.join(HERE, "build", "ffi-" + name)
        ffi = make_constants_ffi() if name == "constants" else make_ffi(name, absolute_paths=True)
        built = ffi.compile(tmpdir=tmp, verbose=False)
        # copy, then rename: a process that has the old module loaded keeps it
        target = os.path.join(HERE, "src", "lupacffi", os.path.basename(built))
        shutil.copy(built, target + ".new")
        os.replace(target + ".new", target)
