/*  The generated test album (see album_fixture.h).  */
#include "album_fixture.h"
#include "testsig.h"

#include <ebur128.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Neutral album settings for tests (see the header).
void
album_fixture_settings (settings_t *s)
{
    memset (s, 0, sizeof *s);
    s->profiles = (1u << PROFILE_SPOTIFY) | (1u << PROFILE_CD);
    s->loudness.policy = POLICY_ALBUM;
    s->loudness.has_target = true;
    s->loudness.target_lufs = -14.0;
    s->loudness.has_true_peak = true;
    s->loudness.true_peak_dbtp = -1.0;
    s->loudness.max_deviation_lu = 3.0;
    s->tonal.match = TONAL_OFF;
    s->tonal.strength = 0.5;
    s->tonal.max_db = 3.0;
    s->tonal.reference_track = -1;
    s->chain.highpass_order = 2;
    s->chain.stereo.width = 1.0;
    s->chain.limiter.enabled = true;
    s->chain.limiter.ceiling_dbtp = NAN;
    s->chain.limiter.lookahead_ms = 2.0;
    s->chain.limiter.release_ms = 80.0;
    s->chain.limiter.max_gr_db = 12.0;
    s->chain.dither = true;
    s->gap_s = 2.0;
    s->fade_curve = FADE_EQUAL_POWER;
    s->trim_db = -60.0;
}

//  Integrated loudness of audio by libebur128, LUFS.
double
album_fixture_lufs (const audio_t *a)
{
    ebur128_state *st = ebur128_init ((unsigned) a->channels, (unsigned long) a->rate_hz, EBUR128_MODE_I);
    if (!st)
        abort ();
    ebur128_add_frames_float (st, a->data, (size_t) a->frames);
    double l = -HUGE_VAL;
    ebur128_loudness_global (st, &l);
    ebur128_destroy (&st);
    return l;
}

//  Gain in dB of the tilt at f Hz (tilt dB per decade around 1 kHz).
static double
s_tilt (double f_hz, double tilt_db)
{
    return tilt_db * log10 (f_hz / 1000.0);
}

//  One music-like track at a tilt and loudness (see the header).
void
album_fixture_track (audio_t *out, double seconds, int rate_hz, double tilt_db,
                     double level_lufs, uint64_t seed)
{
    int64_t frames = (int64_t) llround (seconds * rate_hz);
    testsig_alloc (out, frames, 2, rate_hz);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, seed);
    double *l = calloc ((size_t) frames, sizeof *l);
    double *r = calloc ((size_t) frames, sizeof *r);
    if (!l || !r)
        abort ();
    //  bed: partials 1/6 octave apart, pink-ish, slow independent motion
    for (double f = 40.0; f < 16000.0; f *= pow (2.0, 1.0 / 6.0)) {
        double fj = f * (1.0 + 0.02 * (testsig_rng_uniform (&rng) - 0.5));
        double amp_db = -3.0 * log2 (fj / 1000.0) + s_tilt (fj, tilt_db)
                      + 2.0 * (testsig_rng_uniform (&rng) - 0.5);
        double amp = pow (10.0, amp_db / 20.0);
        double ph_l = 2 * M_PI * testsig_rng_uniform (&rng);
        double ph_r = ph_l + 0.6 * (testsig_rng_uniform (&rng) - 0.5);
        double lfo_hz = 0.1 + 0.6 * testsig_rng_uniform (&rng);
        double lfo_ph = 2 * M_PI * testsig_rng_uniform (&rng);
        double w = 2 * M_PI * fj / rate_hz, wl = 2 * M_PI * lfo_hz / rate_hz;
        //  phasor recurrences (rotation by w per sample), re-anchored
        //  every 4096 samples so rounding cannot accumulate
        double cw = cos (w), sw = sin (w), cl = cos (wl), sl = sin (wl);
        double xl = 0, yl = 0, xr = 0, yr = 0, xm = 0, ym = 0;
        for (int64_t i = 0; i < frames; i++) {
            if ((i & 4095) == 0) {
                xl = cos (w * (double) i + ph_l); yl = sin (w * (double) i + ph_l);
                xr = cos (w * (double) i + ph_r); yr = sin (w * (double) i + ph_r);
                xm = cos (wl * (double) i + lfo_ph); ym = sin (wl * (double) i + lfo_ph);
            }
            double m = amp * (0.75 + 0.25 * ym);
            l [i] += m * yl;
            r [i] += m * yr;
            double t;
            t = xl * cw - yl * sw; yl = yl * cw + xl * sw; xl = t;
            t = xr * cw - yr * sw; yr = yr * cw + xr * sw; xr = t;
            t = xm * cl - ym * sl; ym = ym * cl + xm * sl; xm = t;
        }
    }
    //  kick-like bursts: 55 Hz falling to 45 Hz, 120 bpm, 150 ms decay
    double kick_amp = 4.0 * pow (10.0, s_tilt (50.0, tilt_db) / 20.0);
    int64_t beat = rate_hz / 2;
    for (int64_t b0 = 0; b0 < frames; b0 += beat)
        for (int64_t i = 0; i < beat && b0 + i < frames; i++) {
            double t = (double) i / rate_hz;
            double v = kick_amp * exp (-t / 0.15) * sin (2 * M_PI * (45.0 * t + 10.0 * 0.1 * (1 - exp (-t / 0.1))));
            l [b0 + i] += v;
            r [b0 + i] += v;
        }
    //  melody: notes of 0.5 s from a pentatonic scale, 5 harmonics, ADSR
    static const double scale [] = { 220.0, 246.9, 277.2, 329.6, 370.0, 440.0, 493.9 };
    int64_t note = rate_hz / 2;
    for (int64_t n0 = 0; n0 < frames; n0 += note) {
        double f0 = scale [(int) (testsig_rng_uniform (&rng) * 7) % 7];
        for (int h = 1; h <= 5; h++) {
            double a = 1.2 / h * pow (10.0, s_tilt (f0 * h, tilt_db) / 20.0);
            double w = 2 * M_PI * f0 * h / rate_hz;
            for (int64_t i = 0; i < note && n0 + i < frames; i++) {
                double t = (double) i / rate_hz;
                double env = fmin (1.0, t / 0.01) * (0.6 + 0.4 * exp (-t / 0.08)) * fmin (1.0, (0.5 - t) / 0.05);
                double v = a * env * sin (w * (double) i);
                l [n0 + i] += 0.8 * v;
                r [n0 + i] += 0.6 * v;
            }
        }
    }
    for (int64_t i = 0; i < frames; i++) {
        out->data [2 * i] = (float) l [i];
        out->data [2 * i + 1] = (float) r [i];
    }
    free (l);
    free (r);
    //  scale to the planned loudness (twice: float rounding is negligible)
    for (int k = 0; k < 2; k++) {
        double g = pow (10.0, (level_lufs - album_fixture_lufs (out)) / 20.0);
        for (size_t i = 0; i < (size_t) frames * 2; i++)
            out->data [i] = (float) (out->data [i] * g);
    }
}

