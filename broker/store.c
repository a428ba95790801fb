/*  The broker's SQLite store (see store.h). Statements are prepared once
    and reused; the event loop wraps each iteration's writes in one
    transaction, which is what makes tens of thousands of task updates per
    second possible with synchronous=FULL.  */
#include "broker/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

enum {
    S_JOB_INSERT, S_JOB_STATE, S_TASK_INSERT, S_TASK_UPDATE, S_TASK_UPDATE_KEEP,
    S_TASK_DONE, S_OUT_DELETE, S_OUT_INSERT, S_ATT_BEGIN, S_ATT_END, S_TRACK_PUT,
    S_PLAN_PUT, S_ALBUM_PUT, S_WORKER_PUT, S_COUNT
};

static const char *s_sql [S_COUNT] = {
    [S_JOB_INSERT] = "INSERT INTO jobs (name, priority, deadline_ms, deliver_at_ms, "
                     "submitted_ms, state, format, spec, origin) VALUES (?,?,?,?,?,?,?,?,?)",
    [S_JOB_STATE]  = "UPDATE jobs SET state = ?, updated_ms = ? WHERE id = ?",
    [S_TASK_INSERT] = "INSERT INTO tasks (job_id, kind, album, track, profile, state, "
                      "attempts, last_error) VALUES (?,?,?,?,?,?,?,?)",
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
};

static const char *s_schema =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT,"
    "  priority INT, deadline_ms INT, deliver_at_ms INT, submitted_ms INT, state INT,"
    "  format TEXT, spec TEXT, origin TEXT, updated_ms INT);"
    "CREATE TABLE IF NOT EXISTS albums (job_id INT, idx INT, slug TEXT, state INT,"
    "  PRIMARY KEY (job_id, idx));"
    "CREATE TABLE IF NOT EXISTS tracks (job_id INT, album INT, idx INT, analysis BLOB,"
    "  PRIMARY KEY (job_id, album, idx));"
    "CREATE TABLE IF NOT EXISTS plans (job_id INT, album INT, profile INT, plan TEXT,"
    "  PRIMARY KEY (job_id, album, profile));"
    "CREATE TABLE IF NOT EXISTS tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, job_id INT,"
    "  kind INT, album INT, track INT, profile INT, state INT, attempts INT,"
    "  last_error TEXT, result BLOB);"
    "CREATE INDEX IF NOT EXISTS tasks_job ON tasks (job_id);"
    "CREATE TABLE IF NOT EXISTS attempts (task_id INT, attempt INT, worker TEXT,"
    "  started_ms INT, ended_ms INT, ok INT, error TEXT, PRIMARY KEY (task_id, attempt));"
    "CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, slots INT, last_seen_ms INT,"
    "  tasks_done INT, tasks_failed INT);"
    "CREATE TABLE IF NOT EXISTS outputs (task_id INT, path TEXT, bytes INT, sha256 TEXT,"
    "  PRIMARY KEY (task_id, path));";

