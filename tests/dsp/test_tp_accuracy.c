/*  True-peak accuracy near the Nyquist frequency (worker/dsp/tp_check.h
    and master_run's verification that uses it).

    - Analytic: a sine of amplitude 0.5 (-6.02 dBTP) at 1 .. 20 kHz and
      random phases, 44.1 and 48 kHz: the accurate check reads it within
      0.03 dB (its passband ripple and the parabolic refinement of the 8x
      grid, tp_check.c), where a 4x grid alone can be 0.6 dB low.
    - Screening: on tilted noise the check screened at a floor 0.5 dB
      under the full reading gives exactly the full (unscreened) reading.
    - Mastering: 10 s of stereo noise with a rising tilt (+9.5 dB from DC
      to the Nyquist frequency) and noise bursts 12 dB up every 0.5 s,
      mastered to -14 LUFS / -1 dBTP for cd (WAV 16-bit 44.1 kHz,
      dithered) and spotify (FLAC 24-bit), written and read back:
        true peak at or under -1 dBTP by FFmpeg's ebur128 filter (the
        largest per-frame lavfi.r128.true_peak value, linear, not the
        rounded summary; 10^(-1/20) = 0.891251), by the accurate check,
        by libebur128 and by the 4x meter;
        integrated loudness within 0.1 LU of -14 (DESIGN.md) by libebur128
        (the re-limiting re-trims the gain);
        SoX 16x VHQ (rate -v, 95% bandwidth) within 0.05 dB of the
        ceiling (its steep filter can ring above an ideal reconstruction
        on such content; master_run keeps the check 0.05 dB under).
      This content peaks at the Nyquist frequency itself, where meters
      disagree most: an ideal (full-band) reconstruction reads it about
      0.6 dB above the check, FFmpeg and SoX about 0.5 dB below.
      FFmpeg and SoX must be installed: without their readings the test
      fails (it never passes unchecked).
    - Pre-screen: tp_check_run (with the sample-peak pre-screen) returns
      exactly, bit for bit, what the reference path (every screen block
      through the 4x kernel, tp_check_run_ex with the pre-screen off)
      returns: limited noise, sines at fs/4 and near the Nyquist
      frequency, silence, one isolated peak in a quiet file, a
      crescendo, steps, peaks at both ends, NaN and infinite samples;
      1 to 8 channels; 8 to 192 kHz; floors from -HUGE_VAL to +HUGE_VAL;
      lengths around the chunk and block sizes; and random cases with a
      printed seed. The same check fed in pieces of random sizes
      (tp_stream_*, as master_run renders) returns the same, bit for bit,
      and lists the same overs as tp_check_overs.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ebur128.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testsig.h"
#include "common/err.h"
#include "worker/audio_io.h"
#include "common/spec.h"
#include "worker/dsp/limiter.h"
#include "worker/dsp/tp_check.h"
#include "worker/dsp/truepeak.h"
#include "worker/master.h"

//  Stereo noise with a rising tilt: w[n] + (w[n] - w[n-1]) (gain 1 at DC,
//  3 at the Nyquist frequency), RMS rms, bursts 12 dB up for 30 ms every
//  0.5 s; independent per channel.
static void
s_tilted_noise (audio_t *a, double seconds, int rate_hz, double rms, uint64_t seed)
{
    testsig_alloc (a, (int64_t) (seconds * rate_hz), 2, rate_hz);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, seed);
    for (int c = 0; c < 2; c++) {
        double prev = 0.0;
        for (int64_t i = 0; i < a->frames; i++) {
            double w = testsig_rng_gauss (&rng);
            double v = w + (w - prev);
            prev = w;
            double t = fmod ((double) i / rate_hz, 0.5);
            double g = t < 0.03 ? 4.0 * exp (-t / 0.01) : 1.0;
            a->data [i * 2 + c] = (float) (rms / sqrt (3.0) * v * (g > 1.0 ? g : 1.0));
        }
    }
}

static void
test_sines (void **state)
{
    (void) state;
    static const double freqs [] = { 1000, 5000, 11025, 15000, 18000, 19000, 20000 };
    static const int rates [] = { 44100, 48000 };
    testsig_rng_t rng;
    testsig_rng_seed (&rng, 77);
    for (size_t r = 0; r < 2; r++)
        for (size_t f = 0; f < sizeof freqs / sizeof freqs [0]; f++)
            for (int k = 0; k < 4; k++) {
                audio_t a;
                testsig_alloc (&a, rates [r] / 2, 1, rates [r]);
                double ph = 2.0 * M_PI * testsig_rng_uniform (&rng);
                testsig_add_sine (&a, freqs [f], 0.5, ph, 0, a.frames);
                //  raised-cosine fades of 2048 frames: no ringing of a cut
                const int64_t fade = 2048;
                for (int64_t i = 0; i < fade; i++) {
                    float g = (float) (0.5 - 0.5 * cos (M_PI * (double) i / fade));
                    a.data [i] *= g;
                    a.data [a.frames - 1 - i] *= g;
                }
                double v = tp_check_max_dbtp (a.data, a.frames, 1, rates [r]);
                truepeak_t *tp = truepeak_new (rates [r], 1);
                truepeak_process (tp, a.data, (size_t) a.frames);
                double own = truepeak_max_dbtp (tp);
                truepeak_destroy (&tp);
                double want = 20.0 * log10 (0.5);
                if (k == 0)
                    printf ("sine %5.0f Hz at %d Hz: check %+.4f dB, 4x meter %+.4f dB\n",
                            freqs [f], rates [r], v - want, own - want);
                if (fabs (v - want) > 0.03)     //  tp_check.c: ripple + refinement
                    fail_msg ("sine %.0f Hz at %d Hz phase %.3f: check %.4f dBTP, want %.4f",
                              freqs [f], rates [r], ph, v, want);
                audio_free (&a);
            }
}

static void
test_screen (void **state)
{
    (void) state;
    audio_t a;
    s_tilted_noise (&a, 3.0, 44100, 0.1, 5);
    double full = tp_check_max_dbtp (a.data, a.frames, 2, 44100);
    tp_check_result_t r;
    assert_int_equal (tp_check_run (a.data, a.frames, 2, 44100, full - 0.5, &r), 0);
    printf ("noise: full %.4f dBTP, screened %.4f dBTP (4x %.4f), %lld of %lld refined\n",
            full, r.true_peak_dbtp, r.own_dbtp, (long long) r.refined,
            (long long) r.intervals);
    assert_true (r.true_peak_dbtp == full);
    assert_true (r.refined < r.intervals / 10);
    assert_int_equal (tp_check_run (a.data, a.frames, 9, 44100, 0.0, &r), MF_ERR_INVALID);
    audio_free (&a);
}

//  FFmpeg's ebur128 true peak of path: the largest per-frame value,
//  linear; NAN when ffmpeg is not available (the test then fails).
static double
s_ffmpeg_tp (const char *path)
{
    char cmd [1400];
    snprintf (cmd, sizeof cmd, "ffmpeg -hide_banner -nostats -i '%s' -af "
              "ebur128=peak=true:metadata=1,ametadata=mode=print:key=lavfi.r128.true_peak "
              "-f null - 2>&1", path);
    FILE *p = popen (cmd, "r");
    if (!p)
        return NAN;
    char line [512];
    double m = NAN;
    while (fgets (line, sizeof line, p)) {
        const char *s = strstr (line, "true_peak=");
        if (s) {
            double v = atof (s + 10);
            m = isnan (m) || v > m ? v : m;
        }
    }
    pclose (p);
    return m;
}

//  SoX 16x VHQ peak of path in dBFS; NAN when sox is not available (the
//  test then fails).
static double
s_sox_tp (const char *path, int rate_hz)
{
    char cmd [1400];
    snprintf (cmd, sizeof cmd, "sox '%s' -n rate -v %d stats 2>&1", path, rate_hz * 16);
    FILE *p = popen (cmd, "r");
    if (!p)
        return NAN;
    char line [512];
    double m = NAN;
    while (fgets (line, sizeof line, p))
        if (strncmp (line, "Pk lev dB", 9) == 0)
            m = atof (line + 9);
    pclose (p);
    return m;
}

static void
s_master_profile (const audio_t *src, const char *profile)
{
    const profile_t *p = profile_find (profile);
    assert_non_null (p);
    master_opts_t o;
    master_opts_default (&o, p, src->rate_hz);
    o.target_lufs = -14.0;
    o.ceiling_dbtp = -1.0;
    audio_t out;
    master_report_t rep;
    char err [512];
    assert_int_equal (master_run (src, &o, &out, &rep, err, sizeof err), 0);
    char path [1200];
    snprintf (path, sizeof path, "%s/%s.%s", testsig_tmpdir ("tp_accuracy"), p->name, p->ext);
    assert_int_equal (audio_write (path, &out, p->format, p->bits, NULL, err, sizeof err), 0);
    audio_t back;
    assert_int_equal (audio_read (path, &back, err, sizeof err), 0);

    ebur128_state *st = ebur128_init (2, (unsigned long) back.rate_hz,
                                      EBUR128_MODE_I | EBUR128_MODE_TRUE_PEAK);
    ebur128_add_frames_float (st, back.data, (size_t) back.frames);
    double lufs, tp0, tp1;
    ebur128_loudness_global (st, &lufs);
    ebur128_true_peak (st, 0, &tp0);
    ebur128_true_peak (st, 1, &tp1);
    ebur128_destroy (&st);
    double eb = 20.0 * log10 (fmax (tp0, tp1));
    truepeak_t *tp = truepeak_new (back.rate_hz, 2);
    truepeak_process (tp, back.data, (size_t) back.frames);
    double own = truepeak_max_dbtp (tp);
    truepeak_destroy (&tp);
    double check = tp_check_max_dbtp (back.data, back.frames, 2, back.rate_hz);
    double ff = s_ffmpeg_tp (path);
    double sx = s_sox_tp (path, back.rate_hz);
    printf ("%-8s %s %d-bit: %.3f LUFS; true peak: check %.3f, 4x %.3f, libebur128 %.3f, "
            "ffmpeg %.3f (%.5f), sox 16x %.2f dBTP; gain %.2f dB, %d renders\n",
            p->name, p->ext, p->bits, lufs, check, own, eb,
            20.0 * log10 (ff), ff, sx, rep.gain_db, rep.loop_iterations);
    assert_true (fabs (lufs - -14.0) <= 0.1);                //  DESIGN.md: within 0.1 LU
    assert_true (check <= -1.0);
    assert_true (own <= -1.0);
    assert_true (eb <= -1.0);
    assert_true (rep.out_true_peak_dbtp <= -1.0);
    //  the independent meters are part of the check: without them the
    //  test fails rather than pass unchecked (ops/install-deps.sh has both)
    if (isnan (ff))
        fail_msg ("no true-peak reading from ffmpeg (is it installed?)");
    assert_true (ff <= 0.891251);                            //  10^(-1/20): -1 dBTP
    if (isnan (sx))
        fail_msg ("no peak reading from sox (is it installed?)");
    assert_true (sx <= -1.0 + 0.05);
    audio_free (&back);
    audio_free (&out);
}

static void
test_master_near_nyquist (void **state)
{
    (void) state;
    audio_t src;
    s_tilted_noise (&src, 10.0, 44100, 0.05, 2026);
    s_master_profile (&src, "cd");
    s_master_profile (&src, "spotify");
    audio_free (&src);
}

//  The check fed in pieces of pseudo-random sizes (1 frame to three
//  chunks) gives the whole-signal check's return code and result, bit
//  for bit, and the overs tp_check_overs lists (floor_dbtp, and 0.4 dB
//  under it near the Nyquist frequency).
static void
s_same_stream (const char *what, const float *buf, int64_t frames, int channels,
               int rate_hz, double floor_dbtp, int rc_whole, const tp_check_result_t *whole)
{
    static uint64_t lcg = 2026;
    const double hf_floor = floor_dbtp - 0.4;
    tp_over_t *ov_whole = NULL, *ov_got = NULL;
    size_t n_whole = 0, n_got = 0;
    tp_check_result_t r_whole, got;
    int rc_ov = tp_check_overs (buf, frames, channels, rate_hz, floor_dbtp, hf_floor, 0.1,
                                &ov_whole, &n_whole, &r_whole);
    tp_stream_t *st = tp_stream_new (frames, channels, rate_hz, floor_dbtp, hf_floor, 0.1,
                                     true);
    if (rc_whole) {
        //  arguments out of range: refused at once
        assert_null (st);
        free (ov_whole);
        return;
    }
    assert_int_equal (rc_ov, 0);
    assert_non_null (st);
    for (int64_t t = 0; t < frames; ) {
        lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t n = 1 + (int64_t) ((lcg >> 33) % (3 * 4096));
        n = n < frames - t ? n : frames - t;
        assert_int_equal (tp_stream_feed (st, buf + t * channels, n), 0);
        t += n;
    }
    assert_int_equal (tp_stream_finish (st, &got, &ov_got, &n_got), 0);
    tp_stream_destroy (&st);
    if (memcmp (&got, whole, sizeof got) != 0 || memcmp (&r_whole, whole, sizeof got) != 0)
        fail_msg ("%s (%lld frames x %d at %d Hz, floor %g dBTP): in pieces own %.17g "
                  "check %.17g refined %lld; whole own %.17g check %.17g refined %lld",
                  what, (long long) frames, channels, rate_hz, floor_dbtp, got.own_dbtp,
                  got.true_peak_dbtp, (long long) got.refined, whole->own_dbtp,
                  whole->true_peak_dbtp, (long long) whole->refined);
    bool same = n_got == n_whole;
    for (size_t i = 0; same && i < n_got; i++)
        same = ov_got [i].frame == ov_whole [i].frame
            && memcmp (&ov_got [i].peak, &ov_whole [i].peak, sizeof (float)) == 0;
    if (!same)
        fail_msg ("%s (%lld frames x %d at %d Hz, floor %g dBTP): in pieces %zu overs, "
                  "whole %zu", what, (long long) frames, channels, rate_hz, floor_dbtp,
                  n_got, n_whole);
    free (ov_whole);
    free (ov_got);
}

//  Checks buf with and without the pre-screen at floor_dbtp: same return
//  code and the same result, bit for bit; returns the share of the
//  intervals that the pre-screen settled (0 .. 1).
static double
s_same (const char *what, const float *buf, int64_t frames, int channels, int rate_hz,
        double floor_dbtp)
{
    tp_check_result_t ref, got;
    int64_t bounded = -1;
    int rc_ref = tp_check_run_ex (buf, frames, channels, rate_hz, floor_dbtp, false, NULL,
                                  &ref);
    int rc_got = tp_check_run_ex (buf, frames, channels, rate_hz, floor_dbtp, true, &bounded,
                                  &got);
    tp_check_result_t pub;
    int rc_pub = tp_check_run (buf, frames, channels, rate_hz, floor_dbtp, &pub);
    if (rc_ref != rc_got || rc_ref != rc_pub
    ||  memcmp (&ref, &got, sizeof ref) != 0 || memcmp (&ref, &pub, sizeof ref) != 0)
        fail_msg ("%s (%lld frames x %d at %d Hz, floor %g dBTP): reference rc %d own %.17g "
                  "check %.17g refined %lld intervals %lld; pre-screened rc %d own %.17g "
                  "check %.17g refined %lld intervals %lld",
                  what, (long long) frames, channels, rate_hz, floor_dbtp,
                  rc_ref, ref.own_dbtp, ref.true_peak_dbtp, (long long) ref.refined,
                  (long long) ref.intervals, rc_got, got.own_dbtp, got.true_peak_dbtp,
                  (long long) got.refined, (long long) got.intervals);
    assert_true (bounded >= 0 && bounded <= got.intervals);
    s_same_stream (what, buf, frames, channels, rate_hz, floor_dbtp, rc_got, &got);
    return got.intervals > 0 ? (double) bounded / (double) got.intervals : 0.0;
}

//  s_same at the floor a caller uses (just under the peak), one over the
//  peak (few refined), a low one (much refined) and +HUGE_VAL (nothing
//  refined). -HUGE_VAL, where every interval is refined and nothing can
//  be skipped, is left to the short signals of the other tests: it is
//  slow.
static void
s_same_floors (const char *what, const float *buf, int64_t frames, int channels,
               int rate_hz, double peak_dbtp)
{
    const double floors [] = { peak_dbtp - 0.05, peak_dbtp + 1.0, -20.0, HUGE_VAL };
    for (size_t i = 0; i < sizeof floors / sizeof floors [0]; i++)
        s_same (what, buf, frames, channels, rate_hz, floors [i]);
}

//  Limited noise (the use case): white noise with a rising tilt and
//  bursts, raised into a limiter at -1 dBTP.
static void
s_limited_noise (audio_t *a, double seconds, int channels, int rate_hz, uint64_t seed)
{
    testsig_alloc (a, (int64_t) (seconds * rate_hz), channels, rate_hz);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, seed);
    for (int c = 0; c < channels; c++) {
        double prev = 0.0;
        for (int64_t i = 0; i < a->frames; i++) {
            double w = testsig_rng_gauss (&rng);
            double t = fmod ((double) i / rate_hz, 0.25);
            double g = t < 0.02 ? 6.0 : 1.0;
            a->data [i * channels + c] = (float) (0.1 * g * (w + 0.5 * (w - prev)));
            prev = w;
        }
    }
    limiter_cfg_t cfg = { .enabled = true, .ceiling_dbtp = -1.0, .lookahead_ms = 5.0,
                          .release_ms = 50.0 };
    limiter_t *lim = limiter_new (&cfg, rate_hz, channels);
    assert_non_null (lim);
    float *in = malloc ((size_t) (a->frames * channels) * sizeof (float));
    assert_non_null (in);
    memcpy (in, a->data, (size_t) (a->frames * channels) * sizeof (float));
    limiter_run_gain (lim, a->data, in, (size_t) a->frames, 2.0f);
    limiter_destroy (&lim);
    free (in);
}

static void
test_prescreen_signals (void **state)
{
    (void) state;
    static const int rates [] = { 44100, 48000, 96000, 192000 };
    static const int chans [] = { 1, 2, 6 };
    for (size_t r = 0; r < sizeof rates / sizeof rates [0]; r++)
        for (size_t k = 0; k < sizeof chans / sizeof chans [0]; k++) {
            const int rate = rates [r], ch = chans [k];
            char what [96];
            audio_t a;
            //  limited noise
            s_limited_noise (&a, 30000.0 / rate, ch, rate, 11 + r * 7 + k);
            snprintf (what, sizeof what, "limited noise");
            double share = s_same (what, a.data, a.frames, ch, rate, -1.05);
            s_same_floors (what, a.data, a.frames, ch, rate, -1.0);
            printf ("limited noise, %d ch at %d Hz: %.1f%% of the intervals settled by "
                    "the pre-screen\n", ch, rate, 100.0 * share);
            audio_free (&a);
            //  sines at fs/4, near the Nyquist frequency, and a low one,
            //  at -1 dBFS with a cut start (a step at frame 0)
            const double freqs [] = { rate / 4.0, rate * 0.49, rate * 0.475, 1000.0 };
            for (size_t f = 0; f < sizeof freqs / sizeof freqs [0]; f++) {
                testsig_alloc (&a, 12000, ch, rate);
                testsig_add_sine (&a, freqs [f], testsig_db_to_lin (-1.0), 0.3, 0, a.frames);
                snprintf (what, sizeof what, "sine %.0f Hz", freqs [f]);
                s_same_floors (what, a.data, a.frames, ch, rate, -1.0);
                audio_free (&a);
            }
            //  silence
            testsig_alloc (&a, 12000, ch, rate);
            s_same_floors ("silence", a.data, a.frames, ch, rate, -HUGE_VAL);
            //  one isolated peak (-0.5 dBFS, one channel) in quiet noise
            //  (-60 dBFS RMS), far from the ends
            testsig_add_noise (&a, testsig_db_to_lin (-60.0), 3 + k);
            a.data [(a.frames / 3) * ch + ch - 1] = (float) testsig_db_to_lin (-0.5);
            s_same_floors ("isolated peak", a.data, a.frames, ch, rate, -0.5);
            //  after the peak every block is under the running maxima:
            //  the pre-screen must have settled them (the path is tested)
            share = s_same ("isolated peak", a.data, a.frames, ch, rate, -1.05);
            if (r == 0 && k == 0)
                printf ("isolated peak: %.1f%% of the intervals settled by the "
                        "pre-screen\n", 100.0 * share);
            assert_true (share > 0.5);
            //  the same peak on the first and on the last frame
            a.data [(a.frames / 3) * ch + ch - 1] = 0.0f;
            a.data [0] = -0.9f;
            a.data [(a.frames - 1) * ch] = 0.95f;
            s_same_floors ("peaks at the ends", a.data, a.frames, ch, rate, -0.5);
            audio_free (&a);
            //  a crescendo (the running maxima grow all along) and steps
            testsig_alloc (&a, 16000, ch, rate);
            for (int64_t i = 0; i < a.frames; i++)
                for (int c = 0; c < ch; c++) {
                    double g = (double) i / (double) a.frames;
                    double v = sin (2.0 * M_PI * 3000.0 * (double) i / rate + c);
                    a.data [i * ch + c] = (float) (0.95 * g * g * v);
                }
            s_same_floors ("crescendo", a.data, a.frames, ch, rate, -0.5);
            for (int64_t i = 0; i < a.frames; i++)
                for (int c = 0; c < ch; c++)
                    a.data [i * ch + c] = (i / 1000) % 2 ? 0.8f : -0.3f;
            s_same_floors ("steps", a.data, a.frames, ch, rate, 0.0);
            audio_free (&a);
        }
}

static void
test_prescreen_nonfinite (void **state)
{
    (void) state;
    const float bad [] = { NAN, -NAN, INFINITY, -INFINITY, 3e38f, 1e-40f };
    for (size_t b = 0; b < sizeof bad / sizeof bad [0]; b++)
        for (int ch = 1; ch <= 2; ch++) {
            audio_t a;
            s_limited_noise (&a, 0.5, ch, 44100, 99);
            //  in a loud block, in a quiet stretch, and at the start
            for (int64_t i = 0; i < a.frames; i++)
                if (fmod ((double) i / 44100, 0.25) > 0.1)
                    for (int c = 0; c < ch; c++)
                        a.data [i * ch + c] *= 0.01f;
            a.data [(int64_t) (0.01 * 44100) * ch] = bad [b];
            a.data [(int64_t) (0.2 * 44100) * ch + ch - 1] = bad [b];
            s_same_floors ("non-finite", a.data, a.frames, ch, 44100, -1.0);
            a.data [0] = bad [b];
            s_same_floors ("non-finite first", a.data, a.frames, ch, 44100, -1.0);
            s_same ("non-finite first", a.data, a.frames, ch, 44100, -HUGE_VAL);
            audio_free (&a);
        }
}

//  A NaN or an infinity just outside a loud burst, at every distance up
//  to past the refinement's reach (TP_CHECK_TAPS / 2 + 1 frames) from
//  either edge: the blocks next to the burst read it with their kernels
//  or refinements, or not at all.
static void
test_prescreen_nonfinite_near (void **state)
{
    (void) state;
    const float bad [] = { NAN, INFINITY };
    for (size_t b = 0; b < 2; b++)
        for (int side = 0; side < 2; side++)
            for (int d = 0; d <= TP_CHECK_TAPS / 2 + 4; d++) {
                audio_t a;
                testsig_alloc (&a, 3000, 2, 44100);
                testsig_add_noise (&a, 0.01, 5 + (uint64_t) d);
                //  the burst: frames 1024 .. 1535, two blocks of the first
                //  chunk (whose intervals start 33 frames before frame 0)
                for (int64_t i = 1024; i < 1536; i++)
                    a.data [i * 2] = (float) (0.9 * sin (0.3 * (double) i));
                int64_t at = side ? 1536 + d : 1023 - d;
                a.data [at * 2] = bad [b];
                s_same ("non-finite near a burst", a.data, a.frames, 2, 44100, -1.05);
                s_same ("non-finite near a burst", a.data, a.frames, 2, 44100, -4.0);
                audio_free (&a);
            }
}

static void
test_prescreen_lengths (void **state)
{
    (void) state;
    //  around the screen block (256 intervals) and the chunk (4096),
    //  counting the 33 head intervals before the first frame
    const int64_t lens [] = { 0, 1, 2, 7, 33, 222, 223, 224, 255, 256, 257, 479, 480, 481,
                              4029, 4030, 4031, 4063, 4064, 4065, 8000, 8160, 8161, 12345 };
    testsig_rng_t rng;
    testsig_rng_seed (&rng, 31);
    for (size_t l = 0; l < sizeof lens / sizeof lens [0]; l++)
        for (int ch = 1; ch <= 8; ch++) {
            audio_t a;
            testsig_alloc (&a, lens [l], ch, 48000);
            for (int64_t i = 0; i < a.frames * ch; i++) {
                double g = testsig_rng_uniform (&rng) < 0.02 ? 0.9 : 0.05;
                a.data [i] = (float) (g * (2.0 * testsig_rng_uniform (&rng) - 1.0));
            }
            s_same_floors ("lengths", a.data, a.frames, ch, 48000, -1.0);
            s_same ("lengths", a.data, a.frames, ch, 48000, -HUGE_VAL);
            audio_free (&a);
        }
}

static void
test_prescreen_random (void **state)
{
    (void) state;
    const uint64_t seed = 20261122;
    printf ("pre-screen random cases: seed %llu\n", (unsigned long long) seed);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, seed);
    static const int rates [] = { 8000, 22050, 44100, 48000, 88200, 96000, 176400, 192000 };
    for (int n = 0; n < 60; n++) {
        int ch = 1 + (int) (testsig_rng_uniform (&rng) * 8);
        int rate = rates [(int) (testsig_rng_uniform (&rng) * 8)];
        int64_t frames = (int64_t) (testsig_rng_uniform (&rng) * 20000);
        audio_t a;
        testsig_alloc (&a, frames, ch, rate);
        //  segments of random level, colour (a one-pole smoother) and length
        double level = 0.0, pole = 0.0;
        double y [8] = { 0 };
        for (int64_t i = 0; i < frames; i++) {
            if (testsig_rng_uniform (&rng) < 0.002) {
                level = pow (10.0, -3.0 * testsig_rng_uniform (&rng));
                pole = testsig_rng_uniform (&rng) < 0.5 ? 0.0 : 0.95;
            }
            for (int c = 0; c < ch; c++) {
                double w = 2.0 * testsig_rng_uniform (&rng) - 1.0;
                y [c] = pole * y [c] + (1.0 - pole) * w;
                a.data [i * ch + c] = (float) (level * y [c] * (pole > 0 ? 3.0 : 1.0));
            }
        }
        double fl = -6.0 * testsig_rng_uniform (&rng);
        char what [64];
        snprintf (what, sizeof what, "random case %d", n);
        s_same (what, a.data, a.frames, ch, rate, fl);
        s_same (what, a.data, a.frames, ch, rate, -HUGE_VAL);
        audio_free (&a);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_sines),
        cmocka_unit_test (test_screen),
        cmocka_unit_test (test_master_near_nyquist),
        cmocka_unit_test (test_prescreen_signals),
        cmocka_unit_test (test_prescreen_nonfinite),
        cmocka_unit_test (test_prescreen_nonfinite_near),
        cmocka_unit_test (test_prescreen_lengths),
        cmocka_unit_test (test_prescreen_random),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
