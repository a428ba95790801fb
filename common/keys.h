/*  CURVE keys of the farm: key files, the broker's allow-list, and the
    question "is this endpoint only reachable from this machine?".

    ZeroMQ's CURVE (RFC 26) encrypts and authenticates a connection with
    Curve25519 key pairs; libzmq gives keys as 40-character Z85 text
    (RFC 32: 32 bytes, 4 bytes per 5 characters). masterfarm keeps one key
    per file, text, so that an operator can read, copy and diff them:

        NAME.key   the key pair (secret; mode 0600, refused when the group
                   or others may read it)
                       # masterfarm CURVE key pair "NAME" ...
                       public-key = <40 Z85 characters>
                       secret-key = <40 Z85 characters>
        NAME.pub   the public half, safe to copy anywhere
                       # masterfarm CURVE public key "NAME"
                       public-key = <40 Z85 characters>

    Blank lines and lines starting with '#' are ignored; anything else
    that is not "public-key = KEY" or "secret-key = KEY" is an error. A
    .key file's public key must be the one its secret key derives.

    The allow-list is a folder of *.pub files (other names are ignored):
    the public keys of the clients and workers a broker lets in. A bad
    .pub file is reported by name and skipped (its key is not allowed:
    the list fails closed); a folder that cannot be read, or holds no
    valid key, is an error.

    Every error is one line naming the file (and line) and what is wrong.  */
#ifndef MF_KEYS_H
#define MF_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYS_Z85_LEN     40          //  characters of a Z85 CURVE key
#define KEYS_BIN_LEN     32          //  bytes of a CURVE key
#define KEYS_FILE_MAX    4096        //  bytes; a key file is never larger

typedef struct {
    char public_z85 [KEYS_Z85_LEN + 1];   //  NUL-terminated
    char secret_z85 [KEYS_Z85_LEN + 1];   //  "" when only a public key was loaded
} keys_pair_t;

typedef struct keys_allow_t keys_allow_t;

//  Checks that text is a CURVE key in Z85: exactly KEYS_Z85_LEN characters
//  of the Z85 alphabet whose 5-character groups stay below 2^32. Returns
//  0, or MF_ERR_FORMAT with why (e.g. "is 39 characters; a CURVE key in
//  Z85 has 40", "character 'x' at position 7 is not Z85") in err.
int keys_z85_check (const char *text, char *err, size_t err_size);

//  Loads a key pair file (NAME.key). It must be a regular file that only
//  its owner may read (no group or other permission bits), hold a
//  public-key and a secret-key line, and the public key must derive from
//  the secret one. Returns 0, or MF_ERR_NOTFOUND (cannot open it),
//  MF_ERR_STATE (permissions too open), MF_ERR_FORMAT (content), with one
//  line "PATH: what is wrong" in err.
int keys_load_pair (const char *path, keys_pair_t *pair, char *err, size_t err_size);

//  Loads a public key file (NAME.pub; a NAME.key is accepted too and only
//  its public key is taken, without the permission check). Returns 0, or
//  MF_ERR_NOTFOUND, MF_ERR_FORMAT with "PATH: what is wrong" in err.
int keys_load_public (const char *path, char public_z85 [KEYS_Z85_LEN + 1],
                      char *err, size_t err_size);

//  Generates a key pair with libzmq and writes base.key (mode 0600) and
//  base.pub. Existing files are kept and reported unless overwrite is
//  true. Returns 0, or MF_ERR_STATE (a file exists), MF_ERR_UNSUPPORTED
//  (this libzmq has no CURVE), MF_ERR_IO, with the file named in err.
int keys_generate (const char *base, bool overwrite, char *err, size_t err_size);

//  Reads every *.pub file of dir into an allow-list. A bad file is logged
//  (warn, naming it and why) and skipped; *n_skipped (may be NULL) counts
//  them. Returns NULL with err filled when dir cannot be read or holds no
//  valid key.
keys_allow_t *keys_allow_load (const char *dir, size_t *n_skipped, char *err, size_t err_size);

//  Frees an allow-list; NULL-safe; sets *self_p to NULL.
void keys_allow_destroy (keys_allow_t **self_p);

//  Number of distinct keys in the list.
size_t keys_allow_size (const keys_allow_t *self);

//  Whether the binary public key (KEYS_BIN_LEN bytes) is in the list; when
//  it is and name is not NULL, *name gets its file name (without .pub,
//  valid while the list lives).
bool keys_allow_has (const keys_allow_t *self, const uint8_t *key, const char **name);

//  Whether a ZeroMQ endpoint can only be reached from this machine:
//  ipc://, inproc://, or tcp:// on a loopback address (127.0.0.0/8, ::1,
//  localhost, lo). tcp://*, 0.0.0.0, interface names and any other
//  address are not.
bool keys_endpoint_is_local (const char *url);

#endif
