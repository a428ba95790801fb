/*  FLAC output (worker/flac_out.c) and the MD5 it signs samples with.

    - md5: the test suite of RFC 1321 (appendix A.5), and a message fed in
      pieces of every length from 1 to 130 bytes; two contexts fed the
      same pieces side by side (md5_update2), each from its own offset in
      its block, give what each gives alone;
    - flac_out: 16- and 24-bit files, coded by libFLAC (preset 3) and by
      flac_enc (preset 1), read back sample for sample, samples on the
      output grid exact and out-of-range ones clipped to the word; libFLAC's
      decoder finds no CRC error, the MD5 matches, the block sizes are the
      preset's; the tags are in the Vorbis comment block, which precedes
      the audio;
    - flac_join: albums joined (from both encoders' frames) from track
      files of lengths that end on a part block (variable block size) or
      on whole blocks (fixed), read by
      libFLAC's own decoder with MD5 checking on: no CRC error, the MD5 of
      the STREAMINFO matches, every frame numbered where it lies, the
      first frame's blocking strategy bit as the lengths ask,
      the samples are the tracks' back to back, the block size bounds
      exclude the last block; and which lengths can be joined.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <FLAC/metadata.h>
#include <FLAC/stream_decoder.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/md5.h"
#include "testsig.h"
#include "worker/audio_io.h"
#include "worker/flac_out.h"

static void
s_md5_hex (const void *p, size_t n, size_t piece, char hex [33])
{
    md5_ctx_t c;
    md5_init (&c);
    const uint8_t *b = p;
    for (size_t at = 0; at < n; at += piece)
        md5_update (&c, b + at, n - at < piece ? n - at : piece);
    uint8_t d [MD5_DIGEST_BYTES];
    md5_final (&c, d);
    for (int i = 0; i < MD5_DIGEST_BYTES; i++)
        snprintf (hex + 2 * i, 3, "%02x", d [i]);
}

static void
test_md5_rfc1321 (void **state)
{
    (void) state;
    static const char *const v [][2] = {
        { "", "d41d8cd98f00b204e9800998ecf8427e" },
        { "a", "0cc175b9c0f1b6a831c399e269772661" },
        { "abc", "900150983cd24fb0d6963f7d28e17f72" },
        { "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
        { "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
        { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
          "d174ab98d277d9f5a5611c2c9f419d9f" },
        { "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
          "57edf4a22be3c955ac49da2e2107b67a" },
    };
    char hex [33];
    for (size_t i = 0; i < sizeof v / sizeof v [0]; i++) {
        s_md5_hex (v [i][0], strlen (v [i][0]), 64, hex);
        assert_string_equal (hex, v [i][1]);
    }
    //  any split of a message gives the same digest
    uint8_t msg [300];
    for (size_t i = 0; i < sizeof msg; i++)
        msg [i] = (uint8_t) (i * 37 + 11);
    char whole [33];
    s_md5_hex (msg, sizeof msg, sizeof msg, whole);
    for (size_t piece = 1; piece <= 130; piece++) {
        s_md5_hex (msg, sizeof msg, piece, hex);
        assert_string_equal (hex, whole);
    }
    //  many blocks in one call, and in uneven pieces: a million 'a'
    //  (the digest md5sum gives)
    char *ma = malloc (1000000);
    assert_non_null (ma);
    memset (ma, 'a', 1000000);
    s_md5_hex (ma, 1000000, 1000000, hex);
    assert_string_equal (hex, "7707d6ae4e027c70eea2a935c2296f21");
    s_md5_hex (ma, 1000000, 4097, hex);
    assert_string_equal (hex, "7707d6ae4e027c70eea2a935c2296f21");
    free (ma);
}

//  The hex digest of a context.
static void
s_md5_final_hex (md5_ctx_t *c, char hex [33])
{
    uint8_t d [MD5_DIGEST_BYTES];
    md5_final (c, d);
    for (int i = 0; i < MD5_DIGEST_BYTES; i++)
        snprintf (hex + 2 * i, 3, "%02x", d [i]);
}

static void
test_md5_two (void **state)
{
    (void) state;
    enum { N = 5000 };
    uint8_t *msg = malloc (N);
    assert_non_null (msg);
    for (size_t i = 0; i < N; i++)
        msg [i] = (uint8_t) (i * 131 + (i >> 7));
    //  y starts part way into a block (an album past its earlier tracks);
    //  pieces of lengths 0 .. 300, so that each context's pending block
    //  is completed, left partial and skipped over
    uint32_t seed = 12345;
    for (size_t pre = 0; pre < 140; pre += 7) {
        md5_ctx_t x, y, x1, y1;
        md5_init (&x);
        md5_init (&y);
        md5_init (&x1);
        md5_init (&y1);
        md5_update (&y, msg + N / 2, pre);
        md5_update (&y1, msg + N / 2, pre);
        size_t len = N - pre * 13;
        for (size_t at = 0; at < len; ) {
            seed = seed * 1103515245u + 12345u;
            size_t k = (seed >> 16) % 301;
            k = k < len - at ? k : len - at;
            md5_update2 (&x, &y, msg + at, k);
            at += k;
        }
        md5_update (&x1, msg, len);
        md5_update (&y1, msg, len);
        char hx [33], hy [33], hx1 [33], hy1 [33];
        s_md5_final_hex (&x, hx);
        s_md5_final_hex (&y, hy);
        s_md5_final_hex (&x1, hx1);
        s_md5_final_hex (&y1, hy1);
        assert_string_equal (hx, hx1);
        assert_string_equal (hy, hy1);
    }
    free (msg);
}

//  Writes frames of a two-channel signal with bits through audio_writer
//  (FLAC at preset level) and reads them back: on the grid exactly,
//  clipped beyond it.
static void
s_round_trip (int bits, int level)
{
    const int64_t n = 10000;
    const double q = ldexp (1.0, bits - 1);
    float *x = malloc ((size_t) n * 2 * sizeof *x);
    assert_non_null (x);
    for (int64_t f = 0; f < n; f++) {
        double v = 0.9 * sin (0.01 * (double) f);
        x [2 * f] = (float) (nearbyint (v * q) / q);                 //  on the grid
        x [2 * f + 1] = (float) (1.5 * v);                           //  clipped where |v| > 2/3
    }
    x [0] = 1.0f;
    x [1] = -1.0f;
    char path [512], err [256];
    snprintf (path, sizeof path, "%s/rt%d-%d.flac", testsig_tmpdir ("flac_out"), bits, level);
    audio_tags_t tags = { .title = "Tïtle", .artist = "A", .isrc = "GBAAA2600001",
                          .track_number = 3, .track_total = 9 };
    audio_writer_t *w;
    assert_int_equal (audio_writer_open (path, 48000, 2, OUT_FLAC, bits, level, &tags, &w, err,
                                         sizeof err), 0);
    assert_int_equal (audio_writer_write (w, x, 6000, err, sizeof err), 0);
    assert_int_equal (audio_writer_write (w, x + 12000, n - 6000, err, sizeof err), 0);
    assert_int_equal (audio_writer_close (&w, err, sizeof err), 0);
    audio_t a;
    assert_int_equal (audio_read (path, &a, err, sizeof err), 0);
    assert_int_equal (a.frames, n);
    assert_int_equal (a.rate_hz, 48000);
    const double top = (q - 1.0) / q;
    for (int64_t f = 0; f < n; f++) {
        double l = x [2 * f] >= top ? top : x [2 * f];
        assert_true (a.data [2 * f] == (float) l);
        double r = fmin (fmax (nearbyint ((double) x [2 * f + 1] * q), -q), q - 1.0) / q;
        assert_true (fabs (a.data [2 * f + 1] - r) < 0.5 / q);
    }
    audio_free (&a);
    //  the tags, in the block before the audio
    FLAC__StreamMetadata *vc;
    assert_true (FLAC__metadata_get_tags (path, &vc));
    int hits = 0;
    for (uint32_t i = 0; i < vc->data.vorbis_comment.num_comments; i++) {
        const char *e = (const char *) vc->data.vorbis_comment.comments [i].entry;
        hits += strcmp (e, "TITLE=Tïtle") == 0 || strcmp (e, "ISRC=GBAAA2600001") == 0
              || strcmp (e, "TRACKNUMBER=3") == 0 || strcmp (e, "TRACKTOTAL=9") == 0;
    }
    assert_int_equal (hits, 4);
    FLAC__metadata_object_delete (vc);
    free (x);
}


//  What libFLAC's decoder saw of a file.
typedef struct {
    int32_t  *pcm;               //  interleaved, 2 channels
    int64_t   frames, cap;
    int       crc_errors, other_errors;
    int       misnumbered;
    FLAC__StreamMetadata_StreamInfo si;
    char      album [64];
} s_decoded_t;

static FLAC__StreamDecoderWriteStatus
s_dec_write (const FLAC__StreamDecoder *d, const FLAC__Frame *fr, const FLAC__int32 *const buf [],
             void *arg)
{
    (void) d;
    s_decoded_t *o = arg;
    const FLAC__FrameHeader *h = &fr->header;
    o->misnumbered += h->number_type != FLAC__FRAME_NUMBER_TYPE_SAMPLE_NUMBER
                   || h->number.sample_number != (uint64_t) o->frames;
    if (o->frames + h->blocksize > o->cap) {
        o->cap = (o->frames + h->blocksize) * 2;
        o->pcm = realloc (o->pcm, (size_t) o->cap * 2 * sizeof *o->pcm);
    }
    for (uint32_t i = 0; i < h->blocksize; i++)
        for (int c = 0; c < 2; c++)
            o->pcm [(size_t) (o->frames + i) * 2 + c] = buf [c][i];
    o->frames += h->blocksize;
    return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE;
}

static void
s_dec_meta (const FLAC__StreamDecoder *d, const FLAC__StreamMetadata *m, void *arg)
{
    (void) d;
    s_decoded_t *o = arg;
    if (m->type == FLAC__METADATA_TYPE_STREAMINFO)
        o->si = m->data.stream_info;
    if (m->type == FLAC__METADATA_TYPE_VORBIS_COMMENT)
        for (uint32_t i = 0; i < m->data.vorbis_comment.num_comments; i++) {
            const char *e = (const char *) m->data.vorbis_comment.comments [i].entry;
            if (strncmp (e, "ALBUM=", 6) == 0)
                snprintf (o->album, sizeof o->album, "%s", e + 6);
        }
}

static void
s_dec_error (const FLAC__StreamDecoder *d, FLAC__StreamDecoderErrorStatus st, void *arg)
{
    (void) d;
    s_decoded_t *o = arg;
    if (st == FLAC__STREAM_DECODER_ERROR_STATUS_FRAME_CRC_MISMATCH)
        o->crc_errors++;
    else
        o->other_errors++;
}

//  Decodes path with libFLAC, MD5 checking on; returns whether the
//  decoder finished with the MD5 matching.
static bool
s_decode (const char *path, s_decoded_t *o)
{
    memset (o, 0, sizeof *o);
    FLAC__StreamDecoder *d = FLAC__stream_decoder_new ();
    FLAC__stream_decoder_set_md5_checking (d, true);
    FLAC__stream_decoder_set_metadata_respond (d, FLAC__METADATA_TYPE_VORBIS_COMMENT);
    assert_int_equal (FLAC__stream_decoder_init_file (d, path, s_dec_write, s_dec_meta,
                                                      s_dec_error, o),
                      FLAC__STREAM_DECODER_INIT_STATUS_OK);
    bool ok = FLAC__stream_decoder_process_until_end_of_stream (d);
    ok = FLAC__stream_decoder_finish (d) && ok;          //  false: the MD5 differs
    FLAC__stream_decoder_delete (d);
    //  an MD5 of zeros means "not known", which the decoder does not check
    bool signed_ = false;
    for (int i = 0; i < 16; i++)
        signed_ = signed_ || o->si.md5sum [i] != 0;
    return ok && signed_;
}

static void
test_flac_out_round_trip (void **state)
{
    (void) state;
    //  libFLAC's encoder (preset 3) and flac_enc's (preset 1)
    for (int level = 1; level <= 3; level += 2)
        for (int bits = 16; bits <= 24; bits += 8) {
            s_round_trip (bits, level);
            //  the STREAMINFO's MD5 is there and is the samples'; no CRC
            //  fails; the block sizes are the preset's
            char path [512];
            snprintf (path, sizeof path, "%s/rt%d-%d.flac", testsig_tmpdir ("flac_out"), bits,
                      level);
            s_decoded_t d;
            assert_true (s_decode (path, &d));
            assert_int_equal (d.crc_errors + d.other_errors + d.misnumbered, 0);
            assert_int_equal (d.si.bits_per_sample, (unsigned) bits);
            assert_int_equal (d.si.total_samples, 10000);
            int block = flac_block_frames (level, 48000, 2, bits);
            assert_int_equal (d.si.min_blocksize, block);
            assert_int_equal (d.si.max_blocksize, block);
            free (d.pcm);
        }
}

//  Tracks of these lengths (48 kHz stereo, 24-bit, at preset level, the
//  preset's block size being block) written as files and joined into
//  album.flac; checks the album as the header says.
static void
s_join (const int64_t *len, size_t n, bool expect_fixed, int level, int block)
{
    assert_int_equal (flac_block_frames (level, 48000, 2, 24), block);
    assert_true (flac_join_fits (len, n, block));
    const char *dir = testsig_tmpdir ("flac_join");
    char path [512], err [256];
    snprintf (path, sizeof path, "%s/album%d-%d.flac", dir, expect_fixed, level);
    audio_tags_t at = { .album = "Joined", .title = "Joined" };
    flac_join_t *j;
    assert_int_equal (flac_join_open (path, 48000, 2, 24, &at, expect_fixed, &j, err,
                                      sizeof err), 0);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += len [i];
    float *x = malloc ((size_t) total * 2 * sizeof *x);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, 5);
    for (int64_t f = 0; f < total * 2; f++)          //  noise on the grid, some silence
        x [f] = (f / 2) % 20000 < 3000 ? 0.0f
              : (float) (nearbyint (fmin (fmax (0.2 * testsig_rng_gauss (&rng), -0.99), 0.99)
                                    * 8388608.0) / 8388608.0);
    int64_t at_f = 0;
    for (size_t i = 0; i < n; i++) {
        char tp [512];
        snprintf (tp, sizeof tp, "%s/t%zu-%d-%d.flac", dir, i, expect_fixed, level);
        audio_writer_t *w;
        assert_int_equal (audio_writer_open (tp, 48000, 2, OUT_FLAC, 24, level, NULL, &w, err,
                                             sizeof err), 0);
        audio_writer_join (w, j);
        for (int64_t k = 0; k < len [i]; k += 3000) {  //  pieces not on blocks
            int64_t m = len [i] - k < 3000 ? len [i] - k : 3000;
            assert_int_equal (audio_writer_write (w, x + (size_t) (at_f + k) * 2, m, err,
                                                  sizeof err), 0);
        }
        assert_int_equal (audio_writer_close (&w, err, sizeof err), 0);
        s_decoded_t dt;                                //  the track's own MD5
        assert_true (s_decode (tp, &dt));
        assert_int_equal (dt.frames, len [i]);
        free (dt.pcm);
        at_f += len [i];
    }
    assert_int_equal (flac_join_close (&j, err, sizeof err), 0);
    s_decoded_t d;
    assert_true (s_decode (path, &d));
    assert_int_equal (d.crc_errors, 0);
    assert_int_equal (d.other_errors, 0);
    assert_int_equal (d.misnumbered, 0);
    assert_int_equal (d.frames, total);
    assert_int_equal (d.si.total_samples, (uint64_t) total);
    assert_int_equal (d.si.bits_per_sample, 24);
    assert_int_equal (d.si.sample_rate, 48000);
    assert_string_equal (d.album, "Joined");
    //  the blocking strategy bit of the first frame (libFLAC's decoder
    //  hands every frame's number over as a sample number, so it cannot
    //  tell; a stream that changed strategy would be an error above)
    FILE *fp = fopen (path, "rb");
    uint8_t hd [4];
    long off = 4;
    for (bool last = false; !last; ) {
        assert_int_equal (fseek (fp, off, SEEK_SET), 0);
        assert_int_equal (fread (hd, 1, 4, fp), 4);
        last = hd [0] & 0x80;
        off += 4 + ((long) hd [1] << 16 | (long) hd [2] << 8 | hd [3]);
    }
    assert_int_equal (fseek (fp, off, SEEK_SET), 0);
    assert_int_equal (fread (hd, 1, 2, fp), 2);
    fclose (fp);
    assert_int_equal (hd [0], 0xff);
    if (expect_fixed) {
        assert_int_equal (hd [1], 0xf8);
        assert_int_equal (d.si.min_blocksize, block);
    }
    else {
        assert_int_equal (hd [1], 0xf9);
        //  the shortest block before the last: the shortest track end
        int64_t lo = block;
        for (size_t i = 0; i + 1 < n; i++)
            if (len [i] % block && len [i] % block < lo)
                lo = len [i] % block;
        assert_int_equal (d.si.min_blocksize, lo);
    }
    assert_int_equal (d.si.max_blocksize, block);
    for (int64_t f = 0; f < total * 2; f++)
        assert_int_equal (d.pcm [f], (int32_t) lrint (x [f] * 8388608.0));
    free (d.pcm);
    free (x);
}

//  Both encoders: libFLAC's at preset 3 (blocks of 4096), flac_enc's at
//  preset 1 (1152).
static void
test_flac_join_variable (void **state)
{
    (void) state;
    for (int level = 1; level <= 3; level += 2) {
        int64_t b = level == 3 ? 4096 : 1152;
        int64_t len [] = { 3 * b, 2 * b + 100, 5000, 16, b + 17, 7777 };
        s_join (len, sizeof len / sizeof len [0], false, level, (int) b);
    }
}

static void
test_flac_join_fixed (void **state)
{
    (void) state;
    for (int level = 1; level <= 3; level += 2) {
        int64_t b = level == 3 ? 4096 : 1152;
        int64_t len [] = { 2 * b, b, 5 * b, 1234 };
        s_join (len, sizeof len / sizeof len [0], true, level, (int) b);
    }
}

static void
test_flac_join_fits (void **state)
{
    (void) state;
    int64_t a [] = { 4096 + 15, 5000 };
    int64_t b [] = { 4096 + 16, 5000 };
    int64_t c [] = { 5000, 4096 + 3 };          //  the last track's end is free
    int64_t d [] = { 8192, 0 };
    assert_false (flac_join_fits (a, 2, 4096));
    assert_true (flac_join_fits (b, 2, 4096));
    assert_true (flac_join_fits (c, 2, 4096));
    assert_false (flac_join_fits (d, 2, 4096));
    assert_false (flac_join_fits (a, 0, 4096));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_md5_rfc1321),
        cmocka_unit_test (test_md5_two),
        cmocka_unit_test (test_flac_out_round_trip),
        cmocka_unit_test (test_flac_join_variable),
        cmocka_unit_test (test_flac_join_fixed),
        cmocka_unit_test (test_flac_join_fits),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