struct _store_t {
    sqlite3      *db;
    sqlite3_stmt *stmt [S_COUNT];
    bool          in_tx;
    char         *path;
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

store_t *
store_open (const char *path, char *err, size_t err_size)
{
    store_t *self = calloc (1, sizeof *self);
    if (!self || !(self->path = strdup (path))) {
        snprintf (err, err_size, "%s: out of memory", path);
        free (self);
        return NULL;
    }
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
    ||  s_exec (self, s_schema)) {
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
    return self;
}

void
store_destroy (store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
    if (self->in_tx)
        s_exec (self, "ROLLBACK");
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize (self->stmt [i]);
    sqlite3_close (self->db);
    free (self->path);
    free (self);
    *self_p = NULL;
}

int
store_begin (store_t *self)
{
    if (self->in_tx)
        return 0;
    if (s_exec (self, "BEGIN IMMEDIATE"))
        return MF_ERR_IO;
    self->in_tx = true;
    return 0;
}

int
store_commit (store_t *self)
{
    if (!self->in_tx)
        return 0;
    self->in_tx = false;
    if (s_exec (self, "COMMIT")) {
        s_exec (self, "ROLLBACK");
        return MF_ERR_IO;
    }
    return 0;
}

int
store_recover (store_t *self, int64_t now_ms)
{
    char sql [256];
    snprintf (sql, sizeof sql, "UPDATE attempts SET ended_ms = %lld, ok = 0, "
              "error = 'broker restarted' WHERE ended_ms IS NULL", (long long) now_ms);
    if (store_begin (self) || s_exec (self, sql)
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
    if (s_done (self, st, "insert job"))
        return MF_ERR_IO;
    job->id = (uint64_t) sqlite3_last_insert_rowid (self->db);
    return 0;
}

int
store_job_set_state (store_t *self, uint64_t job_id, int state, int64_t now_ms)
{
    sqlite3_stmt *st = s_stmt (self, S_JOB_STATE);
    sqlite3_bind_int (st, 1, state);
    sqlite3_bind_int64 (st, 2, now_ms);
    sqlite3_bind_int64 (st, 3, (sqlite3_int64) job_id);
    return s_done (self, st, "update job");
}

int
store_task_insert (store_t *self, store_task_t *task)
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
    if (s_done (self, st, "insert task"))
        return MF_ERR_IO;
    task->id = (uint64_t) sqlite3_last_insert_rowid (self->db);
    return 0;
}

int
store_task_update (store_t *self, uint64_t task_id, int state, int attempts,
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

int
store_task_done (store_t *self, uint64_t task_id, int attempts,
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

int
store_attempt_begin (store_t *self, uint64_t task_id, int attempt, const char *worker,
                     int64_t now_ms)
{
    sqlite3_stmt *st = s_stmt (self, S_ATT_BEGIN);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) task_id);
    sqlite3_bind_int (st, 2, attempt);
    s_bind_text (st, 3, worker);
    sqlite3_bind_int64 (st, 4, now_ms);
    return s_done (self, st, "attempt begin");
}

int
store_attempt_end (store_t *self, uint64_t task_id, int attempt, bool ok,
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

int
store_track_analysis (store_t *self, uint64_t job_id, int album, int track,
                      const void *analysis, size_t size)
{
    sqlite3_stmt *st = s_stmt (self, S_TRACK_PUT);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) job_id);
    sqlite3_bind_int (st, 2, album);
    sqlite3_bind_int (st, 3, track);
    sqlite3_bind_blob (st, 4, analysis, (int) size, SQLITE_TRANSIENT);
    return s_done (self, st, "store analysis");
}

int
store_plan_put (store_t *self, uint64_t job_id, int album, int profile,
                const char *plan_json)
{
    sqlite3_stmt *st = s_stmt (self, S_PLAN_PUT);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) job_id);
    sqlite3_bind_int (st, 2, album);
    sqlite3_bind_int (st, 3, profile);
    s_bind_text (st, 4, plan_json);
    return s_done (self, st, "store plan");
}

int
store_album_set (store_t *self, uint64_t job_id, int album, const char *slug, int state)
{
    sqlite3_stmt *st = s_stmt (self, S_ALBUM_PUT);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64) job_id);
    sqlite3_bind_int (st, 2, album);
    s_bind_text (st, 3, slug);
    sqlite3_bind_int (st, 4, state);
    return s_done (self, st, "store album");
}

int
store_worker_put (store_t *self, const char *id, int slots, int64_t last_seen_ms,
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
    sqlite3_stmt *st = s_query (self, "SELECT id, name, priority, deadline_ms, deliver_at_ms,"
                                " submitted_ms, state, format, spec, origin FROM jobs ORDER BY id");
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
        };
        cb = fn (arg, &j);
    }
    return s_load_end (self, st, cb ? SQLITE_DONE : rc, cb, "load jobs");
}

int
store_tasks_load (store_t *self, store_task_fn *fn, void *arg)
{
    sqlite3_stmt *st = s_query (self, "SELECT id, job_id, kind, album, track, profile, state,"
                                " attempts, last_error, result FROM tasks ORDER BY id");
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
        };
        cb = fn (arg, &t);
    }
    return s_load_end (self, st, cb ? SQLITE_DONE : rc, cb, "load tasks");
}

int
store_tracks_load (store_t *self, store_track_fn *fn, void *arg)
{
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
store_outputs_count (store_t *self, uint64_t task_id)
{
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
