/*  Clocks: a monotonic clock for timeouts and heartbeats, the wall clock
    for deadlines and deliver_at, and RFC 3339 UTC conversion.  */
#ifndef MF_CLOCK_H
#define MF_CLOCK_H

#include <stdint.h>
#include <stddef.h>

//  Milliseconds on a monotonic clock (never jumps; origin unspecified).
int64_t clock_mono_ms (void);

//  Microseconds on the monotonic clock, for benchmarks.
int64_t clock_mono_us (void);

//  Milliseconds since the Unix epoch, wall clock.
int64_t clock_wall_ms (void);

//  Parses "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)" into ms since the
//  epoch. Returns 0, or MF_ERR_FORMAT if the text is not such a timestamp.
int clock_parse_rfc3339 (const char *text, int64_t *ms_out);

//  Formats ms since the epoch as "YYYY-MM-DDTHH:MM:SSZ" into buf
//  (at least 21 bytes). Returns buf.
char *clock_format_rfc3339 (int64_t ms, char *buf, size_t size);

#endif
