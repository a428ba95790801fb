/*  Tests of the broker's SQLite store: committed transitions survive a
    process that dies without closing (a forked child calling _exit),
    uncommitted ones vanish, recovery puts dispatched tasks back in the
    queue, a result and its outputs are committed once, and a state file
    of another schema version is refused with a clear message. How a
    task's attempts ended is kept apart from the attempts a restart cut
    short (those count as nothing), and survives a reopen; a state file of
    an older broker gets the new columns; the file is created 0600.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "broker/store.h"

static char s_path [512];

//  A fresh state file name under MF_TEST_TMP (or /tmp).
static int
s_setup (void **state)
{
    const char *dir = getenv ("MF_TEST_TMP");
    snprintf (s_path, sizeof s_path, "%s/test_store_%d.db", dir ? dir : "/tmp",
              (int) getpid ());
    unlink (s_path);
    char side [600];
    snprintf (side, sizeof side, "%s-wal", s_path);
    unlink (side);
    snprintf (side, sizeof side, "%s-shm", s_path);
    unlink (side);
    return 0;
}

//  Removes the state file.
static int
s_teardown (void **state)
{
    return s_setup (state);
}

typedef struct {
    int n;
    int state [16];
    int attempts [16];
    int strikes [16];
    int lost [16];
    int resource [16];
    int64_t retry_at [16];
    uint64_t id [16];
} s_tasks_t;

//  Collects loaded tasks.
static int
s_collect (void *arg, const store_task_t *t)
{
    s_tasks_t *c = arg;
    if (c->n < 16) {
        c->id [c->n] = t->id;
        c->state [c->n] = t->state;
        c->attempts [c->n] = t->attempts;
        c->strikes [c->n] = t->strikes;
        c->lost [c->n] = t->lost;
        c->resource [c->n] = t->resource;
        c->retry_at [c->n] = t->retry_at_ms;
    }
    c->n++;
    return 0;
}

//  Counts loaded jobs.
static int
s_count_job (void *arg, const store_job_t *j)
{
    (*(int *) arg)++;
    assert_string_equal (j->format, "noop");
    return 0;
}

//  A child commits a job and 3 tasks, dispatches one, then starts another
//  transaction and dies without committing or closing.
static void
test_crash_resume (void **state)
{
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        char err [256];
        store_t *st = store_open (s_path, err, sizeof err);
        if (!st)
            _exit (3);
        store_job_t job = { .name = "j", .priority = 5, .format = "noop",
                            .spec = "{\"tasks\":3}", .state = 1 };
        store_begin (st);
        if (store_job_insert (st, &job) || job.id == 0)
            _exit (4);
        for (int i = 0; i < 3; i++) {
            store_task_t t = { .job_id = job.id, .kind = 4, .album = -1, .track = -1,
                               .profile = -1, .state = 1 };
            if (store_task_insert (st, &t))
                _exit (5);
        }
        if (store_commit (st))
            _exit (6);
        //  Dispatch task 1 (committed), finish task 2 (not committed).
        store_begin (st);
        store_task_update (st, 1, 2, 1, NULL);
        store_attempt_begin (st, 1, 1, "w1", 1000);
        store_commit (st);
        store_begin (st);
        store_task_done (st, 2, 1, NULL, 0, NULL, 0);
        _exit (0);                       //  crash: no commit, no close
    }
    int status;
    waitpid (pid, &status, 0);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);

    char err [256];
    store_t *st = store_open (s_path, err, sizeof err);
    assert_non_null (st);
    int jobs = 0;
    assert_int_equal (store_jobs_load (st, s_count_job, &jobs), 0);
    assert_int_equal (jobs, 1);
    s_tasks_t c = { 0 };
    store_tasks_load (st, s_collect, &c);
    assert_int_equal (c.n, 3);
    assert_int_equal (c.state [0], 2);   //  dispatched, committed
    assert_int_equal (c.state [1], 1);   //  the uncommitted "done" is gone
    //  Recovery: the dispatched task goes back to the queue, once.
    assert_int_equal (store_recover (st, 2000), 1);
    memset (&c, 0, sizeof c);
    store_tasks_load (st, s_collect, &c);
    assert_int_equal (c.state [0], 1);
    assert_int_equal (c.attempts [0], 1);   //  the attempt is remembered,
    assert_int_equal (c.strikes [0], 0);    //  but is no strike: the restart
    assert_int_equal (c.lost [0], 0);       //  cut it short
    assert_int_equal (c.resource [0], 0);
    assert_int_equal (store_recover (st, 2000), 0);
    store_destroy (&st);
    assert_null (st);
    store_destroy (&st);
}

//  A result commits with its outputs; repeating the commit (a re-run
//  after a crash) replaces rather than duplicates the output records.
static void
test_result_outputs (void **state)
{
    char err [256];
    store_t *st = store_open (s_path, err, sizeof err);
    assert_non_null (st);
    store_job_t job = { .name = "j", .format = "noop", .spec = "{}" };
    store_task_t t = { .kind = 4, .state = 1 };
    store_begin (st);
    store_job_insert (st, &job);
    t.job_id = job.id;
    store_task_insert (st, &t);
    store_commit (st);
    store_output_t outs [2] = { { "a/x.wav", 10, "00ff" }, { "a/y.wav", 20, NULL } };
    for (int round = 0; round < 2; round++) {
        store_begin (st);
        assert_int_equal (store_task_done (st, t.id, 1, "res", 3, outs, 2), 0);
        assert_int_equal (store_commit (st), 0);
        assert_int_equal (store_outputs_count (st, t.id), 2);
    }
    //  A rolled-back transaction leaves nothing behind.
    store_begin (st);
    store_task_update (st, t.id, 5, 3, "boom");
    store_destroy (&st);                 //  rolls back
    st = store_open (s_path, err, sizeof err);
    s_tasks_t c = { 0 };
    store_tasks_load (st, s_collect, &c);
    assert_int_equal (c.n, 1);
    assert_int_equal (c.state [0], 4);
    store_destroy (&st);
}

//  WAL and synchronous=FULL are in force; a foreign schema version is refused.
static void
test_pragmas_and_version (void **state)
{
    char err [256];
    store_t *st = store_open (s_path, err, sizeof err);
    assert_non_null (st);
    store_destroy (&st);
    sqlite3 *db;
    assert_int_equal (sqlite3_open (s_path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &q, NULL);
    assert_int_equal (sqlite3_step (q), SQLITE_ROW);
    assert_string_equal ((const char *) sqlite3_column_text (q, 0), "wal");
    sqlite3_finalize (q);
    sqlite3_exec (db, "UPDATE meta SET value='99' WHERE key='schema_version'", NULL, NULL, NULL);
    sqlite3_close (db);
    err [0] = 0;
    st = store_open (s_path, err, sizeof err);
    assert_null (st);
    assert_non_null (strstr (err, "schema version 99"));
    //  A state file that cannot be created names the file.
    st = store_open ("/nonexistent-dir/x/state.db", err, sizeof err);
    assert_null (st);
    assert_non_null (strstr (err, "/nonexistent-dir/x/state.db"));
}

//  Deferred writes: handed over by store_commit_async, durable after
//  store_sync; ids are handed out at once and continue after a reopen;
//  store_begin_sync writes directly after the writer has finished.
static void
test_deferred (void **state)
{
    char err [256];
    store_t *st = store_open (s_path, err, sizeof err);
    assert_non_null (st);
    store_job_t job = { .name = "j", .format = "noop", .spec = "{}" };
    store_begin (st);
    assert_int_equal (store_job_insert (st, &job), 0);
    assert_int_equal (job.id, 1);
    uint64_t last = 0;
    for (int round = 0; round < 50; round++) {
        store_begin (st);
        for (int i = 0; i < 20; i++) {
            store_task_t t = { .job_id = job.id, .kind = 4, .state = 1 };
            assert_int_equal (store_task_insert (st, &t), 0);
            assert_true (t.id == last + 1);     //  ascending, no gaps
            last = t.id;
        }
        assert_int_equal (store_commit_async (st), 0);
    }
    assert_int_equal (store_sync (st), 0);
    s_tasks_t c = { 0 };
    store_tasks_load (st, s_collect, &c);
    assert_int_equal (c.n, 1000);
    //  Direct mode after deferred writes.
    assert_int_equal (store_begin_sync (st), 0);
    store_task_update (st, 5, 4, 1, "");
    assert_int_equal (store_commit (st), 0);
    store_destroy (&st);
    st = store_open (s_path, err, sizeof err);
    store_task_t t = { .job_id = job.id, .kind = 4, .state = 1 };
    store_begin (st);
    store_task_insert (st, &t);
    assert_int_equal (t.id, 1001);               //  ids continue after a reopen
    assert_int_equal (store_commit (st), 0);
    memset (&c, 0, sizeof c);
    store_tasks_load (st, s_collect, &c);
    assert_int_equal (c.n, 1001);
    assert_int_equal (c.state [4], 4);
    store_destroy (&st);
}

//  A task dispatched 4 times with a broker restart after each, then
//  failing twice on its own: after recovery and reloading, the counts
//  the broker sees are 2 strikes, nothing lost, 6 attempts, so it stays
//  queued (not "failed after 4 attempts, 2 of them broker restarted").
//  A resource failure's retry time survives too. The state file is 0600.
static void
test_restart_counts (void **state)
{
    char err [256];
    store_t *st = store_open (s_path, err, sizeof err);
    assert_non_null (st);
    struct stat sb;
    assert_int_equal (stat (s_path, &sb), 0);
    assert_int_equal (sb.st_mode & 0777, 0600);
    store_job_t job = { .name = "j", .priority = 5, .format = "noop",
                        .spec = "{\"tasks\":1}", .state = 1 };
    store_task_t t = { .kind = 4, .album = -1, .track = -1, .profile = -1, .state = 1 };
    store_begin (st);
    assert_int_equal (store_job_insert (st, &job), 0);
    t.job_id = job.id;
    assert_int_equal (store_task_insert (st, &t), 0);
    assert_int_equal (store_commit (st), 0);
    int64_t now = 1000;
    for (int attempt = 1; attempt <= 4; attempt++) {
        store_begin (st);
        store_task_update (st, t.id, 2, attempt, NULL);
        store_attempt_begin (st, t.id, attempt, "w", now++);
        assert_int_equal (store_commit (st), 0);
        store_destroy (&st);                     //  the broker stops
        st = store_open (s_path, err, sizeof err);
        assert_non_null (st);
        assert_int_equal (store_recover (st, now++), 1);
    }
    for (int attempt = 5; attempt <= 6; attempt++) {
        store_begin (st);
        store_attempt_begin (st, t.id, attempt, "w", now++);
        store_attempt_end (st, t.id, attempt, false, "boom", now++);
        store_task_counts (st, t.id, attempt - 4, 0, 1, 123456);
        store_task_update (st, t.id, 1, attempt, "boom");
        assert_int_equal (store_commit (st), 0);
    }
    store_destroy (&st);
    st = store_open (s_path, err, sizeof err);
    assert_non_null (st);
    assert_int_equal (store_recover (st, now), 0);
    s_tasks_t c = { 0 };
    assert_int_equal (store_tasks_load (st, s_collect, &c), 0);
    assert_int_equal (c.n, 1);
    assert_int_equal (c.state [0], 1);
    assert_int_equal (c.attempts [0], 6);
    assert_int_equal (c.strikes [0], 2);
    assert_int_equal (c.lost [0], 0);
    assert_int_equal (c.resource [0], 1);
    assert_int_equal (c.retry_at [0], 123456);
    store_destroy (&st);
}

//  A state file written before the attempt counts existed (its tasks
//  table without them) is upgraded when opened; its tasks load with zero
//  counts.
static void
test_upgrade_columns (void **state)
{
    sqlite3 *db;
    assert_int_equal (sqlite3_open (s_path, &db), SQLITE_OK);
    assert_int_equal (sqlite3_exec (db,
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
        "INSERT INTO meta VALUES ('schema_version', '1');"
        "CREATE TABLE tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, job_id INT,"
        "  kind INT, album INT, track INT, profile INT, state INT, attempts INT,"
        "  last_error TEXT, result BLOB);"
        "INSERT INTO tasks (job_id, kind, album, track, profile, state, attempts)"
        "  VALUES (1, 4, -1, -1, -1, 1, 2);", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close (db);
    char err [256];
    store_t *st = store_open (s_path, err, sizeof err);
    if (!st)
        fprintf (stderr, "%s\n", err);
    assert_non_null (st);
    s_tasks_t c = { 0 };
    assert_int_equal (store_tasks_load (st, s_collect, &c), 0);
    assert_int_equal (c.n, 1);
    assert_int_equal (c.attempts [0], 2);
    assert_int_equal (c.strikes [0], 0);
    assert_int_equal (c.retry_at [0], 0);
    store_begin (st);
    store_task_counts (st, c.id [0], 1, 2, 3, 99);
    assert_int_equal (store_commit (st), 0);
    memset (&c, 0, sizeof c);
    assert_int_equal (store_tasks_load (st, s_collect, &c), 0);
    assert_int_equal (c.strikes [0], 1);
    assert_int_equal (c.lost [0], 2);
    assert_int_equal (c.resource [0], 3);
    assert_int_equal (c.retry_at [0], 99);
    store_destroy (&st);
}

//  A second lock on a state file (as a second broker would take) is
//  refused, naming the holder; it is free again once released.
static void
test_state_lock (void **state)
{
    char err [512] = "";
    int fd = store_lock (s_path, "tcp://127.0.0.1:5555", err, sizeof err);
    assert_true (fd >= 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        //  Another process: POSIX record locks belong to processes.
        char e2 [512] = "";
        int fd2 = store_lock (s_path, "tcp://127.0.0.1:6666", e2, sizeof e2);
        char want [64];
        snprintf (want, sizeof want, "pid %d", (int) getppid ());
        _exit (fd2 < 0 && strstr (e2, want) && strstr (e2, "tcp://127.0.0.1:5555") ? 0 : 1);
    }
    int status;
    waitpid (pid, &status, 0);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    char lock_path [600];
    snprintf (lock_path, sizeof lock_path, "%s.lock", s_path);
    struct stat sb;
    assert_int_equal (stat (lock_path, &sb), 0);
    assert_int_equal (sb.st_mode & 0777, 0600);
    store_unlock (&fd);
    assert_int_equal (fd, -1);
    unlink (lock_path);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_crash_resume, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_result_outputs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pragmas_and_version, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_deferred, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_restart_counts, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_upgrade_columns, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_state_lock, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
