/*  The broker's persistent state: one SQLite file in WAL mode with
    synchronous=FULL, so that a committed transaction survives a crash or
    power loss.

    Tables (schema version STORE_SCHEMA_VERSION, kept in `meta`):
      jobs      one row per accepted job: spec text and format, priority,
                deadline, deliver_at, state, paused, started (first dispatch)
                and finished times
      albums    per job and album: slug and state (open, reported, published)
      tracks    per job, album and track: the analysis (Analysis protobuf)
      plans     per job, album and profile: the album plan (JSON, for the record)
                and the album correction (JSON: the shifts of the tracks'
                planned loudness after mastering, and what the album read;
                NULL: none), which the plan is made with again at start
      tasks     every task: kind, album, track, profile, state, attempts,
                last error, result (Result protobuf), and what the attempts
                ended by: strikes (the task's own failures), lost (its
                worker died or went silent), resource (a resource failure,
                retried after a backoff, not before retry_at_ms)
      attempts  every dispatch of a task: worker, start, end, outcome, the
                tail of the task process's stderr
      workers   every worker seen: slots, last seen, tasks done and failed
      outputs   every committed output file: task, path, bytes, SHA-256

    The broker batches the changes of one event-loop iteration (store_begin
    .. store_commit_async); a writer thread commits them, several
    iterations per transaction when the disk is slow. Ids are assigned at
    once. A task's result and its output records are always in the same
    transaction, so a result is committed exactly once. store_recover, run at start, puts tasks that
    were dispatched or running when the broker stopped back in the queue.

    Every function returns 0 or a negative mf_err_t (MF_ERR_IO for SQLite
    errors, logged with the statement that failed).  */
#ifndef MF_STORE_H
#define MF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION  1

typedef struct _store_t store_t;

typedef struct {
    uint64_t    id;             //  0 on insert: assigned
    const char *name;
    int         priority;
    int64_t     deadline_ms;
    int64_t     deliver_at_ms;
    int64_t     submitted_ms;
    int         state;          //  Masterfarm__JobState
    const char *format;         //  "json", "csv" or "noop"
    const char *spec;           //  spec text as submitted
    const char *origin;         //  file name for messages
    bool        paused;         //  dispatches nothing new
    int64_t     started_ms;     //  first dispatch, 0: not yet
    int64_t     finished_ms;    //  final state reached, 0: not yet
    int64_t     idle_ms;        //  time spent ended before retries
} store_job_t;

//  One attempt of a task, for `masterfarm logs`.
typedef struct {
    uint64_t    task_id;
    int         kind;           //  Masterfarm__TaskKind
    int         album;          //  index, -1: none
    int         track;          //  index, -1: album-level
    int         profile;        //  profile_id_t, -1: none
    int         attempt;
    const char *worker;         //  NULL: unknown
    int64_t     started_ms;
    int64_t     ended_ms;       //  0: not ended
    bool        ok;
    const char *error;          //  NULL: none
    const char *stderr_tail;    //  NULL: none
} store_attempt_t;

typedef struct {
    uint64_t    id;             //  0 on insert: assigned
    uint64_t    job_id;
    int         kind;           //  Masterfarm__TaskKind
    int         album;          //  -1 when not album-bound (noop)
    int         track;          //  -1 for album-level tasks
    int         profile;        //  profile_id_t, -1 for analyze and noop
    int         state;          //  Masterfarm__TaskState
    int         attempts;
    const char *last_error;     //  NULL: none
    const void *result;         //  packed Result, or NULL
    size_t      result_size;
    //  How attempts ended (attempts cut short by a broker restart count in
    //  none of these: only in attempts).
    int         strikes;        //  by the task's own failure
    int         lost;           //  by the loss of its worker (expired)
    int         resource;       //  by a resource failure (disk full, I/O, memory)
    int64_t     retry_at_ms;    //  wall clock: not dispatched before; 0: any time
} store_task_t;

