/*  Task bodies (see task.h). Each body turns a Task into a Result: it reads
    its inputs (from the shared roots or from data frames), calls the
    library that does the work (analysis_run, master_run, assemble_album)
    and writes or returns its outputs. Every failure becomes a Result that
    is not ok with one line saying what and where; the worker sends that
    to the broker, which decides on retries.  */
#include "worker/task.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/spec.h"
#include "worker/analysis.h"
#include "worker/dsp/dsp_ops.h"
#include "worker/dsp/tonal_eq.h"

#define S_ERR_LEN   1024
#define S_MAX_OUTS  256

typedef struct {
    const Masterfarm__Task *task;
    void *const   *in_frames;
    const size_t  *in_sizes;
    size_t         n_in;
    char           err [S_ERR_LEN];
    int            err_errno;   //  errno when the error line was set (I/O, memory)
    bool           input_changed;  //  a master's input is not what its analysis read
    audio_again_t  again;       //  a master's input, to read again (its fd closed at the end)
    //  Result being built.
    Masterfarm__Result  result;
    Masterfarm__Analysis analysis;
    double         band [MEASURE_BANDS];
    measure_t      measure;
    char          *report_json;
    Masterfarm__FileRef  refs [S_MAX_OUTS];
    Masterfarm__FileRef *ref_ptrs [S_MAX_OUTS];
    char          *ref_paths [S_MAX_OUTS];
    char           ref_sha [S_MAX_OUTS][SHA256_HEX_SIZE];
    size_t         n_refs;
    //  Output frames (inline).
    uint8_t       *frames [S_MAX_OUTS];
    size_t         frame_sizes [S_MAX_OUTS];
    size_t         n_frames;
} s_run_t;

//  Sets the run's error line (printf-style) and returns code.
static int
s_fail (s_run_t *r, int code, const char *fmt, ...)
{
    if (code == MF_ERR_IO || code == MF_ERR_NOMEM)
        r->err_errno = errno;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (r->err, sizeof r->err, fmt, ap);
    va_end (ap);
    return code ? code : MF_ERR_INTERNAL;
}

//  root/rel into buf after a lexical sandbox check. Returns 0 or MF_ERR_INVALID.
static int
s_join (s_run_t *r, const char *root, const char *rel, char *buf, size_t size)
{
    if (!root || !*root || !rel || !fsutil_rel_path_ok (rel))
        return s_fail (r, MF_ERR_INVALID, "task %llu: bad path '%s'",
                       (unsigned long long) r->task->task_id, rel ? rel : "(none)");
    if ((size_t) snprintf (buf, size, "%s/%s", root, rel) >= size)
        return s_fail (r, MF_ERR_INVALID, "%s/%s: path too long", root, rel);
    return 0;
}

//  Opens the output folder of rel (its folder part when is_file, else rel
//  itself) beneath the output root, made if missing, and names it in dir
//  (see fsutil_dir_beneath); *dirfd stays open while dir is used.
//  Returns 0 or an error with r->err.
static int
s_out_dir (s_run_t *r, const char *rel, bool is_file, char *dir, size_t size, int *dirfd)
{
    char rel_dir [4096];
    snprintf (rel_dir, sizeof rel_dir, "%s", rel);
    char *slash = strrchr (rel_dir, '/');
    if (is_file) {
        if (slash)
            *slash = '\0';
        else
            snprintf (rel_dir, sizeof rel_dir, ".");
    }
    *dirfd = fsutil_dir_beneath (r->task->output_root, rel_dir, true, dir, size);
    if (*dirfd < 0) {
        char why [160];
        fsutil_beneath_strerror (*dirfd, errno, "output", why, sizeof why);
        int code = *dirfd;
        *dirfd = -1;
        return s_fail (r, code, "%s: cannot create folder: %s", rel_dir, why);
    }
    return 0;
}

//  Messages name files under a held folder by its descriptor path
//  (fsutil_dir_beneath): rewrites each such mention in r->err to the
//  folder's path, the output root joined with rel_dir, so that an
//  operator sees which disk failed.
static void
s_err_names_dir (s_run_t *r, const char *held, const char *rel_dir)
{
    size_t n = strlen (held);
    if (n == 0 || strncmp (held, "/proc/", 6) != 0)
        return;
    char named [4096];
    const char *root = r->task->output_root ? r->task->output_root : "";
    snprintf (named, sizeof named, "%s%s%s", root, *root ? "/" : "", rel_dir);
    char out [S_ERR_LEN];
    size_t len = 0;
    const char *p = r->err;
    while (*p && len + 1 < sizeof out) {
        if (strncmp (p, held, n) == 0) {
            int w = snprintf (out + len, sizeof out - len, "%s", named);
            len += w > 0 ? (size_t) w : 0;
            if (len >= sizeof out)
                len = sizeof out - 1;
            p += n;
        }
        else
            out [len++] = *p++;
    }
    out [len] = '\0';
    memcpy (r->err, out, len + 1);
}

//  The SHA-256 (hex) of a whole file, read through fd from the start
//  (the file position is left alone). Returns 0, MF_ERR_IO or
//  MF_ERR_NOMEM.
static int
s_hash_fd (int fd, char hex [SHA256_HEX_SIZE])
{
    enum { S_CHUNK = 1 << 18 };
    uint8_t *buf = malloc (S_CHUNK);
    if (!buf)
        return MF_ERR_NOMEM;
    sha256_ctx_t ctx;
    sha256_init (&ctx);
    off_t at = 0;
    for (;;) {
        ssize_t n = pread (fd, buf, S_CHUNK, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free (buf);
            return MF_ERR_IO;
        }
        if (n == 0)
            break;
        sha256_update (&ctx, buf, (size_t) n);
        at += n;
    }
    free (buf);
    uint8_t digest [SHA256_DIGEST_BYTES];
    sha256_final (&ctx, digest);
    sha256_hex (digest, hex);
    return 0;
}

