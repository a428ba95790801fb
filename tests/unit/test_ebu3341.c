/*  EBU Tech 3341 (loudness metering, "EBU mode") test signals 1-5,
    synthesized from their published descriptions (1 kHz sine, stereo,
    48 kHz), measured through analysis_run and through the written WAV and
    `masterfarm analyze --json`. Expected integrated loudness per Tech 3341
    table 1, tolerance +-0.1 LU (the tolerance Tech 3341 sets):
      1: -23 dBFS, 20 s                        -> -23.0 LUFS
      2: -33 dBFS, 20 s                        -> -33.0 LUFS
      3: -36 / -23 / -36 dBFS, 10 / 60 / 10 s  -> -23.0 LUFS
      4: -72 / -36 / -23 / -36 / -72 dBFS,
         10 / 10 / 60 / 10 / 10 s              -> -23.0 LUFS
      5: -26 / -20 / -26 dBFS, 20 / 20.1 / 20 s -> -23.0 LUFS
    Also: measure_gated_loudness over the track's own gating blocks
    reproduces the integrated loudness within 0.05 LU (the album stage
    relies on it), and a steady tone's maximum momentary and short-term
    loudness equal its integrated loudness within 0.1 LU.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ebusig.h"
#include "testsig.h"
#include "common/measure.h"
#include "worker/analysis.h"

#define RATE_HZ  48000

typedef struct {
    int    steps;
    double dbfs [5];
    double seconds [5];
    double expect_lufs;
} s_signal_t;

static const s_signal_t s_signals [5] = {
    { 1, { -23 }, { 20 }, -23.0 },
    { 1, { -33 }, { 20 }, -33.0 },
    { 3, { -36, -23, -36 }, { 10, 60, 10 }, -23.0 },
    { 5, { -72, -36, -23, -36, -72 }, { 10, 10, 60, 10, 10 }, -23.0 },
    { 3, { -26, -20, -26 }, { 20, 20.1, 20 }, -23.0 },
};

//  Signals 1-5 through analysis_run.
static void
test_analysis_run (void **state)
{
    (void) state;
    for (int s = 0; s < 5; s++) {
        audio_t a;
        ebusig_tone_steps (&a, RATE_HZ, s_signals [s].dbfs, s_signals [s].seconds,
                           s_signals [s].steps);
        measure_t m;
        char err [256];
        assert_int_equal (analysis_run (&a, NULL, &m, err, sizeof err), 0);
        printf ("  signal %d: %.3f LUFS (expected %.1f +-0.1), %zu blocks\n",
                s + 1, m.integrated_lufs, s_signals [s].expect_lufs, m.n_blocks);
        //  Tech 3341: +-0.1 LU
        assert_true (fabs (m.integrated_lufs - s_signals [s].expect_lufs) <= 0.1);

        //  the blocks reproduce the integrated loudness (BS.1770-4 gating), 0.05 LU
        const measure_t *tracks [1] = { &m };
        double g = measure_gated_loudness (tracks, NULL, 1);
        printf ("            blocks gated: %.4f LUFS\n", g);
        assert_true (fabs (g - m.integrated_lufs) <= 0.05);

        //  block count: one per 100 ms hop from the 4th on
        size_t hops = (size_t) a.frames / (RATE_HZ / 10);
        assert_int_equal (m.n_blocks, hops - 3);
        assert_int_equal (m.frames, a.frames);
        assert_int_equal (m.rate_hz, RATE_HZ);
        assert_int_equal (m.channels, 2);
        measure_free (&m);
        audio_free (&a);
    }
}

//  A steady tone: M max = S max = I, sample peak and true peak at the
//  tone's level, the spectrum's 1 kHz band at the tone's level re a
//  full-scale sine, and no clipping or DC.
static void
test_steady_tone_levels (void **state)
{
    (void) state;
    audio_t a;
    ebusig_tone_steps (&a, RATE_HZ, s_signals [0].dbfs, s_signals [0].seconds, 1);
    measure_t m;
    char err [256];
    assert_int_equal (analysis_run (&a, NULL, &m, err, sizeof err), 0);
    assert_true (fabs (m.max_momentary_lufs - m.integrated_lufs) <= 0.1);
    assert_true (fabs (m.max_shortterm_lufs - m.integrated_lufs) <= 0.1);
    assert_true (fabs (m.sample_peak_dbfs - -23.0) <= 0.01);
    //  1 kHz at 48 kHz: the 4x grid error is at most 20 log10 cos(pi/192) = 0.0012 dB
    assert_true (fabs (m.true_peak_dbtp - -23.0) <= 0.01);
    assert_true (m.lra_lu <= 0.1);
    assert_int_equal (m.clipped_samples, 0);
    //  band 16 is 1 kHz; a -23 dBFS sine reads -23 dB re full-scale sine (0.1 dB: window leakage)
    assert_true (measure_band_hz (16) == 1000.0);
    printf ("  1 kHz band: %.3f dB, 800 Hz band %.1f dB, 1.25 kHz band %.1f dB\n",
            m.band_db [16], m.band_db [15], m.band_db [17]);
    assert_true (fabs (m.band_db [16] - -23.0) <= 0.1);
    assert_true (m.band_db [15] < -60.0 && m.band_db [17] < -60.0);
    //  the sine starts at 0: one leading frame below -60 dBFS, none trailing
    //  beyond the last zero crossing region
    assert_true (m.lead_silence_frames <= 1);
    measure_free (&m);
    audio_free (&a);
}

//  Signals 1-5 written as 24-bit WAV and measured by `masterfarm analyze --json`.
static void
test_cli_json (void **state)
{
    (void) state;
    const char *dir = testsig_tmpdir ("ebu3341");
    char paths [5][512];
    const char *argv [5];
    for (int s = 0; s < 5; s++) {
        audio_t a;
        ebusig_tone_steps (&a, RATE_HZ, s_signals [s].dbfs, s_signals [s].seconds,
                           s_signals [s].steps);
        snprintf (paths [s], sizeof paths [s], "%s/ebu3341_%d.wav", dir, s + 1);
        testsig_write_wav (paths [s], &a, 24);
        argv [s] = paths [s];
        audio_free (&a);
    }
    int code;
    json_t *arr = ebusig_analyze_json (argv, 5, &code);
    assert_non_null (arr);
    assert_int_equal (code, 0);
    assert_int_equal (json_array_size (arr), 5);
    for (int s = 0; s < 5; s++) {
        json_t *o = json_array_get (arr, (size_t) s);
        double i = json_real_value (json_object_get (o, "integrated_lufs"));
        printf ("  %s: %.3f LUFS\n", paths [s], i);
        assert_string_equal (json_string_value (json_object_get (o, "file")), paths [s]);
        assert_true (fabs (i - s_signals [s].expect_lufs) <= 0.1);     //  Tech 3341 +-0.1
        assert_true (json_array_size (json_object_get (o, "block_lufs")) > 0);
        assert_int_equal (json_array_size (json_object_get (o, "band_db")), MEASURE_BANDS);
        unlink (paths [s]);
    }
    json_decref (arr);
    rmdir (dir);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_analysis_run),
        cmocka_unit_test (test_steady_tone_levels),
        cmocka_unit_test (test_cli_json),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
