/*  Track analysis: K-weighted loudness in 100 ms hops (worker/kweight.h,
    the conventions of libebur128, which the tests compare it with),
    BS.1770-4 gating blocks formed from hop energies, the oversampled true-peak meter,
    a gated long-term 1/3-octave spectrum (fftw3f) and sample statistics.
    The method and every unit are described in analysis.h.

    One pass over the audio as it arrives, in pieces of any size; nothing
    holds the track. Each piece is checked for non-finite samples, then
    goes, a chunk of S_CHUNK_FRAMES at a time (while it is in cache), to
      - the sample statistics: peak, clipping, mid/side energies, the first
        and last loud sample, and the channel sums for DC, summed as
        analysis_run always summed them (float within blocks of
        S_STATS_BLOCK samples counted from the track's start, double
        across them), with the samples of an unfinished block carried;
      - the loudness meter, in whole hops; the frames of an unfinished
        hop are carried (at most one hop). Per hop its energy is kept
        (for the 400 ms and 3 s windows, the integrated loudness and the
        range), and per 400 ms block its energy and loudness (20 bytes a
        hop);
      - the true-peak meter, in whole chunks of S_CHUNK_FRAMES counted
        from the track's start (a carry of less than one chunk);
      - the spectrum: each FFT frame is transformed once its n frames have
        arrived (those of a frame that straddles pieces are gathered in a
        buffer of one frame) and only its 30 band powers are kept (120
        bytes every 2 hops); the gating that weights them needs every
        block's energy, so it is done at the end.
    What grows with the track is then about 0.8 kB per second of audio
    (2.9 MB an hour), whatever the rate or channels.

    With cfg->threads 2, the loudness meter runs on a thread of its own, fed
    through a ring of a few hops of frames (S_RING_FRAMES), while the
    calling thread does the rest. Results are the same bit for bit with
    one or two threads and with any piece size: every sum is formed in
    the same order.  */
#include "worker/analysis.h"
#include "worker/kweight.h"
#include "worker/dsp/cpu.h"
#include "worker/dsp/truepeak.h"
#include "common/err.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CLIP_LEVEL       0.99999f   //  measure.h: |x| at or beyond this is clipped
#define S_ABS_GATE_LUFS    -70.0      //  BS.1770-4 absolute gate
#define S_REL_GATE_LU      -10.0      //  BS.1770-4 relative gate
#define S_FULL_SCALE_SINE  0.5        //  mean square of a 0 dBFS sine: the 0 dB spectrum reference
#define S_CHUNK_FRAMES     8192       //  frames of a piece measured at a time (cache-sized)
#define S_RING_FRAMES      65536      //  threads 2: about this many frames queued for the meter
#define S_FIRST_BLOCKS     600        //  blocks and spectrum rows allocated at first (a minute)

//  fftw's planner is not thread-safe; plans are made and destroyed under this.
static pthread_mutex_t s_fftw_lock = PTHREAD_MUTEX_INITIALIZER;

void
analysis_cfg_default (analysis_cfg_t *cfg)
{
    cfg->silence_dbfs = ANALYSIS_SILENCE_DBFS;
    cfg->threads = 1;
}

//  LUFS <-> mean-square energy, BS.1770-4 eq. (2) (the -0.691 offset).
static double
s_energy (double lufs)
{
    return isfinite (lufs) ? pow (10.0, (lufs + 0.691) / 10.0) : 0.0;
}

static double
s_lufs (double energy)
{
    return energy > 0.0 ? -0.691 + 10.0 * log10 (energy) : -HUGE_VAL;
}

//  Linear amplitude to dB; -HUGE_VAL for 0.
static double
s_db (double lin)
{
    return lin > 0.0 ? 20.0 * log10 (lin) : -HUGE_VAL;
}

//  Per-lane sums, peaks and clip counts over n samples in blocks, 8 lanes
//  wide so that the compiler vectorises it; lane j of a frame-interleaved
//  buffer is channel j % channels when channels divides 8. Sums are float
//  within a block of S_STATS_BLOCK samples and double across blocks.
#define S_STATS_LANES  8
#define S_STATS_BLOCK  4096

static void
s_lane_stats (const float *x, size_t n, double *sum, float *peak, int64_t *clipped)
{
    for (size_t base = 0; base < n; base += S_STATS_BLOCK) {
        size_t len = n - base < S_STATS_BLOCK ? n - base : S_STATS_BLOCK;
        float acc [S_STATS_LANES] = { 0 }, mx [S_STATS_LANES] = { 0 };
        int32_t cl [S_STATS_LANES] = { 0 };
        const float *b = x + base;
        for (size_t i = 0; i < len; i += S_STATS_LANES)
            for (int j = 0; j < S_STATS_LANES; j++) {
                float v = b [i + j];
                float m = fabsf (v);
                acc [j] += v;
                mx [j] = m > mx [j] ? m : mx [j];
                cl [j] += m >= S_CLIP_LEVEL;
            }
        for (int j = 0; j < S_STATS_LANES; j++) {
            sum [j] += acc [j];
            peak [j] = mx [j] > peak [j] ? mx [j] : peak [j];
            clipped [j] += cl [j];
        }
    }
}

//  Adds M^2 and S^2 of stereo frames to *m2 and *s2, frame after frame
//  (the order analysis_run has always summed in).
static void
s_mid_side_add (const float *x, int64_t frames, double *m2_p, double *s2_p)
{
    double m2 = *m2_p, s2 = *s2_p;
    for (int64_t i = 0; i < frames; i++) {
        double l = x [2 * i], r = x [2 * i + 1];
        double m = 0.5 * (l + r), s = 0.5 * (l - r);
        m2 += m * m;
        s2 += s * s;
    }
    *m2_p = m2;
    *s2_p = s2;
}

//  Sums M^2 and S^2 over the frames (stereo only); see analysis.h.
void
analysis_mid_side (const float *x, int64_t frames, int channels,
                    double *mid_e, double *side_e)
{
    *mid_e = 0.0;
    *side_e = 0.0;
    if (channels == 2)
        s_mid_side_add (x, frames, mid_e, side_e);
}

