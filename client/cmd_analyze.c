/*  masterfarm analyze FILE... [--json]: measures each file (worker/analysis.h)
    and prints a table per file, or one JSON array for all of them. A file
    is decoded in pieces into one reused buffer and each piece is fed to
    the streaming analysis (libebur128 on a second thread), so memory does
    not grow with the file's length.

    Every file is tried: a file that cannot be read or measured gets one
    line on stderr, "masterfarm analyze: FILE: what is wrong", and the
    others are still measured and printed. Exit status: 0 all measured,
    1 at least one file failed, 2 bad usage.  */
#include "client/commands.h"
#include "common/err.h"
#include "worker/analysis.h"
#include "worker/audio_io.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Prints the usage text to out.
static void
s_help (FILE *out)
{
    fprintf (out,
        "usage: masterfarm analyze FILE... [--json]\n"
        "\n"
        "Measures audio files: integrated loudness, loudness range, maximum\n"
        "momentary and short-term loudness (ITU-R BS.1770-4, EBU R128), sample\n"
        "and true peak (4x oversampled at 44.1/48 kHz), DC offset, clipped\n"
        "samples, leading/trailing silence (below -60 dBFS) and the long-term\n"
        "spectrum in 1/3-octave bands (dB relative to a full-scale sine).\n"
        "\n"
        "  --json   one JSON array on stdout, an object per file, with the\n"
        "           400 ms gating blocks (block_lufs) and bands (band_hz, band_db);\n"
        "           values that do not exist (loudness of silence) are null;\n"
        "           a file that failed is {\"file\": ..., \"error\": ...}\n"
        "  --help   this text\n"
        "\n"
        "A file that cannot be measured gets one line on stderr and the others\n"
        "are still measured. Exit status: 0 all measured, 1 a file failed,\n"
        "2 bad usage.\n");
}

//  A JSON number, or null for a value that does not exist (-inf, NaN).
static json_t *
s_num (double v)
{
    return isfinite (v) ? json_real (v) : json_null ();
}

//  A JSON string; text that is not UTF-8 (a file name can be anything)
//  has its bytes above 0x7f replaced by '?'.
static json_t *
s_str (const char *text)
{
    json_t *j = json_string (text);
    if (j)
        return j;
    char buf [1024];
    size_t i = 0;
    for (; text [i] && i + 1 < sizeof buf; i++)
        buf [i] = (unsigned char) text [i] < 0x80 ? text [i] : '?';
    buf [i] = 0;
    return json_string (buf);
}

//  The JSON object for one measured file.
static json_t *
s_to_json (const char *path, const measure_t *m)
{
    json_t *o = json_object ();
    json_object_set_new (o, "file", s_str (path));
    json_object_set_new (o, "format", s_str (m->format));
    json_object_set_new (o, "rate_hz", json_integer (m->rate_hz));
    json_object_set_new (o, "channels", json_integer (m->channels));
    json_object_set_new (o, "frames", json_integer (m->frames));
    json_object_set_new (o, "duration_s", json_real (m->duration_s));
    json_object_set_new (o, "integrated_lufs", s_num (m->integrated_lufs));
    json_object_set_new (o, "loudness_channels",
                         json_string (measure_loudness_channels (m->channels)));
    json_object_set_new (o, "lra_lu", s_num (m->lra_lu));
    json_object_set_new (o, "max_momentary_lufs", s_num (m->max_momentary_lufs));
    json_object_set_new (o, "max_shortterm_lufs", s_num (m->max_shortterm_lufs));
    json_object_set_new (o, "sample_peak_dbfs", s_num (m->sample_peak_dbfs));
    json_object_set_new (o, "true_peak_dbtp", s_num (m->true_peak_dbtp));
    json_object_set_new (o, "dc_offset_dbfs", s_num (m->dc_offset_dbfs));
    json_object_set_new (o, "clipped_samples", json_integer (m->clipped_samples));
    json_object_set_new (o, "side_mid_db", s_num (m->side_mid_db));
    json_object_set_new (o, "lead_silence_frames", json_integer (m->lead_silence_frames));
    json_object_set_new (o, "trail_silence_frames", json_integer (m->trail_silence_frames));
    json_t *hz = json_array (), *db = json_array ();
    for (int b = 0; b < MEASURE_BANDS; b++) {
        json_array_append_new (hz, json_real (measure_band_hz (b)));
        json_array_append_new (db, s_num (m->band_db [b]));
    }
    json_object_set_new (o, "band_hz", hz);
    json_object_set_new (o, "band_db", db);
    json_t *blocks = json_array ();
    for (size_t i = 0; i < m->n_blocks; i++)
        json_array_append_new (blocks, json_real (m->block_lufs [i]));
    json_object_set_new (o, "block_lufs", blocks);
    return o;
}

