/*
 * daemon.c - see daemon.h.
 *
 * Cycle of the main loop (every pass, at most ~1 s apart):
 *   1. signals: reload / stop
 *   2. per workspace: start discovery, back-fill and polls that are due
 *   3. drive HTTP transfers (API polls and receiver posts share the loop)
 *   4. evaluate the rules every eval_interval and after a poll completes
 *   5. dispatch: due notifications go to the outbox, the state file is
 *      written, then deliveries start (so nothing is lost on a crash)
 *   6. collect SMTP results, save state if anything changed
 */
#include "daemon/daemon.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/annotate.h"
#include "notify/dispatch.h"
#include "engine/eval.h"
#include "api/http.h"
#include "engine/labels.h"
#include "core/log.h"
#include "notify/notify.h"
#include "notify/outbox.h"
#include "notify/payload.h"
#include "api/poll.h"
#include "engine/rules.h"
#include "notify/silence.h"
#include "server/control.h"
#include "notify/deliver.h"
#include "server/httpd.h"
#include "server/snapshot.h"
#include "daemon/state.h"
#include "engine/store.h"

#define DISCOVERY_INTERVAL_S 1800.0
#define STOP_FLUSH_S 10.0
#define META_RULE "segalert-workspace-down"
#define OUTBOX_MAX 100000

static volatile sig_atomic_t sig_reload, sig_stop;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        sig_reload = 1;
    else
        sig_stop = 1;
}

/* Per-workspace scheduling state. */
struct ws_run {
    const struct workspace_cfg *cfg;
    struct poller *poller;
    double next_discovery;
    double next_delivery, next_volume, next_usage;
    double volume_done_to;          /* volume polled up to (bucket end) */
    bool backfilled;
    bool polled_once;               /* a sweep of every family completed */
    bool running[POLL__COUNT];      /* sweep started and not yet finished */
    bool swept[POLL__COUNT];        /* a sweep finished (ok or not) */
    bool down;                      /* meta-alert firing */
    double down_since;
    char down_reason[320];
};

struct daemon {
    struct daemon_opts o;
    const char *config_path;
    struct config *cfg;
    struct ruleset *rs;
    struct label_pool *pool;
    struct store *store;
    struct evaluator *ev;
    struct http_client *http;
    struct dispatcher *disp;
    struct outbox *ob;
    struct state_lock *lock;
    struct ws_run *ws;
    size_t nws;
    double next_eval;
    bool eval_requested;
    bool snapshot_due;
    bool dirty;                     /* state changed since the last save */
    bool stopping;                  /* aborting what is in flight at exit */
    struct deliverer *dl;
    struct httpd *httpd;
    struct rate_sample { double t; unsigned long total; } rates[64][8];
    unsigned rate_pos;              /* ring of request totals per workspace */
    double last_rate_sample;
    double started_at;
    unsigned long cycles;
};

/* ---- samples ------------------------------------------------------------- */

static void on_sample(void *ud, enum family fam, const struct kv *labels,
                      size_t n, double t, const double v[M__COUNT],
                      const bool has[M__COUNT])
{
    struct daemon *d = ud;
    struct labels_builder b;
    labels_builder_init(&b, d->pool);
    for (size_t i = 0; i < n; i++)
        labels_builder_add(&b, labels[i].key, labels[i].value);
    const struct labelset *ls = labels_builder_finish(&b);
    labels_builder_free(&b);
    struct series *s = store_get_or_add(d->store, fam, ls);
    store_add(d->store, s, t, v, has);
}

/* ---- limits derived from config and rules ---------------------------------- */

static double max_d(double a, double b)
{
    return a > b ? a : b;
}

static void store_limits_for(const struct daemon *d, struct store_limits *lim)
{
    memset(lim, 0, sizeof(*lim));
    double poll = 60;
    for (size_t i = 0; i < d->cfg->nworkspaces; i++)
        poll = max_d(poll, d->cfg->workspaces[i].poll_interval_s);
    /* What the rules read, plus slack, plus an hour for sparklines. */
    lim->retention_s[FAM_CONNECTION] = max_d(d->rs->lookback_s[FAM_CONNECTION], 3600) + 2 * poll;
    lim->retention_s[FAM_SOURCE] = max_d(d->rs->lookback_s[FAM_SOURCE], 3600) + 2 * 3600;
    lim->retention_s[FAM_USAGE] = max_d(d->rs->lookback_s[FAM_USAGE], 35 * 86400.0);
    lim->spacing_s[FAM_CONNECTION] = poll;
    /* Size volume rings for the hourly back-fill that dominates a week of
     * history; the recent minute buckets make a ring grow by doubling.
     * Sizing for minutes would reserve 10,000 rows per source. */
    lim->spacing_s[FAM_SOURCE] = 3600;
    lim->spacing_s[FAM_USAGE] = 86400;
}

static void stale_limits(const struct daemon *d, double out[FAM__COUNT])
{
    double poll = 60, vol = 60, usage = 3600;
    for (size_t i = 0; i < d->cfg->nworkspaces; i++) {
        const struct workspace_cfg *w = &d->cfg->workspaces[i];
        poll = max_d(poll, w->poll_interval_s);
        vol = max_d(vol, w->volume_interval_s + (w->volume_interval_s < 3600 ? 60 : 3600));
        usage = max_d(usage, w->usage_interval_s);
    }
    /* A series is stale after three missed polls (event volume lags by a
     * bucket; usage is one sample a day). */
    /* Delivery samples are stamped at the minute their window ends (the
     * API's MINUTE granularity), so they are up to a minute old when
     * fresh. */
    out[FAM_CONNECTION] = 3 * poll + 60;
    out[FAM_SOURCE] = 3 * vol + 120;
    out[FAM_USAGE] = 2 * 86400 + 2 * usage;
}

