/*  Accurate true-peak check (tp_check.h): the 4x meter's envelope as a
    screen, then an 8x grid from a long interpolator with parabolic
    refinement on the intervals near the ceiling.

    Refinement interpolator. For the interval [j, j+1) the grid values
    are y(j + p/8), p = 0 .. 7, each a weighted sum of the TP_CHECK_TAPS
    samples x[j - H + 1 .. j + H] (H = TP_CHECK_TAPS / 2), i.e. symmetric
    around the interval:
        y(j + u) = sum_k c_u[k] x[j - H + 1 + k],  u = p / 8
        c_u[k]   = sinc (d) * kaiser (d / H, beta),  d = (k - H + 1) - u
    with sinc(d) = sin (pi d) / (pi d) (cut off at the input Nyquist
    frequency, the ideal reconstruction's kernel), beta =
    TP_CHECK_KAISER_BETA, every branch normalised to unit DC gain; p = 0
    is the sample itself. With 64 taps the response is flat within
    about 0.01 dB to 0.94 times the Nyquist frequency (20.7 kHz at
    44.1 kHz) and half way down at the Nyquist frequency itself, where
    no finite interpolator can be exact (meters differ most there: on
    limited noise with a rising tilt an ideal reconstruction, SoX's 16x
    VHQ resampler (95% bandwidth) and FFmpeg's ebur128 filter read up to
    0.4 dB apart; this one read at or above FFmpeg's on every file
    measured, see tests/bench/bench_tp_meters.sh).

    Layout: coefficients tap-major, all eight grid points of one tap side
    by side (coef[k * 8 + p]), so one tap is one 8-wide multiply-add over
    the grid (GNU C vectors: two SSE2 operations on the baseline ISA, one
    AVX operation when the DSP table is at AVX2 (no FMA, so the results
    are the same); four independent accumulators hide the add latency). Branch 7 of
    the interval before (y(j - 1/8)) is computed on its own when the
    largest grid point is the sample x[j] (its left neighbour).

    Refinement: the largest |y| of the grid, b, with its neighbours a
    and c, gives the parabola's vertex b - (a - c)^2 / (8 (a - 2b + c)).
    For a sine at the Nyquist frequency (grid step pi/8 radians) the
    vertex is within 0.005 dB of the crest; lower frequencies do better.

    Processing runs over chunks of TP_CHECK_CHUNK intervals: one pass
    over the interleaved source fills a buffer per channel with the chunk
    and a margin of samples on both sides (zeros outside the signal);
    the screen takes the 4x maximum of every TP_CHECK_SCAN intervals
    (ops->tp_block_max, the meter's own kernel) and computes the
    per-interval envelope (ops->tp_peaks) only where that reaches it. Allocates one
    buffer per call. On a 4-minute stereo master at 44.1 kHz the check
    took about 1.3 to 1.5 times the 4x meter's time (0.6% of the
    intervals refined).  */
#include "worker/dsp/tp_check.h"
#include "worker/dsp/dsp_ops.h"
#include "worker/dsp/truepeak.h"
#include "common/err.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TP_CHECK_KAISER_BETA  6.0     //  side lobes near -60 dB
#define TP_CHECK_CHUNK        4096    //  intervals per chunk
#define TP_CHECK_MARGIN       64      //  samples kept on each side of a chunk
#define TP_CHECK_SCAN         256     //  intervals per screen test (one abs_max)
#define TP_CHECK_MAX_CHANNELS 8
#define TP_CHECK_H            (TP_CHECK_TAPS / 2)

typedef float tp_v8 __attribute__ ((vector_size (32)));
typedef float tp_v4 __attribute__ ((vector_size (16)));
typedef int   tp_v4i __attribute__ ((vector_size (16)));

//  coef [k] lane p: c_{p/8}[k]; built once
static tp_v8 s_coef [TP_CHECK_TAPS];
static pthread_once_t s_coef_once = PTHREAD_ONCE_INIT;

//  The grid of one interval (s_grid_base / s_grid_avx, below).
static void s_grid_base (const float *xs, float *out);
#if defined (__x86_64__) || defined (__i386__)
__attribute__ ((target ("avx"))) static void s_grid_avx (const float *xs, float *out);
#endif
static void (*s_grid) (const float *xs, float *out) = s_grid_base;

