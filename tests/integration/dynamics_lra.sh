#!/usr/bin/env bash
# Dynamics: the default chain keeps a wide loudness range, the presets do
# what their documentation says (common/spec.h, README), and the reports
# name the chain that ran. Loudness range (EBU Tech 3342) is measured by
# ffmpeg's ebur128 filter, independently of the farm's meters, on a
# generated orchestral-like mix (tests/lib/orch_mix.h; LRA about 16 LU).
#   - default chain (gentle), every streaming profile and broadcast:
#     the range changes by at most 1 LU
#   - none: unchanged within 0.2 LU; gentle: within 0.5 LU; standard:
#     0.3 to 1.5 LU less; punchy: at least 1.5 LU less; in that order
#   - masterfarm master prints the preset and the compressor as it ran
#     (threshold = input loudness + the preset's LU); --dynamics with an
#     unknown name is bad usage; compressor keys in --spec win
#   - the farm (masterfarm run): "dynamics" in the job spec, report.json's
#     chain with the preset, the resolved threshold and the gain reduction
set -u
BIN="${MF_BIN:?MF_BIN not set}"
MF="$BIN/masterfarm"
GEN="$BIN/tests/tool_orch_mix"
TMP="${MF_TEST_TMP:-/tmp}/dynamics_lra.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
. "${MF_SRC:?MF_SRC not set}/tests/lib/check_lib.sh"
command -v ffmpeg > /dev/null || { echo "ffmpeg is needed"; exit 77; }
lra () { ebur_summary "$1" | awk '{print $1, $2}'; }      # lra FILE -> "I LRA"
within () { awk -v a="$1" -v b="$2" -v lo="$3" -v hi="$4" 'BEGIN { d = b - a; exit !(d >= lo && d <= hi) }'; }

"$GEN" "$TMP/orch.wav" 30 44100 2 24 || { echo "FAIL generator"; exit 1; }
read -r I0 R0 < <(lra "$TMP/orch.wav")
echo "     source: I $I0 LUFS, LRA $R0 LU"
check "the source has a range above 10 LU ($R0)" awk -v r="$R0" 'BEGIN { exit !(r > 10) }'

# --- the default chain on every streaming profile ------------------------------
for p in spotify apple youtube amazon tidal broadcast; do
    "$MF" master "$TMP/orch.wav" -o "$TMP/def_$p" --profile $p > "$TMP/def_$p.txt" 2>&1
    f=$(ls "$TMP/def_$p".* | grep -v txt)
    read -r I R < <(lra "$f")
    echo "     $p default: I $I LUFS, LRA $R LU (source $R0)"
    check "$p default chain: LRA $R0 -> $R, within 1 LU" within "$R0" "$R" -1.0 1.0
    check "$p: the report names the gentle preset" \
        grep -q "^dynamics  gentle: glue compressor threshold" "$TMP/def_$p.txt"
done

# --- each preset, on apple -------------------------------------------------------
declare -A got
for d in none gentle standard punchy; do
    "$MF" master "$TMP/orch.wav" -o "$TMP/$d.wav" --profile apple --dynamics $d > "$TMP/$d.txt" 2>&1
    check "--dynamics $d: exit 0" test $? -eq 0 || cat "$TMP/$d.txt"
    read -r I R < <(lra "$TMP/$d.wav")
    got[$d]=$R
    echo "     $d: LRA $R LU (source $R0); $(grep '^dynamics' "$TMP/$d.txt")"
done
check "none: LRA unchanged within 0.2 LU (${got[none]})" within "$R0" "${got[none]}" -0.2 0.2
check "none: the report says the compressor is off" grep -q "^dynamics  none: glue compressor off" "$TMP/none.txt"
check "gentle: LRA within 0.5 LU (${got[gentle]})" within "$R0" "${got[gentle]}" -0.5 0.5
check "standard: LRA 0.3 to 1.5 LU less (${got[standard]})" within "$R0" "${got[standard]}" -1.5 -0.3
check "punchy: LRA at least 1.5 LU less (${got[punchy]})" within "$R0" "${got[punchy]}" -20 -1.5
check "none >= gentle >= standard > punchy" awk -v n="${got[none]}" -v g="${got[gentle]}" \
    -v s="${got[standard]}" -v p="${got[punchy]}" 'BEGIN { exit !(n >= g && g >= s && s > p) }'
# the report: threshold = input loudness + the preset's LU, and the settings
in_l=$(awk '/^loudness/ {print $2}' "$TMP/standard.txt")
thr=$(sed -n 's/^dynamics  standard: glue compressor threshold \([-0-9.]*\) dBFS.*/\1/p' "$TMP/standard.txt")
check "standard: threshold $thr dBFS = input $in_l LUFS + 6 LU" \
    awk -v t="$thr" -v i="$in_l" 'BEGIN { d = t - i - 6; exit !(d > -0.06 && d < 0.06) }'
