/*
 * dispatch.c - see dispatch.h and docs/notifications.md.
 *
 * State is three things: the routes (a private copy of the config's),
 * the groups (each with its alerts and its notification log entry: one
 * group per (route, group labels), a route has one receiver, so the
 * group is also the (group_key, receiver) of Alertmanager's nflog), and a
 * small index fingerprint -> routing signature that tells when an alert
 * moved between groups (severity change, reload).
 *
 * Flushes happen on a per-group grid: created_at + group_wait, then every
 * group_interval.  A flush is only performed when it would change
 * something (plan() says so), which lets dispatch_next_due() skip idle
 * grid points instead of waking the daemon every group_interval for
 * every group.
 *
 * Nothing that happens per alert or per loop pass looks at every group:
 *   - groups are found by key through a hash index (group_index);
 *   - a fingerprint index (fps) says which groups hold an alert and how
 *     it was routed last time, so an alert that moves or resolves touches
 *     only its own groups;
 *   - inside a group, alerts are found by fingerprint through the group's
 *     own index once it holds more than GROUP_SCAN_MAX of them;
 *   - each group's next due time is cached in a heap (due_heap).  A change
 *     that may move it (an alert fed that changes the plan, a flush, a
 *     reload, a silence added or ended) marks the group stale; the stale
 *     ones are recomputed once, at the next dispatch_next_due() or
 *     dispatch_tick(), so an evaluation feeding thousands of alerts to a
 *     group recomputes that group once.
 */
#include "notify/dispatch.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/receiver_type.h"
#include "core/heap.h"
#include "core/index.h"
#include "core/json.h"
#include "notify/notify_json.h"
#include "core/log.h"
#include "core/util.h"

/* Expired silences stay listed this long (Alertmanager keeps 5 days). */
#define SILENCE_RETENTION_S (5 * 86400.0)
/* Groups with up to this many alerts find one by scanning them; larger
 * ones keep an index by fingerprint. */
#define GROUP_SCAN_MAX 8

struct route {
    char *name;
    struct kv *match;
    size_t nmatch;
    bool cont;
    char *receiver;
    char *rtype;                /* the receiver's type name */
    bool send_resolved;
    char **group_by;
    size_t ngroup_by;
    bool group_all;             /* group_by contains "..." */
    double group_wait_s, group_interval_s, repeat_interval_s;
};

struct galert {
    struct notify_alert a;      /* the latest copy fed in */
    bool was_silenced;          /* seen firing under a silence */
};

/* What the receiver was told: an alert announced firing and not yet
 * resolved (nor withdrawn).  muted = a silence hides it now. */
struct nfentry {
    char *fingerprint;
    char *severity;
    bool flapping;
    bool muted;
};

struct group {
    char *key;
    uint64_t key_hash;
    char *route;
    char *receiver;
    struct kv *labels;
    size_t nlabels;
    int route_idx;              /* into d->routes */
    double created_at;
    double next_flush;          /* grid point: next possible flush */
    bool flushed;               /* the group_wait flush happened */
    struct galert *alerts;      /* in the order they joined */
    size_t nalerts, acap;
    struct index_map by_fp;     /* fingerprint -> alerts[], when nalerts >
                                   GROUP_SCAN_MAX (else empty) */
    /* notification log */
    double notified_at;         /* last notification, 0 = none */
    struct nfentry *nf;         /* sorted by fingerprint */
    size_t nnf, nfcap;
    /* scheduling */
    uint64_t seq;               /* creation order: ties within a tick */
    double due;                 /* cached group_due(); INFINITY = never */
    size_t heap_pos;            /* in due_heap, HEAP_NONE when not */
    bool stale;                 /* in d->stale: due to be recomputed */
};

/* A fingerprint: the hash of the keys of the groups it was routed to last
 * (0 = matched no route; valid when has_sig) and the groups holding it
 * (firing, or resolved until their next flush). */
struct fpent {
    char *fp;
    uint64_t hash;
    uint64_t sig;
    bool has_sig;
    struct group **groups;
    size_t ngroups, gcap;
};

struct dispatcher {
    struct route *routes;
    size_t nroutes;
    char *external_url;

    struct group **groups;      /* in creation order */
    size_t ngroups, gcap;
    struct index_map group_index;       /* key -> groups[] */
    uint64_t group_seq;         /* last struct group.seq given */
    struct heap due_heap;       /* groups with a finite due, earliest first */
    struct group **stale;       /* groups whose due must be recomputed */
    size_t nstale, stale_cap;
    uint64_t silences_sig;      /* of the silences the dues were computed
                                   with */

    struct silences *silences;
    uint64_t seq;               /* last notification sequence number */
    double last_now;

    struct fpent **fps;         /* fingerprint index, any order */
    size_t nfps, fpcap;
    struct index_map fp_index;          /* fingerprint -> fps[] */
    char **unrouted_rules;      /* rules already logged as unrouted */
    size_t nunrouted_rules, urcap;

    uint64_t notifications[NOTIFY__COUNT];
    uint64_t unrouted;
    uint64_t suppressed_short_lived;
    uint64_t silenced_resolved;
    uint64_t generation;        /* dispatch_generation() */
};

/* ---- small helpers ----------------------------------------------------- */

static bool is_resolved(const struct notify_alert *a)
{
    return streq(a->status, "resolved");
}

/* A label of the alert for matching and grouping: severity and rule are
 * not always among the labels but are matchable by name. */
static const char *alert_label(const struct notify_alert *a, const char *key)
{
    const char *v = kv_array_get(a->labels, a->nlabels, key);
    if (!v && streq(key, "severity"))
        v = a->severity;
    if (!v && streq(key, "rule"))
        v = a->rule;
    return v;
}

static void alert_copy(struct notify_alert *dst, const struct notify_alert *a)
{
    *dst = *a;
    dst->rule = xstrdup(a->rule);
    dst->fingerprint = xstrdup(a->fingerprint);
    dst->labels = kv_array_dup(a->labels, a->nlabels);
    dst->severity = xstrdup(a->severity ? a->severity : "critical");
    dst->status = xstrdup(is_resolved(a) ? "resolved" : "firing");
    dst->summary = xstrdup(a->summary);
    dst->description = xstrdup(a->description);
    dst->runbook_url = xstrdup(a->runbook_url);
    dst->reasons = NULL;
    if (a->reasons) {
        dst->reasons = xmalloc(sizeof(*dst->reasons));
        *dst->reasons = *a->reasons;
    }
}

static void str_array_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- routes ------------------------------------------------------------ */

static void routes_free(struct route *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].name);
        kv_array_free(r[i].match, r[i].nmatch);
        free(r[i].receiver);
        free(r[i].rtype);
        str_array_free(r[i].group_by, r[i].ngroup_by);
    }
    free(r);
}

