/*  Status, progress and the HTTP views (see status.h).  */
#include "broker/status.h"

#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "broker/graph.h"

static double s_track_seconds (const album_t *a, size_t i);
static void s_track_stage (const album_t *a, size_t i, char *buf, size_t size);
static void s_status_progress (broker_t *self, job_t *job, status_t *s);

#define S_MAX_FAILURES  100       //  failures listed per job in a status

//  Fills the job's failures (and, with albums, its album rows) into s.
static void
s_status_failures (job_t *job, bool albums, status_t *s)
{
    s->fs = calloc (S_MAX_FAILURES, sizeof *s->fs);
    s->fsp = calloc (S_MAX_FAILURES, sizeof *s->fsp);
    if (albums && job->n_albums) {
        s->as = calloc (job->n_albums, sizeof *s->as);
        s->asp = calloc (job->n_albums, sizeof *s->asp);
    }
    if (!s->fs || !s->fsp)
        return;
    failure_t f [S_MAX_FAILURES];
    size_t k = 0;
    for (size_t ai = 0; ai < job->n_albums && k < S_MAX_FAILURES; ai++) {
        album_t *a = &job->albums [ai];
        size_t n = graph_album_failures (a, f, S_MAX_FAILURES - k);
        for (size_t i = 0; i < n; i++, k++) {
            Masterfarm__Failure *x = &s->fs [k];
            masterfarm__failure__init (x);
            x->album = (uint32_t) ai;
            x->album_title = a->spec->title ? a->spec->title : (char *) "";
            x->track = (uint32_t) f [i].track;
            x->track_title = f [i].title ? (char *) f [i].title : (char *) "";
            x->profile = f [i].profile >= 0
                       ? (char *) profile_get ((profile_id_t) f [i].profile)->name : (char *) "";
            x->reason = (char *) f [i].reason;
            s->fsp [k] = x;
        }
    }
    s->js.failures = s->fsp;
    s->js.n_failures = k;
    if (!s->as || !s->asp)
        return;
    for (size_t ai = 0; ai < job->n_albums; ai++) {
        album_t *a = &job->albums [ai];
        Masterfarm__AlbumStatus *x = &s->as [ai];
        masterfarm__album_status__init (x);
        x->album = (uint32_t) ai;
        x->title = a->spec->title ? a->spec->title : (char *) "";
        x->state = (char *) core_album_state_name (a->state);
        bool complete = graph_album_mastered (a) && !a->error;
        for (int p = 0; p < PROFILE_COUNT; p++)
            if (a->assemble [p] && a->assemble [p]->state != T_DONE)
                complete = false;
        x->complete = complete;
        s->asp [ai] = x;
    }
    s->js.albums = s->asp;
    s->js.n_albums = job->n_albums;
}

//  Whether master m (of album a, profile p) has made its track's master:
//  done, or done in a round before the album correction's last and made
//  again now. Audio and tracks done count it, so they never go back when
//  a correction starts; the job's work counts the round again.
static bool
s_master_made (const album_t *a, int p, const task_t *m)
{
    return m->state == T_DONE
        || (album_master_rounds (a, p) > 0 && m->state != T_FAILED && m->state != T_CANCELLED);
}

