/*  Whole-track sample buffers (worker/samples.h).

    - spilled buffers (samples_spill_setup): a buffer from the threshold
      is a shared mapping of an unnamed file in the spill folder, one
      under it is not; growing keeps the samples (a heap buffer that grows
      past the threshold moves into a file), releasing zeroes only the
      pages given back, freeing unmaps; a folder where no file can be made
      leaves the buffer in memory, still usable; no name is left behind.
    - a spilled buffer that cannot grow on its disk: the read that grew it
      fails with the disk's error named (errno kept), not "out of memory".
    - the buffer kept from one track to the next (no fresh pages to clear):
      reused when it fits, its tail given back, the larger kept, none over
      the bound.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "common/err.h"
#include "worker/audio_io.h"
#include "worker/samples.h"

//  Whether p is the start of a mapping of a file in dir (/proc/self/maps
//  names an O_TMPFILE file "dir/#inode (deleted)").
static bool
s_mapped_from (const void *p, const char *dir)
{
    FILE *f = fopen ("/proc/self/maps", "r");
    assert_non_null (f);
    char line [4096];
    bool found = false;
    while (!found && fgets (line, sizeof line, f)) {
        unsigned long lo;
        if (sscanf (line, "%lx-", &lo) == 1 && lo == (unsigned long) (uintptr_t) p)
            found = strstr (line, dir) != NULL;
    }
    fclose (f);
    return found;
}

static void
test_spill_buffers (void **state)
{
    (void) state;
    const char *tmp = getenv ("MF_TEST_TMP");
    char dir [4096];
    snprintf (dir, sizeof dir, "%s/spill-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null (mkdtemp (dir));
    const size_t mib = 1 << 20, n = mib / 2;         //  2 MiB of floats
    samples_spill_setup (dir, mib);

    float *p = samples_alloc (n);
    assert_non_null (p);
    assert_true (s_mapped_from (p, dir));
    for (size_t i = 0; i < n; i++)
        p [i] = (float) i;
    float *q = samples_realloc (p, n, 4 * n);
    assert_non_null (q);
    assert_true (s_mapped_from (q, dir));
    for (size_t i = 0; i < n; i++)
        if (q [i] != (float) i)
            fail_msg ("sample %zu is %g after growing, not %zu", i, q [i], i);
    for (size_t i = n; i < 4 * n; i++)
        q [i] = 1.0f;
    //  pages wholly inside [0, n) read as zeros; the rest is kept
    samples_release (q, 0, n);
    for (size_t i = 0; i < n; i++)
        assert_true (q [i] == 0.0f);
    for (size_t i = n; i < 4 * n; i++)
        assert_true (q [i] == 1.0f);
    samples_free (q);
    assert_false (s_mapped_from (q, dir));

    //  under the threshold: the heap; grown past it: into a file
    float *h = samples_alloc (1000);
    assert_non_null (h);
    assert_false (s_mapped_from (h, dir));
    for (size_t i = 0; i < 1000; i++)
        h [i] = (float) i;
    h = samples_realloc (h, 1000, n);
    assert_non_null (h);
    assert_true (s_mapped_from (h, dir));
    for (size_t i = 0; i < 1000; i++)
        assert_true (h [i] == (float) i);
    audio_t a = { .data = h, .frames = (int64_t) n, .channels = 1, .rate_hz = 44100 };
    audio_free (&a);
    assert_false (s_mapped_from (h, dir));

    //  nowhere to spill: memory as usual (and a warning)
    char gone [4200];
    snprintf (gone, sizeof gone, "%s/missing", dir);
    samples_spill_setup (gone, mib);
    float *m = samples_alloc (n);
    assert_non_null (m);
    assert_false (s_mapped_from (m, gone));
    m [n - 1] = 2.0f;
    samples_free (m);

    samples_spill_setup (NULL, 0);
    float *off = samples_alloc (n);
    assert_false (s_mapped_from (off, dir));
    samples_free (off);
    //  an unnamed file leaves no name behind
    assert_int_equal (rmdir (dir), 0);
}

static void
test_spill_grow_disk_full (void **state)
{
    (void) state;
    const char *tmp = getenv ("MF_TEST_TMP");
    char dir [4096], path [4200];
    snprintf (dir, sizeof dir, "%s/spill-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null (mkdtemp (dir));
    //  5 s of a quiet sine in FLAC: compressed, so its reading starts with
    //  64 Ki frames and grows (the header's count is a claim)
    const int64_t frames = 5 * 44100;
    float *x = malloc ((size_t) frames * 2 * sizeof *x);
    assert_non_null (x);
    for (int64_t i = 0; i < frames; i++)
        x [2 * i] = x [2 * i + 1] = 0.01f * sinf ((float) i * 0.05f);
    audio_t a = { .data = x, .frames = frames, .channels = 2, .rate_hz = 44100 };
    char err [512];
    snprintf (path, sizeof path, "%s/quiet.flac", dir);
    assert_int_equal (audio_write (path, &a, OUT_FLAC, 16, NULL, err, sizeof err), 0);
    free (x);

    //  the file behind the buffer may not grow past 1 MiB (EFBIG stands
    //  in for a full disk: the same failing reservation)
    samples_spill_setup (dir, 256 * 1024);
    struct rlimit old, lim;
    assert_int_equal (getrlimit (RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1 << 20;
    void (*was) (int) = signal (SIGXFSZ, SIG_IGN);
    assert_int_equal (setrlimit (RLIMIT_FSIZE, &lim), 0);
    audio_t in = { 0 };
    errno = 0;
    int rc = audio_read (path, &in, err, sizeof err);
    int e = errno;
    assert_int_equal (setrlimit (RLIMIT_FSIZE, &old), 0);
    signal (SIGXFSZ, was);
    samples_spill_setup (NULL, 0);
    audio_free (&in);
    if (rc != MF_ERR_IO || e != EFBIG)
        fail_msg ("growing past the file limit: rc %d, errno %d (%s): %s", rc, e, strerror (e),
                  err);
    if (!strstr (err, "quiet.flac") || !strstr (err, "no room on disk")
    ||  !strstr (err, strerror (EFBIG)) || strstr (err, "memory"))
        fail_msg ("the message does not name the disk's error: %s", err);
    //  the same file reads whole when the buffer can grow
    assert_int_equal (audio_read (path, &in, err, sizeof err), 0);
    assert_int_equal (in.frames, frames);
    audio_free (&in);
    assert_int_equal (unlink (path), 0);
    assert_int_equal (rmdir (dir), 0);
}

//  The process's resident memory, MB.
static double
s_rss_mb (void)
{
    FILE *f = fopen ("/proc/self/statm", "r");
    assert_non_null (f);
    unsigned long size = 0, res = 0;
    assert_int_equal (fscanf (f, "%lu %lu", &size, &res), 2);
    fclose (f);
    return (double) res * (double) sysconf (_SC_PAGESIZE) / 1048576.0;
}

//  Whether every page of [p, p + bytes) is resident (want true) or none is.
static bool
s_resident (const void *p, size_t bytes, bool want)
{
    const size_t page = (size_t) sysconf (_SC_PAGESIZE);
    size_t n = (bytes + page - 1) / page;
    unsigned char *v = malloc (n);
    assert_non_null (v);
    assert_int_equal (mincore ((void *) p, bytes, v), 0);
    bool all = true;
    for (size_t i = 0; i < n; i++)
        all = all && ((v [i] & 1) != 0) == want;
    free (v);
    return all;
}

//  The buffer kept from one track to the next: a freed 2 MiB-aligned buffer
//  comes back for the next one that fits, its pages past the new size
//  given back; the larger of two freed is kept; one too small for the
//  next is given back; one over the bound is freed for good.
static void
test_keep_buffer (void **state)
{
    (void) state;
    samples_spill_setup (NULL, 0);
    const size_t mb = (1u << 20) / sizeof (float);
    float *a = samples_alloc (24 * mb);
    assert_non_null (a);
    memset (a, 1, 24 * mb * sizeof *a);
    samples_free (a);
    float *b = samples_alloc (24 * mb);
    assert_ptr_equal (b, a);
    samples_free (b);
    //  a smaller one: the same pages, the tail given back
    float *c = samples_alloc (10 * mb + 3);
    assert_ptr_equal (c, a);
    memset (c, 2, (10 * mb + 3) * sizeof *c);
    assert_true (s_resident (c, 12u << 20, true));
    assert_true (s_resident (c + 12 * mb, 12u << 20, false));
    //  one larger while it is in use: a new buffer; freed after it, the
    //  larger one is kept
    float *d = samples_alloc (30 * mb);
    assert_non_null (d);
    assert_ptr_not_equal (d, c);
    memset (d, 3, 30 * mb * sizeof *d);
    samples_free (c);
    samples_free (d);
    float *e = samples_alloc (30 * mb);
    assert_ptr_equal (e, d);
    for (size_t i = 0; i < 30 * mb; i++)
        e [i] = (float) i;                   //  usable as any buffer
    samples_free (e);
    //  past the bound: the kept one, too small, is given back first, and
    //  this one when freed: the process holds 30 MB less than before
    double before = s_rss_mb ();
    float *f = samples_alloc (300 * mb);
    assert_non_null (f);
    samples_free (f);
    double after = s_rss_mb ();
    if (!(after < before - 20.0))
        fail_msg ("resident %.1f MB before, %.1f MB after", before, after);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_spill_buffers),
        cmocka_unit_test (test_spill_grow_disk_full),
        cmocka_unit_test (test_keep_buffer),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
