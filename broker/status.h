/*  What the broker tells: a job's status (per album, per track, its
    failures), the watch events sent when a job changed, progress and the
    time left from measured task costs, and the HTTP views (dashboard,
    status.json, reports, metrics).  */
#ifndef MF_BROKER_STATUS_H
#define MF_BROKER_STATUS_H

#include "broker/core.h"

typedef struct {
    Masterfarm__JobStatus     js;
    Masterfarm__TrackStatus  *ts;
    Masterfarm__TrackStatus **tsp;
    Masterfarm__Failure      *fs;
    Masterfarm__Failure     **fsp;
    Masterfarm__AlbumStatus  *as;
    Masterfarm__AlbumStatus **asp;
    char                    (*track_stage) [64];   //  per track row (tracks mode)
    char                    (*album_text) [3][128]; //  per album: stage, profiles,
                                                    //  queued
} status_t;

//  Fills a JobStatus (with per-track rows when tracks is true); free with
//  status_free.
void status_fill (broker_t *self, job_t *job, bool tracks, status_t *s);

//  Frees what status_fill allocated.
void status_free (status_t *s);

//  Sends a WatchEvent for a job to one watcher.
void status_send_watch (broker_t *self, const watcher_t *wt, job_t *job);

//  Sends events to the watchers of changed jobs (all=true: of every job);
//  drops watchers whose job is final.
void status_watch_notify (broker_t *self, bool all);

//  The HTTP port's pages: / (dashboard), /metrics, /status.json and the
//  albums' reports; anything else is 404.
void status_http_handle (void *arg, const char *path, http_reply_t *reply);

//  Reads every track's duration from its header (see control.h). Fast:
//  the header only, one open per track.
void status_job_durations (broker_t *self, job_t *job);

//  True while a task is on a worker.
bool status_task_running (const task_t *t);

//  Records a job's first dispatch.
void status_job_started (broker_t *self, job_t *job, int64_t now_ms);

//  Records that a job reached a final state (finished) or left it again
//  (a retry).
void status_job_finished (broker_t *self, job_t *job, bool finished);

//  Call before clearing job->paused: the time the job sat paused while it
//  had started and not ended is added to its idle time (not running).
void status_job_unpaused (broker_t *self, job_t *job);

//  Records what a finished task cost: the time its slot was taken, from
//  dispatch to result (what the task process measured, elapsed_s, leaves
//  out its start, its input's transfer and its result's, which weigh on
//  short tasks), or elapsed_s for a task adopted after a restart.
void status_task_cost (task_t *t, double elapsed_s);

//  Records what an album's report (and manifest) process cost.
void status_report_cost (job_t *job, const album_t *a);

#endif
