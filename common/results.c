/*  The conversions of common/results.h.  */
#include "common/results.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static const char *const s_codec_names [CODEC_COUNT] = { "mp3", "vorbis", "opus" };

const char *
codec_name (codec_id_t codec)
{
    return (int) codec >= 0 && codec < CODEC_COUNT ? s_codec_names [codec] : "?";
}

void
results_analysis_to_pb (const measure_t *m, Masterfarm__Analysis *pb, double band [MEASURE_BANDS])
{
    masterfarm__analysis__init (pb);
    pb->format = (char *) m->format;
    pb->rate_hz = (uint32_t) m->rate_hz;
    pb->channels = (uint32_t) m->channels;
    pb->frames = m->frames;
    pb->integrated_lufs = m->integrated_lufs;
    pb->lra_lu = m->lra_lu;
    pb->max_momentary_lufs = m->max_momentary_lufs;
    pb->max_shortterm_lufs = m->max_shortterm_lufs;
    pb->sample_peak_dbfs = m->sample_peak_dbfs;
    pb->true_peak_dbtp = m->true_peak_dbtp;
    pb->dc_offset_dbfs = m->dc_offset_dbfs;
    pb->side_mid_db = m->side_mid_db;
    pb->clipped_samples = m->clipped_samples;
    pb->lead_silence_frames = m->lead_silence_frames;
    pb->trail_silence_frames = m->trail_silence_frames;
    for (int b = 0; b < MEASURE_BANDS; b++)
        band [b] = m->band_db [b];
    pb->band_db = band;
    pb->n_band_db = MEASURE_BANDS;
    pb->block_lufs = m->block_lufs;
    pb->n_block_lufs = m->n_blocks;
    pb->input_sha256 = (char *) m->input_sha256;
}

int
results_analysis_from_pb (const Masterfarm__Analysis *pb, measure_t *m)
{
    memset (m, 0, sizeof *m);
    if (pb->n_band_db != MEASURE_BANDS || pb->channels < 1 || pb->channels > MEASURE_MAX_CH
    ||  pb->rate_hz < 1 || pb->frames < 0)
        return MF_ERR_FORMAT;
    snprintf (m->format, sizeof m->format, "%s", pb->format ? pb->format : "");
    //  a digest or nothing: anything else is not trusted as a cache key
    const char *sha = pb->input_sha256 ? pb->input_sha256 : "";
    if (strlen (sha) == 64 && strspn (sha, "0123456789abcdef") == 64)
        snprintf (m->input_sha256, sizeof m->input_sha256, "%s", sha);
    m->rate_hz = (int) pb->rate_hz;
    m->channels = (int) pb->channels;
    m->frames = pb->frames;
    m->duration_s = (double) pb->frames / pb->rate_hz;
    m->integrated_lufs = pb->integrated_lufs;
    m->lra_lu = pb->lra_lu;
    m->max_momentary_lufs = pb->max_momentary_lufs;
    m->max_shortterm_lufs = pb->max_shortterm_lufs;
    m->sample_peak_dbfs = pb->sample_peak_dbfs;
    m->true_peak_dbtp = pb->true_peak_dbtp;
    m->dc_offset_dbfs = pb->dc_offset_dbfs;
    m->side_mid_db = m->channels == 2 ? pb->side_mid_db : NAN;
    m->clipped_samples = pb->clipped_samples;
    m->lead_silence_frames = pb->lead_silence_frames;
    m->trail_silence_frames = pb->trail_silence_frames;
    for (int b = 0; b < MEASURE_BANDS; b++)
        m->band_db [b] = pb->band_db [b];
    if (pb->n_block_lufs) {
        m->block_lufs = malloc (pb->n_block_lufs * sizeof *m->block_lufs);
        if (!m->block_lufs)
            return MF_ERR_NOMEM;
        memcpy (m->block_lufs, pb->block_lufs, pb->n_block_lufs * sizeof *m->block_lufs);
        m->n_blocks = pb->n_block_lufs;
    }
    return 0;
}

//  A JSON number, or null when not finite.
static json_t *
s_num (double x)
{
    return isfinite (x) ? json_real (x) : json_null ();
}

