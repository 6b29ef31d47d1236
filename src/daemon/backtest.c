/*
 * backtest.c - see backtest.h.
 */
#include "daemon/backtest.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api/http.h"
#include "api/poll.h"
#include "core/json.h"
#include "core/log.h"
#include "engine/annotate.h"
#include "engine/eval.h"
#include "engine/labels.h"
#include "engine/rules.h"
#include "engine/store.h"
#include "daemon/state.h"
#include "notify/dispatch.h"

#define CACHE_DIR "backtest-cache"
#define CACHE_VERSION 1
/* A cache file is a few MB for a week of a large workspace. */
#define CACHE_MAX_BYTES (512u * 1024 * 1024)
/* Margin under the API's oldest MINUTE start (requests take time). */
#define MINUTE_LIMIT_MARGIN_S 300.0

struct bt_sample {
    enum family fam;
    const struct labelset *ls;
    double t;
    double v[M__COUNT];
    bool has[M__COUNT];
};

struct bt {
    const struct config *cfg;
    const struct backtest_opts *o;
    struct label_pool *pool;
    struct bt_sample *s;
    size_t n, cap;
    size_t ws_first;            /* first sample of the workspace fetching */
};

/* ---- fetching ------------------------------------------------------------ */

static void on_sample(void *ud, enum family fam, const struct kv *labels,
                      size_t nlabels, double t, const double v[M__COUNT],
                      const bool has[M__COUNT])
{
    struct bt *b = ud;
    XGROW(b->s, b->n + 1, b->cap);
    struct bt_sample *x = &b->s[b->n++];
    x->fam = fam;
    x->ls = labels_from_kv(b->pool, labels, nlabels);
    x->t = t;
    memcpy(x->v, v, sizeof(x->v));
    memcpy(x->has, has, sizeof(x->has));
}

/* Where HOUR granularity gives way to MINUTE: the first whole hour the
 * API still serves by the minute. */
static double minute_boundary(double now, double from)
{
    double b = ceil((now - BACKTEST_MINUTE_HISTORY_S + MINUTE_LIMIT_MARGIN_S) /
                    3600) * 3600;
    return b > from ? b : from;
}

static unsigned long sent_requests(const struct poller *p)
{
    struct seg_client_stats st;
    seg_client_stats(poller_client(p), &st);
    unsigned long total = 0;
    for (int e = 0; e < SEGEP__COUNT; e++)
        total += st.requests[e];
    return total;
}

static void drive(struct http_client *http, struct poller *p,
                  const struct backtest_opts *o, unsigned long planned)
{
    while (!poller_idle(p)) {
        double wait = poller_tick(p);
        if (poller_idle(p))
            break;
        int ms = (int)(clock_real_delay(o->clock, wait) * 1000);
        if (ms > 200)
            ms = 200;
        if (ms < 1)
            ms = 1;
        http_run(http, ms);
        if (o->progress && planned)
            o->progress(o->ud, sent_requests(p), planned);
    }
}

/* Delivery windows [start, end) of the plan, in order; returns how many
 * (out may be NULL to count). */
static size_t delivery_windows(double from, double to, double boundary,
                               double now, double step, double (*out)[2])
{
    size_t n = 0;
    double oldest = now - BACKTEST_HOUR_HISTORY_S + MINUTE_LIMIT_MARGIN_S;
    double t = floor(from / 3600) * 3600;
    while (t < boundary && t < to) {
        double e = t + 3600 < boundary ? t + 3600 : boundary;
        if (t >= oldest) {
            if (out) {
                out[n][0] = t;
                out[n][1] = e;
            }
            n++;
        }
        t = e;
    }
    t = boundary > from ? boundary : floor(from / step) * step;
    while (t < to) {
        double e = t + step < to ? t + step : to;
        if (out) {
            out[n][0] = t;
            out[n][1] = e;
        }
        n++;
        t = e;
    }
    return n;
}

