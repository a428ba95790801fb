#!/bin/bash
# A 12-track album through one broker and three workers on loopback:
# the job completes, `watch` exits 0, status says done with every task
# finished, every album folder has its manifest, and every file matches
# its manifest (checked with sha256sum -c and by a full listing).
. "$MF_SRC/tests/lib/farm_lib.sh"

gen_album "$T/in" --tracks 12 --seconds 4 --seed 11 --profiles spotify
start_broker "$T/state.db" "$T/in" "$T/out"
for i in 1 2 3; do start_worker "worker-$i"; done
wait_for "3 workers registered" 15 \
    bash -c "[ \"\$('$MASTERFARM' status --broker '$BROKER_URL' --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"workers\"]))')\" = 3 ]"

job=$(submit "$T/in/job.json")
log "job $job submitted"
"$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/watch.out" 2>&1 \
    || { cat "$T/watch.out"; fail "watch did not exit 0"; }
log "watch: $(tail -n 2 "$T/watch.out" | head -n 1)"

[ "$(job_field "$job" 'j["state"]')" = done ] || fail "job $job is not done"
[ "$(job_field "$job" 'j["tasks_done"] == j["tasks_total"] and j["tasks_failed"] == 0')" = True ] \
    || fail "not every task finished: $(status_json "$job")"
[ "$(job_field "$job" 'sum(t["state"] == "done" for t in j["tracks"])')" = 12 ] \
    || fail "not all 12 tracks are done"

n=$(verify_manifests "$T/out") || fail "manifest check: $n"
sha256sum_check "$T/out"
masters=$(track_outputs "$T/out" spotify)
[ "$masters" = 12 ] || fail "expected 12 per-track spotify masters, found $masters"
log "$n files match their manifests, 12 per-track masters present"

# Every worker took part (3 workers, 12+ tasks, one slot each).
busy=$(status_json | json_get 'sum(1 for w in d["workers"] if w["tasks_done"] > 0)')
log "workers that ran tasks: $busy"
farm_pass
