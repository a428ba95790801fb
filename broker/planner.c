/*  The album plan: loudness gains per policy and tonal corrections, a
    pure function of the tracks' analyses and the album's settings.

    Album loudness is always the BS.1770-4 gated loudness of the union of
    every track's 400 ms blocks, never a mean of track values: a quiet
    interlude and a loud single do not weigh by track count but by how
    much programme they carry above the gates. Because the absolute gate
    (-70 LUFS) does not move with a gain, the album gain is found by
    bisection on the shifted blocks rather than by a single subtraction,
    so the prediction is exact for the blocks. The solver gates block
    energies computed once (the gating of measure_gated_loudness, which
    the unit tests use as the reference), so a 99-track album of 4-minute
    tracks plans in well under 0.1 s.

    Edges: the album file holds silence between tracks (gaps, the
    pregap), and a meter reading the album sees 400 ms blocks that
    straddle a track's first or last 300 ms and that silence: three
    partial blocks per edge holding 1/4, 2/4 and 3/4 of a full block's
    energy. They pass the gates and lower an album reading by about
    10 log10 ((N + 1.5) / (N + 3)) per edge for N blocks: negligible for
    a 4-minute track (0.003 LU) but 0.1 LU for a 6-second one. The plan
    models them so that its album loudness is the album file's: wherever
    a track meets a gap of at least 300 ms (or the pregap), three blocks
    at the first (last) block's level plus 10 log10 (k/4), k = 1..3, are
    added to the track's blocks for every album-level computation. The
    fades the assembly makes are modelled on the blocks too: each block of
    an analysis is moved by the mean power the fades leave over its span.

    A track's planned loudness is that of its per-track file, what a
    label's meter reads: the file holds the track's audio with its fades,
    the silence after it (the next track's gap) and, for track 1, the
    pregap before it, so its edge blocks lower the reading as above (0.25
    LU on a 10 s track between two 2 s gaps). The policies go by each
    track's loudness as its file will hold it (input_file_lufs: its blocks
    with its fades and its file's edges), and the master lands the file
    on the plan (the pads and fades travel with the plan). In the album
    policy every track still gets the one album gain. A crossfade ends
    the file of the track before it where it starts, and the file of the
    track after opens with it: that track under the crossfade's gain in,
    and the tail of the track before under the gain out, which the plan
    gives at FADE_TAIL_SEGMENTS levels along it (its blocks there, with its
    fades, at its planned gain; where the tracks take their own gains, the
    plan is made again once with the tail at the gains found).

    Policies (T = target, L_i = track loudness, D = max_deviation_lu):
      track    g_i = T - L_i
      album    g_i = g with gated(L + g) = T
      loudest  g_i = T - max L_i (AES TD1008); the album lands below T
      hybrid   one album gain g, each track's planned loudness L_i + g
               clamped to [T - D, T + D]; g is solved (bisection) so the
               album loudness after clamping still hits T. Tracks inside
               the window keep their offsets; the outliers move.
    Ceiling: the lower of the profile's ceiling and the job's true_peak,
    and of the track's own limiter ceiling when given (a job asking -1
    dBTP never lifts Amazon's -2 dBTP).

    Tonal: each track's spectrum shape s_i(b) = band_db_i(b) minus its mean
    over the usable bands (so level is not tone). Target t(b) = the
    weighted mean of the shapes with weights w_i proportional to
    10^(P_i/10) * duration_i, each track's share of the album's energy as
    delivered (P_i its planned loudness), or the reference track's shape.
    Correction c_i = strength * clip (smooth (t - s_i)). smooth is a
    local linear fit over log2 frequency with Gaussian weights (sigma 1/2
    octave, out to 1.25 octaves): it keeps tilts and broad colour exactly,
    edges included, and drops what is narrower than about an octave, so
    a track's bass notes (a strong 80 Hz beside a weak 100 Hz band) are
    left to the music instead of becoming +3 / -3 dB neighbours. The
    result is shifted to zero mean over the usable bands so the overall
    level moves little (the master's loudness loop corrects the rest),
    and clipped to +-max_db; strength scales the clipped curve, so 0.5 is
    half of 1.0 in every band (clipping after scaling made both the same
    wherever the difference exceeded max_db). A band is usable when every
    track has a finite level above -150 dBFS in it; an unusable band holds
    the nearest usable band's correction (0 dB there would make a step of
    the whole correction between 16 and 20 kHz when a track is low-passed).

    Silence: a track with no measurable loudness (digital silence, or
    every block under the -70 LUFS absolute gate, where BS.1770 gives
    -inf) has no loudness to move to a target and no spectrum worth
    matching. It is planned silent: gain 0 dB, no target, no tonal
    correction; its blocks stay under the absolute gate at gain 0, so the
    album loudness is that of the other tracks, and the policies and the
    tonal target are computed over the other tracks only. An album of
    silent tracks only is planned too (every gain 0). Messages name
    tracks by their number in the spec (planner_plan_tracks).  */
#include "broker/planner.h"
#include "common/album_layout.h"
#include "common/err.h"
#include "common/fade.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_BAND_FLOOR_DB   -150.0   //  below this a band is empty (no content)
#define PLAN_SOLVE_TOL_LU    1e-6     //  album gain solved to this
#define PLAN_SOLVE_ITERS     200
#define PLAN_SMOOTH_OCT      0.5      //  tonal smoothing: Gaussian sigma, octaves

static const char *s_policy_names [] = { "track", "album", "loudest", "hybrid" };
static const char *s_tonal_names [] = { "off", "album", "reference" };

//  The union of the tracks' blocks as mean-square energies (BS.1770-4
//  eq. (2)), computed once so that the solver's many gated readings cost
//  one multiplication per block instead of a pow().
typedef struct {
    size_t                  n;
    const measure_t *const *m;      //  the tracks (integrated_lufs, blocks)
    double                **e;      //  e[i][k]: energy of block k of track i
} s_union_t;

//  Energy of a loudness value and back, BS.1770-4 eq. (2).
static double s_energy (double lufs) { return pow (10.0, (lufs + 0.691) / 10.0); }
static double s_to_lufs (double energy) { return -0.691 + 10.0 * log10 (energy); }

//  Fills u from n tracks. Returns 0 or MF_ERR_NOMEM.
static int
s_union_init (s_union_t *u, const measure_t *const *m, size_t n)
{
    u->n = n;
    u->m = m;
    u->e = calloc (n, sizeof *u->e);
    if (!u->e)
        return MF_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        u->e [i] = malloc ((m [i]->n_blocks + 1) * sizeof (double));
        if (!u->e [i])
            return MF_ERR_NOMEM;
        for (size_t k = 0; k < m [i]->n_blocks; k++)
            u->e [i][k] = s_energy (m [i]->block_lufs [k]);
    }
    return 0;
}

//  Frees what s_union_init allocated.
static void
s_union_free (s_union_t *u)
{
    for (size_t i = 0; u->e && i < u->n; i++)
        free (u->e [i]);
    free (u->e);
    u->e = NULL;
}

