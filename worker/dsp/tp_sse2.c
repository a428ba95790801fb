/*  True-peak oversampler, SSE2: the polyphase FIR of tp_generic.c with four
    consecutive input samples per vector (one accumulator per phase), the
    same summation order as the reference (k ascending, multiply then add),
    so results equal the generic kernel bit for bit (as long as the
    generic file is compiled without FMA contraction, as it is here).

    Packed coefficient layout (built on the stack at each call from the
    dsp_ops layout coef[p * taps + k]): every coefficient broadcast to a
    full vector, taps outer, phases inner, so one k step reads `phases`
    consecutive vectors:

        packed index   lanes 0..3           multiplies
        ------------   ------------------   -------------------------
        k*P + 0        c[0][k] x4           x[i-k .. i-k+3]  (phase 0)
        k*P + 1        c[1][k] x4           x[i-k .. i-k+3]  (phase 1)
        ...
        k*P + P-1      c[P-1][k] x4         x[i-k .. i-k+3]  (phase P-1)

    (P = phases <= 4, P * taps <= TP_SSE2_MAX_COEF; larger filters take
    the scalar path.)  */
#include "worker/dsp/dsp_ops.h"

#include <emmintrin.h>
#include <math.h>

#define TP_SSE2_MAX_COEF  256          //  packed vectors on the stack: 4 KiB
#define TP_SSE2_MAX_PHASES  4

//  Scalar reference for one input sample: max |y| over the phases.
static inline float
s_peak_one (const float *x, size_t i, const float *coef, int phases, int taps)
{
    float m = 0.0f;
    for (int p = 0; p < phases; p++) {
        const float *c = coef + (size_t) p * taps;
        float y = 0.0f;
        for (int k = 0; k < taps; k++)
            y += c [k] * x [(ptrdiff_t) i - k];
        if (fabsf (y) > m)
            m = fabsf (y);
    }
    return m;
}

//  Broadcasts coef into packed (see the table above).
static void
s_pack (__m128 *packed, const float *coef, int phases, int taps)
{
    for (int k = 0; k < taps; k++)
        for (int p = 0; p < phases; p++)
            packed [k * phases + p] = _mm_set1_ps (coef [(size_t) p * taps + k]);
}

//  Four input samples from i: the largest |y| over phases, per lane.
//  Always inlined and called with a constant phases (s_peak4_any), so
//  that the phase loops unroll and the accumulators live in registers.
static inline __attribute__ ((always_inline)) __m128
s_peak4 (const float *x, size_t i, const __m128 *packed, const int phases, int taps)
{
    const __m128 abs_mask = _mm_castsi128_ps (_mm_set1_epi32 (0x7fffffff));
    __m128 acc [TP_SSE2_MAX_PHASES];
    #pragma GCC unroll 4
    for (int p = 0; p < phases; p++)
        acc [p] = _mm_setzero_ps ();
    const float *xi = x + i;
    for (int k = 0; k < taps; k++) {
        __m128 xv = _mm_loadu_ps (xi - k);
        const __m128 *c = packed + k * phases;
        #pragma GCC unroll 4
        for (int p = 0; p < phases; p++)
            acc [p] = _mm_add_ps (acc [p], _mm_mul_ps (c [p], xv));
    }
    __m128 m = _mm_and_ps (acc [0], abs_mask);
    #pragma GCC unroll 4
    for (int p = 1; p < phases; p++)
        m = _mm_max_ps (m, _mm_and_ps (acc [p], abs_mask));
    return m;
}

//  s_peak4 for phases 1 .. 4, each with the phase count as a constant.
static inline __m128
s_peak4_any (const float *x, size_t i, const __m128 *packed, int phases, int taps)
{
    switch (phases) {
        case 1:  return s_peak4 (x, i, packed, 1, taps);
        case 2:  return s_peak4 (x, i, packed, 2, taps);
        case 3:  return s_peak4 (x, i, packed, 3, taps);
        default: return s_peak4 (x, i, packed, 4, taps);
    }
}

//  ops->tp_block_max: largest |y| over all samples and phases.
static float
s_tp_block_max_sse2 (const float *x, size_t n, const float *coef, int phases, int taps)
{
    float r = 0.0f;
    size_t i = 0;
    if (phases <= TP_SSE2_MAX_PHASES && phases * taps <= TP_SSE2_MAX_COEF && n >= 4) {
        __m128 packed [TP_SSE2_MAX_COEF];
        s_pack (packed, coef, phases, taps);
        __m128 m = _mm_setzero_ps ();
        for (; i + 4 <= n; i += 4)
            m = _mm_max_ps (m, s_peak4_any (x, i, packed, phases, taps));
        float lanes [4];
        _mm_storeu_ps (lanes, m);
        for (int l = 0; l < 4; l++)
            if (lanes [l] > r)
                r = lanes [l];
    }
    for (; i < n; i++) {
        float v = s_peak_one (x, i, coef, phases, taps);
        if (v > r)
            r = v;
    }
    return r;
}

//  ops->tp_peaks: per input sample, max |y| over the phases.
static void
s_tp_peaks_sse2 (const float *x, size_t n, const float *coef, int phases, int taps,
                 float *peak)
{
    size_t i = 0;
    if (phases <= TP_SSE2_MAX_PHASES && phases * taps <= TP_SSE2_MAX_COEF && n >= 4) {
        __m128 packed [TP_SSE2_MAX_COEF];
        s_pack (packed, coef, phases, taps);
        for (; i + 4 <= n; i += 4)
            _mm_storeu_ps (peak + i, s_peak4_any (x, i, packed, phases, taps));
    }
    for (; i < n; i++)
        peak [i] = s_peak_one (x, i, coef, phases, taps);
}

//  Puts the SSE2 tp kernels into the table.
void
tp_fill_sse2 (dsp_ops_t *ops)
{
    ops->tp_block_max = s_tp_block_max_sse2;
    ops->tp_peaks = s_tp_peaks_sse2;
}
