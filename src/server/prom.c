/*
 * prom.c - see prom.h.
 *
 * Written by hand into a strbuf rather than through a library: the
 * snapshot can hold thousands of series and /metrics is scraped every few
 * seconds, so rendering stays allocation-light and single-pass.
 */
#include "server/prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "core/json.h"
#include "notify/notify.h"

void prom_format_double(struct strbuf *out, double v)
{
    if (isnan(v)) {
        strbuf_adds(out, "NaN");
    } else if (isinf(v)) {
        strbuf_adds(out, v > 0 ? "+Inf" : "-Inf");
    } else {
        char buf[40];
        json_format_double(v, buf, sizeof(buf));
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
    prom_format_double(out, v);
    strbuf_addc(out, '\n');
}

static void prom_labelset_sample(struct strbuf *out, const char *name,
                                 const struct labelset *ls, double v)
{
    strbuf_adds(out, name);
    size_t n = labelset_count(ls);
    if (n) {
        strbuf_addc(out, '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                strbuf_addc(out, ',');
            prom_label_name(out, labelset_key(ls, i));
            strbuf_adds(out, "=\"");
            prom_label_value(out, labelset_value(ls, i));
            strbuf_addc(out, '"');
        }
        strbuf_addc(out, '}');
    }
    strbuf_addc(out, ' ');
    prom_format_double(out, v);
    strbuf_addc(out, '\n');
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

/* Per-receiver gauge or counter with only the receiver label. */
#define RECV_FAMILY(fam_, type_, help_, expr_)                             \
    do {                                                                    \
        prom_family(out, fam_, type_, help_);                               \
        for (size_t i = 0; i < s->nreceivers; i++) {                        \
            const struct snap_receiver *r = &s->receivers[i];               \
            prom_sample(out, fam_, (double)(expr_), "receiver",             \
                        nn(r->name), NULL);                                 \
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
                "1 once every workspace has been polled once, is up and has "
                "fresh data of every family.");
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
                for (int c = 0; c < SEGCLS__COUNT; c++)
                    prom_sample(out, "segalert_api_requests_total",
                                (double)w->by_class[ep][c], "workspace",
                                nn(w->name), "endpoint",
                                seg_endpoint_name((enum seg_endpoint)ep),
                                "code_class",
                                seg_status_class_name(
                                    (enum seg_status_class)c),
                                NULL);
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
        prom_family(out, "segalert_coverage_blind", "gauge",
                    "1 while a family's data is not fresh enough to trust "
                    "its alerts (the segalert-coverage alert fires).");
        for (size_t i = 0; i < s->nworkspaces; i++) {
            const struct snap_workspace *w = &s->workspaces[i];
            for (int k = POLL_DELIVERY; k < POLL__COUNT; k++)
                prom_sample(out, "segalert_coverage_blind",
                            w->blind[k] ? 1 : 0, "workspace", nn(w->name),
                            "family", poll_kind_family((enum poll_kind)k),
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
                    (double)snapshot_count_alerts(s, states[i]), "state",
                    states[i], NULL);

    prom_family(out, "segalert_notifications_total", "counter",
                "Notifications created, by reason.");
    for (int r = 0; r < NOTIFY__COUNT; r++)
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
        RECV_FAMILY("segalert_notifications_delivered_total", "counter",
                    "Notifications delivered, by receiver.", r->delivered);
        RECV_FAMILY("segalert_notifications_failed_total", "counter",
                    "Notifications given up on, by receiver.", r->failed);
        RECV_FAMILY("segalert_notifications_retrying", "gauge",
                    "Notifications waiting for a retry, by receiver.",
                    r->retrying);
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
                (double)snapshot_count_active_silences(s), NULL);
}

void prom_render_metrics(const struct snapshot *s, struct strbuf *out)
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
                prom_labelset_sample(out, name, se->labels, se->v[m]);
        }
    }
}
