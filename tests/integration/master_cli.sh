#!/usr/bin/env bash
# masterfarm master end to end: profiles and formats (checked by ffprobe
# and by ffmpeg's ebur128 meter, an independent implementation: loudness
# within 0.1 LU of the target, printed to 0.1 LU; true peak at or under the
# ceiling), --target-lufs, --spec, mono, extreme rates, byte-identical
# re-runs, and bad input: every bad file or value gets one clear line on
# stderr, exit 1 for a file that fails, 2 for bad usage, and no output.
set -u
BIN="${MF_BIN:?MF_BIN not set}"
MF="$BIN/masterfarm"
GEN="$BIN/tests/tool_master_mix"
TMP="${MF_TEST_TMP:-/tmp}/master_cli.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
. "${MF_SRC:?MF_SRC not set}/tests/lib/check_lib.sh"
meter () { ebur_summary "$1" | awk '{print $1, $3}'; }   # meter FILE -> "I TP"
probe () {  # probe FILE FIELD
    ffprobe -v error -select_streams a:0 -show_entries "stream=$2" -of default=nw=1:nk=1 "$1"
}

"$GEN" "$TMP/mix.wav" 20 44100 2 24 || { echo "FAIL generator"; exit 1; }
"$GEN" "$TMP/mono.wav" 10 48000 1 24
"$GEN" "$TMP/r8k.wav" 5 8000 2 16
"$GEN" "$TMP/r384k.wav" 3 384000 2 24

# --- usage ----------------------------------------------------------------
"$MF" master --help > "$TMP/help.txt"; rc=$?
check "--help exits 0" test $rc -eq 0
check "--help prints the usage" grep -q "usage: masterfarm master" "$TMP/help.txt"
"$MF" master 2> "$TMP/e.txt"; rc=$?
check "no FILE: exit 2" test $rc -eq 2
"$MF" master "$TMP/mix.wav" -o "$TMP/x.wav" --profile vinyl 2> "$TMP/e.txt"; rc=$?
check "unknown profile: exit 2" test $rc -eq 2
check "unknown profile: one line naming it" bash -c "[ \$(wc -l < '$TMP/e.txt') -eq 1 ] && grep -q \"unknown profile 'vinyl'\" '$TMP/e.txt'"
"$MF" master "$TMP/mix.wav" -o "$TMP/x.wav" --target-lufs -2 2> "$TMP/e.txt"; rc=$?
check "--target-lufs -2: exit 2" test $rc -eq 2
"$MF" master "$TMP/mix.wav" -o "$TMP/x.mp3" 2> "$TMP/e.txt"; rc=$?
check "unknown extension: exit 2" test $rc -eq 2
check "nothing written on bad usage" test ! -e "$TMP/x.wav"

# --- bad audio ------------------------------------------------------------
"$MF" master "$TMP/none.wav" -o "$TMP/x.wav" 2> "$TMP/e.txt"; rc=$?
check "missing file: exit 1, one line" bash -c "[ $rc -eq 1 ] && [ \$(wc -l < '$TMP/e.txt') -eq 1 ]"
echo "this is not audio" > "$TMP/text.wav"
"$MF" master "$TMP/text.wav" -o "$TMP/x.wav" 2> "$TMP/e.txt"; rc=$?
check "text file: exit 1, one line naming it" bash -c "[ $rc -eq 1 ] && [ \$(wc -l < '$TMP/e.txt') -eq 1 ] && grep -q text.wav '$TMP/e.txt'"
head -c 44 "$TMP/mix.wav" > "$TMP/trunc.wav"
"$MF" master "$TMP/trunc.wav" -o "$TMP/x.wav" 2> "$TMP/e.txt"; rc=$?
check "header-only WAV: exit 1, one line" bash -c "[ $rc -eq 1 ] && [ \$(wc -l < '$TMP/e.txt') -eq 1 ]"
check "nothing written for bad audio" test ! -e "$TMP/x.wav"

