#!/usr/bin/env bash
# The demo: builds lupacffi for CPython (once) and runs examples/demo.lua
# through the command line, on the default Lua and on LuaJIT.
#
#     bash scripts/demo.sh
#
# Set-up as in scripts/test.sh, CPython only: fetches the Lua sources and
# installs lupacffi (pip install .) into .venv/cpython unless it is there.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=$PWD/.venv/cpython

step() { printf '\n==> %s\n' "$*"; }

if ! "$VENV/bin/python" -c 'import lupacffi' >/dev/null 2>&1; then
    step "fetching the Lua sources: python3 vendor/fetch.py"
    "$PYTHON" vendor/fetch.py
    step "installing lupacffi into $VENV (builds six Lua backends, about a minute)"
    rm -rf "$VENV" build/lib.* build/temp.* build/bdist.* src/*.egg-info
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q .
fi
py() { env -u PYTHONPATH "$VENV/bin/python" "$@"; }

step "python -m lupacffi --list"
py -m lupacffi --list

step "python -m lupacffi examples/demo.lua Ada"
py -m lupacffi examples/demo.lua Ada

step "python -m lupacffi --lua jit -e 'print(jit.version, jit.arch)' -e 'print(python.eval(\"6 * 7\"))'"
py -m lupacffi --lua jit -e 'print(jit.version, jit.arch)' -e 'print(python.eval("6 * 7"))'

step "the prompt, fed from a pipe: echo '2^10' | python -m lupacffi -i"
echo '2^10' | py -m lupacffi -i

printf '\nTry it yourself: %s -m lupacffi   (Ctrl-D leaves the prompt)\n' "$VENV/bin/python"
