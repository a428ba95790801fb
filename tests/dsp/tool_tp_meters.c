/*  tool_tp_meters: true peak of audio files by several meters, side by
    side, to compare them (a measuring aid for people and scripts, not a
    test).

        usage: tool_tp_meters FILE...

    One line per file, dBTP (dBFS for the sample peak):
        sample   largest |sample|
        own      the project's meter (worker/dsp/truepeak.h, 4x / 2x)
        check    the delivery check's accurate meter (worker/dsp/tp_check.h)
        ebur128  libebur128's EBUR128_MODE_TRUE_PEAK
        ideal    band-limited (ideal sinc) reconstruction of the samples,
                 followed and preceded by silence, read on a 32x grid:
                 the spectrum of each channel (FFT, zero-padded in time)
                 is zero-padded to 32 times the length and transformed
                 back. A grid of 32x misses at most 20 log10 cos (pi / 64)
                 = 0.011 dB at the Nyquist frequency. Long files are done
                 in overlapping blocks (margins of 2^16 samples on each
                 side, enough for the sinc tails to fall below 0.003 dB
                 on noise).

    Environment, for investigations:
        TP_FLOOR=dBTP  also run the check screened at that floor (as the
                       mastering verification does) and print how many
                       intervals it refined
        IDEAL_BW=r     the ideal reading keeps only the band below r
                       times the Nyquist frequency (a brick wall)

    Exit status 0, or 1 if a file could not be read.  */
#include <ebur128.h>
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/audio_io.h"
#include "worker/dsp/tp_check.h"
#include "worker/dsp/truepeak.h"

#define IDEAL_FACTOR   32
#define IDEAL_BLOCK    ((size_t) 1 << 18)    //  samples evaluated per FFT
#define IDEAL_MARGIN   ((size_t) 1 << 16)    //  context on each side

//  Linear to dB; -inf for 0.
static double
s_db (double v)
{
    return v > 0.0 ? 20.0 * log10 (v) : -HUGE_VAL;
}

//  Largest |ideal interpolated value| of x[lo .. hi) (one channel, the
//  whole signal x[0 .. n) with silence around it), evaluating with the
//  context x[lo - IDEAL_MARGIN .. hi + IDEAL_MARGIN).
static double
s_ideal_block (const float *x, size_t n, size_t lo, size_t hi)
{
    size_t a = lo > IDEAL_MARGIN ? lo - IDEAL_MARGIN : 0;
    size_t b = hi + IDEAL_MARGIN < n ? hi + IDEAL_MARGIN : n;
    size_t len = (b - a) + 2 * 1024;                    //  silence both sides
    len += len & 1;
    size_t big = len * IDEAL_FACTOR;
    float *t = fftwf_alloc_real (len);
    fftwf_complex *spec = fftwf_alloc_complex (big / 2 + 1);
    float *y = fftwf_alloc_real (big);
    if (!t || !spec || !y) {
        fprintf (stderr, "tool_tp_meters: out of memory\n");
        exit (1);
    }
    memset (t, 0, len * sizeof (float));
    memcpy (t + 1024, x + a, (b - a) * sizeof (float));
    fftwf_plan fwd = fftwf_plan_dft_r2c_1d ((int) len, t, spec, FFTW_ESTIMATE);
    fftwf_execute (fwd);
    fftwf_destroy_plan (fwd);
    size_t half = len / 2;
    spec [half][0] *= 0.5f;                             //  Nyquist: split in two
    spec [half][1] = 0.0f;
    const char *bw = getenv ("IDEAL_BW");
    if (bw)
        for (size_t i = (size_t) (atof (bw) * half); i <= half; i++)
            spec [i][0] = spec [i][1] = 0.0f;
    memset (spec + half + 1, 0, (big / 2 - half) * sizeof (fftwf_complex));
    fftwf_plan inv = fftwf_plan_dft_c2r_1d ((int) big, spec, y, FFTW_ESTIMATE);
    fftwf_execute (inv);
    fftwf_destroy_plan (inv);
    double m = 0.0, scale = 1.0 / (double) len;
    size_t from = (lo - a + 1024) * IDEAL_FACTOR, to = (hi - a + 1024) * IDEAL_FACTOR;
    if (hi == n)
        to = big;                                       //  the tail after the end
    if (lo == 0)
        from = 0;
    for (size_t i = from; i < to; i++) {
        double v = fabs ((double) y [i]) * scale;
        if (v > m)
            m = v;
    }
    fftwf_free (t);
    fftwf_free (spec);
    fftwf_free (y);
    return m;
}

