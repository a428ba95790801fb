/*  True-peak meter: oversampled peak of a multichannel signal, after
    ITU-R BS.1770-4 Annex 2 (polyphase FIR interpolation, then the largest
    absolute interpolated value, reported in dBTP).

    Oversampling factor by sample rate (as DESIGN.md and the issue ask):
        rate_hz <  88200            4x   (44.1 / 48 kHz and below)
        88200 <= rate_hz < 176400   2x   (88.2 / 96 kHz)
        rate_hz >= 176400           1x   (the signal is already dense)

    The interpolator is a windowed-sinc low-pass (Kaiser window), cut off
    at the input Nyquist frequency, split into `phases` polyphase branches
    of `taps` coefficients each (TRUEPEAK_TAPS per branch at 4x,
    TRUEPEAK_TAPS_2X at 2x; see truepeak.c for the design). The prototype
    is a Nyquist filter: branch 0 is a pure delay, so every input sample
    is itself one of the interpolated values and the reading is never
    below the sample peak. Each branch is normalised to unit DC gain.

    Latency: the interpolated value of branch p computed when input sample
    i arrives lies at time (i - delay_frames + p / phases), in input
    samples, where delay_frames = taps / 2 (8 at 4x, 12 at 2x, 0 at 1x).

    Two ways to use it:
      - the meter: truepeak_new / truepeak_process / truepeak_max_dbtp.
        Processing in chunks of any size gives exactly the same result as
        one block. The reading includes the filter's tail, as if the
        signal were followed by silence, without changing the state. A
        chunk whose sample peak times the filter's gain bound cannot
        exceed the maximum so far is not interpolated (the same reading).
      - the limiter's detector: truepeak_peaks (interleaved, per frame max
        over channels) or truepeak_peaks_channel (one channel), writing a
        per-input-sample envelope peak_out[i] = max over phases of |y| of
        the interpolated values at times (i - delay_frames) + [0, 1).
        These also update the meter's maximum.
      Every channel's history is one state: feed each channel's samples
      once, in order, through whichever entry point.

    Kernels: ops->tp_block_max and ops->tp_peaks from worker/dsp/dsp_ops.h
    (generic, SSE2, AVX2+FMA), run on branches 1 .. phases-1 only; branch
    0, an exact delay, is the delayed sample itself (same result, less
    work). Processing never allocates, locks or logs.  */
#ifndef MF_DSP_TRUEPEAK_H
#define MF_DSP_TRUEPEAK_H

#include <stddef.h>

#define TRUEPEAK_TAPS         16     //  taps per polyphase branch at 4x
#define TRUEPEAK_TAPS_2X      24     //  taps per polyphase branch at 2x
#define TRUEPEAK_MAX_TAPS     24
#define TRUEPEAK_MAX_PHASES   4
#define TRUEPEAK_MAX_CHANNELS 8

typedef struct truepeak_s truepeak_t;

//  The interpolation filter for one sample rate (static storage, built
//  once, thread-safe). coef holds phases * taps floats, branch p at
//  coef[p * taps .. p * taps + taps - 1], coef[p * taps + k] multiplying
//  x[i - k]: exactly the layout ops->tp_block_max / ops->tp_peaks take.
typedef struct {
    int          phases;        //  oversampling factor: 1, 2 or 4
    int          taps;          //  coefficients per branch (1 at 1x)
    int          delay_frames;  //  group delay in input samples (taps / 2; 0 at 1x)
    const float *coef;          //  phases * taps coefficients
} truepeak_filter_t;

//  Returns the filter used at rate_hz (> 0), or NULL for rate_hz <= 0.
const truepeak_filter_t *truepeak_filter (int rate_hz);

//  Kaiser window at t in [-1, 1] with shape beta, normalised to
//  1 at t = 0: I0 (beta sqrt (1 - t^2)) / I0 (beta). Shared by the filter
//  designs here and in tp_check.c.
double truepeak_kaiser (double t, double beta);

//  A meter for channels (1 .. TRUEPEAK_MAX_CHANNELS) at rate_hz
//  (8000 .. 768000). NULL on bad arguments or out of memory.
truepeak_t *truepeak_new (int rate_hz, int channels);

//  Frees the meter; NULL-safe; sets *self_p to NULL.
void truepeak_destroy (truepeak_t **self_p);

//  Splits frames interleaved stereo frames into left and right (the
//  meters' one pass over the source, four frames at a time).
void truepeak_split_stereo (const float *interleaved, size_t frames, float *restrict left,
                            float *restrict right);

//  Accumulates frames frames of interleaved samples (frames * channels
//  floats). frames may be 0.
void truepeak_process (truepeak_t *self, const float *interleaved, size_t frames);

//  Per-frame detector for a limiter: as truepeak_process, and for every
//  input frame i writes peak_out[i], the largest |interpolated value|
//  over all channels and phases at times (i - delay_frames) + [0, 1),
//  linear (1.0 = full scale). peak_out has frames floats.
void truepeak_peaks (truepeak_t *self, const float *interleaved, size_t frames,
                     float *peak_out);

//  The same for one channel (0 .. channels-1) from a mono buffer; updates
//  that channel's history and the meter maximum.
void truepeak_peaks_channel (truepeak_t *self, int channel, const float *mono,
                             size_t frames, float *peak_out);

//  Largest true peak so far over all channels, in dBTP (20 log10 of the
//  linear peak), including the filter tail of what was fed; -HUGE_VAL if
//  everything was silent.
double truepeak_max_dbtp (truepeak_t *self);

//  The same for one channel (0 .. channels-1); -HUGE_VAL if silent.
double truepeak_channel_dbtp (truepeak_t *self, int channel);

//  Group delay of the interpolator in input frames (see above).
int truepeak_delay_frames (const truepeak_t *self);

//  Forgets history and maxima, as if newly created.
void truepeak_reset (truepeak_t *self);

#endif
