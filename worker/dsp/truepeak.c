/*  True-peak meter (ITU-R BS.1770-4 Annex 2): polyphase windowed-sinc
    interpolation through the dsp_ops tp kernels, per-channel history kept
    in front of a chunk buffer so the kernels read x[-(taps-1)] .. x[-1]
    directly. See truepeak.h for the filter design, factors and latency.

    Filter design. The prototype low-pass has N = phases * taps
    coefficients h[j], j = 0 .. N-1, centred on j0 = N / 2 (taps is even,
    so j0 is a multiple of phases):
        h[j] = sinc ((j - j0) / phases) * kaiser ((j - j0) / (N / 2), beta)
    with sinc(u) = sin(pi u) / (pi u): cut-off at the input Nyquist
    frequency and zeros at every other input sample (a Nyquist filter),
    Kaiser window beta = TRUEPEAK_KAISER_BETA. Branch p takes
    coef[p * taps + k] = h[p + k * phases], normalised to unit DC gain;
    branch 0 is then exactly a delay of taps / 2 samples. BS.1770-4's
    informative example is a 48-tap, 4-phase filter (12 per branch); this
    one has 16 per branch at 4x for a flatter response near 20 kHz, and 24
    per branch at 2x, where the images of content near the input Nyquist
    frequency fall closer to the signal band and need a sharper cut (with
    16, white noise at 96 kHz read up to 0.25 dB away from libebur128's
    49-tap 2x meter; with 24, within 0.15 dB). What is left
    is mostly the grid error of 4x oversampling itself: a peak between two
    interpolated points reads low by up to 20 log10 cos (pi f / (4 fs)),
    0.17 dB for a sine at fs / 4. tests/dsp/test_truepeak.c checks the
    readings against libebur128's true-peak mode (within 0.2 dB) and
    against analytic peaks.  */
#include "worker/dsp/truepeak.h"
#include "worker/dsp/dsp_ops.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TRUEPEAK_KAISER_BETA  8.0      //  side lobes near -80 dB: aliasing well below 0.01 dB
#define TRUEPEAK_CHUNK_FRAMES 1024     //  frames per kernel call (4 KiB per channel)

struct truepeak_s {
    const dsp_ops_t         *ops;           //  kernel table
    const truepeak_filter_t *filter;        //  shared, static
    int                      channels;
    int                      hist;          //  history length in samples: taps - 1
    float                   *buf [TRUEPEAK_MAX_CHANNELS];  //  hist + CHUNK floats each
    float                   *tmp_peak;      //  CHUNK floats: one channel's peaks
    float                   *tail;          //  2 * hist floats: tail evaluation
    float                    max_lin [TRUEPEAK_MAX_CHANNELS];  //  running maxima
    double                   bound;         //  >= every branch's sum of |coef|
};

//  --- filters -----------------------------------------------------------

static float s_coef_4x [4 * TRUEPEAK_TAPS];
static float s_coef_2x [2 * TRUEPEAK_TAPS_2X];
static const float s_coef_1x [1] = { 1.0f };
static truepeak_filter_t s_filter_4x, s_filter_2x;
static const truepeak_filter_t s_filter_1x = { 1, 1, 0, s_coef_1x };
static pthread_once_t s_filters_once = PTHREAD_ONCE_INIT;

//  Modified Bessel function of the first kind, order 0 (power series).
static double
s_bessel_i0 (double x)
{
    double sum = 1.0, term = 1.0, q = x * x / 4.0;
    for (int k = 1; k < 64; k++) {
        term *= q / ((double) k * (double) k);
        sum += term;
        if (term < sum * 1e-17)
            break;
    }
    return sum;
}

double
truepeak_kaiser (double t, double beta)
{
    return s_bessel_i0 (beta * sqrt (fmax (0.0, 1.0 - t * t))) / s_bessel_i0 (beta);
}

