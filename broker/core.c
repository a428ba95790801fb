/*  The broker's shared helpers (see core.h): lookups by id, names of
    states, paths under the staging root, task state changes that keep the
    job's counters and the store in step, and sending a message.  */
#include "broker/core.h"
#include "common/array.h"

#include <string.h>
#include <zmq.h>

//  A printable form of a routing id.
void
core_id_name (const uint8_t *id, size_t size, char *buf, size_t bsize)
{
    size_t j = 0;
    for (size_t i = 0; i < size && j + 3 < bsize; i++) {
        uint8_t c = id [i];
        if (c >= 32 && c < 127)
            buf [j++] = (char) c;
        else
            j += (size_t) snprintf (buf + j, bsize - j, "%02x", c);
    }
    buf [j < bsize ? j : bsize - 1] = 0;
}

//  FNV-1a hash of a routing id, to a bucket.
size_t
core_hash (const uint8_t *id, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ id [i]) * 16777619u;
    return h % CORE_HASH;
}

//  The live worker with this routing id, or NULL.
worker_info_t *
core_worker_find (broker_t *self, const uint8_t *id, size_t size)
{
    for (int i = self->hash [core_hash (id, size)]; i >= 0; i = self->workers [i].next)
        if (self->workers [i].id_size == size && memcmp (self->workers [i].id, id, size) == 0)
            return &self->workers [i];
    return NULL;
}

//  The job with this id, or NULL.
job_t *
core_job_find (broker_t *self, uint64_t id)
{
    size_t lo = 0, hi = self->n_jobs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (self->jobs [mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < self->n_jobs && self->jobs [lo]->id == id ? self->jobs [lo] : NULL;
}

//  The task with this id, or NULL.
task_t *
core_task_find (broker_t *self, uint64_t id)
{
    return id < self->n_by_id ? self->by_id [id] : NULL;
}

//  True for done, failed and cancelled.
bool
core_task_state_final (int state)
{
    return state == T_DONE || state == T_FAILED || state == T_CANCELLED;
}

//  True for the job states after which nothing runs.
bool
core_job_state_final (int state)
{
    return state == J_DONE || state == J_FAILED || state == J_CANCELLED;
}

//  Sets this thread's log context to a task's job, album and track.
void
core_log_task (const task_t *t, const worker_info_t *w)
{
    char job [24], album [16], track [16];
    snprintf (job, sizeof job, "%llu", (unsigned long long) t->sched.job_id);
    snprintf (album, sizeof album, "%d", (int) t->album);
    snprintf (track, sizeof track, "%d", (int) t->track);
    log_ctx_t ctx = { job, t->album >= 0 ? album : NULL, t->track >= 0 ? track : NULL,
                      w ? w->name : NULL };
    log_ctx_set (&ctx);
}

//  The staging root of a job: OUTPUT_ROOT/.masterfarm/job-<id>.
void
core_staging (broker_t *self, const job_t *job, char *buf, size_t size)
{
    snprintf (buf, size, "%s/" CORE_STAGING "/job-%llu", self->output_root,
              (unsigned long long) job->id);
}

//  Path of a master's intermediate, relative to the output root.
const char *
core_input_path (const album_t *a, size_t i)
{
    if (i < a->spec->n_tracks)
        return a->spec->tracks [i].path;
    i -= a->spec->n_tracks;
    return i < a->n_refs ? a->spec->s.tonal.refs [i].path : NULL;
}

void
core_intermediate_rel (const task_t *t, char *buf, size_t size)
{
    const profile_t *p = profile_get ((profile_id_t) t->profile);
    //  A master the album correction made again goes to a name of its
    //  round: a task process of an earlier round that outlived its worker
    //  cannot write over it.
    int round = 0;
    if (t->album >= 0 && t->job->albums && (size_t) t->album < t->job->n_albums
    &&  t->profile >= 0 && t->profile < PROFILE_COUNT)
        round = album_master_rounds (&t->job->albums [t->album], t->profile);
    char suffix [16] = "";
    if (round > 0)
        snprintf (suffix, sizeof suffix, "-r%d", round);
    snprintf (buf, size, CORE_STAGING "/job-%llu/work/a%d/t%d-%s%s.wav",
              (unsigned long long) t->sched.job_id, (int) t->album, (int) t->track,
              p ? p->name : "x", suffix);
}

//  Path of an assembly attempt's private folder (shared storage: the
//  worker writes there, the broker moves the files its result names into
//  the profile folder), relative to the output root.
void
core_attempt_rel (const task_t *t, char *buf, size_t size)
{
    const profile_t *p = profile_get ((profile_id_t) t->profile);
    snprintf (buf, size, CORE_STAGING "/job-%llu/work/a%d/assemble-%s-%d",
              (unsigned long long) t->sched.job_id, (int) t->album, p ? p->name : "x",
              (int) t->attempts);
}

//  Path of an album's profile folder in staging, relative to the output root.
void
core_profile_rel (const job_t *job, const album_t *a, int profile, char *buf, size_t size)
{
    const profile_t *p = profile_get ((profile_id_t) profile);
    snprintf (buf, size, CORE_STAGING "/job-%llu/%s/%s", (unsigned long long) job->id,
              a->slug, p ? p->name : "x");
}

//  Sets a task's state, keeps the job's counters, persists it. error:
//  NULL keeps the last error, "" clears it.
void
core_task_set (broker_t *self, task_t *t, int state, const char *error)
{
    job_t *job = t->job;
    if (t->state == T_DONE) job->done--;
    if (t->state == T_FAILED) job->failed--;
    if (t->state == T_CANCELLED) job->cancelled--;
    t->state = (int8_t) state;
    if (state == T_DONE) job->done++;
    if (state == T_FAILED) job->failed++;
    if (state == T_CANCELLED) job->cancelled++;
    if (error) {
        free (t->last_error);
        t->last_error = *error ? strdup (error) : NULL;
    }
    store_task_update (self->store, t->sched.id, state, t->attempts, error);
    job->dirty = true;
}

//  Queues a task for dispatch.
void
core_task_queue (broker_t *self, task_t *t)
{
    core_task_set (self, t, T_QUEUED, NULL);
    if (scheduler_push (self->sched, &t->sched))
        log_error ("out of memory queueing task %llu", (unsigned long long) t->sched.id);
}

//  Removes a task from its worker's held list and frees the slot.
void
core_task_unhold (broker_t *self, task_t *t)
{
    if (t->worker < 0 || (size_t) t->worker >= self->n_workers)
        return;
    worker_info_t *w = &self->workers [t->worker];
    for (size_t i = 0; i < w->n_held; i++)
        if (w->held [i] == t) {
            w->held [i] = w->held [--w->n_held];
            break;
        }
    scheduler_release (self->sched, t->worker);
    t->worker = -1;
}

//  nftw callback: removes one file or (empty by then) folder.
int
core_rm_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (remove (path))
        log_warn ("cannot remove %s: %s", path, strerror (errno));
    return 0;
}

void
core_task_hand_back (broker_t *self, task_t *t, bool counted)
{
    if (!counted && t->attempts > 0)
        t->attempts--;
    t->sched.avoid_worker = -1;
    t->state = T_QUEUED;
    store_task_update (self->store, t->sched.id, T_QUEUED, t->attempts, NULL);
    scheduler_push (self->sched, &t->sched);
    t->job->dirty = true;
}

//  Sends a message to a peer; drops it (logged) when the peer cannot take it.
int
core_send (broker_t *self, const uint8_t *id, size_t id_size, uint32_t type,
           const ProtobufCMessage *body, const wire_frame_t *frames, size_t n_frames)
{
    int rc = wire_send (self->sock, id, id_size, type, ++self->seq, body, frames, n_frames,
                        ZMQ_DONTWAIT);
    if (rc) {
        char name [128];
        core_id_name (id, id_size, name, sizeof name);
        log_warn ("cannot send %s to %s: %s", wire_type_name (type), name,
                  rc == MF_ERR_IO ? zmq_strerror (zmq_errno ()) : mf_strerror (rc));
    }
    return rc;
}

//  Answers a request with an Error.
void
core_send_error (broker_t *self, const wire_msg_t *msg, int code, const char *text)
{
    Masterfarm__Error e = MASTERFARM__ERROR__INIT;
    e.code = (uint32_t) -code;
    e.message = (char *) text;
    core_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__ERROR, &e.base, NULL, 0);
}

