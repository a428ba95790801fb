/*  The album task graph (see graph.h).  */
#include "broker/graph.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/cache.h"
#include "broker/publish.h"

//  True when an album's ready assembly should be queued now. An assembly
//  is long (about as much work as all the album's masters) and the last
//  one ends the job: with several slots it starts early only while more
//  masters remain than the other slots could run in its time (about one
//  master per album track per other slot), so that the last albums'
//  masters finish first and their assemblies run side by side at the end
//  instead of one after another on one slot. With one slot, no master
//  left to start, or every slot idle with nothing queued, it starts at
//  once (masters waiting for running analyses are worth a short wait).
static bool
s_assemble_may_start (broker_t *self, const album_t *a)
{
    //  Masters still to start: queued, or waiting for their album's
    //  analyses (which are short beside them).
    size_t queued = 0;
    for (size_t j = 0; j < self->n_jobs; j++) {
        const job_t *job = self->jobs [j];
        if (core_job_state_final (job->state))
            continue;
        for (size_t i = 0; i < job->n_tasks; i++) {
            const task_t *t = job->tasks [i];
            if ((t->state == T_QUEUED || t->state == T_BLOCKED)
            &&  t->kind == K_MASTER)
                queued++;
        }
    }
    uint64_t slots = 0, held = 0;
    for (size_t i = 0; i < self->n_workers; i++)
        if (self->workers [i].live) {
            slots += self->workers [i].slots;
            held += self->workers [i].n_held;
        }
    if (slots <= 1 || queued == 0 || (held == 0 && scheduler_size (self->sched) == 0))
        return true;
    size_t tracks = a->sub.n_tracks ? a->sub.n_tracks : a->spec->n_tracks;
    return (uint64_t) queued > (slots - 1) * (uint64_t) tracks;
}

//  After a task reached a final state: moves the graph on.
void
graph_task_final (broker_t *self, task_t *t)
{
    if (t->album >= 0 && (size_t) t->album < t->job->n_albums)
        graph_album_advance (self, t->job, &t->job->albums [t->album]);
    publish_job_check (self, t->job);
}

