/*  The album plan (DESIGN.md "The flow of one album", step 3): a pure
    function of the tracks' analyses and the album's settings. No I/O.

    Loudness policies (ITU-R BS.1770-4 gating on the union of all tracks'
    blocks for album loudness, never an average of track values):
      track    each track to the target
      album    one gain for all tracks; album loudness hits the target
      loudest  one gain so the loudest track hits the target (AES TD1008)
      hybrid   album gain, then tracks further than max_deviation_lu from
               the target pulled to that bound
    Tonal consistency: each track's 1/3-octave spectrum is moved toward the
    target spectrum (album loudness-weighted mean, or a reference track's)
    by strength, smoothed across bands and bounded by max_db.  */
#ifndef MF_PLANNER_H
#define MF_PLANNER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/fade.h"
#include "common/measure.h"
#include "common/profile.h"
#include "common/spec.h"

typedef struct {
    const measure_t *m;                //  the reference's analysis
    double           side_mid_db;      //  its side/mid energy ratio, dB (NAN: not stereo)
    double           weight;           //  > 0; normalised over the references
} planner_ref_t;

typedef struct {
    double target_lufs;                //  planned output loudness of the track
    double gain_db;                    //  static gain: target_lufs - input loudness
    double ceiling_dbtp;
    double tonal_db [MEASURE_BANDS];   //  correction per band (0 when off)
    int64_t fade_in_frames;            //  at the output rate
    int64_t fade_out_frames;
    int64_t pad_lead_frames;           //  silence the track's file holds before
                                       //  its audio (track 1: the pregap) and
    int64_t pad_trail_frames;          //  after it (the next track's gap), at the
                                       //  output rate; 0 at a crossfade, where
    int64_t cut_trail_frames;          //  its file ends this many frames before
                                       //  its audio does (assemble_file_pads)
    int64_t xfade_in_frames;           //  its file opens with a crossfade this long
    double  xfade_in_lufs [FADE_TAIL_SEGMENTS];  //  ... over the track before's tail
                                       //  at these levels along it, as planned
                                       //  (common/fade.h; NAN: silent or unknown)
    double  side_mid_to_db;            //  reference match: the side/mid ratio the
                                       //  master moves toward after its pre-gain
                                       //  stages (NAN: no width change) ...
    double  width_share;               //  ... this share of the way (0 .. 1)
    bool    silent;                    //  no measurable loudness: gain 0, no
                                       //  target (target_lufs NAN), no tonal
                                       //  correction, outside the album loudness
    double  post_gain_db;              //  the album correction's gain after the
                                       //  limiter, which the assembly applies
                                       //  (broker/graph.c); 0: none. The master
                                       //  lands on target_lufs, the delivered
                                       //  track on target_lufs + post_gain_db
} track_plan_t;

typedef struct {
    profile_id_t  profile;
    double        album_target_lufs;   //  the album-level target
    double        album_planned_lufs;  //  predicted album loudness after gains
    double        spread_lu;           //  max - min of planned track loudness
                                       //  (0 when no track has loudness)
    bool          reference;           //  tonal curves and widths match reference files
                                       //  (the tonal EQ runs minimum phase)
    int           out_rate_hz;         //  every master of the album renders at this
    track_plan_t *tracks;              //  n_tracks entries (owned)
    size_t        n_tracks;
    char         *report_json;         //  every input and decision (owned)
} album_plan_t;

//  Plans one album for one profile. analyses[i] is track i's measurement
//  (input loudness, blocks, spectrum). A track with no measurable loudness
//  (digital silence, or every block under the -70 LUFS absolute gate) is
//  planned silent: no gain, no target, no tonal correction, and left out
//  of the album loudness and of the tonal target; it never fails the plan.
//  Returns 0, MF_ERR_INVALID (a track has no analysis, or the tonal
//  reference track is out of range or not in the list; err names the
//  track), MF_ERR_NOMEM. Tracks are numbered 1..n in messages.
int planner_plan_album (const spec_album_t *album, const measure_t *const *analyses,
                        profile_id_t profile, int out_rate_hz,
                        album_plan_t *plan, char *err, size_t err_size);

//  planner_plan_album for a list of some of an album's tracks (those
//  analysed): album->tracks[i] is the track numbered numbers[i] in the
//  spec (1-based; NULL: i + 1). Messages and the record name tracks by
//  these numbers, and album->s.tonal.reference_track (an index in the
//  spec's album) is found among them.
//
//  With n_refs reference files (the album's tonal "reference", in its
//  order, weights from the spec) the album is matched to them: its target
//  moves from the profile's toward their weighted loudness by the album's
//  loudness intensity, then every track gets planner_reference_match's
//  tonal curve and side gain at its own tone and width intensities and
//  max_db (the tonal "strength" is not used). MF_ERR_INVALID when a
//  reference has no measurable loudness.
int planner_plan_tracks (const spec_album_t *album, const measure_t *const *analyses,
                         const int *numbers, const planner_ref_t *refs, size_t n_refs,
                         profile_id_t profile, int out_rate_hz,
                         album_plan_t *plan, char *err, size_t err_size);

