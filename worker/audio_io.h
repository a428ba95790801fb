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
#include "worker/samples.h"

#define AUDIO_MAX_CHANNELS   8
#define AUDIO_MIN_RATE_HZ    8000
#define AUDIO_MAX_RATE_HZ    384000
#define AUDIO_ERR_LEN        512

typedef struct {
    float  *data;          //  interleaved samples, frames * channels (owned;
                           //  from samples.h's allocator or malloc)
    int64_t frames;        //  per channel
    int     channels;      //  1 .. AUDIO_MAX_CHANNELS
    int     rate_hz;
    int     bits;          //  source word size: 8, 16, 24, 32; 0 for float/compressed
    bool    is_float;      //  source was floating point
    char    format [48];   //  "WAV PCM 24-bit", "FLAC 16-bit", ...
} audio_t;

//  What a written file says about itself. FLAC gets Vorbis comments
//  (TITLE, ARTIST, ALBUM, ALBUMARTIST, TRACKNUMBER, TRACKTOTAL,
//  DISCNUMBER, ISRC, BARCODE, DATE, GENRE, COMMENT) through libFLAC's
//  metadata interface; WAV gets the RIFF INFO chunk libsndfile writes
//  (INAM, IART, IPRD, ITRK, ICRD, IGNR, ICMT), AIFF its NAME, AUTH and
//  ANNO chunks. Fields a container has no place for (ISRC, BARCODE,
//  ALBUMARTIST, TRACKTOTAL, DISCNUMBER in WAV and AIFF) are left out,
//  except the ISRC, which goes into the comment ("ISRC=...") there when
//  no comment is given.
typedef struct {
    const char *title;     //  NULL: not written
    const char *artist;
    const char *album;
    const char *album_artist;
    const char *isrc;      //  12 characters, CCXXXYYNNNNN
    const char *barcode;   //  UPC/EAN, 12 or 13 digits
    const char *date;      //  "YYYY" or "YYYY-MM-DD"
    const char *genre;
    int         track_number;  //  0: not written
    int         track_total;   //  0: not written
    int         disc_number;   //  0: not written
    const char *comment;
} audio_tags_t;

//  Reads a whole file into memory. Checks that it opens, has 1..8 channels,
//  a rate of 8 kHz .. 384 kHz, at least one frame, and no NaN or infinite
//  sample. Returns 0, or MF_ERR_IO (cannot open/read), MF_ERR_FORMAT (not
//  audio, truncated, bad samples), MF_ERR_UNSUPPORTED (channels or rate),
//  MF_ERR_NOMEM; on failure err holds "PATH: reason" and *out is untouched.
int audio_read (const char *path, audio_t *out, char *err, size_t err_size);

//  The same, from a file already open at fd (e.g. by fsutil_open_beneath);
//  name is used in messages. fd stays open: the caller closes it.
int audio_read_fd (int fd, const char *name, audio_t *out, char *err, size_t err_size);

//  The same, from bytes in memory (inline storage); name is used in messages.
int audio_read_mem (const void *bytes, size_t size, const char *name,
                    audio_t *out, char *err, size_t err_size);

//  A source to be read again as it was read (master_opts_t.reload): from
//  bytes (size of them) when not NULL, else from fd when not -1 (the
//  caller's, left open), else from the file name. audio_again_mark takes
//  the file's status before its first read.
typedef struct {
    const void *bytes;
    size_t      size;
    int         fd;
    const char *name;
    bool        marked;
    int64_t     dev, ino, length, mtime_ns;     //  its status (what a write moves)
} audio_again_t;

//  Takes the status of the file of again (nothing for bytes). Returns 0,
//  or MF_ERR_IO with err.
int audio_again_mark (audio_again_t *again, char *err, size_t err_size);

//  The source of again (an audio_again_t) read again from its start, as
//  audio_read: when a file is another one, or its size or modification
//  time are not those marked (a chmod is no change), MF_ERR_IO with
//  "NAME: changed while it was being mastered" instead. Fits
//  master_opts_t.reload.
int audio_read_again (void *again, audio_t *out, char *err, size_t err_size);

//  A file read once, start to end, in pieces into the caller's buffer:
//  what streams through (the analysis) takes memory for one piece, not
//  the track. The frames and the errors are those of audio_read: reads
//  stop at the header's count or where the data ends (a truncated file
//  yields what is there), and samples that are not integer PCM are
//  checked for NaN and infinity piece by piece.
typedef struct audio_seq_s audio_seq_t;

//  Opens the file at fd for a read from its start (name in messages; fd
//  stays the caller's, to close after audio_seq_close) or the file at
//  path (opened and closed here). info gets channels, rate, format and
//  in frames the header's count (a claim: at most that many come),
//  info->data NULL. Returns 0 or the errors of audio_read on the header
//  with err filled; on failure *seq is NULL.
int audio_seq_open_fd (int fd, const char *name, audio_t *info, audio_seq_t **seq,
                       char *err, size_t err_size);
