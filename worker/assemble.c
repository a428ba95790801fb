/*  Album assembly: the timeline (gaps, crossfades, fades, trim), the
    continuous album file, its CUE sheet and the per-track files cut from
    the very same quantised samples.

    Timeline. Track i's gap (gap_s, silence before it) runs from its
    INDEX 00 (pregap) to its INDEX 01 (start); the first track's gap is
    the disc pregap. A crossfade (crossfade_s on track i) overlaps the end
    of track i with the start of track i+1 by that many frames, equal
    power (gains sin and cos of pi/2 x, so the powers sum to 1); the next
    track's gap is then ignored and its boundary (INDEX 01) is at its
    first sample, the start of the overlap: what is heard from the
    boundary on belongs to the new track. Fades (fade_in_s, fade_out_s,
    fade_curve) act on the track's own audio, after trim, using
    common/fade.h.

    Channels. A mono track in a stereo album is copied to both channels:
    its loudness is dual-mono throughout (ITU-R BS.1770: a mono channel
    played on two loudspeakers), so the copy reads what its master read.
    cd is two-channel (Red Book): a mono album goes out as dual mono.
    Any other mix of channel counts is refused (the broker refuses it at
    submit already).

    Slices. Track i's file holds frames [start_i, start_i+1): its audio
    and the following track's gap; the first file also holds the pregap
    (from frame 0), so the files played back to back are the album file.

    cd (Red Book, IEC 60908): 44.1 kHz; every index on a 588-frame
    boundary (1/75 s). A gap's silence is lengthened or shortened by less
    than 294 frames so the track's first sample lies exactly on its
    INDEX 01; gapless and crossfaded boundaries keep the audio continuous
    and round the index to the nearest frame boundary. The album is
    padded with silence to a whole number of CD frames. The disc's pregap
    (the first track's gap) is at least 2 s: a shorter gap_s before track
    1 (0 is usual for the streaming profiles) is lengthened to 2 s on the
    cd album only. Limits: 1..99 tracks, each track >= 4 s (INDEX 01 to
    the next INDEX 00). A spec breaking them is refused with the reason
    and the fix.
    The pregap is silence in the album file (INDEX 00 at 00:00:00, INDEX
    01 at 00:02:00 or later), not a CUE PREGAP command: the album file and
    the track files are then the whole programme of the disc, and no
    burner or DDP tool has to add the silence.

    Quantisation happens once, on the whole album: samples already on the
    output grid (24-bit masters, silence) are kept bit for bit; frames off
    it are quantised (TPDF dither, noise-shaped when chain.noise_shaping,
    for 16-bit when chain.dither; rounding otherwise) with a generator
    seeded from the album and started again at each track's file, so a
    re-run writes the same bytes and a track's file does not change when
    another track does. Frames off
    the grid: a 16-bit profile's masters, which come in 24 bits so that
    their only dither is this one, whatever fades, crossfades or gain
    after the limiter act on them; and on 24 bits, what fades,
    crossfades and that gain moved. Overlaps whose equal-power sum would
    exceed the true-peak ceiling are brought under it by a smooth gain
    dip.

    Memory. The album is never held whole: the tracks are read through an
    assemble_source_t, and the timeline is built, quantised (the dither
    carrying on from piece to piece), measured and written a few seconds at
    a time (a crossfade in one piece, so that its peak is known
    before it is written), to the album file and to the slice the piece
    belongs to at once. What it holds is two pieces, whatever the
    album's length.

    FLAC. The album file of a FLAC profile is not encoded a second time:
    its frames are the track files' frames as they are encoded, joined
    (worker/flac_out.h), since the track files tile the album. Where they
    do not, or a track would end on a block too short to join (under 16
    frames), the album file is encoded from the pieces like the others.  */
#include "worker/assemble.h"
#include "common/text.h"
#include "common/array.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "worker/dsp/dither.h"
#include "common/fade.h"
#include "worker/dsp/truepeak.h"
#include "worker/flac_out.h"
#include "worker/kweight.h"
#include "worker/master.h"

#include <math.h>
#if defined (__SSE2__)
#include <emmintrin.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CUE_FPS             75