//  The wait before retrying after the n-th resource failure (n >= 1):
//  BROKER_BACKOFF_MS doubling, at most BROKER_BACKOFF_MAX_MS.
static int64_t
s_backoff_ms (int n)
{
    int64_t ms = BROKER_BACKOFF_MS;
    for (int i = 1; i < n && ms < BROKER_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < BROKER_BACKOFF_MAX_MS ? ms : BROKER_BACKOFF_MAX_MS;
}

//  Forgets how a task's attempts ended (a retry requested by the operator
//  starts it afresh) and persists that.
void
graph_task_counts_clear (broker_t *self, task_t *t)
{
    t->strikes = t->lost = t->resource = 0;
    store_task_counts (self->store, t->sched.id, 0, 0, 0, 0);
}

//  A failed attempt: retry (elsewhere when possible, after a backoff for a
//  resource failure) or fail for good when the limit of its kind is
//  reached. Attempts a broker restart cut short never get here.
void
graph_task_attempt_failed (broker_t *self, task_t *t, int worker, const char *error,
                           attempt_end_t end)
{
    int n, limit;
    const char *what;
    if (end == ATTEMPT_END_RESOURCE) {
        n = ++t->resource;
        limit = BROKER_MAX_RESOURCE;
        what = "resource failures";
    }
    else
    if (end == ATTEMPT_END_LOST) {
        n = ++t->lost;
        limit = BROKER_MAX_LOST;
        what = "attempts lost with their worker";
    }
    else {
        n = ++t->strikes;
        limit = BROKER_MAX_ATTEMPTS;
        what = "failures";
    }
    int64_t retry_at = 0, wait_ms = 0;
    if (end == ATTEMPT_END_RESOURCE && n < limit) {
        wait_ms = s_backoff_ms (n);
        retry_at = clock_wall_ms () + wait_ms;
    }
    store_task_counts (self->store, t->sched.id, t->strikes, t->lost, t->resource, retry_at);
    metrics_task_failed (self->metrics, t->kind, n < limit);
    if (n >= limit) {
        log_warn ("task %llu failed for good after %d attempts (%d %s): %s",
                  (unsigned long long) t->sched.id, t->attempts, n, what, error);
        core_task_set (self, t, T_FAILED, error);
        graph_task_final (self, t);
        return;
    }
    if (wait_ms)
        log_info ("task %llu attempt %d failed (resource failure %d), queued again in "
                  "%lld s: %s", (unsigned long long) t->sched.id, t->attempts, n,
                  (long long) (wait_ms / 1000), error);
    else
        log_info ("task %llu attempt %d failed, queued again: %s",
                  (unsigned long long) t->sched.id, t->attempts, error);
    t->sched.avoid_worker = worker;
    free (t->last_error);
    t->last_error = strdup (error);
    store_task_update (self->store, t->sched.id, T_QUEUED, t->attempts, error);
    t->state = T_QUEUED;
    if (wait_ms)
        scheduler_defer (self->sched, &t->sched, clock_mono_ms () + wait_ms);
    else
        scheduler_push (self->sched, &t->sched);
    t->job->dirty = true;
}

//  The status of master t's input now into *now; false when there is
//  nothing to compare (not a track's master, or no status recorded).
static bool
s_master_input_now (broker_t *self, task_t *t, cache_stat_t *now)
{
    if (t->kind != K_MASTER || t->album < 0 || t->track < 0)
        return false;
    album_t *a = &t->job->albums [t->album];
    if ((size_t) t->track >= a->spec->n_tracks || !a->in_stat || !a->in_stat [t->track].ino)
        return false;
    cache_stat_input (self->input_root, core_input_path (a, (size_t) t->track), now);
    return true;
}

void
graph_master_input_failed (broker_t *self, task_t *t, const char *how)
{
    album_t *a = &t->job->albums [t->album];
    char err [CORE_ERR_LEN];
    snprintf (err, sizeof err, "%s %s after its analysis; it is not mastered from audio its plan "
              "and report did not measure: run the job again (or masterfarm retry) to analyse "
              "it again", core_input_path (a, (size_t) t->track), how);
    log_warn ("task %llu failed: %s", (unsigned long long) t->sched.id, err);
    core_task_set (self, t, T_FAILED, err);
    graph_task_final (self, t);
}

bool
graph_master_input_moved (broker_t *self, task_t *t)
{
    t->check_input = false;
    cache_stat_t now;
    if (!s_master_input_now (self, t, &now))
        return false;
    album_t *a = &t->job->albums [t->album];
    if (cache_stat_same (&a->in_stat [t->track], &now))
        return false;
    if (now.ino && a->analyses [t->track].input_sha256 [0]) {
        log_info ("task %llu: %s: its status changed after its analysis; the master checks "
                  "its content against the analysed digest", (unsigned long long) t->sched.id,
                  core_input_path (a, (size_t) t->track));
        t->check_input = true;
        return false;
    }
    graph_master_input_failed (self, t, now.ino ? "changed" : "went missing");
    return true;
}

bool
graph_master_input_status_moved (broker_t *self, task_t *t)
{
    cache_stat_t now;
    return s_master_input_now (self, t, &now)
        && !cache_stat_same (&t->job->albums [t->album].in_stat [t->track], &now);
}

//  The one-album spec JSON the album's tasks carry.
const char *
graph_album_json (job_t *job, album_t *a)
{
    if (!a->json) {
        job_spec_t one = *job->spec;
        one.albums = a->spec;
        one.n_albums = 1;
        a->json = spec_to_json (&one);
    }
    return a->json;
}

//  The album's output rate for a profile: every master of the album and
//  profile renders at it. A fixed-rate profile has its rate; a profile
//  that keeps the source rate takes the highest rate it allows for any
//  of the tracks (44.1 and 48 kHz sources on spotify: 48 kHz), so no
//  track is delivered below the rate the profile keeps for it.
static int
s_album_rate (profile_id_t p, const measure_t *const *an, size_t n)
{
    const profile_t *prof = profile_get (p);
    int rate = 0;
    for (size_t k = 0; k < n; k++) {
        int r = profile_output_rate (prof, an [k]->rate_hz);
        if (r > rate)
            rate = r;
    }
    return rate;
}

/*  The album correction (planner_album_correct). When every track of a
    complete album is mastered for a profile, the album's loudness is read
    from the masters' delivered blocks before the album is assembled; off
    its plan by more than PLANNER_ALBUM_TOL_LU (the chain's dynamics
    stages move the blocks' spread, which the plan cannot see), the
    tracks' planned loudness and gains move by the shifts solved on the
    delivered blocks and the tracks are mastered again, at most
    PLANNER_ALBUM_ROUNDS times. The shifts are kept in the state and
    applied whenever the album is planned again (a restart); a retry that
    analyses a track again drops them with the plan they were made for.

    A round that only lowers the tracks, by at most GRAPH_POST_MAX_DB, on
    a profile without lossy round trips, is a gain after the limiter
    instead (shift_post): the assembly scales each master by its shift as
    it reads it, so nothing is mastered again. A gain is exact on the
    delivered blocks, so the album lands where the blocks so moved read
    (the reading recorded after it); every peak goes down with it. The
    masters come in 24 bits (or float) whatever the profile's word: on 24
    bits rounding again adds noise some 140 dB under full scale, and a
    16-bit profile (cd) is dithered once, by the assembly, after the
    gain.  */

#define GRAPH_POST_MAX_DB  1.0      //  a lowering past this masters again: the
                                    //  limiter would be working for nothing

//  The album correction of profile p as JSON, NULL on out of memory.
static json_t *
s_shift_json (const album_t *a, int p)
{
    json_t *o = json_object (), *sh = json_array (), *rd = json_array ();
    if (!o || !sh || !rd) {
        json_decref (o);
        json_decref (sh);
        json_decref (rd);
        return NULL;
    }
    //  the shift of each track over the rounds (for people), and each
    //  round's (what a restarted broker adds again, in the same order, so
    //  that it plans the same bits)
    const size_t n = a->spec->n_tracks;
    json_t *per = json_array ();
    for (size_t i = 0; i < n; i++) {
        double sum = 0.0;
        for (int r = 0; a->shift [p] && r < a->shift_rounds [p]; r++)
            sum += a->shift [p][(size_t) r * n + i];
        json_array_append_new (sh, a->shift [p] && a->sub_idx [i] >= 0
                                   ? json_real (sum) : json_null ());
    }
    for (int r = 0; per && a->shift [p] && r < a->shift_rounds [p]; r++) {
        json_t *row = json_array ();
        for (size_t i = 0; row && i < n; i++)
            json_array_append_new (row, json_real (a->shift [p][(size_t) r * n + i]));
        json_array_append_new (per, row ? row : json_null ());
    }
    for (int r = 0; r <= PLANNER_ALBUM_ROUNDS; r++)
        if (isfinite (a->shift_read [p][r]))
            json_array_append_new (rd, json_real (a->shift_read [p][r]));
    json_object_set_new (o, "rounds", json_integer (a->shift_rounds [p]));
    json_object_set_new (o, "post_gain", json_boolean (a->shift_post [p]));
    json_object_set_new (o, "shift_db", sh);
    json_object_set_new (o, "round_shift_db", per ? per : json_null ());
    json_object_set_new (o, "album_read_lufs", rd);
    json_object_set_new (o, "tolerance_lu", json_real (PLANNER_ALBUM_TOL_LU));
    json_object_set_new (o, "method", json_string (
        "after mastering, the album's loudness gated over the masters' delivered blocks "
        "(edges at gaps included); off the plan by more than the tolerance, the policy is "
        "solved again on those blocks and the tracks are mastered again with their planned "
        "loudness moved by shift_db (by track number; null: not in the album); post_gain: "
        "the last round only lowered the tracks and was "
        "applied as a gain after the limiter when the album was assembled, not by mastering "
        "again (a gain moves every block by itself, so the reading after it is exact)"));
    return o;
}

//  Puts the album correction of profile p into its plan's record.
static void
s_shift_record (album_t *a, int p)
{
    album_plan_t *plan = &a->plans [p];
    json_t *rec = plan->report_json ? json_loads (plan->report_json, 0, NULL) : NULL;
    json_t *c = json_is_object (rec) ? s_shift_json (a, p) : NULL;
    char *text = NULL;
    if (c) {
        json_object_set_new (rec, "album_correction", c);
        text = json_dumps (rec, JSON_COMPACT | JSON_REAL_PRECISION (17));
    }
    json_decref (rec);
    if (text) {
        free (plan->report_json);
        plan->report_json = text;
    }
}

//  Moves the planned loudness and gain of the tracks of profile p's plan
//  by shift (one round's, per album track, dB), or their gain after the
//  limiter when post.
static void
s_shift_move (album_t *a, int p, const double *shift, bool post)
{
    album_plan_t *plan = &a->plans [p];
    for (size_t i = 0; i < a->spec->n_tracks; i++) {
        int k = a->sub_idx [i];
        if (k < 0 || (size_t) k >= plan->n_tracks || plan->tracks [k].silent)
            continue;
        if (post)
            plan->tracks [k].post_gain_db += shift [i];
        else {
            plan->tracks [k].target_lufs += shift [i];
            plan->tracks [k].gain_db += shift [i];
            //  its tail in the next file, when they crossfade, moves with it
            if ((size_t) k + 1 < plan->n_tracks && plan->tracks [k + 1].xfade_in_frames > 0)
                for (int q = 0; q < FADE_TAIL_SEGMENTS; q++)
                    plan->tracks [k + 1].xfade_in_lufs [q] += shift [i];
        }
    }
}

//  Stores the album correction of profile p and the plan's record.
static void
s_shift_store (broker_t *self, job_t *job, album_t *a, int p)
{
    s_shift_record (a, p);
    json_t *c = s_shift_json (a, p);
    char *text = c ? json_dumps (c, JSON_COMPACT | JSON_REAL_PRECISION (17)) : NULL;
    json_decref (c);
    store_shift_put (self->store, job->id, a->idx, p, text);
    store_plan_put (self->store, job->id, a->idx, p, a->plans [p].report_json);
    free (text);
}

//  Forgets every album correction of the album (a retry planned it anew).
static void
s_shift_drop (broker_t *self, job_t *job, album_t *a)
{
    for (int p = 0; p < PROFILE_COUNT; p++) {
        if (a->shift [p] || a->shift_rounds [p])
            store_shift_put (self->store, job->id, a->idx, p, NULL);
        free (a->shift [p]);
        a->shift [p] = NULL;
        a->shift_rounds [p] = 0;
        a->shift_done [p] = false;
        a->shift_post [p] = false;
        for (int r = 0; r <= PLANNER_ALBUM_ROUNDS; r++)
            a->shift_read [p][r] = NAN;
    }
}

int
graph_album_shift_load (album_t *a, int p, const char *text)
{
    json_t *o = text ? json_loads (text, 0, NULL) : NULL;
    json_t *per = json_object_get (o, "round_shift_db"), *rd = json_object_get (o, "album_read_lufs");
    json_int_t rounds = json_integer_value (json_object_get (o, "rounds"));
    bool post = json_is_true (json_object_get (o, "post_gain"));
    size_t n = a->spec->n_tracks;
    int rc = 0;
    if (!json_is_array (per) || json_array_size (per) != (size_t) rounds || !json_is_array (rd)
    ||  rounds < 0 || rounds > PLANNER_ALBUM_ROUNDS || p < 0 || p >= PROFILE_COUNT)
        rc = MF_ERR_FORMAT;
    double *v = rc ? NULL : calloc (PLANNER_ALBUM_ROUNDS * (n ? n : 1), sizeof *v);
    if (!rc && !v)
        rc = MF_ERR_NOMEM;
    for (json_int_t r = 0; !rc && r < rounds; r++) {
        json_t *row = json_array_get (per, (size_t) r);
        if (!json_is_array (row) || json_array_size (row) != n)
            rc = MF_ERR_FORMAT;
        for (size_t i = 0; !rc && i < n; i++) {
            json_t *x = json_array_get (row, i);
            if (!json_is_number (x) || !isfinite (json_number_value (x)))
                rc = MF_ERR_FORMAT;
            else
                v [(size_t) r * n + i] = json_number_value (x);
        }
    }
    if (rc)
        free (v);
    if (!rc) {
        free (a->shift [p]);
        a->shift [p] = v;
        a->shift_rounds [p] = (int) rounds;
        //  a gain after the limiter is the last round: nothing is read again
        a->shift_post [p] = post && rounds > 0;
        a->shift_done [p] = a->shift_post [p];
        for (int r = 0; r <= PLANNER_ALBUM_ROUNDS; r++) {
            json_t *x = json_array_get (rd, (size_t) r);
            a->shift_read [p][r] = json_is_number (x) ? json_number_value (x) : NAN;
        }
    }
    json_decref (o);
    return rc;
}

//  Reads profile p's mastered album (every track of it done) and, when
//  it is off its plan, moves the plan and queues the masters again.
//  Returns true when masters were queued: the assembly waits for them.
static bool
s_album_correct (broker_t *self, job_t *job, album_t *a, int p)
{
    const loudness_policy_t policy = a->sub.s.loudness.policy;
    album_plan_t *plan = &a->plans [p];
    size_t n = a->spec->n_tracks, nk = plan->n_tracks;
    if (a->shift_done [p])
        return false;
    if ((policy != POLICY_ALBUM && policy != POLICY_HYBRID) || nk == 0
    ||  nk != a->sub.n_tracks) {
        a->shift_done [p] = true;
        return false;
    }
    const char *pname = profile_get ((profile_id_t) p)->name;
    measure_t *outs = calloc (nk, sizeof *outs);
    const measure_t **op = calloc (nk, sizeof *op);
    double *sk = calloc (nk, sizeof *sk), *shift = calloc (n ? n : 1, sizeof *shift);
    int rc = outs && op && sk && shift ? 0 : MF_ERR_NOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        int k = a->sub_idx [i];
        const task_t *m = a->master [i * PROFILE_COUNT + p];
        if (k < 0 || (size_t) k >= nk)
            continue;
        op [k] = &outs [k];
        float *b = NULL;
        size_t nb = 0;
        rc = m && m->report ? results_master_blocks (m->report, &b, &nb) : MF_ERR_FORMAT;
        outs [k].block_lufs = b;
        outs [k].n_blocks = nb;
        if (!rc && nb == 0 && !plan->tracks [k].silent)
            rc = MF_ERR_FORMAT;              //  a master of an earlier version: no blocks
    }
    double measured = NAN, after = NAN;
    if (!rc)
        rc = planner_album_correct (&a->sub, plan, op, sk, &measured);
    int r = a->shift_rounds [p];
    //  a round that only lowers: a gain after the limiter, the album
    //  read on the blocks that gain moves
    bool post = rc == 1 && r < PLANNER_ALBUM_ROUNDS;
    for (size_t k = 0; post && k < nk; k++) {
        const uint32_t bit = 1u << p;
        if (a->sub.tracks [k].s.codec_check & bit || a->sub.tracks [k].s.codec_safe & bit)
            post = false;                    //  the round trips were measured as mastered
        if (!plan->tracks [k].silent && !(sk [k] <= 0.0 && sk [k] >= -GRAPH_POST_MAX_DB))
            post = false;
    }
    if (post) {
        after = planner_album_lufs (&a->sub, op, sk);
        post = isfinite (after);
    }
    for (size_t k = 0; outs && k < nk; k++)
        free (outs [k].block_lufs);
    free (outs);
    free (op);
    if (rc == MF_ERR_NOMEM) {
        free (sk);
        free (shift);
        log_error ("job %llu album %d profile %s: out of memory reading the mastered album",
                   (unsigned long long) job->id, a->idx + 1, pname);
        return false;                        //  read again at the next event
    }
    if (rc < 0) {
        log_info ("job %llu album %d profile %s: the mastered album's loudness cannot be "
                  "read (%s); assembled as planned", (unsigned long long) job->id, a->idx + 1,
                  pname, rc == MF_ERR_FORMAT ? "a master's report carries no blocks"
                                             : "no track has loudness");
        rc = 0;
    }
    else
        a->shift_read [p][r] = measured;
    double sh_min = HUGE_VAL, sh_max = -HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
        int k = a->sub_idx [i];
        shift [i] = k >= 0 && (size_t) k < nk ? sk [k] : 0.0;
        if (k >= 0 && (size_t) k < nk && !plan->tracks [k].silent) {
            sh_min = fmin (sh_min, shift [i]);
            sh_max = fmax (sh_max, shift [i]);
        }
    }
    free (sk);
    if (rc == 1 && r < PLANNER_ALBUM_ROUNDS && !a->shift [p])
        a->shift [p] = calloc (PLANNER_ALBUM_ROUNDS * (n ? n : 1), sizeof *a->shift [p]);
    post = post && a->shift [p];
    if (rc == 1 && r < PLANNER_ALBUM_ROUNDS && a->shift [p]) {
        for (size_t i = 0; i < n; i++)
            a->shift [p][(size_t) r * n + i] = shift [i];
        s_shift_move (a, p, shift, post);
        a->shift_rounds [p] = r + 1;
        a->shift_post [p] = post;
        if (post)
            a->shift_read [p][r + 1] = after;
        s_shift_store (self, job, a, p);
        char moved [64];
        if (post && sh_min < sh_max - 0.005)
            snprintf (moved, sizeof moved, "%.2f .. %.2f dB", -sh_max, -sh_min);
        else
        if (post)
            snprintf (moved, sizeof moved, "%.2f dB", -sh_max);
        else
        if (sh_min < sh_max - 0.005)
            snprintf (moved, sizeof moved, "%+.2f .. %+.2f dB", sh_min, sh_max);
        else
            snprintf (moved, sizeof moved, "%+.2f dB", sh_max);
        if (!post) {
            log_info ("job %llu album %d profile %s: mastered, the album reads %.2f LUFS "
                      "against its plan of %.2f (the chain's dynamics moved its blocks); its "
                      "tracks' planned loudness moves by %s and they are mastered again "
                      "(correction %d of at most %d)", (unsigned long long) job->id,
                      a->idx + 1, pname, measured, plan->album_planned_lufs, moved, r + 1,
                      PLANNER_ALBUM_ROUNDS);
            //  every master of the round, those that did not move too (silent
            //  tracks, hybrid's at a bound): the round names their files
            //  (core_intermediate_rel); the reuse cache has the unmoved ones
            for (size_t i = 0; i < n; i++) {
                task_t *m = a->master [i * PROFILE_COUNT + p];
                if (!m || a->sub_idx [i] < 0)
                    continue;
                m->reused = false;            //  attempts go on: their record is kept
                graph_task_counts_clear (self, m);
                m->sched.avoid_worker = -1;
                core_task_queue (self, m);
            }
            free (shift);
            return true;
        }
        log_info ("job %llu album %d profile %s: mastered, the album reads %.2f LUFS against "
                  "its plan of %.2f (the chain's dynamics moved its blocks); its tracks are "
                  "lowered by %s after the limiter as the album is assembled, where it reads "
                  "%.2f (correction %d of at most %d)", (unsigned long long) job->id,
                  a->idx + 1, pname, measured, plan->album_planned_lufs, moved, after, r + 1,
                  PLANNER_ALBUM_ROUNDS);
    }
    free (shift);
    if (rc == 1 && !post)
        log_warn ("job %llu album %d profile %s: after %d corrections the album reads %.2f "
                  "LUFS against its plan of %.2f; assembled as it is",
                  (unsigned long long) job->id, a->idx + 1, pname, r, measured,
                  plan->album_planned_lufs);
    if (r > 0 && !post)
        s_shift_store (self, job, a, p);     //  the last reading, for the record
    a->shift_done [p] = true;
    //  the reports are kept for the album's report: without their blocks
    for (size_t i = 0; i < n; i++) {
        task_t *m = a->master [i * PROFILE_COUNT + p];
        char *lean = m && m->report ? results_master_drop_blocks (m->report) : NULL;
        if (lean) {
            free (m->report);
            m->report = lean;
        }
    }
    return false;
}

