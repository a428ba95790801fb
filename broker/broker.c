/*  The broker (see broker.h): its public API and the event loop, which
    hands each message to its module by type (broker/core.h lists them).

    Every loop iteration: drain up to S_BATCH messages, apply them in one
    SQLite transaction, run the periodic checks (heartbeats, expiry,
    deliveries), dispatch queued tasks to free slots, commit, then send
    watch events for the jobs that changed.  */
#include "broker/broker.h"

#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <zmq.h>

#include "broker/publish.h"
#include "broker/jobs.h"
#include "broker/dispatch.h"
#include "broker/status.h"
#include "broker/requests.h"
#include "broker/workers.h"

#define S_BATCH          4096     //  messages handled per loop iteration
#define S_TICK_MS        250      //  expiry and delivery checks

static volatile sig_atomic_t s_stop = 0;

//  SIGCHLD (and a stop request) wakes the loop through this pipe, so a
//  report process that ends is reaped (and its album delivered) at once,
//  not at the next tick.
static int s_chld_pipe [2] = { -1, -1 };

//  SIGCHLD handler: one byte into the wake-up pipe (async-signal-safe).
static void
s_on_sigchld (int sig)
{
    (void) sig;
    int saved = errno;
    if (s_chld_pipe [1] >= 0) {
        ssize_t w = write (s_chld_pipe [1], "c", 1);
        (void) w;
    }
    errno = saved;
}

void
broker_request_stop (void)
{
    s_stop = 1;
    //  The signal may land on a messaging thread: wake the loop's poll.
    if (s_chld_pipe [1] >= 0) {
        int saved = errno;
        ssize_t w = write (s_chld_pipe [1], "s", 1);
        (void) w;
        errno = saved;
    }
}

//  A HEARTBEAT from a routing id no worker has: when the id is a worker's
//  id followed by WIRE_CONTROL_SUFFIX, it came on that worker's control
//  connection, which only heartbeats use so that they never wait behind
//  inline audio. It refreshes the worker's liveness (and says which tasks
//  it runs, as on the data connection); a control heartbeat of a worker we
//  do not know is dropped without an answer, since the worker learns that
//  on its data connection. Returns true when the message was such a
//  heartbeat (handled), false when it is not a control id.
static bool
s_on_control (broker_t *self, const wire_msg_t *msg)
{
    size_t suffix = strlen (WIRE_CONTROL_SUFFIX);
    if (msg->id_size <= suffix
    ||  memcmp (msg->id + msg->id_size - suffix, WIRE_CONTROL_SUFFIX, suffix) != 0)
        return false;
    worker_info_t *w = core_worker_find (self, msg->id, msg->id_size - suffix);
    if (!w)
        return true;
    w->last_seen_ms = clock_mono_ms ();
    if (!w->ctl)
        log_debug ("worker %s: heartbeats on its control connection", w->name);
    w->ctl = true;
    const Masterfarm__Heartbeat *hb = (const Masterfarm__Heartbeat *) msg->body;
    for (size_t i = 0; i < hb->n_running && i < hb->n_running_attempts; i++)
        workers_adopt (self, w, core_task_find (self, hb->running [i]),
                       hb->running_attempts [i]);
    return true;
}

