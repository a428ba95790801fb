/*  Lookahead true-peak limiter (limiter.h): two oversampled detectors
    through ops->tp_peaks (the project meter's filter from truepeak.h and
    the reference meter's, designed here), sliding minimum over the
    lookahead (van Herk / Gil-Werman over the block and the lookahead
    before it), one-pole release, box smoothing, and a delay line of the
    latency. One internal block of LIMITER_BLOCK_FRAMES at a time;
    nothing is allocated after limiter_new.

    Speed: the release, the box's running and lap sums and the
    statistics' product are four recurrences of one operation each per
    frame, run in one loop so that they overlap; the required gain, the
    detector's screen and the delay line run two to eight samples per
    SSE2 (or AVX2) instruction with the same per-element arithmetic
    (double where it was double, no FMA); blocks whose lookahead windows
    hold only 1s skip the sliding minimum, and when the release has also
    settled they skip the release too (g is then exactly 1). Every output
    sample and statistic is the same as the one-frame-at-a-time
    definition in limiter.h gives.  */
#include "worker/dsp/limiter.h"
#include "worker/dsp/truepeak.h"

#include <assert.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined (__x86_64__) && defined (__GNUC__)
#include <immintrin.h>
#endif

#define LIMITER_DET_CHUNK  32      //  frames per detector skip decision

struct limiter_s {
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
    //  Sliding minimum of g_req over W = latency + 1 frames: ext holds
    //  the g_req of the last L frames, then those of the current block;
    //  the block's minima come from van Herk / Gil-Werman over ext (runs
    //  of W aligned at ext[0]), with vh for their suffix and prefix
    //  minima. Skipped when the window holds only 1s.
    double      *ext;           //  latency + LIMITER_BLOCK_FRAMES
    double      *vh_suf;        //  latency + LIMITER_BLOCK_FRAMES
    double      *vh_pre;        //  latency + LIMITER_BLOCK_FRAMES
    uint64_t     ones;          //  trailing frames whose g_req is exactly 1
    double      *hbuf;          //  box: the last N values of h
    double      *gblk;          //  LIMITER_BLOCK_FRAMES: m, then g
    double       hsum;          //  their sum (running; exact once per lap)
    double       lsum;          //  sum of hbuf [0 .. hpos), added in order
    int          hpos;          //  next slot in hbuf
    double       r;             //  release state: 1 - h of the last frame
    uint64_t     t;             //  input frames consumed since reset
    size_t       dpos;          //  delay-line slot of frame t (t mod latency)
    double       g_min;         //  smallest gain applied (for gr_max_db)
    dyn_stats_t  stats;
    //  Sustained reduction: the mean reduction (dB) of every window of
    //  win_frames frames (whole blocks) goes into a histogram of
    //  LIMITER_GR_BIN_DB bins; the window being filled is win_sum / win_n
    int64_t      win_frames;
    double       win_sum;
    int64_t      win_n;
    uint32_t     win_hist [LIMITER_GR_BINS];
    uint32_t     n_win;
};

//  The histogram bin of a window's mean reduction of gr_db dB.
static int
s_gr_bin (double gr_db)
{
    double b = gr_db / LIMITER_GR_BIN_DB;
    return b <= 0.0 ? 0 : b >= LIMITER_GR_BINS - 1 ? LIMITER_GR_BINS - 1 : (int) b;
}

//  The reference meter's interpolator (libebur128's design, after the
//  BS.1770-4 example): a 49-tap Hann-windowed sinc cut off at the input
//  Nyquist frequency, factor 4 below 96 kHz, 2 below 192 kHz, none
//  above. Writes factor * taps coefficients in the dsp_ops layout into
//  coef (room for 4 * 13 or 2 * 25), returns the factor, sets *taps and
//  *delay (the branch-0 delay in frames).
static int
s_ref_design (int rate_hz, double *coef, int *taps, int *delay)
{
    int factor = rate_hz < 96000 ? 4 : rate_hz < 192000 ? 2 : 1;
    if (factor == 1) {
        coef [0] = 1.0;
        *taps = 1;
        *delay = 0;
        return 1;
    }
    const int n = 49;
    *taps = (n + factor - 1) / factor;
    *delay = (n - 1) / 2 / factor;
    for (int k = 0; k < factor * *taps; k++)
        coef [k] = 0.0;
    for (int j = 0; j < n; j++) {
        double m = j - (n - 1) / 2.0;
        //  Exact zeros at the other input samples (sin (k pi) in floating
        //  point is not quite 0): branch 0 is then an exact delay.
        double c = fabs (m) < 1e-9 ? 1.0
                 : (j - (n - 1) / 2) % factor == 0 ? 0.0
                 : sin (m * M_PI / factor) / (m * M_PI / factor);
        c *= 0.5 * (1.0 - cos (2.0 * M_PI * j / (n - 1)));
        coef [(j % factor) * *taps + j / factor] = c;
    }
    return factor;
}

