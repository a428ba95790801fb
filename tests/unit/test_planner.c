/*  Album planner: union gating instead of averaging, each policy's gains
    on synthetic measures with known answers, hybrid bounds, ceilings,
    tonal corrections (strength, smoothing, bounds, reference) and the
    report record.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/planner.h"
#include "common/fade.h"
#include "common/err.h"

#define MAXT 8

typedef struct {
    spec_album_t  album;
    spec_track_t  tracks [MAXT];
    measure_t     m [MAXT];
    const measure_t *mp [MAXT];
} fx_t;

//  Energy of a loudness value, BS.1770-4 eq. (2), for the expected answers.
static double e_of (double lufs) { return pow (10.0, (lufs + 0.691) / 10.0); }
static double l_of (double e) { return -0.691 + 10.0 * log10 (e); }

//  An album of n tracks, track i with blocks[i] blocks at level[i] LUFS.
static void
fx_init (fx_t *f, size_t n, const double *level, const int *blocks)
{
    memset (f, 0, sizeof *f);
    f->album.title = "Test album";
    f->album.tracks = f->tracks;
    f->album.n_tracks = n;
    f->album.s.loudness.policy = POLICY_ALBUM;
    f->album.s.loudness.has_target = true;
    f->album.s.loudness.target_lufs = -14.0;
    f->album.s.loudness.max_deviation_lu = 3.0;
    f->album.s.tonal.match = TONAL_OFF;
    f->album.s.tonal.reference_track = -1;
    for (size_t i = 0; i < n; i++) {
        f->tracks [i].path = "t.wav";
        f->tracks [i].title = "t";
        f->tracks [i].s.chain.limiter.ceiling_dbtp = NAN;
        measure_t *m = &f->m [i];
        m->rate_hz = 48000;
        m->n_blocks = (size_t) blocks [i];
        m->block_lufs = calloc (m->n_blocks, sizeof (float));
        for (size_t b = 0; b < m->n_blocks; b++)
            m->block_lufs [b] = (float) level [i];
        m->integrated_lufs = level [i];
        m->duration_s = 0.1 * (double) (m->n_blocks + 3);
        m->true_peak_dbtp = level [i] + 10.0;
        for (int k = 0; k < MEASURE_BANDS; k++)
            m->band_db [k] = -40.0;
        f->mp [i] = m;
    }
}

static void
fx_free (fx_t *f)
{
    for (size_t i = 0; i < f->album.n_tracks; i++)
        measure_free (&f->m [i]);
}

//  Album loudness is the gated loudness of the union of blocks: one track
//  of 100 blocks at -10 and one of 300 at -16 LUFS is -13.58 LUFS (all
//  blocks pass both gates), not -13 (mean of tracks) nor -14.5
//  (duration-weighted mean); the album gain follows the union.
static void
test_union_not_average (void **state)
{
    (void) state;
    double lv [2] = { -10.0, -16.0 };
    int nb [2] = { 100, 300 };
    fx_t f;
    fx_init (&f, 2, lv, nb);
    double expect = l_of ((100 * e_of (-10) + 300 * e_of (-16)) / 400.0);
    assert_true (fabs (expect - (-13.0)) > 0.3);          //  averaging would differ
    assert_true (fabs (expect - (-14.5)) > 0.3);
    album_plan_t plan;
    char err [256];
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    //  tolerance 1e-4 LU: the solver's bisection stops at 1e-6 LU
    assert_true (fabs (plan.tracks [0].gain_db - (-14.0 - expect)) < 1e-4);
    assert_true (fabs (plan.tracks [1].gain_db - plan.tracks [0].gain_db) < 1e-12);
    assert_true (fabs (plan.album_planned_lufs - (-14.0)) < 1e-4);
    //  offsets kept: planned track loudness = input + gain
    assert_true (fabs (plan.tracks [0].target_lufs - (-10.0 + plan.tracks [0].gain_db)) < 1e-9);
    assert_true (fabs (plan.spread_lu - 6.0) < 1e-9);
    planner_plan_free (&plan);
    fx_free (&f);
}

//  The relative gate drops quiet blocks of the union: 100 blocks at -10
//  and 300 at -30 give -10 LUFS (the -30 blocks fall below the -10 LU
//  relative gate at about -25.9), while averaging would say -20.
static void
test_union_gates_quiet_track (void **state)
{
    (void) state;
    double lv [2] = { -10.0, -30.0 };
    int nb [2] = { 100, 300 };
    fx_t f;
    fx_init (&f, 2, lv, nb);
    album_plan_t plan;
    char err [256];
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    assert_true (fabs (plan.tracks [0].gain_db - (-4.0)) < 1e-4);
    planner_plan_free (&plan);
    fx_free (&f);
}

//  track policy: each track exactly to the target.
static void
test_policy_track (void **state)
{
    (void) state;
    double lv [4] = { -8.0, -14.0, -20.0, -26.0 };
    int nb [4] = { 50, 60, 70, 80 };
    fx_t f;
    fx_init (&f, 4, lv, nb);
    f.album.s.loudness.policy = POLICY_TRACK;
    f.album.s.loudness.target_lufs = -16.0;
    album_plan_t plan;
    char err [256];
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_APPLE, 48000, &plan, err, sizeof err), 0);
    for (int i = 0; i < 4; i++) {
        assert_true (fabs (plan.tracks [i].gain_db - (-16.0 - lv [i])) < 1e-12);
        assert_true (fabs (plan.tracks [i].target_lufs - (-16.0)) < 1e-12);
    }
    assert_true (fabs (plan.album_planned_lufs - (-16.0)) < 1e-9);
    assert_true (plan.spread_lu < 1e-9);
    planner_plan_free (&plan);
    fx_free (&f);
}

//  loudest policy: one gain, the loudest track lands on the target.
static void
test_policy_loudest (void **state)
{
    (void) state;
    double lv [4] = { -12.0, -9.5, -20.0, -26.0 };
    int nb [4] = { 50, 60, 70, 80 };
    fx_t f;
    fx_init (&f, 4, lv, nb);
    f.album.s.loudness.policy = POLICY_LOUDEST;
    album_plan_t plan;
    char err [256];
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    for (int i = 0; i < 4; i++)
        assert_true (fabs (plan.tracks [i].gain_db - (-14.0 + 9.5)) < 1e-12);
    assert_true (fabs (plan.tracks [1].target_lufs - (-14.0)) < 1e-12);
    assert_true (plan.album_planned_lufs < -14.0);
    assert_true (fabs (plan.spread_lu - 16.5) < 1e-9);
    planner_plan_free (&plan);
    fx_free (&f);
}

//  hybrid: every track within target +- max_deviation_lu, album at the
//  target, tracks inside the window share one gain (offsets kept).
static void
test_policy_hybrid_bounds (void **state)
{
    (void) state;
    double lv [5] = { -6.0, -13.0, -15.0, -16.0, -28.0 };
    int nb [5] = { 100, 100, 100, 100, 100 };
    fx_t f;
    fx_init (&f, 5, lv, nb);
    f.album.s.loudness.policy = POLICY_HYBRID;
    f.album.s.loudness.max_deviation_lu = 3.0;
    album_plan_t plan;
    char err [256];
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    for (int i = 0; i < 5; i++) {
        assert_true (plan.tracks [i].target_lufs <= -14.0 + 3.0 + 1e-9);
        assert_true (plan.tracks [i].target_lufs >= -14.0 - 3.0 - 1e-9);
    }
    assert_true (fabs (plan.tracks [0].target_lufs - (-11.0)) < 1e-9);   //  pulled down
    assert_true (fabs (plan.tracks [4].target_lufs - (-17.0)) < 1e-9);   //  pulled up
    assert_true (fabs (plan.tracks [1].gain_db - plan.tracks [2].gain_db) < 1e-12);
    assert_true (fabs (plan.tracks [2].gain_db - plan.tracks [3].gain_db) < 1e-12);
    //  album on target: recompute independently from the gains
    double g [5];
    for (int i = 0; i < 5; i++)
        g [i] = plan.tracks [i].gain_db;
    assert_true (fabs (measure_gated_loudness (f.mp, g, 5) - (-14.0)) < 1e-4);
    assert_true (fabs (plan.album_planned_lufs - (-14.0)) < 1e-4);
    assert_true (plan.spread_lu <= 6.0 + 1e-9);

    //  a wide window makes hybrid the album policy
    album_plan_t plan2;
    f.album.s.loudness.max_deviation_lu = 20.0;
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan2, err, sizeof err), 0);
    f.album.s.loudness.policy = POLICY_ALBUM;
    album_plan_t plan3;
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan3, err, sizeof err), 0);
    for (int i = 0; i < 5; i++)
        assert_true (fabs (plan2.tracks [i].gain_db - plan3.tracks [i].gain_db) < 1e-4);
    //  a zero window makes it the track policy
    f.album.s.loudness.policy = POLICY_HYBRID;
    f.album.s.loudness.max_deviation_lu = 0.0;
    album_plan_t plan4;
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan4, err, sizeof err), 0);
    for (int i = 0; i < 5; i++)
        assert_true (fabs (plan4.tracks [i].target_lufs - (-14.0)) < 1e-9);
    planner_plan_free (&plan);
    planner_plan_free (&plan2);
    planner_plan_free (&plan3);
    planner_plan_free (&plan4);
    fx_free (&f);
}

//  Target and ceiling: the profile's target unless the job gives one;
//  the lower of the profile's and the job's ceiling; fades in frames.
static void
test_targets_and_ceiling (void **state)
{
    (void) state;
    double lv [1] = { -20.0 };
    int nb [1] = { 40 };
    fx_t f;
    fx_init (&f, 1, lv, nb);
    f.album.s.loudness.has_target = false;
    f.album.s.loudness.has_true_peak = true;
    f.album.s.loudness.true_peak_dbtp = -1.0;
    f.tracks [0].s.fade_in_s = 0.5;
    f.tracks [0].s.fade_out_s = 3.0;
    album_plan_t plan;
    char err [256];
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_BROADCAST, 48000, &plan, err, sizeof err), 0);
    assert_true (fabs (plan.album_target_lufs - (-23.0)) < 1e-12);
    assert_true (fabs (plan.tracks [0].ceiling_dbtp - (-1.0)) < 1e-12);
    assert_int_equal (plan.tracks [0].fade_in_frames, 24000);
    assert_int_equal (plan.tracks [0].fade_out_frames, 144000);
    planner_plan_free (&plan);
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_AMAZON, 44100, &plan, err, sizeof err), 0);
    assert_true (fabs (plan.tracks [0].ceiling_dbtp - (-2.0)) < 1e-12);
    planner_plan_free (&plan);
    fx_free (&f);
}

//  Makes track i of f silent: digital silence (every block -inf) or, with
//  level finite, a very quiet track whose blocks all sit at level (under
//  the -70 LUFS absolute gate: BS.1770 integrated loudness -inf).
static void
fx_silence (fx_t *f, size_t i, double level)
{
    measure_t *m = &f->m [i];
    for (size_t b = 0; b < m->n_blocks; b++)
        m->block_lufs [b] = (float) level;
    m->integrated_lufs = -HUGE_VAL;
    m->true_peak_dbtp = isfinite (level) ? level + 10.0 : -HUGE_VAL;
    for (int k = 0; k < MEASURE_BANDS; k++)
        m->band_db [k] = isfinite (level) ? -120.0 + 5.0 * (k % 3) : -HUGE_VAL;
}

//  Tilted spectra on the loud tracks, tonal match on, so that the tonal
//  target would move if a silent track took part.
static void
fx_tonal (fx_t *f)
{
    for (size_t i = 0; i < f->album.n_tracks; i++)
        if (isfinite (f->m [i].integrated_lufs))
            for (int b = 0; b < MEASURE_BANDS; b++)
                f->m [i].band_db [b] = -30.0 + (double) ((int) i - 2) * log10 (measure_band_hz (b) / 1000.0);
    f->album.s.tonal.match = TONAL_ALBUM;
    f->album.s.tonal.strength = 1.0;
    f->album.s.tonal.max_db = 12.0;
}

//  A silent track (track 3 of 5: digital silence, then a very quiet one
//  under the absolute gate) does not fail the plan, for every policy: it
//  gets 0 dB and no tonal correction, is marked silent in the record
//  (no -inf or NaN there), and every other number is that of the album
//  without it: album loudness, gains, tonal corrections.
static void
test_silent_track_planned (void **state)
{
    (void) state;
    const loudness_policy_t policies [] = { POLICY_ALBUM, POLICY_TRACK, POLICY_LOUDEST, POLICY_HYBRID };
    const double quiet [] = { -HUGE_VAL, -75.0 };
    for (size_t q = 0; q < 2; q++)
    for (size_t pi = 0; pi < 4; pi++) {
        double lv [5] = { -10.0, -16.0, -20.0, -12.0, -24.0 };
        double lv4 [4] = { -10.0, -16.0, -12.0, -24.0 };
        int nb [5] = { 100, 200, 100, 150, 100 };
        int nb4 [4] = { 100, 200, 150, 100 };
        fx_t f, g;
        fx_init (&f, 5, lv, nb);
        fx_init (&g, 4, lv4, nb4);
        fx_silence (&f, 2, quiet [q]);
        fx_tonal (&f);
        for (int b = 0; b < MEASURE_BANDS; b++)
            for (size_t i = 0; i < 4; i++)
                g.m [i].band_db [b] = f.m [i < 2 ? i : i + 1].band_db [b];
        g.album.s.tonal = f.album.s.tonal;
        f.album.s.loudness.policy = g.album.s.loudness.policy = policies [pi];
        album_plan_t plan, ref;
        char err [256] = "";
        int rc = planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err);
        if (rc != 0)
            fail_msg ("policy %d: plan failed: %s", (int) policies [pi], err);
        assert_int_equal (planner_plan_album (&g.album, g.mp, PROFILE_SPOTIFY, 48000, &ref, err, sizeof err), 0);
        const track_plan_t *st = &plan.tracks [2];
        assert_true (st->silent);
        assert_true (st->gain_db == 0.0);
        assert_true (isnan (st->target_lufs));
        for (int b = 0; b < MEASURE_BANDS; b++)
            assert_true (st->tonal_db [b] == 0.0);
        assert_true (fabs (plan.album_planned_lufs - ref.album_planned_lufs) < 1e-9);
        assert_true (fabs (plan.spread_lu - ref.spread_lu) < 1e-9);
        for (size_t i = 0; i < 4; i++) {
            const track_plan_t *a = &plan.tracks [i < 2 ? i : i + 1], *b = &ref.tracks [i];
            assert_false (a->silent);
            assert_true (fabs (a->gain_db - b->gain_db) < 1e-9);
            for (int k = 0; k < MEASURE_BANDS; k++)
                assert_true (fabs (a->tonal_db [k] - b->tonal_db [k]) < 1e-9);
        }
        if (policies [pi] == POLICY_ALBUM)
            assert_true (fabs (plan.album_planned_lufs - (-14.0)) < 1e-4);
        //  the record: silent, with nulls where there is no number
        assert_non_null (plan.report_json);
        assert_null (strstr (plan.report_json, "inf"));
        assert_null (strstr (plan.report_json, "nan"));
        json_t *root = json_loads (plan.report_json, 0, NULL);
        assert_non_null (root);
        json_t *t3 = json_array_get (json_object_get (root, "tracks"), 2);
        assert_int_equal (json_integer_value (json_object_get (t3, "index")), 3);
        assert_true (json_is_true (json_object_get (t3, "silent")));
        assert_true (json_is_null (json_object_get (t3, "input_lufs")));
        assert_true (json_is_null (json_object_get (t3, "planned_lufs")));
        assert_true (json_real_value (json_object_get (t3, "gain_db")) == 0.0);
        assert_int_equal (json_integer_value (json_object_get (root, "silent_tracks")), 1);
        json_decref (root);
        planner_plan_free (&plan);
        planner_plan_free (&ref);
        fx_free (&f);
        fx_free (&g);
    }
}

//  An album of silent tracks only is planned: every gain 0 dB.
static void
test_all_silent (void **state)
{
    (void) state;
    double lv [2] = { -20.0, -20.0 };
    int nb [2] = { 40, 40 };
    fx_t f;
    fx_init (&f, 2, lv, nb);
    fx_silence (&f, 0, -HUGE_VAL);
    fx_silence (&f, 1, -80.0);
    album_plan_t plan;
    char err [256] = "";
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    for (size_t i = 0; i < 2; i++) {
        assert_true (plan.tracks [i].silent);
        assert_true (plan.tracks [i].gain_db == 0.0);
    }
    assert_true (plan.spread_lu == 0.0);
    assert_null (strstr (plan.report_json, "inf"));
    assert_null (strstr (plan.report_json, "nan"));
    planner_plan_free (&plan);
    fx_free (&f);
}

//  The planner names tracks by their number in the spec when given a
//  sub-list (the tracks analysed): spec tracks 1, 2, 5 and 9 of an album.
//  A failure caused by the fourth entry says "track 9"; the record's
//  indices are 1, 2, 5, 9; the tonal reference (spec index 4: track 5)
//  is the third entry, and one not in the list is named by its number.
static void
test_track_numbers (void **state)
{
    (void) state;
    double lv [4] = { -14.0, -16.0, -12.0, -15.0 };
    int nb [4] = { 40, 40, 40, 40 };
    const int numbers [4] = { 1, 2, 5, 9 };
    fx_t f;
    fx_init (&f, 4, lv, nb);
    fx_tonal (&f);
    album_plan_t plan;
    char err [256] = "";
    //  a missing analysis: the message names track 9, not 4
    const measure_t *keep = f.mp [3];
    f.mp [3] = NULL;
    assert_int_equal (planner_plan_tracks (&f.album, f.mp, numbers, NULL, 0, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), MF_ERR_INVALID);
    assert_non_null (strstr (err, "track 9"));
    assert_null (strstr (err, "track 4"));
    f.mp [3] = keep;
    //  the reference is spec track 5: the third entry keeps its shape
    f.album.s.tonal.match = TONAL_REFERENCE;
    f.album.s.tonal.reference_track = 4;
    assert_int_equal (planner_plan_tracks (&f.album, f.mp, numbers, NULL, 0, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    for (int b = 0; b < MEASURE_BANDS; b++)
        assert_true (fabs (plan.tracks [2].tonal_db [b]) < 1e-9);
    assert_true (fabs (plan.tracks [0].tonal_db [MEASURE_BANDS - 2]) > 0.1);
    json_t *root = json_loads (plan.report_json, 0, NULL);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal (json_integer_value (json_object_get (json_array_get (json_object_get (root, "tracks"), i), "index")), numbers [i]);
    json_decref (root);
    planner_plan_free (&plan);
    //  the reference is spec track 3, which is not in the list
    f.album.s.tonal.reference_track = 2;
    err [0] = 0;
    assert_int_equal (planner_plan_tracks (&f.album, f.mp, numbers, NULL, 0, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), MF_ERR_INVALID);
    assert_non_null (strstr (err, "track 3"));
    //  and spec track 12 (beyond the list's length) likewise
    f.album.s.tonal.reference_track = 11;
    assert_int_equal (planner_plan_tracks (&f.album, f.mp, numbers, NULL, 0, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), MF_ERR_INVALID);
    assert_non_null (strstr (err, "track 12 was not analysed"));
    //  a silent reference: nothing corrected, the record says why
    f.album.s.tonal.reference_track = 4;
    fx_silence (&f, 2, -HUGE_VAL);
    assert_int_equal (planner_plan_tracks (&f.album, f.mp, numbers, NULL, 0, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    for (size_t i = 0; i < 4; i++)
        for (int b = 0; b < MEASURE_BANDS; b++)
            assert_true (plan.tracks [i].tonal_db [b] == 0.0);
    assert_non_null (strstr (plan.report_json, "reference track 5 has no measurable loudness"));
    planner_plan_free (&plan);
    fx_free (&f);
}

//  Tonal: tracks with tilts of -6..+6 dB/decade around a common shape.
//  At strength 1 the corrected shapes equal the weighted mean shape in
//  the inner bands (a linear tilt survives the smoothing exactly),
//  at strength 0.5 half the distance is left; never beyond max_db;
//  zero mean over the bands.
static void
test_tonal_album (void **state)
{
    (void) state;
    double lv [3] = { -14.0, -14.0, -14.0 };
    int nb [3] = { 100, 100, 100 };
    double tilt [3] = { -6.0, 0.0, 6.0 };
    fx_t f;
    fx_init (&f, 3, lv, nb);
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < MEASURE_BANDS; b++)
            f.m [i].band_db [b] = -30.0 - 3.0 * (b % 2) + tilt [i] * log10 (measure_band_hz (b) / 1000.0);
    f.album.s.tonal.match = TONAL_ALBUM;
    f.album.s.tonal.strength = 1.0;
    f.album.s.tonal.max_db = 12.0;
    album_plan_t plan;
    char err [256];
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    //  equal loudness and duration: the target tilt is 0 dB/decade, so the
    //  correction is -tilt per decade (inner bands, 1e-9 dB: exact arithmetic)
    for (int i = 0; i < 3; i++) {
        double mean = 0.0;
        for (int b = 0; b < MEASURE_BANDS; b++)
            mean += plan.tracks [i].tonal_db [b] / MEASURE_BANDS;
        assert_true (fabs (mean) < 1e-9);
        for (int b = 2; b < MEASURE_BANDS - 2; b++) {
            double d = (plan.tracks [i].tonal_db [b] - plan.tracks [i].tonal_db [b + 1]);
            double want = -tilt [i] * (log10 (measure_band_hz (b) / 1000.0) - log10 (measure_band_hz (b + 1) / 1000.0));
            //  ISO 266 centres are rounded: the fit over their log spacing differs by < 0.05 dB
            assert_true (fabs (d - want) < 0.05);
        }
    }
    planner_plan_free (&plan);

    //  max_db 3 bounds the full correction, strength 0.5 then halves it
    f.album.s.tonal.strength = 0.5;
    f.album.s.tonal.max_db = 3.0;
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    double worst = 0.0;
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < MEASURE_BANDS; b++)
            worst = fmax (worst, fabs (plan.tracks [i].tonal_db [b]));
    assert_true (worst <= 1.5 + 1e-12);
    assert_true (worst > 1.45);      //  +-6 dB/decade over ~3 decades reaches the bound
    for (int b = 0; b < MEASURE_BANDS; b++)
        assert_true (fabs (plan.tracks [1].tonal_db [b]) < 1e-9);   //  the middle track is the mean
    planner_plan_free (&plan);

    //  reference track: its own correction is zero, others move to it
    f.album.s.tonal.match = TONAL_REFERENCE;
    f.album.s.tonal.reference_track = 2;
    f.album.s.tonal.strength = 1.0;
    f.album.s.tonal.max_db = 12.0;
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    for (int b = 0; b < MEASURE_BANDS; b++)
        assert_true (fabs (plan.tracks [2].tonal_db [b]) < 1e-9);
    assert_true (plan.tracks [1].tonal_db [MEASURE_BANDS - 3] > 3.0);  //  tilt up toward +6 dB/decade
    planner_plan_free (&plan);

    f.album.s.tonal.reference_track = 7;
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), MF_ERR_INVALID);
    assert_non_null (strstr (err, "reference_track"));
    fx_free (&f);
}

//  Loudness weighting: a track 10 LU louder weighs 10 times more in the target.
static void
test_tonal_weights (void **state)
{
    (void) state;
    double lv [2] = { -10.0, -20.0 };
    int nb [2] = { 100, 100 };
    fx_t f;
    fx_init (&f, 2, lv, nb);
    f.album.s.loudness.policy = POLICY_ALBUM;
    for (int b = 0; b < MEASURE_BANDS; b++) {
        f.m [0].band_db [b] = -30.0 + (b == 15 ? 11.0 : 0.0);
        f.m [1].band_db [b] = -30.0;
    }
    f.album.s.tonal.match = TONAL_ALBUM;
    f.album.s.tonal.strength = 1.0;
    f.album.s.tonal.max_db = 12.0;
    album_plan_t plan;
    char err [256];
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    json_error_t je;
    json_t *root = json_loads (plan.report_json, 0, &je);
    assert_non_null (root);
    json_t *w = json_object_get (json_object_get (root, "tonal"), "track_weights");
    //  weights 10/11 and 1/11 (10^(-1) ratio); tolerance 1e-9
    assert_true (fabs (json_real_value (json_array_get (w, 0)) - 10.0 / 11.0) < 1e-9);
    assert_string_equal (json_string_value (json_object_get (root, "policy")), "album");
    assert_int_equal (json_array_size (json_object_get (root, "tracks")), 2);
    assert_true (json_is_real (json_object_get (root, "mean_of_track_lufs_not_used")));
    json_decref (root);
    //  the quiet track is corrected more (toward the loud one's bump)
    assert_true (plan.tracks [1].tonal_db [15] > 2.0 * fabs (plan.tracks [0].tonal_db [15]));
    planner_plan_free (&plan);
    fx_free (&f);
}

//  Largest step between neighbouring bands of a curve.
static double
s_max_step (const double *c)
{
    double worst = 0.0;
    for (int b = 0; b + 1 < MEASURE_BANDS; b++)
        worst = fmax (worst, fabs (c [b + 1] - c [b]));
    return worst;
}

//  A top band that one track leaves empty (a 16 kHz low-pass) is not
//  usable; its correction holds the neighbour's value instead of
//  dropping to 0 dB, so the curve has no step between 16 and 20 kHz.
static void
test_tonal_top_band_held (void **state)
{
    (void) state;
    double lv [3] = { -14.0, -14.0, -14.0 };
    int nb [3] = { 100, 100, 100 };
    double tilt [3] = { -6.0, 0.0, 6.0 };
    fx_t f;
    fx_init (&f, 3, lv, nb);
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < MEASURE_BANDS; b++)
            f.m [i].band_db [b] = -30.0 + tilt [i] * log10 (measure_band_hz (b) / 1000.0);
    f.m [1].band_db [MEASURE_BANDS - 1] = -HUGE_VAL;
    f.album.s.tonal.match = TONAL_ALBUM;
    f.album.s.tonal.strength = 1.0;
    f.album.s.tonal.max_db = 6.0;
    album_plan_t plan;
    char err [256];
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    for (int i = 0; i < 3; i++) {
        const double *c = plan.tracks [i].tonal_db;
        double step = fabs (c [MEASURE_BANDS - 1] - c [MEASURE_BANDS - 2]);
        printf ("#   track %d: 16 kHz %.2f dB, 20 kHz %.2f dB, step %.2f dB\n", i + 1,
                c [MEASURE_BANDS - 2], c [MEASURE_BANDS - 1], step);
        assert_true (step <= 1.0);
    }
    planner_plan_free (&plan);
    fx_free (&f);
}

//  Bass notes are music, not tonal balance: a track whose spectrum is the
//  album's plus strong single-band notes (+9 dB at 80 Hz, -9 dB at 100 Hz,
//  +6 dB at 160 Hz) gets a smooth, small curve, not +3 / -3 dB
//  neighbours that would fight the notes.
static void
test_tonal_bass_notes_smooth (void **state)
{
    (void) state;
    double lv [3] = { -14.0, -14.0, -14.0 };
    int nb [3] = { 100, 100, 100 };
    fx_t f;
    fx_init (&f, 3, lv, nb);
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < MEASURE_BANDS; b++)
            f.m [i].band_db [b] = -30.0 - 3.0 * log10 (measure_band_hz (b) / 1000.0);
    f.m [0].band_db [5] += 9.0;         //  80 Hz
    f.m [0].band_db [6] -= 9.0;         //  100 Hz
    f.m [0].band_db [8] += 6.0;         //  160 Hz
    f.album.s.tonal.match = TONAL_ALBUM;
    f.album.s.tonal.strength = 1.0;
    f.album.s.tonal.max_db = 6.0;
    album_plan_t plan;
    char err [256];
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    const double *c = plan.tracks [0].tonal_db;
    double peak = 0.0;
    for (int b = 0; b < MEASURE_BANDS; b++)
        peak = fmax (peak, fabs (c [b]));
    printf ("#   bass notes: 63..200 Hz %.2f %.2f %.2f %.2f %.2f %.2f dB; largest step %.2f dB, "
            "largest correction %.2f dB\n", c [4], c [5], c [6], c [7], c [8], c [9],
            s_max_step (c), peak);
    assert_true (s_max_step (c) <= 1.0);
    assert_true (peak <= 2.0);
    planner_plan_free (&plan);
    fx_free (&f);
}

//  Strength scales the bounded correction: at the default max_db of 3 dB,
//  strength 0.5 gives half of strength 1.0 in every band, not the same
//  clipped curve.
static void
test_tonal_strength_scales (void **state)
{
    (void) state;
    double lv [3] = { -14.0, -14.0, -14.0 };
    int nb [3] = { 100, 100, 100 };
    double tilt [3] = { -6.0, 0.0, 6.0 };
    fx_t f;
    fx_init (&f, 3, lv, nb);
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < MEASURE_BANDS; b++)
            f.m [i].band_db [b] = -30.0 + tilt [i] * log10 (measure_band_hz (b) / 1000.0);
    f.album.s.tonal.match = TONAL_ALBUM;
    f.album.s.tonal.max_db = 3.0;
    album_plan_t full, half;
    char err [256];
    f.album.s.tonal.strength = 1.0;
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &full, err, sizeof err), 0);
    f.album.s.tonal.strength = 0.5;
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &half, err, sizeof err), 0);
    double s_full = 0.0, s_half = 0.0, worst = 0.0;
    for (int b = 0; b < MEASURE_BANDS; b++) {
        s_full += fabs (full.tracks [0].tonal_db [b]);
        s_half += fabs (half.tracks [0].tonal_db [b]);
        worst = fmax (worst, fabs (full.tracks [0].tonal_db [b]));
        assert_true (fabs (half.tracks [0].tonal_db [b] - 0.5 * full.tracks [0].tonal_db [b]) < 1e-9);
    }
    printf ("#   strength 1.0: mean |c| %.2f dB (largest %.2f); 0.5: %.2f dB\n",
            s_full / MEASURE_BANDS, worst, s_half / MEASURE_BANDS);
    assert_true (worst <= 3.0 + 1e-12);
    planner_plan_free (&full);
    planner_plan_free (&half);
    fx_free (&f);
}

//  Edges: with 2 s gaps, the album loudness counts the partial blocks
//  where each track meets silence (1/4, 2/4, 3/4 of the first or last
//  block's energy), as a meter reading the album file does; without gaps
//  there are none. Known answer for two tracks of 40 blocks at -10 and
//  -14 LUFS: track 1 has a leading and a trailing edge, track 2 a
//  leading one.
static void
test_album_edges (void **state)
{
    (void) state;
    double lv [2] = { -10.0, -14.0 };
    int nb [2] = { 40, 40 };
    fx_t f;
    fx_init (&f, 2, lv, nb);
    double plain = measure_gated_loudness (f.mp, NULL, 2);
    assert_true (fabs (planner_album_lufs (&f.album, f.mp, NULL) - plain) < 1e-9);
    for (int i = 0; i < 2; i++)
        f.tracks [i].s.gap_s = 2.0;
    double e = (43.0 * e_of (-10) + 41.5 * e_of (-14)) / 89.0;
    double got = planner_album_lufs (&f.album, f.mp, NULL);
    assert_true (fabs (got - l_of (e)) < 1e-5);          //  float blocks
    assert_true (got < plain - 0.1);
    //  the album policy solves on the same model
    album_plan_t plan;
    char err [256];
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    double g [2] = { plan.tracks [0].gain_db, plan.tracks [1].gain_db };
    assert_true (fabs (planner_album_lufs (&f.album, f.mp, g) - (-14.0)) < 1e-4);
    planner_plan_free (&plan);
    //  a crossfade joins tracks 1 and 2: no edges between them
    f.tracks [0].s.crossfade_s = 1.0;
    e = (41.5 * e_of (-10) + 40.0 * e_of (-14)) / 83.0;     //  only the pregap edge
    assert_true (fabs (planner_album_lufs (&f.album, f.mp, NULL) - l_of (e)) < 1e-5);
    fx_free (&f);
}

//  The plan is each per-track file's loudness (broker/planner.c): track
//  1's file holds the pregap and the next track's gap, so its edge blocks
//  (1/4, 2/4, 3/4 of its first and last block) lower its reading; the
//  last track's file holds none. Two tracks of 40 blocks at -10 and -14
//  LUFS, 2 s gaps. track policy: each file to the target (track 1's
//  audio louder by the edges' effect); album policy: one gain, each
//  file planned at its own reading plus it; the pads travel with the
//  plan. A fade-out on track 2 (the blocks weighted by the power the
//  fade leaves on them) lowers its file's planned loudness by what
//  the weighted blocks read. A crossfade ends a file early.
static void
test_file_loudness (void **state)
{
    (void) state;
    double lv [2] = { -10.0, -14.0 };
    int nb [2] = { 40, 40 };
    fx_t f;
    fx_init (&f, 2, lv, nb);
    for (int i = 0; i < 2; i++) {
        f.tracks [i].s.gap_s = 2.0;
        f.m [i].frames = (int64_t) (nb [i] + 3) * 4800;
    }
    const double file1 = -10.0 + 10.0 * log10 (43.0 / 46.0);
    album_plan_t plan;
    char err [256];
    f.album.s.loudness.policy = POLICY_TRACK;
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    assert_true (fabs (plan.tracks [0].target_lufs - (-14.0)) < 1e-9);
    assert_true (fabs (plan.tracks [0].gain_db - (-14.0 - file1)) < 1e-5);
    assert_true (fabs (plan.tracks [1].gain_db - 0.0) < 1e-9);
    assert_int_equal (plan.tracks [0].pad_lead_frames, 96000);
    assert_int_equal (plan.tracks [0].pad_trail_frames, 96000);
    assert_int_equal (plan.tracks [1].pad_lead_frames, 0);
    assert_int_equal (plan.tracks [1].pad_trail_frames, 0);
    assert_non_null (strstr (plan.report_json, "\"input_file_lufs\""));
    planner_plan_free (&plan);

    f.album.s.loudness.policy = POLICY_ALBUM;
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    double g = plan.tracks [0].gain_db;
    assert_true (fabs (plan.tracks [1].gain_db - g) < 1e-12);
    assert_true (fabs (plan.tracks [0].target_lufs - (file1 + g)) < 1e-5);
    assert_true (fabs (plan.tracks [1].target_lufs - (-14.0 + g)) < 1e-9);
    planner_plan_free (&plan);

    //  a 1 s crossfade from track 1 into track 2: track 1's file ends
    //  where it starts (its last 10 blocks are not whole in it) and has no
    //  trailing edge; the cut travels with the plan
    f.tracks [0].s.crossfade_s = 1.0;
    f.album.s.loudness.policy = POLICY_TRACK;
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    assert_true (fabs (plan.tracks [0].gain_db - (-14.0 - (-10.0 + 10.0 * log10 (31.5 / 33.0)))) < 1e-5);
    assert_int_equal (plan.tracks [0].pad_trail_frames, 0);
    assert_int_equal (plan.tracks [0].cut_trail_frames, 48000);
    assert_int_equal (plan.tracks [1].cut_trail_frames, 0);
    //  track 2's file opens with track 1's tail, at its level and gain
    assert_int_equal (plan.tracks [1].xfade_in_frames, 48000);
    for (int q = 0; q < FADE_TAIL_SEGMENTS; q++)
        assert_true (fabs (plan.tracks [1].xfade_in_lufs [q] - (-10.0 + plan.tracks [0].gain_db)) < 1e-5);
    //  so its file reads louder than its blocks alone: the tail, at -13.80
    //  LUFS (track 1's file reads under its blocks, so its gain is -3.80),
    //  meets a track at -14 under equal-power gains; track 2 comes down
    printf ("  track 2 gain %.4f, track 1 gain %.4f\n", plan.tracks [1].gain_db,
            plan.tracks [0].gain_db);
    assert_true (plan.tracks [1].gain_db < -0.01 && plan.tracks [1].gain_db > -0.2);
    planner_plan_free (&plan);
    f.tracks [0].s.crossfade_s = 0.0;
    f.album.s.loudness.policy = POLICY_ALBUM;

    //  a 1 s fade-out on track 2 (equal power): its last blocks weighted
    f.tracks [1].s.fade_out_s = 1.0;
    f.tracks [1].s.fade_curve = FADE_EQUAL_POWER;
    double sum = 0.0;
    int n = 0;
    for (int k = 0; k < nb [1]; k++) {
        double w = fade_power_mean (FADE_EQUAL_POWER, f.m [1].frames, 0, 48000,
                                    (int64_t) k * 4800, (int64_t) (k + 4) * 4800);
        double l = -14.0 + 10.0 * log10 (w);
        if (l > -24.0 - 0.5) {              //  well above the relative gate
            sum += e_of (l);
            n++;
        }
    }
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    g = plan.tracks [0].gain_db;
    printf ("  track 2 faded: file planned %.4f, blocks weighted %.4f (+ gain %.3f)\n",
            plan.tracks [1].target_lufs, l_of (sum / n) + g, g);
    assert_true (plan.tracks [1].target_lufs < -14.0 + g - 0.05);
    assert_true (fabs (plan.tracks [1].target_lufs - (l_of (sum / n) + g)) < 0.02);
    planner_plan_free (&plan);
    fx_free (&f);
}

//  trim: the assembly cuts the silence the analysis found around a
//  track, and with it the blocks over its edges. One track at -14 LUFS
//  after 0.3 s of silence: its first three blocks hold 1/4, 2/4, 3/4 of a
//  full one's energy. Without trim they lower its reading (its gain goes
//  up); with trim the plan reads the track as its file holds it, -14.
static void
test_file_trim (void **state)
{
    (void) state;
    double lv [1] = { -14.0 };
    int nb [1] = { 40 };
    fx_t f;
    fx_init (&f, 1, lv, nb);
    f.album.s.loudness.policy = POLICY_TRACK;
    f.album.s.loudness.target_lufs = -16.0;
    f.m [0].frames = (int64_t) (40 + 3) * 4800;
    f.m [0].lead_silence_frames = 3 * 4800;
    for (int k = 0; k < 3; k++)
        f.m [0].block_lufs [k] = (float) (-14.0 + 10.0 * log10 ((k + 1) / 4.0));
    album_plan_t plan;
    char err [256];
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    double untrimmed = plan.tracks [0].gain_db;
    planner_plan_free (&plan);
    f.tracks [0].s.trim = true;
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err, sizeof err), 0);
    assert_true (fabs (plan.tracks [0].gain_db - (-2.0)) < 1e-5);
    assert_true (untrimmed > -2.0 + 0.01);
    planner_plan_free (&plan);
    fx_free (&f);
}

//  Music-like levels for the first three tracks: 200 loud blocks within
//  +-1 dB of lv[i], then 200 quiet ones spread from 10 to 22 dB under it
//  (identical blocks would cross a gate all at once, in one step).
static void
s_spread (fx_t *f, const double *lv)
{
    for (size_t i = 0; i < 3; i++)
        for (size_t b = 0; b < 400; b++)
            f->m [i].block_lufs [b] = (float) (b < 200 ? lv [i] - 1.0 + 0.01 * (double) b
                                                       : lv [i] - 10.0 - 0.06 * (double) (b - 200));
}

//  Outputs of a mastered album: each track's input blocks moved by its
//  planned gain, its quiet blocks (under quiet_lufs at the input) lifted
//  by lift dB as a compressor would, and the whole moved by more dB.
static void
s_outputs (const fx_t *f, const album_plan_t *plan, double quiet_lufs, double lift,
           const double *more, measure_t *out, const measure_t **op)
{
    for (size_t i = 0; i < f->album.n_tracks; i++) {
        const measure_t *m = &f->m [i];
        memset (&out [i], 0, sizeof out [i]);
        out [i].n_blocks = m->n_blocks;
        out [i].block_lufs = calloc (m->n_blocks ? m->n_blocks : 1, sizeof (float));
        for (size_t b = 0; b < m->n_blocks; b++) {
            double l = m->block_lufs [b];
            if (l > -150.0)
                l += plan->tracks [i].gain_db + (l < quiet_lufs ? lift : 0.0)
                   + (more ? more [i] : 0.0);
            out [i].block_lufs [b] = (float) l;
        }
        op [i] = &out [i];
    }
}

//  The album correction: an album whose quiet passages a compressor
//  lifted reads off its plan; the shifts, solved on the delivered
//  blocks, bring it back to the plan (exactly, as a gain); the album
//  read again is within the tolerance and needs nothing; hybrid keeps
//  every track inside target +- max_deviation_lu; silent tracks do not
//  move; policies without an album target and missing outputs are
//  refused.
static void
test_album_correct (void **state)
{
    (void) state;
    //  three tracks of loud and quiet passages
    double lv [4] = { -12.0, -18.0, -15.0, -300.0 };
    int nb [4] = { 400, 400, 400, 100 };
    fx_t f;
    fx_init (&f, 3, lv, nb);
    s_spread (&f, lv);
    album_plan_t plan;
    char err [256];
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err,
                                          sizeof err), 0);
    assert_true (fabs (plan.album_planned_lufs - (-14.0)) < 1e-4);
    measure_t out [4];
    const measure_t *op [4];
    double shift [4], read;
    //  as planned: nothing to correct
    s_outputs (&f, &plan, -25.0, 0.0, NULL, out, op);
    assert_int_equal (planner_album_correct (&f.album, &plan, op, shift, &read), 0);
    assert_true (fabs (read - (-14.0)) < 1e-3);
    for (int i = 0; i < 3; i++) {
        assert_true (shift [i] == 0.0);
        free (out [i].block_lufs);
    }
    //  quiet blocks lifted by 8 dB: over the relative gate, louder album
    s_outputs (&f, &plan, -25.0, 8.0, NULL, out, op);
    assert_int_equal (planner_album_correct (&f.album, &plan, op, shift, &read), 1);
    printf ("#   lifted: album reads %.3f LUFS, shift %.3f dB\n", read, shift [0]);
    //  (lifted over the album's relative gate, the quiet blocks now count
    //  and pull the album's reading down)
    assert_true (fabs (read - (-14.0)) > PLANNER_ALBUM_TOL_LU);
    assert_true (shift [0] * (read - (-14.0)) < 0.0);
    assert_true (shift [1] == shift [0] && shift [2] == shift [0]);
    //  mastered again with the shift (a gain here): on the plan, nothing more
    assert_true (fabs (planner_album_lufs (&f.album, op, shift) - (-14.0)) < 1e-4);
    for (int i = 0; i < 3; i++)
        free (out [i].block_lufs);
    double more [3] = { shift [0], shift [1], shift [2] };
    s_outputs (&f, &plan, -25.0, 8.0, more, out, op);
    assert_int_equal (planner_album_correct (&f.album, &plan, op, shift, &read), 0);
    assert_true (fabs (read - (-14.0)) < 1e-3);
    for (int i = 0; i < 3; i++)
        free (out [i].block_lufs);
    //  policies without an album target, and a missing output
    s_outputs (&f, &plan, -25.0, 8.0, NULL, out, op);
    f.album.s.loudness.policy = POLICY_TRACK;
    assert_int_equal (planner_album_correct (&f.album, &plan, op, shift, &read), MF_ERR_INVALID);
    f.album.s.loudness.policy = POLICY_LOUDEST;
    assert_int_equal (planner_album_correct (&f.album, &plan, op, shift, &read), MF_ERR_INVALID);
    f.album.s.loudness.policy = POLICY_ALBUM;
    op [1] = NULL;
    assert_int_equal (planner_album_correct (&f.album, &plan, op, shift, &read), MF_ERR_INVALID);
    for (int i = 0; i < 3; i++)
        free (out [i].block_lufs);
    planner_plan_free (&plan);
    fx_free (&f);

    //  hybrid, with a silent fourth track: the clamp holds, silence stays
    fx_init (&f, 4, lv, nb);
    s_spread (&f, lv);
    for (size_t b = 0; b < 100; b++)
        f.m [3].block_lufs [b] = -200.0f;
    f.m [3].integrated_lufs = -HUGE_VAL;
    f.album.s.loudness.policy = POLICY_HYBRID;
    f.album.s.loudness.max_deviation_lu = 2.0;
    assert_int_equal (planner_plan_album (&f.album, f.mp, PROFILE_SPOTIFY, 48000, &plan, err,
                                          sizeof err), 0);
    assert_true (plan.tracks [3].silent);
    s_outputs (&f, &plan, -25.0, 4.0, NULL, out, op);
    assert_int_equal (planner_album_correct (&f.album, &plan, op, shift, &read), 1);
    assert_true (shift [3] == 0.0);
    for (int i = 0; i < 3; i++) {
        double t = plan.tracks [i].target_lufs + shift [i];
        printf ("#   hybrid: track %d planned %.3f, shift %.3f\n", i + 1,
                plan.tracks [i].target_lufs, shift [i]);
        assert_true (t >= -14.0 - 2.0 - 1e-9 && t <= -14.0 + 2.0 + 1e-9);
    }
    printf ("#   hybrid: album read %.4f, after the shifts %.4f, planned %.4f\n", read,
            planner_album_lufs (&f.album, op, shift), plan.album_planned_lufs);
    assert_true (fabs (planner_album_lufs (&f.album, op, shift) - plan.album_planned_lufs) < 1e-4);
    for (int i = 0; i < 4; i++)
        free (out [i].block_lufs);
    planner_plan_free (&plan);
    fx_free (&f);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_union_not_average),
        cmocka_unit_test (test_union_gates_quiet_track),
        cmocka_unit_test (test_policy_track),
        cmocka_unit_test (test_policy_loudest),
        cmocka_unit_test (test_policy_hybrid_bounds),
        cmocka_unit_test (test_targets_and_ceiling),
        cmocka_unit_test (test_silent_track_planned),
        cmocka_unit_test (test_all_silent),
        cmocka_unit_test (test_track_numbers),
        cmocka_unit_test (test_tonal_album),
        cmocka_unit_test (test_tonal_weights),
        cmocka_unit_test (test_tonal_top_band_held),
        cmocka_unit_test (test_tonal_bass_notes_smooth),
        cmocka_unit_test (test_tonal_strength_scales),
        cmocka_unit_test (test_album_edges),
        cmocka_unit_test (test_file_loudness),
        cmocka_unit_test (test_file_trim),
        cmocka_unit_test (test_album_correct),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
