#!/usr/bin/env bash
# Codec-safe peaks. A loud master of a clipped source (its flat tops ring
# once a codec's low-pass takes their top harmonics) at amazon's -2 dBTP
# ceiling goes over it once transcoded to MP3 at amazon's 256 kbps:
# checked independently by encoding the delivered file with ffmpeg's LAME
# at 256 kbps, decoding it and reading the true peak with ffmpeg's ebur128
# (peak=true, 192 kHz). With
# --codec-safe (job spec: a profile {"name": ..., "codec_safe": true}) the
# master is limited lower until every decoded version masterfarm makes
# (MP3, Vorbis, Opus through libsndfile) is at or under the ceiling, and
# the independent MP3 round trip is too. The farm path reports the
# decoded peaks per track in report.json, "album_file": false leaves a
# streaming profile without album file while cd keeps its own, and
# misuse of the keys is refused with the JSON path before anything runs.
set -u
BIN="${MF_BIN:?MF_BIN not set}"
MF="$BIN/masterfarm"
TMP="${MF_TEST_TMP:-/tmp}/codec_safe.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
. "${MF_SRC:?MF_SRC not set}/tests/lib/check_lib.sh"
command -v ffmpeg > /dev/null || { echo "ffmpeg is needed"; exit 77; }
ffmpeg -hide_banner -encoders 2> /dev/null | grep -q libmp3lame \
    || { echo "ffmpeg without libmp3lame"; exit 77; }

# mp3_tp FILE: true peak (dBTP) of FILE after ffmpeg's LAME 256 kbps round trip
mp3_tp () {
    ffmpeg -hide_banner -nostats -y -i "$1" -c:a libmp3lame -b:a 256k "$TMP/rt.mp3" \
        2> /dev/null || { echo 99; return; }
    ffmpeg -hide_banner -nostats -i "$TMP/rt.mp3" -af ebur128=peak=true -f null - 2>&1 |
        awk '/Summary:/ {s=1} s && /Peak:/ {p=$2} END {print p}'
}
codec_line () { grep '^codecs' "$1" | sed 's/^codecs *//'; }
mf_mp3 () { sed -n 's/.* mp3 \(-\{0,1\}[0-9.]*\) dBTP.*/\1/p' "$1"; }

# clipped (SKIP: sox warns of the clipping it was asked for)
clipped () {   # clipped OUT SECONDS
    "$BIN/tests/tool_master_mix" "$TMP/c.wav" "$2" 44100 2 24 > /dev/null \
        && sox "$TMP/c.wav" -b 24 "$1" gain 18 2> /dev/null
}
command -v sox > /dev/null || { echo "sox is needed"; exit 77; }
clipped "$TMP/mix.wav" 20 || { echo "FAIL generator"; exit 1; }

# --- masterfarm master ----------------------------------------------------------
"$MF" master "$TMP/mix.wav" -o "$TMP/plain.flac" --profile amazon --target-lufs -9 \
    --codec-check > "$TMP/plain.txt" 2> "$TMP/plain.err"
check "master --codec-check exits 0" test $? = 0
echo "     $(codec_line "$TMP/plain.txt")"
check "it reports mp3, vorbis and opus" \
    grep -qE 'mp3 -?[0-9.]+ dBTP vorbis -?[0-9.]+ dBTP opus -?[0-9.]+ dBTP' "$TMP/plain.txt"
p_own=$(mf_mp3 "$TMP/plain.txt")
p_ff=$(mp3_tp "$TMP/plain.flac")
echo "     without codec_safe: masterfarm's MP3 round trip $p_own dBTP, ffmpeg's $p_ff dBTP"
check "without codec_safe the MP3 round trip is over -2 dBTP (ffmpeg: $p_ff)" \
    awk -v p="$p_ff" 'BEGIN { exit !(p > -2.0) }'
check "masterfarm's MP3 reading agrees with ffmpeg's within 0.5 dB" near "$p_own" "$p_ff" 0.5

"$MF" master "$TMP/mix.wav" -o "$TMP/safe.flac" --profile amazon --target-lufs -9 \
    --codec-safe > "$TMP/safe.txt" 2> "$TMP/safe.err"
check "master --codec-safe exits 0" test $? = 0
echo "     $(codec_line "$TMP/safe.txt")"
s_ff=$(mp3_tp "$TMP/safe.flac")
echo "     with codec_safe: ffmpeg's MP3 round trip $s_ff dBTP"
check "every decoded version masterfarm made is at or under -2 dBTP" \
    awk -v l="$(codec_line "$TMP/safe.txt")" 'BEGIN {
        n = split(l, w, " "); ok = 1
        for (i = 2; i < n; i++) if (w[i-1] ~ /^(mp3|vorbis|opus)$/ && w[i+1] ~ /^dBTP/) if (w[i] + 0 > -2.0) ok = 0
        exit !ok }'
