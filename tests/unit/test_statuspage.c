/*
 * test_statuspage.c - the renderers of the status page, /metrics and the
 * JSON API (html.h, prom.h, api_json.h) over a hand-built snapshot (two
 * workspaces, three alerts, one of them with a hostile label value and no
 * value), and the refcounting of snapshot.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/json.h"
#include "core/util.h"
#include "server/api_json.h"
#include "server/html.h"
#include "server/prom.h"
#include "server/snapshot.h"
#include "engine/labels.h"

#define NOW 1787227200.0        /* 2026-08-20T12:00:00Z */

static struct kv *kvs(size_t n, ...)
{
    struct kv *out = xcalloc(n, sizeof(*out));
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        out[i].key = xstrdup(va_arg(ap, const char *));
        out[i].value = xstrdup(va_arg(ap, const char *));
    }
    va_end(ap);
    return out;
}

/* Label sets of series live in a pool, as the daemon's do. */
static struct label_pool *pool;

static const struct labelset *lset(size_t n, ...)
{
    if (!pool)
        pool = label_pool_new();
    struct labels_builder b;
    labels_builder_init(&b, pool);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *k = va_arg(ap, const char *);
        labels_builder_add(&b, k, va_arg(ap, const char *));
    }
    va_end(ap);
    const struct labelset *ls = labels_builder_finish(&b);
    labels_builder_free(&b);
    return ls;
}

static int free_pool(void **state)
{
    (void)state;
    label_pool_free(pool);
    pool = NULL;
    return 0;
}

static struct snapshot *build(void)
{
    struct snapshot *s = snapshot_new();
    s->generated_at = NOW;
    s->started_at = NOW - 3 * 3600 - 120;
    s->version = xstrdup("0.1.0");
    s->config_path = xstrdup("/etc/segalert/segalert.conf");
    s->state_dir = xstrdup("/var/lib/segalert");
    s->ready = true;
    s->eval_duration_s = 0.0042;
    s->eval_evaluations = 1234;
    s->last_eval_at = NOW - 3;
    s->outbox_queued = 2;
    s->notifications_by_reason[0] = 5;      /* first */
    s->notifications_by_reason[2] = 1;      /* resolved */
    s->unrouted = 1;

    s->nworkspaces = 2;
    s->workspaces = xcalloc(2, sizeof(*s->workspaces));
    struct snap_workspace *w = &s->workspaces[0];
    w->name = xstrdup("prod");
    w->api_url = xstrdup("https://api.segmentapis.com");
    w->up = true;
    w->discovered = true;
    w->nsources = 4;
    w->nconnections = 12;
    for (int k = 0; k < POLL__COUNT; k++) {
        w->last_ok[k] = NOW - 12;
        w->staleness_s[k] = 12;
    }
    w->oldest_connection_s = 240;
    w->request_budget = 60;
    w->effective_budget = 45;
    w->requests_last_minute = 41;
    w->requests[SEGEP_DELIVERY_METRICS] = 120;
    w->by_class[SEGEP_DELIVERY_METRICS][0] = 117;
    w->by_class[SEGEP_DELIVERY_METRICS][4] = 3;
    w->rate_limited = 3;
    w->retries = 4;
    w->in_flight = 2;
    w->queued = 5;

    w = &s->workspaces[1];
    w->name = xstrdup("staging");
    w->api_url = xstrdup("https://eu1.api.segmentapis.com");
    w->up = false;
    w->unauthorized = true;
    w->last_ok[POLL_DISCOVERY] = NOW - 3600;
    w->staleness_s[POLL_DISCOVERY] = 3600;
    for (int k = 1; k < POLL__COUNT; k++)
        w->staleness_s[k] = -1;
    w->errors[POLL_DELIVERY] = 7;
    w->last_error[POLL_DELIVERY] = xstrdup("unauthorized: <b>bad token</b>");
    w->oldest_connection_s = -1;
    w->request_budget = 30;
    w->effective_budget = 30;

