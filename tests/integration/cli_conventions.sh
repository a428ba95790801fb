#!/usr/bin/env bash
# Conventions every program keeps:
#   - --version prints "PROGRAM X.Y.Z" with the version of CMakeLists.txt's
#     project() line, for masterfarm, masterfarm-broker and masterfarm-worker;
#   - --name=VALUE works wherever --name VALUE does: a sample of every
#     client command's options is given in the = form and must be parsed
#     (the command gets past its options and fails later, or succeeds);
#   - a worker given a malformed --connect URL exits 2 (usage), and the
#     systemd units do not restart on exit 2 (RestartPreventExitStatus=2);
#   - a worker sends its version when it registers and status shows it.
. "${MF_SRC:?MF_SRC not set}/tests/lib/farm_lib.sh"

# rc_of CMD...: runs CMD, output to $T/out, prints the exit status.
rc_of () { set +e; "$@" > "$T/out" 2>&1; local rc=$?; set -e; echo $rc; }
# expect RC DESCRIPTION CMD...: CMD exits RC.
expect () {
    local want=$1 what=$2 rc
    shift 2
    rc=$(rc_of "$@")
    [ "$rc" = "$want" ] || { cat "$T/out"; fail "$what: exit $rc, expected $want"; }
}
# expect_parsed DESCRIPTION CMD...: CMD did not stop on its options
# (not exit 2, and no "unknown option" / "needs a value" message).
expect_parsed () {
    local what=$1 rc
    shift
    rc=$(rc_of "$@")
    if [ "$rc" = 2 ] || grep -qE "unknown option|needs a value|needs a file" "$T/out"; then
        cat "$T/out"
        fail "$what: the = form was not parsed (exit $rc)"
    fi
}

# --- --version ---------------------------------------------------------------
version=$(sed -nE 's/^project\(masterfarm VERSION ([0-9.]+).*/\1/p' "$MF_SRC/CMakeLists.txt")
[ -n "$version" ] || fail "no version in CMakeLists.txt's project() line"
for p in masterfarm masterfarm-broker masterfarm-worker; do
    out=$("$MF_BIN/$p" --version) || fail "$p --version did not exit 0"
    [ "$out" = "$p $version" ] || fail "$p --version printed '$out', expected '$p $version'"
    "$MF_BIN/$p" --help | grep -q -- "--version" || fail "$p --help does not mention --version"
done
log "--version: $version on all three"

# --- worker: a malformed URL is a usage error -----------------------------------
for url in "foo://bad" "tcp://no-port" "not a url" "tcp://"; do
    expect 2 "worker --connect '$url'" timeout 10 "$WORKER_BIN" --connect "$url"
    grep -q "tcp://HOST:PORT" "$T/out" || { cat "$T/out"; fail "worker '$url': no hint"; }
done
for u in broker worker; do
    grep -qE '^RestartPreventExitStatus=2$' "$MF_SRC/ops/systemd/masterfarm-$u.service" \
        || fail "masterfarm-$u.service: no RestartPreventExitStatus=2 (a usage error would restart forever)"
done
log "malformed worker URLs exit 2; the units do not restart on 2"

# --- --name=VALUE, every command without a farm ----------------------------------
mkdir -p "$T/empty" "$T/in"
sox -n -r 44100 -c 2 -b 16 "$T/in/a.wav" synth 1 sine 440 vol 0.3
expect_parsed "master --profile= --target-lufs= --spec=" \
    "$MASTERFARM" master "$T/missing.wav" -o "$T/m.wav" --profile=cd --target-lufs=-12 \
    --output="$T/m2.wav"
expect 2 "master --target-lufs=abc is checked" \
    "$MASTERFARM" master "$T/in/a.wav" -o "$T/m.wav" --target-lufs=abc
grep -q "'abc'" "$T/out" || fail "master --target-lufs=abc: the message does not name the value"
expect 0 "master with = options" \
    "$MASTERFARM" master "$T/in/a.wav" --output="$T/m.flac" --profile=cd --target-lufs=-16
