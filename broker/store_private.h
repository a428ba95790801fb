/*  Private to the store: nothing but broker/store.c and
    broker/store_write.c includes this file; the store's API is store.h.
    It holds the state behind store_t (the connection, the prepared write
    statements, the deferred-write queues and the writer thread's state)
    and the few functions the two files share:

      store.c        open and close, the lock file, schema and upgrade,
                     recovery, the load queries
      store_write.c  the write statements and ops, the writer thread,
                     store_begin .. store_sync, the public write calls  */
#ifndef MF_STORE_PRIVATE_H
#define MF_STORE_PRIVATE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/store.h"

//  The prepared write statements, in store_t.stmt (their SQL is in
//  store_write.c); an op's kind is the statement it runs.
enum {
    STORE_SQL_JOB_INSERT, STORE_SQL_JOB_STATE, STORE_SQL_TASK_INSERT, STORE_SQL_TASK_UPDATE,
    STORE_SQL_TASK_UPDATE_KEEP, STORE_SQL_TASK_DONE, STORE_SQL_OUT_DELETE, STORE_SQL_OUT_INSERT,
    STORE_SQL_ATT_BEGIN, STORE_SQL_ATT_END, STORE_SQL_TRACK_PUT, STORE_SQL_PLAN_PUT,
    STORE_SQL_ALBUM_PUT, STORE_SQL_WORKER_PUT, STORE_SQL_TASK_COUNTS, STORE_SQL_JOB_CONTROL,
    STORE_SQL_JOB_TIMES, STORE_SQL_ATT_STDERR, STORE_SQL_SHIFT_PUT, STORE_SQL_COUNT
};

//  One deferred write (defined in store_write.c).
typedef struct _store_op_t store_op_t;

//  The store (store.h's opaque store_t): the connection, the write
//  statements, the direct transaction and the deferred writes.
struct _store_t {
    sqlite3        *db;
    sqlite3_stmt   *stmt [STORE_SQL_COUNT];
    bool            in_tx;          //  a direct transaction is open
    bool            direct;         //  writes run at once (store_begin_sync)
    char           *path;
    uint64_t        next_job_id;
    uint64_t        next_task_id;
    //  Deferred writes: built by the caller, handed to the writer thread.
    store_op_t     *pend_head;      //  ops not yet closed by a commit (caller's)
    store_op_t     *pend_tail;
    pthread_t       writer;
    bool            writer_started;
    pthread_mutex_t mutex;          //  guards what follows and the connection
    pthread_cond_t  cond;
    store_op_t     *queue_head;     //  closed batches for the writer
    store_op_t     *queue_tail;
    uint64_t        batches;        //  batches queued so far
    uint64_t        committed;      //  batches durable so far
    bool            failed;         //  the last deferred commit failed
    bool            stop;
    //  Ops of batches that could not be committed (disk full, I/O error),
    //  in order, followed by every batch handed over since: retried as one
    //  transaction at most once a second, so that nothing is reordered.
    store_op_t     *retry_head;
    store_op_t     *retry_tail;
    int64_t         retry_at_ms;    //  monotonic time of the next retry
    bool            kick;           //  a retry is due: wake the writer
};

//  Logs the last SQLite error with what was being done. Returns MF_ERR_IO.
int store_fail (store_t *self, const char *what);

//  Runs SQL without results. Returns 0, or MF_ERR_IO (logged with the SQL
//  and SQLite's message).
int store_exec (store_t *self, const char *sql);

//  Prepares the write statements on self->db (store_open). Returns 0, or
//  -1 with one line in err naming the file and the statement that failed;
//  what was prepared is finalized by store_write_close.
int store_write_prepare (store_t *self, char *err, size_t err_size);

//  Drops the writes not yet handed to the writer, lets the writer commit
//  what was handed over and stops it, rolls back an open direct
//  transaction (store_begin_sync) and finalizes the write statements
//  (store_destroy, before it closes the connection). Safe on a store
//  whose writer never started or whose statements are not all prepared.
void store_write_close (store_t *self);

#endif
