/*
 * alerts.c - from samples to alert transitions to the dispatcher: the
 * store's sample sink, one evaluation pass, the notify_alert each
 * transition becomes, and the segalert-workspace-down meta-alert
 * (see daemon_int.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "daemon/daemon_int.h"
#include "engine/annotate.h"

/* The unit of delivery latencies is not documented by Segment (see
 * docs/segment-api.md); latency_unit says which it is (seconds by
 * default).  Values that look like the other unit draw one warning per
 * connection:
 *   - "s": a p95 beyond 6 hours (Segment retries for at most 4), or every
 *     latency a whole number of 50 or more (seconds come as fractions:
 *     0.412; milliseconds as integers: 412) - read as seconds they would
 *     page for minutes-long latencies that are not there;
 *   - "ms": a p95 under 20 ms (no cloud delivery is that fast), or a
 *     latency with a fraction of a millisecond. */
#define LATENCY_MAX_PLAUSIBLE_S (6 * 3600.0)
#define LATENCY_MIN_PLAUSIBLE_S 0.02

static bool looks_like_ms(const double raw[4])
{
    for (int i = 0; i < 4; i++)
        if (isnan(raw[i]) || raw[i] < 50 || raw[i] != floor(raw[i]))
            return false;
    return true;
}

static bool has_fraction(const double raw[4])
{
    for (int i = 0; i < 4; i++)
        if (!isnan(raw[i]) && fabs(raw[i] - nearbyint(raw[i])) > 1e-6)
            return true;
    return false;
}

static void check_latency_unit(struct daemon *d, const struct labelset *ls,
                               const double v[M__COUNT],
                               const bool has[M__COUNT])
{
    if (!has[M_TIME_TO_SUCCESS_P95])
        return;
    const struct workspace_cfg *wc =
        config_workspace(d->cfg, labelset_get(ls, "workspace"));
    double scale = wc && wc->latency_scale > 0 ? wc->latency_scale : 1;
    static const enum metric_id lat[4] = {
        M_TIME_TO_SUCCESS_AVG, M_TIME_TO_SUCCESS_P95,
        M_TIME_TO_FIRST_ATTEMPT_AVG, M_TIME_TO_FIRST_ATTEMPT_P95
    };
    double raw[4];
    for (int i = 0; i < 4; i++)
        raw[i] = has[lat[i]] ? v[lat[i]] / scale : NAN;
    double p95 = v[M_TIME_TO_SUCCESS_P95];
    bool in_ms = scale < 1;
    bool odd = in_ms ? (p95 > 0 && p95 < LATENCY_MIN_PLAUSIBLE_S) ||
                           has_fraction(raw)
                     : p95 > LATENCY_MAX_PLAUSIBLE_S || looks_like_ms(raw);
    if (!odd)
        return;
    for (size_t i = 0; i < d->nlatency_warned; i++)
        if (d->latency_warned[i] == ls)
            return;
    XGROW(d->latency_warned, d->nlatency_warned + 1, d->latency_warned_cap);
    d->latency_warned[d->nlatency_warned++] = ls;
    struct strbuf lbl = STRBUF_INIT;
    labelset_format(ls, &lbl);
    log_warn("daemon: delivery latencies of %s (p95 %g, average %g) do not "
             "look like %s: the API may report %s; set latency_unit = "
             "\"%s\" in workspace \"%s\" if so", strbuf_str(&lbl),
             raw[1], raw[0], in_ms ? "milliseconds" : "seconds",
             in_ms ? "seconds" : "milliseconds", in_ms ? "s" : "ms",
             wc ? wc->name : "?");
    strbuf_free(&lbl);
}

void daemon_on_sample(void *ud, enum family fam, const struct kv *labels,
                      size_t n, double t, const double v[M__COUNT],
                      const bool has[M__COUNT])
{
    struct daemon *d = ud;
    const struct labelset *ls = labels_from_kv(d->pool, labels, n);
    if (fam == FAM_CONNECTION)
        check_latency_unit(d, ls, v, has);
    struct series *s = store_get_or_add(d->store, fam, ls);
    store_add(d->store, s, t, v, has);
    daemon_export_sample(d, fam, ls, t, v, has);
}

