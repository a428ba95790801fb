/*  The album report: report.json for machines, report.html for people.

    Both come from the same inputs (spec album, input analyses, and per
    profile the plan, master reports, layout and output measures) and say
    the same things. The HTML page is self-contained: tables, and inline
    SVG plots drawn here (loudness per track in and out against the
    target; the tracks' 1/3-octave spectra, input and output, on a log
    frequency axis; the tonal corrections). No scripts, no external
    resources, so it opens anywhere and can be archived with the masters.  */
#include "broker/report.h"
#include "common/text.h"
#include "common/array.h"
#include "common/err.h"
#include "common/fsutil.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLOT_W   720
#define PLOT_H   260
#define PLOT_L   56       //  left margin, px
#define PLOT_B   34       //  bottom margin, px
#define PLOT_T   14       //  top margin, px

static const char *s_colours [] = {
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22"
};
#define N_COLOURS (sizeof s_colours / sizeof s_colours [0])

//  JSON number or null.
static json_t *
s_num (double v)
{
    return isfinite (v) ? json_real (v) : json_null ();
}

//  JSON array of the MEASURE_BANDS values.
static json_t *
s_bands (const double *v)
{
    json_t *a = json_array ();
    for (int b = 0; b < MEASURE_BANDS; b++)
        json_array_append_new (a, s_num (v [b]));
    return a;
}

//  JSON string or null.
static json_t *
s_str (const char *s)
{
    return s ? json_string (s) : json_null ();
}

//  The chain a track's masters ran, for report.json: the stages in order
//  with their settings, the dynamics preset, and the glue compressor as
//  the master task resolved it (threshold in dBFS from the input's
//  loudness) with its gain reduction; mr NULL: as the spec says.
static json_t *
s_chain_json (const chain_cfg_t *c, const master_report_t *mr)
{
    json_t *o = json_object ();
    json_object_set_new (o, "highpass_hz", c->highpass_hz > 0 ? json_real (c->highpass_hz)
                                                              : json_null ());
    json_object_set_new (o, "highpass_order", json_integer (c->highpass_order));
    json_object_set_new (o, "eq_bands", json_integer (c->n_eq));
    json_object_set_new (o, "multiband", json_boolean (c->multiband.enabled));
    json_object_set_new (o, "dynamics", json_string (spec_dynamics_name (c->dynamics)));
    const comp_cfg_t *k = mr ? &mr->compressor : &c->compressor;
    json_t *comp = json_object ();
    json_object_set_new (comp, "enabled", json_boolean (k->enabled));
    if (k->enabled) {
        json_object_set_new (comp, "threshold_db", k->relative ? json_null ()
                                                               : s_num (k->threshold_db));
        if (c->compressor.relative)
            json_object_set_new (comp, "threshold_lu_above_loudness",
                                 json_real (c->compressor.threshold_lu));
        json_object_set_new (comp, "ratio", json_real (k->ratio));
        json_object_set_new (comp, "knee_db", json_real (k->knee_db));
        json_object_set_new (comp, "attack_ms", json_real (k->attack_ms));
        json_object_set_new (comp, "release_ms", json_real (k->release_ms));
        json_object_set_new (comp, "makeup_db", json_real (k->makeup_db));
        json_object_set_new (comp, "gr_max_db", s_num (mr ? mr->comp_gr_max_db : NAN));
        json_object_set_new (comp, "gr_mean_db", s_num (mr ? mr->comp_gr_avg_db : NAN));
    }
    json_object_set_new (o, "compressor", comp);
    json_object_set_new (o, "stereo_width", json_real (c->stereo.width));
    json_object_set_new (o, "mono_below_hz", json_real (c->stereo.mono_below_hz));
    json_object_set_new (o, "limiter", json_boolean (c->limiter.enabled));
    json_object_set_new (o, "dither", json_boolean (c->dither));
    json_object_set_new (o, "noise_shaping", json_boolean (c->noise_shaping));
    return o;
}

//  Checks the inputs every output needs.
static int
s_valid (const report_input_t *in)
{
    if (!in || !in->album || !in->analyses || (in->n_profiles && !in->profiles))
        return 0;
    for (size_t i = 0; i < in->album->n_tracks; i++)
        if (!in->analyses [i])
            return 0;
    for (size_t p = 0; p < in->n_profiles; p++) {
        const report_profile_t *rp = &in->profiles [p];
        if (!rp->plan || rp->plan->n_tracks != in->album->n_tracks
        ||  (rp->layout && rp->layout->n_tracks != in->album->n_tracks))
            return 0;
    }
    return 1;
}

//  The album's measured output loudness for a profile: given, or the
//  union gating of the output measures' blocks with the edge blocks the
//  album file holds at gaps (planner_album_lufs), or NAN.
static double
s_album_out (const spec_album_t *album, const report_profile_t *rp, size_t n)
{
    if (isfinite (rp->album_out_lufs))
        return rp->album_out_lufs;
    if (rp->outputs) {
        for (size_t i = 0; i < n; i++)
            if (!rp->outputs [i])
                return NAN;
        return planner_album_lufs (album, rp->outputs, NULL);
    }
    return NAN;
}

