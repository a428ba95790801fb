/*  The broker (see broker.h): private structs for jobs, albums, tasks,
    workers and watchers, the event loop, the task graph and the request
    handlers, in one file as in the zguide's Majordomo broker.

    Memory: a task costs one s_task_t (about 80 bytes) plus one pointer in
    the id index and, while queued, one in the scheduler's heap, so a
    million queued no-op tasks stay well under 1 KiB each. Album data
    (analyses, plans, master reports) exists only for real jobs.

    Every loop iteration: drain up to S_BATCH messages, apply them in one
    SQLite transaction, run the periodic checks (heartbeats, expiry,
    deliveries), dispatch queued tasks to free slots, commit, then send
    watch events for the jobs that changed.  */
#include "broker/broker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "broker/cache.h"
#include "broker/dashboard.h"
#include "broker/control.h"
#include "broker/deliver.h"
#include "broker/http.h"
#include "broker/metrics.h"
#include "broker/planner.h"
#include "broker/report.h"
#include "broker/scheduler.h"
#include "broker/store.h"
#include "broker/zap.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/profile.h"
#include "common/sha256.h"
#include "common/spec.h"
#include "common/version.h"
#include "common/wire.h"
#include "common/results.h"

#define S_BATCH          4096     //  messages handled per loop iteration
#define S_TICK_MS        250      //  expiry and delivery checks
#define S_HASH           4096     //  worker identity hash buckets
#define S_STAGING        ".masterfarm"
#define S_ERR_LEN        512

//  Task states and kinds, shorter.
enum {
    T_QUEUED = MASTERFARM__TASK_STATE__TASK_QUEUED,
    T_DISPATCHED = MASTERFARM__TASK_STATE__TASK_DISPATCHED,
    T_RUNNING = MASTERFARM__TASK_STATE__TASK_RUNNING,
    T_DONE = MASTERFARM__TASK_STATE__TASK_DONE,
    T_FAILED = MASTERFARM__TASK_STATE__TASK_FAILED,
    T_BLOCKED = MASTERFARM__TASK_STATE__TASK_BLOCKED,
    T_CANCELLED = MASTERFARM__TASK_STATE__TASK_CANCELLED,
    K_ANALYZE = MASTERFARM__TASK_KIND__KIND_ANALYZE,
    K_MASTER = MASTERFARM__TASK_KIND__KIND_MASTER,
    K_ASSEMBLE = MASTERFARM__TASK_KIND__KIND_ASSEMBLE,
    K_NOOP = MASTERFARM__TASK_KIND__KIND_NOOP,
    J_QUEUED = MASTERFARM__JOB_STATE__JOB_QUEUED,
    J_RUNNING = MASTERFARM__JOB_STATE__JOB_RUNNING,
    J_DONE = MASTERFARM__JOB_STATE__JOB_DONE,
    J_FAILED = MASTERFARM__JOB_STATE__JOB_FAILED,
    J_CANCELLED = MASTERFARM__JOB_STATE__JOB_CANCELLED,
    J_WAITING = MASTERFARM__JOB_STATE__JOB_WAITING_DELIVERY,
};

//  Album states in the store. A_HELD: a track or profile failed and the spec
//  does not ask for a partial delivery: nothing is published until a
//  retry completes it.
enum { A_OPEN = 0, A_REPORTED = 1, A_PUBLISHED = 2, A_PUBLISH_FAILED = 3, A_HELD = 4 };

typedef struct s_job_s s_job_t;

typedef struct {
    sched_task_t sched;         //  first: the scheduler's view (id, job, priority)
    s_job_t     *job;
    char        *last_error;    //  NULL: none
    char        *report;        //  master/assemble result report_json (owned)
    int32_t      album;         //  -1: not album-bound
    int32_t      track;         //  -1: album-level
    int32_t      worker;        //  scheduler worker index while held, -1
    int8_t       kind;
    int8_t       state;
    int8_t       profile;       //  -1: none
    uint16_t     attempts;      //  dispatches so far: the number of the last attempt
    uint8_t      strikes;       //  attempts ended by the task's own failure
    uint8_t      lost;          //  attempts ended by the loss of the worker (expired)
    uint8_t      resource;      //  attempts ended by a resource failure
    uint8_t      parked;        //  put back after a restart, waiting to be adopted
    int64_t      run_ms;        //  wall clock of the current attempt's dispatch (progress)
} s_task_t;

typedef struct {
    int            idx;
    spec_album_t  *spec;        //  inside the job's spec
    char           slug [FSUTIL_NAME_MAX + 16];
    int            state;       //  A_*
    pid_t          report_pid;  //  process writing report and manifest, 0: none
    s_task_t     **analyze;     //  n_tracks
    s_task_t     **master;      //  n_tracks x PROFILE_COUNT, NULL when not wanted
    s_task_t      *assemble [PROFILE_COUNT];
    measure_t     *analyses;    //  n_tracks
    bool          *analyzed;    //  n_tracks
    bool           planned;
    spec_album_t   sub;         //  the analysed tracks (tracks array owned)
    int           *sub_idx;     //  album track -> index in sub, -1
    album_plan_t   plans [PROFILE_COUNT];
    bool           plan_ok [PROFILE_COUNT];
    char          *plan_err [PROFILE_COUNT];
    char          *json;        //  one-album spec for tasks (lazy)
    bool           asm_deferred; //  an assembly is ready but held back (s_assemble_may_start)
    bool           replan;      //  a retry re-runs analyses: compare the next plan with
                                //  this one, redo only the masters whose plan changed
    char          *error;       //  the last album-level failure (report, publish), or NULL
    char          *asm_files [PROFILE_COUNT]; //  names the done assembly's result gave,
                                //  each ending in '\n' (what belongs in the folder)
    double        *dur_s;       //  n_tracks: audio seconds from each file's header at
                                //  submit (0: unreadable), for progress before analysis
    cache_stat_t  *in_stat;     //  n_tracks: each input's status before its analysis
                                //  was dispatched (the reuse cache records it)
    int64_t        report_ms;   //  when the report process started (monotonic ms)
} s_album_t;

//  One reason an album is not complete: a track (number in the spec) of
//  one profile or of every profile, or one profile's album.
typedef struct {
    int         track;          //  1-based number in the album spec, 0: album-level
    int         profile;        //  -1: every profile
    const char *title;          //  the track's title, NULL for album-level
    const char *reason;
} s_failure_t;

struct s_job_s {
    uint64_t    id;
    char       *name;
    int         priority;
    int64_t     deadline_ms;
    int64_t     deliver_at_ms;
    int64_t     submitted_ms;
    int         state;
    bool        clean_pending;  //  done: intermediates to remove after the watchers heard
    bool        noop;
    job_spec_t *spec;
    s_album_t  *albums;
    size_t      n_albums;
    s_task_t  **tasks;
    size_t      n_tasks;
    size_t      cap_tasks;
    uint32_t    done;
    uint32_t    failed;
    uint32_t    cancelled;
    bool        dirty;           //  watchers need an event
    bool        publish_failed;
    bool        paused;          //  dispatches nothing new (masterfarm pause)
    int64_t     started_ms;      //  first dispatch (wall clock), 0: not yet
    int64_t     finished_ms;     //  final state reached (wall clock), 0: not yet
    control_costs_t costs;       //  measured task costs, for progress and ETA
    s_task_t  **held;            //  queued tasks taken off the queue while paused
    size_t      n_held;
    size_t      cap_held;
};

typedef struct {
    bool        live;
    uint8_t     id [WIRE_MAX_ID_BYTES + 1];
    size_t      id_size;
    char        name [128];      //  printable id for logs
    char        version [32];    //  its masterfarm version (READY), "" if not sent
    int         next;            //  hash chain, -1
    int64_t     last_seen_ms;
    int64_t     last_data_ms;    //  last message on its data connection
    bool        ctl;             //  heard on its control connection: heartbeat it there too
    uint32_t    slots;
    uint32_t    tasks_done;
    uint32_t    tasks_failed;
    s_task_t  **held;
    size_t      n_held;
    size_t      cap_held;
} s_worker_t;

typedef struct {
    uint8_t  id [WIRE_MAX_ID_BYTES + 1];
    size_t   id_size;
    uint64_t job_id;
} s_watch_t;

struct _broker_t {
    broker_cfg_t  cfg;
    char         *input_root;
    char         *output_root;
    char         *bind_url;      //  copies of the configuration's strings
    char         *state_path;
    void         *ctx;
    void         *sock;
    http_t       *http;          //  the HTTP port (metrics, dashboard), or NULL
    metrics_t    *metrics;       //  counters for the metrics page
    zap_t        *zap;           //  CURVE allow-list handler, or NULL (plaintext)
    store_t      *store;
    int           state_lock;    //  store_lock's descriptor, -1: not held
    scheduler_t  *sched;
    s_job_t     **jobs;          //  ascending id
    size_t        n_jobs;
    s_task_t    **by_id;         //  task id -> task
    size_t        n_by_id;
    s_worker_t   *workers;       //  by scheduler index
    size_t        n_workers;
    int           hash [S_HASH];
    s_watch_t     watch [BROKER_MAX_WATCHERS];
    size_t        n_watch;
    uint64_t      seq;
    size_t        rr;            //  round-robin start for dispatch
    Masterfarm__Counters counters;
    int64_t       next_hb_ms;
    int64_t       next_tick_ms;
    size_t        n_reporting;   //  report processes running
    size_t        n_deferred;    //  albums with a ready assembly held back
    uint64_t      n_reused;      //  tasks completed from the reuse cache
    s_task_t    **parked;        //  tasks running at a restart, waiting for their worker
    size_t        n_parked;
    int64_t       parked_until_ms;
};

static volatile sig_atomic_t s_stop = 0;

//  SIGCHLD (and a stop request) wakes the loop through this pipe, so a
//  report process that ends is reaped (and its album delivered) at once,
//  not at the next tick.
static int s_chld_pipe [2] = { -1, -1 };

//  SIGCHLD handler: one byte into the wake-up pipe (async-signal-safe).
static void
s_on_sigchld (int sig)
{
    (void) sig;
    int saved = errno;
    if (s_chld_pipe [1] >= 0) {
        ssize_t w = write (s_chld_pipe [1], "c", 1);
        (void) w;
    }
    errno = saved;
}

void
broker_request_stop (void)
{
    s_stop = 1;
    //  The signal may land on a messaging thread: wake the loop's poll.
    if (s_chld_pipe [1] >= 0) {
        int saved = errno;
        ssize_t w = write (s_chld_pipe [1], "s", 1);
        (void) w;
        errno = saved;
    }
}

// ---------------------------------------------------------------- helpers

//  A printable form of a routing id.
static void
s_id_name (const uint8_t *id, size_t size, char *buf, size_t bsize)
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
static size_t
s_hash (const uint8_t *id, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ id [i]) * 16777619u;
    return h % S_HASH;
}

//  The live worker with this routing id, or NULL.
static s_worker_t *
s_worker_find (broker_t *self, const uint8_t *id, size_t size)
{
    for (int i = self->hash [s_hash (id, size)]; i >= 0; i = self->workers [i].next)
        if (self->workers [i].id_size == size && memcmp (self->workers [i].id, id, size) == 0)
            return &self->workers [i];
    return NULL;
}

//  The job with this id, or NULL.
static s_job_t *
s_job_find (broker_t *self, uint64_t id)
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
static s_task_t *
s_task_find (broker_t *self, uint64_t id)
{
    return id < self->n_by_id ? self->by_id [id] : NULL;
}

//  True for done, failed and cancelled.
static bool
s_final (int state)
{
    return state == T_DONE || state == T_FAILED || state == T_CANCELLED;
}

//  True for the job states after which nothing runs.
static bool
s_job_final (int state)
{
    return state == J_DONE || state == J_FAILED || state == J_CANCELLED;
}

//  Sets this thread's log context to a task's job, album and track.
static void
s_log_task (const s_task_t *t, const s_worker_t *w)
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
static void
s_staging (broker_t *self, const s_job_t *job, char *buf, size_t size)
{
    snprintf (buf, size, "%s/" S_STAGING "/job-%llu", self->output_root,
              (unsigned long long) job->id);
}

//  Path of a master's intermediate, relative to the output root.
static void
s_intermediate_rel (const s_task_t *t, char *buf, size_t size)
{
    const profile_t *p = profile_get ((profile_id_t) t->profile);
    snprintf (buf, size, S_STAGING "/job-%llu/work/a%d/t%d-%s.wav",
              (unsigned long long) t->sched.job_id, (int) t->album, (int) t->track,
              p ? p->name : "x");
}

//  Path of an assembly attempt's private folder (shared storage: the
//  worker writes there, the broker moves the files its result names into
//  the profile folder), relative to the output root.
static void
s_attempt_rel (const s_task_t *t, char *buf, size_t size)
{
    const profile_t *p = profile_get ((profile_id_t) t->profile);
    snprintf (buf, size, S_STAGING "/job-%llu/work/a%d/assemble-%s-%d",
              (unsigned long long) t->sched.job_id, (int) t->album, p ? p->name : "x",
              (int) t->attempts);
}

//  Path of an album's profile folder in staging, relative to the output root.
static void
s_profile_rel (const s_job_t *job, const s_album_t *a, int profile, char *buf, size_t size)
{
    const profile_t *p = profile_get ((profile_id_t) profile);
    snprintf (buf, size, S_STAGING "/job-%llu/%s/%s", (unsigned long long) job->id,
              a->slug, p ? p->name : "x");
}

// ------------------------------------------------------- task transitions

