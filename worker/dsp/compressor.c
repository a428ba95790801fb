/*  Compressor: gain computer, smooth branching detector and statistics
    (Giannoulis, Massberg, Reiss 2012; equations in compressor.h). The
    level detection and the gain application run in the dsp_ops kernels,
    one internal block of COMPRESSOR_BLOCK_FRAMES at a time.  */
#include "worker/dsp/compressor.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

struct compressor_s {
    const dsp_ops_t *ops;           //  kernel table
    comp_cfg_t       cfg;           //  validated copy
    int              channels;
    double           a_att;         //  attack coefficient exp (-1 / (tau fs))
    double           a_rel;         //  release coefficient
    double           y_l;           //  smoothed gain reduction, dB >= 0
    dyn_stats_t      stats;
    float            level_db [COMPRESSOR_BLOCK_FRAMES];  //  detector, per frame
    float            gain_db [COMPRESSOR_BLOCK_FRAMES];   //  applied gain, per frame
    double           x_l [COMPRESSOR_BLOCK_FRAMES];       //  gain computer, per frame
};

//  The gain computer's output level y_G for input level x_db (no makeup).
static inline double
s_curve_db (double x_db, double t_db, double ratio, double knee_db)
{
    double over = x_db - t_db;
    if (2.0 * over < -knee_db)
        return x_db;
    if (knee_db > 0.0 && 2.0 * fabs (over) <= knee_db) {
        double d = over + knee_db / 2.0;
        return x_db + (1.0 / ratio - 1.0) * d * d / (2.0 * knee_db);
    }
    return t_db + over / ratio;
}

double
compressor_static_db (const comp_cfg_t *cfg, double in_db)
{
    assert (cfg);
    return s_curve_db (in_db, cfg->threshold_db, cfg->ratio, cfg->knee_db) + cfg->makeup_db;
}

//  True if lo <= v <= hi (and v is a number).
static bool
s_in (double v, double lo, double hi)
{
    return v >= lo && v <= hi;
}

compressor_t *
compressor_new (const comp_cfg_t *cfg, int rate_hz, int channels)
{
    if (!cfg || rate_hz < 8000 || rate_hz > 768000
    ||  channels < 1 || channels > COMPRESSOR_MAX_CHANNELS
    ||  !s_in (cfg->threshold_db, -60.0, 0.0) || !s_in (cfg->ratio, 1.0, 20.0)
    ||  !s_in (cfg->attack_ms, 0.1, 500.0) || !s_in (cfg->release_ms, 1.0, 5000.0)
    ||  !s_in (cfg->knee_db, 0.0, 24.0) || !s_in (cfg->makeup_db, -24.0, 24.0))
        return NULL;
    compressor_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ops = dsp_ops ();
    self->cfg = *cfg;
    self->channels = channels;
    self->a_att = exp (-1.0 / (cfg->attack_ms / 1000.0 * rate_hz));
    self->a_rel = exp (-1.0 / (cfg->release_ms / 1000.0 * rate_hz));
    return self;
}

