/*  Writes the generated test mix (tests/lib/master_mix.h) as a WAV file:
        tool_master_mix OUT.wav SECONDS [RATE_HZ] [CHANNELS] [BITS]
                        [BURSTS BURST_S FREQ_HZ PEAK]
    (defaults 44100 Hz, 2 channels, 24-bit; BITS 32 = float); with
    BURSTS, that many sine bursts are added (master_mix_add_bursts).  */
#include <stdio.h>
#include <stdlib.h>

#include "master_mix.h"
#include "testsig.h"

int
main (int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: tool_master_mix OUT.wav SECONDS [RATE_HZ] [CHANNELS] [BITS]\n");
        return 2;
    }
    double seconds = atof (argv [2]);
    int rate = argc > 3 ? atoi (argv [3]) : 44100;
    int channels = argc > 4 ? atoi (argv [4]) : 2;
    int bits = argc > 5 ? atoi (argv [5]) : 24;
    if (!(seconds > 0) || rate < 8000 || channels < 1 || channels > 2) {
        fprintf (stderr, "tool_master_mix: bad arguments\n");
        return 2;
    }
    audio_t a;
    master_mix_generate (&a, seconds, rate, channels, 1);
    if (argc > 9)
        master_mix_add_bursts (&a, atoi (argv [6]), atof (argv [7]), atof (argv [8]),
                               atof (argv [9]));
    testsig_write_wav (argv [1], &a, bits);
    audio_free (&a);
    return 0;
}
