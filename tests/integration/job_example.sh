#!/usr/bin/env bash
# The job spec example (tests/data/job_example.json, the one DESIGN.md
# shows) runs as it is through `masterfarm run`, with a generated
# music-like mix at its input path: both profiles (spotify and cd) are
# delivered, and the cd album's CUE sheet has the Red Book pregap of
# track 1 (INDEX 00 at 00:00:00, INDEX 01 at 00:02:00). The same spec
# with "gap_s": 0.0 on track 1 is refused before anything runs, with a
# message that names the key, the value to use and the other way out.
. "${MF_SRC:?MF_SRC not set}/tests/lib/farm_lib.sh"

EXAMPLE="$MF_SRC/tests/data/job_example.json"
# the example's input, at the path it names
gen_album "$T/gen" --tracks 1 --seconds 8 --seed 11
mkdir -p "$T/in/album1"
mv "$T/gen/album1/"*.wav "$T/in/album1/01 intro.wav"

"$MASTERFARM" run "$EXAMPLE" --input-root "$T/in" -o "$T/out" -j 2 --quiet > "$T/run.out" 2>&1 \
    || { cat "$T/run.out"; fail "masterfarm run of the example did not exit 0"; }
album=$(find "$T/out" -mindepth 1 -maxdepth 1 -type d ! -name .masterfarm)
[ -n "$album" ] || { ls -R "$T/out"; fail "no album delivered"; }
for p in spotify cd; do
    n=$(find "$album/$p" -name '01 - Intro.*' | wc -l)
    [ "$n" = 1 ] || { ls -R "$album"; fail "no $p master of track 1"; }
done
cue=$(find "$album/cd" -name '*.cue')
grep -q "INDEX 00 00:00:00" "$cue" && grep -q "INDEX 01 00:02:00" "$cue" \
    || { cat "$cue"; fail "the cd CUE sheet lacks the 2 s pregap of track 1"; }
n=$(verify_manifests "$T/out") || fail "manifest check: $n"
log "job_example.json ran as is: spotify and cd delivered, pregap in the CUE sheet"

# gap 0 before track 1 with the cd profile: refused, and the message says how to fix it
mkdir -p "$T/bad"
python3 - "$EXAMPLE" "$T/bad/job.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
j["albums"][0]["tracks"][0]["gap_s"] = 0.0
json.dump(j, open(sys.argv[2], "w"), indent=2)
PY
set +e
"$MASTERFARM" run "$T/bad/job.json" --input-root "$T/in" -o "$T/out-bad" -j 1 --quiet \
    > "$T/bad.out" 2>&1
rc=$?
set -e
[ $rc != 0 ] || fail "gap_s 0.0 before track 1 with the cd profile was accepted"
grep -q 'set "gap_s": 2.0 on this track' "$T/bad.out" && grep -q "drop the cd profile" "$T/bad.out" \
    || { cat "$T/bad.out"; fail "the refusal does not name the fix"; }
log "gap_s 0.0 refused (exit $rc): $(grep -o 'Red Book.*' "$T/bad.out" | head -1)"
farm_pass
