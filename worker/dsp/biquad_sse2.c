/*  Biquad cascade kernel, SSE2: two channels per __m128d (channels in
    lanes), the same double-precision operations in the same order as the
    generic kernel, so the output is bit-identical to it. An odd last
    channel (and mono) runs the scalar recurrence.

        lane      0          1
        x        ch c       ch c+1       (two adjacent interleaved floats)
        s1, s2   state[c]   state[c+1]   (one 16-byte load from the
                                          packed state of biquad.h)  */
#include "worker/dsp/dsp_ops.h"
#include "worker/dsp/biquad.h"

#include <emmintrin.h>
#include <string.h>

//  Two adjacent floats (any alignment) widened to doubles.
static inline __m128d
s_load2 (const float *f)
{
    double t;
    memcpy (&t, f, sizeof t);
    return _mm_cvtps_pd (_mm_castpd_ps (_mm_set_sd (t)));
}

//  Two doubles narrowed to two adjacent floats (any alignment).
static inline void
s_store2 (float *f, __m128d v)
{
    double t;
    _mm_store_sd (&t, _mm_castps_pd (_mm_cvtpd_ps (v)));
    memcpy (f, &t, sizeof t);
}

//  Channels c and c + 1 through every section, all frames.
static inline __attribute__ ((always_inline)) void
s_pair_n (float *buf, size_t frames, size_t ch, size_t c, const double *coefs,
        const int n, double *state)
{
    __m128d s1 [BIQUAD_MAX_SECTIONS], s2 [BIQUAD_MAX_SECTIONS];
    __m128d k [BIQUAD_MAX_SECTIONS][5];
    #pragma GCC unroll 8
    for (int s = 0; s < n; s++) {
        s1 [s] = _mm_loadu_pd (state + (size_t) (2 * s) * ch + c);
        s2 [s] = _mm_loadu_pd (state + (size_t) (2 * s + 1) * ch + c);
        for (int j = 0; j < 5; j++)
            k [s][j] = _mm_set1_pd (coefs [5 * s + j]);
    }
    for (size_t i = 0; i < frames; i++) {
        float *f = buf + i * ch + c;
        __m128d x = s_load2 (f);
        #pragma GCC unroll 8
        for (int s = 0; s < n; s++) {
            __m128d y = _mm_add_pd (_mm_mul_pd (k [s][0], x), s1 [s]);
            s1 [s] = _mm_add_pd (_mm_sub_pd (_mm_mul_pd (k [s][1], x),
                                             _mm_mul_pd (k [s][3], y)), s2 [s]);
            s2 [s] = _mm_sub_pd (_mm_mul_pd (k [s][2], x), _mm_mul_pd (k [s][4], y));
            x = y;
        }
        s_store2 (f, x);
    }
    #pragma GCC unroll 8
    for (int s = 0; s < n; s++) {
        _mm_storeu_pd (state + (size_t) (2 * s) * ch + c, s1 [s]);
        _mm_storeu_pd (state + (size_t) (2 * s + 1) * ch + c, s2 [s]);
    }
}

//  s_pair_n with the section count as a constant for 1 .. 8 sections, so
//  that the compiler unrolls the cascade and keeps the state in
//  registers (a state in memory adds store-to-load latency to the
//  recurrence); any other count takes the general loop.
static void
s_pair (float *buf, size_t frames, size_t ch, size_t c, const double *coefs,
        int n, double *state)
{
    switch (n) {
        case 1: s_pair_n (buf, frames, ch, c, coefs, 1, state); break;
        case 2: s_pair_n (buf, frames, ch, c, coefs, 2, state); break;
        case 3: s_pair_n (buf, frames, ch, c, coefs, 3, state); break;
        case 4: s_pair_n (buf, frames, ch, c, coefs, 4, state); break;
        case 5: s_pair_n (buf, frames, ch, c, coefs, 5, state); break;
        case 6: s_pair_n (buf, frames, ch, c, coefs, 6, state); break;
        case 7: s_pair_n (buf, frames, ch, c, coefs, 7, state); break;
        case 8: s_pair_n (buf, frames, ch, c, coefs, 8, state); break;
        default: s_pair_n (buf, frames, ch, c, coefs, n, state); break;
    }
}

//  One channel, scalar (the generic recurrence).
static void
s_single (float *buf, size_t frames, size_t ch, size_t c, const double *coefs,
          int n, double *state)
{
    for (size_t i = 0; i < frames; i++) {
        double x = buf [i * ch + c];
        for (int s = 0; s < n; s++) {
            const double *k = coefs + 5 * s;
            double *s1 = state + (size_t) (2 * s) * ch + c;
            double *s2 = s1 + ch;
            double y = k [0] * x + *s1;
            *s1 = k [1] * x - k [3] * y + *s2;
            *s2 = k [2] * x - k [4] * y;
            x = y;
        }
        buf [i * ch + c] = (float) x;
    }
}

//  ops->biquad_run (dsp_ops.h).
static void
s_biquad_run_sse2 (float *buf, size_t frames, int channels, const double *coefs,
                   int n_sections, double *state)
{
    const size_t ch = (size_t) channels;
    size_t c = 0;
    for (; c + 2 <= ch; c += 2)
        s_pair (buf, frames, ch, c, coefs, n_sections, state);
    if (c < ch)
        s_single (buf, frames, ch, c, coefs, n_sections, state);
}

void
biquad_fill_sse2 (dsp_ops_t *ops)
{
    ops->biquad_run = s_biquad_run_sse2;
}
