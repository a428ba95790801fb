/*  The reuse cache: the analyses and masters of earlier jobs, found again
    by the content of their input, so that a catalog submitted again
    redoes only what changed.

    It is a folder of files under the output root, OUTPUT_ROOT/.masterfarm/
    cache, beside the jobs' staging folders (job cleanup leaves it alone):

      in-<P>       P: SHA-256 of the input's path under the input root.
                   "dev ino size mtime_ns ctime_ns sha256": the input's
                   digest as long as its status is unchanged, so that an
                   unchanged file is not read again (git's index does the
                   same). Written only for files whose times are more than
                   CACHE_RACY_S seconds older than the status taken, so a
                   write in the same clock tick cannot hide behind it.
      a-<K>.pb     K: cache_key ("analysis", version, input digest): the
                   packed Analysis message of the track.
      m-<K>.wav    K: cache_key ("master", version, input digest, profile,
                   track, the album's settings, the packed plan): a hard
                   link of the master's intermediate (written whole and
                   renamed into place by the worker, never changed after).
      m-<K>.json   {"report": ..., "bytes": N, "sha256": "..."} of it.

    Everything is written to a temporary name and renamed into place, and
    checked when read back (a size that differs, a file that does not
    parse: a miss, never a wrong reuse). An entry not used for the
    retention period is removed by cache_sweep. Every function here is a
    lookup or a best-effort write: a failure is a miss, logged at debug.  */
#ifndef MF_BROKER_CACHE_H
#define MF_BROKER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sha256.h"

#define CACHE_DIR     ".masterfarm/cache"   //  under the output root
#define CACHE_RACY_S  2                     //  see in-<P> above

//  An input file's status, as the broker took it before dispatch.
typedef struct {
    bool     ok;                //  taken, and old enough to be trusted
    uint64_t dev, ino;
    int64_t  size, mtime_ns, ctime_ns;
} cache_stat_t;

//  Takes the status of input_root/rel (opened beneath the root). ok is
//  false when the file cannot be opened or was changed less than
//  CACHE_RACY_S seconds ago.
void cache_stat_input (const char *input_root, const char *rel, cache_stat_t *st);

//  st as one line of text ("dev ino size mtime_ns ctime_ns"; "" when not
//  taken), and back (false, and a status not taken, for anything else).
void cache_stat_format (const cache_stat_t *st, char *buf, size_t size);
bool cache_stat_parse (const char *text, cache_stat_t *st);

//  Whether a file's status now (now) is still the one taken before it
//  was read (then): the same file, unchanged. False when either was not
//  taken.
bool cache_stat_same (const cache_stat_t *then, const cache_stat_t *now);

//  The digest recorded for rel when its status still equals st. Returns
//  true and fills sha, or false.
bool cache_input_get (const char *out_root, const char *rel, const cache_stat_t *st,
                      char sha [SHA256_HEX_SIZE]);

//  Records rel's digest under its status (nothing when !st->ok).
void cache_input_put (const char *out_root, const char *rel, const cache_stat_t *st,
                      const char *sha);

//  A key: the SHA-256 (hex) of kind and the n parts, each length-prefixed.
void cache_key (char key [SHA256_HEX_SIZE], const char *kind, const void *const *parts,
                const size_t *lens, size_t n);

//  The packed analysis under key. Returns true with *data (free it), or false.
bool cache_analysis_get (const char *out_root, const char *key, char **data, size_t *size);

//  Records a packed analysis under key.
void cache_analysis_put (const char *out_root, const char *key, const void *data,
                         size_t size);

//  Links the master under key to dest_rel (relative to the output root,
//  replacing what is there) and gives its report (free it), size and
//  digest. Returns true, or false with nothing changed.
bool cache_master_get (const char *out_root, const char *key, const char *dest_rel,
                       char **report, int64_t *bytes, char sha [SHA256_HEX_SIZE]);

//  Records the master at src_rel (relative to the output root) under key
//  with its report, size and digest.
void cache_master_put (const char *out_root, const char *key, const char *src_rel,
                       const char *report, int64_t bytes, const char *sha);

//  Removes the entries not used for keep_s seconds. Returns how many
//  files were removed.
size_t cache_sweep (const char *out_root, int64_t keep_s);

//  Removes every temporary file in the cache: at a broker's start, those
//  of an earlier broker killed while writing an entry (a second broker
//  writing to the same output root would only lose that write: every
//  cache write is best effort). Returns how many files were removed.
size_t cache_clear_temps (const char *out_root);

#endif
