/*  Fills the kernel table: generic first, then SSE2, then AVX2+FMA, each
    only where the CPU has it and MASTERFARM_DSP allows it.  */
#include "worker/dsp/dsp_ops.h"
#include "worker/dsp/cpu.h"
#include "common/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *s_isa_names [] = { "generic", "sse2", "avx2" };

dsp_isa_t
dsp_isa_best (void)
{
    if (cpu_has_avx2_fma ())
        return DSP_ISA_AVX2;
    if (cpu_has_sse2 ())
        return DSP_ISA_SSE2;
    return DSP_ISA_GENERIC;
}

void
dsp_ops_init_isa (dsp_ops_t *ops, dsp_isa_t max_isa)
{
    memset (ops, 0, sizeof *ops);
    dsp_isa_t best = dsp_isa_best ();
    if (max_isa > best)
        max_isa = best;

    basic_fill_generic (ops);
    tp_fill_generic (ops);
    biquad_fill_generic (ops);
    compressor_fill_generic (ops);
    ops->isa = DSP_ISA_GENERIC;
    if (max_isa >= DSP_ISA_SSE2) {
        basic_fill_sse2 (ops);
        tp_fill_sse2 (ops);
        biquad_fill_sse2 (ops);
        compressor_fill_sse2 (ops);
        ops->isa = DSP_ISA_SSE2;
    }
    if (max_isa >= DSP_ISA_AVX2) {
        basic_fill_avx2 (ops);
        tp_fill_avx2 (ops);
        biquad_fill_avx2 (ops);
        compressor_fill_avx2 (ops);
        ops->isa = DSP_ISA_AVX2;
    }
    ops->isa_name = s_isa_names [ops->isa];
}

static dsp_ops_t s_ops;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

//  Reads MASTERFARM_DSP and fills the process-wide table.
static void
s_init_once (void)
{
    dsp_isa_t want = dsp_isa_best ();
    const char *env = getenv ("MASTERFARM_DSP");
    if (env && *env) {
        int found = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp (env, s_isa_names [i]) == 0)
                found = i;
        if (found < 0)
            log_warn ("MASTERFARM_DSP=%s is not one of generic, sse2, avx2; using %s",
                      env, s_isa_names [want]);
        else {
            if ((dsp_isa_t) found > want)
                log_warn ("MASTERFARM_DSP=%s: this CPU lacks it; using %s",
                          env, s_isa_names [want]);
            else
                want = (dsp_isa_t) found;
        }
    }
    dsp_ops_init_isa (&s_ops, want);
}

const dsp_ops_t *
dsp_ops (void)
{
    pthread_once (&s_once, s_init_once);
    return &s_ops;
}
