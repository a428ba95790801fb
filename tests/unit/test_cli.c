/*  cli_long and cli_double: numbers in a range, nothing else.  */
#include <setjmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/cli.h"

static void
test_cli_long (void **state)
{
    (void) state;
    long v = 7;
    assert_true (cli_long ("1", 1, 10, &v));
    assert_int_equal (v, 1);
    assert_true (cli_long ("10", 1, 10, &v));
    assert_int_equal (v, 10);
    assert_true (cli_long ("-3", -5, 5, &v));
    assert_int_equal (v, -3);
    v = 7;
    //  out of range, empty, trailing text, not a number, overflow, NULL
    const char *bad [] = { "0", "11", "", "5x", "x5", "1.5", " ", "99999999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        assert_false (cli_long (bad [i], 1, 10, &v));
    assert_false (cli_long (NULL, 1, 10, &v));
    assert_int_equal (v, 7);                    //  untouched on failure
}

static void
test_cli_double (void **state)
{
    (void) state;
    double v = 7.0;
    assert_true (cli_double ("2.5", 1.0, 10.0, &v));
    assert_true (v == 2.5);
    assert_true (cli_double ("-14", -40.0, -5.0, &v));
    assert_true (v == -14.0);
    assert_true (cli_double ("1e1", 1.0, 10.0, &v));
    assert_true (v == 10.0);
    v = 7.0;
    const char *bad [] = { "0.5", "10.01", "", "5s", "x", " ", "nan", "inf", "-inf" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        assert_false (cli_double (bad [i], 1.0, 10.0, &v));
    assert_false (cli_double (NULL, 1.0, 10.0, &v));
    assert_true (v == 7.0);                     //  untouched on failure
}

static void
test_cli_split_long_opts (void **state)
{
    (void) state;
    char *in [] = { "masterfarm", "album", "--profile=cd", "-o", "out", "--target-lufs=-9.5",
                    "--quiet", "--title=A=B", "--broker=", "-j=2", "--=x", "--",
                    "--not=split", NULL };
    int n = 0;
    char **out = cli_split_long_opts (13, in, &n);
    assert_non_null (out);
    const char *want [] = { "masterfarm", "album", "--profile", "cd", "-o", "out",
                            "--target-lufs", "-9.5", "--quiet", "--title", "A=B",
                            "--broker", "", "-j=2", "--=x", "--", "--not=split" };
    assert_int_equal (n, (int) (sizeof want / sizeof want [0]));
    for (int i = 0; i < n; i++)
        assert_string_equal (out [i], want [i]);
    assert_null (out [n]);
    //  the split names are the only strings the call allocated
    for (int i = 0; i < n; i++) {
        bool own = true;
        for (int k = 0; k < 13; k++)
            if (out [i] == in [k] || (out [i] > in [k] && out [i] <= in [k] + strlen (in [k])))
                own = false;
        if (own)
            free (out [i]);
    }
    free (out);
    //  the program name is never split
    char *first [] = { "--a=b", NULL };
    out = cli_split_long_opts (1, first, &n);
    assert_int_equal (n, 1);
    assert_string_equal (out [0], "--a=b");
    free (out);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_cli_long),
        cmocka_unit_test (test_cli_double),
        cmocka_unit_test (test_cli_split_long_opts),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
