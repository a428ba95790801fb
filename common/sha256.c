/*  SHA-256 as specified in FIPS 180-4, sections 4.1.2 (functions), 4.2.2
    (constants), 5.1.1 (padding), 5.3.3 (initial hash value) and 6.2.2
    (computation). The portable C block function is the specification; on
    x86-64 CPUs with the SHA extensions (SHA-NI) a second block function
    using SHA256RNDS2 / SHA256MSG1 / SHA256MSG2 is chosen at run time,
    several times faster, so that manifests of large albums cost little.
    sha256_use_hardware lets tests run both on the same vectors.  */
#include "common/sha256.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#if defined (__x86_64__) && (defined (__GNUC__) || defined (__clang__))
#   define S_HAVE_SHANI 1
#   include <cpuid.h>
#   include <immintrin.h>
#endif

#include "common/block64.h"
#include "common/err.h"

static const uint32_t s_k [64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

//  Rotates x right by n bits (0 < n < 32).
static inline uint32_t
s_rotr (uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

//  Processes one 64-byte block into the state (FIPS 180-4, 6.2.2).
static void
s_compress_one (uint32_t state [8], const uint8_t block [64])
{
    uint32_t w [64];
    for (int t = 0; t < 16; t++)
        w [t] = (uint32_t) block [4 * t] << 24 | (uint32_t) block [4 * t + 1] << 16
              | (uint32_t) block [4 * t + 2] << 8 | (uint32_t) block [4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = s_rotr (w [t - 15], 7) ^ s_rotr (w [t - 15], 18) ^ (w [t - 15] >> 3);
        uint32_t s1 = s_rotr (w [t - 2], 17) ^ s_rotr (w [t - 2], 19) ^ (w [t - 2] >> 10);
        w [t] = w [t - 16] + s0 + w [t - 7] + s1;
    }
    uint32_t a = state [0], b = state [1], c = state [2], d = state [3];
    uint32_t e = state [4], f = state [5], g = state [6], h = state [7];
    for (int t = 0; t < 64; t++) {
        uint32_t S1 = s_rotr (e, 6) ^ s_rotr (e, 11) ^ s_rotr (e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = h + S1 + ch + s_k [t] + w [t];
        uint32_t S0 = s_rotr (a, 2) ^ s_rotr (a, 13) ^ s_rotr (a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        h = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    state [0] += a; state [1] += b; state [2] += c; state [3] += d;
    state [4] += e; state [5] += f; state [6] += g; state [7] += h;
}

//  Processes n blocks at p.
static void
s_compress (uint32_t state [8], const uint8_t *p, size_t n)
{
    for (; n > 0; n--, p += 64)
        s_compress_one (state, p);
}

#ifdef S_HAVE_SHANI
//  The same block function with the SHA extensions, over n blocks. The
//  state is held as ABEF / CDGH in two registers, as SHA256RNDS2 wants
//  it, from the first block to the last; each step of four rounds adds
//  W+K for those rounds and runs two SHA256RNDS2 (two rounds each). The
//  message words sit in four registers, each holding four: from the
//  fifth step on, the register of W[4k-16..] becomes W[4k..4k+3] (MSG1
//  adds sigma0 of W[t-15] to W[t-16], the add brings in W[t-7], MSG2
//  adds sigma1 of W[t-2]; FIPS 180-4, 6.2.2, step 1).
#define S_ROUNDS4(w, k) do {                                                    \
        __m128i wk = _mm_add_epi32 ((w), _mm_loadu_si128 ((const __m128i *) &s_k [4 * (k)])); \
        cdgh = _mm_sha256rnds2_epu32 (cdgh, abef, wk);                           \
        abef = _mm_sha256rnds2_epu32 (abef, cdgh, _mm_shuffle_epi32 (wk, 0x0E)); \
    } while (0)
#define S_SCHEDULE(w0, w1, w2, w3) do {                                         \
        __m128i x = _mm_sha256msg1_epu32 ((w0), (w1));                           \
        x = _mm_add_epi32 (x, _mm_alignr_epi8 ((w3), (w2), 4));                  \
        (w0) = _mm_sha256msg2_epu32 (x, (w3));                                   \
    } while (0)

__attribute__ ((target ("sha,sse4.1,ssse3")))
static void
s_compress_shani (uint32_t state [8], const uint8_t *p, size_t n)
{
    const __m128i bswap = _mm_set_epi64x (0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i dcba = _mm_loadu_si128 ((const __m128i *) &state [0]);
    __m128i hgfe = _mm_loadu_si128 ((const __m128i *) &state [4]);
    __m128i cdab = _mm_shuffle_epi32 (dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32 (hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8 (cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16 (efgh, cdab, 0xF0);
    for (; n > 0; n--, p += 64) {
        const __m128i abef_in = abef, cdgh_in = cdgh;
        __m128i w0 = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *) (p + 0)), bswap);
        __m128i w1 = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *) (p + 16)), bswap);
        __m128i w2 = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *) (p + 32)), bswap);
        __m128i w3 = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *) (p + 48)), bswap);
        S_ROUNDS4 (w0, 0);
        S_ROUNDS4 (w1, 1);
        S_ROUNDS4 (w2, 2);
        S_ROUNDS4 (w3, 3);
        for (int k = 4; k < 16; k += 4) {
            S_SCHEDULE (w0, w1, w2, w3);
            S_ROUNDS4 (w0, k);
            S_SCHEDULE (w1, w2, w3, w0);
            S_ROUNDS4 (w1, k + 1);
            S_SCHEDULE (w2, w3, w0, w1);
            S_ROUNDS4 (w2, k + 2);
            S_SCHEDULE (w3, w0, w1, w2);
            S_ROUNDS4 (w3, k + 3);
        }
        abef = _mm_add_epi32 (abef, abef_in);
        cdgh = _mm_add_epi32 (cdgh, cdgh_in);
    }
    __m128i feba = _mm_shuffle_epi32 (abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32 (cdgh, 0xB1);
    _mm_storeu_si128 ((__m128i *) &state [0], _mm_blend_epi16 (feba, dchg, 0xF0));
    _mm_storeu_si128 ((__m128i *) &state [4], _mm_alignr_epi8 (dchg, feba, 8));
}
#undef S_ROUNDS4
#undef S_SCHEDULE

