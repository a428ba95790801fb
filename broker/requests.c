/*  Client requests (see requests.h).  */
#include "broker/requests.h"

#include <string.h>
#include <sys/wait.h>

#include "broker/graph.h"
#include "broker/publish.h"
#include "broker/jobs.h"
#include "broker/status.h"

static bool s_album_failing (const album_t *a, int only_track);
static int s_retry_check (const job_t *job, const Masterfarm__JobRequest *req, char *why,
                          size_t size);

//  The job a request names, or NULL after answering that there is none.
static job_t *
s_job_asked (broker_t *self, const wire_msg_t *msg, uint64_t job_id)
{
    job_t *job = core_job_find (self, job_id);
    if (!job) {
        self->counters.unknown_job++;
        char text [96];
        snprintf (text, sizeof text, "no job %llu on this broker", (unsigned long long) job_id);
        core_send_error (self, msg, MF_ERR_NOTFOUND, text);
    }
    return job;
}

//  Opens the transaction of a change a request asks for. Returns true, or
//  false after answering that nothing was changed.
static bool
s_change_begin (broker_t *self, const wire_msg_t *msg)
{
    if (store_begin_sync (self->store) == 0)
        return true;
    core_send_error (self, msg, MF_ERR_IO, "the broker cannot write its state file now "
                     "(see its log); nothing was changed, try again");
    return false;
}

//  A reply to a job request: done, until something refuses it.
static Masterfarm__JobReply
s_reply (const job_t *job)
{
    Masterfarm__JobReply reply = MASTERFARM__JOB_REPLY__INIT;
    reply.job_id = job->id;
    reply.ok = true;
    reply.error = (char *) "";
    return reply;
}

//  Commits a request's change and sends its reply (or the failure).
static void
s_change_commit (broker_t *self, const wire_msg_t *msg, Masterfarm__JobReply *reply)
{
    if (store_commit (self->store))
        core_send_error (self, msg, MF_ERR_IO,
                         "the broker could not store the change; see its log");
    else
        core_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__JOB_REPLY, &reply->base,
                   NULL, 0);
}

//  What the tracks' headers show cannot be assembled, as errors, each
//  header read once. The assembly copies a mono track to both channels of
//  a stereo album, and cd is two-channel (Red Book), so an album's tracks
//  are all mono or stereo, or all of one channel count, and cd takes mono
//  or stereo. cd's limits: at most 99 tracks and, when every header
//  reads and no track is trimmed, each track at least 4 s between its
//  INDEX 01 and the next track's pregap and the whole disc within 80:00,
//  as the album's gaps and crossfades lay it out (trimmed albums are
//  checked at their plan). A header that cannot be read is left to the
//  track's analysis.
static void
s_check_inputs (broker_t *self, const job_spec_t *spec, spec_errors_t *errs)
{
    char path [64];
    for (size_t a = 0; a < spec->n_albums; a++) {
        const spec_album_t *al = &spec->albums [a];
        const bool cd = al->s.profiles & (1u << PROFILE_CD);
        int64_t *cd_frames = cd ? calloc (al->n_tracks ? al->n_tracks : 1, sizeof *cd_frames)
                                : NULL;
        bool lengths = cd_frames != NULL;
        int first = 0;
        size_t first_t = 0;
        for (size_t t = 0; t < al->n_tracks; t++) {
            int ch;
            double sec;
            control_audio_header (self->input_root, al->tracks [t].path, &ch, &sec);
            //  trimmed silence shortens a track after its header: its
            //  album's length is then the plan's to check
            if (cd_frames && sec > 0 && !al->tracks [t].s.trim)
                cd_frames [t] = assemble_frames (sec, profile_get (PROFILE_CD)->rate_hz);
            else
                lengths = false;
            if (ch <= 0)
                continue;
            snprintf (path, sizeof path, "$.albums[%zu].tracks[%zu].path", a, t);
            if (cd && ch > 2)
                spec_errors_add (errs, path, 0, 0, "'%s' has %d channels; cd is two-channel "
                                 "(Red Book): give a stereo mix, or leave cd out of this "
                                 "album's profiles", al->tracks [t].path, ch);
            if (!first) {
                first = ch;
                first_t = t;
            }
            else
            if (ch != first && (ch > 2 || first > 2))
                spec_errors_add (errs, path, 0, 0, "'%s' has %d channels where track %zu has "
                                 "%d; an album's tracks are all mono or stereo, or all of one "
                                 "channel count", al->tracks [t].path, ch, first_t + 1, first);
        }
        char err [CORE_ERR_LEN] = "";
        snprintf (path, sizeof path, "$.albums[%zu]", a);
        if (cd && assemble_check_cd (al, lengths ? cd_frames : NULL, err, sizeof err))
            spec_errors_add (errs, path, 0, 0, "%s (profile cd)", err);
        free (cd_frames);
    }
}

