/*  Measuring a mastering reference in segments (see reference.h).  */
#include "worker/reference.h"
#include "worker/analysis.h"
#include "common/err.h"

#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Frees the analysis's blocks; see reference.h.
void
reference_free (reference_measure_t *r)
{
    if (r)
        measure_free (&r->m);
}

//  analysis_run plus the side/mid ratio; see reference.h.
int
reference_analyse_audio (const audio_t *audio, reference_measure_t *out,
                         char *err, size_t err_size)
{
    memset (out, 0, sizeof *out);
    int rc = analysis_run (audio, NULL, &out->m, err, err_size);
    if (rc)
        return rc;
    out->side_mid_db = out->m.side_mid_db;
    return 0;
}

//  One segment's contribution, kept until the file-level gates are known.
typedef struct {
    double band_p [MEASURE_BANDS];     //  linear band powers (gated within the segment)
    size_t first_block;                //  its blocks in the union
    size_t n_blocks;
} s_seg_t;

//  Reads the file segment by segment, analyses each and combines them
//  (the top of reference.h says how); see reference.h for the errors.
int
reference_analyse_file (const char *path, double segment_s, reference_measure_t *out,
                        char *err, size_t err_size)
{
    memset (out, 0, sizeof *out);
    out->side_mid_db = NAN;
    if (segment_s == 0.0)
        segment_s = REFERENCE_SEGMENT_S;
    if (!(segment_s >= 1.0 && segment_s <= 3600.0)) {
        snprintf (err, err_size, "%s: segment of %g s; 1 .. 3600 s", path, segment_s);
        return MF_ERR_INVALID;
    }
    SF_INFO info;
    memset (&info, 0, sizeof info);
    SNDFILE *sf = sf_open (path, SFM_READ, &info);
    if (!sf) {
        snprintf (err, err_size, "%s: cannot open as audio (%s)", path, sf_strerror (NULL));
        return MF_ERR_IO;
    }
    if (info.channels < 1 || info.channels > AUDIO_MAX_CHANNELS
    ||  info.samplerate < AUDIO_MIN_RATE_HZ || info.samplerate > AUDIO_MAX_RATE_HZ) {
        snprintf (err, err_size, "%s: %d channels at %d Hz; 1 .. %d channels at %d .. %d Hz "
                  "can be a reference", path, info.channels, info.samplerate,
                  AUDIO_MAX_CHANNELS, AUDIO_MIN_RATE_HZ, AUDIO_MAX_RATE_HZ);
        sf_close (sf);
        return MF_ERR_UNSUPPORTED;
    }
    const int ch = info.channels;
    const int64_t seg = (int64_t) (segment_s * info.samplerate);
    audio_t a = { 0 };
    a.channels = ch;
    a.rate_hz = info.samplerate;
    a.data = malloc ((size_t) seg * (size_t) ch * sizeof (float));
    s_seg_t *segs = NULL;
    size_t n_segs = 0, cap_segs = 0;
    float *blocks = NULL;
    size_t n_blocks = 0, cap_blocks = 0;
    double mid_e = 0.0, side_e = 0.0;
    int64_t total = 0;
    int rc = MF_ERR_NOMEM;
    if (!a.data) {
        snprintf (err, err_size, "%s: out of memory for a %g s segment", path, segment_s);
        goto done;
    }
    for (;;) {
        sf_count_t got = sf_readf_float (sf, a.data, seg);
        if (got <= 0)
            break;
        a.frames = got;
        //  a last piece under 400 ms forms no block: it counts for width only
        double me, se;
        analysis_mid_side (a.data, a.frames, ch, &me, &se);
        mid_e += me;
        side_e += se;
        total += got;
        if (got * 10 < a.rate_hz * 4 && n_segs > 0)
            break;
        measure_t m;
        char e2 [256];
        rc = analysis_run (&a, NULL, &m, e2, sizeof e2);
        if (rc) {
            snprintf (err, err_size, "%s: at %.1f s: %s", path,
                      (double) (total - got) / a.rate_hz, e2);
            goto done;
        }
        if (n_segs == 0)
            snprintf (out->m.format, sizeof out->m.format, "%s", m.format);
        if (n_segs == cap_segs) {
            cap_segs = cap_segs ? 2 * cap_segs : 16;
            s_seg_t *p = realloc (segs, cap_segs * sizeof *segs);
            if (!p) {
                measure_free (&m);
                rc = MF_ERR_NOMEM;
                snprintf (err, err_size, "%s: out of memory", path);
                goto done;
            }
            segs = p;
        }
        if (n_blocks + m.n_blocks > cap_blocks) {
            cap_blocks = 2 * (n_blocks + m.n_blocks) + 64;
            float *p = realloc (blocks, cap_blocks * sizeof *blocks);
            if (!p) {
                measure_free (&m);
                rc = MF_ERR_NOMEM;
                snprintf (err, err_size, "%s: out of memory", path);
                goto done;
            }
            blocks = p;
        }
        s_seg_t *s = &segs [n_segs++];
        for (int b = 0; b < MEASURE_BANDS; b++)
            s->band_p [b] = isfinite (m.band_db [b]) ? pow (10.0, m.band_db [b] / 10.0) : 0.0;
        s->first_block = n_blocks;
        s->n_blocks = m.n_blocks;
        if (m.n_blocks)
            memcpy (blocks + n_blocks, m.block_lufs, m.n_blocks * sizeof *blocks);
        n_blocks += m.n_blocks;
        if (out->m.true_peak_dbtp < m.true_peak_dbtp || n_segs == 1)
            out->m.true_peak_dbtp = m.true_peak_dbtp;
        if (out->m.sample_peak_dbfs < m.sample_peak_dbfs || n_segs == 1)
            out->m.sample_peak_dbfs = m.sample_peak_dbfs;
        measure_free (&m);
        if (got < seg)
            break;
    }
    if (total == 0 || n_segs == 0) {
        snprintf (err, err_size, "%s: no audio frames", path);
        rc = MF_ERR_FORMAT;
        goto done;
    }
    out->m.rate_hz = a.rate_hz;
    out->m.channels = ch;
    out->m.frames = total;
    out->m.duration_s = (double) total / a.rate_hz;
    out->m.block_lufs = blocks;
    out->m.n_blocks = n_blocks;
    blocks = NULL;
    const measure_t *one = &out->m;
    out->m.integrated_lufs = measure_gated_loudness (&one, NULL, 1);
    //  the file's gates, then each segment's share of the blocks they keep
    double abs_e = pow (10.0, (-70.0 + 0.691) / 10.0), sum = 0.0;
    size_t count = 0;
    for (size_t k = 0; k < n_blocks; k++) {
        double e = pow (10.0, (out->m.block_lufs [k] + 0.691) / 10.0);
        if (e > abs_e) {
            sum += e;
            count++;
        }
    }
    double gate = count ? 0.1 * sum / (double) count : HUGE_VAL;
    double band [MEASURE_BANDS] = { 0 }, wsum = 0.0;
    for (size_t i = 0; i < n_segs; i++) {
        size_t pass = 0;
        for (size_t k = segs [i].first_block; k < segs [i].first_block + segs [i].n_blocks; k++) {
            double e = pow (10.0, (out->m.block_lufs [k] + 0.691) / 10.0);
            pass += e > abs_e && e > gate;
        }
        //  no block passes anywhere (silence): every segment by its length
        double w = count ? (double) pass : (double) (segs [i].n_blocks + 1);
        for (int b = 0; b < MEASURE_BANDS; b++)
            band [b] += w * segs [i].band_p [b];
        wsum += w;
    }
    for (int b = 0; b < MEASURE_BANDS; b++)
        out->m.band_db [b] = wsum > 0.0 && band [b] > 0.0 ? 10.0 * log10 (band [b] / wsum)
                                                          : -HUGE_VAL;
    out->side_mid_db = ch == 2 ? analysis_side_mid_db (mid_e, side_e) : NAN;
    out->m.side_mid_db = out->side_mid_db;
    rc = 0;
done:
    if (sf_error (sf) != SF_ERR_NO_ERROR && rc == 0) {
        snprintf (err, err_size, "%s: read error (%s)", path, sf_strerror (sf));
        rc = MF_ERR_IO;
    }
    sf_close (sf);
    free (a.data);
    free (segs);
    free (blocks);
    if (rc)
        reference_free (out);
    return rc;
}
