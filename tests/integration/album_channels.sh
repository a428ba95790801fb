#!/bin/bash
# Albums whose tracks have different channel counts.
#   1. A stereo album with a mono track (a mono single among stereo mixes,
#      as back catalogs have them), for spotify and cd: delivered whole.
#      The mono track's files are two-channel with both channels the same
#      samples, and read their planned loudness within 0.1 LU by FFmpeg's
#      ebur128 (mono loudness is dual-mono throughout, so the copy reads
#      what the master read); the album files are two-channel.
#   2. A mono album: spotify keeps it mono; cd, two-channel by the Red
#      Book, delivers it as dual mono; so does `masterfarm master --profile
#      cd` of a mono file.
#   3. Refused at submit, before any work, each with the track's JSON path
#      and what to do: a 6-channel track among stereo ones; a 6-channel
#      track for cd.
. "$MF_SRC/tests/lib/farm_lib.sh"
command -v ffmpeg >/dev/null || fail "ffmpeg is needed as the independent meter"
command -v sox >/dev/null || fail "sox is needed to write the 6-channel file"
MIX="$MF_BIN/tests/tool_master_mix"

mkdir -p "$T/in"
"$MIX" "$T/in/s1.wav" 12 44100 2 24 > /dev/null
"$MIX" "$T/in/m2.wav" 10 44100 1 24 > /dev/null
"$MIX" "$T/in/s3.wav" 11 48000 2 24 > /dev/null
"$MIX" "$T/in/m4.wav" 9 44100 1 16 > /dev/null
sox -n -r 48000 -b 24 -c 6 "$T/in/six.wav" synth 8 pinknoise vol 0.3 2> /dev/null \
    || fail "sox could not write the 6-channel file"

# job NAME PROFILES TRACKS...: a job spec with one album of those files.
job () {
    local name=$1 profiles=$2
    shift 2
    python3 - "$T/in/$name.json" "$profiles" "$@" <<'EOF'
import json, sys
out, profiles, paths = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
json.dump({"name": "Channels", "defaults": {"profiles": profiles,
           "loudness": {"policy": "album", "target_lufs": -14.0}},
           "albums": [{"title": out.rsplit("/", 1)[1][:-5], "artist": "Label",
                       "tracks": [{"path": p, "title": p[:-4]} for p in paths]}]},
          open(out, "w"))
EOF
}

# check OUTDIR: every delivered file's channels, its loudness against its
# plan (FFmpeg, full precision) and, where the source was mono and the
# file has two channels, that both channels hold the same samples.
check () {
    python3 - "$1" "$2" <<'EOF'
import glob, json, os, subprocess, sys, wave
root, want = sys.argv[1], json.loads(sys.argv[2])
report = glob.glob(os.path.join(root, "*", "report.json"))
assert len(report) == 1, report
r = json.load(open(report[0]))
dirn = os.path.dirname(report[0])
def meter(f, ch):
    # a mono file reads as dual mono (the product's convention, and how it
    # plays on two loudspeakers): FFmpeg meters its two-channel copy
    dual = "pan=stereo|c0=c0|c1=c0," if ch == 1 else ""
    o = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", f, "-af",
                        dual + "ebur128=metadata=1,ametadata=mode=print:file=-", "-f", "null",
                        "-"], capture_output=True, text=True).stdout
    return float([l for l in o.splitlines() if "lavfi.r128.I=" in l][-1].split("=")[1])
def channels(f):
    o = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=channels",
                        "-of", "csv=p=0", f], capture_output=True, text=True).stdout
    return int(o.strip())
