/*  The broker's HTTP port: a libmicrohttpd daemon driven from the broker's
    own poll loop (no thread of its own, so a handler may read the broker's
    state without a lock). MHD runs in epoll mode: one descriptor
    (http_fd) goes into the loop's zmq_poll, and http_run, called on every
    iteration, accepts, reads and answers what is ready without blocking.

    The handler is called once per GET or HEAD request with the path; it
    fills an http_reply_t (a body it allocated, or an open file) and the
    module sends it. Other methods get 405; the handler answers unknown
    paths itself (404).  */
#ifndef MF_BROKER_HTTP_H
#define MF_BROKER_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int         status;         //  e.g. 200, 404
    const char *content_type;   //  static string
    char       *body;           //  malloc'd, freed by the module; NULL with fd >= 0
    size_t      body_size;
    int         fd;             //  a file to send instead (the module closes it), -1
    uint64_t    fd_size;        //  bytes of fd to send
} http_reply_t;

//  Fills reply for path (the request's path, query string removed).
typedef void (http_handler_fn) (void *arg, const char *path, http_reply_t *reply);

typedef struct _http_t http_t;

//  Listens on host:port (host a name or a numeric IPv4/IPv6 address; "*"
//  or "" for every interface). Returns NULL with one line in err (what,
//  where) when the address cannot be resolved or bound.
http_t *http_new (const char *host, int port, http_handler_fn *handler, void *arg,
                  char *err, size_t err_size);

//  Stops listening and frees; NULL-safe; sets *self_p to NULL.
void http_destroy (http_t **self_p);

//  The descriptor to poll for input (epoll); -1 on failure.
int http_fd (const http_t *self);

//  Longest wait before http_run must be called again (connection
//  timeouts), in ms; -1: no limit.
long http_timeout_ms (const http_t *self);

//  Serves what is ready, without blocking.
void http_run (http_t *self);

//  The host part of a ZeroMQ endpoint, for an HTTP port that listens
//  where the broker's socket does: "tcp://HOST:PORT" gives HOST ("[::1]"
//  for an IPv6 address). A wildcard (*, 0.0.0.0, [::]) and any other
//  transport (ipc://, inproc://) give "127.0.0.1": the HTTP port, plain
//  and without authentication, listens on every interface only when
//  asked by name.
void http_endpoint_host (const char *endpoint, char *host, size_t size);

//  Helper for handlers: a reply with a copy of text (NUL-terminated) or,
//  when out of memory, a 500.
void http_reply_text (http_reply_t *reply, int status, const char *content_type,
                      const char *text);

#endif