expect_parsed "album --profile=" "$MASTERFARM" album "$T/empty" -o "$T/ao" --profile=cd
expect 2 "album --profile=nope is checked" "$MASTERFARM" album "$T/empty" -o "$T/ao" --profile=nope
expect_parsed "run --input-root=" "$MASTERFARM" run "$T/missing.json" --input-root="$T/in" -o "$T/ro"
expect_parsed "submit --broker= --timeout=" \
    "$MASTERFARM" submit "$T/missing.json" --broker=tcp://127.0.0.1:9 --timeout=0.5
expect 2 "submit --timeout=abc is checked" \
    "$MASTERFARM" submit "$T/missing.json" --broker=tcp://127.0.0.1:9 --timeout=abc
rc_of "$MASTERFARM" status --broker=tcp://127.0.0.1:9 --curve-key="$T/none.key" \
    --broker-key="$T/none.pub" > /dev/null
grep -q "none.key: cannot open the key file" "$T/out" \
    || { cat "$T/out"; fail "status --curve-key=FILE: the key file was not the one read"; }
expect 0 "keygen (no value options)" "$MASTERFARM" keygen "$T/k1"
expect 2 "an unknown --name=VALUE option is still refused" \
    "$MASTERFARM" status --nosuch=1 --broker=tcp://127.0.0.1:9
grep -q "unknown option '--nosuch'" "$T/out" || { cat "$T/out"; fail "--nosuch=1: wrong message"; }
log "--name=VALUE accepted by master, album, run, submit, status, keygen"

# --- with a farm: broker and worker with = options, status shows the version ------
port=$(free_port)
BROKER_URL="tcp://127.0.0.1:$port"
mkdir -p "$T/out-root"
start_in_group "$T/broker.log" "$BROKER_BIN" --bind="$BROKER_URL" --state="$T/state.db" \
    --input-root="$T/in" --output-root="$T/out-root" --storage=shared
wait_for "broker with = options to answer" 15 \
    "$MASTERFARM" status --broker="$BROKER_URL" --timeout=1
start_in_group "$T/w1.log" "$WORKER_BIN" --connect="$BROKER_URL" --threads=1 --id=conv-w1
wait_for "worker conv-w1 to register" 15 \
    bash -c '"$1" status --broker="$2" --json | grep -q conv-w1' _ "$MASTERFARM" "$BROKER_URL"
status_json > "$T/status.json"
v=$(json_get '[w["version"] for w in d["workers"] if w["id"] == "conv-w1"][0]' < "$T/status.json")
[ "$v" = "$version" ] || fail "status --json: worker version '$v', expected '$version'"
"$MASTERFARM" status --broker="$BROKER_URL" > "$T/status.txt"
grep -qE "^WORKER +VERSION" "$T/status.txt" || { cat "$T/status.txt"; fail "status: no VERSION column"; }
grep -qE "^conv-w1 +$version " "$T/status.txt" || { cat "$T/status.txt"; fail "status: worker's version not shown"; }
expect 1 "watch --broker= --lost= (unknown job)" \
    "$MASTERFARM" watch 999 --broker="$BROKER_URL" --lost=2
expect 1 "cancel --broker= (unknown job)" "$MASTERFARM" cancel 999 --broker="$BROKER_URL"
expect 1 "retry --broker= (unknown job)" "$MASTERFARM" retry 999 --broker="$BROKER_URL"
echo '{"albums": [{"title": "C", "tracks": [{"path": "a.wav"}]}], "defaults": {"profiles": ["spotify"]}}' \
    > "$T/job.json"
expect 0 "submit --broker= --timeout=" \
    "$MASTERFARM" submit "$T/job.json" --broker="$BROKER_URL" --timeout=5
log "broker, worker, status, watch, cancel, retry, submit take --name=VALUE; status shows version $version"
farm_pass
