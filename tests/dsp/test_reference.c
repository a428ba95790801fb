/*  Reference mastering: a music-like track matched to reference files of
    another rate (worker/reference.h, broker/planner.h
    planner_reference_match, the master chain with the minimum-phase tonal
    EQ and the stereo stage).

    Spectral distance is planner_spectral_distance: the RMS over the
    1/3-octave bands 40 Hz .. 16 kHz of the difference of the two
    spectrum shapes (each relative to its mean there). Shown:
      - tone 1 cuts the distance to the reference by at least 60 %, tone
        0.5 by about half as much (25 .. 45 %);
      - width 1 brings the output's side/mid energy ratio within 1 dB of
        the reference's;
      - two weighted references (3:1): the distance to their weighted
        shape is cut by at least 60 %;
      - loudness 1 lands on the reference's loudness, 0.5 half way from
        the profile's target; the true peak (own meter of the analysis)
        never exceeds the ceiling;
      - a reference analysed in segments equals the analysis of the whole
        file (loudness, spectrum, side/mid).
    The tracks are generated (tests/lib/album_fixture.h) 12 s long: the
    reference at 44.1 kHz, the track at 48 kHz with its own tilt and a
    narrower stereo image.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "album_fixture.h"
#include "testsig.h"
#include "broker/planner.h"
#include "worker/master.h"
#include "worker/reference.h"

#define SECONDS 12.0

//  Scales the side signal of stereo audio by g (M/S).
static void
s_side_gain (audio_t *a, double g)
{
    for (int64_t i = 0; i < a->frames; i++) {
        double l = a->data [2 * i], r = a->data [2 * i + 1];
        double m = 0.5 * (l + r), s = 0.5 * (l - r) * g;
        a->data [2 * i] = (float) (m + s);
        a->data [2 * i + 1] = (float) (m - s);
    }
}

//  Writes a reference: tilt dB/decade, level LUFS, side gain, 44.1 kHz.
static void
s_make_ref (const char *path, double tilt, double lufs, double side, uint64_t seed)
{
    audio_t a;
    album_fixture_track (&a, SECONDS, 44100, tilt, lufs, seed);
    s_side_gain (&a, side);
    testsig_write_wav (path, &a, 24);
    audio_free (&a);
}

typedef struct {
    reference_measure_t in, out;
    planner_ref_plan_t  plan;
    master_report_t     rep;
    double              ceiling;
} run_t;

//  Masters the test track (48 kHz, tilt -4 dB/decade, -18 LUFS, side
//  x 0.8) against the references for the spotify profile.
static void
s_run (run_t *r, const reference_measure_t *refm, const double *weight, size_t n,
       double tone, double loudness, double width)
{
    audio_t in, out = { 0 };
    album_fixture_track (&in, SECONDS, 48000, -4.0, -18.0, 5);
    s_side_gain (&in, 0.8);
    char err [512];
    assert_int_equal (reference_analyse_audio (&in, &r->in, err, sizeof err), 0);
    planner_ref_t refs [4];
    for (size_t i = 0; i < n; i++)
        refs [i] = (planner_ref_t) { .m = &refm [i].m, .side_mid_db = refm [i].side_mid_db,
                                     .weight = weight [i] };
    planner_ref_cfg_t cfg = { .tone = tone, .loudness = loudness, .width = width, .max_db = 6.0 };
    master_opts_t o;
    const profile_t *prof = profile_find ("spotify");
    master_opts_default (&o, prof, in.rate_hz);
    int rc = planner_reference_match (&r->in.m, refs, n, &cfg,
                                      o.target_lufs, &r->plan, err, sizeof err);
    if (rc)
        printf ("# %s\n", err);
    assert_int_equal (rc, 0);
    o.has_tonal = true;
    memcpy (o.tonal_db, r->plan.tonal_db, sizeof o.tonal_db);
    o.chain.tonal_minimum_phase = true;
    o.target_lufs = r->plan.target_lufs;
    o.width_to_db = r->plan.ref_side_mid_db;       //  as masterfarm master --reference
    o.width_share = width;
    r->ceiling = isnan (o.chain.limiter.ceiling_dbtp) ? o.ceiling_dbtp : o.chain.limiter.ceiling_dbtp;
    rc = master_run_take (&in, &o, &out, &r->rep, err, sizeof err);
    if (rc)
        printf ("# %s\n", err);
    assert_int_equal (rc, 0);
    assert_int_equal (reference_analyse_audio (&out, &r->out, err, sizeof err), 0);
    audio_free (&in);
    audio_free (&out);
}

static void
s_free (run_t *r)
{
    reference_free (&r->in);
    reference_free (&r->out);
}

//  Analyses a reference file in 3 s segments.
static void
s_ref (reference_measure_t *m, const char *path)
{
    char err [512];
    int rc = reference_analyse_file (path, 3.0, m, err, sizeof err);
    if (rc)
        printf ("# %s\n", err);
    assert_int_equal (rc, 0);
}

static char s_dir [512];

static const char *
s_path (char *buf, size_t size, const char *name)
{
    snprintf (buf, size, "%s/%s", s_dir, name);
    return buf;
}

//  Tone at 1 and 0.5, loudness and width at 1 (and loudness 0.5).
static void
test_reference_one (void **state)
{
    (void) state;
    char p [600];
    reference_measure_t ref;
    s_make_ref (s_path (p, sizeof p, "ref_a.wav"), 5.0, -10.0, 1.4, 11);
    s_ref (&ref, p);
    double w = 1.0;
    run_t full = { 0 }, half = { 0 };
    s_run (&full, &ref, &w, 1, 1.0, 1.0, 1.0);
    s_run (&half, &ref, &w, 1, 0.5, 0.5, 1.0);
    double d0 = planner_spectral_distance (full.in.m.band_db, ref.m.band_db);
    double d1 = planner_spectral_distance (full.out.m.band_db, ref.m.band_db);
    double dh = planner_spectral_distance (half.out.m.band_db, ref.m.band_db);
    double cut1 = 1.0 - d1 / d0, cuth = 1.0 - dh / d0;
    printf ("#   spectral distance to the reference: %.2f dB before, %.2f dB at tone 1 "
            "(cut %.0f %%), %.2f dB at tone 0.5 (cut %.0f %%)\n", d0, d1, 100 * cut1, dh, 100 * cuth);
    printf ("#   side/mid: track %.2f dB, reference %.2f dB, output %.2f dB (side gain %.2f)\n",
            full.in.side_mid_db, ref.side_mid_db, full.out.side_mid_db, full.rep.width);
    printf ("#   loudness: reference %.2f LUFS; tone/loudness 1: target %.2f, out %.2f LUFS; "
            "0.5: target %.2f, out %.2f LUFS (profile -14)\n", ref.m.integrated_lufs,
            full.plan.target_lufs, full.out.m.integrated_lufs, half.plan.target_lufs,
            half.out.m.integrated_lufs);
    printf ("#   true peak: %.2f / %.2f dBTP (ceiling %.2f)\n", full.out.m.true_peak_dbtp,
            half.out.m.true_peak_dbtp, full.ceiling);
    assert_true (cut1 >= 0.60);
    assert_true (cuth >= 0.25 && cuth <= 0.45);
    assert_true (fabs (full.out.side_mid_db - ref.side_mid_db) <= 1.0);
    assert_true (fabs (full.plan.target_lufs - ref.m.integrated_lufs) < 1e-9);
    assert_true (fabs (half.plan.target_lufs - 0.5 * (ref.m.integrated_lufs - 14.0)) < 1e-9);
    if (!full.rep.gr_capped)
        assert_true (fabs (full.out.m.integrated_lufs - full.plan.target_lufs) < 0.2);
    assert_true (fabs (half.out.m.integrated_lufs - half.plan.target_lufs) < 0.2);
    assert_true (full.out.m.true_peak_dbtp <= full.ceiling);
    assert_true (half.out.m.true_peak_dbtp <= half.ceiling);
    s_free (&full);
    s_free (&half);
    reference_free (&ref);
}

//  Two references weighted 3:1: the target is their weighted shape.
static void
test_reference_two (void **state)
{
    (void) state;
    char p [600];
    reference_measure_t ref [2];
    s_make_ref (s_path (p, sizeof p, "ref_b.wav"), 6.0, -11.0, 1.3, 21);
    s_ref (&ref [0], p);
    s_make_ref (s_path (p, sizeof p, "ref_c.wav"), -1.0, -13.0, 1.0, 31);
    s_ref (&ref [1], p);
    double w [2] = { 3.0, 1.0 };
    run_t r = { 0 };
    s_run (&r, ref, w, 2, 1.0, 1.0, 1.0);
    double d0 = planner_spectral_distance (r.in.m.band_db, r.plan.ref_shape_db);
    double d1 = planner_spectral_distance (r.out.m.band_db, r.plan.ref_shape_db);
    double da = planner_spectral_distance (r.out.m.band_db, ref [0].m.band_db);
    double db = planner_spectral_distance (r.out.m.band_db, ref [1].m.band_db);
    printf ("#   two references 3:1: distance to the weighted shape %.2f -> %.2f dB (cut %.0f %%); "
            "output to the first %.2f dB, to the second %.2f dB\n", d0, d1,
            100 * (1 - d1 / d0), da, db);
    printf ("#   loudness target %.2f LUFS (weighted mean of -11 and -13), out %.2f LUFS\n",
            r.plan.target_lufs, r.out.m.integrated_lufs);
    assert_true (1.0 - d1 / d0 >= 0.60);
    //  the target shape is nearer the heavier reference
    assert_true (planner_spectral_distance (r.plan.ref_shape_db, ref [0].m.band_db)
               < planner_spectral_distance (r.plan.ref_shape_db, ref [1].m.band_db));
    assert_true (fabs (r.plan.target_lufs - (0.75 * ref [0].m.integrated_lufs
                                             + 0.25 * ref [1].m.integrated_lufs)) < 1e-9);
    assert_true (r.out.m.true_peak_dbtp <= r.ceiling);
    s_free (&r);
    reference_free (&ref [0]);
    reference_free (&ref [1]);
}

//  A reference analysed in 3 s segments reads as the whole file does.
static void
test_reference_segments (void **state)
{
    (void) state;
    char p [600], err [512];
    s_make_ref (s_path (p, sizeof p, "ref_d.wav"), 3.0, -12.0, 1.2, 41);
    reference_measure_t seg, whole;
    s_ref (&seg, p);
    audio_t a;
    assert_int_equal (audio_read (p, &a, err, sizeof err), 0);
    assert_int_equal (reference_analyse_audio (&a, &whole, err, sizeof err), 0);
    double worst = 0.0;
    for (int b = 2; b <= 27; b++)
        worst = fmax (worst, fabs (seg.m.band_db [b] - whole.m.band_db [b]));
    printf ("#   segments of 3 s vs whole: loudness %.3f / %.3f LUFS, largest band difference "
            "%.3f dB, side/mid %.3f / %.3f dB\n", seg.m.integrated_lufs, whole.m.integrated_lufs,
            worst, seg.side_mid_db, whole.side_mid_db);
    assert_true (fabs (seg.m.integrated_lufs - whole.m.integrated_lufs) < 0.05);
    assert_true (worst < 0.3);
    assert_true (fabs (seg.side_mid_db - whole.side_mid_db) < 0.01);
    assert_true (seg.m.frames == a.frames && seg.m.rate_hz == 44100);
    //  a missing file is named
    reference_measure_t bad;
    assert_int_not_equal (reference_analyse_file (s_path (p, sizeof p, "none.wav"), 0.0, &bad,
                                                  err, sizeof err), 0);
    assert_non_null (strstr (err, "none.wav"));
    audio_free (&a);
    reference_free (&seg);
    reference_free (&whole);
}

int
main (void)
{
    snprintf (s_dir, sizeof s_dir, "%s", testsig_tmpdir ("reference"));
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_reference_one),
        cmocka_unit_test (test_reference_two),
        cmocka_unit_test (test_reference_segments),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
