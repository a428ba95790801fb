/*  Track analysis: libebur128 loudness fed in 100 ms hops, BS.1770-4
    gating blocks formed from hop energies, the oversampled true-peak meter,
    a gated long-term 1/3-octave spectrum (fftw3f) and sample statistics.
    The method and every unit are described in analysis.h.

    Passes over the audio: one for sample statistics (peak, DC, clipping,
    silence, non-finite values), one through libebur128, one through the
    true-peak meter, and one FFT per hop and channel, only for the frames
    that lie in blocks above the gates. With two threads, libebur128 runs
    on its own and follows the frames as the caller decodes them
    (analysis_begin / analysis_feed / analysis_end); the other passes run
    once the track is complete.  */
#include "worker/analysis.h"
#include "worker/dsp/cpu.h"
#include "worker/dsp/truepeak.h"
#include "common/err.h"

#include <ebur128.h>
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CLIP_LEVEL       0.99999f   //  measure.h: |x| at or beyond this is clipped
#define S_ABS_GATE_LUFS    -70.0      //  BS.1770-4 absolute gate
#define S_REL_GATE_LU      -10.0      //  BS.1770-4 relative gate
#define S_FULL_SCALE_SINE  0.5        //  mean square of a 0 dBFS sine: the 0 dB spectrum reference

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

//  Sums M^2 and S^2 over the frames (stereo only); see analysis.h.
void
analysis_mid_side (const float *x, int64_t frames, int channels,
                    double *mid_e, double *side_e)
{
    *mid_e = 0.0;
    *side_e = 0.0;
    if (channels != 2)
        return;
    double m2 = 0.0, s2 = 0.0;
    for (int64_t i = 0; i < frames; i++) {
        double l = x [2 * i], r = x [2 * i + 1];
        double m = 0.5 * (l + r), s = 0.5 * (l - r);
        m2 += m * m;
        s2 += s * s;
    }
    *mid_e = m2;
    *side_e = s2;
}

//  The side/mid ratio in dB from the two energies; see analysis.h.
double
analysis_side_mid_db (double mid_e, double side_e)
{
    if (!(mid_e > 0.0))
        return side_e > 0.0 ? HUGE_VAL : NAN;
    return side_e > 0.0 ? 10.0 * log10 (side_e / mid_e) : -HUGE_VAL;
}

//  Sample statistics: sample peak, DC, clipped count, leading/trailing
//  silence. Returns 0 or MF_ERR_FORMAT on a non-finite sample (err names
//  it). A NaN or infinity makes a channel sum non-finite, which is how it
//  is found without a test per sample.
static int
s_sample_stats (const audio_t *a, double silence_lin, measure_t *out,
                char *err, size_t err_size)
{
    const int ch = a->channels;
    const size_t frames = (size_t) a->frames;
    const size_t n = frames * (size_t) ch;
    const float *x = a->data;
    double sum [MEASURE_MAX_CH] = { 0 };
    float peak = 0.0f;
    int64_t clipped = 0;

    //  the vectorised part: whole multiples of 8 samples when channels divides 8
    size_t done = 0;
    if (S_STATS_LANES % ch == 0) {
        done = n / S_STATS_LANES * S_STATS_LANES;
        double lsum [S_STATS_LANES] = { 0 };
        float lpeak [S_STATS_LANES] = { 0 };
        int64_t lclip [S_STATS_LANES] = { 0 };
        s_lane_stats (x, done, lsum, lpeak, lclip);
        for (int j = 0; j < S_STATS_LANES; j++) {
            sum [j % ch] += lsum [j];
            peak = lpeak [j] > peak ? lpeak [j] : peak;
            clipped += lclip [j];
        }
    }
    for (size_t i = done; i < n; i++) {
        float v = x [i];
        float m = fabsf (v);
        sum [i % (size_t) ch] += v;
        peak = m > peak ? m : peak;
        clipped += m >= S_CLIP_LEVEL;
    }
    bool finite = true;
    for (int c = 0; c < ch; c++)
        finite = finite && isfinite (sum [c]);
    if (!finite || !isfinite (peak))
        for (size_t i = 0; i < n; i++)
            if (!isfinite (x [i])) {
                snprintf (err, err_size, "frame %zu of channel %zu is %s; cannot measure",
                          i / (size_t) ch, i % (size_t) ch + 1,
                          isnan (x [i]) ? "NaN" : "infinite");
                return MF_ERR_FORMAT;
            }
    double dc = 0.0;
    for (int c = 0; c < ch; c++) {
        double m = fabs (sum [c] / (double) frames);
        if (m > dc)
            dc = m;
    }
    out->sample_peak_dbfs = s_db (peak);
    out->dc_offset_dbfs = s_db (dc);
    double mid_e, side_e;
    analysis_mid_side (x, a->frames, ch, &mid_e, &side_e);
    out->side_mid_db = ch == 2 ? analysis_side_mid_db (mid_e, side_e) : NAN;
    out->clipped_samples = clipped;

    //  silence: scan in from both ends for the first frame with a loud sample
    const float thr = (float) silence_lin;
    size_t first = n;
    for (size_t i = 0; i < n; i++)
        if (fabsf (x [i]) >= thr) {
            first = i;
            break;
        }
    if (first == n) {
        out->lead_silence_frames = (int64_t) frames;
        out->trail_silence_frames = (int64_t) frames;
        return 0;
    }
    size_t last = first;
    for (size_t i = n; i-- > first; )
        if (fabsf (x [i]) >= thr) {
            last = i;
            break;
        }
    out->lead_silence_frames = (int64_t) (first / (size_t) ch);
    out->trail_silence_frames = (int64_t) (frames - 1 - last / (size_t) ch);
    return 0;
}

