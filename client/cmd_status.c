/*  masterfarm status: what the broker knows. Without a job id: every job
    (state, tasks done, audio), every worker (slots, busy, last heard) and
    the broker's counters (malformed and oversized messages dropped,
    unknown job ids, late results, re-dispatched tasks, expired workers).
    With a job id: that job and every track in it, with attempts and the
    last error of a failed track. --json prints the same as one JSON
    object, for scripts.  */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client/commands.h"
#include "client/farmclient.h"
#include "common/cli.h"
#include "common/clock.h"
#include "common/err.h"

//  Prints the help text to out.
static void
s_help (FILE *out)
{
    fprintf (out,
        "usage: masterfarm status [JOB] --broker URL [--state STATE] [--failed] [--json]\n"
        "                         [--timeout S]\n"
        "\n"
        "Without JOB: every job, every worker (with its version) and the broker's\n"
        "counters.\n"
        "With JOB: that job, its albums (tracks done, what runs) and each of its\n"
        "tracks (state, attempts, running stage, last error).\n"
        "\n"
        "  --broker URL   the broker, tcp://HOST:PORT or ipc://PATH\n"
        "                 (default: $MASTERFARM_BROKER)\n"
        FARMCLIENT_KEYS_HELP
        "  --state STATE  only jobs (without JOB) or tracks (with JOB) in STATE:\n"
        "                 jobs: queued running paused done failed cancelled\n"
        "                 waiting-delivery; tracks: queued dispatched running done\n"
        "                 failed blocked cancelled\n"
        "  --failed       only jobs with failed tasks, or the failed tracks of JOB\n"
        "  --json         one JSON object instead of tables\n"
        "  --timeout S    seconds to wait for the broker (default 5)\n"
        "\n"
        "Exit status: 0 answered, 1 unknown job or broker unreachable, 2 bad usage.\n");
}

//  A "how long ago" text for a wall-clock time in ms since the epoch.
static const char *
s_ago (int64_t ms, char *buf, size_t size)
{
    if (ms <= 0)
        snprintf (buf, size, "never");
    else {
        double s = (clock_wall_ms () - ms) / 1000.0;
        snprintf (buf, size, "%.1f s ago", s < 0 ? 0.0 : s);
    }
    return buf;
}

//  Prints one job's summary line.
static void
s_print_job (const Masterfarm__JobStatus *j)
{
    char eta [32] = "-";
    if (j->eta_s > 0)
        snprintf (eta, sizeof eta, "%.0f s", j->eta_s);
    printf ("%-6" PRIu64 " %-16s %4u  %6u/%-6u %6u  %8.1f/%-8.1f  %4.0f%% %8s  %s\n",
            j->job_id, j->paused && j->state == MASTERFARM__JOB_STATE__JOB_RUNNING ? "paused"
            : j->paused ? "queued (paused)" : farmclient_job_state_name (j->state),
            j->priority, j->tasks_done, j->tasks_total, j->tasks_failed, j->audio_done_s,
            j->audio_total_s, 100 * j->work_done, eta, j->name ? j->name : "");
}

