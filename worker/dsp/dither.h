/*  Quantisation to an integer output word, with TPDF dither and optional
    noise shaping.

    The output grid for bits B is k / 2^(B-1), k in [-2^(B-1), 2^(B-1) - 1]
    (what libsndfile writes losslessly from normalised float). One LSB is
    q = 2^-(B-1).

    Modes:
      DITHER_NONE     round to nearest (for 24-bit, where the float chain's
                      own noise is far below the 24-bit step)
      DITHER_TPDF     triangular-PDF dither of 2 LSB peak-to-peak (the sum
                      of two independent uniform variates of 1 LSB each)
                      added before rounding. Vanderkooy and Lipshitz,
                      "Dither in digital audio", JAES 35(12), 1987;
                      Wannamaker, Lipshitz and Vanderkooy, "A theory of
                      non-subtractive dither", IEEE Trans. SP 48(2), 2000:
                      TPDF makes the first two moments of the total error
                      independent of the signal. Total error power
                      q^2/12 (rounding) + 2 q^2/12 (dither) = q^2/4,
                      white.
      DITHER_SHAPED   the same TPDF dither inside an error-feedback loop
                      whose noise transfer function is 1 - H(z) with
                      Wannamaker's 3-tap psychoacoustic filter
                      H(z) = 1.623 z^-1 - 0.982 z^-2 + 0.109 z^-3
                      ("Psychoacoustically optimal noise shaping", JAES
                      40(7/8), 1992): noise pushed up towards the top of
                      the band, lower where hearing is most sensitive
                      (designed for 44.1 kHz; at other rates it is still a
                      valid shaped dither, the weighting merely shifts).

    Stereo: a frame whose two samples are equal takes one dither for
    both (channel 1's fed-back error becomes channel 0's), so that dual
    mono (a mono track in a stereo album) stays dual mono, bit for bit.

    The random numbers come from a seeded xorshift64* generator per
    instance, so a re-run is byte-identical and chunked processing equals
    one block. Samples that would fall outside the grid are clamped (and
    counted); the shaping loop's error is bounded so a clamp cannot make
    it run away.  */
#ifndef MF_DSP_DITHER_H
#define MF_DSP_DITHER_H

#include <stddef.h>
#include <stdint.h>

#define DITHER_MAX_CHANNELS 8
#define DITHER_SHAPE_TAPS   3

typedef enum { DITHER_NONE = 0, DITHER_TPDF, DITHER_SHAPED } dither_mode_t;

typedef struct dither_s dither_t;

//  A quantiser to bits (8 .. 24) for channels (1 .. DITHER_MAX_CHANNELS)
//  interleaved channels. seed 0 is replaced by a fixed constant. NULL on
//  bad arguments or out of memory.
dither_t *dither_new (int bits, int channels, dither_mode_t mode, uint64_t seed);

//  Starts it again as dither_new with seed left it: the generator from
//  seed, no error fed back (a new stretch whose bytes must not depend on
//  what was quantised before it).
void dither_reseed (dither_t *self, uint64_t seed);

//  Frees it; NULL-safe; sets *self_p to NULL.
void dither_destroy (dither_t **self_p);

//  Dithers and quantises frames interleaved frames in place; every output
//  sample is on the grid above. Never allocates.
void dither_process (dither_t *self, float *data, size_t frames);

//  Samples clamped to the grid's range so far.
int64_t dither_clamped (const dither_t *self);

//  One LSB of the grid (2^-(bits-1)), linear.
double dither_lsb (int bits);

#endif
