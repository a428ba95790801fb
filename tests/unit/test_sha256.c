/*  SHA-256 against the FIPS 180-4 example vectors (NIST "Example
    Algorithms", SHA256.pdf, and the long-message vector of FIPS 180-2
    appendix B.3), incremental feeding in every split, and the file form.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/sha256.h"
#include "testsig.h"

//  "abc": FIPS 180-4 example, one block.
static void
test_abc (void **state)
{
    char hex [SHA256_HEX_SIZE];
    sha256_buffer_hex ("abc", 3, hex);
    assert_string_equal (hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

//  The empty message.
static void
test_empty (void **state)
{
    char hex [SHA256_HEX_SIZE];
    sha256_buffer_hex ("", 0, hex);
    assert_string_equal (hex,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

//  The 448-bit message: padding spills into a second block.
static void
test_448 (void **state)
{
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal (strlen (m) * 8, 448);
    char hex [SHA256_HEX_SIZE];
    sha256_buffer_hex (m, strlen (m), hex);
    assert_string_equal (hex,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

//  The 896-bit message of FIPS 180-4 examples.
static void
test_896 (void **state)
{
    const char *m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    char hex [SHA256_HEX_SIZE];
    sha256_buffer_hex (m, strlen (m), hex);
    assert_string_equal (hex,
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

//  One million 'a', fed in uneven pieces.
static void
test_million_a (void **state)
{
    char chunk [1000];
    memset (chunk, 'a', sizeof chunk);
    sha256_ctx_t ctx;
    sha256_init (&ctx);
    size_t fed = 0, step = 1;
    while (fed < 1000000) {
        size_t n = step < 1000000 - fed ? step : 1000000 - fed;
        if (n > sizeof chunk)
            n = sizeof chunk;
        sha256_update (&ctx, chunk, n);
        fed += n;
        step = step * 7 % 997 + 1;
    }
    uint8_t d [SHA256_DIGEST_BYTES];
    char hex [SHA256_HEX_SIZE];
    sha256_final (&ctx, d);
    assert_string_equal (sha256_hex (d, hex),
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

//  Every two-piece split of messages of length 0..130 equals the one-shot digest.
static void
test_splits (void **state)
{
    uint8_t msg [130];
    for (size_t i = 0; i < sizeof msg; i++)
        msg [i] = (uint8_t) (i * 31 + 7);
    for (size_t len = 0; len <= sizeof msg; len++) {
        uint8_t want [32], got [32];
        sha256_buffer (msg, len, want);
        for (size_t cut = 0; cut <= len; cut++) {
            sha256_ctx_t ctx;
            sha256_init (&ctx);
            sha256_update (&ctx, msg, cut);
            sha256_update (&ctx, msg + cut, len - cut);
            sha256_final (&ctx, got);
            assert_memory_equal (want, got, 32);
        }
    }
}

//  A file's digest equals the buffer's; a missing file is MF_ERR_IO.
static void
test_file (void **state)
{
    const char *dir = testsig_tmpdir ("sha256");
    char path [1024];
    snprintf (path, sizeof path, "%s/abc.txt", dir);
    FILE *f = fopen (path, "wb");
    assert_non_null (f);
    fputs ("abc", f);
    fclose (f);
    char hex [SHA256_HEX_SIZE];
    assert_int_equal (sha256_file_hex (path, hex), 0);
    assert_string_equal (hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    snprintf (path, sizeof path, "%s/missing.txt", dir);
    assert_int_equal (sha256_file_hex (path, hex), MF_ERR_IO);
}

//  Runs every SHA-256 test; non-zero exit on any failure.
int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_abc),
        cmocka_unit_test (test_empty),
        cmocka_unit_test (test_448),
        cmocka_unit_test (test_896),
        cmocka_unit_test (test_million_a),
        cmocka_unit_test (test_splits),
        cmocka_unit_test (test_file),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
