/*  fsutil: mkdir -p, atomic writes (the final name holds the old or the
    complete new contents, temporary files never linger), capped reads,
    the path sandbox (.., absolute paths and symlinks that escape are
    refused) and the slug / safe-name rules.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/fsutil.h"
#include "testsig.h"

//  Counts entries of dir whose name contains needle.
static int
s_count_named (const char *dir, const char *needle)
{
    DIR *d = opendir (dir);
    assert_non_null (d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir (d)))
        if (strstr (e->d_name, needle))
            n++;
    closedir (d);
    return n;
}

//  Creates a file with the given text. Aborts the test on failure.
static void
s_write_text (const char *path, const char *text)
{
    FILE *f = fopen (path, "wb");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
}

//  mkdir -p creates parents, accepts existing folders and refuses a file in the way.
static void
test_mkdir_p (void **state)
{
    char path [1024];
    snprintf (path, sizeof path, "%s/mk/a/b/c", testsig_tmpdir ("fsutil"));
    assert_int_equal (fsutil_mkdir_p (path, 0755), 0);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_true (S_ISDIR (st.st_mode));
    assert_int_equal (fsutil_mkdir_p (path, 0755), 0);            //  exists: fine
    strcat (path, "/");
    assert_int_equal (fsutil_mkdir_p (path, 0755), 0);            //  trailing slash
    assert_int_equal (fsutil_mkdir_p ("", 0755), MF_ERR_INVALID);
    //  a file in the way
    char file [1100];
    snprintf (file, sizeof file, "%s/mk/plain", testsig_tmpdir ("fsutil"));
    s_write_text (file, "x");
    strcat (file, "/sub");
    assert_int_equal (fsutil_mkdir_p (file, 0755), MF_ERR_IO);
}

//  Atomic writes replace contents completely and leave no temporary file.
static void
test_atomic_write (void **state)
{
    const char *dir = testsig_tmpdir ("fsutil");
    char path [1024];
    snprintf (path, sizeof path, "%s/atomic.txt", dir);
    assert_int_equal (fsutil_write_atomic (path, "first", 5), 0);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal (fsutil_read_file (path, 0, &data, &len), 0);
    assert_int_equal (len, 5);
    assert_string_equal (data, "first");
    free (data);

    //  overwrite with something bigger; no temp files remain
    char big [100000];
    memset (big, 'z', sizeof big);
    assert_int_equal (fsutil_write_atomic (path, big, sizeof big), 0);
    assert_int_equal (fsutil_read_file (path, 0, &data, &len), 0);
    assert_int_equal (len, sizeof big);
    assert_memory_equal (data, big, sizeof big);
    free (data);
    assert_int_equal (s_count_named (dir, ".tmp-"), 0);

    //  an empty file is a valid outcome too
    assert_int_equal (fsutil_write_atomic (path, "", 0), 0);
    assert_int_equal (fsutil_read_file (path, 0, &data, &len), 0);
    assert_int_equal (len, 0);
    free (data);

    //  missing folder: error, nothing created
    char bad [1100];
    snprintf (bad, sizeof bad, "%s/no-such-dir/x.txt", dir);
    assert_int_equal (fsutil_write_atomic (bad, "x", 1), MF_ERR_IO);
}

//  A writer process is killed at random moments while it rewrites a file
//  again and again; the file must always hold one complete version.
static void
test_atomic_write_killed (void **state)
{
    const char *dir = testsig_tmpdir ("fsutil-kill");
    char path [1024];
    snprintf (path, sizeof path, "%s/victim.bin", dir);
    static char a [200000], b [200000];
    memset (a, 'a', sizeof a);
    memset (b, 'b', sizeof b);
    assert_int_equal (fsutil_write_atomic (path, a, sizeof a), 0);
    for (int round = 0; round < 5; round++) {
        pid_t pid = fork ();
        assert_true (pid >= 0);
        if (pid == 0) {
            for (int i = 0;; i++)
                fsutil_write_atomic (path, i & 1 ? a : b, sizeof a);
        }
        //  let it run for a while, polling the file meanwhile
        for (int i = 0; i < 20; i++) {
            char *data = NULL;
            size_t len = 0;
            assert_int_equal (fsutil_read_file (path, 0, &data, &len), 0);
            assert_int_equal (len, sizeof a);
            assert_true (memcmp (data, a, len) == 0 || memcmp (data, b, len) == 0);
            free (data);
        }
        kill (pid, SIGKILL);
        int status;
        waitpid (pid, &status, 0);
        char *data = NULL;
        size_t len = 0;
        assert_int_equal (fsutil_read_file (path, 0, &data, &len), 0);
        assert_int_equal (len, sizeof a);
        assert_true (memcmp (data, a, len) == 0 || memcmp (data, b, len) == 0);
        free (data);
    }
    //  the killed writers may have left temporary files; they are cleaned
    //  up, the final file stays
    assert_true (fsutil_clean_temps (dir, true) >= 0);
    assert_int_equal (s_count_named (dir, ".tmp-"), 0);
    assert_int_equal (access (path, F_OK), 0);
}

//  Only temporary files of dead writers are removed unless asked otherwise.
static void
test_clean_temps (void **state)
{
    const char *dir = testsig_tmpdir ("fsutil-clean");
    char p [1200];
    //  a temp file of this (living) process, one of a surely dead pid, and
    //  names that only look alike
    snprintf (p, sizeof p, "%s/a.wav.tmp-%ld-1", dir, (long) getpid ());
    s_write_text (p, "x");
    snprintf (p, sizeof p, "%s/b.wav.tmp-999999999-3", dir);
    s_write_text (p, "x");
    snprintf (p, sizeof p, "%s/c.tmp-notes.txt", dir);
    s_write_text (p, "x");
    snprintf (p, sizeof p, "%s/d.wav.tmp-12-", dir);
    s_write_text (p, "x");
    assert_int_equal (fsutil_clean_temps (dir, true), 1);        //  the dead one
    assert_int_equal (s_count_named (dir, ".tmp-"), 3);
    assert_int_equal (fsutil_clean_temps (dir, false), 1);       //  ours too
    assert_int_equal (s_count_named (dir, ".tmp-"), 2);
    char missing [1200];
    snprintf (missing, sizeof missing, "%s/nope", dir);
    assert_int_equal (fsutil_clean_temps (missing, false), MF_ERR_IO);
}

//  A written temporary file is committed under its final name.
static void
test_commit_temp (void **state)
{
    const char *dir = testsig_tmpdir ("fsutil");
    char final [1024], tmp [1200];
    snprintf (final, sizeof final, "%s/committed.txt", dir);
    assert_int_equal (fsutil_temp_path (final, tmp, sizeof tmp), 0);
    assert_non_null (strstr (tmp, "committed.txt.tmp-"));
    char tmp2 [1200];
    assert_int_equal (fsutil_temp_path (final, tmp2, sizeof tmp2), 0);
    assert_string_not_equal (tmp, tmp2);                           //  unique names
    s_write_text (tmp, "payload");
    assert_int_equal (fsutil_commit_temp (tmp, final), 0);
    assert_int_equal (access (tmp, F_OK), -1);
    char *data;
    assert_int_equal (fsutil_read_file (final, 0, &data, NULL), 0);
    assert_string_equal (data, "payload");
    free (data);
    //  a missing temp file fails
    assert_int_equal (fsutil_commit_temp (tmp, final), MF_ERR_IO);
    char small [8];
    assert_int_equal (fsutil_temp_path (final, small, sizeof small), MF_ERR_INVALID);
}

//  Whole-file reads honour the size cap and refuse folders.
static void
test_read_file (void **state)
{
    const char *dir = testsig_tmpdir ("fsutil");
    char path [1024];
    snprintf (path, sizeof path, "%s/ten.txt", dir);
    s_write_text (path, "0123456789");
    char *data;
    size_t len;
    assert_int_equal (fsutil_read_file (path, 10, &data, &len), 0);
    assert_int_equal (len, 10);
    free (data);
    assert_int_equal (fsutil_read_file (path, 9, &data, &len), MF_ERR_INVALID);
    assert_null (data);
    assert_int_equal (fsutil_read_file (dir, 0, &data, &len), MF_ERR_INVALID);
    snprintf (path, sizeof path, "%s/missing", dir);
    assert_int_equal (fsutil_read_file (path, 0, &data, &len), MF_ERR_IO);
    assert_int_equal (errno, ENOENT);
}

//  Relative, dot-dot-free paths pass the lexical check; others do not.
static void
test_rel_path_ok (void **state)
{
    assert_true (fsutil_rel_path_ok ("a.wav"));
    assert_true (fsutil_rel_path_ok ("album1/01 intro.wav"));
    assert_true (fsutil_rel_path_ok ("a/..b/c..d/...wav"));
    assert_false (fsutil_rel_path_ok (""));
    assert_false (fsutil_rel_path_ok (NULL));
    assert_false (fsutil_rel_path_ok ("/etc/passwd"));
    assert_false (fsutil_rel_path_ok (".."));
    assert_false (fsutil_rel_path_ok ("../x.wav"));
    assert_false (fsutil_rel_path_ok ("a/../../x.wav"));
    assert_false (fsutil_rel_path_ok ("a/.."));
    assert_false (fsutil_rel_path_ok ("a\\..\\x.wav"));
    assert_false (fsutil_rel_path_ok ("a\nb.wav"));
}

//  Paths and symlinks that lead out of the root are refused; those inside pass.
static void
test_sandbox (void **state)
{
    const char *base = testsig_tmpdir ("fsutil-sandbox");
    char root [1024], outside [1024], p [1400], link [1400];
    snprintf (root, sizeof root, "%s/root", base);
    snprintf (outside, sizeof outside, "%s/secret.wav", base);
    snprintf (p, sizeof p, "%s/album", root);
    assert_int_equal (fsutil_mkdir_p (p, 0755), 0);
    snprintf (p, sizeof p, "%s/album/01.wav", root);
    s_write_text (p, "RIFF");
    s_write_text (outside, "RIFF");

    char resolved [4096];
    assert_int_equal (fsutil_path_inside (root, "album/01.wav", resolved, sizeof resolved), 0);
    assert_non_null (strstr (resolved, "/root/album/01.wav"));
    assert_int_equal (fsutil_path_inside (root, "./album/01.wav", NULL, 0), 0);
    assert_int_equal (fsutil_path_inside (root, "../secret.wav", NULL, 0), MF_ERR_INVALID);
    assert_int_equal (fsutil_path_inside (root, outside, NULL, 0), MF_ERR_INVALID);
    assert_int_equal (fsutil_path_inside (root, "album/02.wav", NULL, 0), MF_ERR_NOTFOUND);

    //  a symlink that points out of the root
    snprintf (link, sizeof link, "%s/album/escape.wav", root);
    unlink (link);
    assert_int_equal (symlink (outside, link), 0);
    assert_int_equal (fsutil_path_inside (root, "album/escape.wav", NULL, 0), MF_ERR_INVALID);
    //  a symlinked folder that points out of the root
    snprintf (link, sizeof link, "%s/up", root);
    unlink (link);
    assert_int_equal (symlink ("..", link), 0);
    assert_int_equal (fsutil_path_inside (root, "up/secret.wav", NULL, 0), MF_ERR_INVALID);
    //  a symlink that stays inside is fine
    snprintf (link, sizeof link, "%s/album/alias.wav", root);
    unlink (link);
    assert_int_equal (symlink ("01.wav", link), 0);
    assert_int_equal (fsutil_path_inside (root, "album/alias.wav", NULL, 0), 0);
    //  a sibling folder whose name starts with the root's name is outside
    char sibling [1100];
    snprintf (sibling, sizeof sibling, "%s/root2", base);
    assert_int_equal (fsutil_mkdir_p (sibling, 0755), 0);
    snprintf (p, sizeof p, "%s/x.wav", sibling);
    s_write_text (p, "RIFF");
    snprintf (link, sizeof link, "%s/sib", root);
    unlink (link);
    assert_int_equal (symlink (sibling, link), 0);
    assert_int_equal (fsutil_path_inside (root, "sib/x.wav", NULL, 0), MF_ERR_INVALID);
}

//  Slugs: lower case, Latin letters in ASCII and other scripts' letters
//  as written, no leading dot, bounded (never within a character),
//  stable.
static void
test_slugify (void **state)
{
    char buf [FSUTIL_NAME_MAX + 1];
    assert_string_equal (fsutil_slugify ("Back catalog 1971-1979", buf, sizeof buf),
                         "back-catalog-1971-1979");
    assert_string_equal (fsutil_slugify ("AC/DC: Live!", buf, sizeof buf), "ac-dc-live");
    assert_string_equal (fsutil_slugify ("  ..hidden", buf, sizeof buf), "hidden");
    assert_string_equal (fsutil_slugify ("Caf\xc3\xa9 M\xc3\xbcller \xc3\x86ther", buf, sizeof buf),
                         "cafe-muller-aether");
    //  Japanese, Russian (capitals made small), Greek, Korean: kept
    assert_string_equal (fsutil_slugify ("\xe5\xa4\x9c\xe8\xa1\x8c\xe5\x88\x97\xe8\xbb\x8a "
                                         "\xf0\x9f\x9a\x82", buf, sizeof buf),
                         "\xe5\xa4\x9c\xe8\xa1\x8c\xe5\x88\x97\xe8\xbb\x8a");     //  夜行列車 🚂
    assert_string_equal (fsutil_slugify ("\xd0\x9a\xd0\xb8\xd0\xbd\xd0\xbe: \xd0\x81\xd0\xbb\xd0\xba\xd0\xb0",
                                         buf, sizeof buf),
                         "\xd0\xba\xd0\xb8\xd0\xbd\xd0\xbe-\xd1\x91\xd0\xbb\xd0\xba\xd0\xb0");    //  Кино: Ёлка
    assert_string_equal (fsutil_slugify ("\xce\x9d\xcf\x8d\xcf\x87\xcf\x84\xce\xb1", buf, sizeof buf),
                         "\xce\xbd\xcf\x8d\xcf\x87\xcf\x84\xce\xb1");                   //  Νύχτα
    assert_string_equal (fsutil_slugify ("\xeb\xb0\xa4 1", buf, sizeof buf), "\xeb\xb0\xa4-1");
    //  Central European letters in ASCII; a decomposed accent is dropped
    assert_string_equal (fsutil_slugify ("Dvo\xc5\x99\xc3\xa1k \xc5\x81\xc3\xb3" "d\xc5\xba", buf, sizeof buf),
                         "dvorak-lodz");
    assert_string_equal (fsutil_slugify ("Bjo\xcc\x88rk", buf, sizeof buf), "bjork");
    //  symbols and emoji alone: nothing left
    assert_string_equal (fsutil_slugify ("\xf0\x9f\x9a\x82 \xe2\x99\xaa", buf, sizeof buf), "untitled");
    //  overlong and surrogate forms are not letters
    assert_string_equal (fsutil_slugify ("a\xc0\xaf" "b\xed\xa0\x80" "c", buf, sizeof buf), "a-b-c");
    //  bounded at a whole character
    {
        char cjk [200] = "";
        for (int i = 0; i < 40; i++)
            strcat (cjk, "\xe5\xa4\x9c");
        fsutil_slugify (cjk, buf, sizeof buf);
        assert_int_equal (strlen (buf), 78);                         //  26 whole characters
        assert_int_equal (strncmp (buf, cjk, 78), 0);
    }
    assert_string_equal (fsutil_slugify ("", buf, sizeof buf), "untitled");
    assert_string_equal (fsutil_slugify (NULL, buf, sizeof buf), "untitled");
    assert_string_equal (fsutil_slugify ("\xff\xfe broken", buf, sizeof buf), "broken");
    //  bounded and stable
    char long_title [400];
    memset (long_title, 'x', sizeof long_title - 1);
    long_title [sizeof long_title - 1] = '\0';
    long_title [80] = ' ';
    fsutil_slugify (long_title, buf, sizeof buf);
    assert_int_equal (strlen (buf), 80);
    char again [FSUTIL_NAME_MAX + 1];
    assert_string_equal (fsutil_slugify (long_title, again, sizeof again), buf);
    //  truncation never leaves a trailing dash
    long_title [79] = ' ';
    fsutil_slugify (long_title, buf, sizeof buf);
    assert_int_equal (strlen (buf), 79);
    assert_true (buf [78] == 'x');
    //  small buffer
    char tiny [6];
    assert_string_equal (fsutil_slugify ("Hello World", tiny, sizeof tiny), "hello");
}

//  Safe names keep case and spaces and lose dangerous characters.
//  The checks of fsutil_open_beneath and fsutil_mkdir_beneath, with the
//  component walk forced (walk) or openat2 where the kernel has it.
static void
s_beneath_cases (const char *tag, bool walk)
{
    fsutil_beneath_force_walk (walk);
    const char *base = testsig_tmpdir (tag);
    char root [1024], outdir [1024], p [1400], link [1400];
    snprintf (root, sizeof root, "%s/root", base);
    snprintf (outdir, sizeof outdir, "%s/outside", base);
    snprintf (p, sizeof p, "%s/album", root);
    assert_int_equal (fsutil_mkdir_p (p, 0755), 0);
    assert_int_equal (fsutil_mkdir_p (outdir, 0755), 0);
    snprintf (p, sizeof p, "%s/album/01.wav", root);
    s_write_text (p, "RIFF");
    snprintf (p, sizeof p, "%s/secret.wav", outdir);
    s_write_text (p, "SECRET");

    //  a plain file inside opens
    int fd = fsutil_open_beneath (root, "album/01.wav", O_RDONLY, 0);
    assert_true (fd >= 0);
    char buf [16] = "";
    assert_int_equal (read (fd, buf, 4), 4);
    assert_memory_equal (buf, "RIFF", 4);
    close (fd);
    assert_int_equal (fsutil_open_beneath (root, "album/02.wav", O_RDONLY, 0), MF_ERR_NOTFOUND);
    //  '..' and absolute paths are refused
    errno = 0;
    assert_int_equal (fsutil_open_beneath (root, "../outside/secret.wav", O_RDONLY, 0),
                      MF_ERR_INVALID);
    assert_int_equal (errno, EXDEV);
    assert_int_equal (fsutil_open_beneath (root, p, O_RDONLY, 0), MF_ERR_INVALID);

    //  a file swapped for a symlink to outside the root is refused
    snprintf (link, sizeof link, "%s/album/01.wav", root);
    assert_int_equal (unlink (link), 0);
    assert_int_equal (symlink (p, link), 0);
    errno = 0;
    assert_int_equal (fsutil_open_beneath (root, "album/01.wav", O_RDONLY, 0), MF_ERR_INVALID);
    assert_int_equal (errno, EXDEV);
    char why [160];
    fsutil_beneath_strerror (MF_ERR_INVALID, EXDEV, "input", why, sizeof why);
    assert_non_null (strstr (why, "leaves the input root"));
    //  a relative symlink climbing out is refused as well
    snprintf (link, sizeof link, "%s/album/up.wav", root);
    assert_int_equal (symlink ("../../outside/secret.wav", link), 0);
    assert_int_equal (fsutil_open_beneath (root, "album/up.wav", O_RDONLY, 0), MF_ERR_INVALID);

    //  a symlink that stays inside: followed by openat2, refused by the walk
    snprintf (p, sizeof p, "%s/album/03.wav", root);
    s_write_text (p, "RIFF");
    snprintf (link, sizeof link, "%s/album/alias.wav", root);
    assert_int_equal (symlink ("03.wav", link), 0);
    fd = fsutil_open_beneath (root, "album/alias.wav", O_RDONLY, 0);
    if (walk)
        assert_int_equal (fd, MF_ERR_INVALID);
    else {
        assert_true (fd >= 0);
        close (fd);
    }

    //  a folder swapped for a symlink to outside: opening or creating
    //  beneath it is refused, and nothing is created outside
    snprintf (p, sizeof p, "%s/disc", root);
    assert_int_equal (symlink (outdir, p), 0);
    assert_int_equal (fsutil_open_beneath (root, "disc/secret.wav", O_RDONLY, 0), MF_ERR_INVALID);
    assert_int_equal (fsutil_open_beneath (root, "disc/new.wav",
                                           O_WRONLY | O_CREAT | O_EXCL, 0644), MF_ERR_INVALID);
    assert_int_equal (fsutil_mkdir_beneath (root, "disc/sub", 0755), MF_ERR_INVALID);
    assert_int_equal (s_count_named (outdir, "new"), 0);
    assert_int_equal (s_count_named (outdir, "sub"), 0);

    //  creating under the root is fine, folders included
    assert_int_equal (fsutil_mkdir_beneath (root, "out/a/b", 0755), 0);
    assert_int_equal (fsutil_mkdir_beneath (root, "out/a/b", 0755), 0);
    assert_int_equal (fsutil_mkdir_beneath (root, "", 0755), 0);
    fd = fsutil_open_beneath (root, "out/a/b/x.wav", O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, "x", 1), 1);
    close (fd);
    snprintf (p, sizeof p, "%s/out/a/b/x.wav", root);
    struct stat st;
    assert_int_equal (lstat (p, &st), 0);
    assert_true (S_ISREG (st.st_mode));
    //  an output name that is a symlink is not written through
    snprintf (link, sizeof link, "%s/out/a/b/y.wav", root);
    snprintf (p, sizeof p, "%s/victim.wav", outdir);
    assert_int_equal (symlink (p, link), 0);
    assert_true (fsutil_open_beneath (root, "out/a/b/y.wav", O_WRONLY | O_CREAT, 0644) < 0);
    assert_int_equal (s_count_named (outdir, "victim"), 0);

    //  atomic writes and held folders beneath the root
    assert_int_equal (fsutil_write_atomic_beneath (root, "out/c/w.txt", "abc", 3), 0);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal (fsutil_read_beneath (root, "out/c/w.txt", 0, &data, &len), 0);
    assert_int_equal (len, 3);
    assert_memory_equal (data, "abc", 3);
    free (data);
    assert_int_equal (fsutil_write_atomic_beneath (root, "disc/w.txt", "abc", 3),
                      MF_ERR_INVALID);
    assert_int_equal (fsutil_write_atomic_beneath (root, "disc/d/w.txt", "abc", 3),
                      MF_ERR_INVALID);
    assert_int_equal (s_count_named (outdir, "w.txt"), 0);
    assert_int_equal (fsutil_read_beneath (root, "disc/secret.wav", 0, &data, &len),
                      MF_ERR_INVALID);
    assert_null (data);
    char held [1024];
    assert_int_equal (fsutil_dir_beneath (root, "disc", false, held, sizeof held),
                      MF_ERR_INVALID);
    int dfd = fsutil_dir_beneath (root, "out/held", true, held, sizeof held);
    assert_true (dfd >= 0);
    //  the folder is swapped for a symlink after it was opened: a name
    //  under the held path still lands in the real folder, not outside
    snprintf (p, sizeof p, "%s/out/held", root);
    snprintf (link, sizeof link, "%s/out/held-real", root);
    assert_int_equal (rename (p, link), 0);
    assert_int_equal (symlink (outdir, p), 0);
    snprintf (p, sizeof p, "%s/late.txt", held);
    s_write_text (p, "late");
    close (dfd);
    assert_int_equal (s_count_named (outdir, "late"), 0);
    snprintf (p, sizeof p, "%s/out/held-real/late.txt", root);
    assert_int_equal (lstat (p, &st), 0);
    fsutil_beneath_force_walk (false);
}

//  fsutil_open_beneath through openat2 (or the walk where it is missing).
static void
test_open_beneath (void **state)
{
    s_beneath_cases ("fsutil-beneath", false);
}

//  fsutil_open_beneath through the component walk of kernels without openat2.
static void
test_open_beneath_walk (void **state)
{
    s_beneath_cases ("fsutil-beneath-walk", true);
}

static void
test_safe_name (void **state)
{
    char buf [FSUTIL_NAME_MAX + 1];
    assert_string_equal (fsutil_safe_name ("Intro", buf, sizeof buf), "Intro");
    assert_string_equal (fsutil_safe_name ("AC/DC: Live?", buf, sizeof buf), "AC_DC_ Live_");
    assert_string_equal (fsutil_safe_name (".hidden", buf, sizeof buf), "hidden");
    assert_string_equal (fsutil_safe_name ("...", buf, sizeof buf), "untitled");
    assert_string_equal (fsutil_safe_name ("..", buf, sizeof buf), "untitled");
    assert_string_equal (fsutil_safe_name ("end. ", buf, sizeof buf), "end");
    assert_string_equal (fsutil_safe_name ("Caf\xc3\xa9", buf, sizeof buf), "Cafe");
    //  other scripts' letters as written, case kept; symbols become '_'
    assert_string_equal (fsutil_safe_name ("\xd0\x93\xd1\x80\xd1\x83\xd0\xbf\xd0\xbf\xd0\xb0 "
                                           "\xd0\xba\xd1\x80\xd0\xbe\xd0\xb2\xd0\xb8?", buf, sizeof buf),
                         "\xd0\x93\xd1\x80\xd1\x83\xd0\xbf\xd0\xbf\xd0\xb0 "
                         "\xd0\xba\xd1\x80\xd0\xbe\xd0\xb2\xd0\xb8_");            //  Группа крови?
    assert_string_equal (fsutil_safe_name ("\xe3\x81\x95\xe3\x82\x88\xe3\x81\xaa\xe3\x82\x89 \xe2\x99\xaa",
                                           buf, sizeof buf),
                         "\xe3\x81\x95\xe3\x82\x88\xe3\x81\xaa\xe3\x82\x89 _");         //  さよなら ♪
    assert_string_equal (fsutil_safe_name ("G\xc3\xbcl\xc5\x9f" "en", buf, sizeof buf), "Gulsen");
    {
        char cjk [200] = "";
        for (int i = 0; i < 40; i++)
            strcat (cjk, "\xe3\x81\x95");
        fsutil_safe_name (cjk, buf, sizeof buf);
        assert_int_equal (strlen (buf), 78);                         //  never within a character
    }
    assert_string_equal (fsutil_safe_name ("a\tb", buf, sizeof buf), "a_b");
    char name [200];
    assert_int_equal (fsutil_track_file_name (1, "Intro", "flac", name, sizeof name), 0);
    assert_string_equal (name, "01 - Intro.flac");
    assert_int_equal (fsutil_track_file_name (12, "a/b", "wav", name, sizeof name), 0);
    assert_string_equal (name, "12 - a_b.wav");
    assert_int_equal (fsutil_track_file_name (123, "x", "wav", name, sizeof name), 0);
    assert_string_equal (name, "123 - x.wav");
    assert_int_equal (fsutil_track_file_name (1, "Intro", "flac", name, 8), MF_ERR_INVALID);
}

//  Runs every fsutil test; non-zero exit on any failure.
int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_mkdir_p),
        cmocka_unit_test (test_atomic_write),
        cmocka_unit_test (test_atomic_write_killed),
        cmocka_unit_test (test_clean_temps),
        cmocka_unit_test (test_commit_temp),
        cmocka_unit_test (test_read_file),
        cmocka_unit_test (test_rel_path_ok),
        cmocka_unit_test (test_sandbox),
        cmocka_unit_test (test_open_beneath),
        cmocka_unit_test (test_open_beneath_walk),
        cmocka_unit_test (test_slugify),
        cmocka_unit_test (test_safe_name),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
