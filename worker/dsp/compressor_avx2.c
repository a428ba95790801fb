/*  Dynamics kernels, avx2 (keeps the generic entries until the vector
    kernels land).  */
#include "worker/dsp/dsp_ops.h"

void
compressor_fill_avx2 (dsp_ops_t *ops)
{
    (void) ops;
}
