#!/bin/bash
# The broker's HTTP port (--metrics-port) on a real job:
#  - `promtool check metrics` accepts scrapes taken while the job waits
#    for a worker (its 3 analyses queued at priority 5), while a task runs
#    (a first worker hangs in track 3's analysis, MASTERFARM_FAULT, and is
#    then stopped; a second one does the job) and after the job ended, and
#    every family has # HELP and # TYPE;
#  - the figures the farm needs are there and add up: a task duration
#    histogram by kind (analyze, master, assemble counted), seconds of
#    audio mastered (the album's length), failed attempts, retries and
#    tasks failed for good by kind (one track's source is corrupt: its
#    analysis fails BROKER_MAX_ATTEMPTS = 3 times: 2 retries, 1 failed),
#    workers alive, queue depth by priority;
#  - an unknown path answers 404, a POST 405;
#  - the port listens on the --bind host (127.0.0.1, checked with ss -ltn)
#    and is not reachable on the machine's other addresses; a broker bound
#    to every interface keeps it on 127.0.0.1; --metrics-bind '*' opens it
#    on every interface (and the broker warns).
. "$MF_SRC/tests/lib/farm_lib.sh"

command -v promtool >/dev/null || { echo "SKIP: promtool not installed (package prometheus)"; exit 77; }
command -v ss >/dev/null || { echo "SKIP: ss not installed (package iproute2)"; exit 77; }

gen_album "$T/in" --tracks 3 --seconds 3 --seed 41 --profiles spotify
python3 - "$T/in/job.json" <<'PY'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
j["albums"][0]["partial"] = "deliver"
json.dump(j, open(p, "w"), indent=1)
PY
bad=$(json_get 'd["albums"][0]["tracks"][1]["path"]' <"$T/in/job.json")
head -c 50000 /dev/urandom >"$T/in/$bad"

hport=$(free_port)
BROKER_ARGS=(--metrics-port "$hport")
start_broker "$T/state.db" "$T/in" "$T/out"
URL="http://127.0.0.1:$hport"

# Each family: one # HELP and one # TYPE line; promtool's verdict.
check_scrape () {  # check_scrape FILE
    promtool check metrics <"$1" >"$1.promtool" 2>&1 \
        || { cat "$1.promtool"; fail "promtool check metrics rejected $1"; }
    python3 - "$1" <<'PY' || fail "family check failed on $1"
import re, sys
helps, types, samples = set(), {}, set()
for line in open(sys.argv[1]):
    if line.startswith("# HELP "):
        helps.add(line.split()[2])
    elif line.startswith("# TYPE "):
        types[line.split()[2]] = line.split()[3]
    elif line.strip():
        samples.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
for s in samples:
    fam = re.sub(r"_(bucket|sum|count)$", "", s) if s not in types else s
    if fam not in types or fam not in helps:
        sys.exit("%s: no # HELP or # TYPE" % s)
for f, t in types.items():
    if t == "counter" and not f.endswith("_total"):
        sys.exit("counter %s does not end in _total" % f)
    if t != "counter" and f.endswith("_total"):
        sys.exit("%s ends in _total but is a %s" % (f, t))
PY
}
# sample FILE NAME{LABELS}: the value of one sample.
sample () { awk -v n="$2" '$1 == n {print $2; exit}' "$1"; }

# During the job, before any worker: its analyses wait in the queue.
job=$(submit "$T/in/job.json")
curl -sf "$URL/metrics" >"$T/queued.prom" || fail "scrape of the queued job failed"
check_scrape "$T/queued.prom"
[ "$(sample "$T/queued.prom" 'masterfarm_tasks_queued{priority="5"}')" = 3 ] \
    || fail "queue depth at priority 5 is not 3: $(grep '^masterfarm_tasks_queued' "$T/queued.prom")"
[ "$(sample "$T/queued.prom" 'masterfarm_jobs{state="queued"}')" = 1 ] \
    || fail "the job is not counted as queued"
[ "$(sample "$T/queued.prom" masterfarm_workers_alive)" = 0 ] || fail "workers alive is not 0"
log "scrape of the queued job accepted by promtool (3 tasks queued at priority 5)"

# While a task runs: the first worker hangs in track 3's analysis.
track3=$(json_get 'd["albums"][0]["tracks"][2]["path"]' <"$T/in/job.json")
start_worker w1 MASTERFARM_FAULT="hang:$(basename "$track3")"
w1=$LAST_PID
wait_for "a busy slot" 20 \
    bash -c "curl -sf '$URL/metrics' >'$T/during.prom' && \
             grep -qx 'masterfarm_worker_slots_busy 1' '$T/during.prom'"
check_scrape "$T/during.prom"
log "scrape with a task in flight accepted by promtool"
# SIGTERM to the worker alone: it hands its task back (not a failure).
kill -TERM "$w1"
wait "$w1" || true
start_worker w2

