/*  Logging: one line per message on stderr, with time, level and the
    calling thread's job/album/track/worker context.  */
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int s_level = -1;              //  -1 until read from the environment

static _Thread_local char s_ctx [256];  //  preformatted "[job=.. ...] " or ""

log_level_t
log_level (void)
{
    if (s_level < 0) {
        const char *env = getenv ("MASTERFARM_LOG");
        int parsed = env ? log_level_parse (env) : -1;
        s_level = parsed >= 0 ? parsed : LOG_INFO;
    }
    return (log_level_t) s_level;
}

void
log_set_level (log_level_t level)
{
    s_level = (int) level;
}

int
log_level_parse (const char *name)
{
    static const char *names [] = { "debug", "info", "warn", "error", "off" };
    for (int i = 0; i < 5; i++)
        if (strcasecmp (name, names [i]) == 0)
            return i;
    return -1;
}

void
log_ctx_set (const log_ctx_t *ctx)
{
    s_ctx [0] = 0;
    if (!ctx)
        return;
    size_t len = 0;
    const char *keys [] = { "job", "album", "track", "worker" };
    const char *vals [] = { ctx->job, ctx->album, ctx->track, ctx->worker };
    for (int i = 0; i < 4; i++) {
        if (!vals [i] || len >= sizeof s_ctx - 2)
            continue;
        len += snprintf (s_ctx + len, sizeof s_ctx - len, "%s%s=%s",
                         len ? " " : "[", keys [i], vals [i]);
    }
    if (len && len < sizeof s_ctx - 2)
        snprintf (s_ctx + len, sizeof s_ctx - len, "] ");
}

void
log_emit (log_level_t level, const char *fmt, ...)
{
    static const char *names [] = { "debug", "info ", "warn ", "error" };
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    char line [2048];
    int len = snprintf (line, sizeof line,
                        "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                        tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                        names [level < LOG_OFF ? level : LOG_ERROR], s_ctx);
    va_list ap;
    va_start (ap, fmt);
    if (len > 0 && (size_t) len < sizeof line)
        vsnprintf (line + len, sizeof line - (size_t) len, fmt, ap);
    va_end (ap);
    fprintf (stderr, "%s\n", line);
}
