/*  tool_gen_album: writes a music-like test album (or catalog of albums)
    and the job spec that masters it.

    Each track is a short piece built from code alone, deterministic for a
    seed: a chord progression of harmonic tones with note envelopes
    (attack, decay, sustain, release), band-limited noise in octave bands
    (a pad of "air" and "room"), kick-like and hat-like transients on a
    beat grid, and a slow section envelope (quiet verse, loud chorus).
    Tracks differ on purpose, as real mixes do:
      - integrated loudness (ITU-R BS.1770-4, measured with libebur128)
        spread evenly over --spread-lu LU (default 12), in a shuffled order;
      - spectral tilt spread evenly over +-(--tilt-db) dB/decade around
        1 kHz (default 6), applied to every partial and noise band.
    Layout under OUTDIR:
      OUTDIR/job.json                       the job spec (paths relative to OUTDIR)
      OUTDIR/catalog.csv                    the same as a CSV catalog (--csv)
      OUTDIR/albumA/NN - Title.wav          the tracks
    --mark K:WORD puts WORD into track K's file name and title so that a
    worker fault hook (MASTERFARM_FAULT=crash:WORD) can pick that track.
    --silent K:S makes track K of every album S seconds of digital silence
    (an interlude); --rates LIST gives the tracks' sample rates in turn
    (48000,44100: odd tracks at 48 kHz, even ones at 44.1 kHz).
    A summary line per track (file, LUFS, tilt) goes to stdout.  */
#include <ebur128.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "testsig.h"

#define MAX_MARKS   16
#define MAX_TRACKS  999

typedef struct {
    const char *out_dir;       //  folder to write into
    int         albums;        //  number of albums
    int         tracks;        //  tracks per album
    double      seconds;       //  length of each track, s
    double      vary;          //  relative length variation, 0 .. 0.5
    int         rate_hz;
    int         bits;          //  16, 24 or 32 (float)
    int         channels;
    uint64_t    seed;
    double      spread_lu;     //  loudness spread over the album, LU
    double      loudest_lufs;  //  the loudest track's integrated loudness
    double      tilt_db;       //  +- spectral tilt per decade, dB
    const char *profiles;      //  comma-separated profile names
    const char *policy;        //  loudness policy
    double      target_lufs;
    double      gap_s;
    bool        csv;           //  also write catalog.csv
    int         mark_track [MAX_MARKS];   //  1-based track index in album 1
    const char *mark_word [MAX_MARKS];
    int         n_marks;
    int         silent_track;  //  1-based, 0: none
    double      silent_s;
    int         rates [8];     //  per-track rates in turn (n_rates 0: rate_hz)
    int         n_rates;
} s_opts_t;

//  Note names for titles, so that titles read like titles.
static const char *s_words [] = {
    "Intro", "Harbour Lights", "Northern Line", "Glass", "Paper Moon",
    "Slow Engine", "Tide", "Copper", "Late Train", "Static", "Orchard",
    "Signal Fire", "Lanterns", "Outro"
};

//  A biquad band-pass (RBJ Audio EQ Cookbook, constant 0 dB peak gain).
typedef struct {
    double b0, b1, b2, a1, a2;
    double z1 [AUDIO_MAX_CHANNELS], z2 [AUDIO_MAX_CHANNELS];
} s_bpf_t;

//  Prints usage to out.
static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: tool_gen_album OUTDIR [options]\n"
        "  --tracks N        tracks per album (default 8)\n"
        "  --albums N        albums (default 1)\n"
        "  --seconds S       track length in seconds (default 5)\n"
        "  --vary F          vary lengths by up to +-F (fraction, default 0)\n"
        "  --rate HZ         sample rate (default 44100)\n"
        "  --bits B          16, 24 or 32 (float) (default 24)\n"
        "  --channels C      1 or 2 (default 2)\n"
        "  --seed N          generator seed (default 1)\n"
        "  --spread-lu LU    loudness spread between tracks (default 12)\n"
        "  --loudest LUFS    loudest track's loudness (default -10)\n"
        "  --tilt-db DB      spectral tilt range +-DB per decade (default 6)\n"
        "  --profiles LIST   job profiles, comma-separated (default spotify)\n"
        "  --policy NAME     loudness policy (default album)\n"
        "  --target LUFS     loudness target (default -14)\n"
        "  --gap S           gap between tracks in seconds (default 2)\n"
        "  --mark K:WORD     put WORD in track K's name (album 1), e.g. 3:crashme\n"
        "  --silent K:S      track K of each album is S s of digital silence\n"
        "  --rates LIST      per-track sample rates in turn, e.g. 48000,44100\n"
        "  --csv             also write catalog.csv\n");
}