//  Fisher-Yates shuffle of 0..n-1.
static void
s_shuffle (int *perm, size_t n, testsig_rng_t *rng)
{
    for (size_t i = 0; i < n; i++)
        perm [i] = (int) i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t) (testsig_rng_uniform (rng) * (double) i) % i;
        int t = perm [i - 1];
        perm [i - 1] = perm [j];
        perm [j] = t;
    }
}

//  The n-track album with its spec (see the header).
void
album_fixture_make (album_fixture_t *f, size_t n, int rate_hz, uint64_t seed)
{
    memset (f, 0, sizeof *f);
    if (n < 1)
        n = 1;
    if (n > ALBUM_FIXTURE_MAX)
        n = ALBUM_FIXTURE_MAX;
    f->n = n;
    testsig_rng_t rng;
    testsig_rng_seed (&rng, seed);
    int pl [ALBUM_FIXTURE_MAX], pt [ALBUM_FIXTURE_MAX];
    s_shuffle (pl, n, &rng);
    s_shuffle (pt, n, &rng);
    f->album.title = "Fixture Album";
    f->album.artist = "The Generators";
    f->album.upc = "0123456789012";
    album_fixture_settings (&f->album.s);
    f->album.tracks = f->tracks;
    f->album.n_tracks = n;
    for (size_t i = 0; i < n; i++) {
        double u = n > 1 ? (double) pl [i] / (double) (n - 1) : 0.0;
        double v = n > 1 ? (double) pt [i] / (double) (n - 1) : 0.5;
        f->lufs [i] = -9.0 - 12.0 * u;
        f->tilt_db [i] = -6.0 + 12.0 * v;
        double seconds = 6.0 + 4.0 * testsig_rng_uniform (&rng);
        album_fixture_track (&f->audio [i], seconds, rate_hz, f->tilt_db [i], f->lufs [i],
                             seed * 1000003u + i + 1);
        f->lufs [i] = album_fixture_lufs (&f->audio [i]);
        snprintf (f->titles [i], sizeof f->titles [i], "Piece %zu \"%c\"", i + 1, (char) ('A' + i));
        snprintf (f->paths [i], sizeof f->paths [i], "fixture/%02zu.wav", i + 1);
        snprintf (f->isrcs [i], sizeof f->isrcs [i], "USMF%c26%05zu", 'A', i + 1);
        f->tracks [i].title = f->titles [i];
        f->tracks [i].path = f->paths [i];
        f->tracks [i].isrc = f->isrcs [i];
        f->tracks [i].s = f->album.s;
    }
}

//  Frees the fixture's audio.
void
album_fixture_free (album_fixture_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        audio_free (&f->audio [i]);
    f->n = 0;
}