//  Builds the detector: the project's true-peak filter and, when it
//  differs, the reference meter's, both shifted onto one delay and one
//  support of self->taps frames. Returns 0 or -1 (out of memory).
static int
s_detector_init (limiter_t *self, int rate_hz)
{
    const truepeak_filter_t *f = truepeak_filter (rate_hz);
    double ref [4 * 25];
    int ref_taps, ref_delay;
    int ref_phases = s_ref_design (rate_hz, ref, &ref_taps, &ref_delay);
    self->n_filt = ref_phases > 1 ? 2 : 1;
    int d = f->delay_frames > ref_delay ? f->delay_frames : ref_delay;
    int t = f->taps + d - f->delay_frames;
    if (self->n_filt == 2 && ref_taps + d - ref_delay > t)
        t = ref_taps + d - ref_delay;
    self->taps = t;
    self->det_delay = d;
    self->phases [0] = f->phases;
    self->phases [1] = ref_phases;
    for (int k = 0; k < self->n_filt; k++) {
        self->coef [k] = calloc ((size_t) self->phases [k] * t, sizeof (float));
        if (!self->coef [k])
            return -1;
    }
    for (int p = 0; p < f->phases; p++)
        for (int k = 0; k < f->taps; k++)
            self->coef [0][p * t + k + d - f->delay_frames] = f->coef [p * f->taps + k];
    if (self->n_filt == 2)
        for (int p = 0; p < ref_phases; p++)
            for (int k = 0; k < ref_taps; k++)
                self->coef [1][p * t + k + d - ref_delay] = (float) ref [p * ref_taps + k];
    //  Bound on any detector output per unit of input peak: the largest
    //  sum of |coef| over filters and phases (at least 1, branch 0), with
    //  room for the float rounding of a T-term sum (T * 2^-24 << 1e-4).
    double bound = 1.0;
    for (int k = 0; k < self->n_filt; k++)
        for (int p = 0; p < self->phases [k]; p++) {
            double s = 0.0;
            for (int j = 0; j < t; j++)
                s += fabs ((double) self->coef [k][p * t + j]);
            bound = s > bound ? s : bound;
        }
    self->coef_bound = bound * (1.0 + 1e-4);
    //  s_detect reads branch 0 as the sample delayed by d: it must be
    //  exactly that in both filters (it is, by design; a bug otherwise).
    for (int k = 0; k < self->n_filt; k++)
        for (int j = 0; j < t; j++)
            assert (self->coef [k][j] == (j == d ? 1.0f : 0.0f));
    return 0;
}

limiter_t *
limiter_new (const limiter_cfg_t *cfg, int rate_hz, int channels)
{
    if (!cfg || rate_hz < 8000 || rate_hz > 768000
    ||  channels < 1 || channels > LIMITER_MAX_CHANNELS
    ||  !(cfg->ceiling_dbtp >= -40.0 && cfg->ceiling_dbtp <= 0.0)
    ||  !(cfg->lookahead_ms >= 0.5 && cfg->lookahead_ms <= 20.0)
    ||  !(cfg->release_ms >= 1.0 && cfg->release_ms <= 2000.0))
        return NULL;
    limiter_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->channels = channels;
    self->ops = dsp_ops ();
    if (s_detector_init (self, rate_hz))
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
    self->win_frames = (int64_t) llround (LIMITER_GR_WINDOW_S * rate_hz);
    self->peak = calloc (LIMITER_BLOCK_FRAMES, sizeof (float));
    self->tmp = calloc (LIMITER_BLOCK_FRAMES, sizeof (float));
    for (int c = 0; c < channels; c++) {
        self->hist [c] = calloc ((size_t) taps - 1 + LIMITER_BLOCK_FRAMES, sizeof (float));
        if (!self->hist [c])
            goto fail;
    }
    self->zeros = calloc ((size_t) LIMITER_BLOCK_FRAMES * channels, sizeof (float));
    self->delay = calloc ((size_t) lat * channels, sizeof (float));
    self->ext = calloc ((size_t) lat + LIMITER_BLOCK_FRAMES, sizeof (double));
    self->vh_suf = calloc ((size_t) lat + LIMITER_BLOCK_FRAMES, sizeof (double));
    self->vh_pre = calloc ((size_t) lat + LIMITER_BLOCK_FRAMES, sizeof (double));
    self->hbuf = calloc ((size_t) self->box, sizeof (double));
    self->gblk = calloc (LIMITER_BLOCK_FRAMES, sizeof (double));
    if (!self->peak || !self->tmp || !self->zeros || !self->delay || !self->ext
    ||  !self->vh_suf || !self->vh_pre || !self->hbuf || !self->gblk)
        goto fail;
    limiter_reset (self);
    return self;
fail:
    limiter_destroy (&self);
    return NULL;
}

void
limiter_destroy (limiter_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    limiter_t *self = *self_p;
    for (int k = 0; k < 2; k++)
        free (self->coef [k]);
    for (int c = 0; c < LIMITER_MAX_CHANNELS; c++)
        free (self->hist [c]);
    free (self->peak);
    free (self->tmp);
    free (self->zeros);
    free (self->delay);
    free (self->ext);
    free (self->vh_suf);
    free (self->vh_pre);
    free (self->hbuf);
    free (self->gblk);
    free (self);
    *self_p = NULL;
}

int
limiter_latency_frames (const limiter_t *self)
{
    assert (self);
    return self->latency;
}

void
limiter_reset (limiter_t *self)
{
    assert (self);
    for (int c = 0; c < self->channels; c++)
        memset (self->hist [c], 0, (size_t) (self->taps - 1) * sizeof (float));
    memset (self->delay, 0, (size_t) self->latency * self->channels * sizeof (float));
    //  Frames before the start count as needing no reduction (g_req 1).
    for (int k = 0; k < self->latency; k++)
        self->ext [k] = 1.0;
    self->ones = (uint64_t) self->latency;
    self->dpos = 0;
    self->g_min = 1.0;
    for (int k = 0; k < self->box; k++)
        self->hbuf [k] = 1.0;
    self->hsum = self->box;
    self->lsum = 0.0;
    self->hpos = 0;
    self->r = 0.0;
    self->t = 0;
    memset (&self->stats, 0, sizeof self->stats);
    self->win_sum = 0.0;
    self->win_n = 0;
    self->n_win = 0;
    memset (self->win_hist, 0, sizeof self->win_hist);
}

