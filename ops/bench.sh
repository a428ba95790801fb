#!/usr/bin/env bash
# ops/bench.sh: masterfarm's speed and memory side by side with peers
# measured in the same run, as ratios (the machine may be shared, so no
# figure here is a pass/fail timing). Prints one table per part and the
# goals next to what was measured, and writes every figure to a JSON file.
#
#   analyze   masterfarm analyze vs ffmpeg's ebur128 (true peak on) and
#             loudgain, on a music-like mix: CPU seconds and ratios
#   master    masterfarm master --profile spotify vs an ffmpeg chain
#             (two-pass loudnorm, linear, then alimiter) and a sox chain
#             (compand, gain to the target, limiter), on a mix that needs
#             limiting: x realtime per core and ratios; and both writing
#             24-bit WAV instead of FLAC, to show what the encoding takes;
#             then masterfarm's FLAC encoder against libFLAC's on the mix
#   farm      masterfarm run (24-bit WAV in, spotify FLAC out with its
#             album file, 2 workers) vs a script running ffmpeg's two-pass
#             loudnorm per track on the same catalog: x realtime per core
#   music     masterfarm run and the loudnorm script on music-like albums
#             (orchestral and dense mixes, album policy), whose album
#             correction masters tracks again: its cost, and how many
#             albums needed it
#   scaling   masterfarm run with 1 and with 2 workers: wall-clock ratio
#   tasks     CPU per task on a catalog of 4 s tracks, and its overhead:
#             what that catalog costs beyond the same audio time in 8
#             long tracks, per extra task; broker dispatch rate and memory
#             per queued task (tests/bench_dispatch)
#   memory    peak RSS of master on a short and a long mix, and on a
#             96 kHz mix delivered at 48 kHz, against one float copy of
#             the track + 64 MB, of analyze (short and long: it should
#             not grow), and of the farm's processes
#   long      (--long only; root, a memory cgroup and about 20 GB of free
#             disk) a 3-hour 96 kHz stereo FLAC mastered for spotify in a
#             4 GiB memory cgroup, its samples spilled to a file
#             (MASTERFARM_SPILL_MB), and again without spilling
#
# CPU is user + system time of the whole command and its children
# (/usr/bin/time); each masterfarm and peer figure is the best of REPEAT
# runs taken in turn, so that a change of load hits both.
#
# usage: bash ops/bench.sh [--quick] [--long] [--build DIR] [--json FILE] [--repeat N]
#   --quick     shorter material (about 2 minutes in all)
#   --long      add the 3-hour 96 kHz master in 4 GiB (about 6 minutes more)
#   --build     the build folder (default: build, made by ops/build.sh)
#   --json      where the figures go (default: bench-results.json)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/build"
JSON="bench-results.json"
QUICK=0
LONG=0
REPEAT=2
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --long) LONG=1 ;;
        --build) BIN=$(cd "$2" && pwd); shift ;;
        --json) JSON=$2; shift ;;
        --repeat) REPEAT=$2; shift ;;
        -h|--help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
MF="$BIN/masterfarm"
for t in "$MF" "$BIN/tests/tool_master_mix" "$BIN/tests/tool_orch_mix" "$BIN/tests/tool_gen_album" \
         /usr/bin/time; do
    [ -x "$t" ] || { echo "bench.sh: $t is missing (run sh ops/build.sh first)" >&2; exit 1; }
done
for t in ffmpeg sox python3; do
    command -v $t > /dev/null || { echo "bench.sh: $t is needed (ops/install-deps.sh)" >&2; exit 1; }
done
if [ $QUICK = 1 ]; then
    MIX_S=60 LONG_S=600 HI_S=120 ALBUMS=2 TRACKS=4 TRACK_S=20 TINY=60
    M_ALBUMS=2 M_TRACKS=2 M_TRACK_S=20
