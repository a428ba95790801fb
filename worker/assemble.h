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

#include "common/profile.h"
#include "common/spec.h"
#include "worker/audio_io.h"

typedef struct {
    int64_t start;        //  first frame of the track's slice in the album (INDEX 01)
    int64_t pregap;       //  first frame of its gap (INDEX 00); == start when no gap
    int64_t length;       //  frames in the slice (to the next track's INDEX 01)
    int64_t trim_lead;    //  frames trimmed from the source start
    int64_t trim_trail;   //  frames trimmed from the source end
    int64_t audio_start;  //  album frame of the track's first (trimmed) source frame;
                          //  on cd gapless or crossfaded tracks start is this
                          //  rounded to the nearest 588-frame boundary
    int64_t audio_frames; //  source frames placed (after trim)
    int64_t xfade_in;     //  frames overlapped with the previous track (0: none)
    int64_t slice_start;  //  first frame of the per-track file: start, except
                          //  track 1 whose file also holds the pregap (0)
    int64_t slice_frames; //  frames in the per-track file (to the next start)
} assemble_track_t;

typedef struct {
    int64_t           total_frames;
    assemble_track_t *tracks;     //  n_tracks (owned)
    size_t            n_tracks;
    double            album_lufs;     //  integrated loudness of the album file as
                                      //  written (BS.1770-4); NAN until written
    double            album_lra_lu;   //  its loudness range (EBU Tech 3342)
} assemble_layout_t;

//  Computes the timeline for the album's tracks (lengths in frames at
//  rate_hz, after trim). Checks Red Book limits when profile->cd. Returns
//  0, or MF_ERR_INVALID with the reason in err (which track, which rule).
int assemble_layout (const spec_album_t *album, const profile_t *profile, int rate_hz,
                     const int64_t *track_frames, assemble_layout_t *layout,
                     char *err, size_t err_size);

//  Red Book check the broker can run at submit time: 1..99 tracks and,
//  when track_frames
//  (lengths at 44.1 kHz after trim) is not NULL, the whole layout
//  including every track at least 4 s from its INDEX 01 to the next
//  track's INDEX 00 (or the end). Returns 0, or MF_ERR_INVALID with the
//  reason (which track, which rule) in err.
int assemble_check_cd (const spec_album_t *album, const int64_t *track_frames,
                       char *err, size_t err_size);

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

#define ASSEMBLE_PIECE  65536     //  frames built and written at a time

//  assemble_album_part on tracks read through src in pieces: the memory
//  it holds does not grow with the album (two pieces, or a crossfade).
int assemble_album_stream (const spec_album_t *album, const profile_t *profile,
                           const assemble_source_t *src, size_t n_tracks, const int *numbers,
                           int track_total, bool whole, const char *out_dir,
                           assemble_layout_t *layout, char *err, size_t err_size);

//  Frees the layout's arrays; NULL-safe.
void assemble_layout_free (assemble_layout_t *layout);

#endif
