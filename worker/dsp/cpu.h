/*  CPU feature detection and per-thread floating-point mode.  */
#ifndef MF_DSP_CPU_H
#define MF_DSP_CPU_H

#include <stdbool.h>

//  True if the CPU (and OS, for AVX state) supports SSE2.
bool cpu_has_sse2 (void);

//  True if the CPU supports AVX2 and FMA and the OS saves YMM state.
bool cpu_has_avx2_fma (void);

//  Sets flush-to-zero and denormals-are-zero for the calling thread, so
//  that decaying filter and envelope states never fall into denormals.
//  Call once at the start of every thread that runs DSP.
void cpu_set_ftz_daz (void);

#endif