//  Opens input i of a shared-storage task beneath its root (the output
//  root for an assembly's intermediates), its full path into path.
//  Returns the descriptor, or a negative error with r->err.
static int
s_open_input (s_run_t *r, size_t i, char *path, size_t path_size)
{
    const Masterfarm__Task *t = r->task;
    const char *root = t->kind == MASTERFARM__TASK_KIND__KIND_ASSEMBLE ? t->output_root
                                                                       : t->input_root;
    const char *what = root == t->output_root ? "output" : "input";
    const char *rel = t->inputs [i]->path;
    int rc = s_join (r, root, rel, path, path_size);
    if (rc)
        return rc;
    //  Opened beneath the root now, not only checked at submit: a file
    //  swapped for a symlink to elsewhere since then is refused here.
    int fd = fsutil_open_beneath (root, rel, O_RDONLY, 0);
    if (fd < 0) {
        char why [160];
        fsutil_beneath_strerror (fd, errno, what, why, sizeof why);
        int code = fd == MF_ERR_INVALID ? MF_ERR_INVALID : MF_ERR_IO;
        if (root == t->output_root)
            return s_fail (r, code, "%s: %s", rel, why);
        return s_fail (r, code, "album %u track %u: %s: %s", t->album + 1, t->track + 1,
                       rel, why);
    }
    return fd;
}

//  Reads input i of the task into audio. Returns 0 or an error with r->err.
static int
s_read_input (s_run_t *r, size_t i, audio_t *audio, char *sha_hex, audio_again_t *again)
{
    const Masterfarm__Task *t = r->task;
    if (i >= t->n_inputs)
        return s_fail (r, MF_ERR_PROTOCOL, "task %llu: input %zu missing",
                       (unsigned long long) t->task_id, i);
    if (t->storage == MASTERFARM__STORAGE__STORAGE_INLINE) {
        if (i >= r->n_in)
            return s_fail (r, MF_ERR_PROTOCOL, "task %llu: data frame %zu missing",
                           (unsigned long long) t->task_id, i);
        if (sha_hex)
            sha256_buffer_hex (r->in_frames [i], r->in_sizes [i], sha_hex);
        if (again)
            *again = (audio_again_t) { .bytes = r->in_frames [i], .size = r->in_sizes [i],
                                       .fd = -1, .name = t->inputs [i]->path };
        return audio_read_mem (r->in_frames [i], r->in_sizes [i], t->inputs [i]->path,
                               audio, r->err, sizeof r->err);
    }
    char path [4096];
    int fd = s_open_input (r, i, path, sizeof path);
    if (fd < 0)
        return fd;
    //  kept open to be read again (its status now, to know it unchanged then)
    if (again) {
        *again = (audio_again_t) { .fd = fd, .name = t->inputs [i]->path };
        if (audio_again_mark (again, r->err, sizeof r->err)) {
            close (fd);
            again->fd = -1;
            return MF_ERR_IO;
        }
    }
    int rc = audio_read_fd (fd, path, audio, r->err, sizeof r->err);
    //  the digest of the very bytes just decoded (they are in the page
    //  cache now): the broker keys what it reuses on it
    if (!rc && sha_hex && s_hash_fd (fd, sha_hex))
        sha_hex [0] = '\0';
    if (!again || rc) {
        close (fd);
        if (again)
            again->fd = -1;
    }
    return rc;
}

//  Parses the task's one-album spec. Returns the spec or NULL with r->err.
static job_spec_t *
s_spec (s_run_t *r)
{
    const char *text = r->task->settings_json;
    spec_errors_t errs = { 0 };
    job_spec_t *spec = text ? spec_parse_json (text, strlen (text), "task settings", &errs)
                            : NULL;
    if (!spec || spec->n_albums < 1) {
        s_fail (r, MF_ERR_PROTOCOL, "task %llu: settings do not parse: %s%s%s",
                (unsigned long long) r->task->task_id,
                errs.n ? errs.items [0].path : "", errs.n ? ": " : "",
                errs.n ? errs.items [0].message : "no album");
        spec_destroy (&spec);
    }
    spec_errors_clear (&errs);
    return spec;
}

//  Records an output file reference (path as given to the broker).
static int
s_add_ref (s_run_t *r, const char *path, uint64_t size, const char *sha)
{
    if (r->n_refs >= S_MAX_OUTS)
        return s_fail (r, MF_ERR_INVALID, "too many outputs");
    size_t i = r->n_refs++;
    masterfarm__file_ref__init (&r->refs [i]);
    r->ref_paths [i] = strdup (path);
    if (!r->ref_paths [i])
        return s_fail (r, MF_ERR_NOMEM, "out of memory");
    r->refs [i].path = r->ref_paths [i];
    r->refs [i].size = size;
    if (sha) {
        snprintf (r->ref_sha [i], SHA256_HEX_SIZE, "%s", sha);
        r->refs [i].sha256 = r->ref_sha [i];
    }
    r->ref_ptrs [i] = &r->refs [i];
    return 0;
}

