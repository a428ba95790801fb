#!/bin/bash
# An album of 5 tracks with a 20 s digital-silence interlude as track 3
# and sources at 48 kHz (tracks 1, 3, 5) and 44.1 kHz (tracks 2, 4),
# profiles spotify and cd, policy track: the silent track does not block
# the album, it is mastered with no gain (its master is silence or
# dither, never amplified noise); every master of one profile has the
# album's rate (spotify: 48 kHz, the highest its source rule keeps; cd:
# 44.1 kHz), the album files assemble, and ffmpeg's ebur128 meter reads
# the target on every other track.
. "$MF_SRC/tests/lib/farm_lib.sh"

gen_album "$T/in" --tracks 5 --seconds 6 --seed 23 --profiles spotify,cd \
    --policy track --target -14 --silent 3:20 --rates 48000,44100
start_broker "$T/state.db" "$T/in" "$T/out"
start_worker "worker-1"
start_worker "worker-2"

job=$(submit "$T/in/job.json")
log "job $job submitted"
"$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/watch.out" 2>&1 \
    || { cat "$T/watch.out"; grep -iE "error|warn" "$T"/*.log 2>/dev/null | tail -n 20; fail "watch did not exit 0"; }
[ "$(job_field "$job" 'j["state"]')" = done ] || fail "job $job is not done: $(status_json "$job")"
[ "$(job_field "$job" 'j["tasks_failed"]')" = 0 ] || fail "tasks failed: $(status_json "$job")"

n=$(verify_manifests "$T/out") || fail "manifest check: $n"
for prof in spotify cd; do
    [ "$(track_outputs "$T/out" $prof)" = 5 ] || fail "$prof: expected 5 per-track masters"
    album=$(find "$T/out" -path "*/$prof/album.*" ! -name '*.cue' -type f)
    [ -n "$album" ] || fail "$prof: no album file"
    # one rate for every master and the album file
    rates=$(find "$T/out" -path "*/$prof/*" \( -name '*.flac' -o -name '*.wav' \) -type f -print0 \
        | xargs -0 -n1 ffprobe -v error -select_streams a:0 -show_entries stream=sample_rate -of csv=p=0 \
        | sort -u | tr '\n' ' ')
    want=48000
    [ $prof = cd ] && want=44100
    [ "$rates" = "$want " ] || fail "$prof: master rates '$rates', want $want only"
    log "$prof: every master and the album file at ${rates% } Hz"
    for f in "$T/out"/*/$prof/0[1-5]\ -\ *; do
        stats=$(ffmpeg -hide_banner -nostats -i "$f" -af ebur128,volumedetect -f null - 2>&1)
        I=$(awk '/Integrated loudness:/ { f = 1 } f && /I:/ { print $2; exit }' <<<"$stats")
        peak=$(awk '/max_volume:/ { print $5 }' <<<"$stats")
        case "$(basename "$f")" in
            "03 - "*)
                # no gain: silence stays silence (16-bit noise-shaped dither,
                # cd's default, peaks at up to 6 LSB: -74.7 dBFS)
                python3 -c "import sys; sys.exit(0 if float('$peak') <= -74.5 else 1)" \
                    || fail "$prof: silent track 3 peaks at $peak dBFS"
                log "$prof: $(basename "$f"): peak $peak dBFS, $I LUFS" ;;
            *)
                python3 -c "import sys; sys.exit(0 if abs(float('$I') + 14.0) <= 0.3 else 1)" \
                    || fail "$prof: $(basename "$f") at $I LUFS, target -14"
                log "$prof: $(basename "$f"): $I LUFS" ;;
        esac
    done
done
# the report says the interlude is silent, and holds no -inf or NaN
rep=$(find "$T/out" -name report.json | head -n 1)
python3 - "$rep" <<'PY' || fail "report.json: silent track not reported or a non-number in it"
import json, sys
text = open(sys.argv[1]).read()
for bad in ("Infinity", "NaN", "-inf", "nan"):
    if bad in text:
        sys.exit("%s in report.json" % bad)
PY
farm_pass
