#!/bin/bash
# The album correction: an album of orchestral and dense mixes, album
# policy at -14 LUFS, with a glue compressor, for spotify and cd. Every track lands on its
# planned loudness, but the chain's dynamics change how the tracks'
# 400 ms blocks spread, so the album as mastered reads off its plan; the
# broker reads the album from the masters' blocks before assembling.
# The album reads loud: spotify, which asks for the lossy round trips
# (codec_check, measured on the master), moves the tracks' planned
# loudness and masters them again; cd lowers them by a gain after the
# limiter as the album is assembled, mastering nothing again: its masters
# come in 24 bits and the assembly dithers the album to 16 bits once,
# after the gain (its true peak read again by FFmpeg, under the ceiling).
# A fifth track is digital silence (planned silent: it does not move).
#   1. `masterfarm run`: the report records the correction (first reading
#      more than 0.1 LU off, the last within 0.05) for both profiles,
#      spotify's by mastering again and cd's as a gain after the limiter (each
#      track's post_gain_db its shift, its true peak under the ceiling),
#      each has its album file and CUE sheet, FFmpeg's ebur128 reads each
#      album file within 0.1 LU of the target (DESIGN.md's promise), and
#      every track's master is within 0.1 LU of its corrected plan.
#   2. The same job on a broker killed (kill -9) just after it queued the
#      correction's masters, its worker stopped with it, then restarted on
#      the same state: before a worker is back, the audio and tracks done
#      are the whole album (each track was mastered once; progress does
#      not go back when a correction starts). Then, with a worker, the
#      correction is made once (the stored shifts are
#      applied when the album is planned again; cd's gain is not
#      made twice), and the audio files and CUE sheet are byte-identical
#      to those of step 1.
. "$MF_SRC/tests/lib/farm_lib.sh"
command -v ffmpeg >/dev/null || fail "ffmpeg is needed as the independent meter"

mkdir -p "$T/in"
"$MF_BIN/tests/tool_orch_mix" "$T/in/o1.wav" 20 44100 2 24 1
"$MF_BIN/tests/tool_master_mix" "$T/in/d2.wav" 15
"$MF_BIN/tests/tool_orch_mix" "$T/in/o3.wav" 25 44100 2 24 3
"$MF_BIN/tests/tool_master_mix" "$T/in/d4.wav" 12 48000
# a hidden track of digital silence: planned silent, never moved, still
# mastered again with its album
python3 - "$T/in/s5.wav" <<'EOF'
import sys, wave
w = wave.open(sys.argv[1], "wb")
w.setnchannels(2); w.setsampwidth(3); w.setframerate(44100)
w.writeframes(bytes(6 * 44100 * 5))
w.close()
EOF
cat >"$T/in/job.json" <<'EOF'
{ "name": "Album correction",
  "defaults": { "profiles": [{"name": "spotify", "codec_check": true}, "cd"],
    "loudness": {"policy": "album", "target_lufs": -14.0, "true_peak_dbtp": -1.0},
    "chain": {"compressor": {"threshold_db": -24, "ratio": 3, "attack_ms": 30,
                             "release_ms": 250, "knee_db": 6}} },
  "albums": [ {"title": "Dynamics", "artist": "Label",
     "tracks": [ {"path": "o1.wav", "title": "One"}, {"path": "d2.wav", "title": "Two"},
                 {"path": "o3.wav", "title": "Three"}, {"path": "d4.wav", "title": "Four"},
                 {"path": "s5.wav", "title": "Hidden"} ] } ] }
EOF

# ebur128 FILE: FFmpeg's integrated loudness of FILE (3 decimals).
ebur128 () {
    ffmpeg -nostats -hide_banner -i "$1" \
        -af "ebur128=metadata=1,ametadata=mode=print:key=lavfi.r128.I:file=/dev/stdout" \
        -f null - 2>/dev/null | tail -n 1 | sed 's/.*=//'
}

# 1. One run, as a label would make it.
"$MASTERFARM" run "$T/in/job.json" -o "$T/a" >"$T/run.out" 2>&1 \
    || { cat "$T/run.out"; fail "masterfarm run did not exit 0"; }
