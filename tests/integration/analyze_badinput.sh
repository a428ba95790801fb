#!/usr/bin/env bash
# masterfarm analyze on bad input: every bad file gets exactly one line on
# stderr, "masterfarm analyze: FILE: what is wrong", the good files in the
# same call are still measured and printed, the exit status is 1 when a
# file failed, 2 on bad usage, 0 when all were measured. The files are
# generated here: a good sine, an empty file, a truncated WAV header, a
# text file named .wav, a float WAV with a NaN sample, a one-sample file
# (measured: peaks yes, integrated loudness n/a), an 8-channel file
# (measured as 7.1), a 9-channel file (unsupported), a missing file and a
# directory; and the hostile WAV of the fuzz corpus whose LIST chunk made
# libsndfile spin for ever (refused at once, naming the chunk and byte).
set -u
BIN="${MF_BIN:?MF_BIN not set}/masterfarm"
TMP="${MF_TEST_TMP:-/tmp}/analyze_badinput.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
. "${MF_SRC:?MF_SRC not set}/tests/lib/check_lib.sh"

python3 - "$TMP" <<'PY'
import math, struct, sys
d = sys.argv[1]

def wav(path, channels, rate, frames, fmt=1, bits=16):
    """frames: list of tuples (one value per channel), floats in [-1, 1]"""
    data = bytearray()
    for fr in frames:
        for v in fr:
            if fmt == 3:
                data += struct.pack('<f', v)
            else:
                data += struct.pack('<h', max(-32768, min(32767, int(round(v * 32767)))))
    block = channels * bits // 8
    hdr = b'RIFF' + struct.pack('<I', 36 + len(data)) + b'WAVE'
    hdr += b'fmt ' + struct.pack('<IHHIIHH', 16, fmt, channels, rate, rate * block, block, bits)
    hdr += b'data' + struct.pack('<I', len(data))
    open(path, 'wb').write(hdr + data)

sine = [(0.5 * math.sin(2 * math.pi * 1000 * i / 44100),) * 2 for i in range(44100)]
wav(d + '/good.wav', 2, 44100, sine)
wav(d + '/good2.wav', 2, 44100, [(v[0] * 0.5, v[1] * 0.5) for v in sine])
open(d + '/empty.wav', 'wb').close()
open(d + '/trunc.wav', 'wb').write(open(d + '/good.wav', 'rb').read()[:22])
open(d + '/text.wav', 'w').write('This is a text file, not audio.\n' * 20)
nan = [(0.1, 0.1)] * 1000
nan[500] = (float('nan'), 0.1)
wav(d + '/nan.wav', 2, 44100, nan, fmt=3, bits=32)
wav(d + '/one.wav', 1, 44100, [(0.5,)])
wav(d + '/eight.wav', 8, 48000, [(0.1 * math.sin(2 * math.pi * 440 * i / 48000),) * 8 for i in range(48000)])
wav(d + '/nine.wav', 9, 48000, [(0.1,) * 9] * 4800)
PY

cd "$TMP"
mkdir -p dir.wav
files="good.wav empty.wav trunc.wav text.wav nan.wav one.wav eight.wav nine.wav missing.wav dir.wav good2.wav"
bad="empty.wav trunc.wav text.wav nan.wav nine.wav missing.wav dir.wav"
good="good.wav one.wav eight.wav good2.wav"

# --- table output -----------------------------------------------------------
"$BIN" analyze $files >out.txt 2>err.txt
rc=$?
echo "--- stderr"; cat err.txt
check "exit status 1 when some files fail (got $rc)" test "$rc" -eq 1
check "one stderr line per bad file (got $(wc -l <err.txt), want 7)" test "$(wc -l <err.txt)" -eq 7
for f in $bad; do
    check "$f: one line 'masterfarm analyze: $f: ...'" \
        test "$(grep -c "^masterfarm analyze: $f: ." err.txt)" -eq 1
