/*  The album report (DESIGN.md "Contract: outputs"): report.json with
    every measurement and decision, and report.html with the same for
    people, with inline SVG plots (loudness per track, spectra before and
    after). Written into OUTDIR/<album-slug>/ after all profiles of the
    album are assembled, before the manifest.

    Per track and profile: input and output loudness (LUFS), LRA (LU),
    true peak (dBTP), static gain (dB), tonal correction per 1/3-octave
    band (dB), limiter gain reduction maximum and mean (dB), start frame
    and length in frames in the album timeline. Per album and profile:
    album loudness (union gating, BS.1770-4) and the spread between
    tracks, and the plan's inputs and decisions (album_plan_t.report_json
    embedded as is). Everything optional may be NULL: a report can be
    written for a plan alone, before mastering or assembly.  */
#ifndef MF_REPORT_H
#define MF_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "broker/planner.h"
#include "common/measure.h"
#include "common/profile.h"
#include "common/spec.h"
#include "common/results.h"

typedef struct {
    profile_id_t              profile;
    const album_plan_t       *plan;      //  the album plan for this profile (required)
    const master_report_t    *masters;   //  n_tracks master reports, or NULL
    const assemble_layout_t  *layout;    //  the album timeline, or NULL
    int                       rate_hz;   //  output rate the layout counts frames at
    const measure_t *const   *outputs;   //  n_tracks measures of the delivered
                                         //  tracks (with blocks), or NULL
    double                    album_out_lufs;  //  measured album loudness; NAN:
                                               //  from outputs' blocks if given
    const bool               *delivered; //  n_tracks: this profile has the track's
                                         //  master (a partial delivery), NULL: all
} report_profile_t;

//  What a partial delivery lacks: a track of one profile (or of every
//  profile: profile NULL), or one profile's whole album (track 0).
typedef struct {
    int                       track;     //  number in the album spec, 0: album-level
    const char               *title;     //  the track's title, NULL for album-level
    const char               *profile;   //  NULL: every profile
    const char               *reason;
} report_missing_t;

typedef struct {
    const spec_album_t       *album;
    const measure_t *const   *analyses;  //  album->n_tracks input analyses
    const report_profile_t   *profiles;
    size_t                    n_profiles;
    const int                *numbers;   //  album->n_tracks numbers in the spec, NULL: 1..n
    bool                      incomplete; //  a partial delivery ("complete": false)
    const report_missing_t   *missing;   //  n_missing entries: what is not delivered, why
    size_t                    n_missing;
} report_input_t;

//  The report as JSON text (UTF-8, indented, keys in a fixed order so the
//  same inputs give the same bytes). Non-finite numbers (silence) are
//  written as null. Returns a string the caller frees, or NULL when an
//  input is missing (album, analyses, a profile's plan) or out of memory.
char *report_json (const report_input_t *in);

//  {"complete": bool, "missing": [{"track", "title", "profile", "reason"}]}
//  from in's incomplete flag and missing list only (the manifest carries
//  it too). Caller frees; NULL when out of memory.
char *report_status_json (const report_input_t *in);

//  The report as one self-contained HTML page (no scripts, no external
//  resources): tables and inline SVG plots. Same failure as report_json.
char *report_html (const report_input_t *in);

//  Writes report.json and report.html into album_dir atomically (temporary
//  name, fsync, rename, directory fsync). Returns 0, MF_ERR_INVALID (input
//  missing), MF_ERR_NOMEM or MF_ERR_IO with err naming the file.
int report_write (const report_input_t *in, const char *album_dir,
                  char *err, size_t err_size);

//  The same into root/album_rel (made if missing), the folder created and
//  the files written beneath root (fsutil_mkdir_beneath,
//  fsutil_write_atomic_beneath), so a folder on the way swapped for a
//  symbolic link leading out of root is refused, not followed
//  (MF_ERR_INVALID, err naming it). report_write is this with
//  album_dir's folder as root.
int report_write_beneath (const report_input_t *in, const char *root, const char *album_rel,
                          char *err, size_t err_size);

#endif
