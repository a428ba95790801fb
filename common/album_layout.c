/*  The album timeline (see album_layout.h): gaps, crossfades, trim and
    the Red Book rules of the cd profile, in frames.  */
#include "common/album_layout.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define CD_RATE_HZ          44100
#define CD_FRAME            588           //  samples per CD frame (1/75 s at 44.1 kHz)
#define CD_MAX_TRACKS       99
#define CD_MIN_PREGAP_S     2.0
#define CD_MIN_TRACK_S      4.0
#define CD_MAX_S            (80 * 60)     //  an 80-minute disc: 360,000 frames of 1/75 s

//  Rounds x to the nearest multiple of m (ties up).
static int64_t s_round_to (int64_t x, int64_t m) { return ((x + m / 2) / m) * m; }
//  Rounds x up to a multiple of m (x >= 0).
static int64_t s_ceil_to (int64_t x, int64_t m) { return ((x + m - 1) / m) * m; }

int64_t
assemble_frames (double seconds, int rate_hz)
{
    return seconds > 0.0 ? (int64_t) llround (seconds * rate_hz) : 0;
}

void
assemble_file_pads (const spec_album_t *album, bool cd, int rate_hz, size_t i,
                    int64_t *lead, int64_t *trail, int64_t *cut)
{
    *lead = *trail = *cut = 0;
    if (!album || i >= album->n_tracks)
        return;
    if (i == 0) {
        *lead = assemble_frames (album->tracks [0].s.gap_s, rate_hz);
        if (cd && *lead < assemble_frames (CD_MIN_PREGAP_S, rate_hz))
            *lead = assemble_frames (CD_MIN_PREGAP_S, rate_hz);
    }
    if (i + 1 >= album->n_tracks)
        return;
    *cut = assemble_frames (album->tracks [i].s.crossfade_s, rate_hz);
    if (*cut <= 0)
        *trail = assemble_frames (album->tracks [i + 1].s.gap_s, rate_hz);
}

const char *
assemble_album_title (const spec_album_t *album)
{
    return album && album->title ? album->title : "";
}

int
assemble_track_number (const spec_album_t *album, size_t i)
{
    return album->tracks [i].number > 0 ? album->tracks [i].number : (int) i + 1;
}

