/*  Job spec parser: the settings every level has (see spec_settings.h,
    private to the spec parser): the key tables of the chain and its
    stages, loudness, the tonal match and the profiles, their readers and
    writers, the built-in defaults and the dynamics presets.

    A switchable stage (compressor, multiband, limiter) takes null/false
    (off), true (on) or an object (on, its keys merged). The glue
    compressor's keys given anywhere are collected (chain_cfg_t.comp_keys)
    so that the dynamics preset fills only the others.  */
#include "common/spec_settings.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/fsutil.h"
#include "common/profile.h"

//  Names of enumerations, indexed by value.
static const char *const s_fade_names [] =
    { "linear", "exponential", "logarithmic", "s_curve", "equal_power" };
static const char *const s_policy_names [] = { "track", "album", "loudest", "hybrid" };
const char *const spec_settings_match_names [3] = { "off", "album", "reference" };
static const char *const s_eq_names [] =
    { "peak", "lowshelf", "highshelf", "highpass", "lowpass" };
const char *const spec_settings_dynamics_names [DYN_COUNT] =
    { "none", "gentle", "standard", "punchy" };
static const char *const s_partial_names [] = { "hold", "deliver" };

//  Marks beyond SPEC_COMP_*: which threshold, crossovers, loudness given.
#define S_MARK_ABSOLUTE   (1u << 27)
#define S_MARK_RELATIVE   (1u << 28)
#define S_MARK_CROSSOVER  (1u << 29)
#define S_MARK_TARGET     (1u << 30)
#define S_MARK_PEAK       (1u << 31)

//  A fade curve by name ("s-curve" also accepted). Returns -1 if unknown.
static int
s_fade_find (const char *name)
{
    if (strcmp (name, "s-curve") == 0)
        return FADE_SCURVE;
    return spec_ctx_enum_find (name, s_fade_names, 5);
}

//  An EQ band type by name ("low_shelf"/"high_shelf" also accepted). -1 if unknown.
static int
s_eq_find (const char *name)
{
    if (strcmp (name, "low_shelf") == 0)
        return EQ_LOWSHELF;
    if (strcmp (name, "high_shelf") == 0)
        return EQ_HIGHSHELF;
    return spec_ctx_enum_find (name, s_eq_names, 5);
}

// ---------------------------------------------------------------------------
//  Dynamics presets

//  A compressor with the given settings, enabled.
static comp_cfg_t
s_comp (double threshold_db, double ratio, double attack_ms, double release_ms,
        double knee_db)
{
    comp_cfg_t c = { .enabled = true, .threshold_db = threshold_db, .ratio = ratio,
                     .attack_ms = attack_ms, .release_ms = release_ms,
                     .knee_db = knee_db, .makeup_db = 0.0 };
    return c;
}

//  The name of preset d, "?" when out of range.
const char *
spec_dynamics_name (dynamics_t d)
{
    return (int) d >= 0 && d < DYN_COUNT ? spec_settings_dynamics_names [d] : "?";
}

//  The preset named name, or -1.
int
spec_dynamics_find (const char *name)
{
    return name ? spec_ctx_enum_find (name, spec_settings_dynamics_names, DYN_COUNT) : -1;
}

//  The glue compressor of preset d (an unknown d gives gentle's values).
void
spec_dynamics_preset (dynamics_t d, comp_cfg_t *out)
{
    //  threshold above the loudness (LU), ratio, attack ms, release ms, knee dB;
    //  see spec.h for what each does. none keeps gentle's values, switched off.
    static const double t [DYN_COUNT][5] = {
        {  8.0, 1.5, 30.0, 250.0, 6.0 },          //  none
        {  8.0, 1.5, 30.0, 250.0, 6.0 },          //  gentle
        {  6.0, 2.0, 20.0, 200.0, 6.0 },          //  standard
        {  1.0, 3.0, 30.0, 120.0, 4.0 } };        //  punchy
    int k = (int) d >= 0 && d < DYN_COUNT ? (int) d : DYN_GENTLE;
    *out = s_comp (-18.0, t [k][1], t [k][2], t [k][3], t [k][4]);
    out->relative = true;
    out->threshold_lu = t [k][0];
    out->enabled = k != DYN_NONE;
}

//  Sets the chain's preset to d and each compressor key it did not
//  give (cfg->comp_keys) to the preset's value.
void
spec_dynamics_apply (chain_cfg_t *cfg, dynamics_t d)
{
    comp_cfg_t p;
    spec_dynamics_preset (d, &p);
    comp_cfg_t *c = &cfg->compressor;
    const uint32_t given = cfg->comp_keys;
    cfg->dynamics = d;
    if (!(given & SPEC_COMP_ENABLED))
        c->enabled = p.enabled;
    if (!(given & SPEC_COMP_THRESHOLD)) {
        c->threshold_db = p.threshold_db;
        c->relative = p.relative;
        c->threshold_lu = p.threshold_lu;
    }
    if (!(given & SPEC_COMP_RATIO))
        c->ratio = p.ratio;
    if (!(given & SPEC_COMP_ATTACK))
        c->attack_ms = p.attack_ms;
    if (!(given & SPEC_COMP_RELEASE))
        c->release_ms = p.release_ms;
    if (!(given & SPEC_COMP_KNEE))
        c->knee_db = p.knee_db;
    if (!(given & SPEC_COMP_MAKEUP))
        c->makeup_db = p.makeup_db;
}


