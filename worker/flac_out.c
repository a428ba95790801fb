/*  FLAC output, coded by flac_enc or libFLAC, and the album joined from
    its tracks' frames (see flac_out.h).  */
#include "worker/flac_out.h"
#include "common/err.h"
#include "common/md5.h"
#include "worker/flac_enc.h"

#include <FLAC/metadata.h>
#include <FLAC/stream_encoder.h>
#include <errno.h>
#if defined (__SSE2__)
#include <emmintrin.h>
#endif
#if defined (__x86_64__) && defined (__GNUC__)
#include <tmmintrin.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  libFLAC's switch for the MD5 of the samples: exported by libFLAC since
//  1.1.3 but declared in its protected header only (flac(1) declares it
//  as here for --no-md5-sum). The MD5 is made here instead (s_sign).
extern FLAC__bool FLAC__stream_encoder_set_do_md5 (FLAC__StreamEncoder *encoder,
                                                   FLAC__bool value);

#define S_PADDING     8192        //  room for tags edited later, as flac(1) leaves
#define S_CHUNK       4096        //  frames converted at a time
#define S_MIN_BLOCK   16          //  RFC 9639: no smaller block but the last
#define S_IOBUF       (1 << 18)   //  bytes written to the file at a time

struct flac_join_s {
    FILE     *f;
    char     *iobuf;
    char     *path;
    bool      fixed;              //  frame numbers, else sample numbers
    int       channels, bits, rate_hz;
    uint64_t  samples;            //  frames joined so far
    uint64_t  frame_no;
    uint64_t  pcm;                //  frames whose samples went into md5
    uint32_t  min_block, max_block, last_block;
    uint32_t  min_frame, max_frame;
    md5_ctx_t md5;
    char      err [256];          //  the first failure, kept for close
};

struct flac_out_s {
    FLAC__StreamEncoder  *enc;         //  presets with linear prediction
    flac_enc_t           *fast;        //  or the fixed-predictor presets'
    int32_t              *block;       //  fast: the block being filled
    uint32_t              block_n, fill;
    uint64_t              frame_no;
    uint32_t              min_frame, max_frame;
    int                   rate_hz;
    FLAC__StreamMetadata *meta [2];
    FILE                 *f;
    char                 *iobuf;
    uint64_t              at;          //  the file position (no lseek per frame)
    char                 *path;
    int                   channels, bits;
    int32_t              *buf;
    uint8_t              *pack;        //  samples as the MD5 takes them
    md5_ctx_t             md5;         //  the file's samples (libFLAC's is off)
    flac_join_t          *join;
    bool                  io_failed;
    int64_t               frames;
};

// --------------------------------------------------------------- tags

//  Sets NAME=value in a Vorbis comment block, replacing any NAME there.
static bool
s_vc_set (FLAC__StreamMetadata *vc, const char *name, const char *value)
{
    if (!value || !*value)
        return true;
    FLAC__StreamMetadata_VorbisComment_Entry e;
    if (!FLAC__metadata_object_vorbiscomment_entry_from_name_value_pair (&e, name, value))
        return false;
    //  copy false: the block takes e's bytes (they stay ours on failure)
    if (FLAC__metadata_object_vorbiscomment_replace_comment (vc, e, true, false))
        return true;
    free (e.entry);
    return false;
}

//  The same with a positive number; 0 is not written.
static bool
s_vc_set_int (FLAC__StreamMetadata *vc, const char *name, int value)
{
    char num [16];
    snprintf (num, sizeof num, "%d", value);
    return value <= 0 || s_vc_set (vc, name, num);
}

