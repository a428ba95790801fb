/*  Jobs and their tasks in memory: built from a submitted spec, inserted
    into the broker's tables, freed, and loaded back from the state file
    when the broker restarts (tasks done stay done, those running at the
    restart are parked until their worker claims them).  */
#ifndef MF_BROKER_JOBS_H
#define MF_BROKER_JOBS_H

#include "broker/core.h"

//  Frees a job and everything it owns.
void jobs_job_free (job_t *job);

//  Parses a noop spec {"tasks": N}. Returns N, or -1 with err.
long jobs_noop_count (const char *text, char *err, size_t err_size);

//  Creates the in-memory job from a store row (spec parsed, albums laid
//  out, no tasks yet). Returns NULL (logged) when the spec does not parse.
job_t *jobs_job_new (const store_job_t *row);

//  Inserts a job into the sorted job list.
int jobs_job_insert (broker_t *self, job_t *job);

//  Inserts one task row and adds it in memory. Returns the task or NULL.
task_t *jobs_task_create (broker_t *self, job_t *job, int kind, int album, int track, int profile,
                          int state);

//  Rebuilds memory from the state file and moves every open job on.
int jobs_load (broker_t *self);

#endif
