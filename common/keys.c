/*  CURVE key files, the allow-list and endpoint locality (see keys.h).

    Key generation and the public-from-secret derivation are libzmq's
    (zmq_curve_keypair, zmq_curve_public); this file only reads and writes
    the text files, checks Z85 itself (so that an error can say which
    character is wrong) and keeps the allowed keys sorted in binary for a
    binary search per handshake.  */
#include "common/keys.h"
#include "common/array.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/err.h"
#include "common/log.h"

//  The Z85 alphabet of RFC 32, in value order.
static const char s_z85_chars [] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

struct keys_allow_t {
    uint8_t (*keys) [KEYS_BIN_LEN];    //  sorted, distinct
    char   **names;                    //  file name without .pub, per key
    size_t   n;
};

//  Value of one Z85 character, or -1 when it is not one.
static int
s_z85_value (char c)
{
    if (c == 0)
        return -1;
    const char *p = strchr (s_z85_chars, c);
    return p ? (int) (p - s_z85_chars) : -1;
}

int
keys_z85_check (const char *text, char *err, size_t err_size)
{
    size_t len = strlen (text);
    if (len != KEYS_Z85_LEN) {
        snprintf (err, err_size, "is %zu characters; a CURVE key in Z85 has %d", len,
                  KEYS_Z85_LEN);
        return MF_ERR_FORMAT;
    }
    for (size_t g = 0; g < len; g += 5) {
        uint64_t value = 0;
        for (size_t i = g; i < g + 5; i++) {
            int v = s_z85_value (text [i]);
            if (v < 0) {
                unsigned char c = (unsigned char) text [i];
                if (c >= 0x21 && c < 0x7f)
                    snprintf (err, err_size, "character '%c' at position %zu is not Z85",
                              c, i + 1);
                else
                    snprintf (err, err_size, "byte 0x%02x at position %zu is not Z85",
                              c, i + 1);
                return MF_ERR_FORMAT;
            }
            value = value * 85 + (uint64_t) v;
        }
        if (value > 0xffffffffu) {
            snprintf (err, err_size, "characters %zu-%zu do not encode 4 bytes "
                      "(not a Z85 key)", g + 1, g + 5);
            return MF_ERR_FORMAT;
        }
    }
    return 0;
}

//  Reads a key file (at most KEYS_FILE_MAX bytes) from an open fd and
//  fills pair with its public-key and secret-key lines (either may stay
//  empty). Returns 0 or MF_ERR_FORMAT / MF_ERR_IO with "PATH: ..." in err.
static int
s_parse (int fd, const char *path, keys_pair_t *pair, char *err, size_t err_size)
{
    char buf [KEYS_FILE_MAX + 1];
    size_t len = 0;
    while (len < sizeof buf) {
        ssize_t n = read (fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf (err, err_size, "%s: cannot read: %s", path, strerror (errno));
            return MF_ERR_IO;
        }
        if (n == 0)
            break;
        len += (size_t) n;
    }
    if (len > KEYS_FILE_MAX) {
        snprintf (err, err_size, "%s: larger than %d bytes; not a masterfarm key file",
                  path, KEYS_FILE_MAX);
        return MF_ERR_FORMAT;
    }
    buf [len] = 0;
    if (memchr (buf, 0, len)) {
        snprintf (err, err_size, "%s: binary data; a key file is text "
                  "(make one with masterfarm keygen)", path);
        return MF_ERR_FORMAT;
    }
    memset (pair, 0, sizeof *pair);
    int line_no = 0;
    char *p = buf;
    while (p && *p) {
        char *line = p;
        char *nl = strchr (p, '\n');
        if (nl) {
            *nl = 0;
            p = nl + 1;
        }
        else
            p = NULL;
        line_no++;
        while (*line == ' ' || *line == '\t')
            line++;
        size_t ll = strlen (line);
        while (ll > 0 && (line [ll - 1] == ' ' || line [ll - 1] == '\t'
                          || line [ll - 1] == '\r'))
            line [--ll] = 0;
        if (ll == 0 || line [0] == '#')
            continue;
        char *eq = strchr (line, '=');
        if (!eq) {
            snprintf (err, err_size, "%s: line %d: expected 'public-key = KEY' or "
                      "'secret-key = KEY'", path, line_no);
            return MF_ERR_FORMAT;
        }
        char *name_end = eq;
        while (name_end > line && (name_end [-1] == ' ' || name_end [-1] == '\t'))
            name_end--;
        *name_end = 0;
        char *value = eq + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        char *slot;
        if (strcmp (line, "public-key") == 0)
            slot = pair->public_z85;
        else
        if (strcmp (line, "secret-key") == 0)
            slot = pair->secret_z85;
        else {
            snprintf (err, err_size, "%s: line %d: unknown name '%.40s' (expected public-key "
                      "or secret-key)", path, line_no, line);
            return MF_ERR_FORMAT;
        }
        if (*slot) {
            snprintf (err, err_size, "%s: line %d: %s given twice", path, line_no, line);
            return MF_ERR_FORMAT;
        }
        char why [160];
        if (keys_z85_check (value, why, sizeof why)) {
            snprintf (err, err_size, "%s: line %d: %s %s", path, line_no, line, why);
            return MF_ERR_FORMAT;
        }
        memcpy (slot, value, KEYS_Z85_LEN + 1);
    }
    return 0;
}