//  The album correction of a plan (graph.c), one sentence; nothing when
//  the album was not corrected. measured: the album file's loudness as
//  assembled (NAN: not known), said too where the reading on the masters'
//  blocks after the gain differs from it.
static void
s_put_correction (text_t *o, const album_plan_t *plan, double measured)
{
    json_t *rec = plan->report_json ? json_loads (plan->report_json, 0, NULL) : NULL;
    json_t *c = json_object_get (rec, "album_correction");
    json_t *reads = json_object_get (c, "album_read_lufs");
    json_int_t rounds = json_integer_value (json_object_get (c, "rounds"));
    //  the last round a gain after the limiter: its reading is the
    //  blocks moved by it, not a mastered album
    const bool post = json_is_true (json_object_get (c, "post_gain"));
    const json_int_t again = rounds - (post && rounds > 0);
    size_t n_read = json_array_size (reads);
    if (post && n_read > 0)
        n_read--;
    if (rounds > 0 && n_read > 0) {
        text_printf (o, "<p>Corrected after mastering: the mastered album read ");
        for (size_t r = 0; r < n_read; r++)
            text_printf (o, "%s%.2f LUFS", r == 0 ? "" : r + 1 == n_read ? " and then " : ", ",
                         json_number_value (json_array_get (reads, r)));
        text_printf (o, " (the chain's dynamics move the blocks the album is gated on); ");
        if (again > 0)
            text_printf (o, "the tracks were mastered again%s with their planned loudness "
                         "moved%s", again == 1 ? "" : ", twice,", post ? ", then" : "");
        if (post) {
            //  by how much: the last round's lowerings (silent tracks: none)
            json_t *per = json_object_get (c, "round_shift_db");
            json_t *row = json_array_get (per, json_array_size (per) - 1);
            double lo = HUGE_VAL, hi = -HUGE_VAL;
            for (size_t i = 0; i < json_array_size (row); i++) {
                double v = json_number_value (json_array_get (row, i));
                if (v < 0.0) {
                    lo = fmin (lo, -v);
                    hi = fmax (hi, -v);
                }
            }
            char by [48] = "";
            if (hi > lo + 0.005)
                snprintf (by, sizeof by, " by %.2f to %.2f dB", lo, hi);
            else
            if (hi >= lo)
                snprintf (by, sizeof by, " by %.2f dB", hi);
            double to = json_number_value (json_array_get (reads, n_read));
            text_printf (o, "%s lowered%s after the limiter as the album was assembled (a "
                         "gain moves every block by itself), to %.2f LUFS",
                         again > 0 ? "" : "the tracks were", by, to);
            if (isfinite (measured) && fabs (measured - to) >= 0.005)
                text_printf (o, " on the masters' blocks; the album file as assembled reads "
                             "%.2f LUFS", measured);
        }
        text_printf (o, "%s.</p>\n", post ? "" : " to land it on the plan");
    }
    json_decref (rec);
}

//  Track i's planned loudness as delivered: the master's target moved by
//  the album correction's gain after the limiter (0 but for a correction).
static double
s_track_planned (const report_profile_t *rp, size_t i)
{
    const track_plan_t *tp = &rp->plan->tracks [i];
    return tp->target_lufs + tp->post_gain_db;
}

//  Track i's output loudness for a profile: measured, master's (moved by
//  that gain, which moves every block by itself), or NAN.
static double
s_track_out (const report_profile_t *rp, size_t i)
{
    if (rp->delivered && !rp->delivered [i])
        return NAN;
    if (rp->outputs && rp->outputs [i])
        return rp->outputs [i]->integrated_lufs;
    if (rp->masters)
        return rp->masters [i].out_lufs + rp->plan->tracks [i].post_gain_db;
    return NAN;
}

//  Track i's per-track file as written, its integrated loudness (lra
//  false) or loudness range: its gaps and share of crossfades included,
//  measured by the assembly; NAN when not measured.
static double
s_track_file (const report_profile_t *rp, size_t i, bool lra)
{
    if (!rp->layout || i >= rp->layout->n_tracks || (rp->delivered && !rp->delivered [i]))
        return NAN;
    return lra ? rp->layout->tracks [i].file_lra_lu : rp->layout->tracks [i].file_lufs;
}

//  Track i's output true peak: measured, master's moved by that gain, NAN.
static double
s_track_tp (const report_profile_t *rp, size_t i)
{
    if (rp->outputs && rp->outputs [i])
        return rp->outputs [i]->true_peak_dbtp;
    if (rp->masters)
        return rp->masters [i].out_true_peak_dbtp + rp->plan->tracks [i].post_gain_db;
    return NAN;
}

//  Builds the report as a jansson tree; NULL on OOM.
//  Track i's number in the album spec.
static int
s_number (const report_input_t *in, size_t i)
{
    return in->numbers ? in->numbers [i] : (int) i + 1;
}

//  The "complete" flag and "missing" list into o.
static void
s_missing_json (const report_input_t *in, json_t *o)
{
    json_object_set_new (o, "complete", json_boolean (!in->incomplete));
    json_t *arr = json_array ();
    for (size_t i = 0; i < in->n_missing; i++) {
        const report_missing_t *m = &in->missing [i];
        json_t *e = json_object ();
        json_object_set_new (e, "track", m->track > 0 ? json_integer (m->track) : json_null ());
        json_object_set_new (e, "title", m->title ? json_string (m->title) : json_null ());
        json_object_set_new (e, "profile", m->profile ? json_string (m->profile) : json_null ());
        json_object_set_new (e, "reason", json_string (m->reason ? m->reason : ""));
        json_array_append_new (arr, e);
    }
    json_object_set_new (o, "missing", arr);
}