//  The metadata after STREAMINFO: the tags (Vorbis comment) and padding.
//  Returns 0, MF_ERR_INVALID (a value that is not UTF-8) or MF_ERR_NOMEM.
static int
s_meta (const audio_tags_t *tags, FLAC__StreamMetadata *meta [2])
{
    meta [0] = FLAC__metadata_object_new (FLAC__METADATA_TYPE_VORBIS_COMMENT);
    meta [1] = FLAC__metadata_object_new (FLAC__METADATA_TYPE_PADDING);
    if (!meta [0] || !meta [1])
        return MF_ERR_NOMEM;
    meta [1]->length = S_PADDING;
    if (!tags)
        return 0;
    FLAC__StreamMetadata *vc = meta [0];
    bool ok = s_vc_set (vc, "TITLE", tags->title)
           && s_vc_set (vc, "ARTIST", tags->artist)
           && s_vc_set (vc, "ALBUM", tags->album)
           && s_vc_set (vc, "ALBUMARTIST", tags->album_artist)
           && s_vc_set_int (vc, "TRACKNUMBER", tags->track_number)
           && s_vc_set_int (vc, "TRACKTOTAL", tags->track_total)
           && s_vc_set_int (vc, "DISCNUMBER", tags->disc_number)
           && s_vc_set (vc, "ISRC", tags->isrc)
           && s_vc_set (vc, "BARCODE", tags->barcode)
           && s_vc_set (vc, "DATE", tags->date)
           && s_vc_set (vc, "GENRE", tags->genre)
           && s_vc_set (vc, "COMMENT", tags->comment);
    return ok ? 0 : MF_ERR_INVALID;
}

static void
s_meta_free (FLAC__StreamMetadata *meta [2])
{
    for (int i = 0; i < 2; i++)
        if (meta [i])
            FLAC__metadata_object_delete (meta [i]);
    meta [0] = meta [1] = NULL;
}

// --------------------------------------------------------------- frames

//  a * b mod P, P the CRC-16 polynomial x^16 + x^15 + x^2 + 1, for
//  polynomials over GF(2) of degree under 16 (bit i: the term x^i).
static uint16_t
s_gf_mul (uint16_t a, uint16_t b)
{
    uint16_t r = 0;
    for (int i = 15; i >= 0; i--) {
        r = (uint16_t) (r & 0x8000 ? (r << 1) ^ 0x8005 : r << 1);
        if (b >> i & 1)
            r ^= a;
    }
    return r;
}

//  x^(8 n) mod P: n zero bytes' worth of the CRC's shift.
static uint16_t
s_gf_zeros (size_t n)
{
    uint16_t r = 1, base = 0x0100;                    //  x^8
    for (; n; n >>= 1) {
        if (n & 1)
            r = s_gf_mul (r, base);
        base = s_gf_mul (base, base);
    }
    return r;
}

//  The CRC-16 of header h (n bytes) followed by the body of a frame whose
//  CRC-16 with header old (old_n bytes) instead was old_crc, without
//  reading the body: this CRC (from 0, no final xor) is M(x) x^16 mod P,
//  linear in the message, and leading zero bytes leave it unchanged; so
//  with both headers padded at the front to one length, the two CRCs
//  differ by CRC(h ^ old) moved over the body's bytes.
static uint16_t
s_crc16_rehead (uint16_t old_crc, const uint8_t *old, size_t old_n, const uint8_t *h,
                size_t n, size_t body_n)
{
    uint8_t d [32] = { 0 };
    size_t len = n > old_n ? n : old_n;
    for (size_t i = 0; i < old_n; i++)
        d [len - old_n + i] ^= old [i];
    for (size_t i = 0; i < n; i++)
        d [len - n + i] ^= h [i];
    return old_crc ^ s_gf_mul (flac_crc16 (0, d, len), s_gf_zeros (body_n));
}

//  Records the join's first failure.
static void
s_join_fail (flac_join_t *j, const char *fmt, const char *what)
{
    if (!j->err [0])
        snprintf (j->err, sizeof j->err, fmt, j->path, what);
}

