#!/usr/bin/env bash
# Benchmark (prints figures, not a test): one track through the mastering
# chain with masterfarm master, an equivalent two-pass ffmpeg chain and a
# sox chain, on a generated 4-minute 44.1 kHz 24-bit stereo mix.
#
#   masterfarm: --spec with HP 20 Hz, 3 EQ bands, glue compressor,
#               limiter; -14 LUFS / -1 dBTP; 24-bit WAV
#   ffmpeg:     highpass, equalizer x3, acompressor, loudnorm pass 1
#               (measure), pass 2 with measured_* and linear=true
#   sox:        highpass, equalizer x3, compand, gain -n -1 (peak norm;
#               sox has no loudness normalisation)
#
# Speed is x realtime per core: audio seconds / CPU seconds (user + sys)
# of the whole command (decode, process, encode); masterfarm and sox are
# timed best of 3 runs, the ffmpeg pair once. Every output is measured
# by one independent meter: ffmpeg's ebur128=peak=true.
#
# usage: bench_master.sh [BUILD_DIR] [SECONDS]
set -u
BIN="${1:-${MF_BIN:-build}}"
SECS="${2:-240}"
TMP="${MF_TEST_TMP:-/tmp}/bench_master.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
IN="$TMP/in.wav"
"$BIN/tests/tool_master_mix" "$IN" "$SECS" 44100 2 24 || exit 1

cpu () {  # cpu OUTFILE CMD... : runs CMD, appends its user+sys seconds to OUTFILE
    local f="$1"; shift
    /usr/bin/time -f "%U %S %e" -o "$TMP/t.txt" "$@" > "$TMP/cmd.out" 2> "$TMP/cmd.err" ||
        { echo "command failed: $*"; cat "$TMP/cmd.err"; }
    awk '{ printf "%.3f %.3f\n", $1 + $2, $3 }' "$TMP/t.txt" >> "$f"
}
sum () { awk '{ c += $1; w += $2 } END { printf "%.3f %.3f", c, w }' "$1"; }
meter () {
    ffmpeg -hide_banner -nostats -i "$1" -af ebur128=peak=true -f null - 2>&1 |
        awk '/Integrated loudness:/ {s=1} s && /I:/ {i=$2} s && /Peak:/ {p=$2} END {print i, p}'
}

cat > "$TMP/chain.json" <<'JSON'
{"highpass_hz": 20, "highpass_order": 2,
 "eq": [{"type": "lowshelf", "freq_hz": 100, "gain_db": 2, "q": 0.7},
        {"type": "peak", "freq_hz": 1000, "gain_db": -1.5, "q": 1.0},
        {"type": "highshelf", "freq_hz": 8000, "gain_db": 1.5, "q": 0.7}],
 "compressor": {"threshold_db": -18, "ratio": 1.5, "attack_ms": 30,
                "release_ms": 250, "knee_db": 6},
 "limiter": {"lookahead_ms": 2.0, "release_ms": 80}}
JSON

# masterfarm (best of 3: the machine may be shared)
best () {  # best OUTFILE RUNS CMD... : the run with the least CPU time
    local f="$1" n="$2"; shift 2
    : > "$TMP/best.t"
    for _ in $(seq "$n"); do cpu "$TMP/best.t" "$@"; done
    sort -n "$TMP/best.t" | head -1 > "$f"
}
best "$TMP/mf.t" 3 "$BIN/masterfarm" master "$IN" -o "$TMP/mf.wav" --spec "$TMP/chain.json" --target-lufs -14
cp "$TMP/cmd.out" "$TMP/mf_report.txt"

# ffmpeg, two passes
FILT="highpass=f=20,lowshelf=f=100:g=2:w=0.7:t=q,equalizer=f=1000:t=q:w=1.0:g=-1.5,highshelf=f=8000:g=1.5:w=0.7:t=q,acompressor=threshold=-18dB:ratio=1.5:attack=30:release=250:knee=6"
: > "$TMP/ff.t"
cpu "$TMP/ff.t" ffmpeg -hide_banner -nostats -y -i "$IN" \
    -af "$FILT,loudnorm=I=-14:TP=-1:LRA=20:print_format=json" -f null -
M_I=$(grep '"input_i"' "$TMP/cmd.err" | tr -dc '0-9.-')
M_TP=$(grep '"input_tp"' "$TMP/cmd.err" | tr -dc '0-9.-')
M_LRA=$(grep '"input_lra"' "$TMP/cmd.err" | tr -dc '0-9.-')
M_TH=$(grep '"input_thresh"' "$TMP/cmd.err" | tr -dc '0-9.-')
M_OFF=$(grep '"target_offset"' "$TMP/cmd.err" | tr -dc '0-9.-')
cpu "$TMP/ff.t" ffmpeg -hide_banner -nostats -y -i "$IN" \
    -af "$FILT,loudnorm=I=-14:TP=-1:LRA=20:measured_I=$M_I:measured_TP=$M_TP:measured_LRA=$M_LRA:measured_thresh=$M_TH:offset=$M_OFF:linear=true" \
    -ar 44100 -c:a pcm_s24le "$TMP/ff.wav"

# sox (best of 3)
best "$TMP/sox.t" 3 sox "$IN" -b 24 "$TMP/sox.wav" highpass 20 bass +2 100 0.7q \
    equalizer 1000 1.0q -1.5 treble +1.5 8000 0.7q \
    compand 0.03,0.25 6:-70,-70,-18,-18,0,-6 0 gain -n -1

read -r MF_CPU MF_WALL < <(sum "$TMP/mf.t")
read -r FF_CPU FF_WALL < <(sum "$TMP/ff.t")
read -r SX_CPU SX_WALL < <(sum "$TMP/sox.t")
read -r MF_I MF_TP < <(meter "$TMP/mf.wav")
read -r FF_I FF_TP < <(meter "$TMP/ff.wav")
read -r SX_I SX_TP < <(meter "$TMP/sox.wav")

echo "bench_master: ${SECS} s of 44.1 kHz 24-bit stereo, target -14 LUFS / -1 dBTP"
echo "meter: ffmpeg ebur128=peak=true (integrated LUFS, true peak dBTP)"
printf "%-12s %9s %9s %12s %10s %9s %8s\n" tool cpu_s wall_s "x_rt/core" "vs_mf" LUFS dBTP
for t in mf ff sx; do
    case $t in
        mf) n=masterfarm; c=$MF_CPU; w=$MF_WALL; i=$MF_I; p=$MF_TP ;;
        ff) n="ffmpeg 2-pass"; c=$FF_CPU; w=$FF_WALL; i=$FF_I; p=$FF_TP ;;
        sx) n=sox; c=$SX_CPU; w=$SX_WALL; i=$SX_I; p=$SX_TP ;;
    esac
    awk -v n="$n" -v c="$c" -v w="$w" -v s="$SECS" -v m="$MF_CPU" -v i="$i" -v p="$p" \
        'BEGIN { printf "%-12s %9.2f %9.2f %12.1f %9.2fx %9s %8s\n", n, c, w, s / c, c / m, i, p }'
done
echo "(vs_mf: the tool's CPU time over masterfarm's; > 1 means masterfarm is faster)"
echo "masterfarm's own report:"
sed 's/^/  /' "$TMP/mf_report.txt"
