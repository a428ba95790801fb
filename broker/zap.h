/*  zap: the broker's ZAP handler (ZeroMQ RFC 27), which decides who may
    complete a CURVE handshake with the broker's socket.

    libzmq asks the handler bound at inproc://zeromq.zap.01 in the socket's
    context about every new connection; the handler answers 200 (let in)
    or 400 (refuse). Here it runs on its own thread, so that a long stall
    of the broker's loop never holds a handshake back, and answers from an
    allow-list of public keys (common/keys.h): a CURVE client whose key is
    in the list is let in, everything else is refused (another mechanism,
    an unknown key, a malformed request): it fails closed. Each refused key
    is logged once (its first characters, the peer's address) and counted.

    A CURVE server without a ZAP handler lets every client in, so the
    handler is bound before the broker's socket (zap_new) and lives until
    the context is shut down. zap_request_reload (e.g. from SIGHUP) makes
    the thread read the folder again; if that fails, the old list stays.  */
#ifndef MF_ZAP_H
#define MF_ZAP_H

#include <stddef.h>
#include <stdint.h>

#define ZAP_ENDPOINT        "inproc://zeromq.zap.01"
#define ZAP_POLL_MS         250      //  the thread checks for a reload this often
#define ZAP_LOGGED_MAX      1024     //  refused keys remembered so each is logged once

typedef struct zap_t zap_t;

//  Loads the allow-list from allow_dir (*.pub files), binds the handler in
//  ctx and starts its thread. Returns NULL with one line in err when the
//  folder cannot be read or holds no valid key, or ZeroMQ fails.
zap_t *zap_new (void *ctx, const char *allow_dir, char *err, size_t err_size);

//  Stops the thread and frees the handler; NULL-safe; sets *self_p to
//  NULL. Call it after zmq_ctx_shutdown (the thread leaves on ETERM) or
//  before any other socket of ctx is closed.
void zap_destroy (zap_t **self_p);

//  Number of keys let in.
size_t zap_allowed (const zap_t *self);

//  Number of handshakes refused so far (any thread).
uint64_t zap_denied (const zap_t *self);

//  Asks every handler to read its folder again (async-signal-safe).
void zap_request_reload (void);

#endif