//  Designs the refinement interpolator (see the top of the file).
static void
s_coef_init (void)
{
#if defined (__x86_64__) || defined (__i386__)
    if (dsp_ops ()->isa >= DSP_ISA_AVX2)
        s_grid = s_grid_avx;
#endif
    const double beta = TP_CHECK_KAISER_BETA;
    for (int p = 0; p < TP_CHECK_PHASES; p++) {
        double u = (double) p / TP_CHECK_PHASES;
        double h [TP_CHECK_TAPS], sum = 0.0;
        for (int k = 0; k < TP_CHECK_TAPS; k++) {
            double d = (double) (k - TP_CHECK_H + 1) - u;
            double s = d == 0.0 ? 1.0 : sin (M_PI * d) / (M_PI * d);
            double t = d / (double) TP_CHECK_H;
            double w = truepeak_kaiser (t, beta);
            h [k] = s * w;
            sum += h [k];
        }
        for (int k = 0; k < TP_CHECK_TAPS; k++)
            s_coef [k][p] = (float) (h [k] / sum);
        if (p == 0)
            for (int k = 0; k < TP_CHECK_TAPS; k++)
                s_coef [k][0] = k == TP_CHECK_H - 1 ? 1.0f : 0.0f;   //  exact sample
    }
}

//  The eight grid values y(j + p/8) of the interval whose first sample
//  of support is xs = &x[j - H + 1], into out [0 .. 7]. Written once as
//  a macro body for the baseline and the AVX builds of the same loop
//  (the same operations in the same order: identical results).
#define TP_CHECK_GRID_BODY                                              \
    tp_v8 a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };               \
    for (int k = 0; k < TP_CHECK_TAPS; k += 4) {                        \
        a0 += s_coef [k] * xs [k];                                      \
        a1 += s_coef [k + 1] * xs [k + 1];                              \
        a2 += s_coef [k + 2] * xs [k + 2];                              \
        a3 += s_coef [k + 3] * xs [k + 3];                              \
    }                                                                   \
    tp_v8 g = (a0 + a1) + (a2 + a3);                                    \
    memcpy (out, &g, sizeof g);

static void
s_grid_base (const float *xs, float *out)
{
    TP_CHECK_GRID_BODY
}

#if defined (__x86_64__) || defined (__i386__)
//  s_grid_base with 256-bit vectors (AVX, no FMA), chosen at run time
//  when the DSP table is at AVX2.
__attribute__ ((target ("avx"))) static void
s_grid_avx (const float *xs, float *out)
{
    TP_CHECK_GRID_BODY
}
#endif

//  y(j - 1/8): branch 7 of the interval before, support from xs - 1.
static inline float
s_left (const float *xs)
{
    float y = 0.0f;
    for (int k = 0; k < TP_CHECK_TAPS; k++)
        y += s_coef [k][TP_CHECK_PHASES - 1] * xs [k - 1];
    return y;
}

//  Refined |peak| of the interval with support xs (see the file top):
//  xs [H - 1] is x[j], xs [H] is x[j+1].
static float
s_refine (const float *xs)
{
    float v [TP_CHECK_PHASES + 1];
    s_grid (xs, v);
    int best = 0;
    for (int p = 0; p < TP_CHECK_PHASES; p++) {
        v [p] = fabsf (v [p]);
        if (v [p] > v [best])
            best = p;
    }
    v [TP_CHECK_PHASES] = fabsf (xs [TP_CHECK_H]);
    float b = v [best], c = v [best + 1];
    float a = best > 0 ? v [best - 1] : fabsf (s_left (xs));
    float den = a - 2.0f * b + c;
    if (a <= b && c <= b && den < 0.0f)
        return b - 0.125f * (a - c) * (a - c) / den;
    return b;
}

//  Copies the samples of frames t0 .. t0 + len - 1 of every channel into
//  bufs [c][0 .. len-1] in one pass over the interleaved source, zeros
//  outside the signal.
static void
s_load (const float *x, int64_t frames, int channels, int64_t t0, int64_t len,
        float *const *bufs)
{
    if (t0 >= 0 && t0 + len <= frames) {
        const float *src = x + t0 * channels;
        if (channels == 2) {
            float *restrict b0 = bufs [0], *restrict b1 = bufs [1];
            int64_t i = 0;
            //  four frames at a time: two loads, two shuffles, two stores
            for (; i + 4 <= len; i += 4) {
                tp_v4 u, v;
                memcpy (&u, src + 2 * i, sizeof u);
                memcpy (&v, src + 2 * i + 4, sizeof v);
                tp_v4 l = __builtin_shuffle (u, v, (tp_v4i) { 0, 2, 4, 6 });
                tp_v4 r = __builtin_shuffle (u, v, (tp_v4i) { 1, 3, 5, 7 });
                memcpy (b0 + i, &l, sizeof l);
                memcpy (b1 + i, &r, sizeof r);
            }
            for (; i < len; i++) {
                b0 [i] = src [2 * i];
                b1 [i] = src [2 * i + 1];
            }
        }
        else
            for (int64_t i = 0; i < len; i++)
                for (int c = 0; c < channels; c++)
                    bufs [c][i] = src [i * channels + c];
        return;
    }
    for (int64_t i = 0; i < len; i++) {
        int64_t t = t0 + i;
        for (int c = 0; c < channels; c++)
            bufs [c][i] = t >= 0 && t < frames ? x [t * channels + c] : 0.0f;
    }
}

