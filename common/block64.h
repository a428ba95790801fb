/*  The block buffering MD5 and SHA-256 share: both compress 64-byte
    blocks and keep a partial one between calls (common/md5.c,
    common/sha256.c).  */
#ifndef MF_BLOCK64_H
#define MF_BLOCK64_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

//  Feeds len bytes: completes the pending block (block, *block_len bytes
//  of it), compresses every whole block into state (compress takes n
//  blocks at p, so that its state stays in registers between them),
//  keeps the rest.
static inline void
block64_update (uint32_t *state, uint8_t block [64], size_t *block_len,
                void (*compress) (uint32_t *, const uint8_t *, size_t), const void *data,
                size_t len)
{
    const uint8_t *p = data;
    if (*block_len > 0) {
        size_t take = 64 - *block_len < len ? 64 - *block_len : len;
        memcpy (block + *block_len, p, take);
        *block_len += take;
        p += take;
        len -= take;
        if (*block_len < 64)
            return;
        compress (state, block, 1);
        *block_len = 0;
    }
    if (len >= 64)
        compress (state, p, len / 64);
    p += len / 64 * 64;
    len %= 64;
    memcpy (block, p, len);
    *block_len = len;
}

#endif
