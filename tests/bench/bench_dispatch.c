/*  bench_dispatch: how fast the broker hands out tasks, and how much
    memory a queued task costs it. Prints figures; not a pass/fail test.

    1. Memory: a fresh broker with no workers is given a no-op job of
       --queued tasks (default 1,000,000); its resident set (VmRSS in
       /proc/PID/status) before the submit and after the reply gives the
       bytes per queued task (goal: under 1 KiB).
    2. Dispatch: a fresh broker, --workers simulated workers (default 256
       DEALER sockets in this one process, one slot each, heartbeating
       every second) and a no-op job of --tasks tasks (default 200,000).
       Each simulated worker answers a TASK with its RESULT at once, so the
       rate measured is the broker's: tasks completed per second from the
       first TASK to the job's final WatchEvent (goal: >= 20,000 tasks/s).
    The broker binary is found next to the masterfarm build (../masterfarm-broker
    from this program, or $MF_BIN/masterfarm-broker, or --broker PATH).  */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/wire.h"

extern char **environ;

#define S_MAX_WORKERS  1024

typedef struct {
    const char *broker_bin;
    int         workers;
    long        tasks;
    long        queued;
    char        dir [PATH_MAX];
} s_cfg_t;

typedef struct {
    pid_t pid;
    char  url [64];
} s_broker_t;

//  A free TCP port on 127.0.0.1 for the broker, found by binding a
//  ZeroMQ socket to an ephemeral port. Returns the port or -1.
static int
s_free_port (void *ctx)
{
    void *s = zmq_socket (ctx, ZMQ_ROUTER);
    int port = -1;
    if (s && zmq_bind (s, "tcp://127.0.0.1:*") == 0) {
        char ep [128];
        size_t len = sizeof ep;
        if (zmq_getsockopt (s, ZMQ_LAST_ENDPOINT, ep, &len) == 0) {
            char *colon = strrchr (ep, ':');
            port = colon ? atoi (colon + 1) : -1;
        }
    }
    if (s)
        zmq_close (s);
    return port;
}

//  VmRSS of pid in KiB, or -1.
static long
s_rss_kib (pid_t pid)
{
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen (path, "r");
    long kib = -1;
    while (f && fgets (line, sizeof line, f))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kib = strtol (line + 6, NULL, 10);
    if (f)
        fclose (f);
    return kib;
}

//  CPU seconds (user + system) used by pid so far, from /proc/PID/stat.
static double
s_cpu_s (pid_t pid)
{
    char path [64], buf [1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf [n] = 0;
    char *p = strrchr (buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double) (ut + st) / (double) sysconf (_SC_CLK_TCK);
}

//  Sends one request on a DEALER and waits for a reply of type want (or
//  ERROR) until timeout_ms. Returns 0 with msg filled, or an error.
static int
s_request (void *sock, uint32_t type, const ProtobufCMessage *body, uint32_t want,
           int timeout_ms, wire_msg_t *msg)
{
    static uint64_t seq = 0;
    int rc = wire_send (sock, NULL, 0, type, ++seq, body, NULL, 0, 0);
    if (rc)
        return rc;
    int64_t deadline = clock_mono_ms () + timeout_ms;
    while (clock_mono_ms () < deadline) {
        zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&it, 1, (long) (deadline - clock_mono_ms ())) <= 0)
            continue;
        rc = wire_recv (sock, false, msg, 0);
        if (rc == 0 && (msg->type == want || msg->type == MASTERFARM__MSG_TYPE__ERROR))
            return 0;
        wire_msg_clear (msg);
    }
    return MF_ERR_TIMEOUT;
}

