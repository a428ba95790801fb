/*  master_run: one track through the chain with the loudness closed loop
    (see master.h), then fades and the output word.

    Order of operations, and why it differs from DESIGN.md's list:

        1  pre-gain stages (HP, EQ, tonal, multiband, glue, stereo)
           at the source rate, once                       chain_run_pre
        2  resampling to the output rate (libsoxr VHQ)    resample_audio
        3  gain + true-peak limiter at the OUTPUT rate,   limiter_run
           repeated inside the loudness loop
        4  fades, then dither / quantisation to the word  fade, dither
        5  verification: true peak of the quantised
           output by the own 4x meter (at most the ceiling) and by the
           accurate check (dsp/tp_check.h: 8x grid of a long
           interpolator near the ceiling; at most the ceiling less
           MASTER_TP_CHECK_DB); if either is over, the limiter's ceiling
           is lowered by the excess and 3-4 repeated, the loudness loop
           re-trimming the gain.
       Overs the limiter's 4x detector misses (content near the Nyquist
       frequency: a click, a cymbal burst) are corrected where they are,
       before step 4 (s_tp_fix): the accurate check runs on the render the
       loop would stop at, the gain dips around each run of overs, and
       when that costs loudness the loop goes on with corrected renders.
       Only where such overs run through much of the track (more than
       MASTER_TP_FIX_SHARE on the first render) is the limiter's ceiling
       lowered for the whole track instead. Step 5 then rarely finds
       anything.

    DESIGN.md lists resampling after the limiter. A true-peak guarantee
    must hold on the delivered file, and resampling after limiting can
    create new inter-sample (and sample) overs, so resampling moves before
    gain and limiter: gain commutes with the (linear) resampler, so the
    loop's loudness is that of the delivered rate, and the limiter's
    oversampled detector sees exactly the samples that are delivered.

    The loudness loop (ITU-R BS.1770-4 integrated loudness): only gain,
    limiter and one measurement repeat; the loop measures with its own
    meter (master_loudness_lufs: libebur128's algorithm and conventions,
    hop by hop, with the K-filter recursions run side by side; it agrees
    with libebur128 to 1e-4 LU and is about twice as fast), which also
    measures the delivered output (integrated loudness and EBU Tech 3342
    loudness range) for the report. The tests check the delivered files
    with libebur128 itself. The first guess is target minus the
    loudness after stage 2; each next gain moves by the error divided by
    the slope dL/dg (first step: 1 - D/2 where D is the loudness the
    limiter took; then the secant, clamped to [0.3, 1.2]) until the output is
    within MASTER_LOOP_TOL_LU of the target (usually 2-3 renders). The
    gain is capped where the limiter would need more than max_gr_db of
    sustained reduction (limiter_gr_sustained_db: a high percentile of
    the mean reduction over 3 s windows), learnt from the renders
    (g_cap = g - S + max_gr_db once the limiter acts; S grows at most dB
    for dB with the gain, so the cap is approached from below and
    re-learnt on every render); the loop stops there and the report says
    gr_capped. The deepest single reduction does not cap the gain: a few
    clicks in the source would otherwise hold a whole track short of its
    target.

    Memory: one float copy of the track at the output rate (pre). Every
    render of stages 3-4 is made in pieces (s_render) that are measured
    and checked as they come (master_meter_add, tp_stream_feed) and then
    dropped; the delivered output is rendered last over pre, which no
    later render needs. A render with local corrections is made as it
    would be delivered, so that when the loop stops on it, its check is
    the delivered output's; otherwise the output is rendered and checked
    once more before it is written over pre, unless it can only differ
    from the last render by rounding to 24 bits or more while that render
    read clear of both limits. When the input can be read again
    (master_opts_t.reload), the render with corrections where the loop
    stops is made over pre: it is the delivered output when the loop
    stops on it (most tracks), and no render is made again for it; when
    the loop goes on (its corrections cost more loudness than the loop's
    tolerance, or its check reads over), the input is read again and
    made ready as at the start (s_reload), as many renders as without it.
    On the bench's 240 s mix that is 3 renders instead of 4, 7% less CPU.

    Determinism: every stage is deterministic (FFTW_ESTIMATE plans,
    single-threaded libsoxr, seeded dither), so the same input and
    options give the same bytes.  */
#include "worker/master.h"
#include "common/array.h"
#include "worker/analysis.h"
#include "worker/chain.h"
#include "worker/kweight.h"
#include "worker/resample.h"
#include "worker/dsp/dither.h"
#include "worker/dsp/dsp_ops.h"
#include "common/fade.h"
#include "worker/dsp/limiter.h"
#include "worker/dsp/tp_check.h"
#include "common/err.h"
#include "common/log.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MASTER_LOOP_TOL_LU     0.03     //  stop when within this of the target
                                        //  (master.h promises 0.05)
#define MASTER_LOOP_MAX        8        //  renders in the loudness loop
#define MASTER_CAP_TOL_DB      0.02     //  the gain is at the cap within this
#define MASTER_TP_RETRIES      4        //  re-limits after a true-peak over
#define MASTER_TP_CHECK_DB     0.05     //  the accurate check (tp_check.h) must
                                        //  read this far under the ceiling:
                                        //  SoX's 16x VHQ resampler read up to
                                        //  0.12 dB above it on limited noise
#define MASTER_DITHER_SEED     0x6d61737465726661ull
#define MASTER_TP_MARGIN_DB    0.05     //  limiter aims this much lower again:
                                        //  meters that resample (ffmpeg's
                                        //  ebur128) read up to ~0.08 dB above
                                        //  the BS.1770 polyphase reading
#define MASTER_TP_FIX_DB       0.4      //  a local correction brings the accurate
                                        //  reading this far under its limit: near
                                        //  the Nyquist frequency, where they
                                        //  happen, SoX's 16x resampler and
                                        //  ffmpeg's ebur128 read up to ~0.4 dB
                                        //  above the check
#define MASTER_TP_HF_DB        0.1      //  a peak the check reads this much over
                                        //  the 4x meter is near the Nyquist
                                        //  frequency: corrected from
                                        //  MASTER_TP_FIX_DB under the limit
#define MASTER_TP_CLEAR_DB     0.001    //  a render reading this far under both
                                        //  limits is delivered without a
                                        //  second check (rounding to 24 bits
                                        //  moves readings by < 4e-6 dB)
#define MASTER_LATER_ROOM_LSB  12.0     //  a later dither moves a sample by at most
                                        //  1.5 steps, 5.6 noise-shaped (dither.h:
                                        //  1.5 (1 + 1.623 + 0.982 + 0.109)); twice
                                        //  that, rounded up, between samples
#define MASTER_TP_FIX_RAMP_MS  5.0      //  its gain's fall and rise (raised cosine)
#define MASTER_TP_FIX_SHARE    0.02     //  dips over more of the track: lower the
                                        //  limiter's ceiling instead (ten clicks
                                        //  in 30 s cover 0.8%; noise with a rising
                                        //  tilt up to the Nyquist frequency, 2.5%)

void
master_opts_default (master_opts_t *opts, const profile_t *profile, int source_rate_hz)
{
    memset (opts, 0, sizeof *opts);
    settings_t s;
    spec_settings_default (&s);
    opts->chain = s.chain;
    opts->fade_curve = FADE_EQUAL_POWER;
    opts->gain_db = NAN;
    opts->width_to_db = NAN;
    opts->width_share = 1.0;
    for (int q = 0; q < FADE_TAIL_SEGMENTS; q++)
        opts->file_xfade_in_lufs [q] = NAN;
    opts->file_trim_db = NAN;
    if (profile) {
        opts->target_lufs = profile_target_lufs (profile, false, NAN);
        opts->ceiling_dbtp = profile->ceiling_dbtp;
        opts->out_rate_hz = profile_output_rate (profile, source_rate_hz);
        opts->out_bits = profile->bits;
        return;
    }
    //  neutral: every stage off, float at the source rate, no loop
    chain_cfg_t *c = &opts->chain;
    c->highpass_hz = 0.0;
    c->n_eq = 0;
    c->multiband.enabled = false;
    c->compressor.enabled = false;
    c->stereo.width = 1.0;
    c->stereo.mono_below_hz = 0.0;
    c->gain_db = 0.0;
    c->limiter.enabled = false;
    c->dither = false;
    c->noise_shaping = false;
    opts->target_lufs = NAN;
    opts->ceiling_dbtp = 0.0;
    opts->gain_db = 0.0;
    opts->out_rate_hz = source_rate_hz;
    opts->out_bits = 32;
}

#define S_LANES 4

//  Adds w * (K-weighted energy) of channel c to hop_e[h] for every hop.
//  The hops are split into S_LANES contiguous parts filtered side by side
//  (independent recursions keep the FPU busy); each part after the first
//  starts from the state reached by filtering the rate_hz / 2 frames
//  before it, where the filters' memory (the 38 Hz high-pass decays as
//  e^(-2 pi 38 t)) has long converged: the result equals one serial pass
//  to well below 1e-9 relative.
static void
s_kweight_hops (const float *data, int channels, int c, int64_t hop, int64_t n_hops,
                int rate_hz, const double b [2][3], const double a [2][3], double w,
                double *hop_e)
{
    const double b00 = b [0][0], b01 = b [0][1], b02 = b [0][2];
    const double a01 = a [0][1], a02 = a [0][2], a11 = a [1][1], a12 = a [1][2];
    const size_t ch = (size_t) channels;
    int lanes = n_hops >= 4 * S_LANES ? S_LANES : 1;
    int64_t per = n_hops / lanes;
    int64_t first [S_LANES];
    double s1 [S_LANES] = { 0 }, s2 [S_LANES] = { 0 }, t1 [S_LANES] = { 0 }, t2 [S_LANES] = { 0 };
    for (int l = 0; l < lanes; l++) {
        first [l] = l * per;
        //  warm-up over the frames before this lane's first hop
        int64_t from = first [l] * hop - rate_hz / 2;
        if (from < 0)
            from = 0;
        for (int64_t i = from; i < first [l] * hop; i++) {
            double v = data [(size_t) i * ch + (size_t) c];
            double y = b00 * v + s1 [l];
            s1 [l] = (b01 * v + s2 [l]) - a01 * y;
            s2 [l] = b02 * v - a02 * y;
            double z = y + t1 [l];
            t1 [l] = (-2.0 * y + t2 [l]) - a11 * z;
            t2 [l] = y - a12 * z;
        }
    }
    //  the lanes side by side over per hops each (states in registers),
    //  then the remaining hops in the last lane, which carries on
#define S_KSTEP(l, f) do {                                              \
        double v_ = data [(size_t) (f) * ch + (size_t) c];              \
        double y_ = b00 * v_ + s1_##l;                                  \
        s1_##l = (b01 * v_ + s2_##l) - a01 * y_;                        \
        s2_##l = b02 * v_ - a02 * y_;                                   \
        double z_ = y_ + t1_##l;                                        \
        t1_##l = (-2.0 * y_ + t2_##l) - a11 * z_;                       \
        t2_##l = y_ - a12 * z_;                                         \
        acc_##l += z_ * z_;                                             \
    } while (0)
    int last = lanes - 1;
    if (lanes == S_LANES) {
        double s1_0 = s1 [0], s2_0 = s2 [0], t1_0 = t1 [0], t2_0 = t2 [0];
        double s1_1 = s1 [1], s2_1 = s2 [1], t1_1 = t1 [1], t2_1 = t2 [1];
        double s1_2 = s1 [2], s2_2 = s2 [2], t1_2 = t1 [2], t2_2 = t2 [2];
        double s1_3 = s1 [3], s2_3 = s2 [3], t1_3 = t1 [3], t2_3 = t2 [3];
        for (int64_t j = 0; j < per; j++) {
            double acc_0 = 0, acc_1 = 0, acc_2 = 0, acc_3 = 0;
            int64_t f0 = (first [0] + j) * hop, f1 = (first [1] + j) * hop;
            int64_t f2 = (first [2] + j) * hop, f3 = (first [3] + j) * hop;
            for (int64_t i = 0; i < hop; i++) {
                S_KSTEP (0, f0 + i);
                S_KSTEP (1, f1 + i);
                S_KSTEP (2, f2 + i);
                S_KSTEP (3, f3 + i);
            }
            hop_e [first [0] + j] += w * acc_0;
            hop_e [first [1] + j] += w * acc_1;
            hop_e [first [2] + j] += w * acc_2;
            hop_e [first [3] + j] += w * acc_3;
        }
        s1 [last] = s1_3; s2 [last] = s2_3; t1 [last] = t1_3; t2 [last] = t2_3;
        first [last] += per;
    }
    {
        double s1_x = s1 [last], s2_x = s2 [last], t1_x = t1 [last], t2_x = t2 [last];
        for (int64_t h = first [last]; h < n_hops; h++) {
            double acc_x = 0;
            for (int64_t i = h * hop; i < (h + 1) * hop; i++)
                S_KSTEP (x, i);
            hop_e [h] += w * acc_x;
        }
    }
