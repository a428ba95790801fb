/*  Fade curves and their sample-accurate application (see fade.h for the
    formulas and the frame-position convention). Gains are computed in
    double per frame; fades are short, so no table is kept.  */
#include "common/fade.h"
#include "common/err.h"

#include <math.h>
#include <string.h>

double
fade_gain (fade_curve_t curve, double x)
{
    if (!(x > 0.0))
        return 0.0;                  //  also catches NaN
    if (x >= 1.0)
        return 1.0;
    switch (curve) {
        case FADE_EXPONENTIAL:
            return expm1 (FADE_EXP_K * x) / expm1 (FADE_EXP_K);
        case FADE_LOGARITHMIC:
            return log1p (expm1 (FADE_EXP_K) * x) / FADE_EXP_K;
        case FADE_SCURVE:
            return 0.5 * (1.0 - cos (M_PI * x));
        case FADE_EQUAL_POWER:
            return sin (0.5 * M_PI * x);
        case FADE_LINEAR:
        default:
            return x;
    }
}

static const struct {
    const char  *name;
    fade_curve_t curve;
} s_names [] = {
    { "linear", FADE_LINEAR }, { "exponential", FADE_EXPONENTIAL },
    { "logarithmic", FADE_LOGARITHMIC }, { "s_curve", FADE_SCURVE },
    { "equal_power", FADE_EQUAL_POWER }, { "s-curve", FADE_SCURVE },
    { "scurve", FADE_SCURVE }, { "equal-power", FADE_EQUAL_POWER },
};

int
fade_curve_parse (const char *name, fade_curve_t *curve)
{
    for (size_t i = 0; name && i < sizeof s_names / sizeof s_names [0]; i++)
        if (strcmp (name, s_names [i].name) == 0) {
            *curve = s_names [i].curve;
            return 0;
        }
    return MF_ERR_INVALID;
}

const char *
fade_curve_name (fade_curve_t curve)
{
    for (size_t i = 0; i < 5; i++)
        if (s_names [i].curve == curve)
            return s_names [i].name;
    return "linear";
}

void
fade_apply (float *data, size_t frames, int channels, fade_curve_t curve,
            int64_t pos, int64_t fade_frames, bool fade_out)
{
    if (fade_frames <= 0)
        return;
    for (size_t i = 0; i < frames; i++) {
        int64_t k = pos + (int64_t) i;
        if (k < 0 || k >= fade_frames)
            continue;
        double x = fade_out ? 1.0 - (double) (k + 1) / (double) fade_frames
                            : (double) k / (double) fade_frames;
        float g = (float) fade_gain (curve, x);
        for (int c = 0; c < channels; c++)
            data [i * (size_t) channels + (size_t) c] *= g;
    }
}

void
fade_buffer (float *data, int64_t frames, int channels, fade_curve_t curve,
             int64_t fade_in_frames, int64_t fade_out_frames)
{
    if (frames <= 0)
        return;
    if (fade_in_frames > frames)
        fade_in_frames = frames;
    if (fade_out_frames > frames)
        fade_out_frames = frames;
    if (fade_in_frames > 0)
        fade_apply (data, (size_t) fade_in_frames, channels, curve, 0,
                    fade_in_frames, false);
    if (fade_out_frames > 0)
        fade_apply (data + (size_t) (frames - fade_out_frames) * (size_t) channels,
                    (size_t) fade_out_frames, channels, curve, 0, fade_out_frames, true);
}

double
fade_power_mean (fade_curve_t curve, int64_t frames, int64_t fade_in_frames,
                 int64_t fade_out_frames, int64_t from, int64_t to)
{
    if (to <= from)
        return 1.0;
    int64_t fin = fade_in_frames < frames ? fade_in_frames : frames;
    int64_t fout = fade_out_frames < frames ? fade_out_frames : frames;
    fin = fin > 0 ? fin : 0;
    fout = fout > 0 ? fout : 0;
    //  unfaded frames count 1; the faded ones are summed frame by frame
    double sum = 0.0;
    int64_t faded = 0;
    int64_t a = from > 0 ? from : 0, b = to < fin ? to : fin;
    int64_t o0 = frames - fout;
    for (int64_t k = a; k < b; k++) {
        double g = fade_gain (curve, (double) k / (double) fin);
        if (k >= o0)
            g *= fade_gain (curve, 1.0 - (double) (k - o0 + 1) / (double) fout);
        sum += g * g;
        faded++;
    }
    a = from > o0 ? from : o0;
    a = a > fin ? a : fin;                  //  frames under both fades are done
    b = to < frames ? to : frames;
    for (int64_t k = a; k < b && fout > 0; k++) {
        double g = fade_gain (curve, 1.0 - (double) (k - o0 + 1) / (double) fout);
        sum += g * g;
        faded++;
    }
    return (sum + (double) (to - from - faded)) / (double) (to - from);
}

double
fade_tail_mean (const double *seg_energy, int64_t xfade, int64_t from, int64_t to)
{
    if (to <= from || xfade <= 0)
        return 0.0;
    double sum = 0.0;
    int64_t a = from > 0 ? from : 0, b = to < xfade ? to : xfade;
    for (int64_t k = a; k < b; k++) {
        double g = fade_gain (FADE_EQUAL_POWER, 1.0 - (double) k / (double) xfade);
        sum += g * g * seg_energy [(k * FADE_TAIL_SEGMENTS) / xfade];
    }
    return sum / (double) (to - from);
}