static bool fetch_workspace(struct bt *b, const struct workspace_cfg *ws,
                            double now, unsigned long *requests,
                            char *err, size_t errlen)
{
    const struct backtest_opts *o = b->o;
    struct sample_sink sink = { on_sample, b };
    struct http_client *http = http_client_new();
    struct poller *p = poller_new(ws, http, o->clock, &sink);
    poller_discover(p);
    drive(http, p, o, 0);
    bool ok = poller_health(p)->discovered;
    if (!ok) {
        snprintf(err, errlen, "workspace \"%s\": discovery failed: %s",
                 ws->name, poller_health(p)->last_error[POLL_DISCOVERY]);
        goto done;
    }
    double boundary = minute_boundary(now, o->from);
    double step = ws->delivery_window_s > 0 ? ws->delivery_window_s : 300;
    size_t nwin = delivery_windows(o->from, o->to, boundary, now, step, NULL);
    double (*win)[2] = xcalloc(nwin ? nwin : 1, sizeof(*win));
    delivery_windows(o->from, o->to, boundary, now, step, win);
    size_t nsrc = poller_health(p)->nsources;
    size_t nconn = poller_health(p)->nconnections;
    unsigned long pages = (unsigned long)(nsrc / 200 + 1);
    unsigned long planned = sent_requests(p) + nconn * nwin +
                            (boundary > o->from ? 2 : 1) * pages + 4 * pages;
    if (o->estimate) {
        unsigned long left = planned - sent_requests(p);
        double budget = ws->request_budget;
        o->estimate(o->ud, ws->name, left,
                    budget > 0 ? left / budget * 60.0 : 0);
    }
    /* Volume first: the windows' source_volume is joined at replay. */
    if (boundary > o->from)
        poller_poll_volume_bucket(p, o->from, boundary + 60, 3600);
    if (o->to > boundary)
        poller_poll_volume_bucket(p, boundary, o->to + 60, 60);
    poller_poll_usage(p, o->to);
    double ps, pe;
    poller_usage_period(p, o->to, &ps, &pe);
    if (o->from < ps)
        poller_poll_usage(p, o->from);
    for (size_t i = 0; i < nwin; i++)
        poller_poll_delivery_range(p, win[i][0], win[i][1],
                                   win[i][0] < boundary);
    free(win);
    drive(http, p, o, planned);
    const struct poll_health *h = poller_health(p);
    for (int k = 0; k < POLL__COUNT; k++)
        if (h->errors[k]) {
            snprintf(err, errlen, "workspace \"%s\": %s: %lu failed "
                     "request%s; last: %s", ws->name,
                     poll_kind_name((enum poll_kind)k), h->errors[k],
                     h->errors[k] == 1 ? "" : "s", h->last_error[k]);
            ok = false;
        }
done:
    *requests += sent_requests(p);
    poller_free(p);
    http_client_free(http);
    return ok;
}

/* ---- the cache ------------------------------------------------------------- */

static char *cache_key(const struct workspace_cfg *ws,
                       const struct backtest_opts *o)
{
    return xasprintf("%s|%s|%.0f|%.0f|%.0f", ws->api_url ? ws->api_url : "",
                     ws->name, o->from, o->to, ws->delivery_window_s);
}

static char *cache_path(const struct config *cfg, const char *key)
{
    return xasprintf("%s/%s/%016llx.json", cfg->state_dir, CACHE_DIR,
                     (unsigned long long)hash_str(key));
}