//  Reads a whole file into a new output frame. Returns 0 or an error.
static int
s_add_frame_file (s_run_t *r, const char *path)
{
    if (r->n_frames >= S_MAX_OUTS)
        return s_fail (r, MF_ERR_INVALID, "too many outputs");
    char *data;
    size_t len;
    int rc = fsutil_read_file (path, (size_t) WIRE_MAX_MSG_BYTES, &data, &len);
    if (rc)
        return s_fail (r, rc, "%s: cannot read back the output: %s", path, mf_strerror (rc));
    r->frames [r->n_frames] = (uint8_t *) data;
    r->frame_sizes [r->n_frames] = len;
    r->n_frames++;
    return 0;
}

//  A private temporary folder for inline outputs. Returns 0 or an error.
static int
s_tempdir (s_run_t *r, char *buf, size_t size)
{
    const char *tmp = getenv ("TMPDIR");
    snprintf (buf, size, "%s/masterfarm-task-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp (buf))
        return s_fail (r, MF_ERR_IO, "%s: cannot create a temporary folder: %s", buf,
                       strerror (errno));
    return 0;
}

//  Removes a temporary folder and the files directly in it.
static void
s_rm_tempdir (const char *dir)
{
    DIR *d = opendir (dir);
    if (d) {
        struct dirent *e;
        char path [4096];
        while ((e = readdir (d)))
            if (strcmp (e->d_name, ".") && strcmp (e->d_name, "..")) {
                snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
                unlink (path);
            }
        closedir (d);
    }
    rmdir (dir);
}

//  Removes the regular files directly in dir (an earlier assembly's, before
//  a retry rebuilds the folder); a missing folder is fine.
static void
s_clear_dir (const char *dir)
{
    DIR *d = opendir (dir);
    if (!d)
        return;
    struct dirent *e;
    char path [4200];
    while ((e = readdir (d)))
        if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN) {
            snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat (path, &st) == 0 && S_ISREG (st.st_mode))
                unlink (path);
        }
    closedir (d);
}

//  Frames an analyze task decodes and measures at a time (0.37 s at 44.1 kHz).
#define S_ANALYZE_PIECE  16384

//  Analyze of a file input: opened beneath the input root as s_read_input
//  opens it, decoded piece by piece into one buffer that the streaming
//  analysis takes in turn, so the task's memory does not grow with the
//  track; then the SHA-256 of the very bytes decoded (in the page cache
//  now), as s_read_input takes it. Returns 0 with r->measure and sha, or
//  an error with r->err.
static int
s_analyze_file (s_run_t *r, char sha [SHA256_HEX_SIZE])
{
    const Masterfarm__Task *t = r->task;
    if (t->n_inputs < 1)
        return s_fail (r, MF_ERR_PROTOCOL, "task %llu: input 0 missing",
                       (unsigned long long) t->task_id);
    char path [4096];
    int fd = s_open_input (r, 0, path, sizeof path);
    if (fd < 0)
        return fd;
    int rc;
    audio_t info;
    audio_seq_t *seq = NULL;
    analysis_stream_t *stream = NULL;
    float *buf = NULL;
    rc = audio_seq_open_fd (fd, path, &info, &seq, r->err, sizeof r->err);
    if (!rc && !(buf = malloc ((size_t) S_ANALYZE_PIECE * (size_t) info.channels
                               * sizeof (float))))
        rc = s_fail (r, MF_ERR_NOMEM, "%s: out of memory", path);
    if (!rc)
        rc = analysis_start (&stream, info.channels, info.rate_hz, NULL, r->err, sizeof r->err);
    while (!rc) {
        int64_t n = audio_seq_read (seq, buf, S_ANALYZE_PIECE, r->err, sizeof r->err);
        if (n == 0)
            break;
        rc = n < 0 ? (int) n : analysis_feed (stream, buf, n, r->err, sizeof r->err);
    }
    audio_seq_close (&seq);
    free (buf);
    if (!rc)
        rc = analysis_finish (&stream, info.format, &r->measure, r->err, sizeof r->err);
    analysis_stream_destroy (&stream);              //  a failed read: give up
    if (!rc && s_hash_fd (fd, sha))
        sha [0] = '\0';
    close (fd);
    return rc;
}

//  Analyze: the track's measurements; a file input streams
//  (s_analyze_file), an inline one is in memory already.
static int
s_analyze (s_run_t *r)
{
    char sha [SHA256_HEX_SIZE] = "";
    int rc;
    if (r->task->storage == MASTERFARM__STORAGE__STORAGE_INLINE) {
        audio_t in = { 0 };
        rc = s_read_input (r, 0, &in, sha, NULL);
        if (rc)
            return rc;
        rc = analysis_run (&in, NULL, &r->measure, r->err, sizeof r->err);
        audio_free (&in);
    }
    else
        rc = s_analyze_file (r, sha);
    if (rc)
        return rc;
    snprintf (r->measure.input_sha256, sizeof r->measure.input_sha256, "%s", sha);
    results_analysis_to_pb (&r->measure, &r->analysis, r->band);
    r->result.analysis = &r->analysis;
    return 0;
}

