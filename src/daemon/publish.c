/*
 * publish.c - the snapshot the HTTP server thread reads (status page,
 * /metrics, /api/v1): built from the daemon's state after a cycle that
 * changed something, every string copied (the label sets of series are
 * borrowed from d->pool, which outlives the published snapshot: teardown
 * clears it first), then published whole (server/snapshot.h; see
 * daemon_int.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/receiver_type.h"
#include "daemon/daemon_int.h"
#include "engine/annotate.h"
#include "server/snapshot.h"

static struct kv *labels_to_kv(const struct labelset *ls, size_t *n)
{
    *n = labelset_count(ls);
    struct kv *kv = xcalloc(*n ? *n : 1, sizeof(*kv));
    for (size_t i = 0; i < *n; i++) {
        kv[i].key = xstrdup(labelset_key(ls, i));
        kv[i].value = xstrdup(labelset_value(ls, i));
    }
    return kv;
}

static void snapshot_workspaces(struct daemon *d, struct snapshot *sn, double now)
{
    sn->nworkspaces = d->nws;
    sn->workspaces = xcalloc(d->nws ? d->nws : 1, sizeof(*sn->workspaces));
    for (size_t i = 0; i < d->nws; i++) {
        struct ws_schedule *w = &d->ws[i];
        struct snap_workspace *sw = &sn->workspaces[i];
        const struct poll_health *h = poller_health(w->poller);
        struct seg_client_stats st;
        seg_client_stats(poller_client(w->poller), &st);
        sw->name = xstrdup(w->cfg->name);
        sw->api_url = xstrdup(w->cfg->api_url);
        sw->up = !w->down && h->discovered;
        sw->unauthorized = h->unauthorized;
        sw->discovered = h->discovered;
        sw->nsources = h->nsources;
        sw->nconnections = h->nconnections;
        for (int k = 0; k < POLL__COUNT; k++) {
            sw->last_ok[k] = h->last_ok[k];
            sw->errors[k] = h->errors[k];
            /* An error counts only until the next success. */
            bool failing = h->last_attempt[k] > h->last_ok[k];
            sw->last_error[k] = failing && h->last_error[k][0]
                                    ? xstrdup(h->last_error[k]) : NULL;
            sw->staleness_s[k] = h->last_ok[k] > 0 ? now - h->last_ok[k] : -1;
        }
        sw->oldest_connection_s = ws_schedule_oldest_connection(w, now,
                                                                d->started_at);
        sw->request_budget = w->cfg->request_budget;
        sw->effective_budget = st.effective_budget;
        sw->requests_last_minute = ws_schedule_rate_last_minute(w, now);
        memcpy(sw->requests, st.requests, sizeof(sw->requests));
        memcpy(sw->by_class, st.by_class, sizeof(sw->by_class));
        sw->rate_limited = st.rate_limited;
        sw->retries = st.retries;
        sw->in_flight = st.in_flight;
        sw->queued = st.queued;
        for (int k = POLL_DELIVERY; k < POLL__COUNT; k++) {
            sw->blind[k] = w->coverage[k].blind;
            sw->blind_since[k] = w->coverage[k].since;
            if (sw->blind[k])
                sw->blind_reason[k] = xstrdup(w->coverage[k].reason);
        }
    }
}