static const struct ws_schedule *ws_by_name(const struct daemon *d,
                                            const char *name)
{
    for (size_t i = 0; i < d->nws; i++)
        if (streq(d->ws[i].cfg->name, name))
            return &d->ws[i];
    return NULL;
}

static bool api_down_hook(void *ud, const char *workspace)
{
    const struct daemon *d = ud;
    const struct ws_schedule *w = workspace ? ws_by_name(d, workspace) : NULL;
    /* Until the first poll after start the store is empty: that is not
     * "no data" either, so states stay frozen. */
    return w && (w->down || !w->polled_once);
}

static void fill_alert_common(struct notify_alert *a, const char *rule,
                              const struct labelset *ls)
{
    a->rule = xstrdup(rule);
    char fp[17];
    snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)labelset_hash(ls));
    a->fingerprint = xstrdup(fp);
    a->nlabels = labelset_count(ls);
    a->labels = xcalloc(a->nlabels ? a->nlabels : 1, sizeof(struct kv));
    for (size_t i = 0; i < a->nlabels; i++) {
        a->labels[i].key = xstrdup(labelset_key(ls, i));
        a->labels[i].value = xstrdup(labelset_value(ls, i));
    }
}

/* A meta-alert about a workspace (rule, the workspace's labels, extra
 * labels), or about segalert itself (w NULL), firing or resolved. */
static void dispatch_meta_alert(struct daemon *d, const struct ws_schedule *w,
                                const char *rule, const struct kv *extra,
                                size_t nextra, const char *summary,
                                const char *description, double since,
                                bool firing, double now)
{
    struct labels_builder b;
    labels_builder_init(&b, d->pool);
    if (w) {
        labels_builder_add(&b, "workspace", w->cfg->name);
        for (size_t i = 0; i < w->cfg->labels.n; i++)
            labels_builder_add(&b, w->cfg->labels.items[i].key,
                               w->cfg->labels.items[i].value);
    }
    for (size_t i = 0; i < nextra; i++)
        labels_builder_add(&b, extra[i].key, extra[i].value);
    labels_builder_add(&b, "rule", rule);
    const struct labelset *ls = labels_builder_finish(&b);
    labels_builder_free(&b);
    struct notify_alert a = { 0 };
    fill_alert_common(&a, rule, ls);
    a.severity = xstrdup("critical");
    a.status = xstrdup(firing ? "firing" : "resolved");
    a.value = NAN;
    a.summary = xstrdup(summary);
    a.description = xstrdup(description);
    a.starts_at = since;
    a.ends_at = firing ? 0 : now;
    dispatch_alert(d->disp, &a, now);
    notify_alert_free_fields(&a);
}

void daemon_dispatch_meta(struct daemon *d, const struct ws_schedule *w,
                          bool firing, double now)
{
    char summary[256];
    snprintf(summary, sizeof(summary), "Segment API %s for workspace %s",
             poller_health(w->poller)->unauthorized ? "unauthorized"
                                                    : "unreachable",
             w->cfg->name);
    dispatch_meta_alert(d, w, META_RULE_WORKSPACE_DOWN, NULL, 0, summary,
                        w->down_reason, w->down_since, firing, now);
}

void daemon_dispatch_coverage(struct daemon *d, const struct ws_schedule *w,
                              enum poll_kind k, bool firing, double now)
{
    const struct ws_coverage *cv = &w->coverage[k];
    struct kv extra[2] = {
        { (char *)"family", (char *)ws_coverage_family(k) },
        { (char *)"endpoint", (char *)cv->endpoint },
    };
    char summary[256];
    snprintf(summary, sizeof(summary), "segalert cannot see the %s data of "
             "workspace %s in time", ws_coverage_family(k), w->cfg->name);
    dispatch_meta_alert(d, w, META_RULE_COVERAGE, extra,
                        cv->endpoint[0] ? 2 : 1, summary, cv->reason,
                        cv->since, firing, now);
}

