/*  Logging with levels and a per-thread context (job, album, track, worker).

    Messages go to stderr as one line each:
        2026-11-21T22:30:01.123Z warn  [job=12 album=3 track=7 worker=w1] text
    The level is checked before any formatting, so a disabled log_debug costs
    one comparison. MASTERFARM_LOG=debug|info|warn|error sets the level at
    start; log_set_level changes it later.  */
#ifndef MF_LOG_H
#define MF_LOG_H

#include <stdarg.h>

typedef enum {
    LOG_DEBUG = 0,
    LOG_INFO  = 1,
    LOG_WARN  = 2,
    LOG_ERROR = 3,
    LOG_OFF   = 4
} log_level_t;

typedef struct {
    const char *job;        //  job id or NULL
    const char *album;      //  album index or title, or NULL
    const char *track;      //  track index or path, or NULL
    const char *worker;     //  worker identity, or NULL
} log_ctx_t;

//  Current level, initialised from MASTERFARM_LOG on first use (default info).
log_level_t log_level (void);

//  Sets the level for the whole process.
void log_set_level (log_level_t level);

//  Parses "debug", "info", "warn", "error" or "off". Returns -1 if unknown.
int log_level_parse (const char *name);

//  Sets this thread's context; the strings are copied. NULL clears it.
void log_ctx_set (const log_ctx_t *ctx);

//  Writes one line at a level, unconditionally. Use the macros below.
void log_emit (log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

#define log_debug(...) do { if (log_level () <= LOG_DEBUG) log_emit (LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_level () <= LOG_INFO)  log_emit (LOG_INFO,  __VA_ARGS__); } while (0)
#define log_warn(...)  do { if (log_level () <= LOG_WARN)  log_emit (LOG_WARN,  __VA_ARGS__); } while (0)
#define log_error(...) do { if (log_level () <= LOG_ERROR) log_emit (LOG_ERROR, __VA_ARGS__); } while (0)

#endif
