#!/bin/sh
# The README's main command: installs the dependencies, builds masterfarm,
# generates a demo album (8 music-like tracks whose loudness differs by up
# to 12 LU and whose spectral tilt differs by up to +-6 dB/decade), masters
# it on a local farm (one broker and one worker per core) for Spotify and
# CD, and says where the results are.
#
# usage: sh ops/demo.sh [OUTDIR]     (default: ./demo-out)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-./demo-out}
BUILD=${MF_BUILD:-$ROOT/build}     # MF_BUILD: another build folder

echo "== 1/4 dependencies (ops/install-deps.sh)"
"$ROOT/ops/install-deps.sh"

echo "== 2/4 build (ops/build.sh)"
"$ROOT/ops/build.sh" "$BUILD"

echo "== 3/4 demo album"
IN="$BUILD/demo-input"
rm -rf "$IN"
"$BUILD/tests/tool_gen_album" "$IN" --tracks 8 --seconds 15 --seed 2026 \
    --profiles spotify,cd --policy album --target -14
echo "job spec: $IN/job.json"

echo "== 4/4 masterfarm run $IN/job.json -o $OUT"
status=0
"$BUILD/masterfarm" run "$IN/job.json" -o "$OUT" || status=$?

echo
if [ "$status" -eq 0 ]; then
    echo "Done. Masters, album files, CUE sheets and reports are in $OUT/:"
else
    echo "The job did not complete (exit $status); what was delivered is in $OUT/,"
    echo "logs are in $OUT/.masterfarm/:"
fi
find "$OUT" -path "$OUT/.masterfarm" -prune -o -type f -print | LC_ALL=C sort | sed 's/^/  /'
for r in "$OUT"/*/report.html; do
    [ -f "$r" ] && echo "Open $r in a browser for the report."
done
exit "$status"