//  The side/mid ratio in dB from the two energies; see analysis.h.
double
analysis_side_mid_db (double mid_e, double side_e)
{
    if (!(mid_e > 0.0))
        return side_e > 0.0 ? HUGE_VAL : NAN;
    return side_e > 0.0 ? 10.0 * log10 (side_e / mid_e) : -HUGE_VAL;
}

//  The index of the first NaN or infinite value of x[0 .. n), or n. x * 0
//  is 0 for every finite x and NaN otherwise, so 8 lanes of such products
//  show a bad value in a block without a test per sample.
static size_t
s_find_nonfinite (const float *x, size_t n)
{
    for (size_t base = 0; base < n; base += S_STATS_BLOCK) {
        size_t len = n - base < S_STATS_BLOCK ? n - base : S_STATS_BLOCK;
        const float *b = x + base;
        float acc [S_STATS_LANES] = { 0 };
        size_t i = 0;
        for (; i + S_STATS_LANES <= len; i += S_STATS_LANES)
            for (int j = 0; j < S_STATS_LANES; j++)
                acc [j] += b [i + j] * 0.0f;
        for (; i < len; i++)
            acc [0] += b [i] * 0.0f;
        bool bad = false;
        for (int j = 0; j < S_STATS_LANES; j++)
            bad = bad || acc [j] != 0.0f;
        if (bad)
            for (i = 0; i < len; i++)
                if (!isfinite (b [i]))
                    return base + i;
    }
    return n;
}

//  Sample statistics so far (see s_stats_add). With channels dividing 8,
//  the channel sums are formed in 8 lanes over blocks of S_STATS_BLOCK
//  samples counted from the track's first sample, as s_lane_stats does
//  over a whole track; the samples of the block under way wait in blk.
typedef struct {
    int       channels;
    bool      lanes;                    //  channels divide S_STATS_LANES
    float     thr;                      //  silence threshold, linear
    uint64_t  samples;                  //  samples seen
    float     blk [S_STATS_BLOCK];      //  lanes: the samples of the block under way
    size_t    blk_n;
    double    lsum [S_STATS_LANES];     //  lanes: per-lane sums of the whole blocks
    float     lpeak [S_STATS_LANES];
    int64_t   lclip [S_STATS_LANES];
    double    sum [MEASURE_MAX_CH];     //  no lanes: channel sums
    float     peak;
    int64_t   clipped;
    double    mid_e, side_e;            //  stereo: sums of M^2 and S^2
    int64_t   first_loud;               //  sample index of the first |x| >= thr, or -1
    int64_t   last_loud;                //  and of the last
} s_stats_t;

//  Adds frames frames of interleaved samples to the statistics.
static void
s_stats_add (s_stats_t *st, const float *x, size_t frames)
{
    const int ch = st->channels;
    const size_t n = frames * (size_t) ch;
    if (st->lanes) {
        size_t i = 0;
        if (st->blk_n > 0) {
            size_t take = S_STATS_BLOCK - st->blk_n < n ? S_STATS_BLOCK - st->blk_n : n;
            memcpy (st->blk + st->blk_n, x, take * sizeof (float));
            st->blk_n += take;
            i = take;
            if (st->blk_n == S_STATS_BLOCK) {
                s_lane_stats (st->blk, S_STATS_BLOCK, st->lsum, st->lpeak, st->lclip);
                st->blk_n = 0;
            }
        }
        size_t whole = (n - i) / S_STATS_BLOCK * S_STATS_BLOCK;
        s_lane_stats (x + i, whole, st->lsum, st->lpeak, st->lclip);
        i += whole;
        memcpy (st->blk + st->blk_n, x + i, (n - i) * sizeof (float));
        st->blk_n += n - i;
    }
    else {
        float peak = st->peak;
        int64_t clipped = st->clipped;
        for (size_t i = 0; i < n; i++) {
            float v = x [i];
            float m = fabsf (v);
            st->sum [i % (size_t) ch] += v;
            peak = m > peak ? m : peak;
            clipped += m >= S_CLIP_LEVEL;
        }
        st->peak = peak;
        st->clipped = clipped;
    }
    if (ch == 2)
        s_mid_side_add (x, (int64_t) frames, &st->mid_e, &st->side_e);

    //  silence: the first loud sample once, the last one of every piece
    const float thr = st->thr;
    if (st->first_loud < 0)
        for (size_t i = 0; i < n; i++)
            if (fabsf (x [i]) >= thr) {
                st->first_loud = (int64_t) (st->samples + i);
                break;
            }
    if (st->first_loud >= 0)
        for (size_t i = n; i-- > 0; )
            if (fabsf (x [i]) >= thr) {
                st->last_loud = (int64_t) (st->samples + i);
                break;
            }
    st->samples += n;
}

//  Finishes the statistics of frames frames into out: sample peak, DC,
//  side/mid, clipped count, leading and trailing silence.
static void
s_stats_end (s_stats_t *st, int64_t frames, measure_t *out)
{
    const int ch = st->channels;
    double sum [MEASURE_MAX_CH] = { 0 };
    float peak = 0.0f;
    int64_t clipped = 0;
    if (st->lanes) {
        //  the block under way: its whole multiples of 8 in lanes, the rest
        //  (fewer than 8 samples) one by one, as over a whole track
        size_t done = st->blk_n / S_STATS_LANES * S_STATS_LANES;
        s_lane_stats (st->blk, done, st->lsum, st->lpeak, st->lclip);
        for (int j = 0; j < S_STATS_LANES; j++) {
            sum [j % ch] += st->lsum [j];
            peak = st->lpeak [j] > peak ? st->lpeak [j] : peak;
            clipped += st->lclip [j];
        }
        for (size_t i = done; i < st->blk_n; i++) {
            float v = st->blk [i];
            float m = fabsf (v);
            sum [i % (size_t) ch] += v;     //  the block starts on a frame
            peak = m > peak ? m : peak;
            clipped += m >= S_CLIP_LEVEL;
        }
    }
    else {
        memcpy (sum, st->sum, sizeof sum);
        peak = st->peak;
        clipped = st->clipped;
    }
    double dc = 0.0;
    for (int c = 0; c < ch; c++) {
        double m = fabs (sum [c] / (double) frames);
        if (m > dc)
            dc = m;
    }
    out->sample_peak_dbfs = s_db (peak);
    out->dc_offset_dbfs = s_db (dc);
    out->side_mid_db = ch == 2 ? analysis_side_mid_db (st->mid_e, st->side_e) : NAN;
    out->clipped_samples = clipped;
    if (st->first_loud < 0) {
        out->lead_silence_frames = frames;   //  silent both ways
        out->trail_silence_frames = frames;
    }
    else {
        out->lead_silence_frames = st->first_loud / ch;
        out->trail_silence_frames = frames - 1 - st->last_loud / ch;
    }
}