typedef struct {
    const char *path;           //  relative to the output root
    int64_t     bytes;
    const char *sha256;         //  hex, or NULL
} store_output_t;

//  Takes the lock that makes one broker the only user of a state file:
//  an exclusive POSIX record lock (fcntl) on PATH.lock beside it, created
//  0600 and holding the holder's pid, host, bind URL and start time. The
//  lock belongs to this process (a forked child does not hold it) and
//  goes when the process ends, killed or not. Returns the lock's file
//  descriptor (keep it open), or -1 with one line in err: when another
//  broker holds it, naming that broker (pid, host, URL, since when).
int store_lock (const char *path, const char *bind_url, char *err, size_t err_size);

//  Releases the lock taken by store_lock (closes *fd_p, sets it to -1);
//  nothing when *fd_p is negative.
void store_unlock (int *fd_p);

//  Opens (creating if needed, mode 0600: the state holds the specs and
//  paths of every job) the state file. Returns NULL on failure with one
//  line in err (what and which file).
store_t *store_open (const char *path, char *err, size_t err_size);

//  Commits nothing pending (call store_commit first), closes; NULL-safe.
void store_destroy (store_t **self_p);

//  Writes are deferred: they are collected until a commit closes them into
//  a batch for the store's writer thread, which commits every batch it
//  finds in one transaction (group commit), so the caller never waits for
//  the disk. store_begin marks the start of a batch (it does nothing else;
//  writes without a later commit are dropped by store_destroy).
int store_begin (store_t *self);

//  Waits for the writer, then opens a transaction on the caller's thread:
//  until store_commit, writes run at once. For answers that must wait for
//  the disk (a job id). Returns 0 or MF_ERR_IO.
int store_begin_sync (store_t *self);

//  Hands the writes since the last commit to the writer and returns at
//  once. Returns 0, or MF_ERR_IO when an earlier deferred commit failed
//  (that batch was rolled back; the failure is sticky).
int store_commit_async (store_t *self);

//  Commits and waits until everything written so far is durable (or
//  commits the direct transaction of store_begin_sync). Returns 0 or
//  MF_ERR_IO; on failure the transaction is rolled back.
int store_commit (store_t *self);

//  Waits until everything handed to the writer is committed. Returns 0 or
//  MF_ERR_IO (a deferred commit failed).
int store_sync (store_t *self);

//  Puts dispatched and running tasks back in the queue and closes their
//  open attempts ("broker restarted"). Returns the number of tasks put
//  back, or MF_ERR_IO.
int store_recover (store_t *self, int64_t now_ms);

//  Inserts a job; sets job->id (assigned at once). Returns 0, MF_ERR_NOMEM
//  or (direct mode) MF_ERR_IO.
int store_job_insert (store_t *self, store_job_t *job);

//  Updates a job's state. Returns 0 or MF_ERR_IO.
int store_job_set_state (store_t *self, uint64_t job_id, int state, int64_t now_ms);

//  Inserts a task; sets task->id. Returns 0 or MF_ERR_IO.
int store_task_insert (store_t *self, store_task_t *task);

//  Updates a task's state, attempts and last error (NULL keeps the
//  stored one; "" clears it). Returns 0 or MF_ERR_IO.
int store_task_update (store_t *self, uint64_t task_id, int state, int attempts,
                       const char *last_error);

//  Records how a task's attempts ended so far (see store_task_t) and
//  when it may run again. Returns 0, MF_ERR_NOMEM or MF_ERR_IO.
int store_task_counts (store_t *self, uint64_t task_id, int strikes, int lost,
                       int resource, int64_t retry_at_ms);

//  Marks a task done with its result and output records, in the caller's
//  transaction. Outputs already recorded for the task are replaced.
//  Returns 0 or MF_ERR_IO.
int store_task_done (store_t *self, uint64_t task_id, int attempts,
                     const void *result, size_t result_size,
                     const store_output_t *outputs, size_t n_outputs);

