#!/bin/bash
# What watch and run show:
#  - watch on a terminal with fewer rows than the job has albums redraws a
#    compact view in place (the job line, the running albums by title,
#    then counts of the others) and never more lines than the terminal
#    has (run under `script` with stty rows 8);
#  - on a tall terminal every album has its row, with title and profiles;
#  - a broker that stops answering is said (seconds of silence), and no
#    longer once it answers again;
#  - an album that runs nothing says what of it waits for a worker
#    (status, text and JSON): its analyses, then its assembly;
#  - run ends with one summary (albums delivered and held, tracks, tasks,
#    audio, wall time, speed, failures, output root), not a line per album folder.
. "$MF_SRC/tests/lib/farm_lib.sh"
command -v script >/dev/null || { echo "SKIP: script (util-linux) is not installed"; exit 77; }

gen_album "$T/in" --tracks 2 --seconds 3 --seed 8 --profiles spotify
catalog_job "$T/in" 14 "$T/in/catalog.json"
start_broker "$T/state.db" "$T/in" "$T/out"
start_worker w1
w1=$LAST_PID
start_worker w2
w2=$LAST_PID
job=$(submit "$T/in/catalog.json")

# tty: 8 rows, 14 albums, 72 columns: the running albums' rows share their
# columns (the bars stand one under the other) and each ends with what runs,
# whole: on a narrow terminal the rows drop the profiles, then "running: ",
# before anything is cut.
script -qfec "stty rows 8 cols 72; '$MASTERFARM' watch $job --broker '$BROKER_URL'" /dev/null \
    >"$T/tty8.out" 2>&1 || { cat -v "$T/tty8.out"; fail "watch on a terminal failed"; }
python3 - "$T/tty8.out" <<'PYEOF' || fail "compact view wrong (see $T/tty8.out)"
import re, sys
raw = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace').replace('\r', '')
frames = raw.split('\x1b[J')[:-1]          # every redraw ends with erase-below
assert len(frames) >= 2, "only %d frames" % len(frames)
running_rows = 0
for f in frames:
    f = re.sub(r'\x1b\[\d+A', '', f)
    lines = [l for l in f.split('\n') if l.strip()]
    assert len(lines) <= 7, "a frame of %d lines on an 8-row terminal:\n%s" % (len(lines), f)
    assert lines[0].replace('\x1b[2K', '').startswith('job '), "frame starts %r" % lines[0]
    assert 'albums: ' in lines[-1], "frame does not end with the counts: %r" % lines[-1]
    rows = [l.replace('\x1b[2K', '') for l in lines if re.search(r'Album \d+ ', l)]
    assert len(set(r.index(' [') for r in rows)) <= 1, "rows not in columns:\n%s" % "\n".join(rows)
    for r in rows:
        assert len(r) <= 71, "a row wider than 71 columns: %r" % r
        assert re.search(r'\] +\d+/\d+( tracks)?( \(spotify\))?(, [a-z-]+)?'
                         r'(, (running: )?(analyze|master [0-9]+( again \(album loudness\))?'
                         r'|assemble spotify|report)( [a-z0-9 ()]+)?)?$', r), \
            "a row cut or garbled: %r" % r
    running_rows += sum(1 for r in rows if re.search(r', (running: )?(analyze|master|assemble)', r))
assert running_rows > 0, "no running album row with its title was drawn"
assert re.search(r'14 albums \(14 delivered, 0 held\)', raw), "no final summary"
print("%d frames, %d running-album rows" % (len(frames), running_rows))
PYEOF

# tty: 40 rows: a row per album, with title and profiles.
script -qfec "stty rows 40 cols 160; '$MASTERFARM' watch $job --broker '$BROKER_URL'" /dev/null \
    >"$T/tty40.out" 2>&1 || fail "watch of the finished job failed"
n=$(tr -d '\r' <"$T/tty40.out" | grep -cE 'Album [0-9]+ .*\[#+\] +2/2 tracks \(spotify\)')
[ "$n" = 14 ] || { cat -v "$T/tty40.out"; fail "$n album rows on a tall terminal, expected 14"; }
# A narrow terminal (72 columns): the bar and then the title give up
# columns, so that each row still ends with its state rather than being
# cut at the edge.
script -qfec "stty rows 40 cols 72; '$MASTERFARM' watch $job --broker '$BROKER_URL'" /dev/null \
    >"$T/tty72.out" 2>&1 || fail "watch on 72 columns failed"