//  Loudness from K-weighted hop energies (worker/kweight.h), fed whole
//  hops (s_loud_hop), then the partial last hop (s_loud_rest); s_loud_end
//  hands out the results. Every hop's energy is kept (8 bytes per 100 ms)
//  for the integrated loudness and the range at the end.
typedef struct {
    kweight_filter_t k;
    size_t   hop;                       //  frames per hop, (rate + 5) / 10
    size_t   n_hops;                    //  whole hops fed
    double  *hop_e;                     //  every hop's energy
    size_t   cap_hops;
    double   sum4, sum30;               //  running sums of the last 4 and 30 hop energies
    double   max_m, max_s;              //  largest momentary and short-term, as energies
    bool     have_m;
    double  *block_e;                   //  per 400 ms block: energy
    float   *block_lufs;                //  and loudness (ANALYSIS_FLOOR_LUFS when silent)
    size_t   n_blocks;
    size_t   cap_blocks;                //  room in block_e and block_lufs
    int      rc;                        //  0, or the first failure (err says what)
    char     err [256];
} s_loud_t;

//  Sets up the meter for channels at rate_hz. Returns 0 or MF_ERR_NOMEM
//  with L->err filled.
static int
s_loud_init (s_loud_t *L, int channels, int rate_hz)
{
    memset (L, 0, sizeof *L);
    kweight_filter_init (&L->k, channels, rate_hz);
    L->hop = (size_t) kweight_hop_frames (rate_hz);
    L->cap_blocks = S_FIRST_BLOCKS;
    L->cap_hops = S_FIRST_BLOCKS;
    L->block_e = malloc (L->cap_blocks * sizeof (double));
    L->block_lufs = malloc (L->cap_blocks * sizeof (float));
    L->hop_e = malloc (L->cap_hops * sizeof (double));
    if (!L->block_e || !L->block_lufs || !L->hop_e) {
        snprintf (L->err, sizeof L->err, "out of memory for the loudness meter");
        return L->rc = MF_ERR_NOMEM;
    }
    return 0;
}

//  Frees what the meter holds (not the results handed out).
static void
s_loud_free (s_loud_t *L)
{
    free (L->hop_e);
    free (L->block_e);
    free (L->block_lufs);
    L->hop_e = NULL;
    L->block_e = NULL;
    L->block_lufs = NULL;
}

//  Takes a momentary and a short-term energy into the maxima.
static void
s_loud_max (s_loud_t *L, double em, double es)
{
    if (!L->have_m || em > L->max_m)
        L->max_m = em;
    if (!L->have_m || es > L->max_s)
        L->max_s = es;
    L->have_m = true;
}

//  Feeds one whole hop (L->hop interleaved frames at x): the 100 ms
//  energy, the running 400 ms and 3 s windows and, from the 4th hop on,
//  the 400 ms block that ends with it. After a failure it does nothing.
static void
s_loud_hop (s_loud_t *L, const float *x)
{
    if (L->rc)
        return;
    const size_t h = L->n_hops;
    if (h == L->cap_hops) {
        double *e = realloc (L->hop_e, 2 * L->cap_hops * sizeof (double));
        if (!e) {
            snprintf (L->err, sizeof L->err, "out of memory for the loudness hops");
            L->rc = MF_ERR_NOMEM;
            return;
        }
        L->hop_e = e;
        L->cap_hops *= 2;
    }
    if (h >= 3 && L->n_blocks == L->cap_blocks) {
        size_t cap = L->cap_blocks * 2;
        double *be = realloc (L->block_e, cap * sizeof (double));
        if (be)
            L->block_e = be;
        float *bl = be ? realloc (L->block_lufs, cap * sizeof (float)) : NULL;
        if (!bl) {
            snprintf (L->err, sizeof L->err, "out of memory for the loudness blocks");
            L->rc = MF_ERR_NOMEM;
            return;
        }
        L->block_lufs = bl;
        L->cap_blocks = cap;
    }
    double *e = L->hop_e;
    e [h] = kweight_filter_sum (&L->k, x, (int64_t) L->hop) / (double) L->hop;
    L->n_hops = h + 1;
    L->sum4 += e [h];
    if (h >= 4)
        L->sum4 -= e [h - 4];
    L->sum30 += e [h];
    if (h >= 30)
        L->sum30 -= e [h - 30];
    //  resum now and then so that the running sums cannot drift
    if (h % 64 == 63) {
        L->sum4 = 0.0;
        for (size_t k = h >= 3 ? h - 3 : 0; k <= h; k++)
            L->sum4 += e [k];
        L->sum30 = 0.0;
        for (size_t k = h >= 29 ? h - 29 : 0; k <= h; k++)
            L->sum30 += e [k];
    }
    double em = L->sum4 / 4.0, es = L->sum30 / 30.0;
    if (em < 0.0)
        em = 0.0;                           //  rounding of the running sum
    if (es < 0.0)
        es = 0.0;
    s_loud_max (L, em, es);
    if (h >= 3) {
        //  the block is summed afresh (not from the running sum) for accuracy
        double be = (e [h] + e [h - 1] + e [h - 2] + e [h - 3]) / 4.0;
        double l = s_lufs (be);
        L->block_e [L->n_blocks] = be;
        L->block_lufs [L->n_blocks] = isfinite (l) ? (float) l : (float) ANALYSIS_FLOOR_LUFS;
        L->n_blocks++;
    }
}