//  SUBMIT: validate fully, persist, answer with the id or every error.
void
requests_on_submit (broker_t *self, const wire_msg_t *msg)
{
    const Masterfarm__SubmitRequest *req = (const Masterfarm__SubmitRequest *) msg->body;
    const char *format = req->format && *req->format ? req->format : "json";
    const char *origin = req->origin && *req->origin ? req->origin : "job";
    const char *text = req->spec ? req->spec : "";
    Masterfarm__SubmitReply reply = MASTERFARM__SUBMIT_REPLY__INIT;
    spec_errors_t errs = { 0 };
    job_spec_t *spec = NULL;
    long noop_n = 0;
    store_job_t row = { .format = format, .spec = text, .origin = origin,
                        .submitted_ms = clock_wall_ms (), .state = J_QUEUED };
    if (strcmp (format, "noop") == 0) {
        char err [CORE_ERR_LEN];
        noop_n = jobs_noop_count (text, err, sizeof err);
        if (noop_n < 0)
            spec_errors_add (&errs, "$", 0, 0, "%s", err);
        row.name = "noop";
        row.priority = 5;
    }
    else
    if (strcmp (format, "json") == 0 || strcmp (format, "csv") == 0) {
        spec = format [0] == 'j' ? spec_parse_json (text, strlen (text), origin, &errs)
                                 : spec_parse_csv (text, strlen (text), origin, &errs);
        bool paths_ok = spec && spec_check_paths (spec, self->input_root, &errs) == 0;
        if (paths_ok)
            s_check_inputs (self, spec, &errs);
        for (size_t i = 0; spec && !paths_ok && i < spec->n_albums; i++) {
            //  bad paths: the cd limits that need no header
            char err [CORE_ERR_LEN] = "", path [48];
            if ((spec->albums [i].s.profiles & (1u << PROFILE_CD))
            &&  assemble_check_cd (&spec->albums [i], NULL, err, sizeof err)) {
                snprintf (path, sizeof path, "$.albums[%zu]", i);
                spec_errors_add (&errs, path, 0, 0, "%s (profile cd)", err);
            }
        }
        if (spec) {
            row.name = spec->name;
            row.priority = spec->priority;
            row.deadline_ms = spec->deadline_ms;
            row.deliver_at_ms = spec->deliver_at_ms;
        }
    }
    else
        spec_errors_add (&errs, "format", 0, 0, "unknown spec format '%s' (use json or csv)",
                         format);

    if (errs.n == 0) {
        //  Fails while the state cannot be written (disk full): then the
        //  job is refused, not stored later behind the client's back.
        int rc = store_begin_sync (self->store);
        job_t *job = NULL;
        if (!rc)
            rc = store_job_insert (self->store, &row);
        if (!rc)
            job = jobs_job_new (&row);
        if (!job || jobs_job_insert (self, job))
            rc = rc ? rc : MF_ERR_NOMEM;
        if (!rc)
            status_job_durations (self, job);
        for (long i = 0; !rc && i < noop_n; i++)
            if (!jobs_task_create (self, job, K_NOOP, -1, -1, -1, T_QUEUED))
                rc = MF_ERR_IO;
        for (size_t ai = 0; !rc && job && ai < job->n_albums; ai++) {
            album_t *a = &job->albums [ai];
            for (size_t t = 0; !rc && t < a->spec->n_tracks + a->n_refs; t++)
                if (!jobs_task_create (self, job, K_ANALYZE, (int) ai, (int) t, -1, T_QUEUED))
                    rc = MF_ERR_IO;
            for (size_t t = 0; !rc && t < a->spec->n_tracks; t++)
                for (int p = 0; !rc && p < PROFILE_COUNT; p++)
                    if ((a->spec->s.profiles & (1u << p))
                    &&  !jobs_task_create (self, job, K_MASTER, (int) ai, (int) t, p, T_BLOCKED))
                        rc = MF_ERR_IO;
            for (int p = 0; !rc && p < PROFILE_COUNT; p++)
                if ((a->spec->s.profiles & (1u << p))
                &&  !jobs_task_create (self, job, K_ASSEMBLE, (int) ai, -1, p, T_BLOCKED))
                    rc = MF_ERR_IO;
            if (!rc)
                rc = store_album_set (self->store, job->id, (int) ai, a->slug, A_OPEN);
        }
        //  Acknowledge only what is on disk.
        if (!rc)
            rc = store_commit (self->store);
        if (rc) {
            log_error ("job could not be stored: %s", mf_strerror (rc));
            core_send_error (self, msg, rc, "the broker could not store the job; see its log");
            //  The in-memory job (if any) would not survive a restart:
            //  leave it out of service.
            if (job) {
                for (size_t i = 0; i < job->n_tasks; i++)
                    self->by_id [job->tasks [i]->sched.id] = NULL;
                for (size_t i = 0; i < self->n_jobs; i++)
                    if (self->jobs [i] == job) {
                        memmove (&self->jobs [i], &self->jobs [i + 1],
                                 (self->n_jobs - i - 1) * sizeof *self->jobs);
                        self->n_jobs--;
                        break;
                    }
                jobs_job_free (job);
            }
            spec_destroy (&spec);
            return;
        }
        for (size_t i = 0; i < job->n_tasks; i++)
            if (job->tasks [i]->state == T_QUEUED)
                scheduler_push (self->sched, &job->tasks [i]->sched);
        reply.job_id = job->id;
        log_info ("job %llu '%s' accepted: %zu albums, %zu tasks", (unsigned long long) job->id,
                  job->name, job->n_albums, job->n_tasks);
        publish_job_check (self, job);
    }
    else
        log_info ("submission from %s rejected: %zu error(s), first: %s: %s", origin, errs.n,
                  errs.items [0].path, errs.items [0].message);
    Masterfarm__SpecError *se = calloc (errs.n ? errs.n : 1, sizeof *se);
    Masterfarm__SpecError **sep = calloc (errs.n ? errs.n : 1, sizeof *sep);
    size_t n_err = 0;
    for (size_t i = 0; se && sep && i < errs.n; i++) {
        masterfarm__spec_error__init (&se [i]);
        se [i].path = errs.items [i].path ? errs.items [i].path : (char *) "";
        se [i].line = (uint32_t) errs.items [i].line;
        se [i].column = (uint32_t) errs.items [i].column;
        se [i].message = errs.items [i].message ? errs.items [i].message : (char *) "";
        sep [i] = &se [i];
        n_err++;
    }
    reply.errors = sep;
    reply.n_errors = n_err;
    core_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__SUBMIT_REPLY, &reply.base,
               NULL, 0);
    free (se);
    free (sep);
    spec_errors_clear (&errs);
    spec_destroy (&spec);
}

