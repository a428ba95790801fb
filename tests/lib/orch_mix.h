/*  A generated orchestral-like test mix with a wide loudness range, for
    the dynamics tests: string chords (detuned partials with vibrato and
    bow noise), brass (bright harmonics that grow with the level, as real
    instruments do) and timpani strokes in the loud passages, following a
    dynamic plan pp - crescendo - ff tutti - diminuendo - pp - mf over the
    piece (about 24 dB between pp and ff). Stereo: the sections sit at
    different places between the speakers. Scaled so that the sample peak
    is -1 dBFS; integrated loudness about -20 LUFS and loudness range
    (EBU Tech 3342) above 10 LU. Deterministic for a seed.  */
#ifndef MF_ORCH_MIX_H
#define MF_ORCH_MIX_H

#include <stdint.h>

#include "worker/audio_io.h"

//  Fills a (allocated here, free with audio_free) with seconds (at least
//  10) of the mix at rate_hz with channels (1 or 2).
void orch_mix_generate (audio_t *a, double seconds, int rate_hz, int channels,
                        uint64_t seed);

#endif