    s->nalerts = 3;
    s->alerts = xcalloc(3, sizeof(*s->alerts));
    struct snap_alert *a = &s->alerts[0];
    a->rule = xstrdup("discard-ratio");
    a->labels = kvs(4, "destination", "Amplitude", "rule", "discard-ratio",
                    "source", "web", "workspace", "prod");
    a->nlabels = 4;
    a->state = xstrdup("firing");
    a->severity = xstrdup("critical");
    a->value = 0.025;
    a->active_at = NOW - 900;
    a->fired_at = NOW - 300;
    a->summary = xstrdup("Amplitude discards 2.5% of events from web");
    a->runbook_url = xstrdup("https://wiki.example.com/discards");
    a->spark_metric = xstrdup("discard_ratio");
    a->nspark = 3;
    a->spark = xcalloc(3, sizeof(*a->spark));
    a->spark[0] = (struct snap_point){ NOW - 600, 0 };
    a->spark[1] = (struct snap_point){ NOW - 300, 1 };
    a->spark[2] = (struct snap_point){ NOW, 0.5 };

    a = &s->alerts[1];
    a->rule = xstrdup("source-silent");
    a->labels = kvs(3, "rule", "source-silent", "source",
                    "<script>alert(1)</script>", "workspace", "prod");
    a->nlabels = 3;
    a->state = xstrdup("pending");
    a->severity = xstrdup("warning");
    a->value = NAN;
    a->active_at = NOW - 60;
    a->silenced = true;

    a = &s->alerts[2];
    a->rule = xstrdup("mtu-forecast");
    a->labels = kvs(2, "rule", "mtu-forecast", "workspace", "staging");
    a->nlabels = 2;
    a->state = xstrdup("firing");
    a->severity = xstrdup("warning");
    a->value = 125000;
    a->active_at = NOW - 7200;
    a->fired_at = NOW - 7200;
    a->flapping = true;
    a->nspark = 1;
    a->spark = xcalloc(1, sizeof(*a->spark));
    a->spark[0] = (struct snap_point){ NOW - 60, 125000 };

    s->nrules = 3;
    s->rules = xcalloc(3, sizeof(*s->rules));
    const char *names[] = { "discard-ratio", "source-silent", "mtu-forecast" };
    const char *fams[] = { "connection", "source", "usage" };
    for (int i = 0; i < 3; i++) {
        struct snap_rule *r = &s->rules[i];
        r->name = xstrdup(names[i]);
        r->family = xstrdup(fams[i]);
        r->expr = xstrdup(i == 0 ? "discard_ratio > 2% and attempted >= 100"
                                 : "last(event_volume) < 1");
        r->severity = xstrdup("critical");
        r->for_s = i == 0 ? 600 : 0;
        r->file = xstrdup("rules/delivery.conf");
        r->line = 3 + i * 10;
        r->inactive = 10;
        r->firing = i == 0;
        r->pending = i == 1;
    }
    s->rules[0].warn = xstrdup("discard_ratio > 0.5% and attempted >= 100");

    s->nreceivers = 2;
    s->receivers = xcalloc(2, sizeof(*s->receivers));
    s->receivers[0].name = xstrdup("console");
    s->receivers[0].type = xstrdup("log");
    s->receivers[0].delivered = 6;
    s->receivers[1].name = xstrdup("hook");
    s->receivers[1].type = xstrdup("webhook");
    s->receivers[1].delivered = 3;
    s->receivers[1].failed = 2;
    s->receivers[1].retrying = 1;
    s->receivers[1].failures = kvs(1, "http_4xx", "2");
    s->receivers[1].nfailures = 1;
    s->receivers[1].last_error = xstrdup("HTTP 400: bad payload");

