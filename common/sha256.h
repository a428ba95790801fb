/*  SHA-256 (FIPS 180-4) of a buffer, of a stream fed in pieces, and of a
    file, with lower-case hex output. Used for the delivery manifest, so
    that anyone can check an output with `sha256sum`.

    The context is a plain value: no allocation, no cleanup.  */
#ifndef MF_SHA256_H
#define MF_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_BYTES  32
#define SHA256_HEX_SIZE      65     //  64 hex digits and the terminating NUL

typedef struct {
    uint32_t state [8];             //  H0..H7
    uint64_t total_bytes;           //  message length so far, bytes
    uint8_t  block [64];            //  pending partial block
    size_t   block_len;             //  bytes used in block
} sha256_ctx_t;

//  Chooses how blocks are hashed, for the whole process: with allow, the
//  CPU's SHA extensions when it has them (the default), else portable C.
//  Returns true if the SHA extensions are in use. Both give the same digests.
bool sha256_use_hardware (bool allow);

//  Starts a new digest.
void sha256_init (sha256_ctx_t *ctx);

//  Feeds len bytes. Any split of a message gives the same digest.
void sha256_update (sha256_ctx_t *ctx, const void *data, size_t len);

//  Finishes and writes the 32-byte digest; the context must be
//  re-initialised before further use.
void sha256_final (sha256_ctx_t *ctx, uint8_t digest [SHA256_DIGEST_BYTES]);

//  Digest of one buffer.
void sha256_buffer (const void *data, size_t len, uint8_t digest [SHA256_DIGEST_BYTES]);

//  Writes the digest as 64 lower-case hex digits and a NUL. Returns hex.
char *sha256_hex (const uint8_t digest [SHA256_DIGEST_BYTES], char hex [SHA256_HEX_SIZE]);

//  Hex digest of one buffer. Returns hex.
char *sha256_buffer_hex (const void *data, size_t len, char hex [SHA256_HEX_SIZE]);

//  Hex digest of a file's contents, read in chunks. Returns 0, or
//  MF_ERR_IO if the file cannot be opened or read (errno is kept).
int sha256_file_hex (const char *path, char hex [SHA256_HEX_SIZE]);

#endif