wait_for "job $job to end" 30 job_final "$job"
curl -sf "$URL/metrics" >"$T/after.prom" || fail "scrape after the job failed"
check_scrape "$T/after.prom"
A="$T/after.prom"
for fam in masterfarm_task_duration_seconds masterfarm_audio_mastered_seconds_total \
           masterfarm_tasks_failed_total masterfarm_task_retries_total \
           masterfarm_task_attempts_failed_total masterfarm_workers_alive \
           masterfarm_tasks_queued masterfarm_jobs; do
    grep -q "^# TYPE $fam " "$A" || fail "family $fam missing"
done
grep -q '^# TYPE masterfarm_task_duration_seconds histogram' "$A" || fail "duration is no histogram"
for k in analyze master assemble; do
    n=$(sample "$A" "masterfarm_task_duration_seconds_count{kind=\"$k\"}")
    [ "${n:-0}" -ge 1 ] || fail "no $k duration counted ($n)"
done
n=$(sample "$A" 'masterfarm_task_duration_seconds_count{kind="analyze"}')
[ "$n" = 2 ] || fail "analyze durations: $n, expected 2 (the good tracks)"
audio=$(sample "$A" masterfarm_audio_mastered_seconds_total)
python3 -c "import sys; a=float(sys.argv[1]); sys.exit(0 if abs(a - 6.0) < 0.01 else 1)" "$audio" \
    || fail "audio mastered: $audio s, expected 6 (2 tracks of 3 s, one profile)"
[ "$(sample "$A" 'masterfarm_tasks_failed_total{kind="analyze"}')" = 1 ] \
    || fail "tasks failed for good (analyze) is not 1"
[ "$(sample "$A" 'masterfarm_task_retries_total{kind="analyze"}')" = 2 ] \
    || fail "analyze retries are not 2"
[ "$(sample "$A" 'masterfarm_task_attempts_failed_total{kind="analyze"}')" = 3 ] \
    || fail "failed analyze attempts are not 3"
[ "$(sample "$A" masterfarm_workers_alive)" = 1 ] || fail "workers alive is not 1"
[ "$(grep -c '^masterfarm_tasks_queued{priority=' "$A")" = 10 ] \
    || fail "queue depth is not given for priorities 0-9"
log "figures: audio ${audio} s, analyze failed 1 / retried 2, workers 1"

# Only its paths.
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/nope")" = 404 ] || fail "unknown path not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics/x")" = 404 ] || fail "/metrics/x not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d a=1 "$URL/metrics")" = 405 ] \
    || fail "POST not 405"

# Where it listens: 127.0.0.1 as --bind, nowhere else.
ss -Hltn "sport = :$hport" >"$T/ss.out"
cat "$T/ss.out"
[ "$(awk '{print $4}' "$T/ss.out")" = "127.0.0.1:$hport" ] \
    || fail "the HTTP port does not listen on 127.0.0.1 only: $(cat "$T/ss.out")"
others=$(ip -o -4 addr show 2>/dev/null | awk '$2 != "lo" {sub(/\/.*/, "", $4); print $4}')
for a in $others; do
    if curl -s -m 2 -o /dev/null "http://$a:$hport/metrics"; then
        fail "the HTTP port answers on $a"
    fi
    log "not reachable on $a"
done
[ -n "$others" ] || log "no non-loopback address on this machine to try"

# A broker bound to every interface: its HTTP port stays on loopback...
p2=$(free_port); h2=$(free_port)
start_in_group "$T/broker2.log" "$BROKER_BIN" --bind "tcp://0.0.0.0:$p2" --insecure \
    --state "$T/state2.db" --input-root "$T/in" --output-root "$T/out2" --metrics-port "$h2"
wait_for "the second broker's HTTP port" 15 curl -sf "http://127.0.0.1:$h2/metrics"
[ "$(ss -Hltn "sport = :$h2" | awk '{print $4}')" = "127.0.0.1:$h2" ] \
    || fail "--bind tcp://0.0.0.0: HTTP port not on 127.0.0.1: $(ss -Hltn "sport = :$h2")"
log "--bind tcp://0.0.0.0: HTTP port on 127.0.0.1"
# ...unless --metrics-bind asks for every interface.
p3=$(free_port); h3=$(free_port)
start_in_group "$T/broker3.log" "$BROKER_BIN" --bind "tcp://127.0.0.1:$p3" \
    --state "$T/state3.db" --input-root "$T/in" --output-root "$T/out3" \
    --metrics-port "$h3" --metrics-bind '*'
wait_for "the third broker's HTTP port" 15 curl -sf "http://127.0.0.1:$h3/metrics"
[ "$(ss -Hltn "sport = :$h3" | awk '{print $4}')" = "0.0.0.0:$h3" ] \
    || fail "--metrics-bind '*' not on every interface: $(ss -Hltn "sport = :$h3")"
grep -q "plain HTTP without authentication" "$T/broker3.log" \
    || fail "no warning for an HTTP port open to every interface"
log "--metrics-bind '*': every interface, with a warning"
farm_pass
