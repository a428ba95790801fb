#!/usr/bin/env bash
# masterfarm master --reference end to end: a 96 kHz track mastered
# against a 44.1 kHz reference (another mix made brighter, louder and
# reversed by sox) and against two weighted references; the output keeps the track's
# rate and is true-peak safe by an independent meter (ffmpeg ebur128
# peak=true at or under the -1 dBTP ceiling), lands on the reference's
# loudness at loudness intensity 1 (0.2 LU, the meter prints 0.1); bad
# references and values get one clear line and exit 1 / 2.
#
# MF_REF_SECONDS sets the track's length (default 20 s). The 30-minute
# check is tests/bench/bench_reference_long.sh, which runs this script
# with 1800 s (minutes of wall time: a benchmark, not a ctest).
set -u
BIN="${MF_BIN:?MF_BIN not set}"
MF="$BIN/masterfarm"
GEN="$BIN/tests/tool_master_mix"
SECS="${MF_REF_SECONDS:-20}"
TMP="${MF_TEST_TMP:-/tmp}/master_reference.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
. "${MF_SRC:?MF_SRC not set}/tests/lib/check_lib.sh"
command -v sox > /dev/null && command -v ffmpeg > /dev/null ||
    { echo "sox and ffmpeg are needed"; exit 77; }
meter () { ebur_summary "$1" | awk '{print $1, $3}'; }   # meter FILE -> "I TP"

"$GEN" "$TMP/track.wav" "$SECS" 96000 2 24 || { echo "FAIL generator"; exit 1; }
"$GEN" "$TMP/mix.wav" 30 44100 2 24
sox "$TMP/mix.wav" "$TMP/ref.wav" treble +6 bass -2 compand 0.002,0.1 -60,-60,-40,-14,0,-6 0 gain -n -0.5 reverse
sox "$TMP/mix.wav" "$TMP/ref2.wav" treble -4 bass +3 gain -n -6

start=$(date +%s)
"$MF" master "$TMP/track.wav" -o "$TMP/out.wav" --reference "$TMP/ref.wav" \
    > "$TMP/o.txt" 2> "$TMP/e.txt"; rc=$?
end=$(date +%s)
cat "$TMP/o.txt" "$TMP/e.txt"
echo "# ${SECS} s at 96 kHz mastered against a 44.1 kHz reference in $((end - start)) s"
check "one reference: exit 0" test $rc -eq 0
check "the output keeps 96 kHz" bash -c "[ \"\$(ffprobe -v error -select_streams a:0 -show_entries stream=sample_rate -of default=nw=1:nk=1 '$TMP/out.wav')\" = 96000 ]"
check "the report names the match" grep -q "^match .*minimum phase" "$TMP/o.txt"
read -r ri _ < <(meter "$TMP/ref.wav")
read -r oi otp < <(meter "$TMP/out.wav")
echo "# reference $ri LUFS; output $oi LUFS, true peak $otp dBTP (ffmpeg ebur128)"
check "true peak at or under -1 dBTP (ffmpeg)" le "$otp" -1.0
check "loudness intensity 1: the reference's loudness (0.2 LU)" near "$oi" "$ri" 0.2

"$MF" master "$TMP/track.wav" -o "$TMP/out2.wav" --reference "$TMP/ref.wav" \
    --reference-weight 3 --reference "$TMP/ref2.wav" --reference-loudness 0 \
    --reference-tone 0.5 --reference-width 0.5 --reference-max-db 4 > "$TMP/o2.txt" 2>&1; rc=$?
cat "$TMP/o2.txt"
check "two weighted references: exit 0" test $rc -eq 0
check "two weighted references: the report says 2 files" grep -q "^reference 2 files" "$TMP/o2.txt"
read -r oi2 otp2 < <(meter "$TMP/out2.wav")
echo "# two references, loudness 0: $oi2 LUFS, $otp2 dBTP"
check "loudness intensity 0: the profile's -14 LUFS (0.2 LU)" near "$oi2" -14.0 0.2
check "two references: true peak at or under -1 dBTP" le "$otp2" -1.0

if [ "$SECS" -le 60 ]; then
    "$MF" master "$TMP/track.wav" -o "$TMP/x.wav" --reference "$TMP/none.wav" 2> "$TMP/e.txt"; rc=$?
    check "missing reference: exit 1, one line naming it" bash -c "[ $rc -eq 1 ] && [ \$(wc -l < '$TMP/e.txt') -eq 1 ] && grep -q none.wav '$TMP/e.txt'"
    check "missing reference: nothing written" test ! -e "$TMP/x.wav"
    "$MF" master "$TMP/track.wav" -o "$TMP/x.wav" --reference "$TMP/ref.wav" --reference-tone 2 2> "$TMP/e.txt"; rc=$?
    check "--reference-tone 2: exit 2" test $rc -eq 2
    "$MF" master "$TMP/track.wav" -o "$TMP/x.wav" --reference-weight 2 2> "$TMP/e.txt"; rc=$?
    check "--reference-weight before any --reference: exit 2" test $rc -eq 2
fi
[ "$fails" = 0 ]
