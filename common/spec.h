/*  Job spec: the model of DESIGN.md's "Contract: job spec (JSON)" and the
    parser that fills it from JSON (jansson) or from a CSV catalog.

    Settings can be given in "defaults", per album and per track; the parser
    resolves them so that every album and every track carries its complete
    settings_t (the nearest level wins, key by key). Album-wide decisions
    (loudness policy, tonal match, profiles) are read from the album's
    settings; per-track ones (chain, gaps, fades) from the track's.

    Parsing never stops at the first problem: every error found is appended
    to a spec_errors_t with its JSON path ("$.albums[0].tracks[2].gap_s"),
    or for CSV its line, and the line and column in the source text where
    known. A spec with any error is not returned.  */
#ifndef MF_SPEC_H
#define MF_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/profile.h"

#define SPEC_MAX_EQ       16     //  parametric EQ bands per chain
#define SPEC_MAX_TRACKS   999    //  tracks per album (cd allows 99)
#define SPEC_MAX_REFS     8      //  reference files an album is matched to
#define SPEC_REF_PATH     256    //  bytes of a reference file's path, with its NUL

typedef enum {
    FADE_LINEAR = 0, FADE_EXPONENTIAL, FADE_LOGARITHMIC, FADE_SCURVE,
    FADE_EQUAL_POWER
} fade_curve_t;

typedef enum { POLICY_TRACK = 0, POLICY_ALBUM, POLICY_LOUDEST, POLICY_HYBRID } loudness_policy_t;
typedef enum { TONAL_OFF = 0, TONAL_ALBUM, TONAL_REFERENCE } tonal_match_t;
typedef enum { EQ_PEAK = 0, EQ_LOWSHELF, EQ_HIGHSHELF, EQ_HIGHPASS, EQ_LOWPASS } eq_type_t;

typedef struct {
    eq_type_t type;
    double    freq_hz;           //  centre or corner, 10 .. 0.45 * rate
    double    gain_db;           //  -24 .. +24 (peak and shelves)
    double    q;                 //  0.1 .. 18 (shelves: slope S via q)
} eq_band_t;

typedef struct {
    bool   enabled;
    double threshold_db;         //  -60 .. 0 dBFS
    double ratio;                //  1 .. 20
    double attack_ms;            //  0.1 .. 500
    double release_ms;           //  1 .. 5000
    double knee_db;              //  0 .. 24
    double makeup_db;            //  -24 .. 24
    bool   relative;             //  glue compressor only: the threshold is threshold_lu
                                 //  above the track's integrated loudness (key
                                 //  "threshold_lu"); the worker resolves it into
                                 //  threshold_db (chain_resolve_dynamics)
    double threshold_lu;         //  -30 .. 30 LU, when relative
} comp_cfg_t;

/*  Dynamics presets ("dynamics" key, any level; `masterfarm master
    --dynamics`). Each sets the glue compressor; the thresholds are
    relative to the track's measured integrated loudness (BS.1770), so the
    compressor works as hard on a quiet mix as on a loud one. The detector
    is the sample peak, which on music sits 10 to 20 dB above the loudness.

      none      compressor off
      gentle    (default) threshold loudness + 10 LU, 1.5:1, knee 6 dB,
                attack 30 ms, release 250 ms: touches only the highest
                peaks of the loudest passages; the loudness range changes
                by about 0.1 LU on orchestral material
      standard  loudness + 6 LU, 2:1, knee 6 dB, attack 20 ms, release
                200 ms: audible glue, under 1 LU off a wide range
      punchy    loudness + 1 LU, 3:1, knee 4 dB, attack 30 ms (transients
                pass), release 120 ms: dense, 2 to 3 LU off a wide range

    Precedence: chain.compressor keys given in the spec, at any level,
    win over the preset, key by key; the preset fills the others.  */
typedef enum { DYN_NONE = 0, DYN_GENTLE, DYN_STANDARD, DYN_PUNCHY, DYN_COUNT } dynamics_t;

//  Bits of chain_cfg_t.comp_keys: compressor keys the spec gave.
#define SPEC_COMP_ENABLED    (1u << 0)
#define SPEC_COMP_THRESHOLD  (1u << 1)     //  threshold_db or threshold_lu
#define SPEC_COMP_RATIO      (1u << 2)
#define SPEC_COMP_ATTACK     (1u << 3)
#define SPEC_COMP_RELEASE    (1u << 4)
#define SPEC_COMP_KNEE       (1u << 5)
#define SPEC_COMP_MAKEUP     (1u << 6)

typedef struct {
    bool       enabled;
    double     low_hz;           //  low/mid crossover, 40 .. 1000
    double     high_hz;          //  mid/high crossover, > low_hz, .. 16000
    comp_cfg_t band [3];         //  low, mid, high
} multiband_cfg_t;

