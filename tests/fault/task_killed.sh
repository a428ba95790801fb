#!/bin/bash
# A task process killed by SIGKILL while its worker lives (what the
# kernel's out-of-memory killer does) is reported by the worker as a
# resource failure (Result error_class): the broker queues the task again
# only after a backoff (2 s), the track is not struck, and the job
# completes.
. "$MF_SRC/tests/lib/farm_lib.sh"

gen_album "$T/in" --tracks 2 --seconds 2 --seed 6 --mark 1:hangme --profiles spotify
start_broker "$T/state.db" "$T/in" "$T/out"
job=$(submit "$T/in/job.json")
start_worker hang MASTERFARM_FAULT=hang:hangme
worker=$LAST_PID

track_attempts () {
    job_field "$job" "[t for t in j['tracks'] if t['track'] == 0][0]['attempts']"
}
holds_attempt () { [ "$(track_attempts)" = "$1" ]; }
# the worker's task process that hangs (idle ones wait beside it)
task_child () { pgrep -P "$worker" -x mf-task-hang >/dev/null; }

for round in 1 2 3; do
    wait_for "the worker to hold attempt $round of the first track" 30 holds_attempt "$round"
    wait_for "the task process of attempt $round" 10 task_child
    child=$(pgrep -P "$worker" -x mf-task-hang | head -n 1)
    killed_at=$(now_us)
    log "round $round: kill -9 of task process $child (worker $worker lives)"
    kill -KILL "$child"
    next=$((round + 1))
    wait_for "attempt $next after the backoff" 90 holds_attempt "$next"
    waited=$(( ($(now_us) - killed_at) / 1000 ))
    log "attempt $next dispatched ${waited} ms after the kill"
    [ "$waited" -ge 1900 ] || fail "attempt $next came ${waited} ms after the kill: no backoff"
done
kill -0 "$worker" || fail "the worker died with its task process"
grep -q "resource failure 3" "$T/broker.log" || fail "the broker did not count resource failures"
# Three kills: as many as the failures of its own that fail a task.
[ "$(job_field "$job" 'j["state"]')" != failed ] || fail "the job failed"
kill -KILL -- "-$worker"
start_worker healthy
wait_for "the job to end" 60 job_final "$job"
state=$(job_field "$job" 'j["state"]')
[ "$state" = done ] || fail "job ended '$state', expected done"
farm_pass
