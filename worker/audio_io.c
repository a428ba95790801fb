/*  Audio file I/O with libsndfile: whole-file reads into interleaved float
    with every check a corrupt or hostile file needs, and tagged writes.  */
#include "worker/audio_io.h"
#include "common/sflog.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/sha256.h"
#include "worker/flac_out.h"

#include <errno.h>
#if defined (__SSE2__)
#include <emmintrin.h>
#endif
#if defined (__x86_64__) && defined (__GNUC__)
#include <tmmintrin.h>
#endif
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

//  Describes the libsndfile format as text for reports.
static void
s_describe (const SF_INFO *info, audio_t *a)
{
    const char *container = "audio";
    SF_FORMAT_INFO fi;
    fi.format = info->format & SF_FORMAT_TYPEMASK;
    if (sf_command (NULL, SFC_GET_FORMAT_INFO, &fi, sizeof fi) == 0 && fi.name)
        container = fi.name;
    const char *sub = "";
    a->bits = 0;
    a->is_float = false;
    switch (info->format & SF_FORMAT_SUBMASK) {
        case SF_FORMAT_PCM_S8: case SF_FORMAT_PCM_U8: sub = "PCM 8-bit"; a->bits = 8; break;
        case SF_FORMAT_PCM_16: sub = "PCM 16-bit"; a->bits = 16; break;
        case SF_FORMAT_PCM_24: sub = "PCM 24-bit"; a->bits = 24; break;
        case SF_FORMAT_PCM_32: sub = "PCM 32-bit"; a->bits = 32; break;
        case SF_FORMAT_FLOAT:  sub = "float 32-bit"; a->is_float = true; break;
        case SF_FORMAT_DOUBLE: sub = "float 64-bit"; a->is_float = true; break;
        case SF_FORMAT_VORBIS: sub = "Vorbis"; break;
        case SF_FORMAT_OPUS:   sub = "Opus"; break;
        default: sub = "encoded"; break;
    }
    //  keep the first word of libsndfile's container name ("WAV", "FLAC", "AIFF")
    char first [24];
    snprintf (first, sizeof first, "%s", container);
    char *sp = strpbrk (first, " (");
    if (sp)
        *sp = 0;
    snprintf (a->format, sizeof a->format, "%s %s", first, sub);
}

//  Bytes per stored sample of an uncompressed subformat, 0 otherwise.
static int
s_sample_bytes (int format)
{
    switch (format & SF_FORMAT_SUBMASK) {
        case SF_FORMAT_PCM_S8: case SF_FORMAT_PCM_U8: return 1;
        case SF_FORMAT_PCM_16: return 2;
        case SF_FORMAT_PCM_24: return 3;
        case SF_FORMAT_PCM_32: case SF_FORMAT_FLOAT: return 4;
        case SF_FORMAT_DOUBLE: return 8;
        default: return 0;
    }
}

//  Whether the subformat decodes from integers (always finite samples).
static bool
s_integer_pcm (int format)
{
    switch (format & SF_FORMAT_SUBMASK) {
        case SF_FORMAT_PCM_S8: case SF_FORMAT_PCM_U8: case SF_FORMAT_PCM_16:
        case SF_FORMAT_PCM_24: case SF_FORMAT_PCM_32:
            return true;
        default:
            return false;
    }
}

//  The channels and rate a file must have to be read. Returns 0 or
//  MF_ERR_UNSUPPORTED with err naming what.
static int
s_check_shape (const SF_INFO *info, const char *name, char *err, size_t err_size)
{
    if (info->channels < 1 || info->channels > AUDIO_MAX_CHANNELS) {
        snprintf (err, err_size, "%s: %d channels; 1 to %d are supported",
                  name, info->channels, AUDIO_MAX_CHANNELS);
        return MF_ERR_UNSUPPORTED;
    }
    if (info->samplerate < AUDIO_MIN_RATE_HZ || info->samplerate > AUDIO_MAX_RATE_HZ) {
        snprintf (err, err_size, "%s: sample rate %d Hz; %d to %d Hz are supported",
                  name, info->samplerate, AUDIO_MIN_RATE_HZ, AUDIO_MAX_RATE_HZ);
        return MF_ERR_UNSUPPORTED;
    }
    return 0;
}

//  Reads a 32-bit chunk size, little or (RIFX) big endian.
static uint32_t
s_u32 (const unsigned char *b, bool big)
{
    return big ? (uint32_t) b [0] << 24 | (uint32_t) b [1] << 16 | (uint32_t) b [2] << 8 | b [3]
               : (uint32_t) b [3] << 24 | (uint32_t) b [2] << 16 | (uint32_t) b [1] << 8 | b [0];
}

//  Where a RIFF walk reads its bytes: an open file (by pread, so the offset
//  libsndfile uses is untouched) or bytes in memory.
typedef struct {
    int                  fd;
    const unsigned char *mem;
    int64_t              size;
} s_src_t;

//  Reads n bytes at off into buf; false when they are not all there.
static bool
s_src_read (const s_src_t *src, int64_t off, unsigned char *buf, size_t n)
{
    if (off < 0 || off > src->size || (int64_t) n > src->size - off)
        return false;
    if (src->mem) {
        memcpy (buf, src->mem + off, n);
        return true;
    }
    return pread (src->fd, buf, n, (off_t) off) == (ssize_t) n;
}

//  A plain PCM WAV's samples where they lie in the file, read and
//  converted here rather than through libsndfile's layers (which read in
//  small pieces and convert one sample at a time): the same floats,
//  x / 2^(bits-1), as libsndfile's normalised reading gives.
typedef struct {
    s_src_t  src;
    int64_t  data_off;           //  byte of frame 0
    int64_t  frames;             //  whole frames the data chunk holds in the file
    int      bps;                //  bytes per sample: 2 or 3
    int      channels;
} s_pcm_t;

static uint16_t
s_le16 (const unsigned char *b)
{
    return (uint16_t) (b [0] | b [1] << 8);
}

