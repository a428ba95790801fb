/*  Biquad filters: RBJ Audio EQ Cookbook designs (R. Bristow-Johnson,
    "Cookbook formulae for audio EQ biquad filter coefficients"),
    Butterworth cascades for the subsonic high-pass and the Linkwitz-Riley
    crossovers, the analytic magnitude response, and a cascade object that
    filters interleaved audio in place.

    A section is H(z) = (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2)
    (normalised so that a0 = 1). It runs as transposed direct form II in
    double precision:

        y  = b0 x + s1
        s1 = b1 x - a1 y + s2
        s2 = b2 x - a2 y

    Between the sections of a cascade the signal stays in double; it is
    rounded to float once, at the output of the last section.

    Packed layout the kernels (ops->biquad_run) take:

        coefs  [5 * n_sections]             state  [2 * channels * n_sections]
        +----+----+----+----+----+          +------------------+------------------+
        | b0 | b1 | b2 | a1 | a2 | sec 0    | s1[ch 0..ch C-1] | s2[ch 0..ch C-1] | sec 0
        +----+----+----+----+----+          +------------------+------------------+
        | b0 | b1 | b2 | a1 | a2 | sec 1    | s1[ch 0..ch C-1] | s2[ch 0..ch C-1] | sec 1
        +----+----+----+----+----+          +------------------+------------------+

    so that a SIMD kernel loads the state of adjacent channels as one
    vector (channels in lanes).  */
#ifndef MF_DSP_BIQUAD_H
#define MF_DSP_BIQUAD_H

#include <stddef.h>

#include "common/spec.h"
#include "worker/dsp/dsp_ops.h"

#define BIQUAD_MAX_SECTIONS  64     //  sections per cascade
#define BIQUAD_MAX_CHANNELS  8

typedef struct {
    double b0, b1, b2;          //  feed-forward, normalised by a0
    double a1, a2;              //  feedback, normalised by a0 (a0 = 1)
} biquad_coefs_t;

typedef struct biquad_chain_s biquad_chain_t;

//  Designs one RBJ section of type at freq_hz (centre or corner) for
//  rate_hz. gain_db is used by peak and shelves (ignored by high/low-pass).
//  q is the quality factor for peak and high/low-pass, and the shelf slope
//  S for shelves (S = 1: steepest without overshoot). Returns 0, or
//  MF_ERR_INVALID when freq_hz is not in (0, rate_hz / 2), q <= 0, a value
//  is not finite, or a shelf's slope is too steep for its gain (the
//  cookbook's alpha would be imaginary); coefs is untouched on failure.
int biquad_design (eq_type_t type, double freq_hz, double gain_db, double q,
                   double rate_hz, biquad_coefs_t *coefs);

//  Designs the second-order allpass (RBJ APF) at freq_hz with quality q:
//  the phase of a Linkwitz-Riley LR4 pair (q = 1/sqrt 2) is this allpass.
//  Returns 0 or MF_ERR_INVALID as biquad_design.
int biquad_design_allpass (double freq_hz, double q, double rate_hz,
                           biquad_coefs_t *coefs);

//  Designs a Butterworth high-pass (type EQ_HIGHPASS) or low-pass
//  (EQ_LOWPASS) of even order (2, 4, 6 or 8) as order / 2 cascaded
//  sections (bilinear transform prewarped at freq_hz, so the cascade is
//  exactly -3.01 dB at freq_hz). coefs has room for order / 2 sections.
//  Returns the number of sections written, or MF_ERR_INVALID.
int biquad_design_butterworth (eq_type_t type, int order, double freq_hz,
                               double rate_hz, biquad_coefs_t *coefs);

//  Analytic magnitude, in dB, of n cascaded sections at freq_hz for
//  rate_hz (the product of |H(e^jw)|). -HUGE_VAL at an exact zero.
double biquad_response_db (const biquad_coefs_t *coefs, int n, double freq_hz,
                           double rate_hz);

//  A cascade of n_sections (1 .. BIQUAD_MAX_SECTIONS; 0 is allowed and
//  passes audio through) over channels (1 .. BIQUAD_MAX_CHANNELS), state
//  zeroed, kernels from dsp_ops (). NULL on bad arguments or out of memory.
biquad_chain_t *biquad_chain_new (const biquad_coefs_t *coefs, int n_sections,
                                  int channels);

//  Frees the cascade; NULL-safe; sets *self_p to NULL.
void biquad_chain_destroy (biquad_chain_t **self_p);

//  Filters frames frames of interleaved audio (frames * channels floats)
//  in place. Never allocates. Chunked calls give the same output as one.
void biquad_chain_process (biquad_chain_t *self, float *buf, size_t frames);

//  Zeroes the filter state (as newly created).
void biquad_chain_reset (biquad_chain_t *self);

//  Replaces the coefficients (same number of sections), keeping the state.
//  Returns 0 or MF_ERR_INVALID if n_sections differs.
int biquad_chain_set_coefs (biquad_chain_t *self, const biquad_coefs_t *coefs,
                            int n_sections);

//  Number of sections and channels.
int biquad_chain_sections (const biquad_chain_t *self);
int biquad_chain_channels (const biquad_chain_t *self);

//  Uses another kernel table (tests and benchmarks compare ISAs this way).
void biquad_chain_set_ops (biquad_chain_t *self, const dsp_ops_t *ops);

#endif
