/*  The pieces of the broker's HTTP port that need no socket: the listen
    host taken from a ZeroMQ endpoint, HTML escaping of spec strings in the
    dashboard, and the metrics text (families, histogram buckets, counters
    by kind).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "broker/dashboard.h"
#include "broker/http.h"
#include "broker/metrics.h"

static void
test_endpoint_host (void **state)
{
    (void) state;
    const char *cases [][2] = {
        { "tcp://127.0.0.1:5555", "127.0.0.1" },
        { "tcp://*:5555",         "127.0.0.1" },     //  wildcards: loopback
        { "tcp://0.0.0.0:5555",   "127.0.0.1" },
        { "tcp://[::]:5555",      "127.0.0.1" },
        { "tcp://192.0.2.7:5555", "192.0.2.7" },
        { "tcp://farm.example.net:5555", "farm.example.net" },
        { "tcp://[::1]:5555",     "[::1]" },
        { "tcp://eth0;192.0.2.1:5555", "127.0.0.1" },   //  a source part: not a host
        { "ipc:///run/masterfarm.sock", "127.0.0.1" },
        { "inproc://x",           "127.0.0.1" },
        { "tcp://:5555",          "127.0.0.1" },
        { "",                     "127.0.0.1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char host [64];
        http_endpoint_host (cases [i][0], host, sizeof host);
        assert_string_equal (host, cases [i][1]);
    }
    char host [64];
    http_endpoint_host (NULL, host, sizeof host);
    assert_string_equal (host, "127.0.0.1");
}

static void
test_escape (void **state)
{
    (void) state;
    char *out = NULL;
    size_t len = 0, cap = 0;
    assert_int_equal (dashboard_escape (&out, &len, &cap, "a<b>&\"c\"'d'"), 0);
    assert_string_equal (out, "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;");
    assert_int_equal (len, strlen (out));
    assert_int_equal (dashboard_escape (&out, &len, &cap, ""), 0);
    assert_int_equal (dashboard_escape (&out, &len, &cap, NULL), 0);
    assert_string_equal (out, "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;");
    free (out);
}

static void
test_json_string (void **state)
{
    (void) state;
    json_t *s = dashboard_string ("ok \xc3\xa9");
    assert_string_equal (json_string_value (s), "ok \xc3\xa9");
    json_decref (s);
    s = dashboard_string ("bad \xff\xfe end");
    assert_string_equal (json_string_value (s), "bad ?? end");
    json_decref (s);
    s = dashboard_string (NULL);
    assert_string_equal (json_string_value (s), "");
    json_decref (s);
}

static void
test_dashboard_page (void **state)
{
    (void) state;
    json_error_t jerr;
    json_t *view = json_loads (
        "{\"version\":\"1<2\",\"now\":\"t\",\"workers\":[{\"name\":\"w<1>\",\"version\":\"v&\","
        "\"slots\":2,\"busy\":1,\"tasks\":[\"job 1 <x>\"]}],"
        "\"jobs\":[{\"id\":1,\"name\":\"n\",\"state\":\"fa<i>led\",\"albums\":[{\"title\":"
        "\"<script>alert(1)</script>\",\"state\":\"open\",\"profiles\":\"cd\","
        "\"report_html\":\"/report/1/0/report.html\\\"><b>\",\"tracks\":[{\"number\":1,"
        "\"title\":\"T & U\",\"state\":\"done\",\"error\":\"e<\"}]}],"
        "\"failures\":[{\"album_title\":\"A'\",\"track\":1,\"track_title\":\"T\","
        "\"profile\":\"\",\"reason\":\"why <not>\"}]}]}", 0, &jerr);
    assert_non_null (view);
    size_t size = 0;
    char *page = dashboard_render (view, &size);
    assert_non_null (page);
    assert_int_equal (size, strlen (page));
    const char *must [] = { "&lt;script&gt;alert(1)&lt;/script&gt;", "T &amp; U", "e&lt;",
                            "why &lt;not&gt;", "A&#39;", "w&lt;1&gt;", "v&amp;",
                            "job 1 &lt;x&gt;", "1&lt;2", "report.html&quot;&gt;&lt;b&gt;",
                            "class=\"st st-failed\"", "http-equiv=\"refresh\"" };
    for (size_t i = 0; i < sizeof must / sizeof must [0]; i++)
        assert_non_null (strstr (page, must [i]));
    const char *never [] = { "<script", "<not>", "<x>", "<1>", "report.html\"><b>", "<i>" };
    for (size_t i = 0; i < sizeof never / sizeof never [0]; i++)
        if (strstr (page, never [i]))
            fail_msg ("raw in the page: %s", never [i]);
    free (page);
    json_decref (view);

    //  An empty view still gives a page.
    view = json_object ();
    page = dashboard_render (view, &size);
    assert_non_null (page);
    assert_non_null (strstr (page, "No job."));
    free (page);
    json_decref (view);
}

static void
test_metrics_text (void **state)
{
    (void) state;
    metrics_t *m = metrics_new ();
    assert_non_null (m);
    metrics_task_done (m, 2, 0.3, 4.5);       //  master: 0.25 < 0.3 <= 0.5
    metrics_task_done (m, 2, 7.0, 4.5);
    metrics_task_done (m, 1, -1.0, 0);        //  a negative duration counts as 0
    metrics_task_done (m, 99, 1.0, 0);        //  unknown kind: not shown by kind
    metrics_task_failed (m, 1, true);
    metrics_task_failed (m, 1, false);
    metrics_task_failed (m, 3, true);
    metrics_sample_t s;
    memset (&s, 0, sizeof s);
    s.workers_alive = 2;
    s.queued [9] = 4;
    s.jobs [2] = 1;
    s.curve_denied = 3;
    size_t size = 0;
    char *text = metrics_render (m, &s, &size);
    assert_non_null (text);
    assert_int_equal (size, strlen (text));
    const char *must [] = {
        "# TYPE masterfarm_task_duration_seconds histogram\n",
        "masterfarm_task_duration_seconds_bucket{kind=\"master\",le=\"0.25\"} 0\n",
        "masterfarm_task_duration_seconds_bucket{kind=\"master\",le=\"0.5\"} 1\n",
        "masterfarm_task_duration_seconds_bucket{kind=\"master\",le=\"10\"} 2\n",
        "masterfarm_task_duration_seconds_bucket{kind=\"master\",le=\"+Inf\"} 2\n",
        "masterfarm_task_duration_seconds_count{kind=\"master\"} 2\n",
        "masterfarm_task_duration_seconds_sum{kind=\"master\"} 7.300000\n",
        "masterfarm_task_duration_seconds_bucket{kind=\"analyze\",le=\"0.01\"} 1\n",
        "masterfarm_audio_mastered_seconds_total 9.000\n",
        "masterfarm_task_attempts_failed_total{kind=\"analyze\"} 2\n",
        "masterfarm_task_retries_total{kind=\"analyze\"} 1\n",
        "masterfarm_tasks_failed_total{kind=\"analyze\"} 1\n",
        "masterfarm_task_retries_total{kind=\"assemble\"} 1\n",
        "masterfarm_tasks_failed_total{kind=\"assemble\"} 0\n",
        "# TYPE masterfarm_workers_alive gauge\nmasterfarm_workers_alive 2\n",
        "masterfarm_tasks_queued{priority=\"9\"} 4\n",
        "masterfarm_jobs{state=\"running\"} 1\n",
        "# TYPE masterfarm_curve_denied_total counter\nmasterfarm_curve_denied_total 3\n",
    };
    for (size_t i = 0; i < sizeof must / sizeof must [0]; i++)
        if (!strstr (text, must [i]))
            fail_msg ("missing: %s", must [i]);
    assert_null (strstr (text, "kind=\"none\""));
    //  Every family named in a sample has # HELP and # TYPE lines.
    size_t helps = 0, types = 0;
    for (const char *p = text; (p = strstr (p, "# HELP ")); p++)
        helps++;
    for (const char *p = text; (p = strstr (p, "# TYPE ")); p++)
        types++;
    assert_int_equal (helps, types);
    assert_true (helps >= 20);
    free (text);
    metrics_destroy (&m);
    assert_null (m);
    metrics_destroy (NULL);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_endpoint_host),
        cmocka_unit_test (test_escape),
        cmocka_unit_test (test_json_string),
        cmocka_unit_test (test_dashboard_page),
        cmocka_unit_test (test_metrics_text),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
