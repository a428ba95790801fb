/*  Album assembly and sequencing (DESIGN.md "The flow of one album",
    step 5): gaps, crossfades, fades, optional trim, the continuous album
    file, its CUE sheet and the per-track files as exact slices of it.

    Input tracks are mastered audio at the output rate in float (not yet
    quantised). The timeline is built in float, quantised once (dither for
    16-bit), then the album file and every slice are written from the same
    samples, so per-track files played back to back equal the album file.
    For the cd profile every index lies on a 588-sample frame (1/75 s),
    the first pregap is at least 2 s, each track at least 4 s, at most 99.  */
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
} assemble_track_t;

typedef struct {
    int64_t           total_frames;
    assemble_track_t *tracks;     //  n_tracks (owned)
    size_t            n_tracks;
} assemble_layout_t;

//  Computes the timeline for the album's tracks (lengths in frames at
//  rate_hz, after trim). Checks Red Book limits when profile->cd. Returns
//  0, or MF_ERR_INVALID with the reason in err (which track, which rule).
int assemble_layout (const spec_album_t *album, const profile_t *profile, int rate_hz,
                     const int64_t *track_frames, assemble_layout_t *layout,
                     char *err, size_t err_size);

//  Builds the album from the mastered tracks and writes into out_dir:
//  "NN - <title>.<ext>" per track, "album.<ext>" and "album.cue".
//  Files are written atomically. Returns 0 or a negative error with err.
int assemble_album (const spec_album_t *album, const profile_t *profile,
                    const audio_t *tracks, size_t n_tracks, const char *out_dir,
                    assemble_layout_t *layout, char *err, size_t err_size);

//  Frees the layout's arrays; NULL-safe.
void assemble_layout_free (assemble_layout_t *layout);

#endif