//  One message from a peer.
static void
s_on_message (broker_t *self, const wire_msg_t *msg)
{
    uint32_t type = msg->type;
    //  Client requests.
    switch (type) {
        case MASTERFARM__MSG_TYPE__SUBMIT:  requests_on_submit (self, msg); return;
        case MASTERFARM__MSG_TYPE__STATUS:  requests_on_status (self, msg); return;
        case MASTERFARM__MSG_TYPE__WATCH:   requests_on_watch (self, msg); return;
        case MASTERFARM__MSG_TYPE__CANCEL:  requests_on_job_request (self, msg, true); return;
        case MASTERFARM__MSG_TYPE__RETRY:   requests_on_job_request (self, msg, false); return;
        case MASTERFARM__MSG_TYPE__PRIORITY:
        case MASTERFARM__MSG_TYPE__PAUSE:
        case MASTERFARM__MSG_TYPE__RESUME:  requests_on_control_request (self, msg); return;
        case MASTERFARM__MSG_TYPE__LOGS:    requests_on_logs (self, msg); return;
        case MASTERFARM__MSG_TYPE__READY:   workers_on_ready (self, msg); return;
        default: break;
    }
    //  Worker messages need a registered worker.
    worker_info_t *w = core_worker_find (self, msg->id, msg->id_size);
    if (!w && type == MASTERFARM__MSG_TYPE__HEARTBEAT && s_on_control (self, msg))
        return;
    if (type == MASTERFARM__MSG_TYPE__HEARTBEAT || type == MASTERFARM__MSG_TYPE__PROGRESS
    ||  type == MASTERFARM__MSG_TYPE__RESULT || type == MASTERFARM__MSG_TYPE__DISCONNECT) {
        if (!w) {
            if (type == MASTERFARM__MSG_TYPE__RESULT)
                workers_count_stray_result (self, (const Masterfarm__Result *) msg->body);
            if (type != MASTERFARM__MSG_TYPE__DISCONNECT) {
                //  We do not know it (we restarted, or it expired): it must register.
                Masterfarm__Disconnect d = MASTERFARM__DISCONNECT__INIT;
                d.reason = (char *) "unknown worker: send READY";
                core_send (self, msg->id, msg->id_size, MASTERFARM__MSG_TYPE__DISCONNECT,
                           &d.base, NULL, 0);
            }
            return;
        }
        w->last_seen_ms = w->last_data_ms = clock_mono_ms ();
        if (type == MASTERFARM__MSG_TYPE__RESULT)
            workers_on_result (self, w, msg);
        else
        if (type == MASTERFARM__MSG_TYPE__HEARTBEAT) {
            const Masterfarm__Heartbeat *hb = (const Masterfarm__Heartbeat *) msg->body;
            for (size_t i = 0; i < hb->n_running && i < hb->n_running_attempts; i++)
                workers_adopt (self, w, core_task_find (self, hb->running [i]),
                               hb->running_attempts [i]);
        }
        else
        if (type == MASTERFARM__MSG_TYPE__PROGRESS) {
            const Masterfarm__Progress *p = (const Masterfarm__Progress *) msg->body;
            task_t *t = core_task_find (self, p->task_id);
            if (t && t->state == T_DISPATCHED && t->worker == (int) (w - self->workers)
            &&  t->attempts == (int) p->attempt) {
                t->state = T_RUNNING;
                store_task_update (self->store, t->sched.id, T_RUNNING, t->attempts, NULL);
                t->job->dirty = true;
            }
        }
        else
        if (type == MASTERFARM__MSG_TYPE__DISCONNECT) {
            log_info ("worker %s left", w->name);
            workers_lost (self, w, "worker left", false);
        }
        return;
    }
    //  Anything else is not for the broker.
    self->counters.malformed_dropped++;
    char name [128];
    core_id_name (msg->id, msg->id_size, name, sizeof name);
    log_warn ("unexpected %s from %s, dropped", wire_type_name (type), name);
}