//  Formats a level with its unit, or a word when it does not exist.
static const char *
s_level (char *buf, size_t size, double v, const char *unit, const char *none)
{
    if (isfinite (v))
        snprintf (buf, size, "%8.2f %s", v, unit);
    else
        snprintf (buf, size, "%8s", none);
    return buf;
}

//  Prints the readable table for one measured file.
static void
s_print_table (const char *path, const measure_t *m)
{
    char b [64];
    printf ("%s\n", path);
    printf ("  format            %s, %d Hz, %d ch, %.3f s (%lld frames)\n",
            m->format, m->rate_hz, m->channels, m->duration_s, (long long) m->frames);
    //  integrated loudness needs one complete 400 ms block (BS.1770-4)
    bool short_track = m->duration_s < 0.4;
    printf ("  integrated        %s%s\n", s_level (b, sizeof b, m->integrated_lufs, "LUFS",
                                                short_track ? "n/a (shorter than 0.4 s)" : "silent"),
            m->channels == 1 ? " (dual-mono: the channel counted on two speakers)" : "");
    printf ("  loudness range    %s\n", s_level (b, sizeof b, m->lra_lu, "LU", "n/a"));
    printf ("  max momentary     %s\n", s_level (b, sizeof b, m->max_momentary_lufs, "LUFS", "silent"));
    printf ("  max short-term    %s\n", s_level (b, sizeof b, m->max_shortterm_lufs, "LUFS", "silent"));
    printf ("  true peak         %s\n", s_level (b, sizeof b, m->true_peak_dbtp, "dBTP", "silent"));
    printf ("  sample peak       %s\n", s_level (b, sizeof b, m->sample_peak_dbfs, "dBFS", "silent"));
    printf ("  DC offset         %s\n", s_level (b, sizeof b, m->dc_offset_dbfs, "dBFS", "none"));
    printf ("  clipped samples   %8lld\n", (long long) m->clipped_samples);
    if (m->channels == 2)
        printf ("  side/mid          %s\n", s_level (b, sizeof b, m->side_mid_db, "dB", "no side"));
    printf ("  leading silence   %8.3f s (%lld frames)\n",
            (double) m->lead_silence_frames / m->rate_hz, (long long) m->lead_silence_frames);
    printf ("  trailing silence  %8.3f s (%lld frames)\n",
            (double) m->trail_silence_frames / m->rate_hz, (long long) m->trail_silence_frames);
    printf ("  spectrum, dB re full-scale sine, 1/3 octave:\n");
    for (int i = 0; i < MEASURE_BANDS; i++) {
        double hz = measure_band_hz (i);
        char name [16];
        if (hz >= 1000.0)
            snprintf (name, sizeof name, "%gk", hz / 1000.0);
        else
            snprintf (name, sizeof name, "%g", hz);
        if (isfinite (m->band_db [i]))
            printf ("  %6s %7.1f", name, m->band_db [i]);
        else
            printf ("  %6s %7s", name, "-");
        if (i % 6 == 5 || i == MEASURE_BANDS - 1)
            printf ("\n");
    }
    printf ("\n");
}

//  Frames decoded and measured per piece (about 0.37 s at 44.1 kHz, 512 kB
//  at 8 channels: small against the caches' worth of work it brings).
#define S_PIECE_FRAMES  16384

