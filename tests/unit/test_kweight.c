/*  The product's loudness meter (worker/kweight.h, as the analysis uses
    it) against libebur128, an independent implementation of BS.1770-4 /
    EBU Tech 3342 with the same conventions: on music-like mixes with wide
    and narrow dynamics, mono (dual-mono), stereo and 6 channels, at
    11.025, 44.1, 48 and 96 kHz, analysis_run's integrated loudness
    within 0.001 LU of libebur128's, its loudness range within 0.01 LU,
    its largest momentary and short-term loudness within 0.01 LU (read
    from libebur128 after every 100 ms hop, as a meter shows them), and
    every 400 ms gating block within 0.001 LU of libebur128's 400 ms
    window at the block's end.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ebur128.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master_mix.h"
#include "orch_mix.h"
#include "testsig.h"
#include "common/measure.h"
#include "worker/analysis.h"
#include "worker/kweight.h"

//  libebur128 over a, hop by hop: its integrated loudness, range, maxima,
//  and the 400 ms loudness at every hop end from the 4th (blocks).
typedef struct {
    double lufs, lra, max_m, max_s;
    double *blocks;
    size_t n_blocks;
} s_ref_t;

static void
s_reference (const audio_t *a, s_ref_t *r)
{
    ebur128_state *st = ebur128_init ((unsigned) a->channels, (unsigned long) a->rate_hz,
                                      EBUR128_MODE_I | EBUR128_MODE_LRA | EBUR128_MODE_M
                                      | EBUR128_MODE_S);
    assert_non_null (st);
    if (a->channels == 1)
        ebur128_set_channel (st, 0, EBUR128_DUAL_MONO);
    size_t hop = (size_t) (a->rate_hz + 5) / 10, n_hops = (size_t) a->frames / hop;
    r->blocks = calloc (n_hops, sizeof *r->blocks);
    r->n_blocks = 0;
    r->max_m = r->max_s = -HUGE_VAL;
    for (size_t h = 0; h < n_hops; h++) {
        ebur128_add_frames_float (st, a->data + h * hop * (size_t) a->channels, hop);
        double m, s;
        ebur128_loudness_momentary (st, &m);
        ebur128_loudness_shortterm (st, &s);
        r->max_m = fmax (r->max_m, m);
        r->max_s = fmax (r->max_s, s);
        if (h >= 3)
            r->blocks [r->n_blocks++] = m;
    }
    size_t rest = (size_t) a->frames - n_hops * hop;
    ebur128_add_frames_float (st, a->data + n_hops * hop * (size_t) a->channels, rest);
    ebur128_loudness_global (st, &r->lufs);
    ebur128_loudness_range (st, &r->lra);
    ebur128_destroy (&st);
}

static void
s_compare (const char *what, audio_t *a)
{
    s_ref_t r;
    s_reference (a, &r);
    measure_t m;
    char err [256];
    assert_int_equal (analysis_run (a, NULL, &m, err, sizeof err), 0);
    double worst = 0.0;
    size_t n = m.n_blocks < r.n_blocks ? m.n_blocks : r.n_blocks;
    for (size_t k = 0; k < n; k++)
        if (r.blocks [k] > -70.0)
            worst = fmax (worst, fabs (m.block_lufs [k] - r.blocks [k]));
    printf ("#   %-28s I %.4f / %.4f LUFS, LRA %.3f / %.3f LU, max M %.3f / %.3f, "
            "max S %.3f / %.3f, blocks within %.5f LU (ours / libebur128)\n", what,
            m.integrated_lufs, r.lufs, m.lra_lu, r.lra, m.max_momentary_lufs, r.max_m,
            m.max_shortterm_lufs, r.max_s, worst);
    assert_int_equal (m.n_blocks, r.n_blocks);
    assert_true (fabs (m.integrated_lufs - r.lufs) <= 0.001);
    assert_true (fabs (m.lra_lu - r.lra) <= 0.01);
    assert_true (fabs (m.max_momentary_lufs - r.max_m) <= 0.01);
    assert_true (fabs (m.max_shortterm_lufs - r.max_s) <= 0.01);
    assert_true (worst <= 0.001);
    measure_free (&m);
    free (r.blocks);
    audio_free (a);
}

static void
test_against_libebur128 (void **state)
{
    (void) state;
    audio_t a;
    master_mix_generate (&a, 20.0, 44100, 2, 11);
    s_compare ("dense mix, stereo 44.1 kHz", &a);
    orch_mix_generate (&a, 30.0, 48000, 2, 12);
    s_compare ("orchestral mix, stereo 48 kHz", &a);
    master_mix_generate (&a, 12.0, 96000, 1, 13);
    s_compare ("dense mix, mono 96 kHz", &a);
    master_mix_generate (&a, 12.0, 11025, 2, 14);
    s_compare ("dense mix, stereo 11.025 kHz", &a);
    //  6 channels: the stereo mix on L R, its mid on C, LFE, quieter surrounds
    audio_t s;
    master_mix_generate (&s, 12.0, 48000, 2, 15);
    testsig_alloc (&a, s.frames, 6, 48000);
    for (int64_t i = 0; i < s.frames; i++) {
        float l = s.data [2 * i], rr = s.data [2 * i + 1];
        float *f = a.data + 6 * i;
        f [0] = l;
        f [1] = rr;
        f [2] = 0.5f * (l + rr);
        f [3] = 0.7f * l;
        f [4] = 0.3f * rr;
        f [5] = 0.3f * l;
    }
    audio_free (&s);
    s_compare ("dense mix, 5.1 at 48 kHz", &a);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_against_libebur128),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
