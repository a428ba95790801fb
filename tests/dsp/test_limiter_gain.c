/*  limiter_run_gain: the limiter fed gain * src without a scaled copy
    gives exactly (bit for bit) what dsp_ops scale into the output buffer
    followed by limiter_run gives, for mono, stereo and three channels
    (the generic de-interleave), tracks shorter and longer than the
    latency, gains that limit hard and gains that leave the signal under
    the ceiling (where the detector's skip of quiet chunks is taken), and
    the same statistics; and limiter_run_gain_part, in parts of one to
    five blocks into another buffer and in place over the input, gives
    the same again. Also: quiet passages between loud bursts (the
    detector skips the quiet chunks) keep the output's true peak under
    the ceiling, as the truepeak meter reads it.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "worker/dsp/dsp_ops.h"
#include "worker/dsp/limiter.h"
#include "worker/dsp/truepeak.h"
#include "testsig.h"

//  Fills buf (frames x ch) with noise bursts over a low sine: loud and
//  quiet stretches of a few thousand frames each.
static void
s_signal (float *buf, size_t frames, int ch, uint64_t seed)
{
    testsig_rng_t rng;
    testsig_rng_seed (&rng, seed);
    for (size_t i = 0; i < frames; i++) {
        double env = (i / 3000) % 3 == 0 ? 0.9 : 0.02;
        double base = 0.05 * sin (2.0 * M_PI * 220.0 * (double) i / 44100.0);
        for (int c = 0; c < ch; c++)
            buf [i * (size_t) ch + (size_t) c] =
                (float) (base + env * (2.0 * testsig_rng_uniform (&rng) - 1.0));
    }
}

//  One case: both ways at gain_db, compared bit for bit.
static void
s_case (int ch, size_t frames, double gain_db)
{
    limiter_cfg_t cfg = { 0 };
    cfg.enabled = true;
    cfg.ceiling_dbtp = -1.0;
    cfg.lookahead_ms = 2.0;
    cfg.release_ms = 80.0;
    size_t n = frames * (size_t) ch;
    float *src = malloc ((n + 1) * sizeof (float));
    float *a = malloc ((n + 1) * sizeof (float));
    float *b = malloc ((n + 1) * sizeof (float));
    assert_non_null (src);
    assert_non_null (a);
    assert_non_null (b);
    s_signal (src, frames, ch, 7 + (uint64_t) ch);
    float gain = (float) pow (10.0, gain_db / 20.0);
    limiter_t *la = limiter_new (&cfg, 44100, ch);
    limiter_t *lb = limiter_new (&cfg, 44100, ch);
    assert_non_null (la);
    assert_non_null (lb);
    dsp_ops ()->scale (a, src, gain, n);
    limiter_run (la, a, frames);
    limiter_run_gain (lb, b, src, frames, gain);
    //  exact: the same float products and the same limiter arithmetic
    assert_memory_equal (a, b, n * sizeof (float));
    dyn_stats_t sa, sb;
    limiter_stats (la, &sa);
    limiter_stats (lb, &sb);
    assert_true (sa.frames == sb.frames);
    assert_true (sa.gr_sum_db == sb.gr_sum_db);
    assert_true (sa.gr_max_db == sb.gr_max_db);
    //  in parts, into c and in place over a copy of src in d
    float *c = malloc ((n + 1) * sizeof (float));
    float *d = malloc ((n + 1) * sizeof (float));
    assert_non_null (c);
    assert_non_null (d);
    memcpy (d, src, n * sizeof (float));
    limiter_t *lc = limiter_new (&cfg, 44100, ch);
    limiter_t *ld = limiter_new (&cfg, 44100, ch);
    assert_non_null (lc);
    assert_non_null (ld);
    const size_t lat = (size_t) limiter_latency_frames (lc);
    uint64_t lcg = frames + (uint64_t) ch;
    for (size_t from = 0; from < frames || from == 0; ) {
        lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t part = (1 + (size_t) ((lcg >> 33) % 5)) * LIMITER_BLOCK_FRAMES;
        if (frames < lat || from + part + lat > frames)
            part = frames - from;           //  the last part takes the rest
        limiter_run_gain_part (lc, c + from * (size_t) ch, src, frames, from, part, gain);
        limiter_run_gain_part (ld, d + from * (size_t) ch, d, frames, from, part, gain);
        from += part;
        if (frames == 0)
            break;
    }
    assert_memory_equal (c, b, n * sizeof (float));
    assert_memory_equal (d, b, n * sizeof (float));
    dyn_stats_t sc;
    limiter_stats (lc, &sc);
    assert_true (sc.frames == sb.frames && sc.gr_sum_db == sb.gr_sum_db
              && sc.gr_max_db == sb.gr_max_db);
    assert_true (limiter_gr_sustained_db (lc) == limiter_gr_sustained_db (lb));
    limiter_destroy (&lc);
    limiter_destroy (&ld);
    free (c);
    free (d);
    if (gain_db > 6.0 && frames > 10000) {
        //  the output's true peak stays at or under the ceiling (the
        //  limiter aims LIMITER_MARGIN_DB lower; 0.01 dB for the meter's
        //  float rounding)
        truepeak_t *tp = truepeak_new (44100, ch);
        assert_non_null (tp);
        truepeak_process (tp, b, frames);
        double peak_dbtp = truepeak_max_dbtp (tp);
        truepeak_destroy (&tp);
        assert_true (peak_dbtp <= cfg.ceiling_dbtp + 0.01);
        assert_true (sb.gr_max_db > 1.0);
    }
    limiter_destroy (&la);
    limiter_destroy (&lb);
    free (src);
    free (a);
    free (b);
}

static void
test_gain_equals_scale_then_run (void **state)
{
    (void) state;
    const size_t lengths [] = { 0, 1, 17, 88, 89, 600, 4095, 44100, 200000 };
    const double gains_db [] = { -6.0, 0.0, 12.0 };
    for (int ch = 1; ch <= 3; ch++)
        for (size_t k = 0; k < sizeof lengths / sizeof lengths [0]; k++)
            for (size_t g = 0; g < sizeof gains_db / sizeof gains_db [0]; g++)
                s_case (ch, lengths [k], gains_db [g]);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_gain_equals_scale_then_run),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
