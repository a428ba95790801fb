#!/bin/bash
# A source file replaced while its job runs (a label sends a corrected mix
# of track 1 after the job started):
#  - track 1 was analysed, then its file is replaced before its master
#    runs: the master fails for good, without a strike against a worker,
#    naming the file and what to do; nothing of the album is published
#    (the plan, tonal EQ and report were made from the old file, so a
#    master of the new one would deliver what they do not say);
#  - track 3's file is copied over with the same bytes (a new inode, its
#    times kept) and its mode changed, as a sync or a chmod does: its
#    status changed, its audio did not. Its master checks the content
#    against the analysis's SHA-256, says so in the worker's log, and
#    completes;
#  - `masterfarm retry` analyses the new file and masters the album from
#    it: the report's input loudness of track 1 is the new file's, and its
#    delivered file is within 0.1 LU of its plan by FFmpeg's meter.
# The masters are held back by the album plan (album policy), which waits
# for track 2's analysis: it hangs on the first workers (a test hook)
# until they are killed.
. "$MF_SRC/tests/lib/farm_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 (the command) is not installed"
command -v sox >/dev/null || fail "sox is not installed"

gen_album "$T/in" --tracks 3 --seconds 4 --seed 31 --profiles spotify
track1=$(json_get 'd["albums"][0]["tracks"][0]["path"]' <"$T/in/job.json")
track2=$(json_get 'd["albums"][0]["tracks"][1]["path"]' <"$T/in/job.json")
title1=$(json_get 'd["albums"][0]["tracks"][0]["title"]' <"$T/in/job.json")
track3=$(json_get 'd["albums"][0]["tracks"][2]["path"]' <"$T/in/job.json")

start_broker "$T/state.db" "$T/in" "$T/out"
start_worker wa MASTERFARM_FAULT=hang:"$track2"
wa=$LAST_PID
start_worker wb MASTERFARM_FAULT=hang:"$track2"
wb=$LAST_PID
job=$(submit "$T/in/job.json")
# analyses of tracks 1 and 3 done (kind 1, state 4); track 2's hangs
wait_for "tracks 1 and 3 to be analysed" 60 bash -c \
    "[ \"\$(sqlite3 -readonly '$T/state.db' 'SELECT count(*) FROM tasks WHERE kind = 1 AND state = 4 AND track IN (0, 2)' 2>/dev/null)\" = 2 ]"

# The corrected mix: 6 dB quieter, written next to it and renamed over it.
sox "$T/in/$track1" "$T/in/new.wav" vol 0.5
mv "$T/in/new.wav" "$T/in/$track1"
# Track 3: the same bytes in a new file, renamed over it; then a chmod.
cp --preserve=mode,timestamps "$T/in/$track3" "$T/in/same.wav"
mv "$T/in/same.wav" "$T/in/$track3"
chmod g+w "$T/in/$track3"
kill -9 -- -"$wa" -"$wb"
start_worker wc
watch_expect "$job" 1 "$T/watch.out"
"$MASTERFARM" status "$job" --broker "$BROKER_URL" >"$T/status.out"
cat "$T/status.out"
grep -F "failed: album" "$T/watch.out" | grep -F "track 1 \"$title1\"" \
    | grep -qF "$track1 changed after its analysis; it is not mastered from audio its plan and report did not measure: run the job again (or masterfarm retry) to analyse it again" \
    || fail "watch does not name track 1's changed file and what to do"
[ -z "$(ls "$T/out")" ] || fail "an album was published from a changed file: $(ls "$T/out")"
# the failure is no strike against a worker, and happened once
strikes=$(sqlite3 -readonly "$T/state.db" "SELECT strikes FROM tasks WHERE kind = 2 AND track = 0")
[ "$strikes" = 0 ] || fail "the changed file counted $strikes strikes"
log "a master of a file changed since its analysis fails, the album is held"
# track 3's master ran, checked its unchanged content, and is done
state3=$(sqlite3 -readonly "$T/state.db" "SELECT state FROM tasks WHERE kind = 2 AND track = 2")
[ "$state3" = 4 ] || fail "track 3's master (same bytes, new status) is in state $state3, not done"
grep -qF "$track3: its content is the one its analysis read" "$T"/*.log \
    || fail "no worker log says track 3's content was checked"
log "a file copied over with the same bytes and chmodded: its master checks the content and runs"

# retry: analysed again, mastered from the new file, published.
"$MASTERFARM" retry "$job" --broker "$BROKER_URL" >/dev/null || fail "retry refused"
watch_expect "$job" 0 "$T/watch2.out"
slug=$(cd "$T/out" && ls)
"$MASTERFARM" analyze "$T/in/$track1" --json >"$T/new.json" || fail "analyze of the new file failed"
python3 - "$T/out/$slug" "$T/new.json" <<'EOF' || fail "track 1 was not mastered from its new file"
import json, math, os, subprocess, sys
d, new = sys.argv[1], json.load(open(sys.argv[2]))
new_lufs = (new[0] if isinstance(new, list) else new)["integrated_lufs"]
r = json.load(open(os.path.join(d, "report.json")))
got = r["tracks"][0]["input"]["integrated_lufs"]
assert abs(got - new_lufs) < 0.01, ("report's input loudness", got, "new file", new_lufs)
t = r["profiles"][0]["tracks"][0]
f = [x for x in os.listdir(os.path.join(d, "spotify")) if x.startswith("01 ")][0]
o = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", os.path.join(d, "spotify", f),
                    "-af", "ebur128=metadata=1,ametadata=mode=print:file=-", "-f", "null", "-"],
                   capture_output=True, text=True).stdout
i = [float(l.split("=")[1]) for l in o.splitlines() if "lavfi.r128.I=" in l][-1]
assert abs(i - t["planned_lufs"]) < 0.1, ("delivered", i, "plan", t["planned_lufs"])
print("track 1: input %.2f LUFS (new file %.2f), delivered %.2f against a plan of %.2f"
      % (got, new_lufs, i, t["planned_lufs"]))
EOF
log "retry: track 1 analysed again and mastered from its new file"
farm_pass