//  The mean energy of the last span hops' worth of frames ending with a
//  partial hop whose frames sum to part over n frames: the whole hops
//  before it, and of the oldest the share the window still holds.
static double
s_loud_window (const s_loud_t *L, size_t span, double part, size_t n)
{
    const size_t h = L->n_hops, hop = L->hop;
    double sum = part;
    for (size_t k = 1; k < span && k <= h; k++)
        sum += L->hop_e [h - k] * (double) hop;
    if (span <= h)
        sum += L->hop_e [h - span] * (double) (hop - n);
    return sum / (double) (span * hop);
}

//  Feeds the partial last hop (frames < L->hop, may be 0): it counts for
//  the momentary and short-term maxima (the meter at the very end).
static void
s_loud_rest (s_loud_t *L, const float *x, size_t frames)
{
    if (L->rc || frames == 0)
        return;
    double part = kweight_filter_sum (&L->k, x, (int64_t) frames);
    s_loud_max (L, s_loud_window (L, 4, part, frames), s_loud_window (L, 30, part, frames));
}

//  Writes integrated loudness, LRA, the maxima and the blocks into out
//  (out->block_lufs is handed over). Returns L->rc.
static int
s_loud_end (s_loud_t *L, measure_t *out)
{
    if (L->rc)
        return L->rc;
    double gl = kweight_integrated (L->hop_e, (int64_t) L->n_hops);
    double lra = kweight_range (L->hop_e, (int64_t) L->n_hops);
    out->integrated_lufs = isfinite (gl) ? gl : -HUGE_VAL;
    out->lra_lu = isfinite (lra) ? lra : 0.0;
    out->max_momentary_lufs = s_lufs (L->max_m);
    out->max_shortterm_lufs = s_lufs (L->max_s);
    out->block_lufs = L->block_lufs;
    out->n_blocks = L->n_blocks;
    L->block_lufs = NULL;
    return 0;
}

//  dst[i] = src[i * stride] * win[i] for i < len, zeros up to n.
static void
s_window (float *restrict dst, const float *restrict src, size_t stride,
          const float *restrict win, size_t len, size_t n)
{
    if (stride == 2)
        for (size_t i = 0; i < len; i++)
            dst [i] = src [2 * i] * win [i];
    else
        for (size_t i = 0; i < len; i++)
            dst [i] = src [i * stride] * win [i];
    for (size_t i = len; i < n; i++)
        dst [i] = 0.0f;
}

//  Both channels of a stereo frame windowed in one pass: dst0[i] =
//  src[2 i] * win[i], dst1[i] = src[2 i + 1] * win[i] for i < len,
//  zeros up to n (the same products as s_window per channel).
static void
s_window2 (float *restrict dst0, float *restrict dst1, const float *restrict src,
           const float *restrict win, size_t len, size_t n)
{
    for (size_t i = 0; i < len; i++) {
        dst0 [i] = src [2 * i] * win [i];
        dst1 [i] = src [2 * i + 1] * win [i];
    }
    for (size_t i = len; i < n; i++)
        dst0 [i] = dst1 [i] = 0.0f;
}

//  |X[k]|^2 of bin k from interleaved re, im pairs.
static inline float
s_power (const float *restrict spec, size_t k)
{
    return spec [2 * k] * spec [2 * k] + spec [2 * k + 1] * spec [2 * k + 1];
}

//  Spectrum frames: Hann-windowed frames of n samples (the largest power
//  of two <= 2 hops), one every S_FRAME_HOPS hops, so a 400 ms block holds
//  one or two whole frames. Frames do not overlap (n <= stride): the
//  frames between them are never needed.
#define S_FRAME_HOPS  2

typedef struct {
    int          channels;
    size_t       hop;          //  frames per 100 ms hop
    size_t       n;            //  FFT length
    size_t       stride;       //  frames between frame starts (S_FRAME_HOPS hops)
    int64_t      pos;          //  stream frames seen
    float       *buf;          //  n frames x channels: a frame gathered across pieces
    size_t       buf_n;        //  frames of the next frame gathered so far
    size_t       n_frames;     //  whole frames transformed
    size_t       n_rows;       //  rows in band_p: n_frames, or 1 zero-padded frame
    size_t       cap_rows;     //  room in band_p
    float       *band_p;       //  n_rows x MEASURE_BANDS band powers, mean over channels
    float       *in, *in2;     //  FFT input (stereo: in2 the second channel)
    fftwf_complex *spec;
    float       *win;          //  periodic Hann window
    fftwf_plan   plan;
    size_t       k0 [MEASURE_BANDS], k1 [MEASURE_BANDS];   //  band b: bins k0 .. k1
    float        w0 [MEASURE_BANDS], w1 [MEASURE_BANDS];   //  weights of the edge bins
    float        scale;        //  to units of the mean square of a full-scale sine
    int          rc;           //  0 or MF_ERR_NOMEM (band_p could not grow)
} s_spec_t;

