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
    over the cost done.  */
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

//  Measured costs of one job.
typedef struct {
    double task_s [CONTROL_KINDS];    //  slot seconds of finished tasks
    double audio_s [CONTROL_KINDS];   //  audio seconds those tasks covered
} control_costs_t;

//  Seconds of audio in root/rel, read from the file's header (libsndfile;
//  the file is opened beneath root, as the tasks open it). Returns 0 when
//  the file cannot be opened or read: it fails later, in its analysis.
double control_audio_seconds (const char *root, const char *rel);

//  Records a finished task of kind that covered audio_s seconds of audio
//  in task_s seconds.
void control_costs_add (control_costs_t *costs, int kind, double audio_s, double task_s);

//  Slot seconds per audio second for kind: measured, or the prior scaled
//  as described above. Always > 0.
double control_rate (const control_costs_t *costs, int kind);

//  ETA from the cost done and the cost left (any unit) and the seconds
//  the job has run: running_s * left / done. Returns -1 (unknown) before
//  anything is done or while the job has run less than a second.
double control_eta_s (double done, double left, double running_s);

#endif
