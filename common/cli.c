/*  Command-line values (cli.h).  */
#include "common/cli.h"

#include "common/version.h"

#include <errno.h>
#include <signal.h>
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

int
cli_daemon_option (int c, const char *prog, void (*usage) (FILE *out))
{
    if (c == 'h') {
        usage (stdout);
        return 0;
    }
    if (c == 'V') {
        printf ("%s %s\n", prog, MF_VERSION);
        return 0;
    }
    usage (stderr);
    return 2;
}

int
cli_daemon_operands (int argc, char **argv, int optind, const char *prog,
                     void (*usage) (FILE *out))
{
    if (optind >= argc)
        return 0;
    fprintf (stderr, "%s: unexpected argument '%s'\n", prog, argv [optind]);
    usage (stderr);
    return 2;
}

void
cli_daemon_signals (void (*on_stop) (int), void (*on_hup) (int))
{
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    if (on_hup) {
        sa.sa_handler = on_hup;
        sigaction (SIGHUP, &sa, NULL);
    }
    signal (SIGPIPE, SIG_IGN);
}