//  Starts a broker with a fresh state file in cfg->dir and waits until it
//  answers STATUS. Returns 0 or -1 (message printed).
static int
s_broker_start (const s_cfg_t *cfg, void *ctx, const char *name, s_broker_t *b)
{
    int port = s_free_port (ctx);
    snprintf (b->url, sizeof b->url, "tcp://127.0.0.1:%d", port);
    char state [PATH_MAX + 64], in [PATH_MAX + 64], out [PATH_MAX + 64], log [PATH_MAX + 64];
    snprintf (state, sizeof state, "%s/%s.db", cfg->dir, name);
    snprintf (in, sizeof in, "%s", cfg->dir);
    snprintf (out, sizeof out, "%s/%s-out", cfg->dir, name);
    snprintf (log, sizeof log, "%s/%s.log", cfg->dir, name);
    char *argv [] = { (char *) cfg->broker_bin, "--bind", b->url, "--state", state,
                      "--input-root", in, "--output-root", out, NULL };
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init (&fa);
    posix_spawn_file_actions_addopen (&fa, STDOUT_FILENO, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2 (&fa, STDOUT_FILENO, STDERR_FILENO);
    int rc = posix_spawn (&b->pid, cfg->broker_bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&fa);
    if (rc != 0) {
        fprintf (stderr, "bench_dispatch: cannot start %s: %s\n", cfg->broker_bin, strerror (rc));
        return -1;
    }
    void *s = zmq_socket (ctx, ZMQ_DEALER);
    wire_socket_setup (s, 0);
    zmq_connect (s, b->url);
    Masterfarm__StatusRequest req = MASTERFARM__STATUS_REQUEST__INIT;
    wire_msg_t msg = { 0 };
    rc = s_request (s, MASTERFARM__MSG_TYPE__STATUS, &req.base,
                    MASTERFARM__MSG_TYPE__STATUS_REPLY, 15000, &msg);
    wire_msg_clear (&msg);
    zmq_close (s);
    if (rc != 0) {
        fprintf (stderr, "bench_dispatch: the broker did not answer at %s (see %s)\n", b->url, log);
        return -1;
    }
    return 0;
}

//  Stops a broker: SIGTERM, then SIGKILL after 10 s.
static void
s_broker_stop (s_broker_t *b)
{
    if (b->pid <= 0)
        return;
    kill (b->pid, SIGTERM);
    int64_t deadline = clock_mono_ms () + 10000;
    while (waitpid (b->pid, NULL, WNOHANG) == 0) {
        if (clock_mono_ms () > deadline) {
            kill (b->pid, SIGKILL);
            waitpid (b->pid, NULL, 0);
            break;
        }
        usleep (20000);          //  polling a child's exit
    }
    b->pid = 0;
}

//  Submits a no-op job of n tasks; returns its id or 0 (message printed).
static uint64_t
s_submit_noop (void *sock, long n, int timeout_ms)
{
    char spec [64];
    snprintf (spec, sizeof spec, "{\"tasks\": %ld}", n);
    Masterfarm__SubmitRequest req = MASTERFARM__SUBMIT_REQUEST__INIT;
    req.spec = spec;
    req.format = "noop";
    req.origin = "bench";
    wire_msg_t msg = { 0 };
    int rc = s_request (sock, MASTERFARM__MSG_TYPE__SUBMIT, &req.base,
                        MASTERFARM__MSG_TYPE__SUBMIT_REPLY, timeout_ms, &msg);
    uint64_t id = 0;
    if (rc == 0 && msg.type == MASTERFARM__MSG_TYPE__SUBMIT_REPLY)
        id = ((Masterfarm__SubmitReply *) msg.body)->job_id;
    if (!id)
        fprintf (stderr, "bench_dispatch: no-op job of %ld tasks not accepted (%s)\n", n,
                 rc ? mf_strerror (rc) : "refused");
    wire_msg_clear (&msg);
    return id;
}

//  Phase 1: broker memory per queued task.
static void
s_bench_memory (const s_cfg_t *cfg, void *ctx)
{
    s_broker_t b = { 0 };
    if (s_broker_start (cfg, ctx, "memory", &b) != 0)
        return;
    void *s = zmq_socket (ctx, ZMQ_DEALER);
    wire_socket_setup (s, 0);
    zmq_connect (s, b.url);
    long before = s_rss_kib (b.pid);
    int64_t t0 = clock_mono_us ();
    uint64_t job = s_submit_noop (s, cfg->queued, 600000);
    int64_t t1 = clock_mono_us ();
    long after = s_rss_kib (b.pid);
    if (job) {
        double per_task = (after - before) * 1024.0 / (double) cfg->queued;
        printf ("memory: %ld tasks queued in %.2f s; broker RSS %ld KiB -> %ld KiB; "
                "%.0f bytes per queued task (goal < 1024)\n", cfg->queued,
                (t1 - t0) / 1e6, before, after, per_task);
    }
    zmq_close (s);
    s_broker_stop (&b);
}

//  Sends READY for a simulated worker.
static void
s_sim_ready (void *sock, int i)
{
    static char *caps [] = { "noop", "shared" };
    char id [32];
    snprintf (id, sizeof id, "sim-%d", i);
    Masterfarm__Ready r = MASTERFARM__READY__INIT;
    r.worker_id = id;
    r.slots = 1;
    r.capabilities = caps;
    r.n_capabilities = 2;
    r.isa = "bench";
    wire_send (sock, NULL, 0, MASTERFARM__MSG_TYPE__READY, 1, &r.base, NULL, 0, 0);
}

//  Phase 2: dispatch rate with simulated workers.
static void
s_bench_dispatch (const s_cfg_t *cfg, void *ctx)
{
    s_broker_t b = { 0 };
    if (s_broker_start (cfg, ctx, "dispatch", &b) != 0)
        return;
    int nw = cfg->workers;
    zmq_pollitem_t *items = calloc ((size_t) nw + 1, sizeof *items);
    if (!items)
        return;
    for (int i = 0; i < nw; i++) {
        items [i].socket = zmq_socket (ctx, ZMQ_DEALER);
        items [i].events = ZMQ_POLLIN;
        wire_socket_setup (items [i].socket, 0);
        zmq_connect (items [i].socket, b.url);
        s_sim_ready (items [i].socket, i);
    }
    void *client = zmq_socket (ctx, ZMQ_DEALER);
    wire_socket_setup (client, 0);
    zmq_connect (client, b.url);
    items [nw].socket = client;
    items [nw].events = ZMQ_POLLIN;

    //  Let the workers register (the broker lists them in STATUS).
    int64_t deadline = clock_mono_ms () + 15000;
    size_t known = 0;
    while (known < (size_t) nw && clock_mono_ms () < deadline) {
        Masterfarm__StatusRequest req = MASTERFARM__STATUS_REQUEST__INIT;
        wire_msg_t msg = { 0 };
        if (s_request (client, MASTERFARM__MSG_TYPE__STATUS, &req.base,
                       MASTERFARM__MSG_TYPE__STATUS_REPLY, 2000, &msg) == 0
        &&  msg.type == MASTERFARM__MSG_TYPE__STATUS_REPLY)
            known = ((Masterfarm__StatusReply *) msg.body)->n_workers;
        wire_msg_clear (&msg);
        //  Drain what the broker sent the workers meanwhile (heartbeats).
        for (int i = 0; i < nw; i++) {
            wire_msg_t m = { 0 };
            while (wire_recv (items [i].socket, false, &m, ZMQ_DONTWAIT) != WIRE_AGAIN)
                wire_msg_clear (&m);
        }
    }
    printf ("dispatch: %zu of %d simulated workers registered\n", known, nw);

    double cpu0 = s_cpu_s (b.pid);
    uint64_t job = s_submit_noop (client, cfg->tasks, 600000);
    if (!job)
        goto done;
    Masterfarm__WatchRequest wr = MASTERFARM__WATCH_REQUEST__INIT;
    wr.job_id = job;
    wire_send (client, NULL, 0, MASTERFARM__MSG_TYPE__WATCH, 99, &wr.base, NULL, 0, 0);

    long results = 0;
    int64_t first_task_us = 0, last_result_us = 0, final_us = 0;
    int64_t next_hb = clock_mono_ms () + 1000, start = clock_mono_ms ();
    while (!final_us && clock_mono_ms () - start < 600000) {
        if (zmq_poll (items, nw + 1, 100) < 0)
            break;
        for (int i = 0; i < nw; i++) {
            if (!(items [i].revents & ZMQ_POLLIN))
                continue;
            wire_msg_t m = { 0 };
            while (wire_recv (items [i].socket, false, &m, ZMQ_DONTWAIT) == 0) {
                if (m.type == MASTERFARM__MSG_TYPE__TASK) {
                    const Masterfarm__Task *t = (const Masterfarm__Task *) m.body;
                    if (!first_task_us)
                        first_task_us = clock_mono_us ();
                    Masterfarm__Result res = MASTERFARM__RESULT__INIT;
                    res.task_id = t->task_id;
                    res.attempt = t->attempt;
                    res.ok = true;
                    wire_send (items [i].socket, NULL, 0, MASTERFARM__MSG_TYPE__RESULT, 2,
                               &res.base, NULL, 0, 0);
                    results++;
                    last_result_us = clock_mono_us ();
                }
                wire_msg_clear (&m);
            }
        }
        if (items [nw].revents & ZMQ_POLLIN) {
            wire_msg_t m = { 0 };
            while (wire_recv (client, false, &m, ZMQ_DONTWAIT) == 0) {
                if (m.type == MASTERFARM__MSG_TYPE__WATCH_EVENT
                &&  ((Masterfarm__WatchEvent *) m.body)->final)
                    final_us = clock_mono_us ();
                wire_msg_clear (&m);
            }
        }
        if (clock_mono_ms () >= next_hb) {
            Masterfarm__Heartbeat hb = MASTERFARM__HEARTBEAT__INIT;
            hb.free_slots = 1;
            for (int i = 0; i < nw; i++)
                wire_send (items [i].socket, NULL, 0, MASTERFARM__MSG_TYPE__HEARTBEAT, 3,
                           &hb.base, NULL, 0, ZMQ_DONTWAIT);
            next_hb += 1000;
        }
    }
    double cpu1 = s_cpu_s (b.pid);
    if (!final_us)
        printf ("dispatch: the job did not finish (%ld results sent)\n", results);
    else {
        double secs = (final_us - first_task_us) / 1e6;
        printf ("dispatch: %ld no-op tasks through %d simulated workers in %.2f s: "
                "%.0f tasks/s (goal >= 20000); last result at %.2f s; broker CPU %.2f s\n",
                results, nw, secs, (double) results / secs,
                (last_result_us - first_task_us) / 1e6, cpu1 - cpu0);
    }
done:
    for (int i = 0; i < nw; i++)
        zmq_close (items [i].socket);
    zmq_close (client);
    free (items);
    s_broker_stop (&b);
}

//  nftw callback: removes one entry of the scratch folder.
static int
s_rm_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    remove (path);
    return 0;
}