//  Appends one encoded frame of samples frames to the album, its header
//  renumbered: buf is the whole frame as libFLAC wrote it (fixed block
//  size, frame number).
static void
s_join_frame (flac_join_t *j, const uint8_t *buf, size_t bytes, uint32_t samples)
{
    if (j->err [0])
        return;
    //  the header: sync and strategy, sizes, the coded frame number,
    //  block size and rate where coded at the end, then its CRC-8
    if (bytes < 8 || buf [0] != 0xff || buf [1] != 0xf8) {
        s_join_fail (j, "%s: %s", "a track's frame has no fixed-block header");
        return;
    }
    size_t at = 4, len = 0;
    uint8_t b = buf [at];
    while (len < 8 && (b & (0x80 >> len)))
        len++;                                        //  its leading ones
    len = len == 0 ? 1 : len;
    if ((len < 2 && (b & 0x80)) || len > 7) {
        s_join_fail (j, "%s: %s", "a track's frame number is not coded as FLAC codes it");
        return;
    }
    at += len;
    unsigned bs = buf [2] >> 4, sr = buf [2] & 0xf;
    size_t tail = (bs == 6 ? 1 : bs == 7 ? 2 : 0) + (sr == 12 ? 1 : sr == 13 || sr == 14 ? 2 : 0);
    size_t head = at + tail + 1;                      //  with the CRC-8
    if (bytes < head + 2) {
        s_join_fail (j, "%s: %s", "a track's frame is shorter than its header");
        return;
    }
    uint8_t h [16] = { 0xff, (uint8_t) (j->fixed ? 0xf8 : 0xf9), buf [2], buf [3] };
    size_t n = 4 + flac_coded_number (j->fixed ? j->frame_no : j->samples, h + 4);
    memcpy (h + n, buf + at, tail);
    n += tail;
    h [n] = flac_crc8 (h, n);
    n++;
    const uint8_t *body = buf + head;
    size_t body_n = bytes - head - 2;
    uint16_t old_crc = (uint16_t) (buf [bytes - 2] << 8 | buf [bytes - 1]);
    uint16_t c16 = s_crc16_rehead (old_crc, buf, head, h, n, body_n);
    uint8_t crc [2] = { (uint8_t) (c16 >> 8), (uint8_t) c16 };
    if (fwrite (h, 1, n, j->f) != n || fwrite (body, 1, body_n, j->f) != body_n
    ||  fwrite (crc, 1, 2, j->f) != 2) {
        s_join_fail (j, "%s: cannot write: %s", strerror (errno));
        return;
    }
    //  block sizes: the last block's is not a bound (RFC 9639, 8.2)
    if (j->last_block) {
        if (!j->min_block || j->last_block < j->min_block)
            j->min_block = j->last_block;
        if (j->last_block > j->max_block)
            j->max_block = j->last_block;
    }
    j->last_block = samples;
    uint32_t size = (uint32_t) (n + body_n + 2);
    if (!j->min_frame || size < j->min_frame)
        j->min_frame = size;
    if (size > j->max_frame)
        j->max_frame = size;
    j->samples += samples;
    j->frame_no++;
}

#if defined (__x86_64__) && defined (__GNUC__)
//  The 24-bit loop of s_pack with SSSE3, four samples at a time (16 bytes
//  stored for 12: the next store or the room of p takes the 4 more);
//  returns the samples done.
__attribute__ ((target ("ssse3"))) static size_t
s_pack24_ssse3 (const int32_t *x, size_t n, uint8_t *p)
{
    const __m128i low3 = _mm_setr_epi8 (0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_si128 ((__m128i *) (p + 3 * i),
                          _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *) (x + i)), low3));
    return i;
}
#endif

//  n samples as RFC 9639 (8.2) has the MD5 sign them: each little-endian
//  in whole bytes (bps of them). Returns the bytes written to p, which
//  has room for 4 bytes per sample (a 24-bit sample is stored as a
//  32-bit word, the next one over its top byte).
static size_t
s_pack (const int32_t *x, size_t n, size_t bps, uint8_t *p)
{
#if defined (__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (bps == 3) {
        size_t i = 0;
#if defined (__x86_64__) && defined (__GNUC__)
        if (__builtin_cpu_supports ("ssse3"))
            i = s_pack24_ssse3 (x, n, p);
#endif
        for (; i < n; i++)
            memcpy (p + 3 * i, &x [i], 4);
        return 3 * n;
    }
    if (bps == 2) {
        for (size_t i = 0; i < n; i++) {
            uint16_t v = (uint16_t) x [i];
            memcpy (p + 2 * i, &v, 2);
        }
        return 2 * n;
    }
#endif
    uint8_t *q = p;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t) x [i];
        for (size_t k = 0; k < bps; k++)
            *q++ = (uint8_t) (v >> (8 * k));
    }
    return (size_t) (q - p);
}

// --------------------------------------------------------------- header

//  Captures the header libFLAC writes at init (fLaC, STREAMINFO, then the
//  given metadata) into a memory buffer.
typedef struct {
    uint8_t *p;
    size_t   n, cap;
} s_mem_t;