//  Frames decoded so far, published by the thread that decodes to the
//  loudness thread: avail only grows; done says it is final.
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    _Atomic size_t  avail;
    _Atomic bool    done;
} s_progress_t;

//  Waits until at least need frames are decoded or decoding is over;
//  returns the frames decoded and sets *done when that count is final.
static size_t
s_progress_wait (s_progress_t *p, size_t need, bool *done)
{
    bool d = atomic_load_explicit (&p->done, memory_order_acquire);
    size_t n = atomic_load_explicit (&p->avail, memory_order_acquire);
    if (n < need && !d) {
        pthread_mutex_lock (&p->lock);
        for (;;) {
            d = atomic_load_explicit (&p->done, memory_order_acquire);
            n = atomic_load_explicit (&p->avail, memory_order_acquire);
            if (n >= need || d)
                break;
            pthread_cond_wait (&p->cond, &p->lock);
        }
        pthread_mutex_unlock (&p->lock);
    }
    *done = d;
    return n;
}

//  Publishes frames decoded (and, with done, that no more will come).
static void
s_progress_post (s_progress_t *p, size_t avail, bool done)
{
    atomic_store_explicit (&p->avail, avail, memory_order_release);
    if (done)
        atomic_store_explicit (&p->done, true, memory_order_release);
    pthread_mutex_lock (&p->lock);
    pthread_cond_broadcast (&p->cond);
    pthread_mutex_unlock (&p->lock);
}

