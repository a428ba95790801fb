/*  Job spec parser: the parse context (see spec_ctx.h, private to the
    spec parser). Every error of a parse goes through here: the error list
    behind spec.h's spec_errors_*, the index that gives a JSON path its
    line and column, the getters that read and check one value, and the
    edit distance behind "did you mean".

    Positions. jansson gives line and column for syntax errors only; for
    the others a light second scan of the (known valid) text builds a
    sorted index from JSON path to the line and column of each key and
    value. The index is built on the first error only, so a clean spec
    costs nothing extra. Columns count bytes from 1.  */
#include "common/spec_ctx.h"
#include "common/array.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"

// ---------------------------------------------------------------------------
//  Errors

//  Appends an error with a preformatted va_list message.
int
spec_errors_addv (spec_errors_t *errs, const char *path, int line, int column,
                  const char *fmt, va_list ap)
{
    if (!errs)
        return 0;
    if (array_reserve (&errs->items, &errs->cap, errs->n + 1, sizeof *errs->items, 8))
        return MF_ERR_NOMEM;
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
    int rc = spec_errors_addv (errs, path, line, column, fmt, ap);
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

typedef struct spec_pos_s {
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
    if (array_reserve (&w->items, &w->cap, w->n + 1, sizeof *w->items, 64)) {
        w->failed = true;
        return;
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

//  Builds the position index once.
static void
s_ctx_index (spec_ctx_t *ctx)
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
void
spec_ctx_fail (spec_ctx_t *ctx, const char *path, bool at_key, const char *fmt, ...)
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
    spec_errors_addv (ctx->errs, path, line, col, fmt, ap);
    va_end (ap);
    ctx->n_errors++;
}

//  Frees the position index.
void
spec_ctx_free (spec_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->n_pos; i++)
        free (ctx->pos [i].path);
    free (ctx->pos);
    ctx->pos = NULL;
    ctx->n_pos = 0;
}

//  Writes parent + "." + key into buf.
const char *
spec_ctx_key_path (char *buf, const char *parent, const char *key)
{
    if (snprintf (buf, SPEC_PATH_MAX, "%s.%s", parent, key) >= SPEC_PATH_MAX)
        buf [SPEC_PATH_MAX - 2] = '~';        //  truncated: mark it, still a usable path
    return buf;
}

//  Writes parent + "[i]" into buf.
const char *
spec_ctx_index_path (char *buf, const char *parent, size_t i)
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

//  One step of looking for the allowed key nearest to key: name replaces
//  *best when it is nearer than *best_d (start at SPEC_CTX_SUGGEST_MAX) and than
//  half its own length.
void
spec_ctx_suggest_step (const char *key, const char *name, const char **best, size_t *best_d)
{
    size_t d = s_edit_distance (key, name);
    if (d < *best_d && d * 2 < strlen (name)) {
        *best = name;
        *best_d = d;
    }
}

//  A short name of a JSON value's type, for messages.
const char *
spec_ctx_type_name (const json_t *v)
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
bool
spec_ctx_get_num (spec_ctx_t *ctx, const json_t *v, const char *path, double lo, double hi,
                  double *out)
{
    if (!json_is_number (v)) {
        spec_ctx_fail (ctx, path, false, "expected a number from %g to %g, got %s", lo, hi,
                       spec_ctx_type_name (v));
        return false;
    }
    double x = json_number_value (v);
    if (!(x >= lo && x <= hi)) {
        spec_ctx_fail (ctx, path, false, "%g is out of range; allowed %g .. %g", x, lo, hi);
        return false;
    }
    *out = x;
    return true;
}

//  Reads an integer within [lo, hi]. Returns true and sets *out, or reports.
bool
spec_ctx_get_int (spec_ctx_t *ctx, const json_t *v, const char *path, long long lo,
                  long long hi, int *out)
{
    if (!json_is_integer (v)) {
        spec_ctx_fail (ctx, path, false, "expected an integer from %lld to %lld, got %s",
                       lo, hi, spec_ctx_type_name (v));
        return false;
    }
    long long x = json_integer_value (v);
    if (x < lo || x > hi) {
        spec_ctx_fail (ctx, path, false, "%lld is out of range; allowed %lld .. %lld",
                       x, lo, hi);
        return false;
    }
    *out = (int) x;
    return true;
}

//  Reads a boolean. Returns true and sets *out, or reports.
bool
spec_ctx_get_bool (spec_ctx_t *ctx, const json_t *v, const char *path, bool *out)
{
    if (!json_is_boolean (v)) {
        spec_ctx_fail (ctx, path, false, "expected true or false, got %s",
                       spec_ctx_type_name (v));
        return false;
    }
    *out = json_is_true (v);
    return true;
}

//  Reads a string. Returns it (owned by the tree) or NULL after reporting.
const char *
spec_ctx_get_str (spec_ctx_t *ctx, const json_t *v, const char *path)
{
    if (!json_is_string (v)) {
        spec_ctx_fail (ctx, path, false, "expected a string, got %s", spec_ctx_type_name (v));
        return NULL;
    }
    return json_string_value (v);
}

//  Index of name in names (n of them), or -1.
int
spec_ctx_enum_find (const char *name, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp (name, names [i]) == 0)
            return i;
    return -1;
}

//  Reads one of names (find, when given, also knows aliases); reports the
//  allowed list otherwise, calling a value what ("value" when NULL).
//  Returns the index or -1.
int
spec_ctx_get_enum (spec_ctx_t *ctx, const json_t *v, const char *path,
                   const char *const *names, int n, int (*find) (const char *name),
                   const char *what)
{
    const char *s = spec_ctx_get_str (ctx, v, path);
    if (!s)
        return -1;
    int i = find ? find (s) : spec_ctx_enum_find (s, names, n);
    if (i < 0) {
        char allowed [256] = "";
        for (int k = 0; k < n; k++) {
            strcat (allowed, k ? ", " : "");
            strcat (allowed, names [k]);
        }
        spec_ctx_fail (ctx, path, false, "unknown %s '%s'; allowed: %s",
                       what ? what : "value", s, allowed);
    }
    return i;
}

//  True if the text has a control character (titles end up in CUE sheets and tags).
bool
spec_ctx_has_control (const char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

//  Reads a non-empty single-line text into a new string (*out, replacing).
//  Returns true, or false after reporting.
bool
spec_ctx_get_text (spec_ctx_t *ctx, const json_t *v, const char *path, char **out)
{
    const char *s = spec_ctx_get_str (ctx, v, path);
    if (!s)
        return false;
    if (!*s) {
        spec_ctx_fail (ctx, path, false, "must not be empty");
        return false;
    }
    if (spec_ctx_has_control (s)) {
        spec_ctx_fail (ctx, path, false,
                       "must not contain control characters (line breaks, tabs)");
        return false;
    }
    char *copy = strdup (s);
    if (!copy) {
        spec_ctx_fail (ctx, path, false, "out of memory");
        return false;
    }
    free (*out);
    *out = copy;
    return true;
}
