/*  The FLAC frame encoder (worker/flac_enc.c), its frames read back by
    libFLAC's own decoder and read again here against RFC 9639.

    - round trip: every case makes a stream in memory, "fLaC" and a
      STREAMINFO marked last (block and frame size bounds, rate, channels,
      bits, total, and the MD5 of the samples computed here, little-endian
      in bits / 8 bytes a sample, RFC 9639 8.2), then the frames
      flac_enc_frame returns for blocks numbered on from the first with the
      last short; libFLAC's decoder with MD5 checking on calls its error
      callback not once (no lost sync, bad header or CRC mismatch), gives
      the samples back exactly, finds the MD5 matching and sees every frame
      numbered, sized, with the channels, bits and rate it was made with;
      every frame's header is read here too (sync, codes, the coded number
      byte for byte, CRC-8, rate and bits in the header wherever it can
      hold them) and its CRC-16 checked; no frame is larger than verbatim
      with a side channel's extra bit; every FIXED subframe's partitions
      divide the block; a second encoder running its portable loops
      only (flac_enc_plain, not the SIMD ones) gives the same bytes;
    - signals at 16 and 24 bits and presets 0, 1, 2: silence and DC, the
      extremes included (constant subframes only), sines (1 kHz, and 44 Hz
      where order 3 is best at 24 bits), a dense mix, noise at -20 dBFS, a
      random walk, full-scale white noise (no frame larger than verbatim),
      extreme values alternating and at random with left = -right (a side
      channel of bits + 1 bits, huge residuals), a single full-scale
      impulse, dual mono, one channel silent and one loud, a slow ramp
      (FIXED of order 2 to 4 only), half blocks of full-scale noise in
      silence (escaped partitions), quiet noise with spikes in blocks of
      an odd size (unary runs of 64 bits and more); mono, 6 and 8
      channels;
    - stereo: preset 0 keeps left and right in every frame; presets 1
      and 2 code dual mono and correlated channels with a side channel in
      every frame; over all signals each of the four assignments,
      constant, verbatim and FIXED subframes, each order 0 to 4, 4- and
      5-bit Rice parameters are made (the tallies are printed);
    - block sizes 16, 192, 576, 1000, 1152, 1153, 4096, 4608, 65535 (and
      blocks of 1152 from an encoder for 65535), last blocks of 1 to 15
      frames, streams of one block of 1 to 15 frames;
    - rates with a code of their own (8 to 192 kHz), in kHz, Hz or tens of
      Hz after the header (12 and 255 kHz, 11025, 44056, 65535, 256000,
      655350 Hz), and ones only STREAMINFO can hold (65536, 100001 Hz);
    - frame numbers coded in 1 to 6 bytes (the fixed blocking strategy
      numbers frames in 31 bits, RFC 9639 9.1.5), in runs across each
      length's edge and up to 2^31 - 1, as libFLAC reads them and byte for
      byte; flac_coded_number up to 36 bits (7 bytes), flac_crc8 and
      flac_crc16 (in pieces) against the CRCs' check values and this
      file's own;
    - size: 20 s of the dense test mix and 10 s of the orchestral one at
      24-bit 44.1 kHz stereo, libFLAC at preset 1 against flac_enc at
      preset 1, both in blocks of 1152: flac_enc's frames at most 1%
      larger (the sizes and ratio are printed);
    - flac_enc_new refuses what its header does not cover.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <FLAC/stream_decoder.h>
#include <FLAC/stream_encoder.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/md5.h"
#include "master_mix.h"
#include "orch_mix.h"
#include "testsig.h"
#include "worker/flac_enc.h"

#define S_MAX_CHANNELS   8
#define S_DENSE_SECONDS  20.0      //  of the dense mix for the size comparison
#define S_ORCH_SECONDS   10.0      //  of the orchestral one (its shortest: slow to make)
#define S_SIZE_TOLERANCE 1.01      //  flac_enc's frame bytes over libFLAC's, at most

//  What a case asks of the frames beyond a faithful round trip.
enum {
    S_WANT_CONSTANT = 1,           //  every subframe CONSTANT
    S_WANT_VERBATIM = 2,           //  no frame larger than its verbatim coding
    S_WANT_ORDER2UP = 4,           //  blocks of 16 or more: FIXED of order 2 to 4 only
    S_WANT_SIDE     = 8,           //  blocks of 16 or more: never left and right
    S_WANT_ESCAPE   = 16,          //  some partition escaped
    S_WANT_LONG_RUN = 32,          //  some Rice quotient of 64 or more
};

//  The signals s_signal makes.
typedef enum {
    S_SILENCE, S_DC, S_SINE, S_BASS, S_MIX, S_NOISE, S_WALK, S_FULL_NOISE, S_ALTERNATE,
    S_ANTI, S_IMPULSE, S_DUAL_MONO, S_ONE_SILENT, S_RAMP, S_CORRELATED, S_LEAN_LEFT,
    S_LEAN_RIGHT, S_BURST, S_SPIKES, S_SIGNALS
} s_kind_t;

static const char *const s_kind_name [S_SIGNALS] = {
    "silence", "dc", "sine", "bass", "mix", "noise", "walk", "full-scale noise", "alternate",
    "anti", "impulse", "dual mono", "one silent", "ramp", "correlated", "lean left",
    "lean right", "burst", "spikes"
};

//  One stream to make and read back.
typedef struct {
    const char *signal;            //  its name, for messages
    int         channels;          //  1 .. 8
    int         bits;              //  16 or 24
    int         rate_hz;
    int         level;             //  0 .. 2
    uint32_t    block;             //  frames in every block but the last
    int         max_block;         //  the encoder's; 0: block
    uint64_t    first_no;          //  the first frame's number
    unsigned    want;              //  S_WANT_*
    bool        once;              //  code once (no second encoder to compare)
    bool        plain;             //  the encoder's portable loops only (flac_enc_plain)
} s_case_t;

//  What the decoder showed of the frames, per stream and over the tests.
typedef struct {
    int64_t  frames;               //  FLAC frames decoded
    int64_t  assign [4];           //  frames by channel assignment
    int64_t  type [4];             //  subframes: constant, verbatim, fixed, lpc
    int64_t  order [5];            //  FIXED subframes by order
    int64_t  rice [2];             //  FIXED subframes with 4- and 5-bit parameters
    int64_t  escapes;              //  partitions escaped
    int64_t  zero_escapes;         //  of them, with no bits (all residuals 0)
    int64_t  porder [16];          //  FIXED subframes by partition order
    uint64_t max_quotient;         //  the longest unary run of a Rice code
} s_stats_t;

//  The decoder's side of one stream.
typedef struct {
    const s_case_t *c;
    const uint8_t  *in;            //  the stream
    size_t          in_size, in_at;
    int64_t         total;         //  its frames (samples per channel)
    uint32_t        si_block;      //  the STREAMINFO block size
    int32_t        *pcm;           //  what came back, interleaved
    int64_t         got;           //  frames (samples per channel) so far
    int             errors;        //  error callbacks
    FLAC__StreamDecoderErrorStatus first_error;
    int64_t         first_error_at;    //  FLAC frames decoded before it
    int             misheaded;     //  frames numbered, sized, ... other than made
    char            misheaded_desc [160];  //  the first of them
    int             misassigned;   //  preset 0 frames not left and right
    int             not_constant, not_order2up, not_side;
    int             bad_partition; //  partition orders the block does not allow
    int             lpc;           //  LPC subframes (flac_enc makes none)
    int             overrun;       //  frames beyond the total
    bool            streaminfo;
    int64_t         watch;         //  the frame to describe (-1: none)
    char            watch_desc [320];
    s_stats_t       st;
} s_decoded_t;

static char s_label [256];         //  the case being run, for messages
static s_stats_t s_cover;          //  everything decoded by the signal tests

//  Fails the test, naming the case, when c does not hold.
#define S_CHECK(c, ...) do {                                                \
    if (!(c)) {                                                             \
        print_error ("%s: ", s_label);                                      \
        print_error (__VA_ARGS__);                                          \
        print_error ("\n");                                                 \
        fail ();                                                            \
    }                                                                       \
} while (0)

//  ---------------------------------------------------------------------
//  RFC 9639 by hand: CRCs, coded numbers, the frame header

//  CRC-8 of a frame header: polynomial x^8 + x^2 + x + 1, initial 0
//  (RFC 9639 9.1.8).
static uint8_t
s_crc8 (const uint8_t *p, size_t n)
{
    uint8_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= p [i];
        for (int b = 0; b < 8; b++)
            crc = (uint8_t) (crc & 0x80 ? (crc << 1) ^ 0x07 : crc << 1);
    }
    return crc;
}

//  CRC-16 of a frame: polynomial x^16 + x^15 + x^2 + 1, initial 0
//  (RFC 9639 9.3).
static uint16_t
s_crc16 (const uint8_t *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t) (p [i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t) (crc & 0x8000 ? (crc << 1) ^ 0x8005 : crc << 1);
    }
    return crc;
}

//  Codes v as RFC 9639 9.1.5 does (UTF-8 extended to 36 bits) into out;
//  returns its length, 1 to 7 bytes.
static int
s_coded_number (uint64_t v, uint8_t out [7])
{
    if (v < 0x80) {
        out [0] = (uint8_t) v;
        return 1;
    }
    int n = v < 0x800 ? 2 : v < 0x10000 ? 3 : v < 0x200000 ? 4 : v < 0x4000000 ? 5
          : v < 0x80000000u ? 6 : 7;
    out [0] = (uint8_t) ((0xff00u >> n) | (v >> (6 * (n - 1))));
    for (int i = 1; i < n; i++)
        out [i] = (uint8_t) (0x80 | ((v >> (6 * (n - 1 - i))) & 0x3f));
    return n;
}

//  A frame header as read here.
typedef struct {
    uint32_t blocksize;
    int      rate_hz;
    int      channels;
    int      assign;               //  0 independent, 1 left-side, 2 right-side, 3 mid-side
    int      bits;
    uint64_t number;
    size_t   number_at, number_len;    //  where the coded number lies
    size_t   length;               //  bytes, CRC-8 included
} s_header_t;

//  Reads the header of a fixed-blocking-strategy frame (RFC 9639 9.1),
//  taking codes 0 for rate and bits from si_rate and si_bits. Returns
//  NULL, or what is wrong with it.
static const char *
s_header_read (const uint8_t *f, size_t size, int si_rate, int si_bits, s_header_t *h)
{
    static const int rates [12] = { 0, 88200, 176400, 192000, 8000, 16000, 22050, 24000,
                                    32000, 44100, 48000, 96000 };
    static const int bits [8] = { 0, 8, 12, -1, 16, 20, 24, 32 };
    memset (h, 0, sizeof *h);
    if (size < 6)
        return "shorter than a header";
    if (f [0] != 0xff || f [1] != 0xf8)
        return "no sync code 0xfff8 (fixed blocking strategy)";
    int bs = f [2] >> 4, sr = f [2] & 15, ch = f [3] >> 4, bc = (f [3] >> 1) & 7;
    if (bs == 0 || sr == 15 || ch > 10 || bc == 3 || (f [3] & 1))
        return "reserved code in the header";
    h->rate_hz = sr == 0 ? si_rate : rates [sr < 12 ? sr : 0];
    h->channels = ch < 8 ? ch + 1 : 2;
    h->assign = ch < 8 ? 0 : ch - 7;
    h->bits = bc == 0 ? si_bits : bits [bc];
    //  the coded number
    size_t at = 4;
    int n = f [at] < 0x80 ? 1 : f [at] < 0xc0 ? 0 : f [at] < 0xe0 ? 2 : f [at] < 0xf0 ? 3
          : f [at] < 0xf8 ? 4 : f [at] < 0xfc ? 5 : f [at] < 0xfe ? 6 : f [at] == 0xfe ? 7 : 0;
    if (n == 0 || at + (size_t) n + 1 > size)
        return "malformed coded number";
    h->number = n == 1 ? f [at] : f [at] & (0x7fu >> n);
    for (int i = 1; i < n; i++) {
        if ((f [at + i] & 0xc0) != 0x80)
            return "malformed coded number";
        h->number = h->number << 6 | (f [at + i] & 0x3f);
    }
    h->number_at = at;
    h->number_len = (size_t) n;
    at += (size_t) n;
    //  block size and rate that follow the number
    if (bs == 1)
        h->blocksize = 192;
    else
    if (bs <= 5)
        h->blocksize = 576u << (bs - 2);
    else
    if (bs == 6)
        h->blocksize = f [at++] + 1u;
    else
    if (bs == 7) {
        h->blocksize = ((uint32_t) f [at] << 8 | f [at + 1]) + 1u;
        at += 2;
    }
    else
        h->blocksize = 256u << (bs - 8);
    if (sr == 12)
        h->rate_hz = f [at++] * 1000;
    else
    if (sr == 13 || sr == 14) {
        h->rate_hz = (f [at] << 8 | f [at + 1]) * (sr == 13 ? 1 : 10);
        at += 2;
    }
    if (at + 1 > size)
        return "header runs past the frame";
    if (s_crc8 (f, at) != f [at])
        return "CRC-8 of the header does not match";
    h->length = at + 1;
    if (size < h->length + 2)
        return "no room for the footer";
    if (s_crc16 (f, size - 2) != (uint16_t) (f [size - 2] << 8 | f [size - 1]))
        return "CRC-16 of the frame does not match";
    return NULL;
}

//  ---------------------------------------------------------------------
//  Signals

//  v (full scale 1.0) on a grid of bits, clipped to the word.
static int32_t
s_q (double v, int bits)
{
    double fs = ldexp (1.0, bits - 1);
    double q = nearbyint (v * fs);
    return (int32_t) (q < -fs ? -fs : q > fs - 1 ? fs - 1 : q);
}

//  The dense mix, channel c, frame i: six partials (55 Hz to 7.5 kHz,
//  slightly detuned per channel) and a noise floor at about -50 dBFS;
//  peaks near -5 dBFS.
static double
s_mix (int64_t i, int c, int rate_hz, testsig_rng_t *rng)
{
    static const double f [6] = { 55.0, 220.0, 660.0, 1250.0, 3100.0, 7500.0 };
    static const double a [6] = { 0.2, 0.15, 0.1, 0.05, 0.03, 0.01 };
    double t = (double) i / rate_hz, v = 0.0;
    for (int k = 0; k < 6; k++)
        v += a [k] * sin (2.0 * M_PI * f [k] * (1.0 + 0.013 * c) * t + 0.7 * k + c);
    return v + 0.003 * testsig_rng_gauss (rng);
}

//  Frames x channels of a signal at bits, interleaved (free with free);
//  deterministic for a seed.
static int32_t *
s_signal (s_kind_t kind, int bits, int channels, int64_t frames, int rate_hz, uint64_t seed)
{
    int32_t *x = calloc ((size_t) frames * (size_t) channels + 1, sizeof *x);
    assert_non_null (x);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, seed);
    const int32_t hi = (int32_t) ((1u << (bits - 1)) - 1), lo = -hi - 1;
    const double lsb16 = ldexp (1.0, bits - 16);          //  16-bit steps at bits
    double walk [S_MAX_CHANNELS] = { 0 };
    for (int64_t i = 0; i < frames; i++) {
        double t = (double) i / rate_hz;
        double common = s_mix (i, 0, rate_hz, &rng);
        for (int c = 0; c < channels; c++) {
            int32_t *v = &x [(size_t) i * channels + c];
            switch (kind) {
                case S_SILENCE:
                    break;
                case S_DC:                  //  the extremes too, so a side is bits + 1 wide
                    *v = c == 0 ? hi : c == 1 ? lo : s_q (0.1 * c - 0.45, bits);
                    break;
                case S_SINE:
                    *v = s_q (0.5 * sin (2.0 * M_PI * 997.0 * (1.0 + 0.31 * c) * t), bits);
                    break;
                case S_BASS:                //  44 Hz and up: order 3 at 24 bits
                    *v = s_q (0.5 * sin (2.0 * M_PI * 44.0 * (1.0 + 0.31 * c) * t), bits);
                    break;
                case S_MIX:
                    *v = s_q (c == 0 ? common : s_mix (i, c, rate_hz, &rng), bits);
                    break;
                case S_NOISE:
                    *v = s_q (0.1 * testsig_rng_gauss (&rng), bits);
                    break;
                case S_WALK:                //  leaky: stays in range, favours order 1
                    walk [c] = 0.9995 * walk [c] + 0.004 * testsig_rng_gauss (&rng);
                    *v = s_q (walk [c], bits);
                    break;
                case S_FULL_NOISE:
                    *v = lo + (int32_t) (testsig_rng_uniform (&rng) * ldexp (1.0, bits));
                    break;
                case S_ALTERNATE:           //  even channels min, max, ...; odd ones max, min
                    *v = ((i + c) & 1) ? hi : lo;
                    break;
                case S_ANTI:                //  extremes at random, odd channels = -even
                    if (c % 2 == 0)
                        *v = testsig_rng_uniform (&rng) < 0.5 ? lo : hi;
                    else
                        *v = v [-1] == lo ? hi : -hi;
                    break;
                case S_IMPULSE:             //  one sample per channel, in different blocks
                    *v = i == 777 + 1300 * c ? (c % 2 ? lo : hi) : 0;
                    break;
                case S_DUAL_MONO:
                    *v = s_q (common, bits);
                    break;
                case S_ONE_SILENT:
                    *v = c % 2 ? 0 : s_q (1.9 * common, bits);
                    break;
                case S_RAMP:                //  periods of 20000 frames and more
                    *v = s_q (0.9 * sin (2.0 * M_PI * (double) i / (20000.0 + 7000.0 * c) + c),
                              bits);
                    break;
                case S_CORRELATED:          //  a common part and -70 dBFS of each's own
                    *v = s_q (common + 0.0003 * testsig_rng_gauss (&rng), bits);
                    break;
                case S_LEAN_LEFT:           //  a + b and a: side and right the smallest
                case S_LEAN_RIGHT:          //  a and a + b: left and side
                    if (c % 2 == 0)
                        *v = s_q (0.03 * testsig_rng_gauss (&rng), bits);
                    else
                        *v = s_q ((double) v [-1] / ldexp (1.0, bits - 1)
                                  + 0.03 * testsig_rng_gauss (&rng), bits);
                    if (kind == S_LEAN_LEFT && c % 2) {
                        int32_t swap = v [-1];
                        v [-1] = *v;
                        *v = swap;
                    }
                    break;
                case S_BURST:               //  each 1152 frames: 576 silent, 576 noise
                    *v = i % 1152 < 576 ? 0
                       : lo + (int32_t) (testsig_rng_uniform (&rng) * ldexp (1.0, bits));
                    break;
                case S_SPIKES:              //  rms 30 (at 16 bits), a spike every 300 frames
                    *v = s_q (lsb16 * (30.0 * testsig_rng_gauss (&rng)
                                       + (i % 300 == 150 ? (c % 2 ? -16000.0 : 16000.0) : 0.0))
                              / ldexp (1.0, bits - 1), bits);
                    break;
                default:
                    fail ();
            }
        }
    }
    return x;
}

//  A float signal (a test mix) on the grid of bits.
static int32_t *
s_from_audio (const audio_t *a, int bits)
{
    size_t n = (size_t) a->frames * a->channels;
    int32_t *x = malloc (n * sizeof *x + 1);
    assert_non_null (x);
    for (size_t i = 0; i < n; i++)
        x [i] = s_q (a->data [i], bits);
    return x;
}

//  ---------------------------------------------------------------------
//  libFLAC's decoder, from memory

static FLAC__StreamDecoderReadStatus
s_dec_read (const FLAC__StreamDecoder *d, FLAC__byte buf [], size_t *bytes, void *arg)
{
    (void) d;
    s_decoded_t *o = arg;
    size_t left = o->in_size - o->in_at;
    if (left == 0) {
        *bytes = 0;
        return FLAC__STREAM_DECODER_READ_STATUS_END_OF_STREAM;
    }
    if (*bytes > left)
        *bytes = left;
    memcpy (buf, o->in + o->in_at, *bytes);
    o->in_at += *bytes;
    return FLAC__STREAM_DECODER_READ_STATUS_CONTINUE;
}

//  Tallies a FIXED subframe's residual coding (libFLAC's view of it) and
//  checks that its partition order suits the block (RFC 9639 9.2.7).
static void
s_dec_fixed (s_decoded_t *o, const FLAC__Subframe_Fixed *sf, uint32_t blocksize)
{
    const FLAC__EntropyCodingMethod *m = &sf->entropy_coding_method;
    bool rice2 = m->type == FLAC__ENTROPY_CODING_METHOD_PARTITIONED_RICE2;
    uint32_t escape = rice2 ? 31 : 15;
    uint32_t porder = m->data.partitioned_rice.order;
    o->st.order [sf->order]++;
    o->st.rice [rice2]++;
    o->st.porder [porder & 15]++;
    uint32_t ps = blocksize >> porder;
    if ((blocksize & ((1u << porder) - 1)) || ps < sf->order) {
        o->bad_partition++;
        return;
    }
    const FLAC__EntropyCodingMethod_PartitionedRiceContents *pc =
        m->data.partitioned_rice.contents;
    for (uint32_t p = 0; p < (1u << porder); p++) {
        uint32_t k = pc->parameters [p];
        if (k == escape) {
            o->st.escapes++;
            o->st.zero_escapes += pc->raw_bits [p] == 0;
            continue;
        }
        uint32_t from = p == 0 ? 0 : p * ps - sf->order, to = (p + 1) * ps - sf->order;
        for (uint32_t i = from; i < to; i++) {
            int64_t r = sf->residual [i];
            uint64_t u = r >= 0 ? (uint64_t) r * 2 : (uint64_t) (-r) * 2 - 1;
            if (u >> k > o->st.max_quotient)
                o->st.max_quotient = u >> k;
        }
    }
}

//  Appends to out as snprintf would, never past size.
static void
s_say (char *out, size_t size, const char *fmt, ...)
{
    size_t at = strlen (out);
    if (at + 1 >= size)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (out + at, size - at, fmt, ap);
    va_end (ap);
}

//  A frame as libFLAC read it, in words, for messages: the channel
//  assignment, and each subframe's type, order and residual coding.
static void
s_describe (const FLAC__Frame *fr, char *out, size_t size)
{
    static const char *const assign [4] = {
        "left and right", "left and side", "side and right", "mid and side"
    };
    static const char *const type [4] = { "CONSTANT", "VERBATIM", "FIXED", "LPC" };
    out [0] = 0;
    s_say (out, size, "%s", assign [fr->header.channel_assignment & 3]);
    for (uint32_t ch = 0; ch < fr->header.channels; ch++) {
        const FLAC__Subframe *sf = &fr->subframes [ch];
        s_say (out, size, "; %s", type [sf->type & 3]);
        if (sf->type != FLAC__SUBFRAME_TYPE_FIXED)
            continue;
        const FLAC__EntropyCodingMethod *m = &sf->data.fixed.entropy_coding_method;
        bool rice2 = m->type == FLAC__ENTROPY_CODING_METHOD_PARTITIONED_RICE2;
        uint32_t porder = m->data.partitioned_rice.order;
        s_say (out, size, " order %u, %d-bit parameters", sf->data.fixed.order, rice2 ? 5 : 4);
        for (uint32_t p = 0; p < (1u << porder) && p < 8; p++) {
            uint32_t k = m->data.partitioned_rice.contents->parameters [p];
            if (k == (rice2 ? 31u : 15u))
                s_say (out, size, " esc:%u", m->data.partitioned_rice.contents->raw_bits [p]);
            else
                s_say (out, size, " %u", k);
        }
    }
}

static FLAC__StreamDecoderWriteStatus
s_dec_write (const FLAC__StreamDecoder *d, const FLAC__Frame *fr, const FLAC__int32 *const buf [],
             void *arg)
{
    (void) d;
    s_decoded_t *o = arg;
    const s_case_t *c = o->c;
    const FLAC__FrameHeader *h = &fr->header;
    int64_t k = o->st.frames++;
    if (k == o->watch)
        s_describe (fr, o->watch_desc, sizeof o->watch_desc);
    int64_t left = o->total - o->got;
    uint32_t n = left < c->block ? (uint32_t) left : c->block;
    uint64_t at = (c->first_no + (uint64_t) k) * o->si_block;
    if ((h->number_type != FLAC__FRAME_NUMBER_TYPE_SAMPLE_NUMBER
         || h->number.sample_number != at || h->blocksize != n
         || h->channels != (unsigned) c->channels || h->bits_per_sample != (unsigned) c->bits
         || h->sample_rate != (unsigned) c->rate_hz) && o->misheaded++ == 0)
        snprintf (o->misheaded_desc, sizeof o->misheaded_desc,
                  "frame %lld at sample %llu, %u frames, %u ch, %u bits, %u Hz (made at %llu, "
                  "%u frames)", (long long) k, (unsigned long long) h->number.sample_number,
                  h->blocksize, h->channels, h->bits_per_sample, h->sample_rate,
                  (unsigned long long) at, n);
    o->st.assign [h->channel_assignment & 3]++;
    o->misassigned += c->level == 0 && h->channel_assignment != FLAC__CHANNEL_ASSIGNMENT_INDEPENDENT;
    o->not_side += (c->want & S_WANT_SIDE) && h->blocksize >= 16
                && h->channel_assignment == FLAC__CHANNEL_ASSIGNMENT_INDEPENDENT;
    for (uint32_t ch = 0; ch < h->channels && ch < S_MAX_CHANNELS; ch++) {
        const FLAC__Subframe *sf = &fr->subframes [ch];
        o->st.type [sf->type & 3]++;
        o->lpc += sf->type == FLAC__SUBFRAME_TYPE_LPC;
        o->not_constant += (c->want & S_WANT_CONSTANT) && sf->type != FLAC__SUBFRAME_TYPE_CONSTANT;
        o->not_order2up += (c->want & S_WANT_ORDER2UP) && h->blocksize >= 16
                        && (sf->type != FLAC__SUBFRAME_TYPE_FIXED || sf->data.fixed.order < 2);
        if (sf->type == FLAC__SUBFRAME_TYPE_FIXED)
            s_dec_fixed (o, &sf->data.fixed, h->blocksize);
    }
    if (h->blocksize > left || h->channels != (unsigned) c->channels) {
        o->overrun++;
        return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE;
    }
    for (uint32_t i = 0; i < h->blocksize; i++)
        for (int ch = 0; ch < c->channels; ch++)
            o->pcm [(size_t) (o->got + i) * c->channels + ch] = buf [ch][i];
    o->got += h->blocksize;
    return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE;
}

static void
s_dec_meta (const FLAC__StreamDecoder *d, const FLAC__StreamMetadata *m, void *arg)
{
    (void) d;
    s_decoded_t *o = arg;
    o->streaminfo = o->streaminfo || m->type == FLAC__METADATA_TYPE_STREAMINFO;
}

static void
s_dec_error (const FLAC__StreamDecoder *d, FLAC__StreamDecoderErrorStatus st, void *arg)
{
    (void) d;
    s_decoded_t *o = arg;
    if (o->errors++ == 0) {
        o->first_error = st;
        o->first_error_at = o->st.frames;
    }
}

//  Adds one stream's tallies to another.
static void
s_stats_add (s_stats_t *to, const s_stats_t *from)
{
    to->frames += from->frames;
    for (int i = 0; i < 4; i++) {
        to->assign [i] += from->assign [i];
        to->type [i] += from->type [i];
    }
    for (int i = 0; i < 5; i++)
        to->order [i] += from->order [i];
    for (int i = 0; i < 16; i++)
        to->porder [i] += from->porder [i];
    to->rice [0] += from->rice [0];
    to->rice [1] += from->rice [1];
    to->escapes += from->escapes;
    to->zero_escapes += from->zero_escapes;
    if (from->max_quotient > to->max_quotient)
        to->max_quotient = from->max_quotient;
}

//  ---------------------------------------------------------------------
//  Streams

//  A growing byte buffer.
typedef struct {
    uint8_t *p;
    size_t   size, cap;
} s_buf_t;

static void
s_buf_add (s_buf_t *b, const void *p, size_t n)
{
    if (b->size + n > b->cap) {
        b->cap = (b->size + n) * 2;
        b->p = realloc (b->p, b->cap);
        assert_non_null (b->p);
    }
    memcpy (b->p + b->size, p, n);
    b->size += n;
}

//  The MD5 of frames of x, each sample little-endian in bits / 8 bytes
//  (RFC 9639 8.2).
static void
s_md5 (const int32_t *x, int64_t frames, int channels, int bits, uint8_t out [16])
{
    md5_ctx_t m;
    md5_init (&m);
    const int bytes = bits / 8;
    uint8_t piece [4096 * 3];
    size_t at = 0;
    for (size_t i = 0; i < (size_t) frames * channels; i++) {
        uint32_t v = (uint32_t) x [i];
        for (int b = 0; b < bytes; b++)
            piece [at++] = (uint8_t) (v >> (8 * b));
        if (at == sizeof piece) {
            md5_update (&m, piece, at);
            at = 0;
        }
    }
    md5_update (&m, piece, at);
    md5_final (&m, out);
}

//  What s_encode saw of the frames it made.
typedef struct {
    uint32_t min_frame, max_frame;     //  bytes
    int64_t  over;                 //  frames larger than verbatim (S_WANT_VERBATIM)
    int64_t  first_over;           //  the first of them, counted from 0
    size_t   over_size, over_verbatim;
} s_made_t;

//  Codes frames of x as c says with a new encoder: the frames back to
//  back in *out, each checked against its header, and what it saw of
//  them in *made.
static void
s_encode (const s_case_t *c, const int32_t *x, int64_t frames, s_buf_t *out, s_made_t *made)
{
    flac_enc_t *e = flac_enc_new (c->channels, c->bits, c->rate_hz, c->level,
                                  c->max_block ? c->max_block : (int) c->block);
    S_CHECK (e, "flac_enc_new refused the case");
    if (c->plain)
        flac_enc_plain (e);
    memset (made, 0, sizeof *made);
    made->min_frame = UINT32_MAX;
    made->first_over = -1;
    uint64_t no = c->first_no;
    for (int64_t at = 0; at < frames; at += c->block, no++) {
        uint32_t n = frames - at < c->block ? (uint32_t) (frames - at) : c->block;
        const uint8_t *f = NULL;
        size_t size = flac_enc_frame (e, x + (size_t) at * c->channels, n, no, &f);
        S_CHECK (size > 0 && f, "frame %llu: flac_enc_frame returned nothing",
                 (unsigned long long) no);
        s_header_t h;
        const char *why = s_header_read (f, size, c->rate_hz, c->bits, &h);
        S_CHECK (!why, "frame %llu (%zu bytes): %s", (unsigned long long) no, size, why);
        uint8_t coded [7];
        int len = s_coded_number (no, coded);
        S_CHECK (h.number == no && h.number_len == (size_t) len
                 && memcmp (f + h.number_at, coded, (size_t) len) == 0,
                 "frame %llu: coded number reads %llu in %zu bytes, not %d",
                 (unsigned long long) no, (unsigned long long) h.number, h.number_len, len);
        S_CHECK (h.blocksize == n && h.channels == c->channels && h.bits == c->bits
                 && h.rate_hz == c->rate_hz,
                 "frame %llu: header says %u frames, %d channels, %d bits, %d Hz",
                 (unsigned long long) no, h.blocksize, h.channels, h.bits, h.rate_hz);
        S_CHECK (c->channels == 2 || h.assign == 0, "frame %llu: a side channel of %d",
                 (unsigned long long) no, c->channels);
        //  the streamable subset (RFC 9639 7) leaves neither rate nor bits
        //  to the STREAMINFO where the header can say them
        bool codable = c->rate_hz <= 65535 || c->rate_hz % 10 == 0;
        S_CHECK ((f [2] & 15) != 0 || !codable, "frame %llu: rate left to the STREAMINFO",
                 (unsigned long long) no);
        S_CHECK ((f [3] & 0x0e) != 0, "frame %llu: bits left to the STREAMINFO",
                 (unsigned long long) no);
        //  never larger than verbatim with every channel a bit wider than
        //  its samples (a side channel); verbatim itself when asked
        size_t wide = h.length + ((size_t) c->channels * (8 + n * (c->bits + 1)) + 7) / 8 + 2;
        size_t verbatim = h.length + ((size_t) c->channels * (8 + n * c->bits) + 7) / 8 + 2;
        S_CHECK (size <= wide, "frame %llu: %zu bytes, verbatim of a side is %zu",
                 (unsigned long long) no, size, wide);
        if ((c->want & S_WANT_VERBATIM) && size > verbatim && made->over++ == 0) {
            made->first_over = (int64_t) (no - c->first_no);
            made->over_size = size;
            made->over_verbatim = verbatim;
        }
        made->min_frame = size < made->min_frame ? (uint32_t) size : made->min_frame;
        made->max_frame = size > made->max_frame ? (uint32_t) size : made->max_frame;
        s_buf_add (out, f, size);
    }
    flac_enc_free (e);
}

//  Makes the stream of c from frames of x and reads it with libFLAC:
//  checks all that the file's comment lists for a round trip and what
//  c->want asks. Adds the tallies to *stats when given; returns the
//  frames' bytes.
static size_t
s_run (const s_case_t *c, const int32_t *x, int64_t frames, s_stats_t *stats)
{
    snprintf (s_label, sizeof s_label,
              "%s, %d-bit, %d ch, %d Hz, preset %d, blocks of %u, from frame %llu",
              c->signal, c->bits, c->channels, c->rate_hz, c->level, c->block,
              (unsigned long long) c->first_no);
    //  "fLaC" and the STREAMINFO, filled in once the frames are made
    s_buf_t s = { 0 };
    uint8_t head [42] = { 'f', 'L', 'a', 'C', 0x80, 0, 0, 34 };
    s_buf_add (&s, head, sizeof head);
    s_made_t made;
    s_encode (c, x, frames, &s, &made);
    size_t frame_bytes = s.size - sizeof head;
    if (!c->once) {                 //  a second encoder, portable loops only: the same bytes
        s_buf_t again = { 0 };
        s_made_t made2;
        s_case_t plain = *c;
        plain.plain = true;
        s_encode (&plain, x, frames, &again, &made2);
        S_CHECK (again.size == frame_bytes
                 && memcmp (again.p, s.p + sizeof head, frame_bytes) == 0,
                 "a second encoder, with its portable loops only, made other bytes");
        free (again.p);
    }
    //  the block size bounds leave out the last block (RFC 9639 8.2),
    //  unless it is the only one
    uint32_t si_block = frames < c->block ? (uint32_t) frames : c->block;
    uint8_t *si = s.p + 8;
    si [0] = (uint8_t) (si_block >> 8);
    si [1] = (uint8_t) si_block;
    si [2] = (uint8_t) (si_block >> 8);
    si [3] = (uint8_t) si_block;
    for (int i = 0; i < 3; i++) {
        si [4 + i] = (uint8_t) (made.min_frame >> (16 - 8 * i));
        si [7 + i] = (uint8_t) (made.max_frame >> (16 - 8 * i));
    }
    uint64_t packed = (uint64_t) c->rate_hz << 44 | (uint64_t) (c->channels - 1) << 41
                    | (uint64_t) (c->bits - 1) << 36 | (uint64_t) frames;
    for (int i = 0; i < 8; i++)
        si [10 + i] = (uint8_t) (packed >> (56 - 8 * i));
    s_md5 (x, frames, c->channels, c->bits, si + 18);
    //  libFLAC reads it back
    s_decoded_t o = { .c = c, .in = s.p, .in_size = s.size, .total = frames,
                      .si_block = si_block, .watch = made.first_over };
    o.pcm = calloc ((size_t) frames * c->channels + 1, sizeof *o.pcm);
    assert_non_null (o.pcm);
    FLAC__StreamDecoder *d = FLAC__stream_decoder_new ();
    assert_non_null (d);
    FLAC__stream_decoder_set_md5_checking (d, true);
    assert_int_equal (FLAC__stream_decoder_init_stream (d, s_dec_read, NULL, NULL, NULL, NULL,
                                                        s_dec_write, s_dec_meta, s_dec_error,
                                                        &o),
                      FLAC__STREAM_DECODER_INIT_STATUS_OK);
    bool read_ok = FLAC__stream_decoder_process_until_end_of_stream (d);
    FLAC__StreamDecoderState state = FLAC__stream_decoder_get_state (d);
    bool md5_ok = FLAC__stream_decoder_finish (d);
    FLAC__stream_decoder_delete (d);
    S_CHECK (o.errors == 0, "libFLAC: %d errors, the first \"%s\" after %lld frames",
             o.errors, FLAC__StreamDecoderErrorStatusString [o.first_error],
             (long long) o.first_error_at);
    S_CHECK (read_ok && state == FLAC__STREAM_DECODER_END_OF_STREAM,
             "libFLAC stopped in state %s", FLAC__StreamDecoderStateString [state]);
    S_CHECK (o.streaminfo, "libFLAC saw no STREAMINFO");
    S_CHECK (o.misheaded == 0, "libFLAC read %d frames other than made, the first %s",
             o.misheaded, o.misheaded_desc);
    S_CHECK (o.overrun == 0, "%d frames beyond the samples", o.overrun);
    S_CHECK (o.got == frames, "%lld frames back of %lld", (long long) o.got, (long long) frames);
    for (size_t i = 0; i < (size_t) frames * c->channels; i++)
        S_CHECK (o.pcm [i] == x [i], "sample %zu (frame %zu, channel %zu): %d back, %d in",
                 i, i / c->channels, i % c->channels, o.pcm [i], x [i]);
    S_CHECK (md5_ok, "libFLAC found the MD5 of the samples different");
    S_CHECK (made.over == 0, "%lld frames larger than verbatim, the first (frame %lld) %zu "
             "bytes against %zu: %s", (long long) made.over, (long long) made.first_over,
             made.over_size, made.over_verbatim, o.watch_desc);
    S_CHECK (o.bad_partition == 0, "%d subframes with a partition order the block refuses",
             o.bad_partition);
    S_CHECK (o.lpc == 0, "%d LPC subframes", o.lpc);
    S_CHECK (o.misassigned == 0, "%d frames of preset 0 not left and right", o.misassigned);
    S_CHECK (o.not_constant == 0, "%d subframes not CONSTANT", o.not_constant);
    S_CHECK (o.not_order2up == 0, "%d subframes not FIXED of order 2 to 4", o.not_order2up);
    S_CHECK (o.not_side == 0, "%d frames coded as left and right", o.not_side);
    S_CHECK (!(c->want & S_WANT_ESCAPE) || o.st.escapes > 0, "no partition escaped");
    S_CHECK (!(c->want & S_WANT_LONG_RUN) || o.st.max_quotient >= 64,
             "longest unary run %llu bits", (unsigned long long) o.st.max_quotient);
    if (stats)
        s_stats_add (stats, &o.st);
    free (o.pcm);
    free (s.p);
    return frame_bytes;
}

//  ---------------------------------------------------------------------
//  The tests

static void
test_flac_enc_args (void **state)
{
    (void) state;
    for (int level = -1; level <= 9; level++)
        assert_true (flac_enc_covers (level) == (level >= 0 && level <= 2));
    //  one value out of range at a time
    static const int bad [][5] = {
        { 0, 16, 44100, 1, 1152 }, { 9, 16, 44100, 1, 1152 }, { 2, 8, 44100, 1, 1152 },
        { 2, 20, 44100, 1, 1152 }, { 2, 32, 44100, 1, 1152 }, { 2, 0, 44100, 1, 1152 },
        { 2, 16, 0, 1, 1152 }, { 2, 16, 655351, 1, 1152 }, { 2, 16, -44100, 1, 1152 },
        { 2, 16, 44100, -1, 1152 }, { 2, 16, 44100, 3, 1152 }, { 2, 16, 44100, 5, 1152 },
        { 2, 16, 44100, 1, 15 }, { 2, 16, 44100, 1, 65536 }, { 2, 16, 44100, 1, 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        flac_enc_t *e = flac_enc_new (bad [i][0], bad [i][1], bad [i][2], bad [i][3], bad [i][4]);
        if (e)
            print_error ("flac_enc_new (%d, %d, %d, %d, %d) took it\n", bad [i][0], bad [i][1],
                         bad [i][2], bad [i][3], bad [i][4]);
        assert_null (e);
    }
    //  the edges of what it takes
    static const int good [][5] = {
        { 1, 16, 1, 0, 16 }, { 8, 24, 655350, 2, 65535 }, { 2, 24, 44100, 1, 1152 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good [0]; i++) {
        flac_enc_t *e = flac_enc_new (good [i][0], good [i][1], good [i][2], good [i][3],
                                      good [i][4]);
        assert_non_null (e);
        flac_enc_free (e);
    }
    flac_enc_free (NULL);
}

//  Runs kind at 16 and 24 bits and presets 0 to 2 with channels in
//  blocks of block, 3 1/2 blocks long.
static void
s_signal_all (s_kind_t kind, int channels, uint32_t block, unsigned want)
{
    const int64_t frames = 3 * (int64_t) block + block / 2 + 3;
    for (int bits = 16; bits <= 24; bits += 8) {
        int32_t *x = s_signal (kind, bits, channels, frames, 44100, 1000 + kind);
        for (int level = 0; level <= 2; level++) {
            s_case_t c = { .signal = s_kind_name [kind], .channels = channels, .bits = bits,
                           .rate_hz = 44100, .level = level, .block = block,
                           .want = want & (level == 0 ? ~(unsigned) S_WANT_SIDE : ~0u) };
            s_run (&c, x, frames, &s_cover);
        }
        free (x);
    }
}

static void
test_flac_enc_signals (void **state)
{
    (void) state;
    memset (&s_cover, 0, sizeof s_cover);
    s_signal_all (S_SILENCE, 2, 1152, S_WANT_CONSTANT);
    s_signal_all (S_DC, 2, 1152, S_WANT_CONSTANT);
    s_signal_all (S_SINE, 2, 1152, 0);
    s_signal_all (S_BASS, 2, 1152, 0);
    s_signal_all (S_MIX, 2, 1152, 0);
    s_signal_all (S_NOISE, 2, 1152, 0);
    s_signal_all (S_WALK, 2, 1152, 0);
    s_signal_all (S_FULL_NOISE, 2, 1152, S_WANT_VERBATIM);
    s_signal_all (S_ALTERNATE, 2, 1152, 0);
    s_signal_all (S_ANTI, 2, 1152, 0);
    s_signal_all (S_IMPULSE, 2, 1152, 0);
    s_signal_all (S_DUAL_MONO, 2, 1152, S_WANT_SIDE);
    s_signal_all (S_ONE_SILENT, 2, 1152, 0);
    s_signal_all (S_RAMP, 2, 1152, S_WANT_ORDER2UP);
    s_signal_all (S_CORRELATED, 2, 1152, S_WANT_SIDE);
    s_signal_all (S_LEAN_LEFT, 2, 1152, S_WANT_SIDE);
    s_signal_all (S_LEAN_RIGHT, 2, 1152, S_WANT_SIDE);
    s_signal_all (S_BURST, 2, 1152, S_WANT_ESCAPE);
    s_signal_all (S_SPIKES, 2, 1153, S_WANT_LONG_RUN);     //  odd: one partition only
    //  mono and surround
    static const int more [] = { 1, 6, 8 };
    for (size_t i = 0; i < sizeof more / sizeof more [0]; i++) {
        s_signal_all (S_SILENCE, more [i], 1152, S_WANT_CONSTANT);
        s_signal_all (S_DC, more [i], 1152, S_WANT_CONSTANT);
        s_signal_all (S_MIX, more [i], 1152, 0);
        s_signal_all (S_FULL_NOISE, more [i], 1152, S_WANT_VERBATIM);
        s_signal_all (S_ANTI, more [i], 1152, 0);
        s_signal_all (S_IMPULSE, more [i], 1152, 0);
        s_signal_all (S_RAMP, more [i], 1152, S_WANT_ORDER2UP);
    }
    const s_stats_t *t = &s_cover;
    print_message ("%lld frames: independent %lld, left-side %lld, right-side %lld, "
                   "mid-side %lld\n", (long long) t->frames, (long long) t->assign [0],
                   (long long) t->assign [1], (long long) t->assign [2],
                   (long long) t->assign [3]);
    print_message ("subframes: constant %lld, verbatim %lld, fixed %lld (orders 0-4: %lld "
                   "%lld %lld %lld %lld; 4-bit %lld, 5-bit %lld)\n",
                   (long long) t->type [0], (long long) t->type [1], (long long) t->type [2],
                   (long long) t->order [0], (long long) t->order [1], (long long) t->order [2],
                   (long long) t->order [3], (long long) t->order [4], (long long) t->rice [0],
                   (long long) t->rice [1]);
    print_message ("partition orders 0-8: %lld %lld %lld %lld %lld %lld %lld %lld %lld; "
                   "escaped partitions %lld (%lld of no bits); longest unary run %llu\n",
                   (long long) t->porder [0], (long long) t->porder [1],
                   (long long) t->porder [2], (long long) t->porder [3],
                   (long long) t->porder [4], (long long) t->porder [5],
                   (long long) t->porder [6], (long long) t->porder [7],
                   (long long) t->porder [8], (long long) t->escapes,
                   (long long) t->zero_escapes, (unsigned long long) t->max_quotient);
    //  every kind of frame the encoder makes was made and read
    snprintf (s_label, sizeof s_label, "all signals");
    for (int i = 0; i < 4; i++)
        S_CHECK (t->assign [i] > 0, "no frame with channel assignment %d", i);
    S_CHECK (t->type [0] > 0 && t->type [1] > 0 && t->type [2] > 0,
             "not every subframe type made");
    for (int i = 0; i < 5; i++)
        S_CHECK (t->order [i] > 0, "no FIXED subframe of order %d", i);
    S_CHECK (t->rice [0] > 0 && t->rice [1] > 0, "not both Rice parameter widths made");
}

static void
test_flac_enc_block_sizes (void **state)
{
    (void) state;
    static const uint32_t blocks [] = { 16, 192, 576, 1000, 1152, 1153, 4096, 4608, 65535 };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks [0]; i++)
        for (int bits = 16; bits <= 24; bits += 8) {
            uint32_t b = blocks [i];
            int64_t frames = 2 * (int64_t) b + b / 3 + 1;
            int32_t *x = s_signal (S_MIX, bits, 2, frames, 48000, 7 + i);
            for (int level = 0; level <= 2; level += 2) {
                s_case_t c = { .signal = "mix", .channels = 2, .bits = bits, .rate_hz = 48000,
                               .level = level, .block = b, .once = b > 5000 };
                s_run (&c, x, frames, NULL);
            }
            free (x);
        }
    //  an encoder for the largest blocks coding the usual ones
    int32_t *x = s_signal (S_SINE, 24, 2, 5000, 48000, 3);
    s_case_t c = { .signal = "sine", .channels = 2, .bits = 24, .rate_hz = 48000, .level = 1,
                   .block = 1152, .max_block = 65535 };
    s_run (&c, x, 5000, NULL);
    free (x);
    //  one block of 65535 frames of full-scale noise: a verbatim frame of
    //  over 300 kB
    x = s_signal (S_FULL_NOISE, 24, 2, 65535, 48000, 4);
    c = (s_case_t) { .signal = "full-scale noise", .channels = 2, .bits = 24, .rate_hz = 48000,
                     .level = 2, .block = 65535, .want = S_WANT_VERBATIM, .once = true };
    s_run (&c, x, 65535, NULL);
    free (x);
    //  a last block of 1 to 15 frames, after blocks of 16, 1152 and 4096;
    //  signals that ask for every predictor order
    static const uint32_t before [] = { 16, 1152, 4096 };
    static const s_kind_t kinds [] = { S_MIX, S_RAMP, S_ANTI, S_DUAL_MONO };
    for (size_t i = 0; i < sizeof before / sizeof before [0]; i++)
        for (size_t k = 0; k < sizeof kinds / sizeof kinds [0]; k++) {
            int bits = k % 2 ? 24 : 16;
            int64_t most = 2 * (int64_t) before [i] + 15;
            x = s_signal (kinds [k], bits, 2, most, 44100, 11 + k);
            for (uint32_t last = 1; last <= 15; last++) {
                s_case_t lc = { .signal = s_kind_name [kinds [k]], .channels = 2, .bits = bits,
                                .rate_hz = 44100, .level = (int) (last % 3),
                                .block = before [i], .once = true };
                s_run (&lc, x, 2 * (int64_t) before [i] + last, NULL);
            }
            free (x);
        }
    //  a stream of one block shorter than 16 frames
    x = s_signal (S_MIX, 16, 2, 15, 44100, 5);
    for (uint32_t n = 1; n <= 15; n++) {
        s_case_t one = { .signal = "mix", .channels = 2, .bits = 16, .rate_hz = 44100,
                         .level = 2, .block = 16, .once = true };
        s_run (&one, x, n, NULL);
    }
    free (x);
}

static void
test_flac_enc_rates (void **state)
{
    (void) state;
    //  coded in the header's own table, in kHz, in Hz, in tens of Hz, or
    //  only in STREAMINFO
    static const int rates [] = {
        44100, 48000, 96000, 88200, 192000, 176400, 32000, 22050, 16000, 8000, 24000,
        11025, 12000, 255000, 44056, 65535, 65536, 100001, 256000, 655350, 1, 7
    };
    for (size_t i = 0; i < sizeof rates / sizeof rates [0]; i++) {
        int bits = i % 2 ? 24 : 16;
        int64_t frames = 2 * 1152 + 100;
        int32_t *x = s_signal (S_MIX, bits, 2, frames, 44100, 20 + i);
        s_case_t c = { .signal = "mix", .channels = 2, .bits = bits, .rate_hz = rates [i],
                       .level = (int) (i % 3), .block = 1152 };
        s_run (&c, x, frames, NULL);
        free (x);
    }
}

static void
test_flac_enc_stereo (void **state)
{
    (void) state;
    //  left == right, and a common part with a little of each's own: a
    //  side channel in every frame at presets 1 and 2, none at preset 0;
    //  at 24 bits and in blocks of 4608 too
    static const s_kind_t kinds [] = { S_DUAL_MONO, S_CORRELATED };
    for (size_t k = 0; k < 2; k++)
        for (int bits = 16; bits <= 24; bits += 8) {
            int64_t frames = 4 * 4608 + 1000;
            int32_t *x = s_signal (kinds [k], bits, 2, frames, 96000, 30 + k);
            for (int level = 0; level <= 2; level++) {
                s_case_t c = { .signal = s_kind_name [kinds [k]], .channels = 2, .bits = bits,
                               .rate_hz = 96000, .level = level, .block = 4608,
                               .want = level ? S_WANT_SIDE : 0 };
                s_run (&c, x, frames, NULL);
            }
            free (x);
        }
}

static void
test_flac_enc_frame_numbers (void **state)
{
    (void) state;
    //  three frames across each coded length's boundary, and the last
    //  number; each stream begins where its numbers say (libFLAC gives
    //  the sample number, frame number times block size)
    static const uint64_t firsts [] = {
        0x7e, 0x7ff - 1, 0xffff - 1, 0x1fffff - 1, 0x3ffffff - 1, 0x7ffffffd
    };
    int32_t *x = s_signal (S_MIX, 16, 2, 3 * 1152, 44100, 40);
    for (size_t i = 0; i < sizeof firsts / sizeof firsts [0]; i++)
        for (int level = 0; level <= 2; level += 2) {
            s_case_t c = { .signal = "mix", .channels = 2, .bits = 16, .rate_hz = 44100,
                           .level = level, .block = 1152, .first_no = firsts [i] };
            s_run (&c, x, 3 * 1152, NULL);
        }
    //  single frames, of a whole block and of a short one
    static const uint64_t ones [] = { 1, 0x7f, 0x80, 0x7ff, 0x800, 0xffff, 0x10000, 0x1fffff,
                                      0x200000, 0x3ffffff, 0x4000000, 0x7fffffff };
    for (size_t i = 0; i < sizeof ones / sizeof ones [0]; i++) {
        s_case_t c = { .signal = "mix", .channels = 2, .bits = 16, .rate_hz = 44100,
                       .level = 1, .block = 1152, .first_no = ones [i] };
        s_run (&c, x, 1152, NULL);
        c.signal = "mix, short";
        s_run (&c, x, 100, NULL);
    }
    free (x);
}

static void
test_flac_enc_helpers (void **state)
{
    (void) state;
    //  the check values of CRC-8/SMBUS and CRC-16/UMTS, the CRCs RFC 9639
    //  asks for, over "123456789"
    const uint8_t check [] = "123456789";
    assert_int_equal (s_crc8 (check, 9), 0xf4);
    assert_int_equal (s_crc16 (check, 9), 0xfee8);
    assert_int_equal (flac_crc8 (check, 9), 0xf4);
    assert_int_equal (flac_crc16 (0, check, 9), 0xfee8);
    //  any data, and the CRC-16 going on from piece to piece
    uint8_t data [1000];
    testsig_rng_t rng;
    testsig_rng_seed (&rng, 50);
    for (size_t i = 0; i < sizeof data; i++)
        data [i] = (uint8_t) (testsig_rng_uniform (&rng) * 256.0);
    for (size_t n = 0; n <= sizeof data; n += n < 40 ? 1 : 37) {
        assert_int_equal (flac_crc8 (data, n), s_crc8 (data, n));
        for (size_t cut = 0; cut <= n; cut += n / 3 + 1)
            assert_int_equal (flac_crc16 (flac_crc16 (0, data, cut), data + cut, n - cut),
                              s_crc16 (data, n));
    }
    //  coded numbers of 1 to 7 bytes (7: sample numbers of the variable
    //  blocking strategy, 36 bits), at each length's edges
    for (int bits = 0; bits <= 36; bits++)
        for (int d = -2; d <= 1; d++) {
            int64_t v = ((int64_t) 1 << bits) + d;
            if (v < 0 || v >= (int64_t) 1 << 36)
                continue;
            uint8_t mine [8] = { 0 }, theirs [8] = { 0 };
            int n = s_coded_number ((uint64_t) v, mine);
            assert_int_equal (flac_coded_number ((uint64_t) v, theirs), n);
            assert_memory_equal (mine, theirs, 7);
        }
}

//  Frame bytes libFLAC writes (not the metadata's).
static FLAC__StreamEncoderWriteStatus
s_enc_write (const FLAC__StreamEncoder *e, const FLAC__byte buf [], size_t bytes,
             uint32_t samples, uint32_t frame, void *arg)
{
    (void) e;
    (void) buf;
    (void) frame;
    if (samples > 0)
        *(size_t *) arg += bytes;
    return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
}

//  The frame bytes of libFLAC at level in blocks of 1152.
static size_t
s_libflac_bytes (const int32_t *x, int64_t frames, int channels, int bits, int rate_hz,
                 int level)
{
    FLAC__StreamEncoder *e = FLAC__stream_encoder_new ();
    assert_non_null (e);
    FLAC__stream_encoder_set_compression_level (e, (unsigned) level);
    FLAC__stream_encoder_set_blocksize (e, 1152);
    FLAC__stream_encoder_set_channels (e, (unsigned) channels);
    FLAC__stream_encoder_set_bits_per_sample (e, (unsigned) bits);
    FLAC__stream_encoder_set_sample_rate (e, (unsigned) rate_hz);
    FLAC__stream_encoder_set_total_samples_estimate (e, (FLAC__uint64) frames);
    size_t bytes = 0;
    assert_int_equal (FLAC__stream_encoder_init_stream (e, s_enc_write, NULL, NULL, NULL, &bytes),
                      FLAC__STREAM_ENCODER_INIT_STATUS_OK);
    for (int64_t at = 0; at < frames; at += 4096) {
        int64_t n = frames - at < 4096 ? frames - at : 4096;
        assert_true (FLAC__stream_encoder_process_interleaved (e, x + (size_t) at * channels,
                                                               (uint32_t) n));
    }
    assert_true (FLAC__stream_encoder_finish (e));
    FLAC__stream_encoder_delete (e);
    return bytes;
}

static void
test_flac_enc_size (void **state)
{
    (void) state;
    for (int mix = 0; mix < 2; mix++) {
        audio_t a;
        double seconds = mix ? S_ORCH_SECONDS : S_DENSE_SECONDS;
        if (mix == 0)
            master_mix_generate (&a, seconds, 44100, 2, 77);
        else
            orch_mix_generate (&a, seconds, 44100, 2, 78);
        int32_t *x = s_from_audio (&a, 24);
        size_t ref = s_libflac_bytes (x, a.frames, 2, 24, 44100, 1);
        s_case_t c = { .signal = mix ? "orchestral mix" : "dense mix", .channels = 2,
                       .bits = 24, .rate_hz = 44100, .level = 1, .block = 1152, .once = true };
        size_t ours = s_run (&c, x, a.frames, NULL);
        double ratio = (double) ours / (double) ref;
        print_message ("%s, %.0f s, 24-bit 44.1 kHz stereo, preset 1, blocks of 1152: "
                       "libFLAC %zu bytes, flac_enc %zu bytes, ratio %.4f\n",
                       c.signal, seconds, ref, ours, ratio);
        S_CHECK (ratio <= S_SIZE_TOLERANCE, "flac_enc %.2f%% larger than libFLAC",
                 100.0 * (ratio - 1.0));
        free (x);
        audio_free (&a);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_flac_enc_args),
        cmocka_unit_test (test_flac_enc_helpers),
        cmocka_unit_test (test_flac_enc_signals),
        cmocka_unit_test (test_flac_enc_block_sizes),
        cmocka_unit_test (test_flac_enc_rates),
        cmocka_unit_test (test_flac_enc_stereo),
        cmocka_unit_test (test_flac_enc_frame_numbers),
        cmocka_unit_test (test_flac_enc_size),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
