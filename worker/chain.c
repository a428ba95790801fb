/*  The mastering chain (see chain.h): builds the enabled stages from a
    chain_cfg_t and runs them in order, in blocks of CHAIN_BLOCK_FRAMES so
    that a block stays in cache while it passes through every stage.

    The tonal EQ is the only pre-gain stage with latency; stages after it
    simply work on its delayed stream. For whole buffers, chain_run_pre
    runs stages 1-2 in blocks, the tonal EQ with its own compensation
    (tonal_eq_run), then stages 4-6 in blocks (without the tonal EQ, all
    of them block by block in one pass); chain_run adds gain and the
    limiter's compensated run (limiter_run).  */
#include "worker/chain.h"
#include "worker/dsp/biquad.h"
#include "worker/dsp/limiter.h"
#include "worker/dsp/multiband.h"
#include "worker/dsp/stereo.h"
#include "worker/dsp/tonal_eq.h"
#include "common/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_BLOCK_FRAMES 4096

struct chain_s {
    int             rate_hz;
    int             channels;
    biquad_chain_t *hp;            //  NULL: off
    biquad_chain_t *eq;
    tonal_eq_t     *tonal;
    multiband_t    *multiband;
    compressor_t   *comp;
    stereo_t       *stereo;
    float           gain_lin;
    bool            has_gain;
    limiter_t      *limiter;
};

bool
chain_is_neutral (const chain_cfg_t *cfg, const double *tonal_db)
{
    return !(cfg->highpass_hz > 0.0) && cfg->n_eq == 0
        && (!tonal_db || tonal_eq_is_flat (tonal_db))
        && !cfg->multiband.enabled && !cfg->compressor.enabled
        && stereo_is_neutral (&cfg->stereo) && cfg->gain_db == 0.0
        && !cfg->limiter.enabled;
}

void
chain_resolve_dynamics (chain_cfg_t *cfg, double loudness_lufs)
{
    comp_cfg_t *c = &cfg->compressor;
    if (!c->relative)
        return;
    if (isfinite (loudness_lufs)) {
        double t = loudness_lufs + c->threshold_lu;
        c->threshold_db = t < -60.0 ? -60.0 : t > 0.0 ? 0.0 : t;
    }
    else
        c->enabled = false;
    c->relative = false;
}