static void load_routes(struct dispatcher *d, const struct config *cfg)
{
    routes_free(d->routes, d->nroutes);
    d->nroutes = cfg->nroutes;
    d->routes = xcalloc(cfg->nroutes ? cfg->nroutes : 1, sizeof(*d->routes));
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const struct route_cfg *rc = &cfg->routes[i];
        struct route *r = &d->routes[i];
        const struct timing_cfg *t = &rc->timing;
        const struct timing_cfg *def = &cfg->defaults;
        const struct receiver_cfg *recv = NULL;

        if (rc->receiver_index >= 0 &&
            (size_t)rc->receiver_index < cfg->nreceivers)
            recv = &cfg->receivers[rc->receiver_index];
        if (!recv || !streq(recv->name, rc->receiver))
            recv = config_receiver(cfg, rc->receiver);

        r->name = xstrdup(rc->name ? rc->name : "");
        r->match = kv_array_dup(rc->match.items, rc->match.n);
        r->nmatch = rc->match.n;
        r->cont = rc->cont;
        r->receiver = xstrdup(rc->receiver ? rc->receiver : "");
        r->rtype = xstrdup(receiver_type_name(recv ? recv->type : NULL));
        r->send_resolved = recv ? recv->send_resolved : true;

        const struct str_list *gb = t->has_group_by ? &t->group_by
                                                    : &def->group_by;
        r->group_by = xcalloc(gb->n ? gb->n : 1, sizeof(char *));
        for (size_t k = 0; k < gb->n; k++) {
            if (streq(gb->items[k], "..."))
                r->group_all = true;
            r->group_by[r->ngroup_by++] = xstrdup(gb->items[k]);
        }
        r->group_wait_s = t->has_group_wait ? t->group_wait_s
                                            : def->group_wait_s;
        r->group_interval_s = t->has_group_interval ? t->group_interval_s
                                                    : def->group_interval_s;
        r->repeat_interval_s = t->has_repeat_interval
                               ? t->repeat_interval_s
                               : def->repeat_interval_s;
        /* A zero interval would make the flush grid degenerate. */
        if (!(r->group_interval_s > 0))
            r->group_interval_s = 1;
        if (r->group_wait_s < 0)
            r->group_wait_s = 0;
    }
    free(d->external_url);
    d->external_url = xstrdup(cfg->external_url);
}

static bool route_matches(const struct route *r, const struct notify_alert *a)
{
    for (size_t i = 0; i < r->nmatch; i++) {
        const char *v = alert_label(a, r->match[i].key);
        if (!glob_match(r->match[i].value, v ? v : ""))
            return false;
    }
    return true;
}

static int route_find(const struct dispatcher *d, const char *name)
{
    for (size_t i = 0; i < d->nroutes; i++)
        if (streq(d->routes[i].name, name))
            return (int)i;
    return -1;
}

/* ---- group keys -------------------------------------------------------- */

/* The group labels of a for route r (sorted by key, missing omitted). */
static struct kv *group_labels(const struct route *r,
                               const struct notify_alert *a, size_t *n)
{
    size_t cap = r->ngroup_by + a->nlabels + 2;
    struct kv *out = xcalloc(cap, sizeof(*out));
    *n = 0;
    if (r->group_all) {
        for (size_t i = 0; i < a->nlabels; i++) {
            out[*n].key = xstrdup(a->labels[i].key);
            out[*n].value = xstrdup(a->labels[i].value);
            (*n)++;
        }
        if (a->rule && !kv_array_get(a->labels, a->nlabels, "rule")) {
            out[*n].key = xstrdup("rule");
            out[*n].value = xstrdup(a->rule);
            (*n)++;
        }
    }
    for (size_t i = 0; i < r->ngroup_by; i++) {
        const char *k = r->group_by[i];
        if (streq(k, "...") || kv_array_get(out, *n, k))
            continue;
        const char *v = alert_label(a, k);
        if (!v || !*v)
            continue;
        out[*n].key = xstrdup(k);
        out[*n].value = xstrdup(v);
        (*n)++;
    }
    kv_array_sort(out, *n);
    return out;
}

static char *make_group_key(const char *route, const struct kv *l, size_t n)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, route);
    strbuf_adds(&sb, ":{");
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_addc(&sb, ',');
        strbuf_adds(&sb, l[i].key);
        strbuf_adds(&sb, "=\"");
        for (const char *p = l[i].value; *p; p++) {
            if (*p == '\\' || *p == '"')
                strbuf_addc(&sb, '\\');
            if (*p == '\n')
                strbuf_adds(&sb, "\\n");
            else
                strbuf_addc(&sb, *p);
        }
        strbuf_addc(&sb, '"');
    }
    strbuf_addc(&sb, '}');
    return strbuf_detach(&sb);
}

/* ---- groups ------------------------------------------------------------ */

static void group_free(struct group *g)
{
    if (!g)
        return;
    index_map_free(&g->by_fp);
    free(g->key);
    free(g->route);
    free(g->receiver);
    kv_array_free(g->labels, g->nlabels);
    for (size_t i = 0; i < g->nalerts; i++)
        notify_alert_free_fields(&g->alerts[i].a);
    free(g->alerts);
    for (size_t i = 0; i < g->nnf; i++) {
        free(g->nf[i].fingerprint);
        free(g->nf[i].severity);
    }
    free(g->nf);
    free(g);
}

static bool group_key_match(const void *ctx, size_t idx, const void *key)
{
    const struct dispatcher *d = ctx;
    return streq(d->groups[idx]->key, key);
}

static struct group *group_find(const struct dispatcher *d, const char *key)
{
    size_t i = index_map_get(&d->group_index, hash_str(key), group_key_match,
                             d, key);
    return i == INDEX_NONE ? NULL : d->groups[i];
}

/* Append a new group (not scheduled yet: see mark_stale). */
static void group_append(struct dispatcher *d, struct group *g)
{
    g->seq = ++d->group_seq;
    g->due = INFINITY;
    g->heap_pos = HEAP_NONE;
    XGROW(d->groups, d->ngroups + 1, d->gcap);
    index_map_put(&d->group_index, g->key_hash, d->ngroups);
    d->groups[d->ngroups++] = g;
}

static void groups_reindex(struct dispatcher *d)
{
    index_map_free(&d->group_index);
    for (size_t i = 0; i < d->ngroups; i++)
        index_map_put(&d->group_index, d->groups[i]->key_hash, i);
}

/* ---- alerts of a group ----------------------------------------------------- */

/* Groups can hold thousands of alerts (one per connection), and every
 * evaluation looks each of them up: past GROUP_SCAN_MAX through an index
 * by fingerprint.  Alerts stay in the order they joined. */
static bool galert_match(const void *ctx, size_t idx, const void *key)
{
    const struct group *g = ctx;
    return streq(g->alerts[idx].a.fingerprint, key);
}

static void galert_reindex(struct group *g)
{
    index_map_free(&g->by_fp);
    if (g->nalerts <= GROUP_SCAN_MAX)
        return;
    for (size_t i = 0; i < g->nalerts; i++)
        index_map_put(&g->by_fp, hash_str(g->alerts[i].a.fingerprint), i);
}

static struct galert *galert_find(const struct group *g, const char *fp)
{
    if (g->nalerts > GROUP_SCAN_MAX) {
        size_t i = index_map_get(&g->by_fp, hash_str(fp), galert_match, g,
                                 fp);
        return i == INDEX_NONE ? NULL : &g->alerts[i];
    }
    for (size_t i = 0; i < g->nalerts; i++)
        if (streq(g->alerts[i].a.fingerprint, fp))
            return &g->alerts[i];
    return NULL;
}

