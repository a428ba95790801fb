/*  Whole-track sample buffers (see samples.h): populated heap buffers
    (the largest kept for the next track), or shared mappings of unnamed
    files when spilled.  */
#include "worker/samples.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

//  Spilled buffers: each an unlinked file in s_spill.dir, mapped shared.
#define S_SPILL_MAX 16

static struct {
    pthread_mutex_t lock;
    char            dir [4096];        //  "": no spilling
    size_t          min_bytes;
    struct {
        float *p;
        size_t bytes;
        int    fd;
    } map [S_SPILL_MAX];
    //  The largest 2 MiB-aligned buffer freed (at most S_KEEP_MAX bytes), kept
    //  with its pages for the next one: a task process masters track
    //  after track, and the kernel clears every fresh page it gives
    struct {
        float *p;
        size_t bytes;                  //  malloc_usable_size
    } keep;
} s_spill = { .lock = PTHREAD_MUTEX_INITIALIZER };

#define S_HUGE      ((size_t) 2 << 20)
#define S_KEEP_MAX  ((size_t) 256 << 20)     //  about 12 minutes of 44.1 kHz stereo

void
samples_spill_setup (const char *dir, size_t min_bytes)
{
    pthread_mutex_lock (&s_spill.lock);
    snprintf (s_spill.dir, sizeof s_spill.dir, "%s", dir && min_bytes ? dir : "");
    s_spill.min_bytes = min_bytes;
    pthread_mutex_unlock (&s_spill.lock);
}

void
samples_spill_setup_env (const char *dir)
{
    long long mb = SAMPLES_SPILL_MB_DEFAULT;
    const char *v = getenv ("MASTERFARM_SPILL_MB");
    if (v && *v) {
        char *end;
        errno = 0;
        long long x = strtoll (v, &end, 10);
        if (errno || *end || x < 0 || x > (1LL << 30))
            log_warn ("MASTERFARM_SPILL_MB='%s': not a number of MB from 0; %lld it is",
                      v, mb);
        else
            mb = x;
    }
    samples_spill_setup (dir, (size_t) mb << 20);
}

//  Makes the file fd bytes long with its blocks reserved (a filesystem
//  without fallocate: sized only). Returns 0, or -1 with errno.
static int
s_reserve (int fd, size_t bytes)
{
    int rc = fallocate (fd, 0, 0, (off_t) bytes);
    if (rc && (errno == EOPNOTSUPP || errno == ENOSYS))
        rc = ftruncate (fd, (off_t) bytes);
    return rc;
}

//  The slot of spilled buffer p, or -1 (caller holds the lock).
static int
s_spill_find (const float *p)
{
    for (int i = 0; p && i < S_SPILL_MAX; i++)
        if (s_spill.map [i].p == p)
            return i;
    return -1;
}

