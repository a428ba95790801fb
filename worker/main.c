/*  masterfarm-worker: connects to a broker and runs tasks, one per slot,
    each in its own process (see worker/worker.h). The fault-injection
    hook of the tests (MASTERFARM_FAULT=crash:TEXT|hang:TEXT|slow:TEXT, see
    worker/worker.c) is left out of the user's help on purpose.  */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/log.h"
#include "common/version.h"
#include "worker/worker.h"

//  Prints the usage text.
static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: masterfarm-worker --connect URL [--threads N] [--id NAME]\n"
        "                         [--curve-key FILE --broker-key FILE]\n"
        "\n"
        "Connects to a masterfarm broker and runs its tasks (analyze, master,\n"
        "assemble), N at a time (default: the number of cores), each in its\n"
        "own process so that a crash fails only that task. What a task process\n"
        "writes to stderr goes to this worker's stderr; its last 4 KiB also go\n"
        "to the broker with the task's result ('masterfarm logs JOB' shows them).\n"
        "\n"
        "  --connect URL   the broker's address, e.g. tcp://farm1:5555\n"
        "  --threads N     tasks at once, 1 .. 1024\n"
        "  --id NAME       worker name in logs and status (default HOST-PID)\n"
        "  --curve-key FILE   encrypt with CURVE using this worker's key pair FILE\n"
        "                  (NAME.key from masterfarm keygen, mode 0600); its NAME.pub\n"
        "                  must be in the broker's --allow folder\n"
        "  --broker-key FILE  the broker's public key (its NAME.pub); with --curve-key\n"
        "  --help          this text\n"
        "  --version       print the version and exit\n"
        "\n"
        "SIGTERM or SIGINT: running tasks are handed back to the broker and the\n"
        "worker exits 0.\n"
        "\n"
        "Environment:\n"
        "  MASTERFARM_LOG=debug|info|warn|error   log level (default info)\n"
        "  MASTERFARM_TASK_TIMEOUT_S=N   kill a task after N s of wall time (3600)\n"
        "  MASTERFARM_TASK_MEM_MB=N      address-space limit of a task process (8192)\n"
        "  MASTERFARM_TASK_CPU_S=N       CPU-time limit of a task process (3600)\n"
        "  MASTERFARM_DSP=generic|sse2|avx2   force a DSP kernel set\n"
        "\n"
        "Exit status: 0 after a stop, 1 when the broker socket fails, 2 on bad usage\n"
        "(a malformed --connect URL included: restarting cannot fix it).\n");
}

//  Signal handler: ask the loop to stop.
static void
s_on_signal (int sig)
{
    worker_request_stop ();
}

int
main (int argc, char **argv)
{
    worker_cfg_t cfg;
    worker_cfg_default (&cfg);
    static const struct option opts [] = {
        { "connect", required_argument, NULL, 'c' },
        { "threads", required_argument, NULL, 't' },
        { "id",      required_argument, NULL, 'i' },
        { "curve-key",  required_argument, NULL, 'k' },
        { "broker-key", required_argument, NULL, 'K' },
        { "help",    no_argument,       NULL, 'h' },
        { "version",      no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int c;
    while ((c = getopt_long (argc, argv, "c:t:i:k:K:h", opts, NULL)) != -1) {
        switch (c) {
            case 'c': cfg.connect_url = optarg; break;
            case 'i': cfg.worker_id = optarg; break;
            case 'k': cfg.curve_key_path = optarg; break;
            case 'K': cfg.broker_key_path = optarg; break;
            case 't': {
                long n;
                if (!cli_long (optarg, 1, 1024, &n)) {
                    fprintf (stderr, "masterfarm-worker: --threads '%s': give a number "
                             "from 1 to 1024\n", optarg);
                    return 2;
                }
                cfg.slots = (int) n;
                break;
            }
            default:  return cli_daemon_option (c, "masterfarm-worker", s_usage);
        }
    }
    if (cli_daemon_operands (argc, argv, optind, "masterfarm-worker", s_usage))
        return 2;
    if (!cfg.connect_url) {
        fprintf (stderr, "masterfarm-worker: --connect URL is required "
                 "(e.g. --connect tcp://127.0.0.1:5555)\n");
        return 2;
    }
    if (!cfg.curve_key_path != !cfg.broker_key_path) {
        fprintf (stderr, "masterfarm-worker: --curve-key and --broker-key go together "
                 "(this worker's NAME.key and the broker's NAME.pub)\n");
        return 2;
    }
    char err [768];
    worker_t *w = worker_new (&cfg, err, sizeof err);
    if (!w) {
        fprintf (stderr, "masterfarm-worker: %s\n", err);
        return 2;
    }
    cli_daemon_signals (s_on_signal, NULL);
    int rc = worker_run (w);
    worker_destroy (&w);
    return rc ? 1 : 0;
}
