#!/bin/bash
# A worker killed with kill -9 (with its task process) is no strike against
# the track it held: a track whose task hangs (MASTERFARM_FAULT=hang:...)
# is held by four workers in turn, each killed while it holds it (more
# than the 3 failures that fail a task); the track is not failed, and a
# healthy worker then completes the job.
. "$MF_SRC/tests/lib/farm_lib.sh"

gen_album "$T/in" --tracks 2 --seconds 2 --seed 5 --mark 1:hangme --profiles spotify
start_broker "$T/state.db" "$T/in" "$T/out"
job=$(submit "$T/in/job.json")

# track_attempts N: the attempts of the job's track of index N (0: the first) so far.
track_attempts () {
    job_field "$job" "[t for t in j['tracks'] if t['track'] == $1][0]['attempts']"
}
holds_attempt () { [ "$(track_attempts 0)" = "$1" ]; }

for round in 1 2 3 4; do
    start_worker "hang$round" MASTERFARM_FAULT=hang:hangme
    pid=$LAST_PID
    # The worker holds the hanging track's attempt `round` (after the
    # previous worker's expiry, about 3 s).
    wait_for "worker $round to hold attempt $round of the first track" 30 holds_attempt "$round"
    log "round $round: worker $pid holds attempt $round; kill -9"
    kill -KILL -- "-$pid"
    state=$(job_field "$job" 'j["state"]')
    [ "$state" != failed ] || fail "job failed after $round lost worker(s)"
done
start_worker healthy
wait_for "the job to end" 60 job_final "$job"
state=$(job_field "$job" 'j["state"]')
t1=$(status_json "$job" | json_get '[t for t in d["jobs"][0]["tracks"] if t["track"] == 0][0]')
log "first track: $t1"
[ "$state" = done ] || fail "job ended '$state' after 4 lost workers, expected done"
[ "$(track_attempts 0)" -ge 5 ] || fail "the first track was not retried after the 4 lost workers"
[ "$(counter workers_expired)" -ge 4 ] || fail "fewer than 4 workers expired"
farm_pass
