/*  The broker's scheduler: which queued task goes to which worker.

    Order: higher priority first, then earlier deadline (no deadline sorts
    after every deadline), then submission order (task id). The queue is a
    binary heap of pointers to sched_task_t records the broker embeds in its
    own task structs, so a queued task costs the scheduler one pointer.

    Workers: a worker never holds more tasks than its slots. A worker that
    has failed SCHED_JOB_STRIKES tasks of one job gets no more tasks of that
    job, unless every live worker is struck out for it (then the job would
    never finish; the per-task attempt limit still ends it). A task whose
    last attempt failed on a worker is given to another live worker when one
    exists that may take the job.

    Deferred tasks: a task may be queued with a not-before time
    (scheduler_defer, for a retry after a backoff); it waits aside and is
    never taken until scheduler_wake is called with a time at or past it,
    which moves it into the queue. The caller supplies the times.

    No I/O, no clock: pure bookkeeping, tested on its own.  */
#ifndef MF_SCHEDULER_H
#define MF_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHED_JOB_STRIKES   3       //  failed tasks of one job before a worker is barred
#define SCHED_SCAN_MAX      512     //  queued tasks looked at per take before giving up
#define SCHED_NOT_QUEUED    UINT32_MAX
#define SCHED_PRIORITIES    10      //  priorities 0 .. 9 (others count as the nearest)

typedef struct {
    uint64_t id;            //  task id; ascending ids are submission order
    uint64_t job_id;
    int32_t  priority;      //  0 .. 9, higher first
    int32_t  avoid_worker;  //  worker whose attempt failed last, -1: none
    int64_t  deadline_ms;   //  0: none
    uint32_t heap_index;    //  SCHED_NOT_QUEUED when neither queued nor deferred
    bool     deferred;      //  heap_index is a place among the deferred tasks
} sched_task_t;

typedef struct _scheduler_t scheduler_t;

//  A new empty scheduler; NULL on out of memory.
scheduler_t *scheduler_new (void);

//  Frees the scheduler (not the tasks); NULL-safe; sets *self_p to NULL.
void scheduler_destroy (scheduler_t **self_p);

//  Queues a task (heap_index must be SCHED_NOT_QUEUED). Returns 0 or MF_ERR_NOMEM.
int scheduler_push (scheduler_t *self, sched_task_t *task);

//  Puts a task aside until not_before_ms (on the caller's clock): it is
//  not taken before scheduler_wake reaches that time. The task must be
//  neither queued nor deferred (else nothing happens). Returns 0 or
//  MF_ERR_NOMEM.
int scheduler_defer (scheduler_t *self, sched_task_t *task, int64_t not_before_ms);

//  Moves every deferred task whose time is at or before now_ms into the
//  queue. Returns how many moved.
size_t scheduler_wake (scheduler_t *self, int64_t now_ms);

//  Removes a queued or deferred task (no-op when it is neither).
void scheduler_remove (scheduler_t *self, sched_task_t *task);

//  Number of queued tasks (deferred ones not included).
size_t scheduler_size (const scheduler_t *self);

//  Queued tasks (deferred ones not included) of one priority, 0 ..
//  SCHED_PRIORITIES - 1; 0 for any other number.
size_t scheduler_size_at (const scheduler_t *self, int priority);

//  Number of deferred tasks.
size_t scheduler_deferred (const scheduler_t *self);

//  The best queued task without removing it, or NULL.
sched_task_t *scheduler_peek (const scheduler_t *self);

//  Adds a live worker with slots (>= 1). Returns its index (>= 0), reusing
//  freed indexes, or MF_ERR_NOMEM.
int scheduler_worker_add (scheduler_t *self, uint32_t slots);

//  Removes a worker (its strikes are forgotten, its index may be reused).
void scheduler_worker_remove (scheduler_t *self, int worker);

//  Slots the worker has and tasks it holds; 0 for an unknown index.
uint32_t scheduler_worker_slots (const scheduler_t *self, int worker);
uint32_t scheduler_worker_held (const scheduler_t *self, int worker);

//  Counts a task the worker already runs (adopted after a broker restart)
//  as held, even beyond its slots.
void scheduler_hold (scheduler_t *self, int worker);

//  Records that a task the worker held has finished or gone back.
void scheduler_release (scheduler_t *self, int worker);

//  Records a failed task of job_id on worker. Returns the worker's
//  failures for that job so far, or MF_ERR_NOMEM.
int scheduler_strike (scheduler_t *self, int worker, uint64_t job_id);

//  True when the worker may take tasks of job_id (see the strike rule).
bool scheduler_may_take (const scheduler_t *self, int worker, uint64_t job_id);

//  Takes the best task this worker may run, when it has a free slot, and
//  counts it as held. Returns NULL when the worker is full or nothing
//  fits it. Tasks skipped on the way stay queued.
sched_task_t *scheduler_take (scheduler_t *self, int worker);

#endif
