/*  Job spec parser: JSON (jansson) and CSV catalogs into job_spec_t, with
    settings resolved level by level and every value validated. This file
    holds the public entry points of spec.h: parsing a JSON spec, loading
    a file, checking track paths, checking and parsing a chain on its own,
    writing canonical JSON, and freeing a spec.

    Validation. Every key is checked against the keys allowed where it
    stands (with a "did you mean" for near misses), every value against its
    type and the range documented in spec.h, and the spec as a whole for
    what only shows once it is resolved (a reference track that does not
    exist, deliver_at after the deadline). Parsing never stops at the first
    error.

    The parser's private modules, each a .h/.c pair whose header says it
    is private to the spec parser:
      spec_ctx       the parse context: the error list (spec_errors_*),
                     the index from JSON path to line and column, the
                     value getters, "did you mean"
      spec_keys      the key tables' format, the documented ranges, and
                     the one walker that reads, defaults and writes
                     (canonical JSON) by table
      spec_settings  the settings every level has (chain and its stages,
                     loudness, tonal match, profiles), the built-in
                     defaults, the dynamics presets
      spec_job       the job, album and track objects, keys at the wrong
                     level, the parse of a JSON root level by level
    and spec_csv.c, the CSV catalog parser (spec_parse_csv).  */
#include "common/spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/err.h"
#include "common/fsutil.h"
#include "common/spec_ctx.h"
#include "common/spec_job.h"
#include "common/spec_keys.h"
#include "common/spec_settings.h"

#define SPEC_FILE_MAX          (64u << 20)       //  largest spec file spec_load reads

//  Names of a multiband compressor's bands, for paths.
static const char *const s_mb_band_names [3] = { "low", "mid", "high" };

// ---------------------------------------------------------------------------
//  Spec lifecycle

//  Frees the spec and every string it owns; NULL-safe; clears *self_p.
void
spec_destroy (job_spec_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    job_spec_t *self = *self_p;
    for (size_t a = 0; a < self->n_albums; a++) {
        spec_album_t *al = &self->albums [a];
        for (size_t t = 0; t < al->n_tracks; t++)
            spec_job_track_free (&al->tracks [t]);
        free (al->tracks);
        free (al->title);
        free (al->artist);
        free (al->upc);
        free (al->date);
        free (al->genre);
    }
    free (self->albums);
    free (self->name);
    free (self);
    *self_p = NULL;
}

// ---------------------------------------------------------------------------
//  JSON specs

//  Refuses JSON text holding a NUL byte (jansson skips one after a number,
//  so the document it parses would not be the bytes given). Returns true
//  and adds an error naming the byte, its line and column when there is one.
static bool
s_json_has_nul (const char *text, size_t len, spec_errors_t *errs)
{
    const char *nul = memchr (text, '\0', len);
    if (!nul)
        return false;
    int line = 1;
    const char *line_start = text;
    for (const char *p = text; p < nul; p++)
        if (*p == '\n') {
            line++;
            line_start = p + 1;
        }
    spec_errors_add (errs, "$", line, (int) (nul - line_start) + 1,
                     "not valid JSON: NUL character at byte %zu (a binary or damaged file?)",
                     (size_t) (nul - text) + 1);
    return true;
}

//  Fills each resolved chain's compressor from its dynamics preset, the
//  keys the spec gave kept (the preset is the nearest level's, the keys
//  are collected from every level, so the order of the two keys in an
//  object or across levels does not matter). NULL-safe.
static void
s_resolve_dynamics (job_spec_t *spec)
{
    if (!spec)
        return;
    spec_dynamics_apply (&spec->defaults.chain, spec->defaults.chain.dynamics);
    for (size_t a = 0; a < spec->n_albums; a++) {
        spec_album_t *al = &spec->albums [a];
        spec_dynamics_apply (&al->s.chain, al->s.chain.dynamics);
        for (size_t t = 0; t < al->n_tracks; t++)
            spec_dynamics_apply (&al->tracks [t].s.chain, al->tracks [t].s.chain.dynamics);
    }
}

//  Parses and resolves a JSON spec; NULL with every error in errs.
job_spec_t *
spec_parse_json (const char *text, size_t len, const char *origin,
                 spec_errors_t *errs)
{
    spec_ctx_t ctx = { .errs = errs, .text = text, .len = len };
    if (!text || len == 0) {
        spec_errors_add (errs, "$", 0, 0, "empty job spec");
        return NULL;
    }
    if (s_json_has_nul (text, len, errs))
        return NULL;
    json_error_t jerr;
    json_t *root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        spec_errors_add (errs, "$", jerr.line > 0 ? jerr.line : 0,
                         jerr.column > 0 ? jerr.column : 0,
                         "not valid JSON: %s", jerr.text);
        return NULL;
    }
    job_spec_t *spec = spec_job_new ();
    if (!spec) {
        json_decref (root);
        spec_errors_add (errs, "$", 0, 0, "out of memory");
        return NULL;
    }
    spec_job_parse_root (&ctx, root, spec);
    json_decref (root);
    spec_ctx_free (&ctx);
    if (ctx.n_errors > 0)
        spec_destroy (&spec);
    s_resolve_dynamics (spec);
    return spec;
}

