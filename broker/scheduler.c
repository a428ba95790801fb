/*  The broker's scheduler (see scheduler.h): a binary heap of queued tasks
    ordered by priority, deadline and submission, and a table of workers
    with their slots, held tasks and per-job failure strikes.  */
#include "broker/scheduler.h"
#include "common/array.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

typedef struct {
    uint64_t job_id;
    uint32_t failures;
} s_strike_t;

typedef struct {
    bool        live;
    uint32_t    slots;
    uint32_t    held;
    s_strike_t *strikes;        //  jobs this worker failed tasks of
    size_t      n_strikes;
} s_worker_t;

typedef struct {
    sched_task_t *task;
    int64_t       not_before_ms;
} s_deferred_t;

struct _scheduler_t {
    sched_task_t **heap;        //  binary heap, best at 0
    size_t         size;
    size_t         by_priority [SCHED_PRIORITIES]; //  queued tasks of each priority
    size_t         cap;
    s_deferred_t  *deferred;    //  tasks waiting for their time (few: unordered)
    size_t         n_deferred;
    size_t         cap_deferred;
    s_worker_t    *workers;
    size_t         n_workers;   //  entries used (live or free)
};

//  The counting slot of a task's priority: 0 .. SCHED_PRIORITIES - 1.
static int
s_priority (const sched_task_t *t)
{
    return t->priority < 0 ? 0 : t->priority >= SCHED_PRIORITIES
         ? SCHED_PRIORITIES - 1 : t->priority;
}

//  True when a should run before b.
static bool
s_before (const sched_task_t *a, const sched_task_t *b)
{
    if (a->priority != b->priority)
        return a->priority > b->priority;
    int64_t da = a->deadline_ms > 0 ? a->deadline_ms : INT64_MAX;
    int64_t db = b->deadline_ms > 0 ? b->deadline_ms : INT64_MAX;
    if (da != db)
        return da < db;
    return a->id < b->id;
}

//  Places task at heap slot i and records the slot in the task.
static void
s_place (scheduler_t *self, size_t i, sched_task_t *task)
{
    self->heap [i] = task;
    task->heap_index = (uint32_t) i;
}

//  Moves the task at slot i up until its parent runs before it.
static void
s_sift_up (scheduler_t *self, size_t i)
{
    sched_task_t *t = self->heap [i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_before (t, self->heap [parent]))
            break;
        s_place (self, i, self->heap [parent]);
        i = parent;
    }
    s_place (self, i, t);
}

//  Moves the task at slot i down until both children run after it.
static void
s_sift_down (scheduler_t *self, size_t i)
{
    sched_task_t *t = self->heap [i];
    while (true) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        sched_task_t *bt = t;
        if (l < self->size && s_before (self->heap [l], bt)) {
            best = l;
            bt = self->heap [l];
        }
        if (r < self->size && s_before (self->heap [r], bt))
            best = r;
        if (best == i)
            break;
        s_place (self, i, self->heap [best]);
        i = best;
    }
    s_place (self, i, t);
}

scheduler_t *
scheduler_new (void)
{
    return calloc (1, sizeof (scheduler_t));
}

void
scheduler_destroy (scheduler_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    scheduler_t *self = *self_p;
    for (size_t i = 0; i < self->n_workers; i++)
        free (self->workers [i].strikes);
    free (self->workers);
    free (self->deferred);
    free (self->heap);
    free (self);
    *self_p = NULL;
}

int
scheduler_push (scheduler_t *self, sched_task_t *task)
{
    if (task->heap_index != SCHED_NOT_QUEUED)
        return 0;
    if (array_reserve (&self->heap, &self->cap, self->size + 1, sizeof *self->heap, 1024))
        return MF_ERR_NOMEM;
    task->deferred = false;
    self->by_priority [s_priority (task)]++;
    s_place (self, self->size++, task);
    s_sift_up (self, self->size - 1);
    return 0;
}

