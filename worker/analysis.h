/*  Analysis of one track: everything common/measure.h holds, from audio
    fed in pieces of any size as it is decoded (analysis_start /
    analysis_feed / analysis_finish), so that its memory does not grow
    with the track beyond about 0.8 kB per second of audio (the hop
    energies, gating blocks and spectrum frames' band powers, see
    analysis.c), or from
    audio in memory (analysis_run, the same in one piece). `masterfarm
    analyze` and the farm's analyze task of a file stream; the results are
    the same bit for bit whatever the pieces.

    Loudness (ITU-R BS.1770-4, EBU R128, EBU Tech 3341/3342) comes from
    the K-weighted meter of worker/kweight.h, which follows libebur128's
    conventions (the tests hold it to libebur128 and to the EBU's test
    signals). The signal is filtered in hops of 100 ms ((rate + 5) / 10
    frames, libebur128's grid); each hop's K-weighted energy is kept,
    and the 400 ms blocks (4 hops) and 3 s short-term windows (30 hops)
    are formed from those hop energies:
      - block_lufs[i]: the 400 ms block ending at (i + 4) hops, only for
        complete blocks; a silent block reads ANALYSIS_FLOOR_LUFS.
      - max_momentary / max_shortterm: the largest 400 ms / 3 s loudness
        at any hop end, the time before the start counting as silence
        (what a meter started with the track shows).
    Integrated loudness and LRA: kweight_integrated and kweight_range over
    the hop energies. measure_gated_loudness
    over one track's blocks reproduces the integrated loudness (tested).

    True peak: worker/dsp/truepeak.h (4x/2x/1x by rate), at least the
    sample peak.

    Spectrum: per channel, Hann-windowed frames of N samples (N the
    largest power of two <= 2 hops: 8192 at 44.1/48 kHz, 5.4/5.9 Hz bins)
    starting every 2 hops, real FFT (fftw3f), power summed into the
    1/3-octave bands of measure_band_hz and averaged over channels. The
    band edges are those of IEC 61260-1's exact base-10 mid-band
    frequencies, fm = 1000 * 10^((b - 16) / 10) Hz for band b (b = 16 is
    1 kHz), edges fm * 10^(+-1/20), so the bands tile the axis without
    gaps; a bin stands for the frequencies within half a bin of its
    centre and a bin on an edge counts with the fraction inside the band. A 400 ms block
    takes the mean of the one or two frames that lie wholly inside it;
    the track's band_db is the mean over the blocks above both BS.1770-4
    gates (-70 LUFS absolute, -10 LU relative; blocks at or below a gate
    are left out). If no block passes (silence, or shorter than 400 ms)
    the mean over every frame is used; a track shorter than one frame
    uses one zero-padded frame. Units: dB relative to a full-scale sine,
    i.e. a 0 dBFS sine in a band reads 0 dB there (mean square 0.5 =
    0 dB). A band with no power, or above the Nyquist frequency, reads
    -HUGE_VAL.

    Levels: sample peak in dBFS; DC offset is the largest |mean| over the
    channels in dBFS (-HUGE_VAL for none); clipped samples count |x| >=
    0.99999; leading and trailing silence count frames in which every
    channel stays below cfg->silence_dbfs (a silent track is silent both
    ways: lead = trail = frames).

    Channels: 1 to 8 in the order L R C LFE Ls Rs (libebur128's), the
    LFE (4th) left out of loudness; a 7th and 8th channel are taken as
    back surrounds (7.1: L R C LFE Ls Rs Lb Rb) with the surround weight
    +1.5 dB of BS.1770-4. Mono is measured dual-mono (as libebur128's EBUR128_DUAL_MONO:
    the channel heard on two loudspeakers, counted twice, +3.01 dB), so a
    mono file reads what its two-channel copy reads.  */
#ifndef MF_ANALYSIS_H
#define MF_ANALYSIS_H

#include <stddef.h>

#include "common/measure.h"
#include "worker/audio_io.h"