//  Parses a number option; exits with usage error on a bad value.
static double
s_num (const char *opt, const char *val, double lo, double hi)
{
    char *end = NULL;
    errno = 0;
    double v = val ? strtod (val, &end) : NAN;
    if (!val || errno || end == val || *end || !(v >= lo && v <= hi)) {
        fprintf (stderr, "tool_gen_album: %s needs a number in %g .. %g (got '%s')\n",
                 opt, lo, hi, val ? val : "");
        exit (2);
    }
    return v;
}

//  Creates a folder (and its parents); exits on failure.
static void
s_mkdirs (const char *path)
{
    char buf [4096];
    snprintf (buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir (buf, 0755);
            *p = '/';
        }
    if (mkdir (buf, 0755) != 0 && errno != EEXIST) {
        fprintf (stderr, "tool_gen_album: cannot create %s: %s\n", buf, strerror (errno));
        exit (1);
    }
}

//  Sets a band-pass at centre f0_hz with quality q for rate_hz.
static void
s_bpf_init (s_bpf_t *f, double f0_hz, double q, int rate_hz)
{
    memset (f, 0, sizeof *f);
    double w0 = 2.0 * M_PI * f0_hz / rate_hz;
    double alpha = sin (w0) / (2.0 * q);
    double a0 = 1.0 + alpha;
    f->b0 = alpha / a0;
    f->b1 = 0.0;
    f->b2 = -alpha / a0;
    f->a1 = -2.0 * cos (w0) / a0;
    f->a2 = (1.0 - alpha) / a0;
}

//  Filters one sample of channel ch (transposed direct form II).
static inline double
s_bpf_run (s_bpf_t *f, int ch, double x)
{
    double y = f->b0 * x + f->z1 [ch];
    f->z1 [ch] = f->b1 * x - f->a1 * y + f->z2 [ch];
    f->z2 [ch] = f->b2 * x - f->a2 * y;
    return y;
}

//  Linear gain of a spectral tilt of tilt_db per decade at freq_hz,
//  pivoting at 1 kHz.
static double
s_tilt_gain (double tilt_db, double freq_hz)
{
    return pow (10.0, tilt_db * log10 (freq_hz / 1000.0) / 20.0);
}

//  Note envelope at time t_s after onset for a note of length len_s:
//  10 ms attack, decay to 0.6 over 200 ms, release over the last 150 ms.
static double
s_adsr (double t_s, double len_s)
{
    if (t_s < 0 || t_s >= len_s)
        return 0.0;
    double env = t_s < 0.01 ? t_s / 0.01
               : t_s < 0.21 ? 1.0 - 0.4 * (t_s - 0.01) / 0.2 : 0.6;
    double left = len_s - t_s;
    if (left < 0.15)
        env *= left / 0.15;
    return env;
}

