/*  Mid/side width and Linkwitz-Riley mono bass (see stereo.h).

    Biquads are RBJ Audio EQ Cookbook low-pass, high-pass and all-pass
    sections in transposed direct form II, double precision, normalised
    so that a0 = 1.  */
#include "worker/dsp/stereo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double b0, b1, b2, a1, a2;
    double z1, z2;
} s_biquad_t;

struct stereo_s {
    double     width;
    bool       mono_bass;
    s_biquad_t hp [2];       //  side: LR4 high-pass = two Butterworth HP
    s_biquad_t ap;           //  mid: the matching all-pass
};

//  RBJ cookbook section: kind 0 low-pass, 1 high-pass, 2 all-pass.
static void
s_biquad_design (s_biquad_t *f, int kind, double freq_hz, double q, int rate_hz)
{
    double w0 = 2.0 * M_PI * freq_hz / rate_hz;
    double cw = cos (w0), alpha = sin (w0) / (2.0 * q);
    double a0 = 1.0 + alpha;
    double b0, b1, b2;
    if (kind == 0) {
        b0 = (1.0 - cw) / 2.0; b1 = 1.0 - cw; b2 = b0;
    }
    else
    if (kind == 1) {
        b0 = (1.0 + cw) / 2.0; b1 = -(1.0 + cw); b2 = b0;
    }
    else {
        b0 = 1.0 - alpha; b1 = -2.0 * cw; b2 = 1.0 + alpha;
    }
    f->b0 = b0 / a0;
    f->b1 = b1 / a0;
    f->b2 = b2 / a0;
    f->a1 = -2.0 * cw / a0;
    f->a2 = (1.0 - alpha) / a0;
    f->z1 = f->z2 = 0.0;
}

//  One sample through a section (transposed direct form II).
static inline double
s_biquad_run (s_biquad_t *f, double x)
{
    double y = f->b0 * x + f->z1;
    f->z1 = f->b1 * x - f->a1 * y + f->z2;
    f->z2 = f->b2 * x - f->a2 * y;
    return y;
}

bool
stereo_is_neutral (const stereo_cfg_t *cfg)
{
    return cfg->width == 1.0 && !(cfg->mono_below_hz > 0.0);
}

stereo_t *
stereo_new (const stereo_cfg_t *cfg, int rate_hz)
{
    if (!cfg || !(cfg->width >= 0.0 && cfg->width <= 2.0) || rate_hz <= 0)
        return NULL;
    if (cfg->mono_below_hz > 0.0
    &&  !(cfg->mono_below_hz >= 10.0 && cfg->mono_below_hz <= 0.45 * rate_hz))
        return NULL;
    if (isnan (cfg->mono_below_hz) || cfg->mono_below_hz < 0.0)
        return NULL;
    stereo_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->width = cfg->width;
    self->mono_bass = cfg->mono_below_hz > 0.0;
    if (self->mono_bass) {
        s_biquad_design (&self->hp [0], 1, cfg->mono_below_hz, M_SQRT1_2, rate_hz);
        s_biquad_design (&self->hp [1], 1, cfg->mono_below_hz, M_SQRT1_2, rate_hz);
        s_biquad_design (&self->ap, 2, cfg->mono_below_hz, M_SQRT1_2, rate_hz);
    }
    return self;
}

void
stereo_destroy (stereo_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

void
stereo_reset (stereo_t *self)
{
    for (int i = 0; i < 2; i++)
        self->hp [i].z1 = self->hp [i].z2 = 0.0;
    self->ap.z1 = self->ap.z2 = 0.0;
}

void
stereo_process (stereo_t *self, float *lr, size_t frames)
{
    const double w = self->width;
    if (!self->mono_bass) {
        for (size_t i = 0; i < frames; i++) {
            double l = lr [2 * i], r = lr [2 * i + 1];
            double m = 0.5 * (l + r), s = 0.5 * (l - r) * w;
            lr [2 * i] = (float) (m + s);
            lr [2 * i + 1] = (float) (m - s);
        }
        return;
    }
    for (size_t i = 0; i < frames; i++) {
        double l = lr [2 * i], r = lr [2 * i + 1];
        double m = s_biquad_run (&self->ap, 0.5 * (l + r));
        double s = s_biquad_run (&self->hp [1], s_biquad_run (&self->hp [0], 0.5 * (l - r)));
        s *= w;
        lr [2 * i] = (float) (m + s);
        lr [2 * i + 1] = (float) (m - s);
    }
}
