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

//  The hardware block function (when the CPU has it) equals the portable
//  one on pseudo-random messages of every length 0..300 and a few large ones.
static void
test_hardware_matches_c (void **state)
{
    if (!sha256_use_hardware (true)) {
        printf ("no SHA extensions on this CPU: only the portable path is tested\n");
        skip ();
    }
    const uint64_t seed = 0x5eed5a256ULL;
    printf ("seed %llu\n", (unsigned long long) seed);
    testsig_rng_t rng;
    testsig_rng_seed (&rng, seed);
    size_t max = 70016;                             //  longest message plus the largest offset
    uint8_t *msg = malloc (max);
    assert_non_null (msg);
    for (size_t i = 0; i < max; i++)
        msg [i] = (uint8_t) (testsig_rng_uniform (&rng) * 256.0);
    size_t lens [] = { 1000, 4095, 65536, 69999 };
    for (size_t k = 0; k < 301 + 4; k++) {
        size_t len = k < 301 ? k : lens [k - 301];
        size_t off = k % 7;                         //  misaligned starts too
        uint8_t hw [32], c [32];
        sha256_use_hardware (true);
        sha256_buffer (msg + off, len, hw);
        sha256_use_hardware (false);
        sha256_buffer (msg + off, len, c);
        assert_memory_equal (hw, c, 32);
    }
    sha256_use_hardware (true);
    free (msg);
}

//  Group setups: portable C, then the SHA extensions where present.
static int
s_use_c (void **state)
{
    sha256_use_hardware (false);
    return 0;
}

static int
s_use_hardware (void **state)
{
    if (!sha256_use_hardware (true))
        printf ("no SHA extensions on this CPU: this group runs the portable path again\n");
    return 0;
}

//  Runs every SHA-256 test with each block function; non-zero exit on any failure.
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
        cmocka_unit_test (test_hardware_matches_c),
    };
    int failed = cmocka_run_group_tests_name ("sha256 portable C", tests, s_use_c, NULL);
    failed += cmocka_run_group_tests_name ("sha256 SHA extensions", tests, s_use_hardware, NULL);
    return failed ? 1 : 0;
}
