/*  The workers as the broker knows them (see workers.h).  */
#include "broker/workers.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "broker/graph.h"
#include "broker/dispatch.h"
#include "broker/status.h"

//  A worker is gone (expired, left or re-registered): its tasks go back.
//  expired: the attempts count as lost with their worker, no strike
//  against the task, up to BROKER_MAX_LOST (a task that kills its worker
//  must not loop for ever); otherwise they are handed back free.
void
workers_lost (broker_t *self, worker_info_t *w, const char *reason, bool expired)
{
    int widx = (int) (w - self->workers);
    int64_t now = clock_wall_ms ();
    while (w->n_held > 0) {
        task_t *t = w->held [w->n_held - 1];
        core_task_unhold (self, t);
        store_attempt_end (self->store, t->sched.id, t->attempts, false, reason, now);
        self->counters.tasks_redispatched++;
        if (expired) {
            graph_task_attempt_failed (self, t, widx, reason, ATTEMPT_END_LOST);
        }
        else
            core_task_hand_back (self, t, false);
    }
    //  Unlink from the hash.
    size_t b = core_hash (w->id, w->id_size);
    for (int *p = &self->hash [b]; *p >= 0; p = &self->workers [*p].next)
        if (*p == widx) {
            *p = w->next;
            break;
        }
    store_worker_put (self->store, w->name, (int) w->slots, now, (int) w->tasks_done,
                      (int) w->tasks_failed);
    scheduler_worker_remove (self->sched, widx);
    free (w->held);
    memset (w, 0, sizeof *w);
    w->next = -1;
}

//  READY: a worker (re-)registers.
void
workers_on_ready (broker_t *self, const wire_msg_t *msg)
{
    const Masterfarm__Ready *r = (const Masterfarm__Ready *) msg->body;
    worker_info_t *old = core_worker_find (self, msg->id, msg->id_size);
    if (old)
        workers_lost (self, old, "worker registered again", false);
    uint32_t slots = r->slots < 1 ? 1 : r->slots > 1024 ? 1024 : r->slots;
    int idx = scheduler_worker_add (self->sched, slots);
    if (idx < 0)
        return;
    if ((size_t) idx >= self->n_workers) {
        worker_info_t *ws = realloc (self->workers, ((size_t) idx + 1) * sizeof *ws);
        if (!ws) {
            scheduler_worker_remove (self->sched, idx);
            return;
        }
        self->workers = ws;
        for (size_t i = self->n_workers; i <= (size_t) idx; i++) {
            memset (&ws [i], 0, sizeof ws [i]);
            ws [i].next = -1;
        }
        self->n_workers = (size_t) idx + 1;
    }
    worker_info_t *w = &self->workers [idx];
    memset (w, 0, sizeof *w);
    w->live = true;
    memcpy (w->id, msg->id, msg->id_size);
    w->id_size = msg->id_size;
    core_id_name (msg->id, msg->id_size, w->name, sizeof w->name);
    w->slots = slots;
    //  printable only: the version is shown in status, never interpreted
    for (size_t i = 0; r->version && r->version [i] && i + 1 < sizeof w->version; i++)
        w->version [i] = r->version [i] >= 0x20 && r->version [i] < 0x7f ? r->version [i] : '?';
    w->last_seen_ms = w->last_data_ms = clock_mono_ms ();
    size_t b = core_hash (w->id, w->id_size);
    w->next = self->hash [b];
    self->hash [b] = idx;
    store_worker_put (self->store, w->name, (int) slots, clock_wall_ms (), 0, 0);
    log_info ("worker %s ready with %u slot(s), version %s", w->name, slots,
              *w->version ? w->version : "unknown");
    Masterfarm__Heartbeat hb = MASTERFARM__HEARTBEAT__INIT;
    core_send (self, w->id, w->id_size, MASTERFARM__MSG_TYPE__HEARTBEAT, &hb.base, NULL, 0);
}