else
    MIX_S=240 LONG_S=1800 HI_S=600 ALBUMS=3 TRACKS=6 TRACK_S=60 TINY=200
    M_ALBUMS=2 M_TRACKS=4 M_TRACK_S=60
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mf-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FIG="$TMP/figures.txt"           # key value, one per line, for the JSON
: > "$FIG"
put () { echo "$1 $2" >> "$FIG"; }
ratio () { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# run_cpu OUT CMD...: runs CMD (output dropped); OUT gets "cpu_s wall_s rss_kb"
run_cpu () {
    local out=$1
    shift
    /usr/bin/time -f "%U %S %e %M" -o "$TMP/time.txt" "$@" > "$TMP/cmd.out" 2> "$TMP/cmd.err" \
        || { echo "bench.sh: failed: $*" >&2; tail -n 5 "$TMP/cmd.err" >&2; return 1; }
    awk '{ printf "%.3f %.3f %d\n", $1 + $2, $3, $4 }' "$TMP/time.txt" > "$out"
}

# best OUT N CMD...: the run with the least CPU of N
best () {
    best_fresh "$1" "$2" "" "${@:3}"
}

# best_fresh OUT N DIR CMD...: best, with DIR removed before each run and
# outside its timing (an output folder the run must find empty)
best_fresh () {
    local out=$1 n=$2 dir=$3 i
    shift 3
    : > "$out"
    for i in $(seq "$n"); do
        [ -z "$dir" ] || rm -rf "$dir"
        run_cpu "$TMP/one.txt" "$@" || return 1
        if [ ! -s "$out" ] || awk 'NR == FNR { a = $1; next } { exit !(a < $1) }' \
                "$TMP/one.txt" "$out"; then
            cp "$TMP/one.txt" "$out"
        fi
    done
}
field () { awk -v k="$2" '{ print $k }' "$1"; }

echo "masterfarm benchmark: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ------------------------------------------------------------------ material
"$BIN/tests/tool_master_mix" "$TMP/mix.wav" "$MIX_S" 44100 2 24 > /dev/null
"$BIN/tests/tool_master_mix" "$TMP/long.wav" "$LONG_S" 44100 2 24 > /dev/null
"$BIN/tests/tool_master_mix" "$TMP/hi.wav" "$HI_S" 96000 2 24 > /dev/null
"$BIN/tests/tool_gen_album" "$TMP/cat" --albums "$ALBUMS" --tracks "$TRACKS" \
    --seconds "$TRACK_S" --profiles spotify --seed 7 > /dev/null
"$BIN/tests/tool_gen_album" "$TMP/tiny" --albums $((TINY / 10)) --tracks 10 --seconds 4 \
    --profiles spotify --seed 9 > /dev/null
#   the same audio time in 8 long tracks: what the tiny catalog costs
#   beyond it is the per-task overhead
"$BIN/tests/tool_gen_album" "$TMP/tinylong" --albums 2 --tracks 4 --seconds $((TINY / 2)) \
    --profiles spotify --seed 9 > /dev/null
CAT_S=$((ALBUMS * TRACKS * TRACK_S))

# ------------------------------------------------------------------ analyze
best "$TMP/a_mf" $REPEAT "$MF" analyze "$TMP/mix.wav"
best "$TMP/a_ff" $REPEAT ffmpeg -hide_banner -nostats -i "$TMP/mix.wav" \
    -af ebur128=peak=true -f null -
a_mf=$(field "$TMP/a_mf" 1) a_ff=$(field "$TMP/a_ff" 1)
if command -v loudgain > /dev/null; then
    cp "$TMP/mix.wav" "$TMP/lg.wav"
    best "$TMP/a_lg" $REPEAT loudgain -s e -k "$TMP/lg.wav"
    a_lg=$(field "$TMP/a_lg" 1)
else
    a_lg=""
fi
printf "analyze (%d s mix)      CPU s   vs masterfarm\n" "$MIX_S"
printf "  masterfarm analyze  %7.3f\n" "$a_mf"
printf "  ffmpeg ebur128 TP   %7.3f   %sx\n" "$a_ff" "$(ratio "$a_ff" "$a_mf")"
if [ -n "$a_lg" ]; then
    printf "  loudgain            %7.3f   %sx\n" "$a_lg" "$(ratio "$a_lg" "$a_mf")"
else
    echo "  loudgain            n/a (not installed)"
fi
put analyze_cpu_s "$a_mf"; put analyze_ffmpeg_cpu_s "$a_ff"; put analyze_loudgain_cpu_s "${a_lg:-null}"
put analyze_vs_ffmpeg "$(ratio "$a_ff" "$a_mf")"
[ -n "$a_lg" ] && put analyze_vs_loudgain "$(ratio "$a_lg" "$a_mf")"
echo

# ------------------------------------------------------------------ master
best "$TMP/m_mf" $REPEAT "$MF" master "$TMP/mix.wav" -o "$TMP/m.flac" --profile spotify
ff_chain () {
    local j
    j=$(ffmpeg -hide_banner -nostats -i "$1" -af loudnorm=I=-14:TP=-1:LRA=20:print_format=json \
        -f null - 2>&1 | sed -n '/^{/,/^}/p')
    local mi mtp mlra mth off
    mi=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["input_i"], d["input_tp"], d["input_lra"], d["input_thresh"], d["target_offset"])' "$j")
    set -- "$1" "$2" $mi
    local codec=(-c:a flac -sample_fmt s32)
    [[ $2 == *.wav ]] && codec=(-c:a pcm_s24le)
    ffmpeg -hide_banner -nostats -y -i "$1" -af "loudnorm=I=-14:TP=-1:LRA=20:measured_I=$3:measured_TP=$4:measured_LRA=$5:measured_thresh=$6:offset=$7:linear=true,alimiter=limit=0.89:level=false" \
        "${codec[@]}" "$2"
}
export -f ff_chain
best "$TMP/m_ff" $REPEAT bash -c 'ff_chain "$0" "$1"' "$TMP/mix.wav" "$TMP/m_ff.flac"
best "$TMP/m_sx" $REPEAT sox "$TMP/mix.wav" -b 24 "$TMP/m_sx.flac" \
    compand 0.03,0.25 6:-30,-30,-18,-24,0,-12 -6 gain -n -1