//  LIMITER_BLOCK_FRAMES gains of exactly 1 (GNU range initialiser).
static const double s_ones [LIMITER_BLOCK_FRAMES] = { [0 ... LIMITER_BLOCK_FRAMES - 1] = 1.0 };

//  Four floats (GNU C vector extension: SSE on x86-64, whatever the
//  target has elsewhere); shuffled with __builtin_shufflevector, which
//  gcc (12 and later) and clang both take.
typedef float s_v4f_t __attribute__ ((vector_size (16)));

//  pk[i] = max (pk[i], v[i]); four at a time so that the compiler's
//  straight-line vectoriser can use one packed max per step.
static void
s_max_into (float *restrict pk, const float *restrict v, size_t n)
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
s_abs_max_into (float *restrict pk, const float *restrict x, size_t n, bool first)
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

//  Largest |x[i]| over n samples free of NaN (any order gives the same
//  maximum); 0 for n == 0.
static float
s_abs_peak (const float *x, size_t n)
{
    float m = 0.0f;
    size_t i = 0;
#ifdef __SSE2__
    const __m128 mask = _mm_castsi128_ps (_mm_set1_epi32 (0x7fffffff));
    __m128 v = _mm_setzero_ps ();
    for (; i + 4 <= n; i += 4)
        v = _mm_max_ps (v, _mm_and_ps (_mm_loadu_ps (x + i), mask));
    v = _mm_max_ps (v, _mm_movehl_ps (v, v));
    v = _mm_max_ss (v, _mm_shuffle_ps (v, v, 1));
    m = _mm_cvtss_f32 (v);
#endif
    for (; i < n; i++) {
        float a = fabsf (x [i]);
        m = a > m ? a : m;
    }
    return m;
}

//  Whether any of n samples is NaN.
static bool
s_has_nan (const float *x, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    __m128 u = _mm_setzero_ps ();
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_loadu_ps (x + i);
        u = _mm_or_ps (u, _mm_cmpunord_ps (v, v));
    }
    if (_mm_movemask_ps (u))
        return true;
#endif
    for (; i < n; i++)
        if (x [i] != x [i])
            return true;
    return false;
}

//  The screen through ops->abs_max, one call per chunk and channel over
//  the chunk's support: need[j] is set where the peak is above m_ok or
//  NaN (the kernel's reading of NaN decides).
static void
s_screen_ops (limiter_t *self, size_t n, size_t nch, double m_ok, bool *need)
{
    const int t = self->taps;
    for (size_t c = 0; c < (size_t) self->channels; c++) {
        float *x = self->hist [c] + t - 1;
        for (size_t j = 0; j < nch; j++) {
            if (need [j])
                continue;
            size_t i0 = j * LIMITER_DET_CHUNK;
            size_t i1 = i0 + LIMITER_DET_CHUNK < n ? i0 + LIMITER_DET_CHUNK : n;
            float m = self->ops->abs_max (x + i0 - (t - 1), i1 - i0 + (size_t) (t - 1));
            //  NaN peaks take the exact path
            if (!((double) m <= m_ok))
                need [j] = true;
        }
    }
}

//  The detector's screen without a kernel call per chunk and channel:
//  need[j] = whether the largest |x| over the support of chunk j (its
//  frames and the T - 1 before), over all channels, is above m_ok. The
//  same answer as ops->abs_max over each support, for samples free of
//  NaN (maxima are exact; the kernels differ only in how they treat
//  NaN): returns false, need untouched, when a NaN is present. Each
//  chunk's own maximum is taken once; only where it is under m_ok but
//  its support reaching into the chunk before may not be are the T - 1
//  frames before it read again. chunk_max, when not NULL, holds the
//  chunks' maxima over all channels, from samples known free of NaN.
static bool
s_screen (limiter_t *self, size_t n, size_t nch, double m_ok, bool *need,
          const float *chunk_max)
{
    const size_t ch = (size_t) self->channels;
    const size_t h = (size_t) self->taps - 1;
    float cmax [LIMITER_BLOCK_FRAMES / LIMITER_DET_CHUNK + 1];
    float prev = 0.0f;          //  the history's maximum: chunk 0's support
    for (size_t c = 0; c < ch; c++)
        if (s_has_nan (self->hist [c], chunk_max ? h : h + n))
            return false;
    for (size_t j = 0; j < nch; j++)
        cmax [j] = chunk_max ? chunk_max [j] : 0.0f;
    for (size_t c = 0; c < ch; c++) {
        const float *x = self->hist [c] + h;
        float hm = s_abs_peak (x - h, h);
        prev = hm > prev ? hm : prev;
        for (size_t j = 0; j < nch && !chunk_max; j++) {
            size_t i0 = j * LIMITER_DET_CHUNK;
            size_t i1 = i0 + LIMITER_DET_CHUNK < n ? i0 + LIMITER_DET_CHUNK : n;
            float m = s_abs_peak (x + i0, i1 - i0);
            cmax [j] = m > cmax [j] ? m : cmax [j];
        }
    }
    for (size_t j = 0; j < nch; j++) {
        //  prev covers the T - 1 frames before chunk j (T - 1 <= one chunk)
        float sup = prev > cmax [j] ? prev : cmax [j];
        if ((double) sup <= m_ok)
            need [j] = false;
        else if ((double) cmax [j] > m_ok)
            need [j] = true;
        else {
            float a = 0.0f;
            for (size_t c = 0; c < ch; c++) {
                float m = s_abs_peak (self->hist [c] + j * LIMITER_DET_CHUNK, h);
                a = m > a ? m : a;
            }
            need [j] = (double) a > m_ok;
        }
        prev = cmax [j];
    }
    return true;
}