#undef S_KSTEP
}

//  Two doubles, one per channel of a stereo frame (GNU C vector
//  extension: SSE2 on x86-64, whatever the target has elsewhere).
typedef double s_v2d_t __attribute__ ((vector_size (16)));

#if defined (__x86_64__) || defined (__i386__)
#include <immintrin.h>
#define S_KWEIGHT_AVX2 1

//  Four doubles: lanes l and l + 1 of s_kweight_hops_stereo, L R L R.
typedef double s_v4d_t __attribute__ ((vector_size (32)));

//  The main loop of s_kweight_hops_stereo (per hops from first[l] in each
//  of the S_LANES lanes) with AVX2 and FMA: lanes 0 and 1 share one
//  vector, 2 and 3 the other. Every element sees the operations of the
//  two-double code in the same order, the compiler fusing multiplies
//  into adds (sums differ from it by rounding, ~1e-15 relative). Each
//  state update adds the term of the new output last, so the recursion's
//  path is one fused multiply-add per filter: the loop runs at the FPU's
//  throughput instead of its latency (30% faster measured).
//  st[k][l] holds state k (s1, s2, t1, t2) of lane l, in and out.
__attribute__ ((target ("avx2,fma"))) static void
s_kweight_main_avx2 (const float *data, int64_t hop, int64_t per,
                     const int64_t first [S_LANES], const double b [2][3],
                     const double a [2][3], s_v2d_t st [4][S_LANES], double *hop_e)
{
    const s_v4d_t b00 = { b [0][0], b [0][0], b [0][0], b [0][0] };
    const s_v4d_t b01 = { b [0][1], b [0][1], b [0][1], b [0][1] };
    const s_v4d_t b02 = { b [0][2], b [0][2], b [0][2], b [0][2] };
    const s_v4d_t a01 = { a [0][1], a [0][1], a [0][1], a [0][1] };
    const s_v4d_t a02 = { a [0][2], a [0][2], a [0][2], a [0][2] };
    const s_v4d_t a11 = { a [1][1], a [1][1], a [1][1], a [1][1] };
    const s_v4d_t a12 = { a [1][2], a [1][2], a [1][2], a [1][2] };
    const s_v4d_t m2 = { -2.0, -2.0, -2.0, -2.0 }, zero = { 0.0, 0.0, 0.0, 0.0 };
    s_v4d_t v [4][2];                   //  state k of lanes 0-1 and 2-3
    for (int k = 0; k < 4; k++)
        for (int h = 0; h < 2; h++)
            v [k][h] = (s_v4d_t) { st [k][2 * h][0], st [k][2 * h][1],
                                   st [k][2 * h + 1][0], st [k][2 * h + 1][1] };
    s_v4d_t s1_A = v [0][0], s2_A = v [1][0], t1_A = v [2][0], t2_A = v [3][0];
    s_v4d_t s1_B = v [0][1], s2_B = v [1][1], t1_B = v [2][1], t2_B = v [3][1];
#define S_WSTEP(l, pa, pb) do {                                         \
        __m128 q_ = _mm_castpd_ps (_mm_load_sd ((const double *) (pa)));\
        q_ = _mm_loadh_pi (q_, (const __m64 *) (pb));                   \
        s_v4d_t v_ = (s_v4d_t) _mm256_cvtps_pd (q_);                    \
        s_v4d_t y_ = b00 * v_ + s1_##l;                                 \
        s1_##l = (b01 * v_ + s2_##l) - a01 * y_;                        \
        s2_##l = b02 * v_ - a02 * y_;                                   \
        s_v4d_t z_ = y_ + t1_##l;                                       \
        t1_##l = (m2 * y_ + t2_##l) - a11 * z_;                         \
        t2_##l = y_ - a12 * z_;                                         \
        acc_##l += z_ * z_;                                             \
    } while (0)
    for (int64_t j = 0; j < per; j++) {
        s_v4d_t acc_A = zero, acc_B = zero;
        const float *p0 = data + 2 * (size_t) ((first [0] + j) * hop);
        const float *p1 = data + 2 * (size_t) ((first [1] + j) * hop);
        const float *p2 = data + 2 * (size_t) ((first [2] + j) * hop);
        const float *p3 = data + 2 * (size_t) ((first [3] + j) * hop);
        for (int64_t i = 0; i < hop; i++) {
            S_WSTEP (A, p0 + 2 * i, p1 + 2 * i);
            S_WSTEP (B, p2 + 2 * i, p3 + 2 * i);
        }
        hop_e [first [0] + j] += acc_A [0] + acc_A [1];
        hop_e [first [1] + j] += acc_A [2] + acc_A [3];
        hop_e [first [2] + j] += acc_B [0] + acc_B [1];
        hop_e [first [3] + j] += acc_B [2] + acc_B [3];
    }
#undef S_WSTEP
    v [0][0] = s1_A; v [1][0] = s2_A; v [2][0] = t1_A; v [3][0] = t2_A;
    v [0][1] = s1_B; v [1][1] = s2_B; v [2][1] = t1_B; v [3][1] = t2_B;
    for (int k = 0; k < 4; k++)
        for (int h = 0; h < 2; h++) {
            st [k][2 * h] = (s_v2d_t) { v [k][h][0], v [k][h][1] };
            st [k][2 * h + 1] = (s_v2d_t) { v [k][h][2], v [k][h][3] };
        }
}
#endif

//  Stereo form of s_kweight_hops: both channels of a frame travel in one
//  vector, S_LANES segments side by side (the same segmentation and
//  warm-up, so the same result up to rounding); adds L + R energy.
static void
s_kweight_hops_stereo (const float *data, int64_t hop, int64_t n_hops, int rate_hz,
                       const double b [2][3], const double a [2][3], double *hop_e,
                       kweight_filter_t *carry)
{
    const s_v2d_t b00 = { b [0][0], b [0][0] }, b01 = { b [0][1], b [0][1] };
    const s_v2d_t b02 = { b [0][2], b [0][2] }, a01 = { a [0][1], a [0][1] };
    const s_v2d_t a02 = { a [0][2], a [0][2] }, a11 = { a [1][1], a [1][1] };
    const s_v2d_t a12 = { a [1][2], a [1][2] }, m2 = { -2.0, -2.0 };
#define S_VSTEP(l, f) do {                                              \
        const float *p_ = data + 2 * (size_t) (f);                      \
        s_v2d_t v_ = { p_ [0], p_ [1] };                                \
        s_v2d_t y_ = b00 * v_ + s1_##l;                                 \
        s1_##l = (b01 * v_ + s2_##l) - a01 * y_;                        \
        s2_##l = b02 * v_ - a02 * y_;                                   \
        s_v2d_t z_ = y_ + t1_##l;                                       \
        t1_##l = (m2 * y_ + t2_##l) - a11 * z_;                         \
        t2_##l = y_ - a12 * z_;                                         \
        acc_##l += z_ * z_;                                             \
    } while (0)
    const s_v2d_t zero = { 0.0, 0.0 };
    s_v2d_t s1_0 = zero, s2_0 = zero, t1_0 = zero, t2_0 = zero, acc_0 = zero;
    s_v2d_t s1_1 = zero, s2_1 = zero, t1_1 = zero, t2_1 = zero, acc_1 = zero;
    s_v2d_t s1_2 = zero, s2_2 = zero, t1_2 = zero, t2_2 = zero, acc_2 = zero;
    s_v2d_t s1_3 = zero, s2_3 = zero, t1_3 = zero, t2_3 = zero, acc_3 = zero;
    if (carry) {
        //  lane 0 goes on from the state a meter fed in pieces carries
        s1_0 = (s_v2d_t) { carry->st [0][0], carry->st [1][0] };
        s2_0 = (s_v2d_t) { carry->st [0][1], carry->st [1][1] };
        t1_0 = (s_v2d_t) { carry->st [0][2], carry->st [1][2] };
        t2_0 = (s_v2d_t) { carry->st [0][3], carry->st [1][3] };
    }
    int64_t per = n_hops / S_LANES;
    int64_t first [S_LANES] = { 0, per, 2 * per, 3 * per };
    //  warm-up of lanes 1..3 over the frames before their first hop
    int64_t warm = rate_hz / 2;
    for (int64_t f = first [1] * hop - warm; f < first [1] * hop; f++)
        if (f >= 0) S_VSTEP (1, f);
    for (int64_t f = first [2] * hop - warm; f < first [2] * hop; f++)
        if (f >= 0) S_VSTEP (2, f);
    for (int64_t f = first [3] * hop - warm; f < first [3] * hop; f++)
        if (f >= 0) S_VSTEP (3, f);
#ifdef S_KWEIGHT_AVX2
    if (dsp_ops ()->isa >= DSP_ISA_AVX2) {
        s_v2d_t st [4][S_LANES] = {
            { s1_0, s1_1, s1_2, s1_3 }, { s2_0, s2_1, s2_2, s2_3 },
            { t1_0, t1_1, t1_2, t1_3 }, { t2_0, t2_1, t2_2, t2_3 } };
        s_kweight_main_avx2 (data, hop, per, first, b, a, st, hop_e);
        s1_3 = st [0][3];
        s2_3 = st [1][3];
        t1_3 = st [2][3];
        t2_3 = st [3][3];
    }
    else