static FLAC__StreamEncoderWriteStatus
s_mem_write (const FLAC__StreamEncoder *enc, const FLAC__byte buf [], size_t bytes,
             uint32_t samples, uint32_t current_frame, void *arg)
{
    (void) enc;
    (void) samples;
    (void) current_frame;
    s_mem_t *m = arg;
    if (m->n + bytes > m->cap) {
        size_t cap = (m->n + bytes) * 2;
        uint8_t *p = realloc (m->p, cap);
        if (!p)
            return FLAC__STREAM_ENCODER_WRITE_STATUS_FATAL_ERROR;
        m->p = p;
        m->cap = cap;
    }
    memcpy (m->p + m->n, buf, bytes);
    m->n += bytes;
    return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
}

//  The header of a file whose frames are not libFLAC's (a join, or the
//  fixed-predictor presets'), as libFLAC writes it, so the tags are
//  serialised by the same code as every file's; its STREAMINFO is
//  replaced at close (s_streaminfo). *block, unless NULL, gets the
//  preset level's block size, as libFLAC settles it. Returns 0,
//  MF_ERR_INVALID (a tag that is not UTF-8) or MF_ERR_NOMEM; head->p is
//  the caller's to free.
static int
s_head (const audio_tags_t *tags, int rate_hz, int channels, int bits, int level,
        s_mem_t *head, int *block)
{
    FLAC__StreamMetadata *meta [2] = { NULL, NULL };
    int rc = s_meta (tags, meta);
    FLAC__StreamEncoder *e = rc ? NULL : FLAC__stream_encoder_new ();
    if (!rc && !e)
        rc = MF_ERR_NOMEM;
    if (!rc) {
        FLAC__stream_encoder_set_compression_level (e, level >= 0 && level <= 8
                                                       ? (unsigned) level : 5);
        FLAC__stream_encoder_set_channels (e, (unsigned) channels);
        FLAC__stream_encoder_set_bits_per_sample (e, (unsigned) bits);
        FLAC__stream_encoder_set_sample_rate (e, (unsigned) rate_hz);
        FLAC__stream_encoder_set_metadata (e, meta, 2);
        if (FLAC__stream_encoder_init_stream (e, s_mem_write, NULL, NULL, NULL, head)
            != FLAC__STREAM_ENCODER_INIT_STATUS_OK || head->n < 42)
            rc = MF_ERR_NOMEM;
        else if (block)
            *block = (int) FLAC__stream_encoder_get_blocksize (e);
        FLAC__stream_encoder_finish (e);
    }
    if (e)
        FLAC__stream_encoder_delete (e);
    s_meta_free (meta);
    return rc;
}

//  Writes the STREAMINFO (RFC 9639, 8.2) at byte 8 of f, after "fLaC" and
//  the block's header: block sizes lo to hi, frame sizes, the format,
//  samples frames, and the MD5 of md5. Returns 0, or -1 with errno.
static int
s_streaminfo (FILE *f, uint32_t lo, uint32_t hi, uint32_t min_frame, uint32_t max_frame,
              int rate_hz, int channels, int bits, uint64_t samples, md5_ctx_t *md5)
{
    uint8_t si [34];
    si [0] = (uint8_t) (lo >> 8);
    si [1] = (uint8_t) lo;
    si [2] = (uint8_t) (hi >> 8);
    si [3] = (uint8_t) hi;
    for (int i = 0; i < 3; i++) {
        si [4 + i] = (uint8_t) (min_frame >> (16 - 8 * i));
        si [7 + i] = (uint8_t) (max_frame >> (16 - 8 * i));
    }
    uint64_t v = (uint64_t) rate_hz << 44 | (uint64_t) (channels - 1) << 41
               | (uint64_t) (bits - 1) << 36 | (samples & 0xfffffffffull);
    for (int i = 0; i < 8; i++)
        si [10 + i] = (uint8_t) (v >> (56 - 8 * i));
    md5_final (md5, si + 18);
    if (fseeko (f, 8, SEEK_SET) || fwrite (si, 1, sizeof si, f) != sizeof si)
        return -1;
    return 0;
}

// --------------------------------------------------------------- encoder

static FLAC__StreamEncoderWriteStatus
s_write (const FLAC__StreamEncoder *enc, const FLAC__byte buf [], size_t bytes,
         uint32_t samples, uint32_t current_frame, void *arg)
{
    (void) enc;
    (void) current_frame;
    flac_out_t *o = arg;
    if (fwrite (buf, 1, bytes, o->f) != bytes) {
        o->io_failed = true;
        return FLAC__STREAM_ENCODER_WRITE_STATUS_FATAL_ERROR;
    }
    o->at += bytes;
    if (samples > 0 && o->join)
        s_join_frame (o->join, buf, bytes, samples);
    return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
}