//  Ideal true peak of channel c of a, linear.
static double
s_ideal (const audio_t *a, int c)
{
    size_t n = (size_t) a->frames;
    float *x = malloc (n * sizeof (float));
    if (!x) {
        fprintf (stderr, "tool_tp_meters: out of memory\n");
        exit (1);
    }
    for (size_t i = 0; i < n; i++)
        x [i] = a->data [i * (size_t) a->channels + (size_t) c];
    double m = 0.0;
    for (size_t lo = 0; lo < n; lo += IDEAL_BLOCK) {
        size_t hi = lo + IDEAL_BLOCK < n ? lo + IDEAL_BLOCK : n;
        double v = s_ideal_block (x, n, lo, hi);
        if (v > m)
            m = v;
    }
    free (x);
    return m;
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: tool_tp_meters FILE...\n");
        return 2;
    }
    int status = 0;
    printf ("%-8s %8s %8s %8s %8s %8s  %s\n", "", "sample", "own", "check", "ebur128",
            "ideal32", "file");
    for (int f = 1; f < argc; f++) {
        audio_t a;
        char err [256];
        if (audio_read (argv [f], &a, err, sizeof err)) {
            fprintf (stderr, "tool_tp_meters: %s: %s\n", argv [f], err);
            status = 1;
            continue;
        }
        size_t frames = (size_t) a.frames;
        int ch = a.channels;
        double sample = 0.0;
        for (size_t i = 0; i < frames * (size_t) ch; i++)
            if (fabs (a.data [i]) > sample)
                sample = fabs (a.data [i]);
        truepeak_t *tp = truepeak_new (a.rate_hz, ch);
        double own = -HUGE_VAL;
        if (tp) {
            truepeak_process (tp, a.data, frames);
            own = truepeak_max_dbtp (tp);
            truepeak_destroy (&tp);
        }
        double check = tp_check_max_dbtp (a.data, (int64_t) frames, ch, a.rate_hz);
        ebur128_state *st = ebur128_init ((unsigned) ch, (unsigned long) a.rate_hz,
                                          EBUR128_MODE_TRUE_PEAK);
        double ebu = 0.0;
        if (st) {
            ebur128_add_frames_float (st, a.data, frames);
            for (int c = 0; c < ch; c++) {
                double v;
                if (ebur128_true_peak (st, (unsigned) c, &v) == EBUR128_SUCCESS && v > ebu)
                    ebu = v;
            }
            ebur128_destroy (&st);
        }
        double ideal = 0.0;
        for (int c = 0; c < ch; c++) {
            double v = s_ideal (&a, c);
            if (v > ideal)
                ideal = v;
        }
        printf ("%-8s %8.3f %8.3f %8.3f %8.3f %8.3f  %s\n", "dBTP", s_db (sample), own,
                check, s_db (ebu), s_db (ideal), argv [f]);
        const char *fl = getenv ("TP_FLOOR");
        if (fl) {
            tp_check_result_t r;
            tp_check_run (a.data, (int64_t) frames, ch, a.rate_hz, atof (fl), &r);
            printf ("screened at %s: own %.3f check %.3f refined %lld of %lld (%.3f%%)\n",
                    fl, r.own_dbtp, r.true_peak_dbtp, (long long) r.refined,
                    (long long) r.intervals, 100.0 * (double) r.refined / (double) r.intervals);
        }
        audio_free (&a);
    }
    return status;
}
