/*  Every SIMD variant of the filter and dynamics kernels (biquad_run,
    comp_level_db, gain_apply_db; and the compressor and limiter objects
    on top of them) against the generic kernel, in the
    manner of FFmpeg's checkasm and lsp-dsp-lib's tests: lengths 0..17,
    31..33, 63..65, 999 and 4095 frames, 1..8 channels, buffers misaligned
    by 0..3 floats from a 64-byte boundary, guard words before and after
    that must stay untouched, signals at several scales. Tolerances are
    scaled to the signal:
      biquad SSE2: bit-identical (same double operations in the same order);
      biquad AVX2 (FMA): |d| <= 1e-6 * max |y| (float output rounding is
        6e-8; FMA changes the double recurrence by far less);
      levels: 1e-4 dB (polynomial log10 in float); exact floor for silence;
      gains: |d| <= 1e-6 |x| (polynomial 10^x in float).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "worker/dsp/dsp_ops.h"
#include "worker/dsp/biquad.h"
#include "worker/dsp/compressor.h"
#include "worker/dsp/limiter.h"
#include "kernels_util.h"

#define GUARD        16                 //  guard floats each side
#define GUARD_VALUE  12345.678f

static const size_t s_lens [] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                  16, 17, 31, 32, 33, 63, 64, 65, 999, 4095 };
#define N_LENS (sizeof s_lens / sizeof s_lens [0])

//  A buffer of n floats at misalign floats past a 64-byte boundary, with
//  GUARD guard words on each side.
typedef struct {
    float *base;
    float *data;
    size_t n;
} gbuf_t;

static gbuf_t
s_gbuf (size_t n, int misalign)
{
    gbuf_t g;
    size_t total = n + 2 * GUARD + 16 + 16;
    g.base = aligned_alloc (64, ((total * sizeof (float)) + 63) / 64 * 64);
    assert_non_null (g.base);
    g.data = g.base + 16 + GUARD + misalign;
    g.n = n;
    for (size_t i = 0; i < total; i++)
        g.base [i] = GUARD_VALUE;
    return g;
}

static void
s_gbuf_check (const gbuf_t *g)
{
    for (int k = 1; k <= GUARD; k++) {
        assert_true (g->data [-k] == GUARD_VALUE);
        assert_true (g->data [g->n + k - 1] == GUARD_VALUE);
    }
}

static void
s_fill (float *x, size_t n, double scale, testsig_rng_t *rng)
{
    for (size_t i = 0; i < n; i++)
        x [i] = (float) (scale * testsig_rng_gauss (rng));
}

//  The ISAs this CPU has beyond generic, filled as dsp_ops_init_isa does.
static int
s_isas (dsp_ops_t *ops)
{
    int n = 0;
    if (dsp_isa_best () >= DSP_ISA_SSE2)
        dsp_ops_init_isa (&ops [n++], DSP_ISA_SSE2);
    if (dsp_isa_best () >= DSP_ISA_AVX2)
        dsp_ops_init_isa (&ops [n++], DSP_ISA_AVX2);
    return n;
}

static void
test_biquad_run (void **state)
{
    dsp_ops_t gen, isa [2];
    dsp_ops_init_isa (&gen, DSP_ISA_GENERIC);
    int n_isa = s_isas (isa);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, 77);
    //  A cascade like the chain's: HP4 20 Hz, low shelf, peak, high shelf,
    //  and a resonant peak, as 1, 5 or 9 sections.
    biquad_coefs_t c [9];
    biquad_design_butterworth (EQ_HIGHPASS, 4, 20.0, 44100.0, c);
    biquad_design (EQ_LOWSHELF, 90.0, 4.0, 1.0, 44100.0, c + 2);
    biquad_design (EQ_PEAK, 1800.0, -3.0, 2.0, 44100.0, c + 3);
    biquad_design (EQ_HIGHSHELF, 9000.0, 2.0, 0.8, 44100.0, c + 4);
    biquad_design (EQ_PEAK, 60.0, 12.0, 10.0, 44100.0, c + 5);
    biquad_design_butterworth (EQ_LOWPASS, 6, 18000.0, 44100.0, c + 6);
    double coefs [45];
    for (int s = 0; s < 9; s++) {
        coefs [5 * s + 0] = c [s].b0; coefs [5 * s + 1] = c [s].b1;
        coefs [5 * s + 2] = c [s].b2; coefs [5 * s + 3] = c [s].a1;
        coefs [5 * s + 4] = c [s].a2;
    }
    const int secs [] = { 1, 5, 9 };
    double worst [2] = { 0, 0 };
    for (int v = 0; v < n_isa; v++)
        for (int ch = 1; ch <= 8; ch++)
            for (int si = 0; si < 3; si++)
                for (size_t li = 0; li < N_LENS; li++) {
                    size_t frames = s_lens [li], n = frames * (size_t) ch;
                    int mis = (int) ((li + (size_t) ch) % 4);
                    double scale = si == 0 ? 1e-3 : si == 1 ? 1.0 : 30.0;
                    gbuf_t a = s_gbuf (n, 0), b = s_gbuf (n, mis);
                    s_fill (a.data, n, scale, &rng);
                    memcpy (b.data, a.data, n * sizeof (float));
                    double st_a [2 * 8 * 9], st_b [2 * 8 * 9];
                    for (int k = 0; k < 2 * ch * secs [si]; k++)
                        st_a [k] = st_b [k] = 0.01 * scale * testsig_rng_gauss (&rng);
                    gen.biquad_run (a.data, frames, ch, coefs, secs [si], st_a);
                    isa [v].biquad_run (b.data, frames, ch, coefs, secs [si], st_b);
                    s_gbuf_check (&a);
                    s_gbuf_check (&b);
                    float ymax = 1e-30f;
                    for (size_t i = 0; i < n; i++)
                        ymax = fmaxf (ymax, fabsf (a.data [i]));
                    for (size_t i = 0; i < n; i++) {
                        double d = fabs ((double) a.data [i] - b.data [i]) / ymax;
                        worst [v] = fmax (worst [v], d);
                        if (isa [v].isa == DSP_ISA_SSE2 ? d != 0.0 : d > 1e-6)
                            fail_msg ("%s biquad ch %d secs %d len %zu: sample %zu %g vs %g",
                                      isa [v].isa_name, ch, secs [si], frames, i,
                                      a.data [i], b.data [i]);
                    }
                    for (int k = 0; k < 2 * ch * secs [si]; k++)
                        assert_true (fabs (st_a [k] - st_b [k]) <= 1e-9 * (fabs (st_a [k]) + scale));
                    free (a.base);
                    free (b.base);
                }
    for (int v = 0; v < n_isa; v++)
        printf ("# biquad_run %s: worst |d| / max|y| = %.3g\n", isa [v].isa_name, worst [v]);
}

static void
test_comp_level_db (void **state)
{
    dsp_ops_t gen, isa [2];
    dsp_ops_init_isa (&gen, DSP_ISA_GENERIC);
    int n_isa = s_isas (isa);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, 78);
    double worst [2] = { 0, 0 };
    for (int v = 0; v < n_isa; v++)
        for (int ch = 1; ch <= 8; ch++)
            for (size_t li = 0; li < N_LENS; li++) {
                size_t frames = s_lens [li], n = frames * (size_t) ch;
                int mis = (int) ((li + (size_t) ch) % 4);
                gbuf_t x = s_gbuf (n, mis), la = s_gbuf (frames, 0), lb = s_gbuf (frames, mis);
                //  Levels from -250 to +20 dB, some frames silent.
                for (size_t i = 0; i < n; i++) {
                    double db = -250.0 + 270.0 * testsig_rng_uniform (&rng);
                    x.data [i] = (float) ((testsig_rng_uniform (&rng) < 0.5 ? -1 : 1)
                                          * pow (10.0, db / 20.0));
                    if (i % 7 == 3)
                        x.data [i] = 0.0f;
                }
                gen.comp_level_db (x.data, frames, ch, la.data);
                isa [v].comp_level_db (x.data, frames, ch, lb.data);
                s_gbuf_check (&x);
                s_gbuf_check (&la);
                s_gbuf_check (&lb);
                for (size_t i = 0; i < frames; i++) {
                    double d = fabs ((double) la.data [i] - lb.data [i]);
                    worst [v] = fmax (worst [v], d);
                    if (d > 1e-4)
                        fail_msg ("%s level ch %d len %zu frame %zu: %.6f vs %.6f dB",
                                  isa [v].isa_name, ch, frames, i, la.data [i], lb.data [i]);
                    if (la.data [i] == (float) COMPRESSOR_FLOOR_DB)
                        assert_true (lb.data [i] == la.data [i]);
                }
                free (x.base);
                free (la.base);
                free (lb.base);
            }
    for (int v = 0; v < n_isa; v++)
        printf ("# comp_level_db %s: worst |d| = %.3g dB\n", isa [v].isa_name, worst [v]);
}

static void
test_gain_apply_db (void **state)
{
    dsp_ops_t gen, isa [2];
    dsp_ops_init_isa (&gen, DSP_ISA_GENERIC);
    int n_isa = s_isas (isa);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, 79);
    double worst [2] = { 0, 0 };
    for (int v = 0; v < n_isa; v++)
        for (int ch = 1; ch <= 8; ch++)
            for (size_t li = 0; li < N_LENS; li++) {
                size_t frames = s_lens [li], n = frames * (size_t) ch;
                int mis = (int) ((li + (size_t) ch) % 4);
                gbuf_t a = s_gbuf (n, 0), b = s_gbuf (n, mis), g = s_gbuf (frames, mis);
                s_fill (a.data, n, 0.5, &rng);
                memcpy (b.data, a.data, n * sizeof (float));
                //  Gains from -100 to +30 dB.
                for (size_t i = 0; i < frames; i++)
                    g.data [i] = (float) (-100.0 + 130.0 * testsig_rng_uniform (&rng));
                float *x0 = ku_alloc (frames, ch);
                memcpy (x0, a.data, n * sizeof (float));
                gen.gain_apply_db (a.data, frames, ch, g.data);
                isa [v].gain_apply_db (b.data, frames, ch, g.data);
                s_gbuf_check (&a);
                s_gbuf_check (&b);
                s_gbuf_check (&g);
                for (size_t i = 0; i < n; i++) {
                    double ref = fabs ((double) a.data [i]) + 1e-30;
                    double d = fabs ((double) a.data [i] - b.data [i]) / ref;
                    worst [v] = fmax (worst [v], d);
                    if (d > 1e-6)
                        fail_msg ("%s gain ch %d len %zu sample %zu: %g vs %g (x %g, %g dB)",
                                  isa [v].isa_name, ch, frames, i, a.data [i], b.data [i],
                                  x0 [i], g.data [i / ch]);
                }
                free (x0);
                free (a.base);
                free (b.base);
                free (g.base);
            }
    for (int v = 0; v < n_isa; v++)
        printf ("# gain_apply_db %s: worst relative |d| = %.3g\n", isa [v].isa_name, worst [v]);
}

//  The objects on top: a compressor and a limiter-free chain with each
//  ISA stay within the kernel tolerances of the generic run.
static void
test_compressor_isa (void **state)
{
    dsp_ops_t gen, isa [2];
    dsp_ops_init_isa (&gen, DSP_ISA_GENERIC);
    int n_isa = s_isas (isa);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, 80);
    comp_cfg_t cfg = { .enabled = true, .threshold_db = -24.0, .ratio = 3.0, .attack_ms = 5.0,
                       .release_ms = 100.0, .knee_db = 6.0, .makeup_db = 4.0 };
    const size_t frames = 20000;
    float *src = ku_alloc (frames, 2);
    for (size_t i = 0; i < frames * 2; i++)
        src [i] = (float) (((i / 4000) % 2 ? 0.5 : 0.03) * testsig_rng_gauss (&rng));
    float *a = ku_alloc (frames, 2), *b = ku_alloc (frames, 2);
    for (int v = 0; v < n_isa; v++) {
        compressor_t *ca = compressor_new (&cfg, 44100, 2), *cb = compressor_new (&cfg, 44100, 2);
        compressor_set_ops (ca, &gen);
        compressor_set_ops (cb, &isa [v]);
        memcpy (a, src, frames * 2 * sizeof (float));
        memcpy (b, src, frames * 2 * sizeof (float));
        compressor_process (ca, a, frames);
        compressor_process (cb, b, frames);
        double worst = 0.0;
        for (size_t i = 0; i < frames * 2; i++)
            worst = fmax (worst, fabs ((double) a [i] - b [i]) / (fabs ((double) a [i]) + 1e-9));
        printf ("# compressor %s vs generic: worst relative |d| = %.3g\n", isa [v].isa_name, worst);
        //  1e-4 dB of level error moves the gain by at most 1e-4 dB: 1.2e-5.
        assert_true (worst < 2e-5);
        compressor_destroy (&ca);
        compressor_destroy (&cb);
    }
    free (src);
    free (a);
    free (b);
}

//  The limiter with each ISA's oversampler against the generic one: the
//  detector values differ by float rounding only, so the gains and the
//  output agree within 1e-5 of full scale (and both obey the ceiling,
//  which test_limiter checks for the default ISA).
static void
test_limiter_isa (void **state)
{
    dsp_ops_t gen, isa [2];
    dsp_ops_init_isa (&gen, DSP_ISA_GENERIC);
    int n_isa = s_isas (isa);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, 81);
    limiter_cfg_t cfg = { .enabled = true, .ceiling_dbtp = -1.0, .lookahead_ms = 1.0,
                          .release_ms = 30.0 };
    const size_t frames = 30000;
    float *src = ku_alloc (frames, 2), *a = ku_alloc (frames, 2), *b = ku_alloc (frames, 2);
    for (size_t i = 0; i < frames * 2; i++)
        src [i] = (float) (((i / 3000) % 2 ? 1.5 : 0.2) * testsig_rng_gauss (&rng));
    for (int v = 0; v < n_isa; v++) {
        limiter_t *la = limiter_new (&cfg, 44100, 2), *lb = limiter_new (&cfg, 44100, 2);
        limiter_set_ops (la, &gen);
        limiter_set_ops (lb, &isa [v]);
        memcpy (a, src, frames * 2 * sizeof (float));
        memcpy (b, src, frames * 2 * sizeof (float));
        limiter_run (la, a, frames);
        limiter_run (lb, b, frames);
        double worst = 0.0;
        for (size_t i = 0; i < frames * 2; i++)
            worst = fmax (worst, fabs ((double) a [i] - b [i]));
        printf ("# limiter %s vs generic: worst |d| = %.3g (full scale 1)\n",
                isa [v].isa_name, worst);
        assert_true (worst < 1e-5);
        limiter_destroy (&la);
        limiter_destroy (&lb);
    }
    free (src);
    free (a);
    free (b);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_biquad_run),
        cmocka_unit_test (test_comp_level_db),
        cmocka_unit_test (test_gain_apply_db),
        cmocka_unit_test (test_compressor_isa),
        cmocka_unit_test (test_limiter_isa),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
