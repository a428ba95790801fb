/*  Three-band LR4 crossover with allpass compensation (see crossover.h):
    four biquad cascades, all in the biquad kernels.  */
#include "worker/dsp/crossover.h"

#include <assert.h>
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct crossover_s {
    int             channels;
    double          rate_hz;
    biquad_coefs_t  low [3];        //  LP4(low_hz) then AP(high_hz)
    biquad_coefs_t  hpl [2];        //  HP4(low_hz)
    biquad_coefs_t  lph [2];        //  LP4(high_hz)
    biquad_coefs_t  hph [2];        //  HP4(high_hz)
    biquad_chain_t *c_low, *c_hpl, *c_lph, *c_hph;
};

crossover_t *
crossover_new (double low_hz, double high_hz, double rate_hz, int channels)
{
    if (!(low_hz > 0.0) || !(high_hz > low_hz) || !(high_hz < rate_hz / 2.0)
    ||  !isfinite (rate_hz) || channels < 1 || channels > BIQUAD_MAX_CHANNELS)
        return NULL;
    crossover_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->channels = channels;
    self->rate_hz = rate_hz;
    const double q = M_SQRT1_2;         //  Butterworth 2nd order
    int rc = 0;
    rc |= biquad_design (EQ_LOWPASS, low_hz, 0.0, q, rate_hz, &self->low [0]);
    self->low [1] = self->low [0];
    rc |= biquad_design_allpass (high_hz, q, rate_hz, &self->low [2]);
    rc |= biquad_design (EQ_HIGHPASS, low_hz, 0.0, q, rate_hz, &self->hpl [0]);
    self->hpl [1] = self->hpl [0];
    rc |= biquad_design (EQ_LOWPASS, high_hz, 0.0, q, rate_hz, &self->lph [0]);
    self->lph [1] = self->lph [0];
    rc |= biquad_design (EQ_HIGHPASS, high_hz, 0.0, q, rate_hz, &self->hph [0]);
    self->hph [1] = self->hph [0];
    if (rc)
        goto fail;
    self->c_low = biquad_chain_new (self->low, 3, channels);
    self->c_hpl = biquad_chain_new (self->hpl, 2, channels);
    self->c_lph = biquad_chain_new (self->lph, 2, channels);
    self->c_hph = biquad_chain_new (self->hph, 2, channels);
    if (!self->c_low || !self->c_hpl || !self->c_lph || !self->c_hph)
        goto fail;
    return self;
fail:
    crossover_destroy (&self);
    return NULL;
}

void
crossover_destroy (crossover_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    crossover_t *self = *self_p;
    biquad_chain_destroy (&self->c_low);
    biquad_chain_destroy (&self->c_hpl);
    biquad_chain_destroy (&self->c_lph);
    biquad_chain_destroy (&self->c_hph);
    free (self);
    *self_p = NULL;
}

void
crossover_process (crossover_t *self, const float *in, float *low, float *mid,
                   float *high, size_t frames)
{
    assert (self && low && mid && high);
    size_t bytes = frames * (size_t) self->channels * sizeof (float);
    //  Copy the input to mid and low before any band is written, so that
    //  in may alias any one band.
    if (mid != in)
        memmove (mid, in, bytes);
    if (low != in)
        memmove (low, in, bytes);
    biquad_chain_process (self->c_low, low, frames);
    biquad_chain_process (self->c_hpl, mid, frames);
    memcpy (high, mid, bytes);
    biquad_chain_process (self->c_lph, mid, frames);
    biquad_chain_process (self->c_hph, high, frames);
}

void
crossover_reset (crossover_t *self)
{
    assert (self);
    biquad_chain_reset (self->c_low);
    biquad_chain_reset (self->c_hpl);
    biquad_chain_reset (self->c_lph);
    biquad_chain_reset (self->c_hph);
}

//  Complex response of n sections at freq_hz.
static double complex
s_h (const biquad_coefs_t *c, int n, double freq_hz, double rate_hz)
{
    double w = 2.0 * M_PI * freq_hz / rate_hz;
    double complex z1 = cexp (-I * w), z2 = z1 * z1, h = 1.0;
    for (int s = 0; s < n; s++)
        h *= (c [s].b0 + c [s].b1 * z1 + c [s].b2 * z2) / (1.0 + c [s].a1 * z1 + c [s].a2 * z2);
    return h;
}

double
crossover_response_db (const crossover_t *self, int band, double freq_hz)
{
    assert (self && band >= 0 && band <= 3);
    double fs = self->rate_hz;
    double complex lo = s_h (self->low, 3, freq_hz, fs);
    double complex hl = s_h (self->hpl, 2, freq_hz, fs);
    double complex mi = hl * s_h (self->lph, 2, freq_hz, fs);
    double complex hi = hl * s_h (self->hph, 2, freq_hz, fs);
    double complex h = band == 0 ? lo : band == 1 ? mi : band == 2 ? hi : lo + mi + hi;
    double mag = cabs (h);
    return mag > 0.0 ? 20.0 * log10 (mag) : -HUGE_VAL;
}

void
crossover_set_ops (crossover_t *self, const dsp_ops_t *ops)
{
    assert (self && ops);
    biquad_chain_set_ops (self->c_low, ops);
    biquad_chain_set_ops (self->c_hpl, ops);
    biquad_chain_set_ops (self->c_lph, ops);
    biquad_chain_set_ops (self->c_hph, ops);
}
