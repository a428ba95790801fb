/*  True-peak oversampler, AVX2 + FMA: the polyphase FIR of tp_generic.c,
    eight consecutive input samples per vector and two vectors (16 samples)
    per step, one accumulator per phase and vector, fused multiply-add
    (so results differ from the generic kernel by rounding only).

    Packed coefficient layout (built on the stack at each call from the
    dsp_ops layout coef[p * taps + k]): every coefficient broadcast to a
    full vector, taps outer, phases inner, so one k step reads `phases`
    consecutive vectors:

        packed index   lanes 0..7           multiplies
        ------------   ------------------   ---------------------------
        k*P + 0        c[0][k] x8           x[i-k .. i-k+7], x[i-k+8 ..]
        k*P + 1        c[1][k] x8           (phase 1)
        ...
        k*P + P-1      c[P-1][k] x8         (phase P-1)

    (P = phases <= 4, P * taps <= TP_AVX2_MAX_COEF; larger filters take
    the scalar path.)  */
#include "worker/dsp/dsp_ops.h"

#include <immintrin.h>
#include <math.h>

#define TP_AVX2_MAX_COEF   256         //  packed vectors on the stack: 8 KiB
#define TP_AVX2_MAX_PHASES   4

//  One input sample: max |y| over the phases, with the vector lanes'
//  arithmetic (one fused multiply-add per tap, in the same order), so
//  that a sample reads the same whether it falls in a vector step or in
//  the scalar rest of a call. fmaf says so explicitly: contracting
//  c * x + y into an FMA is the compiler's choice (gcc does it when
//  optimising, not at -O0).
static inline float
s_peak_one (const float *x, size_t i, const float *coef, int phases, int taps)
{
    float m = 0.0f;
    for (int p = 0; p < phases; p++) {
        const float *c = coef + (size_t) p * taps;
        float y = 0.0f;
        for (int k = 0; k < taps; k++)
            y = fmaf (c [k], x [(ptrdiff_t) i - k], y);
        if (fabsf (y) > m)
            m = fabsf (y);
    }
    return m;
}

//  Broadcasts coef into packed (see the table above).
static void
s_pack (__m256 *packed, const float *coef, int phases, int taps)
{
    for (int k = 0; k < taps; k++)
        for (int p = 0; p < phases; p++)
            packed [k * phases + p] = _mm256_set1_ps (coef [(size_t) p * taps + k]);
}

//  |v| per lane (clears the sign bits).
static inline __m256
s_abs (__m256 v)
{
    return _mm256_and_ps (v, _mm256_castsi256_ps (_mm256_set1_epi32 (0x7fffffff)));
}

//  Sixteen input samples from i: per lane the largest |y| over phases,
//  samples i..i+7 in *lo and i+8..i+15 in *hi. Always inlined and called
//  with a constant phases (see s_peak16_any), so that the phase loops
//  unroll and the accumulators live in registers.
static inline __attribute__ ((always_inline)) void
s_peak16 (const float *x, size_t i, const __m256 *packed, const int phases, int taps,
          __m256 *lo, __m256 *hi)
{
    const float *xi = x + i;
    __m256 a [TP_AVX2_MAX_PHASES], b [TP_AVX2_MAX_PHASES];
    #pragma GCC unroll 4
    for (int p = 0; p < phases; p++)
        a [p] = b [p] = _mm256_setzero_ps ();
    for (int k = 0; k < taps; k++) {
        __m256 xa = _mm256_loadu_ps (xi - k);
        __m256 xb = _mm256_loadu_ps (xi - k + 8);
        const __m256 *c = packed + k * phases;
        #pragma GCC unroll 4
        for (int p = 0; p < phases; p++) {
            a [p] = _mm256_fmadd_ps (c [p], xa, a [p]);
            b [p] = _mm256_fmadd_ps (c [p], xb, b [p]);
        }
    }
    __m256 ml = s_abs (a [0]), mh = s_abs (b [0]);
    #pragma GCC unroll 4
    for (int p = 1; p < phases; p++) {
        ml = _mm256_max_ps (ml, s_abs (a [p]));
        mh = _mm256_max_ps (mh, s_abs (b [p]));
    }
    *lo = ml;
    *hi = mh;
}