static json_t *
s_tree (const report_input_t *in)
{
    const spec_album_t *al = in->album;
    size_t n = al->n_tracks;
    json_t *root = json_object ();
    json_t *ja = json_object ();
    s_missing_json (in, root);
    json_object_set_new (root, "album", ja);
    json_object_set_new (ja, "title", s_str (al->title));
    json_object_set_new (ja, "artist", s_str (al->artist));
    json_object_set_new (ja, "upc", s_str (al->upc));
    json_object_set_new (ja, "tracks", json_integer ((json_int_t) n));
    json_object_set_new (ja, "input_lufs", s_num (planner_album_lufs (al, in->analyses, NULL)));
    json_object_set_new (ja, "input_lufs_method", json_string ("BS.1770-4 gating over the union of all tracks' blocks, with the partial blocks at gaps"));
    double hz [MEASURE_BANDS];
    for (int b = 0; b < MEASURE_BANDS; b++)
        hz [b] = measure_band_hz (b);
    json_object_set_new (root, "band_hz", s_bands (hz));

    json_t *jt = json_array ();
    json_object_set_new (root, "tracks", jt);
    for (size_t i = 0; i < n; i++) {
        const measure_t *m = in->analyses [i];
        const spec_track_t *st = &al->tracks [i];
        json_t *o = json_object ();
        json_object_set_new (o, "index", json_integer (s_number (in, i)));
        json_object_set_new (o, "title", s_str (st->title));
        json_object_set_new (o, "artist", s_str (st->artist ? st->artist : al->artist));
        json_object_set_new (o, "isrc", s_str (st->isrc));
        json_object_set_new (o, "path", s_str (st->path));
        if (st->disc > 0)
            json_object_set_new (o, "disc", json_integer (st->disc));
        json_t *ji = json_object ();
        json_object_set_new (ji, "format", json_string (m->format));
        json_object_set_new (ji, "rate_hz", json_integer (m->rate_hz));
        json_object_set_new (ji, "channels", json_integer (m->channels));
        json_object_set_new (ji, "duration_s", s_num (m->duration_s));
        json_object_set_new (ji, "integrated_lufs", s_num (m->integrated_lufs));
        json_object_set_new (ji, "silent", json_boolean (planner_track_silent (m)));
        json_object_set_new (ji, "lra_lu", s_num (m->lra_lu));
        json_object_set_new (ji, "true_peak_dbtp", s_num (m->true_peak_dbtp));
        json_object_set_new (ji, "sample_peak_dbfs", s_num (m->sample_peak_dbfs));
        json_object_set_new (ji, "max_shortterm_lufs", s_num (m->max_shortterm_lufs));
        json_object_set_new (ji, "dc_offset_dbfs", s_num (m->dc_offset_dbfs));
        json_object_set_new (ji, "clipped_samples", json_integer ((json_int_t) m->clipped_samples));
        json_object_set_new (ji, "band_db", s_bands (m->band_db));
        json_object_set_new (o, "input", ji);
        json_array_append_new (jt, o);
    }

    json_t *jp = json_array ();
    json_object_set_new (root, "profiles", jp);
    for (size_t p = 0; p < in->n_profiles; p++) {
        const report_profile_t *rp = &in->profiles [p];
        const profile_t *prof = profile_get (rp->profile);
        json_t *o = json_object ();
        json_object_set_new (o, "profile", json_string (prof ? prof->name : "?"));
        json_t *jal = json_object ();
        double out_album = s_album_out (in->album, rp, n);
        double omin = HUGE_VAL, omax = -HUGE_VAL;
        for (size_t i = 0; i < n; i++) {
            double l = s_track_out (rp, i);
            if (isfinite (l)) {
                omin = fmin (omin, l);
                omax = fmax (omax, l);
            }
        }
        json_object_set_new (jal, "target_lufs", s_num (rp->plan->album_target_lufs));
        json_object_set_new (jal, "planned_lufs", s_num (rp->plan->album_planned_lufs));
        json_object_set_new (jal, "output_lufs", s_num (out_album));
        //  whether the profile has a continuous album file ("album_file": false
        //  in the spec leaves it out; output_lufs is then null: nothing to measure)
        bool album_file = !prof || !(in->album->s.no_album_file & (1u << prof->id));
        json_object_set_new (jal, "album_file", json_boolean (album_file));
        json_object_set_new (jal, "planned_spread_lu", s_num (rp->plan->spread_lu));
        json_object_set_new (jal, "output_spread_lu", s_num (omax >= omin ? omax - omin : NAN));
        if (rp->layout) {
            json_object_set_new (jal, "rate_hz", json_integer (rp->rate_hz));
            json_object_set_new (jal, "total_frames", json_integer (rp->layout->total_frames));
        }
        json_object_set_new (o, "album", jal);
        json_error_t je;
        json_t *plan = rp->plan->report_json ? json_loads (rp->plan->report_json, 0, &je) : NULL;
        json_object_set_new (o, "plan", plan ? plan : json_null ());

        json_t *jtr = json_array ();
        json_object_set_new (o, "tracks", jtr);
        for (size_t i = 0; i < n; i++) {
            if (rp->delivered && !rp->delivered [i])
                continue;                    //  not in this profile (listed as missing)
            const track_plan_t *tp = &rp->plan->tracks [i];
            const master_report_t *mr = rp->masters ? &rp->masters [i] : NULL;
            const measure_t *om = rp->outputs ? rp->outputs [i] : NULL;
            json_t *t = json_object ();
            json_object_set_new (t, "index", json_integer (s_number (in, i)));
            json_object_set_new (t, "input_lufs", s_num (in->analyses [i]->integrated_lufs));
            json_object_set_new (t, "loudness_channels",
                                 json_string (measure_loudness_channels (in->analyses [i]->channels)));
            json_object_set_new (t, "silent", json_boolean (tp->silent));
            json_object_set_new (t, "planned_lufs", s_num (s_track_planned (rp, i)));
            json_object_set_new (t, "output_lufs", s_num (s_track_out (rp, i)));
            json_object_set_new (t, "file_lufs", s_num (s_track_file (rp, i, false)));
            json_object_set_new (t, "file_lra_lu", s_num (s_track_file (rp, i, true)));
            json_object_set_new (t, "input_lra_lu", s_num (in->analyses [i]->lra_lu));
            json_object_set_new (t, "output_lra_lu", s_num (om ? om->lra_lu : mr ? mr->out_lra_lu : NAN));
            json_object_set_new (t, "input_true_peak_dbtp", s_num (in->analyses [i]->true_peak_dbtp));
            json_object_set_new (t, "output_true_peak_dbtp", s_num (s_track_tp (rp, i)));
            json_object_set_new (t, "ceiling_dbtp", s_num (tp->ceiling_dbtp));
            json_object_set_new (t, "planned_gain_db", s_num (tp->gain_db));
            json_object_set_new (t, "gain_db", s_num (mr ? mr->gain_db : tp->gain_db));
            //  the album correction's gain after the limiter (the assembly's)
            json_object_set_new (t, "post_gain_db", s_num (tp->post_gain_db));
            json_object_set_new (t, "tonal_db", s_bands (mr ? mr->tonal_db : tp->tonal_db));
            json_object_set_new (t, "limiter_gr_max_db", s_num (mr ? mr->gr_max_db : NAN));
            json_object_set_new (t, "limiter_gr_mean_db", s_num (mr ? mr->gr_avg_db : NAN));
            json_object_set_new (t, "limiter_gr_sustained_db", s_num (mr ? mr->gr_sustained_db : NAN));
            json_object_set_new (t, "limiter_gr_capped", mr ? json_boolean (mr->gr_capped) : json_null ());
            json_object_set_new (t, "limiter_ceiling_dbtp",
                                 s_num (mr ? mr->limiter_ceiling_dbtp : NAN));
            json_object_set_new (t, "true_peak_fixed_ms", s_num (mr ? mr->tp_fixed_ms : NAN));
            json_object_set_new (t, "loop_iterations", mr ? json_integer (mr->loop_iterations) : json_null ());
            //  a reference match's side gain and the side/mid ratio it reached
            if (rp->plan->reference) {
                json_object_set_new (t, "width", s_num (mr ? mr->width : NAN));
                json_object_set_new (t, "side_mid_db", s_num (mr ? mr->side_mid_db : NAN));
            }
            if (mr && mr->codec_checked) {
                //  what the platforms' lossy versions peak at, decoded
                json_t *k = json_object (), *ktp = json_object ();
                for (int c = 0; k && ktp && c < CODEC_COUNT; c++)
                    json_object_set_new (ktp, codec_name (c), mr->codec_available [c]
                                         ? s_num (mr->codec_true_peak_dbtp [c]) : json_null ());
                json_t *kb = json_object ();
                for (int c = 0; kb && c < CODEC_COUNT; c++)
                    json_object_set_new (kb, codec_name (c), mr->codec_available [c]
                                         ? s_num (mr->codec_kbps [c]) : json_null ());
                if (k) {
                    json_object_set_new (k, "true_peak_dbtp", ktp ? ktp : json_null ());
                    json_object_set_new (k, "kbps", kb ? kb : json_null ());
                    json_object_set_new (k, "safe", json_boolean (mr->codec_safe));
                    json_object_set_new (k, "limited_to_dbtp", s_num (mr->codec_ceiling_dbtp));
                    json_object_set_new (k, "masterings", json_integer (mr->codec_passes));
                    json_object_set_new (t, "codec_check", k);
                }
            }
            json_object_set_new (t, "chain", s_chain_json (&in->album->tracks [i].s.chain, mr));
            if (rp->layout) {
                const assemble_track_t *lt = &rp->layout->tracks [i];
                json_object_set_new (t, "start_frame", json_integer (lt->start));
                json_object_set_new (t, "length_frames", json_integer (lt->length));
                json_object_set_new (t, "pregap_frame", json_integer (lt->pregap));
                json_object_set_new (t, "audio_start_frame", json_integer (lt->audio_start));
                json_object_set_new (t, "trim_lead_frames", json_integer (lt->trim_lead));
                json_object_set_new (t, "trim_trail_frames", json_integer (lt->trim_trail));
                json_object_set_new (t, "crossfade_in_frames", json_integer (lt->xfade_in));
                if (rp->rate_hz > 0)
                    json_object_set_new (t, "start_s", json_real ((double) lt->start / rp->rate_hz));
            }
            if (om)
                json_object_set_new (t, "output_band_db", s_bands (om->band_db));
            json_array_append_new (jtr, t);
        }
        json_array_append_new (jp, o);
    }
    return root;
}