//  Plans every profile of an album from the analysed tracks and releases
//  or fails the master tasks.
void
graph_album_plan (broker_t *self, job_t *job, album_t *a)
{
    size_t n = a->spec->n_tracks;
    free (a->sub.tracks);
    a->sub = *a->spec;
    a->sub.tracks = calloc (n ? n : 1, sizeof *a->sub.tracks);
    a->sub.n_tracks = 0;
    const measure_t **an = calloc (n ? n : 1, sizeof *an);
    int *numbers = calloc (n ? n : 1, sizeof *numbers);
    if (!a->sub.tracks || !an || !numbers) {
        free (an);
        free (numbers);
        log_error ("out of memory planning album %d", a->idx);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        a->sub_idx [i] = -1;
        if (a->analyzed [i]) {
            a->sub_idx [i] = (int) a->sub.n_tracks;
            numbers [a->sub.n_tracks] = (int) i + 1;
            an [a->sub.n_tracks] = &a->analyses [i];
            a->sub.tracks [a->sub.n_tracks++] = a->spec->tracks [i];
        }
    }
    //  The reference files' analyses (none unless the album has them).
    planner_ref_t refs [SPEC_MAX_REFS];
    char ref_err [CORE_ERR_LEN] = "";
    for (size_t r = 0; r < a->n_refs && r < SPEC_MAX_REFS; r++) {
        size_t i = n + r;
        const task_t *an = a->analyze [i];
        refs [r] = (planner_ref_t) { .m = &a->analyses [i], .weight = a->spec->s.tonal.refs [r].weight,
                                     .side_mid_db = a->analyses [i].side_mid_db };
        if (!a->analyzed [i] && !ref_err [0])
            snprintf (ref_err, sizeof ref_err, "reference %s could not be analysed%s%s",
                      a->spec->s.tonal.refs [r].path, an && an->last_error ? ": " : "",
                      an && an->last_error ? an->last_error : "");
    }
    for (int p = 0; p < PROFILE_COUNT; p++) {
        if (!(a->spec->s.profiles & (1u << p)))
            continue;
        planner_plan_free (&a->plans [p]);
        free (a->plan_err [p]);
        a->plan_err [p] = NULL;
        a->plan_ok [p] = false;
        char err [CORE_ERR_LEN] = "";
        int64_t *cd_frames = NULL;
        if (a->sub.n_tracks == 0)
            snprintf (err, sizeof err, "no track of the album could be analysed");
        else
        if (ref_err [0])
            snprintf (err, sizeof err, "%s", ref_err);
        else
        if (p == PROFILE_CD && (cd_frames = calloc (a->sub.n_tracks, sizeof *cd_frames))) {
            //  Red Book limits need the lengths: refuse before mastering.
            for (size_t k = 0; k < a->sub.n_tracks; k++)
                cd_frames [k] = an [k]->rate_hz > 0
                              ? an [k]->frames * 44100 / an [k]->rate_hz : 0;
            assemble_check_cd (&a->sub, cd_frames, err, sizeof err);
        }
        free (cd_frames);
        if (a->sub.n_tracks > 0 && !err [0]) {
            int rate = s_album_rate ((profile_id_t) p, an, a->sub.n_tracks);
            int rc = planner_plan_tracks (&a->sub, (const measure_t *const *) an, numbers,
                                          refs, a->n_refs, (profile_id_t) p, rate,
                                          &a->plans [p], err, sizeof err);
            if (rc == 0) {
                a->plan_ok [p] = true;
                if (a->shift [p] && a->shift_rounds [p] > 0) {
                    size_t nt = a->spec->n_tracks;
                    for (int r = 0; r < a->shift_rounds [p]; r++)
                        s_shift_move (a, p, a->shift [p] + (size_t) r * nt,
                                      a->shift_post [p] && r + 1 == a->shift_rounds [p]);
                    s_shift_record (a, p);
                }
                store_plan_put (self->store, job->id, a->idx, p, a->plans [p].report_json);
            }
            else
            if (!err [0])
                snprintf (err, sizeof err, "planning failed: %s", mf_strerror (rc));
        }
        if (!a->plan_ok [p]) {
            a->plan_err [p] = strdup (err);
            log_warn ("job %llu album %d profile %s: cannot plan: %s",
                      (unsigned long long) job->id, a->idx, profile_get ((profile_id_t) p)->name,
                      err);
        }
    }
    free (an);
    free (numbers);
    a->planned = true;
}

