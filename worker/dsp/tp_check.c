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
    is the sample itself. With 128 taps the response of the half-sample
    branch is flat within 0.01 dB to 0.965 times the Nyquist frequency
    (21.3 kHz at 44.1 kHz), 4.7 dB down at 0.99 and nothing at the
    Nyquist frequency itself, where no finite interpolator can be exact
    (meters differ most there: on limited noise with a rising tilt an
    ideal reconstruction, SoX's 16x VHQ resampler and FFmpeg's ebur128
    filter read up to 0.4 dB apart, SoX the highest). With 64 taps (flat
    to 0.93, 2 dB down at 0.97) this check read such noise 0.3 dB under
    FFmpeg; with 128, within 0.15 dB of it (dsp_test_tp_accuracy).

    Layout: coefficients tap-major, all eight grid points of one tap side
    by side (coef[k * 8 + p]), so one tap is one 8-wide multiply-add over
    the grid (GNU C vectors: two SSE2 operations on the baseline ISA, one
    AVX operation when the DSP table is at AVX2 (no FMA, so the results
    are the same); four independent accumulators hide the add latency). Branch 7 of
    the interval before (y(j - 1/8)) is computed on its own when the
    largest grid point is the sample x[j] (its left neighbour): a scalar
    sum, eight such intervals of a block in lockstep (s_left).

    Refinement: the largest |y| of the grid, b, with its neighbours a
    and c, gives the parabola's vertex b - (a - c)^2 / (8 (a - 2b + c)).
    For a sine at the Nyquist frequency (grid step pi/8 radians) the
    vertex is within 0.005 dB of the crest; lower frequencies do better.

    Processing runs over chunks of TP_CHECK_CHUNK intervals, each cut
    into screen blocks of TP_CHECK_SCAN intervals. The screen proper
    takes the 4x maximum of a block (ops->tp_block_max, the meter's own
    kernel) and computes the per-interval envelope (ops->tp_peaks) only
    where that reaches the screen, from per-channel copies of the chunk
    with a margin of samples on both sides (zeros outside the signal).

    Pre-screen (exact): before that, every block is bounded from the
    interleaved source by the sample peak M and the largest step D
    (between consecutive frames) of the frames its 4x kernel reads, per
    channel (all channels together when their count does not divide 8),
    in one cheap pass (s_scan; on a long file it runs at the memory's
    speed): the 4x maximum is at most max over branches of
    min (A M, |S| M + W D) (s_bounds_t). A block whose bound is under
    the screen and at or under both running maxima (the 4x reading and
    the answer so far) can change neither, nor need refinement: it is
    skipped, without the copy or the kernel. The other blocks run in the
    same order through the same steps as without the pre-screen, from
    the same places in the same buffers; a block the pre-screen found
    finite takes its envelope first and its 4x maximum from it (the same
    value as ops->tp_block_max, see s_block). So the result is the same
    bit for bit (tests/dsp/test_tp_accuracy.c compares it with
    tp_check_run_ex's reference path). NaN and infinite samples make
    infinite or NaN bounds, never under the screen: those blocks take
    the reference steps. Where a block's frames pass an end of the
    signal, the zeros there make steps D does not see: only A M is used.

    On a 4-minute limited stereo master at 44.1 kHz
    (tests/bench/bench_tp_check.c) the pre-screen settled 88% of the
    intervals, 0.6% of the intervals were refined, and the check took
    about half the time of the reference path, less than the 4x meter
    alone; more than a third of that is reading the file once, at the
    memory's speed. Allocates one buffer per call.  */
#include "worker/dsp/tp_check.h"
#include "common/array.h"
#include "worker/dsp/dsp_ops.h"
#include "worker/dsp/truepeak.h"
#include "common/err.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#if defined (__x86_64__) || defined (__i386__)
#include <immintrin.h>
#endif

#define TP_CHECK_KAISER_BETA  6.0     //  side lobes near -60 dB
#define TP_CHECK_CHUNK        4096    //  intervals per chunk
#define TP_CHECK_MARGIN       128     //  samples kept on each side of a chunk
#define TP_CHECK_SCAN         256     //  intervals per screen block (one bound)
#define TP_CHECK_MAX_CHANNELS 8
#define TP_CHECK_H            (TP_CHECK_TAPS / 2)

typedef float tp_v8 __attribute__ ((vector_size (32)));
typedef float tp_v4 __attribute__ ((vector_size (16)));
typedef int   tp_v4i __attribute__ ((vector_size (16)));
typedef int32_t tp_v8i __attribute__ ((vector_size (32)));

//  coef [k] lane p: c_{p/8}[k]; built once
static tp_v8 s_coef [TP_CHECK_TAPS];
static pthread_once_t s_coef_once = PTHREAD_ONCE_INIT;

//  The grid of one interval (s_grid_base / s_grid_avx, below).
static void s_grid_base (const float *xs, float *out);
#if defined (__x86_64__) || defined (__i386__)
__attribute__ ((target ("avx"))) static void s_grid_avx (const float *xs, float *out);
#endif
static void (*s_grid) (const float *xs, float *out) = s_grid_base;

//  The pre-screen's sample peak and step (s_scan_base / s_scan_avx2, below).
static void s_scan_base (const float *z, size_t n, int channels, float *peak,
                         float *step);
#if defined (__x86_64__) || defined (__i386__)
__attribute__ ((target ("avx2"))) static void
s_scan_avx2 (const float *z, size_t n, int channels, float *peak, float *step);
#endif
static void (*s_scan) (const float *z, size_t n, int channels, float *peak, float *step)
    = s_scan_base;

//  Designs the refinement interpolator (see the top of the file).
static void
s_coef_init (void)
{
#if defined (__x86_64__) || defined (__i386__)
    if (dsp_ops ()->isa >= DSP_ISA_AVX2) {
        s_grid = s_grid_avx;
        s_scan = s_scan_avx2;
    }
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

//  y(j - 1/8), branch 7 of the interval before, for n intervals whose
//  supports start at xs [i] (read from xs [i] - 1): out [i]. Each is the
//  same sum of products in the same order as one 64-step loop would add
//  them (lane by lane, a vector multiply and add round as the scalar
//  ones); eight intervals run in lockstep, so that eight independent
//  sums share the add latency instead of one chain.
static void
s_left (const float *const *xs, int n, float *out)
{
    for (int i0 = 0; i0 < n; i0 += 8) {
        const float *p [8];
        for (int l = 0; l < 8; l++)
            p [l] = xs [i0 + l < n ? i0 + l : i0] - 1;
        const float *p0 = p [0], *p1 = p [1], *p2 = p [2], *p3 = p [3],
                    *p4 = p [4], *p5 = p [5], *p6 = p [6], *p7 = p [7];
        tp_v8 y = { 0 };
        for (int k = 0; k < TP_CHECK_TAPS; k++) {
            tp_v8 x = { p0 [k], p1 [k], p2 [k], p3 [k], p4 [k], p5 [k], p6 [k], p7 [k] };
            y += s_coef [k][TP_CHECK_PHASES - 1] * x;
        }
        for (int l = 0; l < 8 && i0 + l < n; l++)
            out [i0 + l] = y [l];
    }
}

//  The vertex of the parabola through the grid values a, b, c around the
//  largest, b (see the file top); b where they do not make a crest.
static inline float
s_vertex (float a, float b, float c)
{
    float den = a - 2.0f * b + c;
    if (a <= b && c <= b && den < 0.0f)
        return b - 0.125f * (a - c) * (a - c) / den;
    return b;
}

//  Refines the interval with support xs (see the file top): xs [H - 1]
//  is x[j], xs [H] is x[j+1]. Returns true with the refined |peak| in
//  *e; or false when the largest grid point is the sample x[j] itself
//  (its left neighbour is y(j - 1/8), from s_left): then *b and *c hold
//  |y(j)| and |y(j + 1/8)| and the answer is
//  s_vertex (|y(j - 1/8)|, *b, *c).
static bool
s_refine (const float *xs, float *e, float *b, float *c)
{
    float v [TP_CHECK_PHASES + 1];
    s_grid (xs, v);
    for (int p = 0; p < TP_CHECK_PHASES; p++)
        v [p] = fabsf (v [p]);
    v [TP_CHECK_PHASES] = fabsf (xs [TP_CHECK_H]);
    //  the first largest (ties and NaN: the earlier one), without branches
    int best = 0;
    float vb = v [0];
    for (int p = 1; p < TP_CHECK_PHASES; p++) {
        bool gt = v [p] > vb;
        vb = gt ? v [p] : vb;
        best = gt ? p : best;
    }
    if (best == 0) {
        *b = v [0];
        *c = v [1];
        return false;
    }
    *e = s_vertex (v [best - 1], v [best], v [best + 1]);
    return true;
}

//  Copies the samples of frames t0 .. t0 + len - 1 of every channel into
//  bufs [c][0 .. len-1] in one pass over the interleaved source, zeros
//  outside the signal of frames frames. x holds the signal's frames from
//  x0 on, at least those of t0 .. t0 + len - 1 within the signal.
static void
s_load (const float *x, int64_t x0, int64_t frames, int channels, int64_t t0, int64_t len,
        float *const *bufs)
{
    if (t0 >= 0 && t0 + len <= frames) {
        const float *src = x + (t0 - x0) * channels;
        if (channels == 2)
            truepeak_split_stereo (src, (size_t) len, bufs [0], bufs [1]);
        else
            for (int64_t i = 0; i < len; i++)
                for (int c = 0; c < channels; c++)
                    bufs [c][i] = src [i * channels + c];
        return;
    }
    for (int64_t i = 0; i < len; i++) {
        int64_t t = t0 + i;
        for (int c = 0; c < channels; c++)
            bufs [c][i] = t >= 0 && t < frames ? x [(t - x0) * channels + c] : 0.0f;
    }
}

//  The sample peak and the largest step of n interleaved samples of
//  channels channels (n a multiple of channels): peak [c] = max |z [i]|,
//  step [c] = max |z [i + channels] - z [i]| (consecutive frames, in
//  float arithmetic) over the samples i of channel c when channels
//  divides the vector width (1, 2, 4, 8: a lane keeps to one channel),
//  else the maxima over all channels, in every c. Maxima are taken as the
//  largest integer of the bit patterns with the sign cleared, ordered
//  as the magnitudes for finite values and infinities: exact, in any
//  order, and a peak is NaN if a sample is NaN (its pattern is above
//  infinity's), where ops->abs_max may skip it (the step means nothing
//  then). Written once as a macro body for the baseline and the AVX2
//  builds.
#define TP_CHECK_IMAX(m, v)                                             \
    do { tp_v8i gt_ = (v) > (m); (m) = ((v) & gt_) | ((m) & ~gt_); } while (0)
#define TP_CHECK_SCAN_BODY                                              \
    const tp_v8i mask = { 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, \
                          0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff }; \
    const size_t ch = (size_t) channels;                                \
    tp_v8i mp0 = { 0 }, mp1 = { 0 }, md0 = { 0 }, md1 = { 0 };          \
    size_t i = 0;                                                       \
    for (; i + 16 + ch <= n; i += 16) {                                 \
        tp_v8 a, b, c, d;                                               \
        memcpy (&a, z + i, sizeof a);                                   \
        memcpy (&b, z + i + 8, sizeof b);                               \
        memcpy (&c, z + i + ch, sizeof c);                              \
        memcpy (&d, z + i + ch + 8, sizeof d);                          \
        tp_v8i pa = (tp_v8i) a & mask, pb = (tp_v8i) b & mask;          \
        tp_v8i da = (tp_v8i) (c - a) & mask, db = (tp_v8i) (d - b) & mask; \
        TP_CHECK_IMAX (mp0, pa);                                        \
        TP_CHECK_IMAX (mp1, pb);                                        \
        TP_CHECK_IMAX (md0, da);                                        \
        TP_CHECK_IMAX (md1, db);                                        \
    }                                                                   \
    TP_CHECK_IMAX (mp0, mp1);                                           \
    TP_CHECK_IMAX (md0, md1);                                           \
    /*  lane l (and the sample i of the tail) belongs to channel        \
        l % ch (i % ch) when ch divides 8; else all share one slot  */  \
    const size_t slots = 8 % ch == 0 ? ch : 1;                          \
    int32_t rp [TP_CHECK_MAX_CHANNELS] = { 0 }, rd [TP_CHECK_MAX_CHANNELS] = { 0 }; \
    for (size_t l = 0; l < 8; l++) {                                    \
        size_t s = l % slots;                                           \
        rp [s] = mp0 [l] > rp [s] ? mp0 [l] : rp [s];                   \
        rd [s] = md0 [l] > rd [s] ? md0 [l] : rd [s];                   \
    }                                                                   \
    for (; i < n; i++) {                                                \
        size_t s = i % slots;                                           \
        int32_t v;                                                      \
        memcpy (&v, z + i, sizeof v);                                   \
        v &= 0x7fffffff;                                                \
        rp [s] = v > rp [s] ? v : rp [s];                               \
        if (i + ch < n) {                                               \
            float e = z [i + ch] - z [i];                               \
            memcpy (&v, &e, sizeof v);                                  \
            v &= 0x7fffffff;                                            \
            rd [s] = v > rd [s] ? v : rd [s];                           \
        }                                                               \
    }                                                                   \
    for (size_t c = 0; c < ch; c++) {                                   \
        memcpy (peak + c, rp + c % slots, sizeof *peak);                \
        memcpy (step + c, rd + c % slots, sizeof *step);                \
    }

static void
s_scan_base (const float *z, size_t n, int channels, float *peak, float *step)
{
    TP_CHECK_SCAN_BODY
}

#if defined (__x86_64__) || defined (__i386__)
//  s_scan_base with 256-bit vectors (AVX2), chosen at run time when the
//  DSP table is at AVX2; the integer maxima as vpmaxsd (GCC's blend of
//  the generic form took twice the time).
#undef TP_CHECK_IMAX
#define TP_CHECK_IMAX(m, v)                                             \
    do { (m) = (tp_v8i) _mm256_max_epi32 ((__m256i) (m), (__m256i) (v)); } while (0)
__attribute__ ((target ("avx2"))) static void
s_scan_avx2 (const float *z, size_t n, int channels, float *peak, float *step)
{
    TP_CHECK_SCAN_BODY
}
#endif

//  Screens and refines the len (<= TP_CHECK_SCAN) intervals of one
//  screen block of one channel whose samples are at x0 (x0 [k] = x[s + k],
//  with TP_CHECK_MARGIN samples readable on both sides); env has
//  TP_CHECK_SCAN floats of scratch. Raises *own (4x) and *best (refined
//  where screened), counts refined intervals. finite: the pre-screen
//  found every sample the kernels read finite and under 1e30 (so are
//  their outputs); the envelope then comes first and the block's 4x
//  maximum is its largest value, which is exactly ops->tp_block_max's
//  answer (the kernels compute the same per-sample values, and maxima
//  are exact), saving the second kernel pass on blocks at the screen.
//  The intervals over a limit, as s_block finds them (tp_check_overs).
typedef struct {
    float      lim;             //  linear: intervals reading above it are listed,
    float      lim_hf;          //  and above this one those whose accurate reading
    float      hf;              //  is over hf times the 4x envelope's
    int64_t    base;            //  interval index of the block's first interval
    tp_over_t *v;
    size_t     n, cap;
    bool       nomem;
} s_overs_t;

//  Lists interval k of the block reading e (4x envelope env), when it is
//  over the limits.
static void
s_over (s_overs_t *ov, int64_t k, float e, float env)
{
    if (!ov || !(e > ov->lim || (e > ov->lim_hf && e > ov->hf * env)))
        return;
    if (array_reserve (&ov->v, &ov->cap, ov->n + 1, sizeof *ov->v, 256)) {
        ov->nomem = true;
        return;
    }
    ov->v [ov->n++] = (tp_over_t) { .frame = ov->base + k, .peak = e };
}

static void
s_block (const dsp_ops_t *ops, const float *x0, int64_t len, const truepeak_filter_t *f,
         bool finite, float thr, float *restrict env, float *own, float *best,
         int64_t *refined, s_overs_t *ov)
{
    float m = 0.0f;
    bool have_env = false;
    if (finite && f->phases > 1) {
        ops->tp_peaks (x0 + f->delay_frames, (size_t) len, f->coef + f->taps,
                       f->phases - 1, f->taps, env);
        //  env [k] = max (|x0 [k]|, env [k]) and m its maximum, four at a
        //  time (no NaN here: the comparisons pick as the scalar ones)
        const tp_v4i mask = { 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff };
        tp_v4i mv = { 0 };
        int64_t k = 0;
        for (; k + 4 <= len; k += 4) {
            tp_v4i xv, ev;
            memcpy (&xv, x0 + k, sizeof xv);
            memcpy (&ev, env + k, sizeof ev);
            xv &= mask;
            tp_v4i gt = (tp_v4) xv > (tp_v4) ev;
            ev = (xv & gt) | (ev & ~gt);
            memcpy (env + k, &ev, sizeof ev);
            tp_v4i gm = (tp_v4) ev > (tp_v4) mv;
            mv = (ev & gm) | (mv & ~gm);
        }
        for (int l = 0; l < 4; l++) {
            float v = ((tp_v4) mv) [l];
            m = v > m ? v : m;
        }
        for (; k < len; k++) {
            float v = fabsf (x0 [k]);
            env [k] = v > env [k] ? v : env [k];
            m = env [k] > m ? env [k] : m;
        }
        have_env = true;
    }
    else {
        //  the 4x maximum of the sub-block: branch 0 is the samples
        m = ops->abs_max (x0, (size_t) len);
        if (f->phases > 1) {
            float r = ops->tp_block_max (x0 + f->delay_frames, (size_t) len,
                                         f->coef + f->taps, f->phases - 1, f->taps);
            m = r > m ? r : m;
        }
    }
    if (m > *own)
        *own = m;
    if (m < thr) {
        if (m > *best)
            *best = m;
        return;
    }
    //  at the screen: the 4x envelope of every interval
    if (!have_env && f->phases > 1) {
        ops->tp_peaks (x0 + f->delay_frames, (size_t) len, f->coef + f->taps,
                       f->phases - 1, f->taps, env);
        for (int64_t k = 0; k < len; k++) {
            float v = fabsf (x0 [k]);
            env [k] = v > env [k] ? v : env [k];
        }
    }
    else if (!have_env)
        for (int64_t k = 0; k < len; k++)
            env [k] = fabsf (x0 [k]);
    //  refinements whose left neighbour is still to come (s_refine);
    //  the maxima are the same in any order
    const float *pend [TP_CHECK_SCAN];
    float pend_b [TP_CHECK_SCAN], pend_c [TP_CHECK_SCAN], left [TP_CHECK_SCAN];
    int64_t pend_k [TP_CHECK_SCAN];
    int n_pend = 0;
    float bst = *best;
    int64_t n_ref = 0;
    for (int64_t k = 0; k < len; k++) {
        float e = env [k];
        if (e >= thr) {
            const float *xs = x0 + k - TP_CHECK_H + 1;
            n_ref++;
            if (!s_refine (xs, &e, &pend_b [n_pend], &pend_c [n_pend])) {
                pend_k [n_pend] = k;
                pend [n_pend++] = xs;
                continue;
            }
            s_over (ov, k, e, env [k]);
        }
        bst = e > bst ? e : bst;
    }
    //  the vertex is never above 9/8 of the largest grid point b (for
    //  a, c in [0, b] the parabola's rise over b is (a - c)^2 / (8 (2b -
    //  a - c)) <= b / 8), so where 1.13 b (room for rounding) is at or
    //  under the answer so far (and, when listing, the limit), the left
    //  neighbour cannot matter
    int n_left = 0;
    for (int i = 0; i < n_pend; i++)
        if (!((double) pend_b [i] * 1.13 <= (double) bst
              && (!ov || (double) pend_b [i] * 1.13 <= (double) ov->lim_hf))) {
            pend [n_left] = pend [i];
            pend_k [n_left] = pend_k [i];
            pend_b [n_left] = pend_b [i];
            pend_c [n_left++] = pend_c [i];
        }
    s_left (pend, n_left, left);
    for (int i = 0; i < n_left; i++) {
        float e = s_vertex (fabsf (left [i]), pend_b [i], pend_c [i]);
        s_over (ov, pend_k [i], e, env [pend_k [i]]);
        bst = e > bst ? e : bst;
    }
    *best = bst;
    *refined += n_ref;
}

//  Linear to dBTP; -HUGE_VAL for 0.
static double
s_db (float lin)
{
    return lin > 0.0f ? 20.0 * log10 ((double) lin) : -HUGE_VAL;
}

//  What the 4x reading (every branch of the meter's filter) of a block
//  can reach, from the sample peak M and the largest step D of the
//  frames its kernel reads. For branch p with coefficients c_k and any
//  anchor tap a, y = S x_a + sum_k c_k (x_k - x_a) with S = sum_k c_k and
//  |x_k - x_a| <= |k - a| D, so
//      |y| <= min (A_p M, |S_p| M + W_p D),
//      A_p = sum_k |c_k|,  W_p = min over a of sum_k |c_k| |k - a|
//  (the second is the tighter for smooth content: on a limited master
//  at 44.1 kHz, A = 1.95 but most blocks step little). Where the block's
//  frames run past either end of the signal the zeros there make steps
//  the samples do not show: only the first form is used. The slack
//  covers the kernels' float rounding (T * 2^-24 << 1e-4 of A M, as
//  limiter.c's coef_bound) and flushed denormal results.
typedef struct {
    int     phases;
    double  sum_abs [TRUEPEAK_MAX_PHASES];  //  A_p
    double  sum [TRUEPEAK_MAX_PHASES];      //  |S_p|
    double  moment [TRUEPEAK_MAX_PHASES];   //  W_p
    double  sum_abs_max;                    //  max A_p, at least 1 (branch 0)
    int64_t lo, hi;                         //  frames read before the first
                                            //  interval, after the last
} s_bounds_t;

//  Fills *b for the filter f.
static void
s_bounds_init (s_bounds_t *b, const truepeak_filter_t *f)
{
    b->phases = f->phases;
    b->sum_abs_max = 1.0;
    for (int p = 0; p < f->phases; p++) {
        const float *c = f->coef + p * f->taps;
        double a = 0.0, sum = 0.0, w_min = HUGE_VAL;
        for (int k = 0; k < f->taps; k++) {
            a += fabs ((double) c [k]);
            sum += (double) c [k];
        }
        for (int anchor = 0; anchor < f->taps; anchor++) {
            double w = 0.0;
            for (int k = 0; k < f->taps; k++)
                w += fabs ((double) c [k]) * fabs ((double) (k - anchor));
            w_min = w < w_min ? w : w_min;
        }
        b->sum_abs [p] = a;
        b->sum [p] = fabs (sum);
        b->moment [p] = w_min;
        b->sum_abs_max = a > b->sum_abs_max ? a : b->sum_abs_max;
    }
    int64_t lo = f->taps - 1 - f->delay_frames;
    b->lo = lo > 0 ? lo : 0;
    b->hi = f->delay_frames;
}

//  The bound on the block's 4x maximum (see s_bounds_t) from its sample
//  peak and largest step; clipped: its frames run past an end of the
//  signal. NaN if peak is NaN.
static double
s_bound (const s_bounds_t *b, float peak, float step, bool clipped)
{
    const double m = peak, d = step;
    double u = 0.0;
    for (int p = 0; p < b->phases; p++) {
        double v = b->sum_abs [p] * m;
        if (!clipped) {
            double w = b->sum [p] * m + b->moment [p] * d;
            v = w < v ? w : v;
        }
        u = v > u ? v : u;
    }
    return isnan (m) ? m : u + 1e-4 * b->sum_abs_max * m + 1e-30;
}

//  One check, whole or fed in pieces: the intervals from before the
//  first sample to after the last (the interpolators' head and tail) are
//  screened in chunks of TP_CHECK_CHUNK, in order; a chunk reads the
//  frames TP_CHECK_MARGIN before its first interval to TP_CHECK_MARGIN
//  after its last (the pre-screen's reach, bounds.lo and bounds.hi, is
//  within the margins).
typedef struct {
    const dsp_ops_t         *ops;
    const truepeak_filter_t *f;
    int64_t     frames;
    int         channels;
    bool        prescreen;
    float       thr;                //  the screen, linear
    float       own, best;          //  running maxima, linear
    s_bounds_t  bounds;
    float      *mem;                //  the channels' chunk buffers, then env
    float      *bufs [TP_CHECK_MAX_CHANNELS];
    float      *env;
    int64_t     next, end;          //  first interval of the next chunk, past the last
    int64_t     refined, bounded;
    s_overs_t  *ov;                 //  NULL: not listed
} s_check_t;

//  Starts a check of frames frames. Returns 0, MF_ERR_INVALID for
//  arguments out of range or MF_ERR_NOMEM.
static int
s_check_init (s_check_t *k, int64_t frames, int channels, int rate_hz, double floor_dbtp,
              bool prescreen, s_overs_t *ov)
{
    memset (k, 0, sizeof *k);
    if (frames < 0 || channels < 1 || channels > TP_CHECK_MAX_CHANNELS
    ||  rate_hz < 8000 || rate_hz > 768000 || isnan (floor_dbtp))
        return MF_ERR_INVALID;
    pthread_once (&s_coef_once, s_coef_init);
    k->ops = dsp_ops ();
    k->f = truepeak_filter (rate_hz);
    k->frames = frames;
    k->channels = channels;
    k->prescreen = prescreen;
    k->ov = ov;
    const int64_t stride = TP_CHECK_CHUNK + 2 * TP_CHECK_MARGIN;
    k->mem = malloc ((size_t) (stride * channels + TP_CHECK_CHUNK) * sizeof (float));
    if (!k->mem)
        return MF_ERR_NOMEM;
    for (int c = 0; c < channels; c++)
        k->bufs [c] = k->mem + c * stride;
    k->env = k->mem + stride * channels;
    k->thr = floor_dbtp == -HUGE_VAL ? 0.0f
           : (float) pow (10.0, (floor_dbtp - TP_CHECK_SCREEN_DB) / 20.0);
    s_bounds_init (&k->bounds, k->f);
    assert (k->bounds.lo <= TP_CHECK_MARGIN && k->bounds.hi <= TP_CHECK_MARGIN);
    k->next = -TP_CHECK_H - 1;
    k->end = frames + TP_CHECK_H + 1;
    return 0;
}

//  The frame after the last one the next chunk reads within the signal.
static int64_t
s_check_needs (const s_check_t *k)
{
    int64_t n = k->end - k->next < TP_CHECK_CHUNK ? k->end - k->next : TP_CHECK_CHUNK;
    int64_t last = k->next + n + TP_CHECK_MARGIN;
    return last < k->frames ? last : k->frames;
}

//  Screens (and refines) the next chunk of intervals. x holds the
//  signal's frames from x0 on: at least those the chunk reads.
static void
s_check_chunk (s_check_t *k, const float *x, int64_t x0)
{
    const int channels = k->channels;
    const int64_t frames = k->frames, s = k->next;
    int64_t n = k->end - s < TP_CHECK_CHUNK ? k->end - s : TP_CHECK_CHUNK;
    k->next += n;
    const int nb = (int) ((n + TP_CHECK_SCAN - 1) / TP_CHECK_SCAN);
    //  per block and channel: needs the screen proper; its samples
    //  are finite (see s_block)
    bool need [TP_CHECK_CHUNK / TP_CHECK_SCAN][TP_CHECK_MAX_CHANNELS];
    bool finite [TP_CHECK_CHUNK / TP_CHECK_SCAN][TP_CHECK_MAX_CHANNELS];
    bool any [TP_CHECK_CHUNK / TP_CHECK_SCAN];
    int n_need = nb;
    for (int b = 0; b < nb; b++) {
        any [b] = true;
        for (int c = 0; c < channels; c++) {
            need [b][c] = true;
            finite [b][c] = false;
        }
    }
    if (k->prescreen) {
        //  a block whose bound stays under the screen and at or under
        //  both running maxima cannot change them (its 4x maximum is
        //  under the bound) nor need refinement: skipped. NaN fails
        //  both tests: such blocks take the 4x kernel, as before.
        const double lim = k->own < k->best ? k->own : k->best;
        n_need = 0;
        for (int b = 0; b < nb; b++) {
            int64_t k0 = (int64_t) b * TP_CHECK_SCAN;
            int64_t len = k0 + TP_CHECK_SCAN < n ? TP_CHECK_SCAN : n - k0;
            int64_t f0 = s + k0 - k->bounds.lo, f1 = s + k0 + len + k->bounds.hi;
            bool clipped = f0 < 0 || f1 > frames;
            f0 = f0 < 0 ? 0 : f0;
            f1 = f1 > frames ? frames : f1;
            float peak [TP_CHECK_MAX_CHANNELS] = { 0 };
            float step [TP_CHECK_MAX_CHANNELS] = { 0 };
            if (f1 > f0)
                s_scan (x + (f0 - x0) * channels, (size_t) ((f1 - f0) * channels),
                        channels, peak, step);
            any [b] = false;
            for (int c = 0; c < channels; c++) {
                double u = s_bound (&k->bounds, peak [c], step [c], clipped);
                finite [b][c] = peak [c] <= 1e30f;
                need [b][c] = !(u < (double) k->thr && u <= lim);
                any [b] |= need [b][c];
                if (!need [b][c])
                    k->bounded += len;
            }
            n_need += any [b];
        }
    }
    if (n_need == 0)
        return;
    //  load the runs of blocks that need the 4x kernel, each with the
    //  margins, into the same places as a load of the whole chunk
    for (int b = 0; b < nb; ) {
        if (!any [b]) {
            b++;
            continue;
        }
        int e = b;
        while (e < nb && any [e])
            e++;
        int64_t k0 = (int64_t) b * TP_CHECK_SCAN;
        int64_t k1 = (int64_t) e * TP_CHECK_SCAN < n ? (int64_t) e * TP_CHECK_SCAN : n;
        float *dst [TP_CHECK_MAX_CHANNELS];
        for (int c = 0; c < channels; c++)
            dst [c] = k->bufs [c] + k0;
        s_load (x, x0, frames, channels, s + k0 - TP_CHECK_MARGIN,
                k1 - k0 + 2 * TP_CHECK_MARGIN, dst);
        b = e;
    }
    for (int c = 0; c < channels; c++)
        for (int b = 0; b < nb; b++) {
            if (!need [b][c])
                continue;
            int64_t k0 = (int64_t) b * TP_CHECK_SCAN;
            int64_t len = k0 + TP_CHECK_SCAN < n ? TP_CHECK_SCAN : n - k0;
            if (k->ov)
                k->ov->base = s + k0;
            s_block (k->ops, k->bufs [c] + TP_CHECK_MARGIN + k0, len, k->f, finite [b][c],
                     k->thr, k->env, &k->own, &k->best, &k->refined, k->ov);
        }
}

//  Ends a check whose chunks have all run: the readings into *result.
static void
s_check_end (s_check_t *k, tp_check_result_t *result)
{
    memset (result, 0, sizeof *result);
    result->refined = k->refined;
    result->intervals = (k->end + TP_CHECK_H + 1) * k->channels;
    result->own_dbtp = s_db (k->own);
    result->true_peak_dbtp = s_db (k->best);
    free (k->mem);
    k->mem = NULL;
}

//  tp_check_run_ex, listing into ov (NULL: not wanted) the intervals over
//  its limit.
static int
s_run (const float *interleaved, int64_t frames, int channels, int rate_hz,
       double floor_dbtp, bool prescreen, int64_t *bounded, tp_check_result_t *result,
       s_overs_t *ov)
{
    memset (result, 0, sizeof *result);
    result->own_dbtp = result->true_peak_dbtp = HUGE_VAL;
    if (bounded)
        *bounded = 0;
    if (!interleaved)
        return MF_ERR_INVALID;
    s_check_t k;
    int rc = s_check_init (&k, frames, channels, rate_hz, floor_dbtp, prescreen, ov);
    if (rc)
        return rc;
    while (k.next < k.end)
        s_check_chunk (&k, interleaved, 0);
    if (bounded)
        *bounded = k.bounded;
    s_check_end (&k, result);
    return 0;
}

int
tp_check_run_ex (const float *interleaved, int64_t frames, int channels, int rate_hz,
                 double floor_dbtp, bool prescreen, int64_t *bounded,
                 tp_check_result_t *result)
{
    return s_run (interleaved, frames, channels, rate_hz, floor_dbtp, prescreen, bounded,
                  result, NULL);
}

//  Orders overs by frame, the higher reading first.
static int
s_over_cmp (const void *a, const void *b)
{
    const tp_over_t *x = a, *y = b;
    if (x->frame != y->frame)
        return x->frame < y->frame ? -1 : 1;
    return (x->peak < y->peak) - (x->peak > y->peak);
}

//  Sorts the listed intervals, keeps one entry per interval (the
//  channels' highest) and hands the list over to *overs, *n_overs.
static void
s_overs_take (s_overs_t *ov, tp_over_t **overs, size_t *n_overs)
{
    if (ov->n)
        qsort (ov->v, ov->n, sizeof *ov->v, s_over_cmp);
    size_t n = 0;
    for (size_t i = 0; i < ov->n; i++)
        if (n == 0 || ov->v [i].frame != ov->v [n - 1].frame)
            ov->v [n++] = ov->v [i];
    *overs = ov->v;
    *n_overs = n;
    ov->v = NULL;
    ov->n = ov->cap = 0;
}

//  The listing's limits, linear; false when hf_floor_dbtp is out of its
//  range.
static bool
s_overs_init (s_overs_t *ov, double floor_dbtp, double hf_floor_dbtp, double hf_excess_db)
{
    memset (ov, 0, sizeof *ov);
    if (!(hf_floor_dbtp <= floor_dbtp && hf_floor_dbtp >= floor_dbtp - TP_CHECK_SCREEN_DB))
        return false;
    ov->lim = (float) pow (10.0, floor_dbtp / 20.0);
    ov->lim_hf = (float) pow (10.0, hf_floor_dbtp / 20.0);
    ov->hf = (float) pow (10.0, hf_excess_db / 20.0);
    return true;
}

int
tp_check_overs (const float *interleaved, int64_t frames, int channels, int rate_hz,
                double floor_dbtp, double hf_floor_dbtp, double hf_excess_db,
                tp_over_t **overs, size_t *n_overs, tp_check_result_t *result)
{
    *overs = NULL;
    *n_overs = 0;
    s_overs_t ov;
    if (!s_overs_init (&ov, floor_dbtp, hf_floor_dbtp, hf_excess_db))
        return MF_ERR_INVALID;
    int rc = s_run (interleaved, frames, channels, rate_hz, floor_dbtp, true, NULL, result,
                    &ov);
    if (!rc && ov.nomem)
        rc = MF_ERR_NOMEM;
    if (rc) {
        free (ov.v);
        result->own_dbtp = result->true_peak_dbtp = HUGE_VAL;
        return rc;
    }
    s_overs_take (&ov, overs, n_overs);
    return 0;
}

//  A check fed in pieces (see tp_check.h). A chunk whose frames all lie
//  in the piece being fed is checked there, in place; one that also
//  needs frames from before the piece reads them from a small window
//  that keeps the tail of what came before (less than a chunk and its
//  margins), the piece's frames it needs appended.
struct tp_stream_s {
    s_check_t  k;
    s_overs_t  ov;
    bool       list;
    float     *win;                 //  frames w0 .. w1 - 1 of the signal
    int64_t    w0, w1, cap;         //  cap: frames the window has room for
    int64_t    fed;
    int        rc;                  //  first failure, sticky
};

tp_stream_t *
tp_stream_new (int64_t frames, int channels, int rate_hz, double floor_dbtp,
               double hf_floor_dbtp, double hf_excess_db, bool list)
{
    tp_stream_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->list = list;
    if (list && !s_overs_init (&self->ov, floor_dbtp, hf_floor_dbtp, hf_excess_db)) {
        free (self);
        return NULL;
    }
    self->cap = TP_CHECK_CHUNK + 2 * TP_CHECK_MARGIN;
    if (s_check_init (&self->k, frames, channels, rate_hz, floor_dbtp, true,
                      list ? &self->ov : NULL)
    ||  !(self->win = malloc ((size_t) (self->cap * channels) * sizeof (float)))) {
        free (self->k.mem);
        free (self);
        return NULL;
    }
    return self;
}

void
tp_stream_destroy (tp_stream_t **self_p)
{
    if (!*self_p)
        return;
    tp_stream_t *self = *self_p;
    free (self->k.mem);
    free (self->ov.v);
    free (self->win);
    free (self);
    *self_p = NULL;
}

//  The first frame the next chunk reads within the signal.
static int64_t
s_check_reads_from (const s_check_t *k)
{
    int64_t first = k->next - TP_CHECK_MARGIN;
    return first > 0 ? first : 0;
}

//  Drops the window's frames before frame from.
static void
s_window_trim (tp_stream_t *self, int64_t from)
{
    const int64_t ch = self->k.channels;
    if (from <= self->w0)
        return;
    assert (from <= self->w1);
    memmove (self->win, self->win + (from - self->w0) * ch,
             (size_t) ((self->w1 - from) * ch) * sizeof (float));
    self->w0 = from;
}

//  Appends frames w1 .. upto - 1 from piece x (frames t0 on) to the window.
static void
s_window_fill (tp_stream_t *self, const float *x, int64_t t0, int64_t upto)
{
    const int64_t ch = self->k.channels;
    if (upto <= self->w1)
        return;
    assert (upto - self->w0 <= self->cap && self->w1 >= t0);
    memcpy (self->win + (self->w1 - self->w0) * ch, x + (self->w1 - t0) * ch,
            (size_t) ((upto - self->w1) * ch) * sizeof (float));
    self->w1 = upto;
}

int
tp_stream_feed (tp_stream_t *self, const float *interleaved, int64_t frames)
{
    if (self->rc)
        return self->rc;
    s_check_t *k = &self->k;
    if (frames < 0 || self->fed + frames > k->frames)
        return self->rc = MF_ERR_INVALID;
    //  the window holds frames w0 .. t0 - 1, from what the next chunk reads
    const int64_t t0 = self->fed, t1 = t0 + frames;
    self->fed = t1;
    while (k->next < k->end && s_check_needs (k) <= t1) {
        int64_t from = s_check_reads_from (k);
        if (from >= t0)
            s_check_chunk (k, interleaved, t0);         //  all in the piece
        else {
            s_window_trim (self, from);
            s_window_fill (self, interleaved, t0, s_check_needs (k));
            s_check_chunk (k, self->win, self->w0);
        }
    }
    //  what the next chunk reads of all that came so far: less than a
    //  chunk and its margins
    int64_t keep = s_check_reads_from (k);
    keep = keep < t1 ? keep : t1;
    if (keep >= t0)
        self->w0 = self->w1 = keep;
    else
        s_window_trim (self, keep);
    s_window_fill (self, interleaved, t0, t1);
    if (self->ov.nomem)
        self->rc = MF_ERR_NOMEM;
    return self->rc;
}

int
tp_stream_finish (tp_stream_t *self, tp_check_result_t *result, tp_over_t **overs,
                  size_t *n_overs)
{
    if (overs) {
        *overs = NULL;
        *n_overs = 0;
    }
    if (!self->rc && self->fed != self->k.frames)
        self->rc = MF_ERR_INVALID;
    //  the chunks after the last frame read the window alone
    while (!self->rc && self->k.next < self->k.end)
        s_check_chunk (&self->k, self->win, self->w0);
    if (!self->rc && self->ov.nomem)
        self->rc = MF_ERR_NOMEM;
    if (self->rc || self->k.next < self->k.end) {
        memset (result, 0, sizeof *result);
        result->own_dbtp = result->true_peak_dbtp = HUGE_VAL;
        return self->rc ? self->rc : MF_ERR_INVALID;
    }
    s_check_end (&self->k, result);
    if (overs && self->list)
        s_overs_take (&self->ov, overs, n_overs);
    return 0;
}

int
tp_check_run (const float *interleaved, int64_t frames, int channels, int rate_hz,
              double floor_dbtp, tp_check_result_t *result)
{
    return tp_check_run_ex (interleaved, frames, channels, rate_hz, floor_dbtp, true,
                            NULL, result);
}

double
tp_check_max_dbtp (const float *interleaved, int64_t frames, int channels, int rate_hz)
{
    tp_check_result_t r;
    if (tp_check_run (interleaved, frames, channels, rate_hz, -HUGE_VAL, &r))
        return HUGE_VAL;
    return r.true_peak_dbtp;
}