//  Heartbeats out, dead workers expired, waiting deliveries retried.
static void
s_tick (broker_t *self, bool heartbeat)
{
    int64_t now = clock_mono_ms ();
    publish_reap_reports (self);
    //  Tasks whose backoff after a resource failure is over.
    scheduler_wake (self->sched, now);
    for (size_t i = 0; i < self->n_workers; i++) {
        worker_info_t *w = &self->workers [i];
        if (!w->live)
            continue;
        if (now - w->last_seen_ms > BROKER_LIVENESS * BROKER_HEARTBEAT_MS) {
            char reason [256];
            snprintf (reason, sizeof reason, "worker %s silent for %lld ms", w->name,
                      (long long) (now - w->last_seen_ms));
            log_warn ("%s: expired, %zu task(s) go back to the queue", reason, w->n_held);
            self->counters.workers_expired++;
            workers_lost (self, w, reason, true);
            continue;
        }
        //  Alive on its control connection only: its data connection is
        //  dead (half-open after a network fault), so the tasks sent there
        //  never arrive. The worker, no longer answered, reconnects both.
        //  The bound leaves room for a large inline transfer on a slow link.
        if (w->ctl && now - w->last_data_ms > BROKER_DATA_SILENCE_MS) {
            char reason [256];
            snprintf (reason, sizeof reason, "worker %s: data connection silent for %lld ms "
                      "(heard only on its control connection)", w->name,
                      (long long) (now - w->last_data_ms));
            log_warn ("%s: expired, %zu task(s) go back to the queue", reason, w->n_held);
            self->counters.workers_expired++;
            workers_lost (self, w, reason, true);
            continue;
        }
        if (heartbeat) {
            Masterfarm__Heartbeat hb = MASTERFARM__HEARTBEAT__INIT;
            hb.free_slots = w->slots - (uint32_t) w->n_held;
            core_send (self, w->id, w->id_size, MASTERFARM__MSG_TYPE__HEARTBEAT, &hb.base, NULL, 0);
            //  And on its control connection, where no inline audio delays it.
            if (w->ctl) {
                uint8_t ctl [WIRE_MAX_ID_BYTES + 1];
                size_t suffix = strlen (WIRE_CONTROL_SUFFIX);
                if (w->id_size + suffix <= WIRE_MAX_ID_BYTES) {
                    memcpy (ctl, w->id, w->id_size);
                    memcpy (ctl + w->id_size, WIRE_CONTROL_SUFFIX, suffix);
                    core_send (self, ctl, w->id_size + suffix, MASTERFARM__MSG_TYPE__HEARTBEAT,
                               &hb.base, NULL, 0);
                }
            }
        }
    }
    for (size_t i = 0; i < self->n_jobs; i++)
        if (self->jobs [i]->state == J_WAITING)
            publish_job_check (self, self->jobs [i]);
    //  Tasks no worker claimed within a liveness period go back to the queue.
    if (self->n_parked && now >= self->parked_until_ms) {
        size_t back = 0;
        for (size_t i = 0; i < self->n_parked; i++) {
            task_t *t = self->parked [i];
            if (t->parked && t->state == T_QUEUED && t->worker < 0
            &&  !core_job_state_final (t->job->state)) {
                t->parked = 0;
                self->counters.tasks_redispatched++;
                scheduler_push (self->sched, &t->sched);
                back++;
            }
        }
        if (back)
            log_info ("%zu task(s) running at the restart were not claimed by a worker; "
                      "queued again", back);
        free (self->parked);
        self->parked = NULL;
        self->n_parked = 0;
    }
}