    s->nsilences = 1;
    s->silences = xcalloc(1, sizeof(*s->silences));
    s->silences[0].id = xstrdup("0123456789abcdef");
    s->silences[0].matchers = xstrdup("rule=source-silent, source=*");
    s->silences[0].starts_at = NOW - 600;
    s->silences[0].ends_at = NOW + 6600;
    s->silences[0].created_by = xstrdup("ops");
    s->silences[0].comment = xstrdup("maintenance & \"tests\"");
    s->silences[0].active = true;

    s->nseries = 2;
    s->series = xcalloc(2, sizeof(*s->series));
    struct snap_series *se = &s->series[0];
    se->fam = FAM_CONNECTION;
    se->labels = lset(3, "destination", "Amplitude", "source", "web",
                      "workspace", "prod");
    se->v[M_DISCARD_RATIO] = 0.025;
    se->has[M_DISCARD_RATIO] = true;
    se->v[M_SUCCESSES] = 3900;
    se->has[M_SUCCESSES] = true;
    se->t = NOW - 12;
    se = &s->series[1];
    se->fam = FAM_CONNECTION;
    se->labels = lset(3, "destination", "a\"b\\c\nd", "source", "ios",
                      "workspace", "prod");
    se->v[M_SUCCESSES] = 10;
    se->has[M_SUCCESSES] = true;
    return s;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL;
         p += strlen(needle))
        n++;
    return n;
}

static void test_metrics_lines(void **state)
{
    (void)state;
    struct snapshot *s = build();
    struct strbuf sb = STRBUF_INIT;
    prom_render_metrics(s, &sb);
    const char *m = sb.buf;
    assert_true(has_line(m, "segalert_build_info{version=\"0.1.0\"} 1"));
    assert_true(has_line(m, "# TYPE segalert_build_info gauge"));
    assert_true(has_line(m, "segalert_start_time_seconds 1787216280"));
    assert_true(has_line(m, "segalert_workspace_up{workspace=\"prod\"} 1"));
    assert_true(has_line(m, "segalert_workspace_up{workspace=\"staging\"} 0"));
    assert_true(has_line(m, "# TYPE segalert_api_requests_total counter"));
    assert_true(has_line(m, "segalert_api_requests_total{workspace=\"prod\","
                            "endpoint=\"delivery_metrics\","
                            "code_class=\"429\"} 3"));
    assert_true(has_line(m, "segalert_api_requests_total{workspace=\"prod\","
                            "endpoint=\"delivery_metrics\","
                            "code_class=\"2xx\"} 117"));
    assert_true(has_line(m, "segalert_api_rate_limited_total{workspace="
                            "\"prod\"} 3"));
    assert_true(has_line(m, "segalert_request_budget_per_minute{workspace="
                            "\"prod\"} 60"));
    assert_true(has_line(m, "segalert_request_budget_effective_per_minute"
                            "{workspace=\"prod\"} 45"));
    assert_true(has_line(m, "segalert_poll_staleness_seconds{workspace="
                            "\"prod\",family=\"delivery\"} 12"));
    assert_true(has_line(m, "segalert_poll_staleness_seconds{workspace="
                            "\"staging\",family=\"discovery\"} 3600"));
    /* never polled: no staleness sample */
    assert_null(strstr(m, "segalert_poll_staleness_seconds{workspace="
                          "\"staging\",family=\"delivery\"}"));
    assert_true(has_line(m, "segalert_connections{workspace=\"prod\"} 12"));
    assert_true(has_line(m, "segalert_evaluation_duration_seconds 0.0042"));
    assert_true(has_line(m, "segalert_evaluations 1234"));
    assert_true(has_line(m, "segalert_alerts{state=\"firing\"} 2"));
    assert_true(has_line(m, "segalert_alerts{state=\"pending\"} 1"));
    assert_true(has_line(m, "segalert_notifications_total{reason=\"first\"} "
                            "5"));
    assert_true(has_line(m, "segalert_notifications_delivered_total{receiver="
                            "\"hook\"} 3"));
    assert_true(has_line(m, "segalert_notifications_failed_total{receiver="
                            "\"hook\"} 2"));
    assert_true(has_line(m, "segalert_notifications_failures_total{receiver="
                            "\"hook\",reason=\"http_4xx\"} 2"));
    assert_true(has_line(m, "segalert_outbox_queued 2"));
    assert_true(has_line(m, "segalert_silences_active 1"));
    /* Segment series */
    assert_true(has_line(m, "# TYPE segment_discard_ratio gauge"));
    assert_true(has_line(m, "segment_discard_ratio{destination=\"Amplitude\","
                            "source=\"web\",workspace=\"prod\"} 0.025"));
    assert_true(has_line(m, "segment_successes{destination=\"Amplitude\","
                            "source=\"web\",workspace=\"prod\"} 3900"));
    /* label escaping: backslash, quote, newline */
    assert_true(has_line(m, "segment_successes{destination=\"a\\\"b\\\\c\\nd\","
                            "source=\"ios\",workspace=\"prod\"} 10"));
    /* a metric no series has is not announced */
    assert_null(strstr(m, "segment_mtu"));
    strbuf_free(&sb);
    snapshot_release(s);
}

