/*  Biquad designs (RBJ Audio EQ Cookbook; Butterworth cascades), the
    analytic magnitude response and the cascade object. The per-sample
    work is in the kernels (biquad_generic.c is the specification,
    biquad_sse2.c and biquad_avx2.c run channels in SIMD lanes).  */
#include "worker/dsp/biquad.h"
#include "common/err.h"

#include <assert.h>
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct biquad_chain_s {
    const dsp_ops_t *ops;       //  kernel table
    int              n;         //  sections
    int              channels;  //  1 .. BIQUAD_MAX_CHANNELS
    double          *coefs;     //  5 * n, packed (biquad.h)
    double          *state;     //  2 * channels * n, packed (biquad.h)
};

//  True if freq_hz and rate_hz describe a frequency strictly inside
//  (0, Nyquist) and q is positive, all finite.
static bool
s_args_ok (double freq_hz, double q, double rate_hz)
{
    return isfinite (freq_hz) && isfinite (q) && isfinite (rate_hz)
        && rate_hz > 0.0 && freq_hz > 0.0 && freq_hz < rate_hz / 2.0 && q > 0.0;
}

//  Stores b/a normalised by a0.
static void
s_store (biquad_coefs_t *c, double b0, double b1, double b2,
         double a0, double a1, double a2)
{
    c->b0 = b0 / a0;
    c->b1 = b1 / a0;
    c->b2 = b2 / a0;
    c->a1 = a1 / a0;
    c->a2 = a2 / a0;
}

int
biquad_design (eq_type_t type, double freq_hz, double gain_db, double q,
               double rate_hz, biquad_coefs_t *coefs)
{
    if (!coefs || !s_args_ok (freq_hz, q, rate_hz) || !isfinite (gain_db))
        return MF_ERR_INVALID;
    double w0 = 2.0 * M_PI * freq_hz / rate_hz;
    double cw = cos (w0), sw = sin (w0);
    double A = pow (10.0, gain_db / 40.0);
    double alpha = sw / (2.0 * q);

    switch (type) {
        case EQ_PEAK:
            s_store (coefs, 1.0 + alpha * A, -2.0 * cw, 1.0 - alpha * A,
                     1.0 + alpha / A, -2.0 * cw, 1.0 - alpha / A);
            return 0;
        case EQ_LOWPASS:
            s_store (coefs, (1.0 - cw) / 2.0, 1.0 - cw, (1.0 - cw) / 2.0,
                     1.0 + alpha, -2.0 * cw, 1.0 - alpha);
            return 0;
        case EQ_HIGHPASS:
            s_store (coefs, (1.0 + cw) / 2.0, -(1.0 + cw), (1.0 + cw) / 2.0,
                     1.0 + alpha, -2.0 * cw, 1.0 - alpha);
            return 0;
        case EQ_LOWSHELF:
        case EQ_HIGHSHELF: {
            //  Shelf slope S = q: alpha = sin(w0)/2 * sqrt((A + 1/A)(1/S - 1) + 2).
            double r = (A + 1.0 / A) * (1.0 / q - 1.0) + 2.0;
            if (!(r > 0.0))
                return MF_ERR_INVALID;
            alpha = sw / 2.0 * sqrt (r);
            double sa = 2.0 * sqrt (A) * alpha;
            if (type == EQ_LOWSHELF)
                s_store (coefs,
                         A * ((A + 1.0) - (A - 1.0) * cw + sa),
                         2.0 * A * ((A - 1.0) - (A + 1.0) * cw),
                         A * ((A + 1.0) - (A - 1.0) * cw - sa),
                         (A + 1.0) + (A - 1.0) * cw + sa,
                         -2.0 * ((A - 1.0) + (A + 1.0) * cw),
                         (A + 1.0) + (A - 1.0) * cw - sa);
            else
                s_store (coefs,
                         A * ((A + 1.0) + (A - 1.0) * cw + sa),
                         -2.0 * A * ((A - 1.0) + (A + 1.0) * cw),
                         A * ((A + 1.0) + (A - 1.0) * cw - sa),
                         (A + 1.0) - (A - 1.0) * cw + sa,
                         2.0 * ((A - 1.0) - (A + 1.0) * cw),
                         (A + 1.0) - (A - 1.0) * cw - sa);
            return 0;
        }
    }
    return MF_ERR_INVALID;
}

