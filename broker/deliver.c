/*  Delivery: the output folder layout, the SHA-256 manifest that closes
    an album folder, and publishing a finished album at deliver_at with
    one atomic rename, so a reader of the delivery folder sees either no
    album or the complete one with its manifest, never a part.  */
#include "broker/deliver.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DELIVER_MAX_FILES   100000     //  files under one album folder
#define DELIVER_MAX_DEPTH   8          //  folder nesting under the album

//  The album folder's slug from "<artist> - <title>"; 0 or MF_ERR_INVALID.
int
deliver_album_slug (const spec_album_t *album, char *buf, size_t size)
{
    char both [1024];
    snprintf (both, sizeof both, "%s%s%s",
              album && album->artist ? album->artist : "",
              album && album->artist && album->title ? " - " : "",
              album && album->title ? album->title : "");
    char slug [FSUTIL_NAME_MAX + 8];
    fsutil_slugify (both, slug, sizeof slug);
    if (strlen (slug) + 1 > size)
        return MF_ERR_INVALID;
    memcpy (buf, slug, strlen (slug) + 1);
    return 0;
}

//  OUTDIR/<album-slug>; 0 or MF_ERR_INVALID when it does not fit.
int
deliver_album_dir (const char *out_root, const spec_album_t *album, char *buf, size_t size)
{
    char slug [FSUTIL_NAME_MAX + 8];
    deliver_album_slug (album, slug, sizeof slug);
    int k = snprintf (buf, size, "%s/%s", out_root, slug);
    return k < 0 || (size_t) k >= size ? MF_ERR_INVALID : 0;
}

//  OUTDIR/<album-slug>/<profile>; 0 or MF_ERR_INVALID.
int
deliver_profile_dir (const char *out_root, const spec_album_t *album,
                     const profile_t *profile, char *buf, size_t size)
{
    char slug [FSUTIL_NAME_MAX + 8];
    deliver_album_slug (album, slug, sizeof slug);
    int k = snprintf (buf, size, "%s/%s/%s", out_root, slug, profile ? profile->name : "");
    return k < 0 || (size_t) k >= size || !profile ? MF_ERR_INVALID : 0;
}

typedef struct {
    char    *path;                       //  relative, '/'-separated
    int64_t  bytes;
    char     hex [SHA256_HEX_SIZE];
} s_item_t;

typedef struct {
    s_item_t *items;
    size_t    n, cap;
} s_list_t;

//  qsort comparator: bytewise order of relative paths.
static int
s_cmp (const void *a, const void *b)
{
    return strcmp (((const s_item_t *) a)->path, ((const s_item_t *) b)->path);
}

//  True for names the manifest leaves out: hidden/temporary files and,
//  at the top, the manifest itself.
static int
s_skip (const char *name, const char *rel_dir)
{
    if (name [0] == '.')
        return 1;
    if (strstr (name, ".tmp-"))
        return 1;
    return rel_dir [0] == 0 && strcmp (name, DELIVER_MANIFEST) == 0;
}

//  Splits path into its folder (parent, "." when none) and last name
//  (base), trailing '/' ignored. Returns 0, or MF_ERR_INVALID when it
//  does not fit or has no last name.
static int
s_split (const char *path, char *parent, size_t psize, char *base, size_t bsize)
{
    size_t len = path ? strlen (path) : 0;
    while (len > 1 && path [len - 1] == '/')
        len--;
    size_t cut = len;
    while (cut > 0 && path [cut - 1] != '/')
        cut--;
    size_t blen = len - cut;
    if (blen == 0 || blen >= bsize || cut >= psize)
        return MF_ERR_INVALID;
    memcpy (base, path + cut, blen);
    base [blen] = 0;
    if (cut == 0)
        snprintf (parent, psize, ".");
    else {
        size_t plen = cut > 1 ? cut - 1 : 1;     //  "/x": the parent is "/"
        memcpy (parent, path, plen);
        parent [plen] = 0;
    }
    return 0;
}

