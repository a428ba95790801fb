#!/bin/bash
# Hosts on a bad network: the broker and two workers, each in its own
# network namespace made by this test, joined by veth pairs with private
# addresses (10.213.1.0/24 and 10.213.2.0/24, inside the namespaces only:
# nothing is routed to the outside), inline storage (the workers use no
# shared folder). Phases:
#   1. loss: 10% random packet loss each way on both links plus added
#      delay (netem where the kernel has it; otherwise iptables' statistic
#      match for the loss and a tbf rate limit for the delay). No worker
#      may be expired while it is only losing packets.
#   2. partition: worker w1's link goes down for 15 s while it holds a
#      task; the broker expires it and w2 carries on.
#   3. heal: the link comes back (the loss stays). The job must complete,
#      byte-identical to an undisturbed run on loopback; the results w1
#      sends again for tasks already done are counted in
#      duplicate_results, not in late_results; a late result is only one
#      of an attempt the broker gave up on (its task retried elsewhere and
#      still running when the copy came back).
# Skips (exit 77) where network namespaces cannot be made (not root, no
# CAP_NET_ADMIN, no veth), saying why.
. "$MF_SRC/tests/lib/farm_lib.sh"
. "$MF_SRC/tests/lib/check_lib.sh"

skip () { echo "SKIP: $*"; FARM_FAILED=0; exit 77; }

NS_B="mfb$$" NS_1="mfw1$$" NS_2="mfw2$$"
NETNS_MADE=()
netns_cleanup () {
    local ns
    for ns in "${NETNS_MADE[@]}"; do
        ip netns del "$ns" 2>/dev/null || true   # its veth ends go with it
    done
}
trap 'farm_cleanup; netns_cleanup' EXIT

[ "$(id -u)" = 0 ] || skip "network namespaces need root (running as uid $(id -u))"
command -v ip >/dev/null || skip "the ip tool (iproute2) is not installed"
for ns in "$NS_B" "$NS_1" "$NS_2"; do
    ip netns add "$ns" 2>"$T/netns.err" \
        || skip "cannot make a network namespace (no CAP_NET_ADMIN?): $(cat "$T/netns.err")"
    NETNS_MADE+=("$ns")
    ip -n "$ns" link set lo up
done
# in_ns NS CMD...: runs CMD inside namespace NS.
in_ns () { local ns=$1; shift; ip netns exec "$ns" "$@"; }
for i in 1 2; do
    ns_w=$NS_1; [ $i = 2 ] && ns_w=$NS_2
    ip link add "mfb$i-$$" type veth peer name "mfw$i-$$" 2>"$T/netns.err" \
        || skip "cannot make a veth pair: $(cat "$T/netns.err")"
    ip link set "mfb$i-$$" netns "$NS_B"
    ip link set "mfw$i-$$" netns "$ns_w"
    ip -n "$NS_B" addr add "10.213.$i.1/24" dev "mfb$i-$$"
    ip -n "$ns_w" addr add "10.213.$i.2/24" dev "mfw$i-$$"
    ip -n "$NS_B" link set "mfb$i-$$" up
    ip -n "$ns_w" link set "mfw$i-$$" up
done
log "namespaces $NS_B (broker), $NS_1 (w1), $NS_2 (w2) joined by veth pairs"

# Loss and delay on every veth end (so each way of each link).
# MF_CHAOS_RATE: the token bucket's rate where netem is missing.
RATE=${MF_CHAOS_RATE:-40mbit}
IMPAIR=""
impair () {  # impair NS DEV
    local ns=$1 dev=$2
    if tc -n "$ns" qdisc add dev "$dev" root netem loss 10% delay 20ms 5ms 2>/dev/null; then
        IMPAIR="netem loss 10% delay 20ms"
        return 0
    fi
    command -v iptables >/dev/null \
        || fail "the kernel has no netem and iptables is not installed (ops/install-deps.sh)"
    in_ns "$ns" iptables -A INPUT -i "$dev" -m statistic --mode random --probability 0.1 -j DROP \
        || fail "iptables statistic match refused in $ns"
    in_ns "$ns" iptables -A OUTPUT -o "$dev" -m statistic --mode random --probability 0.1 -j DROP
    # Without netem, a token bucket delays what queues up behind it.
    tc -n "$ns" qdisc add dev "$dev" root tbf rate "$RATE" burst 32kb latency 400ms \
        || fail "tc tbf refused on $dev"
    IMPAIR="iptables statistic 10% drop each way + tbf $RATE (no netem in this kernel)"
}

