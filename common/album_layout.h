/*  The album timeline: where every track of an album lies in the album
    file (gaps, crossfades, trim) and the cd profile's Red Book rules (588-
    frame CD frames, a 2 s first pregap, tracks of at least 4 s, at most 99
    tracks). Pure arithmetic on the spec and the tracks' lengths, shared by
    the album stage (worker/assemble.h), which builds the album on it, and
    the broker, which checks the Red Book rules at submit and reads the
    layout an assembly returns.  */
#ifndef MF_ALBUM_LAYOUT_H
#define MF_ALBUM_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/profile.h"
#include "common/spec.h"

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
    double  file_lufs;    //  the per-track file as written: integrated loudness
    double  file_lra_lu;  //  (BS.1770-4) and loudness range; NAN until written
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
//  when track_frames (lengths at 44.1 kHz: after trim at the plan, from
//  the headers at submit) is not NULL, the whole layout
//  including every track at least 4 s from its INDEX 01 to the next
//  track's INDEX 00 (or the end) and the whole programme, pregap and gaps
//  included, within 80:00 (an 80-minute disc). Returns 0, or MF_ERR_INVALID with the
//  reason (which track, which rule) in err.
int assemble_check_cd (const spec_album_t *album, const int64_t *track_frames,
                       char *err, size_t err_size);

//  Frees the layout's arrays; NULL-safe.
void assemble_layout_free (assemble_layout_t *layout);

//  Seconds to frames at rate_hz, rounded to the nearest (0 for <= 0).
int64_t assemble_frames (double seconds, int rate_hz);

//  The silence track i's per-track file holds around its audio, in frames
//  at rate_hz, as assemble_layout places it: before it, track 1's pregap
//  (at least 2 s on cd); after it, the next track's gap. Where it
//  crossfades into the next track there is none, and its file ends where
//  the crossfade starts: *cut is the frames of its audio the next track's
//  file holds. The master lands the file, silence and fades included, on
//  its plan. Within a CD frame (588 frames) of the layout's, which rounds.
void assemble_file_pads (const spec_album_t *album, bool cd, int rate_hz, size_t i,
                         int64_t *lead, int64_t *trail, int64_t *cut);

//  The album's title for messages ("" when none).
const char *assemble_album_title (const spec_album_t *album);

//  The spec's number of the album's i-th track (its place in the spec,
//  also when the album is a sub-list of it), for messages.
int assemble_track_number (const spec_album_t *album, size_t i);

#endif
