/*  Tonal-match EQ: for several curves (a smooth tilt, a smile, and a
    seeded random curve with neighbouring bands at most 3 dB apart, all
    within +-6 dB), each realisation (linear-phase FIR, minimum-phase FIR,
    peaking cascade) has its magnitude at every band centre below 0.45 fs
    within TONAL_EQ_TOL_DB (0.1 dB) of the curve, at 44.1 and 48 kHz;
    measured both from the designed filter and, for the FIRs, on a
    processed sine through tonal_eq_run (RMS ratio). A flat curve is
    transparent (linear phase: exactly the input, delayed and
    compensated, within -120 dBFS). Channels taken two at a time (the
    complex FFT) give each channel what it gives alone (the real FFT),
    within -100 dBFS, with no crosstalk into a silent neighbour, for 2
    and 3 channels. Streaming in random chunks equals one block, and a buffer shorter than the latency gives the start of its
    zero-padded run; the linear-phase FIR is time-aligned (an impulse
    comes out at its own position).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/dsp/tonal_eq.h"

static void
s_curve (int which, double *db, unsigned seed)
{
    srand (seed);
    double v = 0;
    for (int i = 0; i < MEASURE_BANDS; i++) {
        double x = (double) i / (MEASURE_BANDS - 1);
        switch (which) {
            case 0: db [i] = 4.0 - 8.0 * x; break;                            //  tilt
            case 1: db [i] = 5.0 * (2 * x - 1) * (2 * x - 1) - 2.0; break;    //  smile
            default:
                v += (rand () / (double) RAND_MAX - 0.5) * 6.0;                //  steps <= 3 dB
                if (v > 6) v = 6;
                if (v < -6) v = -6;
                db [i] = v;
        }
    }
}

static void
test_centres (void **state)
{
    static const int rates [] = { 44100, 48000 };
    static const tonal_eq_mode_t modes [] = { TONAL_EQ_LINEAR, TONAL_EQ_MINIMUM, TONAL_EQ_BIQUAD };
    static const char *names [] = { "linear", "minimum", "biquad" };
    unsigned seed = 4242;
    printf ("random curve seed %u\n", seed);
    for (int r = 0; r < 2; r++)
        for (int m = 0; m < 3; m++)
            for (int c = 0; c < 3; c++) {
                double db [MEASURE_BANDS];
                s_curve (c, db, seed);
                tonal_eq_t *eq = tonal_eq_new (db, modes [m], rates [r], 2);
                assert_non_null (eq);
                double worst = 0;
                for (int i = 0; i < MEASURE_BANDS; i++) {
                    double f = measure_band_hz (i);
                    if (f >= 0.45 * rates [r])
                        continue;
                    double e = tonal_eq_response_db (eq, f) - db [i];
                    worst = fmax (worst, fabs (e));
                }
                printf ("%s %d Hz curve %d: worst error at the centres %.3f dB\n",
                        names [m], rates [r], c, worst);
                assert_true (worst < TONAL_EQ_TOL_DB);
                tonal_eq_destroy (&eq);
                assert_null (eq);
            }
}

//  RMS gain of a sine through tonal_eq_run, middle half of the buffer.
static double
s_sine_gain_db (tonal_eq_t *eq, double f, int rate)
{
    size_t n = (size_t) rate;
    float *b = malloc (n * sizeof (float));
    for (size_t i = 0; i < n; i++)
        b [i] = (float) (0.25 * sin (2 * M_PI * f * i / rate));
    tonal_eq_run (eq, b, n);
    double s = 0;
    for (size_t i = n / 4; i < 3 * n / 4; i++)
        s += (double) b [i] * b [i];
    free (b);
    return 10 * log10 (s / (n / 2) / (0.25 * 0.25 / 2));
}

static void
test_processed_sines (void **state)
{
    double db [MEASURE_BANDS];
    s_curve (2, db, 99);
    for (int m = 0; m < 3; m++) {
        tonal_eq_t *eq = tonal_eq_new (db, (tonal_eq_mode_t) m, 48000, 1);
        for (int i = 1; i < MEASURE_BANDS; i += 3) {
            double f = measure_band_hz (i);
            double e = s_sine_gain_db (eq, f, 48000) - db [i];
            if (fabs (e) > TONAL_EQ_TOL_DB)
                fail_msg ("mode %d, %.0f Hz: processed sine off by %.3f dB", m, f, e);
        }
        tonal_eq_destroy (&eq);
    }
}

static void
test_flat_and_alignment (void **state)
{
    double db [MEASURE_BANDS] = { 0 };
    assert_true (tonal_eq_is_flat (db));
    tonal_eq_t *eq = tonal_eq_new (db, TONAL_EQ_LINEAR, 44100, 2);
    size_t n = 100000;
    float *b = malloc (n * 2 * sizeof (float)), *x = malloc (n * 2 * sizeof (float));
    srand (5);
    for (size_t i = 0; i < 2 * n; i++)
        x [i] = b [i] = (float) (rand () / (double) RAND_MAX - 0.5);
    tonal_eq_run (eq, b, n);
    double e = 0;
    for (size_t i = 0; i < 2 * n; i++)
        e = fmax (e, fabs (b [i] - x [i]));
    printf ("flat linear-phase: max difference %.1f dBFS (limit -120)\n", 20 * log10 (e + 1e-30));
    //  a flat curve's FIR is a windowed unit impulse: exact but for float FFT rounding
    assert_true (20 * log10 (e + 1e-30) < -120.0);
    tonal_eq_destroy (&eq);

    //  alignment of a shaped linear-phase FIR: an impulse stays centred
    s_curve (0, db, 1);
    eq = tonal_eq_new (db, TONAL_EQ_LINEAR, 44100, 2);
    memset (b, 0, n * 2 * sizeof (float));
    b [2 * 50000] = 1.0f;
    tonal_eq_run (eq, b, n);
    size_t best = 0;
    for (size_t i = 0; i < n; i++)
        if (fabsf (b [2 * i]) > fabsf (b [2 * best]))
            best = i;
    assert_int_equal (best, 50000);
    tonal_eq_destroy (&eq);
    free (b);
    free (x);
}

static void
test_chunked (void **state)
{
    double db [MEASURE_BANDS];
    s_curve (1, db, 1);
    for (int m = 0; m < 3; m++) {
        tonal_eq_t *e1 = tonal_eq_new (db, (tonal_eq_mode_t) m, 48000, 2);
        tonal_eq_t *e2 = tonal_eq_new (db, (tonal_eq_mode_t) m, 48000, 2);
        size_t n = 70001;
        float *a = malloc (n * 2 * sizeof (float)), *b = malloc (n * 2 * sizeof (float));
        for (size_t i = 0; i < 2 * n; i++)
            a [i] = b [i] = (float) sin (i * 0.0123) * 0.3f;
        tonal_eq_process (e1, a, a, n);
        //  a new EQ's first output is silence (its first block's delay;
        //  a linear-phase FIR's leading taps ring before its latency)
        size_t lat = (size_t) tonal_eq_latency_frames (e1);
        for (size_t i = 0; i < 2 * (lat < 1000 ? lat : 1000); i++)
            assert_true (a [i] == 0.0f);
        unsigned seed = 77;
        printf ("chunk seed %u\n", seed);
        srand (seed);
        size_t pos = 0;
        while (pos < n) {
            size_t step = 1 + (size_t) rand () % 20000;
            if (step > n - pos)
                step = n - pos;
            tonal_eq_process (e2, b + 2 * pos, b + 2 * pos, step);
            pos += step;
        }
        assert_memory_equal (a, b, n * 2 * sizeof (float));
        tonal_eq_destroy (&e1);
        tonal_eq_destroy (&e2);
        free (a);
        free (b);
    }
    //  a buffer shorter than the latency: the same as its zero-padded run
    for (int m = 0; m < 2; m++) {
        tonal_eq_t *eq = tonal_eq_new (db, (tonal_eq_mode_t) m, 48000, 2);
        size_t ns = 100, nl = 60000;
        float *s = calloc (ns * 2, sizeof (float)), *l = calloc (nl * 2, sizeof (float));
        for (size_t i = 0; i < ns * 2; i++)
            s [i] = l [i] = (float) sin (i * 0.3);
        tonal_eq_run (eq, s, ns);
        tonal_eq_run (eq, l, nl);
        assert_memory_equal (s, l, ns * 2 * sizeof (float));
        tonal_eq_destroy (&eq);
        free (s);
        free (l);
    }
    double bad [MEASURE_BANDS] = { 0 };
    bad [3] = 30.0;
    assert_null (tonal_eq_new (bad, TONAL_EQ_LINEAR, 48000, 2));
    bad [3] = NAN;
    assert_null (tonal_eq_new (bad, TONAL_EQ_LINEAR, 48000, 2));
    assert_null (tonal_eq_new (db, TONAL_EQ_LINEAR, 4000, 2));
}

//  Channel c (of 3) of the test signal at frame i: a sweep, noise, and
//  clicks on a quiet tone.
static float
s_channel_sample (int c, size_t i, unsigned *rng)
{
    *rng = *rng * 1664525u + 1013904223u;
    double t = (double) i / 44100.0;
    switch (c) {
        case 0: return (float) (0.5 * sin (2 * M_PI * (40.0 + 400.0 * t) * t));
        case 1: return (float) (((double) (*rng >> 8) / 16777216.0 - 0.5) * 0.6);
        default: return (float) ((i % 9001 == 0 ? 0.9 : 0.0) + 0.05 * sin (i * 0.01));
    }
}

static void
test_channels (void **state)
{
    double db [MEASURE_BANDS];
    s_curve (2, db, 99);
    const size_t n = 150001;            //  a few blocks past the latency
    for (int m = 0; m < 2; m++) {
        //  each channel alone: the reference
        float *mono [3];
        tonal_eq_t *e1 = tonal_eq_new (db, (tonal_eq_mode_t) m, 44100, 1);
        assert_non_null (e1);
        for (int c = 0; c < 3; c++) {
            mono [c] = malloc (n * sizeof (float));
            unsigned rng = 5;
            for (size_t i = 0; i < n; i++)
                mono [c][i] = s_channel_sample (c, i, &rng);
            tonal_eq_run (e1, mono [c], n);
        }
        tonal_eq_destroy (&e1);
        for (int ch = 2; ch <= 3; ch++)
            for (int silent = -1; silent < ch; silent++) {
                tonal_eq_t *e = tonal_eq_new (db, (tonal_eq_mode_t) m, 44100, ch);
                assert_non_null (e);
                float *x = malloc (n * (size_t) ch * sizeof (float));
                for (int c = 0; c < ch; c++) {
                    unsigned rng = 5;
                    for (size_t i = 0; i < n; i++) {
                        float v = s_channel_sample (c, i, &rng);
                        x [i * (size_t) ch + (size_t) c] = c == silent ? 0.0f : v;
                    }
                }
                tonal_eq_run (e, x, n);
                double worst = 0;
                for (int c = 0; c < ch; c++)
                    for (size_t i = 0; i < n; i++) {
                        float want = c == silent ? 0.0f : mono [c][i];
                        double d = fabs ((double) x [i * (size_t) ch + (size_t) c] - want);
                        worst = d > worst ? d : worst;
                    }
                printf ("mode %d, %d channels, silent %d: largest difference %.2e\n", m, ch,
                        silent, worst);
                assert_true (worst < 1e-5);
                tonal_eq_destroy (&e);
                free (x);
            }
        for (int c = 0; c < 3; c++)
            free (mono [c]);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_centres),
        cmocka_unit_test (test_processed_sines),
        cmocka_unit_test (test_flat_and_alignment),
        cmocka_unit_test (test_chunked),
        cmocka_unit_test (test_channels),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