//  Makes the socket a CURVE server with the ZAP allow-list when the
//  configuration gives a key (before it binds: the handler must exist
//  before the first handshake, or libzmq lets everyone in). Returns 0, or
//  -1 with one line in err (a key or allow folder problem: fail closed).
static int
s_curve_setup (broker_t *self, const broker_cfg_t *cfg, char *err, size_t err_size)
{
    if (!cfg->curve_key_path) {
        if (cfg->allow_dir) {
            snprintf (err, err_size, "an allow folder (%s) needs the broker's key pair "
                      "(--curve-key FILE)", cfg->allow_dir);
            return -1;
        }
        return 0;
    }
    if (!cfg->allow_dir) {
        snprintf (err, err_size, "CURVE needs an allow folder of client and worker keys "
                  "(--allow DIR with NAME.pub files)");
        return -1;
    }
    if (!zmq_has ("curve")) {
        snprintf (err, err_size, "this libzmq was built without CURVE");
        return -1;
    }
    keys_pair_t pair;
    if (keys_load_pair (cfg->curve_key_path, &pair, err, err_size))
        return -1;
    self->zap = zap_new (self->ctx, cfg->allow_dir, err, err_size);
    int one = 1;
    int rc = !self->zap
          || zmq_setsockopt (self->sock, ZMQ_ZAP_DOMAIN, "masterfarm", 10)
          || zmq_setsockopt (self->sock, ZMQ_CURVE_SERVER, &one, sizeof one)
          || zmq_setsockopt (self->sock, ZMQ_CURVE_SECRETKEY, pair.secret_z85,
                             KEYS_Z85_LEN + 1);
    if (rc && self->zap)
        snprintf (err, err_size, "cannot make the socket a CURVE server: %s",
                  zmq_strerror (zmq_errno ()));
    else
    if (!rc)
        log_info ("CURVE server, public key %s", pair.public_z85);
    explicit_bzero (&pair, sizeof pair);
    return rc ? -1 : 0;
}