#ifdef __SSE2__
//  De-interleaves n stereo frames of src times gain (float products)
//  into x0 and x1, four frames per step, and takes on the way each
//  chunk's largest |x| over both channels into cmax (exact when no
//  sample is NaN); sets *nan when a sample is NaN.
static void
s_split_stereo (const float *restrict src, size_t n, float gain, float *restrict x0,
                float *restrict x1, float *restrict cmax, bool *nan)
{
    const __m128 g = _mm_set1_ps (gain);
    const __m128 mask = _mm_castsi128_ps (_mm_set1_epi32 (0x7fffffff));
    __m128 un = _mm_setzero_ps ();
    size_t j = 0;
    for (size_t i0 = 0; i0 < n; i0 += LIMITER_DET_CHUNK, j++) {
        size_t i1 = i0 + LIMITER_DET_CHUNK < n ? i0 + LIMITER_DET_CHUNK : n;
        __m128 mx = _mm_setzero_ps ();
        size_t i = i0;
        for (; i + 4 <= i1; i += 4) {
            __m128 a = _mm_loadu_ps (src + 2 * i), b = _mm_loadu_ps (src + 2 * i + 4);
            __m128 l = _mm_mul_ps (_mm_shuffle_ps (a, b, _MM_SHUFFLE (2, 0, 2, 0)), g);
            __m128 r = _mm_mul_ps (_mm_shuffle_ps (a, b, _MM_SHUFFLE (3, 1, 3, 1)), g);
            _mm_storeu_ps (x0 + i, l);
            _mm_storeu_ps (x1 + i, r);
            mx = _mm_max_ps (mx, _mm_max_ps (_mm_and_ps (l, mask), _mm_and_ps (r, mask)));
            un = _mm_or_ps (un, _mm_cmpunord_ps (l, r));
        }
        mx = _mm_max_ps (mx, _mm_movehl_ps (mx, mx));
        mx = _mm_max_ss (mx, _mm_shuffle_ps (mx, mx, 1));
        float m = _mm_cvtss_f32 (mx);
        for (; i < i1; i++) {
            float l = src [2 * i] * gain, r = src [2 * i + 1] * gain;
            x0 [i] = l;
            x1 [i] = r;
            if (l != l || r != r)
                *nan = true;
            m = fabsf (l) > m ? fabsf (l) : m;
            m = fabsf (r) > m ? fabsf (r) : m;
        }
        cmax [j] = m;
    }
    if (_mm_movemask_ps (un))
        *nan = true;
}
#endif

//  Detector for n frames of src: peak[i] = largest |interpolated value|
//  over channels, filters and phases whose support is frames i - T + 1
//  .. i; keeps each channel's last T - 1 samples as history. Branch 0 of
//  both filters is an exact delay of self->det_delay frames (checked in
//  s_detector_init), so it is read as the delayed sample itself and the
//  FIR kernel runs branches 1 .. phases - 1 only. Chunks of
//  LIMITER_DET_CHUNK frames whose support peaks M satisfy M * coef_bound
//  <= ceiling cannot need any reduction: their peak[] is set to 0
//  instead (the same g_req of 1 as the exact value would give). Returns
//  whether any chunk ran the filters (if not, peak[] is all 0).
static bool
s_detect (limiter_t *self, const float *src, size_t n, float gain)
{
    const size_t ch = (size_t) self->channels;
    const int t = self->taps;
    const size_t nch = (n + LIMITER_DET_CHUNK - 1) / LIMITER_DET_CHUNK;
    bool need [LIMITER_BLOCK_FRAMES / LIMITER_DET_CHUNK + 1];
    //  largest input peak that is sure to stay at or under the ceiling
    const double m_ok = self->ceiling_lin / self->coef_bound;
    for (size_t j = 0; j < nch; j++)
        need [j] = false;
    float cmax [LIMITER_BLOCK_FRAMES / LIMITER_DET_CHUNK + 1];
    const float *chunk_max = NULL;
    bool nan = false;
    if (ch == 2) {
        float *restrict x0 = self->hist [0] + t - 1, *restrict x1 = self->hist [1] + t - 1;
#ifdef __SSE2__
        s_split_stereo (src, n, gain, x0, x1, cmax, &nan);
        chunk_max = cmax;
#else
        size_t i = 0;
        //  four frames at a time: two loads, two shuffles, two stores
        for (; i + 4 <= n; i += 4) {
            s_v4f_t a, b;
            memcpy (&a, src + 2 * i, sizeof a);
            memcpy (&b, src + 2 * i + 4, sizeof b);
            s_v4f_t l = __builtin_shufflevector (a, b, 0, 2, 4, 6) * gain;
            s_v4f_t r = __builtin_shufflevector (a, b, 1, 3, 5, 7) * gain;
            memcpy (x0 + i, &l, sizeof l);
            memcpy (x1 + i, &r, sizeof r);
        }
        for (; i < n; i++) {
            x0 [i] = src [2 * i] * gain;
            x1 [i] = src [2 * i + 1] * gain;
        }
#endif
    }
    else
        for (size_t c = 0; c < ch; c++) {
            float *x = self->hist [c] + t - 1;
            for (size_t i = 0; i < n; i++)
                x [i] = src [i * ch + c] * gain;
        }
    if (nan || t - 1 > LIMITER_DET_CHUNK || !s_screen (self, n, nch, m_ok, need, chunk_max))
        s_screen_ops (self, n, nch, m_ok, need);
    for (size_t j = 0; j < nch; j++) {
        size_t i0 = j * LIMITER_DET_CHUNK;
        size_t i1 = i0 + LIMITER_DET_CHUNK < n ? i0 + LIMITER_DET_CHUNK : n;
        if (!need [j]) {
            memset (self->peak + i0, 0, (i1 - i0) * sizeof (float));
            continue;
        }
        //  a run of chunks that need the detector: [i0, i1)
        while (j + 1 < nch && need [j + 1]) {
            j++;
            i1 = j * LIMITER_DET_CHUNK + LIMITER_DET_CHUNK < n
               ? j * LIMITER_DET_CHUNK + LIMITER_DET_CHUNK : n;
        }
        for (size_t c = 0; c < ch; c++) {
            float *x = self->hist [c] + t - 1;
            s_abs_max_into (self->peak + i0, x + i0 - self->det_delay, i1 - i0, c == 0);
            for (int k = 0; k < self->n_filt; k++)
                if (self->phases [k] > 1) {
                    self->ops->tp_peaks (x + i0, i1 - i0, self->coef [k] + t,
                                         self->phases [k] - 1, t, self->tmp);
                    s_max_into (self->peak + i0, self->tmp, i1 - i0);
                }
        }
    }
    if (t > 1)
        for (size_t c = 0; c < ch; c++)
            memmove (self->hist [c], self->hist [c] + n, (size_t) (t - 1) * sizeof (float));
    bool any = false;
    for (size_t j = 0; j < nch; j++)
        any |= need [j];
    return any;
}

