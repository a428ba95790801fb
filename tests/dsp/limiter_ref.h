/*  Reference lookahead limiter for test_limiter: the limiter as it was
    before its per-frame passes were reworked for speed (one pass per
    stage: required gain, sliding minimum with a per-frame van Herk /
    Gil-Werman update, release and box smoothing with the sum recomputed
    once per lap, delay line, statistics). Kept verbatim in arithmetic
    and order, with names prefixed ref_, so that the product limiter can
    be checked bit for bit against it on any input, block size, channel
    count, rate and kernel table. Header-only (static): include it in one
    test program.  */
#ifndef MF_TESTS_LIMITER_REF_H
#define MF_TESTS_LIMITER_REF_H

#include "worker/dsp/limiter.h"

#include <assert.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ref_limiter_s ref_limiter_t;
static void ref_limiter_destroy (ref_limiter_t **self_p);
static void ref_limiter_reset (ref_limiter_t *self);

#define REF_DET_CHUNK  32      //  frames per detector skip decision

struct ref_limiter_s {
    int          channels;
    int          latency;       //  L, frames
    int          box;           //  N, frames of the smoothing window
    double       ceiling_lin;   //  c: ceiling lowered by the margin, linear
    double       a_rel;         //  release coefficient
    const dsp_ops_t *ops;       //  kernel table (tp_peaks)
    int          n_filt;        //  detector filters: 1 or 2
    int          phases [2];    //  per filter
    int          taps;          //  T: common support of the filters, frames
    int          det_delay;     //  branch 0 of both filters: x[i - det_delay]
    float       *coef [2];      //  phases * taps each, aligned on one delay
    double       coef_bound;    //  >= max over filters and phases of sum |coef|
    float       *hist [LIMITER_MAX_CHANNELS];  //  taps - 1 + BLOCK samples each
    float       *peak;          //  LIMITER_BLOCK_FRAMES detector outputs
    float       *tmp;           //  LIMITER_BLOCK_FRAMES: one channel, one filter
    float       *zeros;         //  LIMITER_BLOCK_FRAMES * channels of silence
    float       *delay;         //  latency * channels: input ring
    //  Sliding minimum of g_req over W = latency + 1 frames (van Herk /
    //  Gil-Werman): frames in blocks of W; min over a window = min of the
    //  suffix minimum of its first block and the prefix minimum of its
    //  last block.
    double      *win_g;         //  W: g_req of the current block
    double      *win_suf;       //  W: suffix minima of the last full block
    double       win_pre;       //  prefix minimum of the current block
    size_t       win_pos;       //  position of frame t in its block
    uint64_t     ones;          //  trailing frames whose g_req is exactly 1
    bool         suf_ones;      //  win_suf is all 1 (not stored when so)
    double      *hbuf;          //  box: the last N values of h
    double      *gblk;          //  LIMITER_BLOCK_FRAMES: g_req, then m, then g
    double       hsum;          //  their sum
    int          hpos;          //  next slot in hbuf
    double       r;             //  release state: 1 - h of the last frame
    uint64_t     t;             //  input frames consumed since reset
    size_t       dpos;          //  delay-line slot of frame t (t mod latency)
    double       g_min;         //  smallest gain applied (for gr_max_db)
    dyn_stats_t  stats;
};

//  The detector: the product limiter's own design (limiter_detector),
//  which the rework left alone; only the passes that use it are kept here.
//  Returns 0 or -1 (bad arguments or out of memory).
static int
ref_s_detector_init (ref_limiter_t *self, const limiter_cfg_t *cfg, int rate_hz)
{
    limiter_t *lim = limiter_new (cfg, rate_hz, self->channels);
    if (!lim)
        return -1;
    limiter_detector_t det;
    limiter_detector (lim, &det);
    self->n_filt = det.n_filt;
    self->taps = det.taps;
    self->det_delay = det.det_delay;
    self->coef_bound = det.coef_bound;
    int rc = 0;
    for (int k = 0; k < det.n_filt; k++) {
        self->phases [k] = det.phases [k];
        size_t n = (size_t) det.phases [k] * (size_t) det.taps;
        self->coef [k] = malloc (n * sizeof (float));
        if (!self->coef [k])
            rc = -1;
        else
            memcpy (self->coef [k], det.coef [k], n * sizeof (float));
    }
    limiter_destroy (&lim);
    return rc;
}