//  Album loudness (LUFS) of the union of blocks with per-track gains (dB,
//  NULL: none): the two-pass gating of measure_gated_loudness (absolute
//  -70 LUFS, relative -10 LU) on energies. -HUGE_VAL when nothing passes.
static double
s_album_lufs (const s_union_t *u, const double *gains)
{
    const double abs_gate = s_energy (-70.0);
    double sum = 0.0;
    size_t count = 0;
    for (size_t i = 0; i < u->n; i++) {
        double gl = gains ? pow (10.0, gains [i] / 10.0) : 1.0;
        for (size_t k = 0; k < u->m [i]->n_blocks; k++) {
            double e = u->e [i][k] * gl;
            if (e > abs_gate) {
                sum += e;
                count++;
            }
        }
    }
    if (count == 0)
        return -HUGE_VAL;
    double rel_gate = 0.1 * sum / (double) count;       //  -10 LU
    sum = 0.0;
    count = 0;
    for (size_t i = 0; i < u->n; i++) {
        double gl = gains ? pow (10.0, gains [i] / 10.0) : 1.0;
        for (size_t k = 0; k < u->m [i]->n_blocks; k++) {
            double e = u->e [i][k] * gl;
            if (e > abs_gate && e > rel_gate) {
                sum += e;
                count++;
            }
        }
    }
    return count ? s_to_lufs (sum / (double) count) : -HUGE_VAL;
}

//  Fills gains[] for the hybrid policy at album gain g: each track's
//  planned loudness clamped to target +- dev.
static void
s_hybrid_gains (const measure_t *const *a, size_t n, double g, double target,
                double dev, const bool *silent, double *gains)
{
    for (size_t i = 0; i < n; i++) {
        if (silent [i]) {
            gains [i] = 0.0;
            continue;
        }
        double p = a [i]->integrated_lufs + g;
        if (p > target + dev)
            p = target + dev;
        if (p < target - dev)
            p = target - dev;
        gains [i] = p - a [i]->integrated_lufs;
    }
}

//  Fills gains[] with the common gain g, 0 dB for silent tracks.
static void
s_common_gains (size_t n, double g, const bool *silent, double *gains)
{
    for (size_t i = 0; i < n; i++)
        gains [i] = silent [i] ? 0.0 : g;
}

//  Solves for the album gain g so that the union loudness with per-track
//  gains from mode (0: common gain, 1: hybrid clamp) equals target;
//  silent tracks keep 0 dB. Bisection: album loudness is nondecreasing
//  in g. At least one track must not be silent. Returns g (dB).
static double
s_solve_album_gain (const s_union_t *u, double target, int hybrid,
                    double dev, const bool *silent, double *gains)
{
    const measure_t *const *a = u->m;
    size_t n = u->n;
    double lmin = HUGE_VAL, lmax = -HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
        if (silent [i])
            continue;
        if (a [i]->integrated_lufs < lmin) lmin = a [i]->integrated_lufs;
        if (a [i]->integrated_lufs > lmax) lmax = a [i]->integrated_lufs;
    }
    //  at lo every track is at or below target - dev - 1; at hi at or above
    //  target + dev + 1, so the album loudness brackets the target
    double lo = target - lmax - dev - 1.0;
    double hi = target - lmin + dev + 1.0;
    double g = 0.5 * (lo + hi);
    for (int it = 0; it < PLAN_SOLVE_ITERS && hi - lo > PLAN_SOLVE_TOL_LU; it++) {
        g = 0.5 * (lo + hi);
        if (hybrid)
            s_hybrid_gains (a, n, g, target, dev, silent, gains);
        else
            s_common_gains (n, g, silent, gains);
        double l = s_album_lufs (u, gains);
        if (l < target)
            lo = g;
        else
            hi = g;
    }
    g = 0.5 * (lo + hi);
    if (hybrid)
        s_hybrid_gains (a, n, g, target, dev, silent, gains);
    else
        s_common_gains (n, g, silent, gains);
    return g;
}

//  JSON number or null for non-finite values.
static json_t *
s_num (double v)
{
    return isfinite (v) ? json_real (v) : json_null ();
}

//  JSON array of MEASURE_BANDS numbers.
static json_t *
s_bands (const double *v)
{
    json_t *arr = json_array ();
    for (int b = 0; arr && b < MEASURE_BANDS; b++)
        json_array_append_new (arr, s_num (v [b]));
    return arr;
}

//  The correction curve from a raw difference (target shape minus the
//  track's, dB per band); see planner.h and the top of this file.
void
planner_tonal_curve (const double *raw, const int *usable, double strength, double max_db,
                     double *out)
{
    double x [MEASURE_BANDS], sm [MEASURE_BANDS];
    int n_usable = 0;
    for (int b = 0; b < MEASURE_BANDS; b++) {
        x [b] = log2 (measure_band_hz (b));
        n_usable += usable [b] != 0;
        out [b] = 0.0;
    }
    if (n_usable == 0 || !(strength > 0.0))
        return;
    //  local linear regression with Gaussian weights over log2 frequency:
    //  keeps tilts and broad colour exactly (a straight line in dB over
    //  log frequency comes out unchanged, edges included) and drops what
    //  is narrower than about an octave
    const double sig = PLAN_SMOOTH_OCT, reach = 2.5 * PLAN_SMOOTH_OCT;
    for (int b = 0; b < MEASURE_BANDS; b++) {
        if (!usable [b])
            continue;
        double s0 = 0, s1 = 0, s2 = 0, t0 = 0, t1 = 0;
        for (int k = 0; k < MEASURE_BANDS; k++) {
            double d = x [k] - x [b];
            if (!usable [k] || fabs (d) > reach)
                continue;
            double wk = exp (-0.5 * d * d / (sig * sig));
            s0 += wk;
            s1 += wk * d;
            s2 += wk * d * d;
            t0 += wk * raw [k];
            t1 += wk * d * raw [k];
        }
        double det = s0 * s2 - s1 * s1;
        sm [b] = det > 1e-12 * s0 * s0 ? (s2 * t0 - s1 * t1) / det : t0 / s0;
    }
    //  unusable bands hold the nearest usable band's value (the upper one
    //  on a tie), so that an empty 20 kHz band does not pull the curve to
    //  0 dB between 16 and 20 kHz
    for (int b = 0; b < MEASURE_BANDS; b++) {
        if (usable [b])
            continue;
        for (int d = 1; d < MEASURE_BANDS; d++) {
            if (b + d < MEASURE_BANDS && usable [b + d]) {
                sm [b] = sm [b + d];
                break;
            }
            if (b - d >= 0 && usable [b - d]) {
                sm [b] = sm [b - d];
                break;
            }
        }
    }
    double mean = 0.0;
    for (int b = 0; b < MEASURE_BANDS; b++)
        if (usable [b])
            mean += sm [b];
    mean /= n_usable;
    //  max_db bounds the full correction; strength then scales it, so
    //  strength 0.5 is half of strength 1 in every band
    for (int b = 0; b < MEASURE_BANDS; b++) {
        double c = sm [b] - mean;
        if (c > max_db)
            c = max_db;
        if (c < -max_db)
            c = -max_db;
        out [b] = strength * c;
    }
}

#define PLAN_DIST_LO   2          //  40 Hz: spectral distance bands
#define PLAN_DIST_HI   27         //  16 kHz