//  True when every analysis and every wanted master of the album is done.
bool
graph_album_mastered (const album_t *a)
{
    size_t n = a->spec->n_tracks;
    for (size_t i = 0; i < n; i++) {
        if (!a->analyze [i] || a->analyze [i]->state != T_DONE)
            return false;
        for (int p = 0; p < PROFILE_COUNT; p++) {
            const task_t *m = a->master [i * PROFILE_COUNT + p];
            if (m && m->state != T_DONE)
                return false;
        }
    }
    return true;
}

//  Appends one failure to out when there is room.
static void
s_failure_add (failure_t *out, size_t cap, size_t *k, int track, int profile,
               const char *title, const char *reason)
{
    if (*k < cap)
        out [(*k)++] = (failure_t) { track, profile, title, reason && *reason ? reason
                                                                  : "failed (no reason given)" };
}

//  Lists why an album is not complete into out (at most cap entries), by
//  cause: analyses that failed, masters that failed on their own, plans
//  that could not be made, assemblies that failed on their own, and the
//  album's own failure (report, publication). Tasks that never ran
//  because of a cause listed are not repeated. Returns the count.
size_t
graph_album_failures (const album_t *a, failure_t *out, size_t cap)
{
    size_t k = 0, n = a->spec->n_tracks;
    for (size_t i = 0; i < n; i++) {
        const task_t *an = a->analyze [i];
        const char *title = a->spec->tracks [i].title;
        if (an && an->state == T_FAILED) {
            s_failure_add (out, cap, &k, (int) i + 1, -1, title, an->last_error);
            continue;
        }
        for (int p = 0; p < PROFILE_COUNT; p++) {
            const task_t *m = a->master [i * PROFILE_COUNT + p];
            if (m && m->state == T_FAILED && (a->plan_ok [p] || m->attempts > 0))
                s_failure_add (out, cap, &k, (int) i + 1, p, title, m->last_error);
        }
    }
    for (int p = 0; p < PROFILE_COUNT; p++) {
        const task_t *as = a->assemble [p];
        if (as && a->planned && !a->plan_ok [p])
            s_failure_add (out, cap, &k, 0, p, NULL, a->plan_err [p]);
        if (as && as->state == T_FAILED && as->attempts > 0)
            s_failure_add (out, cap, &k, 0, p, NULL, as->last_error);
    }
    if (a->error)
        s_failure_add (out, cap, &k, 0, -1, NULL, a->error);
    return k;
}