int
scheduler_defer (scheduler_t *self, sched_task_t *task, int64_t not_before_ms)
{
    if (task->heap_index != SCHED_NOT_QUEUED)
        return 0;
    if (self->n_deferred == self->cap_deferred) {
        size_t cap = self->cap_deferred ? self->cap_deferred * 2 : 16;
        s_deferred_t *d = realloc (self->deferred, cap * sizeof *d);
        if (!d)
            return MF_ERR_NOMEM;
        self->deferred = d;
        self->cap_deferred = cap;
    }
    task->deferred = true;
    task->heap_index = (uint32_t) self->n_deferred;
    self->deferred [self->n_deferred].task = task;
    self->deferred [self->n_deferred].not_before_ms = not_before_ms;
    self->n_deferred++;
    return 0;
}

//  Takes the deferred task at place i out of the deferred list.
static void
s_undefer (scheduler_t *self, size_t i)
{
    sched_task_t *t = self->deferred [i].task;
    t->deferred = false;
    t->heap_index = SCHED_NOT_QUEUED;
    self->n_deferred--;
    if (i < self->n_deferred) {
        self->deferred [i] = self->deferred [self->n_deferred];
        self->deferred [i].task->heap_index = (uint32_t) i;
    }
}

size_t
scheduler_wake (scheduler_t *self, int64_t now_ms)
{
    size_t moved = 0;
    size_t i = 0;
    while (i < self->n_deferred) {
        if (self->deferred [i].not_before_ms > now_ms) {
            i++;
            continue;
        }
        sched_task_t *t = self->deferred [i].task;
        s_undefer (self, i);
        if (scheduler_push (self, t) == 0)
            moved++;
        else {
            //  No room in the queue: it stays aside for the next wake.
            scheduler_defer (self, t, now_ms);
            break;
        }
    }
    return moved;
}

size_t
scheduler_deferred (const scheduler_t *self)
{
    return self->n_deferred;
}

void
scheduler_remove (scheduler_t *self, sched_task_t *task)
{
    size_t i = task->heap_index;
    if (task->deferred) {
        if (i < self->n_deferred && self->deferred [i].task == task)
            s_undefer (self, i);
        return;
    }
    if (i == SCHED_NOT_QUEUED || i >= self->size || self->heap [i] != task)
        return;
    task->heap_index = SCHED_NOT_QUEUED;
    self->by_priority [s_priority (task)]--;
    self->size--;
    if (i == self->size)
        return;
    sched_task_t *moved = self->heap [self->size];
    s_place (self, i, moved);
    s_sift_up (self, i);
    if (moved->heap_index == i)
        s_sift_down (self, i);
}

size_t
scheduler_size (const scheduler_t *self)
{
    return self->size;
}

size_t
scheduler_size_at (const scheduler_t *self, int priority)
{
    return priority >= 0 && priority < SCHED_PRIORITIES ? self->by_priority [priority] : 0;
}

sched_task_t *
scheduler_peek (const scheduler_t *self)
{
    return self->size ? self->heap [0] : NULL;
}

int
scheduler_worker_add (scheduler_t *self, uint32_t slots)
{
    size_t i;
    for (i = 0; i < self->n_workers; i++)
        if (!self->workers [i].live)
            break;
    if (i == self->n_workers) {
        s_worker_t *w = realloc (self->workers, (self->n_workers + 1) * sizeof *w);
        if (!w)
            return MF_ERR_NOMEM;
        self->workers = w;
        self->n_workers++;
        memset (&self->workers [i], 0, sizeof self->workers [i]);
    }
    s_worker_t *w = &self->workers [i];
    free (w->strikes);
    memset (w, 0, sizeof *w);
    w->live = true;
    w->slots = slots ? slots : 1;
    return (int) i;
}

//  The live worker at index, or NULL.
static s_worker_t *
s_worker (const scheduler_t *self, int worker)
{
    if (worker < 0 || (size_t) worker >= self->n_workers || !self->workers [worker].live)
        return NULL;
    return &self->workers [worker];
}

void
scheduler_worker_remove (scheduler_t *self, int worker)
{
    s_worker_t *w = s_worker (self, worker);
    if (!w)
        return;
    free (w->strikes);
    memset (w, 0, sizeof *w);
}

