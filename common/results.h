/*  What tasks return, and how it travels from the worker that fills it to
    the broker that reads it: an analysis (measure_t, as the protobuf
    Analysis message), a master's report (master_report_t, as JSON in
    Result.report_json) and an album's layout (assemble_layout_t, with its
    rate, as JSON). Both sides link this; the broker links no DSP.  */
#ifndef MF_RESULTS_H
#define MF_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/album_layout.h"
#include "common/measure.h"
#include "common/spec.h"
#include "masterfarm.pb-c.h"

//  The lossy codecs of the codec check (worker/codec_check.h).
typedef enum { CODEC_MP3 = 0, CODEC_VORBIS, CODEC_OPUS, CODEC_COUNT } codec_id_t;

//  The codec's name in reports ("mp3", "vorbis", "opus").
const char *codec_name (codec_id_t codec);

//  What mastering one track did (worker/master.h fills it).
typedef struct {
    double in_lufs;              //  input integrated loudness
    double out_lufs;             //  output integrated loudness (as delivered)
    double out_lra_lu;
    double out_true_peak_dbtp;   //  after dither: the larger of the own 4x meter
                                 //  and the accurate check (dsp/tp_check.h)
    double gain_db;              //  static gain finally used
    double gr_max_db;            //  limiter gain reduction, maximum
    double gr_avg_db;            //  limiter gain reduction, mean over the track
    double gr_sustained_db;      //  limiter gain reduction, sustained
                                 //  (limiter_gr_sustained_db): what the cap
                                 //  compares with max_gr_db
    bool   gr_capped;            //  the target needed more than max_gr_db
    double limiter_ceiling_dbtp; //  the limiter's ceiling as it ran: the ceiling less
                                 //  its margin, lower only where overs it missed ran
                                 //  through the track (worker/master.c)
    double tp_fixed_ms;          //  time under local true-peak corrections (overs
                                 //  the limiter's detector missed, near the
                                 //  Nyquist frequency), 0: none
    int    loop_iterations;
    int    renders;              //  passes of the gain and limiter over the track
                                 //  (the loop's, its corrections', the delivered
                                 //  output's); not in the JSON
    double tonal_db [MEASURE_BANDS]; //  correction applied (after bounds)
    double width;                //  side gain a reference match applied (1: none)
    double side_mid_db;          //  the side/mid ratio after it (NAN: not measured)
    comp_cfg_t compressor;       //  the glue compressor as it ran: a relative threshold
                                 //  resolved into threshold_db; enabled false when off
    double comp_gr_max_db;       //  its gain reduction, maximum
    double comp_gr_avg_db;       //  its gain reduction, mean over the track
    //  lossy round trips (worker/codec_check.h), when asked for
    bool   codec_checked;
    bool   codec_available [CODEC_COUNT];
    double codec_true_peak_dbtp [CODEC_COUNT];  //  decoded, own 4x meter
    double codec_kbps [CODEC_COUNT];             //  each stream's measured bitrate
    bool   codec_safe;           //  the ceiling was lowered until they were under it
    double codec_ceiling_dbtp;   //  the ceiling the delivered master was limited to
    int    codec_passes;         //  masterings it took (1: as planned)
    //  the delivered output's 400 ms blocks (measure.h's convention), not
    //  owned: results_master_json carries them as "out_blocks" when set
    //  (results_master_blocks reads them back); results_master_parse
    //  leaves them NULL
    const float *out_blocks;
    size_t       n_out_blocks;
} master_report_t;

//  Fills pb from m; pb points into m's arrays (band_db and block_lufs are
//  not copied; pb->band_db must have room: use the caller's array band).
void results_analysis_to_pb (const measure_t *m, Masterfarm__Analysis *pb,
                          double band [MEASURE_BANDS]);

//  Fills m from pb (block_lufs allocated; free with measure_free).
//  Returns 0, MF_ERR_FORMAT (band count wrong or values not finite where
//  they must be) or MF_ERR_NOMEM.
int results_analysis_from_pb (const Masterfarm__Analysis *pb, measure_t *m);

//  A master report as JSON (caller frees), NULL on out of memory.
char *results_master_json (const master_report_t *r);

//  Parses results_master_json's output. Returns 0 or MF_ERR_FORMAT.
int results_master_parse (const char *json, master_report_t *r);

//  The output blocks a master report carries ("out_blocks": each block's
//  loudness in hundredths of an LU as a 16-bit little-endian integer,
//  the lot in base64; -32768 is ANALYSIS_FLOOR_LUFS or less), into
//  *blocks (allocated; NULL and 0 when there are none). Rounding moves a
//  block by at most 0.005 LU. Returns 0, MF_ERR_FORMAT (not a report, or
//  blocks that do not decode) or MF_ERR_NOMEM.
int results_master_blocks (const char *json, float **blocks, size_t *n);

//  A copy of a master report without its output blocks (the album stage
//  keeps reports after it has read them), or NULL on out of memory or a
//  text that is not a JSON object.
char *results_master_drop_blocks (const char *json);

//  An album layout and its rate as JSON (caller frees), NULL on out of memory.
char *results_layout_json (const assemble_layout_t *layout, int rate_hz);

//  Parses results_layout_json's output (layout arrays allocated; free with
//  assemble_layout_free). Returns 0, MF_ERR_FORMAT or MF_ERR_NOMEM.
int results_layout_parse (const char *json, assemble_layout_t *layout, int *rate_hz);

#endif
