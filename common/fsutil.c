/*  File system helpers: mkdir -p, atomic writes (temp name in the same
    folder, fsync, rename, fsync the folder), capped whole-file reads, the
    path sandbox (lexical check, then realpath containment so that symlinks
    cannot lead out of a root, checked at submit; and opens beneath a root
    at the moment of use, with openat2 or a walk with O_NOFOLLOW), and
    ASCII slugs for folder and file names.
    See fsutil.h for the contract of each function.  */
#include "common/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined (__linux__)
#   include <linux/openat2.h>
#endif

#include "common/err.h"

//  Counter that makes temporary names unique within the process.
static unsigned long s_temp_counter;

//  Writes the folder part of path into buf ("." when there is none,
//  "/" for a file at the root). Returns 0 or MF_ERR_INVALID if too long.
static int
s_dirname (const char *path, char *buf, size_t size)
{
    const char *slash = strrchr (path, '/');
    if (!slash)
        return snprintf (buf, size, ".") < (int) size ? 0 : MF_ERR_INVALID;
    size_t n = (size_t) (slash - path);
    if (n == 0)
        n = 1;                          //  "/file" -> "/"
    if (n + 1 > size)
        return MF_ERR_INVALID;
    memcpy (buf, path, n);
    buf [n] = '\0';
    return 0;
}

//  Creates every missing folder of path; 0, MF_ERR_INVALID or MF_ERR_IO.
int
fsutil_mkdir_p (const char *path, mode_t mode)
{
    if (!path || !*path)
        return MF_ERR_INVALID;
    size_t len = strlen (path);
    char *copy = malloc (len + 1);
    if (!copy)
        return MF_ERR_NOMEM;
    memcpy (copy, path, len + 1);
    int rc = 0;
    for (size_t i = 1; i <= len && rc == 0; i++) {
        if (copy [i] != '/' && copy [i] != '\0')
            continue;
        char saved = copy [i];
        copy [i] = '\0';
        if (mkdir (copy, mode) != 0) {
            struct stat st;
            int err = errno;
            if (err != EEXIST || stat (copy, &st) != 0 || !S_ISDIR (st.st_mode)) {
                errno = err == EEXIST ? ENOTDIR : err;
                rc = MF_ERR_IO;
            }
        }
        copy [i] = saved;
    }
    free (copy);
    return rc;
}

//  Makes the entries of dir durable; 0 or MF_ERR_IO.
int
fsutil_fsync_dir (const char *dir)
{
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return MF_ERR_IO;
    int rc = fsync (fd) == 0 ? 0 : MF_ERR_IO;
    int saved = errno;
    close (fd);
    errno = saved;
    return rc;
}

//  Names a fresh temporary file next to final_path; 0 or MF_ERR_INVALID.
int
fsutil_temp_path (const char *final_path, char *buf, size_t size)
{
    unsigned long n = __atomic_add_fetch (&s_temp_counter, 1, __ATOMIC_RELAXED);
    int w = snprintf (buf, size, "%s.tmp-%ld-%lu", final_path, (long) getpid (), n);
    return w >= 0 && (size_t) w < size ? 0 : MF_ERR_INVALID;
}

//  Renames tmp over final and fsyncs final's folder; removes tmp on failure.
static int
s_rename_and_sync (const char *tmp_path, const char *final_path)
{
    if (rename (tmp_path, final_path) != 0) {
        int saved = errno;
        unlink (tmp_path);
        errno = saved;
        return MF_ERR_IO;
    }
    char dir [PATH_MAX];
    if (s_dirname (final_path, dir, sizeof dir) != 0)
        return MF_ERR_IO;
    return fsutil_fsync_dir (dir);
}

int
fsutil_write_full (int fd, const void *data, size_t len)
{
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write (fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        left -= (size_t) w;
    }
    return 0;
}

int
fsutil_write_all (int fd, const void *data, size_t len)
{
    return fsutil_write_full (fd, data, len) ? -1 : fsync (fd);
}

