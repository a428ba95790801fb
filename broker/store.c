/*  The broker's SQLite store (see store.h). Statements are prepared once
    and reused; the event loop wraps each iteration's writes in one
    transaction, which is what makes tens of thousands of task updates per
    second possible with synchronous=FULL.  */
#include "broker/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#define S_RESTARTED "broker restarted"     //  error of an attempt a restart cut short

enum {
    S_JOB_INSERT, S_JOB_STATE, S_TASK_INSERT, S_TASK_UPDATE, S_TASK_UPDATE_KEEP,
    S_TASK_DONE, S_OUT_DELETE, S_OUT_INSERT, S_ATT_BEGIN, S_ATT_END, S_TRACK_PUT,
    S_PLAN_PUT, S_ALBUM_PUT, S_WORKER_PUT, S_TASK_COUNTS, S_JOB_CONTROL, S_JOB_TIMES,
    S_ATT_STDERR, S_COUNT
};

static const char *s_sql [S_COUNT] = {
    [S_JOB_INSERT] = "INSERT INTO jobs (name, priority, deadline_ms, deliver_at_ms, "
                     "submitted_ms, state, format, spec, origin, id) VALUES (?,?,?,?,?,?,?,?,?,?)",
    [S_JOB_STATE]  = "UPDATE jobs SET state = ?, updated_ms = ? WHERE id = ?",
    [S_TASK_INSERT] = "INSERT INTO tasks (job_id, kind, album, track, profile, state, "
                      "attempts, last_error, id) VALUES (?,?,?,?,?,?,?,?,?)",
    [S_TASK_UPDATE] = "UPDATE tasks SET state = ?, attempts = ?, last_error = ? WHERE id = ?",
    [S_TASK_UPDATE_KEEP] = "UPDATE tasks SET state = ?, attempts = ? WHERE id = ?",
    [S_TASK_DONE]  = "UPDATE tasks SET state = 4, attempts = ?, result = ?, "
                     "last_error = NULL WHERE id = ?",
    [S_OUT_DELETE] = "DELETE FROM outputs WHERE task_id = ?",
    [S_OUT_INSERT] = "INSERT OR REPLACE INTO outputs (task_id, path, bytes, sha256) "
                     "VALUES (?,?,?,?)",
    [S_ATT_BEGIN]  = "INSERT OR REPLACE INTO attempts (task_id, attempt, worker, started_ms) "
                     "VALUES (?,?,?,?)",
    [S_ATT_END]    = "UPDATE attempts SET ended_ms = ?, ok = ?, error = ? "
                     "WHERE task_id = ? AND attempt = ?",
    [S_TRACK_PUT]  = "INSERT OR REPLACE INTO tracks (job_id, album, idx, analysis) "
                     "VALUES (?,?,?,?)",
    [S_PLAN_PUT]   = "INSERT OR REPLACE INTO plans (job_id, album, profile, plan) "
                     "VALUES (?,?,?,?)",
    [S_ALBUM_PUT]  = "INSERT OR REPLACE INTO albums (job_id, idx, slug, state) "
                     "VALUES (?,?,?,?)",
    [S_WORKER_PUT] = "INSERT OR REPLACE INTO workers (id, slots, last_seen_ms, "
                     "tasks_done, tasks_failed) VALUES (?,?,?,?,?)",
    [S_TASK_COUNTS] = "UPDATE tasks SET strikes = ?, lost = ?, resource = ?, retry_at_ms = ? "
                      "WHERE id = ?",
    [S_JOB_CONTROL] = "UPDATE jobs SET priority = ?, paused = ? WHERE id = ?",
    [S_JOB_TIMES]  = "UPDATE jobs SET started_ms = ?, finished_ms = ? WHERE id = ?",
    [S_ATT_STDERR] = "UPDATE attempts SET stderr = ? WHERE task_id = ? AND attempt = ?",
};

//  Columns added after the first release (the schema version did not
//  change: an older state file gets them, zero or NULL, when opened).
static const struct { const char *table, *column; } s_added_columns [] = {
    { "tasks", "strikes INT DEFAULT 0" }, { "tasks", "lost INT DEFAULT 0" },
    { "tasks", "resource INT DEFAULT 0" }, { "tasks", "retry_at_ms INT DEFAULT 0" },
    { "jobs", "paused INT DEFAULT 0" }, { "jobs", "started_ms INT DEFAULT 0" },
    { "jobs", "finished_ms INT DEFAULT 0" }, { "attempts", "stderr TEXT" },
};