//  Frames of leading and trailing near-silence below threshold_db dBFS.
void
assemble_silence (const audio_t *a, double threshold_db, int64_t *lead, int64_t *trail)
{
    float thr = (float) pow (10.0, threshold_db / 20.0);
    int ch = a->channels;
    int64_t l = 0, t = 0;
    while (l < a->frames) {
        int loud = 0;
        for (int c = 0; c < ch; c++)
            if (fabsf (a->data [(size_t) l * ch + c]) >= thr)
                loud = 1;
        if (loud)
            break;
        l++;
    }
    if (l == a->frames) {
        *lead = *trail = 0;
        return;
    }
    while (t < a->frames - l) {
        int64_t f = a->frames - 1 - t;
        int loud = 0;
        for (int c = 0; c < ch; c++)
            if (fabsf (a->data [(size_t) f * ch + c]) >= thr)
                loud = 1;
        if (loud)
            break;
        t++;
    }
    *lead = l;
    *trail = t;
}


//  Copies a string for a quoted CUE field: '"' becomes '\'', control
//  characters become spaces, at most 80 bytes (CD-TEXT field size).
static void
s_cue_quote (const char *in, char *out, size_t size)
{
    size_t k = 0;
    for (; in && *in && k + 1 < size && k < 80; in++) {
        unsigned char c = (unsigned char) *in;
        out [k++] = c == '"' ? '\'' : (c < 0x20 || c == 0x7f) ? ' ' : (char) c;
    }
    out [k] = 0;
}

//  Formats an album frame position as mm:ss:ff (75 CUE frames per second).
static void
s_msf (int64_t frame, int rate_hz, char *buf, size_t size)
{
    int64_t f = frame * CUE_FPS / rate_hz;
    snprintf (buf, size, "%02lld:%02lld:%02lld", (long long) (f / (60 * CUE_FPS)),
              (long long) ((f / CUE_FPS) % 60), (long long) (f % CUE_FPS));
}

//  The CUE sheet for a layout (caller frees); NULL on OOM.
char *
assemble_cue_text (const spec_album_t *album, const profile_t *profile,
                   const assemble_layout_t *layout, int rate_hz)
{
    text_t t = { 0 };
    char q [96], a [96], m0 [64], m1 [64];
    text_printf (&t, "REM COMMENT \"masterfarm %s\"\n", profile->name);
    if (album->upc && *album->upc) {
        //  CATALOG is 13 digits (EAN-13); a 12-digit UPC-A gets a leading 0
        text_printf (&t, "CATALOG %s%s\n", strlen (album->upc) == 12 ? "0" : "", album->upc);
    }
    s_cue_quote (album->artist, a, sizeof a);
    s_cue_quote (album->title, q, sizeof q);
    if (album->artist)
        text_printf (&t, "PERFORMER \"%s\"\n", a);
    text_printf (&t, "TITLE \"%s\"\n", q);
    text_printf (&t, "FILE \"album.%s\" WAVE\n", profile->ext);
    for (size_t i = 0; i < layout->n_tracks && i < album->n_tracks; i++) {
        const spec_track_t *st = &album->tracks [i];
        const assemble_track_t *lt = &layout->tracks [i];
        text_printf (&t, "  TRACK %02zu AUDIO\n", i + 1);
        s_cue_quote (st->title, q, sizeof q);
        text_printf (&t, "    TITLE \"%s\"\n", q);
        const char *perf = st->artist ? st->artist : album->artist;
        if (perf) {
            s_cue_quote (perf, a, sizeof a);
            text_printf (&t, "    PERFORMER \"%s\"\n", a);
        }
        if (st->isrc && strlen (st->isrc) == 12)
            text_printf (&t, "    ISRC %s\n", st->isrc);
        s_msf (lt->pregap, rate_hz, m0, sizeof m0);
        s_msf (lt->start, rate_hz, m1, sizeof m1);
        if (lt->pregap < lt->start && strcmp (m0, m1) != 0)
            text_printf (&t, "    INDEX 00 %s\n", m0);
        text_printf (&t, "    INDEX 01 %s\n", m1);
    }
    return text_take (&t, NULL);
}

//  A file of the album written in pieces under a temporary name and
//  renamed into place when whole.
typedef struct {
    char            path [4096];
    char            tmp [4200];
    audio_writer_t *w;
    flac_join_t    *join;          //  instead of w: the album joined from its tracks
} s_out_t;

//  dir/name and its temporary name into o. Returns 0 or MF_ERR_INVALID.
static int
s_out_paths (s_out_t *o, const char *dir, const char *name, char *err, size_t err_size)
{
    if (snprintf (o->path, sizeof o->path, "%s/%s", dir, name) >= (int) sizeof o->path
    ||  fsutil_temp_path (o->path, o->tmp, sizeof o->tmp) != 0) {
        snprintf (err, err_size, "%s/%s: path too long", dir, name);
        return MF_ERR_INVALID;
    }
    return 0;
}

