/*  An in-process test album: 8 (or n) music-like tracks that differ on
    purpose, as real mixes do, by up to 12 LU in integrated loudness and
    up to +-6 dB/decade in spectral tilt, and the spec_album_t that
    describes them (settings filled here, not by the spec parser).

    A track is a sum of partials spaced 1/6 octave from 40 Hz to 16 kHz
    (a pink-ish bed, -3 dB/octave, each partial with its own slow
    amplitude motion), kick-like low bursts on a 120 bpm grid and a
    melody of harmonic notes, all deterministic for a seed. The tilt is
    applied to every component around 1 kHz. Each track is scaled so that
    its BS.1770-4 integrated loudness (libebur128) is its planned level.  */
#ifndef MF_ALBUM_FIXTURE_H
#define MF_ALBUM_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "common/spec.h"
#include "worker/audio_io.h"

#define ALBUM_FIXTURE_MAX   16

typedef struct {
    size_t       n;
    audio_t      audio [ALBUM_FIXTURE_MAX];     //  float, rate_hz, stereo
    double       lufs [ALBUM_FIXTURE_MAX];      //  integrated loudness as generated
    double       tilt_db [ALBUM_FIXTURE_MAX];   //  dB per decade around 1 kHz
    spec_album_t album;                         //  points into tracks/strings below
    spec_track_t tracks [ALBUM_FIXTURE_MAX];
    char         titles [ALBUM_FIXTURE_MAX][32];
    char         paths [ALBUM_FIXTURE_MAX][48];
    char         isrcs [ALBUM_FIXTURE_MAX][32];
} album_fixture_t;

//  Neutral album settings: policy album at -14 LUFS, -1 dBTP, tonal off,
//  chain stages off except dither and the limiter, gaps 2 s, no fades,
//  fade curve equal power, no trim.
void album_fixture_settings (settings_t *s);

//  One track: seconds long at rate_hz, stereo float, tilt in dB/decade,
//  scaled to level_lufs. Deterministic for seed. Aborts on OOM.
void album_fixture_track (audio_t *out, double seconds, int rate_hz, double tilt_db,
                          double level_lufs, uint64_t seed);

//  n tracks (1 .. ALBUM_FIXTURE_MAX) of 6 to 10 s at rate_hz: loudness
//  spread evenly over -9 .. -21 LUFS and tilt over -6 .. +6 dB/decade,
//  each in its own shuffled order; titles, paths, ISRCs and an UPC.
void album_fixture_make (album_fixture_t *f, size_t n, int rate_hz, uint64_t seed);

//  Integrated loudness of audio (libebur128), LUFS.
double album_fixture_lufs (const audio_t *a);

//  Frees the audio.
void album_fixture_free (album_fixture_t *f);

#endif
