/*  Delivery: folder layout and slugs, the manifest (checked against
    sha256sum; digests known from the workers taken only for a matching
    path and size), verification catching a changed or missing file, and
    deliver_at holding an album until its time on a fake clock, then
    publishing it with one rename, idempotently.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/deliver.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "testsig.h"

//  Writes text to dir/name, creating dir.
static void
s_put (const char *dir, const char *name, const char *text)
{
    char path [1024];
    assert_int_equal (fsutil_mkdir_p (dir, 0755), 0);
    snprintf (path, sizeof path, "%s/%s", dir, name);
    assert_int_equal (fsutil_write_atomic (path, text, strlen (text)), 0);
}

//  OUTDIR/<album-slug>/<profile>.
static void
test_layout (void **state)
{
    (void) state;
    spec_album_t a = { .title = "Back Catalog: 1971/79", .artist = "The Band" };
    char buf [512];
    assert_int_equal (deliver_album_slug (&a, buf, sizeof buf), 0);
    assert_string_equal (buf, "the-band-back-catalog-1971-79");
    assert_int_equal (deliver_album_dir ("out", &a, buf, sizeof buf), 0);
    assert_string_equal (buf, "out/the-band-back-catalog-1971-79");
    assert_int_equal (deliver_profile_dir ("out", &a, profile_get (PROFILE_CD), buf, sizeof buf), 0);
    assert_string_equal (buf, "out/the-band-back-catalog-1971-79/cd");
    assert_int_equal (deliver_profile_dir ("out", &a, profile_get (PROFILE_CD), buf, 10), MF_ERR_INVALID);
    spec_album_t none = { 0 };
    assert_int_equal (deliver_album_slug (&none, buf, sizeof buf), 0);
    assert_true (strlen (buf) > 0);
}

//  The manifest lists every file with size and SHA-256 (as sha256sum
//  computes them), sorted, without itself or temporary files; verify
//  catches a changed byte and a missing or extra file.
static void
test_manifest (void **state)
{
    (void) state;
    const char *root = testsig_tmpdir ("deliver_manifest");
    char album [1024], sub [1100], err [512];
    snprintf (album, sizeof album, "%s/alb", root);
    snprintf (sub, sizeof sub, "%s/cd", album);
    s_put (album, "report.json", "{}\n");
    s_put (sub, "01 - One.wav", "RIFF....one");
    s_put (sub, "album.cue", "FILE \"album.wav\" WAVE\n");
    s_put (sub, ".hidden", "x");
    assert_int_equal (deliver_manifest_write (album, err, sizeof err), 0);

    char path [1200];
    snprintf (path, sizeof path, "%s/manifest.json", album);
    json_error_t je;
    json_t *m = json_load_file (path, 0, &je);
    assert_non_null (m);
    json_t *files = json_object_get (m, "files");
    assert_int_equal (json_array_size (files), 3);
    assert_string_equal (json_string_value (json_object_get (json_array_get (files, 0), "path")), "cd/01 - One.wav");
    assert_string_equal (json_string_value (json_object_get (json_array_get (files, 2), "path")), "report.json");
    //  independent check with sha256sum
    char cmd [1400];
    snprintf (cmd, sizeof cmd, "cd '%s' && sha256sum 'cd/album.cue'", album);
    FILE *p = popen (cmd, "r");
    char line [256] = "";
    assert_non_null (fgets (line, sizeof line, p));
    pclose (p);
    line [64] = 0;
    assert_string_equal (json_string_value (json_object_get (json_array_get (files, 1), "sha256")), line);
    assert_int_equal (json_integer_value (json_object_get (json_array_get (files, 1), "bytes")), 22);
    json_decref (m);

    assert_int_equal (deliver_manifest_verify (album, err, sizeof err), 0);
    s_put (sub, "album.cue", "FILE \"album.wav\" WAVX\n");     //  same size, one byte changed
    assert_int_equal (deliver_manifest_verify (album, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "album.cue"));
    assert_int_equal (deliver_manifest_write (album, err, sizeof err), 0);
    s_put (sub, "extra.txt", "x");
    assert_int_equal (deliver_manifest_verify (album, err, sizeof err), MF_ERR_FORMAT);
    snprintf (path, sizeof path, "%s/extra.txt", sub);
    remove (path);
    snprintf (path, sizeof path, "%s/01 - One.wav", sub);
    remove (path);
    assert_int_equal (deliver_manifest_verify (album, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "missing"));
}

//  deliver_at with a fake clock: held before the time (nothing moves),
//  published at it, a repeat is a no-op, an album without manifest is
//  not published, an existing delivery is never overwritten.
static void
test_deliver_at (void **state)
{
    (void) state;
    const char *root = testsig_tmpdir ("deliver_at");
    char staging [1024], delivery [1024], album [1200], err [512], path [1400];
    snprintf (staging, sizeof staging, "%s/staging", root);
    snprintf (delivery, sizeof delivery, "%s/delivery", root);
    snprintf (album, sizeof album, "%s/a-b", staging);
    s_put (album, "report.json", "{}");
    const int64_t at = 1795856400000;          //  2026-11-28T09:00:00Z
    struct stat st;

    //  not finished: no manifest
    assert_int_equal (deliver_at (staging, delivery, "a-b", at, at, err, sizeof err), MF_ERR_STATE);
    assert_non_null (strstr (err, "manifest"));
    assert_int_equal (deliver_manifest_write (album, err, sizeof err), 0);

    //  a second before: held, nothing moved
    int64_t now = at - 1000;
    assert_int_equal (deliver_at (staging, delivery, "a-b", now, at, err, sizeof err), DELIVER_HELD);
    assert_int_equal (stat (album, &st), 0);
    snprintf (path, sizeof path, "%s/a-b", delivery);
    assert_int_not_equal (stat (path, &st), 0);
    now = at - 1;
    assert_int_equal (deliver_at (staging, delivery, "a-b", now, at, err, sizeof err), DELIVER_HELD);

    //  at the time: published in one rename, manifest intact
    now = at;
    assert_int_equal (deliver_at (staging, delivery, "a-b", now, at, err, sizeof err), 0);
    assert_int_equal (stat (path, &st), 0);
    assert_int_not_equal (stat (album, &st), 0);
    assert_int_equal (deliver_manifest_verify (path, err, sizeof err), 0);
    //  repeated (a restarted broker): fine, nothing changes
    assert_int_equal (deliver_at (staging, delivery, "a-b", now + 5000, at, err, sizeof err), 0);

    //  a new staging copy next to a delivered one is refused
    s_put (album, "report.json", "{}");
    assert_int_equal (deliver_manifest_write (album, err, sizeof err), 0);
    assert_int_equal (deliver_at (staging, delivery, "a-b", now, at, err, sizeof err), MF_ERR_STATE);
    //  deliver_at 0: at once; unknown album: not found; bad names refused
    assert_int_equal (deliver_at (staging, delivery, "zzz", 0, 0, err, sizeof err), MF_ERR_NOTFOUND);
    assert_int_equal (deliver_at (staging, delivery, "../x", 0, 0, err, sizeof err), MF_ERR_INVALID);
    assert_int_equal (deliver_at (staging, delivery, "a/b", 0, 0, err, sizeof err), MF_ERR_INVALID);
}

//  Prune keeps exactly the listed files: a torn temporary, a stray file,
//  a hidden one, a symbolic link and a folder nobody named all go, and
//  the manifest then lists exactly the kept files with its status.
static void
test_prune (void **state)
{
    (void) state;
    const char *root = testsig_tmpdir ("deliver_prune");
    char album [1024], cd [1100], sp [1100], old [1100], path [1300], err [512];
    snprintf (album, sizeof album, "%s/alb", root);
    snprintf (cd, sizeof cd, "%s/cd", album);
    snprintf (sp, sizeof sp, "%s/spotify", album);
    snprintf (old, sizeof old, "%s/apple", album);
    s_put (cd, "01 - a.wav", "one");
    s_put (cd, "01 - a.wav.tmp-42-1", "torn");
    s_put (cd, "album.wav", "stray album");
    s_put (sp, "01 - a.flac", "one");
    s_put (sp, ".hidden", "x");
    s_put (old, "01 - a.wav", "other profile");
    s_put (album, "notes.txt", "stray");
    snprintf (path, sizeof path, "%s/link.wav", sp);
    assert_int_equal (symlink ("/etc/passwd", path), 0);
    const char *keep [] = { "cd/01 - a.wav", "spotify/01 - a.flac", "spotify/link.wav" };
    assert_int_equal (deliver_prune (album, keep, 3, err, sizeof err), 0);
    struct stat st;
    snprintf (path, sizeof path, "%s/01 - a.wav", cd);
    assert_int_equal (stat (path, &st), 0);
    snprintf (path, sizeof path, "%s/01 - a.flac", sp);
    assert_int_equal (stat (path, &st), 0);
    const char *gone [] = { "cd/01 - a.wav.tmp-42-1", "cd/album.wav", "spotify/.hidden",
                            "spotify/link.wav", "apple", "notes.txt" };
    for (size_t i = 0; i < sizeof gone / sizeof gone [0]; i++) {
        snprintf (path, sizeof path, "%s/%s", album, gone [i]);
        assert_int_not_equal (lstat (path, &st), 0);
    }
    assert_int_equal (deliver_manifest_write_status (album, "{\"complete\": false}",
                                                     err, sizeof err), 0);
    snprintf (path, sizeof path, "%s/%s", album, DELIVER_MANIFEST);
    json_error_t je;
    json_t *m = json_load_file (path, 0, &je);
    assert_non_null (m);
    assert_true (json_is_false (json_object_get (m, "complete")));
    assert_int_equal (json_array_size (json_object_get (m, "files")), 2);
    json_decref (m);
    assert_int_equal (deliver_manifest_verify (album, err, sizeof err), 0);
    //  a missing folder is nothing to prune
    snprintf (path, sizeof path, "%s/none", root);
    assert_int_equal (deliver_prune (path, keep, 3, err, sizeof err), 0);
}

//  Lays out root/out (the output root) with its staging folder
//  out/.masterfarm/job-1 and root/outside holding a finished album's
//  files (a WAV and a manifest), which nothing may touch.
static void
s_sandbox (const char *root, char *out, char *staging, char *outside, size_t size)
{
    snprintf (out, size, "%s/out", root);
    snprintf (staging, size, "%s/.masterfarm/job-1", out);
    snprintf (outside, size, "%s/outside", root);
    assert_int_equal (fsutil_mkdir_p (staging, 0755), 0);
    s_put (outside, "secret.wav", "keep me");
    s_put (outside, DELIVER_MANIFEST, "{\"files\": []}\n");
}

//  True when dir/name exists (without following a last symlink).
static bool
s_exists (const char *dir, const char *name)
{
    char path [1300];
    struct stat st;
    snprintf (path, sizeof path, "%s/%s", dir, name);
    return lstat (path, &st) == 0;
}

//  The album's staging folder swapped for a symlink to a folder outside
//  the output root: prune deletes nothing there, publication moves
//  nothing, and both refuse naming the folder.
static void
test_staging_symlink (void **state)
{
    (void) state;
    const char *root = testsig_tmpdir ("deliver_staging_link");
    char out [1024], staging [1024], outside [1024], album [1100], err [512] = "";
    s_sandbox (root, out, staging, outside, sizeof out);
    snprintf (album, sizeof album, "%s/alb", staging);
    assert_int_equal (symlink (outside, album), 0);
    const char *keep [] = { "cd/01 - a.wav" };
    int rc = deliver_prune (album, keep, 1, err, sizeof err);
    assert_true (s_exists (outside, "secret.wav"));
    assert_int_not_equal (rc, 0);
    assert_non_null (strstr (err, album));
    err [0] = 0;
    rc = deliver_at (staging, out, "alb", 0, 0, err, sizeof err);
    assert_false (s_exists (out, "alb"));
    assert_true (s_exists (outside, "secret.wav"));
    assert_int_not_equal (rc, 0);
    assert_non_null (strstr (err, "symbolic link"));
}

//  OUTPUT_ROOT/<slug> made beforehand as a symlink to a folder outside:
//  publication refuses it (never follows it) and names it, and nothing
//  is written outside.
static void
test_destination_symlink (void **state)
{
    (void) state;
    const char *root = testsig_tmpdir ("deliver_dest_link");
    char out [1024], staging [1024], outside [1024], album [1100], dst [1100], err [512] = "";
    s_sandbox (root, out, staging, outside, sizeof out);
    snprintf (dst, sizeof dst, "%s/alb", out);
    assert_int_equal (symlink (outside, dst), 0);
    //  nothing in staging: the symlink is not taken for an earlier delivery
    int rc = deliver_at (staging, out, "alb", 0, 0, err, sizeof err);
    assert_int_not_equal (rc, 0);
    assert_non_null (strstr (err, dst));
    assert_non_null (strstr (err, "symbolic link"));
    //  a finished album in staging is not moved onto or into it
    snprintf (album, sizeof album, "%s/alb", staging);
    s_put (album, "x.wav", "new");
    assert_int_equal (deliver_manifest_write (album, err, sizeof err), 0);
    err [0] = 0;
    rc = deliver_at (staging, out, "alb", 0, 0, err, sizeof err);
    assert_int_not_equal (rc, 0);
    assert_non_null (strstr (err, dst));
    assert_non_null (strstr (err, "symbolic link"));
    assert_true (s_exists (album, DELIVER_MANIFEST));
    assert_false (s_exists (outside, "x.wav"));
    assert_false (s_exists (outside, "alb"));
}

//  The manifest is not written into a folder that is a symlink leading
//  outside.
static void
test_manifest_symlink (void **state)
{
    (void) state;
    const char *root = testsig_tmpdir ("deliver_manifest_link");
    char out [1024], staging [1024], outside [1024], album [1100], path [1300], err [512] = "";
    s_sandbox (root, out, staging, outside, sizeof out);
    snprintf (path, sizeof path, "%s/%s", outside, DELIVER_MANIFEST);
    assert_int_equal (unlink (path), 0);
    snprintf (album, sizeof album, "%s/alb", staging);
    assert_int_equal (symlink (outside, album), 0);
    int rc = deliver_manifest_write (album, err, sizeof err);
    assert_false (s_exists (outside, DELIVER_MANIFEST));
    assert_int_not_equal (rc, 0);
    assert_non_null (strstr (err, album));
}

//  The job's staging folder (.masterfarm/job-1) swapped for a symlink to
//  a folder outside the output root holding an album: the _beneath forms
//  the broker uses refuse it and touch nothing there; walk: as on a
//  kernel without openat2.
static void
s_job_symlink (const char *name, bool walk)
{
    fsutil_beneath_force_walk (walk);
    const char *root = testsig_tmpdir (name);
    char out [1024], staging [1024], outside [1024], album [1100], err [512] = "";
    s_sandbox (root, out, staging, outside, sizeof out);
    snprintf (album, sizeof album, "%s/alb", outside);
    s_put (album, "secret.wav", "keep me");
    s_put (album, DELIVER_MANIFEST, "{\"files\": []}\n");
    assert_int_equal (rmdir (staging), 0);
    assert_int_equal (symlink (outside, staging), 0);
    const char *rel = ".masterfarm/job-1/alb";
    const char *keep [] = { "cd/01 - a.wav" };
    assert_int_not_equal (deliver_prune_beneath (out, rel, keep, 1, err, sizeof err), 0);
    assert_non_null (strstr (err, out));
    assert_true (s_exists (album, "secret.wav"));
    err [0] = 0;
    assert_int_not_equal (deliver_manifest_write_status_beneath (out, rel, NULL, err, sizeof err), 0);
    assert_non_null (strstr (err, out));
    err [0] = 0;
    assert_int_not_equal (deliver_at_beneath (out, ".masterfarm/job-1", "alb", 0, 0,
                                              err, sizeof err), 0);
    assert_non_null (strstr (err, "job-1"));
    assert_true (s_exists (album, "secret.wav"));
    assert_false (s_exists (out, "alb"));
    //  the same layout without the symlink publishes as deliver_at does
    assert_int_equal (unlink (staging), 0);
    char real [1100];
    snprintf (real, sizeof real, "%s/alb", staging);
    s_put (real, "x.wav", "new");
    assert_int_equal (deliver_manifest_write_status_beneath (out, rel, NULL, err, sizeof err), 0);
    assert_int_equal (deliver_at_beneath (out, ".masterfarm/job-1", "alb", 0, 0, err, sizeof err), 0);
    assert_true (s_exists (out, "alb/x.wav"));
    snprintf (real, sizeof real, "%s/alb", out);
    assert_int_equal (deliver_manifest_verify (real, err, sizeof err), 0);
    fsutil_beneath_force_walk (false);
}

static void
test_beneath_job_symlink (void **state)
{
    (void) state;
    s_job_symlink ("deliver_job_link", false);
    s_job_symlink ("deliver_job_link_walk", true);
}


//  The sha256 of the manifest entry for path in album's manifest.json.
static const char *
s_manifest_sha (const char *album, const char *want, char out [65])
{
    char path [1200];
    snprintf (path, sizeof path, "%s/manifest.json", album);
    json_error_t je;
    json_t *m = json_load_file (path, 0, &je);
    assert_non_null (m);
    json_t *files = json_object_get (m, "files");
    out [0] = 0;
    for (size_t i = 0; i < json_array_size (files); i++) {
        json_t *f = json_array_get (files, i);
        if (!strcmp (json_string_value (json_object_get (f, "path")), want))
            snprintf (out, 65, "%s", json_string_value (json_object_get (f, "sha256")));
    }
    json_decref (m);
    return out;
}

//  Digests known from the workers that wrote the files: taken for a file
//  whose path and size match (the file is not read again), ignored for
//  one whose size differs (it is hashed), and files without one are
//  hashed; with true digests the manifest is the one hashing gives.
static void
test_manifest_known (void **state)
{
    (void) state;
    const char *root = testsig_tmpdir ("deliver_known");
    char album [1024], sub [1100], err [512], a [65], b [65];
    snprintf (album, sizeof album, "%s/alb", root);
    snprintf (sub, sizeof sub, "%s/spotify", album);
    s_put (album, "report.json", "{}\n");
    s_put (sub, "01 - One.flac", "fLaC....one");
    s_put (sub, "album.flac", "fLaC....album");
    assert_int_equal (deliver_manifest_write (album, err, sizeof err), 0);
    char one [65], alb [65], rep [65];
    s_manifest_sha (album, "spotify/01 - One.flac", one);
    s_manifest_sha (album, "spotify/album.flac", alb);
    s_manifest_sha (album, "report.json", rep);
    char path [1200];
    snprintf (path, sizeof path, "%s/manifest.json", album);
    char *hashed = NULL;
    size_t n = 0;
    FILE *f = fopen (path, "r");
    assert_int_equal (getdelim (&hashed, &n, 0, f) > 0, 1);
    fclose (f);
    //  the true digests: the same manifest
    deliver_known_t k [2] = { { "spotify/01 - One.flac", 11, one },
                              { "spotify/album.flac", 13, alb } };
    assert_int_equal (deliver_manifest_write_known_beneath (root, "alb", NULL, k, 2, err,
                                                            sizeof err), 0);
    char *again = NULL;
    n = 0;
    f = fopen (path, "r");
    assert_int_equal (getdelim (&again, &n, 0, f) > 0, 1);
    fclose (f);
    assert_string_equal (again, hashed);
    //  a digest is taken as given when path and size match; a size that
    //  does not match the file's leaves it to be hashed
    const char *fake = "0000000000000000000000000000000000000000000000000000000000000001";
    deliver_known_t k2 [2] = { { "spotify/01 - One.flac", 11, fake },
                               { "spotify/album.flac", 14, fake } };
    assert_int_equal (deliver_manifest_write_known_beneath (root, "alb", NULL, k2, 2, err,
                                                            sizeof err), 0);
    assert_string_equal (s_manifest_sha (album, "spotify/01 - One.flac", a), fake);
    assert_string_equal (s_manifest_sha (album, "spotify/album.flac", b), alb);
    assert_string_equal (s_manifest_sha (album, "report.json", a), rep);
    free (hashed);
    free (again);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_layout),
        cmocka_unit_test (test_manifest),
        cmocka_unit_test (test_manifest_known),
        cmocka_unit_test (test_deliver_at),
        cmocka_unit_test (test_prune),
        cmocka_unit_test (test_staging_symlink),
        cmocka_unit_test (test_destination_symlink),
        cmocka_unit_test (test_manifest_symlink),
        cmocka_unit_test (test_beneath_job_symlink),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