//  Creates dir/name's temporary file. Returns 0 or an error with err.
static int
s_out_open (s_out_t *o, const char *dir, const char *name, int rate_hz, int channels,
            const profile_t *profile, const audio_tags_t *tags, char *err, size_t err_size)
{
    memset (o, 0, sizeof *o);
    int rc = s_out_paths (o, dir, name, err, err_size);
    if (rc)
        return rc;
    rc = audio_writer_open (o->tmp, rate_hz, channels, profile->format, profile->bits,
                                profile->flac_level, tags, &o->w, err, err_size);
    if (rc)
        remove (o->tmp);
    return rc;
}

//  The album file of a FLAC profile as its tracks' frames joined
//  (flac_out.h), when the track files tile the album and their lengths
//  allow it. Returns 0 with o->join NULL when they do not, 0 with the
//  file created, or an error.
static int
s_out_open_join (s_out_t *o, const char *dir, const char *name, const assemble_layout_t *layout,
                 size_t n_tracks, int rate_hz, int channels, const profile_t *profile,
                 const audio_tags_t *tags, char *err, size_t err_size)
{
    memset (o, 0, sizeof *o);
    if (profile->format != OUT_FLAC || n_tracks == 0)
        return 0;
    int block = flac_block_frames (profile->flac_level, rate_hz, channels, profile->bits);
    if (block <= 0)
        return 0;
    int64_t *len = malloc (n_tracks * sizeof *len);
    if (!len) {
        snprintf (err, err_size, "out of memory");
        return MF_ERR_NOMEM;
    }
    int64_t at = 0;
    bool fixed = true, tiled = true;
    for (size_t i = 0; i < n_tracks && tiled; i++) {
        const assemble_track_t *lt = &layout->tracks [i];
        tiled = lt->slice_start == at && lt->slice_frames > 0;
        len [i] = lt->slice_frames;
        at += lt->slice_frames;
        if (i + 1 < n_tracks && len [i] % block)
            fixed = false;
    }
    tiled = tiled && at == layout->total_frames && flac_join_fits (len, n_tracks, block);
    free (len);
    if (!tiled)
        return 0;
    int rc = s_out_paths (o, dir, name, err, err_size);
    if (rc)
        return rc;
    rc = flac_join_open (o->tmp, rate_hz, channels, profile->bits, tags, fixed, &o->join,
                             err, err_size);
    if (rc)
        remove (o->tmp);
    return rc;
}

//  Finishes the file and renames it into place. Returns 0 or an error.
static int
s_out_commit (s_out_t *o, char *err, size_t err_size)
{
    int rc = o->join ? flac_join_close (&o->join, err, err_size)
                     : audio_writer_close (&o->w, err, err_size);
    if (rc) {
        remove (o->tmp);
        return rc;
    }
    if (fsutil_commit_temp (o->tmp, o->path) != 0) {
        snprintf (err, err_size, "%s: cannot commit the written file", o->path);
        return MF_ERR_IO;
    }
    return 0;
}

//  Drops a file not finished (after a failure); NULL-safe on a closed one.
static void
s_out_abort (s_out_t *o)
{
    if (!o->w && !o->join)
        return;
    char ignored [8];
    audio_writer_close (&o->w, ignored, sizeof ignored);
    flac_join_close (&o->join, ignored, sizeof ignored);
    remove (o->tmp);
}

//  True peak (linear) of frames of interleaved audio.
static double
s_true_peak_lin (const float *data, int channels, int rate_hz, int64_t frames)
{
    truepeak_t *tp = truepeak_new (rate_hz, channels);
    if (!tp)
        return 0.0;
    truepeak_process (tp, data, (size_t) frames);
    double db = truepeak_max_dbtp (tp);
    truepeak_destroy (&tp);
    return isfinite (db) ? pow (10.0, db / 20.0) : 0.0;
}

//  True when sample x is off the grid of scale steps (scale = 2^(bits-1),
//  bits <= 24) or out of [-1, 1): x * scale is exact in a float, and it is
//  a step when it survives the round trip through an integer (clamped
//  first, so that the conversion is defined; NaN is off).
static inline bool
s_off_grid (float x, float scale)
{
    float v = x * scale;
    float c = fminf (fmaxf (v, -scale), scale);
    return ((float) (int32_t) c != v) | (v >= scale);
}

