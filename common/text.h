/*  Text built piece by piece: a growing NUL-terminated buffer with
    printf-style appends, for what is written whole in the end (the HTML
    report and dashboard, the metrics page, CUE sheets). Running out of
    memory is remembered rather than returned by every append: the
    builder looks at failed once, when it takes the text.  */
#ifndef MF_TEXT_H
#define MF_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char   *buf;            //  NUL-terminated once anything was added; NULL before
    size_t  len;            //  bytes, without the NUL
    size_t  cap;            //  bytes buf has room for
    bool    failed;         //  out of memory or a bad format: the text is incomplete
} text_t;

//  Appends printf-style text; nothing once failed is set (it is set
//  when memory runs out or the format cannot be printed).
void text_printf (text_t *t, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

//  text_printf with a va_list.
void text_vprintf (text_t *t, const char *fmt, va_list ap);

//  The text, handed over (the caller frees it; "" when nothing was added)
//  with its length into *len when len is not NULL. NULL when failed is
//  set or out of memory; the buffer is freed then. t is empty afterwards.
char *text_take (text_t *t, size_t *len);

#endif
