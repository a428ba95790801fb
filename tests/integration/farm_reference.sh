#!/bin/bash
# Reference mastering through the farm (`masterfarm run`, broker and two
# workers): an album of two music-like mixes (44.1 and 96 kHz) matched to
# external reference files named in the spec's tonal block.
#
#   1. one reference (48 kHz, brighter, wider and louder than the album),
#      every intensity 1: each delivered track's spectral distance to it
#      (RMS of the mean-removed 1/3-octave shapes, 40 Hz .. 16 kHz, as
#      broker/planner.h defines it) is cut by at least 60%; its side/mid
#      energy ratio is within 1 dB of the reference's; the album file
#      lands on the reference's loudness (0.5 LU); every file is at or
#      under -1 dBTP by ffmpeg's ebur128 (an independent meter), at
#      48 kHz (spotify) and 96 kHz (tidal).
#   2. tone 0.5 against tone 1, both at width 0 (a wider side changes the
#      spectrum too: in these mixes the side is the brighter part): the
#      distance is cut about half as much (0.3 .. 0.7 of the cut at 1).
#   3. two references weighted 3:1, loudness intensity 0, width 0.5: the
#      distance to their weighted shape is cut by at least 60%, the
#      side/mid ratio goes half the way (dB) from where the tonal EQ left
#      it to their weighted ratio (report.json's width and side/mid, which
#      the delivered file confirms), the report lists both, and the album
#      lands on spotify's -14 LUFS.
#   4. a reference that does not exist is refused at submit, naming the
#      spec path; a silent reference holds the album with a reason that
#      names the file; so does one that is not audio, and once it is
#      fixed the same command again delivers the album.
#   5. `masterfarm logs --album 1 --reference K` lists the analysis of
#      the album's reference file K alone, and refuses a K it has not.
. "$MF_SRC/tests/lib/farm_lib.sh"
command -v sox >/dev/null && command -v ffmpeg >/dev/null || { echo "sox and ffmpeg are needed"; exit 77; }

MIX="$MF_BIN/tests/tool_master_mix"
mkdir -p "$T/in/refs"
"$MIX" "$T/in/a.wav" 20 44100 2 24 >/dev/null || fail "mix generator"
"$MIX" "$T/in/mix96.wav" 15 96000 2 24 >/dev/null || fail "mix generator"
"$MIX" "$T/in/mix48.wav" 30 48000 2 24 >/dev/null || fail "mix generator"
# the second track darker and quieter; the references from another mix
sox "$T/in/mix96.wav" "$T/in/b.wav" treble -3 bass +4 remix 1v1.15,2v-0.15 1v-0.15,2v1.15 \
    gain -n -6 2>/dev/null
sox "$T/in/mix48.wav" "$T/in/refs/bright.wav" treble +6 bass -2 \
    compand 0.002,0.1 -60,-60,-40,-14,0,-6 0 gain -n -1 \
    remix 1v1.1,2v-0.1 1v-0.1,2v1.1 gain -n -1 2>/dev/null
sox "$T/in/mix48.wav" -r 44100 "$T/in/refs/dark.wav" treble -5 bass +3 \
    remix 1v0.9,2v0.1 1v0.1,2v0.9 gain -n -8 2>/dev/null
sox -n -r 44100 -b 24 -c 2 "$T/in/refs/silence.wav" trim 0 5

# job NAME TONAL: a job file in $T/in with the album's tonal block TONAL
job () {
    cat >"$T/in/$1.json" <<EOF
{"albums": [{"title": "Reference $1", "artist": "Masterfarm", "profiles": ["spotify", "tidal"],
  "gap_s": 1, "tonal": $2,
  "tracks": [{"path": "a.wav", "title": "A"}, {"path": "b.wav", "title": "B"}]}]}
EOF
}
run () {
    "$MASTERFARM" run "$T/in/$1.json" -o "$T/out-$1" -j 2 --quiet >"$T/run-$1.log" 2>&1 \
        || { cat "$T/run-$1.log"; fail "masterfarm run $1 did not exit 0"; }
}
job one '{"match": "reference", "reference": "refs/bright.wav", "max_db": 6}'
job tone '{"match": "reference", "reference": "refs/bright.wav", "max_db": 6,
           "intensity": {"width": 0}}'
job half '{"match": "reference", "reference": "refs/bright.wav", "max_db": 6,
           "intensity": {"tone": 0.5, "width": 0}}'
job two '{"match": "reference", "max_db": 6, "intensity": {"loudness": 0, "width": 0.5},
          "reference": [{"path": "refs/bright.wav", "weight": 3}, {"path": "refs/dark.wav"}]}'
for j in one tone half two; do run $j; done
log "four jobs mastered"

python3 - "$MASTERFARM" "$T" <<'PYEOF' || fail "reference checks failed"
import glob, json, math, os, re, subprocess, sys
mf, T = sys.argv[1:3]
LO, HI = 2, 27                      # 40 Hz .. 16 kHz, as broker/planner.c
bad = []

def analyze(path):
    out = subprocess.run([mf, 'analyze', '--json', path], check=True, capture_output=True,
                         text=True).stdout
    j = json.loads(out)
    j = j[0] if isinstance(j, list) else j
    return j['files'][0] if 'files' in j else j

