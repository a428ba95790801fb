/*  farmclient: requests to the broker over one DEALER socket, the watch
    stream with its progress display, and small helpers the client
    commands share (see farmclient.h).

    Replies are matched by type: a request of type T is answered by T's
    reply type (SUBMIT -> SUBMIT_REPLY, ...) or by ERROR; anything else that
    arrives meanwhile (a late reply to an earlier request, a watch event)
    is dropped. A client sends one request at a time, so this is enough.  */
#include "client/farmclient.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include <sys/ioctl.h>
#include <jansson.h>

#include "common/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/keys.h"

#define S_WATCH_RESEND_MS   3000    //  re-send WatchRequest after this much silence
#define S_WATCH_LOST_MS     60000   //  give up after this much silence
#define S_BAR_WIDTH         28      //  characters in a progress bar
#define S_BAR_MIN           8       //  ... at the least, on a narrow terminal
#define S_TITLE_WIDTH       24      //  characters of an album's title
#define S_TITLE_MIN         12      //  ... at the least, on a narrow terminal
#define S_PLAIN_ALBUMS      20      //  plain mode: more albums get one counts line

struct farmclient_t {
    void    *ctx;                        //  ZeroMQ context (owned)
    void    *sock;                       //  DEALER connected to url
    char    *url;
    int      timeout_ms;                 //  reply deadline
    uint64_t seq;                        //  last request's sequence number
    char     error [FARMCLIENT_ERR_LEN]; //  last error, one line
    bool     curve;                      //  CURVE client
    char     public_z85 [KEYS_Z85_LEN + 1];  //  this client's public key (CURVE)
    void    *monitor;                    //  PAIR receiving handshake events, or NULL
    char     handshake [200];            //  last handshake failure without a verdict
    int      failed_handshakes;          //  in a row, since the last success
};

//  Records the last error (printf-style).
static void __attribute__ ((format (printf, 2, 3)))
s_set_error (farmclient_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->error, sizeof self->error, fmt, ap);
    va_end (ap);
}

