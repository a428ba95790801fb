/*  masterfarm master: one track through the mastering chain, no farm.

        masterfarm master FILE -o OUT [--profile NAME] [--spec FILE.json]
                          [--dynamics PRESET] [--target-lufs X]
                          [--reference REF [--reference-weight W]]...
                          [--reference-tone X] [--reference-loudness X]
                          [--reference-width X] [--reference-max-db DB]
                          [--title T] [--artist A] [--album B]
                          [--isrc CC-XXX-YY-NNNNN] [--help]

    The output container comes from OUT's extension (.wav, .flac, .aif /
    .aiff), or from the profile when OUT has none (the profile's extension
    is then appended). Word size, rate, loudness target and true-peak
    ceiling come from the profile (default: 24-bit at the source rate,
    -14 LUFS, -1 dBTP); --target-lufs overrides the target; --spec reads a
    chain object (DESIGN.md's "chain" block, bare or as {"chain": {...}})
    over the default chain; --dynamics picks the glue compressor's preset
    (none, gentle, standard, punchy; default gentle, or the spec's
    "dynamics"), compressor keys given in the spec winning over it. Every
    problem in the spec is printed with its JSON path, line and column
    before any audio is read. The report names the chain that ran, with
    the compressor's resolved settings and gain reduction. --title,
    --artist, --album and --isrc are written as tags (FLAC Vorbis comments,
    WAV RIFF INFO; the ISRC goes in the comment of WAV and AIFF).

    --reference (repeatable, each with an optional --reference-weight
    after it) matches the track to reference files of any rate and length
    (analysed in segments, worker/reference.h): tonal balance, loudness
    and stereo width, each with its own intensity 0 .. 1 (default 1), the
    tonal correction (minimum phase) capped at --reference-max-db (default
    6 dB); see planner_reference_match in broker/planner.h.

    Exit: 0 written, 1 the file could not be read, mastered or written,
    2 bad usage (unknown option, unknown profile, bad spec or value).  */
#include "client/commands.h"
#include "common/cli.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/profile.h"
#include "common/spec.h"
#include "broker/planner.h"
#include "worker/audio_io.h"
#include "worker/master.h"
#include "worker/reference.h"
#include "worker/samples.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

