/*  Dispatch: queued tasks to free worker slots, each TASK carrying what
    its kind needs (the album's spec, a master's plan, inline data), and
    the reuse cache's side of it: a task whose analysis or master is in
    the cache completes with no attempt (broker/cache.h).  */
#ifndef MF_BROKER_DISPATCH_H
#define MF_BROKER_DISPATCH_H

#include "broker/core.h"

//  Records what a task's result lets the reuse cache find again: an
//  analysis with its input's digest, or a master's intermediate.
void dispatch_cache_put (broker_t *self, task_t *t, const Masterfarm__Result *res,
                         const store_output_t *outs, size_t n_out);

//  Gives queued tasks to workers with free slots, round robin.
void dispatch_run (broker_t *self);

#endif