//  Loudness through libebur128: integrated, LRA, max M and S, and the
//  400 ms gating blocks into out->block_lufs, their energies into
//  *block_e_p (n_blocks doubles, owned by the caller after return).
//  Returns 0, MF_ERR_NOMEM or MF_ERR_INTERNAL (libebur128 refused frames).
//  a->frames is the final count when prog is NULL; with
//  prog, a->data holds cap_frames frames of which prog says how many are
//  decoded, and the final count is the one prog ends with.
static int
s_loudness (const audio_t *a, size_t cap_frames, s_progress_t *prog, measure_t *out,
            double **block_e_p, char *err, size_t err_size)
{
    const int ch = a->channels;
    const size_t hop = (size_t) (a->rate_hz + 5) / 10;      //  libebur128's 100 ms
    bool done = prog == NULL;
    size_t frames = prog ? s_progress_wait (prog, hop, &done) : (size_t) a->frames;
    const size_t cap_hops = (prog ? cap_frames : frames) / hop;
    size_t n_hops = 0;
    size_t n_blocks = 0;
    //  a 100 ms loudness window equals the hop only when rate is a multiple of 10
    const bool fast = a->rate_hz % 10 == 0;
    int rc = MF_ERR_NOMEM;

    ebur128_state *st = ebur128_init ((unsigned) ch, (unsigned long) a->rate_hz,
                                      EBUR128_MODE_I | EBUR128_MODE_LRA
                                      | EBUR128_MODE_M | EBUR128_MODE_S);
    const size_t cap_blocks = cap_hops >= 4 ? cap_hops - 3 : 0;
    double *hop_e = calloc (cap_hops + 1, sizeof (double));
    double *block_e = calloc (cap_blocks + 1, sizeof (double));
    float *block_lufs = calloc (cap_blocks + 1, sizeof (float));
    if (!st || !hop_e || !block_e || !block_lufs) {
        snprintf (err, err_size, "out of memory for the loudness meter");
        goto done;
    }
    //  mono is dual-mono (BS.1770: a mono channel heard on two
    //  loudspeakers counts twice, +3.01 dB), as master.c's meter
    if (ch == 1)
        ebur128_set_channel (st, 0, EBUR128_DUAL_MONO);
    if (ch >= 7)
        ebur128_set_channel (st, 6, EBUR128_LEFT_SURROUND);
    if (ch >= 8)
        ebur128_set_channel (st, 7, EBUR128_RIGHT_SURROUND);

    double max_m = 0.0, max_s = 0.0;       //  as energies
    bool have_m = false;
    double sum4 = 0.0, sum30 = 0.0;        //  running sums of hop energies
    for (size_t h = 0; h < cap_hops; h++) {
        if ((h + 1) * hop > frames) {
            if (done)
                break;
            frames = s_progress_wait (prog, (h + 1) * hop, &done);
            if ((h + 1) * hop > frames)
                break;
        }
        n_hops = h + 1;
        if (ebur128_add_frames_float (st, a->data + h * hop * (size_t) ch, hop) != EBUR128_SUCCESS) {
            snprintf (err, err_size, "the loudness meter failed");
            rc = MF_ERR_INTERNAL;
            goto done;
        }
        double em, es;
        if (fast) {
            double l;
            ebur128_loudness_window (st, 100, &l);
            hop_e [h] = s_energy (l);
            sum4 += hop_e [h];
            if (h >= 4)
                sum4 -= hop_e [h - 4];
            sum30 += hop_e [h];
            if (h >= 30)
                sum30 -= hop_e [h - 30];
            //  resum now and then so that the running sums cannot drift
            if (h % 64 == 63) {
                sum4 = 0.0;
                for (size_t k = h >= 3 ? h - 3 : 0; k <= h; k++)
                    sum4 += hop_e [k];
                sum30 = 0.0;
                for (size_t k = h >= 29 ? h - 29 : 0; k <= h; k++)
                    sum30 += hop_e [k];
            }
            em = sum4 / 4.0;
            es = sum30 / 30.0;
        }
        else {
            double lm, ls;
            ebur128_loudness_momentary (st, &lm);
            ebur128_loudness_shortterm (st, &ls);
            em = s_energy (lm);
            es = s_energy (ls);
        }
        if (em < 0.0)
            em = 0.0;                      //  rounding of the running sum
        if (es < 0.0)
            es = 0.0;
        if (!have_m || em > max_m)
            max_m = em;
        if (!have_m || es > max_s)
            max_s = es;
        have_m = true;
        if (h >= 3) {
            //  the block is summed afresh (not from the running sum) for accuracy
            double e = fast ? (hop_e [h] + hop_e [h - 1] + hop_e [h - 2] + hop_e [h - 3]) / 4.0 : em;
            block_e [h - 3] = e;
            double l = s_lufs (e);
            block_lufs [h - 3] = isfinite (l) ? (float) l : (float) ANALYSIS_FLOOR_LUFS;
        }
    }
    while (!done)
        frames = s_progress_wait (prog, (size_t) -1, &done);
    n_blocks = n_hops >= 4 ? n_hops - 3 : 0;
    //  the partial last hop: counts for M and S (the meter at the very end)
    size_t rest = frames - n_hops * hop;
    if (rest > 0) {
        ebur128_add_frames_float (st, a->data + n_hops * hop * (size_t) ch, rest);
        double lm, ls;
        ebur128_loudness_momentary (st, &lm);
        ebur128_loudness_shortterm (st, &ls);
        double em = s_energy (lm), es = s_energy (ls);
        if (!have_m || em > max_m)
            max_m = em;
        if (!have_m || es > max_s)
            max_s = es;
    }
    double gl, lra;
    if (ebur128_loudness_global (st, &gl) != EBUR128_SUCCESS)
        gl = -HUGE_VAL;
    if (ebur128_loudness_range (st, &lra) != EBUR128_SUCCESS || !isfinite (lra))
        lra = 0.0;
    out->integrated_lufs = isfinite (gl) ? gl : -HUGE_VAL;
    out->lra_lu = lra;
    out->max_momentary_lufs = s_lufs (max_m);
    out->max_shortterm_lufs = s_lufs (max_s);
    out->block_lufs = block_lufs;
    out->n_blocks = n_blocks;
    block_lufs = NULL;
    *block_e_p = block_e;
    block_e = NULL;
    rc = 0;
done:
    if (st)
        ebur128_destroy (&st);             //  libebur128's destroy is not NULL-safe
    free (hop_e);
    free (block_e);
    free (block_lufs);
    return rc;
}

