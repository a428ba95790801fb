/*  Benchmark of the filter and dynamics kernels, per instruction set:
    biquad cascade (HP4 + 3 EQ = 5 sections), compressor, lookahead
    limiter, and the limiter's oversampler alone (ops->tp_peaks with the
    4x true-peak filter), on stereo noise at 44.1 kHz. Prints samples per
    nanosecond (samples = frames x channels) and, for the chain of those
    stages, the realtime factor on one core. Also the limiter as the
    master command runs it: limiter_run_gain over the whole generated
    master mix (master_mix.h) raised by 7.5 dB, so that it limits the
    kicks and releases in between ("limiter mix"). Not a test: figures
    only.

    Usage: bench_kernels [seconds_of_audio]   (default 20)  */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker/dsp/dsp_ops.h"
#include "worker/dsp/cpu.h"
#include "worker/dsp/biquad.h"
#include "worker/dsp/compressor.h"
#include "worker/dsp/limiter.h"
#include "worker/dsp/truepeak.h"
#include "testsig.h"
#include "master_mix.h"

#define RATE   44100
#define CH     2
#define BLOCK  4096          //  frames per call, as a chain would use

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);   //  CPU time: steady on a shared machine
    return (double) ts.tv_sec + ts.tv_nsec * 1e-9;
}

//  Best of three runs of fn over the signal, in seconds.
typedef void (*run_fn) (void *ctx, float *buf, size_t frames);

static double
s_time (run_fn fn, void *ctx, const float *src, float *work, size_t frames)
{
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        memcpy (work, src, frames * CH * sizeof (float));
        double t0 = s_now ();
        for (size_t pos = 0; pos < frames; pos += BLOCK) {
            size_t n = frames - pos < BLOCK ? frames - pos : BLOCK;
            fn (ctx, work + pos * CH, n);
        }
        double t = s_now () - t0;
        if (t < best)
            best = t;
    }
    return best;
}

static void
s_run_biquad (void *ctx, float *buf, size_t n)
{
    biquad_chain_process (ctx, buf, n);
}

static void
s_run_comp (void *ctx, float *buf, size_t n)
{
    compressor_process (ctx, buf, n);
}

static void
s_run_limiter (void *ctx, float *buf, size_t n)
{
    limiter_process (ctx, buf, buf, n);
}

//  Best of three runs of limiter_run_gain over the whole of src (frames
//  stereo frames) into dst, at gain_db, in seconds.
static double
s_time_run_gain (limiter_t *lim, const float *src, float *dst, size_t frames, double gain_db)
{
    const float gain = (float) pow (10.0, gain_db / 20.0);
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = s_now ();
        limiter_run_gain (lim, dst, src, frames, gain);
        double t = s_now () - t0;
        if (t < best)
            best = t;
    }
    return best;
}

typedef struct {
    const dsp_ops_t         *ops;
    const truepeak_filter_t *f;
    float                   *hist;      //  taps - 1 + BLOCK
    float                   *peak;
} tp_ctx_t;

//  The oversampler alone: both channels through ops->tp_peaks.
static void
s_run_tp (void *ctx, float *buf, size_t n)
{
    tp_ctx_t *t = ctx;
    for (int c = 0; c < CH; c++) {
        float *x = t->hist + t->f->taps - 1;
        for (size_t i = 0; i < n; i++)
            x [i] = buf [i * CH + c];
        t->ops->tp_peaks (x, n, t->f->coef, t->f->phases, t->f->taps, t->peak);
    }
}

int
main (int argc, char **argv)
{
    double seconds = argc > 1 ? atof (argv [1]) : 20.0;
    if (!(seconds > 0.0 && seconds < 3600.0)) {
        fprintf (stderr, "usage: bench_kernels [seconds_of_audio 0..3600]\n");
        return 2;
    }
    cpu_set_ftz_daz ();
    size_t frames = (size_t) (seconds * RATE);
    audio_t a;
    testsig_alloc (&a, (int64_t) frames, CH, RATE);
    testsig_add_noise (&a, 0.25, 42);
    testsig_add_sine (&a, 55.0, 0.5, 0.0, 0, (int64_t) frames);
    audio_t mix;
    master_mix_generate (&mix, seconds, RATE, CH, 1);
    float *work = malloc (frames * CH * sizeof (float));
    tp_ctx_t tp = { .f = truepeak_filter (RATE) };
    tp.hist = calloc ((size_t) tp.f->taps - 1 + BLOCK, sizeof (float));
    tp.peak = calloc (BLOCK, sizeof (float));
    if (!work || !tp.hist || !tp.peak)
        return 1;

    biquad_coefs_t c [5];
    biquad_design_butterworth (EQ_HIGHPASS, 4, 20.0, RATE, c);
    biquad_design (EQ_LOWSHELF, 100.0, 2.0, 1.0, RATE, c + 2);
    biquad_design (EQ_PEAK, 2500.0, -1.5, 1.0, RATE, c + 3);
    biquad_design (EQ_HIGHSHELF, 10000.0, 1.0, 0.7, RATE, c + 4);
    comp_cfg_t cc = { .enabled = true, .threshold_db = -18.0, .ratio = 1.5, .attack_ms = 30.0,
                      .release_ms = 250.0, .knee_db = 6.0, .makeup_db = 0.0 };
    limiter_cfg_t lc = { .enabled = true, .ceiling_dbtp = -1.0, .lookahead_ms = 2.0,
                         .release_ms = 80.0 };

    const char *names [] = { "generic", "sse2", "avx2" };
    printf ("# %.0f s of stereo noise at %d Hz, %d-frame blocks; samples/ns "
            "(samples = frames x channels), thread CPU time, best of 3\n", seconds, RATE, BLOCK);
    printf ("%-8s %12s %12s %12s %14s %16s %12s\n", "isa", "biquad x5", "compressor",
            "limiter", "oversampler", "chain realtime", "limiter mix");
    for (int isa = 0; isa <= (int) dsp_isa_best (); isa++) {
        dsp_ops_t ops;
        dsp_ops_init_isa (&ops, (dsp_isa_t) isa);
        biquad_chain_t *bq = biquad_chain_new (c, 5, CH);
        compressor_t *cp = compressor_new (&cc, RATE, CH);
        limiter_t *lim = limiter_new (&lc, RATE, CH);
        biquad_chain_set_ops (bq, &ops);
        compressor_set_ops (cp, &ops);
        limiter_set_ops (lim, &ops);
        tp.ops = &ops;
        double samples = (double) frames * CH;
        double t_bq = s_time (s_run_biquad, bq, a.data, work, frames);
        double t_cp = s_time (s_run_comp, cp, a.data, work, frames);
        double t_li = s_time (s_run_limiter, lim, a.data, work, frames);
        double t_tp = s_time (s_run_tp, &tp, a.data, work, frames);
        double t_mx = s_time_run_gain (lim, mix.data, work, frames, 7.5);
        double chain = t_bq + t_cp + t_li;
        printf ("%-8s %12.3f %12.3f %12.3f %14.3f %15.0fx %12.3f\n", names [isa],
                samples / t_bq * 1e-9, samples / t_cp * 1e-9, samples / t_li * 1e-9,
                samples / t_tp * 1e-9, seconds / chain, samples / t_mx * 1e-9);
        biquad_chain_destroy (&bq);
        compressor_destroy (&cp);
        limiter_destroy (&lim);
    }
    printf ("# chain realtime = audio seconds / (biquad x5 + compressor + limiter) seconds, one core\n");
    free (work);
    free (tp.hist);
    free (tp.peak);
    audio_free (&a);
    audio_free (&mix);
    return 0;
}