/* ---- workspace health and the meta-alert ------------------------------------ */

static struct ws_run *ws_by_name(struct daemon *d, const char *name)
{
    for (size_t i = 0; i < d->nws; i++)
        if (streq(d->ws[i].cfg->name, name))
            return &d->ws[i];
    return NULL;
}

static bool api_down_hook(void *ud, const char *workspace)
{
    struct daemon *d = ud;
    struct ws_run *w = workspace ? ws_by_name(d, workspace) : NULL;
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

static void dispatch_meta(struct daemon *d, struct ws_run *w, bool firing,
                          double now)
{
    struct labels_builder b;
    labels_builder_init(&b, d->pool);
    labels_builder_add(&b, "workspace", w->cfg->name);
    for (size_t i = 0; i < w->cfg->labels.n; i++)
        labels_builder_add(&b, w->cfg->labels.items[i].key,
                           w->cfg->labels.items[i].value);
    labels_builder_add(&b, "rule", META_RULE);
    const struct labelset *ls = labels_builder_finish(&b);
    labels_builder_free(&b);
    struct notify_alert a = { 0 };
    fill_alert_common(&a, META_RULE, ls);
    a.severity = xstrdup("critical");
    a.status = xstrdup(firing ? "firing" : "resolved");
    a.value = NAN;
    a.summary = xasprintf("Segment API %s for workspace %s",
                          poller_health(w->poller)->unauthorized
                              ? "unauthorized" : "unreachable",
                          w->cfg->name);
    a.description = xstrdup(w->down_reason);
    a.starts_at = w->down_since;
    a.ends_at = firing ? 0 : now;
    dispatch_alert(d->disp, &a, now);
    notify_alert_free_fields(&a);
}

static void check_health(struct daemon *d, struct ws_run *w, double now)
{
    const struct poll_health *h = poller_health(w->poller);
    double last_ok = 0, last_attempt = 0;
    for (int k = 0; k < POLL__COUNT; k++) {
        last_ok = max_d(last_ok, h->last_ok[k]);
        last_attempt = max_d(last_attempt, h->last_attempt[k]);
    }
    double grace = max_d(3 * w->cfg->poll_interval_s, 600);
    bool down = h->unauthorized ||
                (last_attempt > 0 && last_ok < last_attempt &&
                 now - max_d(last_ok, d->started_at) > grace) ||
                (!h->discovered && last_attempt > 0 &&
                 now - d->started_at > grace);
    if (down) {
        const char *why = "";
        for (int k = 0; k < POLL__COUNT; k++)
            if (h->last_error[k][0])
                why = h->last_error[k];
        snprintf(w->down_reason, sizeof(w->down_reason), "%s", why);
    }
    if (down && !w->down) {
        w->down = true;
        w->down_since = now;
        log_err("daemon: workspace \"%s\" is down (%s): rule states are "
                "frozen until the API answers again", w->cfg->name,
                w->down_reason);
        d->dirty = true;
        d->snapshot_due = true;     /* the status API shows it at once */
        dispatch_meta(d, w, true, now);
    } else if (!down && w->down && last_ok > 0) {
        /* Up again only on a successful request (a poller replaced by a
         * reload has not tried anything yet). */
        w->down = false;
        log_info("daemon: workspace \"%s\" is reachable again", w->cfg->name);
        dispatch_meta(d, w, false, now);
        d->dirty = true;
        d->snapshot_due = true;
    }
}

/* ---- polling schedule ------------------------------------------------------------ */

static void schedule_polls(struct daemon *d, struct ws_run *w, double now)
{
    struct poller *p = w->poller;
    const struct poll_health *h = poller_health(p);

    if (now >= w->next_discovery && !poller_discovering(p)) {
        /* After a 401 keep trying at a slow pace (every poll interval). */
        poller_discover(p);
        w->next_discovery = now + (h->discovered && !h->unauthorized
                                       ? DISCOVERY_INTERVAL_S
                                       : max_d(w->cfg->poll_interval_s, 60));
    }
    if (!h->discovered || h->unauthorized)
        return;

    if (!w->backfilled) {
        /* History the rules need: event volume from before the longest
         * lookback (hourly buckets; the recent part comes at the bucket
         * size of the regular polls), and the usage period so far. */
        double lookback = max_d(d->rs->lookback_s[FAM_SOURCE], 3600);
        double bucket = poller_volume_bucket(p);
        double recent_from = now - 2 * 3600;
        if (lookback > 2 * 3600 && bucket < 3600) {
            poller_poll_volume_bucket(p, now - lookback - 3600, recent_from, 3600);
        }
        w->volume_done_to = floor(recent_from / bucket) * bucket;
        if (bucket >= 3600)
            w->volume_done_to = now - lookback - 3600;
        w->backfilled = true;
        log_info("daemon: ws=%s back-filling %s of event volume",
                 w->cfg->name, lookback > 86400 ? "days" : "hours");
    }
    if (now >= w->next_delivery && !w->running[POLL_DELIVERY]) {
        struct poll_connection *conns;
        size_t n = poller_connections(p, &conns);
        for (size_t i = 0; i < n; i++) {
            /* Connections with pending/firing alerts go first when the
             * budget cannot cover everything. */
            conns[i].priority = 0;
        }
        struct eval_instance *const *all;
        size_t ni = evaluator_instances(d->ev, &all);
        for (size_t i = 0; i < ni; i++) {
            if (all[i]->st.state == ALERT_INACTIVE ||
                all[i]->rule->family != FAM_CONNECTION)
                continue;
            const char *did = labelset_get(all[i]->series_labels, "destination_id");
            const char *sid = labelset_get(all[i]->series_labels, "source_id");
            for (size_t k = 0; k < n; k++)
                if (streq(conns[k].dest_id, did) && streq(conns[k].source->id, sid))
                    conns[k].priority = 1;
        }
        poller_poll_delivery(p, now);
        w->running[POLL_DELIVERY] = true;
        w->next_delivery = now + w->cfg->poll_interval_s;
    }
    if (now >= w->next_volume && !w->running[POLL_VOLUME]) {
        double bucket = poller_volume_bucket(p);
        /* Re-read the last two buckets: late events update them. */
        double from = w->volume_done_to - 2 * bucket;
        poller_poll_volume(p, from, now);
        w->volume_done_to = floor((now - 60) / bucket) * bucket;
        w->running[POLL_VOLUME] = true;
        w->next_volume = now + w->cfg->volume_interval_s;
    }
    if (now >= w->next_usage && !w->running[POLL_USAGE]) {
        poller_poll_usage(p, now);
        w->running[POLL_USAGE] = true;
        w->next_usage = now + w->cfg->usage_interval_s;
    }
}

/* A workspace's sweep is complete when its client has nothing queued or in
 * flight: then the families started are done. */
static void note_sweeps(struct daemon *d, struct ws_run *w)
{
    if (!poller_idle(w->poller))
        return;
    bool any = false;
    for (int k = POLL_DELIVERY; k < POLL__COUNT; k++) {
        if (w->running[k]) {
            w->running[k] = false;
            w->swept[k] = true;
            any = true;
        }
    }
    if (any) {
        w->polled_once = w->swept[POLL_DELIVERY] && w->swept[POLL_VOLUME] &&
                         w->swept[POLL_USAGE];
        d->eval_requested = true;
    }
}

/* ---- evaluation → dispatch ---------------------------------------------------------- */

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
    const struct workspace_cfg *wc =
        config_workspace(d->cfg, labelset_get(in->series_labels, "workspace"));
    eval_default_vars(wc, at, vars);
    ctx.vars = vars;
    ctx.status_url = d->cfg->external_url;
    struct strbuf sum = STRBUF_INIT, desc = STRBUF_INIT;
    annotate_rule_texts(&ctx, &sum, &desc);
    a->severity = xstrdup(ctx.severity);
    a->status = xstrdup(status);
    a->nodata = in->st.nodata;
    a->flapping = flapping;
    a->value = in->st.value;
    a->summary = sum.len ? strbuf_detach(&sum) : NULL;
    a->description = desc.len ? strbuf_detach(&desc) : NULL;
    a->runbook_url = xstrdup(in->rule->cfg->runbook_url);
    a->starts_at = in->st.active_at;
    a->ends_at = streq(status, "resolved") ? at : 0;
    strbuf_free(&sum);
    strbuf_free(&desc);
}

