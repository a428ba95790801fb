/*  Dispatch (see dispatch.h).  */
#include "broker/dispatch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "broker/graph.h"
#include "broker/status.h"

static int s_job_hold (broker_t *self, task_t *t, int widx);
static bool s_input_moved (broker_t *self, task_t *t, int widx);

//  Reads a file for inline storage into a frame, opened beneath root (what
//  names it in messages; where, when not NULL, prefixes them, e.g. "album 1
//  track 2"). Returns 0 or an error with err.
static int
s_read_frame (const char *root, const char *what, const char *where, const char *rel,
              wire_frame_t *f, char **owned, char *err, size_t err_size)
{
    //  Opened beneath the root at this moment, not only checked at submit.
    size_t len;
    int rc = fsutil_read_beneath (root, rel, (size_t) WIRE_MAX_MSG_BYTES, owned, &len);
    if (rc) {
        char why [160];
        if (rc == MF_ERR_INVALID && errno == EXDEV)
            fsutil_beneath_strerror (rc, errno, what, why, sizeof why);
        else
            snprintf (why, sizeof why, "cannot read: %s", mf_strerror (rc));
        snprintf (err, err_size, "%s%s%.400s: %s", where ? where : "", where ? ": " : "",
                  rel, why);
        return rc;
    }
    f->data = *owned;
    f->size = len;
    return 0;
}

//  The plan a master task carries, from its album's plan (the tonal
//  curve points into the album). Returns 0, or MF_ERR_STATE when the
//  track has no plan.
static int
s_master_plan (const album_t *a, const task_t *t, Masterfarm__Plan *plan)
{
    int k = a->sub_idx [t->track];
    if (k < 0 || t->profile < 0 || !a->plan_ok [t->profile])
        return MF_ERR_STATE;
    const track_plan_t *tp = &a->plans [t->profile].tracks [k];
    masterfarm__plan__init (plan);
    plan->target_lufs = tp->target_lufs;
    plan->gain_db = tp->gain_db;
    plan->ceiling_dbtp = tp->ceiling_dbtp;
    plan->tonal_db = (double *) tp->tonal_db;
    plan->n_tonal_db = MEASURE_BANDS;
    plan->fade_in_frames = tp->fade_in_frames;
    plan->fade_out_frames = tp->fade_out_frames;
    plan->pad_lead_frames = tp->pad_lead_frames;
    plan->pad_trail_frames = tp->pad_trail_frames;
    plan->cut_trail_frames = tp->cut_trail_frames;
    plan->xfade_in_frames = tp->xfade_in_frames;
    plan->xfade_in_lufs = tp->xfade_in_frames > 0 ? (double *) tp->xfade_in_lufs : NULL;
    plan->n_xfade_in_lufs = tp->xfade_in_frames > 0 ? FADE_TAIL_SEGMENTS : 0;
    plan->out_rate_hz = (uint32_t) a->plans [t->profile].out_rate_hz;
    plan->reference = a->plans [t->profile].reference;
    plan->side_mid_to_db = plan->reference ? tp->side_mid_to_db : NAN;
    plan->width_share = plan->reference ? tp->width_share : 0.0;
    return 0;
}

//  A job's first task under way: the job is running from now.
static void
s_job_running (broker_t *self, job_t *job, int64_t now)
{
    job->dirty = true;
    status_job_started (self, job, now);
    if (job->state == J_QUEUED) {
        job->state = J_RUNNING;
        store_job_set_state (self->store, job->id, J_RUNNING, now);
    }
}

