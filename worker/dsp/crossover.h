/*  Three-band Linkwitz-Riley crossover whose bands sum to an allpass.

    Each split is LR4: two cascaded 2nd-order Butterworth sections
    (Q = 1/sqrt 2) for the low-pass and the same for the high-pass, both at
    the split frequency (S. Linkwitz, "Active crossover networks for
    non-coincident drivers", JAES 1976; Linkwitz-Riley alignment). An LR4
    pair sums to the 2nd-order allpass AP(f) with Q = 1/sqrt 2:
    LP4 + HP4 = (1 + s^4) / D(s)^2 = D(-s) / D(s), D(s) = s^2 + sqrt2 s + 1,
    which the bilinear transform keeps exactly. The three bands are

        low  = AP(high_hz) . LP4(low_hz)  x      (allpass compensation)
        mid  = LP4(high_hz) . HP4(low_hz) x
        high = HP4(high_hz) . HP4(low_hz) x

    so low + mid + high = AP(high_hz) . AP(low_hz) x: flat magnitude, only
    phase changes. Filters run in double (biquad kernels).  */
#ifndef MF_DSP_CROSSOVER_H
#define MF_DSP_CROSSOVER_H

#include <stddef.h>

#include "worker/dsp/biquad.h"

typedef struct crossover_s crossover_t;

//  A crossover at low_hz < high_hz (both in (0, rate_hz / 2)) for
//  channels (1 .. BIQUAD_MAX_CHANNELS). NULL on bad arguments or out of
//  memory.
crossover_t *crossover_new (double low_hz, double high_hz, double rate_hz, int channels);

//  Frees the crossover; NULL-safe; sets *self_p to NULL.
void crossover_destroy (crossover_t **self_p);

//  Splits frames frames of interleaved audio (frames * channels floats)
//  into the three band buffers (each frames * channels floats). in may
//  be the same buffer as one of the bands; the bands must not overlap
//  each other. Never allocates.
void crossover_process (crossover_t *self, const float *in, float *low, float *mid,
                        float *high, size_t frames);

//  Zeroes the filter state.
void crossover_reset (crossover_t *self);

//  The analytic magnitude in dB of band (0 low, 1 mid, 2 high) at freq_hz,
//  and of the sum of the three bands (band 3), from the designed sections.
double crossover_response_db (const crossover_t *self, int band, double freq_hz);

//  Uses another kernel table (tests and benchmarks).
void crossover_set_ops (crossover_t *self, const dsp_ops_t *ops);

#endif
