/*  FLAC frames with fixed predictors (see flac_enc.h). Section numbers
    are RFC 9639's.  */
#include "worker/flac_enc.h"
#include "worker/dsp/cpu.h"

#if defined (__x86_64__) && defined (__GNUC__)
#include <immintrin.h>
#define S_X86 1
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_ORDER     4         //  fixed predictors: orders 0 to 4 (9.2.5)
#define S_MAX_PART      3         //  finest Rice partitioning: 8 parts, as libFLAC's presets 0-2
#define S_RICE_MAX      14        //  4-bit parameters; 15 is the escape (9.2.7.1)
#define S_RICE2_MAX     30        //  5-bit parameters; 31 is the escape

struct flac_enc_s {
    int       channels, bits, level;
    const struct s_loops_s *loops;   //  the loops over samples (s_loops_*)
    uint32_t  max_block;
    uint32_t  loose, coded;       //  level 1: frames per stereo choice; frames coded
    int       pair;               //  the stereo coding last chosen
    uint8_t   rate_code;          //  the header's rate bits (9.1.3)
    uint8_t   rate_tail [2];      //  and what they put at the header's end
    size_t    rate_tail_n;
    int32_t  *chan [8];           //  the block's channels
    int32_t  *mid, *side;         //  a stereo block's mid and side (10)
    uint32_t *res [4];            //  residuals, folded: of L, R, M, S (else [0])
    uint8_t  *out;                //  the frame
    size_t    out_cap;
};

// --------------------------------------------------------------- CRCs

static uint8_t  s_crc8_t [256];
static uint16_t s_crc16_t [8][256];   //  [k]: a byte followed by k zero bytes
static pthread_once_t s_crc_once = PTHREAD_ONCE_INIT;

#if defined (S_X86)
static bool s_clmul;              //  the CPU has PCLMULQDQ and SSSE3
static uint64_t s_fold_hi, s_fold_lo;     //  x^192 and x^128 mod P

//  x^e mod P, P = x^16 + x^15 + x^2 + 1.
static uint64_t
s_xpow_mod (int e)
{
    uint32_t r = 1;
    for (int i = 0; i < e; i++) {
        r <<= 1;
        if (r & 0x10000)
            r ^= 0x18005;
    }
    return r;
}

#endif

//  CRC-8 polynomial 0x07 and CRC-16 0x8005, both MSB first from 0
//  (9.1.8, 9.3); the CRC-16 tables slice eight bytes at a time.
static void
s_crc_init (void)
{
    for (int i = 0; i < 256; i++) {
        uint8_t c8 = (uint8_t) i;
        uint16_t c16 = (uint16_t) (i << 8);
        for (int k = 0; k < 8; k++) {
            c8 = (uint8_t) (c8 & 0x80 ? (c8 << 1) ^ 0x07 : c8 << 1);
            c16 = (uint16_t) (c16 & 0x8000 ? (c16 << 1) ^ 0x8005 : c16 << 1);
        }
        s_crc8_t [i] = c8;
        s_crc16_t [0][i] = c16;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++) {
            uint16_t c = s_crc16_t [k - 1][i];
            s_crc16_t [k][i] = (uint16_t) ((c << 8) ^ s_crc16_t [0][c >> 8]);
        }
#if defined (S_X86)
    s_clmul = __builtin_cpu_supports ("pclmul") && __builtin_cpu_supports ("ssse3");
    s_fold_hi = s_xpow_mod (192);
    s_fold_lo = s_xpow_mod (128);
#endif
}

uint8_t
flac_crc8 (const uint8_t *p, size_t n)
{
    pthread_once (&s_crc_once, s_crc_init);
    uint8_t c = 0;
    for (size_t i = 0; i < n; i++)
        c = s_crc8_t [c ^ p [i]];
    return c;
}

//  The CRC-16 of n bytes by the tables, from register crc.
static uint16_t
s_crc16_tables (uint16_t crc, const uint8_t *p, size_t n)
{
    const uint16_t (*t) [256] = s_crc16_t;
    size_t i = 0;
    //  the CRC is linear: the register goes into the first two bytes of
    //  eight, each byte then moved over the bytes after it by its table
    for (; i + 8 <= n; i += 8) {
        const uint8_t *b = p + i;
        crc = (uint16_t) (t [7][b [0] ^ (crc >> 8)] ^ t [6][b [1] ^ (crc & 0xff)]
                        ^ t [5][b [2]] ^ t [4][b [3]] ^ t [3][b [4]] ^ t [2][b [5]]
                        ^ t [1][b [6]] ^ t [0][b [7]]);
    }
    for (; i < n; i++)
        crc = (uint16_t) ((crc << 8) ^ t [0][(crc >> 8) ^ p [i]]);
    return crc;
}

