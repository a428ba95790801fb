/*  masterfarm-broker: owns the job state and schedules the farm's tasks
    (see broker/broker.h).  */
#include <getopt.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/zap.h"
#include "common/cli.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/version.h"

//  Prints the usage text.
static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: masterfarm-broker --bind URL --state FILE --input-root DIR --output-root DIR\n"
        "                         [--storage shared|inline]\n"
        "                         [--metrics-port N [--metrics-bind HOST]]\n"
        "                         [--curve-key FILE --allow DIR | --insecure]\n"
        "                         [--cache-days N]\n"
        "\n"
        "Owns the farm's jobs (kept in FILE, SQLite), splits them into tasks and\n"
        "hands them to the workers; clients and workers both connect to URL.\n"
        "Restarted on the same FILE it resumes where it stopped.\n"
        "\n"
        "  --bind URL          where to listen, e.g. tcp://*:5555\n"
        "  --state FILE        the state file (created if missing)\n"
        "  --input-root DIR    job spec paths are relative to DIR and must stay in it\n"
        "  --output-root DIR   albums are delivered into DIR/<album-slug>/\n"
        "  --storage MODE      shared (default): workers read and write under the roots;\n"
        "                      inline: audio travels over the socket, for workers that\n"
        "                      do not see the broker's folders\n"
        "  --metrics-port N    serve HTTP on port N: a read-only dashboard at /,\n"
        "                      Prometheus metrics at /metrics, the albums' reports\n"
        "  --metrics-bind HOST listen for HTTP on HOST (default: the host of --bind,\n"
        "                      127.0.0.1 when that is a wildcard or ipc://; give *\n"
        "                      for every interface)\n"
        "  --curve-key FILE    encrypt with CURVE using the broker's key pair FILE\n"
        "                      (NAME.key from masterfarm keygen, mode 0600)\n"
        "  --allow DIR         with --curve-key: only clients and workers whose public\n"
        "                      key is a *.pub file in DIR may connect; SIGHUP reads\n"
        "                      DIR again\n"
        "  --insecure          allow plaintext on an address other machines can reach\n"
        "                      (without it, a plaintext broker binds loopback or ipc only)\n"
        "  --cache-days N      reuse analyses and masters of unchanged inputs (same\n"
        "                      SHA-256, same settings) kept in DIR/.masterfarm/cache for\n"
        "                      N days after their last use (default 30; 0: no reuse)\n"
        "  --help              this text\n"
        "  --version           print the version and exit\n"
        "\n"
        "Environment: MASTERFARM_LOG=debug|info|warn|error (default info).\n"
        "SIGTERM or SIGINT stops it cleanly; its state is safe at any moment.\n"
        "Exit status: 0 after a stop, 1 on a failure at run time, 2 on bad usage\n"
        "or when the socket or state file cannot be opened.\n");
}

//  Signal handler: ask the loop to stop.
static void
s_on_signal (int sig)
{
    broker_request_stop ();
}

//  SIGHUP handler: read the allow folder again.
static void
s_on_hup (int sig)
{
    zap_request_reload ();
}

