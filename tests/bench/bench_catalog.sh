#!/bin/bash
# bench_catalog: catalog throughput of the local farm with 1 and with 2
# workers, in x realtime (seconds of audio mastered per wall-clock
# second), and the scaling ratio between them (goal >= 1.8 on 2 cores).
# Each configuration runs REPEAT times and the best run counts, which
# keeps the figures honest on a machine that also does other work; the
# load average before each run is printed. Two measures: the whole farm
# (what `masterfarm run` takes, start-up and shut-down included) and the
# tasks only (first task start to last task end, from the state file),
# and how many worker slots the broker kept busy on average (the sum of
# task times over that span): when that is near 2 with 2 workers but the
# throughput does not double, the cores were shared with other work.
# Needs the sqlite3 command. Prints figures; not a test.
#
# usage: MF_BIN=BUILD bash tests/bench/bench_catalog.sh
#        [ALBUMS (3)] [TRACKS PER ALBUM (8)] [SECONDS PER TRACK (10)]
#        [PROFILES (spotify)] [REPEAT (2)]
set -euo pipefail
MF_BIN=${MF_BIN:?MF_BIN must point at the build folder}
ALBUMS=${1:-3}
TRACKS=${2:-8}
SECS=${3:-10}
PROFILES=${4:-spotify}
REPEAT=${5:-2}
TMP=$(mktemp -d "${MF_TEST_TMP:-/tmp}/bench_catalog.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

"$MF_BIN/tests/tool_gen_album" "$TMP/in" --albums "$ALBUMS" --tracks "$TRACKS" \
    --seconds "$SECS" --seed 99 --profiles "$PROFILES" >/dev/null
audio_s=$(awk -v a="$ALBUMS" -v t="$TRACKS" -v s="$SECS" 'BEGIN { print a * t * s }')
echo "catalog: $ALBUMS albums x $TRACKS tracks x $SECS s = $audio_s s of audio," \
     "profiles $PROFILES, $(nproc) cores, best of $REPEAT runs"

declare -A best tbest
for j in 1 2; do
    best[$j]=0
    for r in $(seq "$REPEAT"); do
        rm -rf "$TMP/out"
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        t0=${EPOCHREALTIME/./}
        "$MF_BIN/masterfarm" run "$TMP/in/job.json" -o "$TMP/out" -j "$j" --quiet \
            >"$TMP/run.out" 2>&1 \
            || { cat "$TMP/run.out"; echo "bench_catalog: run with $j worker(s) failed"; exit 1; }
        t1=${EPOCHREALTIME/./}
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
        rate=$(awk -v a="$audio_s" -v w="$wall" 'BEGIN { printf "%.2f", a / w }')
        # The farm's own work: first task start to last task end (state file).
        span=$(sqlite3 "$TMP/out/.masterfarm/state.db" \
            "SELECT (max(ended_ms) - min(started_ms)) / 1000.0 FROM attempts")
        trate=$(awk -v a="$audio_s" -v w="$span" 'BEGIN { printf "%.2f", a / w }')
        # Slots kept busy: task time summed over workers / span (at most j).
        busy=$(sqlite3 "$TMP/out/.masterfarm/state.db" \
            "SELECT printf('%.2f', sum(ended_ms - started_ms) * 1.0 / (max(ended_ms) - min(started_ms))) FROM attempts")
        echo "workers=$j run $r: whole farm ${wall} s = ${rate}x realtime;" \
             "tasks ${span} s = ${trate}x realtime; busy slots ${busy} of $j" \
             "(load average before: $load)"
        best[$j]=$(awk -v a="${best[$j]}" -v b="$rate" 'BEGIN { print (b > a) ? b : a }')
        tbest[$j]=$(awk -v a="${tbest[$j]:-0}" -v b="$trate" 'BEGIN { print (b > a) ? b : a }')
    done
done
echo "best, whole farm: 1 worker ${best[1]}x, 2 workers ${best[2]}x realtime"
echo "best, tasks only: 1 worker ${tbest[1]}x, 2 workers ${tbest[2]}x realtime"
awk -v a="${best[1]}" -v b="${best[2]}" -v c="${tbest[1]}" -v d="${tbest[2]}" \
    'BEGIN { printf "scaling 2 workers / 1 worker: %.2f whole farm, %.2f tasks only (goal >= 1.8)\n", b / a, d / c }'
