#!/bin/bash
# No torn or foreign file is ever published. The cd assembly of an album
# dies on every attempt (MASTERFARM_FAULT=crash: on its first input) and
# its staging folder holds what a worker killed mid-assembly leaves: a
# torn "NN - title.wav.tmp-PID-N" and an album.wav without tracks or CUE;
# the album folder also holds a stray file and a hidden temporary one.
#  - by default the album is held: nothing in the output root, and status
#    names the album, the cd profile and the reason;
#  - with "partial": "deliver" it is published without the cd folder,
#    without any planted file, without album file or CUE (a partial
#    delivery has none), marked complete: false with the cd profile listed
#    as missing, and its manifest lists exactly the files present.
# Both storage modes (shared and inline), each with its own broker.
. "$MF_SRC/tests/lib/farm_lib.sh"

gen_album "$T/in" --tracks 3 --seconds 5 --seed 41 --profiles spotify,cd
python3 - "$T/in/job.json" <<'PY'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
j["albums"][0]["partial"] = "deliver"
json.dump(j, open(p.replace("job.json", "job-partial.json"), "w"), indent=1)
PY
album_title=$(json_get 'd["albums"][0]["title"]' <"$T/in/job.json")

for mode in shared inline; do
    BROKER_ARGS=(--storage "$mode")
    start_broker "$T/$mode.db" "$T/in" "$T/$mode"
    # The cd assembly's first input is the intermediate "t0-cd.wav".
    start_worker "$mode-w1" MASTERFARM_FAULT=crash:/t0-cd.wav
    start_worker "$mode-w2" MASTERFARM_FAULT=crash:/t0-cd.wav

    # plant JOB: what killed attempts leave in job JOB's staging folder.
    plant () {
        local album="$T/$mode/.masterfarm/job-$1/generated-artist-generated-album-1"
        mkdir -p "$album/cd" "$album/spotify"
        head -c 2500000 /dev/urandom >"$album/cd/01 - Intro.wav.tmp-4242-1"
        head -c 100000 /dev/urandom >"$album/cd/album.wav"
        echo stray >"$album/notes.txt"
        head -c 1000 /dev/urandom >"$album/.report.json.tmp-4242-2"
    }

    # Default: held.
    plant 1
    job=$(submit "$T/in/job.json")
    [ "$job" = 1 ] || fail "expected job 1, got $job"
    watch_expect "$job" 1 "$T/$mode-watch.out"
    [ -z "$(ls "$T/$mode")" ] || fail "an album with a failed assembly was published: $(ls "$T/$mode")"
    "$MASTERFARM" status "$job" --broker "$BROKER_URL" >"$T/$mode-status.out"
    grep -qF "failed: album \"$album_title\", profile cd: " "$T/$mode-status.out" \
        || { cat "$T/$mode-status.out"; fail "status does not name the album, the cd profile and the reason"; }
    log "$mode: default: held"

    # Partial: published without the failed profile and without leftovers.
    plant 2
    job2=$(submit "$T/in/job-partial.json")
    watch_expect "$job2" 1 "$T/$mode-watch2.out"
    album="$T/$mode/generated-artist-generated-album-1"
    [ -d "$album" ] || fail "the partial album was not published"
    (cd "$album" && find . -type f | LC_ALL=C sort) >"$T/$mode-files"
    cat "$T/$mode-files"
    if grep -E '\.tmp|/cd/|notes\.txt|/\.|/album\.' "$T/$mode-files"; then
        fail "torn, foreign or album files were published"
    fi
    [ "$(grep -c '/spotify/[0-9][0-9] - ' "$T/$mode-files")" = 3 ] || fail "the spotify masters are missing"
    n=$(verify_manifests "$T/$mode") || fail "manifest check: $n"
    python3 - "$album" <<'PY' || fail "the manifest does not mark the album incomplete"
import json, os, sys
m = json.load(open(os.path.join(sys.argv[1], "manifest.json")))
assert m["complete"] is False, m.get("complete")
assert [x["profile"] for x in m["missing"]] == ["cd"], m["missing"]
r = json.load(open(os.path.join(sys.argv[1], "report.json")))
assert [p["profile"] for p in r["profiles"]] == ["spotify"], [p["profile"] for p in r["profiles"]]
PY
    log "$mode: partial: published without the failed profile, $n files verified"
    stop_group "$BROKER_PID"
done
farm_pass
