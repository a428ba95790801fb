/*  The broker's event loop: one ROUTER socket that clients and workers
    both connect to (told apart by message type), the job state in SQLite
    (broker/store.h), the queue in memory (broker/scheduler.h), and the
    task graph of every album:

        analyze (per track)
          -> plan (per profile, broker/planner.h, when every track is analysed)
          -> master (per track and profile, carrying its Plan)
          -> assemble (per profile, when every master of it is final)
          -> report.json/html, manifest.json (broker/report.h, deliver.h)
          -> publication into the output root at deliver_at

    Files of a job are built under OUTPUT_ROOT/.masterfarm/job-<id>/ (the
    staging root; intermediates in work/) and each album folder is moved
    into OUTPUT_ROOT/<album-slug>/ by one rename when it is complete and
    deliver_at has come.

    Reliability (DESIGN.md): workers and broker heartbeat each other every
    BROKER_HEARTBEAT_MS; a worker silent for BROKER_LIVENESS intervals is
    dead and its tasks go back to the queue; a result of an expired attempt
    is ignored and counted; a failed task is retried, on another worker
    when there is one, and fails for good with its last error (while the
    rest of the job goes on) only when its attempts ended:
      - BROKER_MAX_ATTEMPTS times by the task's own failure (its error, or
        its task process crashing while its worker lives);
      - or BROKER_MAX_LOST times by the loss of its worker (expired: killed,
        host lost), so that a task that kills its worker cannot loop for
        ever while a few dying workers are no strike against it;
      - or BROKER_MAX_RESOURCE times by a resource failure (disk full, I/O
        error, out of memory, too many open files: Result error_class),
        each retried only after a backoff of BROKER_BACKOFF_MS doubling per
        failure up to BROKER_BACKOFF_MAX_MS.
    Attempts a broker restart cut short, and tasks handed back by a worker
    that left or registered again, count in none of these. State
    changes of one loop iteration are committed in one transaction; a job
    is committed before its id is returned. Restarted on the same state
    file the broker resumes: tasks done stay done, dispatched ones are
    queued again.

    Security (DESIGN.md): with curve_key_path the socket is a CURVE server
    (RFC 26) and only clients and workers whose public key is in
    allow_dir get through the handshake (broker/zap.h); without it the
    socket is plaintext.  */
#ifndef MF_BROKER_H
#define MF_BROKER_H

#include <stddef.h>
#include <stdint.h>

#define BROKER_HEARTBEAT_MS    1000
#define BROKER_LIVENESS        3      //  silent heartbeats before a worker is dead
#define BROKER_DATA_SILENCE_MS 60000  //  a worker heard only on its control connection
                                      //  this long has a dead data connection: lost
#define BROKER_MAX_ATTEMPTS    3      //  own failures of a task before it fails for good
#define BROKER_MAX_LOST        10     //  attempts lost with their worker before it fails
#define BROKER_MAX_RESOURCE    8      //  resource failures before it fails for good
#define BROKER_BACKOFF_MS      2000   //  wait before the retry of a first resource failure
#define BROKER_BACKOFF_MAX_MS  60000  //  longest wait between resource retries
#define BROKER_MAX_NOOP_TASKS  10000000
#define BROKER_MAX_WATCHERS    1024

typedef enum {
    BROKER_STORAGE_SHARED = 0,        //  workers read and write under the roots
    BROKER_STORAGE_INLINE = 1         //  bytes travel as data frames
} broker_storage_t;

typedef struct {
    const char      *bind_url;        //  e.g. tcp://*:5555
    const char      *state_path;      //  SQLite state file
    const char      *input_root;      //  spec paths are relative to it
    const char      *output_root;     //  albums are delivered into it
    broker_storage_t storage;
    int              metrics_port;    //  HTTP port (dashboard, metrics) on this port, 0: none
    const char      *metrics_bind;    //  its host; NULL: the host of bind_url
    const char      *curve_key_path;  //  the broker's key pair (NAME.key), NULL: plaintext
    const char      *allow_dir;       //  *.pub keys let in; required with curve_key_path
    int              cache_days;      //  keep reuse-cache entries this long, 0: no cache
                                      //  (broker/cache.h)
} broker_cfg_t;

//  How long the broker keeps reuse-cache entries by default (days).
#define BROKER_CACHE_DAYS  30

typedef struct _broker_t broker_t;

//  Opens the state (resuming what it holds) and binds the socket. Returns
//  NULL with one line in err (what, where, what to do) on failure.
broker_t *broker_new (const broker_cfg_t *cfg, char *err, size_t err_size);

//  Frees the broker; NULL-safe; sets *self_p to NULL.
void broker_destroy (broker_t **self_p);

//  Serves until a stop is requested. Returns 0, or MF_ERR_IO when the
//  socket or the state file fails for good.
int broker_run (broker_t *self);

//  Asks the broker loop to stop (async-signal-safe).
void broker_request_stop (void);

#endif