static FLAC__StreamEncoderSeekStatus
s_seek (const FLAC__StreamEncoder *enc, FLAC__uint64 offset, void *arg)
{
    (void) enc;
    flac_out_t *o = arg;
    if (fseeko (o->f, (off_t) offset, SEEK_SET))
        return FLAC__STREAM_ENCODER_SEEK_STATUS_ERROR;
    o->at = offset;
    return FLAC__STREAM_ENCODER_SEEK_STATUS_OK;
}

static FLAC__StreamEncoderTellStatus
s_tell (const FLAC__StreamEncoder *enc, FLAC__uint64 *offset, void *arg)
{
    (void) enc;
    flac_out_t *o = arg;
    *offset = o->at;
    return FLAC__STREAM_ENCODER_TELL_STATUS_OK;
}

static FLAC__StreamEncoderWriteStatus
s_discard (const FLAC__StreamEncoder *enc, const FLAC__byte buf [], size_t bytes,
           uint32_t samples, uint32_t current_frame, void *arg)
{
    (void) enc, (void) buf, (void) bytes, (void) samples, (void) current_frame, (void) arg;
    return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
}

int
flac_block_frames (int level, int rate_hz, int channels, int bits)
{
    //  libFLAC settles a preset's block size for the rate when it starts
    FLAC__StreamEncoder *e = FLAC__stream_encoder_new ();
    if (!e)
        return 0;
    FLAC__stream_encoder_set_compression_level (e, level >= 0 && level <= 8 ? (unsigned) level : 5);
    FLAC__stream_encoder_set_channels (e, (unsigned) channels);
    FLAC__stream_encoder_set_bits_per_sample (e, (unsigned) bits);
    FLAC__stream_encoder_set_sample_rate (e, (unsigned) rate_hz);
    int n = 0;
    if (FLAC__stream_encoder_init_stream (e, s_discard, NULL, NULL, NULL, NULL)
        == FLAC__STREAM_ENCODER_INIT_STATUS_OK)
        n = (int) FLAC__stream_encoder_get_blocksize (e);
    FLAC__stream_encoder_finish (e);
    FLAC__stream_encoder_delete (e);
    return n;
}

//  Frees what flac_out_open made (the file closed, not removed).
static void
s_out_free (flac_out_t *o)
{
    if (o->enc)
        FLAC__stream_encoder_delete (o->enc);
    flac_enc_free (o->fast);
    free (o->block);
    if (o->f)
        fclose (o->f);
    free (o->iobuf);
    s_meta_free (o->meta);
    free (o->buf);
    free (o->pack);
    free (o->path);
    free (o);
}

