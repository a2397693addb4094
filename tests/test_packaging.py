"""The distributions: the sdist carries the Lua sources and the licences, the
wheel the six backends, the type stubs and the licences; [tool.cibuildwheel]
covers CPython and PyPy, manylinux and musllinux, x86_64 and aarch64.

Under scripts/test.sh (LUPACFFI_DIST is its dist/ directory) the tests look at
the artifacts that script built, and LUPACFFI_WHEEL names the repaired wheel
that is installed in the running venv.  Elsewhere they build an sdist (and,
marked slow, a wheel from it) into a temporary directory."""

import glob
import importlib
import os
import re
import subprocess
import sys
import tarfile
import zipfile

import pytest

import lupacffi
from helpers import STUB_MODULES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIST = os.environ.get("LUPACFFI_DIST")
WHEEL = os.environ.get("LUPACFFI_WHEEL")
TIMEOUT = 1800  # seconds; building all six backends takes minutes

BACKENDS = ["51", "52", "53", "54", "55", "jit21"]
LUA_TREES = [
    "vendor/lua/5.1",
    "vendor/lua/5.2",
    "vendor/lua/5.3",
    "vendor/lua/5.4",
    "vendor/lua/5.5",
]
LUAJIT_TREE = "vendor/luajit/2.1"
STUBS = STUB_MODULES


def need_project():
    if not os.path.exists(os.path.join(ROOT, "pyproject.toml")):
        pytest.skip("no pyproject.toml next to tests/ (an installed copy of the tests)")


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    """The path of the sdist: scripts/test.sh's, or one built from this tree."""
    if DIST:
        found = glob.glob(os.path.join(DIST, "lupacffi-*.tar.gz"))
        assert len(found) == 1, found
        return found[0]
    need_project()
    try:
        # (a project's own build/ directory imports as an empty namespace package)
        if getattr(importlib.import_module("build"), "__file__", None) is None:
            raise ImportError("build")
    except ImportError:
        pytest.skip("the `build` package is not installed (scripts/test.sh checks its own sdist)")
    if not os.path.exists(os.path.join(ROOT, "vendor", "lua", "5.4", "src", "lua.h")):
        pytest.skip("the Lua sources are not fetched (python vendor/fetch.py)")
    out = tmp_path_factory.mktemp("sdist")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(out), ROOT],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=TIMEOUT,
    )
    (found,) = glob.glob(str(out / "lupacffi-*.tar.gz"))
    return found


@pytest.fixture(scope="module")
def built_wheels(request, tmp_path_factory):
    """A wheel built here from the sdist (scripts/test.sh has its own)."""
    if DIST:
        pytest.skip("scripts/test.sh: test_wheel_contents checks its wheels")
    sdist_path = request.getfixturevalue("sdist")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), sdist_path],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=TIMEOUT,
    )
    return sorted(glob.glob(str(out / "lupacffi-*.whl")))


def sdist_names(path):
    with tarfile.open(path) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    top = {n.split("/", 1)[0] for n in names}
    assert len(top) == 1, top  # one directory: lupacffi-VERSION/
    return {n.split("/", 1)[1] for n in names}


def sdist_text(path, name):
    with tarfile.open(path) as tar:
        member = next(m for m in tar.getmembers() if m.name.split("/", 1)[-1] == name)
        return tar.extractfile(member).read().decode("utf-8", "replace")


# ---- the sdist ------------------------------------------------------------------


def test_sdist_carries_the_build_inputs(sdist):
    names = sdist_names(sdist)
    for name in [
        "LICENSE",
        "README.md",
        "build_ffi.py",
        "setup.py",
        "pyproject.toml",
        "MANIFEST.in",
        "vendor/fetch.py",
        "vendor/manifest.json",
        "src/lupacffi/__init__.py",
        "src/lupacffi/_runtime.py",
        "src/lupacffi/py.typed",
        "tests/conftest.py",
    ]:
        assert name in names, name
    for stub in STUBS:
        assert "src/lupacffi/%s.pyi" % stub in names, stub
    csrc = {n for n in names if n.startswith("csrc/")}
    assert {
        "csrc/lc_types.h",
        "csrc/lc_api.h",
        "csrc/lc_callbacks.h",
        "csrc/lc_runtime.c",
        "csrc/lc_ops.c",
        "csrc/lupacffi.h",
    } <= csrc
    if os.path.isdir(os.path.join(ROOT, "csrc")):  # every file of the shim
        assert {"csrc/" + f for f in os.listdir(os.path.join(ROOT, "csrc"))} <= csrc


def test_sdist_carries_the_lua_sources(sdist):
    names = sdist_names(sdist)
    for tree in LUA_TREES:
        for f in ["src/lua.h", "src/lauxlib.h", "src/lapi.c", "src/lvm.c", "src/lstate.c"]:
            assert "%s/%s" % (tree, f) in names, (tree, f)
    # LuaJIT: the sources for both architectures the wheels are for, and its licence
    for f in [
        "Makefile",
        "COPYRIGHT",
        "src/Makefile",
        "src/luajit.h",
        "src/lua.h",
        "src/lj_api.c",
        "src/vm_x64.dasc",
        "src/vm_arm64.dasc",
        "src/host/buildvm.c",
        "dynasm/dynasm.lua",
    ]:
        assert "%s/%s" % (LUAJIT_TREE, f) in names, f


