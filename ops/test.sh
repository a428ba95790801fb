#!/bin/sh
# Installs the dependencies, builds masterfarm twice (sanitizers, then the
# normal build) and runs every test with ctest in both. Exits non-zero if
# anything fails. The normal build's ctest summary is printed last.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOBS=$(nproc)

"$ROOT/ops/install-deps.sh"

status=0

# 1. AddressSanitizer + UBSan build: the unit, DSP and fuzz-replay tests.
cmake -S "$ROOT" -B "$ROOT/build-asan" -DCMAKE_BUILD_TYPE=Debug \
      -DMF_SANITIZE=ON -DMF_WERROR=ON -DMF_BENCH=OFF >/dev/null
cmake --build "$ROOT/build-asan" -j "$JOBS"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$ROOT/build-asan" && ctest --output-on-failure -j "$JOBS" -L 'unit|dsp|fuzz') || status=1
unset ASAN_OPTIONS UBSAN_OPTIONS

# 2. The normal build: everything.
cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMF_WERROR=ON >/dev/null
cmake --build "$ROOT/build" -j "$JOBS"
(cd "$ROOT/build" && ctest --output-on-failure -j "$JOBS") || status=1

exit $status