#endif
    for (int64_t j = 0; j < per; j++) {
        acc_0 = acc_1 = acc_2 = acc_3 = zero;
        int64_t f0 = (first [0] + j) * hop, f1 = (first [1] + j) * hop;
        int64_t f2 = (first [2] + j) * hop, f3 = (first [3] + j) * hop;
        for (int64_t i = 0; i < hop; i++) {
            S_VSTEP (0, f0 + i);
            S_VSTEP (1, f1 + i);
            S_VSTEP (2, f2 + i);
            S_VSTEP (3, f3 + i);
        }
        hop_e [first [0] + j] += acc_0 [0] + acc_0 [1];
        hop_e [first [1] + j] += acc_1 [0] + acc_1 [1];
        hop_e [first [2] + j] += acc_2 [0] + acc_2 [1];
        hop_e [first [3] + j] += acc_3 [0] + acc_3 [1];
    }
    //  the hops left over, in lane 3 which carries on
    for (int64_t h = first [3] + per; h < n_hops; h++) {
        acc_3 = zero;
        for (int64_t f = h * hop; f < (h + 1) * hop; f++)
            S_VSTEP (3, f);
        hop_e [h] += acc_3 [0] + acc_3 [1];
    }
    if (carry) {
        //  the state lane 3 reached, for the next piece
        s_v2d_t st [4] = { s1_3, s2_3, t1_3, t2_3 };
        for (int k = 0; k < 4; k++) {
            carry->st [0][k] = st [k][0];
            carry->st [1][k] = st [k][1];
        }
    }
#undef S_VSTEP
}

//  K-weighted energy per 100 ms hop (channel-weighted sum), allocated;
//  NULL when there are fewer than 4 hops or on out of memory.
static double *
s_hop_energies (const float *data, int64_t frames, int channels, int rate_hz,
                int64_t *n_hops_out)
{
    *n_hops_out = 0;
    if (!data || frames <= 0 || channels < 1 || channels > AUDIO_MAX_CHANNELS || rate_hz <= 0)
        return NULL;
    double b [2][3], a [2][3];
    kweight_coefs (rate_hz, b, a);
    double w [KWEIGHT_MAX_CH];
    kweight_channel_weights (channels, w);
    const int64_t hop = (rate_hz + 5) / 10;           //  100 ms, as libebur128
    const int64_t n_hops = frames / hop;
    if (n_hops < 4)
        return NULL;
    double *hop_e = calloc ((size_t) n_hops, sizeof (double));
    if (!hop_e)
        return NULL;
    if (channels == 2 && n_hops >= 4 * S_LANES)
        s_kweight_hops_stereo (data, hop, n_hops, rate_hz, b, a, hop_e, NULL);
    else
        for (int c = 0; c < channels; c++)
            if (w [c] > 0.0)
                s_kweight_hops (data, channels, c, hop, n_hops, rate_hz, b, a, w [c], hop_e);
    //  mean square per frame
    for (int64_t h = 0; h < n_hops; h++)
        hop_e [h] /= (double) hop;
    *n_hops_out = n_hops;
    return hop_e;
}

double
master_loudness_lufs (const float *data, int64_t frames, int channels, int rate_hz)
{
    int64_t n_hops;
    double *hop_e = s_hop_energies (data, frames, channels, rate_hz, &n_hops);
    if (!hop_e)
        return -HUGE_VAL;
    double lufs = kweight_integrated (hop_e, n_hops);
    free (hop_e);
    return lufs;
}

void
master_measure_loudness (const float *data, int64_t frames, int channels, int rate_hz,
                         double *lufs, double *lra_lu)
{
    int64_t n_hops;
    double *hop_e = s_hop_energies (data, frames, channels, rate_hz, &n_hops);
    *lufs = hop_e ? kweight_integrated (hop_e, n_hops) : -HUGE_VAL;
    *lra_lu = hop_e ? kweight_range (hop_e, n_hops) : 0.0;
    free (hop_e);
}

//  The loudness meter fed in pieces (see master.h): the K-weighting
//  filters run serially (kweight_filter_t) with their state kept between
//  pieces, which is the one pass s_kweight_hops's lanes stand in for.
struct master_meter_s {
    kweight_filter_t k;
    int      rate_hz;
    int64_t  hop;                //  frames per 100 ms
    int64_t  in_hop;             //  frames of the current hop so far
    double   acc;                //  weighted energy of the current hop
    double  *hop_e;
    int64_t  n_hops;
    size_t   cap;
    //  a render's meter for a per-track file (s_meter_new): the frames
    //  before the master's first that its first hop counts, and the
    //  frames the assembly trims from the master's start and end
    int64_t  skew, trim_lead, trim_trail;
};

master_meter_t *
master_meter_new (int channels, int rate_hz)
{
    if (channels < 1 || channels > AUDIO_MAX_CHANNELS || channels > KWEIGHT_MAX_CH
    ||  rate_hz <= 0)
        return NULL;
    master_meter_t *m = calloc (1, sizeof *m);
    if (!m)
        return NULL;
    kweight_filter_init (&m->k, channels, rate_hz);
    m->hop = kweight_hop_frames (rate_hz);
    m->rate_hz = rate_hz;
    return m;
}

//  Room for n more hops in m->hop_e. Returns 0 or MF_ERR_NOMEM.
static int
s_meter_reserve (master_meter_t *m, int64_t n)
{
    return array_reserve (&m->hop_e, &m->cap, (size_t) (m->n_hops + n), sizeof *m->hop_e, 1024);
}

int
master_meter_add (master_meter_t *m, const float *data, int64_t frames)
{
    const size_t ch = (size_t) m->k.channels;
    const int64_t warm = m->rate_hz / 2;
    while (frames > 0) {
        //  whole hops of a stereo piece long enough for the lanes of
        //  s_kweight_hops_stereo (each lane's warm-up within the piece):
        //  filtered side by side, lane 0 going on from the carried state
        int64_t whole = m->in_hop == 0 ? frames / m->hop : 0;
        if (ch == 2 && whole >= 4 * S_LANES && (whole / S_LANES) * m->hop >= warm) {
            if (s_meter_reserve (m, whole))
                return MF_ERR_NOMEM;
            double *e = m->hop_e + m->n_hops;
            memset (e, 0, (size_t) whole * sizeof *e);
            s_kweight_hops_stereo (data, m->hop, whole, m->rate_hz, m->k.b, m->k.a, e, &m->k);
            for (int64_t h = 0; h < whole; h++)
                e [h] /= (double) m->hop;
            m->n_hops += whole;
            data += (size_t) (whole * m->hop) * ch;
            frames -= whole * m->hop;
            continue;
        }
        int64_t n = m->hop - m->in_hop < frames ? m->hop - m->in_hop : frames;
        m->acc += kweight_filter_sum (&m->k, data, n);
        data += (size_t) n * ch;
        frames -= n;
        m->in_hop += n;
        if (m->in_hop < m->hop)
            continue;
        if (s_meter_reserve (m, 1))
            return MF_ERR_NOMEM;
        m->hop_e [m->n_hops++] = m->acc / (double) m->hop;
        m->acc = 0.0;
        m->in_hop = 0;
    }
    return 0;
}

void
master_meter_result (const master_meter_t *m, double *lufs, double *lra_lu)
{
    bool some = m && m->n_hops >= 4;
    *lufs = some ? kweight_integrated (m->hop_e, m->n_hops) : -HUGE_VAL;
    *lra_lu = some ? kweight_range (m->hop_e, m->n_hops) : 0.0;
}

//  The 400 ms blocks of n_hops hop energies into *blocks (see
//  master_meter_blocks). Returns 0 or MF_ERR_NOMEM.
static int
s_blocks_of_hops (const double *hop_e, int64_t n_hops, master_blocks_t *blocks)
{
    free (blocks->lufs);
    blocks->lufs = NULL;
    blocks->n = 0;
    int64_t n = hop_e && n_hops >= 4 ? n_hops - 3 : 0;
    if (n == 0)
        return 0;
    blocks->lufs = malloc ((size_t) n * sizeof *blocks->lufs);
    if (!blocks->lufs)
        return MF_ERR_NOMEM;
    for (int64_t k = 0; k < n; k++) {
        const double *h = hop_e + k;
        double e = 0.25 * (h [0] + h [1] + h [2] + h [3]);
        double l = e > 0.0 ? -0.691 + 10.0 * log10 (e) : -HUGE_VAL;
        blocks->lufs [k] = l > ANALYSIS_FLOOR_LUFS ? (float) l : (float) ANALYSIS_FLOOR_LUFS;
    }
    blocks->n = (size_t) n;
    return 0;
}

int
master_meter_blocks (const master_meter_t *m, master_blocks_t *blocks)
{
    return s_blocks_of_hops (m ? m->hop_e : NULL, m ? m->n_hops : 0, blocks);
}

//  Whether o describes a per-track file around the master (master.h).
static bool
s_file_model (const master_opts_t *o)
{
    return o->file_lead_frames > 0 || o->file_trail_frames > 0
        || o->file_fade_in_frames > 0 || o->file_fade_out_frames > 0
        || o->file_cut_frames > 0 || o->file_xfade_in_frames > 0
        || isfinite (o->file_trim_db);
}

//  Silent hops after the master that can still change a reading: three
//  finish the blocks over its end, thirty the 3 s windows of the loudness
//  range; past those every block and window is silent (under the gates).
//  The K-weighting filters ring into the silence for S_FILE_RING_HOPS
//  (their slowest pole, the 38 Hz high-pass, is down 200 dB in 100 ms).
#define S_FILE_TAIL_HOPS 30
#define S_FILE_RING_HOPS 2

//  The frames the assembly trims (worker/assemble.c: before the first
//  and after the last frame with a sample at or over trim_db dBFS) from a
//  render of pre at gain_db: the gain moves every sample the trim looks
//  at, and the limiter leaves such quiet ones alone. 0 and 0 when no
//  trim is asked (NAN) or nothing reaches it.
static void
s_trim (const float *pre, int64_t frames, int ch, double gain_db, double trim_db,
        int64_t *lead, int64_t *trail)
{
    *lead = *trail = 0;
    if (!isfinite (trim_db))
        return;
    const float thr = (float) pow (10.0, (trim_db - gain_db) / 20.0);
    int64_t first = -1, last = -1;
    for (int64_t f = 0; f < frames && first < 0; f++)
        for (int c = 0; c < ch; c++)
            if (fabsf (pre [(size_t) f * ch + c]) >= thr) {
                first = f;
                break;
            }
    for (int64_t f = frames - 1; f >= first && first >= 0 && last < 0; f--)
        for (int c = 0; c < ch; c++)
            if (fabsf (pre [(size_t) f * ch + c]) >= thr) {
                last = f;
                break;
            }
    if (first >= 0) {
        *lead = first;
        *trail = frames - 1 - last;
    }
}