m_mf=$(field "$TMP/m_mf" 1) m_ff=$(field "$TMP/m_ff" 1) m_sx=$(field "$TMP/m_sx" 1)
xrt () { awk -v s="$1" -v c="$2" 'BEGIN { printf "%.0f", (c > 0 ? s / c : 0) }'; }
printf "master (%d s mix)       CPU s   x realtime/core   vs masterfarm\n" "$MIX_S"
printf "  masterfarm master   %7.3f   %8s\n" "$m_mf" "$(xrt "$MIX_S" "$m_mf")"
printf "  ffmpeg chain        %7.3f   %8s          %sx\n" "$m_ff" "$(xrt "$MIX_S" "$m_ff")" "$(ratio "$m_ff" "$m_mf")"
printf "  sox chain           %7.3f   %8s          %sx\n" "$m_sx" "$(xrt "$MIX_S" "$m_sx")" "$(ratio "$m_sx" "$m_mf")"
put master_cpu_s "$m_mf"; put master_x_realtime_per_core "$(xrt "$MIX_S" "$m_mf")"
put master_ffmpeg_cpu_s "$m_ff"; put master_sox_cpu_s "$m_sx"
put master_vs_ffmpeg "$(ratio "$m_ff" "$m_mf")"; put master_vs_sox "$(ratio "$m_sx" "$m_mf")"
#  the same two writing 24-bit WAV: the chains without their FLAC encoders
best "$TMP/mw_mf" $REPEAT "$MF" master "$TMP/mix.wav" -o "$TMP/mw.wav" --profile spotify
best "$TMP/mw_ff" $REPEAT bash -c 'ff_chain "$0" "$1"' "$TMP/mix.wav" "$TMP/mw_ff.wav"
mw_mf=$(field "$TMP/mw_mf" 1) mw_ff=$(field "$TMP/mw_ff" 1)
printf "  WAV out, no FLAC encoding:\n"
printf "  masterfarm master   %7.3f   %8s\n" "$mw_mf" "$(xrt "$MIX_S" "$mw_mf")"
printf "  ffmpeg chain        %7.3f   %8s          %sx\n" "$mw_ff" "$(xrt "$MIX_S" "$mw_ff")" "$(ratio "$mw_ff" "$mw_mf")"
put master_wav_cpu_s "$mw_mf"; put master_wav_ffmpeg_cpu_s "$mw_ff"
put master_wav_vs_ffmpeg "$(ratio "$mw_ff" "$mw_mf")"
#  the FLAC encoders themselves on the mix: masterfarm's and libFLAC's at
#  preset 1, CPU and the frames' size (tests/bench/bench_flac.c)
if [ -x "$BIN/tests/bench_flac" ]; then
    fl=$("$BIN/tests/bench_flac" "$TMP/mix.wav")
    printf "  FLAC encoding alone (preset 1): %s\n" "$fl"
    put flac_enc_cpu_s "$(echo "$fl" | awk '{ print $2 }')"
    put flac_libflac_cpu_s "$(echo "$fl" | awk '{ print $5 }')"
    put flac_enc_size_vs_libflac_pct "$(echo "$fl" | awk '{ sub (/%$/, "", $NF); print $NF }')"
