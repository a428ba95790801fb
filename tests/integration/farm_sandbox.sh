#!/bin/bash
# Sandbox at the moment of use: the containment check at submit is not
# enough, the worker (shared storage) and the broker (inline storage) open
# every input beneath the input root when they use it. A 3-track album is
# submitted with no worker connected; then track 2 is swapped for a
# symlink to a file outside the input root, and a worker starts. The track
# must fail with an error saying the path leaves the input root, and
# nothing from outside may be mastered or delivered. Output side (shared
# and inline storage): the job's work folder in staging is made a symlink
# to a folder outside the output root before the worker starts; no master
# may be written there. Publication: the album's delivery folder
# OUTPUT_ROOT/<slug> exists beforehand as a symlink to a folder outside
# the output root; the broker refuses it, naming it, and writes nothing
# there.
. "$MF_SRC/tests/lib/farm_lib.sh"
. "$MF_SRC/tests/lib/check_lib.sh"

gen_album "$T/src" --tracks 3 --seconds 3 --seed 23
gen_album "$T/secret" --tracks 3 --seconds 3 --seed 99
track2="album1/02 - Harbour Lights.wav"

# run_case NAME: one job on a fresh copy of the album, swapped after submit.
run_case () {
    local name=$1
    rm -rf "$T/in" && cp -r "$T/src" "$T/in"
    mkdir -p "$T/$name-outside"
    start_broker "$T/$name.db" "$T/in" "$T/$name"
    local job
    job=$(submit "$T/in/job.json")
    #  after submit: the file becomes a symlink to elsewhere
    rm "$T/in/$track2"
    ln -s "$T/secret/$track2" "$T/in/$track2"
    if [ "${SWAP_OUT:-0}" = 1 ]; then
        mkdir -p "$T/$name/.masterfarm/job-$job"
        ln -s "$T/$name-outside" "$T/$name/.masterfarm/job-$job/work"
    fi
    start_worker "$name-w1"
    local w1=$LAST_PID
    wait_for "$name: job $job to end" 90 job_final "$job"
    "$MASTERFARM" status "$job" --broker "$BROKER_URL" >"$T/$name.status" 2>&1 || true
    local state
    state=$(job_field "$job" 'j["state"]')
    log "$name: job $job ended $state"
    check "$name: the job does not end done" [ "$state" != done ]
    check "$name: the error says the path leaves the input root" \
        grep -qF "album 1 track 2: $track2: path leaves the input root" \
        "$T/broker.log" "$T/$name-w1.log" "$T/$name.status"
    check "$name: no master of track 2 delivered" \
        [ -z "$(find "$T/$name" -name '*Harbour Lights*' -print -quit)" ]
    if [ "${SWAP_OUT:-0}" = 1 ]; then
        check "$name: nothing written outside the output root" \
            [ -z "$(ls -A "$T/$name-outside")" ]
    fi
    stop_group "$w1"
    stop_group "$BROKER_PID"
    mv "$T/broker.log" "$T/$name-broker.log"
}

BROKER_ARGS=()
run_case shared
BROKER_ARGS=(--storage inline)
run_case inline
BROKER_ARGS=()
SWAP_OUT=1 run_case shared-out
BROKER_ARGS=(--storage inline)
SWAP_OUT=1 run_case inline-out

# publish_case: the destination of the album is a symlink leading out.
publish_case () {
    local name=publish slug=generated-artist-generated-album-1
    rm -rf "$T/in" && cp -r "$T/src" "$T/in"
    mkdir -p "$T/$name" "$T/$name-outside"
    ln -s "$T/$name-outside" "$T/$name/$slug"
    BROKER_ARGS=()
    start_broker "$T/$name.db" "$T/in" "$T/$name"
    local job
    job=$(submit "$T/in/job.json")
    start_worker "$name-w1"
    local w1=$LAST_PID
    wait_for "$name: job $job to end" 90 job_final "$job"
    "$MASTERFARM" status "$job" --broker "$BROKER_URL" >"$T/$name.status" 2>&1 || true
    log "$name: job $job ended $(job_field "$job" 'j["state"]')"
    check "$name: the job does not end done" job_is_not_done "$job"
    check "$name: the error names the symlink" \
        grep -qF "$T/$name/$slug: exists as a symbolic link" "$T/broker.log" "$T/$name.status"
    check "$name: the symlink is left as it was" [ -L "$T/$name/$slug" ]
    check "$name: nothing written outside the output root" [ -z "$(ls -A "$T/$name-outside")" ]
    check "$name: the album stays in staging" \
        [ -f "$T/$name/.masterfarm/job-$job/$slug/manifest.json" ]
    stop_group "$w1"
    stop_group "$BROKER_PID"
    mv "$T/broker.log" "$T/$name-broker.log"
}
job_is_not_done () { ! job_is "$1" done; }
publish_case

[ "$fails" = 0 ] || fail "$fails check(s) failed"
farm_pass
