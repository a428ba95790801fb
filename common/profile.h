/*  Delivery profiles (DESIGN.md, "Contract: profiles").

    A profile fixes the loudness target (unless the job's loudness block
    overrides it), the true-peak ceiling, and the output format, word size
    and sample rate of every file delivered for it.  */
#ifndef MF_PROFILE_H
#define MF_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    PROFILE_SPOTIFY = 0,
    PROFILE_APPLE,
    PROFILE_YOUTUBE,
    PROFILE_AMAZON,
    PROFILE_TIDAL,
    PROFILE_CD,
    PROFILE_BROADCAST,
    PROFILE_HIRES,
    PROFILE_COUNT
} profile_id_t;

typedef enum {
    OUT_WAV = 0,
    OUT_FLAC,
    OUT_AIFF
} out_format_t;

typedef enum {
    RATE_SOURCE = 0,     //  44.1/48 kHz kept; multiples of 44.1 kHz to 44.1, others to 48
    RATE_FIXED,          //  resample to rate_hz
    RATE_SOURCE_UPTO     //  keep the source rate up to rate_hz
} rate_rule_t;

typedef struct {
    profile_id_t id;
    const char  *name;            //  "spotify", ...
    double       target_lufs;     //  the profile's own target
    bool         target_from_job; //  true: the job's target_lufs (default -14)
    double       ceiling_dbtp;    //  true-peak ceiling
    out_format_t format;
    int          bits;            //  16 or 24 (32 = float, WAV only)
    rate_rule_t  rate_rule;
    int          rate_hz;         //  for RATE_FIXED and RATE_SOURCE_UPTO
    bool         cd;              //  Red Book rules: 588-sample frames, CUE
    const char  *ext;             //  "flac", "wav", "aiff"
    int          flac_level;      //  FLAC encoder preset 0..8 (FLAC profiles)
    int          lossy_kbps;      //  the platform's typical lossy stream (stereo), for
                                  //  the codec check; 0: not a streaming profile
} profile_t;

//  The profile with this id; NULL if id is out of range.
const profile_t *profile_get (profile_id_t id);

//  The profile with this name (case-sensitive); NULL if unknown.
const profile_t *profile_find (const char *name);

//  Output sample rate for a source rate under this profile.
int profile_output_rate (const profile_t *profile, int source_rate_hz);

//  The loudness target in LUFS for this profile given the job's target
//  (NAN or has_job_target=false when the job gives none).
double profile_target_lufs (const profile_t *profile, bool has_job_target,
                            double job_target_lufs);

#endif