fi
echo

# ------------------------------------------------------------------ farm
loudnorm_script () {   # loudnorm_script JOB_DIR OUT: ffmpeg two-pass loudnorm per track
    local dir=$1 out=$2 f j m
    mkdir -p "$out"
    find "$dir" -name '*.wav' -print0 | while IFS= read -r -d '' f; do
        j=$(ffmpeg -hide_banner -nostats -i "$f" -af loudnorm=I=-14:TP=-1:print_format=json \
            -f null - 2>&1 < /dev/null | sed -n '/^{/,/^}/p')
        m=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("measured_I=%s:measured_TP=%s:measured_LRA=%s:measured_thresh=%s:offset=%s" % (d["input_i"], d["input_tp"], d["input_lra"], d["input_thresh"], d["target_offset"]))' "$j")
        ffmpeg -hide_banner -nostats -y -i "$f" -af "loudnorm=I=-14:TP=-1:$m" \
            -ar 44100 -c:a flac -sample_fmt s32 "$out/$(basename -- "$f" .wav).flac" < /dev/null
    done
}
export -f loudnorm_script
export MF TMP
best_fresh "$TMP/f2" $REPEAT "$TMP/out2" "$MF" run "$TMP/cat/job.json" -o "$TMP/out2" -j 2 --quiet
best_fresh "$TMP/fs" $REPEAT "$TMP/ln" bash -c 'loudnorm_script "$TMP/cat" "$TMP/ln"'
best_fresh "$TMP/f1" 1 "$TMP/out1" "$MF" run "$TMP/cat/job.json" -o "$TMP/out1" -j 1 --quiet
f2=$(field "$TMP/f2" 1) fs=$(field "$TMP/fs" 1)
w2=$(field "$TMP/f2" 2) w1=$(field "$TMP/f1" 2)
printf "farm (%d albums x %d tracks x %d s, spotify, 2 workers)   CPU s   x realtime/core   vs masterfarm\n" \
    "$ALBUMS" "$TRACKS" "$TRACK_S"
