/*  Job spec parser: the key walker (see spec_keys.h, private to the spec
    parser). One walker reads every object of a spec by its key tables,
    one emitter writes every object of the canonical JSON by the same
    tables, and one pass sets the tables' defaults. The tables are in
    spec_settings.c and spec_job.c.  */
#include "common/spec_keys.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include <jansson.h>

//  KEY_ENUM values are stored as int.
_Static_assert (sizeof (fade_curve_t) == sizeof (int), "enum size");
_Static_assert (sizeof (loudness_policy_t) == sizeof (int), "enum size");
_Static_assert (sizeof (tonal_match_t) == sizeof (int), "enum size");
_Static_assert (sizeof (eq_type_t) == sizeof (int), "enum size");
_Static_assert (sizeof (dynamics_t) == sizeof (int), "enum size");

//  The key named name in table, or NULL.
const spec_key_t *
spec_keys_find (const spec_table_t *table, const char *name)
{
    for (size_t i = 0; i < table->n; i++)
        if (!(table->keys [i].flags & table->skip) && strcmp (table->keys [i].name, name) == 0)
            return &table->keys [i];
    return NULL;
}

//  Reports an unknown key, suggesting the nearest key of the layers.
void
spec_keys_unknown (spec_ctx_t *ctx, const char *path, const char *key,
                   const spec_layer_t *layers, size_t n)
{
    const char *hint = NULL;
    size_t hint_d = SPEC_CTX_SUGGEST_MAX;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < layers [i].table->n; k++)
            if (!(layers [i].table->keys [k].flags & layers [i].table->skip))
                spec_ctx_suggest_step (key, layers [i].table->keys [k].name, &hint, &hint_d);
    if (hint)
        spec_ctx_fail (ctx, path, true, "unknown key '%s'; did you mean '%s'?", key, hint);
    else
        spec_ctx_fail (ctx, path, true, "unknown key '%s'", key);
}

//  Reads one key's value by its row. Returns true when the value was taken.
static bool
s_read_key (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj, const spec_key_t *k,
            void *arg)
{
    void *field = KEY_FIELD (obj, k);
    if (json_is_null (x) && (k->flags & KEY_NULL_KEEPS))
        return false;
    if (json_is_null (x) && (k->flags & KEY_NULL_NAN)) {
        *(double *) field = NAN;
        return false;
    }
    switch (k->type) {
        case KEY_NUM:
            return spec_ctx_get_num (ctx, x, path, k->lo, k->hi, field);
        case KEY_INT:
            return spec_ctx_get_int (ctx, x, path, (long long) k->lo, (long long) k->hi, field);
        case KEY_BOOL:
            return spec_ctx_get_bool (ctx, x, path, field);
        case KEY_ENUM: {
            int i = spec_ctx_get_enum (ctx, x, path, k->names, k->n_names, k->find, k->what);
            if (i >= 0)
                *(int *) field = i;
            return i >= 0;
        }
        case KEY_TEXT:
            return spec_ctx_get_text (ctx, x, path, field);
        case KEY_OBJECT:
            if (!json_is_object (x)) {
                spec_ctx_fail (ctx, path, false, "expected an object%s%s, got %s",
                               k->what ? " " : "", k->what ? k->what : "",
                               spec_ctx_type_name (x));
                return false;
            }
            spec_keys_walk (ctx, x, path, &(spec_layer_t) { k->sub, field }, 1, NULL, arg);
            return true;
        case KEY_CALL:
            k->read (ctx, x, path, obj, k, arg);
            return true;
        case KEY_LATER:
            return false;
    }
    return false;
}

//  Walks object v at path: each key is read by the first layer whose
//  table has it, into that layer's object; a key none has goes to
//  misplaced (may be NULL), then is reported as unknown. Returns the
//  marks of the values taken.
uint32_t
spec_keys_walk (spec_ctx_t *ctx, const json_t *v, const char *path,
                const spec_layer_t *layers, size_t n, spec_misplaced_fn *misplaced,
                void *arg)
{
    uint32_t marks = 0;
    const char *key;
    json_t *x;
    char p [SPEC_PATH_MAX];
    json_object_foreach ((json_t *) v, key, x) {
        spec_ctx_key_path (p, path, key);
        const spec_key_t *k = NULL;
        size_t i = 0;
        while (i < n && !(k = spec_keys_find (layers [i].table, key)))
            i++;
        if (k) {
            if (s_read_key (ctx, x, p, layers [i].obj, k, arg))
                marks |= k->mark;
        }
        else
        if (!misplaced || !misplaced (ctx, p, key))
            spec_keys_unknown (ctx, p, key, layers, n);
    }
    return marks;
}