/*  The album correction. The plan predicts the album's loudness from the
    tracks' input blocks moved by their gains; the master lands every
    track on its planned loudness, but its dynamics stages change how a
    track's blocks spread (a compressor lifts quiet passages over the
    album's relative gate, a limiter trims the loud ones), so the album
    as delivered can read off the plan though every track is on its own.
    After every track of a complete album is mastered, outputs[i] holds
    track i's delivered blocks (block_lufs, n_blocks; nothing else is
    read), gated as the album file would be (edges at gaps included).
    When that reading, *measured_lufs, is off the plan's album loudness by
    more than PLANNER_ALBUM_TOL_LU, the album's policy is solved again on
    the delivered blocks: album, the common shift g with the album at its
    planned loudness; hybrid, each track's target + g clamped to
    target +- max_deviation_lu again. shift_db[i] (n_tracks of them; 0
    for silent tracks) is what track i's planned loudness and gain move
    by; mastered again there, the album lands on the plan (the shift is
    small, and the chain responds to it nearly as a gain). Returns 1 with
    the shifts, 0 when the album is within the tolerance (shifts 0),
    MF_ERR_INVALID when the policy has no album target (track, loudest),
    an output is missing or the album has no loudness, MF_ERR_NOMEM.  */
#define PLANNER_ALBUM_TOL_LU   0.05
#define PLANNER_ALBUM_ROUNDS   2       //  corrections at most, per album and profile

int planner_album_correct (const spec_album_t *album, const album_plan_t *plan,
                           const measure_t *const *outputs, double *shift_db,
                           double *measured_lufs);

//  True when a track's measurement holds no measurable loudness: its
//  integrated loudness is not finite (every block under the absolute
//  gate) or it has no 400 ms block.
bool planner_track_silent (const measure_t *m);

//  The tonal correction curve (MEASURE_BANDS dB) from raw, the wanted
//  change per band (target shape minus the track's), over the bands
//  where usable[b] is non-zero: smoothed (local linear fit, Gaussian
//  weights of sigma 1/2 octave), unusable bands holding the nearest
//  usable value, zero mean over the usable bands, clipped to +-max_db,
//  then scaled by strength (0 .. 1). All zero when no band is usable.
void planner_tonal_curve (const double *raw, const int *usable, double strength,
                          double max_db, double *out);

/*  Reference mastering: one track matched to one or more weighted
    references (files of any rate and length, analysed by
    worker/reference.h) in tonal balance, loudness and stereo width, each
    with its own intensity 0 .. 1.

      tone      the track's spectrum shape is moved toward the weighted
                mean of the references' shapes (each relative to its mean
                over the usable bands) by planner_tonal_curve with
                strength = tone and the cap max_db; realised by the
                minimum-phase tonal EQ (no pre-ringing)
      loudness  target = profile target + loudness * (reference - profile
                target), the reference loudness the weighted mean of the
                references' integrated loudness; kept within -40 .. -5
                LUFS. The profile's true-peak ceiling and the limiter's
                max_gr_db still bound what is delivered: a reference
                louder than the limiter may reach is met only that far
                (the master report says gr_capped)
      width     the references' side/mid energy ratio R_ref in dB (the
                weighted mean over the stereo references; NAN when none
                is stereo with side content); the master moves the ratio
                its pre-gain stages leave R width of the way toward it
                with a side gain 10^(width * (R_ref - R) / 20) bounded to
                0 .. 2 (worker/master.h width_to_db, width_share): the
                tonal EQ changes R, so the gain is found after it

    Spectral distance (planner_spectral_distance): the RMS over the
    1/3-octave bands from 40 Hz to 16 kHz of the difference of two shapes,
    each relative to its own mean over those bands (dB).  */

typedef struct {
    double tone;                       //  0 .. 1
    double loudness;                   //  0 .. 1
    double width;                      //  0 .. 1
    double max_db;                     //  cap of the tonal correction, 0 .. 12
} planner_ref_cfg_t;

typedef struct {
    double tonal_db [MEASURE_BANDS];   //  correction curve (minimum phase)
    double target_lufs;                //  blended loudness target
    double ref_lufs;                   //  weighted reference loudness
    double ref_side_mid_db;            //  weighted reference side/mid (NAN: none)
    double distance_db;                //  spectral distance track -> target, before
    double ref_shape_db [MEASURE_BANDS];   //  the target shape
} planner_ref_plan_t;

//  Plans the match of track to n_refs references; profile_target_lufs is
//  where loudness intensity 0 lands.
//  Returns 0 or MF_ERR_INVALID (no reference, a weight not > 0, an
//  intensity out of 0 .. 1, a reference or the track without measurable
//  loudness; err says which).
int planner_reference_match (const measure_t *track, const planner_ref_t *refs, size_t n_refs,
                             const planner_ref_cfg_t *cfg, double profile_target_lufs,
                             planner_ref_plan_t *out, char *err, size_t err_size);

//  Spectral distance between two band spectra (dB); see above. NAN when a
//  band from 40 Hz to 16 kHz is not finite in either.
double planner_spectral_distance (const double *a_db, const double *b_db);

//  Album loudness (LUFS) as the album file will read: BS.1770-4 gating over
//  the union of the tracks' blocks, each shifted by gain_db[i] (NULL: no
//  gains), plus the partial blocks where a track meets a gap or the
//  pregap (broker/planner.c explains them). For the report and tests on
//  measured outputs. -HUGE_VAL when nothing passes the gates or an input
//  is missing; NAN when out of memory.
double planner_album_lufs (const spec_album_t *album, const measure_t *const *tracks,
                           const double *gain_db);

//  Frees the plan's arrays; NULL-safe.
void planner_plan_free (album_plan_t *plan);

#endif
