/*  The broker's figures in the Prometheus text exposition format (0.0.4):
    counters the broker loop adds to as things happen (task durations by
    kind as a histogram, failed attempts, tasks failed for good, retries,
    seconds of audio mastered) and gauges it samples when scraped (jobs by
    state, queue depth by priority, workers alive, slots). Every family
    carries # HELP and # TYPE; counters end in _total and count from the
    broker's start.  */
#ifndef MF_BROKER_METRICS_H
#define MF_BROKER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_KINDS      5      //  task kinds by their wire number, 1..4 used
#define METRICS_PRIORITIES 10     //  job priorities 0 .. 9
#define METRICS_JOB_STATES 7      //  job states by their wire number, 1..6 used

typedef struct _metrics_t metrics_t;

//  Figures sampled at scrape time by the broker.
typedef struct {
    uint64_t jobs [METRICS_JOB_STATES];              //  by JobState number
    uint64_t queued [METRICS_PRIORITIES];            //  queued tasks by job priority
    uint64_t deferred;                               //  waiting for a backoff to end
    uint64_t workers_alive;
    uint64_t slots;
    uint64_t slots_busy;
    uint64_t reports_running;                        //  report processes
    //  counters kept elsewhere (the status protocol's Counters, ZAP)
    uint64_t malformed_dropped;
    uint64_t oversized_dropped;
    uint64_t unknown_job;
    uint64_t late_results;
    uint64_t duplicate_results;
    uint64_t tasks_redispatched;
    uint64_t workers_expired;
    uint64_t curve_denied;
} metrics_sample_t;

//  A zeroed set of counters; NULL when out of memory.
metrics_t *metrics_new (void);

//  Frees; NULL-safe; sets *self_p to NULL.
void metrics_destroy (metrics_t **self_p);

//  A task of kind (wire number) finished well after elapsed_s seconds
//  on its worker; audio_s seconds of audio were mastered (0 for kinds
//  other than master). Out-of-range kinds are counted as none.
void metrics_task_done (metrics_t *self, int kind, double elapsed_s, double audio_s);

//  An attempt of a task of kind failed; retried says whether it goes
//  back to the queue (else it failed for good).
void metrics_task_failed (metrics_t *self, int kind, bool retried);

//  The exposition text (malloc'd, *size bytes, NUL-terminated), or NULL
//  when out of memory.
char *metrics_render (const metrics_t *self, const metrics_sample_t *sample, size_t *size);

#endif