static void log_transition(struct daemon *d, struct eval_instance *in,
                           const struct alert_event *e)
{
    struct strbuf lbl = STRBUF_INIT, val = STRBUF_INIT;
    labelset_format(eval_instance_labels(d->ev, in), &lbl);
    template_format_number(e->value, &val);
    log_info("alert: %s rule=%s severity=%s value=%s labels=%s",
             alert_event_kind_name(e->kind), in->rule->cfg->name,
             alert_severity_label(e->severity, in->rule->cfg->severity),
             strbuf_str(&val), strbuf_str(&lbl));
    strbuf_free(&lbl);
    strbuf_free(&val);
}

static void evaluate(struct daemon *d, double now)
{
    struct eval_hooks hooks = { api_down_hook, NULL, d, { 0 } };
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
    for (size_t i = 0; i < d->nws; i++)
        if (d->ws[i].down)
            dispatch_meta(d, &d->ws[i], true, now);
    if (n)
        d->dirty = true;
    struct eval_stats es;
    evaluator_stats(d->ev, &es);
    log_debug("daemon: evaluated %zu (rule, series) in %.1f ms: %zu pending, "
              "%zu firing", es.evaluations, es.duration_s * 1e3, es.pending,
              es.firing);
}

/* ---- state file --------------------------------------------------------------------- */

static cJSON *labels_json(const struct labelset *ls)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < labelset_count(ls); i++)
        cJSON_AddStringToObject(o, labelset_key(ls, i), labelset_value(ls, i));
    return o;
}

static void save_state(struct daemon *d)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddNumberToObject(root, "saved_at", now_wall());
    cJSON *insts = cJSON_AddArrayToObject(root, "instances");
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(d->ev, &all);
    for (size_t i = 0; i < ni; i++) {
        const struct eval_instance *in = all[i];
        /* Inactive instances without history carry nothing worth saving. */
        if (in->st.state == ALERT_INACTIVE && !in->st.flapping &&
            !in->st.announced_firing && in->st.flap_count == 0)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "rule", in->rule->cfg->name);
        cJSON_AddItemToObject(o, "series", labels_json(in->series_labels));
        cJSON_AddItemToObject(o, "state", alert_instance_to_json(&in->st));
        cJSON_AddItemToArray(insts, o);
    }
    cJSON_AddItemToObject(root, "dispatch", dispatch_to_json(d->disp));
    cJSON_AddItemToObject(root, "outbox", outbox_to_json(d->ob));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char err[256];
    if (state_save(d->cfg->state_dir, text, strlen(text), err, sizeof(err)) != 0)
        log_err("daemon: cannot save state: %s", err);
    else
        d->dirty = false;
    free(text);
}