//  A number from JSON (null: -HUGE_VAL).
static double
s_get (json_t *o, const char *key)
{
    json_t *v = json_object_get (o, key);
    return json_is_number (v) ? json_number_value (v) : -HUGE_VAL;
}

static char *s_blocks_encode (const float *v, size_t n);

char *
results_master_json (const master_report_t *r)
{
    json_t *o = json_object ();
    json_t *tonal = json_array ();
    if (!o || !tonal) {
        json_decref (o);
        json_decref (tonal);
        return NULL;
    }
    json_object_set_new (o, "in_lufs", s_num (r->in_lufs));
    json_object_set_new (o, "out_lufs", s_num (r->out_lufs));
    json_object_set_new (o, "out_lra_lu", s_num (r->out_lra_lu));
    json_object_set_new (o, "out_true_peak_dbtp", s_num (r->out_true_peak_dbtp));
    json_object_set_new (o, "gain_db", s_num (r->gain_db));
    json_object_set_new (o, "gr_max_db", s_num (r->gr_max_db));
    json_object_set_new (o, "gr_avg_db", s_num (r->gr_avg_db));
    json_object_set_new (o, "gr_sustained_db", s_num (r->gr_sustained_db));
    json_object_set_new (o, "gr_capped", json_boolean (r->gr_capped));
    json_object_set_new (o, "limiter_ceiling_dbtp", s_num (r->limiter_ceiling_dbtp));
    json_object_set_new (o, "tp_fixed_ms", s_num (r->tp_fixed_ms));
    json_object_set_new (o, "loop_iterations", json_integer (r->loop_iterations));
    json_object_set_new (o, "width", s_num (r->width));
    json_object_set_new (o, "side_mid_db", s_num (r->side_mid_db));
    //  the glue compressor as it ran (threshold resolved from the loudness)
    json_t *c = json_object ();
    if (c) {
        json_object_set_new (c, "enabled", json_boolean (r->compressor.enabled));
        json_object_set_new (c, "threshold_db", s_num (r->compressor.threshold_db));
        json_object_set_new (c, "ratio", s_num (r->compressor.ratio));
        json_object_set_new (c, "attack_ms", s_num (r->compressor.attack_ms));
        json_object_set_new (c, "release_ms", s_num (r->compressor.release_ms));
        json_object_set_new (c, "knee_db", s_num (r->compressor.knee_db));
        json_object_set_new (c, "makeup_db", s_num (r->compressor.makeup_db));
        json_object_set_new (c, "gr_max_db", s_num (r->comp_gr_max_db));
        json_object_set_new (c, "gr_mean_db", s_num (r->comp_gr_avg_db));
        json_object_set_new (o, "compressor", c);
    }
    for (int b = 0; b < MEASURE_BANDS; b++)
        json_array_append_new (tonal, s_num (r->tonal_db [b]));
    json_object_set_new (o, "tonal_db", tonal);
    //  the lossy round trips: decoded true peak per codec (null: not measured)
    json_t *k = r->codec_checked ? json_object () : NULL;
    if (k) {
        json_t *tp = json_object ();
        for (int i = 0; tp && i < CODEC_COUNT; i++)
            json_object_set_new (tp, codec_name (i), r->codec_available [i]
                                 ? s_num (r->codec_true_peak_dbtp [i]) : json_null ());
        json_object_set_new (k, "true_peak_dbtp", tp ? tp : json_null ());
        json_t *kb = json_object ();
        for (int i = 0; kb && i < CODEC_COUNT; i++)
            json_object_set_new (kb, codec_name (i), r->codec_available [i]
                                 ? s_num (r->codec_kbps [i]) : json_null ());
        json_object_set_new (k, "kbps", kb ? kb : json_null ());
        json_object_set_new (k, "safe", json_boolean (r->codec_safe));
        json_object_set_new (k, "ceiling_dbtp", s_num (r->codec_ceiling_dbtp));
        json_object_set_new (k, "passes", json_integer (r->codec_passes));
        json_object_set_new (o, "codec", k);
    }
    if (r->out_blocks && r->n_out_blocks) {
        char *b64 = s_blocks_encode (r->out_blocks, r->n_out_blocks);
        if (!b64) {
            json_decref (o);
            return NULL;
        }
        json_object_set_new (o, "out_blocks", json_string (b64));
        free (b64);
    }
    char *text = json_dumps (o, JSON_COMPACT | JSON_REAL_PRECISION (17));
    json_decref (o);
    return text;
}