static void fp_join(struct dispatcher *d, const char *fp, struct group *g);

/* The entry for fp, appended when absent: zeroed but for a copy of the
 * fingerprint (galert_set fills the rest). */
static struct galert *galert_get(struct dispatcher *d, struct group *g,
                                 const char *fp, bool *added)
{
    struct galert *ga = galert_find(g, fp);
    *added = ga == NULL;
    if (ga)
        return ga;
    XGROW(g->alerts, g->nalerts + 1, g->acap);
    ga = &g->alerts[g->nalerts++];
    memset(ga, 0, sizeof(*ga));
    ga->a.fingerprint = xstrdup(fp);
    if (g->nalerts == GROUP_SCAN_MAX + 1)
        galert_reindex(g);
    else if (g->nalerts > GROUP_SCAN_MAX)
        index_map_put(&g->by_fp, hash_str(fp), g->nalerts - 1);
    fp_join(d, fp, g);
    return ga;
}

static struct nfentry *nf_find(const struct group *g, const char *fp)
{
    size_t lo = 0, hi = g->nnf;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->nf[mid].fingerprint, fp);
        if (c == 0)
            return &g->nf[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int nfentry_cmp(const void *x, const void *y)
{
    return strcmp(((const struct nfentry *)x)->fingerprint,
                  ((const struct nfentry *)y)->fingerprint);
}

static const struct route *group_route(const struct dispatcher *d,
                                       const struct group *g)
{
    if (g->route_idx < 0 || (size_t)g->route_idx >= d->nroutes)
        return NULL;
    return &d->routes[g->route_idx];
}

/* Remove groups for which keep() is false, preserving order.  The caller
 * has taken them out of the schedule (heap and stale list). */
static void groups_drop(struct dispatcher *d, size_t *dropped_alerts,
                        bool (*keep)(struct dispatcher *, struct group *))
{
    size_t kept = 0;
    for (size_t i = 0; i < d->ngroups; i++) {
        struct group *g = d->groups[i];
        if (keep(d, g)) {
            d->groups[kept++] = g;
        } else {
            if (dropped_alerts)
                *dropped_alerts += g->nalerts;
            group_free(g);
        }
    }
    if (kept != d->ngroups) {
        d->ngroups = kept;
        groups_reindex(d);
    }
}

/* ---- the fingerprint index ------------------------------------------------- */

static bool fp_match(const void *ctx, size_t idx, const void *key)
{
    const struct dispatcher *d = ctx;
    return streq(d->fps[idx]->fp, key);
}

static struct fpent *fp_find(const struct dispatcher *d, const char *fp)
{
    size_t i = index_map_get(&d->fp_index, hash_str(fp), fp_match, d, fp);
    return i == INDEX_NONE ? NULL : d->fps[i];
}

static struct fpent *fp_get(struct dispatcher *d, const char *fp)
{
    struct fpent *e = fp_find(d, fp);
    if (e)
        return e;
    e = xcalloc(1, sizeof(*e));
    e->fp = xstrdup(fp);
    e->hash = hash_str(fp);
    XGROW(d->fps, d->nfps + 1, d->fpcap);
    index_map_put(&d->fp_index, e->hash, d->nfps);
    d->fps[d->nfps++] = e;
    return e;
}

/* Forget e when it says nothing any more (no signature, in no group). */
static void fp_forget_if_unused(struct dispatcher *d, struct fpent *e)
{
    if (e->has_sig || e->ngroups > 0)
        return;
    size_t i = index_map_get(&d->fp_index, e->hash, fp_match, d, e->fp);
    index_map_remove(&d->fp_index, e->hash, i);
    size_t last = --d->nfps;
    if (i != last) {
        struct fpent *moved = d->fps[last];
        index_map_remove(&d->fp_index, moved->hash, last);
        index_map_put(&d->fp_index, moved->hash, i);
        d->fps[i] = moved;
    }
    free(e->groups);
    free(e->fp);
    free(e);
}

static void fp_join(struct dispatcher *d, const char *fp, struct group *g)
{
    struct fpent *e = fp_get(d, fp);
    XGROW(e->groups, e->ngroups + 1, e->gcap);
    e->groups[e->ngroups++] = g;
}

static void fp_leave(struct dispatcher *d, const char *fp,
                     const struct group *g)
{
    struct fpent *e = fp_find(d, fp);
    if (!e)
        return;
    for (size_t i = 0; i < e->ngroups; i++) {
        if (e->groups[i] == g) {
            e->groups[i] = e->groups[--e->ngroups];
            break;
        }
    }
    fp_forget_if_unused(d, e);
}

static void fps_free(struct dispatcher *d)
{
    for (size_t i = 0; i < d->nfps; i++) {
        free(d->fps[i]->groups);
        free(d->fps[i]->fp);
        free(d->fps[i]);
    }
    free(d->fps);
    d->fps = NULL;
    d->nfps = d->fpcap = 0;
    index_map_free(&d->fp_index);
}

/* Every group's alerts, no signature (reload, restart). */
static void fps_rebuild(struct dispatcher *d)
{
    fps_free(d);
    for (size_t i = 0; i < d->ngroups; i++)
        for (size_t k = 0; k < d->groups[i]->nalerts; k++)
            fp_join(d, d->groups[i]->alerts[k].a.fingerprint, d->groups[i]);
}

/* ---- the schedule ---------------------------------------------------------- */

static bool due_less(const void *x, const void *y)
{
    const struct group *a = x, *b = y;
    if (a->due != b->due)
        return a->due < b->due;
    return a->seq < b->seq;
}

static size_t *due_pos(void *g)
{
    return &((struct group *)g)->heap_pos;
}

static void mark_stale(struct dispatcher *d, struct group *g)
{
    if (g->stale)
        return;
    g->stale = true;
    XGROW(d->stale, d->nstale + 1, d->stale_cap);
    d->stale[d->nstale++] = g;
}

/* Forget every cached due (before groups are dropped or replaced): each
 * group is then stale. */
static void schedule_reset(struct dispatcher *d)
{
    heap_free(&d->due_heap);
    d->nstale = 0;
    for (size_t i = 0; i < d->ngroups; i++) {
        d->groups[i]->heap_pos = HEAP_NONE;
        d->groups[i]->stale = false;
    }
}

/* What the silences look like, to notice that one was added, expired or
 * collected (each can move the due time of any group). */
static uint64_t silences_signature(const struct silences *set)
{
    size_t n;
    const struct silence *sil = silences_list(set, &n);
    uint64_t h = hash_bytes(&n, sizeof(n), 0);
    for (size_t i = 0; i < n; i++) {
        h = hash_bytes(sil[i].id, strlen(sil[i].id), h);
        h = hash_bytes(&sil[i].starts_at, sizeof(sil[i].starts_at), h);
        h = hash_bytes(&sil[i].ends_at, sizeof(sil[i].ends_at), h);
    }
    return h;
}

static double group_due(const struct dispatcher *d, const struct group *g);

/* Recompute the due time of every stale group. */
static void settle(struct dispatcher *d)
{
    uint64_t ss = silences_signature(d->silences);
    if (ss != d->silences_sig) {
        d->silences_sig = ss;
        for (size_t i = 0; i < d->ngroups; i++)
            mark_stale(d, d->groups[i]);
    }
    for (size_t i = 0; i < d->nstale; i++) {
        struct group *g = d->stale[i];
        g->stale = false;
        g->due = group_route(d, g) ? group_due(d, g) : INFINITY;
        if (isfinite(g->due))
            heap_update(&d->due_heap, g);
        else
            heap_remove(&d->due_heap, g);
    }
    d->nstale = 0;
}

/* ---- lifecycle --------------------------------------------------------- */

/* max_silences and max_silence_size_bytes (0 = no limit). */
static void set_silence_limits(struct silences *set, const struct config *cfg)
{
    struct silence_limits lim = {
        (size_t)(cfg->max_silences > 0 ? cfg->max_silences : 0),
        (size_t)(cfg->max_silence_size_bytes > 0
                     ? cfg->max_silence_size_bytes : 0),
    };
    silences_set_limits(set, &lim);
}

struct dispatcher *dispatch_new(const struct config *cfg)
{
    struct dispatcher *d = xcalloc(1, sizeof(*d));
    d->silences = silences_new();
    set_silence_limits(d->silences, cfg);
    heap_init(&d->due_heap, due_less, due_pos);
    d->silences_sig = silences_signature(d->silences);
    load_routes(d, cfg);
    return d;
}

static void groups_free(struct dispatcher *d)
{
    for (size_t i = 0; i < d->ngroups; i++)
        group_free(d->groups[i]);
    free(d->groups);
    d->groups = NULL;
    d->ngroups = d->gcap = 0;
    index_map_free(&d->group_index);
}

void dispatch_free(struct dispatcher *d)
{
    if (!d)
        return;
    routes_free(d->routes, d->nroutes);
    free(d->external_url);
    schedule_reset(d);
    free(d->stale);
    groups_free(d);
    fps_free(d);
    silences_free(d->silences);
    str_array_free(d->unrouted_rules, d->nunrouted_rules);
    free(d);
}

struct silences *dispatch_silences(struct dispatcher *d)
{
    return d->silences;
}

/* A group survives a reload when its route still exists with the same
 * receiver; its timing follows the new route. */
static bool keep_on_reload(struct dispatcher *d, struct group *g)
{
    g->route_idx = route_find(d, g->route);
    const struct route *r = group_route(d, g);
    if (!r || !streq(r->receiver, g->receiver))
        return false;
    if (!g->flushed)
        g->next_flush = g->created_at + r->group_wait_s;
    return true;
}

static void reconcile(struct dispatcher *d, const char *why)
{
    size_t before = d->ngroups, alerts = 0;
    schedule_reset(d);
    groups_drop(d, &alerts, keep_on_reload);
    if (d->ngroups != before)
        log_info("dispatch: %s: dropped %zu group(s) with %zu alert(s) "
                 "whose route or receiver is gone", why,
                 before - d->ngroups, alerts);
    /* Timing may have changed for every group. */
    for (size_t i = 0; i < d->ngroups; i++)
        mark_stale(d, d->groups[i]);
    /* Routing may have changed for every alert: recompute signatures at
     * the next evaluation (each firing alert is fed again). */
    fps_rebuild(d);
    str_array_free(d->unrouted_rules, d->nunrouted_rules);
    d->unrouted_rules = NULL;
    d->nunrouted_rules = d->urcap = 0;
}

void dispatch_set_config(struct dispatcher *d, const struct config *cfg)
{
    d->generation++;
    set_silence_limits(d->silences, cfg);
    load_routes(d, cfg);
    reconcile(d, "reload");
}

/* ---- feeding alerts ---------------------------------------------------- */

/* Replace the alert's copy; returns whether what a flush plans from
 * changed (status, severity, flapping). */
static bool galert_set(struct galert *ga, const struct notify_alert *a)
{
    bool changed = !ga->a.status ||
                   !streq(ga->a.severity,
                          a->severity ? a->severity : "critical") ||
                   is_resolved(&ga->a) != is_resolved(a) ||
                   ga->a.flapping != a->flapping;
    notify_alert_free_fields(&ga->a);
    alert_copy(&ga->a, a);
    return changed;
}

/* The alert left group g (its routing changed): from g's point of view it
 * is resolved now. */
static void resolve_in_group(struct galert *ga, double now)
{
    free(ga->a.status);
    ga->a.status = xstrdup("resolved");
    if (!(ga->a.ends_at > 0))
        ga->a.ends_at = now;
}

static void note_unrouted(struct dispatcher *d, const struct notify_alert *a)
{
    const char *rule = a->rule ? a->rule : "?";
    d->unrouted++;
    for (size_t i = 0; i < d->nunrouted_rules; i++)
        if (streq(d->unrouted_rules[i], rule))
            return;
    XGROW(d->unrouted_rules, d->nunrouted_rules + 1, d->urcap);
    d->unrouted_rules[d->nunrouted_rules++] = xstrdup(rule);
    log_warn("dispatch: alert of rule '%s' matches no route: not notified",
             rule);
}

static void feed_resolved(struct dispatcher *d, const struct notify_alert *a,
                          const char *fp, double now)
{
    struct fpent *e = fp_find(d, fp);
    if (!e)
        return;
    for (size_t i = 0; i < e->ngroups; i++) {
        struct galert *ga = galert_find(e->groups[i], fp);
        if (!ga)
            continue;
        galert_set(ga, a);
        if (!(ga->a.ends_at > 0))
            ga->a.ends_at = now;
        mark_stale(d, e->groups[i]);
    }
    e->has_sig = false;
    fp_forget_if_unused(d, e);
}

void dispatch_alert(struct dispatcher *d, const struct notify_alert *a,
                    double now)
{
    d->generation++;
    char fpbuf[17];
    const char *fp = a->fingerprint;
    struct notify_alert copy;

    if (now > d->last_now)
        d->last_now = now;
    if (!fp || !*fp) {
        /* Identity is the labels; derive one rather than drop the alert. */
        uint64_t h = hash_str(a->rule ? a->rule : "");
        for (size_t i = 0; i < a->nlabels; i++) {
            h = hash_bytes(a->labels[i].key, strlen(a->labels[i].key), h);
            h = hash_bytes(a->labels[i].value, strlen(a->labels[i].value), h);
        }
        snprintf(fpbuf, sizeof(fpbuf), "%016" PRIx64, h);
        fp = fpbuf;
    }
    copy = *a;
    copy.fingerprint = (char *)fp;
    a = &copy;

    if (is_resolved(a)) {
        feed_resolved(d, a, fp, now);
        return;
    }

    bool silenced = silences_match(d->silences, a->labels, a->nlabels,
                                   a->severity, now) != NULL;
    struct group **targets = xcalloc(d->nroutes ? d->nroutes : 1,
                                     sizeof(*targets));
    size_t ntargets = 0;
    uint64_t sig = 0;

    for (size_t i = 0; i < d->nroutes; i++) {
        const struct route *r = &d->routes[i];
        if (!route_matches(r, a))
            continue;
        size_t nl;
        struct kv *labels = group_labels(r, a, &nl);
        char *key = make_group_key(r->name, labels, nl);
        struct group *g = group_find(d, key);
        if (!g) {
            g = xcalloc(1, sizeof(*g));
            g->key = key;
            g->key_hash = hash_str(key);
            g->route = xstrdup(r->name);
            g->receiver = xstrdup(r->receiver);
            g->labels = labels;
            g->nlabels = nl;
            g->route_idx = (int)i;
            g->created_at = now;
            g->next_flush = now + r->group_wait_s;
            group_append(d, g);
        } else {
            free(key);
            kv_array_free(labels, nl);
        }
        bool added;
        struct galert *ga = galert_get(d, g, fp, &added);
        if (galert_set(ga, a) || added)
            mark_stale(d, g);
        if (silenced)
            ga->was_silenced = true;
        targets[ntargets++] = g;
        sig = hash_bytes(g->key, strlen(g->key), sig ^ 0x9e3779b97f4a7c15ULL);
        if (!r->cont)
            break;
    }

    struct fpent *e = fp_get(d, fp);
    if (!e->has_sig || e->sig != sig) {
        /* Routed differently than last time (or first seen since start or
         * reload): it is no longer part of any other group. */
        e->sig = sig;
        e->has_sig = true;
        for (size_t i = 0; i < e->ngroups; i++) {
            struct group *g = e->groups[i];
            bool target = false;
            for (size_t k = 0; k < ntargets && !target; k++)
                target = targets[k] == g;
            struct galert *ga = target ? NULL : galert_find(g, fp);
            if (ga && !is_resolved(&ga->a)) {
                log_debug("dispatch: alert %s left group %s", fp, g->key);
                resolve_in_group(ga, now);
                mark_stale(d, g);
            }
        }
        if (ntargets == 0)
            note_unrouted(d, a);
    }
    free(targets);
}

/* ---- flush planning ---------------------------------------------------- */

static bool is_silenced(const struct dispatcher *d, const struct galert *ga,
                        double t)
{
    return silences_match(d->silences, ga->a.labels, ga->a.nlabels,
                          ga->a.severity, t) != NULL;
}

struct plan {
    bool send;
    enum notify_reason reason;
    bool wants;         /* a flush at t changes something */
};

static void plan(const struct dispatcher *d, const struct group *g,
                 const struct route *r, double t, struct plan *p)
{
    bool news = false, flap = false, res_announced = false;
    bool cleanup = g->nalerts == 0, muting = false;
    size_t nfiring = 0, remaining = 0;

    for (size_t i = 0; i < g->nalerts; i++) {
        const struct galert *ga = &g->alerts[i];
        const struct nfentry *e = nf_find(g, ga->a.fingerprint);
        if (is_resolved(&ga->a)) {
            cleanup = true;
            res_announced |= e != NULL;
        } else if (is_silenced(d, ga, t)) {
            if (e) {
                remaining++;
                muting |= !e->muted;
            }
        } else {
            nfiring++;
            remaining++;
            if (!e || e->muted || !streq(e->severity, ga->a.severity))
                news = true;
            else if (e->flapping != ga->a.flapping)
                flap = true;
        }
    }

    memset(p, 0, sizeof(*p));
    p->send = true;
    if (news)
        p->reason = g->nnf == 0 ? NOTIFY_FIRST : NOTIFY_NEW_ALERTS;
    else if (res_announced && r->send_resolved)
        p->reason = remaining == 0 ? NOTIFY_ALL_RESOLVED : NOTIFY_RESOLVED;
    else if (flap)
        p->reason = NOTIFY_FLAPPING;
    else if (nfiring > 0 && g->notified_at > 0 &&
             t >= g->notified_at + r->repeat_interval_s)
        p->reason = NOTIFY_REPEAT;
    else
        p->send = false;
    p->wants = p->send || cleanup || muting || !g->flushed;
}

/* Smallest grid point of g that is >= t. */
static double grid_ceil(const struct group *g, const struct route *r,
                        double t)
{
    if (t <= g->next_flush)
        return g->next_flush;
    double k = ceil((t - g->next_flush) / r->group_interval_s - 1e-9);
    return g->next_flush + k * r->group_interval_s;
}

static double group_due(const struct dispatcher *d, const struct group *g)
{
    const struct route *r = group_route(d, g);
    struct plan p;

    if (!g->flushed || !r)
        return g->next_flush;
    plan(d, g, r, g->next_flush, &p);
    if (p.wants)
        return g->next_flush;

    /* Without new input, only time changes a plan: the repeat interval
     * running out, or a silence starting or ending. */
    double best = INFINITY;
    size_t ns;
    const struct silence *sil = silences_list(d->silences, &ns);
    for (size_t i = 0; i < 2 * ns + 1; i++) {
        double c;
        if (i == 2 * ns) {
            if (!(g->notified_at > 0))
                continue;
            c = g->notified_at + r->repeat_interval_s;
        } else {
            c = i % 2 ? sil[i / 2].ends_at : sil[i / 2].starts_at;
        }
        if (c <= g->next_flush)
            continue;
        double t = grid_ceil(g, r, c);
        if (t >= best)
            continue;
        plan(d, g, r, t, &p);
        if (p.wants)
            best = t;
    }
    return best;
}

double dispatch_next_due(struct dispatcher *d)
{
    settle(d);
    const struct group *g = heap_top(&d->due_heap);
    return g ? g->due : INFINITY;
}

/* ---- flushing ---------------------------------------------------------- */

static int alert_order(const void *x, const void *y)
{
    const struct notify_alert *a = *(const struct notify_alert *const *)x;
    const struct notify_alert *b = *(const struct notify_alert *const *)y;
    if (a->starts_at != b->starts_at)
        return a->starts_at < b->starts_at ? -1 : 1;
    return strcmp(a->fingerprint, b->fingerprint);
}

static char *notification_id(struct dispatcher *d, const struct group *g)
{
    uint64_t h = hash_bytes(g->key, strlen(g->key), 0);
    h = hash_bytes("\n", 1, h);
    h = hash_bytes(g->receiver, strlen(g->receiver), h);
    return xasprintf("%016" PRIx64 "-%" PRIu64, h, ++d->seq);
}

static struct notification *build(struct dispatcher *d, const struct group *g,
                                  const struct route *r,
                                  enum notify_reason reason, double now)
{
    const struct notify_alert **firing = xcalloc(g->nalerts + 1,
                                                 sizeof(*firing));
    const struct notify_alert **resolved = xcalloc(g->nalerts + 1,
                                                   sizeof(*resolved));
    size_t nf = 0, nr = 0;

    for (size_t i = 0; i < g->nalerts; i++) {
        const struct galert *ga = &g->alerts[i];
        if (is_resolved(&ga->a)) {
            if (r->send_resolved && nf_find(g, ga->a.fingerprint))
                resolved[nr++] = &ga->a;
        } else if (!is_silenced(d, ga, now)) {
            firing[nf++] = &ga->a;
        }
    }
    qsort(firing, nf, sizeof(*firing), alert_order);
    qsort(resolved, nr, sizeof(*resolved), alert_order);

    struct notification *n = notification_new();
    n->id = notification_id(d, g);
    n->receiver = xstrdup(g->receiver);
    n->receiver_type = xstrdup(r->rtype);
    n->route = xstrdup(g->route);
    n->group_key = xstrdup(g->key);
    n->group_labels = kv_array_dup(g->labels, g->nlabels);
    n->ngroup_labels = g->nlabels;
    n->reason = reason;
    n->created_at = now;
    n->external_url = xstrdup(d->external_url);
    n->nalerts = nf + nr;
    n->alerts = xcalloc(n->nalerts ? n->nalerts : 1, sizeof(*n->alerts));
    for (size_t i = 0; i < nf; i++)
        alert_copy(&n->alerts[i], firing[i]);
    for (size_t i = 0; i < nr; i++)
        alert_copy(&n->alerts[nf + i], resolved[i]);
    free(firing);
    free(resolved);
    return n;
}

/* Format rule{labels} for log lines (labels other than rule). */
static char *alert_name(const struct notify_alert *a)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, a->rule ? a->rule : "?");
    strbuf_addc(&sb, '{');
    bool first = true;
    for (size_t i = 0; i < a->nlabels; i++) {
        if (streq(a->labels[i].key, "rule"))
            continue;
        strbuf_addf(&sb, "%s%s=\"%s\"", first ? "" : ",", a->labels[i].key,
                    a->labels[i].value);
        first = false;
    }
    strbuf_addc(&sb, '}');
    return strbuf_detach(&sb);
}