//  True when any of n samples is off the grid (s_off_grid), four at a
//  time where SSE2 is there: the conversion gives INT_MIN for NaN and
//  out-of-range values, which then read as off.
static bool
s_any_off_grid (const float *x, size_t n, float scale)
{
    size_t i = 0;
    bool any = false;
#if defined (__SSE2__)
    const __m128 hi = _mm_set1_ps (scale), lo = _mm_set1_ps (-scale);
    __m128 bad = _mm_setzero_ps ();
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_mul_ps (_mm_loadu_ps (x + i), hi);
        __m128 r = _mm_cvtepi32_ps (_mm_cvttps_epi32 (v));
        bad = _mm_or_ps (bad, _mm_or_ps (_mm_cmpneq_ps (r, v),
                                         _mm_or_ps (_mm_cmpge_ps (v, hi), _mm_cmplt_ps (v, lo))));
    }
    any = _mm_movemask_ps (bad) != 0;
#endif
    for (; i < n; i++)
        any |= s_off_grid (x [i], scale);
    return any;
}

//  Quantises a piece of the album in place: frames holding any sample
//  off the output grid are dithered (d, which carries on from piece to
//  piece) in runs; frames on the grid stay. On 24 bits most pieces are
//  wholly on it (the masters come in that word), so they are checked
//  first without a branch per sample. Where d only rounds (round_only:
//  no dither, 24 bits), a sample on the grid rounds to itself, so a piece
//  off it anywhere is rounded whole (the album correction's gain after
//  the limiter puts every piece off it).
static void
s_quantise (dither_t *d, bool round_only, float *data, int64_t frames, int channels, int bits)
{
    const float scale = ldexpf (1.0f, bits - 1);
    if (!s_any_off_grid (data, (size_t) frames * (size_t) channels, scale))
        return;
    if (round_only) {
        dither_process (d, data, (size_t) frames);
        return;
    }
    int64_t run = -1;
    for (int64_t f = 0; f <= frames; f++) {
        bool off = false;
        if (f < frames)
            for (int c = 0; c < channels; c++)
                off |= s_off_grid (data [(size_t) f * channels + c], scale);
        if (off && run < 0)
            run = f;
        if (!off && run >= 0) {
            dither_process (d, data + (size_t) run * channels, (size_t) (f - run));
            run = -1;
        }
    }
}

//  A seed for the dither of slice (a track's file) from the album's
//  title, the profile and the slice's number (FNV-1a).
static uint64_t
s_seed (const spec_album_t *album, const profile_t *profile, size_t slice)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = album->title ? album->title : ""; *p; p++)
        h = (h ^ (unsigned char) *p) * 1099511628211ull;
    h = (h ^ (uint64_t) profile->id) * 1099511628211ull;
    h = (h ^ (uint64_t) slice) * 1099511628211ull;
    return h ? h : 1;
}

//  Quantises piece (frames from pos on) in stretches that each lie in one
//  slice: the dither starts again from its slice's seed where a slice
//  starts (*next: the next slice to start), so that a track's file is the
//  same bytes whatever the tracks before it hold.
static void
s_quantise_slices (dither_t *d, bool round_only, const spec_album_t *album,
                   const profile_t *profile, const assemble_layout_t *layout, size_t *next,
                   float *piece, int64_t pos, int64_t frames, int channels)
{
    for (int64_t from = 0; from < frames; ) {
        while (*next < layout->n_tracks && layout->tracks [*next].slice_start <= pos + from) {
            dither_reseed (d, s_seed (album, profile, *next));
            (*next)++;
        }
        int64_t to = frames;
        if (*next < layout->n_tracks && layout->tracks [*next].slice_start < pos + frames)
            to = layout->tracks [*next].slice_start - pos;
        s_quantise (d, round_only, piece + (size_t) from * channels, to - from, channels,
                    profile->bits);
        from = to;
    }
}

//  assemble_silence on a track read through src in pieces into buf.
static int
s_silence_stream (const assemble_source_t *src, size_t i, int64_t frames, int ch,
                  double threshold_db, float *buf, int64_t *lead, int64_t *trail,
                  char *err, size_t err_size)
{
    float thr = (float) pow (10.0, threshold_db / 20.0);
    int64_t first = -1, last = -1;
    for (int64_t at = 0; at < frames; at += ASSEMBLE_PIECE) {
        int64_t n = frames - at < ASSEMBLE_PIECE ? frames - at : ASSEMBLE_PIECE;
        int rc = src->read (src->arg, i, at, buf, n, err, err_size);
        if (rc)
            return rc;
        for (int64_t f = 0; f < n; f++)
            for (int c = 0; c < ch; c++)
                if (fabsf (buf [(size_t) f * ch + c]) >= thr) {
                    if (first < 0)
                        first = at + f;
                    last = at + f;
                    break;
                }
    }
    *lead = first < 0 ? 0 : first;
    *trail = first < 0 ? 0 : frames - 1 - last;
    return 0;
}

