/*
 * api_json.c - see api_json.h.
 *
 * Documents are streamed with core/json.h's jw_* writer rather than built
 * as cJSON trees: the status document grows with every workspace and
 * receiver and is written once, so there is no tree worth allocating.
 * Each document opens its root object with a plain '{' so that it may be
 * appended to a buffer holding anything (jw_* decide on commas from the
 * byte before).
 */
#include "server/api_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "notify/notify.h"

static const char *nn(const char *s)
{
    return s ? s : "";
}

/* {"status":"success","data":{"<list>":[ ... ]}}: open and close. */
static void open_list(struct strbuf *out, const char *list)
{
    strbuf_addc(out, '{');
    jw_str(out, "status", "success");
    jw_open(out, "data", '{');
    jw_open(out, list, '[');
}

static void close_list(struct strbuf *out)
{
    jw_close(out, ']');
    jw_close(out, '}');
    jw_close(out, '}');
    strbuf_addc(out, '\n');
}

static void alert_json(struct strbuf *out, const struct snap_alert *a)
{
    jw_open(out, NULL, '{');
    jw_str(out, "rule", a->rule);
    jw_kv_object(out, "labels", a->labels, a->nlabels);
    jw_str(out, "state", a->state);
    jw_str(out, "severity", a->severity);
    jw_double(out, "value", a->value);
    jw_str(out, "unit", metric_unit_name(a->unit));
    jw_time(out, "activeAt", a->active_at);
    jw_time(out, "firedAt", a->fired_at);
    jw_str_or_null(out, "summary", a->summary);
    jw_str_or_null(out, "runbookUrl", a->runbook_url);
    jw_bool(out, "flapping", a->flapping);
    jw_bool(out, "silenced", a->silenced);
    if (a->silenced) {
        jw_open(out, "silence", '{');
        jw_str_or_null(out, "id", a->silence_id);
        jw_str_or_null(out, "createdBy", a->silence_by);
        jw_str_or_null(out, "comment", a->silence_comment);
        jw_time(out, "endsAt", a->silence_ends_at);
        jw_close(out, '}');
    }
    jw_close(out, '}');
}

void api_json_alerts(const struct snapshot *s, struct strbuf *out)
{
    open_list(out, "alerts");
    for (size_t i = 0; i < s->nalerts; i++)
        alert_json(out, &s->alerts[i]);
    close_list(out);
}

void api_json_rules(const struct snapshot *s, struct strbuf *out)
{
    open_list(out, "rules");
    for (size_t i = 0; i < s->nrules; i++) {
        const struct snap_rule *r = &s->rules[i];
        jw_open(out, NULL, '{');
        jw_str(out, "name", r->name);
        jw_str(out, "family", r->family);
        jw_str(out, "expr", r->expr);
        jw_str_or_null(out, "warn", r->warn);
        jw_str(out, "severity", r->severity);
        jw_double(out, "forSeconds", r->for_s);
        jw_str_or_null(out, "file", r->file);
        jw_int(out, "line", r->line);
        jw_open(out, "alerts", '{');
        jw_uint(out, "inactive", r->inactive);
        jw_uint(out, "pending", r->pending);
        jw_uint(out, "firing", r->firing);
        jw_close(out, '}');
        jw_close(out, '}');
    }
    close_list(out);
}

/* "rule=a, source=b*" -> ["rule=a","source=b*"]: split at ", " only where
 * a label name and '=' follow, so a glob holding ", " stays whole. */
static void json_matchers(struct strbuf *out, const char *m)
{
    jw_open(out, "matchers", '[');
    if (m && *m) {
        const char *start = m, *p = m;
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
            jw_str(out, NULL, one);
            free(one);
            if (!cut)
                break;
            start = p = cut + 2;
        }
    }
    jw_close(out, ']');
}

static void silence_json(const struct snapshot *s, struct strbuf *out,
                         const struct snap_silence *si)
{
    jw_open(out, NULL, '{');
    jw_str(out, "id", si->id);
    json_matchers(out, si->matchers);
    jw_str(out, "status", snapshot_silence_status(s, si));
    jw_time(out, "startsAt", si->starts_at);
    jw_time(out, "endsAt", si->ends_at);
    jw_str_or_null(out, "createdBy", si->created_by);
    jw_str_or_null(out, "comment", si->comment);
    jw_close(out, '}');
}