//  Creates the DEALER (a CURVE client when keys is not NULL), watches its
//  handshake events and connects it.
static farmclient_t *
s_new (const char *url, int timeout_ms, const keys_pair_t *keys, const char *broker_z85,
       char *err, size_t err_size)
{
    if (!url || (strncmp (url, "tcp://", 6) && strncmp (url, "ipc://", 6)
                 && strncmp (url, "inproc://", 9))) {
        snprintf (err, err_size, "broker URL '%s' is not tcp://HOST:PORT or ipc://PATH",
                  url ? url : "");
        return NULL;
    }
    farmclient_t *self = calloc (1, sizeof *self);
    if (!self || !(self->url = strdup (url))) {
        snprintf (err, err_size, "out of memory");
        free (self);
        return NULL;
    }
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : FARMCLIENT_TIMEOUT_MS;
    self->ctx = zmq_ctx_new ();
    if (self->ctx)
        self->sock = zmq_socket (self->ctx, ZMQ_DEALER);
    if (!self->sock || wire_socket_setup (self->sock, 0) != 0) {
        snprintf (err, err_size, "cannot create a ZeroMQ socket: %s", zmq_strerror (zmq_errno ()));
        farmclient_destroy (&self);
        return NULL;
    }
    if (keys) {
        self->curve = true;
        memcpy (self->public_z85, keys->public_z85, sizeof self->public_z85);
        if (zmq_setsockopt (self->sock, ZMQ_CURVE_SERVERKEY, broker_z85, KEYS_Z85_LEN + 1)
        ||  zmq_setsockopt (self->sock, ZMQ_CURVE_PUBLICKEY, keys->public_z85, KEYS_Z85_LEN + 1)
        ||  zmq_setsockopt (self->sock, ZMQ_CURVE_SECRETKEY, keys->secret_z85,
                            KEYS_Z85_LEN + 1)) {
            snprintf (err, err_size, "cannot set the CURVE keys: %s", zmq_strerror (zmq_errno ()));
            farmclient_destroy (&self);
            return NULL;
        }
    }
    //  Handshake events, before connecting so that none is missed. Best
    //  effort: without them a failure is reported as a timeout.
    if (zmq_socket_monitor (self->sock, "inproc://farmclient-monitor",
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                            | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
        self->monitor = zmq_socket (self->ctx, ZMQ_PAIR);
        int zero = 0;
        if (self->monitor)
            zmq_setsockopt (self->monitor, ZMQ_LINGER, &zero, sizeof zero);
        if (self->monitor && zmq_connect (self->monitor, "inproc://farmclient-monitor")) {
            zmq_close (self->monitor);
            self->monitor = NULL;
        }
    }
    if (zmq_connect (self->sock, url) != 0) {
        snprintf (err, err_size, "cannot connect to broker URL '%s': %s", url,
                  zmq_strerror (zmq_errno ()));
        farmclient_destroy (&self);
        return NULL;
    }
    return self;
}

//  A plaintext client; see farmclient.h.
farmclient_t *
farmclient_new (const char *url, int timeout_ms, char *err, size_t err_size)
{
    return s_new (url, timeout_ms, NULL, NULL, err, err_size);
}

//  The shared options; see farmclient.h.
int
farmclient_option (const char *command, int argc, char **argv, int *i,
                   farmclient_opts_t *opts, void (*help) (FILE *out))
{
    const char *a = argv [*i];
    if (help && (!strcmp (a, "--help") || !strcmp (a, "-h"))) {
        help (stdout);
        return FARMCLIENT_OPT_HELP;
    }
    const char **slot = !strcmp (a, "--curve-key") ? &opts->keys.curve_key_path
                      : !strcmp (a, "--broker-key") ? &opts->keys.broker_key_path : NULL;
    if (slot) {
        if (*i + 1 >= argc || !argv [*i + 1][0]) {
            fprintf (stderr, "masterfarm %s: %s needs a file\n", command, a);
            return FARMCLIENT_OPT_BAD;
        }
        *slot = argv [++*i];
        return FARMCLIENT_OPT_TAKEN;
    }
    bool timeout = opts->timeout_s > 0 && !strcmp (a, "--timeout");
    if (!timeout && strcmp (a, "--broker"))
        return FARMCLIENT_OPT_OTHER;
    if (*i + 1 >= argc) {
        fprintf (stderr, "masterfarm %s: %s needs a value\n", command, a);
        return FARMCLIENT_OPT_BAD;
    }
    if (!timeout)
        opts->broker = argv [++*i];
    else
    if (!cli_double (argv [++*i], 0.0, 3600.0, &opts->timeout_s) || opts->timeout_s <= 0) {
        fprintf (stderr, "masterfarm %s: --timeout needs seconds in (0, 3600]\n", command);
        return FARMCLIENT_OPT_BAD;
    }
    return FARMCLIENT_OPT_TAKEN;
}

//  The client the shared options ask for; see farmclient.h.
farmclient_t *
farmclient_open (const char *command, const farmclient_opts_t *opts)
{
    const char *broker = farmclient_broker_url (opts->broker);
    if (!broker) {
        fprintf (stderr, "masterfarm %s: --broker URL is required (or set MASTERFARM_BROKER)\n",
                 command);
        return NULL;
    }
    char err [FARMCLIENT_ERR_LEN];
    farmclient_t *fc = farmclient_connect (broker, (int) (opts->timeout_s * 1000), &opts->keys,
                                           err, sizeof err);
    if (!fc)
        fprintf (stderr, "masterfarm %s: %s\n", command, err);
    return fc;
}

//  A client with CURVE when key files are named; see farmclient.h.
farmclient_t *
farmclient_connect (const char *url, int timeout_ms, const farmclient_keys_t *keys,
                    char *err, size_t err_size)
{
    const char *key_path = keys && keys->curve_key_path ? keys->curve_key_path
                         : getenv (FARMCLIENT_ENV_CURVE_KEY);
    const char *broker_path = keys && keys->broker_key_path ? keys->broker_key_path
                            : getenv (FARMCLIENT_ENV_BROKER_KEY);
    if (key_path && !*key_path)
        key_path = NULL;
    if (broker_path && !*broker_path)
        broker_path = NULL;
    if (!key_path && !broker_path)
        return s_new (url, timeout_ms, NULL, NULL, err, err_size);
    if (!key_path || !broker_path) {
        snprintf (err, err_size, "CURVE needs both this client's key pair (--curve-key or $%s) "
                  "and the broker's public key (--broker-key or $%s); only the %s was given",
                  FARMCLIENT_ENV_CURVE_KEY, FARMCLIENT_ENV_BROKER_KEY,
                  key_path ? "key pair" : "broker's key");
        return NULL;
    }
    keys_pair_t pair;
    char broker_z85 [KEYS_Z85_LEN + 1];
    if (keys_load_pair (key_path, &pair, err, err_size)
    ||  keys_load_public (broker_path, broker_z85, err, err_size)) {
        explicit_bzero (&pair, sizeof pair);
        return NULL;
    }
    farmclient_t *self = s_new (url, timeout_ms, &pair, broker_z85, err, err_size);
    explicit_bzero (&pair, sizeof pair);
    return self;
}

//  Closes without lingering, so an unanswered request never blocks exit.
void
farmclient_destroy (farmclient_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    farmclient_t *self = *self_p;
    if (self->sock) {
        int zero = 0;
        zmq_setsockopt (self->sock, ZMQ_LINGER, &zero, sizeof zero);
        if (self->monitor)
            zmq_socket_monitor (self->sock, NULL, 0);
        zmq_close (self->sock);
    }
    if (self->monitor)
        zmq_close (self->monitor);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    free (self->url);
    free (self);
    *self_p = NULL;
}

//  The URL given to farmclient_new.
const char *
farmclient_url (const farmclient_t *self)
{
    return self->url;
}

//  The last error text; empty when the last call succeeded.
const char *
farmclient_error (const farmclient_t *self)
{
    return self->error;
}

//  The reply type that answers a request type; 0 if none.
static uint32_t
s_reply_type (uint32_t type)
{
    switch (type) {
        case MASTERFARM__MSG_TYPE__SUBMIT: return MASTERFARM__MSG_TYPE__SUBMIT_REPLY;
        case MASTERFARM__MSG_TYPE__STATUS: return MASTERFARM__MSG_TYPE__STATUS_REPLY;
        case MASTERFARM__MSG_TYPE__WATCH:  return MASTERFARM__MSG_TYPE__WATCH_EVENT;
        case MASTERFARM__MSG_TYPE__CANCEL:
        case MASTERFARM__MSG_TYPE__RETRY:
        case MASTERFARM__MSG_TYPE__PRIORITY:
        case MASTERFARM__MSG_TYPE__PAUSE:
        case MASTERFARM__MSG_TYPE__RESUME: return MASTERFARM__MSG_TYPE__JOB_REPLY;
        case MASTERFARM__MSG_TYPE__LOGS:   return MASTERFARM__MSG_TYPE__LOGS_REPLY;
        default: return 0;
    }
}

//  Sends one request without waiting for the reply. Returns 0, MF_ERR_IO
//  (error set) or MF_ERR_INVALID.
static int
s_send (farmclient_t *self, uint32_t type, const ProtobufCMessage *body)
{
    int rc = wire_send (self->sock, NULL, 0, type, ++self->seq, body, NULL, 0, ZMQ_DONTWAIT);
    if (rc != 0)
        s_set_error (self, "cannot send %s to broker at %s: %s", wire_type_name (type),
                     self->url, rc == MF_ERR_IO ? zmq_strerror (zmq_errno ()) : mf_strerror (rc));
    return rc;
}

//  Reads one handshake event. A refused key or a mechanism mismatch is
//  final: sets the error and returns MF_ERR_PROTOCOL. Other failures are
//  kept for the timeout message; returns 0 for them and for success.
static int
s_on_monitor (farmclient_t *self)
{
    uint8_t head [6];
    char endpoint [256];
    int n = zmq_recv (self->monitor, head, sizeof head, ZMQ_DONTWAIT);
    if (n < 0)
        return 0;
    int more = 0;
    size_t ms = sizeof more;
    while (zmq_getsockopt (self->monitor, ZMQ_RCVMORE, &more, &ms) == 0 && more)
        zmq_recv (self->monitor, endpoint, sizeof endpoint, 0);
    if (n != (int) sizeof head)
        return 0;
    uint16_t event;
    uint32_t value;
    memcpy (&event, head, 2);
    memcpy (&value, head + 2, 4);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        self->handshake [0] = 0;
        self->failed_handshakes = 0;
        return 0;
    }
    self->failed_handshakes++;
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        s_set_error (self, "the broker at %s refused this client's key (public key %.8s..., "
                     "status %u): copy its NAME.pub into the broker's --allow folder and send "
                     "the broker SIGHUP", self->url, self->public_z85, (unsigned) value);
        return MF_ERR_PROTOCOL;
    }
    //  A CURVE broker closes a plaintext peer's connection during the
    //  greeting: the client sees the mechanism mismatch when the broker's
    //  greeting arrives first, a failure without detail otherwise (a race
    //  in libzmq). Without detail the verdict waits for the reconnection's
    //  handshake to fail too, so that a connection lost once is no verdict.
    bool mismatch = event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                 && value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH;
    if (!self->curve && event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
    &&  self->failed_handshakes >= 2)
        mismatch = true;
    if (mismatch) {
        if (self->curve)
            s_set_error (self, "the broker at %s is plaintext but this client uses CURVE: drop "
                         "--curve-key and --broker-key (and $%s, $%s)", self->url,
                         FARMCLIENT_ENV_CURVE_KEY, FARMCLIENT_ENV_BROKER_KEY);
        else
            s_set_error (self, "the broker at %s requires CURVE: give this client's key pair "
                         "and the broker's public key (--curve-key FILE --broker-key FILE, or "
                         "$%s and $%s)", self->url, FARMCLIENT_ENV_CURVE_KEY,
                         FARMCLIENT_ENV_BROKER_KEY);
        return MF_ERR_PROTOCOL;
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        snprintf (self->handshake, sizeof self->handshake, "the %s handshake failed with "
                  "protocol error 0x%x", self->curve ? "CURVE" : "plaintext", (unsigned) value);
    else
        snprintf (self->handshake, sizeof self->handshake, "the %s handshake failed, "
                  "ZeroMQ gives no detail", self->curve ? "CURVE" : "plaintext");
    return 0;
}

//  Waits until deadline_ms (monotonic) for a message of type want or
//  ERROR. Returns 0 with msg filled, MF_ERR_TIMEOUT, MF_ERR_IO,
//  MF_ERR_PROTOCOL (a final handshake failure; error set).
static int
s_wait (farmclient_t *self, uint32_t want, int64_t deadline_ms, wire_msg_t *msg)
{
    while (true) {
        int64_t left = deadline_ms - clock_mono_ms ();
        if (left < 0)
            left = 0;
        zmq_pollitem_t items [2] = { { self->sock, 0, ZMQ_POLLIN, 0 },
                                     { self->monitor, 0, ZMQ_POLLIN, 0 } };
        int n = zmq_poll (items, self->monitor ? 2 : 1, (long) left);
        if (n < 0) {
            if (zmq_errno () == EINTR)
                continue;           //  a signal (SIGCHLD in `run`): callers check their flags
            s_set_error (self, "cannot read from broker at %s: %s", self->url,
                         zmq_strerror (zmq_errno ()));
            return MF_ERR_IO;
        }
        if (n == 0)
            return MF_ERR_TIMEOUT;
        if (self->monitor && (items [1].revents & ZMQ_POLLIN)) {
            int hrc = s_on_monitor (self);
            if (hrc)
                return hrc;
        }
        if (!(items [0].revents & ZMQ_POLLIN))
            continue;
        wire_msg_t m = { 0 };
        int rc = wire_recv (self->sock, false, &m, ZMQ_DONTWAIT);
        if (rc == WIRE_AGAIN)
            continue;
        if (rc == 0 && (m.type == want || m.type == MASTERFARM__MSG_TYPE__ERROR)) {
            *msg = m;
            return 0;
        }
        //  Stale replies, other streams and malformed messages are dropped.
        wire_msg_clear (&m);
        if (rc == MF_ERR_IO || rc == MF_ERR_NOMEM) {
            s_set_error (self, "cannot read from broker at %s: %s", self->url, mf_strerror (rc));
            return rc;
        }
    }
}

