#!/usr/bin/env bash
# The whole test suite, on CPython and on PyPy, over every Lua backend.
#
#     bash scripts/test.sh [PYTEST ARGS...]      e.g.  -x  -k table  -m "not slow"
#
# Starts from a fresh machine (Debian bookworm, CPython 3 with gcc): installs
# PyPy when it is missing, fetches the Lua sources, builds and installs
# lupacffi (`pip install .`, not editable) into fresh venvs .venv/cpython and
# .venv/pypy, and runs pytest with each, against the installed package.
# Exit status: 0 only when both runs pass.
#
# Environment: PYTHON (default python3) and PYPY (default pypy3) choose the
# interpreters; the venvs are created anew on every run.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
PYPY=${PYPY:-pypy3}
VENVS=$PWD/.venv                 # git-ignored (.venv*/)
START=$SECONDS

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'scripts/test.sh: %s\n' "$*" >&2; exit 1; }
took() { printf '    (%ss)\n' "$((SECONDS - $1))"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root to run: $*"
    fi
}

# --- 1. system packages: PyPy (and the tools of the build) ------------------
missing=()
for pkg in pypy3 pypy3-dev pypy3-venv; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
command -v make >/dev/null || missing+=(make)
command -v gcc >/dev/null || missing+=(gcc)
if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${missing[*]}"
    t=$SECONDS
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    took $t
fi
command -v "$PYTHON" >/dev/null || die "$PYTHON not found"
command -v "$PYPY" >/dev/null || die "$PYPY not found"

# --- 2. the Lua sources (vendor/, idempotent) ---------------------------------
step "fetching the Lua sources: python3 vendor/fetch.py"
t=$SECONDS
"$PYTHON" vendor/fetch.py
took $t

# --- 3. one fresh venv per interpreter, with lupacffi installed ---------------
# pip builds in the source tree. What setuptools left there goes first: with
# build/lib.* and build/temp.* it may skip recompiling when only the C shim
# changed, and an old src/*.egg-info/SOURCES.txt feeds stale paths back in.
clean_build() {
    rm -rf build/lib.* build/temp.* build/bdist.* src/*.egg-info
}

install_into() {          # install_into NAME INTERPRETER
    local name=$1 interp=$2 venv=$VENVS/$1 t=$SECONDS
    step "$name: fresh venv $venv, pip install pytest ."
    rm -rf "$venv"
    "$interp" -m venv "$venv"
    "$venv/bin/python" -m pip install -q pytest
    clean_build
    "$venv/bin/python" -m pip install -q .
    clean_build
    # the package under test must be the installed one, not src/
    env -u PYTHONPATH "$venv/bin/python" -c '
import os, sys, lupacffi
here = os.path.realpath(lupacffi.__file__)
prefix = os.path.realpath(sys.prefix) + os.sep
if not here.startswith(prefix):
    sys.exit("lupacffi comes from %s, not from the venv %s" % (here, prefix))
print("    lupacffi %s from %s" % (lupacffi.__version__, os.path.dirname(here)))
print("    backends: %s" % ", ".join(lupacffi.available_backends()))
'
    took $t
}

# --- 4. pytest with each -----------------------------------------------------
declare -A RESULT STATUS
run_tests() {             # run_tests NAME [PYTEST ARGS...]
    local name=$1 t=$SECONDS
    shift
    local venv=$VENVS/$name log=$VENVS/pytest-$name.log
    step "$name: pytest $*"
    set +e
    env -u PYTHONPATH LUPACFFI_REQUIRE_BACKENDS=all LUPACFFI_EXPECT_PREFIX="$venv" \
        "$venv/bin/python" -m pytest "$@" 2>&1 | tee "$log"
    STATUS[$name]=${PIPESTATUS[0]}
    set -e
    # pytest's closing line ("=== 250 passed in 41.2s ===", or with -q "250 passed in 41.2s")
    RESULT[$name]=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1 || true)
    took $t
}

mkdir -p "$VENVS"
install_into cpython "$PYTHON"
install_into pypy "$PYPY"
run_tests cpython "$@"
run_tests pypy "$@"

# --- summary ---------------------------------------------------------------
step "summary"
failed=0
for name in cpython pypy; do
    version=$("$VENVS/$name/bin/python" -c 'import platform; print(platform.python_implementation(), platform.python_version())')
    if [ "${STATUS[$name]}" = 0 ]; then verdict=ok; else verdict="FAILED (pytest exit ${STATUS[$name]})"; failed=1; fi
    printf '%-8s %-16s %s\n' "$name" "$version" "$verdict"
    printf '         %s\n' "${RESULT[$name]}"
done
printf 'total time: %dm%02ds\n' "$(((SECONDS - START) / 60))" "$(((SECONDS - START) % 60))"
exit $failed
