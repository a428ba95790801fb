/*  True-peak oversampler, sse2 (placeholder until the kernel lands:
    keeps the generic entry).  */
#include "worker/dsp/dsp_ops.h"

void
tp_fill_sse2 (dsp_ops_t *ops)
{
    (void) ops;
}
