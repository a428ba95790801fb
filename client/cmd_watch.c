/*  masterfarm watch: follows a job until it ends. On a terminal it draws a
    progress bar per album with the tracks done, the throughput in x
    realtime and an ETA, redrawn in place; when stdout is not a terminal
    it prints a plain line whenever the counts change. Exits 0 when the job
    is done, 1 when it failed or was cancelled.  */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/commands.h"
#include "client/farmclient.h"
#include "common/cli.h"
#include "common/err.h"

static volatile int s_interrupted = 0;

//  SIGINT/SIGTERM: ask the watch loop to return.
static void
s_on_signal (int sig)
{
    (void) sig;
    s_interrupted = 1;
}

//  Prints the help text to out.
static void
s_help (FILE *out)
{
    fprintf (out,
        "usage: masterfarm watch JOB --broker URL [--plain] [--quiet] [--json]\n"
        "\n"
        "Follows a job until it ends: work done, throughput (x realtime) and ETA,\n"
        "then per album its title, profiles, tracks done and what runs. When the\n"
        "albums do not fit the terminal's rows, the running albums and counts of\n"
        "the others. At the end a summary: albums delivered and held, tracks,\n"
        "audio, wall time, speed, failures with their errors, the output root.\n"
        "\n"
        "  --broker URL   the broker, tcp://HOST:PORT or ipc://PATH\n"
        "                 (default: $MASTERFARM_BROKER)\n"
        FARMCLIENT_KEYS_HELP
        "  --plain        plain lines even on a terminal\n"
        "  --quiet        only the final summary\n"
        "  --json         one JSON object a line per event: {\"final\": B, \"job\": {...}}\n"
        "                 (the job as in status --json)\n"
        "  --lost S       give up when the broker is silent for S seconds (default 60)\n"
        "\n"
        "Exit status: 0 job done, 1 job failed or cancelled (or broker lost),\n"
        "2 bad usage.\n");
}

//  masterfarm watch JOB --broker URL: exit 0 done, 1 failed or cancelled.
int
cmd_watch (int argc, char **argv)
{
    const char *job_text = NULL;
    farmclient_opts_t opts = { 0 };
    bool plain = false, quiet = false, json = false;
    double lost_s = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i];
        int kc = farmclient_option ("watch", argc, argv, &i, &opts, s_help);
        if (kc == FARMCLIENT_OPT_TAKEN)
            continue;
        if (kc != FARMCLIENT_OPT_OTHER)
            return kc == FARMCLIENT_OPT_HELP ? EXIT_OK : EXIT_USAGE;
        if (!strcmp (a, "--plain"))
            plain = true;
        else if (!strcmp (a, "--quiet"))
            quiet = true;
        else if (!strcmp (a, "--json"))
            json = true;
        else if (!strcmp (a, "--lost") && i + 1 >= argc) {
            fprintf (stderr, "masterfarm watch: %s needs a value\n", a);
            return EXIT_USAGE;
        }
        else if (!strcmp (a, "--lost")) {
            if (!cli_double (argv [++i], 1.0, 86400.0, &lost_s)) {
                fprintf (stderr, "masterfarm watch: --lost needs seconds in 1 .. 86400\n");
                return EXIT_USAGE;
            }
        }
        else if (farmclient_job_positional ("watch", a, &job_text))
            return EXIT_USAGE;
    }
    uint64_t job_id;
    if (farmclient_job_arg ("watch", job_text, &job_id))
        return EXIT_USAGE;
    farmclient_t *fc = farmclient_open ("watch", &opts);
    if (!fc)
        return EXIT_USAGE;
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);

    farmclient_watch_cfg_t cfg = {
        .out = stdout, .tty = !plain && !json && isatty (STDOUT_FILENO), .quiet = quiet,
        .json = json,
        .lost_ms = (int) (lost_s * 1000), .stop = &s_interrupted
    };
    int state = 0;
    int rc = farmclient_watch (fc, job_id, &cfg, &state);
    int code;
    if (rc != 0) {
        fprintf (stderr, "masterfarm watch: job %s: %s\n", job_text, farmclient_error (fc));
        code = EXIT_FAILED;
    }
    else
        code = state == MASTERFARM__JOB_STATE__JOB_DONE
            || state == MASTERFARM__JOB_STATE__JOB_WAITING_DELIVERY ? EXIT_OK : EXIT_FAILED;
    farmclient_destroy (&fc);
    return code;
}