n=$(tr -d '\r' <"$T/tty72.out" | grep -cE 'Album [0-9]+ .*\[#{8,}\] +2/2 tracks \(spotify\), published$' || true)
[ "$n" = 14 ] || { cat -v "$T/tty72.out"; fail "$n whole album rows on 72 columns, expected 14"; }
# every line redrawn in place fits, and the job line keeps its ETA
long=$(tr -d '\r' <"$T/tty72.out" | grep -a $'^\x1b\\[2K' | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' \
       | awk 'length > 71' | wc -l)
[ "$long" = 0 ] || { cat -v "$T/tty72.out"; fail "$long lines wider than 71 columns on a 72-column terminal"; }
tr -d '\r' <"$T/tty72.out" | grep -aqE $'^\x1b\\[2Kjob [0-9]+ done: 100%, ETA 0:00, ' \
    || { cat -v "$T/tty72.out"; fail "no job line with its ETA on 72 columns"; }
log "watch: compact view on 8 rows, 14 album rows on 40, whole rows on 72 columns"

# A broker that stops answering (SIGSTOP for 5 s, a paused job so that
# nothing else changes): watch says so, plain and on a terminal, and
# says so no more once events come again.
job2=$(submit "$T/in/catalog.json")
"$MASTERFARM" pause "$job2" --broker "$BROKER_URL" >/dev/null || fail "pause failed"
"$MASTERFARM" watch "$job2" --broker "$BROKER_URL" --plain >"$T/silent-plain.out" 2>&1 &
wp=$!
script -qfec "stty rows 40 cols 160; '$MASTERFARM' watch $job2 --broker '$BROKER_URL'" /dev/null \
    >"$T/silent-tty.out" 2>&1 &
wt=$!
sleep 1.5
kill -STOP "$BROKER_PID"
sleep 5
kill -CONT "$BROKER_PID"
sleep 2
"$MASTERFARM" cancel "$job2" --broker "$BROKER_URL" >/dev/null || fail "cancel failed"
wait "$wp" || true
wait "$wt" || true
cat "$T/silent-plain.out"
grep -qx "broker silent for 3 s: still asking (watch gives up after 60 s)" "$T/silent-plain.out" \
    || fail "plain watch did not say the broker was silent"
grep -qx "broker answering again" "$T/silent-plain.out" \
    || fail "plain watch did not say the broker answered again"
grep -q "broker silent for [45] s: still asking" "$T/silent-tty.out" \
    || { cat -v "$T/silent-tty.out"; fail "the terminal view did not count the broker's silence"; }
log "watch: a silent broker is said, plain and on a terminal"

# An album that runs nothing says what of it waits for a worker. The
# assembly hangs on a worker (test hook), which is then killed: the album
# is at 2/2 tracks with its assembly queued and no worker to take it.
kill -TERM -- -"$w1" -"$w2"
gen_album "$T/in4" --tracks 2 --seconds 2 --seed 11 --profiles spotify
job4=$(submit "$T/in4/job.json")
wait_for "album 1 of job $job4 to say its analyses are queued" 30 \
    bash -c "'$MASTERFARM' status $job4 --broker '$BROKER_URL' | grep -q 'queued: analyze 2'"
start_worker w3 MASTERFARM_FAULT=hang:/work/a0/
w3=$LAST_PID
wait_for "album 1 of job $job4 to run its assembly" 60 \
    bash -c "'$MASTERFARM' status $job4 --broker '$BROKER_URL' | grep -q 'running: assemble spotify'"
kill -9 -- -"$w3"
wait_for "album 1 of job $job4 to say its assembly is queued" 30 \
    bash -c "'$MASTERFARM' status $job4 --broker '$BROKER_URL' | grep -q 'queued: assemble spotify'"
status_json "$job4" >"$T/q-asm.json"
python3 - "$T/q-asm.json" <<'PYEOF' || fail "status --json of a queued assembly wrong (see $T/q-asm.json)"
import json, sys
a = json.load(open(sys.argv[1]))['jobs'][0]['albums'][0]
assert (a['tracks_done'], a['stage'], a['queued'], a['state']) == (2, '', 'assemble spotify', 'open'), a
PYEOF
start_worker w4
wait_for "job $job4 to finish" 60 bash -c "'$MASTERFARM' status $job4 --broker '$BROKER_URL' | grep -q published"
log "status: an idle album names what waits (queued: analyze 2 / assemble spotify)"

# run: one summary, failures named, no line per album folder.
gen_album "$T/in2" --tracks 2 --seconds 3 --seed 9 --mark 2:crashme --profiles spotify
catalog_job "$T/in2" 3 "$T/in2/catalog.json"
gen_album "$T/in3" --tracks 2 --seconds 3 --seed 10 --profiles spotify
catalog_job "$T/in3" 12 "$T/in3/catalog.json"
"$MASTERFARM" run "$T/in3/catalog.json" -o "$T/run-ok" -j 2 --quiet >"$T/run-ok.out" 2>&1 \
    || { cat "$T/run-ok.out"; fail "run of a good catalog failed"; }
cat "$T/run-ok.out"
grep -qE '^job [0-9]+ done: 12 albums \(12 delivered, 0 held\), 24 tracks \(24 done, 0 failed\)' "$T/run-ok.out" \
    || fail "run's summary lacks albums and tracks"
grep -qE '^  [0-9]+/[0-9]+ tasks, audio 1:12, wall time [0-9]+:[0-9]{2}, [0-9.]+x realtime$' "$T/run-ok.out" \
    || fail "run's summary lacks audio, wall time or speed"
grep -qx "outputs: $(cd "$T/run-ok" && pwd)" "$T/run-ok.out" || fail "run's summary lacks the output root"
[ "$(wc -l <"$T/run-ok.out")" -le 4 ] || fail "run printed more than its summary"
set +e
MASTERFARM_FAULT=crash:crashme "$MASTERFARM" run "$T/in2/catalog.json" -o "$T/run-bad" -j 2 --quiet \
    >"$T/run-bad.out" 2>&1
rc=$?
set -e
cat "$T/run-bad.out"
[ $rc = 1 ] || fail "run with failing tracks exited $rc"
grep -qE '^job [0-9]+ failed: 3 albums \(0 delivered, 3 held\), 6 tracks \(3 done, 3 failed\)' "$T/run-bad.out" \
    || fail "run's summary does not count the held albums and failed tracks"
[ "$(grep -c '^  failed: album "Album [123]" track 2 "Harbour Lights crashme"' "$T/run-bad.out")" = 3 ] \
    || fail "run's summary does not name the three failed tracks"
log "run: summary with counts, audio, wall time, speed, failures and output root"
farm_pass
