#!/bin/bash
# CURVE and the key allow-list (DESIGN.md, Security). Keys are made with
# `masterfarm keygen` for a broker, a worker, a client and an intruder;
# the broker runs with --curve-key and an --allow folder holding the
# worker's and the client's public keys (and a malformed .pub, which is
# reported by name and skipped). Then:
#   - a 2-track album submitted by the allowed client completes on the
#     allowed worker and its files match their manifests;
#   - a worker with the intruder's key never registers nor gets a task,
#     and logs that its key was refused;
#   - the intruder client is refused at once with a clear error (exit 1),
#     the broker logs the refusal with the key's first characters and
#     counts it in its metrics;
#   - a plaintext client is told that the broker requires CURVE (exit 1);
#   - a secret key file with mode 0644 is refused by client, worker and
#     broker;
#   - the broker refuses to start without an allow folder, with an
#     unreadable one, or in plaintext on a non-loopback address without
#     --insecure;
#   - SIGHUP reads the allow folder again: the intruder's key, added,
#     gets in;
#   - on the wire (a recording TCP relay between client and broker) the
#     album title of the submitted spec never appears in clear, while it
#     does through the same relay to a plaintext broker (the control).
. "$MF_SRC/tests/lib/farm_lib.sh"

K="$T/keys"
ALLOW="$T/allow"
mkdir -p "$K" "$ALLOW"
for n in broker worker client intruder; do
    "$MASTERFARM" keygen "$K/$n" >/dev/null || fail "keygen $n failed"
done
[ "$(stat -c %a "$K/client.key")" = 600 ] || fail "keygen: client.key is not mode 0600"
cp "$K/worker.pub" "$K/client.pub" "$ALLOW/"
printf 'public-key = not-a-key\n' >"$ALLOW/bad.pub"
intruder_pub=$(sed -n 's/^public-key = //p' "$K/intruder.pub")
[ ${#intruder_pub} = 40 ] || fail "intruder.pub holds no 40-character key"

# The broker refuses to start when CURVE cannot fail closed, and a
# plaintext broker on a non-loopback address without --insecure.
expect_broker_refused () {
    local want=$1
    shift
    local rc=0
    "$BROKER_BIN" --state "$T/refused.db" --input-root "$T" --output-root "$T/refused-out" \
        "$@" >"$T/refused.out" 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "broker $* exited $rc, expected 2: $(cat "$T/refused.out")"
    grep -q -- "$want" "$T/refused.out" \
        || fail "broker $*: no '$want' in: $(cat "$T/refused.out")"
}
p=$(free_port)
expect_broker_refused "needs --allow" --bind "tcp://127.0.0.1:$p" --curve-key "$K/broker.key"
expect_broker_refused "cannot read it" --bind "tcp://127.0.0.1:$p" --curve-key "$K/broker.key" \
    --allow "$T/no-such-folder"
expect_broker_refused "insecure" --bind "tcp://*:$p"
expect_broker_refused "insecure" --bind "tcp://0.0.0.0:$p"
cp "$K/broker.key" "$T/open.key"
chmod 0644 "$T/open.key"
expect_broker_refused "chmod 600" --bind "tcp://127.0.0.1:$p" --curve-key "$T/open.key" \
    --allow "$ALLOW"
log "broker refuses to start without a usable key, allow folder or --insecure"

# Every client command below uses the allowed client's keys.
export MASTERFARM_CURVE_KEY="$K/client.key" MASTERFARM_BROKER_KEY="$K/broker.pub"

gen_album "$T/in" --tracks 2 --seconds 2 --seed 29 --profiles spotify
metrics_port=$(free_port)
BROKER_ARGS=(--curve-key "$K/broker.key" --allow "$ALLOW" --metrics-port "$metrics_port")
start_broker "$T/state.db" "$T/in" "$T/out"
grep -q "bad.pub.*skipped" "$T/broker.log" || fail "the broker did not report bad.pub as skipped"
grep -q "CURVE on: 2 key(s) allowed" "$T/broker.log" || fail "the broker did not allow 2 keys"

# The intruder's worker first, so that it would get the tasks if it could.
start_in_group "$T/intruder-worker.log" "$WORKER_BIN" --connect "$BROKER_URL" --threads 1 \
    --id intruder --curve-key "$K/intruder.key" --broker-key "$K/broker.pub"
intruder_worker=$LAST_PID
wait_for "the intruder worker to log its refusal" 15 \
    grep -q "refused this worker's key" "$T/intruder-worker.log"
start_in_group "$T/worker.log" "$WORKER_BIN" --connect "$BROKER_URL" --threads 1 \
    --id allowed --curve-key "$K/worker.key" --broker-key "$K/broker.pub"
wait_for "the allowed worker to register" 15 \
    bash -c "[ \"\$('$MASTERFARM' status --broker '$BROKER_URL' --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"workers\"]))')\" = 1 ]"

job=$(submit "$T/in/job.json")
log "job $job submitted over CURVE"
"$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/watch.out" 2>&1 \
    || { cat "$T/watch.out"; fail "watch did not exit 0"; }
[ "$(job_field "$job" 'j["state"]')" = done ] || fail "job $job is not done"
n=$(verify_manifests "$T/out") || fail "manifest check: $n"
[ "$(track_outputs "$T/out" spotify)" = 2 ] || fail "expected 2 spotify masters"
log "album delivered over CURVE: $n files match their manifests"

workers=$(status_json | json_get '" ".join(sorted(w["id"] for w in d["workers"]))')
[ "$workers" = allowed ] || fail "workers known to the broker: '$workers', expected only 'allowed'"
grep -q "task .* started" "$T/intruder-worker.log" && fail "the intruder worker ran a task"
stop_group "$intruder_worker"
log "the intruder's worker never registered: $(grep -m1 -o "refused this worker's key[^:]*" "$T/intruder-worker.log")"

# The intruder client: refused at once, not a timeout.
rc=0
"$MASTERFARM" status --broker "$BROKER_URL" --timeout 10 --curve-key "$K/intruder.key" \
    --broker-key "$K/broker.pub" >"$T/intruder.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "intruder client exited $rc, expected 1: $(cat "$T/intruder.out")"
grep -q "refused this client's key" "$T/intruder.out" \
    || fail "intruder client: unclear error: $(cat "$T/intruder.out")"
wait_for "the broker to log the intruder's key" 10 \
    grep -qF "refused CURVE key ${intruder_pub:0:8}" "$T/broker.log"
denied=$(curl -s "http://127.0.0.1:$metrics_port/metrics" \
         | sed -n 's/^masterfarm_curve_denied_total //p')
[ -n "$denied" ] && [ "$denied" -ge 1 ] || fail "metrics: curve_denied_total is '$denied'"
log "intruder client refused: $(cat "$T/intruder.out"); denials counted: $denied"

# A plaintext client against the CURVE broker.
rc=0
env -u MASTERFARM_CURVE_KEY -u MASTERFARM_BROKER_KEY \
    "$MASTERFARM" status --broker "$BROKER_URL" --timeout 10 >"$T/plain.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "plaintext client exited $rc, expected 1: $(cat "$T/plain.out")"
grep -q "requires CURVE" "$T/plain.out" || fail "plaintext client: unclear error: $(cat "$T/plain.out")"
log "plaintext client: $(cat "$T/plain.out")"

# A client whose secret key file others may read, and half a key set.
rc=0
"$MASTERFARM" status --broker "$BROKER_URL" --curve-key "$T/open.key" >"$T/open.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "chmod 600" "$T/open.out" \
    || fail "client with a 0644 key: exit $rc: $(cat "$T/open.out")"
rc=0
env -u MASTERFARM_BROKER_KEY "$MASTERFARM" status --broker "$BROKER_URL" >"$T/half.out" 2>&1 \
    || rc=$?
[ "$rc" = 2 ] && grep -q "needs both" "$T/half.out" \
    || fail "client with a key pair but no broker key: exit $rc: $(cat "$T/half.out")"
rc=0
"$WORKER_BIN" --connect "$BROKER_URL" --curve-key "$T/open.key" --broker-key "$K/broker.pub" \
    >"$T/open-worker.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "chmod 600" "$T/open-worker.out" \
    || fail "worker with a 0644 key: exit $rc: $(cat "$T/open-worker.out")"
log "a 0644 secret key (client, worker) and a missing broker key are refused"

# SIGHUP: the intruder's key, now allowed, gets in.
cp "$K/intruder.pub" "$ALLOW/"
kill -HUP "$BROKER_PID"
wait_for "the broker to read its allow folder again" 10 grep -q "read again: 3 key(s)" "$T/broker.log"
"$MASTERFARM" status --broker "$BROKER_URL" --curve-key "$K/intruder.key" \
    --broker-key "$K/broker.pub" >/dev/null 2>"$T/hup.out" \
    || fail "the intruder's key, added and reloaded, is still refused: $(cat "$T/hup.out")"
log "SIGHUP: a key added to the allow folder gets in"

# On the wire: a relay that records every byte between client and broker.
cat >"$T/relay.py" <<'EOF'
import socket, sys, threading
listen_port, target_port, capture = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
out = open(capture, "ab", buffering=0)
def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            with lock:
                out.write(data)
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen_port))
srv.listen(16)
while True:
    c, _ = srv.accept()
    u = socket.create_connection(("127.0.0.1", target_port))
    threading.Thread(target=pump, args=(c, u), daemon=True).start()
    threading.Thread(target=pump, args=(u, c), daemon=True).start()
