/*  Tests of the worker's task bodies and the conversions the broker and
    worker share: Analysis <-> measure_t, master report and album layout
    JSON round trips (non-finite values travel as null), a no-op task, an
    analyze task in shared and inline storage, an assemble task with the
    album correction's gains after the limiter, and failures that name
    the file (missing input, unknown kind) or the field without crashing.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/fsutil.h"
#include "testsig.h"
#include "worker/task.h"

//  Unpacks the Result a task produced.
static Masterfarm__Result *
s_result (const task_output_t *out)
{
    Masterfarm__Result *r = masterfarm__result__unpack (NULL, out->result_size, out->result);
    assert_non_null (r);
    return r;
}

//  Analysis -> protobuf -> analysis keeps every field and block exactly.
static void
test_analysis_round_trip (void **state)
{
    measure_t m;
    memset (&m, 0, sizeof m);
    snprintf (m.format, sizeof m.format, "WAV PCM 24-bit");
    m.rate_hz = 48000;
    m.channels = 2;
    m.frames = 480000;
    m.integrated_lufs = -14.25;
    m.lra_lu = 6.5;
    m.true_peak_dbtp = -0.75;
    m.dc_offset_dbfs = -HUGE_VAL;           //  no DC: must survive as -inf
    m.clipped_samples = 3;
    m.lead_silence_frames = 100;
    for (int b = 0; b < MEASURE_BANDS; b++)
        m.band_db [b] = -20.0 - b;
    float blocks [5] = { -20.f, -18.5f, -200.f, -14.f, -16.f };
    m.block_lufs = blocks;
    m.n_blocks = 5;
    Masterfarm__Analysis pb;
    double band [MEASURE_BANDS];
    results_analysis_to_pb (&m, &pb, band);
    size_t size = masterfarm__analysis__get_packed_size (&pb);
    uint8_t *buf = malloc (size);
    masterfarm__analysis__pack (&pb, buf);
    Masterfarm__Analysis *back = masterfarm__analysis__unpack (NULL, size, buf);
    assert_non_null (back);
    measure_t m2;
    assert_int_equal (results_analysis_from_pb (back, &m2), 0);
    assert_string_equal (m2.format, "WAV PCM 24-bit");
    assert_int_equal (m2.rate_hz, 48000);
    assert_int_equal (m2.frames, 480000);
    assert_true (m2.duration_s == 10.0);    //  480000 / 48000, exact
    assert_true (m2.integrated_lufs == -14.25);
    assert_true (isinf (m2.dc_offset_dbfs) && m2.dc_offset_dbfs < 0);
    assert_int_equal (m2.n_blocks, 5);
    assert_memory_equal (m2.block_lufs, blocks, sizeof blocks);
    assert_true (m2.band_db [29] == -49.0);
    measure_free (&m2);
    //  A wrong band count is refused.
    back->n_band_db = 3;
    assert_int_equal (results_analysis_from_pb (back, &m2), MF_ERR_FORMAT);
    masterfarm__analysis__free_unpacked (back, NULL);
    free (buf);
}

//  Master report and layout JSON round trips.
static void
test_json_round_trips (void **state)
{
    master_report_t r;
    memset (&r, 0, sizeof r);
    r.in_lufs = -20.5;
    r.out_lufs = -14.0;
    r.out_true_peak_dbtp = -1.0;
    r.gain_db = 6.5;
    r.gr_max_db = 2.25;
    r.gr_capped = true;
    r.loop_iterations = 4;
    r.out_lra_lu = NAN;                     //  not finite: null, read back as -inf
    r.tonal_db [3] = 1.5;
    char *json = results_master_json (&r);
    assert_non_null (json);
    master_report_t r2;
    assert_int_equal (results_master_parse (json, &r2), 0);
    assert_true (r2.in_lufs == -20.5 && r2.gain_db == 6.5 && r2.gr_max_db == 2.25);
    assert_true (r2.gr_capped);
    assert_int_equal (r2.loop_iterations, 4);
    assert_true (r2.tonal_db [3] == 1.5);
    assert_true (isinf (r2.out_lra_lu));
    free (json);
    assert_int_equal (results_master_parse ("[1,2", &r2), MF_ERR_FORMAT);
    assert_int_equal (results_master_parse (NULL, &r2), MF_ERR_FORMAT);

    assemble_track_t tr [2] = {
        { .start = 88200, .pregap = 0, .length = 100000, .slice_start = 0, .slice_frames = 188200,
          .file_lufs = -14.25, .file_lra_lu = 6.5 },
        { .start = 188200, .pregap = 188200, .length = 50000, .xfade_in = 10,
          .file_lufs = NAN, .file_lra_lu = NAN },
    };
    assemble_layout_t l = { .total_frames = 238200, .tracks = tr, .n_tracks = 2 };
    json = results_layout_json (&l, 44100);
    assert_non_null (json);
    assemble_layout_t l2;
    int rate = 0;
    assert_int_equal (results_layout_parse (json, &l2, &rate), 0);
    assert_int_equal (rate, 44100);
    assert_int_equal (l2.total_frames, 238200);
    assert_int_equal (l2.n_tracks, 2);
    assert_int_equal (l2.tracks [0].slice_frames, 188200);
    assert_int_equal (l2.tracks [1].xfade_in, 10);
    //  the per-track file's loudness as measured, or unmeasured (null)
    assert_true (l2.tracks [0].file_lufs == -14.25 && l2.tracks [0].file_lra_lu == 6.5);
    assert_true (isnan (l2.tracks [1].file_lufs) && isnan (l2.tracks [1].file_lra_lu));
    assemble_layout_free (&l2);
    free (json);
    assert_int_equal (results_layout_parse ("{}", &l2, &rate), MF_ERR_FORMAT);
}

//  A master report's output blocks: carried in hundredths of an LU (every
//  length mod 3 of the base64, the floor and -inf), read back within
//  0.005 LU, dropped on request; a report without them has none, and
//  blocks that do not decode are refused.
static void
test_master_blocks (void **state)
{
    (void) state;
    for (size_t n = 1; n <= 7; n++) {
        float v [7] = { -14.004f, -23.456f, -200.0f, -(float) HUGE_VAL, 3.2f, -69.99f, -0.001f };
        master_report_t r;
        memset (&r, 0, sizeof r);
        r.out_lufs = -14.0;
        r.out_blocks = v;
        r.n_out_blocks = n;
        char *json = results_master_json (&r);
        assert_non_null (json);
        float *b = NULL;
        size_t nb = 0;
        assert_int_equal (results_master_blocks (json, &b, &nb), 0);
        assert_int_equal (nb, n);
        for (size_t i = 0; i < n; i++) {
            float want = isfinite (v [i]) ? v [i] : -200.0f;
            assert_true (fabsf (b [i] - want) <= 0.0051f);
        }
        free (b);
        master_report_t r2;
        assert_int_equal (results_master_parse (json, &r2), 0);
        assert_null (r2.out_blocks);
        assert_true (r2.out_lufs == -14.0);
        char *lean = results_master_drop_blocks (json);
        assert_non_null (lean);
        assert_null (strstr (lean, "out_blocks"));
        assert_true (strlen (lean) < strlen (json));
        assert_int_equal (results_master_blocks (lean, &b, &nb), 0);
        assert_null (b);
        assert_int_equal (nb, 0);
        free (lean);
        free (json);
    }
    float *b = NULL;
    size_t nb = 0;
    assert_int_equal (results_master_blocks ("{\"out_blocks\": \"AAA\"}", &b, &nb), MF_ERR_FORMAT);
    assert_int_equal (results_master_blocks ("{\"out_blocks\": \"AA*A\"}", &b, &nb), MF_ERR_FORMAT);
    assert_int_equal (results_master_blocks ("{\"out_blocks\": \"AA==\"}", &b, &nb), MF_ERR_FORMAT);
    assert_int_equal (results_master_blocks ("{\"out_blocks\": 3}", &b, &nb), MF_ERR_FORMAT);
    assert_int_equal (results_master_blocks ("{\"out_blocks\": \"A=AA\"}", &b, &nb), MF_ERR_FORMAT);
    assert_int_equal (results_master_blocks ("[1", &b, &nb), MF_ERR_FORMAT);
    assert_null (b);
    //  two bytes, one block: 0xe8 0xfd is -536, -5.36 LU
    assert_int_equal (results_master_blocks ("{\"out_blocks\": \"6P0=\"}", &b, &nb), 0);
    assert_int_equal (nb, 1);
    assert_true (fabsf (b [0] - (-5.36f)) < 1e-5f);
    free (b);
}

//  A no-op task succeeds at once; an unknown kind fails with a message.
static void
test_noop_and_unknown (void **state)
{
    Masterfarm__Task t = MASTERFARM__TASK__INIT;
    t.task_id = 9;
    t.attempt = 2;
    t.kind = MASTERFARM__TASK_KIND__KIND_NOOP;
    task_output_t out;
    assert_int_equal (task_run (&t, NULL, NULL, 0, &out), 0);
    Masterfarm__Result *r = s_result (&out);
    assert_true (r->ok);
    assert_int_equal (r->task_id, 9);
    assert_int_equal (r->attempt, 2);
    masterfarm__result__free_unpacked (r, NULL);
    task_output_clear (&out);

    t.kind = (Masterfarm__TaskKind) 77;
    assert_int_equal (task_run (&t, NULL, NULL, 0, &out), 0);
    r = s_result (&out);
    assert_false (r->ok);
    assert_non_null (strstr (r->error, "unknown kind"));
    masterfarm__result__free_unpacked (r, NULL);
    task_output_clear (&out);
    task_output_clear (&out);               //  twice: safe
}

//  Analyze: shared storage from a file, inline from bytes, and a missing
//  file or a path leaving the root failing with the path named.
static void
test_analyze (void **state)
{
    const char *dir = testsig_tmpdir ("test_task");
    char path [1024];
    snprintf (path, sizeof path, "%s/tone.wav", dir);
    audio_t a;
    testsig_alloc (&a, 48000, 2, 48000);
    testsig_add_sine (&a, 1000.0, 0.5, 0.0, 0, 48000);
    testsig_write_wav (path, &a, 24);
    audio_free (&a);

    Masterfarm__FileRef in = MASTERFARM__FILE_REF__INIT, *ins [1] = { &in };
    Masterfarm__Task t = MASTERFARM__TASK__INIT;
    t.task_id = 1;
    t.attempt = 1;
    t.kind = MASTERFARM__TASK_KIND__KIND_ANALYZE;
    t.storage = MASTERFARM__STORAGE__STORAGE_SHARED;
    t.input_root = (char *) dir;
    t.inputs = ins;
    t.n_inputs = 1;
    in.path = (char *) "tone.wav";
    task_output_t out;
    assert_int_equal (task_run (&t, NULL, NULL, 0, &out), 0);
    Masterfarm__Result *r = s_result (&out);
    assert_true (r->ok);
    assert_non_null (r->analysis);
    assert_int_equal (r->analysis->rate_hz, 48000);
    assert_int_equal (r->analysis->frames, 48000);
    //  A 1 kHz sine of amplitude 0.5 on two channels: mean square 0.125 per
    //  channel, summed 0.25 (-6.02 dB); BS.1770-4's -0.691 offset and the
    //  K-filter's +0.69 dB at 1 kHz cancel, so -6.02 LUFS; 0.1 LU tolerance.
    assert_true (fabs (r->analysis->integrated_lufs - (-6.02)) < 0.1);
    masterfarm__result__free_unpacked (r, NULL);
    task_output_clear (&out);

    //  Inline: the same bytes as a data frame.
    char *bytes;
    size_t len;
    assert_int_equal (fsutil_read_file (path, 0, &bytes, &len), 0);
    t.storage = MASTERFARM__STORAGE__STORAGE_INLINE;
    void *frames [1] = { bytes };
    size_t sizes [1] = { len };
    assert_int_equal (task_run (&t, frames, sizes, 1, &out), 0);
    r = s_result (&out);
    assert_true (r->ok);
    assert_int_equal (r->analysis->frames, 48000);
    masterfarm__result__free_unpacked (r, NULL);
    task_output_clear (&out);
    //  Inline without its frame: a failure, not a crash.
    assert_int_equal (task_run (&t, NULL, NULL, 0, &out), 0);
    r = s_result (&out);
    assert_false (r->ok);
    masterfarm__result__free_unpacked (r, NULL);
    task_output_clear (&out);
    free (bytes);

    //  Missing file: the error names it.
    t.storage = MASTERFARM__STORAGE__STORAGE_SHARED;
    in.path = (char *) "missing.wav";
    assert_int_equal (task_run (&t, NULL, NULL, 0, &out), 0);
    r = s_result (&out);
    assert_false (r->ok);
    assert_non_null (strstr (r->error, "missing.wav"));
    assert_null (r->analysis);
    //  ...and is the task's failure, not the machine's (no backoff).
    assert_int_equal (r->error_class, MASTERFARM__ERROR_CLASS__ERROR_TASK);
    masterfarm__result__free_unpacked (r, NULL);
    task_output_clear (&out);
    //  A path leaving the root is refused before any file is opened.
    in.path = (char *) "../etc/passwd";
    assert_int_equal (task_run (&t, NULL, NULL, 0, &out), 0);
    r = s_result (&out);
    assert_false (r->ok);
    assert_non_null (strstr (r->error, "bad path"));
    assert_int_equal (r->error_class, MASTERFARM__ERROR_CLASS__ERROR_TASK);
    masterfarm__result__free_unpacked (r, NULL);
    task_output_clear (&out);
}

//  Runs an assemble task of the two tracks in dir/m for spotify into
//  dir/OUT with extra; returns the Result (caller frees).
static Masterfarm__Result *
s_assemble (const char *dir, const char *out_rel, const char *extra)
{
    static const char *spec = "{\"name\": \"g\", \"defaults\": {\"profiles\": [\"spotify\"], "
        "\"gap_s\": 0}, \"albums\": [{\"title\": \"G\", \"artist\": \"A\", \"tracks\": "
        "[{\"path\": \"a.wav\", \"title\": \"One\"}, {\"path\": \"b.wav\", \"title\": \"Two\"}]}]}";
    Masterfarm__FileRef in [2], out = MASTERFARM__FILE_REF__INIT;
    Masterfarm__FileRef *ins [2] = { &in [0], &in [1] }, *outs [1] = { &out };
    masterfarm__file_ref__init (&in [0]);
    masterfarm__file_ref__init (&in [1]);
    in [0].path = (char *) "m/t0.wav";
    in [1].path = (char *) "m/t1.wav";
    out.path = (char *) out_rel;
    Masterfarm__Task t = MASTERFARM__TASK__INIT;
    t.task_id = 7;
    t.attempt = 1;
    t.kind = MASTERFARM__TASK_KIND__KIND_ASSEMBLE;
    t.storage = MASTERFARM__STORAGE__STORAGE_SHARED;
    t.profile = (char *) "spotify";
    t.output_root = (char *) dir;
    t.inputs = ins;
    t.n_inputs = 2;
    t.outputs = outs;
    t.n_outputs = 1;
    t.settings_json = (char *) spec;
    t.extra.data = (uint8_t *) extra;
    t.extra.len = strlen (extra);
    task_output_t o;
    assert_int_equal (task_run (&t, NULL, NULL, 0, &o), 0);
    Masterfarm__Result *r = s_result (&o);
    task_output_clear (&o);
    return r;
}

//  Assemble with the album correction's gain after the limiter: each
//  track comes out scaled by its own gain (to the 24-bit grid), the
//  others untouched; a gain that is not a lowering, or a list that does
//  not match the tracks, fails the task with its name.
static void
test_assemble_gain (void **state)
{
    const char *dir = testsig_tmpdir ("test_task_gain");
    char path [1024];
    snprintf (path, sizeof path, "%s/m", dir);
    assert_int_equal (fsutil_mkdir_p (path, 0755), 0);
    for (int k = 0; k < 2; k++) {
        audio_t a;
        testsig_alloc (&a, 44100, 2, 44100);
        testsig_add_sine (&a, 997.0 + 300.0 * k, 0.5, 0.0, 0, 44100);
        snprintf (path, sizeof path, "%s/m/t%d.wav", dir, k);
        testsig_write_wav (path, &a, 24);
        audio_free (&a);
    }
    Masterfarm__Result *r = s_assemble (dir, "plain", "{\"tracks\": [0, 1], \"partial\": false}");
    assert_true (r->ok);
    masterfarm__result__free_unpacked (r, NULL);
    r = s_assemble (dir, "low", "{\"tracks\": [0, 1], \"partial\": false, "
                                "\"gain_db\": [-0.5, 0]}");
    assert_true (r->ok);
    masterfarm__result__free_unpacked (r, NULL);
    const char *names [2] = { "01 - One.flac", "02 - Two.flac" };
    for (int k = 0; k < 2; k++) {
        audio_t x, y;
        char err [256];
        snprintf (path, sizeof path, "%s/plain/%s", dir, names [k]);
        assert_int_equal (audio_read (path, &x, err, sizeof err), 0);
        snprintf (path, sizeof path, "%s/low/%s", dir, names [k]);
        assert_int_equal (audio_read (path, &y, err, sizeof err), 0);
        assert_int_equal (x.frames, 44100);
        assert_int_equal (y.frames, x.frames);
        const double g = k == 0 ? pow (10.0, -0.5 / 20.0) : 1.0;
        double worst = 0.0;
        for (size_t i = 0; i < (size_t) x.frames * 2; i++)
            worst = fmax (worst, fabs ((double) y.data [i] - g * (double) x.data [i]));
        //  one rounding to 24 bits (the scaled float rounds once more)
        assert_true (worst <= 1.01 * 0x1p-23);
        if (k == 1)
            assert_true (worst == 0.0);
        audio_free (&x);
        audio_free (&y);
    }
    //  a gain up, a gain that is not a number, a list short of a track
    const char *bad [3] = { "{\"tracks\": [0, 1], \"gain_db\": [0.5, 0]}",
                            "{\"tracks\": [0, 1], \"gain_db\": [\"x\", 0]}",
                            "{\"tracks\": [0, 1], \"gain_db\": [-1]}" };
    for (int b = 0; b < 3; b++) {
        r = s_assemble (dir, "bad", bad [b]);
        assert_false (r->ok);
        assert_non_null (strstr (r->error, "gain_db"));
        masterfarm__result__free_unpacked (r, NULL);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_analysis_round_trip),
        cmocka_unit_test (test_json_round_trips),
        cmocka_unit_test (test_master_blocks),
        cmocka_unit_test (test_noop_and_unknown),
        cmocka_unit_test (test_analyze),
        cmocka_unit_test (test_assemble_gain),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