void
compressor_destroy (compressor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

void
compressor_process (compressor_t *self, float *buf, size_t frames)
{
    assert (self);
    const double t_db = self->cfg.threshold_db, ratio = self->cfg.ratio;
    const double knee_db = self->cfg.knee_db, makeup_db = self->cfg.makeup_db;
    const double a_att = self->a_att, a_rel = self->a_rel;
    //  The gain computer's x_L = x_G - y_G without branches: with
    //  over = x_G - T and d = clamp (over + W/2, 0, W),
    //      x_L = (1 - 1/R) (d^2 / (2W) + max (over - W/2, 0)),
    //  which is 0 below the knee, the quadratic inside it and
    //  (1 - 1/R) over above it (for W = 0 the first term is dropped).
    const double slope = 1.0 - 1.0 / ratio;
    const double half_w = knee_db / 2.0;
    const double inv_2w = knee_db > 0.0 ? 1.0 / (2.0 * knee_db) : 0.0;
    const double a_tab [2] = { a_rel, a_att };
    const double b_tab [2] = { 1.0 - a_rel, 1.0 - a_att };
    while (frames > 0) {
        size_t n = frames < COMPRESSOR_BLOCK_FRAMES ? frames : COMPRESSOR_BLOCK_FRAMES;
        self->ops->comp_level_db (buf, n, self->channels, self->level_db);
        //  the gain computer first, over the block (no recursion: it
        //  vectorises), so that the loop below carries the detector's
        //  recursion alone
        double *restrict xl = self->x_l;
        size_t i0 = 0;
#ifdef __SSE2__
        //  two frames at a time; max and min as the scalar code's
        //  selects (a > b ? a : b), so the values are the same
        const __m128d v_t = _mm_set1_pd (t_db), v_hw = _mm_set1_pd (half_w);
        const __m128d v_knee = _mm_set1_pd (knee_db), v_i2w = _mm_set1_pd (inv_2w);
        const __m128d v_sl = _mm_set1_pd (slope), v_0 = _mm_setzero_pd ();
        for (; i0 + 2 <= n; i0 += 2) {
            __m128d over = _mm_sub_pd (_mm_cvtps_pd (_mm_castpd_ps (
                _mm_load_sd ((const double *) (self->level_db + i0)))), v_t);
            __m128d d = _mm_min_pd (_mm_max_pd (_mm_add_pd (over, v_hw), v_0), v_knee);
            __m128d lin = _mm_max_pd (_mm_sub_pd (over, v_hw), v_0);
            _mm_storeu_pd (xl + i0, _mm_mul_pd (v_sl, _mm_add_pd (
                _mm_mul_pd (_mm_mul_pd (d, d), v_i2w), lin)));
        }
#endif
        for (size_t i = i0; i < n; i++) {
            double over = self->level_db [i] - t_db;
            double d = over + half_w;
            d = d > 0.0 ? d : 0.0;                  //  maxsd
            d = d < knee_db ? d : knee_db;          //  minsd
            double lin = over - half_w;
            lin = lin > 0.0 ? lin : 0.0;
            xl [i] = slope * (d * d * inv_2w + lin);
        }
        double y_l = self->y_l, gr_max = self->stats.gr_max_db, gr_sum = 0.0;
        for (size_t i = 0; i < n; i++) {
            //  Where the gain computer asks for nothing (x_l = 0, under the
            //  knee: most frames of most music), the step below is the
            //  release alone, y_l = a_rel y_l exactly (b_rel 0 adds +0),
            //  and y_l falls, so gr_max stays: that run takes one multiply
            //  per frame on the recursion's path instead of the select's
            //  chain. The same values to the bit.
            while (xl [i] == 0.0) {
                y_l = a_tab [0] * y_l;
                self->gain_db [i] = (float) (makeup_db - y_l);
                gr_sum += y_l;
                if (++i == n)
                    goto block_done;
            }
            double x_l = xl [i];
            //  Both the attack and the release step, then a select: the
            //  decision flips with the signal (a jump would be
            //  mispredicted) and the compare runs beside the arithmetic
            //  instead of before a table load on the recursion's path.
            double y_up = a_tab [1] * y_l + b_tab [1] * x_l;
            double y_dn = a_tab [0] * y_l + b_tab [0] * x_l;
#ifdef __SSE2__
            //  the select as a mask (compilers tend to make it a jump)
            __m128d m = _mm_cmpgt_sd (_mm_set_sd (x_l), _mm_set_sd (y_l));
            y_l = _mm_cvtsd_f64 (_mm_or_pd (_mm_and_pd (m, _mm_set_sd (y_up)),
                                            _mm_andnot_pd (m, _mm_set_sd (y_dn))));
#else
            y_l = x_l > y_l ? y_up : y_dn;
#endif
            self->gain_db [i] = (float) (makeup_db - y_l);
            gr_sum += y_l;
            gr_max = y_l > gr_max ? y_l : gr_max;
        }
    block_done:
        self->y_l = y_l;
        self->stats.gr_max_db = gr_max;
        self->stats.gr_sum_db += gr_sum;
        self->stats.frames += n;
        self->ops->gain_apply_db (buf, n, self->channels, self->gain_db);
        buf += n * (size_t) self->channels;
        frames -= n;
    }
}

void
compressor_stats (const compressor_t *self, dyn_stats_t *stats)
{
    assert (self && stats);
    *stats = self->stats;
}

void
compressor_reset (compressor_t *self)
{
    assert (self);
    self->y_l = 0.0;
    memset (&self->stats, 0, sizeof self->stats);
}

void
compressor_set_ops (compressor_t *self, const dsp_ops_t *ops)
{
    assert (self && ops);
    self->ops = ops;
}
