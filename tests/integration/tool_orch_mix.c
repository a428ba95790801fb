/*  Writes the generated orchestral-like mix (tests/lib/orch_mix.h) as a
    WAV file:
        tool_orch_mix OUT.wav SECONDS [RATE_HZ] [CHANNELS] [BITS] [SEED]
    (defaults 44100 Hz, 2 channels, 24-bit, seed 1; BITS 32 = float).  */
#include <stdio.h>
#include <stdlib.h>

#include "orch_mix.h"
#include "testsig.h"

int
main (int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: tool_orch_mix OUT.wav SECONDS [RATE_HZ] [CHANNELS] [BITS] [SEED]\n");
        return 2;
    }
    double seconds = atof (argv [2]);
    int rate = argc > 3 ? atoi (argv [3]) : 44100;
    int channels = argc > 4 ? atoi (argv [4]) : 2;
    int bits = argc > 5 ? atoi (argv [5]) : 24;
    unsigned long long seed = argc > 6 ? strtoull (argv [6], NULL, 10) : 1;
    if (!(seconds >= 10) || rate < 8000 || channels < 1 || channels > 2) {
        fprintf (stderr, "tool_orch_mix: bad arguments (at least 10 s, 1 or 2 channels)\n");
        return 2;
    }
    audio_t a;
    orch_mix_generate (&a, seconds, rate, channels, seed);
    testsig_write_wav (argv [1], &a, bits);
    audio_free (&a);
    return 0;
}