//  Removes from an album's staging folder every file no successful
//  assembly named in its result (torn or foreign files of failed and
//  abandoned attempts, profiles that were not assembled, an earlier
//  report); whole false: also the album files and CUE sheets (a partial
//  delivery has none). The album folder is out_root/album_rel, pruned
//  beneath out_root (nothing outside it is deleted). Returns 0, or an
//  error with err.
static int
s_album_prune (const album_t *a, const char *out_root, const char *album_rel, bool whole,
               char *err, size_t err_size)
{
    const char **keep = NULL;
    char *copies [PROFILE_COUNT] = { NULL };
    size_t n_keep = 0;
    int rc = 0;
    for (int p = 0; p < PROFILE_COUNT && !rc; p++) {
        const task_t *as = a->assemble [p];
        if (!as || as->state != T_DONE)
            continue;
        const profile_t *prof = profile_get ((profile_id_t) p);
        size_t len = a->asm_files [p] ? strlen (a->asm_files [p]) : 0;
        size_t lines = 0;
        for (size_t i = 0; i < len; i++)
            lines += a->asm_files [p][i] == '\n';
        if (lines == 0) {
            snprintf (err, err_size, "the %s assembly named no files", prof->name);
            rc = MF_ERR_STATE;
            break;
        }
        //  "<profile>/<name>" per line, cut into strings in place
        size_t plen = strlen (prof->name);
        copies [p] = malloc (len + lines * (plen + 1) + 1);
        const char **grown = realloc (keep, (n_keep + lines) * sizeof *keep);
        if (grown)
            keep = grown;
        if (!copies [p] || !grown) {
            rc = MF_ERR_NOMEM;
            break;
        }
        char *w = copies [p];
        for (const char *r = a->asm_files [p]; *r; ) {
            const char *nl = strchr (r, '\n');
            size_t n = nl ? (size_t) (nl - r) : strlen (r);
            if (whole || strncmp (r, "album.", 6) != 0) {
                keep [n_keep++] = w;
                w += sprintf (w, "%s/%.*s", prof->name, (int) n, r) + 1;
            }
            r += n + (nl ? 1 : 0);
        }
    }
    if (!rc)
        rc = deliver_prune_beneath (out_root, album_rel, keep, n_keep, err, err_size);
    else
    if (!err [0])
        snprintf (err, err_size, "cannot list the assemblies' files: %s", mf_strerror (rc));
    for (int p = 0; p < PROFILE_COUNT; p++)
        free (copies [p]);
    free (keep);
    return rc;
}

