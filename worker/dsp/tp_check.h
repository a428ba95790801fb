/*  Accurate true-peak check for delivered masters: the peak of the
    band-limited reconstruction of the samples, read closely enough to
    decide whether a file respects its ceiling as meters with a finer grid
    and a wider passband than the project's 4x meter read it (FFmpeg's
    ebur128 filter resamples to 192 kHz; SoX's 16x VHQ resampler; an
    ideal sinc reconstruction).

    Why: the 4x meter (truepeak.h, 16 taps per branch) is cheap and is
    the limiter's detector, but content near the Nyquist frequency reads
    low on it, from two causes: its passband falls off above ~15 kHz at
    44.1 kHz, and a 4x grid can miss a peak by up to 20 log10 cos (pi/8)
    = 0.69 dB at the Nyquist frequency. Noise with a rising spectral tilt
    read 0.4 dB under an ideal reconstruction.

    How (two stages, per channel):
      1. screen: the 4x meter's per-sample envelope (ops->tp_peaks with
         the truepeak.h filter: exactly the meter's values) gives for every
         interval [j, j+1) between input samples the largest 4x
         interpolated value in it; its maximum is the own reading;
      2. refine: every interval whose envelope is at or above
         floor_dbtp - TP_CHECK_SCREEN_DB is read again on an 8x grid
         with a long interpolator (TP_CHECK_TAPS input samples per
         branch, Kaiser-windowed sinc cut off at the Nyquist frequency,
         see tp_check.c), and the largest grid point is refined by a
         parabola through it and its two neighbours (the residual for a
         sine at the Nyquist frequency is under 0.005 dB).
    Intervals below the screen keep their 4x reading, so the answer is
    accurate wherever it matters for the floor: a reading under
    floor_dbtp - TP_CHECK_SCREEN_DB may be low by as much as the 4x meter
    is. With floor_dbtp = -HUGE_VAL every interval is refined (a full
    accurate meter). On limited masters the 4x envelope lay within 0.5 dB
    of the refined reading, on limited noise with a rising tilt (content
    up to the Nyquist frequency) within 1.6 dB: the screen keeps 2 dB.

    The signal is taken as preceded and followed by silence: the readings
    include the interpolator's head and tail, as truepeak.h's does.

    Cost: the screen is at most the 4x meter's own cost, and much less
    on limited masters: an exact pre-screen from the sample peaks and
    steps skips the 4x kernel where it provably cannot reach the screen
    nor raise the readings (same results, see tp_check.c); the
    refinement costs about TP_CHECK_TAPS * 8 multiply-adds per refined
    interval, so it depends on how much of the signal lies near the
    ceiling.  */
#ifndef MF_DSP_TP_CHECK_H
#define MF_DSP_TP_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_CHECK_PHASES      8      //  grid of the refinement (8x)
#define TP_CHECK_TAPS        128    //  input samples per refinement branch
#define TP_CHECK_SCREEN_DB   2.0    //  intervals this close to the floor are refined

//  What one check found. dBTP values are -HUGE_VAL for silence.
typedef struct {
    double  own_dbtp;               //  the 4x meter's reading (truepeak.h)
    double  true_peak_dbtp;         //  accurate reading where refined, 4x elsewhere:
                                    //  max over intervals (the check's answer)
    int64_t refined;                //  intervals read on the 8x grid (all channels)
    int64_t intervals;              //  intervals screened (all channels), by the
                                    //  4x envelope or by the pre-screen's bound
} tp_check_result_t;

//  Checks frames frames of interleaved audio (channels 1 .. 8, rate_hz
//  8000 .. 768000) against floor_dbtp (normally the ceiling: what reads
//  below floor_dbtp - TP_CHECK_SCREEN_DB on the 4x meter is not refined;
//  -HUGE_VAL refines everything). Fills *result. Returns 0, or
//  MF_ERR_INVALID for arguments out of range, MF_ERR_NOMEM when out of
//  memory (result then holds +HUGE_VAL readings, so a caller that
//  ignores the code still sees "over").
int tp_check_run (const float *interleaved, int64_t frames, int channels, int rate_hz,
                  double floor_dbtp, tp_check_result_t *result);

