/*  The "dynamics" presets in the job spec (common/spec.h) and the
    resolution of their level-aware threshold (worker/chain.h):
    - the default is gentle, relative to the loudness, on every level;
    - the nearest level's preset wins, and compressor keys given anywhere
      win over any preset, key by key, whatever the order of the keys;
    - threshold_db is absolute, threshold_lu relative, not both at once;
    - an unknown preset is an error naming its path and the choices;
    - canonical JSON keeps preset and compressor (round trip);
    - the `masterfarm master --spec` form takes "dynamics" beside "chain";
    - chain_resolve_dynamics: loudness + threshold_lu, held to -60 .. 0
      dBFS, and off for silence; chain_new refuses an unresolved one.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/spec.h"
#include "worker/chain.h"

//  Parses text, which must be valid.
static job_spec_t *
s_parse_ok (const char *text)
{
    spec_errors_t errs = { 0 };
    job_spec_t *spec = spec_parse_json (text, strlen (text), "t.json", &errs);
    if (!spec)
        spec_errors_print (&errs, "t.json", stdout);
    assert_non_null (spec);
    spec_errors_clear (&errs);
    return spec;
}

//  Parses text, which must fail with an error at path whose message has word.
static void
s_parse_fails (const char *text, const char *path, const char *word)
{
    spec_errors_t errs = { 0 };
    job_spec_t *spec = spec_parse_json (text, strlen (text), "t.json", &errs);
    assert_null (spec);
    bool found = false;
    for (size_t i = 0; i < errs.n; i++) {
        printf ("  %s: %s\n", errs.items [i].path, errs.items [i].message);
        if (strcmp (errs.items [i].path, path) == 0 && strstr (errs.items [i].message, word))
            found = true;
    }
    assert_true (found);
    spec_errors_clear (&errs);
}

//  c is preset d's compressor exactly.
static void
s_assert_preset (const chain_cfg_t *c, dynamics_t d)
{
    comp_cfg_t p;
    spec_dynamics_preset (d, &p);
    assert_int_equal (c->dynamics, d);
    assert_int_equal (c->compressor.enabled, p.enabled);
    assert_true (c->compressor.relative);
    assert_true (c->compressor.threshold_lu == p.threshold_lu);
    assert_true (c->compressor.ratio == p.ratio);
    assert_true (c->compressor.attack_ms == p.attack_ms);
    assert_true (c->compressor.release_ms == p.release_ms);
    assert_true (c->compressor.knee_db == p.knee_db);
}

//  The presets are what spec.h documents, ordered from none to punchy.
static void
test_presets (void **state)
{
    (void) state;
    comp_cfg_t n, g, s, p;
    spec_dynamics_preset (DYN_NONE, &n);
    spec_dynamics_preset (DYN_GENTLE, &g);
    spec_dynamics_preset (DYN_STANDARD, &s);
    spec_dynamics_preset (DYN_PUNCHY, &p);
    assert_false (n.enabled);
    assert_true (g.enabled && s.enabled && p.enabled);
    assert_true (g.relative && s.relative && p.relative);
    assert_true (g.threshold_lu == 8.0 && g.ratio == 1.5 && g.knee_db == 6.0);
    assert_true (g.attack_ms == 30.0 && g.release_ms == 250.0);
    assert_true (s.threshold_lu == 6.0 && s.ratio == 2.0);
    assert_true (p.threshold_lu == 1.0 && p.ratio == 3.0 && p.attack_ms == 30.0);
    for (int d = 0; d < DYN_COUNT; d++)
        assert_int_equal (spec_dynamics_find (spec_dynamics_name ((dynamics_t) d)), d);
    assert_int_equal (spec_dynamics_find ("loud"), -1);
    assert_int_equal (spec_dynamics_find (NULL), -1);

    settings_t def;
    spec_settings_default (&def);
    s_assert_preset (&def.chain, DYN_GENTLE);
    assert_int_equal (def.chain.comp_keys, 0);
}

//  The nearest level's preset wins; compressor keys given anywhere win
//  over every preset, key by key.
static void
test_levels_and_precedence (void **state)
{
    (void) state;
    job_spec_t *spec = s_parse_ok (
        "{\"defaults\": {\"dynamics\": \"punchy\"},"
        " \"albums\": [{\"dynamics\": \"standard\", \"tracks\": ["
        "   {\"path\": \"a.wav\"},"
        "   {\"path\": \"b.wav\", \"dynamics\": \"none\"},"
        "   {\"path\": \"c.wav\", \"chain\": {\"compressor\": {\"ratio\": 4}}},"
        "   {\"path\": \"d.wav\", \"dynamics\": \"gentle\","
        "    \"chain\": {\"compressor\": {\"threshold_db\": -20}}}]},"
        "  {\"chain\": {\"compressor\": {\"attack_ms\": 5, \"threshold_lu\": 3}},"
        "   \"tracks\": [{\"path\": \"e.wav\", \"dynamics\": \"gentle\"},"
        "                {\"path\": \"f.wav\", \"dynamics\": \"none\"},"
        "                {\"path\": \"g.wav\", \"chain\": {\"compressor\": false},"
        "                 \"dynamics\": \"punchy\"}]}]}");
    s_assert_preset (&spec->defaults.chain, DYN_PUNCHY);
    const spec_album_t *a = &spec->albums [0];
    s_assert_preset (&a->s.chain, DYN_STANDARD);
    s_assert_preset (&a->tracks [0].s.chain, DYN_STANDARD);
    s_assert_preset (&a->tracks [1].s.chain, DYN_NONE);
    //  c: standard with the given ratio
    const comp_cfg_t *c = &a->tracks [2].s.chain.compressor;
    assert_true (c->enabled && c->relative && c->threshold_lu == 6.0 && c->ratio == 4.0);
    assert_true (c->attack_ms == 20.0);
    //  d: gentle with an absolute threshold
    c = &a->tracks [3].s.chain.compressor;
    assert_int_equal (a->tracks [3].s.chain.dynamics, DYN_GENTLE);
    assert_true (c->enabled && !c->relative && c->threshold_db == -20.0 && c->ratio == 1.5);
    //  album 2 (punchy from the defaults) gives attack and threshold_lu:
    //  they hold for every track and preset; none's "off" does not, since
    //  giving a compressor object switches it on
    const spec_album_t *b = &spec->albums [1];
    c = &b->s.chain.compressor;
    assert_true (c->enabled && c->relative && c->threshold_lu == 3.0 && c->attack_ms == 5.0);
    assert_true (c->ratio == 3.0);
    c = &b->tracks [0].s.chain.compressor;
    assert_true (c->threshold_lu == 3.0 && c->attack_ms == 5.0 && c->ratio == 1.5);
    c = &b->tracks [1].s.chain.compressor;
    assert_true (c->enabled && c->threshold_lu == 3.0 && c->ratio == 1.5);
    //  g: the compressor switched off explicitly stays off under punchy
    assert_false (b->tracks [2].s.chain.compressor.enabled);
    assert_int_equal (b->tracks [2].s.chain.dynamics, DYN_PUNCHY);

    //  the canonical JSON keeps all of it
    char *json = spec_to_json (spec);
    assert_non_null (json);
    assert_non_null (strstr (json, "\"dynamics\":\"standard\""));
    assert_non_null (strstr (json, "\"threshold_lu\""));
    job_spec_t *back = s_parse_ok (json);
    for (size_t i = 0; i < spec->n_albums; i++)
        for (size_t t = 0; t < spec->albums [i].n_tracks; t++) {
            const chain_cfg_t *x = &spec->albums [i].tracks [t].s.chain;
            const chain_cfg_t *y = &back->albums [i].tracks [t].s.chain;
            assert_int_equal (x->dynamics, y->dynamics);
            assert_int_equal (x->compressor.enabled, y->compressor.enabled);
            assert_int_equal (x->compressor.relative, y->compressor.relative);
            if (x->compressor.relative)
                assert_true (x->compressor.threshold_lu == y->compressor.threshold_lu);
            else
                assert_true (x->compressor.threshold_db == y->compressor.threshold_db);
            assert_true (x->compressor.ratio == y->compressor.ratio);
            assert_true (x->compressor.attack_ms == y->compressor.attack_ms);
        }
    char *again = spec_to_json (back);
    assert_string_equal (json, again);
    free (json);
    free (again);
    spec_destroy (&back);
    spec_destroy (&spec);
}

//  Bad values are errors at their path.
static void
test_errors (void **state)
{
    (void) state;
    s_parse_fails ("{\"defaults\": {\"dynamics\": \"loud\"}, \"albums\": [{\"tracks\": "
                   "[{\"path\": \"a.wav\"}]}]}", "$.defaults.dynamics",
                   "none, gentle, standard, punchy");
    s_parse_fails ("{\"albums\": [{\"tracks\": [{\"path\": \"a.wav\", \"dynamics\": 2}]}]}",
                   "$.albums[0].tracks[0].dynamics", "string");
    s_parse_fails ("{\"albums\": [{\"tracks\": [{\"path\": \"a.wav\", \"chain\": {\"compressor\":"
                   " {\"threshold_db\": -20, \"threshold_lu\": 4}}}]}]}",
                   "$.albums[0].tracks[0].chain.compressor.threshold_lu", "not both");
    s_parse_fails ("{\"albums\": [{\"tracks\": [{\"path\": \"a.wav\", \"chain\": {\"compressor\":"
                   " {\"threshold_lu\": 40}}}]}]}",
                   "$.albums[0].tracks[0].chain.compressor.threshold_lu", "-30 .. 30");
    //  a multiband band has no relative threshold
    s_parse_fails ("{\"albums\": [{\"tracks\": [{\"path\": \"a.wav\", \"chain\": {\"multiband\":"
                   " {\"low\": {\"threshold_lu\": 4}}}}]}]}",
                   "$.albums[0].tracks[0].chain.multiband.low.threshold_lu", "");
}

//  The --spec form of `masterfarm master`: a bare chain, {"chain"}, and
//  {"dynamics", "chain"}.
static void
test_chain_json (void **state)
{
    (void) state;
    settings_t s;
    spec_settings_default (&s);
    spec_errors_t errs = { 0 };
    const char *t1 = "{\"dynamics\": \"punchy\", \"chain\": {\"compressor\": {\"ratio\": 2}}}";
    chain_cfg_t c = s.chain;
    assert_int_equal (spec_parse_chain_json (t1, strlen (t1), "c.json", &c, &errs), 0);
    assert_int_equal (c.dynamics, DYN_PUNCHY);
    assert_true (c.compressor.ratio == 2.0 && c.compressor.threshold_lu == 1.0);
    //  --dynamics after it: the preset changes, the given ratio stays
    spec_dynamics_apply (&c, DYN_NONE);
    assert_true (c.compressor.enabled && c.compressor.ratio == 2.0);
    assert_true (c.compressor.threshold_lu == 8.0);
    const char *t2 = "{\"dynamics\": \"standard\"}";
    c = s.chain;
    assert_int_equal (spec_parse_chain_json (t2, strlen (t2), "c.json", &c, &errs), 0);
    s_assert_preset (&c, DYN_STANDARD);
    const char *t3 = "{\"highpass_hz\": 30}";
    c = s.chain;
    assert_int_equal (spec_parse_chain_json (t3, strlen (t3), "c.json", &c, &errs), 0);
    s_assert_preset (&c, DYN_GENTLE);
    const char *t4 = "{\"dynamics\": \"hard\"}";
    c = s.chain;
    assert_int_not_equal (spec_parse_chain_json (t4, strlen (t4), "c.json", &c, &errs), 0);
    assert_true (errs.n > 0);
    spec_errors_clear (&errs);
}

//  The threshold follows the loudness; silence switches the compressor
//  off; chain_new will not guess an unresolved threshold.
static void
test_resolve (void **state)
{
    (void) state;
    settings_t s;
    spec_settings_default (&s);
    chain_cfg_t c = s.chain;
    char err [256];
    assert_null (chain_new (&c, NULL, -1.0, 48000, 2, err, sizeof err));
    printf ("unresolved: %s\n", err);
    assert_non_null (strstr (err, "threshold_lu"));
    chain_resolve_dynamics (&c, -23.0);
    assert_false (c.compressor.relative);
    assert_true (c.compressor.enabled);
    assert_true (fabs (c.compressor.threshold_db - (-15.0)) < 1e-12);
    chain_t *ch = chain_new (&c, NULL, -1.0, 48000, 2, err, sizeof err);
    assert_non_null (ch);
    chain_destroy (&ch);
    //  resolving again changes nothing (it is absolute now)
    chain_resolve_dynamics (&c, -10.0);
    assert_true (c.compressor.threshold_db == -15.0);
    c = s.chain;
    chain_resolve_dynamics (&c, -4.0);
    assert_true (c.compressor.threshold_db == 0.0);           //  held at full scale
    c = s.chain;
    c.compressor.threshold_lu = -30.0;
    chain_resolve_dynamics (&c, -45.0);
    assert_true (c.compressor.threshold_db == -60.0);
    c = s.chain;
    chain_resolve_dynamics (&c, -HUGE_VAL);
    assert_false (c.compressor.enabled);
    assert_false (c.compressor.relative);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_presets),
        cmocka_unit_test (test_levels_and_precedence),
        cmocka_unit_test (test_errors),
        cmocka_unit_test (test_chain_json),
        cmocka_unit_test (test_resolve),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