//  True when two track plans would master a track the same way.
static bool
s_track_plan_same (const track_plan_t *x, const track_plan_t *y)
{
    //  a silent track has no target (NaN): equal when both have none
    bool same_target = x->target_lufs == y->target_lufs
                    || (isnan (x->target_lufs) && isnan (y->target_lufs));
    if (!same_target || x->silent != y->silent || x->gain_db != y->gain_db
    ||  x->ceiling_dbtp != y->ceiling_dbtp || x->fade_in_frames != y->fade_in_frames
    ||  x->fade_out_frames != y->fade_out_frames || x->pad_lead_frames != y->pad_lead_frames
    ||  x->pad_trail_frames != y->pad_trail_frames || x->cut_trail_frames != y->cut_trail_frames
    ||  x->xfade_in_frames != y->xfade_in_frames)
        return false;
    for (int q = 0; q < FADE_TAIL_SEGMENTS; q++)
        if (!(x->xfade_in_lufs [q] == y->xfade_in_lufs [q]
              || (isnan (x->xfade_in_lufs [q]) && isnan (y->xfade_in_lufs [q]))))
            return false;
    for (int b = 0; b < MEASURE_BANDS; b++)
        if (x->tonal_db [b] != y->tonal_db [b])
            return false;
    return true;
}

//  After the plan a retry made: every done master whose track plan
//  changed (or that had none) is mastered again, with its profile's
//  assembly; one whose plan is the same keeps its output.
static void
s_album_recheck_masters (broker_t *self, album_t *a, const album_plan_t *old,
                         const bool *old_ok, const int *old_idx)
{
    size_t n = a->spec->n_tracks;
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < PROFILE_COUNT; p++) {
            task_t *m = a->master [i * PROFILE_COUNT + p];
            if (!m || m->state != T_DONE)
                continue;
            int o = old_idx [i], k = a->sub_idx [i];
            if (old_ok [p] && a->plan_ok [p] && o >= 0 && k >= 0
            &&  (size_t) o < old [p].n_tracks && (size_t) k < a->plans [p].n_tracks
            &&  old [p].out_rate_hz == a->plans [p].out_rate_hz
            &&  s_track_plan_same (&old [p].tracks [o], &a->plans [p].tracks [k]))
                continue;
            log_info ("job %llu album %d track %zu profile %s: its plan changed, mastered again",
                      (unsigned long long) m->sched.job_id, a->idx, i + 1,
                      profile_get ((profile_id_t) p)->name);
            m->attempts = 0;
            graph_task_counts_clear (self, m);
            m->sched.avoid_worker = -1;
            core_task_set (self, m, T_BLOCKED, "");
            task_t *as = a->assemble [p];
            if (as && core_task_state_final (as->state)) {
                as->attempts = 0;
                graph_task_counts_clear (self, as);
                core_task_set (self, as, T_BLOCKED, "");
            }
        }
}

//  Plans the album; after a retry's new analyses, keeps the masters
//  whose plan did not change (s_album_recheck_masters).
void
graph_album_replan (broker_t *self, job_t *job, album_t *a)
{
    size_t n = a->spec->n_tracks;
    album_plan_t old [PROFILE_COUNT];
    bool old_ok [PROFILE_COUNT];
    int *old_idx = a->replan ? malloc ((n ? n : 1) * sizeof *old_idx) : NULL;
    bool corrected [PROFILE_COUNT];
    for (int p = 0; p < PROFILE_COUNT; p++)
        corrected [p] = album_master_rounds (a, p) > 0;
    if (a->replan)
        s_shift_drop (self, job, a);         //  made for the analyses a retry redoes
    if (old_idx) {
        memcpy (old, a->plans, sizeof old);
        memcpy (old_ok, a->plan_ok, sizeof old_ok);
        //  a corrected profile's masters are all made again: their files
        //  are named after the correction's round (core_intermediate_rel)
        for (int p = 0; p < PROFILE_COUNT; p++)
            if (corrected [p])
                old_ok [p] = false;
        memcpy (old_idx, a->sub_idx, n * sizeof *old_idx);
        memset (a->plans, 0, sizeof a->plans);
    }
    graph_album_plan (self, job, a);
    if (old_idx) {
        s_album_recheck_masters (self, a, old, old_ok, old_idx);
        for (int p = 0; p < PROFILE_COUNT; p++)
            planner_plan_free (&old [p]);
        free (old_idx);
    }
    else
    if (a->replan) {
        //  Out of memory for the comparison: master every track again.
        for (size_t i = 0; i < n * PROFILE_COUNT; i++)
            if (a->master [i] && a->master [i]->state == T_DONE) {
                a->master [i]->attempts = 0;
                core_task_set (self, a->master [i], T_BLOCKED, "");
            }
    }
    a->replan = false;
}

//  The digests the album's assemblies gave for its files (see
//  graph_asm_files_set), paths relative to the album folder, into *known
//  (allocated, with its strings in *text). Returns how many, 0 on none or
//  out of memory.
static size_t
s_known_digests (const album_t *a, deliver_known_t **known, char **text)
{
    *known = NULL;
    *text = NULL;
    size_t len = 1, n = 0;
    for (int p = 0; p < PROFILE_COUNT; p++)
        if (a->asm_sums [p] && a->assemble [p] && a->assemble [p]->state == T_DONE) {
            len += strlen (a->asm_sums [p]) * 2 + 64;
            for (const char *c = a->asm_sums [p]; *c; c++)
                n += *c == '\n';
        }
    if (n == 0 || !(*known = calloc (n, sizeof **known)) || !(*text = malloc (len))) {
        free (*known);
        *known = NULL;
        return 0;
    }
    char *w = *text;
    size_t k = 0;
    for (int p = 0; p < PROFILE_COUNT; p++) {
        if (!a->asm_sums [p] || !a->assemble [p] || a->assemble [p]->state != T_DONE)
            continue;
        const char *prof = profile_get ((profile_id_t) p)->name;
        for (const char *r = a->asm_sums [p]; *r && k < n; ) {
            const char *nl = strchr (r, '\n');
            unsigned long long bytes;
            char sha [65];
            int used = 0;
            if (!nl || sscanf (r, "%llu %64s %n", &bytes, sha, &used) != 2 || used <= 0)
                break;
            deliver_known_t *e = &(*known) [k++];
            e->bytes = (int64_t) bytes;
            e->sha256 = w;
            w += sprintf (w, "%s", sha) + 1;
            e->path = w;
            w += sprintf (w, "%s/%.*s", prof, (int) (nl - r - used), r + used) + 1;
            r = nl + 1;
        }
    }
    return k;
}

