#!/usr/bin/env bash
# Benchmark-sized check (minutes of wall time, so not a ctest): a 30-minute
# 96 kHz 24-bit track mastered against a 44.1 kHz reference, true peak by
# ffmpeg's ebur128 at or under the ceiling,
#   1. with masterfarm master --reference: tests/integration/master_reference.sh
#      with MF_REF_SECONDS (default 1800);
#   2. through the farm (masterfarm run, two workers): an album of that
#      track whose spec names the reference, spotify (48 kHz) and tidal
#      (96 kHz); every delivered file at or under -1 dBTP.
#
# usage: bench_reference_long.sh [BUILD_DIR] [SECONDS]
set -u
BIN="$(cd "${1:-${MF_BIN:-build}}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
SECS="${2:-1800}"
MF_BIN="$BIN" MF_SRC="$SRC" MF_REF_SECONDS="$SECS" \
    /usr/bin/time -f "# wall %e s, peak memory %M kB" bash "$SRC/tests/integration/master_reference.sh"
rc=$?

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench_reference_farm.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/in/refs"
"$BIN/tests/tool_master_mix" "$TMP/in/long.wav" "$SECS" 96000 2 24 >/dev/null
"$BIN/tests/tool_master_mix" "$TMP/mix.wav" 30 44100 2 24 >/dev/null
sox "$TMP/mix.wav" "$TMP/in/refs/ref.wav" treble +6 bass -2 \
    compand 0.002,0.1 -60,-60,-40,-14,0,-6 0 gain -n -0.5 2>/dev/null
cat >"$TMP/in/job.json" <<JOB
{"albums": [{"title": "Long", "artist": "Bench", "profiles": ["spotify", "tidal"],
  "tonal": {"match": "reference", "reference": "refs/ref.wav", "max_db": 6},
  "tracks": [{"path": "long.wav"}]}]}
JOB
/usr/bin/time -f "# farm: wall %e s, CPU %U s user %S s system, peak memory of the run command %M kB" \
    "$BIN/masterfarm" run "$TMP/in/job.json" -o "$TMP/out" -j 2 --quiet || rc=1
for f in "$TMP"/out/*/*/*.flac; do
    tp=$(ffmpeg -hide_banner -nostats -i "$f" -af ebur128=peak=true -f null - 2>&1 |
         awk '/Summary:/ {s=1} s && /Peak:/ {p=$2} END {print p}')
    rate=$(ffprobe -v error -select_streams a:0 -show_entries stream=sample_rate -of csv=p=0 "$f")
    ok=$(awk -v t="$tp" 'BEGIN { print (t <= -1.0) ? "ok  " : "FAIL" }')
    [ "$ok" = "ok  " ] || rc=1
    echo "$ok farm ${f#$TMP/out/}: $rate Hz, true peak $tp dBTP (ffmpeg)"
done
exit $rc