// ---------------------------------------------------------------------------
//  Settings: the chain and its stages, loudness, tonal match

//  The common head of a switchable stage: null/false disable it, true
//  enables it, an object enables it and returns true so the caller merges
//  its keys; anything else is an error. Returns true only for an object.
static bool
s_apply_switch (spec_ctx_t *ctx, const json_t *v, const char *path, bool *enabled)
{
    if (json_is_null (v) || json_is_boolean (v)) {
        *enabled = json_is_true (v);
        return false;
    }
    if (!json_is_object (v)) {
        spec_ctx_fail (ctx, path, false, "expected an object, true, false or null, got %s",
                       spec_ctx_type_name (v));
        return false;
    }
    *enabled = true;
    return true;
}

//  Which threshold a compressor has.
static bool
s_is_absolute (const void *obj)
{
    return !((const comp_cfg_t *) obj)->relative;
}

static bool
s_is_relative (const void *obj)
{
    return ((const comp_cfg_t *) obj)->relative;
}

//  The glue compressor's keys; a multiband band has all but threshold_lu.
static const spec_key_t s_comp_keys [] = {
    { "enabled",      KEY_BOOL, KEY_AT (comp_cfg_t, enabled) },
    { "threshold_db", KEY_NUM,  KEY_AT (comp_cfg_t, threshold_db), KEY_RANGE (R_THRESHOLD_DB),
                      .mark = SPEC_COMP_THRESHOLD | S_MARK_ABSOLUTE, .present = s_is_absolute },
    { "threshold_lu", KEY_NUM,  KEY_AT (comp_cfg_t, threshold_lu), KEY_RANGE (R_THRESHOLD_LU),
                      .mark = SPEC_COMP_THRESHOLD | S_MARK_RELATIVE, .present = s_is_relative,
                      .flags = KEY_GLUE_ONLY },
    { "ratio",        KEY_NUM,  KEY_AT (comp_cfg_t, ratio), KEY_RANGE (R_RATIO),
                      .mark = SPEC_COMP_RATIO },
    { "attack_ms",    KEY_NUM,  KEY_AT (comp_cfg_t, attack_ms), KEY_RANGE (R_ATTACK_MS),
                      .mark = SPEC_COMP_ATTACK },
    { "release_ms",   KEY_NUM,  KEY_AT (comp_cfg_t, release_ms), KEY_RANGE (R_COMP_RELEASE_MS),
                      .mark = SPEC_COMP_RELEASE },
    { "knee_db",      KEY_NUM,  KEY_AT (comp_cfg_t, knee_db), KEY_RANGE (R_KNEE_DB),
                      .mark = SPEC_COMP_KNEE },
    { "makeup_db",    KEY_NUM,  KEY_AT (comp_cfg_t, makeup_db), KEY_RANGE (R_MAKEUP_DB),
                      .mark = SPEC_COMP_MAKEUP },
};
static const spec_table_t s_comp_table = KEY_TABLE (s_comp_keys);
static const spec_table_t s_band_table =
    { s_comp_keys, sizeof s_comp_keys / sizeof s_comp_keys [0], KEY_GLUE_ONLY };

//  Applies a compressor value: null/false disable, true enables, an object
//  enables and merges its keys. given (the glue compressor's; NULL for a
//  multiband band, which has no relative threshold) collects the keys
//  set, SPEC_COMP_*, so that a dynamics preset leaves them alone.
static void
s_apply_comp (spec_ctx_t *ctx, const json_t *v, const char *path, comp_cfg_t *c,
              uint32_t *given)
{
    uint32_t set = SPEC_COMP_ENABLED;
    if (s_apply_switch (ctx, v, path, &c->enabled)) {
        char p [SPEC_PATH_MAX];
        if (given && json_object_get (v, "threshold_db") && json_object_get (v, "threshold_lu"))
            spec_ctx_fail (ctx, spec_ctx_key_path (p, path, "threshold_lu"), false,
                           "give threshold_db (dBFS) or threshold_lu (LU above the track's "
                           "loudness), not both");
        const spec_table_t *table = given ? &s_comp_table : &s_band_table;
        uint32_t marks = spec_keys_walk (ctx, v, path, &(spec_layer_t) { table, c }, 1, NULL,
                                         NULL);
        if (marks & S_MARK_ABSOLUTE)
            c->relative = false;
        if (marks & S_MARK_RELATIVE)
            c->relative = true;
        set |= marks & ~(S_MARK_ABSOLUTE | S_MARK_RELATIVE);
    }
    if (given)
        *given |= set;
}