/* Rebuild the notification log after a flush: announced = firing alerts
 * not silenced (as they are now), plus muted alerts the receiver still
 * believes firing. */
static void nf_rebuild(const struct dispatcher *d, struct group *g, double now)
{
    struct nfentry *nf = xcalloc(g->nalerts + 1, sizeof(*nf));
    size_t n = 0;
    for (size_t i = 0; i < g->nalerts; i++) {
        struct galert *ga = &g->alerts[i];
        if (is_resolved(&ga->a))
            continue;
        struct nfentry *old = nf_find(g, ga->a.fingerprint);
        if (is_silenced(d, ga, now)) {
            ga->was_silenced = true;
            if (!old)
                continue;
            nf[n].fingerprint = xstrdup(old->fingerprint);
            nf[n].severity = xstrdup(old->severity);
            nf[n].flapping = old->flapping;
            nf[n].muted = true;
        } else {
            nf[n].fingerprint = xstrdup(ga->a.fingerprint);
            nf[n].severity = xstrdup(ga->a.severity);
            nf[n].flapping = ga->a.flapping;
        }
        n++;
    }
    for (size_t i = 0; i < g->nnf; i++) {
        free(g->nf[i].fingerprint);
        free(g->nf[i].severity);
    }
    free(g->nf);
    /* sorted for nf_find (the alerts are in the order they joined) */
    if (n > 1)
        qsort(nf, n, sizeof(*nf), nfentry_cmp);
    g->nf = nf;
    g->nnf = n;
    g->nfcap = g->nalerts + 1;
}

