/*  Job spec parser: DESIGN.md's example resolves to the documented values,
    the nearest level wins key by key, every mistake is reported with its
    JSON path and position, syntax errors carry line and column, CSV
    catalogs group and order tracks and report "line N, column X", the
    canonical JSON round-trips to an equal spec, and track paths are held
    inside the input root.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/spec.h"
#include "testsig.h"

//  DESIGN.md, "Contract: job spec (JSON)", verbatim.
static const char *s_design_example =
"{\n"
"  \"name\": \"Back catalog 1971-1979\",\n"
"  \"priority\": 5,\n"
"  \"deadline\": \"2026-12-01T00:00:00Z\",\n"
"  \"deliver_at\": \"2026-11-28T09:00:00Z\",\n"
"  \"defaults\": {\n"
"    \"profiles\": [\"spotify\", \"cd\"],\n"
"    \"loudness\": {\"policy\": \"album\", \"target_lufs\": -14.0, \"true_peak_dbtp\": -1.0,\n"
"                 \"max_deviation_lu\": 3.0},\n"
"    \"tonal\": {\"match\": \"album\", \"strength\": 0.5, \"max_db\": 3.0},\n"
"    \"chain\": {\"highpass_hz\": 20, \"eq\": [], \"multiband\": null,\n"
"              \"compressor\": {\"threshold_db\": -18, \"ratio\": 1.5, \"attack_ms\": 30,\n"
"                             \"release_ms\": 250, \"knee_db\": 6},\n"
"              \"stereo\": {\"width\": 1.0, \"mono_below_hz\": 0},\n"
"              \"limiter\": {\"lookahead_ms\": 2.0, \"release_ms\": 80}},\n"
"    \"gap_s\": 2.0, \"fade_in_s\": 0.0, \"fade_out_s\": 0.0, \"fade_curve\": \"equal_power\"\n"
"  },\n"
"  \"albums\": [\n"
"    {\"title\": \"Album\", \"artist\": \"Artist\", \"upc\": \"0123456789012\",\n"
"     \"tracks\": [\n"
"       {\"path\": \"album1/01 intro.wav\", \"title\": \"Intro\", \"isrc\": \"USXXX7100001\",\n"
"        \"gap_s\": 0.0, \"fade_in_s\": 0.5, \"fade_out_s\": 3.0, \"crossfade_s\": 0.0}\n"
"     ]}\n"
"  ]\n"
"}\n";

//  Parses a JSON text; fails the test (printing errors) if it is refused.
static job_spec_t *
s_parse_ok (const char *text)
{
    spec_errors_t errs = { 0 };
    job_spec_t *spec = spec_parse_json (text, strlen (text), "test.json", &errs);
    if (!spec)
        spec_errors_print (&errs, "test.json", stderr);
    assert_non_null (spec);
    assert_int_equal (errs.n, 0);
    spec_errors_clear (&errs);
    return spec;
}

//  Index of the error at path, or -1.
static int
s_find_error (const spec_errors_t *errs, const char *path)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strcmp (errs->items [i].path, path) == 0)
            return (int) i;
    return -1;
}

//  DESIGN.md's example parses to its documented values, nearest level winning.
static void
test_design_example (void **state)
{
    job_spec_t *spec = s_parse_ok (s_design_example);
    assert_string_equal (spec->name, "Back catalog 1971-1979");
    assert_int_equal (spec->priority, 5);
    int64_t ms;
    clock_parse_rfc3339 ("2026-12-01T00:00:00Z", &ms);
    assert_true (spec->deadline_ms == ms);
    clock_parse_rfc3339 ("2026-11-28T09:00:00Z", &ms);
    assert_true (spec->deliver_at_ms == ms);
    assert_int_equal (spec->n_albums, 1);
    const spec_album_t *al = &spec->albums [0];
    assert_string_equal (al->title, "Album");
    assert_string_equal (al->artist, "Artist");
    assert_string_equal (al->upc, "0123456789012");
    assert_int_equal (al->s.profiles, 1u << PROFILE_SPOTIFY | 1u << PROFILE_CD);
    assert_int_equal (al->s.loudness.policy, POLICY_ALBUM);
    assert_true (al->s.loudness.has_target);
    assert_true (al->s.loudness.target_lufs == -14.0);
    assert_true (al->s.loudness.has_true_peak);
    assert_true (al->s.loudness.true_peak_dbtp == -1.0);
    assert_int_equal (al->s.tonal.match, TONAL_ALBUM);
    assert_true (al->s.tonal.strength == 0.5);
    assert_int_equal (al->s.tonal.reference_track, -1);
    assert_true (al->s.gap_s == 2.0);                 //  the album inherits defaults
    assert_int_equal (al->n_tracks, 1);
    const spec_track_t *t = &al->tracks [0];
    assert_string_equal (t->path, "album1/01 intro.wav");
    assert_string_equal (t->title, "Intro");
    assert_null (t->artist);
    assert_string_equal (t->isrc, "USXXX7100001");
    assert_true (t->s.gap_s == 0.0);                  //  nearest wins
    assert_true (t->s.fade_in_s == 0.5);
    assert_true (t->s.fade_out_s == 3.0);
    assert_true (t->s.crossfade_s == 0.0);
    assert_int_equal (t->s.fade_curve, FADE_EQUAL_POWER);
    const chain_cfg_t *c = &t->s.chain;
    assert_true (c->highpass_hz == 20.0);
    assert_int_equal (c->n_eq, 0);
    assert_false (c->multiband.enabled);
    assert_true (c->compressor.enabled);
    assert_true (c->compressor.threshold_db == -18.0);
    assert_true (c->compressor.ratio == 1.5);
    assert_true (c->compressor.attack_ms == 30.0);
    assert_true (c->compressor.release_ms == 250.0);
    assert_true (c->compressor.knee_db == 6.0);
    assert_true (c->stereo.width == 1.0);
    assert_true (c->limiter.enabled);
    assert_true (isnan (c->limiter.ceiling_dbtp));
    assert_true (c->limiter.lookahead_ms == 2.0);
    assert_true (c->limiter.release_ms == 80.0);
    assert_true (c->dither);
    spec_destroy (&spec);
    assert_null (spec);
    spec_destroy (&spec);                             //  NULL-safe
}

//  The built-in defaults, and a minimal spec that gets exactly them.
static void
test_builtin_defaults (void **state)
{
    settings_t s;
    spec_settings_default (&s);
    assert_int_equal (s.profiles, 1u << PROFILE_SPOTIFY | 1u << PROFILE_CD);
    assert_false (s.loudness.has_target);
    assert_true (s.loudness.target_lufs == -14.0);
    assert_true (s.chain.compressor.enabled);
    assert_false (s.chain.multiband.enabled);
    assert_true (s.gap_s == 2.0);
    assert_false (s.trim);
    assert_true (s.trim_db == -60.0);
    //  a minimal spec gets exactly these
    job_spec_t *spec = s_parse_ok ("{\"albums\":[{\"tracks\":[{\"path\":\"a/b/c.flac\"}]}]}");
    const spec_track_t *t = &spec->albums [0].tracks [0];
    assert_string_equal (t->title, "c");                      //  file name when not given
    assert_string_equal (spec->albums [0].title, "Album 1");
    assert_false (t->s.loudness.has_target);
    assert_true (t->s.loudness.target_lufs == -14.0);
    assert_true (t->s.gap_s == 2.0);
    assert_null (spec->name);
    assert_int_equal (spec->priority, 5);
    assert_true (spec->deadline_ms == 0);
    spec_destroy (&spec);
}

//  defaults -> album -> track, key by key, nested objects merged, arrays replaced.
static void
test_nearest_wins (void **state)
{
    const char *text =
        "{\"defaults\": {\"gap_s\": 2, \"chain\": {\"compressor\": {\"ratio\": 3},"
        "                \"limiter\": {\"release_ms\": 100}},"
        "              \"loudness\": {\"policy\": \"hybrid\"}},"
        " \"albums\": [{\"title\": \"A\", \"gap_s\": 1, \"profiles\": [\"apple\"],"
        "   \"chain\": {\"compressor\": {\"threshold_db\": -24}, \"multiband\": {\"low_hz\": 150},"
        "               \"eq\": [{\"type\": \"peak\", \"freq_hz\": 1000, \"gain_db\": 2, \"q\": 1}]},"
        "   \"tracks\": ["
        "     {\"path\": \"1.wav\"},"
        "     {\"path\": \"2.wav\", \"gap_s\": 0.5, \"loudness\": {\"target_lufs\": -16},"
        "      \"chain\": {\"compressor\": null, \"multiband\": false, \"eq\": [],"
        "                 \"limiter\": {\"ceiling_dbtp\": -2}}, \"fade_curve\": \"s-curve\"},"
        "     {\"path\": \"3.wav\", \"chain\": {\"compressor\": {\"attack_ms\": 5}}}"
        "   ]},"
        "  {\"title\": \"B\", \"tracks\": [{\"path\": \"b.wav\"}]}]}";
    job_spec_t *spec = s_parse_ok (text);
    const spec_album_t *a = &spec->albums [0], *b = &spec->albums [1];
    assert_true (a->s.gap_s == 1.0);
    assert_int_equal (a->s.profiles, 1u << PROFILE_APPLE);
    assert_int_equal (a->s.loudness.policy, POLICY_HYBRID);
    //  track 0: everything from the album
    const settings_t *t0 = &a->tracks [0].s;
    assert_true (t0->gap_s == 1.0);
    assert_true (t0->chain.compressor.enabled);
    assert_true (t0->chain.compressor.ratio == 3.0);            //  defaults
    assert_true (t0->chain.compressor.threshold_db == -24.0);   //  album
    assert_true (t0->chain.compressor.attack_ms == 30.0);       //  built-in
    assert_true (t0->chain.multiband.enabled);
    assert_true (t0->chain.multiband.low_hz == 150.0);
    assert_int_equal (t0->chain.n_eq, 1);
    assert_true (t0->chain.eq [0].gain_db == 2.0);
    assert_true (t0->chain.limiter.release_ms == 100.0);
    assert_false (t0->loudness.has_target);
    //  track 1: its own overrides
    const settings_t *t1 = &a->tracks [1].s;
    assert_true (t1->gap_s == 0.5);
    assert_true (t1->loudness.has_target);
    assert_true (t1->loudness.target_lufs == -16.0);
    assert_int_equal (t1->loudness.policy, POLICY_HYBRID);
    assert_false (t1->chain.compressor.enabled);
    assert_false (t1->chain.multiband.enabled);
    assert_int_equal (t1->chain.n_eq, 0);
    assert_true (t1->chain.limiter.ceiling_dbtp == -2.0);
    assert_true (t1->chain.limiter.release_ms == 100.0);
    assert_int_equal (t1->fade_curve, FADE_SCURVE);
    //  track 2: merges into the album's compressor key by key
    const settings_t *t2 = &a->tracks [2].s;
    assert_true (t2->chain.compressor.attack_ms == 5.0);
    assert_true (t2->chain.compressor.threshold_db == -24.0);
    assert_true (t2->chain.compressor.ratio == 3.0);
    //  album B: only defaults
    assert_true (b->s.gap_s == 2.0);
    assert_true (b->tracks [0].s.chain.compressor.threshold_db == -18.0);
    assert_false (b->tracks [0].s.chain.multiband.enabled);
    spec_destroy (&spec);
}

//  Eight mistakes in one spec: eight errors, each with its path, line and column.
static void
test_every_error_reported (void **state)
{
    const char *text =
        "{\n"
        "  \"priority\": 12,\n"                                           //  line 2
        "  \"defaults\": {\"gapp_s\": 1.0, \"profiles\": [\"spotify\", \"vinyl\"]},\n"
        "  \"albums\": [\n"
        "    {\"title\": \"A\", \"tracks\": [{\"path\": \"a.wav\"}]},\n"
        "    {\"title\": \"B\", \"upc\": \"12345\", \"tracks\": [\n"              //  line 6
        "      {\"path\": \"../b.wav\", \"fade_in_s\": -1,\n"                 //  line 7
        "       \"chain\": {\"compressor\": {\"ratio\": 0}}, \"isrc\": \"US-ABC-12-1234\"}\n"
        "    ]}\n"
        "  ]\n"
        "}\n";
    spec_errors_t errs = { 0 };
    job_spec_t *spec = spec_parse_json (text, strlen (text), "bad.json", &errs);
    assert_null (spec);
    spec_errors_print (&errs, "bad.json", stderr);
    assert_int_equal (errs.n, 8);
    int i;
    assert_true ((i = s_find_error (&errs, "$.priority")) >= 0);
    assert_int_equal (errs.items [i].line, 2);
    assert_int_equal (errs.items [i].column, 15);
    assert_true ((i = s_find_error (&errs, "$.defaults.gapp_s")) >= 0);
    assert_non_null (strstr (errs.items [i].message, "did you mean 'gap_s'?"));
    assert_int_equal (errs.items [i].line, 3);
    assert_int_equal (errs.items [i].column, 16);                   //  the key itself
    assert_true ((i = s_find_error (&errs, "$.defaults.profiles[1]")) >= 0);
    assert_non_null (strstr (errs.items [i].message, "vinyl"));
    assert_true ((i = s_find_error (&errs, "$.albums[1].upc")) >= 0);
    assert_int_equal (errs.items [i].line, 6);
    assert_true ((i = s_find_error (&errs, "$.albums[1].tracks[0].path")) >= 0);
    assert_int_equal (errs.items [i].line, 7);
    assert_true ((i = s_find_error (&errs, "$.albums[1].tracks[0].fade_in_s")) >= 0);
    assert_int_equal (errs.items [i].line, 7);
    assert_int_equal (errs.items [i].column, 41);
    assert_true ((i = s_find_error (&errs, "$.albums[1].tracks[0].chain.compressor.ratio")) >= 0);
    assert_int_equal (errs.items [i].line, 8);
    assert_non_null (strstr (errs.items [i].message, "1 .. 20"));
    assert_true ((i = s_find_error (&errs, "$.albums[1].tracks[0].isrc")) >= 0);
    spec_errors_clear (&errs);
    assert_int_equal (errs.n, 0);
    assert_null (errs.items);
}

//  Five distinct mistakes, five errors.
static void
test_five_mistakes (void **state)
{
    const char *text =
        "{\"albums\": [{\"title\": \"A\", \"tracks\": [\n"
        "  {\"path\": \"1.wav\", \"fade_curve\": \"wobbly\"},\n"
        "  {\"path\": \"/abs.wav\"},\n"
        "  {\"path\": \"3.wav\", \"loudness\": {\"policy\": \"max\", \"target_lufs\": \"-14\"}},\n"
        "  {\"path\": \"4.wav\", \"tonal\": {\"strength\": 2}}\n"
        "]}]}";
    spec_errors_t errs = { 0 };
    assert_null (spec_parse_json (text, strlen (text), "five.json", &errs));
    assert_int_equal (errs.n, 5);
    assert_true (s_find_error (&errs, "$.albums[0].tracks[0].fade_curve") >= 0);
    assert_true (s_find_error (&errs, "$.albums[0].tracks[1].path") >= 0);
    assert_true (s_find_error (&errs, "$.albums[0].tracks[2].loudness.policy") >= 0);
    assert_true (s_find_error (&errs, "$.albums[0].tracks[2].loudness.target_lufs") >= 0);
    assert_true (s_find_error (&errs, "$.albums[0].tracks[3].tonal.strength") >= 0);
    for (size_t i = 0; i < errs.n; i++)
        assert_true (errs.items [i].line >= 2 && errs.items [i].line <= 5);
    spec_errors_clear (&errs);
}

//  Syntax errors and duplicate keys carry jansson's line and column.
static void
test_syntax_errors (void **state)
{
    spec_errors_t errs = { 0 };
    const char *text = "{\n  \"name\": \"x\"\n  \"albums\": []\n}\n";      //  missing comma
    assert_null (spec_parse_json (text, strlen (text), "syn.json", &errs));
    assert_int_equal (errs.n, 1);
    assert_int_equal (errs.items [0].line, 3);
    assert_true (errs.items [0].column > 0);
    assert_non_null (strstr (errs.items [0].message, "not valid JSON"));
    spec_errors_clear (&errs);

    text = "{\"name\": \"a\",\n \"name\": \"b\", \"albums\": []}";          //  duplicate key
    assert_null (spec_parse_json (text, strlen (text), "dup.json", &errs));
    assert_int_equal (errs.n, 1);
    assert_int_equal (errs.items [0].line, 2);
    assert_non_null (strstr (errs.items [0].message, "duplicate"));
    spec_errors_clear (&errs);

    assert_null (spec_parse_json ("", 0, "empty.json", &errs));
    assert_int_equal (errs.n, 1);
    spec_errors_clear (&errs);
    assert_null (spec_parse_json ("[1,2]", 5, "array.json", &errs));
    assert_int_equal (errs.n, 1);
    spec_errors_clear (&errs);
}

//  One mistake per spec: exactly one error at the expected path.
static void
test_structure_errors (void **state)
{
    struct { const char *text; const char *path; const char *needle; } cases [] = {
        { "{}", "$", "albums" },
        { "{\"albums\": []}", "$.albums", "at least one album" },
        { "{\"albums\": {}}", "$.albums", "array" },
        { "{\"albums\": [{\"title\": \"A\"}]}", "$.albums[0]", "tracks" },
        { "{\"albums\": [{\"title\": \"A\", \"tracks\": []}]}", "$.albums[0].tracks", "at least one" },
        { "{\"albums\": [{\"tracks\": [{\"title\": \"x\"}]}]}", "$.albums[0].tracks[0]", "path" },
        { "{\"albums\": [{\"tracks\": [{\"path\": \"\"}]}]}", "$.albums[0].tracks[0].path", "relative" },
        { "{\"albums\": [{\"tracks\": [{\"path\": \"a/../../x.wav\"}]}]}", "$.albums[0].tracks[0].path", ".." },
        { "{\"gap_s\": 1, \"albums\": [{\"tracks\": [{\"path\": \"a.wav\"}]}]}", "$.gap_s", "defaults" },
        { "{\"defaults\": {\"title\": \"x\"}, \"albums\": [{\"tracks\": [{\"path\": \"a.wav\"}]}]}",
          "$.defaults.title", "album or a track" },
        { "{\"deadline\": \"tomorrow\", \"albums\": [{\"tracks\": [{\"path\": \"a.wav\"}]}]}",
          "$.deadline", "RFC 3339" },
        { "{\"deadline\": \"2026-01-01T00:00:00Z\", \"deliver_at\": \"2026-02-01T00:00:00Z\","
          " \"albums\": [{\"tracks\": [{\"path\": \"a.wav\"}]}]}", "$.deliver_at", "after" },
        { "{\"albums\": [{\"tracks\": [{\"path\": \"a.wav\", \"title\": \"a\\nb\"}]}]}",
          "$.albums[0].tracks[0].title", "control" },
        { "{\"albums\": [{\"tonal\": {\"match\": \"reference\"}, \"tracks\": [{\"path\": \"a.wav\"}]}]}",
          "$.albums[0].tonal", "reference_track" },
        { "{\"albums\": [{\"tonal\": {\"match\": \"reference\", \"reference_track\": \"zz.wav\"},"
          " \"tracks\": [{\"path\": \"a.wav\"}]}]}", "$.albums[0].tonal.reference_track", "zz.wav" },
        { "{\"albums\": [{\"tonal\": {\"match\": \"reference\", \"reference_track\": 3},"
          " \"tracks\": [{\"path\": \"a.wav\"}]}]}", "$.albums[0].tonal.reference_track", "does not exist" },
        { "{\"albums\": [{\"chain\": {\"multiband\": {\"low_hz\": 800, \"high_hz\": 500}},"
          " \"tracks\": [{\"path\": \"a.wav\"}]}]}", "$.albums[0].chain.multiband.high_hz", "rise" },
        { "{\"albums\": [{\"chain\": {\"highpass_hz\": 3}, \"tracks\": [{\"path\": \"a.wav\"}]}]}",
          "$.albums[0].chain.highpass_hz", "0 (off)" },
        { "{\"albums\": [{\"chain\": {\"eq\": [{\"type\": \"notch\", \"freq_hz\": 100}]},"
          " \"tracks\": [{\"path\": \"a.wav\"}]}]}", "$.albums[0].chain.eq[0].type", "notch" },
        { "{\"albums\": [{\"chain\": {\"limiter\": {\"ceiling_dbtp\": 0.5}},"
          " \"tracks\": [{\"path\": \"a.wav\"}]}]}", "$.albums[0].chain.limiter.ceiling_dbtp", "0" },
        { "{\"albums\": [{\"chain\": {\"compressor\": {\"ratoi\": 2}},"
          " \"tracks\": [{\"path\": \"a.wav\"}]}]}", "$.albums[0].chain.compressor.ratoi", "'ratio'" },
        { "{\"albums\": [{\"profiles\": [], \"tracks\": [{\"path\": \"a.wav\"}]}]}",
          "$.albums[0].profiles", "at least one" },
        { "{\"priority\": 1.5, \"albums\": [{\"tracks\": [{\"path\": \"a.wav\"}]}]}",
          "$.priority", "integer" },
        { "{\"albums\": [{\"partial\": \"some\", \"tracks\": [{\"path\": \"a.wav\"}]}]}",
          "$.albums[0].partial", "hold, deliver" },
        { "{\"defaults\": {\"partial\": true}, \"albums\": [{\"tracks\": [{\"path\": \"a.wav\"}]}]}",
          "$.defaults.partial", "string" },
        { "{\"albums\": [{\"tracks\": [{\"path\": \"a.wav\", \"partial\": \"deliver\"}]}]}",
          "$.albums[0].tracks[0].partial", "album setting" },
        { "{\"partial\": \"deliver\", \"albums\": [{\"tracks\": [{\"path\": \"a.wav\"}]}]}",
          "$.partial", "album setting" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases [0]; k++) {
        spec_errors_t errs = { 0 };
        job_spec_t *spec = spec_parse_json (cases [k].text, strlen (cases [k].text), "case", &errs);
        if (spec || errs.n != 1 || strcmp (errs.items [0].path, cases [k].path) != 0
        ||  !strstr (errs.items [0].message, cases [k].needle)) {
            fprintf (stderr, "case %zu: %s\n", k, cases [k].text);
            spec_errors_print (&errs, "case", stderr);
            fail ();
        }
        spec_errors_clear (&errs);
    }
}

//  "partial" is an album setting: "hold" by default, "deliver" from
//  defaults or the album (the nearest wins), kept through spec_to_json.
static void
test_partial (void **state)
{
    (void) state;
    const char *text =
        "{\"defaults\": {\"partial\": \"deliver\"}, \"albums\": ["
        " {\"tracks\": [{\"path\": \"a.wav\"}]},"
        " {\"partial\": \"hold\", \"tracks\": [{\"path\": \"b.wav\"}]}]}";
    job_spec_t *spec = s_parse_ok (text);
    assert_true (spec->defaults.partial_deliver);
    assert_true (spec->albums [0].s.partial_deliver);
    assert_false (spec->albums [1].s.partial_deliver);
    char *json = spec_to_json (spec);
    assert_non_null (json);
    job_spec_t *again = s_parse_ok (json);
    assert_true (again->albums [0].s.partial_deliver);
    assert_false (again->albums [1].s.partial_deliver);
    spec_destroy (&again);
    free (json);
    spec_destroy (&spec);
    spec = s_parse_ok ("{\"albums\": [{\"tracks\": [{\"path\": \"a.wav\"}]}]}");
    assert_false (spec->albums [0].s.partial_deliver);
    spec_destroy (&spec);
}

//  Tonal "reference" files: a path or a weighted list, intensities per
//  aspect (default 1), kept through spec_to_json; mistakes are named.
static void
test_reference_files (void **state)
{
    (void) state;
    job_spec_t *spec = s_parse_ok (
        "{\"defaults\": {\"tonal\": {\"match\": \"reference\", \"reference\": \"refs/a.wav\"}},"
        " \"albums\": [{\"tracks\": [{\"path\": \"a.wav\"}]},"
        " {\"tonal\": {\"reference\": [{\"path\": \"refs/b.wav\", \"weight\": 3}, \"refs/c.wav\"],"
        "  \"intensity\": {\"tone\": 0.5, \"width\": 0}}, \"tracks\": [{\"path\": \"b.wav\","
        "  \"tonal\": {\"intensity\": {\"tone\": 0.25}}}]}]}");
    const tonal_cfg_t *t0 = &spec->albums [0].s.tonal, *t1 = &spec->albums [1].s.tonal;
    assert_int_equal (t0->n_refs, 1);
    assert_string_equal (t0->refs [0].path, "refs/a.wav");
    assert_true (t0->refs [0].weight == 1.0);
    assert_true (t0->intensity.tone == 1.0 && t0->intensity.loudness == 1.0
                 && t0->intensity.width == 1.0);
    assert_int_equal (t1->n_refs, 2);
    assert_string_equal (t1->refs [1].path, "refs/c.wav");
    assert_true (t1->refs [0].weight == 3.0 && t1->refs [1].weight == 1.0);
    assert_true (t1->intensity.tone == 0.5 && t1->intensity.loudness == 1.0
                 && t1->intensity.width == 0.0);
    assert_true (spec->albums [1].tracks [0].s.tonal.intensity.tone == 0.25);
    assert_int_equal (spec->albums [1].tracks [0].s.tonal.n_refs, 2);
    char *json = spec_to_json (spec);
    assert_non_null (json);
    job_spec_t *again = s_parse_ok (json);
    assert_int_equal (again->albums [1].s.tonal.n_refs, 2);
    assert_true (again->albums [1].s.tonal.refs [0].weight == 3.0);
    assert_true (again->albums [1].tracks [0].s.tonal.intensity.tone == 0.25);
    char *json2 = spec_to_json (again);
    assert_string_equal (json, json2);
    free (json2);
    spec_destroy (&again);
    free (json);
    spec_destroy (&spec);
    //  without reference files no reference keys are written
    spec = s_parse_ok ("{\"albums\": [{\"tracks\": [{\"path\": \"a.wav\"}]}]}");
    json = spec_to_json (spec);
    assert_null (strstr (json, "intensity"));
    assert_null (strstr (json, "\"reference\""));
    free (json);
    spec_destroy (&spec);

    static const struct { const char *tonal, *path, *needle; } cases [] = {
        { "{\"match\": \"reference\", \"reference\": 5}", "$.albums[0].tonal.reference", "list of 1 to 8" },
        { "{\"match\": \"reference\", \"reference\": []}", "$.albums[0].tonal.reference", "none" },
        { "{\"match\": \"reference\", \"reference\": \"../r.wav\"}", "$.albums[0].tonal.reference", "'..'" },
        { "{\"match\": \"reference\", \"reference\": [{\"pth\": \"r.wav\", \"path\": \"r.wav\"}]}",
          "$.albums[0].tonal.reference[0].pth", "'path'" },
        { "{\"match\": \"reference\", \"reference\": [{\"weight\": 2}]}",
          "$.albums[0].tonal.reference[0]", "missing 'path'" },
        { "{\"match\": \"reference\", \"reference\": [{\"path\": \"r.wav\", \"weight\": 0}]}",
          "$.albums[0].tonal.reference[0].weight", "0.01" },
        { "{\"match\": \"reference\", \"reference\": \"r.wav\", \"intensity\": {\"tone\": 2}}",
          "$.albums[0].tonal.intensity.tone", "0 .. 1" },
        { "{\"match\": \"reference\", \"reference\": \"r.wav\", \"intensity\": {\"wdth\": 1}}",
          "$.albums[0].tonal.intensity.wdth", "'width'" },
        { "{\"match\": \"album\", \"reference\": \"r.wav\"}", "$.albums[0].tonal", "\"match\": \"reference\"" },
        { "{\"match\": \"reference\", \"reference\": \"r.wav\", \"reference_track\": 0}",
          "$.albums[0].tonal", "not both" },
    };
    char text [1024];
    for (size_t k = 0; k < sizeof cases / sizeof cases [0]; k++) {
        snprintf (text, sizeof text, "{\"albums\": [{\"tonal\": %s, \"tracks\": [{\"path\": \"a.wav\"}]}]}",
                  cases [k].tonal);
        spec_errors_t errs = { 0 };
        job_spec_t *bad = spec_parse_json (text, strlen (text), "case", &errs);
        if (bad || errs.n < 1 || strcmp (errs.items [0].path, cases [k].path) != 0
        ||  !strstr (errs.items [0].message, cases [k].needle)) {
            fprintf (stderr, "case %zu: %s\n", k, text);
            spec_errors_print (&errs, "case", stderr);
            fail ();
        }
        spec_errors_clear (&errs);
    }
    //  a track cannot bring its own references
    const char *own = "{\"albums\": [{\"tonal\": {\"match\": \"reference\", \"reference\": \"r.wav\"},"
                      " \"tracks\": [{\"path\": \"a.wav\", \"tonal\": {\"reference\": \"s.wav\"}}]}]}";
    spec_errors_t errs = { 0 };
    assert_null (spec_parse_json (own, strlen (own), "case", &errs));
    assert_int_equal (errs.n, 1);
    assert_string_equal (errs.items [0].path, "$.albums[0].tracks[0].tonal");
    assert_non_null (strstr (errs.items [0].message, "album's"));
    spec_errors_clear (&errs);
}

//  ISRCs are normalised (dashes out, upper case) and checked; UPCs are 12/13 digits.
static void
test_identifiers (void **state)
{
    job_spec_t *spec = s_parse_ok (
        "{\"albums\": [{\"upc\": \"012345678905\", \"tracks\": ["
        "  {\"path\": \"a.wav\", \"isrc\": \"us-s1z-99-00001\"},"
        "  {\"path\": \"b.wav\", \"isrc\": \"GBAYE6700149\"}]}]}");
    assert_string_equal (spec->albums [0].upc, "012345678905");
    assert_string_equal (spec->albums [0].tracks [0].isrc, "USS1Z9900001");
    assert_string_equal (spec->albums [0].tracks [1].isrc, "GBAYE6700149");
    spec_destroy (&spec);
    const char *bad [] = { "U11234567890", "USABC1200001X", "USAB!1200001", "USABC12A0001", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char text [200];
        snprintf (text, sizeof text,
                  "{\"albums\": [{\"tracks\": [{\"path\": \"a.wav\", \"isrc\": \"%s\"}]}]}", bad [i]);
        spec_errors_t errs = { 0 };
        assert_null (spec_parse_json (text, strlen (text), "isrc", &errs));
        assert_int_equal (errs.n, 1);
        spec_errors_clear (&errs);
    }
}

//  A reference track given by path resolves to its index, per album.
static void
test_reference_track (void **state)
{
    job_spec_t *spec = s_parse_ok (
        "{\"defaults\": {\"tonal\": {\"match\": \"reference\", \"reference_track\": \"x/2.wav\"}},"
        " \"albums\": [{\"tracks\": [{\"path\": \"x/1.wav\"}, {\"path\": \"x/2.wav\"}]},"
        "              {\"tonal\": {\"reference_track\": 0},"
        "               \"tracks\": [{\"path\": \"y/1.wav\"}]}]}");
    assert_int_equal (spec->albums [0].s.tonal.match, TONAL_REFERENCE);
    assert_int_equal (spec->albums [0].s.tonal.reference_track, 1);
    assert_int_equal (spec->albums [0].tracks [0].s.tonal.reference_track, 1);
    assert_int_equal (spec->albums [1].s.tonal.reference_track, 0);
    spec_destroy (&spec);
}

//  A CD holds 99 tracks: more is refused when the album has the cd profile.
static void
test_cd_track_limit (void **state)
{
    size_t cap = 1 << 16, n = 0;
    char *text = malloc (cap);
    assert_non_null (text);
    n += (size_t) sprintf (text + n, "{\"albums\": [{\"tracks\": [");
    for (int i = 0; i < 100; i++)
        n += (size_t) sprintf (text + n, "%s{\"path\": \"%03d.wav\"}", i ? "," : "", i);
    n += (size_t) sprintf (text + n, "]}]}");
    spec_errors_t errs = { 0 };
    assert_null (spec_parse_json (text, n, "cd.json", &errs));
    assert_int_equal (errs.n, 1);
    assert_string_equal (errs.items [0].path, "$.albums[0].tracks");
    assert_non_null (strstr (errs.items [0].message, "99"));
    spec_errors_clear (&errs);
    //  without cd, 100 tracks are fine
    n = (size_t) sprintf (text, "{\"defaults\": {\"profiles\": [\"apple\"]}, \"albums\": [{\"tracks\": [");
    for (int i = 0; i < 100; i++)
        n += (size_t) sprintf (text + n, "%s{\"path\": \"%03d.wav\"}", i ? "," : "", i);
    n += (size_t) sprintf (text + n, "]}]}");
    job_spec_t *spec = spec_parse_json (text, n, "nocd.json", &errs);
    spec_errors_print (&errs, "nocd.json", stderr);
    assert_non_null (spec);
    assert_int_equal (spec->albums [0].n_tracks, 100);
    spec_destroy (&spec);
    //  the CSV form, whose albums have the built-in profiles (with cd)
    n = (size_t) sprintf (text, "album,track,path\n");
    for (int i = 1; i <= 100; i++)
        n += (size_t) sprintf (text + n, "A,%d,%03d.wav\n", i, i);
    assert_null (spec_parse_csv (text, n, "cd.csv", &errs));
    assert_int_equal (errs.n, 1);
    assert_string_equal (errs.items [0].path, "line 101, column track");
    spec_errors_clear (&errs);
    free (text);
}

//  Compares two settings field by field.
static void
s_assert_settings_equal (const settings_t *a, const settings_t *b)
{
    assert_int_equal (a->profiles, b->profiles);
    assert_int_equal (a->loudness.policy, b->loudness.policy);
    assert_int_equal (a->loudness.has_target, b->loudness.has_target);
    assert_true (a->loudness.target_lufs == b->loudness.target_lufs);
    assert_int_equal (a->loudness.has_true_peak, b->loudness.has_true_peak);
    assert_true (a->loudness.true_peak_dbtp == b->loudness.true_peak_dbtp);
    assert_true (a->loudness.max_deviation_lu == b->loudness.max_deviation_lu);
    assert_int_equal (a->tonal.match, b->tonal.match);
    assert_true (a->tonal.strength == b->tonal.strength);
    assert_true (a->tonal.max_db == b->tonal.max_db);
    assert_int_equal (a->tonal.reference_track, b->tonal.reference_track);
    const chain_cfg_t *x = &a->chain, *y = &b->chain;
    assert_true (x->highpass_hz == y->highpass_hz);
    assert_int_equal (x->highpass_order, y->highpass_order);
    assert_int_equal (x->n_eq, y->n_eq);
    for (int i = 0; i < x->n_eq; i++) {
        assert_int_equal (x->eq [i].type, y->eq [i].type);
        assert_true (x->eq [i].freq_hz == y->eq [i].freq_hz);
        assert_true (x->eq [i].gain_db == y->eq [i].gain_db);
        assert_true (x->eq [i].q == y->eq [i].q);
    }
    const comp_cfg_t *cx [4] = { &x->compressor, &x->multiband.band [0], &x->multiband.band [1],
                                 &x->multiband.band [2] };
    const comp_cfg_t *cy [4] = { &y->compressor, &y->multiband.band [0], &y->multiband.band [1],
                                 &y->multiband.band [2] };
    for (int i = 0; i < 4; i++) {
        assert_int_equal (cx [i]->enabled, cy [i]->enabled);
        assert_true (cx [i]->threshold_db == cy [i]->threshold_db);
        assert_true (cx [i]->ratio == cy [i]->ratio);
        assert_true (cx [i]->attack_ms == cy [i]->attack_ms);
        assert_true (cx [i]->release_ms == cy [i]->release_ms);
        assert_true (cx [i]->knee_db == cy [i]->knee_db);
        assert_true (cx [i]->makeup_db == cy [i]->makeup_db);
    }
    assert_int_equal (x->multiband.enabled, y->multiband.enabled);
    assert_true (x->multiband.low_hz == y->multiband.low_hz);
    assert_true (x->multiband.high_hz == y->multiband.high_hz);
    assert_true (x->stereo.width == y->stereo.width);
    assert_true (x->stereo.mono_below_hz == y->stereo.mono_below_hz);
    assert_true (x->gain_db == y->gain_db);
    assert_int_equal (x->limiter.enabled, y->limiter.enabled);
    assert_true (x->limiter.ceiling_dbtp == y->limiter.ceiling_dbtp
                 || (isnan (x->limiter.ceiling_dbtp) && isnan (y->limiter.ceiling_dbtp)));
    assert_true (x->limiter.lookahead_ms == y->limiter.lookahead_ms);
    assert_true (x->limiter.release_ms == y->limiter.release_ms);
    assert_true (x->limiter.max_gr_db == y->limiter.max_gr_db);
    assert_int_equal (x->dither, y->dither);
    assert_int_equal (x->noise_shaping, y->noise_shaping);
    assert_true (a->gap_s == b->gap_s);
    assert_true (a->fade_in_s == b->fade_in_s);
    assert_true (a->fade_out_s == b->fade_out_s);
    assert_true (a->crossfade_s == b->crossfade_s);
    assert_int_equal (a->fade_curve, b->fade_curve);
    assert_int_equal (a->trim, b->trim);
    assert_true (a->trim_db == b->trim_db);
}

//  Compares two optional strings.
static void
s_assert_str_equal (const char *a, const char *b)
{
    if (!a || !b)
        assert_true (a == b);
    else
        assert_string_equal (a, b);
}

//  Compares two specs field by field.
static void
s_assert_spec_equal (const job_spec_t *a, const job_spec_t *b)
{
    s_assert_str_equal (a->name, b->name);
    assert_int_equal (a->priority, b->priority);
    assert_true (a->deadline_ms == b->deadline_ms);
    assert_true (a->deliver_at_ms == b->deliver_at_ms);
    s_assert_settings_equal (&a->defaults, &b->defaults);
    assert_int_equal (a->n_albums, b->n_albums);
    for (size_t i = 0; i < a->n_albums; i++) {
        const spec_album_t *x = &a->albums [i], *y = &b->albums [i];
        s_assert_str_equal (x->title, y->title);
        s_assert_str_equal (x->artist, y->artist);
        s_assert_str_equal (x->upc, y->upc);
        s_assert_settings_equal (&x->s, &y->s);
        assert_int_equal (x->n_tracks, y->n_tracks);
        for (size_t t = 0; t < x->n_tracks; t++) {
            s_assert_str_equal (x->tracks [t].path, y->tracks [t].path);
            s_assert_str_equal (x->tracks [t].title, y->tracks [t].title);
            s_assert_str_equal (x->tracks [t].artist, y->tracks [t].artist);
            s_assert_str_equal (x->tracks [t].isrc, y->tracks [t].isrc);
            s_assert_settings_equal (&x->tracks [t].s, &y->tracks [t].s);
        }
    }
}

//  parse(to_json(spec)) equals spec, and the text is a fixed point.
static void
s_round_trip (const char *text)
{
    job_spec_t *a = s_parse_ok (text);
    char *json = spec_to_json (a);
    assert_non_null (json);
    job_spec_t *b = s_parse_ok (json);
    s_assert_spec_equal (a, b);
    char *again = spec_to_json (b);
    assert_string_equal (json, again);
    free (json);
    free (again);
    spec_destroy (&a);
    spec_destroy (&b);
}

//  Canonical JSON round-trips to an equal spec for small and rich specs.
static void
test_round_trip (void **state)
{
    s_round_trip (s_design_example);
    s_round_trip ("{\"albums\":[{\"tracks\":[{\"path\":\"a.wav\"}]}]}");
    s_round_trip (
        "{\"name\": \"R\\u00e9sum\\u00e9 \\\"quoted\\\"\", \"priority\": 9,"
        " \"deadline\": \"2026-12-01T10:00:00.250+01:00\","
        " \"defaults\": {\"loudness\": {\"true_peak_dbtp\": -1.5}, \"trim\": true, \"trim_db\": -70.5,"
        "   \"tonal\": {\"match\": \"reference\", \"reference_track\": \"b.wav\"}},"
        " \"albums\": [{\"title\": \"One\", \"artist\": \"X\", \"upc\": \"123456789012\","
        "   \"loudness\": {\"policy\": \"loudest\", \"target_lufs\": -9.3},"
        "   \"chain\": {\"multiband\": {\"low_hz\": 120, \"high_hz\": 4000.5, \"mid\": {\"ratio\": 4}},"
        "     \"compressor\": {\"enabled\": false, \"ratio\": 2.25}, \"highpass_hz\": 0,"
        "     \"highpass_order\": 4, \"noise_shaping\": true, \"gain_db\": -0.1,"
        "     \"eq\": [{\"type\": \"lowshelf\", \"freq_hz\": 80, \"gain_db\": -1.5, \"q\": 0.7},"
        "            {\"type\": \"highpass\", \"freq_hz\": 30}]},"
        "   \"tracks\": [{\"path\": \"a.wav\", \"artist\": \"Y\", \"crossfade_s\": 1.5,"
        "                 \"chain\": {\"limiter\": {\"ceiling_dbtp\": -0.3, \"max_gr_db\": 12},"
        "                 \"stereo\": {\"width\": 1.2, \"mono_below_hz\": 120}}},"
        "                {\"path\": \"b.wav\", \"fade_curve\": \"logarithmic\","
        "                 \"chain\": {\"limiter\": false}}]},"
        "  {\"title\": \"Two\", \"profiles\": [\"broadcast\", \"hires\", \"amazon\"],"
        "   \"tracks\": [{\"path\": \"c.wav\"}, {\"path\": \"b.wav\"}]}]}");
}

//  CSV catalogs: quoting, BOM, CRLF, grouping by album, ordering by track number.
static void
test_csv (void **state)
{
    const char *csv =
        "\xef\xbb\xbf" "album,track,path,title,artist,isrc,gap_s,fade_in_s,fade_out_s\r\n"
        "Second,2,s/2.wav,\"Two, with comma\",Band,,,,\r\n"
        "First,1,f/1.wav,\"Say \"\"hi\"\"\",Solo,US-ABC-71-00001,0,0.5,\r\n"
        "Second,1,s/1.wav,,Band,,1.5,,3\r\n"
        "\r\n"
        "First,2,f/2.wav,Two,Solo,,,,\r\n";
    spec_errors_t errs = { 0 };
    job_spec_t *spec = spec_parse_csv (csv, strlen (csv), "cat.csv", &errs);
    spec_errors_print (&errs, "cat.csv", stderr);
    assert_non_null (spec);
    assert_int_equal (spec->n_albums, 2);
    const spec_album_t *s = &spec->albums [0], *f = &spec->albums [1];
    assert_string_equal (s->title, "Second");                  //  first appearance
    assert_string_equal (s->artist, "Band");                   //  shared by all its tracks
    assert_int_equal (s->n_tracks, 2);
    assert_string_equal (s->tracks [0].path, "s/1.wav");       //  by track number
    assert_string_equal (s->tracks [0].title, "1");            //  file name
    assert_true (s->tracks [0].s.gap_s == 1.5);
    assert_true (s->tracks [0].s.fade_out_s == 3.0);
    assert_string_equal (s->tracks [1].title, "Two, with comma");
    assert_true (s->tracks [1].s.gap_s == 2.0);                //  built-in default
    assert_string_equal (f->title, "First");
    assert_string_equal (f->tracks [0].title, "Say \"hi\"");
    assert_string_equal (f->tracks [0].isrc, "USABC7100001");
    assert_true (f->tracks [0].s.fade_in_s == 0.5);
    assert_true (f->tracks [0].s.gap_s == 0.0);
    assert_null (f->tracks [0].artist);
    assert_int_equal (f->tracks [0].s.profiles, 1u << PROFILE_SPOTIFY | 1u << PROFILE_CD);
    //  the CSV spec round-trips through JSON too
    char *json = spec_to_json (spec);
    job_spec_t *back = s_parse_ok (json);
    s_assert_spec_equal (spec, back);
    free (json);
    spec_destroy (&back);
    spec_destroy (&spec);

    //  a line break inside quotes, columns in another order, fewer columns
    csv = "path,album,track,title\n"
          "a.wav,A,1,\"multi\nline\"\n";
    assert_null (spec_parse_csv (csv, strlen (csv), "nl.csv", &errs));
    assert_int_equal (errs.n, 1);                              //  control char in a title
    assert_string_equal (errs.items [0].path, "line 2, column title");
    spec_errors_clear (&errs);
    csv = "path,album,track\n"
          "a.wav,\"A\nB\",1\n"
          "b.wav,A,2\n";
    assert_null (spec_parse_csv (csv, strlen (csv), "nl.csv", &errs));
    assert_int_equal (errs.n, 1);
    spec_errors_clear (&errs);
    csv = "path,album,track\nb.wav,A,2\na.wav,A,1";             //  no final newline
    spec = spec_parse_csv (csv, strlen (csv), "min.csv", &errs);
    assert_non_null (spec);
    assert_string_equal (spec->albums [0].tracks [0].path, "a.wav");
    assert_null (spec->albums [0].artist);
    spec_destroy (&spec);
}

//  CSV mistakes are each reported as "line N, column X".
static void
test_csv_errors (void **state)
{
    const char *csv =
        "album,track,path,title,artist,isrc,gapp_s,fade_in_s,fade_out_s\n";
    spec_errors_t errs = { 0 };
    assert_null (spec_parse_csv (csv, strlen (csv), "h.csv", &errs));
    assert_int_equal (errs.n, 1);
    assert_string_equal (errs.items [0].path, "line 1, column gapp_s");
    assert_non_null (strstr (errs.items [0].message, "did you mean 'gap_s'?"));
    spec_errors_clear (&errs);

    csv = "album,title\nA,x\n";
    assert_null (spec_parse_csv (csv, strlen (csv), "h.csv", &errs));
    assert_int_equal (errs.n, 2);                             //  no track, no path column
    spec_errors_clear (&errs);

    csv = "album,track,path,title,artist,isrc,gap_s,fade_in_s,fade_out_s\n"
          "A,1,a.wav,,,,abc,,\n"                              //  line 2: gap_s
          "A,x,b.wav,,,,,,\n"                                 //  line 3: track
          "A,3,../c.wav,,,,,,\n"                              //  line 4: path
          "A,4,d.wav,,,XX123,,,\n"                            //  line 5: isrc
          "A,5,e.wav,,,,,99,\n"                               //  line 6: fade_in_s
          "A,6,f.wav\n"                                       //  line 7: field count
          ",7,g.wav,,,,,,\n"                                  //  line 8: album
          "A,1,h.wav,,,,,,\n"                                 //  line 9: track 1 again
          "A,9,\"i.wav\"x,,,,,,\n";                           //  line 10: text after a quote
    assert_null (spec_parse_csv (csv, strlen (csv), "rows.csv", &errs));
    spec_errors_print (&errs, "rows.csv", stderr);
    assert_int_equal (errs.n, 9);
    assert_true (s_find_error (&errs, "line 2, column gap_s") >= 0);
    assert_true (s_find_error (&errs, "line 3, column track") >= 0);
    assert_true (s_find_error (&errs, "line 4, column path") >= 0);
    assert_true (s_find_error (&errs, "line 5, column isrc") >= 0);
    assert_true (s_find_error (&errs, "line 6, column fade_in_s") >= 0);
    assert_true (s_find_error (&errs, "line 7") >= 0);
    assert_true (s_find_error (&errs, "line 8, column album") >= 0);
    assert_true (s_find_error (&errs, "line 10") >= 0);
    assert_true (s_find_error (&errs, "line 9, column track") >= 0);
    int i = s_find_error (&errs, "line 2, column gap_s");
    assert_int_equal (errs.items [i].line, 2);
    assert_int_equal (errs.items [i].column, 14);
    spec_errors_clear (&errs);

    csv = "album,track,path,title\nA,1,a.wav,caf\xe9\n";           //  Latin-1, not UTF-8
    assert_null (spec_parse_csv (csv, strlen (csv), "latin1.csv", &errs));
    assert_int_equal (errs.n, 1);
    assert_string_equal (errs.items [0].path, "line 2, column title");
    assert_non_null (strstr (errs.items [0].message, "UTF-8"));
    spec_errors_clear (&errs);

    csv = "album,track,path\nA,1,a.wav\nA,1,b.wav\n";          //  duplicate track number
    assert_null (spec_parse_csv (csv, strlen (csv), "dup.csv", &errs));
    assert_int_equal (errs.n, 1);
    assert_string_equal (errs.items [0].path, "line 3, column track");
    spec_errors_clear (&errs);

    csv = "album,track,path\nA,1,\"a.wav\n";                  //  unterminated quote
    assert_null (spec_parse_csv (csv, strlen (csv), "q.csv", &errs));
    assert_int_equal (errs.n, 1);
    assert_int_equal (errs.items [0].line, 2);
    spec_errors_clear (&errs);

    csv = "album,track,path\n";
    assert_null (spec_parse_csv (csv, strlen (csv), "empty.csv", &errs));
    assert_int_equal (errs.n, 1);
    spec_errors_clear (&errs);
    assert_null (spec_parse_csv ("", 0, "empty.csv", &errs));
    assert_int_equal (errs.n, 1);
    spec_errors_clear (&errs);
}

//  spec_load picks the parser by extension; spec_check_paths holds the sandbox.
static void
test_load_and_paths (void **state)
{
    const char *dir = testsig_tmpdir ("spec");
    char root [1024], p [1400];
    snprintf (root, sizeof root, "%s/in", dir);
    snprintf (p, sizeof p, "%s/album1", root);
    assert_int_equal (fsutil_mkdir_p (p, 0755), 0);
    snprintf (p, sizeof p, "%s/album1/01 intro.wav", root);
    assert_int_equal (fsutil_write_atomic (p, "RIFF", 4), 0);
    snprintf (p, sizeof p, "%s/outside.wav", dir);
    assert_int_equal (fsutil_write_atomic (p, "RIFF", 4), 0);
    char link [1400];
    snprintf (link, sizeof link, "%s/album1/escape.wav", root);
    unlink (link);
    assert_int_equal (symlink ("../../outside.wav", link), 0);
    snprintf (p, sizeof p, "%s/album1/folder.wav", root);
    assert_int_equal (fsutil_mkdir_p (p, 0755), 0);

    //  the design example, written to a file, loads and its path checks out
    snprintf (p, sizeof p, "%s/job.json", dir);
    assert_int_equal (fsutil_write_atomic (p, s_design_example, strlen (s_design_example)), 0);
    spec_errors_t errs = { 0 };
    job_spec_t *spec = spec_load (p, &errs);
    assert_non_null (spec);
    assert_int_equal (spec_check_paths (spec, root, &errs), 0);
    assert_int_equal (errs.n, 0);
    spec_destroy (&spec);

    //  a catalog with a missing file, an escaping symlink and a folder
    const char *csv = "album,track,path\nA,1,album1/01 intro.wav\nA,2,album1/missing.wav\n"
                      "A,3,album1/escape.wav\nA,4,album1/folder.wav\n";
    snprintf (p, sizeof p, "%s/cat.CSV", dir);
    assert_int_equal (fsutil_write_atomic (p, csv, strlen (csv)), 0);
    spec = spec_load (p, &errs);
    assert_non_null (spec);
    assert_int_equal (spec_check_paths (spec, root, &errs), 3);
    assert_int_equal (errs.n, 3);
    assert_string_equal (errs.items [0].path, "$.albums[0].tracks[1].path");
    assert_non_null (strstr (errs.items [0].message, "does not exist"));
    assert_string_equal (errs.items [1].path, "$.albums[0].tracks[2].path");
    assert_non_null (strstr (errs.items [1].message, "outside"));
    assert_string_equal (errs.items [2].path, "$.albums[0].tracks[3].path");
    spec_errors_clear (&errs);
    snprintf (p, sizeof p, "%s/no-root", dir);
    assert_int_equal (spec_check_paths (spec, p, &errs), 1);
    spec_errors_clear (&errs);
    spec_destroy (&spec);

    snprintf (p, sizeof p, "%s/missing.json", dir);
    assert_null (spec_load (p, &errs));
    assert_int_equal (errs.n, 1);
    assert_non_null (strstr (errs.items [0].message, "cannot read"));
    spec_errors_clear (&errs);
}

//  The chain parser and checker used by `masterfarm master --spec`.
static void
test_chain_alone (void **state)
{
    settings_t s;
    spec_settings_default (&s);
    chain_cfg_t cfg = s.chain;
    assert_int_equal (spec_check_chain (&cfg, "$.chain", NULL), 0);
    const char *text = "{\"compressor\": {\"ratio\": 4}, \"limiter\": {\"ceiling_dbtp\": -1}}";
    spec_errors_t errs = { 0 };
    assert_int_equal (spec_parse_chain_json (text, strlen (text), "chain.json", &cfg, &errs), 0);
    assert_true (cfg.compressor.ratio == 4.0);
    assert_true (cfg.compressor.threshold_db == -18.0);       //  kept
    assert_true (cfg.limiter.ceiling_dbtp == -1.0);
    text = "{\"chain\": {\"gain_db\": 3}}";
    assert_int_equal (spec_parse_chain_json (text, strlen (text), "chain.json", &cfg, &errs), 0);
    assert_true (cfg.gain_db == 3.0);
    text = "{\"compressor\": {\"ratio\": 0, \"attack_ms\": -1}, \"limiter\": {\"ceiling_dbtp\": 1}}";
    assert_int_equal (spec_parse_chain_json (text, strlen (text), "chain.json", &cfg, &errs),
                      MF_ERR_INVALID);
    assert_int_equal (errs.n, 3);
    assert_true (s_find_error (&errs, "$.compressor.ratio") >= 0);
    assert_true (s_find_error (&errs, "$.limiter.ceiling_dbtp") >= 0);
    assert_true (cfg.compressor.ratio == 4.0);                //  untouched on error
    spec_errors_clear (&errs);
    assert_int_equal (spec_parse_chain_json ("{", 1, "chain.json", &cfg, &errs), MF_ERR_FORMAT);
    spec_errors_clear (&errs);

    cfg.compressor.ratio = 0.5;
    cfg.highpass_order = 3;
    cfg.limiter.ceiling_dbtp = 0.5;
    cfg.multiband.enabled = true;
    cfg.multiband.low_hz = 900;
    cfg.multiband.high_hz = 800;
    assert_int_equal (spec_check_chain (&cfg, "$.chain", &errs), 4);
    assert_true (s_find_error (&errs, "$.chain.compressor.ratio") >= 0);
    assert_true (s_find_error (&errs, "$.chain.highpass_order") >= 0);
    assert_true (s_find_error (&errs, "$.chain.limiter.ceiling_dbtp") >= 0);
    assert_true (s_find_error (&errs, "$.chain.multiband.high_hz") >= 0);
    spec_errors_clear (&errs);
}

//  The example files in tests/data load (JSON by content, CSV by extension).
static void
test_data_examples (void **state)
{
    const char *src = getenv ("MF_SRC");
    if (!src || !*src)
        fail_msg ("MF_SRC is not set (ctest sets it): the example files cannot be found");
    char p [1024];
    spec_errors_t errs = { 0 };
    snprintf (p, sizeof p, "%s/tests/data/job_example.json", src);
    job_spec_t *spec = spec_load (p, &errs);
    spec_errors_print (&errs, p, stderr);
    assert_non_null (spec);
    assert_int_equal (spec->albums [0].n_tracks, 1);
    spec_destroy (&spec);
    snprintf (p, sizeof p, "%s/tests/data/catalog_example.csv", src);
    spec = spec_load (p, &errs);
    spec_errors_print (&errs, p, stderr);
    assert_non_null (spec);
    assert_int_equal (spec->n_albums, 2);
    assert_string_equal (spec->albums [1].title, "Live at the \"Hall\"");
    assert_null (spec->albums [1].artist);                   //  the artists differ
    assert_string_equal (spec->albums [1].tracks [1].artist, "The Band feat. Guest");
    assert_string_equal (spec->albums [0].artist, "The Band");
    assert_string_equal (spec->albums [0].tracks [1].title, "Song, Part II");
    assert_true (spec->albums [0].tracks [2].s.fade_out_s == 3.0);
    spec_destroy (&spec);
}

//  A track's "disc" (multi-disc albums): 1 .. 99, kept through
//  spec_to_json, absent means 0; out of range or not an integer is an
//  error at its path.
static void
test_track_disc (void **state)
{
    (void) state;
    job_spec_t *spec = s_parse_ok ("{\"albums\": [{\"tracks\": [{\"path\": \"a.wav\", "
        "\"disc\": 1}, {\"path\": \"b.wav\", \"disc\": 2}, {\"path\": \"c.wav\"}]}]}");
    assert_int_equal (spec->albums [0].tracks [0].disc, 1);
    assert_int_equal (spec->albums [0].tracks [1].disc, 2);
    assert_int_equal (spec->albums [0].tracks [2].disc, 0);
    char *text = spec_to_json (spec);
    assert_non_null (text);
    job_spec_t *again = s_parse_ok (text);
    assert_int_equal (again->albums [0].tracks [1].disc, 2);
    assert_int_equal (again->albums [0].tracks [2].disc, 0);
    free (text);
    spec_destroy (&again);
    spec_destroy (&spec);
    const char *bad [] = { "0", "100", "1.5", "\"2\"" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char buf [200];
        snprintf (buf, sizeof buf, "{\"albums\": [{\"tracks\": [{\"path\": \"a.wav\", "
                  "\"disc\": %s}]}]}", bad [i]);
        spec_errors_t errs = { 0 };
        assert_null (spec_parse_json (buf, strlen (buf), "disc.json", &errs));
        assert_true (s_find_error (&errs, "$.albums[0].tracks[0].disc") >= 0);
        spec_errors_clear (&errs);
    }
}

//  One JSON text with an embedded NUL (size counts the NUL).
typedef struct {
    const char *text;
    size_t      len;
    int         line, column;            //  where the NUL is
} s_nul_case_t;

//  Parses one case as a spec and as a chain; exits 0 when both refuse it
//  with an error at the NUL, 1 otherwise (run in a child under alarm()).
static int
s_nul_child (const s_nul_case_t *c)
{
    alarm (5);                           //  the hang this guards against
    spec_errors_t errs = { 0 };
    job_spec_t *spec = spec_parse_json (c->text, c->len, "spec.json", &errs);
    if (spec || errs.n != 1 || !strstr (errs.items [0].message, "NUL")
    ||  errs.items [0].line != c->line || errs.items [0].column != c->column) {
        fprintf (stderr, "spec: %zu errors, first: %s (line %d, column %d)\n", errs.n,
                 errs.n ? errs.items [0].message : "-", errs.n ? errs.items [0].line : 0,
                 errs.n ? errs.items [0].column : 0);
        return 1;
    }
    spec_errors_clear (&errs);
    settings_t s;
    spec_settings_default (&s);
    if (spec_parse_chain_json (c->text, c->len, "chain.json", &s.chain, &errs) != MF_ERR_FORMAT
    ||  errs.n != 1 || !strstr (errs.items [0].message, "NUL")) {
        fprintf (stderr, "chain: %zu errors\n", errs.n);
        return 1;
    }
    spec_errors_clear (&errs);
    return 0;
}

//  A NUL byte in a JSON spec is refused with its position, and never sends
//  the error locator into an endless loop (jansson skips a NUL after a
//  number, so such text used to parse and then hang at the first error).
static void
test_nul_byte (void **state)
{
    static const char t1 [] = "[1\0]";
    static const char t2 [] = "{\"albums\": [{\"title\": \"A\",\n  \"tracks\": [7\0, 8]}]}";
    static const char t3 [] = "{\"limiter\": [1\0]}";
    static const char t4 [] = "{\"name\": \"x\", \"priority\": 5\0}";
    const s_nul_case_t cases [] = {
        { t1, sizeof t1 - 1, 1, 3 },
        { t2, sizeof t2 - 1, 2, 15 },
        { t3, sizeof t3 - 1, 1, 15 },
        { t4, sizeof t4 - 1, 1, 28 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        fflush (NULL);
        pid_t pid = fork ();
        assert_true (pid >= 0);
        if (pid == 0)
            _exit (s_nul_child (&cases [i]));
        int status = 0;
        assert_int_equal (waitpid (pid, &status, 0), pid);
        if (WIFSIGNALED (status))
            fail_msg ("case %zu: parser killed by signal %d (SIGALRM %d: it hung)",
                      i, WTERMSIG (status), SIGALRM);
        assert_true (WIFEXITED (status));
        assert_int_equal (WEXITSTATUS (status), 0);
    }
}

//  Runs every spec test; non-zero exit on any failure.
int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_design_example),
        cmocka_unit_test (test_builtin_defaults),
        cmocka_unit_test (test_nearest_wins),
        cmocka_unit_test (test_every_error_reported),
        cmocka_unit_test (test_five_mistakes),
        cmocka_unit_test (test_syntax_errors),
        cmocka_unit_test (test_structure_errors),
        cmocka_unit_test (test_identifiers),
        cmocka_unit_test (test_reference_track),
        cmocka_unit_test (test_cd_track_limit),
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_csv),
        cmocka_unit_test (test_csv_errors),
        cmocka_unit_test (test_load_and_paths),
        cmocka_unit_test (test_chain_alone),
        cmocka_unit_test (test_data_examples),
        cmocka_unit_test (test_track_disc),
        cmocka_unit_test (test_partial),
        cmocka_unit_test (test_reference_files),
        cmocka_unit_test (test_nul_byte),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