static const char *s_schema =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT,"
    "  priority INT, deadline_ms INT, deliver_at_ms INT, submitted_ms INT, state INT,"
    "  format TEXT, spec TEXT, origin TEXT, updated_ms INT, paused INT DEFAULT 0,"
    "  started_ms INT DEFAULT 0, finished_ms INT DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS albums (job_id INT, idx INT, slug TEXT, state INT,"
    "  PRIMARY KEY (job_id, idx));"
    "CREATE TABLE IF NOT EXISTS tracks (job_id INT, album INT, idx INT, analysis BLOB,"
    "  PRIMARY KEY (job_id, album, idx));"
    "CREATE TABLE IF NOT EXISTS plans (job_id INT, album INT, profile INT, plan TEXT,"
    "  PRIMARY KEY (job_id, album, profile));"
    "CREATE TABLE IF NOT EXISTS tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, job_id INT,"
    "  kind INT, album INT, track INT, profile INT, state INT, attempts INT,"
    "  last_error TEXT, result BLOB, strikes INT DEFAULT 0, lost INT DEFAULT 0,"
    "  resource INT DEFAULT 0, retry_at_ms INT DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS tasks_job ON tasks (job_id);"
    "CREATE TABLE IF NOT EXISTS attempts (task_id INT, attempt INT, worker TEXT,"
    "  started_ms INT, ended_ms INT, ok INT, error TEXT, stderr TEXT,"
    "  PRIMARY KEY (task_id, attempt));"
    "CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, slots INT, last_seen_ms INT,"
    "  tasks_done INT, tasks_failed INT);"
    "CREATE TABLE IF NOT EXISTS outputs (task_id INT, path TEXT, bytes INT, sha256 TEXT,"
    "  PRIMARY KEY (task_id, path));";

//  One deferred write (see "Writing" below); strings and blobs are copies.
typedef struct s_op_s {
    struct s_op_s  *next;
    int             kind;           //  S_JOB_INSERT .. S_WORKER_PUT
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
} s_op_t;

struct _store_t {
    sqlite3        *db;
    sqlite3_stmt   *stmt [S_COUNT];
    bool            in_tx;          //  a direct transaction is open
    bool            direct;         //  writes run at once (store_begin_sync)
    char           *path;
    uint64_t        next_job_id;
    uint64_t        next_task_id;
    //  Deferred writes: built by the caller, handed to the writer thread.
    s_op_t         *pend_head;      //  ops not yet closed by a commit (caller's)
    s_op_t         *pend_tail;
    pthread_t       writer;
    bool            writer_started;
    pthread_mutex_t mutex;          //  guards what follows and the connection
    pthread_cond_t  cond;
    s_op_t         *queue_head;     //  closed batches for the writer
    s_op_t         *queue_tail;
    uint64_t        batches;        //  batches queued so far
    uint64_t        committed;      //  batches durable so far
    bool            failed;         //  the last deferred commit failed
    bool            stop;
    //  Ops of batches that could not be committed (disk full, I/O error),
    //  in order, followed by every batch handed over since: retried as one
    //  transaction at most once a second, so that nothing is reordered.
    s_op_t         *retry_head;
    s_op_t         *retry_tail;
    int64_t         retry_at_ms;    //  monotonic time of the next retry
    bool            kick;           //  a retry is due: wake the writer
};

//  Logs the last SQLite error with what was being done. Returns MF_ERR_IO.
static int
s_fail (store_t *self, const char *what)
{
    log_error ("state %s: %s: %s", self->path, what, sqlite3_errmsg (self->db));
    return MF_ERR_IO;
}

//  Runs SQL without results. Returns 0 or MF_ERR_IO.
static int
s_exec (store_t *self, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec (self->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error ("state %s: %s: %s", self->path, sql, msg ? msg : "?");
        sqlite3_free (msg);
        return MF_ERR_IO;
    }
    return 0;
}

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
        return s_fail (self, what);
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

//  The largest id in a table (0 when empty).
static uint64_t
s_max_id (store_t *self, const char *table)
{
    char sql [96];
    snprintf (sql, sizeof sql, "SELECT COALESCE(MAX(id), 0) FROM %s", table);
    sqlite3_stmt *st;
    uint64_t id = 0;
    if (sqlite3_prepare_v2 (self->db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step (st) == SQLITE_ROW)
            id = (uint64_t) sqlite3_column_int64 (st, 0);
        sqlite3_finalize (st);
    }
    return id;
}

