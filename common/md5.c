/*  MD5 (RFC 1321), see md5.h. The per-round shift amounts and sine-derived
    constants are the RFC's; the constants are computed once from their
    definition, floor(abs(sin(i + 1)) * 2^32).  */
#include "common/md5.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "common/block64.h"

static uint32_t s_k [64];
static pthread_once_t s_k_once = PTHREAD_ONCE_INIT;

static void
s_k_init (void)
{
    for (int i = 0; i < 64; i++)
        s_k [i] = (uint32_t) (fabs (sin ((double) i + 1.0)) * 4294967296.0);
}

//  One step of round F, G, H or I (RFC 1321, section 3.4): message word
//  k of m, constant i, shift r. Each function is written so that b, the
//  word the previous step made, comes in last: F as d ^ (b & (c ^ d)),
//  G's two disjoint halves added (c & ~d first), I as c ^ (b | ~d).
#define S_STEP(fn, m, a, b, c, d, k, i, r) do {                         \
        (a) += (m) [k] + s_k [i];                                       \
        fn ((a), (b), (c), (d));                                        \
        (a) = ((a) << (r) | (a) >> (32 - (r))) + (b);                   \
    } while (0)
#define S_F(a, b, c, d)  ((a) += (d) ^ ((b) & ((c) ^ (d))))
#define S_G(a, b, c, d)  ((a) += ((c) & ~(d)), (a) += ((b) & (d)))
#define S_H(a, b, c, d)  ((a) += (b) ^ (c) ^ (d))
#define S_I(a, b, c, d)  ((a) += (c) ^ ((b) | ~(d)))

//  The 64 steps, STEP being one step on every lane; the rotation of a,
//  b, c, d is RFC 1321's: [abcd k s i], [dabc ...], [cdab ...], [bcda ...].
#define S_STEPS(STEP) do {                                              \
        _Pragma ("GCC unroll 4")                                        \
        for (int i = 0; i < 16; i += 4) {                               \
            STEP (S_F, a, b, c, d, i, i, 7);                            \
            STEP (S_F, d, a, b, c, i + 1, i + 1, 12);                   \
            STEP (S_F, c, d, a, b, i + 2, i + 2, 17);                   \
            STEP (S_F, b, c, d, a, i + 3, i + 3, 22);                   \
        }                                                               \
        _Pragma ("GCC unroll 4")                                        \
        for (int i = 16; i < 32; i += 4) {                              \
            STEP (S_G, a, b, c, d, (5 * i + 1) % 16, i, 5);             \
            STEP (S_G, d, a, b, c, (5 * i + 6) % 16, i + 1, 9);         \
            STEP (S_G, c, d, a, b, (5 * i + 11) % 16, i + 2, 14);       \
            STEP (S_G, b, c, d, a, (5 * i + 16) % 16, i + 3, 20);       \
        }                                                               \
        _Pragma ("GCC unroll 4")                                        \
        for (int i = 32; i < 48; i += 4) {                              \
            STEP (S_H, a, b, c, d, (3 * i + 5) % 16, i, 4);             \
            STEP (S_H, d, a, b, c, (3 * i + 8) % 16, i + 1, 11);        \
            STEP (S_H, c, d, a, b, (3 * i + 11) % 16, i + 2, 16);       \
            STEP (S_H, b, c, d, a, (3 * i + 14) % 16, i + 3, 23);       \
        }                                                               \
        _Pragma ("GCC unroll 4")                                        \
        for (int i = 48; i < 64; i += 4) {                              \
            STEP (S_I, a, b, c, d, (7 * i) % 16, i, 6);                 \
            STEP (S_I, d, a, b, c, (7 * i + 7) % 16, i + 1, 10);        \
            STEP (S_I, c, d, a, b, (7 * i + 14) % 16, i + 2, 15);       \
            STEP (S_I, b, c, d, a, (7 * i + 21) % 16, i + 3, 21);       \
        }                                                               \
    } while (0)

