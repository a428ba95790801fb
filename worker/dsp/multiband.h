/*  Multiband compressor: a three-band Linkwitz-Riley crossover
    (crossover.h), one compressor per band (compressor.h; each band
    stereo-linked on its own), and the sum of the bands. With every band's
    compressor off (or at ratio 1 and 0 dB makeup) the output is the input
    through the crossover's allpass: flat magnitude.  */
#ifndef MF_DSP_MULTIBAND_H
#define MF_DSP_MULTIBAND_H

#include <stddef.h>

#include "common/spec.h"
#include "worker/dsp/compressor.h"
#include "worker/dsp/dsp_ops.h"

#define MULTIBAND_BLOCK_FRAMES 512     //  internal block (band buffers)

typedef struct multiband_s multiband_t;

//  A multiband compressor for cfg (low_hz 40..1000 < high_hz .. 16000 and
//  below rate_hz / 2; each enabled band in compressor_new's ranges; a
//  band with enabled = false passes through) for channels (1 .. 8) at
//  rate_hz. cfg->enabled is ignored. NULL on bad arguments or out of memory.
multiband_t *multiband_new (const multiband_cfg_t *cfg, int rate_hz, int channels);

//  Frees it; NULL-safe; sets *self_p to NULL.
void multiband_destroy (multiband_t **self_p);

//  Processes frames frames of interleaved audio in place. No latency
//  (the crossover's allpass phase only). Never allocates.
void multiband_process (multiband_t *self, float *buf, size_t frames);

//  Statistics of band (0 low, 1 mid, 2 high); zeros for a band that is off.
void multiband_stats (const multiband_t *self, int band, dyn_stats_t *stats);

//  Zeroes filter and detector states and statistics.
void multiband_reset (multiband_t *self);

//  Uses another kernel table (tests and benchmarks).
void multiband_set_ops (multiband_t *self, const dsp_ops_t *ops);

#endif
