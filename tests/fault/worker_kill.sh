#!/bin/bash
# kill -9 of a worker mid-task. Worker w1 alone takes the first task, on
# the track whose name holds "hangme"; MASTERFARM_FAULT=hang:hangme (for
# w1 only) makes that task hang, so it is surely running when w1 and its
# task process are killed. Two healthy workers are running by then. The
# broker must notice within 3 heartbeats and dispatch the task again
# within 4 s of the kill (the attempt start times in the state file; the
# counters in status), and the job must
# complete with every output written once (manifest complete, nothing
# listed twice, no temporary file left).
. "$MF_SRC/tests/lib/farm_lib.sh"

gen_album "$T/in" --tracks 6 --seconds 4 --seed 21 --mark 1:hangme --profiles spotify
start_broker "$T/state.db" "$T/in" "$T/out"
start_worker w1 MASTERFARM_FAULT=hang:hangme
w1=$LAST_PID
wait_for "w1 registered" 15 bash -c \
    "'$MASTERFARM' status --broker '$BROKER_URL' --json | grep -q '\"slots\"'"

job=$(submit "$T/in/job.json")
log "job $job submitted"

# track 0 (hangme) is held by w1: its task is dispatched or running.
track0_held () {
    local s
    s=$(job_field "$job" 'j["tracks"][0]["state"]')
    [ "$s" = dispatched ] || [ "$s" = running ]
}
wait_for "the hangme track to be dispatched to w1" 20 track0_held
start_worker w2
start_worker w3
wait_for "3 workers registered" 15 bash -c \
    "[ \$('$MASTERFARM' status --broker '$BROKER_URL' --json | grep -c '\"slots\"') = 3 ]"
before=$(counter tasks_redispatched)

# Kill w1 and its hanging task process (the whole process group).
kill_ms=$(date +%s%3N)
kill -KILL -- "-$w1"
log "killed w1 (pid $w1)"
redispatched () { [ "$(counter tasks_redispatched)" -gt "$before" ]; }
wait_for "the lost task to be put back in the queue" 10 redispatched
[ "$(counter workers_expired)" -ge 1 ] || fail "workers_expired was not counted"

"$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/watch.out" 2>&1 \
    || { cat "$T/watch.out"; fail "job did not complete after the worker was killed"; }
[ "$(job_field "$job" 'j["tasks_failed"]')" = 0 ] || fail "a task failed"
n=$(verify_manifests "$T/out") || fail "manifest check: $n"
sha256sum_check "$T/out"
[ "$(track_outputs "$T/out" spotify)" = 6 ] || fail "expected 6 spotify masters"
# In the state file: when the lost task was dispatched again (timestamps
# of the broker, so the measure does not depend on how fast this script
# polls), every task succeeded exactly once, and the lost attempt is
# recorded as such.
command -v sqlite3 >/dev/null || fail "sqlite3 (the CLI) is needed to read the state file"
lost_task=$(sqlite3 "$T/state.db" "SELECT task_id FROM attempts WHERE ok = 0 ORDER BY started_ms LIMIT 1")
[ -n "$lost_task" ] || fail "no lost attempt in the state file"
again_ms=$(sqlite3 "$T/state.db" "SELECT min(started_ms) FROM attempts WHERE task_id = $lost_task AND attempt > 1")
[ -n "$again_ms" ] || fail "task $lost_task was never dispatched again"
ms=$((again_ms - kill_ms))
log "task $lost_task dispatched again ${ms} ms after the kill ($(grep -o 'silent for [0-9]* ms: expired' "$T/broker.log" | head -n 1))"
[ "$ms" -le 4000 ] || fail "re-dispatch took ${ms} ms, more than 4 s (3 heartbeats of 1 s + slack)"
twice=$(sqlite3 "$T/state.db" \
    "SELECT count(*) FROM (SELECT task_id FROM attempts WHERE ok = 1 GROUP BY task_id HAVING count(*) > 1)")
[ "$twice" = 0 ] || fail "$twice task(s) succeeded more than once"
log "job done; $n files each written once and matching the manifest"
farm_pass