//  Fills a JobStatus (with per-track rows when tracks is true); free with
//  status_free.
void
status_fill (broker_t *self, job_t *job, bool tracks, status_t *s)
{
    memset (s, 0, sizeof *s);
    masterfarm__job_status__init (&s->js);
    s->js.job_id = job->id;
    s->js.name = job->name;
    s->js.state = (Masterfarm__JobState) job->state;
    s->js.priority = (uint32_t) job->priority;
    s->js.deadline_ms = job->deadline_ms;
    s->js.deliver_at_ms = job->deliver_at_ms;
    //  A master the album correction queued again is a task run again:
    //  counted once more in the total and, for the rounds before the last,
    //  as done, so that tasks done never go back when a correction starts
    uint32_t again = 0;
    for (size_t ai = 0; ai < job->n_albums; ai++) {
        const album_t *a = &job->albums [ai];
        for (int p = 0; p < PROFILE_COUNT; p++)
            for (size_t i = 0; album_master_rounds (a, p) > 0 && i < a->spec->n_tracks; i++)
                if (a->master [i * PROFILE_COUNT + p] && a->sub_idx && a->sub_idx [i] >= 0)
                    again += (uint32_t) album_master_rounds (a, p);
    }
    s->js.tasks_total = (uint32_t) job->n_tasks + again;
    s->js.tasks_done = job->done + again;
    s->js.tasks_failed = job->failed;
    //  tasks waiting out a backoff (graph.c), and why: the job makes no
    //  progress while they wait, and its watchers are told the cause
    s->js.retrying = (char *) "";
    for (size_t i = 0; i < job->n_tasks; i++) {
        const task_t *t = job->tasks [i];
        if (t->state != T_QUEUED || !t->sched.deferred)
            continue;
        s->js.tasks_retrying++;
        if (t->last_error && *t->last_error)
            s->js.retrying = t->last_error;
    }
    s->js.submitted_ms = job->submitted_ms;
    s->js.output_dir = self->output_root;
    size_t n_tracks = 0;
    for (size_t a = 0; a < job->n_albums; a++)
        n_tracks += job->albums [a].spec->n_tracks;
    if (tracks && n_tracks) {
        s->ts = calloc (n_tracks, sizeof *s->ts);
        s->tsp = calloc (n_tracks, sizeof *s->tsp);
        s->track_stage = calloc (n_tracks, sizeof *s->track_stage);
        if (!s->ts || !s->tsp)
            tracks = false;
    }
    size_t k = 0;
    for (size_t ai = 0; ai < job->n_albums; ai++) {
        album_t *a = &job->albums [ai];
        int n_prof = 0;
        for (int p = 0; p < PROFILE_COUNT; p++)
            n_prof += (a->spec->s.profiles >> p) & 1;
        for (size_t i = 0; i < a->spec->n_tracks; i++) {
            task_t *an = a->analyze [i];
            double dur = s_track_seconds (a, i);
            int state = an ? an->state : T_QUEUED;
            int attempts = an ? an->attempts : 0;
            const char *err = an ? an->last_error : NULL;
            double steps = 1 + n_prof, done = state == T_DONE ? 1 : 0;
            bool made = false;
            if (state == T_DONE) {
                bool all_done = true, all_made = true, any_run = false, any_failed = false;
                for (int p = 0; p < PROFILE_COUNT; p++) {
                    task_t *m = a->master [i * PROFILE_COUNT + p];
                    if (!m)
                        continue;
                    if (m->state == T_DONE)
                        done++;
                    else
                        all_done = false;
                    all_made = all_made && s_master_made (a, p, m);
                    if (m->state == T_DISPATCHED || m->state == T_RUNNING)
                        any_run = true;
                    if (m->state == T_FAILED || m->state == T_CANCELLED) {
                        any_failed = true;
                        err = m->last_error;
                        attempts = m->attempts;
                        state = m->state;
                    }
                    else {
                        if (!any_failed && m->attempts > attempts)
                            attempts = m->attempts;
                        //  a master waiting to be tried again (after a
                        //  resource failure) shows why
                        if (!any_failed && m->state != T_DONE && m->last_error)
                            err = m->last_error;
                    }
                }
                if (!any_failed)
                    state = all_done ? T_DONE : any_run ? T_RUNNING : T_QUEUED;
                made = !any_failed && all_made;
            }
            s->js.audio_total_s += dur;
            if (made)
                s->js.audio_done_s += dur;
            if (tracks && k < n_tracks) {
                Masterfarm__TrackStatus *ts = &s->ts [k];
                masterfarm__track_status__init (ts);
                ts->album = (uint32_t) ai;
                ts->track = (uint32_t) i;
                ts->title = a->spec->tracks [i].title;
                ts->state = (Masterfarm__TaskState) state;
                ts->attempts = (uint32_t) attempts;
                ts->last_error = err ? (char *) err : (char *) "";
                ts->progress = done / steps;
                ts->duration_s = dur;
                if (s->track_stage) {
                    s_track_stage (a, i, s->track_stage [k], sizeof s->track_stage [k]);
                    ts->stage = s->track_stage [k];
                }
                s->tsp [k] = ts;
                k++;
            }
        }
    }
    if (tracks) {
        s->js.tracks = s->tsp;
        s->js.n_tracks = k;
    }
    if (!job->noop)
        s_status_failures (job, tracks, s);
    s_status_progress (self, job, s);
}

//  Frees what status_fill allocated.
void
status_free (status_t *s)
{
    free (s->ts);
    free (s->tsp);
    free (s->fs);
    free (s->fsp);
    free (s->as);
    free (s->asp);
    free (s->track_stage);
    free (s->album_text);
}

//  Sends a WatchEvent for a job to one watcher.
void
status_send_watch (broker_t *self, const watcher_t *wt, job_t *job)
{
    status_t s;
    status_fill (self, job, true, &s);
    Masterfarm__WatchEvent ev = MASTERFARM__WATCH_EVENT__INIT;
    ev.job = &s.js;
    ev.final = core_job_state_final (job->state);
    core_send (self, wt->id, wt->id_size, MASTERFARM__MSG_TYPE__WATCH_EVENT, &ev.base, NULL, 0);
    status_free (&s);
}

//  Sends events to the watchers of changed jobs (all=true: of every job);
//  drops watchers whose job is final.
void
status_watch_notify (broker_t *self, bool all)
{
    size_t j = 0;
    for (size_t i = 0; i < self->n_watch; i++) {
        watcher_t *wt = &self->watch [i];
        job_t *job = core_job_find (self, wt->job_id);
        bool keep = job != NULL;
        if (job && (all || job->dirty)) {
            status_send_watch (self, wt, job);
            if (core_job_state_final (job->state))
                keep = false;
        }
        if (keep)
            self->watch [j++] = *wt;
    }
    self->n_watch = j;
    for (size_t i = 0; i < self->n_jobs; i++)
        self->jobs [i]->dirty = false;
}

#define S_VIEW_JOBS  50           //  newest jobs on the dashboard and status.json

