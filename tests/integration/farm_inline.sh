#!/bin/bash
# Inline storage: the broker sends each task's input audio as data frames
# and writes the outputs the workers send back, for workers that do not
# see the broker's folders. A 5-track album for spotify and cd through a
# broker started with --storage inline and two workers: the job completes
# and every output matches its manifest; the audio is byte-identical to
# the same job run with shared storage.
. "$MF_SRC/tests/lib/farm_lib.sh"

gen_album "$T/in" --tracks 5 --seconds 4 --seed 17 --profiles spotify,cd

# run_farm NAME: one job through a broker (BROKER_ARGS) and two workers.
run_farm () {
    local name=$1
    start_broker "$T/$name.db" "$T/in" "$T/$name"
    start_worker "$name-w1"
    local w1=$LAST_PID
    start_worker "$name-w2"
    local w2=$LAST_PID
    local job
    job=$(submit "$T/in/job.json")
    "$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/$name.watch" 2>&1 \
        || { cat "$T/$name.watch"; fail "$name: job did not complete"; }
    n=$(verify_manifests "$T/$name") || fail "$name: manifest check: $n"
    [ "$(track_outputs "$T/$name" cd)" = 5 ] || fail "$name: expected 5 cd masters"
    log "$name: $n files verified"
    audio_digest "$T/$name" >"$T/$name.digest"
    stop_group "$w1"
    stop_group "$w2"
    stop_group "$BROKER_PID"
    mv "$T/broker.log" "$T/$name-broker.log"
}

BROKER_ARGS=(--storage inline)
run_farm inline
BROKER_ARGS=()
run_farm shared
diff -u "$T/shared.digest" "$T/inline.digest" >&2 \
    || fail "inline storage gave other bytes than shared storage"
log "inline and shared storage give byte-identical audio"
farm_pass
