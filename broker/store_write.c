/*  The store's writes (see store.h): the prepared write statements and
    the s_do_* functions that run them, the deferred-write records (ops),
    the writer thread, store_begin .. store_sync, and the public write
    calls store_job_insert .. store_attempt_stderr. Opening, the schema,
    recovery and loading are in store.c; the state both share is in
    store_private.h. Statements are prepared once and reused; the event
    loop wraps each iteration's writes in one transaction, which is what
    makes tens of thousands of task updates per second possible with
    synchronous=FULL.

    Writing. In the default (deferred) mode each write is copied into an
    op; store_commit_async closes the ops written since the last commit
    into a batch and hands it to a writer thread, which runs every batch
    it finds in one transaction and commits it (one fsync for several
    event-loop iterations: group commit). The event loop never waits for
    the disk; what it has handed over is durable a few milliseconds later,
    and a crash before that loses only changes nobody was told about
    (tasks go back to the queue). Where an answer must wait for the disk
    (a job's id) the caller uses store_begin_sync and store_commit, which
    first let the writer finish and then write and commit directly.  */
#include "broker/store_private.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

//  The write statements, by STORE_SQL_* (store_private.h); prepared once
//  by store_write_prepare, reused for every write.
static const char *s_sql [STORE_SQL_COUNT] = {
    [STORE_SQL_JOB_INSERT] =
        "INSERT INTO jobs (name, priority, deadline_ms, deliver_at_ms, "
        "submitted_ms, state, format, spec, origin, id) VALUES (?,?,?,?,?,?,?,?,?,?)",
    [STORE_SQL_JOB_STATE] =
        "UPDATE jobs SET state = ?, updated_ms = ? WHERE id = ?",
    [STORE_SQL_TASK_INSERT] =
        "INSERT INTO tasks (job_id, kind, album, track, profile, state, "
        "attempts, last_error, id) VALUES (?,?,?,?,?,?,?,?,?)",
    [STORE_SQL_TASK_UPDATE] =
        "UPDATE tasks SET state = ?, attempts = ?, last_error = ? WHERE id = ?",
    [STORE_SQL_TASK_UPDATE_KEEP] =
        "UPDATE tasks SET state = ?, attempts = ? WHERE id = ?",
    [STORE_SQL_TASK_DONE] =
        "UPDATE tasks SET state = 4, attempts = ?, result = ?, "
        "last_error = NULL WHERE id = ?",
    [STORE_SQL_OUT_DELETE] =
        "DELETE FROM outputs WHERE task_id = ?",
    [STORE_SQL_OUT_INSERT] =
        "INSERT OR REPLACE INTO outputs (task_id, path, bytes, sha256) "
        "VALUES (?,?,?,?)",
    [STORE_SQL_ATT_BEGIN] =
        "INSERT OR REPLACE INTO attempts (task_id, attempt, worker, started_ms) "
        "VALUES (?,?,?,?)",
    [STORE_SQL_ATT_END] =
        "UPDATE attempts SET ended_ms = ?, ok = ?, error = ? "
        "WHERE task_id = ? AND attempt = ?",
    [STORE_SQL_TRACK_PUT] =
        "INSERT OR REPLACE INTO tracks (job_id, album, idx, analysis, input) "
        "VALUES (?,?,?,?,?)",
    [STORE_SQL_PLAN_PUT] =
        "INSERT INTO plans (job_id, album, profile, plan) VALUES (?,?,?,?) "
        "ON CONFLICT (job_id, album, profile) DO UPDATE SET plan = excluded.plan",
    [STORE_SQL_SHIFT_PUT] =
        "INSERT INTO plans (job_id, album, profile, shift) VALUES (?,?,?,?) "
        "ON CONFLICT (job_id, album, profile) DO UPDATE SET shift = excluded.shift",
    [STORE_SQL_ALBUM_PUT] =
        "INSERT OR REPLACE INTO albums (job_id, idx, slug, state) "
        "VALUES (?,?,?,?)",
    [STORE_SQL_WORKER_PUT] =
        "INSERT OR REPLACE INTO workers (id, slots, last_seen_ms, "
        "tasks_done, tasks_failed) VALUES (?,?,?,?,?)",
    [STORE_SQL_TASK_COUNTS] =
        "UPDATE tasks SET strikes = ?, lost = ?, resource = ?, retry_at_ms = ? "
        "WHERE id = ?",
    [STORE_SQL_JOB_CONTROL] =
        "UPDATE jobs SET priority = ?, paused = ? WHERE id = ?",
    [STORE_SQL_JOB_TIMES] =
        "UPDATE jobs SET started_ms = ?, finished_ms = ?, idle_ms = ? WHERE id = ?",
    [STORE_SQL_ATT_STDERR] =
        "UPDATE attempts SET stderr = ? WHERE task_id = ? AND attempt = ?",
};