//  Prints the tables for a reply.
static void
s_print_text (const Masterfarm__StatusReply *r, uint64_t job_id)
{
    printf ("JOB    STATE            PRIO   DONE/TOTAL   FAILED  AUDIO s done/total  WORK      ETA  NAME\n");
    for (size_t i = 0; i < r->n_jobs; i++)
        s_print_job (r->jobs [i]);
    if (r->n_jobs == 0)
        printf ("(no jobs)\n");

    for (size_t i = 0; i < r->n_jobs && job_id; i++) {
        const Masterfarm__JobStatus *j = r->jobs [i];
        char buf [32];
        if (j->deadline_ms)
            printf ("deadline: %s\n", clock_format_rfc3339 (j->deadline_ms, buf, sizeof buf));
        if (j->deliver_at_ms)
            printf ("deliver at: %s\n", clock_format_rfc3339 (j->deliver_at_ms, buf, sizeof buf));
        if (j->output_dir && *j->output_dir)
            printf ("outputs: %s\n", j->output_dir);
        if (j->tasks_retrying) {
            char head [128];
            const char *why = farmclient_retrying (j, false, head, sizeof head);
            printf ("%s%s\n", head, why);
        }
        //  Albums: title, profiles, tracks done and failed, what runs.
        if (j->n_albums)
            printf ("\nALBUM TRACKS  DONE FAILED  STATE          PROFILES        TITLE / RUNNING\n");
        for (size_t a = 0; a < j->n_albums; a++) {
            const Masterfarm__AlbumStatus *x = j->albums [a];
            printf ("%5u %6u %5u %6u  %-14s %-15s %s\n", x->album + 1, x->tracks,
                    x->tracks_done, x->tracks_failed, x->state ? x->state : "",
                    x->profiles ? x->profiles : "", x->title ? x->title : "");
            if (x->stage && *x->stage)
                printf ("%57s running: %s\n", "", x->stage);
            else
            if (x->queued && *x->queued)
                printf ("%57s queued: %s\n", "", x->queued);
        }
        printf ("\nALBUM TRACK STATE       ATTEMPTS PROGRESS  TITLE / LAST ERROR\n");
        for (size_t t = 0; t < j->n_tracks; t++) {
            const Masterfarm__TrackStatus *ts = j->tracks [t];
            printf ("%5u %5u %-11s %8u %7.0f%%  %s", ts->album + 1, ts->track + 1,
                    farmclient_task_state_name (ts->state), ts->attempts,
                    100.0 * ts->progress, ts->title ? ts->title : "");
            if (ts->stage && *ts->stage)
                printf ("  [%s]", ts->stage);
            printf ("\n");
            if (ts->last_error && *ts->last_error)
                printf ("%41s error: %s\n", "", ts->last_error);
        }
    }
    //  Why albums are not complete, for every job listed.
    for (size_t i = 0; i < r->n_jobs; i++) {
        const Masterfarm__JobStatus *j = r->jobs [i];
        if (j->n_failures == 0 && j->n_albums == 0)
            continue;
        if (j->n_failures)
            printf ("\njob %" PRIu64 " failures:\n", j->job_id);
        farmclient_print_failures (stdout, j, NULL);
    }

    if (!job_id) {
        printf ("\nWORKER                           VERSION   SLOTS  BUSY   DONE FAILED  LAST HEARD\n");
        for (size_t i = 0; i < r->n_workers; i++) {
            const Masterfarm__WorkerStatus *w = r->workers [i];
            char buf [32];
            printf ("%-32s %-9s %5u %5u %6u %6u  %s\n", w->id ? w->id : "?",
                    w->version && *w->version ? w->version : "?", w->slots, w->busy,
                    w->tasks_done, w->tasks_failed, s_ago (w->last_seen_ms, buf, sizeof buf));
        }
        if (r->n_workers == 0)
            printf ("(no workers)\n");
    }
    if (r->counters) {
        const Masterfarm__Counters *c = r->counters;
        printf ("\ncounters: malformed_dropped=%" PRIu64 " oversized_dropped=%" PRIu64
                " unknown_job=%" PRIu64 " late_results=%" PRIu64 " tasks_redispatched=%" PRIu64
                " workers_expired=%" PRIu64 " duplicate_results=%" PRIu64 "\n",
                c->malformed_dropped, c->oversized_dropped, c->unknown_job, c->late_results,
                c->tasks_redispatched, c->workers_expired, c->duplicate_results);
    }
}