// ---------------------------------------------------------------------------
//  Loading, path checks

//  Reads a spec file (capped at SPEC_FILE_MAX) and parses it by extension.
job_spec_t *
spec_load (const char *file, spec_errors_t *errs)
{
    char *text = NULL;
    size_t len = 0;
    int rc = fsutil_read_file (file, SPEC_FILE_MAX, &text, &len);
    if (rc != 0) {
        if (rc == MF_ERR_INVALID)
            spec_errors_add (errs, "$", 0, 0, "not a regular file of at most %u MB",
                             SPEC_FILE_MAX >> 20);
        else
            spec_errors_add (errs, "$", 0, 0, "cannot read the file: %s",
                             rc == MF_ERR_IO ? strerror (errno) : mf_strerror (rc));
        return NULL;
    }
    size_t n = strlen (file);
    bool csv = n >= 4 && strcasecmp (file + n - 4, ".csv") == 0;
    job_spec_t *spec = csv ? spec_parse_csv (text, len, file, errs)
                           : spec_parse_json (text, len, file, errs);
    free (text);
    return spec;
}

//  Checks that rel is a readable regular file under input_root; returns 0,
//  or 1 with an error at path.
static int
s_check_path (const char *input_root, const char *rel, const char *p, spec_errors_t *errs)
{
    char resolved [4096];
    int rc = fsutil_path_inside (input_root, rel, resolved, sizeof resolved);
    struct stat st;
    if (rc == MF_ERR_INVALID)
        spec_errors_add (errs, p, 0, 0, "'%s' leads outside the input root", rel ? rel : "");
    else
    if (rc == MF_ERR_NOTFOUND)
        spec_errors_add (errs, p, 0, 0, "'%s' does not exist under the input root", rel);
    else
    if (rc != 0)
        spec_errors_add (errs, p, 0, 0, "'%s' cannot be resolved: %s", rel, strerror (errno));
    else
    if (stat (resolved, &st) != 0 || !S_ISREG (st.st_mode))
        spec_errors_add (errs, p, 0, 0, "'%s' is not a regular file", rel);
    else
    if (access (resolved, R_OK) != 0)
        spec_errors_add (errs, p, 0, 0, "'%s' is not readable: %s", rel, strerror (errno));
    else
        return 0;
    return 1;
}

//  Holds every track path (and every reference file) inside input_root and
//  checks it names a readable regular file; returns the number of errors added.
int
spec_check_paths (const job_spec_t *spec, const char *input_root,
                  spec_errors_t *errs)
{
    int added = 0;
    char *root_real = input_root ? realpath (input_root, NULL) : NULL;
    if (!root_real) {
        spec_errors_add (errs, "$", 0, 0, "input root '%s' cannot be opened: %s",
                         input_root ? input_root : "(none)", strerror (errno));
        return 1;
    }
    free (root_real);
    char p [SPEC_PATH_MAX];
    for (size_t a = 0; spec && a < spec->n_albums; a++) {
        const spec_album_t *al = &spec->albums [a];
        for (size_t t = 0; t < al->n_tracks; t++) {
            snprintf (p, sizeof p, "$.albums[%zu].tracks[%zu].path", a, t);
            added += s_check_path (input_root, al->tracks [t].path, p, errs);
        }
        for (int r = 0; r < al->s.tonal.n_refs; r++) {
            snprintf (p, sizeof p, "$.albums[%zu].tonal.reference[%d]", a, r);
            added += s_check_path (input_root, al->s.tonal.refs [r].path, p, errs);
        }
    }
    return added;
}

// ---------------------------------------------------------------------------
//  Chain configs on their own

//  Reports value at prefix.name if it is outside [lo, hi] (or NAN).
static void
s_check (spec_ctx_t *ctx, const char *prefix, const char *name, double value,
         double lo, double hi)
{
    if (value >= lo && value <= hi)
        return;
    char p [SPEC_PATH_MAX];
    spec_ctx_fail (ctx, spec_ctx_key_path (p, prefix, name), false,
                   "%g is out of range; allowed %g .. %g", value, lo, hi);
}

