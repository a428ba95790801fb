/*  masterfarm album: masters a folder of mixes as one album. The audio
    files in DIR, in name order, become the album's tracks; each title is
    the file name without its extension and without a leading track number
    ("03 - Glass.wav" -> "Glass"); the album title is the folder's name.
    The job spec built from that is written to OUTDIR/.masterfarm/album-job.json
    (so that it can be edited and re-run with `masterfarm run`) and run on
    a local farm exactly as `masterfarm run` does.  */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>

#include "client/commands.h"
#include "client/farmclient.h"
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/profile.h"

#define S_MAX_PROFILES  PROFILE_COUNT

//  Extensions libsndfile reads that we take as audio.
static const char *s_audio_ext [] = {
    "wav", "wave", "flac", "aif", "aiff", "aifc", "ogg", "oga", "opus", "mp3",
    "caf", "w64", "rf64", "au", "snd"
};

//  Prints the help text to out.
static void
s_help (FILE *out)
{
    fprintf (out,
        "usage: masterfarm album DIR -o OUTDIR [--profile NAME]... [-j WORKERS] [--quiet]\n"
        "\n"
        "Masters the audio files in DIR as one album on a local farm (as `run`).\n"
        "Tracks are the audio files in name order; titles come from file names\n"
        "(\"03 - Glass.wav\" -> \"Glass\"); the album is named after DIR.\n"
        "The generated job spec is kept in OUTDIR/.masterfarm/album-job.json.\n"
        "\n"
        "  -o OUTDIR        where the masters go (required)\n"
        "  --profile NAME   a delivery profile; repeat for several (default:\n"
        "                   spotify and cd). Names: spotify apple youtube amazon\n"
        "                   tidal cd broadcast hires\n"
        "  -j WORKERS       worker processes (default: one per core)\n"
        "  --quiet          no progress display, only the summary\n"
        "\n"
        "Exit status: 0 every output delivered, 1 a track failed, 2 bad usage.\n");
}

//  True when name ends in a known audio extension.
static bool
s_is_audio (const char *name)
{
    const char *dot = strrchr (name, '.');
    if (!dot || dot == name)
        return false;
    for (size_t i = 0; i < sizeof s_audio_ext / sizeof s_audio_ext [0]; i++)
        if (strcasecmp (dot + 1, s_audio_ext [i]) == 0)
            return true;
    return false;
}

//  qsort comparator: plain byte order of file names.
static int
s_cmp_names (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

//  Title from a file name: no extension, no leading "NN", "NN -", "NN." or
//  "NN_" track number; the whole stem if nothing would be left.
static void
s_title_from_name (const char *name, char *buf, size_t size)
{
    snprintf (buf, size, "%s", name);
    char *dot = strrchr (buf, '.');
    if (dot && dot != buf)
        *dot = 0;
    const char *p = buf;
    while (isdigit ((unsigned char) *p))
        p++;
    if (p != buf) {
        const char *q = p;
        while (*q == ' ' || *q == '-' || *q == '.' || *q == '_')
            q++;
        if (*q && q != p)
            memmove (buf, q, strlen (q) + 1);
    }
}

//  Builds the job spec for the audio files in dir. Returns a JSON object
//  (caller decrefs) or NULL with err filled (no audio, unreadable folder).
static json_t *
s_build_job (const char *dir, const char *const *profiles, int n_profiles,
             char *err, size_t err_size)
{
    DIR *d = opendir (dir);
    if (!d) {
        snprintf (err, err_size, "%.400s: cannot open folder: %s", dir, strerror (errno));
        return NULL;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (e->d_name [0] == '.' || !s_is_audio (e->d_name))
            continue;
        char path [PATH_MAX + NAME_MAX + 2];
        struct stat st;
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat (path, &st) != 0 || !S_ISREG (st.st_mode))
            continue;
        char **grown = realloc (names, sizeof *names * (n + 1));
        if (!grown || !(grown [n] = strdup (e->d_name))) {
            names = grown ? grown : names;
            break;
        }
        names = grown;
        n++;
    }
    closedir (d);
    if (n == 0) {
        snprintf (err, err_size, "%.400s: no audio files (.wav, .flac, .aiff, ...) in this folder", dir);
        free (names);
        return NULL;
    }
    qsort (names, n, sizeof *names, s_cmp_names);

    char dir_copy [PATH_MAX], album_title [PATH_MAX];
    snprintf (dir_copy, sizeof dir_copy, "%s", dir);
    snprintf (album_title, sizeof album_title, "%s", basename (dir_copy));
    json_t *tracks = json_array ();
    for (size_t i = 0; i < n; i++) {
        char title [NAME_MAX + 1];
        s_title_from_name (names [i], title, sizeof title);
        json_array_append_new (tracks, json_pack ("{s:s, s:s}", "path", names [i],
                                                  "title", title));
        free (names [i]);
    }
    free (names);
    json_t *job = json_object ();
    json_object_set_new (job, "name", json_string (album_title));
    if (n_profiles > 0) {
        json_t *list = json_array ();
        for (int i = 0; i < n_profiles; i++)
            json_array_append_new (list, json_string (profiles [i]));
        json_object_set_new (job, "defaults", json_pack ("{s:o}", "profiles", list));
    }
    json_object_set_new (job, "albums", json_pack ("[{s:s, s:o}]", "title", album_title,
                                                   "tracks", tracks));
    return job;
}

