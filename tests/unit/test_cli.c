/*  cli_long: whole decimal integers in a range, nothing else.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_cli_long),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
