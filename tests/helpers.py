"""What many test modules share: threads that cannot hang the run, garbage
collection on both sides, a plain Python object to hand to Lua, and the
environment of a child interpreter."""

import gc
import os
import subprocess
import sys
import threading
import time
import traceback

import lupacffi

JOIN_TIMEOUT = 120.0

# the --lua value of each backend module on the command line (python -m lupacffi)
CLI_SPEC = {
    "lua51": "5.1",
    "lua52": "5.2",
    "lua53": "5.3",
    "lua54": "5.4",
    "lua55": "5.5",
    "luajit21": "jit",
}  # seconds; only reached when something hangs

# the directory that holds the lupacffi under test (src/ or site-packages)
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(lupacffi.__file__)))


def run_threads(targets, timeout=JOIN_TIMEOUT):
    """Runs each (function, args) in its own daemon thread and waits for all.
    Fails if a thread hangs (a deadlock fails the test instead of hanging the
    run) or raised; returns the functions' results."""
    results = [None] * len(targets)
    errors = []

    def runner(k, function, args):
        try:
            results[k] = function(*args)
        except BaseException:
            errors.append(traceback.format_exc())

    threads = [
        threading.Thread(target=runner, args=(k, f, tuple(a)), daemon=True)
        for k, (f, a) in enumerate(targets)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    hung = [t.name for t in threads if t.is_alive()]
    assert not hung, "threads did not finish (deadlock?): %s" % hung
    assert not errors, "a thread failed:\n" + errors[0]
    return results


def collect(lua=None):
    """A full collection on both sides (PyPy needs several passes for objects
    with finalizers, and a wrapper's release reaches Lua on the next entry)."""
    for _ in range(3):
        gc.collect()
        if lua is not None:
            lua.gccollect()


class Obj(object):
    """A plain, weak-referenceable Python object to hand to Lua."""

    def __init__(self, payload=None):
        self.payload = payload


def child_env(**extra):
    """The environment of a child interpreter: it imports the same lupacffi
    as this one."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [PACKAGE_PARENT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env.pop("PYTHONSTARTUP", None)
    env.update(extra)
    return env


def run_ok_child(code, timeout=120):
    """Runs `code` in a child interpreter (child_env()); it must exit 0
    having printed "ok" and nothing else."""
    child = subprocess.run(
        [sys.executable, "-c", code],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )
    assert child.returncode == 0, child.stderr.decode(errors="replace")[-2000:]
    assert child.stdout.decode().split() == ["ok"]


# the modules of the package that ship a type stub (.pyi)
STUB_MODULES = [
    "__init__",
    "_namespace",
    "_runtime",
    "_lua_objects",
    "_protocols",
    "_to_python",
    "errors",
] + lupacffi.BACKEND_MODULES


def stack_depth():
    """The number of Python frames on the calling thread's stack."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth
