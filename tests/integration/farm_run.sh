#!/bin/bash
# The one-command farm: `masterfarm run JOB.json -o OUT -j 2` starts a
# broker and two workers, masters the job, stops them, exits 0 and leaves
# outputs that match their manifests; `masterfarm album DIR -o OUT
# --profile spotify` does the same from a folder of files (titles from
# file names). Re-running into the same folder replaces the delivery (the
# earlier one is kept aside); an interrupted run resumes; a CSV catalog
# runs too. A failed run retried after a file was fixed analyses that file
# again. A track too short for the cd by its header is refused at submit.
# Every command answers --help with 0 and bad usage with 2.
. "$MF_SRC/tests/lib/farm_lib.sh"

for c in run album submit status watch cancel retry priority pause resume logs; do
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
grep -qx "outputs: $T/out" "$T/run.out" || fail "run did not say where the outputs are"
n=$(verify_manifests "$T/out") || fail "manifest check: $n"
[ "$(track_outputs "$T/out" spotify)" = 4 ] || fail "expected 4 spotify masters"
[ -f "$T/out/.masterfarm/state.db" ] || fail "no state file in the output folder"
no_process_like "masterfarm-(broker|worker) .*$T/out/" || fail "run left its farm running"
log "run: $n files verified"

# Running the same job into the same folder again works: the earlier
# delivery is moved aside (OUT/.masterfarm/replaced/) and the new one,
# byte-identical in its audio, takes its place.
audio_digest "$T/out" >"$T/first.digest"
"$MASTERFARM" run "$T/in/job.json" -o "$T/out" -j 2 --quiet >"$T/again.out" 2>&1 \
    || { cat "$T/again.out"; fail "a second run into the same folder did not exit 0"; }
grep -q "holds an earlier delivery" "$T/again.out" || fail "no note about the earlier delivery"
ls -d "$T/out/.masterfarm/replaced/"* >/dev/null 2>&1 || fail "the earlier delivery was not kept aside"
n=$(verify_manifests "$T/out") || fail "manifest check after the second run: $n"
diff -u "$T/first.digest" <(audio_digest "$T/out") >&2 || fail "a re-run gave other bytes"
log "second run into the same folder: earlier delivery kept aside, same bytes"

# Interrupted with Ctrl-C (SIGINT) mid-job, then run again: it resumes the
# same job from the state in OUT/.masterfarm and completes it. The first
# run's worker hangs on track 6 (the MASTERFARM_FAULT test hook), so that
# the job cannot end before the interrupt, however fast the rest goes.
gen_album "$T/in-int" --tracks 6 --seconds 5 --seed 9 --profiles spotify,cd --mark 6:hangme
MASTERFARM_FAULT=hang:hangme \
"$MASTERFARM" run "$T/in-int/job.json" -o "$T/out-int" -j 1 --input-root "$T/in-int" \
    >"$T/int1.out" 2>&1 &
run_pid=$!
wait_for "run to submit" 20 grep -q "submitted to a local farm at" "$T/int1.out"
BROKER_URL=$(grep -o "tcp://127.0.0.1:[0-9]*" "$T/int1.out" | head -n 1)
some_done () { [ "$(job_field 1 'j["tasks_done"]')" -ge 1 ]; }
wait_for "the first task done" 30 some_done
kill -INT "$run_pid"
set +e
wait "$run_pid"
rc=$?
set -e
cat "$T/int1.out" | tail -n 3
[ $rc = 1 ] || fail "an interrupted run exited $rc, expected 1"
grep -q "run the same command again to resume" "$T/int1.out" || fail "no resume hint"
wait_for "the interrupted farm to stop" 15 no_process_like "masterfarm-broker .*$T/out-int/"
"$MASTERFARM" run "$T/in-int/job.json" -o "$T/out-int" -j 2 --input-root "$T/in-int" \
    >"$T/int2.out" 2>&1 || { cat "$T/int2.out"; fail "the resumed run did not exit 0"; }
grep -q "resuming job 1" "$T/int2.out" || fail "the second run did not resume job 1"
n=$(verify_manifests "$T/out-int") || fail "manifest check: $n"
[ "$(track_outputs "$T/out-int" cd)" = 6 ] || fail "expected 6 cd masters after the resume"
log "interrupted run resumed: $n files verified"

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

# A run that failed on a bad source, run again once the file is fixed:
# the same job is retried (not submitted afresh), only the failed track's
# tasks and the album's assembly run again, and the album is published.
gen_album "$T/in-fix" --tracks 3 --seconds 4 --seed 5 --profiles spotify
bad="$T/in-fix/album1/$(ls "$T/in-fix/album1" | sed -n 2p)"
cp "$bad" "$T/good.wav"
head -c 3000 /dev/urandom >"$bad"
set +e
"$MASTERFARM" run "$T/in-fix/job.json" -o "$T/out-fix" -j 2 --quiet >"$T/fix1.out" 2>&1
rc=$?
set -e
cat "$T/fix1.out"
[ $rc = 1 ] || fail "a run with a corrupt track exited $rc, expected 1"
grep -q "track 2 .*not a readable audio file" "$T/fix1.out" || fail "run did not name track 2 and why"
grep -q "run the same masterfarm command again" "$T/fix1.out" || fail "run's hint does not say how to retry"
[ -z "$(ls "$T/out-fix")" ] || fail "the incomplete album was published"
cp "$T/good.wav" "$bad"
"$MASTERFARM" run "$T/in-fix/job.json" -o "$T/out-fix" -j 2 --quiet >"$T/fix2.out" 2>&1 \
    || { cat "$T/fix2.out"; fail "the run after the fix did not exit 0"; }
