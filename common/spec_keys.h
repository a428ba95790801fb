/*  Job spec parser, private: keys by table. Only the spec parser's own
    files include this header; callers use common/spec.h.

    Every object of a spec is read by one walker, spec_keys_walk, from
    tables that describe its keys: the name, how the value is read (a type
    and, for numbers, the range documented in spec.h), where it goes in
    the object the table describes, and a mark the caller gets back when
    the value was taken. Keys that need more than a type (arrays,
    switchable stages, values with their own syntax) name their reader. An
    object may be read by several tables at once (an album: its own keys,
    the album-level settings, the settings every level has); a key none of
    them has is reported where it stands, with the nearest key of those
    tables as a "did you mean". The same tables give the built-in defaults
    (spec_keys_defaults, spec_settings_default) and write the canonical
    JSON (spec_keys_emit, spec_to_json), so that what is read, what is
    assumed and what is written cannot drift apart.

    This module owns the table format (spec_key_t, spec_table_t, the KEY_
    row macros), the documented ranges (R_*) and the machinery that reads,
    defaults and writes by table. The tables themselves live with what
    they describe: spec_settings.h (the settings every level has, the
    chain and its stages) and spec_job.h (the job, album and track
    objects).  */
#ifndef MF_SPEC_KEYS_H
#define MF_SPEC_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/spec.h"
#include "common/spec_ctx.h"

//  Documented ranges (spec.h), as "lo, hi" argument pairs.
#define R_PRIORITY          0, 9
#define R_TARGET_LUFS       -40.0, -5.0
#define R_TRUE_PEAK_DBTP    -20.0, 0.0
#define R_MAX_DEVIATION_LU  0.0, 20.0
#define R_STRENGTH          0.0, 1.0
#define R_TONAL_MAX_DB      0.0, 12.0
#define R_GAP_S             0.0, 60.0
#define R_FADE_S            0.0, 60.0
#define R_CROSSFADE_S       0.0, 30.0
#define R_TRIM_DB           -120.0, -30.0
#define R_HIGHPASS_HZ       5.0, 200.0           //  or 0 (off)
#define R_EQ_FREQ_HZ        10.0, 21600.0        //  0.45 * 48 kHz; the worker re-checks per rate
#define R_EQ_GAIN_DB        -24.0, 24.0
#define R_EQ_Q              0.1, 18.0
#define R_THRESHOLD_DB      -60.0, 0.0
#define R_THRESHOLD_LU      -30.0, 30.0
#define R_RATIO             1.0, 20.0
#define R_ATTACK_MS         0.1, 500.0
#define R_COMP_RELEASE_MS   1.0, 5000.0
#define R_KNEE_DB           0.0, 24.0
#define R_MAKEUP_DB         -24.0, 24.0
#define R_MB_LOW_HZ         40.0, 1000.0
#define R_MB_HIGH_HZ        40.0, 16000.0        //  and above low_hz
#define R_WIDTH             0.0, 2.0
#define R_MONO_BELOW_HZ     0.0, 500.0
#define R_GAIN_DB           -48.0, 48.0
#define R_CEILING_DBTP      -20.0, 0.0
#define R_LOOKAHEAD_MS      0.5, 20.0
#define R_LIM_RELEASE_MS    1.0, 2000.0
#define R_MAX_GR_DB         0.0, 20.0

//  How a key's value is read.
typedef enum {
    KEY_LATER,          //  read by the caller after the walk (and not written)
    KEY_NUM,            //  a number within [lo, hi], into a double
    KEY_INT,            //  an integer within [lo, hi], into an int
    KEY_BOOL,           //  true or false, into a bool
    KEY_ENUM,           //  one of names (or a name find accepts), its index into an enum
    KEY_TEXT,           //  a non-empty single-line string, copied into a char *
    KEY_OBJECT,         //  an object, walked with the key's sub-table
    KEY_CALL            //  the key's own reader
} spec_key_type_t;

#define KEY_NULL_KEEPS  1u          //  null leaves the value as it was
#define KEY_NULL_NAN    2u          //  null sets NAN ("from the profile"), written as null
#define KEY_GLUE_ONLY   4u          //  the glue compressor's, not a multiband band's

typedef struct spec_key_s spec_key_t;
typedef struct spec_table_s spec_table_t;

//  Reads x, the value of key at path, into obj (the object key's table
//  describes); arg is the walk's (spec_keys_walk).
typedef void (spec_read_fn) (spec_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                             const spec_key_t *key, void *arg);

