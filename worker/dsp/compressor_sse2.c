/*  Dynamics kernels, SSE2: four frames per vector, the same polynomial
    log10 and 10^x as compressor_avx2.c (see there for the accuracy)
    without FMA; selects with and/andnot/or (SSE2 has no blend).
    Stereo frames are de-interleaved with shuffle (2,0,2,0) / (3,1,3,1)
    of two 4-float loads: max(|L|,|R|) of frames 0..3 in order.  */
#include "worker/dsp/dsp_ops.h"
#include "worker/dsp/compressor.h"

#include <emmintrin.h>
#include <math.h>
#include <string.h>

//  mask ? a : b.
static inline __m128
s_sel (__m128 mask, __m128 a, __m128 b)
{
    return _mm_or_ps (_mm_and_ps (mask, a), _mm_andnot_ps (mask, b));
}

//  20 log10 (x) for x > 0 (normal floats), 4 lanes.
static inline __m128
s_db4 (__m128 x)
{
    const __m128i bits = _mm_castps_si128 (x);
    __m128i e = _mm_sub_epi32 (_mm_srli_epi32 (bits, 23), _mm_set1_epi32 (127));
    __m128 m = _mm_castsi128_ps (_mm_or_si128 (
        _mm_and_si128 (bits, _mm_set1_epi32 (0x007fffff)), _mm_set1_epi32 (0x3f800000)));
    __m128 big = _mm_cmpgt_ps (m, _mm_set1_ps ((float) M_SQRT2));
    m = s_sel (big, _mm_mul_ps (m, _mm_set1_ps (0.5f)), m);
    e = _mm_sub_epi32 (e, _mm_castps_si128 (big));
    __m128 z = _mm_div_ps (_mm_sub_ps (m, _mm_set1_ps (1.0f)), _mm_add_ps (m, _mm_set1_ps (1.0f)));
    __m128 z2 = _mm_mul_ps (z, z);
    __m128 p = _mm_add_ps (_mm_mul_ps (z2, _mm_set1_ps (1.0f / 9.0f)), _mm_set1_ps (1.0f / 7.0f));
    p = _mm_add_ps (_mm_mul_ps (p, z2), _mm_set1_ps (1.0f / 5.0f));
    p = _mm_add_ps (_mm_mul_ps (p, z2), _mm_set1_ps (1.0f / 3.0f));
    p = _mm_add_ps (_mm_mul_ps (p, z2), _mm_set1_ps (1.0f));
    __m128 ln_m = _mm_mul_ps (_mm_mul_ps (z, p), _mm_set1_ps (2.0f));
    __m128 ln = _mm_add_ps (_mm_mul_ps (_mm_cvtepi32_ps (e), _mm_set1_ps ((float) M_LN2)), ln_m);
    return _mm_mul_ps (ln, _mm_set1_ps ((float) (20.0 / M_LN10)));
}

//  Linear maxima to floored dB, 4 lanes.
static inline __m128
s_level4 (__m128 lv)
{
    __m128 ok = _mm_cmpgt_ps (lv, _mm_set1_ps (1e-10f));
    return s_sel (ok, s_db4 (lv), _mm_set1_ps ((float) COMPRESSOR_FLOOR_DB));
}

//  10^(g / 20), 4 lanes.
static inline __m128
s_gain4 (__m128 g_db)
{
    __m128 y = _mm_mul_ps (g_db, _mm_set1_ps ((float) (M_LN10 / M_LN2 / 20.0)));
    y = _mm_max_ps (_mm_min_ps (y, _mm_set1_ps (126.0f)), _mm_set1_ps (-126.0f));
    __m128i ni = _mm_cvtps_epi32 (y);                   //  round to nearest
    __m128 t = _mm_mul_ps (_mm_sub_ps (y, _mm_cvtepi32_ps (ni)), _mm_set1_ps ((float) M_LN2));
    __m128 p = _mm_add_ps (_mm_mul_ps (t, _mm_set1_ps (1.0f / 5040.0f)), _mm_set1_ps (1.0f / 720.0f));
    p = _mm_add_ps (_mm_mul_ps (p, t), _mm_set1_ps (1.0f / 120.0f));
    p = _mm_add_ps (_mm_mul_ps (p, t), _mm_set1_ps (1.0f / 24.0f));
    p = _mm_add_ps (_mm_mul_ps (p, t), _mm_set1_ps (1.0f / 6.0f));
    p = _mm_add_ps (_mm_mul_ps (p, t), _mm_set1_ps (0.5f));
    p = _mm_add_ps (_mm_mul_ps (p, t), _mm_set1_ps (1.0f));
    p = _mm_add_ps (_mm_mul_ps (p, t), _mm_set1_ps (1.0f));
    __m128i scale = _mm_slli_epi32 (_mm_add_epi32 (ni, _mm_set1_epi32 (127)), 23);
    return _mm_mul_ps (p, _mm_castsi128_ps (scale));
}

