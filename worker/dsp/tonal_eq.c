/*  Tonal-match EQ (see tonal_eq.h): FIR design by frequency sampling
    (linear phase) or real cepstrum (minimum phase), FFT overlap-add
    convolution with fftw3f, or a least-squares-fitted peaking cascade.

    Overlap-add: block B = G frames, FFT size F = 2G >= B + (G + 1) - 1,
    so each block's linear convolution fits one FFT without wrap-around.
    The tail (G frames) of each block's result is added to the next.  */
#include "worker/dsp/tonal_eq.h"
#include "worker/dsp/biquad.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TONAL_EQ_MAX_CH 8
#define BIQ_Q           4.318             //  1/3 octave: Q = sqrt(2^(1/3)) / (2^(1/3) - 1)

//  FFTW's planner is not thread-safe; every plan create/destroy goes here.
static pthread_mutex_t s_fftw_lock = PTHREAD_MUTEX_INITIALIZER;

struct tonal_eq_s {
    tonal_eq_mode_t mode;
    int             rate_hz;
    int             channels;
    //  FIR modes
    int             g;             //  G: taps - 1 and block length
    int             latency;
    float          *taps;          //  G + 1 taps
    fftwf_complex  *h;             //  F/2 + 1: spectrum of the taps / F
    float          *tbuf;          //  F: time buffer
    fftwf_complex  *fbuf;          //  F/2 + 1
    fftwf_plan      fwd, inv;
    float          *in;            //  B * channels, interleaved (filling)
    float          *out;           //  B * channels, interleaved (emitting)
    float          *ovl;           //  channels * G, tails
    int             pos;           //  frames filled in the current block
    //  biquad mode
    biquad_chain_t *bq;
    biquad_coefs_t  coefs [MEASURE_BANDS];
    int             n_sections;
};

double
tonal_eq_curve_db (const double *band_db, double freq_hz)
{
    double f0 = measure_band_hz (0), fn = measure_band_hz (MEASURE_BANDS - 1);
    if (!(freq_hz > f0))
        return band_db [0];
    if (freq_hz >= fn)
        return band_db [MEASURE_BANDS - 1];
    int i = 0;
    while (i < MEASURE_BANDS - 2 && measure_band_hz (i + 1) <= freq_hz)
        i++;
    double a = log2 (measure_band_hz (i)), b = log2 (measure_band_hz (i + 1));
    double t = (log2 (freq_hz) - a) / (b - a);
    return band_db [i] + t * (band_db [i + 1] - band_db [i]);
}

bool
tonal_eq_is_flat (const double *band_db)
{
    for (int i = 0; i < MEASURE_BANDS; i++)
        if (fabs (band_db [i]) > 0.001)
            return false;
    return true;
}

//  FIR length parameter G for a rate: 2^k closest to 0.37 s, 256 .. 65536.
static int
s_grid (int rate_hz)
{
    int g = 256;
    while (g < 65536 && g < 0.28 * rate_hz)
        g *= 2;
    return g;
}

//  Linear-phase taps (G + 1) by frequency sampling on G bins.
static int
s_design_linear (tonal_eq_t *self, const double *band_db)
{
    const int g = self->g;
    float *buf = fftwf_malloc (sizeof (float) * (size_t) g);
    fftwf_complex *spec = fftwf_malloc (sizeof (fftwf_complex) * (size_t) (g / 2 + 1));
    if (!buf || !spec) {
        fftwf_free (buf);
        fftwf_free (spec);
        return -1;
    }
    for (int k = 0; k <= g / 2; k++) {
        double f = (double) k * self->rate_hz / g;
        spec [k][0] = (float) pow (10.0, tonal_eq_curve_db (band_db, f) / 20.0);
        spec [k][1] = 0.0f;
    }
    pthread_mutex_lock (&s_fftw_lock);
    fftwf_plan p = fftwf_plan_dft_c2r_1d (g, spec, buf, FFTW_ESTIMATE);
    pthread_mutex_unlock (&s_fftw_lock);
    fftwf_execute (p);
    for (int n = 0; n <= g; n++) {
        int idx = ((n - g / 2) % g + g) % g;
        double w = 0.42 - 0.5 * cos (2 * M_PI * n / g) + 0.08 * cos (4 * M_PI * n / g);
        self->taps [n] = (float) (buf [idx] / g * w);
    }
    pthread_mutex_lock (&s_fftw_lock);
    fftwf_destroy_plan (p);
    pthread_mutex_unlock (&s_fftw_lock);
    fftwf_free (buf);
    fftwf_free (spec);
    return 0;
}