void api_json_silences(const struct snapshot *s, struct strbuf *out)
{
    open_list(out, "silences");
    for (size_t i = 0; i < s->nsilences; i++)
        silence_json(s, out, &s->silences[i]);
    close_list(out);
}

static void workspace_json(struct strbuf *out, const struct snap_workspace *w)
{
    jw_open(out, NULL, '{');
    jw_str(out, "name", w->name);
    jw_str_or_null(out, "apiUrl", w->api_url);
    jw_bool(out, "up", w->up);
    jw_bool(out, "unauthorized", w->unauthorized);
    jw_bool(out, "discovered", w->discovered);
    jw_uint(out, "sources", w->nsources);
    jw_uint(out, "connections", w->nconnections);
    jw_double(out, "oldestConnectionSeconds",
              w->oldest_connection_s >= 0 ? w->oldest_connection_s : NAN);
    jw_open(out, "budget", '{');
    jw_double(out, "configuredPerMinute", w->request_budget);
    jw_double(out, "effectivePerMinute", w->effective_budget);
    jw_double(out, "requestsLastMinute", w->requests_last_minute);
    jw_int(out, "inFlight", w->in_flight);
    jw_uint(out, "queued", w->queued);
    jw_close(out, '}');
    jw_uint(out, "rateLimited", w->rate_limited);
    jw_uint(out, "retries", w->retries);
    jw_open(out, "polls", '{');
    for (int k = 0; k < POLL__COUNT; k++) {
        jw_open(out, poll_kind_name((enum poll_kind)k), '{');
        jw_time(out, "lastOk", w->last_ok[k]);
        jw_double(out, "stalenessSeconds",
                  w->last_ok[k] > 0 && w->staleness_s[k] >= 0
                      ? w->staleness_s[k] : NAN);
        jw_uint(out, "errors", w->errors[k]);
        jw_str_or_null(out, "lastError", w->last_error[k]);
        jw_bool(out, "blind", w->blind[k]);
        jw_str_or_null(out, "blindReason", w->blind_reason[k]);
        jw_close(out, '}');
    }
    jw_close(out, '}');
    jw_open(out, "requests", '{');
    for (int ep = 0; ep < SEGEP__COUNT; ep++) {
        jw_open(out, seg_endpoint_name((enum seg_endpoint)ep), '{');
        jw_uint(out, "sent", w->requests[ep]);
        for (int c = 0; c < SEGCLS__COUNT; c++)
            jw_uint(out, seg_status_class_name((enum seg_status_class)c),
                    w->by_class[ep][c]);
        jw_close(out, '}');
    }
    jw_close(out, '}');
    jw_close(out, '}');
}

static void receiver_json(struct strbuf *out, const struct snap_receiver *r)
{
    jw_open(out, NULL, '{');
    jw_str(out, "name", r->name);
    jw_str(out, "type", r->type);
    jw_uint(out, "delivered", r->delivered);
    jw_uint(out, "failed", r->failed);
    jw_uint(out, "retrying", r->retrying);
    jw_uint(out, "retries_total", r->retries);
    jw_open(out, "failures", '{');
    for (size_t j = 0; j < r->nfailures; j++) {
        double v = 0;
        if (parse_double(nn(r->failures[j].value), &v) != 0)
            v = NAN;
        jw_double(out, nn(r->failures[j].key), v);
    }
    jw_close(out, '}');
    jw_str_or_null(out, "lastError", r->last_error);
    jw_close(out, '}');
}

