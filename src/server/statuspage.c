/*
 * statuspage.c - see statuspage.h.
 *
 * Output is built by hand into a strbuf rather than through cJSON: the
 * snapshot can hold thousands of series and /metrics is scraped every few
 * seconds, so the renderers stay allocation-light and single-pass.
 */
#include "server/statuspage.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify/notify.h"
#include "engine/template.h"

/* Order of snap_workspace.by_class[][] (as seg_client_stats). */
static const char *const code_classes[6] = {
    "2xx", "401_403", "404", "4xx", "429", "5xx"
};

/* ---- number formatting ----------------------------------------------- */

/* Shortest of 15..17 significant digits that reads back exactly. */
static void fmt_exact(char *buf, size_t len, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

void statuspage_prom_double(struct strbuf *out, double v)
{
    if (isnan(v)) {
        strbuf_adds(out, "NaN");
    } else if (isinf(v)) {
        strbuf_adds(out, v > 0 ? "+Inf" : "-Inf");
    } else {
        char buf[40];
        fmt_exact(buf, sizeof(buf), v);
        strbuf_adds(out, buf);
    }
}

void statuspage_json_double(struct strbuf *out, double v)
{
    if (isnan(v)) {
        strbuf_adds(out, "null");
    } else if (isinf(v)) {
        strbuf_adds(out, v > 0 ? "\"+Inf\"" : "\"-Inf\"");
    } else {
        char buf[40];
        fmt_exact(buf, sizeof(buf), v);
        strbuf_adds(out, buf);
    }
}

/* ---- Prometheus text format ---------------------------------------- */

/* HELP text escapes only backslash and newline. */
static void prom_help_escape(struct strbuf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            strbuf_adds(out, "\\\\");
        else if (*s == '\n')
            strbuf_adds(out, "\\n");
        else
            strbuf_addc(out, *s);
    }
}

static void prom_label_value(struct strbuf *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\')
            strbuf_adds(out, "\\\\");
        else if (*s == '"')
            strbuf_adds(out, "\\\"");
        else if (*s == '\n')
            strbuf_adds(out, "\\n");
        else
            strbuf_addc(out, *s);
    }
}

/* Label names must match [a-zA-Z_][a-zA-Z0-9_]*; names starting with "__"
 * are reserved, so a leading "__" gets an extra prefix. */
static void prom_label_name(struct strbuf *out, const char *s)
{
    if (!s || !*s) {
        strbuf_adds(out, "_");
        return;
    }
    if (s[0] >= '0' && s[0] <= '9')
        strbuf_addc(out, '_');
    if (s[0] == '_' && s[1] == '_')
        strbuf_adds(out, "label");
    for (; *s; s++) {
        char c = *s;
        bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '_';
        strbuf_addc(out, okc ? c : '_');
    }
}

static void prom_family(struct strbuf *out, const char *name,
                        const char *type, const char *help)
{
    strbuf_addf(out, "# HELP %s ", name);
    prom_help_escape(out, help);
    strbuf_addf(out, "\n# TYPE %s %s\n", name, type);
}

/* One sample: name{k1="v1",...} value; the variadic part is key, value
 * pairs (const char *) ended by NULL. */
static void prom_sample(struct strbuf *out, const char *name, double v, ...)
{
    strbuf_adds(out, name);
    va_list ap;
    va_start(ap, v);
    const char *k = va_arg(ap, const char *);
    if (k) {
        strbuf_addc(out, '{');
        bool first = true;
        while (k) {
            const char *val = va_arg(ap, const char *);
            if (!first)
                strbuf_addc(out, ',');
            first = false;
            prom_label_name(out, k);
            strbuf_adds(out, "=\"");
            prom_label_value(out, val);
            strbuf_addc(out, '"');
            k = va_arg(ap, const char *);
        }
        strbuf_addc(out, '}');
    }
    va_end(ap);
    strbuf_addc(out, ' ');
    statuspage_prom_double(out, v);
    strbuf_addc(out, '\n');
}

static void prom_kv_sample(struct strbuf *out, const char *name,
                           const struct kv *labels, size_t n, double v)
{
    strbuf_adds(out, name);
    if (n) {
        strbuf_addc(out, '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                strbuf_addc(out, ',');
            prom_label_name(out, labels[i].key);
            strbuf_adds(out, "=\"");
            prom_label_value(out, labels[i].value);
            strbuf_addc(out, '"');
        }
        strbuf_addc(out, '}');
    }
    strbuf_addc(out, ' ');
    statuspage_prom_double(out, v);
    strbuf_addc(out, '\n');
}

static size_t count_alerts(const struct snapshot *s, const char *state)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nalerts; i++)
        if (streq(s->alerts[i].state, state))
            n++;
    return n;
}

static size_t count_active_silences(const struct snapshot *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nsilences; i++)
        if (s->silences[i].active)
            n++;
    return n;
}

static const char *nn(const char *s)
{
    return s ? s : "";
}

/* Per-workspace gauge or counter with only the workspace label. */
#define WS_FAMILY(fam_, type_, help_, expr_)                               \
    do {                                                                    \
        prom_family(out, fam_, type_, help_);                               \
        for (size_t i = 0; i < s->nworkspaces; i++) {                       \
            const struct snap_workspace *w = &s->workspaces[i];             \
            prom_sample(out, fam_, (double)(expr_), "workspace",            \
                        nn(w->name), NULL);                                 \
        }                                                                   \
    } while (0)

