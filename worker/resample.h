/*  Sample-rate conversion with libsoxr at very high quality (SOXR_VHQ:
    passband to about 0.91 of the lower Nyquist frequency, stopband
    attenuation about 175 dB, linear phase), float interleaved.

    Whole buffer (resample_audio) or chunked (resample_new / _process):
    both give exactly round (in_frames * out_rate / in_rate) output frames
    in total, time-aligned with the input (libsoxr compensates its own
    filter delay; the tail is flushed and the length trimmed or zero-padded
    to that exact count). libsoxr runs single-threaded here, so results are
    deterministic. Equal rates copy the samples unchanged.  */
#ifndef MF_RESAMPLE_H
#define MF_RESAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/audio_io.h"

typedef struct resample_s resample_t;

//  round (in_frames * out_rate_hz / in_rate_hz), exactly (integer maths).
int64_t resample_out_frames (int64_t in_frames, int in_rate_hz, int out_rate_hz);

//  A converter for channels (1 .. AUDIO_MAX_CHANNELS) interleaved channels
//  between rates of AUDIO_MIN_RATE_HZ .. AUDIO_MAX_RATE_HZ. NULL on bad
//  arguments or when libsoxr cannot be set up (out of memory).
resample_t *resample_new (int channels, int in_rate_hz, int out_rate_hz);

//  Frees it; NULL-safe; sets *self_p to NULL.
void resample_destroy (resample_t **self_p);

//  Feeds in_frames interleaved frames (all of them are consumed) and
//  writes at most out_cap frames to out. When last is true no more input
//  follows: call again with in_frames 0 and last true until it returns 0
//  to drain the tail. Returns the frames written (>= 0) or MF_ERR_INTERNAL
//  if libsoxr fails. Give out_cap >= resample_out_frames (in_frames) + 64
//  so that no input call needs more room than given.
int64_t resample_process (resample_t *self, const float *in, size_t in_frames,
                          bool last, float *out, size_t out_cap);

//  Converts a whole buffer to out_rate_hz into out (allocated; free with
//  audio_free; format and bits copied from in). Returns 0, MF_ERR_UNSUPPORTED
//  (rate out of range; err says which), MF_ERR_NOMEM or MF_ERR_INTERNAL.
int resample_audio (const audio_t *in, int out_rate_hz, audio_t *out,
                    char *err, size_t err_size);

//  resample_audio that takes in's samples: in is emptied (audio_free)
//  whatever the outcome, and its samples are given back to the kernel as the
//  conversion passes them, so that input and output together hold about
//  one copy of the longer of the two, not both whole.
int resample_audio_take (audio_t *in, int out_rate_hz, audio_t *out, char *err,
                         size_t err_size);

#endif
