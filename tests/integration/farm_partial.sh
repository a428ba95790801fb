#!/bin/bash
# An album with a failed track (track 3 of 4, its source file corrupt),
# two profiles (spotify and cd):
#  - a source cut short (its header claiming more) fails as truncated;
#  - by default the album is held: nothing of it in the output root, the
#    job fails, and status, watch and run name the album, track 3 (its
#    number in the spec), the profile scope and the reason;
#  - with "partial": "deliver" it is published marked incomplete: files
#    01, 02 and 04 (the spec's numbers), no album file or CUE, report.json
#    and manifest.json say complete: false and list track 3 with its
#    reason, the manifest lists exactly the files present;
#  - the held state survives a broker restart; once the source is fixed,
#    `masterfarm retry` (after that restart) redoes only track 3 (its
#    analysis and masters) and the assemblies: the other tracks' masters
#    are not run again (the plan did not change: track loudness policy),
#    and the complete album is published with the bytes of a clean run.
. "$MF_SRC/tests/lib/farm_lib.sh"

gen_album "$T/in" --tracks 4 --seconds 5 --seed 23 --policy track --profiles spotify,cd
# A plan that depends on each track alone (no album-wide tonal match), so
# that adding track 3 back leaves the other tracks' plans as they were.
python3 - "$T/in/job.json" <<'EOF'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
j["defaults"]["tonal"] = {"match": "off"}
json.dump(j, open(p, "w"), indent=1)
j["albums"][0]["partial"] = "deliver"
json.dump(j, open(p.replace("job.json", "job-partial.json"), "w"), indent=1)
EOF
album_title=$(json_get 'd["albums"][0]["title"]' <"$T/in/job.json")
track3=$(json_get 'd["albums"][0]["tracks"][2]["path"]' <"$T/in/job.json")
title3=$(json_get 'd["albums"][0]["tracks"][2]["title"]' <"$T/in/job.json")

# The reference: an undisturbed run.
"$MASTERFARM" run "$T/in/job.json" -o "$T/ref" -j 2 >"$T/ref.out" 2>&1 \
    || { cat "$T/ref.out"; fail "the clean run failed"; }
ref_digest=$(audio_digest "$T/ref")
slug=$(cd "$T/ref" && ls)
log "reference album: $slug"

# run_bad NAME WHY: masterfarm run with track 3's source broken (WHY) exits
# 1, names album, track 3 and the reason, and publishes nothing; the
# output in $T/NAME.out.
run_bad () {
    set +e
    "$MASTERFARM" run "$T/in/job.json" -o "$T/$1-out" -j 2 >"$T/$1.out" 2>&1
    local rc=$?
    set -e
    cat "$T/$1.out"
    [ $rc = 1 ] || fail "run with a $2 track exited $rc, expected 1"
    grep -qF "failed: album \"$album_title\" track 3 \"$title3\", every profile: " "$T/$1.out" \
        || fail "run does not name album, track 3 and the reason ($2)"
    [ -z "$(ls "$T/$1-out")" ] || fail "run published an incomplete album: $(ls "$T/$1-out")"
}
cp "$T/in/$track3" "$T/track3.good"

# Track 3's source cut short (a copy that did not finish: its header still
# claims it all): failed as truncated, not delivered shorter.
head -c $(( $(stat -c %s "$T/track3.good") / 2 )) "$T/track3.good" >"$T/in/$track3"
run_bad cut truncated
grep -F "track 3 \"$title3\", every profile: " "$T/cut.out" | grep -q "truncated: its header gives" \
    || fail "run does not name track 3 as truncated"

# Track 3's source becomes unreadable (not audio).
head -c 100000 /dev/urandom >"$T/in/$track3"
run_bad run corrupt

# The farm: held by default.
start_broker "$T/state.db" "$T/in" "$T/out"
start_worker w1
start_worker w2
job=$(submit "$T/in/job.json")
watch_expect "$job" 1 "$T/watch.out"
job_is "$job" failed || fail "the job with a corrupt track is not failed"
[ -z "$(ls "$T/out")" ] || fail "an incomplete album was published: $(ls "$T/out")"
"$MASTERFARM" status "$job" --broker "$BROKER_URL" >"$T/status.out"
cat "$T/status.out"
for f in "$T/watch.out" "$T/status.out"; do
    grep -qF "failed: album \"$album_title\" track 3 \"$title3\", every profile: " "$f" \
        || fail "$(basename "$f" .out) does not name album, track 3 and the reason"
    grep -qF "held: album \"$album_title\"" "$f" || fail "$(basename "$f" .out) does not say the album is held"