//  Says that the broker did not answer in time.
static void
s_set_timeout_error (farmclient_t *self, int waited_ms)
{
    if (self->curve)
        s_set_error (self, "cannot reach broker at %s after %g s (is masterfarm-broker running "
                     "and bound to that URL? CURVE is on: is --broker-key the broker's public "
                     "key, and this client's key (%.8s...) in its allow folder?%s%s)",
                     self->url, waited_ms / 1000.0, self->public_z85,
                     self->handshake [0] ? " " : "", self->handshake);
    else
        s_set_error (self, "cannot reach broker at %s after %g s "
                     "(is masterfarm-broker running and bound to that URL?%s%s)",
                     self->url, waited_ms / 1000.0, self->handshake [0] ? " " : "",
                     self->handshake);
}

//  One request, one reply (or ERROR) within the deadline.
int
farmclient_request (farmclient_t *self, uint32_t type, const ProtobufCMessage *body,
                    wire_msg_t *reply)
{
    self->error [0] = 0;
    int rc = s_send (self, type, body);
    if (rc != 0)
        return rc;
    rc = s_wait (self, s_reply_type (type), clock_mono_ms () + self->timeout_ms, reply);
    if (rc == MF_ERR_TIMEOUT)
        s_set_timeout_error (self, self->timeout_ms);
    return rc;
}

//  Turns an ERROR reply into an error code and text: code NOTFOUND stays
//  MF_ERR_NOTFOUND, anything else is MF_ERR_PROTOCOL.
static int
s_error_reply (farmclient_t *self, const wire_msg_t *reply)
{
    const Masterfarm__Error *e = (const Masterfarm__Error *) reply->body;
    s_set_error (self, "broker at %s: %s", self->url,
                 e && e->message && *e->message ? e->message : "request refused");
    if (e && (int) e->code == -MF_ERR_NOTFOUND)
        return MF_ERR_NOTFOUND;
    return MF_ERR_PROTOCOL;
}

//  Sends a request of type and takes its reply's message (the caller
//  frees it); an ERROR reply becomes its error code. Returns 0 or an
//  error code.
static int
s_ask (farmclient_t *self, uint32_t type, const ProtobufCMessage *req, void **body_out)
{
    *body_out = NULL;
    wire_msg_t reply = { 0 };
    int rc = farmclient_request (self, type, req, &reply);
    if (rc != 0)
        return rc;
    if (reply.type == MASTERFARM__MSG_TYPE__ERROR)
        rc = s_error_reply (self, &reply);
    else {
        *body_out = reply.body;
        reply.body = NULL;
    }
    wire_msg_clear (&reply);
    return rc;
}

//  SUBMIT with the spec text; the reply is handed to the caller.
int
farmclient_submit (farmclient_t *self, const char *spec, size_t spec_len,
                   const char *format, const char *origin,
                   Masterfarm__SubmitReply **reply_out)
{
    *reply_out = NULL;
    char *copy = malloc (spec_len + 1);      //  protobuf-c wants a C string
    if (!copy)
        return MF_ERR_NOMEM;
    memcpy (copy, spec, spec_len);
    copy [spec_len] = 0;
    Masterfarm__SubmitRequest req = MASTERFARM__SUBMIT_REQUEST__INIT;
    req.spec = copy;
    req.format = (char *) format;
    req.origin = (char *) (origin ? origin : "");
    void *body;
    int rc = s_ask (self, MASTERFARM__MSG_TYPE__SUBMIT, &req.base, &body);
    free (copy);
    *reply_out = body;
    return rc == MF_ERR_NOTFOUND ? MF_ERR_PROTOCOL : rc;
}

//  STATUS of one job or of all; ERROR becomes an error code.
int
farmclient_status (farmclient_t *self, uint64_t job_id, Masterfarm__StatusReply **reply_out)
{
    *reply_out = NULL;
    Masterfarm__StatusRequest req = MASTERFARM__STATUS_REQUEST__INIT;
    req.job_id = job_id;
    void *body;
    int rc = s_ask (self, MASTERFARM__MSG_TYPE__STATUS, &req.base, &body);
    *reply_out = body;
    return rc;
}

//  CANCEL or RETRY; JobReply ok=false becomes MF_ERR_STATE.
int
farmclient_job_command (farmclient_t *self, uint32_t type, uint64_t job_id)
{
    Masterfarm__JobRequest req = MASTERFARM__JOB_REQUEST__INIT;
    req.job_id = job_id;
    return farmclient_job_request (self, type, &req, NULL);
}

//  LOGS of a job, an album or a track; ERROR becomes an error code.
int
farmclient_logs (farmclient_t *self, uint64_t job_id, uint32_t album, uint32_t track,
                 uint32_t reference, Masterfarm__LogsReply **reply_out)
{
    *reply_out = NULL;
    Masterfarm__LogsRequest req = MASTERFARM__LOGS_REQUEST__INIT;
    req.job_id = job_id;
    req.album = album;
    req.track = track;
    req.reference = reference;
    void *body;
    int rc = s_ask (self, MASTERFARM__MSG_TYPE__LOGS, &req.base, &body);
    *reply_out = body;
    return rc;
}

//  Any JobRequest (CANCEL, RETRY, PRIORITY, PAUSE, RESUME).
int
farmclient_job_request (farmclient_t *self, uint32_t type, const Masterfarm__JobRequest *req,
                        uint32_t *count)
{
    wire_msg_t reply = { 0 };
    int rc = farmclient_request (self, type, &req->base, &reply);
    if (rc != 0)
        return rc;
    if (reply.type == MASTERFARM__MSG_TYPE__ERROR)
        rc = s_error_reply (self, &reply);
    else {
        const Masterfarm__JobReply *r = (const Masterfarm__JobReply *) reply.body;
        if (count)
            *count = r->count;
        if (!r->ok) {
            s_set_error (self, "broker at %s refused: %s", self->url,
                         r->error && *r->error ? r->error : "no reason given");
            rc = MF_ERR_STATE;
        }
    }
    wire_msg_clear (&reply);
    return rc;
}

//  JobState as a word for people.
const char *
farmclient_job_state_name (int state)
{
    switch (state) {
        case MASTERFARM__JOB_STATE__JOB_QUEUED:    return "queued";
        case MASTERFARM__JOB_STATE__JOB_RUNNING:   return "running";
        case MASTERFARM__JOB_STATE__JOB_DONE:      return "done";
        case MASTERFARM__JOB_STATE__JOB_FAILED:    return "failed";
        case MASTERFARM__JOB_STATE__JOB_CANCELLED: return "cancelled";
        case MASTERFARM__JOB_STATE__JOB_WAITING_DELIVERY: return "waiting-delivery";
        default: return "unknown";
    }
}

