/*  Job control and progress helpers (see control.h).  */
#include "broker/control.h"

#include <fcntl.h>
#include <sndfile.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"

static const double s_prior [CONTROL_KINDS] = {
    CONTROL_PRIOR_ANALYZE, CONTROL_PRIOR_MASTER, CONTROL_PRIOR_ASSEMBLE, CONTROL_PRIOR_REPORT
};

double
control_audio_seconds (const char *root, const char *rel)
{
    if (!root || !rel || !fsutil_rel_path_ok (rel))
        return 0;
    int fd = fsutil_open_beneath (root, rel, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    SF_INFO info;
    memset (&info, 0, sizeof info);
    SNDFILE *sf = sf_open_fd (fd, SFM_READ, &info, 1);     //  closes fd
    if (!sf)
        return 0;
    sf_close (sf);
    if (info.samplerate <= 0 || info.frames <= 0)
        return 0;
    return (double) info.frames / info.samplerate;
}

void
control_costs_add (control_costs_t *costs, int kind, double audio_s, double task_s)
{
    if (kind < 0 || kind >= CONTROL_KINDS || !(audio_s > 0) || !(task_s >= 0))
        return;
    costs->task_s [kind] += task_s;
    costs->audio_s [kind] += audio_s;
}

double
control_rate (const control_costs_t *costs, int kind)
{
    if (kind < 0 || kind >= CONTROL_KINDS)
        return 1;
    if (costs->audio_s [kind] > 0 && costs->task_s [kind] > 0)
        return costs->task_s [kind] / costs->audio_s [kind];
    //  Unmeasured: the prior, scaled like the measured kinds.
    double measured = 0, expected = 0;
    for (int k = 0; k < CONTROL_KINDS; k++)
        if (costs->audio_s [k] > 0 && costs->task_s [k] > 0) {
            measured += costs->task_s [k];
            expected += costs->audio_s [k] * s_prior [k];
        }
    double scale = measured > 0 && expected > 0 ? measured / expected : 1;
    return s_prior [kind] * scale;
}

double
control_eta_s (double done, double left, double running_s)
{
    if (!(done > 0) || running_s < 1)
        return -1;
    if (!(left > 0))
        return 0;
    return running_s * left / done;
}