//  RMS of the shape difference over 40 Hz .. 16 kHz; see planner.h.
double
planner_spectral_distance (const double *a_db, const double *b_db)
{
    double ma = 0.0, mb = 0.0;
    const int n = PLAN_DIST_HI - PLAN_DIST_LO + 1;
    for (int b = PLAN_DIST_LO; b <= PLAN_DIST_HI; b++) {
        if (!isfinite (a_db [b]) || !isfinite (b_db [b]))
            return NAN;
        ma += a_db [b] / n;
        mb += b_db [b] / n;
    }
    double ss = 0.0;
    for (int b = PLAN_DIST_LO; b <= PLAN_DIST_HI; b++) {
        double d = (a_db [b] - ma) - (b_db [b] - mb);
        ss += d * d;
    }
    return sqrt (ss / n);
}

//  Reference match; see planner.h.
int
planner_reference_match (const measure_t *track, const planner_ref_t *refs, size_t n_refs,
                         const planner_ref_cfg_t *cfg, double profile_target_lufs,
                         planner_ref_plan_t *out, char *err, size_t err_size)
{
    memset (out, 0, sizeof *out);
    out->target_lufs = profile_target_lufs;
    out->ref_side_mid_db = NAN;
    if (!track || !refs || n_refs == 0 || !cfg) {
        snprintf (err, err_size, "reference: no reference to match");
        return MF_ERR_INVALID;
    }
    if (!(cfg->tone >= 0.0 && cfg->tone <= 1.0) || !(cfg->loudness >= 0.0 && cfg->loudness <= 1.0)
    ||  !(cfg->width >= 0.0 && cfg->width <= 1.0)) {
        snprintf (err, err_size, "reference: intensities tone %g, loudness %g, width %g; "
                  "each 0 .. 1", cfg->tone, cfg->loudness, cfg->width);
        return MF_ERR_INVALID;
    }
    if (!(cfg->max_db >= 0.0 && cfg->max_db <= 12.0)) {
        snprintf (err, err_size, "reference: max_db %g; 0 .. 12 dB", cfg->max_db);
        return MF_ERR_INVALID;
    }
    if (planner_track_silent (track)) {
        snprintf (err, err_size, "reference: the track has no measurable loudness to match");
        return MF_ERR_INVALID;
    }
    double wsum = 0.0;
    for (size_t r = 0; r < n_refs; r++) {
        if (!refs [r].m || !(refs [r].weight > 0.0) || !isfinite (refs [r].weight)) {
            snprintf (err, err_size, "reference %zu: weight %g; it must be above 0",
                      r + 1, refs [r].weight);
            return MF_ERR_INVALID;
        }
        if (planner_track_silent (refs [r].m)) {
            snprintf (err, err_size, "reference %zu has no measurable loudness", r + 1);
            return MF_ERR_INVALID;
        }
        wsum += refs [r].weight;
    }
    //  usable bands: content in the track and in every reference
    int usable [MEASURE_BANDS], n_usable = 0;
    for (int b = 0; b < MEASURE_BANDS; b++) {
        usable [b] = isfinite (track->band_db [b]) && track->band_db [b] > PLAN_BAND_FLOOR_DB;
        for (size_t r = 0; r < n_refs; r++)
            if (!(isfinite (refs [r].m->band_db [b]) && refs [r].m->band_db [b] > PLAN_BAND_FLOOR_DB))
                usable [b] = 0;
        n_usable += usable [b];
    }
    //  shapes relative to their mean over the usable bands
    double target [MEASURE_BANDS] = { 0 }, shape [MEASURE_BANDS] = { 0 };
    double ref_lufs = 0.0, sm_sum = 0.0, sm_w = 0.0;
    for (size_t r = 0; r < n_refs; r++) {
        const measure_t *m = refs [r].m;
        double w = refs [r].weight / wsum, mean = 0.0;
        for (int b = 0; b < MEASURE_BANDS; b++)
            if (usable [b])
                mean += m->band_db [b] / (n_usable ? n_usable : 1);
        for (int b = 0; b < MEASURE_BANDS; b++)
            if (usable [b])
                target [b] += w * (m->band_db [b] - mean);
        ref_lufs += w * m->integrated_lufs;
        if (isfinite (refs [r].side_mid_db)) {
            sm_sum += refs [r].weight * refs [r].side_mid_db;
            sm_w += refs [r].weight;
        }
    }
    double mean = 0.0;
    for (int b = 0; b < MEASURE_BANDS; b++)
        if (usable [b])
            mean += track->band_db [b] / (n_usable ? n_usable : 1);
    double raw [MEASURE_BANDS];
    for (int b = 0; b < MEASURE_BANDS; b++) {
        shape [b] = usable [b] ? track->band_db [b] - mean : 0.0;
        raw [b] = usable [b] ? target [b] - shape [b] : 0.0;
        out->ref_shape_db [b] = usable [b] ? target [b] : NAN;
    }
    planner_tonal_curve (raw, usable, cfg->tone, cfg->max_db, out->tonal_db);
    out->distance_db = planner_spectral_distance (track->band_db, out->ref_shape_db);

    out->ref_lufs = ref_lufs;
    double t = profile_target_lufs + cfg->loudness * (ref_lufs - profile_target_lufs);
    out->target_lufs = fmin (fmax (t, -40.0), -5.0);

    out->ref_side_mid_db = sm_w > 0.0 ? sm_sum / sm_w : NAN;
    return 0;
}

