#!/bin/bash
# A track larger than a task's memory limit masters in the farm when its
# samples spill to a file (MASTERFARM_SPILL_MB): the worker's limit
# (MASTERFARM_TASK_MEM_MB, RLIMIT_DATA) bounds the task process's private
# memory, and the spilled track is a shared mapping of an unnamed file in
# the output root, which it does not count. The delivered bytes are those
# of `masterfarm run`, whose master holds the same track in memory. Without
# spilling, the same limit stops the master with "out of memory": the
# limit is real, so the first half proves something.
. "$MF_SRC/tests/lib/farm_lib.sh"

# One album: a 20-minute track (423 MB as 32-bit float) and a short one.
gen_album "$T/in" --albums 1 --tracks 2 --seconds 2 --seed 21 --profiles spotify
long=$(ls "$T"/in/album*/*.wav | head -n 1)
sox -n -r 44100 -b 24 -c 2 "$long" synth 1200 pinknoise vol 0.3 \
    || fail "sox could not write $long"
job_json=$(ls "$T"/in/job.json)

start_broker "$T/state.db" "$T/in" "$T/out"
start_worker w1 MASTERFARM_LOG=debug MASTERFARM_TASK_MEM_MB=200 MASTERFARM_SPILL_MB=64
job=$(submit "$job_json")
wait_for "the job to end" 240 job_final "$job"
state=$(job_field "$job" 'j["state"]')
[ "$state" = done ] || fail "job ended '$state', expected done: $(grep -i "error\|fail" "$T/w1.log" | tail -n 3)"
grep -q "MB of samples in a file in $T/out" "$T/w1.log" \
    || fail "no master spilled its samples to the output root"
log "$(grep -o "audio: [0-9.]* MB of samples in a file in .*" "$T/w1.log" | head -n 2 | tr '\n' ';')"
# the unnamed files left no name behind
entries=$(cd "$T/out" && ls -A | grep -v '^\.masterfarm$' || true)
[ "$(echo "$entries" | wc -l)" = 1 ] && [ -d "$T/out/$entries" ] \
    || fail "the output root holds more than the album's folder: $entries"

"$MASTERFARM" run "$job_json" -o "$T/local" -j 1 --quiet >"$T/run.log" 2>&1 \
    || fail "masterfarm run failed: $(tail -n 3 "$T/run.log")"
[ "$(audio_digest "$T/out")" = "$(audio_digest "$T/local")" ] \
    || fail "the spilled master's files differ from masterfarm run's"
log "same bytes as masterfarm run ($(audio_digest "$T/out" | wc -l) files)"

# The same limit without spilling: the master cannot hold the track.
stop_group "$BROKER_PID"
start_broker "$T/state2.db" "$T/in" "$T/out2"
start_worker w2 MASTERFARM_TASK_MEM_MB=200 MASTERFARM_SPILL_MB=0
job=$(submit "$job_json")
wait_for "the master to run out of memory" 120 grep -q "out of memory" "$T/w2.log"
log "without spilling: $(grep -o "[^ ]*out of memory.*" "$T/w2.log" | head -n 1)"
farm_pass
