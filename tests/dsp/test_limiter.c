/*  Lookahead true-peak limiter: on square waves, full-scale and louder
    noise, the inter-sample-peak sine (fs/4 at 45 degrees, samples at
    0 dBFS, true peak +3.01 dBTP) and a bursty mix, at 44.1 and 48 kHz,
    for several ceilings, lookaheads and releases, the output's true peak
    measured by libebur128 (EBUR128_MODE_TRUE_PEAK) and by the truepeak
    meter never exceeds the ceiling; silence in gives silence out; a
    signal under the ceiling passes bit-exact with the delay compensated;
    random block sizes equal one block. And the limiter gives exactly (bit
    for bit, statistics included) what the reference implementation in
    limiter_ref.h gives, the per-pass code it replaced, on limited noise
    at several gains, the generated master mix, square waves, silence and
    bursts, isolated peaks and hostile values (NaN, infinities,
    subnormals), mono to 6 channels, 44.1 to 192 kHz, blocks of 1, 7 and
    4096 frames and whole files, with every kernel table; and on tracks
    around the latency's length and a limiter reused after streaming.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ebur128.h>

#include "worker/dsp/limiter.h"
#include "worker/dsp/truepeak.h"
#include "kernels_util.h"
#include "limiter_ref.h"
#include "master_mix.h"

#include <float.h>

enum { SIG_SQUARE, SIG_SQUARE_HOT, SIG_NOISE, SIG_NOISE_HOT, SIG_ISP, SIG_BURSTS, SIG_COUNT };
static const char *s_sig_names [] = {
    "square 0 dBFS", "square +9 dBFS", "uniform noise 0 dBFS", "gauss noise +12 dB",
    "fs/4 sine 45 deg", "bursts"
};

//  Fills buf (frames x 2) with signal kind at rate fs.
static void
s_signal (float *buf, size_t frames, int kind, double fs, testsig_rng_t *rng)
{
    for (size_t i = 0; i < frames; i++) {
        double l = 0.0, r = 0.0;
        switch (kind) {
            case SIG_SQUARE:
                l = r = (i / 22) % 2 ? -1.0 : 1.0;
                break;
            case SIG_SQUARE_HOT:
                l = (i / 7) % 2 ? -2.8 : 2.8;
                r = (i / 50) % 2 ? 1.0 : -1.0;
                break;
            case SIG_NOISE:
                l = 2.0 * testsig_rng_uniform (rng) - 1.0;
                r = 2.0 * testsig_rng_uniform (rng) - 1.0;
                break;
            case SIG_NOISE_HOT:
                l = 1.2 * testsig_rng_gauss (rng);
                r = 1.2 * testsig_rng_gauss (rng);
                break;
            case SIG_ISP:
                l = r = M_SQRT2 * sin (M_PI / 2.0 * (double) i + M_PI / 4.0);
                break;
            case SIG_BURSTS: {
                double t = (double) i / fs;
                double env = fmod (t, 0.25) < 0.02 ? 3.0 : 0.3;
                l = env * (0.6 * sin (2 * M_PI * 60.0 * t) + 0.3 * sin (2 * M_PI * 17000.0 * t))
                  + 0.1 * testsig_rng_gauss (rng);
                r = env * 0.5 * sin (2 * M_PI * 11025.0 * t + 1.0);
                break;
            }
        }
        buf [2 * i] = (float) l;
        buf [2 * i + 1] = (float) r;
    }
}

//  True peak in dBTP by libebur128 (largest over channels).
static double
s_ebur128_dbtp (const float *buf, size_t frames, int ch, int rate)
{
    ebur128_state *st = ebur128_init ((unsigned) ch, (unsigned long) rate, EBUR128_MODE_TRUE_PEAK);
    assert_non_null (st);
    assert_int_equal (ebur128_add_frames_float (st, buf, frames), EBUR128_SUCCESS);
    double m = 0.0;
    for (int c = 0; c < ch; c++) {
        double tp;
        assert_int_equal (ebur128_true_peak (st, (unsigned) c, &tp), EBUR128_SUCCESS);
        if (tp > m)
            m = tp;
    }
    ebur128_destroy (&st);
    return m > 0.0 ? 20.0 * log10 (m) : -HUGE_VAL;
}

//  True peak in dBTP by the project's meter.
static double
s_meter_dbtp (const float *buf, size_t frames, int ch, int rate)
{
    truepeak_t *tp = truepeak_new (rate, ch);
    assert_non_null (tp);
    truepeak_process (tp, buf, frames);
    double db = truepeak_max_dbtp (tp);
    truepeak_destroy (&tp);
    return db;
}

static void
test_ceiling (void **state)
{
    const int rates [] = { 44100, 48000, 96000, 192000 };
    const double ceilings [] = { -1.0, 0.0, -6.0 };
    const double looks [] = { 2.0, 0.5, 20.0 };
    const double rels [] = { 80.0, 1.0, 2000.0 };
    testsig_rng_t rng;
    testsig_rng_seed (&rng, 12345);
    double worst = -HUGE_VAL;
    int failures = 0;
    for (int ri = 0; ri < 4; ri++)
        for (int k = 0; k < SIG_COUNT; k++)
            for (int v = 0; v < 3; v++) {
                int rate = rates [ri];
                size_t frames = (size_t) rate / (ri < 2 ? 1 : 2);   //  1 s, 0.5 s
                limiter_cfg_t cfg = { .enabled = true, .ceiling_dbtp = ceilings [v],
                                      .lookahead_ms = looks [v], .release_ms = rels [v] };
                limiter_t *lim = limiter_new (&cfg, rate, 2);
                assert_non_null (lim);
                float *buf = ku_alloc (frames, 2);
                s_signal (buf, frames, k, rate, &rng);
                double in_db = s_meter_dbtp (buf, frames, 2, rate);
                limiter_run (lim, buf, frames);
                double eb = s_ebur128_dbtp (buf, frames, 2, rate);
                double me = s_meter_dbtp (buf, frames, 2, rate);
                dyn_stats_t st;
                limiter_stats (lim, &st);
                printf ("# %5d Hz %-22s ceiling %5.1f la %4.1f ms rel %6.1f ms: in %+6.2f dBTP, "
                        "out %+7.3f (ebur128) %+7.3f (meter), GR max %5.2f mean %5.2f dB\n",
                        rate, s_sig_names [k], cfg.ceiling_dbtp, cfg.lookahead_ms,
                        cfg.release_ms, in_db, eb, me, st.gr_max_db,
                        st.gr_sum_db / (double) st.frames);
                //  Brief: never above the ceiling, by either meter.
                if (eb > cfg.ceiling_dbtp || me > cfg.ceiling_dbtp) {
                    printf ("# ^ FAIL: over the ceiling\n");
                    failures++;
                }
                //  Not crushed: within 1 dB of the ceiling when the input
                //  was over it.
                if (in_db > cfg.ceiling_dbtp && me < cfg.ceiling_dbtp - 1.0) {
                    printf ("# ^ FAIL: more than 1 dB under the ceiling\n");
                    failures++;
                }
                assert_int_equal (st.frames, frames);
                worst = fmax (worst, fmax (eb, me) - cfg.ceiling_dbtp);
                limiter_destroy (&lim);
                assert_null (lim);
                free (buf);
            }
    printf ("# worst output true peak relative to the ceiling: %+.4f dB\n", worst);
    assert_int_equal (failures, 0);
}

//  Under the ceiling: bit-exact passage, delay compensated by
//  limiter_run; the streaming form delays by the latency.
//  More channels, low rates and the shortest lookahead (raised to twice
//  the detector's support below about 60 kHz): still never above the
//  ceiling, by either meter.
static void
test_ceiling_edges (void **state)
{
    const int rates [] = { 8000, 22050, 32000, 88200 };
    testsig_rng_t rng;
    testsig_rng_seed (&rng, 999);
    for (int ri = 0; ri < 4; ri++)
        for (int ch = 1; ch <= 8; ch += 7) {
            int rate = rates [ri];
            size_t frames = (size_t) rate / 2;
            limiter_cfg_t cfg = { .enabled = true, .ceiling_dbtp = -2.0, .lookahead_ms = 0.5,
                                  .release_ms = 5.0 };
            limiter_t *lim = limiter_new (&cfg, rate, ch);
            assert_non_null (lim);
            float *buf = ku_alloc (frames, ch);
            for (size_t i = 0; i < frames * (size_t) ch; i++)
                buf [i] = (float) ((i / (size_t) (ch * 500)) % 2 ? 2.0 * testsig_rng_gauss (&rng)
                                   : 0.1 * testsig_rng_gauss (&rng));
            limiter_run (lim, buf, frames);
            double eb = s_ebur128_dbtp (buf, frames, ch, rate);
            double me = s_meter_dbtp (buf, frames, ch, rate);
            printf ("# %5d Hz %d ch, latency %d frames: out %+.3f (ebur128) %+.3f (meter)\n",
                    rate, ch, limiter_latency_frames (lim), eb, me);
            assert_true (eb <= cfg.ceiling_dbtp);
            assert_true (me <= cfg.ceiling_dbtp);
            limiter_destroy (&lim);
            free (buf);
        }
}

static void
test_transparent_latency (void **state)
{
    limiter_cfg_t cfg = { .enabled = true, .ceiling_dbtp = -1.0, .lookahead_ms = 2.0,
                          .release_ms = 80.0 };
    limiter_t *lim = limiter_new (&cfg, 44100, 2);
    assert_non_null (lim);
    int lat = limiter_latency_frames (lim);
    assert_int_equal (lat, 88);                 //  2 ms at 44.1 kHz
    const size_t lens [] = { 0, 1, 50, 88, 89, 5000 };
    for (size_t k = 0; k < sizeof lens / sizeof lens [0]; k++) {
        size_t frames = lens [k];
        float *a = ku_alloc (frames, 2), *b = ku_alloc (frames, 2);
        ku_sine (a, frames, 2, 997.0, 44100.0, 0.3, 0.1);
        memcpy (b, a, frames * 2 * sizeof (float));
        limiter_run (lim, b, frames);
        assert_memory_equal (a, b, frames * 2 * sizeof (float));
        dyn_stats_t st;
        limiter_stats (lim, &st);
        assert_int_equal (st.frames, frames);
        assert_true (st.gr_max_db == 0.0);
        free (a);
        free (b);
    }
    //  Re-runs on the same input are byte-identical (reset is complete).
    {
        const size_t frames = 20000;
        float *a = ku_alloc (frames, 2), *b = ku_alloc (frames, 2);
        testsig_rng_t rng;
        testsig_rng_seed (&rng, 5);
        s_signal (a, frames, SIG_NOISE_HOT, 44100.0, &rng);
        memcpy (b, a, frames * 2 * sizeof (float));
        limiter_run (lim, a, frames);
        limiter_run (lim, b, frames);
        assert_memory_equal (a, b, frames * 2 * sizeof (float));
        free (a);
        free (b);
    }
    //  Streaming: an impulse comes out latency frames later.
    limiter_reset (lim);
    float *x = ku_alloc (200, 2), *y = ku_alloc (200, 2);
    x [0] = 0.5f;
    x [1] = -0.25f;
    limiter_process (lim, y, x, 100);
    limiter_drain (lim, y + 200, 100);
    for (size_t i = 0; i < 400; i++)
        if (i == (size_t) lat * 2)
            assert_true (y [i] == 0.5f && y [i + 1] == -0.25f);
        else if (i != (size_t) lat * 2 + 1)
            assert_true (y [i] == 0.0f);
    limiter_destroy (&lim);
    free (x);
    free (y);
}

static void
test_silence (void **state)
{
    limiter_cfg_t cfg = { .enabled = true, .ceiling_dbtp = -1.0, .lookahead_ms = 5.0,
                          .release_ms = 50.0 };
    for (int ch = 1; ch <= 8; ch++) {
        limiter_t *lim = limiter_new (&cfg, 48000, ch);
        assert_non_null (lim);
        float *buf = ku_alloc (30000, ch);
        limiter_run (lim, buf, 30000);
        for (size_t i = 0; i < 30000 * (size_t) ch; i++)
            assert_true (buf [i] == 0.0f);
        limiter_destroy (&lim);
        free (buf);
    }
}

//  Random block sizes through the streaming API give the same bytes as
//  one call, in place and out of place, with the generic kernels; with
//  the SIMD ones the detector's vector body and scalar tail round
//  differently, so the outputs agree within 1e-6 of full scale.
static void
test_chunked (void **state)
{
    testsig_rng_t rng;
    testsig_rng_seed (&rng, ku_seed ("limiter"));
    limiter_cfg_t cfg = { .enabled = true, .ceiling_dbtp = -1.0, .lookahead_ms = 1.5,
                          .release_ms = 40.0 };
    const size_t frames = 60000;
    float *src = ku_alloc (frames, 2), *a = ku_alloc (frames, 2), *b = ku_alloc (frames, 2);
    s_signal (src, frames, SIG_BURSTS, 48000.0, &rng);
    dsp_ops_t generic;
    dsp_ops_init_isa (&generic, DSP_ISA_GENERIC);
    for (int best = 0; best < 2; best++) {
        limiter_t *one = limiter_new (&cfg, 48000, 2);
        limiter_t *many = limiter_new (&cfg, 48000, 2);
        if (!best) {
            limiter_set_ops (one, &generic);
            limiter_set_ops (many, &generic);
        }
        limiter_process (one, a, src, frames);
        memcpy (b, src, frames * 2 * sizeof (float));
        for (size_t pos = 0; pos < frames; ) {
            size_t n = ku_block (&rng, 3000);
            if (n > frames - pos)
                n = frames - pos;
            limiter_process (many, b + pos * 2, b + pos * 2, n);
            pos += n;
        }
        if (!best)
            assert_memory_equal (a, b, frames * 2 * sizeof (float));
        else
            for (size_t i = 0; i < frames * 2; i++)
                assert_true (fabsf (a [i] - b [i]) <= 1e-6f);
        dyn_stats_t s1, s2;
        limiter_stats (one, &s1);
        limiter_stats (many, &s2);
        assert_true (fabs (s1.gr_max_db - s2.gr_max_db) < 1e-4 && s1.gr_max_db > 3.0);
        limiter_destroy (&one);
        limiter_destroy (&many);
    }
    free (src);
    free (a);
    free (b);
}

//  Signals for the comparison with the reference implementation.
enum { REF_NOISE, REF_MIX, REF_SQUARE, REF_BURST, REF_PEAK, REF_HOSTILE, REF_KINDS };
static const char *s_ref_names [] = {
    "gauss noise", "master mix", "square", "silence, burst, silence", "isolated peak",
    "hostile values"
};

//  One comparison case: signal, layout, limiter settings and the gain
//  fed through limiter_run_gain (block modes feed the pre-scaled signal).
typedef struct {
    int    kind;
    int    channels;
    int    rate_hz;
    double seconds;
    double gain_db;
    double ceiling_dbtp;
    double lookahead_ms;
    double release_ms;
} ref_case_t;

//  Fills buf (frames x ch) with signal kind; deterministic for seed.
static void
s_ref_signal (float *buf, size_t frames, int ch, int rate, int kind, uint64_t seed)
{
    testsig_rng_t rng;
    testsig_rng_seed (&rng, seed);
    const size_t n = frames * (size_t) ch;
    switch (kind) {
        case REF_NOISE:
            for (size_t i = 0; i < n; i++)
                buf [i] = (float) (0.3 * testsig_rng_gauss (&rng));
            break;
        case REF_MIX: {
            //  the generated mix is stereo; other layouts repeat its channels
            audio_t a;
            master_mix_generate (&a, (double) frames / rate, rate, 2, seed);
            assert_true ((size_t) a.frames == frames);
            for (size_t i = 0; i < frames; i++)
                for (int c = 0; c < ch; c++)
                    buf [i * (size_t) ch + (size_t) c] = a.data [2 * i + (size_t) (c % 2)];
            audio_free (&a);
            break;
        }
        case REF_SQUARE:
            for (size_t i = 0; i < frames; i++)
                for (int c = 0; c < ch; c++)
                    buf [i * (size_t) ch + (size_t) c] =
                        (i / (size_t) (17 + 9 * c)) % 2 ? -0.9f : 0.9f;
            break;
        case REF_BURST:
            //  silence long enough for the release to settle, a loud burst
            //  of 30 ms, silence again, a second burst at the end
            memset (buf, 0, n * sizeof (float));
            for (size_t i = frames / 3; i < frames / 3 + (size_t) rate * 3 / 100 && i < frames; i++)
                for (int c = 0; c < ch; c++)
                    buf [i * (size_t) ch + (size_t) c] = (float) (1.5 * testsig_rng_gauss (&rng));
            for (size_t i = frames - frames / 20; i < frames; i++)
                for (int c = 0; c < ch; c++)
                    buf [i * (size_t) ch + (size_t) c] = (float) (0.8 * testsig_rng_gauss (&rng));
            break;
        case REF_PEAK:
            //  a quiet sine and one full-scale sample in one channel
            for (size_t i = 0; i < frames; i++)
                for (int c = 0; c < ch; c++)
                    buf [i * (size_t) ch + (size_t) c] =
                        (float) (0.01 * sin (2.0 * M_PI * 440.0 * (double) i / rate));
            buf [(frames / 2) * (size_t) ch + (size_t) (ch - 1)] = 1.0f;
            break;
        case REF_HOSTILE:
            for (size_t i = 0; i < n; i++) {
                double u = testsig_rng_uniform (&rng);
                float v = (float) (0.5 * testsig_rng_gauss (&rng));
                buf [i] = u < 0.0005 ? NAN : u < 0.001 ? INFINITY : u < 0.0015 ? -INFINITY
                        : u < 0.002 ? FLT_MAX : u < 0.01 ? v * 1e-39f : u < 0.02 ? 0.0f : v;
            }
            break;
    }
}

//  Runs one case through the limiter and the reference, in the mode
//  block (0: limiter_run_gain on the whole file; SIZE_MAX: limiter_run
//  in place on the scaled signal; else limiter_process in blocks of that
//  many frames, in place, then limiter_drain), with the kernel table ops;
//  asserts identical bytes and statistics.
static void
s_ref_compare (const ref_case_t *rc, const float *src, size_t frames, const dsp_ops_t *ops,
               size_t block)
{
    const int ch = rc->channels;
    limiter_cfg_t cfg = { .enabled = true, .ceiling_dbtp = rc->ceiling_dbtp,
                          .lookahead_ms = rc->lookahead_ms, .release_ms = rc->release_ms };
    limiter_t *lim = limiter_new (&cfg, rc->rate_hz, ch);
    ref_limiter_t *ref = ref_limiter_new (&cfg, rc->rate_hz, ch);
    assert_non_null (lim);
    assert_non_null (ref);
    limiter_set_ops (lim, ops);
    ref_limiter_set_ops (ref, ops);
    const size_t lat = (size_t) limiter_latency_frames (lim);
    assert_int_equal (lat, ref_limiter_latency_frames (ref));
    const float gain = (float) pow (10.0, rc->gain_db / 20.0);
    const bool stream = block && block != SIZE_MAX;
    const size_t total = stream ? frames + lat : frames;
    float *a = ku_alloc (total, ch), *b = ku_alloc (total, ch);
    if (!block) {
        limiter_run_gain (lim, a, src, frames, gain);
        ref_limiter_run_gain (ref, b, src, frames, gain);
    }
    else if (!stream) {
        dsp_ops ()->scale (a, src, gain, frames * (size_t) ch);
        memcpy (b, a, frames * (size_t) ch * sizeof (float));
        limiter_run (lim, a, frames);
        ref_limiter_run (ref, b, frames);
    }
    else {
        dsp_ops ()->scale (a, src, gain, frames * (size_t) ch);
        memcpy (b, a, frames * (size_t) ch * sizeof (float));
        for (size_t pos = 0; pos < frames; pos += block) {
            size_t k = frames - pos < block ? frames - pos : block;
            limiter_process (lim, a + pos * (size_t) ch, a + pos * (size_t) ch, k);
            ref_limiter_process (ref, b + pos * (size_t) ch, b + pos * (size_t) ch, k);
        }
        limiter_drain (lim, a + frames * (size_t) ch, lat);
        ref_limiter_drain (ref, b + frames * (size_t) ch, lat);
    }
    dyn_stats_t sa, sb;
    limiter_stats (lim, &sa);
    ref_limiter_stats (ref, &sb);
    size_t diff = 0;
    for (size_t i = 0; i < total * (size_t) ch; i++)
        if (memcmp (a + i, b + i, sizeof (float)) && diff++ < 3)
            printf ("# sample %zu (frame %zu): %.9g, reference %.9g\n", i, i / (size_t) ch,
                    a [i], b [i]);
    bool same_stats = sa.frames == sb.frames
                   && !memcmp (&sa.gr_sum_db, &sb.gr_sum_db, sizeof (double))
                   && !memcmp (&sa.gr_max_db, &sb.gr_max_db, sizeof (double));
    if (diff || !same_stats)
        printf ("# FAIL %s, %d ch, %d Hz, %+.1f dB, ceiling %.1f, la %.1f ms, rel %.0f ms, "
                "%s, block %zu: %zu samples differ; GR sum %.17g / %.17g, max %.17g / %.17g\n",
                s_ref_names [rc->kind], ch, rc->rate_hz, rc->gain_db, rc->ceiling_dbtp,
                rc->lookahead_ms, rc->release_ms, ops->isa_name, block, diff, sa.gr_sum_db,
                sb.gr_sum_db, sa.gr_max_db, sb.gr_max_db);
    assert_int_equal (diff, 0);
    assert_true (same_stats);
    limiter_destroy (&lim);
    ref_limiter_destroy (&ref);
    free (a);
    free (b);
}

//  The limiter equals the reference implementation bit for bit, output
//  and statistics, for every case, kernel table and block size.
static void
test_matches_reference (void **state)
{
    static const ref_case_t cases [] = {
        //  kind        ch  rate    s     gain   ceil  la    rel
        { REF_NOISE,     2, 44100, 0.6,   0.0, -1.0, 2.0,   80.0 },
        { REF_NOISE,     2, 44100, 0.6,   6.0, -1.0, 2.0,   80.0 },
        { REF_NOISE,     2, 44100, 0.6,  12.0, -1.0, 2.0,   80.0 },
        { REF_NOISE,     2, 44100, 0.6,  24.0, -3.0, 0.5,    5.0 },
        { REF_NOISE,     2, 44100, 0.6, -12.0, -1.0, 2.0,   80.0 },
        { REF_MIX,       2, 44100, 2.0,   7.5, -1.0, 2.0,   80.0 },
        { REF_MIX,       2, 44100, 2.0,  10.0, -1.0, 5.0,   10.0 },
        { REF_MIX,       1, 44100, 1.0,   6.0, -2.0, 2.0,   40.0 },
        { REF_MIX,       2, 96000, 1.0,   7.5, -1.0, 2.0,   80.0 },
        { REF_MIX,       2, 192000, 0.5,  7.5, -1.0, 2.0,   80.0 },
        { REF_SQUARE,    2, 44100, 0.5,   0.0, -1.0, 2.0,   80.0 },
        { REF_SQUARE,    6, 48000, 0.4,   3.0, -6.0, 1.0,    2.0 },
        { REF_BURST,     2, 44100, 1.0,   0.0, -1.0, 2.0,    5.0 },
        { REF_BURST,     1, 96000, 1.0,   6.0, -1.0, 20.0,   1.0 },
        { REF_BURST,     6, 192000, 0.6,  0.0, -1.0, 2.0,    3.0 },
        { REF_PEAK,      2, 44100, 1.0,   0.0, -1.0, 2.0,   10.0 },
        { REF_PEAK,      1, 192000, 0.5,  3.0,  0.0, 0.5, 2000.0 },
        { REF_NOISE,     6, 96000, 0.3,  10.0, -1.0, 2.0,   80.0 },
        { REF_NOISE,     1, 192000, 0.3,  6.0, -1.0, 3.0,   50.0 },
        { REF_HOSTILE,   2, 44100, 0.3,   0.0, -1.0, 2.0,   80.0 },
        { REF_HOSTILE,   3, 96000, 0.2,   6.0, -1.0, 2.0,    5.0 },
    };
    const size_t blocks [] = { 0, SIZE_MAX, 1, 7, 4096 };
    for (size_t k = 0; k < sizeof cases / sizeof cases [0]; k++) {
        const ref_case_t *rc = &cases [k];
        size_t frames = (size_t) lround (rc->seconds * rc->rate_hz);
        float *src = ku_alloc (frames, rc->channels);
        s_ref_signal (src, frames, rc->channels, rc->rate_hz, rc->kind, 1000 + k);
        for (int isa = 0; isa <= (int) dsp_isa_best (); isa++) {
            dsp_ops_t ops;
            dsp_ops_init_isa (&ops, (dsp_isa_t) isa);
            for (size_t j = 0; j < sizeof blocks / sizeof blocks [0]; j++)
                s_ref_compare (rc, src, frames, &ops, blocks [j]);
        }
        printf ("# same as the reference: %s, %d ch, %d Hz, %+.1f dB, %zu frames\n",
                s_ref_names [rc->kind], rc->channels, rc->rate_hz, rc->gain_db, frames);
        free (src);
    }
}

//  Short tracks (up to a little over the latency, where limiter_run
//  drains part of its input), and one limiter reused for several tracks
//  after streaming (limiter_run resets all state): the same bytes and
//  statistics as the reference.
static void
test_reference_edges (void **state)
{
    limiter_cfg_t cfg = { .enabled = true, .ceiling_dbtp = -1.0, .lookahead_ms = 2.0,
                          .release_ms = 30.0 };
    const int chans [] = { 1, 2, 6 };
    for (int ci = 0; ci < 3; ci++) {
        const int ch = chans [ci];
        limiter_t *lim = limiter_new (&cfg, 44100, ch);
        ref_limiter_t *ref = ref_limiter_new (&cfg, 44100, ch);
        assert_non_null (lim);
        assert_non_null (ref);
        const size_t lat = (size_t) limiter_latency_frames (lim);
        const size_t max = 3 * LIMITER_BLOCK_FRAMES;
        float *src = ku_alloc (max, ch), *a = ku_alloc (max, ch), *b = ku_alloc (max, ch);
        s_ref_signal (src, max, ch, 44100, REF_NOISE, 77 + (uint64_t) ch);
        const size_t lens [] = { 0, 1, 2, lat - 1, lat, lat + 1, 2 * lat + 3,
                                 LIMITER_BLOCK_FRAMES + lat, max };
        for (size_t k = 0; k < sizeof lens / sizeof lens [0]; k++)
            for (int g = 0; g < 3; g++) {
                const float gain = g == 0 ? 0.25f : g == 1 ? 2.0f : 8.0f;
                //  leave state behind: stream a block, then run a track
                limiter_process (lim, a, src, 100);
                ref_limiter_process (ref, b, src, 100);
                limiter_run_gain (lim, a, src, lens [k], gain);
                ref_limiter_run_gain (ref, b, src, lens [k], gain);
                assert_memory_equal (a, b, lens [k] * (size_t) ch * sizeof (float));
                dyn_stats_t sa, sb;
                limiter_stats (lim, &sa);
                ref_limiter_stats (ref, &sb);
                assert_true (sa.frames == sb.frames && sa.frames == lens [k]);
                assert_memory_equal (&sa.gr_sum_db, &sb.gr_sum_db, sizeof (double));
                assert_memory_equal (&sa.gr_max_db, &sb.gr_max_db, sizeof (double));
            }
        limiter_destroy (&lim);
        ref_limiter_destroy (&ref);
        free (src);
        free (a);
        free (b);
    }
}

//  The sustained reduction: a 1 kHz sine 6 dB over the ceiling (plus the
//  limiter's margin) all along reads 6 dB (the percentile of 3 s window
//  means); the same length of a quiet sine with a 20 ms burst 10 dB over
//  every second reads the mean reduction (under 1 dB: every window holds
//  three bursts and their release) while the deepest reduction is 10 dB.
static void
test_gr_sustained (void **state)
{
    (void) state;
    const int rate = 48000;
    const int64_t n = 10 * rate;
    float *x = malloc ((size_t) n * 2 * sizeof (float));
    assert_non_null (x);
    limiter_cfg_t cfg = { .enabled = true, .ceiling_dbtp = -1.0, .lookahead_ms = 2.0,
                          .release_ms = 80.0, .max_gr_db = 6.0 };
    limiter_t *lim = limiter_new (&cfg, rate, 2);
    assert_non_null (lim);
    //  BS.1770 true peak of a 1 kHz sine is its amplitude
    double amp = pow (10.0, (-1.0 - LIMITER_MARGIN_DB + 6.0) / 20.0);
    for (int64_t i = 0; i < n; i++)
        x [2 * i] = x [2 * i + 1] = (float) (amp * sin (2.0 * M_PI * 1000.0 * i / rate));
    limiter_run (lim, x, (size_t) n);
    dyn_stats_t st;
    limiter_stats (lim, &st);
    double sus = limiter_gr_sustained_db (lim);
    printf ("steady: sustained %.3f dB, max %.3f dB\n", sus, st.gr_max_db);
    assert_true (fabs (sus - 6.0) < 0.1);

    double quiet = pow (10.0, -12.0 / 20.0), loud = pow (10.0, (-1.0 - LIMITER_MARGIN_DB + 10.0) / 20.0);
    for (int64_t i = 0; i < n; i++) {
        int64_t pos = i % (n / 10);
        double a = pos < rate / 50 ? loud : quiet;
        x [2 * i] = x [2 * i + 1] = (float) (a * sin (2.0 * M_PI * 1000.0 * i / rate));
    }
    limiter_run (lim, x, (size_t) n);
    limiter_stats (lim, &st);
    sus = limiter_gr_sustained_db (lim);
    double mean = st.gr_sum_db / (double) st.frames;
    printf ("bursts: sustained %.3f dB, mean %.3f dB, max %.3f dB\n", sus, mean, st.gr_max_db);
    //  one burst a second: every window holds the same reduction, the mean's
    assert_true (sus < 1.0);
    assert_true (fabs (sus - mean) < 0.1);
    assert_true (st.gr_max_db > 9.5);
    limiter_destroy (&lim);
    free (x);
}

static void
test_bad_config (void **state)
{
    limiter_cfg_t ok = { .enabled = true, .ceiling_dbtp = -1.0, .lookahead_ms = 2.0,
                         .release_ms = 80.0 }, cfg;
    cfg = ok; cfg.ceiling_dbtp = NAN;     assert_null (limiter_new (&cfg, 48000, 2));
    cfg = ok; cfg.ceiling_dbtp = 0.5;     assert_null (limiter_new (&cfg, 48000, 2));
    cfg = ok; cfg.lookahead_ms = 0.1;     assert_null (limiter_new (&cfg, 48000, 2));
    cfg = ok; cfg.release_ms = 0.0;       assert_null (limiter_new (&cfg, 48000, 2));
    assert_null (limiter_new (&ok, 48000, 0));
    assert_null (limiter_new (&ok, 100, 2));
    assert_null (limiter_new (NULL, 48000, 2));
    //  At 8 kHz 0.5 ms is 4 frames, below twice the detector's support:
    //  raised to 2 T - 2 (T = 16 taps per branch at 4x).
    cfg = ok; cfg.lookahead_ms = 0.5;
    limiter_t *lim = limiter_new (&cfg, 8000, 1);
    assert_non_null (lim);
    assert_int_equal (limiter_latency_frames (lim), 2 * 16 - 2);
    limiter_destroy (&lim);
    limiter_destroy (NULL);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_ceiling),
        cmocka_unit_test (test_ceiling_edges),
        cmocka_unit_test (test_transparent_latency),
        cmocka_unit_test (test_silence),
        cmocka_unit_test (test_chunked),
        cmocka_unit_test (test_matches_reference),
        cmocka_unit_test (test_reference_edges),
        cmocka_unit_test (test_bad_config),
        cmocka_unit_test (test_gr_sustained),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