static void cache_write(const struct bt *b, const struct workspace_cfg *ws)
{
    char *dir = xasprintf("%s/%s", b->cfg->state_dir, CACHE_DIR);
    char err[512];
    if (state_dir_prepare(dir, err, sizeof(err)) != 0) {
        log_warn("backtest: cannot create the cache '%s': %s", dir, err);
        free(dir);
        return;
    }
    free(dir);
    char *key = cache_key(ws, b->o);
    char *path = cache_path(b->cfg, key);
    char *tmp = xasprintf("%s.tmp", path);
    struct strbuf sb = STRBUF_INIT;
    jw_open(&sb, NULL, '{');
    jw_int(&sb, "version", CACHE_VERSION);
    jw_str(&sb, "key", key);
    jw_open(&sb, "samples", '[');
    for (size_t i = b->ws_first; i < b->n; i++) {
        const struct bt_sample *x = &b->s[i];
        jw_open(&sb, NULL, '{');
        jw_str(&sb, "family", family_name(x->fam));
        jw_double(&sb, "t", x->t);
        jw_open(&sb, "labels", '{');
        for (size_t k = 0; k < labelset_count(x->ls); k++)
            jw_str(&sb, labelset_key(x->ls, k), labelset_value(x->ls, k));
        jw_close(&sb, '}');
        jw_open(&sb, "values", '{');
        for (int m = 0; m < M__COUNT; m++)
            if (x->has[m])
                jw_double(&sb, metric_table[m].name, x->v[m]);
        jw_close(&sb, '}');
        jw_close(&sb, '}');
    }
    jw_close(&sb, ']');
    jw_close(&sb, '}');
    FILE *f = fopen(tmp, "w");
    bool ok = f && fwrite(sb.buf, 1, sb.len, f) == sb.len;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        log_warn("backtest: cannot write the cache '%s': %s", path,
                 strerror(errno));
        unlink(tmp);
    }
    strbuf_free(&sb);
    free(tmp);
    free(path);
    free(key);
}

/* Read the workspace's samples from the cache; false when there is no
 * usable entry. */
static bool cache_read(struct bt *b, const struct workspace_cfg *ws)
{
    char *key = cache_key(ws, b->o);
    char *path = cache_path(b->cfg, key);
    size_t len;
    char *text = read_file(path, CACHE_MAX_BYTES, &len);
    bool ok = false;
    cJSON *j = text ? cJSON_ParseWithLength(text, len) : NULL;
    const cJSON *samples = j ? json_member(j, "samples") : NULL;
    if (!j || json_num(j, "version", 0) != CACHE_VERSION ||
        !streq(json_str(j, "key"), key) || !cJSON_IsArray(samples))
        goto done;
    const cJSON *it;
    cJSON_ArrayForEach(it, samples) {
        int fam = family_lookup(json_str(it, "family") ? json_str(it, "family")
                                                       : "");
        const cJSON *l = json_member(it, "labels");
        const cJSON *v = json_member(it, "values");
        if (fam < 0 || !cJSON_IsObject(l) || !cJSON_IsObject(v))
            goto done;
        struct labels_builder lb;
        labels_builder_init(&lb, b->pool);
        const cJSON *e;
        cJSON_ArrayForEach(e, l)
            if (cJSON_IsString(e))
                labels_builder_add(&lb, e->string, e->valuestring);
        XGROW(b->s, b->n + 1, b->cap);
        struct bt_sample *x = &b->s[b->n++];
        memset(x, 0, sizeof(*x));
        x->fam = (enum family)fam;
        x->ls = labels_builder_finish(&lb);
        labels_builder_free(&lb);
        x->t = json_num(it, "t", 0);
        cJSON_ArrayForEach(e, v) {
            int m = metric_lookup(e->string);
            double d;
            if (m >= 0 && json_number_value(e, &d)) {
                x->v[m] = d;
                x->has[m] = true;
            }
        }
    }
    ok = true;
done:
    if (!ok)
        b->n = b->ws_first;
    cJSON_Delete(j);
    free(text);
    free(path);
    free(key);
    return ok;
}

/* ---- replay ------------------------------------------------------------------ */

static int cmp_sample(const void *a, const void *b)
{
    const struct bt_sample *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return (int)x->fam - (int)y->fam;
}

/* The length of the bucket or window a sample ends: volume buckets and
 * delivery windows are hourly before the minute boundary. */
static double span_of(const struct bt_sample *x, double boundary,
                      double step)
{
    if (x->t <= boundary)
        return 3600;
    return x->fam == FAM_CONNECTION ? step : 60;
}