typedef struct {
    double width;                //  0 (mono) .. 2; 1 is neutral
    double mono_below_hz;        //  0 (off) .. 500
} stereo_cfg_t;

typedef struct {
    bool   enabled;
    double ceiling_dbtp;         //  -20 .. 0; NAN: from the profile/loudness block
    double lookahead_ms;         //  0.5 .. 20
    double release_ms;           //  1 .. 2000
    double max_gr_db;            //  most gain reduction the loudness loop may ask, 0 .. 20
} limiter_cfg_t;

typedef struct {
    double          highpass_hz;      //  0 (off) or 5 .. 200
    int             highpass_order;   //  2 or 4
    eq_band_t       eq [SPEC_MAX_EQ];
    int             n_eq;
    multiband_cfg_t multiband;
    comp_cfg_t      compressor;
    stereo_cfg_t    stereo;
    double          gain_db;          //  -48 .. 48
    limiter_cfg_t   limiter;
    bool            dither;           //  dither when the output word is shorter than 24 bits
    bool            noise_shaping;    //  shaped TPDF (Wannamaker's 3-tap filter, dither.h)
                                      //  instead of flat; default true
    dynamics_t      dynamics;         //  the preset the compressor comes from
    uint32_t        comp_keys;        //  SPEC_COMP_* keys given explicitly (kept
                                      //  over the preset)
    bool            tonal_minimum_phase;  //  tonal EQ minimum phase (reference
                                      //  match) instead of linear phase; not a spec key
} chain_cfg_t;

typedef struct {
    loudness_policy_t policy;
    bool   has_target;           //  target_lufs given somewhere in the spec
    double target_lufs;          //  -40 .. -5
    bool   has_true_peak;        //  true_peak_dbtp given somewhere
    double true_peak_dbtp;       //  -20 .. 0
    double max_deviation_lu;     //  0 .. 20 (hybrid)
} loudness_cfg_t;

//  How far a reference match goes in each aspect, 0 .. 1 (default 1).
typedef struct {
    double tone;                 //  the tonal curve's share
    double loudness;             //  the album target moves this far from the
                                 //  profile's toward the references' loudness
    double width;                //  the side/mid ratio's share of the way to theirs
} spec_intensity_t;

//  A reference file to match (tonal "reference"), relative to the input root.
typedef struct {
    char   path [SPEC_REF_PATH];
    double weight;               //  > 0; normalised over the album's references
} spec_ref_t;

typedef struct {
    tonal_match_t match;
    double strength;             //  0 .. 1
    double max_db;               //  0 .. 12
    int    reference_track;      //  index in the album for TONAL_REFERENCE, else -1
    //  reference files (album level; tracks keep the album's): with them,
    //  TONAL_REFERENCE matches each track to their weighted shape, their
    //  loudness and their stereo width, each aspect by its own intensity
    spec_ref_t refs [SPEC_MAX_REFS];
    int    n_refs;
    spec_intensity_t intensity;  //  tone and width per track; loudness the album's
} tonal_cfg_t;

typedef struct {
    uint32_t       profiles;     //  bit (1u << profile_id_t) per profile
    //  per-profile options, same bits ("profiles" entries given as objects):
    uint32_t       codec_check;  //  measure the true peak after lossy round trips
    uint32_t       codec_safe;   //  and lower the ceiling until they are under it
    uint32_t       no_album_file;//  no continuous album file (never cd)
    loudness_cfg_t loudness;
    tonal_cfg_t    tonal;
    chain_cfg_t    chain;
    double         gap_s;        //  silence before the track, 0 .. 60
    double         fade_in_s;    //  0 .. 60
    double         fade_out_s;   //  0 .. 60
    double         crossfade_s;  //  overlap with the next track, 0 .. 30
    fade_curve_t   fade_curve;
    bool           trim;         //  auto-trim leading/trailing silence
    double         trim_db;      //  threshold for trim, -120 .. -30 dBFS
    bool           partial_deliver;  //  album level ("partial": "deliver"): publish an
                                 //  album with a failed track, marked incomplete;
                                 //  false ("hold", the default): hold it back
} settings_t;

typedef struct {
    char      *path;             //  relative to the input root
    char      *title;            //  never NULL (file name when not given)
    char      *artist;           //  NULL: the album's
    char      *isrc;             //  NULL or 12 characters CCXXXYYNNNNN
    settings_t s;                //  resolved
    int        number;           //  1-based place in the spec's album (kept in sub-lists)
    int        disc;             //  disc number 1 .. 99 of a multi-disc album; 0: not given
} spec_track_t;

