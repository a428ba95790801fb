/*  masterfarm retry: queues the failed tasks of a job again (with fresh
    attempts), e.g. after fixing a bad input file; --album and --track
    narrow it to one album or one track.  */
#include "client/commands.h"
#include "client/farmclient.h"

//  masterfarm retry JOB [--album A [--track N]] --broker URL.
int
cmd_retry (int argc, char **argv)
{
    return farmclient_cmd_job ("retry", MASTERFARM__MSG_TYPE__RETRY,
        "Queues the failed tasks of a job again with fresh attempts, e.g.\n"
        "after a bad input file was replaced, and what depends on them.\n"
        "Finished tasks are not redone. --album runs again only what failed in\n"
        "that album; with --track, only that track's failed tasks and the\n"
        "assemblies that need them.", argc, argv);
}
