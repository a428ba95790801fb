/*  masterfarm logs: every recorded attempt of a job's tasks, or of one
    album or track: the worker it ran on, when it started and ended, its
    error, and the last bytes its task process wrote to stderr. --json
    prints one JSON object for scripts.  */
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
        "usage: masterfarm logs JOB [--album A [--track N | --reference K]] --broker URL\n"
        "                       [--json]\n"
        "\n"
        "Every attempt of the job's tasks (analyze, master per profile, assemble\n"
        "per profile): worker, start and end time, outcome, error, and the tail of\n"
        "the task process's stderr.\n"
        "\n"
        "  --album A      only album A (its number in status, from 1)\n"
        "  --track N      only track N of that album (as in the spec, from 1)\n"
        "  --reference K  only the analysis of that album's reference file K (in\n"
        "                 the order of its tonal \"reference\" list, from 1)\n"
        "  --broker URL   the broker, tcp://HOST:PORT or ipc://PATH\n"
        "                 (default: $MASTERFARM_BROKER)\n"
        FARMCLIENT_KEYS_HELP
        "  --json         one JSON object instead of text\n"
        "  --timeout S    seconds to wait for the broker (default 5)\n"
        "\n"
        "Exit status: 0 answered, 1 unknown job, album or track, or broker\n"
        "unreachable, 2 bad usage.\n");
}

//  Prints the attempts as text.
static void
s_print_text (const Masterfarm__LogsReply *r)
{
    for (size_t i = 0; i < r->n_attempts; i++) {
        const Masterfarm__AttemptLog *a = r->attempts [i];
        char start [32] = "-", end [32] = "running";
        if (a->started_ms > 0)
            clock_format_rfc3339 (a->started_ms, start, sizeof start);
        if (a->ended_ms > 0)
            clock_format_rfc3339 (a->ended_ms, end, sizeof end);
        printf ("album %u", a->album);
        if (a->track)
            printf (" track %u", a->track);
        if (a->reference && *a->reference)
            printf (" reference %s", a->reference);
        printf (" %s%s%s attempt %u on %s: %s .. %s", a->kind, a->profile && *a->profile ? " " : "",
                a->profile ? a->profile : "", a->attempt,
                a->worker && *a->worker ? a->worker : "?", start, end);
        if (a->ended_ms > 0 && a->started_ms > 0)
            printf (" (%.1f s)", (a->ended_ms - a->started_ms) / 1000.0);
        printf (", %s\n", a->ended_ms == 0 ? "running" : a->ok ? "ok" : "failed");
        if (a->error && *a->error)
            printf ("  error: %s\n", a->error);
        if (a->stderr_tail && *a->stderr_tail) {
            printf ("  stderr (last lines):\n");
            const char *p = a->stderr_tail;
            while (*p) {
                const char *nl = strchr (p, '\n');
                int len = nl ? (int) (nl - p) : (int) strlen (p);
                printf ("    | %.*s\n", len, p);
                p += len + (nl ? 1 : 0);
            }
        }
    }
    if (r->n_attempts == 0)
        printf ("(no attempt recorded)\n");
    if (r->truncated)
        printf ("(more attempts than one answer carries: narrow with --album and --track)\n");
}

//  The attempts as one JSON object (field names as in the protocol).
static json_t *
s_to_json (const Masterfarm__LogsReply *r)
{
    json_t *list = json_array ();
    for (size_t i = 0; i < r->n_attempts; i++) {
        const Masterfarm__AttemptLog *a = r->attempts [i];
        json_array_append_new (list, json_pack (
            "{s:I, s:s, s:I, s:I, s:s, s:I, s:s, s:I, s:I, s:b, s:s, s:s}",
            "task_id", (json_int_t) a->task_id, "kind", a->kind ? a->kind : "",
            "album", (json_int_t) a->album, "track", (json_int_t) a->track,
            "profile", a->profile ? a->profile : "", "attempt", (json_int_t) a->attempt,
            "worker", a->worker ? a->worker : "", "started_ms", (json_int_t) a->started_ms,
            "ended_ms", (json_int_t) a->ended_ms, "ok", (int) a->ok,
            "error", a->error ? a->error : "",
            "stderr_tail", a->stderr_tail ? a->stderr_tail : ""));
        if (a->reference && *a->reference)
            json_object_set_new (json_array_get (list, i), "reference",
                                 json_string (a->reference));
    }
    return json_pack ("{s:I, s:o, s:b}", "job_id", (json_int_t) r->job_id, "attempts", list,
                      "truncated", (int) r->truncated);
}

//  masterfarm logs JOB [--album A [--track N | --reference K]] --broker URL [--json].
int
cmd_logs (int argc, char **argv)
{
    const char *job_text = NULL;
    farmclient_opts_t opts = { .timeout_s = FARMCLIENT_TIMEOUT_MS / 1000.0 };
    long album = 0, track = 0, reference = 0;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i];
        int kc = farmclient_option ("logs", argc, argv, &i, &opts, s_help);
        if (kc == FARMCLIENT_OPT_TAKEN)
            continue;
        if (kc != FARMCLIENT_OPT_OTHER)
            return kc == FARMCLIENT_OPT_HELP ? EXIT_OK : EXIT_USAGE;
        if (!strcmp (a, "--json"))
            as_json = true;
        else if ((!strcmp (a, "--album") || !strcmp (a, "--track")
                  || !strcmp (a, "--reference")) && i + 1 >= argc) {
            fprintf (stderr, "masterfarm logs: %s needs a value\n", a);
            return EXIT_USAGE;
        }
        else if (!strcmp (a, "--album") || !strcmp (a, "--track") || !strcmp (a, "--reference")) {
            long *slot = a [2] == 'a' ? &album : a [2] == 't' ? &track : &reference;
            if (!cli_long (argv [++i], 1, 1000000, slot)) {
                fprintf (stderr, "masterfarm logs: %s needs a number from 1 (got '%s')\n", a,
                         argv [i]);
                return EXIT_USAGE;
            }
        }
        else if (farmclient_job_positional ("logs", a, &job_text))
            return EXIT_USAGE;
    }
    uint64_t job_id;
    if (farmclient_job_arg ("logs", job_text, &job_id))
        return EXIT_USAGE;
    if ((track || reference) && !album) {
        fprintf (stderr, "masterfarm logs: --%s needs --album\n", track ? "track" : "reference");
        return EXIT_USAGE;
    }
    if (track && reference) {
        fprintf (stderr, "masterfarm logs: --track or --reference, not both\n");
        return EXIT_USAGE;
    }
    farmclient_t *fc = farmclient_open ("logs", &opts);
    if (!fc)
        return EXIT_USAGE;
    Masterfarm__LogsReply *reply = NULL;
    int rc = farmclient_logs (fc, job_id, (uint32_t) album, (uint32_t) track,
                              (uint32_t) reference, &reply);
    int code = EXIT_OK;
    if (rc != 0) {
        fprintf (stderr, "masterfarm logs: job %" PRIu64 ": %s\n", job_id, farmclient_error (fc));
        code = EXIT_FAILED;
    }
    else
    if (as_json) {
        json_t *j = s_to_json (reply);
        char *text = json_dumps (j, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        if (text)
            printf ("%s\n", text);
        free (text);
        json_decref (j);
    }
    else
        s_print_text (reply);
    if (reply)
        masterfarm__logs_reply__free_unpacked (reply, NULL);
    farmclient_destroy (&fc);
    return code;
}