//  Describes the holder of the lock file fd (its recorded pid, host, URL
//  and start, else the pid the kernel reports) into buf.
static void
s_lock_holder (int fd, char *buf, size_t size)
{
    char text [1024];
    ssize_t n = pread (fd, text, sizeof text - 1, 0);
    text [n > 0 ? n : 0] = 0;
    char host [256] = "", bind [512] = "", since [64] = "";
    long pid = 0;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        if (strncmp (line, "pid ", 4) == 0)
            pid = strtol (line + 4, NULL, 10);
        else
        if (strncmp (line, "host ", 5) == 0)
            snprintf (host, sizeof host, "%s", line + 5);
        else
        if (strncmp (line, "bind ", 5) == 0)
            snprintf (bind, sizeof bind, "%s", line + 5);
        else
        if (strncmp (line, "since ", 6) == 0)
            snprintf (since, sizeof since, "%s", line + 6);
    }
    if (pid <= 0) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        if (fcntl (fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
            pid = (long) fl.l_pid;
    }
    if (pid > 0 && host [0])
        snprintf (buf, size, "pid %ld on host %s, bound to %s, since %s", pid, host,
                  bind [0] ? bind : "?", since [0] ? since : "?");
    else
    if (pid > 0)
        snprintf (buf, size, "pid %ld", pid);
    else
        snprintf (buf, size, "a process that is starting");
}

int
store_lock (const char *path, const char *bind_url, char *err, size_t err_size)
{
    char lock_path [4200];
    if ((size_t) snprintf (lock_path, sizeof lock_path, "%s.lock", path) >= sizeof lock_path) {
        snprintf (err, err_size, "%s: path too long", path);
        return -1;
    }
    int fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf (err, err_size, "%s: cannot open the state lock: %s", lock_path,
                  strerror (errno));
        return -1;
    }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl (fd, F_SETLK, &fl) != 0) {
        int e = errno;
        if (e == EAGAIN || e == EACCES) {
            char holder [1200];
            s_lock_holder (fd, holder, sizeof holder);
            snprintf (err, err_size, "%s: the state file is in use by another broker (%s); "
                      "stop it first, or give this broker another --state", path, holder);
        }
        else
            snprintf (err, err_size, "%s: cannot lock: %s", lock_path, strerror (e));
        close (fd);
        return -1;
    }
    char host [256] = "?", since [64] = "?", text [1200];
    gethostname (host, sizeof host - 1);
    time_t now = time (NULL);
    struct tm tm;
    if (gmtime_r (&now, &tm))
        strftime (since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int len = snprintf (text, sizeof text, "pid %ld\nhost %s\nbind %s\nsince %s\n",
                        (long) getpid (), host, bind_url ? bind_url : "?", since);
    if (len > (int) sizeof text - 1)
        len = (int) sizeof text - 1;
    if (ftruncate (fd, 0) != 0 || pwrite (fd, text, (size_t) len, 0) != len)
        log_warn ("%s: cannot record this broker in the lock file: %s", lock_path,
                  strerror (errno));
    return fd;
}

void
store_unlock (int *fd_p)
{
    if (!fd_p || *fd_p < 0)
        return;
    close (*fd_p);
    *fd_p = -1;
}

//  True when table has a column of that name.
static bool
s_has_column (store_t *self, const char *table, const char *column)
{
    char sql [96];
    snprintf (sql, sizeof sql, "PRAGMA table_info (%s)", table);
    sqlite3_stmt *st;
    bool found = false;
    if (sqlite3_prepare_v2 (self->db, sql, -1, &st, NULL) == SQLITE_OK) {
        while (!found && sqlite3_step (st) == SQLITE_ROW) {
            const char *name = (const char *) sqlite3_column_text (st, 1);
            found = name && strcmp (name, column) == 0;
        }
        sqlite3_finalize (st);
    }
    return found;
}

//  Adds the task columns a state file written by an older broker lacks.
//  Returns 0 or MF_ERR_IO.
static int
s_upgrade (store_t *self)
{
    for (size_t i = 0; i < sizeof s_added_columns / sizeof s_added_columns [0]; i++) {
        char name [32], sql [128];
        snprintf (name, sizeof name, "%s", s_added_columns [i].column);
        *strchr (name, ' ') = 0;
        if (s_has_column (self, s_added_columns [i].table, name))
            continue;
        snprintf (sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s", s_added_columns [i].table,
                  s_added_columns [i].column);
        if (s_exec (self, sql))
            return MF_ERR_IO;
    }
    return 0;
}

