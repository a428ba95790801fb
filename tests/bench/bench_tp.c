/*  Speed of the true-peak kernels per instruction set: ops->tp_block_max
    and ops->tp_peaks with the meter's 4x (44.1/48 kHz) and 2x (88.2/96 kHz)
    filters, in input samples per nanosecond (one channel), best of 5 runs
    over 2^20 samples. Prints figures; not a test.  */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "testsig.h"
#include "worker/dsp/cpu.h"
#include "worker/dsp/dsp_ops.h"
#include "worker/dsp/truepeak.h"

#define N_SAMPLES  (1u << 20)
#define RUNS       5

static volatile float s_sink;

//  Monotonic time in nanoseconds.
static double
s_now_ns (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec * 1e9 + (double) t.tv_nsec;
}

int
main (void)
{
    cpu_set_ftz_daz ();
    float *buf = malloc ((N_SAMPLES + 256) * sizeof (float));
    float *peak = malloc (N_SAMPLES * sizeof (float));
    testsig_rng_t rng;
    testsig_rng_seed (&rng, 42);
    for (size_t i = 0; i < N_SAMPLES + 256; i++)
        buf [i] = (float) (testsig_rng_uniform (&rng) * 2.0 - 1.0);
    float *x = buf + 128;                  //  history in front

    printf ("true-peak kernels, input samples per ns (higher is better), %u samples, best of %d\n",
            N_SAMPLES, RUNS);
    printf ("%-8s %-14s %12s %12s\n", "isa", "filter", "block_max", "peaks");
    int rates [] = { 44100, 96000 };
    for (int isa = DSP_ISA_GENERIC; isa <= (int) dsp_isa_best (); isa++) {
        dsp_ops_t ops;
        dsp_ops_init_isa (&ops, (dsp_isa_t) isa);
        for (int r = 0; r < 2; r++) {
            const truepeak_filter_t *f = truepeak_filter (rates [r]);
            double best_max = 1e30, best_peaks = 1e30;
            for (int run = 0; run < RUNS; run++) {
                double t0 = s_now_ns ();
                s_sink = ops.tp_block_max (x, N_SAMPLES, f->coef, f->phases, f->taps);
                double t1 = s_now_ns ();
                ops.tp_peaks (x, N_SAMPLES, f->coef, f->phases, f->taps, peak);
                double t2 = s_now_ns ();
                s_sink = peak [N_SAMPLES / 2];
                if (t1 - t0 < best_max)
                    best_max = t1 - t0;
                if (t2 - t1 < best_peaks)
                    best_peaks = t2 - t1;
            }
            char name [32];
            snprintf (name, sizeof name, "%dx%d taps", f->phases, f->taps);
            printf ("%-8s %-14s %12.3f %12.3f\n", ops.isa_name, name,
                    N_SAMPLES / best_max, N_SAMPLES / best_peaks);
        }
    }

    //  the whole meter, stereo 44.1 kHz, best ISA (interleaving included)
    const size_t frames = N_SAMPLES / 2;
    double best = 1e30;
    for (int run = 0; run < RUNS; run++) {
        truepeak_t *tp = truepeak_new (44100, 2);
        double t0 = s_now_ns ();
        truepeak_process (tp, buf, frames);
        double t1 = s_now_ns ();
        s_sink = (float) truepeak_max_dbtp (tp);
        truepeak_destroy (&tp);
        if (t1 - t0 < best)
            best = t1 - t0;
    }
    printf ("truepeak_process (%s), stereo 44.1 kHz: %.3f samples/ns, %.0fx realtime\n",
            dsp_ops ()->isa_name, (double) (2 * frames) / best,
            ((double) frames / 44100.0) / (best * 1e-9));
    free (buf);
    free (peak);
    return 0;
}