//  1  Required gain of n detector peaks into g: c / p over the ceiling c,
//     exactly 1 at or under it (and for NaN). Returns whether any frame
//     asks for less than 1. Four frames per compare; the division only
//     where a frame is over.
static bool
s_required_gain (const float *restrict pk, size_t n, double c, double *restrict g)
{
    bool any = false;
    size_t i = 0;
#ifdef __SSE2__
    const __m128d cc = _mm_set1_pd (c), one = _mm_set1_pd (1.0);
    for (; i + 4 <= n; i += 4) {
        __m128 p = _mm_loadu_ps (pk + i);
        __m128d lo = _mm_cvtps_pd (p), hi = _mm_cvtps_pd (_mm_movehl_ps (p, p));
        int over = _mm_movemask_pd (_mm_cmpgt_pd (lo, cc))
                 | _mm_movemask_pd (_mm_cmpgt_pd (hi, cc)) << 2;
        if (!over) {
            _mm_storeu_pd (g + i, one);
            _mm_storeu_pd (g + i + 2, one);
            continue;
        }
        any = true;
        for (size_t k = i; k < i + 4; k++) {
            double v = pk [k];
            g [k] = v > c ? c / v : 1.0;
        }
    }
#endif
    for (; i < n; i++) {
        double v = pk [i];
        bool over = v > c;
        g [i] = over ? c / v : 1.0;
        any |= over;
    }
    return any;
}

//  2  Sliding minimum: m[i] = min (x[i .. i + L]) for i in [0, n), x
//     holding n + L values (van Herk / Gil-Werman: runs of W = L + 1
//     aligned at x[0]; a window is the suffix of one run and the prefix
//     of the next). Minima are exact, so any order gives the same m.
static void
s_sliding_min (const double *restrict x, size_t n, size_t lat, double *restrict suf,
               double *restrict pre, double *restrict m)
{
    const size_t w = lat + 1, len = n + lat;
    //  suffix minima of the runs starting before n (each lies inside x)
    for (size_t q = 0; q < n; q += w) {
        size_t k = q + w - 1;
        double s = x [k];
        suf [k] = s;
        while (k-- > q) {
            s = x [k] < s ? x [k] : s;
            suf [k] = s;
        }
    }
    //  prefix minima of the runs from the second on, up to x[len - 1]
    for (size_t q = w; q < len; q += w) {
        size_t end = q + w < len ? q + w : len;
        double p = x [q];
        pre [q] = p;
        for (size_t k = q + 1; k < end; k++) {
            p = x [k] < p ? x [k] : p;
            pre [k] = p;
        }
    }
    size_t r = 0;               //  i mod w
    for (size_t i = 0; i < n; i++) {
        double a = suf [i], b = pre [i + lat];
        m [i] = r == 0 ? a : a < b ? a : b;
        r = r + 1 == w ? 0 : r + 1;
    }
}

