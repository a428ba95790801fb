#!/usr/bin/env bash
# Benchmark of `masterfarm analyze` against ffmpeg's ebur128 filter with
# true peak, on the same generated file in the same run: a 4-minute
# 44.1 kHz 24-bit stereo WAV of pink noise plus tones (sox). Best of 3
# each; prints x realtime (wall clock), masterfarm's CPU time per audio
# second, the single-core figure (pinned with taskset when available),
# the ratio to ffmpeg, and the true-peak kernel speeds (bench_tp).
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

# best_of CMD...: prints the best wall-clock seconds of 3 runs
best_of () {
    local best=""
    for _ in 1 2 3; do
        local t0 t1
        t0=$(date +%s.%N)
        "$@" >/dev/null 2>&1
        t1=$(date +%s.%N)
        best=$(awk -v a="$t0" -v b="$t1" -v best="$best" \
                   'BEGIN { d = b - a; if (best == "" || d < best) best = d; printf "%.4f", best }')
    done
    echo "$best"
}

# cpu_of CMD...: user+sys seconds of one run (needs /usr/bin/time)
cpu_of () {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{ printf "%.4f", $1 + $2 }'
    else
        echo ""
    fi
}

mf=$(best_of "$BIN/masterfarm" analyze "$WAV")
ff=$(best_of ffmpeg -nostats -i "$WAV" -af ebur128=peak=true -f null -)
cpu=$(cpu_of "$BIN/masterfarm" analyze "$WAV")
ffcpu=$(cpu_of ffmpeg -nostats -i "$WAV" -af ebur128=peak=true -f null -)
one=""
if command -v taskset >/dev/null; then
    one=$(best_of taskset -c 0 "$BIN/masterfarm" analyze "$WAV")
fi

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (wall figures suffer under load; CPU figures less)"
awk -v d=$DUR -v mf="$mf" -v ff="$ff" -v cpu="$cpu" -v ffcpu="$ffcpu" -v one="$one" 'BEGIN {
    printf "masterfarm analyze      %7.3f s  %7.1fx realtime (wall, best of 3)\n", mf, d / mf
    if (cpu != "")
        printf "masterfarm analyze CPU  %7.3f s  %7.1fx realtime per core (user+sys)\n", cpu, d / cpu
    if (one != "")
        printf "masterfarm on one core  %7.3f s  %7.1fx realtime (taskset -c 0)\n", one, d / one
    printf "ffmpeg ebur128 peak=true %6.3f s  %7.1fx realtime (wall, best of 3)\n", ff, d / ff
    if (ffcpu != "")
        printf "ffmpeg CPU              %7.3f s  %7.1fx realtime per core (user+sys)\n", ffcpu, d / ffcpu
    printf "speed-up over ffmpeg    %7.2fx (wall)\n", ff / mf
    if (cpu != "" && ffcpu != "")
        printf "speed-up over ffmpeg    %7.2fx (CPU time)\n", ffcpu / cpu
    if (one != "")
        printf "speed-up on one core    %7.2fx\n", ff / one
}'

if [ -x "$BIN/tests/bench_tp" ]; then
    "$BIN/tests/bench_tp"
elif [ -x "$BIN/bench_tp" ]; then
    "$BIN/bench_tp"
else
    echo "bench_tp not built (configure with -DMF_BENCH=ON)"
fi