//  Synthesises one track of frames into a (already allocated, zeroed).
//  tilt_db shapes the spectrum; rng drives the notes and the noise.
static void
s_synth (audio_t *a, double tilt_db, uint64_t seed)
{
    testsig_rng_t rng;
    testsig_rng_seed (&rng, seed);
    int rate = a->rate_hz, ch = a->channels;
    double dur_s = (double) a->frames / rate;

    //  1. Chords: a four-chord progression, two bars each at 100-130 BPM.
    static const int roots [] = { 0, 5, 7, 3, 8, 10, 2 };      //  semitones
    double bpm = 100.0 + 30.0 * testsig_rng_uniform (&rng);
    double beat_s = 60.0 / bpm, chord_s = 4 * beat_s;
    double base_hz = 110.0 * pow (2.0, (int) (testsig_rng_uniform (&rng) * 7) / 12.0);
    int key = (int) (testsig_rng_uniform (&rng) * 7);
    for (double t0 = 0.0; t0 < dur_s; t0 += chord_s) {
        int root = roots [(key + (int) (t0 / chord_s)) % 7];
        static const int triad [] = { 0, 4, 7, 12 };
        for (int n = 0; n < 4; n++) {
            double f0 = base_hz * pow (2.0, (root + triad [n]) / 12.0);
            double pan = 0.3 + 0.4 * testsig_rng_uniform (&rng);
            int64_t start = (int64_t) (t0 * rate);
            int64_t len = (int64_t) (chord_s * rate);
            for (int h = 1; h <= 8; h++) {
                double fh = f0 * h;
                if (fh > 0.45 * rate)
                    break;
                double amp = 0.08 / h * s_tilt_gain (tilt_db, fh);
                double w = 2.0 * M_PI * fh / rate;
                double ph = 2.0 * M_PI * testsig_rng_uniform (&rng);
                for (int64_t i = 0; i < len && start + i < a->frames; i++) {
                    double v = amp * s_adsr ((double) i / rate, chord_s) * sin (w * (double) i + ph);
                    float *fr = a->data + (size_t) (start + i) * ch;
                    if (ch == 1)
                        fr [0] += (float) v;
                    else {
                        fr [0] += (float) (v * (1.0 - pan) * 2.0);
                        fr [1] += (float) (v * pan * 2.0);
                    }
                }
            }
        }
    }

    //  2. Noise pad: octave bands 63 Hz .. 16 kHz, each scaled by the tilt.
    for (double fc = 63.0; fc < 0.4 * rate && fc <= 16000.0; fc *= 2.0) {
        s_bpf_t bpf;
        s_bpf_init (&bpf, fc, 1.4, rate);
        double g = 0.02 * s_tilt_gain (tilt_db, fc);
        for (int64_t i = 0; i < a->frames; i++)
            for (int c = 0; c < ch; c++)
                a->data [(size_t) i * ch + c] +=
                    (float) (g * s_bpf_run (&bpf, c, testsig_rng_gauss (&rng)));
    }

    //  3. Transients on the beat: kick (falling 90->45 Hz sine, 150 ms)
    //     on beats 1 and 3, hat (band-passed noise burst, 40 ms) on eighths.
    s_bpf_t hat;
    s_bpf_init (&hat, 8000.0 < 0.4 * rate ? 8000.0 : 0.3 * rate, 0.8, rate);
    double hat_g = 0.25 * s_tilt_gain (tilt_db, 8000.0);
    double kick_g = 0.5 * s_tilt_gain (tilt_db, 60.0);
    for (int b = 0; b * beat_s / 2 < dur_s; b++) {
        int64_t start = (int64_t) (b * beat_s / 2 * rate);
        if (b % 4 == 0) {
            double phase = 0.0;
            for (int64_t i = 0; i < (int64_t) (0.15 * rate) && start + i < a->frames; i++) {
                double t = (double) i / rate;
                phase += 2.0 * M_PI * (45.0 + 45.0 * exp (-t / 0.03)) / rate;
                double v = kick_g * exp (-t / 0.05) * sin (phase);
                for (int c = 0; c < ch; c++)
                    a->data [(size_t) (start + i) * ch + c] += (float) v;
            }
        }
        for (int64_t i = 0; i < (int64_t) (0.04 * rate) && start + i < a->frames; i++) {
            double env = exp (-((double) i / rate) / 0.01);
            for (int c = 0; c < ch; c++)
                a->data [(size_t) (start + i) * ch + c] +=
                    (float) (hat_g * env * s_bpf_run (&hat, c, testsig_rng_gauss (&rng)));
        }
    }

    //  4. Section envelope: verse at -6 dB, chorus at 0 dB, switching every
    //     4 chords with a 0.5 s ramp; 20 ms fade at both ends against clicks.
    double section_s = 4 * chord_s;
    for (int64_t i = 0; i < a->frames; i++) {
        double t = (double) i / rate;
        double pos = fmod (t, 2 * section_s);
        double g = pos < section_s ? 0.5 : 1.0;
        if (pos >= section_s && pos < section_s + 0.5)
            g = 0.5 + 0.5 * (pos - section_s) / 0.5;
        double edge = fmin (t, dur_s - t) / 0.02;
        if (edge < 1.0)
            g *= edge > 0 ? edge : 0;
        for (int c = 0; c < ch; c++)
            a->data [(size_t) i * ch + c] *= (float) g;
    }
}

