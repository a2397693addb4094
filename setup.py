"""setuptools entry: the cffi backends come from build_ffi.py."""
import os
import sys

from setuptools import setup

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_ffi  # noqa: E402

setup(cffi_modules=build_ffi.cffi_modules(), options={"build_ext": {"parallel": 2}})
