#!/bin/bash
# A worker's task process runs one task after another: a job's tasks on a
# one-slot worker run in one process, with the same bytes delivered as
# `masterfarm run` delivers. The per-task CPU limit (MASTERFARM_TASK_CPU_S)
# is each task's own, not the process's: a job whose tasks together use
# more than the limit in that one process completes, while a task that
# alone goes over it is stopped (SIGXCPU) and reported as such.
. "$MF_SRC/tests/lib/farm_lib.sh"

# Four albums of six 40-second tracks (pink noise from sox: the
# generator's mixes take longer to make than the job takes to run).
gen_album "$T/in" --albums 4 --tracks 6 --seconds 2 --seed 12 --profiles spotify
k=0
for f in "$T"/in/album*/*.wav; do
    sox -n -r 44100 -b 24 -c 2 "$f" synth 40 pinknoise vol 0.$((1 + k % 7)) \
        || fail "sox could not write $f"
    k=$((k + 1))
done
start_broker "$T/state.db" "$T/in" "$T/out"
start_worker w1 MASTERFARM_LOG=debug MASTERFARM_TASK_CPU_S=3
worker=$LAST_PID
job=$(submit "$T/in/job.json")
wait_for "the job to end" 180 job_final "$job"
state=$(job_field "$job" 'j["state"]')
[ "$state" = done ] || fail "job ended '$state', expected done"

tasks=$(grep -c "started in process" "$T/w1.log")
procs=$(grep -o "started in process [0-9]*" "$T/w1.log" | sort -u | wc -l)
log "$tasks tasks ran in $procs task process(es)"
[ "$tasks" -ge 52 ] || fail "only $tasks tasks started (24 analyses, 24 masters, 4 assemblies)"
[ "$procs" = 1 ] || fail "$tasks tasks ran in $procs processes on a one-slot worker, not one"
runner=$(grep -o "started in process [0-9]*" "$T/w1.log" | head -n 1 | awk '{ print $4 }')
kill -0 "$runner" 2>/dev/null || fail "the task process $runner is gone after its tasks"
# Idle after 52 tasks it holds its standard streams and its two pipes to
# the worker: no file of a task, none of the worker's sockets.
fds=$(ls "/proc/$runner/fd" | wc -l)
[ "$fds" -le 5 ] || fail "the idle task process holds $fds files: $(ls -l "/proc/$runner/fd")"
cpu=$(python3 -c '
import os, sys
f = open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split()
print("%.2f" % ((int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")))' "$runner")
log "task process $runner used $cpu s of CPU over the job, limit 3 s a task"
# The limit is set to the CPU used so far (whole seconds, rounded up) plus
# 3 s: beyond 4 s, one limit for the process's life would have stopped it.
# (The largest task, an album's assembly, takes about a third of that.)
awk -v c="$cpu" 'BEGIN { exit !(c > 4.5) }' \
    || fail "the job used only $cpu s of CPU in its task process: this proves nothing"
grep -q "CPU time limit" "$T/w1.log" && fail "a task was stopped by the CPU limit"

# Same bytes as a local run of the same job.
"$MASTERFARM" run "$T/in/job.json" -o "$T/local" -j 1 --quiet >"$T/run.log" 2>&1 \
    || fail "masterfarm run failed"
[ "$(audio_digest "$T/out")" = "$(audio_digest "$T/local")" ] \
    || fail "the farm's files differ from masterfarm run's"

# One task over the limit on its own: thirty minutes of noise to master
# (about 7 s of CPU).
mkdir -p "$T/long/a"
sox -n -r 44100 -b 24 -c 2 "$T/long/a/long.wav" synth 1800 pinknoise vol 0.3 \
    || fail "sox could not write the long track"
cat >"$T/long/job.json" <<EOF
{"name": "long", "defaults": {"profiles": ["cd"]},
 "albums": [{"title": "Long", "artist": "A", "tracks": [{"path": "a/long.wav"}]}]}
EOF
start_broker "$T/state2.db" "$T/long" "$T/out2"
start_worker w2 MASTERFARM_TASK_CPU_S=3
job=$(submit "$T/long/job.json")
wait_for "the long job to end" 240 job_final "$job"
state=$(job_field "$job" 'j["state"]')
log "long job: $state"
[ "$state" != done ] || fail "a task over its CPU limit was not stopped"
grep -q "signal 24 (CPU time limit exceeded)" "$T/w2.log" \
    || fail "the worker did not report the CPU limit"
farm_pass
