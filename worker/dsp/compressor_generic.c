/*  Dynamics kernels, plain C reference: the stereo-linked detector level
    in dBFS and the per-frame gain in dB applied to every channel.  */
#include "worker/dsp/dsp_ops.h"
#include "worker/dsp/compressor.h"

#include <math.h>

//  level_db[i] = 20 log10 (max_c |x|), floored at COMPRESSOR_FLOOR_DB.
static void
s_comp_level_db (const float *buf, size_t frames, int channels, float *level_db)
{
    const double floor_lin = 1e-10;     //  10^(COMPRESSOR_FLOOR_DB / 20)
    for (size_t i = 0; i < frames; i++) {
        const float *f = buf + i * (size_t) channels;
        float m = 0.0f;
        for (int c = 0; c < channels; c++)
            if (fabsf (f [c]) > m)
                m = fabsf (f [c]);
        level_db [i] = m > floor_lin ? (float) (20.0 * log10 ((double) m))
                                     : (float) COMPRESSOR_FLOOR_DB;
    }
}

//  buf *= 10^(gain_db / 20), one gain per frame.
static void
s_gain_apply_db (float *buf, size_t frames, int channels, const float *gain_db)
{
    for (size_t i = 0; i < frames; i++) {
        float g = (float) pow (10.0, (double) gain_db [i] / 20.0);
        float *f = buf + i * (size_t) channels;
        for (int c = 0; c < channels; c++)
            f [c] *= g;
    }
}

void
compressor_fill_generic (dsp_ops_t *ops)
{
    ops->comp_level_db = s_comp_level_db;
    ops->gain_apply_db = s_gain_apply_db;
}
