/*  Album report: report.json carries every per-track and per-album field
    the contract lists, with nulls for unknowns; report.html is a
    self-contained page whose SVG plots are well-formed XML (checked with
    python3's XML parser); bad inputs are refused.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/report.h"
#include "common/err.h"
#include "testsig.h"

#define N 3

static spec_album_t s_al;
static spec_track_t s_tr [N];
static measure_t s_m [N], s_out [N];
static const measure_t *s_mp [N], *s_op [N];

//  Three tracks with blocks at -10, -16, -22 LUFS and tilted spectra.
static void
s_setup (void)
{
    memset (&s_al, 0, sizeof s_al);
    s_al.title = "Report <Test> & Co";
    s_al.artist = "Artist";
    s_al.upc = "0123456789012";
    s_al.tracks = s_tr;
    s_al.n_tracks = N;
    s_al.s.loudness.policy = POLICY_ALBUM;
    s_al.s.loudness.has_target = true;
    s_al.s.loudness.target_lufs = -14.0;
    s_al.s.tonal.match = TONAL_ALBUM;
    s_al.s.tonal.strength = 0.5;
    s_al.s.tonal.max_db = 3.0;
    s_al.s.tonal.reference_track = -1;
    s_al.s.gap_s = 2.0;
    for (int i = 0; i < N; i++) {
        memset (&s_tr [i], 0, sizeof s_tr [i]);
        s_tr [i].title = i == 1 ? "Two \"quoted\"" : "Song";
        s_tr [i].path = "x.wav";
        s_tr [i].isrc = "USMFA2600001";
        s_tr [i].s = s_al.s;
        s_tr [i].s.chain.limiter.ceiling_dbtp = NAN;
        for (int k = 0; k < 2; k++) {
            measure_t *m = k ? &s_out [i] : &s_m [i];
            memset (m, 0, sizeof *m);
            snprintf (m->format, sizeof m->format, "WAV PCM 24-bit");
            m->rate_hz = 44100;
            m->channels = 2;
            m->duration_s = 6.0;
            m->frames = 6 * 44100;
            m->n_blocks = 57;
            m->block_lufs = calloc (m->n_blocks, sizeof (float));
            double l = k ? -14.0 - 2.0 * i : -10.0 - 6.0 * i;
            for (size_t b = 0; b < m->n_blocks; b++)
                m->block_lufs [b] = (float) l;
            m->integrated_lufs = l;
            m->lra_lu = 3.0;
            m->true_peak_dbtp = k ? -1.2 : -0.5;
            for (int b = 0; b < MEASURE_BANDS; b++)
                m->band_db [b] = -30.0 + (i - 1) * 4.0 * log10 (measure_band_hz (b) / 1000.0);
            m->band_db [MEASURE_BANDS - 1] = -HUGE_VAL;      //  an empty band
        }
        s_mp [i] = &s_m [i];
        s_op [i] = &s_out [i];
    }
}

static void
s_teardown (void)
{
    for (int i = 0; i < N; i++) {
        measure_free (&s_m [i]);
        measure_free (&s_out [i]);
    }
}

//  Full report: plan, masters, layout, outputs; then JSON and HTML checks.
static void
test_report_full (void **state)
{
    (void) state;
    s_setup ();
    album_plan_t plan;
    char err [512];
    assert_int_equal (planner_plan_album (&s_al, s_mp, PROFILE_CD, 44100, &plan, err, sizeof err), 0);
    master_report_t mr [N];
    memset (mr, 0, sizeof mr);
    for (int i = 0; i < N; i++) {
        mr [i].in_lufs = s_m [i].integrated_lufs;
        mr [i].out_lufs = s_out [i].integrated_lufs;
        mr [i].gain_db = plan.tracks [i].gain_db;
        mr [i].gr_max_db = 2.5 + i;
        mr [i].gr_avg_db = 0.4;
        mr [i].out_true_peak_dbtp = -1.1;
        memcpy (mr [i].tonal_db, plan.tracks [i].tonal_db, sizeof mr [i].tonal_db);
    }
    int64_t len [N] = { 44100 * 6, 44100 * 6, 44100 * 6 };
    assemble_layout_t lay;
    assert_int_equal (assemble_layout (&s_al, profile_get (PROFILE_CD), 44100, len, &lay, err, sizeof err), 0);
    report_profile_t rp = { .profile = PROFILE_CD, .plan = &plan, .masters = mr, .layout = &lay,
                            .rate_hz = 44100, .outputs = s_op, .album_out_lufs = NAN };
    report_input_t in = { .album = &s_al, .analyses = s_mp, .profiles = &rp, .n_profiles = 1 };
    const char *dir = testsig_tmpdir ("report");
    assert_int_equal (report_write (&in, dir, err, sizeof err), 0);
    //  never into a folder under the output root swapped for a symbolic
    //  link that leads out of it
    {
        char out [1024], outside [1024], link [1100], lerr [512] = "";
        struct stat lst;
        snprintf (out, sizeof out, "%s/out", dir);
        snprintf (outside, sizeof outside, "%s/outside", dir);
        snprintf (link, sizeof link, "%s/job", out);
        assert_int_equal (mkdir (out, 0755), 0);
        assert_int_equal (mkdir (outside, 0755), 0);
        assert_int_equal (symlink (outside, link), 0);
        assert_int_equal (report_write_beneath (&in, out, "job/alb", lerr, sizeof lerr),
                          MF_ERR_INVALID);
        assert_non_null (strstr (lerr, "job/alb"));
        snprintf (link, sizeof link, "%s/alb", outside);
        assert_int_not_equal (lstat (link, &lst), 0);
        assert_int_equal (report_write_beneath (&in, out, "alb", lerr, sizeof lerr), 0);
        snprintf (link, sizeof link, "%s/alb/report.html", out);
        assert_int_equal (lstat (link, &lst), 0);
    }

    char path [1024];
    snprintf (path, sizeof path, "%s/report.json", dir);
    json_error_t je;
    json_t *root = json_load_file (path, 0, &je);
    if (!root)
        fail_msg ("report.json: line %d: %s", je.line, je.text);
    assert_int_equal (json_array_size (json_object_get (root, "band_hz")), MEASURE_BANDS);
    json_t *t0 = json_array_get (json_object_get (root, "tracks"), 0);
    assert_true (json_is_null (json_array_get (json_object_get (json_object_get (t0, "input"), "band_db"), MEASURE_BANDS - 1)));
    json_t *p0 = json_array_get (json_object_get (root, "profiles"), 0);
    assert_string_equal (json_string_value (json_object_get (p0, "profile")), "cd");
    json_t *alb = json_object_get (p0, "album");
    //  album output loudness from the outputs' blocks by union gating:
    //  57 blocks at -14, -16, -18 LUFS, plus the partial blocks at the
    //  2 s gaps (1/4, 2/4, 3/4 of a block's energy; three per edge):
    //  edges at both ends of tracks 1 and 2, at the start of track 3.
    //  All pass both gates. Tolerance 1e-5: float blocks, arithmetic only.
    double e = (60.0 * pow (10, -1.4) + 60.0 * pow (10, -1.6) + 58.5 * pow (10, -1.8)) / 186.0;
    assert_true (fabs (json_real_value (json_object_get (alb, "output_lufs")) - 10 * log10 (e)) < 1e-5);
    assert_true (fabs (json_real_value (json_object_get (alb, "output_spread_lu")) - 4.0) < 1e-9);
    assert_true (json_is_object (json_object_get (p0, "plan")));
    json_t *pt = json_array_get (json_object_get (p0, "tracks"), 2);
    const char *keys [] = { "input_lufs", "output_lufs", "planned_lufs", "input_lra_lu", "output_lra_lu",
                            "input_true_peak_dbtp", "output_true_peak_dbtp", "gain_db", "tonal_db",
                            "limiter_gr_max_db", "limiter_gr_mean_db", "start_frame", "length_frames" };
    for (size_t k = 0; k < sizeof keys / sizeof keys [0]; k++)
        if (!json_object_get (pt, keys [k]))
            fail_msg ("report.json track misses %s", keys [k]);
    assert_int_equal (json_integer_value (json_object_get (pt, "start_frame")), lay.tracks [2].start);
    assert_true (fabs (json_real_value (json_object_get (pt, "limiter_gr_max_db")) - 4.5) < 1e-9);
    json_decref (root);

    //  the HTML: escaped title, one SVG per plot, each well-formed XML
    snprintf (path, sizeof path, "%s/report.html", dir);
    char cmd [2048];
    snprintf (cmd, sizeof cmd,
              "python3 -c \"import re,sys,xml.etree.ElementTree as E;t=open(sys.argv[1]).read();"
              "s=re.findall(r'<svg.*?</svg>',t,re.S);assert len(s)==4,len(s);[E.fromstring(x) for x in s];"
              "assert 'Report &lt;Test&gt; &amp; Co' in t;assert '<td class=\\'l\\'>WAV PCM 24-bit, 44.1 kHz, stereo</td>' in t;assert 'nan' not in t.lower().replace('nano','')\" '%s'", path);
    assert_int_equal (system (cmd), 0);

    //  refusals
    report_profile_t bad = rp;
    bad.plan = NULL;
    in.profiles = &bad;
    assert_null (report_json (&in));
    assert_int_equal (report_write (&in, dir, err, sizeof err), MF_ERR_INVALID);

    //  plan only (before mastering): unknowns are null
    report_profile_t only = { .profile = PROFILE_CD, .plan = &plan, .album_out_lufs = NAN };
    in.profiles = &only;
    char *text = report_json (&in);
    assert_non_null (text);
    root = json_loads (text, 0, &je);
    assert_non_null (root);
    pt = json_array_get (json_object_get (json_array_get (json_object_get (root, "profiles"), 0), "tracks"), 0);
    assert_true (json_is_null (json_object_get (pt, "output_lufs")));
    json_decref (root);
    free (text);
    assemble_layout_free (&lay);
    planner_plan_free (&plan);
    s_teardown ();
}

//  A silent track (digital silence in, silence out) among loud ones: the
//  plan succeeds, report.json says "silent" with nulls and never -inf or
//  NaN, report.html shows "silent" in the loudness cells; an album of
//  silent tracks only has no album loudness, said in words. The input
//  table names a mono source.
static void
test_report_silent (void **state)
{
    (void) state;
    s_setup ();
    for (int k = 0; k < 2; k++) {
        measure_t *m = k ? &s_out [1] : &s_m [1];
        for (size_t b = 0; b < m->n_blocks; b++)
            m->block_lufs [b] = -HUGE_VALF;
        m->integrated_lufs = -HUGE_VAL;
        m->true_peak_dbtp = -HUGE_VAL;
        m->lra_lu = 0.0;
        for (int b = 0; b < MEASURE_BANDS; b++)
            m->band_db [b] = -HUGE_VAL;
    }
    album_plan_t plan;
    char err [512] = "";
    int rc = planner_plan_album (&s_al, s_mp, PROFILE_SPOTIFY, 44100, &plan, err, sizeof err);
    if (rc)
        fail_msg ("plan: %s", err);
    master_report_t mr [N];
    memset (mr, 0, sizeof mr);
    for (int i = 0; i < N; i++) {
        mr [i].in_lufs = s_m [i].integrated_lufs;
        mr [i].out_lufs = s_out [i].integrated_lufs;
        mr [i].out_true_peak_dbtp = s_out [i].true_peak_dbtp;
        mr [i].gain_db = plan.tracks [i].gain_db;
    }
    report_profile_t rp = { .profile = PROFILE_SPOTIFY, .plan = &plan, .masters = mr,
                            .outputs = s_op, .album_out_lufs = NAN };
    report_input_t in = { .album = &s_al, .analyses = s_mp, .profiles = &rp, .n_profiles = 1 };
    s_m [1].channels = 1;                       //  a mono source is named so
    for (int pass = 0; pass < 2; pass++) {
        char *json = report_json (&in), *html = report_html (&in);
        assert_non_null (json);
        assert_non_null (html);
        for (const char *bad [] = { "inf", "nan", "Infinity", "NaN", NULL }, **b = bad; *b; b++) {
            assert_null (strstr (json, *b));
            assert_null (strstr (html, *b));
        }
        assert_non_null (strstr (html, "<td>silent</td>"));
        assert_non_null (strstr (html, "<td class='l'>WAV PCM 24-bit, 44.1 kHz, mono</td>"));
        json_t *root = json_loads (json, 0, NULL);
        assert_non_null (root);
        json_t *t1 = json_array_get (json_object_get (root, "tracks"), 1);
        assert_true (json_is_true (json_object_get (json_object_get (t1, "input"), "silent")));
        assert_true (json_is_null (json_object_get (json_object_get (t1, "input"), "integrated_lufs")));
        json_t *pt = json_array_get (json_object_get (json_array_get (json_object_get (root, "profiles"), 0), "tracks"), 1);
        assert_true (json_is_true (json_object_get (pt, "silent")));
        assert_true (json_real_value (json_object_get (pt, "gain_db")) == 0.0);
        json_decref (root);
        free (json);
        free (html);
        if (pass == 1)
            break;
        //  then every track silent
        planner_plan_free (&plan);
        for (int i = 0; i < N; i++)
            if (i != 1) {
                measure_free (&s_m [i]);
                measure_free (&s_out [i]);
                s_m [i] = s_m [1];
                s_out [i] = s_out [1];
            }
        assert_int_equal (planner_plan_album (&s_al, s_mp, PROFILE_SPOTIFY, 44100, &plan, err, sizeof err), 0);
        for (int i = 0; i < N; i++)
            mr [i].gain_db = 0.0;
    }
    planner_plan_free (&plan);
    //  the tracks now share track 2's blocks: free them once
    measure_free (&s_m [1]);
    measure_free (&s_out [1]);
    for (int i = 0; i < N; i++)
        if (i != 1) {
            s_m [i].block_lufs = NULL;
            s_out [i].block_lufs = NULL;
        }
    s_teardown ();
}

//  The album correction made as a gain after the limiter (broker/graph.c):
//  each track's planned loudness, output loudness and true peak are the
//  master's moved by its post_gain_db, which report.json gives, and the
//  HTML says by how much the tracks were lowered and where the album lands
//  (and what the album file reads, when that differs);
//  a track the limiter's bound held under its plan is named.
static void
test_report_post_gain (void **state)
{
    (void) state;
    s_setup ();
    album_plan_t plan;
    char err [512] = "";
    assert_int_equal (planner_plan_album (&s_al, s_mp, PROFILE_SPOTIFY, 44100, &plan, err,
                                          sizeof err), 0);
    json_t *rec = json_loads (plan.report_json, 0, NULL);
    assert_non_null (rec);
    json_object_set_new (rec, "album_correction", json_pack (
        "{sisbs[[fff]]s[ff]}", "rounds", 1, "post_gain", 1,
        "round_shift_db", -0.25, -0.25, -0.25, "album_read_lufs", -13.75, -14.0));
    free (plan.report_json);
    plan.report_json = json_dumps (rec, JSON_COMPACT);
    json_decref (rec);
    master_report_t mr [N];
    memset (mr, 0, sizeof mr);
    for (int i = 0; i < N; i++) {
        plan.tracks [i].post_gain_db = -0.25;
        mr [i].in_lufs = s_m [i].integrated_lufs;
        mr [i].out_lufs = plan.tracks [i].target_lufs + 0.01;
        mr [i].out_true_peak_dbtp = -1.1;
        mr [i].gain_db = plan.tracks [i].gain_db;
    }
    report_profile_t rp = { .profile = PROFILE_SPOTIFY, .plan = &plan, .masters = mr,
                            .album_out_lufs = -14.0 };
    report_input_t in = { .album = &s_al, .analyses = s_mp, .profiles = &rp, .n_profiles = 1 };
    char *json = report_json (&in), *html = report_html (&in);
    assert_non_null (json);
    assert_non_null (html);
    json_t *root = json_loads (json, 0, NULL);
    json_t *tracks = json_object_get (json_array_get (json_object_get (root, "profiles"), 0),
                                      "tracks");
    assert_int_equal (json_array_size (tracks), N);
    for (int i = 0; i < N; i++) {
        json_t *t = json_array_get (tracks, i);
        const double planned = plan.tracks [i].target_lufs - 0.25;
        assert_true (fabs (json_number_value (json_object_get (t, "planned_lufs")) - planned) < 1e-6);
        assert_true (fabs (json_number_value (json_object_get (t, "output_lufs"))
                           - (planned + 0.01)) < 1e-6);
        assert_true (fabs (json_number_value (json_object_get (t, "output_true_peak_dbtp"))
                           - (-1.35)) < 1e-6);
        assert_true (json_number_value (json_object_get (t, "post_gain_db")) == -0.25);
        //  the master's own gain, before the limiter, is as it ran
        assert_true (fabs (json_number_value (json_object_get (t, "gain_db"))
                           - mr [i].gain_db) < 1e-6);
    }
    assert_non_null (strstr (html, "the mastered album read -13.75 LUFS ("));
    assert_non_null (strstr (html, "the tracks were lowered by 0.25 dB after the limiter"));
    assert_non_null (strstr (html, "to -14.00 LUFS."));
    assert_null (strstr (html, "mastered again"));
    assert_null (strstr (html, "is held under its plan"));
    //  a track the limiter's bound held under its plan is named, once
    mr [1].gr_capped = true;
    free (html);
    html = report_html (&in);
    assert_non_null (html);
    const char *held = strstr (html, "Track 2 is held under its plan by the limiter's bound");
    assert_non_null (held);
    assert_null (strstr (held + strlen ("Track 2 is held"), "is held under its plan"));
    //  an album file that reads other than the blocks so moved says so
    rp.album_out_lufs = -13.96;
    free (html);
    html = report_html (&in);
    assert_non_null (html);
    assert_non_null (strstr (html, "to -14.00 LUFS on the masters' blocks; the album file as "
                                   "assembled reads -13.96 LUFS."));
    json_decref (root);
    free (json);
    free (html);
    planner_plan_free (&plan);
    s_teardown ();
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_report_full),
        cmocka_unit_test (test_report_silent),
        cmocka_unit_test (test_report_post_gain),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