//  TaskState as a word for people.
const char *
farmclient_task_state_name (int state)
{
    switch (state) {
        case MASTERFARM__TASK_STATE__TASK_QUEUED:     return "queued";
        case MASTERFARM__TASK_STATE__TASK_DISPATCHED: return "dispatched";
        case MASTERFARM__TASK_STATE__TASK_RUNNING:    return "running";
        case MASTERFARM__TASK_STATE__TASK_DONE:       return "done";
        case MASTERFARM__TASK_STATE__TASK_FAILED:     return "failed";
        case MASTERFARM__TASK_STATE__TASK_BLOCKED:    return "blocked";
        case MASTERFARM__TASK_STATE__TASK_CANCELLED:  return "cancelled";
        default: return "unknown";
    }
}

//  ---- watch -------------------------------------------------------------

typedef struct {
    const farmclient_watch_cfg_t *cfg;
    int      lines_drawn;                     //  tty: lines to overwrite next time
    int64_t  start_ms;
    int64_t  plain_ms;                        //  plain mode: when the last line was printed
    int      plain_state;                     //  ... and the state and counts it showed
    uint32_t plain_done, plain_failed, plain_retrying;
    int      silent_s;                        //  the broker's silence last shown (s), 0: none
} s_view_t;

//  Formats seconds as H:MM:SS or M:SS into buf; "--:--" when unknown.
static const char *
s_fmt_duration (double s, char *buf, size_t size)
{
    if (!isfinite (s) || s < 0) {
        snprintf (buf, size, "--:--");
        return buf;
    }
    long t = (long) (s + 0.5);
    if (t >= 3600)
        snprintf (buf, size, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf (buf, size, "%ld:%02ld", t / 60, t % 60);
    return buf;
}

typedef struct {
    uint32_t tracks, done, failed, running;
    double   progress;          //  sum of track progress, 0 .. tracks
} s_album_sum_t;

//  The album row of album a, or NULL.
static const Masterfarm__AlbumStatus *
s_album_row (const Masterfarm__JobStatus *job, uint32_t a)
{
    return a < job->n_albums && job->albums [a]->album == a ? job->albums [a] : NULL;
}

//  Sums tracks per album into sums (n_albums entries, zeroed by caller).
//  The tracks done are the broker's count where its album row gives one:
//  a track the album correction masters again was mastered once, so the
//  count, and the bar, do not go back (broker/status.c).
static void
s_album_sums (const Masterfarm__JobStatus *job, s_album_sum_t *sums, uint32_t n_albums)
{
    for (size_t i = 0; i < job->n_tracks; i++) {
        const Masterfarm__TrackStatus *t = job->tracks [i];
        if (t->album >= n_albums)
            continue;
        s_album_sum_t *a = &sums [t->album];
        a->tracks++;
        if (t->state == MASTERFARM__TASK_STATE__TASK_DONE) {
            a->done++;
            a->progress += 1.0;
        }
        else if (t->state == MASTERFARM__TASK_STATE__TASK_FAILED)
            a->failed++;
        else {
            if (t->state == MASTERFARM__TASK_STATE__TASK_RUNNING
            ||  t->state == MASTERFARM__TASK_STATE__TASK_DISPATCHED)
                a->running++;
            a->progress += t->progress > 0 && t->progress <= 1 ? t->progress : 0;
        }
    }
    for (uint32_t k = 0; k < n_albums; k++) {
        const Masterfarm__AlbumStatus *row = s_album_row (job, k);
        if (row && row->tracks == sums [k].tracks && row->tracks_done > sums [k].done) {
            sums [k].done = row->tracks_done;
            sums [k].progress = fmax (sums [k].progress, sums [k].done);
        }
    }
}

//  Number of albums in a job: its album rows, else the highest album
//  index of its tracks + 1.
static uint32_t
s_n_albums (const Masterfarm__JobStatus *job)
{
    uint32_t n = (uint32_t) job->n_albums;
    for (size_t i = 0; i < job->n_tracks; i++)
        if (job->tracks [i]->album + 1 > n && job->tracks [i]->album < 100000)
            n = job->tracks [i]->album + 1;
    return n;
}

//  One summary line for the job: state, work done, tasks, audio, speed,
//  ETA; short: the same in fewer words, the ETA second (for a narrow
//  terminal, where the end of the line is cut).
static void
s_job_line (const Masterfarm__JobStatus *job, bool short_form, char *buf, size_t size)
{
    char eta [32], done [32], total [32], speed [48], failed [32] = "";
    if (job->tasks_failed)
        snprintf (failed, sizeof failed, ", %u failed", job->tasks_failed);
    if (job->speed > 0)
        snprintf (speed, sizeof speed, short_form ? "%.1fx" : "%.1fx realtime", job->speed);
    else
        snprintf (speed, sizeof speed, "measuring speed");
    s_fmt_duration (job->audio_done_s, done, sizeof done);
    s_fmt_duration (job->audio_total_s, total, sizeof total);
    s_fmt_duration (job->eta_s, eta, sizeof eta);
    const char *state = farmclient_job_state_name (job->state);
    const char *paused = job->paused ? " (paused)" : "";
    if (short_form)
        snprintf (buf, size, "job %" PRIu64 " %s%s: %.0f%%, ETA %s, %u/%u tasks%s, %s/%s, %s",
                  job->job_id, state, paused, 100 * job->work_done, eta, job->tasks_done,
                  job->tasks_total, failed, done, total, speed);
    else
        snprintf (buf, size, "job %" PRIu64 " %s%s: %.0f%% of the work, %u/%u tasks%s, %s / %s "
                  "audio, %s, ETA %s", job->job_id, state, paused, 100 * job->work_done,
                  job->tasks_done, job->tasks_total, failed, done, total, speed, eta);
}

//  Rows (or columns) of the terminal out draws on: its window size, else
//  $LINES (or $COLUMNS), else 24 (or 80).
static int
s_term_size (FILE *out, bool rows)
{
    struct winsize ws;
    if (ioctl (fileno (out), TIOCGWINSZ, &ws) == 0 && (rows ? ws.ws_row : ws.ws_col) > 0)
        return rows ? ws.ws_row : ws.ws_col;
    const char *env = getenv (rows ? "LINES" : "COLUMNS");
    long n = env ? strtol (env, NULL, 10) : 0;
    return n > 0 && n < 10000 ? (int) n : rows ? 24 : 80;
}

//  Prints one line of the terminal view, cut to the terminal's width so
//  that it never wraps (the redraw counts lines).
static void __attribute__ ((format (printf, 3, 4)))
s_tty_line (FILE *out, int cols, const char *fmt, ...)
{
    char line [1024];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (line, sizeof line, fmt, ap);
    va_end (ap);
    fprintf (out, "\033[2K%.*s\n", cols > 1 ? cols - 1 : 1, line);
}

//  Counts albums by what they are doing: done (published or reported),
//  held, running (something of it runs), waiting, failed (not delivered).
typedef struct { uint32_t done, held, running, waiting, failed; } s_album_counts_t;

//  True when something of album a runs.
static bool
s_album_running (const Masterfarm__AlbumStatus *row, const s_album_sum_t *sum)
{
    return (row && row->stage && *row->stage) || sum->running > 0;
}

//  Writes s cut or padded to w characters (UTF-8 code points) into out
//  (size bytes, at least 4 w + 1 for w whole characters); bytes from the
//  broker that are not UTF-8 never write past it.
static void
s_fit (char *out, size_t size, const char *s, int w)
{
    int n = 0;
    size_t k = 0;
    for (; *s && k + 1 + (size_t) (w - n) < size; s++) {
        bool lead = ((unsigned char) *s & 0xC0) != 0x80;
        if (lead && n == w)
            break;
        n += lead;
        out [k++] = *s;
    }
    for (; n < w && k + 1 < size; n++)
        out [k++] = ' ';
    out [k] = 0;
}

//  Album a's row after its bar, at a level of compaction: 0 whole
//  ("5/5 tracks (spotify cd), running: assemble cd"); 1 without the
//  profiles (the same for most albums of a job); 2 without "running: ";
//  3 without "tracks". Returns its length.
static int
s_album_tail (const Masterfarm__JobStatus *job, uint32_t a, const s_album_sum_t *s,
              int level, char *tail, size_t size)
{
    const Masterfarm__AlbumStatus *row = s_album_row (job, a);
    char failed [32] = "", prof [160] = "";
    if (s->failed)
        snprintf (failed, sizeof failed, ", %u failed", s->failed);
    if (level < 1)
        snprintf (prof, sizeof prof, " (%s)", row && row->profiles ? row->profiles : "");
    bool open = !row || !row->state || !strcmp (row->state, "open");
    bool runs = row && row->stage && *row->stage;
    bool waits = !runs && row && row->queued && *row->queued;
    int n = snprintf (tail, size, "%3u/%u%s%s%s%s%s%s%s", s->done, s->tracks,
                      level < 3 ? " tracks" : "", prof, failed, open ? "" : ", ",
                      open ? "" : row->state,
                      runs ? (level < 2 ? ", running: " : ", ") : waits ? ", queued: " : "",
                      runs ? row->stage : waits ? row->queued : "");
    return n < 0 ? 0 : n >= (int) size ? (int) size - 1 : n;
}

//  The widths every album row of one draw shares, so that their bars and
//  what follows stand in columns: the least compaction at which the
//  longest row fits in cols with a title of S_TITLE_MIN and a bar of
//  S_BAR_MIN; then the bar takes what is left up to S_BAR_WIDTH, and the
//  title the rest up to S_TITLE_WIDTH. A row still too long is cut at the
//  edge.
typedef struct {
    int level, title_w, bar_w;
} s_rows_fit_t;

static s_rows_fit_t
s_rows_fit (int cols, const Masterfarm__JobStatus *job, const uint32_t *which, uint32_t n,
            const s_album_sum_t *sums)
{
    s_rows_fit_t f = { 0, S_TITLE_WIDTH, S_BAR_WIDTH };
    int room = 0;
    for (f.level = 0; f.level <= 3; f.level++) {
        int longest = 0;
        for (uint32_t i = 0; i < n; i++) {
            char tail [512];
            int len = s_album_tail (job, which [i], &sums [which [i]], f.level, tail,
                                    sizeof tail);
            longest = len > longest ? len : longest;
        }
        //  "  NNN " title " [" bar "] " tail, within cols - 1
        room = cols - 1 - 6 - 4 - longest;
        if (room >= S_TITLE_MIN + S_BAR_MIN || f.level == 3)
            break;
    }
    f.bar_w = room - S_TITLE_WIDTH;
    f.bar_w = f.bar_w > S_BAR_WIDTH ? S_BAR_WIDTH : f.bar_w < S_BAR_MIN ? S_BAR_MIN : f.bar_w;
    f.title_w = room - f.bar_w;
    f.title_w = f.title_w > S_TITLE_WIDTH ? S_TITLE_WIDTH
              : f.title_w < S_TITLE_MIN ? S_TITLE_MIN : f.title_w;
    return f;
}

//  One album row: title, bar, tracks, profiles, what runs, in the widths
//  all rows of the draw share (s_rows_fit).
static void
s_album_line (FILE *out, int cols, const Masterfarm__JobStatus *job, uint32_t a,
              const s_album_sum_t *s, const s_rows_fit_t *fit)
{
    const Masterfarm__AlbumStatus *row = s_album_row (job, a);
    char name [64], title [4 * S_TITLE_WIDTH + 1], tail [512];
    const char *t = row && row->title && *row->title ? row->title : NULL;
    if (!t) {
        snprintf (name, sizeof name, "album %u", a + 1);
        t = name;
    }
    s_album_tail (job, a, s, fit->level, tail, sizeof tail);
    s_fit (title, sizeof title, t, fit->title_w);
    int fill = s->tracks ? (int) (fit->bar_w * s->progress / s->tracks + 0.5) : 0;
    char bar [S_BAR_WIDTH + 1];
    for (int i = 0; i < fit->bar_w; i++)
        bar [i] = i < fill ? '#' : '-';
    bar [fit->bar_w] = 0;
    s_tty_line (out, cols, "  %3u %s [%s] %s", a + 1, title, bar, tail);
}

//  Draws one event: bars in place on a terminal (a compact view of the
//  running albums and counts when the albums do not fit its rows), else
//  a plain line when the summary changed.
static void
s_view_draw (s_view_t *v, const Masterfarm__JobStatus *job)
{
    FILE *out = v->cfg->out;
    char line [512];
    s_job_line (job, false, line, sizeof line);
    if (v->cfg->quiet)
        return;
    uint32_t n_albums = s_n_albums (job);
    s_album_sum_t *sums = calloc (n_albums ? n_albums : 1, sizeof *sums);
    if (!sums)
        return;
    s_album_sums (job, sums, n_albums);
    s_album_counts_t c = { 0 };
    for (uint32_t a = 0; a < n_albums; a++) {
        const Masterfarm__AlbumStatus *row = s_album_row (job, a);
        const char *st = row && row->state ? row->state : "open";
        if (!strcmp (st, "published") || !strcmp (st, "reported"))
            c.done++;
        else if (!strcmp (st, "held"))
            c.held++;
        else if (!strcmp (st, "not-delivered"))
            c.failed++;
        else if (s_album_running (row, &sums [a]))
            c.running++;
        else
            c.waiting++;
    }
    char counts [160];
    snprintf (counts, sizeof counts, "albums: %u done, %u running, %u waiting, %u held%s",
              c.done, c.running, c.waiting, c.held, c.failed ? ", some not delivered" : "");

    if (v->silent_s > 0 && !v->cfg->tty)
        fprintf (out, "broker answering again\n");
    v->silent_s = 0;
    if (v->cfg->tty) {
        int rows = s_term_size (out, true), cols = s_term_size (out, false);
        if ((int) strlen (line) > cols - 1)
            s_job_line (job, true, line, sizeof line);
        if (v->lines_drawn > 0)
            fprintf (out, "\033[%dA", v->lines_drawn);
        s_tty_line (out, cols, "%s", line);
        int lines = 1;
        if (job->tasks_retrying) {
            //  the error's end (its cause) when all of it does not fit
            char head [128];
            const char *why = farmclient_retrying (job, true, head, sizeof head);
            int room = cols - 1 - 2 - (int) strlen (head);
            if (room > 8 && (int) strlen (why) > room)
                s_tty_line (out, cols, "  %s...%s", head, why + strlen (why) - (room - 3));
            else
                s_tty_line (out, cols, "  %s%s", head, why);
            lines++;
            rows--;
        }
        uint32_t *which = calloc (n_albums ? n_albums : 1, sizeof *which);
        uint32_t shown = 0;
        bool all = (int) n_albums + 2 <= rows;
        //  all the albums, or (compact) the running ones as far as they
        //  fit, then counts
        for (uint32_t a = 0; which && a < n_albums; a++)
            if (all || (s_album_running (s_album_row (job, a), &sums [a])
                        && (int) shown < rows - 3))
                which [shown++] = a;
        s_rows_fit_t fit = s_rows_fit (cols, job, which, shown, sums);
        for (uint32_t i = 0; i < shown; i++, lines++)
            s_album_line (out, cols, job, which [i], &sums [which [i]], &fit);
        free (which);
        if (!all) {
            char more [48] = "";
            if ((uint32_t) shown < c.running)
                snprintf (more, sizeof more, " (%u running not shown)",
                          c.running - (uint32_t) shown);
            s_tty_line (out, cols, "  %s%s", counts, more);
            lines++;
        }
        fprintf (out, "\033[J");        //  clear what an earlier, longer draw left
        v->lines_drawn = lines;
    }
    else {
        //  Plain: a line when the state or the failures change, and when
        //  more tasks are done, at most one a second (logs stay short).
        int64_t now = clock_mono_ms ();
        bool changed = v->plain_ms == 0 || (int) job->state != v->plain_state
                    || job->tasks_failed != v->plain_failed
                    || job->tasks_retrying != v->plain_retrying;
        if (changed || (job->tasks_done != v->plain_done && now - v->plain_ms >= 1000)) {
            v->plain_ms = now;
            v->plain_state = (int) job->state;
            v->plain_done = job->tasks_done;
            v->plain_failed = job->tasks_failed;
            v->plain_retrying = job->tasks_retrying;
            fprintf (out, "%s\n", line);
            if (job->tasks_retrying) {
                char head [128];
                const char *why = farmclient_retrying (job, false, head, sizeof head);
                fprintf (out, "  %s%s\n", head, why);
            }
            if (n_albums > S_PLAIN_ALBUMS)
                fprintf (out, "  %s\n", counts);
            for (uint32_t a = 0; a < n_albums && n_albums > 1 && n_albums <= S_PLAIN_ALBUMS; a++) {
                const Masterfarm__AlbumStatus *row = s_album_row (job, a);
                fprintf (out, "  album %u", a + 1);
                if (row && row->title && *row->title)
                    fprintf (out, " \"%s\"", row->title);
                fprintf (out, ": %u/%u tracks done%s", sums [a].done, sums [a].tracks,
                         sums [a].failed ? ", some failed" : "");
                if (row && row->stage && *row->stage)
                    fprintf (out, ", running: %s", row->stage);
                else
                if (row && row->queued && *row->queued)
                    fprintf (out, ", queued: %s", row->queued);
                fputc ('\n', out);
            }
        }
    }
    fflush (out);
    free (sums);
}

const char *
farmclient_retrying (const Masterfarm__JobStatus *job, bool brief, char *head, size_t size)
{
    snprintf (head, size, "waiting to try again: %u task(s)%s: ", job->tasks_retrying,
              brief ? "" : " after a failure of the machine");
    return job->retrying && *job->retrying ? job->retrying : "?";
}

void
farmclient_print_failures (FILE *out, const Masterfarm__JobStatus *job, const char *retry_hint)
{
    for (size_t i = 0; i < job->n_failures; i++) {
        const Masterfarm__Failure *f = job->failures [i];
        fprintf (out, "  failed: album \"%s\"", f->album_title ? f->album_title : "");
        if (f->track > 0)
            fprintf (out, " track %u \"%s\"", f->track, f->track_title ? f->track_title : "");
        if (f->profile && *f->profile)
            fprintf (out, ", profile %s", f->profile);
        else
        if (f->track > 0)
            fprintf (out, ", every profile");
        fprintf (out, ": %s\n", f->reason && *f->reason ? f->reason : "no reason given");
    }
    for (size_t i = 0; i < job->n_albums; i++) {
        const Masterfarm__AlbumStatus *a = job->albums [i];
        const char *t = a->title ? a->title : "";
        if (a->state && strcmp (a->state, "held") == 0) {
            fprintf (out, "  held: album \"%s\" is not published: not every track of every "
                     "profile was delivered; fix the cause above and ", t);
            if (retry_hint)
                fprintf (out, "%s\n", retry_hint);
            else
                fprintf (out, "run masterfarm retry %" PRIu64 "\n", job->job_id);
        }
        else
        if (a->state && strcmp (a->state, "published") == 0 && !a->complete)
            fprintf (out, "  partial: album \"%s\" was published incomplete (\"partial\": "
                     "\"deliver\"); its report.json and manifest.json list what is missing\n", t);
        else
        if (a->state && strcmp (a->state, "not-delivered") == 0)
            fprintf (out, "  not delivered: album \"%s\"\n", t);
    }
}

//  Prints the final summary: albums delivered and held, tracks, audio,
//  the job's own running time and speed, every failure, the output root.
static void
s_view_final (s_view_t *v, const Masterfarm__JobStatus *job)
{
    FILE *out = v->cfg->out;
    uint32_t n_albums = s_n_albums (job), published = 0, held = 0, partial = 0, other = 0;
    uint32_t tracks = 0, t_done = 0, t_failed = 0;
    for (size_t i = 0; i < job->n_tracks; i++) {
        tracks++;
        t_done += job->tracks [i]->state == MASTERFARM__TASK_STATE__TASK_DONE;
        t_failed += job->tracks [i]->state == MASTERFARM__TASK_STATE__TASK_FAILED;
    }
    for (size_t i = 0; i < job->n_albums; i++) {
        const Masterfarm__AlbumStatus *a = job->albums [i];
        const char *st = a->state ? a->state : "";
        if (!strcmp (st, "published") && !a->complete)
            partial++;
        else if (!strcmp (st, "published") || !strcmp (st, "reported"))
            published++;
        else if (!strcmp (st, "held"))
            held++;
        else
            other++;
    }
    double wall_s = job->running_s > 0 ? job->running_s
                  : job->started_ms > 0 && job->finished_ms >= job->started_ms
                  ? (job->finished_ms - job->started_ms) / 1000.0
                  : (clock_mono_ms () - v->start_ms) / 1000.0;
    char audio [32], wall [32];
    fprintf (out, "job %" PRIu64 " %s: %u album%s", job->job_id,
             farmclient_job_state_name (job->state), n_albums, n_albums == 1 ? "" : "s");
    if (job->n_albums) {
        fprintf (out, " (%u delivered", published);
        if (partial)
            fprintf (out, ", %u partial", partial);
        fprintf (out, ", %u held", held);
        if (other)
            fprintf (out, ", %u not delivered", other);
        fputc (')', out);
    }
    //  two lines that fit 80 columns for a catalog of hundreds of albums
    fprintf (out, ", %u track%s (%u done, %u failed)\n", tracks, tracks == 1 ? "" : "s",
             t_done, t_failed);
    fprintf (out, "  %u/%u tasks, audio %s, wall time %s", job->tasks_done, job->tasks_total,
             s_fmt_duration (job->audio_total_s, audio, sizeof audio),
             s_fmt_duration (wall_s, wall, sizeof wall));
    if (job->speed > 0)
        fprintf (out, ", %.1fx realtime", job->speed);
    else
    if (wall_s > 0.05 && job->audio_done_s > 0)
        fprintf (out, ", %.1fx realtime", job->audio_done_s / wall_s);
    fputc ('\n', out);
    farmclient_print_failures (out, job, v->cfg->retry_hint);
    if (job->output_dir && *job->output_dir)
        fprintf (out, "outputs: %s\n", job->output_dir);
    fflush (out);
}

//  Prints one watch event as one line of JSON: {"final": B, "job": {...}}.
static void
s_event_json (FILE *out, const Masterfarm__WatchEvent *ev)
{
    json_t *o = json_object ();
    json_object_set_new (o, "final", json_boolean (ev->final));
    json_object_set_new (o, "job", farmclient_job_to_json (ev->job));
    char *text = json_dumps (o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text)
        fprintf (out, "%s\n", text);
    free (text);
    json_decref (o);
    fflush (out);
}

//  Sends a WatchRequest for job_id. Returns 0 or MF_ERR_IO.
static int
s_watch_send (farmclient_t *self, uint64_t job_id)
{
    Masterfarm__WatchRequest req = MASTERFARM__WATCH_REQUEST__INIT;
    req.job_id = job_id;
    return s_send (self, MASTERFARM__MSG_TYPE__WATCH, &req.base);
}

//  Says that the broker has been silent for silent_ms (it sends an event
//  every heartbeat, so seconds of silence mean it is stopped or out of
//  reach): on a terminal a line under the view, updated each second;
//  plain, one line when the silence begins. The next event clears it.
static void
s_view_silent (s_view_t *v, int silent_ms, int lost_ms)
{
    int s = silent_ms / 1000;
    if (v->cfg->quiet || v->cfg->json || s <= v->silent_s)
        return;
    FILE *out = v->cfg->out;
    if (v->cfg->tty) {
        if (v->silent_s > 0)
            fprintf (out, "\033[1A");
        else
            v->lines_drawn++;
        s_tty_line (out, s_term_size (out, false), "  broker silent for %d s: still asking "
                    "(watch gives up after %d s)", s, lost_ms / 1000);
    }
    else
    if (v->silent_s == 0)
        fprintf (out, "broker silent for %d s: still asking (watch gives up after %d s)\n",
                 s, lost_ms / 1000);
    fflush (out);
    v->silent_s = s;
}

//  The watch loop: events drawn as they come, the request re-sent after
//  S_WATCH_RESEND_MS of silence, given up after cfg->lost_ms.
int
farmclient_watch (farmclient_t *self, uint64_t job_id, const farmclient_watch_cfg_t *cfg,
                  int *state_out)
{
    s_view_t view = { .cfg = cfg, .start_ms = clock_mono_ms () };
    int lost_ms = cfg->lost_ms > 0 ? cfg->lost_ms : S_WATCH_LOST_MS;
    self->error [0] = 0;
    *state_out = MASTERFARM__JOB_STATE__JOB_NONE;
    int rc = s_watch_send (self, job_id);
    if (rc != 0)
        return rc;
    int64_t last_heard = clock_mono_ms (), last_sent = last_heard;
    bool heard = false;
    while (true) {
        if (cfg->tick)
            cfg->tick (cfg->tick_arg);
        if (cfg->stop && *cfg->stop) {
            s_set_error (self, "interrupted");
            return MF_ERR_CANCELLED;
        }
        wire_msg_t msg = { 0 };
        rc = s_wait (self, MASTERFARM__MSG_TYPE__WATCH_EVENT, clock_mono_ms () + 250, &msg);
        int64_t now = clock_mono_ms ();
        if (rc == MF_ERR_TIMEOUT) {
            int silent = (int) (now - last_heard);
            if (!heard && silent >= self->timeout_ms) {
                s_set_timeout_error (self, silent);
                return MF_ERR_TIMEOUT;
            }
            if (silent >= lost_ms) {
                s_set_error (self, "lost broker at %s: no word for %d s", self->url, silent / 1000);
                return MF_ERR_TIMEOUT;
            }
            if (heard && silent >= S_WATCH_RESEND_MS)
                s_view_silent (&view, silent, lost_ms);
            //  The broker may have restarted and forgotten us: ask again.
            if (now - last_sent >= S_WATCH_RESEND_MS && now - last_heard >= S_WATCH_RESEND_MS) {
                if (s_watch_send (self, job_id) != 0)
                    return MF_ERR_IO;
                last_sent = now;
            }
            continue;
        }
        if (rc != 0)
            return rc;
        if (msg.type == MASTERFARM__MSG_TYPE__ERROR) {
            rc = s_error_reply (self, &msg);
            wire_msg_clear (&msg);
            return rc;
        }
        const Masterfarm__WatchEvent *ev = (const Masterfarm__WatchEvent *) msg.body;
        if (!ev->job || ev->job->job_id != job_id) {
            wire_msg_clear (&msg);
            continue;
        }
        heard = true;
        last_heard = now;
        if (cfg->json)
            s_event_json (cfg->out, ev);
        else
            s_view_draw (&view, ev->job);
        if (ev->final) {
            *state_out = ev->job->state;
            if (!cfg->json)
                s_view_final (&view, ev->job);
            wire_msg_clear (&msg);
            return 0;
        }
        wire_msg_clear (&msg);
    }
}

//  ---- JSON -------------------------------------------------------------

//  A JobStatus as JSON (field names as in proto/masterfarm.proto; states
//  as words).
json_t *
farmclient_job_to_json (const Masterfarm__JobStatus *j)
{
    json_t *tracks = json_array ();
    for (size_t t = 0; t < j->n_tracks; t++) {
        const Masterfarm__TrackStatus *ts = j->tracks [t];
        json_array_append_new (tracks, json_pack (
            "{s:I, s:I, s:s, s:s, s:I, s:s, s:f, s:s, s:f}",
            "album", (json_int_t) ts->album, "track", (json_int_t) ts->track,
            "title", ts->title ? ts->title : "",
            "state", farmclient_task_state_name (ts->state),
            "attempts", (json_int_t) ts->attempts,
            "last_error", ts->last_error ? ts->last_error : "",
            "progress", ts->progress, "stage", ts->stage ? ts->stage : "",
            "duration_s", ts->duration_s));
    }
    json_t *failures = json_array (), *albums = json_array ();
    for (size_t f = 0; f < j->n_failures; f++) {
        const Masterfarm__Failure *x = j->failures [f];
        json_array_append_new (failures, json_pack (
            "{s:I, s:s, s:I, s:s, s:s, s:s}",
            "album", (json_int_t) x->album, "album_title", x->album_title ? x->album_title : "",
            "track", (json_int_t) x->track, "track_title", x->track_title ? x->track_title : "",
            "profile", x->profile ? x->profile : "", "reason", x->reason ? x->reason : ""));
    }
    for (size_t a = 0; a < j->n_albums; a++) {
        const Masterfarm__AlbumStatus *x = j->albums [a];
        json_array_append_new (albums, json_pack (
            "{s:I, s:s, s:s, s:b, s:I, s:I, s:I, s:s, s:s, s:s}", "album", (json_int_t) x->album,
            "title", x->title ? x->title : "", "state", x->state ? x->state : "",
            "complete", (int) x->complete, "tracks", (json_int_t) x->tracks,
            "tracks_done", (json_int_t) x->tracks_done,
            "tracks_failed", (json_int_t) x->tracks_failed,
            "stage", x->stage ? x->stage : "", "queued", x->queued ? x->queued : "",
            "profiles", x->profiles ? x->profiles : ""));
    }
    json_t *o = json_pack (
        "{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:s, s:o, s:o, s:o}",
        "job_id", (json_int_t) j->job_id, "name", j->name ? j->name : "",
        "state", farmclient_job_state_name (j->state),
        "priority", (json_int_t) j->priority,
        "deadline_ms", (json_int_t) j->deadline_ms,
        "deliver_at_ms", (json_int_t) j->deliver_at_ms,
        "tasks_total", (json_int_t) j->tasks_total,
        "tasks_done", (json_int_t) j->tasks_done,
        "tasks_failed", (json_int_t) j->tasks_failed,
        "audio_done_s", j->audio_done_s, "audio_total_s", j->audio_total_s,
        "submitted_ms", (json_int_t) j->submitted_ms,
        "output_dir", j->output_dir ? j->output_dir : "",
        "tracks", tracks, "failures", failures, "albums", albums);
    json_object_set_new (o, "paused", json_boolean (j->paused));
    json_object_set_new (o, "tasks_retrying", json_integer (j->tasks_retrying));
    json_object_set_new (o, "retrying", json_string (j->retrying ? j->retrying : ""));
    json_object_set_new (o, "work_done", json_real (j->work_done));
    json_object_set_new (o, "eta_s", json_real (j->eta_s));
    json_object_set_new (o, "speed", json_real (j->speed));
    json_object_set_new (o, "started_ms", json_integer ((json_int_t) j->started_ms));
    json_object_set_new (o, "finished_ms", json_integer ((json_int_t) j->finished_ms));
    json_object_set_new (o, "running_s", json_real (j->running_s));
    return o;
}

//  ---- helpers -------------------------------------------------------------

//  Reads the spec with the size cap and picks the format from the name.
int
farmclient_read_spec (const char *path, char **text, size_t *len, const char **format,
                      char *err, size_t err_size)
{
    int rc = fsutil_read_file (path, FARMCLIENT_SPEC_MAX_BYTES, text, len);
    if (rc == MF_ERR_INVALID)
        snprintf (err, err_size, "%s: not a regular file, or larger than %u MiB",
                  path, FARMCLIENT_SPEC_MAX_BYTES >> 20);
    else if (rc != 0)
        snprintf (err, err_size, "%s: cannot read: %s", path,
                  rc == MF_ERR_IO ? strerror (errno) : mf_strerror (rc));
    if (rc != 0)
        return rc;
    //  The spec travels as a protobuf string, which ends at a NUL byte:
    //  refuse one here rather than submit a cut text
    const char *nul = memchr (*text, '\0', *len);
    if (nul) {
        snprintf (err, err_size, "%s: byte %zu is a NUL character; a job spec is text "
                  "(a binary or damaged file?)", path, (size_t) (nul - *text) + 1);
        free (*text);
        *text = NULL;
        return MF_ERR_FORMAT;
    }
    size_t n = strlen (path);
    *format = n >= 4 && strcasecmp (path + n - 4, ".csv") == 0 ? "csv" : "json";
    return 0;
}

//  One line per SpecError, path first, position when known.
void
farmclient_print_spec_errors (FILE *out, const char *origin, const Masterfarm__SubmitReply *reply)
{
    for (size_t i = 0; i < reply->n_errors; i++) {
        const Masterfarm__SpecError *e = reply->errors [i];
        bool csv_path = e->path && strncmp (e->path, "line ", 5) == 0;
        fprintf (out, "%s: %s", origin, e->path && *e->path ? e->path : "$");
        if (csv_path && e->column)
            fprintf (out, " (character %u)", e->column);
        else if (!csv_path && e->line && e->column)
            fprintf (out, " (line %u, column %u)", e->line, e->column);
        else if (!csv_path && e->line)
            fprintf (out, " (line %u)", e->line);
        fprintf (out, ": %s\n", e->message && *e->message ? e->message : "invalid");
    }
    if (reply->n_errors == 0)
        fprintf (out, "%s: rejected by the broker without a reason\n", origin);
}

//  Decimal job ids only, greater than 0.
int
farmclient_parse_job_id (const char *text, uint64_t *job_id)
{
    if (!text || !*text)
        return MF_ERR_INVALID;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || *end || v == 0 || text [0] == '-')
        return MF_ERR_INVALID;
    *job_id = v;
    return 0;
}