EOF
title=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["albums"][0]["title"])' \
        "$T/in/job.json")
[ ${#title} -ge 4 ] || fail "album title '$title' too short to look for"
# relay_submit NAME BROKER_PORT: submits the job through a recording relay.
relay_submit () {
    local name=$1 target=$2 port
    port=$(free_port)
    : >"$T/$name.cap"
    start_in_group "$T/$name-relay.log" python3 "$T/relay.py" "$port" "$target" "$T/$name.cap"
    local relay=$LAST_PID
    wait_for "relay $name" 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()"
    "$MASTERFARM" submit "$T/in/job.json" --broker "tcp://127.0.0.1:$port" >/dev/null \
        || fail "submit through the $name relay failed"
    stop_group "$relay"
    [ -s "$T/$name.cap" ] || fail "the $name relay recorded nothing"
}
relay_submit curve "${BROKER_URL##*:}"
grep -qaF -- "$title" "$T/curve.cap" && fail "album title '$title' in clear on the CURVE wire"
grep -qaF -- "public-key" "$T/curve.cap" && fail "key file text on the wire"
stop_group "$BROKER_PID"
# The control: the same submit to a plaintext broker shows the title.
BROKER_ARGS=()
unset MASTERFARM_CURVE_KEY MASTERFARM_BROKER_KEY
start_broker "$T/plain.db" "$T/in" "$T/plain-out"
relay_submit plain "${BROKER_URL##*:}"
grep -qaF -- "$title" "$T/plain.cap" || fail "control: the title is not in the plaintext capture"
log "wire: '$title' absent from $(stat -c %s "$T/curve.cap") CURVE bytes, present in plaintext"
farm_pass
