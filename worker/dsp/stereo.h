/*  Stereo width (mid/side) and mono bass.

    M = (L + R) / 2, S = (L - R) / 2; the side signal is scaled by width
    (0: mono, 1: unchanged, 2: twice as wide) and L = M + S', R = M - S'.

    Mono bass below mono_below_hz uses a fourth-order Linkwitz-Riley
    crossover (two cascaded second-order Butterworth sections, RBJ Audio EQ
    Cookbook biquads) on the side signal only: S' = width * HP_LR4 (S), so
    everything below the corner is mono. The mid signal goes through the
    crossover's matching all-pass, AP (z) = LP_LR4 (z) + HP_LR4 (z) (a
    second-order all-pass with Q = 1/sqrt 2), so mid and side keep the same
    phase above the corner and a signal with no side content is not
    changed in magnitude at any frequency. Filters run in double.

    With width 1 and mono_below_hz 0 the stage is the identity (and the
    chain skips it). Only stereo (2-channel) audio is processed; other
    channel counts pass unchanged.  */
#ifndef MF_DSP_STEREO_H
#define MF_DSP_STEREO_H

#include <stdbool.h>
#include <stddef.h>

#include "common/spec.h"

typedef struct stereo_s stereo_t;

//  A width/mono-bass stage for rate_hz. cfg->width must be 0 .. 2 and
//  cfg->mono_below_hz 0 (off) or 10 .. 0.45 * rate_hz. NULL on a bad
//  configuration or out of memory.
stereo_t *stereo_new (const stereo_cfg_t *cfg, int rate_hz);

//  Frees it; NULL-safe; sets *self_p to NULL.
void stereo_destroy (stereo_t **self_p);

//  True if the configuration changes nothing (width 1, no mono bass).
bool stereo_is_neutral (const stereo_cfg_t *cfg);

//  Processes frames interleaved stereo frames in place. Chunks of any size
//  give the same output as one block.
void stereo_process (stereo_t *self, float *lr, size_t frames);

//  Clears the filter state.
void stereo_reset (stereo_t *self);

#endif
