#!/bin/bash
# The broker's dashboard (GET / on --metrics-port) on a real job with one
# failing track (its source corrupt; the album asks for partial delivery):
#  - curl: the album title and a track title, both full of HTML
#    metacharacters, appear escaped (never raw); each track row shows its
#    state (1 and 3 done, 2 failed); the worker shows its version (the
#    project's) and slots, and while the job runs its current task (a
#    first worker hangs in track 3's analysis, MASTERFARM_FAULT, until it
#    is stopped; a second one does the job), with what the album runs
#    and the job's work done and ETA; the
#    failure table gives the reason status gives; the album links its
#    report.html and report.json, which are served (200) and are the
#    album's;
#  - the report links are safe: other names, other albums, "..", and a
#    report file swapped for a symbolic link out of the output root all
#    answer 404 without the linked file's content;
#  - headless Chromium renders the page with no console message (the
#    detector is first shown to see a console error on a probe page) and
#    saves a screenshot to $MF_BIN/tests/dashboard.png.
. "$MF_SRC/tests/lib/farm_lib.sh"

CHROMIUM=${CHROMIUM:-chromium}
command -v "$CHROMIUM" >/dev/null \
    || { echo "SKIP: $CHROMIUM not installed (package chromium)"; exit 77; }

gen_album "$T/in" --tracks 3 --seconds 4 --seed 43 --profiles spotify
python3 - "$T/in/job.json" <<'PY'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
a = j["albums"][0]
a["title"] = "Night & Day <i>\"Live\"</i> 'x'"
a["tracks"][0]["title"] = "<script>alert(1)</script> Intro"
a["partial"] = "deliver"
json.dump(j, open(p, "w"), indent=1)
PY
bad=$(json_get 'd["albums"][0]["tracks"][1]["path"]' <"$T/in/job.json")
head -c 50000 /dev/urandom >"$T/in/$bad"
version=$(sed -n 's/^project(masterfarm VERSION \([0-9.]*\).*/\1/p' "$MF_SRC/CMakeLists.txt")
[ -n "$version" ] || fail "no project version in CMakeLists.txt"

hport=$(free_port)
BROKER_ARGS=(--metrics-port "$hport")
start_broker "$T/state.db" "$T/in" "$T/out"
URL="http://127.0.0.1:$hport"
track3=$(json_get 'd["albums"][0]["tracks"][2]["path"]' <"$T/in/job.json")
start_worker w1 MASTERFARM_FAULT="hang:$(basename "$track3")"
w1=$LAST_PID
job=$(submit "$T/in/job.json")

# While it runs: the worker's current task, on the page too.
wait_for "track 3's analysis as a current task on status.json" 20 \
    bash -c "curl -sf '$URL/status.json' >'$T/during.json' && \
             grep -qF '\"job $job analyze, album 1, track 3, attempt 1\"' '$T/during.json'"
curl -sf "$URL/" >"$T/during.html" || fail "GET / failed"
grep -qF "<br>job $job analyze, album 1, track 3, attempt 1<" "$T/during.html" \
    || grep -qF "<td>job $job analyze, album 1, track 3, attempt 1<" "$T/during.html" \
    || fail "the page does not show the current task"
log "current task shown: job $job analyze, album 1, track 3, attempt 1"
# ...and what the album runs, and the job's progress as status gives it.
grep -qF '<span class="stage">running: analyze 1</span>' "$T/during.html" \
    || fail "the page does not show what the album runs"
grep -qE '<span class="progress">[0-9]+% of the work &middot; ETA ([0-9]+:[0-9]{2}|--:--) &middot; ' \
    "$T/during.html" || fail "the page does not show the job's work done and ETA"
python3 - "$T/during.json" <<'PY' || fail "status.json lacks the album's stage or the job's progress"
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
assert 0 < j["work_done"] < 1 and "eta_s" in j and "speed" in j, j
assert j["albums"][0]["stage"] == "analyze 1" and j["albums"][0]["queued"] == "", j["albums"][0]
PY
# SIGTERM to the worker alone: it hands its task back (not a failure).
kill -TERM "$w1"
wait "$w1" || true
start_worker w2

wait_for "job $job to end" 30 job_final "$job"
status_json "$job" >"$T/status.json"
reason=$(json_get 'd["jobs"][0]["failures"][0]["reason"]' <"$T/status.json")
[ -n "$reason" ] || fail "status gives no failure reason"
curl -sf "$URL/" >"$T/page.html" || fail "GET / failed"

# The page, read as a browser reads it (entities decoded).
python3 - "$T/page.html" "$version" "$reason" "$job" <<'PY' || fail "page check failed"
import sys
from html.parser import HTMLParser
page, version, reason, job = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3], sys.argv[4]
title = "Night & Day <i>\"Live\"</i> 'x'"
for raw in ('<i>"Live"', "<script>", "alert(1)</script>"):
    if raw in page:
        sys.exit("raw markup from the spec in the page: %r" % raw)

class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.cells, self.rows, self.links, self.h3 = [], None, [], [], []
        self.cls = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.cls.append(a.get("class", a.get("id", "")))
        if tag == "tr":
            self.cells = []
        if tag in ("td", "th"):
            self.cells.append(("", a.get("class", "")))
        if tag == "a":
            self.links.append(a.get("href"))
        if tag == "h3":
            self.h3.append("")
        self.stack.append(tag)
    def handle_endtag(self, tag):
        if tag == "tr" and self.cells is not None:
            self.rows.append((self.cls[-1] if self.cls else "", self.cells))
            self.cells = None
        if tag == "table" and self.cls:
            self.cls.pop()
        while self.stack and self.stack.pop() != tag:
            pass
    def handle_data(self, data):
        if self.cells and "td" in self.stack:
            t, c = self.cells[-1]
            self.cells[-1] = (t + data, c)
        if "h3" in self.stack:
            self.h3[-1] += data