//  True when an album's report files have been written (they are then in
//  its staging folder or, once published, in its delivered folder).
static bool
s_album_has_report (const album_t *a)
{
    return a->state == A_REPORTED || a->state == A_PUBLISHED || a->state == A_PUBLISH_FAILED;
}

//  One album of a job for the view, with its tracks from the status rows.
static json_t *
s_view_album (const job_t *job, size_t ai, const status_t *st)
{
    const album_t *a = &job->albums [ai];
    char profiles [256] = "", link [96];
    for (int p = 0; p < PROFILE_COUNT; p++)
        if ((a->spec->s.profiles >> p) & 1) {
            size_t n = strlen (profiles);
            snprintf (profiles + n, sizeof profiles - n, "%s%s", n ? ", " : "",
                      profile_get ((profile_id_t) p)->name);
        }
    json_t *o = json_pack ("{s:I, s:o, s:s, s:s}", "index", (json_int_t) ai,
                           "title", dashboard_string (a->spec->title),
                           "state", core_album_state_name (a->state), "profiles", profiles);
    if (!o)
        return NULL;
    //  what runs of it, or what of it waits for a worker
    const Masterfarm__AlbumStatus *as = ai < st->js.n_albums ? st->js.albums [ai] : NULL;
    json_object_set_new (o, "stage", dashboard_string (as ? as->stage : NULL));
    json_object_set_new (o, "queued", dashboard_string (as ? as->queued : NULL));
    if (s_album_has_report (a)) {
        snprintf (link, sizeof link, "/report/%llu/%zu/report.html",
                  (unsigned long long) job->id, ai);
        json_object_set_new (o, "report_html", json_string (link));
        snprintf (link, sizeof link, "/report/%llu/%zu/report.json",
                  (unsigned long long) job->id, ai);
        json_object_set_new (o, "report_json", json_string (link));
    }
    json_t *tracks = json_array ();
    for (size_t k = 0; tracks && k < st->js.n_tracks; k++) {
        const Masterfarm__TrackStatus *ts = st->js.tracks [k];
        if (ts->album != ai)
            continue;
        json_array_append_new (tracks, json_pack ("{s:I, s:o, s:s, s:I, s:o}",
            "number", (json_int_t) ts->track + 1, "title", dashboard_string (ts->title),
            "state", core_task_state_name (ts->state), "attempts", (json_int_t) ts->attempts,
            "error", dashboard_string (ts->last_error)));
    }
    json_object_set_new (o, "tracks", tracks ? tracks : json_null ());
    return o;
}

//  One job for the view (status figures, albums, failures).
static json_t *
s_view_job (broker_t *self, job_t *job)
{
    status_t st;
    status_fill (self, job, true, &st);
    char when [40] = "";
    clock_format_rfc3339 (job->submitted_ms, when, sizeof when);
    json_t *o = json_pack ("{s:I, s:o, s:s, s:i, s:I, s:I, s:I, s:f, s:f, s:s}",
        "id", (json_int_t) job->id, "name", dashboard_string (job->name),
        "state", core_job_state_name (job->state), "priority", job->priority,
        "tasks_total", (json_int_t) st.js.tasks_total,
        "tasks_done", (json_int_t) st.js.tasks_done,
        "tasks_failed", (json_int_t) st.js.tasks_failed,
        "audio_done_s", st.js.audio_done_s, "audio_total_s", st.js.audio_total_s,
        "submitted", when);
    if (o) {
        json_object_set_new (o, "tasks_retrying", json_integer (st.js.tasks_retrying));
        json_object_set_new (o, "retrying", dashboard_string (st.js.retrying));
    }
    //  the progress status and watch give (null when not known yet)
    if (o) {
        json_object_set_new (o, "work_done", json_real (st.js.work_done));
        json_object_set_new (o, "eta_s", isfinite (st.js.eta_s) && st.js.eta_s >= 0
                                         ? json_real (st.js.eta_s) : json_null ());
        json_object_set_new (o, "speed", st.js.speed > 0 ? json_real (st.js.speed)
                                                         : json_null ());
    }
    json_t *albums = json_array (), *failures = json_array ();
    for (size_t ai = 0; o && albums && ai < job->n_albums; ai++)
        json_array_append_new (albums, s_view_album (job, ai, &st));
    for (size_t k = 0; o && failures && k < st.js.n_failures; k++) {
        const Masterfarm__Failure *f = st.js.failures [k];
        json_array_append_new (failures, json_pack ("{s:o, s:I, s:o, s:s, s:o}",
            "album_title", dashboard_string (f->album_title), "track", (json_int_t) f->track,
            "track_title", dashboard_string (f->track_title), "profile", f->profile,
            "reason", dashboard_string (f->reason)));
    }
    if (o) {
        json_object_set_new (o, "albums", albums ? albums : json_null ());
        json_object_set_new (o, "failures", failures ? failures : json_null ());
    }
    else {
        json_decref (albums);
        json_decref (failures);
    }
    status_free (&st);
    return o;
}