//  A master report's blocks (see results_master_blocks) in base64, NULL on
//  out of memory.
#define S_BLOCK_FLOOR_CLU   -32768
#define S_BLOCK_FLOOR_LUFS  -200.0      //  worker/analysis.h ANALYSIS_FLOOR_LUFS
static const char s_b64 [] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *
s_blocks_encode (const float *v, size_t n)
{
    size_t bytes = 2 * n;
    char *out = malloc ((bytes + 2) / 3 * 4 + 1);
    uint8_t *raw = malloc (bytes ? bytes : 1);
    if (!out || !raw) {
        free (out);
        free (raw);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        double c = isfinite (v [i]) ? round (100.0 * v [i]) : -HUGE_VAL;
        int16_t q = c <= S_BLOCK_FLOOR_CLU ? S_BLOCK_FLOOR_CLU
                  : c >= INT16_MAX ? INT16_MAX : (int16_t) c;
        raw [2 * i] = (uint8_t) ((uint16_t) q & 0xff);
        raw [2 * i + 1] = (uint8_t) ((uint16_t) q >> 8);
    }
    size_t o = 0;
    for (size_t i = 0; i < bytes; i += 3) {
        uint32_t w = (uint32_t) raw [i] << 16;
        if (i + 1 < bytes) w |= (uint32_t) raw [i + 1] << 8;
        if (i + 2 < bytes) w |= raw [i + 2];
        out [o++] = s_b64 [(w >> 18) & 63];
        out [o++] = s_b64 [(w >> 12) & 63];
        out [o++] = i + 1 < bytes ? s_b64 [(w >> 6) & 63] : '=';
        out [o++] = i + 2 < bytes ? s_b64 [w & 63] : '=';
    }
    out [o] = '\0';
    free (raw);
    return out;
}

//  The value of base64 digit c, or -1.
static int
s_b64_value (char c)
{
    const char *p = c ? strchr (s_b64, c) : NULL;
    return p ? (int) (p - s_b64) : -1;
}

int
results_master_blocks (const char *json, float **blocks, size_t *n)
{
    *blocks = NULL;
    *n = 0;
    json_t *o = json ? json_loads (json, 0, NULL) : NULL;
    if (!json_is_object (o)) {
        json_decref (o);
        return MF_ERR_FORMAT;
    }
    json_t *b = json_object_get (o, "out_blocks");
    const char *txt = json_string_value (b);
    size_t len = txt ? strlen (txt) : 0;
    int rc = b && !txt ? MF_ERR_FORMAT : 0;
    if (rc || len == 0) {
        json_decref (o);
        return rc;
    }
    size_t pad = len >= 4 && txt [len - 1] == '=' ? (txt [len - 2] == '=' ? 2 : 1) : 0;
    size_t bytes = len % 4 ? 0 : len / 4 * 3 - pad;
    if (bytes == 0 || bytes % 2)
        rc = MF_ERR_FORMAT;
    uint8_t *raw = rc ? NULL : malloc (bytes + 2);
    float *v = rc ? NULL : malloc (bytes / 2 * sizeof *v);
    if (!rc && (!raw || !v))
        rc = MF_ERR_NOMEM;
    for (size_t i = 0, at = 0; !rc && i < len; i += 4) {
        uint32_t w = 0;
        for (size_t k = 0; k < 4; k++) {
            bool padding = i + 4 == len && k >= 4 - pad;
            int d = padding ? 0 : s_b64_value (txt [i + k]);
            if (d < 0 || (!padding && txt [i + k] == '=')) {
                rc = MF_ERR_FORMAT;
                break;
            }
            w = w << 6 | (uint32_t) d;
        }
        raw [at++] = (uint8_t) (w >> 16);
        raw [at++] = (uint8_t) (w >> 8);
        raw [at++] = (uint8_t) w;
    }
    for (size_t i = 0; !rc && i < bytes / 2; i++) {
        int16_t q = (int16_t) (uint16_t) (raw [2 * i] | raw [2 * i + 1] << 8);
        v [i] = q == S_BLOCK_FLOOR_CLU ? (float) S_BLOCK_FLOOR_LUFS : (float) (q / 100.0);
    }
    free (raw);
    json_decref (o);
    if (rc) {
        free (v);
        return rc;
    }
    *blocks = v;
    *n = bytes / 2;
    return 0;
}