char *
report_status_json (const report_input_t *in)
{
    json_t *o = json_object ();
    if (!o)
        return NULL;
    s_missing_json (in, o);
    char *text = json_dumps (o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref (o);
    return text;
}

//  The report as JSON text (caller frees); NULL on missing input or OOM.
char *
report_json (const report_input_t *in)
{
    if (!s_valid (in))
        return NULL;
    json_t *root = s_tree (in);
    if (!root)
        return NULL;
    char *text = json_dumps (root, JSON_INDENT (2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION (8));
    json_decref (root);
    return text;
}

//  Appends text with HTML special characters escaped.
static void
s_put_esc (text_t *o, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
            case '<': text_printf (o, "&lt;"); break;
            case '>': text_printf (o, "&gt;"); break;
            case '&': text_printf (o, "&amp;"); break;
            case '"': text_printf (o, "&quot;"); break;
            default:  text_printf (o, "%c", *s);
        }
    }
}

//  A number cell: value with decimals, or an en dash for unknown.
static void
s_cell (text_t *o, double v, int decimals)
{
    if (isfinite (v))
        text_printf (o, "<td>%.*f</td>", decimals, v);
    else
        text_printf (o, "<td>&ndash;</td>");
}

//  A source cell: the file's format, rate and channels as an engineer
//  reads them ("WAV PCM 24-bit, 44.1 kHz, mono"); mono is played as dual
//  mono, and a mono track in a stereo album fills both channels.
static void
s_cell_source (text_t *o, const measure_t *m)
{
    char ch [16];
    if (m->channels == 1 || m->channels == 2)
        snprintf (ch, sizeof ch, "%s", m->channels == 1 ? "mono" : "stereo");
    else
        snprintf (ch, sizeof ch, "%d ch", m->channels);
    text_printf (o, "<td class='l'>");
    s_put_esc (o, m->format);
    text_printf (o, ", %g kHz, %s</td>", m->rate_hz / 1000.0, ch);
}

//  A loudness cell: value, or "silent" for a track with no measurable
//  loudness (m), or an en dash for unknown.
static void
s_cell_lufs (text_t *o, double v, const measure_t *m)
{
    if (!isfinite (v) && m && planner_track_silent (m))
        text_printf (o, "<td>silent</td>");
    else
        s_cell (o, v, 2);
}

//  A loudness in running text: "-14.00 LUFS" or "none (silent)".
static void
s_put_lufs (text_t *o, double v)
{
    if (isfinite (v))
        text_printf (o, "%.2f LUFS", v);
    else
        text_printf (o, "none (silent)");
}