//  Master: the track through the chain with its plan, quantised to the
//  profile's word (24 bits for cd: the assembly dithers), written as a
//  WAV intermediate.
static int
s_master (s_run_t *r)
{
    const Masterfarm__Task *t = r->task;
    const profile_t *profile = t->profile ? profile_find (t->profile) : NULL;
    if (!profile)
        return s_fail (r, MF_ERR_PROTOCOL, "task %llu: unknown profile '%s'",
                       (unsigned long long) t->task_id, t->profile ? t->profile : "");
    if (t->n_outputs < 1 || !t->plan)
        return s_fail (r, MF_ERR_PROTOCOL, "task %llu: master task without output or plan",
                       (unsigned long long) t->task_id);
    job_spec_t *spec = s_spec (r);
    if (!spec)
        return MF_ERR_PROTOCOL;
    const spec_album_t *album = &spec->albums [0];
    if (t->track >= album->n_tracks) {
        spec_destroy (&spec);
        return s_fail (r, MF_ERR_PROTOCOL, "task %llu: track %u not in its album",
                       (unsigned long long) t->task_id, t->track);
    }
    //  a track too long for memory spills to a file in the output root
    //  (or the temporary folder), where its intermediate goes anyway
    const char *tmp_root = getenv ("TMPDIR");
    samples_spill_setup_env (t->storage != MASTERFARM__STORAGE__STORAGE_INLINE && t->output_root
                           && *t->output_root ? t->output_root
                           : tmp_root && *tmp_root ? tmp_root : "/tmp");
    audio_t in = { 0 }, out = { 0 };
    //  the digest its analysis read, when the broker asks for the content
    //  to be checked (the file's status changed since)
    const char *want = t->n_inputs > 0 && t->inputs [0]->sha256 && *t->inputs [0]->sha256
                     ? t->inputs [0]->sha256 : NULL;
    if (want && (strlen (want) != 64 || strspn (want, "0123456789abcdef") != 64)) {
        spec_destroy (&spec);
        return s_fail (r, MF_ERR_PROTOCOL, "task %llu: input digest '%.80s' is not SHA-256 hex",
                       (unsigned long long) t->task_id, want);
    }
    char in_sha [SHA256_HEX_SIZE] = "";
    int rc = s_read_input (r, 0, &in, want ? in_sha : NULL, &r->again);
    if (!rc && want && !in_sha [0])
        rc = s_fail (r, MF_ERR_IO, "album %u track %u: %s: cannot read it again to check it",
                     t->album + 1, t->track + 1, t->inputs [0]->path);
    if (!rc && want && strcmp (in_sha, want)) {
        r->input_changed = true;
        rc = s_fail (r, MF_ERR_FORMAT, "album %u track %u: %s: its content is not the one its "
                     "analysis read (SHA-256 %.16s..., analysed %.16s...)", t->album + 1,
                     t->track + 1, t->inputs [0]->path, in_sha, want);
    }
    if (want && !rc)
        log_info ("album %u track %u: %s: its content is the one its analysis read",
                  t->album + 1, t->track + 1, t->inputs [0]->path);
    if (rc) {
        audio_free (&in);
        spec_destroy (&spec);
        return rc;
    }
    master_opts_t o;
    master_opts_default (&o, profile, in.rate_hz);
    o.chain = album->tracks [t->track].s.chain;
    o.target_lufs = t->plan->target_lufs;
    o.gain_db = t->plan->gain_db;
    o.ceiling_dbtp = t->plan->ceiling_dbtp;
    o.has_tonal = t->plan->n_tonal_db == MEASURE_BANDS;
    for (size_t b = 0; o.has_tonal && b < MEASURE_BANDS; b++)
        o.tonal_db [b] = t->plan->tonal_db [b];
    //  a reference match: minimum-phase tonal EQ, the width the plan found
    if (t->plan->reference) {
        if (!(t->plan->width_share >= 0.0 && t->plan->width_share <= 1.0)) {
            spec_destroy (&spec);
            audio_free (&in);
            return s_fail (r, MF_ERR_PROTOCOL, "task %llu: plan width share %g; 0 .. 1",
                           (unsigned long long) t->task_id, t->plan->width_share);
        }
        o.chain.tonal_minimum_phase = true;
        o.width_to_db = t->plan->side_mid_to_db;
        o.width_share = t->plan->width_share;
    }
    //  the album's rate from the plan: every master of one album and
    //  profile has it, whatever each source's rate
    o.out_rate_hz = t->plan->out_rate_hz > 0 ? (int) t->plan->out_rate_hz
                                             : profile_output_rate (profile, in.rate_hz);
    //  a word under 24 bits is the assembly's to make: it dithers the
    //  album's timeline once (fades, crossfades and any gain after the
    //  limiter included), so the master hands over 24-bit samples
    o.out_bits = profile->bits < 24 ? 24 : profile->bits;
    o.later_bits = profile->bits < 24 ? profile->bits : 0;
    o.fade_in_s = 0;                     //  assemble does the fades
    o.fade_out_s = 0;
    //  the per-track file around the master: its silence and fades (the
    //  loop lands the file on the target); at most an hour of each
    const int64_t hour = 3600 * (int64_t) o.out_rate_hz;
    const int64_t file [6] = { t->plan->pad_lead_frames, t->plan->pad_trail_frames,
                               t->plan->fade_in_frames, t->plan->fade_out_frames,
                               t->plan->cut_trail_frames, t->plan->xfade_in_frames };
    static const char *const file_names [6] = { "pad_lead_frames", "pad_trail_frames",
                                                "fade_in_frames", "fade_out_frames",
                                                "cut_trail_frames", "xfade_in_frames" };
    for (int k = 0; k < 6; k++)
        if (file [k] < 0 || file [k] > hour) {
            spec_destroy (&spec);
            audio_free (&in);
            return s_fail (r, MF_ERR_PROTOCOL, "task %llu: plan %s %lld; 0 .. %lld",
                           (unsigned long long) t->task_id, file_names [k],
                           (long long) file [k], (long long) hour);
        }
    o.file_lead_frames = file [0];
    o.file_trail_frames = file [1];
    o.file_fade_in_frames = file [2];
    o.file_fade_out_frames = file [3];
    o.file_cut_frames = file [4];
    o.file_xfade_in_frames = file [5];
    //  the tail's levels: a list of another length is refused; a level
    //  out of range is silence (none, or not known)
    if (t->plan->n_xfade_in_lufs != 0 && t->plan->n_xfade_in_lufs != FADE_TAIL_SEGMENTS) {
        spec_destroy (&spec);
        audio_free (&in);
        return s_fail (r, MF_ERR_PROTOCOL, "task %llu: plan xfade_in_lufs has %zu levels; %d",
                       (unsigned long long) t->task_id, t->plan->n_xfade_in_lufs,
                       FADE_TAIL_SEGMENTS);
    }
    for (int q = 0; q < FADE_TAIL_SEGMENTS; q++) {
        double xl = t->plan->n_xfade_in_lufs ? t->plan->xfade_in_lufs [q] : NAN;
        o.file_xfade_in_lufs [q] = xl >= -200.0 && xl <= 20.0 ? xl : NAN;
    }
    o.fade_curve = album->tracks [t->track].s.fade_curve;
    o.file_trim_db = album->tracks [t->track].s.trim ? album->tracks [t->track].s.trim_db : NAN;
    master_report_t rep;
    memset (&rep, 0, sizeof rep);
    //  the output's blocks go back with the report: the broker gates the
    //  album's output loudness on them before it assembles
    master_blocks_t blocks = { NULL, 0 };
    o.blocks = &blocks;
    //  the lossy round trips, when the spec asks for them for this profile
    const settings_t *ts = &album->tracks [t->track].s;
    uint32_t bit = 1u << profile->id;
    //  the loudness loop may read the input again (master_opts_t.reload)
    o.reload = audio_read_again;
    o.reload_arg = &r->again;
    if (ts->codec_check & bit)
        rc = master_run_codec (&in, &o, profile->lossy_kbps, (ts->codec_safe & bit) != 0,
                               &out, &rep, r->err, sizeof r->err);
    else
        rc = master_run_take (&in, &o, &out, &rep, r->err, sizeof r->err);
    audio_free (&in);
    spec_destroy (&spec);
    if (rc) {
        free (blocks.lufs);
        return rc;
    }

    //  Write the intermediate in the master's word (24-bit PCM: its
    //  samples lie on that grid, so the WAV holds them exactly, in less
    //  room than floats), or 32-bit float.
    char dir [4096] = "", path [4096], tmp [4200] = "";
    int dirfd = -1;
    bool inline_mode = t->storage == MASTERFARM__STORAGE__STORAGE_INLINE;
    if (inline_mode) {
        rc = s_tempdir (r, dir, sizeof dir);
        if (!rc && (size_t) snprintf (path, sizeof path, "%s/master.wav", dir) >= sizeof path)
            rc = s_fail (r, MF_ERR_INVALID, "%s: path too long", dir);
    }
    else {
        rc = s_join (r, t->output_root, t->outputs [0]->path, path, sizeof path);
        if (!rc)
            rc = s_out_dir (r, t->outputs [0]->path, true, dir, sizeof dir, &dirfd);
        if (!rc && (size_t) snprintf (path, sizeof path, "%s/%s", dir,
                                      strrchr (t->outputs [0]->path, '/')
                                      ? strrchr (t->outputs [0]->path, '/') + 1
                                      : t->outputs [0]->path) >= sizeof path)
            rc = s_fail (r, MF_ERR_INVALID, "%s: path too long", dir);
    }
    if (!rc && fsutil_temp_path (path, tmp, sizeof tmp))
        rc = s_fail (r, MF_ERR_INVALID, "%s: path too long", path);
    //  a 24-bit mono or stereo intermediate is hashed as it is written
    //  (the bytes libsndfile would write); others are read back for it
    char sha [SHA256_HEX_SIZE] = "";
    if (!rc && out.bits == 24) {
        rc = audio_write_wav24_sha (tmp, &out, sha, r->err, sizeof r->err);
        if (rc == MF_ERR_UNSUPPORTED)
            rc = 0;
        else
        if (rc)
            sha [0] = '\0';
    }
    if (!rc && !sha [0])
        rc = audio_write (tmp, &out, OUT_WAV, out.bits == 16 || out.bits == 24 ? out.bits : 32,
                          NULL, r->err, sizeof r->err);
    if (!rc && fsutil_commit_temp (tmp, path))
        rc = s_fail (r, MF_ERR_IO, "%s: cannot commit the output: %s", path, strerror (errno));
    if (rc && !inline_mode) {
        char rel_dir [4096];
        snprintf (rel_dir, sizeof rel_dir, "%s", t->outputs [0]->path);
        char *slash = strrchr (rel_dir, '/');
        if (slash)
            *slash = '\0';
        s_err_names_dir (r, dir, rel_dir);
    }
    if (rc)
        unlink (tmp);
    audio_free (&out);
    struct stat st;
    if (!rc && ((!sha [0] && sha256_file_hex (path, sha)) || stat (path, &st)))
        rc = s_fail (r, MF_ERR_IO, "%s: cannot read back the output", path);
    if (!rc)
        rc = s_add_ref (r, t->outputs [0]->path, (uint64_t) st.st_size, sha);
    if (!rc && inline_mode)
        rc = s_add_frame_file (r, path);
    if (inline_mode)
        s_rm_tempdir (dir);
    if (dirfd >= 0)
        close (dirfd);
    rep.out_blocks = blocks.lufs;
    rep.n_out_blocks = blocks.n;
    if (!rc)
        r->report_json = results_master_json (&rep);
    free (blocks.lufs);
    if (rc)
        return rc;
    if (!r->report_json)
        return s_fail (r, MF_ERR_NOMEM, "out of memory");
    r->result.report_json = r->report_json;
    return 0;
}

