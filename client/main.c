/*  masterfarm: the command-line client. Dispatches to one subcommand per
    file (client/cmd_*.c); see DESIGN.md "Contract: commands".  */
#include "client/commands.h"
#include "common/cli.h"
#include "common/version.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*fn) (int argc, char **argv);
    const char *synopsis;
} s_command_t;

static const s_command_t s_commands [] = {
    { "run",     cmd_run,     "run JOB.json [-o OUTDIR] [-j WORKERS]      local farm: broker + workers" },
    { "album",   cmd_album,   "album DIR -o OUTDIR [--profile NAME]...    album from a folder" },
    { "master",  cmd_master,  "master FILE -o OUT [--profile NAME]        one track through the chain" },
    { "analyze", cmd_analyze, "analyze FILE... [--json]                   loudness, true peak, LRA, spectrum" },
    { "submit",  cmd_submit,  "submit JOB.json|CATALOG.csv --broker URL   prints the job id" },
    { "status",  cmd_status,  "status [JOB] --broker URL                  jobs, albums, tracks, workers" },
    { "watch",   cmd_watch,   "watch JOB --broker URL                     live progress and ETA" },
    { "cancel",  cmd_cancel,  "cancel JOB --broker URL" },
    { "retry",   cmd_retry,   "retry JOB [--album A [--track N]] --broker URL" },
    { "priority", cmd_priority, "priority JOB N --broker URL             priority 0 .. 9 of queued tasks" },
    { "pause",   cmd_pause,   "pause JOB --broker URL                     dispatch nothing new of the job" },
    { "resume",  cmd_resume,  "resume JOB --broker URL                    dispatch a paused job again" },
    { "logs",    cmd_logs,    "logs JOB [--album A [--track N | --reference K]] --broker URL   every attempt: worker, times, error, stderr" },
    { "keygen",  cmd_keygen,  "keygen NAME [--force]                      CURVE key pair: NAME.key, NAME.pub" },
};

//  Prints the list of subcommands.
static void
s_usage (FILE *out)
{
    fprintf (out, "usage: masterfarm COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands [0]; i++)
        fprintf (out, "  masterfarm %s\n", s_commands [i].synopsis);
    fprintf (out, "\n'masterfarm COMMAND --help' describes one command; every --name VALUE\n"
                  "option may also be written --name=VALUE. 'masterfarm --version' prints\n"
                  "the version.\n");
}

int
main (int argc, char **argv)
{
    //  --name=VALUE is split here, once, for every command's parser; the
    //  array lives as long as the process (held in a static)
    static char **split;
    split = cli_split_long_opts (argc, argv, &argc);
    if (!split) {
        fprintf (stderr, "masterfarm: out of memory\n");
        return EXIT_FAILED;
    }
    argv = split;
    if (argc < 2) {
        s_usage (stderr);
        return EXIT_USAGE;
    }
    if (strcmp (argv [1], "--help") == 0 || strcmp (argv [1], "-h") == 0
    ||  strcmp (argv [1], "help") == 0) {
        s_usage (stdout);
        return EXIT_OK;
    }
    if (strcmp (argv [1], "--version") == 0 || strcmp (argv [1], "version") == 0) {
        printf ("masterfarm %s\n", MF_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands [0]; i++)
        if (strcmp (argv [1], s_commands [i].name) == 0)
            return s_commands [i].fn (argc - 1, argv + 1);
    fprintf (stderr, "masterfarm: unknown command '%s'\n", argv [1]);
    s_usage (stderr);
    return EXIT_USAGE;
}