//  Reads the glue compressor of a chain.
static void
s_read_compressor (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                   const spec_key_t *key, void *arg)
{
    (void) key, (void) arg;
    chain_cfg_t *c = obj;
    s_apply_comp (ctx, x, path, &c->compressor, &c->comp_keys);
}

//  Reads one band of a multiband compressor.
static void
s_read_band (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
             const spec_key_t *key, void *arg)
{
    (void) arg;
    s_apply_comp (ctx, x, path, KEY_FIELD (obj, key), NULL);
}

static const spec_key_t s_multiband_keys [] = {
    { "enabled", KEY_BOOL, KEY_AT (multiband_cfg_t, enabled), KEY_DEF (false) },  //  values
                                                        //  used when it is switched on
    { "low_hz",  KEY_NUM,  KEY_AT (multiband_cfg_t, low_hz), KEY_RANGE (R_MB_LOW_HZ),
                 .mark = S_MARK_CROSSOVER, KEY_DEF (200.0) },
    { "high_hz", KEY_NUM,  KEY_AT (multiband_cfg_t, high_hz), KEY_RANGE (R_MB_HIGH_HZ),
                 .mark = S_MARK_CROSSOVER, KEY_DEF (3000.0) },
    { "low",     KEY_CALL, KEY_AT (multiband_cfg_t, band [0]), .read = s_read_band,
                 .sub = &s_band_table },
    { "mid",     KEY_CALL, KEY_AT (multiband_cfg_t, band [1]), .read = s_read_band,
                 .sub = &s_band_table },
    { "high",    KEY_CALL, KEY_AT (multiband_cfg_t, band [2]), .read = s_read_band,
                 .sub = &s_band_table },
};
static const spec_table_t s_multiband_table = KEY_TABLE (s_multiband_keys);

//  Reads a multiband value (null/false/true/object, as for the compressor).
static void
s_read_multiband (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                  const spec_key_t *key, void *arg)
{
    (void) arg;
    multiband_cfg_t *m = KEY_FIELD (obj, key);
    if (!s_apply_switch (ctx, x, path, &m->enabled))
        return;
    uint32_t marks = spec_keys_walk (ctx, x, path, &(spec_layer_t) { &s_multiband_table, m },
                                     1, NULL, NULL);
    if ((marks & S_MARK_CROSSOVER) && !(m->high_hz > m->low_hz)) {
        char p [SPEC_PATH_MAX];
        spec_ctx_key_path (p, path, json_object_get (x, "high_hz") ? "high_hz" : "low_hz");
        spec_ctx_fail (ctx, p, false,
                       "the crossovers must rise: low_hz %g must be below high_hz %g",
                       m->low_hz, m->high_hz);
    }
}

//  ceiling_dbtp null means "from the profile".
static const spec_key_t s_limiter_keys [] = {
    { "enabled",      KEY_BOOL, KEY_AT (limiter_cfg_t, enabled), KEY_DEF (true) },
    { "ceiling_dbtp", KEY_NUM,  KEY_AT (limiter_cfg_t, ceiling_dbtp),
                      KEY_RANGE (R_CEILING_DBTP), .flags = KEY_NULL_NAN, KEY_DEF (NAN) },
    { "lookahead_ms", KEY_NUM,  KEY_AT (limiter_cfg_t, lookahead_ms),
                      KEY_RANGE (R_LOOKAHEAD_MS), KEY_DEF (2.0) },
    { "release_ms",   KEY_NUM,  KEY_AT (limiter_cfg_t, release_ms),
                      KEY_RANGE (R_LIM_RELEASE_MS), KEY_DEF (80.0) },
    { "max_gr_db",    KEY_NUM,  KEY_AT (limiter_cfg_t, max_gr_db), KEY_RANGE (R_MAX_GR_DB),
                      KEY_DEF (6.0) },
};
static const spec_table_t s_limiter_table = KEY_TABLE (s_limiter_keys);

//  Reads a limiter value (null/false/true/object).
static void
s_read_limiter (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                const spec_key_t *key, void *arg)
{
    (void) arg;
    limiter_cfg_t *l = KEY_FIELD (obj, key);
    if (s_apply_switch (ctx, x, path, &l->enabled))
        spec_keys_walk (ctx, x, path, &(spec_layer_t) { &s_limiter_table, l }, 1, NULL, NULL);
}

static const spec_key_t s_eq_keys [] = {
    { "type",    KEY_ENUM, KEY_AT (eq_band_t, type), .names = s_eq_names, .n_names = 5,
                 .find = s_eq_find, .what = "EQ type" },
    { "freq_hz", KEY_NUM,  KEY_AT (eq_band_t, freq_hz), KEY_RANGE (R_EQ_FREQ_HZ) },
    { "gain_db", KEY_NUM,  KEY_AT (eq_band_t, gain_db), KEY_RANGE (R_EQ_GAIN_DB) },
    { "q",       KEY_NUM,  KEY_AT (eq_band_t, q), KEY_RANGE (R_EQ_Q) },
};
static const spec_table_t s_eq_table = KEY_TABLE (s_eq_keys);