//  Compares file names for a stable output order.
static int
s_cmp_names (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

//  Records every finished file in dir as an output (sorted by name);
//  inline: also as data frames. Returns 0 or an error.
static int
s_collect_dir (s_run_t *r, const char *dir, bool inline_mode)
{
    DIR *d = opendir (dir);
    if (!d)
        return s_fail (r, MF_ERR_IO, "%s: cannot list outputs: %s", dir, strerror (errno));
    char *names [S_MAX_OUTS];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir (d)) && n < S_MAX_OUTS)
        if (e->d_name [0] != '.' && !strstr (e->d_name, ".tmp-"))
            names [n++] = strdup (e->d_name);
    closedir (d);
    qsort (names, n, sizeof names [0], s_cmp_names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path [4096], sha [SHA256_HEX_SIZE];
        struct stat st;
        if (!rc && !names [i])
            rc = s_fail (r, MF_ERR_NOMEM, "out of memory");
        if (!rc) {
            snprintf (path, sizeof path, "%s/%s", dir, names [i]);
            if (stat (path, &st) || !S_ISREG (st.st_mode) || sha256_file_hex (path, sha))
                rc = s_fail (r, MF_ERR_IO, "%s: cannot read back the output", path);
        }
        if (!rc)
            rc = s_add_ref (r, names [i], (uint64_t) st.st_size, sha);
        if (!rc && inline_mode)
            rc = s_add_frame_file (r, path);
        free (names [i]);
    }
    return rc;
}