//  One deferred write (see "Writing" at the top of this file); strings
//  and blobs are copies.
struct _store_op_t {
    store_op_t     *next;
    int             kind;           //  the STORE_SQL_* statement it runs
    store_job_t     job;
    store_task_t    task;
    uint64_t        id;
    int             i [4];
    int64_t         t;
    char           *s [5];          //  owned strings
    void           *blob;           //  owned
    size_t          blob_size;
    store_output_t *outs;           //  owned, with owned strings
    size_t          n_outs;
    uint64_t        batch;          //  set on the batch's last op: its number
};

//  Resets a cached statement for a new use and returns it.
static sqlite3_stmt *
s_stmt (store_t *self, int which)
{
    sqlite3_stmt *st = self->stmt [which];
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    return st;
}

//  Steps a statement to completion. Returns 0 or MF_ERR_IO.
static int
s_done (store_t *self, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step (st);
    sqlite3_reset (st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_fail (self, what);
    return 0;
}

//  Binds text or NULL.
static void
s_bind_text (sqlite3_stmt *st, int i, const char *text)
{
    if (text)
        sqlite3_bind_text (st, i, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null (st, i);
}

//  Runs store_job_insert's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_job_insert (store_t *self, const store_job_t *job)
{
    sqlite3_stmt *st = s_stmt (self, STORE_SQL_JOB_INSERT);
    s_bind_text (st, 1, job->name);
    sqlite3_bind_int (st, 2, job->priority);
    sqlite3_bind_int64 (st, 3, job->deadline_ms);
    sqlite3_bind_int64 (st, 4, job->deliver_at_ms);
    sqlite3_bind_int64 (st, 5, job->submitted_ms);
    sqlite3_bind_int (st, 6, job->state);
    s_bind_text (st, 7, job->format);
    s_bind_text (st, 8, job->spec);
    s_bind_text (st, 9, job->origin);
    sqlite3_bind_int64 (st, 10, (sqlite3_int64) job->id);
    return s_done (self, st, "insert job");
}

//  Runs store_job_set_state's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_job_set_state (store_t *self, uint64_t job_id, int state, int64_t now_ms)
{
    sqlite3_stmt *st = s_stmt (self, STORE_SQL_JOB_STATE);
    sqlite3_bind_int (st, 1, state);
    sqlite3_bind_int64 (st, 2, now_ms);
    sqlite3_bind_int64 (st, 3, (sqlite3_int64) job_id);
    return s_done (self, st, "update job");
}

//  Runs store_task_insert's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_task_insert (store_t *self, const store_task_t *task)
{
    sqlite3_stmt *st = s_stmt (self, STORE_SQL_TASK_INSERT);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) task->job_id);
    sqlite3_bind_int (st, 2, task->kind);
    sqlite3_bind_int (st, 3, task->album);
    sqlite3_bind_int (st, 4, task->track);
    sqlite3_bind_int (st, 5, task->profile);
    sqlite3_bind_int (st, 6, task->state);
    sqlite3_bind_int (st, 7, task->attempts);
    s_bind_text (st, 8, task->last_error);
    sqlite3_bind_int64 (st, 9, (sqlite3_int64) task->id);
    return s_done (self, st, "insert task");
}

