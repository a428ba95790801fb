/*  libsndfile's log, read (see sflog.h).  */
#include "common/sflog.h"

#include <stdio.h>
#include <string.h>

bool
sflog_cut_short (const char *log, long long *claimed, long long *held)
{
    for (const char *line = log; line && *line; ) {
        char id [8];
        long long a, b;
        if (sscanf (line, " %7s : %lld (should be %lld)", id, &a, &b) == 3
        &&  (!strcmp (id, "data") || !strcmp (id, "SSND"))
        &&  a > b && a != 0xffffffffll && b >= 0) {
            *claimed = a;
            *held = b;
            return true;
        }
        line = strchr (line, '\n');
        line = line ? line + 1 : NULL;
    }
    return false;
}