#define ANALYSIS_SILENCE_DBFS  -60.0    //  default silence threshold
#define ANALYSIS_FLOOR_LUFS    -200.0   //  what a silent 400 ms block reads

typedef struct {
    double silence_dbfs;   //  leading/trailing silence threshold, dBFS (< 0)
    int    threads;        //  1 (or 0), or 2: the loudness meter runs on a second thread
                           //  while this one does peaks and spectrum (same results)
} analysis_cfg_t;

//  Fills cfg with the defaults (silence_dbfs = ANALYSIS_SILENCE_DBFS,
//  threads = 1: the farm runs one task per core).
void analysis_cfg_default (analysis_cfg_t *cfg);

//  Measures audio (cfg NULL: defaults) into out, which is overwritten;
//  out->block_lufs is allocated here (free with measure_free). The
//  streaming analysis below, fed the whole track as one piece. Sets
//  FTZ/DAZ on the calling thread. Returns 0, MF_ERR_INVALID (audio
//  empty or outside 1..8 channels, 8..384 kHz, or cfg out of range),
//  MF_ERR_FORMAT (a NaN or infinite sample; err says which),
//  MF_ERR_NOMEM, or MF_ERR_INTERNAL. On failure err holds one line, out holds no allocation.
int analysis_run (const audio_t *audio, const analysis_cfg_t *cfg, measure_t *out,
                  char *err, size_t err_size);

//  An analysis fed in pieces: analysis_start, analysis_feed for each
//  piece of interleaved frames in order, analysis_finish (or
//  analysis_stream_destroy to give up). It keeps no audio: a carry of
//  less than one hop (and one FFT frame) between pieces. With
//  cfg->threads 2 the loudness meter runs on a thread of its own.
typedef struct analysis_stream_s analysis_stream_t;

//  Starts an analysis of channels at rate_hz (cfg NULL: defaults). Sets
//  FTZ/DAZ on the calling thread (analysis_feed sets them on its thread too).
//  Returns 0 with *stream set, or MF_ERR_INVALID (channels outside 1..8,
//  rate outside 8..384 kHz, cfg out of range) or MF_ERR_NOMEM with err
//  filled and *stream NULL.
int analysis_start (analysis_stream_t **stream, int channels, int rate_hz,
                    const analysis_cfg_t *cfg, char *err, size_t err_size);

//  Measures the next frames frames (frames * channels floats at x; frames
//  may be 0). Returns 0, or MF_ERR_FORMAT (a NaN or infinite sample: err
//  names its frame in the track and its channel, "frame 48000 of channel
//  2 is NaN; cannot measure"), MF_ERR_NOMEM or MF_ERR_INVALID (frames < 0)
//  with err filled; after a failure every later feed and the finish
//  return it again.
int analysis_feed (analysis_stream_t *stream, const float *x, int64_t frames,
                   char *err, size_t err_size);

//  Finishes the analysis into out (overwritten; format copied into
//  out->format, NULL for ""; out->block_lufs allocated here, free with
//  measure_free) and frees the stream (*stream becomes NULL). Returns 0,
//  or a feed's failure, MF_ERR_INVALID (no frames fed), MF_ERR_NOMEM or
//  MF_ERR_INTERNAL, with err filled and
//  out holding no allocation.
int analysis_finish (analysis_stream_t **stream, const char *format, measure_t *out,
                     char *err, size_t err_size);

//  Abandons an analysis (a read failed); NULL-safe; *stream becomes NULL.
void analysis_stream_destroy (analysis_stream_t **stream);

//  Mid and side energies (sums of squares) of interleaved frames; zero
//  unless channels is 2.
void analysis_mid_side (const float *x, int64_t frames, int channels,
                         double *mid_e, double *side_e);

//  10 log10 (side_e / mid_e) (-HUGE_VAL when side_e is 0; NAN when both are).
double analysis_side_mid_db (double mid_e, double side_e);

#endif
