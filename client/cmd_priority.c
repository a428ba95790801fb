/*  masterfarm priority, pause and resume: a job's place in the queue.
    priority JOB N sets the job's priority (0 .. 9, higher first) for the
    tasks not yet dispatched. pause JOB stops dispatching the job's tasks
    (running ones finish); resume JOB queues them again. A pause survives
    a broker restart.  */
#include "client/commands.h"
#include "client/farmclient.h"

//  masterfarm priority JOB N --broker URL.
int
cmd_priority (int argc, char **argv)
{
    return farmclient_cmd_job ("priority", MASTERFARM__MSG_TYPE__PRIORITY,
        "Sets a job's priority, 0 to 9 (higher runs first; the spec's \"priority\"\n"
        "is the default). Tasks already running are not affected.", argc, argv);
}

//  masterfarm pause JOB --broker URL.
int
cmd_pause (int argc, char **argv)
{
    return farmclient_cmd_job ("pause", MASTERFARM__MSG_TYPE__PAUSE,
        "Pauses a job: nothing new of it is dispatched; tasks already running\n"
        "finish. The pause is kept across broker restarts until 'masterfarm\n"
        "resume JOB'.", argc, argv);
}

//  masterfarm resume JOB --broker URL.
int
cmd_resume (int argc, char **argv)
{
    return farmclient_cmd_job ("resume", MASTERFARM__MSG_TYPE__RESUME,
        "Resumes a paused job: its queued tasks are dispatched again.", argc, argv);
}