//  Runs store_task_update's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_task_update (store_t *self, uint64_t task_id, int state, int attempts,
                   const char *last_error)
{
    sqlite3_stmt *st;
    if (last_error) {
        st = s_stmt (self, STORE_SQL_TASK_UPDATE);
        sqlite3_bind_int (st, 1, state);
        sqlite3_bind_int (st, 2, attempts);
        s_bind_text (st, 3, *last_error ? last_error : NULL);
        sqlite3_bind_int64 (st, 4, (sqlite3_int64) task_id);
    }
    else {
        st = s_stmt (self, STORE_SQL_TASK_UPDATE_KEEP);
        sqlite3_bind_int (st, 1, state);
        sqlite3_bind_int (st, 2, attempts);
        sqlite3_bind_int64 (st, 3, (sqlite3_int64) task_id);
    }
    return s_done (self, st, "update task");
}

//  Runs store_task_counts's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_task_counts (store_t *self, uint64_t task_id, const int *counts, int64_t retry_at_ms)
{
    sqlite3_stmt *st = s_stmt (self, STORE_SQL_TASK_COUNTS);
    sqlite3_bind_int (st, 1, counts [0]);
    sqlite3_bind_int (st, 2, counts [1]);
    sqlite3_bind_int (st, 3, counts [2]);
    sqlite3_bind_int64 (st, 4, retry_at_ms);
    sqlite3_bind_int64 (st, 5, (sqlite3_int64) task_id);
    return s_done (self, st, "update task counts");
}

//  Runs store_task_done's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_task_done (store_t *self, uint64_t task_id, int attempts,
                 const void *result, size_t result_size,
                 const store_output_t *outputs, size_t n_outputs)
{
    sqlite3_stmt *st = s_stmt (self, STORE_SQL_TASK_DONE);
    sqlite3_bind_int (st, 1, attempts);
    if (result)
        sqlite3_bind_blob (st, 2, result, (int) result_size, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null (st, 2);
    sqlite3_bind_int64 (st, 3, (sqlite3_int64) task_id);
    if (s_done (self, st, "task done"))
        return MF_ERR_IO;
    if (n_outputs == 0)
        return 0;
    st = s_stmt (self, STORE_SQL_OUT_DELETE);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) task_id);
    if (s_done (self, st, "replace outputs"))
        return MF_ERR_IO;
    for (size_t i = 0; i < n_outputs; i++) {
        st = s_stmt (self, STORE_SQL_OUT_INSERT);
        sqlite3_bind_int64 (st, 1, (sqlite3_int64) task_id);
        s_bind_text (st, 2, outputs [i].path);
        sqlite3_bind_int64 (st, 3, outputs [i].bytes);
        s_bind_text (st, 4, outputs [i].sha256);
        if (s_done (self, st, "record output"))
            return MF_ERR_IO;
    }
    return 0;
}

//  Runs store_attempt_begin's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_attempt_begin (store_t *self, uint64_t task_id, int attempt, const char *worker,
                     int64_t now_ms)
{
    sqlite3_stmt *st = s_stmt (self, STORE_SQL_ATT_BEGIN);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) task_id);
    sqlite3_bind_int (st, 2, attempt);
    s_bind_text (st, 3, worker);
    sqlite3_bind_int64 (st, 4, now_ms);
    return s_done (self, st, "attempt begin");
}

//  Runs store_attempt_end's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_attempt_end (store_t *self, uint64_t task_id, int attempt, bool ok,
                   const char *error, int64_t now_ms)
{
    sqlite3_stmt *st = s_stmt (self, STORE_SQL_ATT_END);
    sqlite3_bind_int64 (st, 1, now_ms);
    sqlite3_bind_int (st, 2, ok ? 1 : 0);
    s_bind_text (st, 3, error);
    sqlite3_bind_int64 (st, 4, (sqlite3_int64) task_id);
    sqlite3_bind_int (st, 5, attempt);
    return s_done (self, st, "attempt end");
}

//  Runs store_track_analysis's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_track_analysis (store_t *self, uint64_t job_id, int album, int track,
                      const void *analysis, size_t size, const char *input)
{
    sqlite3_stmt *st = s_stmt (self, STORE_SQL_TRACK_PUT);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) job_id);
    sqlite3_bind_int (st, 2, album);
    sqlite3_bind_int (st, 3, track);
    sqlite3_bind_blob (st, 4, analysis, (int) size, SQLITE_TRANSIENT);
    s_bind_text (st, 5, input);
    return s_done (self, st, "store analysis");
}