//  The reference match of a profile whose plan has one: the references
//  and intensities (from the plan's record), then per track the distance
//  to their shape before the match, its side/mid ratio in and out and
//  the side gain that moved it.
static void
s_put_reference (text_t *o, const report_input_t *in, const report_profile_t *rp)
{
    if (!rp->plan->reference || !rp->plan->report_json)
        return;
    json_t *rec = json_loads (rp->plan->report_json, 0, NULL);
    json_t *t = json_object_get (rec, "tonal"), *refs = json_object_get (t, "references");
    json_t *in_t = json_object_get (t, "intensity"), *dist = json_object_get (t, "track_distance_db");
    json_t *ptracks = json_object_get (rec, "tracks");
    text_printf (o, "<h3>Reference match</h3>\n<ul>\n");
    size_t k;
    json_t *r;
    json_array_foreach (refs, k, r) {
        text_printf (o, "<li>");
        s_put_esc (o, json_string_value (json_object_get (r, "path")));
        text_printf (o, ": weight %g, %.2f LUFS, side/mid %.2f dB, %lld Hz, %.1f s</li>\n",
               json_number_value (json_object_get (r, "weight")),
               json_number_value (json_object_get (r, "lufs")),
               json_number_value (json_object_get (r, "side_mid_db")),
               (long long) json_integer_value (json_object_get (r, "rate_hz")),
               json_number_value (json_object_get (r, "duration_s")));
    }
    text_printf (o, "</ul>\n<p>intensities: tone %g, loudness %g, width %g; tonal correction capped at "
           "%g dB, minimum phase; album target %.2f LUFS (the references' loudness %.2f LUFS)</p>\n",
           json_number_value (json_object_get (in_t, "tone")),
           json_number_value (json_object_get (in_t, "loudness")),
           json_number_value (json_object_get (in_t, "width")),
           json_number_value (json_object_get (t, "max_db")), rp->plan->album_target_lufs,
           json_number_value (json_object_get (rec, "reference_lufs")));
    text_printf (o, "<table><tr><th>#</th><th>distance before dB</th><th>side/mid in dB</th>"
              "<th>side gain</th><th>side/mid out dB</th></tr>\n");
    for (size_t i = 0; i < in->album->n_tracks; i++) {
        if (rp->delivered && !rp->delivered [i])
            continue;
        const master_report_t *mr = rp->masters ? &rp->masters [i] : NULL;
        json_t *d = json_array_get (dist, i), *pt = json_array_get (ptracks, i);
        text_printf (o, "<tr><td>%d</td>", s_number (in, i));
        s_cell (o, json_is_number (d) ? json_number_value (d) : NAN, 2);
        json_t *sm = json_object_get (pt, "side_mid_db");
        s_cell (o, json_is_number (sm) ? json_number_value (sm) : NAN, 2);
        s_cell (o, mr ? mr->width : NAN, 3);
        s_cell (o, mr ? mr->side_mid_db : NAN, 2);
        text_printf (o, "</tr>\n");
    }
    text_printf (o, "</table>\n");
    json_decref (rec);
}

//  The glue compressor of each track as it ran (report.json's chain), one
//  line per track, for report.html.
static void
s_put_dynamics (text_t *o, const report_input_t *in, const report_profile_t *rp)
{
    text_printf (o, "<h3>Dynamics</h3>\n<ul>\n");
    for (size_t i = 0; i < in->album->n_tracks; i++) {
        if (rp->delivered && !rp->delivered [i])
            continue;
        const chain_cfg_t *c = &in->album->tracks [i].s.chain;
        const master_report_t *mr = rp->masters ? &rp->masters [i] : NULL;
        const comp_cfg_t *k = mr ? &mr->compressor : &c->compressor;
        text_printf (o, "<li>%d: %s, ", s_number (in, i), spec_dynamics_name (c->dynamics));
        if (!k->enabled)
            text_printf (o, "glue compressor off</li>\n");
        else {
            bool dbfs = mr || !c->compressor.relative;        //  resolved, or absolute
            if (dbfs)
                text_printf (o, "threshold %.1f dBFS", k->threshold_db);
            if (c->compressor.relative)
                text_printf (o, "%sloudness %+.1f LU%s", dbfs ? " (" : "threshold ",
                       c->compressor.threshold_lu, dbfs ? ")" : "");
            text_printf (o, ", %g:1, knee %g dB, attack %g ms, release %g ms", k->ratio, k->knee_db,
                   k->attack_ms, k->release_ms);
            if (mr && isfinite (mr->comp_gr_max_db))
                text_printf (o, "; gain reduction max %.2f dB, mean %.2f dB", mr->comp_gr_max_db,
                       mr->comp_gr_avg_db);
            text_printf (o, "</li>\n");
        }
    }
    text_printf (o, "</ul>\n");
}

//  The lossy round trips of the tracks that had them (codec_check): the
//  decoded true peak per codec, and the ceiling codec_safe limited to.
static void
s_put_codecs (text_t *o, const report_input_t *in, const report_profile_t *rp)
{
    bool any = false;
    for (size_t i = 0; rp->masters && i < in->album->n_tracks; i++) {
        const master_report_t *mr = &rp->masters [i];
        if ((rp->delivered && !rp->delivered [i]) || !mr->codec_checked)
            continue;
        if (!any)
            text_printf (o, "<h3>Lossy round trips (decoded true peak, dBTP)</h3>\n<ul>\n");
        any = true;
        text_printf (o, "<li>%d:", s_number (in, i));
        for (int c = 0; c < CODEC_COUNT; c++) {
            if (mr->codec_available [c])
                text_printf (o, " %s %.2f at %.0f kbps%s", codec_name (c),
                       mr->codec_true_peak_dbtp [c], mr->codec_kbps [c],
                       c + 1 < CODEC_COUNT ? "," : "");
            else
                text_printf (o, " %s not measured%s", codec_name (c), c + 1 < CODEC_COUNT ? "," : "");
        }
        if (mr->codec_safe)
            text_printf (o, "; limited to %.2f dBTP (%d mastering%s)", mr->codec_ceiling_dbtp,
                   mr->codec_passes, mr->codec_passes == 1 ? "" : "s");
        text_printf (o, "</li>\n");
    }
    if (any)
        text_printf (o, "</ul>\n");
}

