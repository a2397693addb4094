"""Shared fixtures: every test that takes `lupa` (a backend module) or `lua`
(a fresh LuaRuntime of it) runs once per built backend."""

import importlib
import os

import pytest

import lupacffi

BACKENDS = lupacffi.available_backends()


@pytest.fixture(params=BACKENDS)
def lupa(request):
    """A backend module: lupacffi.lua51 ... lupacffi.luajit21."""
    return importlib.import_module("lupacffi." + request.param)


@pytest.fixture
def lua(lupa):
    """A fresh runtime with the default options."""
    return lupa.LuaRuntime()


def pytest_report_header(config):
    return "lupacffi backends: %s" % ", ".join(BACKENDS)


def pytest_collection_modifyitems(config, items):
    # CI sets LUPACFFI_REQUIRE_BACKENDS=all so that a backend that failed to build
    # fails the run instead of silently dropping out of the parametrisation.
    if os.environ.get("LUPACFFI_REQUIRE_BACKENDS") == "all":
        missing = set(lupacffi.BACKEND_MODULES) - set(BACKENDS)
        if missing:
            raise pytest.UsageError("backends not built: %s" % ", ".join(sorted(missing)))


def needs_lua_internals(lupa):
    """Skips a test of what a build against a system Lua (build_ffi.py's
    pkg-config fallback, without Lua's internal headers) does not have."""
    if lupa.LuaRuntime()._backend.system_lua:
        pytest.skip("built against a system Lua: no access to Lua's internals")
