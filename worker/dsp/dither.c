/*  TPDF dither, optional error-feedback noise shaping, and quantisation to
    the output grid (see dither.h for the theory and references).

    Per sample:  v = x - sum_k h[k] e[n-k]        (shaped mode; else v = x)
                 y = q * round ((v + d) / q),    (to nearest, ties to even)  d = (u1 + u2 - 1) q,  u uniform [0, 1)
                 e[n] = y - v                     (total error incl. dither)
    so y = x + e[n] - sum_k h[k] e[n-k]: the error is filtered by 1 - H(z).
    Arithmetic is double; the result is exact in float for bits <= 24.  */
#include "worker/dsp/dither.h"

#include <math.h>
#include <stdbool.h>
#if defined (__x86_64__) || defined (__i386__)
#include <immintrin.h>
#define S_ROUND_AVX 1
#endif
#include <stdlib.h>
#include <string.h>

static const double s_shape [DITHER_SHAPE_TAPS] = { 1.623, -0.982, 0.109 };
#define S_ROUND_MAGIC 6755399441055744.0     //  1.5 * 2^52

//  Rounds one sample to the grid (scale steps per unit, lsb per step),
//  clamped to kmin .. kmax steps: the scalar form of the vector loops,
//  for their tails. Returns 1 when it clamped, else 0.
static inline int
s_round_one (float *x, double scale, double kmin, double kmax, double lsb)
{
    double k = ((double) *x * scale + S_ROUND_MAGIC) - S_ROUND_MAGIC;
    int clamped = (k < kmin) + (k > kmax);
    k = k < kmin ? kmin : k;
    k = k > kmax ? kmax : k;
    *x = (float) (k * lsb);
    return clamped;
}

//  GNU C vectors for the plain-rounding path (SSE2 on x86-64).
typedef float     s_v4f_t __attribute__ ((vector_size (16)));
typedef double    s_v4d_t __attribute__ ((vector_size (32)));
typedef long long s_v4i_t __attribute__ ((vector_size (32)));

struct dither_s {
    int           bits;
    int           channels;
    dither_mode_t mode;
    double        scale;          //  2^(bits-1): grid steps per unit
    double        lsb;            //  1 / scale
    double        kmin, kmax;     //  grid index range
    uint64_t      rng;            //  xorshift64* state
    double        err [DITHER_MAX_CHANNELS][DITHER_SHAPE_TAPS];  //  e[n-1], e[n-2], e[n-3]
    int64_t       clamped;
};

double
dither_lsb (int bits)
{
    return ldexp (1.0, -(bits - 1));
}

dither_t *
dither_new (int bits, int channels, dither_mode_t mode, uint64_t seed)
{
    if (bits < 8 || bits > 24 || channels < 1 || channels > DITHER_MAX_CHANNELS
    ||  (int) mode < DITHER_NONE || mode > DITHER_SHAPED)
        return NULL;
    dither_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->bits = bits;
    self->channels = channels;
    self->mode = mode;
    self->scale = ldexp (1.0, bits - 1);
    self->lsb = 1.0 / self->scale;
    self->kmin = -self->scale;
    self->kmax = self->scale - 1.0;
    self->rng = seed ? seed : 0x2545F4914F6CDD1Dull;
    return self;
}