//  masterfarm album DIR -o OUT [--profile NAME]...: see s_help.
int
cmd_album (int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *profiles [S_MAX_PROFILES];
    int n_profiles = 0;
    farmclient_run_cfg_t cfg = { .command = "album" };
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i];
        bool takes = !strcmp (a, "-o") || !strcmp (a, "-j") || !strcmp (a, "--profile");
        if (!strcmp (a, "--help") || !strcmp (a, "-h")) {
            s_help (stdout);
            return EXIT_OK;
        }
        else if (!strcmp (a, "--quiet"))
            cfg.quiet = true;
        else if (takes && i + 1 >= argc) {
            fprintf (stderr, "masterfarm album: %s needs a value\n", a);
            return EXIT_USAGE;
        }
        else if (!strcmp (a, "-o"))
            out = argv [++i];
        else if (!strcmp (a, "--profile")) {
            const char *name = argv [++i];
            if (!profile_find (name)) {
                fprintf (stderr, "masterfarm album: unknown profile '%s' (spotify, apple, "
                         "youtube, amazon, tidal, cd, broadcast, hires)\n", name);
                return EXIT_USAGE;
            }
            bool dup = false;
            for (int k = 0; k < n_profiles; k++)
                dup |= strcmp (profiles [k], name) == 0;
            if (!dup && n_profiles < S_MAX_PROFILES)
                profiles [n_profiles++] = name;
        }
        else if (!strcmp (a, "-j")) {
            long n;
            if (!cli_long (argv [++i], 1, 256, &n)) {
                fprintf (stderr, "masterfarm album: -j needs a worker count, 1 .. 256\n");
                return EXIT_USAGE;
            }
            cfg.workers = (int) n;
        }
        else if (a [0] == '-') {
            fprintf (stderr, "masterfarm album: unknown option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
        else if (dir) {
            fprintf (stderr, "masterfarm album: one folder at a time ('%s' and '%s')\n", dir, a);
            return EXIT_USAGE;
        }
        else
            dir = a;
    }
    if (!dir || !out) {
        fprintf (stderr, "masterfarm album: give a folder and -o OUTDIR (see --help)\n");
        return EXIT_USAGE;
    }
    char dir_abs [PATH_MAX];
    if (!realpath (dir, dir_abs)) {
        fprintf (stderr, "masterfarm album: %s: %s\n", dir, strerror (errno));
        return EXIT_USAGE;
    }
    char err [FARMCLIENT_ERR_LEN];
    json_t *job = s_build_job (dir_abs, profiles, n_profiles, err, sizeof err);
    if (!job) {
        fprintf (stderr, "masterfarm album: %s\n", err);
        return EXIT_FAILED;
    }
    char state_dir [PATH_MAX], job_path [PATH_MAX + 32];
    snprintf (state_dir, sizeof state_dir, "%s/.masterfarm", out);
    snprintf (job_path, sizeof job_path, "%s/album-job.json", state_dir);
    char *text = json_dumps (job, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
    json_decref (job);
    if (!text || fsutil_mkdir_p (state_dir, 0755) != 0
    ||  fsutil_write_atomic (job_path, text, strlen (text)) != 0) {
        fprintf (stderr, "masterfarm album: cannot write %s: %s\n", job_path, strerror (errno));
        free (text);
        return EXIT_FAILED;
    }
    free (text);
    cfg.job_path = job_path;
    cfg.out_dir = out;
    cfg.input_root = dir_abs;
    return farmclient_run_local (&cfg);
}