//  A meter for a render (of pre at gain_db): with a per-track file, its
//  hops are the file's. The file's hop boundaries fall where the master's
//  trimmed start lies after the silence before it; the meter's first hop
//  starts with that many frames counted (silence through filters at rest
//  is silence: only the count is set).
static master_meter_t *
s_meter_new (const master_opts_t *o, int ch, int rate_hz, const float *pre, int64_t frames,
             double gain_db)
{
    master_meter_t *m = master_meter_new (ch, rate_hz);
    if (!m || !s_file_model (o))
        return m;
    s_trim (pre, frames, ch, gain_db, o->file_trim_db, &m->trim_lead, &m->trim_trail);
    int64_t skew = (o->file_lead_frames - m->trim_lead) % m->hop;
    m->skew = skew < 0 ? skew + m->hop : skew;
    m->in_hop = m->skew;
    return m;
}

//  The hops of meter m (s_meter_new, fed a whole render through
//  s_meter_feed, with the file's fades and crossfade gain) as a meter
//  reads them in the per-track file of o. The file holds the master's
//  frames from its trimmed start to its trimmed end, or to where it
//  crossfades into the next track. With pads, the file's edges: the
//  track before's tail it opens with (at the plan's levels, under the
//  crossfade's gain out), the silence before (whole hops of it) and
//  after (the hop the master ends in, completed by it, the filters' ring
//  into it as they go on from the meter's state when nothing was trimmed
//  there, then silent hops); the master's trimmed frames in the file's
//  edge hops stand for the file's silence (they are under the trim's
//  threshold). Without pads, the hops of the trimmed master (the
//  album's blocks). *hops is malloc'd (NULL when there is none). Returns 0 or
//  MF_ERR_NOMEM.
static int
s_file_hops (const master_meter_t *m, const master_opts_t *o, bool pads, double **hops,
             int64_t *n_hops)
{
    *hops = NULL;
    *n_hops = 0;
    const int64_t hop = m->hop, skew = m->skew;
    const int64_t frames = m->n_hops * hop + m->in_hop - skew;     //  the master's
    const int64_t t0 = m->trim_lead;                               //  the file's audio
    const int64_t af = frames - m->trim_lead - m->trim_trail;      //  ... and its length
    //  meter hop k spans master frames k * hop - skew .. (k + 1) * hop - skew
    int64_t k0 = 0, k1 = m->n_hops;             //  the hops the file holds whole
    bool partial = false;                       //  and the one it ends in
    int64_t trail = 0;
    const int64_t lead = pads ? o->file_lead_frames / hop : 0;
    if (!pads && (m->trim_lead > 0 || m->trim_trail > 0)) {
        //  the album's blocks: the hops of the trimmed master
        k0 = (t0 + skew + hop - 1) / hop;
        k1 = (t0 + af + skew) / hop;
        k1 = k1 < m->n_hops ? k1 : m->n_hops;
        k1 = k1 > k0 ? k1 : k0;
    }
    if (pads) {
        k0 = (t0 - o->file_lead_frames % hop + skew) / hop;
        int64_t end = t0 + af - o->file_cut_frames;
        k1 = (end + skew) / hop;
        k1 = k1 < m->n_hops ? k1 : m->n_hops;
        k1 = k1 > k0 ? k1 : k0;
        int64_t in_end = end + skew - k1 * hop;         //  frames of the end's hop
        if (o->file_cut_frames <= 0 && o->file_trail_frames > 0) {
            int64_t rest = o->file_trail_frames - (in_end > 0 ? hop - in_end : 0);
            partial = in_end > 0 && rest >= 0;
            trail = rest > 0 ? rest / hop : 0;
            trail = trail < S_FILE_TAIL_HOPS ? trail : S_FILE_TAIL_HOPS;
        }
    }
    int64_t n = lead + (k1 - k0) + partial + trail;
    double *h = n > 0 ? calloc ((size_t) n, sizeof *h) : NULL;
    if (n > 0 && !h)
        return MF_ERR_NOMEM;
    //  a file that opens with a crossfade holds the track before's tail
    //  under the gain out (the master's gain in is in its hops)
    const int64_t xin = pads ? o->file_xfade_in_frames : 0;
    double seg [FADE_TAIL_SEGMENTS];
    for (int q = 0; q < FADE_TAIL_SEGMENTS; q++)
        seg [q] = isfinite (o->file_xfade_in_lufs [q])
                ? pow (10.0, (o->file_xfade_in_lufs [q] + 0.691) / 10.0) : 0.0;
    int64_t at = lead;
    for (int64_t k = k0; k < k1 + partial; k++, at++) {
        //  the hop's span in the file's audio
        int64_t from = k * hop - skew - t0, to = from + hop;
        h [at] = k < m->n_hops ? m->hop_e [k] : m->acc / (double) hop;
        if (from < xin)
            h [at] += fade_tail_mean (seg, xin, from, to);
    }
    //  the filters ring into the silence after an untrimmed end
    bool ring = m->trim_trail == 0 && k1 + partial >= m->n_hops;
    if ((trail > 0 || partial) && ring) {
        kweight_filter_t kf = m->k;
        float *zero = calloc ((size_t) (hop * kf.channels), sizeof *zero);
        if (!zero) {
            free (h);
            return MF_ERR_NOMEM;
        }
        if (partial && m->in_hop > 0)
            h [at - 1] += kweight_filter_sum (&kf, zero, hop - m->in_hop) / (double) hop;
        for (int64_t t = 0; t < trail && t < S_FILE_RING_HOPS; t++)
            h [at + t] = kweight_filter_sum (&kf, zero, hop) / (double) hop;
        free (zero);
    }
    *hops = h;
    *n_hops = n;
    return 0;
}

//  The reading of a measured render (integrated loudness and range): its
//  meter's, or with a per-track file around the master, the file's.
//  Returns 0 or MF_ERR_NOMEM.
static int
s_meter_reading (const master_meter_t *m, const master_opts_t *o, double *lufs, double *lra)
{
    if (!s_file_model (o)) {
        master_meter_result (m, lufs, lra);
        return 0;
    }
    double *h;
    int64_t n;
    if (s_file_hops (m, o, true, &h, &n))
        return MF_ERR_NOMEM;
    bool some = n >= 4;
    *lufs = some ? kweight_integrated (h, n) : -HUGE_VAL;
    *lra = some ? kweight_range (h, n) : 0.0;
    free (h);
    return 0;
}

//  The delivered blocks of a measured render: with a per-track file,
//  with its fades. Returns 0 or MF_ERR_NOMEM.
static int
s_meter_blocks (const master_meter_t *m, const master_opts_t *o, master_blocks_t *blocks)
{
    if (!m || !s_file_model (o))
        return master_meter_blocks (m, blocks);
    double *h;
    int64_t n;
    if (s_file_hops (m, o, false, &h, &n))
        return MF_ERR_NOMEM;
    int rc = s_blocks_of_hops (h, n, blocks);
    free (h);
    return rc;
}

void
master_meter_destroy (master_meter_t **m)
{
    if (!*m)
        return;
    free ((*m)->hop_e);
    free (*m);
    *m = NULL;
}

//  Checks the options that chain_new does not (ranges of master.h).
static int
s_check_opts (const audio_t *in, const master_opts_t *o, char *err, size_t err_size)
{
    spec_errors_t errs = { 0 };
    if (spec_check_chain (&o->chain, "$.chain", &errs) > 0 || errs.n > 0) {
        snprintf (err, err_size, "%s: %s", errs.items [0].path, errs.items [0].message);
        spec_errors_clear (&errs);
        return MF_ERR_INVALID;
    }
    spec_errors_clear (&errs);
    if (in->channels < 1 || in->channels > AUDIO_MAX_CHANNELS || in->frames <= 0
    ||  !in->data) {
        snprintf (err, err_size, "input: %d channels, %lld frames; 1..%d channels and at "
                  "least one frame are needed", in->channels, (long long) in->frames,
                  AUDIO_MAX_CHANNELS);
        return MF_ERR_UNSUPPORTED;
    }
    if (in->rate_hz < AUDIO_MIN_RATE_HZ || in->rate_hz > AUDIO_MAX_RATE_HZ) {
        snprintf (err, err_size, "input: sample rate %d Hz; %d .. %d Hz are supported",
                  in->rate_hz, AUDIO_MIN_RATE_HZ, AUDIO_MAX_RATE_HZ);
        return MF_ERR_UNSUPPORTED;
    }
    if (o->out_rate_hz < AUDIO_MIN_RATE_HZ || o->out_rate_hz > AUDIO_MAX_RATE_HZ) {
        snprintf (err, err_size, "out_rate_hz: %d Hz; %d .. %d Hz are supported",
                  o->out_rate_hz, AUDIO_MIN_RATE_HZ, AUDIO_MAX_RATE_HZ);
        return MF_ERR_UNSUPPORTED;
    }
    if (o->out_bits != 16 && o->out_bits != 24 && o->out_bits != 32) {
        snprintf (err, err_size, "out_bits: %d; 16, 24 or 32 (float)", o->out_bits);
        return MF_ERR_INVALID;
    }
    if (o->later_bits != 0 && !(o->later_bits >= 8 && o->later_bits < o->out_bits
                                && o->later_bits <= 24)) {
        snprintf (err, err_size, "later_bits: %d; 0, or 8 .. 24 and under out_bits %d",
                  o->later_bits, o->out_bits);
        return MF_ERR_INVALID;
    }
    //  wider than a job may ask for (-40 .. -5, spec and CLI): the album
    //  policies give every track the album's gain, which can plan a loud
    //  track above -5 LUFS (it then stops at the limiter's cap, flagged)
    //  or a quiet interlude under -40
    if (!isnan (o->target_lufs)
    &&  !(o->target_lufs >= MASTER_TARGET_MIN_LUFS && o->target_lufs <= MASTER_TARGET_MAX_LUFS)) {
        snprintf (err, err_size, "target_lufs: %g is out of range (%g .. %g LUFS)",
                  o->target_lufs, MASTER_TARGET_MIN_LUFS, MASTER_TARGET_MAX_LUFS);
        return MF_ERR_INVALID;
    }
    double ceil = isnan (o->chain.limiter.ceiling_dbtp) ? o->ceiling_dbtp
                                                        : o->chain.limiter.ceiling_dbtp;
    if (!(ceil >= -20.0 && ceil <= 0.0)) {
        snprintf (err, err_size, "ceiling_dbtp: %g is out of range (-20 .. 0 dBTP)", ceil);
        return MF_ERR_INVALID;
    }
    if (!isnan (o->gain_db) && !(fabs (o->gain_db) <= 48.0)) {
        snprintf (err, err_size, "gain_db: %g is out of range (-48 .. 48 dB)", o->gain_db);
        return MF_ERR_INVALID;
    }
    if (!(o->fade_in_s >= 0.0 && o->fade_in_s <= 60.0)
    ||  !(o->fade_out_s >= 0.0 && o->fade_out_s <= 60.0)) {
        snprintf (err, err_size, "fade_in_s / fade_out_s: %g / %g s; 0 .. 60 s",
                  o->fade_in_s, o->fade_out_s);
        return MF_ERR_INVALID;
    }
    for (int b = 0; o->has_tonal && b < MEASURE_BANDS; b++)
        if (!isfinite (o->tonal_db [b]) || fabs (o->tonal_db [b]) > 24.0) {
            snprintf (err, err_size, "tonal_db[%d]: %g dB; finite and within +-24 dB",
                      b, o->tonal_db [b]);
            return MF_ERR_INVALID;
        }
    return 0;
}

