/*  The album task graph (see broker.h for its shape): the plan made when
    every track of an album is analysed, advancing an album when one of
    its tasks ends (masters queued, assemblies started, the report process
    forked), attempts that failed and their retries, and the reasons an
    album is not complete.  */
#ifndef MF_BROKER_GRAPH_H
#define MF_BROKER_GRAPH_H

#include "broker/core.h"

//  After a task reached a final state: moves the graph on.
void graph_task_final (broker_t *self, task_t *t);

//  How an attempt ended when it did not succeed (see broker.h).
typedef enum {
    ATTEMPT_END_OWN,          //  the task's own failure: a strike
    ATTEMPT_END_RESOURCE,     //  the machine ran short: retried after a backoff
    ATTEMPT_END_LOST          //  its worker expired (killed, host lost)
} attempt_end_t;

//  Forgets how a task's attempts ended (a retry requested by the operator
//  starts it afresh) and persists that.
void graph_task_counts_clear (broker_t *self, task_t *t);

//  A failed attempt: retry (elsewhere when possible, after a backoff for a
//  resource failure) or fail for good when the limit of its kind is
//  reached. Attempts a broker restart cut short never get here.
void graph_task_attempt_failed (broker_t *self, task_t *t, int worker, const char *error,
                                attempt_end_t end);

//  Before master task t is dispatched: whether its track's file is still
//  the one the analysis read. The plan, tonal EQ and report were made
//  from the analysis, so a master of other audio would deliver something
//  they do not say. A status (taken before the analysis read the file)
//  that still matches, or was not recorded, is no change. A status that
//  changed with the analysis's digest known sets t->check_input: the
//  task carries the digest and the worker checks the file's content
//  against it (a chmod, a touch or a copy of the same bytes changes the
//  status, not the audio). A file gone, or changed with no digest known,
//  fails t for good (true), with no strike against a worker, saying what
//  to do.
bool graph_master_input_moved (broker_t *self, task_t *t);

//  After master task t reported success without checking its input's
//  content: whether the file's status differs now from the analysis's
//  (the file may have changed while the master read it).
bool graph_master_input_status_moved (broker_t *self, task_t *t);

//  Fails master task t for good, with no strike against a worker: its
//  input is not the file its analysis read (how: "changed", "went missing").
void graph_master_input_failed (broker_t *self, task_t *t, const char *how);

//  The one-album spec JSON the album's tasks carry.
const char *graph_album_json (job_t *job, album_t *a);

//  Plans every profile of an album from the analysed tracks and releases
//  or fails the master tasks.
void graph_album_plan (broker_t *self, job_t *job, album_t *a);

//  True when every analysis and every wanted master of the album is done.
bool graph_album_mastered (const album_t *a);

//  Lists why an album is not complete into out (at most cap entries), by
//  cause: analyses that failed, masters that failed on their own, plans
//  that could not be made, assemblies that failed on their own, and the
//  album's own failure (report, publication). Tasks that never ran
//  because of a cause listed are not repeated. Returns the count.
size_t graph_album_failures (const album_t *a, failure_t *out, size_t cap);

//  Sets the album correction of profile p from the JSON the state keeps
//  (store_shift_put). Returns 0, MF_ERR_FORMAT or MF_ERR_NOMEM.
int graph_album_shift_load (album_t *a, int p, const char *text);

//  Plans the album; after a retry's new analyses, keeps the masters
//  whose plan did not change.
void graph_album_replan (broker_t *self, job_t *job, album_t *a);

//  Moves an album's graph on as far as its task states allow.
void graph_album_advance (broker_t *self, job_t *job, album_t *a);

//  Keeps the names a done assembly's result gave (one per line) in its
//  album: the files that belong in the profile's folder.
void graph_asm_files_set (task_t *t, const Masterfarm__Result *res, bool sums);

#endif
