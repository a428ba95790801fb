/*  broker/control: durations read from headers (and 0 for what cannot be
    read or leaves the root), the cost rates (measured, or priors scaled
    like the measured kinds), the pace of the recent tasks against the
    average, and the ETA arithmetic.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/control.h"

//  Writes FRAMES frames of silence at RATE as a WAV file.
static void
s_write_wav (const char *path, int rate, sf_count_t frames)
{
    SF_INFO info = { .samplerate = rate, .channels = 2,
                     .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16 };
    SNDFILE *sf = sf_open (path, SFM_WRITE, &info);
    assert_non_null (sf);
    short *buf = calloc ((size_t) frames * 2, sizeof *buf);
    assert_non_null (buf);
    assert_int_equal (sf_writef_short (sf, buf, frames), frames);
    sf_close (sf);
    free (buf);
}

static void
test_control_audio_seconds (void **state)
{
    (void) state;
    const char *tmp = getenv ("MF_TEST_TMP");
    char root [512];
    snprintf (root, sizeof root, "%s/test_control.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null (mkdtemp (root));
    char path [512];
    snprintf (path, sizeof path, "%s/a.wav", root);
    s_write_wav (path, 48000, 48000 * 3 + 24000);
    assert_true (fabs (control_audio_seconds (root, "a.wav") - 3.5) < 1e-9);
    //  not there, not audio, leaving the root, absolute: 0
    snprintf (path, sizeof path, "%s/b.wav", root);
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs ("not a wave file", f);
    fclose (f);
    assert_true (control_audio_seconds (root, "missing.wav") == 0);
    assert_true (control_audio_seconds (root, "b.wav") == 0);
    assert_true (control_audio_seconds (root, "../a.wav") == 0);
    assert_true (control_audio_seconds (root, "/etc/passwd") == 0);
    assert_true (control_audio_seconds (root, NULL) == 0);
    snprintf (path, sizeof path, "%s/a.wav", root);
    unlink (path);
    snprintf (path, sizeof path, "%s/b.wav", root);
    unlink (path);
    rmdir (root);
}

static void
test_control_rate (void **state)
{
    (void) state;
    control_costs_t c;
    memset (&c, 0, sizeof c);
    //  nothing measured: the priors
    assert_true (control_rate (&c, CONTROL_MASTER) == CONTROL_PRIOR_MASTER);
    assert_true (control_rate (&c, CONTROL_ANALYZE) == CONTROL_PRIOR_ANALYZE);
    //  analyses measured at 3x their prior: the others scale by 3
    control_costs_add (&c, CONTROL_ANALYZE, -1, 100.0, 3 * 100.0 * CONTROL_PRIOR_ANALYZE);
    assert_true (fabs (control_rate (&c, CONTROL_ANALYZE) - 3 * CONTROL_PRIOR_ANALYZE) < 1e-12);
    assert_true (fabs (control_rate (&c, CONTROL_MASTER) - 3 * CONTROL_PRIOR_MASTER) < 1e-12);
    //  masters measured: their own rate
    control_costs_add (&c, CONTROL_MASTER, -1, 50.0, 5.0);
    assert_true (fabs (control_rate (&c, CONTROL_MASTER) - 0.1) < 1e-12);
    //  nonsense is not recorded
    control_costs_add (&c, CONTROL_MASTER, -1, 0, 5.0);
    control_costs_add (&c, CONTROL_MASTER, -1, NAN, 5.0);
    control_costs_add (&c, CONTROL_MASTER, -1, 5.0, -1);
    control_costs_add (&c, 99, -1, 5.0, 1);
    assert_true (fabs (control_rate (&c, CONTROL_MASTER) - 0.1) < 1e-12);
}


//  The pace: 1 while nothing is measured or the tasks run steadily; when
//  the recent tasks of a kind run slower than its average, the ratio of
//  the two, which follows the change within a few tasks; per variant once
//  the variant is measured; bounded to 0.5 .. 2.
static void
test_control_pace (void **state)
{
    (void) state;
    control_costs_t c;
    memset (&c, 0, sizeof c);
    assert_true (control_pace (&c, CONTROL_MASTER, -1) == 1.0);
    for (int i = 0; i < 20; i++)
        control_costs_add (&c, CONTROL_MASTER, 0, 10.0, 1.0);
    assert_true (fabs (control_pace (&c, CONTROL_MASTER, 0) - 1.0) < 1e-12);
    //  the machine slows by 30%: after 5 tasks the pace reads most of it,
    //  while the average has moved by a fifth of it
    for (int i = 0; i < 5; i++)
        control_costs_add (&c, CONTROL_MASTER, 0, 10.0, 1.3);
    double avg = control_rate_variant (&c, CONTROL_MASTER, 0);
    double pace = control_pace (&c, CONTROL_MASTER, 0);
    assert_true (avg < 0.107);
    assert_true (pace * avg > 0.12 && pace * avg < 0.13);
    //  another variant not measured: the kind's pace
    assert_true (fabs (control_pace (&c, CONTROL_MASTER, 3) - control_pace (&c, CONTROL_MASTER, -1))
                 < 1e-12);
    //  bounds
    for (int i = 0; i < 5; i++)
        control_costs_add (&c, CONTROL_MASTER, 0, 10.0, 100.0);
    assert_true (control_pace (&c, CONTROL_MASTER, 0) == 2.0);
    assert_true (control_pace (&c, 99, 0) == 1.0);
}

static void
test_control_rate_variant (void **state)
{
    (void) state;
    control_costs_t c;
    memset (&c, 0, sizeof c);
    //  two variants of assembly, one twice the other's cost
    control_costs_add (&c, CONTROL_ASSEMBLE, 0, 100.0, 1.0);
    control_costs_add (&c, CONTROL_ASSEMBLE, 5, 100.0, 2.0);
    assert_true (fabs (control_rate_variant (&c, CONTROL_ASSEMBLE, 0) - 0.01) < 1e-12);
    assert_true (fabs (control_rate_variant (&c, CONTROL_ASSEMBLE, 5) - 0.02) < 1e-12);
    //  the kind's rate is their mean; an unmeasured variant takes it
    assert_true (fabs (control_rate (&c, CONTROL_ASSEMBLE) - 0.015) < 1e-12);
    assert_true (fabs (control_rate_variant (&c, CONTROL_ASSEMBLE, 3) - 0.015) < 1e-12);
    assert_true (fabs (control_rate_variant (&c, CONTROL_ASSEMBLE, -1) - 0.015) < 1e-12);
    assert_true (fabs (control_rate_variant (&c, CONTROL_ASSEMBLE, 99) - 0.015) < 1e-12);
}

static void
test_control_tail_idle (void **state)
{
    (void) state;
    //  two slots, assemblies of 3 s and 1.5 s: one slot idles 1.5 s;
    //  a report of 0.25 s outside the slots: the other slot idles too
    assert_true (fabs (control_tail_idle_s (2, 3.0, 4.5, 0.25) - 1.75) < 1e-12);
    //  one slot: assemblies run one after the other, nothing idles
    assert_true (fabs (control_tail_idle_s (1, 3.0, 4.5, 0.25)) < 1e-12);
    //  nothing left
    assert_true (control_tail_idle_s (4, 0, 0, 0) == 0);
    assert_true (control_tail_idle_s (0, 1.0, 1.0, 0) == 0);
}

static void
test_control_eta (void **state)
{
    (void) state;
    assert_true (control_eta_s (0, 10, 5) < 0);         //  nothing done: unknown
    assert_true (control_eta_s (1, 10, 0.5) < 0);       //  under a second: unknown
    assert_true (fabs (control_eta_s (1, 3, 10) - 30) < 1e-12);
    assert_true (control_eta_s (4, 0, 10) == 0);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_control_audio_seconds),
        cmocka_unit_test (test_control_rate),
        cmocka_unit_test (test_control_pace),
        cmocka_unit_test (test_control_rate_variant),
        cmocka_unit_test (test_control_tail_idle),
        cmocka_unit_test (test_control_eta),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
