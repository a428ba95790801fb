/*  Basic vector kernels, SSE2.  */
#include "worker/dsp/dsp_ops.h"

#include <emmintrin.h>
#include <math.h>

//  Largest absolute value, 4 lanes at a time; the tail in scalar code.
static float
s_abs_max_sse2 (const float *src, size_t n)
{
    const __m128 mask = _mm_castsi128_ps (_mm_set1_epi32 (0x7fffffff));
    __m128 m = _mm_setzero_ps ();
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        m = _mm_max_ps (m, _mm_and_ps (_mm_loadu_ps (src + i), mask));
    float lanes [4];
    _mm_storeu_ps (lanes, m);
    float r = lanes [0];
    for (int k = 1; k < 4; k++)
        if (lanes [k] > r)
            r = lanes [k];
    for (; i < n; i++)
        if (fabsf (src [i]) > r)
            r = fabsf (src [i]);
    return r;
}

//  dst = src * gain, 4 lanes at a time.
static void
s_scale_sse2 (float *dst, const float *src, float gain, size_t n)
{
    const __m128 g = _mm_set1_ps (gain);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps (dst + i, _mm_mul_ps (_mm_loadu_ps (src + i), g));
    for (; i < n; i++)
        dst [i] = src [i] * gain;
}

void
basic_fill_sse2 (dsp_ops_t *ops)
{
    ops->abs_max = s_abs_max_sse2;
    ops->scale = s_scale_sse2;
}
