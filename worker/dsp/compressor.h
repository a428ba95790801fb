/*  Feed-forward, stereo-linked compressor with a soft knee, after
    D. Giannoulis, M. Massberg, J. D. Reiss, "Digital Dynamic Range
    Compressor Design - A Tutorial and Analysis", JAES 60(6), 2012:
    the log-domain design with the smooth branching peak detector placed
    after the gain computer.

    Per frame n (all channels share one gain):
        x_G  = 20 log10 (max over channels |x_c[n]|)    detector, dBFS
                                                        (floor COMPRESSOR_FLOOR_DB)
        y_G  = static curve (T = threshold_db, R = ratio, W = knee_db):
                 x_G                                    2 (x_G - T) <  -W
                 x_G + (1/R - 1)(x_G - T + W/2)^2/(2W)  2 |x_G - T| <=  W
                 T + (x_G - T) / R                      2 (x_G - T) >   W
        x_L  = x_G - y_G                                target reduction, dB >= 0
        y_L  = a_A y_L' + (1 - a_A) x_L   if x_L > y_L' (attack)
               a_R y_L' + (1 - a_R) x_L   otherwise     (release)
        gain = makeup_db - y_L                          applied to every channel

    Time constants: a = exp (-1 / (tau * rate_hz)) with tau = attack_ms or
    release_ms / 1000. So for a step of the target reduction, the smoothed
    reduction (in dB) covers 1 - 1/e (63.2 %) of the step after tau: the
    attack time is the time to reach 63.2 % of the final reduction, the
    release time the time to fall to 36.8 % of it.

    The per-frame detector level (ops->comp_level_db) and the gain
    application (ops->gain_apply_db) are SIMD kernels (compressor_*.c);
    the gain computer and the detector recursion are sequential and run
    here. Processing never allocates, locks or logs.  */
#ifndef MF_DSP_COMPRESSOR_H
#define MF_DSP_COMPRESSOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/spec.h"
#include "worker/dsp/dsp_ops.h"

#define COMPRESSOR_FLOOR_DB      (-200.0)   //  detector level of digital silence
#define COMPRESSOR_MAX_CHANNELS  8
#define COMPRESSOR_BLOCK_FRAMES  512        //  internal block: level and gain buffers

typedef struct compressor_s compressor_t;

//  Gain-reduction statistics of a dynamics processor since its creation
//  or last reset. Gain reduction is positive dB (0 = untouched) and
//  excludes makeup gain.
typedef struct {
    double   gr_max_db;         //  largest reduction
    double   gr_sum_db;         //  sum over frames (mean = gr_sum_db / frames)
    uint64_t frames;            //  frames counted
} dyn_stats_t;

//  The static curve: output level in dB for a steady input level in_db,
//  including makeup_db (y_G + makeup_db above). cfg->enabled is ignored.
double compressor_static_db (const comp_cfg_t *cfg, double in_db);

//  A compressor for channels (1 .. COMPRESSOR_MAX_CHANNELS) at rate_hz
//  (8000 .. 768000) with cfg (ranges of common/spec.h: threshold -60..0,
//  ratio 1..20, attack 0.1..500 ms, release 1..5000 ms, knee 0..24,
//  makeup -24..24). cfg->enabled is ignored (the caller decides whether
//  to run it). NULL on a value out of range or out of memory.
compressor_t *compressor_new (const comp_cfg_t *cfg, int rate_hz, int channels);

//  Frees the compressor; NULL-safe; sets *self_p to NULL.
void compressor_destroy (compressor_t **self_p);

//  Compresses frames frames of interleaved audio (frames * channels
//  floats) in place and adds to the statistics. No latency. Chunked calls
//  give the same output as one call.
void compressor_process (compressor_t *self, float *buf, size_t frames);

//  Reads the statistics.
void compressor_stats (const compressor_t *self, dyn_stats_t *stats);

//  Forgets the detector state and the statistics.
void compressor_reset (compressor_t *self);

//  Uses another kernel table (tests and benchmarks compare ISAs this way).
void compressor_set_ops (compressor_t *self, const dsp_ops_t *ops);

#endif
