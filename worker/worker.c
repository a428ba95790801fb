/*  The worker daemon's event loop (see worker.h): one DEALER socket for
    the work, a second DEALER (the control connection) for heartbeats only,
    a task process per slot that runs one task after another (forked when
    the slot first needs it, replaced when it dies or is killed, retired
    after S_RUNNER_TASKS tasks), heartbeats both ways, reconnection with
    backoff, and a clean stop.

    The control connection is a separate TCP connection, so heartbeats
    never wait behind a multi-megabyte TASK or RESULT of inline storage
    in the data connection's send buffer on a slow link.

    Keeping the process across tasks spares each task a fork, the copying
    of the worker's pages it writes to and the faulting in of fresh
    memory: on a catalog of 4-second tracks that was a quarter of a task's
    CPU. A task still cannot take its worker down, and a crash, a kill or
    a limit ends only its own process.

    Pipe formats (host byte order: both ends are the same binary). To the
    task process: u64 size of the packed Task, its bytes, u64 number of
    data frames, then per frame u64 size and its bytes. Back: u64 result
    size, the packed Result, u64 number of data frames, then per frame
    u64 size and its bytes.  */
#include "worker/worker.h"
#include "common/array.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/version.h"
#include "common/wire.h"
#include "worker/task.h"

#define S_MAX_SLOTS   1024
#define S_PENDING     16         //  tasks waiting for a slot (after a broker restart)
#define S_CACHE       64         //  recent results kept to send again
#define S_CACHE_MS    30000      //  ... for this long
#define S_RUNNER_TASKS 64        //  tasks a task process runs before it is replaced

typedef struct {
    int64_t   sent_ms;
    uint8_t  *packed;            //  packed Result (no data frames)
    size_t    size;
} s_cached_t;

typedef struct {
    //  the slot's task process, kept from one task to the next
    pid_t     pid;             //  0: none yet
    int       fd;              //  read end of its result pipe, -1 when closed
    int       cmd_fd;          //  write end of its task pipe, -1 when closed
    int       err_fd;          //  read end of its stderr pipe, -1 when closed
    unsigned  n_tasks;         //  tasks given to it
    //  the task it runs, if used
    bool      used;
    uint64_t  task_id;
    uint32_t  attempt;
    int64_t   started_ms;
    bool      killed;          //  we killed it: cancelled or re-registered
    bool      timed_out;
    uint8_t  *buf;             //  what the task process sent so far
    size_t    len;
    size_t    cap;
    char      tail [WORKER_STDERR_TAIL + 1];  //  the last bytes of its stderr
    size_t    tail_len;
} s_child_t;

struct _worker_t {
    worker_cfg_t cfg;
    char        *url;
    char         id [128];
    void        *ctx;
    void        *sock;
    void        *ctl;            //  control DEALER: heartbeats only, or NULL
    s_child_t   *children;      //  cfg.slots entries
    int          running;
    uint64_t     seq;
    int64_t      last_heard_ms;  //  last message from the broker
    int64_t      next_hb_ms;
    int64_t      next_try_ms;    //  earliest next reconnection
    int64_t      backoff_ms;
    s_cached_t   cache [S_CACHE]; //  results sent lately, for a restarted broker
    size_t       cache_next;
    wire_msg_t   pending [S_PENDING]; //  TASKs that came while every slot was busy
    size_t       n_pending;
    bool         curve;          //  CURVE on: keys below are set
    keys_pair_t  keys;           //  this worker's key pair
    char         broker_key [KEYS_Z85_LEN + 1];  //  the broker's public key
    void        *monitor;        //  PAIR receiving the socket's handshake events
    unsigned     monitor_seq;    //  makes each monitor endpoint unique
    bool         handshake_ok;   //  a handshake succeeded on this socket
    int          handshake_told; //  failure logged on this socket: 1 vague, 2 specific
};

static volatile sig_atomic_t s_stop = 0;

void
worker_request_stop (void)
{
    s_stop = 1;
}

//  An integer from the environment, or def.
static int64_t
s_env (const char *name, int64_t def)
{
    const char *v = getenv (name);
    if (!v || !*v)
        return def;
    char *end;
    long long x = strtoll (v, &end, 10);
    return *end || x < 0 ? def : (int64_t) x;
}

void
worker_cfg_default (worker_cfg_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    long n = sysconf (_SC_NPROCESSORS_ONLN);
    cfg->slots = n > 0 ? (int) n : 1;
    cfg->task_timeout_ms = s_env ("MASTERFARM_TASK_TIMEOUT_S", 3600) * 1000;
    cfg->mem_limit_mb = s_env ("MASTERFARM_TASK_MEM_MB", 8192);
    cfg->cpu_limit_s = s_env ("MASTERFARM_TASK_CPU_S", 3600);
}

worker_t *
worker_new (const worker_cfg_t *cfg, char *err, size_t err_size)
{
    if (!cfg->connect_url || !*cfg->connect_url) {
        snprintf (err, err_size, "no broker URL given (--connect tcp://HOST:PORT)");
        return NULL;
    }
    if (cfg->slots < 1 || cfg->slots > S_MAX_SLOTS) {
        snprintf (err, err_size, "--threads %d: must be 1 .. %d", cfg->slots, S_MAX_SLOTS);
        return NULL;
    }
    worker_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->url = strdup (cfg->connect_url);
    self->children = calloc ((size_t) cfg->slots, sizeof *self->children);
    if (cfg->worker_id)
        snprintf (self->id, sizeof self->id, "%s", cfg->worker_id);
    else {
        char host [64] = "host";
        gethostname (host, sizeof host - 1);
        snprintf (self->id, sizeof self->id, "%s-%d", host, (int) getpid ());
    }
    if (cfg->curve_key_path || cfg->broker_key_path) {
        if (!cfg->curve_key_path || !cfg->broker_key_path) {
            snprintf (err, err_size, "CURVE needs both --curve-key (this worker's NAME.key) "
                      "and --broker-key (the broker's NAME.pub)");
            worker_destroy (&self);
            return NULL;
        }
        if (keys_load_pair (cfg->curve_key_path, &self->keys, err, err_size)
        ||  keys_load_public (cfg->broker_key_path, self->broker_key, err, err_size)) {
            worker_destroy (&self);
            return NULL;
        }
        self->curve = true;
    }
    self->ctx = zmq_ctx_new ();
    if (!self->url || !self->children || !self->ctx) {
        snprintf (err, err_size, "out of memory or ZeroMQ unavailable");
        worker_destroy (&self);
        return NULL;
    }
    //  A malformed address is a usage error, found now rather than in the
    //  loop: a probe socket connects (nothing is sent; a well-formed
    //  address whose host is down still connects) and is closed.
    void *probe = zmq_socket (self->ctx, ZMQ_DEALER);
    int linger = 0;
    if (probe)
        zmq_setsockopt (probe, ZMQ_LINGER, &linger, sizeof linger);
    if (!probe || zmq_connect (probe, self->url) != 0) {
        snprintf (err, err_size, "--connect '%s': not a broker address (%s); use "
                  "tcp://HOST:PORT or ipc://PATH", self->url, zmq_strerror (zmq_errno ()));
        if (probe)
            zmq_close (probe);
        worker_destroy (&self);
        return NULL;
    }
    zmq_close (probe);
    for (int i = 0; i < cfg->slots; i++)
        self->children [i].fd = self->children [i].cmd_fd = self->children [i].err_fd = -1;
    return self;
}

