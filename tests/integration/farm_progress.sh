#!/bin/bash
# Progress and ETA of a catalog job against a real broker and two workers.
# Every input's duration is read from its header at submit, so the job's
# total audio is right in the first status (not only the analysed
# tracks'). The ETA status reports when 25%, 50% and 75% of the work is
# done must be within 20% of the time the job really took from there
# (status --json snapshots, compared with the job's finished time
# afterwards), and the error, as a share of the job's whole running
# time, must not drift by more than 15 points from 25% to 75%: the
# catalog repeats one album eight times, so most analyses come from the
# reuse cache and must not count as work done. This catches gross
# miscounting only: analyses are cheap beside masters and assemblies, and
# on a shared 2-core machine the errors move by several points from run
# to run. (Measured against the time left at each point, as it was, a
# steady shortfall of under a second, within the 20% bound everywhere,
# read as a drift of 12 to 18 points at 75%, where less time is left,
# and the check failed now and then on the previous build as well.) A watcher attached late ends with the job's own speed
# (audio over first dispatch to end), not the speed of the time it
# watched.
#
# No ETA foresees a change of the machine's load or speed, and ctest runs
# other tests beside this one. Two measures are taken before and after
# each check point, and a point where either changed is not judged (said
# so in the output):
#   - the CPU time the workers (and their task processes) get per second
#     (more than 25% changed: the load);
#   - the CPU time a fixed probe takes, `masterfarm analyze` of the same
#     60 s file about once a second, median before and after: the
#     machine's speed (on a shared host it moved by half between two runs
#     of this job, and by 12% within one, with the workers' share
#     unchanged and the ETA off by as much). More than 10% changed is not
#     judged. (Scaling the ETA by it instead was tried: the probe's own
#     scatter, up to 15% in 16 quiet runs whose ETAs were within 5%,
#     then became the error.)
#   - the farm's own pace: the catalog repeats one album, so each task of
#     a kind, track and profile is the same work in every album; the time
#     those run after the point take against their mean before it (more
#     than 10% changed is not judged). The probe reads CPU only; in a
#     full-suite run the masters slowed by 12% and the assemblies by 49%
#     while the probe moved 9%, and the ETA read 22% short.
# Two of the three points must be judged, or the test is skipped (exit
# 77) as too disturbed to tell.
. "$MF_SRC/tests/lib/farm_lib.sh"