//  Moves an album's graph on as far as its task states allow.
void
graph_album_advance (broker_t *self, job_t *job, album_t *a)
{
    size_t n = a->spec->n_tracks;
    if (a->asm_deferred) {
        a->asm_deferred = false;     //  set again below while still held back
        self->n_deferred--;
    }
    //  1. Every analysis final: plan, then release or fail the masters.
    if (!a->planned) {
        for (size_t i = 0; i < n + a->n_refs; i++)
            if (!core_task_state_final (a->analyze [i]->state))
                return;
        graph_album_replan (self, job, a);
    }
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < PROFILE_COUNT; p++) {
            task_t *m = a->master [i * PROFILE_COUNT + p];
            if (!m || m->state != T_BLOCKED)
                continue;
            if (a->analyzed [i] && a->plan_ok [p])
                core_task_queue (self, m);
            else {
                char err [CORE_ERR_LEN];
                task_t *an = a->analyze [i];
                if (!a->analyzed [i])
                    snprintf (err, sizeof err, "not mastered: analysis %s%s%s",
                              an->state == T_CANCELLED ? "cancelled" : "failed",
                              an->last_error ? ": " : "", an->last_error ? an->last_error : "");
                else
                    snprintf (err, sizeof err, "not mastered: %s",
                              a->plan_err [p] ? a->plan_err [p] : "no plan");
                core_task_set (self, m, T_FAILED, err);
            }
        }
    //  2. Every master of the album final: assemble each profile when the
    //  album is complete, or when the spec asks for a partial delivery
    //  (then per-track files only); otherwise the album is held.
    bool masters_final = true;
    for (size_t i = 0; i < n * PROFILE_COUNT; i++)
        if (a->master [i] && !core_task_state_final (a->master [i]->state))
            masters_final = false;
    bool mastered = masters_final && graph_album_mastered (a);
    //  Every profile's album correction before any assembly: an assembly
    //  dispatched while another profile's masters run again would take
    //  the album for a partial one (dispatch.c) and leave its album file out.
    if (mastered) {
        bool again = false;
        for (int p = 0; p < PROFILE_COUNT; p++)
            if (a->assemble [p] && a->assemble [p]->state == T_BLOCKED && a->plan_ok [p]
            &&  s_album_correct (self, job, a, p))
                again = true;
        if (again)
            return;                          //  mastered again first
    }
    for (int p = 0; p < PROFILE_COUNT && masters_final; p++) {
        task_t *as = a->assemble [p];
        if (!as || as->state != T_BLOCKED)
            continue;
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) {
            task_t *m = a->master [i * PROFILE_COUNT + p];
            if (m && m->state == T_DONE)
                ok++;
        }
        if (!mastered && !a->spec->s.partial_deliver) {
            core_task_set (self, as, T_FAILED, "not assembled: the album is held (a track or "
                        "profile failed, and the spec does not ask for \"partial\": \"deliver\")");
            continue;
        }
        if (ok > 0 && !s_assemble_may_start (self, a)) {
            if (!a->asm_deferred) {
                a->asm_deferred = true;
                self->n_deferred++;
            }
            continue;
        }
        if (ok > 0)
            core_task_queue (self, as);
        else
            core_task_set (self, as, T_FAILED, "not assembled: no track of the album was mastered");
    }
    //  3. Every assembly final: hold the album, or write its report and
    //  manifest over exactly the files the assemblies delivered.
    if (a->state != A_OPEN || a->report_pid > 0 || !masters_final)
        return;
    for (int p = 0; p < PROFILE_COUNT; p++)
        if (a->assemble [p] && !core_task_state_final (a->assemble [p]->state))
            return;
    bool complete = mastered, any_assembled = false;
    for (int p = 0; p < PROFILE_COUNT; p++)
        if (a->assemble [p]) {
            if (a->assemble [p]->state == T_DONE)
                any_assembled = true;
            else
                complete = false;
        }
    if (!complete && (!a->spec->s.partial_deliver || !any_assembled)) {
        a->state = A_HELD;
        store_album_set (self->store, job->id, a->idx, a->slug, a->state);
        job->dirty = true;
        log_warn ("job %llu: album \"%s\" held, not published: not every track of every "
                  "profile was delivered (masterfarm status %llu names the failures)",
                  (unsigned long long) job->id, a->spec->title, (unsigned long long) job->id);
        return;
    }
    //  Everything below goes by the album's place under the output root,
    //  opened beneath it at each use, so that a folder on the way swapped
    //  for a symbolic link leads nowhere outside
    char album_rel [4200], err [CORE_ERR_LEN] = "";
    const char *out_root = self->output_root;
    snprintf (album_rel, sizeof album_rel, CORE_STAGING "/job-%llu/%s",
              (unsigned long long) job->id, a->slug);
    //  Only the files the successful assemblies named belong: leftovers of
    //  failed or abandoned attempts go before anything is hashed.
    int rc = s_album_prune (a, out_root, album_rel, complete, err, sizeof err);
    //  The report covers the analysed tracks (under their spec numbers),
    //  the profiles that were assembled, and what is missing and why.
    report_profile_t rp [PROFILE_COUNT];
    master_report_t *mreps [PROFILE_COUNT] = { NULL };
    bool *delivered [PROFILE_COUNT] = { NULL };
    assemble_layout_t layouts [PROFILE_COUNT];
    memset (layouts, 0, sizeof layouts);
    const measure_t **an = calloc (n ? n : 1, sizeof *an);
    int *numbers = calloc (n ? n : 1, sizeof *numbers);
    size_t cap_f = n * (PROFILE_COUNT + 1) + 2 * PROFILE_COUNT + 2, n_f = 0;
    failure_t *fails = calloc (cap_f, sizeof *fails);
    report_missing_t *missing = calloc (cap_f, sizeof *missing);
    size_t n_rp = 0;
    if (!an || !numbers || !fails || !missing)
        rc = rc ? rc : MF_ERR_NOMEM;
    for (int p = 0; p < PROFILE_COUNT && !rc; p++) {
        if (!a->assemble [p] || !a->plan_ok [p] || a->assemble [p]->state != T_DONE)
            continue;
        mreps [p] = calloc (a->sub.n_tracks ? a->sub.n_tracks : 1, sizeof *mreps [p]);
        delivered [p] = calloc (a->sub.n_tracks ? a->sub.n_tracks : 1, sizeof *delivered [p]);
        if (!mreps [p] || !delivered [p])
            continue;
        size_t n_mastered = 0;
        for (size_t i = 0; i < n; i++) {
            task_t *m = a->master [i * PROFILE_COUNT + p];
            if (a->sub_idx [i] >= 0 && m && m->state == T_DONE && m->report
            &&  results_master_parse (m->report, &mreps [p][a->sub_idx [i]]) == 0) {
                delivered [p][a->sub_idx [i]] = true;
                n_mastered++;
            }
        }
        memset (&rp [n_rp], 0, sizeof rp [n_rp]);
        rp [n_rp].profile = (profile_id_t) p;
        rp [n_rp].plan = &a->plans [p];
        rp [n_rp].masters = mreps [p];
        rp [n_rp].album_out_lufs = NAN;
        rp [n_rp].delivered = delivered [p];
        int rate = 0;
        if (complete && a->assemble [p]->report
        &&  results_layout_parse (a->assemble [p]->report, &layouts [p], &rate) == 0
        &&  layouts [p].n_tracks == a->sub.n_tracks && n_mastered == a->sub.n_tracks) {
            rp [n_rp].layout = &layouts [p];
            rp [n_rp].rate_hz = rate;
            rp [n_rp].album_out_lufs = layouts [p].album_lufs;   //  NAN if not measured
        }
        n_rp++;
    }
    if (!rc && n_rp == 0) {
        snprintf (err, sizeof err, "no profile of the album can be reported");
        rc = MF_ERR_STATE;
    }
    char *status = NULL;
    if (!rc) {
        for (size_t i = 0, k = 0; i < n; i++)
            if (a->sub_idx [i] >= 0) {
                numbers [k] = (int) i + 1;
                an [k++] = &a->analyses [i];
            }
        n_f = complete ? 0 : graph_album_failures (a, fails, cap_f);
        for (size_t i = 0; i < n_f; i++) {
            const profile_t *pr = fails [i].profile >= 0
                                ? profile_get ((profile_id_t) fails [i].profile) : NULL;
            missing [i] = (report_missing_t) { fails [i].track, fails [i].title,
                                               pr ? pr->name : NULL, fails [i].reason };
        }
        report_input_t tmp = { &a->sub, NULL, NULL, 0, NULL, !complete, missing, n_f };
        status = report_status_json (&tmp);
        if (!status)
            rc = MF_ERR_NOMEM;
    }
    if (!rc) {
        report_input_t in = { &a->sub, (const measure_t *const *) an, rp, n_rp, numbers,
                              !complete, missing, n_f };
        //  Hashing an album's files takes seconds: a child process writes
        //  the report and the manifest while the loop goes on (publish_reap_reports).
        deliver_known_t *known;
        char *known_text;
        size_t n_known = s_known_digests (a, &known, &known_text);
        fflush (NULL);
        pid_t parent = getpid ();
        pid_t pid = fork ();
        if (pid == 0) {
            publish_report_child_detach (parent);
            rc = report_write_beneath (&in, out_root, album_rel, err, sizeof err);
            if (!rc)
                rc = deliver_manifest_write_known_beneath (out_root, album_rel, status, known,
                                                           n_known, err, sizeof err);
            if (rc)
                log_error ("job %llu album %s: %s", (unsigned long long) job->id, a->slug, err);
            _exit (rc ? 1 : 0);
        }
        if (pid > 0) {
            a->report_pid = pid;
            a->report_ms = clock_mono_ms ();
            self->n_reporting++;
        }
        else {
            rc = report_write_beneath (&in, out_root, album_rel, err, sizeof err);
            if (!rc)
                rc = deliver_manifest_write_known_beneath (out_root, album_rel, status, known,
                                                           n_known, err, sizeof err);
        }
        free (known);
        free (known_text);
    }
    if (rc) {
        if (!err [0])
            snprintf (err, sizeof err, "cannot write the report: %s", mf_strerror (rc));
        log_error ("job %llu album %s: %s", (unsigned long long) job->id, a->slug, err);
        free (a->error);
        a->error = strdup (err);
    }
    for (int p = 0; p < PROFILE_COUNT; p++) {
        free (mreps [p]);
        free (delivered [p]);
        assemble_layout_free (&layouts [p]);
    }
    free (status);
    free (missing);
    free (fails);
    free (numbers);
    free (an);
    if (a->report_pid > 0)
        return;
    a->state = rc ? A_PUBLISH_FAILED : A_REPORTED;
    if (rc)
        job->publish_failed = true;
    store_album_set (self->store, job->id, a->idx, a->slug, a->state);
    job->dirty = true;
}