//  Whether the file at src, which libsndfile opened as info, is a RIFF
//  WAVE of 16- or 24-bit integer PCM (format 1, or extensible with the
//  PCM subformat and every bit valid) whose 'fmt ' agrees with info and
//  whose data chunk holds exactly info->frames: then *p says where the
//  samples are. Anything else (RIFX, RF64, a data size libsndfile had to
//  guess) is left to libsndfile.
static bool
s_pcm_find (const s_src_t *src, const SF_INFO *info, s_pcm_t *p)
{
    static const unsigned char pcm_guid [16] = {
        1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71 };
    int type = info->format & SF_FORMAT_TYPEMASK, sub = info->format & SF_FORMAT_SUBMASK;
    if ((type != SF_FORMAT_WAV && type != SF_FORMAT_WAVEX)
    ||  (sub != SF_FORMAT_PCM_16 && sub != SF_FORMAT_PCM_24) || src->size <= 0)
        return false;
    const int bps = sub == SF_FORMAT_PCM_16 ? 2 : 3;
    unsigned char h [40];
    if (!s_src_read (src, 0, h, 12) || memcmp (h, "RIFF", 4) || memcmp (h + 8, "WAVE", 4))
        return false;
    bool fmt_ok = false;
    for (int64_t pos = 12; src->size - pos >= 8 && s_src_read (src, pos, h, 8); ) {
        uint32_t size = s_u32 (h + 4, false);
        if (!memcmp (h, "fmt ", 4)) {
            if (fmt_ok || size < 16 || !s_src_read (src, pos + 8, h, size >= 40 ? 40 : 16))
                return false;
            unsigned tag = s_le16 (h), ch = s_le16 (h + 2), align = s_le16 (h + 12);
            unsigned bits = s_le16 (h + 14);
            bool ext = tag == 0xfffe && size >= 40 && s_le16 (h + 18) == bits
                    && !memcmp (h + 24, pcm_guid, 16);
            fmt_ok = (tag == 1 || ext) && (int) ch == info->channels
                  && bits == 8u * (unsigned) bps && align == ch * (unsigned) bps;
            if (!fmt_ok)
                return false;
        }
        else
        if (!memcmp (h, "data", 4)) {
            if (!fmt_ok)
                return false;
            int64_t bytes = (int64_t) size;
            if (bytes > src->size - (pos + 8))
                bytes = src->size - (pos + 8);
            int64_t frames = bytes / ((int64_t) bps * info->channels);
            if (frames != info->frames || frames <= 0)
                return false;
            *p = (s_pcm_t) { *src, pos + 8, frames, bps, info->channels };
            return true;
        }
        pos += 8 + (int64_t) size + (size & 1);
    }
    return false;
}

#if defined (__x86_64__) && defined (__GNUC__)
//  The loop of s_pcm_read for 24-bit samples with SSSE3, four at a
//  time: each moved to the top of a word, as there, so the floats are
//  the same. Reads 16 bytes for 12, so stops 5 samples short of k;
//  returns the samples done.
__attribute__ ((target ("ssse3"))) static size_t
s_s24_float_ssse3 (const unsigned char *raw, float *y, size_t k)
{
    const __m128i top = _mm_setr_epi8 (-1, 0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11);
    const __m128 scale = _mm_set1_ps (1.0f / 2147483648.0f);
    size_t i = 0;
    for (; i + 5 <= k; i += 4) {
        __m128i w = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *) (raw + 3 * i)), top);
        _mm_storeu_ps (y + i, _mm_mul_ps (_mm_cvtepi32_ps (w), scale));
    }
    return i;
}
#endif

//  Reads frames [at, at + n) of p into buf as float; returns the frames
//  read (fewer at the end of the data or of a file cut short), or -1
//  when the file cannot be read.
static int64_t
s_pcm_read (const s_pcm_t *p, int64_t at, float *buf, int64_t n)
{
    enum { S_BOUNCE = 49152 };          //  a whole number of frames of any width
    unsigned char raw [S_BOUNCE + 1];   //  + 1: a 24-bit sample is read as 32 bits
    const int64_t fb = (int64_t) p->bps * p->channels;
    if (at < 0 || at >= p->frames)
        return 0;
    if (n > p->frames - at)
        n = p->frames - at;
    int64_t done = 0;
    while (done < n) {
        int64_t m = n - done < S_BOUNCE / fb ? n - done : S_BOUNCE / fb;
        int64_t off = p->data_off + (at + done) * fb;
        size_t want = (size_t) (m * fb), got = 0;
        if (p->src.mem) {
            memcpy (raw, p->src.mem + off, want);
            got = want;
        }
        else
            while (got < want) {
                ssize_t r = pread (p->src.fd, raw + got, want - got, (off_t) off + (off_t) got);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r < 0)
                    return -1;
                if (r == 0)
                    break;
                got += (size_t) r;
            }
        m = (int64_t) got / fb;
        float *y = buf + (size_t) (done * p->channels);
        const size_t k = (size_t) (m * p->channels);
        if (p->bps == 2)
            for (size_t i = 0; i < k; i++)
                y [i] = (float) (int16_t) s_le16 (raw + 2 * i) * (1.0f / 32768.0f);
        else
#if defined (__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        {
            //  the sample's three bytes and the next one as a word, the
            //  sample moved to its top (sign included): v / 256 is the value
            size_t i = 0;
#if defined (__x86_64__) && defined (__GNUC__)
            if (__builtin_cpu_supports ("ssse3"))
                i = s_s24_float_ssse3 (raw, y, k);
#endif
            for (; i < k; i++) {
                uint32_t w;
                memcpy (&w, raw + 3 * i, 4);
                y [i] = (float) (int32_t) (w << 8) * (1.0f / 2147483648.0f);
            }
        }
#else
            for (size_t i = 0; i < k; i++) {
                const unsigned char *b = raw + 3 * i;
                int32_t v = (int32_t) ((uint32_t) b [0] << 8 | (uint32_t) b [1] << 16
                                       | (uint32_t) b [2] << 24) >> 8;
                y [i] = (float) v * (1.0f / 8388608.0f);
            }
#endif
        done += m;
        if ((size_t) m * (size_t) fb < want)
            break;                      //  the file ends early
    }
    return done;
}

//  Most chunks a WAV header walk visits before it gives up on the file.
#define S_MAX_CHUNKS (1 << 20)

//  Walks the contents of a LIST (or bare INFO, as kind says) chunk at byte
//  at, of length bytes after its 8-byte header, the way libsndfile's
//  sub-chunk parser does: 'INFO'/'adtl' are 4-byte markers, anything else
//  an id, a size and a body padded to even. libsndfile 1.2 adds those sizes
//  in 32 bits, so one running far past the end of the LIST wraps its count
//  and it walks the LIST for ever; a sub-chunk past the end of its LIST is
//  malformed in any case and is refused (a missing pad byte at the very end
//  is tolerated). Stops, accepting, where libsndfile stops reading (a zero
//  id, 'data', 'exif', trailing bytes too few for a header). Returns false
//  with err set when refused.
static bool
s_riff_check_list (const s_src_t *src, const char *kind, int64_t at, uint32_t length,
                   bool big, int *steps, const char *name, char *err, size_t err_size)
{
    int64_t start = at + 8;
    int64_t end = start + length;
    if (end > src->size)
        end = src->size;        //  libsndfile clamps it to the file too
    if (length <= 8)
        return true;            //  libsndfile skips such a LIST whole
    int64_t pos = start;
    while (end - pos >= 4) {
        if (++*steps > S_MAX_CHUNKS) {
            snprintf (err, err_size, "%s: malformed WAV: more than %d chunks in the header",
                      name, S_MAX_CHUNKS);
            return false;
        }
        unsigned char h [8];
        if (!s_src_read (src, pos, h, 4))
            return true;
        if (!memcmp (h, "INFO", 4) || !memcmp (h, "adtl", 4)) {
            pos += 4;
            continue;
        }
        if (!memcmp (h, "\0\0\0\0", 4) || !memcmp (h, "data", 4) || !memcmp (h, "exif", 4)
        ||  end - pos < 8 || !s_src_read (src, pos, h, 8))
            return true;
        uint32_t size = s_u32 (h + 4, big);
        int64_t body_end = pos + 8 + (int64_t) size;
        if (body_end > end) {
            snprintf (err, err_size,
                      "%s: malformed WAV: %s chunk at byte %lld has a sub-chunk of %lu bytes "
                      "past its end (at byte %lld)", name, kind, (long long) at, (unsigned long) size, (long long) pos);
            return false;
        }
        pos = body_end + (size & 1);
    }
    return true;
}