store_t *
store_open (const char *path, char *err, size_t err_size)
{
    store_t *self = calloc (1, sizeof *self);
    if (!self || !(self->path = strdup (path))) {
        snprintf (err, err_size, "%s: out of memory", path);
        free (self);
        return NULL;
    }
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->cond, NULL);
    //  Created private before SQLite opens it: SQLite gives its -wal and
    //  -shm files the mode of the database file.
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close (fd);
    if (sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                         | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf (err, err_size, "%s: cannot open state file: %s", path,
                  self->db ? sqlite3_errmsg (self->db) : "out of memory");
        store_destroy (&self);
        return NULL;
    }
    sqlite3_busy_timeout (self->db, 5000);
    if (s_exec (self, "PRAGMA journal_mode=WAL")
    ||  s_exec (self, "PRAGMA synchronous=FULL")
    ||  s_exec (self, "PRAGMA foreign_keys=OFF")
    ||  s_exec (self, s_schema)
    ||  s_upgrade (self)) {
        snprintf (err, err_size, "%s: cannot set up the state file: %s", path,
                  sqlite3_errmsg (self->db));
        store_destroy (&self);
        return NULL;
    }
    //  Schema version: set on creation, checked afterwards.
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2 (self->db, "SELECT value FROM meta WHERE key='schema_version'",
                            -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step (st) == SQLITE_ROW)
            version = atoi ((const char *) sqlite3_column_text (st, 0));
        sqlite3_finalize (st);
    }
    if (version == 0) {
        char sql [128];
        snprintf (sql, sizeof sql, "INSERT OR REPLACE INTO meta VALUES "
                  "('schema_version', '%d')", STORE_SCHEMA_VERSION);
        s_exec (self, sql);
    }
    else
    if (version != STORE_SCHEMA_VERSION) {
        snprintf (err, err_size, "%s: state file has schema version %d, this broker "
                  "reads version %d; use a new state file", path, version,
                  STORE_SCHEMA_VERSION);
        store_destroy (&self);
        return NULL;
    }
    for (int i = 0; i < S_COUNT; i++)
        if (sqlite3_prepare_v2 (self->db, s_sql [i], -1, &self->stmt [i], NULL) != SQLITE_OK) {
            snprintf (err, err_size, "%s: %s: %s", path, s_sql [i], sqlite3_errmsg (self->db));
            store_destroy (&self);
            return NULL;
        }
    //  Ids are handed out here, so that deferred inserts need no round trip.
    self->next_job_id = s_max_id (self, "jobs") + 1;
    self->next_task_id = s_max_id (self, "tasks") + 1;
    return self;
}

//  Runs store_job_insert's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_job_insert (store_t *self, const store_job_t *job)
{
    sqlite3_stmt *st = s_stmt (self, S_JOB_INSERT);
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
    sqlite3_stmt *st = s_stmt (self, S_JOB_STATE);
    sqlite3_bind_int (st, 1, state);
    sqlite3_bind_int64 (st, 2, now_ms);
    sqlite3_bind_int64 (st, 3, (sqlite3_int64) job_id);
    return s_done (self, st, "update job");
}

//  Runs store_task_insert's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_task_insert (store_t *self, const store_task_t *task)
{
    sqlite3_stmt *st = s_stmt (self, S_TASK_INSERT);
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
        st = s_stmt (self, S_TASK_UPDATE);
        sqlite3_bind_int (st, 1, state);
        sqlite3_bind_int (st, 2, attempts);
        s_bind_text (st, 3, *last_error ? last_error : NULL);
        sqlite3_bind_int64 (st, 4, (sqlite3_int64) task_id);
    }
    else {
        st = s_stmt (self, S_TASK_UPDATE_KEEP);
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
    sqlite3_stmt *st = s_stmt (self, S_TASK_COUNTS);
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
    sqlite3_stmt *st = s_stmt (self, S_TASK_DONE);
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
    st = s_stmt (self, S_OUT_DELETE);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) task_id);
    if (s_done (self, st, "replace outputs"))
        return MF_ERR_IO;
    for (size_t i = 0; i < n_outputs; i++) {
        st = s_stmt (self, S_OUT_INSERT);
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
    sqlite3_stmt *st = s_stmt (self, S_ATT_BEGIN);
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
    sqlite3_stmt *st = s_stmt (self, S_ATT_END);
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
                      const void *analysis, size_t size)
{
    sqlite3_stmt *st = s_stmt (self, S_TRACK_PUT);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) job_id);
    sqlite3_bind_int (st, 2, album);
    sqlite3_bind_int (st, 3, track);
    sqlite3_bind_blob (st, 4, analysis, (int) size, SQLITE_TRANSIENT);
    return s_done (self, st, "store analysis");
}