/* Every family has one HELP and one TYPE, before its samples, and its
 * samples are contiguous. */
static void test_metrics_families(void **state)
{
    (void)state;
    struct snapshot *s = build();
    struct strbuf sb = STRBUF_INIT;
    prom_render_metrics(s, &sb);
    char *text = xstrdup(sb.buf);
    char seen[200][96];
    size_t nseen = 0;
    char current[96] = "";
    size_t nsamples = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char name[96];
        if (str_has_prefix(line, "# HELP ")) {
            sscanf(line + 7, "%95s", name);
            for (size_t i = 0; i < nseen; i++)
                assert_string_not_equal(seen[i], name);
            assert_true(nseen < 200);
            snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
            snprintf(current, sizeof(current), "%s", name);
            continue;
        }
        if (str_has_prefix(line, "# TYPE ")) {
            sscanf(line + 7, "%95s", name);
            assert_string_equal(name, current);
            continue;
        }
        size_t n = strcspn(line, "{ ");
        assert_true(n < sizeof(name));
        memcpy(name, line, n);
        name[n] = '\0';
        assert_string_equal(name, current);
        nsamples++;
    }
    assert_true(nseen > 30);
    assert_true(nsamples > 100);
    free(text);
    strbuf_free(&sb);
    snapshot_release(s);
}

static void test_number_formats(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    prom_format_double(&sb, 0.1);
    strbuf_addc(&sb, ' ');
    prom_format_double(&sb, NAN);
    strbuf_addc(&sb, ' ');
    prom_format_double(&sb, INFINITY);
    strbuf_addc(&sb, ' ');
    prom_format_double(&sb, -INFINITY);
    strbuf_addc(&sb, ' ');
    prom_format_double(&sb, 0.1 + 0.2);
    strbuf_addc(&sb, ' ');
    prom_format_double(&sb, 1787227200.5);
    assert_string_equal(sb.buf, "0.1 NaN +Inf -Inf 0.30000000000000004 "
                                "1787227200.5");
    strbuf_reset(&sb);
    jw_open(&sb, NULL, '[');
    jw_double(&sb, NULL, NAN);
    jw_double(&sb, NULL, -INFINITY);
    jw_double(&sb, NULL, 42);
    jw_close(&sb, ']');
    assert_string_equal(sb.buf, "[null,\"-Inf\",42]");
    strbuf_reset(&sb);
    html_escape(&sb, "<a href='x'>&\"</a>");
    assert_string_equal(sb.buf, "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
                                "&lt;/a&gt;");
    strbuf_free(&sb);
}

static cJSON *parse(const struct strbuf *sb)
{
    cJSON *j = cJSON_ParseWithLength(sb->buf, sb->len);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring,
                        "success");
    return j;
}