//  Local true-peak corrections. The accurate check (dsp/tp_check.h) can
//  find overs that the limiter's 4x detector missed: content near the
//  Nyquist frequency (a click, a burst of cymbal), which other meters
//  read higher still: there, peaks from MASTER_TP_FIX_DB under the limit
//  count (those the check reads MASTER_TP_HF_DB over the 4x meter). Where
//  they are few, the gain is lowered there only: around each run of
//  them a dip to MASTER_TP_FIX_DB under the limit (at its highest peak),
//  flat over every sample the check's interpolator reads for them, with
//  raised-cosine ramps of MASTER_TP_FIX_RAMP_MS; runs closer than two
//  ramps share one dip. Where the dips would cover more than
//  MASTER_TP_FIX_SHARE of the track, such content runs all along and the
//  limiter's ceiling is lowered instead (s_master). One pass is enough:
//  each dip is flat over every sample the check reads for the peaks it
//  covers, so they read the dip's gain times what they read before,
//  under the listing's floor; step 5 verifies the output.

//  One dip: full depth (gain r) over frames f0 .. f1 - 1, ramps of
//  s_dips_t.ramp frames on either side.
typedef struct {
    int64_t f0, f1;
    double  r;
} s_dip_t;

typedef struct {
    s_dip_t *v;
    size_t   n;
    int64_t  ramp;
    int64_t  covered;               //  frames the dips cover, ramps included
} s_dips_t;

//  The dips for the overs ov (in frame order) of a render checked against
//  limit_dbtp, into *dips (emptied first). Returns 0 or MF_ERR_NOMEM.
static int
s_dips_plan (const tp_over_t *ov, size_t n, int rate_hz, double limit_dbtp, s_dips_t *dips)
{
    free (dips->v);
    memset (dips, 0, sizeof *dips);
    dips->ramp = (int64_t) llround (MASTER_TP_FIX_RAMP_MS * 1e-3 * rate_hz);
    const int64_t ramp = dips->ramp;
    const int64_t half = TP_CHECK_TAPS / 2 + 1;        //  interpolator support, each side
    //  a little under the floor of the listing, so that a check after
    //  the correction does not list the same peaks again
    const double target = pow (10.0, (limit_dbtp - MASTER_TP_FIX_DB - 0.05) / 20.0);
    if (n && !(dips->v = malloc (n * sizeof *dips->v)))
        return MF_ERR_NOMEM;
    for (size_t i = 0; i < n; ) {
        size_t e = i + 1;
        float peak = ov [i].peak;
        while (e < n && ov [e].frame - ov [e - 1].frame <= 2 * (half + ramp)) {
            peak = ov [e].peak > peak ? ov [e].peak : peak;
            e++;
        }
        s_dip_t *d = &dips->v [dips->n++];
        d->r = target / peak;
        d->f0 = ov [i].frame - half;
        d->f1 = ov [e - 1].frame + half + 1;
        dips->covered += d->f1 - d->f0 + 2 * ramp;
        i = e;
    }
    return 0;
}

//  Applies the dips to frames from .. from + frames - 1 of a render, held
//  in x; *next is the first dip that may reach them (0 at the start of a
//  render, kept between pieces). The dips never overlap (s_dips_plan
//  joins runs closer than two ramps and two supports).
static void
s_dips_apply (const s_dips_t *dips, size_t *next, float *x, int64_t from, int64_t frames,
              int ch)
{
    const int64_t ramp = dips->ramp, to = from + frames;
    while (*next < dips->n && dips->v [*next].f1 + ramp <= from)
        (*next)++;
    for (size_t i = *next; i < dips->n && dips->v [i].f0 - ramp < to; i++) {
        const s_dip_t *d = &dips->v [i];
        int64_t t0 = d->f0 - ramp > from ? d->f0 - ramp : from;
        int64_t t1 = d->f1 + ramp < to ? d->f1 + ramp : to;
        for (int64_t t = t0; t < t1; t++) {
            double w = 1.0;                         //  depth: 0 none, 1 full
            if (t < d->f0)
                w = 0.5 - 0.5 * cos (M_PI * (double) (t - (d->f0 - ramp)) / (double) ramp);
            else
            if (t >= d->f1)
                w = 0.5 - 0.5 * cos (M_PI * (double) (d->f1 + ramp - t) / (double) ramp);
            const float g = (float) (1.0 - (1.0 - d->r) * w);
            for (int c = 0; c < ch; c++)
                x [(t - from) * ch + c] *= g;
        }
    }
}

//  A render of stage 3 (gain and limiter, with the local corrections)
//  and, for the delivered output, stage 4 (fades and the output word),
//  made in pieces of S_PIECE_FRAMES so that no second copy of the track
//  is held: each piece is measured and checked as it comes, then
//  dropped, or written over the input it no longer needs (in_place: the
//  delivered output). A piece (11.9 s at 44.1 kHz, 4 MiB of stereo
//  floats) is long enough for the meter's lanes (master_meter_add).
#define S_PIECE_FRAMES (1024 * LIMITER_BLOCK_FRAMES)

typedef struct {
    double          gain_db;
    limiter_t      *lim;            //  NULL: gain only
    const s_dips_t *dips;           //  local corrections, or NULL
    bool            deliver;        //  fades and the output word
    bool            in_place;       //  the pieces go over pre, else to scratch
    master_meter_t *meter;          //  measures the render, or NULL
    bool            meter_raw;      //  measures it before fades and word
    master_meter_t *meter_out;      //  measures it after them (as delivered), or NULL
    tp_stream_t    *tp;             //  checks the render, or NULL
} s_render_t;

//  Feeds meter m a piece of a render (frames from .. from + n - 1 of a
//  master of frames frames): with a per-track file, as the file holds it,
//  the file's fades and the crossfade it opens with applied to a copy in
//  fbuf (the assembly's gains: worker/assemble.c) where the piece meets
//  them. Returns 0 or MF_ERR_NOMEM.
static int
s_meter_feed (master_meter_t *m, const master_opts_t *o, const float *x, int64_t from,
              int64_t n, int64_t frames, int ch, float *fbuf)
{
    if (fbuf) {
        const int64_t t0 = m->trim_lead, af = frames - m->trim_lead - m->trim_trail;
        const int64_t fin = o->file_fade_in_frames < af ? o->file_fade_in_frames : af;
        const int64_t fout = o->file_fade_out_frames < af ? o->file_fade_out_frames : af;
        const int64_t xin = o->file_xfade_in_frames;
        const int64_t a = from - t0;                //  the piece in the file's audio
        bool meets = (fin > 0 && a < fin) || (xin > 0 && a < xin)
                  || (fout > 0 && a + n > af - fout);
        if (meets && a + n > 0 && a < af) {
            memcpy (fbuf, x, (size_t) (n * ch) * sizeof *fbuf);
            if (fin > 0)
                fade_apply (fbuf, (size_t) n, ch, o->fade_curve, a, fin, false);
            if (fout > 0)
                fade_apply (fbuf, (size_t) n, ch, o->fade_curve, a - (af - fout), fout, true);
            if (xin > 0)
                fade_apply (fbuf, (size_t) n, ch, FADE_EQUAL_POWER, a, xin, false);
            x = fbuf;
        }
    }
    return master_meter_add (m, x, n);
}

//  Runs render r of pre (frames frames of ch channels at rate_hz) with
//  scratch room for S_PIECE_FRAMES plus the limiter's latency; fills the
//  limiter statistics. Returns 0, MF_ERR_NOMEM, or a failure of the check.
static int
s_render (float *pre, int64_t frames, int ch, int rate_hz, const master_opts_t *opts,
          const s_render_t *r, float *scratch, dyn_stats_t *gr)
{
    const float gain = (float) pow (10.0, r->gain_db / 20.0);
    memset (gr, 0, sizeof *gr);
    int64_t fin = 0, fout = 0;
    dither_t *d = NULL;
    if (r->deliver) {
        fin = (int64_t) llround (opts->fade_in_s * rate_hz);
        fout = (int64_t) llround (opts->fade_out_s * rate_hz);
        fin = fin < frames ? fin : frames;
        fout = fout < frames ? fout : frames;
        if (opts->out_bits < 32) {
            dither_mode_t mode = DITHER_NONE;
            if (opts->out_bits < 24 && opts->chain.dither)
                mode = opts->chain.noise_shaping ? DITHER_SHAPED : DITHER_TPDF;
            d = dither_new (opts->out_bits, ch, mode, MASTER_DITHER_SEED);
            if (!d)
                return MF_ERR_NOMEM;
        }
    }
    const int64_t lat = r->lim ? limiter_latency_frames (r->lim) : 0;
    size_t next_dip = 0;
    int rc = 0;
    //  room for a piece as the per-track file holds it, when it has fades
    float *fbuf = NULL;
    if ((r->meter || r->meter_out)
    &&  (opts->file_fade_in_frames > 0 || opts->file_fade_out_frames > 0
         || opts->file_xfade_in_frames > 0)) {
        int64_t most = (frames < S_PIECE_FRAMES ? frames : S_PIECE_FRAMES) + lat;
        fbuf = malloc ((size_t) (most * ch) * sizeof *fbuf);
        if (!fbuf) {
            dither_destroy (&d);
            return MF_ERR_NOMEM;
        }
    }
    for (int64_t from = 0; from < frames && !rc; ) {
        //  the last piece takes the rest when less than a latency would
        //  be left after a whole one (limiter_run_gain_part)
        int64_t n = from + S_PIECE_FRAMES + lat > frames ? frames - from : S_PIECE_FRAMES;
        float *x = r->in_place ? pre + from * ch : scratch;
        if (r->lim)
            limiter_run_gain_part (r->lim, x, pre, (size_t) frames, (size_t) from, (size_t) n,
                                   gain);
        else
            dsp_ops ()->scale (x, pre + from * ch, gain, (size_t) (n * ch));
        if (r->dips)
            s_dips_apply (r->dips, &next_dip, x, from, n, ch);
        if (r->meter && r->meter_raw && s_meter_feed (r->meter, opts, x, from, n, frames, ch, fbuf))
            rc = MF_ERR_NOMEM;
        if (fin > from)
            fade_apply (x, (size_t) (fin - from < n ? fin - from : n), ch, opts->fade_curve,
                        from, fin, false);
        if (fout > 0 && from + n > frames - fout) {
            int64_t a = from > frames - fout ? from : frames - fout;
            fade_apply (x + (a - from) * ch, (size_t) (from + n - a), ch, opts->fade_curve,
                        a - (frames - fout), fout, true);
        }
        if (d)
            dither_process (d, x, (size_t) n);
        if (!rc && r->meter && !r->meter_raw
        &&  s_meter_feed (r->meter, opts, x, from, n, frames, ch, fbuf))
            rc = MF_ERR_NOMEM;
        if (!rc && r->meter_out
        &&  s_meter_feed (r->meter_out, opts, x, from, n, frames, ch, fbuf))
            rc = MF_ERR_NOMEM;
        if (!rc && r->tp)
            rc = tp_stream_feed (r->tp, x, n);
        from += n;
    }
    if (r->lim)
        limiter_stats (r->lim, gr);
    dither_destroy (&d);
    free (fbuf);
    return rc;
}

