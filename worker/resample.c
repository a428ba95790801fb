/*  libsoxr wrapper: streaming and whole-buffer conversion with an exact
    output length (see resample.h). The output length is enforced by
    counting: frames emitted beyond round (total_in * ratio) are dropped,
    and when libsoxr's flushed tail falls short, zeros are appended.  */
#include "worker/resample.h"
#include "common/err.h"

#include <soxr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESAMPLE_SCRATCH_FRAMES 4096
#define RESAMPLE_PIECE_FRAMES   65536   //  input frames per call in resample_audio

struct resample_s {
    soxr_t   soxr;           //  NULL when the rates are equal
    int      channels;
    int      in_rate_hz;
    int      out_rate_hz;
    int64_t  in_total;       //  frames fed so far
    int64_t  out_total;      //  frames emitted so far
    bool     drained;        //  libsoxr has nothing more
    float   *scratch;        //  RESAMPLE_SCRATCH_FRAMES frames to discard into
};

int64_t
resample_out_frames (int64_t in_frames, int in_rate_hz, int out_rate_hz)
{
    if (in_frames <= 0 || in_rate_hz <= 0 || out_rate_hz <= 0)
        return 0;
    //  in_frames <= 2^40 and rates <= 2^19: the product fits in 64 bits
    __int128 num = (__int128) in_frames * out_rate_hz * 2 + in_rate_hz;
    return (int64_t) (num / (2 * (__int128) in_rate_hz));
}

