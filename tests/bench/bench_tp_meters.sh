#!/usr/bin/env bash
# Benchmark (prints figures, not a test): true peak of audio files by
# every meter at hand, in dBTP, one line per file:
#   sample   largest sample (dBFS)
#   own      the project's 4x meter (truepeak.h; masterfarm analyze)
#   check    the delivery check's accurate meter (tp_check.h)
#   ebur128  libebur128 EBUR128_MODE_TRUE_PEAK
#   ideal32  ideal sinc reconstruction on a 32x grid (FFT)
#   ffmpeg   ffmpeg's ebur128 filter, peak=true, the largest per-frame
#            lavfi.r128.true_peak value (not the rounded summary)
#   sox16    sox 16x VHQ resampling (rate -v 16*fs), "Pk lev dB" of stats
# With no FILE, generates the demo album (tool_gen_album, as ops/demo.sh
# does), masters it with masterfarm run and measures the delivered
# per-track masters.
#
# usage: bench_tp_meters.sh BUILD_DIR [FILE...]
set -u
BIN="${1:?usage: bench_tp_meters.sh BUILD_DIR [FILE...]}"
shift
TMP="${MF_TEST_TMP:-/tmp}/bench_tp_meters.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT

if [ $# -eq 0 ]; then
    "$BIN/tests/tool_gen_album" "$TMP/in" --tracks 8 --seconds 15 --seed 2026 \
        --profiles spotify,cd --policy album --target -14 > /dev/null || exit 1
    "$BIN/masterfarm" run "$TMP/in/job.json" -o "$TMP/out" > "$TMP/run.log" 2>&1 ||
        { echo "masterfarm run failed:"; tail -20 "$TMP/run.log"; exit 1; }
    mapfile -t files < <(find "$TMP/out" -path '*/.masterfarm' -prune -o -type f \
        \( -name '[0-9]*.wav' -o -name '[0-9]*.flac' \) -print | LC_ALL=C sort)
    set -- "${files[@]}"
fi

ffmpeg_tp () {  # largest per-frame true peak of ffmpeg's ebur128, dBTP
    ffmpeg -hide_banner -nostats -i "$1" \
        -af ebur128=peak=true:metadata=1,ametadata=mode=print:key=lavfi.r128.true_peak \
        -f null - 2>&1 | grep -o 'true_peak=[-0-9.e]*' | cut -d= -f2 | sort -g | tail -1 |
        awk '{ if ($1 > 0) printf "%.3f", 20 * log(($1)) / log(10); else print "-inf" }'
}
sox_tp () {     # peak after 16x VHQ resampling, dBFS
    local r
    r=$(soxi -r "$1")
    sox "$1" -n rate -v $((r * 16)) stats 2>&1 | awk '/^Pk lev dB/ { print $4 }'
}

printf "%8s %8s %8s %8s %8s %8s %8s  %s\n" sample own check ebur128 ideal32 ffmpeg sox16 file
for f in "$@"; do
    line=$("$BIN/tests/tool_tp_meters" "$f" | tail -1)
    read -r _ s o c e i _ <<< "$line"
    printf "%8s %8s %8s %8s %8s %8s %8s  %s\n" "$s" "$o" "$c" "$e" "$i" \
        "$(ffmpeg_tp "$f")" "$(sox_tp "$f")" "${f#"$TMP"/}"
done