//  Records the start of an attempt on a worker. Returns 0 or MF_ERR_IO.
int store_attempt_begin (store_t *self, uint64_t task_id, int attempt,
                         const char *worker, int64_t now_ms);

//  Records an attempt's end (error NULL: success). Returns 0 or MF_ERR_IO.
int store_attempt_end (store_t *self, uint64_t task_id, int attempt, bool ok,
                       const char *error, int64_t now_ms);

//  Stores a track's analysis (packed Analysis) with the status of the
//  input file it read (cache_stat_format; NULL or "": unknown). Returns 0
//  or MF_ERR_IO.
int store_track_analysis (store_t *self, uint64_t job_id, int album, int track,
                          const void *analysis, size_t size, const char *input);

//  Stores an album plan as JSON text. Returns 0 or MF_ERR_IO.
int store_plan_put (store_t *self, uint64_t job_id, int album, int profile,
                    const char *plan_json);

//  Stores an album correction as JSON text (NULL: none), keeping the plan.
//  Returns 0 or MF_ERR_IO.
int store_shift_put (store_t *self, uint64_t job_id, int album, int profile,
                     const char *shift_json);

//  Sets an album's slug and state (0 open, 1 reported, 2 published).
//  Returns 0 or MF_ERR_IO.
int store_album_set (store_t *self, uint64_t job_id, int album, const char *slug,
                     int state);

//  Records a worker (insert or update slots, last seen, counts).
//  Returns 0 or MF_ERR_IO.
int store_worker_put (store_t *self, const char *id, int slots, int64_t last_seen_ms,
                      int tasks_done, int tasks_failed);

//  Loading at start. Each calls fn once per row in id order; the row's
//  strings and blobs are valid during the call only. fn returning
//  non-zero stops the walk and is returned.
typedef int (store_job_fn) (void *arg, const store_job_t *job);
typedef int (store_task_fn) (void *arg, const store_task_t *task);
typedef int (store_track_fn) (void *arg, uint64_t job_id, int album, int track,
                              const void *analysis, size_t size, const char *input);
typedef int (store_album_fn) (void *arg, uint64_t job_id, int album, int state);
typedef int (store_shift_fn) (void *arg, uint64_t job_id, int album, int profile,
                              const char *shift_json);

int store_jobs_load (store_t *self, store_job_fn *fn, void *arg);
int store_tasks_load (store_t *self, store_task_fn *fn, void *arg);
int store_tracks_load (store_t *self, store_track_fn *fn, void *arg);
int store_albums_load (store_t *self, store_album_fn *fn, void *arg);
int store_shifts_load (store_t *self, store_shift_fn *fn, void *arg);

//  Records a job's priority and whether it is paused. Returns 0,
//  MF_ERR_NOMEM or MF_ERR_IO.
int store_job_control (store_t *self, uint64_t job_id, int priority, bool paused);

//  Records when a job was first dispatched and when it reached a final
//  state (0: not yet), wall clock ms. Returns 0, MF_ERR_NOMEM or MF_ERR_IO.
int store_job_times (store_t *self, uint64_t job_id, int64_t started_ms, int64_t finished_ms,
                     int64_t idle_ms);

//  Records the tail of an attempt's stderr. Returns 0, MF_ERR_NOMEM or
//  MF_ERR_IO.
int store_attempt_stderr (store_t *self, uint64_t task_id, int attempt, const char *tail);

//  Calls fn for every recorded attempt of a job's tasks, by album, track,
//  kind, profile and attempt; album and track (indexes) narrow the walk
//  when >= 0 (track -1 with album >= 0: every task of that album). Waits
//  for pending writes first. Returns 0, fn's non-zero value, or MF_ERR_IO.
typedef int (store_attempt_fn) (void *arg, const store_attempt_t *attempt);
int store_attempts_load (store_t *self, uint64_t job_id, int album, int track,
                         store_attempt_fn *fn, void *arg);

//  Number of output records of a task (for tests and checks), or MF_ERR_IO.
int store_outputs_count (store_t *self, uint64_t task_id);

#endif