/* Returns 0, or -1 when the state file exists but cannot be read (starting
 * anyway would overwrite it at the first save). */
static int restore_state(struct daemon *d)
{
    char err[256];
    bool quarantined = false;
    cJSON *root = state_load_json(d->cfg->state_dir, err, sizeof(err), &quarantined);
    if (!root) {
        if (quarantined) {
            log_err("daemon: the state file was corrupt (%s); it was moved "
                    "aside and segalert starts clean", err);
            return 0;
        }
        log_err("daemon: cannot read the state file in %s: %s", d->cfg->state_dir,
                err);
        return -1;
    }
    size_t restored = 0, dropped = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "instances")) {
        cJSON *rule = cJSON_GetObjectItemCaseSensitive(it, "rule");
        cJSON *series = cJSON_GetObjectItemCaseSensitive(it, "series");
        struct alert_instance st;
        if (!cJSON_IsString(rule) || !cJSON_IsObject(series) ||
            alert_instance_from_json(cJSON_GetObjectItemCaseSensitive(it, "state"),
                                     &st, err, sizeof(err)) != 0) {
            dropped++;
            continue;
        }
        struct labels_builder b;
        labels_builder_init(&b, d->pool);
        cJSON *kv;
        cJSON_ArrayForEach(kv, series)
            if (cJSON_IsString(kv))
                labels_builder_add(&b, kv->string, kv->valuestring);
        const struct labelset *ls = labels_builder_finish(&b);
        labels_builder_free(&b);
        if (evaluator_restore(d->ev, rule->valuestring, ls, &st))
            restored++;
        else
            dropped++;
    }
    cJSON *disp = cJSON_GetObjectItemCaseSensitive(root, "dispatch");
    if (disp && dispatch_from_json(d->disp, disp, err, sizeof(err)) != 0)
        log_err("daemon: state file: notification groups not restored: %s", err);
    cJSON *ob = cJSON_GetObjectItemCaseSensitive(root, "outbox");
    if (ob) {
        struct outbox *o = outbox_from_json(ob, OUTBOX_MAX, (uint64_t)getpid(),
                                            err, sizeof(err));
        if (o) {
            outbox_free(d->ob);
            d->ob = o;
        } else {
            log_err("daemon: state file: outbox not restored: %s", err);
        }
    }
    log_info("daemon: state restored: %zu alert instances (%zu dropped), %zu "
             "queued notifications", restored, dropped, outbox_count(d->ob));
    cJSON_Delete(root);
    return 0;
}

/* ---- delivery ------------------------------------------------------------------------- */

struct attempt_ctx {
    struct daemon *d;
    uint64_t entry_id;
    char receiver[128];
};

static void on_delivered(void *ud, const struct delivery_verdict *v)
{
    struct attempt_ctx *ac = ud;
    struct daemon *d = ac->d;
    double now = now_wall();
    if (d->stopping && v->outcome != DELIVERY_OK) {
        /* Aborted by our shutdown, not refused by the receiver: the entry
         * stays as it was, so the state file has it queued and due at
         * once after a restart (no back-off, no failure counted). */
        free(ac);
        return;
    }
    struct outbox_result res = { OUTBOX_OK, 0, NULL };
    if (v->outcome != DELIVERY_OK) {
        res.kind = v->outcome == DELIVERY_PERMANENT ? OUTBOX_PERMANENT
                                                    : OUTBOX_RETRY;
        res.retry_after_s = v->retry_after_s > 0 ? v->retry_after_s : 0;
        res.reason = v->reason;
    }
    const struct outbox_entry *e = outbox_get(d->ob, ac->entry_id);
    char nid[160];
    snprintf(nid, sizeof(nid), "%s", e && e->n ? e->n->id : "?");
    switch (outbox_done(d->ob, ac->entry_id, &res, now)) {
    case OUTBOX_DELIVERED:
        log_info("notify: delivered %s to receiver \"%s\"", nid, ac->receiver);
        break;
    case OUTBOX_RESCHEDULED:
        log_warn("notify: receiver \"%s\" failed for %s (%s); will retry",
                 ac->receiver, nid, v->reason);
        break;
    case OUTBOX_FAILED:
        log_err("notify: receiver \"%s\" permanently failed for %s: %s",
                ac->receiver, nid, v->reason[0] ? v->reason : "gave up");
        break;
    default:
        break;
    }
    d->dirty = true;
    free(ac);
}

static void deliver(struct daemon *d, struct outbox_entry *e, double now)
{
    struct attempt_ctx *ac = xcalloc(1, sizeof(*ac));
    ac->d = d;
    ac->entry_id = e->id;
    snprintf(ac->receiver, sizeof(ac->receiver), "%s", e->n->receiver);
    deliverer_send(d->dl, e->n, config_receiver(d->cfg, e->n->receiver), now,
                   d->o.eval_interval_s, on_delivered, ac);
}

