/*  Job spec parser, private: the settings every level of a spec has
    ("defaults", an album, a track). Only the spec parser's own files
    include this header; callers use common/spec.h.

    It owns the key tables (spec_keys.h) of settings_t and of what it
    holds: the chain and its stages (highpass, EQ, multiband, glue
    compressor, stereo, gain, limiter, dither), loudness, the tonal match
    with its reference files, the profiles; and the album-level settings
    ("partial") that defaults and albums have but tracks do not. It also
    defines spec.h's spec_settings_default (the tables' defaults and the
    rest of DESIGN.md's example values) and the dynamics presets
    (spec_dynamics_name, _find, _preset, _apply).

    Resolution. Applying an object changes only the keys it names,
    recursively ("loudness", "chain.compressor" and the rest merge key by
    key); arrays ("profiles", "chain.eq") replace the whole list.  */
#ifndef MF_SPEC_SETTINGS_H
#define MF_SPEC_SETTINGS_H

#include "common/spec.h"
#include "common/spec_ctx.h"
#include "common/spec_keys.h"

//  A reference_track given as a path, waiting for its album's track list.
//  The tonal reader fills it (the walk's arg); spec_job.c resolves it
//  once the album's tracks are read.
typedef struct {
    const char *path;                //  borrowed from the JSON tree; NULL: none
    char        where [SPEC_PATH_MAX];
} spec_reftrack_t;

//  The settings every level has (defaults, album, track), over settings_t.
//  Readers that take the walk's arg take a spec_reftrack_t.
extern const spec_table_t spec_settings_table;

//  Settings of an album and of the defaults, not of a track, over settings_t.
extern const spec_table_t spec_settings_album_table;

//  The keys of a "chain" object, over chain_cfg_t (spec_parse_chain_json
//  reads a chain alone with it).
extern const spec_table_t spec_settings_chain_table;

//  Names of the tonal matches and of the dynamics presets, indexed by value.
extern const char *const spec_settings_match_names [3];
extern const char *const spec_settings_dynamics_names [DYN_COUNT];

#endif