//  The reuse cache's key of a master task: what its intermediate depends
//  on (the input's digest, the profile, the track, the album's settings
//  and the plan) and masterfarm's version. Returns false when the input's
//  digest or the plan is unknown (no reuse).
static bool
s_master_key (broker_t *self, task_t *t, char key [SHA256_HEX_SIZE])
{
    album_t *a = &t->job->albums [t->album];
    const char *sha = a->analyses [t->track].input_sha256;
    const profile_t *prof = profile_get ((profile_id_t) t->profile);
    const char *settings = graph_album_json (t->job, a);
    Masterfarm__Plan plan;
    if (!sha [0] || !prof || !settings || s_master_plan (a, t, &plan))
        return false;
    size_t size = masterfarm__plan__get_packed_size (&plan);
    uint8_t *packed = malloc (size ? size : 1);
    if (!packed)
        return false;
    masterfarm__plan__pack (&plan, packed);
    int32_t track = t->track;
    const void *parts [] = { MF_VERSION, sha, prof->name, &track, settings, packed };
    size_t lens [] = { strlen (MF_VERSION), strlen (sha), strlen (prof->name), sizeof track,
                       strlen (settings), size };
    //  "blocks": its report carries the output blocks the album correction
    //  reads; "file": it lands its per-track file (pads and fades) on the
    //  plan; "word24": a 16-bit profile's master comes undithered in 24 bits
    cache_key (key, "master+blocks+file+word24", parts, lens, 6);
    free (packed);
    return true;
}

//  The reuse cache's key of an analysis: the input's digest and the
//  version (the analysis takes no settings).
static void
s_analysis_key (const char *sha, char key [SHA256_HEX_SIZE])
{
    const void *parts [] = { MF_VERSION, sha };
    size_t lens [] = { strlen (MF_VERSION), strlen (sha) };
    cache_key (key, "analysis", parts, lens, 2);
}

//  Completes a task with a result found in the reuse cache, as if a
//  worker had returned it, without an attempt: the slot the scheduler
//  gave worker widx for it is handed back.
static void
s_task_reused (broker_t *self, task_t *t, int widx, const Masterfarm__Result *res,
               const store_output_t *outs, size_t n_out)
{
    scheduler_release (self->sched, widx);
    s_job_running (self, t->job, clock_wall_ms ());
    uint8_t *packed = NULL;
    size_t size = 0;
    if (t->kind == K_MASTER) {
        size = protobuf_c_message_get_packed_size (&res->base);
        packed = malloc (size ? size : 1);
        if (packed)
            protobuf_c_message_pack (&res->base, packed);
        else
            size = 0;
    }
    store_task_done (self->store, t->sched.id, t->attempts, packed, size,
                     (store_output_t *) outs, n_out);
    free (packed);
    core_task_done (t);
    t->reused = true;
    self->n_reused++;
    const album_t *a = &t->job->albums [t->album];
    bool ref = t->kind == K_ANALYZE && (size_t) t->track >= a->spec->n_tracks;
    log_info ("job %llu album %d %s %d: %s%s%s reused (input and settings unchanged)",
              (unsigned long long) t->sched.job_id, t->album + 1, ref ? "reference" : "track",
              ref ? t->track - (int) a->spec->n_tracks + 1 : t->track + 1,
              t->kind == K_ANALYZE ? "analysis" : "master",
              t->kind == K_MASTER ? " " : "",
              t->kind == K_MASTER ? profile_get ((profile_id_t) t->profile)->name : "");
    graph_task_final (self, t);
}