done
check "empty.wav says empty" grep -q "^masterfarm analyze: empty.wav: .*empty" err.txt
check "nan.wav names the NaN" grep -q "^masterfarm analyze: nan.wav: .*NaN" err.txt
check "nine.wav names the channel count" grep -q "^masterfarm analyze: nine.wav: 9 channels" err.txt
check "dir.wav says it is a directory" grep -q "^masterfarm analyze: dir.wav: is a directory" err.txt
for f in $good; do
    check "$f measured and printed" grep -q "^$f\$" out.txt
done
check "one.wav: integrated loudness n/a, not a number" grep -q "n/a (shorter than 0.4 s)" out.txt

# --- JSON output ------------------------------------------------------------
"$BIN" analyze --json $files >out.json 2>err2.txt
rc=$?
check "--json: exit status 1 (got $rc)" test "$rc" -eq 1
check "--json: same stderr lines" test "$(wc -l <err2.txt)" -eq 7
python3 - out.json <<'PY'
import json, sys
arr = json.load(open(sys.argv[1]))
assert isinstance(arr, list) and len(arr) == 11, arr
by = {o['file']: o for o in arr}
for f in ['empty.wav', 'trunc.wav', 'text.wav', 'nan.wav', 'nine.wav', 'missing.wav', 'dir.wav']:
    assert 'error' in by[f] and by[f]['error'], f
for f in ['good.wav', 'good2.wav', 'eight.wav']:
    o = by[f]
    assert o['integrated_lufs'] is not None, f
    assert len(o['band_db']) == 30 and len(o['block_lufs']) > 0, f
g, g2 = by['good.wav'], by['good2.wav']
# good2 is good at -6.02 dB: loudness and peaks follow (0.05 dB: 16-bit rounding)
assert abs((g['integrated_lufs'] - g2['integrated_lufs']) - 6.02) < 0.05, (g, g2)
assert abs(g['sample_peak_dbfs'] - -6.02) < 0.05, g
assert by['eight.wav']['channels'] == 8
one = by['one.wav']
assert one['integrated_lufs'] is None and one['frames'] == 1
assert abs(one['sample_peak_dbfs'] - -6.02) < 0.05 and one['true_peak_dbtp'] >= one['sample_peak_dbfs']
print('json ok')
PY
check "--json: array with an error object per bad file and values for the good" test $? -eq 0

# --- usage ------------------------------------------------------------------
"$BIN" analyze >/dev/null 2>&1; rc=$?
check "no FILE: exit 2 (got $rc)" test "$rc" -eq 2
"$BIN" analyze --bogus good.wav >/dev/null 2>&1; rc=$?
check "unknown option: exit 2 (got $rc)" test "$rc" -eq 2
"$BIN" analyze --help >help.txt 2>&1; rc=$?
check "--help: exit 0 (got $rc)" test "$rc" -eq 0
check "--help: says how to use it" grep -q "usage: masterfarm analyze" help.txt
"$BIN" analyze good.wav good2.wav >/dev/null 2>err3.txt; rc=$?
check "all good: exit 0 (got $rc), stderr empty" test "$rc" -eq 0 -a ! -s err3.txt

# --- a hostile WAV header ----------------------------------------------------
# a LIST chunk holding a sub-chunk far longer than itself: libsndfile 1.2
# walks it for ever; it must be refused at once, naming the chunk and byte
hang="$MF_SRC/tests/fuzz/corpus/fuzz_audio/regress_wav_info_chunk_hang.wav"
timeout 20 "$BIN" analyze "$hang" >/dev/null 2>err4.txt; rc=$?
echo "--- stderr"; cat err4.txt
check "hostile LIST chunk: exit 1 within 20 s (got $rc)" test "$rc" -eq 1
check "hostile LIST chunk: the message names the chunk and the byte" \
    grep -q "wav_info_chunk_hang.wav: malformed WAV: LIST chunk at byte 36 has a sub-chunk of 4294967295 bytes past its end" err4.txt

echo "$fails failure(s)"
test "$fails" -eq 0