static void snapshot_alerts(struct daemon *d, struct snapshot *sn, double now)
{
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(d->ev, &all);
    size_t cap = 0;
    struct silences *sil = dispatch_silences(d->disp);
    for (size_t i = 0; i < ni; i++) {
        struct eval_instance *in = all[i];
        if (in->st.state == ALERT_INACTIVE)
            continue;
        XGROW(sn->alerts, sn->nalerts + 1, cap);
        struct snap_alert *sa = &sn->alerts[sn->nalerts++];
        memset(sa, 0, sizeof(*sa));
        const struct series *s = store_find(d->store, in->rule->family,
                                            in->series_labels);
        struct annotate_ctx ctx;
        annotate_init(&ctx, in, s);
        double vars[EXPR_VAR__COUNT];
        daemon_vars(d, labelset_get(in->series_labels, "workspace"), now,
                    vars);
        ctx.vars = vars;
        struct strbuf sum = STRBUF_INIT, desc = STRBUF_INIT;
        annotate_rule_texts(&ctx, &sum, &desc);
        sa->rule = xstrdup(in->rule->cfg->name);
        sa->labels = labels_to_kv(eval_instance_labels(d->ev, in), &sa->nlabels);
        sa->state = xstrdup(in->st.state == ALERT_PENDING ? "pending"
                                                          : alert_display_state(&in->st));
        sa->severity = xstrdup(ctx.severity);
        sa->value = in->st.value;
        sa->active_at = in->st.active_at;
        sa->fired_at = in->st.fired_at;
        sa->flapping = in->st.flapping;
        sa->silenced = silences_match(sil, sa->labels, sa->nlabels, sa->severity,
                                      now) != NULL;
        sa->summary = sum.len ? strbuf_detach(&sum) : NULL;
        sa->runbook_url = xstrdup(in->rule->cfg->runbook_url);
        int m = expr_value_metric(in->rule->expr);
        if (s && m >= 0) {
            double ts[120], vs[120];
            size_t np = series_points(s, (enum metric_id)m,
                                      now - DAEMON_SPARK_WINDOW_S, now,
                                      ts, vs, 120);
            sa->spark = xcalloc(np ? np : 1, sizeof(*sa->spark));
            for (size_t k = 0; k < np; k++) {
                sa->spark[k].t = ts[k];
                sa->spark[k].v = vs[k];
            }
            sa->nspark = np;
            sa->spark_metric = xstrdup(metric_table[m].name);
        }
        strbuf_free(&sum);
        strbuf_free(&desc);
    }
}

static void snapshot_rules(struct daemon *d, struct snapshot *sn)
{
    sn->nrules = d->rs->n;
    sn->rules = xcalloc(d->rs->n ? d->rs->n : 1, sizeof(*sn->rules));
    for (size_t i = 0; i < d->rs->n; i++) {
        const struct rule *r = &d->rs->rules[i];
        struct snap_rule *sr = &sn->rules[i];
        sr->name = xstrdup(r->cfg->name);
        sr->family = xstrdup(family_name(r->family));
        sr->expr = xstrdup(r->cfg->expr);
        sr->warn = xstrdup(r->cfg->warn);
        sr->severity = xstrdup(r->cfg->severity ? r->cfg->severity : "critical");
        sr->for_s = r->cfg->for_s;
        sr->file = xstrdup(r->cfg->loc.file);
        sr->line = r->cfg->loc.line;
    }
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(d->ev, &all);
    for (size_t i = 0; i < ni; i++) {
        if (!all[i]->selected)
            continue;
        size_t idx = (size_t)(all[i]->rule - d->rs->rules);
        if (idx >= d->rs->n)
            continue;
        switch (all[i]->st.state) {
        case ALERT_PENDING: sn->rules[idx].pending++; break;
        case ALERT_FIRING: sn->rules[idx].firing++; break;
        default: sn->rules[idx].inactive++; break;
        }
    }
}

static void snapshot_receivers(struct daemon *d, struct snapshot *sn)
{
    sn->nreceivers = d->cfg->nreceivers;
    sn->receivers = xcalloc(sn->nreceivers ? sn->nreceivers : 1,
                            sizeof(*sn->receivers));
    for (size_t i = 0; i < d->cfg->nreceivers; i++) {
        const struct receiver_cfg *rc = &d->cfg->receivers[i];
        struct snap_receiver *sr = &sn->receivers[i];
        struct outbox_stats os;
        outbox_receiver_stats(d->ob, rc->name, &os);
        sr->name = xstrdup(rc->name);
        sr->type = xstrdup(receiver_type_name(rc->type));
        sr->delivered = os.delivered;
        sr->failed = os.failed;
        sr->retrying = os.retries;
        struct outbox_failure f[OUTBOX_MAX_REASONS];
        size_t nf = outbox_failures(d->ob, rc->name, f, ARRAY_SIZE(f));
        sr->failures = xcalloc(nf ? nf : 1, sizeof(struct kv));
        for (size_t k = 0; k < nf; k++) {
            sr->failures[k].key = xstrdup(f[k].reason);
            sr->failures[k].value = xasprintf("%llu", (unsigned long long)f[k].count);
        }
        sr->nfailures = nf;
    }
}

