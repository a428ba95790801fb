/*  Job spec parser, private: the parse context every spec module reports
    through. Only the spec parser's own files include this header (spec.c,
    spec_keys.c, spec_settings.c, spec_job.c, spec_csv.c); callers use
    common/spec.h.

    It owns
      - the error list: spec.h's spec_errors_add, spec_errors_clear and
        spec_errors_print are defined in spec_ctx.c, with
        spec_errors_addv (the va_list form) for the other spec modules;
      - the position index: jansson gives line and column for syntax
        errors only; for the others a light second scan of the (known
        valid) text builds a sorted index from JSON path to the line and
        column of each key and value. The index is built on the first
        error only, so a clean spec costs nothing extra. Columns count
        bytes from 1;
      - the parse context (spec_ctx_t) and spec_ctx_fail, which adds an
        error at a JSON path with its line and column;
      - JSON paths ("$.albums[0].tracks[2].gap_s") built key by key;
      - the value getters (a number in a range, an integer, a boolean, a
        string, one of a list of names, a single-line text), each of which
        reports what it refuses;
      - "did you mean": the edit distance between a key and the allowed
        keys.  */
#ifndef MF_SPEC_CTX_H
#define MF_SPEC_CTX_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/spec.h"

#define SPEC_PATH_MAX          512    //  bytes of a JSON path we build
#define SPEC_CTX_SUGGEST_MAX   3      //  a suggestion is nearer than this

//  One parse: where errors go, and the JSON text their positions are
//  looked up in.
typedef struct {
    spec_errors_t     *errs;
    const char        *text;         //  JSON source, for positions (NULL: none)
    size_t             len;
    struct spec_pos_s *pos;          //  sorted; built on the first error
    size_t             n_pos;
    bool               pos_built;
    size_t             n_errors;     //  errors added by this parse
} spec_ctx_t;

//  Appends an error with a preformatted va_list message (spec_errors_add
//  with a va_list). Returns 0 or MF_ERR_NOMEM (the error is then lost).
int spec_errors_addv (spec_errors_t *errs, const char *path, int line, int column,
                      const char *fmt, va_list ap);

//  Adds an error at a JSON path, with the position of the value (or of
//  the key when at_key) if the index knows it; counts it in n_errors.
void spec_ctx_fail (spec_ctx_t *ctx, const char *path, bool at_key, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

//  Frees the position index (the errors stay in ctx->errs).
void spec_ctx_free (spec_ctx_t *ctx);

//  Writes parent + "." + key into buf (SPEC_PATH_MAX bytes). Returns buf.
const char *spec_ctx_key_path (char *buf, const char *parent, const char *key);

//  Writes parent + "[i]" into buf (SPEC_PATH_MAX bytes). Returns buf.
const char *spec_ctx_index_path (char *buf, const char *parent, size_t i);

//  One step of looking for the allowed key nearest to key: name replaces
//  *best when it is nearer than *best_d (start at SPEC_CTX_SUGGEST_MAX)
//  and than half its own length.
void spec_ctx_suggest_step (const char *key, const char *name, const char **best,
                            size_t *best_d);

//  A short name of a JSON value's type, for messages ("an object").
const char *spec_ctx_type_name (const json_t *v);

//  Reads a number within [lo, hi]. Returns true and sets *out, or reports.
bool spec_ctx_get_num (spec_ctx_t *ctx, const json_t *v, const char *path, double lo,
                       double hi, double *out);

//  Reads an integer within [lo, hi]. Returns true and sets *out, or reports.
bool spec_ctx_get_int (spec_ctx_t *ctx, const json_t *v, const char *path, long long lo,
                       long long hi, int *out);

//  Reads a boolean. Returns true and sets *out, or reports.
bool spec_ctx_get_bool (spec_ctx_t *ctx, const json_t *v, const char *path, bool *out);

//  Reads a string. Returns it (owned by the tree) or NULL after reporting.
const char *spec_ctx_get_str (spec_ctx_t *ctx, const json_t *v, const char *path);

//  Index of name in names (n of them), or -1.
int spec_ctx_enum_find (const char *name, const char *const *names, int n);

//  Reads one of names (find, when given, also knows aliases); reports the
//  allowed list otherwise, calling a value what ("value" when NULL).
//  Returns the index or -1.
int spec_ctx_get_enum (spec_ctx_t *ctx, const json_t *v, const char *path,
                       const char *const *names, int n, int (*find) (const char *name),
                       const char *what);

//  True if the text has a control character (titles end up in CUE sheets and tags).
bool spec_ctx_has_control (const char *s);

//  Reads a non-empty single-line text into a new string (*out, replacing).
//  Returns true, or false after reporting.
bool spec_ctx_get_text (spec_ctx_t *ctx, const json_t *v, const char *path, char **out);

#endif
