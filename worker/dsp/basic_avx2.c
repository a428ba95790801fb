/*  Basic vector kernels, AVX2.  */
#include "worker/dsp/dsp_ops.h"

#include <immintrin.h>
#include <math.h>

//  Largest absolute value, 8 lanes at a time; the tail in scalar code.
static float
s_abs_max_avx2 (const float *src, size_t n)
{
    const __m256 mask = _mm256_castsi256_ps (_mm256_set1_epi32 (0x7fffffff));
    __m256 m = _mm256_setzero_ps ();
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_ps (m, _mm256_and_ps (_mm256_loadu_ps (src + i), mask));
    float lanes [8];
    _mm256_storeu_ps (lanes, m);
    float r = lanes [0];
    for (int k = 1; k < 8; k++)
        if (lanes [k] > r)
            r = lanes [k];
    for (; i < n; i++)
        if (fabsf (src [i]) > r)
            r = fabsf (src [i]);
    return r;
}

//  dst = src * gain, 8 lanes at a time.
static void
s_scale_avx2 (float *dst, const float *src, float gain, size_t n)
{
    const __m256 g = _mm256_set1_ps (gain);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps (dst + i, _mm256_mul_ps (_mm256_loadu_ps (src + i), g));
    for (; i < n; i++)
        dst [i] = src [i] * gain;
}

void
basic_fill_avx2 (dsp_ops_t *ops)
{
    ops->abs_max = s_abs_max_avx2;
    ops->scale = s_scale_avx2;
}
