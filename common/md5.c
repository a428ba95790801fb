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
//  k, constant i, shift r. Each function is written so that b, the word
//  the previous step made, comes in last: F as d ^ (b & (c ^ d)), G's
//  two disjoint halves added (c & ~d first), I as c ^ (b | ~d).
#define S_STEP(fn, a, b, c, d, k, i, r) do {                            \
        (a) += m [k] + s_k [i];                                         \
        fn ((a), (b), (c), (d));                                        \
        (a) = ((a) << (r) | (a) >> (32 - (r))) + (b);                   \
    } while (0)
#define S_F(a, b, c, d)  ((a) += (d) ^ ((b) & ((c) ^ (d))))
#define S_G(a, b, c, d)  ((a) += ((c) & ~(d)), (a) += ((b) & (d)))
#define S_H(a, b, c, d)  ((a) += (b) ^ (c) ^ (d))
#define S_I(a, b, c, d)  ((a) += (c) ^ ((b) | ~(d)))

//  Compresses n 64-byte blocks at p into the state.
static void
s_block (uint32_t st [4], const uint8_t *p, size_t n)
{
    uint32_t a = st [0], b = st [1], c = st [2], d = st [3];
    for (; n > 0; n--, p += 64) {
        uint32_t m [16];
        for (int i = 0; i < 16; i++)
            m [i] = (uint32_t) p [4 * i] | (uint32_t) p [4 * i + 1] << 8
                  | (uint32_t) p [4 * i + 2] << 16 | (uint32_t) p [4 * i + 3] << 24;
        const uint32_t a0 = a, b0 = b, c0 = c, d0 = d;
        for (int i = 0; i < 16; i += 4) {
            S_STEP (S_F, a, b, c, d, i, i, 7);
            S_STEP (S_F, d, a, b, c, i + 1, i + 1, 12);
            S_STEP (S_F, c, d, a, b, i + 2, i + 2, 17);
            S_STEP (S_F, b, c, d, a, i + 3, i + 3, 22);
        }
        for (int i = 16; i < 32; i += 4) {
            S_STEP (S_G, a, b, c, d, (5 * i + 1) % 16, i, 5);
            S_STEP (S_G, d, a, b, c, (5 * i + 6) % 16, i + 1, 9);
            S_STEP (S_G, c, d, a, b, (5 * i + 11) % 16, i + 2, 14);
            S_STEP (S_G, b, c, d, a, (5 * i + 16) % 16, i + 3, 20);
        }
        for (int i = 32; i < 48; i += 4) {
            S_STEP (S_H, a, b, c, d, (3 * i + 5) % 16, i, 4);
            S_STEP (S_H, d, a, b, c, (3 * i + 8) % 16, i + 1, 11);
            S_STEP (S_H, c, d, a, b, (3 * i + 11) % 16, i + 2, 16);
            S_STEP (S_H, b, c, d, a, (3 * i + 14) % 16, i + 3, 23);
        }
        for (int i = 48; i < 64; i += 4) {
            S_STEP (S_I, a, b, c, d, (7 * i) % 16, i, 6);
            S_STEP (S_I, d, a, b, c, (7 * i + 7) % 16, i + 1, 10);
            S_STEP (S_I, c, d, a, b, (7 * i + 14) % 16, i + 2, 15);
            S_STEP (S_I, b, c, d, a, (7 * i + 21) % 16, i + 3, 21);
        }
        a += a0;
        b += b0;
        c += c0;
        d += d0;
    }
    st [0] = a;
    st [1] = b;
    st [2] = c;
    st [3] = d;
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
