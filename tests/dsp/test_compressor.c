/*  Compressor (Giannoulis, Massberg, Reiss 2012): static curve against
    the paper's formula written out here (within 0.1 dB, brief), the
    steady-state gain on constant-level input equal to the static curve,
    attack and release time constants from step tests (time to cover
    1 - 1/e of the step in dB; within 5 %, brief), stereo link, makeup,
    silence, chunked processing equal to one block.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "worker/dsp/compressor.h"
#include "kernels_util.h"

#define FS 48000

//  The paper's soft-knee gain computer (eq. 4), written independently.
static double
s_formula (double x, double t, double r, double w)
{
    if (2.0 * (x - t) < -w)
        return x;
    if (2.0 * fabs (x - t) <= w && w > 0.0)
        return x + (1.0 / r - 1.0) * pow (x - t + w / 2.0, 2.0) / (2.0 * w);
    return t + (x - t) / r;
}

static comp_cfg_t
s_cfg (double t, double r, double att, double rel, double knee, double makeup)
{
    return (comp_cfg_t) { .enabled = true, .threshold_db = t, .ratio = r, .attack_ms = att,
                          .release_ms = rel, .knee_db = knee, .makeup_db = makeup };
}

static void
test_static_curve (void **state)
{
    const double knees [] = { 0.0, 6.0, 24.0 };
    for (size_t k = 0; k < 3; k++) {
        comp_cfg_t cfg = s_cfg (-18.0, 3.0, 10.0, 100.0, knees [k], 2.0);
        for (double x = -80.0; x <= 6.0; x += 0.25) {
            double want = s_formula (x, -18.0, 3.0, knees [k]) + 2.0;
            assert_true (fabs (compressor_static_db (&cfg, x) - want) < 0.1);
        }
    }
    //  Key points: T = -20, R = 4, W = 10.
    comp_cfg_t cfg = s_cfg (-20.0, 4.0, 10.0, 100.0, 10.0, 0.0);
    assert_true (fabs (compressor_static_db (&cfg, -40.0) + 40.0) < 1e-12);
    assert_true (fabs (compressor_static_db (&cfg, -20.0) + 20.9375) < 1e-12);
    assert_true (fabs (compressor_static_db (&cfg, 0.0) + 15.0) < 1e-12);
    //  Continuous at the knee edges.
    assert_true (fabs (compressor_static_db (&cfg, -25.0 - 1e-9)
                       - compressor_static_db (&cfg, -25.0 + 1e-9)) < 1e-6);
    assert_true (fabs (compressor_static_db (&cfg, -15.0 - 1e-9)
                       - compressor_static_db (&cfg, -15.0 + 1e-9)) < 1e-6);
}

//  A constant-|x| signal (square wave of amplitude a, alternating sign)
//  settles to the static curve's gain.
static void
test_steady_state (void **state)
{
    comp_cfg_t cfg = s_cfg (-24.0, 4.0, 5.0, 50.0, 12.0, 3.0);
    const size_t frames = FS;            //  1 s: 20 release constants
    float *buf = ku_alloc (frames, 2);
    for (double lvl = -50.0; lvl <= 0.0; lvl += 5.0) {
        compressor_t *c = compressor_new (&cfg, FS, 2);
        assert_non_null (c);
        double a = pow (10.0, lvl / 20.0);
        for (size_t i = 0; i < frames; i++)
            buf [2 * i] = buf [2 * i + 1] = (float) ((i / 24) % 2 ? -a : a);
        compressor_process (c, buf, frames);
        double out_db = 20.0 * log10 (fabs (buf [2 * (frames - 1)]));
        double want = compressor_static_db (&cfg, lvl);
        if (fabs (out_db - want) > 0.1)
            fail_msg ("input %.1f dB: output %.3f dB, static curve %.3f dB", lvl, out_db, want);
        compressor_destroy (&c);
        assert_null (c);
    }
    free (buf);
}

//  Step from below threshold to above (attack), then back (release):
//  the reduction in dB covers 1 - 1/e of the step in attack_ms and
//  falls to 1/e of it in release_ms.
static void
test_time_constants (void **state)
{
    const double atts [] = { 1.0, 10.0, 80.0 }, rels [] = { 20.0, 150.0, 1000.0 };
    for (int k = 0; k < 3; k++) {
        comp_cfg_t cfg = s_cfg (-30.0, 4.0, atts [k], rels [k], 0.0, 0.0);
        size_t on = (size_t) (FS * 8 * atts [k] / 1000.0) + 100;
        size_t off = (size_t) (FS * 8 * rels [k] / 1000.0) + 100;
        size_t frames = 1000 + on + off;
        float *buf = ku_alloc (frames, 1);
        const double lo = pow (10.0, -60.0 / 20.0), hi = pow (10.0, -10.0 / 20.0);
        for (size_t i = 0; i < frames; i++)
            buf [i] = (float) (i >= 1000 && i < 1000 + on ? hi : lo);
        compressor_t *c = compressor_new (&cfg, FS, 1);
        compressor_process (c, buf, frames);
        const double step_db = 20.0 * 0.75;     //  (-10 - -30) (1 - 1/4)
        size_t t_att = 0, t_rel = 0;
        for (size_t i = 1000; i < 1000 + on; i++) {
            double gr = -20.0 * log10 (buf [i] / hi);
            if (gr >= step_db * (1.0 - exp (-1.0))) {
                t_att = i - 1000 + 1;            //  frames of smoothing applied
                break;
            }
        }
        for (size_t i = 1000 + on; i < frames; i++) {
            double gr = -20.0 * log10 (buf [i] / lo);
            if (gr <= step_db * exp (-1.0)) {
                t_rel = i - (1000 + on) + 1;
                break;
            }
        }
        double att_ms = t_att * 1000.0 / FS, rel_ms = t_rel * 1000.0 / FS;
        printf ("# attack %.1f ms measured %.3f ms; release %.1f ms measured %.3f ms\n",
                atts [k], att_ms, rels [k], rel_ms);
        //  Brief: within 5 %; one frame of resolution added for the
        //  shortest constant (1 ms = 48 frames).
        assert_true (fabs (att_ms - atts [k]) <= 0.05 * atts [k] + 1000.0 / FS);
        assert_true (fabs (rel_ms - rels [k]) <= 0.05 * rels [k] + 1000.0 / FS);
        dyn_stats_t st;
        compressor_stats (c, &st);
        assert_true (fabs (st.gr_max_db - step_db) < 0.01);
        assert_int_equal (st.frames, frames);
        compressor_reset (c);
        compressor_stats (c, &st);
        assert_int_equal (st.frames, 0);
        compressor_destroy (&c);
        free (buf);
    }
}

//  One loud channel reduces every channel alike; makeup applies to all.
static void
test_stereo_link (void **state)
{
    comp_cfg_t cfg = s_cfg (-20.0, 10.0, 1.0, 100.0, 0.0, 6.0);
    const size_t frames = 9600;
    float *buf = ku_alloc (frames, 2);
    for (size_t i = 0; i < frames; i++) {
        buf [2 * i] = (float) ((i % 2 ? -1 : 1) * 0.5);        //  -6 dBFS
        buf [2 * i + 1] = (float) ((i % 2 ? -1 : 1) * 0.001);  //  -60 dBFS
    }
    compressor_t *c = compressor_new (&cfg, FS, 2);
    compressor_process (c, buf, frames);
    double g0 = 20.0 * log10 (fabs (buf [2 * (frames - 1)]) / 0.5);
    double g1 = 20.0 * log10 (fabs (buf [2 * (frames - 1) + 1]) / 0.001);
    assert_true (fabs (g0 - g1) < 1e-3);
    //  -6 dB in: 14 dB over, 12.6 dB of reduction, +6 makeup.
    assert_true (fabs (g0 - (6.0 - 14.0 * 0.9)) < 0.05);
    compressor_destroy (&c);
    free (buf);
}

//  Silence stays silent; random block sizes equal one block.
static void
test_chunked_silence (void **state)
{
    comp_cfg_t cfg = s_cfg (-30.0, 6.0, 3.0, 120.0, 6.0, 4.0);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, ku_seed ("compressor"));
    const size_t frames = 40000;
    for (int ch = 1; ch <= 8; ch += 3) {
        float *a = ku_alloc (frames, ch), *b = ku_alloc (frames, ch);
        for (size_t i = 0; i < frames * ch; i++) {
            double env = (i / (5000 * ch)) % 2 ? 0.5 : 0.02;
            a [i] = b [i] = (float) (env * testsig_rng_gauss (&rng));
        }
        compressor_t *one = compressor_new (&cfg, 44100, ch);
        compressor_t *many = compressor_new (&cfg, 44100, ch);
        compressor_process (one, a, frames);
        for (size_t pos = 0; pos < frames; ) {
            size_t n = ku_block (&rng, 2000);
            if (n > frames - pos)
                n = frames - pos;
            compressor_process (many, b + pos * ch, n);
            pos += n;
        }
        assert_memory_equal (a, b, frames * ch * sizeof (float));
        dyn_stats_t s1, s2;
        compressor_stats (one, &s1);
        compressor_stats (many, &s2);
        assert_true (s1.gr_max_db == s2.gr_max_db && s1.gr_max_db > 5.0);
        assert_true (fabs (s1.gr_sum_db - s2.gr_sum_db) < 1e-6 * s1.gr_sum_db);
        compressor_reset (one);
        memset (a, 0, frames * ch * sizeof (float));
        compressor_process (one, a, frames);
        for (size_t i = 0; i < frames * ch; i++)
            assert_true (a [i] == 0.0f);
        compressor_destroy (&one);
        compressor_destroy (&many);
        free (a);
        free (b);
    }
}

static void
test_bad_config (void **state)
{
    comp_cfg_t ok = s_cfg (-20.0, 4.0, 10.0, 100.0, 6.0, 0.0), cfg;
    compressor_t *c = compressor_new (&ok, FS, 2);
    assert_non_null (c);
    compressor_destroy (&c);
    cfg = ok; cfg.ratio = 0.5;         assert_null (compressor_new (&cfg, FS, 2));
    cfg = ok; cfg.attack_ms = 0.0;     assert_null (compressor_new (&cfg, FS, 2));
    cfg = ok; cfg.release_ms = NAN;    assert_null (compressor_new (&cfg, FS, 2));
    cfg = ok; cfg.knee_db = 30.0;      assert_null (compressor_new (&cfg, FS, 2));
    cfg = ok; cfg.threshold_db = 3.0;  assert_null (compressor_new (&cfg, FS, 2));
    assert_null (compressor_new (&ok, FS, 9));
    assert_null (compressor_new (&ok, 1000, 2));
    assert_null (compressor_new (NULL, FS, 2));
    compressor_destroy (NULL);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_static_curve),
        cmocka_unit_test (test_steady_state),
        cmocka_unit_test (test_time_constants),
        cmocka_unit_test (test_stereo_link),
        cmocka_unit_test (test_chunked_silence),
        cmocka_unit_test (test_bad_config),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
