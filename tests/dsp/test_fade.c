/*  Fade curves: each curve's envelope, measured on a processed sine,
    matches its formula (written out again here, independently of
    fade.c) within 0.1 dB wherever the gain is above -60 dB; endpoints,
    monotonicity, complementarity of in/out pairs, and chunked processing
    equal to one block.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fade.h"

//  The formulas of fade.h, restated.
static double
s_expect (fade_curve_t c, double x)
{
    double k = log (1000.0);
    switch (c) {
        case FADE_LINEAR:      return x;
        case FADE_EXPONENTIAL: return (exp (k * x) - 1.0) / (exp (k) - 1.0);
        case FADE_LOGARITHMIC: return log (1.0 + (exp (k) - 1.0) * x) / k;
        case FADE_SCURVE:      return (1.0 - cos (M_PI * x)) / 2.0;
        case FADE_EQUAL_POWER: return sin (M_PI * x / 2.0);
    }
    return -1.0;
}

static const fade_curve_t s_curves [] = {
    FADE_LINEAR, FADE_EXPONENTIAL, FADE_LOGARITHMIC, FADE_SCURVE, FADE_EQUAL_POWER
};

static void
test_formula_endpoints (void **state)
{
    for (size_t i = 0; i < 5; i++) {
        fade_curve_t c = s_curves [i];
        assert_true (fade_gain (c, 0.0) == 0.0);
        assert_true (fade_gain (c, 1.0) == 1.0);
        assert_true (fade_gain (c, -0.5) == 0.0);
        assert_true (fade_gain (c, 1.5) == 1.0);
        double prev = 0.0;
        for (int k = 1; k <= 1000; k++) {
            double g = fade_gain (c, k / 1000.0);
            assert_true (g >= prev);
            //  the formula itself: to 1e-12 (double rounding)
            assert_true (fabs (g - s_expect (c, k / 1000.0)) < 1e-12);
            prev = g;
        }
    }
    //  complementary pairs: linear and s-curve sum to 1 in amplitude,
    //  equal-power in power (1e-12: double rounding)
    for (int k = 0; k <= 100; k++) {
        double x = k / 100.0;
        assert_true (fabs (fade_gain (FADE_LINEAR, x) + fade_gain (FADE_LINEAR, 1 - x) - 1) < 1e-12);
        assert_true (fabs (fade_gain (FADE_SCURVE, x) + fade_gain (FADE_SCURVE, 1 - x) - 1) < 1e-12);
        double a = fade_gain (FADE_EQUAL_POWER, x), b = fade_gain (FADE_EQUAL_POWER, 1 - x);
        assert_true (fabs (a * a + b * b - 1) < 1e-12);
    }
}

//  Processes a 2-channel sine through a fade-in and a fade-out and checks
//  the envelope |y| / |x| against the formula, 0.1 dB where g > -60 dB.
static void
test_envelope_on_sine (void **state)
{
    const int rate = 48000, ch = 2;
    const int64_t frames = rate * 3, fin = rate, fout = rate / 2;
    float *x = malloc ((size_t) frames * ch * sizeof (float));
    float *y = malloc ((size_t) frames * ch * sizeof (float));
    for (size_t ci = 0; ci < 5; ci++) {
        fade_curve_t c = s_curves [ci];
        for (int64_t i = 0; i < frames; i++)
            for (int k = 0; k < ch; k++)
                x [i * ch + k] = (float) (0.7 * sin (2 * M_PI * 997.0 * i / rate + k));
        memcpy (y, x, (size_t) frames * ch * sizeof (float));
        fade_buffer (y, frames, ch, c, fin, fout);
        int checked = 0;
        for (int64_t i = 0; i < frames; i++) {
            double g;
            if (i < fin)
                g = s_expect (c, (double) i / fin);
            else
            if (i >= frames - fout)
                g = s_expect (c, 1.0 - (double) (i - (frames - fout) + 1) / fout);
            else
                g = 1.0;
            for (int k = 0; k < ch; k++) {
                double xs = x [i * ch + k], ys = y [i * ch + k];
                if (fabs (xs) < 0.05)
                    continue;
                if (g < 1e-3) {              //  below -60 dB: absolute check
                    assert_true (fabs (ys) <= 1.1e-3 * fabs (xs) + 1e-9);
                    continue;
                }
                double err_db = 20.0 * log10 (fabs (ys / xs)) - 20.0 * log10 (g);
                if (fabs (err_db) > 0.1)
                    fail_msg ("curve %s frame %lld: envelope off by %.3f dB",
                              fade_curve_name (c), (long long) i, err_db);
                checked++;
            }
        }
        assert_true (checked > frames);
        //  silent first frame and last frame
        assert_true (y [0] == 0.0f && y [1] == 0.0f);
        assert_true (y [(frames - 1) * ch] == 0.0f);
    }
    free (x);
    free (y);
}

//  Chunks of any size equal one call (seed printed for the chunk sizes).
static void
test_chunked (void **state)
{
    const int ch = 2;
    const int64_t n = 10007;
    float *a = malloc (n * ch * sizeof (float)), *b = malloc (n * ch * sizeof (float));
    unsigned seed = 12345;
    printf ("chunk seed %u\n", seed);
    srand (seed);
    for (int64_t i = 0; i < n * ch; i++)
        a [i] = b [i] = (float) sin (i * 0.01);
    fade_apply (a, (size_t) n, ch, FADE_SCURVE, 0, n, true);
    int64_t pos = 0;
    while (pos < n) {
        int64_t step = 1 + rand () % 700;
        if (step > n - pos)
            step = n - pos;
        fade_apply (b + pos * ch, (size_t) step, ch, FADE_SCURVE, pos, n, true);
        pos += step;
    }
    assert_memory_equal (a, b, (size_t) n * ch * sizeof (float));
    free (a);
    free (b);
}

static void
test_parse (void **state)
{
    fade_curve_t c;
    assert_int_equal (fade_curve_parse ("equal_power", &c), 0);
    assert_int_equal (c, FADE_EQUAL_POWER);
    assert_int_equal (fade_curve_parse ("s-curve", &c), 0);
    assert_int_equal (c, FADE_SCURVE);
    assert_true (fade_curve_parse ("cubic", &c) < 0);
    assert_true (fade_curve_parse (NULL, &c) < 0);
    assert_string_equal (fade_curve_name (FADE_LOGARITHMIC), "logarithmic");
}

//  fade_power_mean is the mean squared gain fade_buffer applies: on a
//  buffer of ones faded in and out (overlapping fades included), over
//  spans inside, across and past the fades, for every curve.
static void
test_power_mean (void **state)
{
    (void) state;
    const int64_t frames = 5000;
    const int64_t fades [][2] = { { 1200, 800 }, { 0, 3000 }, { 3000, 3000 }, { 7000, 0 } };
    const int64_t spans [][2] = { { 0, 400 }, { 100, 1500 }, { 2000, 3000 }, { 4100, 5000 },
                                  { 4500, 6000 }, { 0, 5000 }, { 300, 300 } };
    float *x = malloc ((size_t) frames * sizeof *x);
    assert_non_null (x);
    for (int c = 0; c < 5; c++)
        for (size_t f = 0; f < sizeof fades / sizeof fades [0]; f++) {
            for (int64_t i = 0; i < frames; i++)
                x [i] = 1.0f;
            fade_buffer (x, frames, 1, (fade_curve_t) c, fades [f][0], fades [f][1]);
            for (size_t s = 0; s < sizeof spans / sizeof spans [0]; s++) {
                int64_t a = spans [s][0], b = spans [s][1];
                double sum = 0.0;
                for (int64_t i = a; i < b; i++)
                    sum += i < frames ? (double) x [i] * x [i] : 1.0;
                double want = b > a ? sum / (double) (b - a) : 1.0;
                double got = fade_power_mean ((fade_curve_t) c, frames, fades [f][0],
                                              fades [f][1], a, b);
                assert_true (fabs (got - want) < 1e-6);
            }
        }
    free (x);
    //  fade_tail_mean: even levels of 1 give the gain out's mean square
    //  (what the gain in leaves to 1, none past the crossfade); levels of 0
    //  in half the segments give what the other half hold
    double one [FADE_TAIL_SEGMENTS], half [FADE_TAIL_SEGMENTS];
    for (int q = 0; q < FADE_TAIL_SEGMENTS; q++) {
        one [q] = 1.0;
        half [q] = q < FADE_TAIL_SEGMENTS / 2 ? 2.0 : 0.0;
    }
    const int64_t xf = 8000;
    for (int64_t a = 0; a < 9000; a += 700) {
        double want = 1.0 - fade_power_mean (FADE_EQUAL_POWER, xf, xf, 0, a, a + 900);
        assert_true (fabs (fade_tail_mean (one, xf, a, a + 900) - want) < 1e-9);
    }
    double sum = 0.0;
    for (int64_t k = 0; k < xf / 2; k++) {
        double g = fade_gain (FADE_EQUAL_POWER, 1.0 - (double) k / (double) xf);
        sum += 2.0 * g * g;
    }
    assert_true (fabs (fade_tail_mean (half, xf, 0, xf) - sum / (double) xf) < 1e-9);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_formula_endpoints),
        cmocka_unit_test (test_envelope_on_sine),
        cmocka_unit_test (test_chunked),
        cmocka_unit_test (test_parse),
        cmocka_unit_test (test_power_mean),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
