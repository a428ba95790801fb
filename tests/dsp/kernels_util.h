/*  Helpers shared by the filter and dynamics kernel tests: sine
    generation, least-squares sine amplitude measurement, and a random
    block-size splitter with a printed seed. Header-only (static), so each
    test program includes its own copy.  */
#ifndef MF_TESTS_KERNELS_UTIL_H
#define MF_TESTS_KERNELS_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testsig.h"

//  Allocates frames * channels floats, zeroed; aborts on failure (tests only).
static inline float *
ku_alloc (size_t frames, int channels)
{
    float *p = calloc (frames * (size_t) channels + 1, sizeof (float));
    if (!p)
        abort ();
    return p;
}

//  Writes amp * sin (2 pi f n / fs + phase) into every channel of buf.
static inline void
ku_sine (float *buf, size_t frames, int channels, double f_hz, double fs_hz,
         double amp, double phase)
{
    for (size_t n = 0; n < frames; n++) {
        float v = (float) (amp * sin (2.0 * M_PI * f_hz * (double) n / fs_hz + phase));
        for (int c = 0; c < channels; c++)
            buf [n * (size_t) channels + c] = v;
    }
}

//  Amplitude of the component at f_hz in channel c of frames [start,
//  start + len): least-squares fit of A sin + B cos (exact for a pure
//  sine at f_hz, whatever the window length).
static inline double
ku_sine_amp (const float *buf, int channels, int c, size_t start, size_t len,
             double f_hz, double fs_hz)
{
    double sss = 0, scc = 0, ssc = 0, sys = 0, syc = 0;
    double w = 2.0 * M_PI * f_hz / fs_hz;
    for (size_t n = start; n < start + len; n++) {
        double s = sin (w * (double) n), co = cos (w * (double) n);
        double y = buf [n * (size_t) channels + c];
        sss += s * s;
        scc += co * co;
        ssc += s * co;
        sys += y * s;
        syc += y * co;
    }
    double det = sss * scc - ssc * ssc;
    double a = (sys * scc - syc * ssc) / det;
    double b = (syc * sss - sys * ssc) / det;
    return sqrt (a * a + b * b);
}

//  A seed for the random block sizes: MF_TEST_SEED if set, else the
//  clock; printed so that a failure can be replayed.
static inline uint64_t
ku_seed (const char *what)
{
    const char *env = getenv ("MF_TEST_SEED");
    uint64_t seed = env ? strtoull (env, NULL, 10) : (uint64_t) time (NULL);
    if (seed == 0)
        seed = 1;
    printf ("# %s: random block sizes, seed %llu (replay with MF_TEST_SEED)\n",
            what, (unsigned long long) seed);
    return seed;
}

//  Next block size in 1 .. max (skewed toward small sizes).
static inline size_t
ku_block (testsig_rng_t *rng, size_t max)
{
    double u = testsig_rng_uniform (rng);
    size_t n = 1 + (size_t) (u * u * u * (double) max);
    return n > max ? max : n;
}

#endif