//  Minimum-phase taps (G + 1) from the folded real cepstrum on 4G bins.
static int
s_design_minimum (tonal_eq_t *self, const double *band_db)
{
    const int g = self->g, n = 4 * g;
    float *c = fftwf_malloc (sizeof (float) * (size_t) n);
    fftwf_complex *spec = fftwf_malloc (sizeof (fftwf_complex) * (size_t) (n / 2 + 1));
    if (!c || !spec) {
        fftwf_free (c);
        fftwf_free (spec);
        return -1;
    }
    pthread_mutex_lock (&s_fftw_lock);
    fftwf_plan inv = fftwf_plan_dft_c2r_1d (n, spec, c, FFTW_ESTIMATE);
    fftwf_plan fwd = fftwf_plan_dft_r2c_1d (n, c, spec, FFTW_ESTIMATE);
    pthread_mutex_unlock (&s_fftw_lock);
    //  log magnitude (natural log of the linear gain)
    for (int k = 0; k <= n / 2; k++) {
        double f = (double) k * self->rate_hz / n;
        spec [k][0] = (float) (tonal_eq_curve_db (band_db, f) * (M_LN10 / 20.0));
        spec [k][1] = 0.0f;
    }
    fftwf_execute (inv);                        //  real cepstrum * n
    for (int i = 0; i < n; i++)
        c [i] /= (float) n;
    for (int i = 1; i < n / 2; i++)
        c [i] *= 2.0f;
    for (int i = n / 2 + 1; i < n; i++)
        c [i] = 0.0f;
    fftwf_execute (fwd);                        //  log of the minimum-phase spectrum
    for (int k = 0; k <= n / 2; k++) {
        double m = exp (spec [k][0]), ph = spec [k][1];
        spec [k][0] = (float) (m * cos (ph));
        spec [k][1] = (float) (m * sin (ph));
    }
    fftwf_execute (inv);                        //  impulse response * n
    int fade = g / 8;
    for (int i = 0; i <= g; i++) {
        double w = 1.0;
        if (i > g - fade)
            w = 0.5 + 0.5 * cos (M_PI * (i - (g - fade)) / fade);
        self->taps [i] = (float) (c [i] / n * w);
    }
    pthread_mutex_lock (&s_fftw_lock);
    fftwf_destroy_plan (inv);
    fftwf_destroy_plan (fwd);
    pthread_mutex_unlock (&s_fftw_lock);
    fftwf_free (c);
    fftwf_free (spec);
    return 0;
}