cat "$T/fix2.out"
grep -q "retrying job 1 of an earlier run" "$T/fix2.out" || fail "the run after the fix did not retry job 1"
n=$(verify_manifests "$T/out-fix") || fail "manifest check after the fix: $n"
[ "$(track_outputs "$T/out-fix" spotify)" = 3 ] || fail "expected 3 spotify masters after the fix"
# tracks 1 and 3 (0 and 2 in the state) were analysed and mastered once
again=$(sqlite3 "$T/out-fix/.masterfarm/state.db" \
    "SELECT COUNT (*) FROM attempts a JOIN tasks t ON t.id = a.task_id
     WHERE t.track IN (0, 2) AND t.kind IN (1, 2) GROUP BY t.id HAVING COUNT (*) > 1")
[ -z "$again" ] || fail "untouched tracks' tasks ran again after the fix"
log "failed run, fixed source, same command: only the failed track ran again"

# A track too short for the cd (3 s; Red Book needs 4): its header says
# so, and the job is refused at submit, naming the album and track, with
# nothing run.
gen_album "$T/in-short" --tracks 3 --seconds 6 --seed 8 --profiles cd
short="$T/in-short/album1/$(ls "$T/in-short/album1" | sed -n 2p)"
cp "$short" "$T/short-whole.wav"
sox "$T/short-whole.wav" "$short" trim 0 3
set +e
"$MASTERFARM" run "$T/in-short/job.json" -o "$T/out-short0" -j 2 --quiet >"$T/short0.out" 2>&1
rc=$?
set -e
cat "$T/short0.out"
[ $rc = 1 ] || fail "a run with a 3 s cd track exited $rc, expected 1"
grep -qF '$.albums[0]: album "Generated Album 1" track 2: 3.00 s long, Red Book (cd) needs at least 4 s per track (profile cd)' \
    "$T/short0.out" || fail "the submit did not refuse track 2 as too short for cd"
grep -q "nothing was run" "$T/short0.out" || fail "run did not say that nothing was run"
[ ! -e "$T/out-short0/.masterfarm/state.db" ] || [ "$(sqlite3 "$T/out-short0/.masterfarm/state.db" \
    'SELECT COUNT (*) FROM attempts')" = 0 ] || fail "tasks ran for a refused job"
# A track long enough by its header but too short once its silence is
# trimmed (3 s of audio and 3 s of silence, "trim": true): the cd plan
# fails. The file is fixed (5 s of audio) and the same command run again:
# the changed file is analysed again (not planned from its old analysis),
# the album is delivered, and the tracks whose files did not change are
# not analysed again.
python3 - "$T/in-short/job.json" <<'PY'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
j["defaults"]["trim"] = True
json.dump(j, open(p, "w"), indent=1)
PY
sox "$T/short-whole.wav" "$short" trim 0 3 pad 0 3
set +e
"$MASTERFARM" run "$T/in-short/job.json" -o "$T/out-short" -j 2 --quiet >"$T/short1.out" 2>&1
rc=$?
set -e
[ $rc = 1 ] || { cat "$T/short1.out"; fail "a run with a cd track trimmed to 3 s exited $rc, expected 1"; }
grep -qE "track 2: 3\.[0-9]{2} s long, Red Book \(cd\) needs at least 4 s" "$T/short1.out" \
    || { cat "$T/short1.out"; fail "run did not say that track 2 is too short"; }
sox "$T/short-whole.wav" "$short" trim 0 5
# The job's wall time and speed count the time it ran, not the time it
# sat failed between the two runs.
sleep 8
t0=$SECONDS
"$MASTERFARM" run "$T/in-short/job.json" -o "$T/out-short" -j 2 --quiet >"$T/short2.out" 2>&1 \
    || { cat "$T/short2.out"; fail "the run after lengthening the track did not exit 0"; }
wall=$(grep -o "wall time [0-9:]*" "$T/short2.out" | awk -F'[ :]' '{ print $3 * 60 + $4 }')
[ -n "$wall" ] && [ "$wall" -le $((SECONDS - t0 + 4)) ] \
    || fail "the retried job says 'wall time' of ${wall:-?} s; it ran about $((SECONDS - t0 + 2)) s"
grep -q "retrying job 1 of an earlier run" "$T/short2.out" || fail "the second run did not retry job 1"
n=$(verify_manifests "$T/out-short") || fail "manifest check after the fix: $n"
[ "$(track_outputs "$T/out-short" cd)" = 3 ] || fail "expected 3 cd masters after the fix"
again=$(sqlite3 "$T/out-short/.masterfarm/state.db" \
    "SELECT t.track FROM attempts a JOIN tasks t ON t.id = a.task_id
     WHERE t.kind = 1 GROUP BY t.id HAVING COUNT (*) > 1")
[ "$again" = 1 ] || fail "analysed again: tracks '$again' (state numbers), expected only 1"
log "a track too short for the cd, lengthened, same command: analysed again and delivered"

# An empty folder is an error a person can act on.
mkdir -p "$T/empty"
set +e
"$MASTERFARM" album "$T/empty" -o "$T/out3" 2>"$T/empty.err"
rc=$?
set -e
[ $rc = 1 ] || fail "album of an empty folder exited $rc, expected 1"
grep -q "no audio files" "$T/empty.err" || fail "no clear message for an empty folder"
farm_pass
