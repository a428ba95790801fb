/*  The worker daemon's event loop.

    One DEALER socket to the broker (identity "<host>-<pid>"). On connect
    the worker sends READY with its slots; then it runs at most `slots`
    tasks at once, each slot's in a task process of its own (forked when
    the slot first needs it, kept for its next tasks) with an address-space
    limit and a CPU-time limit per task, so that a crash, an abort, a
    runaway allocation or a signal fails that task alone ("task process
    killed by signal N") and the worker carries on with a new process for
    the slot. Tasks go to the task process, and its Result (and, inline,
    its output bytes) come back, through pipes. No-op tasks are answered at
    once without a process.

    Liveness: a HEARTBEAT every WORKER_HEARTBEAT_MS with the free slots
    and the tasks held. A broker silent for WORKER_LIVENESS intervals is
    taken as gone: the worker opens a new connection and sends READY
    again, waiting 1 s, then 2, 4, ... up to 32 s between tries while the
    broker stays silent. When it re-registers (a new connection, or the
    broker answering DISCONNECT because it no longer knows the worker),
    tasks keep running: the worker sends READY, then a HEARTBEAT listing
    the tasks and attempts it runs (a restarted broker adopts them instead
    of running them again), then the results of the last 30 s again (a
    broker that restarted before committing them takes them; one that has
    them ignores them).

    A TASK for a task already running here (sent again by a broker that
    restarted before it recorded the dispatch) relabels the running
    process with the new attempt instead of starting a second one; a TASK
    that finds every slot busy waits in a short queue for the next slot.

    Stop (worker_request_stop, e.g. from SIGTERM): no new tasks, running
    tasks are stopped and handed back with DISCONNECT, worker_run returns 0.

    Test hooks, read in the task process: MASTERFARM_FAULT="crash:<text>"
    aborts a task whose first input path contains <text>; "hang:<text>"
    makes it sleep forever (until the task timeout or a kill).

    Security: with curve_key_path and broker_key_path the connection is
    CURVE-encrypted (RFC 26) and the broker checks this worker's public
    key against its allow-list. A refused key, or a broker that speaks
    another mechanism, is logged as an error naming what to fix (once per
    connection); the worker keeps trying, so that adding its key to the
    broker's allow folder (and a SIGHUP to the broker) lets it in.  */
#ifndef MF_WORKER_H
#define MF_WORKER_H

#include <stddef.h>
#include <stdint.h>

#define WORKER_HEARTBEAT_MS      1000
#define WORKER_LIVENESS          3        //  silent intervals before reconnecting
#define WORKER_BACKOFF_MIN_MS    1000
#define WORKER_BACKOFF_MAX_MS    32000
#define WORKER_STDERR_TAIL       4096     //  bytes of a task process's stderr kept for its
                                          //  Result (the last ones; all go to the log too)

typedef struct {
    const char *connect_url;      //  tcp://host:port (or ipc://, inproc://)
    int         slots;            //  tasks at once, >= 1
    const char *worker_id;        //  NULL: "<host>-<pid>"
    int64_t     task_timeout_ms;  //  wall-clock limit per task, 0: none
    int64_t     mem_limit_mb;     //  RLIMIT_DATA of a task process, 0: none
    int64_t     cpu_limit_s;      //  RLIMIT_CPU of a task process, 0: none
    const char *curve_key_path;   //  this worker's key pair (NAME.key), NULL: plaintext
    const char *broker_key_path;  //  the broker's public key (NAME.pub); both or neither
} worker_cfg_t;

typedef struct _worker_t worker_t;

//  Fills cfg with the defaults: slots = online cores, timeout 1 h,
//  8192 MiB, 3600 s CPU; MASTERFARM_TASK_TIMEOUT_S, MASTERFARM_TASK_MEM_MB
//  and MASTERFARM_TASK_CPU_S override them.
void worker_cfg_default (worker_cfg_t *cfg);

//  Creates a worker (no connection yet); reads the key files when given.
//  Returns NULL with err filled on a bad configuration (a key file that is
//  missing, malformed or readable by others included) or when ZeroMQ
//  cannot be set up.
worker_t *worker_new (const worker_cfg_t *cfg, char *err, size_t err_size);

//  Frees the worker; NULL-safe; sets *self_p to NULL.
void worker_destroy (worker_t **self_p);

//  Runs until a stop is requested. Returns 0, or MF_ERR_IO when the
//  socket cannot be used at all.
int worker_run (worker_t *self);

//  Asks every worker loop in the process to stop (async-signal-safe).
void worker_request_stop (void);

#endif
