#!/usr/bin/env bash
# A long stress run: threads over shared and separate runtimes of every built
# backend, with callbacks, coroutines, memory limits, both collectors,
# identity checks and an RSS check (tests/test_long_stress.py says what).
#
#     bash scripts/stress.sh [SECONDS] [THREADS]      default: 600 s, 2 threads of each kind
#
# PYTHON chooses the interpreter (default python3; e.g. PYTHON=pypy3).  Uses
# the lupacffi on PYTHONPATH or installed, else the development build in src/.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import lupacffi" 2>/dev/null; then
    export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
fi
exec "$PYTHON" tests/test_long_stress.py --seconds "${1:-600}" --threads "${2:-2}"
