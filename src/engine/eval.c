/*
 * eval.c - see eval.h.
 */
#include "engine/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct evaluator {
    const struct ruleset *rs;
    const struct config *cfg;
    struct label_pool *pool;
    /* open-addressing table of instances keyed by (rule, series labels) */
    struct eval_instance **slots;
    size_t nslots;
    struct eval_instance **all;         /* insertion order */
    size_t nall, all_cap;
    struct eval_event *events;
    size_t nevents, events_cap;
    unsigned long pass;
    unsigned long restores;         /* evaluator_restore() calls */
    struct eval_stats stats;
};

static uint64_t key_hash(const struct rule *r, const struct labelset *ls)
{
    uint64_t h = (uint64_t)(uintptr_t)r * 0x9E3779B97F4A7C15ULL;
    h ^= (uint64_t)(uintptr_t)ls + 0x632BE59BD9B4E019ULL + (h << 6) + (h >> 2);
    h ^= h >> 29;
    return h;
}

static void table_insert(struct evaluator *ev, struct eval_instance *in)
{
    size_t mask = ev->nslots - 1;
    size_t k = key_hash(in->rule, in->series_labels) & mask;
    while (ev->slots[k])
        k = (k + 1) & mask;
    ev->slots[k] = in;
}

static void table_grow(struct evaluator *ev)
{
    free(ev->slots);
    ev->nslots = ev->nslots ? ev->nslots * 2 : 1024;
    ev->slots = xcalloc(ev->nslots, sizeof(*ev->slots));
    for (size_t i = 0; i < ev->nall; i++)
        table_insert(ev, ev->all[i]);
}

static struct eval_instance *table_find(const struct evaluator *ev,
                                        const struct rule *r,
                                        const struct labelset *ls)
{
    if (!ev->nslots)
        return NULL;
    size_t mask = ev->nslots - 1;
    size_t k = key_hash(r, ls) & mask;
    while (ev->slots[k]) {
        struct eval_instance *in = ev->slots[k];
        if (in->rule == r && in->series_labels == ls)
            return in;
        k = (k + 1) & mask;
    }
    return NULL;
}

struct evaluator *evaluator_new(const struct ruleset *rs,
                                const struct config *cfg,
                                struct label_pool *pool)
{
    struct evaluator *ev = xcalloc(1, sizeof(*ev));
    ev->rs = rs;
    ev->cfg = cfg;
    ev->pool = pool;
    table_grow(ev);
    return ev;
}

void evaluator_free(struct evaluator *ev)
{
    if (!ev)
        return;
    for (size_t i = 0; i < ev->nall; i++)
        free(ev->all[i]);
    free(ev->all);
    free(ev->slots);
    free(ev->events);
    free(ev);
}

static struct eval_instance *instance_get(struct evaluator *ev,
                                          const struct rule *r,
                                          const struct labelset *ls, double now)
{
    struct eval_instance *in = table_find(ev, r, ls);
    if (in)
        return in;
    if ((ev->nall + 1) * 2 > ev->nslots)
        table_grow(ev);
    in = xcalloc(1, sizeof(*in));
    in->rule = r;
    in->series_labels = ls;
    in->selected = rule_selects(r, ls);
    in->workspace = labelset_get(ls, "workspace");
    alert_instance_init(&in->st, now);
    XGROW(ev->all, ev->nall + 1, ev->all_cap);
    ev->all[ev->nall++] = in;
    table_insert(ev, in);
    return in;
}