//  Checks one compressor's ranges under prefix.
static void
s_check_comp (spec_ctx_t *ctx, const comp_cfg_t *c, const char *prefix)
{
    if (c->relative)
        s_check (ctx, prefix, "threshold_lu", c->threshold_lu, R_THRESHOLD_LU);
    else
        s_check (ctx, prefix, "threshold_db", c->threshold_db, R_THRESHOLD_DB);
    s_check (ctx, prefix, "ratio", c->ratio, R_RATIO);
    s_check (ctx, prefix, "attack_ms", c->attack_ms, R_ATTACK_MS);
    s_check (ctx, prefix, "release_ms", c->release_ms, R_COMP_RELEASE_MS);
    s_check (ctx, prefix, "knee_db", c->knee_db, R_KNEE_DB);
    s_check (ctx, prefix, "makeup_db", c->makeup_db, R_MAKEUP_DB);
}

//  Checks every range of a chain config; returns the number of errors added.
int
spec_check_chain (const chain_cfg_t *chain, const char *prefix, spec_errors_t *errs)
{
    spec_ctx_t ctx = { .errs = errs };
    char p [SPEC_PATH_MAX], q [SPEC_PATH_MAX];
    if (!prefix)
        prefix = "$";
    if (chain->highpass_hz != 0.0)
        s_check (&ctx, prefix, "highpass_hz", chain->highpass_hz, R_HIGHPASS_HZ);
    if (chain->highpass_order != 2 && chain->highpass_order != 4)
        spec_ctx_fail (&ctx, spec_ctx_key_path (p, prefix, "highpass_order"), false,
                       "%d is not allowed; the order is 2 or 4", chain->highpass_order);
    if (chain->n_eq < 0 || chain->n_eq > SPEC_MAX_EQ)
        spec_ctx_fail (&ctx, spec_ctx_key_path (p, prefix, "eq"), false,
                       "%d EQ bands; allowed 0 .. %d", chain->n_eq, SPEC_MAX_EQ);
    for (int i = 0; i >= 0 && i < chain->n_eq && i < SPEC_MAX_EQ; i++) {
        snprintf (q, sizeof q, "%s.eq[%d]", prefix, i);
        const eq_band_t *b = &chain->eq [i];
        if ((int) b->type < EQ_PEAK || b->type > EQ_LOWPASS)
            spec_ctx_fail (&ctx, spec_ctx_key_path (p, q, "type"), false, "unknown EQ type %d",
                           (int) b->type);
        s_check (&ctx, q, "freq_hz", b->freq_hz, R_EQ_FREQ_HZ);
        s_check (&ctx, q, "gain_db", b->gain_db, R_EQ_GAIN_DB);
        s_check (&ctx, q, "q", b->q, R_EQ_Q);
    }
    if (chain->multiband.enabled) {
        const multiband_cfg_t *m = &chain->multiband;
        spec_ctx_key_path (q, prefix, "multiband");
        s_check (&ctx, q, "low_hz", m->low_hz, R_MB_LOW_HZ);
        s_check (&ctx, q, "high_hz", m->high_hz, R_MB_HIGH_HZ);
        if (!(m->high_hz > m->low_hz))
            spec_ctx_fail (&ctx, spec_ctx_key_path (p, q, "high_hz"), false,
                           "the crossovers must rise: low_hz %g must be below high_hz %g",
                           m->low_hz, m->high_hz);
        for (int b = 0; b < 3; b++)
            if (m->band [b].enabled) {
                char bp [SPEC_PATH_MAX];
                s_check_comp (&ctx, &m->band [b],
                              spec_ctx_key_path (bp, q, s_mb_band_names [b]));
            }
    }
    if (chain->compressor.enabled)
        s_check_comp (&ctx, &chain->compressor, spec_ctx_key_path (q, prefix, "compressor"));
    if ((int) chain->dynamics < 0 || chain->dynamics >= DYN_COUNT)
        spec_ctx_fail (&ctx, spec_ctx_key_path (p, prefix, "dynamics"), false,
                       "unknown preset %d", (int) chain->dynamics);
    spec_ctx_key_path (q, prefix, "stereo");
    s_check (&ctx, q, "width", chain->stereo.width, R_WIDTH);
    s_check (&ctx, q, "mono_below_hz", chain->stereo.mono_below_hz, R_MONO_BELOW_HZ);
    s_check (&ctx, prefix, "gain_db", chain->gain_db, R_GAIN_DB);
    if (chain->limiter.enabled) {
        const limiter_cfg_t *l = &chain->limiter;
        spec_ctx_key_path (q, prefix, "limiter");
        if (!isnan (l->ceiling_dbtp))
            s_check (&ctx, q, "ceiling_dbtp", l->ceiling_dbtp, R_CEILING_DBTP);
        s_check (&ctx, q, "lookahead_ms", l->lookahead_ms, R_LOOKAHEAD_MS);
        s_check (&ctx, q, "release_ms", l->release_ms, R_LIM_RELEASE_MS);
        s_check (&ctx, q, "max_gr_db", l->max_gr_db, R_MAX_GR_DB);
    }
    return (int) ctx.n_errors;
}