p = P()
p.feed(page)
if not any(h.startswith(title) for h in p.h3):
    sys.exit("album title not shown as %r; headings: %r" % (title, p.h3))
tracks = [[c[0] for c in cells] for cls, cells in p.rows if cls == "tracks" and cells[0][1] == "n"]
states = {int(r[0]): r[2] for r in tracks}
if states != {1: "done", 2: "failed", 3: "done"}:
    sys.exit("track states %r" % tracks)
if not any(r[1] == "<script>alert(1)</script> Intro" for r in tracks):
    sys.exit("track 1 title not shown as given: %r" % tracks)
workers = [[c[0] for c in cells] for cls, cells in p.rows
           if cls == "workers" and len(cells) > 1 and cells[1][1] == "version"]
if not any(r[1] == version for r in workers):
    sys.exit("no worker of version %s: %r" % (version, workers))
fails = [[c[0] for c in cells] for cls, cells in p.rows if cls == "failures" and len(cells) == 4
         and cells[3][1] == "err reason"]
if not any(r[3] == reason for r in fails):
    sys.exit("failure reason %r not shown: %r" % (reason, fails))
want = "/report/%s/0/report.html" % job
if want not in p.links or want.replace(".html", ".json") not in p.links:
    sys.exit("no report links %s: %r" % (want, p.links))
print("page: title escaped, states %r, worker %s, reason shown, links %s" % (states, version, want))
PY

# The reports behind the links.
code=$(curl -s -o "$T/report.html" -w '%{http_code} %{content_type}' "$URL/report/$job/0/report.html")
[ "$code" = "200 text/html; charset=utf-8" ] || fail "report.html: $code"
grep -q "Night &amp; Day" "$T/report.html" || fail "report.html is not the album's"
curl -sf "$URL/report/$job/0/report.json" >"$T/report.json" || fail "report.json not served"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/report.json" \
    || fail "report.json does not parse"
grep -qF 'Night & Day' "$T/report.json" || fail "report.json is not the album's"
log "report.html and report.json served"

# Only reports, only beneath the output root.
echo "secret-outside-the-root" >"$T/secret.txt"
for path in "/report/$job/0/manifest.json" "/report/$job/1/report.html" \
            "/report/$job/0/../../../secret.txt" "/report/$job/0/report.html/x" \
            "/report/99/0/report.html" "/report/$job/0/%2e%2e/report.html" "/report/"; do
    c=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$URL$path")
    [ "$c" = 404 ] || fail "GET $path answered $c, expected 404"
done
album_dir=$(find "$T/out" -mindepth 1 -maxdepth 1 -type d ! -name '.masterfarm' | head -n 1)
[ -f "$album_dir/report.json" ] || fail "no delivered report.json in $album_dir"
mv "$album_dir/report.json" "$T/report.json.orig"
ln -s "$T/secret.txt" "$album_dir/report.json"
c=$(curl -s -o "$T/swapped.out" -w '%{http_code}' "$URL/report/$job/0/report.json")
[ "$c" = 404 ] || fail "a report swapped for a symbolic link answered $c"
! grep -q secret "$T/swapped.out" || fail "the symbolic link's target was served"
rm "$album_dir/report.json"
mv "$T/report.json.orig" "$album_dir/report.json"
log "other names, other albums, .. and a symbolic link out of the root: 404"

# Headless Chromium: the detector sees a console error on a probe page...
chrome () {  # chrome LOG ARGS...: one headless run, its stderr in LOG
    local logf=$1
    shift
    timeout 60 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$T/chromium" --enable-logging=stderr --v=0 "$@" 2>"$logf"
}
chrome "$T/probe.log" --dump-dom \
    'data:text/html,<html><body><script>console.error("probe-error")</script></body></html>' \
    >/dev/null || fail "chromium failed on the probe page"
grep -q 'CONSOLE.*probe-error' "$T/probe.log" \
    || fail "the console detector did not see the probe's error: $(grep -c . "$T/probe.log") lines"
# ...and none on the dashboard.
shot="$MF_BIN/tests/dashboard.png"
mkdir -p "$(dirname "$shot")"
rm -f "$shot"
chrome "$T/chromium-shot.log" --window-size=1280,1100 --screenshot="$shot" "$URL/" \
    >/dev/null || fail "chromium failed to take the screenshot"
chrome "$T/chromium-dom.log" --dump-dom "$URL/" >"$T/dom.html" || fail "chromium --dump-dom failed"
for f in "$T/chromium-shot.log" "$T/chromium-dom.log"; do
    if grep -E ':CONSOLE|Uncaught|Refused to' "$f"; then
        fail "console messages while rendering the dashboard ($f)"
    fi
done
[ -s "$shot" ] || fail "no screenshot at $shot"
python3 -c 'import sys; sys.exit(0 if open(sys.argv[1],"rb").read(8) == b"\x89PNG\r\n\x1a\n" else 1)' \
    "$shot" || fail "$shot is not a PNG"
grep -qF 'Night &amp; Day &lt;i&gt;"Live"&lt;/i&gt;' "$T/dom.html" \
    || fail "the rendered DOM does not hold the album title as text"
! grep -q '<i>"Live"</i>' "$T/dom.html" || fail "the album title became markup in the DOM"
log "chromium: no console message; screenshot $shot ($(stat -c %s "$shot") bytes)"
farm_pass
