/*  Job spec parser: JSON (jansson) and CSV catalogs into job_spec_t, with
    settings resolved level by level and every value validated.

    Resolution. Settings start from spec_settings_default; the "defaults"
    object is applied over them, each album's keys over the resolved
    defaults, each track's keys over its album's. Applying an object
    changes only the keys it names, recursively ("loudness",
    "chain.compressor" and the rest merge key by key); arrays ("profiles",
    "chain.eq") replace the whole list. Since each object is applied once,
    each mistake is reported once, at the JSON path where it was written.

    Validation. Every key is checked against the keys allowed where it
    stands (with a "did you mean" for near misses), every value against its
    type and the range documented in spec.h, and the spec as a whole for
    what only shows once it is resolved (a reference track that does not
    exist, deliver_at after the deadline). Parsing never stops at the first
    error.

    Positions. jansson gives line and column for syntax errors only; for
    the others a light second scan of the (known valid) text builds a
    sorted index from JSON path to the line and column of each key and
    value. The index is built on the first error only, so a clean spec
    costs nothing extra. Columns count bytes from 1.

    CSV. RFC 4180 records (quoted fields, doubled quotes, CRLF or LF, line
    breaks inside quotes); the header names the columns, in any order.
    Errors name "line N, column <name>".  */
#include "common/spec.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/fsutil.h"

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

#define SPEC_DEFAULT_PRIORITY  5
#define SPEC_PATH_MAX          512               //  bytes of a JSON path we build
#define SPEC_FILE_MAX          (64u << 20)       //  largest spec file spec_load reads

//  Names of enumerations, indexed by value.
static const char *const s_fade_names [] =
    { "linear", "exponential", "logarithmic", "s_curve", "equal_power" };
static const char *const s_policy_names [] = { "track", "album", "loudest", "hybrid" };
static const char *const s_match_names [] = { "off", "album", "reference" };
static const char *const s_eq_names [] =
    { "peak", "lowshelf", "highshelf", "highpass", "lowpass" };
static const char *const s_dynamics_names [DYN_COUNT] =
    { "none", "gentle", "standard", "punchy" };
static const char *const s_partial_names [] = { "hold", "deliver" };

//  The columns of a CSV catalog (the keys of the JSON objects are in
//  tables, below).
static const char *const s_csv_columns [] =
    { "album", "track", "path", "title", "artist", "isrc", "gap_s", "fade_in_s",
      "fade_out_s", NULL };
static const char *const s_mb_band_names [3] = { "low", "mid", "high" };

// ---------------------------------------------------------------------------
//  Errors

//  Appends an error with a preformatted va_list message.
static int
s_errors_addv (spec_errors_t *errs, const char *path, int line, int column,
               const char *fmt, va_list ap)
{
    if (!errs)
        return 0;
    if (errs->n == errs->cap) {
        size_t cap = errs->cap ? errs->cap * 2 : 8;
        spec_error_t *items = realloc (errs->items, cap * sizeof *items);
        if (!items)
            return MF_ERR_NOMEM;
        errs->items = items;
        errs->cap = cap;
    }
    char *message = NULL;
    if (vasprintf (&message, fmt, ap) < 0)
        return MF_ERR_NOMEM;
    char *p = strdup (path ? path : "$");
    if (!p) {
        free (message);
        return MF_ERR_NOMEM;
    }
    spec_error_t *e = &errs->items [errs->n++];
    e->path = p;
    e->line = line;
    e->column = column;
    e->message = message;
    return 0;
}

//  Appends one error; returns 0 or MF_ERR_NOMEM (the error is then lost).
int
spec_errors_add (spec_errors_t *errs, const char *path, int line, int column,
                 const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int rc = s_errors_addv (errs, path, line, column, fmt, ap);
    va_end (ap);
    return rc;
}

//  Frees every error and leaves the list empty and reusable.
void
spec_errors_clear (spec_errors_t *errs)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->n; i++) {
        free (errs->items [i].path);
        free (errs->items [i].message);
    }
    free (errs->items);
    errs->items = NULL;
    errs->n = errs->cap = 0;
}

//  Prints one line per error, path first, position in parentheses.
void
spec_errors_print (const spec_errors_t *errs, const char *origin, FILE *out)
{
    for (size_t i = 0; errs && i < errs->n; i++) {
        const spec_error_t *e = &errs->items [i];
        const char *o = origin ? origin : "spec";
        const char *m = e->message;
        size_t n = strlen (o);
        if (strncmp (m, o, n) == 0 && m [n] == ':' && m [n + 1] == ' ')
            m += n + 2;                 //  the message already names the origin
        if (e->line > 0 && strncmp (e->path, "line ", 5) != 0)
            fprintf (out, "%s: %s: %s (line %d, column %d)\n", o, e->path, m,
                     e->line, e->column);
        else
            fprintf (out, "%s: %s: %s\n", o, e->path, m);
    }
}

// ---------------------------------------------------------------------------
//  Position index: JSON path -> line/column of the key and of the value

typedef struct {
    char *path;
    int   key_line, key_col;         //  0 for array elements and the root
    int   val_line, val_col;
} s_pos_t;

typedef struct {
    const char *text, *p, *end;
    const char *line_start;
    int         line;
    s_pos_t    *items;
    size_t      n, cap;
    bool        failed;              //  out of memory: positions stay unknown
} s_walk_t;

#define S_WALK_MAX_DEPTH  32         //  deeper values are skipped, not indexed

//  Skips blanks, counting lines.
static void
s_walk_ws (s_walk_t *w)
{
    while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' || *w->p == '\n' || *w->p == '\r')) {
        if (*w->p == '\n') {
            w->line++;
            w->line_start = w->p + 1;
        }
        w->p++;
    }
}

//  Skips a string starting at its opening quote.
static void
s_walk_string (s_walk_t *w)
{
    w->p++;
    while (w->p < w->end && *w->p != '"') {
        if (*w->p == '\\' && w->p + 1 < w->end)
            w->p++;
        w->p++;
    }
    if (w->p < w->end)
        w->p++;
}

//  Skips any value without indexing it (used below the depth limit).
static void
s_walk_skip (s_walk_t *w)
{
    int depth = 0;
    do {
        s_walk_ws (w);
        if (w->p >= w->end)
            return;
        char c = *w->p;
        if (c == '"')
            s_walk_string (w);
        else {
            if (c == '{' || c == '[')
                depth++;
            else
            if (c == '}' || c == ']')
                depth--;
            w->p++;
        }
    } while (depth > 0);
}

//  Records one path with its key and value positions.
static void
s_walk_add (s_walk_t *w, const char *path, int kl, int kc)
{
    if (w->failed)
        return;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        s_pos_t *items = realloc (w->items, cap * sizeof *items);
        if (!items) {
            w->failed = true;
            return;
        }
        w->items = items;
        w->cap = cap;
    }
    char *copy = strdup (path);
    if (!copy) {
        w->failed = true;
        return;
    }
    s_pos_t *e = &w->items [w->n++];
    e->path = copy;
    e->key_line = kl;
    e->key_col = kc;
    e->val_line = w->line;
    e->val_col = (int) (w->p - w->line_start) + 1;
}

//  Indexes the value at w->p (already recorded by the caller) and its children.
//  Ends on any input: each step of a loop moves w->p forward or stops.
static void
s_walk_value (s_walk_t *w, char *path, size_t path_len, int depth)
{
    if (w->p >= w->end)
        return;
    if (depth >= S_WALK_MAX_DEPTH) {
        s_walk_skip (w);
        return;
    }
    char c = *w->p;
    if (c == '{') {
        w->p++;
        for (;;) {
            s_walk_ws (w);
            if (w->p >= w->end || *w->p == '}')
                break;
            if (*w->p == ',') {
                w->p++;
                continue;
            }
            if (*w->p != '"')
                return;                  //  not JSON after all: stop indexing
            int kl = w->line, kc = (int) (w->p - w->line_start) + 1;
            const char *k0 = w->p + 1;
            s_walk_string (w);
            size_t klen = (size_t) (w->p - k0 - 1);
            s_walk_ws (w);
            if (w->p < w->end && *w->p == ':')
                w->p++;
            s_walk_ws (w);
            int wrote = snprintf (path + path_len, SPEC_PATH_MAX - path_len, ".%.*s",
                                  (int) klen, k0);
            size_t child = path_len + (wrote > 0 ? (size_t) wrote : 0);
            if (child >= SPEC_PATH_MAX)
                child = SPEC_PATH_MAX - 1;
            s_walk_add (w, path, kl, kc);
            s_walk_value (w, path, child, depth + 1);
            path [path_len] = '\0';
        }
        if (w->p < w->end)
            w->p++;
    }
    else
    if (c == '[') {
        w->p++;
        for (size_t i = 0;; ) {
            s_walk_ws (w);
            if (w->p >= w->end || *w->p == ']')
                break;
            if (*w->p == ',') {
                w->p++;
                continue;
            }
            int wrote = snprintf (path + path_len, SPEC_PATH_MAX - path_len, "[%zu]", i++);
            size_t child = path_len + (wrote > 0 ? (size_t) wrote : 0);
            if (child >= SPEC_PATH_MAX)
                child = SPEC_PATH_MAX - 1;
            const char *before = w->p;
            s_walk_add (w, path, 0, 0);
            s_walk_value (w, path, child, depth + 1);
            path [path_len] = '\0';
            if (w->p == before)
                return;                  //  no value here ('[}'): stop indexing
        }
        if (w->p < w->end)
            w->p++;
    }
    else
    if (c == '"')
        s_walk_string (w);
    else                                 //  a NUL byte is no delimiter: skip it too
        while (w->p < w->end && (*w->p == '\0' || !strchr (",}] \t\r\n", *w->p)))
            w->p++;
}

//  Orders index entries by path.
static int
s_pos_cmp (const void *a, const void *b)
{
    return strcmp (((const s_pos_t *) a)->path, ((const s_pos_t *) b)->path);
}

// ---------------------------------------------------------------------------
//  Parse context

typedef struct {
    spec_errors_t *errs;
    const char    *text;             //  JSON source, for positions (NULL: none)
    size_t         len;
    s_pos_t       *pos;              //  sorted; built on the first error
    size_t         n_pos;
    bool           pos_built;
    size_t         n_errors;         //  errors added by this parse
} s_ctx_t;

//  A reference_track given as a path, waiting for its album's track list.
typedef struct {
    const char *path;                //  borrowed from the JSON tree; NULL: none
    char        where [SPEC_PATH_MAX];
} s_ref_t;

//  Builds the position index once.
static void
s_ctx_index (s_ctx_t *ctx)
{
    if (ctx->pos_built || !ctx->text)
        return;
    ctx->pos_built = true;
    s_walk_t w = { .text = ctx->text, .p = ctx->text, .end = ctx->text + ctx->len,
                   .line_start = ctx->text, .line = 1 };
    char path [SPEC_PATH_MAX] = "$";
    s_walk_ws (&w);
    s_walk_add (&w, path, 0, 0);
    s_walk_value (&w, path, 1, 0);
    qsort (w.items, w.n, sizeof *w.items, s_pos_cmp);
    ctx->pos = w.items;
    ctx->n_pos = w.n;
}

//  Adds an error at a JSON path, with the position of the value (or of
//  the key when at_key) if the index knows it.
static void
s_fail (s_ctx_t *ctx, const char *path, bool at_key, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_fail (s_ctx_t *ctx, const char *path, bool at_key, const char *fmt, ...)
{
    s_ctx_index (ctx);
    int line = 0, col = 0;
    if (ctx->pos) {
        s_pos_t key = { .path = (char *) path };
        s_pos_t *hit = bsearch (&key, ctx->pos, ctx->n_pos, sizeof key, s_pos_cmp);
        if (hit) {
            line = at_key && hit->key_line ? hit->key_line : hit->val_line;
            col = at_key && hit->key_line ? hit->key_col : hit->val_col;
        }
    }
    va_list ap;
    va_start (ap, fmt);
    s_errors_addv (ctx->errs, path, line, col, fmt, ap);
    va_end (ap);
    ctx->n_errors++;
}

//  Frees the position index.
static void
s_ctx_free (s_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->n_pos; i++)
        free (ctx->pos [i].path);
    free (ctx->pos);
    ctx->pos = NULL;
    ctx->n_pos = 0;
}