#if defined (S_X86)
//  The CRC-16 by folding (as Intel's "Fast CRC Computation for Generic
//  Polynomials Using PCLMULQDQ" does it): the bytes, first byte highest,
//  are a polynomial M, and the CRC is M x^16 mod P. A 128-bit value A
//  congruent to the bytes so far, mod P, takes the next 16 bytes D as
//  A x^128 + D, made 128 bits again as A's high half times (x^192 mod P)
//  plus its low half times (x^128 mod P) plus D. The tables finish it:
//  they give A x^16 mod P from A's 16 bytes, then go on over the tail.
//  n >= 16; the register crc goes into the first two bytes, as above.
__attribute__ ((target ("pclmul,ssse3"))) static uint16_t
s_crc16_clmul (uint16_t crc, const uint8_t *p, size_t n)
{
    const __m128i rev = _mm_setr_epi8 (15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m128i k = _mm_set_epi64x ((long long) s_fold_hi, (long long) s_fold_lo);
    __m128i a = _mm_loadu_si128 ((const __m128i *) p);
    a = _mm_xor_si128 (a, _mm_cvtsi32_si128 ((crc >> 8) | (crc & 0xff) << 8));
    a = _mm_shuffle_epi8 (a, rev);
    size_t i = 16;
    for (; i + 16 <= n; i += 16) {
        __m128i d = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *) (p + i)), rev);
        a = _mm_xor_si128 (_mm_xor_si128 (_mm_clmulepi64_si128 (a, k, 0x11),
                                          _mm_clmulepi64_si128 (a, k, 0x00)), d);
    }
    uint8_t bytes [16];
    _mm_storeu_si128 ((__m128i *) bytes, _mm_shuffle_epi8 (a, rev));
    return s_crc16_tables (s_crc16_tables (0, bytes, 16), p + i, n - i);
}
#endif

uint16_t
flac_crc16 (uint16_t crc, const uint8_t *p, size_t n)
{
    pthread_once (&s_crc_once, s_crc_init);
#if defined (S_X86)
    if (s_clmul && n >= 64)
        return s_crc16_clmul (crc, p, n);
#endif
    return s_crc16_tables (crc, p, n);
}

size_t
flac_coded_number (uint64_t v, uint8_t out [7])
{
    if (v < 0x80) {
        out [0] = (uint8_t) v;
        return 1;
    }
    size_t n = v < 0x800 ? 2 : v < 0x10000 ? 3 : v < 0x200000 ? 4 : v < 0x4000000 ? 5
             : v < 0x80000000u ? 6 : 7;
    for (size_t i = n - 1; i > 0; i--) {
        out [i] = (uint8_t) (0x80 | (v & 0x3f));
        v >>= 6;
    }
    out [0] = n == 7 ? 0xfe : (uint8_t) ((0xff00u >> n) | v);
    return n;
}

// --------------------------------------------------------------- bits

//  A big-endian bit writer: acc holds n bits not yet stored (n < 32
//  between calls), stored 32 at a time by s_put, in whole bytes by
//  s_spill.
typedef struct {
    uint8_t  *p;
    uint64_t  acc;
    int       n;
} s_bits_t;

//  v stored big-endian at p.
static inline void
s_store_be32 (uint8_t *p, uint32_t v)
{
#if !defined (__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32 (v);
#endif
    memcpy (p, &v, 4);
}

static inline void
s_store_be64 (uint8_t *p, uint64_t v)
{
#if !defined (__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64 (v);
#endif
    memcpy (p, &v, 8);
}

//  Appends the low len bits of v (len 0..32, v below 2^len).
static inline void
s_put (s_bits_t *w, uint32_t v, int len)
{
    w->acc = w->acc << len | v;
    w->n += len;
    if (w->n >= 32) {
        w->n -= 32;
        s_store_be32 (w->p, (uint32_t) (w->acc >> w->n));
        w->p += 4;
    }
}

//  Stores the whole bytes of the n (1 to 64) bits pending in acc at *p
//  without a branch: 8 bytes, of which the whole ones are kept (a frame's
//  buffer has room for 8 bytes past its end); n keeps the rest (0 to 7).
static inline void
s_spill (uint64_t acc, int *n, uint8_t **p)
{
    s_store_be64 (*p, acc << (64 - *n));
    *p += *n >> 3;
    *n &= 7;
}

//  Appends v as a signed number of len bits (two's complement).
static inline void
s_put_signed (s_bits_t *w, int32_t v, int len)
{
    if (len > 0)
        s_put (w, (uint32_t) v & (uint32_t) (0xffffffffu >> (32 - len)), len);
}

//  Stores what is left, zero bits filling the last byte; returns the end.
static uint8_t *
s_flush (s_bits_t *w)
{
    while (w->n > 0) {
        int take = w->n < 8 ? w->n : 8;
        w->n -= take;
        *w->p++ = (uint8_t) ((w->acc >> w->n) << (8 - take));
    }
    return w->p;
}

//  The loops over samples: portable, or with AVX2 where the CPU has it
//  (the same bytes either way; flac_enc_plain chooses the portable ones).
typedef struct s_loops_s {
    void (*order_sums) (const int32_t *x, size_t n, uint64_t sum [S_MAX_ORDER + 1]);
    void (*fold_residual) (const int32_t *x, uint32_t n, int k, uint32_t *u);
    void (*sum_or) (const uint32_t *u, uint32_t n, uint64_t *sum, uint32_t *or);
    void (*rice) (s_bits_t *w, const uint32_t *u, uint32_t len, int k);
    void (*split_stereo) (flac_enc_t *e, const int32_t *x, uint32_t n);
} s_loops_t;

// --------------------------------------------------------------- residual

//  A residual folded to unsigned (9.2.7.2: 0, -1, 1, -2 ... as 0, 1, 2, 3).
static inline uint32_t
s_fold (int32_t r)
{
    return (uint32_t) r << 1 ^ (uint32_t) (r >> 31);
}

