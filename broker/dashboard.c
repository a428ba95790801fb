/*  The broker's dashboard page (see dashboard.h): HTML written from the
    JSON view, every string escaped, a small inline style sheet and a meta
    refresh instead of a script.  */
#include "broker/dashboard.h"
#include "common/array.h"
#include "common/text.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
dashboard_escape (char **out, size_t *len, size_t *cap, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        const char *rep = NULL;
        switch (*p) {
            case '&':  rep = "&amp;";  break;
            case '<':  rep = "&lt;";   break;
            case '>':  rep = "&gt;";   break;
            case '"':  rep = "&quot;"; break;
            case '\'': rep = "&#39;";  break;
            default:   break;
        }
        size_t n = rep ? strlen (rep) : 1;
        if (array_reserve (out, cap, *len + n + 1, 1, 64))
            return -1;
        memcpy (*out + *len, rep ? rep : p, n);
        *len += n;
        (*out) [*len] = 0;
    }
    if (!*out) {
        if (array_reserve (out, cap, *len + 1, 1, 64))
            return -1;
        (*out) [*len] = 0;
    }
    return 0;
}

json_t *
dashboard_string (const char *text)
{
    if (!text)
        text = "";
    json_t *s = json_string (text);
    if (s)
        return s;
    char *copy = strdup (text);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char) *p >= 0x80)
            *p = '?';
    s = json_string (copy);
    free (copy);
    return s;
}

//  Appends a string escaped.
static void
s_text (text_t *o, const char *text)
{
    if (!o->failed && dashboard_escape (&o->buf, &o->len, &o->cap, text))
        o->failed = true;
}

//  A member's string, or "".
static const char *
s_str (const json_t *obj, const char *key)
{
    const char *s = json_string_value (json_object_get (obj, key));
    return s ? s : "";
}

//  A member's number, or 0.
static double
s_num (const json_t *obj, const char *key)
{
    return json_number_value (json_object_get (obj, key));
}

