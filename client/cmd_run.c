/*  masterfarm run: the one-command local farm. Starts a masterfarm-broker
    and N masterfarm-worker processes on this machine (the binaries next
    to this executable), submits the job, watches it to the end, stops the
    farm cleanly and says where the outputs are.

    The farm talks over a free loopback TCP port. Its state file and logs
    live in OUTDIR/.masterfarm/ (state.db, broker.log, worker-N.log), so a
    run that was interrupted can be looked into, and re-running on the
    same OUTDIR resumes from the same state. Exit status: 0 when the job
    was delivered completely, 1 when any track failed (or the farm could
    not run), 2 on bad usage.  */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/commands.h"
#include "client/farmclient.h"
#include "common/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/sha256.h"
#include "common/spec.h"
#include "broker/deliver.h"

#define S_MAX_WORKERS       256
#define S_BROKER_READY_MS   15000   //  the broker must answer within this
#define S_STOP_GRACE_MS     10000   //  SIGTERM, then SIGKILL after this
#define S_STATE_DIR         ".masterfarm"
#define S_MAX_RESTARTS      16      //  worker restarts per run

static volatile int   s_stop = 0;            //  set by signals: stop watching
static volatile int   s_broker_died = 0;     //  set when the broker exits early
static volatile pid_t s_broker_pid = 0;
static volatile int   s_broker_status = 0;

//  SIGINT/SIGTERM: stop watching, then stop the farm.
static void
s_on_signal (int sig)
{
    (void) sig;
    s_stop = 1;
}

//  SIGCHLD: notices when the broker exits (workers are reaped at the end).
static void
s_on_child (int sig)
{
    (void) sig;
    int saved = errno, status;
    if (s_broker_pid > 0 && waitpid (s_broker_pid, &status, WNOHANG) == s_broker_pid) {
        s_broker_status = status;
        s_broker_pid = 0;
        s_broker_died = 1;
        s_stop = 1;
    }
    errno = saved;
}

//  Prints the help text to out.
static void
s_help (FILE *out)
{
    fprintf (out,
        "usage: masterfarm run JOB.json|CATALOG.csv [-o OUTDIR] [-j WORKERS]\n"
        "                      [--input-root DIR] [--quiet]\n"
        "\n"
        "Runs a local farm for one job: a broker and WORKERS worker processes on\n"
        "this machine, then submits the job, shows progress and stops the farm.\n"
        "\n"
        "  -o OUTDIR          where the masters go (default: ./masterfarm-out);\n"
        "                     state and logs are kept in OUTDIR/" S_STATE_DIR "/\n"
        "  -j WORKERS         worker processes, one task each (default: one per core)\n"
        "  --input-root DIR   folder the job's track paths are relative to\n"
        "                     (default: the job file's folder)\n"
        "  --quiet            no progress display, only the summary\n"
        "\n"
        "Exit status: 0 every output delivered, 1 a track failed or the farm\n"
        "could not run, 2 bad usage.\n");
}

//  Folder holding this executable, from /proc/self/exe, into buf.
//  Returns 0 or MF_ERR_IO.
static int
s_exe_dir (char *buf, size_t size)
{
    char path [PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return MF_ERR_IO;
    path [n] = 0;
    snprintf (buf, size, "%s", dirname (path));
    return 0;
}

//  A free TCP port on 127.0.0.1 (bound, read and released). Returns the
//  port or -1.
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = -1;
    if (bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0
    &&  getsockname (fd, (struct sockaddr *) &addr, &len) == 0)
        port = ntohs (addr.sin_port);
    close (fd);
    return port;
}

//  Starts argv[0] with stdout and stderr appended to log_path. The child
//  gets SIGTERM if this process dies (PR_SET_PDEATHSIG), so that a killed
//  `masterfarm run` leaves no farm behind. Returns the pid or -1 (errno set).
static pid_t
s_spawn (char *const argv [], const char *log_path)
{
    int fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        if (getppid () != parent)
            _exit (127);                 //  the parent is already gone
        signal (SIGINT, SIG_IGN);        //  Ctrl-C is for `run`, which stops us in order
        signal (SIGCHLD, SIG_DFL);
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        int devnull = open ("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2 (devnull, STDIN_FILENO);
        dup2 (fd, STDOUT_FILENO);
        dup2 (fd, STDERR_FILENO);
        execv (argv [0], argv);
        fprintf (stderr, "cannot start %s: %s\n", argv [0], strerror (errno));
        _exit (127);
    }
    int saved = errno;
    close (fd);
    errno = saved;
    return pid;
}

