#!/bin/bash
# The one-command farm: `masterfarm run JOB.json -o OUT -j 2` starts a
# broker and two workers, masters the job, stops them, exits 0 and leaves
# outputs that match their manifests; `masterfarm album DIR -o OUT
# --profile spotify` does the same from a folder of files (titles from
# file names). Every command answers --help with 0 and bad usage with 2.
. "$MF_SRC/tests/lib/farm_lib.sh"

for c in run album submit status watch cancel retry; do
    "$MASTERFARM" "$c" --help >/dev/null || fail "masterfarm $c --help did not exit 0"
    set +e
    "$MASTERFARM" "$c" --no-such-option >/dev/null 2>&1
    rc=$?
    set -e
    [ $rc = 2 ] || fail "masterfarm $c with a bad option exited $rc, expected 2"
done

gen_album "$T/in" --tracks 4 --seconds 4 --seed 3 --profiles spotify
"$MASTERFARM" run "$T/in/job.json" -o "$T/out" -j 2 >"$T/run.out" 2>&1 \
    || { cat "$T/run.out"; fail "masterfarm run did not exit 0"; }
cat "$T/run.out"
grep -q "outputs in $T/out" "$T/run.out" || fail "run did not say where the outputs are"
n=$(verify_manifests "$T/out") || fail "manifest check: $n"
[ "$(track_outputs "$T/out" spotify)" = 4 ] || fail "expected 4 spotify masters"
[ -f "$T/out/.masterfarm/state.db" ] || fail "no state file in the output folder"
pgrep -f "masterfarm-broker --bind tcp://127.0.0.1:[0-9]* --state $T/out" >/dev/null \
    && fail "run left its broker running"
log "run: $n files verified"

# A CSV catalog runs the same way (its profiles are the defaults: spotify and cd).
gen_album "$T/csv-in" --tracks 3 --seconds 4 --seed 4 --csv
"$MASTERFARM" run "$T/csv-in/catalog.csv" -o "$T/csv-out" -j 2 --quiet >"$T/csv.out" 2>&1 \
    || { cat "$T/csv.out"; fail "masterfarm run of a CSV catalog did not exit 0"; }
n=$(verify_manifests "$T/csv-out") || fail "manifest check: $n"
[ "$(track_outputs "$T/csv-out" spotify)" = 3 ] || fail "expected 3 spotify masters from the CSV"
[ "$(track_outputs "$T/csv-out" cd)" = 3 ] || fail "expected 3 cd masters from the CSV"
log "CSV catalog: $n files verified"

# album: a plain folder of files, no job spec.
mkdir -p "$T/folder"
cp "$T/in/album1/"*.wav "$T/folder/"
"$MASTERFARM" album "$T/folder" -o "$T/out2" --profile spotify -j 2 --quiet >"$T/album.out" 2>&1 \
    || { cat "$T/album.out"; fail "masterfarm album did not exit 0"; }
[ -f "$T/out2/.masterfarm/album-job.json" ] || fail "album did not keep its job spec"
python3 - "$T/out2/.masterfarm/album-job.json" <<'PY' || fail "album job spec is wrong"
import json, sys
j = json.load(open(sys.argv[1]))
tracks = j["albums"][0]["tracks"]
assert [t["title"] for t in tracks] == ["Intro", "Harbour Lights", "Northern Line", "Glass"], tracks
assert tracks[0]["path"] == "01 - Intro.wav", tracks[0]
assert j["defaults"]["profiles"] == ["spotify"]
PY
n2=$(verify_manifests "$T/out2") || fail "manifest check: $n2"
[ "$(track_outputs "$T/out2" spotify)" = 4 ] || fail "expected 4 spotify masters from album"

# An empty folder is an error a person can act on.
mkdir -p "$T/empty"
set +e
"$MASTERFARM" album "$T/empty" -o "$T/out3" 2>"$T/empty.err"
rc=$?
set -e
[ $rc = 1 ] || fail "album of an empty folder exited $rc, expected 1"
grep -q "no audio files" "$T/empty.err" || fail "no clear message for an empty folder"
farm_pass