gen_album "$T/in" --tracks 6 --seconds 10 --seed 47 --profiles spotify,cd

# Reference: undisturbed, on loopback, same storage mode.
BROKER_ARGS=(--storage inline)
start_broker "$T/ref.db" "$T/in" "$T/ref"
start_worker ref-w1
rw1=$LAST_PID
start_worker ref-w2
rw2=$LAST_PID
job=$(submit "$T/in/job.json")
"$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/ref.watch" 2>&1 \
    || { cat "$T/ref.watch"; fail "the undisturbed reference run did not complete"; }
audio_digest "$T/ref" >"$T/ref.digest"
(cd "$T/ref" && find . -path ./.masterfarm -prune -o -type f -print | LC_ALL=C sort) >"$T/ref.files"
for pid in "$rw1" "$rw2" "$BROKER_PID"; do stop_group "$pid"; done
mv "$T/broker.log" "$T/ref-broker.log"
log "reference done: $(wc -l <"$T/ref.files") files"

# The farm in the namespaces. Clients run in the broker's namespace.
port=$(free_port)
printf '#!/bin/sh\nexec ip netns exec %s "%s" "$@"\n' "$NS_B" "$MF_BIN/masterfarm" >"$T/mf"
chmod +x "$T/mf"
MASTERFARM="$T/mf"
BROKER_URL="tcp://127.0.0.1:$port"
mkdir -p "$T/out"
start_in_group "$T/broker.log" ip netns exec "$NS_B" "$BROKER_BIN" --bind "tcp://*:$port" \
    --insecure --storage inline --state "$T/state.db" --input-root "$T/in" --output-root "$T/out"
BROKER_PID=$LAST_PID
wait_for "broker in $NS_B to answer" 15 "$MASTERFARM" status --broker "$BROKER_URL" --timeout 1

for i in 1 2; do
    ns=$NS_1; [ $i = 2 ] && ns=$NS_2
    impair "$NS_B" "mfb$i-$$"
    impair "$ns" "mfw$i-$$"
done
log "impairment on both links: $IMPAIR"

# The workers share the filesystem but not the network namespace; inline
# storage makes them read and write nothing under the roots.
start_in_group "$T/w1.log" ip netns exec "$NS_1" "$WORKER_BIN" \
    --connect "tcp://10.213.1.1:$port" --threads 1 --id w1
start_in_group "$T/w2.log" ip netns exec "$NS_2" "$WORKER_BIN" \
    --connect "tcp://10.213.2.1:$port" --threads 1 --id w2
workers_up () { [ "$(status_json | json_get 'len(d["workers"])')" = 2 ]; }
wait_for "both workers registered through the lossy links" 60 workers_up
job=$(submit "$T/in/job.json")
log "job $job submitted"

# Phase 1: loss only, until w1 holds a task and some results are in.
w1_busy () {
    [ "$(status_json | json_get '[w["busy"] for w in d["workers"] if w["id"] == "w1"][0]')" -ge 1 ]
}
some_done () { [ "$(job_field "$job" 'j["tasks_done"]')" -ge 4 ]; }
# Polled until w1 holds a task with 4 tasks done; any expiry meanwhile is
# false (the workers are alive, their links only lose packets) and ends
# the test at once with the broker's words.
phase1_end=$((SECONDS + 120))
while ! { some_done && w1_busy; }; do
    expired=$(counter workers_expired)
    if [ "$expired" != 0 ]; then
        { grep -m 3 -E "silent for|expired" "$T/broker.log" | sed 's/^/  /'; } || true
        fail "false expiry: $expired worker(s) expired while the links only lost packets" \
             "($IMPAIR), before any partition"
    fi
    [ $SECONDS -lt $phase1_end ] \
        || fail "timed out after 120 s waiting for 4 tasks done and w1 busy through the lossy links"
    sleep 0.2