//  Looks the task up in the reuse cache; on a hit completes it (see
//  s_task_reused) and returns true. An analysis is found through its
//  input's status (an unchanged file is not read again), a master through
//  its key. On a miss of an analysis, the input's status is kept for the
//  result to record.
static bool
s_cache_take (broker_t *self, task_t *t, int widx)
{
    if (t->album < 0 || t->track < 0 || (t->kind != K_ANALYZE && t->kind != K_MASTER))
        return false;
    album_t *a = &t->job->albums [t->album];
    const char *out_root = self->output_root;
    //  an analysis's input status, taken before the file is read, goes
    //  with the analysis (a retry analyses again a file changed since)
    if (t->kind == K_ANALYZE)
        cache_stat_input (self->input_root, core_input_path (a, (size_t) t->track),
                          &a->in_stat [t->track]);
    if (self->cfg.cache_days <= 0)
        return false;
    if (t->kind == K_ANALYZE) {
        const char *rel = core_input_path (a, (size_t) t->track);
        cache_stat_t *st = &a->in_stat [t->track];
        char sha [SHA256_HEX_SIZE], key [SHA256_HEX_SIZE];
        char *data = NULL;
        size_t size = 0;
        if (!cache_input_get (out_root, rel, st, sha))
            return false;
        s_analysis_key (sha, key);
        if (!cache_analysis_get (out_root, key, &data, &size))
            return false;
        Masterfarm__Analysis *pb = masterfarm__analysis__unpack (NULL, size,
                                                                 (const uint8_t *) data);
        measure_t m;
        bool ok = pb && results_analysis_from_pb (pb, &m) == 0 && !strcmp (m.input_sha256, sha);
        if (pb)
            masterfarm__analysis__free_unpacked (pb, NULL);
        if (!ok) {
            if (pb)
                measure_free (&m);
            free (data);
            return false;
        }
        measure_free (&a->analyses [t->track]);
        a->analyses [t->track] = m;
        a->analyzed [t->track] = true;
        char input [160];
        cache_stat_format (st, input, sizeof input);
        store_track_analysis (self->store, t->sched.job_id, t->album, t->track, data, size,
                              input);
        free (data);
        s_task_reused (self, t, widx, NULL, NULL, 0);
        return true;
    }
    char key [SHA256_HEX_SIZE], rel [1024], sha [SHA256_HEX_SIZE];
    char *report = NULL;
    int64_t bytes = 0;
    //  an input whose status changed is read, to check its content
    if (t->check_input || !s_master_key (self, t, key))
        return false;
    core_intermediate_rel (t, rel, sizeof rel);
    if (!cache_master_get (out_root, key, rel, &report, &bytes, sha))
        return false;
    Masterfarm__Result res = MASTERFARM__RESULT__INIT;
    Masterfarm__FileRef ref = MASTERFARM__FILE_REF__INIT;
    Masterfarm__FileRef *refs [1] = { &ref };
    ref.path = rel;
    ref.size = (uint64_t) bytes;
    ref.sha256 = sha;
    res.task_id = t->sched.id;
    res.ok = true;
    res.report_json = report;
    res.outputs = refs;
    res.n_outputs = 1;
    store_output_t out = { .path = rel, .bytes = bytes, .sha256 = sha };
    free (t->report);
    t->report = report;
    s_task_reused (self, t, widx, &res, &out, 1);
    return true;
}

//  Records what a task's result lets the reuse cache find again: an
//  analysis with its input's digest, or a master's intermediate.
void
dispatch_cache_put (broker_t *self, task_t *t, const Masterfarm__Result *res,
                    const store_output_t *outs, size_t n_out)
{
    if (self->cfg.cache_days <= 0 || t->album < 0 || t->track < 0)
        return;
    album_t *a = &t->job->albums [t->album];
    const char *sha = a->analyses [t->track].input_sha256;
    if (t->kind == K_ANALYZE && sha [0] && res->analysis) {
        char key [SHA256_HEX_SIZE];
        s_analysis_key (sha, key);
        size_t size = masterfarm__analysis__get_packed_size (res->analysis);
        uint8_t *buf = malloc (size ? size : 1);
        if (buf) {
            masterfarm__analysis__pack (res->analysis, buf);
            cache_analysis_put (self->output_root, key, buf, size);
            free (buf);
        }
        cache_input_put (self->output_root, core_input_path (a, (size_t) t->track),
                         &a->in_stat [t->track], sha);
    }
    char key [SHA256_HEX_SIZE], rel [1024];
    if (t->kind == K_MASTER && n_out == 1 && outs [0].sha256 && res->report_json
    &&  s_master_key (self, t, key)) {
        core_intermediate_rel (t, rel, sizeof rel);
        cache_master_put (self->output_root, key, rel, res->report_json, outs [0].bytes,
                          outs [0].sha256);
    }
}

