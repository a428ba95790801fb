/*  Codec-safe peaks: what a master's true peak becomes after the lossy
    round trip a streaming platform puts it through. The master is encoded
    in memory with each lossy codec libsndfile offers, decoded again, and
    the decoded audio's true peak is measured (ITU-R BS.1770-4 Annex 2,
    the worker's own 4x meter, worker/dsp/truepeak.h).

    Codecs, at the platform's typical stereo bitrate (profile_t's
    lossy_kbps: 160 for spotify and youtube, 256 for apple and amazon, 320
    for tidal):
      mp3     MPEG-1 Layer III (LAME), constant bitrate
      vorbis  Ogg Vorbis, the quality whose nominal rate is nearest
              (q 0.5 about 160 kbps, 0.8 about 256, 0.9 about 320)
      opus    Ogg Opus, 48 kHz, that bitrate
    The rate each stream really took (its bytes over its duration) is
    reported with its peak.
    A rate the codec cannot carry is resampled first (libsoxr): MP3 and
    Vorbis keep 44.1 and 48 kHz and take a hi-res master to the one of
    those in its family; Opus always runs at 48 kHz. A codec this build
    of libsndfile lacks is reported as unavailable, not as a failure.  */
#ifndef MF_CODEC_CHECK_H
#define MF_CODEC_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "common/results.h"
#include "worker/audio_io.h"

typedef struct {
    bool   available [CODEC_COUNT];       //  encoded and decoded
    double true_peak_dbtp [CODEC_COUNT];  //  of the decoded audio (when available)
    double kbps [CODEC_COUNT];            //  the stream's bitrate, measured
    char   why [CODEC_COUNT][96];         //  why not available
} codec_check_t;

//  Round-trips master through every codec at kbps (stereo) and measures. Returns 0 (out
//  filled; a codec that is missing or fails is marked unavailable), or
//  MF_ERR_NOMEM with err filled.
int codec_check_run (const audio_t *master, int kbps, codec_check_t *out, char *err,
                     size_t err_size);

//  The highest decoded true peak of the available codecs, -HUGE_VAL when
//  none is.
double codec_check_max_dbtp (const codec_check_t *check);

#endif
