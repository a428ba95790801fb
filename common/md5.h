/*  MD5 (RFC 1321) of a stream fed in pieces. Only for the one place a
    format asks for it: the FLAC STREAMINFO signature of the samples
    (worker/flac_out.c). Delivery integrity is SHA-256 (common/sha256.h).

    The context is a plain value: no allocation, no cleanup.  */
#ifndef MF_MD5_H
#define MF_MD5_H

#include <stddef.h>
#include <stdint.h>

#define MD5_DIGEST_BYTES  16

typedef struct {
    uint32_t state [4];             //  A, B, C, D
    uint64_t total_bytes;           //  message length so far, bytes
    uint8_t  block [64];            //  pending partial block
    size_t   block_len;             //  bytes used in block
} md5_ctx_t;

//  Starts a new digest.
void md5_init (md5_ctx_t *ctx);

//  Feeds len bytes. Any split of a message gives the same digest.
void md5_update (md5_ctx_t *ctx, const void *data, size_t len);

//  Feeds the same len bytes to x and y (two different contexts), their
//  blocks compressed side by side: about the time of one md5_update.
void md5_update2 (md5_ctx_t *x, md5_ctx_t *y, const void *data, size_t len);

//  Finishes and writes the 16-byte digest; the context must be
//  re-initialised before further use.
void md5_final (md5_ctx_t *ctx, uint8_t digest [MD5_DIGEST_BYTES]);

#endif