//  Writes parent + "." + key into buf.
static const char *
s_key_path (char *buf, const char *parent, const char *key)
{
    if (snprintf (buf, SPEC_PATH_MAX, "%s.%s", parent, key) >= SPEC_PATH_MAX)
        buf [SPEC_PATH_MAX - 2] = '~';        //  truncated: mark it, still a usable path
    return buf;
}

//  Writes parent + "[i]" into buf.
static const char *
s_index_path (char *buf, const char *parent, size_t i)
{
    if (snprintf (buf, SPEC_PATH_MAX, "%s[%zu]", parent, i) >= SPEC_PATH_MAX)
        buf [SPEC_PATH_MAX - 2] = '~';
    return buf;
}

//  Levenshtein distance of two short strings (longer ones count as far).
static size_t
s_edit_distance (const char *a, const char *b)
{
    size_t la = strlen (a), lb = strlen (b);
    if (la > 63 || lb > 63)
        return 99;
    size_t row [64];
    for (size_t j = 0; j <= lb; j++)
        row [j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row [0];
        row [0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row [j];
            size_t cost = tolower ((unsigned char) a [i - 1]) == tolower ((unsigned char) b [j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row [j - 1] + 1 < best)
                best = row [j - 1] + 1;
            row [j] = best;
            diag = up;
        }
    }
    return row [lb];
}

#define S_SUGGEST_MAX  3          //  a suggestion is nearer than this

//  One step of looking for the allowed key nearest to key: name replaces
//  *best when it is nearer than *best_d (start at S_SUGGEST_MAX) and than
//  half its own length.
static void
s_suggest_step (const char *key, const char *name, const char **best, size_t *best_d)
{
    size_t d = s_edit_distance (key, name);
    if (d < *best_d && d * 2 < strlen (name)) {
        *best = name;
        *best_d = d;
    }
}

//  A short name of a JSON value's type, for messages.
static const char *
s_type_name (const json_t *v)
{
    switch (json_typeof (v)) {
        case JSON_OBJECT:  return "an object";
        case JSON_ARRAY:   return "an array";
        case JSON_STRING:  return "a string";
        case JSON_INTEGER: return "an integer";
        case JSON_REAL:    return "a number";
        case JSON_TRUE:    return "true";
        case JSON_FALSE:   return "false";
        default:           return "null";
    }
}

//  Reads a number within [lo, hi]. Returns true and sets *out, or reports.
static bool
s_get_num (s_ctx_t *ctx, const json_t *v, const char *path, double lo, double hi,
           double *out)
{
    if (!json_is_number (v)) {
        s_fail (ctx, path, false, "expected a number from %g to %g, got %s", lo, hi,
                s_type_name (v));
        return false;
    }
    double x = json_number_value (v);
    if (!(x >= lo && x <= hi)) {
        s_fail (ctx, path, false, "%g is out of range; allowed %g .. %g", x, lo, hi);
        return false;
    }
    *out = x;
    return true;
}

//  Reads an integer within [lo, hi]. Returns true and sets *out, or reports.
static bool
s_get_int (s_ctx_t *ctx, const json_t *v, const char *path, long long lo, long long hi,
           int *out)
{
    if (!json_is_integer (v)) {
        s_fail (ctx, path, false, "expected an integer from %lld to %lld, got %s", lo, hi,
                s_type_name (v));
        return false;
    }
    long long x = json_integer_value (v);
    if (x < lo || x > hi) {
        s_fail (ctx, path, false, "%lld is out of range; allowed %lld .. %lld", x, lo, hi);
        return false;
    }
    *out = (int) x;
    return true;
}

//  Reads a boolean. Returns true and sets *out, or reports.
static bool
s_get_bool (s_ctx_t *ctx, const json_t *v, const char *path, bool *out)
{
    if (!json_is_boolean (v)) {
        s_fail (ctx, path, false, "expected true or false, got %s", s_type_name (v));
        return false;
    }
    *out = json_is_true (v);
    return true;
}

//  Reads a string. Returns it (owned by the tree) or NULL after reporting.
static const char *
s_get_str (s_ctx_t *ctx, const json_t *v, const char *path)
{
    if (!json_is_string (v)) {
        s_fail (ctx, path, false, "expected a string, got %s", s_type_name (v));
        return NULL;
    }
    return json_string_value (v);
}

//  Index of name in names (n of them), or -1.
static int
s_enum_find (const char *name, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp (name, names [i]) == 0)
            return i;
    return -1;
}

//  Reads one of names (find, when given, also knows aliases); reports the
//  allowed list otherwise, calling a value what ("value" when NULL).
//  Returns the index or -1.
static int
s_get_enum (s_ctx_t *ctx, const json_t *v, const char *path, const char *const *names,
            int n, int (*find) (const char *name), const char *what)
{
    const char *s = s_get_str (ctx, v, path);
    if (!s)
        return -1;
    int i = find ? find (s) : s_enum_find (s, names, n);
    if (i < 0) {
        char allowed [256] = "";
        for (int k = 0; k < n; k++) {
            strcat (allowed, k ? ", " : "");
            strcat (allowed, names [k]);
        }
        s_fail (ctx, path, false, "unknown %s '%s'; allowed: %s", what ? what : "value", s,
                allowed);
    }
    return i;
}

