/*  BS.1770-4 loudness from K-weighted energies per 100 ms hop, shared by
    the analysis (worker/analysis.h) and the mastering loop's meters
    (worker/master.h).

    K-weighting (ITU-R BS.1770-4 Annex 1) is the high shelf (f0 1681.97 Hz,
    +3.99984 dB, Q 0.7071752) then the RLB high-pass (f0 38.1355 Hz,
    Q 0.5003271), both designed by the bilinear transform from their
    analogue prototypes for any rate, as libebur128 and the standard's
    48 kHz coefficients do. Channels are weighted as BS.1770-4 Table 3 in
    the layout L R C LFE Ls Rs Lb Rb (LFE 0, surrounds 1.41); a mono
    channel counts twice (dual-mono, +3.01 dB: heard on two loudspeakers,
    libebur128's EBUR128_DUAL_MONO).

    A hop is (rate + 5) / 10 frames, libebur128's 100 ms; its energy is
    the channel-weighted mean square of the K-weighted signal. A 400 ms
    gating block is the mean of 4 consecutive hops (blocks every 100 ms),
    a 3 s short-term window the mean of 30. The integrated loudness and the
    loudness range follow libebur128's conventions, so the two agree to
    rounding (tests/unit/test_ebu3341.c and test_ebu3342.c hold them to
    the EBU's test signals).  */
#ifndef MF_KWEIGHT_H
#define MF_KWEIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KWEIGHT_MAX_CH  8

//  The two biquads for rate_hz: b[k][0..2], a[k][0..2] (a[k][0] = 1);
//  k 0 the shelf, 1 the high-pass.
void kweight_coefs (int rate_hz, double b [2][3], double a [2][3]);

//  Channel weights of channels (1 .. KWEIGHT_MAX_CH) into w.
void kweight_channel_weights (int channels, double w [KWEIGHT_MAX_CH]);

//  Frames per hop at rate_hz.
int64_t kweight_hop_frames (int rate_hz);

//  The filters run serially over a stream, state kept between calls.
typedef struct {
    int    channels;
    double b [2][3], a [2][3];
    double w [KWEIGHT_MAX_CH];
    double st [KWEIGHT_MAX_CH][4];
} kweight_filter_t;

//  Sets f up for channels (1 .. KWEIGHT_MAX_CH) at rate_hz > 0.
void kweight_filter_init (kweight_filter_t *f, int channels, int rate_hz);

//  Filters frames interleaved frames of x and returns their summed
//  channel-weighted squares (divide by the frames for a mean square).
double kweight_filter_sum (kweight_filter_t *f, const float *x, int64_t frames);

//  Integrated loudness (LUFS) from n_hops hop energies: 400 ms blocks every
//  100 ms, absolute gate -70 LUFS, relative gate -10 LU; -HUGE_VAL when no
//  block passes (or fewer than 4 hops).
double kweight_integrated (const double *hop_e, int64_t n_hops);

//  Loudness range (EBU Tech 3342, LU) from hop energies with libebur128's
//  conventions: 3 s short-term windows every 1 s (the first ending at
//  3 s), absolute gate -70 LUFS, relative gate -20 LU, the 10th and 95th
//  percentiles at index (n - 1) p + 0.5 of the sorted energies; 0 when
//  shorter than 3 s or out of memory.
double kweight_range (const double *hop_e, int64_t n_hops);

#endif
