/*  The FLAC encoding of a file's samples by masterfarm's encoder
    (worker/flac_enc.c) and by libFLAC's, both at preset 1 (the streaming
    profiles') in libFLAC's block size for it, without the MD5 (made
    apart from either encoder): CPU seconds, best of 3, and the bytes of
    the frames. Prints figures; not a test.

    usage: bench_flac FILE.wav  */
#include <FLAC/stream_encoder.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "worker/flac_enc.h"
#include "worker/flac_out.h"

#define S_LEVEL 1
#define S_RUNS  3

//  libFLAC's switch for the MD5 (see worker/flac_out.c).
extern FLAC__bool FLAC__stream_encoder_set_do_md5 (FLAC__StreamEncoder *encoder,
                                                   FLAC__bool value);

static double
s_cpu_s (void)
{
    struct timespec t;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double) t.tv_sec + (double) t.tv_nsec * 1e-9;
}

static FLAC__StreamEncoderWriteStatus
s_count (const FLAC__StreamEncoder *e, const FLAC__byte buf [], size_t bytes,
         uint32_t samples, uint32_t frame, void *arg)
{
    (void) e, (void) buf, (void) frame;
    if (samples > 0)                    //  frames only, not the header
        *(size_t *) arg += bytes;
    return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: bench_flac FILE.wav\n");
        return 2;
    }
    SF_INFO fi = { 0 };
    SNDFILE *f = sf_open (argv [1], SFM_READ, &fi);
    if (!f) {
        fprintf (stderr, "bench_flac: %s: %s\n", argv [1], sf_strerror (NULL));
        return 1;
    }
    int bits = (fi.format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16 ? 16 : 24;
    size_t n = (size_t) fi.frames * (size_t) fi.channels;
    int32_t *x = malloc (n * sizeof *x);
    if (!x || sf_readf_int (f, x, fi.frames) != fi.frames) {
        fprintf (stderr, "bench_flac: %s: cannot read its samples\n", argv [1]);
        return 1;
    }
    sf_close (f);
    for (size_t i = 0; i < n; i++)
        x [i] >>= 32 - bits;            //  libsndfile gives them at the top
    int block = flac_block_frames (S_LEVEL, fi.samplerate, fi.channels, bits);
    double ours = 1e9, theirs = 1e9;
    size_t ours_bytes = 0, theirs_bytes = 0;
    for (int run = 0; run < S_RUNS; run++) {
        double t0 = s_cpu_s ();
        flac_enc_t *e = flac_enc_new (fi.channels, bits, fi.samplerate, S_LEVEL, block);
        if (!e)
            return 1;
        size_t bytes = 0;
        const uint8_t *frame;
        for (sf_count_t at = 0, no = 0; at < fi.frames; at += block, no++) {
            sf_count_t m = fi.frames - at < block ? fi.frames - at : block;
            bytes += flac_enc_frame (e, x + (size_t) at * (size_t) fi.channels, (uint32_t) m,
                                     (uint64_t) no, &frame);
        }
        flac_enc_free (e);
        double t1 = s_cpu_s ();
        FLAC__StreamEncoder *l = FLAC__stream_encoder_new ();
        if (!l)
            return 1;
        FLAC__stream_encoder_set_compression_level (l, S_LEVEL);
        FLAC__stream_encoder_set_channels (l, (unsigned) fi.channels);
        FLAC__stream_encoder_set_bits_per_sample (l, (unsigned) bits);
        FLAC__stream_encoder_set_sample_rate (l, (unsigned) fi.samplerate);
        FLAC__stream_encoder_set_do_md5 (l, false);
        size_t lbytes = 0;
        if (FLAC__stream_encoder_init_stream (l, s_count, NULL, NULL, NULL, &lbytes)
            != FLAC__STREAM_ENCODER_INIT_STATUS_OK
        ||  !FLAC__stream_encoder_process_interleaved (l, x, (uint32_t) fi.frames)
        ||  !FLAC__stream_encoder_finish (l))
            return 1;
        FLAC__stream_encoder_delete (l);
        double t2 = s_cpu_s ();
        ours = t1 - t0 < ours ? t1 - t0 : ours;
        theirs = t2 - t1 < theirs ? t2 - t1 : theirs;
        ours_bytes = bytes;
        theirs_bytes = lbytes;
    }
    printf ("flac_enc %.3f s, libFLAC %.3f s: %.2fx less CPU; frames %zu against %zu bytes: %+.2f%%\n",
            ours, theirs, theirs / ours, ours_bytes, theirs_bytes,
            100.0 * ((double) ours_bytes / (double) theirs_bytes - 1.0));
    free (x);
    return 0;
}