//  A duration as m:ss or h:mm:ss ("--:--" when not a number).
static void
s_duration (text_t *o, const json_t *v)
{
    double s = json_is_number (v) ? json_number_value (v) : -1;
    if (!(s >= 0) || s > 1e9) {
        text_printf (o, "--:--");
        return;
    }
    long t = (long) (s + 0.5);
    if (t >= 3600)
        text_printf (o, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        text_printf (o, "%ld:%02ld", t / 60, t % 60);
}

//  A state name as a CSS class: letters and '-' only.
static void
s_state (text_t *o, const char *state)
{
    char cls [32];
    size_t j = 0;
    for (const char *p = state; *p && j + 1 < sizeof cls; p++)
        if ((*p >= 'a' && *p <= 'z') || *p == '-')
            cls [j++] = *p;
    cls [j] = 0;
    text_printf (o, "<span class=\"st st-%s\">", cls);
    s_text (o, state);
    text_printf (o, "</span>");
}

static const char s_style [] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}"
    "h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .4em}"
    "h3{font-size:1em;margin:1em 0 .3em}"
    "table{border-collapse:collapse;margin:.3em 0 1em;background:#fff}"
    "th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}"
    "th{background:#eee}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".job{border:1px solid #ccc;background:#fff;padding:.6em 1em;margin:.8em 0}"
    ".st{padding:0 .4em;border-radius:3px;background:#ddd}"
    ".st-done,.st-published,.st-reported{background:#c8e6c9}"
    ".st-running,.st-dispatched,.st-open{background:#bbdefb}"
    ".st-failed,.st-not-delivered,.st-held{background:#ffcdd2}"
    ".st-cancelled,.st-blocked,.st-waiting-delivery{background:#fff3c4}"
    ".err{color:#b00020}.muted{color:#777}.stage{color:#0d47a1}";

//  The workers table.
static void
s_workers (text_t *o, const json_t *workers)
{
    text_printf (o, "<h2>Workers (%zu)</h2>\n", json_array_size (workers));
    if (json_array_size (workers) == 0) {
        text_printf (o, "<p class=\"muted\">No worker connected.</p>\n");
        return;
    }
    text_printf (o, "<table id=\"workers\"><tr><th>worker</th><th>version</th><th>slots</th>"
              "<th>busy</th><th>done</th><th>failed</th><th>last heard</th>"
              "<th>current tasks</th></tr>\n");
    size_t i;
    json_t *w;
    json_array_foreach (workers, i, w) {
        text_printf (o, "<tr><td>");
        s_text (o, s_str (w, "name"));
        text_printf (o, "</td><td class=\"version\">");
        s_text (o, s_str (w, "version"));
        text_printf (o, "</td><td class=\"n\">%.0f</td><td class=\"n\">%.0f</td><td class=\"n\">%.0f"
                  "</td><td class=\"n\">%.0f</td><td class=\"n\">%.1f s ago</td><td>",
               s_num (w, "slots"), s_num (w, "busy"), s_num (w, "done"), s_num (w, "failed"),
               s_num (w, "seen_ago_s"));
        size_t k;
        json_t *t;
        json_array_foreach (json_object_get (w, "tasks"), k, t) {
            if (k)
                text_printf (o, "<br>");
            s_text (o, json_string_value (t));
        }
        text_printf (o, "</td></tr>\n");
    }
    text_printf (o, "</table>\n");
}

//  One album: its state, profiles, report links and track rows.
static void
s_album (text_t *o, const json_t *album)
{
    text_printf (o, "<h3>");
    s_text (o, s_str (album, "title"));
    text_printf (o, " ");
    s_state (o, s_str (album, "state"));
    if (*s_str (album, "stage")) {
        text_printf (o, " <span class=\"stage\">running: ");
        s_text (o, s_str (album, "stage"));
        text_printf (o, "</span>");
    }
    else
    if (*s_str (album, "queued")) {
        text_printf (o, " <span class=\"stage\">queued: ");
        s_text (o, s_str (album, "queued"));
        text_printf (o, "</span>");
    }
    text_printf (o, " <span class=\"muted\">profiles: ");
    s_text (o, s_str (album, "profiles"));
    text_printf (o, "</span>");
    const char *html = s_str (album, "report_html"), *json = s_str (album, "report_json");
    if (*html) {
        text_printf (o, " &middot; <a class=\"report\" href=\"");
        s_text (o, html);
        text_printf (o, "\">report</a>");
    }
    if (*json) {
        text_printf (o, " &middot; <a href=\"");
        s_text (o, json);
        text_printf (o, "\">report.json</a>");
    }
    text_printf (o, "</h3>\n");
    const json_t *tracks = json_object_get (album, "tracks");
    if (json_array_size (tracks) == 0)
        return;
    text_printf (o, "<table class=\"tracks\"><tr><th>#</th><th>track</th><th>state</th>"
              "<th>attempts</th><th>last error</th></tr>\n");
    size_t i;
    json_t *t;
    json_array_foreach (tracks, i, t) {
        text_printf (o, "<tr><td class=\"n\">%.0f</td><td>", s_num (t, "number"));
        s_text (o, s_str (t, "title"));
        text_printf (o, "</td><td>");
        s_state (o, s_str (t, "state"));
        text_printf (o, "</td><td class=\"n\">%.0f</td><td class=\"err\">", s_num (t, "attempts"));
        s_text (o, s_str (t, "error"));
        text_printf (o, "</td></tr>\n");
    }
    text_printf (o, "</table>\n");
}

//  One job: summary line, albums, failures.
static void
s_job (text_t *o, const json_t *job)
{
    text_printf (o, "<div class=\"job\" id=\"job-%.0f\"><b>job %.0f</b> ", s_num (job, "id"),
           s_num (job, "id"));
    s_text (o, s_str (job, "name"));
    text_printf (o, " ");
    s_state (o, s_str (job, "state"));
    text_printf (o, " <span class=\"muted\">priority %.0f &middot; tasks %.0f/%.0f done, %.0f failed"
              " &middot; audio %.1f/%.1f s &middot; submitted ",
           s_num (job, "priority"), s_num (job, "tasks_done"), s_num (job, "tasks_total"),
           s_num (job, "tasks_failed"), s_num (job, "audio_done_s"), s_num (job, "audio_total_s"));
    s_text (o, s_str (job, "submitted"));
    text_printf (o, "</span><br><span class=\"progress\">%.0f%% of the work &middot; ETA ",
                 100.0 * s_num (job, "work_done"));
    s_duration (o, json_object_get (job, "eta_s"));
    if (s_num (job, "speed") > 0)
        text_printf (o, " &middot; %.1fx realtime", s_num (job, "speed"));
    else
        text_printf (o, " &middot; measuring speed");
    text_printf (o, "</span>\n");
    size_t i;
    json_t *a;
    json_array_foreach (json_object_get (job, "albums"), i, a)
        s_album (o, a);
    const json_t *failures = json_object_get (job, "failures");
    if (json_array_size (failures) > 0) {
        text_printf (o, "<h3>Failures</h3>\n<table class=\"failures\"><tr><th>album</th><th>track"
                  "</th><th>profile</th><th>reason</th></tr>\n");
        json_t *f;
        json_array_foreach (failures, i, f) {
            text_printf (o, "<tr><td>");
            s_text (o, s_str (f, "album_title"));
            text_printf (o, "</td><td>");
            if (s_num (f, "track") > 0) {
                text_printf (o, "%.0f ", s_num (f, "track"));
                s_text (o, s_str (f, "track_title"));
            }
            else
                text_printf (o, "(album)");
            text_printf (o, "</td><td>");
            s_text (o, *s_str (f, "profile") ? s_str (f, "profile") : "all");
            text_printf (o, "</td><td class=\"err reason\">");
            s_text (o, s_str (f, "reason"));
            text_printf (o, "</td></tr>\n");
        }
        text_printf (o, "</table>\n");
    }
    text_printf (o, "</div>\n");
}

char *
dashboard_render (const json_t *view, size_t *size)
{
    text_t o = { 0 };
    text_printf (&o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<meta http-equiv=\"refresh\" content=\"%d\">\n"
               "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
               "<title>masterfarm broker</title>\n<style>%s</style></head><body>\n"
               "<h1>masterfarm broker</h1>\n<p class=\"muted\">version ",
           DASHBOARD_REFRESH_S, s_style);
    s_text (&o, s_str (view, "version"));
    text_printf (&o, " &middot; ");
    s_text (&o, s_str (view, "now"));
    text_printf (&o, " &middot; refreshes every %d s &middot; <a href=\"/metrics\">metrics</a>"
               " &middot; <a href=\"/status.json\">status.json</a></p>\n",
           DASHBOARD_REFRESH_S);
    s_workers (&o, json_object_get (view, "workers"));
    const json_t *jobs = json_object_get (view, "jobs");
    text_printf (&o, "<h2>Jobs (%zu)</h2>\n", json_array_size (jobs));
    if (json_array_size (jobs) == 0)
        text_printf (&o, "<p class=\"muted\">No job.</p>\n");
    //  Newest first.
    for (size_t i = json_array_size (jobs); i-- > 0;)
        s_job (&o, json_array_get (jobs, i));
    text_printf (&o, "</body></html>\n");
    return text_take (&o, size);
}