//  The words for a file cut short into err: what its header claims
//  (bytes of audio data, or frames where it decodes to fewer) against
//  what it holds.
static void
s_say_cut (char *err, size_t err_size, const char *name, long long claimed, long long held,
           bool frames)
{
    snprintf (err, err_size, "%s: truncated: its header gives %lld %s, the file %s %lld "
              "(%.0f%%); copy the whole file again", name, claimed,
              frames ? "frames" : "bytes of audio data", frames ? "decodes to" : "holds",
              held, claimed > 0 ? 100.0 * (double) held / (double) claimed : 0.0);
}

//  When the file at src is a RIFF/RIFX/RF64 WAVE, walks its top-level chunks
//  (each id, size and body padded to even; past the data chunk when it fits
//  in the file, for the chunks libsndfile also reads after it) and checks
//  every LIST/INFO chunk with s_riff_check_list, and that the data chunk
//  is in the file whole, before libsndfile sees the file. Anything that is
//  not such a WAV, and other chunks running past the end of the file, are
//  left to libsndfile (it reads those without harm).
//  Returns false with err set, naming the chunk and the byte, when refused.
static bool
s_riff_check (const s_src_t *src, const char *name, char *err, size_t err_size)
{
    unsigned char h [12];
    if (!s_src_read (src, 0, h, 12) || memcmp (h + 8, "WAVE", 4))
        return true;
    bool rf64 = !memcmp (h, "RF64", 4);
    bool big = !memcmp (h, "RIFX", 4);
    if (!rf64 && !big && memcmp (h, "RIFF", 4))
        return true;
    int steps = 0;
    int64_t pos = 12;
    while (src->size - pos >= 8 && s_src_read (src, pos, h, 8)) {
        if (++steps > S_MAX_CHUNKS) {
            snprintf (err, err_size, "%s: malformed WAV: more than %d chunks in the header",
                      name, S_MAX_CHUNKS);
            return false;
        }
        uint32_t size = s_u32 (h + 4, big);
        if (!memcmp (h, "LIST", 4) || !memcmp (h, "INFO", 4)) {
            const char *kind = h [0] == 'L' ? "LIST" : "INFO";
            if (!s_riff_check_list (src, kind, pos, size, big, &steps, name, err, err_size))
                return false;
        }
        else
        if (!memcmp (h, "data", 4) && rf64)
            return true;        //  its size is in the ds64 chunk
        else
        if (!memcmp (h, "data", 4) && size != 0 && size != 0xffffffffu
        &&  pos + 8 + (int64_t) size > src->size) {
            //  cut short (a length not yet known is 0 or all ones): said
            //  here too, as libsndfile's log, which s_cut_short reads, is
            //  short and a long header can push its data line out of it
            s_say_cut (err, err_size, name, (long long) size,
                       (long long) (src->size - pos - 8), false);
            return false;
        }
        int64_t next = pos + 8 + (int64_t) size + (size & 1);
        if (next > src->size)
            return true;
        pos = next;
    }
    return true;
}

//  True when libsndfile's log of sf says the audio data chunk ('data' of
//  WAV and its kin, 'SSND' of AIFF; a plain WAV's is also checked by
//  s_riff_check, as the log is short) claims more bytes than the file holds
//  from there: the file was cut short (a copy or a write that did not
//  finish). libsndfile then reads what is there, as if that were all; we
//  refuse it, with both sizes into *claimed and *held. A claim of 0 or
//  all ones is a header written before its length was known (a recorder
//  that streams), not a cut: its data runs to the end of the file.
static bool
s_cut_short (SNDFILE *sf, long long *claimed, long long *held)
{
    char log [4096] = "";            //  libsndfile keeps 2048 bytes of it
    sf_command (sf, SFC_GET_LOG_INFO, log, sizeof log);
    return sflog_cut_short (log, claimed, held);
}

//  s_cut_short as an error into err; true when sf is cut short.
static bool
s_cut_short_err (SNDFILE *sf, const char *name, char *err, size_t err_size)
{
    long long claimed, held;
    if (!s_cut_short (sf, &claimed, &held))
        return false;
    s_say_cut (err, err_size, name, claimed, held, false);
    return true;
}

//  True when the header's frame count of format is exact, so that decoding
//  fewer frames means the file was cut short: not for MPEG audio, whose
//  count libsndfile may estimate from the bitrate.
static bool
s_exact_length (int format)
{
#ifdef SF_FORMAT_MPEG
    if ((format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG)
        return false;
#endif
    (void) format;
    return true;
}

//  Opens the file at fd (named path in messages) with libsndfile into
//  *info; libsndfile does not own fd (the caller closes it after
//  sf_close). On failure err holds one line saying why and NULL is
//  returned. *file_bytes gets the size of a regular file (0 when unknown).
static SNDFILE *
s_open_fd (int fd, const char *path, SF_INFO *info, sf_count_t *file_bytes, int *rc,
           char *err, size_t err_size)
{
    memset (info, 0, sizeof *info);
    struct stat st;
    bool have_st = fstat (fd, &st) == 0;
    if (have_st && S_ISDIR (st.st_mode)) {
        *rc = MF_ERR_FORMAT;
        snprintf (err, err_size, "%s: is a directory, not an audio file", path);
        return NULL;
    }
    if (have_st && S_ISREG (st.st_mode)) {
        s_src_t src = { fd, NULL, (int64_t) st.st_size };
        if (!s_riff_check (&src, path, err, err_size)) {
            *rc = MF_ERR_FORMAT;
            return NULL;
        }
    }
    SNDFILE *sf = sf_open_fd (fd, SFM_READ, info, SF_FALSE);
    if (!sf) {
        *rc = MF_ERR_FORMAT;
        if (have_st && S_ISREG (st.st_mode) && st.st_size == 0)
            snprintf (err, err_size, "%s: the file is empty", path);
        else
            snprintf (err, err_size, "%s: not a readable audio file (%s)",
                      path, sf_strerror (NULL));
        return NULL;
    }
    if (s_cut_short_err (sf, path, err, err_size)) {
        sf_close (sf);
        *rc = MF_ERR_FORMAT;
        return NULL;
    }
    *file_bytes = have_st && S_ISREG (st.st_mode) ? (sf_count_t) st.st_size : 0;
    *rc = 0;
    return sf;
}

//  Opens path for reading; -1 with err filled and *rc set on failure.
static int
s_open_path (const char *path, int *rc, char *err, size_t err_size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf (err, err_size, "%s: cannot open (no such file or no permission)", path);
        *rc = MF_ERR_IO;
    }
    return fd;
}