//  Replaces the EQ with the bands of an array (null: no bands).
static void
s_read_eq (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
           const spec_key_t *key, void *arg)
{
    (void) key, (void) arg;
    chain_cfg_t *c = obj;
    if (json_is_null (x)) {
        c->n_eq = 0;
        return;
    }
    if (!json_is_array (x)) {
        spec_ctx_fail (ctx, path, false, "expected an array of bands, got %s",
                       spec_ctx_type_name (x));
        return;
    }
    size_t n = json_array_size (x);
    if (n > SPEC_MAX_EQ) {
        spec_ctx_fail (ctx, path, false, "%zu EQ bands; at most %d are allowed", n,
                       SPEC_MAX_EQ);
        n = SPEC_MAX_EQ;
    }
    c->n_eq = (int) n;
    char bp [SPEC_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        const json_t *b = json_array_get (x, i);
        spec_ctx_index_path (bp, path, i);
        eq_band_t *band = &c->eq [i];
        *band = (eq_band_t) { .type = EQ_PEAK, .freq_hz = 1000.0, .gain_db = 0.0, .q = 0.707 };
        if (!json_is_object (b)) {
            spec_ctx_fail (ctx, bp, false,
                           "expected an EQ band object {type, freq_hz, gain_db, q}, got %s",
                           spec_ctx_type_name (b));
            continue;
        }
        if (!json_object_get (b, "type"))
            spec_ctx_fail (ctx, bp, false,
                           "missing 'type' (peak, lowshelf, highshelf, highpass, lowpass)");
        if (!json_object_get (b, "freq_hz"))
            spec_ctx_fail (ctx, bp, false, "missing 'freq_hz'");
        spec_keys_walk (ctx, b, bp, &(spec_layer_t) { &s_eq_table, band }, 1, NULL, NULL);
    }
}

//  Writes the EQ bands.
static void
s_write_eq (json_t *o, const void *obj, const spec_key_t *key, bool *ok)
{
    const chain_cfg_t *c = obj;
    json_t *eq = json_array ();
    for (int i = 0; eq && i < c->n_eq && i < SPEC_MAX_EQ; i++) {
        json_t *b = json_object ();
        if (b)
            spec_keys_emit (b, &s_eq_table, &c->eq [i], ok);
        if (!b || json_array_append_new (eq, b) != 0)
            *ok = false;
    }
    spec_keys_set (o, key->name, eq, ok);
}

//  highpass_hz: 0 (off) or a frequency in its range.
static void
s_read_highpass_hz (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                    const spec_key_t *key, void *arg)
{
    (void) key, (void) arg;
    chain_cfg_t *c = obj;
    if (json_is_number (x) && json_number_value (x) == 0.0)
        c->highpass_hz = 0.0;
    else
    if (json_is_number (x)) {
        double hz = json_number_value (x);
        if (hz >= 5.0 && hz <= 200.0)
            c->highpass_hz = hz;
        else
            spec_ctx_fail (ctx, path, false,
                           "%g is out of range; allowed 0 (off) or 5 .. 200", hz);
    }
    else
        spec_ctx_fail (ctx, path, false, "expected a number, 0 (off) or 5 .. 200, got %s",
                       spec_ctx_type_name (x));
}

//  highpass_order: 2 or 4.
static void
s_read_highpass_order (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                       const spec_key_t *key, void *arg)
{
    (void) key, (void) arg;
    chain_cfg_t *c = obj;
    int order;
    if (spec_ctx_get_int (ctx, x, path, 2, 4, &order)) {
        if (order == 3)
            spec_ctx_fail (ctx, path, false, "3 is not allowed; the order is 2 or 4");
        else
            c->highpass_order = order;
    }
}

static const spec_key_t s_stereo_keys [] = {
    { "width",         KEY_NUM, KEY_AT (stereo_cfg_t, width), KEY_RANGE (R_WIDTH),
                       KEY_DEF (1.0) },
    { "mono_below_hz", KEY_NUM, KEY_AT (stereo_cfg_t, mono_below_hz),
                       KEY_RANGE (R_MONO_BELOW_HZ), KEY_DEF (0.0) },
};
static const spec_table_t s_stereo_table = KEY_TABLE (s_stereo_keys);