def shape(m):
    b = m['spectrum']['band_db'] if 'spectrum' in m else m['band_db']
    mean = sum(b[LO:HI + 1]) / (HI - LO + 1)
    return [x - mean for x in b[LO:HI + 1]]

def dist(s1, s2):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(s1, s2)) / len(s1))

def ffmpeg(path):
    err = subprocess.run(['ffmpeg', '-hide_banner', '-nostats', '-i', path, '-af',
                          'ebur128=peak=true', '-f', 'null', '-'], capture_output=True,
                         text=True).stderr
    summ = err[err.rfind('Summary:'):]
    return (float(re.search(r'I:\s+(-?[\d.]+)', summ).group(1)),
            float(re.search(r'Peak:\s+(-?[\d.]+)', summ).group(1)))

src = {k: analyze('%s/in/%s.wav' % (T, k)) for k in ('a', 'b')}
ref = analyze(T + '/in/refs/bright.wav')
dark = analyze(T + '/in/refs/dark.wav')
rs = shape(ref)
print("reference: %.2f LUFS, side/mid %.2f dB, %d Hz" % (ref['integrated_lufs'],
                                                       ref['side_mid_db'], ref['rate_hz']))

def album(job):
    d = glob.glob('%s/out-%s/*/' % (T, job))
    if len(d) != 1:
        sys.exit('%s: expected one album folder, found %s' % (job, d))
    return d[0]

def outputs(job, prof):
    files = sorted(glob.glob(album(job) + prof + '/0*.flac'))
    if len(files) != 2:
        sys.exit('%s %s: expected 2 track files, found %d' % (job, prof, len(files)))
    return dict(zip(('a', 'b'), files))

cuts = {}
for job in ('one', 'tone', 'half'):
    for k, f in outputs(job, 'spotify').items():
        m = analyze(f)
        d0, d1 = dist(shape(src[k]), rs), dist(shape(m), rs)
        cut = 1 - d1 / d0
        cuts[(job, k)] = cut
        print("%-4s %s: distance %.2f -> %.2f dB (cut %.0f%%); side/mid %.2f -> %.2f (reference %.2f)"
              % (job, k, d0, d1, 100 * cut, src[k]['side_mid_db'], m['side_mid_db'],
                 ref['side_mid_db']))
        if job == 'one':
            if cut < 0.60:
                bad.append('%s %s: distance cut %.0f%%, under 60%%' % (job, k, 100 * cut))
            if abs(m['side_mid_db'] - ref['side_mid_db']) > 1.0:
                bad.append('%s %s: side/mid %.2f dB, the reference %.2f' % (job, k, m['side_mid_db'],
                                                                           ref['side_mid_db']))
        if job == 'half':
            share = cut / cuts[('tone', k)]
            if not 0.3 <= share <= 0.7:
                bad.append('half %s: distance cut %.0f%% is %.2f of the cut at 1'
                           % (k, 100 * cut, share))

# loudness of the album files and true peak of every file, by ffmpeg
for job, want in (('one', ref['integrated_lufs']), ('two', -14.0)):
    i, _ = ffmpeg(album(job) + 'spotify/album.flac')
    print("%-4s album file %.1f LUFS (wanted %.2f)" % (job, i, want))
    if abs(i - want) > 0.5:
        bad.append('%s: album file at %.1f LUFS, wanted %.2f' % (job, i, want))
for f in sorted(glob.glob(T + '/out-*/*/*/*.flac')):
    _, tp = ffmpeg(f)
    rate = analyze(f)['rate_hz']
    if tp > -1.0:
        bad.append('%s: true peak %.1f dBTP over -1' % (f, tp))
    if '/tidal/' in f and rate != 96000:
        bad.append('%s: %d Hz, tidal keeps the album\'s 96 kHz' % (f, rate))
print("true peak of %d files at or under -1 dBTP (ffmpeg)" % len(glob.glob(T + '/out-*/*/*/*.flac')))

# two weighted references: distance to their weighted shape
ds = shape(dark)
ws = [(3 * x + y) / 4 for x, y in zip(rs, ds)]
wsm = (3 * ref['side_mid_db'] + dark['side_mid_db']) / 4
rep = json.load(open(album('two') + 'report.json'))
for k, f in outputs('two', 'spotify').items():
    m = analyze(f)
    d0, d1 = dist(shape(src[k]), ws), dist(shape(m), ws)
    print("two  %s: distance to the 3:1 shape %.2f -> %.2f dB (cut %.0f%%); side/mid %.2f -> %.2f "
          "(references' %.2f)" % (k, d0, d1, 100 * (1 - d1 / d0), src[k]['side_mid_db'],
                                  m['side_mid_db'], wsm))
    if 1 - d1 / d0 < 0.60:
        bad.append('two %s: distance to the weighted shape cut %.0f%%' % (k, 100 * (1 - d1 / d0)))
    # width 0.5: half the way (dB) from the ratio the tonal EQ left (the
    # report's side/mid less its side gain) to the references'; the
    # delivered file reads what the report says (0.5 dB)
    rt = [t for t in rep['profiles'][0]['tracks'] if t['index'] == ord(k) - ord('a') + 1][0]
    before = rt['side_mid_db'] - 20 * math.log10(rt['width'])
    share = (rt['side_mid_db'] - before) / (wsm - before)
    print("     width %.3f: side/mid %.2f -> %.2f, %.2f of the way" % (rt['width'], before,
                                                                   rt['side_mid_db'], share))
    if abs(share - 0.5) > 0.02 or abs(rt['side_mid_db'] - m['side_mid_db']) > 0.5:
        bad.append('two %s: width 0.5 went %.2f of the way; report %.2f dB, file %.2f dB'
                   % (k, share, rt['side_mid_db'], m['side_mid_db']))