/* A source's volume bucket, for the join below. */
struct vol_ref {
    const char *source_id;
    double t, len, count;
};

static int cmp_vol(const void *a, const void *b)
{
    const struct vol_ref *x = a, *y = b;
    int c = strcmp(x->source_id, y->source_id);
    if (c)
        return c;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* Give connection samples their source_volume from the source's volume
 * buckets over the same window (what api/poll does for live windows):
 * the buckets sorted by (source, end), each window found by bisection. */
static void join_source_volume(struct bt *b, double boundary)
{
    struct vol_ref *vr = NULL;
    size_t nv = 0, cap = 0;
    for (size_t k = 0; k < b->n; k++) {
        const struct bt_sample *s = &b->s[k];
        const char *sid = labelset_get(s->ls, "source_id");
        if (s->fam != FAM_SOURCE || !s->has[M_EVENT_VOLUME] || !sid)
            continue;
        XGROW(vr, nv + 1, cap);
        vr[nv++] = (struct vol_ref){ sid, s->t, span_of(s, boundary, 60),
                                     s->v[M_EVENT_VOLUME] };
    }
    if (nv)
        qsort(vr, nv, sizeof(*vr), cmp_vol);
    for (size_t i = 0; i < b->n && nv; i++) {
        struct bt_sample *c = &b->s[i];
        const char *sid = labelset_get(c->ls, "source_id");
        if (c->fam != FAM_CONNECTION || !sid)
            continue;
        const struct workspace_cfg *ws =
            config_workspace(b->cfg, labelset_get(c->ls, "workspace"));
        double step = ws && ws->delivery_window_s > 0 ? ws->delivery_window_s
                                                      : 300;
        double hi = c->t, lo = hi - span_of(c, boundary, step);
        /* the first bucket of the source ending after lo */
        size_t a = 0, z = nv;
        while (a < z) {
            size_t m = a + (z - a) / 2;
            int cmp = strcmp(vr[m].source_id, sid);
            if (cmp < 0 || (cmp == 0 && vr[m].t <= lo))
                a = m + 1;
            else
                z = m;
        }
        double sum = 0;
        bool any = false;
        for (size_t k = a; k < nv && streq(vr[k].source_id, sid) &&
                           vr[k].t - vr[k].len < hi; k++) {
            double x = fmax(vr[k].t - vr[k].len, lo), y = fmin(vr[k].t, hi);
            if (y > x) {
                sum += vr[k].count * (y - x) / vr[k].len;
                any = true;
            }
        }
        if (any) {
            c->v[M_SOURCE_VOLUME] = sum;
            c->has[M_SOURCE_VOLUME] = true;
            metrics_derive(c->v, c->has);
        }
    }
    free(vr);
}

struct open_firing {
    const struct eval_instance *in;
    size_t rule, firing;
};

struct replay {
    struct bt *b;
    struct backtest_result *res;
    const struct ruleset *rs;
    struct evaluator *ev;
    struct store *st;
    struct dispatcher *disp;
    bool *selected;             /* per rule of rs */
    size_t *rule_index;         /* rs rule -> result rule */
    struct open_firing *open;
    size_t nopen, open_cap;
};

static size_t rule_pos(const struct replay *r, const struct eval_instance *in)
{
    return (size_t)(in->rule - r->rs->rules);
}

static void vars_fn(void *ud, const char *workspace, double now,
                    double vals[EXPR_VAR__COUNT])
{
    const struct config *cfg = ud;
    eval_default_vars(workspace ? config_workspace(cfg, workspace) : NULL,
                      now, vals);
}

static void to_notify_alert(struct replay *r, struct eval_instance *in,
                            const char *status, double at,
                            struct notify_alert *a)
{
    const struct labelset *ls = eval_instance_labels(r->ev, in);
    memset(a, 0, sizeof(*a));
    a->rule = xstrdup(in->rule->cfg->name);
    char fp[17];
    snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)labelset_hash(ls));
    a->fingerprint = xstrdup(fp);
    a->nlabels = labelset_count(ls);
    a->labels = xcalloc(a->nlabels ? a->nlabels : 1, sizeof(struct kv));
    for (size_t i = 0; i < a->nlabels; i++) {
        a->labels[i].key = xstrdup(labelset_key(ls, i));
        a->labels[i].value = xstrdup(labelset_value(ls, i));
    }
    struct annotate_ctx ctx;
    annotate_init(&ctx, in, store_find(r->st, in->rule->family,
                                       in->series_labels));
    a->severity = xstrdup(ctx.severity);
    a->status = xstrdup(status);
    a->nodata = in->st.nodata;
    a->flapping = in->st.flapping;
    a->value = in->st.value;
    a->unit = expr_value_unit(in->rule->expr);
    a->starts_at = in->st.active_at;
    a->ends_at = streq(status, "resolved") ? at : 0;
}