/* segalert-state-unwritable: firing while saves fail.  Its notification
 * cannot be saved either: deliveries.c holds what is not on disk, and
 * writes this alert to the log receivers at once (stderr has the error
 * line from persist.c). */
static void dispatch_state_meta(struct daemon *d, bool firing, double now)
{
    char summary[512];
    snprintf(summary, sizeof(summary), "segalert cannot save its state in "
             "%s", d->cfg->state_dir);
    struct kv extra[1] = { { (char *)"state_dir", d->cfg->state_dir } };
    dispatch_meta_alert(d, NULL, META_RULE_STATE_UNWRITABLE, extra, 1,
                        summary, d->save_error, d->unwritable_since_wall,
                        firing, now);
    if (firing && !d->state_meta_firing) {
        struct notify_alert a = { 0 };
        struct labels_builder b;
        labels_builder_init(&b, d->pool);
        labels_builder_add(&b, "state_dir", d->cfg->state_dir);
        labels_builder_add(&b, "rule", META_RULE_STATE_UNWRITABLE);
        const struct labelset *ls = labels_builder_finish(&b);
        labels_builder_free(&b);
        fill_alert_common(&a, META_RULE_STATE_UNWRITABLE, ls);
        a.severity = xstrdup("critical");
        a.status = xstrdup("firing");
        a.value = NAN;
        a.summary = xstrdup(summary);
        a.description = xstrdup(d->save_error);
        a.starts_at = d->unwritable_since_wall;
        daemon_write_local(d, &a, now);
        notify_alert_free_fields(&a);
    }
    d->state_meta_firing = firing;
}

void daemon_state_meta(struct daemon *d, double now)
{
    if (d->unwritable_since_ms)
        dispatch_state_meta(d, true, now);
    else if (d->state_meta_firing)
        dispatch_state_meta(d, false, now);
}

/* $variables: the plan limits, and the usage period the API says (or the
 * workspace's billing_cycle_day before it has said). */
void daemon_vars(void *ud, const char *workspace, double now,
                 double vals[EXPR_VAR__COUNT])
{
    const struct daemon *d = ud;
    const struct ws_schedule *w = workspace ? ws_by_name(d, workspace) : NULL;
    eval_default_vars(w ? w->cfg : NULL, now, vals);
    if (!w)
        return;
    double start, end;
    poller_usage_period(w->poller, now, &start, &end);
    vals[EXPR_VAR_PERIOD_ELAPSED] = now - start;
    vals[EXPR_VAR_PERIOD_REMAINING] = end - now;
}

/* The discard reasons of a connection alert: the top one as the label
 * discard_reason (routes match it; added after the fingerprint, which is
 * the identity labels' hash, so a change of top reason is the same
 * alert), all of them in a->reasons and as a line of the description,
 * which every receiver carries. */
static void attach_reasons(struct notify_alert *a,
                           const struct discard_reasons *r)
{
    const struct discard_reason *top = discard_reasons_top(r);
    if (!top)
        return;
    a->reasons = xmalloc(sizeof(*a->reasons));
    *a->reasons = *r;
    size_t pos = 0;
    while (pos < a->nlabels &&
           strcmp(a->labels[pos].key, NOTIFY_LABEL_DISCARD_REASON) < 0)
        pos++;
    if (pos < a->nlabels &&
        streq(a->labels[pos].key, NOTIFY_LABEL_DISCARD_REASON)) {
        free(a->labels[pos].value);     /* a rule label of that name */
    } else {
        a->labels = xrealloc(a->labels, (a->nlabels + 1) * sizeof(*a->labels));
        memmove(&a->labels[pos + 1], &a->labels[pos],
                (a->nlabels - pos) * sizeof(*a->labels));
        a->nlabels++;
        a->labels[pos].key = xstrdup(NOTIFY_LABEL_DISCARD_REASON);
    }
    a->labels[pos].value = xstrdup(top->code);
    struct strbuf sb = STRBUF_INIT;
    if (a->description)
        strbuf_addf(&sb, "%s\n", a->description);
    strbuf_adds(&sb, "Discard reasons: ");
    discard_reasons_format(r, &sb);
    free(a->description);
    a->description = strbuf_detach(&sb);
}