for p in r["profiles"]:
    prof = p["profile"]
    files = sorted(glob.glob(os.path.join(dirn, prof, "[0-9]*")))
    album = [a for a in glob.glob(os.path.join(dirn, prof, "album.*")) if not a.endswith(".cue")]
    assert len(files) == len(p["tracks"]), (prof, files)
    if album:
        assert channels(album[0]) == want[prof][0], (album, channels(album[0]))
    for t, f in zip(p["tracks"], files):
        ch = channels(f)
        I = meter(f, ch)
        print("%s %s: %d channels, ffmpeg %.3f LUFS, plan %.3f" % (prof, os.path.basename(f),
                                                                  ch, I, t["planned_lufs"]))
        assert ch == want[prof][t["index"] - 1], (f, ch)
        assert abs(I - t["planned_lufs"]) <= 0.1, (f, I, t["planned_lufs"])
        if ch == 2 and t["index"] - 1 in want["mono"]:
            pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", f, "-f", "s32le", "-"],
                                 capture_output=True).stdout
            left = [pcm[k:k + 4] for k in range(0, len(pcm), 8)]
            right = [pcm[k + 4:k + 8] for k in range(0, len(pcm), 8)]
            assert left == right, "%s: the channels differ" % f
            print("  both channels the same %d samples" % len(left))
EOF
}

# 1. A stereo album with mono tracks.
job mixed spotify,cd s1.wav m2.wav s3.wav m4.wav
"$MASTERFARM" run "$T/in/mixed.json" -o "$T/o1" > "$T/run1.out" 2>&1 \
    || { cat "$T/run1.out"; fail "the mixed album did not master"; }
check "$T/o1" '{"spotify": [2, 2, 2, 2], "cd": [2, 2, 2, 2], "mono": [1, 3]}' \
    || fail "the mixed album's files"
log "stereo album with two mono tracks: delivered, the mono tracks copied to both channels"

# 2. A mono album.
job mono spotify,cd m2.wav m4.wav
"$MASTERFARM" run "$T/in/mono.json" -o "$T/o2" > "$T/run2.out" 2>&1 \
    || { cat "$T/run2.out"; fail "the mono album did not master"; }
check "$T/o2" '{"spotify": [1, 1], "cd": [2, 2], "mono": [0, 1]}' \
    || fail "the mono album's files"
log "mono album: spotify mono, cd dual mono"

# The same for one track: `masterfarm master --profile cd` of a mono file.
"$MASTERFARM" master "$T/in/m2.wav" -o "$T/m2_cd.wav" --profile cd > "$T/m2_cd.out" 2>&1 \
    || { cat "$T/m2_cd.out"; fail "master --profile cd of a mono file failed"; }
python3 - "$T/m2_cd.wav" <<'EOF' || fail "master --profile cd of a mono file"
import subprocess, sys
ch = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=channels", "-of",
                     "csv=p=0", sys.argv[1]], capture_output=True, text=True).stdout.strip()
assert ch == "2", "master --profile cd of a mono file: %s channels" % ch
pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", sys.argv[1], "-f", "s16le", "-"],
                     capture_output=True).stdout
left = b"".join(pcm[k:k + 2] for k in range(0, len(pcm), 4))
right = b"".join(pcm[k + 2:k + 4] for k in range(0, len(pcm), 4))
assert left == right, "its channels differ"
print("master --profile cd of a mono file: dual mono, %d frames" % (len(pcm) // 4))
EOF

# 3. Refused at submit.
job six spotify,cd s1.wav six.wav
set +e
"$MASTERFARM" run "$T/in/six.json" -o "$T/o3" > "$T/run3.out" 2>&1
rc=$?
set -e
cat "$T/run3.out"
[ "$rc" != 0 ] || fail "a 6-channel track among stereo ones was accepted"
grep -q "nothing was run" "$T/run3.out" || fail "the job ran before it was refused"
grep -q '\$.albums\[0\].tracks\[1\].path: .six.wav. has 6 channels where track 1 has 2' \
    "$T/run3.out" || fail "no error names the 6-channel track among stereo ones"
grep -q '\$.albums\[0\].tracks\[1\].path: .six.wav. has 6 channels; cd is two-channel' \
    "$T/run3.out" || fail "no error says cd is two-channel"
[ ! -e "$T/o3/channels" ] || fail "something was delivered"
log "6 channels among stereo, and for cd: refused at submit"
farm_pass