//  Sets key's value from obj into the JSON object o (canonical JSON); a
//  value that cannot be made is noted in *ok.
typedef void (spec_write_fn) (json_t *o, const void *obj, const spec_key_t *key, bool *ok);

struct spec_key_s {
    const char         *name;
    spec_key_type_t     type;
    size_t              offset;     //  of the value in the table's object
    double              lo, hi;     //  KEY_NUM, KEY_INT: the allowed range
    const char *const  *names;      //  KEY_ENUM: the values, by index
    int                 n_names;
    int               (*find) (const char *name);  //  KEY_ENUM: with aliases; NULL: names
    const char         *what;       //  KEY_ENUM: what a value is ("value" when NULL);
                                    //  KEY_OBJECT: its keys, shown when it is not an object
    const spec_table_t *sub;        //  KEY_OBJECT: its keys; KEY_CALL: written as an
                                    //  object of these keys
    unsigned            flags;      //  KEY_NULL_*, KEY_GLUE_ONLY
    uint32_t            mark;       //  ORed into spec_keys_walk's result when the value
                                    //  was taken
    spec_read_fn       *read;       //  KEY_CALL
    spec_key_type_t     out;        //  KEY_CALL: written as this type (KEY_LATER: not written)
    spec_write_fn      *write;      //  written by this instead
    bool              (*present) (const void *obj);  //  written only when true; NULL: always
    bool                has_def;    //  def is the value when no level gives the key
    double              def;        //  (KEY_NUM, KEY_INT, KEY_BOOL, KEY_ENUM, as the type
                                    //  it is read or written as)
};

struct spec_table_s {
    const spec_key_t *keys;
    size_t            n;
    unsigned          skip;         //  rows with any of these flags are not in the table
};

//  A table and the object it fills, in one spec_keys_walk.
typedef struct {
    const spec_table_t *table;
    void               *obj;
} spec_layer_t;

//  Reports a key that belongs elsewhere (true), or leaves it to be
//  reported as unknown (false).
typedef bool (spec_misplaced_fn) (spec_ctx_t *ctx, const char *path, const char *key);

//  Table rows: where the value goes, its range, a table of a keys array.
#define KEY_AT(type, field)   .offset = offsetof (type, field)
#define KEY_RANGE(...)        KEY_RANGE_ (__VA_ARGS__)
#define KEY_RANGE_(l, h)      .lo = (l), .hi = (h)
#define KEY_TABLE(keys)       { keys, sizeof keys / sizeof keys [0], 0 }
#define KEY_DEF(v)            .has_def = true, .def = (v)
#define KEY_FIELD(obj, key)   ((void *) ((char *) (obj) + (key)->offset))
#define KEY_CFIELD(obj, key)  ((const void *) ((const char *) (obj) + (key)->offset))

//  The key named name in table, or NULL.
const spec_key_t *spec_keys_find (const spec_table_t *table, const char *name);

//  Reports an unknown key, suggesting the nearest key of the layers.
void spec_keys_unknown (spec_ctx_t *ctx, const char *path, const char *key,
                        const spec_layer_t *layers, size_t n);

//  Walks object v at path: each key is read by the first layer whose
//  table has it, into that layer's object; a key none has goes to
//  misplaced (may be NULL), then is reported as unknown. arg goes to the
//  keys' readers. Returns the marks of the values taken.
uint32_t spec_keys_walk (spec_ctx_t *ctx, const json_t *v, const char *path,
                         const spec_layer_t *layers, size_t n,
                         spec_misplaced_fn *misplaced, void *arg);

//  spec_keys_walk of one table over obj, after checking that v is an
//  object (reported when not; 0 marks).
uint32_t spec_keys_walk_object (spec_ctx_t *ctx, const json_t *v, const char *path,
                                const spec_table_t *table, void *obj, void *arg);

//  Sets key to a new value in obj; a NULL value (out of memory, or a value
//  that cannot be written) is noted in *ok.
void spec_keys_set (json_t *obj, const char *key, json_t *value, bool *ok);

//  Writes the keys of table from obj into the JSON object o, in the
//  table's order (canonical JSON: read back, it gives obj again); a
//  value that cannot be written is noted in *ok.
void spec_keys_emit (json_t *o, const spec_table_t *table, const void *obj, bool *ok);

//  Sets every key of table that has a default (and those of its
//  sub-tables) in obj.
void spec_keys_defaults (const spec_table_t *table, void *obj);

#endif
