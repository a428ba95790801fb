/*  Measuring a mastering reference: the analysis of worker/analysis.h
    (loudness, gating blocks, 1/3-octave spectrum) plus the stereo width
    as the side/mid energy ratio, for a file of any length and rate.

    A reference file is read in segments of segment_s seconds (libsndfile,
    float), never whole, so a two-hour reference takes the memory of one
    segment. Each segment is analysed on its own; the results combine as
    one analysis of the file would:
      - loudness: BS.1770-4 gating over the union of every segment's
        blocks (the blocks that straddle a segment boundary are not
        formed: 3 of every segment_s * 10, negligible for 60 s);
      - spectrum: each segment's gated band powers weighted by how many of
        its blocks pass the file's gates (its share of the programme the
        file-level gating keeps);
      - side/mid: M = (L + R) / 2, S = (L - R) / 2, the ratio of their
        energies summed over every frame, 10 log10 (E_S / E_M) dB
        (-HUGE_VAL for mono or a file with no side content; NAN when not
        stereo).  */
#ifndef MF_REFERENCE_H
#define MF_REFERENCE_H

#include <stddef.h>

#include "common/measure.h"
#include "worker/audio_io.h"

#define REFERENCE_SEGMENT_S   60.0

typedef struct {
    measure_t m;                 //  format, rate, duration, loudness, blocks, spectrum
    double    side_mid_db;       //  10 log10 (E_side / E_mid); NAN: not stereo
} reference_measure_t;

//  Analyses audio held in memory (a track to be matched). Returns 0 or
//  the errors of analysis_run with err filled; free with reference_free.
int reference_analyse_audio (const audio_t *audio, reference_measure_t *out,
                             char *err, size_t err_size);

//  Analyses the file at path in segments of segment_s seconds (1 .. 3600;
//  0: REFERENCE_SEGMENT_S). Returns 0, MF_ERR_IO (cannot open or read),
//  MF_ERR_FORMAT (not audio, no frames, a non-finite sample),
//  MF_ERR_UNSUPPORTED (channels or rate), MF_ERR_NOMEM; err names the file.
int reference_analyse_file (const char *path, double segment_s, reference_measure_t *out,
                            char *err, size_t err_size);

//  Frees the owned arrays; NULL-safe.
void reference_free (reference_measure_t *r);

#endif