//  The fixed predictor's residual of order k at x [i] (9.2.5), i >= k.
static inline int32_t
s_residual (const int32_t *x, size_t i, int k)
{
    switch (k) {
    case 0:  return x [i];
    case 1:  return x [i] - x [i - 1];
    case 2:  return x [i] - 2 * x [i - 1] + x [i - 2];
    case 3:  return x [i] - 3 * (x [i - 1] - x [i - 2]) - x [i - 3];
    default: return x [i] - 4 * (x [i - 1] + x [i - 3]) + 6 * x [i - 2] + x [i - 4];
    }
}

//  The residual folded back (s_fold's inverse).
static inline int32_t
s_unfold (uint32_t u)
{
    return (int32_t) (u >> 1 ^ (0u - (u & 1)));
}

//  Sums of |residual| of orders 0 to 4 over x [4 .. n): what picks the
//  order (as libFLAC picks it). The differences are carried from one
//  sample to the next, each order the difference of the one below.
static void
s_order_sums_c (const int32_t *x, size_t n, uint64_t sum [S_MAX_ORDER + 1])
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    if (n > 4) {
        int32_t p1 = x [3] - x [2];
        int32_t p2 = p1 - (x [2] - x [1]);
        int32_t p3 = p2 - ((x [2] - x [1]) - (x [1] - x [0]));
        for (size_t i = 4; i < n; i++) {
            int32_t e0 = x [i], e1 = e0 - x [i - 1], e2 = e1 - p1, e3 = e2 - p2, e4 = e3 - p3;
            s0 += (uint32_t) (e0 < 0 ? -e0 : e0);
            s1 += (uint32_t) (e1 < 0 ? -e1 : e1);
            s2 += (uint32_t) (e2 < 0 ? -e2 : e2);
            s3 += (uint32_t) (e3 < 0 ? -e3 : e3);
            s4 += (uint32_t) (e4 < 0 ? -e4 : e4);
            p1 = e1, p2 = e2, p3 = e3;
        }
    }
    sum [0] = s0, sum [1] = s1, sum [2] = s2, sum [3] = s3, sum [4] = s4;
}

//  Folds the residual of order k of x [k .. n) into u [0 .. n - k).
static void
s_fold_residual_c (const int32_t *x, uint32_t n, int k, uint32_t *u)
{
    for (uint32_t i = (uint32_t) k; i < n; i++)
        u [i - (uint32_t) k] = s_fold (s_residual (x, i, k));
}

//  The sum and the OR of u [0 .. n).
static void
s_sum_or_c (const uint32_t *u, uint32_t n, uint64_t *sum, uint32_t *or)
{
    uint64_t s = 0;
    uint32_t o = 0;
    for (uint32_t i = 0; i < n; i++) {
        s += u [i];
        o |= u [i];
    }
    *sum = s;
    *or = o;
}

#if defined (S_X86)
//  The residuals of orders 0 to 4 at x [i .. i + 8), i >= 4: each order
//  the difference of the one below, at i and at i - 1.
#define S_ORDERS_AVX2(x, i, e)  do {                                                \
        __m256i x0_ = _mm256_loadu_si256 ((const __m256i *) ((x) + (i)));          \
        __m256i x1_ = _mm256_loadu_si256 ((const __m256i *) ((x) + (i) - 1));      \
        __m256i x2_ = _mm256_loadu_si256 ((const __m256i *) ((x) + (i) - 2));      \
        __m256i x3_ = _mm256_loadu_si256 ((const __m256i *) ((x) + (i) - 3));      \
        __m256i x4_ = _mm256_loadu_si256 ((const __m256i *) ((x) + (i) - 4));      \
        __m256i a1_ = _mm256_sub_epi32 (x0_, x1_), b1_ = _mm256_sub_epi32 (x1_, x2_); \
        __m256i c1_ = _mm256_sub_epi32 (x2_, x3_), d1_ = _mm256_sub_epi32 (x3_, x4_); \
        __m256i a2_ = _mm256_sub_epi32 (a1_, b1_), b2_ = _mm256_sub_epi32 (b1_, c1_); \
        __m256i c2_ = _mm256_sub_epi32 (c1_, d1_);                                  \
        __m256i a3_ = _mm256_sub_epi32 (a2_, b2_), b3_ = _mm256_sub_epi32 (b2_, c2_); \
        (e) [0] = x0_, (e) [1] = a1_, (e) [2] = a2_, (e) [3] = a3_;                  \
        (e) [4] = _mm256_sub_epi32 (a3_, b3_);                                      \
    } while (0)

