/*  LR4 three-band crossover: the bands sum to an allpass, flat within
    0.01 dB (impulse response of low + mid + high evaluated by DFT from
    20 Hz to 20 kHz); each band's measured response matches the designed
    one within 0.05 dB, -6.02 dB for both bands at each split frequency
    (Linkwitz-Riley: each LR4 half is a squared Butterworth, -3.01 dB
    twice); in-place use; chunked processing equal to one block.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "worker/dsp/crossover.h"
#include "worker/dsp/multiband.h"
#include "kernels_util.h"

#define FS 48000.0

//  |DFT| in dB of x (len samples, stride channels) at f_hz.
static double
s_dft_db (const float *x, size_t len, int stride, double f_hz, double fs)
{
    double re = 0.0, im = 0.0, w = 2.0 * M_PI * f_hz / fs;
    for (size_t n = 0; n < len; n++) {
        double v = x [n * (size_t) stride];
        if (v == 0.0)
            continue;
        re += v * cos (w * (double) n);
        im -= v * sin (w * (double) n);
    }
    return 10.0 * log10 (re * re + im * im);
}

static void
test_sum_flat (void **state)
{
    const double splits [][2] = { { 200.0, 2000.0 }, { 40.0, 16000.0 }, { 1000.0, 1200.0 } };
    const size_t len = 1u << 16;
    for (size_t s = 0; s < sizeof splits / sizeof splits [0]; s++) {
        crossover_t *x = crossover_new (splits [s][0], splits [s][1], FS, 2);
        assert_non_null (x);
        float *in = ku_alloc (len, 2), *lo = ku_alloc (len, 2);
        float *mi = ku_alloc (len, 2), *hi = ku_alloc (len, 2);
        in [0] = 1.0f;
        in [1] = 0.5f;
        crossover_process (x, in, lo, mi, hi, len);
        for (size_t i = 0; i < len * 2; i++)
            in [i] = lo [i] + mi [i] + hi [i];
        double worst = 0.0;
        for (int k = 0; k <= 60; k++) {
            double f = 20.0 * pow (1000.0, k / 60.0);         //  20 Hz .. 20 kHz
            double db = s_dft_db (in, len, 2, f, FS);
            double db1 = s_dft_db (in + 1, len, 2, f, FS) + 20.0 * log10 (2.0);
            worst = fmax (worst, fmax (fabs (db), fabs (db1)));
            //  Designed sum is an allpass too.
            assert_true (fabs (crossover_response_db (x, 3, f)) < 1e-9);
        }
        printf ("# split %.0f/%.0f Hz: |low+mid+high| within %.6f dB of 0\n",
                splits [s][0], splits [s][1], worst);
        assert_true (worst < 0.01);          //  brief: flat within 0.01 dB
        crossover_destroy (&x);
        assert_null (x);
        free (in); free (lo); free (mi); free (hi);
    }
}

//  Sine through process: band level vs designed response.
static void
test_bands (void **state)
{
    const double f_lo = 250.0, f_hi = 4000.0;
    crossover_t *x = crossover_new (f_lo, f_hi, FS, 1);
    assert_non_null (x);
    //  LR4 at its split: -6.02 dB (two Butterworth -3.01 dB halves).
    assert_true (fabs (crossover_response_db (x, 0, f_lo) + 6.0206) < 0.01);
    assert_true (fabs (crossover_response_db (x, 2, f_hi) + 6.0206) < 0.01);
    const double freqs [] = { 50.0, 250.0, 1000.0, 4000.0, 12000.0 };
    const size_t settle = 24000, len = 24000;
    float *in = ku_alloc (settle + len, 1);
    float *b [3] = { ku_alloc (settle + len, 1), ku_alloc (settle + len, 1),
                     ku_alloc (settle + len, 1) };
    for (size_t k = 0; k < sizeof freqs / sizeof freqs [0]; k++) {
        crossover_reset (x);
        ku_sine (in, settle + len, 1, freqs [k], FS, 0.5, 0.0);
        crossover_process (x, in, b [0], b [1], b [2], settle + len);
        for (int band = 0; band < 3; band++) {
            double want = crossover_response_db (x, band, freqs [k]);
            if (want < -60.0)
                continue;
            double got = 20.0 * log10 (ku_sine_amp (b [band], 1, 0, settle, len,
                                                    freqs [k], FS) / 0.5);
            if (fabs (got - want) > 0.05)
                fail_msg ("band %d at %.0f Hz: %.4f dB measured, %.4f designed",
                          band, freqs [k], got, want);
        }
    }
    crossover_destroy (&x);
    free (in); free (b [0]); free (b [1]); free (b [2]);
}

//  in aliasing a band, and chunks of random size, give the same bands.
static void
test_inplace_chunked (void **state)
{
    const size_t frames = 30000;
    const int ch = 3;
    testsig_rng_t rng;
    testsig_rng_seed (&rng, ku_seed ("crossover"));
    float *in = ku_alloc (frames, ch);
    for (size_t i = 0; i < frames * ch; i++)
        in [i] = (float) (0.2 * testsig_rng_gauss (&rng));
    float *r [3] = { ku_alloc (frames, ch), ku_alloc (frames, ch), ku_alloc (frames, ch) };
    float *q [3] = { ku_alloc (frames, ch), ku_alloc (frames, ch), ku_alloc (frames, ch) };
    crossover_t *a = crossover_new (120.0, 3000.0, 44100.0, ch);
    crossover_t *b = crossover_new (120.0, 3000.0, 44100.0, ch);
    crossover_process (a, in, r [0], r [1], r [2], frames);
    for (int alias = 0; alias < 3; alias++) {
        crossover_reset (b);
        memcpy (q [alias], in, frames * ch * sizeof (float));
        for (size_t pos = 0; pos < frames; ) {
            size_t n = ku_block (&rng, 4000);
            if (n > frames - pos)
                n = frames - pos;
            size_t off = pos * ch;
            crossover_process (b, q [alias] + off, q [0] + off, q [1] + off, q [2] + off, n);
            pos += n;
        }
        for (int band = 0; band < 3; band++)
            assert_memory_equal (r [band], q [band], frames * ch * sizeof (float));
    }
    crossover_destroy (&a);
    crossover_destroy (&b);
    assert_null (crossover_new (3000.0, 120.0, 44100.0, 2));
    assert_null (crossover_new (120.0, 30000.0, 44100.0, 2));
    assert_null (crossover_new (120.0, 3000.0, 44100.0, 0));
    crossover_destroy (NULL);
    free (in);
    for (int k = 0; k < 3; k++) {
        free (r [k]);
        free (q [k]);
    }
}

//  Multiband with every band at ratio 1 and 0 dB makeup: flat (the
//  crossover's allpass only); with the low band compressing hard, a
//  loud bass tone is reduced while a quiet treble tone is untouched.
static void
test_multiband (void **state)
{
    multiband_cfg_t cfg = { .enabled = true, .low_hz = 200.0, .high_hz = 3000.0 };
    for (int b = 0; b < 3; b++)
        cfg.band [b] = (comp_cfg_t) { .enabled = true, .threshold_db = -20.0, .ratio = 1.0,
                                      .attack_ms = 5.0, .release_ms = 50.0, .knee_db = 6.0 };
    const size_t frames = 48000;
    float *buf = ku_alloc (frames, 2);
    multiband_t *m = multiband_new (&cfg, 48000, 2);
    assert_non_null (m);
    const double freqs [] = { 60.0, 1000.0, 9000.0 };
    for (int k = 0; k < 3; k++) {
        multiband_reset (m);
        ku_sine (buf, frames, 2, freqs [k], FS, 0.5, 0.0);
        multiband_process (m, buf, frames);
        double db = 20.0 * log10 (ku_sine_amp (buf, 2, 1, 24000, 24000, freqs [k], FS) / 0.5);
        assert_true (fabs (db) < 0.01);
    }
    multiband_destroy (&m);
    cfg.band [0].ratio = 10.0;
    m = multiband_new (&cfg, 48000, 2);
    assert_non_null (m);
    ku_sine (buf, frames, 2, 60.0, FS, 0.5, 0.0);
    float *t = ku_alloc (frames, 2);
    ku_sine (t, frames, 2, 9000.0, FS, 0.01, 0.0);
    for (size_t i = 0; i < frames * 2; i++)
        buf [i] += t [i];
    multiband_process (m, buf, frames);
    double bass = 20.0 * log10 (ku_sine_amp (buf, 2, 0, 24000, 24000, 60.0, FS) / 0.5);
    double treble = 20.0 * log10 (ku_sine_amp (buf, 2, 0, 24000, 24000, 9000.0, FS) / 0.01);
    dyn_stats_t st;
    multiband_stats (m, 0, &st);
    printf ("# multiband: bass %.2f dB, treble %.3f dB, low band GR max %.2f dB\n",
            bass, treble, st.gr_max_db);
    assert_true (bass < -6.0);
    assert_true (fabs (treble) < 0.05);
    assert_true (st.gr_max_db > 6.0);
    multiband_stats (m, 2, &st);
    assert_true (st.gr_max_db < 0.01);
    multiband_destroy (&m);
    //  Random block sizes give the same bytes as one block.
    {
        testsig_rng_t rng;
        testsig_rng_seed (&rng, ku_seed ("multiband"));
        multiband_t *one = multiband_new (&cfg, 48000, 2), *many = multiband_new (&cfg, 48000, 2);
        assert_non_null (one);
        assert_non_null (many);
        float *x = ku_alloc (frames, 2), *y = ku_alloc (frames, 2);
        for (size_t i = 0; i < frames * 2; i++)
            x [i] = y [i] = (float) (((i / 6000) % 2 ? 0.6 : 0.05) * testsig_rng_gauss (&rng));
        multiband_process (one, x, frames);
        for (size_t pos = 0; pos < frames; ) {
            size_t n = ku_block (&rng, 2000);
            if (n > frames - pos)
                n = frames - pos;
            multiband_process (many, y + pos * 2, n);
            pos += n;
        }
        assert_memory_equal (x, y, frames * 2 * sizeof (float));
        multiband_destroy (&one);
        multiband_destroy (&many);
        free (x);
        free (y);
    }
    cfg.low_hz = 10.0;
    assert_null (multiband_new (&cfg, 48000, 2));
    free (buf);
    free (t);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_sum_flat),
        cmocka_unit_test (test_bands),
        cmocka_unit_test (test_inplace_chunked),
        cmocka_unit_test (test_multiband),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