//  spec_keys_walk of one table over obj, after checking that v is an object.
uint32_t
spec_keys_walk_object (spec_ctx_t *ctx, const json_t *v, const char *path,
                       const spec_table_t *table, void *obj, void *arg)
{
    if (!json_is_object (v)) {
        spec_ctx_fail (ctx, path, false, "expected an object, got %s",
                       spec_ctx_type_name (v));
        return 0;
    }
    return spec_keys_walk (ctx, v, path, &(spec_layer_t) { table, obj }, 1, NULL, arg);
}

//  names[v] as a JSON string, or NULL (noted by spec_keys_set) when v is out of
//  range, as it can be in a spec built by code.
static json_t *
s_enum_json (const char *const *names, int n, int v)
{
    return v >= 0 && v < n ? json_string (names [v]) : NULL;
}

//  Sets key to a new value in obj; a NULL value (out of memory, or a value
//  that cannot be written) is noted in *ok.
void
spec_keys_set (json_t *obj, const char *key, json_t *value, bool *ok)
{
    if (!value || json_object_set_new (obj, key, value) != 0)
        *ok = false;
}

//  Writes the keys of table from obj into the JSON object o, in the
//  table's order (canonical JSON: read back, it gives obj again).
void
spec_keys_emit (json_t *o, const spec_table_t *table, const void *obj, bool *ok)
{
    for (size_t i = 0; i < table->n; i++) {
        const spec_key_t *k = &table->keys [i];
        if ((k->flags & table->skip) || (k->present && !k->present (obj)))
            continue;
        if (k->write) {
            k->write (o, obj, k, ok);
            continue;
        }
        const void *field = KEY_CFIELD (obj, k);
        json_t *v = NULL;
        switch (k->sub ? KEY_OBJECT : k->type == KEY_CALL ? k->out : k->type) {
            case KEY_LATER:
            case KEY_CALL:
                continue;
            case KEY_NUM: {
                double x = *(const double *) field;
                v = isnan (x) && (k->flags & KEY_NULL_NAN) ? json_null () : json_real (x);
                break;
            }
            case KEY_INT:
                v = json_integer (*(const int *) field);
                break;
            case KEY_BOOL:
                v = json_boolean (*(const bool *) field);
                break;
            case KEY_ENUM:
                v = s_enum_json (k->names, k->n_names, *(const int *) field);
                break;
            case KEY_TEXT:
                if (!*(char *const *) field)
                    continue;
                v = json_string (*(char *const *) field);
                break;
            case KEY_OBJECT:
                v = json_object ();
                if (v)
                    spec_keys_emit (v, k->sub, field, ok);
                break;
        }
        spec_keys_set (o, k->name, v, ok);
    }
}

//  Sets every key of table that has a default (and those of its
//  sub-tables) in obj.
void
spec_keys_defaults (const spec_table_t *table, void *obj)
{
    for (size_t i = 0; i < table->n; i++) {
        const spec_key_t *k = &table->keys [i];
        if (k->flags & table->skip)
            continue;
        void *field = KEY_FIELD (obj, k);
        if (k->sub) {
            spec_keys_defaults (k->sub, field);
            continue;
        }
        if (!k->has_def)
            continue;
        switch (k->type == KEY_CALL ? k->out : k->type) {
            case KEY_NUM:  *(double *) field = k->def; break;
            case KEY_INT:  *(int *) field = (int) k->def; break;
            case KEY_BOOL: *(bool *) field = k->def != 0.0; break;
            case KEY_ENUM: *(int *) field = (int) k->def; break;
            default:     assert (!"a default for a key of this type"); break;
        }
    }
}
