"""The type stubs (src/lupacffi/*.pyi, py.typed): `mypy --strict` accepts a
typed program that uses the API broadly and reports wrong uses, and
`mypy.stubtest` finds the stubs in line with the modules at run time.

mypy runs on CPython only (mypy does not run on PyPy 3.9: it needs its own C
extension `librt`), so scripts/test.sh installs it into the CPython venv; where
it cannot be imported the mypy tests are skipped, saying so.  The typed
program itself runs on every interpreter."""

import importlib
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

import lupacffi
from helpers import STUB_MODULES

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "typing_example.py")
PACKAGE_DIR = os.path.dirname(os.path.abspath(lupacffi.__file__))
TIMEOUT = 600  # seconds; only a hang would reach it

# private modules without stubs: stubtest analyses them too (as their own
# stubs); what they take from stubbed modules is not in the stubs on purpose
UNSTUBBED = [
    "__main__",
    "_async",
    "_backend",
    "_callbacks",
    "_constants",
    "_convert",
    "_sandbox",
    "_table_from",
]
# runtime facts that the stubs leave out on purpose
ALLOWLIST = [
    # _namespace.export() puts these into each backend module, not into _namespace
    r"lupacffi._namespace.LUA_(VERSION|MAXINTEGER|MININTEGER)",
    # the wrappers' internal slots
    r"lupacffi._lua_objects._LuaObject.__lua(id|type|kept)__",
    r"lupacffi._lua_objects._Lua\w+.__luatype__",
    # on CPython the wrappers' C base type answers t.name (csrc/lc_wrapper.c,
    # its tp_getattro): no __getattr__ at run time; the stub keeps it so that
    # type checkers know that any name may be read
    r"lupacffi._lua_objects._LuaObject.__getattr__",
]


def mypy_or_skip():
    try:
        importlib.import_module("mypy.api")
    except ImportError as e:
        pytest.skip(
            "mypy is not importable here (%s: %s); scripts/test.sh installs it "
            "on CPython only, as mypy does not run on PyPy 3.9" % (type(e).__name__, e)
        )


def env_for(package_parent):
    """A child environment in which mypy and Python find lupacffi under
    package_parent (unless that is this interpreter's site-packages, which
    mypy searches anyway and refuses in MYPYPATH)."""
    env = dict(os.environ)
    for name in ("MYPYPATH", "PYTHONPATH", "MYPY_CACHE_DIR"):
        env.pop(name, None)
    if not os.path.realpath(package_parent).startswith(os.path.realpath(sys.prefix) + os.sep):
        env["MYPYPATH"] = env["PYTHONPATH"] = package_parent
    return env


def run_mypy(tmp_path, *args, package_parent=None):
    """Runs `python -m mypy --strict ARGS` on the lupacffi under test; returns
    (exit status, output)."""
    parent = package_parent or os.path.dirname(PACKAGE_DIR)
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "--no-error-summary",
            "--show-error-codes",
        ]
        + list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=str(tmp_path),
        env=env_for(parent),
        timeout=TIMEOUT,
    )
    return p.returncode, p.stdout.decode("utf-8", "replace")


def run_stubtest(tmp_path, package_parent):
    config = tmp_path / "stubtest.ini"
    config.write_text(
        "[mypy]\n" + "".join("[mypy-lupacffi.%s]\nignore_errors = True\n" % m for m in UNSTUBBED)
    )
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text("\n".join(ALLOWLIST) + "\n")
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "--concise",
            "--mypy-config-file",
            str(config),
            "--allowlist",
            str(allowlist),
            "lupacffi",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=str(tmp_path),
        env=env_for(package_parent),
        timeout=TIMEOUT,
    )
    return p.returncode, p.stdout.decode("utf-8", "replace")


# ---- the package carries its types ---------------------------------------------


def test_package_has_py_typed_and_stubs():
    assert os.path.isfile(os.path.join(PACKAGE_DIR, "py.typed"))
    for module in STUB_MODULES:
        assert os.path.isfile(os.path.join(PACKAGE_DIR, module + ".pyi")), module


def test_typed_example_runs():
    """The program that mypy checks is a real one: it runs and its asserts hold."""
    missing = set(lupacffi.BACKEND_MODULES) - set(lupacffi.available_backends())
    if missing:
        pytest.skip("the example imports every backend; not built: %s" % ", ".join(sorted(missing)))
    sys.path.insert(0, HERE)
    try:
        example = importlib.import_module("typing_example")
    finally:
        sys.path.remove(HERE)
    example.main()


# ---- mypy --strict --------------------------------------------------------------


def test_mypy_strict_accepts_the_example(tmp_path):
    mypy_or_skip()
    status, out = run_mypy(tmp_path, EXAMPLE)
    assert (status, out.strip()) == (0, "")


def test_mypy_strict_reports_wrong_uses(tmp_path):
    mypy_or_skip()
    bad = tmp_path / "bad.py"
    bad.write_text(
        textwrap.dedent("""\
        import lupacffi
        import lupacffi.lua54
        from lupacffi.errors import LuaLimitError
        lua = lupacffi.lua54.LuaRuntime()
        lua.set_limits(max_instructions="1000")
        lua.no_such_method()
        lupacffi.LuaRuntime(max_time="1")
        n: int = lua.get_max_memory()
        lupacffi.no_such_function()
        t: str = lua.table()
        lua.execute(42)
        e: LuaLimitError = LuaLimitError("x")
        budget: str = e.budget
        ok: int = lua.eval("1")
        """)
    )
    status, out = run_mypy(tmp_path, str(bad))
    assert status == 1, out
    lines = sorted({int(n) for n in re.findall(r"^bad\.py:(\d+): error", out, re.M)})
    # every wrong line is reported; 12 and 14 (eval gives Any) are fine
    assert lines == [5, 6, 7, 8, 9, 10, 11, 13], out
    assert "no_such_method" in out and "no_such_function" in out


# ---- stubtest: the stubs match the modules ----------------------------------------


def test_stubs_match_the_runtime(tmp_path):
    mypy_or_skip()
    status, out = run_stubtest(tmp_path, os.path.dirname(PACKAGE_DIR))
    assert (status, out.strip()) == (0, ""), out


def test_stubtest_reports_a_mismatch(tmp_path):
    """A copy of the package whose stubs lack a method and add another."""
    mypy_or_skip()
    copy = tmp_path / "copy"
    shutil.copytree(
        PACKAGE_DIR, str(copy / "lupacffi"), ignore=shutil.ignore_patterns("__pycache__")
    )
    stub = copy / "lupacffi" / "_runtime.pyi"
    text = stub.read_text()
    assert "    def gccollect(self) -> None: ...\n" in text
    stub.write_text(
        text.replace(
            "    def gccollect(self) -> None: ...\n", "    def collect_garbage(self) -> None: ...\n"
        )
    )
    status, out = run_stubtest(tmp_path, str(copy))
    assert status == 1, out
    assert re.search(r"LuaRuntime\.gccollect is not present in stub", out), out
    assert re.search(r"LuaRuntime\.collect_garbage is not present at runtime", out), out
