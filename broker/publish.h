/*  Publication (see broker.h): the report processes that write
    report.json/html and manifest.json, moving each complete album from
    the job's staging root into the output root by one rename at
    deliver_at, the job's final state, and removing a job's
    intermediates.  */
#ifndef MF_BROKER_PUBLISH_H
#define MF_BROKER_PUBLISH_H

#include "broker/core.h"

//  In a report process just forked: closes every descriptor but the
//  standard ones (the broker's listening socket among them, so that a
//  broker restarted after kill -9 can bind its address at once while an
//  orphaned report process would still be hashing) and asks the kernel
//  to end this process with the broker, whose restart writes the report
//  again.
void publish_report_child_detach (pid_t parent);

//  Takes a delivered album OUTPUT_ROOT/<slug> back to staging_rel/<slug>
//  for a retry (unless staging already has one), by names under folder
//  descriptors opened beneath the output root; a delivery folder that is
//  a symbolic link is left alone. Failures are logged.
void publish_delivery_back (broker_t *self, const char *staging_rel, const char *slug,
                            uint64_t job_id);

//  Removes the intermediates of jobs done since the last call.
void publish_jobs_clean (broker_t *self);

//  Sets a job's state when all its tasks are final (and its albums out).
void publish_job_check (broker_t *self, job_t *job);

//  Collects finished report processes and moves their jobs on.
void publish_reap_reports (broker_t *self);

#endif
