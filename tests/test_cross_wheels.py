"""scripts/cross-wheels.sh (issue 18) builds and tests the aarch64, old-glibc
and other wheels on this machine; it is too slow for the suite, so this only
checks that its pieces are in place: the script parses, its --check mode runs
(tools and plan, no network, no writes) and names every step, and the apt
helper reuses vendor/fetch.py's private apt code instead of a copy."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "cross-wheels.sh")
HELPER = os.path.join(ROOT, "scripts", "cross_apt.py")
STEPS = ["interpreters", "glibc217", "aarch64", "musllinux", "pypy311"]


def need_script():
    if not os.path.exists(SCRIPT):
        pytest.skip("no scripts/ next to tests/ (an installed copy of the tests)")
    if shutil.which("bash") is None:
        pytest.skip("no bash")


def test_script_parses():
    need_script()
    subprocess.run(["bash", "-n", SCRIPT], check=True, timeout=30)


def test_check_mode_prints_the_plan():
    need_script()
    res = subprocess.run(
        ["bash", SCRIPT, "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, LC_ALL="C"),
    )
    out = res.stdout
    assert "cross-wheels: tools" in out and "cross-wheels: plan" in out, out + res.stderr
    for step in STEPS:
        assert "\n  %s " % step in out, (step, out)
    assert "x86_64-linux-gnu.2.17" in out and "aarch64-linux-gnu.2.17" in out
    # the whole quick suite under qemu and musl, in a lane beside the others
    assert "under qemu" in out and 'pytest -m "not slow" tests (JIT on)' in out, out
    assert "\n  lanes        JOBS=2: aarch64 and musllinux beside" in out, out
    # exit status 1 only for missing tools, which it names
    assert res.returncode == 0 or "MISSING" in out, out + res.stderr
    # the private apt source line comes from the machine's own apt configuration
    if shutil.which("apt-config") and "apt (private, arm64): deb [arch=arm64" not in out:
        pytest.fail("no private apt line: " + out + res.stderr)


def test_no_registry_host_in_the_script():
    need_script()
    for path in (SCRIPT, HELPER):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for host in ("deb.debian.org", "pypi.org", "files.pythonhosted.org", "ziglang.org"):
            assert host not in text, (path, host)


def test_helper_reuses_fetch_py():
    need_script()
    with open(HELPER, encoding="utf-8") as f:
        text = f.read()
    assert '"vendor" / "fetch.py"' in text and "fetch.Apt" in text
    assert "def main_archive" not in text and "def system_entries" not in text
    res = subprocess.run(
        [sys.executable, HELPER, "check", "--suite", "trixie", "--arch", "amd64"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if shutil.which("apt-config") is None:
        return
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("deb [arch=amd64") and " trixie main" in res.stdout, res.stdout


def test_gitignored_cache():
    need_script()
    with open(os.path.join(ROOT, ".gitignore"), encoding="utf-8") as f:
        assert ".cross/" in f.read().split()