//  Fills coef (phases * taps) with the polyphase branches described at
//  the top of this file.
static void
s_design (float *coef, int phases, int taps)
{
    int n = phases * taps;
    double j0 = n / 2;
    double half = n / 2.0;
    for (int p = 0; p < phases; p++) {
        double h [TRUEPEAK_MAX_TAPS];
        double sum = 0.0;
        for (int k = 0; k < taps; k++) {
            int j = p + k * phases;
            double d = (double) j - j0;             //  in output samples
            double u = d / phases;                  //  in input samples
            double s;
            if (d == 0.0)
                s = 1.0;
            else if ((j - (int) j0) % phases == 0)
                s = 0.0;                            //  exact zero of the Nyquist filter
            else
                s = sin (M_PI * u) / (M_PI * u);
            double t = d / half;
            double w = truepeak_kaiser (t, TRUEPEAK_KAISER_BETA);
            h [k] = s * w;
            sum += h [k];
        }
        for (int k = 0; k < taps; k++)
            coef [p * taps + k] = (float) (h [k] / sum);
    }
}

//  Builds the 4x and 2x filters once.
static void
s_filters_init (void)
{
    s_design (s_coef_4x, 4, TRUEPEAK_TAPS);
    s_design (s_coef_2x, 2, TRUEPEAK_TAPS_2X);
    //  branch 0 is an exact delay: the meter relies on it (s_block_max)
    for (int k = 0; k < TRUEPEAK_TAPS; k++)
        assert (s_coef_4x [k] == (k == TRUEPEAK_TAPS / 2 ? 1.0f : 0.0f));
    for (int k = 0; k < TRUEPEAK_TAPS_2X; k++)
        assert (s_coef_2x [k] == (k == TRUEPEAK_TAPS_2X / 2 ? 1.0f : 0.0f));
    s_filter_4x = (truepeak_filter_t) { 4, TRUEPEAK_TAPS, TRUEPEAK_TAPS / 2, s_coef_4x };
    s_filter_2x = (truepeak_filter_t) { 2, TRUEPEAK_TAPS_2X, TRUEPEAK_TAPS_2X / 2, s_coef_2x };
}

const truepeak_filter_t *
truepeak_filter (int rate_hz)
{
    if (rate_hz <= 0)
        return NULL;
    pthread_once (&s_filters_once, s_filters_init);
    if (rate_hz < 88200)
        return &s_filter_4x;
    if (rate_hz < 176400)
        return &s_filter_2x;
    return &s_filter_1x;
}

//  --- meter -------------------------------------------------------------

truepeak_t *
truepeak_new (int rate_hz, int channels)
{
    if (rate_hz < 8000 || rate_hz > 768000
    ||  channels < 1 || channels > TRUEPEAK_MAX_CHANNELS)
        return NULL;
    truepeak_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ops = dsp_ops ();
    self->filter = truepeak_filter (rate_hz);
    self->channels = channels;
    self->hist = self->filter->taps - 1;
    //  a margin over the float dot products' rounding (16 or 24 terms:
    //  a relative error under 2e-6)
    const truepeak_filter_t *f = self->filter;
    for (int p = 0; p < f->phases; p++) {
        double sum = 0.0;
        for (int k = 0; k < f->taps; k++)
            sum += fabs ((double) f->coef [p * f->taps + k]);
        self->bound = sum > self->bound ? sum : self->bound;
    }
    self->bound *= 1.0 + 1e-4;
    for (int c = 0; c < channels; c++) {
        self->buf [c] = calloc ((size_t) self->hist + TRUEPEAK_CHUNK_FRAMES, sizeof (float));
        if (!self->buf [c])
            goto fail;
    }
    self->tmp_peak = calloc (TRUEPEAK_CHUNK_FRAMES, sizeof (float));
    self->tail = calloc ((size_t) 2 * self->hist + 1, sizeof (float));
    if (!self->tmp_peak || !self->tail)
        goto fail;
    return self;
fail:
    truepeak_destroy (&self);
    return NULL;
}