//  3  Release toward 1 and box smoothing over frames [i0, i1) of gb (m
//     in, g out; with ones, every m is 1 and gb is only written), with
//     the statistics of the gains when stats is true.
//     Per frame, in the order of the original per-pass code: r = r a_R,
//     raised to 1 - m where m < 1 (where m is 1, max (r a_R, 0) is r a_R
//     itself: one multiply), h = 1 - r, the running sum of the box
//     updated by h - (the value h replaces), and the lap's sum of h in
//     order (at the lap's end it is exactly the sum over hbuf from slot 0
//     that replaces the running one); g exactly 1 when the sum reaches N.
//     The statistics multiply the gains under 1 and fold the product
//     into the sum of dB before it can underflow. Four independent
//     recurrences (r, the running sum, the lap sum, the product): one
//     loop lets them overlap. Inlined at each call, so that stats and
//     ones are constants there.
static inline __attribute__ ((always_inline)) void
s_release (limiter_t *self, double *restrict gb, size_t i0, size_t i1, bool stats,
           bool ones, double *g_prod_p, double *gr_sum_p, double *g_min_p)
{
    const double a_rel = self->a_rel;
    const int box = self->box;
    const double box_d = box, inv_box = 1.0 / box;
    double r = self->r, hsum = self->hsum, lsum = self->lsum;
    int hpos = self->hpos;
    double g_prod = *g_prod_p, gr_sum = *gr_sum_p, g_min = *g_min_p;
    //  One frame: m in, g out. m is in [0, 1]: m < 1 is m != 1.
#define S_RELEASE_STEP(m_, hb_, g_, lap_end_) do {                      \
        r *= a_rel;                                                     \
        if ((m_) < 1.0) {                                               \
            double need_ = 1.0 - (m_);                                  \
            r = need_ > r ? need_ : r;                                  \
        }                                                               \
        double h_ = 1.0 - r;                                            \
        hsum += h_ - *(hb_);                                            \
        *(hb_) = h_;                                                    \
        lsum += h_;                                                     \
        if (lap_end_) {                                                 \
            hsum = lsum;                                                \
            lsum = 0.0;                                                 \
        }                                                               \
        g_ = hsum >= box_d ? 1.0 : hsum * inv_box;                      \
        if (stats) {                                                    \
            /* g at or above 1 leaves the product (times 1) and the */ \
            /* minimum (at most 1) as they are */                       \
            double gm_ = g_ < 1.0 ? g_ : 1.0;                           \
            g_prod *= gm_;                                              \
            if (g_prod < 1e-200) {                                      \
                gr_sum -= 20.0 * log10 (g_prod);                        \
                g_prod = 1.0;                                           \
            }                                                           \
            g_min = gm_ < g_min ? gm_ : g_min;                          \
        }                                                               \
    } while (0)
    for (size_t i = i0; i < i1; ) {
        //  frames up to the lap's end (slot box - 1), whose step replaces
        //  the running sum by the lap's
        size_t left = (size_t) (box - hpos);
        size_t cnt = i1 - i < left ? i1 - i : left;
        bool lap = cnt == left;
        double *restrict hb = self->hbuf + hpos;
        double *restrict gi = gb + i;
        double g;
        for (size_t k = 0; k + lap < cnt; k++) {
            S_RELEASE_STEP (ones ? 1.0 : gi [k], hb + k, g, false);
            gi [k] = g;
        }
        if (lap) {
            S_RELEASE_STEP (ones ? 1.0 : gi [cnt - 1], hb + cnt - 1, g, true);
            gi [cnt - 1] = g;
        }
        hpos = lap ? 0 : hpos + (int) cnt;
        i += cnt;
    }
#undef S_RELEASE_STEP
    self->r = r;
    self->hsum = hsum;
    self->lsum = lsum;
    self->hpos = hpos;
    *g_prod_p = g_prod;
    *gr_sum_p = gr_sum;
    *g_min_p = g_min;
}

//  Whether the release has settled: h = 1 - r is exactly 1, every h in
//  the box is 1 and the box's sum gives g = 1. While m stays 1 the state
//  then stays so (r only shrinks; its value no longer matters: any need
//  1 - m >= 2^-53 is above r a_R <= 2^-54), and every g is exactly 1.
static bool
s_settled (const limiter_t *self)
{
    if (!(1.0 - self->r == 1.0 && self->hsum >= (double) self->box))
        return false;
    for (int k = 0; k < self->box; k++)
        if (self->hbuf [k] != 1.0)
            return false;
    return true;
}

#if defined (__x86_64__) && defined (__GNUC__)
//  The stereo delay line's output step with AVX2 (used when the kernel
//  table is at AVX2, so the CPU has it), four frames at a time: y = g v
//  in double rounded to float, then d = x gain in float; the same
//  arithmetic as the SSE2 and scalar steps (no FMA: target avx2 alone).
//  Each frame's samples are read before its output is written. Returns
//  the frames done (a multiple of 4).
__attribute__ ((target ("avx2"))) static size_t
s_delay_stereo_avx2 (float *restrict d, const float *x, float *y, const double *restrict g,
                     size_t run, float gain)
{
    const __m256 gv = _mm256_set1_ps (gain);
    size_t j = 0;
    for (; j + 4 <= run; j += 4) {
        __m256 v = _mm256_loadu_ps (d + 2 * j);
        __m256 xs = _mm256_mul_ps (_mm256_loadu_ps (x + 2 * j), gv);
        __m256d g4 = _mm256_loadu_pd (g + j);
        __m256d lo = _mm256_mul_pd (_mm256_cvtps_pd (_mm256_castps256_ps128 (v)),
                                    _mm256_permute4x64_pd (g4, 0x50));
        __m256d hi = _mm256_mul_pd (_mm256_cvtps_pd (_mm256_extractf128_ps (v, 1)),
                                    _mm256_permute4x64_pd (g4, 0xfa));
        _mm256_storeu_ps (d + 2 * j, xs);
        _mm256_storeu_ps (y + 2 * j, _mm256_insertf128_ps (
            _mm256_castps128_ps256 (_mm256_cvtpd_ps (lo)), _mm256_cvtpd_ps (hi), 1));
    }
    return j;
}
#endif

