/*  The broker's HTTP port over libmicrohttpd (see http.h). MHD is used in
    its "external select" form with epoll: no thread, no lock; the broker
    loop polls http_fd and calls http_run.  */
#include "broker/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"

#define S_CONN_LIMIT     64     //  connections served at once
#define S_CONN_TIMEOUT_S 10     //  an idle connection is closed after this

//  Every page: no sniffing, no caching, no scripts, no framing, no
//  requests elsewhere (the dashboard and the reports use inline styles
//  and inline SVG only).
#define S_CSP "default-src 'none'; style-src 'unsafe-inline'; img-src data:; " \
              "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

struct _http_t {
    struct MHD_Daemon *daemon;
    http_handler_fn   *handler;
    void              *arg;
};

//  MHD's own messages, into the broker's log.
static void
s_log (void *cls, const char *fmt, va_list ap)
{
    (void) cls;
    if (log_level () > LOG_WARN)
        return;
    char line [512];
    vsnprintf (line, sizeof line, fmt, ap);
    size_t n = strlen (line);
    while (n > 0 && (line [n - 1] == '\n' || line [n - 1] == '\r'))
        line [--n] = 0;
    log_warn ("http: %s", line);
}

//  Queues a response with the headers every reply carries.
static enum MHD_Result
s_queue (struct MHD_Connection *conn, int status, const char *type,
         struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header (resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header (resp, "Content-Security-Policy", S_CSP);
    enum MHD_Result rc = MHD_queue_response (conn, (unsigned int) status, resp);
    MHD_destroy_response (resp);
    return rc;
}

//  One request: GET and HEAD go to the handler, others get 405.
static enum MHD_Result
s_access (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size,
          void **con_cls)
{
    (void) version;
    (void) upload_data;
    http_t *self = cls;
    if (strcmp (method, MHD_HTTP_METHOD_GET) != 0 && strcmp (method, MHD_HTTP_METHOD_HEAD) != 0) {
        //  Read-only: the body of a POST or PUT is neither wanted nor read.
        *upload_data_size = 0;
        static const char text [] = "method not allowed: this port is read-only\n";
        struct MHD_Response *resp = MHD_create_response_from_buffer (
            sizeof text - 1, (void *) text, MHD_RESPMEM_PERSISTENT);
        if (resp)
            MHD_add_response_header (resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        return s_queue (conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", resp);
    }
    (void) con_cls;
    http_reply_t r = { .status = 500, .content_type = "text/plain; charset=utf-8", .fd = -1 };
    self->handler (self->arg, url ? url : "/", &r);
    struct MHD_Response *resp;
    if (r.fd >= 0) {
        resp = MHD_create_response_from_fd64 (r.fd_size, r.fd);
        if (!resp)
            close (r.fd);
        free (r.body);
    }
    else
    if (r.body)
        resp = MHD_create_response_from_buffer (r.body_size, r.body, MHD_RESPMEM_MUST_FREE);
    else {
        static const char text [] = "internal error\n";
        r.status = 500;
        r.content_type = "text/plain; charset=utf-8";
        resp = MHD_create_response_from_buffer (sizeof text - 1, (void *) text,
                                                MHD_RESPMEM_PERSISTENT);
    }
    if (!resp && r.fd < 0)
        free (r.body);
    return s_queue (conn, r.status, r.content_type, resp);
}

http_t *
http_new (const char *host, int port, http_handler_fn *handler, void *arg,
          char *err, size_t err_size)
{
    http_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->handler = handler;
    self->arg = arg;
    bool any = !host || !*host || strcmp (host, "*") == 0;
    char service [16];
    snprintf (service, sizeof service, "%d", port);
    struct addrinfo hints, *ai = NULL;
    memset (&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | (any ? 0 : AI_ADDRCONFIG);
    hints.ai_family = any ? AF_INET : AF_UNSPEC;
    //  A bracketed IPv6 literal, as in tcp://[::1]:5555.
    char name [256] = "";
    if (!any) {
        size_t n = strlen (host);
        if (n >= 2 && host [0] == '[' && host [n - 1] == ']' && n - 2 < sizeof name)
            memcpy (name, host + 1, n - 2);
        else
            snprintf (name, sizeof name, "%s", host);
    }
    int grc = getaddrinfo (any ? NULL : name, service, &hints, &ai);
    if (grc || !ai) {
        snprintf (err, err_size, "HTTP port: cannot resolve '%s': %s", host,
                  grc ? gai_strerror (grc) : "no address");
        free (self);
        return NULL;
    }
    unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    self->daemon = MHD_start_daemon (flags, (uint16_t) port, NULL, NULL, s_access, self,
                                     MHD_OPTION_EXTERNAL_LOGGER, s_log, NULL,
                                     MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned int) S_CONN_LIMIT,
                                     MHD_OPTION_CONNECTION_TIMEOUT,
                                     (unsigned int) S_CONN_TIMEOUT_S,
                                     MHD_OPTION_END);
    int e = errno;
    freeaddrinfo (ai);
    if (!self->daemon) {
        snprintf (err, err_size, "HTTP port: cannot listen on %s port %d: %s", any ? "*" : host,
                  port, e ? strerror (e) : "libmicrohttpd refused the options");
        free (self);
        return NULL;
    }
    return self;
}

void
http_destroy (http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    http_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    free (self);
    *self_p = NULL;
}

int
http_fd (const http_t *self)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

long
http_timeout_ms (const http_t *self)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout (self->daemon, &ms) != MHD_YES)
        return -1;
    return ms > 60000 ? 60000 : (long) ms;
}

void
http_run (http_t *self)
{
    MHD_run (self->daemon);
}

void
http_endpoint_host (const char *endpoint, char *host, size_t size)
{
    const char *p = endpoint && strncmp (endpoint, "tcp://", 6) == 0 ? endpoint + 6 : NULL;
    const char *colon = p ? strrchr (p, ':') : NULL;
    //  A ZeroMQ "interface;host" source part is not a listening address.
    if (!p || !colon || colon == p || memchr (p, ';', (size_t) (colon - p))) {
        snprintf (host, size, "127.0.0.1");
        return;
    }
    snprintf (host, size, "%.*s", (int) (colon - p), p);
    if (strcmp (host, "*") == 0 || strcmp (host, "0.0.0.0") == 0 || strcmp (host, "[::]") == 0)
        snprintf (host, size, "127.0.0.1");
}

void
http_reply_text (http_reply_t *reply, int status, const char *content_type, const char *text)
{
    size_t n = strlen (text);
    reply->body = malloc (n + 1);
    if (!reply->body) {
        reply->status = 500;
        return;
    }
    memcpy (reply->body, text, n + 1);
    reply->body_size = n;
    reply->status = status;
    reply->content_type = content_type;
}
