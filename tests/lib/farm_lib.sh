# Shared helpers for the farm's integration and fault scripts (bash).
#
# Source it from a test script:  . "$MF_SRC/tests/lib/farm_lib.sh"
# It sets strict mode, makes a scratch folder ($T), and registers a trap
# that kills every process the script started (whole process groups, so
# task children go too) and removes the scratch folder unless the test
# failed or MF_KEEP=1. Every wait polls a condition against a deadline.
#
# Environment (from ctest): MF_BIN (build folder), MF_SRC (source folder),
# MF_TEST_TMP (scratch root).

set -euo pipefail

MF_BIN=${MF_BIN:?MF_BIN must point at the build folder}
MF_SRC=${MF_SRC:?MF_SRC must point at the source folder}
MF_TEST_TMP=${MF_TEST_TMP:-/tmp}
MASTERFARM="$MF_BIN/masterfarm"
BROKER_BIN="$MF_BIN/masterfarm-broker"
WORKER_BIN="$MF_BIN/masterfarm-worker"
GEN_ALBUM="$MF_BIN/tests/tool_gen_album"

mkdir -p "$MF_TEST_TMP"
T=$(mktemp -d "$MF_TEST_TMP/$(basename "$0" .sh).XXXXXX")
FARM_PIDS=()          # process group leaders we started
FARM_FAILED=1         # cleared by farm_pass
BROKER_PID=""
BROKER_URL=""

# Prints a message with the elapsed time of the script.
SECONDS=0
log () { printf '[%4ds] %s\n' "$SECONDS" "$*"; }