//  The view the dashboard and /status.json show (see dashboard.h), or NULL
//  when out of memory.
static json_t *
s_view (broker_t *self)
{
    char now [40] = "";
    clock_format_rfc3339 (clock_wall_ms (), now, sizeof now);
    json_t *view = json_pack ("{s:s, s:s}", "version", MF_VERSION, "now", now);
    json_t *workers = json_array (), *jobs = json_array ();
    if (!view || !workers || !jobs) {
        json_decref (view);
        json_decref (workers);
        json_decref (jobs);
        return NULL;
    }
    json_object_set_new (view, "workers", workers);
    json_object_set_new (view, "jobs", jobs);
    int64_t mono = clock_mono_ms ();
    for (size_t i = 0; i < self->n_workers; i++) {
        const worker_info_t *w = &self->workers [i];
        if (!w->live)
            continue;
        json_t *tasks = json_array ();
        for (size_t k = 0; tasks && k < w->n_held; k++) {
            const task_t *t = w->held [k];
            char line [160];
            int n = snprintf (line, sizeof line, "job %llu %s",
                              (unsigned long long) t->sched.job_id, core_kind_name (t->kind));
            if (t->album >= 0 && n > 0 && (size_t) n < sizeof line)
                n += snprintf (line + n, sizeof line - (size_t) n, ", album %d", t->album + 1);
            if (t->track >= 0 && n > 0 && (size_t) n < sizeof line)
                n += snprintf (line + n, sizeof line - (size_t) n, ", track %d", t->track + 1);
            if (t->profile >= 0 && n > 0 && (size_t) n < sizeof line)
                n += snprintf (line + n, sizeof line - (size_t) n, ", %s",
                               profile_get ((profile_id_t) t->profile)->name);
            if (n > 0 && (size_t) n < sizeof line)
                snprintf (line + n, sizeof line - (size_t) n, ", attempt %d", t->attempts);
            json_array_append_new (tasks, json_string (line));
        }
        json_array_append_new (workers, json_pack ("{s:o, s:s, s:I, s:I, s:I, s:I, s:f, s:o}",
            "name", dashboard_string (w->name),
            "version", w->version [0] ? w->version : "unknown",
            "slots", (json_int_t) w->slots, "busy", (json_int_t) w->n_held,
            "done", (json_int_t) w->tasks_done, "failed", (json_int_t) w->tasks_failed,
            "seen_ago_s", (double) (mono - w->last_seen_ms) / 1000.0,
            "tasks", tasks ? tasks : json_null ()));
    }
    size_t first = self->n_jobs > S_VIEW_JOBS ? self->n_jobs - S_VIEW_JOBS : 0;
    for (size_t i = first; i < self->n_jobs; i++)
        json_array_append_new (jobs, s_view_job (self, self->jobs [i]));
    return view;
}

//  The figures of the metrics page sampled now.
static void
s_metrics_sample (broker_t *self, metrics_sample_t *s)
{
    memset (s, 0, sizeof *s);
    for (size_t i = 0; i < self->n_workers; i++)
        if (self->workers [i].live) {
            s->workers_alive++;
            s->slots += self->workers [i].slots;
            s->slots_busy += self->workers [i].n_held;
        }
    for (size_t i = 0; i < self->n_jobs; i++) {
        const job_t *job = self->jobs [i];
        if (job->state > 0 && job->state < METRICS_JOB_STATES)
            s->jobs [job->state]++;
    }
    for (int p = 0; p < METRICS_PRIORITIES && p < SCHED_PRIORITIES; p++)
        s->queued [p] = scheduler_size_at (self->sched, p);
    s->deferred = scheduler_deferred (self->sched);
    s->reports_running = self->n_reporting;
    s->malformed_dropped = self->counters.malformed_dropped;
    s->oversized_dropped = self->counters.oversized_dropped;
    s->unknown_job = self->counters.unknown_job;
    s->late_results = self->counters.late_results;
    s->duplicate_results = self->counters.duplicate_results;
    s->tasks_redispatched = self->counters.tasks_redispatched;
    s->workers_expired = self->counters.workers_expired;
    s->curve_denied = zap_denied (self->zap);
}

//  GET /report/<job>/<album>/report.html|report.json: the album's report,
//  opened beneath the output root (its delivered folder once published,
//  else its staging folder). Fills reply with the file or a 404.
static void
s_http_report (broker_t *self, const char *rest, http_reply_t *reply)
{
    unsigned long long job_id = 0;
    unsigned int album = 0;
    char name [16] = "";
    int used = 0;
    job_t *job = NULL;
    if (sscanf (rest, "%llu/%u/%15[a-z.]%n", &job_id, &album, name, &used) == 3
    &&  rest [used] == 0 && (strcmp (name, "report.html") == 0
                          || strcmp (name, "report.json") == 0))
        job = core_job_find (self, job_id);
    if (!job || album >= job->n_albums || !s_album_has_report (&job->albums [album])) {
        http_reply_text (reply, 404, "text/plain; charset=utf-8", "no such report\n");
        return;
    }
    const album_t *a = &job->albums [album];
    char rel [FSUTIL_NAME_MAX + 96];
    if (a->state == A_PUBLISHED)
        snprintf (rel, sizeof rel, "%s/%s", a->slug, name);
    else
        snprintf (rel, sizeof rel, CORE_STAGING "/job-%llu/%s/%s", job_id, a->slug, name);
    int fd = fsutil_open_beneath (self->output_root, rel, O_RDONLY | O_NOFOLLOW, 0);
    struct stat st;
    if (fd >= 0 && fstat (fd, &st) == 0 && S_ISREG (st.st_mode)) {
        reply->status = 200;
        reply->content_type = name [7] == 'h' ? "text/html; charset=utf-8"
                                              : "application/json";
        reply->fd = fd;
        reply->fd_size = (uint64_t) st.st_size;
        return;
    }
    if (fd >= 0)
        close (fd);
    log_info ("http: report %s/%s not readable: %s", self->output_root, rel, strerror (errno));
    http_reply_text (reply, 404, "text/plain; charset=utf-8", "no such report\n");
}

