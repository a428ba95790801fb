/*  Lookahead true-peak limiter with oversampled detection.

    Detection (ops->tp_peaks): two polyphase interpolators after ITU-R
    BS.1770-4 Annex 2 run on every channel, the project's meter's
    (truepeak.h: 16-tap Kaiser branches, 4x below 88.2 kHz, 2x below
    176.4 kHz) and the reference meter's (libebur128's design: 49-tap
    Hann-windowed sinc, 4x below 96 kHz, 2x below 192 kHz). Meters differ
    by up to ~0.15 dB on individual peaks of broadband signals, so the
    limiter obeys the larger reading of the two. Both are shifted onto
    one delay and one support of T frames: for every input frame i the
    detector gives the largest interpolated |value| over channels, filters
    and phases whose filters read x[i - T + 1 .. i]; their branch 0 is a
    pure delay, so sample peaks are included. Stereo-linked: one gain for
    all channels.

    Gain: g_req[i] = min (1, c / peak[i]) with c the ceiling lowered by
    LIMITER_MARGIN_DB. With L the latency (lookahead) in frames and
    N = L - T + 2 the length of the smoothing window:
        m[j] = min (g_req[j .. j + L])          sliding minimum (lookahead)
        h[j] = min (m[j], 1 - (1 - h[j-1]) a_R) one-pole release toward 1,
                                                a_R = exp (-1 / (release * fs))
        g[j] = mean (h[j - N + 1 .. j])         box smoothing (linear attack)
        y[j] = g[j] x[j]
    Every h in g[j]'s window covers g_req up to j + L - N + 1 = j + T - 1,
    so g is at or below the need of every interpolated value over the
    whole filter support, and for an isolated peak g is flat over that
    support: the interpolated output is then exactly g times the
    interpolated input, at or below c. The margin absorbs the gain's slope
    where several peaks overlap and the difference between meters.

    Latency: output frame j leaves when input frame j + L arrives. The
    caller either discards the first limiter_latency_frames () output
    frames and ends with limiter_drain (), or calls limiter_run (), which
    does both: output aligned with the input and of the same length.
    Processing never allocates, locks or logs.  */
#ifndef MF_DSP_LIMITER_H
#define MF_DSP_LIMITER_H

#include <stddef.h>
#include <stdint.h>

#include "common/spec.h"
#include "worker/dsp/compressor.h"
#include "worker/dsp/dsp_ops.h"

#define LIMITER_MARGIN_DB      0.1      //  aim this far under the ceiling
#define LIMITER_MAX_CHANNELS   8
#define LIMITER_BLOCK_FRAMES   512      //  internal block (detector buffers)
#define LIMITER_GR_WINDOW_S    3.0      //  windows of the sustained reduction
                                        //  (EBU short-term length)
#define LIMITER_GR_PERCENTILE  95.0     //  percentile of the window means
#define LIMITER_GR_BIN_DB      0.01     //  its resolution
#define LIMITER_GR_BINS        6000     //  0 .. 60 dB

typedef struct limiter_s limiter_t;

//  A limiter for cfg (ceiling_dbtp -40..0, finite: resolve NAN from the
//  profile first; specs allow -20..0, the rest is room for a caller's
//  own margins; lookahead_ms 0.5..20; release_ms 1..2000; max_gr_db is
//  not used here) for channels (1 .. LIMITER_MAX_CHANNELS) at rate_hz
//  (8000 .. 768000). The lookahead is rounded to whole frames and raised
//  to at least 2 T - 2 frames (30 frames with the 4x detector: 0.68 ms at
//  44.1 kHz), so that the smoothing window is at least the detector's
//  support; see limiter_latency_frames. NULL on a value out of range or
//  out of memory.
limiter_t *limiter_new (const limiter_cfg_t *cfg, int rate_hz, int channels);

//  Frees the limiter; NULL-safe; sets *self_p to NULL.
void limiter_destroy (limiter_t **self_p);

//  Latency in frames: output frame j is written when input frame j + L is
//  read. The first L output frames after a reset are silence.
int limiter_latency_frames (const limiter_t *self);

//  Streams frames frames of interleaved audio from src to dst, delayed by
//  the latency. dst may equal src (in place), or lie before src in the
//  same buffer (dst <= src); other overlaps are not allowed.
void limiter_process (limiter_t *self, float *dst, const float *src, size_t frames);

//  Feeds frames frames of silence and writes the output to dst: with
//  frames = latency, flushes everything still in the delay line.
void limiter_drain (limiter_t *self, float *dst, size_t frames);

//  Resets, then limits the whole signal buf (frames * channels floats)
//  in place with the delay compensated: output aligned with the input,
//  same length. Never allocates.
void limiter_run (limiter_t *self, float *buf, size_t frames);

//  limiter_run on gain * src without the scaled copy: dst (frames *
//  channels floats, not overlapping src) receives exactly what scaling
//  src into dst (float products, as dsp_ops scale) and limiter_run (dst)
//  would give.
void limiter_run_gain (limiter_t *self, float *dst, const float *src, size_t frames,
                       float gain);

//  limiter_run_gain one part at a time, for a caller that renders a
//  track in pieces: output frames from .. from + n - 1 of what
//  limiter_run_gain (self, ..., src, frames, gain) would give, into dst
//  (dst [0] is output frame from), bit for bit. src is the whole signal.
//  Parts come in order and without gaps from from = 0 (which resets);
//  every part but the last is a whole number of LIMITER_BLOCK_FRAMES and
//  ends at least the latency before frames; the last ends at frames (a
//  signal shorter than the latency is one part). dst may be src + from *
//  channels (the output overwrites the input it no longer needs) or lie
//  outside src. Statistics as after limiter_run_gain once the last part
//  has run. Never allocates.
void limiter_run_gain_part (limiter_t *self, float *dst, const float *src, size_t frames,
                            size_t from, size_t n, float gain);

//  Gain-reduction statistics over the output frames that correspond to
//  input frames (not the initial silence of the delay line).
void limiter_stats (const limiter_t *self, dyn_stats_t *stats);

//  Sustained gain reduction in dB: the LIMITER_GR_PERCENTILE percentile
//  over consecutive windows of LIMITER_GR_WINDOW_S (whole blocks of
//  LIMITER_BLOCK_FRAMES) of each window's mean reduction in dB, over the
//  same frames as limiter_stats; a last, shorter window counts when it
//  is at least half as long or the only one. A few short, deep
//  reductions (a click) move it little; limiting that lasts moves it
//  about as much as its depth. 0 before any frame.
double limiter_gr_sustained_db (const limiter_t *self);

//  Forgets the delay line, detector state and statistics.
void limiter_reset (limiter_t *self);

//  Uses another kernel table (tests and benchmarks compare ISAs this way).
void limiter_set_ops (limiter_t *self, const dsp_ops_t *ops);

//  The detector's design, for tests that rebuild the limiter's passes:
//  its filters (the project's true-peak interpolator and, below 192 kHz,
//  the reference meter's), each of phases * taps coefficients in the
//  layout of dsp_ops tp_peaks on one common support of taps frames with
//  branch 0 an exact delay of det_delay frames, and a bound on any
//  detector output per unit of input peak. The pointers live as long as
//  the limiter.
typedef struct {
    int          n_filt;        //  1 or 2
    int          phases [2];
    int          taps;
    int          det_delay;
    const float *coef [2];
    double       coef_bound;
} limiter_detector_t;

void limiter_detector (const limiter_t *self, limiter_detector_t *det);

#endif