typedef struct {
    char         *title;
    char         *artist;
    char         *upc;           //  NULL or 12/13 digits
    char         *date;          //  NULL or "YYYY" / "YYYY-MM-DD" (release date)
    char         *genre;         //  NULL or text
    settings_t    s;             //  resolved album-level settings
    spec_track_t *tracks;
    size_t        n_tracks;
} spec_album_t;

typedef struct {
    char         *name;
    int           priority;      //  0 .. 9, higher first
    int64_t       deadline_ms;   //  0: none; else ms since the epoch
    int64_t       deliver_at_ms; //  0: deliver at once
    settings_t    defaults;      //  resolved defaults
    spec_album_t *albums;
    size_t        n_albums;
} job_spec_t;

typedef struct {
    char *path;                  //  "$.albums[0].tracks[2].gap_s", or "line 7" for CSV
    int   line;                  //  1-based in the source text, 0 if unknown
    int   column;                //  1-based, 0 if unknown
    char *message;               //  what is wrong and what is allowed
} spec_error_t;

typedef struct {
    spec_error_t *items;
    size_t        n;
    size_t        cap;
} spec_errors_t;

//  The built-in defaults (DESIGN.md's example values, profiles spotify+cd).
void spec_settings_default (settings_t *s);

//  Parses a JSON job spec. origin names the source (messages do not repeat
//  it: callers print it before each error, see spec_errors_print). Returns the
//  spec, or NULL with every problem in errs (also NULL on out of memory,
//  with one error saying so). Paths are not checked against the filesystem.
job_spec_t *spec_parse_json (const char *text, size_t len, const char *origin,
                             spec_errors_t *errs);

//  Parses a CSV catalog (album,track,path,title,artist,isrc,gap_s,
//  fade_in_s,fade_out_s with a header line); same contract as the JSON form.
job_spec_t *spec_parse_csv (const char *text, size_t len, const char *origin,
                            spec_errors_t *errs);

//  Reads a file and parses it as CSV when it ends in .csv, else as JSON.
//  Returns NULL with errs filled on a read or parse failure.
job_spec_t *spec_load (const char *file, spec_errors_t *errs);

//  Checks that every track path stays inside input_root (no absolute path,
//  no "..", no symlink out) and names a readable regular file. Appends one
//  error per bad path. Returns the number of errors added.
int spec_check_paths (const job_spec_t *spec, const char *input_root,
                      spec_errors_t *errs);

//  Serialises the resolved spec as canonical JSON (for storage and wire);
//  spec_parse_json of the result gives an equal spec. Caller frees.
//  NULL on out of memory or when a spec built by code holds a value that
//  cannot be written (text that is not UTF-8, an enumeration out of range).
char *spec_to_json (const job_spec_t *spec);

//  Frees a spec; NULL-safe; sets *self_p to NULL.
void spec_destroy (job_spec_t **self_p);

//  Appends an error (message formatted printf-style). Returns 0 or MF_ERR_NOMEM.
int spec_errors_add (spec_errors_t *errs, const char *path, int line, int column,
                     const char *fmt, ...) __attribute__ ((format (printf, 5, 6)));

//  Frees the items and empties the list.
void spec_errors_clear (spec_errors_t *errs);

//  Prints every error as one line "origin: path: message (line L, column C)",
//  without the parenthesis when the position is unknown or the path is
//  already a CSV "line N, column X".
void spec_errors_print (const spec_errors_t *errs, const char *origin, FILE *out);

//  Validates a chain config alone (ranges above); appends errors under prefix.
//  Returns 0 when valid, else the number of errors added.
int spec_check_chain (const chain_cfg_t *chain, const char *prefix, spec_errors_t *errs);

//  The name of a dynamics preset ("none", "gentle", ...); "?" if out of range.
const char *spec_dynamics_name (dynamics_t d);

//  The preset with this name; -1 if unknown.
int spec_dynamics_find (const char *name);

//  The glue compressor of preset d (relative threshold; enabled false
//  for none).
void spec_dynamics_preset (dynamics_t d, comp_cfg_t *out);

//  Sets cfg->dynamics to d and every compressor key not in
//  cfg->comp_keys to the preset's value.
void spec_dynamics_apply (chain_cfg_t *cfg, dynamics_t d);

//  Parses one "chain" JSON object text into cfg (over its current values),
//  for `masterfarm master --spec`. Returns 0 or a negative error with errs.
int spec_parse_chain_json (const char *text, size_t len, const char *origin,
                           chain_cfg_t *cfg, spec_errors_t *errs);

//  Normalises an ISRC as the spec's "isrc" key does (hyphens dropped,
//  upper case) into out; true when it is CC-XXX-YY-NNNNN.
bool spec_isrc_normalise (const char *in, char out [13]);

#endif