static void self_metrics(const struct snapshot *s, struct strbuf *out)
{
    prom_family(out, "segalert_build_info", "gauge",
                "segalert build information (always 1).");
    prom_sample(out, "segalert_build_info", 1, "version",
                s->version ? s->version : SEGALERT_VERSION, NULL);
    prom_family(out, "segalert_start_time_seconds", "gauge",
                "Unix time segalert started.");
    prom_sample(out, "segalert_start_time_seconds", s->started_at, NULL);
    prom_family(out, "segalert_ready", "gauge",
                "1 once every workspace has been polled once.");
    prom_sample(out, "segalert_ready", s->ready ? 1 : 0, NULL);

    if (s->nworkspaces) {
        WS_FAMILY("segalert_workspace_up", "gauge",
                  "1 when the workspace's API answers with our token.",
                  w->up ? 1 : 0);
        WS_FAMILY("segalert_workspace_unauthorized", "gauge",
                  "1 when the API rejected the workspace's token (401/403).",
                  w->unauthorized ? 1 : 0);

        prom_family(out, "segalert_api_requests_total", "counter",
                    "Segment API responses by endpoint and status class.");
        for (size_t i = 0; i < s->nworkspaces; i++) {
            const struct snap_workspace *w = &s->workspaces[i];
            for (int ep = 0; ep < SEGEP__COUNT; ep++)
                for (int c = 0; c < 6; c++)
                    prom_sample(out, "segalert_api_requests_total",
                                (double)w->by_class[ep][c], "workspace",
                                nn(w->name), "endpoint",
                                seg_endpoint_name((enum seg_endpoint)ep),
                                "code_class", code_classes[c], NULL);
        }
        WS_FAMILY("segalert_api_rate_limited_total", "counter",
                  "Segment API requests answered with 429.", w->rate_limited);
        WS_FAMILY("segalert_api_retries_total", "counter",
                  "Segment API requests retried after a failure.", w->retries);
        WS_FAMILY("segalert_request_budget_per_minute", "gauge",
                  "Configured request budget (requests per minute).",
                  w->request_budget);
        WS_FAMILY("segalert_request_budget_effective_per_minute", "gauge",
                  "Request budget in force after slowing down on 429s.",
                  w->effective_budget);
        WS_FAMILY("segalert_api_requests_last_minute", "gauge",
                  "Segment API requests sent in the last minute.",
                  w->requests_last_minute);
        WS_FAMILY("segalert_api_requests_in_flight", "gauge",
                  "Segment API requests in flight.", w->in_flight);
        WS_FAMILY("segalert_api_requests_queued", "gauge",
                  "Segment API requests waiting for budget.", w->queued);

        prom_family(out, "segalert_poll_staleness_seconds", "gauge",
                    "Seconds since the last successful poll of a family.");
        for (size_t i = 0; i < s->nworkspaces; i++) {
            const struct snap_workspace *w = &s->workspaces[i];
            for (int k = 0; k < POLL__COUNT; k++)
                if (w->last_ok[k] > 0 && w->staleness_s[k] >= 0)
                    prom_sample(out, "segalert_poll_staleness_seconds",
                                w->staleness_s[k], "workspace", nn(w->name),
                                "family", poll_kind_name((enum poll_kind)k),
                                NULL);
        }
        prom_family(out, "segalert_poll_last_success_timestamp_seconds",
                    "gauge", "Unix time of the last successful poll.");
        for (size_t i = 0; i < s->nworkspaces; i++) {
            const struct snap_workspace *w = &s->workspaces[i];
            for (int k = 0; k < POLL__COUNT; k++)
                if (w->last_ok[k] > 0)
                    prom_sample(out,
                                "segalert_poll_last_success_timestamp_seconds",
                                w->last_ok[k], "workspace", nn(w->name),
                                "family", poll_kind_name((enum poll_kind)k),
                                NULL);
        }
        prom_family(out, "segalert_poll_errors_total", "counter",
                    "Failed polls by metric family.");
        for (size_t i = 0; i < s->nworkspaces; i++) {
            const struct snap_workspace *w = &s->workspaces[i];
            for (int k = 0; k < POLL__COUNT; k++)
                prom_sample(out, "segalert_poll_errors_total",
                            (double)w->errors[k], "workspace", nn(w->name),
                            "family", poll_kind_name((enum poll_kind)k), NULL);
        }
        WS_FAMILY("segalert_sources", "gauge",
                  "Sources selected for polling.", w->nsources);
        WS_FAMILY("segalert_connections", "gauge",
                  "Source to destination connections polled.",
                  w->nconnections);
        prom_family(out, "segalert_oldest_connection_age_seconds", "gauge",
                    "Age of the delivery metrics of the least recently "
                    "polled connection.");
        for (size_t i = 0; i < s->nworkspaces; i++) {
            const struct snap_workspace *w = &s->workspaces[i];
            if (w->oldest_connection_s >= 0)
                prom_sample(out, "segalert_oldest_connection_age_seconds",
                            w->oldest_connection_s, "workspace", nn(w->name),
                            NULL);
        }
    }

    prom_family(out, "segalert_rules", "gauge", "Rules loaded.");
    prom_sample(out, "segalert_rules", (double)s->nrules, NULL);
    prom_family(out, "segalert_evaluation_duration_seconds", "gauge",
                "Duration of the last evaluation pass.");
    prom_sample(out, "segalert_evaluation_duration_seconds",
                s->eval_duration_s, NULL);
    prom_family(out, "segalert_evaluations", "gauge",
                "(rule, series) evaluations in the last pass.");
    prom_sample(out, "segalert_evaluations", (double)s->eval_evaluations,
                NULL);
    prom_family(out, "segalert_last_evaluation_timestamp_seconds", "gauge",
                "Unix time of the last evaluation pass.");
    prom_sample(out, "segalert_last_evaluation_timestamp_seconds",
                s->last_eval_at, NULL);
    prom_family(out, "segalert_alerts", "gauge", "Alert instances by state.");
    static const char *const states[] = { "pending", "firing", "nodata" };
    for (size_t i = 0; i < ARRAY_SIZE(states); i++)
        prom_sample(out, "segalert_alerts",
                    (double)count_alerts(s, states[i]), "state", states[i],
                    NULL);

    prom_family(out, "segalert_notifications_total", "counter",
                "Notifications created, by reason.");
    for (int r = 0; r < NOTIFY__COUNT && r < 8; r++)
        prom_sample(out, "segalert_notifications_total",
                    (double)s->notifications_by_reason[r], "reason",
                    notify_reason_name((enum notify_reason)r), NULL);
    prom_family(out, "segalert_notifications_unrouted_total", "counter",
                "Alert transitions no route matched.");
    prom_sample(out, "segalert_notifications_unrouted_total",
                (double)s->unrouted, NULL);
    prom_family(out, "segalert_notifications_suppressed_short_lived_total",
                "counter",
                "Alerts that fired and resolved within group_wait.");
    prom_sample(out, "segalert_notifications_suppressed_short_lived_total",
                (double)s->suppressed_short_lived, NULL);

    if (s->nreceivers) {
        prom_family(out, "segalert_notifications_delivered_total", "counter",
                    "Notifications delivered, by receiver.");
        for (size_t i = 0; i < s->nreceivers; i++)
            prom_sample(out, "segalert_notifications_delivered_total",
                        (double)s->receivers[i].delivered, "receiver",
                        nn(s->receivers[i].name), NULL);
        prom_family(out, "segalert_notifications_failed_total", "counter",
                    "Notifications given up on, by receiver.");
        for (size_t i = 0; i < s->nreceivers; i++)
            prom_sample(out, "segalert_notifications_failed_total",
                        (double)s->receivers[i].failed, "receiver",
                        nn(s->receivers[i].name), NULL);
        prom_family(out, "segalert_notifications_retrying", "gauge",
                    "Notifications waiting for a retry, by receiver.");
        for (size_t i = 0; i < s->nreceivers; i++)
            prom_sample(out, "segalert_notifications_retrying",
                        (double)s->receivers[i].retrying, "receiver",
                        nn(s->receivers[i].name), NULL);
        prom_family(out, "segalert_notifications_failures_total", "counter",
                    "Permanent delivery failures, by receiver and reason.");
        for (size_t i = 0; i < s->nreceivers; i++) {
            const struct snap_receiver *r = &s->receivers[i];
            for (size_t j = 0; j < r->nfailures; j++) {
                double v = 0;
                if (parse_double(nn(r->failures[j].value), &v) != 0)
                    continue;
                prom_sample(out, "segalert_notifications_failures_total", v,
                            "receiver", nn(r->name), "reason",
                            nn(r->failures[j].key), NULL);
            }
        }
    }

    prom_family(out, "segalert_outbox_queued", "gauge",
                "Notifications in the outbox (queued or retrying).");
    prom_sample(out, "segalert_outbox_queued", (double)s->outbox_queued, NULL);
    prom_family(out, "segalert_silences_active", "gauge", "Active silences.");
    prom_sample(out, "segalert_silences_active",
                (double)count_active_silences(s), NULL);
}

void statuspage_metrics(const struct snapshot *s, struct strbuf *out)
{
    self_metrics(s, out);
    /* One block per metric over every series that has it. */
    for (int m = 0; m < M__COUNT; m++) {
        bool any = false;
        for (size_t i = 0; i < s->nseries && !any; i++)
            any = s->series[i].has[m];
        if (!any)
            continue;
        char name[96];
        snprintf(name, sizeof(name), "segment_%s", metric_table[m].name);
        prom_family(out, name, "gauge", metric_table[m].help);
        for (size_t i = 0; i < s->nseries; i++) {
            const struct snap_series *se = &s->series[i];
            if (se->has[m])
                prom_kv_sample(out, name, se->labels, se->nlabels, se->v[m]);
        }
    }
}

/* ---- JSON ------------------------------------------------------------ */

static void json_key(struct strbuf *out, bool *first, const char *key)
{
    if (!*first)
        strbuf_addc(out, ',');
    *first = false;
    strbuf_add_json_str(out, key);
    strbuf_addc(out, ':');
}

static void json_str_or_null(struct strbuf *out, const char *s)
{
    if (s)
        strbuf_add_json_str(out, s);
    else
        strbuf_adds(out, "null");
}

/* RFC 3339 time, or null for 0 (never). */
static void json_time(struct strbuf *out, double t)
{
    if (t > 0 && isfinite(t)) {
        char buf[40];
        format_iso8601(t, buf, sizeof(buf));
        strbuf_add_json_str(out, buf);
    } else {
        strbuf_adds(out, "null");
    }
}