int
flac_out_open (const char *path, int rate_hz, int channels, int bits, int level,
               const audio_tags_t *tags, flac_out_t **out, char *err, size_t err_size)
{
    *out = NULL;
    if ((bits != 16 && bits != 24) || channels < 1 || channels > 8
    ||  rate_hz < 1 || rate_hz > 655350) {
        snprintf (err, err_size, "%s: %d channels at %d Hz, %d-bit cannot be written as FLAC "
                  "(16 or 24 bits, 1 to 8 channels)", path, channels, rate_hz, bits);
        return MF_ERR_UNSUPPORTED;
    }
    //  the fixed-predictor presets are coded here (flac_enc.h), in
    //  libFLAC's block size for them; the others by libFLAC
    bool fast = flac_enc_covers (level);
    s_mem_t head = { 0 };
    int block = 0;
    int rc = fast ? s_head (tags, rate_hz, channels, bits, level, &head, &block) : 0;
    if (rc) {
        snprintf (err, err_size, rc == MF_ERR_INVALID
                  ? "%s: cannot set the FLAC tags (a value that is not UTF-8)"
                  : "%s: out of memory for the FLAC tags", path);
        free (head.p);
        return rc;
    }
    flac_out_t *o = calloc (1, sizeof *o);
    if (!o || !(o->path = strdup (path))
    ||  !(o->pack = malloc ((size_t) S_CHUNK * (size_t) channels * 4))
    ||  !(o->iobuf = malloc (S_IOBUF))
    ||  (fast ? !(o->fast = flac_enc_new (channels, bits, rate_hz, level, block))
             || !(o->block = malloc ((size_t) block * (size_t) channels * sizeof *o->block))
              : !(o->buf = malloc ((size_t) S_CHUNK * (size_t) channels * sizeof *o->buf))
             || !(o->enc = FLAC__stream_encoder_new ()))) {
        if (o)
            s_out_free (o);
        free (head.p);
        snprintf (err, err_size, "%s: out of memory", path);
        return MF_ERR_NOMEM;
    }
    o->channels = channels;
    o->bits = bits;
    o->rate_hz = rate_hz;
    o->block_n = (uint32_t) block;
    md5_init (&o->md5);
    rc = fast ? 0 : s_meta (tags, o->meta);
    if (rc) {
        snprintf (err, err_size, rc == MF_ERR_INVALID
                  ? "%s: cannot set the FLAC tags (a value that is not UTF-8)"
                  : "%s: out of memory for the FLAC tags", path);
        free (head.p);
        s_out_free (o);
        return rc;
    }
    o->f = fopen (path, "w+b");
    if (o->f)
        setvbuf (o->f, o->iobuf, _IOFBF, S_IOBUF);
    if (!o->f || (fast && fwrite (head.p, 1, head.n, o->f) != head.n)) {
        snprintf (err, err_size, "%s: cannot create (%s)", path, strerror (errno));
        free (head.p);
        s_out_free (o);
        return MF_ERR_IO;
    }
    free (head.p);
    if (fast) {
        *out = o;
        return 0;
    }
    FLAC__StreamEncoder *e = o->enc;
    FLAC__stream_encoder_set_compression_level (e, level >= 0 && level <= 8 ? (unsigned) level : 5);
    FLAC__stream_encoder_set_channels (e, (unsigned) channels);
    FLAC__stream_encoder_set_bits_per_sample (e, (unsigned) bits);
    FLAC__stream_encoder_set_sample_rate (e, (unsigned) rate_hz);
    FLAC__stream_encoder_set_metadata (e, o->meta, 2);
    //  the MD5 is ours (s_sign): an album's is made beside its tracks'
    FLAC__stream_encoder_set_do_md5 (e, false);
    FLAC__StreamEncoderInitStatus st =
        FLAC__stream_encoder_init_stream (e, s_write, s_seek, s_tell, NULL, o);
    if (st != FLAC__STREAM_ENCODER_INIT_STATUS_OK) {
        snprintf (err, err_size, "%s: cannot start the FLAC encoder (%s)", path,
                  st == FLAC__STREAM_ENCODER_INIT_STATUS_ENCODER_ERROR
                  ? FLAC__StreamEncoderStateString [FLAC__stream_encoder_get_state (e)]
                  : FLAC__StreamEncoderInitStatusString [st]);
        rc = o->io_failed ? MF_ERR_IO : MF_ERR_UNSUPPORTED;
        s_out_free (o);
        return rc;
    }
    *out = o;
    return 0;
}

void
flac_out_join (flac_out_t *out, flac_join_t *join)
{
    out->join = join;
}

//  y = x * scale rounded to nearest (even on ties, as lrintf), clipped to
//  [bottom, top]: what libsndfile makes of float for FLAC. Clipping in
//  float first gives the same integers, as top and bottom are exact.
static void
s_to_int (const float *x, int32_t *y, size_t n, float scale, int32_t top, int32_t bottom)
{
    size_t i = 0;
#if defined (__SSE2__)
    const __m128 s = _mm_set1_ps (scale);
    const __m128 hi = _mm_set1_ps ((float) top), lo = _mm_set1_ps ((float) bottom);
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_mul_ps (_mm_loadu_ps (x + i), s);
        v = _mm_min_ps (_mm_max_ps (v, lo), hi);
        _mm_storeu_si128 ((__m128i *) (y + i), _mm_cvtps_epi32 (v));
    }
#endif
    for (; i < n; i++) {
        float v = x [i] * scale;
        y [i] = v >= (float) top ? top : v <= (float) bottom ? bottom : (int32_t) lrintf (v);
    }
}

//  Feeds the file's MD5, and its album's, with the n frames at x: both
//  chains run side by side over the same bytes.
static void
s_sign (flac_out_t *o, const int32_t *x, int64_t n)
{
    size_t bytes = s_pack (x, (size_t) n * (size_t) o->channels,
                           (size_t) (o->bits + 7) / 8, o->pack);
    flac_join_t *j = o->join;
    if (j && !j->err [0]) {
        md5_update2 (&o->md5, &j->md5, o->pack, bytes);
        j->pcm += (uint64_t) n;
    }
    else
        md5_update (&o->md5, o->pack, bytes);
}