char *
results_master_drop_blocks (const char *json)
{
    json_t *o = json ? json_loads (json, 0, NULL) : NULL;
    char *text = NULL;
    if (json_is_object (o)) {
        json_object_del (o, "out_blocks");
        text = json_dumps (o, JSON_COMPACT | JSON_REAL_PRECISION (17));
    }
    json_decref (o);
    return text;
}

int
results_master_parse (const char *json, master_report_t *r)
{
    memset (r, 0, sizeof *r);
    json_error_t jerr;
    json_t *o = json ? json_loads (json, 0, &jerr) : NULL;
    if (!json_is_object (o)) {
        json_decref (o);
        return MF_ERR_FORMAT;
    }
    r->in_lufs = s_get (o, "in_lufs");
    r->out_lufs = s_get (o, "out_lufs");
    r->out_lra_lu = s_get (o, "out_lra_lu");
    r->out_true_peak_dbtp = s_get (o, "out_true_peak_dbtp");
    r->gain_db = s_get (o, "gain_db");
    r->gr_max_db = s_get (o, "gr_max_db");
    r->gr_avg_db = s_get (o, "gr_avg_db");
    r->gr_sustained_db = s_get (o, "gr_sustained_db");
    r->gr_capped = json_is_true (json_object_get (o, "gr_capped"));
    r->limiter_ceiling_dbtp = s_get (o, "limiter_ceiling_dbtp");
    r->tp_fixed_ms = s_get (o, "tp_fixed_ms");
    r->loop_iterations = (int) json_integer_value (json_object_get (o, "loop_iterations"));
    r->width = s_get (o, "width");
    r->side_mid_db = s_get (o, "side_mid_db");
    json_t *c = json_object_get (o, "compressor");
    if (json_is_object (c)) {
        r->compressor.enabled = json_is_true (json_object_get (c, "enabled"));
        r->compressor.threshold_db = s_get (c, "threshold_db");
        r->compressor.ratio = s_get (c, "ratio");
        r->compressor.attack_ms = s_get (c, "attack_ms");
        r->compressor.release_ms = s_get (c, "release_ms");
        r->compressor.knee_db = s_get (c, "knee_db");
        r->compressor.makeup_db = s_get (c, "makeup_db");
        r->comp_gr_max_db = s_get (c, "gr_max_db");
        r->comp_gr_avg_db = s_get (c, "gr_mean_db");
    }
    json_t *tonal = json_object_get (o, "tonal_db");
    for (int b = 0; b < MEASURE_BANDS; b++) {
        json_t *v = json_array_get (tonal, (size_t) b);
        r->tonal_db [b] = json_is_number (v) ? json_number_value (v) : 0.0;
    }
    json_t *k = json_object_get (o, "codec");
    if (json_is_object (k)) {
        json_t *tp = json_object_get (k, "true_peak_dbtp");
        r->codec_checked = true;
        for (int i = 0; i < CODEC_COUNT; i++) {
            json_t *v = json_object_get (tp, codec_name (i));
            r->codec_available [i] = json_is_number (v);
            r->codec_true_peak_dbtp [i] = json_is_number (v) ? json_number_value (v) : NAN;
            json_t *b = json_object_get (json_object_get (k, "kbps"), codec_name (i));
            r->codec_kbps [i] = json_is_number (b) ? json_number_value (b) : NAN;
        }
        r->codec_safe = json_is_true (json_object_get (k, "safe"));
        r->codec_ceiling_dbtp = s_get (k, "ceiling_dbtp");
        r->codec_passes = (int) json_integer_value (json_object_get (k, "passes"));
    }
    json_decref (o);
    return 0;
}