//  Spectrum frames: Hann-windowed frames of n samples (the largest power
//  of two <= 2 hops), one every S_FRAME_HOPS hops, so a 400 ms block holds
//  one or two whole frames.
#define S_FRAME_HOPS  2

typedef struct {
    size_t  hop;           //  frames per 100 ms hop
    size_t  n;             //  FFT length
    size_t  stride;        //  frames between frame starts (S_FRAME_HOPS hops)
    size_t  n_frames;      //  whole frames in the track (may be 0)
    size_t  n_rows;        //  rows in band_p: n_frames, or 1 zero-padded frame
    float  *band_p;        //  n_rows x MEASURE_BANDS band powers, mean over channels
} s_frames_t;

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

//  Computes every frame's band powers (in units of the mean square of a
//  full-scale sine) into f->band_p. Returns 0 or MF_ERR_NOMEM.
static int
s_spectrum_frames (const audio_t *a, s_frames_t *f, char *err, size_t err_size)
{
    const int ch = a->channels;
    const size_t frames = (size_t) a->frames;
    memset (f, 0, sizeof *f);
    f->hop = (size_t) (a->rate_hz + 5) / 10;
    f->n = 1;
    while (f->n * 2 <= 2 * f->hop)
        f->n *= 2;
    f->stride = S_FRAME_HOPS * f->hop;
    const size_t n = f->n, n_bins = n / 2 + 1;
    f->n_frames = frames >= n ? (frames - n) / f->stride + 1 : 0;
    f->n_rows = f->n_frames ? f->n_frames : 1;
    int rc = MF_ERR_NOMEM;

    float *in = fftwf_malloc (n * sizeof (float));
    float *in2 = fftwf_malloc (n * sizeof (float));  //  stereo: the second channel
    fftwf_complex *spec = fftwf_malloc (n_bins * sizeof (fftwf_complex));
    float *win = malloc (n * sizeof (float));
    f->band_p = calloc (f->n_rows * MEASURE_BANDS, sizeof (float));
    fftwf_plan plan = NULL;
    if (in && spec) {
        pthread_mutex_lock (&s_fftw_lock);
        plan = fftwf_plan_dft_r2c_1d ((int) n, in, spec, FFTW_ESTIMATE);
        pthread_mutex_unlock (&s_fftw_lock);
    }
    if (!in || !in2 || !spec || !win || !f->band_p || !plan) {
        snprintf (err, err_size, "out of memory for the spectrum");
        free (f->band_p);
        f->band_p = NULL;
        goto done;
    }
    //  periodic Hann window and its power sum
    double w2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        win [i] = (float) (0.5 - 0.5 * cos (2.0 * M_PI * (double) i / (double) n));
        w2 += (double) win [i] * win [i];
    }
    //  Band b spans [u_lo, u_hi) in bins; bin k stands for [k - 1/2, k + 1/2),
    //  so the two edge bins count with the fraction of them inside the band
    //  (noise then reads its true band power, not a whole number of bins).
    //  DC is left out (u >= 1/2); the Nyquist bin stands for half a bin
    //  on the one-sided axis (u <= n/2).
    size_t k0 [MEASURE_BANDS], k1 [MEASURE_BANDS];
    float w0 [MEASURE_BANDS], w1 [MEASURE_BANDS];
    for (int b = 0; b < MEASURE_BANDS; b++) {
        double u_lo = 1000.0 * pow (10.0, ((double) b - 16.5) / 10.0) * (double) n / a->rate_hz;
        double u_hi = 1000.0 * pow (10.0, ((double) b - 15.5) / 10.0) * (double) n / a->rate_hz;
        u_lo = fmax (u_lo, 0.5);
        u_hi = fmin (u_hi, (double) (n / 2));
        if (u_hi <= u_lo) {
            k0 [b] = 1;
            k1 [b] = 0;                         //  empty: above Nyquist
            continue;
        }
        k0 [b] = (size_t) floor (u_lo + 0.5);
        k1 [b] = (size_t) floor (u_hi + 0.5);
        if (k1 [b] > n / 2)
            k1 [b] = n / 2;
        if (k0 [b] == k1 [b]) {
            w0 [b] = (float) (u_hi - u_lo);
            w1 [b] = 0.0f;
        }
        else {
            w0 [b] = (float) ((double) k0 [b] + 0.5 - u_lo);
            w1 [b] = (float) (u_hi - ((double) k1 [b] - 0.5));
        }
    }
    //  one-sided spectrum: every bin counts twice (Parseval), see above for Nyquist
    const float scale = (float) (2.0 / ((double) n * w2 * ch * S_FULL_SCALE_SINE));

    for (size_t r = 0; r < f->n_rows; r++) {
        size_t start = r * f->stride;
        size_t len = start + n <= frames ? n : frames - start;
        float *row = f->band_p + r * MEASURE_BANDS;
        if (ch == 2)
            s_window2 (in, in2, a->data + start * 2, win, len, n);
        for (int c = 0; c < ch; c++) {
            float *x = ch == 2 && c == 1 ? in2 : in;
            if (ch != 2)
                s_window (x, a->data + start * (size_t) ch + (size_t) c, (size_t) ch,
                          win, len, n);
            //  new-array execute: in and in2 are both fftwf_malloc'd (aligned alike)
            fftwf_execute_dft_r2c (plan, x, spec);
            const float *sp = (const float *) spec;
            for (int b = 0; b < MEASURE_BANDS; b++) {
                if (k1 [b] < k0 [b])
                    continue;
                float acc = w0 [b] * s_power (sp, k0 [b]);
                if (k1 [b] > k0 [b]) {
                    for (size_t k = k0 [b] + 1; k < k1 [b]; k++)
                        acc += s_power (sp, k);
                    acc += w1 [b] * s_power (sp, k1 [b]);
                }
                row [b] += acc * scale;
            }
        }
    }
    rc = 0;
