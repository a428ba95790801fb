#!/bin/bash
# A source whose status changes while its master runs, its audio not (a
# chmod by an operator, a sync that copies the same bytes): the master's
# result may have been read from other audio, so it is not taken; the
# master runs again with the content checked against the SHA-256 its
# analysis read (no strike against the worker), finds it unchanged, and
# the album is delivered. Before, such a master failed for good, and the job
# with it. The worker's test hook MASTERFARM_FAULT=slow:PATTERN holds a
# task's result back 3 s, for the change to land while it runs.
. "$MF_SRC/tests/lib/farm_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 (the command) is not installed"

gen_album "$T/in" --tracks 2 --seconds 4 --seed 43 --profiles spotify
track2=$(json_get 'd["albums"][0]["tracks"][1]["path"]' <"$T/in/job.json")
start_broker "$T/state.db" "$T/in" "$T/out"
start_worker w1 MASTERFARM_FAULT=slow:"$track2"
job=$(submit "$T/in/job.json")
# track 2's master handed out (kind 2: master; state 2 or 3: dispatched, running)
wait_for "track 2's master to be dispatched" 60 bash -c \
    "[ \"\$(sqlite3 -readonly '$T/state.db' 'SELECT count(*) FROM tasks WHERE kind = 2 AND track = 1 AND state IN (2, 3)' 2>/dev/null)\" = 1 ]"
chmod g+w "$T/in/$track2"
watch_expect "$job" 0 "$T/watch.out"
"$MASTERFARM" logs "$job" --album 1 --track 2 --broker "$BROKER_URL" >"$T/logs.out" 2>&1 \
    || fail "logs failed: $(cat "$T/logs.out")"
cat "$T/logs.out"
grep -A1 "master spotify attempt 1 on .*, failed$" "$T/logs.out" \
    | grep -q "error: its input's status changed while it ran: mastered again" \
    || fail "the master's first result was not put aside: $(cat "$T/logs.out")"
grep -q "master spotify attempt 2 on .*, ok$" "$T/logs.out" \
    || fail "the master did not run again as attempt 2 and succeed: $(cat "$T/logs.out")"
grep -qF "$track2: its content is the one its analysis read" "$T/w1.log" \
    || fail "the worker did not check track 2's content: $(tail -n 5 "$T/w1.log")"
[ -n "$(ls "$T/out")" ] || fail "nothing was delivered"
log "a chmod while the master ran: mastered again with its content checked, album delivered"
farm_pass