static void notify_alert_from(struct daemon *d, struct eval_instance *in,
                              const char *status, bool flapping, double at,
                              struct notify_alert *a)
{
    const struct labelset *ls = eval_instance_labels(d->ev, in);
    memset(a, 0, sizeof(*a));
    fill_alert_common(a, in->rule->cfg->name, ls);
    struct annotate_ctx ctx;
    const struct series *s = store_find(d->store, in->rule->family,
                                        in->series_labels);
    annotate_init(&ctx, in, s);
    double vars[EXPR_VAR__COUNT];
    daemon_vars(d, labelset_get(in->series_labels, "workspace"), at, vars);
    ctx.vars = vars;
    ctx.status_url = d->cfg->external_url;
    struct strbuf sum = STRBUF_INIT, desc = STRBUF_INIT;
    annotate_rule_texts(&ctx, &sum, &desc);
    a->severity = xstrdup(ctx.severity);
    a->status = xstrdup(status);
    a->nodata = in->st.nodata;
    a->flapping = flapping;
    a->value = in->st.value;
    a->unit = expr_value_unit(in->rule->expr);
    a->summary = sum.len ? strbuf_detach(&sum) : NULL;
    a->description = desc.len ? strbuf_detach(&desc) : NULL;
    a->runbook_url = xstrdup(in->rule->cfg->runbook_url);
    a->starts_at = in->st.active_at;
    a->ends_at = streq(status, "resolved") ? at : 0;
    strbuf_free(&sum);
    strbuf_free(&desc);
    if (daemon_reasons_wanted(in))
        attach_reasons(a, daemon_reasons_get(d, in));
}

void daemon_resolve_instance(struct daemon *d, struct eval_instance *in,
                             double now)
{
    struct notify_alert a;
    notify_alert_from(d, in, "resolved", false, now, &a);
    dispatch_alert(d->disp, &a, now);
    notify_alert_free_fields(&a);
}

/* Who the alert is about, for a person: "Amplitude \u2190 web" for a
 * connection, the source, or the workspace; the workspace is added when
 * there are several. */
static void alert_subject(const struct daemon *d, const struct labelset *ls,
                          struct strbuf *out)
{
    const char *src = labelset_get(ls, "source");
    const char *dst = labelset_get(ls, "destination");
    const char *ws = labelset_get(ls, "workspace");
    if (dst && src)
        strbuf_addf(out, "%s \xe2\x86\x90 %s", dst, src);
    else if (dst || src)
        strbuf_adds(out, dst ? dst : src);
    if (ws && (d->cfg->nworkspaces > 1 || !(dst || src)))
        strbuf_addf(out, "%s%s", out->len ? " @ " : "", ws);
}

/* One line per alert change for the person watching `segalert run`:
 *   FIRING critical delivery-discard-ratio  Amplitude <- web  4.8% (for 2m)
 * a resolve gives the value now; --log-format json keeps the machine
 * fields (event, rule, severity, labels, value). */