static void exporter_json(struct strbuf *out, const struct snap_exporter *e)
{
    const struct exporter_stats *st = &e->st;
    jw_open(out, NULL, '{');
    jw_str(out, "name", e->name);
    jw_str(out, "type", e->type);
    jw_bool(out, "up", st->up);
    jw_uint(out, "queued", st->queued);
    jw_uint(out, "sent", st->sent);
    jw_uint(out, "failed", st->failed);
    jw_open(out, "dropped", '{');
    for (int r = 0; r < EXPORT_DROP__COUNT; r++)
        jw_uint(out, export_drop_name((enum export_drop)r), st->dropped[r]);
    jw_close(out, '}');
    jw_uint(out, "buffered", st->buffered);
    jw_double(out, "lagSeconds", st->lag_s);
    jw_open(out, "requests", '{');
    jw_uint(out, "ok", st->requests_ok);
    jw_uint(out, "retry", st->requests_retried);
    jw_uint(out, "failed", st->requests_failed);
    jw_close(out, '}');
    jw_uint(out, "bytesSent", st->bytes_sent);
    jw_time(out, "lastSuccessAt", st->last_ok);
    jw_time(out, "nextAttemptAt", st->next_attempt);
    jw_str_or_null(out, "lastError", st->last_error[0] ? st->last_error
                                                       : NULL);
    jw_close(out, '}');
}

void api_json_status(const struct snapshot *s, struct strbuf *out)
{
    strbuf_addc(out, '{');
    jw_str(out, "status", "success");
    jw_open(out, "data", '{');
    jw_str(out, "version", s->version ? s->version : SEGALERT_VERSION);
    jw_time(out, "startedAt", s->started_at);
    jw_time(out, "generatedAt", s->generated_at);
    jw_double(out, "uptimeSeconds",
              s->started_at > 0 ? s->generated_at - s->started_at : 0);
    jw_bool(out, "ready", s->ready);
    jw_str_or_null(out, "notReady", s->not_ready);
    jw_str_or_null(out, "configPath", s->config_path);
    jw_str_or_null(out, "stateDir", s->state_dir);

    jw_open(out, "evaluation", '{');
    jw_double(out, "durationSeconds", s->eval_duration_s);
    jw_uint(out, "evaluations", s->eval_evaluations);
    jw_time(out, "lastAt", s->last_eval_at);
    jw_uint(out, "rules", s->nrules);
    jw_close(out, '}');

    jw_open(out, "alerts", '{');
    static const char *const states[] = { "pending", "firing", "nodata" };
    for (size_t i = 0; i < ARRAY_SIZE(states); i++)
        jw_uint(out, states[i], snapshot_count_alerts(s, states[i]));
    jw_close(out, '}');

    jw_open(out, "notifications", '{');
    jw_open(out, "byReason", '{');
    for (int r = 0; r < NOTIFY__COUNT; r++)
        jw_uint(out, notify_reason_name((enum notify_reason)r),
                s->notifications_by_reason[r]);
    jw_close(out, '}');
    jw_uint(out, "unrouted", s->unrouted);
    jw_uint(out, "suppressedShortLived", s->suppressed_short_lived);
    jw_close(out, '}');

    jw_open(out, "outbox", '{');
    jw_uint(out, "queued", s->outbox_queued);
    jw_close(out, '}');

    jw_open(out, "workspaces", '[');
    for (size_t i = 0; i < s->nworkspaces; i++)
        workspace_json(out, &s->workspaces[i]);
    jw_close(out, ']');
    jw_open(out, "receivers", '[');
    for (size_t i = 0; i < s->nreceivers; i++)
        receiver_json(out, &s->receivers[i]);
    jw_close(out, ']');
    jw_open(out, "exporters", '[');
    for (size_t i = 0; i < s->nexporters; i++)
        exporter_json(out, &s->exporters[i]);
    jw_close(out, ']');
    jw_open(out, "silences", '[');
    for (size_t i = 0; i < s->nsilences; i++)
        silence_json(s, out, &s->silences[i]);
    /* the last member is a list: it ends like a list document */
    close_list(out);
}

void api_json_ok(struct strbuf *out)
{
    strbuf_addc(out, '{');
    jw_str(out, "status", "success");
    strbuf_adds(out, "}\n");
}

void api_json_silence_added(struct strbuf *out, const char *id)
{
    strbuf_addc(out, '{');
    jw_str(out, "status", "success");
    jw_str(out, "silenceId", id);
    strbuf_adds(out, "}\n");
}

void api_json_error(struct strbuf *out, const char *msg)
{
    strbuf_addc(out, '{');
    jw_str(out, "status", "error");
    jw_str(out, "error", msg);
    strbuf_adds(out, "}\n");
}