int
farmclient_job_positional (const char *command, const char *a, const char **job_text)
{
    if (a [0] == '-') {
        fprintf (stderr, "masterfarm %s: unknown option '%s' (see --help)\n", command, a);
        return 2;
    }
    if (*job_text) {
        fprintf (stderr, "masterfarm %s: one job id at a time\n", command);
        return 2;
    }
    *job_text = a;
    return 0;
}

int
farmclient_job_arg (const char *command, const char *job_text, uint64_t *job_id)
{
    *job_id = 0;
    if (farmclient_parse_job_id (job_text, job_id) == 0)
        return 0;
    fprintf (stderr, "masterfarm %s: give the job id that submit printed (got '%s')\n",
             command, job_text ? job_text : "");
    return 2;
}

//  --broker wins over MASTERFARM_BROKER.
const char *
farmclient_broker_url (const char *option_value)
{
    if (option_value && *option_value)
        return option_value;
    const char *env = getenv ("MASTERFARM_BROKER");
    return env && *env ? env : NULL;
}

//  Shared body of `cancel`, `retry`, `priority`, `pause` and `resume`.
int
farmclient_cmd_job (const char *command, uint32_t type, const char *what,
                    int argc, char **argv)
{
    const char *job_text = NULL, *prio_text = NULL;
    farmclient_opts_t opts = { 0 };
    long album = 0, track = 0;
    bool is_retry = type == MASTERFARM__MSG_TYPE__RETRY;
    bool is_prio = type == MASTERFARM__MSG_TYPE__PRIORITY;
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i];
        int kc = farmclient_option (command, argc, argv, &i, &opts, NULL);
        if (kc == FARMCLIENT_OPT_BAD)
            return 2;
        if (kc == FARMCLIENT_OPT_TAKEN)
            continue;
        if (!strcmp (a, "--help") || !strcmp (a, "-h")) {
            printf ("usage: masterfarm %s JOB%s --broker URL%s [--curve-key FILE "
                    "--broker-key FILE]\n\n%s\n\n"
                    "  --broker URL   the broker, tcp://HOST:PORT or ipc://PATH\n"
                    "                 (default: $MASTERFARM_BROKER)\n"
                    "%s"
                    FARMCLIENT_KEYS_HELP "\n"
                    "Exit status: 0 done, 1 refused, unknown job or broker unreachable,\n"
                    "2 bad usage.\n", command, is_prio ? " N" : "",
                    is_retry ? " [--album A [--track N]]" : "", what,
                    is_retry ? "  --album A      only album A (its number in status, from 1)\n"
                               "  --track N      only track N of that album (as in the spec)\n"
                             : "");
            return 0;
        }
        else if (is_retry && (!strcmp (a, "--album") || !strcmp (a, "--track"))
                 && i + 1 >= argc) {
            fprintf (stderr, "masterfarm %s: %s needs a value\n", command, a);
            return 2;
        }
        else if (is_retry && (!strcmp (a, "--album") || !strcmp (a, "--track"))) {
            long *slot = a [2] == 'a' ? &album : &track;
            if (!cli_long (argv [++i], 1, 1000000, slot)) {
                fprintf (stderr, "masterfarm %s: %s needs a number from 1 (got '%s')\n",
                         command, a, argv [i]);
                return 2;
            }
        }
        else if (is_prio && job_text && !prio_text && a [0] != '-')
            prio_text = a;
        else if (farmclient_job_positional (command, a, &job_text))
            return 2;
    }
    uint64_t job_id;
    if (farmclient_job_arg (command, job_text, &job_id))
        return 2;
    long priority = 0;
    if (is_prio && (!prio_text || !cli_long (prio_text, 0, 9, &priority))) {
        fprintf (stderr, "masterfarm %s: give the new priority, a whole number from 0 to 9 "
                 "(got '%s')\n", command, prio_text ? prio_text : "");
        return 2;
    }
    if (track && !album) {
        fprintf (stderr, "masterfarm %s: --track needs --album\n", command);
        return 2;
    }
    farmclient_t *fc = farmclient_open (command, &opts);
    if (!fc)
        return 2;
    Masterfarm__JobRequest req = MASTERFARM__JOB_REQUEST__INIT;
    req.job_id = job_id;
    req.album = (uint32_t) album;
    req.track = (uint32_t) track;
    req.priority = (uint32_t) priority;
    uint32_t count = 0;
    int rc = farmclient_job_request (fc, type, &req, &count);
    if (rc != 0)
        fprintf (stderr, "masterfarm %s: job %" PRIu64 ": %s\n", command, job_id,
                 farmclient_error (fc));
    else
    if (type == MASTERFARM__MSG_TYPE__CANCEL)
        printf ("job %" PRIu64 ": cancelled\n", job_id);
    else
    if (is_retry && album)
        printf ("job %" PRIu64 ": album %ld%s%.0ld: %u failed task(s) queued again\n", job_id,
                album, track ? " track " : "", track, count);
    else
    if (is_retry)
        printf ("job %" PRIu64 ": failed tasks queued again\n", job_id);
    else
    if (is_prio)
        printf ("job %" PRIu64 ": priority %ld\n", job_id, priority);
    else
    if (type == MASTERFARM__MSG_TYPE__PAUSE)
        printf ("job %" PRIu64 ": paused; nothing new is dispatched, %u running task(s) "
                "finish\n", job_id, count);
    else
        printf ("job %" PRIu64 ": resumed\n", job_id);
    farmclient_destroy (&fc);
    return rc == 0 ? 0 : 1;
}