//  Computes the tonal corrections of every track into plan->tracks[i].tonal_db
//  and records the inputs in rep. Silent tracks get none and take no part
//  in the target; a silent reference track leaves every track uncorrected
//  (the record says why). numbers[i]: track i's number in the spec;
//  sublist: the tracks are some of the spec album's (those analysed).
//  Returns 0 or MF_ERR_INVALID (reference out of range or not listed).
static int
s_plan_tonal (const spec_album_t *album, const measure_t *const *a, size_t n,
              const int *numbers, bool sublist, const bool *silent,
              album_plan_t *plan, json_t *rep, char *err, size_t err_size)
{
    const tonal_cfg_t *tc = &album->s.tonal;
    json_t *jt = json_object ();
    json_object_set_new (rep, "tonal", jt);
    json_object_set_new (jt, "match", json_string (s_tonal_names [tc->match <= TONAL_REFERENCE ? tc->match : 0]));
    json_object_set_new (jt, "strength", json_real (tc->strength));
    json_object_set_new (jt, "max_db", json_real (tc->max_db));
    json_object_set_new (jt, "smoothing", json_string ("local linear fit, Gaussian weights of sigma 1/2 octave; unusable bands hold the nearest usable value; zero mean over usable bands; clipped to +-max_db, then scaled by strength"));
    json_object_set_new (jt, "weights", json_string ("10^(planned_lufs/10) * duration_s, normalised"));
    for (size_t i = 0; i < n; i++)
        memset (plan->tracks [i].tonal_db, 0, sizeof plan->tracks [i].tonal_db);
    if (tc->match == TONAL_OFF || tc->strength <= 0.0)
        return 0;
    //  the reference: spec index reference_track among the listed tracks
    size_t ref = 0;
    if (tc->match == TONAL_REFERENCE) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            if (numbers [i] - 1 == tc->reference_track) {
                ref = i;
                found = true;
            }
        if (!found) {
            if (sublist && tc->reference_track >= 0)
                snprintf (err, err_size, "album \"%s\": tonal reference track %d was not analysed",
                          album->title ? album->title : "", tc->reference_track + 1);
            else
                snprintf (err, err_size, "album \"%s\": tonal reference_track %d is out of range (the album has %zu tracks)",
                          album->title ? album->title : "", tc->reference_track, n);
            return MF_ERR_INVALID;
        }
        if (silent [ref]) {
            char why [160];
            snprintf (why, sizeof why, "reference track %d has no measurable loudness: no track is corrected",
                      numbers [ref]);
            json_object_set_new (jt, "skipped", json_string (why));
            return 0;
        }
    }
    size_t n_loud = 0;
    for (size_t i = 0; i < n; i++)
        n_loud += !silent [i];
    if (n_loud == 0)
        return 0;
    //  usable bands (silent tracks' spectra are not looked at)
    int usable [MEASURE_BANDS];
    int n_usable = 0;
    for (int b = 0; b < MEASURE_BANDS; b++) {
        usable [b] = 1;
        for (size_t i = 0; i < n; i++)
            if (!silent [i]
            && (!isfinite (a [i]->band_db [b]) || a [i]->band_db [b] <= PLAN_BAND_FLOOR_DB))
                usable [b] = 0;
        n_usable += usable [b];
    }
    if (n_usable == 0)
        return 0;

    //  shapes: spectrum minus its mean over the usable bands
    double (*shape) [MEASURE_BANDS] = calloc (n, sizeof *shape);
    double *w = calloc (n, sizeof *w);
    if (!shape || !w) {
        free (shape);
        free (w);
        return MF_ERR_NOMEM;
    }
    double wsum = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (silent [i])
            continue;                   //  weight 0, shape unused
        double mean = 0.0;
        for (int b = 0; b < MEASURE_BANDS; b++)
            if (usable [b])
                mean += a [i]->band_db [b];
        mean /= n_usable;
        for (int b = 0; b < MEASURE_BANDS; b++)
            shape [i][b] = usable [b] ? a [i]->band_db [b] - mean : 0.0;
        double dur = a [i]->duration_s > 0.0 ? a [i]->duration_s
                   : (a [i]->rate_hz > 0 ? (double) a [i]->frames / a [i]->rate_hz : 1.0);
        w [i] = pow (10.0, plan->tracks [i].target_lufs / 10.0) * dur;
        wsum += w [i];
    }
    double target [MEASURE_BANDS];
    for (int b = 0; b < MEASURE_BANDS; b++) {
        target [b] = 0.0;
        if (tc->match == TONAL_REFERENCE)
            target [b] = shape [ref][b];
        else
            for (size_t i = 0; i < n; i++)
                target [b] += w [i] / wsum * shape [i][b];
    }
    json_object_set_new (jt, "usable_bands", json_integer (n_usable));
    json_object_set_new (jt, "target_shape_db", s_bands (target));
    json_t *jw = json_array ();
    for (size_t i = 0; i < n; i++)
        json_array_append_new (jw, json_real (w [i] / wsum));
    json_object_set_new (jt, "track_weights", jw);

    for (size_t i = 0; i < n; i++) {
        if (silent [i])
            continue;                   //  stays 0 dB
        double raw [MEASURE_BANDS];
        for (int b = 0; b < MEASURE_BANDS; b++)
            raw [b] = usable [b] ? target [b] - shape [i][b] : 0.0;
        planner_tonal_curve (raw, usable, tc->strength, tc->max_db, plan->tracks [i].tonal_db);
    }
    free (shape);
    free (w);
    return 0;
}

//  What s_edge_blocks models (flags).
#define S_EDGES_FILE   1    //  each per-track file's edges (track 1's pregap, the
                            //  next track's gap: assemble_file_pads), not the album's
#define S_EDGES_FADES  2    //  the blocks are an analysis's, before the fades: each is
                            //  weighted by the power the spec's fades leave on it

//  An edge holds partial blocks when its silence is at least this long.
#define S_EDGE_MIN_S   0.3

//  Copies of the tracks' measures whose blocks include the edge blocks
//  next to gaps (see the top of this file), for the album file or, with
//  S_EDGES_FILE, for each track's own file (cd: the profile's pregap);
//  then a file that opens with a crossfade holds the track's blocks
//  there under the crossfade's gain and the track before's tail at the
//  levels xin_lufs[i] (s_tail_levels, on the track's scale; NAN: not
//  known) under the other.
//  Returns the number of edges (>= 0) with *ext and *extp allocated (free
//  with s_edge_free), or -1 when out of memory.
typedef double s_tail_t [FADE_TAIL_SEGMENTS];

static int
s_edge_blocks (const spec_album_t *album, const measure_t *const *a, size_t n, int flags,
               bool cd, const s_tail_t *xin_lufs, measure_t **ext_p, const measure_t ***extp_p)
{
    measure_t *ext = calloc (n, sizeof *ext);
    const measure_t **extp = calloc (n, sizeof *extp);
    if (!ext || !extp) {
        free (ext);
        free (extp);
        return -1;
    }
    int n_edges = 0;
    for (size_t i = 0; i < n; i++) {
        const measure_t *m = a [i];
        ext [i] = *m;
        extp [i] = &ext [i];
        const settings_t *ts = &album->tracks [i].s;
        bool lead, trail;
        int64_t cut = 0;                    //  frames of the track in the next file
        if (flags & S_EDGES_FILE) {
            int64_t pl, pt;
            assemble_file_pads (album, cd, m->rate_hz, i, &pl, &pt, &cut);
            lead = m->rate_hz > 0 && pl >= S_EDGE_MIN_S * m->rate_hz;
            trail = m->rate_hz > 0 && pt >= S_EDGE_MIN_S * m->rate_hz;
        }
        else {
            lead = ts->gap_s >= S_EDGE_MIN_S
                && (i == 0 || album->tracks [i - 1].s.crossfade_s <= 0.0);
            trail = i + 1 < n && album->tracks [i + 1].s.gap_s >= S_EDGE_MIN_S
                 && ts->crossfade_s <= 0.0;
        }
        ext [i].block_lufs = malloc ((m->n_blocks + 6) * sizeof (float));
        if (!ext [i].block_lufs) {
            for (size_t k = 0; k < i; k++)
                free (ext [k].block_lufs);
            free (ext);
            free (extp);
            return -1;
        }
        //  the track's audio as the album holds it: with trim, without the
        //  silence the analysis found around it (its threshold is trim's
        //  default, on the input's scale); t0 .. t0 + af of its frames
        const int64_t rate = m->rate_hz > 0 ? m->rate_hz : 0, hop = (rate + 5) / 10;
        const bool trim = ts->trim && m->frames > 0
                       && m->lead_silence_frames + m->trail_silence_frames < m->frames;
        const int64_t t0 = trim ? m->lead_silence_frames : 0;
        const int64_t af = m->frames - t0 - (trim ? m->trail_silence_frames : 0);
        const int64_t fin = assemble_frames (ts->fade_in_s, (int) rate);
        const int64_t fout = assemble_frames (ts->fade_out_s, (int) rate);
        //  a file that opens with a crossfade (equal power, sin in and cos
        //  out: their squares sum to 1 at every frame)
        const int64_t xin = i > 0 && (flags & S_EDGES_FILE)
                          ? assemble_frames (album->tracks [i - 1].s.crossfade_s, (int) rate) : 0;
        double seg [FADE_TAIL_SEGMENTS];
        for (int q = 0; q < FADE_TAIL_SEGMENTS; q++)
            seg [q] = xin > 0 && xin_lufs && isfinite (xin_lufs [i][q])
                    ? s_energy (xin_lufs [i][q]) : 0.0;
        //  the blocks the audio holds whole, to where a crossfaded file ends
        //  (block k spans hops k .. k + 3 of the track), with the fades
        ext [i].n_blocks = 0;
        for (size_t k = 0; k < m->n_blocks; k++) {
            int64_t from = (int64_t) k * hop - t0, to = from + 4 * hop;   //  in the audio
            if (trim && (from < 0 || to > af))
                continue;
            if (cut > 0 && to > af - cut)
                continue;
            double e = s_energy (m->block_lufs [k]);
            if ((flags & S_EDGES_FADES) && (from < fin || to > af - fout))
                e *= fade_power_mean (ts->fade_curve, af, fin, fout, from, to);
            if (from < xin)
                e = e * fade_power_mean (FADE_EQUAL_POWER, af, xin, 0, from, to)
                  + fade_tail_mean (seg, xin, from, to);
            ext [i].block_lufs [ext [i].n_blocks++] = e > 1e-20 ? (float) s_to_lufs (e)
                                                                : (float) -200.0;
        }
        const float *b = ext [i].block_lufs;
        size_t nb = ext [i].n_blocks;
        for (int k = 1; nb > 0 && k <= 3; k++) {
            double part = 10.0 * log10 (k / 4.0);
            if (lead)
                ext [i].block_lufs [ext [i].n_blocks++] = (float) (b [0] + part);
            if (trail)
                ext [i].block_lufs [ext [i].n_blocks++] = (float) (b [nb - 1] + part);
        }
        n_edges += lead + trail;
    }
    *ext_p = ext;
    *extp_p = extp;
    return n_edges;
}

