/*  Job control and progress helpers of the broker that need none of its
    private state: reading a track's duration from its header at submit,
    and the cost model behind a job's work fraction and ETA.

    Progress: a job's work is every analysis, master, assembly and report
    it runs. Each is weighed by its cost: the audio it covers (a track for
    analyze and master, the whole album for assemble and report) times
    the seconds one task slot spends per audio second on that kind of
    task. Those rates are measured from the job's own finished tasks (the
    time from dispatch to result, which includes starting the task process
    and moving its input and result); a kind not yet measured takes its
    prior, scaled by how the measured kinds compare with their priors. The
    fraction done is the cost of finished tasks plus the time running
    tasks have run so far (each at most 90% of its estimate), over the
    total; the ETA is the job's running time so far times the cost left
    over the cost done, the cost left paced by how much slower the recent
    tasks ran than the average (control_pace). Masters and assemblies are
    also measured per
    profile (a cd assembly resamples, dithers and writes a CUE: it took
    twice a spotify one), and a profile's own rate is used once measured.

    The job's last album ends alone: while its longest assembly runs, the
    other slots have nothing of the job to do, and while its report runs
    no slot has. That idle slot time is work the ETA must wait for as
    well (control_tail_idle_s), or it runs short by it at the end.  */
#ifndef MF_CONTROL_H
#define MF_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

//  Kinds of work in the cost model.
enum { CONTROL_ANALYZE, CONTROL_MASTER, CONTROL_ASSEMBLE, CONTROL_REPORT, CONTROL_KINDS };

//  Seconds of one slot per audio second, for a kind never measured: what
//  a master, assembly or report costs beside an analysis on a typical
//  host (only their ratios matter).
#define CONTROL_PRIOR_ANALYZE   0.004
#define CONTROL_PRIOR_MASTER    0.010
#define CONTROL_PRIOR_ASSEMBLE  0.008
#define CONTROL_PRIOR_REPORT    0.001

//  Variants of a kind measured apart (the profile ids of common/profile.h).
#define CONTROL_VARIANTS        16

//  Weight of a kind's earlier tasks when it records one more, in its
//  recent rate: about the last 3 tasks count (1 / (1 - 0.7)).
#define CONTROL_RECENT_DECAY    0.7

//  Measured costs of one job.
typedef struct {
    double task_s [CONTROL_KINDS];    //  slot seconds of finished tasks
    double audio_s [CONTROL_KINDS];   //  audio seconds those tasks covered
    double var_task_s [CONTROL_KINDS][CONTROL_VARIANTS];    //  the same per variant
    double var_audio_s [CONTROL_KINDS][CONTROL_VARIANTS];
    //  the same sums with the older tasks' weights decayed (recent rates)
    double rt_task_s [CONTROL_KINDS], rt_audio_s [CONTROL_KINDS];
    double rt_var_task_s [CONTROL_KINDS][CONTROL_VARIANTS];
    double rt_var_audio_s [CONTROL_KINDS][CONTROL_VARIANTS];
} control_costs_t;

//  Seconds of audio in root/rel, read from the file's header (libsndfile;
//  the file is opened beneath root, as the tasks open it). Returns 0 when
//  the file cannot be opened or read: it fails later, in its analysis.
double control_audio_seconds (const char *root, const char *rel);

//  The channel count and seconds of audio in root/rel's header, the same
//  way, read once; false (both 0) when the file cannot be opened or read.
bool control_audio_header (const char *root, const char *rel, int *channels,
                           double *seconds);

//  Records a finished task of kind (and variant, the task's profile, or
//  -1) that covered audio_s seconds of audio in task_s seconds.
void control_costs_add (control_costs_t *costs, int kind, int variant, double audio_s,
                        double task_s);

//  Slot seconds per audio second for kind: measured, or the prior scaled
//  as described above. Always > 0.
double control_rate (const control_costs_t *costs, int kind);

//  The same for one variant of kind (0 .. CONTROL_VARIANTS - 1): its own
//  measured rate, else control_rate (costs, kind).
double control_rate_variant (const control_costs_t *costs, int kind, int variant);

//  How much slower (> 1) or faster the recent tasks of kind (its variant
//  when measured, -1: the kind) ran than the job's average for it: the
//  recent rate over the average, 1 when not measured, within 0.5 .. 2.
//  Tasks slow down as a job goes (the machine's speed moves under a
//  shared host, other work takes its share): the cost left is paced by
//  it for the ETA, while the work fraction keeps the average rates.
double control_pace (const control_costs_t *costs, int kind, int variant);

//  Slot seconds the job's slots stay idle at its end, beside the cost
//  left: with slots slots, an album ending with assemblies costing
//  asm_sum_s in all (the longest asm_max_s, run in parallel) and then a
//  report of report_s run outside the slots. Returns >= 0.
double control_tail_idle_s (int slots, double asm_max_s, double asm_sum_s, double report_s);

//  ETA from the cost done and the cost left (any unit) and the seconds
//  the job has run: running_s * left / done. Returns -1 (unknown) before
//  anything is done or while the job has run less than a second.
double control_eta_s (double done, double left, double running_s);

#endif