static void test_alerts_json(void **state)
{
    (void)state;
    struct snapshot *s = build();
    struct strbuf sb = STRBUF_INIT;
    api_json_alerts(s, &sb);
    cJSON *j = parse(&sb);
    cJSON *alerts = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"),
                                        "alerts");
    assert_int_equal(cJSON_GetArraySize(alerts), 3);
    cJSON *a0 = cJSON_GetArrayItem(alerts, 0);
    assert_string_equal(cJSON_GetObjectItem(a0, "rule")->valuestring,
                        "discard-ratio");
    assert_string_equal(cJSON_GetObjectItem(a0, "state")->valuestring,
                        "firing");
    assert_string_equal(cJSON_GetObjectItem(a0, "severity")->valuestring,
                        "critical");
    assert_true(cJSON_GetObjectItem(a0, "value")->valuedouble == 0.025);
    assert_string_equal(cJSON_GetObjectItem(a0, "activeAt")->valuestring,
                        "2026-08-20T11:45:00Z");
    assert_string_equal(cJSON_GetObjectItem(a0, "firedAt")->valuestring,
                        "2026-08-20T11:55:00Z");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(a0, "labels"),
                                            "destination")->valuestring,
                        "Amplitude");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(a0, "flapping")));
    cJSON *a1 = cJSON_GetArrayItem(alerts, 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(a1, "value")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(a1, "firedAt")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(a1, "summary")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(a1, "silenced")));
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(a1, "labels"),
                                            "source")->valuestring,
                        "<script>alert(1)</script>");
    cJSON_Delete(j);
    strbuf_free(&sb);
    snapshot_release(s);
}

static void test_rules_status_silences_json(void **state)
{
    (void)state;
    struct snapshot *s = build();
    struct strbuf sb = STRBUF_INIT;

    api_json_rules(s, &sb);
    cJSON *j = parse(&sb);
    cJSON *rules = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "rules");
    assert_int_equal(cJSON_GetArraySize(rules), 3);
    cJSON *r0 = cJSON_GetArrayItem(rules, 0);
    assert_string_equal(cJSON_GetObjectItem(r0, "family")->valuestring,
                        "connection");
    assert_int_equal(cJSON_GetObjectItem(r0, "forSeconds")->valueint, 600);
    assert_string_equal(cJSON_GetObjectItem(r0, "warn")->valuestring,
                        "discard_ratio > 0.5% and attempted >= 100");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r0, "alerts"),
                                         "firing")->valueint, 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(rules, 1),
                                                 "warn")));
    cJSON_Delete(j);

    strbuf_reset(&sb);
    api_json_status(s, &sb);
    j = parse(&sb);
    cJSON *d = cJSON_GetObjectItem(j, "data");
    assert_string_equal(cJSON_GetObjectItem(d, "version")->valuestring,
                        "0.1.0");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "ready")));
    assert_int_equal(cJSON_GetObjectItem(d, "uptimeSeconds")->valueint,
                     3 * 3600 + 120);
    cJSON *ws = cJSON_GetObjectItem(d, "workspaces");
    assert_int_equal(cJSON_GetArraySize(ws), 2);
    cJSON *prod = cJSON_GetArrayItem(ws, 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(prod, "up")));
    assert_int_equal(cJSON_GetObjectItem(prod, "connections")->valueint, 12);
    cJSON *budget = cJSON_GetObjectItem(prod, "budget");
    assert_int_equal(
        cJSON_GetObjectItem(budget, "effectivePerMinute")->valueint, 45);
    assert_int_equal(
        cJSON_GetObjectItem(budget, "configuredPerMinute")->valueint, 60);
    cJSON *polls = cJSON_GetObjectItem(prod, "polls");
    cJSON *del = cJSON_GetObjectItem(polls, "delivery");
    assert_string_equal(cJSON_GetObjectItem(del, "lastOk")->valuestring,
                        "2026-08-20T11:59:48Z");
    assert_int_equal(cJSON_GetObjectItem(del, "stalenessSeconds")->valueint,
                     12);
    cJSON *stg = cJSON_GetArrayItem(ws, 1);
    cJSON *sdel = cJSON_GetObjectItem(cJSON_GetObjectItem(stg, "polls"),
                                      "delivery");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(sdel, "lastOk")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(sdel, "stalenessSeconds")));
    assert_string_equal(cJSON_GetObjectItem(sdel, "lastError")->valuestring,
                        "unauthorized: <b>bad token</b>");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(stg, "unauthorized")));
    cJSON *recv = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "receivers"), 1);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(recv, "failures"),
                                         "http_4xx")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "outbox"),
                                         "queued")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "alerts"),
                                         "firing")->valueint, 2);
    cJSON_Delete(j);

    strbuf_reset(&sb);
    api_json_silences(s, &sb);
    j = parse(&sb);
    cJSON *sil = cJSON_GetArrayItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "silences"), 0);
    assert_string_equal(cJSON_GetObjectItem(sil, "id")->valuestring,
                        "0123456789abcdef");
    assert_string_equal(cJSON_GetObjectItem(sil, "status")->valuestring,
                        "active");
    cJSON *ms = cJSON_GetObjectItem(sil, "matchers");
    assert_int_equal(cJSON_GetArraySize(ms), 2);
    assert_string_equal(cJSON_GetArrayItem(ms, 0)->valuestring,
                        "rule=source-silent");
    assert_string_equal(cJSON_GetArrayItem(ms, 1)->valuestring, "source=*");
    assert_string_equal(cJSON_GetObjectItem(sil, "comment")->valuestring,
                        "maintenance & \"tests\"");
    cJSON_Delete(j);
    strbuf_free(&sb);
    snapshot_release(s);
}