# --- bad chain specs: rejected before any audio is read, with the JSON path
spec_case () {  # spec_case NAME JSON NEEDLE
    printf '%s\n' "$2" > "$TMP/$1.json"
    "$MF" master "$TMP/mix.wav" -o "$TMP/$1.wav" --spec "$TMP/$1.json" 2> "$TMP/e.txt"; local rc=$?
    check "spec $1: exit 2" test $rc -eq 2
    check "spec $1: names $3" grep -qF "$3" "$TMP/e.txt"
    check "spec $1: nothing written" test ! -e "$TMP/$1.wav"
}
spec_case ratio0 '{"compressor": {"threshold_db": -18, "ratio": 0}}' 'compressor.ratio'
spec_case attack '{"compressor": {"attack_ms": -5}}' 'compressor.attack_ms'
spec_case ceiling '{"chain": {"limiter": {"ceiling_dbtp": 0.5}}}' 'limiter.ceiling_dbtp'
spec_case syntax '{"compressor": {"ratio": 2,}}' 'syntax.json'

# --- profiles -------------------------------------------------------------
prof_case () {  # prof_case PROFILE OUT TARGET CEILING RATE CODEC
    "$MF" master "$TMP/mix.wav" -o "$TMP/$2" --profile "$1" > "$TMP/$1.txt" 2> "$TMP/e.txt"; local rc=$?
    check "$1: exit 0" test $rc -eq 0
    [ $rc -eq 0 ] || { cat "$TMP/e.txt"; return; }
    read -r I TP < <(meter "$TMP/$2")
    echo "     $1: ffmpeg ebur128 I=$I LUFS, true peak $TP dBTP"
    check "$1: loudness $I within 0.1 LU of $3" near "$I" "$3" 0.1
    check "$1: true peak $TP <= $4" le "$TP" "$4"
    check "$1: rate $5" test "$(probe "$TMP/$2" sample_rate)" = "$5"
    check "$1: codec $6" test "$(probe "$TMP/$2" codec_name)" = "$6"
    check "$1: report says capped no" grep -q "^capped    no" "$TMP/$1.txt"
}
prof_case cd cd.wav -14 -1.0 44100 pcm_s16le
prof_case spotify spotify.flac -14 -1.0 44100 flac
prof_case amazon amazon.flac -14 -2.0 44100 flac
prof_case broadcast broadcast.wav -23 -1.0 48000 pcm_s24le
"$MF" master "$TMP/mix.wav" -o "$TMP/noext" --profile apple > /dev/null 2>&1
check "no extension: the profile's is added" test -s "$TMP/noext.wav"
"$MF" master "$TMP/mix.wav" -o "$TMP/t18.wav" --target-lufs -18 > /dev/null 2>&1
read -r I TP < <(meter "$TMP/t18.wav")
check "--target-lufs -18: I=$I" near "$I" -18 0.1

# --- determinism, mono, rates --------------------------------------------
"$MF" master "$TMP/mix.wav" -o "$TMP/cd2.wav" --profile cd > /dev/null 2>&1
check "re-run is byte-identical" cmp -s "$TMP/cd.wav" "$TMP/cd2.wav"
"$MF" master "$TMP/mono.wav" -o "$TMP/mono_out.flac" --profile spotify > /dev/null 2>&1; rc=$?
check "mono: exit 0" test $rc -eq 0
check "mono stays mono" test "$(probe "$TMP/mono_out.flac" channels)" = "1"
for r in r8k r384k; do
    "$MF" master "$TMP/$r.wav" -o "$TMP/${r}_out.flac" --profile hires > "$TMP/o.txt" 2> "$TMP/e.txt"; rc=$?
    if [ $rc -eq 0 ]; then
        check "$r: mastered, rate $(probe "$TMP/${r}_out.flac" sample_rate)" test -s "$TMP/${r}_out.flac"
    else
        check "$r: refused with a reason" bash -c "[ $rc -eq 1 ] && [ -s '$TMP/e.txt' ]"
    fi
done

echo "$fails failure(s)"
[ $fails -eq 0 ]