//  Sets a task's state, keeps the job's counters, persists it. error:
//  NULL keeps the last error, "" clears it.
static void
s_task_set (broker_t *self, s_task_t *t, int state, const char *error)
{
    s_job_t *job = t->job;
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
static void
s_task_queue (broker_t *self, s_task_t *t)
{
    s_task_set (self, t, T_QUEUED, NULL);
    if (scheduler_push (self->sched, &t->sched))
        log_error ("out of memory queueing task %llu", (unsigned long long) t->sched.id);
}

//  Removes a task from its worker's held list and frees the slot.
static void
s_task_unhold (broker_t *self, s_task_t *t)
{
    if (t->worker < 0 || (size_t) t->worker >= self->n_workers)
        return;
    s_worker_t *w = &self->workers [t->worker];
    for (size_t i = 0; i < w->n_held; i++)
        if (w->held [i] == t) {
            w->held [i] = w->held [--w->n_held];
            break;
        }
    scheduler_release (self->sched, t->worker);
    t->worker = -1;
}

static void s_album_advance (broker_t *self, s_job_t *job, s_album_t *a);

//  In a report process just forked: closes every descriptor but the
//  standard ones (the broker's listening socket among them, so that a
//  broker restarted after kill -9 can bind its address at once while an
//  orphaned report process would still be hashing) and asks the kernel
//  to end this process with the broker, whose restart writes the report
//  again.
static void
s_report_child_detach (pid_t parent)
{
    if (close_range (3, ~0U, 0) != 0) {
        long max = sysconf (_SC_OPEN_MAX);
        for (long fd = 3; fd < (max > 0 ? max : 1024); fd++)
            close ((int) fd);
    }
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
        _exit (1);
}
static void s_job_check (broker_t *self, s_job_t *job);
//  Control and progress (defined in their section, below).
static void s_job_started (broker_t *self, s_job_t *job, int64_t now_ms);
static void s_job_finished (broker_t *self, s_job_t *job, bool finished);
static void s_job_durations (broker_t *self, s_job_t *job);
static double s_track_seconds (const s_album_t *a, size_t i);
static void s_track_stage (const s_album_t *a, size_t i, char *buf, size_t size);
static void s_task_cost (s_task_t *t, double elapsed_s);
static void s_report_cost (s_job_t *job, const s_album_t *a);
static int s_job_hold (broker_t *self, s_task_t *t, int widx);
static int s_retry_check (const s_job_t *job, const Masterfarm__JobRequest *req,
                          char *why, size_t size);
static void s_on_control_request (broker_t *self, const wire_msg_t *msg);
static void s_on_logs (broker_t *self, const wire_msg_t *msg);

//  True when an album's ready assembly should be queued now. An assembly
//  is long (about as much work as all the album's masters) and the last
//  one ends the job: with several slots it starts early only while more
//  masters remain than the other slots could run in its time (about one
//  master per album track per other slot), so that the last albums'
//  masters finish first and their assemblies run side by side at the end
//  instead of one after another on one slot. With one slot, no master
//  left to start, or every slot idle with nothing queued, it starts at
//  once (masters waiting for running analyses are worth a short wait).
static bool
s_assemble_may_start (broker_t *self, const s_album_t *a)
{
    //  Masters still to start: queued, or waiting for their album's
    //  analyses (which are short beside them).
    size_t queued = 0;
    for (size_t j = 0; j < self->n_jobs; j++) {
        const s_job_t *job = self->jobs [j];
        if (s_job_final (job->state))
            continue;
        for (size_t i = 0; i < job->n_tasks; i++) {
            const s_task_t *t = job->tasks [i];
            if ((t->state == T_QUEUED || t->state == T_BLOCKED)
            &&  t->kind == K_MASTER)
                queued++;
        }
    }
    uint64_t slots = 0, held = 0;
    for (size_t i = 0; i < self->n_workers; i++)
        if (self->workers [i].live) {
            slots += self->workers [i].slots;
            held += self->workers [i].n_held;
        }
    if (slots <= 1 || queued == 0 || (held == 0 && scheduler_size (self->sched) == 0))
        return true;
    size_t tracks = a->sub.n_tracks ? a->sub.n_tracks : a->spec->n_tracks;
    return (uint64_t) queued > (slots - 1) * (uint64_t) tracks;
}

//  After a task reached a final state: moves the graph on.
static void
s_task_final (broker_t *self, s_task_t *t)
{
    if (t->album >= 0 && (size_t) t->album < t->job->n_albums)
        s_album_advance (self, t->job, &t->job->albums [t->album]);
    s_job_check (self, t->job);
}

//  How an attempt ended when it did not succeed (see broker.h).
typedef enum {
    S_END_OWN,          //  the task's own failure: a strike
    S_END_RESOURCE,     //  the machine ran short: retried after a backoff
    S_END_LOST          //  its worker expired (killed, host lost)
} s_end_t;

//  The wait before retrying after the n-th resource failure (n >= 1):
//  BROKER_BACKOFF_MS doubling, at most BROKER_BACKOFF_MAX_MS.
static int64_t
s_backoff_ms (int n)
{
    int64_t ms = BROKER_BACKOFF_MS;
    for (int i = 1; i < n && ms < BROKER_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < BROKER_BACKOFF_MAX_MS ? ms : BROKER_BACKOFF_MAX_MS;
}

//  Forgets how a task's attempts ended (a retry requested by the operator
//  starts it afresh) and persists that.
static void
s_task_counts_clear (broker_t *self, s_task_t *t)
{
    t->strikes = t->lost = t->resource = 0;
    store_task_counts (self->store, t->sched.id, 0, 0, 0, 0);
}

//  A failed attempt: retry (elsewhere when possible, after a backoff for a
//  resource failure) or fail for good when the limit of its kind is
//  reached. Attempts a broker restart cut short never get here.
static void
s_task_attempt_failed (broker_t *self, s_task_t *t, int worker, const char *error,
                       s_end_t end)
{
    int n, limit;
    const char *what;
    if (end == S_END_RESOURCE) {
        n = ++t->resource;
        limit = BROKER_MAX_RESOURCE;
        what = "resource failures";
    }
    else
    if (end == S_END_LOST) {
        n = ++t->lost;
        limit = BROKER_MAX_LOST;
        what = "attempts lost with their worker";
    }
    else {
        n = ++t->strikes;
        limit = BROKER_MAX_ATTEMPTS;
        what = "failures";
    }
    int64_t retry_at = 0, wait_ms = 0;
    if (end == S_END_RESOURCE && n < limit) {
        wait_ms = s_backoff_ms (n);
        retry_at = clock_wall_ms () + wait_ms;
    }
    store_task_counts (self->store, t->sched.id, t->strikes, t->lost, t->resource, retry_at);
    metrics_task_failed (self->metrics, t->kind, n < limit);
    if (n >= limit) {
        log_warn ("task %llu failed for good after %d attempts (%d %s): %s",
                  (unsigned long long) t->sched.id, t->attempts, n, what, error);
        s_task_set (self, t, T_FAILED, error);
        s_task_final (self, t);
        return;
    }
    if (wait_ms)
        log_info ("task %llu attempt %d failed (resource failure %d), queued again in "
                  "%lld s: %s", (unsigned long long) t->sched.id, t->attempts, n,
                  (long long) (wait_ms / 1000), error);
    else
        log_info ("task %llu attempt %d failed, queued again: %s",
                  (unsigned long long) t->sched.id, t->attempts, error);
    t->sched.avoid_worker = worker;
    free (t->last_error);
    t->last_error = strdup (error);
    store_task_update (self->store, t->sched.id, T_QUEUED, t->attempts, error);
    t->state = T_QUEUED;
    if (wait_ms)
        scheduler_defer (self->sched, &t->sched, clock_mono_ms () + wait_ms);
    else
        scheduler_push (self->sched, &t->sched);
    t->job->dirty = true;
}

// ------------------------------------------------------------- the graph

//  The one-album spec JSON the album's tasks carry.
static const char *
s_album_json (s_job_t *job, s_album_t *a)
{
    if (!a->json) {
        job_spec_t one = *job->spec;
        one.albums = a->spec;
        one.n_albums = 1;
        a->json = spec_to_json (&one);
    }
    return a->json;
}

//  The album's output rate for a profile: every master of the album and
//  profile renders at it. A fixed-rate profile has its rate; a profile
//  that keeps the source rate takes the highest rate it allows for any
//  of the tracks (44.1 and 48 kHz sources on spotify: 48 kHz), so no
//  track is delivered below the rate the profile keeps for it.
static int
s_album_rate (profile_id_t p, const measure_t *const *an, size_t n)
{
    const profile_t *prof = profile_get (p);
    int rate = 0;
    for (size_t k = 0; k < n; k++) {
        int r = profile_output_rate (prof, an [k]->rate_hz);
        if (r > rate)
            rate = r;
    }
    return rate;
}

//  Plans every profile of an album from the analysed tracks and releases
//  or fails the master tasks.
static void
s_album_plan (broker_t *self, s_job_t *job, s_album_t *a)
{
    size_t n = a->spec->n_tracks;
    free (a->sub.tracks);
    a->sub = *a->spec;
    a->sub.tracks = calloc (n ? n : 1, sizeof *a->sub.tracks);
    a->sub.n_tracks = 0;
    const measure_t **an = calloc (n ? n : 1, sizeof *an);
    int *numbers = calloc (n ? n : 1, sizeof *numbers);
    if (!a->sub.tracks || !an || !numbers) {
        free (an);
        free (numbers);
        log_error ("out of memory planning album %d", a->idx);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        a->sub_idx [i] = -1;
        if (a->analyzed [i]) {
            a->sub_idx [i] = (int) a->sub.n_tracks;
            numbers [a->sub.n_tracks] = (int) i + 1;
            an [a->sub.n_tracks] = &a->analyses [i];
            a->sub.tracks [a->sub.n_tracks++] = a->spec->tracks [i];
        }
    }
    for (int p = 0; p < PROFILE_COUNT; p++) {
        if (!(a->spec->s.profiles & (1u << p)))
            continue;
        planner_plan_free (&a->plans [p]);
        free (a->plan_err [p]);
        a->plan_err [p] = NULL;
        a->plan_ok [p] = false;
        char err [S_ERR_LEN] = "";
        int64_t *cd_frames = NULL;
        if (a->sub.n_tracks == 0)
            snprintf (err, sizeof err, "no track of the album could be analysed");
        else
        if (p == PROFILE_CD && (cd_frames = calloc (a->sub.n_tracks, sizeof *cd_frames))) {
            //  Red Book limits need the lengths: refuse before mastering.
            for (size_t k = 0; k < a->sub.n_tracks; k++)
                cd_frames [k] = an [k]->rate_hz > 0
                              ? an [k]->frames * 44100 / an [k]->rate_hz : 0;
            assemble_check_cd (&a->sub, cd_frames, err, sizeof err);
        }
        free (cd_frames);
        if (a->sub.n_tracks > 0 && !err [0]) {
            int rate = s_album_rate ((profile_id_t) p, an, a->sub.n_tracks);
            int rc = planner_plan_tracks (&a->sub, (const measure_t *const *) an, numbers,
                                          (profile_id_t) p, rate, &a->plans [p], err, sizeof err);
            if (rc == 0) {
                a->plan_ok [p] = true;
                store_plan_put (self->store, job->id, a->idx, p, a->plans [p].report_json);
            }
            else
            if (!err [0])
                snprintf (err, sizeof err, "planning failed: %s", mf_strerror (rc));
        }
        if (!a->plan_ok [p]) {
            a->plan_err [p] = strdup (err);
            log_warn ("job %llu album %d profile %s: cannot plan: %s",
                      (unsigned long long) job->id, a->idx, profile_get ((profile_id_t) p)->name,
                      err);
        }
    }
    free (an);
    free (numbers);
    a->planned = true;
}

//  True when every analysis and every wanted master of the album is done.
static bool
s_album_mastered (const s_album_t *a)
{
    size_t n = a->spec->n_tracks;
    for (size_t i = 0; i < n; i++) {
        if (!a->analyze [i] || a->analyze [i]->state != T_DONE)
            return false;
        for (int p = 0; p < PROFILE_COUNT; p++) {
            const s_task_t *m = a->master [i * PROFILE_COUNT + p];
            if (m && m->state != T_DONE)
                return false;
        }
    }
    return true;
}

//  Appends one failure to out when there is room.
static void
s_failure_add (s_failure_t *out, size_t cap, size_t *k, int track, int profile,
               const char *title, const char *reason)
{
    if (*k < cap)
        out [(*k)++] = (s_failure_t) { track, profile, title, reason && *reason ? reason
                                                                  : "failed (no reason given)" };
}

//  Lists why an album is not complete into out (at most cap entries), by
//  cause: analyses that failed, masters that failed on their own, plans
//  that could not be made, assemblies that failed on their own, and the
//  album's own failure (report, publication). Tasks that never ran
//  because of a cause listed are not repeated. Returns the count.
static size_t
s_album_failures (const s_album_t *a, s_failure_t *out, size_t cap)
{
    size_t k = 0, n = a->spec->n_tracks;
    for (size_t i = 0; i < n; i++) {
        const s_task_t *an = a->analyze [i];
        const char *title = a->spec->tracks [i].title;
        if (an && an->state == T_FAILED) {
            s_failure_add (out, cap, &k, (int) i + 1, -1, title, an->last_error);
            continue;
        }
        for (int p = 0; p < PROFILE_COUNT; p++) {
            const s_task_t *m = a->master [i * PROFILE_COUNT + p];
            if (m && m->state == T_FAILED && (a->plan_ok [p] || m->attempts > 0))
                s_failure_add (out, cap, &k, (int) i + 1, p, title, m->last_error);
        }
    }
    for (int p = 0; p < PROFILE_COUNT; p++) {
        const s_task_t *as = a->assemble [p];
        if (as && a->planned && !a->plan_ok [p])
            s_failure_add (out, cap, &k, 0, p, NULL, a->plan_err [p]);
        if (as && as->state == T_FAILED && as->attempts > 0)
            s_failure_add (out, cap, &k, 0, p, NULL, as->last_error);
    }
    if (a->error)
        s_failure_add (out, cap, &k, 0, -1, NULL, a->error);
    return k;
}

//  Removes from an album's staging folder every file no successful
//  assembly named in its result (torn or foreign files of failed and
//  abandoned attempts, profiles that were not assembled, an earlier
//  report); whole false: also the album files and CUE sheets (a partial
//  delivery has none). The album folder is out_root/album_rel, pruned
//  beneath out_root (nothing outside it is deleted). Returns 0, or an
//  error with err.
static int
s_album_prune (const s_album_t *a, const char *out_root, const char *album_rel, bool whole,
               char *err, size_t err_size)
{
    const char **keep = NULL;
    char *copies [PROFILE_COUNT] = { NULL };
    size_t n_keep = 0;
    int rc = 0;
    for (int p = 0; p < PROFILE_COUNT && !rc; p++) {
        const s_task_t *as = a->assemble [p];
        if (!as || as->state != T_DONE)
            continue;
        const profile_t *prof = profile_get ((profile_id_t) p);
        size_t len = a->asm_files [p] ? strlen (a->asm_files [p]) : 0;
        size_t lines = 0;
        for (size_t i = 0; i < len; i++)
            lines += a->asm_files [p][i] == '\n';
        if (lines == 0) {
            snprintf (err, err_size, "the %s assembly named no files", prof->name);
            rc = MF_ERR_STATE;
            break;
        }
        //  "<profile>/<name>" per line, cut into strings in place
        size_t plen = strlen (prof->name);
        copies [p] = malloc (len + lines * (plen + 1) + 1);
        const char **grown = realloc (keep, (n_keep + lines) * sizeof *keep);
        if (grown)
            keep = grown;
        if (!copies [p] || !grown) {
            rc = MF_ERR_NOMEM;
            break;
        }
        char *w = copies [p];
        for (const char *r = a->asm_files [p]; *r; ) {
            const char *nl = strchr (r, '\n');
            size_t n = nl ? (size_t) (nl - r) : strlen (r);
            if (whole || strncmp (r, "album.", 6) != 0) {
                keep [n_keep++] = w;
                w += sprintf (w, "%s/%.*s", prof->name, (int) n, r) + 1;
            }
            r += n + (nl ? 1 : 0);
        }
    }
    if (!rc)
        rc = deliver_prune_beneath (out_root, album_rel, keep, n_keep, err, err_size);
    else
    if (!err [0])
        snprintf (err, err_size, "cannot list the assemblies' files: %s", mf_strerror (rc));
    for (int p = 0; p < PROFILE_COUNT; p++)
        free (copies [p]);
    free (keep);
    return rc;
}

//  True when two track plans would master a track the same way.
static bool
s_track_plan_same (const track_plan_t *x, const track_plan_t *y)
{
    //  a silent track has no target (NaN): equal when both have none
    bool same_target = x->target_lufs == y->target_lufs
                    || (isnan (x->target_lufs) && isnan (y->target_lufs));
    if (!same_target || x->silent != y->silent || x->gain_db != y->gain_db
    ||  x->ceiling_dbtp != y->ceiling_dbtp || x->fade_in_frames != y->fade_in_frames
    ||  x->fade_out_frames != y->fade_out_frames)
        return false;
    for (int b = 0; b < MEASURE_BANDS; b++)
        if (x->tonal_db [b] != y->tonal_db [b])
            return false;
    return true;
}

//  After the plan a retry made: every done master whose track plan
//  changed (or that had none) is mastered again, with its profile's
//  assembly; one whose plan is the same keeps its output.
static void
s_album_recheck_masters (broker_t *self, s_album_t *a, const album_plan_t *old,
                         const bool *old_ok, const int *old_idx)
{
    size_t n = a->spec->n_tracks;
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < PROFILE_COUNT; p++) {
            s_task_t *m = a->master [i * PROFILE_COUNT + p];
            if (!m || m->state != T_DONE)
                continue;
            int o = old_idx [i], k = a->sub_idx [i];
            if (old_ok [p] && a->plan_ok [p] && o >= 0 && k >= 0
            &&  (size_t) o < old [p].n_tracks && (size_t) k < a->plans [p].n_tracks
            &&  old [p].out_rate_hz == a->plans [p].out_rate_hz
            &&  s_track_plan_same (&old [p].tracks [o], &a->plans [p].tracks [k]))
                continue;
            log_info ("job %llu album %d track %zu profile %s: its plan changed, mastered again",
                      (unsigned long long) m->sched.job_id, a->idx, i + 1,
                      profile_get ((profile_id_t) p)->name);
            m->attempts = 0;
            s_task_counts_clear (self, m);
            m->sched.avoid_worker = -1;
            s_task_set (self, m, T_BLOCKED, "");
            s_task_t *as = a->assemble [p];
            if (as && s_final (as->state)) {
                as->attempts = 0;
                s_task_counts_clear (self, as);
                s_task_set (self, as, T_BLOCKED, "");
            }
        }
}

//  Plans the album; after a retry's new analyses, keeps the masters
//  whose plan did not change (s_album_recheck_masters).
static void
s_album_replan (broker_t *self, s_job_t *job, s_album_t *a)
{
    size_t n = a->spec->n_tracks;
    album_plan_t old [PROFILE_COUNT];
    bool old_ok [PROFILE_COUNT];
    int *old_idx = a->replan ? malloc ((n ? n : 1) * sizeof *old_idx) : NULL;
    if (old_idx) {
        memcpy (old, a->plans, sizeof old);
        memcpy (old_ok, a->plan_ok, sizeof old_ok);
        memcpy (old_idx, a->sub_idx, n * sizeof *old_idx);
        memset (a->plans, 0, sizeof a->plans);
    }
    s_album_plan (self, job, a);
    if (old_idx) {
        s_album_recheck_masters (self, a, old, old_ok, old_idx);
        for (int p = 0; p < PROFILE_COUNT; p++)
            planner_plan_free (&old [p]);
        free (old_idx);
    }
    else
    if (a->replan) {
        //  Out of memory for the comparison: master every track again.
        for (size_t i = 0; i < n * PROFILE_COUNT; i++)
            if (a->master [i] && a->master [i]->state == T_DONE) {
                a->master [i]->attempts = 0;
                s_task_set (self, a->master [i], T_BLOCKED, "");
            }
    }
    a->replan = false;
}

//  Moves an album's graph on as far as its task states allow.
static void
s_album_advance (broker_t *self, s_job_t *job, s_album_t *a)
{
    size_t n = a->spec->n_tracks;
    if (a->asm_deferred) {
        a->asm_deferred = false;     //  set again below while still held back
        self->n_deferred--;
    }
    //  1. Every analysis final: plan, then release or fail the masters.
    if (!a->planned) {
        for (size_t i = 0; i < n; i++)
            if (!s_final (a->analyze [i]->state))
                return;
        s_album_replan (self, job, a);
    }
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < PROFILE_COUNT; p++) {
            s_task_t *m = a->master [i * PROFILE_COUNT + p];
            if (!m || m->state != T_BLOCKED)
                continue;
            if (a->analyzed [i] && a->plan_ok [p])
                s_task_queue (self, m);
            else {
                char err [S_ERR_LEN];
                s_task_t *an = a->analyze [i];
                if (!a->analyzed [i])
                    snprintf (err, sizeof err, "not mastered: analysis %s%s%s",
                              an->state == T_CANCELLED ? "cancelled" : "failed",
                              an->last_error ? ": " : "", an->last_error ? an->last_error : "");
                else
                    snprintf (err, sizeof err, "not mastered: %s",
                              a->plan_err [p] ? a->plan_err [p] : "no plan");
                s_task_set (self, m, T_FAILED, err);
            }
        }
    //  2. Every master of the album final: assemble each profile when the
    //  album is complete, or when the spec asks for a partial delivery
    //  (then per-track files only); otherwise the album is held.
    bool masters_final = true;
    for (size_t i = 0; i < n * PROFILE_COUNT; i++)
        if (a->master [i] && !s_final (a->master [i]->state))
            masters_final = false;
    bool mastered = masters_final && s_album_mastered (a);
    for (int p = 0; p < PROFILE_COUNT && masters_final; p++) {
        s_task_t *as = a->assemble [p];
        if (!as || as->state != T_BLOCKED)
            continue;
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) {
            s_task_t *m = a->master [i * PROFILE_COUNT + p];
            if (m && m->state == T_DONE)
                ok++;
        }
        if (!mastered && !a->spec->s.partial_deliver) {
            s_task_set (self, as, T_FAILED, "not assembled: the album is held (a track or "
                        "profile failed, and the spec does not ask for \"partial\": \"deliver\")");
            continue;
        }
        if (ok > 0 && !s_assemble_may_start (self, a)) {
            if (!a->asm_deferred) {
                a->asm_deferred = true;
                self->n_deferred++;
            }
            continue;
        }
        if (ok > 0)
            s_task_queue (self, as);
        else
            s_task_set (self, as, T_FAILED, "not assembled: no track of the album was mastered");
    }
    //  3. Every assembly final: hold the album, or write its report and
    //  manifest over exactly the files the assemblies delivered.
    if (a->state != A_OPEN || a->report_pid > 0 || !masters_final)
        return;
    for (int p = 0; p < PROFILE_COUNT; p++)
        if (a->assemble [p] && !s_final (a->assemble [p]->state))
            return;
    bool complete = mastered, any_assembled = false;
    for (int p = 0; p < PROFILE_COUNT; p++)
        if (a->assemble [p]) {
            if (a->assemble [p]->state == T_DONE)
                any_assembled = true;
            else
                complete = false;
        }
    if (!complete && (!a->spec->s.partial_deliver || !any_assembled)) {
        a->state = A_HELD;
        store_album_set (self->store, job->id, a->idx, a->slug, a->state);
        job->dirty = true;
        log_warn ("job %llu: album \"%s\" held, not published: not every track of every "
                  "profile was delivered (masterfarm status %llu names the failures)",
                  (unsigned long long) job->id, a->spec->title, (unsigned long long) job->id);
        return;
    }
    //  Everything below goes by the album's place under the output root,
    //  opened beneath it at each use, so that a folder on the way swapped
    //  for a symbolic link leads nowhere outside
    char album_rel [4200], err [S_ERR_LEN] = "";
    const char *out_root = self->output_root;
    snprintf (album_rel, sizeof album_rel, S_STAGING "/job-%llu/%s",
              (unsigned long long) job->id, a->slug);
    //  Only the files the successful assemblies named belong: leftovers of
    //  failed or abandoned attempts go before anything is hashed.
    int rc = s_album_prune (a, out_root, album_rel, complete, err, sizeof err);
    //  The report covers the analysed tracks (under their spec numbers),
    //  the profiles that were assembled, and what is missing and why.
    report_profile_t rp [PROFILE_COUNT];
    master_report_t *mreps [PROFILE_COUNT] = { NULL };
    bool *delivered [PROFILE_COUNT] = { NULL };
    assemble_layout_t layouts [PROFILE_COUNT];
    memset (layouts, 0, sizeof layouts);
    const measure_t **an = calloc (n ? n : 1, sizeof *an);
    int *numbers = calloc (n ? n : 1, sizeof *numbers);
    size_t cap_f = n * (PROFILE_COUNT + 1) + 2 * PROFILE_COUNT + 2, n_f = 0;
    s_failure_t *fails = calloc (cap_f, sizeof *fails);
    report_missing_t *missing = calloc (cap_f, sizeof *missing);
    size_t n_rp = 0;
    if (!an || !numbers || !fails || !missing)
        rc = rc ? rc : MF_ERR_NOMEM;
    for (int p = 0; p < PROFILE_COUNT && !rc; p++) {
        if (!a->assemble [p] || !a->plan_ok [p] || a->assemble [p]->state != T_DONE)
            continue;
        mreps [p] = calloc (a->sub.n_tracks ? a->sub.n_tracks : 1, sizeof *mreps [p]);
        delivered [p] = calloc (a->sub.n_tracks ? a->sub.n_tracks : 1, sizeof *delivered [p]);
        if (!mreps [p] || !delivered [p])
            continue;
        size_t n_mastered = 0;
        for (size_t i = 0; i < n; i++) {
            s_task_t *m = a->master [i * PROFILE_COUNT + p];
            if (a->sub_idx [i] >= 0 && m && m->state == T_DONE && m->report
            &&  results_master_parse (m->report, &mreps [p][a->sub_idx [i]]) == 0) {
                delivered [p][a->sub_idx [i]] = true;
                n_mastered++;
            }
        }
        memset (&rp [n_rp], 0, sizeof rp [n_rp]);
        rp [n_rp].profile = (profile_id_t) p;
        rp [n_rp].plan = &a->plans [p];
        rp [n_rp].masters = mreps [p];
        rp [n_rp].album_out_lufs = NAN;
        rp [n_rp].delivered = delivered [p];
        int rate = 0;
        if (complete && a->assemble [p]->report
        &&  results_layout_parse (a->assemble [p]->report, &layouts [p], &rate) == 0
        &&  layouts [p].n_tracks == a->sub.n_tracks && n_mastered == a->sub.n_tracks) {
            rp [n_rp].layout = &layouts [p];
            rp [n_rp].rate_hz = rate;
            rp [n_rp].album_out_lufs = layouts [p].album_lufs;   //  NAN if not measured
        }
        n_rp++;
    }
    if (!rc && n_rp == 0) {
        snprintf (err, sizeof err, "no profile of the album can be reported");
        rc = MF_ERR_STATE;
    }
    char *status = NULL;
    if (!rc) {
        for (size_t i = 0, k = 0; i < n; i++)
            if (a->sub_idx [i] >= 0) {
                numbers [k] = (int) i + 1;
                an [k++] = &a->analyses [i];
            }
        n_f = complete ? 0 : s_album_failures (a, fails, cap_f);
        for (size_t i = 0; i < n_f; i++) {
            const profile_t *pr = fails [i].profile >= 0
                                ? profile_get ((profile_id_t) fails [i].profile) : NULL;
            missing [i] = (report_missing_t) { fails [i].track, fails [i].title,
                                               pr ? pr->name : NULL, fails [i].reason };
        }
        report_input_t tmp = { &a->sub, NULL, NULL, 0, NULL, !complete, missing, n_f };
        status = report_status_json (&tmp);
        if (!status)
            rc = MF_ERR_NOMEM;
    }
    if (!rc) {
        report_input_t in = { &a->sub, (const measure_t *const *) an, rp, n_rp, numbers,
                              !complete, missing, n_f };
        //  Hashing an album's files takes seconds: a child process writes
        //  the report and the manifest while the loop goes on (s_reap_reports).
        fflush (NULL);
        pid_t parent = getpid ();
        pid_t pid = fork ();
        if (pid == 0) {
            s_report_child_detach (parent);
            rc = report_write_beneath (&in, out_root, album_rel, err, sizeof err);
            if (!rc)
                rc = deliver_manifest_write_status_beneath (out_root, album_rel, status,
                                                            err, sizeof err);
            if (rc)
                log_error ("job %llu album %s: %s", (unsigned long long) job->id, a->slug, err);
            _exit (rc ? 1 : 0);
        }
        if (pid > 0) {
            a->report_pid = pid;
            a->report_ms = clock_mono_ms ();
            self->n_reporting++;
        }
        else {
            rc = report_write_beneath (&in, out_root, album_rel, err, sizeof err);
            if (!rc)
                rc = deliver_manifest_write_status_beneath (out_root, album_rel, status,
                                                            err, sizeof err);
        }
    }
    if (rc) {
        if (!err [0])
            snprintf (err, sizeof err, "cannot write the report: %s", mf_strerror (rc));
        log_error ("job %llu album %s: %s", (unsigned long long) job->id, a->slug, err);
        free (a->error);
        a->error = strdup (err);
    }
    for (int p = 0; p < PROFILE_COUNT; p++) {
        free (mreps [p]);
        free (delivered [p]);
        assemble_layout_free (&layouts [p]);
    }
    free (status);
    free (missing);
    free (fails);
    free (numbers);
    free (an);
    if (a->report_pid > 0)
        return;
    a->state = rc ? A_PUBLISH_FAILED : A_REPORTED;
    if (rc)
        job->publish_failed = true;
    store_album_set (self->store, job->id, a->idx, a->slug, a->state);
    job->dirty = true;
}