static const spec_key_t s_chain_keys [] = {
    { "highpass_hz",    KEY_CALL,   KEY_AT (chain_cfg_t, highpass_hz),
                        .read = s_read_highpass_hz, .out = KEY_NUM, KEY_DEF (20.0) },
    { "highpass_order", KEY_CALL,   KEY_AT (chain_cfg_t, highpass_order),
                        .read = s_read_highpass_order, .out = KEY_INT, KEY_DEF (2) },
    { "eq",             KEY_CALL,   .read = s_read_eq, .write = s_write_eq },
    { "multiband",      KEY_CALL,   KEY_AT (chain_cfg_t, multiband), .read = s_read_multiband,
                        .sub = &s_multiband_table },
    { "compressor",     KEY_CALL,   KEY_AT (chain_cfg_t, compressor), .read = s_read_compressor,
                        .sub = &s_comp_table },
    { "stereo",         KEY_OBJECT, KEY_AT (chain_cfg_t, stereo), .sub = &s_stereo_table,
                        .what = "{width, mono_below_hz}" },
    { "gain_db",        KEY_NUM,    KEY_AT (chain_cfg_t, gain_db), KEY_RANGE (R_GAIN_DB),
                        KEY_DEF (0.0) },
    { "limiter",        KEY_CALL,   KEY_AT (chain_cfg_t, limiter), .read = s_read_limiter,
                        .sub = &s_limiter_table },
    { "dither",         KEY_BOOL,   KEY_AT (chain_cfg_t, dither), KEY_DEF (true) },
    { "noise_shaping",  KEY_BOOL,   KEY_AT (chain_cfg_t, noise_shaping), KEY_DEF (true) },
};
const spec_table_t spec_settings_chain_table = KEY_TABLE (s_chain_keys);

//  The options of a profile given as an object (read by s_read_profiles).
static const spec_key_t s_profile_keys [] = {
    { .name = "name", .type = KEY_LATER },
    { .name = "codec_check", .type = KEY_LATER },
    { .name = "codec_safe", .type = KEY_LATER },
    { .name = "album_file", .type = KEY_LATER },
};
static const spec_table_t s_profile_table = KEY_TABLE (s_profile_keys);

//  Replaces the profile set with the names of an array.
static void
s_read_profiles (spec_ctx_t *ctx, const json_t *v, const char *path, void *obj,
                 const spec_key_t *key, void *arg)
{
    (void) key, (void) arg;
    settings_t *s = obj;
    uint32_t *profiles = &s->profiles;
    if (!json_is_array (v)) {
        spec_ctx_fail (ctx, path, false, "expected an array of profile names, got %s",
                       spec_ctx_type_name (v));
        return;
    }
    if (json_array_size (v) == 0) {
        spec_ctx_fail (ctx, path, false, "at least one profile is needed");
        return;
    }
    uint32_t set = 0, check = 0, safe = 0, no_album = 0;
    bool ok = true;
    char p [SPEC_PATH_MAX], kp [SPEC_PATH_MAX];
    for (size_t i = 0; i < json_array_size (v); i++) {
        spec_ctx_index_path (p, path, i);
        //  a name, or {"name": ..., and the profile's options}
        const json_t *e = json_array_get (v, i);
        const json_t *opts = json_is_object (e) ? e : NULL;
        if (opts) {
            e = json_object_get (opts, "name");
            spec_ctx_key_path (kp, p, "name");
            if (!e) {
                spec_ctx_fail (ctx, p, false, "a profile given as an object needs \"name\"");
                ok = false;
                continue;
            }
        }
        const char *name = spec_ctx_get_str (ctx, e, opts ? kp : p);
        if (!name) {
            ok = false;
            continue;
        }
        const profile_t *prof = profile_find (name);
        if (!prof) {
            char allowed [256] = "";
            for (int k = 0; k < PROFILE_COUNT; k++) {
                strcat (allowed, k ? ", " : "");
                strcat (allowed, profile_get ((profile_id_t) k)->name);
            }
            spec_ctx_fail (ctx, p, false, "unknown profile '%s'; known: %s", name, allowed);
            ok = false;
            continue;
        }
        set |= 1u << prof->id;
        const char *key;
        const json_t *x;
        json_object_foreach ((json_t *) opts, key, x) {
            bool on;
            spec_ctx_key_path (kp, p, key);
            if (strcmp (key, "name") == 0)
                continue;
            if (!spec_keys_find (&s_profile_table, key)) {
                spec_keys_unknown (ctx, kp, key, &(spec_layer_t) { &s_profile_table, NULL }, 1);
                ok = false;
                continue;
            }
            if (!spec_ctx_get_bool (ctx, x, kp, &on)) {
                ok = false;
                continue;
            }
            bool lossy = prof->id != PROFILE_CD && prof->id != PROFILE_BROADCAST
                      && prof->id != PROFILE_HIRES;
            if (on && strcmp (key, "album_file") && !lossy) {
                spec_ctx_fail (ctx, kp, true, "%s is for the streaming profiles (spotify, "
                               "apple, youtube, amazon, tidal), which platforms transcode; "
                               "%s is not one", key, prof->name);
                ok = false;
            }
            else
            if (!on && strcmp (key, "album_file") == 0 && prof->cd) {
                spec_ctx_fail (ctx, kp, true, "cd always has its album file and CUE sheet");
                ok = false;
            }
            else
            if (strcmp (key, "album_file") == 0)
                no_album |= on ? 0 : 1u << prof->id;
            else
            if (strcmp (key, "codec_check") == 0)
                check |= on ? 1u << prof->id : 0;
            else
                safe |= on ? 1u << prof->id : 0;
        }
    }
    if (ok) {
        *profiles = set;
        s->codec_check = check | safe;          //  codec_safe measures too
        s->codec_safe = safe;
        s->no_album_file = no_album;
    }
}