//  Opens a key file for reading; fills *st. Returns the fd, or -1 with
//  err filled (missing, not a regular file).
static int
s_open (const char *path, struct stat *st, char *err, size_t err_size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf (err, err_size, "%s: cannot open the key file: %s", path, strerror (errno));
        return -1;
    }
    if (fstat (fd, st) || !S_ISREG (st->st_mode)) {
        snprintf (err, err_size, "%s: not a regular file", path);
        close (fd);
        return -1;
    }
    return fd;
}

int
keys_load_pair (const char *path, keys_pair_t *pair, char *err, size_t err_size)
{
    struct stat st;
    int fd = s_open (path, &st, err, err_size);
    if (fd < 0)
        return MF_ERR_NOTFOUND;
    if (st.st_mode & 077) {
        snprintf (err, err_size, "%s: secret key file may be read by %s (mode %04o); "
                  "refusing it: run chmod 600 %s", path,
                  (st.st_mode & 007) ? "anyone" : "its group",
                  (unsigned) (st.st_mode & 07777), path);
        close (fd);
        return MF_ERR_STATE;
    }
    int rc = s_parse (fd, path, pair, err, err_size);
    close (fd);
    if (rc)
        return rc == MF_ERR_IO ? MF_ERR_NOTFOUND : rc;
    if (!pair->secret_z85 [0]) {
        snprintf (err, err_size, "%s: no secret-key line (is it a .pub file? give the "
                  "NAME.key that masterfarm keygen wrote)", path);
        return MF_ERR_FORMAT;
    }
    char derived [KEYS_Z85_LEN + 1];
    if (zmq_curve_public (derived, pair->secret_z85) != 0) {
        snprintf (err, err_size, "%s: cannot derive the public key: %s (does this libzmq "
                  "have CURVE?)", path, zmq_strerror (zmq_errno ()));
        return MF_ERR_FORMAT;
    }
    if (!pair->public_z85 [0])
        memcpy (pair->public_z85, derived, sizeof derived);
    else
    if (strcmp (derived, pair->public_z85) != 0) {
        snprintf (err, err_size, "%s: public-key does not belong to secret-key "
                  "(edited by hand? make a new pair with masterfarm keygen)", path);
        return MF_ERR_FORMAT;
    }
    return 0;
}

int
keys_load_public (const char *path, char public_z85 [KEYS_Z85_LEN + 1],
                  char *err, size_t err_size)
{
    struct stat st;
    int fd = s_open (path, &st, err, err_size);
    if (fd < 0)
        return MF_ERR_NOTFOUND;
    keys_pair_t pair;
    int rc = s_parse (fd, path, &pair, err, err_size);
    close (fd);
    if (rc)
        return rc == MF_ERR_IO ? MF_ERR_NOTFOUND : rc;
    if (!pair.public_z85 [0]) {
        snprintf (err, err_size, "%s: no public-key line", path);
        return MF_ERR_FORMAT;
    }
    memcpy (public_z85, pair.public_z85, KEYS_Z85_LEN + 1);
    return 0;
}