//  Runs store_plan_put's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_plan_put (store_t *self, int sql, uint64_t job_id, int album, int profile,
                const char *plan_json)
{
    sqlite3_stmt *st = s_stmt (self, sql);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) job_id);
    sqlite3_bind_int (st, 2, album);
    sqlite3_bind_int (st, 3, profile);
    s_bind_text (st, 4, plan_json);
    return s_done (self, st, sql == STORE_SQL_PLAN_PUT ? "store plan"
                                                       : "store album correction");
}

//  Runs store_album_set's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_album_set (store_t *self, uint64_t job_id, int album, const char *slug, int state)
{
    sqlite3_stmt *st = s_stmt (self, STORE_SQL_ALBUM_PUT);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) job_id);
    sqlite3_bind_int (st, 2, album);
    s_bind_text (st, 3, slug);
    sqlite3_bind_int (st, 4, state);
    return s_done (self, st, "store album");
}

//  Runs store_worker_put's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_worker_put (store_t *self, const char *id, int slots, int64_t last_seen_ms,
                  int tasks_done, int tasks_failed)
{
    sqlite3_stmt *st = s_stmt (self, STORE_SQL_WORKER_PUT);
    s_bind_text (st, 1, id);
    sqlite3_bind_int (st, 2, slots);
    sqlite3_bind_int64 (st, 3, last_seen_ms);
    sqlite3_bind_int (st, 4, tasks_done);
    sqlite3_bind_int (st, 5, tasks_failed);
    return s_done (self, st, "store worker");
}

//  Runs the writes of job control (priority, pause), job times and an
//  attempt's stderr tail on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_control (store_t *self, const store_op_t *op)
{
    sqlite3_stmt *st = s_stmt (self, op->kind);
    if (op->kind == STORE_SQL_JOB_CONTROL) {
        sqlite3_bind_int (st, 1, op->i [0]);
        sqlite3_bind_int (st, 2, op->i [1]);
        sqlite3_bind_int64 (st, 3, (sqlite3_int64) op->id);
        return s_done (self, st, "store job control");
    }
    if (op->kind == STORE_SQL_JOB_TIMES) {
        sqlite3_bind_int64 (st, 1, op->job.started_ms);
        sqlite3_bind_int64 (st, 2, op->job.finished_ms);
        sqlite3_bind_int64 (st, 3, op->job.idle_ms);
        sqlite3_bind_int64 (st, 4, (sqlite3_int64) op->id);
        return s_done (self, st, "store job times");
    }
    s_bind_text (st, 1, op->s [0]);
    sqlite3_bind_int64 (st, 2, (sqlite3_int64) op->id);
    sqlite3_bind_int (st, 3, op->i [0]);
    return s_done (self, st, "store attempt stderr");
}

//  Frees an op and what it owns.
static void
s_op_free (store_op_t *op)
{
    for (int i = 0; i < 5; i++)
        free (op->s [i]);
    free (op->blob);
    for (size_t i = 0; i < op->n_outs; i++) {
        free ((char *) op->outs [i].path);
        free ((char *) op->outs [i].sha256);
    }
    free (op->outs);
    free (op);
}

//  Frees a list of ops.
static void
s_ops_free (store_op_t *op)
{
    while (op) {
        store_op_t *next = op->next;
        s_op_free (op);
        op = next;
    }
}

//  A copy of a string (NULL stays NULL); *ok cleared on out of memory.
static char *
s_dup (const char *text, bool *ok)
{
    if (!text)
        return NULL;
    char *copy = strdup (text);
    if (!copy)
        *ok = false;
    return copy;
}

