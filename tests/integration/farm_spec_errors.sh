#!/bin/bash
# A job spec with several errors is refused as a whole: submit exits 1 and
# prints every error with its JSON path (a CSV catalog: with its line),
# and the broker stores nothing (status lists no job).
. "$MF_SRC/tests/lib/farm_lib.sh"

gen_album "$T/in" --tracks 2 --seconds 1 --seed 5
start_broker "$T/state.db" "$T/in" "$T/out"

# Five different mistakes in one spec.
cat >"$T/bad.json" <<'JSON'
{
  "name": "Broken",
  "priority": 42,
  "defaults": {"profiles": ["spotify", "vinyl"], "gap_s": -3},
  "albums": [
    {"title": "A", "tracks": [
      {"path": "album1/01 - Intro.wav", "fade_in_s": "slow"},
      {"path": "../../etc/passwd"}
    ]}
  ]
}
JSON
set +e
"$MASTERFARM" submit "$T/bad.json" --broker "$BROKER_URL" >"$T/submit.out" 2>"$T/submit.err"
rc=$?
set -e
cat "$T/submit.err"
[ $rc = 1 ] || fail "submit of a bad spec exited $rc, expected 1"
[ ! -s "$T/submit.out" ] || fail "submit printed a job id for a bad spec"
for path in '$.priority' '$.defaults.profiles[1]' '$.defaults.gap_s' \
            '$.albums[0].tracks[0].fade_in_s' '$.albums[0].tracks[1].path'; do
    grep -qF "$path" "$T/submit.err" || fail "error for $path not reported"
done
nerr=$(grep -c "^$T/bad.json: \\$" "$T/submit.err" || true)
[ "$nerr" -ge 5 ] || fail "expected at least 5 error lines, got $nerr"

# A well-formed spec whose files are not there: each path reported.
cat >"$T/paths.json" <<'JSON'
{"name": "Missing", "albums": [{"title": "A", "tracks": [
  {"path": "album1/01 - Intro.wav"}, {"path": "album1/nope.wav"},
  {"path": "album1"}, {"path": "gone/also-missing.flac"}]}]}
JSON
set +e
"$MASTERFARM" submit "$T/paths.json" --broker "$BROKER_URL" >/dev/null 2>"$T/paths.err"
rc=$?
set -e
cat "$T/paths.err"
[ $rc = 1 ] || fail "submit of missing files exited $rc, expected 1"
for path in '$.albums[0].tracks[1].path' '$.albums[0].tracks[2].path' \
            '$.albums[0].tracks[3].path'; do
    grep -qF "$path" "$T/paths.err" || fail "error for $path not reported"
done
grep -qF '$.albums[0].tracks[0].path' "$T/paths.err" && fail "a good path was reported"

# A JSON syntax error: reported with line and column.
printf '{"name": "x",\n  "albums": [\n}\n' >"$T/syntax.json"
set +e
"$MASTERFARM" submit "$T/syntax.json" --broker "$BROKER_URL" 2>"$T/syntax.err"
rc=$?
set -e
cat "$T/syntax.err"
[ $rc = 1 ] || fail "submit of broken JSON exited $rc, expected 1"
grep -q "line 3" "$T/syntax.err" || fail "syntax error without its line"

# A CSV catalog with bad lines: reported by line.
cat >"$T/bad.csv" <<'CSV'
album,track,path,title,artist,isrc,gap_s,fade_in_s,fade_out_s
A,1,album1/01 - Intro.wav,Intro,X,,2.0,0,0
A,2,album1/nope.wav,Nope,X,,abc,0,0
A,3,/etc/passwd,Abs,X,NOTANISRC,1,0,0
CSV
set +e
"$MASTERFARM" submit "$T/bad.csv" --broker "$BROKER_URL" 2>"$T/csv.err"
rc=$?
set -e
cat "$T/csv.err"
[ $rc = 1 ] || fail "submit of a bad CSV exited $rc, expected 1"
grep -q "line 3" "$T/csv.err" || fail "CSV error on line 3 not reported"
grep -q "line 4" "$T/csv.err" || fail "CSV error on line 4 not reported"

# Nothing was stored.
njobs=$(status_json | json_get 'len(d["jobs"])')
[ "$njobs" = 0 ] || fail "the broker stored $njobs job(s) from rejected specs"

# Usage errors exit 2; an unreachable broker exits 1 with a clear line.
set +e
"$MASTERFARM" submit >/dev/null 2>&1; [ $? = 2 ] || fail "submit without a file should exit 2"
"$MASTERFARM" status --broker "tcp://127.0.0.1:$(free_port)" --timeout 1 2>"$T/unreach.err"
rc=$?
set -e
[ $rc = 1 ] || fail "status against no broker exited $rc, expected 1"
grep -q "cannot reach broker at tcp://127.0.0.1:[0-9]* after 1 s" "$T/unreach.err" \
    || fail "no clear message for an unreachable broker: $(cat "$T/unreach.err")"
farm_pass