//  A task's result is stored: it is done (its job counts it, no error).
void
core_task_done (task_t *t)
{
    t->job->done++;
    t->state = T_DONE;
    t->job->dirty = true;
    free (t->last_error);
    t->last_error = NULL;
}

//  The name of an album state for a status.
const char *
core_album_state_name (int state)
{
    switch (state) {
        case A_OPEN:      return "open";
        case A_HELD:      return "held";
        case A_REPORTED:  return "reported";
        case A_PUBLISHED: return "published";
        default:          return "not-delivered";
    }
}

//  The name of a task state.
const char *
core_task_state_name (int state)
{
    switch (state) {
        case T_QUEUED:     return "queued";
        case T_DISPATCHED: return "dispatched";
        case T_RUNNING:    return "running";
        case T_DONE:       return "done";
        case T_FAILED:     return "failed";
        case T_BLOCKED:    return "blocked";
        case T_CANCELLED:  return "cancelled";
        default:           return "none";
    }
}

//  The name of a job state.
const char *
core_job_state_name (int state)
{
    switch (state) {
        case J_QUEUED:    return "queued";
        case J_RUNNING:   return "running";
        case J_DONE:      return "done";
        case J_FAILED:    return "failed";
        case J_CANCELLED: return "cancelled";
        case J_WAITING:   return "waiting-delivery";
        default:          return "none";
    }
}

//  The name of a task kind.
const char *
core_kind_name (int kind)
{
    switch (kind) {
        case K_ANALYZE:  return "analyze";
        case K_MASTER:   return "master";
        case K_ASSEMBLE: return "assemble";
        case K_NOOP:     return "noop";
        default:         return "task";
    }
}

int
core_tasks_push (task_t ***list, size_t *n, size_t *cap, size_t first_cap, task_t *t)
{
    if (array_reserve (list, cap, *n + 1, sizeof **list, first_cap))
        return MF_ERR_NOMEM;
    (*list) [(*n)++] = t;
    return 0;
}