uint32_t
scheduler_worker_slots (const scheduler_t *self, int worker)
{
    s_worker_t *w = s_worker (self, worker);
    return w ? w->slots : 0;
}

uint32_t
scheduler_worker_held (const scheduler_t *self, int worker)
{
    s_worker_t *w = s_worker (self, worker);
    return w ? w->held : 0;
}

void
scheduler_hold (scheduler_t *self, int worker)
{
    s_worker_t *w = s_worker (self, worker);
    if (w)
        w->held++;
}

void
scheduler_release (scheduler_t *self, int worker)
{
    s_worker_t *w = s_worker (self, worker);
    if (w && w->held > 0)
        w->held--;
}

//  The worker's failures for a job.
static uint32_t
s_failures (const s_worker_t *w, uint64_t job_id)
{
    for (size_t i = 0; i < w->n_strikes; i++)
        if (w->strikes [i].job_id == job_id)
            return w->strikes [i].failures;
    return 0;
}

int
scheduler_strike (scheduler_t *self, int worker, uint64_t job_id)
{
    s_worker_t *w = s_worker (self, worker);
    if (!w)
        return 0;
    for (size_t i = 0; i < w->n_strikes; i++)
        if (w->strikes [i].job_id == job_id)
            return (int) ++w->strikes [i].failures;
    s_strike_t *s = realloc (w->strikes, (w->n_strikes + 1) * sizeof *s);
    if (!s)
        return MF_ERR_NOMEM;
    w->strikes = s;
    w->strikes [w->n_strikes].job_id = job_id;
    w->strikes [w->n_strikes].failures = 1;
    w->n_strikes++;
    return 1;
}

bool
scheduler_may_take (const scheduler_t *self, int worker, uint64_t job_id)
{
    const s_worker_t *w = s_worker (self, worker);
    if (!w)
        return false;
    if (s_failures (w, job_id) < SCHED_JOB_STRIKES)
        return true;
    //  Struck out: allowed only when no live worker may take the job.
    for (size_t i = 0; i < self->n_workers; i++)
        if (self->workers [i].live
        &&  s_failures (&self->workers [i], job_id) < SCHED_JOB_STRIKES)
            return false;
    return true;
}

//  True when a live worker other than `worker` may take job_id now (it
//  has a free slot): avoiding a worker is a preference, and an idle
//  worker never waits for a busy one (which may be stuck).
static bool
s_other_may_take (const scheduler_t *self, int worker, uint64_t job_id)
{
    for (size_t i = 0; i < self->n_workers; i++)
        if ((int) i != worker && self->workers [i].live
        &&  self->workers [i].held < self->workers [i].slots
        &&  s_failures (&self->workers [i], job_id) < SCHED_JOB_STRIKES)
            return true;
    return false;
}

//  Removes and returns the best queued task.
static sched_task_t *
s_pop (scheduler_t *self)
{
    sched_task_t *t = self->heap [0];
    scheduler_remove (self, t);
    return t;
}

sched_task_t *
scheduler_take (scheduler_t *self, int worker)
{
    s_worker_t *w = s_worker (self, worker);
    if (!w || w->held >= w->slots || self->size == 0)
        return NULL;
    sched_task_t *skipped [SCHED_SCAN_MAX];
    size_t n_skipped = 0;
    sched_task_t *found = NULL;
    while (self->size > 0 && n_skipped < SCHED_SCAN_MAX) {
        sched_task_t *t = s_pop (self);
        bool ok = scheduler_may_take (self, worker, t->job_id);
        if (ok && t->avoid_worker == worker && s_other_may_take (self, worker, t->job_id))
            ok = false;
        if (ok) {
            found = t;
            break;
        }
        skipped [n_skipped++] = t;
    }
    //  The heap had room for every skipped task a moment ago.
    for (size_t i = 0; i < n_skipped; i++)
        scheduler_push (self, skipped [i]);
    if (found)
        w->held++;
    return found;
}