//  True if the text has a control character (titles end up in CUE sheets and tags).
static bool
s_has_control (const char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

//  Reads a non-empty single-line text into a new string (*out, replacing).
//  Returns true, or false after reporting.
static bool
s_get_text (s_ctx_t *ctx, const json_t *v, const char *path, char **out)
{
    const char *s = s_get_str (ctx, v, path);
    if (!s)
        return false;
    if (!*s) {
        s_fail (ctx, path, false, "must not be empty");
        return false;
    }
    if (s_has_control (s)) {
        s_fail (ctx, path, false, "must not contain control characters (line breaks, tabs)");
        return false;
    }
    char *copy = strdup (s);
    if (!copy) {
        s_fail (ctx, path, false, "out of memory");
        return false;
    }
    free (*out);
    *out = copy;
    return true;
}

// ---------------------------------------------------------------------------
//  Values with their own syntax

//  Normalises an ISRC (dashes removed, upper case) into out (13 bytes).
//  Returns true if it is CC XXX YY NNNNN: 2 letters, 3 letters or digits,
//  2 digits, 5 digits.
static bool
s_isrc_normalise (const char *in, char out [13])
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

bool
spec_isrc_normalise (const char *in, char out [13])
{
    return s_isrc_normalise (in, out);
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

//  A fade curve by name ("s-curve" also accepted). Returns -1 if unknown.
static int
s_fade_find (const char *name)
{
    if (strcmp (name, "s-curve") == 0)
        return FADE_SCURVE;
    return s_enum_find (name, s_fade_names, 5);
}

//  An EQ band type by name ("low_shelf"/"high_shelf" also accepted). -1 if unknown.
static int
s_eq_find (const char *name)
{
    if (strcmp (name, "low_shelf") == 0)
        return EQ_LOWSHELF;
    if (strcmp (name, "high_shelf") == 0)
        return EQ_HIGHSHELF;
    return s_enum_find (name, s_eq_names, 5);
}

// ---------------------------------------------------------------------------
//  Defaults

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

const char *
spec_dynamics_name (dynamics_t d)
{
    return (int) d >= 0 && d < DYN_COUNT ? s_dynamics_names [d] : "?";
}

int
spec_dynamics_find (const char *name)
{
    return name ? s_enum_find (name, s_dynamics_names, DYN_COUNT) : -1;
}

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
//  Keys, by table

/*  Every object of a spec is read by one walker, s_walk, from tables that
    describe its keys: the name, how the value is read (a type and, for
    numbers, the range documented in spec.h), where it goes in the object
    the table describes, and a mark the caller gets back when the value
    was taken. Keys that need more than a type (arrays, switchable stages,
    values with their own syntax) name their reader. An object may be read
    by several tables at once (an album: its own keys, the album-level
    settings, the settings every level has); a key none of them has is
    reported where it stands, with the nearest key of those tables as a
    "did you mean". The same tables give the built-in defaults (s_defaults,
    spec_settings_default) and write the canonical JSON (s_emit,
    spec_to_json), so that what is read, what is assumed and what is
    written cannot drift apart.  */

//  How a key's value is read.
typedef enum {
    S_LATER,            //  read by the caller after the walk (and not written)
    S_NUM,              //  a number within [lo, hi], into a double
    S_INT,              //  an integer within [lo, hi], into an int
    S_BOOL,             //  true or false, into a bool
    S_ENUM,             //  one of names (or a name find accepts), its index into an enum
    S_TEXT,             //  a non-empty single-line string, copied into a char *
    S_OBJECT,           //  an object, walked with the key's sub-table
    S_CALL              //  the key's own reader
} s_type_t;

#define S_NULL_KEEPS  1u            //  null leaves the value as it was
#define S_NULL_NAN    2u            //  null sets NAN ("from the profile"), written as null
#define S_GLUE_ONLY   4u            //  the glue compressor's, not a multiband band's

typedef struct s_key_s s_key_t;
typedef struct s_table_s s_table_t;

//  Reads x, the value of key at path, into obj (the object key's table
//  describes); arg is the walk's (s_walk).
typedef void (s_read_fn) (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                          const s_key_t *key, void *arg);

//  Sets key's value from obj into the JSON object o (canonical JSON); a
//  value that cannot be made is noted in *ok.
typedef void (s_write_fn) (json_t *o, const void *obj, const s_key_t *key, bool *ok);

struct s_key_s {
    const char        *name;
    s_type_t           type;
    size_t             offset;      //  of the value in the table's object
    double             lo, hi;      //  S_NUM, S_INT: the allowed range
    const char *const *names;       //  S_ENUM: the values, by index
    int                n_names;
    int              (*find) (const char *name);  //  S_ENUM: with aliases; NULL: names
    const char        *what;        //  S_ENUM: what a value is ("value" when NULL);
                                    //  S_OBJECT: its keys, shown when it is not an object
    const s_table_t   *sub;         //  S_OBJECT: its keys; S_CALL: written as an
                                    //  object of these keys
    unsigned           flags;       //  S_NULL_*, S_GLUE_ONLY
    uint32_t           mark;        //  ORed into s_walk's result when the value was taken
    s_read_fn         *read;        //  S_CALL
    s_type_t           out;         //  S_CALL: written as this type (S_LATER: not written)
    s_write_fn        *write;       //  written by this instead
    bool             (*present) (const void *obj);  //  written only when true; NULL: always
    bool               has_def;     //  def is the value when no level gives the key
    double             def;         //  (S_NUM, S_INT, S_BOOL, S_ENUM, as the type
                                    //  it is read or written as)
};

struct s_table_s {
    const s_key_t *keys;
    size_t         n;
    unsigned       skip;            //  rows with any of these flags are not in the table
};

//  A table and the object it fills, in one s_walk.
typedef struct {
    const s_table_t *table;
    void            *obj;
} s_layer_t;

//  Reports a key that belongs elsewhere (true), or leaves it to be
//  reported as unknown (false).
typedef bool (s_misplaced_fn) (s_ctx_t *ctx, const char *path, const char *key);

//  Table rows: where the value goes, its range, a table of a keys array.
#define S_AT(type, field)   .offset = offsetof (type, field)
#define S_RANGE(...)        S_RANGE_ (__VA_ARGS__)
#define S_RANGE_(l, h)      .lo = (l), .hi = (h)
#define S_TABLE(keys)       { keys, sizeof keys / sizeof keys [0], 0 }
#define S_DEF(v)            .has_def = true, .def = (v)
#define S_FIELD(obj, key)   ((void *) ((char *) (obj) + (key)->offset))
#define S_CFIELD(obj, key)  ((const void *) ((const char *) (obj) + (key)->offset))

//  Marks beyond SPEC_COMP_*: which threshold, crossovers, loudness given.
#define S_MARK_ABSOLUTE   (1u << 27)
#define S_MARK_RELATIVE   (1u << 28)
#define S_MARK_CROSSOVER  (1u << 29)
#define S_MARK_TARGET     (1u << 30)
#define S_MARK_PEAK       (1u << 31)

//  S_ENUM values are stored as int.
_Static_assert (sizeof (fade_curve_t) == sizeof (int), "enum size");
_Static_assert (sizeof (loudness_policy_t) == sizeof (int), "enum size");
_Static_assert (sizeof (tonal_match_t) == sizeof (int), "enum size");
_Static_assert (sizeof (eq_type_t) == sizeof (int), "enum size");
_Static_assert (sizeof (dynamics_t) == sizeof (int), "enum size");

//  The key named name in table, or NULL.
static const s_key_t *
s_table_find (const s_table_t *table, const char *name)
{
    for (size_t i = 0; i < table->n; i++)
        if (!(table->keys [i].flags & table->skip) && strcmp (table->keys [i].name, name) == 0)
            return &table->keys [i];
    return NULL;
}

//  Reports an unknown key, suggesting the nearest key of the layers.
static void
s_unknown_key (s_ctx_t *ctx, const char *path, const char *key, const s_layer_t *layers,
               size_t n)
{
    const char *hint = NULL;
    size_t hint_d = S_SUGGEST_MAX;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < layers [i].table->n; k++)
            if (!(layers [i].table->keys [k].flags & layers [i].table->skip))
                s_suggest_step (key, layers [i].table->keys [k].name, &hint, &hint_d);
    if (hint)
        s_fail (ctx, path, true, "unknown key '%s'; did you mean '%s'?", key, hint);
    else
        s_fail (ctx, path, true, "unknown key '%s'", key);
}

static uint32_t s_walk (s_ctx_t *ctx, const json_t *v, const char *path,
                        const s_layer_t *layers, size_t n, s_misplaced_fn *misplaced,
                        void *arg);

//  Reads one key's value by its row. Returns true when the value was taken.
static bool
s_read_key (s_ctx_t *ctx, const json_t *x, const char *path, void *obj, const s_key_t *k,
            void *arg)
{
    void *field = S_FIELD (obj, k);
    if (json_is_null (x) && (k->flags & S_NULL_KEEPS))
        return false;
    if (json_is_null (x) && (k->flags & S_NULL_NAN)) {
        *(double *) field = NAN;
        return false;
    }
    switch (k->type) {
        case S_NUM:
            return s_get_num (ctx, x, path, k->lo, k->hi, field);
        case S_INT:
            return s_get_int (ctx, x, path, (long long) k->lo, (long long) k->hi, field);
        case S_BOOL:
            return s_get_bool (ctx, x, path, field);
        case S_ENUM: {
            int i = s_get_enum (ctx, x, path, k->names, k->n_names, k->find, k->what);
            if (i >= 0)
                *(int *) field = i;
            return i >= 0;
        }
        case S_TEXT:
            return s_get_text (ctx, x, path, field);
        case S_OBJECT:
            if (!json_is_object (x)) {
                s_fail (ctx, path, false, "expected an object%s%s, got %s",
                        k->what ? " " : "", k->what ? k->what : "", s_type_name (x));
                return false;
            }
            s_walk (ctx, x, path, &(s_layer_t) { k->sub, field }, 1, NULL, arg);
            return true;
        case S_CALL:
            k->read (ctx, x, path, obj, k, arg);
            return true;
        case S_LATER:
            return false;
    }
    return false;
}

//  Walks object v at path: each key is read by the first layer whose
//  table has it, into that layer's object; a key none has goes to
//  misplaced (may be NULL), then is reported as unknown. Returns the
//  marks of the values taken.
static uint32_t
s_walk (s_ctx_t *ctx, const json_t *v, const char *path, const s_layer_t *layers, size_t n,
        s_misplaced_fn *misplaced, void *arg)
{
    uint32_t marks = 0;
    const char *key;
    json_t *x;
    char p [SPEC_PATH_MAX];
    json_object_foreach ((json_t *) v, key, x) {
        s_key_path (p, path, key);
        const s_key_t *k = NULL;
        size_t i = 0;
        while (i < n && !(k = s_table_find (layers [i].table, key)))
            i++;
        if (k) {
            if (s_read_key (ctx, x, p, layers [i].obj, k, arg))
                marks |= k->mark;
        }
        else
        if (!misplaced || !misplaced (ctx, p, key))
            s_unknown_key (ctx, p, key, layers, n);
    }
    return marks;
}

//  s_walk of one table over obj, after checking that v is an object.
static uint32_t
s_walk_object (s_ctx_t *ctx, const json_t *v, const char *path, const s_table_t *table,
               void *obj, void *arg)
{
    if (!json_is_object (v)) {
        s_fail (ctx, path, false, "expected an object, got %s", s_type_name (v));
        return 0;
    }
    return s_walk (ctx, v, path, &(s_layer_t) { table, obj }, 1, NULL, arg);
}

//  names[v] as a JSON string, or NULL (noted by s_set) when v is out of
//  range, as it can be in a spec built by code.
static json_t *
s_enum_json (const char *const *names, int n, int v)
{
    return v >= 0 && v < n ? json_string (names [v]) : NULL;
}

//  Sets key to a new value in obj; a NULL value (out of memory, or a value
//  that cannot be written) is noted in *ok.
static void
s_set (json_t *obj, const char *key, json_t *value, bool *ok)
{
    if (!value || json_object_set_new (obj, key, value) != 0)
        *ok = false;
}

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

//  Writes the keys of table from obj into the JSON object o, in the
//  table's order (canonical JSON: read back, it gives obj again).
static void
s_emit (json_t *o, const s_table_t *table, const void *obj, bool *ok)
{
    for (size_t i = 0; i < table->n; i++) {
        const s_key_t *k = &table->keys [i];
        if ((k->flags & table->skip) || (k->present && !k->present (obj)))
            continue;
        if (k->write) {
            k->write (o, obj, k, ok);
            continue;
        }
        const void *field = S_CFIELD (obj, k);
        json_t *v = NULL;
        switch (k->sub ? S_OBJECT : k->type == S_CALL ? k->out : k->type) {
            case S_LATER:
            case S_CALL:
                continue;
            case S_NUM: {
                double x = *(const double *) field;
                v = isnan (x) && (k->flags & S_NULL_NAN) ? json_null () : json_real (x);
                break;
            }
            case S_INT:
                v = json_integer (*(const int *) field);
                break;
            case S_BOOL:
                v = json_boolean (*(const bool *) field);
                break;
            case S_ENUM:
                v = s_enum_json (k->names, k->n_names, *(const int *) field);
                break;
            case S_TEXT:
                if (!*(char *const *) field)
                    continue;
                v = json_string (*(char *const *) field);
                break;
            case S_OBJECT:
                v = json_object ();
                if (v)
                    s_emit (v, k->sub, field, ok);
                break;
        }
        s_set (o, k->name, v, ok);
    }
}

//  Sets every key of table that has a default (and those of its
//  sub-tables) in obj.
static void
s_defaults (const s_table_t *table, void *obj)
{
    for (size_t i = 0; i < table->n; i++) {
        const s_key_t *k = &table->keys [i];
        if (k->flags & table->skip)
            continue;
        void *field = S_FIELD (obj, k);
        if (k->sub) {
            s_defaults (k->sub, field);
            continue;
        }
        if (!k->has_def)
            continue;
        switch (k->type == S_CALL ? k->out : k->type) {
            case S_NUM:  *(double *) field = k->def; break;
            case S_INT:  *(int *) field = (int) k->def; break;
            case S_BOOL: *(bool *) field = k->def != 0.0; break;
            case S_ENUM: *(int *) field = (int) k->def; break;
            default:     assert (!"a default for a key of this type"); break;
        }
    }
}

// ---------------------------------------------------------------------------
//  Settings: the chain and its stages, loudness, tonal match

//  The common head of a switchable stage: null/false disable it, true
//  enables it, an object enables it and returns true so the caller merges
//  its keys; anything else is an error. Returns true only for an object.
static bool
s_apply_switch (s_ctx_t *ctx, const json_t *v, const char *path, bool *enabled)
{
    if (json_is_null (v) || json_is_boolean (v)) {
        *enabled = json_is_true (v);
        return false;
    }
    if (!json_is_object (v)) {
        s_fail (ctx, path, false, "expected an object, true, false or null, got %s",
                s_type_name (v));
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
static const s_key_t s_comp_keys [] = {
    { "enabled",      S_BOOL, S_AT (comp_cfg_t, enabled) },
    { "threshold_db", S_NUM,  S_AT (comp_cfg_t, threshold_db), S_RANGE (R_THRESHOLD_DB),
                      .mark = SPEC_COMP_THRESHOLD | S_MARK_ABSOLUTE, .present = s_is_absolute },
    { "threshold_lu", S_NUM,  S_AT (comp_cfg_t, threshold_lu), S_RANGE (R_THRESHOLD_LU),
                      .mark = SPEC_COMP_THRESHOLD | S_MARK_RELATIVE, .present = s_is_relative,
                      .flags = S_GLUE_ONLY },
    { "ratio",        S_NUM,  S_AT (comp_cfg_t, ratio), S_RANGE (R_RATIO),
                      .mark = SPEC_COMP_RATIO },
    { "attack_ms",    S_NUM,  S_AT (comp_cfg_t, attack_ms), S_RANGE (R_ATTACK_MS),
                      .mark = SPEC_COMP_ATTACK },
    { "release_ms",   S_NUM,  S_AT (comp_cfg_t, release_ms), S_RANGE (R_COMP_RELEASE_MS),
                      .mark = SPEC_COMP_RELEASE },
    { "knee_db",      S_NUM,  S_AT (comp_cfg_t, knee_db), S_RANGE (R_KNEE_DB),
                      .mark = SPEC_COMP_KNEE },
    { "makeup_db",    S_NUM,  S_AT (comp_cfg_t, makeup_db), S_RANGE (R_MAKEUP_DB),
                      .mark = SPEC_COMP_MAKEUP },
};
static const s_table_t s_comp_table = S_TABLE (s_comp_keys);
static const s_table_t s_band_table =
    { s_comp_keys, sizeof s_comp_keys / sizeof s_comp_keys [0], S_GLUE_ONLY };

//  Applies a compressor value: null/false disable, true enables, an object
//  enables and merges its keys. given (the glue compressor's; NULL for a
//  multiband band, which has no relative threshold) collects the keys
//  set, SPEC_COMP_*, so that a dynamics preset leaves them alone.
static void
s_apply_comp (s_ctx_t *ctx, const json_t *v, const char *path, comp_cfg_t *c,
              uint32_t *given)
{
    uint32_t set = SPEC_COMP_ENABLED;
    if (s_apply_switch (ctx, v, path, &c->enabled)) {
        char p [SPEC_PATH_MAX];
        if (given && json_object_get (v, "threshold_db") && json_object_get (v, "threshold_lu"))
            s_fail (ctx, s_key_path (p, path, "threshold_lu"), false, "give threshold_db "
                    "(dBFS) or threshold_lu (LU above the track's loudness), not both");
        uint32_t marks = s_walk (ctx, v, path,
                                 &(s_layer_t) { given ? &s_comp_table : &s_band_table, c },
                                 1, NULL, NULL);
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
s_read_compressor (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                   const s_key_t *key, void *arg)
{
    (void) key, (void) arg;
    chain_cfg_t *c = obj;
    s_apply_comp (ctx, x, path, &c->compressor, &c->comp_keys);
}

//  Reads one band of a multiband compressor.
static void
s_read_band (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
             const s_key_t *key, void *arg)
{
    (void) arg;
    s_apply_comp (ctx, x, path, S_FIELD (obj, key), NULL);
}

static const s_key_t s_multiband_keys [] = {
    { "enabled", S_BOOL, S_AT (multiband_cfg_t, enabled), S_DEF (false) },  //  values
                                                        //  used when it is switched on
    { "low_hz",  S_NUM,  S_AT (multiband_cfg_t, low_hz), S_RANGE (R_MB_LOW_HZ),
                 .mark = S_MARK_CROSSOVER, S_DEF (200.0) },
    { "high_hz", S_NUM,  S_AT (multiband_cfg_t, high_hz), S_RANGE (R_MB_HIGH_HZ),
                 .mark = S_MARK_CROSSOVER, S_DEF (3000.0) },
    { "low",     S_CALL, S_AT (multiband_cfg_t, band [0]), .read = s_read_band,
                 .sub = &s_band_table },
    { "mid",     S_CALL, S_AT (multiband_cfg_t, band [1]), .read = s_read_band,
                 .sub = &s_band_table },
    { "high",    S_CALL, S_AT (multiband_cfg_t, band [2]), .read = s_read_band,
                 .sub = &s_band_table },
};
static const s_table_t s_multiband_table = S_TABLE (s_multiband_keys);

//  Reads a multiband value (null/false/true/object, as for the compressor).
static void
s_read_multiband (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                  const s_key_t *key, void *arg)
{
    (void) arg;
    multiband_cfg_t *m = S_FIELD (obj, key);
    if (!s_apply_switch (ctx, x, path, &m->enabled))
        return;
    uint32_t marks = s_walk (ctx, x, path, &(s_layer_t) { &s_multiband_table, m }, 1, NULL,
                             NULL);
    if ((marks & S_MARK_CROSSOVER) && !(m->high_hz > m->low_hz)) {
        char p [SPEC_PATH_MAX];
        s_key_path (p, path, json_object_get (x, "high_hz") ? "high_hz" : "low_hz");
        s_fail (ctx, p, false, "the crossovers must rise: low_hz %g must be below high_hz %g",
                m->low_hz, m->high_hz);
    }
}

//  ceiling_dbtp null means "from the profile".
static const s_key_t s_limiter_keys [] = {
    { "enabled",      S_BOOL, S_AT (limiter_cfg_t, enabled), S_DEF (true) },
    { "ceiling_dbtp", S_NUM,  S_AT (limiter_cfg_t, ceiling_dbtp), S_RANGE (R_CEILING_DBTP),
                      .flags = S_NULL_NAN, S_DEF (NAN) },
    { "lookahead_ms", S_NUM,  S_AT (limiter_cfg_t, lookahead_ms), S_RANGE (R_LOOKAHEAD_MS),
                      S_DEF (2.0) },
    { "release_ms",   S_NUM,  S_AT (limiter_cfg_t, release_ms), S_RANGE (R_LIM_RELEASE_MS),
                      S_DEF (80.0) },
    { "max_gr_db",    S_NUM,  S_AT (limiter_cfg_t, max_gr_db), S_RANGE (R_MAX_GR_DB),
                      S_DEF (6.0) },
};
static const s_table_t s_limiter_table = S_TABLE (s_limiter_keys);

//  Reads a limiter value (null/false/true/object).
static void
s_read_limiter (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                const s_key_t *key, void *arg)
{
    (void) arg;
    limiter_cfg_t *l = S_FIELD (obj, key);
    if (s_apply_switch (ctx, x, path, &l->enabled))
        s_walk (ctx, x, path, &(s_layer_t) { &s_limiter_table, l }, 1, NULL, NULL);
}

static const s_key_t s_eq_keys [] = {
    { "type",    S_ENUM, S_AT (eq_band_t, type), .names = s_eq_names, .n_names = 5,
                 .find = s_eq_find, .what = "EQ type" },
    { "freq_hz", S_NUM,  S_AT (eq_band_t, freq_hz), S_RANGE (R_EQ_FREQ_HZ) },
    { "gain_db", S_NUM,  S_AT (eq_band_t, gain_db), S_RANGE (R_EQ_GAIN_DB) },
    { "q",       S_NUM,  S_AT (eq_band_t, q), S_RANGE (R_EQ_Q) },
};
static const s_table_t s_eq_table = S_TABLE (s_eq_keys);

//  Replaces the EQ with the bands of an array (null: no bands).
static void
s_read_eq (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
           const s_key_t *key, void *arg)
{
    (void) key, (void) arg;
    chain_cfg_t *c = obj;
    if (json_is_null (x)) {
        c->n_eq = 0;
        return;
    }
    if (!json_is_array (x)) {
        s_fail (ctx, path, false, "expected an array of bands, got %s", s_type_name (x));
        return;
    }
    size_t n = json_array_size (x);
    if (n > SPEC_MAX_EQ) {
        s_fail (ctx, path, false, "%zu EQ bands; at most %d are allowed", n, SPEC_MAX_EQ);
        n = SPEC_MAX_EQ;
    }
    c->n_eq = (int) n;
    char bp [SPEC_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        const json_t *b = json_array_get (x, i);
        s_index_path (bp, path, i);
        eq_band_t *band = &c->eq [i];
        *band = (eq_band_t) { .type = EQ_PEAK, .freq_hz = 1000.0, .gain_db = 0.0, .q = 0.707 };
        if (!json_is_object (b)) {
            s_fail (ctx, bp, false, "expected an EQ band object {type, freq_hz, gain_db, q}, got %s",
                    s_type_name (b));
            continue;
        }
        if (!json_object_get (b, "type"))
            s_fail (ctx, bp, false, "missing 'type' (peak, lowshelf, highshelf, highpass, lowpass)");
        if (!json_object_get (b, "freq_hz"))
            s_fail (ctx, bp, false, "missing 'freq_hz'");
        s_walk (ctx, b, bp, &(s_layer_t) { &s_eq_table, band }, 1, NULL, NULL);
    }
}

//  Writes the EQ bands.
static void
s_write_eq (json_t *o, const void *obj, const s_key_t *key, bool *ok)
{
    const chain_cfg_t *c = obj;
    json_t *eq = json_array ();
    for (int i = 0; eq && i < c->n_eq && i < SPEC_MAX_EQ; i++) {
        json_t *b = json_object ();
        if (b)
            s_emit (b, &s_eq_table, &c->eq [i], ok);
        if (!b || json_array_append_new (eq, b) != 0)
            *ok = false;
    }
    s_set (o, key->name, eq, ok);
}

//  highpass_hz: 0 (off) or a frequency in its range.
static void
s_read_highpass_hz (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                    const s_key_t *key, void *arg)
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
            s_fail (ctx, path, false, "%g is out of range; allowed 0 (off) or 5 .. 200", hz);
    }
    else
        s_fail (ctx, path, false, "expected a number, 0 (off) or 5 .. 200, got %s",
                s_type_name (x));
}

//  highpass_order: 2 or 4.
static void
s_read_highpass_order (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                       const s_key_t *key, void *arg)
{
    (void) key, (void) arg;
    chain_cfg_t *c = obj;
    int order;
    if (s_get_int (ctx, x, path, 2, 4, &order)) {
        if (order == 3)
            s_fail (ctx, path, false, "3 is not allowed; the order is 2 or 4");
        else
            c->highpass_order = order;
    }
}

static const s_key_t s_stereo_keys [] = {
    { "width",         S_NUM, S_AT (stereo_cfg_t, width), S_RANGE (R_WIDTH), S_DEF (1.0) },
    { "mono_below_hz", S_NUM, S_AT (stereo_cfg_t, mono_below_hz), S_RANGE (R_MONO_BELOW_HZ),
                       S_DEF (0.0) },
};
static const s_table_t s_stereo_table = S_TABLE (s_stereo_keys);

static const s_key_t s_chain_keys [] = {
    { "highpass_hz",    S_CALL,   S_AT (chain_cfg_t, highpass_hz), .read = s_read_highpass_hz,
                        .out = S_NUM, S_DEF (20.0) },
    { "highpass_order", S_CALL,   S_AT (chain_cfg_t, highpass_order),
                        .read = s_read_highpass_order, .out = S_INT, S_DEF (2) },
    { "eq",             S_CALL,   .read = s_read_eq, .write = s_write_eq },
    { "multiband",      S_CALL,   S_AT (chain_cfg_t, multiband), .read = s_read_multiband,
                        .sub = &s_multiband_table },
    { "compressor",     S_CALL,   S_AT (chain_cfg_t, compressor), .read = s_read_compressor,
                        .sub = &s_comp_table },
    { "stereo",         S_OBJECT, S_AT (chain_cfg_t, stereo), .sub = &s_stereo_table,
                        .what = "{width, mono_below_hz}" },
    { "gain_db",        S_NUM,    S_AT (chain_cfg_t, gain_db), S_RANGE (R_GAIN_DB),
                        S_DEF (0.0) },
    { "limiter",        S_CALL,   S_AT (chain_cfg_t, limiter), .read = s_read_limiter,
                        .sub = &s_limiter_table },
    { "dither",         S_BOOL,   S_AT (chain_cfg_t, dither), S_DEF (true) },
    { "noise_shaping",  S_BOOL,   S_AT (chain_cfg_t, noise_shaping), S_DEF (true) },
};
static const s_table_t s_chain_table = S_TABLE (s_chain_keys);

//  The options of a profile given as an object (read by s_read_profiles).
static const s_key_t s_profile_keys [] = {
    { .name = "name", .type = S_LATER },
    { .name = "codec_check", .type = S_LATER },
    { .name = "codec_safe", .type = S_LATER },
    { .name = "album_file", .type = S_LATER },
};
static const s_table_t s_profile_table = S_TABLE (s_profile_keys);

//  Replaces the profile set with the names of an array.
static void
s_read_profiles (s_ctx_t *ctx, const json_t *v, const char *path, void *obj,
                 const s_key_t *key, void *arg)
{
    (void) key, (void) arg;
    settings_t *s = obj;
    uint32_t *profiles = &s->profiles;
    if (!json_is_array (v)) {
        s_fail (ctx, path, false, "expected an array of profile names, got %s", s_type_name (v));
        return;
    }
    if (json_array_size (v) == 0) {
        s_fail (ctx, path, false, "at least one profile is needed");
        return;
    }
    uint32_t set = 0, check = 0, safe = 0, no_album = 0;
    bool ok = true;
    char p [SPEC_PATH_MAX], kp [SPEC_PATH_MAX];
    for (size_t i = 0; i < json_array_size (v); i++) {
        s_index_path (p, path, i);
        //  a name, or {"name": ..., and the profile's options}
        const json_t *e = json_array_get (v, i);
        const json_t *opts = json_is_object (e) ? e : NULL;
        if (opts) {
            e = json_object_get (opts, "name");
            s_key_path (kp, p, "name");
            if (!e) {
                s_fail (ctx, p, false, "a profile given as an object needs \"name\"");
                ok = false;
                continue;
            }
        }
        const char *name = s_get_str (ctx, e, opts ? kp : p);
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
            s_fail (ctx, p, false, "unknown profile '%s'; known: %s", name, allowed);
            ok = false;
            continue;
        }
        set |= 1u << prof->id;
        const char *key;
        const json_t *x;
        json_object_foreach ((json_t *) opts, key, x) {
            bool on;
            s_key_path (kp, p, key);
            if (strcmp (key, "name") == 0)
                continue;
            if (!s_table_find (&s_profile_table, key)) {
                s_unknown_key (ctx, kp, key, &(s_layer_t) { &s_profile_table, NULL }, 1);
                ok = false;
                continue;
            }
            if (!s_get_bool (ctx, x, kp, &on)) {
                ok = false;
                continue;
            }
            bool lossy = prof->id != PROFILE_CD && prof->id != PROFILE_BROADCAST
                      && prof->id != PROFILE_HIRES;
            if (on && strcmp (key, "album_file") && !lossy) {
                s_fail (ctx, kp, true, "%s is for the streaming profiles (spotify, apple, "
                        "youtube, amazon, tidal), which platforms transcode; %s is not one",
                        key, prof->name);
                ok = false;
            }
            else
            if (!on && strcmp (key, "album_file") == 0 && prof->cd) {
                s_fail (ctx, kp, true, "cd always has its album file and CUE sheet");
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
s_write_profiles (json_t *o, const void *obj, const s_key_t *key, bool *ok)
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
            s_set (e, "codec_check", json_true (), ok);
        if (e && (s->codec_safe & bit))
            s_set (e, "codec_safe", json_true (), ok);
        if (e && (s->no_album_file & bit))
            s_set (e, "album_file", json_false (), ok);
        if (json_array_append_new (prof, e))
            *ok = false;
    }
    s_set (o, key->name, prof, ok);
}

//  Writes reference_track: its index, or null.
static void
s_write_reference (json_t *o, const void *obj, const s_key_t *key, bool *ok)
{
    const tonal_cfg_t *t = obj;
    s_set (o, key->name, t->reference_track >= 0 ? json_integer (t->reference_track)
                                                 : json_null (), ok);
}

//  Reads reference_track: a track index, or a track path kept in arg (an
//  s_ref_t) until the album's track list is known; null: none.
static void
s_read_reference (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                  const s_key_t *key, void *arg)
{
    (void) key;
    tonal_cfg_t *t = obj;
    s_ref_t *ref = arg;
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
        if (s_get_int (ctx, x, path, 0, SPEC_MAX_TRACKS - 1, &t->reference_track)) {
            ref->path = NULL;
            snprintf (ref->where, sizeof ref->where, "%s", path);
        }
    }
    else
        s_fail (ctx, path, false, "expected a track index (0-based) or a track path, "
                "got %s", s_type_name (x));
}

//  Reads a reference file's path into a spec_ref_t.
static void
s_read_ref_path (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                 const s_key_t *key, void *arg)
{
    (void) key;
    (void) arg;
    spec_ref_t *r = obj;
    const char *s = s_get_str (ctx, x, path);
    if (!s)
        return;
    if (!fsutil_rel_path_ok (s) || s_has_control (s))
        s_fail (ctx, path, false, "reference '%s' must be relative to the input root, "
                "non-empty, without '..' or control characters", s);
    else
    if (strlen (s) >= sizeof r->path)
        s_fail (ctx, path, false, "reference path is %zu bytes; at most %zu", strlen (s),
                sizeof r->path - 1);
    else
        snprintf (r->path, sizeof r->path, "%s", s);
}

static const s_key_t s_ref_keys [] = {
    { "path",   S_CALL, .read = s_read_ref_path },
    { "weight", S_NUM,  S_AT (spec_ref_t, weight), S_RANGE (0.01, 100.0), S_DEF (1.0) },
};
static const s_table_t s_ref_table = S_TABLE (s_ref_keys);

//  Reads tonal "reference": a file's path, or a list of paths and
//  {"path", "weight"} objects; null: none.
static void
s_read_ref_files (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                  const s_key_t *key, void *arg)
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
        s_fail (ctx, path, false, "expected a reference file's path, or a list of 1 to %d "
                "paths or {\"path\", \"weight\"} objects, got %s%s", SPEC_MAX_REFS,
                list ? "a list of " : "", list ? (n ? "more" : "none") : s_type_name (x));
        return;
    }
    char p [SPEC_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        const json_t *e = list ? json_array_get (x, i) : x;
        spec_ref_t *r = &t->refs [i];
        r->weight = 1.0;
        if (list)
            s_index_path (p, path, i);
        else
            snprintf (p, sizeof p, "%s", path);
        if (json_is_object (e)) {
            s_walk_object (ctx, e, p, &s_ref_table, r, arg);
            if (!json_object_get (e, "path"))
                s_fail (ctx, p, false, "missing 'path' (the reference file, relative to "
                        "the input root)");
        }
        else
        if (json_is_string (e))
            s_read_ref_path (ctx, e, p, r, NULL, arg);
        else
            s_fail (ctx, p, false, "expected a path or {\"path\", \"weight\"}, got %s",
                    s_type_name (e));
    }
    t->n_refs = (int) n;
}

//  Writes the reference files as a list of {"path", "weight"}.
static void
s_write_ref_files (json_t *o, const void *obj, const s_key_t *key, bool *ok)
{
    const tonal_cfg_t *t = obj;
    json_t *list = json_array ();
    for (int i = 0; list && i < t->n_refs; i++) {
        json_t *e = json_object ();
        s_set (e, "path", json_string (t->refs [i].path), ok);
        s_set (e, "weight", json_real (t->refs [i].weight), ok);
        if (!e || json_array_append_new (list, e))
            *ok = false;
    }
    s_set (o, key->name, list, ok);
}

//  Whether reference files are given (their keys are written only then).
static bool
s_has_ref_files (const void *obj)
{
    return ((const tonal_cfg_t *) obj)->n_refs > 0;
}

static const s_key_t s_intensity_keys [] = {
    { "tone",     S_NUM, S_AT (spec_intensity_t, tone), S_RANGE (0.0, 1.0), S_DEF (1.0) },
    { "loudness", S_NUM, S_AT (spec_intensity_t, loudness), S_RANGE (0.0, 1.0), S_DEF (1.0) },
    { "width",    S_NUM, S_AT (spec_intensity_t, width), S_RANGE (0.0, 1.0), S_DEF (1.0) },
};
static const s_table_t s_intensity_table = S_TABLE (s_intensity_keys);

static const s_key_t s_tonal_keys [] = {
    { "match",           S_ENUM, S_AT (tonal_cfg_t, match), .names = s_match_names,
                         .n_names = 3, S_DEF (TONAL_ALBUM) },
    { "strength",        S_NUM,  S_AT (tonal_cfg_t, strength), S_RANGE (R_STRENGTH),
                         S_DEF (0.5) },
    { "max_db",          S_NUM,  S_AT (tonal_cfg_t, max_db), S_RANGE (R_TONAL_MAX_DB),
                         S_DEF (3.0) },
    { "reference_track", S_CALL, .read = s_read_reference, .write = s_write_reference },
    { "reference",       S_CALL, .read = s_read_ref_files, .write = s_write_ref_files,
                         .present = s_has_ref_files },
    { "intensity",       S_OBJECT, S_AT (tonal_cfg_t, intensity), .sub = &s_intensity_table,
                         .what = "{tone, loudness, width}", .present = s_has_ref_files },
};
static const s_table_t s_tonal_table = S_TABLE (s_tonal_keys);

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

static const s_key_t s_loudness_keys [] = {
    { "policy",           S_ENUM, S_AT (loudness_cfg_t, policy), .names = s_policy_names,
                          .n_names = 4, S_DEF (POLICY_ALBUM) },
    { "target_lufs",      S_NUM,  S_AT (loudness_cfg_t, target_lufs), S_RANGE (R_TARGET_LUFS),
                          .mark = S_MARK_TARGET, .present = s_has_target, S_DEF (-14.0) },
    { "true_peak_dbtp",   S_NUM,  S_AT (loudness_cfg_t, true_peak_dbtp),
                          S_RANGE (R_TRUE_PEAK_DBTP), .mark = S_MARK_PEAK,
                          .present = s_has_true_peak, S_DEF (-1.0) },
    { "max_deviation_lu", S_NUM,  S_AT (loudness_cfg_t, max_deviation_lu),
                          S_RANGE (R_MAX_DEVIATION_LU), S_DEF (3.0) },
};
static const s_table_t s_loudness_table = S_TABLE (s_loudness_keys);

//  Reads a "loudness" object; has_target and has_true_peak record that
//  the spec gave them.
static void
s_read_loudness (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                 const s_key_t *key, void *arg)
{
    loudness_cfg_t *l = S_FIELD (obj, key);
    uint32_t marks = s_walk_object (ctx, x, path, &s_loudness_table, l, arg);
    if (marks & S_MARK_TARGET)
        l->has_target = true;
    if (marks & S_MARK_PEAK)
        l->has_true_peak = true;
}

//  The settings every level has (defaults, album, track).
static const s_key_t s_settings_keys [] = {
    { "profiles",    S_CALL, .read = s_read_profiles, .write = s_write_profiles },
    { "loudness",    S_CALL, S_AT (settings_t, loudness), .read = s_read_loudness,
                     .sub = &s_loudness_table },
    { "tonal",       S_OBJECT, S_AT (settings_t, tonal), .sub = &s_tonal_table },
    { "chain",       S_OBJECT, S_AT (settings_t, chain), .sub = &s_chain_table },
    { "dynamics",    S_ENUM, S_AT (settings_t, chain.dynamics), .names = s_dynamics_names,
                     .n_names = DYN_COUNT, S_DEF (DYN_GENTLE) },
    { "gap_s",       S_NUM,  S_AT (settings_t, gap_s), S_RANGE (R_GAP_S), S_DEF (2.0) },
    { "fade_in_s",   S_NUM,  S_AT (settings_t, fade_in_s), S_RANGE (R_FADE_S), S_DEF (0.0) },
    { "fade_out_s",  S_NUM,  S_AT (settings_t, fade_out_s), S_RANGE (R_FADE_S), S_DEF (0.0) },
    { "crossfade_s", S_NUM,  S_AT (settings_t, crossfade_s), S_RANGE (R_CROSSFADE_S),
                     S_DEF (0.0) },
    { "fade_curve",  S_ENUM, S_AT (settings_t, fade_curve), .names = s_fade_names,
                     .n_names = 5, .find = s_fade_find, .what = "fade curve",
                     S_DEF (FADE_EQUAL_POWER) },
    { "trim",        S_BOOL, S_AT (settings_t, trim), S_DEF (false) },
    { "trim_db",     S_NUM,  S_AT (settings_t, trim_db), S_RANGE (R_TRIM_DB), S_DEF (-60.0) },
};
static const s_table_t s_settings_table = S_TABLE (s_settings_keys);

//  Fills s with the built-in defaults (DESIGN.md's example values): the
//  tables' defaults, and what no key's default says (the profile set, no
//  reference track, the multiband bands, the gentle dynamics preset).
void
spec_settings_default (settings_t *s)
{
    memset (s, 0, sizeof *s);
    s_defaults (&s_settings_table, s);           //  "partial": hold (false)
    s->profiles = 1u << PROFILE_SPOTIFY | 1u << PROFILE_CD;
    s->tonal.reference_track = -1;
    chain_cfg_t *c = &s->chain;
    c->multiband.band [0] = s_comp (-20.0, 2.0, 20.0, 200.0, 6.0);
    c->multiband.band [1] = s_comp (-20.0, 2.0, 10.0, 150.0, 6.0);
    c->multiband.band [2] = s_comp (-20.0, 2.0, 5.0, 100.0, 6.0);
    spec_dynamics_apply (c, DYN_GENTLE);     //  level-aware, see spec.h
}

// ---------------------------------------------------------------------------
//  Spec lifecycle

//  Frees the strings of one settings-bearing track.
static void
s_track_free (spec_track_t *t)
{
    free (t->path);
    free (t->title);
    free (t->artist);
    free (t->isrc);
}

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
            s_track_free (&al->tracks [t]);
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

//  The file name of path without folder and extension, as a new string.
static char *
s_title_from_path (const char *path)
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

//  Resolves a reference given by path against the album's tracks, and
//  checks that TONAL_REFERENCE has a valid reference. where_album names
//  the album for messages.
static void
s_resolve_reference (s_ctx_t *ctx, tonal_cfg_t *t, const s_ref_t *ref,
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
            s_fail (ctx, ref->where, false, "reference track '%s' is not a track of %s",
                    ref->path, album_path);
            return;
        }
    }
    if (t->reference_track >= (int) album->n_tracks) {
        s_fail (ctx, ref->where [0] ? ref->where : album_path, false,
                "reference track %d does not exist in %s (it has %zu tracks, counted from 0)",
                t->reference_track, album_path, album->n_tracks);
        return;
    }
    char p [SPEC_PATH_MAX];
    if (t->n_refs > 0 && t->reference_track >= 0)
        s_fail (ctx, s_key_path (p, album_path, "tonal"), false,
                "give reference files ('reference') or a track of the album "
                "('reference_track'), not both");
    else
    if (t->n_refs > 0 && t->match != TONAL_REFERENCE)
        s_fail (ctx, s_key_path (p, album_path, "tonal"), false,
                "reference files are matched with \"match\": \"reference\" (match is '%s')",
                s_match_names [t->match <= TONAL_REFERENCE ? t->match : 0]);
    else
    if (t->match == TONAL_REFERENCE && t->reference_track < 0 && t->n_refs == 0)
        s_fail (ctx, s_key_path (p, album_path, "tonal"), false,
                "tonal match 'reference' needs 'reference' (a file or a list of files) or "
                "'reference_track' (a track index or path)");
}

