#!/bin/bash
# A track whose task process crashes (MASTERFARM_FAULT=crash:crashme makes
# the task child abort on that track): it fails after 3 attempts and
# status shows its error; the other tracks complete, but the album is
# held (not published: one of its tracks is missing); the workers survive. Then the same through `masterfarm run`, which must
# exit 1 and name the failed track.
. "$MF_SRC/tests/lib/farm_lib.sh"

gen_album "$T/in" --tracks 5 --seconds 3 --seed 8 --mark 2:crashme --profiles spotify
start_broker "$T/state.db" "$T/in" "$T/out"
start_worker w1 MASTERFARM_FAULT=crash:crashme
w1=$LAST_PID
start_worker w2 MASTERFARM_FAULT=crash:crashme
w2=$LAST_PID

job=$(submit "$T/in/job.json")
watch_expect "$job" 1 "$T/watch.out"
[ "$(job_field "$job" 'j["state"]')" = failed ] || fail "job is not 'failed'"

"$MASTERFARM" status "$job" --broker "$BROKER_URL" >"$T/status.out"
cat "$T/status.out"
t1=$(status_json "$job" | json_get '[t for t in d["jobs"][0]["tracks"] if t["track"] == 1][0]')
log "crashing track: $t1"
python3 - "$t1" <<'PY' || fail "the crashing track is not failed after 3 attempts with an error"
import ast, sys
t = ast.literal_eval(sys.argv[1])
assert t["state"] == "failed", t
assert t["attempts"] == 3, t
assert t["last_error"], t
PY
grep -q "error: .*" "$T/status.out" || fail "status does not show the track's error"
done_tracks=$(job_field "$job" 'sum(t["state"] == "done" for t in j["tracks"])')
[ "$done_tracks" = 4 ] || fail "expected the 4 other tracks done, got $done_tracks"
grep -q 'failed: album "Generated Album 1" track 2 "Harbour Lights crashme"' "$T/watch.out" \
    || fail "watch did not list the failed track"

# The workers lived through three crashes of their task processes.
kill -0 "$w1" && kill -0 "$w2" || fail "a worker died with its task process"
[ "$(status_json | json_get 'len(d["workers"])')" = 2 ] || fail "a worker is gone from status"

# The album is held: nothing of it in the output root.
[ -z "$(ls "$T/out")" ] || fail "an incomplete album was published: $(ls "$T/out")"
grep -q 'held: album "Generated Album 1"' "$T/status.out" || fail "status does not say the album is held"

# masterfarm run exits 1 and names the failed track.
set +e
MASTERFARM_FAULT=crash:crashme "$MASTERFARM" run "$T/in/job.json" -o "$T/run-out" -j 2 \
    >"$T/run.out" 2>&1
rc=$?
set -e
cat "$T/run.out"
[ $rc = 1 ] || fail "masterfarm run with a crashing track exited $rc, expected 1"
grep -q 'failed: album "Generated Album 1" track 2 ' "$T/run.out" \
    || fail "run did not name the failed track"
farm_pass
