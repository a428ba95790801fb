/*  Delivery (DESIGN.md "The flow of one album", step 6, and "Contract:
    outputs"): where an album's files go, the manifest that closes it,
    and publishing at deliver_at.

    Layout: OUTDIR/<album-slug>/<profile>/ holds a profile's masters,
    album file and CUE; OUTDIR/<album-slug>/ holds report.json,
    report.html and manifest.json. The broker builds an album in a
    staging root, writes the manifest last, and then publishes the album
    folder into the delivery root with one atomic rename, at deliver_at
    and not before. Both roots must be on one filesystem.  */
#ifndef MF_DELIVER_H
#define MF_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "common/profile.h"
#include "common/spec.h"

#define DELIVER_MANIFEST   "manifest.json"
#define DELIVER_HELD       1       //  deliver_at: not yet time, nothing moved

//  The album's folder name: a slug of "<artist> - <title>" (lower case
//  ASCII letters, digits and '-'), never empty. Returns 0, or
//  MF_ERR_INVALID when it does not fit in size.
int deliver_album_slug (const spec_album_t *album, char *buf, size_t size);

//  OUTDIR/<album-slug> into buf. Returns 0 or MF_ERR_INVALID (too long).
int deliver_album_dir (const char *out_root, const spec_album_t *album,
                       char *buf, size_t size);

//  OUTDIR/<album-slug>/<profile> into buf. Returns 0 or MF_ERR_INVALID.
int deliver_profile_dir (const char *out_root, const spec_album_t *album,
                         const profile_t *profile, char *buf, size_t size);

//  Writes album_dir/manifest.json: {"files": [{"path", "bytes", "sha256"}]}
//  for every regular file under album_dir (recursively, paths relative
//  and '/'-separated, sorted bytewise; the manifest itself and temporary
//  files starting with '.' excluded). Written atomically; call it last.
//  Returns 0, MF_ERR_IO (err names the file) or MF_ERR_NOMEM.
int deliver_manifest_write (const char *album_dir, char *err, size_t err_size);

//  The same with status (a JSON object's text, or NULL) merged in first,
//  e.g. {"complete": false, "missing": [...]} for a partial delivery.
int deliver_manifest_write_status (const char *album_dir, const char *status,
                                   char *err, size_t err_size);

//  The same for the album folder root/album_rel, opened beneath root
//  (fsutil_open_beneath) and not itself a symbolic link; files are read
//  and the manifest written through folder descriptors without following
//  symbolic links, so nothing outside the album folder is read or
//  written. deliver_manifest_write_status is this with album_dir's folder
//  as root. Returns 0, MF_ERR_INVALID (a symbolic link, or a path leaving
//  root; err names it), MF_ERR_NOTFOUND, MF_ERR_IO or MF_ERR_NOMEM.
int deliver_manifest_write_status_beneath (const char *root, const char *album_rel,
                                           const char *status, char *err, size_t err_size);

//  A digest already known for a file of an album: the worker that wrote
//  it read it back from the shared storage and hashed it (path relative
//  to the album folder).
typedef struct {
    const char *path;
    int64_t     bytes;
    const char *sha256;           //  64 hex digits
} deliver_known_t;

//  deliver_manifest_write_status_beneath taking the digest of a file from
//  known when its path is there with the file's size, instead of reading
//  the file again: an album's files are then hashed where they were made,
//  not all again by the broker. Files without such an entry are hashed.
int deliver_manifest_write_known_beneath (const char *root, const char *album_rel,
                                          const char *status, const deliver_known_t *known,
                                          size_t n_known, char *err, size_t err_size);

//  Removes everything under album_dir that does not belong to the
//  delivery: every entry whose path (relative, '/'-separated) is not one
//  of keep's n_keep paths, and folders left empty. A missing album_dir
//  is fine. Returns 0 or MF_ERR_IO (err names what could not go).
int deliver_prune (const char *album_dir, const char *const *keep, size_t n_keep,
                   char *err, size_t err_size);

//  The same for root/album_rel, opened as deliver_manifest_write_status_
//  beneath does; entries are removed by name under folder descriptors
//  (a symbolic link as a link, never followed), so nothing outside the
//  album folder is deleted. deliver_prune is this with album_dir's folder
//  as root. Returns 0, MF_ERR_INVALID (the album folder is a symbolic
//  link or leads out of root; err names it) or MF_ERR_IO.
int deliver_prune_beneath (const char *root, const char *album_rel, const char *const *keep,
                           size_t n_keep, char *err, size_t err_size);

//  Checks every file listed in album_dir/manifest.json against its size
//  and SHA-256, and that no file is missing. Returns 0, MF_ERR_FORMAT
//  (manifest unreadable, or a mismatch; err names the file) or MF_ERR_IO.
int deliver_manifest_verify (const char *album_dir, char *err, size_t err_size);

//  Publishes staging_root/<slug> as delivery_root/<slug> with one atomic
//  rename (then fsyncs delivery_root) when now_ms >= deliver_at_ms
//  (deliver_at_ms 0: at once). Returns DELIVER_HELD when it is not yet
//  time (nothing touched; call again later), 0 when published or when it
//  was already published (the staging folder is gone and the delivered
//  one exists: safe to repeat after a crash), MF_ERR_STATE when the
//  staging folder has no manifest or the delivery folder already exists
//  next to a staging one, MF_ERR_NOTFOUND when neither exists,
//  MF_ERR_INVALID when either staging_root/<slug> or delivery_root/<slug>
//  is a symbolic link (refused, never followed; err names it), MF_ERR_IO.
//  The move goes by names under descriptors of the two roots and never
//  replaces what appears at the destination meanwhile.
int deliver_at (const char *staging_root, const char *delivery_root, const char *slug,
                int64_t now_ms, int64_t deliver_at_ms, char *err, size_t err_size);

//  deliver_at of out_root/staging_rel/<slug> to out_root/<slug>, the
//  staging folder opened beneath out_root (fsutil_open_beneath), so that
//  a folder on the way swapped for a symbolic link leading out of the
//  output root is refused (MF_ERR_INVALID, err names it) instead of
//  followed. Same returns as deliver_at.
int deliver_at_beneath (const char *out_root, const char *staging_rel, const char *slug,
                        int64_t now_ms, int64_t deliver_at_ms, char *err, size_t err_size);

#endif
