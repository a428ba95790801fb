/*  The streaming analysis (analysis_start / _feed / _finish,
    worker/analysis.h) and the piecewise reader (audio_seq_*,
    worker/audio_io.h) give exactly the results of
    analysis_run and audio_read: every field of measure_t and every gating
    block compared bit for bit (tolerance: none, the same arithmetic on
    the same samples), with pieces of 1 frame up to the whole track,
    threads 1 and 2, and no frames at all. The signals are noise and a
    sine at 44.1 kHz, whose length is not a whole number of 100 ms hops,
    and a mono 8001 Hz one (a rate that is not a multiple of 10).  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testsig.h"
#include "common/err.h"
#include "common/measure.h"
#include "worker/analysis.h"
#include "worker/audio_io.h"

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
                           a->dc_offset_dbfs };
    const double db [] = { b->duration_s, b->integrated_lufs, b->lra_lu, b->max_momentary_lufs,
                           b->max_shortterm_lufs, b->sample_peak_dbfs, b->true_peak_dbtp,
                           b->dc_offset_dbfs };
    assert_memory_equal (da, db, sizeof da);
    assert_int_equal (a->clipped_samples, b->clipped_samples);
    assert_int_equal (a->lead_silence_frames, b->lead_silence_frames);
    assert_int_equal (a->trail_silence_frames, b->trail_silence_frames);
    assert_memory_equal (a->band_db, b->band_db, sizeof a->band_db);
    assert_int_equal (a->n_blocks, b->n_blocks);
    if (a->n_blocks)
        assert_memory_equal (a->block_lufs, b->block_lufs, a->n_blocks * sizeof (float));
}

//  Measures src through the stream API, fed piece frames at a time from
//  a buffer of its own (so that nothing may rely on the track in memory).
static void
s_stream (const audio_t *src, int64_t piece, int threads, measure_t *out)
{
    const size_t ch = (size_t) src->channels;
    int64_t room = piece < src->frames ? piece : src->frames;
    float *buf = malloc ((size_t) room * ch * sizeof (float));
    assert_non_null (buf);
    analysis_cfg_t cfg;
    analysis_cfg_default (&cfg);
    cfg.threads = threads;
    char err [256];
    analysis_stream_t *s = NULL;
    assert_int_equal (analysis_start (&s, src->channels, src->rate_hz, &cfg, err, sizeof err), 0);
    assert_non_null (s);
    for (int64_t at = 0; at < src->frames; at += room) {
        int64_t n = src->frames - at < room ? src->frames - at : room;
        memcpy (buf, src->data + (size_t) at * ch, (size_t) n * ch * sizeof (float));
        assert_int_equal (analysis_feed (s, buf, n, err, sizeof err), 0);
        memset (buf, 0xff, (size_t) n * ch * sizeof (float));   //  NaN: must not be read again
    }
    assert_int_equal (analysis_finish (&s, src->format, out, err, sizeof err), 0);
    assert_null (s);
    free (buf);
}

//  A track of noise and a sine, with a silent start.
static void
s_track (audio_t *a, int64_t frames, int channels, int rate_hz)
{
    testsig_alloc (a, frames, channels, rate_hz);
    testsig_add_noise (a, 0.1, 7);
    testsig_add_sine (a, 997.0, 0.3, 0.0, 0, frames);
    for (int64_t i = 0; i < rate_hz / 3 && i < frames; i++)
        for (int c = 0; c < channels; c++)
            a->data [i * channels + c] = 0.0f;
    snprintf (a->format, sizeof a->format, "test");
}

static void
test_stream_same_as_run (void **state)
{
    (void) state;
    const struct { int64_t frames; int channels; int rate_hz; } tracks [] = {
        { 44100 * 7 + 1234, 2, 44100 },
        { 8001 * 4 + 17, 1, 8001 },
        { 48000 / 5, 6, 48000 },                   //  shorter than a 400 ms block
    };
    const int64_t pieces [] = { 1, 7, 777, 4096, 4410, 16384, 1 << 30 };
    for (size_t t = 0; t < sizeof tracks / sizeof tracks [0]; t++) {
        audio_t a;
        s_track (&a, tracks [t].frames, tracks [t].channels, tracks [t].rate_hz);
        for (int threads = 1; threads <= 2; threads++) {
            analysis_cfg_t cfg;
            analysis_cfg_default (&cfg);
            cfg.threads = threads;
            measure_t ref;
            char err [256];
            assert_int_equal (analysis_run (&a, &cfg, &ref, err, sizeof err), 0);
            for (size_t p = 0; p < sizeof pieces / sizeof pieces [0]; p++) {
                if (pieces [p] == 1 && a.frames > 100000)
                    continue;                       //  keep the test short
                measure_t m;
                s_stream (&a, pieces [p], threads, &m);
                s_assert_same (&ref, &m);
                measure_free (&m);
            }
            measure_free (&ref);
        }
        audio_free (&a);
    }
}

static void
test_stream_no_frames (void **state)
{
    (void) state;
    for (int threads = 1; threads <= 2; threads++) {
        analysis_cfg_t cfg;
        analysis_cfg_default (&cfg);
        cfg.threads = threads;
        measure_t m;
        char err [256];
        analysis_stream_t *s = NULL;
        assert_int_equal (analysis_start (&s, 2, 44100, &cfg, err, sizeof err), 0);
        assert_int_equal (analysis_feed (s, NULL, 0, err, sizeof err), 0);
        assert_int_equal (analysis_finish (&s, "x", &m, err, sizeof err), MF_ERR_INVALID);
        assert_null (s);
        assert_null (m.block_lufs);
        assert_non_null (strstr (err, "no audio frames"));
        //  bad input is refused at the start
        assert_int_equal (analysis_start (&s, 9, 44100, &cfg, err, sizeof err), MF_ERR_INVALID);
        assert_null (s);
        assert_int_equal (analysis_start (&s, 2, 7999, &cfg, err, sizeof err), MF_ERR_INVALID);
        assert_null (s);
        //  abandoned half-way, with the loudness thread running
        assert_int_equal (analysis_start (&s, 2, 44100, &cfg, err, sizeof err), 0);
        float piece [2 * 1000] = { 0.25f };
        assert_int_equal (analysis_feed (s, piece, 1000, err, sizeof err), 0);
        analysis_stream_destroy (&s);
        assert_null (s);
        analysis_stream_destroy (&s);               //  NULL-safe
    }
}

//  Reads path with audio_seq in pieces and checks it against audio_read.
static void
s_check_seq (const char *path, int64_t piece)
{
    audio_t ref, info;
    char err [AUDIO_ERR_LEN];
    assert_int_equal (audio_read (path, &ref, err, sizeof err), 0);
    audio_seq_t *q = NULL;
    assert_int_equal (audio_seq_open (path, &info, &q, err, sizeof err), 0);
    assert_non_null (q);
    assert_null (info.data);
    assert_int_equal (info.channels, ref.channels);
    assert_int_equal (info.rate_hz, ref.rate_hz);
    assert_string_equal (info.format, ref.format);
    float *buf = malloc ((size_t) piece * (size_t) ref.channels * sizeof (float));
    assert_non_null (buf);
    int64_t at = 0, n;
    const size_t ch = (size_t) ref.channels;
    while ((n = audio_seq_read (q, buf, piece, err, sizeof err)) > 0) {
        assert_true (at + n <= ref.frames);
        assert_memory_equal (buf, ref.data + (size_t) at * ch, (size_t) n * ch * sizeof (float));
        at += n;
    }
    assert_int_equal (n, 0);
    assert_int_equal (at, ref.frames);
    audio_seq_close (&q);
    assert_null (q);
    free (buf);
    audio_free (&ref);
}

static void
test_reader_same_as_read (void **state)
{
    (void) state;
    const char *dir = testsig_tmpdir ("ebu_stream");
    audio_t a;
    s_track (&a, 44100 * 3 + 5, 2, 44100);
    const int bits [] = { 16, 24, 32 };             //  32: float, read whole at open
    for (size_t b = 0; b < 3; b++) {
        char path [512];
        snprintf (path, sizeof path, "%s/t%d.wav", dir, bits [b]);
        testsig_write_wav (path, &a, bits [b]);
        s_check_seq (path, 1000);
        s_check_seq (path, 1 << 20);
        remove (path);
    }
    audio_free (&a);
    //  a missing file: the error of audio_read, no reader
    char path [512], err [AUDIO_ERR_LEN];
    snprintf (path, sizeof path, "%s/missing.wav", dir);
    audio_t none;
    audio_seq_t *q = NULL;
    assert_int_equal (audio_seq_open (path, &none, &q, err, sizeof err), MF_ERR_IO);
    assert_null (q);
    assert_non_null (strstr (err, "missing.wav: cannot open"));
    audio_seq_close (&q);                           //  NULL-safe
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_stream_same_as_run),
        cmocka_unit_test (test_stream_no_frames),
        cmocka_unit_test (test_reader_same_as_read),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