//  Codes the block filled so far as the next frame, and writes it to the
//  file and its album.
static int
s_frame (flac_out_t *o, char *err, size_t err_size)
{
    const uint8_t *frame;
    size_t bytes = flac_enc_frame (o->fast, o->block, o->fill, o->frame_no, &frame);
    if (fwrite (frame, 1, bytes, o->f) != bytes) {
        snprintf (err, err_size, "%s: write failed after %llu frames (%s)", o->path,
                  (unsigned long long) (o->frame_no * o->block_n), strerror (errno));
        return MF_ERR_IO;
    }
    if (o->join)
        s_join_frame (o->join, frame, bytes, o->fill);
    if (!o->min_frame || bytes < o->min_frame)
        o->min_frame = (uint32_t) bytes;
    if (bytes > o->max_frame)
        o->max_frame = (uint32_t) bytes;
    o->frame_no++;
    o->fill = 0;
    return 0;
}

int
flac_out_write (flac_out_t *o, const float *data, int64_t frames, char *err, size_t err_size)
{
    //  as libsndfile converts float for FLAC: x * 2^(bits-1), clipped
    const float scale = (float) (1 << (o->bits - 1));
    const int32_t top = (1 << (o->bits - 1)) - 1, bottom = -(1 << (o->bits - 1));
    const size_t ch = (size_t) o->channels;
    for (int64_t at = 0; at < frames;) {
        int64_t n = frames - at < S_CHUNK ? frames - at : S_CHUNK;
        if (o->fast) {
            //  into the block; a full block is coded at once
            n = n < o->block_n - o->fill ? n : o->block_n - o->fill;
            int32_t *x = o->block + (size_t) o->fill * ch;
            s_to_int (data + (size_t) at * ch, x, (size_t) n * ch, scale, top, bottom);
            s_sign (o, x, n);
            o->fill += (uint32_t) n;
            int rc = o->fill == o->block_n ? s_frame (o, err, err_size) : 0;
            if (rc)
                return rc;
        }
        else {
            s_to_int (data + (size_t) at * ch, o->buf, (size_t) n * ch, scale, top, bottom);
            s_sign (o, o->buf, n);
            if (!FLAC__stream_encoder_process_interleaved (o->enc, o->buf, (uint32_t) n)) {
                snprintf (err, err_size, "%s: write failed after %lld frames (%s)", o->path,
                          (long long) (o->frames + at), o->io_failed ? strerror (errno)
                          : FLAC__StreamEncoderStateString [FLAC__stream_encoder_get_state (o->enc)]);
                return MF_ERR_IO;
            }
        }
        at += n;
    }
    o->frames += frames;
    return 0;
}

//  Finishes a file coded by libFLAC: it completes the STREAMINFO, the
//  signature of which (18 bytes into the block, after "fLaC" and the
//  block's 4-byte header) is ours.
static int
s_finish_libflac (flac_out_t *o, char *err, size_t err_size)
{
    if (!FLAC__stream_encoder_finish (o->enc) || o->io_failed) {
        snprintf (err, err_size, "%s: cannot finish the FLAC file (%s)", o->path,
                  o->io_failed ? "a write failed"
                  : FLAC__StreamEncoderStateString [FLAC__stream_encoder_get_state (o->enc)]);
        return MF_ERR_IO;
    }
    uint8_t md5 [MD5_DIGEST_BYTES];
    md5_final (&o->md5, md5);
    if (fseeko (o->f, 8 + 18, SEEK_SET) || fwrite (md5, 1, sizeof md5, o->f) != sizeof md5) {
        snprintf (err, err_size, "%s: cannot write the MD5 (%s)", o->path, strerror (errno));
        return MF_ERR_IO;
    }
    return 0;
}

