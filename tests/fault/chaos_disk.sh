#!/bin/bash
# Full disks, on small tmpfs mounts made by the test (root needed; skips
# with exit 77 otherwise, saying why):
#   A. the output root is full when a job runs: the tasks fail with a
#      clear error (the path and "No space left on device"), status and
#      watch say that tasks wait to try again and why, the broker
#      stays up and answers, and once space is back the job completes
#      (by itself through a backoff, or with `masterfarm retry JOB`),
#      byte-identical to an undisturbed run;
#   B. the state file's folder fills up mid-job: the broker stays up and
#      answers status, says clearly that it cannot write its state, the
#      acknowledged job is not lost, and once space is back the job
#      completes (with retry if need be) and is still there, done, after
#      a restart of the broker on the same state file.
. "$MF_SRC/tests/lib/farm_lib.sh"
. "$MF_SRC/tests/lib/check_lib.sh"

skip () { echo "SKIP: $*"; FARM_FAILED=0; exit 77; }
MOUNTS=()
disk_cleanup () {
    local m
    for m in "${MOUNTS[@]}"; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
}
# Processes first (they hold files on the mounts), then the mounts; the
# scratch folder is removed by farm_cleanup only on success, so unmount
# before it: run farm_cleanup's kill part, unmount, then farm_cleanup.
trap 'for p in "${FARM_PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done;
      wait 2>/dev/null || true; disk_cleanup; farm_cleanup' EXIT

[ "$(id -u)" = 0 ] || skip "mounting a small tmpfs needs root (running as uid $(id -u))"
# small_fs DIR SIZE: a tmpfs of SIZE at DIR.
small_fs () {
    mkdir -p "$1"
    mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" 2>"$T/mount.err" \
        || skip "cannot mount a tmpfs (no CAP_SYS_ADMIN?): $(cat "$T/mount.err")"
    MOUNTS+=("$1")
}
# fill DIR: fills DIR's filesystem to the last block (file DIR/filler,
# beside the output root or the state file).
fill () {
    dd if=/dev/zero of="$1/filler" bs=64k status=none 2>/dev/null || true
    local avail
    avail=$(df --output=avail -B1 "$1" | tail -n 1 | tr -d ' ')
    [ "$avail" -lt 65536 ] || fail "could not fill $1 ($avail bytes still free)"
}

gen_album "$T/in" --tracks 4 --seconds 8 --seed 77 --profiles spotify,cd

# Reference, undisturbed.
start_broker "$T/ref.db" "$T/in" "$T/ref"
start_worker ref-w1
rw=$LAST_PID
job=$(submit "$T/in/job.json")
"$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/ref.watch" 2>&1 \
    || { cat "$T/ref.watch"; fail "the undisturbed reference run did not complete"; }
audio_digest "$T/ref" >"$T/ref.digest"
stop_group "$rw"; stop_group "$BROKER_PID"; mv "$T/broker.log" "$T/ref-broker.log"

# any_error_like JOB REGEX: some track of JOB has a last_error matching REGEX.
any_error_like () {
    status_json "$1" | python3 -c '
import json, re, sys
j = json.load(sys.stdin)["jobs"][0]
sys.exit(0 if any(re.search(sys.argv[1], t.get("last_error") or "") for t in j["tracks"]) else 1)' "$2"
}
# finish JOB NAME: waits for JOB to end; if it failed, retries it once.
finish () {
    local job=$1 name=$2 st
    wait_for "$name: job $job to end or recover" 240 job_final "$job"
    st=$(job_field "$job" 'j["state"]')
    if [ "$st" = failed ]; then
        log "$name: job $job failed while the disk was full; masterfarm retry"
        "$MASTERFARM" retry "$job" --broker "$BROKER_URL" || return 1
    fi
    timeout 300 "$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/$name.watch" 2>&1 \
        || { sed 's/^/  /' "$T/$name.watch" | tail -n 12; return 1; }
}

# --- A. output root full -------------------------------------------------
small_fs "$T/outfs" 128m
mkdir -p "$T/outfs/out"
fill "$T/outfs"
start_broker "$T/a.db" "$T/in" "$T/outfs/out"
start_worker a-w1
aw1=$LAST_PID
start_worker a-w2
aw2=$LAST_PID
job=$(submit "$T/in/job.json")
log "A: job $job submitted with the output root full"
wait_for "A: a task to report the full disk" 120 any_error_like "$job" 'No space left on device'
status_json "$job" | json_get '"\n".join(sorted({t["last_error"] for t in d["jobs"][0]["tracks"] if t.get("last_error")}))' \
    >"$T/a.errors"
