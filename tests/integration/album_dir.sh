#!/usr/bin/env bash
# masterfarm album DIR: tracks in natural name order ("2 ..." before
# "10 ..."), disc folders ("Disc 1", "CD2", "disc-3 - Live") as one album with
# disc numbers (in the job spec and in report.json), and the --policy,
# --target-lufs, --title and --artist options carried into the job spec
# and the delivered album; folders it cannot make one album of are
# refused with a message that says what to change.
. "${MF_SRC:?MF_SRC not set}/tests/lib/farm_lib.sh"

noise () { sox -n -r 44100 -c 2 -b 16 "$1" synth 2 pinknoise vol 0.2 fade 0.05 2 0.05; }
# track_list JOB: "disc:path" per track of the generated job spec.
track_list () {
    python3 -c 'import json,sys
for t in json.load(open(sys.argv[1]))["albums"][0]["tracks"]:
    print("%s:%s" % (t.get("disc", 0), t["path"]))' "$1"
}

# --- natural order and the options ---------------------------------------------
mkdir -p "$T/One"
for n in "1 Alpha" "2 Beta" "10 Gamma" "03 Delta"; do noise "$T/One/$n.wav"; done
"$MASTERFARM" album "$T/One" -o "$T/out1" --profile spotify --policy track \
    --target-lufs -16 --title "First Light" --artist "The Testers" -j 2 --quiet \
    > "$T/album1.out" 2>&1 || { cat "$T/album1.out"; fail "album DIR did not exit 0"; }
job="$T/out1/.masterfarm/album-job.json"
got=$(track_list "$job" | tr '\n' ' ')
[ "$got" = "0:1 Alpha.wav 0:2 Beta.wav 0:03 Delta.wav 0:10 Gamma.wav " ] \
    || fail "tracks not in natural order: $got"
python3 - "$job" <<'PY' || fail "the options are not in the job spec"
import json, sys
j = json.load(open(sys.argv[1]))
loud = j["defaults"]["loudness"]
assert loud == {"policy": "track", "target_lufs": -16.0}, loud
a = j["albums"][0]
assert a["title"] == "First Light" and a["artist"] == "The Testers", a
PY
dest="$T/out1/the-testers-first-light/spotify"
[ -d "$dest" ] || { ls -R "$T/out1"; fail "no album folder named after --artist and --title"; }
files=$(cd "$dest" && ls -- [0-9]*.flac | tr '\n' '|')
[ "$files" = "01 - Alpha.flac|02 - Beta.flac|03 - Delta.flac|04 - Gamma.flac|" ] \
    || fail "delivered tracks not in natural order: $files"
log "natural order and --policy/--target-lufs/--title/--artist: ok"

# --- disc folders -------------------------------------------------------------------
mkdir -p "$T/Box/CD2" "$T/Box/Disc 1" "$T/Box/disc-3 - Live" "$T/Box/Artwork" "$T/Box/CD10x"
for n in "1 A" "2 B" "10 C"; do noise "$T/Box/Disc 1/$n.wav"; done
for n in "01 D" "02 E"; do noise "$T/Box/CD2/$n.wav"; done
noise "$T/Box/disc-3 - Live/1 F.wav"
noise "$T/Box/Artwork/not a track.wav"         # not disc folders: not part of the album
noise "$T/Box/CD10x/not a track.wav"
"$MASTERFARM" album "$T/Box" -o "$T/out2" --profile=spotify -j 2 --quiet \
    > "$T/album2.out" 2>&1 || { cat "$T/album2.out"; fail "album of disc folders did not exit 0"; }
got=$(track_list "$T/out2/.masterfarm/album-job.json" | tr '\n' ' ')
[ "$got" = "1:Disc 1/1 A.wav 1:Disc 1/2 B.wav 1:Disc 1/10 C.wav 2:CD2/01 D.wav 2:CD2/02 E.wav 3:disc-3 - Live/1 F.wav " ] \
    || fail "disc album tracks wrong: $got"
report=$(ls "$T"/out2/*/report.json)
discs=$(python3 -c 'import json,sys
print(" ".join("%d/%d" % (t["disc"], t["index"]) for t in json.load(open(sys.argv[1]))["tracks"]))' "$report")
[ "$discs" = "1/1 1/2 1/3 2/4 2/5 3/6" ] || fail "report.json disc numbers: $discs"
log "disc folders: one album, discs 1..3 in report.json"

# --- refusals -------------------------------------------------------------------------
noise "$T/Box/stray.wav"
set +e
"$MASTERFARM" album "$T/Box" -o "$T/out3" > "$T/r1.out" 2>&1; rc=$?
set -e
[ $rc = 1 ] || { cat "$T/r1.out"; fail "files beside disc folders: exit $rc, expected 1"; }
grep -q "stray.wav" "$T/r1.out" && grep -q "move the files into a disc folder" "$T/r1.out" \
    || { cat "$T/r1.out"; fail "files beside disc folders: the message does not say what to do"; }
rm "$T/Box/stray.wav"
mkdir -p "$T/Box/CD 1"
noise "$T/Box/CD 1/x.wav"
set +e
"$MASTERFARM" album "$T/Box" -o "$T/out4" > "$T/r2.out" 2>&1; rc=$?
set -e
[ $rc = 1 ] && grep -q "are both disc 1; rename one" "$T/r2.out" \
    || { cat "$T/r2.out"; fail "two folders for disc 1: exit $rc or wrong message"; }
for bad in "--policy loud" "--target-lufs -50" "--title ="; do
    # shellcheck disable=SC2086
    set +e; "$MASTERFARM" album "$T/One" -o "$T/out5" ${bad/=/} > "$T/r3.out" 2>&1; rc=$?; set -e
    [ $rc = 2 ] || { cat "$T/r3.out"; fail "album $bad: exit $rc, expected 2"; }
done
log "refusals: files beside discs, a disc twice, bad option values"
farm_pass
