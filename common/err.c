/*  Error code names, so that every message a person reads says what failed. */
#include "common/err.h"

#include <errno.h>

const char *
mf_strerror (int code)
{
    switch (code) {
        case MF_OK:              return "success";
        case MF_ERR_NOMEM:       return "out of memory";
        case MF_ERR_IO:          return "input/output error";
        case MF_ERR_FORMAT:      return "bad format";
        case MF_ERR_INVALID:     return "invalid value";
        case MF_ERR_PROTOCOL:    return "protocol error";
        case MF_ERR_NOTFOUND:    return "not found";
        case MF_ERR_UNSUPPORTED: return "not supported";
        case MF_ERR_STATE:       return "not allowed now";
        case MF_ERR_TIMEOUT:     return "timed out";
        case MF_ERR_CANCELLED:   return "cancelled";
        case MF_ERR_INTERNAL:    return "internal error";
        default:                 return "unknown error";
    }
}

bool
mf_errno_is_resource (int errnum)
{
    switch (errnum) {
        case ENOSPC: case EDQUOT: case EIO: case ENOMEM:
        case EMFILE: case ENFILE: case EAGAIN:
            return true;
        default:
            return false;
    }
}