//  Runs one op on the connection. Returns 0 or MF_ERR_IO.
static int
s_op_run (store_t *self, store_op_t *op)
{
    switch (op->kind) {
        case STORE_SQL_JOB_INSERT:
            return s_do_job_insert (self, &op->job);
        case STORE_SQL_JOB_STATE:
            return s_do_job_set_state (self, op->id, op->i [0], op->t);
        case STORE_SQL_TASK_INSERT:
            return s_do_task_insert (self, &op->task);
        case STORE_SQL_TASK_UPDATE:
            return s_do_task_update (self, op->id, op->i [0], op->i [1], op->s [0]);
        case STORE_SQL_TASK_DONE:
            return s_do_task_done (self, op->id, op->i [0], op->blob, op->blob_size,
                                   op->outs, op->n_outs);
        case STORE_SQL_ATT_BEGIN:
            return s_do_attempt_begin (self, op->id, op->i [0], op->s [0], op->t);
        case STORE_SQL_ATT_END:
            return s_do_attempt_end (self, op->id, op->i [0], op->i [1] != 0, op->s [0],
                                     op->t);
        case STORE_SQL_TRACK_PUT:
            return s_do_track_analysis (self, op->id, op->i [0], op->i [1], op->blob,
                                        op->blob_size, op->s [0]);
        case STORE_SQL_PLAN_PUT:
        case STORE_SQL_SHIFT_PUT:
            return s_do_plan_put (self, op->kind, op->id, op->i [0], op->i [1], op->s [0]);
        case STORE_SQL_ALBUM_PUT:
            return s_do_album_set (self, op->id, op->i [0], op->s [0], op->i [1]);
        case STORE_SQL_TASK_COUNTS:
            return s_do_task_counts (self, op->id, op->i, op->t);
        case STORE_SQL_WORKER_PUT:
            return s_do_worker_put (self, op->s [0], op->i [0], op->t, op->i [1], op->i [2]);
        case STORE_SQL_JOB_CONTROL:
        case STORE_SQL_JOB_TIMES:
        case STORE_SQL_ATT_STDERR:
            return s_do_control (self, op);
        default:
            return MF_ERR_INTERNAL;
    }
}

//  The writer thread: runs queued batches, one transaction per wake-up.
//  A batch that cannot be committed (disk full, I/O error) is kept with
//  every later one and retried as one transaction at most once a second
//  (store_commit_async kicks it); meanwhile `failed` is set, so that
//  callers that must know the state is on disk (store_sync) hear it.
static void *
s_writer (void *arg)
{
    store_t *self = arg;
    pthread_mutex_lock (&self->mutex);
    while (true) {
        while (!self->queue_head && !self->kick && !self->stop)
            pthread_cond_wait (&self->cond, &self->mutex);
        if (!self->queue_head && !self->retry_head && self->stop)
            break;
        store_op_t *ops = self->queue_head;
        store_op_t *tail = self->queue_tail;
        uint64_t upto = self->batches;
        self->queue_head = self->queue_tail = NULL;
        self->kick = false;
        if (self->retry_head) {
            self->retry_tail->next = ops;
            if (ops)
                self->retry_tail = tail;
            ops = self->retry_head;
            tail = self->retry_tail;
            self->retry_head = self->retry_tail = NULL;
        }
        if (self->failed && !self->stop && clock_mono_ms () < self->retry_at_ms) {
            //  Not yet time to retry: keep everything, in order.
            self->retry_head = ops;
            self->retry_tail = tail;
            self->committed = upto;
            pthread_cond_broadcast (&self->cond);
            continue;
        }
        //  The connection is used by this thread only while the main
        //  thread waits for it (store_sync), so the lock can go.
        pthread_mutex_unlock (&self->mutex);
        int rc = store_exec (self, "BEGIN IMMEDIATE");
        for (store_op_t *op = ops; !rc && op; op = op->next)
            rc = s_op_run (self, op);
        if (!rc)
            rc = store_exec (self, "COMMIT");
        if (rc)
            store_exec (self, "ROLLBACK");
        pthread_mutex_lock (&self->mutex);
        if (rc && !self->stop) {
            if (!self->failed)
                log_error ("state %s cannot be written; the broker runs on and tries again "
                           "every second, and acknowledges nothing new until it can",
                           self->path);
            self->retry_head = ops;
            self->retry_tail = tail;
            self->retry_at_ms = clock_mono_ms () + 1000;
            self->failed = true;
        }
        else {
            pthread_mutex_unlock (&self->mutex);
            s_ops_free (ops);
            pthread_mutex_lock (&self->mutex);
            if (rc)
                log_error ("state %s: changes since the first failed commit are lost",
                           self->path);
            else
            if (self->failed)
                log_info ("state %s written again", self->path);
            self->failed = rc != 0;
        }
        self->committed = upto;
        pthread_cond_broadcast (&self->cond);
    }
    pthread_mutex_unlock (&self->mutex);
    return NULL;
}