//  s_order_sums_c with AVX2. A residual is under 2^28 in magnitude (a
//  24-bit side channel's of order 4: 16 times 2^24), so a 32-bit lane
//  sums 8 of them; the lanes go into 64-bit sums every 8 vectors. The
//  sums are exact: the same orders as the portable loop's.
__attribute__ ((target ("avx2"))) static void
s_order_sums_avx2 (const int32_t *x, size_t n, uint64_t sum [S_MAX_ORDER + 1])
{
    __m256i wide [S_MAX_ORDER + 1];
    for (int k = 0; k <= S_MAX_ORDER; k++)
        wide [k] = _mm256_setzero_si256 ();
    size_t i = 4;
    while (i + 8 <= n) {
        __m256i acc [S_MAX_ORDER + 1];
        for (int k = 0; k <= S_MAX_ORDER; k++)
            acc [k] = _mm256_setzero_si256 ();
        for (int v = 0; v < 8 && i + 8 <= n; v++, i += 8) {
            __m256i e [S_MAX_ORDER + 1];
            S_ORDERS_AVX2 (x, i, e);
            for (int k = 0; k <= S_MAX_ORDER; k++)
                acc [k] = _mm256_add_epi32 (acc [k], _mm256_abs_epi32 (e [k]));
        }
        for (int k = 0; k <= S_MAX_ORDER; k++) {
            wide [k] = _mm256_add_epi64 (wide [k],
                _mm256_cvtepu32_epi64 (_mm256_castsi256_si128 (acc [k])));
            wide [k] = _mm256_add_epi64 (wide [k],
                _mm256_cvtepu32_epi64 (_mm256_extracti128_si256 (acc [k], 1)));
        }
    }
    for (int k = 0; k <= S_MAX_ORDER; k++) {
        uint64_t lane [4];
        _mm256_storeu_si256 ((__m256i *) lane, wide [k]);
        sum [k] = lane [0] + lane [1] + lane [2] + lane [3];
        for (size_t j = i; j < n; j++) {
            int32_t r = s_residual (x, j, k);
            sum [k] += (uint32_t) (r < 0 ? -r : r);
        }
    }
}

//  s_fold_residual_c with AVX2.
__attribute__ ((target ("avx2"))) static void
s_fold_residual_avx2 (const int32_t *x, uint32_t n, int k, uint32_t *u)
{
    uint32_t i = (uint32_t) k;
    for (; i < n && i < 4; i++)
        u [i - (uint32_t) k] = s_fold (s_residual (x, i, k));
    for (; i + 8 <= n; i += 8) {
        __m256i e [S_MAX_ORDER + 1];
        S_ORDERS_AVX2 (x, i, e);
        __m256i f = _mm256_xor_si256 (_mm256_slli_epi32 (e [k], 1), _mm256_srai_epi32 (e [k], 31));
        _mm256_storeu_si256 ((__m256i *) (u + i - (uint32_t) k), f);
    }
    for (; i < n; i++)
        u [i - (uint32_t) k] = s_fold (s_residual (x, i, k));
}

//  s_sum_or_c with AVX2.
__attribute__ ((target ("avx2"))) static void
s_sum_or_avx2 (const uint32_t *u, uint32_t n, uint64_t *sum, uint32_t *or)
{
    __m256i s = _mm256_setzero_si256 (), o = _mm256_setzero_si256 ();
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_loadu_si256 ((const __m256i *) (u + i));
        s = _mm256_add_epi64 (s, _mm256_cvtepu32_epi64 (_mm256_castsi256_si128 (v)));
        s = _mm256_add_epi64 (s, _mm256_cvtepu32_epi64 (_mm256_extracti128_si256 (v, 1)));
        o = _mm256_or_si256 (o, v);
    }
    uint64_t sl [4];
    uint32_t ol [8];
    _mm256_storeu_si256 ((__m256i *) sl, s);
    _mm256_storeu_si256 ((__m256i *) ol, o);
    uint64_t t = sl [0] + sl [1] + sl [2] + sl [3];
    uint32_t r = ol [0] | ol [1] | ol [2] | ol [3] | ol [4] | ol [5] | ol [6] | ol [7];
    for (; i < n; i++) {
        t += u [i];
        r |= u [i];
    }
    *sum = t;
    *or = r;
}
#endif

//  Bits of n folded residuals summing to s with Rice parameter k, at
//  most: each takes k + 1 bits and its quotient in unary, and the
//  quotients sum to at most s >> k.
static inline uint64_t
s_rice_bits (uint64_t s, uint64_t n, int k)
{
    return n * (uint64_t) (k + 1) + (s >> k);
}

//  The parameter (0..max) with the fewest bits for n folded residuals
//  summing to s, and those bits in *bits.
static int
s_rice_param (uint64_t s, uint64_t n, int max, uint64_t *bits)
{
    //  the best is within one of log2 (s / n), itself within one of
    //  the difference of the two's logarithms
    int lg = s > n && n > 0 ? (63 - __builtin_clzll (s)) - (63 - __builtin_clzll (n)) : 0;
    int best = 0;
    uint64_t best_bits = UINT64_MAX;
    for (int k = lg > 2 ? lg - 2 : 0; k <= lg + 1 && k <= max; k++) {
        uint64_t b = s_rice_bits (s, n, k);
        if (b < best_bits)
            best_bits = b, best = k;
    }
    *bits = best_bits;
    return best;
}

//  The width of a partition's escaped (unencoded) residuals: what the
//  largest folded one needs (its OR), as a signed number.
static inline int
s_raw_width (uint32_t or_folded)
{
    return or_folded ? 32 - __builtin_clz (or_folded) : 0;
}

//  A channel's coding as a fixed predictor with its residual partitioned.
typedef struct {
    int       order;
    int       part;               //  partition order
    bool      rice2;              //  5-bit parameters
    uint8_t   param [1 << S_MAX_PART];     //  per partition; escape: raw
    uint8_t   raw [1 << S_MAX_PART];       //  escaped partitions' widths
    uint64_t  bits;               //  the subframe's bits, at most
} s_plan_t;

