/*  True-peak oversampler, plain C reference (ITU-R BS.1770-4 Annex 2:
    polyphase FIR interpolation, peak of the absolute interpolated value).  */
#include "worker/dsp/dsp_ops.h"

#include <math.h>

//  For every input sample and every phase, the FIR output; returns max |y|.
static float
s_tp_block_max (const float *x, size_t n, const float *coef, int phases, int taps)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++)
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

//  Per input sample, max |y| over the phases.
static void
s_tp_peaks (const float *x, size_t n, const float *coef, int phases, int taps,
            float *peak)
{
    for (size_t i = 0; i < n; i++) {
        float m = 0.0f;
        for (int p = 0; p < phases; p++) {
            const float *c = coef + (size_t) p * taps;
            float y = 0.0f;
            for (int k = 0; k < taps; k++)
                y += c [k] * x [(ptrdiff_t) i - k];
            if (fabsf (y) > m)
                m = fabsf (y);
        }
        peak [i] = m;
    }
}

//  Puts the reference tp kernels into the table.
void
tp_fill_generic (dsp_ops_t *ops)
{
    ops->tp_block_max = s_tp_block_max;
    ops->tp_peaks = s_tp_peaks;
}