int
biquad_design_allpass (double freq_hz, double q, double rate_hz, biquad_coefs_t *coefs)
{
    if (!coefs || !s_args_ok (freq_hz, q, rate_hz))
        return MF_ERR_INVALID;
    double w0 = 2.0 * M_PI * freq_hz / rate_hz;
    double cw = cos (w0);
    double alpha = sin (w0) / (2.0 * q);
    s_store (coefs, 1.0 - alpha, -2.0 * cw, 1.0 + alpha,
             1.0 + alpha, -2.0 * cw, 1.0 - alpha);
    return 0;
}

int
biquad_design_butterworth (eq_type_t type, int order, double freq_hz,
                           double rate_hz, biquad_coefs_t *coefs)
{
    if ((type != EQ_HIGHPASS && type != EQ_LOWPASS)
    ||  order < 2 || order > 8 || order % 2 != 0)
        return MF_ERR_INVALID;
    //  Butterworth poles in conjugate pairs: section k has
    //  Q = 1 / (2 cos ((2k + 1) pi / (2 order))), k = 0 .. order/2 - 1.
    int n = order / 2;
    for (int k = 0; k < n; k++) {
        double q = 1.0 / (2.0 * cos ((2.0 * k + 1.0) * M_PI / (2.0 * order)));
        int rc = biquad_design (type, freq_hz, 0.0, q, rate_hz, coefs + k);
        if (rc)
            return rc;
    }
    return n;
}

double
biquad_response_db (const biquad_coefs_t *coefs, int n, double freq_hz, double rate_hz)
{
    double w = 2.0 * M_PI * freq_hz / rate_hz;
    double complex z1 = cexp (-I * w), z2 = z1 * z1;
    double db = 0.0;
    for (int s = 0; s < n; s++) {
        const biquad_coefs_t *c = coefs + s;
        double complex num = c->b0 + c->b1 * z1 + c->b2 * z2;
        double complex den = 1.0 + c->a1 * z1 + c->a2 * z2;
        double mag = cabs (num) / cabs (den);
        if (mag == 0.0)
            return -HUGE_VAL;
        db += 20.0 * log10 (mag);
    }
    return db;
}

//  Copies coefficient structs into the packed layout.
static void
s_pack (double *dst, const biquad_coefs_t *coefs, int n)
{
    for (int s = 0; s < n; s++) {
        dst [5 * s + 0] = coefs [s].b0;
        dst [5 * s + 1] = coefs [s].b1;
        dst [5 * s + 2] = coefs [s].b2;
        dst [5 * s + 3] = coefs [s].a1;
        dst [5 * s + 4] = coefs [s].a2;
    }
}

biquad_chain_t *
biquad_chain_new (const biquad_coefs_t *coefs, int n_sections, int channels)
{
    if (n_sections < 0 || n_sections > BIQUAD_MAX_SECTIONS
    ||  channels < 1 || channels > BIQUAD_MAX_CHANNELS
    ||  (n_sections > 0 && !coefs))
        return NULL;
    biquad_chain_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ops = dsp_ops ();
    self->n = n_sections;
    self->channels = channels;
    self->coefs = calloc ((size_t) 5 * n_sections + 1, sizeof (double));
    self->state = calloc ((size_t) 2 * channels * n_sections + 1, sizeof (double));
    if (!self->coefs || !self->state) {
        biquad_chain_destroy (&self);
        return NULL;
    }
    s_pack (self->coefs, coefs, n_sections);
    return self;
}

void
biquad_chain_destroy (biquad_chain_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    biquad_chain_t *self = *self_p;
    free (self->coefs);
    free (self->state);
    free (self);
    *self_p = NULL;
}

void
biquad_chain_process (biquad_chain_t *self, float *buf, size_t frames)
{
    assert (self);
    if (self->n == 0 || frames == 0)
        return;
    self->ops->biquad_run (buf, frames, self->channels, self->coefs, self->n, self->state);
}

void
biquad_chain_reset (biquad_chain_t *self)
{
    assert (self);
    memset (self->state, 0, (size_t) 2 * self->channels * self->n * sizeof (double));
}

int
biquad_chain_set_coefs (biquad_chain_t *self, const biquad_coefs_t *coefs, int n_sections)
{
    assert (self);
    if (n_sections != self->n || (n_sections > 0 && !coefs))
        return MF_ERR_INVALID;
    s_pack (self->coefs, coefs, n_sections);
    return 0;
}

int
biquad_chain_sections (const biquad_chain_t *self)
{
    assert (self);
    return self->n;
}

int
biquad_chain_channels (const biquad_chain_t *self)
{
    assert (self);
    return self->channels;
}

void
biquad_chain_set_ops (biquad_chain_t *self, const dsp_ops_t *ops)
{
    assert (self && ops);
    self->ops = ops;
}
