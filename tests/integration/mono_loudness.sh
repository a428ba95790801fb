#!/usr/bin/env bash
# Mono loudness is dual-mono (ITU-R BS.1770: a mono channel played on two
# loudspeakers counted twice, +3.01 dB in the sum; libebur128's
# EBUR128_DUAL_MONO, ffmpeg-normalize's --dual-mono): a mono file reads, in
# analyze, in master's loudness loop and in the album stage, what ffmpeg's
# ebur128 meter reads on its two-channel equivalent (the channel copied to
# left and right). A mono master at -14 LUFS therefore plays at -14 LUFS on
# two speakers, and the reports say the loudness is dual-mono.
set -u
BIN="${MF_BIN:?MF_BIN not set}"
MF="$BIN/masterfarm"
GEN="$BIN/tests/tool_master_mix"
TMP="${MF_TEST_TMP:-/tmp}/mono_loudness.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
. "${MF_SRC:?MF_SRC not set}/tests/lib/check_lib.sh"
command -v ffmpeg > /dev/null && command -v sox > /dev/null \
    || { echo "ffmpeg and sox are needed"; exit 77; }
meter () { ebur_summary "$1" | awk '{print $1}'; }       # meter FILE -> I (0.1 LU steps)
dual () { sox "$1" -b 24 "$2" remix 1 1; }      # the two-channel equivalent
json_get () { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0][sys.argv[2]])' "$1" "$2"; }

# pink noise with a slow swell: music-like level changes, a crest factor that
# -14 LUFS needs little limiting for
pink () {  # pink OUT SECONDS VOLUME SEED
    sox -R -n -r 48000 -c 1 -b 24 "$1" synth "$2" pinknoise synth "$2" sine amod 0.3 40 \
        vol "$3" 2> /dev/null
}
pink "$TMP/mono.wav" 12 0.25 || { echo "FAIL generator"; exit 1; }
dual "$TMP/mono.wav" "$TMP/mono_dual.wav"
ref=$(meter "$TMP/mono_dual.wav")

# --- analyze -------------------------------------------------------------------
"$MF" analyze --json "$TMP/mono.wav" > "$TMP/a.json"
an=$(json_get "$TMP/a.json" integrated_lufs)
echo "     analyze $an LUFS; ffmpeg on the dual-channel copy $ref LUFS"
check "analyze reads the dual-channel loudness ($an vs $ref)" near "$an" "$ref" 0.1
"$MF" analyze "$TMP/mono.wav" > "$TMP/a.txt"
check "analyze says the loudness is dual-mono" grep -q "dual-mono" "$TMP/a.txt"

# --- master: the loop's own meter ---------------------------------------------
"$MF" master "$TMP/mono.wav" -o "$TMP/m.flac" --profile spotify > "$TMP/m.txt" 2>&1
check "master: exit 0" test $? -eq 0 || cat "$TMP/m.txt"
in_m=$(awk '/^loudness/ {print $2}' "$TMP/m.txt")
check "master's input loudness $in_m agrees with analyze's $an" near "$in_m" "$an" 0.02
check "master says the loudness is dual-mono" grep -q "dual-mono" "$TMP/m.txt"
dual "$TMP/m.flac" "$TMP/m_dual.wav"
out=$(meter "$TMP/m_dual.wav")
echo "     master's output on two channels: $out LUFS (target -14)"
check "a -14 LUFS mono master plays at -14 on two channels ($out)" near "$out" -14 0.1
"$MF" analyze --json "$TMP/m.flac" > "$TMP/m.json"
check "analyze reads the mono master at -14" near "$(json_get "$TMP/m.json" integrated_lufs)" -14 0.1

# --- the album stage: two mono tracks, planned from their analyses ----------
mkdir -p "$TMP/alb"
cp "$TMP/mono.wav" "$TMP/alb/1 One.wav"
pink "$TMP/alb/2 Two.wav" 10 0.12
"$MF" album "$TMP/alb" -o "$TMP/out" --profile spotify --policy track -j 1 --quiet \
    > "$TMP/album.txt" 2>&1
check "album: exit 0" test $? -eq 0 || cat "$TMP/album.txt"
d=$(ls -d "$TMP"/out/*/spotify 2> /dev/null | head -1)
# each file measured over its track's audio alone: the first track's file
# also holds the album's 2 s lead-in and the next track's gap
skip=96000
for n in "1 One:01 - One" "2 Two:02 - Two"; do
    src="${n%%:*}"; n="${n#*:}"
    sox "$d/$n.flac" -b 24 "$TMP/alb_dual.wav" trim "${skip}s" "$(soxi -s "$TMP/alb/$src.wav")s" remix 1 1
    skip=0
    o=$(meter "$TMP/alb_dual.wav")
    check "album: $n plays at -14 on two channels ($o)" near "$o" -14 0.1
done
rep=$(ls "$TMP"/out/*/report.json | head -1)
check "report.json says the loudness is dual-mono" python3 - "$rep" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for t in r["profiles"][0]["tracks"]:
    assert t["loudness_channels"] == "dual-mono", t
PY

echo "$fails failure(s)"
[ $fails -eq 0 ]
