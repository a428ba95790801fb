/*  Publication (see publish.h).  */
#include "broker/publish.h"

#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <zmq.h>

#include "broker/graph.h"
#include "broker/status.h"

//  In a report process just forked: closes every descriptor but the
//  standard ones (the broker's listening socket among them, so that a
//  broker restarted after kill -9 can bind its address at once while an
//  orphaned report process would still be hashing) and asks the kernel
//  to end this process with the broker, whose restart writes the report
//  again.
void
publish_report_child_detach (pid_t parent)
{
    if (close_range (3, ~0U, 0) != 0) {
        long max = sysconf (_SC_OPEN_MAX);
        for (long fd = 3; fd < (max > 0 ? max : 1024); fd++)
            close ((int) fd);
    }
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
        _exit (1);
}

//  Moves an earlier delivery OUTPUT_ROOT/<slug> (a folder, not a symbolic
//  link: deliver_at_beneath refuses that one) into
//  OUTPUT_ROOT/.masterfarm/replaced/<slug>.<ms> when staging_rel/<slug>
//  holds a new one, by names under folder descriptors opened beneath the
//  output root. Failures are left to the publication to report.
static void
s_delivery_aside (broker_t *self, const char *staging_rel, const char *slug, uint64_t job_id)
{
    const char *root = self->output_root;
    char mine [4400], aside_rel [64] = CORE_STAGING "/replaced", name [FSUTIL_NAME_MAX + 32];
    snprintf (mine, sizeof mine, "%s/%s", staging_rel, slug);
    int rootfd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int minefd = fsutil_open_beneath (root, mine, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
    struct stat st;
    bool earlier = rootfd >= 0 && minefd >= 0
                && fstatat (rootfd, slug, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode);
    int asidefd = -1;
    if (earlier && fsutil_mkdir_beneath (root, aside_rel, 0755) == 0)
        asidefd = fsutil_open_beneath (root, aside_rel, O_RDONLY | O_DIRECTORY, 0);
    snprintf (name, sizeof name, "%s.%lld", slug, (long long) clock_wall_ms ());
    if (asidefd >= 0 && renameat2 (rootfd, slug, asidefd, name, RENAME_NOREPLACE) == 0) {
        if (fsync (rootfd) != 0 || fsync (asidefd) != 0)
            log_warn ("job %llu: fsync after moving %s/%s aside failed",
                      (unsigned long long) job_id,
                      root, slug);
        log_warn ("job %llu: %s/%s was already delivered; the earlier delivery is kept "
                  "in %s/%s/%s", (unsigned long long) job_id, root, slug, root, aside_rel, name);
    }
    if (asidefd >= 0)
        close (asidefd);
    if (minefd >= 0)
        close (minefd);
    if (rootfd >= 0)
        close (rootfd);
}

//  Takes a delivered album OUTPUT_ROOT/<slug> back to staging_rel/<slug>
//  for a retry (unless staging already has one), by names under folder
//  descriptors opened beneath the output root; a delivery folder that is
//  a symbolic link is left alone. Failures are logged.
void
publish_delivery_back (broker_t *self, const char *staging_rel, const char *slug, uint64_t job_id)
{
    const char *root = self->output_root;
    int rootfd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int stagefd = fsutil_open_beneath (root, staging_rel, O_RDONLY | O_DIRECTORY, 0);
    struct stat st;
    const char *why = NULL;
    if (rootfd < 0 || stagefd < 0)
        why = strerror (errno);
    else
    if (fstatat (stagefd, slug, &st, AT_SYMLINK_NOFOLLOW) == 0)
        why = NULL;                             //  staging has one already
    else
    if (fstatat (rootfd, slug, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
        why = "it is a symbolic link";
    else
    if (renameat2 (rootfd, slug, stagefd, slug, RENAME_NOREPLACE) != 0)
        why = strerror (errno);
    if (why)
        log_warn ("job %llu: cannot take %s/%s back for the retry: %s",
                  (unsigned long long) job_id, root, slug, why);
    if (stagefd >= 0)
        close (stagefd);
    if (rootfd >= 0)
        close (rootfd);
}

//  Publishes the albums of a job whose time has come. Returns true when
//  none is left waiting.
static bool
s_job_publish (broker_t *self, job_t *job)
{
    bool waiting = false;
    char staging [4096], staging_rel [128], err [CORE_ERR_LEN];
    core_staging (self, job, staging, sizeof staging);
    snprintf (staging_rel, sizeof staging_rel, CORE_STAGING "/job-%llu",
              (unsigned long long) job->id);
    for (size_t i = 0; i < job->n_albums; i++) {
        album_t *a = &job->albums [i];
        if (a->state != A_REPORTED)
            continue;
        //  An earlier delivery of the same album (a re-run into the same
        //  output root) is moved aside, not mixed with the new one.
        if (job->deliver_at_ms <= 0 || clock_wall_ms () >= job->deliver_at_ms)
            s_delivery_aside (self, staging_rel, a->slug, job->id);
        int rc = deliver_at_beneath (self->output_root, staging_rel, a->slug, clock_wall_ms (),
                                     job->deliver_at_ms, err, sizeof err);
        if (rc == DELIVER_HELD) {
            waiting = true;
            continue;
        }
        if (rc == 0) {
            a->state = A_PUBLISHED;
            log_info ("job %llu: album %s delivered to %s/%s", (unsigned long long) job->id,
                      a->slug, self->output_root, a->slug);
        }
        else {
            a->state = A_PUBLISH_FAILED;
            job->publish_failed = true;
            log_error ("job %llu: album %s not delivered: %s (its files stay in %s/%s)",
                       (unsigned long long) job->id, a->slug, err, staging, a->slug);
            free (a->error);
            a->error = strdup (err);
        }
        store_album_set (self->store, job->id, a->idx, a->slug, a->state);
        job->dirty = true;
    }
    return !waiting;
}

//  Removes a finished job's intermediates and its staging folder (what
//  is left there once every album is published).
static void
s_job_clean (broker_t *self, const job_t *job)
{
    char staging [4096], work [4200];
    core_staging (self, job, staging, sizeof staging);
    snprintf (work, sizeof work, "%s/work", staging);
    nftw (work, core_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    rmdir (staging);
}

//  Removes the intermediates of jobs done since the last call.
void
publish_jobs_clean (broker_t *self)
{
    bool cleaned = false;
    for (size_t i = 0; i < self->n_jobs; i++)
        if (self->jobs [i]->clean_pending) {
            self->jobs [i]->clean_pending = false;
            s_job_clean (self, self->jobs [i]);
            cleaned = true;
        }
    //  and the reuse cache's entries no job has used for its period
    size_t n = cleaned && self->cfg.cache_days > 0
             ? cache_sweep (self->output_root, (int64_t) self->cfg.cache_days * 86400) : 0;
    if (n)
        log_info ("reuse cache: %zu file(s) unused for %d days removed", n,
                  self->cfg.cache_days);
}

//  Sets a job's state when all its tasks are final (and its albums out).
void
publish_job_check (broker_t *self, job_t *job)
{
    if (core_job_state_final (job->state))
        return;
    int state = job->state;
    if (job->done + job->failed + job->cancelled < job->n_tasks)
        state = job->done + job->failed > 0 || state == J_RUNNING ? J_RUNNING : J_QUEUED;
    else {
        bool reporting = false;
        for (size_t i = 0; i < job->n_albums; i++) {
            if (job->albums [i].state == A_OPEN)
                graph_album_advance (self, job, &job->albums [i]);
            if (job->albums [i].state == A_OPEN)
                reporting = true;
        }
        if (reporting)
            state = J_RUNNING;
        else
        if (!s_job_publish (self, job))
            state = J_WAITING;
        else
            state = job->failed > 0 || job->publish_failed ? J_FAILED : J_DONE;
    }
    if (state != job->state) {
        job->state = state;
        store_job_set_state (self->store, job->id, state, clock_wall_ms ());
        status_job_finished (self, job, core_job_state_final (state) || state == J_WAITING);
        job->dirty = true;
        if (core_job_state_final (state))
            log_info ("job %llu %s: %u tasks done, %u failed", (unsigned long long) job->id,
                      state == J_DONE ? "done" : "failed", job->done, job->failed);
        if (core_job_state_final (state) && job->deadline_ms > 0
        &&  clock_wall_ms () > job->deadline_ms) {
            char when [32];
            log_warn ("job %llu finished after its deadline %s", (unsigned long long) job->id,
                      clock_format_rfc3339 (job->deadline_ms, when, sizeof when));
        }
        //  A failed job keeps its intermediates for `retry`.
        if (state == J_DONE && !job->noop)
            job->clean_pending = true;      //  publish_jobs_clean, once watchers know
    }
}

//  Collects finished report processes and moves their jobs on.
void
publish_reap_reports (broker_t *self)
{
    for (size_t j = 0; self->n_reporting > 0 && j < self->n_jobs; j++) {
        job_t *job = self->jobs [j];
        for (size_t i = 0; i < job->n_albums; i++) {
            album_t *a = &job->albums [i];
            int status;
            if (a->report_pid <= 0 || waitpid (a->report_pid, &status, WNOHANG) != a->report_pid)
                continue;
            a->report_pid = 0;
            self->n_reporting--;
            bool ok = WIFEXITED (status) && WEXITSTATUS (status) == 0;
            if (ok)
                status_report_cost (job, a);
            a->state = ok ? A_REPORTED : A_PUBLISH_FAILED;
            if (!ok) {
                job->publish_failed = true;
                log_error ("job %llu album %s: report or manifest not written (see above)",
                           (unsigned long long) job->id, a->slug);
                free (a->error);
                a->error = strdup ("the report or the manifest could not be written "
                                   "(the broker's log says why)");
            }
            store_album_set (self->store, job->id, a->idx, a->slug, a->state);
            job->dirty = true;
            publish_job_check (self, job);
        }
    }
}
