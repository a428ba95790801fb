/*  Audio file input and output through libsndfile.

    Audio in memory is 32-bit float, interleaved, frames x channels. Any
    format libsndfile reads is accepted on input. Errors are reported as one
    line a person can act on ("FILE: what is wrong"), in the caller's buffer.  */
#ifndef MF_AUDIO_IO_H
#define MF_AUDIO_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/profile.h"

#define AUDIO_MAX_CHANNELS   8
#define AUDIO_MIN_RATE_HZ    8000
#define AUDIO_MAX_RATE_HZ    384000
#define AUDIO_ERR_LEN        512

typedef struct {
    float  *data;          //  interleaved samples, frames * channels (owned)
    int64_t frames;        //  per channel
    int     channels;      //  1 .. AUDIO_MAX_CHANNELS
    int     rate_hz;
    int     bits;          //  source word size: 8, 16, 24, 32; 0 for float/compressed
    bool    is_float;      //  source was floating point
    char    format [48];   //  "WAV PCM 24-bit", "FLAC 16-bit", ...
} audio_t;

typedef struct {
    const char *title;     //  NULL: not written
    const char *artist;
    const char *album;
    const char *isrc;
    int         track_number;  //  0: not written
    const char *comment;
} audio_tags_t;

//  Reads a whole file into memory. Checks that it opens, has 1..8 channels,
//  a rate of 8 kHz .. 384 kHz, at least one frame, and no NaN or infinite
//  sample. Returns 0, or MF_ERR_IO (cannot open/read), MF_ERR_FORMAT (not
//  audio, truncated, bad samples), MF_ERR_UNSUPPORTED (channels or rate),
//  MF_ERR_NOMEM; on failure err holds "PATH: reason" and *out is untouched.
int audio_read (const char *path, audio_t *out, char *err, size_t err_size);

//  The same, from bytes in memory (inline storage); name is used in messages.
int audio_read_mem (const void *bytes, size_t size, const char *name,
                    audio_t *out, char *err, size_t err_size);

//  Writes audio to path in format with bits (16, 24, or 32 for float WAV)
//  and tags where the format carries them. Samples are clipped to [-1, 1)
//  by libsndfile's float-to-int conversion (clipping enabled); callers
//  that must not clip limit and dither first. Returns 0, MF_ERR_IO or
//  MF_ERR_UNSUPPORTED with err filled.
int audio_write (const char *path, const audio_t *audio, out_format_t format,
                 int bits, const audio_tags_t *tags, char *err, size_t err_size);

//  Frees the samples; NULL-safe; leaves the struct zeroed.
void audio_free (audio_t *audio);

#endif
