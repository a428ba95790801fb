/*  bench_album: how long the album stage's own parts take.
      - planning: planner_plan_album for every policy on an album of 99
        synthetic tracks of 4 minutes (2400 gating blocks each), tonal on;
      - assembly: assemble_album of the generated 8-track album (44.1 kHz
        stereo) for cd (16-bit WAV, dither) and spotify (24-bit FLAC),
        in seconds of audio per second of wall time;
      - manifest: deliver_manifest_write over the written files, MB/s.
    Prints figures; not a pass/fail test.  */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "album_fixture.h"
#include "broker/deliver.h"
#include "broker/planner.h"
#include "common/clock.h"
#include "testsig.h"
#include "worker/assemble.h"

#define PLAN_TRACKS  99
#define PLAN_BLOCKS  2400

int
main (void)
{
    //  planning
    static spec_track_t tracks [PLAN_TRACKS];
    static measure_t m [PLAN_TRACKS];
    const measure_t *mp [PLAN_TRACKS];
    spec_album_t al = { .title = "bench", .tracks = tracks, .n_tracks = PLAN_TRACKS };
    album_fixture_settings (&al.s);
    al.s.tonal.match = TONAL_ALBUM;
    testsig_rng_t rng;
    testsig_rng_seed (&rng, 1);
    for (int i = 0; i < PLAN_TRACKS; i++) {
        tracks [i].title = "t";
        tracks [i].s = al.s;
        m [i].n_blocks = PLAN_BLOCKS;
        m [i].block_lufs = malloc (PLAN_BLOCKS * sizeof (float));
        double base = -9.0 - 12.0 * testsig_rng_uniform (&rng);
        for (int b = 0; b < PLAN_BLOCKS; b++)
            m [i].block_lufs [b] = (float) (base + 6.0 * (testsig_rng_uniform (&rng) - 0.5));
        m [i].integrated_lufs = measure_gated_loudness ((const measure_t *const []) { &m [i] }, NULL, 1);
        m [i].duration_s = 240.0;
        for (int b = 0; b < MEASURE_BANDS; b++)
            m [i].band_db [b] = -30.0 + 3.0 * testsig_rng_gauss (&rng);
        mp [i] = &m [i];
    }
    static const char *names [] = { "track", "album", "loudest", "hybrid" };
    for (int p = POLICY_TRACK; p <= POLICY_HYBRID; p++) {
        al.s.loudness.policy = (loudness_policy_t) p;
        album_plan_t plan;
        char err [256];
        int64_t t0 = clock_mono_us ();
        int rc = planner_plan_album (&al, mp, PROFILE_SPOTIFY, 44100, &plan, err, sizeof err);
        int64_t t1 = clock_mono_us ();
        printf ("plan %-8s %d tracks x %d blocks: %8.2f ms%s\n", names [p], PLAN_TRACKS, PLAN_BLOCKS,
                (double) (t1 - t0) / 1000.0, rc ? " (failed)" : "");
        planner_plan_free (&plan);
    }
    for (int i = 0; i < PLAN_TRACKS; i++)
        measure_free (&m [i]);

    //  assembly and manifest
    album_fixture_t f;
    album_fixture_make (&f, 8, 44100, 5);
    double seconds = 0.0;
    for (size_t i = 0; i < f.n; i++) {
        for (size_t k = 0; k < (size_t) f.audio [i].frames * 2; k++)
            f.audio [i].data [k] *= 0.25f;
        seconds += (double) f.audio [i].frames / 44100.0;
        f.tracks [i].s.fade_in_s = 0.5;
        f.tracks [i].s.fade_out_s = 1.0;
    }
    const char *root = testsig_tmpdir ("bench_album");
    profile_id_t ids [2] = { PROFILE_CD, PROFILE_SPOTIFY };
    for (int k = 0; k < 2; k++) {
        const profile_t *prof = profile_get (ids [k]);
        char dir [1024], err [512];
        snprintf (dir, sizeof dir, "%s/%s", root, prof->name);
        assemble_layout_t l;
        int64_t t0 = clock_mono_us ();
        int rc = assemble_album (&f.album, prof, f.audio, f.n, dir, &l, err, sizeof err);
        int64_t t1 = clock_mono_us ();
        double s = (double) (t1 - t0) / 1e6;
        printf ("assemble %-8s %.1f s of audio: %7.3f s (%.0fx real time)%s\n", prof->name, seconds, s,
                seconds / s, rc ? err : "");
        assemble_layout_free (&l);
    }
    char err [512];
    int64_t t0 = clock_mono_us ();
    int rc = deliver_manifest_write (root, err, sizeof err);
    int64_t t1 = clock_mono_us ();
    char cmd [1200];
    snprintf (cmd, sizeof cmd, "du -sb '%s' | cut -f1", root);
    FILE *p = popen (cmd, "r");
    double bytes = 0;
    if (p && fscanf (p, "%lf", &bytes) != 1)
        bytes = 0;
    if (p)
        pclose (p);
    printf ("manifest %.1f MB: %.3f s (%.0f MB/s)%s\n", bytes / 1e6, (double) (t1 - t0) / 1e6,
            bytes / 1e6 / ((double) (t1 - t0) / 1e6), rc ? err : "");
    album_fixture_free (&f);
    return 0;
}