//  Plans the folded residual u [0 .. n - order) of a block of n: the
//  partition order and the parameters with the fewest bits.
static void
s_plan_residual (const flac_enc_t *e, const uint32_t *u, uint32_t n, int order, s_plan_t *plan)
{
    //  the finest partitioning n allows: 2^p parts of n >> p samples, the
    //  first of which holds more than the warm-up
    int top = 0;
    while (top < S_MAX_PART && (n & ((2u << top) - 1)) == 0 && (n >> (top + 1)) > (uint32_t) order)
        top++;
    uint64_t sum [1 << S_MAX_PART];
    uint32_t orv [1 << S_MAX_PART];
    uint32_t per = n >> top;
    const uint32_t *r = u;
    for (int p = 0; p < (1 << top); p++) {
        uint32_t len = p == 0 ? per - (uint32_t) order : per;
        e->loops->sum_or (r, len, &sum [p], &orv [p]);
        r += len;
    }
    //  each coarser order from the finer one's pairs; keep the best
    plan->bits = UINT64_MAX;
    for (int p = top;; p--) {
        int parts = 1 << p;
        uint64_t bits = 6, bits2 = 6;              //  method and order
        bool need2 = false;
        uint8_t param [1 << S_MAX_PART], raw [1 << S_MAX_PART];
        for (int i = 0; i < parts; i++) {
            uint64_t len = (n >> p) - (i == 0 ? (uint64_t) order : 0);
            uint64_t rb;
            int k = s_rice_param (sum [i], len, S_RICE2_MAX, &rb);
            int w = s_raw_width (orv [i]);
            uint64_t eb = 5 + len * (uint64_t) w;
            if (eb < rb) {
                param [i] = 0xff;
                raw [i] = (uint8_t) w;
                rb = eb;
            }
            else {
                param [i] = (uint8_t) k;
                need2 |= k > S_RICE_MAX;
            }
            bits += 4 + rb;
            bits2 += 5 + rb;
        }
        if (need2)
            bits = bits2;
        if (bits < plan->bits) {
            plan->bits = bits;
            plan->part = p;
            plan->rice2 = need2;
            memcpy (plan->param, param, (size_t) parts);
            memcpy (plan->raw, raw, (size_t) parts);
        }
        if (p == 0)
            break;
        for (int i = 0; i < parts / 2; i++) {
            sum [i] = sum [2 * i] + sum [2 * i + 1];
            orv [i] = orv [2 * i] | orv [2 * i + 1];
        }
    }
}

//  Rice codes u [0 .. len) with parameter k (9.2.7.2): each as its
//  quotient in unary (q zeros and a one) then its k low bits, appended
//  at once when they fit in 32 bits, else the zeros 32 at a time first.
//  The writer's state is kept in registers through the loop.
static void
s_rice_c (s_bits_t *w, const uint32_t *u, uint32_t len, int k)
{
    uint64_t acc = w->acc;
    int n = w->n;
    uint8_t *p = w->p;
    const uint32_t top = 1u << k, mask = top - 1;
    for (uint32_t i = 0; i < len; i++) {
        uint32_t q = u [i] >> k;
        if (q + 1 + (uint32_t) k <= 32) {
            int bits = (int) q + 1 + k;              //  n: at most 31 + 32
            acc = acc << bits | (top | (u [i] & mask));
            n += bits;
            s_spill (acc, &n, &p);
            continue;
        }
        *w = (s_bits_t) { .p = p, .acc = acc, .n = n };
        for (; q >= 32; q -= 32)
            s_put (w, 0, 32);
        s_put (w, 0, (int) q);
        s_put (w, 1, 1);
        s_put (w, u [i] & mask, k);
        acc = w->acc, n = w->n, p = w->p;
    }
    *w = (s_bits_t) { .p = p, .acc = acc, .n = n };
}

#if defined (S_X86)
//  s_rice_c with each code's length and bits made with AVX2 first, 64
//  at a time, so that the serial part only appends them; a run of 64
//  with a code longer than 32 bits is left to s_rice_c.
__attribute__ ((target ("avx2"))) static void
s_rice_avx2 (s_bits_t *w, const uint32_t *u, uint32_t len, int k)
{
    const __m256i kv = _mm256_set1_epi32 (k + 1), topv = _mm256_set1_epi32 (1 << k);
    const __m256i maskv = _mm256_set1_epi32 ((1 << k) - 1), limit = _mm256_set1_epi32 (32);
    const __m128i shift = _mm_cvtsi32_si128 (k);
    uint32_t bits [64], code [64];
    uint32_t i = 0;
    for (; i + 64 <= len; i += 64) {
        __m256i over = _mm256_setzero_si256 ();
        for (int j = 0; j < 64; j += 8) {
            __m256i v = _mm256_loadu_si256 ((const __m256i *) (u + i + j));
            __m256i b = _mm256_add_epi32 (_mm256_srl_epi32 (v, shift), kv);
            over = _mm256_or_si256 (over, _mm256_cmpgt_epi32 (b, limit));
            _mm256_storeu_si256 ((__m256i *) (bits + j), b);
            _mm256_storeu_si256 ((__m256i *) (code + j),
                                 _mm256_or_si256 (_mm256_and_si256 (v, maskv), topv));
        }
        if (!_mm256_testz_si256 (over, over)) {
            s_rice_c (w, u + i, 64, k);
            continue;
        }
        //  two codes at a time where they fit in 57 bits (the pending
        //  bits, at most 7 once the whole bytes are out, and theirs in 64)
        uint64_t acc = w->acc;
        int n = w->n;
        uint8_t *p = w->p;
        if (n >= 8)
            s_spill (acc, &n, &p);
        for (int j = 0; j < 64; j += 2) {
            uint32_t b2 = bits [j] + bits [j + 1];
            if (b2 <= 57) {
                acc = acc << b2 | ((uint64_t) code [j] << bits [j + 1] | code [j + 1]);
                n += (int) b2;
            }
            else {
                acc = acc << bits [j] | code [j];
                n += (int) bits [j];
                s_spill (acc, &n, &p);
                acc = acc << bits [j + 1] | code [j + 1];
                n += (int) bits [j + 1];
            }
            s_spill (acc, &n, &p);
        }
        *w = (s_bits_t) { .p = p, .acc = acc, .n = n };
    }
    s_rice_c (w, u + i, len - i, k);
}
#endif

