/*  broker/cache: keys, the input status shortcut (a file changed, or
    changed too recently to be trusted, is not found), analyses, masters
    linked into place whole, entries that do not check out are misses,
    a master put or got again where the same file is already linked
    leaves no temporary name behind, and the sweep of unused entries.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/cache.h"
#include "common/fsutil.h"

//  A scratch folder with in/ and out/ under MF_TEST_TMP.
static void
s_roots (char *in, char *out, size_t size)
{
    const char *tmp = getenv ("MF_TEST_TMP");
    char root [400];
    snprintf (root, sizeof root, "%s/test_cache.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null (mkdtemp (root));
    snprintf (in, size, "%s/in", root);
    snprintf (out, size, "%s/out", root);
    assert_int_equal (mkdir (in, 0755), 0);
    assert_int_equal (mkdir (out, 0755), 0);
}

static void
s_write (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
}

//  Sets a file's times back by ago seconds (ctime cannot be set back:
//  tests that need an old ctime wait instead).
static void
s_age (const char *path, int ago)
{
    struct timespec ts [2];
    clock_gettime (CLOCK_REALTIME, &ts [0]);
    ts [0].tv_sec -= ago;
    ts [1] = ts [0];
    assert_int_equal (utimensat (AT_FDCWD, path, ts, 0), 0);
}

static void
test_cache_key (void **state)
{
    (void) state;
    char k1 [SHA256_HEX_SIZE], k2 [SHA256_HEX_SIZE], k3 [SHA256_HEX_SIZE];
    const void *a [] = { "ab", "c" }, *b [] = { "a", "bc" };
    size_t la [] = { 2, 1 }, lb [] = { 1, 2 };
    cache_key (k1, "master", a, la, 2);
    cache_key (k2, "master", b, lb, 2);
    cache_key (k3, "analysis", a, la, 2);
    assert_int_equal (strlen (k1), 64);
    //  the parts are length-prefixed: "ab"+"c" is not "a"+"bc"
    assert_string_not_equal (k1, k2);
    assert_string_not_equal (k1, k3);
    cache_key (k2, "master", a, la, 2);
    assert_string_equal (k1, k2);
}

static void
test_cache_input (void **state)
{
    (void) state;
    char in [512], out [512], path [600];
    s_roots (in, out, sizeof in);
    snprintf (path, sizeof path, "%s/a.wav", in);
    s_write (path, "first");
    const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char got [SHA256_HEX_SIZE];

    //  just written: too recent to be trusted by its status
    cache_stat_t st;
    cache_stat_input (in, "a.wav", &st);
    assert_false (st.ok);
    cache_input_put (out, "a.wav", &st, sha);
    assert_false (cache_input_get (out, "a.wav", &st, got));

    //  older than CACHE_RACY_S (mtime set back, ctime waited out)
    s_age (path, 60);
    sleep (CACHE_RACY_S + 1);
    cache_stat_input (in, "a.wav", &st);
    assert_true (st.ok);
    cache_input_put (out, "a.wav", &st, sha);
    cache_stat_t again;
    cache_stat_input (in, "a.wav", &again);
    assert_true (cache_input_get (out, "a.wav", &again, got));
    assert_string_equal (got, sha);
    assert_false (cache_input_get (out, "b.wav", &again, got));

    //  rewritten with the same size and its old mtime put back: the
    //  change time still tells
    s_write (path, "other");
    s_age (path, 60);
    cache_stat_input (in, "a.wav", &again);
    assert_false (cache_input_get (out, "a.wav", &again, got));

    //  a missing input: no status
    cache_stat_input (in, "missing.wav", &st);
    assert_false (st.ok);
    //  a path leaving the root: no status
    cache_stat_input (in, "../out/x", &st);
    assert_false (st.ok);
}

static void
test_cache_analysis (void **state)
{
    (void) state;
    char in [512], out [512];
    s_roots (in, out, sizeof in);
    char key [SHA256_HEX_SIZE], *data = NULL;
    size_t size = 0;
    const void *parts [] = { "x" };
    size_t lens [] = { 1 };
    cache_key (key, "analysis", parts, lens, 1);
    assert_false (cache_analysis_get (out, key, &data, &size));
    const uint8_t blob [] = { 0, 1, 2, 0, 255 };
    cache_analysis_put (out, key, blob, sizeof blob);
    assert_true (cache_analysis_get (out, key, &data, &size));
    assert_int_equal (size, sizeof blob);
    assert_memory_equal (data, blob, sizeof blob);
    free (data);
}

static void
test_cache_master (void **state)
{
    (void) state;
    char in [512], out [512], path [700];
    s_roots (in, out, sizeof in);
    snprintf (path, sizeof path, "%s/job-1", out);
    assert_int_equal (mkdir (path, 0755), 0);
    snprintf (path, sizeof path, "%s/job-1/t1.wav", out);
    s_write (path, "intermediate audio");
    const char *sha = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    char key [SHA256_HEX_SIZE], got [SHA256_HEX_SIZE], *report = NULL;
    int64_t bytes = 0;
    const void *parts [] = { "m" };
    size_t lens [] = { 1 };
    cache_key (key, "master", parts, lens, 1);

    //  a size that is not the file's: nothing recorded
    cache_master_put (out, key, "job-1/t1.wav", "{}", 5, sha);
    assert_false (cache_master_get (out, key, "job-2/t1.wav", &report, &bytes, got));

    cache_master_put (out, key, "job-1/t1.wav", "{\"r\":1}", 18, sha);
    //  the job's folder goes (cleanup): the cache keeps its link
    assert_int_equal (unlink (path), 0);
    assert_true (cache_master_get (out, key, "job-2/work/t1.wav", &report, &bytes, got));
    assert_string_equal (report, "{\"r\":1}");
    assert_int_equal (bytes, 18);
    assert_string_equal (got, sha);
    free (report);
    snprintf (path, sizeof path, "%s/job-2/work/t1.wav", out);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal (fsutil_read_file (path, 1000, &text, &len), 0);
    assert_int_equal (len, 18);
    assert_memory_equal (text, "intermediate audio", 18);
    free (text);

    //  the cached file cut short: a miss, the destination left alone
    snprintf (path, sizeof path, "%s/" CACHE_DIR "/m-%s.wav", out, key);
    assert_int_equal (truncate (path, 4), 0);
    assert_false (cache_master_get (out, key, "job-3/t1.wav", &report, &bytes, got));
    assert_null (report);
    snprintf (path, sizeof path, "%s/job-3/t1.wav", out);
    assert_int_not_equal (access (path, F_OK), 0);

    //  a description that does not parse: a miss
    snprintf (path, sizeof path, "%s/" CACHE_DIR "/m-%s.json", out, key);
    s_write (path, "{\"report\": ");
    assert_false (cache_master_get (out, key, "job-4/t1.wav", &report, &bytes, got));
}

//  The names in dir that start with a dot (temporary names), "." and
//  ".." aside.
static int
s_hidden (const char *dir)
{
    DIR *d = opendir (dir);
    assert_non_null (d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir (d)))
        if (e->d_name [0] == '.' && strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
            n++;
    closedir (d);
    return n;
}

//  A broker that restarts puts a master again whose intermediate is
//  already the cache's file (one inode, two links), and gets into a
//  place that already holds it: rename () of a link onto another link
//  of the same file does nothing, and the temporary name must still go.
static void
test_cache_master_again (void **state)
{
    (void) state;
    char in [512], out [512], path [700], dir [700];
    s_roots (in, out, sizeof in);
    snprintf (path, sizeof path, "%s/job-1", out);
    assert_int_equal (mkdir (path, 0755), 0);
    snprintf (path, sizeof path, "%s/job-1/t1.wav", out);
    s_write (path, "intermediate audio");
    const char *sha = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    char key [SHA256_HEX_SIZE], got [SHA256_HEX_SIZE], *report = NULL;
    int64_t bytes = 0;
    const void *parts [] = { "again" };
    size_t lens [] = { 5 };
    cache_key (key, "master", parts, lens, 1);
    cache_master_put (out, key, "job-1/t1.wav", "{}", 18, sha);
    cache_master_put (out, key, "job-1/t1.wav", "{}", 18, sha);
    snprintf (dir, sizeof dir, "%s/" CACHE_DIR, out);
    assert_int_equal (s_hidden (dir), 0);
    assert_true (cache_master_get (out, key, "job-1/t1.wav", &report, &bytes, got));
    free (report);
    snprintf (dir, sizeof dir, "%s/job-1", out);
    assert_int_equal (s_hidden (dir), 0);
}

static void
test_cache_sweep (void **state)
{
    (void) state;
    char in [512], out [512], path [700];
    s_roots (in, out, sizeof in);
    const char *names [] = { "a-old.pb", "a-new.pb", ".a-x.pb.tmp-1" };
    const uint8_t blob [] = { 1 };
    char key [SHA256_HEX_SIZE];
    const void *parts [] = { "y" };
    size_t lens [] = { 1 };
    cache_key (key, "analysis", parts, lens, 1);
    cache_analysis_put (out, key, blob, 1);          //  makes the folder
    for (int i = 0; i < 3; i++) {
        snprintf (path, sizeof path, "%s/" CACHE_DIR "/%s", out, names [i]);
        s_write (path, "x");
    }
    snprintf (path, sizeof path, "%s/" CACHE_DIR "/a-old.pb", out);
    s_age (path, 10 * 86400);
    snprintf (path, sizeof path, "%s/" CACHE_DIR "/.a-x.pb.tmp-1", out);
    s_age (path, 7200);
    assert_int_equal (cache_sweep (out, 7 * 86400), 2);
    snprintf (path, sizeof path, "%s/" CACHE_DIR "/a-new.pb", out);
    assert_int_equal (access (path, F_OK), 0);
    char *data = NULL;
    size_t size = 0;
    assert_true (cache_analysis_get (out, key, &data, &size));
    free (data);
    //  nothing to sweep where there is no cache
    assert_int_equal (cache_sweep (in, 0), 0);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_cache_key),
        cmocka_unit_test (test_cache_input),
        cmocka_unit_test (test_cache_analysis),
        cmocka_unit_test (test_cache_master),
        cmocka_unit_test (test_cache_master_again),
        cmocka_unit_test (test_cache_sweep),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
