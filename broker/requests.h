/*  Client requests: SUBMIT (a job from a spec), STATUS, WATCH, and the
    job requests (retry, cancel, pause, resume, priority), and LOGS (the
    attempts of a job's tasks). Each answers the client that asked.  */
#ifndef MF_BROKER_REQUESTS_H
#define MF_BROKER_REQUESTS_H

#include "broker/core.h"

//  SUBMIT: validate fully, persist, answer with the id or every error.
void requests_on_submit (broker_t *self, const wire_msg_t *msg);

//  STATUS: one job with its tracks, or every job in summary; workers; counters.
void requests_on_status (broker_t *self, const wire_msg_t *msg);

//  WATCH: remember the client and send the first event at once.
void requests_on_watch (broker_t *self, const wire_msg_t *msg);

//  CANCEL and RETRY.
void requests_on_job_request (broker_t *self, const wire_msg_t *msg, bool cancel);

//  PRIORITY, PAUSE and RESUME of a job.
void requests_on_control_request (broker_t *self, const wire_msg_t *msg);

//  LOGS: every recorded attempt of a job's tasks (or of one album or
//  track), with worker, times, error and stderr tail.
void requests_on_logs (broker_t *self, const wire_msg_t *msg);

#endif
