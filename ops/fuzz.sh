#!/bin/bash
# Builds the libFuzzer targets (clang, -DMF_FUZZ=ON, ASan + UBSan) into
# build-fuzz/ and runs every one of them, or those named, for MINUTES each
# (default 10), each on a copy of its seed corpus (tests/fuzz/corpus/NAME).
#
#   bash ops/fuzz.sh [MINUTES] [fuzz_spec fuzz_wire ...]
#   MF_FUZZ_JOBS=2   targets run at the same time (default 1)
#   MF_FUZZ_OUT=DIR  where corpora, logs and findings go
#                    (default build-fuzz/runs/YYYYmmdd-HHMMSS)
#   MF_FUZZ_KEEP_GOING=1  run in libFuzzer's fork mode, which saves each
#                    crash, timeout or out-of-memory input and carries on,
#                    instead of stopping at the first finding
#
# Prints per target: time run, executions, executions per second, coverage
# (edges and features), corpus size at the end and the units it added, and
# the findings (crash, leak, timeout and out-of-memory inputs, saved under
# DIR/NAME/findings/). Exits 1 if any target found something or did not
# run, 0 otherwise. A finding is replayed with: build-fuzz/tests/NAME FILE
# and belongs, once fixed, in tests/fuzz/corpus/NAME/regress_*.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MINUTES=${1:-10}
[ $# -gt 0 ] && shift
JOBS=${MF_FUZZ_JOBS:-1}
BUILD="$ROOT/build-fuzz"
OUT=${MF_FUZZ_OUT:-$BUILD/runs/$(date -u +%Y%m%d-%H%M%S)}

case "$MINUTES" in
    ''|*[!0-9]*|0) echo "fuzz.sh: MINUTES must be a whole number above 0, got '$MINUTES'" >&2; exit 2 ;;
esac
case "$JOBS" in
    ''|*[!0-9]*|0) echo "fuzz.sh: MF_FUZZ_JOBS must be a whole number above 0, got '$JOBS'" >&2; exit 2 ;;
esac
if ! command -v clang >/dev/null; then
    echo "fuzz.sh: clang is needed (ops/install-deps.sh installs it)" >&2
    exit 2
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for src in "$ROOT"/tests/fuzz/fuzz_*.c; do
        n=$(basename "$src" .c)
        targets+=("$n")
    done
fi
for t in "${targets[@]}"; do
    if [ ! -f "$ROOT/tests/fuzz/$t.c" ]; then
        echo "fuzz.sh: no fuzz target $t (tests/fuzz/$t.c)" >&2
        exit 2
    fi
done

echo "building ${targets[*]} in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DMF_FUZZ=ON -DMF_WERROR=ON \
      -DMF_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]}" >/dev/null

# Longest input per target: room for the seeds and for what each format
# needs to reach its deeper code, small enough to stay fast.
max_len () {
    case "$1" in
        fuzz_audio) echo 65536 ;;
        fuzz_spec)  echo 16384 ;;
        *)          echo 8192 ;;
    esac
}

# Runs one target for MINUTES; its log is OUT/NAME.log, without the
# decoder chatter that libsndfile's MPEG reader prints on every input.
run_one () {
    local t=$1 dir="$OUT/$1" mode=()
    [ "${MF_FUZZ_KEEP_GOING:-0}" = 1 ] && \
        mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    mkdir -p "$dir/corpus" "$dir/findings"
    cp "$ROOT/tests/fuzz/corpus/$t/"* "$dir/corpus/" 2>/dev/null || true
    set +e                              # a finding is reported below, not fatal here
    ( cd "$dir" && ASAN_OPTIONS=detect_leaks=1 \
      "$BUILD/tests/$t" -max_total_time=$((MINUTES * 60)) -max_len="$(max_len "$t")" \
          -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${mode[@]}" \
          -artifact_prefix="$dir/findings/" corpus 2>&1 ) \
        | grep -av --line-buffered -e '^Note: ' -e '^Warning: ' -e '^\[src/libmpg123' > "$OUT/$t.log"
    echo "${PIPESTATUS[0]}" > "$dir/exit"
}

mkdir -p "$OUT"
echo "running each target for $MINUTES min, $JOBS at a time; output in $OUT"
running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

# Summary: libFuzzer's final statistics and last status line per target
# (a value it did not print shows as '?').
set +e
status=0
stat () { grep -a "^stat::$1:" "$log" | tail -1 | awk '{print $2}'; }
printf '\n%-11s %7s %12s %8s %6s %7s %14s %6s %s\n' target seconds executions exec/s cov features corpus added findings
for t in "${targets[@]}"; do
    log="$OUT/$t.log" dir="$OUT/$t"
    execs=$(stat number_of_executed_units) rate=$(stat average_exec_per_sec)
    added=$(stat new_units_added)
    last=$(grep -a -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$log" | tail -1)
    secs=$(grep -a -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{print $5}')
    # fork mode: "#RUNS: cov: N ft: N corp: N exec/s N oom/timeout/crash: a/b/c time: Ns ..."
    fork=$(grep -a -E '^#[0-9]+: cov: ' "$log" | tail -1)
    if [ -n "$fork" ]; then
        last=$fork
        execs=$(echo "$fork" | sed -n 's/^#\([0-9]*\):.*/\1/p')
        secs=$(echo "$fork" | sed -n 's/.* time: \([0-9]*\)s.*/\1/p')
        rate=$(( execs / (secs > 0 ? secs : 1) ))   # the line's own exec/s is the last job's
        added=$(( $(find "$dir/corpus" -type f | wc -l) - \
                  $(find "$ROOT/tests/fuzz/corpus/$t" -type f | wc -l) ))
    fi
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
    findings=$(find "$dir/findings" -type f \( -name 'crash-*' -o -name 'leak-*' \
                    -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    rc=$(cat "$dir/exit" 2>/dev/null || echo "?")
    printf '%-11s %7s %12s %8s %6s %7s %14s %6s %s\n' "$t" "${secs:-?}" "${execs:-?}" \
           "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${added:-?}" "$findings"
    if [ "$findings" -gt 0 ] || [ "$rc" != 0 ]; then
        status=1
        echo "  $t: exit $rc; findings in $dir/findings/, log $log:"
        grep -a -m 5 -E '^==[0-9]+==ERROR|^SUMMARY|ALARM|out-of-memory|deadly signal' "$log" \
            | sed 's/^/    /' || true
    fi
done
exit $status
