/*  masterfarm retry: queues the failed tasks of a job again (with fresh
    attempts), e.g. after fixing a bad input file.  */
#include "client/commands.h"
#include "client/farmclient.h"

//  masterfarm retry JOB --broker URL.
int
cmd_retry (int argc, char **argv)
{
    return farmclient_cmd_job ("retry", MASTERFARM__MSG_TYPE__RETRY,
        "Queues every failed task of a job again with fresh attempts, e.g.\n"
        "after a bad input file was replaced. Finished tasks are not redone.", argc, argv);
}
