#!/usr/bin/env bash
# Benchmark (prints figures, not a test): how close to a -14 LUFS / -1 dBTP
# delivery four chains come on generated mixes of different kinds, all
# read by one independent meter (ffmpeg's ebur128 filter, true peak at
# 192 kHz, full-precision metadata).
#
# Mixes (44.1 kHz, 24-bit stereo, SECONDS long):
#   orchestral  harmonic chords with wide dynamics (quiet passages 20 dB
#               under loud ones), sox synth
#   dense       the generated pop/rock-like mix (tests/lib/master_mix.h)
#   clicky      the same with ten 20 ms bursts at 19 kHz (clicks near the
#               top of the band)
#   nyquist     the same with three 20 ms bursts at 21 kHz
# Chains:
#   masterfarm        masterfarm master --profile spotify
#   masterfarm-none   the same with --dynamics none (n/a where refused)
#   ffmpeg            two-pass loudnorm (linear, measured_*) + alimiter -1 dB
#   sox               compand, then gain to the target (measured on the
#                     companded pass) with sox's limiter (gain -l)
# Per chain: worst |I - target| (LU), highest true peak (dBTP), mean LRA
# change (output - input, LU) and mean PLR (true peak - I, dB).
#
# usage: bench_mastering.sh [BUILD_DIR] [SECONDS]
set -u
BIN="${1:-${MF_BIN:-build}}"
SECS="${2:-30}"
TARGET=-14
TMP="${MF_TEST_TMP:-/tmp}/bench_mastering.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
MIX="$BIN/tests/tool_master_mix"
[ -x "$MIX" ] || { echo "bench_mastering: $MIX not built" >&2; exit 1; }

# meter FILE: "I LRA TP" (LUFS, LU, dBTP)
meter () {
    ffmpeg -hide_banner -nostats -i "$1" \
        -af ebur128=peak=true:metadata=1,ametadata=mode=print:file=- -f null - 2> /dev/null \
        | awk -F= '/lavfi.r128.I=/ { i = $2 } /lavfi.r128.LRA=/ { l = $2 }
                   /lavfi.r128.true_peaks_ch/ { if ($2 > p) p = $2 }
                   END { printf "%s %s %.3f\n", i, l, (p > 0 ? 20 * log(p) / log(10) : -200) }'
}

# the mixes
half=$(awk -v s="$SECS" 'BEGIN { printf "%.3f", s / 4 }')
for part in 1 2 3 4; do
    vol=$([ $((part % 2)) = 1 ] && echo 0.04 || echo 0.4)
    sox -q -n -r 44100 -c 2 -b 24 "$TMP/orch$part.wav" synth "$half" \
        sine 220 sine 277.2 sine 329.6 sine 440 pinknoise tremolo 0.3 40 vol "$vol"
done
sox -q "$TMP"/orch[1234].wav "$TMP/orchestral.wav"
"$MIX" "$TMP/dense.wav" "$SECS" 44100 2 24
"$MIX" "$TMP/clicky.wav" "$SECS" 44100 2 24 10 0.020 19000 0.9
"$MIX" "$TMP/nyquist.wav" "$SECS" 44100 2 24 3 0.020 21000 0.5
MIXES="orchestral dense clicky nyquist"

# chain NAME IN OUT: 0 written, 1 failed, 2 refused (n/a)
chain () {
    local name="$1" in="$2" out="$3"
    case "$name" in
    masterfarm)
        "$BIN/masterfarm" master "$in" -o "$out" --profile spotify > "$TMP/c.out" 2>&1 ;;
    masterfarm-none)
        "$BIN/masterfarm" master "$in" -o "$out" --profile spotify --dynamics none \
            > "$TMP/c.out" 2>&1 || { [ $? = 2 ] && return 2; return 1; } ;;
    ffmpeg)
        local j
        j=$(ffmpeg -hide_banner -nostats -i "$in" \
                -af loudnorm=I=$TARGET:TP=-1:LRA=11:print_format=json -f null - 2>&1 \
            | awk '/^\{/ { s = 1 } s')
        local mi mtp mlra mth off
        read -r mi mtp mlra mth off < <(python3 -c 'import json, sys
j = json.loads(sys.stdin.read())
print(j["input_i"], j["input_tp"], j["input_lra"], j["input_thresh"], j["target_offset"])' <<< "$j")
        ffmpeg -hide_banner -nostats -y -i "$in" -af \
            "loudnorm=I=$TARGET:TP=-1:LRA=11:measured_I=$mi:measured_TP=$mtp:measured_LRA=$mlra:measured_thresh=$mth:offset=$off:linear=true,aresample=44100,alimiter=limit=0.891251:level=false" \
            -c:a pcm_s24le "$out" > "$TMP/c.out" 2>&1 ;;
    sox)
        sox -q "$in" "$TMP/comp.wav" compand 0.005,0.2 6:-60,-50,-30,-20,0,-8 -4 -90 0.05 \
            || return 1
        local ci
        read -r ci _ _ < <(meter "$TMP/comp.wav")
        sox -q "$TMP/comp.wav" -b 24 "$out" gain -l "$(awk -v t=$TARGET -v i="$ci" \
            'BEGIN { printf "%.3f", t - i }')" ;;
    esac
}

printf 'mixes: %s, %s s each; target %s LUFS, ceiling -1 dBTP (ffmpeg ebur128)\n' \
    "$MIXES" "$SECS" "$TARGET"
printf '%-16s %14s %12s %14s %10s\n' chain "worst |dI| LU" "max TP dBTP" "mean dLRA LU" "mean PLR"
for c in masterfarm masterfarm-none ffmpeg sox; do
    rows=""
    na=0
    for m in $MIXES; do
        chain "$c" "$TMP/$m.wav" "$TMP/out.wav"
        rc=$?
        if [ $rc = 2 ]; then na=1; break; fi
        [ $rc = 0 ] || { rows="$rows fail"; continue; }
        read -r ii il _ < <(meter "$TMP/$m.wav")
        read -r oi ol otp < <(meter "$TMP/out.wav")
        rows="$rows $m:$ii:$il:$oi:$ol:$otp"
    done
    if [ $na = 1 ]; then
        printf '%-16s %14s %12s %14s %10s\n' "$c" n/a n/a n/a n/a
        continue
    fi
    python3 - "$c" "$TARGET" $rows <<'PY'
import sys
name, target, rows = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
ok = [r.split(":") for r in rows if r != "fail"]
fails = len(rows) - len(ok)
di = max(abs(float(r[3]) - target) for r in ok)
tp = max(float(r[5]) for r in ok)
dl = sum(float(r[4]) - float(r[2]) for r in ok) / len(ok)
plr = sum(float(r[5]) - float(r[3]) for r in ok) / len(ok)
print("%-16s %14.2f %12.2f %14.2f %10.2f%s" % (name, di, tp, dl, plr,
      "  (%d failed)" % fails if fails else ""))
for r in ok:
    print("  %-12s I %7.2f  TP %6.2f  LRA %5.2f -> %5.2f" % (r[0], float(r[3]), float(r[5]),
          float(r[2]), float(r[4])))
PY
done
