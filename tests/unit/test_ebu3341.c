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
    loudness equal its integrated loudness within 0.1 LU.

    The rest of analysis_run's fields are checked here too, against
    analytic values: silence edges, DC, clip count, the spectrum of white
    noise (power proportional to bandwidth), the relative gate keeping a
    quiet section out of the spectrum, a one-frame track, bad input, and
    threads = 2 giving the same results as threads = 1.  */
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
#include "common/err.h"
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


//  Measures a with cfg (NULL: defaults); fails the test on error.
static void
s_measure (const audio_t *a, const analysis_cfg_t *cfg, measure_t *m)
{
    char err [256];
    int rc = analysis_run (a, cfg, m, err, sizeof err);
    if (rc)
        fail_msg ("analysis_run: %s", err);
}

//  1 s silence, 1 s of a -20 dBFS tone, 0.5 s silence: the silence counts
//  and the silent blocks (ANALYSIS_FLOOR_LUFS).
static void
test_silence_edges (void **state)
{
    (void) state;
    audio_t a;
    testsig_alloc (&a, RATE_HZ * 5 / 2, 2, RATE_HZ);
    testsig_add_sine (&a, 1000.0, 0.1, 0.0, RATE_HZ, RATE_HZ);
    measure_t m;
    s_measure (&a, NULL, &m);
    //  the sine starts at 0: its first sample is silent, the second 0.013 > -60 dBFS
    assert_true (m.lead_silence_frames >= RATE_HZ && m.lead_silence_frames <= RATE_HZ + 2);
    assert_true (m.trail_silence_frames >= RATE_HZ / 2 && m.trail_silence_frames <= RATE_HZ / 2 + 2);
    assert_true (m.block_lufs [0] == (float) ANALYSIS_FLOOR_LUFS);
    //  the last block is after the tone: only the K-weighting filter's decay, far below the gate
    assert_true (m.block_lufs [m.n_blocks - 1] < -70.0f);
    measure_free (&m);
    //  a silent track is silent both ways and has no loudness
    memset (a.data, 0, (size_t) a.frames * 2 * sizeof (float));
    s_measure (&a, NULL, &m);
    assert_int_equal (m.lead_silence_frames, a.frames);
    assert_int_equal (m.trail_silence_frames, a.frames);
    assert_true (m.integrated_lufs == -HUGE_VAL);
    assert_true (m.true_peak_dbtp == -HUGE_VAL);
    measure_free (&m);
    audio_free (&a);
}

//  DC of 0.01 on noise reads -40 dBFS; a sine driven to 1.5 into +-1.0
//  counts exactly the samples at full scale.
static void
test_dc_and_clipping (void **state)
{
    (void) state;
    audio_t a;
    testsig_alloc (&a, RATE_HZ * 2, 2, RATE_HZ);
    testsig_add_noise (&a, 0.05, 7);
    for (size_t i = 0; i < (size_t) a.frames * 2; i++)
        a.data [i] += 0.01f;
    measure_t m;
    s_measure (&a, NULL, &m);
    //  mean of 192000 samples of 0.05 rms noise: error ~1e-4, i.e. 0.1 dB at -40 dBFS
    assert_true (fabs (m.dc_offset_dbfs - -40.0) < 0.2);
    assert_int_equal (m.clipped_samples, 0);
    measure_free (&m);
    audio_free (&a);

    testsig_alloc (&a, RATE_HZ, 1, RATE_HZ);
    testsig_add_sine (&a, 997.0, 1.5, 0.3, 0, RATE_HZ);
    int64_t want = 0;
    for (size_t i = 0; i < (size_t) a.frames; i++) {
        a.data [i] = a.data [i] > 1.0f ? 1.0f : a.data [i] < -1.0f ? -1.0f : a.data [i];
        want += fabsf (a.data [i]) >= 0.99999f;
    }
    s_measure (&a, NULL, &m);
    assert_true (want > 1000);
    assert_int_equal (m.clipped_samples, want);
    assert_true (fabs (m.sample_peak_dbfs) < 1e-6);
    assert_true (m.true_peak_dbtp > 0.0);           //  clipping makes inter-sample overs
    measure_free (&m);
    audio_free (&a);
}

//  White noise of rms s: band power = s^2 * bandwidth / (fs / 2), in dB re
//  a full-scale sine (mean square 0.5). Bandwidth of band b = fm * (10^0.05
//  - 10^-0.05). Tolerance 0.5 dB: 20 s of noise, the 100 Hz band averages
//  ~ 20 s * 23 Hz = 460 degrees of freedom per channel (+-0.3 dB at 2 sigma),
//  higher bands far more. Bands from 100 Hz to 16 kHz.
static void
test_spectrum_white_noise (void **state)
{
    (void) state;
    audio_t a;
    const double rms = 0.1;
    testsig_alloc (&a, RATE_HZ * 20, 2, RATE_HZ);
    testsig_add_noise (&a, rms, 11);
    measure_t m;
    s_measure (&a, NULL, &m);
    for (int b = 6; b <= 28; b++) {
        double fm = 1000.0 * pow (10.0, (b - 16) / 10.0);
        double bw = fm * (pow (10.0, 0.05) - pow (10.0, -0.05));
        double want = 10.0 * log10 (rms * rms * bw / (RATE_HZ / 2.0) / 0.5);
        if (fabs (m.band_db [b] - want) > 0.5)
            fail_msg ("band %d (%.0f Hz): %.2f dB, expected %.2f", b, measure_band_hz (b),
                      m.band_db [b], want);
    }
    measure_free (&m);
    audio_free (&a);
}

