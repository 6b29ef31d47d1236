/*
 * reasons.c - discard reasons of connections with discard alerts: when to
 * ask the pollers, and the cache the alerts read them from (see
 * daemon_int.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/index.h"
#include "core/log.h"
#include "daemon/daemon_int.h"

/* A connection's fetch that got no answer (cancelled by a reload, lost)
 * is asked again after this long. */
#define REASONS_ASK_AGAIN_S 120.0
/* Shortest time reasons are cached, whatever the rule's window. */
#define REASONS_MIN_CACHE_S 60.0

struct reasons_entry {
    char *ws, *source_id, *dest_id;
    struct discard_reasons r;
    bool have;                  /* r holds an answer */
    double asked_at;            /* wall time of the last request; 0 = none
                                   outstanding */
};

struct reasons_ud;

struct reasons_cache {
    struct reasons_entry *v;
    size_t n, cap;
    struct index_map map;
    struct reasons_ud **uds;    /* one per workspace name asked for */
    size_t nuds, uds_cap;
};

struct reasons_key {
    const char *ws, *source_id, *dest_id;
};

/* What a callback needs to find its entry: the daemon and the workspace
 * (the poller's answer gives the ids). */
struct reasons_ud {
    struct daemon *d;
    char *ws;
};

static uint64_t key_hash(const struct reasons_key *k)
{
    uint64_t h = hash_str(k->ws);
    h = hash_bytes(k->source_id, strlen(k->source_id), h);
    return hash_bytes(k->dest_id, strlen(k->dest_id), h);
}

static bool key_match(const void *ctx, size_t idx, const void *key)
{
    const struct reasons_cache *c = ctx;
    const struct reasons_key *k = key;
    const struct reasons_entry *e = &c->v[idx];
    return streq(e->ws, k->ws) && streq(e->source_id, k->source_id) &&
           streq(e->dest_id, k->dest_id);
}

static struct reasons_entry *entry_get(struct daemon *d,
                                       const struct reasons_key *k,
                                       bool add)
{
    if (!d->reasons) {
        if (!add)
            return NULL;
        d->reasons = xcalloc(1, sizeof(*d->reasons));
    }
    struct reasons_cache *c = d->reasons;
    uint64_t h = key_hash(k);
    size_t i = index_map_get(&c->map, h, key_match, c, k);
    if (i != INDEX_NONE)
        return &c->v[i];
    if (!add)
        return NULL;
    XGROW(c->v, c->n + 1, c->cap);
    struct reasons_entry *e = &c->v[c->n];
    memset(e, 0, sizeof(*e));
    e->ws = xstrdup(k->ws);
    e->source_id = xstrdup(k->source_id);
    e->dest_id = xstrdup(k->dest_id);
    index_map_put(&c->map, h, c->n);
    c->n++;
    return e;
}

static bool instance_key(const struct eval_instance *in,
                         struct reasons_key *k)
{
    k->ws = labelset_get(in->series_labels, "workspace");
    k->source_id = labelset_get(in->series_labels, "source_id");
    k->dest_id = labelset_get(in->series_labels, "destination_id");
    return k->ws && k->source_id && k->dest_id;
}

bool daemon_reasons_wanted(const struct eval_instance *in)
{
    const struct rule *r = in->rule;
    if (r->family != FAM_CONNECTION || r->cfg->reasons == 0)
        return false;
    return r->cfg->reasons == 1 ||
           expr_uses_metric(r->expr, M_DISCARD_RATIO) ||
           expr_uses_metric(r->expr, M_DISCARDED);
}

const struct discard_reasons *daemon_reasons_get(struct daemon *d,
                                                 const struct eval_instance *in)
{
    struct reasons_key k;
    if (!instance_key(in, &k))
        return NULL;
    const struct reasons_entry *e = entry_get(d, &k, false);
    return e && e->have ? &e->r : NULL;
}

static void on_reasons(void *ud, const char *source_id, const char *dest_id,
                       const struct discard_reasons *r)
{
    struct reasons_ud *u = ud;
    struct reasons_key k = { u->ws, source_id, dest_id };
    struct reasons_entry *e = entry_get(u->d, &k, true);
    e->asked_at = 0;
    if (r) {
        e->r = *r;
        e->have = true;
        const struct discard_reason *top = discard_reasons_top(r);
        log_debug("reasons: ws=%s %s <- %s: %zu reasons, top %s (%.0f%% of "
                  "%.0f)", u->ws, dest_id, source_id, r->n,
                  top ? top->code : "-", top ? top->share * 100 : 0,
                  r->total);
    }
    u->d->eval_requested = true;    /* attach them without waiting a poll */
}

static struct ws_schedule *ws_named(struct daemon *d, const char *name)
{
    for (size_t i = 0; i < d->nws; i++)
        if (streq(d->ws[i].cfg->name, name))
            return &d->ws[i];
    return NULL;
}

void daemon_reasons_request(struct daemon *d, double now)
{
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(d->ev, &all);
    for (size_t i = 0; i < ni; i++) {
        struct eval_instance *in = all[i];
        struct reasons_key k;
        if (in->st.state == ALERT_INACTIVE || !daemon_reasons_wanted(in) ||
            !instance_key(in, &k))
            continue;
        struct ws_schedule *w = ws_named(d, k.ws);
        if (!w || !w->poller || w->down || w->cfg->overview_budget <= 0)
            continue;
        double window = fmax(in->rule->lookback_s, REASONS_MIN_CACHE_S);
        struct reasons_entry *e = entry_get(d, &k, true);
        if (e->asked_at > 0 && now - e->asked_at < REASONS_ASK_AGAIN_S)
            continue;
        if (e->have && now - e->r.fetched_at < window)
            continue;
        /* the callback's context: one per workspace name, kept as long
         * as the cache (calls in flight point to it) */
        struct reasons_cache *c = d->reasons;
        struct reasons_ud *u = NULL;
        for (size_t j = 0; j < c->nuds && !u; j++)
            if (streq(c->uds[j]->ws, k.ws))
                u = c->uds[j];
        if (!u) {
            u = xcalloc(1, sizeof(*u));
            u->d = d;
            u->ws = xstrdup(k.ws);
            XGROW(c->uds, c->nuds + 1, c->uds_cap);
            c->uds[c->nuds++] = u;
        }
        enum poll_reasons_result res =
            poller_fetch_reasons(w->poller, k.source_id, k.dest_id, now,
                                 window, on_reasons, u);
        if (res == POLL_REASONS_QUEUED)
            e->asked_at = now;
    }
}

void daemon_reasons_shift_times(struct daemon *d, double step_s)
{
    struct reasons_cache *c = d->reasons;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        struct reasons_entry *e = &c->v[i];
        if (e->asked_at > 0)
            e->asked_at += step_s;
        if (e->have && e->r.fetched_at > 0)
            e->r.fetched_at += step_s;
    }
}

void daemon_reasons_free(struct daemon *d)
{
    struct reasons_cache *c = d->reasons;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].ws);
        free(c->v[i].source_id);
        free(c->v[i].dest_id);
    }
    free(c->v);
    for (size_t i = 0; i < c->nuds; i++) {
        free(c->uds[i]->ws);
        free(c->uds[i]);
    }
    free(c->uds);
    index_map_free(&c->map);
    free(c);
    d->reasons = NULL;
}