//  Writes the inline output frames of a result under the output root and
//  fills outs. Returns 0 or an error with err.
static int
s_write_inline (broker_t *self, task_t *t, const Masterfarm__Result *res,
                const wire_msg_t *msg, store_output_t *outs, char (*paths) [1100],
                char *err, size_t err_size)
{
    if (res->n_outputs != msg->n_frames) {
        snprintf (err, err_size, "result has %zu outputs but %zu data frames",
                  res->n_outputs, msg->n_frames);
        return MF_ERR_PROTOCOL;
    }
    char base [1024];
    if (t->kind == K_MASTER)
        core_intermediate_rel (t, base, sizeof base);
    else {
        core_profile_rel (t->job, &t->job->albums [t->album], t->profile, base, sizeof base);
        //  A retried assembly replaces the folder's files, not adds to them.
        //  The folder is opened beneath the output root: one swapped for a
        //  symlink to elsewhere is not emptied.
        int dfd = fsutil_open_beneath (self->output_root, base, O_RDONLY | O_DIRECTORY, 0);
        DIR *d = dfd >= 0 ? fdopendir (dfd) : NULL;
        if (dfd >= 0 && !d)
            close (dfd);
        struct dirent *e;
        while (d && (e = readdir (d))) {
            struct stat st;
            if (fstatat (dirfd (d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
            &&  S_ISREG (st.st_mode))
                unlinkat (dirfd (d), e->d_name, 0);
        }
        if (d)
            closedir (d);
    }
    for (size_t i = 0; i < res->n_outputs; i++) {
        const char *name = res->outputs [i]->path;
        if (t->kind == K_MASTER)
            snprintf (paths [i], 1100, "%s", base);
        else
        if (!name || !fsutil_rel_path_ok (name) || strchr (name, '/')) {
            snprintf (err, err_size, "result names a bad output '%s'", name ? name : "");
            return MF_ERR_PROTOCOL;
        }
        else
            snprintf (paths [i], 1100, "%s/%s", base, name);
        //  Created beneath the output root: no folder swapped for a
        //  symlink can lead the write outside.
        int wrc = fsutil_write_atomic_beneath (self->output_root, paths [i], msg->frames [i],
                                               msg->frame_sizes [i]);
        if (wrc) {
            char why [160];
            fsutil_beneath_strerror (wrc, errno, "output", why, sizeof why);
            snprintf (err, err_size, "%.400s: cannot write: %s", paths [i], why);
            return wrc == MF_ERR_INVALID ? MF_ERR_INVALID : MF_ERR_IO;
        }
        outs [i].path = paths [i];
        outs [i].bytes = (int64_t) msg->frame_sizes [i];
        outs [i].sha256 = res->outputs [i]->sha256;
    }
    return 0;
}

//  Shared storage: moves the files a successful assembly attempt names
//  from its private folder into the profile folder (cleared first: a
//  retried assembly replaces the files, not adds to them), then removes
//  the attempt folder with whatever else is in it. Returns 0, or an
//  error with err (the attempt then fails).
static int
s_assembly_commit (broker_t *self, task_t *t, const Masterfarm__Result *res,
                   char *err, size_t err_size)
{
    char rel [1024], from [5200], to [5200];
    core_attempt_rel (t, rel, sizeof rel);
    snprintf (from, sizeof from, "%s/%s", self->output_root, rel);
    core_profile_rel (t->job, &t->job->albums [t->album], t->profile, rel, sizeof rel);
    snprintf (to, sizeof to, "%s/%s", self->output_root, rel);
    int rc = 0;
    if (fsutil_mkdir_p (to, 0755)) {
        snprintf (err, err_size, "%.400s: cannot create: %s", to, strerror (errno));
        rc = MF_ERR_IO;
    }
    DIR *d = rc ? NULL : opendir (to);
    struct dirent *e;
    while (d && (e = readdir (d))) {
        char f [5600];
        struct stat st;
        snprintf (f, sizeof f, "%s/%s", to, e->d_name);
        if (lstat (f, &st) == 0 && !S_ISDIR (st.st_mode))
            unlink (f);
    }
    if (d)
        closedir (d);
    for (size_t i = 0; !rc && i < res->n_outputs; i++) {
        const char *name = res->outputs [i]->path;
        char a [5600], b [5600];
        if (!name || !fsutil_rel_path_ok (name) || strchr (name, '/')) {
            snprintf (err, err_size, "result names a bad output '%s'", name ? name : "");
            rc = MF_ERR_PROTOCOL;
            break;
        }
        snprintf (a, sizeof a, "%s/%s", from, name);
        snprintf (b, sizeof b, "%s/%s", to, name);
        if (rename (a, b)) {
            snprintf (err, err_size, "%.400s: cannot move into the album: %s", a, strerror (errno));
            rc = MF_ERR_IO;
        }
    }
    nftw (from, core_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

//  Gives a worker a task it already runs: one put back in the queue by a
//  broker restart whose attempt the worker still holds. Returns true when
//  adopted.
bool
workers_adopt (broker_t *self, worker_info_t *w, task_t *t, uint32_t attempt)
{
    //  only a task the restart put back (parked): a queued one that was
    //  not running then (a master the album correction queued again, its
    //  attempt number still that of its done attempt) must not take a
    //  result a worker sends again after it reconnects
    if (!t || !t->parked || t->state != T_QUEUED || t->worker >= 0
    ||  t->attempts != (int) attempt || core_job_state_final (t->job->state))
        return false;
    int widx = (int) (w - self->workers);
    scheduler_remove (self->sched, &t->sched);
    t->parked = 0;
    t->state = T_RUNNING;
    t->worker = widx;
    if (core_tasks_push (&w->held, &w->n_held, &w->cap_held, 8, t))
        return false;
    scheduler_hold (self->sched, widx);
    store_task_update (self->store, t->sched.id, T_RUNNING, t->attempts, NULL);
    store_attempt_begin (self->store, t->sched.id, t->attempts, w->name, clock_wall_ms ());
    t->job->dirty = true;
    log_info ("task %llu attempt %u adopted from worker %s after a restart",
              (unsigned long long) t->sched.id, attempt, w->name);
    return true;
}

//  Counts a result the broker does not use: in duplicate_results when its
//  task is already done (a worker sends recent results again after it
//  reconnects, so a healed network brings back copies of what was already
//  taken), otherwise in late_results (an attempt given up on, or a task
//  not known). Returns true for a duplicate.
bool
workers_count_stray_result (broker_t *self, const Masterfarm__Result *res)
{
    task_t *t = res ? core_task_find (self, res->task_id) : NULL;
    if (t && t->state == T_DONE) {
        self->counters.duplicate_results++;
        return true;
    }
    self->counters.late_results++;
    return false;
}

//  The metrics of a task that ended well: its duration, and for a master
//  the seconds of audio of its track.
static void
s_metrics_done (broker_t *self, const task_t *t, double elapsed_s)
{
    double audio_s = 0;
    if (t->kind == K_MASTER && t->album >= 0 && t->track >= 0) {
        const album_t *a = &t->job->albums [t->album];
        if (a->analyzed [t->track] && a->analyses [t->track].rate_hz > 0)
            audio_s = (double) a->analyses [t->track].frames / a->analyses [t->track].rate_hz;
    }
    metrics_task_done (self->metrics, t->kind, elapsed_s, audio_s);
}

//  RESULT: commit a finished attempt, or retry / fail a failed one.
void
workers_on_result (broker_t *self, worker_info_t *w, const wire_msg_t *msg)
{
    const Masterfarm__Result *res = (const Masterfarm__Result *) msg->body;
    task_t *t = core_task_find (self, res->task_id);
    int widx = (int) (w - self->workers);
    //  The attempt the broker put back at a restart: its result is good.
    workers_adopt (self, w, t, res->attempt);
    //  The same attempt finished by another worker than the one it is
    //  recorded on (sent twice across a restart): the first success wins
    //  and the other copy is stopped.
    if (t && res->ok && (t->state == T_DISPATCHED || t->state == T_RUNNING)
    &&  t->attempts == (int) res->attempt && t->worker >= 0 && t->worker != widx
    &&  (size_t) t->worker < self->n_workers) {
        worker_info_t *other = &self->workers [t->worker];
        Masterfarm__TaskCancel tc = MASTERFARM__TASK_CANCEL__INIT;
        tc.task_id = t->sched.id;
        tc.attempt = t->attempts;
        core_send (self, other->id, other->id_size, MASTERFARM__MSG_TYPE__TASK_CANCEL, &tc.base,
                   NULL, 0);
        core_task_unhold (self, t);
        if (core_tasks_push (&w->held, &w->n_held, &w->cap_held, 8, t) == 0) {
            scheduler_hold (self->sched, widx);
            t->worker = widx;
        }
    }
    if (!t || t->worker != widx || t->attempts != (int) res->attempt
    ||  (t->state != T_DISPATCHED && t->state != T_RUNNING)) {
        bool dup = workers_count_stray_result (self, res);
        log_info ("%s result for task %llu attempt %u from %s, ignored",
                  dup ? "duplicate (task already done)" : "late or unknown",
                  (unsigned long long) res->task_id, res->attempt, w->name);
        return;
    }
    core_log_task (t, w);
    int64_t now = clock_wall_ms ();
    core_task_unhold (self, t);
    char err [CORE_ERR_LEN] = "";
    bool ok = res->ok;
    bool resource = !ok && res->error_class == MASTERFARM__ERROR_CLASS__ERROR_RESOURCE;
    if (!ok)
        snprintf (err, sizeof err, "%s", res->error && *res->error ? res->error : "failed");
    //  A master whose input's status changed while it ran, its content not
    //  checked, may have read audio its plan did not measure: its result
    //  is put aside and it runs again with the content checked
    //  (graph_master_input_moved), with no strike against this worker.
    if (ok && !t->check_input && graph_master_input_status_moved (self, t)) {
        const char *why = "its input's status changed while it ran: mastered again, with the "
                          "content checked against the analysis";
        log_info ("task %llu: %s", (unsigned long long) t->sched.id, why);
        store_attempt_end (self->store, t->sched.id, t->attempts, false, why, now);
        core_task_hand_back (self, t, true);
        log_ctx_set (NULL);
        return;
    }
    //  A master whose input is not the file its analysis read fails for
    //  good, no strike against this worker.
    if (!ok && t->kind == K_MASTER
    &&  res->error_class == MASTERFARM__ERROR_CLASS__ERROR_INPUT_CHANGED) {
        store_attempt_end (self->store, t->sched.id, t->attempts, false, err, now);
        graph_master_input_failed (self, t, "changed");
        log_ctx_set (NULL);
        return;
    }

    //  Outputs: inline bytes written here; shared ones recorded as named.
    size_t n_out = res->n_outputs < SPEC_MAX_TRACKS + 8 ? res->n_outputs : 0;
    store_output_t *outs = calloc (n_out ? n_out : 1, sizeof *outs);
    char (*paths) [1100] = calloc (n_out ? n_out : 1, sizeof *paths);
    if (ok && (!outs || !paths)) {
        ok = false;
        resource = true;
        snprintf (err, sizeof err, "broker out of memory");
    }
    if (ok && self->cfg.storage == BROKER_STORAGE_INLINE && t->kind != K_NOOP
    &&  t->kind != K_ANALYZE) {
        errno = 0;
        int wrc = s_write_inline (self, t, res, msg, outs, paths, err, sizeof err);
        if (wrc) {
            ok = false;
            //  The broker's own disk full or failing: not the task's fault.
            resource = wrc == MF_ERR_IO && mf_errno_is_resource (errno);
        }
    }
    else
    if (ok && t->kind != K_NOOP) {
        char base [1024] = "";
        if (t->kind == K_ASSEMBLE) {
            core_profile_rel (t->job, &t->job->albums [t->album], t->profile, base, sizeof base);
            if (s_assembly_commit (self, t, res, err, sizeof err))
                ok = false;
        }
        for (size_t i = 0; ok && i < n_out; i++) {
            const char *p = res->outputs [i]->path ? res->outputs [i]->path : "";
            snprintf (paths [i], 1100, "%s%s%s", base, base [0] ? "/" : "", p);
            outs [i].path = paths [i];
            outs [i].bytes = (int64_t) res->outputs [i]->size;
            outs [i].sha256 = res->outputs [i]->sha256;
        }
    }
    //  Kind-specific results.
    measure_t m;
    memset (&m, 0, sizeof m);
    if (ok && t->kind == K_ANALYZE) {
        if (!res->analysis || results_analysis_from_pb (res->analysis, &m)) {
            ok = false;
            snprintf (err, sizeof err, "analysis result missing or malformed");
        }
    }
    if (ok && (t->kind == K_MASTER || t->kind == K_ASSEMBLE) && !res->report_json) {
        ok = false;
        snprintf (err, sizeof err, "result without its report");
    }
    if (t->kind != K_NOOP || !ok)
        store_attempt_end (self->store, t->sched.id, t->attempts, ok, ok ? NULL : err, now);
    if (t->kind != K_NOOP && res->stderr_tail && *res->stderr_tail)
        store_attempt_stderr (self->store, t->sched.id, t->attempts, res->stderr_tail);
    if (ok) {
        //  The result and its outputs in one transaction.
        size_t size = protobuf_c_message_get_packed_size (&res->base);
        uint8_t *packed = malloc (size ? size : 1);
        if (packed)
            protobuf_c_message_pack (&res->base, packed);
        if (t->kind == K_ANALYZE) {
            album_t *a = &t->job->albums [t->album];
            measure_free (&a->analyses [t->track]);
            a->analyses [t->track] = m;
            a->analyzed [t->track] = true;
            memset (&m, 0, sizeof m);
            size_t asz = masterfarm__analysis__get_packed_size (res->analysis);
            uint8_t *abuf = malloc (asz ? asz : 1);
            if (abuf) {
                masterfarm__analysis__pack (res->analysis, abuf);
                char input [160];
                cache_stat_format (&a->in_stat [t->track], input, sizeof input);
                store_track_analysis (self->store, t->sched.job_id, t->album, t->track, abuf, asz,
                                      input);
                free (abuf);
            }
            //  The analysis lives in `tracks`; keep the task row small.
            free (packed);
            packed = NULL;
            size = 0;
        }
        if (t->kind == K_MASTER || t->kind == K_ASSEMBLE) {
            free (t->report);
            t->report = strdup (res->report_json);
        }
        if (t->kind == K_ASSEMBLE)
            graph_asm_files_set (t, res, self->cfg.storage != BROKER_STORAGE_INLINE);
        dispatch_cache_put (self, t, res, outs, n_out);
        store_task_done (self->store, t->sched.id, t->attempts, packed, size, outs, n_out);
        free (packed);
        core_task_done (t);
        w->tasks_done++;
        s_metrics_done (self, t, res->elapsed_s);
        log_debug ("task %llu done in %.2f s", (unsigned long long) t->sched.id, res->elapsed_s);
        status_task_cost (t, res->elapsed_s);
        graph_task_final (self, t);
    }
    else {
        w->tasks_failed++;
        scheduler_strike (self->sched, widx, t->sched.job_id);
        log_warn ("task %llu attempt %d failed on %s: %s", (unsigned long long) t->sched.id,
                  t->attempts, w->name, err);
        graph_task_attempt_failed (self, t, widx, err,
                                   resource ? ATTEMPT_END_RESOURCE : ATTEMPT_END_OWN);
    }
    measure_free (&m);
    free (outs);
    free (paths);
    log_ctx_set (NULL);
}