broker_t *
broker_new (const broker_cfg_t *cfg, char *err, size_t err_size)
{
    broker_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->state_lock = -1;
    s_stop = 0;                          //  a new broker starts afresh
    self->bind_url = strdup (cfg->bind_url ? cfg->bind_url : "");
    self->state_path = strdup (cfg->state_path ? cfg->state_path : "");
    self->cfg.bind_url = self->bind_url;
    self->cfg.state_path = self->state_path;
    self->cfg.input_root = NULL;         //  resolved copies below
    self->cfg.output_root = NULL;
    masterfarm__counters__init (&self->counters);
    for (int i = 0; i < CORE_HASH; i++)
        self->hash [i] = -1;
    char path [4096];
    if (!cfg->input_root || !realpath (cfg->input_root, path)) {
        snprintf (err, err_size, "input root %s: %s", cfg->input_root ? cfg->input_root : "(none)",
                  strerror (errno));
        broker_destroy (&self);
        return NULL;
    }
    self->input_root = strdup (path);
    if (!cfg->output_root || fsutil_mkdir_p (cfg->output_root, 0755)
    ||  !realpath (cfg->output_root, path)) {
        snprintf (err, err_size, "output root %s: cannot create or open it: %s",
                  cfg->output_root ? cfg->output_root : "(none)", strerror (errno));
        broker_destroy (&self);
        return NULL;
    }
    self->output_root = strdup (path);
    self->sched = scheduler_new ();
    //  One broker per state file: two would both run its jobs.
    self->state_lock = store_lock (cfg->state_path, cfg->bind_url, err, err_size);
    if (self->state_lock < 0) {
        broker_destroy (&self);
        return NULL;
    }
    self->store = store_open (cfg->state_path, err, err_size);
    if (!self->store || !self->sched || !self->input_root || !self->output_root) {
        if (self->store || !err [0])
            snprintf (err, err_size, "out of memory");
        broker_destroy (&self);
        return NULL;
    }
    if (jobs_load (self)) {
        snprintf (err, err_size, "%s: cannot load the saved state (see the log above)",
                  cfg->state_path);
        broker_destroy (&self);
        return NULL;
    }
    //  what a broker killed while writing a cache entry left
    size_t stale = cache_clear_temps (self->output_root);
    if (stale)
        log_info ("reuse cache: %zu temporary file(s) of an earlier run removed", stale);
    self->ctx = zmq_ctx_new ();
    self->sock = self->ctx ? zmq_socket (self->ctx, ZMQ_ROUTER) : NULL;
    if (!self->sock) {
        snprintf (err, err_size, "cannot create a ZeroMQ socket: %s", zmq_strerror (zmq_errno ()));
        broker_destroy (&self);
        return NULL;
    }
    int one = 1, hwm = 100000;
    wire_socket_setup (self->sock, hwm);
    zmq_setsockopt (self->sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    if (s_curve_setup (self, cfg, err, err_size)) {
        broker_destroy (&self);
        return NULL;
    }
    if (zmq_bind (self->sock, cfg->bind_url)) {
        snprintf (err, err_size, "cannot bind %s: %s (is another broker using it?)",
                  cfg->bind_url, zmq_strerror (zmq_errno ()));
        broker_destroy (&self);
        return NULL;
    }
    self->metrics = metrics_new ();
    if (!self->metrics) {
        snprintf (err, err_size, "out of memory");
        broker_destroy (&self);
        return NULL;
    }
    if (cfg->metrics_port > 0) {
        char host [256];
        if (cfg->metrics_bind)
            snprintf (host, sizeof host, "%s", cfg->metrics_bind);
        else
            http_endpoint_host (cfg->bind_url, host, sizeof host);
        self->http = http_new (host, cfg->metrics_port, status_http_handle, self, err, err_size);
        if (!self->http) {
            broker_destroy (&self);
            return NULL;
        }
        log_info ("HTTP port on %s port %d: dashboard /, metrics /metrics", host,
                  cfg->metrics_port);
        char url [300];
        snprintf (url, sizeof url, "tcp://%s:%d", host, cfg->metrics_port);
        if (!keys_endpoint_is_local (url))
            log_warn ("the HTTP port on %s port %d is plain HTTP without authentication: "
                      "anyone who reaches it reads job and album names", host,
                      cfg->metrics_port);
    }
    return self;
}

void
broker_destroy (broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    if (self->sock)
        zmq_close (self->sock);
    http_destroy (&self->http);
    metrics_destroy (&self->metrics);
    if (self->zap && self->ctx)
        zmq_ctx_shutdown (self->ctx);    //  the ZAP thread leaves on ETERM
    zap_destroy (&self->zap);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    if (self->store)
        store_commit (self->store);
    store_destroy (&self->store);
    store_unlock (&self->state_lock);
    scheduler_destroy (&self->sched);
    for (size_t i = 0; i < self->n_jobs; i++)
        jobs_job_free (self->jobs [i]);
    free (self->jobs);
    free (self->by_id);
    free (self->parked);
    for (size_t i = 0; i < self->n_workers; i++)
        free (self->workers [i].held);
    free (self->workers);
    free (self->input_root);
    free (self->output_root);
    free (self->bind_url);
    free (self->state_path);
    free (self);
    *self_p = NULL;
}

int
broker_run (broker_t *self)
{
    log_info ("broker on %s (%s), state %s, input %s, output %s, storage %s",
              self->cfg.bind_url, self->zap ? "CURVE" : "plaintext",
              self->cfg.state_path, self->input_root, self->output_root,
              self->cfg.storage == BROKER_STORAGE_INLINE ? "inline" : "shared");
    int64_t now = clock_mono_ms ();
    self->next_hb_ms = now + BROKER_HEARTBEAT_MS;
    self->next_tick_ms = now + S_TICK_MS;
    int rc = 0;
    struct sigaction sa_chld, sa_old;
    bool chld = false;
    if (s_chld_pipe [0] >= 0 || pipe2 (s_chld_pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
        memset (&sa_chld, 0, sizeof sa_chld);
        sa_chld.sa_handler = s_on_sigchld;
        sa_chld.sa_flags = SA_RESTART | SA_NOCLDSTOP;
        sigemptyset (&sa_chld.sa_mask);
        chld = sigaction (SIGCHLD, &sa_chld, &sa_old) == 0;
    }
    while (!s_stop) {
        now = clock_mono_ms ();
        int64_t timeout = self->next_tick_ms - now;
        if (timeout < 0)
            timeout = 0;
        if (self->http) {
            long ht = http_timeout_ms (self->http);
            if (ht >= 0 && ht < timeout)
                timeout = ht;
        }
        zmq_pollitem_t items [3] = { { self->sock, 0, ZMQ_POLLIN, 0 },
                                     { NULL, chld ? s_chld_pipe [0] : -1, ZMQ_POLLIN, 0 },
                                     { NULL, self->http ? http_fd (self->http) : -1,
                                       ZMQ_POLLIN, 0 } };
        int n_items = self->http ? 3 : (chld ? 2 : 1);
        if (!chld)
            items [1].fd = -1;
        int prc = zmq_poll (items, n_items, (long) timeout);
        if (prc < 0 && zmq_errno () != EINTR) {
            log_error ("poll failed: %s", zmq_strerror (zmq_errno ()));
            rc = MF_ERR_IO;
            break;
        }
        bool reap = false;
        if (prc > 0 && chld && (items [1].revents & ZMQ_POLLIN)) {
            char drain [64];
            while (read (s_chld_pipe [0], drain, sizeof drain) > 0)
                ;
            reap = true;
        }
        //  Between message batches, never inside one: the pages read the
        //  state as the last iteration left it.
        if (self->http && ((prc > 0 && (items [2].revents & ZMQ_POLLIN))
                       ||  http_timeout_ms (self->http) == 0))
            http_run (self->http);
        if (prc > 0 && !(items [0].revents & ZMQ_POLLIN))
            prc = 0;
        if (store_begin (self->store)) {
            rc = MF_ERR_IO;
            break;
        }
        int64_t busy_from = clock_mono_ms ();
        for (int k = 0; prc > 0 && k < S_BATCH; k++) {
            wire_msg_t msg;
            int wrc = wire_recv (self->sock, true, &msg, ZMQ_DONTWAIT);
            if (wrc == WIRE_AGAIN || wrc == MF_ERR_IO)
                break;
            if (wrc == WIRE_MALFORMED || wrc == WIRE_OVERSIZED) {
                char name [128];
                core_id_name (msg.id, msg.id_size, name, sizeof name);
                if (wrc == WIRE_OVERSIZED)
                    self->counters.oversized_dropped++;
                else
                    self->counters.malformed_dropped++;
                log_warn ("%s message from %s (%zu bytes) dropped",
                          wrc == WIRE_OVERSIZED ? "oversized" : "malformed", name, msg.bytes);
            }
            else
            if (wrc == 0) {
                store_begin (self->store);
                s_on_message (self, &msg);
            }
            wire_msg_clear (&msg);
        }
        now = clock_mono_ms ();
        //  A long stall here (an album's manifest hashed gigabytes) is ours,
        //  not the workers': their heartbeats wait unread in the socket.
        if (now - busy_from > BROKER_HEARTBEAT_MS)
            for (size_t i = 0; i < self->n_workers; i++)
                if (self->workers [i].live) {
                    self->workers [i].last_seen_ms += now - busy_from;
                    self->workers [i].last_data_ms += now - busy_from;
                }
        bool periodic = now >= self->next_tick_ms;
        bool hb = now >= self->next_hb_ms;
        if (reap && !periodic && self->n_reporting > 0) {
            store_begin (self->store);
            publish_reap_reports (self);
        }
        if (periodic) {
            store_begin (self->store);
            s_tick (self, hb);
            self->next_tick_ms = now + S_TICK_MS;
            if (hb)
                self->next_hb_ms = now + BROKER_HEARTBEAT_MS;
        }
        store_begin (self->store);
        dispatch_run (self);
        //  A failed commit (disk full) is kept and retried by the store;
        //  the broker runs on, and refuses what must be on disk first.
        store_commit_async (self->store);
        status_watch_notify (self, hb);
        publish_jobs_clean (self);
    }
    publish_jobs_clean (self);
    if (chld)
        sigaction (SIGCHLD, &sa_old, NULL);
    log_info ("broker stopping");
    return rc;
}