//  Reads an album's "partial" key: "hold" (the default: an album with a
//  failed track is not published) or "deliver" (published, marked
//  incomplete).
static void
s_read_partial (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
                const s_key_t *key, void *arg)
{
    (void) key, (void) arg;
    settings_t *s = obj;
    int m = s_get_enum (ctx, x, path, s_partial_names, 2, NULL, NULL);
    if (m >= 0)
        s->partial_deliver = m == 1;
}

//  Writes "partial".
static void
s_write_partial (json_t *o, const void *obj, const s_key_t *key, bool *ok)
{
    const settings_t *s = obj;
    s_set (o, key->name, json_string (s_partial_names [s->partial_deliver]), ok);
}

//  Settings of an album and of the defaults, not of a track.
static const s_key_t s_album_settings_keys [] = {
    { "partial", S_CALL, .read = s_read_partial, .write = s_write_partial },
};
static const s_table_t s_album_settings_table = S_TABLE (s_album_settings_keys);

//  Keeps a copy of s in the key's field when ok; otherwise reports
//  "<label> '<s>' <rule>". s NULL: nothing (already reported).
static void
s_keep_if (s_ctx_t *ctx, const char *path, void *obj, const s_key_t *key, const char *s,
           bool ok, const char *label, const char *rule)
{
    char **out = S_FIELD (obj, key);
    if (s && !ok)
        s_fail (ctx, path, false, "%s '%s' %s", label, s, rule);
    else
    if (s && !(*out = strdup (s)))
        s_fail (ctx, path, false, "out of memory");
}

