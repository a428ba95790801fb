/*  The mastering chain of DESIGN.md ("The mastering chain"), as an
    ordered pipeline of switchable stages over interleaved float audio:

        1 subsonic high-pass     Butterworth, order 2 or 4 (biquad.h)
        2 parametric EQ          RBJ peak / shelves / high- and low-pass
        3 tonal-match EQ         1/3-octave curve (tonal_eq.h, linear phase)
        4 multiband compressor   LR4 three-band (multiband.h)
        5 glue compressor        stereo-linked, soft knee (compressor.h)
        6 stereo width, mono bass (stereo.h; stereo input only)
        7 gain                   static, dB
        8 limiter                lookahead true-peak limiter (limiter.h)

    The glue compressor's threshold may be relative to the track's
    loudness (the dynamics presets of common/spec.h): the caller measures
    the input and resolves it (chain_resolve_dynamics) before chain_new.

    Stages 1-6 are the "pre-gain" part: master.c runs them once per track
    and then repeats only gain and limiter inside the loudness loop. A
    stage is off when its configuration makes it the identity (highpass_hz
    0, no EQ bands, a flat or absent tonal curve, multiband / compressor
    disabled, width 1 without mono bass, gain 0 dB, limiter disabled);
    with every stage off the chain copies its input exactly.

    Latency: the tonal EQ (FFT overlap-add) and the limiter (lookahead)
    delay their output; chain_process streams with that delay
    (chain_latency_frames), chain_run and chain_run_pre compensate it for
    a whole buffer. Chunks of any size give the same output as one block.  */
#ifndef MF_CHAIN_H
#define MF_CHAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/measure.h"
#include "common/spec.h"
#include "worker/dsp/compressor.h"

typedef struct chain_s chain_t;

typedef struct {
    dyn_stats_t compressor;          //  glue compressor
    dyn_stats_t multiband [3];       //  low, mid, high
    dyn_stats_t limiter;
} chain_stats_t;

//  Resolves a level-aware (relative) glue compressor threshold against
//  the loudness of the audio it will see (loudness_lufs, BS.1770
//  integrated, of the chain's input): threshold_db = loudness_lufs +
//  threshold_lu, held within -60 .. 0 dBFS, and relative cleared. With no
//  measurable loudness (silence) the compressor is switched off: there is
//  nothing for it to act on. Anything else in cfg is left as it is.
void chain_resolve_dynamics (chain_cfg_t *cfg, double loudness_lufs);

//  Builds the chain for cfg at rate_hz with channels (1 .. 8). tonal_db
//  (MEASURE_BANDS values, dB) or NULL switches the tonal EQ. ceiling_dbtp
//  is the limiter's ceiling when cfg->limiter.ceiling_dbtp is NAN. Checks
//  what depends on the rate (EQ and crossover frequencies below 0.45 *
//  rate_hz). A relative compressor threshold must have been resolved
//  (chain_resolve_dynamics). Returns NULL with one line in err naming the
//  stage and the value on a bad configuration or out of memory.
chain_t *chain_new (const chain_cfg_t *cfg, const double *tonal_db, double ceiling_dbtp,
                    int rate_hz, int channels, char *err, size_t err_size);

//  Frees it; NULL-safe; sets *self_p to NULL.
void chain_destroy (chain_t **self_p);

//  True if every stage of cfg (and the tonal curve, NULL meaning none) is
//  off, so that the chain is the identity.
bool chain_is_neutral (const chain_cfg_t *cfg, const double *tonal_db);

//  Streaming latency of the whole chain and of its pre-gain part, frames.
int chain_latency_frames (const chain_t *self);
int chain_pre_latency_frames (const chain_t *self);

//  Streams frames interleaved frames through every stage in place; the
//  output is delayed by chain_latency_frames. Never allocates.
void chain_process (chain_t *self, float *buf, size_t frames);

//  Resets, then runs every stage over a whole buffer in place, latency
//  compensated (aligned output, same length). Never allocates.
void chain_run (chain_t *self, float *buf, size_t frames);

//  Resets, then runs stages 1-6 only over a whole buffer, aligned.
void chain_run_pre (chain_t *self, float *buf, size_t frames);

//  Clears every stage's state and statistics.
void chain_reset (chain_t *self);

//  Gain-reduction statistics since the last reset.
void chain_stats (const chain_t *self, chain_stats_t *stats);

#endif
