#!/bin/bash
# cancel and retry through the client. Cancel: a job whose first track
# hangs (MASTERFARM_FAULT=hang:...) is cancelled; status says cancelled,
# watch exits 1, a second cancel is refused with the broker's reason (exit
# 1), and an unknown job id is an error (exit 1). Retry: a job whose track
# crashes its task process fails; the workers are replaced by healthy ones
# and `masterfarm retry` queues the failed work again; the job then
# completes with every track delivered, and `masterfarm logs` still lists
# every failed attempt, the retry's numbered after them.
. "$MF_SRC/tests/lib/farm_lib.sh"

gen_album "$T/in" --tracks 4 --seconds 3 --seed 12 --mark 1:hangme --mark 3:crashme \
    --profiles spotify
start_broker "$T/state.db" "$T/in" "$T/out"

# Cancel.
start_worker hang-w MASTERFARM_FAULT=hang:hangme
hw=$LAST_PID
job=$(submit "$T/in/job.json")
held () { [ "$(job_field "$job" 'j["tracks"][0]["state"]')" = dispatched ] \
          || [ "$(job_field "$job" 'j["tracks"][0]["state"]')" = running ]; }
wait_for "the hanging track to be dispatched" 20 held
"$MASTERFARM" cancel "$job" --broker "$BROKER_URL" || fail "cancel of a running job failed"
is_cancelled () { job_is "$job" cancelled; }
wait_for "job $job to be cancelled" 10 is_cancelled
set +e
"$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/watch1.out" 2>&1
rc=$?
"$MASTERFARM" cancel "$job" --broker "$BROKER_URL" 2>"$T/cancel2.err"
rc2=$?
"$MASTERFARM" cancel 4242 --broker "$BROKER_URL" 2>"$T/cancel3.err"
rc3=$?
set -e
[ $rc = 1 ] || fail "watch of a cancelled job exited $rc, expected 1"
[ $rc2 = 1 ] || fail "a second cancel exited $rc2, expected 1"
cat "$T/cancel2.err" "$T/cancel3.err"
grep -q "refused" "$T/cancel2.err" || fail "the second cancel does not say it was refused"
[ $rc3 = 1 ] && grep -q "no job 4242" "$T/cancel3.err" || fail "cancel of an unknown job not reported"
stop_group "$hw"
log "cancel: job $job cancelled"

# Retry.
start_worker crash-w1 MASTERFARM_FAULT=crash:crashme
c1=$LAST_PID
start_worker crash-w2 MASTERFARM_FAULT=crash:crashme
c2=$LAST_PID
job2=$(submit "$T/in/job.json")
set +e
"$MASTERFARM" watch "$job2" --broker "$BROKER_URL" --plain >"$T/watch2.out" 2>&1
rc=$?
set -e
[ $rc = 1 ] || fail "the job with a crashing track did not fail (watch exit $rc)"
stop_group "$c1"
stop_group "$c2"
# what `masterfarm logs` holds of the crashing track before the retry
"$MASTERFARM" logs "$job2" --album 1 --track 3 --broker "$BROKER_URL" >"$T/logs1.out"
failed1=$(grep -c "analyze attempt .*, failed$" "$T/logs1.out" || true)
start_worker good-w1
start_worker good-w2
"$MASTERFARM" retry "$job2" --broker "$BROKER_URL" || fail "retry of a failed job failed"
"$MASTERFARM" watch "$job2" --broker "$BROKER_URL" --plain >"$T/watch3.out" 2>&1 \
    || { cat "$T/watch3.out"; fail "the retried job did not complete"; }
[ "$(job_field "$job2" 'sum(t["state"] == "done" for t in j["tracks"])')" = 4 ] \
    || fail "not every track is done after the retry"
# The retry's attempt is added to the record: the failed attempts before
# it are all still listed, each under its own number.
"$MASTERFARM" logs "$job2" --album 1 --track 3 --broker "$BROKER_URL" >"$T/logs2.out"
cat "$T/logs2.out"
[ "$failed1" -ge 1 ] || fail "no failed attempt of the crashing track was logged"
[ "$(grep -c "analyze attempt .*, failed$" "$T/logs2.out")" = "$failed1" ] \
    || fail "the retry lost failed attempts from the log (before: $failed1)"
[ "$(grep -c "analyze attempt $((failed1 + 1)) .*, ok$" "$T/logs2.out")" = 1 ] \
    || fail "the retry's analysis is not logged as attempt $((failed1 + 1))"
n=$(verify_manifests "$T/out") || fail "manifest check: $n"
# The re-delivered album holds this spec's tracks and nothing left over
# from the first delivery (which lacked the failed track, so its numbers
# were shifted).
masters=$(cd "$T/out" && find . -path '*/spotify/[0-9][0-9] - *' -type f -printf '%f\n' | LC_ALL=C sort)
expected=$(printf '%s\n' "01 - Intro hangme.flac" "02 - Harbour Lights.flac" \
           "03 - Northern Line crashme.flac" "04 - Glass.flac")
[ "$masters" = "$expected" ] \
    || fail "after the retry the album holds: $(echo "$masters" | paste -sd '|'); expected: $(echo "$expected" | paste -sd '|')"
log "retry: job $job2 completed, $n files verified"
farm_pass