//  Sets up the spectrum for channels at rate_hz. Returns 0 or MF_ERR_NOMEM.
static int
s_spec_init (s_spec_t *f, int channels, int rate_hz)
{
    memset (f, 0, sizeof *f);
    const int ch = channels;
    f->channels = ch;
    f->hop = (size_t) (rate_hz + 5) / 10;
    f->n = 1;
    while (f->n * 2 <= 2 * f->hop)
        f->n *= 2;
    f->stride = S_FRAME_HOPS * f->hop;
    const size_t n = f->n, n_bins = n / 2 + 1;
    f->in = fftwf_malloc (n * sizeof (float));
    f->in2 = fftwf_malloc (n * sizeof (float));
    f->spec = fftwf_malloc (n_bins * sizeof (fftwf_complex));
    f->win = malloc (n * sizeof (float));
    f->buf = malloc (n * (size_t) ch * sizeof (float));
    f->cap_rows = S_FIRST_BLOCKS / S_FRAME_HOPS;
    f->band_p = malloc (f->cap_rows * MEASURE_BANDS * sizeof (float));
    if (f->in && f->spec) {
        pthread_mutex_lock (&s_fftw_lock);
        f->plan = fftwf_plan_dft_r2c_1d ((int) n, f->in, f->spec, FFTW_ESTIMATE);
        pthread_mutex_unlock (&s_fftw_lock);
    }
    if (!f->in || !f->in2 || !f->spec || !f->win || !f->buf || !f->band_p || !f->plan)
        return f->rc = MF_ERR_NOMEM;
    //  periodic Hann window and its power sum
    double w2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        f->win [i] = (float) (0.5 - 0.5 * cos (2.0 * M_PI * (double) i / (double) n));
        w2 += (double) f->win [i] * f->win [i];
    }
    //  Band b spans [u_lo, u_hi) in bins; bin k stands for [k - 1/2, k + 1/2),
    //  so the two edge bins count with the fraction of them inside the band
    //  (noise then reads its true band power, not a whole number of bins).
    //  DC is left out (u >= 1/2); the Nyquist bin stands for half a bin
    //  on the one-sided axis (u <= n/2).
    for (int b = 0; b < MEASURE_BANDS; b++) {
        double u_lo = 1000.0 * pow (10.0, ((double) b - 16.5) / 10.0) * (double) n / rate_hz;
        double u_hi = 1000.0 * pow (10.0, ((double) b - 15.5) / 10.0) * (double) n / rate_hz;
        u_lo = fmax (u_lo, 0.5);
        u_hi = fmin (u_hi, (double) (n / 2));
        if (u_hi <= u_lo) {
            f->k0 [b] = 1;
            f->k1 [b] = 0;                      //  empty: above Nyquist
            continue;
        }
        f->k0 [b] = (size_t) floor (u_lo + 0.5);
        f->k1 [b] = (size_t) floor (u_hi + 0.5);
        if (f->k1 [b] > n / 2)
            f->k1 [b] = n / 2;
        if (f->k0 [b] == f->k1 [b]) {
            f->w0 [b] = (float) (u_hi - u_lo);
            f->w1 [b] = 0.0f;
        }
        else {
            f->w0 [b] = (float) ((double) f->k0 [b] + 0.5 - u_lo);
            f->w1 [b] = (float) (u_hi - ((double) f->k1 [b] - 0.5));
        }
    }
    //  one-sided spectrum: every bin counts twice (Parseval), see above for Nyquist
    f->scale = (float) (2.0 / ((double) n * w2 * ch * S_FULL_SCALE_SINE));
    return 0;
}

//  Frees what the spectrum holds.
static void
s_spec_free (s_spec_t *f)
{
    if (f->plan) {
        pthread_mutex_lock (&s_fftw_lock);
        fftwf_destroy_plan (f->plan);
        pthread_mutex_unlock (&s_fftw_lock);
        f->plan = NULL;
    }
    fftwf_free (f->in);
    fftwf_free (f->in2);
    fftwf_free (f->spec);
    free (f->win);
    free (f->buf);
    free (f->band_p);
    memset (f, 0, sizeof *f);
}

//  Appends the band powers of one frame: len interleaved frames at src
//  (len <= n; zeros after them). Sets f->rc when band_p cannot grow.
static void
s_spec_row (s_spec_t *f, const float *src, size_t len)
{
    const int ch = f->channels;
    const size_t n = f->n;
    if (f->n_rows == f->cap_rows) {
        float *p = realloc (f->band_p, f->cap_rows * 2 * MEASURE_BANDS * sizeof (float));
        if (!p) {
            f->rc = MF_ERR_NOMEM;
            return;
        }
        f->band_p = p;
        f->cap_rows *= 2;
    }
    float *row = f->band_p + f->n_rows * MEASURE_BANDS;
    memset (row, 0, MEASURE_BANDS * sizeof (float));
    if (ch == 2)
        s_window2 (f->in, f->in2, src, f->win, len, n);
    for (int c = 0; c < ch; c++) {
        float *x = ch == 2 && c == 1 ? f->in2 : f->in;
        if (ch != 2)
            s_window (x, src + (size_t) c, (size_t) ch, f->win, len, n);
        //  new-array execute: in and in2 are both fftwf_malloc'd (aligned alike)
        fftwf_execute_dft_r2c (f->plan, x, f->spec);
        const float *sp = (const float *) f->spec;
        for (int b = 0; b < MEASURE_BANDS; b++) {
            if (f->k1 [b] < f->k0 [b])
                continue;
            float acc = f->w0 [b] * s_power (sp, f->k0 [b]);
            if (f->k1 [b] > f->k0 [b]) {
                for (size_t k = f->k0 [b] + 1; k < f->k1 [b]; k++)
                    acc += s_power (sp, k);
                acc += f->w1 [b] * s_power (sp, f->k1 [b]);
            }
            row [b] += acc * f->scale;
        }
    }
    f->n_rows++;
}

//  Takes frames interleaved frames: every FFT frame that completes is
//  transformed at once, straight from x when it lies wholly inside, else
//  gathered in f->buf first.
static void
s_spec_add (s_spec_t *f, const float *x, size_t frames)
{
    const size_t ch = (size_t) f->channels;
    const int64_t end = f->pos + (int64_t) frames;
    while (f->rc == 0) {
        //  the next frame needed: frame n_frames, from its start or where it was left
        int64_t want = (int64_t) (f->n_frames * f->stride + f->buf_n);
        if (want >= end)
            break;
        size_t at = (size_t) (want - f->pos);
        size_t take = f->n - f->buf_n;
        if (take > (size_t) (end - want))
            take = (size_t) (end - want);
        if (f->buf_n == 0 && take == f->n)
            s_spec_row (f, x + at * ch, f->n);
        else {
            memcpy (f->buf + f->buf_n * ch, x + at * ch, take * ch * sizeof (float));
            f->buf_n += take;
            if (f->buf_n < f->n)
                break;
            s_spec_row (f, f->buf, f->n);
            f->buf_n = 0;
        }
        if (f->rc == 0)
            f->n_frames++;
    }
    f->pos = end;
}

