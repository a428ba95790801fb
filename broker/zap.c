/*  The broker's ZAP handler thread (see zap.h).

    One REP socket at ZAP_ENDPOINT. A request is seven frames (RFC 27):
    version "1.0", request id, domain, peer address, routing id, mechanism,
    then the mechanism's credentials (CURVE: the client's 32-byte public
    key). The reply is six frames: version, the same request id, status
    code ("200" let in, "400" refused, "500" the request was malformed),
    status text, user id (the key's file name when let in) and empty
    metadata. Every request gets a reply, whatever it holds: a REP socket
    that skipped one would stop answering, and the broker would stop
    accepting connections.

    The socket is only closed when the context terminates: libzmq lets
    every client in when no handler is bound, so an error here is logged
    and the loop goes on rather than leaving.  */
#include "broker/zap.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "common/keys.h"
#include "common/log.h"

#define S_FRAMES        7        //  frames of a ZAP request
#define S_FRAME_MAX     256      //  bytes kept of each frame

struct zap_t {
    void            *sock;              //  REP at ZAP_ENDPOINT (used by the thread only)
    char            *dir;               //  the allow folder
    keys_allow_t    *allow;             //  owned by the thread once started
    _Atomic size_t   n_allowed;
    _Atomic uint64_t denied;
    _Atomic bool     stop;
    pthread_t        thread;
    bool             started;
    sig_atomic_t     reload_seen;       //  last reload request handled
    uint8_t        (*logged) [KEYS_BIN_LEN];   //  refused keys already logged
    size_t           n_logged;
    bool             logged_other;      //  a non-CURVE request was logged
};

static volatile sig_atomic_t s_reload_gen = 0;

void
zap_request_reload (void)
{
    s_reload_gen++;
}

//  One received frame, truncated to S_FRAME_MAX bytes.
typedef struct {
    uint8_t data [S_FRAME_MAX];
    size_t  size;                       //  bytes kept
} s_frame_t;

//  Sends the six reply frames. Errors are logged (the REP socket then
//  resets on the next receive).
static void
s_reply (zap_t *self, const s_frame_t *request_id, const char *code, const char *text,
         const char *user_id)
{
    int rc = 0;
    rc |= zmq_send (self->sock, "1.0", 3, ZMQ_SNDMORE) < 0;
    rc |= zmq_send (self->sock, request_id ? request_id->data : (const uint8_t *) "",
                    request_id ? request_id->size : 0, ZMQ_SNDMORE) < 0;
    rc |= zmq_send (self->sock, code, strlen (code), ZMQ_SNDMORE) < 0;
    rc |= zmq_send (self->sock, text, strlen (text), ZMQ_SNDMORE) < 0;
    rc |= zmq_send (self->sock, user_id, strlen (user_id), ZMQ_SNDMORE) < 0;
    rc |= zmq_send (self->sock, "", 0, 0) < 0;
    if (rc)
        log_error ("ZAP handler: cannot send a reply: %s", zmq_strerror (zmq_errno ()));
}

//  Whether a refused key was logged before; remembers it if not (up to
//  ZAP_LOGGED_MAX keys, then every further one is counted only).
static bool
s_logged_before (zap_t *self, const uint8_t *key)
{
    for (size_t i = 0; i < self->n_logged; i++)
        if (memcmp (self->logged [i], key, KEYS_BIN_LEN) == 0)
            return true;
    if (self->n_logged < ZAP_LOGGED_MAX) {
        memcpy (self->logged [self->n_logged++], key, KEYS_BIN_LEN);
        return false;
    }
    return true;
}

//  Copies a frame's bytes into a printable string (non-printable: '?').
static void
s_printable (const s_frame_t *f, char *buf, size_t size)
{
    size_t n = f->size < size - 1 ? f->size : size - 1;
    for (size_t i = 0; i < n; i++)
        buf [i] = f->data [i] >= 0x20 && f->data [i] < 0x7f ? (char) f->data [i] : '?';
    buf [n] = 0;
}

//  Reads one request (all its frames) and answers it.
static void
s_handle (zap_t *self)
{
    s_frame_t frames [S_FRAMES];
    size_t n = 0, extra = 0;
    bool truncated = false;
    while (true) {
        uint8_t scratch [S_FRAME_MAX];
        uint8_t *dst = n < S_FRAMES ? frames [n].data : scratch;
        int size = zmq_recv (self->sock, dst, S_FRAME_MAX, n == 0 ? ZMQ_DONTWAIT : 0);
        if (size < 0) {
            if (n == 0)
                return;                 //  nothing there after all
            log_error ("ZAP handler: cannot read a request: %s", zmq_strerror (zmq_errno ()));
            break;
        }
        if (size > S_FRAME_MAX)
            truncated = true;
        if (n < S_FRAMES)
            frames [n++].size = (size_t) (size > S_FRAME_MAX ? S_FRAME_MAX : size);
        else
            extra++;
        int more = 0;
        size_t ms = sizeof more;
        if (zmq_getsockopt (self->sock, ZMQ_RCVMORE, &more, &ms) || !more)
            break;
    }
    if (n < 6 || frames [0].size != 3 || memcmp (frames [0].data, "1.0", 3) != 0
    ||  extra > 0 || truncated) {
        atomic_fetch_add (&self->denied, 1);
        log_warn ("ZAP handler: malformed request (%zu frames) refused", n + extra);
        s_reply (self, n >= 2 ? &frames [1] : NULL, "500", "malformed ZAP request", "");
        return;
    }
    const s_frame_t *request_id = &frames [1];
    char address [64], mechanism [32];
    s_printable (&frames [3], address, sizeof address);
    s_printable (&frames [5], mechanism, sizeof mechanism);
    if (strcmp (mechanism, "CURVE") != 0 || n != 7 || frames [6].size != KEYS_BIN_LEN) {
        atomic_fetch_add (&self->denied, 1);
        if (!self->logged_other) {
            log_warn ("refused a %s connection from %s: this broker requires CURVE with an "
                      "allowed key (logged once)", mechanism, address);
            self->logged_other = true;
        }
        s_reply (self, request_id, "400", "CURVE with an allowed key required", "");
        return;
    }
    const uint8_t *key = frames [6].data;
    const char *name = NULL;
    if (keys_allow_has (self->allow, key, &name)) {
        log_debug ("let in CURVE key %s from %s", name, address);
        s_reply (self, request_id, "200", "OK", name);
        return;
    }
    atomic_fetch_add (&self->denied, 1);
    if (!s_logged_before (self, key)) {
        char z85 [KEYS_Z85_LEN + 1];
        zmq_z85_encode (z85, key, KEYS_BIN_LEN);
        log_warn ("refused CURVE key %.8s... from %s: not in the allow folder %s "
                  "(logged once per key)", z85, address, self->dir);
    }
    s_reply (self, request_id, "400", "key not allowed", "");
}