void
truepeak_destroy (truepeak_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    truepeak_t *self = *self_p;
    for (int c = 0; c < TRUEPEAK_MAX_CHANNELS; c++)
        free (self->buf [c]);
    free (self->tmp_peak);
    free (self->tail);
    free (self);
    *self_p = NULL;
}

//  Four floats (GNU C vector extension: SSE on x86-64, whatever the
//  target has elsewhere); shuffled with __builtin_shufflevector, which
//  gcc (12 and later) and clang both take.
typedef float s_v4f_t __attribute__ ((vector_size (16)));

void
truepeak_split_stereo (const float *interleaved, size_t frames, float *restrict left,
                       float *restrict right)
{
    size_t i = 0;
    //  four frames at a time: two loads, two shuffles, two stores
    for (; i + 4 <= frames; i += 4) {
        s_v4f_t a, b;
        memcpy (&a, interleaved + 2 * i, sizeof a);
        memcpy (&b, interleaved + 2 * i + 4, sizeof b);
        s_v4f_t l = __builtin_shufflevector (a, b, 0, 2, 4, 6);
        s_v4f_t r = __builtin_shufflevector (a, b, 1, 3, 5, 7);
        memcpy (left + i, &l, sizeof l);
        memcpy (right + i, &r, sizeof r);
    }
    for (; i < frames; i++) {
        left [i] = interleaved [2 * i];
        right [i] = interleaved [2 * i + 1];
    }
}

//  Copies n interleaved frames behind each channel's history, in one
//  pass over the source.
static void
s_load_all (truepeak_t *self, const float *interleaved, size_t n)
{
    const int ch = self->channels;
    const size_t h = (size_t) self->hist;
    if (ch == 1) {
        memcpy (self->buf [0] + h, interleaved, n * sizeof (float));
        return;
    }
    if (ch == 2) {
        truepeak_split_stereo (interleaved, n, self->buf [0] + h, self->buf [1] + h);
        return;
    }
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < ch; c++)
            self->buf [c][h + i] = interleaved [i * (size_t) ch + (size_t) c];
}

//  After n new samples of channel c were consumed, keeps the last hist
//  samples (history followed by new data) as the new history.
static void
s_shift (truepeak_t *self, int c, size_t n)
{
    if (self->hist > 0)
        memmove (self->buf [c], self->buf [c] + n, (size_t) self->hist * sizeof (float));
}

//  Largest |interpolated value| for n samples at x (history before it):
//  branch 0 is x[i - delay] itself (an exact delay, see the design note),
//  so only branches 1 .. phases-1 go through the FIR kernel; the result
//  equals running all branches, for 25% (4x) or 50% (2x) less work.
static float
s_block_max (const truepeak_t *self, const float *x, size_t n)
{
    const truepeak_filter_t *f = self->filter;
    float m = self->ops->abs_max (x - f->delay_frames, n);
    if (f->phases > 1) {
        float r = self->ops->tp_block_max (x, n, f->coef + f->taps, f->phases - 1, f->taps);
        if (r > m)
            m = r;
    }
    return m;
}

void
truepeak_process (truepeak_t *self, const float *interleaved, size_t frames)
{
    assert (self);
    while (frames > 0) {
        size_t n = frames < TRUEPEAK_CHUNK_FRAMES ? frames : TRUEPEAK_CHUNK_FRAMES;
        s_load_all (self, interleaved, n);
        for (int c = 0; c < self->channels; c++) {
            //  A chunk whose samples (with the history the filter reads)
            //  peak at M cannot read above M * bound: at or under the
            //  running maximum, the interpolation cannot change it and is
            //  skipped (the same reading; most chunks after a track's
            //  loudest passage)
            if (self->filter->phases == 1
            ||  (double) self->ops->abs_max (self->buf [c], (size_t) self->hist + n) * self->bound
                > (double) self->max_lin [c]) {
                float m = s_block_max (self, self->buf [c] + self->hist, n);
                if (m > self->max_lin [c])
                    self->max_lin [c] = m;
            }
            s_shift (self, c, n);
        }
        interleaved += n * (size_t) self->channels;
        frames -= n;
    }
}