static void json_labels(struct strbuf *out, const struct kv *l, size_t n)
{
    strbuf_addc(out, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_addc(out, ',');
        strbuf_add_json_str(out, nn(l[i].key));
        strbuf_addc(out, ':');
        strbuf_add_json_str(out, nn(l[i].value));
    }
    strbuf_addc(out, '}');
}

static const char *bool_str(bool b)
{
    return b ? "true" : "false";
}

static void alert_json(struct strbuf *out, const struct snap_alert *a)
{
    strbuf_adds(out, "{\"rule\":");
    strbuf_add_json_str(out, nn(a->rule));
    strbuf_adds(out, ",\"labels\":");
    json_labels(out, a->labels, a->nlabels);
    strbuf_adds(out, ",\"state\":");
    strbuf_add_json_str(out, nn(a->state));
    strbuf_adds(out, ",\"severity\":");
    strbuf_add_json_str(out, nn(a->severity));
    strbuf_adds(out, ",\"value\":");
    statuspage_json_double(out, a->value);
    strbuf_adds(out, ",\"activeAt\":");
    json_time(out, a->active_at);
    strbuf_adds(out, ",\"firedAt\":");
    json_time(out, a->fired_at);
    strbuf_adds(out, ",\"summary\":");
    json_str_or_null(out, a->summary);
    strbuf_adds(out, ",\"runbookUrl\":");
    json_str_or_null(out, a->runbook_url);
    strbuf_addf(out, ",\"flapping\":%s,\"silenced\":%s}",
                bool_str(a->flapping), bool_str(a->silenced));
}

void statuspage_alerts_json(const struct snapshot *s, struct strbuf *out)
{
    strbuf_adds(out, "{\"status\":\"success\",\"data\":{\"alerts\":[");
    for (size_t i = 0; i < s->nalerts; i++) {
        if (i)
            strbuf_addc(out, ',');
        alert_json(out, &s->alerts[i]);
    }
    strbuf_adds(out, "]}}\n");
}

void statuspage_rules_json(const struct snapshot *s, struct strbuf *out)
{
    strbuf_adds(out, "{\"status\":\"success\",\"data\":{\"rules\":[");
    for (size_t i = 0; i < s->nrules; i++) {
        const struct snap_rule *r = &s->rules[i];
        if (i)
            strbuf_addc(out, ',');
        strbuf_adds(out, "{\"name\":");
        strbuf_add_json_str(out, nn(r->name));
        strbuf_adds(out, ",\"family\":");
        strbuf_add_json_str(out, nn(r->family));
        strbuf_adds(out, ",\"expr\":");
        strbuf_add_json_str(out, nn(r->expr));
        strbuf_adds(out, ",\"warn\":");
        json_str_or_null(out, r->warn);
        strbuf_adds(out, ",\"severity\":");
        strbuf_add_json_str(out, nn(r->severity));
        strbuf_adds(out, ",\"forSeconds\":");
        statuspage_json_double(out, r->for_s);
        strbuf_adds(out, ",\"file\":");
        json_str_or_null(out, r->file);
        strbuf_addf(out, ",\"line\":%d,\"alerts\":{\"inactive\":%zu,"
                    "\"pending\":%zu,\"firing\":%zu}}",
                    r->line, r->inactive, r->pending, r->firing);
    }
    strbuf_adds(out, "]}}\n");
}

/* "rule=a, source=b*" -> ["rule=a","source=b*"]: split at ", " only where
 * a label name and '=' follow, so a glob holding ", " stays whole. */
