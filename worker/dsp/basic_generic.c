/*  Basic vector kernels, plain C reference.  */
#include "worker/dsp/dsp_ops.h"

#include <math.h>

//  Largest absolute value of n samples.
static float
s_abs_max (const float *src, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf (src [i]);
        if (a > m)
            m = a;
    }
    return m;
}

//  dst = src * gain.
static void
s_scale (float *dst, const float *src, float gain, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst [i] = src [i] * gain;
}

void
basic_fill_generic (dsp_ops_t *ops)
{
    ops->abs_max = s_abs_max;
    ops->scale = s_scale;
}