//  Writes the folded residual u [0 .. n - order) as planned (9.2.7).
static void
s_write_residual (const flac_enc_t *e, s_bits_t *w, const uint32_t *u, uint32_t n,
                  const s_plan_t *plan)
{
    s_put (w, plan->rice2 ? 1 : 0, 2);
    s_put (w, (uint32_t) plan->part, 4);
    int pw = plan->rice2 ? 5 : 4;
    uint32_t escape = plan->rice2 ? 31 : 15;
    const uint32_t *r = u;
    for (int p = 0; p < (1 << plan->part); p++) {
        uint32_t len = (n >> plan->part) - (p == 0 ? (uint32_t) plan->order : 0);
        if (plan->param [p] == 0xff) {
            //  escaped: each residual as a signed number of raw bits
            int raw = plan->raw [p];
            s_put (w, escape, pw);
            s_put (w, (uint32_t) raw, 5);
            for (uint32_t i = 0; i < len; i++)
                s_put_signed (w, s_unfold (r [i]), raw);
        }
        else {
            s_put (w, plan->param [p], pw);
            e->loops->rice (w, r, len, plan->param [p]);
        }
        r += len;
    }
}

// --------------------------------------------------------------- subframes

//  How a channel will be coded, and the bits it will take at most.
typedef enum { S_CONSTANT, S_VERBATIM, S_FIXED } s_kind_t;

typedef struct {
    s_kind_t kind;
    s_plan_t plan;                //  S_FIXED: the order and its residual's coding
    uint64_t bits;
} s_sub_t;

//  Plans channel x of n samples of width bps: a constant, the fixed
//  predictor with the least residual (the order as libFLAC picks it, by
//  the sums of its magnitudes) with its residual's partitions planned
//  into res, or verbatim, whichever takes fewest bits. The bits are
//  those s_subframe writes, or more: what the stereo choice compares.
static void
s_plan_channel (const flac_enc_t *e, const int32_t *x, uint32_t n, int bps, uint32_t *res,
                s_sub_t *c)
{
    bool constant = true;
    for (uint32_t i = 1; i < n && constant; i++)
        constant = x [i] == x [0];
    if (constant) {
        c->kind = S_CONSTANT;
        c->bits = 8 + (uint64_t) bps;
        return;
    }
    c->kind = S_VERBATIM;
    c->bits = 8 + (uint64_t) n * (uint64_t) bps;
    if (n <= S_MAX_ORDER)
        return;
    uint64_t sums [S_MAX_ORDER + 1];
    e->loops->order_sums (x, n, sums);
    int k = 0;
    for (int i = 1; i <= S_MAX_ORDER; i++)
        if (sums [i] < sums [k])
            k = i;
    s_plan_t plan = { .order = k };
    e->loops->fold_residual (x, n, k, res);
    s_plan_residual (e, res, n, k, &plan);
    uint64_t bits = 8 + (uint64_t) k * (uint64_t) bps + plan.bits;
    if (bits < c->bits) {
        c->kind = S_FIXED;
        c->plan = plan;
        c->bits = bits;
    }
}

//  Writes channel x as planned, its residual in res (9.2).
static void
s_subframe (const flac_enc_t *e, s_bits_t *w, const int32_t *x, uint32_t n, int bps,
            const uint32_t *res, const s_sub_t *c)
{
    if (c->kind == S_CONSTANT) {
        s_put (w, 0x00, 8);
        s_put_signed (w, x [0], bps);
    }
    else if (c->kind == S_FIXED) {
        int k = c->plan.order;
        s_put (w, (uint32_t) (0x10 | k << 1), 8);
        for (int i = 0; i < k; i++)
            s_put_signed (w, x [i], bps);
        s_write_residual (e, w, res, n, &c->plan);
    }
    else {
        s_put (w, 0x02, 8);
        for (uint32_t i = 0; i < n; i++)
            s_put_signed (w, x [i], bps);
    }
}

//  Left-right, left-side, side-right and mid-side (9.1.4): the channels
//  each codes (0 left, 1 right, 2 mid, 3 side) and its assignment code.
static const int s_pair [4][2] = { { 0, 1 }, { 0, 3 }, { 3, 1 }, { 2, 3 } };
static const int s_pair_code [4] = { 1, 8, 9, 10 };