//  Waits until every batch handed over is committed; afterwards the
//  caller has the connection to itself until it hands over more.
//  Returns 0, or MF_ERR_IO if a deferred commit failed.
static int
s_wait (store_t *self)
{
    pthread_mutex_lock (&self->mutex);
    while (self->committed < self->batches)
        pthread_cond_wait (&self->cond, &self->mutex);
    int rc = self->failed ? MF_ERR_IO : 0;
    pthread_mutex_unlock (&self->mutex);
    return rc;
}

//  Adds an op to the open deferred batch, or runs it at once in direct
//  mode. Takes ownership of op. Returns 0, MF_ERR_NOMEM or MF_ERR_IO.
static int
s_op_add (store_t *self, store_op_t *op, bool ok)
{
    if (!ok) {
        s_op_free (op);
        return MF_ERR_NOMEM;
    }
    if (self->direct) {
        int rc = s_op_run (self, op);
        s_op_free (op);
        return rc;
    }
    if (self->pend_tail)
        self->pend_tail->next = op;
    else
        self->pend_head = op;
    self->pend_tail = op;
    return 0;
}

//  A new op of a kind; NULL on out of memory.
static store_op_t *
s_op_new (int kind)
{
    store_op_t *op = calloc (1, sizeof *op);
    if (op)
        op->kind = kind;
    return op;
}

int
store_write_prepare (store_t *self, char *err, size_t err_size)
{
    for (int i = 0; i < STORE_SQL_COUNT; i++)
        if (sqlite3_prepare_v2 (self->db, s_sql [i], -1, &self->stmt [i], NULL) != SQLITE_OK) {
            snprintf (err, err_size, "%s: %s: %s", self->path, s_sql [i],
                      sqlite3_errmsg (self->db));
            return -1;
        }
    return 0;
}

void
store_write_close (store_t *self)
{
    //  What was handed over is committed; what was not is dropped.
    s_ops_free (self->pend_head);
    if (self->writer_started) {
        pthread_mutex_lock (&self->mutex);
        self->stop = true;
        pthread_cond_broadcast (&self->cond);
        pthread_mutex_unlock (&self->mutex);
        pthread_join (self->writer, NULL);
    }
    s_ops_free (self->retry_head);
    if (self->in_tx)
        store_exec (self, "ROLLBACK");
    for (int i = 0; i < STORE_SQL_COUNT; i++)
        sqlite3_finalize (self->stmt [i]);
}

int
store_begin (store_t *self)
{
    return 0;
}

int
store_begin_sync (store_t *self)
{
    if (self->direct)
        return 0;
    if (store_commit_async (self) || s_wait (self))
        return MF_ERR_IO;
    if (store_exec (self, "BEGIN IMMEDIATE"))
        return MF_ERR_IO;
    self->in_tx = true;
    self->direct = true;
    return 0;
}

int
store_commit_async (store_t *self)
{
    if (self->direct)
        return store_commit (self);
    pthread_mutex_lock (&self->mutex);
    int rc = self->failed ? MF_ERR_IO : 0;
    //  A failed batch waits for its retry: kick the writer when it is due.
    if (!self->pend_head && self->retry_head && self->writer_started
    &&  clock_mono_ms () >= self->retry_at_ms) {
        self->kick = true;
        self->batches++;
        pthread_cond_broadcast (&self->cond);
    }
    if (self->pend_head) {
        if (!self->writer_started) {
            if (pthread_create (&self->writer, NULL, s_writer, self) == 0)
                self->writer_started = true;
            else
                rc = MF_ERR_IO;
        }
        if (self->queue_tail)
            self->queue_tail->next = self->pend_head;
        else
            self->queue_head = self->pend_head;
        self->queue_tail = self->pend_tail;
        self->pend_head = self->pend_tail = NULL;
        self->batches++;
        pthread_cond_broadcast (&self->cond);
    }
    pthread_mutex_unlock (&self->mutex);
    return rc;
}