chain_t *
chain_new (const chain_cfg_t *cfg, const double *tonal_db, double ceiling_dbtp,
           int rate_hz, int channels, char *err, size_t err_size)
{
    if (channels < 1 || channels > 8 || rate_hz < 8000 || rate_hz > 768000) {
        snprintf (err, err_size, "chain: %d channels at %d Hz is not supported "
                  "(1 .. 8 channels, 8 .. 768 kHz)", channels, rate_hz);
        return NULL;
    }
    chain_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "chain: out of memory");
        return NULL;
    }
    self->rate_hz = rate_hz;
    self->channels = channels;
    const double nyq45 = 0.45 * rate_hz;

    if (cfg->highpass_hz > 0.0) {
        biquad_coefs_t c [4];
        if (cfg->highpass_hz >= nyq45) {
            snprintf (err, err_size, "chain.highpass_hz: %g Hz is above 0.45 x %d Hz",
                      cfg->highpass_hz, rate_hz);
            goto fail;
        }
        int n = biquad_design_butterworth (EQ_HIGHPASS, cfg->highpass_order, cfg->highpass_hz,
                                           rate_hz, c);
        if (n <= 0 || !(self->hp = biquad_chain_new (c, n, channels))) {
            snprintf (err, err_size, "chain.highpass_hz: %g Hz, order %d cannot be built",
                      cfg->highpass_hz, cfg->highpass_order);
            goto fail;
        }
    }
    if (cfg->n_eq > 0) {
        biquad_coefs_t c [SPEC_MAX_EQ];
        if (cfg->n_eq > SPEC_MAX_EQ) {
            snprintf (err, err_size, "chain.eq: %d bands; at most %d", cfg->n_eq, SPEC_MAX_EQ);
            goto fail;
        }
        for (int i = 0; i < cfg->n_eq; i++) {
            const eq_band_t *b = &cfg->eq [i];
            if (!(b->freq_hz < nyq45)) {
                snprintf (err, err_size, "chain.eq[%d].freq_hz: %g Hz is above 0.45 x %d Hz",
                          i, b->freq_hz, rate_hz);
                goto fail;
            }
            if (biquad_design (b->type, b->freq_hz, b->gain_db, b->q, rate_hz, &c [i])) {
                snprintf (err, err_size, "chain.eq[%d]: freq_hz %g, gain_db %g, q %g "
                          "cannot be built", i, b->freq_hz, b->gain_db, b->q);
                goto fail;
            }
        }
        if (!(self->eq = biquad_chain_new (c, cfg->n_eq, channels))) {
            snprintf (err, err_size, "chain.eq: out of memory");
            goto fail;
        }
    }
    if (tonal_db && !tonal_eq_is_flat (tonal_db)) {
        if (!(self->tonal = tonal_eq_new (tonal_db, cfg->tonal_minimum_phase ? TONAL_EQ_MINIMUM
                                                          : TONAL_EQ_LINEAR,
                                           rate_hz, channels))) {
            snprintf (err, err_size, "tonal: the correction curve must be finite and within "
                      "+-%g dB per band", TONAL_EQ_MAX_DB);
            goto fail;
        }
    }
    if (cfg->multiband.enabled) {
        if (!(cfg->multiband.high_hz < nyq45)
        ||  !(self->multiband = multiband_new (&cfg->multiband, rate_hz, channels))) {
            snprintf (err, err_size, "chain.multiband: crossovers %g / %g Hz or a band's "
                      "settings are out of range at %d Hz", cfg->multiband.low_hz,
                      cfg->multiband.high_hz, rate_hz);
            goto fail;
        }
    }
    if (cfg->compressor.enabled && cfg->compressor.relative) {
        snprintf (err, err_size, "chain.compressor.threshold_lu: %g LU above the loudness "
                  "was not resolved against a measured loudness", cfg->compressor.threshold_lu);
        goto fail;
    }
    if (cfg->compressor.enabled
    &&  !(self->comp = compressor_new (&cfg->compressor, rate_hz, channels))) {
        snprintf (err, err_size, "chain.compressor: a value is out of range "
                  "(threshold -60..0 dB, ratio 1..20, attack 0.1..500 ms, release "
                  "1..5000 ms, knee 0..24 dB, makeup -24..24 dB)");
        goto fail;
    }
    if (channels == 2 && !stereo_is_neutral (&cfg->stereo)
    &&  !(self->stereo = stereo_new (&cfg->stereo, rate_hz))) {
        snprintf (err, err_size, "chain.stereo: width %g (0..2) or mono_below_hz %g "
                  "(0 or 10..%g) is out of range", cfg->stereo.width,
                  cfg->stereo.mono_below_hz, nyq45);
        goto fail;
    }
    if (!isfinite (cfg->gain_db) || fabs (cfg->gain_db) > 48.0) {
        snprintf (err, err_size, "chain.gain_db: %g is out of range (-48 .. 48)", cfg->gain_db);
        goto fail;
    }
    self->has_gain = cfg->gain_db != 0.0;
    self->gain_lin = (float) pow (10.0, cfg->gain_db / 20.0);
    if (cfg->limiter.enabled) {
        limiter_cfg_t lc = cfg->limiter;
        if (isnan (lc.ceiling_dbtp))
            lc.ceiling_dbtp = ceiling_dbtp;
        if (!(self->limiter = limiter_new (&lc, rate_hz, channels))) {
            snprintf (err, err_size, "chain.limiter: ceiling %g dBTP (-20..0), lookahead %g ms "
                      "(0.5..20) or release %g ms (1..2000) is out of range",
                      lc.ceiling_dbtp, lc.lookahead_ms, lc.release_ms);
            goto fail;
        }
    }
    return self;
fail:
    chain_destroy (&self);
    return NULL;
}

void
chain_destroy (chain_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    chain_t *self = *self_p;
    biquad_chain_destroy (&self->hp);
    biquad_chain_destroy (&self->eq);
    tonal_eq_destroy (&self->tonal);
    multiband_destroy (&self->multiband);
    compressor_destroy (&self->comp);
    stereo_destroy (&self->stereo);
    limiter_destroy (&self->limiter);
    free (self);
    *self_p = NULL;
}

int
chain_pre_latency_frames (const chain_t *self)
{
    return self->tonal ? tonal_eq_latency_frames (self->tonal) : 0;
}