done
python3 - "$(status_json "$job")" <<'EOF' || fail "status --json does not carry the failure"
import json, sys
j = json.loads(sys.argv[1])["jobs"][0]
f = j["failures"]
assert len(f) == 1 and f[0]["track"] == 3 and f[0]["profile"] == "" and f[0]["reason"], f
assert j["albums"][0]["state"] == "held" and not j["albums"][0]["complete"], j["albums"]
EOF
log "default: album held, failure named"

# "partial": "deliver": published, marked incomplete, spec numbers.
job2=$(submit "$T/in/job-partial.json")
watch_expect "$job2" 1 "$T/watch2.out"
grep -qF "partial: album \"$album_title\"" "$T/watch2.out" || fail "watch does not say the album is partial"
[ -d "$T/out/$slug" ] || fail "the partial album was not published"
for p in spotify cd; do
    got=$(cd "$T/out/$slug/$p" && ls | LC_ALL=C sort | sed 's/ - .*//' | paste -sd ' ')
    [ "$got" = "01 02 04" ] || fail "$p of the partial album holds: $(ls "$T/out/$slug/$p" | paste -sd '|')"
done
python3 - "$T/out/$slug" <<'EOF' || fail "report/manifest of the partial album"
import json, os, sys
d = sys.argv[1]
for name in ("report.json", "manifest.json"):
    m = json.load(open(os.path.join(d, name)))
    assert m["complete"] is False, (name, m.get("complete"))
    miss = m["missing"]
    assert len(miss) == 1 and miss[0]["track"] == 3 and miss[0]["reason"], (name, miss)
r = json.load(open(os.path.join(d, "report.json")))
assert [t["index"] for t in r["tracks"]] == [1, 2, 4], r["tracks"]
for p in r["profiles"]:
    assert [t["index"] for t in p["tracks"]] == [1, 2, 4], p["profile"]
EOF
n=$(verify_manifests "$T/out") || fail "manifest check: $n"
log "partial: published 01 02 04, complete: false, $n files verified"

# The held state and the failures survive a broker restart.
port=${BROKER_URL##*:}
stop_group "$BROKER_PID"
start_broker "$T/state.db" "$T/in" "$T/out" "$port"
"$MASTERFARM" status "$job" --broker "$BROKER_URL" >"$T/status2.out"
grep -qF "held: album \"$album_title\"" "$T/status2.out" \
    || { cat "$T/status2.out"; fail "after a broker restart the album is no longer held"; }
grep -qF "failed: album \"$album_title\" track 3 \"$title3\"" "$T/status2.out" \
    || { cat "$T/status2.out"; fail "after a broker restart status does not name the failure"; }

# Fix the source, retry: only track 3 and the assemblies run again.
cp "$T/track3.good" "$T/in/$track3"
retry_ms=$(( $(now_us) / 1000 ))
"$MASTERFARM" retry "$job2" --broker "$BROKER_URL" || fail "retry failed"
"$MASTERFARM" watch "$job2" --broker "$BROKER_URL" --plain >"$T/watch3.out" 2>&1 \
    || { cat "$T/watch3.out"; fail "the retried job did not complete"; }
python3 - "$T/state.db" "$job2" "$retry_ms" <<'EOF' || fail "the retry redid more than what failed"
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
job, since = int(sys.argv[2]), int(sys.argv[3])
rows = db.execute("SELECT t.kind, t.track, t.profile, MAX(a.started_ms) FROM tasks t "
                  "JOIN attempts a ON a.task_id = t.id WHERE t.job_id = ? "
                  "GROUP BY t.id", (job,)).fetchall()
rerun = sorted((k, tr) for k, tr, p, s in rows if s >= since)
# analysis (1) and masters (2) of track index 2 only, and the assemblies (3)
want = sorted([(1, 2), (2, 2), (2, 2), (3, -1), (3, -1)])
assert rerun == want, ("ran again after the retry:", rerun)
EOF
[ "$(ls "$T/out")" = "$slug" ] || fail "the output root holds: $(ls "$T/out")"
n=$(verify_manifests "$T/out") || fail "manifest check after the retry: $n"
python3 - "$T/out/$slug" <<'EOF' || fail "the retried album is not marked complete"
import json, os, sys
for name in ("report.json", "manifest.json"):
    m = json.load(open(os.path.join(sys.argv[1], name)))
    assert m["complete"] is True and m["missing"] == [], (name, m.get("missing"))
EOF
[ "$(audio_digest "$T/out")" = "$ref_digest" ] \
    || { diff <(echo "$ref_digest") <(audio_digest "$T/out") || true; fail "the retried album differs from a clean run"; }
log "retry: complete album published, identical to a clean run"
farm_pass
