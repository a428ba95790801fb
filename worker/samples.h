/*  Whole-track sample buffers (interleaved 32-bit floats).

    A buffer that is about to be written whole: from 256 KiB its pages
    are populated in one call instead of one fault each; from 8 MiB it is
    aligned to 2 MiB (the kept buffer, samples.c). It is not offered as
    transparent huge pages (MADV_HUGEPAGE): on a worker whose memory is
    full of page cache (the audio it reads), the kernel compacts memory
    for each huge page as it is faulted in, and a 240 s master took 0.51 s
    of kernel time on average (up to 0.94 s) against 0.05 s without, for
    2% less user time.

    Spilling (samples_spill_setup): a buffer of at least min_bytes is made
    instead in an unnamed file in dir (O_TMPFILE: it has no name and goes
    with the process), mapped shared, its blocks reserved up front. Its
    pages are then the file's, which the kernel writes out and drops under
    memory pressure instead of failing: a track larger than the memory at
    hand still masters, at the cost of the disk's speed. Every pass over a
    track is sequential, which suits that. When the file cannot be made
    (no O_TMPFILE, a full disk), the buffer is anonymous memory as usual
    and a warning says why.  */
#ifndef MF_SAMPLES_H
#define MF_SAMPLES_H

#include <stddef.h>

//  Where buffers of at least min_bytes spill (dir NULL or min_bytes 0:
//  nowhere), for the whole process.
void samples_spill_setup (const char *dir, size_t min_bytes);

//  samples_spill_setup with min_bytes from MASTERFARM_SPILL_MB (MB; 0: never
//  spill; default SAMPLES_SPILL_MB_DEFAULT: a track's float copy of 1 GiB
//  is about 100 minutes of 44.1 kHz stereo, 47 of 96 kHz).
#define SAMPLES_SPILL_MB_DEFAULT 1024
void samples_spill_setup_env (const char *dir);

//  A buffer of samples floats about to be written whole; NULL when out of
//  memory. Free it with samples_free (or audio_free).
float *samples_alloc (size_t samples);

//  The same without populating the pages (a buffer filled gradually).
float *samples_alloc_lazy (size_t samples);

//  p (from the functions above, malloc or NULL) resized to samples
//  floats, the first old_samples kept; NULL on failure (p unchanged),
//  errno then ENOMEM, or the disk's error (ENOSPC) for a spilled buffer.
float *samples_realloc (float *p, size_t old_samples, size_t samples);

//  Frees p, from any of the above or malloc; NULL-safe.
void samples_free (float *p);

//  Gives the pages wholly inside samples [from, to) of buffer p back (a
//  spilled buffer's file blocks too); they read as zeros afterwards.
void samples_release (float *p, size_t from, size_t to);

#endif