char *
results_layout_json (const assemble_layout_t *l, int rate_hz)
{
    json_t *o = json_object ();
    json_t *arr = json_array ();
    if (!o || !arr) {
        json_decref (o);
        json_decref (arr);
        return NULL;
    }
    json_object_set_new (o, "rate_hz", json_integer (rate_hz));
    json_object_set_new (o, "total_frames", json_integer (l->total_frames));
    for (size_t i = 0; i < l->n_tracks; i++) {
        const assemble_track_t *t = &l->tracks [i];
        json_t *e = json_pack ("{sI sI sI sI sI sI sI sI sI sI}",
                               "start", (json_int_t) t->start,
                               "pregap", (json_int_t) t->pregap,
                               "length", (json_int_t) t->length,
                               "trim_lead", (json_int_t) t->trim_lead,
                               "trim_trail", (json_int_t) t->trim_trail,
                               "audio_start", (json_int_t) t->audio_start,
                               "audio_frames", (json_int_t) t->audio_frames,
                               "xfade_in", (json_int_t) t->xfade_in,
                               "slice_start", (json_int_t) t->slice_start,
                               "slice_frames", (json_int_t) t->slice_frames);
        if (e && isfinite (t->file_lufs))
            json_object_set_new (e, "file_lufs", json_real (t->file_lufs));
        if (e && isfinite (t->file_lra_lu))
            json_object_set_new (e, "file_lra_lu", json_real (t->file_lra_lu));
        json_array_append_new (arr, e);
    }
    json_object_set_new (o, "tracks", arr);
    if (isfinite (l->album_lufs))
        json_object_set_new (o, "album_lufs", json_real (l->album_lufs));
    if (isfinite (l->album_lra_lu))
        json_object_set_new (o, "album_lra_lu", json_real (l->album_lra_lu));
    char *text = json_dumps (o, JSON_COMPACT | JSON_REAL_PRECISION (17));
    json_decref (o);
    return text;
}

int
results_layout_parse (const char *json, assemble_layout_t *l, int *rate_hz)
{
    memset (l, 0, sizeof *l);
    json_error_t jerr;
    json_t *o = json ? json_loads (json, 0, &jerr) : NULL;
    json_t *arr = json_object_get (o, "tracks");
    if (!json_is_object (o) || !json_is_array (arr)) {
        json_decref (o);
        return MF_ERR_FORMAT;
    }
    *rate_hz = (int) json_integer_value (json_object_get (o, "rate_hz"));
    l->total_frames = json_integer_value (json_object_get (o, "total_frames"));
    json_t *al = json_object_get (o, "album_lufs"), *ar = json_object_get (o, "album_lra_lu");
    l->album_lufs = json_is_number (al) ? json_number_value (al) : NAN;
    l->album_lra_lu = json_is_number (ar) ? json_number_value (ar) : NAN;
    size_t n = json_array_size (arr);
    l->tracks = calloc (n ? n : 1, sizeof *l->tracks);
    if (!l->tracks) {
        json_decref (o);
        return MF_ERR_NOMEM;
    }
    l->n_tracks = n;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get (arr, i);
        assemble_track_t *t = &l->tracks [i];
        t->start = json_integer_value (json_object_get (e, "start"));
        t->pregap = json_integer_value (json_object_get (e, "pregap"));
        t->length = json_integer_value (json_object_get (e, "length"));
        t->trim_lead = json_integer_value (json_object_get (e, "trim_lead"));
        t->trim_trail = json_integer_value (json_object_get (e, "trim_trail"));
        t->audio_start = json_integer_value (json_object_get (e, "audio_start"));
        t->audio_frames = json_integer_value (json_object_get (e, "audio_frames"));
        t->xfade_in = json_integer_value (json_object_get (e, "xfade_in"));
        t->slice_start = json_integer_value (json_object_get (e, "slice_start"));
        t->slice_frames = json_integer_value (json_object_get (e, "slice_frames"));
        json_t *fl = json_object_get (e, "file_lufs"), *fr = json_object_get (e, "file_lra_lu");
        t->file_lufs = json_is_number (fl) ? json_number_value (fl) : NAN;
        t->file_lra_lu = json_is_number (fr) ? json_number_value (fr) : NAN;
    }
    json_decref (o);
    return 0;
}