//  The HTTP port's pages: / (dashboard), /metrics, /status.json and the
//  albums' reports; anything else is 404.
void
status_http_handle (void *arg, const char *path, http_reply_t *reply)
{
    broker_t *self = arg;
    if (strcmp (path, "/metrics") == 0) {
        metrics_sample_t sample;
        s_metrics_sample (self, &sample);
        reply->body = metrics_render (self->metrics, &sample, &reply->body_size);
        reply->status = 200;
        reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
        return;
    }
    if (strcmp (path, "/") == 0 || strcmp (path, "/status.json") == 0) {
        json_t *view = s_view (self);
        if (!view)
            return;                           //  500
        if (path [1] == 0) {
            reply->body = dashboard_render (view, &reply->body_size);
            reply->content_type = "text/html; charset=utf-8";
        }
        else {
            reply->body = json_dumps (view, JSON_COMPACT);
            reply->body_size = reply->body ? strlen (reply->body) : 0;
            reply->content_type = "application/json";
        }
        reply->status = 200;
        json_decref (view);
        return;
    }
    if (strncmp (path, "/report/", 8) == 0) {
        s_http_report (self, path + 8, reply);
        return;
    }
    http_reply_text (reply, 404, "text/plain; charset=utf-8", "not found\n");
}

//  Reads every track's duration from its header (see control.h). Fast:
//  the header only, one open per track.
void
status_job_durations (broker_t *self, job_t *job)
{
    for (size_t ai = 0; ai < job->n_albums; ai++) {
        album_t *a = &job->albums [ai];
        for (size_t i = 0; i < a->spec->n_tracks + a->n_refs; i++)
            a->dur_s [i] = control_audio_seconds (self->input_root, core_input_path (a, i));
    }
}

//  A track's audio seconds: from its analysis when done, else its header.
static double
s_track_seconds (const album_t *a, size_t i)
{
    if (a->analyzed [i] && a->analyses [i].rate_hz > 0)
        return (double) a->analyses [i].frames / a->analyses [i].rate_hz;
    return a->dur_s ? a->dur_s [i] : 0;
}

//  True while a task is on a worker.
bool
status_task_running (const task_t *t)
{
    return t && (t->state == T_DISPATCHED || t->state == T_RUNNING);
}

//  True while a task waits for a worker to take it.
static bool
s_task_queued (const task_t *t)
{
    return t && t->state == T_QUEUED;
}

//  What an album that runs nothing waits for a worker to take, the
//  earliest stage first: "analyze 4", "master 2" or "assemble cd"
//  (profiles: " cd ..." as listed), or "" when idle is false or nothing
//  is queued (it waits for other tracks, or is done).
static void
s_album_queued (char *buf, size_t size, bool idle, uint32_t analyze, uint32_t master,
                const char *profiles)
{
    buf [0] = 0;
    if (!idle)
        return;
    if (analyze)
        snprintf (buf, size, "analyze %u", analyze);
    else
    if (master)
        snprintf (buf, size, "master %u", master);
    else
    if (*profiles)
        snprintf (buf, size, "assemble%s", profiles);
}

//  What runs of a track now: "analyze", "master spotify cd" or "".
static void
s_track_stage (const album_t *a, size_t i, char *buf, size_t size)
{
    buf [0] = 0;
    if (status_task_running (a->analyze [i])) {
        snprintf (buf, size, "analyze");
        return;
    }
    size_t k = 0;
    for (int p = 0; p < PROFILE_COUNT && k + 1 < size; p++)
        if (status_task_running (a->master [i * PROFILE_COUNT + p]))
            k += (size_t) snprintf (buf + k, size - k, "%s%s", k ? " " : "master ",
                                    profile_get ((profile_id_t) p)->name);
}

//  A job that had ended runs again (a retry) at now_ms: the time it sat
//  ended is not time it ran.
static void
s_job_resumes (job_t *job, int64_t now_ms)
{
    if (job->started_ms > 0 && job->finished_ms > 0 && now_ms > job->finished_ms)
        job->idle_ms += now_ms - job->finished_ms;
    job->finished_ms = 0;
}