//  Runs store_plan_put's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_plan_put (store_t *self, uint64_t job_id, int album, int profile,
                const char *plan_json)
{
    sqlite3_stmt *st = s_stmt (self, S_PLAN_PUT);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) job_id);
    sqlite3_bind_int (st, 2, album);
    sqlite3_bind_int (st, 3, profile);
    s_bind_text (st, 4, plan_json);
    return s_done (self, st, "store plan");
}

//  Runs store_album_set's write on the connection. Returns 0 or MF_ERR_IO.
static int
s_do_album_set (store_t *self, uint64_t job_id, int album, const char *slug, int state)
{
    sqlite3_stmt *st = s_stmt (self, S_ALBUM_PUT);
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
    sqlite3_stmt *st = s_stmt (self, S_WORKER_PUT);
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
s_do_control (store_t *self, const s_op_t *op)
{
    sqlite3_stmt *st = s_stmt (self, op->kind);
    if (op->kind == S_JOB_CONTROL) {
        sqlite3_bind_int (st, 1, op->i [0]);
        sqlite3_bind_int (st, 2, op->i [1]);
        sqlite3_bind_int64 (st, 3, (sqlite3_int64) op->id);
        return s_done (self, st, "store job control");
    }
    if (op->kind == S_JOB_TIMES) {
        sqlite3_bind_int64 (st, 1, op->job.started_ms);
        sqlite3_bind_int64 (st, 2, op->job.finished_ms);
        sqlite3_bind_int64 (st, 3, (sqlite3_int64) op->id);
        return s_done (self, st, "store job times");
    }
    s_bind_text (st, 1, op->s [0]);
    sqlite3_bind_int64 (st, 2, (sqlite3_int64) op->id);
    sqlite3_bind_int (st, 3, op->i [0]);
    return s_done (self, st, "store attempt stderr");
}

/*  Writing. In the default (deferred) mode each write is copied into an
    op; store_commit_async closes the ops written since the last commit
    into a batch and hands it to a writer thread, which runs every batch
    it finds in one transaction and commits it (one fsync for several
    event-loop iterations: group commit). The event loop never waits for
    the disk; what it has handed over is durable a few milliseconds later,
    and a crash before that loses only changes nobody was told about
    (tasks go back to the queue). Where an answer must wait for the disk
    (a job's id) the caller uses store_begin_sync and store_commit, which
    first let the writer finish and then write and commit directly.  */

//  Frees an op and what it owns.
static void
s_op_free (s_op_t *op)
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
s_ops_free (s_op_t *op)
{
    while (op) {
        s_op_t *next = op->next;
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
s_op_run (store_t *self, s_op_t *op)
{
    switch (op->kind) {
        case S_JOB_INSERT:  return s_do_job_insert (self, &op->job);
        case S_JOB_STATE:   return s_do_job_set_state (self, op->id, op->i [0], op->t);
        case S_TASK_INSERT: return s_do_task_insert (self, &op->task);
        case S_TASK_UPDATE: return s_do_task_update (self, op->id, op->i [0], op->i [1],
                                                     op->s [0]);
        case S_TASK_DONE:   return s_do_task_done (self, op->id, op->i [0], op->blob,
                                                   op->blob_size, op->outs, op->n_outs);
        case S_ATT_BEGIN:   return s_do_attempt_begin (self, op->id, op->i [0], op->s [0], op->t);
        case S_ATT_END:     return s_do_attempt_end (self, op->id, op->i [0], op->i [1] != 0,
                                                     op->s [0], op->t);
        case S_TRACK_PUT:   return s_do_track_analysis (self, op->id, op->i [0], op->i [1],
                                                        op->blob, op->blob_size);
        case S_PLAN_PUT:    return s_do_plan_put (self, op->id, op->i [0], op->i [1], op->s [0]);
        case S_ALBUM_PUT:   return s_do_album_set (self, op->id, op->i [0], op->s [0], op->i [1]);
        case S_TASK_COUNTS: return s_do_task_counts (self, op->id, op->i, op->t);
        case S_WORKER_PUT:  return s_do_worker_put (self, op->s [0], op->i [0], op->t,
                                                    op->i [1], op->i [2]);
        case S_JOB_CONTROL:
        case S_JOB_TIMES:
        case S_ATT_STDERR:  return s_do_control (self, op);
        default:            return MF_ERR_INTERNAL;
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
        s_op_t *ops = self->queue_head;
        s_op_t *tail = self->queue_tail;
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
        int rc = s_exec (self, "BEGIN IMMEDIATE");
        for (s_op_t *op = ops; !rc && op; op = op->next)
            rc = s_op_run (self, op);
        if (!rc)
            rc = s_exec (self, "COMMIT");
        if (rc)
            s_exec (self, "ROLLBACK");
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
s_op_add (store_t *self, s_op_t *op, bool ok)
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
static s_op_t *
s_op_new (int kind)
{
    s_op_t *op = calloc (1, sizeof *op);
    if (op)
        op->kind = kind;
    return op;
}

void
store_destroy (store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
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
        s_exec (self, "ROLLBACK");
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize (self->stmt [i]);
    sqlite3_close (self->db);
    pthread_mutex_destroy (&self->mutex);
    pthread_cond_destroy (&self->cond);
    free (self->path);
    free (self);
    *self_p = NULL;
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
    if (s_exec (self, "BEGIN IMMEDIATE"))
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
        if (s_exec (self, "COMMIT")) {
            s_exec (self, "ROLLBACK");
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
store_recover (store_t *self, int64_t now_ms)
{
    char sql [256];
    snprintf (sql, sizeof sql, "UPDATE attempts SET ended_ms = %lld, ok = 0, "
              "error = '" S_RESTARTED "' WHERE ended_ms IS NULL", (long long) now_ms);
    if (store_begin_sync (self) || s_exec (self, sql)
    ||  s_exec (self, "UPDATE tasks SET state = 1 WHERE state IN (2, 3)"))
        return MF_ERR_IO;
    int n = sqlite3_changes (self->db);
    if (store_commit (self))
        return MF_ERR_IO;
    return n;
}

int
store_job_insert (store_t *self, store_job_t *job)
{
    job->id = self->next_job_id++;
    s_op_t *op = s_op_new (S_JOB_INSERT);
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
    s_op_t *op = s_op_new (S_JOB_STATE);
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
    s_op_t *op = s_op_new (S_TASK_INSERT);
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
    s_op_t *op = s_op_new (S_TASK_UPDATE);
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
    s_op_t *op = s_op_new (S_TASK_COUNTS);
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
    s_op_t *op = s_op_new (S_TASK_DONE);
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
    s_op_t *op = s_op_new (S_ATT_BEGIN);
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
    s_op_t *op = s_op_new (S_ATT_END);
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
                      const void *analysis, size_t size)
{
    s_op_t *op = s_op_new (S_TRACK_PUT);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->id = job_id;
    op->i [0] = album;
    op->i [1] = track;
    op->blob = malloc (size ? size : 1);
    if (op->blob)
        memcpy (op->blob, analysis, size);
    else
        ok = false;
    op->blob_size = size;
    return s_op_add (self, op, ok);
}

int
store_plan_put (store_t *self, uint64_t job_id, int album, int profile,
                const char *plan_json)
{
    s_op_t *op = s_op_new (S_PLAN_PUT);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->id = job_id;
    op->i [0] = album;
    op->i [1] = profile;
    op->s [0] = s_dup (plan_json, &ok);
    return s_op_add (self, op, ok);
}

int
store_album_set (store_t *self, uint64_t job_id, int album, const char *slug, int state)
{
    s_op_t *op = s_op_new (S_ALBUM_PUT);
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
    s_op_t *op = s_op_new (S_WORKER_PUT);
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

//  Prepares a query for loading. Returns NULL (logged) on failure.
static sqlite3_stmt *
s_query (store_t *self, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (self->db, sql, -1, &st, NULL) != SQLITE_OK) {
        s_fail (self, sql);
        return NULL;
    }
    return st;
}

//  Finishes a load loop: rc from the callback, or MF_ERR_IO if the step failed.
static int
s_load_end (store_t *self, sqlite3_stmt *st, int step_rc, int cb_rc, const char *what)
{
    sqlite3_finalize (st);
    if (cb_rc)
        return cb_rc;
    if (step_rc != SQLITE_DONE)
        return s_fail (self, what);
    return 0;
}

int
store_jobs_load (store_t *self, store_job_fn *fn, void *arg)
{
    if (store_sync (self))
        return MF_ERR_IO;
    sqlite3_stmt *st = s_query (self, "SELECT id, name, priority, deadline_ms, deliver_at_ms,"
                                " submitted_ms, state, format, spec, origin, paused, started_ms,"
                                " finished_ms FROM jobs ORDER BY id");
    if (!st)
        return MF_ERR_IO;
    int rc, cb = 0;
    while (cb == 0 && (rc = sqlite3_step (st)) == SQLITE_ROW) {
        store_job_t j = {
            .id = (uint64_t) sqlite3_column_int64 (st, 0),
            .name = (const char *) sqlite3_column_text (st, 1),
            .priority = sqlite3_column_int (st, 2),
            .deadline_ms = sqlite3_column_int64 (st, 3),
            .deliver_at_ms = sqlite3_column_int64 (st, 4),
            .submitted_ms = sqlite3_column_int64 (st, 5),
            .state = sqlite3_column_int (st, 6),
            .format = (const char *) sqlite3_column_text (st, 7),
            .spec = (const char *) sqlite3_column_text (st, 8),
            .origin = (const char *) sqlite3_column_text (st, 9),
            .paused = sqlite3_column_int (st, 10) != 0,
            .started_ms = sqlite3_column_int64 (st, 11),
            .finished_ms = sqlite3_column_int64 (st, 12),
        };
        cb = fn (arg, &j);
    }
    return s_load_end (self, st, cb ? SQLITE_DONE : rc, cb, "load jobs");
}

int
store_tasks_load (store_t *self, store_task_fn *fn, void *arg)
{
    if (store_sync (self))
        return MF_ERR_IO;
    sqlite3_stmt *st = s_query (self, "SELECT id, job_id, kind, album, track, profile, state,"
                                " attempts, last_error, result, strikes, lost, resource,"
                                " retry_at_ms FROM tasks ORDER BY id");
    if (!st)
        return MF_ERR_IO;
    int rc, cb = 0;
    while (cb == 0 && (rc = sqlite3_step (st)) == SQLITE_ROW) {
        store_task_t t = {
            .id = (uint64_t) sqlite3_column_int64 (st, 0),
            .job_id = (uint64_t) sqlite3_column_int64 (st, 1),
            .kind = sqlite3_column_int (st, 2),
            .album = sqlite3_column_int (st, 3),
            .track = sqlite3_column_int (st, 4),
            .profile = sqlite3_column_int (st, 5),
            .state = sqlite3_column_int (st, 6),
            .attempts = sqlite3_column_int (st, 7),
            .last_error = (const char *) sqlite3_column_text (st, 8),
            .result = sqlite3_column_blob (st, 9),
            .result_size = (size_t) sqlite3_column_bytes (st, 9),
            .strikes = sqlite3_column_int (st, 10),
            .lost = sqlite3_column_int (st, 11),
            .resource = sqlite3_column_int (st, 12),
            .retry_at_ms = sqlite3_column_int64 (st, 13),
        };
        cb = fn (arg, &t);
    }
    return s_load_end (self, st, cb ? SQLITE_DONE : rc, cb, "load tasks");
}

int
store_tracks_load (store_t *self, store_track_fn *fn, void *arg)
{
    if (store_sync (self))
        return MF_ERR_IO;
    sqlite3_stmt *st = s_query (self, "SELECT job_id, album, idx, analysis FROM tracks"
                                " ORDER BY job_id, album, idx");
    if (!st)
        return MF_ERR_IO;
    int rc, cb = 0;
    while (cb == 0 && (rc = sqlite3_step (st)) == SQLITE_ROW)
        cb = fn (arg, (uint64_t) sqlite3_column_int64 (st, 0), sqlite3_column_int (st, 1),
                 sqlite3_column_int (st, 2), sqlite3_column_blob (st, 3),
                 (size_t) sqlite3_column_bytes (st, 3));
    return s_load_end (self, st, cb ? SQLITE_DONE : rc, cb, "load tracks");
}

int
store_albums_load (store_t *self, store_album_fn *fn, void *arg)
{
    if (store_sync (self))
        return MF_ERR_IO;
    sqlite3_stmt *st = s_query (self, "SELECT job_id, idx, state FROM albums"
                                " ORDER BY job_id, idx");
    if (!st)
        return MF_ERR_IO;
    int rc, cb = 0;
    while (cb == 0 && (rc = sqlite3_step (st)) == SQLITE_ROW)
        cb = fn (arg, (uint64_t) sqlite3_column_int64 (st, 0), sqlite3_column_int (st, 1),
                 sqlite3_column_int (st, 2));
    return s_load_end (self, st, cb ? SQLITE_DONE : rc, cb, "load albums");
}

int
store_job_control (store_t *self, uint64_t job_id, int priority, bool paused)
{
    s_op_t *op = s_op_new (S_JOB_CONTROL);
    if (!op)
        return MF_ERR_NOMEM;
    op->id = job_id;
    op->i [0] = priority;
    op->i [1] = paused;
    return s_op_add (self, op, true);
}

int
store_job_times (store_t *self, uint64_t job_id, int64_t started_ms, int64_t finished_ms)
{
    s_op_t *op = s_op_new (S_JOB_TIMES);
    if (!op)
        return MF_ERR_NOMEM;
    op->id = job_id;
    op->job.started_ms = started_ms;
    op->job.finished_ms = finished_ms;
    return s_op_add (self, op, true);
}

int
store_attempt_stderr (store_t *self, uint64_t task_id, int attempt, const char *tail)
{
    s_op_t *op = s_op_new (S_ATT_STDERR);
    if (!op)
        return MF_ERR_NOMEM;
    bool ok = true;
    op->id = task_id;
    op->i [0] = attempt;
    op->s [0] = s_dup (tail, &ok);
    return s_op_add (self, op, ok);
}

int
store_attempts_load (store_t *self, uint64_t job_id, int album, int track,
                     store_attempt_fn *fn, void *arg)
{
    if (store_sync (self))
        return MF_ERR_IO;
    sqlite3_stmt *st = s_query (self, "SELECT a.task_id, t.kind, t.album, t.track, t.profile,"
                                " a.attempt, a.worker, a.started_ms, a.ended_ms, a.ok, a.error,"
                                " a.stderr FROM attempts a JOIN tasks t ON t.id = a.task_id"
                                " WHERE t.job_id = ?1 AND (?2 < 0 OR t.album = ?2)"
                                " AND (?3 < 0 OR t.track = ?3)"
                                " ORDER BY t.album, t.track, t.kind, t.profile, a.task_id,"
                                " a.attempt");
    if (!st)
        return MF_ERR_IO;
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) job_id);
    sqlite3_bind_int (st, 2, album);
    sqlite3_bind_int (st, 3, track);
    int rc, cb = 0;
    while (cb == 0 && (rc = sqlite3_step (st)) == SQLITE_ROW) {
        store_attempt_t a = {
            .task_id = (uint64_t) sqlite3_column_int64 (st, 0),
            .kind = sqlite3_column_int (st, 1),
            .album = sqlite3_column_int (st, 2),
            .track = sqlite3_column_int (st, 3),
            .profile = sqlite3_column_int (st, 4),
            .attempt = sqlite3_column_int (st, 5),
            .worker = (const char *) sqlite3_column_text (st, 6),
            .started_ms = sqlite3_column_int64 (st, 7),
            .ended_ms = sqlite3_column_int64 (st, 8),
            .ok = sqlite3_column_int (st, 9) != 0,
            .error = (const char *) sqlite3_column_text (st, 10),
            .stderr_tail = (const char *) sqlite3_column_text (st, 11),
        };
        cb = fn (arg, &a);
    }
    return s_load_end (self, st, cb ? SQLITE_DONE : rc, cb, "load attempts");
}

int
store_outputs_count (store_t *self, uint64_t task_id)
{
    if (store_sync (self))
        return MF_ERR_IO;
    char sql [96];
    snprintf (sql, sizeof sql, "SELECT COUNT(*) FROM outputs WHERE task_id = %llu",
              (unsigned long long) task_id);
    sqlite3_stmt *st = s_query (self, sql);
    if (!st)
        return MF_ERR_IO;
    int n = sqlite3_step (st) == SQLITE_ROW ? sqlite3_column_int (st, 0) : MF_ERR_IO;
    sqlite3_finalize (st);
    return n;
}
