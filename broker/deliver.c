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

//  mkdir -p with mode 0755; 0 or MF_ERR_IO naming the folder.
int
deliver_mkdirs (const char *dir, char *err, size_t err_size)
{
    if (fsutil_mkdir_p (dir, 0755) != 0) {
        snprintf (err, err_size, "%s: cannot create the folder (%s)", dir, strerror (errno));
        return MF_ERR_IO;
    }
    return 0;
}

typedef struct {
    char  **paths;
    size_t  n, cap;
} s_list_t;

//  qsort comparator: bytewise order of relative paths.
static int
s_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
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

//  Collects regular files under root/rel (relative paths) into list.
static int
s_walk (const char *root, const char *rel, int depth, s_list_t *list, char *err, size_t err_size)
{
    char dir [4096];
    snprintf (dir, sizeof dir, "%s%s%s", root, rel [0] ? "/" : "", rel);
    DIR *d = opendir (dir);
    if (!d) {
        snprintf (err, err_size, "%s: cannot list the folder (%s)", dir, strerror (errno));
        return MF_ERR_IO;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir (d))) {
        if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0 || s_skip (e->d_name, rel))
            continue;
        char sub [4096], full [8192];
        snprintf (sub, sizeof sub, "%s%s%s", rel, rel [0] ? "/" : "", e->d_name);
        snprintf (full, sizeof full, "%s/%s", root, sub);
        struct stat st;
        if (lstat (full, &st) != 0) {
            snprintf (err, err_size, "%s: cannot stat (%s)", full, strerror (errno));
            rc = MF_ERR_IO;
        }
        else
        if (S_ISDIR (st.st_mode)) {
            if (depth >= DELIVER_MAX_DEPTH) {
                snprintf (err, err_size, "%s: folders nested too deep", full);
                rc = MF_ERR_IO;
            }
            else
                rc = s_walk (root, sub, depth + 1, list, err, err_size);
        }
        else
        if (S_ISREG (st.st_mode)) {
            if (list->n == list->cap) {
                size_t cap = list->cap ? list->cap * 2 : 64;
                char **np = cap <= DELIVER_MAX_FILES ? realloc (list->paths, cap * sizeof *np) : NULL;
                if (!np) {
                    rc = MF_ERR_NOMEM;
                    break;
                }
                list->paths = np;
                list->cap = cap;
            }
            list->paths [list->n] = strdup (sub);
            if (!list->paths [list->n])
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
        free (list->paths [i]);
    free (list->paths);
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

//  Removes from root/rel every entry whose path is not in keep and every
//  folder left empty (symbolic links and other kinds of file included).
static int
s_prune (const char *root, const char *rel, int depth, const char *const *keep, size_t n_keep,
         char *err, size_t err_size)
{
    char dir [4096];
    snprintf (dir, sizeof dir, "%s%s%s", root, rel [0] ? "/" : "", rel);
    DIR *d = opendir (dir);
    if (!d) {
        snprintf (err, err_size, "%s: cannot list the folder (%s)", dir, strerror (errno));
        return MF_ERR_IO;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir (d))) {
        if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
            continue;
        char sub [4096], full [8192];
        snprintf (sub, sizeof sub, "%s%s%s", rel, rel [0] ? "/" : "", e->d_name);
        snprintf (full, sizeof full, "%s/%s", root, sub);
        struct stat st;
        if (lstat (full, &st) != 0)
            continue;                            //  gone meanwhile
        if (S_ISDIR (st.st_mode) && depth < DELIVER_MAX_DEPTH) {
            rc = s_prune (root, sub, depth + 1, keep, n_keep, err, err_size);
            if (rc == 0 && rmdir (full) != 0 && errno != ENOTEMPTY && errno != EEXIST) {
                snprintf (err, err_size, "%s: cannot remove (%s)", full, strerror (errno));
                rc = MF_ERR_IO;
            }
        }
        else
        if (!(S_ISREG (st.st_mode) && s_kept (sub, keep, n_keep))) {
            if (S_ISDIR (st.st_mode) ? rmdir (full) != 0 : unlink (full) != 0) {
                snprintf (err, err_size, "%s: cannot remove (%s)", full, strerror (errno));
                rc = MF_ERR_IO;
            }
            else
                log_warn ("%s: not part of the delivery, removed", full);
        }
    }
    closedir (d);
    return rc;
}

int
deliver_prune (const char *album_dir, const char *const *keep, size_t n_keep,
               char *err, size_t err_size)
{
    struct stat st;
    if (stat (album_dir, &st) != 0 && errno == ENOENT)
        return 0;
    return s_prune (album_dir, "", 0, keep, n_keep, err, err_size);
}

int
deliver_manifest_write (const char *album_dir, char *err, size_t err_size)
{
    return deliver_manifest_write_status (album_dir, NULL, err, err_size);
}

