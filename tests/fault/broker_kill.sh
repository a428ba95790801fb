#!/bin/bash
# kill -9 of the broker mid-job, at three points: just after submit,
# mid-dispatch (the first results are in, most tasks are out on workers)
# and mid-result (half the tasks done, results arriving). Each time the
# broker is restarted on the same state file and port; the workers keep
# running and reconnect. The job must complete; no task that was finished
# at the kill may run again (checked in the state file: no attempt of
# such a task starts after the kill, and its output files keep their
# inode, i.e. were not rewritten); and the audio outputs and CUE sheets
# must be byte-identical to those of an uninterrupted run. A `watch`
# started before the kill must follow the job across the restart.
. "$MF_SRC/tests/lib/farm_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 (the CLI) is needed to read the state file"

gen_album "$T/in" --tracks 7 --seconds 7 --seed 31 --profiles spotify,cd

# run_farm NAME POINT: one job through a broker and 2 workers, with the
# broker killed at POINT (none, submit, dispatch, result).
run_farm () {
    local name=$1 point=$2 port
    port=$(free_port)
    start_broker "$T/$name.db" "$T/in" "$T/$name" "$port"
    start_worker "$name-w1"
    local w1=$LAST_PID
    start_worker "$name-w2"
    local w2=$LAST_PID
    local job
    job=$(submit "$T/in/job.json")
    log "$name: job $job submitted"

    # A watch that is running when the broker dies must carry on with the
    # restarted broker (the client asks again after 3 s of silence).
    local watch_pid=""
    if [ "$point" = dispatch ] || [ "$point" = result ]; then
        "$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/$name.watch-across" 2>&1 &
        watch_pid=$!
    fi

    if [ "$point" != none ]; then
        case "$point" in
            submit)   ;;
            dispatch) wait_for "first results ($name)" 60 \
                          bash -c "[ \$('$MASTERFARM' status $job --broker '$BROKER_URL' --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"jobs\"][0][\"tasks_done\"])') -ge 1 ]" ;;
            result)   wait_for "half the tasks done ($name)" 90 \
                          bash -c "[ \$('$MASTERFARM' status $job --broker '$BROKER_URL' --json | python3 -c 'import json,sys; j=json.load(sys.stdin)[\"jobs\"][0]; print(int(2 * j[\"tasks_done\"] >= j[\"tasks_total\"]))') = 1 ]" ;;
        esac
        kill -KILL "$BROKER_PID"
        wait "$BROKER_PID" 2>/dev/null || true
        local kill_ms
        kill_ms=$(date +%s%3N)
        # What was finished at the kill: done tasks (state 4) and the
        # inodes of the output files committed with them.
        sqlite3 "$T/$name.db" "SELECT id FROM tasks WHERE job_id = $job AND state = 4" \
            | sort -n >"$T/$name.done-at-kill"
        sqlite3 "$T/$name.db" "SELECT o.path FROM outputs o JOIN tasks t ON t.id = o.task_id
                               WHERE t.job_id = $job AND t.state = 4" \
            | (cd "$T/$name" && while IFS= read -r p; do
                   [ -f "$p" ] && printf '%s %s\n' "$(stat -c %i "$p")" "$p"
               done) >"$T/$name.files-at-kill" || true
        local total
        total=$(sqlite3 "$T/$name.db" "SELECT count(*) FROM tasks WHERE job_id = $job")
        log "$name: broker killed at '$point' with $(wc -l <"$T/$name.done-at-kill")/$total tasks done"
        mv "$T/broker.log" "$T/$name-broker-before-kill.log"
        start_broker "$T/$name.db" "$T/in" "$T/$name" "$port"
    fi

    "$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/$name.watch" 2>&1 \
        || { cat "$T/$name.watch"; fail "$name: job did not complete"; }
    if [ -n "$watch_pid" ]; then
        wait "$watch_pid" \
            || { cat "$T/$name.watch-across"; fail "$name: the watch across the broker restart failed"; }
        log "$name: a watch started before the kill followed the job to its end"
    fi
    [ "$(job_field "$job" 'j["tasks_done"] == j["tasks_total"]')" = True ] \
        || fail "$name: not every task is done"

    if [ "$point" != none ]; then
        local ids redone
        ids=$(paste -sd, "$T/$name.done-at-kill")
        if [ -n "$ids" ]; then
            # the masters of an album the broker corrected are made again
            # by design, once per round (README "The album as mastered is read")
            local corrected="SELECT t.id FROM tasks t JOIN plans p ON p.job_id = t.job_id
                AND p.album = t.album AND p.profile = t.profile
                WHERE t.kind = 2 AND p.shift IS NOT NULL"
            redone=$(sqlite3 "$T/$name.db" \
                "SELECT count(*) FROM attempts WHERE task_id IN ($ids) AND started_ms >= $kill_ms
                    AND task_id NOT IN ($corrected)")
            [ "$redone" = 0 ] || fail "$name: $redone finished task(s) were dispatched again"
            local twice
            twice=$(sqlite3 "$T/$name.db" \
                "SELECT count(*) FROM (SELECT task_id FROM attempts WHERE ok = 1
                    AND task_id NOT IN ($corrected) GROUP BY task_id HAVING count(*) > 1)")
            [ "$twice" = 0 ] || fail "$name: $twice task(s) succeeded more than once"
        fi
        # Files committed with those tasks were not rewritten: same inode
        # (at their place, or where the album was published by a rename).
        python3 - "$T/$name" "$T/$name.files-at-kill" <<'PY' \
            || fail "$name: files of tasks finished before the kill were rewritten or lost"
import os, re, sys
root, listing = sys.argv[1], sys.argv[2]
bad = []
for line in open(listing):
    inode, path = line.rstrip("\n").split(" ", 1)
    places = [path, re.sub(r"^\.masterfarm/job-[0-9]+/", "", path)]
    found = [p for p in places if os.path.isfile(os.path.join(root, p))]
    if not found:
        if "/work/" not in path:          # intermediates may be cleaned up
            bad.append("lost: " + path)
    elif str(os.stat(os.path.join(root, found[-1])).st_ino) != inode:
        bad.append("rewritten: " + found[-1])
if bad:
    sys.exit("\n".join(bad))
print("%d committed files kept" % sum(1 for _ in open(listing)))
PY
        log "$name: nothing finished before the kill was redone"
    fi
    n=$(verify_manifests "$T/$name") || fail "$name: manifest check: $n"
    audio_digest "$T/$name" >"$T/$name.digest"
    [ -s "$T/$name.digest" ] || fail "$name: no audio output"
    stop_group "$w1"
    stop_group "$w2"
    stop_group "$BROKER_PID"
    mv "$T/broker.log" "$T/$name-broker.log"
}

run_farm ref none
for point in submit dispatch result; do
    run_farm "kill-$point" "$point"
    diff -u "$T/ref.digest" "$T/kill-$point.digest" >&2 \
        || fail "outputs after a broker kill at '$point' differ from the uninterrupted run"
    log "kill at '$point': outputs byte-identical to the uninterrupted run"
done
farm_pass