def test_sdist_has_no_build_products_or_fetch_caches(sdist):
    names = sdist_names(sdist)
    bad = [
        n
        for n in names
        if re.search(r"\.(so|o|a|pyc)$", n)
        or n.startswith(("vendor/.apt/", "vendor/.downloads/", "build/", "dist/", ".venv"))
        or n.endswith("/.fetched")
    ]
    assert bad == []
    # LuaJIT's generated, architecture-specific files and host tools
    for f in [
        "src/lj_vm.S",
        "src/luajit",
        "src/host/buildvm",
        "src/host/minilua",
        "src/host/buildvm_arch.h",
        "src/lj_bcdef.h",
        "src/jit/vmdef.lua",
    ]:
        assert "%s/%s" % (LUAJIT_TREE, f) not in names, f


def test_sdist_carries_the_licence_notices(sdist):
    licence = " ".join(sdist_text(sdist, "LICENSE").split())
    assert licence.startswith("MIT License")
    assert "Lua.org, PUC-Rio" in licence and "Mike Pall" in licence
    assert "Permission is hereby granted" in sdist_text(sdist, LUAJIT_TREE + "/COPYRIGHT")
    for tree in LUA_TREES:  # Lua's notice is at the end of lua.h
        assert "Permission is hereby granted" in sdist_text(sdist, tree + "/src/lua.h"), tree


# ---- the wheels -------------------------------------------------------------------


def wheel_names(path):
    with zipfile.ZipFile(path) as z:
        return set(z.namelist())


def wheel_tags(path):
    with zipfile.ZipFile(path) as z:
        info = next(n for n in z.namelist() if n.endswith(".dist-info/WHEEL"))
        return re.findall(r"^Tag: (\S+)$", z.read(info).decode(), re.M)


def check_wheel(path):
    names = wheel_names(path)
    for backend in BACKENDS:
        mods = [n for n in names if re.match(r"lupacffi/_lua_%s\.[^/]*so$" % backend, n)]
        assert len(mods) == 1, (backend, mods)
    assert [n for n in names if re.match(r"lupacffi/_lc_constants\.[^/]*so$", n)], names
    assert "lupacffi/py.typed" in names
    for stub in STUBS:
        assert "lupacffi/%s.pyi" % stub in names, stub
    licences = [n for n in names if re.search(r"\.dist-info/licenses/", n)]
    assert any(n.endswith("/LICENSE") for n in licences), licences
    assert any(n.endswith("luajit/2.1/COPYRIGHT") for n in licences), licences
    assert not [n for n in names if n.endswith((".c", ".h")) or n.startswith("tests/")]
    # auditwheel bundles no libraries: the backends need only libc and libm
    assert not [n for n in names if ".libs/" in n]


