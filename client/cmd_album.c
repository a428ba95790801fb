/*  masterfarm album: masters a folder of mixes as one album. The audio
    files in DIR, in natural name order (1, 2, 10), become the album's
    tracks; when DIR holds disc folders instead ("Disc 1", "CD2",
    "disc-2", ...), their files become one album, disc by disc, each
    track with its disc number. Each title is the file name without its
    extension and without a leading track number ("03 - Glass.wav" ->
    "Glass"); the album title is the folder's name unless --title says
    otherwise. The job spec built from that is written to
    OUTDIR/.masterfarm/album-job.json (so that it can be edited and re-run
    with `masterfarm run`) and run on a local farm exactly as
    `masterfarm run` does.  */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
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
        "usage: masterfarm album DIR -o OUTDIR [--profile NAME]... [--policy NAME]\n"
        "                        [--target-lufs X] [--title TEXT] [--artist TEXT]\n"
        "                        [-j WORKERS] [--quiet]\n"
        "\n"
        "Masters the audio files in DIR as one album on a local farm (as `run`).\n"
        "Tracks are the audio files in natural name order (1, 2, 10); titles come\n"
        "from file names (\"03 - Glass.wav\" -> \"Glass\"); the album is named\n"
        "after DIR. Disc folders in DIR (\"Disc 1\", \"CD2\", \"disc-2 Live\", ...) make\n"
        "one album of several discs, in disc order, each track with its disc number.\n"
        "The generated job spec is kept in OUTDIR/.masterfarm/album-job.json.\n"
        "\n"
        "  -o OUTDIR          where the masters go (required)\n"
        "  --profile NAME     a delivery profile; repeat for several (default:\n"
        "                     spotify and cd). Names: spotify apple youtube amazon\n"
        "                     tidal cd broadcast hires\n"
        "  --policy NAME      loudness policy: album (default), track, loudest, hybrid\n"
        "  --target-lufs X    loudness target, -40 .. -5 LUFS (default: the profile's)\n"
        "  --title TEXT       album title (default: the folder's name)\n"
        "  --artist TEXT      album artist\n"
        "  -j WORKERS         worker processes (default: one per core)\n"
        "  --quiet            no progress display, only the summary\n"
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

//  One audio file of the album: its path relative to DIR, its name and
//  its disc (0: DIR itself, no disc folders).
typedef struct {
    char *rel;
    const char *name;          //  inside rel
    int disc;
} s_file_t;

//  Natural order of two names: runs of digits compare by their value
//  ("2" < "03" < "10"), everything else byte by byte.
static int
s_natural_cmp (const char *a, const char *b)
{
    while (*a && *b) {
        if (isdigit ((unsigned char) *a) && isdigit ((unsigned char) *b)) {
            while (*a == '0')
                a++;
            while (*b == '0')
                b++;
            size_t na = 0, nb = 0;
            while (isdigit ((unsigned char) a [na]))
                na++;
            while (isdigit ((unsigned char) b [nb]))
                nb++;
            if (na != nb)
                return na < nb ? -1 : 1;
            int c = memcmp (a, b, na);
            if (c)
                return c;
            a += na;
            b += nb;
        }
        else {
            if (*a != *b)
                return (unsigned char) *a < (unsigned char) *b ? -1 : 1;
            a++;
            b++;
        }
    }
    return *a ? 1 : *b ? -1 : 0;
}

//  qsort comparator: disc, then natural order of names, then bytes
//  ("1" and "01" are equal in value).
static int
s_cmp_files (const void *a, const void *b)
{
    const s_file_t *x = a, *y = b;
    if (x->disc != y->disc)
        return x->disc < y->disc ? -1 : 1;
    int c = s_natural_cmp (x->name, y->name);
    return c ? c : strcmp (x->name, y->name);
}

//  The disc number of a folder named like "Disc 1", "CD2", "disc-2",
//  "Disk_03" or "Disc 2 - Live" (case ignored; after the number only a
//  separator and any text), or 0 when the name is not a disc folder.
static int
s_disc_number (const char *name)
{
    static const char *prefixes [] = { "disc", "disk", "cd" };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes [0]; i++) {
        size_t n = strlen (prefixes [i]);
        if (strncasecmp (name, prefixes [i], n) != 0)
            continue;
        const char *p = name + n;
        while (*p == ' ' || *p == '-' || *p == '_' || *p == '.')
            p++;
        char digits [4] = "";
        size_t k = 0;
        while (isdigit ((unsigned char) p [k]) && k < sizeof digits - 1) {
            digits [k] = p [k];
            k++;
        }
        digits [k] = 0;
        char after = p [k];
        long disc;
        if (k > 0 && (after == 0 || strchr (" -_.:(", after)) && cli_long (digits, 1, 99, &disc))
            return (int) disc;
    }
    return 0;
}

