/*  Fades: gain curves for fade-in and fade-out, sample-accurate.

    fade_gain (curve, x) is the fade-in gain at relative position x in
    [0, 1] (0 at the start of the fade, 1 at its end); a fade-out uses
    fade_gain (curve, 1 - x), so a fade-out and a fade-in of the same curve
    crossing over the same span sum to 1 in amplitude (linear, s-curve) or
    in power (equal-power). Every curve is exactly 0 at x = 0 and exactly
    1 at x = 1, and rises monotonically:

        linear        g = x
        exponential   g = (e^(k x) - 1) / (e^k - 1),  k = FADE_EXP_K
                      (slow start, fast end: linear in dB over most of it)
        logarithmic   g = ln (1 + (e^k - 1) x) / k    (the inverse curve:
                      fast start, slow end)
        s-curve       g = (1 - cos (pi x)) / 2        (raised cosine)
        equal-power   g = sin (pi x / 2)              (g_in^2 + g_out^2 = 1)

    Frame positions: a fade-in over n frames gives frame i the gain
    fade_gain (curve, i / n) (frame 0 silent, frame n the first untouched
    one); a fade-out over the last n frames gives its frame j the gain
    fade_gain (curve, 1 - (j + 1) / n) (the last frame silent).  */
#ifndef MF_FADE_H
#define MF_FADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/spec.h"

#define FADE_EXP_K   6.907755278982137    //  ln (1000): 60 dB of range

//  Fade-in gain of curve at x (clamped to [0, 1]); linear amplitude.
//  Unknown curves behave as linear.
double fade_gain (fade_curve_t curve, double x);

//  Parses "linear", "exponential", "logarithmic", "s_curve" ("s-curve",
//  "scurve") or "equal_power" ("equal-power"). Returns 0 or MF_ERR_INVALID.
int fade_curve_parse (const char *name, fade_curve_t *curve);

//  The curve's name as fade_curve_parse reads it.
const char *fade_curve_name (fade_curve_t curve);

//  Applies part of a fade to interleaved samples in place: data holds
//  frames frames of channels channels that sit at frames pos .. pos +
//  frames - 1 of a fade of length fade_frames (frames outside the fade
//  are left alone). fade_out selects the fade-out mapping above. Chunks
//  of any size give the same result as one call over the whole fade.
void fade_apply (float *data, size_t frames, int channels, fade_curve_t curve,
                 int64_t pos, int64_t fade_frames, bool fade_out);

//  Fades the first fade_frames frames of a whole buffer in and its last
//  fade_out_frames out (either may be 0; both are clamped to frames).
void fade_buffer (float *data, int64_t frames, int channels, fade_curve_t curve,
                  int64_t fade_in_frames, int64_t fade_out_frames);

//  The power the fades of fade_buffer leave on average over frames
//  from .. to - 1 of a track of frames frames: the mean of the squared
//  gain (1 outside the fades, frames past the track count as 1). What a
//  loudness meter's energy over that span becomes, for content of even
//  level within it. 1 for an empty span.
double fade_power_mean (fade_curve_t curve, int64_t frames, int64_t fade_in_frames,
                        int64_t fade_out_frames, int64_t from, int64_t to);

//  A crossfade's tail: the track before, under its equal-power gain out
//  (cos (pi/2 x) over xfade frames), at FADE_TAIL_SEGMENTS even levels
//  along the crossfade (seg_energy: mean squares; 0 for silence). The
//  mean over frames from .. to - 1 of the track that crossfades in (its
//  frame 0 the crossfade's first) of the tail's energy: 0 past the
//  crossfade, 0 for an empty span.
#define FADE_TAIL_SEGMENTS 8
double fade_tail_mean (const double *seg_energy, int64_t xfade, int64_t from, int64_t to);

#endif
