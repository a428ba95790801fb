/*  Job control and progress helpers (see control.h).  */
#include "broker/control.h"

#include <fcntl.h>
#include <stdbool.h>
#include <sndfile.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/sflog.h"

static const double s_prior [CONTROL_KINDS] = {
    CONTROL_PRIOR_ANALYZE, CONTROL_PRIOR_MASTER, CONTROL_PRIOR_ASSEMBLE, CONTROL_PRIOR_REPORT
};

//  root/rel's header into info, and whether libsndfile found its data cut
//  short (cut may be NULL); false when it cannot be read.
static bool
s_header_cut (const char *root, const char *rel, SF_INFO *info, bool *cut)
{
    memset (info, 0, sizeof *info);
    if (!root || !rel || !fsutil_rel_path_ok (rel))
        return false;
    int fd = fsutil_open_beneath (root, rel, O_RDONLY, 0);
    if (fd < 0)
        return false;
    SNDFILE *sf = sf_open_fd (fd, SFM_READ, info, 1);      //  closes fd
    if (!sf)
        return false;
    if (cut) {
        char log [4096] = "";
        long long claimed, held;
        sf_command (sf, SFC_GET_LOG_INFO, log, sizeof log);
        *cut = sflog_cut_short (log, &claimed, &held);
    }
    sf_close (sf);
    return true;
}

//  root/rel's header into info; false when it cannot be read.
static bool
s_header (const char *root, const char *rel, SF_INFO *info)
{
    return s_header_cut (root, rel, info, NULL);
}

double
control_audio_seconds (const char *root, const char *rel)
{
    SF_INFO info;
    if (!s_header (root, rel, &info) || info.samplerate <= 0 || info.frames <= 0)
        return 0;
    return (double) info.frames / info.samplerate;
}

bool
control_audio_header (const char *root, const char *rel, int *channels, double *seconds)
{
    SF_INFO info;
    *channels = 0;
    *seconds = 0;
    bool cut = false;
    if (!s_header_cut (root, rel, &info, &cut) || info.channels <= 0)
        return false;
    *channels = info.channels;
    //  a file cut short: its length is not known (its analysis says why)
    if (info.samplerate > 0 && info.frames > 0 && !cut)
        *seconds = (double) info.frames / info.samplerate;
    return true;
}

void
control_costs_add (control_costs_t *costs, int kind, int variant, double audio_s,
                   double task_s)
{
    if (kind < 0 || kind >= CONTROL_KINDS || !(audio_s > 0) || !(task_s >= 0))
        return;
    costs->task_s [kind] += task_s;
    costs->audio_s [kind] += audio_s;
    const double d = CONTROL_RECENT_DECAY;
    costs->rt_task_s [kind] = costs->rt_task_s [kind] * d + task_s;
    costs->rt_audio_s [kind] = costs->rt_audio_s [kind] * d + audio_s;
    if (variant >= 0 && variant < CONTROL_VARIANTS) {
        costs->var_task_s [kind][variant] += task_s;
        costs->var_audio_s [kind][variant] += audio_s;
        costs->rt_var_task_s [kind][variant] = costs->rt_var_task_s [kind][variant] * d + task_s;
        costs->rt_var_audio_s [kind][variant] = costs->rt_var_audio_s [kind][variant] * d
                                              + audio_s;
    }
}

double
control_pace (const control_costs_t *costs, int kind, int variant)
{
    if (kind < 0 || kind >= CONTROL_KINDS)
        return 1.0;
    double rt, avg;
    if (variant >= 0 && variant < CONTROL_VARIANTS && costs->var_audio_s [kind][variant] > 0
    &&  costs->rt_var_audio_s [kind][variant] > 0 && costs->var_task_s [kind][variant] > 0) {
        rt = costs->rt_var_task_s [kind][variant] / costs->rt_var_audio_s [kind][variant];
        avg = costs->var_task_s [kind][variant] / costs->var_audio_s [kind][variant];
    }
    else
    if (costs->audio_s [kind] > 0 && costs->rt_audio_s [kind] > 0 && costs->task_s [kind] > 0) {
        rt = costs->rt_task_s [kind] / costs->rt_audio_s [kind];
        avg = costs->task_s [kind] / costs->audio_s [kind];
    }
    else
        return 1.0;
    double pace = rt / avg;
    return !(pace >= 0.5) ? 0.5 : pace > 2.0 ? 2.0 : pace;
}

double
control_rate_variant (const control_costs_t *costs, int kind, int variant)
{
    if (kind >= 0 && kind < CONTROL_KINDS && variant >= 0 && variant < CONTROL_VARIANTS
    &&  costs->var_audio_s [kind][variant] > 0 && costs->var_task_s [kind][variant] > 0)
        return costs->var_task_s [kind][variant] / costs->var_audio_s [kind][variant];
    return control_rate (costs, kind);
}

double
control_tail_idle_s (int slots, double asm_max_s, double asm_sum_s, double report_s)
{
    if (slots < 1)
        slots = 1;
    double idle = 0;
    if (asm_max_s > 0 && slots * asm_max_s > asm_sum_s)
        idle += slots * asm_max_s - asm_sum_s;
    if (report_s > 0)
        idle += (slots - 1) * report_s;     //  the report's own cost is in the cost left
    return idle;
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