static void flush_notifications(struct daemon *d, double now)
{
    struct notification **ns = NULL;
    size_t n = dispatch_tick(d->disp, now, &ns);
    for (size_t i = 0; i < n; i++) {
        log_info("notify: %s reason=%s receiver=%s group=%s alerts=%zu",
                 ns[i]->id, notify_reason_name(ns[i]->reason), ns[i]->receiver,
                 ns[i]->group_key, ns[i]->nalerts);
        outbox_add(d->ob, ns[i], now);
    }
    free(ns);
    if (n) {
        /* In the state file before the first delivery attempt. */
        save_state(d);
    }
    struct outbox_entry *due[64];
    size_t nd;
    while ((nd = outbox_due(d->ob, now, due, ARRAY_SIZE(due))) > 0) {
        for (size_t i = 0; i < nd; i++)
            deliver(d, due[i], now);
        if (nd < ARRAY_SIZE(due))
            break;
    }
}

static void reload_now(struct daemon *d, char *err, size_t errlen);

/* ---- snapshot for the HTTP server ---------------------------------------------------- */

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

static unsigned long ws_total_requests(const struct seg_client_stats *st)
{
    unsigned long total = 0;
    for (int e = 0; e < SEGEP__COUNT; e++)
        total += st->requests[e];
    return total;
}

/* Remember request totals every few seconds to show the achieved rate. */
static void sample_rates(struct daemon *d, double now)
{
    if (now - d->last_rate_sample < 5)
        return;
    d->last_rate_sample = now;
    d->rate_pos = (d->rate_pos + 1) % 64;
    for (size_t i = 0; i < d->nws && i < 8; i++) {
        struct seg_client_stats st;
        seg_client_stats(poller_client(d->ws[i].poller), &st);
        d->rates[d->rate_pos][i].t = now;
        d->rates[d->rate_pos][i].total = ws_total_requests(&st);
    }
}

static double rate_last_minute(const struct daemon *d, size_t wi, double now)
{
    if (wi >= 8)
        return -1;
    const struct rate_sample *cur = &d->rates[d->rate_pos][wi];
    const struct rate_sample *old = NULL;
    for (unsigned k = 1; k < 64; k++) {
        const struct rate_sample *r = &d->rates[(d->rate_pos + 64 - k) % 64][wi];
        if (r->t <= 0 || r->total > cur->total)
            break;
        old = r;
        if (now - r->t >= 60)
            break;
    }
    if (!old || cur->t - old->t < 1)
        return 0;
    return (double)(cur->total - old->total) * 60.0 / (cur->t - old->t);
}


static void snapshot_workspaces(struct daemon *d, struct snapshot *sn, double now)
{
    sn->nworkspaces = d->nws;
    sn->workspaces = xcalloc(d->nws ? d->nws : 1, sizeof(*sn->workspaces));
    for (size_t i = 0; i < d->nws; i++) {
        struct ws_run *w = &d->ws[i];
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
        struct poll_connection *conns;
        size_t nc = poller_connections(w->poller, &conns);
        double oldest = -1;
        for (size_t k = 0; k < nc; k++) {
            double age = conns[k].last_polled > 0 ? now - conns[k].last_polled
                                                  : now - d->started_at;
            if (age > oldest)
                oldest = age;
        }
        sw->oldest_connection_s = oldest;
        sw->request_budget = w->cfg->request_budget;
        sw->effective_budget = st.effective_budget;
        sw->requests_last_minute = rate_last_minute(d, i, now);
        memcpy(sw->requests, st.requests, sizeof(sw->requests));
        memcpy(sw->by_class, st.by_class, sizeof(sw->by_class));
        sw->rate_limited = st.rate_limited;
        sw->retries = st.retries;
        sw->in_flight = st.in_flight;
        sw->queued = st.queued;
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
        eval_default_vars(config_workspace(d->cfg, labelset_get(in->series_labels,
                                                                "workspace")),
                          now, vars);
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
            size_t np = series_points(s, (enum metric_id)m, now - 6 * 3600, now,
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
        struct outbox_failure f[16];
        size_t nf = outbox_failures(d->ob, rc->name, f, 16);
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
            ss->labels = labels_to_kv(series_labels(s), &ss->nlabels);
            sn->nseries++;
        }
    }
}

