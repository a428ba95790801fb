#!/bin/bash
# Kill matrix: a 3-album catalog with two profiles (spotify, cd) through a
# broker and 3 workers, first undisturbed (the reference), then for
# MF_CHAOS_ROUNDS rounds (default 3) with random kill -9 while the job
# runs: of a worker alone (its task process lives on), of a worker with
# its task processes (the whole process group), and of the broker
# (restarted on the same state file and port). A killed worker is
# replaced by a new one. Every round must:
#   - end with the job done (not failed), every task done;
#   - deliver exactly the reference's files (same paths), each with the
#     reference's bytes (cmp: audio, CUE, report.json, report.html and
#     manifest.json carry no times, so all are compared whole);
#   - leave no temporary or foreign file anywhere in the output root
#     (staging folder included): nothing named *.tmp*, no hidden file,
#     nothing at the top but album folders and the staging folder;
#   - redo nothing finished: in the state file, no task succeeded twice
#     and no attempt of a task started after its successful attempt ended
#     (the masters of an album the broker corrected: once per round).
# Seeds: MF_CHAOS_SEED sets the first round's seed (default: from the
# clock); round r uses seed+r-1, printed, so one round replays with
# MF_CHAOS_SEED=<its seed> MF_CHAOS_ROUNDS=1. MF_CHAOS_KILLS caps the
# kills per round (default 12). Kills of workers go mostly to workers that
# hold a task. The seed fixes the choices, not the timing: a replay may
# land its kills at other moments.
. "$MF_SRC/tests/lib/farm_lib.sh"
. "$MF_SRC/tests/lib/check_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 (the CLI) is needed to read the state file"

ROUNDS=${MF_CHAOS_ROUNDS:-3}
SEED=${MF_CHAOS_SEED:-$(( $(date +%s) % 100000 ))}
MAX_KILLS=${MF_CHAOS_KILLS:-12}
[[ "$ROUNDS" =~ ^[0-9]+$ && "$SEED" =~ ^[0-9]+$ && "$MAX_KILLS" =~ ^[0-9]+$ ]] \
    || fail "MF_CHAOS_ROUNDS, MF_CHAOS_SEED and MF_CHAOS_KILLS must be whole numbers"
log "chaos: $ROUNDS round(s), first seed $SEED (replay: MF_CHAOS_SEED=$SEED MF_CHAOS_ROUNDS=$ROUNDS)"

gen_album "$T/in" --albums 3 --tracks 4 --seconds 10 --vary 0.3 --seed 91 --profiles spotify,cd

WORKERS=()
# start_workers N: starts N workers, appends their pids to WORKERS.
start_workers () {
    local i
    for ((i = 0; i < $1; i++)); do
        start_worker "$RUN-w$((${#WORKERS[@]} + 1))"
        WORKERS+=("$LAST_PID")
    done
}

# stop_run: stops the broker and every worker of the run (their groups).
stop_run () {
    local pid
    for pid in "${WORKERS[@]}" "$BROKER_PID"; do
        stop_group "$pid"
    done
    WORKERS=()
    [ -f "$T/broker.log" ] && mv "$T/broker.log" "$T/$RUN-broker.log"
    return 0
}

# job_state JOB: the job's state, or "?" when the broker does not answer.
job_state () {
    job_field "$1" 'j["state"]' 2>/dev/null || echo "?"
}

# Reference: no disturbance.
RUN=ref
start_broker "$T/ref.db" "$T/in" "$T/ref"
start_workers 3
job=$(submit "$T/in/job.json")
"$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/ref.watch" 2>&1 \
    || { cat "$T/ref.watch"; fail "the undisturbed reference run did not complete"; }
n=$(verify_manifests "$T/ref") || fail "reference: manifest check: $n"
(cd "$T/ref" && find . -path ./.masterfarm -prune -o -type f -print | LC_ALL=C sort) >"$T/ref.files"
log "reference: $n files delivered in $(wc -l <"$T/ref.files") paths"
stop_run

# no_stray_files OUT: no temporary or foreign file in OUT (prints them).
no_stray_files () {
    local bad
    bad=$(cd "$1" && { find . -mindepth 1 \( -name '*.tmp*' -o -name '.*' \) \
                           ! -path ./.masterfarm ! -path ./.masterfarm/job-\* -print;
                       find . -mindepth 1 -maxdepth 1 ! -name .masterfarm \
                           ! -name 'generated-artist-generated-album-[123]' -print; } \
                     | LC_ALL=C sort -u)
    [ -z "$bad" ] || { printf '  stray: %s\n' $bad; return 1; }
}

# same_files_as_ref OUT: OUT delivers the reference's paths, byte for byte.
same_files_as_ref () {
    local out=$1 f bad=0
    (cd "$out" && find . -path ./.masterfarm -prune -o -type f -print | LC_ALL=C sort) \
        >"$out.files"
    if ! diff "$T/ref.files" "$out.files" >"$out.files.diff"; then
        sed 's/^/  /' "$out.files.diff" | head -n 20
        bad=1
    fi
    while IFS= read -r f; do
        [ -f "$out/$f" ] || continue
        cmp -s "$T/ref/$f" "$out/$f" || { echo "  differs from the reference: $f"; bad=1; }
    done <"$T/ref.files"
    return $bad
}