static void json_matchers(struct strbuf *out, const char *m)
{
    strbuf_addc(out, '[');
    if (m && *m) {
        const char *start = m, *p = m;
        bool first = true;
        for (;;) {
            const char *cut = strstr(p, ", ");
            if (cut) {
                const char *q = cut + 2;
                const char *k = q;
                while ((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
                       (*k >= '0' && *k <= '9') || *k == '_')
                    k++;
                if (k == q || *k != '=') {
                    p = cut + 1;
                    continue;
                }
            }
            size_t len = cut ? (size_t)(cut - start) : strlen(start);
            char *one = xstrndup(start, len);
            if (!first)
                strbuf_addc(out, ',');
            first = false;
            strbuf_add_json_str(out, one);
            free(one);
            if (!cut)
                break;
            start = p = cut + 2;
        }
    }
    strbuf_addc(out, ']');
}

static const char *silence_status(const struct snapshot *s,
                                  const struct snap_silence *si)
{
    if (si->active)
        return "active";
    return si->starts_at > s->generated_at ? "pending" : "expired";
}

static void silence_json(const struct snapshot *s, struct strbuf *out,
                         const struct snap_silence *si)
{
    strbuf_adds(out, "{\"id\":");
    strbuf_add_json_str(out, nn(si->id));
    strbuf_adds(out, ",\"matchers\":");
    json_matchers(out, si->matchers);
    strbuf_adds(out, ",\"status\":");
    strbuf_add_json_str(out, silence_status(s, si));
    strbuf_adds(out, ",\"startsAt\":");
    json_time(out, si->starts_at);
    strbuf_adds(out, ",\"endsAt\":");
    json_time(out, si->ends_at);
    strbuf_adds(out, ",\"createdBy\":");
    json_str_or_null(out, si->created_by);
    strbuf_adds(out, ",\"comment\":");
    json_str_or_null(out, si->comment);
    strbuf_addc(out, '}');
}

void statuspage_silences_json(const struct snapshot *s, struct strbuf *out)
{
    strbuf_adds(out, "{\"status\":\"success\",\"data\":{\"silences\":[");
    for (size_t i = 0; i < s->nsilences; i++) {
        if (i)
            strbuf_addc(out, ',');
        silence_json(s, out, &s->silences[i]);
    }
    strbuf_adds(out, "]}}\n");
}

static void workspace_json(struct strbuf *out, const struct snap_workspace *w)
{
    bool f = true;
    strbuf_addc(out, '{');
    json_key(out, &f, "name");
    strbuf_add_json_str(out, nn(w->name));
    json_key(out, &f, "apiUrl");
    json_str_or_null(out, w->api_url);
    json_key(out, &f, "up");
    strbuf_adds(out, bool_str(w->up));
    json_key(out, &f, "unauthorized");
    strbuf_adds(out, bool_str(w->unauthorized));
    json_key(out, &f, "discovered");
    strbuf_adds(out, bool_str(w->discovered));
    json_key(out, &f, "sources");
    strbuf_addf(out, "%zu", w->nsources);
    json_key(out, &f, "connections");
    strbuf_addf(out, "%zu", w->nconnections);
    json_key(out, &f, "oldestConnectionSeconds");
    statuspage_json_double(out, w->oldest_connection_s >= 0
                                    ? w->oldest_connection_s : NAN);
    json_key(out, &f, "budget");
    strbuf_adds(out, "{\"configuredPerMinute\":");
    statuspage_json_double(out, w->request_budget);
    strbuf_adds(out, ",\"effectivePerMinute\":");
    statuspage_json_double(out, w->effective_budget);
    strbuf_adds(out, ",\"requestsLastMinute\":");
    statuspage_json_double(out, w->requests_last_minute);
    strbuf_addf(out, ",\"inFlight\":%d,\"queued\":%zu}", w->in_flight,
                w->queued);
    json_key(out, &f, "rateLimited");
    strbuf_addf(out, "%lu", w->rate_limited);
    json_key(out, &f, "retries");
    strbuf_addf(out, "%lu", w->retries);
    json_key(out, &f, "polls");
    strbuf_addc(out, '{');
    for (int k = 0; k < POLL__COUNT; k++) {
        if (k)
            strbuf_addc(out, ',');
        strbuf_add_json_str(out, poll_kind_name((enum poll_kind)k));
        strbuf_adds(out, ":{\"lastOk\":");
        json_time(out, w->last_ok[k]);
        strbuf_adds(out, ",\"stalenessSeconds\":");
        statuspage_json_double(out, w->last_ok[k] > 0 && w->staleness_s[k] >= 0
                                        ? w->staleness_s[k] : NAN);
        strbuf_addf(out, ",\"errors\":%lu,\"lastError\":", w->errors[k]);
        json_str_or_null(out, w->last_error[k]);
        strbuf_addc(out, '}');
    }
    strbuf_addc(out, '}');
    json_key(out, &f, "requests");
    strbuf_addc(out, '{');
    for (int ep = 0; ep < SEGEP__COUNT; ep++) {
        if (ep)
            strbuf_addc(out, ',');
        strbuf_add_json_str(out, seg_endpoint_name((enum seg_endpoint)ep));
        strbuf_addf(out, ":{\"sent\":%lu", w->requests[ep]);
        for (int c = 0; c < 6; c++)
            strbuf_addf(out, ",\"%s\":%lu", code_classes[c],
                        w->by_class[ep][c]);
        strbuf_addc(out, '}');
    }
    strbuf_addc(out, '}');
    strbuf_addc(out, '}');
}

static void receiver_json(struct strbuf *out, const struct snap_receiver *r)
{
    strbuf_adds(out, "{\"name\":");
    strbuf_add_json_str(out, nn(r->name));
    strbuf_adds(out, ",\"type\":");
    strbuf_add_json_str(out, nn(r->type));
    strbuf_addf(out, ",\"delivered\":%lu,\"failed\":%lu,\"retrying\":%lu",
                r->delivered, r->failed, r->retrying);
    strbuf_adds(out, ",\"failures\":{");
    for (size_t j = 0; j < r->nfailures; j++) {
        double v = 0;
        if (j)
            strbuf_addc(out, ',');
        strbuf_add_json_str(out, nn(r->failures[j].key));
        strbuf_addc(out, ':');
        if (parse_double(nn(r->failures[j].value), &v) != 0)
            v = NAN;
        statuspage_json_double(out, v);
    }
    strbuf_adds(out, "},\"lastError\":");
    json_str_or_null(out, r->last_error);
    strbuf_addc(out, '}');
}

void statuspage_status_json(const struct snapshot *s, struct strbuf *out)
{
    bool f = true;
    strbuf_adds(out, "{\"status\":\"success\",\"data\":{");
    json_key(out, &f, "version");
    strbuf_add_json_str(out, s->version ? s->version : SEGALERT_VERSION);
    json_key(out, &f, "startedAt");
    json_time(out, s->started_at);
    json_key(out, &f, "generatedAt");
    json_time(out, s->generated_at);
    json_key(out, &f, "uptimeSeconds");
    statuspage_json_double(out, s->started_at > 0
                                    ? s->generated_at - s->started_at : 0);
    json_key(out, &f, "ready");
    strbuf_adds(out, bool_str(s->ready));
    json_key(out, &f, "configPath");
    json_str_or_null(out, s->config_path);
    json_key(out, &f, "stateDir");
    json_str_or_null(out, s->state_dir);
    json_key(out, &f, "evaluation");
    strbuf_adds(out, "{\"durationSeconds\":");
    statuspage_json_double(out, s->eval_duration_s);
    strbuf_addf(out, ",\"evaluations\":%zu,\"lastAt\":", s->eval_evaluations);
    json_time(out, s->last_eval_at);
    strbuf_addf(out, ",\"rules\":%zu}", s->nrules);
    json_key(out, &f, "alerts");
    strbuf_addf(out, "{\"pending\":%zu,\"firing\":%zu,\"nodata\":%zu}",
                count_alerts(s, "pending"), count_alerts(s, "firing"),
                count_alerts(s, "nodata"));
    json_key(out, &f, "notifications");
    strbuf_adds(out, "{\"byReason\":{");
    for (int r = 0; r < NOTIFY__COUNT && r < 8; r++) {
        if (r)
            strbuf_addc(out, ',');
        strbuf_add_json_str(out, notify_reason_name((enum notify_reason)r));
        strbuf_addf(out, ":%lu", s->notifications_by_reason[r]);
    }
    strbuf_addf(out, "},\"unrouted\":%lu,\"suppressedShortLived\":%lu}",
                s->unrouted, s->suppressed_short_lived);
    json_key(out, &f, "outbox");
    strbuf_addf(out, "{\"queued\":%zu}", s->outbox_queued);
    json_key(out, &f, "workspaces");
    strbuf_addc(out, '[');
    for (size_t i = 0; i < s->nworkspaces; i++) {
        if (i)
            strbuf_addc(out, ',');
        workspace_json(out, &s->workspaces[i]);
    }
    strbuf_addc(out, ']');
    json_key(out, &f, "receivers");
    strbuf_addc(out, '[');
    for (size_t i = 0; i < s->nreceivers; i++) {
        if (i)
            strbuf_addc(out, ',');
        receiver_json(out, &s->receivers[i]);
    }
    strbuf_addc(out, ']');
    json_key(out, &f, "silences");
    strbuf_addc(out, '[');
    for (size_t i = 0; i < s->nsilences; i++) {
        if (i)
            strbuf_addc(out, ',');
        silence_json(s, out, &s->silences[i]);
    }
    strbuf_adds(out, "]}}\n");
}

/* ---- HTML ------------------------------------------------------------- */

void statuspage_html_escape(struct strbuf *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': strbuf_adds(out, "&amp;"); break;
        case '<': strbuf_adds(out, "&lt;"); break;
        case '>': strbuf_adds(out, "&gt;"); break;
        case '"': strbuf_adds(out, "&quot;"); break;
        case '\'': strbuf_adds(out, "&#39;"); break;
        default: strbuf_addc(out, *s);
        }
    }
}

#define H(s) statuspage_html_escape(out, (s))

/* "12s", "4m", "2h 5m", "3d 4h": coarse enough to read at a glance. */
void statuspage_format_age(double age, char *buf, size_t len)
{
    if (!isfinite(age) || age < 0)
        age = 0;
    long s = (long)(age + 0.5);
    if (s < 60)
        snprintf(buf, len, "%lds", s);
    else if (s < 3600)
        snprintf(buf, len, "%ldm", s / 60);
    else if (s < 86400)
        snprintf(buf, len, "%ldh %ldm", s / 3600, (s % 3600) / 60);
    else
        snprintf(buf, len, "%ldd %ldh", s / 86400, (s % 86400) / 3600);
}

/* <time> with an absolute title: "5m ago" / "in 2h 0m". */
static void html_when(struct strbuf *out, const struct snapshot *s, double t)
{
    if (!(t > 0)) {
        strbuf_adds(out, "<span class=\"muted\">never</span>");
        return;
    }
    char iso[40], age[40];
    format_iso8601(t, iso, sizeof(iso));
    double d = s->generated_at - t;
    statuspage_format_age(fabs(d), age, sizeof(age));
    strbuf_addf(out, "<time datetime=\"%s\" title=\"%s\">", iso, iso);
    if (d >= 0)
        strbuf_addf(out, "%s ago</time>", age);
    else
        strbuf_addf(out, "in %s</time>", age);
}

static void html_value(struct strbuf *out, const struct snap_alert *a)
{
    struct strbuf v = STRBUF_INIT;
    const char *m = a->spark_metric;
    bool ratio = m && strlen(m) > 6 && streq(m + strlen(m) - 6, "_ratio");
    if (isnan(a->value))
        strbuf_adds(&v, "no data");
    else if (ratio)
        template_format_pct(a->value, &v);
    else if (fabs(a->value) >= 10000)
        template_format_si(a->value, &v);
    else
        template_format_number(a->value, &v);
    struct strbuf exact = STRBUF_INIT;
    statuspage_prom_double(&exact, a->value);
    strbuf_adds(out, "<span title=\"");
    H(exact.buf);
    strbuf_adds(out, "\">");
    H(v.buf);
    strbuf_adds(out, "</span>");
    strbuf_free(&v);
    strbuf_free(&exact);
}

/* An inline sparkline of the alert's recent values: a polyline scaled to
 * the points' own range (the shape matters, not the axis) and a dot on
 * the newest point.  Always emitted, empty when there is nothing to draw,
 * so every alert row has exactly one. */