//  Reads a track's path: relative to the input root, without "..".
static void
s_read_path (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
             const s_key_t *key, void *arg)
{
    (void) arg;
    const char *s = s_get_str (ctx, x, path);
    s_keep_if (ctx, path, obj, key, s, s && fsutil_rel_path_ok (s), "path",
               "must be relative to the input root, non-empty and without '..'");
}

//  Reads an ISRC (null: none), kept normalised (spec_isrc_normalise).
static void
s_read_isrc (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
             const s_key_t *key, void *arg)
{
    (void) arg;
    const char *s = s_get_str (ctx, x, path);
    char norm [13];
    bool ok = s && s_isrc_normalise (s, norm);
    s_keep_if (ctx, path, obj, key, ok ? norm : s, ok, "ISRC", "is not CC-XXX-YY-NNNNN "
               "(2 letters, 3 letters or digits, 2 digits, 5 digits)");
}

//  Reads a UPC (null: none): 12 or 13 digits.
static void
s_read_upc (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
            const s_key_t *key, void *arg)
{
    (void) arg;
    const char *s = s_get_str (ctx, x, path);
    s_keep_if (ctx, path, obj, key, s, s && s_upc_ok (s), "UPC", "must be 12 or 13 digits");
}

//  Reads a release date (null: none): YYYY or YYYY-MM-DD.
static void
s_read_date (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
             const s_key_t *key, void *arg)
{
    (void) arg;
    const char *s = s_get_str (ctx, x, path);
    s_keep_if (ctx, path, obj, key, s, s && s_date_ok (s), "date", "must be YYYY or YYYY-MM-DD");
}