static inline __m128
s_abs4 (__m128 v)
{
    return _mm_and_ps (v, _mm_castsi128_ps (_mm_set1_epi32 (0x7fffffff)));
}

//  ops->comp_level_db (dsp_ops.h).
static void
s_comp_level_db_sse2 (const float *buf, size_t frames, int channels, float *level_db)
{
    const size_t ch = (size_t) channels;
    size_t i = 0;
    if (ch == 1)
        for (; i + 4 <= frames; i += 4)
            _mm_storeu_ps (level_db + i, s_level4 (s_abs4 (_mm_loadu_ps (buf + i))));
    else if (ch == 2)
        for (; i + 4 <= frames; i += 4) {
            __m128 a = s_abs4 (_mm_loadu_ps (buf + 2 * i));
            __m128 b = s_abs4 (_mm_loadu_ps (buf + 2 * i + 4));
            __m128 l = _mm_shuffle_ps (a, b, _MM_SHUFFLE (2, 0, 2, 0));
            __m128 r = _mm_shuffle_ps (a, b, _MM_SHUFFLE (3, 1, 3, 1));
            _mm_storeu_ps (level_db + i, s_level4 (_mm_max_ps (l, r)));
        }
    else
        for (; i + 4 <= frames; i += 4) {
            float m [4];
            for (size_t j = 0; j < 4; j++) {
                const float *f = buf + (i + j) * ch;
                float v = 0.0f;
                for (size_t c = 0; c < ch; c++)
                    if (fabsf (f [c]) > v)
                        v = fabsf (f [c]);
                m [j] = v;
            }
            _mm_storeu_ps (level_db + i, s_level4 (_mm_loadu_ps (m)));
        }
    if (i < frames) {
        float m [4] = { 0 };
        for (size_t j = 0; i + j < frames; j++) {
            const float *f = buf + (i + j) * ch;
            for (size_t c = 0; c < ch; c++)
                if (fabsf (f [c]) > m [j])
                    m [j] = fabsf (f [c]);
        }
        _mm_storeu_ps (m, s_level4 (_mm_loadu_ps (m)));
        memcpy (level_db + i, m, (frames - i) * sizeof (float));
    }
}

//  ops->gain_apply_db (dsp_ops.h).
static void
s_gain_apply_db_sse2 (float *buf, size_t frames, int channels, const float *gain_db)
{
    const size_t ch = (size_t) channels;
    for (size_t i = 0; i < frames; i += 4) {
        size_t n = frames - i < 4 ? frames - i : 4;
        __m128 g;
        if (n == 4)
            g = s_gain4 (_mm_loadu_ps (gain_db + i));
        else {
            float t [4] = { 0 };
            memcpy (t, gain_db + i, n * sizeof (float));
            g = s_gain4 (_mm_loadu_ps (t));
        }
        float *f = buf + i * ch;
        if (n == 4 && ch == 1)
            _mm_storeu_ps (f, _mm_mul_ps (_mm_loadu_ps (f), g));
        else if (n == 4 && ch == 2) {
            _mm_storeu_ps (f, _mm_mul_ps (_mm_loadu_ps (f), _mm_unpacklo_ps (g, g)));
            _mm_storeu_ps (f + 4, _mm_mul_ps (_mm_loadu_ps (f + 4), _mm_unpackhi_ps (g, g)));
        }
        else {
            float gl [4];
            _mm_storeu_ps (gl, g);
            for (size_t j = 0; j < n; j++)
                for (size_t c = 0; c < ch; c++)
                    f [j * ch + c] *= gl [j];
        }
    }
}

void
compressor_fill_sse2 (dsp_ops_t *ops)
{
    ops->comp_level_db = s_comp_level_db_sse2;
    ops->gain_apply_db = s_gain_apply_db_sse2;
}