static void html_spark(struct strbuf *out, const struct snap_alert *a)
{
    const double W = 120, Hh = 24, pad = 2.5;
    double tmin = INFINITY, tmax = -INFINITY, vmin = INFINITY,
           vmax = -INFINITY;
    size_t n = 0;
    for (size_t i = 0; i < a->nspark; i++) {
        const struct snap_point *p = &a->spark[i];
        if (!isfinite(p->t) || !isfinite(p->v))
            continue;
        n++;
        tmin = fmin(tmin, p->t);
        tmax = fmax(tmax, p->t);
        vmin = fmin(vmin, p->v);
        vmax = fmax(vmax, p->v);
    }
    strbuf_adds(out, "<svg class=\"spark\" width=\"120\" height=\"24\" "
                     "viewBox=\"0 0 120 24\" role=\"img\" "
                     "xmlns=\"http://www.w3.org/2000/svg\">");
    if (n == 0) {
        strbuf_adds(out, "<title>no recent values</title>"
                         "<line class=\"none\" x1=\"2\" y1=\"12\" x2=\"118\" "
                         "y2=\"12\"/></svg>");
        return;
    }
    strbuf_adds(out, "<title>");
    H(a->spark_metric ? a->spark_metric : "value");
    struct strbuf lo = STRBUF_INIT, hi = STRBUF_INIT;
    template_format_number(vmin, &lo);
    template_format_number(vmax, &hi);
    strbuf_addf(out, ": %zu points, min %s, max %s</title>", n, lo.buf,
                hi.buf);
    strbuf_free(&lo);
    strbuf_free(&hi);
    strbuf_adds(out, "<polyline points=\"");
    double lx = 0, ly = 0;
    bool first = true;
    for (size_t i = 0; i < a->nspark; i++) {
        const struct snap_point *p = &a->spark[i];
        if (!isfinite(p->t) || !isfinite(p->v))
            continue;
        double x = tmax > tmin ? pad + (p->t - tmin) / (tmax - tmin) *
                                           (W - 2 * pad)
                               : W - pad;
        double y = vmax > vmin ? Hh - pad - (p->v - vmin) / (vmax - vmin) *
                                                (Hh - 2 * pad)
                               : Hh / 2;
        strbuf_addf(out, "%s%.1f,%.1f", first ? "" : " ", x, y);
        first = false;
        lx = x;
        ly = y;
    }
    strbuf_addf(out, "\"/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\"/></svg>",
                lx, ly);
}

static const char *const page_css =
    ":root{--bg:#f5f6f8;--card:#fff;--fg:#1d2330;--muted:#667085;"
    "--line:#e4e7ec;--crit:#d92d20;--warn:#f79009;--ok:#12b76a;"
    "--info:#2e90fa}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--fg);"
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,"
    "'Helvetica Neue',Arial,sans-serif}"
    "header{background:#101828;color:#f2f4f7;padding:14px 28px;display:flex;"
    "align-items:center;gap:14px;flex-wrap:wrap}"
    "header h1{font-size:19px;margin:0;font-weight:700;letter-spacing:.2px}"
    "header .meta{color:#98a2b3;font-size:13px}"
    "header .totals{margin-left:auto;display:flex;gap:8px;flex-wrap:wrap}"
    "main{max-width:1440px;margin:0 auto;padding:20px 28px 8px}"
    "section{background:var(--card);border:1px solid var(--line);"
    "border-radius:10px;margin:0 0 20px;overflow:hidden;"
    "box-shadow:0 1px 2px rgba(16,24,40,.04)}"
    "section h2{font-size:15px;margin:0;padding:11px 16px;"
    "border-bottom:1px solid var(--line);display:flex;gap:8px;"
    "align-items:baseline}"
    "h2 .count{color:var(--muted);font-weight:400;font-size:13px}"
    "table{width:100%;border-collapse:collapse}"
    "th,td{text-align:left;padding:8px 12px;border-bottom:1px solid "
    "var(--line);vertical-align:top}"
    "th{font-size:11.5px;font-weight:600;color:var(--muted);"
    "text-transform:uppercase;letter-spacing:.05em;background:#fafbfc;"
    "white-space:nowrap}"
    "tbody tr:last-child td{border-bottom:0}"
    "tbody tr:hover td{background:#fcfcfd}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}"
    ".badge{display:inline-block;padding:1px 8px;border-radius:999px;"
    "font-size:12px;font-weight:600;white-space:nowrap;margin:1px 0}"
    ".b-ok{background:#ecfdf3;color:#027a48}"
    ".b-err{background:#fef3f2;color:#b42318}"
    ".b-warn{background:#fffaeb;color:#b54708}"
    ".b-muted{background:#f2f4f7;color:#475467}"
    ".b-critical{background:var(--crit);color:#fff}"
    ".b-warning{background:var(--warn);color:#fff}"
    ".b-info{background:var(--info);color:#fff}"
    ".b-pending{background:#fff;color:#b54708;box-shadow:inset 0 0 0 1px "
    "#fdb022}"
    ".b-nodata{background:#f2f4f7;color:#344054;box-shadow:inset 0 0 0 1px "
    "#98a2b3}"
    "header .badge.b-ok{background:#054f31;color:#a6f4c5}"
    "header .badge.b-warn{background:#4e1d09;color:#fedf89}"
    "header .badge.b-muted{background:#1d2939;color:#d0d5dd}"
    "code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"
    "monospace;background:#f2f4f7;padding:1px 5px;border-radius:4px;"
    "word-break:break-word}"
    ".chip{display:inline-block;font-size:12px;background:#f2f4f7;"
    "border-radius:4px;padding:0 6px;margin:1px 3px 1px 0;color:#344054;"
    "white-space:nowrap;max-width:260px;overflow:hidden;"
    "text-overflow:ellipsis;vertical-align:bottom}"
    ".chip i{font-style:normal;color:var(--muted)}"
    ".mark{font-size:11px;font-weight:600;border-radius:4px;padding:0 5px;"
    "margin-left:4px;text-transform:uppercase;letter-spacing:.03em}"
    ".m-silenced{background:#eef4ff;color:#3538cd}"
    ".m-flapping{background:#fdf2fa;color:#c11574}"
    ".muted{color:var(--muted)}.small{font-size:12px}"
    ".err{color:#b42318;font-size:12px;max-width:280px;"
    "word-break:break-word}"
    ".empty{padding:26px 16px;text-align:center;color:var(--muted)}"
    ".empty strong{display:block;font-size:16px;color:#027a48;"
    "margin-bottom:2px}"
    ".bar{width:130px;height:6px;background:#eaecf0;border-radius:3px;"
    "overflow:hidden;margin:4px 0 2px}"
    ".bar span{display:block;height:100%;background:var(--info)}"
    ".bar span.hot{background:var(--warn)}"
    "tr.alert td:first-child{border-left:3px solid transparent}"
    "tr.alert[data-severity=critical][data-state=firing] td:first-child"
    "{border-left-color:var(--crit)}"
    "tr.alert[data-severity=warning][data-state=firing] td:first-child"
    "{border-left-color:var(--warn)}"
    "tr.alert[data-state=pending] td:first-child{border-left-color:#fdb022}"
    "svg.spark{display:block;overflow:visible}"
    "svg.spark polyline{fill:none;stroke:#475467;stroke-width:1.5;"
    "stroke-linejoin:round;stroke-linecap:round}"
    "svg.spark circle{fill:#475467}"
    "svg.spark line.none{stroke:#d0d5dd;stroke-dasharray:3 3}"
    "tr[data-severity=critical][data-state=firing] svg.spark polyline"
    "{stroke:var(--crit)}"
    "tr[data-severity=critical][data-state=firing] svg.spark circle"
    "{fill:var(--crit)}"
    "tr[data-severity=warning][data-state=firing] svg.spark polyline"
    "{stroke:#dc6803}"
    "tr[data-severity=warning][data-state=firing] svg.spark circle"
    "{fill:#dc6803}"
    "tr.expired td{color:var(--muted)}"
    "td strong,time{white-space:nowrap}"
    "a{color:#175cd3;text-decoration:none}a:hover{text-decoration:underline}"
    "footer{color:var(--muted);font-size:12px;text-align:center;"
    "padding:4px 0 24px}"
    "footer a{margin:0 6px}";

