/*  The reuse cache (see cache.h): files under OUTPUT_ROOT/.masterfarm/
    cache, reached through a descriptor of that folder opened beneath the
    output root, written under temporary names and renamed into place.  */
#include "broker/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "common/err.h"
#include "common/fsutil.h"
#include "common/log.h"

#define S_MAX_SMALL  (64 << 20)     //  largest analysis or report read back

//  The cache folder, opened beneath the output root (made with create).
//  Returns a descriptor or -1.
static int
s_dir (const char *out_root, bool create)
{
    if (create && fsutil_mkdir_beneath (out_root, CACHE_DIR, 0755))
        return -1;
    int fd = fsutil_open_beneath (out_root, CACHE_DIR, O_RDONLY | O_DIRECTORY, 0);
    return fd < 0 ? -1 : fd;
}

//  Opens the folder of an output-root-relative file path beneath the root
//  and points *base at the file's name in rel. Returns a descriptor or -1.
static int
s_parent (const char *out_root, const char *rel, bool create, const char **base)
{
    const char *slash = strrchr (rel, '/');
    char dir [4096];
    if (!slash || (size_t) (slash - rel) >= sizeof dir || !slash [1])
        return -1;
    memcpy (dir, rel, (size_t) (slash - rel));
    dir [slash - rel] = '\0';
    *base = slash + 1;
    if (create && fsutil_mkdir_beneath (out_root, dir, 0755))
        return -1;
    int fd = fsutil_open_beneath (out_root, dir, O_RDONLY | O_DIRECTORY, 0);
    return fd < 0 ? -1 : fd;
}

//  A temporary name for name in the cache folder.
static void
s_tmp_name (const char *name, char *buf, size_t size)
{
    snprintf (buf, size, ".%s.tmp-%ld", name, (long) getpid ());
}