//  Builds the JSON form of a reply (field names as in proto/masterfarm.proto).
static json_t *
s_to_json (const Masterfarm__StatusReply *r)
{
    json_t *root = json_object (), *jobs = json_array (), *workers = json_array ();
    for (size_t i = 0; i < r->n_jobs; i++)
        json_array_append_new (jobs, farmclient_job_to_json (r->jobs [i]));
    for (size_t i = 0; i < r->n_workers; i++) {
        const Masterfarm__WorkerStatus *w = r->workers [i];
        json_array_append_new (workers, json_pack (
            "{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "id", w->id ? w->id : "",
            "version", w->version ? w->version : "",
            "slots", (json_int_t) w->slots, "busy", (json_int_t) w->busy,
            "last_seen_ms", (json_int_t) w->last_seen_ms,
            "tasks_done", (json_int_t) w->tasks_done,
            "tasks_failed", (json_int_t) w->tasks_failed));
    }
    const Masterfarm__Counters *c = r->counters;
    json_object_set_new (root, "jobs", jobs);
    json_object_set_new (root, "workers", workers);
    json_object_set_new (root, "counters", json_pack (
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
        "malformed_dropped", (json_int_t) (c ? c->malformed_dropped : 0),
        "oversized_dropped", (json_int_t) (c ? c->oversized_dropped : 0),
        "unknown_job", (json_int_t) (c ? c->unknown_job : 0),
        "late_results", (json_int_t) (c ? c->late_results : 0),
        "tasks_redispatched", (json_int_t) (c ? c->tasks_redispatched : 0),
        "workers_expired", (json_int_t) (c ? c->workers_expired : 0),
        "duplicate_results", (json_int_t) (c ? c->duplicate_results : 0)));
    return root;
}

//  The state a job shows: paused, or its state's name.
static const char *
s_job_state (const Masterfarm__JobStatus *j)
{
    if (j->paused && (j->state == MASTERFARM__JOB_STATE__JOB_RUNNING
                      || j->state == MASTERFARM__JOB_STATE__JOB_QUEUED))
        return "paused";
    return farmclient_job_state_name (j->state);
}

//  True when name is a state of a job (tracks false) or of a track.
static bool
s_state_known (const char *name, bool tracks)
{
    static const char *jobs [] = { "queued", "running", "paused", "done", "failed",
                                   "cancelled", "waiting-delivery" };
    static const char *task [] = { "queued", "dispatched", "running", "done", "failed",
                                   "blocked", "cancelled" };
    for (size_t i = 0; i < 7; i++)
        if (!strcmp (name, tracks ? task [i] : jobs [i]))
            return true;
    return false;
}

//  What the filters hid, to put back before the reply is freed.
static struct {
    Masterfarm__JobStatus   **jobs;
    size_t                    n_jobs;
    Masterfarm__TrackStatus **tracks;
    size_t                    n_tracks;
    Masterfarm__JobStatus    *job;
} s_hidden;

//  Applies --state and --failed: to the jobs without JOB, to the tracks of
//  JOB with it. The reply's arrays are narrowed in place (s_filter_undo
//  restores them).
static void
s_filter (Masterfarm__StatusReply *r, uint64_t job_id, const char *state, bool failed)
{
    if (!state && !failed)
        return;
    if (!job_id) {
        s_hidden.jobs = r->jobs;
        s_hidden.n_jobs = r->n_jobs;
        Masterfarm__JobStatus **kept = calloc (r->n_jobs ? r->n_jobs : 1, sizeof *kept);
        if (!kept)
            return;
        size_t k = 0;
        for (size_t i = 0; i < r->n_jobs; i++) {
            const Masterfarm__JobStatus *j = r->jobs [i];
            if (state && strcmp (state, s_job_state (j)))
                continue;
            if (failed && j->tasks_failed == 0 && j->state != MASTERFARM__JOB_STATE__JOB_FAILED)
                continue;
            kept [k++] = r->jobs [i];
        }
        r->jobs = kept;
        r->n_jobs = k;
        return;
    }
    if (r->n_jobs == 0)
        return;
    Masterfarm__JobStatus *j = r->jobs [0];
    s_hidden.job = j;
    s_hidden.tracks = j->tracks;
    s_hidden.n_tracks = j->n_tracks;
    Masterfarm__TrackStatus **kept = calloc (j->n_tracks ? j->n_tracks : 1, sizeof *kept);
    if (!kept)
        return;
    size_t k = 0;
    for (size_t i = 0; i < j->n_tracks; i++) {
        const Masterfarm__TrackStatus *t = j->tracks [i];
        if (state && strcmp (state, farmclient_task_state_name (t->state)))
            continue;
        if (failed && t->state != MASTERFARM__TASK_STATE__TASK_FAILED)
            continue;
        kept [k++] = j->tracks [i];
    }
    j->tracks = kept;
    j->n_tracks = k;
}

