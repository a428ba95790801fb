/*  Job spec parser: CSV catalogs (spec.h's spec_parse_csv), one track a
    line, for the simple case of a catalog kept in a spreadsheet.

    RFC 4180 records (quoted fields, doubled quotes, CRLF or LF, line
    breaks inside quotes); the header names the columns, in any order
    (album, track and path needed; title, artist, isrc, gap_s,
    fade_in_s, fade_out_s optional). Rows are grouped into albums in the
    order albums first appear, tracks ordered by their number; every other
    setting is spec_settings_default's. Errors name "line N, column
    <name>", and parsing goes on after each.  */
#include "common/spec.h"
#include "common/array.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fsutil.h"
#include "common/profile.h"
#include "common/spec_ctx.h"
#include "common/spec_job.h"
#include "common/spec_keys.h"

//  The columns of a CSV catalog (the keys of the JSON objects are in
//  tables, spec_settings.c and spec_job.c).
static const char *const s_csv_columns [] =
    { "album", "track", "path", "title", "artist", "isrc", "gap_s", "fade_in_s",
      "fade_out_s", NULL };

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
    if (array_reserve (&r->f, &r->cap, r->n + 1, sizeof *r->f, 16))
        return MF_ERR_NOMEM;
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
                if (array_reserve (&buf, &cap, n + 2, 1, 64)) {
                    free (buf);
                    return MF_ERR_NOMEM;
                }
                buf [n++] = ch;
            }
        }
        else
            while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                if (array_reserve (&buf, &cap, n + 2, 1, 64)) {
                    free (buf);
                    return MF_ERR_NOMEM;
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
    spec_errors_addv (errs, where, line, column, fmt, ap);
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
        int k = spec_ctx_enum_find (h, s_csv_columns, 9);
        if (k < 0) {
            const char *hint = NULL;
            size_t hint_d = SPEC_CTX_SUGGEST_MAX;
            for (const char *const *c = s_csv_columns; *c; c++)
                spec_ctx_suggest_step (h, *c, &hint, &hint_d);
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
                    else if (spec_ctx_has_control (v))
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
                    if (spec_ctx_has_control (v))
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
                    if (!spec_isrc_normalise (v, norm))
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
        &&  !(row->track.title = spec_job_title_from_path (row->track.path)))
            goto nomem;
    }
    if (n_rows == 0 && n_errors == 0) {
        spec_errors_add (errs, "line 2", 2, 0, "the catalog has no tracks");
        n_errors++;
    }

    //  group rows into albums in order of first appearance (rows whose
    //  album or number is unusable were reported and are left out; the
    //  grouping still runs so that duplicate numbers are reported too)
    spec = spec_job_new ();
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
        spec_job_track_free (&rows [i].track);
    }
    free (rows);
    if (n_errors > 0)
        spec_destroy (&spec);
    return spec;
}