static void publish_snapshot(struct daemon *d, double now)
{
    if (!d->httpd)
        return;
    struct snapshot *sn = snapshot_new();
    sn->generated_at = now;
    sn->started_at = d->started_at;
    sn->version = xstrdup(SEGALERT_VERSION);
    sn->config_path = xstrdup(d->config_path);
    sn->state_dir = xstrdup(d->cfg->state_dir);
    sn->ready = true;
    for (size_t i = 0; i < d->nws; i++)
        sn->ready = sn->ready && d->ws[i].polled_once;
    struct eval_stats es;
    evaluator_stats(d->ev, &es);
    sn->eval_duration_s = es.duration_s;
    sn->eval_evaluations = es.evaluations;
    sn->last_eval_at = d->next_eval - d->o.eval_interval_s;
    sn->outbox_queued = outbox_count(d->ob);
    struct dispatch_stats ds;
    dispatch_stats(d->disp, &ds);
    for (int r = 0; r < NOTIFY__COUNT && r < 8; r++)
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

/* ---- commands from the HTTP server -------------------------------------------------------- */

static void run_controls(struct daemon *d, double now)
{
    struct control_cmd *c;
    while ((c = control_take()) != NULL) {
        c->status = CTRL_OK;
        c->message[0] = '\0';
        switch (c->kind) {
        case CTRL_RELOAD:
            /* TODO(lead): reload_now returns a code */
            reload_now(d, c->message, sizeof(c->message));
            if (c->message[0])
                c->status = CTRL_FAILED;
            break;
        case CTRL_SILENCE_ADD: {
            const struct silence *s = NULL;
            enum silence_err e = silence_add(
                dispatch_silences(d->disp), c->matchers, c->nmatchers,
                c->starts_at, c->ends_at, c->created_by, c->comment, now, &s,
                c->message, sizeof(c->message));
            c->status = control_status_of_silence(e);
            if (e == SILENCE_OK) {
                snprintf(c->silence_id, sizeof(c->silence_id), "%s", s->id);
                log_info("daemon: silence %s added", s->id);
                d->dirty = true;
            }
            break;
        }
        case CTRL_SILENCE_EXPIRE: {
            enum silence_err e = silence_expire(dispatch_silences(d->disp),
                                                c->id, now, c->message,
                                                sizeof(c->message));
            c->status = control_status_of_silence(e);
            if (e == SILENCE_OK) {
                log_info("daemon: silence %s expired", c->id);
                d->dirty = true;
            }
            break;
        }
        }
        /* A GET right after this POST must see its effect. */
        publish_snapshot(d, now);
        control_complete(c);
    }
}

/* ---- setup, reload, teardown -------------------------------------------------------------- */

/* eval_interval_s: how often firing alerts are re-sent to Alertmanager. */
static struct config *load_all(const char *path, struct ruleset **rs_out,
                               double eval_interval_s)
{
    struct diag_list diags = DIAG_LIST_INIT;
    struct config *cfg = config_load(path, &diags);
    struct ruleset *rs = cfg ? ruleset_compile(cfg, &diags) : NULL;
    for (size_t i = 0; i < diags.n; i++) {
        struct strbuf line = STRBUF_INIT;
        diag_format(&diags.items[i], &line);
        if (diags.items[i].severity == DIAG_ERROR)
            log_err("config: %s", strbuf_str(&line));
        else
            log_warn("config: %s", strbuf_str(&line));
        strbuf_free(&line);
    }
    if (!cfg || diags.nerrors) {
        ruleset_free(rs);
        config_free(cfg);
        diag_list_free(&diags);
        return NULL;
    }
    diag_list_free(&diags);
    /* The alertmanager receiver is the HA path: Alertmanager groups and
     * deduplicates itself, so routes to it send at once and re-send every
     * evaluation while firing (SPEC §5). */
    for (size_t i = 0; i < cfg->nroutes; i++) {
        struct route_cfg *r = &cfg->routes[i];
        if (r->receiver_index >= 0 && (size_t)r->receiver_index < cfg->nreceivers &&
            cfg->receivers[r->receiver_index].type == RECV_ALERTMANAGER) {
            r->timing.has_group_wait = r->timing.has_group_interval =
                r->timing.has_repeat_interval = true;
            r->timing.group_wait_s = 0;
            r->timing.group_interval_s = eval_interval_s;
            r->timing.repeat_interval_s = eval_interval_s;
        }
    }
    *rs_out = rs;
    return cfg;
}

static void workspaces_start(struct daemon *d, double now)
{
    d->nws = d->cfg->nworkspaces;
    d->ws = xcalloc(d->nws ? d->nws : 1, sizeof(*d->ws));
    struct sample_sink sink = { on_sample, d };
    for (size_t i = 0; i < d->nws; i++) {
        struct ws_run *w = &d->ws[i];
        w->cfg = &d->cfg->workspaces[i];
        w->poller = poller_new(w->cfg, d->http, &sink);
        w->next_discovery = now;
        w->next_delivery = w->next_volume = w->next_usage = now;
    }
}

static void workspaces_stop(struct daemon *d)
{
    for (size_t i = 0; i < d->nws; i++)
        poller_free(d->ws[i].poller);
    free(d->ws);
    d->ws = NULL;
    d->nws = 0;
}

/* Is the rule the same in both configs (so its instances keep state)? */
static bool rule_unchanged(const struct rule_cfg *a, const struct rule_cfg *b)
{
    return streq(a->expr, b->expr) && streq(a->warn, b->warn) &&
           streq(a->recover, b->recover) && a->for_s == b->for_s &&
           a->keep_firing_for_s == b->keep_firing_for_s &&
           a->no_data == b->no_data && a->no_data_after_s == b->no_data_after_s &&
           streq(a->severity, b->severity);
}

/* Reload the configuration; err is "" on success, else why it was kept. */
static void reload_now(struct daemon *d, char *err, size_t errlen)
{
    log_info("daemon: reloading %s", d->config_path);
    err[0] = '\0';
    struct ruleset *rs = NULL;
    struct config *cfg = load_all(d->config_path, &rs, d->o.eval_interval_s);
    if (!cfg) {
        log_err("daemon: reload failed; keeping the running configuration");
        snprintf(err, errlen, "%s has errors (see the log or run segalert "
                 "check); the running configuration is kept", d->config_path);
        return;
    }
    if (!streq(cfg->state_dir, d->cfg->state_dir))
        log_warn("daemon: state_dir changed; it takes effect on restart");
    struct evaluator *ev = evaluator_new(rs, cfg, d->pool);
    size_t kept = 0;
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(d->ev, &all);
    double now = now_wall();
    for (size_t i = 0; i < ni; i++) {
        const struct rule_cfg *old = all[i]->rule->cfg;
        bool carried = false;
        for (size_t k = 0; k < rs->n; k++) {
            if (streq(rs->rules[k].cfg->name, old->name) &&
                rule_unchanged(rs->rules[k].cfg, old)) {
                evaluator_restore(ev, old->name, all[i]->series_labels, &all[i]->st);
                kept++;
                carried = true;
                break;
            }
        }
        /* A removed or changed rule starts over: what it announced is
         * resolved, or it would stay firing in its group for ever. */
        if (!carried && all[i]->st.state == ALERT_FIRING &&
            all[i]->st.announced_firing) {
            struct notify_alert a;
            notify_alert_from(d, all[i], "resolved", false, now, &a);
            dispatch_alert(d->disp, &a, now);
            notify_alert_free_fields(&a);
        }
    }
    /* A workspace that the reload removes cannot come back up: resolve its
     * meta-alert now, or it would stay firing in its group for ever. */
    for (size_t i = 0; i < d->nws; i++)
        if (d->ws[i].down && !config_workspace(cfg, d->ws[i].cfg->name))
            dispatch_meta(d, &d->ws[i], false, now);
    /* The pollers point into the old config: cancel what is queued and let
     * transfers in flight finish before replacing them (bounded by the
     * request timeout). */
    for (size_t i = 0; i < d->nws; i++)
        poller_cancel(d->ws[i].poller);
    for (;;) {
        int inflight = 0;
        for (size_t i = 0; i < d->nws; i++)
            inflight += poller_in_flight(d->ws[i].poller);
        if (!inflight)
            break;
        http_run(d->http, 100);
    }
    /* What the new run of a workspace keeps from the old one (matched by
     * name): the history already back-filled into the store and how far
     * event volume was read, and whether its meta-alert is firing. */
    size_t nold = d->nws;
    struct ws_run *old = xcalloc(nold ? nold : 1, sizeof(*old));
    char **old_names = xcalloc(nold ? nold : 1, sizeof(*old_names));
    for (size_t i = 0; i < nold; i++) {
        old[i] = d->ws[i];
        old_names[i] = xstrdup(d->ws[i].cfg->name);
    }
    workspaces_stop(d);
    evaluator_free(d->ev);
    ruleset_free(d->rs);
    dispatch_set_config(d->disp, cfg);
    config_free(d->cfg);
    d->cfg = cfg;
    d->rs = rs;
    d->ev = ev;
    struct store_limits lim;
    store_limits_for(d, &lim);
    store_set_limits(d->store, &lim);
    workspaces_start(d, now);
    for (size_t i = 0; i < d->nws; i++) {
        struct ws_run *w = &d->ws[i];
        for (size_t k = 0; k < nold; k++) {
            if (!streq(old_names[k], w->cfg->name))
                continue;
            w->backfilled = old[k].backfilled;
            w->volume_done_to = old[k].volume_done_to;
            w->down = old[k].down;
            w->down_since = old[k].down_since;
            memcpy(w->down_reason, old[k].down_reason, sizeof(w->down_reason));
        }
    }
    for (size_t k = 0; k < nold; k++)
        free(old_names[k]);
    free(old_names);
    free(old);
    struct cli_common c = d->o.common;
    cli_apply_logging(&c, cfg->log_level, cfg->log_format);
    log_info("daemon: reloaded: %zu workspaces, %zu rules (%zu alert instances "
             "kept)", cfg->nworkspaces, rs->n, kept);
    d->eval_requested = true;
    d->dirty = true;
}

static bool all_idle(struct daemon *d)
{
    for (size_t i = 0; i < d->nws; i++)
        if (!poller_idle(d->ws[i].poller))
            return false;
    return true;
}

static void stop_flush(struct daemon *d)
{
    /* Stop polling; give deliveries up to 10 s. */
    double deadline = now_wall() + STOP_FLUSH_S;
    for (size_t i = 0; i < d->nws; i++)
        poller_cancel(d->ws[i].poller);
    while (now_wall() < deadline) {
        flush_notifications(d, now_wall());
        deliverer_poll(d->dl);
        if (deliverer_in_flight(d->dl) == 0 && outbox_next_due(d->ob) > now_wall())
            break;
        http_run(d->http, 100);
    }
    if (deliverer_in_flight(d->dl))
        log_warn("daemon: %u deliveries still running at shutdown; they stay "
                 "queued in the state file", deliverer_in_flight(d->dl));
}

int daemon_run(const struct daemon_opts *opts)
{
    struct daemon dd = { 0 };
    struct daemon *d = &dd;
    d->o = *opts;
    if (d->o.eval_interval_s <= 0)
        d->o.eval_interval_s = 15;
    d->config_path = opts->common.config_path ? opts->common.config_path
                                              : config_default_path();
    struct cli_common c0 = opts->common;
    cli_apply_logging(&c0, NULL, NULL);
    d->cfg = load_all(d->config_path, &d->rs, d->o.eval_interval_s);
    if (!d->cfg) {
        fprintf(stderr, "segalert run: configuration errors in %s; not "
                "starting (details above; `segalert check` lists them)\n",
                d->config_path);
        return 2;
    }
    cli_apply_logging(&c0, d->cfg->log_level, d->cfg->log_format);

    char err[512];
    if (state_dir_prepare(d->cfg->state_dir, err, sizeof(err)) != 0) {
        log_err("daemon: %s", err);
        ruleset_free(d->rs);
        config_free(d->cfg);
        return 1;
    }
    d->lock = state_lock_acquire(d->cfg->state_dir, err, sizeof(err));
    if (!d->lock) {
        log_err("daemon: %s", err);
        fprintf(stderr, "segalert run: %s\n", err);
        ruleset_free(d->rs);
        config_free(d->cfg);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    double now = now_wall();
    bool rc_start_failed = false;
    d->started_at = now;
    d->pool = label_pool_new();
    struct store_limits lim;
    store_limits_for(d, &lim);
    d->store = store_new(&lim);
    d->ev = evaluator_new(d->rs, d->cfg, d->pool);
    d->http = http_client_new();
    d->disp = dispatch_new(d->cfg);
    d->ob = outbox_new(OUTBOX_MAX, (uint64_t)getpid() ^ (uint64_t)now);
    d->dl = deliverer_new(d->http, d->o.dry_run);
    if (restore_state(d) != 0) {
        fprintf(stderr, "segalert run: cannot read the state file in %s; not "
                "starting (it would be overwritten)\n", d->cfg->state_dir);
        deliverer_free(d->dl);
        outbox_free(d->ob);
        dispatch_free(d->disp);
        http_client_free(d->http);
        evaluator_free(d->ev);
        store_free(d->store);
        label_pool_free(d->pool);
        ruleset_free(d->rs);
        state_lock_release(d->lock);
        config_free(d->cfg);
        return 1;
    }
    workspaces_start(d, now);
    d->next_eval = now + d->o.eval_interval_s;
    if (d->cfg->listen && d->cfg->listen[0] && !d->o.once) {
        d->httpd = httpd_start(d->cfg->listen, d->cfg->admin_token, err,
                               sizeof(err));
        if (!d->httpd) {
            log_err("daemon: cannot serve HTTP on %s: %s", d->cfg->listen, err);
            fprintf(stderr, "segalert run: cannot listen on %s: %s\n",
                    d->cfg->listen, err);
            rc_start_failed = true;
        } else {
            log_info("daemon: status page and /metrics on http://%s/",
                     d->cfg->listen);
            publish_snapshot(d, now);
        }
    }
    log_info("daemon: segalert %s started: %zu workspaces, %zu rules, %zu "
             "receivers%s", SEGALERT_VERSION, d->cfg->nworkspaces, d->rs->n,
             d->cfg->nreceivers, d->o.dry_run ? " (dry run)" : "");

    int rc = 0;
    if (rc_start_failed) {
        sig_stop = 1;
        rc = 1;
    }
    bool once_polled = false;
    double once_deadline = 0;
    while (!sig_stop) {
        now = now_wall();
        if (sig_reload) {
            char rerr[512];
            sig_reload = 0;
            reload_now(d, rerr, sizeof(rerr));
            d->snapshot_due = true;
        }
        run_controls(d, now);
        for (size_t i = 0; i < d->nws; i++)
            schedule_polls(d, &d->ws[i], now);
        double wait = 1.0;
        for (size_t i = 0; i < d->nws; i++) {
            double w = poller_tick(d->ws[i].poller);
            if (w < wait)
                wait = w;
        }
        if (deliverer_in_flight(d->dl))
            wait = wait > 0.25 ? 0.25 : wait;
        double due = dispatch_next_due(d->disp);
        if (due - now < wait)
            wait = due - now;
        due = outbox_next_due(d->ob);
        if (due - now < wait)
            wait = due - now;
        if (d->next_eval - now < wait)
            wait = d->next_eval - now;
        int ms = wait <= 0 ? 0 : (int)(wait * 1000) + 1;
        http_run(d->http, ms);
        now = now_wall();
        for (size_t i = 0; i < d->nws; i++) {
            note_sweeps(d, &d->ws[i]);
            check_health(d, &d->ws[i], now);
        }
        if (now >= d->next_eval || d->eval_requested) {
            evaluate(d, now);
            d->eval_requested = false;
            d->next_eval = now + d->o.eval_interval_s;
            d->snapshot_due = true;
        }
        sample_rates(d, now);
        if (d->snapshot_due) {
            publish_snapshot(d, now);
            d->snapshot_due = false;
        }
        flush_notifications(d, now);
        deliverer_poll(d->dl);
        if (d->dirty)
            save_state(d);
        d->cycles++;

        if (d->o.once) {
            bool all_polled = true;
            for (size_t i = 0; i < d->nws; i++) {
                const struct poll_health *h = poller_health(d->ws[i].poller);
                if (!d->ws[i].polled_once && !h->unauthorized &&
                    !(h->errors[POLL_DISCOVERY] && !h->discovered))
                    all_polled = false;
            }
            if (all_polled && all_idle(d) && !once_polled) {
                once_polled = true;
                evaluate(d, now);
                /* One cycle includes the notifications it causes: wait
                 * for their group_wait (bounded), then stop. */
                double due_at = dispatch_next_due(d->disp);
                once_deadline = isfinite(due_at) && due_at - now < 600 ? due_at : now;
                for (size_t i = 0; i < d->nws; i++) {
                    const struct poll_health *h = poller_health(d->ws[i].poller);
                    for (int k = 0; k < POLL__COUNT; k++)
                        if (h->errors[k])
                            rc = 1;
                    if (h->unauthorized)
                        rc = 1;
                }
            }
            if (once_polled && now >= once_deadline)
                sig_stop = 1;
        }
    }

    log_info("daemon: stopping");
    httpd_stop(d->httpd);
    snapshot_clear();
    stop_flush(d);
    /* Abort what is still in flight (callbacks run now, while the pollers
     * and the outbox exist), then free the rest. */
    d->stopping = true;
    http_client_free(d->http);
    deliverer_free(d->dl);
    save_state(d);
    workspaces_stop(d);
    outbox_free(d->ob);
    dispatch_free(d->disp);
    evaluator_free(d->ev);
    store_free(d->store);
    label_pool_free(d->pool);
    ruleset_free(d->rs);
    state_lock_release(d->lock);
    config_free(d->cfg);
    log_info("daemon: stopped");
    return rc;
}
