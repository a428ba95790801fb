/*  Tonal-match EQ: a 1/3-octave gain curve (MEASURE_BANDS values in dB at
    the ISO 266 centres of common/measure.h) realised as a filter.

    The curve between centres is interpolated linearly in dB over log2
    frequency, and held flat below the first and above the last centre
    (tonal_eq_curve_db). Three realisations:

      TONAL_EQ_LINEAR    linear-phase FIR: the curve sampled on a grid of
                         G bins (G = 2^k, about 0.37 s of audio: 16384 at
                         44.1/48 kHz), zero phase, inverse FFT, centred and
                         Blackman-windowed to G + 1 taps (group delay G/2);
                         the curve is then pre-compensated at the centres by
                         the error the window leaves there and the design
                         repeated (up to 6 times, until within 0.01 dB).
      TONAL_EQ_MINIMUM   minimum-phase FIR with the same magnitude, from
                         the folded real cepstrum (Oppenheim and Schafer,
                         "Discrete-Time Signal Processing", homomorphic
                         method) on a 4x finer grid, truncated to G + 1
                         taps with a half-Hann fade on the last eighth.
      TONAL_EQ_BIQUAD    a cascade of RBJ peaking sections, one per band
                         centre below 0.45 rate_hz, Q = 4.32 (1/3 octave);
                         gains solved by least squares (then refined) so
                         that the cascade's magnitude at every centre
                         equals the curve. No latency.

    The FIRs run as FFT overlap-add (fftw3f, FFTW_ESTIMATE plans so that
    results are deterministic) in blocks of 3G frames (FFTs of 4G points); streaming output is
    delayed by tonal_eq_latency_frames (block + filter delay), and
    tonal_eq_run compensates it for a whole buffer. Accuracy: the magnitude
    at every band centre is within TONAL_EQ_TOL_DB of the curve for curves
    whose neighbouring bands differ by at most 3 dB (tested; the
    planner's smoothing keeps real corrections well inside that).  */
#ifndef MF_DSP_TONAL_EQ_H
#define MF_DSP_TONAL_EQ_H

#include <stdbool.h>
#include <stddef.h>

#include "common/measure.h"

#define TONAL_EQ_MAX_DB    24.0     //  |band gain| accepted
#define TONAL_EQ_TOL_DB    0.1      //  magnitude error at the band centres

typedef enum { TONAL_EQ_LINEAR = 0, TONAL_EQ_MINIMUM, TONAL_EQ_BIQUAD } tonal_eq_mode_t;

typedef struct tonal_eq_s tonal_eq_t;

//  The interpolated curve at freq_hz (see above), dB.
double tonal_eq_curve_db (const double *band_db, double freq_hz);

//  True if every band is within 0.001 dB of 0 (the stage can be skipped).
bool tonal_eq_is_flat (const double *band_db);

//  A tonal EQ for band_db (MEASURE_BANDS values, each finite and within
//  +-TONAL_EQ_MAX_DB) at rate_hz (8000 .. 768000) for channels (1 .. 8).
//  NULL on bad arguments or out of memory. Thread-safe (FFTW planning is
//  serialised internally).
tonal_eq_t *tonal_eq_new (const double *band_db, tonal_eq_mode_t mode, int rate_hz,
                          int channels);

//  Frees it; NULL-safe; sets *self_p to NULL.
void tonal_eq_destroy (tonal_eq_t **self_p);

//  Streaming latency in frames: output frame j carries input frame
//  j - latency. 0 for TONAL_EQ_BIQUAD.
int tonal_eq_latency_frames (const tonal_eq_t *self);

//  Streams frames interleaved frames from src to dst, delayed by the
//  latency. dst may equal src or lie before it in the same buffer.
//  Never allocates. Chunked calls give the same output as one call.
void tonal_eq_process (tonal_eq_t *self, float *dst, const float *src, size_t frames);

//  Resets, then filters the whole buffer in place with the latency
//  compensated (output aligned with the input, same length; the filter
//  tail past the end is cut). Never allocates.
void tonal_eq_run (tonal_eq_t *self, float *buf, size_t frames);

//  Zeroes the state.
void tonal_eq_reset (tonal_eq_t *self);

//  The realised filter's magnitude at freq_hz, dB (from its taps or
//  sections, evaluated directly).
double tonal_eq_response_db (const tonal_eq_t *self, double freq_hz);

#endif
