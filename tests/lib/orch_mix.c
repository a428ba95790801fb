/*  The generated orchestral-like mix (see orch_mix.h). Additive synthesis
    in double, one frame at a time, then one scale to the -1 dBFS peak.  */
#include "orch_mix.h"
#include "testsig.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ORCH_NOTES     4
#define ORCH_HARMS     6
#define ORCH_PP_DB     (-13.0)      //  pp against ff
#define ORCH_MF_DB     (-9.0)
#define ORCH_STRIKE    6.0          //  the timpani's attack: peaks far above the loudness

//  The dynamic plan, dB against ff, at u = t / length (0 .. 1).
static double
s_level_db (double u)
{
    if (u < 0.20) return ORCH_PP_DB;
    if (u < 0.40) return ORCH_PP_DB * (1.0 - (u - 0.20) / 0.20);         //  crescendo
    if (u < 0.60) return 0.0;                                            //  ff tutti
    if (u < 0.72) return ORCH_PP_DB * (u - 0.60) / 0.12;                 //  diminuendo
    if (u < 0.87) return ORCH_PP_DB;
    return ORCH_MF_DB;
}

void
orch_mix_generate (audio_t *a, double seconds, int rate_hz, int channels, uint64_t seed)
{
    if (seconds < 10.0)
        seconds = 10.0;
    int64_t frames = (int64_t) llround (seconds * rate_hz);
    testsig_alloc (a, frames, channels, rate_hz);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, seed);
    //  three chords of four notes (Hz): D minor, B flat major, A major
    static const double chords [3][ORCH_NOTES] = {
        { 146.83, 174.61, 220.00, 293.66 },
        { 116.54, 174.61, 233.08, 293.66 },
        { 110.00, 138.59, 164.81, 220.00 } };
    static const double pan [ORCH_NOTES] = { 0.15, 0.4, 0.6, 0.85 };   //  0 left .. 1 right
    double phase [ORCH_NOTES][2][ORCH_HARMS];
    double brass_phase [3][12];
    for (int n = 0; n < ORCH_NOTES; n++)
        for (int v = 0; v < 2; v++)
            for (int h = 0; h < ORCH_HARMS; h++)
                phase [n][v][h] = 2 * M_PI * testsig_rng_uniform (&rng);
    for (int n = 0; n < 3; n++)
        for (int h = 0; h < 12; h++)
            brass_phase [n][h] = 2 * M_PI * testsig_rng_uniform (&rng);
    double bow [2] = { 0, 0 }, strike_env = 0.0, timp_env = 0.0, timp_phase = 0.0, timp_noise = 0.0;
    const double dt = 1.0 / rate_hz;
    const double chord_s = 4.0, stroke_s = 0.75;
    for (int64_t i = 0; i < frames; i++) {
        double t = (double) i * dt;
        double u = t / seconds;
        double lev_db = s_level_db (u);
        double g = pow (10.0, lev_db / 20.0);
        double bright = 1.0 - lev_db / ORCH_PP_DB;       //  0 at pp .. 1 at ff
        if (bright < 0.0)
            bright = 0.0;
        const double *chord = chords [(int) (t / chord_s) % 3];
        double vib = 1.0 + 0.003 * sin (2 * M_PI * 5.5 * t);
        double out [2] = { 0, 0 }, amp [ORCH_HARMS];
        for (int h = 0; h < ORCH_HARMS; h++)
            amp [h] = pow (1.0 / (h + 1), 1.8 - 0.8 * bright);
        //  strings: two detuned voices per note, harmonics brighter when loud
        for (int n = 0; n < ORCH_NOTES; n++) {
            double note = 0.0;
            for (int v = 0; v < 2; v++) {
                double f = chord [n] * (v ? 1.0017 : 0.9983) * vib;
                for (int h = 0; h < ORCH_HARMS; h++) {
                    phase [n][v][h] += 2 * M_PI * f * (h + 1) * dt;
                    if (phase [n][v][h] > 2 * M_PI)
                        phase [n][v][h] -= 2 * M_PI;
                    note += amp [h] * sin (phase [n][v][h]);
                }
            }
            out [0] += note * cos (pan [n] * M_PI / 2);
            out [1] += note * sin (pan [n] * M_PI / 2);
        }
        //  brass in the loud passages: a fifth and an octave, bright
        double brass = 0.0;
        if (bright > 0.5) {
            static const double bf [3] = { 146.83, 220.0, 293.66 };
            double w = (bright - 0.5) * 2.0;
            for (int n = 0; n < 3; n++)
                for (int h = 0; h < 12; h++) {
                    brass_phase [n][h] += 2 * M_PI * bf [n] * (h + 1) * dt;
                    if (brass_phase [n][h] > 2 * M_PI)
                        brass_phase [n][h] -= 2 * M_PI;
                    brass += w * 0.5 / (h + 1) * sin (brass_phase [n][h]);
                }
        }
        //  timpani strokes in ff and at the top of the crescendo
        double ts = fmod (t, stroke_s);
        if (ts < dt && lev_db > -6.0) {
            timp_env = 1.0 + 0.3 * testsig_rng_uniform (&rng);
            strike_env = timp_env;
            timp_phase = 0.0;
        }
        timp_env *= exp (-dt / 0.35);
        strike_env *= exp (-dt / 0.004);
        timp_phase += 2 * M_PI * 98.0 * (1.0 + 0.05 * timp_env) * dt;
        double wn = testsig_rng_gauss (&rng);
        timp_noise += 0.2 * (wn - timp_noise);
        double timp = timp_env * (2.2 * sin (timp_phase) + 0.5 * sin (1.5 * timp_phase))
                    + ORCH_STRIKE * strike_env * timp_noise;
        for (int c = 0; c < 2; c++) {
            bow [c] += 0.05 * (testsig_rng_gauss (&rng) - bow [c]);
            out [c] = g * (out [c] + 0.4 * bow [c] + brass * (c ? 0.8 : 1.0)) + g * timp;
        }
        for (int c = 0; c < channels; c++)
            a->data [(size_t) i * channels + c] =
                (float) (channels == 1 ? 0.5 * (out [0] + out [1]) : out [c]);
    }
    //  sample peak to -1 dBFS
    float peak = 0.0f;
    size_t n = (size_t) frames * (size_t) channels;
    for (size_t k = 0; k < n; k++)
        peak = fmaxf (peak, fabsf (a->data [k]));
    float scale = peak > 0.0f ? (float) (pow (10.0, -1.0 / 20.0) / peak) : 1.0f;
    for (size_t k = 0; k < n; k++)
        a->data [k] *= scale;
}