static ref_limiter_t *
ref_limiter_new (const limiter_cfg_t *cfg, int rate_hz, int channels)
{
    if (!cfg || rate_hz < 8000 || rate_hz > 768000
    ||  channels < 1 || channels > LIMITER_MAX_CHANNELS
    ||  !(cfg->ceiling_dbtp >= -40.0 && cfg->ceiling_dbtp <= 0.0)
    ||  !(cfg->lookahead_ms >= 0.5 && cfg->lookahead_ms <= 20.0)
    ||  !(cfg->release_ms >= 1.0 && cfg->release_ms <= 2000.0))
        return NULL;
    ref_limiter_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->channels = channels;
    self->ops = dsp_ops ();
    if (ref_s_detector_init (self, cfg, rate_hz))
        goto fail;
    int taps = self->taps;
    int lat = (int) lround (cfg->lookahead_ms / 1000.0 * rate_hz);
    //  At least 2T - 2 frames, so that the smoothing window N = L - T + 2
    //  is at least the detector's support T: a shorter window lets the
    //  gain change steeply inside one interpolation support, where the
    //  interpolated output can then exceed the gain times the input.
    if (lat < 2 * taps - 2)
        lat = 2 * taps - 2;
    if (lat < 1)
        lat = 1;
    self->latency = lat;
    self->box = lat - taps + 2;
    self->ceiling_lin = pow (10.0, (cfg->ceiling_dbtp - LIMITER_MARGIN_DB) / 20.0);
    self->a_rel = exp (-1.0 / (cfg->release_ms / 1000.0 * rate_hz));
    self->peak = calloc (LIMITER_BLOCK_FRAMES, sizeof (float));
    self->tmp = calloc (LIMITER_BLOCK_FRAMES, sizeof (float));
    for (int c = 0; c < channels; c++) {
        self->hist [c] = calloc ((size_t) taps - 1 + LIMITER_BLOCK_FRAMES, sizeof (float));
        if (!self->hist [c])
            goto fail;
    }
    self->zeros = calloc ((size_t) LIMITER_BLOCK_FRAMES * channels, sizeof (float));
    self->delay = calloc ((size_t) lat * channels, sizeof (float));
    self->win_g = calloc ((size_t) lat + 1, sizeof (double));
    self->win_suf = calloc ((size_t) lat + 1, sizeof (double));
    self->hbuf = calloc ((size_t) self->box, sizeof (double));
    self->gblk = calloc (LIMITER_BLOCK_FRAMES, sizeof (double));
    if (!self->peak || !self->tmp || !self->zeros || !self->delay || !self->win_g
    ||  !self->win_suf || !self->hbuf || !self->gblk)
        goto fail;
    ref_limiter_reset (self);
    return self;
fail:
    ref_limiter_destroy (&self);
    return NULL;
}

static void
ref_limiter_destroy (ref_limiter_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ref_limiter_t *self = *self_p;
    for (int k = 0; k < 2; k++)
        free (self->coef [k]);
    for (int c = 0; c < LIMITER_MAX_CHANNELS; c++)
        free (self->hist [c]);
    free (self->peak);
    free (self->tmp);
    free (self->zeros);
    free (self->delay);
    free (self->win_g);
    free (self->win_suf);
    free (self->hbuf);
    free (self->gblk);
    free (self);
    *self_p = NULL;
}

static int
ref_limiter_latency_frames (const ref_limiter_t *self)
{
    assert (self);
    return self->latency;
}

static void
ref_limiter_reset (ref_limiter_t *self)
{
    assert (self);
    for (int c = 0; c < self->channels; c++)
        memset (self->hist [c], 0, (size_t) (self->taps - 1) * sizeof (float));
    memset (self->delay, 0, (size_t) self->latency * self->channels * sizeof (float));
    //  Frames before the start count as needing no reduction (g_req 1).
    for (int k = 0; k <= self->latency; k++)
        self->win_suf [k] = 1.0;
    self->win_pre = 1.0;
    self->win_pos = 0;
    self->ones = 0;
    self->suf_ones = false;
    self->dpos = 0;
    self->g_min = 1.0;
    for (int k = 0; k < self->box; k++)
        self->hbuf [k] = 1.0;
    self->hsum = self->box;
    self->hpos = 0;
    self->r = 0.0;
    self->t = 0;
    memset (&self->stats, 0, sizeof self->stats);
}

