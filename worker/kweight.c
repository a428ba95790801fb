/*  K-weighted loudness from hop energies (see kweight.h).  */
#include "worker/kweight.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

//  The two K-weighting biquads for rate_hz; see kweight.h.
void
kweight_coefs (int rate_hz, double b [2][3], double a [2][3])
{
    double f0 = 1681.974450955533, g = 3.999843853973347, q = 0.7071752369554196;
    double k = tan (M_PI * f0 / rate_hz);
    double vh = pow (10.0, g / 20.0), vb = pow (vh, 0.4996667741545416);
    double a0 = 1.0 + k / q + k * k;
    b [0][0] = (vh + vb * k / q + k * k) / a0;
    b [0][1] = 2.0 * (k * k - vh) / a0;
    b [0][2] = (vh - vb * k / q + k * k) / a0;
    a [0][0] = 1.0;
    a [0][1] = 2.0 * (k * k - 1.0) / a0;
    a [0][2] = (1.0 - k / q + k * k) / a0;
    f0 = 38.13547087602444;
    q = 0.5003270373238773;
    k = tan (M_PI * f0 / rate_hz);
    a0 = 1.0 + k / q + k * k;
    b [1][0] = 1.0;
    b [1][1] = -2.0;
    b [1][2] = 1.0;
    a [1][0] = 1.0;
    a [1][1] = 2.0 * (k * k - 1.0) / a0;
    a [1][2] = (1.0 - k / q + k * k) / a0;
}

//  BS.1770-4 Table 3 weights, mono counted twice; see kweight.h.
void
kweight_channel_weights (int channels, double w [KWEIGHT_MAX_CH])
{
    for (int c = 0; c < KWEIGHT_MAX_CH; c++)
        w [c] = c >= channels ? 0.0 : c == 3 ? 0.0 : c >= 4 ? 1.41 : 1.0;
    if (channels == 1)
        w [0] = 2.0;
}

int64_t
kweight_hop_frames (int rate_hz)
{
    return ((int64_t) rate_hz + 5) / 10;
}

void
kweight_filter_init (kweight_filter_t *f, int channels, int rate_hz)
{
    memset (f, 0, sizeof *f);
    f->channels = channels;
    kweight_coefs (rate_hz, f->b, f->a);
    kweight_channel_weights (channels, f->w);
}

//  Two doubles: the left and right channel of a frame side by side.
typedef double s_v2d_t __attribute__ ((vector_size (16)));

//  Stereo: both channels in one two-double vector, the operations of the
//  scalar form below in the same order for each.
static double
s_sum_stereo (kweight_filter_t *f, const float *x, int64_t frames)
{
    const double *b0 = f->b [0], *a0 = f->a [0], *a1 = f->a [1];
    const s_v2d_t b00 = { b0 [0], b0 [0] }, b01 = { b0 [1], b0 [1] }, b02 = { b0 [2], b0 [2] };
    const s_v2d_t a01 = { a0 [1], a0 [1] }, a02 = { a0 [2], a0 [2] };
    const s_v2d_t a11 = { a1 [1], a1 [1] }, a12 = { a1 [2], a1 [2] }, two = { 2.0, 2.0 };
    s_v2d_t s0 = { f->st [0][0], f->st [1][0] }, s1 = { f->st [0][1], f->st [1][1] };
    s_v2d_t t0 = { f->st [0][2], f->st [1][2] }, t1 = { f->st [0][3], f->st [1][3] };
    s_v2d_t acc = { 0.0, 0.0 };
    for (int64_t i = 0; i < frames; i++) {
        s_v2d_t v = { x [2 * i], x [2 * i + 1] };
        s_v2d_t y = b00 * v + s0;
        s0 = (b01 * v + s1) - a01 * y;
        s1 = b02 * v - a02 * y;
        s_v2d_t z = y + t0;
        t0 = (t1 - two * y) - a11 * z;
        t1 = y - a12 * z;
        acc += z * z;
    }
    f->st [0][0] = s0 [0]; f->st [1][0] = s0 [1];
    f->st [0][1] = s1 [0]; f->st [1][1] = s1 [1];
    f->st [0][2] = t0 [0]; f->st [1][2] = t0 [1];
    f->st [0][3] = t1 [0]; f->st [1][3] = t1 [1];
    return f->w [0] * acc [0] + f->w [1] * acc [1];
}