//  s_peak16 for phases 1 .. 4, each with the phase count as a constant.
static inline void
s_peak16_any (const float *x, size_t i, const __m256 *packed, int phases, int taps,
              __m256 *lo, __m256 *hi)
{
    switch (phases) {
        case 1:  s_peak16 (x, i, packed, 1, taps, lo, hi); break;
        case 2:  s_peak16 (x, i, packed, 2, taps, lo, hi); break;
        case 3:  s_peak16 (x, i, packed, 3, taps, lo, hi); break;
        default: s_peak16 (x, i, packed, 4, taps, lo, hi); break;
    }
}

//  Eight input samples from i (the tail step): per lane max |y| over phases.
static inline __m256
s_peak8 (const float *x, size_t i, const __m256 *packed, int phases, int taps)
{
    __m256 a [TP_AVX2_MAX_PHASES];
    for (int p = 0; p < TP_AVX2_MAX_PHASES; p++)
        a [p] = _mm256_setzero_ps ();
    for (int k = 0; k < taps; k++) {
        __m256 xa = _mm256_loadu_ps (x + i - k);
        for (int p = 0; p < phases; p++)
            a [p] = _mm256_fmadd_ps (packed [k * phases + p], xa, a [p]);
    }
    __m256 m = s_abs (a [0]);
    for (int p = 1; p < phases; p++)
        m = _mm256_max_ps (m, s_abs (a [p]));
    return m;
}

//  Largest lane of v.
static inline float
s_hmax (__m256 v)
{
    __m128 m = _mm_max_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
    m = _mm_max_ps (m, _mm_movehl_ps (m, m));
    m = _mm_max_ss (m, _mm_shuffle_ps (m, m, 1));
    return _mm_cvtss_f32 (m);
}

//  ops->tp_block_max: largest |y| over all samples and phases.
static float
s_tp_block_max_avx2 (const float *x, size_t n, const float *coef, int phases, int taps)
{
    float r = 0.0f;
    size_t i = 0;
    if (phases <= TP_AVX2_MAX_PHASES && phases * taps <= TP_AVX2_MAX_COEF && n >= 8) {
        __m256 packed [TP_AVX2_MAX_COEF];
        s_pack (packed, coef, phases, taps);
        __m256 m = _mm256_setzero_ps ();
        for (; i + 16 <= n; i += 16) {
            __m256 lo, hi;
            s_peak16_any (x, i, packed, phases, taps, &lo, &hi);
            m = _mm256_max_ps (m, _mm256_max_ps (lo, hi));
        }
        for (; i + 8 <= n; i += 8)
            m = _mm256_max_ps (m, s_peak8 (x, i, packed, phases, taps));
        r = s_hmax (m);
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
s_tp_peaks_avx2 (const float *x, size_t n, const float *coef, int phases, int taps,
                 float *peak)
{
    size_t i = 0;
    if (phases <= TP_AVX2_MAX_PHASES && phases * taps <= TP_AVX2_MAX_COEF && n >= 8) {
        __m256 packed [TP_AVX2_MAX_COEF];
        s_pack (packed, coef, phases, taps);
        for (; i + 16 <= n; i += 16) {
            __m256 lo, hi;
            s_peak16_any (x, i, packed, phases, taps, &lo, &hi);
            _mm256_storeu_ps (peak + i, lo);
            _mm256_storeu_ps (peak + i + 8, hi);
        }
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps (peak + i, s_peak8 (x, i, packed, phases, taps));
    }
    for (; i < n; i++)
        peak [i] = s_peak_one (x, i, coef, phases, taps);
}

//  Puts the AVX2+FMA tp kernels into the table.
void
tp_fill_avx2 (dsp_ops_t *ops)
{
    ops->tp_block_max = s_tp_block_max_avx2;
    ops->tp_peaks = s_tp_peaks_avx2;
}