//  Reads an RFC 3339 timestamp into an int64_t of milliseconds, or null (0).
static void
s_read_time (s_ctx_t *ctx, const json_t *x, const char *path, void *obj,
             const s_key_t *key, void *arg)
{
    (void) arg;
    int64_t *ms = S_FIELD (obj, key);
    if (json_is_null (x)) {
        *ms = 0;
        return;
    }
    const char *s = s_get_str (ctx, x, path);
    if (s && clock_parse_rfc3339 (s, ms) != 0)
        s_fail (ctx, path, false, "'%s' is not an RFC 3339 time such as "
                "2026-12-01T00:00:00Z", s);
}

//  Writes a time that was given (not 0).
static void
s_write_time (json_t *o, const void *obj, const s_key_t *key, bool *ok)
{
    int64_t ms = *(const int64_t *) S_CFIELD (obj, key);
    if (ms)
        s_set (o, key->name, s_time_json (ms), ok);
}

//  Whether a track has a disc number.
static bool
s_has_disc (const void *obj)
{
    return ((const spec_track_t *) obj)->disc > 0;
}

static const s_key_t s_track_keys [] = {
    { "path",   S_CALL, S_AT (spec_track_t, path), .read = s_read_path, .out = S_TEXT },
    { "title",  S_TEXT, S_AT (spec_track_t, title) },
    { "artist", S_TEXT, S_AT (spec_track_t, artist), .flags = S_NULL_KEEPS },
    { "isrc",   S_CALL, S_AT (spec_track_t, isrc), .flags = S_NULL_KEEPS,
                .read = s_read_isrc, .out = S_TEXT },
    { "disc",   S_INT,  S_AT (spec_track_t, disc), S_RANGE (1, 99), .present = s_has_disc },
};
static const s_table_t s_track_table = S_TABLE (s_track_keys);

static const s_key_t s_album_keys [] = {
    { "title",  S_TEXT, S_AT (spec_album_t, title) },
    { "artist", S_TEXT, S_AT (spec_album_t, artist), .flags = S_NULL_KEEPS },
    { "upc",    S_CALL, S_AT (spec_album_t, upc), .flags = S_NULL_KEEPS, .read = s_read_upc,
                .out = S_TEXT },
    { "date",   S_CALL, S_AT (spec_album_t, date), .flags = S_NULL_KEEPS,
                .read = s_read_date, .out = S_TEXT },
    { "genre",  S_TEXT, S_AT (spec_album_t, genre), .flags = S_NULL_KEEPS },
    { .name = "tracks", .type = S_LATER },
};
static const s_table_t s_album_table = S_TABLE (s_album_keys);

static const s_key_t s_top_keys [] = {
    { "name",       S_TEXT, S_AT (job_spec_t, name) },
    { "priority",   S_INT,  S_AT (job_spec_t, priority), S_RANGE (R_PRIORITY) },
    { "deadline",   S_CALL, S_AT (job_spec_t, deadline_ms), .read = s_read_time,
                    .write = s_write_time },
    { "deliver_at", S_CALL, S_AT (job_spec_t, deliver_at_ms), .read = s_read_time,
                    .write = s_write_time },
    { .name = "defaults", .type = S_LATER },
    { .name = "albums", .type = S_LATER },
};
static const s_table_t s_top_table = S_TABLE (s_top_keys);

//  Album-level settings where a track stands.
static bool
s_misplaced_in_track (s_ctx_t *ctx, const char *path, const char *key)
{
    if (!s_table_find (&s_album_settings_table, key))
        return false;
    s_fail (ctx, path, true, "'%s' is an album setting: put it in 'defaults' or an album",
            key);
    return true;
}

//  Settings and album settings at the top.
static bool
s_misplaced_at_top (s_ctx_t *ctx, const char *path, const char *key)
{
    if (s_table_find (&s_settings_table, key))
        s_fail (ctx, path, true, "'%s' is a setting: put it in 'defaults', an album or a track",
                key);
    else
        return s_misplaced_in_track (ctx, path, key);
    return true;
}

//  Album and track keys in the defaults.
static bool
s_misplaced_in_defaults (s_ctx_t *ctx, const char *path, const char *key)
{
    if (!s_table_find (&s_album_table, key) && !s_table_find (&s_track_table, key))
        return false;
    s_fail (ctx, path, true, "'%s' belongs to an album or a track, not to defaults", key);
    return true;
}

//  Parses one track object into t (settings inherited from album_s).
static void
s_parse_track (s_ctx_t *ctx, const json_t *v, const char *path, spec_track_t *t,
               const settings_t *album_s, const s_ref_t *album_ref, s_ref_t *ref)
{
    t->s = *album_s;
    *ref = *album_ref;
    if (!json_is_object (v)) {
        s_fail (ctx, path, false, "expected a track object {path, title, ...}, got %s",
                s_type_name (v));
        return;
    }
    s_layer_t layers [] = { { &s_track_table, t }, { &s_settings_table, &t->s } };
    s_walk (ctx, v, path, layers, 2, s_misplaced_in_track, ref);
    if (!json_object_get (v, "path"))
        s_fail (ctx, path, false, "missing 'path' (the track's file, relative to the input root)");
    if (!t->title && t->path && !(t->title = s_title_from_path (t->path)))
        s_fail (ctx, path, false, "out of memory");
}

//  Parses one album object into al (settings inherited from defaults).
static void
s_parse_album (s_ctx_t *ctx, const json_t *v, const char *path, size_t index,
               spec_album_t *al, const settings_t *defaults, const s_ref_t *def_ref)
{
    al->s = *defaults;
    s_ref_t ref = *def_ref;
    if (!json_is_object (v)) {
        s_fail (ctx, path, false, "expected an album object {title, tracks, ...}, got %s",
                s_type_name (v));
        return;
    }
    s_layer_t layers [] = {
        { &s_album_table, al }, { &s_album_settings_table, &al->s },
        { &s_settings_table, &al->s }
    };
    s_walk (ctx, v, path, layers, 3, NULL, &ref);
    if (!al->title && asprintf (&al->title, "Album %zu", index + 1) < 0) {
        al->title = NULL;
        s_fail (ctx, path, false, "out of memory");
    }

    char p [SPEC_PATH_MAX];
    const json_t *tracks = json_object_get (v, "tracks");
    s_key_path (p, path, "tracks");
    if (!tracks) {
        s_fail (ctx, path, false, "missing 'tracks': an album needs at least one track");
        return;
    }
    if (!json_is_array (tracks)) {
        s_fail (ctx, p, false, "expected an array of tracks, got %s", s_type_name (tracks));
        return;
    }
    size_t n = json_array_size (tracks);
    if (n == 0) {
        s_fail (ctx, p, false, "an album needs at least one track");
        return;
    }
    if (n > SPEC_MAX_TRACKS) {
        s_fail (ctx, p, false, "%zu tracks; at most %d per album", n, SPEC_MAX_TRACKS);
        return;
    }
    if (n > 99 && (al->s.profiles & (1u << PROFILE_CD)))
        s_fail (ctx, p, false, "%zu tracks; a CD holds at most 99 (Red Book): drop the "
                "'cd' profile for this album or split it", n);
    al->tracks = calloc (n, sizeof *al->tracks);
    s_ref_t *refs = calloc (n, sizeof *refs);
    if (!al->tracks || !refs) {
        free (refs);
        s_fail (ctx, p, false, "out of memory");
        return;
    }
    al->n_tracks = n;
    char tp [SPEC_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        s_index_path (tp, p, i);
        s_parse_track (ctx, json_array_get (tracks, i), tp, &al->tracks [i], &al->s,
                       &ref, &refs [i]);
        al->tracks [i].number = (int) i + 1;
    }
    //  references can be resolved now that every track path is known
    s_resolve_reference (ctx, &al->s.tonal, &ref, al, path);
    const tonal_cfg_t *at = &al->s.tonal;
    for (size_t i = 0; i < n; i++) {
        tonal_cfg_t *tt = &al->tracks [i].s.tonal;
        s_index_path (tp, p, i);
        if (refs [i].path == ref.path && strcmp (refs [i].where, ref.where) == 0)
            tt->reference_track = at->reference_track;
        else
            s_resolve_reference (ctx, tt, &refs [i], al, path);
        //  one album, one set of references (its plan matches every track to them)
        if (tt->n_refs != at->n_refs
        ||  memcmp (tt->refs, at->refs, (size_t) at->n_refs * sizeof *at->refs) != 0) {
            char kp [SPEC_PATH_MAX];
            s_fail (ctx, s_key_path (kp, tp, "tonal"), false, "reference files are the "
                    "album's: give them at the album level or in defaults");
        }
    }
    free (refs);
}

//  Fills spec from a parsed JSON root, reporting into ctx.
static void
s_parse_root (s_ctx_t *ctx, const json_t *root, job_spec_t *spec)
{
    if (!json_is_object (root)) {
        s_fail (ctx, "$", false, "a job spec is a JSON object {name, defaults, albums}, got %s",
                s_type_name (root));
        return;
    }
    s_walk (ctx, root, "$", &(s_layer_t) { &s_top_table, spec }, 1, s_misplaced_at_top, NULL);
    if (spec->deadline_ms && spec->deliver_at_ms && spec->deliver_at_ms > spec->deadline_ms)
        s_fail (ctx, "$.deliver_at", false, "deliver_at is after the deadline");

    s_ref_t def_ref = { 0 };
    const json_t *defaults = json_object_get (root, "defaults");
    if (defaults && !json_is_object (defaults))
        s_fail (ctx, "$.defaults", false, "expected an object, got %s", s_type_name (defaults));
    else
    if (defaults) {
        s_layer_t layers [] = {
            { &s_settings_table, &spec->defaults },
            { &s_album_settings_table, &spec->defaults }
        };
        s_walk (ctx, defaults, "$.defaults", layers, 2, s_misplaced_in_defaults, &def_ref);
    }

    char p [SPEC_PATH_MAX];
    const json_t *albums = json_object_get (root, "albums");
    if (!albums) {
        s_fail (ctx, "$", false, "missing 'albums': a job needs at least one album");
        return;
    }
    if (!json_is_array (albums)) {
        s_fail (ctx, "$.albums", false, "expected an array of albums, got %s", s_type_name (albums));
        return;
    }
    size_t n = json_array_size (albums);
    if (n == 0) {
        s_fail (ctx, "$.albums", false, "a job needs at least one album");
        return;
    }
    spec->albums = calloc (n, sizeof *spec->albums);
    if (!spec->albums) {
        s_fail (ctx, "$.albums", false, "out of memory");
        return;
    }
    spec->n_albums = n;
    for (size_t i = 0; i < n; i++) {
        s_index_path (p, "$.albums", i);
        s_parse_album (ctx, json_array_get (albums, i), p, i, &spec->albums [i],
                       &spec->defaults, &def_ref);
    }
}