int
chain_latency_frames (const chain_t *self)
{
    return chain_pre_latency_frames (self)
         + (self->limiter ? limiter_latency_frames (self->limiter) : 0);
}

void
chain_reset (chain_t *self)
{
    if (self->hp)        biquad_chain_reset (self->hp);
    if (self->eq)        biquad_chain_reset (self->eq);
    if (self->tonal)     tonal_eq_reset (self->tonal);
    if (self->multiband) multiband_reset (self->multiband);
    if (self->comp)      compressor_reset (self->comp);
    if (self->stereo)    stereo_reset (self->stereo);
    if (self->limiter)   limiter_reset (self->limiter);
}

//  Stages 1-2 over one block.
static void
s_stages_12 (chain_t *self, float *buf, size_t n)
{
    if (self->hp)
        biquad_chain_process (self->hp, buf, n);
    if (self->eq)
        biquad_chain_process (self->eq, buf, n);
}

//  Stages 4-7 over one block.
static void
s_stages_47 (chain_t *self, float *buf, size_t n)
{
    if (self->multiband)
        multiband_process (self->multiband, buf, n);
    if (self->comp)
        compressor_process (self->comp, buf, n);
    if (self->stereo)
        stereo_process (self->stereo, buf, n);
}

//  Static gain over n samples.
static void
s_gain (chain_t *self, float *buf, size_t samples)
{
    if (self->has_gain)
        for (size_t i = 0; i < samples; i++)
            buf [i] *= self->gain_lin;
}

void
chain_process (chain_t *self, float *buf, size_t frames)
{
    const size_t ch = (size_t) self->channels;
    for (size_t i = 0; i < frames; i += CHAIN_BLOCK_FRAMES) {
        size_t n = frames - i < CHAIN_BLOCK_FRAMES ? frames - i : CHAIN_BLOCK_FRAMES;
        float *b = buf + i * ch;
        s_stages_12 (self, b, n);
        if (self->tonal)
            tonal_eq_process (self->tonal, b, b, n);
        s_stages_47 (self, b, n);
        s_gain (self, b, n * ch);
        if (self->limiter)
            limiter_process (self->limiter, b, b, n);
    }
}

void
chain_run_pre (chain_t *self, float *buf, size_t frames)
{
    const size_t ch = (size_t) self->channels;
    chain_reset (self);
    if (!self->tonal) {
        //  each stage keeps its own state, so running stages 1-2 and
        //  4-6 block by block gives the same samples as two passes, with
        //  one trip through memory instead of two
        for (size_t i = 0; i < frames; i += CHAIN_BLOCK_FRAMES) {
            size_t n = frames - i < CHAIN_BLOCK_FRAMES ? frames - i : CHAIN_BLOCK_FRAMES;
            if (self->hp || self->eq)
                s_stages_12 (self, buf + i * ch, n);
            if (self->multiband || self->comp || self->stereo)
                s_stages_47 (self, buf + i * ch, n);
        }
        return;
    }
    if (self->hp || self->eq)
        for (size_t i = 0; i < frames; i += CHAIN_BLOCK_FRAMES) {
            size_t n = frames - i < CHAIN_BLOCK_FRAMES ? frames - i : CHAIN_BLOCK_FRAMES;
            s_stages_12 (self, buf + i * ch, n);
        }
    if (self->tonal)
        tonal_eq_run (self->tonal, buf, frames);
    if (self->multiband || self->comp || self->stereo)
        for (size_t i = 0; i < frames; i += CHAIN_BLOCK_FRAMES) {
            size_t n = frames - i < CHAIN_BLOCK_FRAMES ? frames - i : CHAIN_BLOCK_FRAMES;
            s_stages_47 (self, buf + i * ch, n);
        }
}

void
chain_run (chain_t *self, float *buf, size_t frames)
{
    chain_run_pre (self, buf, frames);
    s_gain (self, buf, frames * (size_t) self->channels);
    if (self->limiter)
        limiter_run (self->limiter, buf, frames);
}

void
chain_stats (const chain_t *self, chain_stats_t *stats)
{
    memset (stats, 0, sizeof *stats);
    if (self->comp)
        compressor_stats (self->comp, &stats->compressor);
    for (int b = 0; b < 3 && self->multiband; b++)
        multiband_stats (self->multiband, b, &stats->multiband [b]);
    if (self->limiter)
        limiter_stats (self->limiter, &stats->limiter);
}
