/*  masterfarm submit: sends a job spec (JSON) or catalog (CSV) to the
    broker and prints the job id it was stored under. The broker checks
    the whole spec before it answers; when it refuses, every error is
    printed with its JSON path (or CSV line) and the command exits 1.
    `--noop N` submits N no-op tasks instead of a spec: a hook of the
    dispatch benchmarks, left out of the user's help on purpose.  */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client/commands.h"
#include "client/farmclient.h"
#include "common/cli.h"
#include "common/err.h"

//  Prints the help text to out.
static void
s_help (FILE *out)
{
    fprintf (out,
        "usage: masterfarm submit JOB.json|CATALOG.csv --broker URL [--timeout S] [--json]\n"
        "\n"
        "Sends a job spec to the broker and prints the job id (one line, stdout).\n"
        "A .csv file is sent as a catalog, anything else as a JSON job spec.\n"
        "The broker validates the whole spec first; if anything is wrong, every\n"
        "error is printed with its JSON path or CSV line and nothing is stored.\n"
        "\n"
        "  --broker URL   the broker, tcp://HOST:PORT or ipc://PATH\n"
        "                 (default: $MASTERFARM_BROKER)\n"
        FARMCLIENT_KEYS_HELP
        "  --timeout S    seconds to wait for the broker (default 5)\n"
        "  --json         print {\"job_id\": N}, or {\"job_id\": 0, \"errors\": [{\"path\",\n"
        "                 \"line\", \"column\", \"message\"}...]} when rejected, on stdout\n"
        "\n"
        "Exit status: 0 stored, 1 rejected or broker unreachable, 2 bad usage.\n");
}

//  The reply as one JSON object on stdout.
static void
s_print_json (const Masterfarm__SubmitReply *reply)
{
    json_t *errors = json_array ();
    for (size_t i = 0; i < reply->n_errors; i++) {
        const Masterfarm__SpecError *e = reply->errors [i];
        json_array_append_new (errors, json_pack ("{s:s, s:I, s:I, s:s}",
            "path", e->path ? e->path : "", "line", (json_int_t) e->line,
            "column", (json_int_t) e->column, "message", e->message ? e->message : ""));
    }
    json_t *o = json_pack ("{s:I}", "job_id", (json_int_t) reply->job_id);
    if (reply->job_id == 0)
        json_object_set_new (o, "errors", errors);
    else
        json_decref (errors);
    char *text = json_dumps (o, JSON_PRESERVE_ORDER);
    if (text)
        printf ("%s\n", text);
    free (text);
    json_decref (o);
}

//  masterfarm submit FILE --broker URL: prints the job id or every error.
int
cmd_submit (int argc, char **argv)
{
    const char *file = NULL;
    farmclient_opts_t opts = { .timeout_s = FARMCLIENT_TIMEOUT_MS / 1000.0 };
    long noop = -1;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i];
        int kc = farmclient_option ("submit", argc, argv, &i, &opts, s_help);
        if (kc == FARMCLIENT_OPT_TAKEN)
            continue;
        if (kc != FARMCLIENT_OPT_OTHER)
            return kc == FARMCLIENT_OPT_HELP ? EXIT_OK : EXIT_USAGE;
        if (!strcmp (a, "--noop") && i + 1 >= argc) {
            fprintf (stderr, "masterfarm submit: %s needs a value\n", a);
            return EXIT_USAGE;
        }
        else if (!strcmp (a, "--json"))
            as_json = true;
        else if (!strcmp (a, "--noop")) {
            if (!cli_long (argv [++i], 1, 100000000, &noop)) {
                fprintf (stderr, "masterfarm submit: --noop needs a task count, 1 .. 100000000\n");
                return EXIT_USAGE;
            }
        }
        else if (a [0] == '-' && a [1]) {
            fprintf (stderr, "masterfarm submit: unknown option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
        else if (file) {
            fprintf (stderr, "masterfarm submit: one spec file at a time ('%s' and '%s')\n",
                     file, a);
            return EXIT_USAGE;
        }
        else
            file = a;
    }
    if (!file == (noop < 0)) {
        fprintf (stderr, "masterfarm submit: give a JOB.json or CATALOG.csv file\n");
        return EXIT_USAGE;
    }
    if (!farmclient_broker_url (opts.broker)) {
        fprintf (stderr, "masterfarm submit: --broker URL is required (or set MASTERFARM_BROKER)\n");
        return EXIT_USAGE;
    }

    char err [FARMCLIENT_ERR_LEN], *text = NULL;
    size_t len = 0;
    const char *format = "noop", *origin = "noop";
    if (file) {
        if (farmclient_read_spec (file, &text, &len, &format, err, sizeof err) != 0) {
            fprintf (stderr, "masterfarm submit: %s\n", err);
            return EXIT_FAILED;
        }
        origin = file;
    }
    else {
        text = malloc (64);
        if (!text)
            return EXIT_FAILED;
        len = (size_t) snprintf (text, 64, "{\"tasks\": %ld}", noop);
    }

    farmclient_t *fc = farmclient_open ("submit", &opts);
    if (!fc) {
        free (text);
        return EXIT_USAGE;
    }
    Masterfarm__SubmitReply *reply = NULL;
    int rc = farmclient_submit (fc, text, len, format, origin, &reply);
    free (text);
    int code = EXIT_OK;
    if (rc != 0) {
        fprintf (stderr, "masterfarm submit: %s\n", farmclient_error (fc));
        code = EXIT_FAILED;
    }
    else if (as_json) {
        s_print_json (reply);
        code = reply->job_id ? EXIT_OK : EXIT_FAILED;
    }
    else if (reply->job_id == 0) {
        farmclient_print_spec_errors (stderr, origin, reply);
        fprintf (stderr, "masterfarm submit: %s rejected with %zu error%s; nothing was stored\n",
                 origin, reply->n_errors, reply->n_errors == 1 ? "" : "s");
        code = EXIT_FAILED;
    }
    else
        printf ("%" PRIu64 "\n", reply->job_id);
    if (reply)
        masterfarm__submit_reply__free_unpacked (reply, NULL);
    farmclient_destroy (&fc);
    return code;
}