//  Lists, sizes and hashes every file under album_dir into manifest.json,
//  with status's members first, written atomically; 0, MF_ERR_IO or
//  MF_ERR_NOMEM.
int
deliver_manifest_write_status (const char *album_dir, const char *status,
                               char *err, size_t err_size)
{
    s_list_t list = { 0 };
    int rc = s_walk (album_dir, "", 0, &list, err, err_size);
    json_t *root = json_object ();
    json_t *files = json_array ();
    if (!root || !files)
        rc = rc ? rc : MF_ERR_NOMEM;
    if (rc == 0)
        qsort (list.paths, list.n, sizeof *list.paths, s_cmp);
    for (size_t i = 0; rc == 0 && i < list.n; i++) {
        char full [8192], hex [SHA256_HEX_SIZE];
        snprintf (full, sizeof full, "%s/%s", album_dir, list.paths [i]);
        struct stat st;
        if (stat (full, &st) != 0 || sha256_file_hex (full, hex) != 0) {
            snprintf (err, err_size, "%s: cannot read for the manifest (%s)", full, strerror (errno));
            rc = MF_ERR_IO;
            break;
        }
        json_t *o = json_object ();
        json_object_set_new (o, "path", json_string (list.paths [i]));
        json_object_set_new (o, "bytes", json_integer ((json_int_t) st.st_size));
        json_object_set_new (o, "sha256", json_string (hex));
        json_array_append_new (files, o);
    }
    char *text = NULL;
    if (rc == 0 && status) {
        json_error_t je;
        json_t *st = json_loads (status, 0, &je);
        if (json_is_object (st))
            json_object_update (root, st);
        json_decref (st);
    }
    if (rc == 0) {
        json_object_set_new (root, "algorithm", json_string ("sha256"));
        json_object_set (root, "files", files);
        text = json_dumps (root, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        if (!text)
            rc = MF_ERR_NOMEM;
    }
    if (rc == 0) {
        char path [4096];
        snprintf (path, sizeof path, "%s/%s", album_dir, DELIVER_MANIFEST);
        size_t len = strlen (text);
        char *nl = realloc (text, len + 2);      //  end the file with a newline
        if (nl) {
            text = nl;
            text [len++] = '\n';
            text [len] = 0;
        }
        if (fsutil_write_atomic (path, text, len) != 0) {
            snprintf (err, err_size, "%s: cannot write (%s)", path, strerror (errno));
            rc = MF_ERR_IO;
        }
    }
    free (text);
    json_decref (files);
    json_decref (root);
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
        rc = s_walk (album_dir, "", 0, &list, err, err_size);
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

//  True when path exists and is a folder.
static int
s_is_dir (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

//  Publishes staging_root/slug as delivery_root/slug by one rename once
//  now_ms reaches deliver_at_ms; DELIVER_HELD before, 0 when published.
int
deliver_at (const char *staging_root, const char *delivery_root, const char *slug,
            int64_t now_ms, int64_t deliver_at_ms, char *err, size_t err_size)
{
    char dummy [8];
    if (!err || err_size == 0) {
        err = dummy;
        err_size = sizeof dummy;
    }
    err [0] = 0;
    if (!staging_root || !delivery_root || !slug || !fsutil_rel_path_ok (slug) || strchr (slug, '/')) {
        snprintf (err, err_size, "deliver: bad staging root, delivery root or album folder name");
        return MF_ERR_INVALID;
    }
    if (deliver_at_ms > 0 && now_ms < deliver_at_ms)
        return DELIVER_HELD;
    char src [4096], dst [4096], manifest [4200];
    snprintf (src, sizeof src, "%s/%s", staging_root, slug);
    snprintf (dst, sizeof dst, "%s/%s", delivery_root, slug);
    snprintf (manifest, sizeof manifest, "%s/%s", src, DELIVER_MANIFEST);
    int have_src = s_is_dir (src), have_dst = s_is_dir (dst);
    if (!have_src && have_dst)
        return 0;                   //  published before (a repeat after a crash)
    if (!have_src) {
        snprintf (err, err_size, "%s: no such album folder to deliver", src);
        return MF_ERR_NOTFOUND;
    }
    if (have_dst) {
        snprintf (err, err_size, "%s: already exists; not overwriting a delivered album with %s", dst, src);
        return MF_ERR_STATE;
    }
    struct stat st;
    if (stat (manifest, &st) != 0) {
        snprintf (err, err_size, "%s: the album has no manifest yet; it is not finished", src);
        return MF_ERR_STATE;
    }
    if (fsutil_mkdir_p (delivery_root, 0755) != 0) {
        snprintf (err, err_size, "%s: cannot create the delivery folder (%s)", delivery_root, strerror (errno));
        return MF_ERR_IO;
    }
    if (rename (src, dst) != 0) {
        snprintf (err, err_size, "cannot move %s to %s (%s); both must be on one file system",
                  src, dst, strerror (errno));
        return MF_ERR_IO;
    }
    if (fsutil_fsync_dir (delivery_root) != 0 || fsutil_fsync_dir (staging_root) != 0)
        log_warn ("deliver: fsync of %s or %s failed after publishing %s", delivery_root, staging_root, slug);
    log_info ("delivered %s", dst);
    return 0;
}