//  Four floats (GNU C vector extension: SSE on x86-64, whatever the
//  target has elsewhere); shuffled with __builtin_shufflevector, which
//  gcc (12 and later) and clang both take.
typedef float ref_s_v4f_t __attribute__ ((vector_size (16)));

//  pk[i] = max (pk[i], v[i]); four at a time so that the compiler's
//  straight-line vectoriser can use one packed max per step.
static void
ref_s_max_into (float *restrict pk, const float *restrict v, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float a0 = pk [i], a1 = pk [i + 1], a2 = pk [i + 2], a3 = pk [i + 3];
        float b0 = v [i], b1 = v [i + 1], b2 = v [i + 2], b3 = v [i + 3];
        pk [i] = a0 > b0 ? a0 : b0;
        pk [i + 1] = a1 > b1 ? a1 : b1;
        pk [i + 2] = a2 > b2 ? a2 : b2;
        pk [i + 3] = a3 > b3 ? a3 : b3;
    }
    for (; i < n; i++)
        pk [i] = pk [i] > v [i] ? pk [i] : v [i];
}

//  pk[i] = |x[i]| (first) or max (pk[i], |x[i]|).
static void
ref_s_abs_max_into (float *restrict pk, const float *restrict x, size_t n, bool first)
{
    if (first)
        for (size_t i = 0; i < n; i++)
            pk [i] = fabsf (x [i]);
    else
        for (size_t i = 0; i < n; i++) {
            float a = pk [i], b = fabsf (x [i]);
            pk [i] = a > b ? a : b;
        }
}

//  Detector for n frames of src: peak[i] = largest |interpolated value|
//  over channels, filters and phases whose support is frames i - T + 1
//  .. i; keeps each channel's last T - 1 samples as history. Branch 0 of
//  both filters is an exact delay of self->det_delay frames (checked in
//  ref_s_detector_init), so it is read as the delayed sample itself and the
//  FIR kernel runs branches 1 .. phases - 1 only. Chunks of
//  REF_DET_CHUNK frames whose support peaks M satisfy M * coef_bound
//  <= ceiling cannot need any reduction: their peak[] is set to 0
//  instead (the same g_req of 1 as the exact value would give).
static void
ref_s_detect (ref_limiter_t *self, const float *src, size_t n, float gain)
{
    const size_t ch = (size_t) self->channels;
    const int t = self->taps;
    const size_t nch = (n + REF_DET_CHUNK - 1) / REF_DET_CHUNK;
    bool need [LIMITER_BLOCK_FRAMES / REF_DET_CHUNK + 1];
    //  largest input peak that is sure to stay at or under the ceiling
    const double m_ok = self->ceiling_lin / self->coef_bound;
    for (size_t j = 0; j < nch; j++)
        need [j] = false;
    if (ch == 2) {
        float *restrict x0 = self->hist [0] + t - 1, *restrict x1 = self->hist [1] + t - 1;
        size_t i = 0;
        //  four frames at a time: two loads, two shuffles, two stores
        for (; i + 4 <= n; i += 4) {
            ref_s_v4f_t a, b;
            memcpy (&a, src + 2 * i, sizeof a);
            memcpy (&b, src + 2 * i + 4, sizeof b);
            ref_s_v4f_t l = __builtin_shufflevector (a, b, 0, 2, 4, 6) * gain;
            ref_s_v4f_t r = __builtin_shufflevector (a, b, 1, 3, 5, 7) * gain;
            memcpy (x0 + i, &l, sizeof l);
            memcpy (x1 + i, &r, sizeof r);
        }
        for (; i < n; i++) {
            x0 [i] = src [2 * i] * gain;
            x1 [i] = src [2 * i + 1] * gain;
        }
    }
    else
        for (size_t c = 0; c < ch; c++) {
            float *x = self->hist [c] + t - 1;
            for (size_t i = 0; i < n; i++)
                x [i] = src [i * ch + c] * gain;
        }
    for (size_t c = 0; c < ch; c++) {
        float *x = self->hist [c] + t - 1;
        for (size_t j = 0; j < nch; j++) {
            if (need [j])
                continue;
            size_t i0 = j * REF_DET_CHUNK;
            size_t i1 = i0 + REF_DET_CHUNK < n ? i0 + REF_DET_CHUNK : n;
            float m = self->ops->abs_max (x + i0 - (t - 1), i1 - i0 + (size_t) (t - 1));
            //  NaN peaks take the exact path
            if (!((double) m <= m_ok))
                need [j] = true;
        }
    }
    for (size_t j = 0; j < nch; j++) {
        size_t i0 = j * REF_DET_CHUNK;
        size_t i1 = i0 + REF_DET_CHUNK < n ? i0 + REF_DET_CHUNK : n;
        if (!need [j]) {
            memset (self->peak + i0, 0, (i1 - i0) * sizeof (float));
            continue;
        }
        //  a run of chunks that need the detector: [i0, i1)
        while (j + 1 < nch && need [j + 1]) {
            j++;
            i1 = j * REF_DET_CHUNK + REF_DET_CHUNK < n
               ? j * REF_DET_CHUNK + REF_DET_CHUNK : n;
        }
        for (size_t c = 0; c < ch; c++) {
            float *x = self->hist [c] + t - 1;
            ref_s_abs_max_into (self->peak + i0, x + i0 - self->det_delay, i1 - i0, c == 0);
            for (int k = 0; k < self->n_filt; k++)
                if (self->phases [k] > 1) {
                    self->ops->tp_peaks (x + i0, i1 - i0, self->coef [k] + t,
                                         self->phases [k] - 1, t, self->tmp);
                    ref_s_max_into (self->peak + i0, self->tmp, i1 - i0);
                }
        }
    }
    if (t > 1)
        for (size_t c = 0; c < ch; c++)
            memmove (self->hist [c], self->hist [c] + n, (size_t) (t - 1) * sizeof (float));
}