//  Moves an earlier delivery OUTPUT_ROOT/<slug> (a folder, not a symbolic
//  link: deliver_at_beneath refuses that one) into
//  OUTPUT_ROOT/.masterfarm/replaced/<slug>.<ms> when staging_rel/<slug>
//  holds a new one, by names under folder descriptors opened beneath the
//  output root. Failures are left to the publication to report.
static void
s_delivery_aside (broker_t *self, const char *staging_rel, const char *slug, uint64_t job_id)
{
    const char *root = self->output_root;
    char mine [4400], aside_rel [64] = S_STAGING "/replaced", name [FSUTIL_NAME_MAX + 32];
    snprintf (mine, sizeof mine, "%s/%s", staging_rel, slug);
    int rootfd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int minefd = fsutil_open_beneath (root, mine, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
    struct stat st;
    bool earlier = rootfd >= 0 && minefd >= 0
                && fstatat (rootfd, slug, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode);
    int asidefd = -1;
    if (earlier && fsutil_mkdir_beneath (root, aside_rel, 0755) == 0)
        asidefd = fsutil_open_beneath (root, aside_rel, O_RDONLY | O_DIRECTORY, 0);
    snprintf (name, sizeof name, "%s.%lld", slug, (long long) clock_wall_ms ());
    if (asidefd >= 0 && renameat2 (rootfd, slug, asidefd, name, RENAME_NOREPLACE) == 0) {
        if (fsync (rootfd) != 0 || fsync (asidefd) != 0)
            log_warn ("job %llu: fsync after moving %s/%s aside failed", (unsigned long long) job_id,
                      root, slug);
        log_warn ("job %llu: %s/%s was already delivered; the earlier delivery is kept "
                  "in %s/%s/%s", (unsigned long long) job_id, root, slug, root, aside_rel, name);
    }
    if (asidefd >= 0)
        close (asidefd);
    if (minefd >= 0)
        close (minefd);
    if (rootfd >= 0)
        close (rootfd);
}

//  Takes a delivered album OUTPUT_ROOT/<slug> back to staging_rel/<slug>
//  for a retry (unless staging already has one), by names under folder
//  descriptors opened beneath the output root; a delivery folder that is
//  a symbolic link is left alone. Failures are logged.
static void
s_delivery_back (broker_t *self, const char *staging_rel, const char *slug, uint64_t job_id)
{
    const char *root = self->output_root;
    int rootfd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int stagefd = fsutil_open_beneath (root, staging_rel, O_RDONLY | O_DIRECTORY, 0);
    struct stat st;
    const char *why = NULL;
    if (rootfd < 0 || stagefd < 0)
        why = strerror (errno);
    else
    if (fstatat (stagefd, slug, &st, AT_SYMLINK_NOFOLLOW) == 0)
        why = NULL;                             //  staging has one already
    else
    if (fstatat (rootfd, slug, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
        why = "it is a symbolic link";
    else
    if (renameat2 (rootfd, slug, stagefd, slug, RENAME_NOREPLACE) != 0)
        why = strerror (errno);
    if (why)
        log_warn ("job %llu: cannot take %s/%s back for the retry: %s",
                  (unsigned long long) job_id, root, slug, why);
    if (stagefd >= 0)
        close (stagefd);
    if (rootfd >= 0)
        close (rootfd);
}

//  Publishes the albums of a job whose time has come. Returns true when
//  none is left waiting.
static bool
s_job_publish (broker_t *self, s_job_t *job)
{
    bool waiting = false;
    char staging [4096], staging_rel [128], err [S_ERR_LEN];
    s_staging (self, job, staging, sizeof staging);
    snprintf (staging_rel, sizeof staging_rel, S_STAGING "/job-%llu", (unsigned long long) job->id);
    for (size_t i = 0; i < job->n_albums; i++) {
        s_album_t *a = &job->albums [i];
        if (a->state != A_REPORTED)
            continue;
        //  An earlier delivery of the same album (a re-run into the same
        //  output root) is moved aside, not mixed with the new one.
        if (job->deliver_at_ms <= 0 || clock_wall_ms () >= job->deliver_at_ms)
            s_delivery_aside (self, staging_rel, a->slug, job->id);
        int rc = deliver_at_beneath (self->output_root, staging_rel, a->slug, clock_wall_ms (),
                                     job->deliver_at_ms, err, sizeof err);
        if (rc == DELIVER_HELD) {
            waiting = true;
            continue;
        }
        if (rc == 0) {
            a->state = A_PUBLISHED;
            log_info ("job %llu: album %s delivered to %s/%s", (unsigned long long) job->id,
                      a->slug, self->output_root, a->slug);
        }
        else {
            a->state = A_PUBLISH_FAILED;
            job->publish_failed = true;
            log_error ("job %llu: album %s not delivered: %s (its files stay in %s/%s)",
                       (unsigned long long) job->id, a->slug, err, staging, a->slug);
            free (a->error);
            a->error = strdup (err);
        }
        store_album_set (self->store, job->id, a->idx, a->slug, a->state);
        job->dirty = true;
    }
    return !waiting;
}

//  nftw callback: removes one file or (empty by then) folder.
static int
s_rm_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (remove (path))
        log_warn ("cannot remove %s: %s", path, strerror (errno));
    return 0;
}

//  Removes a finished job's intermediates and its staging folder (what
//  is left there once every album is published).
static void
s_job_clean (broker_t *self, const s_job_t *job)
{
    char staging [4096], work [4200];
    s_staging (self, job, staging, sizeof staging);
    snprintf (work, sizeof work, "%s/work", staging);
    nftw (work, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    rmdir (staging);
}

//  Removes the intermediates of jobs done since the last call.
static void
s_jobs_clean (broker_t *self)
{
    bool cleaned = false;
    for (size_t i = 0; i < self->n_jobs; i++)
        if (self->jobs [i]->clean_pending) {
            self->jobs [i]->clean_pending = false;
            s_job_clean (self, self->jobs [i]);
            cleaned = true;
        }
    //  and the reuse cache's entries no job has used for its period
    size_t n = cleaned && self->cfg.cache_days > 0
             ? cache_sweep (self->output_root, (int64_t) self->cfg.cache_days * 86400) : 0;
    if (n)
        log_info ("reuse cache: %zu file(s) unused for %d days removed", n,
                  self->cfg.cache_days);
}

//  Sets a job's state when all its tasks are final (and its albums out).
static void
s_job_check (broker_t *self, s_job_t *job)
{
    if (s_job_final (job->state))
        return;
    int state = job->state;
    if (job->done + job->failed + job->cancelled < job->n_tasks)
        state = job->done + job->failed > 0 || state == J_RUNNING ? J_RUNNING : J_QUEUED;
    else {
        bool reporting = false;
        for (size_t i = 0; i < job->n_albums; i++) {
            if (job->albums [i].state == A_OPEN)
                s_album_advance (self, job, &job->albums [i]);
            if (job->albums [i].state == A_OPEN)
                reporting = true;
        }
        if (reporting)
            state = J_RUNNING;
        else
        if (!s_job_publish (self, job))
            state = J_WAITING;
        else
            state = job->failed > 0 || job->publish_failed ? J_FAILED : J_DONE;
    }
    if (state != job->state) {
        job->state = state;
        store_job_set_state (self->store, job->id, state, clock_wall_ms ());
        s_job_finished (self, job, s_job_final (state) || state == J_WAITING);
        job->dirty = true;
        if (s_job_final (state))
            log_info ("job %llu %s: %u tasks done, %u failed", (unsigned long long) job->id,
                      state == J_DONE ? "done" : "failed", job->done, job->failed);
        if (s_job_final (state) && job->deadline_ms > 0 && clock_wall_ms () > job->deadline_ms) {
            char when [32];
            log_warn ("job %llu finished after its deadline %s", (unsigned long long) job->id,
                      clock_format_rfc3339 (job->deadline_ms, when, sizeof when));
        }
        //  A failed job keeps its intermediates for `retry`.
        if (state == J_DONE && !job->noop)
            job->clean_pending = true;      //  s_jobs_clean, once watchers know
    }
}

// --------------------------------------------------------------- building

//  Adds a task to a job (and the id index) from a store row.
static s_task_t *
s_task_add (broker_t *self, s_job_t *job, const store_task_t *row)
{
    s_task_t *t = calloc (1, sizeof *t);
    if (!t)
        return NULL;
    t->sched.id = row->id;
    t->sched.job_id = job->id;
    t->sched.priority = job->priority;
    t->sched.deadline_ms = job->deadline_ms;
    t->sched.avoid_worker = -1;
    t->sched.heap_index = SCHED_NOT_QUEUED;
    t->job = job;
    t->album = row->album;
    t->track = row->track;
    t->worker = -1;
    t->kind = (int8_t) row->kind;
    t->state = (int8_t) row->state;
    t->profile = (int8_t) row->profile;
    t->attempts = (uint16_t) (row->attempts > 0 && row->attempts <= UINT16_MAX
                              ? row->attempts : 0);
    t->strikes = (uint8_t) (row->strikes > 0 && row->strikes <= UINT8_MAX ? row->strikes : 0);
    t->lost = (uint8_t) (row->lost > 0 && row->lost <= UINT8_MAX ? row->lost : 0);
    t->resource = (uint8_t) (row->resource > 0 && row->resource <= UINT8_MAX
                             ? row->resource : 0);
    if (row->last_error)
        t->last_error = strdup (row->last_error);
    if (job->n_tasks == job->cap_tasks) {
        size_t cap = job->cap_tasks ? job->cap_tasks * 2 : 16;
        s_task_t **tasks = realloc (job->tasks, cap * sizeof *tasks);
        if (!tasks) {
            free (t);
            return NULL;
        }
        job->tasks = tasks;
        job->cap_tasks = cap;
    }
    job->tasks [job->n_tasks++] = t;
    if (row->id >= self->n_by_id) {
        size_t n = self->n_by_id ? self->n_by_id : 1024;
        while (n <= row->id)
            n *= 2;
        s_task_t **by = realloc (self->by_id, n * sizeof *by);
        if (!by)
            return NULL;
        memset (by + self->n_by_id, 0, (n - self->n_by_id) * sizeof *by);
        self->by_id = by;
        self->n_by_id = n;
    }
    self->by_id [row->id] = t;
    if (row->state == T_DONE) job->done++;
    if (row->state == T_FAILED) job->failed++;
    if (row->state == T_CANCELLED) job->cancelled++;
    //  Place it in its album.
    if (t->album >= 0 && (size_t) t->album < job->n_albums) {
        s_album_t *a = &job->albums [t->album];
        size_t nt = a->spec->n_tracks;
        if (t->kind == K_ANALYZE && t->track >= 0 && (size_t) t->track < nt)
            a->analyze [t->track] = t;
        else
        if (t->kind == K_MASTER && t->track >= 0 && (size_t) t->track < nt
        &&  t->profile >= 0 && t->profile < PROFILE_COUNT)
            a->master [t->track * PROFILE_COUNT + t->profile] = t;
        else
        if (t->kind == K_ASSEMBLE && t->profile >= 0 && t->profile < PROFILE_COUNT)
            a->assemble [t->profile] = t;
    }
    return t;
}

//  Frees a job and everything it owns.
static void
s_job_free (s_job_t *job)
{
    if (!job)
        return;
    for (size_t i = 0; i < job->n_tasks; i++) {
        free (job->tasks [i]->last_error);
        free (job->tasks [i]->report);
        free (job->tasks [i]);
    }
    free (job->tasks);
    for (size_t i = 0; i < job->n_albums; i++) {
        s_album_t *a = &job->albums [i];
        for (size_t t = 0; a->analyses && t < a->spec->n_tracks; t++)
            measure_free (&a->analyses [t]);
        free (a->analyses);
        free (a->analyzed);
        free (a->in_stat);
        free (a->analyze);
        free (a->master);
        free (a->sub.tracks);
        free (a->sub_idx);
        free (a->json);
        free (a->error);
        free (a->dur_s);
        for (int p = 0; p < PROFILE_COUNT; p++) {
            free (a->asm_files [p]);
            planner_plan_free (&a->plans [p]);
            free (a->plan_err [p]);
        }
    }
    free (job->albums);
    free (job->held);
    spec_destroy (&job->spec);
    free (job->name);
    free (job);
}

//  Parses a noop spec {"tasks": N}. Returns N, or -1 with err.
static long
s_noop_count (const char *text, char *err, size_t err_size)
{
    json_error_t jerr;
    json_t *o = json_loads (text, 0, &jerr);
    json_t *n = json_object_get (o, "tasks");
    long count = -1;
    if (!o)
        snprintf (err, err_size, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    else
    if (!json_is_integer (n) || json_integer_value (n) < 1
    ||  json_integer_value (n) > BROKER_MAX_NOOP_TASKS)
        snprintf (err, err_size, "$.tasks: give a whole number from 1 to %d",
                  BROKER_MAX_NOOP_TASKS);
    else
        count = (long) json_integer_value (n);
    json_decref (o);
    return count;
}

//  Creates the in-memory job from a store row (spec parsed, albums laid
//  out, no tasks yet). Returns NULL (logged) when the spec does not parse.
static s_job_t *
s_job_new (const store_job_t *row)
{
    s_job_t *job = calloc (1, sizeof *job);
    if (!job)
        return NULL;
    job->id = row->id;
    job->name = strdup (row->name ? row->name : "");
    job->priority = row->priority;
    job->deadline_ms = row->deadline_ms;
    job->deliver_at_ms = row->deliver_at_ms;
    job->submitted_ms = row->submitted_ms;
    job->state = row->state;
    job->paused = row->paused;
    job->started_ms = row->started_ms;
    job->finished_ms = row->finished_ms;
    const char *format = row->format ? row->format : "json";
    if (strcmp (format, "noop") == 0) {
        job->noop = true;
        return job;
    }
    spec_errors_t errs = { 0 };
    size_t len = row->spec ? strlen (row->spec) : 0;
    job->spec = strcmp (format, "csv") == 0
              ? spec_parse_csv (row->spec ? row->spec : "", len, row->origin, &errs)
              : spec_parse_json (row->spec ? row->spec : "", len, row->origin, &errs);
    spec_errors_clear (&errs);
    if (!job->spec) {
        log_error ("job %llu: its stored spec no longer parses; job skipped",
                   (unsigned long long) row->id);
        s_job_free (job);
        return NULL;
    }
    job->n_albums = job->spec->n_albums;
    job->albums = calloc (job->n_albums ? job->n_albums : 1, sizeof *job->albums);
    if (!job->albums) {
        s_job_free (job);
        return NULL;
    }
    for (size_t i = 0; i < job->n_albums; i++) {
        s_album_t *a = &job->albums [i];
        a->idx = (int) i;
        a->spec = &job->spec->albums [i];
        size_t n = a->spec->n_tracks ? a->spec->n_tracks : 1;
        a->analyze = calloc (n, sizeof *a->analyze);
        a->master = calloc (n * PROFILE_COUNT, sizeof *a->master);
        a->analyses = calloc (n, sizeof *a->analyses);
        a->analyzed = calloc (n, sizeof *a->analyzed);
        a->sub_idx = calloc (n, sizeof *a->sub_idx);
        a->dur_s = calloc (n, sizeof *a->dur_s);
        a->in_stat = calloc (n, sizeof *a->in_stat);
        if (!a->analyze || !a->master || !a->analyses || !a->analyzed || !a->sub_idx
        ||  !a->dur_s || !a->in_stat) {
            s_job_free (job);
            return NULL;
        }
        //  Unique slug within the job.
        char slug [FSUTIL_NAME_MAX + 1];
        if (deliver_album_slug (a->spec, slug, sizeof slug))
            snprintf (slug, sizeof slug, "album-%zu", i + 1);
        snprintf (a->slug, sizeof a->slug, "%s", slug);
        for (size_t k = 0, dup = 1; k < i; k++)
            if (strcmp (job->albums [k].slug, a->slug) == 0) {
                snprintf (a->slug, sizeof a->slug, "%s-%zu", slug, ++dup);
                k = (size_t) -1;
            }
    }
    return job;
}

//  Inserts a job into the sorted job list.
static int
s_job_insert (broker_t *self, s_job_t *job)
{
    s_job_t **jobs = realloc (self->jobs, (self->n_jobs + 1) * sizeof *jobs);
    if (!jobs)
        return MF_ERR_NOMEM;
    self->jobs = jobs;
    size_t i = self->n_jobs;
    while (i > 0 && jobs [i - 1]->id > job->id) {
        jobs [i] = jobs [i - 1];
        i--;
    }
    jobs [i] = job;
    self->n_jobs++;
    return 0;
}

//  Inserts one task row and adds it in memory. Returns the task or NULL.
static s_task_t *
s_task_create (broker_t *self, s_job_t *job, int kind, int album, int track, int profile,
               int state)
{
    store_task_t row = { .job_id = job->id, .kind = kind, .album = album, .track = track,
                         .profile = profile, .state = state };
    if (store_task_insert (self->store, &row))
        return NULL;
    return s_task_add (self, job, &row);
}

// --------------------------------------------------------------- sending

//  Sends a message to a peer; drops it (logged) when the peer cannot take it.
static void
s_send (broker_t *self, const uint8_t *id, size_t id_size, uint32_t type,
        const ProtobufCMessage *body, const wire_frame_t *frames, size_t n_frames)
{
    int rc = wire_send (self->sock, id, id_size, type, ++self->seq, body, frames, n_frames,
                        ZMQ_DONTWAIT);
    if (rc) {
        char name [128];
        s_id_name (id, id_size, name, sizeof name);
        log_warn ("cannot send %s to %s: %s", wire_type_name (type), name,
                  rc == MF_ERR_IO ? zmq_strerror (zmq_errno ()) : mf_strerror (rc));
    }
}

//  Answers a request with an Error.
static void
s_send_error (broker_t *self, const wire_msg_t *msg, int code, const char *text)
{
    Masterfarm__Error e = MASTERFARM__ERROR__INIT;
    e.code = (uint32_t) -code;
    e.message = (char *) text;
    s_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__ERROR, &e.base, NULL, 0);
}

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
s_master_plan (const s_album_t *a, const s_task_t *t, Masterfarm__Plan *plan)
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
    plan->out_rate_hz = (uint32_t) a->plans [t->profile].out_rate_hz;
    return 0;
}

//  A job's first task under way: the job is running from now.
static void
s_job_running (broker_t *self, s_job_t *job, int64_t now)
{
    job->dirty = true;
    s_job_started (self, job, now);
    if (job->state == J_QUEUED) {
        job->state = J_RUNNING;
        store_job_set_state (self->store, job->id, J_RUNNING, now);
    }
}

// ------------------------------------------------------------ reuse cache

//  The reuse cache's key of a master task: what its intermediate depends
//  on (the input's digest, the profile, the track, the album's settings
//  and the plan) and masterfarm's version. Returns false when the input's
//  digest or the plan is unknown (no reuse).
static bool
s_master_key (broker_t *self, s_task_t *t, char key [SHA256_HEX_SIZE])
{
    s_album_t *a = &t->job->albums [t->album];
    const char *sha = a->analyses [t->track].input_sha256;
    const profile_t *prof = profile_get ((profile_id_t) t->profile);
    const char *settings = s_album_json (t->job, a);
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
    cache_key (key, "master", parts, lens, 6);
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

//  A task's result is stored: it is done (its job counts it, no error).
static void
s_task_done (s_task_t *t)
{
    t->job->done++;
    t->state = T_DONE;
    t->job->dirty = true;
    free (t->last_error);
    t->last_error = NULL;
}

//  Completes a task with a result found in the reuse cache, as if a
//  worker had returned it, without an attempt: the slot the scheduler
//  gave worker widx for it is handed back.
static void
s_task_reused (broker_t *self, s_task_t *t, int widx, const Masterfarm__Result *res,
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
    s_task_done (t);
    self->n_reused++;
    log_info ("job %llu album %d track %d: %s%s%s reused (input and settings unchanged)",
              (unsigned long long) t->sched.job_id, t->album + 1, t->track + 1,
              t->kind == K_ANALYZE ? "analysis" : "master",
              t->kind == K_MASTER ? " " : "",
              t->kind == K_MASTER ? profile_get ((profile_id_t) t->profile)->name : "");
    s_task_final (self, t);
}

//  Looks the task up in the reuse cache; on a hit completes it (see
//  s_task_reused) and returns true. An analysis is found through its
//  input's status (an unchanged file is not read again), a master through
//  its key. On a miss of an analysis, the input's status is kept for the
//  result to record.
static bool
s_cache_take (broker_t *self, s_task_t *t, int widx)
{
    if (self->cfg.cache_days <= 0 || t->album < 0 || t->track < 0
    ||  (t->kind != K_ANALYZE && t->kind != K_MASTER))
        return false;
    s_album_t *a = &t->job->albums [t->album];
    const char *out_root = self->output_root;
    if (t->kind == K_ANALYZE) {
        const char *rel = a->spec->tracks [t->track].path;
        cache_stat_t *st = &a->in_stat [t->track];
        cache_stat_input (self->input_root, rel, st);
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
        store_track_analysis (self->store, t->sched.job_id, t->album, t->track, data, size);
        free (data);
        s_task_reused (self, t, widx, NULL, NULL, 0);
        return true;
    }
    char key [SHA256_HEX_SIZE], rel [1024], sha [SHA256_HEX_SIZE];
    char *report = NULL;
    int64_t bytes = 0;
    if (!s_master_key (self, t, key))
        return false;
    s_intermediate_rel (t, rel, sizeof rel);
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
static void
s_cache_put (broker_t *self, s_task_t *t, const Masterfarm__Result *res,
             const store_output_t *outs, size_t n_out)
{
    if (self->cfg.cache_days <= 0 || t->album < 0 || t->track < 0)
        return;
    s_album_t *a = &t->job->albums [t->album];
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
        cache_input_put (self->output_root, a->spec->tracks [t->track].path,
                         &a->in_stat [t->track], sha);
    }
    char key [SHA256_HEX_SIZE], rel [1024];
    if (t->kind == K_MASTER && n_out == 1 && outs [0].sha256 && res->report_json
    &&  s_master_key (self, t, key)) {
        s_intermediate_rel (t, rel, sizeof rel);
        cache_master_put (self->output_root, key, rel, res->report_json, outs [0].bytes,
                          outs [0].sha256);
    }
}

//  Dispatches a task to a worker: state, attempt record, TASK message.
static void
s_dispatch_one (broker_t *self, s_task_t *t, s_worker_t *w, int widx)
{
    s_job_t *job = t->job;
    t->attempts++;
    t->worker = widx;
    t->state = T_DISPATCHED;
    if (w->n_held == w->cap_held) {
        size_t cap = w->cap_held ? w->cap_held * 2 : 8;
        s_task_t **held = realloc (w->held, cap * sizeof *held);
        if (held) {
            w->held = held;
            w->cap_held = cap;
        }
    }
    if (w->n_held < w->cap_held)
        w->held [w->n_held++] = t;
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
    char err [S_ERR_LEN] = "";
    int rc = in_refs && in_ptrs && in_paths && frames && owned ? 0 : MF_ERR_NOMEM;

    if (t->kind != K_NOOP && t->album >= 0) {
        s_album_t *a = &job->albums [t->album];
        m.settings_json = (char *) s_album_json (job, a);
        if (!m.settings_json)
            rc = MF_ERR_NOMEM;
        if (t->kind == K_ANALYZE || t->kind == K_MASTER) {
            masterfarm__file_ref__init (&in_refs [0]);
            in_refs [0].path = a->spec->tracks [t->track].path;
            in_ptrs [0] = &in_refs [0];
            n_in = 1;
            if (!rc && inline_mode) {
                char where [64];
                snprintf (where, sizeof where, "album %d track %d", t->album + 1, t->track + 1);
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
            s_intermediate_rel (t, out_path, sizeof out_path);
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
                s_profile_rel (job, a, t->profile, out_path, sizeof out_path);
            else
                s_attempt_rel (t, out_path, sizeof out_path);
            out_ref.path = out_path;
            json_t *list = json_array ();
            for (size_t i = 0; !rc && i < a->spec->n_tracks && n_in < cap; i++) {
                s_task_t *mt = a->master [i * PROFILE_COUNT + t->profile];
                if (!mt || mt->state != T_DONE)
                    continue;
                s_intermediate_rel (mt, in_paths [n_in], sizeof in_paths [n_in]);
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
            json_t *o = json_pack ("{sosb}", "tracks", list, "partial", !s_album_mastered (a));
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
    s_log_task (t, w);
    if (rc) {
        //  The broker could not even build the task: that attempt fails.
        if (!err [0])
            snprintf (err, sizeof err, "cannot prepare the task: %s", mf_strerror (rc));
        log_warn ("task %llu: %s", (unsigned long long) t->sched.id, err);
        s_task_unhold (self, t);
        store_attempt_end (self->store, t->sched.id, t->attempts, false, err, now);
        s_task_attempt_failed (self, t, -1, err, rc == MF_ERR_NOMEM ? S_END_RESOURCE
                                                                   : S_END_OWN);
    }
    else {
        log_debug ("task %llu attempt %d (%s) to %s", (unsigned long long) t->sched.id,
                   t->attempts, wire_type_name (MASTERFARM__MSG_TYPE__TASK), w->name);
        s_send (self, w->id, w->id_size, MASTERFARM__MSG_TYPE__TASK, &m.base,
                n_frames ? frames : NULL, n_frames);
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
}

//  Gives queued tasks to workers with free slots, round robin.
static void
s_dispatch (broker_t *self)
{
    //  Held-back assemblies first: the queue may have drained enough.
    for (size_t j = 0; self->n_deferred > 0 && j < self->n_jobs; j++) {
        s_job_t *job = self->jobs [j];
        for (size_t i = 0; i < job->n_albums; i++) {
            s_album_t *a = &job->albums [i];
            if (!a->asm_deferred)
                continue;
            if (s_job_final (job->state) || a->state != A_OPEN) {
                a->asm_deferred = false;
                self->n_deferred--;
            }
            else
                s_album_advance (self, job, a);
        }
    }
    if (scheduler_size (self->sched) == 0 || self->n_workers == 0)
        return;
    size_t n = self->n_workers;
    for (size_t k = 0; k < n && scheduler_size (self->sched) > 0; k++) {
        size_t i = (self->rr + k) % n;
        s_worker_t *w = &self->workers [i];
        if (!w->live)
            continue;
        sched_task_t *st;
        while ((st = scheduler_take (self->sched, (int) i))) {
            s_task_t *t = (s_task_t *) st;
            //  A paused job's task is held aside until the job resumes.
            if (t->job->paused && s_job_hold (self, t, (int) i) == 0)
                continue;
            if (s_cache_take (self, t, (int) i))
                continue;
            s_dispatch_one (self, t, w, (int) i);
        }
    }
    self->rr = (self->rr + 1) % n;
}

// ---------------------------------------------------------------- status

typedef struct {
    Masterfarm__JobStatus     js;
    Masterfarm__TrackStatus  *ts;
    Masterfarm__TrackStatus **tsp;
    Masterfarm__Failure      *fs;
    Masterfarm__Failure     **fsp;
    Masterfarm__AlbumStatus  *as;
    Masterfarm__AlbumStatus **asp;
    char                    (*track_stage) [64];   //  per track row (tracks mode)
    char                    (*album_text) [2][128]; //  per album: stage, profiles
} s_status_t;

#define S_MAX_FAILURES  100       //  failures listed per job in a status

//  The name of an album state for a status.
static const char *
s_album_state_name (int state)
{
    switch (state) {
        case A_OPEN:      return "open";
        case A_HELD:      return "held";
        case A_REPORTED:  return "reported";
        case A_PUBLISHED: return "published";
        default:          return "not-delivered";
    }
}

//  Fills the job's failures (and, with albums, its album rows) into s.
static void
s_status_failures (s_job_t *job, bool albums, s_status_t *s)
{
    s->fs = calloc (S_MAX_FAILURES, sizeof *s->fs);
    s->fsp = calloc (S_MAX_FAILURES, sizeof *s->fsp);
    if (albums && job->n_albums) {
        s->as = calloc (job->n_albums, sizeof *s->as);
        s->asp = calloc (job->n_albums, sizeof *s->asp);
    }
    if (!s->fs || !s->fsp)
        return;
    s_failure_t f [S_MAX_FAILURES];
    size_t k = 0;
    for (size_t ai = 0; ai < job->n_albums && k < S_MAX_FAILURES; ai++) {
        s_album_t *a = &job->albums [ai];
        size_t n = s_album_failures (a, f, S_MAX_FAILURES - k);
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
        s_album_t *a = &job->albums [ai];
        Masterfarm__AlbumStatus *x = &s->as [ai];
        masterfarm__album_status__init (x);
        x->album = (uint32_t) ai;
        x->title = a->spec->title ? a->spec->title : (char *) "";
        x->state = (char *) s_album_state_name (a->state);
        bool complete = s_album_mastered (a) && !a->error;
        for (int p = 0; p < PROFILE_COUNT; p++)
            if (a->assemble [p] && a->assemble [p]->state != T_DONE)
                complete = false;
        x->complete = complete;
        s->asp [ai] = x;
    }
    s->js.albums = s->asp;
    s->js.n_albums = job->n_albums;
}

static void s_status_progress (broker_t *self, s_job_t *job, s_status_t *s);

//  Fills a JobStatus (with per-track rows when tracks is true); free with
//  s_status_free.
static void
s_status_fill (broker_t *self, s_job_t *job, bool tracks, s_status_t *s)
{
    memset (s, 0, sizeof *s);
    masterfarm__job_status__init (&s->js);
    s->js.job_id = job->id;
    s->js.name = job->name;
    s->js.state = (Masterfarm__JobState) job->state;
    s->js.priority = (uint32_t) job->priority;
    s->js.deadline_ms = job->deadline_ms;
    s->js.deliver_at_ms = job->deliver_at_ms;
    s->js.tasks_total = (uint32_t) job->n_tasks;
    s->js.tasks_done = job->done;
    s->js.tasks_failed = job->failed;
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
        s_album_t *a = &job->albums [ai];
        int n_prof = 0;
        for (int p = 0; p < PROFILE_COUNT; p++)
            n_prof += (a->spec->s.profiles >> p) & 1;
        for (size_t i = 0; i < a->spec->n_tracks; i++) {
            s_task_t *an = a->analyze [i];
            double dur = s_track_seconds (a, i);
            int state = an ? an->state : T_QUEUED;
            int attempts = an ? an->attempts : 0;
            const char *err = an ? an->last_error : NULL;
            double steps = 1 + n_prof, done = state == T_DONE ? 1 : 0;
            if (state == T_DONE) {
                bool all_done = true, any_run = false, any_failed = false;
                for (int p = 0; p < PROFILE_COUNT; p++) {
                    s_task_t *m = a->master [i * PROFILE_COUNT + p];
                    if (!m)
                        continue;
                    if (m->state == T_DONE)
                        done++;
                    else
                        all_done = false;
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
            }
            s->js.audio_total_s += dur;
            if (s_final (state) && state == T_DONE)
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

//  Frees what s_status_fill allocated.
static void
s_status_free (s_status_t *s)
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
static void
s_send_watch (broker_t *self, const s_watch_t *wt, s_job_t *job)
{
    s_status_t s;
    s_status_fill (self, job, true, &s);
    Masterfarm__WatchEvent ev = MASTERFARM__WATCH_EVENT__INIT;
    ev.job = &s.js;
    ev.final = s_job_final (job->state);
    s_send (self, wt->id, wt->id_size, MASTERFARM__MSG_TYPE__WATCH_EVENT, &ev.base, NULL, 0);
    s_status_free (&s);
}

//  Sends events to the watchers of changed jobs (all=true: of every job);
//  drops watchers whose job is final.
static void
s_watch_notify (broker_t *self, bool all)
{
    size_t j = 0;
    for (size_t i = 0; i < self->n_watch; i++) {
        s_watch_t *wt = &self->watch [i];
        s_job_t *job = s_job_find (self, wt->job_id);
        bool keep = job != NULL;
        if (job && (all || job->dirty)) {
            s_send_watch (self, wt, job);
            if (s_job_final (job->state))
                keep = false;
        }
        if (keep)
            self->watch [j++] = *wt;
    }
    self->n_watch = j;
    for (size_t i = 0; i < self->n_jobs; i++)
        self->jobs [i]->dirty = false;
}

// --------------------------------------------------------------- requests

//  SUBMIT: validate fully, persist, answer with the id or every error.
static void
s_on_submit (broker_t *self, const wire_msg_t *msg)
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
        char err [S_ERR_LEN];
        noop_n = s_noop_count (text, err, sizeof err);
        if (noop_n < 0)
            spec_errors_add (&errs, "$", 0, 0, "%s", err);
        row.name = "noop";
        row.priority = 5;
    }
    else
    if (strcmp (format, "json") == 0 || strcmp (format, "csv") == 0) {
        spec = format [0] == 'j' ? spec_parse_json (text, strlen (text), origin, &errs)
                                 : spec_parse_csv (text, strlen (text), origin, &errs);
        if (spec)
            spec_check_paths (spec, self->input_root, &errs);
        for (size_t i = 0; spec && i < spec->n_albums; i++) {
            char err [S_ERR_LEN] = "", path [48];
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
        s_job_t *job = NULL;
        if (!rc)
            rc = store_job_insert (self->store, &row);
        if (!rc)
            job = s_job_new (&row);
        if (!job || s_job_insert (self, job))
            rc = rc ? rc : MF_ERR_NOMEM;
        if (!rc)
            s_job_durations (self, job);
        for (long i = 0; !rc && i < noop_n; i++)
            if (!s_task_create (self, job, K_NOOP, -1, -1, -1, T_QUEUED))
                rc = MF_ERR_IO;
        for (size_t ai = 0; !rc && job && ai < job->n_albums; ai++) {
            s_album_t *a = &job->albums [ai];
            for (size_t t = 0; !rc && t < a->spec->n_tracks; t++)
                if (!s_task_create (self, job, K_ANALYZE, (int) ai, (int) t, -1, T_QUEUED))
                    rc = MF_ERR_IO;
            for (size_t t = 0; !rc && t < a->spec->n_tracks; t++)
                for (int p = 0; !rc && p < PROFILE_COUNT; p++)
                    if ((a->spec->s.profiles & (1u << p))
                    &&  !s_task_create (self, job, K_MASTER, (int) ai, (int) t, p, T_BLOCKED))
                        rc = MF_ERR_IO;
            for (int p = 0; !rc && p < PROFILE_COUNT; p++)
                if ((a->spec->s.profiles & (1u << p))
                &&  !s_task_create (self, job, K_ASSEMBLE, (int) ai, -1, p, T_BLOCKED))
                    rc = MF_ERR_IO;
            if (!rc)
                rc = store_album_set (self->store, job->id, (int) ai, a->slug, A_OPEN);
        }
        //  Acknowledge only what is on disk.
        if (!rc)
            rc = store_commit (self->store);
        if (rc) {
            log_error ("job could not be stored: %s", mf_strerror (rc));
            s_send_error (self, msg, rc, "the broker could not store the job; see its log");
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
                s_job_free (job);
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
        s_job_check (self, job);
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
    s_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__SUBMIT_REPLY, &reply.base,
            NULL, 0);
    free (se);
    free (sep);
    spec_errors_clear (&errs);
    spec_destroy (&spec);
}

//  STATUS: one job with its tracks, or every job in summary; workers; counters.
static void
s_on_status (broker_t *self, const wire_msg_t *msg)
{
    const Masterfarm__StatusRequest *req = (const Masterfarm__StatusRequest *) msg->body;
    Masterfarm__StatusReply reply = MASTERFARM__STATUS_REPLY__INIT;
    size_t n = 0;
    s_job_t *one = NULL;
    if (req->job_id) {
        one = s_job_find (self, req->job_id);
        if (!one) {
            self->counters.unknown_job++;
            char text [96];
            snprintf (text, sizeof text, "no job %llu on this broker",
                      (unsigned long long) req->job_id);
            s_send_error (self, msg, MF_ERR_NOTFOUND, text);
            return;
        }
        n = 1;
    }
    else
        n = self->n_jobs;
    s_status_t *st = calloc (n ? n : 1, sizeof *st);
    Masterfarm__JobStatus **jp = calloc (n ? n : 1, sizeof *jp);
    size_t n_w = 0;
    for (size_t i = 0; i < self->n_workers; i++)
        n_w += self->workers [i].live;
    Masterfarm__WorkerStatus *ws = calloc (n_w ? n_w : 1, sizeof *ws);
    Masterfarm__WorkerStatus **wp = calloc (n_w ? n_w : 1, sizeof *wp);
    if (!st || !jp || !ws || !wp) {
        s_send_error (self, msg, MF_ERR_NOMEM, "the broker is out of memory");
        free (st); free (jp); free (ws); free (wp);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        s_status_fill (self, one ? one : self->jobs [i], one != NULL, &st [i]);
        jp [i] = &st [i].js;
    }
    size_t k = 0;
    for (size_t i = 0; i < self->n_workers; i++) {
        s_worker_t *w = &self->workers [i];
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
    s_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__STATUS_REPLY, &reply.base,
            NULL, 0);
    for (size_t i = 0; i < n; i++)
        s_status_free (&st [i]);
    free (st); free (jp); free (ws); free (wp);
}

//  WATCH: remember the client and send the first event at once.
static void
s_on_watch (broker_t *self, const wire_msg_t *msg)
{
    const Masterfarm__WatchRequest *req = (const Masterfarm__WatchRequest *) msg->body;
    s_job_t *job = s_job_find (self, req->job_id);
    if (!job) {
        self->counters.unknown_job++;
        char text [96];
        snprintf (text, sizeof text, "no job %llu on this broker",
                  (unsigned long long) req->job_id);
        s_send_error (self, msg, MF_ERR_NOTFOUND, text);
        return;
    }
    s_watch_t wt;
    memcpy (wt.id, msg->id, msg->id_size);
    wt.id_size = msg->id_size;
    wt.job_id = job->id;
    s_send_watch (self, &wt, job);
    if (s_job_final (job->state))
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
s_task_withdraw (broker_t *self, s_task_t *t)
{
    if (t->state == T_QUEUED)
        scheduler_remove (self->sched, &t->sched);
    if ((t->state == T_DISPATCHED || t->state == T_RUNNING) && t->worker >= 0) {
        s_worker_t *w = &self->workers [t->worker];
        Masterfarm__TaskCancel tc = MASTERFARM__TASK_CANCEL__INIT;
        tc.task_id = t->sched.id;
        tc.attempt = t->attempts;
        s_send (self, w->id, w->id_size, MASTERFARM__MSG_TYPE__TASK_CANCEL, &tc.base, NULL, 0);
        store_attempt_end (self->store, t->sched.id, t->attempts, false, "cancelled",
                           clock_wall_ms ());
        s_task_unhold (self, t);
    }
    t->parked = 0;
}

//  Stops a task wherever it is (for cancel).
static void
s_task_cancel (broker_t *self, s_task_t *t)
{
    if (s_final (t->state))
        return;
    s_task_withdraw (self, t);
    s_task_set (self, t, T_CANCELLED, NULL);
}

//  Puts a failed or cancelled task back to be run again: queued, or
//  blocked until what it depends on is done.
static void
s_task_reset (broker_t *self, s_task_t *t, bool queue)
{
    t->attempts = 0;
    s_task_counts_clear (self, t);
    t->sched.avoid_worker = -1;
    s_task_withdraw (self, t);
    if (queue)
        s_task_queue (self, t);
    else
        s_task_set (self, t, T_BLOCKED, "");
}

//  RETRY support: runs again only what failed in an album and what
//  depends on it: a failed analysis, its track's masters, then a new
//  plan (a master whose plan did not change keeps its output, see
//  s_album_replan); a failed master; the assembly of every profile that
//  changed or failed. A held, partial or undelivered album is rebuilt and
//  published when complete.
static void
s_album_retry (broker_t *self, s_job_t *job, s_album_t *a, int only_track)
{
    size_t n = a->spec->n_tracks;
    bool analysis_failed = false, changed = false;
    for (size_t i = 0; i < n; i++)
        if ((only_track < 0 || (int) i == only_track)
        &&  (a->analyze [i]->state == T_FAILED || a->analyze [i]->state == T_CANCELLED))
            analysis_failed = true;
    bool profile_reset [PROFILE_COUNT] = { false };
    if (analysis_failed) {
        //  The plan the done masters were made with, to compare the next
        //  one against (not in memory after a broker restart).
        bool all_final = true;
        for (size_t i = 0; i < n; i++)
            all_final = all_final && s_final (a->analyze [i]->state);
        if (!a->planned && all_final)
            s_album_plan (self, job, a);
        a->replan = a->planned;
        a->planned = false;
        for (size_t i = 0; i < n; i++) {
            if (a->analyze [i]->state != T_FAILED && a->analyze [i]->state != T_CANCELLED)
                continue;
            if (only_track >= 0 && (int) i != only_track)
                continue;
            s_task_reset (self, a->analyze [i], true);
            for (int p = 0; p < PROFILE_COUNT; p++) {
                s_task_t *m = a->master [i * PROFILE_COUNT + p];
                if (m && m->state != T_DONE) {
                    s_task_reset (self, m, false);
                    profile_reset [p] = true;
                }
            }
        }
        changed = true;
    }
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < PROFILE_COUNT; p++) {
            s_task_t *m = a->master [i * PROFILE_COUNT + p];
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
        s_task_t *as = a->assemble [p];
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
        snprintf (staging_rel, sizeof staging_rel, S_STAGING "/job-%llu",
                  (unsigned long long) job->id);
        s_delivery_back (self, staging_rel, a->slug, job->id);
    }
    if (a->state == A_PUBLISHED && !changed)
        return;
    a->state = A_OPEN;
    store_album_set (self->store, job->id, a->idx, a->slug, A_OPEN);
    s_album_advance (self, job, a);
}

//  CANCEL and RETRY.
static void
s_on_job_request (broker_t *self, const wire_msg_t *msg, bool cancel)
{
    const Masterfarm__JobRequest *req = (const Masterfarm__JobRequest *) msg->body;
    s_job_t *job = s_job_find (self, req->job_id);
    if (!job) {
        self->counters.unknown_job++;
        char text [96];
        snprintf (text, sizeof text, "no job %llu on this broker",
                  (unsigned long long) req->job_id);
        s_send_error (self, msg, MF_ERR_NOTFOUND, text);
        return;
    }
    Masterfarm__JobReply reply = MASTERFARM__JOB_REPLY__INIT;
    reply.job_id = job->id;
    reply.ok = true;
    reply.error = (char *) "";
    char refusal [160];
    if (store_begin_sync (self->store)) {
        s_send_error (self, msg, MF_ERR_IO, "the broker cannot write its state file now "
                      "(see its log); nothing was changed, try again");
        return;
    }
    if (cancel) {
        if (s_job_final (job->state)) {
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
                        s_task_counts_clear (self, job->tasks [i]);
                        s_task_queue (self, job->tasks [i]);
                    }
            }
            else
                for (size_t i = 0; i < job->n_albums; i++)
                    if (req->album == 0 || i + 1 == req->album)
                        s_album_retry (self, job, &job->albums [i],
                                       req->track > 0 ? (int) req->track - 1 : -1);
            job->publish_failed = false;
            if (before > 0 || s_job_final (job->state)) {
                job->state = J_RUNNING;
                store_job_set_state (self->store, job->id, J_RUNNING, clock_wall_ms ());
            }
            s_job_check (self, job);
            job->dirty = true;
            reply.count = before > job->failed ? (uint32_t) (before - job->failed) : 0;
            log_info ("job %llu: %zu failed task(s) queued again", (unsigned long long) job->id,
                      before);
        }
    }
    if (store_commit (self->store)) {
        s_send_error (self, msg, MF_ERR_IO, "the broker could not store the change; see its log");
        return;
    }
    s_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__JOB_REPLY, &reply.base, NULL, 0);
}

// ---------------------------------------------------------------- workers

//  A worker is gone (expired, left or re-registered): its tasks go back.
//  expired: the attempts count as lost with their worker, no strike
//  against the task, up to BROKER_MAX_LOST (a task that kills its worker
//  must not loop for ever); otherwise they are handed back free.
static void
s_worker_lost (broker_t *self, s_worker_t *w, const char *reason, bool expired)
{
    int widx = (int) (w - self->workers);
    int64_t now = clock_wall_ms ();
    while (w->n_held > 0) {
        s_task_t *t = w->held [w->n_held - 1];
        s_task_unhold (self, t);
        store_attempt_end (self->store, t->sched.id, t->attempts, false, reason, now);
        self->counters.tasks_redispatched++;
        if (expired) {
            s_task_attempt_failed (self, t, widx, reason, S_END_LOST);
        }
        else {
            if (t->attempts > 0)
                t->attempts--;
            t->sched.avoid_worker = -1;
            t->state = T_QUEUED;
            store_task_update (self->store, t->sched.id, T_QUEUED, t->attempts, NULL);
            scheduler_push (self->sched, &t->sched);
            t->job->dirty = true;
        }
    }
    //  Unlink from the hash.
    size_t b = s_hash (w->id, w->id_size);
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
static void
s_on_ready (broker_t *self, const wire_msg_t *msg)
{
    const Masterfarm__Ready *r = (const Masterfarm__Ready *) msg->body;
    s_worker_t *old = s_worker_find (self, msg->id, msg->id_size);
    if (old)
        s_worker_lost (self, old, "worker registered again", false);
    uint32_t slots = r->slots < 1 ? 1 : r->slots > 1024 ? 1024 : r->slots;
    int idx = scheduler_worker_add (self->sched, slots);
    if (idx < 0)
        return;
    if ((size_t) idx >= self->n_workers) {
        s_worker_t *ws = realloc (self->workers, ((size_t) idx + 1) * sizeof *ws);
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
    s_worker_t *w = &self->workers [idx];
    memset (w, 0, sizeof *w);
    w->live = true;
    memcpy (w->id, msg->id, msg->id_size);
    w->id_size = msg->id_size;
    s_id_name (msg->id, msg->id_size, w->name, sizeof w->name);
    w->slots = slots;
    //  printable only: the version is shown in status, never interpreted
    for (size_t i = 0; r->version && r->version [i] && i + 1 < sizeof w->version; i++)
        w->version [i] = r->version [i] >= 0x20 && r->version [i] < 0x7f ? r->version [i] : '?';
    w->last_seen_ms = w->last_data_ms = clock_mono_ms ();
    size_t b = s_hash (w->id, w->id_size);
    w->next = self->hash [b];
    self->hash [b] = idx;
    store_worker_put (self->store, w->name, (int) slots, clock_wall_ms (), 0, 0);
    log_info ("worker %s ready with %u slot(s), version %s", w->name, slots,
              *w->version ? w->version : "unknown");
    Masterfarm__Heartbeat hb = MASTERFARM__HEARTBEAT__INIT;
    s_send (self, w->id, w->id_size, MASTERFARM__MSG_TYPE__HEARTBEAT, &hb.base, NULL, 0);
}

//  Writes the inline output frames of a result under the output root and
//  fills outs. Returns 0 or an error with err.
static int
s_write_inline (broker_t *self, s_task_t *t, const Masterfarm__Result *res,
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
        s_intermediate_rel (t, base, sizeof base);
    else {
        s_profile_rel (t->job, &t->job->albums [t->album], t->profile, base, sizeof base);
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

//  Keeps the names a done assembly's result gave (one per line) in its
//  album: the files that belong in the profile's folder.
static void
s_asm_files_set (s_task_t *t, const Masterfarm__Result *res)
{
    if (t->album < 0 || (size_t) t->album >= t->job->n_albums || t->profile < 0
    ||  t->profile >= PROFILE_COUNT || !t->job->albums)
        return;
    s_album_t *a = &t->job->albums [t->album];
    size_t len = 1;
    for (size_t i = 0; i < res->n_outputs; i++)
        len += strlen (res->outputs [i]->path ? res->outputs [i]->path : "") + 1;
    char *names = malloc (len), *w = names;
    if (!names)
        return;
    *w = 0;
    for (size_t i = 0; i < res->n_outputs; i++) {
        const char *name = res->outputs [i]->path;
        //  one plain name per file: anything else never belongs
        if (name && *name && !strchr (name, '/') && !strchr (name, '\n'))
            w += sprintf (w, "%s\n", name);
    }
    free (a->asm_files [t->profile]);
    a->asm_files [t->profile] = names;
}

//  Shared storage: moves the files a successful assembly attempt names
//  from its private folder into the profile folder (cleared first: a
//  retried assembly replaces the files, not adds to them), then removes
//  the attempt folder with whatever else is in it. Returns 0, or an
//  error with err (the attempt then fails).
static int
s_assembly_commit (broker_t *self, s_task_t *t, const Masterfarm__Result *res,
                   char *err, size_t err_size)
{
    char rel [1024], from [5200], to [5200];
    s_attempt_rel (t, rel, sizeof rel);
    snprintf (from, sizeof from, "%s/%s", self->output_root, rel);
    s_profile_rel (t->job, &t->job->albums [t->album], t->profile, rel, sizeof rel);
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
    nftw (from, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

//  Gives a worker a task it already runs: one put back in the queue by a
//  broker restart whose attempt the worker still holds. Returns true when
//  adopted.
static bool
s_adopt (broker_t *self, s_worker_t *w, s_task_t *t, uint32_t attempt)
{
    if (!t || t->state != T_QUEUED || t->worker >= 0 || t->attempts != (int) attempt
    ||  s_job_final (t->job->state))
        return false;
    int widx = (int) (w - self->workers);
    scheduler_remove (self->sched, &t->sched);
    t->parked = 0;
    t->state = T_RUNNING;
    t->worker = widx;
    if (w->n_held == w->cap_held) {
        size_t cap = w->cap_held ? w->cap_held * 2 : 8;
        s_task_t **held = realloc (w->held, cap * sizeof *held);
        if (!held)
            return false;
        w->held = held;
        w->cap_held = cap;
    }
    w->held [w->n_held++] = t;
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
static bool
s_count_stray_result (broker_t *self, const Masterfarm__Result *res)
{
    s_task_t *t = res ? s_task_find (self, res->task_id) : NULL;
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
s_metrics_done (broker_t *self, const s_task_t *t, double elapsed_s)
{
    double audio_s = 0;
    if (t->kind == K_MASTER && t->album >= 0 && t->track >= 0) {
        const s_album_t *a = &t->job->albums [t->album];
        if (a->analyzed [t->track] && a->analyses [t->track].rate_hz > 0)
            audio_s = (double) a->analyses [t->track].frames / a->analyses [t->track].rate_hz;
    }
    metrics_task_done (self->metrics, t->kind, elapsed_s, audio_s);
}

//  RESULT: commit a finished attempt, or retry / fail a failed one.
static void
s_on_result (broker_t *self, s_worker_t *w, const wire_msg_t *msg)
{
    const Masterfarm__Result *res = (const Masterfarm__Result *) msg->body;
    s_task_t *t = s_task_find (self, res->task_id);
    int widx = (int) (w - self->workers);
    //  The attempt the broker put back at a restart: its result is good.
    s_adopt (self, w, t, res->attempt);
    //  The same attempt finished by another worker than the one it is
    //  recorded on (sent twice across a restart): the first success wins
    //  and the other copy is stopped.
    if (t && res->ok && (t->state == T_DISPATCHED || t->state == T_RUNNING)
    &&  t->attempts == (int) res->attempt && t->worker >= 0 && t->worker != widx
    &&  (size_t) t->worker < self->n_workers) {
        s_worker_t *other = &self->workers [t->worker];
        Masterfarm__TaskCancel tc = MASTERFARM__TASK_CANCEL__INIT;
        tc.task_id = t->sched.id;
        tc.attempt = t->attempts;
        s_send (self, other->id, other->id_size, MASTERFARM__MSG_TYPE__TASK_CANCEL, &tc.base,
                NULL, 0);
        s_task_unhold (self, t);
        if (w->n_held == w->cap_held) {
            size_t cap = w->cap_held ? w->cap_held * 2 : 8;
            s_task_t **held = realloc (w->held, cap * sizeof *held);
            if (held) {
                w->held = held;
                w->cap_held = cap;
            }
        }
        if (w->n_held < w->cap_held) {
            w->held [w->n_held++] = t;
            scheduler_hold (self->sched, widx);
            t->worker = widx;
        }
    }
    if (!t || t->worker != widx || t->attempts != (int) res->attempt
    ||  (t->state != T_DISPATCHED && t->state != T_RUNNING)) {
        bool dup = s_count_stray_result (self, res);
        log_info ("%s result for task %llu attempt %u from %s, ignored",
                  dup ? "duplicate (task already done)" : "late or unknown",
                  (unsigned long long) res->task_id, res->attempt, w->name);
        return;
    }
    s_log_task (t, w);
    int64_t now = clock_wall_ms ();
    s_task_unhold (self, t);
    char err [S_ERR_LEN] = "";
    bool ok = res->ok;
    bool resource = !ok && res->error_class == MASTERFARM__ERROR_CLASS__ERROR_RESOURCE;
    if (!ok)
        snprintf (err, sizeof err, "%s", res->error && *res->error ? res->error : "failed");

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
            s_profile_rel (t->job, &t->job->albums [t->album], t->profile, base, sizeof base);
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
            s_album_t *a = &t->job->albums [t->album];
            measure_free (&a->analyses [t->track]);
            a->analyses [t->track] = m;
            a->analyzed [t->track] = true;
            memset (&m, 0, sizeof m);
            size_t asz = masterfarm__analysis__get_packed_size (res->analysis);
            uint8_t *abuf = malloc (asz ? asz : 1);
            if (abuf) {
                masterfarm__analysis__pack (res->analysis, abuf);
                store_track_analysis (self->store, t->sched.job_id, t->album, t->track, abuf, asz);
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
            s_asm_files_set (t, res);
        s_cache_put (self, t, res, outs, n_out);
        store_task_done (self->store, t->sched.id, t->attempts, packed, size, outs, n_out);
        free (packed);
        s_task_done (t);
        w->tasks_done++;
        s_metrics_done (self, t, res->elapsed_s);
        log_debug ("task %llu done in %.2f s", (unsigned long long) t->sched.id, res->elapsed_s);
        s_task_cost (t, res->elapsed_s);
        s_task_final (self, t);
    }
    else {
        w->tasks_failed++;
        scheduler_strike (self->sched, widx, t->sched.job_id);
        log_warn ("task %llu attempt %d failed on %s: %s", (unsigned long long) t->sched.id,
                  t->attempts, w->name, err);
        s_task_attempt_failed (self, t, widx, err, resource ? S_END_RESOURCE : S_END_OWN);
    }
    measure_free (&m);
    free (outs);
    free (paths);
    log_ctx_set (NULL);
}

//  A HEARTBEAT from a routing id no worker has: when the id is a worker's
//  id followed by WIRE_CONTROL_SUFFIX, it came on that worker's control
//  connection, which only heartbeats use so that they never wait behind
//  inline audio. It refreshes the worker's liveness (and says which tasks
//  it runs, as on the data connection); a control heartbeat of a worker we
//  do not know is dropped without an answer, since the worker learns that
//  on its data connection. Returns true when the message was such a
//  heartbeat (handled), false when it is not a control id.
static bool
s_on_control (broker_t *self, const wire_msg_t *msg)
{
    size_t suffix = strlen (WIRE_CONTROL_SUFFIX);
    if (msg->id_size <= suffix
    ||  memcmp (msg->id + msg->id_size - suffix, WIRE_CONTROL_SUFFIX, suffix) != 0)
        return false;
    s_worker_t *w = s_worker_find (self, msg->id, msg->id_size - suffix);
    if (!w)
        return true;
    w->last_seen_ms = clock_mono_ms ();
    if (!w->ctl)
        log_debug ("worker %s: heartbeats on its control connection", w->name);
    w->ctl = true;
    const Masterfarm__Heartbeat *hb = (const Masterfarm__Heartbeat *) msg->body;
    for (size_t i = 0; i < hb->n_running && i < hb->n_running_attempts; i++)
        s_adopt (self, w, s_task_find (self, hb->running [i]), hb->running_attempts [i]);
    return true;
}

//  One message from a peer.
static void
s_on_message (broker_t *self, const wire_msg_t *msg)
{
    uint32_t type = msg->type;
    //  Client requests.
    switch (type) {
        case MASTERFARM__MSG_TYPE__SUBMIT:  s_on_submit (self, msg); return;
        case MASTERFARM__MSG_TYPE__STATUS:  s_on_status (self, msg); return;
        case MASTERFARM__MSG_TYPE__WATCH:   s_on_watch (self, msg); return;
        case MASTERFARM__MSG_TYPE__CANCEL:  s_on_job_request (self, msg, true); return;
        case MASTERFARM__MSG_TYPE__RETRY:   s_on_job_request (self, msg, false); return;
        case MASTERFARM__MSG_TYPE__PRIORITY:
        case MASTERFARM__MSG_TYPE__PAUSE:
        case MASTERFARM__MSG_TYPE__RESUME:  s_on_control_request (self, msg); return;
        case MASTERFARM__MSG_TYPE__LOGS:    s_on_logs (self, msg); return;
        case MASTERFARM__MSG_TYPE__READY:   s_on_ready (self, msg); return;
        default: break;
    }
    //  Worker messages need a registered worker.
    s_worker_t *w = s_worker_find (self, msg->id, msg->id_size);
    if (!w && type == MASTERFARM__MSG_TYPE__HEARTBEAT && s_on_control (self, msg))
        return;
    if (type == MASTERFARM__MSG_TYPE__HEARTBEAT || type == MASTERFARM__MSG_TYPE__PROGRESS
    ||  type == MASTERFARM__MSG_TYPE__RESULT || type == MASTERFARM__MSG_TYPE__DISCONNECT) {
        if (!w) {
            if (type == MASTERFARM__MSG_TYPE__RESULT)
                s_count_stray_result (self, (const Masterfarm__Result *) msg->body);
            if (type != MASTERFARM__MSG_TYPE__DISCONNECT) {
                //  We do not know it (we restarted, or it expired): it must register.
                Masterfarm__Disconnect d = MASTERFARM__DISCONNECT__INIT;
                d.reason = (char *) "unknown worker: send READY";
                s_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__DISCONNECT,
                        &d.base, NULL, 0);
            }
            return;
        }
        w->last_seen_ms = w->last_data_ms = clock_mono_ms ();
        if (type == MASTERFARM__MSG_TYPE__RESULT)
            s_on_result (self, w, msg);
        else
        if (type == MASTERFARM__MSG_TYPE__HEARTBEAT) {
            const Masterfarm__Heartbeat *hb = (const Masterfarm__Heartbeat *) msg->body;
            for (size_t i = 0; i < hb->n_running && i < hb->n_running_attempts; i++)
                s_adopt (self, w, s_task_find (self, hb->running [i]), hb->running_attempts [i]);
        }
        else
        if (type == MASTERFARM__MSG_TYPE__PROGRESS) {
            const Masterfarm__Progress *p = (const Masterfarm__Progress *) msg->body;
            s_task_t *t = s_task_find (self, p->task_id);
            if (t && t->state == T_DISPATCHED && t->worker == (int) (w - self->workers)
            &&  t->attempts == (int) p->attempt) {
                t->state = T_RUNNING;
                store_task_update (self->store, t->sched.id, T_RUNNING, t->attempts, NULL);
                t->job->dirty = true;
            }
        }
        else
        if (type == MASTERFARM__MSG_TYPE__DISCONNECT) {
            log_info ("worker %s left", w->name);
            s_worker_lost (self, w, "worker left", false);
        }
        return;
    }
    //  Anything else is not for the broker.
    self->counters.malformed_dropped++;
    char name [128];
    s_id_name (msg->id, msg->id_size, name, sizeof name);
    log_warn ("unexpected %s from %s, dropped", wire_type_name (type), name);
}

// -------------------------------------------------------------- periodic

//  Collects finished report processes and moves their jobs on.
static void
s_reap_reports (broker_t *self)
{
    for (size_t j = 0; self->n_reporting > 0 && j < self->n_jobs; j++) {
        s_job_t *job = self->jobs [j];
        for (size_t i = 0; i < job->n_albums; i++) {
            s_album_t *a = &job->albums [i];
            int status;
            if (a->report_pid <= 0 || waitpid (a->report_pid, &status, WNOHANG) != a->report_pid)
                continue;
            a->report_pid = 0;
            self->n_reporting--;
            bool ok = WIFEXITED (status) && WEXITSTATUS (status) == 0;
            if (ok)
                s_report_cost (job, a);
            a->state = ok ? A_REPORTED : A_PUBLISH_FAILED;
            if (!ok) {
                job->publish_failed = true;
                log_error ("job %llu album %s: report or manifest not written (see above)",
                           (unsigned long long) job->id, a->slug);
                free (a->error);
                a->error = strdup ("the report or the manifest could not be written "
                                   "(the broker's log says why)");
            }
            store_album_set (self->store, job->id, a->idx, a->slug, a->state);
            job->dirty = true;
            s_job_check (self, job);
        }
    }
}

//  Heartbeats out, dead workers expired, waiting deliveries retried.
static void
s_tick (broker_t *self, bool heartbeat)
{
    int64_t now = clock_mono_ms ();
    s_reap_reports (self);
    //  Tasks whose backoff after a resource failure is over.
    scheduler_wake (self->sched, now);
    for (size_t i = 0; i < self->n_workers; i++) {
        s_worker_t *w = &self->workers [i];
        if (!w->live)
            continue;
        if (now - w->last_seen_ms > BROKER_LIVENESS * BROKER_HEARTBEAT_MS) {
            char reason [256];
            snprintf (reason, sizeof reason, "worker %s silent for %lld ms", w->name,
                      (long long) (now - w->last_seen_ms));
            log_warn ("%s: expired, %zu task(s) go back to the queue", reason, w->n_held);
            self->counters.workers_expired++;
            s_worker_lost (self, w, reason, true);
            continue;
        }
        //  Alive on its control connection only: its data connection is
        //  dead (half-open after a network fault), so the tasks sent there
        //  never arrive. The worker, no longer answered, reconnects both.
        //  The bound leaves room for a large inline transfer on a slow link.
        if (w->ctl && now - w->last_data_ms > BROKER_DATA_SILENCE_MS) {
            char reason [256];
            snprintf (reason, sizeof reason, "worker %s: data connection silent for %lld ms "
                      "(heard only on its control connection)", w->name,
                      (long long) (now - w->last_data_ms));
            log_warn ("%s: expired, %zu task(s) go back to the queue", reason, w->n_held);
            self->counters.workers_expired++;
            s_worker_lost (self, w, reason, true);
            continue;
        }
        if (heartbeat) {
            Masterfarm__Heartbeat hb = MASTERFARM__HEARTBEAT__INIT;
            hb.free_slots = w->slots - (uint32_t) w->n_held;
            s_send (self, w->id, w->id_size, MASTERFARM__MSG_TYPE__HEARTBEAT, &hb.base, NULL, 0);
            //  And on its control connection, where no inline audio delays it.
            if (w->ctl) {
                uint8_t ctl [WIRE_MAX_ID_BYTES + 1];
                size_t suffix = strlen (WIRE_CONTROL_SUFFIX);
                if (w->id_size + suffix <= WIRE_MAX_ID_BYTES) {
                    memcpy (ctl, w->id, w->id_size);
                    memcpy (ctl + w->id_size, WIRE_CONTROL_SUFFIX, suffix);
                    s_send (self, ctl, w->id_size + suffix, MASTERFARM__MSG_TYPE__HEARTBEAT,
                            &hb.base, NULL, 0);
                }
            }
        }
    }
    for (size_t i = 0; i < self->n_jobs; i++)
        if (self->jobs [i]->state == J_WAITING)
            s_job_check (self, self->jobs [i]);
    //  Tasks no worker claimed within a liveness period go back to the queue.
    if (self->n_parked && now >= self->parked_until_ms) {
        size_t back = 0;
        for (size_t i = 0; i < self->n_parked; i++) {
            s_task_t *t = self->parked [i];
            if (t->parked && t->state == T_QUEUED && t->worker < 0
            &&  !s_job_final (t->job->state)) {
                t->parked = 0;
                self->counters.tasks_redispatched++;
                scheduler_push (self->sched, &t->sched);
                back++;
            }
        }
        if (back)
            log_info ("%zu task(s) running at the restart were not claimed by a worker; "
                      "queued again", back);
        free (self->parked);
        self->parked = NULL;
        self->n_parked = 0;
    }
}

// ------------------------------------------------------------------- http

#define S_VIEW_JOBS  50           //  newest jobs on the dashboard and status.json

//  The name of a task state.
static const char *
s_task_state_name (int state)
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
static const char *
s_job_state_name (int state)
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
static const char *
s_kind_name (int kind)
{
    switch (kind) {
        case K_ANALYZE:  return "analyze";
        case K_MASTER:   return "master";
        case K_ASSEMBLE: return "assemble";
        case K_NOOP:     return "noop";
        default:         return "task";
    }
}

//  True when an album's report files have been written (they are then in
//  its staging folder or, once published, in its delivered folder).
static bool
s_album_has_report (const s_album_t *a)
{
    return a->state == A_REPORTED || a->state == A_PUBLISHED || a->state == A_PUBLISH_FAILED;
}

//  One album of a job for the view, with its tracks from the status rows.
static json_t *
s_view_album (const s_job_t *job, size_t ai, const s_status_t *st)
{
    const s_album_t *a = &job->albums [ai];
    char profiles [256] = "", link [96];
    for (int p = 0; p < PROFILE_COUNT; p++)
        if ((a->spec->s.profiles >> p) & 1) {
            size_t n = strlen (profiles);
            snprintf (profiles + n, sizeof profiles - n, "%s%s", n ? ", " : "",
                      profile_get ((profile_id_t) p)->name);
        }
    json_t *o = json_pack ("{s:I, s:o, s:s, s:s}", "index", (json_int_t) ai,
                           "title", dashboard_string (a->spec->title),
                           "state", s_album_state_name (a->state), "profiles", profiles);
    if (!o)
        return NULL;
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
            "state", s_task_state_name (ts->state), "attempts", (json_int_t) ts->attempts,
            "error", dashboard_string (ts->last_error)));
    }
    json_object_set_new (o, "tracks", tracks ? tracks : json_null ());
    return o;
}

//  One job for the view (status figures, albums, failures).
static json_t *
s_view_job (broker_t *self, s_job_t *job)
{
    s_status_t st;
    s_status_fill (self, job, true, &st);
    char when [40] = "";
    clock_format_rfc3339 (job->submitted_ms, when, sizeof when);
    json_t *o = json_pack ("{s:I, s:o, s:s, s:i, s:I, s:I, s:I, s:f, s:f, s:s}",
        "id", (json_int_t) job->id, "name", dashboard_string (job->name),
        "state", s_job_state_name (job->state), "priority", job->priority,
        "tasks_total", (json_int_t) st.js.tasks_total,
        "tasks_done", (json_int_t) st.js.tasks_done,
        "tasks_failed", (json_int_t) st.js.tasks_failed,
        "audio_done_s", st.js.audio_done_s, "audio_total_s", st.js.audio_total_s,
        "submitted", when);
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
    s_status_free (&st);
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
        const s_worker_t *w = &self->workers [i];
        if (!w->live)
            continue;
        json_t *tasks = json_array ();
        for (size_t k = 0; tasks && k < w->n_held; k++) {
            const s_task_t *t = w->held [k];
            char line [160];
            int n = snprintf (line, sizeof line, "job %llu %s",
                              (unsigned long long) t->sched.job_id, s_kind_name (t->kind));
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
        const s_job_t *job = self->jobs [i];
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
    s_job_t *job = NULL;
    if (sscanf (rest, "%llu/%u/%15[a-z.]%n", &job_id, &album, name, &used) == 3
    &&  rest [used] == 0 && (strcmp (name, "report.html") == 0
                          || strcmp (name, "report.json") == 0))
        job = s_job_find (self, job_id);
    if (!job || album >= job->n_albums || !s_album_has_report (&job->albums [album])) {
        http_reply_text (reply, 404, "text/plain; charset=utf-8", "no such report\n");
        return;
    }
    const s_album_t *a = &job->albums [album];
    char rel [FSUTIL_NAME_MAX + 96];
    if (a->state == A_PUBLISHED)
        snprintf (rel, sizeof rel, "%s/%s", a->slug, name);
    else
        snprintf (rel, sizeof rel, S_STAGING "/job-%llu/%s/%s", job_id, a->slug, name);
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
static void
s_http_handle (void *arg, const char *path, http_reply_t *reply)
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

// ------------------------------------------------------------------ loading

typedef struct {
    broker_t *self;
    s_job_t  *last;
    int       rc;
} s_load_t;

//  Loads one job row.
static int
s_load_job (void *arg, const store_job_t *row)
{
    s_load_t *l = arg;
    s_job_t *job = s_job_new (row);
    if (job && s_job_insert (l->self, job)) {
        s_job_free (job);
        return MF_ERR_NOMEM;
    }
    if (job && !s_job_final (job->state))
        s_job_durations (l->self, job);
    return 0;
}

//  Loads one task row into its job.
static int
s_load_task (void *arg, const store_task_t *row)
{
    s_load_t *l = arg;
    s_job_t *job = l->last && l->last->id == row->job_id ? l->last
                 : s_job_find (l->self, row->job_id);
    l->last = job;
    if (!job)
        return 0;
    s_task_t *t = s_task_add (l->self, job, row);
    if (!t)
        return MF_ERR_NOMEM;
    if (t->state == T_DISPATCHED || t->state == T_RUNNING) {
        //  Running when the broker stopped: back to the queue (store_recover),
        //  after a grace period in which its worker may still claim it.
        t->state = T_QUEUED;
        s_task_t **p = realloc (l->self->parked, (l->self->n_parked + 1) * sizeof *p);
        if (!p)
            return MF_ERR_NOMEM;
        l->self->parked = p;
        p [l->self->n_parked++] = t;
        t->parked = 1;
    }
    else
    if (t->state == T_QUEUED && row->retry_at_ms > 0) {
        //  Waiting out a backoff after a resource failure when the broker
        //  stopped: the rest of it (never more than the longest backoff).
        int64_t left = row->retry_at_ms - clock_wall_ms ();
        if (left > BROKER_BACKOFF_MAX_MS)
            left = BROKER_BACKOFF_MAX_MS;
        if (left > 0 && scheduler_defer (l->self->sched, &t->sched, clock_mono_ms () + left))
            return MF_ERR_NOMEM;
    }
    if (t->state == T_DONE && row->result && (t->kind == K_MASTER || t->kind == K_ASSEMBLE)) {
        Masterfarm__Result *res = masterfarm__result__unpack (NULL, row->result_size,
                                                              row->result);
        if (res && res->report_json)
            t->report = strdup (res->report_json);
        if (res && t->kind == K_ASSEMBLE)
            s_asm_files_set (t, res);
        if (res)
            masterfarm__result__free_unpacked (res, NULL);
    }
    return 0;
}

//  Loads one stored analysis into its album.
static int
s_load_track (void *arg, uint64_t job_id, int album, int track, const void *data, size_t size)
{
    s_load_t *l = arg;
    s_job_t *job = s_job_find (l->self, job_id);
    if (!job || album < 0 || (size_t) album >= job->n_albums)
        return 0;
    s_album_t *a = &job->albums [album];
    if (track < 0 || (size_t) track >= a->spec->n_tracks)
        return 0;
    Masterfarm__Analysis *pb = masterfarm__analysis__unpack (NULL, size, data);
    if (pb && results_analysis_from_pb (pb, &a->analyses [track]) == 0)
        a->analyzed [track] = true;
    if (pb)
        masterfarm__analysis__free_unpacked (pb, NULL);
    return 0;
}

//  Loads one album state.
static int
s_load_album (void *arg, uint64_t job_id, int album, int state)
{
    s_load_t *l = arg;
    s_job_t *job = s_job_find (l->self, job_id);
    if (job && album >= 0 && (size_t) album < job->n_albums)
        job->albums [album].state = state;
    return 0;
}

//  Rebuilds memory from the state file and moves every open job on.
static int
s_load (broker_t *self)
{
    s_load_t l = { self, NULL, 0 };
    int rc = store_jobs_load (self->store, s_load_job, &l);
    if (!rc)
        rc = store_tasks_load (self->store, s_load_task, &l);
    int back = rc ? 0 : store_recover (self->store, clock_wall_ms ());
    if (back < 0)
        return back;
    self->parked_until_ms = clock_mono_ms () + BROKER_LIVENESS * BROKER_HEARTBEAT_MS;
    if (!rc)
        rc = store_tracks_load (self->store, s_load_track, &l);
    if (!rc)
        rc = store_albums_load (self->store, s_load_album, &l);
    if (rc)
        return rc;
    size_t queued = 0;
    store_begin (self->store);
    for (size_t j = 0; j < self->n_jobs; j++) {
        s_job_t *job = self->jobs [j];
        //  A job whose analyses are missing a task (a damaged file) is left alone.
        bool whole = true;
        for (size_t a = 0; a < job->n_albums; a++)
            for (size_t t = 0; t < job->albums [a].spec->n_tracks; t++)
                if (!job->albums [a].analyze [t])
                    whole = false;
        if (!whole) {
            log_error ("job %llu: tasks missing in the state file; job skipped",
                       (unsigned long long) job->id);
            for (size_t i = 0; i < job->n_tasks; i++)
                scheduler_remove (self->sched, &job->tasks [i]->sched);
            continue;
        }
        if (job->state == J_CANCELLED)
            continue;
        for (size_t i = 0; i < job->n_tasks; i++)
            if (job->tasks [i]->state == T_QUEUED && !job->tasks [i]->parked) {
                scheduler_push (self->sched, &job->tasks [i]->sched);
                queued++;
            }
        if (s_job_final (job->state))
            continue;
        for (size_t a = 0; a < job->n_albums; a++)
            if (job->albums [a].state == A_OPEN)
                s_album_advance (self, job, &job->albums [a]);
        s_job_check (self, job);
    }
    if (store_commit (self->store))
        return MF_ERR_IO;
    if (self->n_jobs)
        log_info ("resumed %zu job(s) from %s: %zu task(s) queued, %d put back after a stop",
                  self->n_jobs, self->cfg.state_path, scheduler_size (self->sched), back);
    return 0;
}

// ------------------------------------------------- control and progress
//
//  Job control (priority, pause and resume, a retry narrowed to an album
//  or a track, the attempts log) and what status reports of a job's
//  progress: durations read at submit, the cost model of broker/control.h,
//  running stages per track and album.

//  Reads every track's duration from its header (see control.h). Fast:
//  the header only, one open per track.
static void
s_job_durations (broker_t *self, s_job_t *job)
{
    for (size_t ai = 0; ai < job->n_albums; ai++) {
        s_album_t *a = &job->albums [ai];
        for (size_t i = 0; i < a->spec->n_tracks; i++)
            a->dur_s [i] = control_audio_seconds (self->input_root, a->spec->tracks [i].path);
    }
}

//  A track's audio seconds: from its analysis when done, else its header.
static double
s_track_seconds (const s_album_t *a, size_t i)
{
    if (a->analyzed [i] && a->analyses [i].rate_hz > 0)
        return (double) a->analyses [i].frames / a->analyses [i].rate_hz;
    return a->dur_s ? a->dur_s [i] : 0;
}

//  True while a task is on a worker.
static bool
s_task_running (const s_task_t *t)
{
    return t && (t->state == T_DISPATCHED || t->state == T_RUNNING);
}

//  What runs of a track now: "analyze", "master spotify cd" or "".
static void
s_track_stage (const s_album_t *a, size_t i, char *buf, size_t size)
{
    buf [0] = 0;
    if (s_task_running (a->analyze [i])) {
        snprintf (buf, size, "analyze");
        return;
    }
    size_t k = 0;
    for (int p = 0; p < PROFILE_COUNT && k + 1 < size; p++)
        if (s_task_running (a->master [i * PROFILE_COUNT + p]))
            k += (size_t) snprintf (buf + k, size - k, "%s%s", k ? " " : "master ",
                                    profile_get ((profile_id_t) p)->name);
}

//  Records a job's first dispatch.
static void
s_job_started (broker_t *self, s_job_t *job, int64_t now_ms)
{
    if (job->started_ms > 0 && job->finished_ms == 0)
        return;
    if (job->started_ms == 0)
        job->started_ms = now_ms;
    job->finished_ms = 0;
    store_job_times (self->store, job->id, job->started_ms, 0);
}

//  Records that a job reached a final state (finished) or left it again
//  (a retry).
static void
s_job_finished (broker_t *self, s_job_t *job, bool finished)
{
    int64_t at = finished ? clock_wall_ms () : 0;
    if ((job->finished_ms > 0) == finished)
        return;
    job->finished_ms = at;
    store_job_times (self->store, job->id, job->started_ms, at);
}

//  The cost-model kind of a task, or -1.
static int
s_cost_kind (const s_task_t *t)
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
s_task_audio (const s_task_t *t)
{
    if (t->album < 0 || (size_t) t->album >= t->job->n_albums)
        return 0;
    const s_album_t *a = &t->job->albums [t->album];
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
static void
s_task_cost (s_task_t *t, double elapsed_s)
{
    int kind = s_cost_kind (t);
    double slot_s = t->run_ms > 0 ? (clock_wall_ms () - t->run_ms) / 1000.0 : 0;
    if (kind >= 0)
        control_costs_add (&t->job->costs, kind, t->profile, s_task_audio (t),
                           slot_s > elapsed_s ? slot_s : elapsed_s);
}

//  Records what an album's report (and manifest) process cost.
static void
s_report_cost (s_job_t *job, const s_album_t *a)
{
    double album_s = 0;
    for (size_t i = 0; i < a->spec->n_tracks; i++)
        album_s += s_track_seconds (a, i);
    if (a->report_ms > 0)
        control_costs_add (&job->costs, CONTROL_REPORT, -1, album_s,
                           (clock_mono_ms () - a->report_ms) / 1000.0);
}

//  Holds a paused job's task (just taken off the queue for worker widx)
//  aside until the job resumes. Returns 0, or MF_ERR_NOMEM (then it is
//  dispatched after all).
static int
s_job_hold (broker_t *self, s_task_t *t, int widx)
{
    s_job_t *job = t->job;
    if (job->n_held == job->cap_held) {
        size_t cap = job->cap_held ? job->cap_held * 2 : 64;
        s_task_t **held = realloc (job->held, cap * sizeof *held);
        if (!held)
            return MF_ERR_NOMEM;
        job->held = held;
        job->cap_held = cap;
    }
    job->held [job->n_held++] = t;
    scheduler_release (self->sched, widx);
    return 0;
}

//  Adds one task's cost to done or left: done for a finished task, the
//  time it has run (at most 90% of its estimate) for a running one;
//  failed and cancelled tasks are no work.
static void
s_progress_add (const s_task_t *t, double cost_s, int64_t now_ms, double *done, double *left)
{
    if (!t || t->state == T_FAILED || t->state == T_CANCELLED)
        return;
    if (t->state == T_DONE) {
        *done += cost_s;
        return;
    }
    double ran = 0;
    if (s_task_running (t) && t->run_ms > 0)
        ran = (now_ms - t->run_ms) / 1000.0;
    if (ran > 0.9 * cost_s)
        ran = 0.9 * cost_s;
    if (ran < 0)
        ran = 0;
    *done += ran;
    *left += cost_s - ran;
}

//  Fills the job's progress (work fraction, ETA, speed, times, paused)
//  and the extra album fields (track counts, running stage, profiles).
static void
s_status_progress (broker_t *self, s_job_t *job, s_status_t *s)
{
    int64_t now = clock_wall_ms ();
    _Static_assert (PROFILE_COUNT <= CONTROL_VARIANTS, "a cost variant per profile");
    double done = 0, left = 0, rate [CONTROL_KINDS], master_rate [PROFILE_COUNT],
           asm_rate [PROFILE_COUNT];
    for (int k = 0; k < CONTROL_KINDS; k++)
        rate [k] = control_rate (&job->costs, k);
    for (int p = 0; p < PROFILE_COUNT; p++) {
        master_rate [p] = control_rate_variant (&job->costs, CONTROL_MASTER, p);
        asm_rate [p] = control_rate_variant (&job->costs, CONTROL_ASSEMBLE, p);
    }
    if (job->noop) {
        done = job->done;
        left = (double) job->n_tasks - job->done - job->failed - job->cancelled;
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
    double chain_s = 0, tail_idle = 0;
    for (size_t ai = 0; ai < job->n_albums; ai++) {
        s_album_t *a = &job->albums [ai];
        double album_s = 0, tracks_left = left;
        uint32_t n_an = 0, n_ma = 0, t_done = 0, t_failed = 0;
        for (size_t i = 0; i < a->spec->n_tracks; i++) {
            double sec = s_track_seconds (a, i);
            album_s += sec;
            s_progress_add (a->analyze [i], sec * rate [CONTROL_ANALYZE], now, &done, &left);
            n_an += s_task_running (a->analyze [i]);
            bool all = a->analyze [i] && a->analyze [i]->state == T_DONE, failed = false;
            failed = a->analyze [i] && a->analyze [i]->state == T_FAILED;
            for (int p = 0; p < PROFILE_COUNT; p++) {
                s_task_t *m = a->master [i * PROFILE_COUNT + p];
                if (!m)
                    continue;
                s_progress_add (m, sec * master_rate [p], now, &done, &left);
                n_ma += s_task_running (m);
                all = all && m->state == T_DONE;
                failed = failed || m->state == T_FAILED;
            }
            t_done += all;
            t_failed += failed;
        }
        tracks_left = left - tracks_left;
        char assembling [96] = "", profiles [128] = "";
        size_t ka = 0, kp = 0;
        double asm_left = 0, asm_sum = 0;
        for (int p = 0; p < PROFILE_COUNT; p++) {
            s_task_t *as = a->assemble [p];
            if (!as)
                continue;
            const char *name = profile_get ((profile_id_t) p)->name;
            double before = left;
            s_progress_add (as, album_s * asm_rate [p], now, &done, &left);
            asm_sum += left - before;
            if (left - before > asm_left)
                asm_left = left - before;
            if (s_task_running (as) && ka + 1 < sizeof assembling)
                ka += (size_t) snprintf (assembling + ka, sizeof assembling - ka, " %s", name);
            if (kp + 1 < sizeof profiles)
                kp += (size_t) snprintf (profiles + kp, sizeof profiles - kp, "%s%s",
                                         kp ? " " : "", name);
        }
        //  The report: done once the album left the open state.
        double report_s = album_s * rate [CONTROL_REPORT];
        if (a->state != A_OPEN)
            done += report_s;
        else
        if (a->report_pid > 0) {
            double ran = a->report_ms > 0 ? (clock_mono_ms () - a->report_ms) / 1000.0 : 0;
            ran = ran < 0 ? 0 : ran > 0.9 * report_s ? 0.9 * report_s : ran;
            done += ran;
            left += report_s - ran;
        }
        else
            left += report_s;
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
                k += (size_t) snprintf (stage + k, size - k, "%smaster %u", k ? ", " : "", n_ma);
            if (ka && k + 1 < size)
                k += (size_t) snprintf (stage + k, size - k, "%sassemble%s", k ? ", " : "",
                                        assembling);
            if (a->report_pid > 0 && k + 1 < size)
                snprintf (stage + k, size - k, "%sreport", k ? ", " : "");
            snprintf (s->album_text [ai][1], sizeof s->album_text [ai][1], "%s", profiles);
            Masterfarm__AlbumStatus *x = s->js.albums [ai];
            x->tracks = (uint32_t) a->spec->n_tracks;
            x->tracks_done = t_done;
            x->tracks_failed = t_failed;
            x->stage = stage;
            x->profiles = s->album_text [ai][1];
        }
    }
    bool final = s_job_final (job->state) || job->state == J_WAITING;
    int64_t end = final && job->finished_ms > 0 ? job->finished_ms : now;
    double running_s = job->started_ms > 0 ? (end - job->started_ms) / 1000.0 : 0;
    s->js.paused = job->paused;
    s->js.started_ms = job->started_ms;
    s->js.finished_ms = job->finished_ms;
    s->js.work_done = done + left > 0 ? done / (done + left) : final ? 1 : 0;
    s->js.eta_s = final ? 0 : control_eta_s (done, left + tail_idle, running_s);
    if (!final && s->js.eta_s >= 0 && chain_s > s->js.eta_s)
        s->js.eta_s = chain_s;
    if ((final ? running_s > 0 : running_s >= 1) && !job->noop)
        s->js.speed = final ? s->js.audio_done_s / running_s
                            : s->js.audio_total_s * s->js.work_done / running_s;
}

//  Checks a RETRY narrowed to an album or a track: numbers in range, and
//  something failed there. Returns 0, or -1 with why.
static int
s_retry_check (const s_job_t *job, const Masterfarm__JobRequest *req, char *why, size_t size)
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
    const s_album_t *a = &job->albums [req->album - 1];
    if (req->track > a->spec->n_tracks) {
        snprintf (why, size, "album %u has no track %u (it has %zu)", req->album, req->track,
                  a->spec->n_tracks);
        return -1;
    }
    bool failed = false;
    for (size_t i = 0; i < a->spec->n_tracks; i++) {
        if (req->track && i + 1 != req->track)
            continue;
        const s_task_t *an = a->analyze [i];
        failed = failed || (an && (an->state == T_FAILED || an->state == T_CANCELLED));
        for (int p = 0; p < PROFILE_COUNT; p++) {
            const s_task_t *m = a->master [i * PROFILE_COUNT + p];
            failed = failed || (m && (m->state == T_FAILED || m->state == T_CANCELLED));
        }
    }
    for (int p = 0; !req->track && p < PROFILE_COUNT; p++) {
        const s_task_t *as = a->assemble [p];
        failed = failed || (as && (as->state == T_FAILED || as->state == T_CANCELLED));
    }
    if (!req->track && (a->state == A_HELD || a->state == A_PUBLISH_FAILED))
        failed = true;
    if (!failed) {
        if (req->track)
            snprintf (why, size, "nothing failed in album %u track %u", req->album, req->track);
        else
            snprintf (why, size, "nothing failed in album %u", req->album);
        return -1;
    }
    return 0;
}

//  PRIORITY, PAUSE and RESUME of a job.
static void
s_on_control_request (broker_t *self, const wire_msg_t *msg)
{
    const Masterfarm__JobRequest *req = (const Masterfarm__JobRequest *) msg->body;
    s_job_t *job = s_job_find (self, req->job_id);
    if (!job) {
        self->counters.unknown_job++;
        char text [96];
        snprintf (text, sizeof text, "no job %llu on this broker",
                  (unsigned long long) req->job_id);
        s_send_error (self, msg, MF_ERR_NOTFOUND, text);
        return;
    }
    Masterfarm__JobReply reply = MASTERFARM__JOB_REPLY__INIT;
    reply.job_id = job->id;
    reply.ok = true;
    reply.error = (char *) "";
    if (msg->type == MASTERFARM__MSG_TYPE__PRIORITY && req->priority > 9) {
        reply.ok = false;
        reply.error = (char *) "a priority is a whole number from 0 to 9";
    }
    else
    if (s_job_final (job->state)) {
        reply.ok = false;
        reply.error = (char *) "the job has already finished";
    }
    if (!reply.ok) {
        s_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__JOB_REPLY, &reply.base,
                NULL, 0);
        return;
    }
    if (store_begin_sync (self->store)) {
        s_send_error (self, msg, MF_ERR_IO, "the broker cannot write its state file now "
                      "(see its log); nothing was changed, try again");
        return;
    }
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
        //  (s_dispatch); running ones finish.
        job->paused = true;
        for (size_t i = 0; i < job->n_tasks; i++)
            reply.count += s_task_running (job->tasks [i]);
        log_info ("job %llu paused: nothing new is dispatched; %u task(s) running finish",
                  (unsigned long long) job->id, reply.count);
    }
    else {
        job->paused = false;
        for (size_t i = 0; i < job->n_held; i++) {
            s_task_t *t = job->held [i];
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
    if (store_commit (self->store)) {
        s_send_error (self, msg, MF_ERR_IO, "the broker could not store the change; see its log");
        return;
    }
    s_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__JOB_REPLY, &reply.base, NULL, 0);
}

#define S_LOGS_MAX        2000          //  attempts in one LOGS reply
#define S_LOGS_MAX_BYTES  (8u << 20)    //  text in one LOGS reply

typedef struct {
    Masterfarm__AttemptLog  *rows;
    Masterfarm__AttemptLog **ptrs;
    size_t                   n;
    size_t                   bytes;
    bool                     truncated;
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
    x->kind = (char *) s_kind_name (at->kind);
    x->album = at->album >= 0 ? (uint32_t) at->album + 1 : 0;
    x->track = at->track >= 0 ? (uint32_t) at->track + 1 : 0;
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
static void
s_on_logs (broker_t *self, const wire_msg_t *msg)
{
    const Masterfarm__LogsRequest *req = (const Masterfarm__LogsRequest *) msg->body;
    s_job_t *job = s_job_find (self, req->job_id);
    char text [128];
    if (!job) {
        self->counters.unknown_job++;
        snprintf (text, sizeof text, "no job %llu on this broker",
                  (unsigned long long) req->job_id);
        s_send_error (self, msg, MF_ERR_NOTFOUND, text);
        return;
    }
    if ((req->track && !req->album) || (req->album && req->album > job->n_albums)
    ||  (req->track && req->track > job->albums [req->album - 1].spec->n_tracks)) {
        if (req->track && !req->album)
            snprintf (text, sizeof text, "a track number needs an album number");
        else
        if (req->album > job->n_albums)
            snprintf (text, sizeof text, "job %llu has no album %u",
                      (unsigned long long) job->id, req->album);
        else
            snprintf (text, sizeof text, "album %u has no track %u", req->album, req->track);
        s_send_error (self, msg, MF_ERR_INVALID, text);
        return;
    }
    s_logs_t l = { 0 };
    l.rows = calloc (S_LOGS_MAX, sizeof *l.rows);
    l.ptrs = calloc (S_LOGS_MAX, sizeof *l.ptrs);
    int rc = l.rows && l.ptrs ? 0 : MF_ERR_NOMEM;
    if (!rc)
        rc = store_attempts_load (self->store, job->id, (int) req->album - 1,
                                  (int) req->track - 1, s_logs_row, &l);
    if (rc < 0)
        s_send_error (self, msg, rc, rc == MF_ERR_NOMEM ? "the broker is out of memory"
                                                        : "the broker cannot read its state "
                                                          "file now; see its log");
    else {
        Masterfarm__LogsReply reply = MASTERFARM__LOGS_REPLY__INIT;
        reply.job_id = job->id;
        reply.attempts = l.ptrs;
        reply.n_attempts = l.n;
        reply.truncated = l.truncated;
        s_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__LOGS_REPLY, &reply.base,
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

// ------------------------------------------------------------------ public

//  Makes the socket a CURVE server with the ZAP allow-list when the
//  configuration gives a key (before it binds: the handler must exist
//  before the first handshake, or libzmq lets everyone in). Returns 0, or
//  -1 with one line in err (a key or allow folder problem: fail closed).
static int
s_curve_setup (broker_t *self, const broker_cfg_t *cfg, char *err, size_t err_size)
{
    if (!cfg->curve_key_path) {
        if (cfg->allow_dir) {
            snprintf (err, err_size, "an allow folder (%s) needs the broker's key pair "
                      "(--curve-key FILE)", cfg->allow_dir);
            return -1;
        }
        return 0;
    }
    if (!cfg->allow_dir) {
        snprintf (err, err_size, "CURVE needs an allow folder of client and worker keys "
                  "(--allow DIR with NAME.pub files)");
        return -1;
    }
    if (!zmq_has ("curve")) {
        snprintf (err, err_size, "this libzmq was built without CURVE");
        return -1;
    }
    keys_pair_t pair;
    if (keys_load_pair (cfg->curve_key_path, &pair, err, err_size))
        return -1;
    self->zap = zap_new (self->ctx, cfg->allow_dir, err, err_size);
    int one = 1;
    int rc = !self->zap
          || zmq_setsockopt (self->sock, ZMQ_ZAP_DOMAIN, "masterfarm", 10)
          || zmq_setsockopt (self->sock, ZMQ_CURVE_SERVER, &one, sizeof one)
          || zmq_setsockopt (self->sock, ZMQ_CURVE_SECRETKEY, pair.secret_z85,
                             KEYS_Z85_LEN + 1);
    if (rc && self->zap)
        snprintf (err, err_size, "cannot make the socket a CURVE server: %s",
                  zmq_strerror (zmq_errno ()));
    else
    if (!rc)
        log_info ("CURVE server, public key %s", pair.public_z85);
    explicit_bzero (&pair, sizeof pair);
    return rc ? -1 : 0;
}

broker_t *
broker_new (const broker_cfg_t *cfg, char *err, size_t err_size)
{
    broker_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->state_lock = -1;
    s_stop = 0;                          //  a new broker starts afresh
    self->bind_url = strdup (cfg->bind_url ? cfg->bind_url : "");
    self->state_path = strdup (cfg->state_path ? cfg->state_path : "");
    self->cfg.bind_url = self->bind_url;
    self->cfg.state_path = self->state_path;
    self->cfg.input_root = NULL;         //  resolved copies below
    self->cfg.output_root = NULL;
    masterfarm__counters__init (&self->counters);
    for (int i = 0; i < S_HASH; i++)
        self->hash [i] = -1;
    char path [4096];
    if (!cfg->input_root || !realpath (cfg->input_root, path)) {
        snprintf (err, err_size, "input root %s: %s", cfg->input_root ? cfg->input_root : "(none)",
                  strerror (errno));
        broker_destroy (&self);
        return NULL;
    }
    self->input_root = strdup (path);
    if (!cfg->output_root || fsutil_mkdir_p (cfg->output_root, 0755)
    ||  !realpath (cfg->output_root, path)) {
        snprintf (err, err_size, "output root %s: cannot create or open it: %s",
                  cfg->output_root ? cfg->output_root : "(none)", strerror (errno));
        broker_destroy (&self);
        return NULL;
    }
    self->output_root = strdup (path);
    self->sched = scheduler_new ();
    //  One broker per state file: two would both run its jobs.
    self->state_lock = store_lock (cfg->state_path, cfg->bind_url, err, err_size);
    if (self->state_lock < 0) {
        broker_destroy (&self);
        return NULL;
    }
    self->store = store_open (cfg->state_path, err, err_size);
    if (!self->store || !self->sched || !self->input_root || !self->output_root) {
        if (self->store || !err [0])
            snprintf (err, err_size, "out of memory");
        broker_destroy (&self);
        return NULL;
    }
    if (s_load (self)) {
        snprintf (err, err_size, "%s: cannot load the saved state (see the log above)",
                  cfg->state_path);
        broker_destroy (&self);
        return NULL;
    }
    self->ctx = zmq_ctx_new ();
    self->sock = self->ctx ? zmq_socket (self->ctx, ZMQ_ROUTER) : NULL;
    if (!self->sock) {
        snprintf (err, err_size, "cannot create a ZeroMQ socket: %s", zmq_strerror (zmq_errno ()));
        broker_destroy (&self);
        return NULL;
    }
    int one = 1, hwm = 100000;
    wire_socket_setup (self->sock, hwm);
    zmq_setsockopt (self->sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    if (s_curve_setup (self, cfg, err, err_size)) {
        broker_destroy (&self);
        return NULL;
    }
    if (zmq_bind (self->sock, cfg->bind_url)) {
        snprintf (err, err_size, "cannot bind %s: %s (is another broker using it?)",
                  cfg->bind_url, zmq_strerror (zmq_errno ()));
        broker_destroy (&self);
        return NULL;
    }
    self->metrics = metrics_new ();
    if (!self->metrics) {
        snprintf (err, err_size, "out of memory");
        broker_destroy (&self);
        return NULL;
    }
    if (cfg->metrics_port > 0) {
        char host [256];
        if (cfg->metrics_bind)
            snprintf (host, sizeof host, "%s", cfg->metrics_bind);
        else
            http_endpoint_host (cfg->bind_url, host, sizeof host);
        self->http = http_new (host, cfg->metrics_port, s_http_handle, self, err, err_size);
        if (!self->http) {
            broker_destroy (&self);
            return NULL;
        }
        log_info ("HTTP port on %s port %d: dashboard /, metrics /metrics", host,
                  cfg->metrics_port);
        char url [300];
        snprintf (url, sizeof url, "tcp://%s:%d", host, cfg->metrics_port);
        if (!keys_endpoint_is_local (url))
            log_warn ("the HTTP port on %s port %d is plain HTTP without authentication: "
                      "anyone who reaches it reads job and album names", host,
                      cfg->metrics_port);
    }
    return self;
}

void
broker_destroy (broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    if (self->sock)
        zmq_close (self->sock);
    http_destroy (&self->http);
    metrics_destroy (&self->metrics);
    if (self->zap && self->ctx)
        zmq_ctx_shutdown (self->ctx);    //  the ZAP thread leaves on ETERM
    zap_destroy (&self->zap);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    if (self->store)
        store_commit (self->store);
    store_destroy (&self->store);
    store_unlock (&self->state_lock);
    scheduler_destroy (&self->sched);
    for (size_t i = 0; i < self->n_jobs; i++)
        s_job_free (self->jobs [i]);
    free (self->jobs);
    free (self->by_id);
    free (self->parked);
    for (size_t i = 0; i < self->n_workers; i++)
        free (self->workers [i].held);
    free (self->workers);
    free (self->input_root);
    free (self->output_root);
    free (self->bind_url);
    free (self->state_path);
    free (self);
    *self_p = NULL;
}

int
broker_run (broker_t *self)
{
    log_info ("broker on %s (%s), state %s, input %s, output %s, storage %s",
              self->cfg.bind_url, self->zap ? "CURVE" : "plaintext",
              self->cfg.state_path, self->input_root, self->output_root,
              self->cfg.storage == BROKER_STORAGE_INLINE ? "inline" : "shared");
    int64_t now = clock_mono_ms ();
    self->next_hb_ms = now + BROKER_HEARTBEAT_MS;
    self->next_tick_ms = now + S_TICK_MS;
    int rc = 0;
    struct sigaction sa_chld, sa_old;
    bool chld = false;
    if (s_chld_pipe [0] >= 0 || pipe2 (s_chld_pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
        memset (&sa_chld, 0, sizeof sa_chld);
        sa_chld.sa_handler = s_on_sigchld;
        sa_chld.sa_flags = SA_RESTART | SA_NOCLDSTOP;
        sigemptyset (&sa_chld.sa_mask);
        chld = sigaction (SIGCHLD, &sa_chld, &sa_old) == 0;
    }
    while (!s_stop) {
        now = clock_mono_ms ();
        int64_t timeout = self->next_tick_ms - now;
        if (timeout < 0)
            timeout = 0;
        if (self->http) {
            long ht = http_timeout_ms (self->http);
            if (ht >= 0 && ht < timeout)
                timeout = ht;
        }
        zmq_pollitem_t items [3] = { { self->sock, 0, ZMQ_POLLIN, 0 },
                                     { NULL, chld ? s_chld_pipe [0] : -1, ZMQ_POLLIN, 0 },
                                     { NULL, self->http ? http_fd (self->http) : -1,
                                       ZMQ_POLLIN, 0 } };
        int n_items = self->http ? 3 : (chld ? 2 : 1);
        if (!chld)
            items [1].fd = -1;
        int prc = zmq_poll (items, n_items, (long) timeout);
        if (prc < 0 && zmq_errno () != EINTR) {
            log_error ("poll failed: %s", zmq_strerror (zmq_errno ()));
            rc = MF_ERR_IO;
            break;
        }
        bool reap = false;
        if (prc > 0 && chld && (items [1].revents & ZMQ_POLLIN)) {
            char drain [64];
            while (read (s_chld_pipe [0], drain, sizeof drain) > 0)
                ;
            reap = true;
        }
        //  Between message batches, never inside one: the pages read the
        //  state as the last iteration left it.
        if (self->http && ((prc > 0 && (items [2].revents & ZMQ_POLLIN))
                       ||  http_timeout_ms (self->http) == 0))
            http_run (self->http);
        if (prc > 0 && !(items [0].revents & ZMQ_POLLIN))
            prc = 0;
        if (store_begin (self->store)) {
            rc = MF_ERR_IO;
            break;
        }
        int64_t busy_from = clock_mono_ms ();
        for (int k = 0; prc > 0 && k < S_BATCH; k++) {
            wire_msg_t msg;
            int wrc = wire_recv (self->sock, true, &msg, ZMQ_DONTWAIT);
            if (wrc == WIRE_AGAIN || wrc == MF_ERR_IO)
                break;
            if (wrc == WIRE_MALFORMED || wrc == WIRE_OVERSIZED) {
                char name [128];
                s_id_name (msg.id, msg.id_size, name, sizeof name);
                if (wrc == WIRE_OVERSIZED)
                    self->counters.oversized_dropped++;
                else
                    self->counters.malformed_dropped++;
                log_warn ("%s message from %s (%zu bytes) dropped",
                          wrc == WIRE_OVERSIZED ? "oversized" : "malformed", name, msg.bytes);
            }
            else
            if (wrc == 0) {
                store_begin (self->store);
                s_on_message (self, &msg);
            }
            wire_msg_clear (&msg);
        }
        now = clock_mono_ms ();
        //  A long stall here (an album's manifest hashed gigabytes) is ours,
        //  not the workers': their heartbeats wait unread in the socket.
        if (now - busy_from > BROKER_HEARTBEAT_MS)
            for (size_t i = 0; i < self->n_workers; i++)
                if (self->workers [i].live) {
                    self->workers [i].last_seen_ms += now - busy_from;
                    self->workers [i].last_data_ms += now - busy_from;
                }
        bool periodic = now >= self->next_tick_ms;
        bool hb = now >= self->next_hb_ms;
        if (reap && !periodic && self->n_reporting > 0) {
            store_begin (self->store);
            s_reap_reports (self);
        }
        if (periodic) {
            store_begin (self->store);
            s_tick (self, hb);
            self->next_tick_ms = now + S_TICK_MS;
            if (hb)
                self->next_hb_ms = now + BROKER_HEARTBEAT_MS;
        }
        store_begin (self->store);
        s_dispatch (self);
        //  A failed commit (disk full) is kept and retried by the store;
        //  the broker runs on, and refuses what must be on disk first.
        store_commit_async (self->store);
        s_watch_notify (self, hb);
        s_jobs_clean (self);
    }
    s_jobs_clean (self);
    if (chld)
        sigaction (SIGCHLD, &sa_old, NULL);
    log_info ("broker stopping");
    return rc;
}
