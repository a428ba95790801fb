/*  Opening WAV files whose header holds LIST/INFO chunks (worker/audio_io.c).

    - a hostile WAV whose LIST chunk holds a sub-chunk far longer than the
      LIST (libsndfile 1.2 walks such a LIST for ever) is refused with a
      message naming the chunk and the byte, by audio_read, audio_read_fd,
      audio_seq_open and audio_read_mem alike; each call runs in a child
      process with a 10 s alarm, so a hang fails the test instead of
      stopping it;
    - a sub-chunk a few bytes past the end of its LIST is refused the same
      way; a last sub-chunk missing only its pad byte still opens;
    - valid WAVs with LIST/INFO chunks still open: written by libsndfile
      (strings before and after the audio, odd-length strings) and by
      ffmpeg (-metadata title/artist); a sox WAV (sox writes no LIST chunk
      to WAV, its comment is dropped) opens too;
    - plain 16- and 24-bit PCM WAVs, read without libsndfile's conversion,
      give libsndfile's floats and frame counts exactly;
    - the one-pass 24-bit WAV writer gives the bytes libsndfile writes for
      the same floats (on the grid, between its steps, at and beyond full
      scale; mono and stereo, odd lengths) and the SHA-256 of the file;
    - a source read again (audio_read_again, the master's reload) gives
      the same samples by path, by descriptor and from memory; a file
      whose status changed since it was marked (touched, rewritten) is
      refused with "changed while it was being mastered".  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sndfile.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/sha256.h"
#include "worker/audio_io.h"

//  Which entry point a child process opens the file with.
typedef enum { VIA_PATH, VIA_FD, VIA_SEQ, VIA_MEM } via_t;

//  Opens path with via in a child process under a 10 s alarm; returns the
//  child's result in *rc and its message in err. Fails the test when the
//  child does not finish by itself (a hang ends it with SIGALRM).
static void
s_open_in_child (const char *path, via_t via, int *rc, char *err, size_t err_size)
{
    int fds [2];
    assert_int_equal (pipe (fds), 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        close (fds [0]);
        alarm (10);
        char msg [AUDIO_ERR_LEN] = "";
        audio_t audio;
        memset (&audio, 0, sizeof audio);
        int r = MF_ERR_IO;
        if (via == VIA_PATH)
            r = audio_read (path, &audio, msg, sizeof msg);
        else
        if (via == VIA_FD) {
            int fd = open (path, O_RDONLY);
            r = fd < 0 ? MF_ERR_IO : audio_read_fd (fd, path, &audio, msg, sizeof msg);
        }
        else
        if (via == VIA_SEQ) {
            audio_seq_t *seq = NULL;
            r = audio_seq_open (path, &audio, &seq, msg, sizeof msg);
            audio_seq_close (&seq);
        }
        else {
            static unsigned char bytes [1 << 20];
            int fd = open (path, O_RDONLY);
            ssize_t n = fd < 0 ? -1 : read (fd, bytes, sizeof bytes);
            r = n < 0 ? MF_ERR_IO : audio_read_mem (bytes, (size_t) n, path, &audio, msg, sizeof msg);
        }
        audio_free (&audio);
        dprintf (fds [1], "%d %s", r, msg);
        _exit (0);
    }
    close (fds [1]);
    char buf [AUDIO_ERR_LEN + 32] = "";
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 && (n = read (fds [0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t) n;
    close (fds [0]);
    int status = 0;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    if (!WIFEXITED (status))
        fail_msg ("%s (way %d): the open did not finish (signal %d: a hang ended by the alarm)",
                  path, (int) via, WIFSIGNALED (status) ? WTERMSIG (status) : 0);
    char *space = strchr (buf, ' ');
    assert_non_null (space);
    *rc = atoi (buf);
    snprintf (err, err_size, "%s", space + 1);
    printf ("    %s (way %d): rc %d %s\n", path, (int) via, *rc, err);
}

//  A path under the test scratch folder.
static void
s_tmp (char *path, size_t size, const char *name)
{
    const char *dir = getenv ("MF_TEST_TMP");
    snprintf (path, size, "%s/audio_io_%ld_%s", dir ? dir : "/tmp", (long) getpid (), name);
}

//  Writes a 16-bit stereo WAV of 4410 frames at 44.1 kHz: fmt, then a LIST
//  chunk of list_len bytes holding list (list_bytes of them), then data.
static void
s_write_wav (const char *path, const unsigned char *list, uint32_t list_len, size_t list_bytes)
{
    FILE *f = fopen (path, "wb");
    assert_non_null (f);
    const uint32_t frames = 4410, data_len = frames * 4;
    unsigned char hdr [44];
    uint32_t riff = 4 + 24 + 8 + (uint32_t) list_bytes + (list_bytes & 1) + 8 + data_len;
    memcpy (hdr, "RIFF", 4);
    for (int i = 0; i < 4; i++) hdr [4 + i] = (unsigned char) (riff >> (8 * i));
    memcpy (hdr + 8, "WAVEfmt \x10\0\0\0\x01\0\x02\0\x44\xac\0\0\x10\xb1\x02\0\x04\0\x10\0", 28);
    memcpy (hdr + 36, "LIST", 4);
    for (int i = 0; i < 4; i++) hdr [40 + i] = (unsigned char) (list_len >> (8 * i));
    assert_int_equal (fwrite (hdr, 1, 44, f), 44);
    assert_int_equal (fwrite (list, 1, list_bytes, f), list_bytes);
    if (list_bytes & 1)
        fputc (0, f);
    fwrite ("data", 1, 4, f);
    for (int i = 0; i < 4; i++) fputc ((int) (data_len >> (8 * i)) & 0xff, f);
    for (uint32_t i = 0; i < frames * 2; i++) {
        int16_t v = (int16_t) ((i * 37) % 2000 - 1000);
        fputc (v & 0xff, f);
        fputc ((v >> 8) & 0xff, f);
    }
    fclose (f);
}

//  The known hostile file is refused cleanly, by every way of opening.
static void
test_hostile_list_refused (void **state)
{
    (void) state;
    const char *src = getenv ("MF_SRC");
    assert_non_null (src);
    char path [1024];
    snprintf (path, sizeof path, "%s/tests/fuzz/corpus/fuzz_audio/regress_wav_info_chunk_hang.wav", src);
    for (via_t via = VIA_PATH; via <= VIA_MEM; via++) {
        int rc = 0;
        char err [AUDIO_ERR_LEN];
        s_open_in_child (path, via, &rc, err, sizeof err);
        assert_int_equal (rc, MF_ERR_FORMAT);
        assert_non_null (strstr (err, "wav_info_chunk_hang.wav: malformed WAV: LIST chunk at byte 36 "
                                      "has a sub-chunk of 4294967295 bytes past its end"));
    }
}

//  Hand-made LIST chunks: a sub-chunk past the end is refused, a missing
//  last pad byte is not.
static void
test_list_edges (void **state)
{
    (void) state;
    char path [1024];
    s_tmp (path, sizeof path, "edges.wav");
    //  INFO, INAM "abc" (3 bytes, odd), ISFT "x" (1 byte, no pad: LIST ends there)
    static const unsigned char nopad [] = "INFOINAM\x03\0\0\0abc\0ISFT\x01\0\0\0x";
    s_write_wav (path, nopad, sizeof nopad - 1, sizeof nopad - 1);
    int rc = -1;
    char err [AUDIO_ERR_LEN];
    s_open_in_child (path, VIA_PATH, &rc, err, sizeof err);
    assert_int_equal (rc, 0);
    s_open_in_child (path, VIA_MEM, &rc, err, sizeof err);
    assert_int_equal (rc, 0);
    //  INFO, ICMT of 40 bytes in a LIST of 20
    static const unsigned char past [] = "INFOICMT\x28\0\0\0hello world";
    s_write_wav (path, past, 20, 20);
    s_open_in_child (path, VIA_SEQ, &rc, err, sizeof err);
    assert_int_equal (rc, MF_ERR_FORMAT);
    assert_non_null (strstr (err, "malformed WAV: LIST chunk at byte 36 has a sub-chunk of 40 bytes"
                                  " past its end (at byte 48)"));
    unlink (path);
}

//  Files with LIST/INFO chunks written by libsndfile, sox and ffmpeg open
//  and read the frames they hold.
static void
test_valid_info_opens (void **state)
{
    (void) state;
    char paths [4][1024];
    s_tmp (paths [0], sizeof paths [0], "sf_start.wav");
    s_tmp (paths [1], sizeof paths [1], "sf_end.wav");
    s_tmp (paths [2], sizeof paths [2], "sox.wav");
    s_tmp (paths [3], sizeof paths [3], "ffmpeg.wav");
    static short pcm [2 * 4800];
    for (int i = 0; i < 2 * 4800; i++)
        pcm [i] = (short) ((i * 53) % 4000 - 2000);
    for (int k = 0; k < 2; k++) {
        SF_INFO info = { .samplerate = 48000, .channels = 2,
                         .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16 };
        SNDFILE *sf = sf_open (paths [k], SFM_WRITE, &info);
        assert_non_null (sf);
        if (k == 1)
            assert_int_equal (sf_writef_short (sf, pcm, 4800), 4800);
        assert_int_equal (sf_set_string (sf, SF_STR_TITLE, "odd title"), 0);
        assert_int_equal (sf_set_string (sf, SF_STR_ARTIST, "An Artist"), 0);
        assert_int_equal (sf_set_string (sf, SF_STR_COMMENT, "c"), 0);
        assert_int_equal (sf_set_string (sf, SF_STR_SOFTWARE, "sw 1.0"), 0);
        if (k == 0)
            assert_int_equal (sf_writef_short (sf, pcm, 4800), 4800);
        sf_close (sf);
    }
    char cmd [4096];
    snprintf (cmd, sizeof cmd, "sox -q -n -r 44100 -c 2 -b 16 --comment 'odd comment' '%s' "
              "synth 0.1 sine 440", paths [2]);
    assert_int_equal (system (cmd), 0);
    snprintf (cmd, sizeof cmd, "ffmpeg -hide_banner -loglevel error -y -f lavfi "
              "-i sine=frequency=440:duration=0.1 -metadata title=x -metadata artist=abc "
              "-c:a pcm_s16le '%s'", paths [3]);
    assert_int_equal (system (cmd), 0);
    for (int k = 0; k < 4; k++) {
        //  the file really holds a LIST chunk (sox writes none)
        FILE *f = fopen (paths [k], "rb");
        assert_non_null (f);
        static char bytes [1 << 16];
        size_t n = fread (bytes, 1, sizeof bytes, f);
        fclose (f);
        if (k != 2)
            assert_non_null (memmem (bytes, n, "LIST", 4));
        for (via_t via = VIA_PATH; via <= VIA_MEM; via++) {
            int rc = -1;
            char err [AUDIO_ERR_LEN];
            s_open_in_child (paths [k], via, &rc, err, sizeof err);
            assert_int_equal (rc, 0);
        }
        audio_t audio;
        memset (&audio, 0, sizeof audio);
        char err [AUDIO_ERR_LEN] = "";
        assert_int_equal (audio_read (paths [k], &audio, err, sizeof err), 0);
        assert_int_equal (audio.frames, k < 2 ? 4800 : 4410);
        audio_free (&audio);
        unlink (paths [k]);
    }
}


//  What libsndfile itself reads from path: every frame as normalised float.
static float *
s_sndfile_floats (const char *path, int64_t *frames)
{
    SF_INFO info;
    memset (&info, 0, sizeof info);
    SNDFILE *sf = sf_open (path, SFM_READ, &info);
    assert_non_null (sf);
    float *x = malloc ((size_t) (info.frames + 1) * (size_t) info.channels * sizeof *x);
    sf_command (sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    *frames = sf_readf_float (sf, x, info.frames);
    sf_close (sf);
    return x;
}

//  Plain PCM WAVs are read without libsndfile's conversion (audio_io.c,
//  s_pcm_read): 16- and 24-bit, WAV and WAVE_FORMAT_EXTENSIBLE, 1 to 3
//  channels, INFO strings before the data, every code including both
//  ends of the word. Whole reads, sequential reads and reads at any
//  position give exactly the floats libsndfile gives, and the same number
//  of frames. A file cut in the middle of a frame (its header claiming
//  all of it) is refused by each as truncated.
static void
test_plain_pcm_as_libsndfile (void **state)
{
    (void) state;
    static const int formats [] = { SF_FORMAT_WAV | SF_FORMAT_PCM_16,
                                    SF_FORMAT_WAV | SF_FORMAT_PCM_24,
                                    SF_FORMAT_WAVEX | SF_FORMAT_PCM_16,
                                    SF_FORMAT_WAVEX | SF_FORMAT_PCM_24 };
    for (size_t fi = 0; fi < sizeof formats / sizeof formats [0]; fi++)
        for (int ch = 1; ch <= 3; ch++)
            for (int cut = 0; cut < 2; cut++) {
                char path [512], err [256];
                s_tmp (path, sizeof path, "pcm.wav");
                SF_INFO info = { .samplerate = 48000, .channels = ch, .format = formats [fi] };
                SNDFILE *sf = sf_open (path, SFM_WRITE, &info);
                assert_non_null (sf);
                sf_set_string (sf, SF_STR_TITLE, "odd");
                const int64_t frames = 70001;
                int32_t *v = malloc ((size_t) frames * (size_t) ch * sizeof *v);
                uint32_t r = 12345;
                for (int64_t i = 0; i < frames * ch; i++) {
                    r = r * 1664525u + 1013904223u;
                    v [i] = (int32_t) (r & 0xffffff00u);       //  every 24-bit code
                }
                v [0] = INT32_MIN;
                v [1 % (frames * ch)] = INT32_MAX & ~0xff;
                assert_int_equal (sf_writef_int (sf, v, frames), frames);
                sf_close (sf);
                free (v);
                if (cut) {                      //  cut mid-frame, header left claiming all
                    struct stat st;
                    assert_int_equal (stat (path, &st), 0);
                    assert_int_equal (truncate (path, st.st_size - 1000 - 1), 0);
                    //  refused by every reader, not read as far as it goes
                    audio_t a, i2;
                    audio_seq_t *q;
                    audio_stream_t *as;
                    assert_int_equal (audio_read (path, &a, err, sizeof err), MF_ERR_FORMAT);
                    assert_non_null (strstr (err, "truncated: its header gives"));
                    assert_int_equal (audio_seq_open (path, &i2, &q, err, sizeof err),
                                      MF_ERR_FORMAT);
                    assert_non_null (strstr (err, "truncated"));
                    int fd = open (path, O_RDONLY);
                    assert_int_equal (audio_stream_open_fd (fd, path, &as, &i2, err, sizeof err),
                                      MF_ERR_FORMAT);
                    close (fd);
                    unlink (path);
                    continue;
                }
                int64_t want_n;
                float *want = s_sndfile_floats (path, &want_n);
                audio_t a;
                assert_int_equal (audio_read (path, &a, err, sizeof err), 0);
                assert_int_equal (a.frames, want_n);
                assert_memory_equal (a.data, want, (size_t) want_n * ch * sizeof (float));
                audio_free (&a);
                //  in pieces, start to end
                audio_seq_t *q;
                audio_t info2;
                assert_int_equal (audio_seq_open (path, &info2, &q, err, sizeof err), 0);
                float *buf = malloc ((size_t) frames * (size_t) ch * sizeof *buf);
                int64_t got = 0, n;
                while ((n = audio_seq_read (q, buf + got * ch, 7000, err, sizeof err)) > 0)
                    got += n;
                assert_true (n == 0);
                audio_seq_close (&q);
                assert_int_equal (got, want_n);
                assert_memory_equal (buf, want, (size_t) want_n * ch * sizeof (float));
                //  at positions, backwards
                int fd = open (path, O_RDONLY);
                audio_stream_t *st;
                assert_int_equal (audio_stream_open_fd (fd, path, &st, &info2, err, sizeof err), 0);
                assert_int_equal (info2.frames, want_n);
                for (int64_t at = want_n; at > 0; ) {
                    int64_t k = at < 9000 ? at : 9000;
                    at -= k;
                    assert_int_equal (audio_stream_read (st, at, buf, k, err, sizeof err), 0);
                    assert_memory_equal (buf, want + at * ch, (size_t) k * ch * sizeof (float));
                }
                assert_int_not_equal (audio_stream_read (st, want_n - 5, buf, 10, err,
                                                         sizeof err), 0);
                audio_stream_close (&st);
                close (fd);
                free (buf);
                free (want);
                unlink (path);
            }
}

//  A file cut short (a copy that did not finish), WAV and AIFF, read from
//  a file and from memory (inline storage): refused as truncated, naming
//  both lengths. A WAV whose data length was never filled in (all ones,
//  as a recorder that streams leaves it) reads whole.
static void
test_read_again (void **state)
{
    (void) state;
    char path [512], err [256];
    s_tmp (path, sizeof path, "again.wav");
    SF_INFO info = { .samplerate = 48000, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24 };
    SNDFILE *sf = sf_open (path, SFM_WRITE, &info);
    assert_non_null (sf);
    float v [2 * 4800];
    for (int i = 0; i < 2 * 4800; i++)
        v [i] = 0.5f * (float) sin (i * 0.003);
    assert_int_equal (sf_writef_float (sf, v, 4800), 4800);
    sf_close (sf);
    audio_t first, again;
    assert_int_equal (audio_read (path, &first, err, sizeof err), 0);
    //  by path, by descriptor (read to its end first), from memory
    int fd = open (path, O_RDONLY);
    assert_true (fd >= 0);
    audio_again_t by_path = { .fd = -1, .name = path }, by_fd = { .fd = fd, .name = "again.wav" };
    assert_int_equal (audio_again_mark (&by_path, err, sizeof err), 0);
    assert_int_equal (audio_again_mark (&by_fd, err, sizeof err), 0);
    assert_int_equal (audio_read_fd (fd, "again.wav", &again, err, sizeof err), 0);
    audio_free (&again);
    audio_again_t *both [2] = { &by_path, &by_fd };
    for (int k = 0; k < 2; k++) {
        assert_int_equal (audio_read_again (both [k], &again, err, sizeof err), 0);
        assert_int_equal (again.frames, first.frames);
        assert_memory_equal (again.data, first.data, (size_t) first.frames * 2 * sizeof (float));
        audio_free (&again);
    }
    FILE *f = fopen (path, "rb");
    unsigned char bytes [65536];
    size_t n = fread (bytes, 1, sizeof bytes, f);
    fclose (f);
    audio_again_t mem = { .bytes = bytes, .size = n, .fd = -1, .name = "again.wav" };
    assert_int_equal (audio_read_again (&mem, &again, err, sizeof err), 0);
    assert_memory_equal (again.data, first.data, (size_t) first.frames * 2 * sizeof (float));
    audio_free (&again);
    //  touched: its times move, its samples do not; refused all the same
    struct timespec ts [2] = { { 1000000000, 0 }, { 1000000000, 0 } };
    assert_int_equal (utimensat (AT_FDCWD, path, ts, 0), 0);
    for (int k = 0; k < 2; k++) {
        memset (&again, 0, sizeof again);
        assert_int_equal (audio_read_again (both [k], &again, err, sizeof err), MF_ERR_IO);
        printf ("touched: %s\n", err);
        assert_non_null (strstr (err, "changed while it was being mastered"));
        assert_null (again.data);
    }
    close (fd);
    audio_free (&first);
    unlink (path);
}

static void
test_cut_short (void **state)
{
    (void) state;
    static const int formats [] = { SF_FORMAT_WAV | SF_FORMAT_PCM_24,
                                    SF_FORMAT_AIFF | SF_FORMAT_PCM_24 };
    for (size_t fi = 0; fi < 2; fi++) {
        char path [512], err [256];
        s_tmp (path, sizeof path, fi ? "cut.aiff" : "cut.wav");
        SF_INFO info = { .samplerate = 44100, .channels = 2, .format = formats [fi] };
        SNDFILE *sf = sf_open (path, SFM_WRITE, &info);
        assert_non_null (sf);
        float *v = calloc (2 * 44100, sizeof *v);
        for (int i = 0; i < 2 * 44100; i++)
            v [i] = 0.25f * (float) sin (i * 0.01);
        assert_int_equal (sf_writef_float (sf, v, 44100), 44100);
        sf_close (sf);
        free (v);
        FILE *f = fopen (path, "rb");
        assert_non_null (f);
        unsigned char *bytes = malloc (1 << 20);
        size_t n = fread (bytes, 1, 1 << 20, f);
        fclose (f);
        if (!fi) {
            //  the data length left unknown: whole
            unsigned char *u = malloc (n);
            memcpy (u, bytes, n);
            for (size_t k = 12; k + 8 <= n; k++)
                if (!memcmp (u + k, "data", 4)) {
                    memset (u + k + 4, 0xff, 4);
                    break;
                }
            audio_t a;
            assert_int_equal (audio_read_mem (u, n, "unknown.wav", &a, err, sizeof err), 0);
            assert_int_equal (a.frames, 44100);
            audio_free (&a);
            free (u);
        }
        //  two thirds of it
        size_t cut = n * 2 / 3;
        assert_int_equal (truncate (path, (off_t) cut), 0);
        audio_t a;
        assert_int_equal (audio_read (path, &a, err, sizeof err), MF_ERR_FORMAT);
        printf ("%s\n", err);
        assert_non_null (strstr (err, "truncated: its header gives"));
        assert_int_equal (audio_read_mem (bytes, cut, path, &a, err, sizeof err), MF_ERR_FORMAT);
        assert_non_null (strstr (err, "truncated: its header gives"));
        audio_stream_t *st;
        audio_t i2;
        assert_int_equal (audio_stream_open_mem (bytes, cut, path, &st, &i2, err, sizeof err),
                          MF_ERR_FORMAT);
        assert_non_null (strstr (err, "truncated"));
        free (bytes);
        unlink (path);
    }
}

//  The whole of a file, malloc'd; its length in *n.
static uint8_t *
s_slurp (const char *path, size_t *n)
{
    FILE *f = fopen (path, "rb");
    assert_non_null (f);
    fseek (f, 0, SEEK_END);
    long len = ftell (f);
    fseek (f, 0, SEEK_SET);
    uint8_t *b = malloc ((size_t) len + 1);
    assert_non_null (b);
    assert_int_equal (fread (b, 1, (size_t) len, f), (size_t) len);
    fclose (f);
    *n = (size_t) len;
    return b;
}

static void
test_wav24_sha_as_libsndfile (void **state)
{
    (void) state;
    static const int64_t lengths [] = { 0, 1, 7, 10001, 20000 };
    uint32_t seed = 99;
    for (int ch = 1; ch <= 2; ch++)
        for (size_t li = 0; li < sizeof lengths / sizeof lengths [0]; li++) {
            const int64_t frames = lengths [li];
            const size_t n = (size_t) frames * (size_t) ch;
            float *x = malloc ((n ? n : 1) * sizeof *x);
            assert_non_null (x);
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1664525u + 1013904223u;
                double u = (double) (seed >> 8) / 16777216.0;          //  0 .. 1
                switch (i % 5) {
                    case 0:  x [i] = (float) (2.4 * u - 1.2); break;   //  anywhere, clips
                    case 1:  x [i] = (float) (floor ((2 * u - 1) * 8388608.0) / 8388608.0);
                             break;                                    //  on the grid
                    case 2:  x [i] = (float) ((floor ((2 * u - 1) * 8388608.0) + 0.5)
                                              / 8388608.0); break;     //  half a step
                    case 3:  x [i] = (float) ((2 * u - 1) * 1e-6); break;
                    default: x [i] = i % 2 ? 1.0f : -1.0f; break;       //  full scale
                }
            }
            audio_t a = { .data = x, .frames = frames, .channels = ch, .rate_hz = 48000 };
            char ref [1024], got [1024], err [256], sha [SHA256_HEX_SIZE], want [SHA256_HEX_SIZE];
            s_tmp (ref, sizeof ref, "w24_ref.wav");
            s_tmp (got, sizeof got, "w24_got.wav");
            assert_int_equal (audio_write (ref, &a, OUT_WAV, 24, NULL, err, sizeof err), 0);
            assert_int_equal (audio_write_wav24_sha (got, &a, sha, err, sizeof err), 0);
            size_t nr, ng;
            uint8_t *br = s_slurp (ref, &nr), *bg = s_slurp (got, &ng);
            assert_int_equal (ng, nr);
            assert_memory_equal (bg, br, nr);
            assert_int_equal (sha256_file_hex (got, want), 0);
            assert_string_equal (sha, want);
            free (br);
            free (bg);
            free (x);
            unlink (ref);
            unlink (got);
        }
    //  more than two channels are left to libsndfile
    float z [6] = { 0 };
    audio_t six = { .data = z, .frames = 1, .channels = 6, .rate_hz = 48000 };
    char path [1024], err [256], sha [SHA256_HEX_SIZE];
    s_tmp (path, sizeof path, "w24_six.wav");
    assert_int_equal (audio_write_wav24_sha (path, &six, sha, err, sizeof err),
                      MF_ERR_UNSUPPORTED);
    assert_int_equal (access (path, F_OK), -1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_hostile_list_refused),
        cmocka_unit_test (test_cut_short),
        cmocka_unit_test (test_read_again),
        cmocka_unit_test (test_list_edges),
        cmocka_unit_test (test_valid_info_opens),
        cmocka_unit_test (test_plain_pcm_as_libsndfile),
        cmocka_unit_test (test_wav24_sha_as_libsndfile),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