int
flac_out_close (flac_out_t **out, char *err, size_t err_size)
{
    flac_out_t *o = *out;
    if (!o)
        return 0;
    *out = NULL;
    int rc = 0;
    if (o->fast) {
        //  the last block, then the STREAMINFO: a fixed block size
        //  stream, every block but the last of block_n frames
        rc = o->fill > 0 ? s_frame (o, err, err_size) : 0;
        if (!rc && s_streaminfo (o->f, o->block_n, o->block_n, o->min_frame, o->max_frame,
                                 o->rate_hz, o->channels, o->bits, (uint64_t) o->frames,
                                 &o->md5)) {
            snprintf (err, err_size, "%s: cannot write the STREAMINFO (%s)", o->path,
                      strerror (errno));
            rc = MF_ERR_IO;
        }
    }
    else
        rc = s_finish_libflac (o, err, err_size);
    FILE *f = o->f;
    o->f = NULL;
    if (fclose (f) != 0 && !rc) {
        snprintf (err, err_size, "%s: close failed (%s)", o->path, strerror (errno));
        rc = MF_ERR_IO;
    }
    s_out_free (o);
    return rc;
}

// --------------------------------------------------------------- join

bool
flac_join_fits (const int64_t *lengths, size_t n, int block)
{
    for (size_t i = 0; i + 1 < n; i++) {
        int64_t r = block > 0 ? lengths [i] % block : 0;
        if (lengths [i] <= 0 || (r > 0 && r < S_MIN_BLOCK))
            return false;
    }
    return n > 0 && lengths [n - 1] > 0;
}

int
flac_join_open (const char *path, int rate_hz, int channels, int bits,
                const audio_tags_t *tags, bool fixed, flac_join_t **join,
                char *err, size_t err_size)
{
    *join = NULL;
    if ((bits != 16 && bits != 24) || channels < 1 || channels > 8 || rate_hz < 1) {
        snprintf (err, err_size, "%s: %d channels at %d Hz, %d-bit cannot be written as FLAC",
                  path, channels, rate_hz, bits);
        return MF_ERR_UNSUPPORTED;
    }
    s_mem_t head = { 0 };
    int rc = s_head (tags, rate_hz, channels, bits, -1, &head, NULL);
    flac_join_t *j = rc ? NULL : calloc (1, sizeof *j);
    if (j && (!(j->path = strdup (path)) || !(j->iobuf = malloc (S_IOBUF)))) {
        free (j->path);
        free (j->iobuf);
        free (j);
        j = NULL;
    }
    if (!rc && !j)
        rc = MF_ERR_NOMEM;
    if (rc) {
        snprintf (err, err_size, rc == MF_ERR_INVALID
                  ? "%s: cannot set the FLAC tags (a value that is not UTF-8)"
                  : "%s: out of memory", path);
        free (head.p);
        return rc;
    }
    j->fixed = fixed;
    j->channels = channels;
    j->bits = bits;
    j->rate_hz = rate_hz;
    md5_init (&j->md5);
    j->f = fopen (path, "w+b");
    if (j->f)
        setvbuf (j->f, j->iobuf, _IOFBF, S_IOBUF);
    if (!j->f || fwrite (head.p, 1, head.n, j->f) != head.n) {
        snprintf (err, err_size, "%s: cannot create (%s)", path, strerror (errno));
        snprintf (j->err, sizeof j->err, "%s", err);
        free (head.p);
        flac_join_close (&j, NULL, 0);
        return MF_ERR_IO;
    }
    free (head.p);
    *join = j;
    return 0;
}

int
flac_join_close (flac_join_t **join, char *err, size_t err_size)
{
    flac_join_t *j = *join;
    if (!j)
        return 0;
    *join = NULL;
    if (!j->err [0] && j->pcm != j->samples)
        snprintf (j->err, sizeof j->err, "%s: %llu frames of samples for %llu encoded",
                  j->path, (unsigned long long) j->pcm, (unsigned long long) j->samples);
    if (!j->err [0] && j->f) {
        //  one block only: both bounds are its size
        uint32_t lo = j->min_block ? j->min_block : j->last_block;
        uint32_t hi = j->max_block ? j->max_block : j->last_block;
        if (s_streaminfo (j->f, lo, hi, j->min_frame, j->max_frame, j->rate_hz, j->channels,
                          j->bits, j->samples, &j->md5))
            snprintf (j->err, sizeof j->err, "%s: cannot write: %s", j->path, strerror (errno));
    }
    if (j->f && fclose (j->f) != 0 && !j->err [0])
        snprintf (j->err, sizeof j->err, "%s: close failed (%s)", j->path, strerror (errno));
    int rc = j->err [0] ? MF_ERR_IO : 0;
    if (rc && err)
        snprintf (err, err_size, "%s", j->err);
    free (j->iobuf);
    free (j->path);
    free (j);
    return rc;
}