check "standard: the report gives ratio, knee, attack, release" \
    grep -q "(input loudness +6.0 LU), ratio 2:1, knee 6 dB, attack 20 ms, release 200 ms; gain reduction max" \
    "$TMP/standard.txt"

# --- usage and precedence --------------------------------------------------------
"$MF" master "$TMP/orch.wav" -o "$TMP/x.wav" --dynamics loud 2> "$TMP/e.txt"; rc=$?
check "--dynamics loud: exit 2" test $rc -eq 2
check "--dynamics loud: names the choices" grep -q "none, gentle, standard, punchy" "$TMP/e.txt"
check "--dynamics loud: nothing written" test ! -e "$TMP/x.wav"
printf '{"compressor": {"ratio": 4, "threshold_db": -30}}\n' > "$TMP/c.json"
"$MF" master "$TMP/orch.wav" -o "$TMP/x.wav" --dynamics gentle --spec "$TMP/c.json" > "$TMP/x.txt" 2>&1
check "spec keys win over --dynamics: ratio 4, threshold -30 dBFS" \
    grep -q "^dynamics  gentle: glue compressor threshold -30.0 dBFS, ratio 4:1, knee 6 dB, attack 30 ms" "$TMP/x.txt"
printf '{"dynamics": "punchy"}\n' > "$TMP/p.json"
"$MF" master "$TMP/orch.wav" -o "$TMP/x.wav" --spec "$TMP/p.json" > "$TMP/x.txt" 2>&1
check "--spec {\"dynamics\": \"punchy\"}" grep -q "^dynamics  punchy: glue compressor" "$TMP/x.txt"

# --- the farm: the job spec's "dynamics" and report.json -------------------------
mkdir -p "$TMP/job"
cp "$TMP/orch.wav" "$TMP/job/orch.wav"
cp "$TMP/orch.wav" "$TMP/job/orch2.wav"
cat > "$TMP/job/job.json" <<'EOF'
{"name": "dynamics", "defaults": {"profiles": ["apple"], "loudness": {"policy": "track"}},
 "albums": [{"title": "Orchestra", "artist": "Generated", "dynamics": "punchy",
   "tracks": [{"path": "orch.wav", "title": "Punchy"},
              {"path": "orch2.wav", "title": "Gentle", "dynamics": "gentle"}]}]}
EOF
"$MF" run "$TMP/job/job.json" -o "$TMP/out" -j 1 > "$TMP/run.txt" 2>&1
check "run: exit 0" test $? -eq 0 || cat "$TMP/run.txt"
rep=$(ls "$TMP"/out/*/report.json 2> /dev/null | head -1)
check "report.json: the chain, preset and compressor as they ran" python3 - "${rep:-none}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["profiles"][0]["tracks"]
for tr, name, lu, ratio in ((t[0], "punchy", 1.0, 3.0), (t[1], "gentle", 8.0, 1.5)):
    c = tr["chain"]
    k = c["compressor"]
    print("     %s: %s" % (name, json.dumps(c, sort_keys=True)))
    assert c["dynamics"] == name, c
    assert k["enabled"] and k["ratio"] == ratio, k
    assert k["threshold_lu_above_loudness"] == lu, k
    assert abs(k["threshold_db"] - (tr["input_lufs"] + lu)) < 1e-6, (k, tr["input_lufs"])
    assert k["gr_max_db"] > 0 and k["gr_mean_db"] >= 0, k
    assert c["highpass_hz"] == 20 and c["limiter"] is True, c
PY
html="${rep%.json}.html"
check "report.html: the dynamics of each track" \
    grep -qE "<li>1: punchy, threshold -[0-9.]+ dBFS \(loudness \+1.0 LU\), 3:1, knee 4 dB" "$html"
d=$(ls -d "$TMP"/out/*/apple 2> /dev/null | head -1)
read -r I1 R1 < <(lra "$d/01 - Punchy.wav")
read -r I2 R2 < <(lra "$d/02 - Gentle.wav")
echo "     farm: punchy LRA $R1, gentle LRA $R2 (source $R0)"
check "farm: the punchy track lost at least 1.5 LU ($R1)" within "$R0" "$R1" -20 -1.5
check "farm: the gentle track within 1 LU ($R2)" within "$R0" "$R2" -1.0 1.0

echo "$fails failure(s)"
[ $fails -eq 0 ]