//  Reads every frame from an open handle and validates it. file_bytes is
//  the size of the file (0 when unknown): a header whose frames fit in it
//  is believed at once, one allocation of the whole track. src: where a
//  plain PCM WAV's bytes can be read directly (s_pcm_find), or NULL.
static int
s_read_all (SNDFILE *sf, const SF_INFO *info, const s_src_t *src, const char *name,
            sf_count_t file_bytes, audio_t *out, char *err, size_t err_size)
{
    int rc = s_check_shape (info, name, err, err_size);
    if (rc)
        return rc;
    if (info->frames <= 0) {
        snprintf (err, err_size, "%s: no audio frames (empty or truncated data)", name);
        return MF_ERR_FORMAT;
    }
    //  cap at 6 hours of 8 channels at 384 kHz so a lying header cannot ask for terabytes
    if (info->frames > (sf_count_t) 384000 * 3600 * 6) {
        snprintf (err, err_size, "%s: header claims %lld frames; that is more than 6 hours",
                  name, (long long) info->frames);
        return MF_ERR_FORMAT;
    }
    //  the header's frame count is a claim, not a fact: read in chunks and
    //  grow the buffer, so that a few bytes with a lying header cannot
    //  make us allocate gigabytes
    //  (the whole claimed size when the file can hold it uncompressed)
    size_t ch = (size_t) info->channels;
    sf_count_t cap = info->frames < 65536 ? info->frames : 65536;
    int bps = s_sample_bytes (info->format);
    if (bps > 0 && file_bytes > 0 && info->frames <= file_bytes / ((sf_count_t) ch * bps))
        cap = info->frames;
    float *data = samples_alloc ((size_t) cap * ch);
    if (!data) {
        snprintf (err, err_size, "%s: out of memory for %lld frames",
                  name, (long long) cap);
        return MF_ERR_NOMEM;
    }
    sf_command (sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    s_pcm_t pcm;
    bool fast = src && s_pcm_find (src, info, &pcm);
    sf_count_t got = 0;
    for (;;) {
        if (got == cap) {
            if (cap >= info->frames)
                break;
            sf_count_t grown = cap < info->frames / 2 ? cap * 2 : info->frames;
            float *bigger = samples_realloc (data, (size_t) cap * ch, (size_t) grown * ch);
            if (!bigger) {
                //  a spilled buffer grows on disk: its error is the disk's
                int e = errno;
                bool disk = e && e != ENOMEM;
                if (disk)
                    snprintf (err, err_size, "%s: no room on disk for %lld frames of samples: %s",
                              name, (long long) grown, strerror (e));
                else
                    snprintf (err, err_size, "%s: out of memory for %lld frames",
                              name, (long long) grown);
                samples_free (data);
                errno = disk ? e : ENOMEM;
                return disk ? MF_ERR_IO : MF_ERR_NOMEM;
            }
            data = bigger;
            cap = grown;
        }
        sf_count_t n = fast ? s_pcm_read (&pcm, got, data + (size_t) got * ch, cap - got)
                            : sf_readf_float (sf, data + (size_t) got * ch, cap - got);
        if (n <= 0)
            break;
        got += n;
    }
    if (got <= 0) {
        snprintf (err, err_size, "%s: cannot read audio data (%s)", name, sf_strerror (sf));
        samples_free (data);
        return MF_ERR_FORMAT;
    }
    //  integer PCM decodes to finite samples; anything else is checked
    bool check = !s_integer_pcm (info->format);
    for (size_t i = 0; check && i < (size_t) got * (size_t) info->channels; i++)
        if (!isfinite (data [i])) {
            snprintf (err, err_size, "%s: sample %zu of channel %zu is %s; the file is corrupt",
                      name, i / (size_t) info->channels, i % (size_t) info->channels + 1,
                      isnan (data [i]) ? "NaN" : "infinite");
            samples_free (data);
            return MF_ERR_FORMAT;
        }
    //  a header that claims more than the data decodes to: cut short
    //  (a compressed file; PCM is caught at open)
    if (got < info->frames && s_exact_length (info->format)) {
        s_say_cut (err, err_size, name, (long long) info->frames, (long long) got, true);
        samples_free (data);
        return MF_ERR_FORMAT;
    }
    memset (out, 0, sizeof *out);
    out->data = data;
    out->frames = got;
    out->channels = info->channels;
    out->rate_hz = info->samplerate;
    s_describe (info, out);
    return 0;
}

int
audio_read_fd (int fd, const char *name, audio_t *out, char *err, size_t err_size)
{
    SF_INFO info;
    sf_count_t file_bytes = 0;
    int rc = 0;
    SNDFILE *sf = s_open_fd (fd, name, &info, &file_bytes, &rc, err, err_size);
    if (!sf)
        return rc;
    s_src_t src = { fd, NULL, (int64_t) file_bytes };
    rc = s_read_all (sf, &info, &src, name, file_bytes, out, err, err_size);
    int e = errno;                          //  the failure's, for the caller
    sf_close (sf);
    errno = e;
    return rc;
}

//  The status of again's file into st. Returns 0 or MF_ERR_IO with err.
static int
s_again_status (const audio_again_t *again, struct stat *st, char *err, size_t err_size)
{
    if ((again->fd >= 0 ? fstat (again->fd, st) : stat (again->name, st)) == 0)
        return 0;
    snprintf (err, err_size, "%s: cannot read its status: %s", again->name, strerror (errno));
    return MF_ERR_IO;
}

int
audio_again_mark (audio_again_t *again, char *err, size_t err_size)
{
    struct stat st;
    if (again->bytes)
        return 0;
    int rc = s_again_status (again, &st, err, err_size);
    if (rc)
        return rc;
    again->marked = true;
    again->dev = (int64_t) st.st_dev;
    again->ino = (int64_t) st.st_ino;
    again->length = (int64_t) st.st_size;
    again->mtime_ns = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return 0;
}

int
audio_read_again (void *arg, audio_t *out, char *err, size_t err_size)
{
    audio_again_t *again = arg;
    if (again->bytes)
        return audio_read_mem (again->bytes, again->size, again->name, out, err, err_size);
    audio_again_t now = *again;
    int rc = audio_again_mark (&now, err, err_size);
    if (rc)
        return rc;
    if (!again->marked || now.dev != again->dev || now.ino != again->ino
    ||  now.length != again->length || now.mtime_ns != again->mtime_ns) {
        snprintf (err, err_size, "%s: changed while it was being mastered", again->name);
        return MF_ERR_IO;
    }
    if (again->fd < 0)
        return audio_read (again->name, out, err, err_size);
    if (lseek (again->fd, 0, SEEK_SET) != 0) {
        snprintf (err, err_size, "%s: cannot read it again: %s", again->name, strerror (errno));
        return MF_ERR_IO;
    }
    return audio_read_fd (again->fd, again->name, out, err, err_size);
}

int
audio_read (const char *path, audio_t *out, char *err, size_t err_size)
{
    int rc = 0;
    int fd = s_open_path (path, &rc, err, err_size);
    if (fd < 0)
        return rc;
    rc = audio_read_fd (fd, path, out, err, err_size);
    close (fd);
    return rc;
}

//  A file read once from start to end (see audio_seq_open_fd).
struct audio_seq_s {
    SNDFILE    *sf;
    int         fd;             //  owned (audio_seq_open), or -1 (the caller's)
    char       *name;
    int         channels;
    int64_t     claim;          //  the header's frame count: reads stop there
    bool        exact;          //  and it is exact (s_exact_length)
    int64_t     got;            //  frames read so far
    bool        check;          //  not integer PCM: check every sample
    bool        ended;
    bool        fast;           //  plain PCM WAV: read through pcm
    s_pcm_t     pcm;
};

int
audio_seq_open_fd (int fd, const char *name, audio_t *info, audio_seq_t **seq,
                   char *err, size_t err_size)
{
    *seq = NULL;
    audio_seq_t *q = calloc (1, sizeof *q);
    if (!q || !(q->name = strdup (name))) {
        free (q);
        snprintf (err, err_size, "%s: out of memory", name);
        return MF_ERR_NOMEM;
    }
    q->fd = -1;
    SF_INFO sfi;
    sf_count_t file_bytes = 0;
    int rc = 0;
    q->sf = s_open_fd (fd, name, &sfi, &file_bytes, &rc, err, err_size);
    if (q->sf)
        rc = s_check_shape (&sfi, name, err, err_size);
    //  the checks of s_read_all on the header
    if (!rc && sfi.frames <= 0) {
        snprintf (err, err_size, "%s: no audio frames (empty or truncated data)", name);
        rc = MF_ERR_FORMAT;
    }
    if (!rc && sfi.frames > (sf_count_t) 384000 * 3600 * 6) {
        snprintf (err, err_size, "%s: header claims %lld frames; that is more than 6 hours",
                  name, (long long) sfi.frames);
        rc = MF_ERR_FORMAT;
    }
    if (rc) {
        audio_seq_close (&q);
        return rc;
    }
    sf_command (q->sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    s_src_t src = { fd, NULL, (int64_t) file_bytes };
    q->fast = s_pcm_find (&src, &sfi, &q->pcm);
    q->channels = sfi.channels;
    q->claim = sfi.frames;
    q->exact = s_exact_length (sfi.format);
    q->check = !s_integer_pcm (sfi.format);
    memset (info, 0, sizeof *info);
    info->frames = sfi.frames;
    info->channels = sfi.channels;
    info->rate_hz = sfi.samplerate;
    s_describe (&sfi, info);
    *seq = q;
    return 0;
}

int
audio_seq_open (const char *path, audio_t *info, audio_seq_t **seq,
                char *err, size_t err_size)
{
    *seq = NULL;
    int rc = 0;
    int fd = s_open_path (path, &rc, err, err_size);
    if (fd < 0)
        return rc;
    rc = audio_seq_open_fd (fd, path, info, seq, err, err_size);
    if (rc)
        close (fd);
    else
        (*seq)->fd = fd;
    return rc;
}

int64_t
audio_seq_read (audio_seq_t *q, float *buf, int64_t max_frames, char *err, size_t err_size)
{
    int64_t want = q->claim - q->got < max_frames ? q->claim - q->got : max_frames;
    if (q->ended || want <= 0)
        return 0;
    sf_count_t n = q->fast ? s_pcm_read (&q->pcm, q->got, buf, want)
                           : sf_readf_float (q->sf, buf, want);
    if (n <= 0) {
        q->ended = true;
        if (q->got > 0 && !q->exact)
            return 0;                //  an estimated length: what is there
        if (q->got > 0)              //  short of the header's claim: cut short
            s_say_cut (err, err_size, q->name, (long long) q->claim, (long long) q->got, true);
        else
            snprintf (err, err_size, "%s: cannot read audio data (%s)", q->name,
                      sf_strerror (q->sf));
        return MF_ERR_FORMAT;
    }
    const size_t ch = (size_t) q->channels;
    for (size_t i = 0; q->check && i < (size_t) n * ch; i++)
        if (!isfinite (buf [i])) {
            snprintf (err, err_size, "%s: sample %lld of channel %zu is %s; the file is corrupt",
                      q->name, (long long) q->got + (long long) (i / ch), i % ch + 1,
                      isnan (buf [i]) ? "NaN" : "infinite");
            q->ended = true;
            return MF_ERR_FORMAT;
        }
    q->got += n;
    return n;
}

void
audio_seq_close (audio_seq_t **seq)
{
    if (!seq || !*seq)
        return;
    audio_seq_t *q = *seq;
    if (q->sf)
        sf_close (q->sf);
    if (q->fd >= 0)
        close (q->fd);
    free (q->name);
    free (q);
    *seq = NULL;
}

//  Virtual I/O over a memory buffer, for inline storage.
typedef struct {
    const unsigned char *bytes;
    sf_count_t size;
    sf_count_t pos;
} s_membuf_t;

static sf_count_t s_mem_len (void *u) { return ((s_membuf_t *) u)->size; }
static sf_count_t
s_mem_seek (sf_count_t off, int whence, void *u)
{
    s_membuf_t *m = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;
    sf_count_t to = base + off;
    if (to < 0 || to > m->size)
        return -1;
    m->pos = to;
    return to;
}
static sf_count_t
s_mem_read (void *ptr, sf_count_t count, void *u)
{
    s_membuf_t *m = u;
    sf_count_t left = m->size - m->pos;
    if (count > left)
        count = left;
    if (count > 0)
        memcpy (ptr, m->bytes + m->pos, (size_t) count);
    m->pos += count;
    return count;
}
static sf_count_t s_mem_write (const void *p, sf_count_t c, void *u) { return 0; }
static sf_count_t s_mem_tell (void *u) { return ((s_membuf_t *) u)->pos; }

int
audio_read_mem (const void *bytes, size_t size, const char *name,
                audio_t *out, char *err, size_t err_size)
{
    if (size == 0) {
        snprintf (err, err_size, "%s: the file is empty", name);
        return MF_ERR_FORMAT;
    }
    s_src_t src = { -1, bytes, (int64_t) size };
    if (!s_riff_check (&src, name, err, err_size))
        return MF_ERR_FORMAT;
    SF_VIRTUAL_IO vio = { s_mem_len, s_mem_seek, s_mem_read, s_mem_write, s_mem_tell };
    s_membuf_t mem = { bytes, (sf_count_t) size, 0 };
    SF_INFO info;
    memset (&info, 0, sizeof info);
    SNDFILE *sf = sf_open_virtual (&vio, SFM_READ, &info, &mem);
    if (!sf) {
        snprintf (err, err_size, "%s: not a readable audio file (%s)", name, sf_strerror (NULL));
        return MF_ERR_FORMAT;
    }
    int rc = s_cut_short_err (sf, name, err, err_size) ? MF_ERR_FORMAT
           : s_read_all (sf, &info, &src, name, (sf_count_t) size, out, err, err_size);
    int e = errno;
    sf_close (sf);
    errno = e;
    return rc;
}

//  Sets the strings libsndfile writes in WAV (RIFF INFO) and AIFF.
static void
s_riff_aiff_tags (SNDFILE *sf, const audio_tags_t *tags)
{
    if (tags->title)   sf_set_string (sf, SF_STR_TITLE, tags->title);
    if (tags->artist)  sf_set_string (sf, SF_STR_ARTIST, tags->artist);
    if (tags->album)   sf_set_string (sf, SF_STR_ALBUM, tags->album);
    if (tags->date)    sf_set_string (sf, SF_STR_DATE, tags->date);
    if (tags->genre)   sf_set_string (sf, SF_STR_GENRE, tags->genre);
    if (tags->comment) sf_set_string (sf, SF_STR_COMMENT, tags->comment);
    if (tags->track_number > 0) {
        char num [16];
        snprintf (num, sizeof num, "%d", tags->track_number);
        sf_set_string (sf, SF_STR_TRACKNUMBER, num);
    }
    //  INFO has no ISRC field (its "ISRC" id means the source): the code
    //  travels in the comment unless the caller gave a comment of its own
    if (tags->isrc && !tags->comment) {
        char c [64];
        snprintf (c, sizeof c, "ISRC=%s", tags->isrc);
        sf_set_string (sf, SF_STR_COMMENT, c);
    }
}

struct audio_writer_s {
    SNDFILE           *sf;
    flac_out_t        *flac;       //  FLAC: libFLAC's encoder (flac_out.h)
    char              *path;
    int64_t            frames;
};

int
audio_writer_open (const char *path, int rate_hz, int channels, out_format_t format,
                   int bits, int flac_level, const audio_tags_t *tags,
                   audio_writer_t **writer, char *err, size_t err_size)
{
    *writer = NULL;
    SF_INFO info;
    memset (&info, 0, sizeof info);
    info.samplerate = rate_hz;
    info.channels = channels;
    int major = format == OUT_FLAC ? SF_FORMAT_FLAC
              : format == OUT_AIFF ? SF_FORMAT_AIFF : SF_FORMAT_WAV;
    int sub = bits == 16 ? SF_FORMAT_PCM_16 : bits == 24 ? SF_FORMAT_PCM_24
            : bits == 32 && format != OUT_FLAC ? SF_FORMAT_FLOAT : 0;
    if (!sub) {
        snprintf (err, err_size, "%s: %d-bit output is not supported for this format "
                  "(16 or 24; 32 means float, WAV/AIFF only)", path, bits);
        return MF_ERR_UNSUPPORTED;
    }
    info.format = major | sub;
    if (format == OUT_FLAC) {
        audio_writer_t *w = calloc (1, sizeof *w);
        if (!w || !(w->path = strdup (path))) {
            free (w);
            snprintf (err, err_size, "%s: out of memory", path);
            return MF_ERR_NOMEM;
        }
        int rc = flac_out_open (path, rate_hz, channels, bits, flac_level, tags, &w->flac,
                                err, err_size);
        if (rc) {
            free (w->path);
            free (w);
            return rc;
        }
        *writer = w;
        return 0;
    }
    if (!sf_format_check (&info)) {
        snprintf (err, err_size, "%s: %d channels at %d Hz, %d-bit cannot be written in this format",
                  path, channels, rate_hz, bits);
        return MF_ERR_UNSUPPORTED;
    }
    audio_writer_t *w = calloc (1, sizeof *w);
    if (!w || !(w->path = strdup (path))) {
        free (w);
        snprintf (err, err_size, "%s: out of memory", path);
        return MF_ERR_NOMEM;
    }
    w->sf = sf_open (path, SFM_WRITE, &info);
    if (!w->sf) {
        snprintf (err, err_size, "%s: cannot create (%s)", path, sf_strerror (NULL));
        free (w->path);
        free (w);
        return MF_ERR_IO;
    }
    sf_command (w->sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    //  libsndfile's float->int scaling is x * 2^(bits-1) with clipping;
    //  turn off its normalisation-free path so 1.0 maps to full scale.
    sf_command (w->sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    if (tags)
        s_riff_aiff_tags (w->sf, tags);
    *writer = w;
    return 0;
}

int
audio_writer_write (audio_writer_t *w, const float *data, int64_t frames,
                    char *err, size_t err_size)
{
    if (w->flac) {
        int rc = flac_out_write (w->flac, data, frames, err, err_size);
        if (rc == 0)
            w->frames += frames;
        return rc;
    }
    sf_count_t put = sf_writef_float (w->sf, data, frames);
    if (put != frames) {
        snprintf (err, err_size, "%s: write failed after %lld of %lld frames (%s)",
                  w->path, (long long) (w->frames + put), (long long) (w->frames + frames),
                  sf_strerror (w->sf));
        return MF_ERR_IO;
    }
    w->frames += frames;
    return 0;
}

void
audio_writer_join (audio_writer_t *w, flac_join_t *join)
{
    if (w->flac)
        flac_out_join (w->flac, join);
}

int
audio_writer_close (audio_writer_t **writer, char *err, size_t err_size)
{
    audio_writer_t *w = *writer;
    if (!w)
        return 0;
    *writer = NULL;
    int rc = 0;
    if (w->flac)
        rc = flac_out_close (&w->flac, err, err_size);
    else
    if (sf_close (w->sf) != 0) {
        snprintf (err, err_size, "%s: close failed", w->path);
        rc = MF_ERR_IO;
    }
    free (w->path);
    free (w);
    return rc;
}

int
audio_write (const char *path, const audio_t *audio, out_format_t format,
             int bits, const audio_tags_t *tags, char *err, size_t err_size)
{
    return audio_write_level (path, audio, format, bits, -1, tags, err, err_size);
}

int
audio_write_level (const char *path, const audio_t *audio, out_format_t format,
                   int bits, int flac_level, const audio_tags_t *tags,
                   char *err, size_t err_size)
{
    audio_writer_t *w;
    int rc = audio_writer_open (path, audio->rate_hz, audio->channels, format, bits,
                                flac_level, tags, &w, err, err_size);
    if (rc)
        return rc;
    rc = audio_writer_write (w, audio->data, audio->frames, err, err_size);
    if (rc) {
        char ignored [8];
        audio_writer_close (&w, ignored, sizeof ignored);
        return rc;
    }
    return audio_writer_close (&w, err, err_size);
}

//  Little-endian 16- and 32-bit values into p.
static void
s_put16 (uint8_t *p, uint32_t v)
{
    p [0] = (uint8_t) v;
    p [1] = (uint8_t) (v >> 8);
}

static void
s_put32 (uint8_t *p, uint32_t v)
{
    s_put16 (p, v);
    s_put16 (p + 2, v >> 16);
}

//  n samples as libsndfile's clipping float-to-24-bit path makes them:
//  x * 2^31 rounded to nearest (lrintf), clipped at full scale, its top
//  three bytes. Samples on the 24-bit grid (what a master gives) come out
//  exactly. p has room for one byte more than 3 n (a sample's three bytes
//  are stored as a word, the next sample over its top byte).
static void
s_f2let (const float *x, size_t n, uint8_t *p)
{
    size_t i = 0;
#if defined (__SSE2__) && defined (__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    //  cvtps2dq rounds as lrintf and gives INT32_MIN where the value is out
    //  of range: right for -2^31 and below, fixed up to INT32_MAX at +2^31
    //  and above (and to 0 for NaN, what lrintf's long leaves in 32 bits)
    const __m128 scale = _mm_set1_ps (2147483648.0f);
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_mul_ps (_mm_loadu_ps (x + i), scale);
        __m128i w = _mm_cvtps_epi32 (v);
        __m128i top = _mm_castps_si128 (_mm_cmpge_ps (v, scale));
        __m128i nan = _mm_castps_si128 (_mm_cmpunord_ps (v, v));
        w = _mm_andnot_si128 (nan, _mm_xor_si128 (w, top));     //  NaN: 0, as lrintf's long
        w = _mm_srai_epi32 (w, 8);
        uint32_t q [4];
        _mm_storeu_si128 ((__m128i *) q, w);
        for (int k = 0; k < 4; k++)
            memcpy (p + 3 * (i + (size_t) k), &q [k], 4);
    }
#endif
    for (; i < n; i++) {
        float v = x [i] * 2147483648.0f;
        uint32_t w = v >= 2147483647.0 ? 0x7fffffffu
                   : v <= -2147483648.0 ? 0x80000000u : (uint32_t) lrintf (v);
        p [3 * i] = (uint8_t) (w >> 8);
        p [3 * i + 1] = (uint8_t) (w >> 16);
        p [3 * i + 2] = (uint8_t) (w >> 24);
    }
}

//  Writes n bytes at p to fd and into the hash.
static int
s_write_hashed (int fd, sha256_ctx_t *ctx, const uint8_t *p, size_t n)
{
    sha256_update (ctx, p, n);
    return fsutil_write_full (fd, p, n) ? MF_ERR_IO : 0;
}

int
audio_write_wav24_sha (const char *path, const audio_t *audio, char *sha_hex,
                       char *err, size_t err_size)
{
    enum { S_FRAMES = 8192 };
    const int ch = audio->channels;
    const uint64_t data = (uint64_t) (audio->frames > 0 ? audio->frames : 0) * 3u
                        * (uint64_t) (ch > 0 ? ch : 0);
    const uint64_t pad = data & 1;      //  RIFF pads a chunk to an even length
    if (ch < 1 || ch > 2 || audio->rate_hz < 1 || data > 0xffffffffu - 38u
    ||  (audio->frames > 0 && !audio->data)) {
        snprintf (err, err_size, "%s: not a case written here", path);
        return MF_ERR_UNSUPPORTED;
    }
    //  the canonical header (RIFF, "fmt " of WAVE_FORMAT_PCM, "data"),
    //  as libsndfile writes an untagged 16- or 24-bit mono or stereo WAV,
    //  and a pad byte after data of odd length
    uint8_t h [44];
    memcpy (h, "RIFF", 4);
    s_put32 (h + 4, (uint32_t) (36 + data + pad));
    memcpy (h + 8, "WAVEfmt ", 8);
    s_put32 (h + 16, 16);
    s_put16 (h + 20, 1);
    s_put16 (h + 22, (uint32_t) ch);
    s_put32 (h + 24, (uint32_t) audio->rate_hz);
    s_put32 (h + 28, (uint32_t) audio->rate_hz * 3u * (uint32_t) ch);
    s_put16 (h + 32, 3u * (uint32_t) ch);
    s_put16 (h + 34, 24);
    memcpy (h + 36, "data", 4);
    s_put32 (h + 40, (uint32_t) data);
    uint8_t *buf = malloc ((size_t) S_FRAMES * 3 * (size_t) ch + 1);
    int fd = buf ? open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (fd < 0) {
        snprintf (err, err_size, "%s: cannot create (%s)", path,
                  buf ? strerror (errno) : "out of memory");
        free (buf);
        return MF_ERR_IO;
    }
    sha256_ctx_t ctx;
    sha256_init (&ctx);
    int rc = s_write_hashed (fd, &ctx, h, sizeof h);
    for (int64_t at = 0; !rc && at < audio->frames; at += S_FRAMES) {
        int64_t n = audio->frames - at < S_FRAMES ? audio->frames - at : S_FRAMES;
        size_t k = (size_t) n * (size_t) ch;
        s_f2let (audio->data + (size_t) at * (size_t) ch, k, buf);
        rc = s_write_hashed (fd, &ctx, buf, 3 * k);
    }
    const uint8_t zero = 0;
    if (!rc && pad)
        rc = s_write_hashed (fd, &ctx, &zero, 1);
    int saved = errno;
    if (close (fd) != 0 && !rc) {
        saved = errno;
        rc = MF_ERR_IO;
    }
    free (buf);
    if (rc) {
        snprintf (err, err_size, "%s: write failed (%s)", path, strerror (saved));
        return rc;
    }
    uint8_t digest [SHA256_DIGEST_BYTES];
    sha256_final (&ctx, digest);
    sha256_hex (digest, sha_hex);
    return 0;
}

//  A file read at any position (see audio_stream_open_fd).
struct audio_stream_s {
    SNDFILE    *sf;
    char       *name;
    s_membuf_t  mem;             //  the bytes of a stream opened on memory
    int         channels;
    int64_t     frames;
    int64_t     pos;             //  libsndfile's read position, in frames
    bool        check;           //  not integer PCM: check every sample
    bool        fast;            //  plain PCM WAV: read through pcm
    s_pcm_t     pcm;
};

//  Finishes audio_stream_open_*: the checks of audio_read on the header
//  and the frames the data can hold.
static int
s_stream_setup (audio_stream_t *st, const SF_INFO *info, const s_src_t *src,
                sf_count_t data_bytes, audio_t *out, char *err, size_t err_size)
{
    const char *name = st->name;
    int rc = s_check_shape (info, name, err, err_size);
    if (rc)
        return rc;
    if (!info->seekable) {
        snprintf (err, err_size, "%s: not a seekable audio file", name);
        return MF_ERR_FORMAT;
    }
    int64_t frames = info->frames;
    int bps = s_sample_bytes (info->format);
    if (bps > 0 && data_bytes > 0 && frames > data_bytes / ((sf_count_t) info->channels * bps))
        frames = data_bytes / ((sf_count_t) info->channels * bps);
    if (frames <= 0) {
        snprintf (err, err_size, "%s: no audio frames (empty or truncated data)", name);
        return MF_ERR_FORMAT;
    }
    sf_command (st->sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    st->fast = s_pcm_find (src, info, &st->pcm) && st->pcm.frames == frames;
    st->channels = info->channels;
    st->frames = frames;
    st->check = !s_integer_pcm (info->format);
    memset (out, 0, sizeof *out);
    out->frames = frames;
    out->channels = info->channels;
    out->rate_hz = info->samplerate;
    s_describe (info, out);
    return 0;
}

int
audio_stream_open_fd (int fd, const char *name, audio_stream_t **stream, audio_t *info,
                      char *err, size_t err_size)
{
    *stream = NULL;
    audio_stream_t *st = calloc (1, sizeof *st);
    if (!st || !(st->name = strdup (name))) {
        free (st);
        snprintf (err, err_size, "%s: out of memory", name);
        return MF_ERR_NOMEM;
    }
    SF_INFO sfi;
    sf_count_t file_bytes = 0;
    int rc = 0;
    st->sf = s_open_fd (fd, name, &sfi, &file_bytes, &rc, err, err_size);
    s_src_t src = { fd, NULL, (int64_t) file_bytes };
    if (st->sf)
        rc = s_stream_setup (st, &sfi, &src, file_bytes, info, err, err_size);
    if (rc) {
        audio_stream_close (&st);
        return rc;
    }
    *stream = st;
    return 0;
}

int
audio_stream_open_mem (const void *bytes, size_t size, const char *name,
                       audio_stream_t **stream, audio_t *info, char *err, size_t err_size)
{
    *stream = NULL;
    if (size == 0) {
        snprintf (err, err_size, "%s: the file is empty", name);
        return MF_ERR_FORMAT;
    }
    s_src_t src = { -1, bytes, (int64_t) size };
    if (!s_riff_check (&src, name, err, err_size))
        return MF_ERR_FORMAT;
    audio_stream_t *st = calloc (1, sizeof *st);
    if (!st || !(st->name = strdup (name))) {
        free (st);
        snprintf (err, err_size, "%s: out of memory", name);
        return MF_ERR_NOMEM;
    }
    static SF_VIRTUAL_IO vio = { s_mem_len, s_mem_seek, s_mem_read, s_mem_write, s_mem_tell };
    st->mem = (s_membuf_t) { bytes, (sf_count_t) size, 0 };
    SF_INFO sfi;
    memset (&sfi, 0, sizeof sfi);
    st->sf = sf_open_virtual (&vio, SFM_READ, &sfi, &st->mem);
    int rc = 0;
    if (!st->sf) {
        snprintf (err, err_size, "%s: not a readable audio file (%s)", name, sf_strerror (NULL));
        rc = MF_ERR_FORMAT;
    }
    else
    if (s_cut_short_err (st->sf, name, err, err_size))
        rc = MF_ERR_FORMAT;
    else
        rc = s_stream_setup (st, &sfi, &src, (sf_count_t) size, info, err, err_size);
    if (rc) {
        audio_stream_close (&st);
        return rc;
    }
    *stream = st;
    return 0;
}

int
audio_stream_read (audio_stream_t *st, int64_t at, float *buf, int64_t n,
                   char *err, size_t err_size)
{
    if (at < 0 || n < 0 || at + n > st->frames) {
        snprintf (err, err_size, "%s: frames %lld to %lld asked of %lld", st->name,
                  (long long) at, (long long) (at + n), (long long) st->frames);
        return MF_ERR_INVALID;
    }
    if (st->fast) {
        int64_t got = s_pcm_read (&st->pcm, at, buf, n);
        if (got != n) {
            snprintf (err, err_size, got < 0 ? "%s: cannot read at frame %lld: %s"
                      : "%s: truncated: the file ends before frame %lld%s", st->name,
                      (long long) (at + (got > 0 ? got : 0)), got < 0 ? strerror (errno) : "");
            return MF_ERR_FORMAT;
        }
        return 0;
    }
    if (at != st->pos) {
        if (sf_seek (st->sf, at, SEEK_SET) != at) {
            snprintf (err, err_size, "%s: cannot seek to frame %lld (%s)", st->name,
                      (long long) at, sf_strerror (st->sf));
            st->pos = -1;
            return MF_ERR_FORMAT;
        }
        st->pos = at;
    }
    sf_count_t got = sf_readf_float (st->sf, buf, n);
    if (got > 0)
        st->pos += got;
    if (got != n) {
        snprintf (err, err_size, "%s: truncated: %lld frames read at frame %lld, %lld "
                  "expected", st->name, (long long) (got > 0 ? got : 0), (long long) at,
                  (long long) n);
        return MF_ERR_FORMAT;
    }
    for (size_t i = 0; st->check && i < (size_t) n * (size_t) st->channels; i++)
        if (!isfinite (buf [i])) {
            snprintf (err, err_size, "%s: sample %lld of channel %zu is %s; the file is corrupt",
                      st->name, (long long) at + (long long) (i / (size_t) st->channels),
                      i % (size_t) st->channels + 1, isnan (buf [i]) ? "NaN" : "infinite");
            return MF_ERR_FORMAT;
        }
    return 0;
}

void
audio_stream_close (audio_stream_t **stream)
{
    audio_stream_t *st = *stream;
    if (!st)
        return;
    if (st->sf)
        sf_close (st->sf);
    free (st->name);
    free (st);
    *stream = NULL;
}

void
audio_free (audio_t *audio)
{
    if (!audio)
        return;
    samples_free (audio->data);
    memset (audio, 0, sizeof *audio);
}