printf "  masterfarm run      %7.2f   %8s\n" "$f2" "$(xrt "$CAT_S" "$f2")"
printf "  loudnorm script     %7.2f   %8s          %sx\n" "$fs" "$(xrt "$CAT_S" "$fs")" "$(ratio "$fs" "$f2")"
printf "  scaling: 1 worker %.2f s wall, 2 workers %.2f s wall: %sx\n" "$w1" "$w2" "$(ratio "$w1" "$w2")"
put farm_cpu_s "$f2"; put farm_x_realtime_per_core "$(xrt "$CAT_S" "$f2")"
put farm_loudnorm_script_cpu_s "$fs"; put farm_vs_loudnorm_script "$(ratio "$fs" "$f2")"
put farm_wall_1_worker_s "$w1"; put farm_wall_2_workers_s "$w2"; put farm_scaling "$(ratio "$w1" "$w2")"
put farm_peak_rss_kb "$(field "$TMP/f2" 3)"
echo

# ------------------------------------------------------------------ music
# The catalog above is mastered as planned. Music-like albums (orchestral
# mixes with wide dynamics beside dense ones) are not: the limiter moves
# their blocks, the album reads off its plan, and the album correction
# lowers its tracks after the limiter (24-bit, reading loud) or masters
# them again. This is the farm's cost on such a catalog.
for a in $(seq "$M_ALBUMS"); do
    mkdir -p "$TMP/music/a$a"
    for t in $(seq "$M_TRACKS"); do
        s=$((M_TRACK_S - 5 + 10 * (t % 2)))
        if [ $((t % 2)) = 1 ]; then
            "$BIN/tests/tool_orch_mix" "$TMP/music/a$a/t$t.wav" "$s" 44100 2 24 $((a * 10 + t)) > /dev/null
        else
            "$BIN/tests/tool_master_mix" "$TMP/music/a$a/t$t.wav" "$s" 44100 2 24 > /dev/null
        fi
    done
done
python3 - "$TMP/music" "$M_ALBUMS" "$M_TRACKS" <<'PYEOF'
import json, sys
root, na, nt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
job = {"name": "music-like", "defaults": {"profiles": ["spotify"],
       "loudness": {"policy": "album", "target_lufs": -14.0, "true_peak_dbtp": -1.0}},
       "albums": [{"title": "Music %d" % a, "artist": "Bench",
                   "tracks": [{"path": "a%d/t%d.wav" % (a, t), "title": "Track %d" % t}
                              for t in range(1, nt + 1)]} for a in range(1, na + 1)]}