//  Opens root/rel as a folder for the album's operations: every folder
//  on the way is opened beneath root (fsutil_open_beneath), and the album
//  folder itself must not be a symbolic link at all (O_NOFOLLOW), so
//  nothing outside the album folder can be reached through it. Returns
//  the descriptor; MF_ERR_NOTFOUND when it does not exist; otherwise an
//  error with err naming the folder (a symbolic link: MF_ERR_INVALID).
static int
s_album_open (const char *root, const char *rel, char *err, size_t err_size)
{
    char parent [4096], base [FSUTIL_NAME_MAX + 64];
    if (!root || !rel || s_split (rel, parent, sizeof parent, base, sizeof base)
    ||  strcmp (base, "..") == 0 || strcmp (base, ".") == 0) {
        snprintf (err, err_size, "%s/%s: bad album folder name", root ? root : "", rel ? rel : "");
        return MF_ERR_INVALID;
    }
    int pfd = strcmp (parent, ".") == 0
            ? open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            : fsutil_open_beneath (root, parent, O_RDONLY | O_DIRECTORY, 0);
    if (pfd < 0) {
        int e = errno;
        if (pfd == -1)
            pfd = e == ENOENT ? MF_ERR_NOTFOUND : MF_ERR_IO;
        char why [256];
        fsutil_beneath_strerror (pfd, e, "output", why, sizeof why);
        snprintf (err, err_size, "%s/%s: %s", root, parent, why);
        return pfd;
    }
    int fd = openat (pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    struct stat st;
    bool link = fd < 0 && fstatat (pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode);
    close (pfd);
    if (fd >= 0)
        return fd;
    if (link) {
        snprintf (err, err_size, "%s/%s: is a symbolic link; refusing to follow it", root, rel);
        return MF_ERR_INVALID;
    }
    snprintf (err, err_size, "%s/%s: cannot open the folder (%s)", root, rel, strerror (e));
    return e == ENOENT ? MF_ERR_NOTFOUND : MF_ERR_IO;
}

//  SHA-256 of the open file fd into hex and its size into bytes; 0 or
//  MF_ERR_IO (errno kept).
static int
s_hash_fd (int fd, char hex [SHA256_HEX_SIZE], int64_t *bytes)
{
    sha256_ctx_t ctx;
    sha256_init (&ctx);
    static __thread uint8_t buf [1 << 16];
    int64_t total = 0;
    for (;;) {
        ssize_t n = read (fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return MF_ERR_IO;
        if (n == 0)
            break;
        sha256_update (&ctx, buf, (size_t) n);
        total += n;
    }
    uint8_t digest [SHA256_DIGEST_BYTES];
    sha256_final (&ctx, digest);
    sha256_hex (digest, hex);
    *bytes = total;
    return 0;
}

//  Opens folder fd (label/rel in messages) for listing; takes fd. NULL
//  with err set (and fd closed) when it cannot.
static DIR *
s_opendir (int fd, const char *label, const char *rel, char *err, size_t err_size)
{
    DIR *d = fdopendir (fd);
    if (!d) {
        snprintf (err, err_size, "%s%s%s: cannot list the folder (%s)", label, rel [0] ? "/" : "",
                  rel, strerror (errno));
        close (fd);
    }
    return d;
}

//  The next entry of d other than "." and ".."; NULL at the end.
static struct dirent *
s_next (DIR *d)
{
    struct dirent *e;
    while ((e = readdir (d)) && (!strcmp (e->d_name, ".") || !strcmp (e->d_name, "..")))
        ;
    return e;
}

//  Collects the regular files under the folder fd (relative paths from
//  the album folder, rel being fd's own; label is the album folder for
//  messages), with their sizes and SHA-256 when hash. Folders are
//  entered and files opened by name under fd without following symbolic
//  links, so nothing outside the album folder is read. Takes fd (closes
//  it). Returns 0, MF_ERR_IO (err names the file) or MF_ERR_NOMEM.
static int
s_walk (int fd, const char *label, const char *rel, int depth, bool hash,
        const deliver_known_t *known, size_t n_known, s_list_t *list,
        char *err, size_t err_size)
{
    DIR *d = s_opendir (fd, label, rel, err, err_size);
    if (!d)
        return MF_ERR_IO;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = s_next (d))) {
        if (s_skip (e->d_name, rel))
            continue;
        char sub [4096];
        snprintf (sub, sizeof sub, "%s%s%s", rel, rel [0] ? "/" : "", e->d_name);
        struct stat st;
        if (fstatat (dirfd (d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            snprintf (err, err_size, "%s/%s: cannot stat (%s)", label, sub, strerror (errno));
            rc = MF_ERR_IO;
        }
        else
        if (S_ISDIR (st.st_mode)) {
            int sfd = depth < DELIVER_MAX_DEPTH
                    ? openat (dirfd (d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    : -1;
            if (depth >= DELIVER_MAX_DEPTH) {
                snprintf (err, err_size, "%s/%s: folders nested too deep", label, sub);
                rc = MF_ERR_IO;
            }
            else
            if (sfd < 0) {
                snprintf (err, err_size, "%s/%s: cannot open the folder (%s)", label, sub,
                          strerror (errno));
                rc = MF_ERR_IO;
            }
            else
                rc = s_walk (sfd, label, sub, depth + 1, hash, known, n_known, list, err,
                             err_size);
        }
        else
        if (S_ISREG (st.st_mode)) {
            if (list->n == list->cap) {
                size_t cap = list->cap ? list->cap * 2 : 64;
                s_item_t *np = cap <= DELIVER_MAX_FILES ? realloc (list->items, cap * sizeof *np) : NULL;
                if (!np) {
                    rc = MF_ERR_NOMEM;
                    break;
                }
                list->items = np;
                list->cap = cap;
            }
            s_item_t *it = &list->items [list->n];
            memset (it, 0, sizeof *it);
            const deliver_known_t *k = NULL;
            for (size_t i = 0; hash && i < n_known && !k; i++)
                if (known [i].path && known [i].sha256 && strlen (known [i].sha256) == 64
                &&  known [i].bytes == (int64_t) st.st_size && !strcmp (known [i].path, sub))
                    k = &known [i];
            if (k) {
                snprintf (it->hex, sizeof it->hex, "%s", k->sha256);
                it->bytes = (int64_t) st.st_size;
            }
            else
            if (hash) {
                int ffd = openat (dirfd (d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                int hrc = ffd < 0 ? MF_ERR_IO : s_hash_fd (ffd, it->hex, &it->bytes);
                int saved = errno;
                if (ffd >= 0)
                    close (ffd);
                if (hrc) {
                    snprintf (err, err_size, "%s/%s: cannot read for the manifest (%s)", label,
                              sub, strerror (saved));
                    rc = MF_ERR_IO;
                    break;
                }
            }
            it->path = strdup (sub);
            if (!it->path)
                rc = MF_ERR_NOMEM;
            else
                list->n++;
        }
    }
    closedir (d);
    return rc;
}

//  Frees the collected paths.
static void
s_list_free (s_list_t *list)
{
    for (size_t i = 0; i < list->n; i++)
        free (list->items [i].path);
    free (list->items);
    memset (list, 0, sizeof *list);
}

//  True when rel is one of keep's n paths.
static bool
s_kept (const char *rel, const char *const *keep, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (keep [i] && strcmp (keep [i], rel) == 0)
            return true;
    return false;
}

//  Removes from the folder fd (rel under the album folder label) every
//  entry whose path is not in keep and every folder left empty
//  (symbolic links and other kinds of file included). Everything goes by
//  name under a folder descriptor (unlinkat; folders entered with
//  O_NOFOLLOW), so a symbolic link is removed as a link, never followed,
//  and nothing outside the album folder is deleted. Takes fd (closes it).
static int
s_prune (int fd, const char *label, const char *rel, int depth, const char *const *keep,
         size_t n_keep, char *err, size_t err_size)
{
    DIR *d = s_opendir (fd, label, rel, err, err_size);
    if (!d)
        return MF_ERR_IO;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = s_next (d))) {
        char sub [4096];
        snprintf (sub, sizeof sub, "%s%s%s", rel, rel [0] ? "/" : "", e->d_name);
        struct stat st;
        if (fstatat (dirfd (d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;                            //  gone meanwhile
        if (S_ISDIR (st.st_mode) && depth < DELIVER_MAX_DEPTH) {
            int sfd = openat (dirfd (d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sfd < 0) {
                snprintf (err, err_size, "%s/%s: cannot open the folder (%s)", label, sub,
                          strerror (errno));
                rc = MF_ERR_IO;
                break;
            }
            rc = s_prune (sfd, label, sub, depth + 1, keep, n_keep, err, err_size);
            if (rc == 0 && unlinkat (dirfd (d), e->d_name, AT_REMOVEDIR) != 0
            &&  errno != ENOTEMPTY && errno != EEXIST) {
                snprintf (err, err_size, "%s/%s: cannot remove (%s)", label, sub, strerror (errno));
                rc = MF_ERR_IO;
            }
        }
        else
        if (!(S_ISREG (st.st_mode) && s_kept (sub, keep, n_keep))) {
            if (unlinkat (dirfd (d), e->d_name, S_ISDIR (st.st_mode) ? AT_REMOVEDIR : 0) != 0) {
                snprintf (err, err_size, "%s/%s: cannot remove (%s)", label, sub, strerror (errno));
                rc = MF_ERR_IO;
            }
            else
                log_warn ("%s/%s: not part of the delivery, removed", label, sub);
        }
    }
    closedir (d);
    return rc;
}

//  Prunes root/album_rel opened by s_album_open; a missing folder is fine.
int
deliver_prune_beneath (const char *root, const char *album_rel, const char *const *keep,
                       size_t n_keep, char *err, size_t err_size)
{
    int fd = s_album_open (root, album_rel, err, err_size);
    if (fd == MF_ERR_NOTFOUND) {
        err [0] = 0;
        return 0;
    }
    if (fd < 0)
        return fd;
    char label [4400];
    snprintf (label, sizeof label, "%s/%s", root, album_rel);
    return s_prune (fd, label, "", 0, keep, n_keep, err, err_size);
}

//  deliver_prune_beneath with album_dir's folder as the root.
int
deliver_prune (const char *album_dir, const char *const *keep, size_t n_keep,
               char *err, size_t err_size)
{
    char parent [4096], base [FSUTIL_NAME_MAX + 64];
    if (s_split (album_dir, parent, sizeof parent, base, sizeof base)) {
        snprintf (err, err_size, "%s: bad album folder name", album_dir ? album_dir : "");
        return MF_ERR_INVALID;
    }
    return deliver_prune_beneath (parent, base, keep, n_keep, err, err_size);
}

int
deliver_manifest_write (const char *album_dir, char *err, size_t err_size)
{
    return deliver_manifest_write_status (album_dir, NULL, err, err_size);
}

//  deliver_manifest_write_status_beneath with album_dir's folder as the root.
int
deliver_manifest_write_status (const char *album_dir, const char *status,
                               char *err, size_t err_size)
{
    char parent [4096], base [FSUTIL_NAME_MAX + 64];
    if (s_split (album_dir, parent, sizeof parent, base, sizeof base)) {
        snprintf (err, err_size, "%s: bad album folder name", album_dir ? album_dir : "");
        return MF_ERR_INVALID;
    }
    return deliver_manifest_write_status_beneath (parent, base, status, err, err_size);
}

//  Lists, sizes and hashes every file under root/album_rel (opened by
//  s_album_open) into manifest.json, with status's members first, written
//  atomically beneath root; 0, MF_ERR_INVALID (a symbolic link or a path
//  leaving root), MF_ERR_NOTFOUND, MF_ERR_IO or MF_ERR_NOMEM.
int
deliver_manifest_write_status_beneath (const char *root, const char *album_rel,
                                       const char *status, char *err, size_t err_size)
{
    return deliver_manifest_write_known_beneath (root, album_rel, status, NULL, 0, err,
                                                 err_size);
}

int
deliver_manifest_write_known_beneath (const char *root, const char *album_rel,
                                      const char *status, const deliver_known_t *known,
                                      size_t n_known, char *err, size_t err_size)
{
    s_list_t list = { 0 };
    char label [4400];
    snprintf (label, sizeof label, "%s/%s", root ? root : "", album_rel ? album_rel : "");
    int fd = s_album_open (root, album_rel, err, err_size);
    int rc = fd < 0 ? fd : s_walk (fd, label, "", 0, true, known, n_known, &list, err,
                                   err_size);
    json_t *jroot = json_object ();
    json_t *files = json_array ();
    if (!jroot || !files)
        rc = rc ? rc : MF_ERR_NOMEM;
    if (rc == 0)
        qsort (list.items, list.n, sizeof *list.items, s_cmp);
    for (size_t i = 0; rc == 0 && i < list.n; i++) {
        json_t *o = json_object ();
        json_object_set_new (o, "path", json_string (list.items [i].path));
        json_object_set_new (o, "bytes", json_integer ((json_int_t) list.items [i].bytes));
        json_object_set_new (o, "sha256", json_string (list.items [i].hex));
        json_array_append_new (files, o);
    }
    char *text = NULL;
    if (rc == 0 && status) {
        json_error_t je;
        json_t *st = json_loads (status, 0, &je);
        if (json_is_object (st))
            json_object_update (jroot, st);
        json_decref (st);
    }
    if (rc == 0) {
        json_object_set_new (jroot, "algorithm", json_string ("sha256"));
        json_object_set (jroot, "files", files);
        text = json_dumps (jroot, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        if (!text)
            rc = MF_ERR_NOMEM;
    }
    if (rc == 0) {
        char rel [4200];
        snprintf (rel, sizeof rel, "%s/%s", album_rel, DELIVER_MANIFEST);
        size_t len = strlen (text);
        char *nl = realloc (text, len + 2);      //  end the file with a newline
        if (nl) {
            text = nl;
            text [len++] = '\n';
            text [len] = 0;
        }
        int wrc = fsutil_write_atomic_beneath (root, rel, text, len);
        if (wrc != 0) {
            char why [256];
            fsutil_beneath_strerror (wrc, errno, "output", why, sizeof why);
            snprintf (err, err_size, "%s/%s: cannot write (%s)", label, DELIVER_MANIFEST, why);
            rc = wrc == MF_ERR_INVALID ? MF_ERR_INVALID : MF_ERR_IO;
        }
    }
    free (text);
    json_decref (files);
    json_decref (jroot);
    s_list_free (&list);
    return rc;
}

//  Re-hashes every listed file and looks for unlisted ones; 0,
//  MF_ERR_FORMAT (err names the file) or MF_ERR_IO.
int
deliver_manifest_verify (const char *album_dir, char *err, size_t err_size)
{
    char path [4096];
    snprintf (path, sizeof path, "%s/%s", album_dir, DELIVER_MANIFEST);
    json_error_t je;
    json_t *root = json_load_file (path, 0, &je);
    if (!root) {
        snprintf (err, err_size, "%s: line %d: %s", path, je.line, je.text);
        return MF_ERR_FORMAT;
    }
    json_t *files = json_object_get (root, "files");
    int rc = json_is_array (files) ? 0 : MF_ERR_FORMAT;
    if (rc)
        snprintf (err, err_size, "%s: no \"files\" list", path);
    size_t i;
    json_t *o;
    json_array_foreach (files, i, o) {
        if (rc)
            break;
        const char *rel = json_string_value (json_object_get (o, "path"));
        const char *want = json_string_value (json_object_get (o, "sha256"));
        json_t *jb = json_object_get (o, "bytes");
        if (!rel || !want || !json_is_integer (jb) || !fsutil_rel_path_ok (rel)) {
            snprintf (err, err_size, "%s: entry %zu is malformed", path, i);
            rc = MF_ERR_FORMAT;
            break;
        }
        char full [8192], hex [SHA256_HEX_SIZE];
        snprintf (full, sizeof full, "%s/%s", album_dir, rel);
        struct stat st;
        if (stat (full, &st) != 0) {
            snprintf (err, err_size, "%s: listed in the manifest but missing", full);
            rc = MF_ERR_FORMAT;
        }
        else
        if ((json_int_t) st.st_size != json_integer_value (jb)) {
            snprintf (err, err_size, "%s: %lld bytes, the manifest says %lld", full,
                      (long long) st.st_size, (long long) json_integer_value (jb));
            rc = MF_ERR_FORMAT;
        }
        else
        if (sha256_file_hex (full, hex) != 0) {
            snprintf (err, err_size, "%s: cannot read (%s)", full, strerror (errno));
            rc = MF_ERR_IO;
        }
        else
        if (strcmp (hex, want) != 0) {
            snprintf (err, err_size, "%s: SHA-256 differs from the manifest", full);
            rc = MF_ERR_FORMAT;
        }
    }
    //  nothing unlisted
    if (rc == 0) {
        s_list_t list = { 0 };
        int fd = open (album_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            snprintf (err, err_size, "%s: cannot list the folder (%s)", album_dir, strerror (errno));
            rc = MF_ERR_IO;
        }
        else
            rc = s_walk (fd, album_dir, "", 0, false, NULL, 0, &list, err, err_size);
        if (rc == 0 && list.n != json_array_size (files)) {
            snprintf (err, err_size, "%s: %zu files on disk, %zu in the manifest", album_dir,
                      list.n, json_array_size (files));
            rc = MF_ERR_FORMAT;
        }
        s_list_free (&list);
    }
    json_decref (root);
    return rc;
}

//  What name is under the folder fd, without following a symbolic link:
//  'd' a folder, 'l' a symbolic link, 'o' something else, 0 nothing (or
//  fd < 0).
static char
s_kind (int fd, const char *name)
{
    struct stat st;
    if (fd < 0 || fstatat (fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    return S_ISDIR (st.st_mode) ? 'd' : S_ISLNK (st.st_mode) ? 'l' : 'o';
}

//  Moves sfd/slug to dfd/slug (src and dst name them in messages) by one
//  rename of names under the two folder descriptors, never following a
//  symbolic link and never replacing anything at the destination. sfd
//  < 0: the staging folder does not exist. Returns deliver_at's codes.
static int
s_publish (int sfd, int dfd, const char *src, const char *dst, const char *slug,
           char *err, size_t err_size)
{
    char ksrc = s_kind (sfd, slug), kdst = s_kind (dfd, slug);
    if (ksrc == 'l') {
        snprintf (err, err_size, "%s: is a symbolic link; refusing to follow it", src);
        return MF_ERR_INVALID;
    }
    if (kdst == 'l') {
        snprintf (err, err_size, "%s: exists as a symbolic link; refusing to deliver %s "
                  "through it", dst, src);
        return MF_ERR_INVALID;
    }
    if (ksrc != 'd' && kdst == 'd')
        return 0;                   //  published before (a repeat after a crash)
    if (ksrc != 'd') {
        snprintf (err, err_size, "%s: no such album folder to deliver", src);
        return MF_ERR_NOTFOUND;
    }
    if (kdst == 'd') {
        snprintf (err, err_size, "%s: already exists; not overwriting a delivered album with %s", dst, src);
        return MF_ERR_STATE;
    }
    int afd = openat (sfd, slug, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    bool manifest = afd >= 0 && fstatat (afd, DELIVER_MANIFEST, &st, AT_SYMLINK_NOFOLLOW) == 0
                 && S_ISREG (st.st_mode);
    if (afd >= 0)
        close (afd);
    if (!manifest) {
        snprintf (err, err_size, "%s: the album has no manifest yet; it is not finished", src);
        return MF_ERR_STATE;
    }
    //  RENAME_NOREPLACE: whatever appeared at the destination meanwhile
    //  (a symbolic link included) stays and the move fails
    int rc = renameat2 (sfd, slug, dfd, slug, RENAME_NOREPLACE);
    if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
        if (s_kind (dfd, slug) == 0)
            rc = renameat (sfd, slug, dfd, slug);
        else
            errno = EEXIST;
    }
    if (rc != 0) {
        if (errno == EEXIST || errno == ENOTEMPTY || errno == ENOTDIR)
            snprintf (err, err_size, "%s: appeared while %s was being delivered; not replaced",
                      dst, src);
        else
            snprintf (err, err_size, "cannot move %s to %s (%s); both must be on one file system",
                      src, dst, strerror (errno));
        return errno == EEXIST || errno == ENOTEMPTY || errno == ENOTDIR ? MF_ERR_STATE : MF_ERR_IO;
    }
    if (fsync (dfd) != 0 || fsync (sfd) != 0)
        log_warn ("deliver: fsync failed after publishing %s as %s", src, dst);
    log_debug ("delivered %s", dst);
    return 0;
}

//  Checks the arguments common to deliver_at and deliver_at_beneath;
//  returns 0, MF_ERR_INVALID (err set) or DELIVER_HELD.
static int
s_deliver_check (const char *a, const char *b, const char *slug, int64_t now_ms,
                 int64_t deliver_at_ms, char *err, size_t err_size)
{
    err [0] = 0;
    if (!a || !b || !slug || !fsutil_rel_path_ok (slug) || strchr (slug, '/')) {
        snprintf (err, err_size, "deliver: bad staging root, delivery root or album folder name");
        return MF_ERR_INVALID;
    }
    if (deliver_at_ms > 0 && now_ms < deliver_at_ms)
        return DELIVER_HELD;
    return 0;
}

//  Publishes staging_root/slug as delivery_root/slug by one rename once
//  now_ms reaches deliver_at_ms; DELIVER_HELD before, 0 when published.
int
deliver_at (const char *staging_root, const char *delivery_root, const char *slug,
            int64_t now_ms, int64_t deliver_at_ms, char *err, size_t err_size)
{
    char scratch [8];
    err = mf_err_buffer (err, &err_size, scratch, sizeof scratch);
    int rc = s_deliver_check (staging_root, delivery_root, slug, now_ms, deliver_at_ms,
                              err, err_size);
    if (rc)
        return rc;
    char src [4096], dst [4096];
    snprintf (src, sizeof src, "%s/%s", staging_root, slug);
    snprintf (dst, sizeof dst, "%s/%s", delivery_root, slug);
    int sfd = open (staging_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int dfd = open (delivery_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 && sfd >= 0 && s_kind (sfd, slug) == 'd') {
        if (fsutil_mkdir_p (delivery_root, 0755) != 0
        ||  (dfd = open (delivery_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
            snprintf (err, err_size, "%s: cannot create the delivery folder (%s)", delivery_root,
                      strerror (errno));
            close (sfd);
            return MF_ERR_IO;
        }
    }
    rc = s_publish (sfd, dfd, src, dst, slug, err, err_size);
    if (sfd >= 0)
        close (sfd);
    if (dfd >= 0)
        close (dfd);
    return rc;
}

//  deliver_at with the staging folder opened beneath out_root and out_root
//  itself as the delivery root.
int
deliver_at_beneath (const char *out_root, const char *staging_rel, const char *slug,
                    int64_t now_ms, int64_t deliver_at_ms, char *err, size_t err_size)
{
    char scratch [8];
    err = mf_err_buffer (err, &err_size, scratch, sizeof scratch);
    int rc = s_deliver_check (out_root, staging_rel, slug, now_ms, deliver_at_ms, err, err_size);
    if (rc)
        return rc;
    char src [4400], dst [4400];
    snprintf (src, sizeof src, "%s/%s/%s", out_root, staging_rel, slug);
    snprintf (dst, sizeof dst, "%s/%s", out_root, slug);
    int dfd = open (out_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        snprintf (err, err_size, "%s: cannot open the output root (%s)", out_root, strerror (errno));
        return MF_ERR_IO;
    }
    int sfd = fsutil_open_beneath (out_root, staging_rel, O_RDONLY | O_DIRECTORY, 0);
    if (sfd < 0 && sfd != MF_ERR_NOTFOUND) {
        char why [256];
        fsutil_beneath_strerror (sfd, errno, "output", why, sizeof why);
        snprintf (err, err_size, "%s/%s: %s; %s not delivered", out_root, staging_rel, why, slug);
        close (dfd);
        return sfd;
    }
    rc = s_publish (sfd, dfd, src, dst, slug, err, err_size);
    if (sfd >= 0)
        close (sfd);
    close (dfd);
    return rc;
}