//  STATUS: one job with its tracks, or every job in summary; workers; counters.
void
requests_on_status (broker_t *self, const wire_msg_t *msg)
{
    const Masterfarm__StatusRequest *req = (const Masterfarm__StatusRequest *) msg->body;
    Masterfarm__StatusReply reply = MASTERFARM__STATUS_REPLY__INIT;
    size_t n = 0;
    job_t *one = NULL;
    if (req->job_id) {
        one = s_job_asked (self, msg, req->job_id);
        if (!one)
            return;
        n = 1;
    }
    else
        n = self->n_jobs;
    status_t *st = calloc (n ? n : 1, sizeof *st);
    Masterfarm__JobStatus **jp = calloc (n ? n : 1, sizeof *jp);
    size_t n_w = 0;
    for (size_t i = 0; i < self->n_workers; i++)
        n_w += self->workers [i].live;
    Masterfarm__WorkerStatus *ws = calloc (n_w ? n_w : 1, sizeof *ws);
    Masterfarm__WorkerStatus **wp = calloc (n_w ? n_w : 1, sizeof *wp);
    if (!st || !jp || !ws || !wp) {
        core_send_error (self, msg, MF_ERR_NOMEM, "the broker is out of memory");
        free (st); free (jp); free (ws); free (wp);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        status_fill (self, one ? one : self->jobs [i], one != NULL, &st [i]);
        jp [i] = &st [i].js;
    }
    size_t k = 0;
    for (size_t i = 0; i < self->n_workers; i++) {
        worker_info_t *w = &self->workers [i];
        if (!w->live)
            continue;
        masterfarm__worker_status__init (&ws [k]);
        ws [k].id = w->name;
        ws [k].slots = w->slots;
        ws [k].busy = (uint32_t) w->n_held;
        ws [k].last_seen_ms = clock_wall_ms () - (clock_mono_ms () - w->last_seen_ms);
        ws [k].tasks_done = w->tasks_done;
        ws [k].tasks_failed = w->tasks_failed;
        ws [k].version = w->version;
        wp [k] = &ws [k];
        k++;
    }
    reply.jobs = jp;
    reply.n_jobs = n;
    reply.workers = wp;
    reply.n_workers = k;
    reply.counters = &self->counters;
    core_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__STATUS_REPLY, &reply.base,
               NULL, 0);
    for (size_t i = 0; i < n; i++)
        status_free (&st [i]);
    free (st); free (jp); free (ws); free (wp);
}