//  Ends the frames: a track shorter than one frame gets its one
//  zero-padded frame. Returns f->rc.
static int
s_spec_end (s_spec_t *f)
{
    if (f->rc == 0 && f->n_frames == 0)
        s_spec_row (f, f->buf, f->buf_n);
    return f->rc;
}

//  The long-term spectrum into out->band_db: the mean over the gating
//  blocks above both gates of each block's mean frame power (see
//  analysis.h), or the mean over all frames when no block passes.
static void
s_spectrum_combine (const s_spec_t *f, const double *block_e, size_t n_blocks,
                    measure_t *out)
{
    double band [MEASURE_BANDS] = { 0 };
    double sum = 0.0;
    size_t count = 0, passing = 0;
    const double abs_e = s_energy (S_ABS_GATE_LUFS);
    for (size_t b = 0; b < n_blocks; b++)
        if (block_e [b] > abs_e) {
            sum += block_e [b];
            count++;
        }
    if (count > 0 && f->n_frames > 0) {
        double gate = sum / (double) count * pow (10.0, S_REL_GATE_LU / 10.0);
        for (size_t b = 0; b < n_blocks; b++) {
            if (!(block_e [b] > abs_e && block_e [b] > gate))
                continue;
            //  frames r with r * stride >= b * hop and r * stride + n <= (b + 4) * hop
            size_t r0 = (b * f->hop + f->stride - 1) / f->stride;
            size_t r1 = r0;
            while (r1 < f->n_frames && r1 * f->stride + f->n <= (b + 4) * f->hop)
                r1++;
            if (r1 == r0)
                continue;
            double w = 1.0 / (double) (r1 - r0);
            for (size_t r = r0; r < r1; r++)
                for (int k = 0; k < MEASURE_BANDS; k++)
                    band [k] += w * f->band_p [r * MEASURE_BANDS + k];
            passing++;
        }
    }
    double total = (double) passing;
    if (passing == 0) {
        for (size_t r = 0; r < f->n_rows; r++)
            for (int k = 0; k < MEASURE_BANDS; k++)
                band [k] += f->band_p [r * MEASURE_BANDS + k];
        total = (double) f->n_rows;
    }
    for (int k = 0; k < MEASURE_BANDS; k++) {
        double p = band [k] / total;
        out->band_db [k] = p > 0.0 ? 10.0 * log10 (p) : -HUGE_VAL;
    }
}

//  threads 2: frames queued for the loudness thread. buf holds cap frames
//  (a whole number of hops, so that a hop never wraps around); frames
//  [tail, head) of the stream wait at (index % cap). Only the caller's
//  thread moves head, only the loudness thread moves tail.
typedef struct {
    pthread_t        thread;
    pthread_mutex_t  lock;
    pthread_cond_t   cond;       //  head, tail, done or quit changed
    float           *buf;
    size_t           cap;        //  frames
    uint64_t         head;       //  frames queued, ever
    uint64_t         tail;       //  frames measured, ever
    bool             done;       //  no more frames will come
    bool             quit;       //  abandoned: stop at once
} s_ring_t;

struct analysis_stream_s {
    int            channels;
    int            rate_hz;
    int64_t        frames;       //  fed so far
    int            rc;           //  0, or the first failure of a feed (err says what)
    char           err [256];
    s_stats_t      stats;
    truepeak_t    *tp;
    float         *tp_carry;     //  frames for the true-peak meter short of a whole chunk
    size_t         tp_n;
    s_spec_t       spec;
    s_loud_t       loud;
    float         *carry;        //  one thread: the frames of the hop under way
    size_t         carry_n;
    s_ring_t       ring;
    bool           threaded;     //  the loudness thread runs
};

//  The loudness thread: measures whole hops as they are queued, then the
//  partial last one once no more frames will come.
static void *
s_loud_thread (void *arg)
{
    analysis_stream_t *s = arg;
    s_ring_t *q = &s->ring;
    const size_t hop = s->loud.hop, ch = (size_t) s->channels;
    cpu_set_ftz_daz ();
    pthread_mutex_lock (&q->lock);
    for (;;) {
        while (q->head - q->tail < hop && !q->done && !q->quit)
            pthread_cond_wait (&q->cond, &q->lock);
        if (q->quit)
            break;
        size_t avail = (size_t) (q->head - q->tail);
        const float *x = q->buf + (size_t) (q->tail % q->cap) * ch;
        pthread_mutex_unlock (&q->lock);
        if (avail < hop) {
            s_loud_rest (&s->loud, x, avail);     //  done: the rest does not wrap
            pthread_mutex_lock (&q->lock);
            break;
        }
        s_loud_hop (&s->loud, x);
        pthread_mutex_lock (&q->lock);
        q->tail += hop;
        pthread_cond_broadcast (&q->cond);
    }
    pthread_mutex_unlock (&q->lock);
    return NULL;
}

//  Queues frames for the loudness thread, waiting while the ring is full.
static void
s_ring_push (s_ring_t *q, const float *x, size_t frames, size_t ch)
{
    while (frames > 0) {
        pthread_mutex_lock (&q->lock);
        while (q->head - q->tail == q->cap)
            pthread_cond_wait (&q->cond, &q->lock);
        size_t room = q->cap - (size_t) (q->head - q->tail);
        size_t at = (size_t) (q->head % q->cap);
        pthread_mutex_unlock (&q->lock);
        size_t n = frames < room ? frames : room;
        if (n > q->cap - at)
            n = q->cap - at;
        memcpy (q->buf + at * ch, x, n * ch * sizeof (float));
        pthread_mutex_lock (&q->lock);
        q->head += n;
        pthread_cond_broadcast (&q->cond);
        pthread_mutex_unlock (&q->lock);
        x += n * ch;
        frames -= n;
    }
}