//  Core: n frames from src (interleaved) through the detector, gain and
//  delay line; output to dst unless dst is NULL (discarded). dst <= src
//  in the same buffer is safe: each frame is read before its output slot,
//  which lies at or before it, is written. The per-frame recursions run
//  as separate passes over the block (required gain, sliding minimum,
//  release and box smoothing, delay line, statistics), each a short
//  loop with the same arithmetic, in the same order, as one fused loop.
static void
ref_s_block (ref_limiter_t *self, float *dst, const float *src, size_t n, float gain)
{
    const size_t ch = (size_t) self->channels;
    const uint64_t lat = (uint64_t) self->latency;
    const double c = self->ceiling_lin, a_rel = self->a_rel;
    const int box = self->box;
    const double inv_box = 1.0 / box;
    const size_t w = (size_t) lat + 1;
    double *restrict gb = self->gblk;
    ref_s_detect (self, src, n, gain);

    //  1  required gain: c / max (p, c), exactly 1 (c / c) at or under
    //     the ceiling
    const float *pk = self->peak;
    for (size_t i = 0; i < n; i++) {
        double p = pk [i];
        gb [i] = p > c ? c / p : 1.0;
    }

    //  2  sliding minimum over g_req[t - L .. t]: the window starts at
    //     position pos + 1 of the previous block (or, when pos is the
    //     block's last position, at the start of this one)
    double *restrict win_g = self->win_g, *restrict win_suf = self->win_suf;
    double pre = self->win_pre;
    size_t pos = self->win_pos;
    uint64_t ones = self->ones;
    bool suf_ones = self->suf_ones;
    for (size_t i = 0; i < n; i++) {
        double g_req = gb [i];
        ones = g_req == 1.0 ? ones + 1 : 0;
        if (ones >= w) {
            //  the whole window [t - L, t] asks for 1: m = 1 (gb[i] already
            //  is), and every entry of the current block is 1
            win_g [pos] = 1.0;
            if (++pos == w) {
                suf_ones = true;        //  win_suf all 1, without storing it
                pre = 1.0;
                pos = 0;
            }
            continue;
        }
        win_g [pos] = g_req;
        pre = g_req < pre ? g_req : pre;
        double m;
        if (pos + 1 == w) {
            suf_ones = false;
            double sm = win_g [pos];
            win_suf [pos] = sm;
            for (size_t k = pos; k-- > 0; ) {
                sm = win_g [k] < sm ? win_g [k] : sm;
                win_suf [k] = sm;
            }
            m = pre;
            pre = 1.0;
            pos = 0;
        }
        else {
            double ref_s_prev = suf_ones ? 1.0 : win_suf [pos + 1];
            m = ref_s_prev < pre ? ref_s_prev : pre;
            pos++;
        }
        gb [i] = m;
    }
    self->win_pre = pre;
    self->win_pos = pos;
    self->ones = ones;
    self->suf_ones = suf_ones;

    //  3  release toward 1, never above the lookahead minimum, kept as
    //     the distance r = 1 - h so that the recurrence is one multiply
    //     and one max: r = max (r a_R, 1 - m); then box smoothing, the
    //     sum recomputed exactly once per lap; g exactly 1 when nothing
    //     in the window reduces (transparency)
    double r = self->r, hsum = self->hsum;
    double *restrict hbuf = self->hbuf;
    int hpos = self->hpos;
    //  Frames whose m is 1 (need 0) take r = r a_R alone: max (r a_R, 0)
    //  is r a_R itself, and the recurrence is one multiply shorter.
#define S_BOX_STEP(i) do {                                              \
        double h_ = 1.0 - r;                                            \
        hsum += h_ - hbuf [hpos];                                       \
        hbuf [hpos] = h_;                                               \
        if (++hpos == box) {                                            \
            hpos = 0;                                                   \
            double sum_ = 0.0;                                          \
            for (int k_ = 0; k_ < box; k_++)                            \
                sum_ += hbuf [k_];                                      \
            hsum = sum_;                                                \
        }                                                               \
        gb [i] = hsum >= box ? 1.0 : hsum * inv_box;                    \
    } while (0)
    for (size_t i = 0; i < n; ) {
        if (gb [i] == 1.0) {
            size_t end = i + 1;
            while (end < n && gb [end] == 1.0)
                end++;
            for (; i < end; i++) {
                r *= a_rel;
                S_BOX_STEP (i);
            }
        }
        else {
            r *= a_rel;
            double need = 1.0 - gb [i];
            r = need > r ? need : r;                //  maxsd
            S_BOX_STEP (i);
            i++;
        }
    }
