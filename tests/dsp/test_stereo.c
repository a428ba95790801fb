/*  Stereo width and mono bass.
    - width 0 makes L == R == (L + R) / 2; width 2 doubles the side signal;
    - mono bass at 120 Hz (Linkwitz-Riley 4th order on the side signal):
      a 40 Hz side-only tone is attenuated by the LR4 high-pass's analytic
      value |H|^2 with |H|^2 = w^4 / (1 + w^4) (Butterworth), w = 40/120:
      -38.2 dB, within 0.5 dB (bilinear warping at 48 kHz is tiny here);
      a 4 kHz side tone passes within 0.05 dB; a mid-only signal keeps its
      magnitude at every frequency (all-pass) within 0.01 dB;
    - chunked equals one block; bad configurations are refused.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/dsp/stereo.h"

#define RATE 48000

//  RMS of channel c of lr over frames [from, to).
static double
s_rms (const float *lr, int c, size_t from, size_t to)
{
    double s = 0;
    for (size_t i = from; i < to; i++)
        s += (double) lr [2 * i + c] * lr [2 * i + c];
    return sqrt (s / (double) (to - from));
}

//  Gain in dB of a stereo tone through the stage (side = 1: L = -R).
static double
s_tone_gain_db (const stereo_cfg_t *cfg, double f, bool side)
{
    size_t n = RATE;
    float *lr = malloc (n * 2 * sizeof (float));
    for (size_t i = 0; i < n; i++) {
        float v = (float) (0.5 * sin (2 * M_PI * f * i / RATE));
        lr [2 * i] = v;
        lr [2 * i + 1] = side ? -v : v;
    }
    double before = s_rms (lr, 0, n / 2, n);
    stereo_t *st = stereo_new (cfg, RATE);
    assert_non_null (st);
    stereo_process (st, lr, n);
    stereo_destroy (&st);
    double after = s_rms (lr, 0, n / 2, n);
    free (lr);
    return 20 * log10 (after / before);
}

static void
test_width (void **state)
{
    float lr [8] = { 0.5f, 0.1f, -0.2f, 0.4f, 0.0f, 0.3f, 0.25f, -0.25f };
    float keep [8];
    memcpy (keep, lr, sizeof lr);
    stereo_cfg_t cfg = { 0.0, 0.0 };
    stereo_t *st = stereo_new (&cfg, RATE);
    stereo_process (st, lr, 4);
    stereo_destroy (&st);
    for (int i = 0; i < 4; i++) {
        assert_true (lr [2 * i] == lr [2 * i + 1]);
        assert_true (fabsf (lr [2 * i] - 0.5f * (keep [2 * i] + keep [2 * i + 1])) < 1e-7f);
    }
    memcpy (lr, keep, sizeof lr);
    cfg.width = 2.0;
    st = stereo_new (&cfg, RATE);
    stereo_process (st, lr, 4);
    stereo_destroy (&st);
    for (int i = 0; i < 4; i++) {
        float m = 0.5f * (keep [2 * i] + keep [2 * i + 1]), s = 0.5f * (keep [2 * i] - keep [2 * i + 1]);
        assert_true (fabsf (lr [2 * i] - (m + 2 * s)) < 1e-6f);
        assert_true (fabsf (lr [2 * i + 1] - (m - 2 * s)) < 1e-6f);
    }
    cfg.width = 1.0;
    assert_true (stereo_is_neutral (&cfg));
    cfg.mono_below_hz = 100;
    assert_false (stereo_is_neutral (&cfg));
}

static void
test_mono_bass (void **state)
{
    stereo_cfg_t cfg = { 1.0, 120.0 };
    double w = 40.0 / 120.0;
    double expect = 20 * log10 (pow (w, 4) / (1 + pow (w, 4)));    //  LR4 HP = Butterworth HP squared
    double got = s_tone_gain_db (&cfg, 40.0, true);
    printf ("40 Hz side tone: %.2f dB (expect %.2f)\n", got, expect);
    assert_true (fabs (got - expect) < 0.5);
    got = s_tone_gain_db (&cfg, 4000.0, true);
    printf ("4 kHz side tone: %.3f dB\n", got);
    assert_true (fabs (got) < 0.05);
    for (double f = 20; f < 20000; f *= 1.7) {
        got = s_tone_gain_db (&cfg, f, false);
        if (fabs (got) > 0.01)
            fail_msg ("mid tone %.0f Hz changed by %.3f dB", f, got);
    }
    cfg.width = 1.5;
    got = s_tone_gain_db (&cfg, 4000.0, true);
    assert_true (fabs (got - 20 * log10 (1.5)) < 0.05);
}

static void
test_chunked_and_bad (void **state)
{
    size_t n = 20011;
    float *a = malloc (n * 2 * sizeof (float)), *b = malloc (n * 2 * sizeof (float));
    for (size_t i = 0; i < 2 * n; i++)
        a [i] = b [i] = (float) (0.4 * sin (i * 0.013 + (i & 1)));
    stereo_cfg_t cfg = { 1.3, 90.0 };
    stereo_t *s1 = stereo_new (&cfg, RATE), *s2 = stereo_new (&cfg, RATE);
    stereo_process (s1, a, n);
    unsigned seed = 31;
    printf ("chunk seed %u\n", seed);
    srand (seed);
    size_t pos = 0;
    while (pos < n) {
        size_t step = 1 + (size_t) rand () % 999;
        if (step > n - pos)
            step = n - pos;
        stereo_process (s2, b + 2 * pos, step);
        pos += step;
    }
    assert_memory_equal (a, b, n * 2 * sizeof (float));
    stereo_destroy (&s1);
    stereo_destroy (&s2);
    stereo_cfg_t bad1 = { 2.5, 0 }, bad2 = { 1.0, 30000 }, bad3 = { -0.1, 0 }, bad4 = { 1.0, NAN };
    assert_null (stereo_new (&bad1, RATE));
    assert_null (stereo_new (&bad2, RATE));
    assert_null (stereo_new (&bad3, RATE));
    assert_null (stereo_new (&bad4, RATE));
    free (a);
    free (b);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_width),
        cmocka_unit_test (test_mono_bass),
        cmocka_unit_test (test_chunked_and_bad),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
