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
    /* Instances are carved from slabs of EVAL_SLAB: no allocation each,
     * neighbours in memory.  They are never freed one by one. */
    struct eval_instance **slabs;
    size_t nslabs, slabs_cap, slab_used;
    /* Per rule, its instances by series id (store.h series_id) as last
     * seen: the lookup of a pass is an array load.  Ids are reused, so an
     * entry counts only when its labels are the series'. */
    struct eval_instance ***by_id;
    size_t *by_id_cap;
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

#define EVAL_SLAB 1024

struct evaluator *evaluator_new(const struct ruleset *rs,
                                const struct config *cfg,
                                struct label_pool *pool)
{
    struct evaluator *ev = xcalloc(1, sizeof(*ev));
    ev->rs = rs;
    ev->cfg = cfg;
    ev->pool = pool;
    ev->by_id = xcalloc(rs->n ? rs->n : 1, sizeof(*ev->by_id));
    ev->by_id_cap = xcalloc(rs->n ? rs->n : 1, sizeof(*ev->by_id_cap));
    table_grow(ev);
    return ev;
}

void evaluator_free(struct evaluator *ev)
{
    if (!ev)
        return;
    for (size_t i = 0; i < ev->nslabs; i++)
        free(ev->slabs[i]);
    free(ev->slabs);
    for (size_t i = 0; i < ev->rs->n; i++)
        free(ev->by_id[i]);
    free(ev->by_id);
    free(ev->by_id_cap);
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
    if (!ev->nslabs || ev->slab_used == EVAL_SLAB) {
        XGROW(ev->slabs, ev->nslabs + 1, ev->slabs_cap);
        ev->slabs[ev->nslabs++] = xcalloc(EVAL_SLAB, sizeof(*in));
        ev->slab_used = 0;
    }
    in = &ev->slabs[ev->nslabs - 1][ev->slab_used++];
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

/* The instance of rule ri for series s, by the series' id. */
static struct eval_instance *instance_of(struct evaluator *ev, size_t ri,
                                         const struct store *st,
                                         const struct series *s, double now)
{
    const struct rule *r = &ev->rs->rules[ri];
    const struct labelset *ls = series_labels(s);
    size_t id = series_id(s);
    if (id >= ev->by_id_cap[ri]) {
        size_t cap = store_id_bound(st, r->family);
        ev->by_id[ri] = xrealloc(ev->by_id[ri], cap * sizeof(*ev->by_id[ri]));
        memset(ev->by_id[ri] + ev->by_id_cap[ri], 0,
               (cap - ev->by_id_cap[ri]) * sizeof(*ev->by_id[ri]));
        ev->by_id_cap[ri] = cap;
    }
    struct eval_instance *in = ev->by_id[ri][id];
    if (!in || in->series_labels != ls)
        ev->by_id[ri][id] = in = instance_get(ev, r, ls, now);
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

/* One (rule, series) of a pass.  Returns whether it was evaluated (the
 * rule selects the series). */
static bool eval_one(struct evaluator *ev, size_t ri, const struct store *st,
                     const struct series *s, double now,
                     const struct eval_hooks *h, struct vars_cache *vcp)
{
    const struct rule *r = &ev->rs->rules[ri];
    struct eval_instance *in = instance_of(ev, ri, st, s, now);
    in->seen_pass = (uint32_t)ev->pass;
    if (!in->selected)
        return false;
    load_vars(ev, h, in->workspace, now, vcp);
    const struct vars_cache vc = *vcp;
    if (h && h->stale_after_s[r->family] > 0 &&
        now - series_last_update(s) > h->stale_after_s[r->family]) {
        struct alert_verdict stale = { .nodata = true, .value = NAN,
                                       .api_down = vc.down };
        step(ev, in, &stale, now);
        return true;
    }
    /* A series whose newest sample is older than the one this
     * instance last judged: the store restarted with the daemon
     * and the first polls after it may end a little earlier than
     * the last ones before it.  Judging the past again would
     * resolve (or fire) on stale news; wait for newer data. */
    double through = series_last_update(s);
    if (through < in->st.data_through)
        return true;
    struct expr_vars vars = { vc.vals, EXPR_VAR__COUNT };
    struct expr_memo memo;
    expr_memo_reset(&memo);
    struct alert_verdict v = { 0 };
    struct expr_result res = expr_eval_memo(r->expr, s, now, &vars, &memo);
    v.crit = res.cond;
    v.nodata = res.nodata && !res.cond;
    v.value = res.value;
    /* The warning tier only matters when the critical one does not
     * hold, and `recover` only for a firing instance (alert.h):
     * skipping them keeps a pass to about one expression per
     * (rule, series). */
    if (r->warn && !v.crit) {
        struct expr_result w = expr_eval_memo(r->warn, s, now, &vars, &memo);
        v.warn = w.cond;
        if (w.cond)
            v.nodata = false;
    }
    if (r->recover && in->st.state == ALERT_FIRING) {
        struct expr_result rr = expr_eval_memo(r->recover, s, now, &vars,
                                               &memo);
        v.recovered = rr.cond;
    }
    v.api_down = vc.down;
    step(ev, in, &v, now);
    in->st.data_through = through;
    return true;
}

static size_t rule_index(const struct evaluator *ev, const struct rule *r)
{
    return (size_t)(r - ev->rs->rules);
}

/* Stable counting sort of events [0, n) and of instances all[from..] by
 * rule index: the order of a rule-by-rule pass. */
static void order_by_rule(struct evaluator *ev, size_t n, size_t from)
{
    size_t nr = ev->rs->n;
    size_t *count = xcalloc(nr + 1, sizeof(*count));
    if (n > 1) {
        for (size_t i = 0; i < n; i++)
            count[rule_index(ev, ev->events[i].inst->rule) + 1]++;
        for (size_t k = 1; k <= nr; k++)
            count[k] += count[k - 1];
        struct eval_event *tmp = xmalloc(n * sizeof(*tmp));
        for (size_t i = 0; i < n; i++)
            tmp[count[rule_index(ev, ev->events[i].inst->rule)]++] =
                ev->events[i];
        memcpy(ev->events, tmp, n * sizeof(*tmp));
        free(tmp);
    }
    size_t m = ev->nall - from;
    if (m > 1) {
        memset(count, 0, (nr + 1) * sizeof(*count));
        struct eval_instance **all = ev->all + from;
        for (size_t i = 0; i < m; i++)
            count[rule_index(ev, all[i]->rule) + 1]++;
        for (size_t k = 1; k <= nr; k++)
            count[k] += count[k - 1];
        struct eval_instance **tmp = xmalloc(m * sizeof(*tmp));
        for (size_t i = 0; i < m; i++)
            tmp[count[rule_index(ev, all[i]->rule)]++] = all[i];
        memcpy(all, tmp, m * sizeof(*tmp));
        free(tmp);
    }
    free(count);
}

size_t evaluator_run(struct evaluator *ev, struct store *st, double now,
                     const struct eval_hooks *h, const struct eval_event **events)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ev->nevents = 0;
    ev->pass++;
    size_t nevals = 0, nall0 = ev->nall;
    struct vars_cache vc = { 0 };

    /* Series by series, every rule of its family while the series' rows
     * are in cache (rule by rule would read the whole store once per
     * rule); the events and new instances are then put in rule order,
     * which is what callers see: rule by rule, series by series. */
    for (int f = 0; f < FAM__COUNT; f++) {
        size_t ns = store_count(st, (enum family)f);
        size_t nr = 0;
        for (size_t ri = 0; ri < ev->rs->n; ri++)
            nr += ev->rs->rules[ri].family == (enum family)f;
        for (size_t si = 0; nr && si < ns; si++) {
            store_prefetch(st, (enum family)f, si);
            const struct series *s = store_at(st, (enum family)f, si);
            for (size_t ri = 0; ri < ev->rs->n; ri++)
                if (ev->rs->rules[ri].family == (enum family)f &&
                    eval_one(ev, ri, st, s, now, h, &vc))
                    nevals++;
        }
    }
    order_by_rule(ev, ev->nevents, nall0);
    /* Instances whose series left the store: no data (unless the API is
     * down, which freezes them).  The same walk counts states. */
    ev->stats.pending = ev->stats.firing = 0;
    for (size_t i = 0; i < ev->nall; i++) {
        struct eval_instance *in = ev->all[i];
        if (in->st.state == ALERT_PENDING)
            ev->stats.pending++;
        else if (in->st.state == ALERT_FIRING)
            ev->stats.firing++;
        if (in->seen_pass == (uint32_t)ev->pass || !in->selected)
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
