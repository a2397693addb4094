#!/usr/bin/env bash
# The CPython test suite against a build of the shim and of every Lua with
# AddressSanitizer and UndefinedBehaviorSanitizer, Lua's API checks
# (LUA_USE_APICHECK) and internal assertions on; then a leak check of the
# shim's own allocations under LeakSanitizer.
#
#     bash scripts/sanitize.sh [PYTEST ARGS...]      default: -m "not slow"
#
# The build goes to a copy of the sources in build/sanitize/tree (the normal
# build in src/ is left alone); LUPACFFI_SANITIZE (default address,undefined)
# is what build_ffi.py reads.  SANITIZE_REBUILD=0 reuses an earlier build.
# Reports: build/sanitize/logs/ (asan.*, ubsan.*, one file per process that
# found something).  Exit status: 0 only when pytest passed, no sanitizer
# reported anything and the leak check found no leak from lupacffi's C code.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
export LUPACFFI_SANITIZE=${LUPACFFI_SANITIZE:-address,undefined}
OUT=$ROOT/build/sanitize
TREE=$OUT/tree
LOGS=$OUT/logs
CYCLES=${LEAK_CYCLES:-100}

step() { printf '\n==> %s\n' "$*"; }

"$PYTHON" vendor/fetch.py >/dev/null

if [ "${SANITIZE_REBUILD:-1}" != 0 ] || [ ! -d "$TREE/src/lupacffi" ]; then
    step "building with -fsanitize=$LUPACFFI_SANITIZE into $TREE"
    rm -rf "$TREE"
    mkdir -p "$TREE/vendor"
    cp -a build_ffi.py csrc src "$TREE/"
    rm -f "$TREE"/src/lupacffi/*.so "$TREE"/src/lupacffi/*.so.new
    cp -a vendor/lua vendor/luajit "$TREE/vendor/"
    # objects built without the sanitizer must go; luajit.h is generated and goes with them
    make -s -C "$TREE/vendor/luajit/2.1" clean >/dev/null
    make -s -C "$TREE/vendor/luajit/2.1/src" luajit.h >/dev/null
    (cd "$TREE" && ASAN_OPTIONS=detect_leaks=0 "$PYTHON" build_ffi.py)
fi

rm -rf "$LOGS"
mkdir -p "$LOGS"
LIBASAN=$(gcc -print-file-name=libasan.so)
# Python's own allocations are not leaks we can act on: no leak detection in
# the test run.  ASan reports go to log files (and end the process); UBSan
# (a separate runtime with gcc) ignores log_path and writes to stderr, so
# pytest runs with -s and its output is searched for "runtime error:".
# fuzz/ubsan.supp lists undefined behaviour found in the upstream Lua/LuaJIT
# sources (not in the shim), so that it does not hide new reports.
# (LD_PRELOAD only on the Python commands: a plain `tail` under LeakSanitizer
# reports its own leaks at exit and fails)
export UBSAN_OPTIONS="print_stacktrace=1:suppressions=$ROOT/fuzz/ubsan.supp"
export PYTHONPATH=$TREE/src
export PYTHONMALLOC=malloc       # so that ASan sees Python's objects too

[ $# -gt 0 ] || set -- -m "not slow"
step "pytest under ASan/UBSan: $*"
set +e
LD_PRELOAD=$LIBASAN ASAN_OPTIONS="detect_leaks=0:log_path=$LOGS/asan" "$PYTHON" -m pytest -q -s -p no:cacheprovider "$@" \
    > "$OUT/pytest.log" 2>&1
pytest_status=$?
set -e
tail -n 5 "$OUT/pytest.log"
grep -A 12 "runtime error:" "$OUT/pytest.log" > "$LOGS/ubsan.pytest" || rm -f "$LOGS/ubsan.pytest"

step "leak check: $CYCLES runtimes per backend under LeakSanitizer"
set +e
LD_PRELOAD=$LIBASAN ASAN_OPTIONS="detect_leaks=1:log_path=$LOGS/lsan" "$PYTHON" fuzz/leak_check.py "$CYCLES"
set -e
leak_logs=("$LOGS"/lsan.*)
leak_status=0
if [ -e "${leak_logs[0]}" ]; then
    "$PYTHON" fuzz/leak_check.py --report "${leak_logs[@]}" || leak_status=1
else
    echo "leak check: LeakSanitizer reported nothing"
fi

step "summary"
asan_reports=$(ls "$LOGS" | grep -c '^asan\.' || true)
ubsan_reports=$(grep -c "runtime error:" "$OUT/pytest.log" || true)
echo "pytest exit status:   $pytest_status ($(grep -E '(passed|failed)' "$OUT/pytest.log" | tail -n 1))"
echo "ASan reports:         $asan_reports"
echo "UBSan reports:        $ubsan_reports"
echo "leaks from lupacffi:  $( [ $leak_status = 0 ] && echo none || echo 'yes (above)')"
for f in "$LOGS"/asan.* "$LOGS"/ubsan.*; do
    [ -e "$f" ] && { echo "--- $f"; head -n 40 "$f"; }
done
[ "$pytest_status" = 0 ] && [ "$asan_reports" = 0 ] && [ "$ubsan_reports" = 0 ] && [ $leak_status = 0 ]
