/*  Track analysis: libebur128 loudness fed in 100 ms hops, BS.1770-4
    gating blocks formed from hop energies, the oversampled true-peak meter,
    a gated long-term 1/3-octave spectrum (fftw3f) and sample statistics.
    The method and every unit are described in analysis.h.

    Passes over the audio: one for sample statistics (peak, DC, clipping,
    silence, non-finite values), one through libebur128, one through the
    true-peak meter, and one FFT per hop and channel, only for the frames
    that lie in blocks above the gates.  */
#include "worker/analysis.h"
#include "worker/dsp/cpu.h"
#include "worker/dsp/truepeak.h"
#include "common/err.h"

#include <ebur128.h>
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
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

//  Sample statistics in one pass: sample peak, DC, clipped count,
//  leading/trailing silence. Returns 0 or MF_ERR_FORMAT on a non-finite
//  sample (err names it).
static int
s_sample_stats (const audio_t *a, double silence_lin, measure_t *out,
                char *err, size_t err_size)
{
    const int ch = a->channels;
    const size_t frames = (size_t) a->frames;
    const float thr = (float) silence_lin;
    double sum [MEASURE_MAX_CH] = { 0 };
    float peak = 0.0f;
    int64_t clipped = 0;
    int64_t first_loud = -1, last_loud = -1;
    const float *x = a->data;
    for (size_t i = 0; i < frames; i++, x += ch) {
        float fmax = 0.0f;
        for (int c = 0; c < ch; c++) {
            float v = x [c];
            float m = fabsf (v);
            if (!(m <= 3.4e38f)) {          //  NaN or infinite
                snprintf (err, err_size, "frame %zu of channel %d is %s; cannot measure",
                          i, c + 1, isnan (v) ? "NaN" : "infinite");
                return MF_ERR_FORMAT;
            }
            sum [c] += v;
            if (m > fmax)
                fmax = m;
            clipped += m >= S_CLIP_LEVEL;
        }
        if (fmax > peak)
            peak = fmax;
        if (fmax >= thr) {
            if (first_loud < 0)
                first_loud = (int64_t) i;
            last_loud = (int64_t) i;
        }
    }
    double dc = 0.0;
    for (int c = 0; c < ch; c++) {
        double m = fabs (sum [c] / (double) frames);
        if (m > dc)
            dc = m;
    }
    out->sample_peak_dbfs = s_db (peak);
    out->dc_offset_dbfs = s_db (dc);
    out->clipped_samples = clipped;
    if (first_loud < 0) {
        out->lead_silence_frames = (int64_t) frames;
        out->trail_silence_frames = (int64_t) frames;
    }
    else {
        out->lead_silence_frames = first_loud;
        out->trail_silence_frames = (int64_t) frames - 1 - last_loud;
    }
    return 0;
}

