/*  A generated, music-like test mix for the mastering tests and the
    benchmark: a bass line and three-note chords with harmonics, a kick
    (pitch-dropping sine burst) on every beat at 120 BPM, hi-hat noise
    bursts on the eighths, a quiet noise bed, a louder chorus section and
    slight stereo differences. Integrated loudness about -20 LUFS, sample
    peaks about -3 dBFS, crest factor like an unmastered mix. Deterministic
    for a seed.  */
#ifndef MF_MASTER_MIX_H
#define MF_MASTER_MIX_H

#include <stdint.h>

#include "worker/audio_io.h"

//  Fills a (allocated here, free with audio_free) with seconds of the mix
//  at rate_hz with channels (1 or 2).
void master_mix_generate (audio_t *a, double seconds, int rate_hz, int channels,
                          uint64_t seed);

//  Adds n bursts of a sine at freq_hz, each burst_s long (5 ms raised-
//  cosine edges) with peak amplitude peak, the same on every channel,
//  evenly spaced over the signal (burst k centred at (k + 0.5) / n of
//  its length): clicks or near-Nyquist content in an otherwise clean
//  mix.
void master_mix_add_bursts (audio_t *a, int n, double burst_s, double freq_hz, double peak);

#endif
