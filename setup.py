"""setuptools entry: the cffi backends come from build_ffi.py."""

import glob
import os
import sys

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import build_ffi  # noqa: E402

# LICENSE holds lupacffi's MIT licence and the Lua and LuaJIT notices; LuaJIT's
# full COPYRIGHT goes into the distributions' metadata too when it was fetched
# (no pattern for it in pyproject.toml: a pattern that matches nothing is an error).
LICENSE_FILES = ["LICENSE"] + sorted(
    os.path.relpath(p, HERE)
    for p in glob.glob(os.path.join(HERE, "vendor", "luajit", "*", "COPYRIGHT"))
)

setup(
    cffi_modules=build_ffi.cffi_modules(),
    options={"build_ext": {"parallel": 2}},
    license_files=LICENSE_FILES,
)
