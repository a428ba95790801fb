/*  The broker's dashboard: one read-only HTML page (no script; it reloads
    itself every DASHBOARD_REFRESH_S seconds with a meta refresh) showing
    jobs, their albums with each track's state and the album's profiles,
    the workers with their version, slots and current tasks, the reasons
    of failures, and links to each album's report. Drawn from the view the
    broker serves as /status.json (a JSON object):

        { "version", "now", "workers": [ { "name", "version", "slots",
          "busy", "done", "failed", "seen_ago_s", "tasks": [ "..." ] } ],
          "jobs": [ { "id", "name", "state", "priority", "tasks_total",
          "tasks_done", "tasks_failed", "audio_done_s", "audio_total_s",
          "submitted", "albums": [ { "index", "title", "state", "profiles",
          "report_html", "report_json", "tracks": [ { "number", "title",
          "state", "attempts", "error" } ] } ], "failures": [ {
          "album_title", "track", "track_title", "profile", "reason" } ] } ] }

    Every string of the view (album and track titles come from job specs)
    is HTML-escaped.  */
#ifndef MF_BROKER_DASHBOARD_H
#define MF_BROKER_DASHBOARD_H

#include <jansson.h>
#include <stddef.h>

#define DASHBOARD_REFRESH_S 5

//  The page for view (malloc'd, *size bytes, NUL-terminated), or NULL when
//  out of memory. Missing members show as empty.
char *dashboard_render (const json_t *view, size_t *size);

//  A JSON string of text for the view: text itself when it is valid UTF-8
//  (JSON needs it; a worker's error message may not be), else a copy with
//  every byte from 0x80 up replaced by '?'; "" for NULL. NULL only when out
//  of memory.
json_t *dashboard_string (const char *text);

//  Appends text HTML-escaped (& < > " ') to out (a growing buffer of
//  *len bytes in *cap); returns 0, or -1 when out of memory. For tests.
int dashboard_escape (char **out, size_t *len, size_t *cap, const char *text);

#endif
