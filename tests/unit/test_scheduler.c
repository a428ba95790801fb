/*  Tests of the broker's scheduler: ordering (priority, deadline,
    submission), slot limits, the three-strikes rule per job, retry on
    another worker, and heap integrity under random pushes and removals
    (seeded, seed printed).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "broker/scheduler.h"

//  Fills a task record.
static void
s_task (sched_task_t *t, uint64_t id, uint64_t job, int prio, int64_t deadline)
{
    t->id = id;
    t->job_id = job;
    t->priority = prio;
    t->deadline_ms = deadline;
    t->avoid_worker = -1;
    t->heap_index = SCHED_NOT_QUEUED;
    t->deferred = false;
}

//  Priority first, then earliest deadline (none last), then submission.
static void
test_order (void **state)
{
    scheduler_t *s = scheduler_new ();
    sched_task_t t [6];
    s_task (&t [0], 1, 1, 5, 0);         //  prio 5, no deadline
    s_task (&t [1], 2, 1, 5, 2000);      //  prio 5, deadline 2000
    s_task (&t [2], 3, 2, 9, 0);         //  prio 9
    s_task (&t [3], 4, 2, 5, 1000);      //  prio 5, deadline 1000
    s_task (&t [4], 5, 3, 0, 10);        //  prio 0, earliest deadline of all
    s_task (&t [5], 6, 3, 5, 0);         //  prio 5, no deadline, after id 1
    for (int i = 5; i >= 0; i--)
        assert_int_equal (scheduler_push (s, &t [i]), 0);
    int w = scheduler_worker_add (s, 10);
    uint64_t expect [] = { 3, 4, 2, 1, 6, 5 };
    for (int i = 0; i < 6; i++) {
        sched_task_t *got = scheduler_take (s, w);
        assert_non_null (got);
        assert_int_equal (got->id, expect [i]);
        assert_int_equal (got->heap_index, SCHED_NOT_QUEUED);
    }
    assert_null (scheduler_take (s, w));
    scheduler_destroy (&s);
    assert_null (s);
    scheduler_destroy (&s);              //  NULL-safe
}

//  A worker never holds more tasks than its slots; release frees one.
static void
test_slots (void **state)
{
    scheduler_t *s = scheduler_new ();
    sched_task_t t [10];
    for (int i = 0; i < 10; i++) {
        s_task (&t [i], (uint64_t) i + 1, 1, 5, 0);
        scheduler_push (s, &t [i]);
    }
    int a = scheduler_worker_add (s, 2);
    int b = scheduler_worker_add (s, 3);
    assert_non_null (scheduler_take (s, a));
    assert_non_null (scheduler_take (s, a));
    assert_null (scheduler_take (s, a));
    assert_int_equal (scheduler_worker_held (s, a), 2);
    for (int i = 0; i < 3; i++)
        assert_non_null (scheduler_take (s, b));
    assert_null (scheduler_take (s, b));
    assert_int_equal (scheduler_size (s), 5);
    scheduler_release (s, a);
    assert_non_null (scheduler_take (s, a));
    assert_null (scheduler_take (s, a));
    assert_int_equal (scheduler_size (s), 4);
    //  An adopted task counts as held even beyond the slots.
    scheduler_hold (s, a);
    assert_int_equal (scheduler_worker_held (s, a), 3);
    assert_null (scheduler_take (s, a));
    scheduler_release (s, a);
    scheduler_release (s, a);
    assert_non_null (scheduler_take (s, a));
    //  Unknown or removed workers take nothing.
    scheduler_worker_remove (s, b);
    assert_null (scheduler_take (s, b));
    assert_null (scheduler_take (s, 99));
    //  A removed worker's index is reused.
    assert_int_equal (scheduler_worker_add (s, 1), b);
    scheduler_destroy (&s);
}

//  Three failed tasks of one job bar a worker from that job, not others;
//  if every live worker is barred, the job may still run.
static void
test_strikes (void **state)
{
    scheduler_t *s = scheduler_new ();
    int a = scheduler_worker_add (s, 4);
    int b = scheduler_worker_add (s, 4);
    for (int i = 1; i <= SCHED_JOB_STRIKES; i++)
        assert_int_equal (scheduler_strike (s, a, 7), i);
    assert_false (scheduler_may_take (s, a, 7));
    assert_true (scheduler_may_take (s, a, 8));
    assert_true (scheduler_may_take (s, b, 7));

    sched_task_t t7, t8;
    s_task (&t7, 1, 7, 9, 0);
    s_task (&t8, 2, 8, 0, 0);
    scheduler_push (s, &t7);
    scheduler_push (s, &t8);
    //  a skips job 7 (higher priority) and gets job 8.
    sched_task_t *got = scheduler_take (s, a);
    assert_ptr_equal (got, &t8);
    assert_int_equal (scheduler_size (s), 1);
    //  b takes job 7.
    assert_ptr_equal (scheduler_take (s, b), &t7);

    //  When b is barred too, nobody is left: a may take job 7 again.
    for (int i = 0; i < SCHED_JOB_STRIKES; i++)
        scheduler_strike (s, b, 7);
    assert_true (scheduler_may_take (s, a, 7));
    //  ...but not once a fresh worker joins.
    int c = scheduler_worker_add (s, 1);
    assert_false (scheduler_may_take (s, a, 7));
    assert_true (scheduler_may_take (s, c, 7));
    scheduler_destroy (&s);
}

//  A failed task goes to another worker when one exists, else back to the
//  same one.
static void
test_avoid (void **state)
{
    scheduler_t *s = scheduler_new ();
    int a = scheduler_worker_add (s, 4);
    sched_task_t t;
    s_task (&t, 1, 1, 5, 0);
    t.avoid_worker = a;
    scheduler_push (s, &t);
    //  a is the only worker: it gets the retry.
    assert_ptr_equal (scheduler_take (s, a), &t);
    scheduler_release (s, a);
    scheduler_push (s, &t);
    int b = scheduler_worker_add (s, 4);
    assert_null (scheduler_take (s, a));
    assert_int_equal (scheduler_size (s), 1);
    assert_ptr_equal (scheduler_take (s, b), &t);
    scheduler_destroy (&s);
}

//  A task that avoids worker a (its attempt was lost there) still goes
//  to a when the only other worker is busy: an idle worker never waits
//  for a busy one, which may be stuck.
static void
test_avoid_busy_other (void **state)
{
    scheduler_t *s = scheduler_new ();
    sched_task_t busy, t;
    s_task (&busy, 1, 1, 9, 0);
    s_task (&t, 2, 1, 5, 0);
    int a = scheduler_worker_add (s, 1);
    int b = scheduler_worker_add (s, 1);
    scheduler_push (s, &busy);
    assert_ptr_equal (scheduler_take (s, b), &busy);     //  b is now full
    t.avoid_worker = a;
    scheduler_push (s, &t);
    assert_ptr_equal (scheduler_take (s, a), &t);
    scheduler_destroy (&s);
}

//  A deferred task is never taken before its time, whatever its priority;
//  scheduler_wake moves it into the queue at its time; a deferred task can
//  be removed (a cancelled job), and pushing it again does not jump the wait.
static void
test_defer (void **state)
{
    scheduler_t *s = scheduler_new ();
    int w = scheduler_worker_add (s, 4);
    sched_task_t a, b, c;
    s_task (&a, 1, 1, 9, 0);
    s_task (&b, 2, 1, 0, 0);
    s_task (&c, 3, 1, 5, 0);
    assert_int_equal (scheduler_defer (s, &a, 2000), 0);
    assert_int_equal (scheduler_defer (s, &c, 4000), 0);
    assert_int_equal (scheduler_push (s, &a), 0);      //  no-op: still deferred
    assert_int_equal (scheduler_push (s, &b), 0);
    assert_int_equal (scheduler_size (s), 1);
    assert_int_equal (scheduler_deferred (s), 2);
    assert_ptr_equal (scheduler_take (s, w), &b);       //  a (prio 9) waits
    assert_null (scheduler_take (s, w));
    assert_int_equal (scheduler_wake (s, 1999), 0);
    assert_null (scheduler_take (s, w));
    assert_int_equal (scheduler_wake (s, 2000), 1);
    assert_int_equal (scheduler_deferred (s), 1);
    assert_ptr_equal (scheduler_take (s, w), &a);
    assert_false (a.deferred);
    assert_int_equal (a.heap_index, SCHED_NOT_QUEUED);
    scheduler_remove (s, &c);
    assert_int_equal (scheduler_deferred (s), 0);
    assert_int_equal (c.heap_index, SCHED_NOT_QUEUED);
    assert_int_equal (scheduler_wake (s, 10000), 0);
    assert_null (scheduler_take (s, w));
    scheduler_destroy (&s);
}

//  Queue depth by priority follows pushes, takes, removals and deferrals
//  (deferred tasks are not in it); out-of-range priorities count as the
//  nearest one.
static void
test_size_at (void **state)
{
    scheduler_t *s = scheduler_new ();
    int w = scheduler_worker_add (s, 8);
    sched_task_t t [6];
    s_task (&t [0], 1, 1, 5, 0);
    s_task (&t [1], 2, 1, 5, 0);
    s_task (&t [2], 3, 1, 9, 0);
    s_task (&t [3], 4, 1, 42, 0);        //  counts as 9
    s_task (&t [4], 5, 1, -3, 0);        //  counts as 0
    s_task (&t [5], 6, 1, 5, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal (scheduler_push (s, &t [i]), 0);
    assert_int_equal (scheduler_defer (s, &t [5], 1000), 0);
    assert_int_equal (scheduler_size_at (s, 5), 2);
    assert_int_equal (scheduler_size_at (s, 9), 2);
    assert_int_equal (scheduler_size_at (s, 0), 1);
    assert_int_equal (scheduler_size_at (s, 10), 0);
    assert_int_equal (scheduler_size_at (s, -1), 0);
    assert_ptr_equal (scheduler_take (s, w), &t [3]);  //  42 sorts first
    assert_int_equal (scheduler_size_at (s, 9), 1);
    scheduler_remove (s, &t [0]);
    scheduler_remove (s, &t [0]);                      //  twice: no-op
    assert_int_equal (scheduler_size_at (s, 5), 1);
    assert_int_equal (scheduler_wake (s, 1000), 1);
    assert_int_equal (scheduler_size_at (s, 5), 2);
    size_t total = 0;
    for (int p = 0; p < SCHED_PRIORITIES; p++)
        total += scheduler_size_at (s, p);
    assert_int_equal (total, scheduler_size (s));
    while (scheduler_take (s, w))
        ;
    for (int p = 0; p < SCHED_PRIORITIES; p++)
        assert_int_equal (scheduler_size_at (s, p), 0);
    scheduler_destroy (&s);
}

//  Random pushes and removals keep the heap order (seed printed).
static void
test_heap_random (void **state)
{
    unsigned seed = 12345;
    printf ("seed %u\n", seed);
    srand (seed);
    enum { N = 5000 };
    sched_task_t *t = calloc (N, sizeof *t);
    scheduler_t *s = scheduler_new ();
    for (int i = 0; i < N; i++) {
        s_task (&t [i], (uint64_t) i + 1, 1, rand () % 10,
                rand () % 3 ? 0 : rand () % 100000);
        scheduler_push (s, &t [i]);
    }
    for (int i = 0; i < N; i += 3)
        scheduler_remove (s, &t [i]);
    scheduler_remove (s, &t [0]);        //  twice: no-op
    int w = scheduler_worker_add (s, N);
    sched_task_t *prev = NULL;
    size_t n = 0;
    sched_task_t *got;
    while ((got = scheduler_take (s, w))) {
        assert_true (got->id % 3 != 1);  //  removed ones never come out
        if (prev) {
            int64_t dp = prev->deadline_ms ? prev->deadline_ms : INT64_MAX;
            int64_t dg = got->deadline_ms ? got->deadline_ms : INT64_MAX;
            assert_true (prev->priority > got->priority
                     || (prev->priority == got->priority
                     && (dp < dg || (dp == dg && prev->id < got->id))));
        }
        prev = got;
        n++;
    }
    assert_int_equal (n, N - (N + 2) / 3);
    scheduler_destroy (&s);
    free (t);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_order),
        cmocka_unit_test (test_slots),
        cmocka_unit_test (test_strikes),
        cmocka_unit_test (test_avoid),
        cmocka_unit_test (test_avoid_busy_other),
        cmocka_unit_test (test_defer),
        cmocka_unit_test (test_heap_random),
        cmocka_unit_test (test_size_at),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