//  Closes the sockets and the monitor, if open.
static void
s_close (worker_t *self)
{
    if (self->ctl) {
        zmq_close (self->ctl);
        self->ctl = NULL;
    }
    if (self->sock) {
        if (self->monitor)
            zmq_socket_monitor (self->sock, NULL, 0);
        zmq_close (self->sock);
        self->sock = NULL;
    }
    if (self->monitor) {
        zmq_close (self->monitor);
        self->monitor = NULL;
    }
}

void
worker_destroy (worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    worker_t *self = *self_p;
    s_close (self);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    for (int i = 0; self->children && i < self->cfg.slots; i++)
        free (self->children [i].buf);
    for (int i = 0; i < S_CACHE; i++)
        free (self->cache [i].packed);
    for (size_t i = 0; i < self->n_pending; i++)
        wire_msg_clear (&self->pending [i]);
    free (self->children);
    free (self->url);
    explicit_bzero (&self->keys, sizeof self->keys);
    free (self);
    *self_p = NULL;
}

//  Sends a message to the broker; logs and drops it when the socket
//  cannot take it. Returns 0 or the wire error.
static int
s_send (worker_t *self, uint32_t type, const ProtobufCMessage *body,
        const wire_frame_t *frames, size_t n_frames)
{
    if (!self->sock)
        return MF_ERR_IO;
    int rc = wire_send (self->sock, NULL, 0, type, ++self->seq, body, frames, n_frames,
                        ZMQ_DONTWAIT);
    if (rc)
        log_warn ("cannot send %s to the broker: %s", wire_type_name (type),
                  rc == MF_ERR_IO ? zmq_strerror (zmq_errno ()) : mf_strerror (rc));
    return rc;
}

//  Keeps a copy of a result sent without data frames, so that it can be
//  sent again to a broker that restarted before committing it.
static void
s_cache_put (worker_t *self, const ProtobufCMessage *res)
{
    s_cached_t *c = &self->cache [self->cache_next];
    self->cache_next = (self->cache_next + 1) % S_CACHE;
    free (c->packed);
    c->size = protobuf_c_message_get_packed_size (res);
    c->packed = malloc (c->size ? c->size : 1);
    if (c->packed)
        protobuf_c_message_pack (res, c->packed);
    c->sent_ms = clock_mono_ms ();
}

//  Sends the recent results again (the broker ignores what it has).
static void
s_cache_resend (worker_t *self)
{
    int64_t now = clock_mono_ms ();
    for (int i = 0; i < S_CACHE; i++) {
        s_cached_t *c = &self->cache [i];
        if (!c->packed || now - c->sent_ms > S_CACHE_MS)
            continue;
        Masterfarm__Result *res = masterfarm__result__unpack (NULL, c->size, c->packed);
        if (res) {
            s_send (self, MASTERFARM__MSG_TYPE__RESULT, &res->base, NULL, 0);
            masterfarm__result__free_unpacked (res, NULL);
        }
    }
}

//  Sends READY with our slots and capabilities.
static void
s_send_ready (worker_t *self)
{
    static char *caps [] = { "analyze", "master", "assemble", "noop", "shared", "inline" };
    Masterfarm__Ready r = MASTERFARM__READY__INIT;
    r.worker_id = self->id;
    r.slots = (uint32_t) self->cfg.slots;
    r.capabilities = caps;
    r.n_capabilities = sizeof caps / sizeof caps [0];
    r.isa = (char *) "auto";
    r.version = (char *) MF_VERSION;
    s_send (self, MASTERFARM__MSG_TYPE__READY, &r.base, NULL, 0);
}