static int severity_rank(const char *sev)
{
    if (streq(sev, "critical"))
        return 0;
    if (streq(sev, "warning"))
        return 1;
    return 2;
}

static int state_rank(const char *st)
{
    if (streq(st, "firing"))
        return 0;
    if (streq(st, "nodata"))
        return 1;
    if (streq(st, "pending"))
        return 2;
    return 3;
}

/* Firing before no data before pending; critical first; then oldest. */
static int alert_cmp(const void *pa, const void *pb)
{
    const struct snap_alert *a = *(const struct snap_alert *const *)pa;
    const struct snap_alert *b = *(const struct snap_alert *const *)pb;
    int d = state_rank(a->state) - state_rank(b->state);
    if (d)
        return d;
    d = severity_rank(a->severity) - severity_rank(b->severity);
    if (d)
        return d;
    int c = strcmp(nn(a->rule), nn(b->rule));
    if (c)
        return c;
    return (a->active_at > b->active_at) - (a->active_at < b->active_at);
}

static const char *sev_class(const char *sev)
{
    if (streq(sev, "critical"))
        return "b-critical";
    if (streq(sev, "warning"))
        return "b-warning";
    return "b-info";
}

static void html_header(const struct snapshot *s, struct strbuf *out,
                        size_t firing, size_t pending)
{
    char age[40];
    strbuf_adds(out, "<header><h1>segalert</h1><span class=\"meta\">");
    H(s->version ? s->version : SEGALERT_VERSION);
    if (s->started_at > 0) {
        statuspage_format_age(s->generated_at - s->started_at, age,
                              sizeof(age));
        strbuf_addf(out, " &middot; up %s", age);
    }
    strbuf_adds(out, "</span>");
    if (s->ready)
        strbuf_adds(out, "<span class=\"badge b-ok\" id=\"readiness\">"
                         "ready</span>");
    else
        strbuf_adds(out, "<span class=\"badge b-warn\" id=\"readiness\" "
                         "title=\"waiting for the first poll of every "
                         "workspace\">starting</span>");
    strbuf_adds(out, "<div class=\"totals\">");
    strbuf_addf(out, "<span class=\"badge %s\">%zu firing</span>",
                firing ? "b-critical" : "b-muted", firing);
    strbuf_addf(out, "<span class=\"badge %s\">%zu pending</span>",
                pending ? "b-warn" : "b-muted", pending);
    size_t up = 0;
    for (size_t i = 0; i < s->nworkspaces; i++)
        if (s->workspaces[i].up)
            up++;
    strbuf_addf(out, "<span class=\"badge %s\">%zu/%zu workspaces up</span>",
                up == s->nworkspaces ? "b-muted" : "b-critical", up,
                s->nworkspaces);
    strbuf_adds(out, "</div></header>\n");
}

static void html_poll_cell(const struct snapshot *s, struct strbuf *out,
                           const struct snap_workspace *w, int k)
{
    char age[40];
    strbuf_adds(out, "<td>");
    const char *err = w->last_error[k];
    if (err && *err) {
        strbuf_adds(out, "<span class=\"badge b-err\" title=\"");
        H(err);
        strbuf_adds(out, "\">error</span><div class=\"err\">");
        /* Long API messages are cut on the page; the title has it all. */
        if (strlen(err) > 120) {
            char *cut = xstrndup(err, 117);
            H(cut);
            strbuf_adds(out, "&hellip;");
            free(cut);
        } else {
            H(err);
        }
        strbuf_adds(out, "</div>");
        if (w->last_ok[k] > 0) {
            statuspage_format_age(s->generated_at - w->last_ok[k], age,
                                  sizeof(age));
            strbuf_addf(out, "<div class=\"small muted\">last ok %s ago"
                             "</div>", age);
        }
    } else if (w->last_ok[k] > 0) {
        char iso[40];
        format_iso8601(w->last_ok[k], iso, sizeof(iso));
        statuspage_format_age(w->staleness_s[k] >= 0
                                  ? w->staleness_s[k]
                                  : s->generated_at - w->last_ok[k],
                              age, sizeof(age));
        strbuf_addf(out, "<span class=\"badge b-ok\" title=\"last success "
                         "%s\">ok %s ago</span>", iso, age);
    } else {
        strbuf_adds(out, "<span class=\"badge b-muted\">not yet</span>");
    }
    if (w->errors[k])
        strbuf_addf(out, "<div class=\"small muted\">%lu error%s</div>",
                    w->errors[k], w->errors[k] == 1 ? "" : "s");
    strbuf_adds(out, "</td>");
}

static void html_workspaces(const struct snapshot *s, struct strbuf *out)
{
    char age[40];
    strbuf_addf(out, "<section id=\"workspaces\"><h2>Workspaces "
                     "<span class=\"count\">%zu</span></h2>\n",
                s->nworkspaces);
    if (!s->nworkspaces) {
        strbuf_adds(out, "<div class=\"empty\">No workspaces configured"
                         "</div></section>\n");
        return;
    }
    strbuf_adds(out, "<table><thead><tr><th>Workspace</th><th>Status</th>");
    static const int order[] = { POLL_DELIVERY, POLL_VOLUME, POLL_USAGE,
                                 POLL_DISCOVERY };
    for (size_t k = 0; k < ARRAY_SIZE(order); k++) {
        strbuf_adds(out, "<th>");
        H(poll_kind_name((enum poll_kind)order[k]));
        strbuf_adds(out, "</th>");
    }
    strbuf_adds(out, "<th>Budget use</th><th>Staleness</th>"
                     "<th>Connections</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < s->nworkspaces; i++) {
        const struct snap_workspace *w = &s->workspaces[i];
        strbuf_adds(out, "<tr class=\"workspace\" data-workspace=\"");
        H(w->name);
        strbuf_adds(out, "\"><td><strong>");
        H(w->name);
        strbuf_adds(out, "</strong>");
        if (w->api_url) {
            strbuf_adds(out, "<div class=\"small muted\">");
            H(w->api_url);
            strbuf_adds(out, "</div>");
        }
        strbuf_adds(out, "</td><td>");
        if (w->unauthorized)
            strbuf_adds(out, "<span class=\"badge b-err\" title=\"the API "
                             "rejected the token\">unauthorized</span>");
        else if (w->up)
            strbuf_adds(out, "<span class=\"badge b-ok\">up</span>");
        else if (!w->discovered && w->last_ok[POLL_DISCOVERY] <= 0 &&
                 !w->errors[POLL_DISCOVERY])
            strbuf_adds(out, "<span class=\"badge b-muted\">starting</span>");
        else
            strbuf_adds(out, "<span class=\"badge b-err\">down</span>");
        strbuf_adds(out, "</td>");
        for (size_t k = 0; k < ARRAY_SIZE(order); k++)
            html_poll_cell(s, out, w, order[k]);

        /* Budget: what was achieved against what is allowed now. */
        double eff = w->effective_budget > 0 ? w->effective_budget
                                             : w->request_budget;
        double pct = eff > 0 ? 100 * w->requests_last_minute / eff : 0;
        if (pct > 100)
            pct = 100;
        strbuf_addf(out, "<td class=\"budget\"><span class=\"num\">%.0f / "
                         "%.0f</span> <span class=\"small muted\">per min"
                         "</span><div class=\"bar\"><span%s style=\"width:"
                         "%.0f%%\"></span></div>",
                    w->requests_last_minute, eff,
                    pct >= 95 ? " class=\"hot\"" : "", pct);
        if (w->effective_budget > 0 &&
            w->effective_budget < w->request_budget - 1e-9)
            strbuf_addf(out, "<div class=\"small\" style=\"color:#b54708\">"
                             "slowed from %.0f after 429s</div>",
                        w->request_budget);
        strbuf_addf(out, "<div class=\"small muted\">%d in flight &middot; "
                         "%zu queued &middot; %lu &times; 429</div></td>",
                    w->in_flight, w->queued, w->rate_limited);

        strbuf_adds(out, "<td>");
        if (w->oldest_connection_s >= 0) {
            statuspage_format_age(w->oldest_connection_s, age, sizeof(age));
            strbuf_addf(out, "<span class=\"num\">%s</span><div class=\"small "
                             "muted\">oldest connection</div>", age);
        } else {
            strbuf_adds(out, "<span class=\"muted\">&ndash;</span>");
        }
        strbuf_addf(out, "</td><td class=\"num\">%zu<div class=\"small "
                         "muted\">%zu source%s</div></td></tr>\n",
                    w->nconnections, w->nsources,
                    w->nsources == 1 ? "" : "s");
    }
    strbuf_adds(out, "</tbody></table></section>\n");
}

