/*  master_run and the chain: transparency, determinism, block-size
    independence, the loudness cap, mono, rates, fades and bad options.

    - transparency (DESIGN.md quality promise): every stage neutral (EQ
      bands at 0 dB, compressor at ratio 1, flat tonal curve, width 1, 0 dB
      gain, limiter off, or on but never reaching its ceiling) gives the
      input back within -120 dBFS, also after a 32-bit float WAV round trip;
    - the fast loudness meter agrees with libebur128 within 0.01 LU
      (integrated) and 0.05 LU (loudness range);
    - chain_process in random chunk sizes equals one block (seed printed);
    - two runs give identical samples, and identical files (byte compare);
    - a target that would need more than max_gr_db of limiting stops at
      the cap (gr_capped, gain reduction about max_gr_db);
    - an album plan's targets outside the range a job may ask for (one
      album gain puts a loud short track at -3 LUFS next to a long quiet
      one, or a quiet interlude at -50 LUFS) master: the loud one stops
      at the cap, flagged, the quiet one lands on its target;
    - the delivered output's 400 ms blocks handed back for the album
      stage are those libebur128 reads on the output (within 0.01 LU);
    - mono stays mono; 8 kHz and 384 kHz sources either master or are
      refused with a reason;
    - out-of-range options are refused before processing, naming the
      JSON path (spec_check_chain);
    - a silent track's plan (no target, 0 dB): digital silence comes out
      as silence (24-bit) or dither only (16-bit), at the plan's rate,
      fades applied; a very quiet track (under the -70 LUFS gate) is not
      raised toward any target;
    - true-peak overs near the Nyquist frequency (three 20 ms bursts at
      21 kHz in a mix) are corrected where they are: the delivered true
      peak (accurate check, every interval refined) lands under the
      ceiling and within 0.5 dB of it, the bursts add at most 40 ms of
      corrections each, and the limiter's ceiling, its mean reduction and
      the loudness range stay those of the same mix without the bursts
      (the same, within 0.05 dB and 0.15 LU): the rest of the track is not
      limited harder for them (lowering the whole track's ceiling, as
      before, took 0.15 dB off it here: mean reduction +0.054 dB, range
      -0.17 LU).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ebur128.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "worker/chain.h"
#include "worker/master.h"
#include "worker/dsp/dither.h"
#include "worker/dsp/tp_check.h"
#include "common/fade.h"
#include "master_mix.h"
#include "testsig.h"

//  libebur128 integrated loudness of interleaved audio.
static double
s_ebur (const audio_t *a, double *lra_lu)
{
    ebur128_state *st = ebur128_init ((unsigned) a->channels, (unsigned long) a->rate_hz,
                                      EBUR128_MODE_I | EBUR128_MODE_LRA);
    if (a->channels == 1)
        ebur128_set_channel (st, 0, EBUR128_DUAL_MONO);     //  as the worker measures mono
    ebur128_add_frames_float (st, a->data, (size_t) a->frames);
    double v;
    ebur128_loudness_global (st, &v);
    ebur128_loudness_range (st, lra_lu);
    ebur128_destroy (&st);
    return v;
}

static void
test_transparency (void **state)
{
    audio_t in, out;
    testsig_alloc (&in, 48000 * 3, 2, 48000);
    testsig_add_noise (&in, 0.1, 11);
    testsig_add_sine (&in, 440.0, 0.3, 0.0, 0, in.frames);
    master_opts_t o;
    master_report_t rep;
    char err [512];

    //  every stage off
    master_opts_default (&o, NULL, in.rate_hz);
    assert_true (chain_is_neutral (&o.chain, NULL));
    assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
    assert_int_equal (out.frames, in.frames);
    assert_memory_equal (out.data, in.data, (size_t) in.frames * 2 * sizeof (float));
    audio_free (&out);

    //  every stage on but neutral
    o.chain.n_eq = 3;
    for (int i = 0; i < 3; i++)
        o.chain.eq [i] = (eq_band_t) { EQ_PEAK, 100.0 * (i + 1) * (i + 1), 0.0, 1.0 };
    o.chain.compressor = (comp_cfg_t) { true, -20.0, 1.0, 10.0, 100.0, 6.0, 0.0, false, 0.0 };
    o.chain.stereo.width = 1.0;
    o.has_tonal = true;
    memset (o.tonal_db, 0, sizeof o.tonal_db);
    assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
    double worst = 0;
    for (size_t i = 0; i < (size_t) in.frames * 2; i++)
        worst = fmax (worst, fabs (out.data [i] - in.data [i]));
    double worst_db = 20 * log10 (worst + 1e-30);
    printf ("neutral stages: max difference %.1f dBFS (limit -120)\n", worst_db);
    assert_true (worst_db < -120.0);

    //  the limiter on but never reaching its ceiling is exact too
    audio_t lim;
    o.chain.limiter.enabled = true;
    o.chain.limiter.ceiling_dbtp = 0.0;
    assert_int_equal (master_run (&in, &o, &lim, &rep, err, sizeof err), 0);
    worst = 0;
    for (size_t i = 0; i < (size_t) in.frames * 2; i++)
        worst = fmax (worst, fabs (lim.data [i] - in.data [i]));
    printf ("neutral stages + idle limiter: max difference %.1f dBFS\n", 20 * log10 (worst + 1e-30));
    assert_true (20 * log10 (worst + 1e-30) < -120.0);
    assert_true (rep.gr_max_db == 0.0);
    audio_free (&lim);

    //  float WAV round trip
    char path [1200];
    snprintf (path, sizeof path, "%s/neutral.wav", testsig_tmpdir ("master"));
    assert_int_equal (audio_write (path, &out, OUT_WAV, 32, NULL, err, sizeof err), 0);
    audio_t back;
    assert_int_equal (audio_read (path, &back, err, sizeof err), 0);
    worst = 0;
    for (size_t i = 0; i < (size_t) in.frames * 2; i++)
        worst = fmax (worst, fabs (back.data [i] - in.data [i]));
    assert_true (20 * log10 (worst + 1e-30) < -120.0);
    audio_free (&back);
    audio_free (&out);
    audio_free (&in);
}

static void
test_meter_vs_libebur128 (void **state)
{
    static const int rates [] = { 44100, 48000, 96000 };
    for (int r = 0; r < 3; r++)
        for (int ch = 1; ch <= 2; ch++) {
            audio_t a;
            master_mix_generate (&a, 10.0, rates [r], ch, 3);
            double own = master_loudness_lufs (a.data, a.frames, a.channels, a.rate_hz);
            double ref_lra, ref = s_ebur (&a, &ref_lra);
            double own2, own_lra;
            master_measure_loudness (a.data, a.frames, a.channels, a.rate_hz, &own2, &own_lra);
            printf ("%d Hz %d ch: own %.4f LUFS, LRA %.3f LU; libebur128 %.4f LUFS, LRA %.3f LU\n",
                    rates [r], ch, own, own_lra, ref, ref_lra);
            assert_true (fabs (own - ref) < 0.01);
            assert_true (own2 == own);
            assert_true (fabs (own_lra - ref_lra) < 0.05);
            audio_free (&a);
        }
    float silence [48000 * 2] = { 0 };
    assert_true (isinf (master_loudness_lufs (silence, 48000, 2, 48000)));
}

static void
test_chunked_chain (void **state)
{
    chain_cfg_t c;
    master_opts_t o;
    master_opts_default (&o, profile_find ("spotify"), 44100);
    c = o.chain;
    c.n_eq = 2;
    c.eq [0] = (eq_band_t) { EQ_LOWSHELF, 120.0, 2.0, 0.8 };
    c.eq [1] = (eq_band_t) { EQ_PEAK, 3000.0, -1.5, 1.2 };
    c.multiband.enabled = true;
    c.stereo = (stereo_cfg_t) { 1.2, 100.0 };
    c.gain_db = 6.0;
    chain_resolve_dynamics (&c, -20.0);          //  the mix's loudness, about
    double tonal [MEASURE_BANDS];
    for (int i = 0; i < MEASURE_BANDS; i++)
        tonal [i] = 1.5 * sin (i * 0.4);
    char err [256];
    audio_t a, b;
    master_mix_generate (&a, 3.0, 44100, 2, 5);
    master_mix_generate (&b, 3.0, 44100, 2, 5);
    chain_t *c1 = chain_new (&c, tonal, -1.0, 44100, 2, err, sizeof err);
    chain_t *c2 = chain_new (&c, tonal, -1.0, 44100, 2, err, sizeof err);
    assert_non_null (c1);
    assert_non_null (c2);
    assert_true (chain_latency_frames (c1) > 0);
    chain_process (c1, a.data, (size_t) a.frames);
    unsigned seed = 1234;
    printf ("chunk seed %u\n", seed);
    srand (seed);
    size_t pos = 0;
    while (pos < (size_t) b.frames) {
        size_t step = 1 + (size_t) rand () % 9000;
        if (step > (size_t) b.frames - pos)
            step = (size_t) b.frames - pos;
        chain_process (c2, b.data + 2 * pos, step);
        pos += step;
    }
    assert_memory_equal (a.data, b.data, (size_t) a.frames * 2 * sizeof (float));
    chain_destroy (&c1);
    chain_destroy (&c2);
    assert_null (c1);
    audio_free (&a);
    audio_free (&b);
}

static void
test_deterministic (void **state)
{
    audio_t in, o1, o2;
    master_mix_generate (&in, 6.0, 44100, 2, 9);
    master_opts_t o;
    master_opts_default (&o, profile_find ("cd"), 44100);
    o.chain.noise_shaping = true;
    o.has_tonal = true;
    for (int i = 0; i < MEASURE_BANDS; i++)
        o.tonal_db [i] = 0.1 * i - 1.0;
    master_report_t r1, r2;
    char err [256];
    assert_int_equal (master_run (&in, &o, &o1, &r1, err, sizeof err), 0);
    assert_int_equal (master_run (&in, &o, &o2, &r2, err, sizeof err), 0);
    assert_int_equal (o1.frames, o2.frames);
    assert_memory_equal (o1.data, o2.data, (size_t) o1.frames * 2 * sizeof (float));
    //  and the files, byte for byte
    char p1 [1200], p2 [1200];
    const char *dir = testsig_tmpdir ("master");
    snprintf (p1, sizeof p1, "%s/det1.wav", dir);
    snprintf (p2, sizeof p2, "%s/det2.wav", dir);
    assert_int_equal (audio_write (p1, &o1, OUT_WAV, 16, NULL, err, sizeof err), 0);
    assert_int_equal (audio_write (p2, &o2, OUT_WAV, 16, NULL, err, sizeof err), 0);
    FILE *f1 = fopen (p1, "rb"), *f2 = fopen (p2, "rb");
    int c1, c2;
    long n = 0;
    do {
        c1 = fgetc (f1);
        c2 = fgetc (f2);
        assert_int_equal (c1, c2);
        n++;
    } while (c1 != EOF);
    fclose (f1);
    fclose (f2);
    printf ("two runs: %ld identical bytes\n", n - 1);
    //  16-bit grid: writing is lossless
    audio_t back;
    assert_int_equal (audio_read (p1, &back, err, sizeof err), 0);
    assert_memory_equal (back.data, o1.data, (size_t) o1.frames * 2 * sizeof (float));
    audio_free (&back);
    //  master_run_take works in the caller's buffer: the same samples,
    //  the buffer taken (NULL), the format kept
    audio_t o3;
    master_report_t r3;
    assert_int_equal (master_run_take (&in, &o, &o3, &r3, err, sizeof err), 0);
    assert_null (in.data);
    assert_int_equal (in.channels, 2);
    assert_int_equal (o3.frames, o1.frames);
    assert_memory_equal (o3.data, o1.data, (size_t) o1.frames * 2 * sizeof (float));
    assert_true (r3.out_lufs == r1.out_lufs && r3.gain_db == r1.gain_db);
    //  and it frees the buffer on failure too (ASan: no leak)
    audio_t bad;
    master_mix_generate (&bad, 1.0, 44100, 2, 3);
    master_opts_t ob = o;
    ob.chain.compressor.enabled = true;
    ob.chain.compressor.ratio = 0.0;
    assert_int_equal (master_run_take (&bad, &ob, &o3, &r3, err, sizeof err), MF_ERR_INVALID);
    assert_null (bad.data);
    audio_free (&in);
    audio_free (&o1);
    audio_free (&o2);
    audio_free (&o3);
}

static void
test_gr_cap (void **state)
{
    audio_t in, out;
    master_mix_generate (&in, 12.0, 44100, 2, 4);
    master_opts_t o;
    master_opts_default (&o, profile_find ("spotify"), 44100);
    o.target_lufs = -6.0;                  //  far louder than 6 dB of limiting allows
    o.chain.limiter.max_gr_db = 4.0;
    master_report_t rep;
    char err [256];
    assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
    printf ("capped: out %.2f LUFS, gr max %.2f dB, sustained %.2f dB (cap 4), capped %d\n",
            rep.out_lufs, rep.gr_max_db, rep.gr_sustained_db, rep.gr_capped);
    assert_true (rep.gr_capped);
    assert_true (rep.out_lufs < -6.5);
    //  the cap holds the sustained reduction at max_gr_db
    assert_true (fabs (rep.gr_sustained_db - 4.0) < 0.1);
    assert_true (rep.gr_max_db >= rep.gr_sustained_db);
    assert_true (rep.out_true_peak_dbtp <= -1.0);
    audio_free (&out);

    //  the lowest ceiling the spec allows still builds its limiter
    master_opts_default (&o, profile_find ("spotify"), 44100);
    o.chain.limiter.ceiling_dbtp = -20.0;
    o.target_lufs = -30.0;
    assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
    assert_true (rep.out_true_peak_dbtp <= -20.0);
    audio_free (&out);
    audio_free (&in);
}

//  A clean mix with ten 20 ms bursts near the top of the band (clicks
//  in the source) that need far more than max_gr_db for those few
//  milliseconds: the cap follows sustained limiting, so the track
//  reaches its target (within 0.1 LU) and is not flagged. A mix that
//  needs more than max_gr_db all along still stops at the cap: its
//  sustained reduction is max_gr_db and it is flagged.
static void
test_gr_cap_clicks (void **state)
{
    (void) state;
    audio_t in, out;
    master_mix_generate (&in, 20.0, 44100, 2, 5);
    master_mix_add_bursts (&in, 10, 0.020, 19000.0, 0.9);
    master_opts_t o;
    master_opts_default (&o, profile_find ("spotify"), 44100);
    master_report_t rep;
    char err [256];
    assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
    double lra;
    double ref = s_ebur (&out, &lra);
    printf ("clicks: out %.3f LUFS (libebur128 %.3f), gr max %.2f sustained %.2f dB, "
            "capped %d, tp %.2f\n", rep.out_lufs, ref, rep.gr_max_db, rep.gr_sustained_db,
            rep.gr_capped, rep.out_true_peak_dbtp);
    assert_true (rep.gr_max_db > o.chain.limiter.max_gr_db);   //  the clicks need it
    assert_false (rep.gr_capped);
    assert_true (fabs (ref - o.target_lufs) <= 0.1);
    assert_true (rep.out_true_peak_dbtp <= o.ceiling_dbtp);
    audio_free (&out);
    audio_free (&in);
}

//  Masters a with spotify's options: report and accurate true peak.
static void
s_master_tp (const audio_t *a, master_report_t *rep, double *tp, double *lra)
{
    master_opts_t o;
    master_opts_default (&o, profile_find ("spotify"), a->rate_hz);
    audio_t out;
    char err [256];
    assert_int_equal (master_run (a, &o, &out, rep, err, sizeof err), 0);
    *tp = tp_check_max_dbtp (out.data, out.frames, out.channels, out.rate_hz);
    s_ebur (&out, lra);
    audio_free (&out);
}

static void
test_tp_local (void **state)
{
    (void) state;
    audio_t clean, bursts;
    master_mix_generate (&clean, 30.0, 44100, 2, 1);
    master_mix_generate (&bursts, 30.0, 44100, 2, 1);
    master_mix_add_bursts (&bursts, 3, 0.020, 21000.0, 0.5);
    master_report_t rc, rb;
    double tp_c, tp_b, lra_c, lra_b;
    s_master_tp (&clean, &rc, &tp_c, &lra_c);
    s_master_tp (&bursts, &rb, &tp_b, &lra_b);
    printf ("without bursts: gain %.3f dB, gr mean %.3f dB, LRA %.2f LU, true peak %.3f dBTP, "
            "corrected %.1f ms\n", rc.gain_db, rc.gr_avg_db, lra_c, tp_c, rc.tp_fixed_ms);
    printf ("with bursts:    gain %.3f dB, gr mean %.3f dB, LRA %.2f LU, true peak %.3f dBTP, "
            "corrected %.1f ms\n", rb.gain_db, rb.gr_avg_db, lra_b, tp_b, rb.tp_fixed_ms);
    assert_true (tp_b <= -1.0 - 0.05 + 1e-3 && tp_b >= -1.5);
    //  each burst: 20 ms, its edges, the interpolator's reach and two ramps
    assert_true (rb.tp_fixed_ms > rc.tp_fixed_ms && rb.tp_fixed_ms - rc.tp_fixed_ms <= 3 * 40.0);
    assert_true (rb.limiter_ceiling_dbtp == rc.limiter_ceiling_dbtp);
    assert_true (fabs (rb.gr_avg_db - rc.gr_avg_db) <= 0.05);
    assert_true (fabs (lra_b - lra_c) <= 0.15);
    audio_free (&clean);
    audio_free (&bursts);
}

//  A reload hook (master_opts_t.reload) over a kept copy of the input,
//  counting its calls; with changed set, it gives the input one frame
//  short (a source that changed under the master).
typedef struct {
    const audio_t *in;
    int            calls;
    bool           changed;
} s_again_t;

//  A copy of in in a buffer of its own (for master_run_take).
static int
s_copy (const audio_t *in, audio_t *out)
{
    *out = *in;
    size_t n = (size_t) in->frames * (size_t) in->channels;
    out->data = samples_alloc (n);
    if (!out->data)
        return MF_ERR_NOMEM;
    memcpy (out->data, in->data, n * sizeof (float));
    return 0;
}

static int
s_again (void *arg, audio_t *out, char *err, size_t err_size)
{
    s_again_t *a = arg;
    a->calls++;
    if (s_copy (a->in, out)) {
        snprintf (err, err_size, "out of memory");
        return MF_ERR_NOMEM;
    }
    out->frames -= a->changed;
    return 0;
}

//  The render the loop stops on, made over the track when the input can
//  be read again, is the delivered output: the same samples and report
//  as the master that renders it a second time, one render fewer; where
//  the loop goes on from it (the corrections cost it loudness), the
//  input is read again and the outcome is still the same. Mixes with
//  near-Nyquist bursts (corrections), for spotify, for cd (16-bit,
//  dither) with fades, and for apple; some of them take the loop on from
//  the corrected render (printed), and the test asks that some do.
static void
test_delivered_in_place (void **state)
{
    (void) state;
    static const char *const profiles [] = { "spotify", "cd", "apple" };
    int stood = 0, again = 0;
    for (int seed = 1; seed <= 4; seed++)
        for (int p = 0; p < 3; p++) {
            audio_t in;
            //  a few short bursts in half a minute (their corrections cost
            //  the loudness little), and more and longer ones in 10 s
            //  for the last seeds (they cost it more than the loop's
            //  tolerance)
            master_mix_generate (&in, seed <= 2 ? 30.0 : 10.0, 44100, 2, (uint64_t) seed);
            if (seed <= 2)
                master_mix_add_bursts (&in, 2, 0.005, 21000.0, 0.5);
            else
                master_mix_add_bursts (&in, 4, 0.040, 20500.0, 0.7);
            master_opts_t o;
            master_opts_default (&o, profile_find (profiles [p]), 44100);
            if (p == 1) {
                o.fade_in_s = 0.5;
                o.fade_out_s = 2.0;
            }
            char err [256];
            audio_t ref, got, copy;
            master_report_t rr, rg;
            master_blocks_t br = { 0 }, bg = { 0 };
            //  without a way to read it again: every render keeps the input
            assert_int_equal (s_copy (&in, &copy), 0);
            o.blocks = &br;
            assert_int_equal (master_run_take (&copy, &o, &ref, &rr, err, sizeof err), 0);
            s_again_t a = { .in = &in };
            assert_int_equal (s_copy (&in, &copy), 0);
            o.blocks = &bg;
            o.reload = s_again;
            o.reload_arg = &a;
            assert_int_equal (master_run_take (&copy, &o, &got, &rg, err, sizeof err), 0);
            printf ("seed %d %-7s: %d renders, %d with the render over the input, "
                    "read again %d time(s)\n", seed, profiles [p], rr.renders, rg.renders,
                    a.calls);
            assert_int_equal (got.frames, ref.frames);
            assert_memory_equal (got.data, ref.data,
                                 (size_t) ref.frames * 2 * sizeof (float));
            assert_true (rg.out_lufs == rr.out_lufs && rg.out_lra_lu == rr.out_lra_lu);
            assert_true (rg.out_true_peak_dbtp == rr.out_true_peak_dbtp);
            assert_true (rg.gain_db == rr.gain_db && rg.gr_max_db == rr.gr_max_db
                         && rg.gr_avg_db == rr.gr_avg_db);
            assert_true (rg.tp_fixed_ms == rr.tp_fixed_ms
                         && rg.loop_iterations == rr.loop_iterations);
            assert_true (rg.comp_gr_max_db == rr.comp_gr_max_db);
            assert_int_equal (bg.n, br.n);
            assert_memory_equal (bg.lufs, br.lufs, br.n * sizeof (float));
            //  one render fewer where it stood; as many where it was read again
            if (a.calls == 0 && rg.renders == rr.renders - 1)
                stood++;
            else {
                assert_true (a.calls > 0);
                assert_true (rg.renders == rr.renders);
                again++;
            }
            free (br.lufs);
            free (bg.lufs);
            audio_free (&ref);
            audio_free (&got);
            //  a source that reads again otherwise fails the master, saying so
            if (a.calls > 0) {
                s_again_t bad = { .in = &in, .changed = true };
                o.reload_arg = &bad;
                o.blocks = NULL;
                assert_int_equal (s_copy (&in, &copy), 0);
                int rc = master_run_take (&copy, &o, &got, &rg, err, sizeof err);
                printf ("  read again changed: rc %d: %s\n", rc, err);
                assert_int_equal (rc, MF_ERR_IO);
                assert_non_null (strstr (err, "it changed"));
                assert_null (copy.data);
            }
            audio_free (&in);
        }
    printf ("%d masters delivered the render the loop stopped on, %d read the input again\n",
            stood, again);
    assert_true (stood >= 6);
    assert_true (again >= 3);
}

static void
test_mono_rates_fades (void **state)
{
    char err [256];
    master_report_t rep;
    master_opts_t o;
    audio_t in, out;
    master_mix_generate (&in, 8.0, 48000, 1, 2);
    master_opts_default (&o, profile_find ("apple"), 48000);
    o.fade_in_s = 1.0;
    o.fade_out_s = 0.5;
    assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
    assert_int_equal (out.channels, 1);
    assert_int_equal (out.frames, in.frames);
    assert_true (out.data [0] == 0.0f);
    assert_true (out.data [out.frames - 1] == 0.0f);
    audio_free (&out);
    audio_free (&in);

    static const int rates [] = { 8000, 22050, 384000 };
    for (int r = 0; r < 3; r++) {
        master_mix_generate (&in, 2.0, rates [r], 2, 2);
        master_opts_default (&o, profile_find ("hires"), rates [r]);
        int rc = master_run (&in, &o, &out, &rep, err, sizeof err);
        printf ("%d Hz source -> %d Hz: rc %d %s\n", rates [r], o.out_rate_hz, rc, rc ? err : "");
        if (rc == 0) {
            assert_int_equal (out.rate_hz, o.out_rate_hz);
            assert_true (rep.out_true_peak_dbtp <= o.ceiling_dbtp);
            audio_free (&out);
        }
        else
            assert_true (strlen (err) > 10);
        audio_free (&in);
    }
}

//  The album policies give every track the album's gain, so a track's
//  planned loudness can lie outside the -40 .. -5 LUFS a job may ask for:
//  a loud track beside a long quiet one (its plan -3 LUFS), a quiet
//  interlude (-50 LUFS). Both master: the first stops at the limiter's
//  cap and says so, the second lands on its target.
static void
test_album_plan_targets (void **state)
{
    (void) state;
    audio_t in, out;
    master_mix_generate (&in, 8.0, 44100, 2, 6);
    double in_lufs = master_loudness_lufs (in.data, in.frames, 2, 44100);
    double targets [] = { -3.0, -50.0 };
    for (int k = 0; k < 2; k++) {
        master_opts_t o;
        master_opts_default (&o, profile_find ("spotify"), 44100);
        o.target_lufs = targets [k];
        o.gain_db = targets [k] - in_lufs;          //  as the planner gives it
        master_report_t rep;
        char err [256] = "";
        int rc = master_run (&in, &o, &out, &rep, err, sizeof err);
        if (rc)
            fail_msg ("plan target %.1f LUFS refused: %s", targets [k], err);
        printf ("  plan %.1f LUFS: out %.2f LUFS, %.2f dBTP, capped %d\n", targets [k],
                rep.out_lufs, rep.out_true_peak_dbtp, rep.gr_capped);
        assert_true (rep.out_true_peak_dbtp <= -1.0);
        if (k == 0)
            assert_true (rep.gr_capped && rep.out_lufs < -5.0);
        else
            assert_true (!rep.gr_capped && fabs (rep.out_lufs - targets [k]) < 0.1);
        audio_free (&out);
    }
    audio_free (&in);
}

//  The delivered output's blocks (opts.blocks, what the album stage
//  gates the album on) are those libebur128 reads on the output: its
//  momentary loudness after every 100 ms is the 400 ms block ending
//  there. Both ways the master takes them: from the loop's last render
//  (24-bit, no fades) and from the delivered render measured again
//  (16-bit with dither, and fades). Within 0.01 LU for every block over
//  the absolute gate; the same count.
static void
test_output_blocks (void **state)
{
    (void) state;
    audio_t in, out;
    master_mix_generate (&in, 12.0, 44100, 2, 7);
    const char *profiles [] = { "spotify", "cd" };
    for (int k = 0; k < 2; k++) {
        master_opts_t o;
        master_opts_default (&o, profile_find (profiles [k]), 44100);
        if (k == 1) {
            o.fade_in_s = 0.5;
            o.fade_out_s = 1.0;
        }
        master_blocks_t blocks = { NULL, 0 };
        o.blocks = &blocks;
        master_report_t rep;
        char err [256] = "";
        assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
        ebur128_state *st = ebur128_init (2, (unsigned long) out.rate_hz, EBUR128_MODE_M);
        const int64_t hop = out.rate_hz / 10;
        size_t n = 0;
        double worst = 0.0;
        for (int64_t h = 0; (h + 1) * hop <= out.frames; h++) {
            ebur128_add_frames_float (st, out.data + h * hop * 2, (size_t) hop);
            if (h < 3)
                continue;
            double m;
            ebur128_loudness_momentary (st, &m);
            assert_true (n < blocks.n);
            if (m > -70.0)
                worst = fmax (worst, fabs (blocks.lufs [n] - m));
            else
                assert_true (blocks.lufs [n] < -69.9f);
            n++;
        }
        ebur128_destroy (&st);
        printf ("  %s: %zu blocks, largest difference to libebur128 %.4f LU\n", profiles [k],
                blocks.n, worst);
        assert_int_equal (n, blocks.n);
        assert_true (worst <= 0.01);
        free (blocks.lufs);
        audio_free (&out);
    }
    audio_free (&in);
}

//  The per-track file around a master (master.h, file_*): the loop lands
//  the file, its silence and the assembly's fades included, on the
//  target, and the master's reading is the file's. For each case the file
//  is built here (silence, the master faded by fade_buffer, silence) and
//  read by libebur128: within 0.005 LU of the master's out_lufs and
//  within the loop's 0.05 LU (plus that) of the target. Cases: the
//  pregap and a gap after, whole hops (spotify); a gap after and both
//  fades, linear (cd, dithered); silence before that is not whole 100 ms
//  hops and a gap after shorter than the last hop's rest (spotify); a
//  crossfade into the next track, its last 1.5 s in the next file, under
//  a 2 s fade-out (cd); a file that opens with a crossfade over the track
//  before's tail (noise whose level the plan gives: within 0.02 LU); a
//  master whose silence the assembly trims before the fades (spotify).
static void
test_file_model (void **state)
{
    (void) state;
    audio_t in;
    master_mix_generate (&in, 12.0, 44100, 2, 11);
    struct {
        const char  *profile;
        int64_t      lead, trail, fin, fout;
        fade_curve_t curve;
        int64_t      cut;
    } cases [] = {
        { "spotify", 88200, 88200, 0, 0, FADE_EQUAL_POWER, 0 },
        { "cd", 0, 66150, 22050, 88200, FADE_LINEAR, 0 },
        { "spotify", 99225, 1000, 0, 44100, FADE_SCURVE, 0 },
        { "cd", 0, 0, 0, 88200, FADE_EQUAL_POWER, 66150 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases [0]; k++) {
        master_opts_t o;
        master_opts_default (&o, profile_find (cases [k].profile), 44100);
        o.file_lead_frames = cases [k].lead;
        o.file_trail_frames = cases [k].trail;
        o.file_fade_in_frames = cases [k].fin;
        o.file_fade_out_frames = cases [k].fout;
        o.fade_curve = cases [k].curve;
        o.file_cut_frames = cases [k].cut;
        master_blocks_t blocks = { NULL, 0 };
        o.blocks = &blocks;
        audio_t out;
        master_report_t rep;
        char err [256] = "";
        assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
        double lra, alone = s_ebur (&out, &lra);
        audio_t file;
        testsig_alloc (&file, cases [k].lead + out.frames + cases [k].trail, 2, out.rate_hz);
        memcpy (file.data + cases [k].lead * 2, out.data, (size_t) out.frames * 2 * sizeof (float));
        fade_buffer (file.data + cases [k].lead * 2, out.frames, 2, cases [k].curve,
                     cases [k].fin, cases [k].fout);
        file.frames -= cases [k].cut;                   //  the crossfade is the next file's
        double read = s_ebur (&file, &lra);
        printf ("  %s lead %lld trail %lld cut %lld fades %lld/%lld: master alone %.3f, file %.4f, "
                "master's reading %.4f, target %.1f LUFS\n", cases [k].profile,
                (long long) cases [k].lead, (long long) cases [k].trail,
                (long long) cases [k].cut, (long long) cases [k].fin, (long long) cases [k].fout, alone, read,
                rep.out_lufs, o.target_lufs);
        assert_true (fabs (read - rep.out_lufs) <= 0.005);
        assert_true (fabs (read - o.target_lufs) <= 0.055);
        assert_true (fabs (alone - read) >= 0.02);      //  the file model mattered
        //  the blocks for the album carry the fades, not the silence
        assert_true (blocks.n > 0 && blocks.n <= (size_t) (out.frames / (out.rate_hz / 10)));
        free (blocks.lufs);
        audio_free (&file);
        audio_free (&out);
    }
    audio_free (&in);

    //  a file that opens with a 2 s crossfade over the track before's tail:
    //  noise (stationary: its level known from a long stretch of it) under
    //  the gain out, at -20 LUFS as the plan gives it, the master under the
    //  gain in
    const int64_t xin = 88200;
    audio_t nb;
    testsig_alloc (&nb, 30 * 44100, 2, 44100);
    unsigned long long seed = 77;
    for (int64_t i = 0; i < nb.frames * 2; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        nb.data [i] = (float) ((double) (seed >> 11) / 9007199254740992.0 - 0.5) * 0.2f;
    }
    double lra, nb_lufs = s_ebur (&nb, &lra);
    float gain = (float) pow (10.0, (-20.0 - nb_lufs) / 20.0);
    for (int64_t i = 0; i < nb.frames * 2; i++)
        nb.data [i] *= gain;
    master_opts_t o;
    master_opts_default (&o, profile_find ("spotify"), 44100);
    o.file_xfade_in_frames = xin;
    for (int q = 0; q < FADE_TAIL_SEGMENTS; q++)
        o.file_xfade_in_lufs [q] = -20.0;
    o.file_trail_frames = 44100;
    audio_t out, file;
    master_report_t rep;
    char err [256] = "";
    master_mix_generate (&in, 12.0, 44100, 2, 12);
    assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
    testsig_alloc (&file, out.frames + 44100, 2, 44100);
    for (int64_t f = 0; f < out.frames; f++) {
        double gi = f < xin ? fade_gain (FADE_EQUAL_POWER, (double) f / (double) xin) : 1.0;
        double go = f < xin ? fade_gain (FADE_EQUAL_POWER, 1.0 - (double) f / (double) xin) : 0.0;
        for (int c = 0; c < 2; c++)
            file.data [f * 2 + c] = (float) (gi * out.data [f * 2 + c]
                                             + (f < xin ? go * nb.data [(nb.frames - xin + f) * 2 + c]
                                                        : 0.0));
    }
    double read = s_ebur (&file, &lra), alone = s_ebur (&out, &lra);
    printf ("  crossfade in over a -20 LUFS tail: master alone %.3f, file %.4f, master's "
            "reading %.4f\n", alone, read, rep.out_lufs);
    assert_true (fabs (read - rep.out_lufs) <= 0.02);
    assert_true (fabs (read - o.target_lufs) <= 0.07);
    audio_free (&file);
    audio_free (&out);
    audio_free (&nb);
    audio_free (&in);

    //  trim: the assembly cuts the master's silence (1 s before, 0.5 s
    //  after) and fades what is left in over 1 s and out over 2 s; with
    //  the pregap before it and a gap after
    audio_t mix;
    master_mix_generate (&mix, 10.0, 44100, 2, 13);
    testsig_alloc (&in, mix.frames + 66150, 2, 44100);
    memcpy (in.data + 44100 * 2, mix.data, (size_t) mix.frames * 2 * sizeof (float));
    audio_free (&mix);
    master_opts_default (&o, profile_find ("spotify"), 44100);
    o.file_trim_db = -60.0;
    o.file_lead_frames = 88200;
    o.file_trail_frames = 88200;
    o.file_fade_in_frames = 44100;
    o.file_fade_out_frames = 88200;
    assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
    int64_t first = -1, last = -1;
    const float thr = (float) pow (10.0, -60.0 / 20.0);
    for (int64_t f = 0; f < out.frames; f++)
        if (fabsf (out.data [f * 2]) >= thr || fabsf (out.data [f * 2 + 1]) >= thr) {
            first = first < 0 ? f : first;
            last = f;
        }
    assert_true (first >= 40000 && last < out.frames - 20000);
    const int64_t af = last + 1 - first;
    testsig_alloc (&file, 88200 + af + 88200, 2, 44100);
    memcpy (file.data + 88200 * 2, out.data + first * 2, (size_t) af * 2 * sizeof (float));
    fade_buffer (file.data + 88200 * 2, af, 2, o.fade_curve, 44100, 88200);
    read = s_ebur (&file, &lra);
    alone = s_ebur (&out, &lra);
    printf ("  trimmed %lld + %lld frames, faded, between gaps: master alone %.3f, file %.4f, "
            "master's reading %.4f\n", (long long) first, (long long) (out.frames - 1 - last),
            alone, read, rep.out_lufs);
    assert_true (fabs (read - rep.out_lufs) <= 0.005);
    assert_true (fabs (read - o.target_lufs) <= 0.06);
    audio_free (&file);
    audio_free (&out);
    audio_free (&in);
}

//  The master task's plan for a silent track: no target (NAN) and 0 dB.
//  Digital silence at 48 kHz mastered for cd at the album's 44.1 kHz
//  with fades: dither only (within 6 LSB of zero), one render, no gain;
//  for spotify (24-bit, no dither) exactly zero. Noise at about -80 LUFS
//  (every block under the absolute gate) keeps its level (within 1 dB,
//  the chain's high-pass aside) instead of being pulled to -14 LUFS.
static void
test_silent_plan (void **state)
{
    (void) state;
    char err [256];
    master_report_t rep;
    master_opts_t o;
    audio_t in, out;
    testsig_alloc (&in, 5 * 48000, 2, 48000);
    master_opts_default (&o, profile_find ("cd"), 48000);
    o.target_lufs = NAN;
    o.gain_db = 0.0;
    o.fade_in_s = 1.0;
    o.fade_out_s = 1.0;
    assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
    assert_int_equal (out.rate_hz, 44100);
    assert_true (rep.gain_db == 0.0);
    assert_int_equal (rep.loop_iterations, 1);
    assert_true (rep.gr_max_db == 0.0);
    float peak = 0.0f;
    for (size_t i = 0; i < (size_t) out.frames * 2; i++)
        peak = fmaxf (peak, fabsf (out.data [i]));
    printf ("silence -> cd: peak %.1f LSB, %.1f dBFS\n", peak * 32768.0, 20.0 * log10 (peak + 1e-30));
    //  the default noise-shaped TPDF: 1 LSB of dither and 1/2 of rounding
    //  plus the shaping filter's feedback, at most (1.623 + 0.982 + 0.109)
    //  x 1.5 LSB (dither.h): under 6 LSB
    assert_true (peak <= 6.0f / 32768.0f);
    audio_free (&out);

    master_opts_default (&o, profile_find ("spotify"), 48000);
    o.target_lufs = NAN;
    o.gain_db = 0.0;
    o.fade_in_s = 1.0;
    assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
    for (size_t i = 0; i < (size_t) out.frames * 2; i++)
        assert_true (out.data [i] == 0.0f);
    audio_free (&out);
    audio_free (&in);

    //  very quiet noise: -80 dBFS RMS, not raised
    testsig_alloc (&in, 5 * 44100, 2, 44100);
    testsig_add_noise (&in, testsig_db_to_lin (-80.0), 5);
    master_opts_default (&o, profile_find ("spotify"), 44100);
    o.target_lufs = NAN;
    o.gain_db = 0.0;
    o.fade_in_s = 0.5;
    assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
    double ei = 0.0, eo = 0.0;
    for (size_t i = 0; i < (size_t) in.frames * 2; i++) {
        if (i / 2 < (size_t) (0.5 * 44100))
            continue;                   //  after the fade
        ei += (double) in.data [i] * in.data [i];
        eo += (double) out.data [i] * out.data [i];
    }
    printf ("-80 dBFS noise: level changed by %.2f dB\n", 10.0 * log10 (eo / ei));
    assert_true (fabs (10.0 * log10 (eo / ei)) < 1.0);
    assert_true (out.data [0] == 0.0f);
    audio_free (&out);
    audio_free (&in);
}

//  A 16-bit profile's master handed over in 24 bits (later_bits 16), as
//  the album flow does, on the hard case (near-Nyquist bursts): its true
//  peak keeps room for the assembly's noise-shaped dither, so that the
//  16-bit file it becomes is still under the accurate check's limit.
static void
test_later_bits (void **state)
{
    (void) state;
    audio_t in, out;
    master_mix_generate (&in, 20.0, 44100, 2, 3);
    master_mix_add_bursts (&in, 3, 0.020, 21000.0, 0.5);
    master_opts_t o;
    master_opts_default (&o, profile_find ("cd"), 44100);
    o.out_bits = 24;
    o.later_bits = 16;
    master_report_t rep;
    char err [256];
    assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), 0);
    assert_int_equal (out.bits, 24);
    double tp24 = tp_check_max_dbtp (out.data, out.frames, out.channels, out.rate_hz);
    dither_t *d = dither_new (16, out.channels, DITHER_SHAPED, 7);
    assert_non_null (d);
    dither_process (d, out.data, (size_t) out.frames);
    dither_destroy (&d);
    double tp16 = tp_check_max_dbtp (out.data, out.frames, out.channels, out.rate_hz);
    double room = -20.0 * log10 (1.0 - 12.0 / 32768.0 / pow (10.0, -1.0 / 20.0));
    printf ("24-bit master %.4f dBTP (room for the dither %.4f dB), dithered to 16 bits "
            "%.4f dBTP; limit -1.05\n", tp24, room, tp16);
    assert_true (tp24 <= -1.05 - room + 1e-4);
    assert_true (tp16 <= -1.05 + 1e-4);
    assert_true (fabs (rep.out_lufs - o.target_lufs) <= 0.1);
    audio_free (&out);
    //  a later word that is not shorter is refused
    o.later_bits = 24;
    assert_int_equal (master_run (&in, &o, &out, &rep, err, sizeof err), MF_ERR_INVALID);
    assert_non_null (strstr (err, "later_bits"));
    audio_free (&in);
}

static void
test_bad_options (void **state)
{
    audio_t in, out;
    testsig_alloc (&in, 48000, 2, 48000);
    testsig_add_noise (&in, 0.1, 1);
    master_opts_t o;
    master_report_t rep;
    char err [512];
    struct { const char *what; const char *needle; } cases [] = {
        { "ratio 0", "compressor.ratio" },
        { "attack -1", "compressor.attack_ms" },
        { "ceiling +1", "ceiling" },
        { "eq above nyquist", "eq[0].freq_hz" },
        { "bits 12", "out_bits" },
        { "target +1", "target_lufs" },
    };
    for (int k = 0; k < 6; k++) {
        master_opts_default (&o, profile_find ("spotify"), 48000);
        switch (k) {
            case 0: o.chain.compressor.ratio = 0.0; break;
            case 1: o.chain.compressor.attack_ms = -1.0; break;
            case 2: o.chain.limiter.ceiling_dbtp = 1.0; break;
            case 3: o.chain.n_eq = 1;
                    o.chain.eq [0] = (eq_band_t) { EQ_PEAK, 30000.0, 3.0, 1.0 }; break;
            case 4: o.out_bits = 12; break;
            case 5: o.target_lufs = 1.0; break;
        }
        memset (&out, 0, sizeof out);
        int rc = master_run (&in, &o, &out, &rep, err, sizeof err);
        printf ("%s: rc %d, \"%s\"\n", cases [k].what, rc, err);
        assert_true (rc == MF_ERR_INVALID || rc == MF_ERR_UNSUPPORTED);
        assert_non_null (strstr (err, cases [k].needle));
        assert_null (out.data);
    }
    audio_free (&in);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_transparency),
        cmocka_unit_test (test_meter_vs_libebur128),
        cmocka_unit_test (test_chunked_chain),
        cmocka_unit_test (test_deterministic),
        cmocka_unit_test (test_gr_cap),
        cmocka_unit_test (test_gr_cap_clicks),
        cmocka_unit_test (test_tp_local),
        cmocka_unit_test (test_delivered_in_place),
        cmocka_unit_test (test_mono_rates_fades),
        cmocka_unit_test (test_bad_options),
        cmocka_unit_test (test_later_bits),
        cmocka_unit_test (test_silent_plan),
        cmocka_unit_test (test_album_plan_targets),
        cmocka_unit_test (test_output_blocks),
        cmocka_unit_test (test_file_model),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
