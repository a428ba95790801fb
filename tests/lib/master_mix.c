/*  The generated test mix (see master_mix.h). Additive synthesis in
    double, one frame at a time; seconds of audio take milliseconds.  */
#include "master_mix.h"
#include "testsig.h"

#include <math.h>
#include <string.h>

void
master_mix_generate (audio_t *a, double seconds, int rate_hz, int channels, uint64_t seed)
{
    int64_t frames = (int64_t) llround (seconds * rate_hz);
    testsig_alloc (a, frames, channels, rate_hz);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, seed);
    static const double roots [4] = { 110.0, 87.31, 130.81, 98.0 };   //  A F C G
    const double beat_s = 0.5;
    double lp [2] = { 0, 0 }, hp_prev [2] = { 0, 0 }, hat_env = 0, bed [2] = { 0, 0 };
    for (int64_t i = 0; i < frames; i++) {
        double t = (double) i / rate_hz;
        int bar = (int) (t / 2.0);
        double root = roots [bar % 4];
        double chorus = ((int) (t / 8.0) % 2) ? 1.6 : 1.0;       //  louder sections
        double tb = fmod (t, beat_s);
        //  kick: 110 -> 45 Hz sweep, 150 ms decay
        double kf = 45.0 + 65.0 * exp (-tb / 0.03);
        double kick = 0.45 * exp (-tb / 0.15) * sin (2 * M_PI * kf * tb);
        //  bass: root an octave down, soft saw from 4 harmonics
        double bass = 0;
        for (int h = 1; h <= 4; h++)
            bass += sin (2 * M_PI * root / 2 * h * t) / h;
        bass *= 0.12 * (0.6 + 0.4 * exp (-tb / 0.2));
        //  chord: root, third, fifth, 3 harmonics each, slow swell
        double chord [2] = { 0, 0 };
        static const double ratios [3] = { 1.0, 1.2599, 1.4983 };
        for (int n = 0; n < 3; n++)
            for (int h = 1; h <= 3; h++) {
                double v = sin (2 * M_PI * root * 2 * ratios [n] * h * t + n) / (h * h);
                chord [0] += v * (n == 2 ? 0.6 : 1.0);
                chord [1] += v * (n == 0 ? 0.6 : 1.0);
            }
        double swell = 0.05 * (0.7 + 0.3 * sin (2 * M_PI * t / 2.0));
        //  hats on the eighths: high-passed noise, 30 ms decay
        double te = fmod (t, beat_s / 2);
        if (te < 1.0 / rate_hz)
            hat_env = 1.0;
        hat_env *= exp (-1.0 / (0.03 * rate_hz));
        for (int c = 0; c < channels; c++) {
            double w = testsig_rng_gauss (&rng);
            double hp = w - hp_prev [c];
            hp_prev [c] = w;
            lp [c] += 0.3 * (hp - lp [c]);
            bed [c] += 0.02 * (w - bed [c]);
            double hat = 0.06 * hat_env * lp [c];
            double v = chorus * (kick + bass + swell * chord [c % 2] + hat) + 0.02 * bed [c];
            a->data [(size_t) i * channels + c] = (float) (0.55 * v);
        }
    }
}

void
master_mix_add_bursts (audio_t *a, int n, double burst_s, double freq_hz, double peak)
{
    const int64_t len = (int64_t) llround (burst_s * a->rate_hz);
    const int64_t edge = (int64_t) llround (0.005 * a->rate_hz);
    for (int k = 0; k < n; k++) {
        int64_t c = (int64_t) ((k + 0.5) / n * (double) a->frames);
        int64_t from = c - len / 2;
        for (int64_t i = 0; i < len; i++) {
            int64_t f = from + i;
            if (f < 0 || f >= a->frames)
                continue;
            double env = 1.0;
            if (i < edge)
                env = 0.5 - 0.5 * cos (M_PI * (double) i / (double) edge);
            else
            if (len - 1 - i < edge)
                env = 0.5 - 0.5 * cos (M_PI * (double) (len - 1 - i) / (double) edge);
            double v = peak * env * sin (2.0 * M_PI * freq_hz * (double) i / a->rate_hz);
            for (int ch = 0; ch < a->channels; ch++)
                a->data [(size_t) f * (size_t) a->channels + (size_t) ch] += (float) v;
        }
    }
}