const struct labelset *eval_instance_labels(struct evaluator *ev,
                                            struct eval_instance *in)
{
    if (in->labels)
        return in->labels;
    struct labels_builder b;
    labels_builder_init(&b, ev->pool);
    labels_builder_add_set(&b, in->series_labels);
    const char *wsname = labelset_get(in->series_labels, "workspace");
    const struct workspace_cfg *ws = wsname && ev->cfg
                                         ? config_workspace(ev->cfg, wsname)
                                         : NULL;
    if (ws)
        for (size_t i = 0; i < ws->labels.n; i++)
            labels_builder_add(&b, ws->labels.items[i].key,
                               ws->labels.items[i].value);
    const struct rule_cfg *rc = in->rule->cfg;
    for (size_t i = 0; i < rc->labels.n; i++)
        labels_builder_add(&b, rc->labels.items[i].key, rc->labels.items[i].value);
    labels_builder_add(&b, "rule", rc->name);
    in->labels = labels_builder_finish(&b);
    labels_builder_free(&b);
    return in->labels;
}

void eval_default_vars(const struct workspace_cfg *ws, double now,
                       double vals[EXPR_VAR__COUNT])
{
    double start, end;
    billing_cycle_utc(now, ws ? ws->billing_cycle_day : 1, &start, &end);
    vals[EXPR_VAR_MTU_LIMIT] = ws ? ws->mtu_limit : 0;
    vals[EXPR_VAR_API_CALLS_LIMIT] = ws ? ws->api_calls_limit : 0;
    vals[EXPR_VAR_PERIOD_ELAPSED] = now - start;
    vals[EXPR_VAR_PERIOD_REMAINING] = end - now;
}

static void emit(struct evaluator *ev, struct eval_instance *in,
                 const struct alert_event *e, int n)
{
    for (int i = 0; i < n; i++) {
        XGROW(ev->events, ev->nevents + 1, ev->events_cap);
        ev->events[ev->nevents].inst = in;
        ev->events[ev->nevents].ev = e[i];
        ev->nevents++;
        eval_instance_labels(ev, in);
    }
}

static void step(struct evaluator *ev, struct eval_instance *in,
                 const struct alert_verdict *v, double now)
{
    struct alert_event out[ALERT_STEP_MAX_EVENTS];
    int n = alert_step(&in->st, &in->rule->params, v, now, out,
                       ALERT_STEP_MAX_EVENTS);
    if (in->st.state != ALERT_INACTIVE)
        eval_instance_labels(ev, in);
    emit(ev, in, out, n);
}

/* Cache of $variables for the workspace of consecutive series. */
struct vars_cache {
    const char *workspace;          /* interned pointer */
    bool valid;
    double vals[EXPR_VAR__COUNT];
    bool down;
};

static void load_vars(struct evaluator *ev, const struct eval_hooks *h,
                      const char *wsname, double now, struct vars_cache *vc)
{
    if (vc->valid && vc->workspace == wsname)
        return;
    vc->workspace = wsname;
    vc->valid = true;
    if (h && h->vars) {
        h->vars(h->ud, wsname, now, vc->vals);
    } else {
        const struct workspace_cfg *ws = wsname && ev->cfg
                                             ? config_workspace(ev->cfg, wsname)
                                             : NULL;
        eval_default_vars(ws, now, vc->vals);
    }
    vc->down = h && h->api_down && wsname && h->api_down(h->ud, wsname);
}

