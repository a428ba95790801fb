/*  CURVE key files and the allow-list (common/keys.h): a generated pair
    loads back, every malformed file is refused with a message naming the
    file and the fault (short key, a character outside the Z85 alphabet of
    RFC 32, a group above 2^32, a pair whose halves do not match, unknown
    lines, a missing file), a secret key file that others may read is
    refused, the allow folder skips bad files by name and fails closed, and
    endpoints are classed local or not.  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/keys.h"

//  A scratch folder per test run.
static char s_dir [512];

//  Writes text to DIR/name with mode; returns the path (static buffer per call site).
static const char *
s_file (const char *name, const char *text, mode_t mode)
{
    static char paths [8][600];
    static int next = 0;
    char *path = paths [next++ % 8];
    snprintf (path, 600, "%s/%s", s_dir, name);
    unlink (path);
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
    assert_int_equal (chmod (path, mode), 0);
    return path;
}

//  Creates the scratch folder under MF_TEST_TMP (or /tmp).
static int
s_setup (void **state)
{
    const char *root = getenv ("MF_TEST_TMP");
    snprintf (s_dir, sizeof s_dir, "%s/test_keys.XXXXXX", root && *root ? root : "/tmp");
    return mkdtemp (s_dir) ? 0 : -1;
}

//  Removes the scratch folder and what is in it.
static int
s_teardown (void **state)
{
    char cmd [600];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system (cmd) == 0 ? 0 : -1;
}

//  Z85 checks: 40 characters of the alphabet, each group below 2^32.
static void
test_z85_check (void **state)
{
    char err [200];
    //  "HelloWorld" is RFC 32's example (8 bytes); four of it make 32.
    assert_int_equal (keys_z85_check ("HelloWorldHelloWorldHelloWorldHelloWorld", err,
                                      sizeof err), 0);
    assert_int_equal (keys_z85_check ("HelloWorldHelloWorldHelloWorldHelloWorl", err,
                                      sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "39 characters"));
    assert_int_equal (keys_z85_check ("HelloWorldHelloWorldHello,orldHelloWorld", err,
                                      sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "character ',' at position 26"));
    assert_int_equal (keys_z85_check ("HelloWorldHelloWorldHello orldHelloWorld", err,
                                      sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "0x20 at position 26"));
    //  "#####" is 85^5 - 1, above 2^32 - 1: valid characters, not a key.
    assert_int_equal (keys_z85_check ("#####WorldHelloWorldHelloWorldHelloWorld", err,
                                      sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "characters 1-5"));
    assert_int_equal (keys_z85_check ("", err, sizeof err), MF_ERR_FORMAT);
}

//  keygen writes a pair that loads back; the public file matches it;
//  existing files are kept unless overwrite.
static void
test_generate_and_load (void **state)
{
    char base [600], path [640], err [600];
    snprintf (base, sizeof base, "%s/node", s_dir);
    assert_int_equal (keys_generate (base, false, err, sizeof err), 0);
    snprintf (path, sizeof path, "%s.key", base);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    keys_pair_t pair;
    assert_int_equal (keys_load_pair (path, &pair, err, sizeof err), 0);
    assert_int_equal (strlen (pair.public_z85), KEYS_Z85_LEN);
    assert_int_equal (strlen (pair.secret_z85), KEYS_Z85_LEN);
    char pub [KEYS_Z85_LEN + 1];
    snprintf (path, sizeof path, "%s.pub", base);
    assert_int_equal (keys_load_public (path, pub, err, sizeof err), 0);
    assert_string_equal (pub, pair.public_z85);
    //  No second pair over the first one without overwrite.
    assert_int_equal (keys_generate (base, false, err, sizeof err), MF_ERR_STATE);
    assert_non_null (strstr (err, "already exists"));
    assert_int_equal (keys_generate (base, true, err, sizeof err), 0);
    assert_int_equal (keys_load_public (path, pub, err, sizeof err), 0);
    assert_string_not_equal (pub, pair.public_z85);
}

//  A hand-written pair from libzmq, comments and blank lines included.
static void
test_good_handwritten (void **state)
{
    char pub [KEYS_Z85_LEN + 1], sec [KEYS_Z85_LEN + 1], text [400], err [600];
    assert_int_equal (zmq_curve_keypair (pub, sec), 0);
    snprintf (text, sizeof text, "# a comment\n\n  public-key =  %s  \r\nsecret-key=%s\n",
              pub, sec);
    const char *path = s_file ("hand.key", text, 0600);
    keys_pair_t pair;
    assert_int_equal (keys_load_pair (path, &pair, err, sizeof err), 0);
    assert_string_equal (pair.public_z85, pub);
    assert_string_equal (pair.secret_z85, sec);
    //  The public line may be left out: it is derived.
    snprintf (text, sizeof text, "secret-key = %s\n", sec);
    path = s_file ("secret-only.key", text, 0400);
    assert_int_equal (keys_load_pair (path, &pair, err, sizeof err), 0);
    assert_string_equal (pair.public_z85, pub);
}

//  A secret key file that the group or others may read is refused.
static void
test_permissions (void **state)
{
    char pub [KEYS_Z85_LEN + 1], sec [KEYS_Z85_LEN + 1], text [400], err [600];
    assert_int_equal (zmq_curve_keypair (pub, sec), 0);
    snprintf (text, sizeof text, "public-key = %s\nsecret-key = %s\n", pub, sec);
    keys_pair_t pair;
    const char *path = s_file ("open.key", text, 0644);
    assert_int_equal (keys_load_pair (path, &pair, err, sizeof err), MF_ERR_STATE);
    assert_non_null (strstr (err, path));
    assert_non_null (strstr (err, "0644"));
    assert_non_null (strstr (err, "chmod 600"));
    path = s_file ("group.key", text, 0640);
    assert_int_equal (keys_load_pair (path, &pair, err, sizeof err), MF_ERR_STATE);
    assert_non_null (strstr (err, "its group"));
    //  The public half of the same file may still be read (allow folders).
    assert_int_equal (keys_load_public (path, pub, err, sizeof err), 0);
}

//  Malformed files: each error names the file, the line and the fault.
static void
test_bad_files (void **state)
{
    char pub [KEYS_Z85_LEN + 1], sec [KEYS_Z85_LEN + 1], pub2 [KEYS_Z85_LEN + 1],
         sec2 [KEYS_Z85_LEN + 1], text [400], err [600];
    assert_int_equal (zmq_curve_keypair (pub, sec), 0);
    assert_int_equal (zmq_curve_keypair (pub2, sec2), 0);
    keys_pair_t pair;

    //  Short key.
    snprintf (text, sizeof text, "# c\npublic-key = %.39s\n", pub);
    const char *path = s_file ("short.pub", text, 0644);
    assert_int_equal (keys_load_public (path, pub2, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, path));
    assert_non_null (strstr (err, "line 2"));
    assert_non_null (strstr (err, "39 characters"));

    //  A character outside Z85 ('"' is not in the alphabet).
    snprintf (text, sizeof text, "public-key = \"%.38s\"\n", pub);
    path = s_file ("quoted.pub", text, 0644);
    assert_int_equal (keys_load_public (path, pub2, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "character '\"' at position 1"));

    //  Halves of two different pairs.
    snprintf (text, sizeof text, "public-key = %s\nsecret-key = %s\n", pub, sec2);
    path = s_file ("mixed.key", text, 0600);
    assert_int_equal (keys_load_pair (path, &pair, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "does not belong"));

    //  A public file given where a pair is needed.
    snprintf (text, sizeof text, "public-key = %s\n", pub);
    path = s_file ("only.pub", text, 0600);
    assert_int_equal (keys_load_pair (path, &pair, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "no secret-key line"));

    //  Unknown names, bare keys, repeated lines, empty files.
    path = s_file ("unknown.pub", "server-key = abc\n", 0644);
    assert_int_equal (keys_load_public (path, pub2, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "line 1: unknown name 'server-key'"));
    //  (a fixed key: Z85 has '=' in its alphabet, and a random key with
    //  one reads as "NAME = VALUE", an unknown name)
    path = s_file ("bare.pub", "0123456789abcdefghij0123456789ABCDEFGHIJ\n", 0644);
    assert_int_equal (keys_load_public (path, pub2, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "expected 'public-key = KEY'"));
    snprintf (text, sizeof text, "public-key = %s\npublic-key = %s\n", pub, pub);
    path = s_file ("twice.pub", text, 0644);
    assert_int_equal (keys_load_public (path, pub2, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "line 2: public-key given twice"));
    path = s_file ("empty.pub", "# nothing\n", 0644);
    assert_int_equal (keys_load_public (path, pub2, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "no public-key line"));

    //  Binary junk.
    path = s_file ("junk.pub", "x", 0644);
    FILE *f = fopen (path, "wb");
    fwrite ("\0\1\2", 1, 3, f);
    fclose (f);
    assert_int_equal (keys_load_public (path, pub2, err, sizeof err), MF_ERR_FORMAT);
    assert_non_null (strstr (err, "binary"));
}

//  A missing file and a folder given as a file.
static void
test_missing (void **state)
{
    char err [600], path [600], pub [KEYS_Z85_LEN + 1];
    keys_pair_t pair;
    snprintf (path, sizeof path, "%s/nope.key", s_dir);
    assert_int_equal (keys_load_pair (path, &pair, err, sizeof err), MF_ERR_NOTFOUND);
    assert_non_null (strstr (err, path));
    assert_non_null (strstr (err, "No such file"));
    assert_int_equal (keys_load_public (s_dir, pub, err, sizeof err), MF_ERR_NOTFOUND);
    assert_non_null (strstr (err, "not a regular file"));
}

//  The allow folder: good keys in, bad files skipped, others ignored.
static void
test_allow (void **state)
{
    char dir [600], err [600], text [400];
    snprintf (dir, sizeof dir, "%s/allow", s_dir);
    assert_int_equal (mkdir (dir, 0755), 0);
    //  An empty folder lets nobody in: refused.
    size_t skipped = 99;
    keys_allow_t *allow = keys_allow_load (dir, &skipped, err, sizeof err);
    assert_null (allow);
    assert_non_null (strstr (err, "no valid *.pub key"));

    char pubs [3][KEYS_Z85_LEN + 1], sec [KEYS_Z85_LEN + 1];
    for (int i = 0; i < 3; i++)
        assert_int_equal (zmq_curve_keypair (pubs [i], sec), 0);
    snprintf (text, sizeof text, "public-key = %s\n", pubs [0]);
    s_file ("allow/client.pub", text, 0644);
    s_file ("allow/copy.pub", text, 0644);          //  the same key twice
    snprintf (text, sizeof text, "public-key = %s\n", pubs [1]);
    s_file ("allow/worker.pub", text, 0644);
    s_file ("allow/broken.pub", "public-key = short\n", 0644);
    snprintf (text, sizeof text, "public-key = %s\n", pubs [2]);
    s_file ("allow/notes.txt", text, 0644);         //  not a .pub: ignored
    allow = keys_allow_load (dir, &skipped, err, sizeof err);
    assert_non_null (allow);
    assert_int_equal (skipped, 1);
    assert_int_equal (keys_allow_size (allow), 2);
    uint8_t bin [KEYS_BIN_LEN];
    const char *name = NULL;
    zmq_z85_decode (bin, pubs [1]);
    assert_true (keys_allow_has (allow, bin, &name));
    assert_string_equal (name, "worker");
    zmq_z85_decode (bin, pubs [0]);
    assert_true (keys_allow_has (allow, bin, &name));
    zmq_z85_decode (bin, pubs [2]);
    assert_false (keys_allow_has (allow, bin, &name));
    keys_allow_destroy (&allow);
    assert_null (allow);
    keys_allow_destroy (&allow);                     //  NULL-safe

    snprintf (dir, sizeof dir, "%s/missing", s_dir);
    assert_null (keys_allow_load (dir, NULL, err, sizeof err));
    assert_non_null (strstr (err, dir));
    assert_false (keys_allow_has (NULL, bin, NULL));
}

//  Which endpoints only this machine can reach.
static void
test_endpoint_local (void **state)
{
    assert_true (keys_endpoint_is_local ("tcp://127.0.0.1:5555"));
    assert_true (keys_endpoint_is_local ("tcp://127.1.2.3:*"));
    assert_true (keys_endpoint_is_local ("tcp://localhost:5555"));
    assert_true (keys_endpoint_is_local ("tcp://[::1]:5555"));
    assert_true (keys_endpoint_is_local ("tcp://lo:5555"));
    assert_true (keys_endpoint_is_local ("ipc:///run/masterfarm.sock"));
    assert_true (keys_endpoint_is_local ("inproc://x"));
    assert_false (keys_endpoint_is_local ("tcp://*:5555"));
    assert_false (keys_endpoint_is_local ("tcp://0.0.0.0:5555"));
    assert_false (keys_endpoint_is_local ("tcp://10.0.0.1:5555"));
    assert_false (keys_endpoint_is_local ("tcp://eth0:5555"));
    assert_false (keys_endpoint_is_local ("tcp://[::]:5555"));
    assert_false (keys_endpoint_is_local ("tcp://127.0.0.1"));
    assert_false (keys_endpoint_is_local ("pgm://eth0;239.192.1.1:5555"));
    assert_false (keys_endpoint_is_local (NULL));
}

int
main (void)
{
    if (!zmq_has ("curve")) {
        fprintf (stderr, "test_keys: this libzmq has no CURVE\n");
        return 1;
    }
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_z85_check),
        cmocka_unit_test (test_generate_and_load),
        cmocka_unit_test (test_good_handwritten),
        cmocka_unit_test (test_permissions),
        cmocka_unit_test (test_bad_files),
        cmocka_unit_test (test_missing),
        cmocka_unit_test (test_allow),
        cmocka_unit_test (test_endpoint_local),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
