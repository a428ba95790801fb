/*  Command-line values: the checks every program's option parsing shares
    (a whole number in a range), so that each option says only its range
    and its message; and the --name=VALUE spelling for parsers that read
    --name VALUE by hand.  */
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

//  "--name=value" as "--name" "value": returns a copy of argv (argc
//  entries and a NULL) in which every argument of the form --name=value
//  before a "--" argument is split in two, so that a command that reads
//  "--name value" by hand accepts both spellings; *argc_out is the new
//  count. "-o=x", "--=x" and arguments after "--" are left as they are.
//  The array and the names are allocated once and live until the process
//  exits. NULL when out of memory.
char **cli_split_long_opts (int argc, char **argv, int *argc_out);

#endif