//  Frees what s_edge_blocks allocated.
static void
s_edge_free (measure_t *ext, const measure_t **extp, size_t n)
{
    for (size_t i = 0; ext && i < n; i++)
        free (ext [i].block_lufs);
    free (ext);
    free (extp);
}

//  The levels of track j's last xf frames (at its rate) that a crossfade
//  lays under the next track, in FADE_TAIL_SEGMENTS even segments (LUFS,
//  its input's scale, with its fades; -HUGE_VAL: silence): each from the
//  block centred on it. False when there is nothing to read.
static bool
s_tail_levels (const measure_t *m, const settings_t *ts, int64_t xf,
               double lv [FADE_TAIL_SEGMENTS])
{
    if (!m || m->n_blocks == 0 || !m->block_lufs || m->frames <= 0 || xf <= 0)
        return false;
    int64_t hop = (m->rate_hz + 5) / 10;
    //  the audio as the album holds it (with trim, without its silence)
    const bool trim = ts->trim && m->lead_silence_frames + m->trail_silence_frames < m->frames;
    const int64_t t0 = trim ? m->lead_silence_frames : 0;
    const int64_t af = m->frames - t0 - (trim ? m->trail_silence_frames : 0);
    int64_t fin = assemble_frames (ts->fade_in_s, m->rate_hz);
    int64_t fout = assemble_frames (ts->fade_out_s, m->rate_hz);
    xf = xf < af ? xf : af;
    for (int q = 0; q < FADE_TAIL_SEGMENTS; q++) {
        int64_t a = af - xf + xf * q / FADE_TAIL_SEGMENTS;
        int64_t b = af - xf + xf * (q + 1) / FADE_TAIL_SEGMENTS;
        int64_t k = (t0 + (a + b) / 2) / hop - 2;
        k = k < 0 ? 0 : k >= (int64_t) m->n_blocks ? (int64_t) m->n_blocks - 1 : k;
        double w = fade_power_mean (ts->fade_curve, af, fin, fout, a, b > a ? b : a + 1);
        double e = s_energy (m->block_lufs [k]) * w;
        lv [q] = e > 1e-20 ? s_to_lufs (e) : -HUGE_VAL;
    }
    return true;
}

//  Each track's loudness as its per-track file holds it (see the top of
//  this file) into file_lufs (a silent track's stays -HUGE_VAL; one whose
//  file reads nothing keeps its own). Returns 0 or MF_ERR_NOMEM.
static int
s_file_loudness (const spec_album_t *album, const measure_t *const *a, size_t n, bool cd,
                 const bool *silent, const s_tail_t *xin_lufs, double *file_lufs)
{
    measure_t *fext;
    const measure_t **fextp;
    if (s_edge_blocks (album, a, n, S_EDGES_FADES | S_EDGES_FILE, cd, xin_lufs, &fext,
                       &fextp) < 0)
        return MF_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        file_lufs [i] = silent [i] ? -HUGE_VAL : measure_gated_loudness (&fextp [i], NULL, 1);
        if (!silent [i] && !isfinite (file_lufs [i]))
            file_lufs [i] = a [i]->integrated_lufs;
    }
    s_edge_free (fext, fextp, n);
    return 0;
}

//  Album loudness as the album file reads (edges included); see planner.h.
double
planner_album_lufs (const spec_album_t *album, const measure_t *const *tracks,
                    const double *gain_db)
{
    if (!album || !tracks || album->n_tracks == 0)
        return -HUGE_VAL;
    for (size_t i = 0; i < album->n_tracks; i++)
        if (!tracks [i] || (tracks [i]->n_blocks && !tracks [i]->block_lufs))
            return -HUGE_VAL;
    measure_t *ext = NULL;
    const measure_t **extp = NULL;
    if (s_edge_blocks (album, tracks, album->n_tracks, 0, false, NULL, &ext, &extp) < 0)
        return NAN;
    double l = measure_gated_loudness (extp, gain_db, album->n_tracks);
    s_edge_free (ext, extp, album->n_tracks);
    return l;
}

int
planner_album_correct (const spec_album_t *album, const album_plan_t *plan,
                       const measure_t *const *outputs, double *shift_db,
                       double *measured_lufs)
{
    const size_t n = plan->n_tracks;
    const loudness_cfg_t *lc = &album->s.loudness;
    *measured_lufs = NAN;
    for (size_t i = 0; i < n; i++)
        shift_db [i] = 0.0;
    if ((lc->policy != POLICY_ALBUM && lc->policy != POLICY_HYBRID)
    ||  n == 0 || n != album->n_tracks)
        return MF_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (!outputs [i] || (outputs [i]->n_blocks && !outputs [i]->block_lufs))
            return MF_ERR_INVALID;
    //  the delivered blocks under the planned loudness: the solver's
    //  brackets and hybrid's clamp go by a track's integrated loudness
    measure_t *view = calloc (n, sizeof *view);
    const measure_t **vp = calloc (n, sizeof *vp);
    bool *silent = calloc (n, sizeof *silent);
    double *gains = calloc (n, sizeof *gains);
    measure_t *ext = NULL;
    const measure_t **extp = NULL;
    s_union_t u = { 0 };
    int rc = view && vp && silent && gains ? 0 : MF_ERR_NOMEM;
    size_t n_loud = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        view [i] = *outputs [i];
        silent [i] = plan->tracks [i].silent || !isfinite (plan->tracks [i].target_lufs);
        view [i].integrated_lufs = silent [i] ? -HUGE_VAL : plan->tracks [i].target_lufs;
        vp [i] = &view [i];
        n_loud += !silent [i];
    }
    if (!rc && s_edge_blocks (album, vp, n, 0, false, NULL, &ext, &extp) < 0)
        rc = MF_ERR_NOMEM;
    if (!rc && s_union_init (&u, extp, n))
        rc = MF_ERR_NOMEM;
    const double want = plan->album_planned_lufs;
    if (!rc) {
        *measured_lufs = s_album_lufs (&u, NULL);
        if (n_loud == 0 || !isfinite (*measured_lufs) || !isfinite (want))
            rc = MF_ERR_INVALID;
    }
    if (!rc && fabs (*measured_lufs - want) > PLANNER_ALBUM_TOL_LU) {
        double dev = lc->max_deviation_lu >= 0.0 ? lc->max_deviation_lu : 0.0;
        //  hybrid's window is around the album target, which its plan
        //  hits unless every track sits at a bound
        bool hybrid = lc->policy == POLICY_HYBRID;
        s_solve_album_gain (&u, hybrid ? plan->album_target_lufs : want, hybrid, dev, silent,
                            gains);
        for (size_t i = 0; i < n; i++)
            shift_db [i] = silent [i] ? 0.0 : gains [i];
        rc = 1;
    }
    s_union_free (&u);
    if (ext)
        s_edge_free (ext, extp, n);
    free (gains);
    free (silent);
    free (vp);
    free (view);
    return rc;
}

