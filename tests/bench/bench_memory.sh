#!/usr/bin/env bash
# Benchmark (prints figures, not a test): peak resident memory of
# masterfarm master and masterfarm analyze on generated 44.1 kHz 24-bit
# stereo mixes of the given lengths, against the bound of the mastering
# contract: one 32-bit float copy of the track plus 64 MB (master) and a
# size independent of the track's length (analyze).
#
# Peak RSS is /usr/bin/time's "maximum resident set size"; the float
# copy is frames x channels x 4 bytes. The chain is bench_master.sh's
# (HP, 3 EQ bands, glue compressor, limiter; -14 LUFS).
#
# usage: bench_memory.sh [BUILD_DIR] [SECONDS...]   (default 420 3600)
set -u
BIN="${1:-${MF_BIN:-build}}"
shift || true
LENGTHS="${*:-420 3600}"
TMP="${MF_TEST_TMP:-/tmp}/bench_memory.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT

cat > "$TMP/chain.json" <<'JSON'
{"highpass_hz": 20, "highpass_order": 2,
 "eq": [{"type": "lowshelf", "freq_hz": 100, "gain_db": 2, "q": 0.7},
        {"type": "peak", "freq_hz": 1000, "gain_db": -1.5, "q": 1.0},
        {"type": "highshelf", "freq_hz": 8000, "gain_db": 1.5, "q": 0.7}],
 "compressor": {"threshold_db": -18, "ratio": 1.5, "attack_ms": 30,
                "release_ms": 250, "knee_db": 6},
 "limiter": {"lookahead_ms": 2.0, "release_ms": 80}}
JSON

peak_kb () {  # peak_kb CMD... : prints the command's peak RSS in kB
    /usr/bin/time -f "%M" -o "$TMP/t.txt" "$@" > /dev/null 2> "$TMP/cmd.err" ||
        { echo "command failed: $*" >&2; cat "$TMP/cmd.err" >&2; echo 0; return; }
    tail -n 1 "$TMP/t.txt"
}

printf "%-8s %-8s %12s %12s %12s %7s\n" tool seconds "peak MB" "bound MB" "copy MB" ratio
for secs in $LENGTHS; do
    IN="$TMP/in.wav"
    "$BIN/tests/tool_master_mix" "$IN" "$secs" 44100 2 24 || exit 1
    copy=$(( secs * 44100 * 2 * 4 ))                      # bytes of one float copy
    m=$(peak_kb "$BIN/masterfarm" master "$IN" -o "$TMP/out.wav" \
                --spec "$TMP/chain.json" --target-lufs -14)
    a=$(peak_kb "$BIN/masterfarm" analyze "$IN")
    awk -v s="$secs" -v m="$m" -v a="$a" -v c="$copy" 'BEGIN {
        mb = 1048576; bound = c + 64 * mb
        printf "%-8s %-8s %12.1f %12.1f %12.1f %7.2f %s\n", "master", s, m * 1024 / mb,
               bound / mb, c / mb, m * 1024 / bound, m * 1024 <= bound ? "within" : "OVER"
        printf "%-8s %-8s %12.1f %12s %12.1f %7.2f\n", "analyze", s, a * 1024 / mb, "-",
               c / mb, a * 1024 / c
    }'
    rm -f "$IN" "$TMP/out.wav"
done