//  A render measured (integrated loudness and range into *lufs, *lra;
//  -HUGE_VAL and 0 when not measured) and, when chk is not NULL,
//  checked against limit_dbtp: the readings into *chk and, when overs is
//  not NULL, the overs into *overs (the caller frees it). A render that
//  delivers (fades and word) is measured before them and checked after:
//  the check is the delivered output's. A measured render's meter goes
//  to *keep (destroying the one there) when keep is not NULL. Returns 0,
//  MF_ERR_NOMEM or a failure of the check.
static int
s_render_measured (float *pre, int64_t frames, int ch, int rate_hz, const master_opts_t *opts,
                   const s_render_t *base, bool measure, double limit_dbtp, float *scratch,
                   dyn_stats_t *gr, double *lufs, double *lra, tp_over_t **overs,
                   size_t *n_overs, tp_check_result_t *chk, master_meter_t **keep)
{
    s_render_t r = *base;
    *lufs = -HUGE_VAL;
    *lra = 0.0;
    r.meter = measure ? s_meter_new (opts, ch, rate_hz, pre, frames, base->gain_db) : NULL;
    r.meter_raw = r.deliver;
    r.tp = chk ? tp_stream_new (frames, ch, rate_hz, limit_dbtp,
                                overs ? limit_dbtp - MASTER_TP_FIX_DB : limit_dbtp,
                                MASTER_TP_HF_DB, overs != NULL)
               : NULL;
    int rc = (measure && !r.meter) || (chk && !r.tp) ? MF_ERR_NOMEM : 0;
    if (!rc)
        rc = s_render (pre, frames, ch, rate_hz, opts, &r, scratch, gr);
    if (!rc && chk)
        rc = tp_stream_finish (r.tp, chk, overs, n_overs);
    if (!rc && measure)
        rc = s_meter_reading (r.meter, opts, lufs, lra);
    if (!rc && measure && keep) {
        master_meter_destroy (keep);
        *keep = r.meter;
        r.meter = NULL;
    }
    master_meter_destroy (&r.meter);
    tp_stream_destroy (&r.tp);
    return rc;
}

//  Moves the side/mid ratio of stereo frames x toward opts->width_to_db by
//  opts->width_share of the way, scaling the side signal (M = (L + R) / 2,
//  S = (L - R) / 2) by a gain within 0 .. 2; records the gain and the
//  ratio reached. Nothing is measured or changed without a target or
//  with a share of 0, nor for other channel counts; nothing changes
//  without side or mid content.
static void
s_width_match (float *x, int64_t frames, int ch, const master_opts_t *opts,
               master_report_t *report)
{
    report->width = 1.0;
    report->side_mid_db = NAN;
    if (ch != 2 || !isfinite (opts->width_to_db) || !(opts->width_share > 0.0))
        return;                     //  nothing to match: no pass over the track
    double mid_e, side_e;
    analysis_mid_side (x, frames, ch, &mid_e, &side_e);
    double now = analysis_side_mid_db (mid_e, side_e);
    report->side_mid_db = now;
    if (!isfinite (now))
        return;                     //  no mid or no side content
    double share = fmin (fmax (opts->width_share, 0.0), 1.0);
    double w = fmin (fmax (pow (10.0, share * (opts->width_to_db - now) / 20.0), 0.0), 2.0);
    const float m = (float) ((1.0 + w) / 2.0), s = (float) ((1.0 - w) / 2.0);
    for (int64_t i = 0; i < frames; i++) {
        float l = x [2 * i], r = x [2 * i + 1];
        x [2 * i] = m * l + s * r;              //  M + w S
        x [2 * i + 1] = s * l + m * r;          //  M - w S
    }
    report->width = w;
    report->side_mid_db = now + 20.0 * log10 (w > 0.0 ? w : 1e-30);
}

//  Stages 1 and 2 on src, the samples of in (owned here: freed on
//  failure, or given back resampled): the pre-gain stages at the source
//  rate, in place, and the resampling to the output rate; then a
//  reference match's width. *pre and *frames get the result. Returns 0,
//  MF_ERR_INVALID or the resampler's error, with err.
static int
s_prepare (float *src, const audio_t *in, const master_opts_t *opts,
           const chain_cfg_t *pre_cfg, const double *tonal, double ceiling, float **pre,
           int64_t *frames, master_report_t *report, char *err, size_t err_size)
{
    const int ch = in->channels;
    *pre = NULL;
    chain_t *chain = chain_new (pre_cfg, tonal, ceiling, in->rate_hz, ch, err, err_size);
    if (!chain) {
        samples_free (src);
        return MF_ERR_INVALID;
    }
    //  1. pre-gain stages at the source rate, in place
    chain_run_pre (chain, src, (size_t) in->frames);
    chain_stats_t cst;
    chain_stats (chain, &cst);
    report->comp_gr_max_db = cst.compressor.gr_max_db;
    report->comp_gr_avg_db = cst.compressor.frames
                           ? cst.compressor.gr_sum_db / (double) cst.compressor.frames : 0.0;
    chain_destroy (&chain);

    //  2. resample to the output rate
    *frames = in->frames;
    if (opts->out_rate_hz != in->rate_hz) {
        audio_t tmp = { .data = src, .frames = in->frames, .channels = ch,
                        .rate_hz = in->rate_hz };
        audio_t rs = { 0 };
        int rc = resample_audio_take (&tmp, opts->out_rate_hz, &rs, err, err_size);  //  frees src
        src = rs.data;
        rs.data = NULL;
        if (rc) {
            samples_free (src);
            audio_free (&rs);
            return rc;
        }
        *frames = rs.frames;
    }
    //  a reference match's side gain, from the side/mid ratio the pre-gain
    //  stages left in the band delivered
    s_width_match (src, *frames, ch, opts, report);
    *pre = src;
    return 0;
}

//  When a delivered render went over *pre (*spent), the input of in read
//  again by opts->reload and made ready as at the start (s_prepare) in its
//  place: the same samples, or an error (another length, channel count or
//  rate: the source changed). Returns 0 (*spent cleared) or an error with
//  err (*pre NULL).
static int
s_reload (const audio_t *in, const master_opts_t *opts, const chain_cfg_t *pre_cfg,
          const double *tonal, double ceiling, float **pre, int64_t *frames, bool *spent,
          master_report_t *report, char *err, size_t err_size)
{
    if (!*spent)
        return 0;
    samples_free (*pre);
    *pre = NULL;
    *spent = false;
    audio_t again = { 0 };
    int rc = opts->reload (opts->reload_arg, &again, err, err_size);
    if (!rc && (again.frames != in->frames || again.channels != in->channels
                || again.rate_hz != in->rate_hz || !again.data)) {
        snprintf (err, err_size, "mastering: the input read again has %lld frames of %d "
                  "channel(s) at %d Hz, not the %lld of %d at %d Hz mastered: it changed",
                  (long long) again.frames, again.channels, again.rate_hz,
                  (long long) in->frames, in->channels, in->rate_hz);
        rc = MF_ERR_IO;
    }
    if (rc) {
        audio_free (&again);
        return rc;
    }
    log_debug ("master: input read again for another render");
    float *src = again.data;
    again.data = NULL;
    return s_prepare (src, in, opts, pre_cfg, tonal, ceiling, pre, frames, report,
                      err, err_size);
}