//  Writes data to dfd/name atomically (temporary file, fsync, rename,
//  fsync of the folder). Returns 0 or -1.
static int
s_write_at (int dfd, const char *name, const void *data, size_t len)
{
    char tmp [256];
    s_tmp_name (name, tmp, sizeof tmp);
    unlinkat (dfd, tmp, 0);
    int fd = openat (dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int rc = fsutil_write_all (fd, data, len);
    close (fd);
    if (!rc && renameat (dfd, tmp, dfd, name))
        rc = -1;
    if (rc)
        unlinkat (dfd, tmp, 0);
    else
        fsync (dfd);
    return rc;
}

//  Reads the regular file dfd/name whole (at most S_MAX_SMALL bytes).
//  Returns a NUL-terminated copy (free it) with *len, or NULL.
static char *
s_read_at (int dfd, const char *name, size_t *len)
{
    int fd = openat (dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *data = NULL;
    if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && st.st_size < S_MAX_SMALL)
        data = malloc ((size_t) st.st_size + 1);
    size_t got = 0;
    while (data && got < (size_t) st.st_size) {
        ssize_t n = read (fd, data + got, (size_t) st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free (data);
            data = NULL;
            break;
        }
        got += (size_t) n;
    }
    close (fd);
    if (data) {
        data [got] = '\0';
        *len = got;
    }
    return data;
}

//  Marks an entry used now (cache_sweep keeps it for another period).
static void
s_touch (int dfd, const char *name)
{
    utimensat (dfd, name, NULL, AT_SYMLINK_NOFOLLOW);
}

void
cache_key (char key [SHA256_HEX_SIZE], const char *kind, const void *const *parts,
           const size_t *lens, size_t n)
{
    sha256_ctx_t ctx;
    sha256_init (&ctx);
    sha256_update (&ctx, kind, strlen (kind) + 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t len = lens [i];
        sha256_update (&ctx, &len, sizeof len);
        sha256_update (&ctx, parts [i], lens [i]);
    }
    uint8_t digest [SHA256_DIGEST_BYTES];
    sha256_final (&ctx, digest);
    sha256_hex (digest, key);
}

void
cache_stat_input (const char *input_root, const char *rel, cache_stat_t *st)
{
    memset (st, 0, sizeof *st);
    int fd = fsutil_open_beneath (input_root, rel, O_RDONLY, 0);
    if (fd < 0)
        return;
    struct stat s;
    int rc = fstat (fd, &s);
    close (fd);
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    if (rc || !S_ISREG (s.st_mode))
        return;
    st->dev = (uint64_t) s.st_dev;
    st->ino = (uint64_t) s.st_ino;
    st->size = (int64_t) s.st_size;
    st->mtime_ns = (int64_t) s.st_mtim.tv_sec * 1000000000 + s.st_mtim.tv_nsec;
    st->ctime_ns = (int64_t) s.st_ctim.tv_sec * 1000000000 + s.st_ctim.tv_nsec;
    int64_t now_ns = (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
    int64_t newest = st->mtime_ns > st->ctime_ns ? st->mtime_ns : st->ctime_ns;
    st->ok = now_ns - newest > (int64_t) CACHE_RACY_S * 1000000000;
}

void
cache_stat_format (const cache_stat_t *st, char *buf, size_t size)
{
    if (st->ino == 0)
        snprintf (buf, size, "%s", "");
    else
        snprintf (buf, size, "%" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %" PRId64,
                  st->dev, st->ino, st->size, st->mtime_ns, st->ctime_ns);
}

bool
cache_stat_parse (const char *text, cache_stat_t *st)
{
    memset (st, 0, sizeof *st);
    if (!text || sscanf (text, "%" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 " %" SCNd64,
                         &st->dev, &st->ino, &st->size, &st->mtime_ns, &st->ctime_ns) != 5) {
        memset (st, 0, sizeof *st);
        return false;
    }
    return true;
}

bool
cache_stat_same (const cache_stat_t *then, const cache_stat_t *now)
{
    return then->ino != 0 && now->ino != 0 && then->dev == now->dev && then->ino == now->ino
        && then->size == now->size && then->mtime_ns == now->mtime_ns
        && then->ctime_ns == now->ctime_ns;
}

//  The name of an input's status entry.
static void
s_input_name (const char *rel, char *buf, size_t size)
{
    char hex [SHA256_HEX_SIZE];
    sha256_buffer_hex (rel, strlen (rel), hex);
    snprintf (buf, size, "in-%s", hex);
}

bool
cache_input_get (const char *out_root, const char *rel, const cache_stat_t *st,
                 char sha [SHA256_HEX_SIZE])
{
    if (!st->ok)
        return false;
    int dfd = s_dir (out_root, false);
    if (dfd < 0)
        return false;
    char name [80];
    s_input_name (rel, name, sizeof name);
    size_t len;
    char *text = s_read_at (dfd, name, &len);
    bool hit = false;
    if (text) {
        uint64_t dev, ino;
        int64_t size, mt, ct;
        char hex [SHA256_HEX_SIZE + 1];
        hit = sscanf (text, "%" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %64s",
                      &dev, &ino, &size, &mt, &ct, hex) == 6
           && dev == st->dev && ino == st->ino && size == st->size && mt == st->mtime_ns
           && ct == st->ctime_ns && strlen (hex) == 64
           && strspn (hex, "0123456789abcdef") == 64;
        if (hit) {
            memcpy (sha, hex, SHA256_HEX_SIZE);
            s_touch (dfd, name);
        }
        free (text);
    }
    close (dfd);
    return hit;
}

void
cache_input_put (const char *out_root, const char *rel, const cache_stat_t *st,
                 const char *sha)
{
    if (!st->ok || !sha || strlen (sha) != 64)
        return;
    int dfd = s_dir (out_root, true);
    if (dfd < 0)
        return;
    char name [80], text [256];
    s_input_name (rel, name, sizeof name);
    int n = snprintf (text, sizeof text, "%" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64
                      " %" PRId64 " %s\n", st->dev, st->ino, st->size, st->mtime_ns,
                      st->ctime_ns, sha);
    if (s_write_at (dfd, name, text, (size_t) n))
        log_debug ("cache: cannot record the digest of %s: %s", rel, strerror (errno));
    close (dfd);
}

bool
cache_analysis_get (const char *out_root, const char *key, char **data, size_t *size)
{
    int dfd = s_dir (out_root, false);
    if (dfd < 0)
        return false;
    char name [80];
    snprintf (name, sizeof name, "a-%s.pb", key);
    *data = s_read_at (dfd, name, size);
    if (*data)
        s_touch (dfd, name);
    close (dfd);
    return *data != NULL;
}

void
cache_analysis_put (const char *out_root, const char *key, const void *data, size_t size)
{
    int dfd = s_dir (out_root, true);
    if (dfd < 0)
        return;
    char name [80];
    snprintf (name, sizeof name, "a-%s.pb", key);
    if (s_write_at (dfd, name, data, size))
        log_debug ("cache: cannot record analysis %s: %s", key, strerror (errno));
    close (dfd);
}

bool
cache_master_get (const char *out_root, const char *key, const char *dest_rel,
                  char **report, int64_t *bytes, char sha [SHA256_HEX_SIZE])
{
    *report = NULL;
    int dfd = s_dir (out_root, false);
    if (dfd < 0)
        return false;
    char json_name [80], wav_name [80];
    snprintf (json_name, sizeof json_name, "m-%s.json", key);
    snprintf (wav_name, sizeof wav_name, "m-%s.wav", key);
    size_t len;
    char *text = s_read_at (dfd, json_name, &len);
    json_t *o = text ? json_loadb (text, len, 0, NULL) : NULL;
    free (text);
    const char *rep = json_string_value (json_object_get (o, "report"));
    const char *hex = json_string_value (json_object_get (o, "sha256"));
    json_int_t n = json_integer_value (json_object_get (o, "bytes"));
    struct stat st;
    bool hit = rep && hex && strlen (hex) == 64 && n > 0
            && fstatat (dfd, wav_name, &st, AT_SYMLINK_NOFOLLOW) == 0
            && S_ISREG (st.st_mode) && st.st_size == (off_t) n;
    //  A link under a temporary name, renamed over the destination: the
    //  intermediate is there whole or not at all.
    const char *base = NULL;
    int pfd = hit ? s_parent (out_root, dest_rel, true, &base) : -1;
    char tmp [256];
    if (hit) {
        hit = false;
        s_tmp_name (base, tmp, sizeof tmp);
        unlinkat (pfd, tmp, 0);
        if (pfd >= 0 && linkat (dfd, wav_name, pfd, tmp, 0) == 0) {
            hit = renameat (pfd, tmp, pfd, base) == 0;
            //  a rename onto another link of the same file does nothing
            //  and succeeds (rename(2)): the temporary name goes anyway
            unlinkat (pfd, tmp, 0);
        }
    }
    if (hit) {
        *report = strdup (rep);
        hit = *report != NULL;
        *bytes = (int64_t) n;
        memcpy (sha, hex, SHA256_HEX_SIZE);
        s_touch (dfd, json_name);
        s_touch (dfd, wav_name);
    }
    json_decref (o);
    if (pfd >= 0)
        close (pfd);
    close (dfd);
    return hit;
}

void
cache_master_put (const char *out_root, const char *key, const char *src_rel,
                  const char *report, int64_t bytes, const char *sha)
{
    if (!report || !sha || strlen (sha) != 64 || bytes <= 0)
        return;
    int dfd = s_dir (out_root, true);
    const char *base = NULL;
    int pfd = dfd >= 0 ? s_parent (out_root, src_rel, false, &base) : -1;
    char json_name [80], wav_name [80], tmp [256];
    snprintf (json_name, sizeof json_name, "m-%s.json", key);
    snprintf (wav_name, sizeof wav_name, "m-%s.wav", key);
    s_tmp_name (wav_name, tmp, sizeof tmp);
    bool ok = false;
    struct stat st;
    if (pfd >= 0 && fstatat (pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode)
    &&  st.st_size == (off_t) bytes) {
        unlinkat (dfd, tmp, 0);
        ok = linkat (pfd, base, dfd, tmp, 0) == 0 && renameat (dfd, tmp, dfd, wav_name) == 0;
        //  a broker that restarts puts again an intermediate that is the
        //  cache's file already: the rename does nothing (rename(2)), and
        //  the temporary name must go all the same
        unlinkat (dfd, tmp, 0);
    }
    //  the description last: an entry is whole when it is there
    json_t *o = ok ? json_pack ("{sssIss}", "report", report, "bytes", (json_int_t) bytes,
                                "sha256", sha) : NULL;
    char *text = o ? json_dumps (o, JSON_COMPACT) : NULL;
    if (!text || s_write_at (dfd, json_name, text, strlen (text)))
        log_debug ("cache: cannot record master %s: %s", key, strerror (errno));
    free (text);
    json_decref (o);
    if (pfd >= 0)
        close (pfd);
    if (dfd >= 0)
        close (dfd);
}

//  Removes the entries not used for keep_s seconds (none when keep_s is
//  negative) and the temporaries of killed writers: those older than an
//  hour, or every one with all_temps. Returns how many files went.
static size_t
s_remove (const char *out_root, int64_t keep_s, bool all_temps)
{
    int dfd = s_dir (out_root, false);
    if (dfd < 0)
        return 0;
    int fd = dup (dfd);
    DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
    if (!d && fd >= 0)
        close (fd);
    time_t now = time (NULL);
    size_t removed = 0;
    struct dirent *e;
    while (d && (e = readdir (d))) {
        struct stat st;
        if (!strcmp (e->d_name, ".") || !strcmp (e->d_name, "..")
        ||  fstatat (dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG (st.st_mode))
            continue;
        //  temporary files of a killed writer go after an hour
        bool temp = e->d_name [0] == '.';
        int64_t age = (int64_t) (now - st.st_mtime);
        bool old = temp ? all_temps || age > 3600 : keep_s >= 0 && age > keep_s;
        if (old && unlinkat (dfd, e->d_name, 0) == 0)
            removed++;
    }
    if (d)
        closedir (d);
    close (dfd);
    return removed;
}

size_t
cache_sweep (const char *out_root, int64_t keep_s)
{
    return s_remove (out_root, keep_s, false);
}

size_t
cache_clear_temps (const char *out_root)
{
    return s_remove (out_root, -1, true);
}