//  Applies a chain object (bare or as {"chain": {...}}) over cfg; cfg is
//  changed only when there is no error. Returns 0, MF_ERR_FORMAT or MF_ERR_INVALID.
int
spec_parse_chain_json (const char *text, size_t len, const char *origin,
                       chain_cfg_t *cfg, spec_errors_t *errs)
{
    if (!text || len == 0) {
        spec_errors_add (errs, "$", 0, 0, "empty chain spec");
        return MF_ERR_FORMAT;
    }
    if (s_json_has_nul (text, len, errs))
        return MF_ERR_FORMAT;
    json_error_t jerr;
    json_t *root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        spec_errors_add (errs, "$", jerr.line > 0 ? jerr.line : 0,
                         jerr.column > 0 ? jerr.column : 0, "not valid JSON: %s", jerr.text);
        return MF_ERR_FORMAT;
    }
    spec_ctx_t ctx = { .errs = errs, .text = text, .len = len };
    chain_cfg_t work = *cfg;
    //  {"chain": {...}} is accepted as well as the bare chain object
    //  and {"dynamics": "...", "chain": {...}} (either key alone too)
    const json_t *chain = root;
    const char *path = "$";
    const json_t *dyn = json_is_object (root) ? json_object_get (root, "dynamics") : NULL;
    const json_t *wrapped = json_is_object (root) ? json_object_get (root, "chain") : NULL;
    if (json_is_object (root) && (dyn || wrapped)
    &&  json_object_size (root) == (size_t) (dyn != NULL) + (wrapped != NULL)) {
        chain = wrapped;
        path = "$.chain";
        if (dyn) {
            int d = spec_ctx_get_enum (&ctx, dyn, "$.dynamics", spec_settings_dynamics_names,
                                       DYN_COUNT, NULL, NULL);
            if (d >= 0)
                work.dynamics = (dynamics_t) d;
        }
    }
    if (chain)
        spec_keys_walk_object (&ctx, chain, path, &spec_settings_chain_table, &work, NULL);
    spec_dynamics_apply (&work, work.dynamics);
    json_decref (root);
    spec_ctx_free (&ctx);
    if (ctx.n_errors > 0)
        return MF_ERR_INVALID;
    *cfg = work;
    return 0;
}

// ---------------------------------------------------------------------------
//  Canonical JSON

//  Writes the resolved spec as compact canonical JSON (caller frees), or NULL.
char *
spec_to_json (const job_spec_t *spec)
{
    if (!spec)
        return NULL;
    bool ok = true;
    json_t *root = json_object ();
    if (!root)
        return NULL;
    spec_keys_emit (root, &spec_job_top_table, spec, &ok);
    json_t *defaults = json_object ();
    if (defaults) {
        spec_keys_emit (defaults, &spec_settings_table, &spec->defaults, &ok);
        spec_keys_emit (defaults, &spec_settings_album_table, &spec->defaults, &ok);
    }
    spec_keys_set (root, "defaults", defaults, &ok);
    json_t *albums = json_array ();
    for (size_t a = 0; albums && a < spec->n_albums; a++) {
        const spec_album_t *al = &spec->albums [a];
        json_t *ao = json_object ();
        if (!ao) {
            ok = false;
            break;
        }
        spec_keys_emit (ao, &spec_job_album_table, al, &ok);
        spec_keys_emit (ao, &spec_settings_table, &al->s, &ok);
        spec_keys_emit (ao, &spec_settings_album_table, &al->s, &ok);
        json_t *tracks = json_array ();
        for (size_t i = 0; tracks && i < al->n_tracks; i++) {
            json_t *to = json_object ();
            if (to) {
                spec_keys_emit (to, &spec_job_track_table, &al->tracks [i], &ok);
                spec_keys_emit (to, &spec_settings_table, &al->tracks [i].s, &ok);
            }
            if (!to || json_array_append_new (tracks, to) != 0)
                ok = false;
        }
        spec_keys_set (ao, "tracks", tracks, &ok);
        if (json_array_append_new (albums, ao) != 0)
            ok = false;
    }
    spec_keys_set (root, "albums", albums, &ok);
    char *text = ok ? json_dumps (root, JSON_COMPACT | JSON_PRESERVE_ORDER
                                        | JSON_REAL_PRECISION (17)) : NULL;
    json_decref (root);
    return text;
}