//  Records a job's first dispatch.
void
status_job_started (broker_t *self, job_t *job, int64_t now_ms)
{
    if (job->started_ms > 0 && job->finished_ms == 0)
        return;
    if (job->started_ms == 0)
        job->started_ms = now_ms;
    s_job_resumes (job, now_ms);
    store_job_times (self->store, job->id, job->started_ms, 0, job->idle_ms);
}

//  A paused job resumes: the time it sat paused while it had started and
//  not ended is not time it ran (its ETA and speed leave it out).
void
status_job_unpaused (broker_t *self, job_t *job)
{
    int64_t now = clock_wall_ms ();
    if (job->paused && job->pause_ms > 0 && job->started_ms > 0 && job->finished_ms == 0) {
        int64_t from = job->pause_ms > job->started_ms ? job->pause_ms : job->started_ms;
        if (now > from)
            job->idle_ms += now - from;
        store_job_times (self->store, job->id, job->started_ms, 0, job->idle_ms);
    }
    job->pause_ms = 0;
}

//  Records that a job reached a final state (finished) or left it again
//  (a retry).
void
status_job_finished (broker_t *self, job_t *job, bool finished)
{
    int64_t now = clock_wall_ms ();
    if ((job->finished_ms > 0) == finished)
        return;
    if (finished)
        job->finished_ms = now;
    else
        s_job_resumes (job, now);
    store_job_times (self->store, job->id, job->started_ms, job->finished_ms, job->idle_ms);
}

//  The cost-model kind of a task, or -1.
static int
s_cost_kind (const task_t *t)
{
    switch (t->kind) {
        case K_ANALYZE:  return CONTROL_ANALYZE;
        case K_MASTER:   return CONTROL_MASTER;
        case K_ASSEMBLE: return CONTROL_ASSEMBLE;
        default:         return -1;
    }
}

//  The audio seconds a task covers: its track, or its whole album.
static double
s_task_audio (const task_t *t)
{
    if (t->album < 0 || (size_t) t->album >= t->job->n_albums)
        return 0;
    const album_t *a = &t->job->albums [t->album];
    if (t->track >= 0)
        return (size_t) t->track < a->spec->n_tracks ? s_track_seconds (a, (size_t) t->track)
                                                    : 0;
    double sum = 0;
    for (size_t i = 0; i < a->spec->n_tracks; i++)
        sum += s_track_seconds (a, i);
    return sum;
}

//  Records what a finished task cost: the time its slot was taken, from
//  dispatch to result (what the task process measured, elapsed_s, leaves
//  out its start, its input's transfer and its result's, which weigh on
//  short tasks), or elapsed_s for a task adopted after a restart.
void
status_task_cost (task_t *t, double elapsed_s)
{
    int kind = s_cost_kind (t);
    double slot_s = t->run_ms > 0 ? (clock_wall_ms () - t->run_ms) / 1000.0 : 0;
    if (kind >= 0)
        control_costs_add (&t->job->costs, kind, t->profile, s_task_audio (t),
                           slot_s > elapsed_s ? slot_s : elapsed_s);
}

//  Records what an album's report (and manifest) process cost.
void
status_report_cost (job_t *job, const album_t *a)
{
    double album_s = 0;
    for (size_t i = 0; i < a->spec->n_tracks; i++)
        album_s += s_track_seconds (a, i);
    if (a->report_ms > 0)
        control_costs_add (&job->costs, CONTROL_REPORT, -1, album_s,
                           (clock_mono_ms () - a->report_ms) / 1000.0);
}

//  Adds one task's cost to done or left: done for a finished task, the
//  time it has run (at most 90% of its estimate) for a running one;
//  failed, cancelled and reused tasks are no work.
//  What is left also goes to *paced, times pace (control_pace).
typedef struct {
    double done, left, paced;
} s_work_t;

static void
s_progress_add (const task_t *t, double cost_s, double pace, int64_t now_ms, s_work_t *w)
{
    if (!t || t->state == T_FAILED || t->state == T_CANCELLED || t->reused)
        return;
    if (t->state == T_DONE) {
        w->done += cost_s;
        return;
    }
    double ran = 0;
    if (status_task_running (t) && t->run_ms > 0)
        ran = (now_ms - t->run_ms) / 1000.0;
    if (ran > 0.9 * cost_s)
        ran = 0.9 * cost_s;
    if (ran < 0)
        ran = 0;
    w->done += ran;
    w->left += cost_s - ran;
    w->paced += (cost_s - ran) * pace;
}