//  Test hook (MASTERFARM_FAULT=unsent:PATTERN): true, once per broker,
//  for the first task whose input path holds PATTERN, whose TASK message
//  is then dropped as a send that fails would drop it.
static bool
s_fault_unsent (const char *input)
{
    static bool fired, read;
    static const char *f;
    if (!read) {
        f = getenv ("MASTERFARM_FAULT");
        read = true;
    }
    if (fired || !f || strncmp (f, "unsent:", 7) != 0 || !f [7] || !input
    ||  !strstr (input, f + 7))
        return false;
    fired = true;
    return true;
}

//  Dispatches a task to a worker: state, attempt record, TASK message.
//  False when the message could not be sent: the task is then queued
//  again as it was (the attempt does not count), and the worker gets no
//  more in this round.
static bool
s_dispatch_one (broker_t *self, task_t *t, worker_info_t *w, int widx)
{
    job_t *job = t->job;
    t->attempts++;
    t->worker = widx;
    t->state = T_DISPATCHED;
    core_tasks_push (&w->held, &w->n_held, &w->cap_held, 8, t);
    int64_t now = clock_wall_ms ();
    //  No-op tasks (benchmarks) record only their end: a restart queues
    //  them again anyway, and their attempts tell nobody anything.
    if (t->kind != K_NOOP) {
        store_task_update (self->store, t->sched.id, T_DISPATCHED, t->attempts, NULL);
        store_attempt_begin (self->store, t->sched.id, t->attempts, w->name, now);
    }
    t->run_ms = now;
    s_job_running (self, job, now);

    Masterfarm__Task m = MASTERFARM__TASK__INIT;
    m.task_id = t->sched.id;
    m.attempt = t->attempts;
    m.kind = (Masterfarm__TaskKind) t->kind;
    m.job_id = job->id;
    m.album = t->album >= 0 ? (uint32_t) t->album : 0;
    m.track = t->track >= 0 ? (uint32_t) t->track : 0;
    const profile_t *prof = t->profile >= 0 ? profile_get ((profile_id_t) t->profile) : NULL;
    m.profile = prof ? (char *) prof->name : (char *) "";
    bool inline_mode = self->cfg.storage == BROKER_STORAGE_INLINE;
    m.storage = inline_mode ? MASTERFARM__STORAGE__STORAGE_INLINE
                            : MASTERFARM__STORAGE__STORAGE_SHARED;
    m.input_root = inline_mode ? (char *) "" : self->input_root;
    m.output_root = inline_mode ? (char *) "" : self->output_root;

    size_t cap = (t->album >= 0 && job->albums ? job->albums [t->album].spec->n_tracks : 0) + 1;
    Masterfarm__FileRef *in_refs = calloc (cap, sizeof *in_refs);
    Masterfarm__FileRef **in_ptrs = calloc (cap, sizeof *in_ptrs);
    Masterfarm__FileRef out_ref = MASTERFARM__FILE_REF__INIT;
    Masterfarm__FileRef *out_ptrs [1] = { &out_ref };
    char (*in_paths) [512] = calloc (cap, sizeof *in_paths);
    char out_path [1024];
    wire_frame_t *frames = calloc (cap, sizeof *frames);
    char **owned = calloc (cap, sizeof *owned);
    size_t n_in = 0, n_frames = 0;
    Masterfarm__Plan plan = MASTERFARM__PLAN__INIT;
    char *extra = NULL;
    char err [CORE_ERR_LEN] = "";
    bool sent = true;
    int rc = in_refs && in_ptrs && in_paths && frames && owned ? 0 : MF_ERR_NOMEM;

    if (t->kind != K_NOOP && t->album >= 0) {
        album_t *a = &job->albums [t->album];
        m.settings_json = (char *) graph_album_json (job, a);
        if (!m.settings_json)
            rc = MF_ERR_NOMEM;
        if (t->kind == K_ANALYZE || t->kind == K_MASTER) {
            masterfarm__file_ref__init (&in_refs [0]);
            in_refs [0].path = (char *) core_input_path (a, (size_t) t->track);
            in_ptrs [0] = &in_refs [0];
            n_in = 1;
            if (!rc && inline_mode) {
                char where [64];
                if ((size_t) t->track < a->spec->n_tracks)
                    snprintf (where, sizeof where, "album %d track %d", t->album + 1,
                              t->track + 1);
                else
                    snprintf (where, sizeof where, "album %d reference %zu", t->album + 1,
                              (size_t) t->track - a->spec->n_tracks + 1);
                rc = s_read_frame (self->input_root, "input", where, in_refs [0].path,
                                   &frames [0], &owned [0],
                                   err, sizeof err);
                if (!rc) {
                    in_refs [0].size = frames [0].size;
                    n_frames = 1;
                }
            }
        }
        if (t->kind == K_MASTER) {
            //  its input's status changed since the analysis: the worker
            //  checks the content against the digest the analysis read
            if (t->check_input)
                in_refs [0].sha256 = a->analyses [t->track].input_sha256;
            core_intermediate_rel (t, out_path, sizeof out_path);
            out_ref.path = out_path;
            if (s_master_plan (a, t, &plan))
                rc = MF_ERR_STATE;
            else
                m.plan = &plan;
        }
        if (t->kind == K_ASSEMBLE) {
            //  shared: a folder of this attempt only, so that what a killed or
            //  late attempt leaves never mixes with the files that are kept
            if (inline_mode)
                core_profile_rel (job, a, t->profile, out_path, sizeof out_path);
            else
                core_attempt_rel (t, out_path, sizeof out_path);
            out_ref.path = out_path;
            json_t *list = json_array ();
            //  the album correction's gain after the limiter (graph.c), per track
            json_t *post = a->shift_post [t->profile] ? json_array () : NULL;
            for (size_t i = 0; !rc && i < a->spec->n_tracks && n_in < cap; i++) {
                task_t *mt = a->master [i * PROFILE_COUNT + t->profile];
                if (!mt || mt->state != T_DONE)
                    continue;
                int k = a->sub_idx [i];
                if (post)
                    json_array_append_new (post, json_real (k >= 0 && a->plan_ok [t->profile]
                        ? a->plans [t->profile].tracks [k].post_gain_db : 0.0));
                core_intermediate_rel (mt, in_paths [n_in], sizeof in_paths [n_in]);
                masterfarm__file_ref__init (&in_refs [n_in]);
                in_refs [n_in].path = in_paths [n_in];
                in_ptrs [n_in] = &in_refs [n_in];
                json_array_append_new (list, json_integer ((json_int_t) i));
                if (inline_mode) {
                    rc = s_read_frame (self->output_root, "output", NULL, in_paths [n_in],
                                       &frames [n_frames],
                                       &owned [n_frames], err, sizeof err);
                    if (!rc) {
                        in_refs [n_in].size = frames [n_frames].size;
                        n_frames++;
                    }
                }
                n_in++;
            }
            //  an incomplete album goes out as a partial delivery (per-track
            //  files under their spec numbers, no album file or CUE)
            json_t *o = json_pack ("{sosb}", "tracks", list, "partial", !graph_album_mastered (a));
            if (o && post)
                json_object_set_new (o, "gain_db", post);
            else
                json_decref (post);
            extra = json_dumps (o, JSON_COMPACT);
            json_decref (o);
            if (extra) {
                m.extra.data = (uint8_t *) extra;
                m.extra.len = strlen (extra);
            }
        }
        m.inputs = in_ptrs;
        m.n_inputs = n_in;
        if (out_ref.path) {
            m.outputs = out_ptrs;
            m.n_outputs = 1;
        }
    }
    core_log_task (t, w);
    if (rc) {
        //  The broker could not even build the task: that attempt fails.
        if (!err [0])
            snprintf (err, sizeof err, "cannot prepare the task: %s", mf_strerror (rc));
        log_warn ("task %llu: %s", (unsigned long long) t->sched.id, err);
        core_task_unhold (self, t);
        store_attempt_end (self->store, t->sched.id, t->attempts, false, err, now);
        graph_task_attempt_failed (self, t, -1, err, rc == MF_ERR_NOMEM ? ATTEMPT_END_RESOURCE
                                                                   : ATTEMPT_END_OWN);
    }
    else {
        log_debug ("task %llu attempt %d (%s) to %s", (unsigned long long) t->sched.id,
                   t->attempts, wire_type_name (MASTERFARM__MSG_TYPE__TASK), w->name);
        int src = MF_ERR_IO;
        if (s_fault_unsent (n_in > 0 ? in_refs [0].path : NULL))
            log_warn ("test hook: TASK to %s not sent", w->name);
        else
            src = core_send (self, w->id, w->id_size, MASTERFARM__MSG_TYPE__TASK, &m.base,
                             n_frames ? frames : NULL, n_frames);
        if (src) {
            //  the worker never had it: queued again, not lost with it
            core_task_unhold (self, t);
            store_attempt_end (self->store, t->sched.id, t->attempts, false,
                               "the task could not be sent to its worker", now);
            core_task_hand_back (self, t, false);
            sent = false;
        }
    }
    log_ctx_set (NULL);
    for (size_t i = 0; i < n_frames; i++)
        free (owned [i]);
    free (owned);
    free (frames);
    free (in_paths);
    free (in_ptrs);
    free (in_refs);
    free (extra);
    return sent;
}