/* Resolved alerts leave the group after the flush that dealt with them;
 * those never announced are accounted for here. */
static void drop_resolved(struct dispatcher *d, struct group *g,
                          const struct route *r)
{
    size_t kept = 0, before = g->nalerts;
    for (size_t i = 0; i < g->nalerts; i++) {
        struct galert *ga = &g->alerts[i];
        if (!is_resolved(&ga->a)) {
            g->alerts[kept++] = *ga;
            continue;
        }
        if (!nf_find(g, ga->a.fingerprint)) {
            char *name = alert_name(&ga->a);
            char dur[32];
            if (ga->was_silenced) {
                d->silenced_resolved++;
                log_debug("dispatch: alert %s resolved while silenced: not "
                          "notified (route %s)", name, g->route);
            } else {
                d->suppressed_short_lived++;
                format_duration(g->flushed ? r->group_interval_s
                                           : r->group_wait_s,
                                dur, sizeof(dur));
                log_info("dispatch: alert %s fired and resolved within %s "
                         "(%s): not notified (route %s)", name,
                         g->flushed ? "group_interval" : "group_wait", dur,
                         g->route);
            }
            free(name);
        }
        fp_leave(d, ga->a.fingerprint, g);
        notify_alert_free_fields(&ga->a);
    }
    g->nalerts = kept;
    if (kept != before)
        galert_reindex(g);
}

