/*  Codec-safe peaks (see codec_check.h): encode to memory through
    libsndfile's virtual I/O, decode from the same bytes, measure.  */
#include "worker/codec_check.h"

#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "worker/dsp/truepeak.h"
#include "worker/resample.h"

//  A growing file in memory that libsndfile writes, seeks and reads.
typedef struct {
    unsigned char *data;
    sf_count_t     size, cap, pos;
    bool           failed;        //  out of memory while writing
} s_mem_t;

static sf_count_t s_len (void *u) { return ((s_mem_t *) u)->size; }
static sf_count_t s_tell (void *u) { return ((s_mem_t *) u)->pos; }

static sf_count_t
s_seek (sf_count_t off, int whence, void *u)
{
    s_mem_t *m = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;
    if (base + off < 0)
        return -1;
    m->pos = base + off;
    return m->pos;
}

static sf_count_t
s_read (void *ptr, sf_count_t count, void *u)
{
    s_mem_t *m = u;
    sf_count_t n = m->pos < m->size ? m->size - m->pos : 0;
    n = n < count ? n : count;
    if (n > 0)
        memcpy (ptr, m->data + m->pos, (size_t) n);
    m->pos += n;
    return n;
}

static sf_count_t
s_write (const void *ptr, sf_count_t count, void *u)
{
    s_mem_t *m = u;
    if (m->pos + count > m->cap) {
        sf_count_t cap = m->cap ? m->cap : 1 << 20;
        while (cap < m->pos + count)
            cap *= 2;
        unsigned char *d = realloc (m->data, (size_t) cap);
        if (!d) {
            m->failed = true;
            return 0;
        }
        m->data = d;
        m->cap = cap;
    }
    if (m->pos > m->size)                   //  a seek past the end: zeros between
        memset (m->data + m->size, 0, (size_t) (m->pos - m->size));
    memcpy (m->data + m->pos, ptr, (size_t) count);
    m->pos += count;
    if (m->pos > m->size)
        m->size = m->pos;
    return count;
}

static SF_VIRTUAL_IO s_vio = { s_len, s_seek, s_read, s_write, s_tell };

