/*  The broker's SQLite store (see store.h): this file owns opening and
    closing the state file, the lock file that keeps a second broker off
    it, the schema and its upgrade, recovery at start (store_recover) and
    the load queries store_jobs_load .. store_outputs_count. The writes,
    deferred to a writer thread, are in store_write.c; store_t and the
    helpers both files use are in store_private.h.  */
#include "broker/store.h"
#include "broker/store_private.h"

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

#include "common/err.h"
#include "common/log.h"

#define S_RESTARTED "broker restarted"     //  error of an attempt a restart cut short

//  Columns added after the first release (the schema version did not
//  change: an older state file gets them, zero or NULL, when opened).
static const struct { const char *table, *column; } s_added_columns [] = {
    { "tasks", "strikes INT DEFAULT 0" }, { "tasks", "lost INT DEFAULT 0" },
    { "tasks", "resource INT DEFAULT 0" }, { "tasks", "retry_at_ms INT DEFAULT 0" },
    { "jobs", "paused INT DEFAULT 0" }, { "jobs", "started_ms INT DEFAULT 0" },
    { "jobs", "finished_ms INT DEFAULT 0" }, { "attempts", "stderr TEXT" },
    { "tracks", "input TEXT" }, { "jobs", "idle_ms INT DEFAULT 0" },
    { "plans", "shift TEXT" },
};

static const char *s_schema =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT,"
    "  priority INT, deadline_ms INT, deliver_at_ms INT, submitted_ms INT, state INT,"
    "  format TEXT, spec TEXT, origin TEXT, updated_ms INT, paused INT DEFAULT 0,"
    "  started_ms INT DEFAULT 0, finished_ms INT DEFAULT 0, idle_ms INT DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS albums (job_id INT, idx INT, slug TEXT, state INT,"
    "  PRIMARY KEY (job_id, idx));"
    "CREATE TABLE IF NOT EXISTS tracks (job_id INT, album INT, idx INT, analysis BLOB,"
    "  input TEXT, PRIMARY KEY (job_id, album, idx));"
    "CREATE TABLE IF NOT EXISTS plans (job_id INT, album INT, profile INT, plan TEXT,"
    "  shift TEXT, PRIMARY KEY (job_id, album, profile));"
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

//  Logs the last SQLite error with what was being done. Returns MF_ERR_IO.
int
store_fail (store_t *self, const char *what)
{
    log_error ("state %s: %s: %s", self->path, what, sqlite3_errmsg (self->db));
    return MF_ERR_IO;
}

//  Runs SQL without results. Returns 0 or MF_ERR_IO.
int
store_exec (store_t *self, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec (self->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error ("state %s: %s: %s", self->path, sql, msg ? msg : "?");
        sqlite3_free (msg);
        return MF_ERR_IO;
    }
    return 0;
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
        if (store_exec (self, sql))
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
    if (store_exec (self, "PRAGMA journal_mode=WAL")
    ||  store_exec (self, "PRAGMA synchronous=FULL")
    ||  store_exec (self, "PRAGMA foreign_keys=OFF")
    ||  store_exec (self, s_schema)
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
        store_exec (self, sql);
    }
    else
    if (version != STORE_SCHEMA_VERSION) {
        snprintf (err, err_size, "%s: state file has schema version %d, this broker "
                  "reads version %d; use a new state file", path, version,
                  STORE_SCHEMA_VERSION);
        store_destroy (&self);
        return NULL;
    }
    if (store_write_prepare (self, err, err_size)) {
        store_destroy (&self);
        return NULL;
    }
    //  Ids are handed out here, so that deferred inserts need no round trip.
    self->next_job_id = s_max_id (self, "jobs") + 1;
    self->next_task_id = s_max_id (self, "tasks") + 1;
    return self;
}

void
store_destroy (store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
    store_write_close (self);
    sqlite3_close (self->db);
    pthread_mutex_destroy (&self->mutex);
    pthread_cond_destroy (&self->cond);
    free (self->path);
    free (self);
    *self_p = NULL;
}

int
store_recover (store_t *self, int64_t now_ms)
{
    char sql [256];
    snprintf (sql, sizeof sql, "UPDATE attempts SET ended_ms = %lld, ok = 0, "
              "error = '" S_RESTARTED "' WHERE ended_ms IS NULL", (long long) now_ms);
    if (store_begin_sync (self) || store_exec (self, sql)
    ||  store_exec (self, "UPDATE tasks SET state = 1 WHERE state IN (2, 3)"))
        return MF_ERR_IO;
    int n = sqlite3_changes (self->db);
    if (store_commit (self))
        return MF_ERR_IO;
    return n;
}

//  Prepares a query for loading. Returns NULL (logged) on failure.
static sqlite3_stmt *
s_query (store_t *self, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (self->db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_fail (self, sql);
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
        return store_fail (self, what);
    return 0;
}

int
store_jobs_load (store_t *self, store_job_fn *fn, void *arg)
{
    if (store_sync (self))
        return MF_ERR_IO;
    sqlite3_stmt *st = s_query (self, "SELECT id, name, priority, deadline_ms, deliver_at_ms,"
                                " submitted_ms, state, format, spec, origin, paused, started_ms,"
                                " finished_ms, idle_ms FROM jobs ORDER BY id");
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
            .idle_ms = sqlite3_column_int64 (st, 13),
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
    sqlite3_stmt *st = s_query (self, "SELECT job_id, album, idx, analysis, input FROM tracks"
                                " ORDER BY job_id, album, idx");
    if (!st)
        return MF_ERR_IO;
    int rc, cb = 0;
    while (cb == 0 && (rc = sqlite3_step (st)) == SQLITE_ROW)
        cb = fn (arg, (uint64_t) sqlite3_column_int64 (st, 0), sqlite3_column_int (st, 1),
                 sqlite3_column_int (st, 2), sqlite3_column_blob (st, 3),
                 (size_t) sqlite3_column_bytes (st, 3),
                 (const char *) sqlite3_column_text (st, 4));
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
store_shifts_load (store_t *self, store_shift_fn *fn, void *arg)
{
    if (store_sync (self))
        return MF_ERR_IO;
    sqlite3_stmt *st = s_query (self, "SELECT job_id, album, profile, shift FROM plans"
                                " WHERE shift IS NOT NULL ORDER BY job_id, album, profile");
    if (!st)
        return MF_ERR_IO;
    int rc, cb = 0;
    while (cb == 0 && (rc = sqlite3_step (st)) == SQLITE_ROW)
        cb = fn (arg, (uint64_t) sqlite3_column_int64 (st, 0), sqlite3_column_int (st, 1),
                 sqlite3_column_int (st, 2), (const char *) sqlite3_column_text (st, 3));
    return s_load_end (self, st, cb ? SQLITE_DONE : rc, cb, "load album corrections");
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