done
check "no worker expired while the links only lost packets" [ "$(counter workers_expired)" = 0 ]

# Phase 2: partition w1 for 15 s.
log "partition: w1's link down for 15 s ($(job_field "$job" 'j["tasks_done"]') tasks done)"
ip -n "$NS_1" link set "mfw1-$$" down
part_end=$((SECONDS + 15))
w1_expired () { [ "$(counter workers_expired)" -ge 1 ]; }
wait_for "the broker to expire the silent w1" 14 w1_expired
while [ $SECONDS -lt $part_end ]; do sleep 0.5; done   # the partition lasts 15 s
ip -n "$NS_1" link set "mfw1-$$" up
log "heal: w1's link up again ($(job_field "$job" 'j["tasks_done"]') tasks done)"

# Phase 3: the job completes; w1 comes back.
if ! timeout 150 "$MASTERFARM" watch "$job" --broker "$BROKER_URL" --plain >"$T/watch.out" 2>&1; then
    tail -n 4 "$T/watch.out" || true
    { grep -E "failed for good" "$T/broker.log" | sed 's/^/  /' | head -n 5; } || true
    fail "the job did not complete within 150 s of the heal; meanwhile the broker expired" \
         "workers $(grep -c 'expired' "$T/broker.log") time(s) and the workers thought the" \
         "broker silent $(cat "$T/w1.log" "$T/w2.log" | grep -c 'silent for') time(s)" \
         "($IMPAIR; inline storage sends whole files as single messages)"
fi
wait_for "w1 registered again after the heal" 60 workers_up
sleep_until=$((SECONDS + 5))   # let w1's re-sent results arrive and be counted
while [ $SECONDS -lt $sleep_until ]; do sleep 0.5; done
status_json >"$T/status.json"
late=$(json_get "d['counters']['late_results']" <"$T/status.json")
dups=$(json_get "d['counters'].get('duplicate_results', 'absent')" <"$T/status.json")
log "counters after the heal: late_results=$late duplicate_results=$dups" \
    "workers_expired=$(json_get "d['counters']['workers_expired']" <"$T/status.json")"
check "the job is done" job_is "$job" done
check "the output equals the undisturbed run's (audio and CUE byte-identical)" \
    diff -u "$T/ref.digest" <(audio_digest "$T/out")
check "the same files are delivered as in the undisturbed run" \
    diff -u "$T/ref.files" <(cd "$T/out" && find . -path ./.masterfarm -prune -o -type f -print | LC_ALL=C sort)
check "every delivered file equals the reference's bytes (reports and manifests too)" \
    bash -c 'cd "$1" && while IFS= read -r f; do cmp "$f" "$2/$f" || exit 1; done <"$3"' _ \
        "$T/ref" "$T/out" "$T/ref.files"
check "manifests complete and true" verify_manifests "$T/out"
check "the broker counts duplicates apart (duplicate_results is in status)" [ "$dups" != absent ]
# A late result is right only for an attempt the broker gave up on (w1's
# attempt of a task retried on w2 and still running there when w1's copy
# came back): each one logged must name an attempt below its task's last.
late_ok () {
    local line task attempt last bad=0
    while read -r task attempt; do
        last=$(sqlite3 "$T/state.db" "SELECT attempts FROM tasks WHERE id = $task")
        if [ -z "$last" ] || [ "$attempt" -ge "$last" ]; then
            echo "  task $task attempt $attempt: late, but the task's last attempt is ${last:-unknown}"
            bad=1
        fi
    done < <(grep -oE "late or unknown result for task [0-9]+ attempt [0-9]+" "$T/broker.log" |
             awk '{print $7, $9}')
    [ "$bad" = 0 ]
}
check "late results only for given-up attempts: re-sent results of done tasks are duplicates (late_results=$late)" \
    late_ok
[ "$fails" = 0 ] || fail "$fails check(s) failed (impairment: $IMPAIR)"
farm_pass