# nothing_redone DB: no task succeeded twice; no attempt started after a
# successful attempt of the same task ended. The masters of an album the
# broker corrected (plans.shift, README "The album as mastered is read")
# are made once per correction round by design: one success per round.
nothing_redone () {
    local rows
    rows=$(sqlite3 "$1" "
        CREATE TEMP VIEW redo AS
        SELECT t.id AS task_id, coalesce(json_extract(p.shift, '\$.rounds'), 0) AS rounds
          FROM tasks t LEFT JOIN plans p ON t.kind = 2 AND p.job_id = t.job_id
                                        AND p.album = t.album AND p.profile = t.profile;
        SELECT 'task ' || a.task_id || ' succeeded ' || count(*) || ' times'
          FROM attempts a JOIN redo r ON r.task_id = a.task_id WHERE a.ok = 1
         GROUP BY a.task_id HAVING count(*) > 1 + max(r.rounds);
        SELECT 'task ' || a.task_id || ' attempt ' || a.attempt || ' started after attempt '
               || d.attempt || ' had finished it'
          FROM attempts a JOIN attempts d ON d.task_id = a.task_id AND d.ok = 1
          JOIN redo r ON r.task_id = a.task_id
         WHERE r.rounds = 0 AND a.attempt <> d.attempt AND a.started_ms >= d.ended_ms;")
    [ -z "$rows" ] || { printf '  %s\n' "$rows"; return 1; }
}

# pick_worker: sets I to the index in WORKERS of a worker to kill: one
# that holds a task when status names any (worker ids are HOST-PID), so
# that kills land mid-task; a random one otherwise.
pick_worker () {
    local busy p k
    busy=$(status_json 2>/dev/null | json_get \
        '" ".join(w["id"].rsplit("-", 1)[-1] for w in d["workers"] if w["busy"] > 0)' \
        2>/dev/null) || busy=""
    I=$((RANDOM % ${#WORKERS[@]}))
    for p in $busy; do
        for k in "${!WORKERS[@]}"; do
            if [ "${WORKERS[$k]}" = "$p" ] && [ $((RANDOM % 4)) != 0 ]; then
                I=$k
                return 0
            fi
        done
    done
}

round_fails=0
for ((r = 1; r <= ROUNDS; r++)); do
    seed=$((SEED + r - 1))
    RANDOM=$seed
    RUN="r$r"
    out="$T/$RUN"
    port=$(free_port)
    log "round $r/$ROUNDS: seed $seed"
    start_broker "$T/$RUN.db" "$T/in" "$out" "$port"
    start_workers 3
    job=$(submit "$T/in/job.json")
    kills=0
    actions=()
    deadline=$((SECONDS + 240))
    state=$(job_state "$job")
    while [ "$state" != done ] && [ "$state" != failed ] && [ "$state" != cancelled ]; do
        [ $SECONDS -lt $deadline ] || break
        if [ $kills -lt "$MAX_KILLS" ]; then
            # Chaos timing (not a wait for a condition): 0.1 .. 1.0 s.
            sleep "0.$((1 + RANDOM % 9))$((RANDOM % 10))"
            kills=$((kills + 1))
            case $((RANDOM % 5)) in
                0|1)
                    pick_worker; i=$I
                    kill -KILL "${WORKERS[$i]}" 2>/dev/null || true
                    actions+=("worker ${WORKERS[$i]} alone")
                    WORKERS=("${WORKERS[@]:0:$i}" "${WORKERS[@]:$((i + 1))}")
                    start_workers 1 ;;
                2|3)
                    pick_worker; i=$I
                    kill -KILL -- "-${WORKERS[$i]}" 2>/dev/null || true
                    actions+=("worker ${WORKERS[$i]} with its tasks")
                    WORKERS=("${WORKERS[@]:0:$i}" "${WORKERS[@]:$((i + 1))}")
                    start_workers 1 ;;
                4)
                    kill -KILL "$BROKER_PID" 2>/dev/null || true
                    wait "$BROKER_PID" 2>/dev/null || true
                    actions+=("broker")
                    start_broker "$T/$RUN.db" "$T/in" "$out" "$port" >/dev/null ;;
            esac
        else
            sleep 0.2
        fi
        state=$(job_state "$job")
    done
    log "round $r: kill -9 of: ${actions[*]:-nothing (the job ended first)}"
    # The job may still be moving after the last kill: wait for its end.
    if ! timeout 240 "$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain \
         >"$T/$RUN.watch" 2>&1; then
        sed 's/^/  /' "$T/$RUN.watch" | tail -n 15
    fi
    state=$(job_state "$job")
    before=$fails
    check "round $r (seed $seed): the job is done (state '$state')" [ "$state" = done ]
    check "round $r (seed $seed): every task done" \
        [ "$(job_field "$job" 'j["tasks_done"] == j["tasks_total"]')" = True ]
    check "round $r (seed $seed): manifests complete and true" verify_manifests "$out"
    check "round $r (seed $seed): no temporary or foreign file in the output root" \
        no_stray_files "$out"
    check "round $r (seed $seed): every delivered file equals the reference's bytes" \
        same_files_as_ref "$out"
    check "round $r (seed $seed): nothing finished was redone" nothing_redone "$T/$RUN.db"
    [ "$fails" = "$before" ] || { round_fails=$((round_fails + 1));
        log "round $r failed: replay with MF_CHAOS_SEED=$seed MF_CHAOS_ROUNDS=1"; }
    stop_run
done

[ "$fails" = 0 ] || fail "$round_fails of $ROUNDS chaos round(s) failed ($fails check(s)); first seed $SEED"
farm_pass
