/*  Prometheus text exposition of the broker's figures (see metrics.h).
    Written by hand: the format is a few lines per family and a client
    library would bring its own registry and threads for nothing.  */
#include "broker/metrics.h"
#include "common/text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Upper bounds of the task duration histogram, seconds: a no-op takes
//  milliseconds, an analysis seconds, a long high-rate assembly minutes.
static const double s_bounds [] = { 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
                                    300, 600, 1800 };
#define S_BUCKETS (sizeof s_bounds / sizeof s_bounds [0])

static const char *s_kind [METRICS_KINDS] = { "none", "analyze", "master", "assemble", "noop" };
static const char *s_job_state [METRICS_JOB_STATES] = {
    "none", "queued", "running", "done", "failed", "cancelled", "waiting-delivery" };

typedef struct {
    uint64_t buckets [S_BUCKETS];    //  not cumulative; summed when rendered
    uint64_t count;
    double   sum;
} s_histogram_t;

struct _metrics_t {
    s_histogram_t duration [METRICS_KINDS];
    uint64_t      attempts_failed [METRICS_KINDS];
    uint64_t      failed [METRICS_KINDS];        //  for good
    uint64_t      retries [METRICS_KINDS];
    double        audio_mastered_s;
};

//  The # HELP and # TYPE lines of a family.
static void
s_family (text_t *o, const char *name, const char *type, const char *help)
{
    text_printf (o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  A family of one unlabelled sample.
static void
s_single (text_t *o, const char *name, const char *type, const char *help, uint64_t v)
{
    s_family (o, name, type, help);
    text_printf (o, "%s %llu\n", name, (unsigned long long) v);
}

metrics_t *
metrics_new (void)
{
    return calloc (1, sizeof (metrics_t));
}

void
metrics_destroy (metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

//  A kind number in range, or 0.
static int
s_kind_index (int kind)
{
    return kind > 0 && kind < METRICS_KINDS ? kind : 0;
}

void
metrics_task_done (metrics_t *self, int kind, double elapsed_s, double audio_s)
{
    s_histogram_t *h = &self->duration [s_kind_index (kind)];
    if (!isfinite (elapsed_s) || elapsed_s < 0)
        elapsed_s = 0;                        //  a worker's figure: never trusted blindly
    size_t b = 0;
    while (b < S_BUCKETS && elapsed_s > s_bounds [b])
        b++;
    if (b < S_BUCKETS)
        h->buckets [b]++;
    h->count++;
    h->sum += elapsed_s;
    if (isfinite (audio_s) && audio_s > 0)
        self->audio_mastered_s += audio_s;
}

void
metrics_task_failed (metrics_t *self, int kind, bool retried)
{
    int k = s_kind_index (kind);
    self->attempts_failed [k]++;
    if (retried)
        self->retries [k]++;
    else
        self->failed [k]++;
}

//  One counter family labelled by task kind (analyze .. noop).
static void
s_by_kind (text_t *o, const char *name, const char *help, const uint64_t *v)
{
    s_family (o, name, "counter", help);
    for (int k = 1; k < METRICS_KINDS; k++)
        text_printf (o, "%s{kind=\"%s\"} %llu\n", name, s_kind [k], (unsigned long long) v [k]);
}

char *
metrics_render (const metrics_t *self, const metrics_sample_t *s, size_t *size)
{
    text_t o = { 0 };
    s_family (&o, "masterfarm_jobs", "gauge", "Jobs the broker holds, by state.");
    for (int i = 1; i < METRICS_JOB_STATES; i++)
        text_printf (&o, "masterfarm_jobs{state=\"%s\"} %llu\n", s_job_state [i],
               (unsigned long long) s->jobs [i]);
    s_family (&o, "masterfarm_tasks_queued", "gauge",
              "Tasks in the queue waiting for a worker slot, by the priority of their "
              "job (0-9).");
    for (int p = 0; p < METRICS_PRIORITIES; p++)
        text_printf (&o, "masterfarm_tasks_queued{priority=\"%d\"} %llu\n", p,
               (unsigned long long) s->queued [p]);
    s_single (&o, "masterfarm_tasks_deferred", "gauge",
              "Tasks waiting for the backoff after a resource failure.", s->deferred);
    s_single (&o, "masterfarm_workers_alive", "gauge", "Workers connected and heartbeating.",
              s->workers_alive);
    s_single (&o, "masterfarm_worker_slots", "gauge", "Task slots of the live workers.",
              s->slots);
    s_single (&o, "masterfarm_worker_slots_busy", "gauge", "Slots running a task.",
              s->slots_busy);
    s_single (&o, "masterfarm_reports_running", "gauge",
              "Processes writing an album's report and manifest.", s->reports_running);

    s_family (&o, "masterfarm_task_duration_seconds", "histogram",
              "Time a worker took for a task that succeeded, by kind.");
    for (int k = 1; k < METRICS_KINDS; k++) {
        const s_histogram_t *h = &self->duration [k];
        uint64_t cum = 0;
        for (size_t b = 0; b < S_BUCKETS; b++) {
            cum += h->buckets [b];
            text_printf (&o, "masterfarm_task_duration_seconds_bucket{kind=\"%s\",le=\"%g\"} %llu\n",
                   s_kind [k], s_bounds [b], (unsigned long long) cum);
        }
        text_printf (&o, "masterfarm_task_duration_seconds_bucket{kind=\"%s\",le=\"+Inf\"} %llu\n",
               s_kind [k], (unsigned long long) h->count);
        text_printf (&o, "masterfarm_task_duration_seconds_sum{kind=\"%s\"} %.6f\n", s_kind [k], h->sum);
        text_printf (&o, "masterfarm_task_duration_seconds_count{kind=\"%s\"} %llu\n", s_kind [k],
               (unsigned long long) h->count);
    }
    s_family (&o, "masterfarm_audio_mastered_seconds_total", "counter",
              "Seconds of audio mastered (one per track and profile).");
    text_printf (&o, "masterfarm_audio_mastered_seconds_total %.3f\n", self->audio_mastered_s);
    s_by_kind (&o, "masterfarm_task_attempts_failed_total",
               "Task attempts that failed (the task's error, a resource failure or the loss "
               "of its worker), by kind.",
               self->attempts_failed);
    s_by_kind (&o, "masterfarm_task_retries_total",
               "Failed attempts put back in the queue to be tried again, by kind.",
               self->retries);
    s_by_kind (&o, "masterfarm_tasks_failed_total",
               "Tasks that failed for good (their attempts ran out), by kind.", self->failed);

    s_single (&o, "masterfarm_malformed_dropped_total", "counter",
              "Messages dropped as malformed.", s->malformed_dropped);
    s_single (&o, "masterfarm_oversized_dropped_total", "counter",
              "Messages dropped for their size.", s->oversized_dropped);
    s_single (&o, "masterfarm_unknown_job_total", "counter",
              "Requests naming a job the broker does not know.", s->unknown_job);
    s_single (&o, "masterfarm_late_results_total", "counter",
              "Results of attempts the broker had given up on, for tasks not done yet.",
              s->late_results);
    s_single (&o, "masterfarm_duplicate_results_total", "counter",
              "Results of tasks already done, sent again after a reconnection.",
              s->duplicate_results);
    s_single (&o, "masterfarm_tasks_redispatched_total", "counter",
              "Tasks put back in the queue because their worker left, was lost or the "
              "broker restarted.", s->tasks_redispatched);
    s_single (&o, "masterfarm_workers_expired_total", "counter",
              "Workers declared dead after missed heartbeats.", s->workers_expired);
    s_single (&o, "masterfarm_curve_denied_total", "counter",
              "Connections refused by the CURVE allow-list.", s->curve_denied);
    return text_take (&o, size);
}
