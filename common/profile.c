/*  The profile table of DESIGN.md. Kept in one place so the client, the
    broker's planner and the worker's chain agree on every number.

    Rates: spotify, youtube and amazon deliver 44.1 or 48 kHz (a source
    at another rate goes to the nearer family); apple (Apple Digital
    Masters asks for the hi-res source), tidal and hires keep the source
    rate up to 192 kHz; cd is 44.1 kHz and broadcast 48 kHz.

    FLAC presets: 1 for the platforms that transcode what they ingest
    (spotify, youtube, amazon), 5 (libFLAC's default) for tidal and hires,
    whose files reach listeners. Measured in libFLAC (no MD5, best of
    five) on delivered 24-bit spotify masters of 240 s generated mixes:
    against -3, -1 takes 15 to 17% less encoding CPU (0.242 against
    0.286 s on a dense mix, 0.233 against 0.279 on an orchestral one,
    0.251 against 0.302 at 48 kHz) and is 0.10%, 1.35% and 1.44% larger;
    a whole `masterfarm master` of the dense mix took 6% less CPU (mean
    of seven, 0.857 against 0.911 s). -2 is slower than -3, -0 loses
    mid-side stereo. -4 against -5 was 0.03% larger for 24% less on a
    delivered album.

    Lossy streams (the codec check's bitrate): spotify 160 kbps (its Ogg
    Vorbis "high" quality), youtube 160 (its Opus audio), apple 256 (AAC
    256; MP3, Vorbis and Opus stand in for AAC at that rate), amazon 256
    (its MP3 store), tidal 320 (AAC 320).  */
#include "common/profile.h"

#include <stddef.h>
#include <string.h>

//  id, name, target, target from the job, ceiling, format, bits, rate rule,
//  rate, cd, extension, FLAC preset, typical lossy stream in kbps
static const profile_t s_profiles [PROFILE_COUNT] = {
    { PROFILE_SPOTIFY,   "spotify",   -14.0, false, -1.0, OUT_FLAC, 24, RATE_SOURCE, 0,
      false, "flac", 1, 160 },
    { PROFILE_APPLE,     "apple",     -16.0, false, -1.0, OUT_WAV,  24, RATE_SOURCE_UPTO, 192000,
      false, "wav", -1, 256 },
    { PROFILE_YOUTUBE,   "youtube",   -14.0, false, -1.0, OUT_FLAC, 24, RATE_SOURCE, 0,
      false, "flac", 1, 160 },
    { PROFILE_AMAZON,    "amazon",    -14.0, false, -2.0, OUT_FLAC, 24, RATE_SOURCE, 0,
      false, "flac", 1, 256 },
    { PROFILE_TIDAL,     "tidal",     -14.0, false, -1.0, OUT_FLAC, 24, RATE_SOURCE_UPTO, 192000,
      false, "flac", 5, 320 },
    { PROFILE_CD,        "cd",        -14.0, true,  -1.0, OUT_WAV,  16, RATE_FIXED, 44100,
      true, "wav", -1, 0 },
    { PROFILE_BROADCAST, "broadcast", -23.0, false, -1.0, OUT_WAV,  24, RATE_FIXED, 48000,
      false, "wav", -1, 0 },
    { PROFILE_HIRES,     "hires",     -14.0, true,  -1.0, OUT_FLAC, 24, RATE_SOURCE_UPTO, 192000,
      false, "flac", 5, 0 },
};

const profile_t *
profile_get (profile_id_t id)
{
    return (int) id >= 0 && id < PROFILE_COUNT ? &s_profiles [id] : NULL;
}

const profile_t *
profile_find (const char *name)
{
    for (int i = 0; name && i < PROFILE_COUNT; i++)
        if (strcmp (s_profiles [i].name, name) == 0)
            return &s_profiles [i];
    return NULL;
}

int
profile_output_rate (const profile_t *profile, int source_rate_hz)
{
    switch (profile->rate_rule) {
        case RATE_FIXED:
            return profile->rate_hz;
        case RATE_SOURCE_UPTO:
            return source_rate_hz <= profile->rate_hz ? source_rate_hz : profile->rate_hz;
        case RATE_SOURCE:
        default:
            //  streaming profiles deliver 44.1 or 48 kHz: keep either,
            //  bring multiples of 44.1 kHz to 44.1 and anything else to 48.
            if (source_rate_hz == 44100 || source_rate_hz == 48000)
                return source_rate_hz;
            return source_rate_hz % 11025 == 0 ? 44100 : 48000;
    }
}

double
profile_target_lufs (const profile_t *profile, bool has_job_target,
                     double job_target_lufs)
{
    if (has_job_target)
        return job_target_lufs;
    return profile->target_lufs;
}
