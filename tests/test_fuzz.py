"""Short fuzzing runs of fuzz/fuzz_api.py (marked slow; CI runs them).

Each run is a subprocess, so that a crash or an abort in it is a test failure
(with the fuzzer's output, which names the reproducer) instead of the end of
the test session.  The long run is a documented command (RELIABILITY.md)."""

import os
import subprocess
import sys
import tempfile

import pytest

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(ROOT, "fuzz", "fuzz_api.py")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
TIMEOUT = 900  # seconds; only reached when the harness hangs

try:
    import atheris  # noqa: F401

    HAVE_ATHERIS = True
except ImportError:
    HAVE_ATHERIS = False


def run_harness(args, cwd):
    env = dict(os.environ)
    # the lupacffi under test: the one this test session imports
    import lupacffi

    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(lupacffi.__file__))]
        + env.get("PYTHONPATH", "").split(os.pathsep)
    )
    proc = subprocess.run(
        [sys.executable, HARNESS] + args,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=TIMEOUT,
    )
    out = proc.stdout.decode("utf-8", "replace")
    return proc.returncode, out


def report(status, out, cwd):
    crashes = [f for f in os.listdir(cwd) if f.startswith(("crash-", "timeout-", "oom-", "leak-"))]
    reproducers = []
    for name in crashes:
        with open(os.path.join(cwd, name), "rb") as f:
            reproducers.append("%s: %r" % (name, f.read()))
    return "fuzzer exit status %d\n%s\nreproducers:\n%s" % (
        status,
        out[-6000:],
        "\n".join(reproducers) or "(none written)",
    )


@pytest.mark.skipif(
    not HAVE_ATHERIS,
    reason="atheris is not installed (pip install atheris); it "
    "exists for CPython only, so PyPy runs test_fuzz_random instead",
)
def test_fuzz_atheris():
    """A bounded atheris run: a few thousand inputs from the seed corpus."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus")  # libFuzzer adds to it: a copy
        os.mkdir(corpus)
        for name in os.listdir(CORPUS):
            with (
                open(os.path.join(CORPUS, name), "rb") as src,
                open(os.path.join(corpus, name), "wb") as dst,
            ):
                dst.write(src.read())
        status, out = run_harness(
            [
                corpus,
                "-dict=" + os.path.join(ROOT, "fuzz", "lua.dict"),
                "-runs=4000",
                "-max_total_time=120",
                "-timeout=120",
                "-len_control=0",
                "-max_len=2048",
                "-seed=1",
                "-artifact_prefix=" + tmp + "/",
            ],
            cwd=tmp,
        )
        assert status == 0 and "Done" in out, report(status, out, tmp)


def test_fuzz_random():
    """The same harness driven by a seeded random generator (no atheris):
    runs on every interpreter, PyPy included."""
    with tempfile.TemporaryDirectory() as tmp:
        status, out = run_harness(["--random", "--runs", "1500", "--seed", "7"], cwd=tmp)
        assert status == 0 and "no finding" in out, report(status, out, tmp)