//  Runs the per-sample kernel over one channel's loaded chunk of n
//  samples into peak, updates the channel maximum and the history.
static void
s_peaks_chunk (truepeak_t *self, int c, size_t n, float *peak)
{
    const truepeak_filter_t *f = self->filter;
    const float *x = self->buf [c] + self->hist;
    const float *x0 = x - f->delay_frames;           //  branch 0: an exact delay
    if (f->phases > 1) {
        self->ops->tp_peaks (x, n, f->coef + f->taps, f->phases - 1, f->taps, peak);
        for (size_t i = 0; i < n; i++) {
            float v = fabsf (x0 [i]);
            peak [i] = v > peak [i] ? v : peak [i];
        }
    }
    else
        for (size_t i = 0; i < n; i++)
            peak [i] = fabsf (x0 [i]);
    float m = self->ops->abs_max (peak, n);
    if (m > self->max_lin [c])
        self->max_lin [c] = m;
    s_shift (self, c, n);
}

void
truepeak_peaks (truepeak_t *self, const float *interleaved, size_t frames,
                float *peak_out)
{
    assert (self);
    while (frames > 0) {
        size_t n = frames < TRUEPEAK_CHUNK_FRAMES ? frames : TRUEPEAK_CHUNK_FRAMES;
        s_load_all (self, interleaved, n);
        for (int c = 0; c < self->channels; c++) {
            if (c == 0)
                s_peaks_chunk (self, c, n, peak_out);
            else {
                s_peaks_chunk (self, c, n, self->tmp_peak);
                for (size_t i = 0; i < n; i++)
                    if (self->tmp_peak [i] > peak_out [i])
                        peak_out [i] = self->tmp_peak [i];
            }
        }
        interleaved += n * (size_t) self->channels;
        peak_out += n;
        frames -= n;
    }
}

void
truepeak_peaks_channel (truepeak_t *self, int channel, const float *mono,
                        size_t frames, float *peak_out)
{
    assert (self && channel >= 0 && channel < self->channels);
    while (frames > 0) {
        size_t n = frames < TRUEPEAK_CHUNK_FRAMES ? frames : TRUEPEAK_CHUNK_FRAMES;
        memcpy (self->buf [channel] + self->hist, mono, n * sizeof (float));
        s_peaks_chunk (self, channel, n, peak_out);
        mono += n;
        peak_out += n;
        frames -= n;
    }
}

//  Linear peak of channel c including the filter tail: the history run
//  on into hist zeros, on a scratch copy so the state does not change.
static float
s_channel_lin (truepeak_t *self, int c)
{
    float m = self->max_lin [c];
    if (self->hist > 0) {
        memcpy (self->tail, self->buf [c], (size_t) self->hist * sizeof (float));
        memset (self->tail + self->hist, 0, (size_t) self->hist * sizeof (float));
        float t = s_block_max (self, self->tail + self->hist, (size_t) self->hist);
        if (t > m)
            m = t;
    }
    return m;
}

//  Linear to dBTP; -HUGE_VAL for 0.
static double
s_db (float lin)
{
    return lin > 0.0f ? 20.0 * log10 ((double) lin) : -HUGE_VAL;
}

double
truepeak_max_dbtp (truepeak_t *self)
{
    assert (self);
    float m = 0.0f;
    for (int c = 0; c < self->channels; c++) {
        float v = s_channel_lin (self, c);
        if (v > m)
            m = v;
    }
    return s_db (m);
}

double
truepeak_channel_dbtp (truepeak_t *self, int channel)
{
    assert (self && channel >= 0 && channel < self->channels);
    return s_db (s_channel_lin (self, channel));
}

int
truepeak_delay_frames (const truepeak_t *self)
{
    assert (self);
    return self->filter->delay_frames;
}

void
truepeak_reset (truepeak_t *self)
{
    assert (self);
    for (int c = 0; c < self->channels; c++) {
        memset (self->buf [c], 0, (size_t) self->hist * sizeof (float));
        self->max_lin [c] = 0.0f;
    }
}
