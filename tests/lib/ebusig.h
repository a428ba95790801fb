/*  EBU Tech 3341 / 3342 test signals, synthesized from their published
    descriptions (1 kHz sine, stereo, in steps of given dBFS and seconds),
    and a helper that runs `masterfarm analyze --json` on files.  */
#ifndef MF_TEST_EBUSIG_H
#define MF_TEST_EBUSIG_H

#include <jansson.h>

#include "worker/audio_io.h"

//  Fills a (allocated here, free with audio_free) with a phase-continuous
//  1 kHz stereo sine at rate_hz: step i lasts seconds[i] at peak level
//  dbfs[i] (dBFS of the sine's peak, as Tech 3341 states its levels).
void ebusig_tone_steps (audio_t *a, int rate_hz, const double *dbfs,
                        const double *seconds, int steps);

//  Runs "$MF_BIN/masterfarm analyze --json" on n paths and returns the
//  parsed array (json_decref it), or NULL with a message on stderr if
//  the program could not run or did not print a JSON array. *exit_code
//  gets the exit status (or -1).
json_t *ebusig_analyze_json (const char *const *paths, int n, int *exit_code);

#endif
