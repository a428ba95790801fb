/*  Fuzz target for the job-spec parsers: the same bytes go to the JSON
    parser, the CSV parser and the chain parser. Whatever is accepted must
    serialise to canonical JSON that parses again to the same canonical
    text (round trip), and nothing may crash or leak. Normal builds replay
    tests/fuzz/corpus/fuzz_spec/ through replay_main.c.  */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/spec.h"

//  Serialises spec, parses the text again and checks it is a fixed point.
//  Aborts (a finding) if the canonical form is refused or differs.
static void
s_check_round_trip (const job_spec_t *spec)
{
    char *json = spec_to_json (spec);
    if (!json)
        return;                             //  out of memory only
    spec_errors_t errs = { 0 };
    job_spec_t *again = spec_parse_json (json, strlen (json), "canonical", &errs);
    if (!again) {
        fprintf (stderr, "canonical JSON refused:\n%s\n", json);
        spec_errors_print (&errs, "canonical", stderr);
        abort ();
    }
    char *json2 = spec_to_json (again);
    if (json2 && strcmp (json, json2) != 0) {
        fprintf (stderr, "canonical JSON is not a fixed point:\n%s\n---\n%s\n", json, json2);
        abort ();
    }
    free (json2);
    spec_destroy (&again);
    spec_errors_clear (&errs);
    free (json);
}

//  Feeds one input to the JSON, CSV and chain parsers.
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    spec_errors_t errs = { 0 };

    job_spec_t *spec = spec_parse_json (text, size, "fuzz.json", &errs);
    if (spec) {
        s_check_round_trip (spec);
        char root [] = ".";
        spec_check_paths (spec, root, &errs);
        spec_destroy (&spec);
    }
    spec_errors_clear (&errs);

    spec = spec_parse_csv (text, size, "fuzz.csv", &errs);
    if (spec) {
        s_check_round_trip (spec);
        spec_destroy (&spec);
    }
    spec_errors_clear (&errs);

    settings_t s;
    spec_settings_default (&s);
    chain_cfg_t chain = s.chain;
    if (spec_parse_chain_json (text, size, "fuzz-chain.json", &chain, &errs) == 0
    &&  spec_check_chain (&chain, "$", &errs) != 0)
        abort ();                           //  the parser accepted what the checker refuses
    spec_errors_clear (&errs);
    return 0;
}