int audio_seq_open (const char *path, audio_t *info, audio_seq_t **seq,
                    char *err, size_t err_size);

//  Reads up to max_frames frames into buf (interleaved, room for
//  max_frames * channels floats). Returns the frames read, 0 at the end,
//  or MF_ERR_FORMAT with err filled ("PATH: sample N of channel C is NaN;
//  the file is corrupt", or no frame could be read at all).
int64_t audio_seq_read (audio_seq_t *seq, float *buf, int64_t max_frames,
                        char *err, size_t err_size);

//  Closes the read (and the file, when audio_seq_open opened it); NULL-safe.
void audio_seq_close (audio_seq_t **seq);

//  A file read at any position in pieces (seekable formats: the album
//  stage reads mastered tracks this way, a piece at a time).
typedef struct audio_stream_s audio_stream_t;

//  Opens the file at fd (name in messages; fd stays the caller's, to close
//  after audio_stream_close) or the bytes in memory (kept by the caller
//  while the stream is open). info gets channels, rate, format and frames
//  (the frames the file holds: a header count larger than the data is cut
//  to the data), info->data NULL. Returns 0 or the errors of audio_read
//  with err filled.
int audio_stream_open_fd (int fd, const char *name, audio_stream_t **stream, audio_t *info,
                          char *err, size_t err_size);
int audio_stream_open_mem (const void *bytes, size_t size, const char *name,
                           audio_stream_t **stream, audio_t *info, char *err, size_t err_size);

//  Reads frames [at, at + n) into buf (interleaved). Returns 0, or
//  MF_ERR_FORMAT (short, NaN or infinite samples) / MF_ERR_INVALID (out of
//  range) with err filled.
int audio_stream_read (audio_stream_t *stream, int64_t at, float *buf, int64_t n,
                       char *err, size_t err_size);

//  Closes the stream; NULL-safe.
void audio_stream_close (audio_stream_t **stream);

//  A file written in pieces: open, write any number of times, close.
typedef struct audio_writer_s audio_writer_t;

//  Creates path for rate_hz and channels in format with bits, as
//  audio_write (tags: WAV and AIFF take them here, FLAC copies them);
//  flac_level 0..8 is libFLAC's preset (-1: its default, 5).
//  Returns 0 or audio_write's errors with err filled.
int audio_writer_open (const char *path, int rate_hz, int channels, out_format_t format,
                       int bits, int flac_level, const audio_tags_t *tags,
                       audio_writer_t **writer, char *err, size_t err_size);

//  A FLAC writer's frames and samples also go to join (flac_out.h: the
//  album file made of its tracks' frames); other formats ignore it.
typedef struct flac_join_s flac_join_t;
void audio_writer_join (audio_writer_t *writer, flac_join_t *join);

//  Appends frames. Returns 0 or MF_ERR_IO with err filled.
int audio_writer_write (audio_writer_t *writer, const float *data, int64_t frames,
                        char *err, size_t err_size);

//  Finishes the file (a FLAC file's tags are written before its audio,
//  its STREAMINFO completed here). Returns 0 or MF_ERR_IO with err;
//  NULL-safe. The file is
//  left in place either way (the caller removes a failed one).
int audio_writer_close (audio_writer_t **writer, char *err, size_t err_size);

//  Writes audio to path in format with bits (16, 24, or 32 for float WAV)
//  and tags where the format carries them. Samples are clipped to [-1, 1)
//  by libsndfile's float-to-int conversion (clipping enabled); callers
//  that must not clip limit and dither first. Returns 0, MF_ERR_IO,
//  MF_ERR_UNSUPPORTED, or (FLAC tags) MF_ERR_INVALID for a tag that is not
//  UTF-8 and MF_ERR_NOMEM, with err filled.
int audio_write (const char *path, const audio_t *audio, out_format_t format,
                 int bits, const audio_tags_t *tags, char *err, size_t err_size);

//  The same with the FLAC encoder's preset (see audio_writer_open).
int audio_write_level (const char *path, const audio_t *audio, out_format_t format,
                       int bits, int flac_level, const audio_tags_t *tags,
                       char *err, size_t err_size);

//  Writes audio to path as a 24-bit PCM WAV with no tags, in one pass,
//  and gives the SHA-256 of the bytes written (hex): the file libsndfile
//  writes for it (audio_write), byte for byte, without reading it back
//  to hash it. Mono or stereo, under 4 GiB of samples; MF_ERR_UNSUPPORTED
//  (nothing written) otherwise, for audio_write to take. Returns 0,
//  MF_ERR_UNSUPPORTED or MF_ERR_IO with err filled.
int audio_write_wav24_sha (const char *path, const audio_t *audio, char *sha_hex,
                           char *err, size_t err_size);

//  Frees the samples (heap or spilled, see samples.h); NULL-safe; leaves
//  the struct zeroed.
void audio_free (audio_t *audio);

#endif
