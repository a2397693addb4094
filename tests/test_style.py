"""The code style holds: ruff's linter and formatter (configured in
pyproject.toml) find nothing to change.  CI installs ruff in the CPython
venv; where it is missing (PyPy) the test says so and skips."""

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ruff(*args):
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed here (scripts/test.sh installs it for CPython)")
    return subprocess.run(
        [sys.executable, "-m", "ruff"] + list(args),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=300,
    )


def test_ruff_lint_finds_nothing():
    p = ruff("check", "--no-cache", ".")
    assert p.returncode == 0, p.stdout.decode()


def test_ruff_format_changes_nothing():
    p = ruff("format", "--no-cache", "--check", ".")
    assert p.returncode == 0, p.stdout.decode()