static void snapshot_silences(struct daemon *d, struct snapshot *sn, double now)
{
    size_t n;
    const struct silence *list = silences_list(dispatch_silences(d->disp), &n);
    sn->nsilences = n;
    sn->silences = xcalloc(n ? n : 1, sizeof(*sn->silences));
    for (size_t i = 0; i < n; i++) {
        struct snap_silence *ss = &sn->silences[i];
        struct strbuf m = STRBUF_INIT;
        for (size_t k = 0; k < list[i].n; k++)
            strbuf_addf(&m, "%s%s=%s", k ? ", " : "", list[i].matchers[k].key,
                        list[i].matchers[k].value);
        ss->id = xstrdup(list[i].id);
        ss->matchers = strbuf_detach(&m);
        ss->starts_at = list[i].starts_at;
        ss->ends_at = list[i].ends_at;
        ss->created_by = xstrdup(list[i].created_by);
        ss->comment = xstrdup(list[i].comment);
        ss->active = silence_is_active(&list[i], now);
    }
}

static void snapshot_series(struct daemon *d, struct snapshot *sn)
{
    size_t total = 0;
    for (int f = 0; f < FAM__COUNT; f++)
        total += store_count(d->store, (enum family)f);
    sn->series = xcalloc(total ? total : 1, sizeof(*sn->series));
    for (int f = 0; f < FAM__COUNT; f++) {
        size_t n = store_count(d->store, (enum family)f);
        for (size_t i = 0; i < n; i++) {
            const struct series *s = store_at(d->store, (enum family)f, i);
            struct snap_series *ss = &sn->series[sn->nseries];
            bool any = false;
            for (int m = 0; m < M__COUNT; m++) {
                if (metric_table[m].family != (enum family)f)
                    continue;
                double t;
                if (series_latest(s, (enum metric_id)m, &ss->v[m], &t)) {
                    ss->has[m] = true;
                    any = true;
                }
            }
            if (!any)
                continue;
            ss->fam = (enum family)f;
            ss->t = series_last_update(s);
            ss->labels = series_labels(s);
            sn->nseries++;
        }
    }
}

/* Ready means the alerts can be trusted: every workspace polled once, up,
 * and every family fresh.  Otherwise say the first reason, for /-/ready,
 * the status page and `segalert status`. */
static void readiness(const struct daemon *d, struct snapshot *sn)
{
    struct strbuf why = STRBUF_INIT;
    for (size_t i = 0; i < d->nws && !why.len; i++) {
        const struct ws_schedule *w = &d->ws[i];
        if (w->down)
            strbuf_addf(&why, "down: workspace %s: %s", w->cfg->name,
                        w->down_reason[0] ? w->down_reason : "unreachable");
        for (int k = POLL_DELIVERY; k < POLL__COUNT && !why.len; k++)
            if (w->coverage[k].blind)
                strbuf_addf(&why, "blind: workspace %s, %s data: %s",
                            w->cfg->name,
                            ws_coverage_family((enum poll_kind)k),
                            w->coverage[k].reason);
    }
    for (size_t i = 0; i < d->nws && !why.len; i++)
        if (!d->ws[i].polled_once)
            strbuf_adds(&why, "starting: waiting for the first poll of "
                              "every workspace");
    sn->ready = why.len == 0;
    sn->not_ready = why.len ? strbuf_detach(&why) : NULL;
    strbuf_free(&why);
}

void daemon_publish_snapshot(struct daemon *d, double now)
{
    if (!d->httpd)
        return;
    struct snapshot *sn = snapshot_new();
    sn->generated_at = now;
    sn->started_at = d->started_at;
    sn->version = xstrdup(SEGALERT_VERSION);
    sn->config_path = xstrdup(d->config_path);
    sn->state_dir = xstrdup(d->cfg->state_dir);
    readiness(d, sn);
    struct eval_stats es;
    evaluator_stats(d->ev, &es);
    sn->eval_duration_s = es.duration_s;
    sn->eval_evaluations = es.evaluations;
    sn->last_eval_at = d->next_eval - d->o.eval_interval_s;
    sn->outbox_queued = outbox_count(d->ob);
    struct dispatch_stats ds;
    dispatch_stats(d->disp, &ds);
    for (int r = 0; r < NOTIFY__COUNT; r++)
        sn->notifications_by_reason[r] = ds.notifications[r];
    sn->unrouted = ds.unrouted;
    sn->suppressed_short_lived = ds.suppressed_short_lived;
    snapshot_workspaces(d, sn, now);
    snapshot_alerts(d, sn, now);
    snapshot_rules(d, sn);
    snapshot_receivers(d, sn);
    snapshot_silences(d, sn, now);
    snapshot_series(d, sn);
    snapshot_publish(sn);
}