//  Prints the usage text.
static void
s_help (FILE *out)
{
    fprintf (out,
        "usage: masterfarm master FILE -o OUT [--profile NAME] [--spec FILE.json]\n"
        "                         [--dynamics PRESET] [--target-lufs X]\n"
        "                         [--title T] [--artist A]\n"
        "                         [--album B] [--isrc CC-XXX-YY-NNNNN]\n"
        "                         [--codec-check | --codec-safe]\n"
        "\n"
        "Masters one track: subsonic high-pass, EQ, glue compressor, stereo,\n"
        "gain and a true-peak limiter, with the gain found by a closed loop so\n"
        "that the output measures the loudness target (BS.1770-4), its true peak\n"
        "stays under the ceiling, then dither to the output word.\n"
        "\n"
        "  -o OUT              output file; .wav, .flac or .aiff picks the format\n"
        "                      (no extension: the profile's)\n"
        "  --profile NAME      spotify, apple, youtube, amazon, tidal, cd, broadcast,\n"
        "                      hires: target, ceiling, word size and rate\n"
        "                      (default: -14 LUFS, -1 dBTP, 24-bit, source rate)\n"
        "  --spec FILE.json    chain settings (the job spec's \"chain\" object, or\n"
        "                      {\"chain\": {...}, \"dynamics\": PRESET})\n"
        "  --dynamics PRESET   glue compressor, its threshold relative to the track's\n"
        "                      loudness: none (off); gentle (default: loudness +10 LU,\n"
        "                      1.5:1, only the loudest peaks); standard (+6 LU, 2:1);\n"
        "                      punchy (+1 LU, 3:1, 30 ms attack lets transients\n"
        "                      through). Compressor keys in --spec win over it\n"
        "  --target-lufs X     loudness target, -40 .. -5 LUFS\n"
        "  --reference REF     match REF (any audio file, any rate and length) in\n"
        "                      tone, loudness and width; repeat for several\n"
        "  --reference-weight W  weight (> 0, default 1) of the --reference before it\n"
        "  --reference-tone X  tonal-balance intensity, 0 .. 1 (default 1)\n"
        "  --reference-loudness X  loudness intensity, 0 .. 1 (default 1): the target\n"
        "                      moves from the profile's toward the reference's; the\n"
        "                      ceiling and the limiter's max gain reduction still hold\n"
        "  --reference-width X stereo-width intensity, 0 .. 1 (default 1)\n"
        "  --reference-max-db DB  cap of the tonal correction, 0 .. 12 dB (default 6)\n"
        "  --title T, --artist A, --album B\n"
        "                      tags of the output (FLAC: Vorbis comments; WAV: RIFF INFO)\n"
        "  --isrc CODE         the recording's ISRC, CC-XXX-YY-NNNNN (hyphens optional):\n"
        "                      FLAC ISRC tag; WAV/AIFF comment \"ISRC=...\"\n"
        "  --codec-check       encode the master to MP3 (320 kbps), Ogg Vorbis and\n"
        "                      Opus in memory, decode, and print each version's\n"
        "                      true peak (what a platform's transcode peaks at)\n"
        "  --codec-safe        the same, and master again with a lower ceiling\n"
        "                      until every decoded version is at or under it\n"
        "  --help              this text\n"
        "\n"
        "A track whose samples (as 32-bit floats) take MASTERFARM_SPILL_MB (default\n"
        "1024) or more is held in an unnamed file in the output's folder instead\n"
        "of memory, which the kernel pages: it masters within less memory than\n"
        "its size, at the disk's speed. MASTERFARM_SPILL_MB=0 never does.\n"
        "\n"
        "Exit status: 0 written, 1 the file failed, 2 bad usage.\n");
}

//  Output container from a file name's extension; -1 if none or unknown
//  (*has_ext says whether there was one).
static int
s_format_from_ext (const char *path, bool *has_ext)
{
    const char *slash = strrchr (path, '/');
    const char *dot = strrchr (path, '.');
    *has_ext = dot && (!slash || dot > slash) && dot [1];
    if (!*has_ext)
        return -1;
    if (strcasecmp (dot, ".wav") == 0)
        return OUT_WAV;
    if (strcasecmp (dot, ".flac") == 0)
        return OUT_FLAC;
    if (strcasecmp (dot, ".aif") == 0 || strcasecmp (dot, ".aiff") == 0)
        return OUT_AIFF;
    return -1;
}

//  Formats a loudness or level for the report ("-inf" for silence).
static const char *
s_num (char *buf, size_t size, double v)
{
    if (!isfinite (v))
        snprintf (buf, size, "%s", v < 0 ? "-inf" : "inf");
    else
        snprintf (buf, size, "%.2f", v);
    return buf;
}

//  Prints the chain that ran: its stages in order with their settings,
//  the glue compressor as resolved against the input's loudness.
static void
s_print_chain (const chain_cfg_t *c, const master_report_t *rep)
{
    printf ("chain     high-pass ");
    if (c->highpass_hz > 0)
        printf ("%g Hz (order %d)", c->highpass_hz, c->highpass_order);
    else
        printf ("off");
    printf ("; EQ %d band%s; multiband %s; stereo width %g%s; limiter %s\n", c->n_eq,
            c->n_eq == 1 ? "" : "s", c->multiband.enabled ? "on" : "off", c->stereo.width,
            c->stereo.mono_below_hz > 0 ? ", mono bass" : "",
            c->limiter.enabled ? "on" : "off");
    const comp_cfg_t *k = &rep->compressor;
    printf ("dynamics  %s: ", spec_dynamics_name (c->dynamics));
    if (!k->enabled) {
        printf ("glue compressor off%s\n", c->compressor.enabled
                ? " (no measurable loudness)" : "");
        return;
    }
    printf ("glue compressor threshold %.1f dBFS", k->threshold_db);
    if (c->compressor.relative)
        printf (" (input loudness %+.1f LU)", c->compressor.threshold_lu);
    printf (", ratio %g:1, knee %g dB, attack %g ms, release %g ms", k->ratio, k->knee_db,
            k->attack_ms, k->release_ms);
    if (k->makeup_db != 0.0)
        printf (", makeup %+g dB", k->makeup_db);
    printf ("; gain reduction max %.2f dB, mean %.2f dB\n", rep->comp_gr_max_db,
            rep->comp_gr_avg_db);
}