//  Puts back what s_filter hid.
static void
s_filter_undo (Masterfarm__StatusReply *r)
{
    if (s_hidden.jobs) {
        free (r->jobs);
        r->jobs = s_hidden.jobs;
        r->n_jobs = s_hidden.n_jobs;
    }
    if (s_hidden.job) {
        free (s_hidden.job->tracks);
        s_hidden.job->tracks = s_hidden.tracks;
        s_hidden.job->n_tracks = s_hidden.n_tracks;
    }
}

//  masterfarm status [JOB] --broker URL [--json]: see s_help.
int
cmd_status (int argc, char **argv)
{
    const char *job_text = NULL;
    farmclient_opts_t opts = { .timeout_s = FARMCLIENT_TIMEOUT_MS / 1000.0 };
    bool as_json = false, only_failed = false;
    const char *only_state = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i];
        int kc = farmclient_option ("status", argc, argv, &i, &opts, s_help);
        if (kc == FARMCLIENT_OPT_TAKEN)
            continue;
        if (kc != FARMCLIENT_OPT_OTHER)
            return kc == FARMCLIENT_OPT_HELP ? EXIT_OK : EXIT_USAGE;
        if (!strcmp (a, "--json"))
            as_json = true;
        else if (!strcmp (a, "--failed"))
            only_failed = true;
        else if (!strcmp (a, "--state") && i + 1 >= argc) {
            fprintf (stderr, "masterfarm status: %s needs a value\n", a);
            return EXIT_USAGE;
        }
        else if (!strcmp (a, "--state"))
            only_state = argv [++i];
        else if (a [0] == '-') {
            fprintf (stderr, "masterfarm status: unknown option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
        else if (job_text) {
            fprintf (stderr, "masterfarm status: one job id at most\n");
            return EXIT_USAGE;
        }
        else
            job_text = a;
    }
    uint64_t job_id = 0;
    if (job_text && farmclient_parse_job_id (job_text, &job_id) != 0) {
        fprintf (stderr, "masterfarm status: '%s' is not a job id (a number from submit)\n",
                 job_text);
        return EXIT_USAGE;
    }
    if (only_state && !s_state_known (only_state, job_id != 0)) {
        fprintf (stderr, "masterfarm status: --state %s: not a %s state (see --help)\n",
                 only_state, job_id ? "track" : "job");
        return EXIT_USAGE;
    }
    farmclient_t *fc = farmclient_open ("status", &opts);
    if (!fc)
        return EXIT_USAGE;
    Masterfarm__StatusReply *reply = NULL;
    int rc = farmclient_status (fc, job_id, &reply);
    int code = EXIT_OK;
    if (rc != 0) {
        fprintf (stderr, "masterfarm status: %s\n", farmclient_error (fc));
        code = EXIT_FAILED;
    }
    else if (as_json) {
        s_filter (reply, job_id, only_state, only_failed);
        json_t *j = s_to_json (reply);
        char *text = json_dumps (j, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        if (text)
            printf ("%s\n", text);
        free (text);
        json_decref (j);
    }
    else {
        s_filter (reply, job_id, only_state, only_failed);
        s_print_text (reply, job_id);
    }
    if (reply) {
        s_filter_undo (reply);
        masterfarm__status_reply__free_unpacked (reply, NULL);
    }
    farmclient_destroy (&fc);
    return code;
}
