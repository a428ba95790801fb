/*  The broker's private state, shared by its modules (see broker.h for
    what the broker does): the job, album, task, worker and watcher
    records, the broker itself, and the small helpers every module uses
    (lookups, task state changes, paths under the staging root, sending a
    message).

    The modules, each a .h/.c pair:
      broker.c     the event loop and message dispatch, the public API
      workers.h    the worker registry: READY, liveness, results
      graph.h      the album task graph: plans, advancing, failures, retries
      publish.h    report processes, publication, cleanup
      jobs.h       building jobs from a spec or from the state file
      dispatch.h   sending queued tasks to free slots, the reuse cache
      requests.h   client requests: submit, status, watch, retry, cancel,
                   pause, priority, logs
      status.h     status replies, watch events, progress and the HTTP views

    Memory: a task costs one task_t (about 80 bytes) plus one pointer in
    the id index and, while queued, one in the scheduler's heap, so a
    million queued no-op tasks stay well under 1 KiB each. Album data
    (analyses, plans, master reports) exists only for real jobs.  */
#ifndef MF_BROKER_CORE_H
#define MF_BROKER_CORE_H

#include <ftw.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "broker/broker.h"
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

#define CORE_HASH           4096     //  worker identity hash buckets
#define CORE_STAGING        ".masterfarm"
#define CORE_ERR_LEN        512

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

typedef struct job_s job_t;

typedef struct {
    sched_task_t sched;         //  first: the scheduler's view (id, job, priority)
    job_t     *job;
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
    bool         reused;        //  completed from the reuse cache: no work (progress)
    bool         check_input;   //  a master sent with its input's analysed digest,
                                //  the file's status having changed since
} task_t;

typedef struct {
    int            idx;
    spec_album_t  *spec;        //  inside the job's spec
    char           slug [FSUTIL_NAME_MAX + 16];
    int            state;       //  A_*
    pid_t          report_pid;  //  process writing report and manifest, 0: none
    size_t         n_refs;      //  the album's reference files (tonal "reference"):
                                //  analyses n_tracks .. n_tracks + n_refs - 1 of
                                //  the per-input arrays below are theirs
    task_t     **analyze;     //  n_tracks + n_refs
    task_t     **master;      //  n_tracks x PROFILE_COUNT, NULL when not wanted
    task_t      *assemble [PROFILE_COUNT];
    measure_t     *analyses;    //  n_tracks + n_refs
    bool          *analyzed;    //  n_tracks + n_refs
    bool           planned;
    spec_album_t   sub;         //  the analysed tracks (tracks array owned)
    int           *sub_idx;     //  album track -> index in sub, -1
    album_plan_t   plans [PROFILE_COUNT];
    bool           plan_ok [PROFILE_COUNT];
    char          *plan_err [PROFILE_COUNT];
    char          *json;        //  one-album spec for tasks (lazy)
    bool           asm_deferred; //  an assembly is ready but held back (graph.c)
    bool           replan;      //  a retry re-runs analyses: compare the next plan with
                                //  this one, redo only the masters whose plan changed
    char          *error;       //  the last album-level failure (report, publish), or NULL
    char          *asm_files [PROFILE_COUNT]; //  names the done assembly's result gave,
                                //  each ending in '\n' (what belongs in the folder)
    char          *asm_sums [PROFILE_COUNT];  //  shared storage: "bytes sha256 name\n" of
                                //  those files, as the worker hashed them (manifest)
    double        *dur_s;       //  n_tracks + n_refs: audio seconds from each file's header at
                                //  submit (0: unreadable), for progress before analysis
    cache_stat_t  *in_stat;     //  n_tracks + n_refs: each input's status before its analysis
                                //  was dispatched (the reuse cache records it)
    bool          *repeat;      //  n_tracks + n_refs: the input is an earlier track's of the job,
                                //  so its analysis will come from the reuse cache
    int64_t        report_ms;   //  when the report process started (monotonic ms)
    //  The album correction per profile (planner_album_correct; graph.c):
    double        *shift [PROFILE_COUNT];      //  PLANNER_ALBUM_ROUNDS x n_tracks: dB each
                                               //  round added to each track's planned
                                               //  loudness and gain, NULL: none
    int            shift_rounds [PROFILE_COUNT];  //  corrections made
    double         shift_read [PROFILE_COUNT][PLANNER_ALBUM_ROUNDS + 1];
                                               //  the mastered album's loudness, each time
                                               //  it was read (NAN: not read)
    bool           shift_done [PROFILE_COUNT]; //  read, and no correction to make (memory
                                               //  only: a restart reads it again, unless
                                               //  the last round is shift_post's)
    bool           shift_post [PROFILE_COUNT]; //  the last round is a gain after the
                                               //  limiter, which the assembly applies,
                                               //  not masters made again (graph.c)
} album_t;

//  The album correction's rounds of profile p that mastered the tracks
//  again (the last one may be a gain after the limiter instead).
static inline int
album_master_rounds (const album_t *a, int p)
{
    return a->shift_rounds [p] - (a->shift_post [p] && a->shift_rounds [p] > 0);
}