//  Loudness through libebur128: integrated, LRA, max M and S, and the
//  400 ms gating blocks into out->block_lufs, their energies into
//  *block_e_p (n_blocks doubles, owned by the caller after return).
//  Returns 0 or MF_ERR_NOMEM.
static int
s_loudness (const audio_t *a, measure_t *out, double **block_e_p,
            char *err, size_t err_size)
{
    const int ch = a->channels;
    const size_t frames = (size_t) a->frames;
    const size_t hop = (size_t) (a->rate_hz + 5) / 10;      //  libebur128's 100 ms
    const size_t n_hops = frames / hop;
    const size_t n_blocks = n_hops >= 4 ? n_hops - 3 : 0;
    //  a 100 ms loudness window equals the hop only when rate is a multiple of 10
    const bool fast = a->rate_hz % 10 == 0;
    int rc = MF_ERR_NOMEM;

    ebur128_state *st = ebur128_init ((unsigned) ch, (unsigned long) a->rate_hz,
                                      EBUR128_MODE_I | EBUR128_MODE_LRA
                                      | EBUR128_MODE_M | EBUR128_MODE_S);
    double *hop_e = calloc (n_hops + 1, sizeof (double));
    double *block_e = calloc (n_blocks + 1, sizeof (double));
    float *block_lufs = calloc (n_blocks + 1, sizeof (float));
    if (!st || !hop_e || !block_e || !block_lufs) {
        snprintf (err, err_size, "out of memory for the loudness meter");
        goto done;
    }
    if (ch >= 7)
        ebur128_set_channel (st, 6, EBUR128_LEFT_SURROUND);
    if (ch >= 8)
        ebur128_set_channel (st, 7, EBUR128_RIGHT_SURROUND);

    double max_m = 0.0, max_s = 0.0;       //  as energies
    bool have_m = false;
    double sum4 = 0.0, sum30 = 0.0;        //  running sums of hop energies
    for (size_t h = 0; h < n_hops; h++) {
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
    ebur128_destroy (&st);
    free (hop_e);
    free (block_e);
    free (block_lufs);
    return rc;
}

//  Which band (0 .. MEASURE_BANDS-1) a frequency falls in, or -1: edges
//  of IEC 61260-1's base-10 mid-band frequencies (see analysis.h).
static int
s_band_of (double hz)
{
    if (hz <= 0.0)
        return -1;
    //  band b spans 1000 * 10^((b - 16 -+ 0.5) / 10)
    double b = floor (10.0 * log10 (hz / 1000.0) + 16.5);
    return b >= 0.0 && b < MEASURE_BANDS ? (int) b : -1;
}

//  Long-term spectrum into out->band_db (see analysis.h). block_e holds
//  the gating blocks' energies. Returns 0 or MF_ERR_NOMEM.
static int
s_spectrum (const audio_t *a, const double *block_e, size_t n_blocks, measure_t *out,
            char *err, size_t err_size)
{
    const int ch = a->channels;
    const size_t frames = (size_t) a->frames;
    const size_t hop = (size_t) (a->rate_hz + 5) / 10;
    size_t n = 1;
    while (n * 2 <= 2 * hop)
        n *= 2;                             //  largest power of two <= 2 hops
    const size_t n_bins = n / 2 + 1;
    const size_t n_frames = frames >= n ? (frames - n) / hop + 1 : 0;
    int rc = MF_ERR_NOMEM;

    float *in = fftwf_malloc (n * sizeof (float));
    fftwf_complex *spec = fftwf_malloc (n_bins * sizeof (fftwf_complex));
    float *win = malloc (n * sizeof (float));
    int *bin_band = malloc (n_bins * sizeof (int));
    double *weight = calloc (n_frames + 1, sizeof (double));
    fftwf_plan plan = NULL;
    if (in && spec) {
        pthread_mutex_lock (&s_fftw_lock);
        plan = fftwf_plan_dft_r2c_1d ((int) n, in, spec, FFTW_ESTIMATE);
        pthread_mutex_unlock (&s_fftw_lock);
    }
    if (!in || !spec || !win || !bin_band || !weight || !plan) {
        snprintf (err, err_size, "out of memory for the spectrum");
        goto done;
    }
    //  periodic Hann window and its power sum
    double w2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        win [i] = (float) (0.5 - 0.5 * cos (2.0 * M_PI * (double) i / (double) n));
        w2 += (double) win [i] * win [i];
    }
    for (size_t k = 0; k < n_bins; k++)
        bin_band [k] = k == 0 ? -1 : s_band_of ((double) k * a->rate_hz / (double) n);

    //  frame weights: each block above the gates gives 1/3 to its three frames
    double gate = 0.0, sum = 0.0;
    size_t count = 0, passing = 0;
    const double abs_e = s_energy (S_ABS_GATE_LUFS);
    for (size_t b = 0; b < n_blocks; b++)
        if (block_e [b] > abs_e) {
            sum += block_e [b];
            count++;
        }
    if (count > 0) {
        gate = sum / (double) count * pow (10.0, S_REL_GATE_LU / 10.0);
        for (size_t b = 0; b < n_blocks; b++)
            if (block_e [b] > abs_e && block_e [b] > gate) {
                for (size_t f = b; f < b + 3 && f < n_frames; f++)
                    weight [f] += 1.0 / 3.0;
                passing++;
            }
    }
    double total_w;
    size_t frames_used = n_frames;
    if (passing > 0)
        total_w = (double) passing;
    else {
        for (size_t f = 0; f < n_frames; f++)
            weight [f] = 1.0;
        if (n_frames == 0) {
            weight [0] = 1.0;               //  one zero-padded frame
            frames_used = 1;
        }
        total_w = (double) frames_used;
    }

    double band_p [MEASURE_BANDS] = { 0 };
    const double scale = 1.0 / ((double) n * w2 * ch);
    for (size_t f = 0; f < frames_used; f++) {
        if (weight [f] == 0.0)
            continue;
        size_t start = f * hop;
        size_t len = start + n <= frames ? n : frames - start;
        double fb [MEASURE_BANDS] = { 0 };
        for (int c = 0; c < ch; c++) {
            const float *src = a->data + start * (size_t) ch + c;
            for (size_t i = 0; i < len; i++)
                in [i] = src [i * (size_t) ch] * win [i];
            for (size_t i = len; i < n; i++)
                in [i] = 0.0f;
            fftwf_execute_dft_r2c (plan, in, spec);
            for (size_t k = 1; k < n_bins; k++) {
                int band = bin_band [k];
                if (band < 0)
                    continue;
                double re = spec [k][0], im = spec [k][1];
                double p = re * re + im * im;
                fb [band] += k == n / 2 ? p : 2.0 * p;
            }
        }
        for (int b = 0; b < MEASURE_BANDS; b++)
            band_p [b] += weight [f] * fb [b] * scale;
    }
    for (int b = 0; b < MEASURE_BANDS; b++) {
        double p = band_p [b] / total_w / S_FULL_SCALE_SINE;
        out->band_db [b] = p > 0.0 ? 10.0 * log10 (p) : -HUGE_VAL;
    }
    rc = 0;
done:
    if (plan) {
        pthread_mutex_lock (&s_fftw_lock);
        fftwf_destroy_plan (plan);
        pthread_mutex_unlock (&s_fftw_lock);
    }
    fftwf_free (in);
    fftwf_free (spec);
    free (win);
    free (bin_band);
    free (weight);
    return rc;
}

