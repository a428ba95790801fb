/*  Job spec parser: the job, its albums and their tracks (see spec_job.h,
    private to the spec parser). The key tables of the top-level, album
    and track objects and the readers of their values (paths, ISRC, UPC,
    release date, RFC 3339 times); where a key written at the wrong level
    belongs; the parse of a JSON root, defaults then albums then tracks,
    with each album's reference track resolved once its tracks are known.  */
#include "common/spec_job.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/fsutil.h"
#include "common/profile.h"
#include "common/spec_settings.h"

#define SPEC_DEFAULT_PRIORITY  5

// ---------------------------------------------------------------------------
//  Values with their own syntax

//  Normalises an ISRC (dashes removed, upper case) into out (13 bytes).
//  Returns true if it is CC XXX YY NNNNN: 2 letters, 3 letters or digits,
//  2 digits, 5 digits.
bool
spec_isrc_normalise (const char *in, char out [13])
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p == '-')
            continue;
        if (n == 12)
            return false;
        out [n++] = (char) toupper ((unsigned char) *p);
    }
    out [n] = '\0';
    if (n != 12)
        return false;
    for (int i = 0; i < 12; i++) {
        unsigned char c = (unsigned char) out [i];
        bool ok = i < 2 ? (c >= 'A' && c <= 'Z')
                : i < 5 ? ((c >= 'A' && c <= 'Z') || isdigit (c))
                : isdigit (c) != 0;
        if (!ok)
            return false;
    }
    return true;
}

//  True if the text is a UPC/EAN: 12 or 13 digits.
static bool
s_upc_ok (const char *s)
{
    size_t n = strlen (s);
    if (n != 12 && n != 13)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit ((unsigned char) s [i]))
            return false;
    return true;
}