//  Reads and applies --spec; prints every error. Returns 0 or EXIT_USAGE.
static int
s_load_spec (const char *path, chain_cfg_t *chain)
{
    char *text = NULL;
    size_t len = 0;
    int rc = fsutil_read_file (path, 1u << 20, &text, &len);
    if (rc) {
        fprintf (stderr, "masterfarm master: %s: cannot read the spec (%s)\n", path,
                 rc == MF_ERR_IO ? strerror (errno) : mf_strerror (rc));
        return EXIT_USAGE;
    }
    spec_errors_t errs = { 0 };
    rc = spec_parse_chain_json (text, len, path, chain, &errs);
    free (text);
    if (rc == 0 && spec_check_chain (chain, "$.chain", &errs) == 0 && errs.n == 0) {
        spec_errors_clear (&errs);
        return 0;
    }
    for (size_t i = 0; i < errs.n; i++) {
        const spec_error_t *e = &errs.items [i];
        if (e->line > 0)
            fprintf (stderr, "masterfarm master: %s:%d:%d: %s: %s\n", path, e->line,
                     e->column, e->path, e->message);
        else
            fprintf (stderr, "masterfarm master: %s: %s: %s\n", path, e->path, e->message);
    }
    if (errs.n == 0)
        fprintf (stderr, "masterfarm master: %s: the chain spec is not valid (%s)\n",
                 path, mf_strerror (rc));
    spec_errors_clear (&errs);
    return EXIT_USAGE;
}

#define MASTER_MAX_REFS 16

//  Analyses the track and the references and sets the options to match
//  them (tonal curve, loudness target, side gain). Returns 0, or -1 with
//  the reason printed.
static int
s_reference (const char *file, const audio_t *in, const char *const *paths,
             const double *weights, size_t n, const planner_ref_cfg_t *cfg,
             master_opts_t *o, planner_ref_plan_t *plan)
{
    char err [AUDIO_ERR_LEN];
    reference_measure_t track, refm [MASTER_MAX_REFS];
    planner_ref_t refs [MASTER_MAX_REFS];
    if (reference_analyse_audio (in, &track, err, sizeof err)) {
        fprintf (stderr, "masterfarm master: %s: %s\n", file, err);
        return -1;
    }
    size_t done = 0;
    int rc = 0;
    for (; done < n; done++) {
        if (reference_analyse_file (paths [done], 0.0, &refm [done], err, sizeof err)) {
            fprintf (stderr, "masterfarm master: reference %s\n", err);
            rc = -1;
            break;
        }
        refs [done] = (planner_ref_t) { .m = &refm [done].m,
                                        .side_mid_db = refm [done].side_mid_db,
                                        .weight = weights [done] };
    }
    if (rc == 0 && planner_reference_match (&track.m, refs, n, cfg,
                                            o->target_lufs, plan, err, sizeof err)) {
        fprintf (stderr, "masterfarm master: %s: %s\n", file, err);
        rc = -1;
    }
    if (rc == 0) {
        o->has_tonal = true;
        memcpy (o->tonal_db, plan->tonal_db, sizeof o->tonal_db);
        o->chain.tonal_minimum_phase = true;
        o->target_lufs = plan->target_lufs;
        o->width_to_db = plan->ref_side_mid_db;
        o->width_share = cfg->width;
    }
    reference_free (&track);
    for (size_t i = 0; i < done; i++)
        reference_free (&refm [i]);
    return rc;
}