resample_t *
resample_new (int channels, int in_rate_hz, int out_rate_hz)
{
    if (channels < 1 || channels > AUDIO_MAX_CHANNELS
    ||  in_rate_hz < AUDIO_MIN_RATE_HZ || in_rate_hz > AUDIO_MAX_RATE_HZ
    ||  out_rate_hz < AUDIO_MIN_RATE_HZ || out_rate_hz > AUDIO_MAX_RATE_HZ)
        return NULL;
    resample_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->channels = channels;
    self->in_rate_hz = in_rate_hz;
    self->out_rate_hz = out_rate_hz;
    if (in_rate_hz != out_rate_hz) {
        self->scratch = malloc (RESAMPLE_SCRATCH_FRAMES * (size_t) channels * sizeof (float));
        if (!self->scratch) {
            free (self);
            return NULL;
        }
        soxr_error_t error = NULL;
        soxr_io_spec_t io = soxr_io_spec (SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        soxr_quality_spec_t q = soxr_quality_spec (SOXR_VHQ, 0);
        soxr_runtime_spec_t rt = soxr_runtime_spec (1);
        self->soxr = soxr_create ((double) in_rate_hz, (double) out_rate_hz,
                                  (unsigned) channels, &error, &io, &q, &rt);
        if (!self->soxr || error) {
            soxr_delete (self->soxr);
            free (self->scratch);
            free (self);
            return NULL;
        }
    }
    return self;
}

void
resample_destroy (resample_t **self_p)
{
    if (self_p && *self_p) {
        soxr_delete ((*self_p)->soxr);
        free ((*self_p)->scratch);
        free (*self_p);
        *self_p = NULL;
    }
}

int64_t
resample_process (resample_t *self, const float *in, size_t in_frames,
                  bool last, float *out, size_t out_cap)
{
    const size_t ch = (size_t) self->channels;
    self->in_total += (int64_t) in_frames;
    int64_t target = resample_out_frames (self->in_total, self->in_rate_hz,
                                          self->out_rate_hz);
    int64_t room = target - self->out_total;
    if (!last)
        room = (int64_t) out_cap;         //  the target may still grow
    if (room > (int64_t) out_cap)
        room = (int64_t) out_cap;
    if (room < 0)
        room = 0;

    if (!self->soxr) {
        //  equal rates: a copy (in_frames <= out_cap is the caller's contract)
        size_t n = in_frames < out_cap ? in_frames : out_cap;
        if (n)
            memcpy (out, in, n * ch * sizeof (float));
        self->out_total += (int64_t) n;
        return (int64_t) n;
    }
    if (in_frames == 0 && !last)
        return 0;
    size_t done = 0;
    if (!self->drained) {
        //  feed all input; libsoxr may take it in parts when the output
        //  room is short, so what cannot be kept goes to a scratch area
        //  (only when last: beyond the exact length it is discarded)
        size_t fed = 0;
        int guard = 0;
        while (fed < in_frames || (in_frames == 0 && guard == 0)) {
            size_t idone = 0, odone = 0;
            float *dst = out + done * ch;
            size_t olen = (size_t) room - done;
            if (olen == 0) {
                dst = self->scratch;
                olen = RESAMPLE_SCRATCH_FRAMES;
            }
            soxr_error_t e;
            if (in_frames > 0)
                e = soxr_process (self->soxr, in + fed * ch, in_frames - fed, &idone,
                                  dst, olen, &odone);
            else
                e = soxr_process (self->soxr, NULL, 0, NULL, dst, olen, &odone);
            if (e)
                return MF_ERR_INTERNAL;
            if (dst != self->scratch)
                done += odone;
            fed += idone;
            if (in_frames == 0) {
                if (last && odone == 0)
                    self->drained = true;
                break;
            }
            if (idone == 0 && odone == 0 && ++guard > 1000)
                return MF_ERR_INTERNAL;       //  no progress: a bug
        }
        if (last && in_frames > 0) {
            //  signal end of input right away and collect what fits
            size_t more = 0;
            if (soxr_process (self->soxr, NULL, 0, NULL, out + done * ch,
                              (size_t) room - done, &more))
                return MF_ERR_INTERNAL;
            done += more;
        }
    }
    if (last) {
        if ((int64_t) done > room)
            done = (size_t) room;
        if (self->drained && self->out_total + (int64_t) done < target) {
            //  libsoxr's tail came up short: pad with silence
            int64_t pad = target - self->out_total - (int64_t) done;
            if (pad > (int64_t) out_cap - (int64_t) done)
                pad = (int64_t) out_cap - (int64_t) done;
            memset (out + done * ch, 0, (size_t) pad * ch * sizeof (float));
            done += (size_t) pad;
        }
    }
    self->out_total += (int64_t) done;
    return (int64_t) done;
}

//  Gives the pages wholly inside frames [*released, upto) of x back to
//  the kernel (they read as zeros afterwards) and moves *released on.
static void
s_release (float *x, size_t ch, size_t *released, size_t upto)
{
    samples_release (x, *released * ch, upto * ch);
    *released = upto;
}

//  resample_audio; with release, the input's pages are given back as the
//  conversion passes them.
static int
s_resample (const audio_t *in, bool release, int out_rate_hz, audio_t *out,
            char *err, size_t err_size)
{
    if (out_rate_hz < AUDIO_MIN_RATE_HZ || out_rate_hz > AUDIO_MAX_RATE_HZ
    ||  in->rate_hz < AUDIO_MIN_RATE_HZ || in->rate_hz > AUDIO_MAX_RATE_HZ) {
        snprintf (err, err_size, "resampling %d Hz to %d Hz: rates must be %d .. %d Hz",
                  in->rate_hz, out_rate_hz, AUDIO_MIN_RATE_HZ, AUDIO_MAX_RATE_HZ);
        return MF_ERR_UNSUPPORTED;
    }
    int64_t want = resample_out_frames (in->frames, in->rate_hz, out_rate_hz);
    size_t ch = (size_t) in->channels;
    //  filled as the input is consumed (and, with release, given back):
    //  its pages come as they are written, not all at once
    float *data = samples_alloc_lazy ((size_t) (want > 0 ? want : 1) * ch);
    resample_t *rs = resample_new (in->channels, in->rate_hz, out_rate_hz);
    if (!data || !rs) {
        samples_free (data);
        resample_destroy (&rs);
        snprintf (err, err_size, "resampling %d Hz to %d Hz: out of memory",
                  in->rate_hz, out_rate_hz);
        return MF_ERR_NOMEM;
    }
    //  in pieces: given a whole track at once, libsoxr copies all of it
    //  into its own buffers first (memory of several tracks); piecewise
    //  its output is the same, sample for sample
    int64_t got = 0;
    size_t pos = 0, released = 0;
    do {
        size_t step = (size_t) in->frames - pos;
        if (step > RESAMPLE_PIECE_FRAMES)
            step = RESAMPLE_PIECE_FRAMES;
        bool last = pos + step == (size_t) in->frames;
        int64_t n = resample_process (rs, in->data + pos * ch, step, last,
                                      data + (size_t) got * ch, (size_t) (want - got));
        if (n < 0) {
            got = n;
            break;
        }
        got += n;
        pos += step;
        //  a piece behind: libsoxr may still hold pointers into the last
        if (release && pos > 2 * RESAMPLE_PIECE_FRAMES
        &&  pos - 2 * RESAMPLE_PIECE_FRAMES >= released + RESAMPLE_PIECE_FRAMES)
            s_release (in->data, ch, &released, pos - 2 * RESAMPLE_PIECE_FRAMES);
    } while (pos < (size_t) in->frames);
    while (got >= 0 && got < want) {
        int64_t n = resample_process (rs, NULL, 0, true, data + (size_t) got * ch,
                                      (size_t) (want - got));
        if (n < 0) {
            got = n;
            break;
        }
        if (n == 0 && got < want && rs->drained) {
            //  drained and padded by the last call; nothing further can come
            break;
        }
        got += n;
    }
    resample_destroy (&rs);
    if (got < 0) {
        samples_free (data);
        snprintf (err, err_size, "resampling %d Hz to %d Hz: libsoxr failed",
                  in->rate_hz, out_rate_hz);
        return MF_ERR_INTERNAL;
    }
    memset (out, 0, sizeof *out);
    out->data = data;
    out->frames = got;
    out->channels = in->channels;
    out->rate_hz = out_rate_hz;
    out->bits = in->bits;
    out->is_float = in->is_float;
    memcpy (out->format, in->format, sizeof out->format);
    return 0;
}

int
resample_audio (const audio_t *in, int out_rate_hz, audio_t *out,
                char *err, size_t err_size)
{
    return s_resample (in, false, out_rate_hz, out, err, err_size);
}

int
resample_audio_take (audio_t *in, int out_rate_hz, audio_t *out, char *err, size_t err_size)
{
    int rc = s_resample (in, true, out_rate_hz, out, err, err_size);
    audio_free (in);
    return rc;
}
