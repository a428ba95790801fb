/*  Album assembly: timelines with gaps and crossfades, Red Book rules and
    refusals, and a whole album written to disk and read back: slices
    that concatenate to the album file, gaps of digital silence of the
    planned length, fade envelopes that follow their curves, a CUE sheet
    that cuebreakpoints (cuetools) parses to the planned sample positions.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "album_fixture.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "testsig.h"
#include "worker/assemble.h"
#include "common/fade.h"
#include "worker/dsp/truepeak.h"

//  An album spec of n tracks with neutral settings (no audio).
static void
s_album (spec_album_t *a, spec_track_t *t, size_t n)
{
    memset (a, 0, sizeof *a);
    album_fixture_settings (&a->s);
    a->title = "T";
    a->tracks = t;
    a->n_tracks = n;
    for (size_t i = 0; i < n; i++) {
        memset (&t [i], 0, sizeof t [i]);
        t [i].title = "x";
        t [i].s = a->s;
    }
}

//  Streaming layout: gaps before tracks, the first gap is the pregap,
//  a crossfade overlaps the next track, slices tile the album.
static void
test_layout_gaps_crossfade (void **state)
{
    (void) state;
    spec_album_t a;
    spec_track_t t [4];
    s_album (&a, t, 4);
    t [0].s.gap_s = 1.0;
    t [1].s.gap_s = 0.5;
    t [2].s.gap_s = 3.0;          //  ignored: track 2 crossfades into 3
    t [1].s.crossfade_s = 0.25;
    t [3].s.gap_s = 0.0;
    int64_t len [4] = { 48000, 96000, 24000, 4800 };
    assemble_layout_t l;
    char err [256];
    assert_int_equal (assemble_layout (&a, profile_get (PROFILE_SPOTIFY), 48000, len, &l, err, sizeof err), 0);
    assert_int_equal (l.tracks [0].pregap, 0);
    assert_int_equal (l.tracks [0].start, 48000);
    assert_int_equal (l.tracks [1].pregap, 96000);
    assert_int_equal (l.tracks [1].start, 120000);
    assert_int_equal (l.tracks [2].xfade_in, 12000);
    assert_int_equal (l.tracks [2].start, 120000 + 96000 - 12000);
    assert_int_equal (l.tracks [2].pregap, l.tracks [2].start);
    assert_int_equal (l.tracks [3].start, l.tracks [2].start + 24000);
    assert_int_equal (l.total_frames, l.tracks [3].start + 4800);
    int64_t sum = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal (l.tracks [i].slice_start, sum);
        sum += l.tracks [i].slice_frames;
    }
    assert_int_equal (sum, l.total_frames);
    assert_int_equal (l.tracks [0].length, 120000 - 48000);
    assemble_layout_free (&l);

    //  a crossfade longer than the next track is refused
    t [1].s.crossfade_s = 1.0;
    assert_int_equal (assemble_layout (&a, profile_get (PROFILE_SPOTIFY), 48000, len, &l, err, sizeof err), MF_ERR_INVALID);
    assert_non_null (strstr (err, "crossfade"));
}

//  cd: every index on a 588-frame boundary, gaps absorb the rounding so
//  each track's first sample is its INDEX 01, gapless boundaries keep
//  the audio continuous, the album is a whole number of CD frames.
static void
test_layout_cd_frames (void **state)
{
    (void) state;
    spec_album_t a;
    spec_track_t t [3];
    s_album (&a, t, 3);
    t [0].s.gap_s = 2.0;
    t [1].s.gap_s = 1.3;
    t [2].s.gap_s = 0.0;
    int64_t len [3] = { 44100 * 5 + 17, 44100 * 6 + 300, 44100 * 4 + 1000 };
    assemble_layout_t l;
    char err [256];
    assert_int_equal (assemble_layout (&a, profile_get (PROFILE_CD), 44100, len, &l, err, sizeof err), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal (l.tracks [i].start % 588, 0);
        assert_int_equal (l.tracks [i].pregap % 588, 0);
    }
    assert_int_equal (l.tracks [0].start, 88200);
    assert_int_equal (l.tracks [0].audio_start, 88200);
    assert_int_equal (l.tracks [1].audio_start, l.tracks [1].start);
    int64_t end0 = l.tracks [0].audio_start + len [0];
    //  the gap is 1.3 s within half a CD frame
    assert_true (llabs (l.tracks [1].audio_start - end0 - 57330) <= 294);
    assert_true (l.tracks [1].pregap >= end0);
    //  gapless: audio continuous, index within half a frame
    int64_t end1 = l.tracks [1].audio_start + len [1];
    assert_int_equal (l.tracks [2].audio_start, end1);
    assert_true (llabs (l.tracks [2].start - end1) <= 294);
    assert_int_equal (l.total_frames % 588, 0);
    assemble_layout_free (&l);

    //  48 kHz is not cd
    assert_int_equal (assemble_layout (&a, profile_get (PROFILE_CD), 48000, len, &l, err, sizeof err), MF_ERR_INVALID);
    assert_non_null (strstr (err, "44100"));
}

//  Red Book refusals, each with its reason, at submit time and at layout.
static void
test_cd_refusals (void **state)
{
    (void) state;
    static spec_track_t t [100];
    spec_album_t a;
    s_album (&a, t, 3);
    char err [256];
    int64_t len [3] = { 44100 * 5, 44100 * 3, 44100 * 5 };
    assert_int_equal (assemble_check_cd (&a, NULL, err, sizeof err), 0);
    //  a 3 s track
    assert_int_equal (assemble_check_cd (&a, len, err, sizeof err), MF_ERR_INVALID);
    assert_non_null (strstr (err, "track 2"));
    assert_non_null (strstr (err, "4 s"));
    //  a 1 s gap before track 1: the disc's pregap is 2 s all the same
    //  (cd only), so the spec of DESIGN.md with gap 0 runs as written
    t [0].s.gap_s = 0.0;
    assemble_layout_t l;
    len [1] = 44100 * 5;
    assert_int_equal (assemble_check_cd (&a, len, err, sizeof err), 0);
    assert_int_equal (assemble_layout (&a, profile_get (PROFILE_CD), 44100, len, &l, err, sizeof err), 0);
    assert_int_equal (l.tracks [0].pregap, 0);
    assert_int_equal (l.tracks [0].start, 88200);
    assemble_layout_free (&l);
    assert_int_equal (assemble_layout (&a, profile_get (PROFILE_SPOTIFY), 44100, len, &l, err, sizeof err), 0);
    assert_int_equal (l.tracks [0].start, 0);             //  streaming keeps gap 0
    assemble_layout_free (&l);
    //  100 tracks
    s_album (&a, t, 100);
    assert_int_equal (assemble_check_cd (&a, NULL, err, sizeof err), MF_ERR_INVALID);
    assert_non_null (strstr (err, "99"));
    //  fine again with 99
    a.n_tracks = 99;
    assert_int_equal (assemble_check_cd (&a, NULL, err, sizeof err), 0);
    //  a sub-list of the spec's album (spec tracks 1, 3, 9: the others
    //  failed) names the spec's numbers, not places in the sub-list
    s_album (&a, t, 3);
    t [0].number = 1;
    t [1].number = 3;
    t [2].number = 9;
    int64_t sub [3] = { 44100 * 5, 44100 * 5, 44100 * 3 };
    assert_int_equal (assemble_check_cd (&a, sub, err, sizeof err), MF_ERR_INVALID);
    assert_non_null (strstr (err, "track 9"));
    //  an 80-minute disc: three tracks of 26:38 and the 2 s gaps fit
    //  (80:00 in all, with the 2 s pregap); one second more does not
    for (int i = 0; i < 3; i++) {
        t [i].number = 0;
        t [i].s.gap_s = 2.0;
        sub [i] = (int64_t) 44100 * (26 * 60 + 38);
    }
    assert_int_equal (assemble_check_cd (&a, sub, err, sizeof err), 0);
    sub [2] += 44100 * 2;
    assert_int_equal (assemble_check_cd (&a, sub, err, sizeof err), MF_ERR_INVALID);
    assert_non_null (strstr (err, "80:02 long with its gaps, an 80-minute CD holds at most 80:00"));
    //  streaming profiles have no such limit
    assemble_layout_t lo;
    assert_int_equal (assemble_layout (&a, profile_get (PROFILE_SPOTIFY), 44100, sub, &lo, err,
                                       sizeof err), 0);
    assemble_layout_free (&lo);
}

//  Silence finder for trim.
static void
test_silence (void **state)
{
    (void) state;
    audio_t x;
    testsig_alloc (&x, 1000, 2, 48000);
    testsig_add_sine (&x, 1000.0, 0.5, 0.3, 100, 700);
    int64_t lead, trail;
    assemble_silence (&x, -60.0, &lead, &trail);
    //  a sine of phase 0.3 is above -60 dBFS from its first sample
    assert_int_equal (lead, 100);
    assert_true (trail >= 200 && trail <= 201);
    memset (x.data, 0, sizeof (float) * 2000);
    assemble_silence (&x, -60.0, &lead, &trail);
    assert_int_equal (lead + trail, 0);
    audio_free (&x);
}

//  Parses "m:ss.ff" from cuebreakpoints into CD frames (1/75 s).
static int64_t
s_msf_frames (const char *s)
{
    int m = 0, sec = 0, f = 0;
    if (sscanf (s, "%d:%d.%d", &m, &sec, &f) != 3)
        return -1;
    return (int64_t) (m * 60 + sec) * 75 + f;
}

//  Reads a file; aborts on failure.
static void
s_read (const char *path, audio_t *a)
{
    char err [AUDIO_ERR_LEN];
    if (audio_read (path, a, err, sizeof err) != 0)
        fail_msg ("%s", err);
}

//  The whole album written for cd and checked from the files.
static void
s_check_album (const profile_t *prof, int with_xfade)
{
    album_fixture_t f;
    album_fixture_make (&f, 5, 44100, 7);
    //  the fixture is loud float; bring each track to a -6 dBFS sample peak
    for (size_t i = 0; i < f.n; i++) {
        float pk = 0;
        for (size_t k = 0; k < (size_t) f.audio [i].frames * 2; k++)
            pk = fmaxf (pk, fabsf (f.audio [i].data [k]));
        for (size_t k = 0; k < (size_t) f.audio [i].frames * 2; k++)
            f.audio [i].data [k] *= 0.5f / pk;
    }
    //  fades on tracks 2..5 with the five curves, gaps 2, 1.5, 0, 0.7, 2.2
    static const double gaps [5] = { 2.0, 1.5, 0.0, 0.7, 2.2 };
    static const fade_curve_t curves [5] = { FADE_LINEAR, FADE_EXPONENTIAL, FADE_LOGARITHMIC,
                                             FADE_SCURVE, FADE_EQUAL_POWER };
    for (size_t i = 0; i < f.n; i++) {
        f.tracks [i].s.gap_s = gaps [i];
        f.tracks [i].s.fade_curve = curves [i];
        f.tracks [i].s.fade_in_s = 0.4;
        f.tracks [i].s.fade_out_s = 0.9;
    }
    if (with_xfade) {
        f.tracks [2].s.crossfade_s = 1.0;   //  3 into 4
        f.tracks [2].s.fade_out_s = 0.0;
        f.tracks [3].s.fade_in_s = 0.0;
    }
    char dir [512];
    snprintf (dir, sizeof dir, "%s/%s", testsig_tmpdir ("assemble"), prof->name);
    assemble_layout_t l;
    char err [512];
    int rc = assemble_album (&f.album, prof, f.audio, f.n, dir, &l, err, sizeof err);
    if (rc)
        fail_msg ("assemble_album: %s", err);

    char path [1024];
    audio_t whole;
    snprintf (path, sizeof path, "%s/album.%s", dir, prof->ext);
    s_read (path, &whole);
    assert_int_equal (whole.frames, l.total_frames);
    assert_int_equal (whole.bits, prof->bits);

    //  slices concatenate to the album, sample for sample
    int ch = whole.channels;
    int64_t at = 0;
    for (size_t i = 0; i < f.n; i++) {
        char name [256];
        assert_int_equal (fsutil_track_file_name ((int) i + 1, f.tracks [i].title, prof->ext, name, sizeof name), 0);
        snprintf (path, sizeof path, "%s/%s", dir, name);
        audio_t s;
        s_read (path, &s);
        assert_int_equal (l.tracks [i].slice_start, at);
        assert_int_equal (s.frames, l.tracks [i].slice_frames);
        assert_memory_equal (s.data, whole.data + (size_t) at * ch, (size_t) s.frames * ch * sizeof (float));
        //  the file's loudness the assembly measured as it wrote it, as
        //  libebur128 reads the file (gaps, fades, crossfades included)
        double want = album_fixture_lufs (&s);
        if (!(fabs (l.tracks [i].file_lufs - want) < 0.005))
            fail_msg ("track %zu file: assembly reads %.4f LUFS, libebur128 %.4f", i + 1,
                      l.tracks [i].file_lufs, want);
        at += s.frames;
        audio_free (&s);
    }
    assert_int_equal (at, whole.frames);

    //  gaps: digital silence of the planned length (cd: within half a
    //  CD frame, 294 samples, the rounding Red Book alignment needs)
    int64_t prev_end = 0;
    for (size_t i = 0; i < f.n; i++) {
        const assemble_track_t *t = &l.tracks [i];
        if (t->xfade_in == 0) {
            int64_t want = llround (f.tracks [i].s.gap_s * whole.rate_hz);
            int64_t got = t->audio_start - prev_end;
            if (prof->cd)
                assert_true (llabs (got - want) <= 294);
            else
                assert_int_equal (got, want);
            for (int64_t k = prev_end * ch; k < t->audio_start * ch; k++)
                if (whole.data [k] != 0.0f)
                    fail_msg ("track %zu: gap sample %lld is %g, not silence", i + 1, (long long) k, whole.data [k]);
        }
        prev_end = t->audio_start + t->audio_frames;
    }

    //  fades follow their curves within 0.1 dB where the signal is well
    //  above the output word's step (|x| > 0.01: 16-bit TPDF error < 0.03 dB)
    double worst_db = 0.0;
    for (size_t i = 0; i < f.n; i++) {
        const assemble_track_t *t = &l.tracks [i];
        const settings_t *s = &f.tracks [i].s;
        int64_t fin = llround (s->fade_in_s * whole.rate_hz), fout = llround (s->fade_out_s * whole.rate_hz);
        for (int64_t j = 0; j < t->audio_frames; j++) {
            double g;
            if (j < fin)
                g = fade_gain (s->fade_curve, (double) j / (double) fin);
            else if (j >= t->audio_frames - fout)
                g = fade_gain (s->fade_curve, 1.0 - (double) (j - (t->audio_frames - fout) + 1) / (double) fout);
            else
                continue;
            for (int c = 0; c < ch; c++) {
                double want = f.audio [i].data [(size_t) j * ch + c] * g;
                double got = whole.data [(size_t) (t->audio_start + j) * ch + c];
                if (fabs (want) < 0.01)
                    continue;
                double db = fabs (20.0 * log10 (got / want));
                if (!(db <= 0.1))
                    fail_msg ("track %zu frame %lld: fade off by %.3f dB (want %g got %g)", i + 1, (long long) j, db, want, got);
                worst_db = fmax (worst_db, db);
            }
        }
    }
    printf ("# %s: worst fade envelope error %.4f dB (limit 0.1)\n", prof->name, worst_db);

    //  crossfade: equal-power sum (tolerance 4 LSB of the word: dither)
    if (with_xfade) {
        const assemble_track_t *t = &l.tracks [3];
        double tol = 4.0 * ldexp (1.0, -(prof->bits - 1));
        assert_int_equal (t->xfade_in, 44100);
        for (int64_t j = 0; j < t->xfade_in; j += 97) {
            double x = (double) j / (double) t->xfade_in;
            int64_t jo = f.audio [2].frames - t->xfade_in + j;
            for (int c = 0; c < ch; c++) {
                double want = f.audio [2].data [(size_t) jo * ch + c] * cos (M_PI_2 * x)
                            + f.audio [3].data [(size_t) j * ch + c] * sin (M_PI_2 * x);
                double got = whole.data [(size_t) (t->audio_start + j) * ch + c];
                assert_true (fabs (got - want) <= tol);
            }
        }
    }

    //  the CUE parses with cuebreakpoints and gives the planned positions
    char cmd [1200];
    snprintf (cmd, sizeof cmd, "cuebreakpoints --split-gaps '%s/album.cue'", dir);
    FILE *p = popen (cmd, "r");
    assert_non_null (p);
    int64_t expect [64];
    size_t n_expect = 0;
    for (size_t i = 0; i < f.n; i++) {
        int64_t pos [2] = { l.tracks [i].pregap, l.tracks [i].start };
        for (int k = 0; k < 2; k++) {
            if (prof->cd)
                assert_int_equal (pos [k] % 588, 0);
            int64_t fr = pos [k] * 75 / whole.rate_hz;
            if (fr > 0 && (n_expect == 0 || expect [n_expect - 1] != fr))
                expect [n_expect++] = fr;
        }
    }
    char line [128];
    size_t n_got = 0;
    while (fgets (line, sizeof line, p)) {
        assert_true (n_got < n_expect);
        assert_int_equal (s_msf_frames (line), expect [n_got]);
        n_got++;
    }
    assert_int_equal (pclose (p), 0);
    assert_int_equal (n_got, n_expect);

    //  the CUE names the file, the catalog and every ISRC
    snprintf (path, sizeof path, "%s/album.cue", dir);
    FILE *cf = fopen (path, "r");
    assert_non_null (cf);
    char cue [8192];
    size_t cn = fread (cue, 1, sizeof cue - 1, cf);
    cue [cn] = 0;
    fclose (cf);
    assert_non_null (strstr (cue, "CATALOG 0123456789012"));
    char want_file [64];
    snprintf (want_file, sizeof want_file, "FILE \"album.%s\" WAVE", prof->ext);
    assert_non_null (strstr (cue, want_file));
    for (size_t i = 0; i < f.n; i++) {
        char isrc [32];
        snprintf (isrc, sizeof isrc, "ISRC %s", f.isrcs [i]);
        assert_non_null (strstr (cue, isrc));
    }
    assert_non_null (strstr (cue, "TITLE \"Piece 1 'A'\""));

    audio_free (&whole);
    assemble_layout_free (&l);
    album_fixture_free (&f);
}

//  cd: 16-bit WAV, dithered, CUE on CD frames.
static void
test_album_cd (void **state)
{
    (void) state;
    s_check_album (profile_get (PROFILE_CD), 0);
}

//  spotify: 24-bit FLAC with a crossfade.
static void
test_album_flac_crossfade (void **state)
{
    (void) state;
    s_check_album (profile_get (PROFILE_SPOTIFY), 1);
}

//  Re-running gives the same bytes (dither seeded from the album).
static void
test_album_deterministic (void **state)
{
    (void) state;
    album_fixture_t f;
    album_fixture_make (&f, 2, 44100, 3);
    for (size_t i = 0; i < f.n; i++)
        for (size_t k = 0; k < (size_t) f.audio [i].frames * 2; k++)
            f.audio [i].data [k] *= 0.1f;
    char d1 [512], d2 [512], err [512];
    snprintf (d1, sizeof d1, "%s/a", testsig_tmpdir ("assemble_det"));
    snprintf (d2, sizeof d2, "%s/b", testsig_tmpdir ("assemble_det"));
    assemble_layout_t l;
    assert_int_equal (assemble_album (&f.album, profile_get (PROFILE_CD), f.audio, f.n, d1, &l, err, sizeof err), 0);
    assemble_layout_free (&l);
    assert_int_equal (assemble_album (&f.album, profile_get (PROFILE_CD), f.audio, f.n, d2, &l, err, sizeof err), 0);
    assemble_layout_free (&l);
    char cmd [1200];
    snprintf (cmd, sizeof cmd, "cmp -s '%s/album.wav' '%s/album.wav'", d1, d2);
    assert_int_equal (system (cmd), 0);
    album_fixture_free (&f);
}

//  A source that makes its tracks up as they are read (a 997 Hz sine at
//  -12 dBFS, continuous over the track): no track is ever held.
#define S_GEN_RATE  48000
static int
s_gen_open (void *arg, size_t i, audio_t *info, char *err, size_t err_size)
{
    (void) err;
    (void) err_size;
    memset (info, 0, sizeof *info);
    info->frames = ((const int64_t *) arg) [i];
    info->channels = 2;
    info->rate_hz = S_GEN_RATE;
    return 0;
}

static int
s_gen_read (void *arg, size_t i, int64_t at, float *buf, int64_t n, char *err, size_t err_size)
{
    (void) err;
    (void) err_size;
    if (at < 0 || at + n > ((const int64_t *) arg) [i])
        return MF_ERR_INVALID;
    for (int64_t f = 0; f < n; f++) {
        float v = (float) (0.25 * sin (2.0 * M_PI * 997.0 * (double) (at + f) / S_GEN_RATE));
        buf [2 * f] = v;
        buf [2 * f + 1] = v;
    }
    return 0;
}

//  Resident memory of this process now (VmRSS), in MB.
static double
s_rss_mb (void)
{
    FILE *f = fopen ("/proc/self/status", "r");
    char line [256];
    double mb = -1;
    while (f && fgets (line, sizeof line, f))
        if (strncmp (line, "VmRSS:", 6) == 0)
            mb = atof (line + 6) / 1024.0;
    if (f)
        fclose (f);
    return mb;
}

//  The album stage streams: a 12-minute album (four 3-minute tracks with
//  a crossfade, broadcast: 48 kHz 24-bit WAV) is assembled in a few MB,
//  where holding it (tracks and timeline in float) took 2 x 276 MB.
//  It runs in a child process, whose peak (ru_maxrss, which starts from
//  the pages it shares with this one) is read when it ends. The album
//  file holds every frame of the layout and its loudness is measured (a
//  997 Hz sine at -12 dBFS peak on both channels reads -12.04 LUFS).
static void
test_album_stream_memory (void **state)
{
    (void) state;
    spec_album_t al;
    spec_track_t t [4];
    s_album (&al, t, 4);
    t [2].s.crossfade_s = 2.0;
    int64_t frames [4];
    for (int i = 0; i < 4; i++)
        frames [i] = 3 * 60 * (int64_t) S_GEN_RATE;
    assemble_source_t src = { s_gen_open, s_gen_read, frames };
    char dir [512];
    snprintf (dir, sizeof dir, "%s/out", testsig_tmpdir ("assemble_stream"));
    int fds [2];
    assert_int_equal (pipe (fds), 0);
    double before = s_rss_mb ();
    assert_true (before > 0);
    fflush (NULL);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        close (fds [0]);
        char err [512] = "", line [640];
        assemble_layout_t l;
        int rc = assemble_album_stream (&al, profile_get (PROFILE_BROADCAST), &src, 4, NULL, 0,
                                        true, dir, &l, err, sizeof err);
        int n = rc ? snprintf (line, sizeof line, "error %s\n", err)
                   : snprintf (line, sizeof line, "ok %.4f %lld\n", l.album_lufs,
                               (long long) l.total_frames);
        if (write (fds [1], line, (size_t) n) != n)
            _exit (2);
        _exit (rc ? 1 : 0);
    }
    close (fds [1]);
    char line [640] = "";
    ssize_t got = read (fds [0], line, sizeof line - 1);
    close (fds [0]);
    line [got > 0 ? got : 0] = '\0';
    line [strcspn (line, "\n")] = '\0';
    int status = 0;
    struct rusage ru;
    assert_int_equal (wait4 (pid, &status, 0, &ru), pid);
    double peak = (double) ru.ru_maxrss / 1024.0;
    print_message ("12-minute album: %s; the assembling process peaked at %.1f MB (this "
                   "one held %.1f MB)\n", line, peak, before);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        fail_msg ("assemble_album_stream failed: %s", line);
    double lufs = 0;
    long long total = 0;
    assert_int_equal (sscanf (line, "ok %lf %lld", &lufs, &total), 2);
    assert_true (peak < before + 64.0);
    assert_true (fabs (lufs - (-12.04)) < 0.05);
    //  the album file's header, without reading its 276 MB
    char path [700], err [512];
    snprintf (path, sizeof path, "%s/album.wav", dir);
    int fd = open (path, O_RDONLY);
    assert_true (fd >= 0);
    audio_stream_t *st = NULL;
    audio_t info;
    assert_int_equal (audio_stream_open_fd (fd, path, &st, &info, err, sizeof err), 0);
    assert_int_equal (info.frames, total);
    audio_stream_close (&st);
    close (fd);
    char cmd [700];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal (system (cmd), 0);
}

//  A crossfade of two in-phase sines would sum to +3 dB; the overlap is
//  dipped so the album stays under the ceiling (own true-peak meter,
//  ITU-R BS.1770-4 Annex 2), and outside the overlap nothing changes.
static void
test_crossfade_ceiling (void **state)
{
    (void) state;
    spec_album_t a;
    spec_track_t t [2];
    s_album (&a, t, 2);
    t [0].s.gap_s = 0.0;
    t [1].s.gap_s = 0.0;
    t [0].s.crossfade_s = 1.0;                     //  44100 frames, 441 periods
    audio_t tr [2];
    for (int i = 0; i < 2; i++) {
        testsig_alloc (&tr [i], 44100 * 3, 2, 44100);
        testsig_add_sine (&tr [i], 441.0, 0.84, 0.0, 0, tr [i].frames);   //  -1.5 dBFS
    }
    char err [512];
    assemble_layout_t l;
    const char *dir = testsig_tmpdir ("assemble_xf");
    assert_int_equal (assemble_album (&a, profile_get (PROFILE_SPOTIFY), tr, 2, dir, &l, err, sizeof err), 0);
    char path [1024];
    snprintf (path, sizeof path, "%s/album.flac", dir);
    audio_t whole;
    s_read (path, &whole);
    truepeak_t *tp = truepeak_new (44100, 2);
    truepeak_process (tp, whole.data, (size_t) whole.frames);
    double peak = truepeak_max_dbtp (tp);
    truepeak_destroy (&tp);
    printf ("# crossfade of in-phase sines: true peak %.3f dBTP (ceiling -1.0)\n", peak);
    assert_true (peak <= -1.0);
    //  before the overlap: the first track untouched (24-bit: within 1 LSB)
    for (int64_t k = 0; k < 44100 * 2; k += 37)
        assert_true (fabs (whole.data [k * 2] - tr [0].data [k * 2]) <= ldexp (1.0, -23));
    audio_free (&whole);
    audio_free (&tr [0]);
    audio_free (&tr [1]);
    assemble_layout_free (&l);
}

//  Auto-trim drops leading and trailing near-silence below trim_db.
static void
test_trim (void **state)
{
    (void) state;
    spec_album_t a;
    spec_track_t t [1];
    s_album (&a, t, 1);
    t [0].s.trim = true;
    t [0].s.trim_db = -60.0;
    t [0].s.gap_s = 1.0;
    audio_t tr;
    testsig_alloc (&tr, 44100 * 3, 2, 44100);
    testsig_add_noise (&tr, 1e-5, 5);                              //  -100 dBFS floor
    testsig_add_sine (&tr, 1000.0, 0.5, 1.0, 22050, 44100 * 3 - 22050 - 13230);
    char err [512];
    assemble_layout_t l;
    const char *dir = testsig_tmpdir ("assemble_trim");
    assert_int_equal (assemble_album (&a, profile_get (PROFILE_APPLE), &tr, 1, dir, &l, err, sizeof err), 0);
    assert_int_equal (l.tracks [0].trim_lead, 22050);
    assert_int_equal (l.tracks [0].trim_trail, 13230);
    assert_int_equal (l.tracks [0].audio_frames, 44100 * 3 - 22050 - 13230);
    assert_int_equal (l.total_frames, 44100 + l.tracks [0].audio_frames);
    audio_free (&tr);
    assemble_layout_free (&l);
}

//  Quantise once: tracks already on the 16-bit grid (as the master stage
//  delivers them for cd) keep every sample bit for bit outside their
//  fades; only the faded frames are dithered again.
static void
test_quantise_once (void **state)
{
    (void) state;
    spec_album_t a;
    spec_track_t t [1];
    s_album (&a, t, 1);
    t [0].s.fade_out_s = 0.5;
    a.s.chain.dither = true;               //  TPDF, as a cd album has it
    audio_t tr;
    testsig_alloc (&tr, 44100 * 5, 2, 44100);
    testsig_add_noise (&tr, 0.1, 11);
    for (size_t k = 0; k < (size_t) tr.frames * 2; k++)
        tr.data [k] = (float) (nearbyint (tr.data [k] * 32768.0) / 32768.0);
    //  the grid's edges, outside the fade: -1 is on it, +1 is not (over
    //  the word), nor is a sample a third of a step off one
    const int64_t on_neg = 30000, over = 90001, third = 150002, both = 180003;
    tr.data [on_neg * 2] = -1.0f;
    tr.data [over * 2 + 1] = 1.0f;
    tr.data [third * 2] += (float) (1.0 / 3.0 / 32768.0);
    tr.data [both * 2] = -1.0f;
    tr.data [both * 2 + 1] = (float) (-1.0 + 1.0 / 3.0 / 32768.0);
    //  a run of 4000 frames a third of a step off: dithered, not rounded
    //  (rounding would give each the same error)
    const int64_t run_from = 4000, run_to = 8000;
    for (int64_t f = run_from; f < run_to; f++)
        tr.data [f * 2] += (float) (1.0 / 3.0 / 32768.0);
    char err [512], path [1024];
    assemble_layout_t l;
    const char *dir = testsig_tmpdir ("assemble_q");
    assert_int_equal (assemble_album (&a, profile_get (PROFILE_CD), &tr, 1, dir, &l, err, sizeof err), 0);
    snprintf (path, sizeof path, "%s/album.wav", dir);
    audio_t whole;
    s_read (path, &whole);
    int64_t fade_from = tr.frames - 22050, changed = 0, errors [17] = { 0 };
    for (int64_t f = 0; f < tr.frames; f++)
        for (int c = 0; c < 2; c++) {
            float in = tr.data [(size_t) f * 2 + c], out = whole.data [(size_t) (l.tracks [0].audio_start + f) * 2 + c];
            //  a frame with a sample off the grid is dithered whole
            bool in_run = f >= run_from && f < run_to;
            bool frame_off = f == over || f == third || f == both || in_run;
            bool off = (f == over && c == 1) || (f == third && c == 0)
                    || (f == both && c == 1) || (in_run && c == 0);
            if (in_run && c == 0) {
                int e = (int) lrint ((out - in) * 3.0 * 32768.0);       //  thirds of a step
                errors [e + 8 < 0 ? 0 : e + 8 > 16 ? 16 : e + 8]++;
            }
            if (f < fade_from && !frame_off)
                assert_true (in == out);
            else
            if (f < fade_from) {
                assert_true (!off || in != out);  //  now on the grid
                assert_true (fabsf (in - out) < 4.0f / 32768.0f);
            }
            else
                changed += in != out;
        }
    assert_true (changed > 40000);         //  the fade did act
    int kinds = 0;
    for (int k = 0; k < 17; k++)
        kinds += errors [k] > 100;
    assert_true (kinds >= 2);
    audio_free (&whole);
    audio_free (&tr);
    assemble_layout_free (&l);
}

//  A cd album spec of n tracks with dither (noise-shaped or flat TPDF) and
//  gap_s before each track, the album's settings on every track.
static void
s_cd_album (spec_album_t *a, spec_track_t *t, size_t n, bool shaped, double gap_s)
{
    s_album (a, t, n);
    a->s.chain.dither = true;
    a->s.chain.noise_shaping = shaped;
    for (size_t i = 0; i < n; i++) {
        t [i].s = a->s;
        t [i].s.gap_s = gap_s;
    }
}

//  Stereo noise (0.1, seed) of seconds at 44.1 kHz on the 24-bit grid, as
//  the farm's masters come to the assembly.
static void
s_noise24 (audio_t *tr, double seconds, uint64_t seed)
{
    testsig_alloc (tr, (int64_t) (44100 * seconds), 2, 44100);
    testsig_add_noise (tr, 0.1, seed);
    for (size_t k = 0; k < (size_t) tr->frames * 2; k++)
        tr->data [k] = (float) (nearbyint (tr->data [k] * 8388608.0) / 8388608.0);
}

//  A cd album from masters on the 24-bit grid, as the farm hands them
//  over: the assembly dithers them to 16 bits once. With TPDF the total
//  error of one dither has power q^2/4 (dither.h), white; a second dither
//  on top would double it. Gaps stay digital silence.
static void
test_dither_24_once (void **state)
{
    (void) state;
    spec_album_t a;
    spec_track_t t [2];
    s_cd_album (&a, t, 2, false, 2.0);
    audio_t tr [2];
    for (int i = 0; i < 2; i++)
        s_noise24 (&tr [i], 6.0, 21 + (uint64_t) i);
    char err [512], path [1024];
    assemble_layout_t l;
    const char *dir = testsig_tmpdir ("assemble_d24");
    assert_int_equal (assemble_album (&a, profile_get (PROFILE_CD), tr, 2, dir, &l, err,
                                      sizeof err), 0);
    snprintf (path, sizeof path, "%s/album.wav", dir);
    audio_t whole;
    s_read (path, &whole);
    assert_int_equal (whole.bits, 16);
    const double q = 1.0 / 32768.0;
    double sum = 0.0, sum2 = 0.0, cross = 0.0, sig2 = 0.0;
    int64_t n = 0;
    for (int i = 0; i < 2; i++) {
        const int64_t at = l.tracks [i].audio_start;
        for (int64_t f = 0; f < tr [i].frames; f++)
            for (int c = 0; c < 2; c++) {
                double in = tr [i].data [(size_t) f * 2 + c];
                double e = whole.data [(size_t) (at + f) * 2 + c] - in;
                assert_true (fabs (e) <= 1.5 * q + 1e-12);   //  TPDF: at most 1.5 steps
                sum += e;
                sum2 += e * e;
                cross += e * in;
                sig2 += in * in;
                n++;
            }
        //  the gap before each track: zeros, bit for bit
        for (int64_t f = at - 44100; f < at; f++)
            assert_true (whole.data [(size_t) f * 2] == 0.0f
                         && whole.data [(size_t) f * 2 + 1] == 0.0f);
    }
    double mean = sum / (double) n, power = sum2 / (double) n / (q * q);
    printf ("# 24-bit masters dithered to 16: error mean %.3g steps, power %.4f q^2 "
            "(one TPDF dither 0.25, two 0.5)\n", mean / q, power);
    assert_true (fabs (mean / q) < 0.01);
    assert_true (power > 0.24 && power < 0.26);
    //  independent of the signal (first moment): correlation near 0
    assert_true (fabs (cross / sqrt (sum2 * sig2)) < 0.01);
    audio_free (&whole);
    for (int i = 0; i < 2; i++)
        audio_free (&tr [i]);
    assemble_layout_free (&l);
}

//  A track's cd file does not change when another track does: the
//  dither starts again at each file, from its own seed. Track 1 comes
//  longer and different the second time; tracks 2 and 3 (with fades and
//  their gaps) are the same samples, so their files are the same bytes.
static void
test_dither_per_file (void **state)
{
    (void) state;
    spec_album_t a;
    spec_track_t t [3];
    s_cd_album (&a, t, 3, true, 1.0);
    for (size_t i = 0; i < 3; i++) {
        t [i].s.fade_in_s = 0.3;
        t [i].s.fade_out_s = 0.7;
    }
    audio_t tr [3];
    char dirs [2][512];
    for (int run = 0; run < 2; run++) {
        for (int i = 0; i < 3; i++)
            s_noise24 (&tr [i], i == 0 && run ? 7.0 : 5.0,
                       (uint64_t) (31 + i + (i == 0 ? 10 * run : 0)));
        char err [512];
        assemble_layout_t l;
        snprintf (dirs [run], sizeof dirs [run], "%s/%d", testsig_tmpdir ("assemble_pf"), run);
        assert_int_equal (assemble_album (&a, profile_get (PROFILE_CD), tr, 3, dirs [run], &l,
                                          err, sizeof err), 0);
        assemble_layout_free (&l);
        for (int i = 0; i < 3; i++)
            audio_free (&tr [i]);
    }
    for (int i = 0; i < 3; i++) {
        char name [256], p0 [1024], p1 [1024];
        assert_int_equal (fsutil_track_file_name (i + 1, t [i].title, "wav", name, sizeof name), 0);
        snprintf (p0, sizeof p0, "%s/%s", dirs [0], name);
        snprintf (p1, sizeof p1, "%s/%s", dirs [1], name);
        audio_t x, y;
        s_read (p0, &x);
        s_read (p1, &y);
        bool same = x.frames == y.frames
                 && !memcmp (x.data, y.data, (size_t) x.frames * 2 * sizeof *x.data);
        printf ("# track %d's cd file: %s\n", i + 1, same ? "the same samples" : "changed");
        assert_true (i == 0 ? !same : same);
        audio_free (&x);
        audio_free (&y);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_layout_gaps_crossfade),
        cmocka_unit_test (test_layout_cd_frames),
        cmocka_unit_test (test_cd_refusals),
        cmocka_unit_test (test_silence),
        cmocka_unit_test (test_album_cd),
        cmocka_unit_test (test_album_flac_crossfade),
        cmocka_unit_test (test_album_deterministic),
        cmocka_unit_test (test_crossfade_ceiling),
        cmocka_unit_test (test_trim),
        cmocka_unit_test (test_quantise_once),
        cmocka_unit_test (test_dither_24_once),
        cmocka_unit_test (test_dither_per_file),
        cmocka_unit_test (test_album_stream_memory),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