check "with codec_safe the MP3 round trip is at or under -2 dBTP (ffmpeg: $s_ff)" le "$s_ff" -2.0
check "it says how low it limited" grep -q 'limited to -[0-9.]* dBTP' "$TMP/safe.txt"

# a 48 kHz track of 50 s (written to libvorbis in one piece, it crashed it)
"$BIN/tests/tool_master_mix" "$TMP/m48.wav" 50 48000 2 24 > /dev/null
"$MF" master "$TMP/m48.wav" -o "$TMP/m48.flac" --profile amazon --codec-check \
    > "$TMP/m48.txt" 2>&1
check "a 50 s 48 kHz master round-trips through every codec" \
    grep -qE 'mp3 -?[0-9.]+ dBTP vorbis -?[0-9.]+ dBTP opus -?[0-9.]+ dBTP' "$TMP/m48.txt"

# --- the farm ----------------------------------------------------------------------
mkdir -p "$TMP/in"
clipped "$TMP/in/a.wav" 8
clipped "$TMP/in/b.wav" 8
cat > "$TMP/in/job.json" <<'JSON'
{"name": "codec", "defaults": {
   "profiles": [{"name": "amazon", "codec_safe": true, "album_file": false}, "cd"],
   "loudness": {"target_lufs": -9}},
 "albums": [{"title": "Codec", "artist": "T", "tracks": [
   {"path": "a.wav", "title": "A"}, {"path": "b.wav", "title": "B"}]}]}
JSON
"$MF" run "$TMP/in/job.json" -o "$TMP/out" -j 2 --quiet > "$TMP/run.txt" 2>&1
check "masterfarm run with codec_safe and album_file false exits 0" test $? = 0
rep=$(ls "$TMP"/out/*/report.json 2> /dev/null | head -1)
check "report.json is there" test -n "$rep"
worst=$(python3 - "$rep" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
peaks = []
for p in r.get("profiles", []):
    if p.get("profile") != "amazon":
        continue
    for t in p.get("tracks", []):
        k = t.get("codec_check") or {}
        peaks += [v for v in (k.get("true_peak_dbtp") or {}).values() if v is not None]
print(max(peaks) if peaks else 99, len(peaks))
PYEOF
)
echo "     farm: highest decoded true peak over $(echo "$worst" | cut -d' ' -f2) round trips: $(echo "$worst" | cut -d' ' -f1) dBTP"
check "report.json lists the decoded peaks of both amazon tracks" \
    awk -v n="$(echo "$worst" | cut -d' ' -f2)" 'BEGIN { exit !(n >= 4) }'
check "every one is at or under -2 dBTP" le "$(echo "$worst" | cut -d' ' -f1)" -2.0
check "report.json says amazon has no album file and cd has one" python3 -c '
import json, sys
r = {p["profile"]: p["album"] for p in json.load(open(sys.argv[1]))["profiles"]}
sys.exit(not (r["amazon"]["album_file"] is False and r["amazon"]["output_lufs"] is None
              and r["cd"]["album_file"] is True and r["cd"]["output_lufs"] is not None))' "$rep"
alb=$(dirname "$rep")
check "amazon has its per-track files and no album file" \
    bash -c "ls '$alb/amazon/'*' - '*.flac > /dev/null && ! ls '$alb/amazon/album.flac' 2> /dev/null"
check "cd keeps its album file and CUE" test -f "$alb/cd/album.wav" -a -f "$alb/cd/album.cue"
f=$(ls "$alb"/amazon/01\ -\ *.flac | head -1)
s_farm=$(mp3_tp "$f")
check "the delivered amazon track's ffmpeg MP3 round trip is at or under -2 dBTP ($s_farm)" \
    le "$s_farm" -2.0

# --- misuse --------------------------------------------------------------------------
bad () {   # bad NAME PROFILES-JSON EXPECTED-TEXT
    sed "s|\"profiles\": \[.*\],|\"profiles\": $2,|" "$TMP/in/job.json" > "$TMP/in/bad.json"
    "$MF" run "$TMP/in/bad.json" -o "$TMP/bad" --quiet > "$TMP/bad.txt" 2>&1
    local rc=$?
    check "$1: refused, nothing run ($(grep -m1 -o "\$\..*" "$TMP/bad.txt" | cut -c1-100))" \
        bash -c "[ $rc = 1 ] && grep -q '$3' '$TMP/bad.txt' && grep -q 'nothing was run' '$TMP/bad.txt'"
}
bad "codec_check on cd" '[{"name": "cd", "codec_check": true}]' 'profiles\[0\].codec_check'
bad "album_file false on cd" '[{"name": "cd", "album_file": false}]' 'cd always has its album file'
bad "a misspelt key" '[{"name": "amazon", "codec_saf": true}]' 'did you mean'
bad "an object without name" '[{"codec_check": true}]' 'needs "name"'

[ "$fails" = 0 ]