static void count_notifications(struct replay *r, double due)
{
    struct notification **ns;
    size_t n = dispatch_tick(r->disp, due, &ns);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < r->res->nrules; k++) {
            for (size_t a = 0; a < ns[i]->nalerts; a++)
                if (streq(ns[i]->alerts[a].rule, r->res->rules[k].name)) {
                    r->res->rules[k].notifications++;
                    break;
                }
        }
        notification_free(ns[i]);
    }
    free(ns);
}

static void flush_due(struct replay *r, double now)
{
    for (int guard = 0; guard < 10000; guard++) {
        double due = dispatch_next_due(r->disp);
        if (!(due <= now))
            return;
        count_notifications(r, due);
    }
}

static void track_firings(struct replay *r, double now)
{
    struct eval_instance *const *all;
    size_t n = evaluator_instances(r->ev, &all);
    for (size_t i = 0; i < n; i++) {
        struct eval_instance *in = all[i];
        size_t rp = rule_pos(r, in);
        if (!r->selected[rp])
            continue;
        struct open_firing *of = NULL;
        size_t oi;
        for (oi = 0; oi < r->nopen; oi++)
            if (r->open[oi].in == in) {
                of = &r->open[oi];
                break;
            }
        struct backtest_rule *br = &r->res->rules[r->rule_index[rp]];
        const char *sev = alert_severity_label(in->st.severity,
                                               in->rule->cfg->severity);
        if (in->st.state == ALERT_FIRING && !of) {
            XGROW(br->firings, br->nfirings + 1, br->cap);
            struct backtest_firing *f = &br->firings[br->nfirings];
            memset(f, 0, sizeof(*f));
            const struct labelset *ls = eval_instance_labels(r->ev, in);
            f->nlabels = labelset_count(ls);
            f->labels = xcalloc(f->nlabels ? f->nlabels : 1, sizeof(*f->labels));
            for (size_t k = 0; k < f->nlabels; k++) {
                f->labels[k].key = xstrdup(labelset_key(ls, k));
                f->labels[k].value = xstrdup(labelset_value(ls, k));
            }
            f->severity = xstrdup(sev);
            f->start = in->st.active_at > 0 ? in->st.active_at : now;
            f->fired = in->st.fired_at > 0 ? in->st.fired_at : now;
            XGROW(r->open, r->nopen + 1, r->open_cap);
            r->open[r->nopen++] = (struct open_firing){ in, r->rule_index[rp],
                                                        br->nfirings };
            br->nfirings++;
            of = &r->open[r->nopen - 1];
            (void)of;
        } else if (in->st.state == ALERT_FIRING) {
            struct backtest_firing *f = &br->firings[of->firing];
            if (in->st.severity == ALERT_SEV_CRITICAL &&
                !streq(f->severity, sev)) {
                free(f->severity);
                f->severity = xstrdup(sev);
            }
        } else if (of) {
            br->firings[of->firing].end = now;
            r->open[oi] = r->open[--r->nopen];
        }
    }
}

