/*  Generated test signals and WAV fixtures.  */
#include "testsig.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
testsig_rng_seed (testsig_rng_t *rng, uint64_t seed)
{
    rng->state = seed ? seed : 0x9E3779B97F4A7C15ull;
}

double
testsig_rng_uniform (testsig_rng_t *rng)
{
    uint64_t x = rng->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->state = x;
    return (double) ((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

double
testsig_rng_gauss (testsig_rng_t *rng)
{
    double u1 = testsig_rng_uniform (rng), u2 = testsig_rng_uniform (rng);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt (-2.0 * log (u1)) * cos (2.0 * M_PI * u2);
}

void
testsig_alloc (audio_t *a, int64_t frames, int channels, int rate_hz)
{
    memset (a, 0, sizeof *a);
    a->data = calloc ((size_t) (frames > 0 ? frames : 1) * (size_t) channels, sizeof (float));
    if (!a->data) {
        fprintf (stderr, "testsig: out of memory\n");
        abort ();
    }
    a->frames = frames;
    a->channels = channels;
    a->rate_hz = rate_hz;
    a->is_float = true;
    snprintf (a->format, sizeof a->format, "generated");
}

void
testsig_add_sine (audio_t *a, double freq_hz, double amp, double phase,
                  int64_t start, int64_t frames)
{
    double w = 2.0 * M_PI * freq_hz / a->rate_hz;
    for (int64_t i = 0; i < frames && start + i < a->frames; i++) {
        float v = (float) (amp * sin (w * (double) i + phase));
        for (int c = 0; c < a->channels; c++)
            a->data [(size_t) (start + i) * a->channels + c] += v;
    }
}

void
testsig_add_noise (audio_t *a, double rms, uint64_t seed)
{
    testsig_rng_t rng;
    testsig_rng_seed (&rng, seed);
    for (size_t i = 0; i < (size_t) a->frames * a->channels; i++)
        a->data [i] += (float) (rms * testsig_rng_gauss (&rng));
}

void
testsig_write_wav (const char *path, const audio_t *a, int bits)
{
    char err [AUDIO_ERR_LEN];
    if (audio_write (path, a, OUT_WAV, bits, NULL, err, sizeof err) != 0) {
        fprintf (stderr, "testsig: %s\n", err);
        abort ();
    }
}

double
testsig_db_to_lin (double db)
{
    return pow (10.0, db / 20.0);
}

//  The scratch directories this process made, removed when it exits
//  (not by a forked child's exit; MF_KEEP=1 keeps them to look at).
static char  *s_dirs [64];
static int    s_n_dirs;
static pid_t  s_owner;

static int
s_remove_entry (const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void) st;
    (void) type;
    (void) ftw;
    remove (path);
    return 0;
}

static void
s_remove_dirs (void)
{
    const char *keep = getenv ("MF_KEEP");
    for (int i = 0; i < s_n_dirs; i++) {
        if (getpid () == s_owner && !(keep && *keep && strcmp (keep, "0")))
            nftw (s_dirs [i], s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        free (s_dirs [i]);
    }
    s_n_dirs = 0;
}

const char *
testsig_tmpdir (const char *tag)
{
    static char path [1024];
    const char *base = getenv ("MF_TEST_TMP");
    snprintf (path, sizeof path, "%s/%s.%d", base && *base ? base : "/tmp",
              tag, (int) getpid ());
    if (mkdir (path, 0755) == 0 && s_n_dirs < 64) {
        if (s_n_dirs == 0 && s_owner == 0) {
            s_owner = getpid ();
            atexit (s_remove_dirs);
        }
        if (getpid () == s_owner)
            s_dirs [s_n_dirs++] = strdup (path);
    }
    return path;
}