/* Flush g at now; returns the notification or NULL. */
static struct notification *flush(struct dispatcher *d, struct group *g,
                                  double now)
{
    const struct route *r = group_route(d, g);
    struct notification *n = NULL;
    struct plan p;

    /* The log records the grid slot the flush belongs to rather than the
     * (possibly late) tick time, so that a tick a few seconds late does
     * not push the repeat a whole group_interval further. */
    double slot = g->next_flush;
    if (g->flushed && now > g->next_flush)
        slot += floor((now - g->next_flush) / r->group_interval_s) *
                r->group_interval_s;
    if (slot > now)
        slot = now;

    plan(d, g, r, now, &p);
    if (p.send) {
        n = build(d, g, r, p.reason, now);
        g->notified_at = slot;
        d->notifications[p.reason]++;
    }
    /* The old log decides which resolved alerts were announced; rebuild
     * it afterwards. */
    drop_resolved(d, g, r);
    nf_rebuild(d, g, now);
    g->flushed = true;
    if (now >= g->next_flush) {
        double k = floor((now - g->next_flush) / r->group_interval_s) + 1;
        g->next_flush += k * r->group_interval_s;
    }
    return n;
}

static bool keep_nonempty(struct dispatcher *d, struct group *g)
{
    UNUSED(d);
    return g->nalerts > 0;
}

