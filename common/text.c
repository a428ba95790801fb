/*  Text built piece by piece (see text.h).  */
#include "common/text.h"
#include "common/array.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
text_vprintf (text_t *t, const char *fmt, va_list ap)
{
    if (t->failed)
        return;
    for (;;) {
        va_list aq;
        va_copy (aq, ap);
        int k = vsnprintf (t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0,
                           fmt, aq);
        va_end (aq);
        if (k < 0) {
            t->failed = true;
            return;
        }
        if (t->buf && t->len + (size_t) k < t->cap) {
            t->len += (size_t) k;
            return;
        }
        if (array_reserve (&t->buf, &t->cap, t->len + (size_t) k + 1, 1, 1024)) {
            t->failed = true;
            return;
        }
    }
}

void
text_printf (text_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    text_vprintf (t, fmt, ap);
    va_end (ap);
}

char *
text_take (text_t *t, size_t *len)
{
    char *out = t->failed ? NULL : t->buf ? t->buf : strdup ("");
    if (t->failed)
        free (t->buf);
    if (len)
        *len = out ? t->len : 0;
    memset (t, 0, sizeof *t);
    return out;
}