int
store_commit (store_t *self)
{
    if (self->direct) {
        self->direct = false;
        self->in_tx = false;
        if (store_exec (self, "COMMIT")) {
            store_exec (self, "ROLLBACK");
            return MF_ERR_IO;
        }
        return 0;
    }
    if (store_commit_async (self))
        return MF_ERR_IO;
    return s_wait (self);
}

int
store_sync (store_t *self)
{
    if (self->direct)
        return 0;
    return s_wait (self);
}

int
store_job_insert (store_t *self, store_job_t *job)
{
    job->id = self->next_job_id++;
    store_op_t *op = s_op_new (STORE_SQL_JOB_INSERT);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->job = *job;
    op->job.name = op->s [0] = s_dup (job->name, &ok);
    op->job.format = op->s [1] = s_dup (job->format, &ok);
    op->job.spec = op->s [2] = s_dup (job->spec, &ok);
    op->job.origin = op->s [3] = s_dup (job->origin, &ok);
    return s_op_add (self, op, ok);
}

int
store_job_set_state (store_t *self, uint64_t job_id, int state, int64_t now_ms)
{
    store_op_t *op = s_op_new (STORE_SQL_JOB_STATE);
    if (!op)
        return MF_ERR_NOMEM;
    op->id = job_id;
    op->i [0] = state;
    op->t = now_ms;
    return s_op_add (self, op, true);
}

int
store_task_insert (store_t *self, store_task_t *task)
{
    task->id = self->next_task_id++;
    store_op_t *op = s_op_new (STORE_SQL_TASK_INSERT);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->task = *task;
    op->task.last_error = op->s [0] = s_dup (task->last_error, &ok);
    op->task.result = NULL;
    op->task.result_size = 0;
    return s_op_add (self, op, ok);
}

int
store_task_update (store_t *self, uint64_t task_id, int state, int attempts,
                   const char *last_error)
{
    store_op_t *op = s_op_new (STORE_SQL_TASK_UPDATE);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->id = task_id;
    op->i [0] = state;
    op->i [1] = attempts;
    op->s [0] = s_dup (last_error, &ok);
    return s_op_add (self, op, ok);
}

int
store_task_counts (store_t *self, uint64_t task_id, int strikes, int lost, int resource,
                   int64_t retry_at_ms)
{
    store_op_t *op = s_op_new (STORE_SQL_TASK_COUNTS);
    if (!op)
        return MF_ERR_NOMEM;
    op->id = task_id;
    op->i [0] = strikes;
    op->i [1] = lost;
    op->i [2] = resource;
    op->t = retry_at_ms;
    return s_op_add (self, op, true);
}

int
store_task_done (store_t *self, uint64_t task_id, int attempts,
                 const void *result, size_t result_size,
                 const store_output_t *outputs, size_t n_outputs)
{
    store_op_t *op = s_op_new (STORE_SQL_TASK_DONE);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->id = task_id;
    op->i [0] = attempts;
    if (result) {
        op->blob = malloc (result_size ? result_size : 1);
        if (op->blob)
            memcpy (op->blob, result, result_size);
        else
            ok = false;
        op->blob_size = result_size;
    }
    if (n_outputs) {
        op->outs = calloc (n_outputs, sizeof *op->outs);
        if (!op->outs)
            ok = false;
        for (size_t i = 0; ok && i < n_outputs; i++) {
            op->outs [i].path = s_dup (outputs [i].path, &ok);
            op->outs [i].sha256 = s_dup (outputs [i].sha256, &ok);
            op->outs [i].bytes = outputs [i].bytes;
            op->n_outs = i + 1;
        }
    }
    return s_op_add (self, op, ok);
}