size_t evaluator_run(struct evaluator *ev, struct store *st, double now,
                     const struct eval_hooks *h, const struct eval_event **events)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ev->nevents = 0;
    ev->pass++;
    size_t nevals = 0;
    struct vars_cache vc = { 0 };

    for (size_t ri = 0; ri < ev->rs->n; ri++) {
        const struct rule *r = &ev->rs->rules[ri];
        size_t ns = store_count(st, r->family);
        for (size_t si = 0; si < ns; si++) {
            struct series *s = store_at(st, r->family, si);
            const struct labelset *ls = series_labels(s);
            struct eval_instance *in = instance_get(ev, r, ls, now);
            in->seen_pass = ev->pass;
            if (!in->selected)
                continue;
            load_vars(ev, h, in->workspace, now, &vc);
            nevals++;
            if (h && h->stale_after_s[r->family] > 0 &&
                now - series_last_update(s) > h->stale_after_s[r->family]) {
                struct alert_verdict stale = { .nodata = true, .value = NAN,
                                               .api_down = vc.down };
                step(ev, in, &stale, now);
                continue;
            }
            /* A series whose newest sample is older than the one this
             * instance last judged: the store restarted with the daemon
             * and the first polls after it may end a little earlier than
             * the last ones before it.  Judging the past again would
             * resolve (or fire) on stale news; wait for newer data. */
            double through = series_last_update(s);
            if (through < in->st.data_through)
                continue;
            struct expr_vars vars = { vc.vals, EXPR_VAR__COUNT };
            struct alert_verdict v = { 0 };
            struct expr_result res = expr_eval(r->expr, s, now, &vars);
            v.crit = res.cond;
            v.nodata = res.nodata && !res.cond;
            v.value = res.value;
            /* The warning tier only matters when the critical one does not
             * hold, and `recover` only for a firing instance (alert.h):
             * skipping them keeps a pass to about one expression per
             * (rule, series). */
            if (r->warn && !v.crit) {
                struct expr_result w = expr_eval(r->warn, s, now, &vars);
                v.warn = w.cond;
                if (w.cond)
                    v.nodata = false;
            }
            if (r->recover && in->st.state == ALERT_FIRING) {
                struct expr_result rr = expr_eval(r->recover, s, now, &vars);
                v.recovered = rr.cond;
            }
            v.api_down = vc.down;
            step(ev, in, &v, now);
            in->st.data_through = through;
        }
    }
    /* Instances whose series left the store: no data (unless the API is
     * down, which freezes them).  The same walk counts states. */
    ev->stats.pending = ev->stats.firing = 0;
    for (size_t i = 0; i < ev->nall; i++) {
        struct eval_instance *in = ev->all[i];
        if (in->st.state == ALERT_PENDING)
            ev->stats.pending++;
        else if (in->st.state == ALERT_FIRING)
            ev->stats.firing++;
        if (in->seen_pass == ev->pass || !in->selected)
            continue;
        if (in->st.state == ALERT_INACTIVE && in->rule->params.no_data != NODATA_ALERT)
            continue;
        load_vars(ev, h, in->workspace, now, &vc);
        struct alert_verdict v = { .nodata = true, .value = NAN,
                                   .api_down = vc.down };
        step(ev, in, &v, now);
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    ev->stats.evaluations = nevals;
    ev->stats.duration_s = (double)(t1.tv_sec - t0.tv_sec) +
                           (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ev->stats.instances = ev->nall;
    *events = ev->events;
    return ev->nevents;
}

size_t evaluator_instances(const struct evaluator *ev,
                           struct eval_instance *const **out)
{
    *out = ev->all;
    return ev->nall;
}

struct eval_instance *evaluator_find(const struct evaluator *ev,
                                     const char *rule_name,
                                     const struct labelset *series_labels)
{
    for (size_t i = 0; i < ev->rs->n; i++)
        if (streq(ev->rs->rules[i].cfg->name, rule_name))
            return table_find(ev, &ev->rs->rules[i], series_labels);
    return NULL;
}

void evaluator_stats(const struct evaluator *ev, struct eval_stats *out)
{
    *out = ev->stats;
}

struct eval_instance *evaluator_restore(struct evaluator *ev,
                                        const char *rule_name,
                                        const struct labelset *series_labels,
                                        const struct alert_instance *st)
{
    for (size_t i = 0; i < ev->rs->n; i++) {
        const struct rule *r = &ev->rs->rules[i];
        if (!streq(r->cfg->name, rule_name))
            continue;
        struct eval_instance *in = instance_get(ev, r, series_labels,
                                                st->created_at);
        in->st = *st;
        ev->restores++;
        if (in->st.state != ALERT_INACTIVE)
            eval_instance_labels(ev, in);
        return in;
    }
    return NULL;
}

unsigned long evaluator_generation(const struct evaluator *ev)
{
    return ev->pass + ev->restores;
}

void evaluator_mark_changed(struct evaluator *ev)
{
    ev->restores++;
}