static void replay_step(struct replay *r, double now,
                        const struct eval_hooks *hooks)
{
    flush_due(r, now);
    const struct eval_event *evs;
    size_t n = evaluator_run(r->ev, r->st, now, hooks, &evs);
    for (size_t i = 0; i < n; i++) {
        struct eval_instance *in = evs[i].inst;
        const struct alert_event *e = &evs[i].ev;
        if (!r->selected[rule_pos(r, in)])
            continue;
        const char *status = e->kind == ALERT_EV_RESOLVED ? "resolved"
                             : e->kind == ALERT_EV_FLAP_START ||
                                     in->st.state == ALERT_FIRING
                                 ? "firing" : "resolved";
        struct notify_alert a;
        to_notify_alert(r, in, status, e->at, &a);
        dispatch_alert(r->disp, &a, now);
        notify_alert_free_fields(&a);
    }
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(r->ev, &all);
    for (size_t i = 0; i < ni; i++) {
        struct eval_instance *in = all[i];
        if (in->st.state != ALERT_FIRING || !in->st.announced_firing ||
            !r->selected[rule_pos(r, in)])
            continue;
        struct notify_alert a;
        to_notify_alert(r, in, "firing", now, &a);
        dispatch_alert(r->disp, &a, now);
        notify_alert_free_fields(&a);
    }
    track_firings(r, now);
}

static void replay(struct bt *b, const struct ruleset *rs, double boundary,
                   struct backtest_result *res)
{
    const struct config *cfg = b->cfg;
    const struct backtest_opts *o = b->o;
    join_source_volume(b, boundary);
    qsort(b->s, b->n, sizeof(*b->s), cmp_sample);

    struct replay r = { .b = b, .res = res, .rs = rs };
    r.selected = xcalloc(rs->n ? rs->n : 1, sizeof(*r.selected));
    r.rule_index = xcalloc(rs->n ? rs->n : 1, sizeof(*r.rule_index));
    res->rules = xcalloc(rs->n ? rs->n : 1, sizeof(*res->rules));
    for (size_t i = 0; i < rs->n; i++) {
        const char *name = rs->rules[i].cfg->name;
        if (o->rules_glob && !glob_match(o->rules_glob, name))
            continue;
        r.selected[i] = true;
        r.rule_index[i] = res->nrules;
        res->rules[res->nrules++].name = xstrdup(name);
    }

    /* The daemon's limits (daemon/reload.c), and staleness that lets
     * hourly history through. */
    double poll = 60, vol = 60, usage = 3600;
    for (size_t i = 0; i < cfg->nworkspaces; i++) {
        const struct workspace_cfg *w = &cfg->workspaces[i];
        poll = fmax(poll, fmax(w->poll_interval_s, w->delivery_window_s));
        vol = fmax(vol, w->volume_interval_s +
                            (w->volume_interval_s < 3600 ? 60 : 3600));
        usage = fmax(usage, w->usage_interval_s);
    }
    struct store_limits lim = { 0 };
    lim.retention_s[FAM_CONNECTION] =
        fmax(rs->lookback_s[FAM_CONNECTION], 3600) + 2 * 3600;
    lim.retention_s[FAM_SOURCE] = fmax(rs->lookback_s[FAM_SOURCE], 3600) +
                                  2 * 3600;
    lim.retention_s[FAM_USAGE] = fmax(rs->lookback_s[FAM_USAGE], 35 * 86400.0);
    lim.spacing_s[FAM_CONNECTION] = poll;
    lim.spacing_s[FAM_SOURCE] = 3600;
    lim.spacing_s[FAM_USAGE] = 86400;
    r.st = store_new(&lim);
    r.ev = evaluator_new(rs, cfg, b->pool);
    r.disp = dispatch_new(cfg);
    struct eval_hooks hooks = { NULL, vars_fn, (void *)cfg, { 0 } };
    hooks.stale_after_s[FAM_CONNECTION] = 3 * poll + 60;
    hooks.stale_after_s[FAM_SOURCE] = 3 * vol + 120;
    hooks.stale_after_s[FAM_USAGE] = 2 * 86400 + 2 * usage;