//  Plans a stereo block: the pair with the fewest planned bits. Level 2
//  weighs the four pairs every block; level 1 every e->loose blocks,
//  coding those between as the last chosen (libFLAC's -M), unless that
//  pair would take more than left and right verbatim (the music changed
//  under it): then it weighs them again. So a frame is never larger
//  than its samples verbatim. Returns the pair; sub [0..3] holds the
//  plans of the channels it codes.
static int
s_plan_stereo (flac_enc_t *e, uint32_t n, s_sub_t sub [4])
{
    const int bps = e->bits;
    const int32_t *src [4] = { e->chan [0], e->chan [1], e->mid, e->side };
    bool planned [4] = { false };
    int best = e->pair;
    bool weigh = e->level == 2 || e->coded % e->loose == 0;
    if (!weigh) {
        for (int k = 0; k < 2; k++) {
            int c = s_pair [best][k];
            s_plan_channel (e, src [c], n, c == 3 ? bps + 1 : bps, e->res [c], &sub [c]);
            planned [c] = true;
        }
        weigh = sub [s_pair [best][0]].bits + sub [s_pair [best][1]].bits
              > 2 * (8 + (uint64_t) n * (uint64_t) bps);
    }
    if (weigh) {
        for (int c = 0; c < 4; c++)
            if (!planned [c])
                s_plan_channel (e, src [c], n, c == 3 ? bps + 1 : bps, e->res [c], &sub [c]);
        uint64_t best_bits = UINT64_MAX;
        for (int a = 0; a < 4; a++) {
            uint64_t b = sub [s_pair [a][0]].bits + sub [s_pair [a][1]].bits;
            if (b < best_bits)
                best_bits = b, best = a;
        }
        e->pair = best;
    }
    return best;
}

// --------------------------------------------------------------- loops

//  Splits n stereo frames of x into left, right, mid and side (10.2).
static void
s_split_stereo_c (flac_enc_t *e, const int32_t *x, uint32_t n)
{
    int32_t *restrict l = e->chan [0], *restrict r = e->chan [1];
    int32_t *restrict m = e->mid, *restrict s = e->side;
    for (uint32_t i = 0; i < n; i++) {
        l [i] = x [2 * i];
        r [i] = x [2 * i + 1];
        m [i] = (x [2 * i] + x [2 * i + 1]) >> 1;
        s [i] = x [2 * i] - x [2 * i + 1];
    }
}

#if defined (S_X86)
//  s_split_stereo_c with AVX2, four frames at a time.
__attribute__ ((target ("avx2"))) static void
s_split_stereo_avx2 (flac_enc_t *e, const int32_t *x, uint32_t n)
{
    int32_t *restrict l = e->chan [0], *restrict r = e->chan [1];
    int32_t *restrict m = e->mid, *restrict s = e->side;
    const __m256i lr = _mm256_setr_epi32 (0, 2, 4, 6, 1, 3, 5, 7);
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256i v = _mm256_permutevar8x32_epi32 (
            _mm256_loadu_si256 ((const __m256i *) (x + 2 * i)), lr);
        __m128i a = _mm256_castsi256_si128 (v), b = _mm256_extracti128_si256 (v, 1);
        _mm_storeu_si128 ((__m128i *) (l + i), a);
        _mm_storeu_si128 ((__m128i *) (r + i), b);
        _mm_storeu_si128 ((__m128i *) (m + i), _mm_srai_epi32 (_mm_add_epi32 (a, b), 1));
        _mm_storeu_si128 ((__m128i *) (s + i), _mm_sub_epi32 (a, b));
    }
    for (; i < n; i++) {
        l [i] = x [2 * i];
        r [i] = x [2 * i + 1];
        m [i] = (x [2 * i] + x [2 * i + 1]) >> 1;
        s [i] = x [2 * i] - x [2 * i + 1];
    }
}
#endif

static const s_loops_t s_loops_c = {
    s_order_sums_c, s_fold_residual_c, s_sum_or_c, s_rice_c, s_split_stereo_c
};
#if defined (S_X86)
static const s_loops_t s_loops_avx2 = {
    s_order_sums_avx2, s_fold_residual_avx2, s_sum_or_avx2, s_rice_avx2, s_split_stereo_avx2
};
#endif

// --------------------------------------------------------------- frames

bool
flac_enc_covers (int level)
{
    return level >= 0 && level <= 2;
}

//  The header's rate bits, and what they put at its end (9.1.3).
static void
s_rate_code (flac_enc_t *e, int rate)
{
    static const int common [] = { 0, 88200, 176400, 192000, 8000, 16000, 22050, 24000,
                                   32000, 44100, 48000, 96000 };
    e->rate_tail_n = 0;
    for (int c = 1; c < 12; c++)
        if (rate == common [c]) {
            e->rate_code = (uint8_t) c;
            return;
        }
    if (rate % 1000 == 0 && rate / 1000 <= 255) {
        e->rate_code = 12;
        e->rate_tail [0] = (uint8_t) (rate / 1000);
        e->rate_tail_n = 1;
    }
    else if (rate <= 65535) {
        e->rate_code = 13;
        e->rate_tail [0] = (uint8_t) (rate >> 8);
        e->rate_tail [1] = (uint8_t) rate;
        e->rate_tail_n = 2;
    }
    else if (rate % 10 == 0 && rate / 10 <= 65535) {
        e->rate_code = 14;
        e->rate_tail [0] = (uint8_t) (rate / 10 >> 8);
        e->rate_tail [1] = (uint8_t) (rate / 10);
        e->rate_tail_n = 2;
    }
    else
        e->rate_code = 0;                              //  STREAMINFO's
}