/* Labels worth reading in the table; ids, rule and severity (shown in
 * their own columns or of little use to a person) go to the tooltip. */
static bool key_label(const char *k)
{
    if (streq(k, "rule") || streq(k, "severity") || streq(k, "alertname"))
        return false;
    size_t n = strlen(k);
    return !(n > 3 && streq(k + n - 3, "_id"));
}

static void html_alert_row(const struct snapshot *s, struct strbuf *out,
                           const struct snap_alert *a)
{
    strbuf_adds(out, "<tr class=\"alert\" data-rule=\"");
    H(a->rule);
    strbuf_adds(out, "\" data-state=\"");
    H(a->state);
    strbuf_adds(out, "\" data-severity=\"");
    H(a->severity);
    strbuf_adds(out, "\"><td>");
    if (streq(a->state, "firing")) {
        strbuf_addf(out, "<span class=\"badge %s\">", sev_class(a->severity));
        H(a->severity);
        strbuf_adds(out, "</span>");
    } else if (streq(a->state, "nodata")) {
        strbuf_adds(out, "<span class=\"badge b-nodata\">no data</span>");
    } else {
        strbuf_adds(out, "<span class=\"badge b-pending\">");
        H(a->state);
        strbuf_adds(out, "</span>");
    }
    if (!streq(a->state, "firing")) {
        strbuf_adds(out, "<div class=\"small muted\">");
        H(a->severity);
        strbuf_adds(out, "</div>");
    }
    strbuf_adds(out, "</td><td><strong>");
    H(a->rule);
    strbuf_adds(out, "</strong>");
    if (a->silenced)
        strbuf_adds(out, "<span class=\"mark m-silenced\" title=\"an active "
                         "silence matches: not notified\">silenced</span>");
    if (a->flapping)
        strbuf_adds(out, "<span class=\"mark m-flapping\" title=\"changing "
                         "state too often: notifications paused\">flapping"
                         "</span>");
    strbuf_adds(out, "</td><td title=\"");
    for (size_t j = 0; j < a->nlabels; j++) {
        H(a->labels[j].key);
        strbuf_addc(out, '=');
        H(a->labels[j].value);
        strbuf_adds(out, "&#10;");
    }
    strbuf_adds(out, "\">");
    for (size_t j = 0; j < a->nlabels; j++) {
        if (!key_label(nn(a->labels[j].key)))
            continue;
        strbuf_adds(out, "<span class=\"chip\"><i>");
        H(a->labels[j].key);
        strbuf_adds(out, "=</i>");
        H(a->labels[j].value);
        strbuf_adds(out, "</span>");
    }
    strbuf_adds(out, "</td><td class=\"num\">");
    html_value(out, a);
    strbuf_adds(out, "</td><td>");
    double since = streq(a->state, "firing") && a->fired_at > 0
                       ? a->fired_at : a->active_at;
    html_when(out, s, since);
    strbuf_adds(out, "</td><td>");
    if (a->summary && *a->summary)
        H(a->summary);
    else
        strbuf_adds(out, "<span class=\"muted\">&ndash;</span>");
    if (a->runbook_url && (str_has_prefix(a->runbook_url, "https://") ||
                           str_has_prefix(a->runbook_url, "http://"))) {
        /* Only http(s) links: a javascript: URL must not become one. */
        strbuf_adds(out, " <a class=\"small\" href=\"");
        H(a->runbook_url);
        strbuf_adds(out, "\" rel=\"noopener noreferrer\">runbook</a>");
    }
    strbuf_adds(out, "</td><td>");
    html_spark(out, a);
    strbuf_adds(out, "</td></tr>\n");
}

static void html_alerts(const struct snapshot *s, struct strbuf *out)
{
    strbuf_addf(out, "<section id=\"alerts\"><h2>Alerts <span class=\"count\">"
                     "%zu</span></h2>\n", s->nalerts);
    if (!s->nalerts) {
        strbuf_addf(out, "<div class=\"empty\"><strong>No alerts &mdash; all "
                         "%zu rule%s quiet</strong>every instance is "
                         "inactive</div></section>\n",
                    s->nrules, s->nrules == 1 ? "" : "s");
        return;
    }
    const struct snap_alert **order = xmalloc(s->nalerts * sizeof(*order));
    for (size_t i = 0; i < s->nalerts; i++)
        order[i] = &s->alerts[i];
    qsort(order, s->nalerts, sizeof(*order), alert_cmp);
    strbuf_adds(out, "<table><thead><tr><th>State</th><th>Rule</th>"
                     "<th>Labels</th><th style=\"text-align:right\">Value</th>"
                     "<th>Since</th><th>Summary</th><th>Recent values</th>"
                     "</tr></thead><tbody>\n");
    for (size_t i = 0; i < s->nalerts; i++)
        html_alert_row(s, out, order[i]);
    strbuf_adds(out, "</tbody></table></section>\n");
    free(order);
}

static void html_rules(const struct snapshot *s, struct strbuf *out)
{
    char dur[40];
    strbuf_addf(out, "<section id=\"rules\"><h2>Rules <span class=\"count\">"
                     "%zu</span></h2>\n", s->nrules);
    if (!s->nrules) {
        strbuf_adds(out, "<div class=\"empty\">No rules loaded: add rule "
                         "files with <code>rule_files</code></div>"
                         "</section>\n");
        return;
    }
    strbuf_adds(out, "<table><thead><tr><th>Rule</th><th>Family</th>"
                     "<th>Expression</th><th>For</th><th>Severity</th>"
                     "<th>Instances</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < s->nrules; i++) {
        const struct snap_rule *r = &s->rules[i];
        strbuf_adds(out, "<tr class=\"rule\" data-rule=\"");
        H(r->name);
        strbuf_adds(out, "\"><td><strong>");
        H(r->name);
        strbuf_adds(out, "</strong>");
        if (r->file) {
            strbuf_adds(out, "<div class=\"small muted\">");
            H(r->file);
            strbuf_addf(out, ":%d</div>", r->line);
        }
        strbuf_adds(out, "</td><td>");
        H(r->family);
        strbuf_adds(out, "</td><td><code>");
        H(r->expr);
        strbuf_adds(out, "</code>");
        if (r->warn) {
            strbuf_adds(out, "<div class=\"small\" style=\"margin-top:3px\">"
                             "<span class=\"muted\">warn</span> <code>");
            H(r->warn);
            strbuf_adds(out, "</code></div>");
        }
        strbuf_adds(out, "</td><td>");
        if (r->for_s > 0) {
            format_duration(r->for_s, dur, sizeof(dur));
            H(dur);
        } else {
            strbuf_adds(out, "<span class=\"muted\">&ndash;</span>");
        }
        strbuf_adds(out, "</td><td>");
        H(r->severity);
        strbuf_adds(out, "</td><td>");
        if (r->firing)
            strbuf_addf(out, "<span class=\"badge b-err\">%zu firing</span> ",
                        r->firing);
        if (r->pending)
            strbuf_addf(out, "<span class=\"badge b-warn\">%zu pending</span> ",
                        r->pending);
        strbuf_addf(out, "<span class=\"badge b-muted\">%zu ok</span>"
                         "</td></tr>\n", r->inactive);
    }
    strbuf_adds(out, "</tbody></table></section>\n");
}