static const struct {
    const char *name;
    int         format;
} s_codecs [CODEC_COUNT] = {
    [CODEC_MP3]    = { "mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III },
    [CODEC_VORBIS] = { "vorbis", SF_FORMAT_OGG | SF_FORMAT_VORBIS },
    [CODEC_OPUS]   = { "opus", SF_FORMAT_OGG | SF_FORMAT_OPUS },
};

//  libsndfile's SFC_SET_COMPRESSION_LEVEL (0 best .. 1 smallest) for a
//  stereo bitrate: LAME's constant rate runs from 320 down to 32 kbps
//  over it; Vorbis takes quality 1 - level (nominal rates of libvorbis's
//  quality steps below); Opus takes (1 - level) x 250 + 6 kbps per channel.
static double
s_level (codec_id_t codec, int kbps, int channels)
{
    double x;
    if (codec == CODEC_MP3)
        x = (320.0 - kbps) / 288.0;
    else
    if (codec == CODEC_OPUS)
        x = 1.0 - ((double) kbps / channels - 6.0) / 250.0;
    else {
        static const double rate [] = { 96, 112, 128, 160, 192, 224, 256, 320, 500 };
        static const double q [] = { 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0 };
        double quality = 0.2;
        for (int i = 0; i < 9; i++)
            if (kbps >= rate [i])
                quality = q [i];
        x = 1.0 - quality;
    }
    return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

//  The rate a codec is fed for a master at rate_hz.
static int
s_codec_rate (codec_id_t codec, int rate_hz)
{
    if (codec == CODEC_OPUS)
        return 48000;
    if (rate_hz == 44100 || rate_hz == 48000)
        return rate_hz;
    return rate_hz % 11025 == 0 ? 44100 : 48000;
}

//  Encodes audio with codec into mem, decodes it and measures. Returns 0
//  with *tp, MF_ERR_NOMEM, or MF_ERR_UNSUPPORTED with why.
static int
s_round_trip (codec_id_t codec, const audio_t *a, int kbps, double *tp, double *got_kbps,
              char *why, size_t why_size)
{
    s_mem_t mem = { 0 };
    SF_INFO info = { .samplerate = a->rate_hz, .channels = a->channels,
                     .format = s_codecs [codec].format };
    int rc = MF_ERR_UNSUPPORTED;
    float *back = NULL;
    truepeak_t *meter = NULL;
    SNDFILE *sf = sf_format_check (&info) ? sf_open_virtual (&s_vio, SFM_WRITE, &info, &mem)
                                          : NULL;
    if (!sf) {
        snprintf (why, why_size, "this libsndfile cannot encode %s (%s)",
                  s_codecs [codec].name, sf_strerror (NULL));
        goto done;
    }
    if (codec == CODEC_MP3) {
        int mode = SF_BITRATE_MODE_CONSTANT;
        sf_command (sf, SFC_SET_BITRATE_MODE, &mode, sizeof mode);
    }
    double level = s_level (codec, kbps, a->channels);
    sf_command (sf, SFC_SET_COMPRESSION_LEVEL, &level, sizeof level);
    //  in pieces: libvorbis's analysis buffer is sized by the write, and
    //  a whole track in one write crashed it (a 50 s track at 48 kHz)
    sf_count_t put = 0;
    while (put < a->frames) {
        sf_count_t n = a->frames - put < 8192 ? a->frames - put : 8192;
        sf_count_t w = sf_writef_float (sf, a->data + (size_t) put * a->channels, n);
        if (w <= 0)
            break;
        put += w;
    }
    sf_close (sf);
    if (mem.failed) {
        rc = MF_ERR_NOMEM;
        goto done;
    }
    if (put != a->frames) {
        snprintf (why, why_size, "%s encoding stopped after %lld of %lld frames",
                  s_codecs [codec].name, (long long) put, (long long) a->frames);
        goto done;
    }
    //  decode from the start of the same bytes
    mem.pos = 0;
    SF_INFO rinfo;
    memset (&rinfo, 0, sizeof rinfo);
    sf = sf_open_virtual (&s_vio, SFM_READ, &rinfo, &mem);
    if (!sf) {
        snprintf (why, why_size, "cannot decode the %s stream (%s)", s_codecs [codec].name,
                  sf_strerror (NULL));
        goto done;
    }
    meter = truepeak_new (rinfo.samplerate, rinfo.channels);
    back = malloc (sizeof *back * 65536 * (size_t) rinfo.channels);
    if (!meter || !back) {
        sf_close (sf);
        rc = MF_ERR_NOMEM;
        goto done;
    }
    sf_command (sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    sf_count_t n, total = 0;
    while ((n = sf_readf_float (sf, back, 65536)) > 0) {
        truepeak_process (meter, back, (size_t) n);
        total += n;
    }
    sf_close (sf);
    if (total <= 0) {
        snprintf (why, why_size, "the %s stream decoded to nothing", s_codecs [codec].name);
        goto done;
    }
    *tp = truepeak_max_dbtp (meter);
    *got_kbps = (double) mem.size * 8.0 / 1000.0 / ((double) a->frames / a->rate_hz);
    rc = 0;
done:
    truepeak_destroy (&meter);
    free (back);
    free (mem.data);
    return rc;
}

int
codec_check_run (const audio_t *master, int kbps, codec_check_t *out, char *err,
                 size_t err_size)
{
    memset (out, 0, sizeof *out);
    audio_t rs [2] = { { 0 } };           //  the master at 44.1 and 48 kHz, made on demand
    int rc = 0;
    for (int c = 0; c < CODEC_COUNT && !rc; c++) {
        out->true_peak_dbtp [c] = -HUGE_VAL;
        int rate = s_codec_rate ((codec_id_t) c, master->rate_hz);
        const audio_t *a = master;
        if (rate != master->rate_hz) {
            audio_t *r = &rs [rate == 48000];
            if (!r->data && resample_audio (master, rate, r, err, err_size)) {
                snprintf (out->why [c], sizeof out->why [c], "cannot resample to %d Hz",
                          rate);
                continue;
            }
            a = r;
        }
        int trc = s_round_trip ((codec_id_t) c, a, kbps, &out->true_peak_dbtp [c],
                                &out->kbps [c], out->why [c], sizeof out->why [c]);
        if (trc == MF_ERR_NOMEM) {
            snprintf (err, err_size, "codec check: out of memory");
            rc = MF_ERR_NOMEM;
        }
        out->available [c] = trc == 0;
    }
    audio_free (&rs [0]);
    audio_free (&rs [1]);
    return rc;
}

double
codec_check_max_dbtp (const codec_check_t *check)
{
    double m = -HUGE_VAL;
    for (int c = 0; c < CODEC_COUNT; c++)
        if (check->available [c] && check->true_peak_dbtp [c] > m)
            m = check->true_peak_dbtp [c];
    return m;
}