//  The album timeline from the tracks' lengths (frames at rate_hz, after
//  trim); 0, MF_ERR_INVALID with the rule broken, or MF_ERR_NOMEM.
int
assemble_layout (const spec_album_t *album, const profile_t *profile, int rate_hz,
                 const int64_t *track_frames, assemble_layout_t *layout,
                 char *err, size_t err_size)
{
    char scratch [8];
    err = mf_err_buffer (err, &err_size, scratch, sizeof scratch);
    memset (layout, 0, sizeof *layout);
    layout->album_lufs = NAN;
    layout->album_lra_lu = NAN;
    if (!album || !profile || !track_frames || rate_hz <= 0) {
        snprintf (err, err_size, "assemble: missing album, profile, lengths or rate");
        return MF_ERR_INVALID;
    }
    size_t n = album->n_tracks;
    bool cd = profile->cd;
    if (n == 0) {
        snprintf (err, err_size, "album \"%s\": no tracks to assemble", assemble_album_title (album));
        return MF_ERR_INVALID;
    }
    if (cd) {
        if (rate_hz != CD_RATE_HZ) {
            snprintf (err, err_size, "album \"%s\": cd needs 44100 Hz audio, got %d Hz", assemble_album_title (album), rate_hz);
            return MF_ERR_INVALID;
        }
        int rc = assemble_check_cd (album, NULL, err, err_size);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < n; i++)
        if (track_frames [i] <= 0) {
            snprintf (err, err_size, "album \"%s\" track %d: no audio (%lld frames)",
                      assemble_album_title (album), assemble_track_number (album, i), (long long) track_frames [i]);
            return MF_ERR_INVALID;
        }
    layout->tracks = calloc (n, sizeof *layout->tracks);
    if (!layout->tracks)
        return MF_ERR_NOMEM;
    layout->n_tracks = n;
    for (size_t i = 0; i < n; i++)
        layout->tracks [i].file_lufs = layout->tracks [i].file_lra_lu = NAN;

    int64_t pos = 0;          //  end of the previous track's audio
    for (size_t i = 0; i < n; i++) {
        assemble_track_t *t = &layout->tracks [i];
        const settings_t *s = &album->tracks [i].s;
        int64_t xf = i > 0 ? assemble_frames (album->tracks [i - 1].s.crossfade_s, rate_hz) : 0;
        int64_t gap = assemble_frames (s->gap_s, rate_hz);
        if (cd && i == 0 && gap < assemble_frames (CD_MIN_PREGAP_S, rate_hz))
            gap = assemble_frames (CD_MIN_PREGAP_S, rate_hz);       //  the disc's pregap
        t->audio_frames = track_frames [i];
        if (xf > 0) {
            if (xf > track_frames [i - 1] || xf > track_frames [i]) {
                snprintf (err, err_size, "album \"%s\" track %d: crossfade_s %.3f is longer than track %d or %d",
                          assemble_album_title (album), assemble_track_number (album, i - 1), album->tracks [i - 1].s.crossfade_s,
                          assemble_track_number (album, i - 1), assemble_track_number (album, i));
                assemble_layout_free (layout);
                return MF_ERR_INVALID;
            }
            t->xfade_in = xf;
            t->audio_start = pos - xf;
            t->start = cd ? s_round_to (t->audio_start, CD_FRAME) : t->audio_start;
            t->pregap = t->start;
        }
        else
        if (gap > 0) {
            t->audio_start = pos + gap;
            if (cd) {
                //  the silence absorbs the rounding: first sample on INDEX 01
                t->audio_start = s_round_to (pos + gap, CD_FRAME);
                if (t->audio_start < pos)
                    t->audio_start = s_ceil_to (pos, CD_FRAME);
            }
            t->start = t->audio_start;
            t->pregap = cd ? s_ceil_to (pos, CD_FRAME) : pos;
            if (t->pregap > t->start)
                t->pregap = t->start;
        }
        else {
            t->audio_start = pos;
            t->start = cd ? s_round_to (pos, CD_FRAME) : pos;
            t->pregap = t->start;
        }
        if (i > 0 && t->start <= layout->tracks [i - 1].start) {
            snprintf (err, err_size, "album \"%s\" track %d: starts where track %d does (too short after crossfade)",
                      assemble_album_title (album), assemble_track_number (album, i), assemble_track_number (album, i - 1));
            assemble_layout_free (layout);
            return MF_ERR_INVALID;
        }
        pos = t->audio_start + track_frames [i];
    }
    layout->total_frames = cd ? s_ceil_to (pos, CD_FRAME) : pos;
    if (cd && layout->total_frames > (int64_t) CD_MAX_S * CD_RATE_HZ) {
        long s = (long) (layout->total_frames / CD_RATE_HZ);
        snprintf (err, err_size, "album \"%s\": %ld:%02ld long with its gaps, an 80-minute CD "
                  "holds at most 80:00; make each disc of the set an album of its own, or "
                  "leave cd out of this album's profiles", assemble_album_title (album),
                  s / 60, s % 60);
        assemble_layout_free (layout);
        return MF_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        assemble_track_t *t = &layout->tracks [i];
        int64_t next = i + 1 < n ? layout->tracks [i + 1].start : layout->total_frames;
        t->length = next - t->start;
        t->slice_start = i == 0 ? 0 : t->start;
        t->slice_frames = next - t->slice_start;
        if (cd) {
            int64_t end = i + 1 < n ? layout->tracks [i + 1].pregap : layout->total_frames;
            if (end - t->start < (int64_t) (CD_MIN_TRACK_S * CD_RATE_HZ)) {
                snprintf (err, err_size, "album \"%s\" track %d: %.2f s long, Red Book (cd) needs at least 4 s per track",
                          assemble_album_title (album), assemble_track_number (album, i), (double) (end - t->start) / CD_RATE_HZ);
                assemble_layout_free (layout);
                return MF_ERR_INVALID;
            }
        }
    }
    return 0;
}

//  Red Book limits (track count, pregap, and with lengths every track's
//  length); 0 or MF_ERR_INVALID with the reason.
int
assemble_check_cd (const spec_album_t *album, const int64_t *track_frames,
                   char *err, size_t err_size)
{
    char scratch [8];
    err = mf_err_buffer (err, &err_size, scratch, sizeof scratch);
    if (!album || album->n_tracks == 0) {
        snprintf (err, err_size, "album \"%s\": no tracks", assemble_album_title (album));
        return MF_ERR_INVALID;
    }
    if (album->n_tracks > CD_MAX_TRACKS) {
        snprintf (err, err_size, "album \"%s\": %zu tracks, Red Book (cd) allows at most 99; split the album or drop the cd profile",
                  assemble_album_title (album), album->n_tracks);
        return MF_ERR_INVALID;
    }
    if (!track_frames)
        return 0;
    const profile_t *cdp = profile_get (PROFILE_CD);
    assemble_layout_t layout;
    int rc = assemble_layout (album, cdp, CD_RATE_HZ, track_frames, &layout, err, err_size);
    assemble_layout_free (&layout);
    return rc;
}

//  Frees the layout's arrays; NULL-safe.
void
assemble_layout_free (assemble_layout_t *layout)
{
    if (!layout)
        return;
    free (layout->tracks);
    layout->tracks = NULL;
    layout->n_tracks = 0;
    layout->total_frames = 0;
}

