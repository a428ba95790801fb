#!/usr/bin/env bash
# Benchmark-sized check (minutes of wall time, so not a ctest): a 30-minute
# 96 kHz 24-bit track mastered with masterfarm master against a 44.1 kHz
# reference, true peak by ffmpeg's ebur128 at or under the ceiling;
# tests/integration/master_reference.sh with MF_REF_SECONDS (default 1800).
#
# usage: bench_reference_long.sh [BUILD_DIR] [SECONDS]
set -u
BIN="$(cd "${1:-${MF_BIN:-build}}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
MF_BIN="$BIN" MF_SRC="$SRC" MF_REF_SECONDS="${2:-1800}" \
    /usr/bin/time -f "# wall %e s, peak memory %M kB" bash "$SRC/tests/integration/master_reference.sh"