//  Integrated loudness of a in LUFS (libebur128); -HUGE_VAL if silent.
static double
s_loudness (const audio_t *a)
{
    ebur128_state *st = ebur128_init ((unsigned) a->channels, (unsigned long) a->rate_hz,
                                      EBUR128_MODE_I);
    double lufs = -HUGE_VAL;
    if (!st)
        return lufs;
    ebur128_add_frames_float (st, a->data, (size_t) a->frames);
    ebur128_loudness_global (st, &lufs);
    ebur128_destroy (&st);
    return lufs;
}

//  Scales a to target_lufs; a gentle tanh saturation keeps peaks below
//  full scale on the loudest tracks (then loudness is corrected again).
//  Returns the measured loudness.
static double
s_normalise (audio_t *a, double target_lufs)
{
    size_t n = (size_t) a->frames * a->channels;
    double lufs = s_loudness (a);
    for (int pass = 0; pass < 4 && isfinite (lufs); pass++) {
        float g = (float) pow (10.0, (target_lufs - lufs) / 20.0);
        float peak = 0.0f;
        for (size_t i = 0; i < n; i++) {
            a->data [i] *= g;
            peak = fmaxf (peak, fabsf (a->data [i]));
        }
        if (peak > 0.9f)
            for (size_t i = 0; i < n; i++)
                a->data [i] = (float) (0.9 * tanh (a->data [i] / 0.9));
        lufs = s_loudness (a);
        if (fabs (lufs - target_lufs) < 0.05)
            break;
    }
    return lufs;
}

//  Appends profile names of a comma list to a JSON array.
static json_t *
s_profiles_json (const char *list)
{
    json_t *arr = json_array ();
    char buf [256];
    snprintf (buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r (buf, ",", &save); tok;
         tok = strtok_r (NULL, ",", &save))
        json_array_append_new (arr, json_string (tok));
    return arr;
}

//  The mark word for track k (1-based) of the first album, or NULL.
static const char *
s_mark (const s_opts_t *o, int album, int k)
{
    if (album != 0)
        return NULL;
    for (int i = 0; i < o->n_marks; i++)
        if (o->mark_track [i] == k)
            return o->mark_word [i];
    return NULL;
}