//  WATCH: remember the client and send the first event at once.
void
requests_on_watch (broker_t *self, const wire_msg_t *msg)
{
    const Masterfarm__WatchRequest *req = (const Masterfarm__WatchRequest *) msg->body;
    job_t *job = s_job_asked (self, msg, req->job_id);
    if (!job)
        return;
    watcher_t wt;
    memcpy (wt.id, msg->id, msg->id_size);
    wt.id_size = msg->id_size;
    wt.job_id = job->id;
    status_send_watch (self, &wt, job);
    if (core_job_state_final (job->state))
        return;
    for (size_t i = 0; i < self->n_watch; i++)
        if (self->watch [i].id_size == wt.id_size && self->watch [i].job_id == wt.job_id
        &&  memcmp (self->watch [i].id, wt.id, wt.id_size) == 0)
            return;
    if (self->n_watch == BROKER_MAX_WATCHERS) {
        //  Bounded: the oldest watcher goes.
        memmove (&self->watch [0], &self->watch [1],
                 (BROKER_MAX_WATCHERS - 1) * sizeof self->watch [0]);
        self->n_watch--;
    }
    self->watch [self->n_watch++] = wt;
}

//  Takes a task out of the queue or off its worker (which is told to
//  stop it), leaving its state to the caller.
static void
s_task_withdraw (broker_t *self, task_t *t)
{
    if (t->state == T_QUEUED)
        scheduler_remove (self->sched, &t->sched);
    if ((t->state == T_DISPATCHED || t->state == T_RUNNING) && t->worker >= 0) {
        worker_info_t *w = &self->workers [t->worker];
        Masterfarm__TaskCancel tc = MASTERFARM__TASK_CANCEL__INIT;
        tc.task_id = t->sched.id;
        tc.attempt = t->attempts;
        core_send (self, w->id, w->id_size, MASTERFARM__MSG_TYPE__TASK_CANCEL, &tc.base, NULL, 0);
        store_attempt_end (self->store, t->sched.id, t->attempts, false, "cancelled",
                           clock_wall_ms ());
        core_task_unhold (self, t);
    }
    t->parked = 0;
}

//  Stops a task wherever it is (for cancel).
static void
s_task_cancel (broker_t *self, task_t *t)
{
    if (core_task_state_final (t->state))
        return;
    s_task_withdraw (self, t);
    core_task_set (self, t, T_CANCELLED, NULL);
}

//  Puts a failed or cancelled task back to be run again: queued, or
//  blocked until what it depends on is done.
static void
s_task_reset (broker_t *self, task_t *t, bool queue)
{
    //  the failure counts start again; the attempt numbers go on, so the
    //  attempts before the retry keep their place in the log and a late
    //  result of one of them is not taken for the retry's
    graph_task_counts_clear (self, t);
    t->sched.avoid_worker = -1;
    s_task_withdraw (self, t);
    if (queue)
        core_task_queue (self, t);
    else
        core_task_set (self, t, T_BLOCKED, "");
}