static void test_html(void **state)
{
    (void)state;
    struct snapshot *s = build();
    struct strbuf sb = STRBUF_INIT;
    html_status_page(s, &sb);
    const char *h = sb.buf;
    assert_true(str_has_prefix(h, "<!DOCTYPE html>"));
    assert_non_null(strstr(h, "<meta http-equiv=\"refresh\" content=\"15\">"));
    const char *ids[] = { "workspaces", "alerts", "rules", "receivers",
                          "silences" };
    for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
        char want[64];
        snprintf(want, sizeof(want), "id=\"%s\"", ids[i]);
        assert_int_equal(count(h, want), 1);
    }
    /* hostile values are escaped, never raw */
    assert_null(strstr(h, "<script"));
    assert_non_null(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_null(strstr(h, "<b>bad token"));
    assert_non_null(strstr(h, "unauthorized: &lt;b&gt;bad token&lt;/b&gt;"));
    assert_non_null(strstr(h, "maintenance &amp; &quot;tests&quot;"));
    /* one row and one sparkline per alert */
    assert_int_equal(count(h, "<tr class=\"alert\""), 3);
    assert_int_equal(count(h, "<svg class=\"spark\""), 3);
    assert_non_null(strstr(h, "data-rule=\"discard-ratio\" "
                              "data-state=\"firing\""));
    assert_non_null(strstr(h, "data-rule=\"source-silent\" "
                              "data-state=\"pending\""));
    /* the sparkline is scaled to the points' range: t 0..600 s over
     * x 2.5..117.5, v 0..1 over y 21.5..2.5 */
    assert_non_null(strstr(h, "points=\"2.5,21.5 60.0,2.5 117.5,12.0\""));
    assert_non_null(strstr(h, "<circle cx=\"117.5\" cy=\"12.0\""));
    /* firing before pending; critical first */
    const char *p_disc = strstr(h, "data-rule=\"discard-ratio\" data-state");
    const char *p_mtu = strstr(h, "data-rule=\"mtu-forecast\" data-state");
    const char *p_src = strstr(h, "data-rule=\"source-silent\" data-state");
    assert_true(p_disc < p_mtu && p_mtu < p_src);
    /* readable values and times */
    assert_non_null(strstr(h, "2.5%"));
    assert_non_null(strstr(h, "5m ago"));
    assert_non_null(strstr(h, "ok 12s ago"));
    assert_non_null(strstr(h, "up 3h 2m"));
    assert_non_null(strstr(h, "41 / 45"));
    assert_non_null(strstr(h, "slowed from 60"));
    assert_non_null(strstr(h, ">silenced<"));
    assert_non_null(strstr(h, ">flapping<"));
    assert_non_null(strstr(h, "<code>discard_ratio &gt; 2% and attempted "
                              "&gt;= 100</code>"));
    assert_non_null(strstr(h, "href=\"https://wiki.example.com/discards\""));
    assert_true(str_has_prefix(h + sb.len - 8, "</html>\n"));
    strbuf_free(&sb);
    snapshot_release(s);
}

