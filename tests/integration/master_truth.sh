#!/usr/bin/env bash
# What the mastering delivers against an independent meter (ffmpeg's
# ebur128 filter, true peak at 192 kHz): an album of generated mixes, one
# with short near-Nyquist bursts, one with clicks near the top of the band
# and one clean, mastered for spotify (-14 LUFS, -1 dBTP).
#   - each track mastered alone (masterfarm master) lands within 0.1 LU of
#     the target: a few short bursts neither cap the gain nor lower the
#     whole track's ceiling;
#   - every track's true peak is at most the ceiling (+0.1 dB for the
#     meter's resampler) and within 0.5 dB under it;
#   - report.json's per-track true peak agrees with ffmpeg within 0.3 dB;
#   - report.json's album output_lufs is present and agrees with ffmpeg's
#     reading of the delivered album file within 0.2 LU.
. "${MF_SRC:?MF_SRC not set}/tests/lib/farm_lib.sh"

command -v ffmpeg > /dev/null || { echo "ffmpeg not installed"; exit 77; }
MIX="$MF_BIN/tests/tool_master_mix"
[ -x "$MIX" ] || fail "tool_master_mix not built"

# ebur FILE: "I TP" as ffmpeg's ebur128 filter reads them (its metadata:
# full precision; the summary rounds to 0.1)
ebur () {
    ffmpeg -hide_banner -nostats -i "$1" \
        -af ebur128=peak=true:metadata=1,ametadata=mode=print:file=- -f null - 2> /dev/null \
        | awk -F= '/lavfi.r128.I=/ { i = $2 }
                   /lavfi.r128.true_peaks_ch/ { if ($2 > p) p = $2 }
                   END { printf "%s %.3f\n", i, 20 * log(p) / log(10) }'
}

mkdir -p "$T/in"
"$MIX" "$T/in/1 Bursts.wav" 15 44100 2 24 3 0.020 21000 0.5
"$MIX" "$T/in/2 Clicks.wav" 15 44100 2 24 10 0.020 19000 0.9
"$MIX" "$T/in/3 Clean.wav" 15 44100 2 24
for f in "$T"/in/*.wav; do
    "$MASTERFARM" master "$f" -o "$T/alone.flac" --profile spotify > "$T/alone.out" 2>&1 \
        || { cat "$T/alone.out"; fail "master $f did not exit 0"; }
    read -r I TP < <(ebur "$T/alone.flac")
    log "$(basename "$f") alone: ffmpeg I $I TP $TP"
    python3 -c 'import sys; I, tp = float(sys.argv[1]), float(sys.argv[2])
assert abs(I + 14.0) <= 0.1, "loudness %.3f, target -14" % I
assert -1.5 <= tp <= -0.9, "true peak %.3f, ceiling -1" % tp' "$I" "$TP" \
        || fail "$(basename "$f") mastered alone"
done
"$MASTERFARM" album "$T/in" -o "$T/out" --profile spotify --policy track -j 2 --quiet \
    > "$T/album.out" 2>&1 || { cat "$T/album.out"; fail "album did not exit 0"; }
report=$(ls "$T"/out/*/report.json)
dest=$(dirname "$report")/spotify
[ -d "$dest" ] || { ls -R "$T/out"; fail "no spotify folder"; }

i=0
for f in "$dest"/0[123]*.flac; do
    read -r I TP < <(ebur "$f")
    python3 - "$report" "$i" "$I" "$TP" "$(basename "$f")" <<'PY' || fail "track $f"
import json, sys
rep, i, I, tp, name = json.load(open(sys.argv[1])), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
prof = rep["profiles"][0]
t = prof["tracks"][i]
print("%-18s ffmpeg I %.3f TP %.3f; report I %.3f TP %.3f sustained gr %.2f capped %s"
      % (name, I, tp, t["output_lufs"], t["output_true_peak_dbtp"],
         t["limiter_gr_sustained_db"], t["limiter_gr_capped"]))
# the delivered files hold the album's gaps: their loudness is the album
# test's; the true peak is the track's
assert -1.5 <= tp <= -0.9, "true peak %.2f, ceiling -1" % tp
assert abs(t["output_true_peak_dbtp"] - tp) <= 0.3, "reported true peak off"
assert not t["limiter_gr_capped"]
PY
    i=$((i + 1))
done
[ "$i" = 3 ] || fail "expected 3 delivered tracks, found $i"

album="$dest/album.flac"
[ -f "$album" ] || fail "no album file"
read -r AI ATP < <(ebur "$album")
python3 - "$report" "$AI" <<'PY' || fail "album loudness"
import json, sys
rep, I = json.load(open(sys.argv[1])), float(sys.argv[2])
al = rep["profiles"][0]["album"]
print("album: ffmpeg I %.3f; report output_lufs %s" % (I, al["output_lufs"]))
assert al["output_lufs"] is not None, "album output_lufs is null"
assert abs(al["output_lufs"] - I) <= 0.2
PY
farm_pass