//  True if the CPU has the SHA extensions and SSSE3/SSE4.1 (CPUID 7.0:EBX
//  bit 29; 1:ECX bits 9 and 19).
static bool
s_cpu_has_shani (void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid (1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19)))
        return false;
    if (!__get_cpuid_count (7, 0, &a, &b, &c, &d))
        return false;
    return (b & (1u << 29)) != 0;
}
#endif

//  0: not chosen yet, 1: portable C, 2: SHA extensions.
static int s_impl;

//  Hashes n blocks at p with the chosen block function.
static void
s_block (uint32_t state [8], const uint8_t *p, size_t n)
{
    int impl = __atomic_load_n (&s_impl, __ATOMIC_RELAXED);
    if (impl == 0) {
        sha256_use_hardware (true);
        impl = __atomic_load_n (&s_impl, __ATOMIC_RELAXED);
    }
#ifdef S_HAVE_SHANI
    if (impl == 2) {
        s_compress_shani (state, p, n);
        return;
    }
#endif
    s_compress (state, p, n);
}

//  Chooses the block function; the hardware one only if the CPU has it.
bool
sha256_use_hardware (bool allow)
{
    int impl = 1;
#ifdef S_HAVE_SHANI
    if (allow && s_cpu_has_shani ())
        impl = 2;
#endif
    __atomic_store_n (&s_impl, impl, __ATOMIC_RELAXED);
    return impl == 2;
}

//  Sets the initial hash value (FIPS 180-4, 5.3.3).
void
sha256_init (sha256_ctx_t *ctx)
{
    static const uint32_t h0 [8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    };
    memcpy (ctx->state, h0, sizeof h0);
    ctx->total_bytes = 0;
    ctx->block_len = 0;
}

//  Hashes whole blocks at once and keeps the rest for later.
void
sha256_update (sha256_ctx_t *ctx, const void *data, size_t len)
{
    ctx->total_bytes += len;
    block64_update (ctx->state, ctx->block, &ctx->block_len, s_block, data, len);
}

//  Pads the message (5.1.1), hashes the last block(s), writes big-endian H0..H7.
void
sha256_final (sha256_ctx_t *ctx, uint8_t digest [SHA256_DIGEST_BYTES])
{
    uint64_t bits = ctx->total_bytes * 8;
    //  padding (5.1.1): one 1 bit, zeros to 56 mod 64 bytes, 64-bit length
    ctx->block [ctx->block_len++] = 0x80;
    if (ctx->block_len > 56) {
        memset (ctx->block + ctx->block_len, 0, 64 - ctx->block_len);
        s_block (ctx->state, ctx->block, 1);
        ctx->block_len = 0;
    }
    memset (ctx->block + ctx->block_len, 0, 56 - ctx->block_len);
    for (int i = 0; i < 8; i++)
        ctx->block [56 + i] = (uint8_t) (bits >> (56 - 8 * i));
    s_block (ctx->state, ctx->block, 1);
    for (int i = 0; i < 8; i++) {
        digest [4 * i]     = (uint8_t) (ctx->state [i] >> 24);
        digest [4 * i + 1] = (uint8_t) (ctx->state [i] >> 16);
        digest [4 * i + 2] = (uint8_t) (ctx->state [i] >> 8);
        digest [4 * i + 3] = (uint8_t) ctx->state [i];
    }
    ctx->block_len = 0;
}

//  Digest of one buffer.
void
sha256_buffer (const void *data, size_t len, uint8_t digest [SHA256_DIGEST_BYTES])
{
    sha256_ctx_t ctx;
    sha256_init (&ctx);
    sha256_update (&ctx, data, len);
    sha256_final (&ctx, digest);
}

//  Lower-case hex of a digest.
char *
sha256_hex (const uint8_t digest [SHA256_DIGEST_BYTES], char hex [SHA256_HEX_SIZE])
{
    static const char digits [] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_BYTES; i++) {
        hex [2 * i]     = digits [digest [i] >> 4];
        hex [2 * i + 1] = digits [digest [i] & 15];
    }
    hex [64] = '\0';
    return hex;
}

//  Hex digest of one buffer.
char *
sha256_buffer_hex (const void *data, size_t len, char hex [SHA256_HEX_SIZE])
{
    uint8_t digest [SHA256_DIGEST_BYTES];
    sha256_buffer (data, len, digest);
    return sha256_hex (digest, hex);
}

//  Hex digest of a file read in 64 KB chunks; 0 or MF_ERR_IO.
int
sha256_file_hex (const char *path, char hex [SHA256_HEX_SIZE])
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return MF_ERR_IO;
    sha256_ctx_t ctx;
    sha256_init (&ctx);
    uint8_t buf [65536];
    size_t got;
    while ((got = fread (buf, 1, sizeof buf, f)) > 0)
        sha256_update (&ctx, buf, got);
    int failed = ferror (f);
    int saved = errno;
    fclose (f);
    if (failed) {
        errno = saved;
        return MF_ERR_IO;
    }
    uint8_t digest [SHA256_DIGEST_BYTES];
    sha256_final (&ctx, digest);
    sha256_hex (digest, hex);
    return 0;
}