//  A new DEALER with routing id id, our reconnection interval, limits and
//  (when configured) CURVE keys; not connected. Returns NULL, logged, on
//  failure.
static void *
s_dealer_new (worker_t *self, const char *id)
{
    void *sock = zmq_socket (self->ctx, ZMQ_DEALER);
    if (!sock) {
        log_error ("worker %s: cannot create a socket: %s", self->id,
                   zmq_strerror (zmq_errno ()));
        return NULL;
    }
    int ivl = 100, ivl_max = 1000;
    zmq_setsockopt (sock, ZMQ_ROUTING_ID, id, strlen (id));
    zmq_setsockopt (sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt (sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    wire_socket_setup (sock, 0);
    if (self->curve
    && (zmq_setsockopt (sock, ZMQ_CURVE_SERVERKEY, self->broker_key, KEYS_Z85_LEN + 1)
    ||  zmq_setsockopt (sock, ZMQ_CURVE_PUBLICKEY, self->keys.public_z85, KEYS_Z85_LEN + 1)
    ||  zmq_setsockopt (sock, ZMQ_CURVE_SECRETKEY, self->keys.secret_z85,
                        KEYS_Z85_LEN + 1))) {
        log_error ("worker %s: cannot set the CURVE keys: %s", self->id,
                   zmq_strerror (zmq_errno ()));
        zmq_close (sock);
        return NULL;
    }
    return sock;
}

//  Opens new sockets to the broker (data and control) and registers.
//  Returns 0 or MF_ERR_IO. Without a control connection (it could not be
//  made) the worker still works, with heartbeats on the data connection.
static int
s_connect (worker_t *self)
{
    s_close (self);
    self->sock = s_dealer_new (self, self->id);
    if (!self->sock)
        return MF_ERR_IO;
    char ctl_id [sizeof self->id + sizeof WIRE_CONTROL_SUFFIX];
    snprintf (ctl_id, sizeof ctl_id, "%s%s", self->id, WIRE_CONTROL_SUFFIX);
    self->ctl = s_dealer_new (self, ctl_id);
    if (self->ctl && zmq_connect (self->ctl, self->url)) {
        zmq_close (self->ctl);
        self->ctl = NULL;
    }
    //  Handshake events tell a refused key or a mechanism mismatch apart
    //  from a broker that is just not there (best effort: no monitor, no
    //  diagnosis).
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://worker-monitor-%u", ++self->monitor_seq);
    self->handshake_ok = false;
    self->handshake_told = 0;
    if (zmq_socket_monitor (self->sock, endpoint, ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                            | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                            | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
        self->monitor = zmq_socket (self->ctx, ZMQ_PAIR);
        if (self->monitor && zmq_connect (self->monitor, endpoint)) {
            zmq_close (self->monitor);
            self->monitor = NULL;
        }
    }
    if (zmq_connect (self->sock, self->url)) {
        log_error ("worker %s: cannot connect to %s: %s", self->id, self->url,
                   zmq_strerror (zmq_errno ()));
        s_close (self);
        return MF_ERR_IO;
    }
    s_send_ready (self);
    return 0;
}

//  Reads one handshake event from the monitor and logs a failure with
//  what to do about it (once per socket).
static void
s_on_monitor (worker_t *self)
{
    uint8_t head [6];
    char endpoint [256];
    int n = zmq_recv (self->monitor, head, sizeof head, ZMQ_DONTWAIT);
    if (n < 0)
        return;
    int more = 0;
    size_t ms = sizeof more;
    while (zmq_getsockopt (self->monitor, ZMQ_RCVMORE, &more, &ms) == 0 && more)
        zmq_recv (self->monitor, endpoint, sizeof endpoint, 0);
    if (n != (int) sizeof head)
        return;
    uint16_t event;
    uint32_t value;
    memcpy (&event, head, 2);
    memcpy (&value, head + 2, 4);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        if (!self->handshake_ok)
            log_debug ("worker %s: %s handshake with %s done", self->id,
                       self->curve ? "CURVE" : "plaintext", self->url);
        self->handshake_ok = true;
        self->handshake_told = 0;
        return;
    }
    //  A specific diagnosis is logged once; a vague one only before it.
    bool specific = event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                 || (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                     && value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH);
    if (self->handshake_told >= (specific ? 2 : 1))
        return;
    self->handshake_told = specific ? 2 : 1;
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        log_error ("worker %s: the broker at %s refused this worker's key (public key "
                   "%.8s...): copy its NAME.pub into the broker's --allow folder and send "
                   "the broker SIGHUP; still trying", self->id, self->url,
                   self->keys.public_z85);
    else
    if (specific)
        log_error ("worker %s: the broker at %s %s; still trying", self->id, self->url,
                   self->curve ? "is plaintext but this worker uses CURVE (drop --curve-key "
                                 "and --broker-key, or give the broker its keys)"
                               : "requires CURVE: give --curve-key and --broker-key");
    else
        log_error ("worker %s: handshake with the broker at %s failed (%s 0x%x; %s); still "
                   "trying", self->id, self->url,
                   event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol error" : "event",
                   (unsigned) (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? value : event),
                   self->curve ? "is --broker-key the broker's public key?"
                               : "does the broker require CURVE (--curve-key, --broker-key)?");
}

//  Kills a child's process (it is reaped when its pipe closes).
static void
s_kill (s_child_t *c)
{
    if (c->used && c->pid > 0 && !c->killed) {
        kill (c->pid, SIGKILL);
        c->killed = true;
    }
}

//  Stops every running task: the broker has forgotten them.
static void
s_kill_all (worker_t *self)
{
    for (int i = 0; i < self->cfg.slots; i++)
        s_kill (&self->children [i]);
}

//  Reads len bytes from fd. Returns 0, 1 at end of file before the
//  first byte, or -1.
static int
s_read_all (int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read (fd, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 && got == 0 ? 1 : -1;
        got += (size_t) n;
    }
    return 0;
}

static double
s_tv_s (const struct timeval *tv)
{
    return (double) tv->tv_sec + 1e-6 * (double) tv->tv_usec;
}

static const char *
s_kind_name (Masterfarm__TaskKind kind)
{
    return kind == MASTERFARM__TASK_KIND__KIND_ANALYZE ? "analyze"
         : kind == MASTERFARM__TASK_KIND__KIND_MASTER ? "master"
         : kind == MASTERFARM__TASK_KIND__KIND_ASSEMBLE ? "assemble" : "other";
}

//  One task in the task process: its CPU limit, test hooks, the task, the
//  result down the pipe. Exits the process where the task cannot go on.
static void
s_runner_task (worker_t *self, int fd, const Masterfarm__Task *task,
               void *const *frames, const size_t *frame_sizes, size_t n_frames)
{
    //  RLIMIT_CPU counts the process's whole life: this task's share
    //  starts from what the earlier ones used
    if (self->cfg.cpu_limit_s > 0) {
        struct rusage ru;
        struct rlimit rl;
        if (getrusage (RUSAGE_SELF, &ru) == 0 && getrlimit (RLIMIT_CPU, &rl) == 0) {
            rlim_t used = (rlim_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1);
            rl.rlim_cur = used + (rlim_t) self->cfg.cpu_limit_s;
            if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
                rl.rlim_cur = rl.rlim_max;
            setrlimit (RLIMIT_CPU, &rl);
        }
    }
    //  Logs of the task carry its job, album, track and worker.
    char job [24], album [16], track [16];
    snprintf (job, sizeof job, "%llu", (unsigned long long) task->job_id);
    snprintf (album, sizeof album, "%u", task->album);
    snprintf (track, sizeof track, "%u", task->track);
    bool per_track = task->kind == MASTERFARM__TASK_KIND__KIND_ANALYZE
                  || task->kind == MASTERFARM__TASK_KIND__KIND_MASTER;
    log_ctx_t ctx = { job, album, per_track ? track : NULL, self->id };
    log_ctx_set (&ctx);
    const char *fault = getenv ("MASTERFARM_FAULT");
    const char *input = task->n_inputs > 0 && task->inputs [0]->path
                      ? task->inputs [0]->path : "";
    if (fault && strncmp (fault, "crash:", 6) == 0 && fault [6] && strstr (input, fault + 6)) {
        fprintf (stderr, "test hook: crashing on %s\n", input);
        abort ();
    }
    if (fault && strncmp (fault, "hang:", 5) == 0 && fault [5] && strstr (input, fault + 5)) {
        //  named, so that a test can tell it from the worker's idle ones
        prctl (PR_SET_NAME, "mf-task-hang");
        while (1)
            pause ();
    }

    task_output_t out;
    struct rusage r0, r1;
    getrusage (RUSAGE_SELF, &r0);
    if (task_run (task, frames, frame_sizes, n_frames, &out))
        _exit (3);
    //  a result held back a while (a test changes the input meanwhile)
    if (fault && strncmp (fault, "slow:", 5) == 0 && fault [5] && strstr (input, fault + 5))
        sleep (3);
    getrusage (RUSAGE_SELF, &r1);
    log_debug ("task %llu (%s) used %.3f s of CPU (%.3f s in the kernel)",
               (unsigned long long) task->task_id, s_kind_name (task->kind),
               s_tv_s (&r1.ru_utime) - s_tv_s (&r0.ru_utime)
               + s_tv_s (&r1.ru_stime) - s_tv_s (&r0.ru_stime),
               s_tv_s (&r1.ru_stime) - s_tv_s (&r0.ru_stime));
    log_ctx_set (NULL);
    uint64_t n = out.result_size;
    int rc = fsutil_write_full (fd, &n, sizeof n)
          || fsutil_write_full (fd, out.result, out.result_size);
    n = out.n_frames;
    rc = rc || fsutil_write_full (fd, &n, sizeof n);
    for (size_t i = 0; !rc && i < out.n_frames; i++) {
        n = out.frame_sizes [i];
        rc = fsutil_write_full (fd, &n, sizeof n) || fsutil_write_full (fd, out.frames [i], n);
    }
    if (rc)
        _exit (4);
    task_output_clear (&out);
}

//  The task process: limits, then tasks from cmd_fd one after another,
//  each result down fd, until the worker closes cmd_fd.
static void __attribute__ ((noreturn))
s_runner_main (worker_t *self, int cmd_fd, int fd, pid_t parent)
{
    //  A task process must not outlive its worker (kill -9 included).
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
        _exit (5);
    prctl (PR_SET_NAME, "mf-task");              //  what ps and top show
    signal (SIGTERM, SIG_DFL);
    signal (SIGINT, SIG_DFL);
    signal (SIGPIPE, SIG_DFL);
    //  RLIMIT_DATA bounds the process's private memory (heap and
    //  anonymous mappings), not its address space: the shared mapping of
    //  a spilled track (audio_io.h) is the file's, paged by the kernel,
    //  and does not count
#if !defined (__SANITIZE_ADDRESS__)
    if (self->cfg.mem_limit_mb > 0) {
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t) self->cfg.mem_limit_mb << 20;
        setrlimit (RLIMIT_DATA, &rl);
    }
#endif
    while (true) {
        uint64_t n;
        int rc = s_read_all (cmd_fd, &n, sizeof n);
        if (rc == 1)
            _exit (0);                           //  retired, or the worker stops
        uint8_t *packed = rc == 0 && n <= WIRE_MAX_CONTROL_BYTES ? malloc (n ? n : 1) : NULL;
        if (!packed || s_read_all (cmd_fd, packed, n))
            _exit (7);
        Masterfarm__Task *task = masterfarm__task__unpack (NULL, n, packed);
        free (packed);
        uint64_t n_frames;
        if (!task || s_read_all (cmd_fd, &n_frames, sizeof n_frames) || n_frames > WIRE_MAX_FRAMES)
            _exit (7);
        void **frames = calloc (n_frames ? n_frames : 1, sizeof *frames);
        size_t *sizes = calloc (n_frames ? n_frames : 1, sizeof *sizes);
        if (!frames || !sizes)
            _exit (7);
        for (uint64_t i = 0; i < n_frames; i++) {
            uint64_t size;
            if (s_read_all (cmd_fd, &size, sizeof size) || size > (uint64_t) WIRE_MAX_MSG_BYTES
            ||  !(frames [i] = malloc (size ? size : 1))
            ||  s_read_all (cmd_fd, frames [i], size))
                _exit (7);
            sizes [i] = size;
        }
        s_runner_task (self, fd, task, frames, sizes, n_frames);
        for (uint64_t i = 0; i < n_frames; i++)
            free (frames [i]);
        free (frames);
        free (sizes);
        masterfarm__task__free_unpacked (task, NULL);
    }
}

static void s_read_child_err (s_child_t *c);

//  Starts the slot's task process. Returns 0 or an errno.
static int
s_runner_start (worker_t *self, s_child_t *c)
{
    int res [2], err [2], cmd [2];
    if (pipe2 (res, O_CLOEXEC))
        return errno;
    if (pipe2 (err, O_CLOEXEC)) {
        int e = errno;
        close (res [0]);
        close (res [1]);
        return e;
    }
    if (pipe2 (cmd, O_CLOEXEC)) {
        int e = errno;
        close (res [0]);
        close (res [1]);
        close (err [0]);
        close (err [1]);
        return e;
    }
    fflush (NULL);
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            close (res [i]);
            close (err [i]);
            close (cmd [i]);
        }
        return e;
    }
    if (pid == 0) {
        //  stderr into the pipe: the worker keeps its tail for the Result
        //  and copies every byte to its own stderr (the worker's log)
        if (dup2 (err [1], STDERR_FILENO) < 0)
            _exit (6);
        //  Nothing else of the worker's stays open here: not its sockets
        //  (a copy would keep a connection the worker closed alive), nor
        //  the other slots' pipes (holding the write end of another's
        //  task pipe would keep it from its end of file).
        unsigned keep [2] = { (unsigned) cmd [0], (unsigned) res [1] };
        if (keep [0] > keep [1]) {
            unsigned t = keep [0];
            keep [0] = keep [1];
            keep [1] = t;
        }
        unsigned from = 3;
        for (int i = 0; i < 2; i++) {
            if (keep [i] > from && close_range (from, keep [i] - 1, 0))
                _exit (6);
            if (keep [i] + 1 > from)
                from = keep [i] + 1;
        }
        if (close_range (from, ~0U, 0))
            _exit (6);
        s_runner_main (self, cmd [0], res [1], parent);
    }
    close (res [1]);
    close (err [1]);
    close (cmd [0]);
    fcntl (res [0], F_SETFL, O_NONBLOCK);
    fcntl (err [0], F_SETFL, O_NONBLOCK);
    c->pid = pid;
    c->fd = res [0];
    c->err_fd = err [0];
    c->cmd_fd = cmd [1];
    c->n_tasks = 0;
    log_debug ("worker %s: task process %d started", self->id, (int) pid);
    return 0;
}