//  4  Delay line for n frames from src: out frame t - L (its stored
//     sample times g, in double, rounded to float) to dst unless NULL,
//     then frame t (src times gain, in float) into its slot.
static void
s_delay (limiter_t *self, float *dst, const float *src, size_t n, float gain,
         const double *restrict gb)
{
    const size_t ch = (size_t) self->channels;
    const size_t lat = (size_t) self->latency;
    size_t dpos = self->dpos;
    for (size_t i = 0; i < n; ) {
        //  frames up to the ring's end: slots dpos .. dpos + run - 1
        size_t run = lat - dpos;
        if (run > n - i)
            run = n - i;
        float *d = self->delay + dpos * ch;
        const float *x = src + i * ch;
        const double *g = gb + i;
        if (!dst) {
            for (size_t k = 0; k < run * ch; k++)
                d [k] = x [k] * gain;
        }
        else {
            float *y = dst + i * ch;
            size_t j = 0;
#ifdef __SSE2__
            //  each frame's samples are read before its output is
            //  written (dst <= src may share the buffer)
            const __m128 gv = _mm_set1_ps (gain);
#if defined (__x86_64__) && defined (__GNUC__)
            if (ch == 2 && self->ops->isa >= DSP_ISA_AVX2)
                j = s_delay_stereo_avx2 (d, x, y, g, run, gain);
#endif
            if (ch == 2)
                for (; j + 2 <= run; j += 2) {
                    __m128 v = _mm_loadu_ps (d + 2 * j);
                    __m128 xs = _mm_mul_ps (_mm_loadu_ps (x + 2 * j), gv);
                    __m128d g2 = _mm_loadu_pd (g + j);
                    __m128d lo = _mm_mul_pd (_mm_cvtps_pd (v), _mm_unpacklo_pd (g2, g2));
                    __m128d hi = _mm_mul_pd (_mm_cvtps_pd (_mm_movehl_ps (v, v)),
                                             _mm_unpackhi_pd (g2, g2));
                    _mm_storeu_ps (d + 2 * j, xs);
                    _mm_storeu_ps (y + 2 * j, _mm_movelh_ps (_mm_cvtpd_ps (lo),
                                                             _mm_cvtpd_ps (hi)));
                }
            else if (ch == 1)
                for (; j + 4 <= run; j += 4) {
                    __m128 v = _mm_loadu_ps (d + j);
                    __m128 xs = _mm_mul_ps (_mm_loadu_ps (x + j), gv);
                    __m128d lo = _mm_mul_pd (_mm_cvtps_pd (v), _mm_loadu_pd (g + j));
                    __m128d hi = _mm_mul_pd (_mm_cvtps_pd (_mm_movehl_ps (v, v)),
                                             _mm_loadu_pd (g + j + 2));
                    _mm_storeu_ps (d + j, xs);
                    _mm_storeu_ps (y + j, _mm_movelh_ps (_mm_cvtpd_ps (lo),
                                                         _mm_cvtpd_ps (hi)));
                }
#endif
            for (; j < run; j++)
                for (size_t k = 0; k < ch; k++) {
                    float v = d [j * ch + k];
                    d [j * ch + k] = x [j * ch + k] * gain;
                    y [j * ch + k] = (float) (g [j] * v);
                }
        }
        dpos += run;
        if (dpos == lat)
            dpos = 0;
        i += run;
    }
    self->dpos = dpos;
}

//  Core: n frames from src (interleaved) through the detector, gain and
//  delay line; output to dst unless dst is NULL (discarded). dst <= src
//  in the same buffer is safe: each frame is read before its output slot,
//  which lies at or before it, is written. Stages: 1 required gain, 2
//  sliding minimum, 3 release, box smoothing and statistics, 4 delay
//  line. Stages 1 to 3 are skipped (m and g exactly 1, state unchanged
//  but for positions) where the detector found nothing over the ceiling
//  for the whole window and the release has settled.
static void
s_block (limiter_t *self, float *dst, const float *src, size_t n, float gain)
{
    const size_t lat = (size_t) self->latency;
    double *restrict gb = self->gblk;
    double *restrict ext = self->ext;
    bool low = false;           //  some g_req of the block under 1
    if (s_detect (self, src, n, gain))
        low = s_required_gain (self->peak, n, self->ceiling_lin, ext + lat);
    bool all_ones = !low && self->ones >= lat;
    if (all_ones) {
        //  the window of every frame holds only 1s: m = 1, and ext's
        //  last L frames (all 1) are already in place
        self->ones += n;
    }
    else {
        if (!low)
            memcpy (ext + lat, s_ones, n * sizeof (double));
        s_sliding_min (ext, n, lat, self->vh_suf, self->vh_pre, gb);
        size_t k = n;
        while (low && k > 0 && ext [lat + k - 1] == 1.0)
            k--;
        self->ones = low ? n - k : self->ones + n;
        memmove (ext, ext + n, lat * sizeof (double));
    }

    //  3  statistics of the frames past the first L (the delay line's
    //     silence): mean reduction in dB = -20 log10 of the product of
    //     the gains
    uint64_t t = self->t;
    size_t i0 = t >= lat ? 0 : (size_t) (lat - t) < n ? (size_t) (lat - t) : n;
    double g_prod = 1.0, gr_sum = 0.0, g_min = self->g_min;
    const double *g = gb;       //  the block's gains
    if (all_ones && s_settled (self)) {
        //  g = 1 throughout: h stays 1, the box's slots stay 1
        int hpos = self->hpos + (int) (n % (size_t) self->box);
        if ((size_t) self->hpos + n >= (size_t) self->box)
            self->hsum = self->box;
        self->hpos = hpos >= self->box ? hpos - self->box : hpos;
        self->lsum = self->hpos;
        self->r = 0.0;
        g = s_ones;
    }
    else if (all_ones) {
        //  m = 1 throughout: the release alone (one multiply per frame)
        s_release (self, gb, 0, i0, false, true, &g_prod, &gr_sum, &g_min);
        s_release (self, gb, i0, n, true, true, &g_prod, &gr_sum, &g_min);
    }
    else {
        s_release (self, gb, 0, i0, false, false, &g_prod, &gr_sum, &g_min);
        s_release (self, gb, i0, n, true, false, &g_prod, &gr_sum, &g_min);
    }
    self->t = t + n;
    self->g_min = g_min;
    double blk_db = gr_sum - 20.0 * log10 (g_prod);
    self->stats.gr_sum_db += blk_db;
    self->stats.frames += n - i0;
    self->win_sum += blk_db;
    self->win_n += (int64_t) (n - i0);
    if (self->win_n >= self->win_frames) {
        self->win_hist [s_gr_bin (self->win_sum / (double) self->win_n)]++;
        self->n_win++;
        self->win_sum = 0.0;
        self->win_n = 0;
    }
    self->stats.gr_max_db = g_min < 1.0 ? -20.0 * log10 (g_min) : 0.0;

    s_delay (self, dst, src, n, gain, g);
}

