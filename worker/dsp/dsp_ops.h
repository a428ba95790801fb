/*  The DSP kernel table.

    Every kernel has a plain C reference (the specification) and may have
    SSE2 and AVX2+FMA variants. The table is filled generic first, then
    upgraded by CPU feature, as in lsp-dsp-lib:

        dsp_ops_fill_generic (ops);
        if (cpu_has_sse2 ()     && allowed ("sse2")) dsp_ops_fill_sse2 (ops);
        if (cpu_has_avx2_fma () && allowed ("avx2")) dsp_ops_fill_avx2 (ops);

    MASTERFARM_DSP=generic|sse2|avx2 caps the upgrade at that level (a
    level the CPU lacks falls back to the best it has, with a warning).
    Each kernel family lives in <family>_<isa>.c and exports
    <family>_fill_<isa> (dsp_ops_t *), called from dsp_ops.c.

    Kernels never allocate, lock or log. Lengths are in frames or samples
    as each comment says; pointers need no particular alignment.  */
#ifndef MF_DSP_OPS_H
#define MF_DSP_OPS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DSP_ISA_GENERIC = 0, DSP_ISA_SSE2 = 1, DSP_ISA_AVX2 = 2 } dsp_isa_t;

typedef struct dsp_ops_s {
    dsp_isa_t   isa;            //  the highest level filled in
    const char *isa_name;       //  "generic", "sse2" or "avx2"

    //  --- basic vector ops (dsp_basic_*.c) ---------------------------------
    //  Largest |src[i]| over n samples; 0 for n == 0.
    float (*abs_max) (const float *src, size_t n);
    //  dst[i] = src[i] * gain for n samples (dst may equal src).
    void  (*scale) (float *dst, const float *src, float gain, size_t n);

    //  --- true-peak oversampler (tp_*.c) -----------------------------------
    //  Polyphase FIR interpolation: for each of n input samples x[0..n-1]
    //  (x[-(taps-1)] .. x[-1] must be readable history) and each of the
    //  phases, y = sum_k coef[p * taps + k] * x[i - k]; returns max |y|.
    float (*tp_block_max) (const float *x, size_t n, const float *coef,
                           int phases, int taps);
    //  The same filter, writing for each input sample i the max |y| over
    //  all phases to peak[i] (the limiter's oversampled detector).
    void  (*tp_peaks) (const float *x, size_t n, const float *coef,
                       int phases, int taps, float *peak);

    //  --- biquad cascades (biquad_*.c; layout drawn in biquad.h) ----------
    //  Filters frames interleaved frames of channels (1 .. 8) in place
    //  through n_sections transposed-direct-form-II sections in double:
    //  coefs[5 s + 0..4] = b0 b1 b2 a1 a2 of section s, state[(2 s) *
    //  channels + ch] = s1 and state[(2 s + 1) * channels + ch] = s2.
    void  (*biquad_run) (float *buf, size_t frames, int channels,
                         const double *coefs, int n_sections, double *state);

    //  --- dynamics (compressor_*.c) ---------------------------------------
    //  Per frame, the detector level of a stereo-linked compressor:
    //  level_db[i] = 20 log10 (max over channels of |buf[i * channels + c]|),
    //  floored at COMPRESSOR_FLOOR_DB (-200 dB) for silence.
    void  (*comp_level_db) (const float *buf, size_t frames, int channels,
                            float *level_db);
    //  Per frame, buf[i * channels + c] *= 10^(gain_db[i] / 20).
    void  (*gain_apply_db) (float *buf, size_t frames, int channels,
                            const float *gain_db);

    //  Further kernel families (dither, ...) add their entries below, one
    //  commented group per family.
} dsp_ops_t;

//  Fills ops for a given level (capped by the CPU). For tests and benches.
void dsp_ops_init_isa (dsp_ops_t *ops, dsp_isa_t max_isa);

//  The process-wide table, filled once (thread-safe) from the CPU and
//  MASTERFARM_DSP. Never NULL.
const dsp_ops_t *dsp_ops (void);

//  Best level this CPU supports.
dsp_isa_t dsp_isa_best (void);

//  Family fill functions (one per family and ISA).
void basic_fill_generic (dsp_ops_t *ops);
void basic_fill_sse2 (dsp_ops_t *ops);
void basic_fill_avx2 (dsp_ops_t *ops);
void tp_fill_generic (dsp_ops_t *ops);
void tp_fill_sse2 (dsp_ops_t *ops);
void tp_fill_avx2 (dsp_ops_t *ops);
void biquad_fill_generic (dsp_ops_t *ops);
void biquad_fill_sse2 (dsp_ops_t *ops);
void biquad_fill_avx2 (dsp_ops_t *ops);
void compressor_fill_generic (dsp_ops_t *ops);
void compressor_fill_sse2 (dsp_ops_t *ops);
void compressor_fill_avx2 (dsp_ops_t *ops);

#endif
