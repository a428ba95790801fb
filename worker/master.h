/*  Mastering one track: the chain of DESIGN.md ("The mastering chain")
    with the loudness closed loop, as a library. `masterfarm master` and
    the farm's master task both call master_run.

    The closed loop: the static gain before the limiter is adjusted until
    the limited output measures target_lufs (BS.1770-4, libebur128) within
    0.05 LU, unless that would need more than chain.limiter.max_gr_db of
    limiter gain reduction; then it stops at that bound and says so in the
    report (gr_capped) instead of crushing the track.  */
#ifndef MF_MASTER_H
#define MF_MASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/fade.h"
#include "common/measure.h"
#include "common/spec.h"
#include "worker/audio_io.h"
#include "common/results.h"
#include "worker/codec_check.h"

//  The targets master_run takes: from BS.1770's absolute gate to 0 LUFS.
#define MASTER_TARGET_MIN_LUFS  -70.0
#define MASTER_TARGET_MAX_LUFS    0.0

//  The delivered output's 400 ms gating blocks, in measure.h's convention
//  (block i ends at (i + 4) * 100 ms; a silent one reads
//  ANALYSIS_FLOOR_LUFS): what the album stage gates the album's output
//  loudness on before it assembles (broker/planner.h
//  planner_album_correct). lufs is malloc'd; the caller frees it.
typedef struct {
    float  *lufs;
    size_t  n;
} master_blocks_t;

typedef struct {
    chain_cfg_t  chain;          //  stages and their parameters (validated)
    double       target_lufs;    //  where the output must land, after limiting
    double       ceiling_dbtp;   //  true-peak ceiling after dither and encoding
    double       gain_db;        //  planned static gain; NAN: target - input loudness
    bool         has_tonal;      //  apply tonal_db
    double       tonal_db [MEASURE_BANDS];  //  1/3-octave correction curve, dB
    double       width_to_db;    //  reference match: the side/mid ratio (dB) a stereo
                                 //  track moves toward after the pre-gain stages,
                                 //  width_share of the way (side gain within 0 .. 2);
                                 //  NAN: no change
    double       width_share;    //  0 .. 1
    int          out_rate_hz;    //  resample to this (libsoxr, very high quality)
    int          out_bits;       //  16 or 24 quantise (with dither if chain.dither
                                 //  and bits < 24); 32: float, no quantisation
    int          later_bits;     //  0, or the shorter word the assembly quantises
                                 //  this master to (the album flow hands a 16-bit
                                 //  profile's masters over in 24 bits): the
                                 //  true-peak checks keep room under the ceiling
                                 //  for that dither
    double       fade_in_s;      //  0 in the album flow (assemble fades)
    double       fade_out_s;
    fade_curve_t fade_curve;
    master_blocks_t *blocks;     //  not NULL: filled with the delivered output's
                                 //  blocks (what it held before is freed)
    //  The per-track file the master goes into (the album flow): it holds
    //  file_lead_frames of silence before the master and file_trail_frames
    //  after it (the pregap; the next track's gap), and the assembly fades
    //  it in and out over file_fade_in_frames and file_fade_out_frames
    //  (fade_curve) after trimming the master's silence (file_trim_db), and
    //  ends file_cut_frames before the master where it crossfades. The loudness loop reads the master as a meter reads
    //  that file, so the file lands on target_lufs: out_lufs and out_lra_lu
    //  are the file's, and blocks carry its fades (not its silence, which
    //  the album plan models itself). All 0: the master alone.
    int64_t      file_lead_frames;
    int64_t      file_trail_frames;
    int64_t      file_fade_in_frames;
    int64_t      file_fade_out_frames;
    int64_t      file_cut_frames;      //  a crossfade into the next track: the
                                       //  file ends this many frames before the
                                       //  master (the overlap is the next file's)
    int64_t      file_xfade_in_frames; //  a crossfade from the track before: the
    double       file_xfade_in_lufs [FADE_TAIL_SEGMENTS];  //  file opens with the
                                       //  master under its gain over that track's
                                       //  tail at these levels (fade_tail_mean;
                                       //  NAN: silent or not known)
    double       file_trim_db;         //  the assembly trims the master's start
                                       //  and end under this (dBFS; NAN: no trim)
    //  Reads the input again into *in (the samples the master was given,
    //  in a buffer of samples_alloc), or returns an error with err. Given,
    //  the render the loudness loop stops on is made over the track's
    //  samples rather than made a second time, and the input is read again
    //  on the rare occasions the loop goes on from it. NULL: every
    //  render keeps the samples. master_run sets its own (a copy of in).
    int        (*reload) (void *arg, audio_t *in, char *err, size_t err_size);
    void        *reload_arg;
} master_opts_t;