int
cmd_master (int argc, char **argv)
{
    const char *file = NULL, *outp = NULL, *profile_name = NULL, *spec_path = NULL;
    int dynamics = -1;
    double target = NAN;
    const char *ref_path [MASTER_MAX_REFS];
    double ref_weight [MASTER_MAX_REFS];
    size_t n_refs = 0;
    planner_ref_cfg_t rcfg = { .tone = 1.0, .loudness = 1.0, .width = 1.0, .max_db = 6.0 };
    audio_tags_t tags = { 0 };
    char isrc [13];
    bool codec_check = false, codec_safe = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i];
        bool has_val = i + 1 < argc;
        if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0) {
            s_help (stdout);
            return EXIT_OK;
        }
        else
        if (strcmp (a, "-o") == 0 || strcmp (a, "--output") == 0) {
            if (!has_val)
                goto missing;
            outp = argv [++i];
        }
        else
        if (strcmp (a, "--profile") == 0) {
            if (!has_val)
                goto missing;
            profile_name = argv [++i];
        }
        else
        if (strcmp (a, "--spec") == 0) {
            if (!has_val)
                goto missing;
            spec_path = argv [++i];
        }
        else
        if (strcmp (a, "--dynamics") == 0) {
            if (!has_val)
                goto missing;
            const char *v = argv [++i];
            if ((dynamics = spec_dynamics_find (v)) < 0) {
                fprintf (stderr, "masterfarm master: --dynamics '%s': one of none, gentle, "
                         "standard, punchy\n", v);
                return EXIT_USAGE;
            }
        }
        else
        if (strcmp (a, "--target-lufs") == 0) {
            if (!has_val)
                goto missing;
            const char *v = argv [++i];
            if (!cli_double (v, -40.0, -5.0, &target)) {
                fprintf (stderr, "masterfarm master: --target-lufs '%s': give a number "
                         "from -40 to -5 (LUFS)\n", v);
                return EXIT_USAGE;
            }
        }
        else
        if (strcmp (a, "--reference") == 0) {
            if (!has_val)
                goto missing;
            if (n_refs == MASTER_MAX_REFS) {
                fprintf (stderr, "masterfarm master: at most %d references\n", MASTER_MAX_REFS);
                return EXIT_USAGE;
            }
            ref_weight [n_refs] = 1.0;
            ref_path [n_refs++] = argv [++i];
        }
        else
        if (strcmp (a, "--reference-weight") == 0 || strcmp (a, "--reference-tone") == 0
        ||  strcmp (a, "--reference-loudness") == 0 || strcmp (a, "--reference-width") == 0
        ||  strcmp (a, "--reference-max-db") == 0) {
            if (!has_val)
                goto missing;
            const char *v = argv [++i];
            bool weight = strcmp (a, "--reference-weight") == 0;
            bool cap = strcmp (a, "--reference-max-db") == 0;
            double x;
            if (!cli_double (v, weight ? 1e-6 : 0.0, weight ? 1e6 : cap ? 12.0 : 1.0, &x)) {
                fprintf (stderr, "masterfarm master: %s '%s': give a number %s\n", a, v,
                         weight ? "above 0" : cap ? "from 0 to 12 (dB)" : "from 0 to 1");
                return EXIT_USAGE;
            }
            if (weight && n_refs == 0) {
                fprintf (stderr, "masterfarm master: --reference-weight goes after the "
                         "--reference it weighs\n");
                return EXIT_USAGE;
            }
            if (weight)
                ref_weight [n_refs - 1] = x;
            else
            if (cap)
                rcfg.max_db = x;
            else
                *(strcmp (a, "--reference-tone") == 0 ? &rcfg.tone
                  : strcmp (a, "--reference-loudness") == 0 ? &rcfg.loudness : &rcfg.width) = x;
        }
        else
        if (strcmp (a, "--title") == 0 || strcmp (a, "--artist") == 0
        ||  strcmp (a, "--album") == 0) {
            if (!has_val)
                goto missing;
            const char *v = argv [++i];
            if (!*v) {
                fprintf (stderr, "masterfarm master: %s: give a non-empty text\n", a);
                return EXIT_USAGE;
            }
            if (strcmp (a, "--title") == 0)
                tags.title = v;
            else
            if (strcmp (a, "--artist") == 0)
                tags.artist = v;
            else
                tags.album = v;
        }
        else
        if (strcmp (a, "--isrc") == 0) {
            if (!has_val)
                goto missing;
            const char *v = argv [++i];
            if (!spec_isrc_normalise (v, isrc)) {
                fprintf (stderr, "masterfarm master: --isrc '%s': an ISRC is CC-XXX-YY-NNNNN "
                         "(2 letters, 3 letters or digits, 2 digits, 5 digits; hyphens "
                         "optional)\n", v);
                return EXIT_USAGE;
            }
            tags.isrc = isrc;
        }
        else
        if (strcmp (a, "--codec-check") == 0)
            codec_check = true;
        else
        if (strcmp (a, "--codec-safe") == 0)
            codec_check = codec_safe = true;
        else
        if (a [0] == '-' && a [1]) {
            fprintf (stderr, "masterfarm master: unknown option '%s' "
                     "(see masterfarm master --help)\n", a);
            return EXIT_USAGE;
        }
        else
        if (!file)
            file = a;
        else {
            fprintf (stderr, "masterfarm master: one FILE at a time ('%s' and '%s' given)\n",
                     file, a);
            return EXIT_USAGE;
        }
        continue;