static int by_seq(const void *x, const void *y)
{
    const struct group *a = *(const struct group *const *)x;
    const struct group *b = *(const struct group *const *)y;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

size_t dispatch_tick(struct dispatcher *d, double now,
                     struct notification ***out)
{
    struct notification **v = NULL;
    size_t n = 0, cap = 0;
    struct group **due = NULL;
    size_t ndue = 0, due_cap = 0;
    bool emptied = false;

    if (now > d->last_now)
        d->last_now = now;
    settle(d);
    struct group *g;
    while ((g = heap_top(&d->due_heap)) != NULL && g->due <= now) {
        heap_pop(&d->due_heap);
        XGROW(due, ndue + 1, due_cap);
        due[ndue++] = g;
    }
    if (ndue)
        d->generation++;
    /* in group order, as they were created */
    if (ndue > 1)
        qsort(due, ndue, sizeof(*due), by_seq);
    for (size_t i = 0; i < ndue; i++) {
        struct notification *nt = flush(d, due[i], now);
        if (nt) {
            XGROW(v, n + 1, cap);
            v[n++] = nt;
        }
        mark_stale(d, due[i]);
        emptied |= due[i]->nalerts == 0;
    }
    free(due);
    settle(d);
    if (emptied) {
        for (size_t i = 0; i < d->ngroups; i++)
            if (d->groups[i]->nalerts == 0)
                heap_remove(&d->due_heap, d->groups[i]);
        groups_drop(d, NULL, keep_nonempty);
    }
    silences_gc(d->silences, now, SILENCE_RETENTION_S);
    *out = v;
    return n;
}

void dispatch_stats(const struct dispatcher *d, struct dispatch_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->groups = d->ngroups;
    for (size_t i = 0; i < d->ngroups; i++) {
        const struct group *g = d->groups[i];
        out->alerts += g->nalerts;
        for (size_t k = 0; k < g->nalerts; k++)
            if (!is_resolved(&g->alerts[k].a) &&
                is_silenced(d, &g->alerts[k], d->last_now))
                out->silenced++;
    }
    memcpy(out->notifications, d->notifications, sizeof(out->notifications));
    out->unrouted = d->unrouted;
    out->suppressed_short_lived = d->suppressed_short_lived;
    out->silenced_resolved = d->silenced_resolved;
}

/* ---- state file -------------------------------------------------------- */

static cJSON *alert_to_json(const struct galert *ga)
{
    cJSON *o = notify_alert_to_json(&ga->a);
    cJSON_AddBoolToObject(o, "was_silenced", ga->was_silenced);
    return o;
}

static cJSON *group_to_json(const struct group *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", g->key);
    cJSON_AddStringToObject(o, "route", g->route);
    cJSON_AddStringToObject(o, "receiver", g->receiver);
    cJSON_AddItemToObject(o, "labels", json_kv_object(g->labels, g->nlabels));
    cJSON_AddItemToObject(o, "created_at", json_double(g->created_at));
    cJSON_AddItemToObject(o, "next_flush", json_double(g->next_flush));
    cJSON_AddBoolToObject(o, "flushed", g->flushed);
    cJSON *alerts = cJSON_AddArrayToObject(o, "alerts");
    for (size_t i = 0; i < g->nalerts; i++)
        cJSON_AddItemToArray(alerts, alert_to_json(&g->alerts[i]));
    cJSON *nflog = cJSON_AddObjectToObject(o, "nflog");
    cJSON_AddItemToObject(nflog, "notified_at", json_double(g->notified_at));
    cJSON *fir = cJSON_AddArrayToObject(nflog, "firing");
    for (size_t i = 0; i < g->nnf; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "fingerprint", g->nf[i].fingerprint);
        cJSON_AddStringToObject(e, "severity", g->nf[i].severity);
        cJSON_AddBoolToObject(e, "flapping", g->nf[i].flapping);
        cJSON_AddBoolToObject(e, "muted", g->nf[i].muted);
        cJSON_AddItemToArray(fir, e);
    }
    return o;
}

cJSON *dispatch_to_json(const struct dispatcher *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "version", 1);
    /* 2^53 notifications is beyond reach: a double holds seq exactly. */
    cJSON_AddItemToObject(o, "seq", json_double((double)d->seq));
    cJSON *groups = cJSON_AddArrayToObject(o, "groups");
    for (size_t i = 0; i < d->ngroups; i++)
        cJSON_AddItemToArray(groups, group_to_json(d->groups[i]));
    cJSON_AddItemToObject(o, "silences", silences_to_json(d->silences));
    return o;
}

size_t dispatch_group_count(const struct dispatcher *d)
{
    return d->ngroups;
}

const char *dispatch_group_key(const struct dispatcher *d, size_t i)
{
    return d->groups[i]->key;
}

/* Keep in step with group_to_json(). */
uint64_t dispatch_group_digest(const struct dispatcher *d, size_t i)
{
    const struct group *g = d->groups[i];
    uint64_t h = notify_digest_str(0, g->key);
    h = notify_digest_str(h, g->route);
    h = notify_digest_str(h, g->receiver);
    h = notify_digest_kv(h, g->labels, g->nlabels);
    h = notify_digest_num(h, g->created_at);
    h = notify_digest_num(h, g->next_flush);
    h = notify_digest_int(h, g->flushed);
    h = notify_digest_int(h, (int64_t)g->nalerts);
    for (size_t k = 0; k < g->nalerts; k++) {
        h = notify_alert_digest(h, &g->alerts[k].a);
        h = notify_digest_int(h, g->alerts[k].was_silenced);
    }
    h = notify_digest_num(h, g->notified_at);
    h = notify_digest_int(h, (int64_t)g->nnf);
    for (size_t k = 0; k < g->nnf; k++) {
        h = notify_digest_str(h, g->nf[k].fingerprint);
        h = notify_digest_str(h, g->nf[k].severity);
        h = notify_digest_int(h, g->nf[k].flapping);
        h = notify_digest_int(h, g->nf[k].muted);
    }
    return h;
}

cJSON *dispatch_group_to_json(const struct dispatcher *d, size_t i)
{
    return group_to_json(d->groups[i]);
}

uint64_t dispatch_seq(const struct dispatcher *d)
{
    return d->seq;
}

/* Parsing: every helper reports "where: what" in err and returns -1. */
struct jctx {
    char *err;
    size_t errlen;
    const char *where;
};

static int jfail(struct jctx *c, const char *what)
{
    snprintf(c->err, c->errlen, "%s: %s", c->where, what);
    return -1;
}

/* A required string member. */
static int get_str(struct jctx *c, const cJSON *o, const char *name,
                   char **out)
{
    char why[96];
    *out = NULL;
    if (json_get_strdup(o, name, false, out, why, sizeof(why)) != 0)
        return jfail(c, why);
    return 0;
}

/* An optional string: absent (older state files) or null is NULL. */
static int get_opt_str(struct jctx *c, const cJSON *o, const char *name,
                       char **out)
{
    char why[96];
    *out = NULL;
    if (json_member(o, name) &&
        json_get_strdup(o, name, true, out, why, sizeof(why)) != 0)
        return jfail(c, why);
    return 0;
}

static int get_num(struct jctx *c, const cJSON *o, const char *name,
                   double *out)
{
    char why[96];
    if (json_get_double(o, name, out, why, sizeof(why)) != 0)
        return jfail(c, why);
    return 0;
}

/* Label values; kept sorted by key. */
static int get_labels(struct jctx *c, const cJSON *o, const char *name,
                      struct kv **out, size_t *n)
{
    char why[96];
    *out = NULL;
    *n = 0;
    if (json_get_kv(o, name, false, out, n, why, sizeof(why)) != 0)
        return jfail(c, why);
    kv_array_sort(*out, *n);
    return 0;
}

static int alert_from_json(struct jctx *c, const cJSON *o, struct galert *ga)
{
    struct notify_alert *a = &ga->a;
    memset(ga, 0, sizeof(*ga));
    if (!cJSON_IsObject(o))
        return jfail(c, "alert must be an object");
    if (get_opt_str(c, o, "rule", &a->rule) ||
        get_str(c, o, "fingerprint", &a->fingerprint) ||
        get_labels(c, o, "labels", &a->labels, &a->nlabels) ||
        get_str(c, o, "severity", &a->severity) ||
        get_str(c, o, "status", &a->status) ||
        get_opt_str(c, o, "summary", &a->summary) ||
        get_opt_str(c, o, "description", &a->description) ||
        get_opt_str(c, o, "runbook_url", &a->runbook_url) ||
        get_num(c, o, "starts_at", &a->starts_at) ||
        get_num(c, o, "ends_at", &a->ends_at))
        goto fail;
    if (!streq(a->status, "firing") && !streq(a->status, "resolved")) {
        jfail(c, "alert status must be \"firing\" or \"resolved\"");
        goto fail;
    }
    a->value = json_num(o, "value", NAN);
    a->nodata = json_bool(o, "nodata");
    a->flapping = json_bool(o, "flapping");
    ga->was_silenced = json_bool(o, "was_silenced");
    return 0;
fail:
    notify_alert_free_fields(a);
    return -1;
}

