#!/bin/bash
# Skip-unchanged re-runs (the broker's reuse cache, broker/cache.h):
#  1. a catalog submitted again with the same inputs and settings runs no
#     analysis and no master task (no attempt is recorded for any) and
#     delivers the same audio bytes;
#  2. with one track's file changed, only that track is analysed and
#     mastered again (loudness policy "track" and no album tonal match:
#     no other track's plan depends on it), and only its files change;
#     the same with inline storage (audio over the socket);
#  3. a broker started with --cache-days 0 reuses nothing.
. "$MF_SRC/tests/lib/farm_lib.sh"

TRACKS=4
gen_album "$T/in" --tracks $TRACKS --seconds 4 --seed 21 --policy track --profiles spotify,cd
python3 - "$T/in/job.json" <<'PYEOF'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["defaults"]["tonal"] = {"match": "off"}
json.dump(spec, open(sys.argv[1], "w"), indent=2)
PYEOF
# Files written in the last CACHE_RACY_S seconds are not trusted by their
# status alone (a write in the same clock tick could hide behind it): a
# catalog is older than that.
sleep 3
start_broker "$T/state.db" "$T/in" "$T/out"
start_worker worker-1
start_worker worker-2

# attempts JOB KIND: attempts recorded for JOB's tasks of KIND (1 analyze,
# 2 master, 3 assemble), read from the state file.
attempts () {
    sqlite3 "file:$T/state.db?mode=ro" \
        "SELECT count(*) FROM attempts a JOIN tasks t ON a.task_id = t.id
         WHERE t.job_id = $1 AND t.kind = $2"
}

# run_job NAME: submits the catalog, watches it to its end, prints the id.
run_job () {
    local job
    job=$(submit "$T/in/job.json")
    "$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/watch-$1.out" 2>&1 \
        || { cat "$T/watch-$1.out" >&2; fail "$1: watch did not exit 0"; }
    [ "$(job_field "$job" 'j["state"]')" = done ] || fail "$1: job $job is not done"
    echo "$job"
}

# The broker commits its state at the end of each loop turn: wait for the
# attempts of a finished job to be readable.
settle () { sleep 0.5; }

job1=$(run_job first)
settle
a1=$(attempts "$job1" 1) m1=$(attempts "$job1" 2)
log "first run (job $job1): $a1 analysis and $m1 master attempts"
[ "$a1" = $TRACKS ] && [ "$m1" = $((TRACKS * 2)) ] \
    || fail "first run: expected $TRACKS analyses and $((TRACKS * 2)) masters"
audio_digest "$T/out" >"$T/digest1"
[ -s "$T/digest1" ] || fail "nothing delivered"

# 1. The same catalog again.
job2=$(run_job again)
settle
a2=$(attempts "$job2" 1) m2=$(attempts "$job2" 2) s2=$(attempts "$job2" 3)
log "same catalog again (job $job2): $a2 analysis, $m2 master, $s2 assembly attempts"
[ "$a2" = 0 ] || fail "unchanged inputs: $a2 analyses ran again"
[ "$m2" = 0 ] || fail "unchanged inputs: $m2 masters ran again"
reused=$(grep -c "^.*job $job2 .*reused (input and settings unchanged)" "$T/broker.log")
[ "$reused" = $((TRACKS * 3)) ] \
    || fail "expected $((TRACKS * 3)) reused tasks in the broker's log, found $reused"
audio_digest "$T/out" >"$T/digest2"
diff "$T/digest1" "$T/digest2" >"$T/diff2" || { cat "$T/diff2"; fail "unchanged inputs: \
the delivered audio differs"; }
log "same bytes delivered ($(wc -l <"$T/digest2") audio files), $reused tasks reused"

# 2. One track's file changed (another generator seed, same name).
gen_album "$T/other" --tracks $TRACKS --seconds 4 --seed 22 --policy track \
    --profiles spotify,cd
changed=$(cd "$T/in" && ls album1/ | sed -n 2p)
cp "$T/other/album1/$changed" "$T/in/album1/$changed"
job3=$(run_job changed)
settle
a3=$(attempts "$job3" 1) m3=$(attempts "$job3" 2)
log "one track changed (job $job3): $a3 analysis and $m3 master attempts"
[ "$a3" = 1 ] || fail "one changed track: $a3 analyses ran (expected 1)"
[ "$m3" = 2 ] || fail "one changed track: $m3 masters ran (expected 2: its two profiles)"
audio_digest "$T/out" >"$T/digest3"
# Per-track files of the other tracks are identical; the changed track's
# (and the album files, which hold it) differ.
stem=${changed%.wav}
num=${stem%% - *}
diff <(grep "/$num - " "$T/digest1") <(grep "/$num - " "$T/digest3") >/dev/null \
    && fail "the changed track's masters are the same bytes as before"
diff <(grep '/[0-9][0-9] - ' "$T/digest1" | grep -v "/$num - ") \
     <(grep '/[0-9][0-9] - ' "$T/digest3" | grep -v "/$num - ") >"$T/diff3" \
    || { cat "$T/diff3"; fail "tracks that did not change were delivered differently"; }
log "only track $num was redone; the other tracks' files are byte-identical"

# 2b. Inline storage (audio over the socket) reuses the same entries. The
# changed file was too new at job 3 to be trusted by its status, so its
# analysis runs once more (it reads the same digest, and records it now
# that the file is CACHE_RACY_S old); its masters are found by that digest.
stop_group "$BROKER_PID"
sleep 3
BROKER_ARGS=(--storage inline)
start_broker "$T/state.db" "$T/in" "$T/out" "${BROKER_URL##*:}"
jobi=$(run_job inline)
settle
ai=$(attempts "$jobi" 1) mi=$(attempts "$jobi" 2)
log "inline storage (job $jobi): $ai analysis and $mi master attempts"
[ "$ai" = 1 ] && [ "$mi" = 0 ] || fail "inline storage: expected 1 analysis (the new file) and no master"
audio_digest "$T/out" > "$T/digesti"
diff "$T/digest3" "$T/digesti" > /dev/null || fail "inline storage: other bytes delivered"

# 3. No reuse when the operator turns the cache off.
stop_group "$BROKER_PID"
BROKER_ARGS=(--cache-days 0)
start_broker "$T/state.db" "$T/in" "$T/out" "${BROKER_URL##*:}"
job4=$(run_job nocache)
settle
a4=$(attempts "$job4" 1) m4=$(attempts "$job4" 2)
log "--cache-days 0 (job $job4): $a4 analysis and $m4 master attempts"
[ "$a4" = $TRACKS ] && [ "$m4" = $((TRACKS * 2)) ] || fail "--cache-days 0 still reused"
audio_digest "$T/out" >"$T/digest4"
diff "$T/digest3" "$T/digest4" >/dev/null || fail "recomputed masters differ from the reused ones"
log "recomputed without the cache: the same bytes as the reused run"
farm_pass
