/*  Shared helpers on track measurements: band centres and the exact
    BS.1770-4 gating over the union of several tracks' blocks.  */
#include "common/measure.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double
measure_band_hz (int band)
{
    //  ISO 266 preferred 1/3-octave centres, 25 Hz .. 20 kHz
    static const double centres [MEASURE_BANDS] = {
        25, 31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630,
        800, 1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000,
        12500, 16000, 20000
    };
    return band >= 0 && band < MEASURE_BANDS ? centres [band] : 0.0;
}

const char *
measure_loudness_channels (int channels)
{
    return channels == 1 ? "dual-mono" : channels == 2 ? "stereo" : "multichannel";
}

void
measure_free (measure_t *m)
{
    if (!m)
        return;
    free (m->block_lufs);
    m->block_lufs = NULL;
    m->n_blocks = 0;
}

//  Loudness (LUFS) to mean-square energy and back, BS.1770-4 eq. (2).
static double s_energy (double lufs) { return pow (10.0, (lufs + 0.691) / 10.0); }
static double s_lufs (double energy) { return -0.691 + 10.0 * log10 (energy); }

double
measure_gated_loudness (const measure_t *const *tracks, const double *gain_db,
                        size_t n_tracks)
{
    //  First pass: absolute gate at -70 LUFS, mean energy of what passes.
    double sum = 0.0;
    size_t count = 0;
    for (size_t t = 0; t < n_tracks; t++) {
        double g = gain_db ? gain_db [t] : 0.0;
        for (size_t i = 0; i < tracks [t]->n_blocks; i++) {
            double l = tracks [t]->block_lufs [i] + g;
            if (l > -70.0) {
                sum += s_energy (l);
                count++;
            }
        }
    }
    if (count == 0)
        return -HUGE_VAL;
    double relative_gate = s_lufs (sum / (double) count) - 10.0;

    //  Second pass: blocks above both gates.
    sum = 0.0;
    count = 0;
    for (size_t t = 0; t < n_tracks; t++) {
        double g = gain_db ? gain_db [t] : 0.0;
        for (size_t i = 0; i < tracks [t]->n_blocks; i++) {
            double l = tracks [t]->block_lufs [i] + g;
            if (l > -70.0 && l > relative_gate) {
                sum += s_energy (l);
                count++;
            }
        }
    }
    return count ? s_lufs (sum / (double) count) : -HUGE_VAL;
}