//  A new empty spec with built-in defaults, or NULL.
static job_spec_t *
s_spec_new (void)
{
    job_spec_t *spec = calloc (1, sizeof *spec);
    if (!spec)
        return NULL;
    spec->priority = SPEC_DEFAULT_PRIORITY;
    spec_settings_default (&spec->defaults);
    return spec;
}

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
    s_ctx_t ctx = { .errs = errs, .text = text, .len = len };
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
    job_spec_t *spec = s_spec_new ();
    if (!spec) {
        json_decref (root);
        spec_errors_add (errs, "$", 0, 0, "out of memory");
        return NULL;
    }
    s_parse_root (&ctx, root, spec);
    json_decref (root);
    s_ctx_free (&ctx);
    if (ctx.n_errors > 0)
        spec_destroy (&spec);
    s_resolve_dynamics (spec);
    return spec;
}

// ---------------------------------------------------------------------------
//  CSV catalogs

typedef struct {
    char *text;
    int   column;                    //  1-based byte column where the field starts
} s_field_t;

typedef struct {
    s_field_t *f;
    size_t     n, cap;
    int        line;                 //  line where the record starts
} s_record_t;

typedef struct {
    const char *p, *end, *line_start;
    int         line;
} s_csv_t;

//  Appends a field to a record. Returns 0 or MF_ERR_NOMEM.
static int
s_record_push (s_record_t *r, char *text, int column)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        s_field_t *f = realloc (r->f, cap * sizeof *f);
        if (!f)
            return MF_ERR_NOMEM;
        r->f = f;
        r->cap = cap;
    }
    r->f [r->n].text = text;
    r->f [r->n].column = column;
    r->n++;
    return 0;
}

//  Frees a record's fields.
static void
s_record_clear (s_record_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free (r->f [i].text);
    r->n = 0;
}

//  Reads the next record. Returns 1 if one was read, 0 at the end of the
//  text, MF_ERR_FORMAT after reporting a malformed record (the reader
//  skips to the next line), MF_ERR_NOMEM.
static int
s_csv_record (s_csv_t *c, s_record_t *r, spec_errors_t *errs, size_t *n_errors)
{
    s_record_clear (r);
    if (c->p >= c->end)
        return 0;
    r->line = c->line;
    for (;;) {
        int column = (int) (c->p - c->line_start) + 1;
        size_t cap = 32, n = 0;
        char *buf = malloc (cap);
        if (!buf)
            return MF_ERR_NOMEM;
        bool quoted = c->p < c->end && *c->p == '"';
        if (quoted) {
            int open_line = c->line;
            c->p++;
            for (;;) {
                if (c->p >= c->end) {
                    free (buf);
                    char where [64];
                    snprintf (where, sizeof where, "line %d", open_line);
                    spec_errors_add (errs, where, open_line, column,
                                     "a quoted field is never closed");
                    (*n_errors)++;
                    return MF_ERR_FORMAT;
                }
                char ch = *c->p++;
                if (ch == '"') {
                    if (c->p < c->end && *c->p == '"')
                        c->p++;
                    else
                        break;
                }
                else
                if (ch == '\n') {
                    c->line++;
                    c->line_start = c->p;
                }
                if (n + 2 > cap) {
                    char *bigger = realloc (buf, cap *= 2);
                    if (!bigger) {
                        free (buf);
                        return MF_ERR_NOMEM;
                    }
                    buf = bigger;
                }
                buf [n++] = ch;
            }
        }
        else
            while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                if (n + 2 > cap) {
                    char *bigger = realloc (buf, cap *= 2);
                    if (!bigger) {
                        free (buf);
                        return MF_ERR_NOMEM;
                    }
                    buf = bigger;
                }
                buf [n++] = *c->p++;
            }
        buf [n] = '\0';
        if (s_record_push (r, buf, column) != 0) {
            free (buf);
            return MF_ERR_NOMEM;
        }
        if (c->p >= c->end)
            return 1;
        char ch = *c->p;
        if (ch == ',') {
            c->p++;
            continue;
        }
        if (ch == '\r' || ch == '\n') {
            c->p++;
            if (ch == '\r' && c->p < c->end && *c->p == '\n')
                c->p++;
            c->line++;
            c->line_start = c->p;
            return 1;
        }
        //  text after a closing quote
        char where [64];
        snprintf (where, sizeof where, "line %d", c->line);
        spec_errors_add (errs, where, c->line, (int) (c->p - c->line_start) + 1,
                         "unexpected text after a closing quote; a quote inside a quoted "
                         "field is written twice (\"\")");
        (*n_errors)++;
        while (c->p < c->end && *c->p != '\n')
            c->p++;
        if (c->p < c->end) {
            c->p++;
            c->line++;
            c->line_start = c->p;
        }
        return MF_ERR_FORMAT;
    }
}

//  One CSV row as read, before grouping into albums.
typedef struct {
    int          line;
    char        *album;
    int          number;             //  the track column
    spec_track_t track;
} s_row_t;

//  Trims blanks around text in place. Returns text.
static char *
s_trim (char *text)
{
    char *s = text;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen (s);
    while (n > 0 && (s [n - 1] == ' ' || s [n - 1] == '\t'))
        n--;
    memmove (text, s, n);
    text [n] = '\0';
    return text;
}