int
main (int argc, char **argv)
{
    broker_cfg_t cfg;
    memset (&cfg, 0, sizeof cfg);
    cfg.cache_days = BROKER_CACHE_DAYS;
    static const struct option opts [] = {
        { "bind",         required_argument, NULL, 'b' },
        { "state",        required_argument, NULL, 's' },
        { "input-root",   required_argument, NULL, 'i' },
        { "output-root",  required_argument, NULL, 'o' },
        { "storage",      required_argument, NULL, 'S' },
        { "metrics-port", required_argument, NULL, 'm' },
        { "metrics-bind", required_argument, NULL, 'M' },
        { "curve-key",    required_argument, NULL, 'k' },
        { "allow",        required_argument, NULL, 'a' },
        { "insecure",     no_argument,       NULL, 'I' },
        { "cache-days",   required_argument, NULL, 'C' },
        { "help",         no_argument,       NULL, 'h' },
        { "version",      no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int c;
    bool insecure = false;
    while ((c = getopt_long (argc, argv, "b:s:i:o:S:m:M:k:a:Ih", opts, NULL)) != -1) {
        switch (c) {
            case 'k': cfg.curve_key_path = optarg; break;
            case 'a': cfg.allow_dir = optarg; break;
            case 'I': insecure = true; break;
            case 'b': cfg.bind_url = optarg; break;
            case 's': cfg.state_path = optarg; break;
            case 'i': cfg.input_root = optarg; break;
            case 'o': cfg.output_root = optarg; break;
            case 'S':
                if (strcmp (optarg, "shared") == 0)
                    cfg.storage = BROKER_STORAGE_SHARED;
                else
                if (strcmp (optarg, "inline") == 0)
                    cfg.storage = BROKER_STORAGE_INLINE;
                else {
                    fprintf (stderr, "masterfarm-broker: --storage '%s': use shared or inline\n",
                             optarg);
                    return 2;
                }
                break;
            case 'm': {
                long n;
                if (!cli_long (optarg, 1, 65535, &n)) {
                    fprintf (stderr, "masterfarm-broker: --metrics-port '%s': give a port "
                             "from 1 to 65535\n", optarg);
                    return 2;
                }
                cfg.metrics_port = (int) n;
                break;
            }
            case 'M':
                if (!*optarg) {
                    fprintf (stderr, "masterfarm-broker: --metrics-bind needs a host name or "
                             "address\n");
                    return 2;
                }
                cfg.metrics_bind = optarg;
                break;
            case 'C': {
                long n;
                if (!cli_long (optarg, 0, 36500, &n)) {
                    fprintf (stderr, "masterfarm-broker: --cache-days '%s': give a number of "
                             "days from 0 (no reuse cache) to 36500\n", optarg);
                    return 2;
                }
                cfg.cache_days = (int) n;
                break;
            }
            default:  return cli_daemon_option (c, "masterfarm-broker", s_usage);
        }
    }
    if (cli_daemon_operands (argc, argv, optind, "masterfarm-broker", s_usage))
        return 2;
    const char *missing = !cfg.bind_url ? "--bind URL" : !cfg.state_path ? "--state FILE"
                        : !cfg.input_root ? "--input-root DIR"
                        : !cfg.output_root ? "--output-root DIR" : NULL;
    if (missing) {
        fprintf (stderr, "masterfarm-broker: %s is required (see --help)\n", missing);
        return 2;
    }
    if (cfg.metrics_bind && !cfg.metrics_port) {
        fprintf (stderr, "masterfarm-broker: --metrics-bind HOST needs --metrics-port N\n");
        return 2;
    }
    if (cfg.allow_dir && !cfg.curve_key_path) {
        fprintf (stderr, "masterfarm-broker: --allow DIR needs --curve-key FILE (the broker's "
                 "key pair; make one with masterfarm keygen)\n");
        return 2;
    }
    if (cfg.curve_key_path && !cfg.allow_dir) {
        fprintf (stderr, "masterfarm-broker: --curve-key needs --allow DIR (a folder of the "
                 "clients' and workers' NAME.pub files)\n");
        return 2;
    }
    if (cfg.curve_key_path && insecure) {
        fprintf (stderr, "masterfarm-broker: --insecure and --curve-key contradict each other\n");
        return 2;
    }
    if (!cfg.curve_key_path && !keys_endpoint_is_local (cfg.bind_url)) {
        if (!insecure) {
            fprintf (stderr, "masterfarm-broker: %s can be reached from other machines and "
                     "traffic would be plaintext: give --curve-key FILE --allow DIR (see "
                     "masterfarm keygen), bind 127.0.0.1 or ipc://, or accept it with "
                     "--insecure\n", cfg.bind_url);
            return 2;
        }
        log_warn ("PLAINTEXT on %s: anyone who reaches this address can submit jobs, read "
                  "and write under the roots; use --curve-key and --allow", cfg.bind_url);
    }
    char err [768] = "";
    broker_t *b = broker_new (&cfg, err, sizeof err);
    if (!b) {
        fprintf (stderr, "masterfarm-broker: %s\n", err);
        return 2;
    }
    cli_daemon_signals (s_on_signal, s_on_hup);
    int rc = broker_run (b);
    broker_destroy (&b);
    return rc ? 1 : 0;
}
