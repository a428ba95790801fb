/*  libsoxr resampling: exact output length round (n * out / in) for many
    rate pairs and lengths (whole buffer and chunked), a 1 kHz sine
    converted 44.1 -> 48 kHz matches the ideal sine at 48 kHz (time
    aligned) with a residual below -100 dBFS away from the edges (SOXR_VHQ
    passband ripple and stopband are far below that), chunked equals whole,
    equal rates copy, bad rates are refused, and resampling a whole track
    takes little memory beyond its output.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "worker/resample.h"
#include "testsig.h"

static void
test_out_frames (void **state)
{
    assert_int_equal (resample_out_frames (44100, 44100, 48000), 48000);
    assert_int_equal (resample_out_frames (1, 44100, 48000), 1);        //  1.088
    assert_int_equal (resample_out_frames (3, 48000, 44100), 3);        //  2.756
    assert_int_equal (resample_out_frames (10, 384000, 8000), 0);       //  0.208
    assert_int_equal (resample_out_frames (24, 384000, 8000), 1);       //  0.5 rounds up
    assert_int_equal (resample_out_frames (7, 8000, 384000), 336);
    assert_int_equal (resample_out_frames (0, 8000, 384000), 0);
}

static void
test_lengths (void **state)
{
    static const int pairs [][2] = {
        { 44100, 48000 }, { 48000, 44100 }, { 96000, 44100 }, { 8000, 384000 },
        { 384000, 8000 }, { 44100, 44100 }, { 22050, 48000 }, { 192000, 48000 },
    };
    static const int64_t lens [] = { 1, 17, 1000, 44101 };
    for (size_t p = 0; p < sizeof pairs / sizeof pairs [0]; p++)
        for (size_t l = 0; l < sizeof lens / sizeof lens [0]; l++) {
            audio_t in, out;
            testsig_alloc (&in, lens [l], 2, pairs [p][0]);
            testsig_add_sine (&in, 300.0, 0.5, 0.0, 0, in.frames);
            char err [256];
            int rc = resample_audio (&in, pairs [p][1], &out, err, sizeof err);
            if (rc != 0)
                fail_msg ("%d -> %d Hz, %lld frames: %s", pairs [p][0], pairs [p][1], (long long) lens [l], err);
            int64_t want = resample_out_frames (lens [l], pairs [p][0], pairs [p][1]);
            if (out.frames != want)
                fail_msg ("%d -> %d Hz, %lld frames: got %lld, want %lld", pairs [p][0],
                          pairs [p][1], (long long) lens [l], (long long) out.frames,
                          (long long) want);
            assert_int_equal (out.rate_hz, pairs [p][1]);
            assert_int_equal (out.channels, 2);
            audio_free (&in);
            audio_free (&out);
        }
}

static void
test_sine_accuracy_and_chunks (void **state)
{
    audio_t in, out;
    const int64_t n = 44100 * 2;
    testsig_alloc (&in, n, 2, 44100);
    testsig_add_sine (&in, 1000.0, 0.5, 0.0, 0, n);
    char err [256];
    assert_int_equal (resample_audio (&in, 48000, &out, err, sizeof err), 0);
    double e2 = 0;
    int64_t cnt = 0;
    for (int64_t i = 4800; i < out.frames - 4800; i++) {
        double ideal = 0.5 * sin (2 * M_PI * 1000.0 * i / 48000.0);
        double d = out.data [i * 2] - ideal;
        e2 += d * d;
        cnt++;
    }
    double resid_db = 10 * log10 (e2 / cnt + 1e-30);
    printf ("44.1 -> 48 kHz 1 kHz sine: residual %.1f dBFS RMS (limit -100)\n", resid_db);
    assert_true (resid_db < -100.0);

    //  chunked, random chunk sizes (seed printed)
    unsigned seed = 2024;
    printf ("chunk seed %u\n", seed);
    srand (seed);
    resample_t *rs = resample_new (2, 44100, 48000);
    assert_non_null (rs);
    int64_t want = resample_out_frames (n, 44100, 48000);
    float *buf = malloc ((size_t) (want + 100000) * 2 * sizeof (float));
    int64_t pos = 0, got = 0;
    while (pos < n) {
        int64_t step = 1 + rand () % 5000;
        if (step > n - pos)
            step = n - pos;
        bool last = pos + step == n;
        int64_t w = resample_process (rs, in.data + pos * 2, (size_t) step, last,
                                      buf + got * 2, (size_t) (want + 100000 - got));
        assert_true (w >= 0);
        got += w;
        pos += step;
    }
    for (;;) {
        int64_t w = resample_process (rs, NULL, 0, true, buf + got * 2,
                                      (size_t) (want + 100000 - got));
        assert_true (w >= 0);
        if (w == 0)
            break;
        got += w;
    }
    assert_int_equal (got, want);
    double maxd = 0;
    for (int64_t i = 0; i < want * 2; i++)
        maxd = fmax (maxd, fabs (buf [i] - out.data [i]));
    printf ("chunked vs whole: max difference %.3g\n", maxd);
    assert_true (maxd == 0.0);
    resample_destroy (&rs);
    assert_null (rs);
    free (buf);
    audio_free (&in);
    audio_free (&out);
}

static void
test_equal_rate_and_bad (void **state)
{
    audio_t in, out;
    testsig_alloc (&in, 999, 1, 48000);
    testsig_add_noise (&in, 0.1, 3);
    char err [256];
    assert_int_equal (resample_audio (&in, 48000, &out, err, sizeof err), 0);
    assert_int_equal (out.frames, 999);
    assert_memory_equal (in.data, out.data, 999 * sizeof (float));
    audio_free (&out);
    assert_int_equal (resample_audio (&in, 4000, &out, err, sizeof err), MF_ERR_UNSUPPORTED);
    assert_non_null (strstr (err, "4000"));
    assert_null (resample_new (2, 44100, 768000));
    assert_null (resample_new (0, 44100, 48000));
    audio_free (&in);
}

//  Peak resident memory (KiB) of a child that resamples secs seconds of
//  stereo 44.1 kHz to 48 kHz with resample_audio, over its peak before.
static long
s_child_peak_kib (double secs, long *data_kib)
{
    int64_t n = (int64_t) (secs * 44100);
    *data_kib = (long) ((n + resample_out_frames (n, 44100, 48000)) * 2 * 4 / 1024);
    int fd [2];
    assert_int_equal (pipe (fd), 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        audio_t in, out;
        testsig_alloc (&in, n, 2, 44100);
        testsig_add_noise (&in, 0.1, 5);
        struct rusage ru;
        getrusage (RUSAGE_SELF, &ru);
        long before = ru.ru_maxrss;
        char err [256];
        long grown = -1;
        if (resample_audio (&in, 48000, &out, err, sizeof err) == 0) {
            getrusage (RUSAGE_SELF, &ru);
            grown = ru.ru_maxrss - before;
        }
        if (write (fd [1], &grown, sizeof grown) != sizeof grown)
            _exit (1);
        _exit (0);
    }
    close (fd [1]);
    long grown = -1;
    assert_int_equal (read (fd [0], &grown, sizeof grown), sizeof grown);
    close (fd [0]);
    int status;
    waitpid (pid, &status, 0);
    return grown;
}

//  A whole track resampled needs its output and little else: libsoxr is
//  fed in pieces, not handed the whole track (it would copy it into its
//  own buffers). 120 s of stereo: the input is 41 MiB, the output 45 MiB.
static void
test_memory_bounded (void **state)
{
    long data_kib;
    long grown = s_child_peak_kib (120.0, &data_kib);
    long out_kib = data_kib * 48000 / (44100 + 48000);
    printf ("resample_audio 120 s stereo: peak grew %ld KiB; output %ld KiB\n", grown, out_kib);
    assert_true (grown > 0);
    //  the output, plus 25 % (sanitizer shadow memory) and 16 MiB of slack
    assert_true (grown <= out_kib + out_kib / 4 + 16 * 1024);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_out_frames),
        cmocka_unit_test (test_lengths),
        cmocka_unit_test (test_sine_accuracy_and_chunks),
        cmocka_unit_test (test_equal_rate_and_bad),
        cmocka_unit_test (test_memory_bounded),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
