/*  Multiband compressor: crossover, three compressors, sum (multiband.h).
    Works through internal blocks of MULTIBAND_BLOCK_FRAMES so that the
    band buffers are allocated once.  */
#include "worker/dsp/multiband.h"
#include "worker/dsp/crossover.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct multiband_s {
    int           channels;
    crossover_t  *xover;
    compressor_t *comp [3];         //  NULL: band passes through
    float        *band [3];         //  MULTIBAND_BLOCK_FRAMES * channels each
};

multiband_t *
multiband_new (const multiband_cfg_t *cfg, int rate_hz, int channels)
{
    if (!cfg || channels < 1 || channels > COMPRESSOR_MAX_CHANNELS
    ||  !(cfg->low_hz >= 40.0 && cfg->low_hz <= 1000.0)
    ||  !(cfg->high_hz > cfg->low_hz && cfg->high_hz <= 16000.0)
    ||  !(cfg->high_hz < rate_hz / 2.0))
        return NULL;
    multiband_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->channels = channels;
    self->xover = crossover_new (cfg->low_hz, cfg->high_hz, rate_hz, channels);
    if (!self->xover)
        goto fail;
    for (int b = 0; b < 3; b++) {
        if (cfg->band [b].enabled) {
            self->comp [b] = compressor_new (&cfg->band [b], rate_hz, channels);
            if (!self->comp [b])
                goto fail;
        }
        self->band [b] = calloc ((size_t) MULTIBAND_BLOCK_FRAMES * channels, sizeof (float));
        if (!self->band [b])
            goto fail;
    }
    return self;
fail:
    multiband_destroy (&self);
    return NULL;
}

void
multiband_destroy (multiband_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    multiband_t *self = *self_p;
    crossover_destroy (&self->xover);
    for (int b = 0; b < 3; b++) {
        compressor_destroy (&self->comp [b]);
        free (self->band [b]);
    }
    free (self);
    *self_p = NULL;
}

void
multiband_process (multiband_t *self, float *buf, size_t frames)
{
    assert (self);
    const size_t ch = (size_t) self->channels;
    while (frames > 0) {
        size_t n = frames < MULTIBAND_BLOCK_FRAMES ? frames : MULTIBAND_BLOCK_FRAMES;
        crossover_process (self->xover, buf, self->band [0], self->band [1],
                           self->band [2], n);
        for (int b = 0; b < 3; b++)
            if (self->comp [b])
                compressor_process (self->comp [b], self->band [b], n);
        const float *l = self->band [0], *m = self->band [1], *h = self->band [2];
        for (size_t i = 0; i < n * ch; i++)
            buf [i] = l [i] + m [i] + h [i];
        buf += n * ch;
        frames -= n;
    }
}

void
multiband_stats (const multiband_t *self, int band, dyn_stats_t *stats)
{
    assert (self && band >= 0 && band < 3 && stats);
    if (self->comp [band])
        compressor_stats (self->comp [band], stats);
    else
        memset (stats, 0, sizeof *stats);
}

void
multiband_reset (multiband_t *self)
{
    assert (self);
    crossover_reset (self->xover);
    for (int b = 0; b < 3; b++)
        if (self->comp [b])
            compressor_reset (self->comp [b]);
}

void
multiband_set_ops (multiband_t *self, const dsp_ops_t *ops)
{
    assert (self && ops);
    crossover_set_ops (self->xover, ops);
    for (int b = 0; b < 3; b++)
        if (self->comp [b])
            compressor_set_ops (self->comp [b], ops);
}
