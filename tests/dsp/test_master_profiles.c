/*  Every delivery profile: a generated 60 s music-like mix (tones, noise,
    transients; tests/lib/master_mix.h) is mastered to the profile,
    written in the profile's real format (FLAC 24, WAV 24, WAV 16
    dithered at 44.1 kHz, WAV 24 at 48 kHz, ...), read back, and measured:

      integrated loudness within 0.1 LU of the target (DESIGN.md quality
      promise), by libebur128 (EBUR128_MODE_I) and by the loop's own
      BS.1770-4 meter;
      true peak at or below the ceiling, by libebur128
      (EBUR128_MODE_TRUE_PEAK) and by worker/dsp/truepeak (own
      oversampling meter), after dither and encoding: no over;
      the file has the profile's rate, word and channels.
    Also a 20 s 96 kHz source to hires (kept at 96 kHz) and to cd
    (resampled to 44.1 kHz before the limiter).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ebur128.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/dsp/truepeak.h"
#include "worker/master.h"
#include "master_mix.h"
#include "testsig.h"

static audio_t s_mix;

static int
s_setup (void **state)
{
    master_mix_generate (&s_mix, 60.0, 44100, 2, 1);
    return 0;
}

static int
s_teardown (void **state)
{
    audio_free (&s_mix);
    return 0;
}

//  Masters src to profile id, writes, reads back and measures.
static void
s_profile_from (const audio_t *src, profile_id_t id)
{
    const profile_t *p = profile_get (id);
    master_opts_t o;
    master_opts_default (&o, p, src->rate_hz);
    audio_t out;
    master_report_t rep;
    char err [512];
    assert_int_equal (master_run (src, &o, &out, &rep, err, sizeof err), 0);

    char path [1200];
    snprintf (path, sizeof path, "%s/%s.%s", testsig_tmpdir ("master_profiles"), p->name, p->ext);
    assert_int_equal (audio_write (path, &out, p->format, p->bits, NULL, err, sizeof err), 0);
    audio_t back;
    assert_int_equal (audio_read (path, &back, err, sizeof err), 0);
    assert_int_equal (back.rate_hz, profile_output_rate (p, src->rate_hz));
    assert_int_equal (back.bits, p->bits);
    assert_int_equal (back.channels, 2);
    //  the word grid made the write lossless
    assert_memory_equal (back.data, out.data, (size_t) out.frames * 2 * sizeof (float));

    ebur128_state *st = ebur128_init (2, (unsigned long) back.rate_hz,
                                      EBUR128_MODE_I | EBUR128_MODE_TRUE_PEAK);
    ebur128_add_frames_float (st, back.data, (size_t) back.frames);
    double lufs, tp0, tp1;
    ebur128_loudness_global (st, &lufs);
    ebur128_true_peak (st, 0, &tp0);
    ebur128_true_peak (st, 1, &tp1);
    ebur128_destroy (&st);
    double eb_tp_db = 20 * log10 (fmax (tp0, tp1));

    double own = master_loudness_lufs (back.data, back.frames, 2, back.rate_hz);
    truepeak_t *tp = truepeak_new (back.rate_hz, 2);
    truepeak_process (tp, back.data, (size_t) back.frames);
    double own_tp = truepeak_max_dbtp (tp);
    truepeak_destroy (&tp);
    double speak = 0;
    for (size_t i = 0; i < (size_t) back.frames * 2; i++)
        speak = fmax (speak, fabs (back.data [i]));

    printf ("%-9s %s %d-bit %d Hz from %d Hz: libebur128 %.3f LUFS / %.3f dBTP, own %.3f LUFS / "
            "%.3f dBTP, sample peak %.3f dBFS (target %.1f, ceiling %.1f), gain %.2f dB, "
            "gr %.2f dB, %d renders\n", p->name, p->ext, p->bits, back.rate_hz, src->rate_hz, lufs,
            eb_tp_db, own, own_tp, 20 * log10 (speak), o.target_lufs, o.ceiling_dbtp,
            rep.gain_db, rep.gr_max_db, rep.loop_iterations);
    assert_false (rep.gr_capped);
    assert_true (fabs (lufs - o.target_lufs) <= 0.1);       //  DESIGN.md: within 0.1 LU
    assert_true (fabs (own - o.target_lufs) <= 0.1);
    assert_true (eb_tp_db <= o.ceiling_dbtp);               //  no over after encoding
    assert_true (own_tp <= o.ceiling_dbtp);
    assert_true (fabs (rep.out_lufs - lufs) < 0.01);        //  the report tells the truth
    audio_free (&back);
    audio_free (&out);
}

#define PROFILE_TEST(name, id) \
    static void test_##name (void **state) { s_profile_from (&s_mix, id); }
PROFILE_TEST (spotify, PROFILE_SPOTIFY)
PROFILE_TEST (apple, PROFILE_APPLE)
PROFILE_TEST (youtube, PROFILE_YOUTUBE)
PROFILE_TEST (amazon, PROFILE_AMAZON)
PROFILE_TEST (tidal, PROFILE_TIDAL)
PROFILE_TEST (cd, PROFILE_CD)
PROFILE_TEST (broadcast, PROFILE_BROADCAST)
PROFILE_TEST (hires, PROFILE_HIRES)

//  A 96 kHz source: kept by hires, resampled to 44.1 kHz 16-bit by cd
//  (the limiter runs after the resampler, so no over appears).
static void
test_96k_source (void **state)
{
    audio_t src;
    master_mix_generate (&src, 20.0, 96000, 2, 6);
    s_profile_from (&src, PROFILE_HIRES);
    s_profile_from (&src, PROFILE_CD);
    audio_free (&src);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_spotify),
        cmocka_unit_test (test_apple),
        cmocka_unit_test (test_youtube),
        cmocka_unit_test (test_amazon),
        cmocka_unit_test (test_tidal),
        cmocka_unit_test (test_cd),
        cmocka_unit_test (test_broadcast),
        cmocka_unit_test (test_hires),
        cmocka_unit_test (test_96k_source),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