//  Sets opts to the neutral chain of DESIGN.md's example defaults for a
//  profile (NULL: float output at the source rate, every stage off).
void master_opts_default (master_opts_t *opts, const profile_t *profile, int source_rate_hz);

//  Masters in into out (allocated here; free with audio_free). out has
//  out_rate_hz and, for 16/24-bit, samples exactly on the output word's
//  grid so that writing it is lossless. Returns 0, MF_ERR_INVALID (opts
//  out of range; err names the parameter), MF_ERR_UNSUPPORTED (rate or
//  channels), MF_ERR_NOMEM; err holds one line on failure.
int master_run (const audio_t *in, const master_opts_t *opts, audio_t *out,
                master_report_t *report, char *err, size_t err_size);

//  master_run that takes in's samples instead of copying them: the
//  pre-gain stages run on them in place and they are freed, whatever
//  the outcome (in->data is NULL on return; the other fields stay).
//  Saves a copy and the memory of one track.
int master_run_take (audio_t *in, const master_opts_t *opts, audio_t *out,
                     master_report_t *report, char *err, size_t err_size);

//  Codec-safe peaks: at most this many masterings, each with the ceiling
//  lowered by the last decoded over plus MASTER_CODEC_MARGIN_DB; a safe one
//  more than MASTER_CODEC_SLACK_DB under is raised by its slack less the
//  margin (halfway to a limit that went over) when passes are left to
//  master at the safe limit again should the raise go over.
#define MASTER_CODEC_PASSES     4
#define MASTER_CODEC_MARGIN_DB  0.1
#define MASTER_CODEC_SLACK_DB   0.25  //  safe this far under: kept as is

//  master_run_take, then the lossy round trips of codec_check.h (at kbps)
//  on the
//  result (in the report); with safe, while a decoded version is over the
//  ceiling, the track is mastered again with the ceiling lowered by the
//  excess (at most MASTER_CODEC_PASSES times; the report says the ceiling
//  it ended at and whether it made it). Takes in's samples like
//  master_run_take. Returns master_run's errors, or MF_ERR_NOMEM.
int master_run_codec (audio_t *in, const master_opts_t *opts, int kbps, bool safe,
                      audio_t *out, master_report_t *report, char *err, size_t err_size);

//  Integrated loudness (ITU-R BS.1770-4: K-weighting, 400 ms blocks every
//  100 ms, -70 LUFS absolute and -10 LU relative gates) of interleaved
//  audio, LUFS; -HUGE_VAL for silence or less than 400 ms. The loudness
//  loop's own fast meter; agrees with libebur128 to within 0.01 LU
//  (tested). Channel layout as worker/analysis.h (L R C LFE Ls Rs Lb Rb);
//  mono is dual-mono (counted twice, +3.01 dB), as the analysis.
double master_loudness_lufs (const float *data, int64_t frames, int channels, int rate_hz);

//  The same integrated loudness and the loudness range (EBU Tech 3342,
//  libebur128's conventions: 3 s windows every 1 s, -70 LUFS and -20 LU
//  gates, 10th to 95th percentile; 0 when shorter than 3 s), in one pass.
void master_measure_loudness (const float *data, int64_t frames, int channels, int rate_hz,
                              double *lufs, double *lra_lu);

//  The same measured on audio fed in pieces (the album stage's): new for
//  channels at rate_hz (NULL on bad arguments or out of memory), add each
//  piece in order (0 or MF_ERR_NOMEM), then the result (-HUGE_VAL and 0
//  when under 400 ms). Equal to master_measure_loudness on the whole to
//  rounding (~1e-12 relative).
typedef struct master_meter_s master_meter_t;
master_meter_t *master_meter_new (int channels, int rate_hz);
int master_meter_add (master_meter_t *meter, const float *data, int64_t frames);
void master_meter_result (const master_meter_t *meter, double *lufs, double *lra_lu);
//  The 400 ms blocks measured so far into *blocks (master_blocks_t; what
//  it held is freed). Returns 0 or MF_ERR_NOMEM.
int master_meter_blocks (const master_meter_t *meter, master_blocks_t *blocks);
void master_meter_destroy (master_meter_t **meter);

#endif