//  master_run on in, whose samples are owned (freed) here whatever the
//  outcome: the pre-gain stages run on them in place.
static int
s_master (const audio_t *in, const master_opts_t *opts, audio_t *out,
          master_report_t *report, char *err, size_t err_size)
{
    float *pre = in->data;
    master_meter_t *last_meter = NULL;  //  the last measured render's meter
    memset (report, 0, sizeof *report);
    int rc = s_check_opts (in, opts, err, err_size);
    if (rc) {
        samples_free (pre);
        return rc;
    }
    const int ch = in->channels, out_rate = opts->out_rate_hz;
    double ceiling = isnan (opts->chain.limiter.ceiling_dbtp)
                   ? opts->ceiling_dbtp : opts->chain.limiter.ceiling_dbtp;
    //  quantised later to a shorter word: room for that dither's excursion
    if (opts->later_bits > 0)
        ceiling = 20.0 * log10 (pow (10.0, ceiling / 20.0)
                                - ldexp (MASTER_LATER_ROOM_LSB, 1 - opts->later_bits));
    const double *tonal = opts->has_tonal ? opts->tonal_db : NULL;
    if (tonal)
        memcpy (report->tonal_db, opts->tonal_db, sizeof report->tonal_db);

    report->in_lufs = master_loudness_lufs (pre, in->frames, ch, in->rate_hz);

    //  the chain without its gain and limiter: those are stage 3 here; a
    //  level-aware compressor's threshold set from the input's loudness
    chain_cfg_t pre_cfg = opts->chain;
    pre_cfg.gain_db = 0.0;
    pre_cfg.limiter.enabled = false;
    chain_resolve_dynamics (&pre_cfg, report->in_lufs);
    report->compressor = pre_cfg.compressor;

    float *buf = NULL;
    limiter_t *lim = NULL;
    master_meter_t *out_meter = NULL;       //  a delivered render's, after its word
    int64_t frames = 0;
    rc = s_prepare (pre, in, opts, &pre_cfg, tonal, ceiling, &pre, &frames, report,
                    err, err_size);
    if (rc)
        return rc;
    //  3. gain and limiter, the loudness loop
    double pre_lufs = master_loudness_lufs (pre, frames, ch, out_rate);
    const bool loop = opts->chain.limiter.enabled && isfinite (opts->target_lufs)
                   && isfinite (pre_lufs);
    double g = opts->chain.gain_db;
    if (isfinite (opts->gain_db))
        g += opts->gain_db;
    else
    if (isfinite (opts->target_lufs) && isfinite (pre_lufs))
        g = opts->target_lufs - pre_lufs;
    //  the start from the plan is refined from the measured pre-limiter loudness
    if (loop && isfinite (opts->gain_db))
        g = opts->target_lufs - pre_lufs;
    if (g > 48.0)
        g = 48.0;
    limiter_cfg_t lc = opts->chain.limiter;
    lc.ceiling_dbtp = fmax (ceiling - MASTER_TP_MARGIN_DB, -40.0);    //  limiter's range
    if (opts->chain.limiter.enabled) {
        lim = limiter_new (&lc, out_rate, ch);
        if (!lim) {
            snprintf (err, err_size, "chain.limiter: cannot be built at %d Hz", out_rate);
            rc = MF_ERR_INVALID;
            goto fail;
        }
    }
    //  room for a piece of a render (the limiter's latency stays with
    //  its ceiling)
    const int64_t lat = lim ? limiter_latency_frames (lim) : 0;
    buf = samples_alloc ((size_t) (((frames < S_PIECE_FRAMES ? frames : S_PIECE_FRAMES)
                                          + lat) * ch));
    if (!buf)
        goto nomem;
    //  The cap is learnt from the renders: once the limiter acts, its
    //  sustained reduction S grows at most dB for dB with the gain (fully
    //  where it limits all along), so g_cap = g - S + max_gr_db is at or
    //  under the gain where S reaches max_gr_db, and is learnt again on
    //  each render. Before it acts, no step may go further than
    //  max_gr_db above the last gain.
    const double max_gr = opts->chain.limiter.max_gr_db;
    const double limit = ceiling - MASTER_TP_CHECK_DB;
    double g_cap = HUGE_VAL;
    bool cap_known = false, capped = false;
    dyn_stats_t gr = { 0 };
    double gr_sus = 0.0;
    double lufs = -HUGE_VAL, lra = 0.0, g_prev = NAN, l_prev = NAN;
    int iters = 0, tp_attempt = 0;
    //  local true-peak corrections: from the render the loop would stop
    //  at on, every render is corrected before it is measured, so that
    //  the loop lands on the corrected output's loudness. Every render
    //  the limiter makes is checked as it is made (the first one for
    //  overs all along, the others for the corrections).
    bool fixing = false;
    int64_t fixed = 0;
    s_dips_t dips = { 0 };
    tp_over_t *ov = NULL;
    tp_check_result_t chk1 = { 0 };         //  the last render's check, as made
    //  A render with corrections is made as delivered (measured before
    //  the fades and the word, checked after): when the loop stops on it,
    //  chk_v is the delivered output's check and verified is set
    bool verified = false;
    tp_check_result_t chk_v = { 0 };
    //  the delivered output is measured again after its fades and word
    //  when the loop's reading (before them) may not be its loudness.
    //  Without fades and with a word of 24 bits or more (rounding error
    //  under 2^-24 full scale: about 1e-6 LU on programme material) it
    //  is the last render's.
    const bool remeasure = !(loop && llround (opts->fade_in_s * out_rate) <= 0
                             && llround (opts->fade_out_s * out_rate) <= 0
                             && opts->out_bits >= 24);
    //  With a way to read the input again (opts->reload), the render with
    //  the corrections where the loop stops, which is made as delivered,
    //  is made over pre: when it stands, it is the delivered output and
    //  no render is made again for it (pre_spent set after the loop); when
    //  the loop goes on from it, the input is read again and made ready
    //  as at the start (s_reload). The loop stops on that render for most
    //  tracks.
    bool pre_spent = false;
loudness_loop:
    for (;;) {
        size_t n_ov = 0;
        s_render_t r = { .gain_db = g, .lim = lim };
        iters++;
        verified = false;
        assert (!pre_spent);            //  read again before any render
        free (ov);
        ov = NULL;
        report->renders++;
        rc = s_render_measured (pre, frames, ch, out_rate, opts, &r, loop, limit, buf, &gr,
                                &lufs, &lra, lim ? &ov : NULL, &n_ov, lim ? &chk1 : NULL,
                                &last_meter);
        if (rc)
            goto fail_render;
        if (fixing) {
            //  this render, corrected where it reads over
            if (s_dips_plan (ov, n_ov, out_rate, limit, &dips))
                goto nomem;
            fixed = dips.covered > fixed ? dips.covered : fixed;
            if (dips.n) {
                r.dips = &dips;
                r.deliver = true;
                report->renders++;
                rc = s_render_measured (pre, frames, ch, out_rate, opts, &r, loop, limit, buf,
                                        &gr, &lufs, &lra, NULL, NULL, &chk_v, &last_meter);
                if (rc)
                    goto fail_render;
                verified = true;
            }
        }
        if (!loop) {
            if (lim && !fixing) {
                fixing = true;
                if (s_dips_plan (ov, n_ov, out_rate, limit, &dips))
                    goto nomem;
                fixed = dips.covered > fixed ? dips.covered : fixed;
            }
            break;
        }
        gr_sus = lim ? limiter_gr_sustained_db (lim) : 0.0;
        if (gr_sus > 1e-3) {
            g_cap = g - gr_sus + max_gr;
            cap_known = true;
        }
        //  the accurate check on the first render: where the limiter's
        //  detectors read content near the Nyquist frequency low all
        //  along, its ceiling is lowered now, so that the renders the
        //  loop makes anyway land under it (this render, made with the
        //  old ceiling, is not one to stop at); sparse overs are
        //  corrected where they are, on the render the loop stops at
        bool relimited = false;
        if (lim && iters == 1) {
            s_dips_t all = { 0 };
            if (s_dips_plan (ov, n_ov, out_rate, limit, &all))
                goto nomem;
            int64_t covered = all.covered;
            free (all.v);
            double over1 = chk1.true_peak_dbtp - limit;
            if (over1 > 0 && (double) covered > MASTER_TP_FIX_SHARE * (double) frames) {
                lc.ceiling_dbtp = fmax (lc.ceiling_dbtp - over1 - 0.02, -40.0);
                log_debug ("master: first render reads %.3f dBTP (4x %.3f) over %.1f%% of "
                           "it; limiting at %.3f", chk1.true_peak_dbtp, chk1.own_dbtp,
                           100.0 * (double) covered / (double) frames, lc.ceiling_dbtp);
                limiter_destroy (&lim);
                lim = limiter_new (&lc, out_rate, ch);
                if (!lim)
                    goto nomem;
                relimited = true;
            }
        }
        double e = opts->target_lufs - lufs;
        log_debug ("master: loop %d gain %.3f dB -> %.3f LUFS (error %.3f LU, gr max %.2f dB, "
                   "sustained %.2f dB)", iters, g, lufs, e, gr.gr_max_db, gr_sus);
        bool stop = fabs (e) <= MASTER_LOOP_TOL_LU || iters >= MASTER_LOOP_MAX
                 || !isfinite (lufs);
        stop = stop && (!relimited || iters >= MASTER_LOOP_MAX || !isfinite (lufs));
        bool at_cap = !stop && !relimited && e > 0 && cap_known
                   && fabs (g - g_cap) <= MASTER_CAP_TOL_DB;
        if ((stop || at_cap) && lim && !fixing) {
            //  the output this render gives, corrected where it reads over:
            //  when the corrections cost loudness, the loop goes on with them
            fixing = true;
            if (s_dips_plan (ov, n_ov, out_rate, limit, &dips))
                goto nomem;
            fixed = dips.covered > fixed ? dips.covered : fixed;
            if (dips.n) {
                s_render_t rc_r = r;
                rc_r.dips = &dips;
                rc_r.deliver = true;
                rc_r.in_place = opts->reload != NULL;
                master_meter_destroy (&out_meter);
                if (rc_r.in_place && remeasure
                &&  !(out_meter = s_meter_new (opts, ch, out_rate, pre, frames, g)))
                    goto nomem;
                rc_r.meter_out = out_meter;
                pre_spent = rc_r.in_place;
                report->renders++;
                rc = s_render_measured (pre, frames, ch, out_rate, opts, &rc_r, true, limit,
                                        buf, &gr, &lufs, &lra, NULL, NULL, &chk_v,
                                        &last_meter);
                if (rc)
                    goto fail_render;
                verified = true;
                double e2 = opts->target_lufs - lufs;
                if (fabs (e2) > MASTER_LOOP_TOL_LU && iters < MASTER_LOOP_MAX
                &&  isfinite (lufs) && !at_cap) {
                    log_debug ("master: corrected -> %.3f LUFS (error %.3f LU); again",
                               lufs, e2);
                    e = e2;
                    stop = false;
                    verified = false;
                    g_prev = NAN;             //  the curve changed with the corrections
                }
            }
        }
        if (stop)
            break;
        if (at_cap) {
            capped = true;                        //  the cap holds it here
            break;
        }
        rc = s_reload (in, opts, &pre_cfg, tonal, ceiling, &pre, &frames, &pre_spent, report,
                       err, err_size);
        if (rc)
            goto fail;
        //  first step: the limiter took D = g + pre - L; heavier limiting
        //  means a flatter L(g): guess slope 1 - D/2 (the secant after that)
        double d = g + pre_lufs - lufs;
        double slope = 1.0 - 0.5 * (d > 0 ? d : 0);
        slope = slope < 0.5 ? 0.5 : slope;
        if (isfinite (g_prev) && fabs (g - g_prev) > 1e-6) {
            slope = (lufs - l_prev) / (g - g_prev);
            slope = slope < 0.3 ? 0.3 : slope > 1.2 ? 1.2 : slope;
        }
        g_prev = g;
        l_prev = lufs;
        double next = g + e / slope;
        if (cap_known && next > g_cap)
            next = g_cap;
        else
        if (!cap_known && next > g + max_gr)
            next = g + max_gr;
        g = next;
    }
    free (ov);
    ov = NULL;

    //  4-5. fades, quantisation, true-peak verification. The delivered
    //  output is rendered over pre, which a repeated loop would need: so
    //  while the limiter may still be lowered it is rendered and checked
    //  once without being kept (or, with opts->reload, it was made over
    //  pre in the loop and pre is read again if the limiter is lowered).
    //  The own 4x meter must read at or under
    //  the ceiling, the accurate check (near-Nyquist content, finer grid)
    //  at or under the limit.
    double tp = -HUGE_VAL;
    const s_render_t deliver = { .gain_db = g, .lim = lim, .dips = fixing ? &dips : NULL,
                                 .deliver = true };
    //  No second render is needed where the delivered output can only
    //  differ from the last render by rounding to a word of 24 bits or
    //  more (no fades, no corrections, no dither): a rounding error of
    //  at most 2^-24 moves no reading by more than the interpolators'
    //  gain (under 4) times that, 4e-6 dB at the ceiling; a render that
    //  read MASTER_TP_CLEAR_DB under both limits stays under them.
    const bool plain = llround (opts->fade_in_s * out_rate) <= 0
                    && llround (opts->fade_out_s * out_rate) <= 0 && opts->out_bits >= 24
                    && dips.n == 0;
    const bool clear = plain && chk1.own_dbtp <= ceiling - MASTER_TP_CLEAR_DB
                    && chk1.true_peak_dbtp <= limit - MASTER_TP_CLEAR_DB;
    if (lim)
        log_debug ("master: last render reads %.4f dBTP (4x %.4f)%s", chk1.true_peak_dbtp,
                   chk1.own_dbtp, verified ? ", checked as delivered with its corrections"
                   : clear ? ", delivered as it is" : ", checked again as delivered");
    if (lim && tp_attempt < MASTER_TP_RETRIES && !clear) {
        if (!verified) {
            s_render_t v = deliver;
            v.tp = tp_stream_new (frames, ch, out_rate, limit, limit, 0.0, false);
            report->renders++;
            rc = v.tp ? s_render (pre, frames, ch, out_rate, opts, &v, buf, &gr)
                      : MF_ERR_NOMEM;
            if (!rc)
                rc = tp_stream_finish (v.tp, &chk_v, NULL, NULL);
            tp_stream_destroy (&v.tp);
            if (rc)
                goto fail_render;
            verified = true;
        }
        double over = fmax (chk_v.own_dbtp - ceiling, chk_v.true_peak_dbtp - limit);
        if (over > 0) {
            verified = false;
            rc = s_reload (in, opts, &pre_cfg, tonal, ceiling, &pre, &frames, &pre_spent,
                           report, err, err_size);
            if (rc)
                goto fail;
            //  over: lower the limiter's ceiling by the excess and run the
            //  loudness loop again from the last gain (it re-trims the gain)
            tp_attempt++;
            lc.ceiling_dbtp = fmax (lc.ceiling_dbtp - over - 0.02, -40.0);
            log_debug ("master: true peak %.3f dBTP (4x %.3f) over %.2f; re-limiting at %.3f",
                       chk_v.true_peak_dbtp, chk_v.own_dbtp, ceiling, lc.ceiling_dbtp);
            limiter_destroy (&lim);
            lim = limiter_new (&lc, out_rate, ch);
            if (!lim)
                goto nomem;
            g_prev = NAN;                         //  the slope changed with the ceiling
            goto loudness_loop;
        }
    }
    //  the delivered output, over pre (unless the render the loop stopped
    //  on was made there); measured again when remeasure
    if (pre_spent && remeasure) {
        rc = s_meter_reading (out_meter, opts, &report->out_lufs, &report->out_lra_lu);
        if (rc)
            goto fail_render;
        master_meter_destroy (&last_meter);
        last_meter = out_meter;
        out_meter = NULL;
    }
    if (!pre_spent) {
        s_render_t f = deliver;
        f.in_place = true;
        f.meter = remeasure ? s_meter_new (opts, ch, out_rate, pre, frames, f.gain_db) : NULL;
        report->renders++;
        rc = remeasure && !f.meter ? MF_ERR_NOMEM
           : s_render (pre, frames, ch, out_rate, opts, &f, buf, &gr);
        if (!rc && remeasure)
            rc = s_meter_reading (f.meter, opts, &report->out_lufs, &report->out_lra_lu);
        if (!rc && remeasure) {
            master_meter_destroy (&last_meter);
            last_meter = f.meter;
            f.meter = NULL;
        }
        master_meter_destroy (&f.meter);
        if (rc)
            goto fail_render;
    }
    if (!remeasure) {
        report->out_lufs = lufs;
        report->out_lra_lu = lra;
    }
    //  the render checked above is the one delivered, bit for bit (the
    //  same pieces through the same stages): its check stands; debug
    //  builds (MF_DEBUG_CHECKS) check the delivered samples again to show it
    tp_check_result_t chk = chk_v;
#ifndef MF_DEBUG_CHECKS
    if (!verified)
#endif
    {
        if (tp_check_run (pre, frames, ch, out_rate, limit, &chk))
            goto nomem;
        assert (!verified || (chk.own_dbtp == chk_v.own_dbtp
                              && chk.true_peak_dbtp == chk_v.true_peak_dbtp));
    }
    tp = fmax (chk.own_dbtp, chk.true_peak_dbtp);
    //  the report's true peak is the accurate one: where the output stays
    //  well under the ceiling, the check above refined nothing near its
    //  peak, so read again with the floor at the 4x reading
    if (isfinite (tp) && tp < limit - TP_CHECK_SCREEN_DB) {
        tp_check_result_t chk;
        if (tp_check_run (pre, frames, ch, out_rate, tp, &chk))
            goto nomem;
        tp = fmax (chk.own_dbtp, chk.true_peak_dbtp);
    }
    report->out_true_peak_dbtp = tp;
    report->gain_db = g;
    report->gr_max_db = gr.gr_max_db;
    report->gr_avg_db = gr.frames ? gr.gr_sum_db / (double) gr.frames : 0.0;
    report->gr_sustained_db = gr_sus;
    report->gr_capped = capped;
    report->tp_fixed_ms = 1e3 * (double) fixed / out_rate;
    report->limiter_ceiling_dbtp = lim ? lc.ceiling_dbtp : NAN;
    if (capped)
        log_warn ("master: the target %.1f LUFS needs more than %.1f dB of sustained "
                  "limiting; delivered at %.2f LUFS", opts->target_lufs, max_gr,
                  report->out_lufs);
    report->loop_iterations = iters;
    //  the delivered output's blocks: the last measured render is the
    //  delivered one (remeasured above when fades or word would move it)
    if (opts->blocks && s_meter_blocks (last_meter, opts, opts->blocks))
        goto nomem;
    master_meter_destroy (&last_meter);
    master_meter_destroy (&out_meter);

    memset (out, 0, sizeof *out);
    out->data = pre;
    out->frames = frames;
    out->channels = ch;
    out->rate_hz = out_rate;
    out->bits = opts->out_bits < 32 ? opts->out_bits : 0;
    out->is_float = opts->out_bits == 32;
    snprintf (out->format, sizeof out->format, "master %d-bit",
              opts->out_bits);
    free (buf);
    free (dips.v);
    limiter_destroy (&lim);
    return 0;

fail_render:
    if (rc != MF_ERR_NOMEM) {
        snprintf (err, err_size, "mastering: the render could not be checked (error %d)", rc);
        goto fail;
    }
nomem:
    snprintf (err, err_size, "mastering: out of memory");
    rc = MF_ERR_NOMEM;
fail:
    master_meter_destroy (&last_meter);
    master_meter_destroy (&out_meter);
    free (ov);
    free (dips.v);
    limiter_destroy (&lim);
    samples_free (pre);
    free (buf);
    return rc;
}