//  Reads and measures one file, decoding it piece by piece into one buffer
//  that the streaming analysis takes in turn (worker/analysis.h). Returns 0
//  with m filled, or a negative mf_err_t with why holding "PATH: reason".
static int
s_measure (const char *path, const analysis_cfg_t *cfg, measure_t *m,
           char *why, size_t why_size)
{
    char err [AUDIO_ERR_LEN];
    audio_t info;
    audio_seq_t *seq = NULL;
    memset (m, 0, sizeof *m);
    int rc = audio_seq_open (path, &info, &seq, err, sizeof err);
    if (rc) {
        snprintf (why, why_size, "%s", err);     //  the reader names the path
        return rc;
    }
    bool named = false;                          //  err begins with the path
    analysis_stream_t *stream = NULL;
    float *buf = malloc ((size_t) S_PIECE_FRAMES * (size_t) info.channels * sizeof (float));
    if (!buf) {
        snprintf (err, sizeof err, "out of memory");
        rc = MF_ERR_NOMEM;
    }
    else
        rc = analysis_start (&stream, info.channels, info.rate_hz, cfg, err, sizeof err);
    while (rc == 0) {
        int64_t n = audio_seq_read (seq, buf, S_PIECE_FRAMES, err, sizeof err);
        if (n == 0)
            break;
        if (n < 0) {
            rc = (int) n;
            named = true;
        }
        else
            rc = analysis_feed (stream, buf, n, err, sizeof err);
    }
    audio_seq_close (&seq);
    free (buf);
    if (rc == 0)
        rc = analysis_finish (&stream, info.format, m, err, sizeof err);
    analysis_stream_destroy (&stream);           //  a failed read: give up
    if (rc && named)
        snprintf (why, why_size, "%s", err);
    else
    if (rc)
        snprintf (why, why_size, "%s: %s", path, err);
    return rc;
}

int
cmd_analyze (int argc, char **argv)
{
    bool json = false;
    int n_files = 0;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        if (!options_done && strcmp (argv [i], "--") == 0)
            options_done = true;
        else
        if (!options_done && (strcmp (argv [i], "--help") == 0 || strcmp (argv [i], "-h") == 0)) {
            s_help (stdout);
            return EXIT_OK;
        }
        else
        if (!options_done && strcmp (argv [i], "--json") == 0)
            json = true;
        else
        if (!options_done && argv [i][0] == '-' && argv [i][1] != 0) {
            fprintf (stderr, "masterfarm analyze: unknown option '%s' "
                     "(see masterfarm analyze --help)\n", argv [i]);
            return EXIT_USAGE;
        }
        else
            n_files++;
    }
    if (n_files == 0) {
        fprintf (stderr, "masterfarm analyze: no FILE given "
                 "(usage: masterfarm analyze FILE... [--json])\n");
        return EXIT_USAGE;
    }

    //  one file at a time, libebur128 on a second thread where there is a core for it
    analysis_cfg_t cfg;
    analysis_cfg_default (&cfg);
    cfg.threads = sysconf (_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;

    json_t *all = json ? json_array () : NULL;
    int failed = 0;
    options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *path = argv [i];
        if (!options_done && strcmp (path, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && path [0] == '-' && path [1] != 0)
            continue;                       //  an option, handled above
        char why [AUDIO_ERR_LEN + 64];
        measure_t m;
        int rc = s_measure (path, &cfg, &m, why, sizeof why);
        if (rc) {
            fprintf (stderr, "masterfarm analyze: %s\n", why);
            failed++;
            if (all) {
                json_t *o = json_object ();
                json_object_set_new (o, "file", s_str (path));
                const char *reason = why;
                size_t plen = strlen (path);
                if (strncmp (why, path, plen) == 0 && strncmp (why + plen, ": ", 2) == 0)
                    reason = why + plen + 2;
                json_object_set_new (o, "error", s_str (reason));
                json_array_append_new (all, o);
            }
            continue;
        }
        if (all)
            json_array_append_new (all, s_to_json (path, &m));
        else {
            s_print_table (path, &m);
            fflush (stdout);
        }
        measure_free (&m);
    }
    if (all) {
        json_dumpf (all, stdout, JSON_INDENT (2) | JSON_REAL_PRECISION (10));
        printf ("\n");
        json_decref (all);
    }
    return failed ? EXIT_FAILED : EXIT_OK;
}