//  Parses the command line into o; exits 2 on bad usage.
static void
s_parse (int argc, char **argv, s_opts_t *o)
{
    *o = (s_opts_t) { .albums = 1, .tracks = 8, .seconds = 5.0, .rate_hz = 44100,
                      .bits = 24, .channels = 2, .seed = 1, .spread_lu = 12.0,
                      .loudest_lufs = -10.0, .tilt_db = 6.0, .profiles = "spotify",
                      .policy = "album", .target_lufs = -14.0, .gap_s = 2.0 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i], *v = i + 1 < argc ? argv [i + 1] : NULL;
        if (!strcmp (a, "--help") || !strcmp (a, "-h")) {
            s_usage (stdout);
            exit (0);
        }
        else if (!strcmp (a, "--csv"))
            o->csv = true;
        else if (a [0] != '-') {
            if (o->out_dir) {
                fprintf (stderr, "tool_gen_album: one OUTDIR only ('%s')\n", a);
                exit (2);
            }
            o->out_dir = a;
        }
        else if (!v) {
            fprintf (stderr, "tool_gen_album: %s needs a value\n", a);
            exit (2);
        }
        else {
            i++;
            if (!strcmp (a, "--tracks"))       o->tracks = (int) s_num (a, v, 1, MAX_TRACKS);
            else if (!strcmp (a, "--albums"))  o->albums = (int) s_num (a, v, 1, 99);
            else if (!strcmp (a, "--seconds")) o->seconds = s_num (a, v, 0.5, 3600);
            else if (!strcmp (a, "--vary"))    o->vary = s_num (a, v, 0, 0.5);
            else if (!strcmp (a, "--rate"))    o->rate_hz = (int) s_num (a, v, 8000, 192000);
            else if (!strcmp (a, "--bits"))    o->bits = (int) s_num (a, v, 16, 32);
            else if (!strcmp (a, "--channels")) o->channels = (int) s_num (a, v, 1, 2);
            else if (!strcmp (a, "--seed"))    o->seed = (uint64_t) s_num (a, v, 1, 1e15);
            else if (!strcmp (a, "--spread-lu")) o->spread_lu = s_num (a, v, 0, 30);
            else if (!strcmp (a, "--loudest")) o->loudest_lufs = s_num (a, v, -40, -6);
            else if (!strcmp (a, "--tilt-db")) o->tilt_db = s_num (a, v, 0, 12);
            else if (!strcmp (a, "--profiles")) o->profiles = v;
            else if (!strcmp (a, "--policy"))  o->policy = v;
            else if (!strcmp (a, "--target"))  o->target_lufs = s_num (a, v, -40, -5);
            else if (!strcmp (a, "--gap"))     o->gap_s = s_num (a, v, 0, 60);
            else if (!strcmp (a, "--silent")) {
                char buf [64];
                snprintf (buf, sizeof buf, "%s", v);
                char *colon = strchr (buf, ':');
                if (!colon) {
                    fprintf (stderr, "tool_gen_album: --silent needs K:SECONDS (got '%s')\n", v);
                    exit (2);
                }
                *colon = 0;
                o->silent_track = (int) s_num (a, buf, 1, MAX_TRACKS);
                o->silent_s = s_num (a, colon + 1, 0.5, 3600);
            }
            else if (!strcmp (a, "--rates")) {
                char buf [256];
                snprintf (buf, sizeof buf, "%s", v);
                o->n_rates = 0;
                for (char *save = NULL, *tok = strtok_r (buf, ",", &save); tok;
                     tok = strtok_r (NULL, ",", &save)) {
                    if (o->n_rates == 8) {
                        fprintf (stderr, "tool_gen_album: --rates takes at most 8 rates\n");
                        exit (2);
                    }
                    o->rates [o->n_rates++] = (int) s_num (a, tok, 8000, 192000);
                }
            }
            else if (!strcmp (a, "--mark")) {
                char *colon = strchr (v, ':');
                if (!colon || colon [1] == 0 || o->n_marks == MAX_MARKS) {
                    fprintf (stderr, "tool_gen_album: --mark needs K:WORD (got '%s')\n", v);
                    exit (2);
                }
                *colon = 0;
                o->mark_track [o->n_marks] = (int) s_num (a, v, 1, MAX_TRACKS);
                o->mark_word [o->n_marks++] = colon + 1;
            }
            else {
                fprintf (stderr, "tool_gen_album: unknown option '%s'\n", a);
                s_usage (stderr);
                exit (2);
            }
        }
    }
    if (!o->out_dir) {
        s_usage (stderr);
        exit (2);
    }
    if (o->bits != 16 && o->bits != 24 && o->bits != 32) {
        fprintf (stderr, "tool_gen_album: --bits must be 16, 24 or 32\n");
        exit (2);
    }
}

