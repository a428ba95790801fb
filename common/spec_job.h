/*  Job spec parser, private: the job, its albums and their tracks. Only
    the spec parser's own files include this header; callers use
    common/spec.h.

    It owns the key tables (spec_keys.h) of the top-level object (name,
    priority, deadline, deliver_at), of an album (title, artist, upc,
    date, genre) and of a track (path, title, artist, isrc, disc), with
    the readers of values that have their own syntax; the rules for keys
    written at the wrong level (a setting at the top, an album setting in
    a track, an album key in defaults); and the parse of a JSON root into
    a job_spec_t, level by level:

      Settings start from spec_settings_default; the "defaults" object is
      applied over them, each album's keys over the resolved defaults,
      each track's keys over its album's. Since each object is applied
      once, each mistake is reported once, at the JSON path where it was
      written. What only shows once an album is read (a reference track
      that does not exist, reference files given per track) is checked
      after its tracks.

    It also holds the pieces of a spec's life the JSON and CSV parsers
    share (a new spec, freeing a track, a title from a file name) and
    defines spec.h's spec_isrc_normalise.  */
#ifndef MF_SPEC_JOB_H
#define MF_SPEC_JOB_H

#include <jansson.h>

#include "common/spec.h"
#include "common/spec_ctx.h"
#include "common/spec_keys.h"

//  The keys of the top-level object, over job_spec_t ("defaults" and
//  "albums" are read by spec_job_parse_root, not by the walk).
extern const spec_table_t spec_job_top_table;

//  The keys of an album object, over spec_album_t (not "tracks").
extern const spec_table_t spec_job_album_table;

//  The keys of a track object, over spec_track_t.
extern const spec_table_t spec_job_track_table;

//  Fills spec (from spec_job_new) from a parsed JSON root, reporting every
//  problem into ctx. On errors spec is partly filled: the caller destroys it.
void spec_job_parse_root (spec_ctx_t *ctx, const json_t *root, job_spec_t *spec);

//  A new empty spec with built-in defaults, or NULL on out of memory.
job_spec_t *spec_job_new (void);

//  Frees the strings of one settings-bearing track (not the track itself).
void spec_job_track_free (spec_track_t *t);

//  The file name of path without folder and extension (control characters
//  made spaces; "untitled" when empty), as a new string; NULL on out of memory.
char *spec_job_title_from_path (const char *path);

#endif