//  Adds track i's contribution to album frames [pos, pos + n) into out:
//  its frames read through src (tc channels; a mono track in a stereo
//  album, ch 2, is copied to both), with its fades and crossfade gains.
static int
s_add_track (const spec_album_t *album, const assemble_layout_t *layout, size_t i,
             const assemble_source_t *src, int rate, int ch, int tc, int64_t pos, int64_t n,
             float *out, float *tmp, char *err, size_t err_size)
{
    const assemble_track_t *lt = &layout->tracks [i];
    int64_t s = pos > lt->audio_start ? pos : lt->audio_start;
    int64_t e = pos + n < lt->audio_start + lt->audio_frames ? pos + n
              : lt->audio_start + lt->audio_frames;
    if (s >= e)
        return 0;
    const int64_t m = e - s, t0 = s - lt->audio_start, af = lt->audio_frames;
    int rc = src->read (src->arg, i, lt->trim_lead + t0, tmp, m, err, err_size);
    if (rc)
        return rc;
    //  a mono track in a stereo album: copied to both channels, from the
    //  end so that it can be done in place
    if (tc == 1 && ch == 2)
        for (int64_t f = m - 1; f >= 0; f--)
            tmp [2 * f] = tmp [2 * f + 1] = tmp [f];
    //  the gains in the order the whole-track form applies them: fade in,
    //  fade out, crossfade in, crossfade out
    const settings_t *st = &album->tracks [i].s;
    int64_t fin = assemble_frames (st->fade_in_s, rate), fout = assemble_frames (st->fade_out_s, rate);
    fin = fin < af ? fin : af;
    fout = fout < af ? fout : af;
    if (fin > 0)
        fade_apply (tmp, (size_t) m, ch, st->fade_curve, t0, fin, false);
    if (fout > 0)
        fade_apply (tmp, (size_t) m, ch, st->fade_curve, t0 - (af - fout), fout, true);
    //  equal-power crossfade gains: in sin(pi/2 x), out cos(pi/2 x)
    int64_t xin = lt->xfade_in;
    int64_t xout = i + 1 < layout->n_tracks ? layout->tracks [i + 1].xfade_in : 0;
    for (int64_t f = 0; f < m; f++) {
        int64_t k = t0 + f;
        if (k < xin) {
            float g = (float) fade_gain (FADE_EQUAL_POWER, (double) k / (double) xin);
            for (int c = 0; c < ch; c++)
                tmp [(size_t) f * ch + c] *= g;
        }
        int64_t ko = k - (af - xout);
        if (ko >= 0 && ko < xout) {
            float g = (float) fade_gain (FADE_EQUAL_POWER, 1.0 - (double) ko / (double) xout);
            for (int c = 0; c < ch; c++)
                tmp [(size_t) f * ch + c] *= g;
        }
    }
    float *dst = out + (size_t) (s - pos) * ch;
    for (size_t k = 0; k < (size_t) m * (size_t) ch; k++)
        dst [k] += tmp [k];
    return 0;
}

//  An in-memory track list as a source (assemble_album_part).
static int
s_mem_open (void *arg, size_t i, audio_t *info, char *err, size_t err_size)
{
    const audio_t *t = &((const audio_t *) arg) [i];
    *info = *t;
    info->data = NULL;
    return 0;
}

static int
s_mem_read (void *arg, size_t i, int64_t at, float *buf, int64_t n, char *err, size_t err_size)
{
    const audio_t *t = &((const audio_t *) arg) [i];
    if (at < 0 || n < 0 || at + n > t->frames || !t->data) {
        snprintf (err, err_size, "track %zu: frames %lld to %lld asked of %lld", i + 1,
                  (long long) at, (long long) (at + n), (long long) t->frames);
        return MF_ERR_INVALID;
    }
    memcpy (buf, t->data + (size_t) at * t->channels, (size_t) n * t->channels * sizeof *buf);
    return 0;
}

//  Builds, quantises and writes the album, its slices and its CUE sheet;
//  0 or a negative error with err.
int
assemble_album (const spec_album_t *album, const profile_t *profile,
                const audio_t *tracks, size_t n_tracks, const char *out_dir,
                assemble_layout_t *layout, char *err, size_t err_size)
{
    return assemble_album_part (album, profile, tracks, n_tracks, NULL, 0, true, out_dir,
                                layout, err, err_size);
}

