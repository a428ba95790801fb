/*  Biquad cascade kernel, sse2 (keeps the generic entry until the
    vector kernel lands).  */
#include "worker/dsp/dsp_ops.h"

void
biquad_fill_sse2 (dsp_ops_t *ops)
{
    (void) ops;
}