//  Stops the loudness thread: after the frames queued (quit false) or at
//  once (quit true); then frees the ring.
static void
s_ring_stop (analysis_stream_t *s, bool quit)
{
    s_ring_t *q = &s->ring;
    if (s->threaded) {
        pthread_mutex_lock (&q->lock);
        q->done = true;
        q->quit = quit;
        pthread_cond_broadcast (&q->cond);
        pthread_mutex_unlock (&q->lock);
        pthread_join (q->thread, NULL);
        pthread_mutex_destroy (&q->lock);
        pthread_cond_destroy (&q->cond);
        s->threaded = false;
    }
    free (q->buf);
    q->buf = NULL;
}

//  Feeds x (frames interleaved frames of ch channels) to fn in whole
//  blocks of block frames counted from the stream's start: a multiple of
//  block at a time, the frames short of a block carried in carry
//  (*carry_n of them) to the next call.
static void
s_blocks (float *carry, size_t *carry_n, size_t block, size_t ch, const float *x,
          size_t frames, void (*fn) (analysis_stream_t *s, const float *x, size_t frames),
          analysis_stream_t *s)
{
    if (*carry_n > 0) {
        size_t take = block - *carry_n < frames ? block - *carry_n : frames;
        memcpy (carry + *carry_n * ch, x, take * ch * sizeof (float));
        *carry_n += take;
        x += take * ch;
        frames -= take;
        if (*carry_n < block)
            return;
        fn (s, carry, block);
        *carry_n = 0;
    }
    size_t whole = frames / block * block;
    if (whole)
        fn (s, x, whole);
    memcpy (carry, x + whole * ch, (frames - whole) * ch * sizeof (float));
    *carry_n = frames - whole;
}

//  Whole hops into the loudness meter.
static void
s_loud_hops (analysis_stream_t *s, const float *x, size_t frames)
{
    const size_t hop = s->loud.hop, ch = (size_t) s->channels;
    for (; frames >= hop; frames -= hop, x += hop * ch)
        s_loud_hop (&s->loud, x);
}

//  Whole chunks into the true-peak meter.
static void
s_tp_chunks (analysis_stream_t *s, const float *x, size_t frames)
{
    truepeak_process (s->tp, x, frames);
}

//  One thread: feeds the loudness meter whole hops, carrying an unfinished one.
static void
s_loud_feed (analysis_stream_t *s, const float *x, size_t frames)
{
    s_blocks (s->carry, &s->carry_n, s->loud.hop, (size_t) s->channels, x, frames,
              s_loud_hops, s);
}

//  Feeds the true-peak meter in whole chunks of S_CHUNK_FRAMES counted
//  from the track's start, carrying the frames short of one: its kernels
//  then see the same calls whatever the pieces (the meter's result does
//  not depend on them in an optimised build, but a vector kernel's
//  scalar tail may round differently without optimisation).
static void
s_tp_feed (analysis_stream_t *s, const float *x, size_t frames)
{
    s_blocks (s->tp_carry, &s->tp_n, S_CHUNK_FRAMES, (size_t) s->channels, x, frames,
              s_tp_chunks, s);
}

void
analysis_stream_destroy (analysis_stream_t **stream_p)
{
    if (!stream_p || !*stream_p)
        return;
    analysis_stream_t *s = *stream_p;
    s_ring_stop (s, true);
    s_loud_free (&s->loud);
    s_spec_free (&s->spec);
    truepeak_destroy (&s->tp);
    free (s->tp_carry);
    free (s->carry);
    free (s);
    *stream_p = NULL;
}

int
analysis_start (analysis_stream_t **stream_p, int channels, int rate_hz,
                const analysis_cfg_t *cfg, char *err, size_t err_size)
{
    analysis_cfg_t defaults;
    *stream_p = NULL;
    if (!cfg) {
        analysis_cfg_default (&defaults);
        cfg = &defaults;
    }
    if (channels < 1 || channels > MEASURE_MAX_CH) {
        snprintf (err, err_size, "%d channels; 1 to %d can be measured",
                  channels, MEASURE_MAX_CH);
        return MF_ERR_INVALID;
    }
    if (rate_hz < AUDIO_MIN_RATE_HZ || rate_hz > AUDIO_MAX_RATE_HZ) {
        snprintf (err, err_size, "sample rate %d Hz; %d to %d Hz can be measured",
                  rate_hz, AUDIO_MIN_RATE_HZ, AUDIO_MAX_RATE_HZ);
        return MF_ERR_INVALID;
    }
    if (!(cfg->silence_dbfs < 0.0 && cfg->silence_dbfs > -200.0)) {
        snprintf (err, err_size, "silence threshold %g dBFS; it must be between -200 and 0",
                  cfg->silence_dbfs);
        return MF_ERR_INVALID;
    }
    if (cfg->threads < 0 || cfg->threads > 2) {
        snprintf (err, err_size, "threads %d; it must be 1 or 2 (0 means 1)", cfg->threads);
        return MF_ERR_INVALID;
    }
    analysis_stream_t *s = calloc (1, sizeof *s);
    if (!s) {
        snprintf (err, err_size, "out of memory for the analysis");
        return MF_ERR_NOMEM;
    }
    s->channels = channels;
    s->rate_hz = rate_hz;
    s->stats.channels = channels;
    s->stats.lanes = S_STATS_LANES % channels == 0;
    s->stats.thr = (float) pow (10.0, cfg->silence_dbfs / 20.0);
    s->stats.first_loud = -1;
    s->stats.last_loud = -1;
    int rc = s_loud_init (&s->loud, channels, rate_hz);
    if (rc)
        snprintf (err, err_size, "%s", s->loud.err);
    else
    if (s_spec_init (&s->spec, channels, rate_hz)) {
        snprintf (err, err_size, "out of memory for the spectrum");
        rc = MF_ERR_NOMEM;
    }
    else
    if (!(s->tp = truepeak_new (rate_hz, channels))) {
        snprintf (err, err_size, "out of memory for the true-peak meter");
        rc = MF_ERR_NOMEM;
    }
    else
    if (!(s->carry = malloc (s->loud.hop * (size_t) channels * sizeof (float)))
    ||  !(s->tp_carry = malloc ((size_t) S_CHUNK_FRAMES * (size_t) channels * sizeof (float)))) {
        snprintf (err, err_size, "out of memory for the analysis");
        rc = MF_ERR_NOMEM;
    }
    if (rc) {
        analysis_stream_destroy (&s);
        return rc;
    }
    //  the loudness meter on a second thread if asked and possible (else on this one)
    if (cfg->threads == 2) {
        s_ring_t *q = &s->ring;
        size_t hops = S_RING_FRAMES / s->loud.hop;
        q->cap = (hops > 2 ? hops : 2) * s->loud.hop;
        q->buf = malloc (q->cap * (size_t) channels * sizeof (float));
        if (q->buf) {
            pthread_mutex_init (&q->lock, NULL);
            pthread_cond_init (&q->cond, NULL);
            s->threaded = pthread_create (&q->thread, NULL, s_loud_thread, s) == 0;
            if (!s->threaded) {
                pthread_mutex_destroy (&q->lock);
                pthread_cond_destroy (&q->cond);
                free (q->buf);
                q->buf = NULL;
            }
        }
    }
    cpu_set_ftz_daz ();
    *stream_p = s;
    return 0;
}

