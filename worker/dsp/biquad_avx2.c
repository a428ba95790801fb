/*  Biquad cascade kernel, avx2 (keeps the generic entry until the
    vector kernel lands).  */
#include "worker/dsp/dsp_ops.h"

void
biquad_fill_avx2 (dsp_ops_t *ops)
{
    (void) ops;
}