//  Writes the profile set: names, or objects for profiles with options.
static void
s_write_profiles (json_t *o, const void *obj, const spec_key_t *key, bool *ok)
{
    const settings_t *s = obj;
    json_t *prof = json_array ();
    for (int i = 0; prof && i < PROFILE_COUNT; i++) {
        uint32_t bit = 1u << i;
        if (!(s->profiles & bit))
            continue;
        const char *name = profile_get ((profile_id_t) i)->name;
        json_t *e = (s->codec_check | s->codec_safe | s->no_album_file) & bit
                  ? json_pack ("{ss}", "name", name) : json_string (name);
        if (e && (s->codec_check & bit))
            spec_keys_set (e, "codec_check", json_true (), ok);
        if (e && (s->codec_safe & bit))
            spec_keys_set (e, "codec_safe", json_true (), ok);
        if (e && (s->no_album_file & bit))
            spec_keys_set (e, "album_file", json_false (), ok);
        if (json_array_append_new (prof, e))
            *ok = false;
    }
    spec_keys_set (o, key->name, prof, ok);
}

//  Writes reference_track: its index, or null.
static void
s_write_reference (json_t *o, const void *obj, const spec_key_t *key, bool *ok)
{
    const tonal_cfg_t *t = obj;
    spec_keys_set (o, key->name, t->reference_track >= 0 ? json_integer (t->reference_track)
                                                         : json_null (), ok);
}

//  Reads reference_track: a track index, or a track path kept in arg (an
//  spec_reftrack_t) until the album's track list is known; null: none.
static void
s_read_reference (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                  const spec_key_t *key, void *arg)
{
    (void) key;
    tonal_cfg_t *t = obj;
    spec_reftrack_t *ref = arg;
    if (json_is_string (x) && *json_string_value (x)) {
        ref->path = json_string_value (x);
        snprintf (ref->where, sizeof ref->where, "%s", path);
        t->reference_track = -1;
    }
    else
    if (json_is_null (x)) {
        ref->path = NULL;
        t->reference_track = -1;
    }
    else
    if (json_is_integer (x)) {
        if (spec_ctx_get_int (ctx, x, path, 0, SPEC_MAX_TRACKS - 1, &t->reference_track)) {
            ref->path = NULL;
            snprintf (ref->where, sizeof ref->where, "%s", path);
        }
    }
    else
        spec_ctx_fail (ctx, path, false, "expected a track index (0-based) or a track path, "
                       "got %s", spec_ctx_type_name (x));
}

//  Reads a reference file's path into a spec_ref_t.
static void
s_read_ref_path (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                 const spec_key_t *key, void *arg)
{
    (void) key;
    (void) arg;
    spec_ref_t *r = obj;
    const char *s = spec_ctx_get_str (ctx, x, path);
    if (!s)
        return;
    if (!fsutil_rel_path_ok (s) || spec_ctx_has_control (s))
        spec_ctx_fail (ctx, path, false, "reference '%s' must be relative to the input root, "
                       "non-empty, without '..' or control characters", s);
    else
    if (strlen (s) >= sizeof r->path)
        spec_ctx_fail (ctx, path, false, "reference path is %zu bytes; at most %zu", strlen (s),
                       sizeof r->path - 1);
    else
        snprintf (r->path, sizeof r->path, "%s", s);
}

static const spec_key_t s_ref_keys [] = {
    { "path",   KEY_CALL, .read = s_read_ref_path },
    { "weight", KEY_NUM,  KEY_AT (spec_ref_t, weight), KEY_RANGE (0.01, 100.0), KEY_DEF (1.0) },
};
static const spec_table_t s_ref_table = KEY_TABLE (s_ref_keys);

