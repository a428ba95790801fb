#!/bin/bash
# Each per-track file reads its planned loudness, as a label's meter reads
# it (DESIGN.md: every output within 0.1 LU of its plan, by an independent
# meter). A per-track file holds more than its master: track 1's file the
# 2 s pregap, every file but the last the next track's gap, and the
# fades the assembly makes. On short, dynamic tracks those move a
# whole-file reading by a third of a LU (this intro, 10 s between two 2 s
# gaps, read -14.36 for a plan of -14.00 when the plan was the master's
# alone), so the plan is the file's and the master lands the file on it.
#   1. Track policy at -14 LUFS, spotify and cd: a 10 s orchestral intro
#      (pregap and gap), a dense song with a 3 s fade-out, a 10 s
#      interlude after a 3 s gap with a linear 0.5 s fade-in, a last song.
#   2. Album policy at -18 LUFS, spotify: the same tracks with 1.5 s gaps
#      and a 2.25 s pregap, the song crossfading for 2 s into the
#      interlude; one album gain for every track.
#   3. Album policy at -16 LUFS with trim, spotify: the intro and
#      interlude with 1 s and 0.7 s of digital silence before them and
#      0.5 s and 1 s after, which the assembly trims before it fades them
#      (1 s in; 0.5 s in and 1 s out).
# Every per-track file, read by libebur128 (loudgain) and by FFmpeg's
# ebur128, is within 0.1 LU of the report's planned loudness, and the
# report's file_lufs (the assembly's reading) is within 0.02 LU of the
# master's output_lufs (0.05 for a file that opens with a crossfade: it
# also holds the track before's tail, which its master reads at the
# levels the plan gives it). No master is capped by the limiter's bound
# here.
. "$MF_SRC/tests/lib/farm_lib.sh"
command -v ffmpeg >/dev/null || fail "ffmpeg is needed as an independent meter"
command -v loudgain >/dev/null || fail "loudgain is needed as an independent meter"

mkdir -p "$T/in"
"$MF_BIN/tests/tool_orch_mix" "$T/in/intro.wav" 10 44100 2 24 5
"$MF_BIN/tests/tool_master_mix" "$T/in/song.wav" 20
"$MF_BIN/tests/tool_orch_mix" "$T/in/inter.wav" 10 44100 2 24 7
"$MF_BIN/tests/tool_master_mix" "$T/in/song2.wav" 25 48000
# silence around a WAV: pad IN OUT BEFORE_S AFTER_S
pad () {
    python3 - "$@" <<'PY'
import sys, wave
r = wave.open(sys.argv[1], "rb")
p = r.getparams()
data = r.readframes(p.nframes)
r.close()
frame = p.nchannels * p.sampwidth
w = wave.open(sys.argv[2], "wb")
w.setparams(p)
w.writeframes(bytes(int(float(sys.argv[3]) * p.framerate) * frame) + data
              + bytes(int(float(sys.argv[4]) * p.framerate) * frame))
w.close()
PY
}
pad "$T/in/intro.wav" "$T/in/intro_pad.wav" 1.0 0.5
pad "$T/in/inter.wav" "$T/in/inter_pad.wav" 0.7 1.0
cat >"$T/in/job.json" <<'EOF'
{ "name": "File loudness",
  "defaults": { "profiles": ["spotify", "cd"],
    "loudness": {"policy": "track", "target_lufs": -14.0, "true_peak_dbtp": -1.0} },
  "albums": [
    {"title": "Interludes", "artist": "Label",
     "tracks": [ {"path": "intro.wav", "title": "Intro"},
                 {"path": "song.wav", "title": "Song", "fade_out_s": 3.0},
                 {"path": "inter.wav", "title": "Interlude", "gap_s": 3.0,
                  "fade_in_s": 0.5, "fade_curve": "linear"},
                 {"path": "song2.wav", "title": "Song 2"} ] },
    {"title": "One gain", "artist": "Label", "profiles": ["spotify"], "gap_s": 1.5,
     "loudness": {"policy": "album", "target_lufs": -18.0},
     "tracks": [ {"path": "intro.wav", "title": "Intro", "gap_s": 2.25},
                 {"path": "song.wav", "title": "Song", "fade_out_s": 3.0, "crossfade_s": 2.0},
                 {"path": "inter.wav", "title": "Interlude", "fade_in_s": 1.0},
                 {"path": "song2.wav", "title": "Song 2"} ] },
    {"title": "Trimmed", "artist": "Label", "profiles": ["spotify"], "trim": true,
     "loudness": {"policy": "album", "target_lufs": -16.0},
     "tracks": [ {"path": "intro_pad.wav", "title": "Intro", "fade_in_s": 1.0},
                 {"path": "song.wav", "title": "Song"},
                 {"path": "inter_pad.wav", "title": "Interlude", "fade_in_s": 0.5,
                  "fade_out_s": 1.0},
                 {"path": "song2.wav", "title": "Song 2"} ] } ] }