//  RETRY support: runs again only what failed in an album and what
//  depends on it: a failed analysis, its track's masters, then a new
//  plan (a master whose plan did not change keeps its output, see
//  graph_album_replan); a failed master; the assembly of every profile that
//  changed or failed. A held, partial or undelivered album is rebuilt and
//  published when complete.
static void
s_album_retry (broker_t *self, job_t *job, album_t *a, int only_track)
{
    size_t n = a->spec->n_tracks;
    bool analysis_failed = false, changed = false;
    for (size_t i = 0; i < n; i++)
        if ((only_track < 0 || (int) i == only_track)
        &&  (a->analyze [i]->state == T_FAILED || a->analyze [i]->state == T_CANCELLED))
            analysis_failed = true;
    //  What the operator fixed may be a file: a track too short for the
    //  cd, a wrong mix. In an album the retry runs again, a done analysis
    //  whose file is not the one it read (its status, taken before the
    //  read, differs) is made again, with every master of its track; an
    //  unknown status counts as changed.
    bool *moved = calloc (n ? n : 1, sizeof *moved);
    if (moved && s_album_failing (a, only_track))
        for (size_t i = 0; i < n; i++) {
            if ((only_track >= 0 && (int) i != only_track) || a->analyze [i]->state != T_DONE)
                continue;
            cache_stat_t now;
            cache_stat_input (self->input_root, core_input_path (a, i), &now);
            if (cache_stat_same (&a->in_stat [i], &now))
                continue;
            moved [i] = true;
            analysis_failed = true;
            log_info ("job %llu album %d track %zu: %s %s; analysing it again",
                      (unsigned long long) job->id, a->idx + 1, i + 1, core_input_path (a, i),
                      a->in_stat [i].ino ? "changed since it was analysed"
                                         : "may have changed (its status was not recorded)");
        }
    //  a reference file's failed analysis failed every plan of the album
    for (size_t r = 0; only_track < 0 && r < a->n_refs; r++) {
        task_t *an = a->analyze [n + r];
        if (an->state == T_FAILED || an->state == T_CANCELLED) {
            s_task_reset (self, an, true);
            a->replan = a->planned;
            a->planned = false;
            changed = true;
        }
    }
    bool profile_reset [PROFILE_COUNT] = { false };
    if (analysis_failed) {
        //  The plan the done masters were made with, to compare the next
        //  one against (not in memory after a broker restart).
        bool all_final = true;
        for (size_t i = 0; i < n; i++)
            all_final = all_final && core_task_state_final (a->analyze [i]->state);
        if (!a->planned && all_final)
            graph_album_plan (self, job, a);
        a->replan = a->planned;
        a->planned = false;
        for (size_t i = 0; i < n; i++) {
            bool redo = moved && moved [i];
            if (a->analyze [i]->state != T_FAILED && a->analyze [i]->state != T_CANCELLED
            &&  !redo)
                continue;
            if (only_track >= 0 && (int) i != only_track)
                continue;
            s_task_reset (self, a->analyze [i], true);
            for (int p = 0; p < PROFILE_COUNT; p++) {
                task_t *m = a->master [i * PROFILE_COUNT + p];
                if (m && (m->state != T_DONE || redo)) {
                    s_task_reset (self, m, false);
                    profile_reset [p] = true;
                }
            }
        }
        changed = true;
    }
    free (moved);
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < PROFILE_COUNT; p++) {
            task_t *m = a->master [i * PROFILE_COUNT + p];
            if (only_track >= 0 && (int) i != only_track)
                continue;
            if (m && (m->state == T_FAILED || m->state == T_CANCELLED)) {
                //  a failed plan is made again once the analyses are in
                bool queue = a->planned && a->plan_ok [p];
                if (a->planned && !a->plan_ok [p]) {
                    a->replan = true;
                    a->planned = false;
                }
                s_task_reset (self, m, queue);
                profile_reset [p] = true;
                changed = true;
            }
        }
    for (int p = 0; p < PROFILE_COUNT; p++) {
        task_t *as = a->assemble [p];
        if (as && (profile_reset [p] || (only_track < 0 && (as->state == T_FAILED
                                                             || as->state == T_CANCELLED)))) {
            s_task_reset (self, as, false);
            changed = true;
        }
    }
    if (!changed && (only_track >= 0 || (a->state != A_HELD && a->state != A_PUBLISH_FAILED)))
        return;
    free (a->error);
    a->error = NULL;
    //  A report still being written belongs to the old state: let it end.
    if (a->report_pid > 0) {
        waitpid (a->report_pid, NULL, 0);
        a->report_pid = 0;
        self->n_reporting--;
    }
    //  A delivered (partial) album comes back to staging to be rebuilt.
    if (a->state == A_PUBLISHED && changed) {
        char staging_rel [128];
        snprintf (staging_rel, sizeof staging_rel, CORE_STAGING "/job-%llu",
                  (unsigned long long) job->id);
        publish_delivery_back (self, staging_rel, a->slug, job->id);
    }
    if (a->state == A_PUBLISHED && !changed)
        return;
    a->state = A_OPEN;
    store_album_set (self->store, job->id, a->idx, a->slug, A_OPEN);
    graph_album_advance (self, job, a);
}