//  The references' loudness, the weighted mean of their integrated
//  loudness. Returns 0, or MF_ERR_INVALID with err naming a reference
//  that has none.
static int
s_reference_lufs (const spec_album_t *album, const planner_ref_t *refs, size_t n_refs,
                  double *lufs, char *err, size_t err_size)
{
    double sum = 0.0, wsum = 0.0;
    for (size_t r = 0; r < n_refs; r++) {
        const char *path = (int) r < album->s.tonal.n_refs ? album->s.tonal.refs [r].path : "?";
        if (planner_track_silent (refs [r].m)) {
            snprintf (err, err_size, "album \"%s\": reference %s has no measurable loudness",
                      album->title ? album->title : "", path);
            return MF_ERR_INVALID;
        }
        sum += refs [r].weight * refs [r].m->integrated_lufs;
        wsum += refs [r].weight;
    }
    *lufs = wsum > 0.0 ? sum / wsum : NAN;
    return isfinite (*lufs) ? 0 : MF_ERR_INVALID;
}

//  Matches every loud track to the album's references (tonal curve and
//  side gain, planner_reference_match at the track's own intensities)
//  and records the inputs and each track's distance in rep. Silent
//  tracks are left alone. Returns 0 or planner_reference_match's error,
//  err naming the track.
static int
s_plan_reference (const spec_album_t *album, const measure_t *const *a, size_t n,
                  const int *numbers, const planner_ref_t *refs, size_t n_refs, double target,
                  const bool *silent, album_plan_t *plan, json_t *rep, char *err,
                  size_t err_size)
{
    const tonal_cfg_t *tc = &album->s.tonal;
    plan->reference = true;
    json_t *jt = json_object ();
    json_object_set_new (rep, "tonal", jt);
    json_object_set_new (jt, "match", json_string ("reference"));
    json_t *jr = json_array ();
    for (size_t r = 0; r < n_refs; r++) {
        json_t *o = json_object ();
        json_object_set_new (o, "path", json_string ((int) r < tc->n_refs ? tc->refs [r].path : "?"));
        json_object_set_new (o, "weight", json_real (refs [r].weight));
        json_object_set_new (o, "lufs", s_num (refs [r].m->integrated_lufs));
        json_object_set_new (o, "side_mid_db", s_num (refs [r].side_mid_db));
        json_object_set_new (o, "rate_hz", json_integer (refs [r].m->rate_hz));
        json_object_set_new (o, "duration_s", s_num (refs [r].m->duration_s));
        json_array_append_new (jr, o);
    }
    json_object_set_new (jt, "references", jr);
    json_object_set_new (jt, "intensity", json_pack ("{s:f, s:f, s:f}", "tone", tc->intensity.tone,
                                                     "loudness", tc->intensity.loudness,
                                                     "width", tc->intensity.width));
    json_object_set_new (jt, "max_db", json_real (tc->max_db));
    json_object_set_new (jt, "method", json_string ("each track's shape moved toward the references' weighted shape (planner_tonal_curve at the tone intensity, capped at max_db, minimum-phase EQ); the master moves the side/mid energy ratio left by its pre-gain stages the width intensity's share of the way to the references' (in dB), a side gain within 0 .. 2"));
    json_t *jd = json_array ();
    bool shape_set = false;
    for (size_t i = 0; i < n; i++) {
        track_plan_t *tp = &plan->tracks [i];
        memset (tp->tonal_db, 0, sizeof tp->tonal_db);
        tp->side_mid_to_db = NAN;
        tp->width_share = 0.0;
        if (silent [i]) {
            json_array_append_new (jd, json_null ());
            continue;
        }
        const tonal_cfg_t *tt = &album->tracks [i].s.tonal;
        planner_ref_cfg_t cfg = { .tone = tt->intensity.tone, .loudness = 0.0,
                                  .width = tt->intensity.width, .max_db = tt->max_db };
        planner_ref_plan_t rp;
        char why [256];
        if (planner_reference_match (a [i], refs, n_refs, &cfg, target,
                                     &rp, why, sizeof why)) {
            snprintf (err, err_size, "album \"%s\" track %d: %s",
                      album->title ? album->title : "", numbers [i], why);
            return MF_ERR_INVALID;
        }
        memcpy (tp->tonal_db, rp.tonal_db, sizeof tp->tonal_db);
        tp->side_mid_to_db = rp.ref_side_mid_db;
        tp->width_share = tt->intensity.width;
        json_array_append_new (jd, s_num (rp.distance_db));
        if (!shape_set) {
            json_object_set_new (jt, "reference_side_mid_db", s_num (rp.ref_side_mid_db));
            json_object_set_new (jt, "target_shape_db", s_bands (rp.ref_shape_db));
            shape_set = true;
        }
    }
    json_object_set_new (jt, "track_distance_db", jd);
    return 0;
}

//  True when m holds no measurable loudness; see planner.h.
bool
planner_track_silent (const measure_t *m)
{
    return !m || !isfinite (m->integrated_lufs) || m->n_blocks == 0 || !m->block_lufs;
}

//  Plans one album for one profile, tracks numbered 1..n; see planner.h.
int
planner_plan_album (const spec_album_t *album, const measure_t *const *analyses,
                    profile_id_t profile, int out_rate_hz,
                    album_plan_t *plan, char *err, size_t err_size)
{
    return planner_plan_tracks (album, analyses, NULL, NULL, 0, profile, out_rate_hz, plan,
                                err, err_size);
}

