/*  Fallbacks for subcommands whose module is not in this build: weak
    definitions that a client/cmd_<name>.c replaces.  */
#include "client/commands.h"

#include <stdio.h>

//  Says the command is not available and exits as bad usage.
static int
s_pending (const char *name)
{
    fprintf (stderr, "masterfarm %s: not available in this build\n", name);
    return EXIT_USAGE;
}

#define PENDING(n) \
    __attribute__ ((weak)) int cmd_##n (int argc, char **argv) { return s_pending (#n); }
PENDING (run)
PENDING (album)
PENDING (master)
PENDING (analyze)
PENDING (submit)
PENDING (status)
PENDING (watch)
PENDING (cancel)
PENDING (retry)