//  CANCEL and RETRY.
void
requests_on_job_request (broker_t *self, const wire_msg_t *msg, bool cancel)
{
    const Masterfarm__JobRequest *req = (const Masterfarm__JobRequest *) msg->body;
    job_t *job = s_job_asked (self, msg, req->job_id);
    if (!job)
        return;
    Masterfarm__JobReply reply = s_reply (job);
    char refusal [160];
    if (!s_change_begin (self, msg))
        return;
    if (cancel) {
        if (core_job_state_final (job->state)) {
            reply.ok = false;
            reply.error = (char *) "the job has already finished";
        }
        else {
            for (size_t i = 0; i < job->n_tasks; i++)
                s_task_cancel (self, job->tasks [i]);
            job->state = J_CANCELLED;
            store_job_set_state (self->store, job->id, J_CANCELLED, clock_wall_ms ());
            job->dirty = true;
            log_info ("job %llu cancelled", (unsigned long long) job->id);
        }
    }
    else {
        if (job->state == J_CANCELLED) {
            reply.ok = false;
            reply.error = (char *) "the job was cancelled; submit it again";
        }
        else
        if (s_retry_check (job, req, refusal, sizeof refusal)) {
            reply.ok = false;
            reply.error = refusal;
        }
        else {
            size_t before = job->failed;
            if (job->noop) {
                for (size_t i = 0; i < job->n_tasks; i++)
                    if (job->tasks [i]->state == T_FAILED) {
                        job->tasks [i]->attempts = 0;
                        graph_task_counts_clear (self, job->tasks [i]);
                        core_task_queue (self, job->tasks [i]);
                    }
            }
            else
                for (size_t i = 0; i < job->n_albums; i++)
                    if (req->album == 0 || i + 1 == req->album)
                        s_album_retry (self, job, &job->albums [i],
                                       req->track > 0 ? (int) req->track - 1 : -1);
            job->publish_failed = false;
            if (before > 0 || core_job_state_final (job->state)) {
                job->state = J_RUNNING;
                store_job_set_state (self->store, job->id, J_RUNNING, clock_wall_ms ());
            }
            publish_job_check (self, job);
            job->dirty = true;
            reply.count = before > job->failed ? (uint32_t) (before - job->failed) : 0;
            log_info ("job %llu: %zu failed task(s) queued again", (unsigned long long) job->id,
                      before);
        }
    }
    s_change_commit (self, msg, &reply);
}

//  Checks a RETRY narrowed to an album or a track: numbers in range, and
//  something failed there. Returns 0, or -1 with why.
static int
s_retry_check (const job_t *job, const Masterfarm__JobRequest *req, char *why, size_t size)
{
    if (req->album == 0 && req->track == 0)
        return 0;
    if (req->album == 0) {
        snprintf (why, size, "a track number needs an album number (--album A --track N)");
        return -1;
    }
    if (job->noop || req->album > job->n_albums) {
        snprintf (why, size, "the job has no album %u (it has %zu)", req->album,
                  job->noop ? (size_t) 0 : job->n_albums);
        return -1;
    }
    const album_t *a = &job->albums [req->album - 1];
    if (req->track > a->spec->n_tracks) {
        snprintf (why, size, "album %u has no track %u (it has %zu)", req->album, req->track,
                  a->spec->n_tracks);
        return -1;
    }
    if (!s_album_failing (a, req->track ? (int) req->track - 1 : -1)) {
        if (req->track)
            snprintf (why, size, "nothing failed in album %u track %u", req->album, req->track);
        else
            snprintf (why, size, "nothing failed in album %u", req->album);
        return -1;
    }
    return 0;
}

