/*  Measurements of one track: what `masterfarm analyze` prints, what an
    analyze task returns to the broker, and what the album planner reads.

    Loudness follows ITU-R BS.1770-4 / EBU R128 (libebur128). The gating
    blocks are kept so that the album stage can gate the union of all
    tracks' blocks exactly (BS.1770-4 section 2.8), never average tracks:
    block_lufs[i] is the loudness of the 400 ms block that ends at
    (i + 4) * 100 ms, i.e. blocks overlap by 75% as in BS.1770-4.

    The long-term spectrum is in 1/3-octave bands with ISO 266 centres
    from 25 Hz to 20 kHz (MEASURE_BANDS of them), mean power in dB
    relative to full scale, taken over the blocks above the relative gate.  */
#ifndef MF_MEASURE_H
#define MF_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#define MEASURE_BANDS      30      //  25 Hz .. 20 kHz, ISO 266 1/3-octave centres
#define MEASURE_MAX_CH     8

typedef struct {
    //  source
    char    input_sha256 [65];     //  SHA-256 (hex) of the file's bytes, "" unknown
    char    format [48];           //  e.g. "WAV PCM 24-bit", "FLAC 16-bit"
    int     rate_hz;
    int     channels;
    int64_t frames;                //  per channel
    double  duration_s;

    //  loudness (BS.1770-4, EBU R128)
    double  integrated_lufs;       //  -HUGE_VAL for silence
    double  lra_lu;                //  EBU Tech 3342
    double  max_momentary_lufs;
    double  max_shortterm_lufs;

    //  levels
    double  sample_peak_dbfs;
    double  true_peak_dbtp;        //  own oversampling kernel
    double  dc_offset_dbfs;        //  largest |mean| over channels, dB
    int64_t clipped_samples;       //  samples at or beyond full scale (|x| >= 0.99999)
    double  side_mid_db;           //  stereo width: 10 log10 (E_side / E_mid) with
                                   //  M = (L + R) / 2, S = (L - R) / 2 over every frame
                                   //  (-HUGE_VAL: no side); NAN when not stereo

    //  silence (below the threshold the analysis was run with)
    int64_t lead_silence_frames;
    int64_t trail_silence_frames;

    //  spectrum
    double  band_db [MEASURE_BANDS];

    //  gating blocks for album loudness (owned; free with measure_free)
    float  *block_lufs;
    size_t  n_blocks;
} measure_t;

//  ISO 266 centre frequency of band i (0 .. MEASURE_BANDS-1) in Hz.
double measure_band_hz (int band);

//  How the loudness of a file with channels channels was summed, as the
//  reports name it: "dual-mono" (1: the channel counted twice, +3.01 dB,
//  as heard on two loudspeakers), "stereo" (2), "multichannel" (3 .. 8:
//  BS.1770-4 weights, LFE left out).
const char *measure_loudness_channels (int channels);

//  Frees the owned arrays and zeroes them; NULL-safe.
void measure_free (measure_t *m);

//  Integrated loudness, BS.1770-4 gating (-70 LUFS absolute, -10 LU
//  relative), over the union of several tracks' blocks, each track's
//  blocks shifted by gain_db[i] (NULL: no gains). Returns LUFS, or
//  -HUGE_VAL when no block passes the gates.
double measure_gated_loudness (const measure_t *const *tracks, const double *gain_db,
                               size_t n_tracks);

#endif