    size_t next = 0;
    for (double now = o->from; now <= o->to; now += BACKTEST_EVAL_STEP_S) {
        bool hourly = now <= boundary + 3600;
        hooks.stale_after_s[FAM_CONNECTION] =
            hourly ? 3 * 3600 + 60 : 3 * poll + 60;
        hooks.stale_after_s[FAM_SOURCE] = hourly ? 3 * 3600 + 120
                                                 : 3 * vol + 120;
        while (next < b->n && b->s[next].t <= now) {
            struct bt_sample *x = &b->s[next++];
            struct series *s = store_get_or_add(r.st, x->fam, x->ls);
            store_add(r.st, s, x->t, x->v, x->has);
        }
        replay_step(&r, now, &hooks);
    }
    flush_due(&r, o->to);

    free(r.open);
    free(r.selected);
    free(r.rule_index);
    dispatch_free(r.disp);
    evaluator_free(r.ev);
    store_free(r.st);
}

/* ---- the run ----------------------------------------------------------------- */

int backtest_run(const struct config *cfg, const struct backtest_opts *o,
                 struct backtest_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->from = o->from;
    out->to = o->to;
    out->complete = true;
    err[0] = '\0';
    struct diag_list diags = DIAG_LIST_INIT;
    struct ruleset *rs = ruleset_compile(cfg, &diags);
    diag_list_free(&diags);
    struct bt b = { .cfg = cfg, .o = o, .pool = label_pool_new() };
    double now = clock_wall(o->clock);
    double boundary = minute_boundary(now, o->from);
    for (size_t i = 0; i < cfg->nworkspaces; i++) {
        const struct workspace_cfg *ws = &cfg->workspaces[i];
        b.ws_first = b.n;
        if (cache_read(&b, ws)) {
            out->cached_workspaces++;
            continue;
        }
        char e[512];
        if (fetch_workspace(&b, ws, now, &out->requests, e, sizeof(e))) {
            cache_write(&b, ws);
        } else {
            out->complete = false;
            if (!err[0])
                snprintf(err, errlen, "%s", e);
        }
    }
    replay(&b, rs, boundary, out);
    free(b.s);
    ruleset_free(rs);
    label_pool_free(b.pool);
    return out->complete ? 0 : -1;
}

void backtest_result_free(struct backtest_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nrules; i++) {
        struct backtest_rule *br = &r->rules[i];
        for (size_t k = 0; k < br->nfirings; k++) {
            kv_array_free(br->firings[k].labels, br->firings[k].nlabels);
            free(br->firings[k].severity);
        }
        free(br->firings);
        free(br->name);
    }
    free(r->rules);
    memset(r, 0, sizeof(*r));
}

void backtest_result_json(const struct backtest_result *r, struct strbuf *out)
{
    jw_open(out, NULL, '{');
    jw_time(out, "from", r->from);
    jw_time(out, "to", r->to);
    jw_uint(out, "requests", r->requests);
    jw_open(out, "rules", '[');
    for (size_t i = 0; i < r->nrules; i++) {
        const struct backtest_rule *br = &r->rules[i];
        jw_open(out, NULL, '{');
        jw_str(out, "rule", br->name);
        jw_uint(out, "notifications", br->notifications);
        jw_open(out, "firings", '[');
        for (size_t k = 0; k < br->nfirings; k++) {
            const struct backtest_firing *f = &br->firings[k];
            jw_open(out, NULL, '{');
            jw_kv_object(out, "labels", f->labels, f->nlabels);
            jw_str(out, "severity", f->severity);
            jw_time(out, "start", f->start);
            if (f->end > 0)
                jw_time(out, "end", f->end);
            else
                jw_null(out, "end");
            jw_close(out, '}');
        }
        jw_close(out, ']');
        jw_close(out, '}');
    }
    jw_close(out, ']');
    jw_close(out, '}');
}