void
dither_destroy (dither_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

//  Uniform in [0, 1) from xorshift64* (Vigna 2016), 53 bits.
static inline double
s_uniform (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double) ((x * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

#ifdef S_ROUND_AVX
//  Plain rounding of n samples with AVX, eight at a time; the clamp count.
//  Same results as the double path: x * scale is exact in float (a power
//  of two), vroundps rounds to nearest with ties to even as the magic
//  constant does, the grid bounds -2^(bits-1) and 2^(bits-1) - 1 are
//  exact in float for bits <= 24, k * lsb is exact, and a zero comes out
//  as +0 (adding +0 turns -0 into +0).
__attribute__ ((target ("avx"))) static int64_t
s_round_avx (float *data, size_t n, float scale, float lsb, float kmin, float kmax)
{
    const __m256 vs = _mm256_set1_ps (scale), vl = _mm256_set1_ps (lsb);
    const __m256 vlo = _mm256_set1_ps (kmin), vhi = _mm256_set1_ps (kmax);
    const __m256 vz = _mm256_setzero_ps ();
    int64_t clamped = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 k = _mm256_round_ps (_mm256_mul_ps (_mm256_loadu_ps (data + i), vs),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        k = _mm256_add_ps (k, vz);          //  -0 -> +0, as the magic constant gives
        int m = _mm256_movemask_ps (_mm256_or_ps (_mm256_cmp_ps (k, vlo, _CMP_LT_OQ),
                                                  _mm256_cmp_ps (k, vhi, _CMP_GT_OQ)));
        if (m) {
            clamped += __builtin_popcount ((unsigned) m);
            k = _mm256_min_ps (_mm256_max_ps (k, vlo), vhi);
        }
        _mm256_storeu_ps (data + i, _mm256_mul_ps (k, vl));
    }
    for (; i < n; i++)
        clamped += s_round_one (&data [i], scale, kmin, kmax, lsb);
    return clamped;
}
#endif

void
dither_process (dither_t *self, float *data, size_t frames)
{
    const int ch = self->channels;
    const double scale = self->scale, lsb = self->lsb;
    const bool dith = self->mode != DITHER_NONE;
    const bool shaped = self->mode == DITHER_SHAPED;
    if (!dith) {
        //  plain rounding, four samples at a time (GNU C vectors), then
        //  the same arithmetic one by one for the tail
        const size_t n = frames * (size_t) ch;
        const double kmin = self->kmin, kmax = self->kmax;
#ifdef S_ROUND_AVX
        if (__builtin_cpu_supports ("avx")) {
            self->clamped += s_round_avx (data, n, (float) scale, (float) lsb,
                                          (float) kmin, (float) kmax);
            return;
        }
#endif
        int64_t clamped = 0;
        size_t i = 0;
        const s_v4d_t vs = { scale, scale, scale, scale }, vl = { lsb, lsb, lsb, lsb };
        const s_v4d_t vm = { S_ROUND_MAGIC, S_ROUND_MAGIC, S_ROUND_MAGIC, S_ROUND_MAGIC };
        const s_v4d_t vlo = { kmin, kmin, kmin, kmin }, vhi = { kmax, kmax, kmax, kmax };
        s_v4i_t vc = { 0, 0, 0, 0 };
        for (; i + 4 <= n; i += 4) {
            s_v4f_t x;
            memcpy (&x, data + i, sizeof x);
            s_v4d_t k = (__builtin_convertvector (x, s_v4d_t) * vs + vm) - vm;
            s_v4i_t lo = k < vlo, hi = k > vhi;
            vc -= lo + hi;                           //  masks are -1 where true
            s_v4i_t kb = (s_v4i_t) k;
            kb = (kb & ~lo) | ((s_v4i_t) vlo & lo);
            kb = (kb & ~hi) | ((s_v4i_t) vhi & hi);
            s_v4f_t y = __builtin_convertvector ((s_v4d_t) kb * vl, s_v4f_t);
            memcpy (data + i, &y, sizeof y);
        }
        clamped += vc [0] + vc [1] + vc [2] + vc [3];
        for (; i < n; i++)
            clamped += s_round_one (&data [i], scale, kmin, kmax, lsb);
        self->clamped += clamped;
        return;
    }
    for (size_t i = 0; i < frames; i++)
        for (int c = 0; c < ch; c++) {
            float *s = &data [i * (size_t) ch + (size_t) c];
            double v = *s;
            double *e = self->err [c];
            if (shaped)
                v -= s_shape [0] * e [0] + s_shape [1] * e [1] + s_shape [2] * e [2];
            double d = dith ? s_uniform (&self->rng) + s_uniform (&self->rng) - 1.0 : 0.0;
            //  round to nearest (ties to even) without a libm call:
            //  adding and subtracting 1.5 * 2^52 leaves the integer part
            //  (|v * scale| < 2^51 always holds for audio)
            double k = (v * scale + d + S_ROUND_MAGIC) - S_ROUND_MAGIC;
            if (k < self->kmin) {
                k = self->kmin;
                self->clamped++;
            }
            else
            if (k > self->kmax) {
                k = self->kmax;
                self->clamped++;
            }
            double y = k * lsb;
            if (shaped) {
                //  bound the fed-back error to a few LSB so a clamp cannot
                //  drive the loop unstable
                double en = y - v;
                if (en > 4.0 * lsb)
                    en = 4.0 * lsb;
                else
                if (en < -4.0 * lsb)
                    en = -4.0 * lsb;
                e [2] = e [1];
                e [1] = e [0];
                e [0] = en;
            }
            *s = (float) y;
        }
}

int64_t
dither_clamped (const dither_t *self)
{
    return self->clamped;
}