//  limiter_process on gain * src (gain 1: src itself).
static void
s_process (limiter_t *self, float *dst, const float *src, size_t frames, float gain)
{
    const size_t ch = (size_t) self->channels;
    while (frames > 0) {
        size_t n = frames < LIMITER_BLOCK_FRAMES ? frames : LIMITER_BLOCK_FRAMES;
        s_block (self, dst, src, n, gain);
        dst += n * ch;
        src += n * ch;
        frames -= n;
    }
}

void
limiter_process (limiter_t *self, float *dst, const float *src, size_t frames)
{
    assert (self && dst && src);
    s_process (self, dst, src, frames, 1.0f);
}

//  Feeds frames of silence; output to dst, or discarded when dst is NULL.
static void
s_drain (limiter_t *self, float *dst, size_t frames)
{
    const size_t ch = (size_t) self->channels;
    while (frames > 0) {
        size_t n = frames < LIMITER_BLOCK_FRAMES ? frames : LIMITER_BLOCK_FRAMES;
        s_block (self, dst, self->zeros, n, 1.0f);
        if (dst)
            dst += n * ch;
        frames -= n;
    }
}

void
limiter_drain (limiter_t *self, float *dst, size_t frames)
{
    assert (self && dst);
    s_drain (self, dst, frames);
}

//  Feeds frames of gain * src with the output discarded.
static void
s_feed (limiter_t *self, const float *src, size_t frames, float gain)
{
    const size_t ch = (size_t) self->channels;
    while (frames > 0) {
        size_t n = frames < LIMITER_BLOCK_FRAMES ? frames : LIMITER_BLOCK_FRAMES;
        s_block (self, NULL, src, n, gain);
        src += n * ch;
        frames -= n;
    }
}

//  limiter_run from src (gain applied) into dst: dst == src (in place)
//  or no overlap at all.
static void
s_run (limiter_t *self, float *dst, const float *src, size_t frames, float gain)
{
    const size_t ch = (size_t) self->channels;
    const size_t lat = (size_t) self->latency;
    limiter_reset (self);
    if (frames >= lat) {
        //  The first L outputs are the delay line's silence: discarded.
        s_feed (self, src, lat, gain);
        s_process (self, dst, src + lat * ch, frames - lat, gain);
        s_drain (self, dst + (frames - lat) * ch, lat);
    }
    else {
        s_feed (self, src, frames, gain);
        s_drain (self, NULL, lat - frames);
        s_drain (self, dst, frames);
    }
}

void
limiter_run (limiter_t *self, float *buf, size_t frames)
{
    assert (self && (buf || frames == 0));
    s_run (self, buf, buf, frames, 1.0f);
}

void
limiter_run_gain (limiter_t *self, float *dst, const float *src, size_t frames, float gain)
{
    assert (self && ((dst && src) || frames == 0));
    s_run (self, dst, src, frames, gain);
}

void
limiter_run_gain_part (limiter_t *self, float *dst, const float *src, size_t frames,
                       size_t from, size_t n, float gain)
{
    assert (self && ((dst && src) || frames == 0));
    assert (from + n <= frames);
    const size_t ch = (size_t) self->channels;
    const size_t lat = (size_t) self->latency;
    if (frames < lat) {
        assert (from == 0 && n == frames);
        s_run (self, dst, src, frames, gain);
        return;
    }
    //  as s_run, one part at a time: the feeding of the first L input
    //  frames with the first part, the drain with the last
    if (from == 0) {
        limiter_reset (self);
        s_feed (self, src, lat, gain);
    }
    const size_t body = frames - lat;
    size_t m = 0;
    if (from < body) {
        m = from + n < body ? n : body - from;
        assert (from + n == frames || m % LIMITER_BLOCK_FRAMES == 0);
        s_process (self, dst, src + (from + lat) * ch, m, gain);
    }
    if (from + n > body) {
        assert (from + n == frames && from <= body);
        s_drain (self, dst + m * ch, lat);
    }
}

double
limiter_gr_sustained_db (const limiter_t *self)
{
    assert (self);
    //  the window being filled counts when it is at least half a window
    //  long, or when no window is complete (a short signal)
    uint32_t n = self->n_win;
    int open_bin = -1;
    if (self->win_n > 0 && (2 * self->win_n >= self->win_frames || n == 0)) {
        open_bin = s_gr_bin (self->win_sum / (double) self->win_n);
        n++;
    }
    if (n == 0)
        return 0.0;
    //  the smallest reduction that at least LIMITER_GR_PERCENTILE of the
    //  windows do not exceed
    uint64_t rank = (uint64_t) ceil (LIMITER_GR_PERCENTILE / 100.0 * n);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int b = 0; b < LIMITER_GR_BINS; b++) {
        seen += self->win_hist [b] + (b == open_bin);
        if (seen >= rank)
            return (b + 0.5) * LIMITER_GR_BIN_DB;
    }
    return (LIMITER_GR_BINS - 0.5) * LIMITER_GR_BIN_DB;
}

void
limiter_stats (const limiter_t *self, dyn_stats_t *stats)
{
    assert (self && stats);
    *stats = self->stats;
}

void
limiter_set_ops (limiter_t *self, const dsp_ops_t *ops)
{
    assert (self && ops);
    self->ops = ops;
}

void
limiter_detector (const limiter_t *self, limiter_detector_t *det)
{
    assert (self && det);
    det->n_filt = self->n_filt;
    det->taps = self->taps;
    det->det_delay = self->det_delay;
    det->coef_bound = self->coef_bound;
    for (int k = 0; k < 2; k++) {
        det->phases [k] = self->phases [k];
        det->coef [k] = k < self->n_filt ? self->coef [k] : NULL;
    }
}
