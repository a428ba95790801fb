/*  Dynamics kernels, sse2 (keeps the generic entries until the vector
    kernels land).  */
#include "worker/dsp/dsp_ops.h"

void
compressor_fill_sse2 (dsp_ops_t *ops)
{
    (void) ops;
}