//  Writes text to path, created with mode (exclusive unless overwrite),
//  and fsyncs it. Returns 0, MF_ERR_STATE (exists) or MF_ERR_IO.
static int
s_write (const char *path, const char *text, mode_t mode, bool overwrite,
         char *err, size_t err_size)
{
    if (overwrite && unlink (path) && errno != ENOENT) {
        snprintf (err, err_size, "%s: cannot replace it: %s", path, strerror (errno));
        return MF_ERR_IO;
    }
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        int e = errno;
        snprintf (err, err_size, "%s: %s%s", path, strerror (e),
                  e == EEXIST ? " (keys are never overwritten; remove it or give --force)" : "");
        return e == EEXIST ? MF_ERR_STATE : MF_ERR_IO;
    }
    size_t len = strlen (text), done = 0;
    int rc = fchmod (fd, mode);
    while (rc == 0 && done < len) {
        ssize_t n = write (fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            done += (size_t) n;
    }
    if (rc == 0)
        rc = fsync (fd);
    if (close (fd))
        rc = -1;
    if (rc) {
        snprintf (err, err_size, "%s: cannot write: %s", path, strerror (errno));
        unlink (path);
        return MF_ERR_IO;
    }
    return 0;
}

int
keys_generate (const char *base, bool overwrite, char *err, size_t err_size)
{
    char key_path [4096], pub_path [4096];
    if (!base || !*base
    ||  (size_t) snprintf (key_path, sizeof key_path, "%s.key", base) >= sizeof key_path
    ||  (size_t) snprintf (pub_path, sizeof pub_path, "%s.pub", base) >= sizeof pub_path) {
        snprintf (err, err_size, "key name '%s' is empty or too long", base ? base : "");
        return MF_ERR_INVALID;
    }
    struct stat st;
    if (!overwrite) {
        const char *exists = stat (key_path, &st) == 0 ? key_path
                           : stat (pub_path, &st) == 0 ? pub_path : NULL;
        if (exists) {
            snprintf (err, err_size, "%s already exists (keys are never overwritten; "
                      "remove it or give --force)", exists);
            return MF_ERR_STATE;
        }
    }
    char pub [KEYS_Z85_LEN + 1], sec [KEYS_Z85_LEN + 1];
    if (!zmq_has ("curve") || zmq_curve_keypair (pub, sec) != 0) {
        snprintf (err, err_size, "this libzmq was built without CURVE; cannot make keys");
        return MF_ERR_UNSUPPORTED;
    }
    const char *name = strrchr (base, '/');
    name = name ? name + 1 : base;
    char text [512];
    snprintf (text, sizeof text,
        "# masterfarm CURVE key pair \"%s\". SECRET: keep this file private\n"
        "# (mode 0600); give it to one broker, worker or client with --curve-key.\n"
        "# Share %s.pub, never this file.\n"
        "public-key = %s\n"
        "secret-key = %s\n", name, name, pub, sec);
    int rc = s_write (key_path, text, 0600, overwrite, err, err_size);
    explicit_bzero (sec, sizeof sec);
    explicit_bzero (text, sizeof text);
    if (rc)
        return rc;
    snprintf (text, sizeof text,
        "# masterfarm CURVE public key \"%s\". Put it in the broker's --allow folder\n"
        "# (a client or worker), or give it to clients and workers with --broker-key\n"
        "# (the broker's own).\n"
        "public-key = %s\n", name, pub);
    rc = s_write (pub_path, text, 0644, overwrite, err, err_size);
    if (rc)
        unlink (key_path);
    return rc;
}

//  Orders binary keys for qsort and bsearch.
static int
s_key_cmp (const void *a, const void *b)
{
    return memcmp (a, b, KEYS_BIN_LEN);
}

//  A key read from the allow folder and its file name (sorted by key).
typedef struct {
    uint8_t key [KEYS_BIN_LEN];
    char   *name;
} s_entry_t;

