#!/bin/bash
# bench_catalog: catalog throughput of the local farm with 1 and with 2
# workers, in x realtime (seconds of audio mastered per wall-clock
# second), and the scaling ratio between them (goal >= 1.8 on 2 cores).
# Prints figures; not a pass/fail test.
#
# usage: MF_BIN=BUILD MF_SRC=SRC bash tests/bench/bench_catalog.sh
#        [ALBUMS (3)] [TRACKS PER ALBUM (8)] [SECONDS PER TRACK (10)] [PROFILES (spotify)]
set -euo pipefail
MF_BIN=${MF_BIN:?MF_BIN must point at the build folder}
ALBUMS=${1:-3}
TRACKS=${2:-8}
SECS=${3:-10}
PROFILES=${4:-spotify}
TMP=$(mktemp -d "${MF_TEST_TMP:-/tmp}/bench_catalog.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

"$MF_BIN/tests/tool_gen_album" "$TMP/in" --albums "$ALBUMS" --tracks "$TRACKS" \
    --seconds "$SECS" --seed 99 --profiles "$PROFILES" >/dev/null
audio_s=$(awk -v a="$ALBUMS" -v t="$TRACKS" -v s="$SECS" 'BEGIN { print a * t * s }')
echo "catalog: $ALBUMS albums x $TRACKS tracks x $SECS s = $audio_s s of audio, profiles $PROFILES, $(nproc) cores"

declare -A rate
for j in 1 2; do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    t0=${EPOCHREALTIME/./}
    "$MF_BIN/masterfarm" run "$TMP/in/job.json" -o "$TMP/out-$j" -j "$j" --quiet >"$TMP/run-$j.out" 2>&1 \
        || { cat "$TMP/run-$j.out"; echo "bench_catalog: run with $j worker(s) failed"; exit 1; }
    t1=${EPOCHREALTIME/./}
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
    rate[$j]=$(awk -v a="$audio_s" -v w="$wall" 'BEGIN { printf "%.2f", a / w }')
    watched=$(grep -o '([0-9.]*x realtime over [0-9.]* s watched)' "$TMP/run-$j.out" || true)
    echo "  (load average before this run: $load)"
    echo "workers=$j: wall ${wall} s (start to stop of the whole farm), ${rate[$j]}x realtime; job $watched"
done
echo "note: the ratio only means something on an otherwise idle machine (see the load averages)"
awk -v a="${rate[1]}" -v b="${rate[2]}" \
    'BEGIN { printf "scaling 2 workers / 1 worker: %.2f (goal >= 1.8)\n", b / a }'
