/*  FLAC files, and an album file joined from its tracks' encoded frames.

    flac_out: one file at a preset level. The fixed-predictor presets (0
    to 2, the streaming profiles') are coded by flac_enc.h's encoder, the
    presets with linear prediction by libFLAC's stream encoder. Either
    way the header (STREAMINFO, the tags as a Vorbis comment block, then
    padding) is written by libFLAC before the audio, and the STREAMINFO's
    sizes, sample count and MD5 of the samples are completed when the
    file is finished (the MD5 made here; with an album's, the two side by
    side over the same bytes). Samples are float on the output
    grid: x * 2^(bits-1) rounded to nearest, clipped to the word, as
    libsndfile converts them, so the decoded samples are the same.

    flac_join: the album file of a streaming profile. Its track files,
    played back to back, are the album file (assemble.c), and a FLAC frame
    depends on no other frame. So the album's frames are the tracks'
    frames, in order, their headers rewritten: instead of encoding every
    sample a second time, the join copies each frame as the track's
    encoder writes it. A track's last frame is short, so the album is a
    variable block size stream (RFC 9639, section 9.1.1: each frame header
    carries its first sample's number), unless every track but the last
    is a whole number of blocks (then fixed, with frame numbers). What is
    rewritten per frame: the blocking strategy bit, the coded number, the
    header's CRC-8 and the frame's CRC-16; the subframes are copied as
    they are. The STREAMINFO is the join's own: block and frame size
    bounds, the sample count, and the MD5 of all the samples, fed to it by
    the tracks' writers.

    Joining needs frames of at least 16 samples before the last (RFC 9639
    asks it, and decoders rely on it): flac_join_fits says whether a set
    of track lengths allows it; when it does not, the album is encoded as
    a file of its own.  */
#ifndef MF_FLAC_OUT_H
#define MF_FLAC_OUT_H

#include "worker/audio_io.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct flac_out_s flac_out_t;
typedef struct flac_join_s flac_join_t;

//  Frames per FLAC block at libFLAC's preset level (0..8) for this rate,
//  channels and bits; 0 if libFLAC cannot encode them.
int flac_block_frames (int level, int rate_hz, int channels, int bits);

//  Creates path (replaced if there) for rate_hz, channels and bits (16 or
//  24) at preset level (0..8; -1: 5), with tags (copied; NULL: none).
//  Returns 0, or MF_ERR_IO / MF_ERR_UNSUPPORTED / MF_ERR_INVALID (a tag
//  that is not UTF-8) / MF_ERR_NOMEM with err filled.
int flac_out_open (const char *path, int rate_hz, int channels, int bits, int level,
                   const audio_tags_t *tags, flac_out_t **out, char *err, size_t err_size);

//  Every frame the file gets from now on, and its samples, go to join too.
void flac_out_join (flac_out_t *out, flac_join_t *join);

//  Appends frames (interleaved float). Returns 0 or MF_ERR_IO with err.
int flac_out_write (flac_out_t *out, const float *data, int64_t frames,
                    char *err, size_t err_size);

//  Finishes the file (its last frame, then its STREAMINFO) and closes it.
//  Returns 0 or MF_ERR_IO with err; NULL-safe. The file is left in place
//  either way (the caller removes a failed one).
int flac_out_close (flac_out_t **out, char *err, size_t err_size);

//  True when tracks of these lengths (frames, in album order) can be
//  joined with frames of block frames: every track but the last ends on
//  a whole block or on a last block of at least 16 frames.
bool flac_join_fits (const int64_t *lengths, size_t n, int block);

//  Creates path for the joined album (rate, channels and bits of its
//  tracks, tags copied); fixed: every track but the last is whole blocks
//  (frame numbers), else sample numbers. Returns 0 or flac_out_open's
//  errors.
int flac_join_open (const char *path, int rate_hz, int channels, int bits,
                    const audio_tags_t *tags, bool fixed, flac_join_t **join,
                    char *err, size_t err_size);

//  Writes the STREAMINFO and closes the file. Returns 0, or MF_ERR_IO
//  (a write failed, or a frame that could not be joined, named in err);
//  NULL-safe. The file is left in place either way.
int flac_join_close (flac_join_t **join, char *err, size_t err_size);

#endif