//  Writes the tracks and job.json (and catalog.csv); exits 0, 1 on a write
//  failure, 2 on bad usage.
int
main (int argc, char **argv)
{
    s_opts_t o;
    s_parse (argc, argv, &o);
    s_mkdirs (o.out_dir);

    json_t *job = json_object ();
    json_object_set_new (job, "name", json_string ("Generated catalog"));
    json_object_set_new (job, "priority", json_integer (5));
    json_t *defaults = json_object ();
    json_object_set_new (defaults, "profiles", s_profiles_json (o.profiles));
    json_object_set_new (defaults, "loudness",
        json_pack ("{s:s, s:f, s:f, s:f}", "policy", o.policy, "target_lufs", o.target_lufs,
                   "true_peak_dbtp", -1.0, "max_deviation_lu", 3.0));
    json_object_set_new (defaults, "gap_s", json_real (o.gap_s));
    json_object_set_new (job, "defaults", defaults);
    json_t *albums = json_array ();

    char csv_path [4096];
    snprintf (csv_path, sizeof csv_path, "%s/catalog.csv", o.out_dir);
    FILE *csv = NULL;
    if (o.csv) {
        csv = fopen (csv_path, "w");
        if (!csv) {
            fprintf (stderr, "tool_gen_album: cannot write %s: %s\n", csv_path, strerror (errno));
            return 1;
        }
        fprintf (csv, "album,track,path,title,artist,isrc,gap_s,fade_in_s,fade_out_s\n");
    }

    testsig_rng_t rng;
    testsig_rng_seed (&rng, o.seed * 0x9E3779B97F4A7C15ull);
    for (int al = 0; al < o.albums; al++) {
        char album_dir [64], album_title [64];
        snprintf (album_dir, sizeof album_dir, "album%d", al + 1);
        snprintf (album_title, sizeof album_title, "Generated Album %d", al + 1);
        char dir [4096];
        snprintf (dir, sizeof dir, "%s/%s", o.out_dir, album_dir);
        s_mkdirs (dir);

        //  Loudness and tilt ranks: evenly spread, shuffled (Fisher-Yates).
        int n = o.tracks;
        int *lrank = malloc (sizeof (int) * (size_t) n), *trank = malloc (sizeof (int) * (size_t) n);
        if (!lrank || !trank)
            return 1;
        for (int i = 0; i < n; i++)
            lrank [i] = trank [i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = (int) (testsig_rng_uniform (&rng) * (i + 1)), t = lrank [i];
            lrank [i] = lrank [j]; lrank [j] = t;
            j = (int) (testsig_rng_uniform (&rng) * (i + 1)); t = trank [i];
            trank [i] = trank [j]; trank [j] = t;
        }

        json_t *tracks = json_array ();
        for (int k = 0; k < n; k++) {
            double f = n > 1 ? (double) lrank [k] / (n - 1) : 0.0;
            double g = n > 1 ? (double) trank [k] / (n - 1) : 0.5;
            double lufs = o.loudest_lufs - o.spread_lu * f;
            double tilt = -o.tilt_db + 2.0 * o.tilt_db * g;
            double secs = o.seconds * (1.0 + o.vary * (2.0 * testsig_rng_uniform (&rng) - 1.0));

            const char *mark = s_mark (&o, al, k + 1);
            char title [160], file [256], rel [512], path [4096 + 256];
            snprintf (title, sizeof title, "%s%s%s",
                      s_words [(k + al) % (sizeof s_words / sizeof s_words [0])],
                      mark ? " " : "", mark ? mark : "");
            snprintf (file, sizeof file, "%02d - %s.wav", k + 1, title);
            snprintf (rel, sizeof rel, "%s/%s", album_dir, file);
            snprintf (path, sizeof path, "%s/%s", dir, file);

            audio_t a;
            int rate = o.n_rates ? o.rates [k % o.n_rates] : o.rate_hz;
            bool silent = k + 1 == o.silent_track;
            if (silent)
                secs = o.silent_s;
            testsig_alloc (&a, (int64_t) (secs * rate), o.channels, rate);
            double got = -HUGE_VAL;
            if (!silent) {                 //  testsig_alloc zeroes: silence
                s_synth (&a, tilt, o.seed * 1000003ull + (uint64_t) al * 1009 + (uint64_t) k + 1);
                got = s_normalise (&a, lufs);
            }
            testsig_write_wav (path, &a, o.bits);
            audio_free (&a);
            printf ("%s\t%.2f LUFS\t%+.1f dB/decade\t%.2f s\t%d Hz\n", rel, got, tilt, secs, rate);

            json_array_append_new (tracks, json_pack ("{s:s, s:s}", "path", rel, "title", title));
            if (csv)
                fprintf (csv, "%s,%d,%s,%s,Generated Artist,,%.1f,0,0\n",
                         album_title, k + 1, rel, title, o.gap_s);
        }
        free (lrank);
        free (trank);
        json_array_append_new (albums, json_pack ("{s:s, s:s, s:o}", "title", album_title,
                                                  "artist", "Generated Artist", "tracks", tracks));
    }
    json_object_set_new (job, "albums", albums);

    char job_path [4096];
    snprintf (job_path, sizeof job_path, "%s/job.json", o.out_dir);
    int rc = json_dump_file (job, job_path, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
    json_decref (job);
    if (csv && fclose (csv) != 0)
        rc = -1;
    if (rc != 0) {
        fprintf (stderr, "tool_gen_album: cannot write %s\n", job_path);
        return 1;
    }
    return 0;
}