#undef S_BOX_STEP
    self->r = r;
    self->hsum = hsum;
    self->hpos = hpos;

    //  4  delay line: out frame t - L, then store frame t in its slot
    size_t dpos = self->dpos;
    for (size_t i = 0; i < n; ) {
        //  frames up to the ring's end: slots dpos .. dpos + run - 1
        size_t run = (size_t) lat - dpos;
        if (run > n - i)
            run = n - i;
        float *d = self->delay + dpos * ch;
        const float *x = src + i * ch;
        if (dst) {
            float *y = dst + i * ch;
            if (ch == 2)
                for (size_t j = 0; j < run; j++) {
                    double g = gb [i + j];
                    float v0 = d [2 * j], v1 = d [2 * j + 1];
                    float x0 = x [2 * j] * gain, x1 = x [2 * j + 1] * gain;
                    d [2 * j] = x0;
                    d [2 * j + 1] = x1;
                    y [2 * j] = (float) (g * v0);
                    y [2 * j + 1] = (float) (g * v1);
                }
            else
                for (size_t j = 0; j < run; j++) {
                    double g = gb [i + j];
                    for (size_t k = 0; k < ch; k++) {
                        float v = d [j * ch + k];
                        d [j * ch + k] = x [j * ch + k] * gain;
                        y [j * ch + k] = (float) (g * v);
                    }
                }
        }
        else
        if (gain == 1.0f)
            memcpy (d, x, run * ch * sizeof (float));
        else
            for (size_t k = 0; k < run * ch; k++)
                d [k] = x [k] * gain;
        dpos += run;
        if (dpos == lat)
            dpos = 0;
        i += run;
    }
    self->dpos = dpos;

    //  5  statistics of the frames past the first L (the delay line's
    //     silence). Mean reduction in dB = -20 log10 of the product of
    //     the gains: one multiply per frame, folded into the sum before
    //     it can underflow.
    uint64_t t = self->t;
    size_t i0 = t >= lat ? 0 : (size_t) (lat - t) < n ? (size_t) (lat - t) : n;
    double g_prod = 1.0, gr_sum = 0.0, g_min = self->g_min;
    for (size_t i = i0; i < n; i++) {
        double g = gb [i];
        if (g < 1.0) {
            g_prod *= g;
            if (g_prod < 1e-200) {
                gr_sum -= 20.0 * log10 (g_prod);
                g_prod = 1.0;
            }
            if (g < g_min)
                g_min = g;
        }
    }
    self->t = t + n;
    self->g_min = g_min;
    self->stats.gr_sum_db += gr_sum - 20.0 * log10 (g_prod);
    self->stats.frames += n - i0;
    self->stats.gr_max_db = g_min < 1.0 ? -20.0 * log10 (g_min) : 0.0;
}