//  Adds the audio files of dir/sub (sub "" for dir itself) to *files with
//  disc; with disc 0, also reports disc folders in *disc_dirs. Returns 0,
//  or -1 with err filled.
static int
s_scan (const char *dir, const char *sub, int disc, s_file_t **files, size_t *n,
        size_t *disc_dirs, char *err, size_t err_size)
{
    char path [PATH_MAX + NAME_MAX + 2];
    snprintf (path, sizeof path, "%s%s%s", dir, *sub ? "/" : "", sub);
    DIR *d = opendir (path);
    if (!d) {
        snprintf (err, err_size, "%.400s: cannot open folder: %s", path, strerror (errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir (d))) {
        if (e->d_name [0] == '.')
            continue;
        char full [PATH_MAX + 2 * NAME_MAX + 4];
        struct stat st;
        snprintf (full, sizeof full, "%s/%s", path, e->d_name);
        if (stat (full, &st) != 0)
            continue;
        if (S_ISDIR (st.st_mode) && disc == 0 && !*sub && s_disc_number (e->d_name) > 0) {
            (*disc_dirs)++;
            continue;
        }
        if (!S_ISREG (st.st_mode) || !s_is_audio (e->d_name))
            continue;
        s_file_t *grown = realloc (*files, sizeof **files * (*n + 1));
        if (!grown) {
            rc = -1;
            break;
        }
        *files = grown;
        s_file_t *f = &grown [*n];
        if (asprintf (&f->rel, "%s%s%s", sub, *sub ? "/" : "", e->d_name) < 0) {
            rc = -1;
            break;
        }
        f->name = f->rel + (*sub ? strlen (sub) + 1 : 0);
        f->disc = disc;
        (*n)++;
    }
    closedir (d);
    if (rc)
        snprintf (err, err_size, "out of memory");
    return rc;
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

//  What the options add to the generated spec.
typedef struct {
    const char *const *profiles;
    int n_profiles;
    const char *policy;        //  NULL: the default
    double target_lufs;        //  NaN: the profile's
    const char *title;         //  NULL: the folder's name
    const char *artist;        //  NULL: none
} s_album_opts_t;

//  Builds the job spec for the audio files in dir (or in its disc
//  folders). Returns a JSON object (caller decrefs) or NULL with err
//  filled (no audio, unreadable folder, files beside disc folders, a disc
//  number twice).
static json_t *
s_build_job (const char *dir, const s_album_opts_t *o, char *err, size_t err_size)
{
    s_file_t *files = NULL;
    size_t n = 0, disc_dirs = 0;
    json_t *job = NULL;
    if (s_scan (dir, "", 0, &files, &n, &disc_dirs, err, err_size))
        goto done;
    if (disc_dirs > 0 && n > 0) {
        snprintf (err, err_size, "%.400s: has both audio files (e.g. '%s') and disc folders; "
                  "move the files into a disc folder (\"Disc 1\", ...) or the folders out",
                  dir, files [0].name);
        goto done;
    }
    if (disc_dirs > 0) {
        DIR *d = opendir (dir);
        struct dirent *e;
        int seen [100] = { 0 };
        char seen_name [100][NAME_MAX + 1];
        while (d && (e = readdir (d))) {
            int disc = e->d_name [0] == '.' ? 0 : s_disc_number (e->d_name);
            char full [PATH_MAX + NAME_MAX + 2];
            struct stat st;
            snprintf (full, sizeof full, "%s/%s", dir, e->d_name);
            if (disc == 0 || stat (full, &st) != 0 || !S_ISDIR (st.st_mode))
                continue;
            if (seen [disc]) {
                snprintf (err, err_size, "%.400s: '%s' and '%s' are both disc %d; rename one",
                          dir, seen_name [disc], e->d_name, disc);
                closedir (d);
                goto done;
            }
            seen [disc] = 1;
            snprintf (seen_name [disc], sizeof seen_name [disc], "%s", e->d_name);
            if (s_scan (dir, e->d_name, disc, &files, &n, &disc_dirs, err, err_size)) {
                closedir (d);
                goto done;
            }
        }
        if (d)
            closedir (d);
    }
    if (n == 0) {
        snprintf (err, err_size, "%.400s: no audio files (.wav, .flac, .aiff, ...) in this "
                  "folder%s", dir, disc_dirs ? " or its disc folders" : "");
        goto done;
    }
    qsort (files, n, sizeof *files, s_cmp_files);

    char dir_copy [PATH_MAX];
    snprintf (dir_copy, sizeof dir_copy, "%s", dir);
    const char *album_title = o->title ? o->title : basename (dir_copy);
    json_t *tracks = json_array ();
    for (size_t i = 0; i < n; i++) {
        char title [NAME_MAX + 1];
        s_title_from_name (files [i].name, title, sizeof title);
        json_t *t = json_pack ("{s:s, s:s}", "path", files [i].rel, "title", title);
        if (files [i].disc > 0)
            json_object_set_new (t, "disc", json_integer (files [i].disc));
        json_array_append_new (tracks, t);
    }
    job = json_object ();
    json_object_set_new (job, "name", json_string (album_title));
    json_t *defaults = json_object ();
    if (o->n_profiles > 0) {
        json_t *list = json_array ();
        for (int i = 0; i < o->n_profiles; i++)
            json_array_append_new (list, json_string (o->profiles [i]));
        json_object_set_new (defaults, "profiles", list);
    }
    if (o->policy || isfinite (o->target_lufs)) {
        json_t *loud = json_object ();
        if (o->policy)
            json_object_set_new (loud, "policy", json_string (o->policy));
        if (isfinite (o->target_lufs))
            json_object_set_new (loud, "target_lufs", json_real (o->target_lufs));
        json_object_set_new (defaults, "loudness", loud);
    }
    if (json_object_size (defaults) > 0)
        json_object_set_new (job, "defaults", defaults);
    else
        json_decref (defaults);
    json_t *album = json_pack ("{s:s}", "title", album_title);
    if (o->artist)
        json_object_set_new (album, "artist", json_string (o->artist));
    json_object_set_new (album, "tracks", tracks);
    json_object_set_new (job, "albums", json_pack ("[o]", album));
done:
    for (size_t i = 0; i < n; i++)
        free (files [i].rel);
    free (files);
    return job;
}

//  masterfarm album DIR -o OUT [options]: see s_help.
int
cmd_album (int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *profiles [S_MAX_PROFILES];
    int n_profiles = 0;
    s_album_opts_t opts = { .profiles = profiles, .target_lufs = NAN };
    farmclient_run_cfg_t cfg = { .command = "album" };
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i];
        bool takes = !strcmp (a, "-o") || !strcmp (a, "-j") || !strcmp (a, "--profile")
                  || !strcmp (a, "--policy") || !strcmp (a, "--target-lufs")
                  || !strcmp (a, "--title") || !strcmp (a, "--artist");
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
        else if (!strcmp (a, "--policy")) {
            opts.policy = argv [++i];
            if (strcmp (opts.policy, "album") && strcmp (opts.policy, "track")
            &&  strcmp (opts.policy, "loudest") && strcmp (opts.policy, "hybrid")) {
                fprintf (stderr, "masterfarm album: --policy '%s': use album, track, loudest "
                         "or hybrid\n", opts.policy);
                return EXIT_USAGE;
            }
        }
        else if (!strcmp (a, "--target-lufs")) {
            if (!cli_double (argv [++i], -40.0, -5.0, &opts.target_lufs)) {
                fprintf (stderr, "masterfarm album: --target-lufs '%s': give a number from "
                         "-40 to -5 (LUFS)\n", argv [i]);
                return EXIT_USAGE;
            }
        }
        else if (!strcmp (a, "--title") || !strcmp (a, "--artist")) {
            const char *v = argv [++i];
            if (!*v) {
                fprintf (stderr, "masterfarm album: %s needs a non-empty text\n", a);
                return EXIT_USAGE;
            }
            *(a [2] == 't' ? &opts.title : &opts.artist) = v;
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
    opts.n_profiles = n_profiles;
    json_t *job = s_build_job (dir_abs, &opts, err, sizeof err);
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