int
assemble_album_part (const spec_album_t *album, const profile_t *profile,
                     const audio_t *tracks, size_t n_tracks, const int *numbers,
                     int track_total, bool whole,
                     const char *out_dir, assemble_layout_t *layout, char *err, size_t err_size)
{
    for (size_t i = 0; tracks && i < n_tracks; i++)
        if (!tracks [i].data) {
            memset (layout, 0, sizeof *layout);
            if (err && err_size)
                snprintf (err, err_size, "album \"%s\" track %d: no samples", assemble_album_title (album),
                          album ? assemble_track_number (album, i) : (int) i + 1);
            return MF_ERR_INVALID;
        }
    assemble_source_t src = { s_mem_open, s_mem_read, (void *) tracks };
    return assemble_album_stream (album, profile, tracks ? &src : NULL, n_tracks, numbers,
                                  track_total, whole, out_dir, layout, err, err_size);
}

int
assemble_album_stream (const spec_album_t *album, const profile_t *profile,
                       const assemble_source_t *src, size_t n_tracks, const int *numbers,
                       int track_total, bool whole, const char *out_dir,
                       assemble_layout_t *layout, char *err, size_t err_size)
{
    char scratch [8];
    err = mf_err_buffer (err, &err_size, scratch, sizeof scratch);
    memset (layout, 0, sizeof *layout);
    if (!album || !profile || !src || !out_dir || n_tracks != album->n_tracks || n_tracks == 0) {
        snprintf (err, err_size, "album \"%s\": %zu mastered tracks for %zu in the spec",
                  assemble_album_title (album), n_tracks, album ? album->n_tracks : 0);
        return MF_ERR_INVALID;
    }
    audio_t *info = calloc (n_tracks, sizeof *info);
    int64_t *lead = calloc (n_tracks, sizeof *lead);
    int64_t *trail = calloc (n_tracks, sizeof *trail);
    int64_t *len = calloc (n_tracks, sizeof *len);
    float *piece = NULL, *tmp = NULL;
    char *cue = NULL;
    dither_t *dith = NULL;
    master_meter_t *meter = NULL, *file_meter = NULL;
    s_out_t album_out = { 0 }, slice_out = { 0 };
    int rc = 0;
    if (!info || !lead || !trail || !len) {
        rc = MF_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n_tracks && !rc; i++)
        rc = src->open (src->arg, i, &info [i], err, err_size);
    if (rc)
        goto done;
    int rate = info [0].rate_hz, ch = 0;
    for (size_t i = 0; i < n_tracks; i++)
        ch = info [i].channels > ch ? info [i].channels : ch;
    //  cd is two-channel (Red Book): a mono album goes out as dual mono
    if (profile->id == PROFILE_CD && ch == 1)
        ch = 2;
    for (size_t i = 0; i < n_tracks; i++) {
        //  a mono track in a stereo album is copied to both channels: its
        //  loudness is dual-mono already (the master's and the plan's)
        bool up = info [i].channels == 1 && ch == 2;
        if (info [i].rate_hz != rate || (info [i].channels != ch && !up)
        ||  (profile->id == PROFILE_CD && ch != 2)) {
            snprintf (err, err_size, "album \"%s\" track %d: %d Hz, %d channels, where track "
                      "%d has %d Hz, %d channels; an album's tracks are at one rate, and "
                      "all mono or stereo or all of one channel count%s",
                      assemble_album_title (album), assemble_track_number (album, i),
                      info [i].rate_hz, info [i].channels, assemble_track_number (album, 0),
                      rate, info [0].channels,
                      profile->id == PROFILE_CD ? " (cd: mono or stereo)" : "");
            rc = MF_ERR_INVALID;
            goto done;
        }
    }

    //  trim (a read of each trimmed track), then the timeline
    tmp = malloc ((size_t) ASSEMBLE_PIECE * ch * sizeof *tmp);
    if (!tmp) {
        rc = MF_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n_tracks && !rc; i++) {
        const settings_t *s = &album->tracks [i].s;
        if (s->trim)
            rc = s_silence_stream (src, i, info [i].frames, info [i].channels, s->trim_db, tmp,
                                   &lead [i], &trail [i], err, err_size);
        len [i] = info [i].frames - lead [i] - trail [i];
    }
    if (!rc)
        rc = assemble_layout (album, profile, rate, len, layout, err, err_size);
    if (rc)
        goto done;
    //  pieces: ASSEMBLE_PIECE frames or more, a whole number of the
    //  meter's 100 ms hops and at least ASSEMBLE_PIECE_HOPS of them, so
    //  that the album's loudness is measured on the meter's side-by-side
    //  path (master_meter_add) rather than frame by frame; or a whole
    //  crossfade (its peak is checked before it is written)
    const int64_t hop = kweight_hop_frames (rate);
    int64_t piece_n = ASSEMBLE_PIECE_HOPS * hop;
    if (piece_n < ASSEMBLE_PIECE)
        piece_n = (ASSEMBLE_PIECE + hop - 1) / hop * hop;
    int64_t cap = piece_n;
    for (size_t i = 0; i < n_tracks; i++) {
        layout->tracks [i].trim_lead = lead [i];
        layout->tracks [i].trim_trail = trail [i];
        if (layout->tracks [i].xfade_in > cap)
            cap = layout->tracks [i].xfade_in;
    }
    free (tmp);
    piece = malloc ((size_t) cap * ch * sizeof *piece);
    tmp = malloc ((size_t) cap * ch * sizeof *tmp);
    if (whole)
        meter = master_meter_new (ch, rate);
    dither_mode_t mode = DITHER_NONE;
    if (profile->bits < 32) {
        if (profile->bits < 24 && album->s.chain.dither)
            mode = album->s.chain.noise_shaping ? DITHER_SHAPED : DITHER_TPDF;
        dith = dither_new (profile->bits, ch, mode, s_seed (album, profile, 0));
    }
    if (!piece || !tmp || (whole && !meter) || (profile->bits < 32 && !dith)) {
        rc = MF_ERR_NOMEM;
        goto done;
    }
    double ceiling_dbtp = profile->ceiling_dbtp;
    if (album->s.loudness.has_true_peak && album->s.loudness.true_peak_dbtp < ceiling_dbtp)
        ceiling_dbtp = album->s.loudness.true_peak_dbtp;
    if (fsutil_mkdir_p (out_dir, 0755) != 0) {
        snprintf (err, err_size, "%s: cannot create the folder", out_dir);
        rc = MF_ERR_IO;
        goto done;
    }
    char name [FSUTIL_NAME_MAX + 64];
    audio_tags_t atags = { .title = album->title, .artist = album->artist, .album = album->title,
                           .album_artist = album->artist, .barcode = album->upc,
                           .date = album->date, .genre = album->genre,
                           .comment = "masterfarm album" };
    if (whole) {
        snprintf (name, sizeof name, "album.%s", profile->ext);
        rc = s_out_open_join (&album_out, out_dir, name, layout, n_tracks, rate, ch, profile,
                              &atags, err, err_size);
        if (!rc && !album_out.join)
            rc = s_out_open (&album_out, out_dir, name, rate, ch, profile, &atags, err,
                             err_size);
        if (rc)
            goto done;
    }

    //  the timeline, piece by piece: built in float, quantised once, then
    //  written to the album file and to the slice it belongs to
    size_t first = 0, slice = 0, dith_slice = 0;
    for (int64_t pos = 0; pos < layout->total_frames && !rc; ) {
        int64_t q = pos + piece_n < layout->total_frames ? pos + piece_n
                                                        : layout->total_frames;
        size_t xf = 0;                    //  the track whose crossfade is this piece
        for (size_t i = 1; i < n_tracks; i++) {
            const assemble_track_t *lt = &layout->tracks [i];
            if (lt->xfade_in == 0)
                continue;
            if (pos == lt->audio_start) {
                q = lt->audio_start + lt->xfade_in;
                xf = i;
                break;
            }
            if (pos < lt->audio_start && lt->audio_start < q)
                q = lt->audio_start;
        }
        const int64_t n = q - pos;
        memset (piece, 0, (size_t) n * ch * sizeof *piece);
        while (first < n_tracks && layout->tracks [first].audio_start
                                   + layout->tracks [first].audio_frames <= pos)
            first++;
        for (size_t i = first; i < n_tracks && !rc && layout->tracks [i].audio_start < q; i++)
            rc = s_add_track (album, layout, i, src, rate, ch, info [i].channels, pos, n,
                              piece, tmp, err, err_size);
        if (rc)
            break;
        //  an overlap over the ceiling: a smooth dip to 1 / (sin + cos), -3 dB
        //  at the middle, which bounds the sum by the louder of the two tracks
        double pk = xf > 0 ? s_true_peak_lin (piece, ch, rate, n) : 0.0;
        if (pk > pow (10.0, ceiling_dbtp / 20.0)) {
            log_info ("album \"%s\" track %d: crossfade peaks at %.2f dBTP, dipped under the "
                      "ceiling", assemble_album_title (album), assemble_track_number (album, xf), 20.0 * log10 (pk));
            for (int64_t f = 0; f < n; f++) {
                double x = (double) f / (double) n;
                float g = (float) (1.0 / (sin (M_PI_2 * x) + cos (M_PI_2 * x)));
                for (int c = 0; c < ch; c++)
                    piece [(size_t) f * ch + c] *= g;
            }
        }
        if (dith)
            s_quantise_slices (dith, mode == DITHER_NONE, album, profile, layout, &dith_slice,
                               piece, pos, n, ch);
        //  the album's loudness as delivered: its own samples, gaps,
        //  crossfades and fades included
        if (whole && master_meter_add (meter, piece, n))
            rc = MF_ERR_NOMEM;
        if (!rc && album_out.w)
            rc = audio_writer_write (album_out.w, piece, n, err, err_size);
        for (int64_t done_f = 0; !rc && done_f < n && slice < n_tracks; ) {
            const assemble_track_t *lt = &layout->tracks [slice];
            int64_t end = lt->slice_start + lt->slice_frames, at = pos + done_f;
            if (at >= end) {
                slice++;
                continue;
            }
            if (at < lt->slice_start) {            //  not in any slice (none expected)
                done_f += lt->slice_start - at < n - done_f ? lt->slice_start - at : n - done_f;
                continue;
            }
            if (!slice_out.w) {
                int number = numbers ? numbers [slice] : (int) slice + 1;
                const spec_track_t *st = &album->tracks [slice];
                audio_tags_t tags = { .title = st->title,
                                      .artist = st->artist ? st->artist : album->artist,
                                      .album = album->title, .album_artist = album->artist,
                                      .isrc = st->isrc, .barcode = album->upc,
                                      .date = album->date, .genre = album->genre,
                                      .track_number = number,
                                      .track_total = track_total > 0 ? track_total
                                                                     : (int) n_tracks,
                                      .disc_number = st->disc };
                if (fsutil_track_file_name (number, st->title, profile->ext, name,
                                            sizeof name) != 0) {
                    snprintf (err, err_size, "album \"%s\" track %d: file name too long",
                              assemble_album_title (album), number);
                    rc = MF_ERR_INVALID;
                    break;
                }
                //  the writer takes the tags when it opens
                rc = s_out_open (&slice_out, out_dir, name, rate, ch, profile, &tags, err,
                                 err_size);
                if (rc)
                    break;
                //  the file's own loudness as written: its gaps and its
                //  share of crossfades included, as any meter reads it
                master_meter_destroy (&file_meter);
                file_meter = master_meter_new (ch, rate);
                if (!file_meter) {
                    rc = MF_ERR_NOMEM;
                    break;
                }
                if (album_out.join)
                    audio_writer_join (slice_out.w, album_out.join);
            }
            int64_t m = end - at < n - done_f ? end - at : n - done_f;
            rc = audio_writer_write (slice_out.w, piece + (size_t) done_f * ch, m, err,
                                     err_size);
            if (!rc && master_meter_add (file_meter, piece + (size_t) done_f * ch, m))
                rc = MF_ERR_NOMEM;
            done_f += m;
            if (!rc && at + m == end) {
                rc = s_out_commit (&slice_out, err, err_size);
                if (!rc)
                    master_meter_result (file_meter, &layout->tracks [slice].file_lufs,
                                         &layout->tracks [slice].file_lra_lu);
                master_meter_destroy (&file_meter);
                slice++;
            }
        }
        pos = q;
    }
    if (!rc && slice_out.w) {                    //  a last slice cut short (none expected)
        rc = s_out_commit (&slice_out, err, err_size);
        if (!rc && slice < n_tracks)
            master_meter_result (file_meter, &layout->tracks [slice].file_lufs,
                                 &layout->tracks [slice].file_lra_lu);
    }
    if (!rc && whole) {
        rc = s_out_commit (&album_out, err, err_size);
        if (!rc)
            master_meter_result (meter, &layout->album_lufs, &layout->album_lra_lu);
    }
    if (rc == 0 && whole) {
        cue = assemble_cue_text (album, profile, layout, rate);
        char path [4096];
        snprintf (path, sizeof path, "%s/album.cue", out_dir);
        if (!cue)
            rc = MF_ERR_NOMEM;
        else
        if (fsutil_write_atomic (path, cue, strlen (cue)) != 0) {
            snprintf (err, err_size, "%s: cannot write", path);
            rc = MF_ERR_IO;
        }
    }
done:
    s_out_abort (&slice_out);
    s_out_abort (&album_out);
    master_meter_destroy (&meter);
    master_meter_destroy (&file_meter);
    dither_destroy (&dith);
    free (cue);
    free (piece);
    free (tmp);
    free (info);
    free (lead);
    free (trail);
    free (len);
    if (rc)
        assemble_layout_free (layout);
    return rc;
}
