/*  File system helpers shared by the broker, the worker and the client:
    creating folders, writing files atomically, reading whole files with a
    size cap, keeping relative paths inside a root (the input and output
    sandboxes of DESIGN.md), and turning titles into safe file names.

    Sandbox: fsutil_path_inside checks a path at submit; the *_beneath
    functions open, create and write at the moment of use so that a file
    or folder swapped for a symlink since then cannot lead outside the
    root (openat2 RESOLVE_BENEATH, or a walk refusing every symlink).

    Atomic write: the data goes to a temporary name in the same folder
    ("<name>.tmp-<pid>-<n>"), is fsynced, renamed over the final name, and
    the folder is fsynced, so that after a crash at any moment the final
    name holds either the old contents or the complete new contents,
    never a torn file. On any failure the temporary file is removed.

    Names: fsutil_slugify makes folder names ("Back Catalog: 1971/79" ->
    "back-catalog-1971-79"); fsutil_safe_name keeps case and spaces for
    human-facing file names ("AC/DC: Live?" -> "AC_DC_ Live_"). Latin
    letters are spelt in ASCII (Latin-1 and Latin Extended-A lose their
    accents: "Dvořák" -> "Dvorak"); the letters and digits of other scripts
    (Greek, Cyrillic, Hebrew, Arabic, Indic, Thai, Hangul, kana, CJK, ...)
    are kept in UTF-8, so that a Japanese or Russian catalog keeps its
    titles; symbols, emoji and controls are not. Never a slash, never a
    leading dot, at most FSUTIL_NAME_MAX bytes (never cut within a
    character), and the same result for the same input.  */
#ifndef MF_FSUTIL_H
#define MF_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define FSUTIL_NAME_MAX   80            //  bytes of a slug or safe name, without NUL
#define FSUTIL_READ_MAX   (64u << 20)   //  default cap for fsutil_read_file, bytes

//  Creates path and any missing parents with mode (e.g. 0755); existing
//  folders are fine. Returns 0, MF_ERR_INVALID for an empty path, or
//  MF_ERR_IO (errno kept) if a component cannot be created or is not a folder.
int fsutil_mkdir_p (const char *path, mode_t mode);

//  fsyncs a folder so that renames and creations inside it are durable.
//  Returns 0 or MF_ERR_IO.
int fsutil_fsync_dir (const char *dir);

//  Writes a fresh temporary name for final_path into buf: same folder,
//  "<final>.tmp-<pid>-<counter>". Returns 0, or MF_ERR_INVALID if buf is
//  too small.
int fsutil_temp_path (const char *final_path, char *buf, size_t size);

//  Writes len bytes to the open fd, again after an interruption or a
//  short write. Returns 0, or -1 with errno (EIO for a write of nothing).
int fsutil_write_full (int fd, const void *data, size_t len);

//  fsutil_write_full, then fsyncs fd. Returns 0, or -1 with errno.
int fsutil_write_all (int fd, const void *data, size_t len);

//  Writes len bytes to path atomically (see above), file mode 0644.
//  The folder must exist. Returns 0 or MF_ERR_IO (temporary file removed).
int fsutil_write_atomic (const char *path, const void *data, size_t len);

//  Commits an already written temporary file: fsyncs it, renames it to
//  final_path (same file system) and fsyncs final_path's folder.
//  Returns 0 or MF_ERR_IO; on failure tmp_path is removed.
int fsutil_commit_temp (const char *tmp_path, const char *final_path);

//  Removes the temporary files (named as fsutil_temp_path makes them) that
//  a killed writer left in dir. With only_dead, files of processes that
//  are still running are kept. Returns the number removed, or MF_ERR_IO
//  if dir cannot be read.
int fsutil_clean_temps (const char *dir, bool only_dead);

//  Reads a whole regular file into a new NUL-terminated buffer (*data_out,
//  caller frees; *len_out excludes the NUL). max_bytes 0 means
//  FSUTIL_READ_MAX. Returns 0, MF_ERR_IO (errno kept) if it cannot be
//  read, MF_ERR_INVALID if it is larger than max_bytes or not a regular
//  file, MF_ERR_NOMEM.
int fsutil_read_file (const char *path, size_t max_bytes, char **data_out,
                      size_t *len_out);

//  Lexical check of a relative path from a spec: not empty, not absolute,
//  no ".." component, no NUL, no backslash. Returns true when acceptable.
bool fsutil_rel_path_ok (const char *rel);

//  Sandbox check: rel must pass fsutil_rel_path_ok and root/rel, with every
//  symlink resolved (realpath), must stay inside realpath(root). When
//  resolved is not NULL the resolved absolute path is written there.
//  Returns 0; MF_ERR_INVALID if the path is malformed or escapes root;
//  MF_ERR_NOTFOUND if root/rel does not exist (errno kept); MF_ERR_IO if
//  root cannot be resolved or resolved is too small.
int fsutil_path_inside (const char *root, const char *rel, char *resolved,
                        size_t size);

