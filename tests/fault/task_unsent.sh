#!/bin/bash
# A TASK message the broker cannot send (zmq_send fails: a signal, a full
# queue) must not leave its task held by a worker that never got it. The
# broker's test hook MASTERFARM_FAULT=unsent:PATTERN drops the first TASK
# whose input holds PATTERN as a failed send drops it. The task must be
# queued again at once, not counted as an attempt, and the job must
# complete within the watch's limit (before, it stayed "dispatched" for
# ever: the worker, alive and heartbeating, never had it).
. "$MF_SRC/tests/lib/farm_lib.sh"

gen_album "$T/in" --tracks 3 --seconds 4 --seed 41 --mark 2:dropme --profiles spotify
MASTERFARM_FAULT=unsent:dropme start_broker "$T/state.db" "$T/in" "$T/out"
start_worker w1
job=$(submit "$T/in/job.json")
log "job $job submitted"
timeout 60 "$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/watch.out" 2>&1 \
    || { tail -n 5 "$T/watch.out"; fail "the job did not finish (a task held by a worker that never had it)"; }
grep -q 'test hook: TASK to .* not sent' "$T/broker.log" \
    || fail "the hook did not drop a TASK: $(tail -n 5 "$T/broker.log")"
[ "$(job_field "$job" 'j["state"]')" = done ] || fail "job $job is not done"
[ "$(job_field "$job" 'j["tasks_done"] == j["tasks_total"] and j["tasks_failed"] == 0')" = True ] \
    || fail "not every task finished: $(status_json "$job")"
# the dropped dispatch does not count: the track's analysis ran once, as
# attempt 1, and succeeded
"$MASTERFARM" logs "$job" --album 1 --track 2 --broker "$BROKER_URL" >"$T/logs.out" 2>&1 \
    || fail "logs failed: $(cat "$T/logs.out")"
grep -q '^album 1 track 2 analyze attempt 1 on .*, ok$' "$T/logs.out" \
    || fail "the analysis is not attempt 1, ok: $(cat "$T/logs.out")"
! grep -q 'attempt 2' "$T/logs.out" || fail "the dropped dispatch counted: $(cat "$T/logs.out")"
log "job done; the dropped TASK was queued again and ran as attempt 1"
farm_pass