//  Reads tonal "reference": a file's path, or a list of paths and
//  {"path", "weight"} objects; null: none.
static void
s_read_ref_files (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                  const spec_key_t *key, void *arg)
{
    (void) key;
    tonal_cfg_t *t = obj;
    t->n_refs = 0;
    memset (t->refs, 0, sizeof t->refs);
    if (json_is_null (x))
        return;
    bool list = json_is_array (x);
    size_t n = list ? json_array_size (x) : 1;
    if ((!list && !json_is_string (x)) || n == 0 || n > SPEC_MAX_REFS) {
        spec_ctx_fail (ctx, path, false, "expected a reference file's path, or a list of 1 "
                       "to %d paths or {\"path\", \"weight\"} objects, got %s%s", SPEC_MAX_REFS,
                       list ? "a list of " : "",
                       list ? (n ? "more" : "none") : spec_ctx_type_name (x));
        return;
    }
    char p [SPEC_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        const json_t *e = list ? json_array_get (x, i) : x;
        spec_ref_t *r = &t->refs [i];
        r->weight = 1.0;
        if (list)
            spec_ctx_index_path (p, path, i);
        else
            snprintf (p, sizeof p, "%s", path);
        if (json_is_object (e)) {
            spec_keys_walk_object (ctx, e, p, &s_ref_table, r, arg);
            if (!json_object_get (e, "path"))
                spec_ctx_fail (ctx, p, false, "missing 'path' (the reference file, relative to "
                               "the input root)");
        }
        else
        if (json_is_string (e))
            s_read_ref_path (ctx, e, p, r, NULL, arg);
        else
            spec_ctx_fail (ctx, p, false, "expected a path or {\"path\", \"weight\"}, got %s",
                           spec_ctx_type_name (e));
    }
    t->n_refs = (int) n;
}

//  Writes the reference files as a list of {"path", "weight"}.
static void
s_write_ref_files (json_t *o, const void *obj, const spec_key_t *key, bool *ok)
{
    const tonal_cfg_t *t = obj;
    json_t *list = json_array ();
    for (int i = 0; list && i < t->n_refs; i++) {
        json_t *e = json_object ();
        spec_keys_set (e, "path", json_string (t->refs [i].path), ok);
        spec_keys_set (e, "weight", json_real (t->refs [i].weight), ok);
        if (!e || json_array_append_new (list, e))
            *ok = false;
    }
    spec_keys_set (o, key->name, list, ok);
}

//  Whether reference files are given (their keys are written only then).
static bool
s_has_ref_files (const void *obj)
{
    return ((const tonal_cfg_t *) obj)->n_refs > 0;
}

static const spec_key_t s_intensity_keys [] = {
    { "tone",     KEY_NUM, KEY_AT (spec_intensity_t, tone), KEY_RANGE (0.0, 1.0),
                  KEY_DEF (1.0) },
    { "loudness", KEY_NUM, KEY_AT (spec_intensity_t, loudness), KEY_RANGE (0.0, 1.0),
                  KEY_DEF (1.0) },
    { "width",    KEY_NUM, KEY_AT (spec_intensity_t, width), KEY_RANGE (0.0, 1.0),
                  KEY_DEF (1.0) },
};
static const spec_table_t s_intensity_table = KEY_TABLE (s_intensity_keys);

static const spec_key_t s_tonal_keys [] = {
    { "match",           KEY_ENUM, KEY_AT (tonal_cfg_t, match),
                         .names = spec_settings_match_names, .n_names = 3,
                         KEY_DEF (TONAL_ALBUM) },
    { "strength",        KEY_NUM,  KEY_AT (tonal_cfg_t, strength), KEY_RANGE (R_STRENGTH),
                         KEY_DEF (0.5) },
    { "max_db",          KEY_NUM,  KEY_AT (tonal_cfg_t, max_db), KEY_RANGE (R_TONAL_MAX_DB),
                         KEY_DEF (3.0) },
    { "reference_track", KEY_CALL, .read = s_read_reference, .write = s_write_reference },
    { "reference",       KEY_CALL, .read = s_read_ref_files, .write = s_write_ref_files,
                         .present = s_has_ref_files },
    { "intensity",       KEY_OBJECT, KEY_AT (tonal_cfg_t, intensity), .sub = &s_intensity_table,
                         .what = "{tone, loudness, width}", .present = s_has_ref_files },
};
static const spec_table_t s_tonal_table = KEY_TABLE (s_tonal_keys);

//  Whether the spec gave a target and a true-peak limit.
static bool
s_has_target (const void *obj)
{
    return ((const loudness_cfg_t *) obj)->has_target;
}

static bool
s_has_true_peak (const void *obj)
{
    return ((const loudness_cfg_t *) obj)->has_true_peak;
}

static const spec_key_t s_loudness_keys [] = {
    { "policy",           KEY_ENUM, KEY_AT (loudness_cfg_t, policy), .names = s_policy_names,
                          .n_names = 4, KEY_DEF (POLICY_ALBUM) },
    { "target_lufs",      KEY_NUM,  KEY_AT (loudness_cfg_t, target_lufs),
                          KEY_RANGE (R_TARGET_LUFS), .mark = S_MARK_TARGET,
                          .present = s_has_target, KEY_DEF (-14.0) },
    { "true_peak_dbtp",   KEY_NUM,  KEY_AT (loudness_cfg_t, true_peak_dbtp),
                          KEY_RANGE (R_TRUE_PEAK_DBTP), .mark = S_MARK_PEAK,
                          .present = s_has_true_peak, KEY_DEF (-1.0) },
    { "max_deviation_lu", KEY_NUM,  KEY_AT (loudness_cfg_t, max_deviation_lu),
                          KEY_RANGE (R_MAX_DEVIATION_LU), KEY_DEF (3.0) },
};
static const spec_table_t s_loudness_table = KEY_TABLE (s_loudness_keys);