//  Screens and refines n intervals of one channel whose samples are at
//  xj (xj [k] = x[s + k], with TP_CHECK_MARGIN samples readable on both
//  sides); env has TP_CHECK_SCAN floats of scratch. Raises *own (4x) and *best
//  (refined where screened), counts refined intervals.
static void
s_chunk (const float *xj, int64_t n, const truepeak_filter_t *f, float thr,
         float *restrict env, float *own, float *best, int64_t *refined)
{
    const dsp_ops_t *ops = dsp_ops ();
    for (int64_t k0 = 0; k0 < n; k0 += TP_CHECK_SCAN) {
        const int64_t len = k0 + TP_CHECK_SCAN < n ? TP_CHECK_SCAN : n - k0;
        const float *x0 = xj + k0;
        //  the 4x maximum of the sub-block: branch 0 is the samples
        float m = ops->abs_max (x0, (size_t) len);
        if (f->phases > 1) {
            float r = ops->tp_block_max (x0 + f->delay_frames, (size_t) len,
                                         f->coef + f->taps, f->phases - 1, f->taps);
            m = r > m ? r : m;
        }
        if (m > *own)
            *own = m;
        if (m < thr) {
            if (m > *best)
                *best = m;
            continue;
        }
        //  at the screen: the 4x envelope of every interval
        if (f->phases > 1) {
            ops->tp_peaks (x0 + f->delay_frames, (size_t) len, f->coef + f->taps,
                           f->phases - 1, f->taps, env);
            for (int64_t k = 0; k < len; k++) {
                float v = fabsf (x0 [k]);
                env [k] = v > env [k] ? v : env [k];
            }
        }
        else
            for (int64_t k = 0; k < len; k++)
                env [k] = fabsf (x0 [k]);
        for (int64_t k = 0; k < len; k++) {
            float e = env [k];
            if (e >= thr) {
                e = s_refine (x0 + k - TP_CHECK_H + 1);
                (*refined)++;
            }
            if (e > *best)
                *best = e;
        }
    }
}

//  Linear to dBTP; -HUGE_VAL for 0.
static double
s_db (float lin)
{
    return lin > 0.0f ? 20.0 * log10 ((double) lin) : -HUGE_VAL;
}

int
tp_check_run (const float *interleaved, int64_t frames, int channels, int rate_hz,
              double floor_dbtp, tp_check_result_t *result)
{
    memset (result, 0, sizeof *result);
    result->own_dbtp = result->true_peak_dbtp = HUGE_VAL;
    if (!interleaved || frames < 0 || channels < 1 || channels > TP_CHECK_MAX_CHANNELS
    ||  rate_hz < 8000 || rate_hz > 768000 || isnan (floor_dbtp))
        return MF_ERR_INVALID;
    pthread_once (&s_coef_once, s_coef_init);
    const truepeak_filter_t *f = truepeak_filter (rate_hz);
    const int64_t stride = TP_CHECK_CHUNK + 2 * TP_CHECK_MARGIN;
    float *mem = malloc ((size_t) (stride * channels + TP_CHECK_CHUNK) * sizeof (float));
    if (!mem)
        return MF_ERR_NOMEM;
    float *bufs [TP_CHECK_MAX_CHANNELS];
    for (int c = 0; c < channels; c++)
        bufs [c] = mem + c * stride;
    float *env = mem + stride * channels;
    float thr = floor_dbtp == -HUGE_VAL ? 0.0f
              : (float) pow (10.0, (floor_dbtp - TP_CHECK_SCREEN_DB) / 20.0);
    float own = 0.0f, best = 0.0f;
    //  intervals from before the first sample to after the last: the
    //  interpolators' head and tail
    const int64_t jbeg = -TP_CHECK_H - 1, jend = frames + TP_CHECK_H + 1;
    for (int64_t s = jbeg; s < jend; s += TP_CHECK_CHUNK) {
        int64_t n = jend - s < TP_CHECK_CHUNK ? jend - s : TP_CHECK_CHUNK;
        s_load (interleaved, frames, channels, s - TP_CHECK_MARGIN, n + 2 * TP_CHECK_MARGIN,
                bufs);
        for (int c = 0; c < channels; c++)
            s_chunk (bufs [c] + TP_CHECK_MARGIN, n, f, thr, env, &own, &best,
                     &result->refined);
    }
    result->intervals = (jend - jbeg) * channels;
    free (mem);
    result->own_dbtp = s_db (own);
    result->true_peak_dbtp = s_db (best);
    return 0;
}

double
tp_check_max_dbtp (const float *interleaved, int64_t frames, int channels, int rate_hz)
{
    tp_check_result_t r;
    if (tp_check_run (interleaved, frames, channels, rate_hz, -HUGE_VAL, &r))
        return HUGE_VAL;
    return r.true_peak_dbtp;
}