//  Writes data under path so that readers see the old or the whole new
//  contents; 0 or MF_ERR_IO with the temporary file removed.
int
fsutil_write_atomic (const char *path, const void *data, size_t len)
{
    char tmp [PATH_MAX];
    if (fsutil_temp_path (path, tmp, sizeof tmp) != 0) {
        errno = ENAMETOOLONG;
        return MF_ERR_IO;
    }
    int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return MF_ERR_IO;
    if (fsutil_write_all (fd, data, len) != 0)
        goto fail;
    if (close (fd) != 0) {
        fd = -1;
        goto fail;
    }
    return s_rename_and_sync (tmp, path);
fail:;
    int saved = errno;
    if (fd >= 0)
        close (fd);
    unlink (tmp);
    errno = saved ? saved : EIO;
    return MF_ERR_IO;
}

//  fsyncs a written temporary file and renames it into place; 0 or MF_ERR_IO.
int
fsutil_commit_temp (const char *tmp_path, const char *final_path)
{
    int fd = open (tmp_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        unlink (tmp_path);
        errno = saved;
        return MF_ERR_IO;
    }
    if (fsync (fd) != 0) {
        int saved = errno;
        close (fd);
        unlink (tmp_path);
        errno = saved;
        return MF_ERR_IO;
    }
    close (fd);
    return s_rename_and_sync (tmp_path, final_path);
}

//  If name ends in ".tmp-<pid>-<n>", returns the pid, else -1.
static long
s_temp_pid (const char *name)
{
    const char *t = NULL;
    for (const char *p = strstr (name, ".tmp-"); p; p = strstr (p + 1, ".tmp-"))
        t = p;                              //  the last one
    if (!t)
        return -1;
    char *end;
    errno = 0;
    long pid = strtol (t + 5, &end, 10);
    if (errno || end == t + 5 || *end != '-' || pid <= 0)
        return -1;
    const char *n = end + 1;
    if (!*n)
        return -1;
    for (; *n; n++)
        if (*n < '0' || *n > '9')
            return -1;
    return pid;
}

//  Removes temporary files left by dead writers; the count or MF_ERR_IO.
int
fsutil_clean_temps (const char *dir, bool only_dead)
{
    DIR *d = opendir (dir);
    if (!d)
        return MF_ERR_IO;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        long pid = s_temp_pid (e->d_name);
        if (pid < 0)
            continue;
        if (only_dead && (kill ((pid_t) pid, 0) == 0 || errno == EPERM))
            continue;                       //  its writer may still be at work
        if (unlinkat (dirfd (d), e->d_name, 0) == 0)
            removed++;
    }
    closedir (d);
    return removed;
}

//  Reads the regular file at fd (closed before returning) of at most
//  max_bytes into a NUL-terminated buffer.
static int
s_read_fd (int fd, size_t max_bytes, char **data_out, size_t *len_out)
{
    *data_out = NULL;
    if (len_out)
        *len_out = 0;
    if (max_bytes == 0)
        max_bytes = FSUTIL_READ_MAX;
    struct stat st;
    if (fstat (fd, &st) != 0) {
        int saved = errno;
        close (fd);
        errno = saved;
        return MF_ERR_IO;
    }
    if (!S_ISREG (st.st_mode) || (uint64_t) st.st_size > max_bytes) {
        close (fd);
        errno = S_ISREG (st.st_mode) ? EFBIG : EINVAL;
        return MF_ERR_INVALID;
    }
    //  the size may change under us: read until EOF, never past the cap
    size_t cap = (size_t) st.st_size + 1, len = 0;
    char *buf = malloc (cap + 1);
    if (!buf) {
        close (fd);
        return MF_ERR_NOMEM;
    }
    for (;;) {
        if (len == cap) {
            if (cap > max_bytes) {
                free (buf);
                close (fd);
                return MF_ERR_INVALID;
            }
            size_t grown = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
            char *bigger = realloc (buf, grown + 1);
            if (!bigger) {
                free (buf);
                close (fd);
                return MF_ERR_NOMEM;
            }
            buf = bigger;
            cap = grown;
        }
        ssize_t r = read (fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;
            free (buf);
            close (fd);
            errno = saved;
            return MF_ERR_IO;
        }
        if (r == 0)
            break;
        len += (size_t) r;
    }
    close (fd);
    if (len > max_bytes) {
        free (buf);
        return MF_ERR_INVALID;
    }
    buf [len] = '\0';
    *data_out = buf;
    if (len_out)
        *len_out = len;
    return 0;
}