static void log_transition(struct daemon *d, struct eval_instance *in,
                           const struct alert_event *e)
{
    if (!log_enabled(LOG_INFO))
        return;
    const struct labelset *ls = eval_instance_labels(d->ev, in);
    const char *sev = alert_severity_label(e->severity, in->rule->cfg->severity);
    struct strbuf subj = STRBUF_INIT, val = STRBUF_INIT, js = STRBUF_INIT;
    alert_subject(d, ls, &subj);
    template_format_unit(expr_value_unit(in->rule->expr), e->value, &val);
    char dur[40] = "";
    const char *word = "", *when = "";
    enum log_colour colour = LOG_COLOUR_NONE;
    switch (e->kind) {
    case ALERT_EV_FIRING:
        word = "FIRING";
        when = "for";
        colour = streq(sev, "critical") ? LOG_COLOUR_RED : LOG_COLOUR_YELLOW;
        if (e->active_at > 0)
            format_duration(e->at - e->active_at, dur, sizeof(dur));
        break;
    case ALERT_EV_RESOLVED:
        word = "RESOLVED";
        when = "fired";
        colour = LOG_COLOUR_GREEN;
        if (e->active_at > 0)
            format_duration(e->at - e->active_at, dur, sizeof(dur));
        break;
    case ALERT_EV_SEVERITY:
        word = "SEVERITY";
        colour = streq(sev, "critical") ? LOG_COLOUR_RED : LOG_COLOUR_YELLOW;
        break;
    case ALERT_EV_FLAP_START:
        word = "FLAPPING";
        colour = LOG_COLOUR_BLUE;
        break;
    case ALERT_EV_FLAP_STOP:
        word = "STEADY";
        colour = LOG_COLOUR_BLUE;
        break;
    }
    jw_open(&js, NULL, '{');
    jw_str(&js, "event", alert_event_kind_name(e->kind));
    jw_str(&js, "rule", in->rule->cfg->name);
    jw_str(&js, "severity", sev);
    jw_open(&js, "labels", '{');
    for (size_t i = 0; i < labelset_count(ls); i++)
        jw_str(&js, labelset_key(ls, i), labelset_value(ls, i));
    jw_close(&js, '}');
    jw_double(&js, "value", e->value);
    jw_close(&js, '}');
    char extra[96] = "";
    if (e->kind == ALERT_EV_SEVERITY)
        snprintf(extra, sizeof(extra), " (was %s)",
                 alert_severity_label(e->old_severity,
                                      in->rule->cfg->severity));
    else if (*dur)
        snprintf(extra, sizeof(extra), " (%s %s)", when, dur);
    log_event(LOG_INFO, colour, js.buf, "%s %s %s  %s%s%s%s%s", word, sev,
              in->rule->cfg->name, strbuf_str(&subj), subj.len ? "  " : "",
              e->kind == ALERT_EV_RESOLVED ? "now " : "", strbuf_str(&val),
              extra);
    strbuf_free(&subj);
    strbuf_free(&val);
    strbuf_free(&js);
}

/* Which series are stale: three missed polls (event volume lags by a
 * bucket; usage is one sample a day).  Delivery samples are stamped at
 * the minute their window ends, so they are up to a minute old when
 * fresh. */
static void stale_limits(const struct daemon *d, double out[FAM__COUNT])
{
    double poll = 60, vol = 60, usage = 3600;
    for (size_t i = 0; i < d->cfg->nworkspaces; i++) {
        const struct workspace_cfg *w = &d->cfg->workspaces[i];
        poll = fmax(poll, w->poll_interval_s);
        vol = fmax(vol, w->volume_interval_s +
                            (w->volume_interval_s < 3600 ? 60 : 3600));
        usage = fmax(usage, w->usage_interval_s);
    }
    out[FAM_CONNECTION] = 3 * poll + 60;
    out[FAM_SOURCE] = 3 * vol + 120;
    out[FAM_USAGE] = 2 * 86400 + 2 * usage;
}

