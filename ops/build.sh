#!/bin/sh
# Configures and builds masterfarm into build/ (or $1) with warnings as errors.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMF_WERROR=ON >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
