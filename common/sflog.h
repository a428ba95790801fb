/*  What libsndfile's log (sf_command SFC_GET_LOG_INFO) says of a file:
    the broker (headers at submit) and the worker (every read) read it
    the same way.  */
#ifndef MF_SFLOG_H
#define MF_SFLOG_H

#include <stdbool.h>

//  True when log gives a data chunk cut short: "data : A (should be B)"
//  (WAV, RF64) or "SSND : A (should be B)" (AIFF), A the bytes its header
//  claims and B those the file holds, A > B. A claim of all ones (a
//  header written before its length was known) is not a cut. claimed and
//  held get A and B.
bool sflog_cut_short (const char *log, long long *claimed, long long *held);

#endif