//  Writes a TASK to the slot's task process. Returns 0 or an errno.
static int
s_runner_send (s_child_t *c, const wire_msg_t *msg)
{
    size_t size = protobuf_c_message_get_packed_size (msg->body);
    uint8_t *packed = malloc (size ? size : 1);
    if (!packed)
        return ENOMEM;
    protobuf_c_message_pack (msg->body, packed);
    uint64_t n = size;
    int rc = fsutil_write_full (c->cmd_fd, &n, sizeof n)
          || fsutil_write_full (c->cmd_fd, packed, size);
    free (packed);
    n = msg->n_frames;
    rc = rc || fsutil_write_full (c->cmd_fd, &n, sizeof n);
    for (size_t i = 0; !rc && i < msg->n_frames; i++) {
        n = msg->frame_sizes [i];
        rc = fsutil_write_full (c->cmd_fd, &n, sizeof n)
          || fsutil_write_full (c->cmd_fd, msg->frames [i], msg->frame_sizes [i]);
    }
    return rc ? (errno ? errno : EPIPE) : 0;
}

//  Ends the slot's task process, which runs no task: its task pipe is
//  closed (it leaves at that end of file) or, if kill, it is killed; then
//  it is reaped and what it wrote to stderr is passed on.
static void
s_runner_drop (worker_t *self, s_child_t *c, bool kill_it)
{
    if (c->pid <= 0)
        return;
    if (c->cmd_fd >= 0)
        close (c->cmd_fd);
    c->cmd_fd = -1;
    if (kill_it)
        kill (c->pid, SIGKILL);
    int status = 0;
    while (waitpid (c->pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (c->err_fd >= 0) {
        s_read_child_err (c);
        if (c->err_fd >= 0)
            close (c->err_fd);
    }
    if (c->fd >= 0)
        close (c->fd);
    if (!kill_it && !(WIFEXITED (status) && WEXITSTATUS (status) == 0))
        log_warn ("worker %s: idle task process %d ended with status %d", self->id,
                  (int) c->pid, status);
    c->pid = 0;
    c->fd = c->err_fd = c->cmd_fd = -1;
    c->n_tasks = 0;
}

//  Sends a Result that says the task failed; errnum non-zero: the system
//  error behind it (a resource error makes it a resource failure).
static void
s_send_failure (worker_t *self, uint64_t task_id, uint32_t attempt, const char *error,
                int errnum, const char *stderr_tail)
{
    Masterfarm__Result res = MASTERFARM__RESULT__INIT;
    res.task_id = task_id;
    res.attempt = attempt;
    res.ok = false;
    res.error = (char *) error;
    res.stderr_tail = (char *) (stderr_tail ? stderr_tail : "");
    res.error_errno = errnum;
    if (mf_errno_is_resource (errnum))
        res.error_class = MASTERFARM__ERROR_CLASS__ERROR_RESOURCE;
    s_send (self, MASTERFARM__MSG_TYPE__RESULT, &res.base, NULL, 0);
    s_cache_put (self, &res.base);
}

//  Sends the heartbeat: free slots and the tasks held.
static void
s_send_heartbeat (worker_t *self)
{
    uint64_t ids [S_MAX_SLOTS + S_PENDING];
    uint32_t attempts [S_MAX_SLOTS + S_PENDING];
    size_t n = 0;
    for (int i = 0; i < self->cfg.slots; i++)
        if (self->children [i].used && !self->children [i].killed) {
            attempts [n] = self->children [i].attempt;
            ids [n++] = self->children [i].task_id;
        }
    for (size_t i = 0; i < self->n_pending; i++) {
        const Masterfarm__Task *t = (const Masterfarm__Task *) self->pending [i].body;
        attempts [n] = t->attempt;
        ids [n++] = t->task_id;
    }
    Masterfarm__Heartbeat hb = MASTERFARM__HEARTBEAT__INIT;
    hb.free_slots = (uint32_t) (self->cfg.slots - self->running);
    hb.running = ids;
    hb.n_running = n;
    hb.running_attempts = attempts;
    hb.n_running_attempts = n;
    //  On the control connection, which nothing bulky delays; on the data
    //  connection too, for a broker that has no control connections.
    if (self->ctl) {
        int rc = wire_send (self->ctl, NULL, 0, MASTERFARM__MSG_TYPE__HEARTBEAT, ++self->seq,
                            &hb.base, NULL, 0, ZMQ_DONTWAIT);
        if (rc)
            log_debug ("worker %s: cannot send HEARTBEAT on the control connection: %s",
                       self->id, rc == MF_ERR_IO ? zmq_strerror (zmq_errno ())
                                                 : mf_strerror (rc));
    }
    s_send (self, MASTERFARM__MSG_TYPE__HEARTBEAT, &hb.base, NULL, 0);
}

//  Starts a task: no-ops at once, everything else in a task process. A
//  task already running here (a broker that restarted before it recorded
//  the dispatch sends it again) is not started twice: the running process
//  takes the new attempt number. A task that finds every slot busy (the
//  same case) waits in a short queue; msg is then taken over (zeroed).
static void
s_start_task (worker_t *self, wire_msg_t *msg)
{
    const Masterfarm__Task *task = (const Masterfarm__Task *) msg->body;
    for (int i = 0; i < self->cfg.slots; i++) {
        s_child_t *c = &self->children [i];
        if (c->used && !c->killed && c->task_id == task->task_id) {
            log_info ("worker %s: task %llu already running; now attempt %u", self->id,
                      (unsigned long long) task->task_id, task->attempt);
            c->attempt = task->attempt;
            return;
        }
    }
    for (size_t i = 0; i < self->n_pending; i++) {
        Masterfarm__Task *p = (Masterfarm__Task *) self->pending [i].body;
        if (p->task_id == task->task_id) {
            p->attempt = task->attempt;
            return;
        }
    }
    if (task->kind == MASTERFARM__TASK_KIND__KIND_NOOP) {
        Masterfarm__Result res = MASTERFARM__RESULT__INIT;
        res.task_id = task->task_id;
        res.attempt = task->attempt;
        res.ok = true;
        s_send (self, MASTERFARM__MSG_TYPE__RESULT, &res.base, NULL, 0);
        return;
    }
    s_child_t *c = NULL;
    for (int i = 0; i < self->cfg.slots && !c; i++)
        if (!self->children [i].used)
            c = &self->children [i];
    if (!c && self->n_pending < S_PENDING) {
        log_info ("worker %s: task %llu waits for a free slot", self->id,
                  (unsigned long long) task->task_id);
        self->pending [self->n_pending++] = *msg;
        memset (msg, 0, sizeof *msg);
        return;
    }
    if (!c) {
        log_warn ("worker %s: task %llu arrived with no free slot", self->id,
                  (unsigned long long) task->task_id);
        s_send_failure (self, task->task_id, task->attempt, "worker has no free slot",
                        EAGAIN, NULL);
        return;
    }
    //  the task to the slot's process; one that died idle is replaced
    char err [160] = "";
    int e = 0;
    for (int tries = 0; tries < 2; tries++) {
        if (c->pid <= 0 && (e = s_runner_start (self, c))) {
            snprintf (err, sizeof err, "cannot start a task process: %s", strerror (e));
            break;
        }
        if ((e = s_runner_send (c, msg)) == 0)
            break;
        snprintf (err, sizeof err, "cannot give the task to its process: %s", strerror (e));
        s_runner_drop (self, c, true);
    }
    if (e) {
        s_send_failure (self, task->task_id, task->attempt, err, e, NULL);
        return;
    }
    c->used = true;
    c->n_tasks++;
    c->task_id = task->task_id;
    c->attempt = task->attempt;
    c->started_ms = clock_mono_ms ();
    c->killed = c->timed_out = false;
    c->len = 0;
    c->tail_len = 0;
    c->tail [0] = 0;
    self->running++;
    log_debug ("worker %s: task %llu attempt %u started in process %d", self->id,
               (unsigned long long) task->task_id, task->attempt, (int) c->pid);
    Masterfarm__Progress p = MASTERFARM__PROGRESS__INIT;
    p.task_id = task->task_id;
    p.attempt = task->attempt;
    p.fraction = 0;
    s_send (self, MASTERFARM__MSG_TYPE__PROGRESS, &p.base, NULL, 0);
}

//  Walks what a task process sent: u64 result size, the packed Result,
//  u64 number of data frames, then per frame u64 size and its bytes.
//  Returns 0 when it is whole, with the Result's offset and size and the
//  frame count, the frames too when frames is not NULL; MF_ERR_FORMAT
//  when it is not (yet).
static int
s_result_walk (const s_child_t *c, size_t *res_at, size_t *res_size,
               wire_frame_t *frames, uint64_t *n_frames)
{
    uint64_t n;
    size_t pos = 0;
    if (c->len < sizeof n)
        return MF_ERR_FORMAT;
    memcpy (&n, c->buf, sizeof n);
    pos = sizeof n;
    if (n > c->len - pos || c->len - pos - n < sizeof n)
        return MF_ERR_FORMAT;
    *res_at = pos;
    *res_size = (size_t) n;
    pos += n;
    memcpy (n_frames, c->buf + pos, sizeof *n_frames);
    pos += sizeof *n_frames;
    if (*n_frames > WIRE_MAX_FRAMES)
        return MF_ERR_FORMAT;
    for (uint64_t i = 0; i < *n_frames; i++) {
        if (c->len - pos < sizeof n)
            return MF_ERR_FORMAT;
        memcpy (&n, c->buf + pos, sizeof n);
        pos += sizeof n;
        if (n > c->len - pos)
            return MF_ERR_FORMAT;
        if (frames) {
            frames [i].data = c->buf + pos;
            frames [i].size = n;
        }
        pos += n;
    }
    return 0;
}

//  Forwards a whole result (s_result_walk) as RESULT. Returns 0,
//  MF_ERR_FORMAT when the bytes are not a result, or MF_ERR_NOMEM.
static int
s_forward_result (worker_t *self, s_child_t *c)
{
    size_t at, size;
    uint64_t n_frames;
    if (s_result_walk (c, &at, &size, NULL, &n_frames))
        return MF_ERR_FORMAT;
    wire_frame_t *frames = n_frames ? calloc (n_frames, sizeof *frames) : NULL;
    if (n_frames && !frames)
        return MF_ERR_NOMEM;
    s_result_walk (c, &at, &size, frames, &n_frames);
    Masterfarm__Result *res = masterfarm__result__unpack (NULL, size, c->buf + at);
    if (!res) {
        free (frames);
        return MF_ERR_FORMAT;
    }
    res->task_id = c->task_id;
    res->attempt = c->attempt;
    if (c->tail_len && (!res->stderr_tail || !*res->stderr_tail))
        res->stderr_tail = c->tail;         //  not freed by free_unpacked: restored below
    s_send (self, MASTERFARM__MSG_TYPE__RESULT, &res->base, frames, n_frames);
    if (n_frames == 0)
        s_cache_put (self, &res->base);
    if (!res->ok)
        log_info ("worker %s: task %llu failed: %s", self->id,
                  (unsigned long long) c->task_id, res->error ? res->error : "?");
    free (frames);
    if (res->stderr_tail == c->tail)
        res->stderr_tail = (char *) protobuf_c_empty_string;
    masterfarm__result__free_unpacked (res, NULL);
    return 0;
}

//  Reads what a task process wrote to stderr: copied to the worker's own
//  stderr, and its last WORKER_STDERR_TAIL bytes kept for the Result.
//  Closes the pipe at end of file.
static void
s_read_child_err (s_child_t *c)
{
    char buf [4096];
    while (c->err_fd >= 0) {
        ssize_t n = read (c->err_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close (c->err_fd);
            c->err_fd = -1;
            return;
        }
        ssize_t w = write (STDERR_FILENO, buf, (size_t) n);
        (void) w;
        size_t len = (size_t) n;
        const char *src = buf;
        if (len >= WORKER_STDERR_TAIL) {
            src += len - WORKER_STDERR_TAIL;
            len = WORKER_STDERR_TAIL;
            c->tail_len = 0;
        }
        else
        if (c->tail_len + len > WORKER_STDERR_TAIL) {
            size_t drop = c->tail_len + len - WORKER_STDERR_TAIL;
            memmove (c->tail, c->tail + drop, c->tail_len - drop);
            c->tail_len -= drop;
        }
        memcpy (c->tail + c->tail_len, src, len);
        c->tail_len += len;
        //  a NUL byte would end the protobuf string early
        for (size_t i = c->tail_len - len; i < c->tail_len; i++)
            if (c->tail [i] == 0)
                c->tail [i] = '?';
        c->tail [c->tail_len] = 0;
    }
}

//  The slot's task is over: the slot takes the next waiting task.
static void
s_task_end (worker_t *self, s_child_t *c)
{
    c->used = false;
    c->killed = c->timed_out = false;
    c->len = 0;
    c->tail_len = 0;
    c->tail [0] = 0;
    self->running--;
    //  A slot is free: the oldest waiting task takes it.
    if (self->n_pending > 0) {
        wire_msg_t next = self->pending [0];
        memmove (&self->pending [0], &self->pending [1],
                 (self->n_pending - 1) * sizeof self->pending [0]);
        self->n_pending--;
        s_start_task (self, &next);
        wire_msg_clear (&next);
    }
}

//  A task process closed its result pipe: it has ended. Reap it, and
//  report its task if it was running one.
static void
s_reap (worker_t *self, s_child_t *c)
{
    close (c->fd);
    c->fd = -1;
    if (c->cmd_fd >= 0)
        close (c->cmd_fd);
    c->cmd_fd = -1;
    int status = 0;
    while (waitpid (c->pid, &status, 0) < 0 && errno == EINTR)
        ;
    //  The process is gone: what it wrote to stderr is all in the pipe.
    s_read_child_err (c);
    if (c->err_fd >= 0) {
        close (c->err_fd);
        c->err_fd = -1;
    }
    pid_t pid = c->pid;
    c->pid = 0;
    c->n_tasks = 0;
    if (!c->used) {
        log_warn ("worker %s: idle task process %d ended (status %d)", self->id,
                  (int) pid, status);
        return;
    }
    char err [256];
    err [0] = 0;
    int errnum = 0;
    if (c->timed_out)
        snprintf (err, sizeof err, "task timed out after %lld s (task process killed)",
                  (long long) (self->cfg.task_timeout_ms / 1000));
    else
    if (c->killed)
        ;                                //  cancelled or forgotten: say nothing
    else
    if (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL) {
        //  Not a crash of the task: the kernel's out-of-memory killer, or
        //  someone on the host. Retried later, as a resource failure.
        snprintf (err, sizeof err, "task process killed by signal %d (%s; out of memory?)",
                  SIGKILL, strsignal (SIGKILL));
        errnum = ENOMEM;
    }
    else
    if (WIFSIGNALED (status))
        snprintf (err, sizeof err, "task process killed by signal %d (%s)",
                  WTERMSIG (status), strsignal (WTERMSIG (status)));
    else
    if (WIFEXITED (status) && WEXITSTATUS (status) != 0)
        snprintf (err, sizeof err, "task process exited with status %d",
                  WEXITSTATUS (status));
    else
        snprintf (err, sizeof err, "task process sent an incomplete result");
    if (err [0]) {
        log_warn ("worker %s: task %llu: %s", self->id, (unsigned long long) c->task_id, err);
        s_send_failure (self, c->task_id, c->attempt, err, errnum, c->tail);
    }
    s_task_end (self, c);
}

//  The task process sent its task's whole result: forward it, and keep
//  the process for the next task unless it has run its share.
static void
s_task_done (worker_t *self, s_child_t *c)
{
    s_read_child_err (c);                  //  written before the result
    if (s_forward_result (self, c)) {
        const char *err = "task process sent an incomplete result";
        log_warn ("worker %s: task %llu: %s", self->id, (unsigned long long) c->task_id, err);
        s_send_failure (self, c->task_id, c->attempt, err, 0, c->tail);
    }
    if (c->n_tasks >= S_RUNNER_TASKS)
        s_runner_drop (self, c, false);
    s_task_end (self, c);
}

//  Reads what a task process has written: a whole result ends its task;
//  end of file means the process has ended.
static void
s_read_child (worker_t *self, s_child_t *c)
{
    while (true) {
        if (array_reserve (&c->buf, &c->cap, c->len + 65536, 1, 131072)) {
            s_kill (c);
            c->len = 0;
            continue;
        }
        ssize_t n = read (c->fd, c->buf + c->len, c->cap - c->len);
        if (n > 0) {
            c->len += (size_t) n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            size_t at, size;
            uint64_t n_frames;
            if (c->used && !c->killed && !s_result_walk (c, &at, &size, NULL, &n_frames))
                s_task_done (self, c);
            return;
        }
        s_reap (self, c);
        return;
    }
}

//  Reads what came on the control connection: a HEARTBEAT says the broker
//  is alive. Anything else is dropped: a broker without control
//  connections answers our heartbeats there with DISCONNECT, which must
//  not make us register again (the data connection says what counts).
static void
s_read_control (worker_t *self)
{
    for (int k = 0; k < 64 && self->ctl; k++) {
        wire_msg_t msg;
        int wrc = wire_recv (self->ctl, false, &msg, ZMQ_DONTWAIT);
        if (wrc == WIRE_AGAIN || wrc == MF_ERR_IO)
            break;
        if (wrc == 0 && msg.type == MASTERFARM__MSG_TYPE__HEARTBEAT)
            self->last_heard_ms = clock_mono_ms ();
        else
            log_debug ("worker %s: %s on the control connection, dropped", self->id,
                       wrc ? "malformed message" : wire_type_name (msg.type));
        wire_msg_clear (&msg);
    }
}

//  Handles one message from the broker.
static void
s_on_message (worker_t *self, wire_msg_t *msg)
{
    self->last_heard_ms = clock_mono_ms ();
    self->backoff_ms = WORKER_BACKOFF_MIN_MS;
    switch (msg->type) {
        case MASTERFARM__MSG_TYPE__TASK:
            if (s_stop)
                break;
            s_start_task (self, msg);
            break;
        case MASTERFARM__MSG_TYPE__TASK_CANCEL: {
            Masterfarm__TaskCancel *tc = (Masterfarm__TaskCancel *) msg->body;
            for (int i = 0; i < self->cfg.slots; i++)
                if (self->children [i].used && self->children [i].task_id == tc->task_id)
                    s_kill (&self->children [i]);
            for (size_t i = 0; i < self->n_pending; i++)
                if (((Masterfarm__Task *) self->pending [i].body)->task_id == tc->task_id) {
                    wire_msg_clear (&self->pending [i]);
                    memmove (&self->pending [i], &self->pending [i + 1],
                             (self->n_pending - i - 1) * sizeof self->pending [0]);
                    self->n_pending--;
                    break;
                }
            break;
        }
        case MASTERFARM__MSG_TYPE__DISCONNECT:
            //  The broker does not know us (it restarted, or gave us up):
            //  register, say what we run (it may adopt those tasks), and
            //  send recent results again in case they were lost.
            log_info ("worker %s: broker asked to register again", self->id);
            s_send_ready (self);
            s_send_heartbeat (self);
            s_cache_resend (self);
            break;
        case MASTERFARM__MSG_TYPE__HEARTBEAT:
            break;
        default:
            log_warn ("worker %s: unexpected %s from the broker, dropped", self->id,
                      wire_type_name (msg->type));
    }
}

int
worker_run (worker_t *self)
{
    if (s_connect (self))
        return MF_ERR_IO;
    log_info ("worker %s: %d slots, broker %s", self->id, self->cfg.slots, self->url);
    //  FFT plans made once here are inherited by every task process
    int64_t warm = clock_mono_us ();
    task_warm_up ();
    log_debug ("worker %s: FFT plans ready in %.1f ms", self->id,
               (double) (clock_mono_us () - warm) / 1000.0);
    int64_t now = clock_mono_ms ();
    self->last_heard_ms = now;
    self->next_hb_ms = now + WORKER_HEARTBEAT_MS;
    self->backoff_ms = WORKER_BACKOFF_MIN_MS;
    self->next_try_ms = 0;
    zmq_pollitem_t items [3 + 2 * S_MAX_SLOTS];
    s_child_t *owners [3 + 2 * S_MAX_SLOTS];
    bool err_item [3 + 2 * S_MAX_SLOTS];     //  the item is a child's stderr pipe
    while (!s_stop) {
        now = clock_mono_ms ();
        int n = 0;
        items [n].socket = self->sock;
        items [n].fd = 0;
        items [n].events = ZMQ_POLLIN;
        owners [n++] = NULL;
        int monitor_item = -1;
        if (self->monitor) {
            items [n].socket = self->monitor;
            items [n].fd = 0;
            items [n].events = ZMQ_POLLIN;
            owners [n] = NULL;
            monitor_item = n++;
        }
        int ctl_item = -1;
        if (self->ctl) {
            items [n].socket = self->ctl;
            items [n].fd = 0;
            items [n].events = ZMQ_POLLIN;
            owners [n] = NULL;
            ctl_item = n++;
        }
        int first_child = n;
        int64_t timeout = self->next_hb_ms - now;
        for (int i = 0; i < self->cfg.slots; i++) {
            s_child_t *c = &self->children [i];
            if (c->pid <= 0)
                continue;
            items [n].socket = NULL;
            items [n].fd = c->fd;
            items [n].events = ZMQ_POLLIN;
            err_item [n] = false;
            owners [n++] = c;
            if (c->err_fd >= 0) {
                items [n].socket = NULL;
                items [n].fd = c->err_fd;
                items [n].events = ZMQ_POLLIN;
                err_item [n] = true;
                owners [n++] = c;
            }
            if (c->used && self->cfg.task_timeout_ms > 0 && !c->killed) {
                int64_t left = c->started_ms + self->cfg.task_timeout_ms - now;
                if (left < timeout)
                    timeout = left;
            }
        }
        if (timeout < 0)
            timeout = 0;
        int rc = zmq_poll (items, n, (long) timeout);
        if (rc < 0 && zmq_errno () != EINTR) {
            log_error ("worker %s: poll failed: %s", self->id, zmq_strerror (zmq_errno ()));
            break;
        }
        if (rc > 0 && (items [0].revents & ZMQ_POLLIN)) {
            for (int k = 0; k < 256; k++) {
                wire_msg_t msg;
                int wrc = wire_recv (self->sock, false, &msg, ZMQ_DONTWAIT);
                if (wrc == WIRE_AGAIN || wrc == MF_ERR_IO)
                    break;
                if (wrc)
                    log_warn ("worker %s: malformed message from the broker (%zu bytes), "
                              "dropped", self->id, msg.bytes);
                else
                    s_on_message (self, &msg);
                wire_msg_clear (&msg);
            }
        }
        if (rc > 0 && ctl_item >= 0 && (items [ctl_item].revents & ZMQ_POLLIN))
            s_read_control (self);
        if (rc > 0 && monitor_item >= 0 && (items [monitor_item].revents & ZMQ_POLLIN))
            for (int k = 0; k < 16 && self->monitor; k++) {
                zmq_pollitem_t m = { self->monitor, 0, ZMQ_POLLIN, 0 };
                if (zmq_poll (&m, 1, 0) <= 0)
                    break;
                s_on_monitor (self);
            }
        //  stderr first: a reaped child's slot may be reused by a new task
        for (int i = first_child; rc > 0 && i < n; i++)
            if (err_item [i] && (items [i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
                s_read_child_err (owners [i]);
        for (int i = first_child; rc > 0 && i < n; i++)
            if (!err_item [i] && (items [i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
                s_read_child (self, owners [i]);

        now = clock_mono_ms ();
        for (int i = 0; i < self->cfg.slots; i++) {
            s_child_t *c = &self->children [i];
            if (c->used && !c->killed && self->cfg.task_timeout_ms > 0
            &&  now - c->started_ms >= self->cfg.task_timeout_ms) {
                c->timed_out = true;
                s_kill (c);
            }
        }
        if (now >= self->next_hb_ms) {
            s_send_heartbeat (self);
            self->next_hb_ms = now + WORKER_HEARTBEAT_MS;
        }
        if (now - self->last_heard_ms > WORKER_LIVENESS * WORKER_HEARTBEAT_MS
        &&  now >= self->next_try_ms) {
            log_warn ("worker %s: broker %s silent for %lld ms, reconnecting (next try "
                      "in %lld s)%s", self->id, self->url, (long long) (now - self->last_heard_ms),
                      (long long) (self->backoff_ms / 1000),
                      self->curve && !self->handshake_ok
                      ? "; no CURVE handshake yet: is --broker-key the broker's public key, "
                        "and this worker's key in its allow folder?" : "");
            if (s_connect (self))
                return MF_ERR_IO;
            s_send_heartbeat (self);
            s_cache_resend (self);
            self->next_try_ms = now + self->backoff_ms;
            self->backoff_ms *= 2;
            if (self->backoff_ms > WORKER_BACKOFF_MAX_MS)
                self->backoff_ms = WORKER_BACKOFF_MAX_MS;
        }
    }
    //  Stop: hand running tasks back and leave.
    log_info ("worker %s: stopping; %d running task(s) handed back", self->id, self->running);
    Masterfarm__Disconnect d = MASTERFARM__DISCONNECT__INIT;
    d.reason = (char *) "worker stopping";
    s_send (self, MASTERFARM__MSG_TYPE__DISCONNECT, &d.base, NULL, 0);
    s_kill_all (self);
    for (int i = 0; i < self->cfg.slots; i++) {
        s_child_t *c = &self->children [i];
        s_runner_drop (self, c, true);
        c->used = false;
    }
    self->running = 0;
    //  Give the DISCONNECT a moment to leave (linger is 0 on our sockets).
    int linger = 500;
    zmq_setsockopt (self->sock, ZMQ_LINGER, &linger, sizeof linger);
    s_close (self);
    return 0;
}