json.dump(job, open(root + "/job.json", "w"), indent=1)
PYEOF
M_S=$(python3 -c 'import sys, wave
print(round(sum(wave.open(f).getnframes() / 44100 for f in sys.argv[1:])))' "$TMP"/music/a*/t*.wav 2>/dev/null \
      || echo $((M_ALBUMS * M_TRACKS * M_TRACK_S)))
best_fresh "$TMP/fm" $REPEAT "$TMP/mout" "$MF" run "$TMP/music/job.json" -o "$TMP/mout" -j 2 --quiet
best_fresh "$TMP/fms" $REPEAT "$TMP/mln" bash -c 'loudnorm_script "$TMP/music" "$TMP/mln"'
fm=$(field "$TMP/fm" 1) fms=$(field "$TMP/fms" 1)
corr=$(grep -c "(correction 1 of" "$TMP/mout/.masterfarm/broker.log" 2>/dev/null)
corr_m=$(grep -c "mastered again (correction" "$TMP/mout/.masterfarm/broker.log" 2>/dev/null)
printf "music-like (%d albums x %d orchestral and dense mixes, %d s, spotify, album policy)   CPU s   x realtime/core   vs masterfarm\n" \
    "$M_ALBUMS" "$M_TRACKS" "$M_S"
printf "  masterfarm run      %7.2f   %8s\n" "$fm" "$(xrt "$M_S" "$fm")"
printf "  loudnorm script     %7.2f   %8s          %sx\n" "$fms" "$(xrt "$M_S" "$fms")" "$(ratio "$fms" "$fm")"
printf "  album corrections: %s of %d albums corrected to land on their plan, %s round(s) of masters made again\n" \
    "${corr:-0}" "$M_ALBUMS" "${corr_m:-0}"
put music_cpu_s "$fm"; put music_x_realtime_per_core "$(xrt "$M_S" "$fm")"
put music_loudnorm_script_cpu_s "$fms"; put music_vs_loudnorm_script "$(ratio "$fms" "$fm")"
put music_album_corrections "${corr:-0}"; put music_master_rounds_again "${corr_m:-0}"
echo

# ------------------------------------------------------------------ tasks
best_fresh "$TMP/t" $REPEAT "$TMP/tout" "$MF" run "$TMP/tiny/job.json" -o "$TMP/tout" -j 2 --quiet
best_fresh "$TMP/tl" $REPEAT "$TMP/tlout" "$MF" run "$TMP/tinylong/job.json" -o "$TMP/tlout" -j 2 --quiet
tasks=$(sqlite3 "$TMP/tout/.masterfarm/state.db" "SELECT count(*) FROM tasks" 2>/dev/null \
        || echo $((TINY * 2 + TINY / 10)))
tasks_l=$(sqlite3 "$TMP/tlout/.masterfarm/state.db" "SELECT count(*) FROM tasks" 2>/dev/null \
          || echo 18)
t_cpu=$(field "$TMP/t" 1) tl_cpu=$(field "$TMP/tl" 1)
per_task=$(awk -v c="$t_cpu" -v n="$tasks" 'BEGIN { printf "%.1f", c * 1000 / n }')
overhead=$(awk -v c="$t_cpu" -v l="$tl_cpu" -v n="$tasks" -v m="$tasks_l" \
           'BEGIN { printf "%.1f", (c - l) * 1000 / (n - m) }')
printf "tasks: %d tracks of 4 s, %d tasks, %.2f s CPU: %s ms per task (audio work included)\n" \
    "$TINY" "$tasks" "$t_cpu" "$per_task"
printf "  the same %d s of audio in 8 tracks, %d tasks, %.2f s CPU: overhead %s ms per task\n" \
    $((TINY * 4)) "$tasks_l" "$tl_cpu" "$overhead"
put task_cpu_ms "$per_task"
put task_overhead_ms "$overhead"
if [ -x "$BIN/tests/bench_dispatch" ]; then
    n=$([ $QUICK = 1 ] && echo 50000 || echo 200000)
    "$BIN/tests/bench_dispatch" --tasks "$n" --queued $((n * 5)) > "$TMP/disp.txt" 2>&1
    sed 's/^/  /' "$TMP/disp.txt" | grep -E "tasks/s|per queued"
    put dispatch_tasks_per_s "$(grep -oE '[0-9]+ tasks/s' "$TMP/disp.txt" | grep -oE '^[0-9]+' | head -1)"
    put queued_task_bytes "$(grep -oE '[0-9]+ bytes per queued task' "$TMP/disp.txt" | grep -oE '^[0-9]+' | head -1)"
fi
echo

# ------------------------------------------------------------------ memory
run_cpu "$TMP/ms" "$MF" master "$TMP/mix.wav" -o "$TMP/ms.flac" --profile spotify
run_cpu "$TMP/ml" "$MF" master "$TMP/long.wav" -o "$TMP/ml.flac" --profile spotify
run_cpu "$TMP/mh" "$MF" master "$TMP/hi.wav" -o "$TMP/mh.flac" --profile spotify
run_cpu "$TMP/as" "$MF" analyze "$TMP/mix.wav"
run_cpu "$TMP/al" "$MF" analyze "$TMP/long.wav"
copy_mb () { awk -v s="$1" 'BEGIN { printf "%.0f", s * 44100 * 2 * 4 / 1048576 }'; }
mb () { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
printf "memory                 peak MB   bound MB (one float copy + 64)\n"
for x in "ms $MIX_S" "ml $LONG_S"; do
    set -- $x
    pk=$(mb "$(field "$TMP/$1" 3)") bound=$(( $(copy_mb "$2") + 64 ))
    printf "  master %5d s        %7s   %7s\n" "$2" "$pk" "$bound"
    put "master_${2}s_peak_mb" "$pk"; put "master_${2}s_bound_mb" "$bound"
done
pk=$(mb "$(field "$TMP/mh" 3)")
bound=$(( $(copy_mb "$HI_S") * 96000 / 44100 + 64 ))
printf "  master %5d s 96 kHz -> 48 kHz  %s   %s\n" "$HI_S" "$pk" "$bound"
put "master_96k_${HI_S}s_peak_mb" "$pk"; put "master_96k_${HI_S}s_bound_mb" "$bound"
printf "  analyze %4d s        %7s\n" "$MIX_S" "$(mb "$(field "$TMP/as" 3)")"
printf "  analyze %4d s        %7s\n" "$LONG_S" "$(mb "$(field "$TMP/al" 3)")"
printf "  farm run (largest process)  %s\n" "$(mb "$(field "$TMP/f2" 3)")"
put analyze_short_peak_mb "$(mb "$(field "$TMP/as" 3)")"
put analyze_long_peak_mb "$(mb "$(field "$TMP/al" 3)")"
echo

# ------------------------------------------------------------------ long
# in_cgroup NAME BYTES OUT CMD...: runs CMD in a new memory cgroup limited
# to BYTES (v1, or v2 with the memory controller); OUT gets "rc wall_s
# peak_mb". Returns 2 when no memory cgroup can be made.
in_cgroup () {
    local name=$1 lim=$2 out=$3 cg v=1 t0 rc
    shift 3
    if [ -w /sys/fs/cgroup/memory ]; then
        cg=/sys/fs/cgroup/memory/$name
        mkdir "$cg" && echo "$lim" > "$cg/memory.limit_in_bytes" || return 2
    elif grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
        v=2 cg=/sys/fs/cgroup/$name
        mkdir "$cg" && echo "$lim" > "$cg/memory.max" && echo 0 > "$cg/memory.swap.max" \
            || return 2
    else
        return 2
    fi
    t0=$(date +%s.%N)
    # in a subshell, so that a kill at the limit is not announced here
    ( bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" "$@" \
        > "$TMP/cmd.out" 2> "$TMP/cmd.err"; exit $? ) 2> /dev/null
    rc=$?
    local peak
    if [ $v = 1 ]; then peak=$(cat "$cg/memory.max_usage_in_bytes"); else peak=$(cat "$cg/memory.peak" 2>/dev/null || echo 0); fi
    awk -v r="$rc" -v t0="$t0" -v t1="$(date +%s.%N)" -v p="$peak" \
        'BEGIN { printf "%d %.1f %.0f\n", r, t1 - t0, p / 1048576 }' > "$out"
    rmdir "$cg" 2>/dev/null
    return 0
}
if [ $LONG = 1 ]; then
    "$BIN/tests/tool_master_mix" "$TMP/h600.wav" 600 96000 2 24 > /dev/null
    sox "$TMP/h600.wav" -C 0 "$TMP/h3h.flac" repeat 17 && rm -f "$TMP/h600.wav"
    lim=$((4096 * 1048576))
    echo "long: a 3-hour 96 kHz stereo FLAC (8.3 GB as float) to spotify (48 kHz), in a 4 GiB cgroup"
    if in_cgroup "mf-bench-$$" "$lim" "$TMP/lg" "$MF" master "$TMP/h3h.flac" \
            -o "$TMP/h3h-out.flac" --profile spotify; then
        rm -f "$TMP/h3h-out.flac"
        in_cgroup "mf-bench0-$$" "$lim" "$TMP/lg0" env MASTERFARM_SPILL_MB=0 \
            "$MF" master "$TMP/h3h.flac" -o "$TMP/h3h-out.flac" --profile spotify
        for x in "lg spilled" "lg0 unspilled"; do
            set -- $x
            r=$(field "$TMP/$1" 1)
            printf "  %-10s exit %3s  %7s s wall  cgroup peak %5s MB  %s\n" "$2" "$r" \
                "$(field "$TMP/$1" 2)" "$(field "$TMP/$1" 3)" \
                "$([ "$r" = 0 ] && echo mastered || echo "not mastered (killed at the limit)")"
        done
        put long_3h_96k_rc "$(field "$TMP/lg" 1)"
        put long_3h_96k_wall_s "$(field "$TMP/lg" 2)"
        put long_3h_96k_cgroup_peak_mb "$(field "$TMP/lg" 3)"
        put long_3h_96k_unspilled_rc "$(field "$TMP/lg0" 1)"
    else
        echo "  n/a: no memory cgroup can be made here (needs root and cgroup v1, or v2 with memory)"
    fi
    rm -f "$TMP/h3h.flac" "$TMP/h3h-out.flac"
    echo
fi

# ------------------------------------------------------------------ goals
get () { awk -v k="$1" '$1 == k { print $2 }' "$FIG"; }
goal () {   # goal NAME MEASURED OP TARGET
    local met
    met=$(awk -v m="$2" -v t="$4" -v op="$3" 'BEGIN { if (m == "" || m == "null") { print "n/a"; exit }
        ok = (op == ">=") ? (m >= t) : (m <= t); print ok ? "met" : "not met" }')
    printf "  %-44s %10s   goal %s %-8s %s\n" "$1" "$2" "$3" "$4" "$met"
    put "goal_$(echo "$1" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '_' | tr -s '_')" "\"$met\""
}
echo "goals"
goal "farm x realtime per core" "$(get farm_x_realtime_per_core)" ">=" 150
goal "farm CPU vs loudnorm script (x less)" "$(get farm_vs_loudnorm_script)" ">=" 3
goal "master x realtime per core" "$(get master_x_realtime_per_core)" ">=" 300
goal "master CPU vs ffmpeg chain (x less)" "$(get master_vs_ffmpeg)" ">=" 30
goal "analyze CPU vs ffmpeg ebur128 (x less)" "$(get analyze_vs_ffmpeg)" ">=" 4
goal "master ${LONG_S} s peak MB" "$(get "master_${LONG_S}s_peak_mb")" "<=" "$(get "master_${LONG_S}s_bound_mb")"
goal "master ${HI_S} s 96 kHz peak MB" "$(get "master_96k_${HI_S}s_peak_mb")" "<=" "$(get "master_96k_${HI_S}s_bound_mb")"
goal "analyze peak MB, long / short" "$(ratio "$(get analyze_long_peak_mb)" "$(get analyze_short_peak_mb)")" "<=" 1.2
goal "CPU overhead per task on 4 s tracks (ms)" "$(get task_overhead_ms)" "<=" 10
goal "scaling 1 -> 2 workers" "$(get farm_scaling)" ">=" 1.8
if [ $LONG = 1 ]; then
    r=$(get long_3h_96k_rc)
    goal "master 3 h 96 kHz in 4 GiB (exit status)" "${r:-null}" "<=" 0
fi

python3 - "$FIG" "$JSON" "$QUICK" <<'PYEOF'
import json, sys
figs = {}
for line in open(sys.argv[1]):
    k, v = line.rstrip("\n").split(" ", 1)
    try:
        figs[k] = json.loads(v)
    except ValueError:
        figs[k] = v
figs["quick"] = sys.argv[3] == "1"
json.dump(figs, open(sys.argv[2], "w"), indent=1, sort_keys=True)
PYEOF
echo
echo "figures written to $JSON"