//  Reads a "loudness" object; has_target and has_true_peak record that
//  the spec gave them.
static void
s_read_loudness (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                 const spec_key_t *key, void *arg)
{
    loudness_cfg_t *l = KEY_FIELD (obj, key);
    uint32_t marks = spec_keys_walk_object (ctx, x, path, &s_loudness_table, l, arg);
    if (marks & S_MARK_TARGET)
        l->has_target = true;
    if (marks & S_MARK_PEAK)
        l->has_true_peak = true;
}

//  The settings every level has (defaults, album, track).
static const spec_key_t s_settings_keys [] = {
    { "profiles",    KEY_CALL, .read = s_read_profiles, .write = s_write_profiles },
    { "loudness",    KEY_CALL, KEY_AT (settings_t, loudness), .read = s_read_loudness,
                     .sub = &s_loudness_table },
    { "tonal",       KEY_OBJECT, KEY_AT (settings_t, tonal), .sub = &s_tonal_table },
    { "chain",       KEY_OBJECT, KEY_AT (settings_t, chain),
                     .sub = &spec_settings_chain_table },
    { "dynamics",    KEY_ENUM, KEY_AT (settings_t, chain.dynamics),
                     .names = spec_settings_dynamics_names, .n_names = DYN_COUNT,
                     KEY_DEF (DYN_GENTLE) },
    { "gap_s",       KEY_NUM,  KEY_AT (settings_t, gap_s), KEY_RANGE (R_GAP_S), KEY_DEF (2.0) },
    { "fade_in_s",   KEY_NUM,  KEY_AT (settings_t, fade_in_s), KEY_RANGE (R_FADE_S),
                     KEY_DEF (0.0) },
    { "fade_out_s",  KEY_NUM,  KEY_AT (settings_t, fade_out_s), KEY_RANGE (R_FADE_S),
                     KEY_DEF (0.0) },
    { "crossfade_s", KEY_NUM,  KEY_AT (settings_t, crossfade_s), KEY_RANGE (R_CROSSFADE_S),
                     KEY_DEF (0.0) },
    { "fade_curve",  KEY_ENUM, KEY_AT (settings_t, fade_curve), .names = s_fade_names,
                     .n_names = 5, .find = s_fade_find, .what = "fade curve",
                     KEY_DEF (FADE_EQUAL_POWER) },
    { "trim",        KEY_BOOL, KEY_AT (settings_t, trim), KEY_DEF (false) },
    { "trim_db",     KEY_NUM,  KEY_AT (settings_t, trim_db), KEY_RANGE (R_TRIM_DB),
                     KEY_DEF (-60.0) },
};
const spec_table_t spec_settings_table = KEY_TABLE (s_settings_keys);

//  Fills s with the built-in defaults (DESIGN.md's example values): the
//  tables' defaults, and what no key's default says (the profile set, no
//  reference track, the multiband bands, the gentle dynamics preset).
void
spec_settings_default (settings_t *s)
{
    memset (s, 0, sizeof *s);
    spec_keys_defaults (&spec_settings_table, s);           //  "partial": hold (false)
    s->profiles = 1u << PROFILE_SPOTIFY | 1u << PROFILE_CD;
    s->tonal.reference_track = -1;
    chain_cfg_t *c = &s->chain;
    c->multiband.band [0] = s_comp (-20.0, 2.0, 20.0, 200.0, 6.0);
    c->multiband.band [1] = s_comp (-20.0, 2.0, 10.0, 150.0, 6.0);
    c->multiband.band [2] = s_comp (-20.0, 2.0, 5.0, 100.0, 6.0);
    spec_dynamics_apply (c, DYN_GENTLE);     //  level-aware, see spec.h
}

// ---------------------------------------------------------------------------
//  Album settings

//  Reads an album's "partial" key: "hold" (the default: an album with a
//  failed track is not published) or "deliver" (published, marked
//  incomplete).
static void
s_read_partial (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                const spec_key_t *key, void *arg)
{
    (void) key, (void) arg;
    settings_t *s = obj;
    int m = spec_ctx_get_enum (ctx, x, path, s_partial_names, 2, NULL, NULL);
    if (m >= 0)
        s->partial_deliver = m == 1;
}

//  Writes "partial".
static void
s_write_partial (json_t *o, const void *obj, const spec_key_t *key, bool *ok)
{
    const settings_t *s = obj;
    spec_keys_set (o, key->name, json_string (s_partial_names [s->partial_deliver]), ok);
}

//  Settings of an album and of the defaults, not of a track.
static const spec_key_t s_album_settings_keys [] = {
    { "partial", KEY_CALL, .read = s_read_partial, .write = s_write_partial },
};
const spec_table_t spec_settings_album_table = KEY_TABLE (s_album_settings_keys);