flac_enc_t *
flac_enc_new (int channels, int bits, int rate_hz, int level, int max_block)
{
    if (channels < 1 || channels > 8 || (bits != 16 && bits != 24) || rate_hz < 1
    ||  rate_hz > 655350 || !flac_enc_covers (level) || max_block < 16 || max_block > 65535)
        return NULL;
    pthread_once (&s_crc_once, s_crc_init);
    flac_enc_t *e = calloc (1, sizeof *e);
    if (!e)
        return NULL;
    e->channels = channels;
    e->bits = bits;
    e->level = level;
    e->max_block = (uint32_t) max_block;
    e->loops = &s_loops_c;
#if defined (S_X86)
    if (cpu_has_avx2_fma ())
        e->loops = &s_loops_avx2;
#endif
    //  as libFLAC's loose mid-side: a choice every 0.4 s
    e->loose = (uint32_t) ((double) rate_hz * 0.4 / (double) max_block + 0.5);
    e->loose = e->loose ? e->loose : 1;
    s_rate_code (e, rate_hz);
    size_t n = (size_t) max_block;
    //  a frame at most: its header, each subframe verbatim (a side
    //  channel one bit wider) with its header, the CRC, and room for the
    //  bit writer's stores (s_rice: 8 bytes)
    e->out_cap = 32 + (size_t) channels * (2 + n * (size_t) (bits + 1) / 8 + 1) + 16;
    bool ok = (e->out = malloc (e->out_cap)) != NULL;
    for (int c = 0; c < 4 && ok; c++)
        ok = (e->res [c] = malloc (n * sizeof *e->res [c])) != NULL;
    for (int c = 0; c < channels && ok; c++)
        ok = (e->chan [c] = malloc (n * sizeof *e->chan [c])) != NULL;
    if (ok && channels == 2)
        ok = (e->mid = malloc (n * sizeof *e->mid)) && (e->side = malloc (n * sizeof *e->side));
    if (!ok) {
        flac_enc_free (e);
        return NULL;
    }
    return e;
}

void
flac_enc_plain (flac_enc_t *e)
{
    e->loops = &s_loops_c;
}

void
flac_enc_free (flac_enc_t *e)
{
    if (!e)
        return;
    for (int c = 0; c < 8; c++)
        free (e->chan [c]);
    free (e->mid);
    free (e->side);
    for (int c = 0; c < 4; c++)
        free (e->res [c]);
    free (e->out);
    free (e);
}

//  The header's block size bits, and what they put at its end (9.1.2).
static uint8_t
s_block_code (uint32_t n, uint8_t tail [2], size_t *tail_n)
{
    *tail_n = 0;
    if (n == 192)
        return 1;
    for (int c = 2; c <= 5; c++)
        if (n == 576u << (c - 2))
            return (uint8_t) c;
    for (int c = 8; c <= 15; c++)
        if (n == 256u << (c - 8))
            return (uint8_t) c;
    if (n <= 256) {
        tail [0] = (uint8_t) (n - 1);
        *tail_n = 1;
        return 6;
    }
    tail [0] = (uint8_t) ((n - 1) >> 8);
    tail [1] = (uint8_t) (n - 1);
    *tail_n = 2;
    return 7;
}

size_t
flac_enc_frame (flac_enc_t *e, const int32_t *x, uint32_t n, uint64_t frame_no,
                const uint8_t **frame)
{
    const int ch = e->channels, bps = e->bits;
    //  the channels, and a stereo block's mid and side (10.2)
    bool stereo = ch == 2 && e->level > 0;
    if (stereo)
        e->loops->split_stereo (e, x, n);
    else
        for (int c = 0; c < ch; c++) {
            int32_t *restrict d = e->chan [c];
            for (uint32_t i = 0; i < n; i++)
                d [i] = x [(size_t) i * (size_t) ch + (size_t) c];
        }
    s_sub_t sub [4];
    int pair = stereo ? s_plan_stereo (e, n, sub) : 0;
    const int32_t *src [4] = { e->chan [0], e->chan [1], e->mid, e->side };
    int assign = stereo ? s_pair_code [pair] : ch - 1;       //  else independent
    //  the header (9.1)
    uint8_t *h = e->out;
    uint8_t tail [2];
    size_t tail_n, at = 0;
    uint8_t bcode = s_block_code (n, tail, &tail_n);
    h [at++] = 0xff;
    h [at++] = 0xf8;
    h [at++] = (uint8_t) (bcode << 4 | e->rate_code);
    h [at++] = (uint8_t) (assign << 4 | (bps == 16 ? 4 : 6) << 1);
    at += flac_coded_number (frame_no, h + at);
    memcpy (h + at, tail, tail_n);
    at += tail_n;
    memcpy (h + at, e->rate_tail, e->rate_tail_n);
    at += e->rate_tail_n;
    h [at] = flac_crc8 (h, at);
    at++;
    //  the subframes (9.2), then the footer (9.3)
    s_bits_t w = { .p = h + at };
    if (stereo)
        for (int k = 0; k < 2; k++) {
            int c = s_pair [pair][k];
            s_subframe (e, &w, src [c], n, c == 3 ? bps + 1 : bps, e->res [c], &sub [c]);
        }
    else
        for (int c = 0; c < ch; c++) {
            s_sub_t one;
            s_plan_channel (e, e->chan [c], n, bps, e->res [0], &one);
            s_subframe (e, &w, e->chan [c], n, bps, e->res [0], &one);
        }
    uint8_t *end = s_flush (&w);
    e->coded++;
    size_t size = (size_t) (end - e->out);
    uint16_t crc = flac_crc16 (0, e->out, size);
    e->out [size++] = (uint8_t) (crc >> 8);
    e->out [size++] = (uint8_t) crc;
    *frame = e->out;
    return size;
}