//  True if text is valid UTF-8 (shortest forms, no surrogates, up to U+10FFFF),
//  as JSON output and tags need.
static bool
s_utf8_ok (const char *text)
{
    const unsigned char *p = (const unsigned char *) text;
    while (*p) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        int n = (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (n == 0)
            return false;
        uint32_t cp = *p & (0x7F >> n);
        for (int i = 1; i < n; i++) {
            if ((p [i] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p [i] & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
        ||  cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n;
    }
    return true;
}

//  Adds a CSV error at a line and named column.
static void
s_csv_fail (spec_errors_t *errs, size_t *n_errors, int line, int column,
            const char *name, const char *fmt, ...)
    __attribute__ ((format (printf, 6, 7)));

static void
s_csv_fail (spec_errors_t *errs, size_t *n_errors, int line, int column,
            const char *name, const char *fmt, ...)
{
    char where [128];
    if (name)
        snprintf (where, sizeof where, "line %d, column %s", line, name);
    else
        snprintf (where, sizeof where, "line %d", line);
    va_list ap;
    va_start (ap, fmt);
    s_errors_addv (errs, where, line, column, fmt, ap);
    va_end (ap);
    (*n_errors)++;
}

//  Parses a CSV number within [lo, hi] (empty: keep *out). Returns true if valid.
static bool
s_csv_num (const char *text, double lo, double hi, double *out)
{
    if (!*text)
        return true;
    char *end;
    errno = 0;
    double x = strtod (text, &end);
    if (end == text || *end || errno || !isfinite (x) || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

//  Orders rows by track number (then line, for a stable order).
static int
s_row_cmp (const void *a, const void *b)
{
    const s_row_t *x = *(const s_row_t *const *) a, *y = *(const s_row_t *const *) b;
    if (x->number != y->number)
        return x->number < y->number ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

//  Parses a CSV catalog into albums (first appearance) of tracks (by
//  number); NULL with every error in errs, each naming its line and column.
job_spec_t *
spec_parse_csv (const char *text, size_t len, const char *origin,
                spec_errors_t *errs)
{
    size_t n_errors = 0;
    if (!text || len == 0) {
        spec_errors_add (errs, "line 1", 0, 0, "empty catalog");
        return NULL;
    }
    s_csv_t c = { .p = text, .end = text + len, .line_start = text, .line = 1 };
    if (len >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
        c.p += 3;                                 //  UTF-8 byte order mark
    s_record_t rec = { 0 };
    s_row_t *rows = NULL;
    size_t n_rows = 0, cap_rows = 0;
    job_spec_t *spec = NULL;
    int col_of [9];                               //  column index per known name, -1 if absent
    for (int i = 0; i < 9; i++)
        col_of [i] = -1;
    size_t n_columns = 0;
    bool nomem = false;

    //  header: the first record that is not blank
    int rc;
    while ((rc = s_csv_record (&c, &rec, errs, &n_errors)) == 1
        && rec.n == 1 && !*s_trim (rec.f [0].text))
        ;
    if (rc == MF_ERR_NOMEM)
        goto nomem;
    if (rc != 1) {
        if (rc == 0)
            spec_errors_add (errs, "line 1", 1, 1, "no header line "
                             "(album,track,path,title,artist,isrc,gap_s,fade_in_s,fade_out_s)");
        goto done;
    }
    n_columns = rec.n;
    for (size_t i = 0; i < rec.n; i++) {
        char *h = s_trim (rec.f [i].text);
        for (char *q = h; *q; q++)
            *q = (char) tolower ((unsigned char) *q);
        int k = s_enum_find (h, s_csv_columns, 9);
        if (k < 0) {
            const char *hint = NULL;
            size_t hint_d = S_SUGGEST_MAX;
            for (const char *const *c = s_csv_columns; *c; c++)
                s_suggest_step (h, *c, &hint, &hint_d);
            if (hint)
                s_csv_fail (errs, &n_errors, rec.line, rec.f [i].column, h,
                            "unknown column '%s'; did you mean '%s'?", h, hint);
            else
                s_csv_fail (errs, &n_errors, rec.line, rec.f [i].column, h,
                            "unknown column '%s'; known: album, track, path, title, artist, "
                            "isrc, gap_s, fade_in_s, fade_out_s", h);
        }
        else
        if (col_of [k] >= 0)
            s_csv_fail (errs, &n_errors, rec.line, rec.f [i].column, h,
                        "column '%s' appears twice", h);
        else
            col_of [k] = (int) i;
    }
    for (int k = 0; k < 3; k++)
        if (col_of [k] < 0)
            s_csv_fail (errs, &n_errors, rec.line, 0, NULL,
                        "the header has no '%s' column (needed: album, track, path)",
                        s_csv_columns [k]);
    if (n_errors > 0)
        goto done;

    settings_t defaults;
    spec_settings_default (&defaults);
    while ((rc = s_csv_record (&c, &rec, errs, &n_errors)) != 0) {
        if (rc == MF_ERR_NOMEM)
            goto nomem;
        if (rc != 1)
            continue;
        if (rec.n == 1 && !*s_trim (rec.f [0].text))
            continue;                             //  blank line
        if (rec.n != n_columns) {
            s_csv_fail (errs, &n_errors, rec.line, 0, NULL,
                        "%zu fields where the header has %zu", rec.n, n_columns);
            continue;
        }
        if (n_rows == cap_rows) {
            size_t cap = cap_rows ? cap_rows * 2 : 32;
            s_row_t *bigger = realloc (rows, cap * sizeof *rows);
            if (!bigger)
                goto nomem;
            rows = bigger;
            cap_rows = cap;
        }
        s_row_t *row = &rows [n_rows++];
        memset (row, 0, sizeof *row);
        row->line = rec.line;
        row->track.s = defaults;
        for (int k = 0; k < 9; k++) {
            if (col_of [k] < 0)
                continue;
            s_field_t *f = &rec.f [col_of [k]];
            const char *col = s_csv_columns [k];
            char *v = s_trim (f->text);
            bool empty = !*v;
            if (!s_utf8_ok (v)) {
                s_csv_fail (errs, &n_errors, rec.line, f->column, col,
                            "not valid UTF-8; save the catalog as UTF-8");
                continue;
            }
            switch (k) {
                case 0:                               //  album
                    if (empty)
                        s_csv_fail (errs, &n_errors, rec.line, f->column, col,
                                    "empty album title");
                    else if (s_has_control (v))
                        s_csv_fail (errs, &n_errors, rec.line, f->column, col,
                                    "the album title contains a line break or control character");
                    else
                        row->album = f->text, f->text = NULL;
                    break;
                case 1: {                             //  track
                    char *end;
                    long x = strtol (v, &end, 10);
                    if (empty || *end || x < 1 || x > SPEC_MAX_TRACKS)
                        s_csv_fail (errs, &n_errors, rec.line, f->column, col,
                                    "'%s' is not a track number 1 .. %d", v, SPEC_MAX_TRACKS);
                    else
                        row->number = (int) x;
                    break;
                }
                case 2:                               //  path
                    if (!fsutil_rel_path_ok (v))
                        s_csv_fail (errs, &n_errors, rec.line, f->column, col,
                                    "path '%s' must be relative to the input root, non-empty "
                                    "and without '..'", v);
                    else
                        row->track.path = f->text, f->text = NULL;
                    break;
                case 3:                               //  title
                case 4:                               //  artist
                    if (empty)
                        break;
                    if (s_has_control (v))
                        s_csv_fail (errs, &n_errors, rec.line, f->column, col,
                                    "contains a line break or control character");
                    else if (k == 3)
                        row->track.title = f->text, f->text = NULL;
                    else
                        row->track.artist = f->text, f->text = NULL;
                    break;
                case 5: {                             //  isrc
                    if (empty)
                        break;
                    char norm [13];
                    if (!s_isrc_normalise (v, norm))
                        s_csv_fail (errs, &n_errors, rec.line, f->column, col,
                                    "ISRC '%s' is not CC-XXX-YY-NNNNN (2 letters, 3 letters "
                                    "or digits, 2 digits, 5 digits)", v);
                    else if (!(row->track.isrc = strdup (norm)))
                        goto nomem;
                    break;
                }
                case 6:
                    if (!s_csv_num (v, R_GAP_S, &row->track.s.gap_s))
                        s_csv_fail (errs, &n_errors, rec.line, f->column, col,
                                    "'%s' is not a number from 0 to 60 (seconds)", v);
                    break;
                case 7:
                case 8:
                    if (!s_csv_num (v, R_FADE_S, k == 7 ? &row->track.s.fade_in_s
                                                        : &row->track.s.fade_out_s))
                        s_csv_fail (errs, &n_errors, rec.line, f->column, col,
                                    "'%s' is not a number from 0 to 60 (seconds)", v);
                    break;
                default:
                    break;
            }
        }
        if (!row->track.title && row->track.path
        &&  !(row->track.title = s_title_from_path (row->track.path)))
            goto nomem;
    }
    if (n_rows == 0 && n_errors == 0) {
        spec_errors_add (errs, "line 2", 2, 0, "the catalog has no tracks");
        n_errors++;
    }

    //  group rows into albums in order of first appearance (rows whose
    //  album or number is unusable were reported and are left out; the
    //  grouping still runs so that duplicate numbers are reported too)
    spec = s_spec_new ();
    if (!spec)
        goto nomem;
    spec->albums = calloc (n_rows, sizeof *spec->albums);
    s_row_t **order = calloc (n_rows, sizeof *order);
    size_t *album_of = calloc (n_rows, sizeof *album_of);
    if (!spec->albums || !order || !album_of) {
        free (order);
        free (album_of);
        goto nomem;
    }
    for (size_t i = 0; i < n_rows; i++) {
        album_of [i] = SIZE_MAX;
        if (!rows [i].album || rows [i].number == 0)
            continue;
        size_t a = 0;
        while (a < spec->n_albums && strcmp (spec->albums [a].title, rows [i].album) != 0)
            a++;
        if (a == spec->n_albums) {
            spec->albums [a].title = strdup (rows [i].album);
            spec->albums [a].s = defaults;
            spec->n_albums++;
            if (!spec->albums [a].title)
                nomem = true;
        }
        album_of [i] = a;
        spec->albums [a].n_tracks++;
    }
    for (size_t a = 0; a < spec->n_albums && !nomem; a++) {
        spec_album_t *al = &spec->albums [a];
        size_t n = 0;
        for (size_t i = 0; i < n_rows; i++)
            if (album_of [i] == a)
                order [n++] = &rows [i];
        qsort (order, n, sizeof *order, s_row_cmp);
        if (n > SPEC_MAX_TRACKS) {
            s_csv_fail (errs, &n_errors, order [SPEC_MAX_TRACKS]->line, 0, NULL,
                        "album '%s' has %zu tracks; at most %d", al->title, n, SPEC_MAX_TRACKS);
            al->n_tracks = 0;
            continue;
        }
        if (n > 99 && (al->s.profiles & (1u << PROFILE_CD)))
            s_csv_fail (errs, &n_errors, order [99]->line, 0, "track",
                        "album '%s' has %zu tracks; a CD holds at most 99 (Red Book)",
                        al->title, n);
        al->tracks = calloc (n, sizeof *al->tracks);
        if (!al->tracks) {
            nomem = true;
            al->n_tracks = 0;
            break;
        }
        bool same_artist = true;
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && order [i]->number == order [i - 1]->number)
                s_csv_fail (errs, &n_errors, order [i]->line, 0, "track",
                            "album '%s' already has track %d (line %d)", al->title,
                            order [i]->number, order [i - 1]->line);
            al->tracks [i] = order [i]->track;
            al->tracks [i].number = (int) i + 1;
            memset (&order [i]->track, 0, sizeof order [i]->track);
            const char *a0 = al->tracks [0].artist, *ai = al->tracks [i].artist;
            if (!a0 || !ai || strcmp (a0, ai) != 0)
                same_artist = false;
        }
        //  one artist for the whole album becomes the album's artist
        if (same_artist && n > 0) {
            al->artist = al->tracks [0].artist;
            for (size_t i = 0; i < n; i++)
                if (i > 0) {
                    free (al->tracks [i].artist);
                    al->tracks [i].artist = NULL;
                }
            al->tracks [0].artist = NULL;
        }
    }
    free (order);
    free (album_of);
    if (nomem)
        goto nomem;
    goto done;

nomem:
    nomem = true;
    spec_errors_add (errs, "$", 0, 0, "out of memory");
    n_errors++;
done:
    s_record_clear (&rec);
    free (rec.f);
    for (size_t i = 0; i < n_rows; i++) {
        free (rows [i].album);
        s_track_free (&rows [i].track);
    }
    free (rows);
    if (n_errors > 0)
        spec_destroy (&spec);
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

//  Holds every track path inside input_root and checks it names a readable
//  regular file; returns the number of errors added.
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
s_check (s_ctx_t *ctx, const char *prefix, const char *name, double value,
         double lo, double hi)
{
    if (value >= lo && value <= hi)
        return;
    char p [SPEC_PATH_MAX];
    s_fail (ctx, s_key_path (p, prefix, name), false, "%g is out of range; allowed %g .. %g",
            value, lo, hi);
}

//  Checks one compressor's ranges under prefix.
static void
s_check_comp (s_ctx_t *ctx, const comp_cfg_t *c, const char *prefix)
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
    s_ctx_t ctx = { .errs = errs };
    char p [SPEC_PATH_MAX], q [SPEC_PATH_MAX];
    if (!prefix)
        prefix = "$";
    if (chain->highpass_hz != 0.0)
        s_check (&ctx, prefix, "highpass_hz", chain->highpass_hz, R_HIGHPASS_HZ);
    if (chain->highpass_order != 2 && chain->highpass_order != 4)
        s_fail (&ctx, s_key_path (p, prefix, "highpass_order"), false,
                "%d is not allowed; the order is 2 or 4", chain->highpass_order);
    if (chain->n_eq < 0 || chain->n_eq > SPEC_MAX_EQ)
        s_fail (&ctx, s_key_path (p, prefix, "eq"), false, "%d EQ bands; allowed 0 .. %d",
                chain->n_eq, SPEC_MAX_EQ);
    for (int i = 0; i >= 0 && i < chain->n_eq && i < SPEC_MAX_EQ; i++) {
        snprintf (q, sizeof q, "%s.eq[%d]", prefix, i);
        const eq_band_t *b = &chain->eq [i];
        if ((int) b->type < EQ_PEAK || b->type > EQ_LOWPASS)
            s_fail (&ctx, s_key_path (p, q, "type"), false, "unknown EQ type %d", (int) b->type);
        s_check (&ctx, q, "freq_hz", b->freq_hz, R_EQ_FREQ_HZ);
        s_check (&ctx, q, "gain_db", b->gain_db, R_EQ_GAIN_DB);
        s_check (&ctx, q, "q", b->q, R_EQ_Q);
    }
    if (chain->multiband.enabled) {
        const multiband_cfg_t *m = &chain->multiband;
        s_key_path (q, prefix, "multiband");
        s_check (&ctx, q, "low_hz", m->low_hz, R_MB_LOW_HZ);
        s_check (&ctx, q, "high_hz", m->high_hz, R_MB_HIGH_HZ);
        if (!(m->high_hz > m->low_hz))
            s_fail (&ctx, s_key_path (p, q, "high_hz"), false,
                    "the crossovers must rise: low_hz %g must be below high_hz %g",
                    m->low_hz, m->high_hz);
        for (int b = 0; b < 3; b++)
            if (m->band [b].enabled) {
                char bp [SPEC_PATH_MAX];
                s_check_comp (&ctx, &m->band [b], s_key_path (bp, q, s_mb_band_names [b]));
            }
    }
    if (chain->compressor.enabled)
        s_check_comp (&ctx, &chain->compressor, s_key_path (q, prefix, "compressor"));
    if ((int) chain->dynamics < 0 || chain->dynamics >= DYN_COUNT)
        s_fail (&ctx, s_key_path (p, prefix, "dynamics"), false, "unknown preset %d",
                (int) chain->dynamics);
    s_key_path (q, prefix, "stereo");
    s_check (&ctx, q, "width", chain->stereo.width, R_WIDTH);
    s_check (&ctx, q, "mono_below_hz", chain->stereo.mono_below_hz, R_MONO_BELOW_HZ);
    s_check (&ctx, prefix, "gain_db", chain->gain_db, R_GAIN_DB);
    if (chain->limiter.enabled) {
        const limiter_cfg_t *l = &chain->limiter;
        s_key_path (q, prefix, "limiter");
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
    s_ctx_t ctx = { .errs = errs, .text = text, .len = len };
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
            int d = s_get_enum (&ctx, dyn, "$.dynamics", s_dynamics_names, DYN_COUNT, NULL,
                               NULL);
            if (d >= 0)
                work.dynamics = (dynamics_t) d;
        }
    }
    if (chain)
        s_walk_object (&ctx, chain, path, &s_chain_table, &work, NULL);
    spec_dynamics_apply (&work, work.dynamics);
    json_decref (root);
    s_ctx_free (&ctx);
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
    s_emit (root, &s_top_table, spec, &ok);
    json_t *defaults = json_object ();
    if (defaults) {
        s_emit (defaults, &s_settings_table, &spec->defaults, &ok);
        s_emit (defaults, &s_album_settings_table, &spec->defaults, &ok);
    }
    s_set (root, "defaults", defaults, &ok);
    json_t *albums = json_array ();
    for (size_t a = 0; albums && a < spec->n_albums; a++) {
        const spec_album_t *al = &spec->albums [a];
        json_t *ao = json_object ();
        if (!ao) {
            ok = false;
            break;
        }
        s_emit (ao, &s_album_table, al, &ok);
        s_emit (ao, &s_settings_table, &al->s, &ok);
        s_emit (ao, &s_album_settings_table, &al->s, &ok);
        json_t *tracks = json_array ();
        for (size_t i = 0; tracks && i < al->n_tracks; i++) {
            json_t *to = json_object ();
            if (to) {
                s_emit (to, &s_track_table, &al->tracks [i], &ok);
                s_emit (to, &s_settings_table, &al->tracks [i].s, &ok);
            }
            if (!to || json_array_append_new (tracks, to) != 0)
                ok = false;
        }
        s_set (ao, "tracks", tracks, &ok);
        if (json_array_append_new (albums, ao) != 0)
            ok = false;
    }
    s_set (root, "albums", albums, &ok);
    char *text = ok ? json_dumps (root, JSON_COMPACT | JSON_PRESERVE_ORDER
                                        | JSON_REAL_PRECISION (17)) : NULL;
    json_decref (root);
    return text;
}