//  Waits for pid to exit until deadline_ms (monotonic). Returns true if it
//  exited (and was reaped).
static bool
s_wait_exit (pid_t pid, int64_t deadline_ms)
{
    while (true) {
        pid_t r = waitpid (pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return true;
        if (clock_mono_ms () >= deadline_ms)
            return false;
        usleep (20 * 1000);      //  polling a child's exit, not synchronising
    }
}

//  Stops processes: SIGTERM to all, then SIGKILL to those still alive at
//  the grace deadline.
static void
s_stop_all (pid_t *pids, int n)
{
    for (int i = 0; i < n; i++)
        if (pids [i] > 0)
            kill (pids [i], SIGTERM);
    int64_t deadline = clock_mono_ms () + S_STOP_GRACE_MS;
    for (int i = 0; i < n; i++) {
        if (pids [i] <= 0)
            continue;
        if (!s_wait_exit (pids [i], deadline)) {
            fprintf (stderr, "masterfarm: process %d did not stop in %d s; killing it\n",
                     (int) pids [i], S_STOP_GRACE_MS / 1000);
            kill (pids [i], SIGKILL);
            s_wait_exit (pids [i], clock_mono_ms () + 5000);
        }
        pids [i] = 0;
    }
}

//  Stops the broker (SIGTERM, then SIGKILL), unless it is already gone.
static void
s_stop_broker (void)
{
    //  Block SIGCHLD so the handler does not reap the broker under us.
    sigset_t set, old;
    sigemptyset (&set);
    sigaddset (&set, SIGCHLD);
    sigprocmask (SIG_BLOCK, &set, &old);
    pid_t pid = s_broker_pid;
    s_broker_pid = 0;
    if (pid > 0)
        s_stop_all (&pid, 1);
    sigprocmask (SIG_SETMASK, &old, NULL);
}

//  True once something accepts TCP connections on 127.0.0.1:port.
static bool
s_port_open (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool open = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    close (fd);
    return open;
}

//  Waits until the broker answers a status request, it exits, or the
//  deadline passes. Returns 0 or MF_ERR_TIMEOUT / MF_ERR_IO.
static int
s_wait_broker (const char *url, char *err, size_t err_size)
{
    int64_t deadline = clock_mono_ms () + S_BROKER_READY_MS;
    //  First until the port listens (a few ms): a client that connects
    //  earlier waits out the messaging library's reconnect interval.
    const char *colon = strrchr (url, ':');
    int port = colon ? atoi (colon + 1) : 0;
    while (port > 0 && !s_broker_died && clock_mono_ms () < deadline && !s_port_open (port))
        usleep (2 * 1000);       //  polling a child's start, not synchronising
    while (clock_mono_ms () < deadline) {
        if (s_broker_died) {
            snprintf (err, err_size, "the broker exited at start (status %d)",
                      WIFEXITED (s_broker_status) ? WEXITSTATUS (s_broker_status) : -1);
            return MF_ERR_IO;
        }
        farmclient_t *fc = farmclient_new (url, 500, err, err_size);
        if (!fc)
            return MF_ERR_IO;
        Masterfarm__StatusReply *reply = NULL;
        int rc = farmclient_status (fc, 0, &reply);
        if (reply)
            masterfarm__status_reply__free_unpacked (reply, NULL);
        farmclient_destroy (&fc);
        if (rc == 0)
            return 0;
    }
    snprintf (err, err_size, "the broker did not answer at %s within %d s", url,
              S_BROKER_READY_MS / 1000);
    return MF_ERR_TIMEOUT;
}

typedef struct {
    pid_t      *pids;          //  worker pids (0: none)
    int         n;
    char *const *argv;         //  how to start one
    const char *state_dir;     //  for the log names
    int         restarts;
} s_workers_t;

//  Watch tick: restarts workers that died (a worker killed by the system
//  must not leave the job waiting forever).
static void
s_workers_tick (void *arg)
{
    s_workers_t *w = arg;
    for (int i = 0; i < w->n; i++) {
        int status;
        if (w->pids [i] <= 0 || waitpid (w->pids [i], &status, WNOHANG) != w->pids [i])
            continue;
        w->pids [i] = 0;
        if (w->restarts >= S_MAX_RESTARTS) {
            fprintf (stderr, "masterfarm: worker %d died and %d restarts are used up\n",
                     i + 1, S_MAX_RESTARTS);
            continue;
        }
        char wlog [PATH_MAX + 32];
        snprintf (wlog, sizeof wlog, "%s/worker-%d.log", w->state_dir, i + 1);
        fprintf (stderr, "masterfarm: worker %d %s; starting it again (see %s)\n", i + 1,
                 WIFSIGNALED (status) ? "was killed" : "exited", wlog);
        pid_t pid = s_spawn (w->argv, wlog);
        w->pids [i] = pid > 0 ? pid : 0;
        w->restarts++;
    }
}

//  Path of the file that records the SHA-256 of the job file a run
//  submitted as job_id (OUTDIR/.masterfarm/job-N.spec.sha256).
static void
s_spec_mark_path (const char *state_dir, uint64_t job_id, char *buf, size_t size)
{
    snprintf (buf, size, "%s/job-%" PRIu64 ".spec.sha256", state_dir, job_id);
}

//  True when job_id was submitted from a job file with this SHA-256.
static bool
s_spec_mark_is (const char *state_dir, uint64_t job_id, const char *spec_hex)
{
    char path [PATH_MAX + 64], line [SHA256_HEX_SIZE + 2] = "";
    s_spec_mark_path (state_dir, job_id, path, sizeof path);
    FILE *f = fopen (path, "r");
    if (!f)
        return false;
    bool same = fgets (line, sizeof line, f) && strncmp (line, spec_hex, SHA256_HEX_SIZE - 1) == 0;
    fclose (f);
    return same;
}

//  Looks among the jobs the broker resumed for one that is not finished
//  and carries this job's name (the same job file run again), or else
//  the newest failed run of the same job file, unchanged (*failed set:
//  running it again retries only what failed). Returns its id, or 0;
//  other unfinished jobs are named on stderr, since the broker resumes
//  them too while this farm runs.
static uint64_t
s_unfinished_job (farmclient_t *fc, const char *cmd, const char *name,
                  const char *state_dir, const char *spec_hex, bool *failed)
{
    Masterfarm__StatusReply *reply = NULL;
    uint64_t id = 0, failed_id = 0;
    *failed = false;
    if (farmclient_status (fc, 0, &reply) != 0)
        return 0;
    for (size_t i = 0; i < reply->n_jobs; i++) {
        const Masterfarm__JobStatus *j = reply->jobs [i];
        bool mine = name && j->name && strcmp (j->name, name) == 0;
        if (j->state == MASTERFARM__JOB_STATE__JOB_FAILED) {
            //  the newest failed run of this very job file (same bytes)
            if (mine && j->job_id > failed_id && s_spec_mark_is (state_dir, j->job_id, spec_hex))
                failed_id = j->job_id;
            continue;
        }
        if (j->state != MASTERFARM__JOB_STATE__JOB_QUEUED
        &&  j->state != MASTERFARM__JOB_STATE__JOB_RUNNING)
            continue;
        if (!id && mine)
            id = j->job_id;
        else
            fprintf (stderr, "masterfarm %s: note: job %" PRIu64 " (%s) of an earlier run is "
                     "unfinished; it goes on while this farm runs\n", cmd, j->job_id,
                     j->name ? j->name : "");
    }
    masterfarm__status_reply__free_unpacked (reply, NULL);
    if (!id && failed_id) {
        id = failed_id;
        *failed = true;
    }
    return id;
}

//  Says which albums of the job are already delivered in out_dir (by an
//  earlier run): the broker moves such a folder to OUTDIR/.masterfarm/
//  replaced/ when it publishes the new one, and people should know.
static void
s_note_earlier_deliveries (const char *cmd, const job_spec_t *spec, const char *out_dir)
{
    for (size_t a = 0; spec && a < spec->n_albums; a++) {
        char dir [PATH_MAX];
        struct stat st;
        if (deliver_album_dir (out_dir, &spec->albums [a], dir, sizeof dir) == 0
        &&  stat (dir, &st) == 0)
            fprintf (stderr, "masterfarm %s: note: %s holds an earlier delivery; it will be "
                     "moved to %s/" S_STATE_DIR "/replaced/ when the new one is published\n",
                     cmd, dir, out_dir);
    }
}

int
farmclient_run_local (const farmclient_run_cfg_t *cfg)
{
    const char *cmd = cfg->command;
    char err [FARMCLIENT_ERR_LEN];

    //  1. Paths: binaries, job, roots, state and logs.
    char exe_dir [PATH_MAX], broker_bin [PATH_MAX + 32], worker_bin [PATH_MAX + 32];
    if (s_exe_dir (exe_dir, sizeof exe_dir) != 0) {
        fprintf (stderr, "masterfarm %s: cannot find my own executable in /proc/self/exe\n", cmd);
        return EXIT_FAILED;
    }
    snprintf (broker_bin, sizeof broker_bin, "%s/masterfarm-broker", exe_dir);
    snprintf (worker_bin, sizeof worker_bin, "%s/masterfarm-worker", exe_dir);
    if (access (broker_bin, X_OK) != 0 || access (worker_bin, X_OK) != 0) {
        fprintf (stderr, "masterfarm %s: masterfarm-broker and masterfarm-worker must be "
                 "installed next to masterfarm (looked in %s)\n", cmd, exe_dir);
        return EXIT_FAILED;
    }
    char *spec = NULL;
    size_t spec_len = 0;
    const char *format = NULL;
    if (farmclient_read_spec (cfg->job_path, &spec, &spec_len, &format, err, sizeof err) != 0) {
        fprintf (stderr, "masterfarm %s: %s\n", cmd, err);
        return EXIT_FAILED;
    }
    char job_abs [PATH_MAX], input_root [PATH_MAX], out_dir [PATH_MAX];
    char state_dir [PATH_MAX + 16];
    if (!realpath (cfg->job_path, job_abs)) {
        fprintf (stderr, "masterfarm %s: %s: %s\n", cmd, cfg->job_path, strerror (errno));
        free (spec);
        return EXIT_FAILED;
    }
    if (cfg->input_root) {
        if (!realpath (cfg->input_root, input_root)) {
            fprintf (stderr, "masterfarm %s: input root %s: %s\n", cmd, cfg->input_root,
                     strerror (errno));
            free (spec);
            return EXIT_USAGE;
        }
    }
    else
        snprintf (input_root, sizeof input_root, "%s", dirname (job_abs));
    if (fsutil_mkdir_p (cfg->out_dir, 0755) != 0 || !realpath (cfg->out_dir, out_dir)) {
        fprintf (stderr, "masterfarm %s: cannot create output folder %s: %s\n", cmd,
                 cfg->out_dir, strerror (errno));
        free (spec);
        return EXIT_FAILED;
    }
    snprintf (state_dir, sizeof state_dir, "%s/%s", out_dir, S_STATE_DIR);
    if (fsutil_mkdir_p (state_dir, 0755) != 0) {
        fprintf (stderr, "masterfarm %s: cannot create %s: %s\n", cmd, state_dir, strerror (errno));
        free (spec);
        return EXIT_FAILED;
    }
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    int n_workers = cfg->workers > 0 ? cfg->workers : (cores > 0 ? (int) cores : 1);
    if (n_workers > S_MAX_WORKERS)
        n_workers = S_MAX_WORKERS;

    //  2. Signals: Ctrl-C stops the farm cleanly; SIGCHLD watches the broker.
    struct sigaction sa = { .sa_handler = s_on_signal }, sc = { .sa_handler = s_on_child };
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    sc.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction (SIGCHLD, &sc, NULL);

    //  3. The broker, on a free loopback port (tried a few times, since the
    //     port is released before the broker binds it).
    char url [64], state_path [PATH_MAX + 32], log_path [PATH_MAX + 32];
    snprintf (state_path, sizeof state_path, "%s/state.db", state_dir);
    snprintf (log_path, sizeof log_path, "%s/broker.log", state_dir);
    int code = EXIT_FAILED, rc = MF_ERR_IO;
    pid_t workers [S_MAX_WORKERS] = { 0 };
    farmclient_t *fc = NULL;
    job_spec_t *parsed = NULL;
    for (int attempt = 0; attempt < 3 && rc != 0 && !s_stop; attempt++) {
        int port = s_free_port ();
        if (port < 0) {
            snprintf (err, sizeof err, "no free loopback TCP port: %s", strerror (errno));
            break;
        }
        snprintf (url, sizeof url, "tcp://127.0.0.1:%d", port);
        char *bargv [] = { broker_bin, "--bind", url, "--state", state_path,
                           "--input-root", input_root, "--output-root", out_dir, NULL };
        s_broker_died = 0;
        sigset_t set, old;
        sigemptyset (&set);
        sigaddset (&set, SIGCHLD);
        sigprocmask (SIG_BLOCK, &set, &old);
        pid_t pid = s_spawn (bargv, log_path);
        s_broker_pid = pid > 0 ? pid : 0;
        sigprocmask (SIG_SETMASK, &old, NULL);
        if (pid < 0) {
            snprintf (err, sizeof err, "cannot start %.400s: %s", broker_bin, strerror (errno));
            break;
        }
        rc = s_wait_broker (url, err, sizeof err);
        if (rc != 0)
            s_stop_broker ();
    }
    if (rc != 0) {
        fprintf (stderr, "masterfarm %s: %s (see %s)\n", cmd, err, log_path);
        goto done;
    }

    //  4. The workers, one task slot each.
    char *wargv [] = { worker_bin, "--connect", url, "--threads", "1", NULL };
    s_workers_t wset = { .pids = workers, .n = n_workers, .argv = wargv,
                         .state_dir = state_dir };
    for (int i = 0; i < n_workers; i++) {
        char wlog [PATH_MAX + 32];
        snprintf (wlog, sizeof wlog, "%s/worker-%d.log", state_dir, i + 1);
        workers [i] = s_spawn (wargv, wlog);
        if (workers [i] < 0) {
            fprintf (stderr, "masterfarm %s: cannot start %s: %s\n", cmd, worker_bin,
                     strerror (errno));
            workers [i] = 0;
            goto done;
        }
    }

    //  5. Submit, then watch to the end.
    fc = farmclient_new (url, 0, err, sizeof err);
    if (!fc) {
        fprintf (stderr, "masterfarm %s: %s\n", cmd, err);
        goto done;
    }
    //  The spec parsed here only for its name and album folders; the
    //  broker validates it (with every error) when it is submitted.
    spec_errors_t perrs = { 0 };
    parsed = spec_load (cfg->job_path, &perrs);
    spec_errors_clear (&perrs);
    char spec_hex [SHA256_HEX_SIZE];
    sha256_buffer_hex (spec, spec_len, spec_hex);
    bool failed_before = false;
    uint64_t job_id = s_unfinished_job (fc, cmd, parsed ? parsed->name : NULL, state_dir,
                                        spec_hex, &failed_before);
    if (job_id && failed_before) {
        //  The same job file failed before: run again only what failed
        //  and what depends on it (the operator has fixed the cause).
        if (farmclient_job_command (fc, MASTERFARM__MSG_TYPE__RETRY, job_id) != 0) {
            fprintf (stderr, "masterfarm %s: job %" PRIu64 ": %s\n", cmd, job_id,
                     farmclient_error (fc));
            goto done;
        }
        printf ("retrying job %" PRIu64 " of an earlier run: only what failed and what "
                "depends on it runs again (state in %s)\n", job_id, state_path);
    }
    else
    if (job_id) {
        printf ("resuming job %" PRIu64 " of an earlier run (state in %s)\n", job_id,
                state_path);
    }
    else {
        s_note_earlier_deliveries (cmd, parsed, out_dir);
        Masterfarm__SubmitReply *reply = NULL;
        rc = farmclient_submit (fc, spec, spec_len, format, cfg->job_path, &reply);
        if (rc != 0) {
            fprintf (stderr, "masterfarm %s: %s\n", cmd, farmclient_error (fc));
            goto done;
        }
        job_id = reply->job_id;
        if (job_id == 0) {
            farmclient_print_spec_errors (stderr, cfg->job_path, reply);
            fprintf (stderr, "masterfarm %s: %s has %zu error%s; nothing was run\n", cmd,
                     cfg->job_path, reply->n_errors, reply->n_errors == 1 ? "" : "s");
            masterfarm__submit_reply__free_unpacked (reply, NULL);
            goto done;
        }
        masterfarm__submit_reply__free_unpacked (reply, NULL);
        char mark [PATH_MAX + 64], line [SHA256_HEX_SIZE + 1];
        s_spec_mark_path (state_dir, job_id, mark, sizeof mark);
        int n = snprintf (line, sizeof line, "%s\n", spec_hex);
        if (fsutil_write_atomic (mark, line, (size_t) n) != 0)
            fprintf (stderr, "masterfarm %s: note: cannot write %s (%s): running the same "
                     "job again after a failure will start it afresh\n", cmd, mark,
                     strerror (errno));
        if (!cfg->quiet)
            printf ("job %" PRIu64 " submitted to a local farm at %s with %d worker%s\n",
                    job_id, url, n_workers, n_workers == 1 ? "" : "s");
    }
    farmclient_watch_cfg_t wcfg = {
        .out = stdout, .tty = !cfg->quiet && isatty (STDOUT_FILENO), .quiet = cfg->quiet,
        .lost_ms = 0, .stop = &s_stop, .tick = s_workers_tick, .tick_arg = &wset,
        .retry_hint = "run the same masterfarm command again: only what failed runs again"
    };
    int state = 0;
    rc = farmclient_watch (fc, job_id, &wcfg, &state);
    if (rc != 0) {
        if (s_broker_died)
            fprintf (stderr, "masterfarm %s: the broker stopped unexpectedly (see %s)\n",
                     cmd, log_path);
        else
        if (rc == MF_ERR_CANCELLED)
            fprintf (stderr, "masterfarm %s: interrupted; the farm is stopped and job %"
                     PRIu64 " is kept in %s: run the same command again to resume it\n",
                     cmd, job_id, state_path);
        else
            fprintf (stderr, "masterfarm %s: %s\n", cmd, farmclient_error (fc));
        goto done;
    }
    if (state == MASTERFARM__JOB_STATE__JOB_DONE
    ||  state == MASTERFARM__JOB_STATE__JOB_WAITING_DELIVERY)
        code = EXIT_OK;
    else
        fprintf (stderr, "masterfarm %s: job %" PRIu64 " %s; logs are in %s/\n", cmd, job_id,
                 farmclient_job_state_name (state), state_dir);

done:
    spec_destroy (&parsed);
    farmclient_destroy (&fc);
    s_stop_all (workers, n_workers);
    s_stop_broker ();
    free (spec);
    return code;
}

//  masterfarm run JOB [-o OUTDIR] [-j WORKERS] [--input-root DIR]: see s_help.
int
cmd_run (int argc, char **argv)
{
    farmclient_run_cfg_t cfg = { .command = "run", .out_dir = "masterfarm-out" };
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i];
        bool takes = !strcmp (a, "-o") || !strcmp (a, "-j") || !strcmp (a, "--input-root");
        if (!strcmp (a, "--help") || !strcmp (a, "-h")) {
            s_help (stdout);
            return EXIT_OK;
        }
        else if (!strcmp (a, "--quiet"))
            cfg.quiet = true;
        else if (takes && i + 1 >= argc) {
            fprintf (stderr, "masterfarm run: %s needs a value\n", a);
            return EXIT_USAGE;
        }
        else if (!strcmp (a, "-o"))
            cfg.out_dir = argv [++i];
        else if (!strcmp (a, "--input-root"))
            cfg.input_root = argv [++i];
        else if (!strcmp (a, "-j")) {
            long n;
            if (!cli_long (argv [++i], 1, S_MAX_WORKERS, &n)) {
                fprintf (stderr, "masterfarm run: -j needs a worker count, 1 .. %d\n",
                         S_MAX_WORKERS);
                return EXIT_USAGE;
            }
            cfg.workers = (int) n;
        }
        else if (a [0] == '-') {
            fprintf (stderr, "masterfarm run: unknown option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
        else if (cfg.job_path) {
            fprintf (stderr, "masterfarm run: one job file at a time ('%s' and '%s')\n",
                     cfg.job_path, a);
            return EXIT_USAGE;
        }
        else
            cfg.job_path = a;
    }
    if (!cfg.job_path) {
        fprintf (stderr, "masterfarm run: give a JOB.json (see --help)\n");
        return EXIT_USAGE;
    }
    return farmclient_run_local (&cfg);
}
