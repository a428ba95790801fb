/*  Jobs and their tasks in memory (see jobs.h).  */
#include "broker/jobs.h"

#include <math.h>

#include <string.h>

#include "broker/graph.h"
#include "broker/publish.h"
#include "broker/status.h"

//  Adds a task to a job (and the id index) from a store row.
static task_t *
s_task_add (broker_t *self, job_t *job, const store_task_t *row)
{
    task_t *t = calloc (1, sizeof *t);
    if (!t)
        return NULL;
    t->sched.id = row->id;
    t->sched.job_id = job->id;
    t->sched.priority = job->priority;
    t->sched.deadline_ms = job->deadline_ms;
    t->sched.avoid_worker = -1;
    t->sched.heap_index = SCHED_NOT_QUEUED;
    t->job = job;
    t->album = row->album;
    t->track = row->track;
    t->worker = -1;
    t->kind = (int8_t) row->kind;
    t->state = (int8_t) row->state;
    t->profile = (int8_t) row->profile;
    t->attempts = (uint16_t) (row->attempts > 0 && row->attempts <= UINT16_MAX
                              ? row->attempts : 0);
    t->strikes = (uint8_t) (row->strikes > 0 && row->strikes <= UINT8_MAX ? row->strikes : 0);
    t->lost = (uint8_t) (row->lost > 0 && row->lost <= UINT8_MAX ? row->lost : 0);
    t->resource = (uint8_t) (row->resource > 0 && row->resource <= UINT8_MAX
                             ? row->resource : 0);
    if (row->last_error)
        t->last_error = strdup (row->last_error);
    if (core_tasks_push (&job->tasks, &job->n_tasks, &job->cap_tasks, 16, t)) {
        free (t);
        return NULL;
    }
    if (row->id >= self->n_by_id) {
        size_t n = self->n_by_id ? self->n_by_id : 1024;
        while (n <= row->id)
            n *= 2;
        task_t **by = realloc (self->by_id, n * sizeof *by);
        if (!by)
            return NULL;
        memset (by + self->n_by_id, 0, (n - self->n_by_id) * sizeof *by);
        self->by_id = by;
        self->n_by_id = n;
    }
    self->by_id [row->id] = t;
    if (row->state == T_DONE) job->done++;
    if (row->state == T_FAILED) job->failed++;
    if (row->state == T_CANCELLED) job->cancelled++;
    //  Place it in its album.
    if (t->album >= 0 && (size_t) t->album < job->n_albums) {
        album_t *a = &job->albums [t->album];
        size_t nt = a->spec->n_tracks;
        if (t->kind == K_ANALYZE && t->track >= 0 && (size_t) t->track < nt + a->n_refs)
            a->analyze [t->track] = t;
        else
        if (t->kind == K_MASTER && t->track >= 0 && (size_t) t->track < nt
        &&  t->profile >= 0 && t->profile < PROFILE_COUNT)
            a->master [t->track * PROFILE_COUNT + t->profile] = t;
        else
        if (t->kind == K_ASSEMBLE && t->profile >= 0 && t->profile < PROFILE_COUNT)
            a->assemble [t->profile] = t;
    }
    return t;
}

//  Frees a job and everything it owns.
void
jobs_job_free (job_t *job)
{
    if (!job)
        return;
    for (size_t i = 0; i < job->n_tasks; i++) {
        free (job->tasks [i]->last_error);
        free (job->tasks [i]->report);
        free (job->tasks [i]);
    }
    free (job->tasks);
    for (size_t i = 0; i < job->n_albums; i++) {
        album_t *a = &job->albums [i];
        for (size_t t = 0; a->analyses && t < a->spec->n_tracks + a->n_refs; t++)
            measure_free (&a->analyses [t]);
        free (a->analyses);
        free (a->analyzed);
        free (a->in_stat);
        free (a->repeat);
        free (a->analyze);
        free (a->master);
        free (a->sub.tracks);
        free (a->sub_idx);
        free (a->json);
        free (a->error);
        free (a->dur_s);
        for (int p = 0; p < PROFILE_COUNT; p++) {
            free (a->asm_files [p]);
            free (a->asm_sums [p]);
            planner_plan_free (&a->plans [p]);
            free (a->plan_err [p]);
            free (a->shift [p]);
        }
    }
    free (job->albums);
    free (job->held);
    spec_destroy (&job->spec);
    free (job->name);
    free (job);
}

