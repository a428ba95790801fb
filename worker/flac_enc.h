/*  A FLAC frame encoder for the fixed-predictor presets (libFLAC's 0 to
    2, which the streaming profiles use): each channel of a block is coded
    as a constant, a fixed polynomial predictor of order 0 to 4 with a
    partitioned Rice-coded residual, or verbatim, whichever is smallest
    (RFC 9639, sections 9.2 and 9.2.7); a stereo block is coded as left
    and right, left and side, side and right or mid and side, whichever
    the estimate says is smallest (preset 0 keeps left and right).

    Why not libFLAC for these presets: on 24-bit audio its fixed predictor
    and residual coder took about a third of `masterfarm master`'s CPU;
    this one codes the same kind of frames in under a third of libFLAC's
    time, about 0.3% larger (tests/unit/test_flac_enc.c checks every frame
    with libFLAC's decoder; tests/bench/bench_flac.c prints the time and
    the size against libFLAC's). libFLAC still writes the metadata, and
    encodes the presets with linear prediction (3 to 8).  */
#ifndef MF_FLAC_ENC_H
#define MF_FLAC_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct flac_enc_s flac_enc_t;

//  True when flac_enc codes this preset (0, 1 or 2).
bool flac_enc_covers (int level);

//  An encoder for frames of channels (1..8) at bits (16 or 24) and rate_hz
//  (1..655350), preset level (0..2), blocks of at most max_block frames
//  (16..65535). Returns NULL when out of memory or given other values.
flac_enc_t *flac_enc_new (int channels, int bits, int rate_hz, int level, int max_block);

//  Codes n frames (1..max_block) of interleaved samples x, each within
//  bits (signed), as one frame numbered frame_no (fixed blocking
//  strategy, RFC 9639 9.1.1). Returns the frame's size, its bytes in
//  *frame (the encoder's, valid until its next call). A block of fewer
//  than 16 frames may only be a stream's last.
size_t flac_enc_frame (flac_enc_t *e, const int32_t *x, uint32_t n, uint64_t frame_no,
                       const uint8_t **frame);

//  From now on e codes with its portable loops only, not the SIMD ones
//  (which give the same bytes): for the tests, which run both.
void flac_enc_plain (flac_enc_t *e);

//  Frees e; NULL-safe.
void flac_enc_free (flac_enc_t *e);

//  The CRC-8 of a frame header (9.1.8) and the CRC-16 of a frame (9.3),
//  the latter going on from crc (0 at a frame's start).
uint8_t flac_crc8 (const uint8_t *p, size_t n);
uint16_t flac_crc16 (uint16_t crc, const uint8_t *p, size_t n);

//  A frame or sample number coded as a frame header codes it (9.1.5:
//  UTF-8's scheme extended to 36 bits) into out; returns its length.
size_t flac_coded_number (uint64_t v, uint8_t out [7]);

#endif
