/*  masterfarm cancel: stops a job. Queued tasks are dropped, running ones
    are told to stop; outputs already delivered stay.  */
#include "client/commands.h"
#include "client/farmclient.h"

//  masterfarm cancel JOB --broker URL.
int
cmd_cancel (int argc, char **argv)
{
    return farmclient_cmd_job ("cancel", MASTERFARM__MSG_TYPE__CANCEL,
        "Cancels a job: queued tasks are dropped and running ones are told to\n"
        "stop. Outputs already delivered are kept.", argc, argv);
}
