/*  Dither and quantisation to 16 bits.

    - A -90 dBFS 1 kHz sine fading to -110 dBFS, TPDF-dithered to 16 bits,
      shows no harmonic (2 .. 9 kHz) more than 6 dB above the local noise
      floor (Welch-averaged Hann spectrum, 48 kHz, 4800-point segments so
      that every harmonic falls on a bin). The same signal merely rounded
      does show harmonics (the test can see distortion when it is there).
    - The total error y - x of TPDF dither has power q^2/4 (q = 1 LSB):
      q^2/12 for rounding plus 2 q^2/12 for the triangular dither
      (Wannamaker, Lipshitz, Vanderkooy, IEEE Trans. SP 48(2), 2000),
      i.e. -96.33 dBFS RMS at 16 bits; measured within 1 dB, and white
      (low and high halves of the band within 1 dB of each other).
    - Noise shaping moves error power up: below 4 kHz the shaped error
      spectrum lies at least 6 dB under the flat TPDF one.
    - Every output sample lies on the 16-bit grid; two runs with the same
      seed are identical; chunked processing equals one block.
    - Stereo (its own loop): each channel's TPDF error has the power q^2/4
      and its shaped error the same 6 dB less under 4 kHz, the two
      channels' errors are uncorrelated, and chunks equal one block.
    - Plain rounding (24-bit output) is round-half-even with clamping,
      for every length 0..17 and a long run, bit for bit (a zero is +0,
      also from small negative input).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/dsp/dither.h"

#define RATE   48000
#define SEG    4800              //  10 Hz bins: 1 kHz is bin 100
#define NSEG   96
#define N      (SEG * NSEG)

//  Welch power spectrum (Hann, mean over segments) of x[0..N-1] into p[0..SEG/2].
static void
s_welch (const float *x, double *p)
{
    float *buf = fftwf_malloc (sizeof (float) * SEG);
    fftwf_complex *out = fftwf_malloc (sizeof (fftwf_complex) * (SEG / 2 + 1));
    fftwf_plan plan = fftwf_plan_dft_r2c_1d (SEG, buf, out, FFTW_ESTIMATE);
    memset (p, 0, sizeof (double) * (SEG / 2 + 1));
    for (int s = 0; s < NSEG; s++) {
        for (int i = 0; i < SEG; i++)
            buf [i] = x [s * SEG + i] * (float) (0.5 - 0.5 * cos (2 * M_PI * i / SEG));
        fftwf_execute (plan);
        for (int k = 0; k <= SEG / 2; k++)
            p [k] += ((double) out [k][0] * out [k][0] + (double) out [k][1] * out [k][1]) / NSEG;
    }
    fftwf_destroy_plan (plan);
    fftwf_free (buf);
    fftwf_free (out);
}

//  Mean of p over bins [lo, hi] excluding |k - centre| <= guard.
static double
s_floor (const double *p, int lo, int hi, int centre, int guard)
{
    double sum = 0;
    int n = 0;
    for (int k = lo; k <= hi; k++)
        if (abs (k - centre) > guard) {
            sum += p [k];
            n++;
        }
    return sum / n;
}

//  The fading sine: -90 dBFS at the start to -110 dBFS at the end (dB-linear).
static void
s_fading_sine (float *x)
{
    for (int i = 0; i < N; i++) {
        double db = -90.0 - 20.0 * i / (double) N;
        x [i] = (float) (pow (10.0, db / 20.0) * sin (2 * M_PI * 1000.0 * i / RATE));
    }
}

//  Largest harmonic-to-floor ratio in dB over harmonics 2..9.
static double
s_worst_harmonic_db (const float *y)
{
    double *p = malloc (sizeof (double) * (SEG / 2 + 1));
    s_welch (y, p);
    double worst = -1e9;
    for (int h = 2; h <= 9; h++) {
        int b = 100 * h;
        double fl = s_floor (p, b - 40, b + 40, b, 3);
        double pk = 0;
        for (int k = b - 1; k <= b + 1; k++)
            if (p [k] > pk)
                pk = p [k];
        double r = 10 * log10 (pk / fl);
        if (r > worst)
            worst = r;
    }
    free (p);
    return worst;
}

static void
test_fading_sine_no_harmonics (void **state)
{
    float *x = malloc (sizeof (float) * N), *y = malloc (sizeof (float) * N);
    s_fading_sine (x);

    memcpy (y, x, sizeof (float) * N);
    dither_t *d = dither_new (16, 1, DITHER_NONE, 1);
    dither_process (d, y, N);
    dither_destroy (&d);
    assert_null (d);
    double undithered = s_worst_harmonic_db (y);
    printf ("rounded only: worst harmonic %.1f dB above the floor\n", undithered);
    assert_true (undithered > 20.0);     //  truncation distortion is visible

    memcpy (y, x, sizeof (float) * N);
    d = dither_new (16, 1, DITHER_TPDF, 7);
    dither_process (d, y, N);
    dither_destroy (&d);
    double dithered = s_worst_harmonic_db (y);
    printf ("TPDF: worst harmonic %.1f dB above the floor (limit 6 dB)\n", dithered);
    assert_true (dithered < 6.0);

    memcpy (y, x, sizeof (float) * N);
    d = dither_new (16, 1, DITHER_SHAPED, 7);
    dither_process (d, y, N);
    dither_destroy (&d);
    dithered = s_worst_harmonic_db (y);
    printf ("shaped: worst harmonic %.1f dB above the floor (limit 6 dB)\n", dithered);
    assert_true (dithered < 6.0);
    free (x);
    free (y);
}

static void
test_tpdf_noise_power (void **state)
{
    float *x = malloc (sizeof (float) * N), *y = malloc (sizeof (float) * N);
    float *e = malloc (sizeof (float) * N);
    //  a -20 dBFS sine plus a little noise: fractional parts uniformly spread
    srand (99);
    for (int i = 0; i < N; i++)
        x [i] = (float) (0.1 * sin (2 * M_PI * 441.3 * i / RATE) + 1e-3 * (rand () / (double) RAND_MAX - 0.5));
    memcpy (y, x, sizeof (float) * N);
    dither_t *d = dither_new (16, 1, DITHER_TPDF, 42);
    dither_process (d, y, N);
    assert_int_equal (dither_clamped (d), 0);
    dither_destroy (&d);
    double q = dither_lsb (16), pow_e = 0;
    for (int i = 0; i < N; i++) {
        e [i] = y [i] - x [i];
        pow_e += (double) e [i] * e [i];
        //  on the 16-bit grid: y * 32768 is an integer
        double k = y [i] * 32768.0;
        assert_true (k == floor (k));
    }
    pow_e /= N;
    double theory_db = 10 * log10 (q * q / 4.0);    //  -96.33 dBFS
    double got_db = 10 * log10 (pow_e);
    printf ("TPDF total error %.2f dBFS, theory q^2/4 = %.2f dBFS\n", got_db, theory_db);
    assert_true (fabs (got_db - theory_db) < 1.0);

    //  white: mean power density of the error in 0-12 kHz vs 12-24 kHz
    double *p = malloc (sizeof (double) * (SEG / 2 + 1));
    s_welch (e, p);
    double lo = s_floor (p, 10, SEG / 4, -1000, 0), hi = s_floor (p, SEG / 4, SEG / 2 - 10, -1000, 0);
    printf ("TPDF error spectrum: low half %.2f dB, high half %.2f dB\n",
            10 * log10 (lo), 10 * log10 (hi));
    assert_true (fabs (10 * log10 (lo / hi)) < 1.0);

    //  shaped: less error power under 4 kHz than flat TPDF (>= 6 dB)
    memcpy (y, x, sizeof (float) * N);
    d = dither_new (16, 1, DITHER_SHAPED, 42);
    dither_process (d, y, N);
    dither_destroy (&d);
    for (int i = 0; i < N; i++)
        e [i] = y [i] - x [i];
    double *ps = malloc (sizeof (double) * (SEG / 2 + 1));
    s_welch (e, ps);
    double lo_s = s_floor (ps, 10, 400, -1000, 0), lo_f = s_floor (p, 10, 400, -1000, 0);
    printf ("shaped vs flat below 4 kHz: %.1f dB\n", 10 * log10 (lo_s / lo_f));
    assert_true (10 * log10 (lo_s / lo_f) < -6.0);
    free (ps);
    free (p);
    free (x);
    free (y);
    free (e);
}

//  The error of channel c of stereo y against x, de-interleaved into e.
static void
s_channel_error (const float *y, const float *x, int c, float *e)
{
    for (int i = 0; i < N; i++)
        e [i] = y [2 * i + c] - x [2 * i + c];
}

static void
test_stereo (void **state)
{
    (void) state;
    float *x = malloc (sizeof (float) * 2 * N), *y = malloc (sizeof (float) * 2 * N);
    float *z = malloc (sizeof (float) * 2 * N);
    float *e [2] = { malloc (sizeof (float) * N), malloc (sizeof (float) * N) };
    double *pf = malloc (sizeof (double) * (SEG / 2 + 1));
    double *ps = malloc (sizeof (double) * (SEG / 2 + 1));
    srand (7);
    for (int i = 0; i < N; i++) {
        x [2 * i] = (float) (0.1 * sin (2 * M_PI * 441.3 * i / RATE)
                             + 1e-3 * (rand () / (double) RAND_MAX - 0.5));
        x [2 * i + 1] = (float) (0.05 * sin (2 * M_PI * 1234.5 * i / RATE)
                                 + 1e-3 * (rand () / (double) RAND_MAX - 0.5));
    }
    const double q = dither_lsb (16), theory_db = 10 * log10 (q * q / 4.0);
    for (int c = 0; c < 2; c++) {
        memcpy (y, x, sizeof (float) * 2 * N);
        dither_t *d = dither_new (16, 2, DITHER_TPDF, 5);
        dither_process (d, y, N);
        dither_destroy (&d);
        s_channel_error (y, x, c, e [c]);
        double pw = 0;
        for (int i = 0; i < N; i++)
            pw += (double) e [c][i] * e [c][i];
        printf ("stereo TPDF channel %d: error %.2f dBFS (theory %.2f)\n", c,
                10 * log10 (pw / N), theory_db);
        assert_true (fabs (10 * log10 (pw / N) - theory_db) < 1.0);
        s_welch (e [c], pf);
        memcpy (y, x, sizeof (float) * 2 * N);
        d = dither_new (16, 2, DITHER_SHAPED, 5);
        dither_process (d, y, N);
        dither_destroy (&d);
        for (int i = 0; i < 2 * N; i++) {
            double k = y [i] * 32768.0;
            assert_true (k == floor (k));
        }
        s_channel_error (y, x, c, e [c]);
        s_welch (e [c], ps);
        double shaped = 10 * log10 (s_floor (ps, 10, 400, -1000, 0) / s_floor (pf, 10, 400, -1000, 0));
        printf ("stereo shaped channel %d vs flat below 4 kHz: %.1f dB\n", c, shaped);
        assert_true (shaped < -6.0);
    }
    //  the last run's shaped errors of the two channels: uncorrelated
    double sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < N; i++) {
        sab += (double) e [0][i] * e [1][i];
        saa += (double) e [0][i] * e [0][i];
        sbb += (double) e [1][i] * e [1][i];
    }
    printf ("stereo shaped error correlation %.4f\n", sab / sqrt (saa * sbb));
    assert_true (fabs (sab / sqrt (saa * sbb)) < 0.02);
    //  chunks of odd lengths equal one block
    memcpy (z, x, sizeof (float) * 2 * N);
    dither_t *d = dither_new (16, 2, DITHER_SHAPED, 5);
    for (size_t at = 0, n = 1; at < (size_t) N; at += n, n = n * 3 + 1)
        dither_process (d, z + 2 * at, at + n > (size_t) N ? (size_t) N - at : n);
    dither_destroy (&d);
    assert_memory_equal (y, z, sizeof (float) * 2 * N);
    free (x);
    free (y);
    free (z);
    free (e [0]);
    free (e [1]);
    free (pf);
    free (ps);
}

//  Dual mono (the same samples in both channels, as a mono track in a
//  stereo album): both modes give both channels the same output, with the
//  error of one channel's dither (TPDF: q^2/4; shaped: still on the
//  grid). A stretch of true stereo after it is dithered per channel.
static void
test_dual_mono (void **state)
{
    (void) state;
    float *x = malloc (sizeof (float) * 2 * N), *y = malloc (sizeof (float) * 2 * N);
    for (int i = 0; i < N; i++) {
        float v = (float) (0.1 * sin (2 * M_PI * 441.3 * i / RATE));
        x [2 * i] = v;
        x [2 * i + 1] = i < N / 2 ? v : -v;       //  the second half: stereo
    }
    const double q = dither_lsb (16);
    for (int shaped = 0; shaped < 2; shaped++) {
        memcpy (y, x, sizeof (float) * 2 * N);
        dither_t *d = dither_new (16, 2, shaped ? DITHER_SHAPED : DITHER_TPDF, 5);
        dither_process (d, y, N);
        dither_destroy (&d);
        double pw = 0;
        int same = 0, diff_noise = 0;
        for (int i = 0; i < N / 2; i++) {
            same += y [2 * i] == y [2 * i + 1];
            double e = (double) y [2 * i] - x [2 * i];
            pw += e * e;
        }
        for (int i = N / 2; i < N; i++)
            diff_noise += y [2 * i] + y [2 * i + 1] != 0.0f;   //  -v and v: own dithers
        printf ("dual mono, %s: %d of %d frames the same in both channels, error %.3f q^2; "
                "stereo after it: %d of %d frames with their own dither\n",
                shaped ? "shaped" : "TPDF", same, N / 2, pw / (N / 2) / (q * q), diff_noise,
                N / 2);
        assert_int_equal (same, N / 2);
        if (!shaped)
            assert_true (fabs (pw / (N / 2) / (q * q) - 0.25) < 0.02);
        assert_true (diff_noise > N / 8);          //  linked, it would be none
    }
    free (x);
    free (y);
}

static void
test_deterministic_and_chunked (void **state)
{
    const int ch = 2;
    const size_t n = 50001;
    float *a = malloc (n * ch * sizeof (float)), *b = malloc (n * ch * sizeof (float));
    for (size_t i = 0; i < n * ch; i++)
        a [i] = b [i] = (float) (0.3 * sin (i * 0.001) * sin (i * 0.37));
    dither_t *d1 = dither_new (16, ch, DITHER_SHAPED, 5);
    dither_t *d2 = dither_new (16, ch, DITHER_SHAPED, 5);
    dither_process (d1, a, n);
    unsigned seed = 777;
    printf ("chunk seed %u\n", seed);
    srand (seed);
    size_t pos = 0;
    while (pos < n) {
        size_t step = 1 + (size_t) rand () % 3000;
        if (step > n - pos)
            step = n - pos;
        dither_process (d2, b + pos * ch, step);
        pos += step;
    }
    assert_memory_equal (a, b, n * ch * sizeof (float));
    dither_destroy (&d1);
    dither_destroy (&d2);
    //  clamping at full scale stays on the grid and is counted
    float hot [4] = { 1.5f, -1.5f, 0.99999f, -1.0f };
    dither_t *d = dither_new (16, 1, DITHER_SHAPED, 1);
    dither_process (d, hot, 4);
    assert_true (hot [0] == 32767.0f / 32768.0f);
    assert_true (hot [1] == -1.0f);
    assert_true (dither_clamped (d) >= 2);
    dither_destroy (&d);
    //  bad arguments
    assert_null (dither_new (4, 1, DITHER_TPDF, 1));
    assert_null (dither_new (16, 0, DITHER_TPDF, 1));
    assert_null (dither_new (16, 9, DITHER_TPDF, 1));
    free (a);
    free (b);
}

//  Plain rounding (DITHER_NONE) at 16 and 24 bits: every length 0..17 and
//  a long run, values inside and beyond full scale and exact ties, against
//  round-half-even and clamping written out here; clamps are counted.
static void
test_rounding (void **state)
{
    static const int bits [2] = { 16, 24 };
    srand (3);
    for (int b = 0; b < 2; b++) {
        double q = ldexp (1.0, bits [b] - 1);
        for (size_t n = 0; n <= 1001; n = n < 17 ? n + 1 : n == 17 ? 1001 : 1002) {
            float *x = malloc ((n + 1) * sizeof (float)), *y = malloc ((n + 1) * sizeof (float));
            int64_t expect_clamped = 0;
            for (size_t i = 0; i < n; i++) {
                double v = (rand () / (double) RAND_MAX - 0.5) * 2.4;     //  some beyond +-1
                if (i % 5 == 3)
                    v = (floor (v * q) + 0.5) / q;                       //  an exact tie
                if (i % 7 == 5)
                    v = i % 2 ? -0.3 / q : -0.0;             //  rounds to zero from below
                x [i] = y [i] = (float) v;
            }
            dither_t *d = dither_new (bits [b], 1, DITHER_NONE, 1);
            dither_process (d, y, n);
            for (size_t i = 0; i < n; i++) {
                double k = nearbyint ((double) x [i] * q);               //  ties to even
                if (k < -q) { k = -q; expect_clamped++; }
                if (k > q - 1) { k = q - 1; expect_clamped++; }
                k += 0.0;                                    //  zero is +0
                float want = (float) (k / q);
                if (memcmp (&y [i], &want, sizeof want))
                    fail_msg ("%d-bit, n %zu, sample %zu: %.9g -> %.9g, want %.9g", bits [b],
                              n, i, x [i], y [i], k / q);
            }
            assert_int_equal (dither_clamped (d), expect_clamped);
            dither_destroy (&d);
            free (x);
            free (y);
        }
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_fading_sine_no_harmonics),
        cmocka_unit_test (test_tpdf_noise_power),
        cmocka_unit_test (test_deterministic_and_chunked),
        cmocka_unit_test (test_stereo),
        cmocka_unit_test (test_dual_mono),
        cmocka_unit_test (test_rounding),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