//  Whether something of album a failed or was cancelled (of track
//  only_track's tasks, when >= 0), or the album is held: what a RETRY
//  runs again.
static bool
s_album_failing (const album_t *a, int only_track)
{
    bool failed = false;
    for (size_t i = 0; i < a->spec->n_tracks; i++) {
        if (only_track >= 0 && (int) i != only_track)
            continue;
        const task_t *an = a->analyze [i];
        failed = failed || (an && (an->state == T_FAILED || an->state == T_CANCELLED));
        for (int p = 0; p < PROFILE_COUNT; p++) {
            const task_t *m = a->master [i * PROFILE_COUNT + p];
            failed = failed || (m && (m->state == T_FAILED || m->state == T_CANCELLED));
        }
    }
    for (int p = 0; only_track < 0 && p < PROFILE_COUNT; p++) {
        const task_t *as = a->assemble [p];
        failed = failed || (as && (as->state == T_FAILED || as->state == T_CANCELLED));
    }
    return failed || (only_track < 0 && (a->state == A_HELD || a->state == A_PUBLISH_FAILED));
}

//  PRIORITY, PAUSE and RESUME of a job.
void
requests_on_control_request (broker_t *self, const wire_msg_t *msg)
{
    const Masterfarm__JobRequest *req = (const Masterfarm__JobRequest *) msg->body;
    job_t *job = s_job_asked (self, msg, req->job_id);
    if (!job)
        return;
    Masterfarm__JobReply reply = s_reply (job);
    if (msg->type == MASTERFARM__MSG_TYPE__PRIORITY && req->priority > 9) {
        reply.ok = false;
        reply.error = (char *) "a priority is a whole number from 0 to 9";
    }
    else
    if (core_job_state_final (job->state)) {
        reply.ok = false;
        reply.error = (char *) "the job has already finished";
    }
    if (!reply.ok) {
        core_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__JOB_REPLY, &reply.base,
                   NULL, 0);
        return;
    }
    if (!s_change_begin (self, msg))
        return;
    if (msg->type == MASTERFARM__MSG_TYPE__PRIORITY) {
        job->priority = (int) req->priority;
        for (size_t i = 0; i < job->n_tasks; i++) {
            sched_task_t *st = &job->tasks [i]->sched;
            bool queued = st->heap_index != SCHED_NOT_QUEUED && !st->deferred;
            if (queued)
                scheduler_remove (self->sched, st);
            st->priority = job->priority;
            if (queued)
                scheduler_push (self->sched, st);
        }
        log_info ("job %llu: priority %d", (unsigned long long) job->id, job->priority);
    }
    else
    if (msg->type == MASTERFARM__MSG_TYPE__PAUSE) {
        //  Queued tasks leave the queue when a worker would take them
        //  (dispatch_run); running ones finish.
        if (!job->paused)
            job->pause_ms = clock_wall_ms ();
        job->paused = true;
        for (size_t i = 0; i < job->n_tasks; i++)
            reply.count += status_task_running (job->tasks [i]);
        log_info ("job %llu paused: nothing new is dispatched; %u task(s) running finish",
                  (unsigned long long) job->id, reply.count);
    }
    else {
        status_job_unpaused (self, job);
        job->paused = false;
        for (size_t i = 0; i < job->n_held; i++) {
            task_t *t = job->held [i];
            if (t->state == T_QUEUED && t->sched.heap_index == SCHED_NOT_QUEUED) {
                scheduler_push (self->sched, &t->sched);
                reply.count++;
            }
        }
        job->n_held = 0;
        log_info ("job %llu resumed: %u held task(s) queued again", (unsigned long long) job->id,
                  reply.count);
    }
    store_job_control (self->store, job->id, job->priority, job->paused);
    job->dirty = true;
    s_change_commit (self, msg, &reply);
}

#define S_LOGS_MAX        2000          //  attempts in one LOGS reply
#define S_LOGS_MAX_BYTES  (8u << 20)    //  text in one LOGS reply

typedef struct {
    Masterfarm__AttemptLog  *rows;
    Masterfarm__AttemptLog **ptrs;
    size_t                   n;
    size_t                   bytes;
    bool                     truncated;
    const job_t             *job;
} s_logs_t;