double
kweight_filter_sum (kweight_filter_t *f, const float *x, int64_t frames)
{
    if (f->channels == 2)
        return s_sum_stereo (f, x, frames);
    const double b00 = f->b [0][0], b01 = f->b [0][1], b02 = f->b [0][2];
    const double a01 = f->a [0][1], a02 = f->a [0][2], a11 = f->a [1][1], a12 = f->a [1][2];
    const size_t ch = (size_t) f->channels;
    double total = 0.0;
    for (size_t c = 0; c < ch; c++) {
        if (f->w [c] <= 0.0)
            continue;
        double *s = f->st [c], s0 = s [0], s1 = s [1], t0 = s [2], t1 = s [3], acc = 0.0;
        for (int64_t i = 0; i < frames; i++) {
            double v = x [(size_t) i * ch + c];
            double y = b00 * v + s0;
            s0 = (b01 * v + s1) - a01 * y;
            s1 = b02 * v - a02 * y;
            double z = y + t0;
            t0 = (t1 - 2.0 * y) - a11 * z;
            t1 = y - a12 * z;
            acc += z * z;
        }
        s [0] = s0; s [1] = s1; s [2] = t0; s [3] = t1;
        total += f->w [c] * acc;
    }
    return total;
}

double
kweight_integrated (const double *hop_e, int64_t n_hops)
{
    const int64_t n_blocks = n_hops - 3;
    const double abs_gate = pow (10.0, (-70.0 + 0.691) / 10.0);
    double sum = 0.0;
    int64_t n = 0;
    for (int64_t k = 0; k < n_blocks; k++) {
        double e = 0.25 * (hop_e [k] + hop_e [k + 1] + hop_e [k + 2] + hop_e [k + 3]);
        if (e > abs_gate) {
            sum += e;
            n++;
        }
    }
    if (n == 0)
        return -HUGE_VAL;
    double rel_gate = sum / (double) n * 0.1;
    double sum2 = 0.0;
    int64_t n2 = 0;
    for (int64_t k = 0; k < n_blocks; k++) {
        double e = 0.25 * (hop_e [k] + hop_e [k + 1] + hop_e [k + 2] + hop_e [k + 3]);
        if (e > abs_gate && e > rel_gate) {
            sum2 += e;
            n2++;
        }
    }
    return n2 > 0 ? -0.691 + 10.0 * log10 (sum2 / (double) n2) : -HUGE_VAL;
}

//  qsort order for doubles, ascending.
static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

double
kweight_range (const double *hop_e, int64_t n_hops)
{
    if (n_hops < 30)
        return 0.0;
    int64_t n_st = (n_hops - 30) / 10 + 1;
    double *st = malloc ((size_t) n_st * sizeof (double));
    if (!st)
        return 0.0;
    const double abs_gate = pow (10.0, (-70.0 + 0.691) / 10.0);
    int64_t n = 0;
    double sum = 0.0;
    for (int64_t k = 0; k < n_st; k++) {
        double e = 0.0;
        for (int64_t h = 10 * k; h < 10 * k + 30; h++)
            e += hop_e [h];
        e /= 30.0;
        if (e >= abs_gate) {
            st [n++] = e;
            sum += e;
        }
    }
    double lra = 0.0;
    if (n > 0) {
        double rel_gate = sum / (double) n * 0.01;       //  -20 LU
        int64_t m = 0;
        for (int64_t k = 0; k < n; k++)
            if (st [k] >= rel_gate)
                st [m++] = st [k];
        if (m > 0) {
            qsort (st, (size_t) m, sizeof (double), s_cmp_double);
            size_t lo = (size_t) ((double) (m - 1) * 0.10 + 0.5);
            size_t hi = (size_t) ((double) (m - 1) * 0.95 + 0.5);
            lra = 10.0 * log10 (st [hi]) - 10.0 * log10 (st [lo]);
        }
    }
    free (st);
    return lra;
}
