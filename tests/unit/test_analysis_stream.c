/*  The streaming analysis (analysis_start / analysis_feed /
    analysis_finish, worker/analysis.h) against analysis_run on the same
    track in memory, and its memory against the track's length.

    Equality: every field of measure_t, the 30 bands and every gating
    block compared bit for bit (tolerance: none; the streaming code forms
    every sum in the order analysis_run does), for pieces of 1, 7, 4096,
    4410 (one hop at 44.1 kHz) and 65537 frames and the whole track,
    threads 1 and 2, on the generated music-like mix (tests/lib/
    master_mix.h): mono 44.1 kHz, stereo 48 kHz with 1.3 s of leading and
    0.7 s of trailing silence, 6 channels at 96 kHz, stereo 44.1 kHz.
    A NaN in the middle gives MF_ERR_FORMAT with analysis_run's message
    (frame and channel) for every piece size.

    Memory: a child process feeds 2 and then (another child) 20 minutes
    of audio generated piece by piece into one 4096-frame buffer and
    reports its peak RSS (VmHWM); the two may differ by less than
    S_RSS_SLACK_KB. What may grow is the gating blocks and the spectrum's
    band powers, about 0.7 kB per second of audio (0.8 MB for the 18
    minutes between the two, doubled by reallocation at worst); a
    buffered track would add 18 min x 16 kHz x 2 ch x 4 bytes = 138 MB.
    16 kHz keeps the test short; what grows per second does not depend
    on the rate.

    audio_seq_* (the reader the analysis is fed from) on a float WAV
    with a NaN and on a truncated WAV: audio_read's error.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master_mix.h"
#include "testsig.h"
#include "common/err.h"
#include "common/measure.h"
#include "worker/analysis.h"
#include "worker/audio_io.h"

#define S_RSS_SLACK_KB  (4 * 1024)    //  "a few MB": 2 vs 20 minutes

//  Asserts that two measures are the same bit for bit.
static void
s_assert_same (const measure_t *a, const measure_t *b)
{
    assert_string_equal (a->format, b->format);
    assert_int_equal (a->rate_hz, b->rate_hz);
    assert_int_equal (a->channels, b->channels);
    assert_int_equal (a->frames, b->frames);
    const double da [] = { a->duration_s, a->integrated_lufs, a->lra_lu, a->max_momentary_lufs,
                           a->max_shortterm_lufs, a->sample_peak_dbfs, a->true_peak_dbtp,
                           a->dc_offset_dbfs, a->side_mid_db };
    const double db [] = { b->duration_s, b->integrated_lufs, b->lra_lu, b->max_momentary_lufs,
                           b->max_shortterm_lufs, b->sample_peak_dbfs, b->true_peak_dbtp,
                           b->dc_offset_dbfs, b->side_mid_db };
    assert_memory_equal (da, db, sizeof da);
    assert_int_equal (a->clipped_samples, b->clipped_samples);
    assert_int_equal (a->lead_silence_frames, b->lead_silence_frames);
    assert_int_equal (a->trail_silence_frames, b->trail_silence_frames);
    assert_memory_equal (a->band_db, b->band_db, sizeof a->band_db);
    assert_int_equal (a->n_blocks, b->n_blocks);
    if (a->n_blocks)
        assert_memory_equal (a->block_lufs, b->block_lufs, a->n_blocks * sizeof (float));
}

//  Feeds src piece frames at a time through a buffer of its own (wiped
//  after each feed: nothing may rely on a piece once fed). Returns the
//  finish's code with out and err filled, or a feed's failure.
static int
s_stream (const audio_t *src, int64_t piece, int threads, measure_t *out,
          char *err, size_t err_size)
{
    const size_t ch = (size_t) src->channels;
    int64_t room = piece < src->frames ? piece : src->frames;
    float *buf = malloc ((size_t) room * ch * sizeof (float));
    assert_non_null (buf);
    analysis_cfg_t cfg;
    analysis_cfg_default (&cfg);
    cfg.threads = threads;
    analysis_stream_t *s = NULL;
    assert_int_equal (analysis_start (&s, src->channels, src->rate_hz, &cfg, err, err_size), 0);
    int rc = 0;
    for (int64_t at = 0; rc == 0 && at < src->frames; at += room) {
        int64_t n = src->frames - at < room ? src->frames - at : room;
        memcpy (buf, src->data + (size_t) at * ch, (size_t) n * ch * sizeof (float));
        rc = analysis_feed (s, buf, n, err, err_size);
        memset (buf, 0, (size_t) n * ch * sizeof (float));
    }
    if (rc == 0)
        rc = analysis_finish (&s, src->format, out, err, err_size);
    else {
        //  a failed feed fails the finish the same way
        char err2 [256];
        measure_t m;
        assert_int_equal (analysis_finish (&s, src->format, &m, err2, sizeof err2), rc);
        assert_string_equal (err, err2);
        assert_null (m.block_lufs);
    }
    assert_null (s);
    free (buf);
    return rc;
}

//  The mix at rate_hz with channels (1, 2 or 6: the stereo mix spread to
//  L R C LFE Ls Rs with different gains), lead_s of silence before and
//  trail_s after seconds of it.
static void
s_mix (audio_t *a, double seconds, int rate_hz, int channels, double lead_s, double trail_s)
{
    audio_t m;
    master_mix_generate (&m, seconds, rate_hz, channels == 1 ? 1 : 2, 3);
    int64_t lead = (int64_t) (lead_s * rate_hz), trail = (int64_t) (trail_s * rate_hz);
    testsig_alloc (a, lead + m.frames + trail, channels, rate_hz);
    for (int64_t i = 0; i < m.frames; i++) {
        float *y = a->data + (size_t) (lead + i) * (size_t) channels;
        if (channels <= 2) {
            memcpy (y, m.data + (size_t) i * (size_t) channels, (size_t) channels * sizeof (float));
            continue;
        }
        float l = m.data [2 * i], r = m.data [2 * i + 1];
        const float six [6] = { l, r, 0.5f * (l + r), 0.3f * l, 0.4f * r, 0.4f * l };
        memcpy (y, six, sizeof six);
    }
    snprintf (a->format, sizeof a->format, "mix");
    audio_free (&m);
}

static void
test_pieces_same_as_run (void **state)
{
    (void) state;
    const struct { double s; int rate_hz, channels; double lead_s, trail_s; } tracks [] = {
        { 5.0, 44100, 1, 0.0, 0.0 },
        { 6.0, 48000, 2, 1.3, 0.7 },
        { 3.0, 96000, 6, 0.0, 0.0 },
        { 20.05, 44100, 2, 0.0, 0.0 },
    };
    const int64_t pieces [] = { 1, 7, 4096, 4410, 65537, INT64_MAX };
    for (size_t t = 0; t < sizeof tracks / sizeof tracks [0]; t++) {
        audio_t a;
        s_mix (&a, tracks [t].s, tracks [t].rate_hz, tracks [t].channels,
               tracks [t].lead_s, tracks [t].trail_s);
        for (int threads = 1; threads <= 2; threads++) {
            analysis_cfg_t cfg;
            analysis_cfg_default (&cfg);
            cfg.threads = threads;
            measure_t ref;
            char err [256];
            assert_int_equal (analysis_run (&a, &cfg, &ref, err, sizeof err), 0);
            if (tracks [t].lead_s > 0) {
                //  the silence is found (the mix's first and last samples are not silent)
                assert_true (llabs (ref.lead_silence_frames
                                    - (int64_t) (tracks [t].lead_s * a.rate_hz)) < a.rate_hz / 20);
                assert_true (ref.trail_silence_frames >= (int64_t) (tracks [t].trail_s * a.rate_hz));
            }
            for (size_t p = 0; p < sizeof pieces / sizeof pieces [0]; p++) {
                if (pieces [p] < 4096 && a.frames * a.channels > 600000)
                    continue;                       //  keep the test short
                measure_t m;
                assert_int_equal (s_stream (&a, pieces [p], threads, &m, err, sizeof err), 0);
                s_assert_same (&ref, &m);
                measure_free (&m);
            }
            measure_free (&ref);
        }
        audio_free (&a);
    }
}

static void
test_nan_in_the_middle (void **state)
{
    (void) state;
    audio_t a;
    s_mix (&a, 3.0, 44100, 2, 0.0, 0.0);
    a.data [2 * 66150 + 1] = NAN;                  //  frame 66150, channel 2
    const int64_t pieces [] = { 1, 7, 4096, INT64_MAX };
    for (int threads = 1; threads <= 2; threads++) {
        analysis_cfg_t cfg;
        analysis_cfg_default (&cfg);
        cfg.threads = threads;
        measure_t ref;
        char ref_err [256], err [256];
        assert_int_equal (analysis_run (&a, &cfg, &ref, ref_err, sizeof ref_err), MF_ERR_FORMAT);
        assert_null (ref.block_lufs);
        assert_string_equal (ref_err, "frame 66150 of channel 2 is NaN; cannot measure");
        for (size_t p = 0; p < sizeof pieces / sizeof pieces [0]; p++) {
            measure_t m;
            assert_int_equal (s_stream (&a, pieces [p], threads, &m, err, sizeof err),
                              MF_ERR_FORMAT);
            assert_string_equal (err, ref_err);
        }
    }
    a.data [2 * 66150 + 1] = -INFINITY;
    measure_t m;
    char err [256];
    assert_int_equal (s_stream (&a, 4096, 1, &m, err, sizeof err), MF_ERR_FORMAT);
    assert_string_equal (err, "frame 66150 of channel 2 is infinite; cannot measure");
    audio_free (&a);
}

//  The peak RSS in kB (VmHWM) of a child that analyses seconds of a
//  generated stereo signal at 16 kHz fed in 4096-frame pieces; the
//  child holds no track, only the piece it is filling.
static long
s_child_peak_kb (double seconds)
{
    int fds [2];
    assert_int_equal (pipe (fds), 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        close (fds [0]);
        //  the peak from here on, not the parent's before the fork
        //  (Linux 4.0+: "5" resets VmHWM; without it both children read high alike)
        FILE *cr = fopen ("/proc/self/clear_refs", "w");
        if (cr) {
            fputs ("5", cr);
            fclose (cr);
        }
        enum { RATE = 16000, PIECE = 4096 };
        static float buf [PIECE * 2];
        analysis_stream_t *s = NULL;
        char err [256];
        if (analysis_start (&s, 2, RATE, NULL, err, sizeof err))
            _exit (2);
        //  a 220 Hz sine rising and falling in level over 7 s, with noise
        testsig_rng_t rng;
        testsig_rng_seed (&rng, 11);
        const int64_t frames = (int64_t) (seconds * RATE);
        for (int64_t at = 0; at < frames; at += PIECE) {
            int64_t n = frames - at < PIECE ? frames - at : PIECE;
            for (int64_t i = 0; i < n; i++) {
                double t = (double) (at + i) / RATE;
                double v = (0.2 + 0.15 * sin (2 * M_PI * t / 7.0)) * sin (2 * M_PI * 220.0 * t);
                buf [2 * i] = (float) (v + 0.01 * (testsig_rng_uniform (&rng) - 0.5));
                buf [2 * i + 1] = (float) (0.8 * v);
            }
            if (analysis_feed (s, buf, n, err, sizeof err))
                _exit (3);
        }
        measure_t m;
        if (analysis_finish (&s, "gen", &m, err, sizeof err) || m.n_blocks < 10)
            _exit (4);
        measure_free (&m);
        long kb = -1;
        FILE *f = fopen ("/proc/self/status", "r");
        char line [256];
        while (f && fgets (line, sizeof line, f))
            if (sscanf (line, "VmHWM: %ld kB", &kb) == 1)
                break;
        if (f)
            fclose (f);
        if (write (fds [1], &kb, sizeof kb) != sizeof kb)
            _exit (5);
        _exit (0);
    }
    close (fds [1]);
    long kb = -1;
    assert_int_equal (read (fds [0], &kb, sizeof kb), sizeof kb);
    close (fds [0]);
    int status = 0;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    assert_true (kb > 0);
    return kb;
}

static void
test_memory_independent_of_length (void **state)
{
    (void) state;
    long short_kb = s_child_peak_kb (2 * 60.0);
    long long_kb = s_child_peak_kb (20 * 60.0);
    print_message ("peak RSS: 2 min %ld kB, 20 min %ld kB (allowed difference %d kB)\n",
                   short_kb, long_kb, S_RSS_SLACK_KB);
    assert_true (long_kb - short_kb < S_RSS_SLACK_KB);
}

//  audio_seq on a float WAV with a NaN: audio_read's error; on a WAV cut
//  short: audio_read's error (truncated).
static void
test_seq_errors_and_truncation (void **state)
{
    (void) state;
    const char *dir = testsig_tmpdir ("analysis_stream");
    audio_t a;
    s_mix (&a, 2.0, 44100, 2, 0.0, 0.0);
    char path [512], err [AUDIO_ERR_LEN], ref_err [AUDIO_ERR_LEN];
    snprintf (path, sizeof path, "%s/nan.wav", dir);
    a.data [2 * 50000] = NAN;
    testsig_write_wav (path, &a, 32);
    audio_t ref, info;
    assert_int_equal (audio_read (path, &ref, ref_err, sizeof ref_err), MF_ERR_FORMAT);
    audio_seq_t *q = NULL;
    assert_int_equal (audio_seq_open (path, &info, &q, err, sizeof err), 0);
    float buf [2 * 4096];
    int64_t n;
    while ((n = audio_seq_read (q, buf, 4096, err, sizeof err)) > 0)
        ;
    assert_int_equal (n, MF_ERR_FORMAT);
    assert_string_equal (err, ref_err);
    assert_non_null (strstr (err, "sample 50000 of channel 1 is NaN"));
    audio_seq_close (&q);
    remove (path);

    a.data [2 * 50000] = 0.0f;
    snprintf (path, sizeof path, "%s/cut.wav", dir);
    testsig_write_wav (path, &a, 24);
    assert_int_equal (truncate (path, 44 + 6 * 30001 + 2), 0);   //  mid-frame
    //  cut short: both refuse it, with the same words
    assert_int_equal (audio_read (path, &ref, ref_err, sizeof ref_err), MF_ERR_FORMAT);
    assert_int_equal (audio_seq_open (path, &info, &q, err, sizeof err), MF_ERR_FORMAT);
    assert_null (q);
    assert_string_equal (err, ref_err);
    assert_non_null (strstr (err, "truncated: its header gives 529200 bytes of audio data, "
                                  "the file holds 180008"));
    remove (path);
    audio_free (&a);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_memory_independent_of_length),   //  first: a small parent
        cmocka_unit_test (test_pieces_same_as_run),
        cmocka_unit_test (test_nan_in_the_middle),
        cmocka_unit_test (test_seq_errors_and_truncation),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
