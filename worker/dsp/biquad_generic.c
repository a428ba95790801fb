/*  Biquad cascade kernel, plain C reference: transposed direct form II in
    double, frame by frame, every channel through every section, the
    signal kept in double between sections and rounded to float once.  */
#include "worker/dsp/dsp_ops.h"

//  See ops->biquad_run in dsp_ops.h for the contract and biquad.h for
//  the packed layout.
static void
s_biquad_run (float *buf, size_t frames, int channels, const double *coefs,
              int n_sections, double *state)
{
    const size_t ch = (size_t) channels;
    for (size_t i = 0; i < frames; i++) {
        float *f = buf + i * ch;
        for (size_t c = 0; c < ch; c++) {
            double x = f [c];
            for (int s = 0; s < n_sections; s++) {
                const double *k = coefs + 5 * s;
                double *s1 = state + (size_t) (2 * s) * ch + c;
                double *s2 = s1 + ch;
                double y = k [0] * x + *s1;
                *s1 = k [1] * x - k [3] * y + *s2;
                *s2 = k [2] * x - k [4] * y;
                x = y;
            }
            f [c] = (float) x;
        }
    }
}

void
biquad_fill_generic (dsp_ops_t *ops)
{
    ops->biquad_run = s_biquad_run;
}