//  Gives queued tasks to workers with free slots, round robin.
void
dispatch_run (broker_t *self)
{
    //  Held-back assemblies first: the queue may have drained enough.
    for (size_t j = 0; self->n_deferred > 0 && j < self->n_jobs; j++) {
        job_t *job = self->jobs [j];
        for (size_t i = 0; i < job->n_albums; i++) {
            album_t *a = &job->albums [i];
            if (!a->asm_deferred)
                continue;
            if (core_job_state_final (job->state) || a->state != A_OPEN) {
                a->asm_deferred = false;
                self->n_deferred--;
            }
            else
                graph_album_advance (self, job, a);
        }
    }
    if (scheduler_size (self->sched) == 0 || self->n_workers == 0)
        return;
    size_t n = self->n_workers;
    for (size_t k = 0; k < n && scheduler_size (self->sched) > 0; k++) {
        size_t i = (self->rr + k) % n;
        worker_info_t *w = &self->workers [i];
        if (!w->live)
            continue;
        sched_task_t *st;
        while ((st = scheduler_take (self->sched, (int) i))) {
            task_t *t = (task_t *) st;
            //  A paused job's task is held aside until the job resumes.
            if (t->job->paused && s_job_hold (self, t, (int) i) == 0)
                continue;
            //  a master of a file changed since its analysis fails here
            if (t->kind == K_MASTER && s_input_moved (self, t, (int) i))
                continue;
            if (s_cache_take (self, t, (int) i))
                continue;
            if (!s_dispatch_one (self, t, w, (int) i))
                break;
        }
    }
    self->rr = (self->rr + 1) % n;
}

//  True when master t's input changed since its analysis (it has failed
//  then, see graph_master_input_moved): the slot the scheduler gave
//  worker widx for it is handed back.
static bool
s_input_moved (broker_t *self, task_t *t, int widx)
{
    if (!graph_master_input_moved (self, t))
        return false;
    scheduler_release (self->sched, widx);
    return true;
}

//  Holds a paused job's task (just taken off the queue for worker widx)
//  aside until the job resumes. Returns 0, or MF_ERR_NOMEM (then it is
//  dispatched after all).
static int
s_job_hold (broker_t *self, task_t *t, int widx)
{
    job_t *job = t->job;
    if (core_tasks_push (&job->held, &job->n_held, &job->cap_held, 64, t))
        return MF_ERR_NOMEM;
    scheduler_release (self->sched, widx);
    return 0;
}
