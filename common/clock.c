/*  Clocks and timestamp conversion (RFC 3339, UTC).  */
#include "common/clock.h"
#include "common/err.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t
clock_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_mono_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
clock_wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Days from 1970-01-01 to a civil date (proleptic Gregorian).
static int64_t
s_days_from_civil (int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int
clock_parse_rfc3339 (const char *text, int64_t *ms_out)
{
    int y, mo, d, h, mi, s, n = 0;
    if (!text || sscanf (text, "%4d-%2d-%2dT%2d:%2d:%2d%n",
                         &y, &mo, &d, &h, &mi, &s, &n) != 6 || n != 19)
        return MF_ERR_FORMAT;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return MF_ERR_FORMAT;
    const char *p = text + n;
    int64_t ms = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0)
            return MF_ERR_FORMAT;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    int64_t offset_min = 0;
    if (*p == 'Z' || *p == 'z')
        p++;
    else
    if (*p == '+' || *p == '-') {
        int oh, om, k = 0;
        if (sscanf (p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5
        ||  oh > 23 || om > 59)
            return MF_ERR_FORMAT;
        offset_min = (oh * 60 + om) * (*p == '+' ? 1 : -1);
        p += 6;
    }
    else
        return MF_ERR_FORMAT;
    if (*p)
        return MF_ERR_FORMAT;
    int64_t days = s_days_from_civil (y, mo, d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + s - offset_min * 60;
    *ms_out = secs * 1000 + ms;
    return 0;
}

char *
clock_format_rfc3339 (int64_t ms, char *buf, size_t size)
{
    time_t secs = (time_t) (ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r (&secs, &tm);
    snprintf (buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ",
              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
              tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}
