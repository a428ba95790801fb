/*  The workers as the broker knows them: registered by READY (keyed by
    routing id), alive while they heartbeat, lost when silent for
    BROKER_LIVENESS intervals (their tasks go back to the queue), and
    their RESULT messages, which end an attempt: a master or analysis
    recorded, an assembly committed, or a failure counted (broker.h).  */
#ifndef MF_BROKER_WORKERS_H
#define MF_BROKER_WORKERS_H

#include "broker/core.h"

//  A worker is gone (expired, left or re-registered): its tasks go back.
//  expired: the attempts count as lost with their worker, no strike
//  against the task, up to BROKER_MAX_LOST (a task that kills its worker
//  must not loop for ever); otherwise they are handed back free.
void workers_lost (broker_t *self, worker_info_t *w, const char *reason, bool expired);

//  READY: a worker (re-)registers.
void workers_on_ready (broker_t *self, const wire_msg_t *msg);

//  Gives a worker a task it already runs: one put back in the queue by a
//  broker restart whose attempt the worker still holds. Returns true when
//  adopted.
bool workers_adopt (broker_t *self, worker_info_t *w, task_t *t, uint32_t attempt);

//  Counts a result the broker does not use: in duplicate_results when its
//  task is already done (a worker sends recent results again after it
//  reconnects, so a healed network brings back copies of what was already
//  taken), otherwise in late_results (an attempt given up on, or a task
//  not known). Returns true for a duplicate.
bool workers_count_stray_result (broker_t *self, const Masterfarm__Result *res);

//  RESULT: commit a finished attempt, or retry / fail a failed one.
void workers_on_result (broker_t *self, worker_info_t *w, const wire_msg_t *msg);

#endif