//  A step on lane 0 (variables a0 .. d0, words m0), and on lanes 0 and 1
//  side by side: two independent chains, which a core runs at once (a
//  step waits only on the one before it in its own chain).
#define S_ONE(fn, a, b, c, d, k, i, r)                                  \
    S_STEP (fn, m0, a##0, b##0, c##0, d##0, k, i, r)
#define S_TWO(fn, a, b, c, d, k, i, r) do {                             \
        S_STEP (fn, m0, a##0, b##0, c##0, d##0, k, i, r);               \
        S_STEP (fn, m1, a##1, b##1, c##1, d##1, k, i, r);               \
    } while (0)

//  The message block at p as 16 little-endian words.
static inline void
s_words (uint32_t m [16], const uint8_t *p)
{
    for (int i = 0; i < 16; i++)
        m [i] = (uint32_t) p [4 * i] | (uint32_t) p [4 * i + 1] << 8
              | (uint32_t) p [4 * i + 2] << 16 | (uint32_t) p [4 * i + 3] << 24;
}

//  Compresses n 64-byte blocks at p into the state.
static void
s_block (uint32_t st [4], const uint8_t *p, size_t n)
{
    uint32_t a0 = st [0], b0 = st [1], c0 = st [2], d0 = st [3];
    for (; n > 0; n--, p += 64) {
        uint32_t m0 [16];
        s_words (m0, p);
        const uint32_t sa = a0, sb = b0, sc = c0, sd = d0;
        S_STEPS (S_ONE);
        a0 += sa;
        b0 += sb;
        c0 += sc;
        d0 += sd;
    }
    st [0] = a0;
    st [1] = b0;
    st [2] = c0;
    st [3] = d0;
}

//  Compresses n blocks at p into st and n blocks at q into su, the two
//  chains side by side.
static void
s_block2 (uint32_t st [4], const uint8_t *p, uint32_t su [4], const uint8_t *q, size_t n)
{
    uint32_t a0 = st [0], b0 = st [1], c0 = st [2], d0 = st [3];
    uint32_t a1 = su [0], b1 = su [1], c1 = su [2], d1 = su [3];
    for (; n > 0; n--, p += 64, q += 64) {
        uint32_t m0 [16], m1 [16];
        s_words (m0, p);
        s_words (m1, q);
        const uint32_t sa0 = a0, sb0 = b0, sc0 = c0, sd0 = d0;
        const uint32_t sa1 = a1, sb1 = b1, sc1 = c1, sd1 = d1;
        S_STEPS (S_TWO);
        a0 += sa0;
        b0 += sb0;
        c0 += sc0;
        d0 += sd0;
        a1 += sa1;
        b1 += sb1;
        c1 += sc1;
        d1 += sd1;
    }
    st [0] = a0;
    st [1] = b0;
    st [2] = c0;
    st [3] = d0;
    su [0] = a1;
    su [1] = b1;
    su [2] = c1;
    su [3] = d1;
}

void
md5_init (md5_ctx_t *ctx)
{
    pthread_once (&s_k_once, s_k_init);
    memset (ctx, 0, sizeof *ctx);
    ctx->state [0] = 0x67452301u;
    ctx->state [1] = 0xefcdab89u;
    ctx->state [2] = 0x98badcfeu;
    ctx->state [3] = 0x10325476u;
}

void
md5_update (md5_ctx_t *ctx, const void *data, size_t len)
{
    ctx->total_bytes += len;
    block64_update (ctx->state, ctx->block, &ctx->block_len, s_block, data, len);
}

//  Completes ctx's pending block from the len bytes at p; returns how
//  many it took (all of them when the block is still not whole).
static size_t
s_fill (md5_ctx_t *ctx, const uint8_t *p, size_t len)
{
    if (ctx->block_len == 0)
        return 0;
    size_t take = 64 - ctx->block_len < len ? 64 - ctx->block_len : len;
    memcpy (ctx->block + ctx->block_len, p, take);
    ctx->block_len += take;
    if (ctx->block_len == 64) {
        s_block (ctx->state, ctx->block, 1);
        ctx->block_len = 0;
    }
    return take;
}

void
md5_update2 (md5_ctx_t *x, md5_ctx_t *y, const void *data, size_t len)
{
    const uint8_t *p = data;
    x->total_bytes += len;
    y->total_bytes += len;
    //  each context on its own block boundaries: x's blocks start at
    //  p + i, y's at p + j
    size_t i = s_fill (x, p, len), j = s_fill (y, p, len);
    size_t nx = x->block_len ? 0 : (len - i) / 64, ny = y->block_len ? 0 : (len - j) / 64;
    size_t both = nx < ny ? nx : ny;
    if (both > 0)
        s_block2 (x->state, p + i, y->state, p + j, both);
    i += both * 64;
    j += both * 64;
    if (!x->block_len)
        block64_update (x->state, x->block, &x->block_len, s_block, p + i, len - i);
    if (!y->block_len)
        block64_update (y->state, y->block, &y->block_len, s_block, p + j, len - j);
}

void
md5_final (md5_ctx_t *ctx, uint8_t digest [MD5_DIGEST_BYTES])
{
    uint64_t bits = ctx->total_bytes * 8;
    uint8_t pad [72] = { 0x80 };
    size_t n = ctx->block_len < 56 ? 56 - ctx->block_len : 120 - ctx->block_len;
    for (int i = 0; i < 8; i++)
        pad [n + (size_t) i] = (uint8_t) (bits >> (8 * i));
    md5_update (ctx, pad, n + 8);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            digest [4 * i + j] = (uint8_t) (ctx->state [i] >> (8 * j));
}
