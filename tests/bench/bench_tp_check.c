/*  Cost of the accurate true-peak check (worker/dsp/tp_check.h) on a
    mastered file, with its sample-peak pre-screen off (the reference:
    the 4x kernel on every screen block) and on, side by side in the same
    run: a generated 4-minute stereo mix at 44.1 kHz (tests/lib/master_mix.h)
    raised by MIX_GAIN_DB and limited to -1 dBTP (worker/dsp/limiter.h),
    checked at a floor of -1.05 dBTP as masterfarm master does. Also a
    48 kHz and a 96 kHz rendering of the same. Times are the thread's CPU
    time (other processes on a shared machine disturb it less than wall
    time), best of RUNS runs, the two paths in turn; the results must be
    identical (the program says so and fails otherwise). Prints figures;
    not a test.  */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "master_mix.h"
#include "testsig.h"
#include "common/spec.h"
#include "worker/dsp/cpu.h"
#include "worker/dsp/dsp_ops.h"
#include "worker/dsp/limiter.h"
#include "worker/dsp/tp_check.h"
#include "worker/dsp/truepeak.h"

#define SECONDS      240.0
#define MIX_GAIN_DB  8.0        //  the mix is about -20 LUFS: about -12 LUFS after
#define CEILING_DBTP -1.0
#define FLOOR_DBTP   -1.05      //  master.c checks at the ceiling - 0.05 dB
#define RUNS         9

//  The calling thread's CPU time in seconds.
static double
s_now_s (void)
{
    struct timespec t;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t);
    return (double) t.tv_sec + (double) t.tv_nsec * 1e-9;
}

//  Times both paths on one limited file; returns 0 when they agree.
static int
s_bench (int rate_hz)
{
    audio_t mix;
    master_mix_generate (&mix, SECONDS, rate_hz, 2, 7);
    float *buf = malloc ((size_t) mix.frames * 2 * sizeof (float));
    limiter_cfg_t lc = { .enabled = true, .ceiling_dbtp = CEILING_DBTP,
                         .lookahead_ms = 5.0, .release_ms = 80.0, .max_gr_db = 12.0 };
    limiter_t *lim = limiter_new (&lc, rate_hz, 2);
    if (!buf || !lim) {
        fprintf (stderr, "bench_tp_check: out of memory\n");
        return -1;
    }
    limiter_run_gain (lim, buf, mix.data, (size_t) mix.frames,
                      (float) pow (10.0, MIX_GAIN_DB / 20.0));
    limiter_destroy (&lim);

    double best_off = 1e30, best_on = 1e30, t_meter = 1e30;
    tp_check_result_t r_off, r_on;
    int64_t bounded = 0;
    for (int run = 0; run < RUNS; run++) {
        double t0 = s_now_s ();
        tp_check_run_ex (buf, mix.frames, 2, rate_hz, FLOOR_DBTP, false, NULL, &r_off);
        double t1 = s_now_s ();
        tp_check_run_ex (buf, mix.frames, 2, rate_hz, FLOOR_DBTP, true, &bounded, &r_on);
        double t2 = s_now_s ();
        truepeak_t *tp = truepeak_new (rate_hz, 2);
        truepeak_process (tp, buf, (size_t) mix.frames);
        double t3 = s_now_s ();
        truepeak_destroy (&tp);
        best_off = t1 - t0 < best_off ? t1 - t0 : best_off;
        best_on = t2 - t1 < best_on ? t2 - t1 : best_on;
        t_meter = t3 - t2 < t_meter ? t3 - t2 : t_meter;
    }
    int same = memcmp (&r_off, &r_on, sizeof r_off) == 0;
    printf ("%6d Hz: own %.4f dBTP, check %.4f dBTP, refined %lld of %lld intervals\n",
            rate_hz, r_on.own_dbtp, r_on.true_peak_dbtp, (long long) r_on.refined,
            (long long) r_on.intervals);
    printf ("          pre-screen off %7.2f ms, on %7.2f ms (%.2fx; %.1f%% of the intervals "
            "settled by the bound); 4x meter alone %.2f ms; results %s\n",
            best_off * 1e3, best_on * 1e3, best_off / best_on,
            100.0 * (double) bounded / (double) r_on.intervals, t_meter * 1e3,
            same ? "identical" : "DIFFER");
    free (buf);
    audio_free (&mix);
    return same ? 0 : -1;
}

int
main (void)
{
    cpu_set_ftz_daz ();
    printf ("tp_check_run on a %.0f s stereo mix limited to %.1f dBTP (+%.0f dB into the "
            "limiter), floor %.2f dBTP, %s kernels, CPU time, best of %d\n",
            SECONDS, CEILING_DBTP, MIX_GAIN_DB, FLOOR_DBTP, dsp_ops ()->isa_name, RUNS);
    int rc = 0;
    static const int rates [] = { 44100, 48000, 96000 };
    for (size_t i = 0; i < sizeof rates / sizeof rates [0]; i++)
        rc |= s_bench (rates [i]);
    return rc ? 1 : 0;
}