//  True if the text is a release date: YYYY or YYYY-MM-DD (a real day).
static bool
s_date_ok (const char *s)
{
    int y, m, d, n = 0;
    size_t len = strlen (s);
    for (size_t i = 0; i < len; i++)
        if (!(isdigit ((unsigned char) s [i]) || ((i == 4 || i == 7) && s [i] == '-')))
            return false;
    if (len == 4)
        return true;
    if (len != 10 || sscanf (s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10)
        return false;
    static const int days [] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m >= 1 && m <= 12 && d >= 1 && d <= (m == 2 && !leap ? 28 : days [m - 1]);
}

// ---------------------------------------------------------------------------
//  Spec lifecycle

//  A new empty spec with built-in defaults, or NULL.
job_spec_t *
spec_job_new (void)
{
    job_spec_t *spec = calloc (1, sizeof *spec);
    if (!spec)
        return NULL;
    spec->priority = SPEC_DEFAULT_PRIORITY;
    spec_settings_default (&spec->defaults);
    return spec;
}

//  Frees the strings of one settings-bearing track.
void
spec_job_track_free (spec_track_t *t)
{
    free (t->path);
    free (t->title);
    free (t->artist);
    free (t->isrc);
}

//  The file name of path without folder and extension, as a new string.
char *
spec_job_title_from_path (const char *path)
{
    const char *base = strrchr (path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr (base, '.');
    size_t n = dot && dot != base ? (size_t) (dot - base) : strlen (base);
    if (n == 0)
        return strdup ("untitled");
    char *t = strndup (base, n);
    if (t)
        for (char *c = t; *c; c++)
            if ((unsigned char) *c < 0x20 || *c == 0x7f)
                *c = ' ';
    return t;
}

// ---------------------------------------------------------------------------
//  Album, track and job keys

//  An RFC 3339 UTC time with milliseconds when they are not zero.
static json_t *
s_time_json (int64_t ms)
{
    char buf [40];
    clock_format_rfc3339 (ms, buf, sizeof buf);
    int64_t frac = ms % 1000;
    if (frac < 0)
        frac += 1000;
    if (frac) {
        char *z = strchr (buf, 'Z');
        if (z)
            snprintf (z, sizeof buf - (size_t) (z - buf), ".%03dZ", (int) frac);
    }
    return json_string (buf);
}

//  Keeps a copy of s in the key's field when ok; otherwise reports
//  "<label> '<s>' <rule>". s NULL: nothing (already reported).
static void
s_keep_if (spec_ctx_t *ctx, const char *path, void *obj, const spec_key_t *key, const char *s,
           bool ok, const char *label, const char *rule)
{
    char **out = KEY_FIELD (obj, key);
    if (s && !ok)
        spec_ctx_fail (ctx, path, false, "%s '%s' %s", label, s, rule);
    else
    if (s && !(*out = strdup (s)))
        spec_ctx_fail (ctx, path, false, "out of memory");
}

//  Reads a track's path: relative to the input root, without "..".
static void
s_read_path (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
             const spec_key_t *key, void *arg)
{
    (void) arg;
    const char *s = spec_ctx_get_str (ctx, x, path);
    s_keep_if (ctx, path, obj, key, s, s && fsutil_rel_path_ok (s), "path",
               "must be relative to the input root, non-empty and without '..'");
}

//  Reads an ISRC (null: none), kept normalised (spec_isrc_normalise).
static void
s_read_isrc (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
             const spec_key_t *key, void *arg)
{
    (void) arg;
    const char *s = spec_ctx_get_str (ctx, x, path);
    char norm [13];
    bool ok = s && spec_isrc_normalise (s, norm);
    s_keep_if (ctx, path, obj, key, ok ? norm : s, ok, "ISRC", "is not CC-XXX-YY-NNNNN "
               "(2 letters, 3 letters or digits, 2 digits, 5 digits)");
}

//  Reads a UPC (null: none): 12 or 13 digits.
static void
s_read_upc (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
            const spec_key_t *key, void *arg)
{
    (void) arg;
    const char *s = spec_ctx_get_str (ctx, x, path);
    s_keep_if (ctx, path, obj, key, s, s && s_upc_ok (s), "UPC", "must be 12 or 13 digits");
}

//  Reads a release date (null: none): YYYY or YYYY-MM-DD.
static void
s_read_date (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
             const spec_key_t *key, void *arg)
{
    (void) arg;
    const char *s = spec_ctx_get_str (ctx, x, path);
    s_keep_if (ctx, path, obj, key, s, s && s_date_ok (s), "date",
               "must be YYYY or YYYY-MM-DD");
}

//  Reads an RFC 3339 timestamp into an int64_t of milliseconds, or null (0).
static void
s_read_time (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
             const spec_key_t *key, void *arg)
{
    (void) arg;
    int64_t *ms = KEY_FIELD (obj, key);
    if (json_is_null (x)) {
        *ms = 0;
        return;
    }
    const char *s = spec_ctx_get_str (ctx, x, path);
    if (s && clock_parse_rfc3339 (s, ms) != 0)
        spec_ctx_fail (ctx, path, false, "'%s' is not an RFC 3339 time such as "
                       "2026-12-01T00:00:00Z", s);
}

//  Writes a time that was given (not 0).
static void
s_write_time (json_t *o, const void *obj, const spec_key_t *key, bool *ok)
{
    int64_t ms = *(const int64_t *) KEY_CFIELD (obj, key);
    if (ms)
        spec_keys_set (o, key->name, s_time_json (ms), ok);
}

//  Whether a track has a disc number.
static bool
s_has_disc (const void *obj)
{
    return ((const spec_track_t *) obj)->disc > 0;
}

static const spec_key_t s_track_keys [] = {
    { "path",   KEY_CALL, KEY_AT (spec_track_t, path), .read = s_read_path, .out = KEY_TEXT },
    { "title",  KEY_TEXT, KEY_AT (spec_track_t, title) },
    { "artist", KEY_TEXT, KEY_AT (spec_track_t, artist), .flags = KEY_NULL_KEEPS },
    { "isrc",   KEY_CALL, KEY_AT (spec_track_t, isrc), .flags = KEY_NULL_KEEPS,
                .read = s_read_isrc, .out = KEY_TEXT },
    { "disc",   KEY_INT,  KEY_AT (spec_track_t, disc), KEY_RANGE (1, 99),
                .present = s_has_disc },
};
const spec_table_t spec_job_track_table = KEY_TABLE (s_track_keys);

static const spec_key_t s_album_keys [] = {
    { "title",  KEY_TEXT, KEY_AT (spec_album_t, title) },
    { "artist", KEY_TEXT, KEY_AT (spec_album_t, artist), .flags = KEY_NULL_KEEPS },
    { "upc",    KEY_CALL, KEY_AT (spec_album_t, upc), .flags = KEY_NULL_KEEPS,
                .read = s_read_upc, .out = KEY_TEXT },
    { "date",   KEY_CALL, KEY_AT (spec_album_t, date), .flags = KEY_NULL_KEEPS,
                .read = s_read_date, .out = KEY_TEXT },
    { "genre",  KEY_TEXT, KEY_AT (spec_album_t, genre), .flags = KEY_NULL_KEEPS },
    { .name = "tracks", .type = KEY_LATER },
};
const spec_table_t spec_job_album_table = KEY_TABLE (s_album_keys);

static const spec_key_t s_top_keys [] = {
    { "name",       KEY_TEXT, KEY_AT (job_spec_t, name) },
    { "priority",   KEY_INT,  KEY_AT (job_spec_t, priority), KEY_RANGE (R_PRIORITY) },
    { "deadline",   KEY_CALL, KEY_AT (job_spec_t, deadline_ms), .read = s_read_time,
                    .write = s_write_time },
    { "deliver_at", KEY_CALL, KEY_AT (job_spec_t, deliver_at_ms), .read = s_read_time,
                    .write = s_write_time },
    { .name = "defaults", .type = KEY_LATER },
    { .name = "albums", .type = KEY_LATER },
};
const spec_table_t spec_job_top_table = KEY_TABLE (s_top_keys);

//  Album-level settings where a track stands.
static bool
s_misplaced_in_track (spec_ctx_t *ctx, const char *path, const char *key)
{
    if (!spec_keys_find (&spec_settings_album_table, key))
        return false;
    spec_ctx_fail (ctx, path, true,
                   "'%s' is an album setting: put it in 'defaults' or an album", key);
    return true;
}

//  Settings and album settings at the top.
static bool
s_misplaced_at_top (spec_ctx_t *ctx, const char *path, const char *key)
{
    if (spec_keys_find (&spec_settings_table, key))
        spec_ctx_fail (ctx, path, true,
                       "'%s' is a setting: put it in 'defaults', an album or a track", key);
    else
        return s_misplaced_in_track (ctx, path, key);
    return true;
}

//  Album and track keys in the defaults.
static bool
s_misplaced_in_defaults (spec_ctx_t *ctx, const char *path, const char *key)
{
    if (!spec_keys_find (&spec_job_album_table, key)
    &&  !spec_keys_find (&spec_job_track_table, key))
        return false;
    spec_ctx_fail (ctx, path, true, "'%s' belongs to an album or a track, not to defaults",
                   key);
    return true;
}

// ---------------------------------------------------------------------------
//  Parsing, level by level

//  Resolves a reference given by path against the album's tracks, and
//  checks that TONAL_REFERENCE has a valid reference. where_album names
//  the album for messages.
static void
s_resolve_reference (spec_ctx_t *ctx, tonal_cfg_t *t, const spec_reftrack_t *ref,
                     const spec_album_t *album, const char *album_path)
{
    if (ref->path) {
        t->reference_track = -1;
        for (size_t i = 0; i < album->n_tracks; i++)
            if (album->tracks [i].path && strcmp (album->tracks [i].path, ref->path) == 0) {
                t->reference_track = (int) i;
                break;
            }
        if (t->reference_track < 0) {
            spec_ctx_fail (ctx, ref->where, false, "reference track '%s' is not a track of %s",
                           ref->path, album_path);
            return;
        }
    }
    if (t->reference_track >= (int) album->n_tracks) {
        spec_ctx_fail (ctx, ref->where [0] ? ref->where : album_path, false,
                       "reference track %d does not exist in %s (it has %zu tracks, "
                       "counted from 0)",
                       t->reference_track, album_path, album->n_tracks);
        return;
    }
    char p [SPEC_PATH_MAX];
    if (t->n_refs > 0 && t->reference_track >= 0)
        spec_ctx_fail (ctx, spec_ctx_key_path (p, album_path, "tonal"), false,
                       "give reference files ('reference') or a track of the album "
                       "('reference_track'), not both");
    else
    if (t->n_refs > 0 && t->match != TONAL_REFERENCE)
        spec_ctx_fail (ctx, spec_ctx_key_path (p, album_path, "tonal"), false,
                       "reference files are matched with \"match\": \"reference\" "
                       "(match is '%s')",
                       spec_settings_match_names [t->match <= TONAL_REFERENCE ? t->match : 0]);
    else
    if (t->match == TONAL_REFERENCE && t->reference_track < 0 && t->n_refs == 0)
        spec_ctx_fail (ctx, spec_ctx_key_path (p, album_path, "tonal"), false,
                       "tonal match 'reference' needs 'reference' (a file or a list of "
                       "files) or 'reference_track' (a track index or path)");
}

//  Parses one track object into t (settings inherited from album_s).
static void
s_parse_track (spec_ctx_t *ctx, const json_t *v, const char *path, spec_track_t *t,
               const settings_t *album_s, const spec_reftrack_t *album_ref,
               spec_reftrack_t *ref)
{
    t->s = *album_s;
    *ref = *album_ref;
    if (!json_is_object (v)) {
        spec_ctx_fail (ctx, path, false, "expected a track object {path, title, ...}, got %s",
                       spec_ctx_type_name (v));
        return;
    }
    spec_layer_t layers [] = {
        { &spec_job_track_table, t }, { &spec_settings_table, &t->s }
    };
    spec_keys_walk (ctx, v, path, layers, 2, s_misplaced_in_track, ref);
    if (!json_object_get (v, "path"))
        spec_ctx_fail (ctx, path, false,
                       "missing 'path' (the track's file, relative to the input root)");
    if (!t->title && t->path && !(t->title = spec_job_title_from_path (t->path)))
        spec_ctx_fail (ctx, path, false, "out of memory");
}

//  Parses one album object into al (settings inherited from defaults).
static void
s_parse_album (spec_ctx_t *ctx, const json_t *v, const char *path, size_t index,
               spec_album_t *al, const settings_t *defaults, const spec_reftrack_t *def_ref)
{
    al->s = *defaults;
    spec_reftrack_t ref = *def_ref;
    if (!json_is_object (v)) {
        spec_ctx_fail (ctx, path, false,
                       "expected an album object {title, tracks, ...}, got %s",
                       spec_ctx_type_name (v));
        return;
    }
    spec_layer_t layers [] = {
        { &spec_job_album_table, al }, { &spec_settings_album_table, &al->s },
        { &spec_settings_table, &al->s }
    };
    spec_keys_walk (ctx, v, path, layers, 3, NULL, &ref);
    if (!al->title && asprintf (&al->title, "Album %zu", index + 1) < 0) {
        al->title = NULL;
        spec_ctx_fail (ctx, path, false, "out of memory");
    }

    char p [SPEC_PATH_MAX];
    const json_t *tracks = json_object_get (v, "tracks");
    spec_ctx_key_path (p, path, "tracks");
    if (!tracks) {
        spec_ctx_fail (ctx, path, false, "missing 'tracks': an album needs at least one track");
        return;
    }
    if (!json_is_array (tracks)) {
        spec_ctx_fail (ctx, p, false, "expected an array of tracks, got %s",
                       spec_ctx_type_name (tracks));
        return;
    }
    size_t n = json_array_size (tracks);
    if (n == 0) {
        spec_ctx_fail (ctx, p, false, "an album needs at least one track");
        return;
    }
    if (n > SPEC_MAX_TRACKS) {
        spec_ctx_fail (ctx, p, false, "%zu tracks; at most %d per album", n, SPEC_MAX_TRACKS);
        return;
    }
    if (n > 99 && (al->s.profiles & (1u << PROFILE_CD)))
        spec_ctx_fail (ctx, p, false, "%zu tracks; a CD holds at most 99 (Red Book): drop the "
                       "'cd' profile for this album or split it", n);
    al->tracks = calloc (n, sizeof *al->tracks);
    spec_reftrack_t *refs = calloc (n, sizeof *refs);
    if (!al->tracks || !refs) {
        free (refs);
        spec_ctx_fail (ctx, p, false, "out of memory");
        return;
    }
    al->n_tracks = n;
    char tp [SPEC_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        spec_ctx_index_path (tp, p, i);
        s_parse_track (ctx, json_array_get (tracks, i), tp, &al->tracks [i], &al->s,
                       &ref, &refs [i]);
        al->tracks [i].number = (int) i + 1;
    }
    //  references can be resolved now that every track path is known
    s_resolve_reference (ctx, &al->s.tonal, &ref, al, path);
    const tonal_cfg_t *at = &al->s.tonal;
    for (size_t i = 0; i < n; i++) {
        tonal_cfg_t *tt = &al->tracks [i].s.tonal;
        spec_ctx_index_path (tp, p, i);
        if (refs [i].path == ref.path && strcmp (refs [i].where, ref.where) == 0)
            tt->reference_track = at->reference_track;
        else
            s_resolve_reference (ctx, tt, &refs [i], al, path);
        //  one album, one set of references (its plan matches every track to them)
        if (tt->n_refs != at->n_refs
        ||  memcmp (tt->refs, at->refs, (size_t) at->n_refs * sizeof *at->refs) != 0) {
            char kp [SPEC_PATH_MAX];
            spec_ctx_fail (ctx, spec_ctx_key_path (kp, tp, "tonal"), false,
                           "reference files are the album's: give them at the album level "
                           "or in defaults");
        }
    }
    free (refs);
}

//  Fills spec from a parsed JSON root, reporting into ctx.
void
spec_job_parse_root (spec_ctx_t *ctx, const json_t *root, job_spec_t *spec)
{
    if (!json_is_object (root)) {
        spec_ctx_fail (ctx, "$", false,
                       "a job spec is a JSON object {name, defaults, albums}, got %s",
                       spec_ctx_type_name (root));
        return;
    }
    spec_keys_walk (ctx, root, "$", &(spec_layer_t) { &spec_job_top_table, spec }, 1,
                    s_misplaced_at_top, NULL);
    if (spec->deadline_ms && spec->deliver_at_ms && spec->deliver_at_ms > spec->deadline_ms)
        spec_ctx_fail (ctx, "$.deliver_at", false, "deliver_at is after the deadline");

    spec_reftrack_t def_ref = { 0 };
    const json_t *defaults = json_object_get (root, "defaults");
    if (defaults && !json_is_object (defaults))
        spec_ctx_fail (ctx, "$.defaults", false, "expected an object, got %s",
                       spec_ctx_type_name (defaults));
    else
    if (defaults) {
        spec_layer_t layers [] = {
            { &spec_settings_table, &spec->defaults },
            { &spec_settings_album_table, &spec->defaults }
        };
        spec_keys_walk (ctx, defaults, "$.defaults", layers, 2, s_misplaced_in_defaults,
                        &def_ref);
    }

    char p [SPEC_PATH_MAX];
    const json_t *albums = json_object_get (root, "albums");
    if (!albums) {
        spec_ctx_fail (ctx, "$", false, "missing 'albums': a job needs at least one album");
        return;
    }
    if (!json_is_array (albums)) {
        spec_ctx_fail (ctx, "$.albums", false, "expected an array of albums, got %s",
                       spec_ctx_type_name (albums));
        return;
    }
    size_t n = json_array_size (albums);
    if (n == 0) {
        spec_ctx_fail (ctx, "$.albums", false, "a job needs at least one album");
        return;
    }
    spec->albums = calloc (n, sizeof *spec->albums);
    if (!spec->albums) {
        spec_ctx_fail (ctx, "$.albums", false, "out of memory");
        return;
    }
    spec->n_albums = n;
    for (size_t i = 0; i < n; i++) {
        spec_ctx_index_path (p, "$.albums", i);
        s_parse_album (ctx, json_array_get (albums, i), p, i, &spec->albums [i],
                       &spec->defaults, &def_ref);
    }
}