//  Reads a regular file of at most max_bytes into a NUL-terminated buffer.
int
fsutil_read_file (const char *path, size_t max_bytes, char **data_out,
                  size_t *len_out)
{
    *data_out = NULL;
    if (len_out)
        *len_out = 0;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return MF_ERR_IO;
    return s_read_fd (fd, max_bytes, data_out, len_out);
}

//  fsutil_read_file of root/rel opened with fsutil_open_beneath.
int
fsutil_read_beneath (const char *root, const char *rel, size_t max_bytes,
                     char **data_out, size_t *len_out)
{
    *data_out = NULL;
    if (len_out)
        *len_out = 0;
    int fd = fsutil_open_beneath (root, rel, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    return s_read_fd (fd, max_bytes, data_out, len_out);
}

//  Lexical check of a spec path: relative, no "..", no control characters.
bool
fsutil_rel_path_ok (const char *rel)
{
    if (!rel || !*rel || rel [0] == '/')
        return false;
    const char *p = rel;
    while (*p) {
        const char *end = strchr (p, '/');
        size_t n = end ? (size_t) (end - p) : strlen (p);
        if (n == 2 && p [0] == '.' && p [1] == '.')
            return false;
        for (size_t i = 0; i < n; i++)
            if (p [i] == '\\' || (unsigned char) p [i] < 0x20)
                return false;
        p += n;
        if (*p == '/')
            p++;
    }
    return true;
}

//  Resolves root/rel through every symlink and checks it stays under root.
int
fsutil_path_inside (const char *root, const char *rel, char *resolved,
                    size_t size)
{
    if (!root || !fsutil_rel_path_ok (rel))
        return MF_ERR_INVALID;
    char root_real [PATH_MAX], joined [PATH_MAX], full [PATH_MAX];
    if (!realpath (root, root_real))
        return MF_ERR_IO;
    int w = snprintf (joined, sizeof joined, "%s/%s", root_real, rel);
    if (w < 0 || (size_t) w >= sizeof joined)
        return MF_ERR_INVALID;
    if (!realpath (joined, full))
        return errno == ENOENT || errno == ENOTDIR ? MF_ERR_NOTFOUND : MF_ERR_IO;
    size_t n = strlen (root_real);
    bool inside = strcmp (root_real, "/") == 0
               || (strncmp (full, root_real, n) == 0 && (full [n] == '/' || full [n] == '\0'));
    if (!inside)
        return MF_ERR_INVALID;
    if (resolved) {
        if (strlen (full) + 1 > size)
            return MF_ERR_IO;
        memcpy (resolved, full, strlen (full) + 1);
    }
    return 0;
}

//  Set by fsutil_beneath_force_walk, or once openat2 reported ENOSYS.
static bool s_beneath_walk;

//  Test hook: forces the component walk instead of openat2.
void
fsutil_beneath_force_walk (bool walk)
{
    __atomic_store_n (&s_beneath_walk, walk, __ATOMIC_RELAXED);
}

//  Opens one component name in folder dirfd without following a symlink
//  there. A symlink (ELOOP from O_NOFOLLOW, or a directory open that finds
//  a non-folder symlink) becomes EXDEV. Returns the fd or -1 with errno.
static int
s_open_component (int dirfd, const char *name, int flags, mode_t mode)
{
    if (strcmp (name, "..") == 0) {
        errno = EXDEV;
        return -1;
    }
    int fd = openat (dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        int err = errno;
        struct stat st;
        if (err == ELOOP
        ||  (err == ENOTDIR && fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
                            && S_ISLNK (st.st_mode)))
            err = EXDEV;
        errno = err;
    }
    return fd;
}

//  Walks rel under the folder rootfd component by component (no symlink,
//  no ".."); with make_dirs, missing folders are created (and the last
//  component too, as a folder). Opens the last component with flags.
//  Returns the fd or -1 with errno.
static int
s_walk (int rootfd, const char *rel, int flags, mode_t mode, bool make_dirs)
{
    char *copy = strdup (rel);
    if (!copy) {
        errno = ENOMEM;
        return -1;
    }
    int dirfd = dup (rootfd);
    if (dirfd < 0) {
        free (copy);
        return -1;
    }
    char *save = NULL;
    char *name = strtok_r (copy, "/", &save);
    int fd = -1;
    while (name) {
        char *next = strtok_r (NULL, "/", &save);
        if (strcmp (name, ".") == 0 && next) {
            name = next;
            continue;
        }
        bool last = next == NULL;
        if (make_dirs && strcmp (name, ".") != 0
        &&  mkdirat (dirfd, name, mode) != 0 && errno != EEXIST) {
            fd = -1;
            break;
        }
        fd = last && !make_dirs
           ? s_open_component (dirfd, name, flags, mode)
           : s_open_component (dirfd, name, O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0 || last)
            break;
        close (dirfd);
        dirfd = fd;
        fd = -1;
        name = next;
    }
    int saved = errno;
    close (dirfd);
    free (copy);
    errno = saved;
    return fd;
}

//  openat2 beneath rootfd; -1 with errno (ENOSYS: no openat2 here).
static int
s_openat2 (int rootfd, const char *rel, int flags, mode_t mode)
{
#if defined (__linux__) && defined (SYS_openat2)
    struct open_how how;
    memset (&how, 0, sizeof how);
    how.flags = (uint64_t) (flags | O_CLOEXEC);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd;
    do
        fd = syscall (SYS_openat2, rootfd, rel, &how, sizeof how);
    while (fd < 0 && errno == EAGAIN);
    return (int) fd;
#else
    (void) rootfd; (void) rel; (void) flags; (void) mode;
    errno = ENOSYS;
    return -1;
#endif
}

//  Maps a failed open's errno to the module's codes (errno kept).
static int
s_beneath_code (void)
{
    if (errno == EXDEV || errno == ELOOP) {
        errno = EXDEV;                  //  a symlink out, or a magic link
        return MF_ERR_INVALID;
    }
    if (errno == ENOENT)
        return MF_ERR_NOTFOUND;
    return MF_ERR_IO;
}

//  Opens root/rel with nothing outside root reachable; fd or an error.
int
fsutil_open_beneath (const char *root, const char *rel, int flags, mode_t mode)
{
    if (!root || !*root || !fsutil_rel_path_ok (rel)) {
        errno = EXDEV;
        return MF_ERR_INVALID;
    }
    int rootfd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return s_beneath_code ();
    int fd = -1;
    bool walk = __atomic_load_n (&s_beneath_walk, __ATOMIC_RELAXED);
    if (!walk) {
        fd = s_openat2 (rootfd, rel, flags, mode);
        if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {
            walk = true;                //  no openat2 (or a filter forbids it)
            __atomic_store_n (&s_beneath_walk, true, __ATOMIC_RELAXED);
        }
    }
    if (fd < 0 && walk)
        fd = s_walk (rootfd, rel, flags, mode, false);
    int saved = errno;
    close (rootfd);
    errno = saved;
    return fd >= 0 ? fd : s_beneath_code ();
}

//  mkdir -p under root without leaving it; 0 or an error.
int
fsutil_mkdir_beneath (const char *root, const char *rel_dir, mode_t mode)
{
    if (!root || !*root || !rel_dir) {
        errno = EXDEV;
        return MF_ERR_INVALID;
    }
    if (!*rel_dir || strcmp (rel_dir, ".") == 0)
        rel_dir = ".";
    else
    if (!fsutil_rel_path_ok (rel_dir)) {
        errno = EXDEV;
        return MF_ERR_INVALID;
    }
    int rootfd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return s_beneath_code ();
    //  The walk creates each folder with mkdirat in a folder it holds open
    //  without following a symlink; so it is right under openat2 too.
    int fd = s_walk (rootfd, rel_dir, O_RDONLY | O_DIRECTORY, mode, true);
    int saved = errno;
    close (rootfd);
    errno = saved;
    if (fd < 0)
        return s_beneath_code ();
    close (fd);
    return 0;
}

//  fsutil_write_atomic of root/rel with every folder made and opened
//  beneath root; 0 or an error.
int
fsutil_write_atomic_beneath (const char *root, const char *rel, const void *data,
                             size_t len)
{
    if (!root || !fsutil_rel_path_ok (rel)) {
        errno = EXDEV;
        return MF_ERR_INVALID;
    }
    char dir [PATH_MAX];
    const char *slash = strrchr (rel, '/');
    const char *name = slash ? slash + 1 : rel;
    size_t n = slash ? (size_t) (slash - rel) : 0;
    if (n + 1 > sizeof dir || !*name) {
        errno = ENAMETOOLONG;
        return MF_ERR_IO;
    }
    memcpy (dir, rel, n);
    dir [n] = '\0';
    int rc = fsutil_mkdir_beneath (root, dir, 0755);
    if (rc)
        return rc;
    int dirfd = fsutil_open_beneath (root, n ? dir : ".", O_RDONLY | O_DIRECTORY, 0);
    if (dirfd < 0)
        return dirfd;
    char tmp [NAME_MAX + 64];
    if (fsutil_temp_path (name, tmp, sizeof tmp) != 0) {
        close (dirfd);
        errno = ENAMETOOLONG;
        return MF_ERR_IO;
    }
    int fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    rc = fd >= 0 ? 0 : MF_ERR_IO;
    if (!rc && fsutil_write_all (fd, data, len) != 0)
        rc = MF_ERR_IO;
    if (fd >= 0 && close (fd) != 0 && !rc)
        rc = MF_ERR_IO;
    if (!rc && renameat (dirfd, tmp, dirfd, name) != 0)
        rc = MF_ERR_IO;
    if (!rc && fsync (dirfd) != 0)
        rc = MF_ERR_IO;
    int saved = errno;
    if (rc && fd >= 0)
        unlinkat (dirfd, tmp, 0);
    close (dirfd);
    errno = saved;
    return rc;
}

//  Opens (with create, makes) root/rel_dir beneath root and names it by
//  its descriptor; the fd or an error.
int
fsutil_dir_beneath (const char *root, const char *rel_dir, bool create,
                    char *path, size_t size)
{
    if (create) {
        int rc = fsutil_mkdir_beneath (root, rel_dir, 0755);
        if (rc)
            return rc;
    }
    int fd = fsutil_open_beneath (root, rel_dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return fd;
    char probe [64];
    snprintf (probe, sizeof probe, "/proc/self/fd/%d", fd);
    struct stat a, b;
    bool proc = stat (probe, &a) == 0 && fstat (fd, &b) == 0
             && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    int w = proc ? snprintf (path, size, "%s", probe)
                 : snprintf (path, size, "%s/%s", root, rel_dir);
    if (w < 0 || (size_t) w >= size) {
        close (fd);
        errno = ENAMETOOLONG;
        return MF_ERR_IO;
    }
    return fd;
}

//  One line for a failed open beneath a root.
const char *
fsutil_beneath_strerror (int rc, int err, const char *what, char *buf, size_t size)
{
    if (rc == MF_ERR_INVALID || err == EXDEV)
        snprintf (buf, size, "path leaves the %s root (symlink or '..')", what ? what : "");
    else
    if (rc == MF_ERR_NOTFOUND)
        snprintf (buf, size, "no such file or folder");
    else
        snprintf (buf, size, "%s", strerror (err));
    return buf;
}

//  ASCII spelling of U+00C0 .. U+00FF (Latin-1 letters); NULL: no letter.
static const char *const s_latin1 [64] = {
    "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I",
    "D", "N", "O", "O", "O", "O", "O", NULL, "O", "U", "U", "U", "U", "Y", "TH", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "y"
};

//  ASCII letter of U+0100 .. U+017F (Latin Extended-A: Central European,
//  Baltic, Turkish letters); '2' marks the ligatures IJ ij OE oe.
static const char s_latin_a [] =
    "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi22JjKkkLlLlLlL"
    "lLlNnNnNnnNnOoOoOo22RrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";

//  True for a code point of a script without an ASCII spelling here
//  whose letters and digits a name keeps as they are: Latin Extended-B
//  and Additional (Vietnamese), Greek, Cyrillic, Armenian, Hebrew, Arabic,
//  the Indic scripts, Thai, Georgian, Hangul, kana, CJK ideographs, and
//  fullwidth letters and digits. Symbols, emoji, punctuation and
//  controls are not kept.
static bool
s_kept_letter (uint32_t cp)
{
    return (cp >= 0x180 && cp <= 0x24F) || (cp >= 0x370 && cp <= 0x3FF && cp != 0x37E
                                                && cp != 0x387)
        || (cp >= 0x400 && cp <= 0x52F && (cp < 0x482 || cp > 0x489))
        || (cp >= 0x531 && cp <= 0x587) || (cp >= 0x5D0 && cp <= 0x5EA)
        || (cp >= 0x620 && cp <= 0x64A) || (cp >= 0x660 && cp <= 0x669)
        || (cp >= 0x671 && cp <= 0x6D3) || (cp >= 0x900 && cp <= 0xDFF)
        || (cp >= 0xE01 && cp <= 0xE5B) || (cp >= 0x10A0 && cp <= 0x10FF)
        || (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0x1E00 && cp <= 0x1EFF)
        || (cp >= 0x3041 && cp <= 0x3096) || (cp >= 0x30A1 && cp <= 0x30FA)
        || cp == 0x30FC || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF)
        || (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF)
        || (cp >= 0xFF10 && cp <= 0xFF19) || (cp >= 0xFF21 && cp <= 0xFF3A)
        || (cp >= 0xFF41 && cp <= 0xFF5A) || (cp >= 0xFF66 && cp <= 0xFF9D);
}

//  Reads one character of UTF-8 text at *p and advances *p past it.
//  Returns how a name spells it: in one (at least 5 bytes), the ASCII
//  character itself or, for a letter of a script kept as it is
//  (s_kept_letter), its UTF-8 bytes (*kept set; Greek and Cyrillic
//  capitals made small when lower); else a transliteration; "" for a
//  combining mark (the accent of a decomposed letter: "o" then U+0308
//  reads "o"); NULL for a character with none (symbols, punctuation,
//  controls, and bytes that are not valid UTF-8, consumed one at a time).
static const char *
s_next_char (const unsigned char **p, char one [5], bool lower, bool *kept)
{
    const unsigned char *s = *p;
    *kept = false;
    if (s [0] < 0x80) {
        one [0] = (char) s [0];
        one [1] = '\0';
        *p = s + 1;
        return one;
    }
    int n = s [0] >= 0xF0 && s [0] < 0xF8 ? 4 : s [0] >= 0xE0 ? 3 : s [0] >= 0xC0 ? 2 : 1;
    for (int i = 1; i < n; i++)
        if ((s [i] & 0xC0) != 0x80) {
            n = 1;                          //  broken sequence: skip the lead byte
            break;
        }
    *p = s + n;
    uint32_t cp = n == 2 ? (uint32_t) (s [0] & 0x1F) << 6 | (s [1] & 0x3F)
                : n == 3 ? (uint32_t) (s [0] & 0x0F) << 12 | (uint32_t) (s [1] & 0x3F) << 6
                           | (s [2] & 0x3F)
                : n == 4 ? (uint32_t) (s [0] & 0x07) << 18 | (uint32_t) (s [1] & 0x3F) << 12
                           | (uint32_t) (s [2] & 0x3F) << 6 | (s [3] & 0x3F)
                : 0;
    //  overlong forms and surrogates are not text
    if (n == 1 || (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
    ||  (cp >= 0xD800 && cp <= 0xDFFF))
        return NULL;
    if (cp >= 0xC0 && cp <= 0xFF)
        return s_latin1 [cp - 0xC0];
    if (cp >= 0x100 && cp <= 0x17F) {
        char c = s_latin_a [cp - 0x100];
        if (c == '2')
            return cp == 0x132 ? "IJ" : cp == 0x133 ? "ij" : cp == 0x152 ? "OE" : "oe";
        one [0] = c;
        one [1] = '\0';
        return one;
    }
    if ((cp >= 0x300 && cp <= 0x36F) || (cp >= 0x1AB0 && cp <= 0x1AFF)
    ||  (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0xFE20 && cp <= 0xFE2F))
        return "";
    if (!s_kept_letter (cp))
        return NULL;
    if (lower) {
        if ((cp >= 0x391 && cp <= 0x3A9) || (cp >= 0x410 && cp <= 0x42F))
            cp += 0x20;
        else
        if (cp >= 0x400 && cp <= 0x40F)
            cp += 0x50;
    }
    if (cp < 0x800) {
        one [0] = (char) (0xC0 | cp >> 6);
        one [1] = (char) (0x80 | (cp & 0x3F));
        one [2] = '\0';
    }
    else {
        memcpy (one, s, (size_t) n);        //  no case below: as written
        one [n] = '\0';
    }
    *kept = true;
    return one;
}

//  Lower-case ASCII folder name of a title, at most FSUTIL_NAME_MAX bytes.
char *
fsutil_slugify (const char *title, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    size_t limit = size - 1 < FSUTIL_NAME_MAX ? size - 1 : FSUTIL_NAME_MAX;
    size_t len = 0;
    bool dash = false;                  //  a separator is pending
    const unsigned char *p = (const unsigned char *) (title ? title : "");
    char one [5];
    bool full = false;
    while (*p && !full) {
        bool kept;
        const char *a = s_next_char (&p, one, true, &kept);
        if (kept) {                         //  a letter of another script, whole
            size_t k = strlen (a), need = (dash && len > 0 ? 1 : 0) + k;
            if (len + need > limit) {
                full = true;
                break;
            }
            if (dash && len > 0)
                buf [len++] = '-';
            dash = false;
            memcpy (buf + len, a, k);
            len += k;
            continue;
        }
        for (; a && *a && !full; a++) {
            char c = *a;
            if (c >= 'A' && c <= 'Z')
                c = (char) (c - 'A' + 'a');
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
                size_t need = dash && len > 0 ? 2 : 1;
                if (len + need > limit) {
                    full = true;
                    break;
                }
                if (need == 2)
                    buf [len++] = '-';
                dash = false;
                buf [len++] = c;
            }
            else
                dash = true;
        }
        if (!a)
            dash = true;
    }
    while (len > 0 && buf [len - 1] == '-')
        len--;
    buf [len] = '\0';
    if (len == 0)
        snprintf (buf, size, "untitled");
    return buf;
}

//  File-name-safe ASCII form of a title that keeps case and spaces.
char *
fsutil_safe_name (const char *title, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    size_t limit = size - 1 < FSUTIL_NAME_MAX ? size - 1 : FSUTIL_NAME_MAX;
    size_t len = 0;
    const unsigned char *p = (const unsigned char *) (title ? title : "");
    char one [5];
    while (*p && len < limit) {
        bool kept;
        const char *a = s_next_char (&p, one, false, &kept);
        if (kept) {                         //  a letter of another script, whole
            size_t k = strlen (a);
            if (len + k > limit)
                break;
            memcpy (buf + len, a, k);
            len += k;
            continue;
        }
        if (!a)
            a = "_";
        for (; *a && len < limit; a++) {
            char c = *a;
            if (strchr ("/\\:*?\"<>|", c) || (unsigned char) c < 0x20 || c == 0x7f)
                c = '_';
            if (len == 0 && (c == '.' || c == ' '))
                continue;                   //  no hidden files, no leading blanks
            buf [len++] = c;
        }
    }
    while (len > 0 && (buf [len - 1] == '.' || buf [len - 1] == ' '))
        len--;
    buf [len] = '\0';
    if (len == 0)
        snprintf (buf, size, "untitled");
    return buf;
}

//  "NN - <title>.<ext>"; 0 or MF_ERR_INVALID if buf is too small.
int
fsutil_track_file_name (int number, const char *title, const char *ext,
                        char *buf, size_t size)
{
    char safe [FSUTIL_NAME_MAX + 1];
    fsutil_safe_name (title, safe, sizeof safe);
    int w = ext && *ext
          ? snprintf (buf, size, "%02d - %s.%s", number, safe, ext)
          : snprintf (buf, size, "%02d - %s", number, safe);
    return w >= 0 && (size_t) w < size ? 0 : MF_ERR_INVALID;
}