//  Plot frame: axes, y grid lines from y0 to y1 every step (value units).
static void
s_axes (text_t *o, double y0, double y1, double step, const char *ylabel)
{
    int w = PLOT_W - PLOT_L - 10, h = PLOT_H - PLOT_B - PLOT_T;
    text_printf (o, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#999'/>\n", PLOT_L, PLOT_T, w, h);
    for (double v = ceil (y0 / step) * step; v <= y1 + 1e-9; v += step) {
        double y = PLOT_T + h - (v - y0) / (y1 - y0) * h;
        text_printf (o, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#eee'/>"
                  "<text x='%d' y='%.1f' font-size='10' text-anchor='end'>%g</text>\n",
               PLOT_L, PLOT_L + w, y, y, PLOT_L - 4, y + 3, v);
    }
    text_printf (o, "<text x='12' y='%d' font-size='11' transform='rotate(-90 12 %d)' text-anchor='middle'>%s</text>\n",
           PLOT_T + h / 2, PLOT_T + h / 2, ylabel);
}

//  Maps value v in [y0, y1] to a y pixel (clamped to the plot).
static double
s_ypix (double v, double y0, double y1)
{
    int h = PLOT_H - PLOT_B - PLOT_T;
    double t = (v - y0) / (y1 - y0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return PLOT_T + h - t * h;
}

//  x pixel of band b on a log frequency axis.
static double
s_xband (int b)
{
    int w = PLOT_W - PLOT_L - 10;
    return PLOT_L + 8 + (double) b / (MEASURE_BANDS - 1) * (w - 16);
}

//  Loudness per track: input (grey), planned (outline), output (colour),
//  and the target line, for one profile.
static void
s_plot_loudness (text_t *o, const report_input_t *in, const report_profile_t *rp)
{
    size_t n = in->album->n_tracks;
    double lo = rp->plan->album_target_lufs, hi = lo;
    for (size_t i = 0; i < n; i++) {
        double v [3] = { in->analyses [i]->integrated_lufs, s_track_planned (rp, i), s_track_out (rp, i) };
        for (int k = 0; k < 3; k++)
            if (isfinite (v [k])) {
                lo = fmin (lo, v [k]);
                hi = fmax (hi, v [k]);
            }
    }
    lo = floor (lo / 2.0) * 2.0 - 2.0;
    hi = ceil (hi / 2.0) * 2.0 + 2.0;
    text_printf (o, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' role='img' aria-label='loudness per track'>\n", PLOT_W, PLOT_H);
    s_axes (o, lo, hi, 2.0, "LUFS");
    int w = PLOT_W - PLOT_L - 10;
    double slot = (double) w / (double) (n ? n : 1);
    double ty = s_ypix (rp->plan->album_target_lufs, lo, hi);
    text_printf (o, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#d62728' stroke-dasharray='5,3'/>"
              "<text x='%d' y='%.1f' font-size='10' fill='#d62728'>target %.1f</text>\n",
           PLOT_L, PLOT_L + w, ty, ty, PLOT_L + 4, ty - 3, rp->plan->album_target_lufs);
    for (size_t i = 0; i < n; i++) {
        double x = PLOT_L + slot * ((double) i + 0.5);
        double li = in->analyses [i]->integrated_lufs, lp = s_track_planned (rp, i), lo_ = s_track_out (rp, i);
        if (isfinite (li))
            text_printf (o, "<circle cx='%.1f' cy='%.1f' r='4' fill='#bbb'><title>track %d in %.2f LUFS</title></circle>\n",
                   x - 8, s_ypix (li, lo, hi), s_number (in, i), li);
        if (isfinite (lp))
            text_printf (o, "<rect x='%.1f' y='%.1f' width='10' height='10' fill='none' stroke='#333'><title>track %d planned %.2f LUFS</title></rect>\n",
                   x - 5, s_ypix (lp, lo, hi) - 5, s_number (in, i), lp);
        if (isfinite (lo_))
            text_printf (o, "<circle cx='%.1f' cy='%.1f' r='4' fill='#1f77b4'><title>track %d out %.2f LUFS</title></circle>\n",
                   x + 8, s_ypix (lo_, lo, hi), s_number (in, i), lo_);
        text_printf (o, "<text x='%.1f' y='%d' font-size='10' text-anchor='middle'>%d</text>\n", x, PLOT_H - PLOT_B + 14, s_number (in, i));
    }
    text_printf (o, "<text x='%d' y='%d' font-size='10'>grey: input, square: planned, blue: output</text>\n",
           PLOT_L, PLOT_H - 4);
    text_printf (o, "</svg>\n");
}

//  Spectra (or corrections) per track as polylines on a log frequency axis.
//  get(i, b) gives the value; shape removes each curve's mean when set.
static void
s_plot_bands (text_t *o, size_t n, double (*get) (const void *, size_t, int), const void *ctx,
              int shape, const char *label)
{
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    double *v = calloc (n * MEASURE_BANDS + 1, sizeof *v);
    if (!v) {
        o->failed = true;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double mean = 0.0;
        int k = 0;
        for (int b = 0; b < MEASURE_BANDS; b++) {
            double x = get (ctx, i, b);
            v [i * MEASURE_BANDS + b] = x;
            if (isfinite (x) && x > -150.0) {
                mean += x;
                k++;
            }
        }
        mean = shape && k ? mean / k : 0.0;
        for (int b = 0; b < MEASURE_BANDS; b++) {
            double *x = &v [i * MEASURE_BANDS + b];
            if (isfinite (*x) && *x > -150.0) {
                *x -= mean;
                lo = fmin (lo, *x);
                hi = fmax (hi, *x);
            }
            else
                *x = NAN;
        }
    }
    if (!(hi >= lo)) {
        lo = -1.0;
        hi = 1.0;
    }
    double step = hi - lo > 40 ? 10.0 : hi - lo > 12 ? 5.0 : 1.0;
    lo = floor (lo / step) * step;
    hi = ceil (hi / step) * step;
    if (hi - lo < step)
        hi = lo + step;
    text_printf (o, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' role='img' aria-label='%s'>\n", PLOT_W, PLOT_H, label);
    s_axes (o, lo, hi, step, label);
    static const int ticks [] = { 0, 6, 12, 16, 20, 26, 29 };   //  25, 100, 400, 1k, 2.5k, 10k, 20k Hz
    for (size_t k = 0; k < sizeof ticks / sizeof ticks [0]; k++) {
        double hz = measure_band_hz (ticks [k]);
        text_printf (o, "<text x='%.1f' y='%d' font-size='10' text-anchor='middle'>%g%s</text>\n",
               s_xband (ticks [k]), PLOT_H - PLOT_B + 14, hz >= 1000 ? hz / 1000 : hz, hz >= 1000 ? "k" : "");
    }
    text_printf (o, "<text x='%d' y='%d' font-size='10'>Hz (1/3-octave bands)</text>\n", PLOT_W / 2, PLOT_H - 4);
    for (size_t i = 0; i < n; i++) {
        text_printf (o, "<polyline fill='none' stroke='%s' stroke-width='1.3' points='", s_colours [i % N_COLOURS]);
        for (int b = 0; b < MEASURE_BANDS; b++) {
            double x = v [i * MEASURE_BANDS + b];
            if (isfinite (x))
                text_printf (o, "%.1f,%.1f ", s_xband (b), s_ypix (x, lo, hi));
        }
        text_printf (o, "'><title>track %zu</title></polyline>\n", i + 1);
    }
    text_printf (o, "</svg>\n");
    free (v);
}

//  s_plot_bands accessor: input spectrum of track i, band b (dB).
static double s_get_in (const void *ctx, size_t i, int b)
{
    return ((const report_input_t *) ctx)->analyses [i]->band_db [b];
}
//  s_plot_bands accessor: output spectrum of track i, band b (dB).
static double s_get_out (const void *ctx, size_t i, int b)
{
    const report_profile_t *rp = ctx;
    return rp->outputs [i] ? rp->outputs [i]->band_db [b] : NAN;
}
//  s_plot_bands accessor: tonal correction of track i, band b (dB).
static double s_get_tonal (const void *ctx, size_t i, int b)
{
    const report_profile_t *rp = ctx;
    return rp->masters ? rp->masters [i].tonal_db [b] : rp->plan->tracks [i].tonal_db [b];
}

//  The report as one self-contained HTML page (caller frees); NULL on
//  missing input or OOM.
char *
report_html (const report_input_t *in)
{
    if (!s_valid (in))
        return NULL;
    const spec_album_t *al = in->album;
    size_t n = al->n_tracks;
    text_t o = { 0 };
    text_printf (&o, "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>");
    s_put_esc (&o, al->title);
    text_printf (&o, " - mastering report</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
              "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;"
              "text-align:right;font-size:13px}td.l,th.l{text-align:left}h2{margin-top:2em}"
              ".key span{display:inline-block;margin-right:1em;font-size:12px}</style></head><body>\n");
    text_printf (&o, "<h1>");
    s_put_esc (&o, al->title);
    text_printf (&o, "</h1>\n<p>");
    s_put_esc (&o, al->artist);
    if (al->upc) {
        text_printf (&o, " &middot; UPC ");
        s_put_esc (&o, al->upc);
    }
    text_printf (&o, " &middot; %zu tracks &middot; album input loudness ", n);
    s_put_lufs (&o, planner_album_lufs (al, in->analyses, NULL));
    text_printf (&o, " (BS.1770-4 gating over all tracks' blocks)</p>\n");

    if (in->incomplete || in->n_missing) {
        text_printf (&o, "<h2>Incomplete delivery</h2>\n<p>Not delivered:</p>\n<ul>\n");
        for (size_t i = 0; i < in->n_missing; i++) {
            const report_missing_t *m = &in->missing [i];
            text_printf (&o, "<li>");
            if (m->track > 0) {
                text_printf (&o, "track %d &ldquo;", m->track);
                s_put_esc (&o, m->title);
                text_printf (&o, "&rdquo;");
            }
            else
                text_printf (&o, "album");
            text_printf (&o, ", %s: ", m->profile ? m->profile : "every profile");
            s_put_esc (&o, m->reason);
            text_printf (&o, "</li>\n");
        }
        text_printf (&o, "</ul>\n");
    }

    //  inputs
    text_printf (&o, "<h2>Input</h2>\n<table><tr><th>#</th><th class='l'>title</th><th class='l'>ISRC</th>"
              "<th class='l'>source</th><th>s</th><th>LUFS</th><th>LRA LU</th><th>dBTP</th><th>clipped</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        const measure_t *m = in->analyses [i];
        text_printf (&o, "<tr><td>%d</td><td class='l'>", s_number (in, i));
        s_put_esc (&o, al->tracks [i].title);
        text_printf (&o, "</td><td class='l'>");
        s_put_esc (&o, al->tracks [i].isrc);
        text_printf (&o, "</td>");
        s_cell_source (&o, m);
        s_cell (&o, m->duration_s, 2);
        s_cell_lufs (&o, m->integrated_lufs, m);
        s_cell (&o, m->lra_lu, 1);
        s_cell (&o, m->true_peak_dbtp, 2);
        text_printf (&o, "<td>%lld</td></tr>\n", (long long) m->clipped_samples);
    }
    text_printf (&o, "</table>\n<div class='key'>");
    for (size_t i = 0; i < n; i++)
        text_printf (&o, "<span style='color:%s'>&#9632; track %d</span>", s_colours [i % N_COLOURS], s_number (in, i));
    text_printf (&o, "</div>\n<h3>Input spectra (shape: each track's mean level removed)</h3>\n");
    s_plot_bands (&o, n, s_get_in, in, 1, "dB");

    for (size_t p = 0; p < in->n_profiles; p++) {
        const report_profile_t *rp = &in->profiles [p];
        const profile_t *prof = profile_get (rp->profile);
        double out_album = s_album_out (in->album, rp, n);
        text_printf (&o, "<h2>Profile %s</h2>\n<p>album target %.2f LUFS, planned ",
               prof ? prof->name : "?", rp->plan->album_target_lufs);
        s_put_lufs (&o, rp->plan->album_planned_lufs);
        text_printf (&o, ", ");
        if (isfinite (out_album))
            text_printf (&o, "measured %.2f LUFS, ", out_album);
        text_printf (&o, "planned spread between tracks %.2f LU</p>\n", rp->plan->spread_lu);
        s_put_correction (&o, rp->plan, rp->album_out_lufs);
        text_printf (&o, "<table><tr><th>#</th><th>in LUFS</th><th>gain dB</th><th>planned LUFS</th><th>out LUFS</th><th>file LUFS</th>"
                  "<th>out LRA LU</th><th>out dBTP</th><th>ceiling</th><th>GR max dB</th><th>GR mean dB</th>"
                  "<th>peaks fixed ms</th><th>start</th><th>length</th></tr>\n");
        for (size_t i = 0; i < n; i++) {
            if (rp->delivered && !rp->delivered [i])
                continue;
            const track_plan_t *tp = &rp->plan->tracks [i];
            const master_report_t *mr = rp->masters ? &rp->masters [i] : NULL;
            const measure_t *om = rp->outputs ? rp->outputs [i] : NULL;
            text_printf (&o, "<tr><td>%d</td>", s_number (in, i));
            s_cell_lufs (&o, in->analyses [i]->integrated_lufs, in->analyses [i]);
            s_cell (&o, mr ? mr->gain_db : tp->gain_db, 2);
            s_cell_lufs (&o, s_track_planned (rp, i), tp->silent ? in->analyses [i] : NULL);
            s_cell_lufs (&o, s_track_out (rp, i), tp->silent ? in->analyses [i] : NULL);
            s_cell_lufs (&o, s_track_file (rp, i, false), tp->silent ? in->analyses [i] : NULL);
            s_cell (&o, om ? om->lra_lu : mr ? mr->out_lra_lu : NAN, 1);
            s_cell (&o, s_track_tp (rp, i), 2);
            s_cell (&o, tp->ceiling_dbtp, 1);
            s_cell (&o, mr ? mr->gr_max_db : NAN, 2);
            s_cell (&o, mr ? mr->gr_avg_db : NAN, 2);
            s_cell (&o, mr ? mr->tp_fixed_ms : NAN, 0);     //  local true-peak corrections
            if (rp->layout && rp->rate_hz > 0) {
                s_cell (&o, (double) rp->layout->tracks [i].start / rp->rate_hz, 3);
                s_cell (&o, (double) rp->layout->tracks [i].length / rp->rate_hz, 3);
            }
            else
                text_printf (&o, "<td>&ndash;</td><td>&ndash;</td>");
            text_printf (&o, "</tr>\n");
        }
        text_printf (&o, "</table>\n<p style='font-size:12px;color:#555'>planned and out LUFS are "
                  "each per-track file's, as a meter reads it: the gap after the track (track 1: "
                  "also the pregap), its fades and crossfades included; file LUFS is the file as "
                  "written.</p>\n");
        //  a track the limiter's bound held under its plan says so
        for (size_t i = 0; rp->masters && i < n; i++) {
            const master_report_t *mr = &rp->masters [i];
            if ((rp->delivered && !rp->delivered [i]) || !mr->gr_capped)
                continue;
            text_printf (&o, "<p>Track %d is held under its plan by the limiter's bound: "
                         "%.2f LUFS would need more than %.1f dB of sustained gain reduction "
                         "(chain.limiter.max_gr_db), so it was delivered at %.2f LUFS.</p>\n",
                         s_number (in, i), s_track_planned (rp, i),
                         in->album->tracks [i].s.chain.limiter.max_gr_db, s_track_out (rp, i));
        }
        text_printf (&o, "<h3>Loudness per track</h3>\n");
        s_plot_loudness (&o, in, rp);
        text_printf (&o, "<h3>Tonal correction per track (dB)</h3>\n");
        s_plot_bands (&o, n, s_get_tonal, rp, 0, "dB");
        if (rp->outputs) {
            text_printf (&o, "<h3>Output spectra (shape)</h3>\n");
            s_plot_bands (&o, n, s_get_out, rp, 1, "dB");
        }
        s_put_reference (&o, in, rp);
        s_put_dynamics (&o, in, rp);
        s_put_codecs (&o, in, rp);
    }
    text_printf (&o, "<p style='font-size:11px;color:#777'>Every number here is also in report.json.</p>\n</body></html>\n");
    return text_take (&o, NULL);
}

//  report_write_beneath with album_dir's folder (created if missing) as
//  the root.
int
report_write (const report_input_t *in, const char *album_dir, char *err, size_t err_size)
{
    char scratch [8];
    err = mf_err_buffer (err, &err_size, scratch, sizeof scratch);
    char parent [4096];
    size_t len = album_dir ? strlen (album_dir) : 0;
    while (len > 1 && album_dir [len - 1] == '/')
        len--;                                   //  trailing '/'
    if (len == 0 || len >= sizeof parent) {
        snprintf (err, err_size, "report: missing or too long album folder");
        return MF_ERR_INVALID;
    }
    memcpy (parent, album_dir, len);
    parent [len] = 0;
    char *slash = strrchr (parent, '/');
    const char *base = slash ? slash + 1 : parent;
    if (slash == parent)
        parent [0] = 0;                          //  "/x": root "/" (below)
    else
    if (slash)
        *slash = 0;
    char base_copy [4096];
    snprintf (base_copy, sizeof base_copy, "%s", base);
    if (!slash)
        snprintf (parent, sizeof parent, ".");
    else
    if (!parent [0])
        snprintf (parent, sizeof parent, "/");
    base = base_copy;
    if (s_valid (in) && fsutil_mkdir_p (parent, 0755) != 0) {
        snprintf (err, err_size, "%s: cannot create the folder (%s)", parent, strerror (errno));
        return MF_ERR_IO;
    }
    return report_write_beneath (in, parent, base, err, err_size);
}

//  Writes the two report files into root/album_rel beneath root; 0 or an
//  error with err naming the file.
int
report_write_beneath (const report_input_t *in, const char *root, const char *album_rel,
                      char *err, size_t err_size)
{
    char scratch [8];
    err = mf_err_buffer (err, &err_size, scratch, sizeof scratch);
    if (!s_valid (in) || !root || !album_rel) {
        snprintf (err, err_size, "report: missing album, analyses or a profile's plan");
        return MF_ERR_INVALID;
    }
    char *json = report_json (in);
    char *html = json ? report_html (in) : NULL;
    if (!json || !html) {
        free (json);
        free (html);
        snprintf (err, err_size, "report: out of memory");
        return MF_ERR_NOMEM;
    }
    int rc = 0;
    char why [256];
    int mrc = fsutil_mkdir_beneath (root, album_rel, 0755);
    if (mrc != 0) {
        fsutil_beneath_strerror (mrc, errno, "output", why, sizeof why);
        snprintf (err, err_size, "%s/%s: cannot create the folder (%s)", root, album_rel, why);
        rc = mrc == MF_ERR_INVALID ? MF_ERR_INVALID : MF_ERR_IO;
    }
    const char *names [2] = { "report.json", "report.html" };
    const char *texts [2] = { json, html };
    for (int k = 0; rc == 0 && k < 2; k++) {
        char rel [4200];
        snprintf (rel, sizeof rel, "%s/%s", album_rel, names [k]);
        int wrc = fsutil_write_atomic_beneath (root, rel, texts [k], strlen (texts [k]));
        if (wrc != 0) {
            fsutil_beneath_strerror (wrc, errno, "output", why, sizeof why);
            snprintf (err, err_size, "%s/%s: cannot write (%s)", root, rel, why);
            rc = wrc == MF_ERR_INVALID ? MF_ERR_INVALID : MF_ERR_IO;
        }
    }
    free (json);
    free (html);
    return rc;
}
