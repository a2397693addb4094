#!/usr/bin/env bash
# Runs the lupacffi-vs-lupa benchmarks under CPython and/or PyPy, setting up
# everything on a fresh machine first:
#   - venvs .venv-bench/cpython and .venv-bench/pypy (git-ignored) with lupa
#     from PyPI (PyPy: there is no PyPy wheel, pip builds lupa's sdist, ~5 min once)
#   - the dev build of lupacffi's Lua 5.4 and LuaJIT 2.1 backends in src/
#     (vendor/fetch.py + build_ffi.py) when the interpreter has none yet
#
#   benchmarks/run.sh [cpython|pypy|both] [run.py options: --quick --filter NAME
#                      --backend 54|jit21 --json FILE ...]
#
# With --json FILE and both interpreters, FILE gets a -cpython / -pypy suffix.
# Environment: PYTHON (default python3), PYPY (default pypy3),
# LUPA_SPEC (default lupa==2.8).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENVS="$ROOT/.venv-bench"
LUPA_SPEC="${LUPA_SPEC:-lupa==2.8}"
which_interp="both"
case "${1:-}" in
    cpython|pypy|both) which_interp="$1"; shift ;;
esac

log() { echo "[run.sh] $*" >&2; }

ensure_pypy() {
    local pypy="${PYPY:-pypy3}"
    if ! command -v "$pypy" >/dev/null || ! "$pypy" -c "import venv, ensurepip" 2>/dev/null; then
        log "installing PyPy from Debian's packages"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pypy3 pypy3-dev pypy3-venv >&2
    fi
}

# make_venv NAME BASE_INTERPRETER EXTRA_PACKAGES...
make_venv() {
    local name="$1" base="$2"; shift 2
    local venv="$VENVS/$name"
    if ! "$venv/bin/python" -c "import lupa.lua54, lupa.luajit21" 2>/dev/null; then
        log "creating $venv with $LUPA_SPEC $*"
        rm -rf "$venv"
        mkdir -p "$VENVS"
        "$base" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --upgrade pip >&2
        "$venv/bin/python" -m pip install -q "$LUPA_SPEC" "$@" >&2
    fi
}

# builds lupacffi's 54 and jit21 backends for this interpreter if missing
ensure_lupacffi() {
    local py="$1"
    if ! PYTHONPATH="$ROOT/src" "$py" -c "import lupacffi.lua54, lupacffi.luajit21" 2>/dev/null; then
        log "building lupacffi backends 54 jit21 for $py"
        (cd "$ROOT" && "$py" vendor/fetch.py 54 jit21 >&2 && "$py" build_ffi.py 54 jit21 >&2)
    fi
}

# run_with NAME ARGS...: runs run.py in venv NAME (output files get a -NAME
# suffix when both interpreters run)
run_with() {
    local name="$1"; shift
    local py="$VENVS/$name/bin/python"
    local args=() prev="" snap status=0
    for a in "$@"; do
        if { [ "$prev" = "--json" ] || [ "$prev" = "--markdown" ]; } && [ "$which_interp" = "both" ]; then
            case "$a" in
                *.*) a="${a%.*}-$name.${a##*.}" ;;
                *) a="$a-$name" ;;
            esac
        fi
        args+=("$a"); prev="$a"
    done
    ensure_lupacffi "$py"
    # Run on a copy of the package: a rebuild of the dev .so files in src/
    # while the benchmarks run would crash the process that has them mapped.
    snap="$(mktemp -d "${TMPDIR:-/tmp}/lupacffi-bench.XXXXXX")"
    cp -r "$ROOT/src/lupacffi" "$snap/"
    log "running under $name (lupacffi copied to $snap)"
    PYTHONPATH="$snap" "$py" "$ROOT/benchmarks/run.py" \
        ${args[@]+"${args[@]}"} || status=$?
    rm -rf "$snap"
    return $status
}

status=0
if [ "$which_interp" != "pypy" ]; then
    make_venv cpython "${PYTHON:-python3}" cffi setuptools
    run_with cpython "$@" || status=$?
fi
if [ "$which_interp" != "cpython" ]; then
    ensure_pypy
    make_venv pypy "${PYPY:-pypy3}" setuptools    # cffi is built into PyPy
    [ "$which_interp" = "both" ] && echo
    run_with pypy "$@" || status=$?
fi
exit $status
