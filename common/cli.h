/*  Command-line values: the checks every program's option parsing shares
    (a whole number in a range), so that each option says only its range
    and its message.  */
#ifndef MF_CLI_H
#define MF_CLI_H

#include <stdbool.h>

//  True when text is a whole decimal integer (optional sign, nothing
//  after it) within [lo, hi]; then *out holds it. NULL, empty text,
//  trailing characters and out-of-range values (overflow included) are
//  false and leave *out alone.
bool cli_long (const char *text, long lo, long hi, long *out);

//  True when text is a whole number as strtod reads it (nothing after
//  it) within [lo, hi]; then *out holds it. NULL, empty text, trailing
//  characters, NaN and values out of range are false and leave *out
//  alone.
bool cli_double (const char *text, double lo, double hi, double *out);

#endif