//  Sandbox at the moment of use: opens root/rel so that nothing outside
//  root can be reached at the time of the open. rel must pass
//  fsutil_rel_path_ok. With openat2(2) (RESOLVE_BENEATH |
//  RESOLVE_NO_MAGICLINKS) a symlink that stays inside root is followed
//  and one that leads out (or a "..") fails; on a kernel without openat2
//  the path is walked one component at a time with O_NOFOLLOW and every
//  symlink is refused. flags and mode are those of open(2) (O_CLOEXEC is
//  added; mode only matters with O_CREAT). Returns the new descriptor
//  (caller closes), or MF_ERR_INVALID with errno EXDEV when the path is
//  malformed or leaves root (symlink or ".."), MF_ERR_NOTFOUND (errno
//  kept) when a component is missing, MF_ERR_IO (errno kept) otherwise.
int fsutil_open_beneath (const char *root, const char *rel, int flags, mode_t mode);

//  mkdir -p of root/rel_dir with the same containment as
//  fsutil_open_beneath: no component may be, or be swapped for, a symlink
//  leading out of root. rel_dir "" or "." is root itself (which must
//  exist). Returns 0, or the errors of fsutil_open_beneath.
int fsutil_mkdir_beneath (const char *root, const char *rel_dir, mode_t mode);

//  fsutil_read_file of root/rel opened by fsutil_open_beneath. Returns 0,
//  the errors of fsutil_open_beneath (MF_ERR_INVALID with errno EXDEV:
//  the path leaves root), or those of fsutil_read_file once open.
int fsutil_read_beneath (const char *root, const char *rel, size_t max_bytes,
                         char **data_out, size_t *len_out);

//  fsutil_write_atomic of root/rel: the folders are made with
//  fsutil_mkdir_beneath, and the temporary file is created, renamed and
//  the folder fsynced through a descriptor of the folder opened beneath
//  root, so that a folder swapped for a symlink leads nowhere outside.
//  Returns 0, the errors of fsutil_open_beneath, or MF_ERR_IO (errno
//  kept; temporary file removed).
int fsutil_write_atomic_beneath (const char *root, const char *rel, const void *data,
                                 size_t len);

//  Opens the folder root/rel_dir beneath root (with create, makes it
//  first with fsutil_mkdir_beneath) for code that writes by path: path
//  gets "/proc/self/fd/N", which names the folder held open, so names
//  under it cannot be redirected by a later swap of any component; where
//  /proc is not mounted it gets root/rel_dir (checked at this moment
//  only). Returns the descriptor (keep it open while path is used, then
//  close it), or the errors of fsutil_open_beneath; MF_ERR_IO if path is
//  too small.
int fsutil_dir_beneath (const char *root, const char *rel_dir, bool create,
                        char *path, size_t size);

//  One line for a failure of fsutil_open_beneath or fsutil_mkdir_beneath
//  (rc and the errno it left): "path leaves the <what> root (symlink or
//  '..')", "no such file or folder", or strerror. what names the root
//  ("input", "output"). Writes into buf and returns it.
const char *fsutil_beneath_strerror (int rc, int err, const char *what,
                                     char *buf, size_t size);

//  Test hook: true makes fsutil_open_beneath and fsutil_mkdir_beneath use
//  the component walk as on a kernel without openat2.
void fsutil_beneath_force_walk (bool walk);

//  Folder-name slug: lower-case letters and digits (see above: other
//  scripts' letters kept, Greek and Cyrillic made small), runs of anything
//  else become one '-', no leading/trailing '-', at most FSUTIL_NAME_MAX
//  bytes; "untitled" if nothing is left. size must be > FSUTIL_NAME_MAX
//  for an untruncated result. Returns buf.
char *fsutil_slugify (const char *title, char *buf, size_t size);

//  File-name form of a title that keeps case, spaces and punctuation that
//  is safe on common file systems: / \ : * ? " < > | and control
//  characters become '_', leading dots and spaces are dropped, trailing
//  dots and spaces trimmed, at most FSUTIL_NAME_MAX bytes; "untitled" if
//  nothing is left. Returns buf.
char *fsutil_safe_name (const char *title, char *buf, size_t size);

//  "NN - <safe title>.<ext>" for a 1-based track number (three digits
//  above 99). Returns 0, or MF_ERR_INVALID if buf is too small (it needs
//  FSUTIL_NAME_MAX + 16 bytes at most plus the extension).
int fsutil_track_file_name (int number, const char *title, const char *ext,
                            char *buf, size_t size);

#endif