# Long tracks are pink noise from sox (the generator's mixes take longer
# to make than the job takes to run); lengths differ from track to track.
gen_album "$T/in" --tracks 6 --seconds 2 --seed 5 --profiles spotify,cd
k=0
for f in "$T"/in/album1/*.wav; do
    sox -n -r 44100 -b 24 -c 2 "$f" synth $((26 + 4 * k)) pinknoise vol 0.$((2 + k)) \
        || fail "sox could not write $f"
    k=$((k + 1))
done
sox -n -r 44100 -b 24 -c 2 "$T/probe.wav" synth 60 pinknoise vol 0.3 \
    || fail "sox could not write the probe"
catalog_job "$T/in" 8 "$T/in/catalog.json"
# The page cache as the suite's earlier tests left it (gigabytes written)
# slowed this job's tasks by 16% to 68% as it went on, after a sync too,
# and the points went unjudged; with the cache dropped first (root only,
# as CI runs) the job keeps its pace. Elsewhere the test runs as it is.
sync
if [ -w /proc/sys/vm/drop_caches ]; then
    echo 3 > /proc/sys/vm/drop_caches || true
fi
start_broker "$T/state.db" "$T/in" "$T/out"
start_worker w1
w1=$LAST_PID
start_worker w2
w2=$LAST_PID

# The audio of the catalog, from the files themselves (soxi).
expected=$(for f in "$T"/in/album1/*.wav; do soxi -D "$f"; done \
           | awk '{ s += $1 } END { printf "%.4f", 8 * s }')
log "catalog: 8 albums x 6 tracks, $expected s of audio"

job=$(submit "$T/in/catalog.json")
set +e
STATE_DB="$T/state.db" PROBE="$T/probe.wav" python3 - "$MASTERFARM" "$BROKER_URL" "$job" "$expected" "$T/snapshots.txt" \
    "$T/watch.jsonl" "$w1" "$w2" <<'PYEOF'
import json, os, resource, subprocess, sys, time
mf, url, job, expected, snap_path, watch_path = sys.argv[1:7]
workers = [int(p) for p in sys.argv[7:]]
expected = float(expected)
tick = os.sysconf('SC_CLK_TCK')

def stat(pid):
    return open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()

def cpu_s():
    """CPU seconds of the workers and their task processes, running or
    ended (a task process runs many tasks: its time counts as it goes)."""
    total = 0
    for pid in workers:
        total += sum(int(x) for x in stat(pid)[11:15])   # utime stime cutime cstime
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            f = stat(int(d))
        except OSError:
            continue
        if int(f[1]) in workers:                           # ppid
            total += int(f[11]) + int(f[12])
    return total / tick

def status():
    out = subprocess.run([mf, 'status', job, '--broker', url, '--json', '--timeout', '10'],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)['jobs'][0]

probes = []
def probe():
    """CPU seconds a fixed piece of work takes now, with its time."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([mf, 'analyze', os.environ['PROBE']], check=True, stdout=subprocess.DEVNULL)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    probes.append((time.time(), r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime))

def probe_median(t0, t1):
    xs = sorted(c for t, c in probes if t0 <= t < t1)
    return (xs[len(xs) // 2] + xs[(len(xs) - 1) // 2]) / 2 if xs else None

snaps, watcher = [], None
deadline = time.time() + 240
last_probe = 0
while True:
    if time.time() - last_probe >= 1.0:
        probe()
        last_probe = time.time()
    t = time.time()
    j = status()
    snaps.append((t, j['work_done'], j['eta_s'], j['audio_total_s'], j['state'], cpu_s(),
                  time.time()))
    if len(snaps) == 1 and abs(j['audio_total_s'] - expected) > 0.05:
        sys.exit("first status: audio_total_s %.2f, the files hold %.2f s"
                 % (j['audio_total_s'], expected))
    if watcher is None and j['work_done'] >= 0.5:
        watcher = subprocess.Popen([mf, 'watch', job, '--broker', url, '--json'],
                                   stdout=open(watch_path, 'w'))
    if j['state'] in ('done', 'failed', 'cancelled'):
        break
    if time.time() > deadline:
        sys.exit("job not finished in 240 s")
    time.sleep(0.3)
final = status()
cpu_end = cpu_s()
if final['state'] != 'done':
    sys.exit("job ended %s" % final['state'])
end = final['finished_ms'] / 1000.0
start = final['started_ms'] / 1000.0
run_s = (final['finished_ms'] - final['started_ms']) / 1000.0
with open(snap_path, 'w') as f:
    for s in snaps:
        f.write("t=%.2f left=%.2f work=%.3f eta=%.2f audio=%.1f %s round trip %.3f s\n"
                % (s[0] - snaps[0][0], end - s[0], s[1], s[2], s[3], s[4], s[6] - s[0]))
print("job ran %.1f s, %.1f s of audio, speed %.1fx" % (run_s, final['audio_total_s'],
                                                         final['speed']))
bad, judged, rel = [], 0, {}
cpu0 = snaps[0][5]
# The farm's own pace: the catalog repeats one album, so a task of a given
# kind, track and profile is the same work in every album. The time such
# tasks took after a point, against their mean before it, tells whether
# the machine slowed for the farm itself (disk as well as CPU).
import sqlite3
_db = sqlite3.connect('file:%s?mode=ro' % os.environ['STATE_DB'], uri=True)
attempts = _db.execute("SELECT t.kind, t.track, t.profile, a.started_ms, a.ended_ms"
                       " FROM attempts a JOIN tasks t ON t.id = a.task_id"
                       " WHERE a.ended_ms > a.started_ms").fetchall()
_db.close()
def own_pace(t):
    before, after = {}, []
    for k, tr, pr, st, en in attempts:
        if en / 1000.0 <= t:
            before.setdefault((k, tr, pr), []).append(en - st)
        elif st / 1000.0 >= t:
            after.append(((k, tr, pr), en - st))
    took = sum(d for key, d in after if key in before)
    was = sum(sum(before[key]) / len(before[key]) for key, d in after if key in before)
    return took / was if was > 0 else None
for frac in (0.25, 0.5, 0.75):
    s = next((s for s in snaps if s[1] >= frac), None)
    if s is None:
        bad.append("no snapshot at %d%% of the work" % (frac * 100))
        continue
    actual = end - s[0]
    share_before = (s[5] - cpu0) / (s[0] - snaps[0][0])
    share_after = (cpu_end - s[5]) / actual
    probe_before, probe_after = probe_median(0, s[0]), probe_median(s[0], end)
    slower = probe_after / probe_before if probe_before and probe_after else None
    print("at %3d%% (work %.3f): ETA %.2f s, really %.2f s left (%+.0f%%), status round trip "
          "%.3f s; workers' CPU %.2f/s before, %.2f/s after"
          % (frac * 100, s[1], s[2], actual, 100 * (s[2] - actual) / actual, s[6] - s[0],
             share_before, share_after))
    if slower:
        print("  probe %.1f ms of CPU before, %.1f ms after (%+.0f%%)"
              % (1000 * probe_before, 1000 * probe_after, 100 * (slower - 1)))
    if abs(share_after / share_before - 1) > 0.25:
        print("  not judged: the load changed")
        continue
    if not slower or abs(slower - 1) > 0.10:
        print("  not judged: the machine's speed changed (or was not measured)")
        continue
    pace = own_pace(s[0])
    if pace:
        print("  the same tasks took %+.0f%% after this point" % (100 * (pace - 1)))
    if not pace or abs(pace - 1) > 0.10:
        print("  not judged: the farm's own tasks changed speed (or were not measured)")
        continue
    # The broker answered somewhere between the request and the reply: the
    # time really left is end - s[6] to end - s[0]; the ETA is judged
    # against the nearer end (a slow round trip is not an ETA's error).
    eta = s[2]
    reply_left = end - s[6]
    err = 0 if reply_left <= eta <= actual else min(abs(eta - actual), abs(eta - reply_left))
    judged += 1
    rel[frac] = (eta - actual) / run_s
    # 20%, and never less than the status round trip can resolve.
    if s[2] < 0 or err > max(0.2 * actual, 0.5):
        bad.append("ETA %.2f s at %d%%, the job took %.2f s more" % (s[2], frac * 100, actual))
# The machine's speed shifts all three errors alike; work counted wrong
# (reused analyses counted as work done) makes them drift as the job goes.
if 0.25 in rel and 0.75 in rel and abs(rel[0.75] - rel[0.25]) > 0.15:
    bad.append("the ETA's error drifts from %+.1f%% of the job's time at 25%% to %+.1f%% at 75%%"
               % (100 * rel[0.25], 100 * rel[0.75]))
if abs(final['speed'] - final['audio_total_s'] / run_s) > 0.01 * final['speed']:
    bad.append("speed %.2f is not audio over the job's running time (%.2f)"
               % (final['speed'], final['audio_total_s'] / run_s))
if watcher is None:
    bad.append("the watcher never started")
else:
    watcher.wait(timeout=30)
    events = [json.loads(l) for l in open(watch_path) if l.strip()]
    last = events[-1]
    if not last['final']:
        bad.append("the watcher's last event is not final")
    elif abs(last['job']['speed'] - final['speed']) > 0.01 * final['speed']:
        bad.append("the late watcher ends with speed %.2f, the job's is %.2f"
                   % (last['job']['speed'], final['speed']))
    print("late watcher: %d events, closing speed %.1fx" % (len(events), last['job']['speed']))
if bad:
    # What the job's last seconds held, from the broker's own record, so
    # that a failure says where the time went.
    import sqlite3
    db = sqlite3.connect('file:%s?mode=ro' % os.environ['STATE_DB'], uri=True)
    kinds = {1: 'analyze', 2: 'master', 3: 'assemble'}
    rows = db.execute("SELECT t.kind, t.album, t.track, t.profile, a.worker, a.started_ms,"
                      " a.ended_ms FROM tasks t JOIN attempts a ON a.task_id = t.id"
                      " ORDER BY a.ended_ms DESC LIMIT 8").fetchall()
    print("the last tasks (seconds before the job's end):")
    for k, al, tr, pr, wk, st, en in reversed(rows):
        print("  %-8s album %d track %d profile %d on %s: %.2f to %.2f"
              % (kinds.get(k, k), al, tr, pr, wk, end - st / 1000.0, end - en / 1000.0))
    # a stall (the broker busy, a worker waiting) shows as a long gap
    # between one worker's tasks; a slowdown as tasks taking longer
    rows = db.execute("SELECT a.worker, a.started_ms, a.ended_ms, t.kind FROM attempts a"
                      " JOIN tasks t ON t.id = a.task_id ORDER BY a.worker, a.started_ms"
                      ).fetchall()
    gaps, thirds = [], {}
    for prev, cur in zip(rows, rows[1:]):
        if prev[0] == cur[0]:
            gaps.append((cur[1] - prev[2], end - cur[1] / 1000.0, cur[0]))
    for wk, st, en, k in rows:
        key = (kinds.get(k, k), min(2, int(3 * (st / 1000.0 - start) / run_s)))
        thirds.setdefault(key, []).append(en - st)
    print("longest gaps between a worker's tasks: "
          + ", ".join("%d ms on %s %.2f s before the end" % (g [0], g [2], g [1])
                      for g in sorted(gaps)[-3:]))
    print("mean task time by third of the job: "
          + ", ".join("%s %d: %.0f ms" % (k[0], k[1] + 1, sum(v) / len(v))
                      for k, v in sorted(thirds.items())))
    sys.exit("; ".join(bad))
if judged < 2:
    print("only %d of 3 points judged: the machine's load changed too much" % judged)
    sys.exit(77)
PYEOF
rc=$?
set -e
[ $rc = 77 ] && { FARM_FAILED=0; echo "SKIP: the load changed during the job"; exit 77; }
[ $rc = 0 ] || fail "progress check failed"
log "snapshots: $(wc -l <"$T/snapshots.txt")"
farm_pass
