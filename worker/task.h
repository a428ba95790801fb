/*  Running one task (the body of a farm task, in the worker's task
    process). The results it returns travel as common/results.h says.

    Kinds (proto/masterfarm.proto TaskKind):
      analyze   read the track in pieces into the streaming analysis
                (analysis_start / _feed / _finish), return the Analysis
      master    read the track, master_run with the task's settings and
                Plan, quantised to the profile's word and written as a
                32-bit float WAV at the output rate (the intermediate the
                assemble task reads); returns the master report as JSON
      assemble  read the album's intermediates (inputs, in track order;
                `extra` is {"tracks": [album track indexes]}), assemble_album
                into the profile folder; returns the layout as JSON
      noop      nothing (benchmarks)

    Storage: shared (inputs[i].path under task->input_root, or for
    assemble under task->output_root where the masters wrote them; outputs[0].path
    under task->output_root, written atomically: temporary name, fsync,
    rename, folder fsync), or inline (inputs arrive as data frames, outputs
    go back as data frames named in Result.outputs, relative to the
    output the broker named).

    task->settings_json is a job spec holding the task's album alone
    (album index 0 in it; the task's `track` indexes that album).  */
#ifndef MF_TASK_H
#define MF_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "common/measure.h"
#include "common/wire.h"
#include "common/results.h"
#include "worker/assemble.h"
#include "worker/master.h"

typedef struct {
    uint8_t  *result;            //  packed Masterfarm__Result (owned)
    size_t    result_size;
    uint8_t **frames;            //  output data frames, inline storage (owned)
    size_t   *frame_sizes;
    size_t    n_frames;
} task_output_t;

//  Runs a task. in_frames are the data frames that came with it (inline).
//  Always fills out with a Result (ok, or not ok with one line in error
//  naming the file and the reason). Returns 0, or MF_ERR_NOMEM when not
//  even the Result could be built.
int task_run (const Masterfarm__Task *task, void *const *in_frames,
              const size_t *in_sizes, size_t n_in, task_output_t *out);

//  Frees what out owns and zeroes it; NULL-safe.
void task_output_clear (task_output_t *out);

//  Plans, in this process, the FFTs that tasks at 44.1 and 48 kHz make
//  (the analysis spectrum, the tonal EQ's designs and overlap-add), so
//  that task processes forked from it find them planned (FFTW keeps what
//  it planned per process) instead of planning them again each time.
void task_warm_up (void);

//  Packs a Result that says the task failed with error. Returns 0 or MF_ERR_NOMEM.
int task_output_fail (task_output_t *out, uint64_t task_id, uint32_t attempt,
                      const char *error);


#endif
