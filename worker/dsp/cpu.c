/*  CPU feature detection (cpuid/xgetbv through the compiler's builtins)
    and the per-thread FTZ/DAZ floating-point mode.  */
#include "worker/dsp/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <xmmintrin.h>
#include <pmmintrin.h>
#endif

bool
cpu_has_sse2 (void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init ();
    return __builtin_cpu_supports ("sse2");
#else
    return false;
#endif
}

bool
cpu_has_avx2_fma (void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init ();
    //  __builtin_cpu_supports checks OS support of YMM state (xgetbv) too.
    return __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
#else
    return false;
#endif
}

void
cpu_set_ftz_daz (void)
{
#if defined(__x86_64__) || defined(__i386__)
    _MM_SET_FLUSH_ZERO_MODE (_MM_FLUSH_ZERO_ON);
    _MM_SET_DENORMALS_ZERO_MODE (_MM_DENORMALS_ZERO_ON);
#endif
}