//  Runs the memory and dispatch measurements and prints their figures.
int
main (int argc, char **argv)
{
    s_cfg_t cfg = { .workers = 256, .tasks = 200000, .queued = 1000000 };
    static char bin [PATH_MAX + 32];
    bool skip_memory = false, skip_dispatch = false, keep = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i], *v = i + 1 < argc ? argv [i + 1] : NULL;
        if (!strcmp (a, "--help")) {
            printf ("usage: bench_dispatch [--workers N] [--tasks N] [--queued N] "
                    "[--broker PATH] [--no-memory] [--no-dispatch] [--keep]\n");
            return 0;
        }
        else if (!strcmp (a, "--no-memory"))   skip_memory = true;
        else if (!strcmp (a, "--keep"))        keep = true;
        else if (!strcmp (a, "--no-dispatch")) skip_dispatch = true;
        else if (v && !strcmp (a, "--workers")) { cfg.workers = atoi (v); i++; }
        else if (v && !strcmp (a, "--tasks"))   { cfg.tasks = atol (v); i++; }
        else if (v && !strcmp (a, "--queued"))  { cfg.queued = atol (v); i++; }
        else if (v && !strcmp (a, "--broker"))  { cfg.broker_bin = v; i++; }
        else {
            fprintf (stderr, "bench_dispatch: bad argument '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (cfg.workers < 1 || cfg.workers > S_MAX_WORKERS || cfg.tasks < 1 || cfg.queued < 1) {
        fprintf (stderr, "bench_dispatch: --workers 1..%d, --tasks and --queued >= 1\n",
                 S_MAX_WORKERS);
        return 2;
    }
    if (!cfg.broker_bin) {
        char self [PATH_MAX];
        ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
            self [n] = 0;
            snprintf (bin, sizeof bin, "%s/../masterfarm-broker", dirname (self));
        }
        if (access (bin, X_OK) != 0 && getenv ("MF_BIN"))
            snprintf (bin, sizeof bin, "%s/masterfarm-broker", getenv ("MF_BIN"));
        cfg.broker_bin = bin;
    }
    if (access (cfg.broker_bin, X_OK) != 0) {
        fprintf (stderr, "bench_dispatch: no broker at %s (use --broker PATH)\n", cfg.broker_bin);
        return 1;
    }
    const char *tmp = getenv ("MF_TEST_TMP");
    snprintf (cfg.dir, sizeof cfg.dir, "%s/bench_dispatch.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp (cfg.dir)) {
        fprintf (stderr, "bench_dispatch: cannot create %s: %s\n", cfg.dir, strerror (errno));
        return 1;
    }
    void *ctx = zmq_ctx_new ();
    zmq_ctx_set (ctx, ZMQ_MAX_SOCKETS, S_MAX_WORKERS + 64);
    if (!skip_memory)
        s_bench_memory (&cfg, ctx);
    if (!skip_dispatch)
        s_bench_dispatch (&cfg, ctx);
    zmq_ctx_term (ctx);
    if (keep)
        printf ("scratch kept: %s (state files and broker logs)\n", cfg.dir);
    else
        nftw (cfg.dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
