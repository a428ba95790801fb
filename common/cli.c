/*  Command-line values (cli.h).  */
#include "common/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

//  --name=VALUE as two arguments; see cli.h.
char **
cli_split_long_opts (int argc, char **argv, int *argc_out)
{
    char **out = calloc ((size_t) argc * 2 + 1, sizeof *out);
    if (!out)
        return NULL;
    int n = 0;
    bool done = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv [i];
        const char *eq = i > 0 && !done && strncmp (a, "--", 2) == 0 ? strchr (a, '=') : NULL;
        if (i > 0 && strcmp (a, "--") == 0)
            done = true;
        if (!eq || eq == a + 2) {
            out [n++] = argv [i];
            continue;
        }
        char *name = strndup (a, (size_t) (eq - a));
        if (!name) {
            free (out);
            return NULL;
        }
        out [n++] = name;
        out [n++] = (char *) eq + 1;
    }
    out [n] = NULL;
    *argc_out = n;
    return out;
}