int
analysis_feed (analysis_stream_t *s, const float *x, int64_t frames,
               char *err, size_t err_size)
{
    if (s->rc == 0 && (frames < 0 || (frames > 0 && !x))) {
        snprintf (s->err, sizeof s->err, "%lld frames fed to the analysis", (long long) frames);
        s->rc = MF_ERR_INVALID;
    }
    if (s->rc) {
        snprintf (err, err_size, "%s", s->err);
        return s->rc;
    }
    const size_t ch = (size_t) s->channels;
    const size_t n = (size_t) frames * ch;
    size_t bad = s_find_nonfinite (x, n);
    if (bad < n) {
        snprintf (s->err, sizeof s->err, "frame %lld of channel %zu is %s; cannot measure",
                  (long long) s->frames + (long long) (bad / ch), bad % ch + 1,
                  isnan (x [bad]) ? "NaN" : "infinite");
        snprintf (err, err_size, "%s", s->err);
        return s->rc = MF_ERR_FORMAT;
    }
    cpu_set_ftz_daz ();
    for (size_t done = 0; done < (size_t) frames; ) {
        size_t len = (size_t) frames - done < S_CHUNK_FRAMES ? (size_t) frames - done
                                                              : S_CHUNK_FRAMES;
        const float *c = x + done * ch;
        if (s->threaded)
            s_ring_push (&s->ring, c, len, ch);
        else
            s_loud_feed (s, c, len);
        s_stats_add (&s->stats, c, len);
        s_tp_feed (s, c, len);
        s_spec_add (&s->spec, c, len);
        done += len;
    }
    s->frames += frames;
    if (s->spec.rc) {
        snprintf (s->err, sizeof s->err, "out of memory for the spectrum");
        snprintf (err, err_size, "%s", s->err);
        return s->rc = s->spec.rc;
    }
    return 0;
}

int
analysis_finish (analysis_stream_t **stream_p, const char *format, measure_t *out,
                 char *err, size_t err_size)
{
    analysis_stream_t *s = *stream_p;
    memset (out, 0, sizeof *out);
    //  the loudness of the frames still queued, and of the partial last hop
    if (s->threaded)
        s_ring_stop (s, s->rc != 0);        //  after a failed feed: at once
    else
        s_loud_rest (&s->loud, s->carry, s->carry_n);
    int rc = s->rc;
    if (rc)
        snprintf (err, err_size, "%s", s->err);
    else
    if (s->frames < 1) {
        snprintf (err, err_size, "no audio frames to measure");
        rc = MF_ERR_INVALID;
    }
    else
    if ((rc = s_loud_end (&s->loud, out)))
        snprintf (err, err_size, "%s", s->loud.err);
    else
    if ((rc = s_spec_end (&s->spec)))
        snprintf (err, err_size, "out of memory for the spectrum");
    if (rc) {
        measure_free (out);
        analysis_stream_destroy (stream_p);
        return rc;
    }
    cpu_set_ftz_daz ();
    snprintf (out->format, sizeof out->format, "%s", format ? format : "");
    out->rate_hz = s->rate_hz;
    out->channels = s->channels;
    out->frames = s->frames;
    out->duration_s = (double) s->frames / s->rate_hz;
    s_stats_end (&s->stats, s->frames, out);
    truepeak_process (s->tp, s->tp_carry, s->tp_n);
    out->true_peak_dbtp = truepeak_max_dbtp (s->tp);
    if (out->true_peak_dbtp < out->sample_peak_dbfs)
        out->true_peak_dbtp = out->sample_peak_dbfs;
    s_spectrum_combine (&s->spec, s->loud.block_e, out->n_blocks, out);
    analysis_stream_destroy (stream_p);
    return 0;
}

int
analysis_run (const audio_t *audio, const analysis_cfg_t *cfg, measure_t *out,
              char *err, size_t err_size)
{
    memset (out, 0, sizeof *out);
    if (!audio || !audio->data || audio->frames < 1) {
        snprintf (err, err_size, "no audio frames to measure");
        return MF_ERR_INVALID;
    }
    analysis_stream_t *s;
    int rc = analysis_start (&s, audio->channels, audio->rate_hz, cfg, err, err_size);
    if (rc)
        return rc;
    rc = analysis_feed (s, audio->data, audio->frames, err, err_size);
    if (rc) {
        analysis_stream_destroy (&s);
        return rc;
    }
    return analysis_finish (&s, audio->format, out, err, err_size);
}