def elf_needed(path):
    """The DT_NEEDED names of a 64-bit little-endian ELF shared object."""
    import struct

    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, path
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads, dynamic = [], None
    for k in range(phnum):
        ptype, _, offset, vaddr, _, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + k * phentsize
        )
        if ptype == 1:  # PT_LOAD: to map DT_STRTAB's address to a file offset
            loads.append((vaddr, offset, filesz))
        elif ptype == 2:  # PT_DYNAMIC
            dynamic = (offset, filesz)
    entries = [
        struct.unpack_from("<qQ", data, dynamic[0] + 16 * k) for k in range(dynamic[1] // 16)
    ]
    strtab = next(v for tag, v in entries if tag == 5)
    base = next(off + strtab - va for va, off, size in loads if va <= strtab < va + size)
    return [data[base + v : data.index(b"\0", base + v)].decode() for tag, v in entries if tag == 1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF modules")
def test_every_module_needs_libc():
    # auditwheel tells a glibc wheel from a musl one by the libc each module
    # needs: the constants module, which calls nothing, names one too (linkers
    # such as zig's drop a library no symbol comes from)
    pkg = os.path.dirname(lupacffi.__file__)
    tag = "pypy" if sys.implementation.name == "pypy" else "cpython-%d%d" % sys.version_info[:2]
    mods = [m for m in glob.glob(os.path.join(pkg, "_l*.so")) if tag in m or ".abi3." in m]
    assert [m for m in mods if "_lc_constants" in m], mods
    for mod in mods:
        needed = elf_needed(mod)
        assert [n for n in needed if n.startswith(("libc.so", "libc.musl"))], (mod, needed)


@pytest.mark.slow
def test_wheel_contents_built_here(built_wheels):
    assert len(built_wheels) == 1, built_wheels
    check_wheel(built_wheels[0])


def test_wheel_contents():
    if not DIST:
        pytest.skip("only under scripts/test.sh (test_wheel_contents_built_here elsewhere)")
    found = sorted(glob.glob(os.path.join(DIST, "lupacffi-*.whl")))
    assert found, "no wheel in %s" % DIST
    for path in found:
        check_wheel(path)


def test_wheels_are_repaired_to_manylinux():
    if not DIST:
        pytest.skip("only under scripts/test.sh, which runs auditwheel repair")
    found = sorted(glob.glob(os.path.join(DIST, "lupacffi-*.whl")))
    impls = set()
    for path in found:
        tags = wheel_tags(path)
        assert tags and all(re.search(r"-manylinux_\d+_\d+_(x86_64|aarch64)$", t) for t in tags), (
            tags
        )
        assert re.search(r"manylinux_\d+_\d+_(x86_64|aarch64)\.whl$", path), path
        impls.update(t.split("-")[0][:2] for t in tags)
    assert impls == {"cp", "pp"}, found  # one wheel per interpreter


def test_the_installed_package_is_the_repaired_wheel():
    if not WHEEL:
        pytest.skip("only under scripts/test.sh, which installs its repaired wheel")
    from importlib import metadata

    installed = metadata.distribution("lupacffi")
    installed_tags = re.findall(r"^Tag: (\S+)$", installed.read_text("WHEEL"), re.M)
    assert installed_tags == wheel_tags(WHEEL)
    assert os.path.realpath(str(installed.locate_file("lupacffi/__init__.py"))) == os.path.realpath(
        lupacffi.__file__
    )
    assert installed.read_text("licenses/LICENSE") or installed.read_text("LICENSE")


# ---- cibuildwheel -------------------------------------------------------------------


def test_cibuildwheel_build_identifiers():
    need_project()
    try:
        importlib.import_module("cibuildwheel")
    except ImportError:
        pytest.skip("cibuildwheel is not installed (scripts/test.sh installs it on CPython)")
    env = dict(os.environ)
    env.pop("CIBW_BUILD", None)
    env.pop("CIBW_SKIP", None)
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "cibuildwheel",
            "--print-build-identifiers",
            "--platform",
            "linux",
            "--archs",
            "x86_64,aarch64",
            ROOT,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr.decode()
    ids = set(p.stdout.decode().split())
    # only what scripts/cross-wheels.sh proved (docs/wheels.md): no CPython 3.14,
    # no PyPy 3.10, musllinux on x86_64 only
    for arch in ("x86_64", "aarch64"):
        for version in ("39", "310", "311", "312", "313"):
            assert "cp%s-manylinux_%s" % (version, arch) in ids
        # PyPy is built for manylinux only: there are no musllinux PyPy builds
        for version in ("39", "311"):
            assert "pp%s-manylinux_%s" % (version, arch) in ids
    for version in ("39", "310", "311", "312", "313"):
        assert "cp%s-musllinux_x86_64" % version in ids
    assert not [i for i in ids if re.search(r"cp314|pp310|musllinux_aarch64", i)], ids
    assert not [i for i in ids if re.search(r"i686|ppc64le|s390x|armv7l|riscv|t-", i)], ids


def test_cibuildwheel_before_all_keeps_the_sources(sdist, tmp_path):
    """before-all clears a host build's products and keeps the fetched sources
    (LuaJIT's `make clean` would delete src/luajit.h, which the fetch wrote)."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is new in Python 3.11")
    need_project()
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        before_all = tomllib.load(f)["tool"]["cibuildwheel"]["before-all"]
    with tarfile.open(sdist) as tar:
        tar.extractall(str(tmp_path))
    (project,) = tmp_path.iterdir()
    src = project / LUAJIT_TREE / "src"
    products = [
        src / "lj_api.o",
        src / "libluajit.a",
        src / "lj_vm.S",
        src / "host" / "buildvm",
        project / "src" / "lupacffi" / "_lua_54.abi3.so",
        project / "build" / "temp.linux-x86_64-cpython-311" / "x.o",
    ]
    for path in products:  # what a build on the host leaves behind
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"host")
    p = subprocess.run(
        ["sh", "-c", " && ".join(before_all)],
        cwd=str(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout.decode()
    assert [str(path) for path in products if path.exists()] == []
    for tree in LUA_TREES:
        assert (project / tree / "src" / "lua.h").exists(), tree
    for f in ["luajit.h", "lua.h", "lj_api.c", "vm_arm64.dasc", "Makefile"]:
        assert (src / f).exists(), f


def test_the_wheel_installs_the_console_script():
    prefix = os.environ.get("LUPACFFI_EXPECT_PREFIX")
    if not WHEEL or not prefix:
        pytest.skip("only under scripts/test.sh, which installs its wheel into a venv")
    script = os.path.join(prefix, "bin", "lupacffi")
    assert os.access(script, os.X_OK), script
    p = subprocess.run(
        [script, "--max-instructions", "100000", "-e", "print(_VERSION, ...)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=300,
    )
    assert (p.returncode, p.stderr) == (0, b"")
    assert p.stdout.decode().startswith("Lua ")
