#!/bin/bash
# One broker per state file: a second broker started on the same --state
# (another port) must refuse to start, exit non-zero and name the holder
# (its pid and bind URL), while the first keeps serving; the state file
# and its lock are private (mode 0600). Once the first broker is killed
# (kill -9: the lock goes with the process), a broker starts on the state
# at once.
. "$MF_SRC/tests/lib/farm_lib.sh"
. "$MF_SRC/tests/lib/check_lib.sh"

mkdir -p "$T/in"
start_broker "$T/state.db" "$T/in" "$T/out"
first_pid=$BROKER_PID
first_url=$BROKER_URL

# The second broker: it must exit by itself (bounded: no bare sleep).
port2=$(free_port)
set +e
timeout 20 "$BROKER_BIN" --bind "tcp://127.0.0.1:$port2" --state "$T/state.db" \
    --input-root "$T/in" --output-root "$T/out" >"$T/second.log" 2>&1 </dev/null
rc=$?
set -e
log "second broker exited with $rc: $(tr '\n' ' ' <"$T/second.log")"

mode_of () { stat -c %a "$1"; }
check "the second broker refuses to start (exit code 1 or 2, not a timeout)" \
    test "$rc" = 1 -o "$rc" = 2
check "its message says the state file is in use" grep -q "in use by another broker" "$T/second.log"
check "its message names the holder's pid ($first_pid)" grep -qw "pid $first_pid" "$T/second.log"
check "its message names the holder's bind URL" grep -qF "$first_url" "$T/second.log"
check "the first broker still runs" kill -0 "$first_pid"
check "the first broker still answers" "$MASTERFARM" status --broker "$first_url" --timeout 5
check "the state file is mode 600" test "$(mode_of "$T/state.db")" = 600
check "the state lock is mode 600" test "$(mode_of "$T/state.db.lock")" = 600
for side in "$T/state.db-wal" "$T/state.db-shm"; do
    [ -e "$side" ] && check "$(basename "$side") is mode 600" test "$(mode_of "$side")" = 600
done

# The holder killed: the lock is gone with it; a new broker starts.
kill -KILL "$first_pid"
wait "$first_pid" 2>/dev/null || true
start_broker "$T/state.db" "$T/in" "$T/out"
check "a broker starts on the state once the holder is dead" kill -0 "$BROKER_PID"

[ "$fails" = 0 ] || fail "$fails check(s) failed"
farm_pass