//  Copies one attempt row into the reply (strings owned).
static int
s_logs_row (void *arg, const store_attempt_t *at)
{
    s_logs_t *l = arg;
    size_t bytes = (at->error ? strlen (at->error) : 0)
                 + (at->stderr_tail ? strlen (at->stderr_tail) : 0) + 256;
    if (l->n == S_LOGS_MAX || l->bytes + bytes > S_LOGS_MAX_BYTES) {
        l->truncated = true;
        return 1;
    }
    Masterfarm__AttemptLog *x = &l->rows [l->n];
    masterfarm__attempt_log__init (x);
    const profile_t *p = at->profile >= 0 ? profile_get ((profile_id_t) at->profile) : NULL;
    x->task_id = at->task_id;
    x->kind = (char *) core_kind_name (at->kind);
    x->album = at->album >= 0 ? (uint32_t) at->album + 1 : 0;
    x->track = at->track >= 0 ? (uint32_t) at->track + 1 : 0;
    //  an album's reference file: after its tracks in the task numbering
    const album_t *a = at->album >= 0 && (size_t) at->album < l->job->n_albums
                     ? &l->job->albums [at->album] : NULL;
    if (a && at->track >= 0 && (size_t) at->track >= a->spec->n_tracks) {
        x->reference = (char *) core_input_path (a, (size_t) at->track);
        x->track = 0;
    }
    x->profile = p ? (char *) p->name : (char *) "";
    x->attempt = (uint32_t) (at->attempt > 0 ? at->attempt : 0);
    x->worker = strdup (at->worker ? at->worker : "");
    x->started_ms = at->started_ms;
    x->ended_ms = at->ended_ms;
    x->ok = at->ok;
    x->error = strdup (at->error ? at->error : "");
    x->stderr_tail = strdup (at->stderr_tail ? at->stderr_tail : "");
    l->ptrs [l->n++] = x;
    l->bytes += bytes;
    return x->worker && x->error && x->stderr_tail ? 0 : MF_ERR_NOMEM;
}

//  LOGS: every recorded attempt of a job's tasks (or of one album or
//  track), with worker, times, error and stderr tail.
void
requests_on_logs (broker_t *self, const wire_msg_t *msg)
{
    const Masterfarm__LogsRequest *req = (const Masterfarm__LogsRequest *) msg->body;
    job_t *job = s_job_asked (self, msg, req->job_id);
    if (!job)
        return;
    char text [128];
    const album_t *a = req->album && req->album <= job->n_albums
                     ? &job->albums [req->album - 1] : NULL;
    if (((req->track || req->reference) && !req->album) || (req->track && req->reference)
    ||  (req->album && !a) || (req->track && req->track > a->spec->n_tracks)
    ||  (req->reference && req->reference > a->n_refs)) {
        if ((req->track || req->reference) && !req->album)
            snprintf (text, sizeof text, "a track or reference number needs an album number");
        else
        if (req->track && req->reference)
            snprintf (text, sizeof text, "a track or a reference, not both");
        else
        if (!a)
            snprintf (text, sizeof text, "job %llu has no album %u",
                      (unsigned long long) job->id, req->album);
        else
        if (req->track)
            snprintf (text, sizeof text, "album %u has no track %u", req->album, req->track);
        else
            snprintf (text, sizeof text, "album %u has %zu reference file(s), not %u",
                      req->album, a->n_refs, req->reference);
        core_send_error (self, msg, MF_ERR_INVALID, text);
        return;
    }
    //  an album's reference files come after its tracks in the task numbering
    int track = req->reference ? (int) (a->spec->n_tracks + req->reference) - 1
                               : (int) req->track - 1;
    s_logs_t l = { .job = job };
    l.rows = calloc (S_LOGS_MAX, sizeof *l.rows);
    l.ptrs = calloc (S_LOGS_MAX, sizeof *l.ptrs);
    int rc = l.rows && l.ptrs ? 0 : MF_ERR_NOMEM;
    if (!rc)
        rc = store_attempts_load (self->store, job->id, (int) req->album - 1, track,
                                  s_logs_row, &l);
    if (rc < 0)
        core_send_error (self, msg, rc, rc == MF_ERR_NOMEM ? "the broker is out of memory"
                                                        : "the broker cannot read its state "
                                                          "file now; see its log");
    else {
        Masterfarm__LogsReply reply = MASTERFARM__LOGS_REPLY__INIT;
        reply.job_id = job->id;
        reply.attempts = l.ptrs;
        reply.n_attempts = l.n;
        reply.truncated = l.truncated;
        core_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__LOGS_REPLY, &reply.base,
                   NULL, 0);
    }
    for (size_t i = 0; i < l.n; i++) {
        free (l.rows [i].worker);
        free (l.rows [i].error);
        free (l.rows [i].stderr_tail);
    }
    free (l.rows);
    free (l.ptrs);
}