//  One reason an album is not complete: a track (number in the spec) of
//  one profile or of every profile, or one profile's album.
typedef struct {
    int         track;          //  1-based number in the album spec, 0: album-level
    int         profile;        //  -1: every profile
    const char *title;          //  the track's title, NULL for album-level
    const char *reason;
} failure_t;

struct job_s {
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
    album_t  *albums;
    size_t      n_albums;
    task_t  **tasks;
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
    int64_t     idle_ms;         //  time not running: ended (failed) before retries, paused
    int64_t     pause_ms;        //  wall ms the current pause began (0: not paused)
    control_costs_t costs;       //  measured task costs, for progress and ETA
    task_t  **held;            //  queued tasks taken off the queue while paused
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
    task_t  **held;
    size_t      n_held;
    size_t      cap_held;
} worker_info_t;

typedef struct {
    uint8_t  id [WIRE_MAX_ID_BYTES + 1];
    size_t   id_size;
    uint64_t job_id;
} watcher_t;

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
    job_t     **jobs;          //  ascending id
    size_t        n_jobs;
    task_t    **by_id;         //  task id -> task
    size_t        n_by_id;
    worker_info_t   *workers;       //  by scheduler index
    size_t        n_workers;
    int           hash [CORE_HASH];
    watcher_t     watch [BROKER_MAX_WATCHERS];
    size_t        n_watch;
    uint64_t      seq;
    size_t        rr;            //  round-robin start for dispatch
    Masterfarm__Counters counters;
    int64_t       next_hb_ms;
    int64_t       next_tick_ms;
    size_t        n_reporting;   //  report processes running
    size_t        n_deferred;    //  albums with a ready assembly held back
    uint64_t      n_reused;      //  tasks completed from the reuse cache
    task_t    **parked;        //  tasks running at a restart, waiting for their worker
    size_t        n_parked;
    int64_t       parked_until_ms;
};


//  A printable form of a routing id.
void core_id_name (const uint8_t *id, size_t size, char *buf, size_t bsize);

//  FNV-1a hash of a routing id, to a bucket.
size_t core_hash (const uint8_t *id, size_t size);

//  The live worker with this routing id, or NULL.
worker_info_t *core_worker_find (broker_t *self, const uint8_t *id, size_t size);

//  The job with this id, or NULL.
job_t *core_job_find (broker_t *self, uint64_t id);

//  The task with this id, or NULL.
task_t *core_task_find (broker_t *self, uint64_t id);

//  True for done, failed and cancelled.
bool core_task_state_final (int state);

//  True for the job states after which nothing runs.
bool core_job_state_final (int state);

//  Sets this thread's log context to a task's job, album and track.
void core_log_task (const task_t *t, const worker_info_t *w);

//  The staging root of a job: OUTPUT_ROOT/.masterfarm/job-<id>.
void core_staging (broker_t *self, const job_t *job, char *buf, size_t size);

//  Path of a master's intermediate, relative to the output root (named
//  after the album correction's round from the first correction on).
void core_intermediate_rel (const task_t *t, char *buf, size_t size);

//  The file an analysis of the album reads: track i's, or for i from
//  n_tracks on the reference file's (NULL when out of range).
const char *core_input_path (const album_t *a, size_t i);

//  Path of an assembly attempt's private folder (shared storage: the
//  worker writes there, the broker moves the files its result names into
//  the profile folder), relative to the output root.
void core_attempt_rel (const task_t *t, char *buf, size_t size);

//  Path of an album's profile folder in staging, relative to the output root.
void core_profile_rel (const job_t *job, const album_t *a, int profile, char *buf, size_t size);

//  Sets a task's state, keeps the job's counters, persists it. error:
//  NULL keeps the last error, "" clears it.
void core_task_set (broker_t *self, task_t *t, int state, const char *error);

//  Queues a task for dispatch.
void core_task_queue (broker_t *self, task_t *t);

//  Removes a task from its worker's held list and frees the slot.
void core_task_unhold (broker_t *self, task_t *t);

//  Queues again a task taken back from a worker (unheld), no worker
//  avoided. counted: the attempt stays on record (it ran, its result was
//  put aside); else it does not count (the worker never ran it).
void core_task_hand_back (broker_t *self, task_t *t, bool counted);

//  nftw callback: removes one file or (empty by then) folder.
int core_rm_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw);

//  Sends a message to a peer; drops it (logged) when the peer cannot take
//  it. Returns 0, or the error when it was dropped.
int core_send (broker_t *self, const uint8_t *id, size_t id_size, uint32_t type,
               const ProtobufCMessage *body, const wire_frame_t *frames, size_t n_frames);

//  Answers a request with an Error.
void core_send_error (broker_t *self, const wire_msg_t *msg, int code, const char *text);

//  A task's result is stored: it is done (its job counts it, no error).
void core_task_done (task_t *t);

//  The name of an album state for a status.
const char *core_album_state_name (int state);

//  The name of a task state.
const char *core_task_state_name (int state);

//  The name of a job state.
const char *core_job_state_name (int state);

//  The name of a task kind.
const char *core_kind_name (int kind);

//  Appends t to a list that grows by doubling (from first_cap). Returns
//  0, or MF_ERR_NOMEM with the list unchanged.
int core_tasks_push (task_t ***list, size_t *n, size_t *cap, size_t first_cap, task_t *t);

#endif
