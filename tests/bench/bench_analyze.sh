#!/usr/bin/env bash
# Benchmark of `masterfarm analyze` against ffmpeg's ebur128 filter with
# true peak, on the same generated file in the same run: a 4-minute
# 44.1 kHz 24-bit stereo WAV of pink noise plus tones (sox). Best of 3
# each (wall clock and CPU time alike, runs of the two tools taken in
# turn so that a change of load hits both); prints x realtime (wall
# clock), CPU time per audio second, the single-core figures of both
# tools (pinned with taskset when available), the ratios to ffmpeg, and
# the true-peak kernel speeds (bench_tp).
# Usage: MF_BIN=<build dir> bash tests/bench/bench_analyze.sh
# Prints figures; not a test.
set -eu
BIN="${MF_BIN:-${1:-}}"
if [ -z "$BIN" ] || [ ! -x "$BIN/masterfarm" ]; then
    echo "usage: MF_BIN=<build dir> bash $0   (needs \$MF_BIN/masterfarm)" >&2
    exit 2
fi
for t in sox ffmpeg; do
    command -v "$t" >/dev/null || { echo "bench_analyze: $t is needed" >&2; exit 2; }
done
TMP="${MF_TEST_TMP:-/tmp}/bench_analyze.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
DUR=240
WAV="$TMP/bench.wav"

echo "generating ${DUR} s 44.1 kHz 24-bit stereo (pink noise + tones) ..."
sox -n -r 44100 -c 2 -b 24 "$TMP/noise.wav" synth $DUR pinknoise vol 0.3
sox -n -r 44100 -c 2 -b 24 "$TMP/tones.wav" synth $DUR sine 220 sine 3000 vol 0.2
sox -m "$TMP/noise.wav" "$TMP/tones.wav" -b 24 "$WAV"
rm -f "$TMP/noise.wav" "$TMP/tones.wav"

RUNS=3

# wall_of CMD...: wall-clock seconds of one run
wall_of () {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }'
}

# cpu_of CMD...: user+sys seconds of one run (empty without /usr/bin/time)
cpu_of () {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{ printf "%.4f", $1 + $2 }'
    else
        echo ""
    fi
}

# min A B: the smaller of two figures, B when A is empty
min () {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || (b != "" && b + 0 < a + 0)) print b; else print a }'
}

MF=("$BIN/masterfarm" analyze "$WAV")
FF=(ffmpeg -nostats -i "$WAV" -af ebur128=peak=true -f null -)
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)
mf=""; ff=""; cpu=""; ffcpu=""; one=""; ffone=""
for _ in $(seq $RUNS); do
    mf=$(min "$mf" "$(wall_of "${MF[@]}")")
    ff=$(min "$ff" "$(wall_of "${FF[@]}")")
    cpu=$(min "$cpu" "$(cpu_of "${MF[@]}")")
    ffcpu=$(min "$ffcpu" "$(cpu_of "${FF[@]}")")
    if [ ${#PIN[@]} -gt 0 ]; then
        one=$(min "$one" "$(wall_of "${PIN[@]}" "${MF[@]}")")
        ffone=$(min "$ffone" "$(wall_of "${PIN[@]}" "${FF[@]}")")
    fi
done

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (wall figures suffer under load; CPU figures less)"
awk -v d=$DUR -v n=$RUNS -v mf="$mf" -v ff="$ff" -v cpu="$cpu" -v ffcpu="$ffcpu" \
    -v one="$one" -v ffone="$ffone" 'BEGIN {
    printf "masterfarm analyze       %7.3f s  %7.1fx realtime (wall, best of %d)\n", mf, d / mf, n
    if (cpu != "")
        printf "masterfarm analyze CPU   %7.3f s  %7.1fx realtime per core (user+sys, best of %d)\n", cpu, d / cpu, n
    if (one != "")
        printf "masterfarm on one core   %7.3f s  %7.1fx realtime (taskset -c 0, best of %d)\n", one, d / one, n
    printf "ffmpeg ebur128 peak=true %7.3f s  %7.1fx realtime (wall, best of %d)\n", ff, d / ff, n
    if (ffcpu != "")
        printf "ffmpeg CPU               %7.3f s  %7.1fx realtime per core (user+sys, best of %d)\n", ffcpu, d / ffcpu, n
    if (ffone != "")
        printf "ffmpeg on one core       %7.3f s  %7.1fx realtime (taskset -c 0, best of %d)\n", ffone, d / ffone, n
    printf "speed-up over ffmpeg     %7.2fx (wall)\n", ff / mf
    if (cpu != "" && ffcpu != "")
        printf "speed-up over ffmpeg     %7.2fx (CPU time)\n", ffcpu / cpu
    if (one != "" && ffone != "")
        printf "speed-up over ffmpeg     %7.2fx (both on one core)\n", ffone / one
}'

if [ -x "$BIN/tests/bench_tp" ]; then
    "$BIN/tests/bench_tp"
elif [ -x "$BIN/bench_tp" ]; then
    "$BIN/bench_tp"
else
    echo "bench_tp not built (configure with -DMF_BENCH=ON)"
fi