//  Reads the folder again; keeps the old list when that fails.
static void
s_reload (zap_t *self)
{
    char err [600];
    size_t skipped = 0;
    keys_allow_t *allow = keys_allow_load (self->dir, &skipped, err, sizeof err);
    if (!allow) {
        log_error ("%s; keeping the %zu key(s) loaded before", err,
                   keys_allow_size (self->allow));
        return;
    }
    keys_allow_destroy (&self->allow);
    self->allow = allow;
    atomic_store (&self->n_allowed, keys_allow_size (allow));
    self->n_logged = 0;                 //  a key removed now is worth a log line again
    log_info ("allow folder %s read again: %zu key(s) allowed, %zu bad file(s) skipped",
              self->dir, keys_allow_size (allow), skipped);
}

//  The handler thread: answers requests until the context terminates or
//  a stop is requested.
static void *
s_thread (void *arg)
{
    zap_t *self = arg;
    while (!atomic_load (&self->stop)) {
        zmq_pollitem_t item = { self->sock, 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, ZAP_POLL_MS);
        if (rc < 0) {
            if (zmq_errno () == ETERM)
                break;
            if (zmq_errno () != EINTR) {
                log_error ("ZAP handler: poll failed: %s", zmq_strerror (zmq_errno ()));
                nanosleep (&(struct timespec) { 0, 100 * 1000 * 1000 }, NULL);
            }
            continue;
        }
        if (self->reload_seen != s_reload_gen) {
            self->reload_seen = s_reload_gen;
            s_reload (self);
        }
        if (rc > 0 && (item.revents & ZMQ_POLLIN))
            s_handle (self);
    }
    zmq_close (self->sock);
    self->sock = NULL;
    return NULL;
}

zap_t *
zap_new (void *ctx, const char *allow_dir, char *err, size_t err_size)
{
    zap_t *self = calloc (1, sizeof *self);
    if (!self || !(self->dir = strdup (allow_dir ? allow_dir : ""))
    ||  !(self->logged = malloc (ZAP_LOGGED_MAX * sizeof *self->logged))) {
        snprintf (err, err_size, "out of memory");
        zap_destroy (&self);
        return NULL;
    }
    size_t skipped = 0;
    self->allow = keys_allow_load (self->dir, &skipped, err, err_size);
    if (!self->allow) {
        zap_destroy (&self);
        return NULL;
    }
    atomic_store (&self->n_allowed, keys_allow_size (self->allow));
    self->reload_seen = s_reload_gen;
    self->sock = zmq_socket (ctx, ZMQ_REP);
    int linger = 0;
    if (!self->sock || zmq_setsockopt (self->sock, ZMQ_LINGER, &linger, sizeof linger)
    ||  zmq_bind (self->sock, ZAP_ENDPOINT)) {
        snprintf (err, err_size, "cannot start the ZAP handler at %s: %s", ZAP_ENDPOINT,
                  zmq_strerror (zmq_errno ()));
        zap_destroy (&self);
        return NULL;
    }
    if (pthread_create (&self->thread, NULL, s_thread, self) != 0) {
        snprintf (err, err_size, "cannot start the ZAP handler thread");
        zap_destroy (&self);
        return NULL;
    }
    self->started = true;
    log_info ("CURVE on: %zu key(s) allowed from %s%s", keys_allow_size (self->allow),
              self->dir, skipped ? " (bad files skipped, see above)" : "");
    return self;
}

void
zap_destroy (zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zap_t *self = *self_p;
    if (self->started) {
        atomic_store (&self->stop, true);
        pthread_join (self->thread, NULL);
    }
    else
    if (self->sock)
        zmq_close (self->sock);
    keys_allow_destroy (&self->allow);
    free (self->logged);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

size_t
zap_allowed (const zap_t *self)
{
    return self ? atomic_load (&((zap_t *) self)->n_allowed) : 0;
}

uint64_t
zap_denied (const zap_t *self)
{
    return self ? atomic_load (&((zap_t *) self)->denied) : 0;
}