static void test_html_empty(void **state)
{
    (void)state;
    struct snapshot *s = snapshot_new();
    s->generated_at = NOW;
    s->nrules = 2;
    s->rules = xcalloc(2, sizeof(*s->rules));
    s->rules[0].name = xstrdup("a");
    s->rules[1].name = xstrdup("b");
    struct strbuf sb = STRBUF_INIT;
    html_status_page(s, &sb);
    assert_non_null(strstr(sb.buf, "No alerts &mdash; all 2 rules quiet"));
    assert_non_null(strstr(sb.buf, "id=\"workspaces\""));
    assert_non_null(strstr(sb.buf, ">starting<"));
    assert_int_equal(count(sb.buf, "<svg class=\"spark\""), 0);
    strbuf_reset(&sb);
    prom_render_metrics(s, &sb);
    assert_true(has_line(sb.buf, "segalert_ready 0"));
    assert_null(strstr(sb.buf, "segalert_workspace_up"));
    strbuf_reset(&sb);
    api_json_alerts(s, &sb);
    assert_string_equal(sb.buf, "{\"status\":\"success\",\"data\":"
                                "{\"alerts\":[]}}\n");
    strbuf_free(&sb);
    snapshot_release(s);

    /* a javascript: runbook must never become a link */
    s = snapshot_new();
    s->nalerts = 1;
    s->alerts = xcalloc(1, sizeof(*s->alerts));
    s->alerts[0].rule = xstrdup("x");
    s->alerts[0].state = xstrdup("firing");
    s->alerts[0].runbook_url = xstrdup("javascript:alert(1)");
    s->alerts[0].value = NAN;
    html_status_page(s, &sb);
    assert_null(strstr(sb.buf, "javascript:"));
    assert_int_equal(count(sb.buf, "<svg class=\"spark\""), 1);
    strbuf_free(&sb);
    snapshot_release(s);
}

static void test_snapshot_refs(void **state)
{
    (void)state;
    assert_null(snapshot_acquire());
    struct snapshot *s1 = build();
    snapshot_publish(s1);
    struct snapshot *r1 = snapshot_acquire();
    assert_ptr_equal(r1, s1);
    /* a reader keeps the old one alive across a publish */
    struct snapshot *s2 = snapshot_new();
    s2->generated_at = NOW + 15;
    snapshot_publish(s2);
    assert_true(r1->generated_at == NOW);
    assert_string_equal(r1->alerts[0].rule, "discard-ratio");
    struct snapshot *r2 = snapshot_acquire();
    assert_ptr_equal(r2, s2);
    snapshot_release(r1);
    snapshot_release(r2);
    snapshot_clear();
    assert_null(snapshot_acquire());
    /* releasing an unpublished snapshot frees it */
    snapshot_release(build());
    snapshot_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_lines),
        cmocka_unit_test(test_metrics_families),
        cmocka_unit_test(test_number_formats),
        cmocka_unit_test(test_alerts_json),
        cmocka_unit_test(test_rules_status_silences_json),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_html_empty),
        cmocka_unit_test(test_snapshot_refs),
    };
    return cmocka_run_group_tests(tests, NULL, free_pool);
}
