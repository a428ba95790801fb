#!/usr/bin/env bash
# Delivered sample rates and words, by `masterfarm master` and by the
# album planner (`masterfarm album`, the plan's out_rate_hz): apple, tidal
# and hires keep a 96 kHz or 192 kHz source's rate; spotify brings 96 kHz
# to 48 kHz; cd is 44.1 kHz 16-bit with noise-shaped dither by default (its
# noise on a silent track rises towards the top of the band: Wannamaker's
# filter puts it about 20 dB higher above 15 kHz than below 3 kHz, where
# flat TPDF would give nearly the same density), flat TPDF when
# "noise_shaping": false.
set -u
BIN="${MF_BIN:?MF_BIN not set}"
MF="$BIN/masterfarm"
GEN="$BIN/tests/tool_master_mix"
TMP="${MF_TEST_TMP:-/tmp}/profile_rates.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
. "${MF_SRC:?MF_SRC not set}/tests/lib/check_lib.sh"
command -v ffprobe > /dev/null && command -v sox > /dev/null \
    || { echo "ffprobe and sox are needed"; exit 77; }
probe () {  # probe FILE FIELD
    ffprobe -v error -select_streams a:0 -show_entries "stream=$2" -of default=nw=1:nk=1 "$1"
}
rms () {  # rms FILE SOX-FILTER... -> RMS amplitude of the filtered file, +60 dB
    local f="$1"; shift
    sox "$f" -n gain 60 "$@" stat 2>&1 | awk '/RMS +amplitude/ {print $3}'
}

"$GEN" "$TMP/s96.wav" 3 96000 2 24 || { echo "FAIL generator"; exit 1; }
"$GEN" "$TMP/s192.wav" 2 192000 2 24
"$GEN" "$TMP/s44.wav" 3 44100 2 24

for p in apple tidal hires; do
    for r in 96 192; do
        "$MF" master "$TMP/s$r.wav" -o "$TMP/$p$r" --profile $p > /dev/null 2> "$TMP/e.txt"
        f=$(ls "$TMP/$p$r".* 2> /dev/null | head -1)
        check "$p: ${r} kHz source delivered at ${r} kHz ($(probe "$f" sample_rate))" \
            test "$(probe "$f" sample_rate)" = "${r}000"
    done
done
"$MF" master "$TMP/s96.wav" -o "$TMP/spotify96.flac" --profile spotify > /dev/null 2>&1
check "spotify: 96 kHz source delivered at 48 kHz" \
    test "$(probe "$TMP/spotify96.flac" sample_rate)" = "48000"

# --- cd: 44.1 kHz, 16-bit, shaped dither ------------------------------------
"$MF" master "$TMP/s44.wav" -o "$TMP/cd.wav" --profile cd > "$TMP/cd.txt" 2>&1
check "cd: 44.1 kHz" test "$(probe "$TMP/cd.wav" sample_rate)" = "44100"
check "cd: 16-bit" test "$(probe "$TMP/cd.wav" codec_name)" = "pcm_s16le"
check "cd: the report names the shaped dither" grep -q "noise-shaped" "$TMP/cd.txt"
sox -n -r 44100 -c 2 -b 24 "$TMP/silence.wav" trim 0 3
"$MF" master "$TMP/silence.wav" -o "$TMP/cd_sil.wav" --profile cd > /dev/null 2>&1
hi=$(rms "$TMP/cd_sil.wav" sinc 15000-20000)
lo=$(rms "$TMP/cd_sil.wav" sinc -3000)
echo "     cd dither on silence: RMS 15-20 kHz $hi, below 3 kHz $lo"
check "cd: dither noise rises to the top of the band (shaped)" \
    awk -v h="$hi" -v l="$lo" 'BEGIN { exit !(l > 0 && h / l > 4) }'
printf '{"noise_shaping": false}\n' > "$TMP/flat.json"
"$MF" master "$TMP/silence.wav" -o "$TMP/cd_flat.wav" --profile cd --spec "$TMP/flat.json" \
    > "$TMP/flat.txt" 2>&1
hi=$(rms "$TMP/cd_flat.wav" sinc 15000-20000)
lo=$(rms "$TMP/cd_flat.wav" sinc -3000)
check "cd with noise_shaping false: flat TPDF ($hi vs $lo)" \
    awk -v h="$hi" -v l="$lo" 'BEGIN { exit !(l > 0 && h / l < 2) }'
check "cd with noise_shaping false: the report says flat" grep -q "flat TPDF" "$TMP/flat.txt"

# --- the album planner: one rate per album and profile ------------------------
mkdir -p "$TMP/alb"
cp "$TMP/s96.wav" "$TMP/alb/1 High.wav"
"$GEN" "$TMP/alb/2 Low.wav" 3 48000 2 24
"$MF" album "$TMP/alb" -o "$TMP/out" --profile apple --profile hires --profile spotify \
    -j 1 --quiet > "$TMP/album.txt" 2>&1
check "album: exit 0" test $? -eq 0 || cat "$TMP/album.txt"
for p in apple hires; do
    for f in "$TMP"/out/*/$p/*.*; do
        case "$f" in *.cue) continue ;; esac
        check "album $p: $(basename "$f") at 96 kHz" test "$(probe "$f" sample_rate)" = "96000"
    done
done
for f in "$TMP"/out/*/spotify/*.flac; do
    check "album spotify: $(basename "$f") at 48 kHz" test "$(probe "$f" sample_rate)" = "48000"
done

echo "$fails failure(s)"
[ $fails -eq 0 ]