//  The album stage's tracks as an assemble_source_t: the intermediates
//  the master tasks wrote, opened as streams (beneath the output root in
//  shared storage, the data frames inline) and read a piece at a time.
typedef struct {
    s_run_t         *r;
    audio_stream_t **streams;      //  n
    int             *fds;          //  n, -1: none
    size_t           n;
    size_t           opened;       //  tracks opened so far
    int              rate_hz;      //  of the first track
    float           *gain;         //  n linear gains after the limiter (the album
                                   //  correction's), NULL: none
    int             *channels;     //  n, each track's, as opened
} s_asm_src_t;

static int
s_asm_open (void *arg, size_t i, audio_t *info, char *err, size_t err_size)
{
    s_asm_src_t *src = arg;
    s_run_t *r = src->r;
    const Masterfarm__Task *t = r->task;
    int rc;
    if (i >= t->n_inputs || i >= src->n)
        return s_fail (r, MF_ERR_PROTOCOL, "task %llu: input %zu missing",
                       (unsigned long long) t->task_id, i);
    const char *rel = t->inputs [i]->path;
    if (t->storage == MASTERFARM__STORAGE__STORAGE_INLINE) {
        if (i >= r->n_in)
            return s_fail (r, MF_ERR_PROTOCOL, "task %llu: data frame %zu missing",
                           (unsigned long long) t->task_id, i);
        rc = audio_stream_open_mem (r->in_frames [i], r->in_sizes [i], rel, &src->streams [i],
                                    info, err, err_size);
    }
    else {
        char path [4096];
        rc = s_join (r, t->output_root, rel, path, sizeof path);
        if (rc)
            return rc;
        //  opened beneath the root now: a file swapped for a symlink since
        //  the master wrote it is refused
        int fd = fsutil_open_beneath (t->output_root, rel, O_RDONLY, 0);
        if (fd < 0) {
            char why [160];
            fsutil_beneath_strerror (fd, errno, "output", why, sizeof why);
            return s_fail (r, fd == MF_ERR_INVALID ? MF_ERR_INVALID : MF_ERR_IO, "%s: %s",
                           rel, why);
        }
        src->fds [i] = fd;
        rc = audio_stream_open_fd (fd, path, &src->streams [i], info, err, err_size);
    }
    if (!rc && i == 0)
        src->rate_hz = info->rate_hz;
    if (!rc)
        src->channels [i] = info->channels;
    if (!rc)
        src->opened++;
    return rc;
}

static int
s_asm_read (void *arg, size_t i, int64_t at, float *buf, int64_t n, char *err, size_t err_size)
{
    s_asm_src_t *src = arg;
    int rc = audio_stream_read (src->streams [i], at, buf, n, err, err_size);
    if (!rc && src->gain && src->gain [i] != 1.0f)
        dsp_ops ()->scale (buf, buf, src->gain [i], (size_t) n * (size_t) src->channels [i]);
    return rc;
}