sed 's/^/  error: /' "$T/a.errors"
check "A: the error names the output path and 'No space left on device'" \
    grep -qE "$T/outfs/out.*No space left on device|No space left on device.*$T/outfs/out" "$T/a.errors"
# what the job waits for, as status and watch tell an operator: tasks
# waiting out their backoff, and the cause
retrying_said () {
    "$MASTERFARM" status "$1" --broker "$BROKER_URL" --timeout 5 >"$T/a.status" 2>&1 \
        && grep -q "^waiting to try again: [0-9]* task(s) after a failure of the machine: .*No space left on device" "$T/a.status" \
        && status_json "$1" | json_get '(d["jobs"][0]["tasks_retrying"], d["jobs"][0].get("eta_s"))' \
            | grep -q '^([1-9][0-9]*, -1\(\.0\)\?)$'
}
wait_for "A: status to say the job waits to try again, and why" 60 retrying_said "$job"
grep "waiting to try again" "$T/a.status" | sed 's/^/  /'
timeout 4 "$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/a.watch-full" 2>&1 || true
check "A: watch says the job waits to try again, and why" \
    grep -q "^  waiting to try again: [0-9]* task(s) after a failure of the machine: .*No space left on device" "$T/a.watch-full"
check "A: the broker is alive" kill -0 "$BROKER_PID"
check "A: the broker answers status" status_json
check "A: both workers are alive" kill -0 "$aw1" "$aw2"
rm -f "$T/outfs/filler"
log "A: space is back"
check "A: the job completes once space is back" finish "$job" A
check "A: the outputs equal the undisturbed run's (audio and CUE)" \
    diff -u "$T/ref.digest" <(audio_digest "$T/outfs/out")
check "A: manifests complete and true" verify_manifests "$T/outfs/out"
check "A: no temporary file left anywhere in the output root" \
    bash -c '! find "$1" -name "*.tmp*" | grep .' _ "$T/outfs/out"
stop_group "$aw1"; stop_group "$aw2"; stop_group "$BROKER_PID"
mv "$T/broker.log" "$T/a-broker.log"

# --- B. state file's folder full ----------------------------------------
small_fs "$T/statefs" 8m
port=$(free_port)
start_broker "$T/statefs/state.db" "$T/in" "$T/b" "$port"
start_worker b-w1
bw1=$LAST_PID
job=$(submit "$T/in/job.json")
log "B: job $job acknowledged; filling the state file's folder"
fill "$T/statefs"
# The job keeps running (or waits): results must be written to the state.
started=$SECONDS
alive_and_answering () { kill -0 "$BROKER_PID" && status_json >/dev/null; }
# Give the broker time to hit the full disk on its next writes (results
# arrive every fraction of a second), watching that it stays up.
while [ $((SECONDS - started)) -lt 8 ]; do
    alive_and_answering || break
    sleep 0.5
done
check "B: the broker is alive with its state folder full" kill -0 "$BROKER_PID"
check "B: the broker answers status with its state folder full" status_json
check "B: the broker says clearly that it cannot write its state (path, disk full)" \
    grep -qiE "$T/statefs/state.db.*(full|No space left)" "$T/broker.log"
"$MASTERFARM" submit "$T/in/job.json" --broker "$BROKER_URL" >"$T/b.submit2" 2>&1 && s2=0 || s2=$?
log "B: a second submit with the state folder full: exit $s2: $(head -c 300 "$T/b.submit2")"
check "B: a submit with the state folder full is refused, saying it was not stored" \
    bash -c '[ "$1" != 0 ] && grep -q "could not store" "$2"' _ "$s2" "$T/b.submit2"
rm -f "$T/statefs/filler"
log "B: space is back"
if ! kill -0 "$BROKER_PID" 2>/dev/null; then
    log "B: the broker had stopped; restarting it on the same state to go on"
    mv "$T/broker.log" "$T/b-broker-stopped.log"
    start_broker "$T/statefs/state.db" "$T/in" "$T/b" "$port"
fi
check "B: the acknowledged job is still known" status_json "$job"
check "B: the job completes once space is back" finish "$job" B
check "B: the outputs equal the undisturbed run's (audio and CUE)" \
    diff -u "$T/ref.digest" <(audio_digest "$T/b")
stop_group "$BROKER_PID"
mv "$T/broker.log" "$T/b-broker-1.log"
start_broker "$T/statefs/state.db" "$T/in" "$T/b" "$port"
check "B: after a restart on the same state the job is there, done" job_is "$job" done
stop_group "$bw1"
[ "$fails" = 0 ] || fail "$fails check(s) failed"
farm_pass