//  A copy of the samples of in (master_run's input, and its reload).
static int
s_copy_in (void *arg, audio_t *own, char *err, size_t err_size)
{
    const audio_t *in = arg;
    *own = *in;
    own->data = NULL;
    if (in->data && in->frames > 0 && in->channels > 0) {
        const size_t samples = (size_t) in->frames * (size_t) in->channels;
        own->data = samples_alloc (samples);
        if (!own->data) {
            snprintf (err, err_size, "mastering: out of memory");
            return MF_ERR_NOMEM;
        }
        memcpy (own->data, in->data, samples * sizeof (float));
    }
    return 0;
}

int
master_run (const audio_t *in, const master_opts_t *opts, audio_t *out,
            master_report_t *report, char *err, size_t err_size)
{
    audio_t own;
    int rc = s_copy_in ((void *) in, &own, err, err_size);
    if (rc) {
        memset (report, 0, sizeof *report);
        return rc;
    }
    master_opts_t o = *opts;
    o.reload = s_copy_in;
    o.reload_arg = (void *) in;
    return s_master (&own, &o, out, report, err, err_size);
}

int
master_run_take (audio_t *in, const master_opts_t *opts, audio_t *out,
                 master_report_t *report, char *err, size_t err_size)
{
    audio_t own = *in;
    in->data = NULL;
    return s_master (&own, opts, out, report, err, err_size);
}

int
master_run_codec (audio_t *in, const master_opts_t *opts, int kbps, bool safe,
                  audio_t *out, master_report_t *report, char *err, size_t err_size)
{
    master_opts_t o = *opts;
    const bool chain_ceiling = !isnan (o.chain.limiter.ceiling_dbtp);
    const double ceiling = chain_ceiling ? o.chain.limiter.ceiling_dbtp : o.ceiling_dbtp;
    double limit = ceiling, safe_at = NAN, unsafe_at = NAN;
    bool redo = false;                //  mastering again at safe_at, to keep it
    codec_check_t cc;
    int rc = 0;
    for (int pass = 1; ; pass++) {
        //  the last pass may take the input; the others keep it for the next
        bool last = !safe || redo || pass == MASTER_CODEC_PASSES;
        rc = last ? master_run_take (in, &o, out, report, err, err_size)
                  : master_run (in, &o, out, report, err, err_size);
        if (!rc)
            rc = codec_check_run (out, kbps, &cc, err, err_size);
        if (rc) {
            audio_free (out);
            break;
        }
        report->codec_checked = true;
        for (int c = 0; c < CODEC_COUNT; c++) {
            report->codec_available [c] = cc.available [c];
            report->codec_true_peak_dbtp [c] = cc.true_peak_dbtp [c];
            report->codec_kbps [c] = cc.kbps [c];
            if (!cc.available [c])
                log_warn ("master: %s round trip not measured: %s", codec_name (c), cc.why [c]);
        }
        report->codec_safe = safe;
        report->codec_ceiling_dbtp = limit;
        report->codec_passes = pass;
        double over = codec_check_max_dbtp (&cc) - ceiling;
        if (!safe)
            break;
        double next;
        if (!(over > 0)) {
            //  safe: kept unless the lowering went clearly further than
            //  needed and there are passes left to raise it and, should
            //  the raise go over, to master at this limit again
            double slack = -over;
            next = fmin (limit + slack - MASTER_CODEC_MARGIN_DB, ceiling);
            if (isfinite (unsafe_at) && next >= unsafe_at)
                next = 0.5 * (limit + unsafe_at);
            if (last || slack <= MASTER_CODEC_SLACK_DB || pass + 2 > MASTER_CODEC_PASSES
            ||  next <= limit + 0.01)
                break;
            safe_at = limit;
            log_debug ("master: lossy round trips %.2f dB under %.1f dBTP; limiting at %.2f",
                       slack, ceiling, next);
        }
        else {
            if (last) {
                log_warn ("master: after %d masterings a lossy round trip still peaks %.2f dB "
                          "over the %.1f dBTP ceiling", pass, over, ceiling);
                break;
            }
            unsafe_at = limit;
            //  a raise that went over: back to the limit that was safe
            redo = isfinite (safe_at);
            next = redo ? safe_at : limit - over - MASTER_CODEC_MARGIN_DB;
            log_debug ("master: a lossy round trip peaks %.2f dB over %.1f dBTP; limiting at "
                       "%.2f", over, ceiling, next);
        }
        limit = next;
        if (chain_ceiling)
            o.chain.limiter.ceiling_dbtp = limit;
        else
            o.ceiling_dbtp = limit;
        audio_free (out);
    }
    samples_free (in->data);               //  as master_run_take: the samples go
    in->data = NULL;
    return rc;
}