//  Assemble: the album for one profile from its mastered intermediates.
static int
s_assemble (s_run_t *r)
{
    const Masterfarm__Task *t = r->task;
    const profile_t *profile = t->profile ? profile_find (t->profile) : NULL;
    if (!profile || t->n_outputs < 1)
        return s_fail (r, MF_ERR_PROTOCOL, "task %llu: assemble task without profile "
                       "or output", (unsigned long long) t->task_id);
    job_spec_t *spec = s_spec (r);
    if (!spec)
        return MF_ERR_PROTOCOL;
    const spec_album_t *album = &spec->albums [0];

    //  Which album tracks take part, in order.
    json_error_t jerr;
    json_t *extra = t->extra.len ? json_loadb ((const char *) t->extra.data, t->extra.len,
                                               0, &jerr) : NULL;
    json_t *list = extra ? json_object_get (extra, "tracks") : NULL;
    size_t n = json_is_array (list) ? json_array_size (list) : 0;
    //  A partial delivery: per-track files only, under their spec numbers.
    //  A streaming profile the spec gives "album_file": false: the same,
    //  the album being whole.
    bool whole = !json_is_true (json_object_get (extra, "partial"))
              && !(album->s.no_album_file & (1u << profile->id));
    int rc = 0;
    if (n == 0 || n != t->n_inputs)
        rc = s_fail (r, MF_ERR_PROTOCOL, "task %llu: assemble track list does not match "
                     "its inputs", (unsigned long long) t->task_id);
    spec_album_t sub = *album;
    sub.tracks = calloc (n ? n : 1, sizeof *sub.tracks);
    sub.n_tracks = n;
    int *numbers = calloc (n ? n : 1, sizeof *numbers);
    s_asm_src_t src = { r, calloc (n ? n : 1, sizeof *src.streams),
                        calloc (n ? n : 1, sizeof *src.fds), n, 0, 0, NULL,
                        calloc (n ? n : 1, sizeof *src.channels) };
    for (size_t i = 0; src.fds && i < n; i++)
        src.fds [i] = -1;
    if (!rc && (!sub.tracks || !numbers || !src.streams || !src.fds || !src.channels))
        rc = s_fail (r, MF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        json_int_t k = json_integer_value (json_array_get (list, i));
        if (k < 0 || (size_t) k >= album->n_tracks)
            rc = s_fail (r, MF_ERR_PROTOCOL, "task %llu: track %lld not in the album",
                         (unsigned long long) t->task_id, (long long) k);
        else {
            sub.tracks [i] = album->tracks [k];
            numbers [i] = (int) k + 1;
        }
    }
    //  The album correction's gain after the limiter, per track: a
    //  lowering (a gain up would take the peaks over the ceiling)
    json_t *gains = extra ? json_object_get (extra, "gain_db") : NULL;
    if (!rc && gains) {
        if (!json_is_array (gains) || json_array_size (gains) != n)
            rc = s_fail (r, MF_ERR_PROTOCOL, "task %llu: assemble gain_db must list one gain "
                         "per track", (unsigned long long) t->task_id);
        else
        if (!(src.gain = calloc (n, sizeof *src.gain)))
            rc = s_fail (r, MF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; !rc && src.gain && i < n; i++) {
        json_t *g = json_array_get (gains, i);
        double db = json_is_number (g) ? json_number_value (g) : NAN;
        if (!(db <= 0.0 && db >= -48.0))
            rc = s_fail (r, MF_ERR_PROTOCOL, "task %llu: assemble gain_db [%zu] is not a "
                         "lowering of at most 48 dB", (unsigned long long) t->task_id, i);
        else
            src.gain [i] = (float) pow (10.0, db / 20.0);
    }
    json_decref (extra);

    char dir [4096] = "";
    int dirfd = -1;
    bool inline_mode = t->storage == MASTERFARM__STORAGE__STORAGE_INLINE;
    if (!rc) {
        if (inline_mode)
            rc = s_tempdir (r, dir, sizeof dir);
        else {
            rc = s_join (r, t->output_root, t->outputs [0]->path, dir, sizeof dir);
            if (!rc)
                rc = s_out_dir (r, t->outputs [0]->path, false, dir, sizeof dir, &dirfd);
        }
    }
    assemble_layout_t layout;
    memset (&layout, 0, sizeof layout);
    if (!rc && !inline_mode)
        s_clear_dir (dir);
    //  the mastered tracks are read in pieces, never whole
    assemble_source_t as = { s_asm_open, s_asm_read, &src };
    if (!rc)
        rc = assemble_album_stream (&sub, profile, &as, n, numbers, (int) album->n_tracks,
                                    whole, dir, &layout, r->err, sizeof r->err);
    if (rc && !inline_mode && dirfd >= 0 && src.opened == n)
        s_err_names_dir (r, dir, t->outputs [0]->path);
    int rate_hz = src.rate_hz;
    for (size_t i = 0; i < n && src.streams; i++) {
        audio_stream_close (&src.streams [i]);
        if (src.fds && src.fds [i] >= 0)
            close (src.fds [i]);
    }
    free (src.streams);
    free (src.fds);
    free (src.gain);
    free (src.channels);
    free (numbers);
    free (sub.tracks);
    spec_destroy (&spec);
    if (!rc)
        rc = s_collect_dir (r, dir, inline_mode);
    if (inline_mode && dir [0])
        s_rm_tempdir (dir);
    if (dirfd >= 0)
        close (dirfd);
    if (!rc) {
        r->report_json = results_layout_json (&layout, rate_hz);
        r->result.report_json = r->report_json;
        if (!r->report_json)
            rc = s_fail (r, MF_ERR_NOMEM, "out of memory");
    }
    assemble_layout_free (&layout);
    return rc;
}

//  Packs the result and hands the frames over to out.
static int
s_pack (s_run_t *r, task_output_t *out)
{
    r->result.n_outputs = r->n_refs;
    r->result.outputs = r->n_refs ? r->ref_ptrs : NULL;
    size_t size = masterfarm__result__get_packed_size (&r->result);
    out->result = malloc (size ? size : 1);
    if (!out->result)
        return MF_ERR_NOMEM;
    masterfarm__result__pack (&r->result, out->result);
    out->result_size = size;
    if (r->n_frames) {
        out->frames = calloc (r->n_frames, sizeof *out->frames);
        out->frame_sizes = calloc (r->n_frames, sizeof *out->frame_sizes);
        if (!out->frames || !out->frame_sizes)
            return MF_ERR_NOMEM;
        for (size_t i = 0; i < r->n_frames; i++) {
            out->frames [i] = r->frames [i];
            out->frame_sizes [i] = r->frame_sizes [i];
            r->frames [i] = NULL;
        }
        out->n_frames = r->n_frames;
    }
    return 0;
}

int
task_run (const Masterfarm__Task *task, void *const *in_frames,
          const size_t *in_sizes, size_t n_in, task_output_t *out)
{
    memset (out, 0, sizeof *out);
    s_run_t *r = calloc (1, sizeof *r);
    if (!r)
        return MF_ERR_NOMEM;
    r->task = task;
    r->in_frames = in_frames;
    r->in_sizes = in_sizes;
    r->n_in = n_in;
    r->again.fd = -1;
    masterfarm__result__init (&r->result);
    masterfarm__analysis__init (&r->analysis);
    r->result.task_id = task->task_id;
    r->result.attempt = task->attempt;
    int64_t start_us = clock_mono_us ();
    int rc;
    switch (task->kind) {
        case MASTERFARM__TASK_KIND__KIND_NOOP:     rc = 0; break;
        case MASTERFARM__TASK_KIND__KIND_ANALYZE:  rc = s_analyze (r); break;
        case MASTERFARM__TASK_KIND__KIND_MASTER:   rc = s_master (r); break;
        case MASTERFARM__TASK_KIND__KIND_ASSEMBLE: rc = s_assemble (r); break;
        default:
            rc = s_fail (r, MF_ERR_PROTOCOL, "task %llu: unknown kind %d",
                         (unsigned long long) task->task_id, (int) task->kind);
    }
    int task_errno = errno;
    r->result.ok = rc == 0;
    if (rc) {
        if (!r->err [0])
            snprintf (r->err, sizeof r->err, "%s", mf_strerror (rc));
        r->result.error = r->err;
        //  Why: the machine (disk full, I/O error, memory) or the task.
        int e = r->err_errno ? r->err_errno : rc == MF_ERR_IO ? task_errno : 0;
        if (rc == MF_ERR_NOMEM && !mf_errno_is_resource (e))
            e = ENOMEM;
        if ((rc == MF_ERR_IO || rc == MF_ERR_NOMEM) && mf_errno_is_resource (e)) {
            r->result.error_class = MASTERFARM__ERROR_CLASS__ERROR_RESOURCE;
            r->result.error_errno = e;
        }
        if (r->input_changed)
            r->result.error_class = MASTERFARM__ERROR_CLASS__ERROR_INPUT_CHANGED;
        //  A failed task returns no outputs.
        r->result.analysis = NULL;
        for (size_t i = 0; i < r->n_frames; i++)
            free (r->frames [i]);
        r->n_frames = 0;
        r->n_refs = 0;
    }
    r->result.elapsed_s = (double) (clock_mono_us () - start_us) / 1e6;
    int prc = s_pack (r, out);
    for (size_t i = 0; i < r->n_refs; i++)
        free (r->ref_paths [i]);
    for (size_t i = 0; i < r->n_frames; i++)
        free (r->frames [i]);
    free (r->report_json);
    measure_free (&r->measure);
    if (r->again.fd >= 0)
        close (r->again.fd);
    free (r);
    if (prc)
        task_output_clear (out);
    return prc;
}

void
task_warm_up (void)
{
    static const int rates [] = { 44100, 48000 };
    double flat [MEASURE_BANDS] = { 0 };
    flat [MEASURE_BANDS / 2] = 0.5;             //  a curve to design, not a bypass
    for (size_t i = 0; i < sizeof rates / sizeof rates [0]; i++) {
        for (int mode = TONAL_EQ_LINEAR; mode <= TONAL_EQ_MINIMUM; mode++) {
            tonal_eq_t *eq = tonal_eq_new (flat, (tonal_eq_mode_t) mode, rates [i], 2);
            tonal_eq_destroy (&eq);
        }
        //  two seconds of quiet noise through the analysis
        audio_t a = { .frames = 2 * rates [i], .channels = 2, .rate_hz = rates [i] };
        a.data = malloc ((size_t) a.frames * 2 * sizeof *a.data);
        uint32_t x = 1;
        for (int64_t k = 0; a.data && k < a.frames * 2; k++) {
            x = x * 1664525u + 1013904223u;
            a.data [k] = (float) ((double) x / 4294967296.0 - 0.5) * 0.01f;
        }
        measure_t m;
        char err [128];
        if (a.data && analysis_run (&a, NULL, &m, err, sizeof err) == 0)
            measure_free (&m);
        free (a.data);
    }
}

void
task_output_clear (task_output_t *out)
{
    if (!out)
        return;
    free (out->result);
    for (size_t i = 0; i < out->n_frames; i++)
        free (out->frames [i]);
    free (out->frames);
    free (out->frame_sizes);
    memset (out, 0, sizeof *out);
}

int
task_output_fail (task_output_t *out, uint64_t task_id, uint32_t attempt, const char *error)
{
    memset (out, 0, sizeof *out);
    Masterfarm__Result res = MASTERFARM__RESULT__INIT;
    res.task_id = task_id;
    res.attempt = attempt;
    res.ok = false;
    res.error = (char *) error;
    out->result_size = masterfarm__result__get_packed_size (&res);
    out->result = malloc (out->result_size);
    if (!out->result)
        return MF_ERR_NOMEM;
    masterfarm__result__pack (&res, out->result);
    return 0;
}
