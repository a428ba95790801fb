/*  Album assembly and sequencing (DESIGN.md "The flow of one album",
    step 5): gaps, crossfades, fades, optional trim, the continuous album
    file, its CUE sheet and the per-track files as exact slices of it.

    Input tracks are mastered audio at the output rate in float (not yet
    quantised). The timeline is built in float, quantised once (dither for
    16-bit), then the album file and every slice are written from the same
    samples, so per-track files played back to back equal the album file.
    For the cd profile every index lies on a 588-sample frame (1/75 s),
    the first pregap is at least 2 s (a shorter first gap is lengthened),
    each track at least 4 s, at most 99.  */
#ifndef MF_ASSEMBLE_H
#define MF_ASSEMBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/album_layout.h"
#include "common/profile.h"
#include "common/spec.h"
#include "worker/audio_io.h"

//  Frames of leading and trailing near-silence in a (every channel below
//  threshold_db dBFS in absolute value). A wholly silent track gives 0
//  and 0 (nothing to keep otherwise).
void assemble_silence (const audio_t *a, double threshold_db, int64_t *lead, int64_t *trail);

//  The CUE sheet text for a layout (caller frees): CATALOG, PERFORMER,
//  TITLE, FILE "album.<ext>" WAVE, per track TRACK NN AUDIO, TITLE,
//  PERFORMER, ISRC, INDEX 00 (when there is a gap) and INDEX 01 in
//  mm:ss:ff at 75 frames per second (positions truncated to a CD frame;
//  exact on cd where they are 588-aligned). NULL on out of memory.
char *assemble_cue_text (const spec_album_t *album, const profile_t *profile,
                         const assemble_layout_t *layout, int rate_hz);

//  Builds the album from the mastered tracks and writes into out_dir:
//  "NN - <title>.<ext>" per track, "album.<ext>" and "album.cue".
//  Files are written atomically. Returns 0 or a negative error with err.
int assemble_album (const spec_album_t *album, const profile_t *profile,
                    const audio_t *tracks, size_t n_tracks, const char *out_dir,
                    assemble_layout_t *layout, char *err, size_t err_size);

//  The same for part of an album: numbers (NULL: 1..n_tracks) are the
//  tracks' numbers in the album spec, used in the file names and tags;
//  track_total (0: n_tracks) is the album's number of tracks, for the
//  TRACKTOTAL tag; whole false writes only the per-track files, without
//  album file and CUE sheet (a partial delivery).
int assemble_album_part (const spec_album_t *album, const profile_t *profile,
                         const audio_t *tracks, size_t n_tracks, const int *numbers,
                         int track_total, bool whole,
                         const char *out_dir, assemble_layout_t *layout,
                         char *err, size_t err_size);

//  Where assemble_album_stream reads the mastered tracks: open gives
//  track i's rate, channels and frames (info->data NULL), once per track
//  before any read; read puts frames [at, at + n) of track i into buf
//  (interleaved). Both return 0 or a negative error with err filled.
typedef struct {
    int  (*open) (void *arg, size_t i, audio_t *info, char *err, size_t err_size);
    int  (*read) (void *arg, size_t i, int64_t at, float *buf, int64_t n,
                  char *err, size_t err_size);
    void  *arg;
} assemble_source_t;

#define ASSEMBLE_PIECE  65536     //  frames built and written at a time, at least
#define ASSEMBLE_PIECE_HOPS  32   //  and at least this many 100 ms meter hops

//  assemble_album_part on tracks read through src in pieces: the memory
//  it holds does not grow with the album (two pieces, or a crossfade).
int assemble_album_stream (const spec_album_t *album, const profile_t *profile,
                           const assemble_source_t *src, size_t n_tracks, const int *numbers,
                           int track_total, bool whole, const char *out_dir,
                           assemble_layout_t *layout, char *err, size_t err_size);

#endif