//  ref_limiter_process on gain * src (gain 1: src itself).
static void
ref_s_process (ref_limiter_t *self, float *dst, const float *src, size_t frames, float gain)
{
    const size_t ch = (size_t) self->channels;
    while (frames > 0) {
        size_t n = frames < LIMITER_BLOCK_FRAMES ? frames : LIMITER_BLOCK_FRAMES;
        ref_s_block (self, dst, src, n, gain);
        dst += n * ch;
        src += n * ch;
        frames -= n;
    }
}

static void
ref_limiter_process (ref_limiter_t *self, float *dst, const float *src, size_t frames)
{
    assert (self && dst && src);
    ref_s_process (self, dst, src, frames, 1.0f);
}

//  Feeds frames of silence; output to dst, or discarded when dst is NULL.
static void
ref_s_drain (ref_limiter_t *self, float *dst, size_t frames)
{
    const size_t ch = (size_t) self->channels;
    while (frames > 0) {
        size_t n = frames < LIMITER_BLOCK_FRAMES ? frames : LIMITER_BLOCK_FRAMES;
        ref_s_block (self, dst, self->zeros, n, 1.0f);
        if (dst)
            dst += n * ch;
        frames -= n;
    }
}

static void
ref_limiter_drain (ref_limiter_t *self, float *dst, size_t frames)
{
    assert (self && dst);
    ref_s_drain (self, dst, frames);
}

//  Feeds frames of gain * src with the output discarded.
static void
ref_s_feed (ref_limiter_t *self, const float *src, size_t frames, float gain)
{
    const size_t ch = (size_t) self->channels;
    while (frames > 0) {
        size_t n = frames < LIMITER_BLOCK_FRAMES ? frames : LIMITER_BLOCK_FRAMES;
        ref_s_block (self, NULL, src, n, gain);
        src += n * ch;
        frames -= n;
    }
}

//  ref_limiter_run from src (gain applied) into dst: dst == src (in place)
//  or no overlap at all.
static void
ref_s_run (ref_limiter_t *self, float *dst, const float *src, size_t frames, float gain)
{
    const size_t ch = (size_t) self->channels;
    const size_t lat = (size_t) self->latency;
    ref_limiter_reset (self);
    if (frames >= lat) {
        //  The first L outputs are the delay line's silence: discarded.
        ref_s_feed (self, src, lat, gain);
        ref_s_process (self, dst, src + lat * ch, frames - lat, gain);
        ref_s_drain (self, dst + (frames - lat) * ch, lat);
    }
    else {
        ref_s_feed (self, src, frames, gain);
        ref_s_drain (self, NULL, lat - frames);
        ref_s_drain (self, dst, frames);
    }
}

static void
ref_limiter_run (ref_limiter_t *self, float *buf, size_t frames)
{
    assert (self && (buf || frames == 0));
    ref_s_run (self, buf, buf, frames, 1.0f);
}

static void
ref_limiter_run_gain (ref_limiter_t *self, float *dst, const float *src, size_t frames, float gain)
{
    assert (self && ((dst && src) || frames == 0));
    ref_s_run (self, dst, src, frames, gain);
}

static void
ref_limiter_stats (const ref_limiter_t *self, dyn_stats_t *stats)
{
    assert (self && stats);
    *stats = self->stats;
}

static void
ref_limiter_set_ops (ref_limiter_t *self, const dsp_ops_t *ops)
{
    assert (self && ops);
    self->ops = ops;
}

#endif
