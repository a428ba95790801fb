/*  masterfarm error codes.
    Every fallible function returns 0 on success or one of these negative
    codes; the comment above each prototype names the ones it can return.  */
#ifndef MF_ERR_H
#define MF_ERR_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    MF_OK            =  0,
    MF_ERR_NOMEM     = -1,   //  out of memory
    MF_ERR_IO        = -2,   //  a file or socket operation failed (see errno)
    MF_ERR_FORMAT    = -3,   //  input is not in the expected format
    MF_ERR_INVALID   = -4,   //  a value is out of its documented range
    MF_ERR_PROTOCOL  = -5,   //  a malformed or unexpected message
    MF_ERR_NOTFOUND  = -6,   //  no such job, track, file or key
    MF_ERR_UNSUPPORTED = -7, //  valid but not supported (rate, channels, format)
    MF_ERR_STATE     = -8,   //  not allowed in the current state
    MF_ERR_TIMEOUT   = -9,   //  a deadline passed
    MF_ERR_CANCELLED = -10,  //  stopped on request
    MF_ERR_INTERNAL  = -11   //  a bug; details are in the log
} mf_err_t;

//  Returns a short constant English phrase for an error code; never NULL.
const char *mf_strerror (int code);

//  True when a system error number says the machine ran short rather than
//  the work being wrong: ENOSPC, EDQUOT, EIO, ENOMEM, EMFILE, ENFILE,
//  EAGAIN (fork). Such failures are worth retrying later.
bool mf_errno_is_resource (int errnum);

//  For a function whose message buffer is optional: err, or scratch when
//  err is NULL or empty (*err_size then says scratch_size); cleared.
static inline char *
mf_err_buffer (char *err, size_t *err_size, char *scratch, size_t scratch_size)
{
    if (!err || *err_size == 0) {
        err = scratch;
        *err_size = scratch_size;
    }
    err [0] = 0;
    return err;
}

#endif