//  Solves a (n x n, row-major) x = b by Gaussian elimination with partial
//  pivoting, in place; returns -1 if singular.
static int
s_solve (double *a, double *b, int n)
{
    for (int col = 0; col < n; col++) {
        int piv = col;
        for (int r = col + 1; r < n; r++)
            if (fabs (a [r * n + col]) > fabs (a [piv * n + col]))
                piv = r;
        if (fabs (a [piv * n + col]) < 1e-12)
            return -1;
        if (piv != col) {
            for (int k = 0; k < n; k++) {
                double t = a [col * n + k];
                a [col * n + k] = a [piv * n + k];
                a [piv * n + k] = t;
            }
            double t = b [col]; b [col] = b [piv]; b [piv] = t;
        }
        for (int r = col + 1; r < n; r++) {
            double f = a [r * n + col] / a [col * n + col];
            for (int k = col; k < n; k++)
                a [r * n + k] -= f * a [col * n + k];
            b [r] -= f * b [col];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        double s = b [r];
        for (int k = r + 1; k < n; k++)
            s -= a [r * n + k] * b [k];
        b [r] = s / a [r * n + r];
    }
    return 0;
}

//  Peaking cascade whose magnitude at the centres equals the curve.
static int
s_design_biquad (tonal_eq_t *self, const double *band_db)
{
    int n = 0;
    while (n < MEASURE_BANDS && measure_band_hz (n) < 0.45 * self->rate_hz)
        n++;
    self->n_sections = n;
    if (n == 0)
        return 0;
    double a [MEASURE_BANDS * MEASURE_BANDS], g [MEASURE_BANDS], t [MEASURE_BANDS];
    //  interaction matrix: response at centre i of a 1 dB section at centre k
    for (int k = 0; k < n; k++) {
        biquad_coefs_t c;
        if (biquad_design (EQ_PEAK, measure_band_hz (k), 1.0, BIQ_Q, self->rate_hz, &c))
            return -1;
        for (int i = 0; i < n; i++)
            a [i * n + k] = biquad_response_db (&c, 1, measure_band_hz (i), self->rate_hz);
    }
    for (int i = 0; i < n; i++)
        g [i] = 0.0;
    //  Newton-like refinement: the response is nearly linear in the gains
    for (int iter = 0; iter < 6; iter++) {
        for (int k = 0; k < n; k++)
            if (biquad_design (EQ_PEAK, measure_band_hz (k), g [k], BIQ_Q, self->rate_hz,
                               &self->coefs [k]))
                return -1;
        double worst = 0;
        for (int i = 0; i < n; i++) {
            t [i] = band_db [i] - biquad_response_db (self->coefs, n, measure_band_hz (i),
                                                      self->rate_hz);
            worst = fmax (worst, fabs (t [i]));
        }
        if (worst < 1e-4)
            break;
        double m [MEASURE_BANDS * MEASURE_BANDS];
        memcpy (m, a, sizeof (double) * (size_t) (n * n));
        if (s_solve (m, t, n))
            return -1;
        for (int k = 0; k < n; k++)
            g [k] += t [k];
    }
    self->bq = biquad_chain_new (self->coefs, n, self->channels);
    return self->bq ? 0 : -1;
}

tonal_eq_t *
tonal_eq_new (const double *band_db, tonal_eq_mode_t mode, int rate_hz, int channels)
{
    if (!band_db || rate_hz < 8000 || rate_hz > 768000 || channels < 1
    ||  channels > TONAL_EQ_MAX_CH || (int) mode < 0 || mode > TONAL_EQ_BIQUAD)
        return NULL;
    for (int i = 0; i < MEASURE_BANDS; i++)
        if (!isfinite (band_db [i]) || fabs (band_db [i]) > TONAL_EQ_MAX_DB)
            return NULL;
    tonal_eq_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->mode = mode;
    self->rate_hz = rate_hz;
    self->channels = channels;
    if (mode == TONAL_EQ_BIQUAD) {
        if (s_design_biquad (self, band_db)) {
            tonal_eq_destroy (&self);
            return NULL;
        }
        return self;
    }
    const int g = s_grid (rate_hz), f = 2 * g;
    self->g = g;
    self->latency = g + (mode == TONAL_EQ_LINEAR ? g / 2 : 0);
    self->taps = malloc (sizeof (float) * (size_t) (g + 1));
    self->h = fftwf_malloc (sizeof (fftwf_complex) * (size_t) (f / 2 + 1));
    self->tbuf = fftwf_malloc (sizeof (float) * (size_t) f);
    self->fbuf = fftwf_malloc (sizeof (fftwf_complex) * (size_t) (f / 2 + 1));
    self->in = calloc ((size_t) g * (size_t) channels, sizeof (float));
    self->out = calloc ((size_t) g * (size_t) channels, sizeof (float));
    self->ovl = calloc ((size_t) g * (size_t) channels, sizeof (float));
    if (!self->taps || !self->h || !self->tbuf || !self->fbuf || !self->in
    ||  !self->out || !self->ovl) {
        tonal_eq_destroy (&self);
        return NULL;
    }
    pthread_mutex_lock (&s_fftw_lock);
    self->fwd = fftwf_plan_dft_r2c_1d (f, self->tbuf, self->fbuf, FFTW_ESTIMATE);
    self->inv = fftwf_plan_dft_c2r_1d (f, self->fbuf, self->tbuf, FFTW_ESTIMATE);
    pthread_mutex_unlock (&s_fftw_lock);
    //  design, then pre-compensate the curve at the centres by the error
    //  the window's smoothing leaves there, and design again
    double adj [MEASURE_BANDS];
    memcpy (adj, band_db, sizeof adj);
    int rc = !self->fwd || !self->inv ? -1 : 0;
    for (int iter = 0; rc == 0 && iter < 6; iter++) {
        rc = mode == TONAL_EQ_LINEAR ? s_design_linear (self, adj)
                                     : s_design_minimum (self, adj);
        double worst = 0;
        for (int i = 0; rc == 0 && i < MEASURE_BANDS; i++) {
            double f = measure_band_hz (i);
            if (f >= 0.45 * rate_hz)
                continue;
            double e = tonal_eq_response_db (self, f) - band_db [i];
            adj [i] -= e;
            worst = fmax (worst, fabs (e));
        }
        if (worst < 0.01)
            break;
    }
    if (rc) {
        tonal_eq_destroy (&self);
        return NULL;
    }
    //  spectrum of the taps, scaled by 1/F for FFTW's unnormalised inverse
    memset (self->tbuf, 0, sizeof (float) * (size_t) f);
    memcpy (self->tbuf, self->taps, sizeof (float) * (size_t) (g + 1));
    fftwf_execute (self->fwd);
    for (int k = 0; k <= f / 2; k++) {
        self->h [k][0] = self->fbuf [k][0] / f;
        self->h [k][1] = self->fbuf [k][1] / f;
    }
    return self;
}

void
tonal_eq_destroy (tonal_eq_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tonal_eq_t *self = *self_p;
    pthread_mutex_lock (&s_fftw_lock);
    if (self->fwd)
        fftwf_destroy_plan (self->fwd);
    if (self->inv)
        fftwf_destroy_plan (self->inv);
    pthread_mutex_unlock (&s_fftw_lock);
    fftwf_free (self->h);
    fftwf_free (self->tbuf);
    fftwf_free (self->fbuf);
    free (self->taps);
    free (self->in);
    free (self->out);
    free (self->ovl);
    biquad_chain_destroy (&self->bq);
    free (self);
    *self_p = NULL;
}

int
tonal_eq_latency_frames (const tonal_eq_t *self)
{
    return self->mode == TONAL_EQ_BIQUAD ? 0 : self->latency;
}

void
tonal_eq_reset (tonal_eq_t *self)
{
    if (self->bq) {
        biquad_chain_reset (self->bq);
        return;
    }
    size_t n = (size_t) self->g * (size_t) self->channels;
    memset (self->in, 0, n * sizeof (float));
    memset (self->out, 0, n * sizeof (float));
    memset (self->ovl, 0, n * sizeof (float));
    self->pos = 0;
}

//  Convolves the full input block: out = (in * taps) head + previous tails.
static void
s_block (tonal_eq_t *self)
{
    const int g = self->g, f = 2 * g, ch = self->channels;
    for (int c = 0; c < ch; c++) {
        for (int i = 0; i < g; i++)
            self->tbuf [i] = self->in [(size_t) i * ch + c];
        memset (self->tbuf + g, 0, sizeof (float) * (size_t) g);
        fftwf_execute (self->fwd);
        for (int k = 0; k <= f / 2; k++) {
            float re = self->fbuf [k][0], im = self->fbuf [k][1];
            float hr = self->h [k][0], hi = self->h [k][1];
            self->fbuf [k][0] = re * hr - im * hi;
            self->fbuf [k][1] = re * hi + im * hr;
        }
        fftwf_execute (self->inv);
        float *ovl = self->ovl + (size_t) c * g;
        for (int i = 0; i < g; i++) {
            self->out [(size_t) i * ch + c] = self->tbuf [i] + ovl [i];
            ovl [i] = self->tbuf [g + i];
        }
    }
}

void
tonal_eq_process (tonal_eq_t *self, float *dst, const float *src, size_t frames)
{
    const size_t ch = (size_t) self->channels;
    if (self->bq) {
        if (dst != src)
            memmove (dst, src, frames * ch * sizeof (float));
        biquad_chain_process (self->bq, dst, frames);
        return;
    }
    size_t i = 0;
    while (i < frames) {
        size_t n = (size_t) (self->g - self->pos);
        if (n > frames - i)
            n = frames - i;
        float *in = self->in + (size_t) self->pos * ch;
        float *out = self->out + (size_t) self->pos * ch;
        //  read before write: dst may trail src in the same buffer
        for (size_t k = 0; k < n * ch; k++) {
            float x = src [i * ch + k];
            dst [i * ch + k] = out [k];
            in [k] = x;
        }
        self->pos += (int) n;
        i += n;
        if (self->pos == self->g) {
            s_block (self);
            self->pos = 0;
        }
    }
}

void
tonal_eq_run (tonal_eq_t *self, float *buf, size_t frames)
{
    tonal_eq_reset (self);
    const size_t ch = (size_t) self->channels;
    if (self->bq) {
        biquad_chain_process (self->bq, buf, frames);
        return;
    }
    const size_t lat = (size_t) self->latency;
    float scratch [256 * TONAL_EQ_MAX_CH];
    //  1. the first lat input frames: their output is the delay line's silence
    size_t head = frames < lat ? frames : lat;
    for (size_t i = 0; i < head; i += 256) {
        size_t n = head - i < 256 ? head - i : 256;
        tonal_eq_process (self, scratch, buf + i * ch, n);
    }
    //  2. the rest: output lat frames behind the input, in place
    if (frames > lat)
        tonal_eq_process (self, buf, buf + lat * ch, frames - lat);
    //  3. drain with silence: lat more frames of output (or what is left)
    size_t written = frames > lat ? frames - lat : 0;
    size_t fed = frames;
    while (written < frames || fed < frames + lat) {
        memset (scratch, 0, sizeof scratch);
        size_t n = 256;
        tonal_eq_process (self, scratch, scratch, n);
        //  these n outputs are conv indices fed - lat .. fed - lat + n - 1
        for (size_t k = 0; k < n; k++) {
            long long o = (long long) fed - (long long) lat + (long long) k;
            if (o >= (long long) written && o < (long long) frames) {
                memcpy (buf + (size_t) o * ch, scratch + k * ch, ch * sizeof (float));
            }
        }
        fed += n;
        if ((long long) fed - (long long) lat >= (long long) frames)
            break;
    }
}

double
tonal_eq_response_db (const tonal_eq_t *self, double freq_hz)
{
    if (self->mode == TONAL_EQ_BIQUAD)
        return self->n_sections ? biquad_response_db (self->coefs, self->n_sections,
                                                      freq_hz, self->rate_hz) : 0.0;
    //  the taps' DTFT at w: the phasor e^(-i w n) advances by one complex
    //  multiply per tap instead of a sin and a cos (which made the
    //  design's 31-band checks the largest cost of a master task), set
    //  exactly every 256 taps so that rounding cannot build up (relative
    //  error below 1e-13)
    const double w = 2 * M_PI * freq_hz / self->rate_hz;
    const double cw = cos (w), sw = sin (w);
    double re = 0, im = 0, c = 1, s = 0;
    for (int n = 0; n <= self->g; n++) {
        if ((n & 255) == 0) {
            c = cos (w * n);
            s = sin (w * n);
        }
        re += self->taps [n] * c;
        im -= self->taps [n] * s;
        double c_next = c * cw - s * sw;
        s = s * cw + c * sw;
        c = c_next;
    }
    return 10 * log10 (re * re + im * im + 1e-300);
}