static int str_ptr_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int group_from_json(struct jctx *c, const cJSON *o, struct group **out)
{
    struct group *g = xcalloc(1, sizeof(*g));
    const cJSON *alerts, *nflog, *fir, *it;
    double created, next;

    *out = NULL;
    if (!cJSON_IsObject(o)) {
        jfail(c, "group must be an object");
        goto fail;
    }
    if (get_str(c, o, "key", &g->key) ||
        get_str(c, o, "route", &g->route) ||
        get_str(c, o, "receiver", &g->receiver) ||
        get_labels(c, o, "labels", &g->labels, &g->nlabels) ||
        get_num(c, o, "created_at", &created) ||
        get_num(c, o, "next_flush", &next))
        goto fail;
    g->key_hash = hash_str(g->key);
    g->created_at = created;
    g->next_flush = next;
    g->flushed = json_bool(o, "flushed");
    g->route_idx = -1;

    alerts = cJSON_GetObjectItemCaseSensitive(o, "alerts");
    if (!cJSON_IsArray(alerts)) {
        jfail(c, "'alerts' must be an array");
        goto fail;
    }
    cJSON_ArrayForEach(it, alerts) {
        XGROW(g->alerts, g->nalerts + 1, g->acap);
        if (alert_from_json(c, it, &g->alerts[g->nalerts]) != 0)
            goto fail;
        g->nalerts++;
    }

    nflog = cJSON_GetObjectItemCaseSensitive(o, "nflog");
    fir = cJSON_GetObjectItemCaseSensitive(nflog, "firing");
    if (!cJSON_IsObject(nflog) || !cJSON_IsArray(fir) ||
        get_num(c, nflog, "notified_at", &g->notified_at)) {
        jfail(c, "'nflog' must be an object with notified_at and firing");
        goto fail;
    }
    cJSON_ArrayForEach(it, fir) {
        XGROW(g->nf, g->nnf + 1, g->nfcap);
        struct nfentry *e = &g->nf[g->nnf];
        memset(e, 0, sizeof(*e));
        if (!cJSON_IsObject(it) ||
            get_str(c, it, "fingerprint", &e->fingerprint) ||
            get_str(c, it, "severity", &e->severity)) {
            free(e->fingerprint);
            if (!cJSON_IsObject(it))
                jfail(c, "nflog entry must be an object");
            goto fail;
        }
        e->flapping = json_bool(it, "flapping");
        e->muted = json_bool(it, "muted");
        g->nnf++;
    }
    /* The log is looked up by bsearch: sort it.  Alerts keep their order
     * (the order they joined).  Refuse duplicates rather than guess. */
    if (g->nnf > 1)
        qsort(g->nf, g->nnf, sizeof(*g->nf), nfentry_cmp);
    for (size_t i = 1; i < g->nnf; i++)
        if (nfentry_cmp(&g->nf[i - 1], &g->nf[i]) == 0) {
            jfail(c, "duplicate nflog fingerprint");
            goto fail;
        }
    if (g->nalerts > 1) {
        const char **fps = xcalloc(g->nalerts, sizeof(*fps));
        for (size_t i = 0; i < g->nalerts; i++)
            fps[i] = g->alerts[i].a.fingerprint;
        qsort(fps, g->nalerts, sizeof(*fps), str_ptr_cmp);
        bool dup = false;
        for (size_t i = 1; i < g->nalerts && !dup; i++)
            dup = strcmp(fps[i - 1], fps[i]) == 0;
        free(fps);
        if (dup) {
            jfail(c, "duplicate alert fingerprint");
            goto fail;
        }
    }
    galert_reindex(g);
    g->heap_pos = HEAP_NONE;
    *out = g;
    return 0;
fail:
    group_free(g);
    return -1;
}

int dispatch_from_json(struct dispatcher *d, const cJSON *j, char *err,
                       size_t errlen)
{
    d->generation++;
    struct jctx c = { err, errlen, "dispatch" };
    struct dispatcher tmp;
    const cJSON *groups, *it;
    double version, seq;
    char where[48];

    memset(&tmp, 0, sizeof(tmp));
    if (!cJSON_IsObject(j))
        return jfail(&c, "expected an object");
    if (get_num(&c, j, "version", &version) || get_num(&c, j, "seq", &seq))
        return -1;
    if (version != 1)
        return jfail(&c, "unsupported version");
    if (seq < 0)
        return jfail(&c, "'seq' must not be negative");
    groups = cJSON_GetObjectItemCaseSensitive(j, "groups");
    if (!cJSON_IsArray(groups))
        return jfail(&c, "'groups' must be an array");
    cJSON_ArrayForEach(it, groups) {
        struct group *g;
        snprintf(where, sizeof(where), "groups[%zu]", tmp.ngroups);
        c.where = where;
        if (group_from_json(&c, it, &g) != 0)
            goto fail;
        if (group_find(&tmp, g->key)) {
            group_free(g);
            jfail(&c, "duplicate group key");
            goto fail;
        }
        group_append(&tmp, g);
    }
    tmp.silences = silences_new();
    silences_set_limits(tmp.silences, silences_get_limits(d->silences));
    const cJSON *sil = cJSON_GetObjectItemCaseSensitive(j, "silences");
    if (sil && silences_from_json(tmp.silences, sil, err, errlen) != 0)
        goto fail;

    schedule_reset(d);
    groups_free(d);
    d->groups = tmp.groups;
    d->ngroups = tmp.ngroups;
    d->gcap = tmp.gcap;
    d->group_seq = tmp.group_seq;
    groups_reindex(d);
    index_map_free(&tmp.group_index);
    silences_free(d->silences);
    d->silences = tmp.silences;
    d->seq = (uint64_t)seq;
    for (size_t i = 0; i < d->ngroups; i++) {
        const struct group *g = d->groups[i];
        if (g->created_at > d->last_now)
            d->last_now = g->created_at;
        if (g->notified_at > d->last_now)
            d->last_now = g->notified_at;
    }
    reconcile(d, "state");
    return 0;
fail:
    groups_free(&tmp);
    silences_free(tmp.silences);
    return -1;
}

uint64_t dispatch_generation(const struct dispatcher *d)
{
    return d->generation;
}

static void shift_time(double *t, double delta_s)
{
    if (*t > 0)
        *t += delta_s;
}

void dispatch_shift_times(struct dispatcher *d, double delta_s)
{
    d->generation++;
    for (size_t i = 0; i < d->ngroups; i++) {
        struct group *g = d->groups[i];
        shift_time(&g->created_at, delta_s);
        shift_time(&g->next_flush, delta_s);
        shift_time(&g->notified_at, delta_s);
        for (size_t k = 0; k < g->nalerts; k++) {
            shift_time(&g->alerts[k].a.starts_at, delta_s);
            shift_time(&g->alerts[k].a.ends_at, delta_s);
        }
        mark_stale(d, g);
    }
    shift_time(&d->last_now, delta_s);
}
