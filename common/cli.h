/*  Command-line values: the checks every program's option parsing shares
    (a whole number in a range), so that each option says only its range
    and its message; and the --name=VALUE spelling for parsers that read
    --name VALUE by hand.  */
#ifndef MF_CLI_H
#define MF_CLI_H

#include <stdbool.h>
#include <stdio.h>

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

//  The end of a daemon's getopt switch (its default case): -h / --help
//  (c 'h') prints usage to stdout and gives 0, --version (c 'V') prints
//  "prog VERSION" and gives 0, anything else prints usage to stderr and
//  gives 2: the exit status to return.
int cli_daemon_option (int c, const char *prog, void (*usage) (FILE *out));

//  After a daemon's getopt loop: 0 when no operand follows the options
//  (it takes none), else 2 after saying so and printing usage to stderr.
int cli_daemon_operands (int argc, char **argv, int optind, const char *prog,
                         void (*usage) (FILE *out));

//  A daemon's signals: SIGTERM and SIGINT call on_stop, SIGHUP on_hup
//  (when not NULL), SIGPIPE is ignored (a peer that went away is an
//  error return, not a death).
void cli_daemon_signals (void (*on_stop) (int), void (*on_hup) (int));

#endif