static void html_receivers(const struct snapshot *s, struct strbuf *out)
{
    strbuf_addf(out, "<section id=\"receivers\"><h2>Receivers <span "
                     "class=\"count\">%zu</span></h2>\n", s->nreceivers);
    if (!s->nreceivers) {
        strbuf_adds(out, "<div class=\"empty\">No receivers</div>"
                         "</section>\n");
        return;
    }
    strbuf_adds(out, "<table><thead><tr><th>Receiver</th><th>Type</th>"
                     "<th style=\"text-align:right\">Delivered</th>"
                     "<th style=\"text-align:right\">Failed</th>"
                     "<th style=\"text-align:right\">Retrying</th>"
                     "<th>Failures by reason</th><th>Last error</th></tr>"
                     "</thead><tbody>\n");
    for (size_t i = 0; i < s->nreceivers; i++) {
        const struct snap_receiver *r = &s->receivers[i];
        strbuf_adds(out, "<tr class=\"receiver\"><td><strong>");
        H(r->name);
        strbuf_adds(out, "</strong></td><td>");
        H(r->type);
        strbuf_addf(out, "</td><td class=\"num\">%lu</td>", r->delivered);
        strbuf_addf(out, "<td class=\"num\">%s%lu%s</td>",
                    r->failed ? "<span class=\"badge b-err\">" : "",
                    r->failed, r->failed ? "</span>" : "");
        strbuf_addf(out, "<td class=\"num\">%s%lu%s</td><td>",
                    r->retrying ? "<span class=\"badge b-warn\">" : "",
                    r->retrying, r->retrying ? "</span>" : "");
        if (!r->nfailures)
            strbuf_adds(out, "<span class=\"muted\">&ndash;</span>");
        for (size_t j = 0; j < r->nfailures; j++) {
            strbuf_adds(out, "<span class=\"chip\"><i>");
            H(r->failures[j].key);
            strbuf_adds(out, "</i> &times;");
            H(r->failures[j].value);
            strbuf_adds(out, "</span>");
        }
        strbuf_adds(out, "</td><td>");
        if (r->last_error) {
            strbuf_adds(out, "<div class=\"err\">");
            H(r->last_error);
            strbuf_adds(out, "</div>");
        } else {
            strbuf_adds(out, "<span class=\"muted\">&ndash;</span>");
        }
        strbuf_adds(out, "</td></tr>\n");
    }
    strbuf_adds(out, "</tbody></table></section>\n");
}

static void html_silences(const struct snapshot *s, struct strbuf *out)
{
    size_t active = count_active_silences(s);
    strbuf_addf(out, "<section id=\"silences\"><h2>Silences <span "
                     "class=\"count\">%zu active</span></h2>\n", active);
    if (!s->nsilences) {
        strbuf_adds(out, "<div class=\"empty\">No silences &mdash; add one "
                         "with <code>segalert silence add --match "
                         "rule=NAME --for 2h</code></div></section>\n");
        return;
    }
    strbuf_adds(out, "<table><thead><tr><th>ID</th><th>Matchers</th>"
                     "<th>Status</th><th>Starts</th><th>Ends</th>"
                     "<th>Created by</th><th>Comment</th></tr></thead>"
                     "<tbody>\n");
    for (size_t i = 0; i < s->nsilences; i++) {
        const struct snap_silence *si = &s->silences[i];
        const char *st = silence_status(s, si);
        strbuf_addf(out, "<tr class=\"silence%s\"><td><code>",
                    streq(st, "expired") ? " expired" : "");
        H(si->id);
        strbuf_adds(out, "</code></td><td><code>");
        H(si->matchers);
        strbuf_addf(out, "</code></td><td><span class=\"badge %s\">%s</span>"
                         "</td><td>",
                    streq(st, "active") ? "b-ok"
                                        : streq(st, "pending") ? "b-warn"
                                                               : "b-muted",
                    st);
        html_when(out, s, si->starts_at);
        strbuf_adds(out, "</td><td>");
        html_when(out, s, si->ends_at);
        strbuf_adds(out, "</td><td>");
        H(si->created_by);
        strbuf_adds(out, "</td><td>");
        H(si->comment);
        strbuf_adds(out, "</td></tr>\n");
    }
    strbuf_adds(out, "</tbody></table></section>\n");
}

void statuspage_html(const struct snapshot *s, struct strbuf *out)
{
    size_t firing = count_alerts(s, "firing");
    size_t pending = count_alerts(s, "pending");
    strbuf_adds(out, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                     "<meta charset=\"utf-8\">");
    strbuf_addf(out, "<meta http-equiv=\"refresh\" content=\"%d\">",
                STATUSPAGE_REFRESH_S);
    strbuf_adds(out, "<meta name=\"viewport\" content=\"width=device-width,"
                     "initial-scale=1\"><title>");
    if (firing)
        strbuf_addf(out, "(%zu firing) ", firing);
    strbuf_adds(out, "segalert</title><style>");
    strbuf_adds(out, page_css);
    strbuf_adds(out, "</style></head><body>\n");
    html_header(s, out, firing, pending);
    strbuf_adds(out, "<main>\n");
    html_alerts(s, out);
    html_workspaces(s, out);
    html_rules(s, out);
    html_receivers(s, out);
    html_silences(s, out);
    strbuf_adds(out, "</main><footer>");
    char iso[40];
    format_iso8601(s->generated_at, iso, sizeof(iso));
    strbuf_addf(out, "snapshot %s", iso);
    if (s->last_eval_at > 0) {
        struct strbuf ms = STRBUF_INIT;
        template_format_number(round(s->eval_duration_s * 1e4) / 10, &ms);
        strbuf_addf(out, " &middot; last evaluation %s ms for %zu (rule, "
                         "series)", ms.buf, s->eval_evaluations);
        strbuf_free(&ms);
    }
    strbuf_addf(out, " &middot; %zu queued notification%s",
                s->outbox_queued, s->outbox_queued == 1 ? "" : "s");
    if (s->config_path) {
        strbuf_adds(out, " &middot; config <code>");
        H(s->config_path);
        strbuf_adds(out, "</code>");
    }
    strbuf_addf(out, " &middot; refreshes every %d s<br>",
                STATUSPAGE_REFRESH_S);
    strbuf_adds(out, "<a href=\"metrics\">/metrics</a>"
                     "<a href=\"api/v1/alerts\">/api/v1/alerts</a>"
                     "<a href=\"api/v1/rules\">/api/v1/rules</a>"
                     "<a href=\"api/v1/status\">/api/v1/status</a>"
                     "<a href=\"api/v1/silences\">/api/v1/silences</a>"
                     "</footer>\n</body></html>\n");
}

/* ---- terminal tables ----------------------------------------------------- */

void statuspage_table_init(struct statuspage_table *t, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
}

/* UTF-8 characters in s (continuation bytes do not count). */
static size_t u8_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* A printable copy: control characters become spaces (an error message
 * with a newline must not break the table), long cells are cut at a
 * character boundary. */
static char *table_cell(const char *s)
{
    struct strbuf sb = STRBUF_INIT;
    size_t chars = 0;
    if (!s || !*s)
        s = "-";
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch & 0xC0) != 0x80) {
            if (chars == STATUSPAGE_CELL_MAX - 3 && u8_width(p) > 3) {
                strbuf_adds(&sb, "...");
                break;
            }
            chars++;
        }
        strbuf_addc(&sb, ch < 0x20 || ch == 0x7f ? ' ' : (char)ch);
    }
    return strbuf_detach(&sb);
}

void statuspage_table_row(struct statuspage_table *t, ...)
{
    XGROW(t->cells, (t->nrows + 1) * t->ncols, t->cap);
    va_list ap;
    va_start(ap, t);
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] =
            table_cell(va_arg(ap, const char *));
    va_end(ap);
    t->nrows++;
}

void statuspage_table_write(const struct statuspage_table *t,
                            struct strbuf *out)
{
    size_t *w = xcalloc(t->ncols ? t->ncols : 1, sizeof(*w));
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t n = u8_width(t->cells[r * t->ncols + c]);
            if (n > w[c])
                w[c] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            strbuf_adds(out, cell);
            if (c + 1 < t->ncols)
                for (size_t pad = u8_width(cell); pad < w[c] + 2; pad++)
                    strbuf_addc(out, ' ');
        }
        strbuf_addc(out, '\n');
    }
    free(w);
}

void statuspage_table_free(struct statuspage_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}
