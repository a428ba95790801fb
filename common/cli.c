/*  Command-line values (cli.h).  */
#include "common/cli.h"

#include <errno.h>
#include <stdlib.h>

bool
cli_long (const char *text, long lo, long hi, long *out)
{
    if (!text || !*text)
        return false;
    char *end = NULL;
    errno = 0;
    long v = strtol (text, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool
cli_double (const char *text, double lo, double hi, double *out)
{
    if (!text || !*text)
        return false;
    char *end = NULL;
    double v = strtod (text, &end);
    if (end == text || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}