//  An interval [frame, frame + 1) between input samples whose accurate
//  reading is over a limit: its highest over the channels, linear.
typedef struct {
    int64_t frame;
    float   peak;
} tp_over_t;

//  tp_check_run that also lists, in frame order, every interval whose
//  accurate reading is above floor_dbtp, and every interval reading
//  above hf_floor_dbtp (from floor_dbtp - TP_CHECK_SCREEN_DB to
//  floor_dbtp) more than hf_excess_db over the 4x meter's envelope:
//  content near the Nyquist frequency, which meters read furthest apart
//  (the 4x meter lowest; this check's interpolator, half way down at the
//  Nyquist frequency, low; meters with a wider passband higher). Into
//  *overs (allocated, the caller frees it; NULL when none), their count
//  into *n_overs: where a signal is over, for corrections made where it
//  happens. Returns as tp_check_run, or MF_ERR_INVALID for hf_floor_dbtp
//  out of its range.
int tp_check_overs (const float *interleaved, int64_t frames, int channels, int rate_hz,
                    double floor_dbtp, double hf_floor_dbtp, double hf_excess_db,
                    tp_over_t **overs, size_t *n_overs, tp_check_result_t *result);

//  tp_check_run with the sample-peak pre-screen (tp_check.c) on or off.
//  Off is the reference: the 4x kernel on every screen block; on gives
//  the same result, bit for bit (tests compare them). *bounded (NULL:
//  not wanted) receives the intervals (all channels) that the
//  pre-screen settled without the 4x kernel. For tests and benchmarks;
//  returns as tp_check_run.
int tp_check_run_ex (const float *interleaved, int64_t frames, int channels, int rate_hz,
                     double floor_dbtp, bool prescreen, int64_t *bounded,
                     tp_check_result_t *result);

//  The accurate true peak of the whole signal in dBTP (every interval
//  refined); +HUGE_VAL on bad arguments or out of memory, -HUGE_VAL for
//  silence.
double tp_check_max_dbtp (const float *interleaved, int64_t frames, int channels,
                          int rate_hz);

//  A check fed in pieces, for a signal that is rendered piece by piece
//  and never held whole: the same readings (and, with list, the same
//  overs as tp_check_overs, limits as there) as the whole-signal calls on
//  the concatenation of the pieces, bit for bit. frames is the signal's
//  whole length, known in advance. It holds about TP_CHECK_CHUNK frames
//  plus the largest piece fed. NULL on arguments out of range or out of
//  memory.
typedef struct tp_stream_s tp_stream_t;
tp_stream_t *tp_stream_new (int64_t frames, int channels, int rate_hz, double floor_dbtp,
                            double hf_floor_dbtp, double hf_excess_db, bool list);

//  Frees the check; NULL-safe; sets *self_p to NULL.
void tp_stream_destroy (tp_stream_t **self_p);

//  Feeds the next frames frames (interleaved). Returns 0, MF_ERR_NOMEM,
//  or MF_ERR_INVALID when the pieces run past the length given; a failure
//  sticks (finish returns it).
int tp_stream_feed (tp_stream_t *self, const float *interleaved, int64_t frames);

//  Ends the check once every frame has been fed: the readings into
//  *result and, when listed and overs is not NULL, the overs into *overs
//  (the caller frees it) and their count into *n_overs. Returns 0,
//  the first failure of a feed, or MF_ERR_INVALID when fewer frames than
//  the length came; result then holds +HUGE_VAL readings.
int tp_stream_finish (tp_stream_t *self, tp_check_result_t *result, tp_over_t **overs,
                      size_t *n_overs);

#endif
