/*  EBU Tech 3342 (loudness range) test signals 1-4, synthesized from their
    published descriptions (1 kHz sine, stereo, 48 kHz, 20 s per step),
    measured through analysis_run and through the written WAV and
    `masterfarm analyze --json`. Expected LRA per Tech 3342 table 1,
    tolerance +-1 LU (the tolerance Tech 3342 sets):
      1: -20 / -30 dBFS                 -> 10 LU
      2: -20 / -15 dBFS                 ->  5 LU
      3: -40 / -20 dBFS                 -> 20 LU
      4: -50 / -35 / -20 / -35 / -50    -> 15 LU  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ebusig.h"
#include "testsig.h"
#include "worker/analysis.h"

#define RATE_HZ  48000

typedef struct {
    int    steps;
    double dbfs [5];
    double expect_lu;
} s_signal_t;

static const s_signal_t s_signals [4] = {
    { 2, { -20, -30 }, 10.0 },
    { 2, { -20, -15 }, 5.0 },
    { 2, { -40, -20 }, 20.0 },
    { 5, { -50, -35, -20, -35, -50 }, 15.0 },
};
static const double s_seconds [5] = { 20, 20, 20, 20, 20 };

//  Signals 1-4 through analysis_run.
static void
test_analysis_run (void **state)
{
    (void) state;
    for (int s = 0; s < 4; s++) {
        audio_t a;
        ebusig_tone_steps (&a, RATE_HZ, s_signals [s].dbfs, s_seconds, s_signals [s].steps);
        measure_t m;
        char err [256];
        assert_int_equal (analysis_run (&a, NULL, &m, err, sizeof err), 0);
        printf ("  signal %d: LRA %.3f LU (expected %.0f +-1)\n",
                s + 1, m.lra_lu, s_signals [s].expect_lu);
        assert_true (fabs (m.lra_lu - s_signals [s].expect_lu) <= 1.0);     //  Tech 3342 +-1 LU
        measure_free (&m);
        audio_free (&a);
    }
}

//  Signals 1-4 written as 24-bit WAV and measured by `masterfarm analyze --json`.
static void
test_cli_json (void **state)
{
    (void) state;
    const char *dir = testsig_tmpdir ("ebu3342");
    char paths [4][512];
    const char *argv [4];
    for (int s = 0; s < 4; s++) {
        audio_t a;
        ebusig_tone_steps (&a, RATE_HZ, s_signals [s].dbfs, s_seconds, s_signals [s].steps);
        snprintf (paths [s], sizeof paths [s], "%s/ebu3342_%d.wav", dir, s + 1);
        testsig_write_wav (paths [s], &a, 24);
        argv [s] = paths [s];
        audio_free (&a);
    }
    int code;
    json_t *arr = ebusig_analyze_json (argv, 4, &code);
    assert_non_null (arr);
    assert_int_equal (code, 0);
    assert_int_equal (json_array_size (arr), 4);
    for (int s = 0; s < 4; s++) {
        json_t *o = json_array_get (arr, (size_t) s);
        double lra = json_real_value (json_object_get (o, "lra_lu"));
        printf ("  %s: LRA %.3f LU\n", paths [s], lra);
        assert_true (fabs (lra - s_signals [s].expect_lu) <= 1.0);          //  Tech 3342 +-1 LU
        unlink (paths [s]);
    }
    json_decref (arr);
    rmdir (dir);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_analysis_run),
        cmocka_unit_test (test_cli_json),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