int
analysis_run (const audio_t *audio, const analysis_cfg_t *cfg, measure_t *out,
              char *err, size_t err_size)
{
    analysis_cfg_t defaults;
    if (!cfg) {
        analysis_cfg_default (&defaults);
        cfg = &defaults;
    }
    memset (out, 0, sizeof *out);
    if (!audio || !audio->data || audio->frames < 1) {
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
    cpu_set_ftz_daz ();

    snprintf (out->format, sizeof out->format, "%s", audio->format);
    out->rate_hz = audio->rate_hz;
    out->channels = audio->channels;
    out->frames = audio->frames;
    out->duration_s = (double) audio->frames / audio->rate_hz;

    int rc = s_sample_stats (audio, pow (10.0, cfg->silence_dbfs / 20.0), out, err, err_size);
    if (rc)
        return rc;

    double *block_e = NULL;
    rc = s_loudness (audio, out, &block_e, err, err_size);
    if (rc)
        return rc;

    truepeak_t *tp = truepeak_new (audio->rate_hz, audio->channels);
    if (!tp) {
        snprintf (err, err_size, "out of memory for the true-peak meter");
        rc = MF_ERR_NOMEM;
        goto fail;
    }
    truepeak_process (tp, audio->data, (size_t) audio->frames);
    out->true_peak_dbtp = truepeak_max_dbtp (tp);
    if (out->true_peak_dbtp < out->sample_peak_dbfs)
        out->true_peak_dbtp = out->sample_peak_dbfs;
    truepeak_destroy (&tp);

    rc = s_spectrum (audio, block_e, out->n_blocks, out, err, err_size);
    if (rc)
        goto fail;
    free (block_e);
    return 0;
fail:
    free (block_e);
    measure_free (out);
    return rc;
}
