/*  EBU Tech 3341 / 3342 signal synthesis and the `masterfarm analyze
    --json` runner for tests.  */
#include "ebusig.h"
#include "testsig.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

void
ebusig_tone_steps (audio_t *a, int rate_hz, const double *dbfs,
                   const double *seconds, int steps)
{
    int64_t total = 0;
    for (int i = 0; i < steps; i++)
        total += (int64_t) llround (seconds [i] * rate_hz);
    testsig_alloc (a, total, 2, rate_hz);
    int64_t pos = 0;
    double w = 2.0 * M_PI * 1000.0 / rate_hz;
    for (int s = 0; s < steps; s++) {
        int64_t len = (int64_t) llround (seconds [s] * rate_hz);
        double amp = pow (10.0, dbfs [s] / 20.0);
        for (int64_t i = 0; i < len; i++) {
            //  phase continuous across steps: the phase follows the absolute frame
            float v = (float) (amp * sin (w * (double) ((pos + i) % rate_hz)));
            a->data [2 * (pos + i)] = v;
            a->data [2 * (pos + i) + 1] = v;
        }
        pos += len;
    }
}

json_t *
ebusig_analyze_json (const char *const *paths, int n, int *exit_code)
{
    *exit_code = -1;
    const char *bin = getenv ("MF_BIN");
    if (!bin || !*bin) {
        fprintf (stderr, "ebusig: MF_BIN is not set (run through ctest)\n");
        return NULL;
    }
    size_t size = strlen (bin) + 64;
    for (int i = 0; i < n; i++)
        size += strlen (paths [i]) + 4;
    char *cmd = malloc (size);
    int len = snprintf (cmd, size, "'%s/masterfarm' analyze --json", bin);
    for (int i = 0; i < n; i++)
        len += snprintf (cmd + len, size - (size_t) len, " '%s'", paths [i]);
    FILE *p = popen (cmd, "r");
    free (cmd);
    if (!p) {
        fprintf (stderr, "ebusig: cannot run masterfarm\n");
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadf (p, 0, &jerr);
    int status = pclose (p);
    *exit_code = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
    if (!root || !json_is_array (root)) {
        fprintf (stderr, "ebusig: masterfarm analyze --json printed no JSON array (%s, line %d)\n",
                 jerr.text, jerr.line);
        json_decref (root);
        return NULL;
    }
    return root;
}