EOF

"$MASTERFARM" run "$T/in/job.json" -o "$T/out" >"$T/run.log" 2>&1 \
    || fail "masterfarm run did not exit 0"

# readings FILE: "libebur128 ffmpeg" integrated loudness of FILE
readings () {
    local lg ff
    lg=$(loudgain -s e "$1" 2>/dev/null | sed -n 's/^ *Loudness: *\([-0-9.]*\) LUFS.*/\1/p')
    ff=$(ffmpeg -nostats -hide_banner -i "$1" \
           -af "ebur128=metadata=1,ametadata=mode=print:key=lavfi.r128.I:file=/dev/stdout" \
           -f null - 2>/dev/null | tail -n 1 | sed 's/.*=//')
    echo "$lg $ff"
}

checked=0
for report in "$T"/out/*/report.json; do
    dir=$(dirname "$report")
    for f in "$dir"/*/[0-9][0-9]\ -\ *.*; do
        [ -f "$f" ] || continue
        echo "$(basename "$(dirname "$f")")|$(basename "$f")|$(readings "$f")"
    done >"$dir/readings.txt"
    python3 - "$report" "$dir/readings.txt" <<'EOF' || fail "a per-track file is off its plan (see above)"
import json, sys
r = json.load(open(sys.argv[1]))
read = {}
for line in open(sys.argv[2]):
    prof, name, vals = line.rstrip("\n").split("|")
    lg, ff = vals.split()
    read[(prof, int(name[:2]))] = (float(lg), float(ff))
bad = []
for p in r["profiles"]:
    prof = p["profile"]
    gains = set()
    for i, t in enumerate(p["tracks"], 1):
        lg, ff = read[(prof, i)]
        plan = t["planned_lufs"]
        print("%s %s track %d: planned %.3f, master %.3f, file (assembly) %.3f, "
              "libebur128 %.2f, ffmpeg %.3f" % (r["album"]["title"] if "album" in r else "",
              prof, i, plan, t["output_lufs"], t["file_lufs"], lg, ff))
        assert not t.get("limiter_gr_capped"), "track %d capped: pick easier levels" % i
        if abs(lg - plan) > 0.1 or abs(ff - plan) > 0.1:
            bad.append("%s track %d: planned %.3f, libebur128 %.2f, ffmpeg %.3f" % (prof, i, plan, lg, ff))
        xfaded = i > 1 and (p["plan"]["tracks"][i - 2].get("cut_trail_frames") or 0) > 0
        if abs(t["file_lufs"] - t["output_lufs"]) > (0.05 if xfaded else 0.02):
            bad.append("%s track %d: the assembly reads %.3f, the master %.3f" % (
                prof, i, t["file_lufs"], t["output_lufs"]))
    for pt in p["plan"]["tracks"]:
        gains.add(round(pt["gain_db"], 9))
    if p["plan"]["policy"] == "album":
        assert len(gains) == 1, "album policy: the tracks' gains differ: %s" % gains
for b in bad:
    print("OFF: " + b)
sys.exit(1 if bad else 0)
EOF
    checked=$((checked + 1))
done
[ "$checked" = 3 ] || fail "expected 3 albums' reports, found $checked"
farm_pass