//  10 s of a -20 dBFS 1 kHz tone, then 10 s of a -50 dBFS 100 Hz tone:
//  the quiet blocks are 30 LU below the loud ones, under the relative gate.
//  Ungated, the 100 Hz band would read -53 dB (the tone in half the
//  frames); gated, only the few passing blocks that straddle the switch
//  hold some of it (~ 2 of 100: about -67 dB), so below -62 dB.
static void
test_spectrum_gated (void **state)
{
    (void) state;
    audio_t a;
    testsig_alloc (&a, RATE_HZ * 20, 2, RATE_HZ);
    testsig_add_sine (&a, 1000.0, 0.1, 0.0, 0, RATE_HZ * 10);
    testsig_add_sine (&a, 100.0, pow (10.0, -50.0 / 20.0), 0.0, RATE_HZ * 10, RATE_HZ * 10);
    measure_t m;
    s_measure (&a, NULL, &m);
    printf ("  gated: 1 kHz band %.2f dB, 100 Hz band %.1f dB\n", m.band_db [16], m.band_db [6]);
    assert_true (m.band_db [6] < -62.0);
    //  the 1 kHz tone over the passing blocks, re full-scale sine: -20 dB
    //  (+-0.2 dB: the blocks straddling the switch hold a little less tone)
    assert_true (fabs (m.band_db [16] - -20.0) < 0.2);
    measure_free (&m);
    audio_free (&a);
}

//  A one-frame track: measurable peaks, no loudness; bad input rejected.
static void
test_edge_cases (void **state)
{
    (void) state;
    audio_t a;
    testsig_alloc (&a, 1, 1, 44100);
    a.data [0] = 0.5f;
    measure_t m;
    s_measure (&a, NULL, &m);
    assert_int_equal (m.n_blocks, 0);
    assert_true (m.integrated_lufs == -HUGE_VAL);
    assert_true (fabs (m.sample_peak_dbfs - 20.0 * log10 (0.5)) < 1e-6);
    assert_true (m.true_peak_dbtp >= m.sample_peak_dbfs);
    measure_free (&m);

    char err [256];
    a.data [0] = NAN;
    assert_int_equal (analysis_run (&a, NULL, &m, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "NaN"));
    assert_null (m.block_lufs);
    //  the same with the loudness thread running while the NaN is found (a longer track)
    audio_t nan_track;
    testsig_alloc (&nan_track, RATE_HZ * 2, 2, RATE_HZ);
    testsig_add_noise (&nan_track, 0.1, 5);
    nan_track.data [2 * RATE_HZ + 1] = NAN;
    analysis_cfg_t two;
    analysis_cfg_default (&two);
    two.threads = 2;
    assert_int_equal (analysis_run (&nan_track, &two, &m, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "frame 48000 of channel 2 is NaN"));
    assert_null (m.block_lufs);
    nan_track.data [2 * RATE_HZ + 1] = INFINITY;
    assert_int_equal (analysis_run (&nan_track, &two, &m, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "infinite"));
    audio_free (&nan_track);
    a.data [0] = 0.5f;
    analysis_cfg_t cfg;
    analysis_cfg_default (&cfg);
    cfg.silence_dbfs = 3.0;
    assert_int_equal (analysis_run (&a, &cfg, &m, err, sizeof err), MF_ERR_INVALID);
    analysis_cfg_default (&cfg);
    cfg.threads = 5;
    assert_int_equal (analysis_run (&a, &cfg, &m, err, sizeof err), MF_ERR_INVALID);
    a.channels = 9;
    assert_int_equal (analysis_run (&a, NULL, &m, err, sizeof err), MF_ERR_INVALID);
    a.channels = 1;
    a.frames = 0;
    assert_int_equal (analysis_run (&a, NULL, &m, err, sizeof err), MF_ERR_INVALID);
    audio_free (&a);
}

//  threads = 2 (libebur128 on its own thread) gives the same numbers.
static void
test_threads_same_results (void **state)
{
    (void) state;
    audio_t a;
    testsig_alloc (&a, RATE_HZ * 6, 2, RATE_HZ);
    testsig_add_noise (&a, 0.1, 3);
    testsig_add_sine (&a, 440.0, 0.3, 0.0, RATE_HZ, RATE_HZ * 3);
    analysis_cfg_t one, two;
    analysis_cfg_default (&one);
    analysis_cfg_default (&two);
    two.threads = 2;
    measure_t m1, m2;
    s_measure (&a, &one, &m1);
    s_measure (&a, &two, &m2);
    assert_true (m1.integrated_lufs == m2.integrated_lufs);
    assert_true (m1.lra_lu == m2.lra_lu);
    assert_true (m1.true_peak_dbtp == m2.true_peak_dbtp);
    assert_int_equal (m1.n_blocks, m2.n_blocks);
    assert_memory_equal (m1.block_lufs, m2.block_lufs, m1.n_blocks * sizeof (float));
    assert_memory_equal (m1.band_db, m2.band_db, sizeof m1.band_db);
    measure_free (&m1);
    measure_free (&m2);
    audio_free (&a);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_analysis_run),
        cmocka_unit_test (test_steady_tone_levels),
        cmocka_unit_test (test_cli_json),
        cmocka_unit_test (test_silence_edges),
        cmocka_unit_test (test_dc_and_clipping),
        cmocka_unit_test (test_spectrum_white_noise),
        cmocka_unit_test (test_spectrum_gated),
        cmocka_unit_test (test_edge_cases),
        cmocka_unit_test (test_threads_same_results),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