grep -h "album reads" "$T/a/.masterfarm/broker.log" | sed 's/.*\] //' || true
# The progress it printed: a master queued again is a task run again, so
# the tasks done never go back, and the total at the end counts the 17
# tasks of the job and each master a correction made again (5 tracks of
# one profile a correction).
rounds=$(grep -c "mastered again (correction" "$T/a/.masterfarm/broker.log" || true)
python3 - "$T/run.out" "$rounds" <<'EOF' || fail "progress counts wrong (see $T/run.out)"
import re, sys
counts = []
for l in open(sys.argv[1]).read().splitlines():
    m = re.match(r'job \d+ (running|done): .*?(\d+)/(\d+) tasks', l)
    if m:
        counts.append((int(m.group(2)), int(m.group(3))))
assert counts, "no progress lines"
done = [c[0] for c in counts]
assert all(b >= a for a, b in zip(done, done[1:])), "tasks done went back: %s" % done
expect = 17 + 5 * int(sys.argv[2])
assert counts[-1] == (expect, expect), "ends %d/%d tasks, expected %d/%d (%s corrections)" % (
    counts[-1] + (expect, expect, sys.argv[2]))
print("tasks done %s, ending %d/%d" % (done, expect, expect))
EOF
report=$(echo "$T"/a/*/report.json)
[ -f "$report" ] || fail "no report in $T/a"
dir=$(dirname "$report")
for f in spotify/album.flac spotify/album.cue cd/album.wav cd/album.cue; do
    [ -f "$dir/$f" ] || fail "$f is missing: $(ls "$dir"/*)"
done
I_spotify=$(ebur128 "$dir/spotify/album.flac")
I_cd=$(ebur128 "$dir/cd/album.wav")
log "album files: ffmpeg ebur128 reads $I_spotify (spotify), $I_cd (cd) LUFS; target -14"
python3 - "$report" "$I_spotify" "$I_cd" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
reading = {"spotify": float(sys.argv[2]), "cd": float(sys.argv[3])}
assert sorted(p["profile"] for p in r["profiles"]) == ["cd", "spotify"], r["profiles"]
for p in r["profiles"]:
    name, I = p["profile"], reading[p["profile"]]
    assert abs(I + 14.0) <= 0.1, "%s: ffmpeg reads the album at %.3f LUFS, target -14" % (name, I)
    c = p["plan"].get("album_correction")
    assert c, "%s: the report records no album correction" % name
    reads = c["album_read_lufs"]
    print("%s: album read %s over %d correction(s), shifts %s" % (name, reads, c["rounds"],
                                                                  c["shift_db"]))
    assert c["rounds"] >= 1 and len(reads) == c["rounds"] + 1, c
    # cd: one round, a gain after the limiter; spotify: mastered again
    assert c["post_gain"] == (name == "cd"), "%s: post_gain %s" % (name, c["post_gain"])
    if name == "cd":
        assert c["rounds"] == 1, c
    assert abs(reads[0] + 14.0) > 0.1, "%s: on its plan before the correction: %s" % (name, reads)
    assert abs(reads[-1] + 14.0) <= 0.05, "%s: the corrected album reads %s" % (name, reads)
    assert c["shift_db"][4] == 0.0, "%s: the silent track moved: %s" % (name, c["shift_db"])
    for t in p["tracks"]:
        if t["silent"]:
            continue
        assert abs(t["output_lufs"] - t["planned_lufs"]) <= 0.1, t
        assert t["output_true_peak_dbtp"] <= -1.0, t
        # the delivered file as the assembly measured it (its gaps in it)
        assert isinstance(t["file_lufs"], float) and abs(t["file_lufs"] - t["planned_lufs"]) < 0.5, t
        post = c["shift_db"][t["index"] - 1] if name == "cd" else 0.0
        assert t["post_gain_db"] == post and post <= 0.0, (post, t)
        print("  track %d: planned %.3f, output %.3f, file %.3f" % (
            t["index"], t["planned_lufs"], t["output_lufs"], t["file_lufs"]))
EOF

# cd's files as delivered: 16-bit, the gain and the dither applied by the
# assembly; each within 0.1 LU of its corrected plan by FFmpeg, and its true
# peak under the ceiling by the product's own meter (-1.0) and FFmpeg's
# (4x, which reads up to 0.1 dB high on limited material).
for f in "$dir"/cd/[0-9]*.wav; do
    n=$(basename "$f" | cut -c1-2)
    "$MASTERFARM" analyze --json "$f" > "$T/an.json" || fail "analyze $f"
    ffmpeg -hide_banner -nostats -i "$f" \
        -af ebur128=peak=true:metadata=1,ametadata=mode=print:file=- -f null - 2> /dev/null \
        | awk -F= '/lavfi.r128.I=/ { i = $2 }
                   /lavfi.r128.true_peaks_ch/ { if ($2 > p) p = $2 }
                   END { printf "%s %.3f\n", i, 20 * log(p) / log(10) }' > "$T/ff.txt"
    python3 - "$report" "$T/an.json" "$T/ff.txt" "$((10#$n))" <<'EOF2' || fail "cd file $f"
import json, sys
r, a = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))[0]
I, tp = (float(x) for x in open(sys.argv[3]).read().split())
t = [t for p in r["profiles"] if p["profile"] == "cd" for t in p["tracks"]
     if t["index"] == int(sys.argv[4])][0]
assert a["format"] == "WAV PCM 16-bit", a["format"]
if t["silent"]:
    # digital silence stays digital silence: nothing to dither
    assert a["true_peak_dbtp"] is None and a["sample_peak_dbfs"] is None, a
    print("  cd file %d: %s, digital silence" % (t["index"], a["format"]))
    sys.exit(0)
print("  cd file %d: %s, ffmpeg I %.3f TP %.3f, own true peak %.3f; plan %.3f" % (
    t["index"], a["format"], I, tp, a["true_peak_dbtp"], t["planned_lufs"]))
assert a["true_peak_dbtp"] <= -1.0, a["true_peak_dbtp"]
assert tp <= -0.9, tp
assert abs(I - t["planned_lufs"]) <= 0.1, (I, t["planned_lufs"])
EOF2
done

# 2. The broker killed just after it queued the correction's masters.
start_broker "$T/b.db" "$T/in" "$T/b"
port=${BROKER_URL##*:}
start_worker w1
w1=$LAST_PID
job=$(submit "$T/in/job.json")
log "job $job submitted"
deadline=$(( $(now_us) + 120000000 ))
until grep -q "mastered again (correction 1" "$T/broker.log"; do
    [ "$(now_us)" -lt "$deadline" ] || fail "the broker made no correction"
    sleep 0.02
done
kill -STOP -- "-$w1"
# the broker logs each profile's correction as it makes it and commits
# them with the event: killed once both are in the state file
until [ "$(sqlite3 "$T/b.db" "SELECT count(*) FROM plans WHERE job_id = $job
                              AND shift IS NOT NULL" 2>/dev/null)" = 2 ]; do
    [ "$(now_us)" -lt "$deadline" ] || fail "the corrections never reached the state file"
    sleep 0.02
done
kill -KILL "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
kill -KILL -- "-$w1"
log "broker killed after queueing the correction"
done_at_kill=$(sqlite3 "$T/b.db" "SELECT count(*) FROM tasks WHERE job_id = $job AND kind = 3 AND state = 4")
[ "$done_at_kill" = 0 ] || fail "the album was assembled before the kill; nothing was interrupted"
[ -n "$(sqlite3 "$T/b.db" "SELECT shift FROM plans WHERE job_id = $job AND shift IS NOT NULL")" ] \
    || fail "the correction is not in the state file"
start_broker "$T/b.db" "$T/in" "$T/b" "$port"
# Before a worker is back: every track was mastered once, so the audio
# and the tracks done stay whole while the correction's masters wait.
status_json "$job" | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
a = j["albums"][0]
print("restarted, no worker: audio %.1f of %.1f s, %d of 5 tracks done, %d/%d tasks" % (
    j["audio_done_s"], j["audio_total_s"], a["tracks_done"], j["tasks_done"], j["tasks_total"]))
assert j["audio_total_s"] > 0 and abs(j["audio_done_s"] - j["audio_total_s"]) < 1e-6, j
assert a["tracks_done"] == 5, a
' || fail "progress went back when the correction queued its masters"
start_worker w2
watch_expect "$job" 0 "$T/watch.out"
n=$(grep -c "mastered again (correction" "$T/broker.log")
[ "$n" = 1 ] || fail "$n corrections mastered again; one (spotify) expected"
n=$(grep -c "after the limiter as the album is assembled" "$T/broker.log")
[ "$n" = 1 ] || fail "$n corrections as a gain after the limiter; one (cd) expected"
diff <(audio_digest "$T/a" | sed 's/  .*\//  /') <(audio_digest "$T/b" | sed 's/  .*\//  /') \
    || fail "the restarted farm's audio differs from the uninterrupted run's"
log "restarted farm: one correction per profile, $(audio_digest "$T/b" | wc -l) files byte-identical"
farm_pass