done:
    if (plan) {
        pthread_mutex_lock (&s_fftw_lock);
        fftwf_destroy_plan (plan);
        pthread_mutex_unlock (&s_fftw_lock);
    }
    fftwf_free (in);
    fftwf_free (in2);
    fftwf_free (spec);
    free (win);
    return rc;
}

//  The long-term spectrum into out->band_db: the mean over the gating
//  blocks above both gates of each block's mean frame power (see
//  analysis.h), or the mean over all frames when no block passes.
static void
s_spectrum_combine (const s_frames_t *f, const double *block_e, size_t n_blocks,
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

//  The loudness pass as a thread of its own (analysis_cfg_t.threads 2).
typedef struct {
    const audio_t *audio;
    size_t         cap_frames;
    s_progress_t  *prog;           //  NULL: audio->frames are all there
    measure_t     *out;
    double        *block_e;
    int            rc;
    char           err [256];
} s_loudness_job_t;

//  Runs s_loudness for a job, with FTZ/DAZ set on this thread.
static void *
s_loudness_thread (void *arg)
{
    s_loudness_job_t *job = arg;
    cpu_set_ftz_daz ();
    job->rc = s_loudness (job->audio, job->cap_frames, job->prog, job->out,
                          &job->block_e, job->err, sizeof job->err);
    return NULL;
}

struct analysis_stream_s {
    const audio_t    *audio;
    analysis_cfg_t    cfg;
    measure_t        *out;
    s_progress_t      prog;
    s_loudness_job_t  job;
    pthread_t         thread;
    bool              threaded;
};

int
analysis_begin (analysis_stream_t **stream, const audio_t *audio, int64_t cap_frames,
                const analysis_cfg_t *cfg, measure_t *out, char *err, size_t err_size)
{
    analysis_cfg_t defaults;
    *stream = NULL;
    if (!cfg) {
        analysis_cfg_default (&defaults);
        cfg = &defaults;
    }
    memset (out, 0, sizeof *out);
    if (!audio || !audio->data || cap_frames < 1) {
        snprintf (err, err_size, "no audio frames to measure");
        return MF_ERR_INVALID;
    }
    if (audio->channels < 1 || audio->channels > MEASURE_MAX_CH) {
        snprintf (err, err_size, "%d channels; 1 to %d can be measured",
                  audio->channels, MEASURE_MAX_CH);
        return MF_ERR_INVALID;
    }
    if (audio->rate_hz < AUDIO_MIN_RATE_HZ || audio->rate_hz > AUDIO_MAX_RATE_HZ) {
        snprintf (err, err_size, "sample rate %d Hz; %d to %d Hz can be measured",
                  audio->rate_hz, AUDIO_MIN_RATE_HZ, AUDIO_MAX_RATE_HZ);
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
    s->audio = audio;
    s->cfg = *cfg;
    s->out = out;
    pthread_mutex_init (&s->prog.lock, NULL);
    pthread_cond_init (&s->prog.cond, NULL);
    atomic_init (&s->prog.avail, 0);
    atomic_init (&s->prog.done, false);
    s->job.audio = audio;
    s->job.cap_frames = (size_t) cap_frames;
    s->job.prog = &s->prog;
    s->job.out = out;
    //  loudness (libebur128) on a second thread if asked and possible; it
    //  writes only the loudness fields and block_lufs of out, and follows
    //  the frames as analysis_feed publishes them
    s->threaded = cfg->threads == 2
               && pthread_create (&s->thread, NULL, s_loudness_thread, &s->job) == 0;
    *stream = s;
    return 0;
}

void
analysis_feed (analysis_stream_t *stream, int64_t frames)
{
    if (stream->threaded && frames > 0)
        s_progress_post (&stream->prog, (size_t) frames, false);
}

//  Frees a stream after its thread (if any) has ended.
static void
s_stream_free (analysis_stream_t *s)
{
    pthread_mutex_destroy (&s->prog.lock);
    pthread_cond_destroy (&s->prog.cond);
    free (s->job.block_e);
    free (s);
}

int
analysis_end (analysis_stream_t **stream, char *err, size_t err_size)
{
    analysis_stream_t *s = *stream;
    *stream = NULL;
    const audio_t *audio = s->audio;
    measure_t *out = s->out;
    if (s->threaded)
        s_progress_post (&s->prog, audio->frames > 0 ? (size_t) audio->frames : 0, true);
    if (audio->frames < 1) {
        if (s->threaded)
            pthread_join (s->thread, NULL);
        s_stream_free (s);
        measure_free (out);
        snprintf (err, err_size, "no audio frames to measure");
        return MF_ERR_INVALID;
    }
    cpu_set_ftz_daz ();

    snprintf (out->format, sizeof out->format, "%s", audio->format);
    out->rate_hz = audio->rate_hz;
    out->channels = audio->channels;
    out->frames = audio->frames;
    out->duration_s = (double) audio->frames / audio->rate_hz;

    //  the loudness thread started before the check for non-finite samples
    //  below (libebur128 does not fail on them); its results are dropped
    //  if that check fails
    int rc = s_sample_stats (audio, pow (10.0, s->cfg.silence_dbfs / 20.0), out, err, err_size);
    if (rc) {
        if (s->threaded)
            pthread_join (s->thread, NULL);
        s_stream_free (s);
        measure_free (out);
        return rc;
    }
    if (!s->threaded) {
        s->job.prog = NULL;
        s_loudness_thread (&s->job);
    }

    s_frames_t frames;
    char err2 [256] = "";
    int rc_tp = 0;
    truepeak_t *tp = truepeak_new (audio->rate_hz, audio->channels);
    if (tp) {
        truepeak_process (tp, audio->data, (size_t) audio->frames);
        out->true_peak_dbtp = truepeak_max_dbtp (tp);
        if (out->true_peak_dbtp < out->sample_peak_dbfs)
            out->true_peak_dbtp = out->sample_peak_dbfs;
        truepeak_destroy (&tp);
    }
    else {
        snprintf (err2, sizeof err2, "out of memory for the true-peak meter");
        rc_tp = MF_ERR_NOMEM;
    }
    char err3 [256] = "";
    int rc_sp = s_spectrum_frames (audio, &frames, err3, sizeof err3);
    if (s->threaded)
        pthread_join (s->thread, NULL);

    rc = s->job.rc ? s->job.rc : rc_tp ? rc_tp : rc_sp;
    if (rc == 0)
        s_spectrum_combine (&frames, s->job.block_e, out->n_blocks, out);
    else
        snprintf (err, err_size, "%s", s->job.rc ? s->job.err : rc_tp ? err2 : err3);
    free (frames.band_p);
    s_stream_free (s);
    if (rc)
        measure_free (out);
    return rc;
}

int
analysis_run (const audio_t *audio, const analysis_cfg_t *cfg, measure_t *out,
              char *err, size_t err_size)
{
    if (!audio || !audio->data || audio->frames < 1) {
        memset (out, 0, sizeof *out);
        snprintf (err, err_size, "no audio frames to measure");
        return MF_ERR_INVALID;
    }
    analysis_stream_t *s;
    int rc = analysis_begin (&s, audio, audio->frames, cfg, out, err, err_size);
    if (rc)
        return rc;
    return analysis_end (&s, err, err_size);
}
