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
dither_reseed (dither_t *self, uint64_t seed)
{
    self->rng = seed ? seed : 0x2545F4914F6CDD1Dull;
    memset (self->err, 0, sizeof self->err);
}

void
dither_destroy (dither_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
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

//  The dithered loops, in grid steps (x * scale, exact: scale is a power
//  of two), so that the error fed back needs no scaling on its way round:
//  per channel each sample waits for the previous one's error, and that
//  chain is kept to one multiply-add, the dither's add, the rounding and
//  the error's subtraction. Both uniform variates of a sample come from
//  one xorshift64* draw (its top 26 bits and the 26 under them), so the
//  generator's own chain is one step per sample.
//  One sample of the loop: draws its dither from *rng, quantises u (in
//  steps, the error feedback taken off when shaped) and returns the
//  sample on the grid; *en gets the error to feed back (bounded).
__attribute__ ((always_inline)) static inline double
s_dither_one (uint64_t *rng, double u, double kmin, double kmax, int64_t *clamped, double *en)
{
    uint64_t x = *rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    uint64_t r = x * 0x2545F4914F6CDD1Dull;
    const double unit = 1.0 / 67108864.0;             //  2^-26
    double d = (double) (r >> 38) * unit + (double) ((r >> 12) & 0x3ffffff) * unit - 1.0;
    //  round to nearest (ties to even) without a libm call: adding and
    //  subtracting 1.5 * 2^52 leaves the integer part
    double k = (u + d + S_ROUND_MAGIC) - S_ROUND_MAGIC;
    if (k < kmin) {
        k = kmin;
        (*clamped)++;
    }
    else
    if (k > kmax) {
        k = kmax;
        (*clamped)++;
    }
    //  the fed-back error bounded to a few steps, so that a clamp cannot
    //  drive the loop unstable
    double e = k - u;
    *en = e > 4.0 ? 4.0 : e < -4.0 ? -4.0 : e;
    return k;
}

//  The dithered loops, in grid steps (x * scale, exact: scale is a power
//  of two), so that the error fed back needs no scaling on its way round:
//  per channel each sample waits for the previous one's error, and that
//  chain is kept to one multiply-add, the dither's add, the rounding and
//  the error's subtraction, with the errors in registers (stereo has its
//  own loop). Both uniform variates of a sample come from one xorshift64*
//  draw (its top 26 bits and the 26 under them), so the generator's own
//  chain is one step per sample.
__attribute__ ((always_inline)) static inline void
s_dither_run (dither_t *self, float *data, size_t frames, const bool shaped)
{
    const int ch = self->channels;
    const double scale = self->scale, lsb = self->lsb;
    const double kmin = self->kmin, kmax = self->kmax;
    const double h0 = s_shape [0], h1 = s_shape [1], h2 = s_shape [2];
    uint64_t rng = self->rng;
    int64_t clamped = 0;
    if (ch == 2) {
        double a0 = self->err [0][0] * scale, a1 = self->err [0][1] * scale,
               a2 = self->err [0][2] * scale;
        double b0 = self->err [1][0] * scale, b1 = self->err [1][1] * scale,
               b2 = self->err [1][2] * scale;
        for (size_t i = 0; i < frames; i++) {
            float *f = data + 2 * i;
            double ua = (double) f [0] * scale, ub = (double) f [1] * scale, ea, eb;
            if (f [0] == f [1]) {
                //  the same sample in both channels (dual mono): one
                //  dither for both, so that they stay the same
                if (shaped)
                    ua = (ua - (h1 * a1 + h2 * a2)) - h0 * a0;
                double ka = s_dither_one (&rng, ua, kmin, kmax, &clamped, &ea);
                if (shaped) {
                    a2 = a1, a1 = a0, a0 = ea;
                    b2 = a2, b1 = a1, b0 = a0;
                }
                f [0] = f [1] = (float) (ka * lsb);
                continue;
            }
            if (shaped) {
                ua = (ua - (h1 * a1 + h2 * a2)) - h0 * a0;
                ub = (ub - (h1 * b1 + h2 * b2)) - h0 * b0;
            }
            double ka = s_dither_one (&rng, ua, kmin, kmax, &clamped, &ea);
            double kb = s_dither_one (&rng, ub, kmin, kmax, &clamped, &eb);
            if (shaped) {
                a2 = a1, a1 = a0, a0 = ea;
                b2 = b1, b1 = b0, b0 = eb;
            }
            f [0] = (float) (ka * lsb);
            f [1] = (float) (kb * lsb);
        }
        self->err [0][0] = a0 * lsb, self->err [0][1] = a1 * lsb, self->err [0][2] = a2 * lsb;
        self->err [1][0] = b0 * lsb, self->err [1][1] = b1 * lsb, self->err [1][2] = b2 * lsb;
    }
    else
        for (size_t i = 0; i < frames; i++) {
            float *f = data + i * (size_t) ch;
            for (int c = 0; c < ch; c++) {
                double *e = self->err [c];
                double u = (double) f [c] * scale, en;
                if (shaped)
                    u = (u - (h1 * e [1] + h2 * e [2]) * scale) - h0 * e [0] * scale;
                double k = s_dither_one (&rng, u, kmin, kmax, &clamped, &en);
                if (shaped) {
                    e [2] = e [1];
                    e [1] = e [0];
                    e [0] = en * lsb;
                }
                f [c] = (float) (k * lsb);
            }
        }
    self->rng = rng;
    self->clamped += clamped;
}

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
    if (shaped)
        s_dither_run (self, data, frames, true);
    else
        s_dither_run (self, data, frames, false);
}

int64_t
dither_clamped (const dither_t *self)
{
    return self->clamped;
}
