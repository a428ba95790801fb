/*  masterfarm keygen: makes a CURVE key pair for a broker, a worker or a
    client (common/keys.h): NAME.key (secret, mode 0600) and NAME.pub
    (public). Keys are never overwritten unless --force is given, so that
    a slip cannot lock a running farm out.  */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "client/commands.h"
#include "common/err.h"
#include "common/keys.h"

//  Prints the help text to out.
static void
s_help (FILE *out)
{
    fprintf (out,
        "usage: masterfarm keygen NAME [--force]\n"
        "\n"
        "Makes a CURVE key pair and writes NAME.key (the pair, secret: mode 0600)\n"
        "and NAME.pub (the public key). NAME may include a folder. One pair per\n"
        "broker, worker and client:\n"
        "\n"
        "  broker:  masterfarm-broker --curve-key broker.key --allow DIR ...\n"
        "           (DIR holds the NAME.pub of every client and worker let in)\n"
        "  worker:  masterfarm-worker --curve-key w1.key --broker-key broker.pub ...\n"
        "  client:  masterfarm submit ... --curve-key me.key --broker-key broker.pub\n"
        "           (or MASTERFARM_CURVE_KEY=me.key MASTERFARM_BROKER_KEY=broker.pub)\n"
        "\n"
        "  --force   replace NAME.key and NAME.pub if they exist\n"
        "\n"
        "Exit status: 0 written, 1 not written (a file exists or cannot be\n"
        "written), 2 bad usage.\n");
}

//  masterfarm keygen NAME [--force]: writes NAME.key and NAME.pub.
int
cmd_keygen (int argc, char **argv)
{
    const char *name = NULL;
    bool force = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i];
        if (!strcmp (a, "--help") || !strcmp (a, "-h")) {
            s_help (stdout);
            return EXIT_OK;
        }
        else if (!strcmp (a, "--force"))
            force = true;
        else if (a [0] == '-' && a [1]) {
            fprintf (stderr, "masterfarm keygen: unknown option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
        else if (name) {
            fprintf (stderr, "masterfarm keygen: one NAME at a time ('%s' and '%s')\n", name, a);
            return EXIT_USAGE;
        }
        else
            name = a;
    }
    size_t len = name ? strlen (name) : 0;
    if (!name || !len || name [len - 1] == '/') {
        fprintf (stderr, "masterfarm keygen: give a NAME (e.g. 'worker1' or 'keys/worker1'); "
                 "NAME.key and NAME.pub are written\n");
        return EXIT_USAGE;
    }
    if ((len > 4 && (!strcmp (name + len - 4, ".key") || !strcmp (name + len - 4, ".pub")))) {
        fprintf (stderr, "masterfarm keygen: give NAME without .key or .pub ('%.*s')\n",
                 (int) (len - 4), name);
        return EXIT_USAGE;
    }
    char err [600];
    int rc = keys_generate (name, force, err, sizeof err);
    if (rc) {
        fprintf (stderr, "masterfarm keygen: %s\n", err);
        return rc == MF_ERR_INVALID ? EXIT_USAGE : EXIT_FAILED;
    }
    printf ("%s.key: key pair (secret: keep it private; --curve-key %s.key)\n"
            "%s.pub: public key (for the broker's --allow folder, or --broker-key if this "
            "is the broker)\n", name, name, name);
    return EXIT_OK;
}