text = json.dumps(rep)
if 'refs/dark.wav' not in text or 'refs/bright.wav' not in text:
    bad.append('report.json of the two-reference job does not name both references')
if bad:
    sys.exit('; '.join(bad))
PYEOF

# run_fails NAME LOG WHAT: masterfarm run of job NAME into out-NAME (one
# worker), its output in LOG and shown; the test fails with WHAT when it
# exits 0.
run_fails () {
    local rc
    set +e
    "$MASTERFARM" run "$T/in/$1.json" -o "$T/out-$1" -j 1 >"$T/$2" 2>&1
    rc=$?
    set -e
    tail -n 6 "$T/$2"
    [ $rc != 0 ] || fail "$3"
}

# A missing reference is refused at submit; a silent one holds the album.
job missing '{"match": "reference", "reference": ["refs/bright.wav", "refs/none.wav"]}'
run_fails missing missing.log "a job with a missing reference ran"
grep -q 'tonal.reference\[1\].*refs/none.wav' "$T/missing.log" || fail "the error does not name the missing reference"
job silent '{"match": "reference", "reference": "refs/silence.wav"}'
run_fails silent silent.log "an album matched to a silent reference was delivered"
grep -q "refs/silence.wav has no measurable loudness" "$T/silent.log" \
    || fail "the failure does not name the silent reference"

# A reference that is not audio fails its analysis and holds the album;
# once the file is fixed, the same command again analyses it, plans and
# delivers (the tracks' analyses are not redone).
head -c 50000 /dev/urandom >"$T/in/refs/broken.wav"
job broken '{"match": "reference", "reference": "refs/broken.wav", "max_db": 6}'
run_fails broken broken1.log "an album matched to a reference that is not audio was delivered"
grep -q "reference refs/broken.wav could not be analysed" "$T/broken1.log" \
    || fail "the failure does not name the broken reference"
cp "$T/in/refs/bright.wav" "$T/in/refs/broken.wav"
"$MASTERFARM" run "$T/in/broken.json" -o "$T/out-broken" -j 1 >"$T/broken2.log" 2>&1 \
    || { cat "$T/broken2.log"; fail "the run after fixing the reference did not deliver"; }
tail -n 3 "$T/broken2.log"
[ "$(track_outputs "$T/out-broken" spotify)" = 2 ] || fail "the fixed run did not deliver 2 spotify tracks"
[ "$(grep -c "job 2 album 1 track [12]: analysis reused" "$T/out-broken/.masterfarm/broker.log")" = 2 ] \
    || fail "the fixed run analysed the tracks again"
python3 - "$T/out-broken" <<'PYEOF' || fail "the fixed run's report does not name the reference"
import glob, json, sys
rep = json.load(open(glob.glob(sys.argv[1] + '/*/report.json')[0]))
refs = rep['profiles'][0]['plan']['tonal']['references']
sys.exit(0 if [r['path'] for r in refs] == ['refs/broken.wav'] else 1)
PYEOF

# `masterfarm logs --reference K` lists the analysis of reference file K
# of the album alone; a number the album does not have is refused.
start_broker "$T/state.db" "$T/in" "$T/out-logs"
start_worker logs-w
jl=$(submit "$T/in/two.json")
"$MASTERFARM" watch "$jl" --broker "$BROKER_URL" --plain >"$T/watch-logs.out" 2>&1 \
    || { cat "$T/watch-logs.out"; fail "the two-reference job did not complete"; }
"$MASTERFARM" logs "$jl" --album 1 --reference 2 --broker "$BROKER_URL" >"$T/logs-ref.out" \
    || fail "logs --reference 2 failed"
cat "$T/logs-ref.out"
[ "$(grep -c "attempt" "$T/logs-ref.out")" = 1 ] && grep -q "refs/dark.wav" "$T/logs-ref.out" \
    && ! grep -q "refs/bright.wav" "$T/logs-ref.out" \
    || fail "logs --reference 2 does not list the analysis of refs/dark.wav alone"
set +e
"$MASTERFARM" logs "$jl" --album 1 --reference 3 --broker "$BROKER_URL" 2>"$T/logs-ref3.err"
rc=$?
set -e
[ $rc = 1 ] && grep -q "reference file(s), not 3" "$T/logs-ref3.err" \
    || { cat "$T/logs-ref3.err"; fail "logs --reference 3 was not refused (exit $rc)"; }
farm_pass