//  Plans some of an album's tracks for one profile: gains, ceilings,
//  fades, tonal curves and the record; 0, MF_ERR_INVALID (err names the
//  track by its spec number) or MF_ERR_NOMEM.
int
planner_plan_tracks (const spec_album_t *album, const measure_t *const *analyses,
                     const int *numbers, const planner_ref_t *refs, size_t n_refs,
                     profile_id_t profile, int out_rate_hz,
                     album_plan_t *plan, char *err, size_t err_size)
{
    char scratch [8];
    err = mf_err_buffer (err, &err_size, scratch, sizeof scratch);
    memset (plan, 0, sizeof *plan);
    const profile_t *prof = profile_get (profile);
    if (!album || !analyses || !prof) {
        snprintf (err, err_size, "planner: missing album, analyses or profile");
        return MF_ERR_INVALID;
    }
    size_t n = album->n_tracks;
    const char *title = album->title ? album->title : "";
    if (n == 0) {
        snprintf (err, err_size, "album \"%s\": no tracks to plan", title);
        return MF_ERR_INVALID;
    }
    const loudness_cfg_t *lc = &album->s.loudness;
    if ((int) lc->policy < POLICY_TRACK || lc->policy > POLICY_HYBRID) {
        snprintf (err, err_size, "album \"%s\": unknown loudness policy %d", title, (int) lc->policy);
        return MF_ERR_INVALID;
    }
    int *no = calloc (n, sizeof *no);
    bool *silent = calloc (n, sizeof *silent);
    if (!no || !silent) {
        free (no);
        free (silent);
        return MF_ERR_NOMEM;
    }
    size_t n_loud = 0;
    for (size_t i = 0; i < n; i++) {
        no [i] = numbers ? numbers [i] : (int) i + 1;
        const measure_t *m = analyses [i];
        if (!m || (m->n_blocks > 0 && !m->block_lufs)) {
            snprintf (err, err_size, "album \"%s\" track %d (%s): not analysed",
                      title, no [i], album->tracks [i].path ? album->tracks [i].path : "?");
            free (no);
            free (silent);
            return MF_ERR_INVALID;
        }
        silent [i] = planner_track_silent (m);
        n_loud += !silent [i];
    }

    double target = profile_target_lufs (prof, lc->has_target, lc->target_lufs);
    double ref_lufs = NAN;
    if (n_refs > 0) {
        if (s_reference_lufs (album, refs, n_refs, &ref_lufs, err, err_size)) {
            free (no);
            free (silent);
            return MF_ERR_INVALID;
        }
        double t = target + album->s.tonal.intensity.loudness * (ref_lufs - target);
        target = fmin (fmax (t, -40.0), -5.0);
    }
    double ceiling = prof->ceiling_dbtp;
    if (lc->has_true_peak && lc->true_peak_dbtp < ceiling)
        ceiling = lc->true_peak_dbtp;
    double dev = lc->max_deviation_lu >= 0.0 ? lc->max_deviation_lu : 0.0;

    plan->profile = profile;
    plan->out_rate_hz = out_rate_hz;
    plan->n_tracks = n;
    plan->album_target_lufs = target;
    plan->tracks = calloc (n, sizeof *plan->tracks);
    double *gains = calloc (n, sizeof *gains);
    json_t *rep = json_object ();
    if (!plan->tracks || !gains || !rep) {
        free (gains);
        free (no);
        free (silent);
        json_decref (rep);
        planner_plan_free (plan);
        return MF_ERR_NOMEM;
    }

    //  blocks as the album file holds them: each track's own, with its
    //  fades, plus its edge blocks next to silence; and each track's
    //  loudness as its per-track file holds it (see the top of this file)
    measure_t *ext = NULL;
    const measure_t **extp = NULL;
    int n_edges = s_edge_blocks (album, analyses, n, S_EDGES_FADES, prof->cd, NULL, &ext, &extp);
    double *file_lufs = calloc (n, sizeof *file_lufs);
    s_tail_t *tail = calloc (n, sizeof *tail), *xin = calloc (n, sizeof *xin);
    bool xfaded = false;
    //  a file that opens with a crossfade holds the track before's tail:
    //  its levels on this track's scale, first as if both took one gain
    for (size_t i = 0; tail && xin && i < n; i++) {
        bool has = i > 0 && !silent [i - 1] && album->tracks [i - 1].s.crossfade_s > 0.0
                && s_tail_levels (analyses [i - 1], &album->tracks [i - 1].s,
                                  assemble_frames (album->tracks [i - 1].s.crossfade_s,
                                                   analyses [i - 1]->rate_hz), tail [i]);
        for (int q = 0; q < FADE_TAIL_SEGMENTS; q++) {
            tail [i][q] = has ? tail [i][q] : NAN;
            xin [i][q] = tail [i][q];
        }
        xfaded = xfaded || has;
    }
    if (n_edges < 0 || !file_lufs || !tail || !xin
    ||  s_file_loudness (album, analyses, n, prof->cd, silent, xin, file_lufs)) {
        if (n_edges >= 0)
            s_edge_free (ext, extp, n);
        free (file_lufs);
        free (tail);
        free (xin);
        free (gains);
        free (no);
        free (silent);
        json_decref (rep);
        planner_plan_free (plan);
        return MF_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        ext [i].integrated_lufs = file_lufs [i];        //  hybrid's clamp goes by it
    s_union_t alb = { 0 };
    if (s_union_init (&alb, extp, n) != 0) {
        s_union_free (&alb);
        s_edge_free (ext, extp, n);
        free (file_lufs);
        free (tail);
        free (xin);
        free (gains);
        free (no);
        free (silent);
        json_decref (rep);
        planner_plan_free (plan);
        return MF_ERR_NOMEM;
    }

    //  silent tracks' blocks are all under the absolute gate at their
    //  gain of 0 dB: the album readings are the other tracks'
    double in_album = s_album_lufs (&alb, NULL);
    double in_mean = n_loud ? 0.0 : NAN, lmax = -HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
        if (silent [i])
            continue;
        in_mean += analyses [i]->integrated_lufs / (double) n_loud;
        if (file_lufs [i] > lmax)
            lmax = file_lufs [i];
    }
    double album_gain = NAN;
    //  where tracks take their own gains (track, hybrid), a crossfaded
    //  file's share of the track before moves with the two gains: one
    //  more pass with the tail on this track's scale after them
    for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
        if (!xfaded || lc->policy == POLICY_ALBUM || lc->policy == POLICY_LOUDEST || n_loud == 0)
            break;
        for (size_t i = 1; i < n; i++)
            for (int q = 0; q < FADE_TAIL_SEGMENTS; q++)
                xin [i][q] = tail [i][q] + gains [i - 1] - gains [i];
        if (s_file_loudness (album, analyses, n, prof->cd, silent, xin, file_lufs))
            break;                      //  out of memory: the first pass stands
        lmax = -HUGE_VAL;
        for (size_t i = 0; i < n; i++) {
            ext [i].integrated_lufs = file_lufs [i];
            if (!silent [i] && file_lufs [i] > lmax)
                lmax = file_lufs [i];
        }
    }
    if (n_loud > 0)
    switch (lc->policy) {
        case POLICY_TRACK:
            for (size_t i = 0; i < n; i++)
                gains [i] = silent [i] ? 0.0 : target - file_lufs [i];
            break;
        case POLICY_ALBUM:
            album_gain = s_solve_album_gain (&alb, target, 0, 0.0, silent, gains);
            break;
        case POLICY_LOUDEST:
            album_gain = target - lmax;
            s_common_gains (n, album_gain, silent, gains);
            break;
        case POLICY_HYBRID:
            album_gain = s_solve_album_gain (&alb, target, 1, dev, silent, gains);
            break;
    }
    }
    double pmin = HUGE_VAL, pmax = -HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
        track_plan_t *tp = &plan->tracks [i];
        const settings_t *ts = &album->tracks [i].s;
        tp->silent = silent [i];
        tp->side_mid_to_db = NAN;
        tp->width_share = 0.0;
        tp->gain_db = silent [i] ? 0.0 : gains [i];
        tp->target_lufs = silent [i] ? NAN : file_lufs [i] + gains [i];
        tp->ceiling_dbtp = ceiling;
        if (isfinite (ts->chain.limiter.ceiling_dbtp) && ts->chain.limiter.ceiling_dbtp < ceiling)
            tp->ceiling_dbtp = ts->chain.limiter.ceiling_dbtp;
        tp->fade_in_frames = (int64_t) llround (ts->fade_in_s * out_rate_hz);
        tp->fade_out_frames = (int64_t) llround (ts->fade_out_s * out_rate_hz);
        assemble_file_pads (album, prof->cd, out_rate_hz, i, &tp->pad_lead_frames,
                            &tp->pad_trail_frames, &tp->cut_trail_frames);
        //  the track before's tail in this file, at its planned gain
        tp->xfade_in_frames = i > 0 ? assemble_frames (album->tracks [i - 1].s.crossfade_s,
                                                       out_rate_hz) : 0;
        for (int q = 0; q < FADE_TAIL_SEGMENTS; q++)
            tp->xfade_in_lufs [q] = i > 0 && isfinite (tail [i][q]) ? tail [i][q] + gains [i - 1]
                                                                   : NAN;
        if (silent [i])
            continue;
        if (tp->target_lufs < pmin) pmin = tp->target_lufs;
        if (tp->target_lufs > pmax) pmax = tp->target_lufs;
    }
    plan->album_planned_lufs = s_album_lufs (&alb, gains);
    plan->spread_lu = n_loud ? pmax - pmin : 0.0;

    //  the record: inputs, then decisions
    json_object_set_new (rep, "profile", json_string (prof->name));
    json_object_set_new (rep, "policy", json_string (s_policy_names [lc->policy]));
    json_object_set_new (rep, "target_lufs", json_real (target));
    json_object_set_new (rep, "target_from", json_string (n_refs > 0 ? "reference"
                                                          : lc->has_target ? "job" : "profile"));
    if (n_refs > 0)
        json_object_set_new (rep, "reference_lufs", s_num (ref_lufs));
    json_object_set_new (rep, "ceiling_dbtp", json_real (ceiling));
    json_object_set_new (rep, "max_deviation_lu", json_real (dev));
    json_object_set_new (rep, "out_rate_hz", json_integer (out_rate_hz));
    json_object_set_new (rep, "album_input_lufs", s_num (in_album));
    json_object_set_new (rep, "album_input_method", json_string ("BS.1770-4 gating over the union of all tracks' blocks, with the blocks at track edges next to gaps"));
    json_object_set_new (rep, "edge_count", json_integer (n_edges));
    json_object_set_new (rep, "mean_of_track_lufs_not_used", s_num (in_mean));
    json_object_set_new (rep, "album_gain_db", s_num (album_gain));
    json_object_set_new (rep, "album_planned_lufs", s_num (plan->album_planned_lufs));
    json_object_set_new (rep, "silent_tracks", json_integer ((json_int_t) (n - n_loud)));
    json_object_set_new (rep, "silent_method", json_string ("no measurable loudness (every block under the -70 LUFS absolute gate): gain 0 dB, no tonal correction, outside the album loudness"));
    json_object_set_new (rep, "spread_lu", s_num (plan->spread_lu));

    int rc = n_refs > 0
           ? s_plan_reference (album, analyses, n, no, refs, n_refs, target, silent, plan, rep,
                               err, err_size)
           : s_plan_tonal (album, analyses, n, no, numbers != NULL, silent, plan, rep,
                           err, err_size);
    if (rc == 0) {
        json_t *jtr = json_array ();
        json_object_set_new (rep, "tracks", jtr);
        for (size_t i = 0; i < n; i++) {
            const track_plan_t *tp = &plan->tracks [i];
            json_t *o = json_object ();
            json_object_set_new (o, "index", json_integer ((json_int_t) no [i]));
            json_object_set_new (o, "silent", json_boolean (tp->silent));
            json_object_set_new (o, "path", album->tracks [i].path ? json_string (album->tracks [i].path) : json_null ());
            json_object_set_new (o, "input_lufs", s_num (analyses [i]->integrated_lufs));
            json_object_set_new (o, "input_file_lufs", s_num (tp->silent ? -HUGE_VAL
                                                                         : file_lufs [i]));
            json_object_set_new (o, "input_true_peak_dbtp", s_num (analyses [i]->true_peak_dbtp));
            json_object_set_new (o, "duration_s", s_num (analyses [i]->duration_s));
            json_object_set_new (o, "blocks", json_integer ((json_int_t) analyses [i]->n_blocks));
            json_object_set_new (o, "gain_db", s_num (tp->gain_db));
            json_object_set_new (o, "planned_lufs", s_num (tp->target_lufs));
            int pulled = lc->policy == POLICY_HYBRID && !tp->silent
                      && fabs (tp->gain_db - album_gain) > 1e-9;
            json_object_set_new (o, "pulled_to_bound", json_boolean (pulled));
            json_object_set_new (o, "ceiling_dbtp", s_num (tp->ceiling_dbtp));
            json_object_set_new (o, "fade_in_frames", json_integer (tp->fade_in_frames));
            json_object_set_new (o, "fade_out_frames", json_integer (tp->fade_out_frames));
            json_object_set_new (o, "pad_lead_frames", json_integer (tp->pad_lead_frames));
            json_object_set_new (o, "pad_trail_frames", json_integer (tp->pad_trail_frames));
            json_object_set_new (o, "cut_trail_frames", json_integer (tp->cut_trail_frames));
            json_object_set_new (o, "xfade_in_frames", json_integer (tp->xfade_in_frames));
            json_t *xl = json_array ();
            for (int q = 0; tp->xfade_in_frames > 0 && q < FADE_TAIL_SEGMENTS; q++)
                json_array_append_new (xl, s_num (tp->xfade_in_lufs [q]));
            json_object_set_new (o, "xfade_in_lufs", xl);
            json_object_set_new (o, "tonal_db", s_bands (tp->tonal_db));
            if (plan->reference) {
                json_object_set_new (o, "side_mid_db", s_num (analyses [i]->side_mid_db));
                json_object_set_new (o, "width_intensity", s_num (tp->width_share));
            }
            json_array_append_new (jtr, o);
        }
        plan->report_json = json_dumps (rep, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION (10));
        if (!plan->report_json)
            rc = MF_ERR_NOMEM;
    }
    json_decref (rep);
    free (file_lufs);
    free (tail);
    free (xin);
    free (gains);
    free (no);
    free (silent);
    s_union_free (&alb);
    s_edge_free (ext, extp, n);
    if (rc != 0)
        planner_plan_free (plan);
    return rc;
}

//  Frees the plan's arrays; NULL-safe.
void
planner_plan_free (album_plan_t *plan)
{
    if (!plan)
        return;
    free (plan->tracks);
    free (plan->report_json);
    plan->tracks = NULL;
    plan->report_json = NULL;
    plan->n_tracks = 0;
}