//  Fills the job's progress (work fraction, ETA, speed, times, paused)
//  and the extra album fields (track counts, running stage, profiles).
static void
s_status_progress (broker_t *self, job_t *job, status_t *s)
{
    int64_t now = clock_wall_ms ();
    _Static_assert (PROFILE_COUNT <= CONTROL_VARIANTS, "a cost variant per profile");
    s_work_t w = { 0, 0, 0 };
    double rate [CONTROL_KINDS], master_rate [PROFILE_COUNT], asm_rate [PROFILE_COUNT];
    double pace [CONTROL_KINDS], master_pace [PROFILE_COUNT], asm_pace [PROFILE_COUNT];
    for (int k = 0; k < CONTROL_KINDS; k++) {
        rate [k] = control_rate (&job->costs, k);
        pace [k] = control_pace (&job->costs, k, -1);
    }
    for (int p = 0; p < PROFILE_COUNT; p++) {
        master_rate [p] = control_rate_variant (&job->costs, CONTROL_MASTER, p);
        asm_rate [p] = control_rate_variant (&job->costs, CONTROL_ASSEMBLE, p);
        master_pace [p] = control_pace (&job->costs, CONTROL_MASTER, p);
        asm_pace [p] = control_pace (&job->costs, CONTROL_ASSEMBLE, p);
    }
    if (job->noop) {
        w.done = job->done;
        w.left = (double) job->n_tasks - job->done - job->failed - job->cancelled;
        w.paced = w.left;
    }
    if (s->asp && job->n_albums)
        s->album_text = calloc (job->n_albums, sizeof *s->album_text);
    //  The longest chain left in one album: its tracks' work spread over
    //  every slot, then its longest assembly, then its report. The last
    //  album's assembly and report run alone, whatever the throughput was.
    uint64_t slots = 0;
    for (size_t i = 0; i < self->n_workers; i++)
        if (self->workers [i].live)
            slots += self->workers [i].slots;
    //  The album correction masters an album's tracks again when the album
    //  as mastered reads off its plan (graph.c), which the plan cannot
    //  foresee (a correction made as a gain after the limiter masters
    //  nothing). Its share so far in this job, master rounds per
    //  album read, is expected of every album not read yet: music of one
    //  catalog tends to need it all through or not at all. Nothing is
    //  expected before the first album is read.
    double again [PROFILE_COUNT];
    for (int p = 0; p < PROFILE_COUNT; p++) {
        int reads = 0, rounds = 0;
        for (size_t ai = 0; ai < job->n_albums; ai++)
            if (isfinite (job->albums [ai].shift_read [p][0])) {
                reads++;
                rounds += album_master_rounds (&job->albums [ai], p);
            }
        again [p] = reads ? (double) rounds / reads : 0.0;
    }
    double chain_s = 0, tail_idle = 0;
    for (size_t ai = 0; ai < job->n_albums; ai++) {
        album_t *a = &job->albums [ai];
        const loudness_policy_t policy = a->sub.s.loudness.policy;
        const bool corrects = policy == POLICY_ALBUM || policy == POLICY_HYBRID;
        double album_s = 0, tracks_left = w.left;
        uint32_t n_an = 0, n_ma = 0, n_again = 0, t_done = 0, t_failed = 0;
        uint32_t q_an = 0, q_ma = 0;            //  waiting for a worker
        for (size_t i = 0; i < a->spec->n_tracks; i++) {
            double sec = s_track_seconds (a, i);
            album_s += sec;
            //  A repeated input's analysis will be reused, unless it ran.
            task_t *an = a->analyze [i];
            bool reuse = a->repeat [i] && self->cfg.cache_days > 0 && an && an->state != T_DONE;
            s_progress_add (an, reuse ? 0 : sec * rate [CONTROL_ANALYZE], pace [CONTROL_ANALYZE],
                            now, &w);
            n_an += status_task_running (a->analyze [i]);
            q_an += s_task_queued (a->analyze [i]);
            bool all = a->analyze [i] && a->analyze [i]->state == T_DONE, failed = false;
            failed = a->analyze [i] && a->analyze [i]->state == T_FAILED;
            for (int p = 0; p < PROFILE_COUNT; p++) {
                task_t *m = a->master [i * PROFILE_COUNT + p];
                if (!m)
                    continue;
                s_progress_add (m, sec * master_rate [p], master_pace [p], now, &w);
                if (corrects && again [p] > 0 && !isfinite (a->shift_read [p][0])) {
                    double more = again [p] * sec * master_rate [p];
                    w.left += more;
                    w.paced += more * master_pace [p];
                }
                //  the masters the album correction made before this round
                //  (graph.c): work done, so that progress does not go back
                if (!m->reused)
                    w.done += album_master_rounds (a, p) * sec * master_rate [p];
                n_ma += status_task_running (m);
                q_ma += s_task_queued (m);
                n_again += album_master_rounds (a, p) > 0 && status_task_running (m);
                all = all && s_master_made (a, p, m);
                failed = failed || m->state == T_FAILED;
            }
            t_done += all;
            t_failed += failed;
        }
        for (size_t r = 0; r < a->n_refs; r++) {
            size_t i = a->spec->n_tracks + r;
            task_t *an = a->analyze [i];
            bool reuse = a->repeat [i] && self->cfg.cache_days > 0 && an && an->state != T_DONE;
            s_progress_add (an, reuse ? 0 : s_track_seconds (a, i) * rate [CONTROL_ANALYZE],
                            pace [CONTROL_ANALYZE], now, &w);
            n_an += status_task_running (an);
        }
        tracks_left = w.left - tracks_left;
        char assembling [96] = "", profiles [128] = "", queued [96] = "";
        size_t ka = 0, kp = 0, kq = 0;
        double asm_left = 0, asm_sum = 0;
        for (int p = 0; p < PROFILE_COUNT; p++) {
            task_t *as = a->assemble [p];
            if (!as)
                continue;
            const char *name = profile_get ((profile_id_t) p)->name;
            double before = w.left;
            s_progress_add (as, album_s * asm_rate [p], asm_pace [p], now, &w);
            asm_sum += w.left - before;
            if (w.left - before > asm_left)
                asm_left = w.left - before;
            if (status_task_running (as) && ka + 1 < sizeof assembling)
                ka += (size_t) snprintf (assembling + ka, sizeof assembling - ka, " %s", name);
            if (s_task_queued (as) && kq + 1 < sizeof queued)
                kq += (size_t) snprintf (queued + kq, sizeof queued - kq, " %s", name);
            if (kp + 1 < sizeof profiles)
                kp += (size_t) snprintf (profiles + kp, sizeof profiles - kp, "%s%s",
                                         kp ? " " : "", name);
        }
        //  The report: done once the album left the open state.
        double report_s = album_s * rate [CONTROL_REPORT];
        if (a->state != A_OPEN)
            w.done += report_s;
        else
        if (a->report_pid > 0) {
            double ran = a->report_ms > 0 ? (clock_mono_ms () - a->report_ms) / 1000.0 : 0;
            ran = ran < 0 ? 0 : ran > 0.9 * report_s ? 0.9 * report_s : ran;
            w.done += ran;
            w.left += report_s - ran;
            w.paced += (report_s - ran) * pace [CONTROL_REPORT];
        }
        else {
            w.left += report_s;
            w.paced += report_s * pace [CONTROL_REPORT];
        }
        double report_left = a->state != A_OPEN ? 0 : a->report_pid > 0 ? report_s / 2 : report_s;
        double chain = (slots > 0 ? tracks_left / (double) slots : tracks_left) + asm_left
                     + report_left;
        if (chain > chain_s) {
            chain_s = chain;
            tail_idle = control_tail_idle_s ((int) (slots > 0 ? slots : 1), asm_left, asm_sum,
                                             report_left);
        }
        if (s->album_text && ai < s->js.n_albums) {
            char *stage = s->album_text [ai][0];
            size_t size = sizeof s->album_text [ai][0], k = 0;
            if (n_an)
                k += (size_t) snprintf (stage + k, size - k, "analyze %u", n_an);
            if (n_ma && k + 1 < size)
                k += (size_t) snprintf (stage + k, size - k, "%smaster %u%s", k ? ", " : "", n_ma,
                                        n_again ? " again (album loudness)"
                                                : "");
            if (ka && k + 1 < size)
                k += (size_t) snprintf (stage + k, size - k, "%sassemble%s", k ? ", " : "",
                                        assembling);
            if (a->report_pid > 0 && k + 1 < size)
                snprintf (stage + k, size - k, "%sreport", k ? ", " : "");
            snprintf (s->album_text [ai][1], sizeof s->album_text [ai][1], "%s", profiles);
            //  nothing of it runs: what it waits for a worker to take, so
            //  that an album at 4/4 tracks is not read as stuck
            s_album_queued (s->album_text [ai][2], sizeof s->album_text [ai][2],
                            a->state == A_OPEN && !*stage, q_an, q_ma, queued);
            Masterfarm__AlbumStatus *x = s->js.albums [ai];
            x->tracks = (uint32_t) a->spec->n_tracks;
            x->tracks_done = t_done;
            x->tracks_failed = t_failed;
            x->stage = stage;
            x->profiles = s->album_text [ai][1];
            x->queued = s->album_text [ai][2];
        }
    }
    bool final = core_job_state_final (job->state) || job->state == J_WAITING;
    int64_t end = final && job->finished_ms > 0 ? job->finished_ms : now;
    //  the current pause, as status_job_unpaused will count it
    int64_t paused = 0;
    if (!final && job->paused && job->pause_ms > 0 && job->started_ms > 0)
        paused = end - (job->pause_ms > job->started_ms ? job->pause_ms : job->started_ms);
    double running_s = job->started_ms > 0
                     ? (end - job->started_ms - job->idle_ms - (paused > 0 ? paused : 0)) / 1000.0
                     : 0;
    if (running_s < 0)
        running_s = 0;
    s->js.paused = job->paused;
    s->js.started_ms = job->started_ms;
    s->js.finished_ms = job->finished_ms;
    s->js.running_s = running_s;
    s->js.work_done = w.done + w.left > 0 ? w.done / (w.done + w.left) : final ? 1 : 0;
    s->js.eta_s = final ? 0 : control_eta_s (w.done, w.paced + tail_idle, running_s);
    if (!final && s->js.eta_s >= 0 && chain_s > s->js.eta_s)
        s->js.eta_s = chain_s;
    //  tasks waiting out a backoff wait on the machine (a full disk), not
    //  on the work: no estimate holds until they run again
    if (!final && s->js.tasks_retrying)
        s->js.eta_s = -1;
    if ((final ? running_s > 0 : running_s >= 1) && !job->noop)
        s->js.speed = final ? s->js.audio_done_s / running_s
                            : s->js.audio_total_s * s->js.work_done / running_s;
}