//  Parses a noop spec {"tasks": N}. Returns N, or -1 with err.
long
jobs_noop_count (const char *text, char *err, size_t err_size)
{
    json_error_t jerr;
    json_t *o = json_loads (text, 0, &jerr);
    json_t *n = json_object_get (o, "tasks");
    long count = -1;
    if (!o)
        snprintf (err, err_size, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    else
    if (!json_is_integer (n) || json_integer_value (n) < 1
    ||  json_integer_value (n) > BROKER_MAX_NOOP_TASKS)
        snprintf (err, err_size, "$.tasks: give a whole number from 1 to %d",
                  BROKER_MAX_NOOP_TASKS);
    else
        count = (long) json_integer_value (n);
    json_decref (o);
    return count;
}

typedef struct {
    const char *path;
    size_t      order;          //  album-major position in the job
    bool       *mark;
} s_input_t;

static int
s_input_cmp (const void *a, const void *b)
{
    const s_input_t *x = a, *y = b;
    int c = strcmp (x->path, y->path);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

//  Marks every track whose input file is an earlier track's of the same
//  job (a compilation repeating an album's track, a catalog listing an
//  album twice): once the first is analysed, the others' analyses come
//  from the reuse cache, and progress counts no work for them.
static void
s_mark_repeats (job_t *job)
{
    size_t n = 0;
    for (size_t i = 0; i < job->n_albums; i++)
        n += job->albums [i].spec->n_tracks + job->albums [i].n_refs;
    s_input_t *in = n > 1 ? malloc (n * sizeof *in) : NULL;
    if (!in)
        return;                 //  no repeats known: progress counts every analysis
    size_t k = 0;
    for (size_t i = 0; i < job->n_albums; i++) {
        album_t *a = &job->albums [i];
        for (size_t t = 0; t < a->spec->n_tracks + a->n_refs; t++, k++) {
            const char *p = core_input_path (a, t);
            in [k] = (s_input_t) { p ? p : "", k, &a->repeat [t] };
        }
    }
    qsort (in, n, sizeof *in, s_input_cmp);
    for (k = 1; k < n; k++)
        *in [k].mark = *in [k].path && strcmp (in [k].path, in [k - 1].path) == 0;
    free (in);
}

//  Creates the in-memory job from a store row (spec parsed, albums laid
//  out, no tasks yet). Returns NULL (logged) when the spec does not parse.
job_t *
jobs_job_new (const store_job_t *row)
{
    job_t *job = calloc (1, sizeof *job);
    if (!job)
        return NULL;
    job->id = row->id;
    job->name = strdup (row->name ? row->name : "");
    job->priority = row->priority;
    job->deadline_ms = row->deadline_ms;
    job->deliver_at_ms = row->deliver_at_ms;
    job->submitted_ms = row->submitted_ms;
    job->state = row->state;
    job->paused = row->paused;
    //  a pause across a restart counts from the restart
    job->pause_ms = job->paused ? clock_wall_ms () : 0;
    job->started_ms = row->started_ms;
    job->finished_ms = row->finished_ms;
    job->idle_ms = row->idle_ms;
    const char *format = row->format ? row->format : "json";
    if (strcmp (format, "noop") == 0) {
        job->noop = true;
        return job;
    }
    spec_errors_t errs = { 0 };
    size_t len = row->spec ? strlen (row->spec) : 0;
    job->spec = strcmp (format, "csv") == 0
              ? spec_parse_csv (row->spec ? row->spec : "", len, row->origin, &errs)
              : spec_parse_json (row->spec ? row->spec : "", len, row->origin, &errs);
    spec_errors_clear (&errs);
    if (!job->spec) {
        log_error ("job %llu: its stored spec no longer parses; job skipped",
                   (unsigned long long) row->id);
        jobs_job_free (job);
        return NULL;
    }
    job->n_albums = job->spec->n_albums;
    job->albums = calloc (job->n_albums ? job->n_albums : 1, sizeof *job->albums);
    if (!job->albums) {
        jobs_job_free (job);
        return NULL;
    }
    for (size_t i = 0; i < job->n_albums; i++) {
        album_t *a = &job->albums [i];
        a->idx = (int) i;
        a->spec = &job->spec->albums [i];
        a->n_refs = a->spec->s.tonal.match == TONAL_REFERENCE
                  ? (size_t) a->spec->s.tonal.n_refs : 0;
        size_t n = a->spec->n_tracks ? a->spec->n_tracks : 1, n_in = n + a->n_refs;
        a->analyze = calloc (n_in, sizeof *a->analyze);
        a->master = calloc (n * PROFILE_COUNT, sizeof *a->master);
        a->analyses = calloc (n_in, sizeof *a->analyses);
        a->analyzed = calloc (n_in, sizeof *a->analyzed);
        a->sub_idx = calloc (n, sizeof *a->sub_idx);
        a->dur_s = calloc (n_in, sizeof *a->dur_s);
        a->in_stat = calloc (n_in, sizeof *a->in_stat);
        a->repeat = calloc (n_in, sizeof *a->repeat);
        for (int p = 0; p < PROFILE_COUNT; p++)
            for (int r = 0; r <= PLANNER_ALBUM_ROUNDS; r++)
                a->shift_read [p][r] = NAN;
        if (!a->analyze || !a->master || !a->analyses || !a->analyzed || !a->sub_idx
        ||  !a->dur_s || !a->in_stat || !a->repeat) {
            jobs_job_free (job);
            return NULL;
        }
        //  Unique slug within the job.
        char slug [FSUTIL_NAME_MAX + 1];
        if (deliver_album_slug (a->spec, slug, sizeof slug))
            snprintf (slug, sizeof slug, "album-%zu", i + 1);
        snprintf (a->slug, sizeof a->slug, "%s", slug);
        for (size_t k = 0, dup = 1; k < i; k++)
            if (strcmp (job->albums [k].slug, a->slug) == 0) {
                snprintf (a->slug, sizeof a->slug, "%s-%zu", slug, ++dup);
                k = (size_t) -1;
            }
    }
    s_mark_repeats (job);
    return job;
}

//  Inserts a job into the sorted job list.
int
jobs_job_insert (broker_t *self, job_t *job)
{
    job_t **jobs = realloc (self->jobs, (self->n_jobs + 1) * sizeof *jobs);
    if (!jobs)
        return MF_ERR_NOMEM;
    self->jobs = jobs;
    size_t i = self->n_jobs;
    while (i > 0 && jobs [i - 1]->id > job->id) {
        jobs [i] = jobs [i - 1];
        i--;
    }
    jobs [i] = job;
    self->n_jobs++;
    return 0;
}

//  Inserts one task row and adds it in memory. Returns the task or NULL.
task_t *
jobs_task_create (broker_t *self, job_t *job, int kind, int album, int track, int profile,
                  int state)
{
    store_task_t row = { .job_id = job->id, .kind = kind, .album = album, .track = track,
                         .profile = profile, .state = state };
    if (store_task_insert (self->store, &row))
        return NULL;
    return s_task_add (self, job, &row);
}

typedef struct {
    broker_t *self;
    job_t  *last;
    int       rc;
} s_load_t;

//  Loads one job row.
static int
s_load_job (void *arg, const store_job_t *row)
{
    s_load_t *l = arg;
    job_t *job = jobs_job_new (row);
    if (job && jobs_job_insert (l->self, job)) {
        jobs_job_free (job);
        return MF_ERR_NOMEM;
    }
    if (job && !core_job_state_final (job->state))
        status_job_durations (l->self, job);
    return 0;
}

//  Loads one task row into its job.
static int
s_load_task (void *arg, const store_task_t *row)
{
    s_load_t *l = arg;
    job_t *job = l->last && l->last->id == row->job_id ? l->last
                 : core_job_find (l->self, row->job_id);
    l->last = job;
    if (!job)
        return 0;
    task_t *t = s_task_add (l->self, job, row);
    if (!t)
        return MF_ERR_NOMEM;
    if (t->state == T_DISPATCHED || t->state == T_RUNNING) {
        //  Running when the broker stopped: back to the queue (store_recover),
        //  after a grace period in which its worker may still claim it.
        t->state = T_QUEUED;
        task_t **p = realloc (l->self->parked, (l->self->n_parked + 1) * sizeof *p);
        if (!p)
            return MF_ERR_NOMEM;
        l->self->parked = p;
        p [l->self->n_parked++] = t;
        t->parked = 1;
    }
    else
    if (t->state == T_QUEUED && row->retry_at_ms > 0) {
        //  Waiting out a backoff after a resource failure when the broker
        //  stopped: the rest of it (never more than the longest backoff).
        int64_t left = row->retry_at_ms - clock_wall_ms ();
        if (left > BROKER_BACKOFF_MAX_MS)
            left = BROKER_BACKOFF_MAX_MS;
        if (left > 0 && scheduler_defer (l->self->sched, &t->sched, clock_mono_ms () + left))
            return MF_ERR_NOMEM;
    }
    if (t->state == T_DONE && row->result && (t->kind == K_MASTER || t->kind == K_ASSEMBLE)) {
        Masterfarm__Result *res = masterfarm__result__unpack (NULL, row->result_size,
                                                              row->result);
        if (res && res->report_json)
            t->report = strdup (res->report_json);
        if (res && t->kind == K_ASSEMBLE)
            graph_asm_files_set (t, res, l->self->cfg.storage != BROKER_STORAGE_INLINE);
        if (res)
            masterfarm__result__free_unpacked (res, NULL);
    }
    return 0;
}

//  Loads one stored analysis into its album.
static int
s_load_track (void *arg, uint64_t job_id, int album, int track, const void *data, size_t size,
              const char *input)
{
    s_load_t *l = arg;
    job_t *job = core_job_find (l->self, job_id);
    if (!job || album < 0 || (size_t) album >= job->n_albums)
        return 0;
    album_t *a = &job->albums [album];
    if (track < 0 || (size_t) track >= a->spec->n_tracks + a->n_refs)
        return 0;
    Masterfarm__Analysis *pb = masterfarm__analysis__unpack (NULL, size, data);
    if (pb && results_analysis_from_pb (pb, &a->analyses [track]) == 0) {
        a->analyzed [track] = true;
        cache_stat_parse (input, &a->in_stat [track]);
    }
    if (pb)
        masterfarm__analysis__free_unpacked (pb, NULL);
    return 0;
}

//  Loads one album state.
static int
s_load_album (void *arg, uint64_t job_id, int album, int state)
{
    s_load_t *l = arg;
    job_t *job = core_job_find (l->self, job_id);
    if (job && album >= 0 && (size_t) album < job->n_albums)
        job->albums [album].state = state;
    return 0;
}

//  Loads one album correction into its album.
static int
s_load_shift (void *arg, uint64_t job_id, int album, int profile, const char *text)
{
    s_load_t *l = arg;
    job_t *job = core_job_find (l->self, job_id);
    if (!job || album < 0 || (size_t) album >= job->n_albums)
        return 0;
    int rc = graph_album_shift_load (&job->albums [album], profile, text);
    if (rc == MF_ERR_FORMAT)
        log_warn ("job %llu album %d: a damaged album correction in the state file; "
                  "the album is planned without it", (unsigned long long) job_id, album + 1);
    return rc == MF_ERR_NOMEM ? rc : 0;
}

//  Rebuilds memory from the state file and moves every open job on.
int
jobs_load (broker_t *self)
{
    s_load_t l = { self, NULL, 0 };
    int rc = store_jobs_load (self->store, s_load_job, &l);
    if (!rc)
        rc = store_tasks_load (self->store, s_load_task, &l);
    int back = rc ? 0 : store_recover (self->store, clock_wall_ms ());
    if (back < 0)
        return back;
    self->parked_until_ms = clock_mono_ms () + BROKER_LIVENESS * BROKER_HEARTBEAT_MS;
    if (!rc)
        rc = store_tracks_load (self->store, s_load_track, &l);
    if (!rc)
        rc = store_albums_load (self->store, s_load_album, &l);
    if (!rc)
        rc = store_shifts_load (self->store, s_load_shift, &l);
    if (rc)
        return rc;
    size_t queued = 0;
    store_begin (self->store);
    for (size_t j = 0; j < self->n_jobs; j++) {
        job_t *job = self->jobs [j];
        //  A job whose analyses are missing a task (a damaged file) is left alone.
        bool whole = true;
        for (size_t a = 0; a < job->n_albums; a++)
            for (size_t t = 0; t < job->albums [a].spec->n_tracks; t++)
                if (!job->albums [a].analyze [t])
                    whole = false;
        if (!whole) {
            log_error ("job %llu: tasks missing in the state file; job skipped",
                       (unsigned long long) job->id);
            for (size_t i = 0; i < job->n_tasks; i++)
                scheduler_remove (self->sched, &job->tasks [i]->sched);
            continue;
        }
        if (job->state == J_CANCELLED)
            continue;
        for (size_t i = 0; i < job->n_tasks; i++)
            if (job->tasks [i]->state == T_QUEUED && !job->tasks [i]->parked) {
                scheduler_push (self->sched, &job->tasks [i]->sched);
                queued++;
            }
        if (core_job_state_final (job->state))
            continue;
        for (size_t a = 0; a < job->n_albums; a++)
            if (job->albums [a].state == A_OPEN)
                graph_album_advance (self, job, &job->albums [a]);
        publish_job_check (self, job);
    }
    if (store_commit (self->store))
        return MF_ERR_IO;
    if (self->n_jobs)
        log_info ("resumed %zu job(s) from %s: %zu task(s) queued, %d put back after a stop",
                  self->n_jobs, self->cfg.state_path, scheduler_size (self->sched), back);
    return 0;
}