keys_allow_t *
keys_allow_load (const char *dir, size_t *n_skipped, char *err, size_t err_size)
{
    if (n_skipped)
        *n_skipped = 0;
    DIR *d = opendir (dir);
    if (!d) {
        snprintf (err, err_size, "allow folder %s: cannot read it: %s", dir, strerror (errno));
        return NULL;
    }
    s_entry_t *entries = NULL;
    size_t n = 0, cap = 0;
    bool nomem = false;
    struct dirent *de;
    errno = 0;
    while (!nomem && (de = readdir (d)) != NULL) {
        size_t len = strlen (de->d_name);
        if (de->d_name [0] == '.' || len <= 4 || strcmp (de->d_name + len - 4, ".pub") != 0)
            continue;
        char path [4096], why [600], z85 [KEYS_Z85_LEN + 1];
        snprintf (path, sizeof path, "%s/%s", dir, de->d_name);
        if (keys_load_public (path, z85, why, sizeof why)) {
            log_warn ("%s; key skipped (not allowed)", why);
            if (n_skipped)
                (*n_skipped)++;
            continue;
        }
        if (array_reserve (&entries, &cap, n + 1, sizeof *entries, 16)) {
            nomem = true;
            break;
        }
        zmq_z85_decode (entries [n].key, z85);
        entries [n].name = strndup (de->d_name, len - 4);
        if (!entries [n].name) {
            nomem = true;
            break;
        }
        n++;
        errno = 0;
    }
    int read_errno = errno;
    closedir (d);
    keys_allow_t *self = NULL;
    if (!nomem && read_errno == 0 && n > 0) {
        qsort (entries, n, sizeof *entries, s_key_cmp);
        self = calloc (1, sizeof *self);
        if (self) {
            self->keys = malloc (n * sizeof *self->keys);
            self->names = calloc (n, sizeof *self->names);
        }
        if (!self || !self->keys || !self->names)
            nomem = true;
        else
            for (size_t i = 0; i < n; i++) {
                if (self->n > 0 && memcmp (self->keys [self->n - 1], entries [i].key,
                                           KEYS_BIN_LEN) == 0) {
                    log_info ("allow folder %s: %s.pub repeats the key of %s.pub", dir,
                              entries [i].name, self->names [self->n - 1]);
                    free (entries [i].name);
                    continue;
                }
                memcpy (self->keys [self->n], entries [i].key, KEYS_BIN_LEN);
                self->names [self->n++] = entries [i].name;
            }
        if (nomem)
            for (size_t i = 0; i < n; i++)
                free (entries [i].name);
    }
    else
        for (size_t i = 0; i < n; i++)
            free (entries [i].name);
    free (entries);
    if (nomem) {
        snprintf (err, err_size, "allow folder %s: out of memory", dir);
        keys_allow_destroy (&self);
        return NULL;
    }
    if (read_errno) {
        snprintf (err, err_size, "allow folder %s: cannot list it: %s", dir,
                  strerror (read_errno));
        return NULL;
    }
    if (n == 0) {
        snprintf (err, err_size, "allow folder %s holds no valid *.pub key; nobody could "
                  "connect (copy the clients' and workers' NAME.pub files into it)", dir);
        return NULL;
    }
    return self;
}

void
keys_allow_destroy (keys_allow_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    keys_allow_t *self = *self_p;
    for (size_t i = 0; self->names && i < self->n; i++)
        free (self->names [i]);
    free (self->names);
    free (self->keys);
    free (self);
    *self_p = NULL;
}

size_t
keys_allow_size (const keys_allow_t *self)
{
    return self ? self->n : 0;
}

bool
keys_allow_has (const keys_allow_t *self, const uint8_t *key, const char **name)
{
    if (!self || !key || self->n == 0)
        return false;
    const uint8_t (*hit) [KEYS_BIN_LEN] = bsearch (key, self->keys, self->n,
                                                   sizeof *self->keys, s_key_cmp);
    if (!hit)
        return false;
    if (name)
        *name = self->names [hit - self->keys];
    return true;
}

bool
keys_endpoint_is_local (const char *url)
{
    if (!url)
        return false;
    if (strncmp (url, "ipc://", 6) == 0 || strncmp (url, "inproc://", 9) == 0)
        return true;
    if (strncmp (url, "tcp://", 6) != 0)
        return false;
    const char *host = url + 6;
    const char *colon = strrchr (host, ':');
    if (!colon || strchr (host, ';'))
        return false;
    char h [256];
    size_t len = (size_t) (colon - host);
    if (len == 0 || len >= sizeof h)
        return false;
    memcpy (h, host, len);
    h [len] = 0;
    if (h [0] == '[' && len >= 2 && h [len - 1] == ']') {
        memmove (h, h + 1, len - 2);
        h [len - 2] = 0;
    }
    if (strcmp (h, "localhost") == 0 || strcmp (h, "lo") == 0)
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton (AF_INET, h, &a4) == 1)
        return (ntohl (a4.s_addr) >> 24) == 127;
    if (inet_pton (AF_INET6, h, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK (&a6);
    return false;
}
