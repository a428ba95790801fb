#!/bin/bash
# Control of jobs, tracks and attempts through the client, against a real
# broker and workers:
#  - submit --json: {"job_id": N}, or the errors of a rejected spec (exit 1);
#  - retry JOB --album A --track N runs again only that track (another
#    failed track stays failed), is refused when nothing failed there, and
#    retry --album A then completes the album;
#  - logs JOB --album A --track N: every attempt with its worker, times,
#    error and the tail of the task process's stderr;
#  - status --state STATE and --failed, for jobs and for tracks;
#  - priority JOB N: the job raised runs first;
#  - pause / resume: a paused job dispatches nothing, also after a broker
#    restart, and finishes once resumed; the time it sits paused while it
#    runs is not running time (running_s, behind ETA and speed).
. "$MF_SRC/tests/lib/farm_lib.sh"

gen_album "$T/in" --albums 2 --tracks 3 --seconds 3 --seed 21 --mark 2:crashme \
    --mark 3:crashme --profiles spotify
port=$(free_port)
start_broker "$T/state.db" "$T/in" "$T/out" "$port"
mf () { "$MASTERFARM" "$@" --broker "$BROKER_URL"; }
jq_py () { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# submit --json
out=$(mf submit "$T/in/job.json" --json) || fail "submit --json failed"
job=$(echo "$out" | jq_py 'd["job_id"]')
[ "$job" -gt 0 ] || fail "submit --json printed $out"
printf '{"albums": [{"tracks": [{"path": "../x.wav"}]}]}' >"$T/bad.json"
set +e
bad=$(mf submit "$T/bad.json" --json)
rc=$?
set -e
[ $rc = 1 ] || fail "submit --json of a bad spec exited $rc"
echo "$bad" | jq_py '"%d %s" % (d["job_id"], d["errors"][0]["path"])' | grep -q '^0 \$' \
    || fail "submit --json of a bad spec printed: $bad"
log "submit --json: job $job; a bad spec gives its errors"

# Two tracks of album 1 crash their task process on these workers.
start_worker crash1 MASTERFARM_FAULT=crash:crashme
c1=$LAST_PID
start_worker crash2 MASTERFARM_FAULT=crash:crashme
c2=$LAST_PID
watch_expect "$job" 1 "$T/watch1.out"
stop_group "$c1"
stop_group "$c2"

# status filters: the failed job among all jobs; its failed tracks.
[ "$(status_json "" | jq_py 'len(d["jobs"])')" -ge 1 ] || fail "no job in status"
[ "$("$MASTERFARM" status --broker "$BROKER_URL" --json --state failed | jq_py '[j["job_id"] for j in d["jobs"]]')" = "[$job]" ] \
    || fail "status --state failed does not list job $job alone"
[ "$("$MASTERFARM" status --broker "$BROKER_URL" --json --state done | jq_py 'len(d["jobs"])')" = 0 ] \
    || fail "status --state done lists a job"
failed=$(mf status "$job" --json --failed | jq_py '[(t["album"], t["track"]) for t in d["jobs"][0]["tracks"]]')
[ "$failed" = "[(0, 1), (0, 2)]" ] || fail "status --failed lists $failed, expected tracks 2 and 3 of album 1"
ndone=$(mf status "$job" --json --state done | jq_py 'len(d["jobs"][0]["tracks"])')
[ "$ndone" = 4 ] || fail "status --state done lists $ndone tracks, expected 4"
mf status "$job" --failed >"$T/status-failed.txt"
grep -q "crashme" "$T/status-failed.txt" || fail "status --failed text lacks the failed tracks"
set +e
mf status "$job" --state nonsense >/dev/null 2>&1
rc=$?
set -e
[ $rc = 2 ] || fail "status --state nonsense exited $rc, expected 2"
log "status: --state and --failed select jobs and tracks"

# logs of a failed track: its attempts on the crashing workers, with stderr.
mf logs "$job" --album 1 --track 2 --json >"$T/logs1.json" || fail "logs failed"
python3 - "$T/logs1.json" <<'PYEOF' || fail "logs of the crashed track are wrong"
import json, sys
d = json.load(open(sys.argv[1]))
a = d['attempts']
assert a, "no attempts"
assert all(x['album'] == 1 and x['track'] == 2 for x in a), "attempts of other tracks"
bad = [x for x in a if x['kind'] == 'analyze' and not x['ok']]
assert len(bad) >= 3, "expected 3 failed analyze attempts, got %d" % len(bad)
for x in bad:
    assert x['worker'], "attempt without worker"
    assert 0 < x['started_ms'] <= x['ended_ms'], "attempt times %r" % x
    assert 'signal 6' in x['error'], "error %r" % x['error']
    assert 'test hook: crashing on' in x['stderr_tail'], "stderr tail %r" % x['stderr_tail']
print("%d attempts, stderr tail: %r" % (len(a), bad[0]['stderr_tail'].strip()[-60:]))
PYEOF
mf logs "$job" --album 1 --track 2 >"$T/logs1.txt"
grep -q "stderr" "$T/logs1.txt" && grep -q "test hook: crashing" "$T/logs1.txt" \
    || fail "logs text lacks the stderr tail"
set +e
mf logs "$job" --album 9 >/dev/null 2>"$T/logs9.err"
rc=$?
set -e
[ $rc = 1 ] && grep -q "no album 9" "$T/logs9.err" || fail "logs --album 9 not refused (exit $rc)"

# retry only album 1 track 2, on healthy workers.
start_worker good1
g1=$LAST_PID
start_worker good2
g2=$LAST_PID
mf retry "$job" --album 1 --track 2 || fail "retry --album 1 --track 2 failed"
watch_expect "$job" 1 "$T/watch2.out"
states=$(mf status "$job" --json | jq_py '" ".join(t["state"] for t in d["jobs"][0]["tracks"])')
[ "$states" = "done done failed done done done" ] \
    || fail "after retry of track 2 the tracks are: $states (track 3 must stay failed)"
n=$(mf logs "$job" --album 1 --track 3 --json | jq_py 'sum(x["ok"] for x in d["attempts"])')
[ "$n" = 0 ] || fail "track 3 ran again though only track 2 was retried"
set +e
mf retry "$job" --album 1 --track 2 2>"$T/retry2.err"
rc=$?
set -e
[ $rc = 1 ] && grep -q "nothing failed in album 1 track 2" "$T/retry2.err" \
    || fail "a retry of a track that did not fail was not refused (exit $rc)"
mf retry "$job" --album 1 || fail "retry --album 1 failed"
watch_expect "$job" 0 "$T/watch3.out"
ok=$(mf logs "$job" --album 1 --track 2 --json | jq_py 'sum(x["ok"] and x["kind"] == "analyze" for x in d["attempts"])')
[ "$ok" = 1 ] || fail "track 2 analysed $ok times after the retries, expected once"
log "retry: --album --track narrowed to one track; --album completed the album"

# priority: with no worker, job B (submitted second) is raised and runs first.
stop_group "$g1"
stop_group "$g2"
ja=$(submit "$T/in/job.json")
jb=$(submit "$T/in/job.json")
mf priority "$jb" 9 >/dev/null || fail "priority failed"
[ "$(job_field "$jb" 'j["priority"]')" = 9 ] || fail "priority 9 not in status"
set +e
mf priority "$jb" 12 2>/dev/null
rc=$?
set -e
[ $rc = 2 ] || fail "priority 12 exited $rc, expected 2"
start_worker prio1
p1=$LAST_PID
wait_for "jobs $ja and $jb to finish" 60 job_final "$ja"
wait_for "job $jb to finish" 60 job_final "$jb"
first () { mf logs "$1" --json | jq_py 'min(x["started_ms"] for x in d["attempts"])'; }
fa=$(first "$ja")
fb=$(first "$jb")
[ "$fb" -lt "$fa" ] || fail "job $jb (priority 9) started at $fb, after job $ja at $fa"
log "priority: job $jb raised to 9 started first"

# pause: the job dispatches nothing, across a broker restart, until resumed.
# It repeats an earlier job, so only its two assemblies are left to run:
# with a worker connected they could be done before the pause reached the
# broker. So the job comes while no worker is connected, and a worker
# that connects after the pause gets nothing of it.
stop_group "$p1"
jc=$(submit "$T/in/job.json")
mf pause "$jc" >/dev/null || fail "pause failed"
[ "$(job_field "$jc" 'j["paused"]')" = True ] || fail "status does not say paused"
start_worker pause1
idle () { [ "$(job_field "$jc" 'sum(t["state"] in ("dispatched", "running") for t in j["tracks"])')" = 0 ]; }
wait_for "the tasks of job $jc dispatched before the pause to finish" 20 idle
attempts () { mf logs "$jc" --json | jq_py 'len(d["attempts"])'; }
n0=$(attempts)
d0=$(job_field "$jc" 'j["tasks_done"]')
[ "$d0" -lt 14 ] || fail "job $jc finished before the pause"
sleep 2
[ "$(attempts)" = "$n0" ] || fail "a paused job was dispatched"
stop_group "$BROKER_PID"
start_broker "$T/state.db" "$T/in" "$T/out" "$port"
[ "$(job_field "$jc" 'j["paused"]')" = True ] || fail "the pause did not survive a broker restart"
"$MASTERFARM" status --broker "$BROKER_URL" --state paused --json | jq_py '[j["job_id"] for j in d["jobs"]]' \
    | grep -q "$jc" || fail "status --state paused does not list job $jc"
sleep 3
[ "$(attempts)" = "$n0" ] || fail "a paused job was dispatched after a broker restart"
[ "$(job_field "$jc" 'j["tasks_done"]')" = "$d0" ] || fail "a paused job ran tasks after a restart"
mf resume "$jc" >/dev/null || fail "resume failed"
watch_expect "$jc" 0 "$T/watch4.out"
log "pause: nothing dispatched while paused (restart included); resumed job done"

# A pause is not running time: a job paused while it runs keeps its
# running time (status running_s, behind its ETA and speed) from the moment
# of the pause until it is resumed; it runs on from there.
stop_group "$LAST_PID"
gen_album "$T/in" --albums 1 --tracks 6 --seconds 8 --seed 33 --profiles spotify,cd
jp=$(submit "$T/in/job.json")
start_worker pause2
started () { [ "$(job_field "$jp" 'j["tasks_done"]')" -ge 2 ]; }
wait_for "job $jp to run two tasks" 30 started
mf pause "$jp" >/dev/null || fail "pause of job $jp failed"
idle2 () { [ "$(job_field "$jp" 'sum(t["state"] in ("dispatched", "running") for t in j["tracks"])')" = 0 ]; }
wait_for "the running tasks of job $jp to finish" 30 idle2
job_is "$jp" running || fail "job $jp ended before it could be paused while running"
r1=$(job_field "$jp" 'j["running_s"]')
sleep 4
r2=$(job_field "$jp" 'j["running_s"]')
python3 -c "import sys; sys.exit(0 if float('$r2') - float('$r1') < 1.0 else 1)" \
    || fail "job $jp's running time went from $r1 to $r2 s while it was paused"
mf resume "$jp" >/dev/null || fail "resume of job $jp failed"
sleep 2
r3=$(job_field "$jp" 'j["running_s"]')
python3 -c "import sys; sys.exit(0 if float('$r3') - float('$r2') < 3.5 else 1)" \
    || fail "job $jp's running time went from $r2 to $r3 s over 2 s after the resume"
watch_expect "$jp" 0 "$T/watch5.out"
log "pause: running time $r1 s at the pause, $r2 s 4 s later, $r3 s 2 s after the resume"
farm_pass