//  Keeps the names a done assembly's result gave (one per line) in its
//  album: the files that belong in the profile's folder; with sums (shared
//  storage, where the files the worker hashed are the files delivered),
//  also their sizes and digests for the album's manifest.
void
graph_asm_files_set (task_t *t, const Masterfarm__Result *res, bool sums)
{
    if (t->album < 0 || (size_t) t->album >= t->job->n_albums || t->profile < 0
    ||  t->profile >= PROFILE_COUNT || !t->job->albums)
        return;
    album_t *a = &t->job->albums [t->album];
    size_t len = 1;
    for (size_t i = 0; i < res->n_outputs; i++)
        len += strlen (res->outputs [i]->path ? res->outputs [i]->path : "") + 1;
    char *names = malloc (len), *w = names;
    if (!names)
        return;
    *w = 0;
    for (size_t i = 0; i < res->n_outputs; i++) {
        const char *name = res->outputs [i]->path;
        //  one plain name per file: anything else never belongs
        if (name && *name && !strchr (name, '/') && !strchr (name, '\n'))
            w += sprintf (w, "%s\n", name);
    }
    free (a->asm_files [t->profile]);
    a->asm_files [t->profile] = names;
    free (a->asm_sums [t->profile]);
    a->asm_sums [t->profile] = NULL;
    char *lines = sums ? malloc (len + res->n_outputs * 96) : NULL;
    if (!lines)
        return;
    w = lines;
    *w = 0;
    for (size_t i = 0; i < res->n_outputs; i++) {
        const char *name = res->outputs [i]->path, *sha = res->outputs [i]->sha256;
        if (name && *name && !strchr (name, '/') && !strchr (name, '\n')
        &&  sha && strlen (sha) == 64 && strspn (sha, "0123456789abcdef") == 64)
            w += sprintf (w, "%llu %s %s\n", (unsigned long long) res->outputs [i]->size,
                          sha, name);
    }
    a->asm_sums [t->profile] = lines;
}