missing:
        fprintf (stderr, "masterfarm master: %s needs a value (see masterfarm master --help)\n", a);
        return EXIT_USAGE;
    }
    if (!file || !outp) {
        fprintf (stderr, "masterfarm master: %s missing "
                 "(usage: masterfarm master FILE -o OUT [--profile NAME])\n",
                 !file ? "FILE" : "-o OUT");
        return EXIT_USAGE;
    }
    const profile_t *profile = NULL;
    if (profile_name && !(profile = profile_find (profile_name))) {
        fprintf (stderr, "masterfarm master: unknown profile '%s'; one of spotify, apple, "
                 "youtube, amazon, tidal, cd, broadcast, hires\n", profile_name);
        return EXIT_USAGE;
    }
    bool has_ext = false;
    int format = s_format_from_ext (outp, &has_ext);
    char out_path [4096];
    if (format < 0 && has_ext) {
        fprintf (stderr, "masterfarm master: %s: unknown extension; use .wav, .flac or .aiff\n",
                 outp);
        return EXIT_USAGE;
    }
    if (format < 0) {
        format = profile ? (int) profile->format : OUT_WAV;
        snprintf (out_path, sizeof out_path, "%s.%s", outp, profile ? profile->ext : "wav");
    }
    else
        snprintf (out_path, sizeof out_path, "%s", outp);

    //  options (checked before any audio is read)
    master_opts_t o;
    master_opts_default (&o, profile, 44100);
    if (!profile) {
        master_opts_default (&o, profile_find ("spotify"), 44100);
        o.target_lufs = -14.0;
        o.ceiling_dbtp = -1.0;
        o.out_bits = 24;
    }
    if (isfinite (target))
        o.target_lufs = target;
    if (spec_path && s_load_spec (spec_path, &o.chain))
        return EXIT_USAGE;
    if (dynamics >= 0)
        spec_dynamics_apply (&o.chain, (dynamics_t) dynamics);
    spec_errors_t errs = { 0 };
    if (spec_check_chain (&o.chain, "$.chain", &errs) > 0 || errs.n > 0) {
        fprintf (stderr, "masterfarm master: %s: %s\n", errs.items [0].path,
                 errs.items [0].message);
        spec_errors_clear (&errs);
        return EXIT_USAGE;
    }
    spec_errors_clear (&errs);

    //  a track too long for memory spills to a file beside the output
    char out_dir [4096];
    snprintf (out_dir, sizeof out_dir, "%s", out_path);
    char *slash = strrchr (out_dir, '/');
    if (slash)
        *(slash == out_dir ? slash + 1 : slash) = '\0';
    else
        snprintf (out_dir, sizeof out_dir, ".");
    samples_spill_setup_env (out_dir);

    audio_t in = { 0 }, out = { 0 };
    char err [AUDIO_ERR_LEN];
    //  the loudness loop may read the file again (master_opts_t.reload)
    audio_again_t again = { .fd = -1, .name = file };
    bool marked = audio_again_mark (&again, err, sizeof err) == 0;
    int rc = audio_read (file, &in, err, sizeof err);
    if (rc) {
        fprintf (stderr, "masterfarm master: %s\n", err);
        return EXIT_FAILED;
    }
    if (marked) {
        o.reload = audio_read_again;
        o.reload_arg = &again;
    }
    o.out_rate_hz = profile ? profile_output_rate (profile, in.rate_hz) : in.rate_hz;
    if (format == OUT_FLAC && o.out_bits == 32)
        o.out_bits = 24;
    planner_ref_plan_t rplan;
    if (n_refs > 0 && s_reference (file, &in, ref_path, ref_weight, n_refs, &rcfg, &o, &rplan)) {
        audio_free (&in);
        return EXIT_FAILED;
    }

    master_report_t rep;
    //  the platform's lossy rate; without a streaming profile, 256 kbps
    int kbps = profile && profile->lossy_kbps > 0 ? profile->lossy_kbps : 256;
    rc = codec_check ? master_run_codec (&in, &o, kbps, codec_safe, &out, &rep, err, sizeof err)
                     : master_run_take (&in, &o, &out, &rep, err, sizeof err);
    if (rc) {
        fprintf (stderr, "masterfarm master: %s: %s\n", file, err);
        audio_free (&in);
        return rc == MF_ERR_INVALID ? EXIT_USAGE : EXIT_FAILED;
    }
    //  cd is two-channel (Red Book): a mono master goes out as dual mono,
    //  as the farm's cd files do (the same dithered samples in both)
    if (profile && profile->id == PROFILE_CD && out.channels == 1) {
        float *two = samples_realloc (out.data, (size_t) out.frames, (size_t) out.frames * 2);
        if (!two) {
            fprintf (stderr, "masterfarm master: %s: out of memory for the second channel\n",
                     file);
            audio_free (&in);
            audio_free (&out);
            return EXIT_FAILED;
        }
        for (int64_t f = out.frames - 1; f >= 0; f--)
            two [2 * f] = two [2 * f + 1] = two [f];
        out.data = two;
        out.channels = 2;
    }
    char tmp [4200];
    if (fsutil_temp_path (out_path, tmp, sizeof tmp)) {
        fprintf (stderr, "masterfarm master: %s: path too long\n", out_path);
        audio_free (&in);
        audio_free (&out);
        return EXIT_USAGE;
    }
    bool tagged = tags.title || tags.artist || tags.album || tags.isrc;
    rc = audio_write_level (tmp, &out, (out_format_t) format, o.out_bits,
                            profile ? profile->flac_level : -1, tagged ? &tags : NULL, err,
                            sizeof err);
    if (rc)
        fprintf (stderr, "masterfarm master: %s\n", err);
    else
    if (fsutil_commit_temp (tmp, out_path)) {
        fprintf (stderr, "masterfarm master: %s: cannot write the output (%s)\n", out_path,
                 strerror (errno));
        rc = MF_ERR_IO;
    }
    if (rc) {
        unlink (tmp);
        audio_free (&in);
        audio_free (&out);
        return EXIT_FAILED;
    }

    char a [32], b [32], c [32];
    static const char *fmt_names [] = { "WAV", "FLAC", "AIFF" };
    printf ("input     %s (%s, %d Hz, %d ch, %.1f s)\n", file, in.format, in.rate_hz,
            in.channels, (double) in.frames / in.rate_hz);
    const char *dither = o.out_bits >= 24 || !o.chain.dither ? ""
                       : o.chain.noise_shaping ? ", TPDF dither noise-shaped (Wannamaker 3-tap)"
                       : ", flat TPDF dither";
    printf ("output    %s (%s %s, %d Hz%s)\n", out_path, fmt_names [format],
            o.out_bits == 32 ? "float" : o.out_bits == 16 ? "16-bit" : "24-bit",
            out.rate_hz, dither);
    printf ("loudness  %s LUFS in, %s LUFS out (target %s LUFS), LRA %.1f LU%s\n",
            s_num (a, sizeof a, rep.in_lufs), s_num (b, sizeof b, rep.out_lufs),
            s_num (c, sizeof c, o.target_lufs), rep.out_lra_lu,
            out.channels == 1 ? "; dual-mono (the channel counted on two speakers, +3.01 dB)"
                              : "");
    double ceil = isnan (o.chain.limiter.ceiling_dbtp) ? o.ceiling_dbtp : o.chain.limiter.ceiling_dbtp;
    printf ("peak      %s dBTP true peak (ceiling %.2f dBTP)\n",
            s_num (a, sizeof a, rep.out_true_peak_dbtp), ceil);
    if (rep.codec_checked) {
        printf ("codecs    decoded true peak:");
        for (int k = 0; k < CODEC_COUNT; k++)
            printf (" %s %s%s", codec_name (k), rep.codec_available [k]
                    ? s_num (a, sizeof a, rep.codec_true_peak_dbtp [k]) : "n/a",
                    rep.codec_available [k] ? " dBTP" : "");
        printf (" (");
        for (int k = 0; k < CODEC_COUNT; k++)
            if (rep.codec_available [k])
                printf ("%s%s %.0f kbps", k ? ", " : "", codec_name (k), rep.codec_kbps [k]);
        printf (")");
        if (rep.codec_safe)
            printf ("; limited to %.2f dBTP (%d mastering%s)", rep.codec_ceiling_dbtp,
                    rep.codec_passes, rep.codec_passes == 1 ? "" : "s");
        printf ("\n");
    }
    printf ("gain      %+.2f dB; limiter gain reduction max %.2f dB, mean %.2f dB; %d render%s\n",
            rep.gain_db, rep.gr_max_db, rep.gr_avg_db, rep.loop_iterations,
            rep.loop_iterations == 1 ? "" : "s");
    s_print_chain (&o.chain, &rep);
    if (n_refs > 0) {
        printf ("reference %zu file%s: %s LUFS, side/mid %s dB; tone %.2f, loudness %.2f, "
                "width %.2f\n", n_refs, n_refs == 1 ? "" : "s",
                s_num (a, sizeof a, rplan.ref_lufs), s_num (b, sizeof b, rplan.ref_side_mid_db),
                rcfg.tone, rcfg.loudness, rcfg.width);
        double peak = 0.0;
        for (int k = 0; k < MEASURE_BANDS; k++)
            peak = fmax (peak, fabs (rplan.tonal_db [k]));
        printf ("match     spectral distance %.2f dB before; tonal EQ up to %.2f dB "
                "(minimum phase, cap %.1f dB); side gain %.2f, side/mid %s dB\n",
                rplan.distance_db, peak, rcfg.max_db, rep.width,
                s_num (b, sizeof b, rep.side_mid_db));
    }
    if (!isfinite (rep.in_lufs) || !isfinite (rep.out_lufs))
        printf ("note      no gated loudness (silence, or shorter than 0.4 s): the loudness "
                "target was not applied\n");
    if (rep.gr_capped)
        printf ("capped    yes: the target needs more than %.1f dB of limiting; the output "
                "stops at %s LUFS rather than crushing the track\n",
                o.chain.limiter.max_gr_db, s_num (a, sizeof a, rep.out_lufs));
    else
        printf ("capped    no\n");
    audio_free (&in);
    audio_free (&out);
    return EXIT_OK;
}