# Fails the test: prints the message and the tail of every log.
fail () {
    printf 'FAIL: %s\n' "$*" >&2
    for f in "$T"/*.log; do
        [ -f "$f" ] || continue
        printf -- '--- %s (last 25 lines)\n' "$f" >&2
        tail -n 25 "$f" >&2 || true
    done
    exit 1
}

# Marks the test passed (the scratch folder is removed on exit).
farm_pass () { FARM_FAILED=0; log "PASS"; }

# Kills every process group we started; removes $T on success.
farm_cleanup () {
    local pid
    for pid in "${FARM_PIDS[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    local deadline=$((SECONDS + 5))
    for pid in "${FARM_PIDS[@]}"; do
        while kill -0 -- "-$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ "$FARM_FAILED" = 0 ] && [ "${MF_KEEP:-0}" != 1 ]; then
        rm -rf "$T"
    else
        echo "scratch folder kept: $T" >&2
    fi
}
trap farm_cleanup EXIT
trap 'exit 130' INT TERM

for b in "$MASTERFARM" "$BROKER_BIN" "$WORKER_BIN" "$GEN_ALBUM"; do
    [ -x "$b" ] || fail "missing binary $b (build first)"
done

# A free TCP port on 127.0.0.1.
free_port () {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Monotonic-enough time in microseconds (wall clock; tests only compare
# differences of a few seconds).
now_us () { echo "${EPOCHREALTIME/./}"; }

# wait_for DESCRIPTION TIMEOUT_S COMMAND...: polls COMMAND every 0.1 s
# until it succeeds; fails the test at the deadline.
wait_for () {
    local what=$1 timeout=$2
    shift 2
    local deadline=$(( $(now_us) + timeout * 1000000 ))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(now_us)" -lt "$deadline" ] || fail "timed out after ${timeout}s waiting for: $what"
        sleep 0.1
    done
}

# start_in_group LOG CMD...: starts CMD in its own process group (so that
# its children can be killed with it), appending output to LOG; sets
# LAST_PID (not printed: a command substitution would lose the child).
LAST_PID=""
start_in_group () {
    local logf=$1
    shift
    setsid "$@" >>"$logf" 2>&1 </dev/null &
    LAST_PID=$!
    FARM_PIDS+=("$LAST_PID")
}

# start_broker STATE INPUT_ROOT OUTPUT_ROOT [PORT]: starts a broker,
# sets BROKER_PID and BROKER_URL, and waits until it answers status.
# BROKER_ARGS (an array) adds options, e.g. BROKER_ARGS=(--storage inline).
BROKER_ARGS=()
start_broker () {
    local state=$1 in=$2 out=$3 port=${4:-}
    [ -n "$port" ] || port=$(free_port)
    BROKER_URL="tcp://127.0.0.1:$port"
    mkdir -p "$out"
    setsid "$BROKER_BIN" --bind "$BROKER_URL" --state "$state" --input-root "$in" \
        --output-root "$out" "${BROKER_ARGS[@]}" >>"$T/broker.log" 2>&1 </dev/null &
    BROKER_PID=$!
    FARM_PIDS+=("$BROKER_PID")
    wait_for "broker at $BROKER_URL to answer" 15 \
        "$MASTERFARM" status --broker "$BROKER_URL" --timeout 1
    log "broker $BROKER_PID at $BROKER_URL"
}

# start_worker NAME [ENV=VALUE...]: starts a worker with one slot (extra
# environment for it only); sets LAST_PID. Its log is $T/NAME.log.
start_worker () {
    local name=$1
    shift
    start_in_group "$T/$name.log" env "$@" "$WORKER_BIN" --connect "$BROKER_URL" --threads 1
}

# status_json [JOB]: the broker's status as JSON on stdout.
status_json () {
    "$MASTERFARM" status ${1:+"$1"} --broker "$BROKER_URL" --json --timeout 5
}

# jq-like access with python: json_get EXPR < JSON (EXPR in python over d).
json_get () {
    python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

# job_field JOB EXPR: EXPR over the job object j, e.g. 'j["state"]'.
job_field () {
    status_json "$1" | json_get "(lambda j: $2)(d['jobs'][0])"
}

# counter NAME: one of the broker's counters.
counter () {
    status_json | json_get "d['counters']['$1']"
}

# job_is JOB STATE: succeeds when the job is in STATE.
job_is () { [ "$(job_field "$1" 'j["state"]')" = "$2" ]; }

# job_final JOB: succeeds when the job is done, failed or cancelled.
job_final () {
    case "$(job_field "$1" 'j["state"]')" in
        done|failed|cancelled|waiting-delivery) return 0 ;;
        *) return 1 ;;
    esac
}

# gen_album DIR ARGS...: generates a test album (job.json in DIR).
gen_album () {
    local dir=$1
    shift
    "$GEN_ALBUM" "$dir" "$@" >"$T/gen.log" 2>&1 || fail "tool_gen_album failed"
}

# submit JOBFILE: submits and prints the job id.
submit () {
    "$MASTERFARM" submit "$1" --broker "$BROKER_URL" || fail "submit of $1 failed"
}

# watch_expect JOB RC FILE: watches JOB to its end (plain lines into FILE,
# then printed) and fails the test unless watch exits RC.
watch_expect () {
    local rc
    set +e
    "$MASTERFARM" watch "$1" --broker "$BROKER_URL" --plain >"$3" 2>&1
    rc=$?
    set -e
    cat "$3"
    [ "$rc" = "$2" ] || fail "watch of job $1 exited $rc, expected $2"
}

# verify_manifests OUTDIR: every album folder under OUTDIR has a
# manifest.json, every file it lists exists with its size and SHA-256
# (checked with sha256sum), every file in the folder is listed, and no
# temporary file is left. Prints the number of files checked.
verify_manifests () {
    python3 - "$1" <<'EOF'
import hashlib, json, os, sys
out = sys.argv[1]
albums = [a for a in sorted(os.listdir(out)) if not a.startswith('.')
          and os.path.isdir(os.path.join(out, a))]
if not albums:
    sys.exit("no album folder in %s" % out)
total = 0
for a in albums:
    d = os.path.join(out, a)
    mpath = os.path.join(d, 'manifest.json')
    if not os.path.exists(mpath):
        sys.exit("%s: no manifest.json" % d)
    m = json.load(open(mpath))
    listed = {}
    for f in m['files']:
        if f['path'] in listed:
            sys.exit("%s: %s listed twice" % (mpath, f['path']))
        listed[f['path']] = f
    present = set()
    for root, dirs, files in os.walk(d):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), d)
            if '.tmp' in name or name.startswith('.'):
                sys.exit("%s: temporary file left: %s" % (d, rel))
            if rel != 'manifest.json':
                present.add(rel)
    if present != set(listed):
        sys.exit("%s: files on disk %s != manifest %s" % (d, sorted(present ^ set(listed)), ''))
    for rel, f in listed.items():
        p = os.path.join(d, rel)
        h = hashlib.sha256(open(p, 'rb').read()).hexdigest()
        if h != f['sha256'] or os.path.getsize(p) != f['bytes']:
            sys.exit("%s: %s does not match its manifest" % (d, rel))
        total += 1
print(total)
EOF
}

# sha256sum_check OUTDIR: the same check with the sha256sum tool: builds a
# "HASH  PATH" list from each manifest and runs sha256sum -c on it.
sha256sum_check () {
    local out=$1 m
    for m in "$out"/*/manifest.json; do
        [ -f "$m" ] || fail "no manifest under $out"
        (cd "$(dirname "$m")" && python3 -c '
import json,sys
for f in json.load(open("manifest.json"))["files"]:
    print("%s  %s" % (f["sha256"], f["path"]))' | sha256sum --quiet -c -) \
            || fail "sha256sum -c failed for $m"
    done
}

# track_outputs OUTDIR PROFILE: number of per-track masters ("NN - *")
# in every album's PROFILE folder.
track_outputs () {
    find "$1" -path "*/$2/[0-9][0-9] - *" -type f | wc -l
}

# audio_digest OUTDIR: sha256 of every audio and CUE file under OUTDIR
# (relative path and hash per line, sorted): what must be byte-identical
# between runs (reports may carry times).
audio_digest () {
    (cd "$1" && find . -path ./.masterfarm -prune -o -type f \
        \( -name '*.wav' -o -name '*.flac' -o -name '*.aiff' -o -name '*.cue' \) -print \
        | LC_ALL=C sort | xargs -r -d '\n' sha256sum)
}

# no_process_like REGEX: succeeds when no running process has a command
# line matching REGEX (reads /proc, so procps is not needed).
no_process_like () {
    local f
    for f in /proc/[0-9]*/cmdline; do
        [ "$f" = "/proc/$$/cmdline" ] && continue
        tr '\0' ' ' 2>/dev/null <"$f" | grep -qE -- "$1" && return 1
    done
    return 0
}

# stop_group PID: SIGTERM to the process group of PID, SIGKILL after 5 s.
stop_group () {
    local pid=$1
    kill -TERM -- "-$pid" 2>/dev/null || return 0
    local deadline=$(( $(now_us) + 5000000 ))
    while kill -0 -- "-$pid" 2>/dev/null && [ "$(now_us)" -lt "$deadline" ]; do
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# file_ids OUTDIR: "inode path" of every file under OUTDIR (staging
# folders included, state and logs left out), sorted by path; a file
# rewritten by an atomic rename gets a new inode, a file published by a
# rename keeps it.
file_ids () {
    (cd "$1" && find . -type f ! -name '*.db' ! -name '*.db-*' ! -name '*.log' \
        -printf '%i %p\n' | LC_ALL=C sort -k2)
}

# catalog_job IN N JOB [PROFILES]: writes JOB, a catalog of N albums that
# all use the tracks of the album generated in IN (IN/job.json), each
# album with its own title ("Album K"), for jobs larger than is quick to
# generate. PROFILES (comma-separated) overrides the profiles.
catalog_job () {
    python3 - "$1" "$2" "$3" "${4:-}" <<'PYEOF'
import json, sys
src, n, dst, profiles = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
d = json.load(open(src + '/job.json'))
base = d['albums'][0]
d['albums'] = [dict(base, title='Album %d' % (k + 1)) for k in range(n)]
if profiles:
    d['defaults']['profiles'] = profiles.split(',')
json.dump(d, open(dst, 'w'), indent=1)
PYEOF
}