void daemon_evaluate(struct daemon *d, double now)
{
    struct eval_hooks hooks = { api_down_hook, daemon_vars, d, { 0 } };
    stale_limits(d, hooks.stale_after_s);
    const struct eval_event *evs;
    size_t n = evaluator_run(d->ev, d->store, now, &hooks, &evs);
    for (size_t i = 0; i < n; i++) {
        struct eval_instance *in = evs[i].inst;
        const struct alert_event *e = &evs[i].ev;
        log_transition(d, in, e);
        struct notify_alert a;
        switch (e->kind) {
        case ALERT_EV_RESOLVED:
            notify_alert_from(d, in, "resolved", false, e->at, &a);
            break;
        case ALERT_EV_FLAP_START:
            notify_alert_from(d, in, "firing", true, e->at, &a);
            break;
        default:
            notify_alert_from(d, in, in->st.state == ALERT_FIRING ? "firing"
                                                                   : "resolved",
                              in->st.flapping, e->at, &a);
            break;
        }
        dispatch_alert(d->disp, &a, now);
        notify_alert_free_fields(&a);
        d->dirty = true;
    }
    /* Tell the dispatcher what still fires (repeat_interval, new groups
     * after a reload, recovery after a restart). */
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(d->ev, &all);
    for (size_t i = 0; i < ni; i++) {
        struct eval_instance *in = all[i];
        if (in->st.state != ALERT_FIRING || !in->st.announced_firing)
            continue;
        struct notify_alert a;
        notify_alert_from(d, in, "firing", in->st.flapping, now, &a);
        dispatch_alert(d->disp, &a, now);
        notify_alert_free_fields(&a);
    }
    daemon_reasons_request(d, now);
    daemon_state_meta(d, now);
    for (size_t i = 0; i < d->nws; i++) {
        if (d->ws[i].down)
            daemon_dispatch_meta(d, &d->ws[i], true, now);
        for (int k = POLL_DELIVERY; k < POLL__COUNT; k++)
            if (d->ws[i].coverage[k].blind)
                daemon_dispatch_coverage(d, &d->ws[i], (enum poll_kind)k,
                                         true, now);
    }
    struct eval_stats es;
    evaluator_stats(d->ev, &es);
    log_debug("daemon: evaluated %zu (rule, series) in %.1f ms: %zu pending, "
              "%zu firing", es.evaluations, es.duration_s * 1e3, es.pending,
              es.firing);
}

/* ---- connection priorities for the scheduler -------------------------- */

/* The (source_id, destination_id) pairs of connection instances that are
 * pending or firing, collected on the first question, i.e. only when a
 * delivery sweep starts, and then once for every workspace that starts
 * one in the same loop pass.  The strings belong to the interned label
 * sets, which outlive the pass. */
struct active_conns {
    struct daemon *d;
    bool built;
    const char **pairs;         /* source id, destination id, ... */
    size_t n;                   /* pairs */
    size_t cap;                 /* slots of pairs[] */
};

static void build_active(struct active_conns *ac)
{
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(ac->d->ev, &all);
    for (size_t i = 0; i < ni; i++) {
        if (all[i]->st.state == ALERT_INACTIVE ||
            all[i]->rule->family != FAM_CONNECTION)
            continue;
        const char *src = labelset_get(all[i]->series_labels, "source_id");
        const char *dst = labelset_get(all[i]->series_labels,
                                       "destination_id");
        if (!src || !dst)
            continue;
        XGROW(ac->pairs, 2 * (ac->n + 1), ac->cap);
        ac->pairs[2 * ac->n] = src;
        ac->pairs[2 * ac->n + 1] = dst;
        ac->n++;
    }
    ac->built = true;
}

static void active_conns(void *ud, schedule_conn_fn fn, void *ctx)
{
    struct active_conns *ac = ud;
    if (!ac->built)
        build_active(ac);
    for (size_t i = 0; i < ac->n; i++)
        fn(ctx, ac->pairs[2 * i], ac->pairs[2 * i + 1]);
}

void daemon_schedule_needs(struct daemon *d, struct schedule_needs *needs)
{
    memset(needs, 0, sizeof(*needs));
    memcpy(needs->lookback_s, d->rs->lookback_s, sizeof(needs->lookback_s));
    struct active_conns *ac = xcalloc(1, sizeof(*ac));
    ac->d = d;
    needs->active_conns = active_conns;
    needs->ud = ac;
}

void daemon_schedule_needs_free(struct schedule_needs *needs)
{
    struct active_conns *ac = needs->ud;
    if (!ac)
        return;
    free(ac->pairs);
    free(ac);
    needs->ud = NULL;
}