//  A spilled buffer of bytes, or NULL (too small to spill, spilling off,
//  or it failed: then the caller takes anonymous memory, and a failure
//  is logged with its reason). The file's blocks are reserved up front,
//  so that a full disk is an error here rather than SIGBUS on a write.
static float *
s_spill_alloc (size_t bytes)
{
    float *p = NULL;
    pthread_mutex_lock (&s_spill.lock);
    int slot = -1;
    for (int i = 0; slot < 0 && i < S_SPILL_MAX; i++)
        if (!s_spill.map [i].p)
            slot = i;
    if (!*s_spill.dir || bytes < s_spill.min_bytes || slot < 0)
        goto done;
    int fd = open (s_spill.dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    const char *what = "cannot create an unnamed file";
    if (fd >= 0) {
        what = "cannot reserve its blocks";
        if (s_reserve (fd, bytes) == 0) {
            what = "cannot map it";
            void *m = mmap (NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (m != MAP_FAILED) {
                p = m;
                madvise (m, bytes, MADV_SEQUENTIAL);
                s_spill.map [slot].p = p;
                s_spill.map [slot].bytes = bytes;
                s_spill.map [slot].fd = fd;
                log_debug ("audio: %.1f MB of samples in a file in %s", bytes / 1e6,
                           s_spill.dir);
                goto done;
            }
        }
    }
    log_warn ("audio: %.1f MB of samples kept in memory: a file in %s for them: %s: %s",
              bytes / 1e6, s_spill.dir, what, strerror (errno));
    if (fd >= 0)
        close (fd);
done:
    pthread_mutex_unlock (&s_spill.lock);
    return p;
}

//  The kept buffer when it holds bytes (its pages past them given back,
//  so that the process holds what it asked for), else NULL (a kept
//  buffer too small is freed: a larger one is made now).
static float *
s_keep_take (size_t bytes)
{
    pthread_mutex_lock (&s_spill.lock);
    float *p = s_spill.keep.p;
    size_t have = s_spill.keep.bytes;
    s_spill.keep.p = NULL;
    s_spill.keep.bytes = 0;
    pthread_mutex_unlock (&s_spill.lock);
    if (p && have < bytes) {
        free (p);
        return NULL;
    }
    const size_t page = (size_t) sysconf (_SC_PAGESIZE);
    size_t tail = (have - bytes) / page * page;
    if (p && tail > 0)                  //  bytes is a whole number of 2 MiB
        madvise ((char *) p + bytes, tail, MADV_DONTNEED);
    return p;
}

float *
samples_alloc (size_t samples)
{
    const size_t huge = S_HUGE;
    size_t bytes = samples * sizeof (float);
    if (bytes < 256 * 1024)
        return malloc (bytes ? bytes : 1);
    float *p = s_spill_alloc (bytes);
    if (p)
        return p;
    size_t rounded = bytes;
    if (bytes >= 4 * huge) {
        rounded = (bytes + huge - 1) / huge * huge;
        p = s_keep_take (rounded);
        if (!p)
            p = aligned_alloc (huge, rounded);
    }
    else
        p = malloc (bytes);
    //  all of it is written soon: its pages in one call rather than one
    //  fault each (an old kernel refuses; the faults then come as usual)
    if (p)
        madvise ((void *) ((uintptr_t) p & ~(uintptr_t) 4095),
                 rounded + ((uintptr_t) p & 4095), MADV_POPULATE_WRITE);
    return p;
}

float *
samples_alloc_lazy (size_t samples)
{
    size_t bytes = samples * sizeof (float);
    float *p = bytes >= 256 * 1024 ? s_spill_alloc (bytes) : NULL;
    return p ? p : malloc (bytes ? bytes : 1);
}

float *
samples_realloc (float *p, size_t old_samples, size_t samples)
{
    size_t bytes = samples * sizeof (float), old = old_samples * sizeof (float);
    pthread_mutex_lock (&s_spill.lock);
    int slot = s_spill_find (p);
    if (slot >= 0) {
        //  a spilled buffer stays one: the file grows, the mapping follows
        //  (a full disk fails here, not as SIGBUS on a write later)
        float *q = NULL;
        int fd = s_spill.map [slot].fd;
        const char *what = "cannot reserve its blocks";
        if (bytes <= s_spill.map [slot].bytes || s_reserve (fd, bytes) == 0) {
            what = "cannot map it";
            void *m = mremap (p, s_spill.map [slot].bytes, bytes, MREMAP_MAYMOVE);
            if (m != MAP_FAILED) {
                q = m;
                s_spill.map [slot].p = q;
                s_spill.map [slot].bytes = bytes;
            }
        }
        int e = errno;
        if (!q)
            log_warn ("audio: growing the file of samples in %s to %.1f MB: %s: %s",
                      s_spill.dir, bytes / 1e6, what, strerror (e));
        pthread_mutex_unlock (&s_spill.lock);
        errno = e;
        return q;
    }
    pthread_mutex_unlock (&s_spill.lock);
    float *q = bytes >= 256 * 1024 ? s_spill_alloc (bytes) : NULL;
    if (!q)
        return realloc (p, bytes ? bytes : 1);
    memcpy (q, p, old < bytes ? old : bytes);
    free (p);
    return q;
}

void
samples_free (float *p)
{
    if (!p)
        return;
    pthread_mutex_lock (&s_spill.lock);
    int slot = s_spill_find (p);
    if (slot >= 0) {
        munmap (p, s_spill.map [slot].bytes);
        close (s_spill.map [slot].fd);
        s_spill.map [slot].p = NULL;
    }
    if (slot < 0) {
        //  a 2 MiB-aligned buffer is kept for the next one, the larger one
        //  when one is kept already
        size_t have = malloc_usable_size (p);
        if ((uintptr_t) p % S_HUGE == 0 && have >= 4 * S_HUGE && have <= S_KEEP_MAX
        &&  have > s_spill.keep.bytes) {
            float *old = s_spill.keep.p;
            s_spill.keep.p = p;
            s_spill.keep.bytes = have;
            p = old;
        }
    }
    pthread_mutex_unlock (&s_spill.lock);
    if (slot < 0)
        free (p);
}

void
samples_release (float *p, size_t from, size_t to)
{
    const uintptr_t page = (uintptr_t) sysconf (_SC_PAGESIZE);
    uintptr_t a = (uintptr_t) (p + from), b = (uintptr_t) (p + to);
    a = (a + page - 1) / page * page;
    b = b / page * page;
    if (b <= a)
        return;
    pthread_mutex_lock (&s_spill.lock);
    int slot = s_spill_find (p);
    if (slot >= 0)
        //  the file's blocks too: no writeback of what is done with
        fallocate (s_spill.map [slot].fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                   (off_t) (a - (uintptr_t) p), (off_t) (b - a));
    pthread_mutex_unlock (&s_spill.lock);
    madvise ((void *) a, b - a, MADV_DONTNEED);
}
