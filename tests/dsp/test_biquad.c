/*  Biquad designs and cascade: measured magnitude (sine through the
    process function, least-squares amplitude after the transient) within
    0.05 dB of biquad_response_db and of the textbook values (RBJ Audio EQ
    Cookbook: gain_db at a peak's centre, gain/2 at a shelf's midpoint,
    Q at a 2nd-order pass filter's corner; Butterworth -3.01 dB at the
    corner), chunked processing equal to one block, silence, bad designs.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "worker/dsp/biquad.h"
#include "common/err.h"
#include "kernels_util.h"

#define FS       48000.0
#define TOL_DB   0.05        //  brief: measured vs analytic, 0.05 dB

//  Runs a sine of f_hz through a fresh cascade and returns the measured
//  gain in dB (both channels must agree).
static double
s_measure_db (const biquad_coefs_t *c, int n, double f_hz, double fs)
{
    const int ch = 2;
    //  Settle for at least 0.5 s or 20 periods, then measure 0.5 s.
    size_t settle = (size_t) fmax (fs * 0.5, 20.0 * fs / f_hz);
    size_t len = (size_t) (fs * 0.5), frames = settle + len;
    float *buf = ku_alloc (frames, ch);
    ku_sine (buf, frames, ch, f_hz, fs, 0.25, 0.3);
    double in = ku_sine_amp (buf, ch, 0, settle, len, f_hz, fs);
    biquad_chain_t *bq = biquad_chain_new (c, n, ch);
    assert_non_null (bq);
    biquad_chain_process (bq, buf, frames);
    double out0 = ku_sine_amp (buf, ch, 0, settle, len, f_hz, fs);
    double out1 = ku_sine_amp (buf, ch, 1, settle, len, f_hz, fs);
    assert_true (fabs (out0 - out1) <= 1e-9 + 1e-7 * out0);
    biquad_chain_destroy (&bq);
    assert_null (bq);
    free (buf);
    return 20.0 * log10 (out0 / in);
}

//  Checks measured vs analytic at a set of frequencies around f0.
static void
s_check_sweep (const biquad_coefs_t *c, int n, double f0)
{
    const double mult [] = { 0.1, 0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 4.0, 8.0 };
    for (size_t k = 0; k < sizeof mult / sizeof mult [0]; k++) {
        double f = f0 * mult [k];
        if (f < 5.0 || f > 0.45 * FS)
            continue;
        double want = biquad_response_db (c, n, f, FS);
        if (want < -80.0)
            continue;           //  deep stop band: float output noise dominates
        double got = s_measure_db (c, n, f, FS);
        if (fabs (got - want) > TOL_DB)
            fail_msg ("f0 %.1f Hz at %.1f Hz: measured %.4f dB, analytic %.4f dB",
                      f0, f, got, want);
    }
}

static void
test_peak (void **state)
{
    biquad_coefs_t c;
    assert_int_equal (biquad_design (EQ_PEAK, 1000.0, 6.0, 1.0, FS, &c), 0);
    //  RBJ: the peak's centre is exactly gain_db.
    assert_true (fabs (biquad_response_db (&c, 1, 1000.0, FS) - 6.0) < 1e-9);
    assert_true (fabs (s_measure_db (&c, 1, 1000.0, FS) - 6.0) < TOL_DB);
    s_check_sweep (&c, 1, 1000.0);
    assert_int_equal (biquad_design (EQ_PEAK, 120.0, -12.0, 4.0, FS, &c), 0);
    assert_true (fabs (s_measure_db (&c, 1, 120.0, FS) + 12.0) < TOL_DB);
    s_check_sweep (&c, 1, 120.0);
    //  0 dB is an identity.
    assert_int_equal (biquad_design (EQ_PEAK, 3000.0, 0.0, 0.7, FS, &c), 0);
    assert_true (fabs (biquad_response_db (&c, 1, 777.0, FS)) < 1e-12);
}

static void
test_shelves (void **state)
{
    biquad_coefs_t c;
    assert_int_equal (biquad_design (EQ_LOWSHELF, 200.0, 6.0, 1.0, FS, &c), 0);
    //  RBJ shelves: gain/2 at the midpoint f0, gain at DC.
    assert_true (fabs (biquad_response_db (&c, 1, 200.0, FS) - 3.0) < 1e-9);
    assert_true (fabs (s_measure_db (&c, 1, 200.0, FS) - 3.0) < TOL_DB);
    assert_true (fabs (s_measure_db (&c, 1, 10.0, FS) - 6.0) < 0.1);
    s_check_sweep (&c, 1, 200.0);
    assert_int_equal (biquad_design (EQ_HIGHSHELF, 6000.0, -4.0, 0.7, FS, &c), 0);
    assert_true (fabs (s_measure_db (&c, 1, 6000.0, FS) + 2.0) < TOL_DB);
    s_check_sweep (&c, 1, 6000.0);
    //  Too steep a slope for the gain: the cookbook's alpha is imaginary.
    assert_int_equal (biquad_design (EQ_LOWSHELF, 200.0, 24.0, 18.0, FS, &c), MF_ERR_INVALID);
}

static void
test_pass (void **state)
{
    biquad_coefs_t c;
    assert_int_equal (biquad_design (EQ_HIGHPASS, 100.0, 0.0, 2.0, FS, &c), 0);
    //  RBJ 2nd-order pass filters: |H(f0)| = Q.
    assert_true (fabs (s_measure_db (&c, 1, 100.0, FS) - 20.0 * log10 (2.0)) < TOL_DB);
    s_check_sweep (&c, 1, 100.0);
    assert_int_equal (biquad_design (EQ_LOWPASS, 5000.0, 0.0, M_SQRT1_2, FS, &c), 0);
    //  Butterworth: -3.0103 dB (= 10 log10 (1/2)) at the corner.
    assert_true (fabs (s_measure_db (&c, 1, 5000.0, FS) + 3.0103) < TOL_DB);
    s_check_sweep (&c, 1, 5000.0);
}

static void
test_butterworth (void **state)
{
    biquad_coefs_t c [4];
    for (int order = 2; order <= 8; order += 2) {
        int n = biquad_design_butterworth (EQ_HIGHPASS, order, 30.0, FS, c);
        assert_int_equal (n, order / 2);
        //  -10 log10 2 at the corner, for every order (prewarped at f0).
        assert_true (fabs (biquad_response_db (c, n, 30.0, FS) + 3.0103) < 1e-3);
        assert_true (fabs (s_measure_db (c, n, 30.0, FS) + 3.0103) < TOL_DB);
        //  Maximally flat: an octave above -> -10 log10 (1 + 2^-2N) dB.
        double want = -10.0 * log10 (1.0 + pow (2.0, -2.0 * order));
        assert_true (fabs (s_measure_db (c, n, 60.0, FS) - want) < TOL_DB);
        s_check_sweep (c, n, 30.0);
    }
    assert_int_equal (biquad_design_butterworth (EQ_LOWPASS, 4, 8000.0, 44100.0, c), 2);
    assert_true (fabs (biquad_response_db (c, 2, 8000.0, 44100.0) + 3.0103) < 1e-3);
    assert_int_equal (biquad_design_butterworth (EQ_PEAK, 4, 100.0, FS, c), MF_ERR_INVALID);
    assert_int_equal (biquad_design_butterworth (EQ_HIGHPASS, 3, 100.0, FS, c), MF_ERR_INVALID);
}

static void
test_bad_designs (void **state)
{
    biquad_coefs_t c = { 1, 2, 3, 4, 5 };
    assert_int_equal (biquad_design (EQ_PEAK, 0.0, 3.0, 1.0, FS, &c), MF_ERR_INVALID);
    assert_int_equal (biquad_design (EQ_PEAK, 24000.0, 3.0, 1.0, FS, &c), MF_ERR_INVALID);
    assert_int_equal (biquad_design (EQ_PEAK, 1000.0, 3.0, 0.0, FS, &c), MF_ERR_INVALID);
    assert_int_equal (biquad_design (EQ_PEAK, NAN, 3.0, 1.0, FS, &c), MF_ERR_INVALID);
    assert_int_equal (biquad_design (EQ_PEAK, 1000.0, INFINITY, 1.0, FS, &c), MF_ERR_INVALID);
    assert_int_equal (biquad_design ((eq_type_t) 99, 1000.0, 3.0, 1.0, FS, &c), MF_ERR_INVALID);
    assert_true (c.b0 == 1 && c.a2 == 5);          //  untouched on failure
    assert_null (biquad_chain_new (&c, 1, 0));
    assert_null (biquad_chain_new (&c, 1, 9));
    assert_null (biquad_chain_new (&c, -1, 2));
    assert_null (biquad_chain_new (NULL, 1, 2));
    biquad_chain_destroy (NULL);
}

//  HP4 + 3 EQ bands, 1..8 channels, noise: random block sizes give the
//  same bytes as one block; silence stays exactly silent; reset works.
static void
test_chunked (void **state)
{
    biquad_coefs_t c [5];
    assert_int_equal (biquad_design_butterworth (EQ_HIGHPASS, 4, 20.0, 44100.0, c), 2);
    assert_int_equal (biquad_design (EQ_LOWSHELF, 100.0, 3.0, 1.0, 44100.0, c + 2), 0);
    assert_int_equal (biquad_design (EQ_PEAK, 2500.0, -2.0, 1.4, 44100.0, c + 3), 0);
    assert_int_equal (biquad_design (EQ_HIGHSHELF, 10000.0, 1.5, 0.7, 44100.0, c + 4), 0);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, ku_seed ("biquad"));
    const size_t frames = 20000;
    for (int ch = 1; ch <= 8; ch++) {
        float *a = ku_alloc (frames, ch), *b = ku_alloc (frames, ch);
        for (size_t i = 0; i < frames * (size_t) ch; i++)
            a [i] = b [i] = (float) (0.3 * testsig_rng_gauss (&rng));
        biquad_chain_t *one = biquad_chain_new (c, 5, ch);
        biquad_chain_t *many = biquad_chain_new (c, 5, ch);
        assert_int_equal (biquad_chain_sections (one), 5);
        assert_int_equal (biquad_chain_channels (one), ch);
        biquad_chain_process (one, a, frames);
        for (size_t pos = 0; pos < frames; ) {
            size_t n = ku_block (&rng, 3000);
            if (n > frames - pos)
                n = frames - pos;
            biquad_chain_process (many, b + pos * (size_t) ch, n);
            pos += n;
        }
        assert_memory_equal (a, b, frames * (size_t) ch * sizeof (float));
        //  After a reset, silence in gives exact silence out.
        biquad_chain_reset (one);
        memset (a, 0, frames * (size_t) ch * sizeof (float));
        biquad_chain_process (one, a, frames);
        for (size_t i = 0; i < frames * (size_t) ch; i++)
            assert_true (a [i] == 0.0f);
        //  Zero sections pass through; zero frames is a no-op.
        biquad_chain_process (one, a, 0);
        biquad_chain_destroy (&one);
        biquad_chain_destroy (&many);
        free (a);
        free (b);
    }
    biquad_chain_t *pass = biquad_chain_new (NULL, 0, 2);
    assert_non_null (pass);
    float x [4] = { 0.1f, -0.2f, 0.3f, -0.4f };
    biquad_chain_process (pass, x, 2);
    assert_true (x [0] == 0.1f && x [3] == -0.4f);
    assert_int_equal (biquad_chain_set_coefs (pass, c, 1), MF_ERR_INVALID);
    biquad_chain_destroy (&pass);
}

//  Changing coefficients keeps the state (no click from a reset).
static void
test_set_coefs (void **state)
{
    biquad_coefs_t c1, c2;
    assert_int_equal (biquad_design (EQ_PEAK, 1000.0, 3.0, 1.0, FS, &c1), 0);
    assert_int_equal (biquad_design (EQ_PEAK, 1000.0, 6.0, 1.0, FS, &c2), 0);
    biquad_chain_t *bq = biquad_chain_new (&c1, 1, 1);
    float *buf = ku_alloc (48000, 1);
    ku_sine (buf, 48000, 1, 1000.0, FS, 0.25, 0.0);
    biquad_chain_process (bq, buf, 24000);
    assert_int_equal (biquad_chain_set_coefs (bq, &c2, 1), 0);
    biquad_chain_process (bq, buf + 24000, 24000);
    double g = 20.0 * log10 (ku_sine_amp (buf, 1, 0, 36000, 12000, 1000.0, FS) / 0.25);
    assert_true (fabs (g - 6.0) < TOL_DB);
    biquad_chain_destroy (&bq);
    free (buf);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_peak),
        cmocka_unit_test (test_shelves),
        cmocka_unit_test (test_pass),
        cmocka_unit_test (test_butterworth),
        cmocka_unit_test (test_bad_designs),
        cmocka_unit_test (test_chunked),
        cmocka_unit_test (test_set_coefs),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