int
store_attempt_begin (store_t *self, uint64_t task_id, int attempt, const char *worker,
                     int64_t now_ms)
{
    store_op_t *op = s_op_new (STORE_SQL_ATT_BEGIN);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->id = task_id;
    op->i [0] = attempt;
    op->s [0] = s_dup (worker, &ok);
    op->t = now_ms;
    return s_op_add (self, op, ok);
}

int
store_attempt_end (store_t *self, uint64_t task_id, int attempt, bool success,
                   const char *error, int64_t now_ms)
{
    store_op_t *op = s_op_new (STORE_SQL_ATT_END);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->id = task_id;
    op->i [0] = attempt;
    op->i [1] = success;
    op->s [0] = s_dup (error, &ok);
    op->t = now_ms;
    return s_op_add (self, op, ok);
}

int
store_track_analysis (store_t *self, uint64_t job_id, int album, int track,
                      const void *analysis, size_t size, const char *input)
{
    store_op_t *op = s_op_new (STORE_SQL_TRACK_PUT);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->id = job_id;
    op->i [0] = album;
    op->i [1] = track;
    op->s [0] = s_dup (input, &ok);
    op->blob = malloc (size ? size : 1);
    if (op->blob)
        memcpy (op->blob, analysis, size);
    else
        ok = false;
    op->blob_size = size;
    return s_op_add (self, op, ok);
}

//  Queues a write of a plans row's plan or shift column (kind). Returns 0
//  or MF_ERR_NOMEM.
static int
s_plan_op (store_t *self, int kind, uint64_t job_id, int album, int profile, const char *text)
{
    store_op_t *op = s_op_new (kind);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->id = job_id;
    op->i [0] = album;
    op->i [1] = profile;
    op->s [0] = s_dup (text, &ok);
    return s_op_add (self, op, ok);
}

int
store_plan_put (store_t *self, uint64_t job_id, int album, int profile,
                const char *plan_json)
{
    return s_plan_op (self, STORE_SQL_PLAN_PUT, job_id, album, profile, plan_json);
}

int
store_shift_put (store_t *self, uint64_t job_id, int album, int profile,
                 const char *shift_json)
{
    return s_plan_op (self, STORE_SQL_SHIFT_PUT, job_id, album, profile, shift_json);
}

int
store_album_set (store_t *self, uint64_t job_id, int album, const char *slug, int state)
{
    store_op_t *op = s_op_new (STORE_SQL_ALBUM_PUT);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->id = job_id;
    op->i [0] = album;
    op->i [1] = state;
    op->s [0] = s_dup (slug, &ok);
    return s_op_add (self, op, ok);
}

int
store_worker_put (store_t *self, const char *id, int slots, int64_t last_seen_ms,
                  int tasks_done, int tasks_failed)
{
    store_op_t *op = s_op_new (STORE_SQL_WORKER_PUT);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->s [0] = s_dup (id, &ok);
    op->i [0] = slots;
    op->i [1] = tasks_done;
    op->i [2] = tasks_failed;
    op->t = last_seen_ms;
    return s_op_add (self, op, ok);
}

int
store_job_control (store_t *self, uint64_t job_id, int priority, bool paused)
{
    store_op_t *op = s_op_new (STORE_SQL_JOB_CONTROL);
    if (!op)
        return MF_ERR_NOMEM;
    op->id = job_id;
    op->i [0] = priority;
    op->i [1] = paused;
    return s_op_add (self, op, true);
}

int
store_job_times (store_t *self, uint64_t job_id, int64_t started_ms, int64_t finished_ms,
                 int64_t idle_ms)
{
    store_op_t *op = s_op_new (STORE_SQL_JOB_TIMES);
    if (!op)
        return MF_ERR_NOMEM;
    op->id = job_id;
    op->job.started_ms = started_ms;
    op->job.finished_ms = finished_ms;
    op->job.idle_ms = idle_ms;
    return s_op_add (self, op, true);
}

int
store_attempt_stderr (store_t *self, uint64_t task_id, int attempt, const char *tail)
{
    store_op_t *op = s_op_new (STORE_SQL_ATT_STDERR);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->id = task_id;
    op->i [0] = attempt;
    op->s [0] = s_dup (tail, &ok);
    return s_op_add (self, op, ok);
}
