/*
 * poll.c - see poll.h.
 */
#include "api/poll.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/index.h"
#include "core/log.h"
#include "core/utf8.h"
#include "api/segment_parse.h"

/* Keys already seen in one listing, to drop items repeated across pages. */
struct key_set {
    struct str_list keys;
    struct index_map map;
};

static bool key_match(const void *ctx, size_t idx, const void *key)
{
    const struct key_set *ks = ctx;
    return streq(ks->keys.items[idx], key);
}

/* Add key; false when it was there already. */
static bool key_set_add(struct key_set *ks, const char *key)
{
    uint64_t h = hash_str(key);
    if (index_map_get(&ks->map, h, key_match, ks, key) != INDEX_NONE)
        return false;
    index_map_put(&ks->map, h, ks->keys.n);
    str_list_add(&ks->keys, key);
    return true;
}

static void key_set_free(struct key_set *ks)
{
    str_list_free(&ks->keys);
    index_map_free(&ks->map);
}

struct topology {
    struct poll_source *sources;        /* selected enabled sources */
    size_t nsources, sources_cap;
    struct poll_connection *conns;
    size_t nconns, conns_cap;
    /* Built once the topology is complete (topology_index): every lookup
     * of a response's connection or source is O(1), not a scan. */
    struct index_map source_by_id;      /* id -> sources[] */
    struct index_map conn_by_key;       /* (source id, destination id) ->
                                           conns[] */
};

/* A connection's key: its source's id and its destination instance id. */
struct conn_key {
    const char *source_id, *dest_id;
};

static uint64_t conn_key_hash(const char *source_id, const char *dest_id)
{
    return hash_bytes(dest_id, strlen(dest_id), hash_str(source_id));
}

static bool conn_match(const void *ctx, size_t idx, const void *key)
{
    const struct topology *t = ctx;
    const struct conn_key *k = key;
    const struct poll_connection *c = &t->conns[idx];
    return streq(c->dest_id, k->dest_id) &&
           streq(t->sources[c->source_index].id, k->source_id);
}

static bool source_match(const void *ctx, size_t idx, const void *key)
{
    const struct topology *t = ctx;
    return streq(t->sources[idx].id, key);
}

/* Index a complete topology (ids are unique in it: discovery dropped
 * repeated items). */
static void topology_index(struct topology *t)
{
    for (size_t i = 0; i < t->nsources; i++)
        index_map_put(&t->source_by_id, hash_str(t->sources[i].id), i);
    for (size_t i = 0; i < t->nconns; i++) {
        const struct poll_connection *c = &t->conns[i];
        index_map_put(&t->conn_by_key,
                      conn_key_hash(t->sources[c->source_index].id,
                                    c->dest_id), i);
    }
}

static struct poll_source *topology_source(const struct topology *t,
                                           const char *id)
{
    size_t i = index_map_get(&t->source_by_id, hash_str(id), source_match,
                             t, id);
    return i == INDEX_NONE ? NULL : &t->sources[i];
}

static struct poll_connection *topology_conn(const struct topology *t,
                                             const char *source_id,
                                             const char *dest_id)
{
    struct conn_key k = { source_id, dest_id };
    size_t i = index_map_get(&t->conn_by_key,
                             conn_key_hash(source_id, dest_id), conn_match,
                             t, &k);
    return i == INDEX_NONE ? NULL : &t->conns[i];
}

struct poller {
    const struct workspace_cfg *ws;
    const struct clock *clock;
    struct seg_client *client;
    size_t outstanding[POLL__COUNT];    /* calls not done yet, per kind */
    struct sample_sink sink;
    struct topology topo;
    struct poll_health health;
    /* discovery in progress */
    struct topology *pending;
    int discovery_calls;                /* outstanding */
    bool discovery_failed;
    bool *pending_skip;                 /* per pending source: 404 */
    struct key_set pending_ids;         /* source ids, "source/dest" ids */
    size_t discovery_dups;              /* repeated items dropped */
    struct str_list warned_404;         /* source ids whose 404 was logged */
    /* the latest billing period usage rows carried */
    bool have_period;
    double period_start, period_end;
    double period_logged;               /* period_start last logged */
    struct log_complaint implausible_log;   /* rate-limits its warning */
    size_t overview_outstanding;        /* reasons calls queued or running */
    struct log_complaint reasons_log;   /* rate-limits their failures */
};

/* Count the implausible values a parse refused and say so, at most once a
 * minute (doubling to an hour) per workspace: a broken proxy sends them
 * on every poll. */
static void note_implausible(struct poller *p, const char *what,
                             const struct seg_implausible *imp)
{
    if (imp->n == 0)
        return;
    p->health.implausible += imp->n;
    log_complain(&p->implausible_log, LOG_WARN,
                 "poll: ws=%s %s: ignored %zu implausible value%s (negative, "
                 "not finite or above %g; first: %s), %lu so far",
                 p->ws->name, what, imp->n, imp->n == 1 ? "" : "s",
                 SEGPARSE_MAX_COUNT, imp->first, p->health.implausible);
}

const char *poll_kind_name(enum poll_kind k)
{
    static const char *names[POLL__COUNT] = { "discovery", "delivery",
                                              "volume", "usage" };
    return (unsigned)k < POLL__COUNT ? names[k] : "?";
}

const char *poll_kind_family(enum poll_kind k)
{
    switch (k) {
    case POLL_DELIVERY: return "connection";
    case POLL_VOLUME: return "source";
    case POLL_USAGE: return "usage";
    default: return "workspace";
    }
}

enum poll_kind poll_kind_of_endpoint(enum seg_endpoint ep)
{
    switch (ep) {
    case SEGEP_DELIVERY_METRICS: return POLL_DELIVERY;
    case SEGEP_EVENTS_VOLUME: return POLL_VOLUME;
    case SEGEP_USAGE_MTU_SOURCES:
    case SEGEP_USAGE_MTU:
    case SEGEP_USAGE_API_CALLS_SOURCES:
    case SEGEP_USAGE_API_CALLS: return POLL_USAGE;
    default: return POLL_DISCOVERY;
    }
}

static void conn_free(struct poll_connection *c)
{
    free(c->dest_id);
    free(c->dest_name);
    free(c->dest_slug);
}

static void topology_free(struct topology *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nsources; i++) {
        free(t->sources[i].id);
        free(t->sources[i].slug);
        free(t->sources[i].name);
        free(t->sources[i].vol);
    }
    for (size_t i = 0; i < t->nconns; i++)
        conn_free(&t->conns[i]);
    free(t->sources);
    free(t->conns);
    index_map_free(&t->source_by_id);
    index_map_free(&t->conn_by_key);
    memset(t, 0, sizeof(*t));
}

struct poller *poller_new(const struct workspace_cfg *ws,
                          struct http_client *http, const struct clock *clock,
                          const struct sample_sink *sink)
{
    struct http_transport t = http_client_transport(http);
    return poller_new_transport(ws, &t, clock, sink);
}

struct poller *poller_new_transport(const struct workspace_cfg *ws,
                                    const struct http_transport *transport,
                                    const struct clock *clock,
                                    const struct sample_sink *sink)
{
    struct poller *p = xcalloc(1, sizeof(*p));
    p->ws = ws;
    p->clock = clock ? clock : clock_system();
    p->sink = *sink;
    struct seg_client_opts o = {
        .workspace = ws->name,
        .base_url = ws->api_url,
        .token = ws->token,
        .request_budget = ws->request_budget,
        .overview_budget = ws->overview_budget,
        .max_concurrency = ws->max_concurrency,
        .connect_timeout_s = ws->connect_timeout_s,
        .request_timeout_s = ws->request_timeout_s,
        .clock = p->clock,
    };
    p->client = seg_client_new(&o, transport);
    return p;
}

void poller_free(struct poller *p)
{
    if (!p)
        return;
    seg_client_free(p->client);     /* cancels queued calls first */
    topology_free(&p->topo);
    if (p->pending) {
        topology_free(p->pending);
        free(p->pending);
    }
    free(p->pending_skip);
    key_set_free(&p->pending_ids);
    str_list_free(&p->warned_404);
    free(p);
}

const struct poll_health *poller_health(const struct poller *p)
{
    return &p->health;
}

const struct seg_client *poller_client(const struct poller *p)
{
    return p->client;
}

const struct workspace_cfg *poller_workspace(const struct poller *p)
{
    return p->ws;
}

size_t poller_connections(const struct poller *p, struct poll_connection **out)
{
    *out = p->topo.conns;
    return p->topo.nconns;
}

double poller_tick(struct poller *p)
{
    return seg_client_tick(p->client);
}

bool poller_idle(const struct poller *p)
{
    return seg_client_idle(p->client);
}

bool poller_kind_idle(const struct poller *p, enum poll_kind k)
{
    return p->outstanding[k] == 0;
}

bool poller_discovering(const struct poller *p)
{
    return p->pending != NULL;
}

double poller_volume_bucket(const struct poller *p)
{
    return p->ws->volume_interval_s < 3600 ? 60 : 3600;
}

static void note_result(struct poller *p, enum poll_kind k, enum seg_status st,
                        const char *msg)
{
    p->health.unauthorized = st == SEG_AUTH ||
                             (st != SEG_OK && p->health.unauthorized);
    if (st == SEG_OK) {
        p->health.last_ok[k] = clock_wall(p->clock);
        p->health.unauthorized = false;
    } else if (st == SEG_CANCELLED) {
        p->health.cancelled[k]++;
    } else {
        p->health.errors[k]++;
        /* shown on the page and in `status`: cut on a character */
        char *text = xasprintf("%s: %s", seg_status_name(st), msg);
        utf8_sanitize_copy(p->health.last_error[k],
                           sizeof(p->health.last_error[k]), text);
        free(text);
    }
}

/* The outcome of one call of endpoint ep: a 403 marks the endpoint
 * forbidden (logged when it starts), a success clears it. */
/* Every call goes out through here, and its done() reports through
 * note_endpoint(): the calls outstanding per kind tell when a family's
 * sweep is over (poller_kind_idle), whatever else the workspace has in
 * flight. */
static void call(struct poller *p, enum seg_endpoint ep, const char *path,
                 bool paged, int priority, seg_page_fn page,
                 seg_done_fn done, void *ud)
{
    p->outstanding[poll_kind_of_endpoint(ep)]++;
    seg_call(p->client, ep, path, paged, priority, page, done, ud);
}

static void note_endpoint(struct poller *p, enum seg_endpoint ep,
                          enum seg_status st, const char *msg)
{
    struct poll_health *h = &p->health;
    enum poll_kind k = poll_kind_of_endpoint(ep);
    if (p->outstanding[k] > 0)
        p->outstanding[k]--;
    if (st == SEG_OK && h->forbidden[ep]) {
        h->forbidden[ep] = false;
        h->forbidden_since[ep] = 0;
        h->forbidden_msg[ep][0] = '\0';
        log_info("poll: ws=%s %s: allowed again", p->ws->name,
                 seg_endpoint_name(ep));
    } else if (st == SEG_FORBIDDEN) {
        if (!h->forbidden[ep]) {
            h->forbidden[ep] = true;
            h->forbidden_since[ep] = clock_wall(p->clock);
            log_warn("poll: ws=%s %s forbidden: %s - the token lacks this "
                     "permission; the other endpoints go on", p->ws->name,
                     seg_endpoint_name(ep), msg);
        }
        utf8_sanitize_copy(h->forbidden_msg[ep], sizeof(h->forbidden_msg[ep]),
                           msg);
    }
}

/* ---- filters ------------------------------------------------------------- */

static bool any_glob(const struct str_list *globs, const char *a, const char *b,
                     const char *c)
{
    for (size_t i = 0; i < globs->n; i++) {
        const char *g = globs->items[i];
        if (glob_match(g, a) || glob_match(g, b) || glob_match(g, c))
            return true;
    }
    return false;
}

static bool source_selected(const struct workspace_cfg *ws,
                            const struct seg_source *s)
{
    if (!s->enabled)
        return false;
    if (ws->sources.n > 0 && !any_glob(&ws->sources, s->slug, s->name, s->id))
        return false;
    return !any_glob(&ws->exclude_sources, s->slug, s->name, s->id);
}

static bool destination_selected(const struct workspace_cfg *ws,
                                 const struct seg_destination *d)
{
    if (!d->enabled)
        return false;
    return ws->destinations.n == 0 ||
           any_glob(&ws->destinations, d->name, d->slug, d->id);
}

/* ---- discovery ------------------------------------------------------------ */

struct dest_ctx {
    struct poller *p;
    size_t source_index;        /* into p->pending->sources */
};

/* Leave out the pending sources marked skipped and their connections,
 * renumbering the connections' source_index. */
static void drop_skipped_sources(struct poller *p)
{
    struct topology *t = p->pending;
    size_t *new_index = xcalloc(t->nsources ? t->nsources : 1,
                                sizeof(*new_index));
    size_t ns = 0, nc = 0;
    for (size_t i = 0; i < t->nsources; i++) {
        if (p->pending_skip[i]) {
            free(t->sources[i].id);
            free(t->sources[i].slug);
            free(t->sources[i].name);
            free(t->sources[i].vol);
            continue;
        }
        new_index[i] = ns;
        t->sources[ns++] = t->sources[i];
    }
    for (size_t i = 0; i < t->nconns; i++) {
        struct poll_connection *c = &t->conns[i];
        if (p->pending_skip[c->source_index]) {
            conn_free(c);
            continue;
        }
        c->source_index = new_index[c->source_index];
        t->conns[nc++] = *c;
    }
    t->nsources = ns;
    t->nconns = nc;
    free(new_index);
}

static void discovery_reset(struct poller *p)
{
    free(p->pending);
    p->pending = NULL;
    free(p->pending_skip);
    p->pending_skip = NULL;
    key_set_free(&p->pending_ids);
    p->discovery_dups = 0;
}

static void fix_source_pointers(struct topology *t)
{
    for (size_t i = 0; i < t->nconns; i++)
        t->conns[i].source = &t->sources[t->conns[i].source_index];
}

static void discovery_finished(struct poller *p)
{
    p->health.last_attempt[POLL_DISCOVERY] = clock_wall(p->clock);
    if (p->discovery_dups)
        log_warn("poll: ws=%s discovery: dropped %zu items repeated across "
                 "pages", p->ws->name, p->discovery_dups);
    if (p->discovery_failed) {
        log_warn("poll: ws=%s discovery failed, keeping the previous "
                 "topology (%zu connections)", p->ws->name, p->topo.nconns);
        topology_free(p->pending);
        discovery_reset(p);
        return;
    }
    size_t skipped = 0;
    for (size_t i = 0; p->pending_skip && i < p->pending->nsources; i++)
        skipped += p->pending_skip[i];
    if (skipped)
        drop_skipped_sources(p);
    fix_source_pointers(p->pending);
    topology_index(p->pending);
    /* Keep last_polled of connections that survive re-discovery. */
    for (size_t i = 0; i < p->pending->nconns; i++) {
        struct poll_connection *n = &p->pending->conns[i];
        const struct poll_connection *o =
            topology_conn(&p->topo, n->source->id, n->dest_id);
        if (o) {
            n->last_polled = o->last_polled;
            n->window_end = o->window_end;
            n->priority = o->priority;
        }
    }
    /* Keep the volume history of sources that survive. */
    for (size_t i = 0; i < p->pending->nsources; i++) {
        struct poll_source *n = &p->pending->sources[i];
        struct poll_source *o = topology_source(&p->topo, n->id);
        if (o) {
            n->vol = o->vol;
            n->nvol = o->nvol;
            n->vol_cap = o->vol_cap;
            o->vol = NULL;
            o->nvol = o->vol_cap = 0;
        }
    }
    topology_free(&p->topo);
    p->topo = *p->pending;
    p->health.discovered = true;
    p->health.discoveries++;
    p->health.nsources = p->topo.nsources;
    p->health.nconnections = p->topo.nconns;
    p->health.nsources_skipped = skipped;
    p->health.sources_skipped += skipped;
    log_info("poll: ws=%s discovered %zu sources, %zu connections%s",
             p->ws->name, p->topo.nsources, p->topo.nconns,
             skipped ? " (sources without connected destinations (404) "
                       "left out)" : "");
    note_result(p, POLL_DISCOVERY, SEG_OK, "");
    discovery_reset(p);
}

static int dest_page(void *ud, const char *body, size_t len, char **next,
                     char *err, size_t errlen)
{
    struct dest_ctx *dc = ud;
    struct poller *p = dc->p;
    struct seg_destinations d = { 0 };
    if (segparse_destinations(body, len, &d, err, errlen) != 0)
        return -1;
    struct topology *t = p->pending;
    const char *source_id = t->sources[dc->source_index].id;
    /* The sources array may still grow while pages arrive: keep the index
     * and set the pointer once discovery is complete. */
    for (size_t i = 0; i < d.n; i++) {
        if (!destination_selected(p->ws, &d.items[i]))
            continue;
        struct strbuf key = STRBUF_INIT;
        strbuf_addf(&key, "%s/%s", source_id, d.items[i].id);
        bool fresh = key_set_add(&p->pending_ids, strbuf_str(&key));
        strbuf_free(&key);
        if (!fresh) {
            p->discovery_dups++;
            continue;
        }
        XGROW(t->conns, t->nconns + 1, t->conns_cap);
        struct poll_connection *c = &t->conns[t->nconns++];
        memset(c, 0, sizeof(*c));
        c->source_index = dc->source_index;
        c->dest_id = xstrdup(d.items[i].id);
        c->dest_name = xstrdup(d.items[i].name && d.items[i].name[0]
                                   ? d.items[i].name : d.items[i].slug);
        c->dest_slug = xstrdup(d.items[i].slug);
        c->mode = seg_dest_mode_name(d.items[i].mode);
    }
    if (d.skipped)
        log_warn("poll: ws=%s connected destinations: skipped %zu malformed "
                 "entries (%s)", p->ws->name, d.skipped, d.warning);
    *next = d.next;
    d.next = NULL;
    seg_destinations_free(&d);
    return 0;
}

static bool str_list_has(const struct str_list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (streq(l->items[i], s))
            return true;
    return false;
}

static void str_list_remove(struct str_list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++) {
        if (streq(l->items[i], s)) {
            free(l->items[i]);
            l->items[i] = l->items[--l->n];
            return;
        }
    }
}

/* A 404 on one source's connected destinations: the source went away
 * since the listing (or the token cannot see it).  Skip it, logging it
 * once rather than at every discovery. */
static void skip_source(struct poller *p, size_t i, const char *msg)
{
    const char *id = p->pending->sources[i].id;
    p->pending_skip[i] = true;
    if (str_list_has(&p->warned_404, id)) {
        log_debug("poll: ws=%s source '%s' skipped again: %s", p->ws->name,
                  id, msg);
        return;
    }
    str_list_add(&p->warned_404, id);
    log_warn("poll: ws=%s source '%s' (%s) skipped: its connected "
             "destinations are not found: %s", p->ws->name,
             p->pending->sources[i].slug, id, msg);
}

static void dest_done(void *ud, enum seg_status st, const char *msg)
{
    struct dest_ctx *dc = ud;
    struct poller *p = dc->p;
    size_t i = dc->source_index;
    free(dc);
    note_endpoint(p, SEGEP_DESTINATIONS, st, msg);
    if (st == SEG_NOTFOUND) {
        skip_source(p, i, msg);
    } else if (st != SEG_OK) {
        p->discovery_failed = true;
        note_result(p, POLL_DISCOVERY, st, msg);
    } else {
        str_list_remove(&p->warned_404, p->pending->sources[i].id);
    }
    if (--p->discovery_calls == 0)
        discovery_finished(p);
}

static int sources_page(void *ud, const char *body, size_t len, char **next,
                        char *err, size_t errlen)
{
    struct poller *p = ud;
    struct seg_sources s = { 0 };
    if (segparse_sources(body, len, &s, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < s.n; i++) {
        if (!source_selected(p->ws, &s.items[i]))
            continue;
        if (!key_set_add(&p->pending_ids, s.items[i].id)) {
            p->discovery_dups++;
            continue;
        }
        struct topology *t = p->pending;
        XGROW(t->sources, t->nsources + 1, t->sources_cap);
        struct poll_source *ps = &t->sources[t->nsources++];
        memset(ps, 0, sizeof(*ps));
        ps->id = xstrdup(s.items[i].id);
        ps->slug = xstrdup(s.items[i].slug);
        ps->name = xstrdup(s.items[i].name);
    }
    if (s.skipped)
        log_warn("poll: ws=%s sources: skipped %zu malformed entries (%s)",
                 p->ws->name, s.skipped, s.warning);
    *next = s.next;
    s.next = NULL;
    seg_sources_free(&s);
    return 0;
}

static void sources_done(void *ud, enum seg_status st, const char *msg)
{
    struct poller *p = ud;
    note_endpoint(p, SEGEP_SOURCES, st, msg);
    if (st != SEG_OK) {
        p->discovery_failed = true;
        note_result(p, POLL_DISCOVERY, st, msg);
        p->discovery_calls = 0;
        discovery_finished(p);
        return;
    }
    struct topology *t = p->pending;
    if (t->nsources == 0) {
        discovery_finished(p);
        return;
    }
    p->pending_skip = xcalloc(t->nsources, sizeof(*p->pending_skip));
    p->discovery_calls = (int)t->nsources;
    for (size_t i = 0; i < t->nsources; i++) {
        struct dest_ctx *dc = xcalloc(1, sizeof(*dc));
        dc->p = p;
        dc->source_index = i;
        struct strbuf pq = STRBUF_INIT;
        strbuf_adds(&pq, "/sources/");
        strbuf_add_urlenc(&pq, t->sources[i].id);
        strbuf_adds(&pq, "/connected-destinations");
        call(p, SEGEP_DESTINATIONS, strbuf_str(&pq), true, 10,
                 dest_page, dest_done, dc);
        strbuf_free(&pq);
    }
}

void poller_discover(struct poller *p)
{
    if (p->pending)
        return;     /* one discovery at a time */
    p->pending = xcalloc(1, sizeof(*p->pending));
    p->discovery_failed = false;
    p->discovery_calls = 0;
    p->discovery_dups = 0;
    call(p, SEGEP_SOURCES, "/sources", true, 10, sources_page,
             sources_done, p);
}

/* ---- samples ---------------------------------------------------------------- */

static void emit(struct poller *p, enum family fam, const struct kv *labels,
                 size_t n, double t, const double v[M__COUNT],
                 const bool has[M__COUNT])
{
    p->health.samples++;
    if (p->sink.sample)
        p->sink.sample(p->sink.ud, fam, labels, n, t, v, has);
}

static struct poll_source *source_by_id(const struct poller *p, const char *id)
{
    return topology_source(&p->topo, id);
}

/* History kept per source: enough for the longest delivery window, plus an
 * hour of slack for the lag of event volume behind delivery metrics. */
static double volume_history_s(const struct poller *p)
{
    double w = p->ws->delivery_window_s;
    return (w > POLL_DELIVERY_WINDOW_MAX_S ? w : POLL_DELIVERY_WINDOW_MAX_S) +
           3600;
}

/* Remember a volume bucket (ordered by end time, then size; the same end
 * and size replaces) and forget those older than the history needs. */
static void remember_volume(struct poller *p, struct poll_source *s, double t,
                            double count, double bucket)
{
    size_t i = s->nvol;
    while (i > 0 && (s->vol[i - 1].t > t ||
                     (s->vol[i - 1].t == t && s->vol[i - 1].bucket_s > bucket)))
        i--;
    if (i > 0 && s->vol[i - 1].t == t && s->vol[i - 1].bucket_s == bucket) {
        s->vol[i - 1].count = count;
    } else {
        XGROW(s->vol, s->nvol + 1, s->vol_cap);
        memmove(&s->vol[i + 1], &s->vol[i], (s->nvol - i) * sizeof(*s->vol));
        s->vol[i].t = t;
        s->vol[i].count = count;
        s->vol[i].bucket_s = bucket;
        s->nvol++;
    }
    double keep_from = s->vol[s->nvol - 1].t - volume_history_s(p);
    size_t drop = 0;
    while (drop < s->nvol && s->vol[drop].t < keep_from)
        drop++;
    if (drop) {
        memmove(s->vol, s->vol + drop, (s->nvol - drop) * sizeof(*s->vol));
        s->nvol -= drop;
    }
}

/* Length of (a, b] within (lo, hi]. */
static double overlap(double a, double b, double lo, double hi)
{
    double from = a > lo ? a : lo, to = b < hi ? b : hi;
    return to > from ? to - from : 0;
}

/*
 * Events the source received during the last `window` seconds of complete
 * buckets seen so far: (last - window, last], last = the newest bucket end.
 * Event volume lags delivery metrics by a bucket or two (only complete
 * buckets are read), so the window is taken back from the newest complete
 * bucket rather than from the delivery window's end.  The finest buckets
 * (minutes) count first; older parts of the window that they do not reach
 * come from coarser (hourly, back-filled) buckets, pro rata where a bucket
 * straddles an edge.  False when no bucket is recent enough (newer than
 * t - window - 3 buckets).
 */
static bool source_volume(const struct poll_source *s, double lo, double hi,
                          double *out)
{
    if (s->nvol == 0)
        return false;
    double last = s->vol[s->nvol - 1].t;
    if (last < hi - 3 * s->vol[s->nvol - 1].bucket_s)
        return false;
    if (hi > last) {
        /* Volume lags the window (hourly buckets, or a volume poll that is
         * late): count the same length back from the newest bucket. */
        lo -= hi - last;
        hi = last;
    }
    double finest = INFINITY;
    for (size_t i = 0; i < s->nvol; i++)
        if (s->vol[i].bucket_s < finest)
            finest = s->vol[i].bucket_s;
    /* The finest buckets, and from where they cover the window. */
    double sum = 0, covered_from = hi;
    for (size_t i = 0; i < s->nvol; i++) {
        const struct poll_volume_point *v = &s->vol[i];
        if (v->bucket_s != finest)
            continue;
        double in = overlap(v->t - v->bucket_s, v->t, lo, hi);
        if (in <= 0)
            continue;
        sum += v->count * in / v->bucket_s;
        if (v->t - v->bucket_s < covered_from)
            covered_from = v->t - v->bucket_s;
    }
    /* Coarser buckets for what lies before. */
    for (size_t i = 0; i < s->nvol; i++) {
        const struct poll_volume_point *v = &s->vol[i];
        if (v->bucket_s == finest)
            continue;
        double in = overlap(v->t - v->bucket_s, v->t, lo, covered_from);
        if (in > 0)
            sum += v->count * in / v->bucket_s;
    }
    *out = sum;
    return true;
}

/* ---- delivery metrics --------------------------------------------------------- */

struct delivery_ctx {
    struct poller *p;
    char *source_id, *dest_id;      /* to find the connection again: the
                                       topology may change meanwhile */
    double end;                     /* window end */
    double t;                       /* sample time: the end, or the start
                                       for a history read */
    double window_s;
    bool history;
    bool partial;                   /* the minute so far (see poll.h) */
    bool range;                     /* poller_poll_delivery_range */
};

struct poll_connection *poller_find_connection(struct poller *p,
                                               const char *source_id,
                                               const char *dest_id)
{
    return topology_conn(&p->topo, source_id, dest_id);
}

/* Labels of a connection's samples; returns how many were set. */
static size_t conn_labels(const struct poller *p,
                          const struct poll_connection *c, struct kv out[7])
{
    size_t n = 0;
    out[n++] = (struct kv){ "workspace", p->ws->name };
    out[n++] = (struct kv){ "source", c->source->slug };
    out[n++] = (struct kv){ "source_id", c->source->id };
    out[n++] = (struct kv){ "destination", c->dest_name };
    out[n++] = (struct kv){ "destination_id", c->dest_id };
    out[n++] = (struct kv){ "destination_type", c->dest_slug };
    if (c->mode)
        out[n++] = (struct kv){ "mode", (char *)c->mode };
    return n;
}

static int delivery_page(void *ud, const char *body, size_t len, char **next,
                         char *err, size_t errlen)
{
    struct delivery_ctx *dc = ud;
    struct poller *p = dc->p;
    struct seg_delivery d;
    *next = NULL;
    if (segparse_delivery_metrics(body, len, p->ws->latency_scale, &d, err,
                                  errlen) != 0)
        return -1;
    struct poll_connection *c = poller_find_connection(p, dc->source_id,
                                                       dc->dest_id);
    if (!c)
        return 0;   /* removed by a re-discovery meanwhile */
    if (d.unknown_metrics)
        log_debug("poll: ws=%s ignoring %zu unknown delivery metrics (first "
                  "'%s')", p->ws->name, d.unknown_metrics, d.first_unknown);
    note_implausible(p, "delivery metrics", &d.implausible);
    struct kv labels[7];
    size_t nlabels = conn_labels(p, c, labels);
    c->last_polled = clock_wall(p->clock);
    double sv;
    if (!dc->history && !dc->partial && !dc->range) {
        /* the tiling goes on from the window's last whole minute (its end,
         * but for a first window read to the second) */
        double m = floor(dc->end / POLL_DELIVERY_GRANULARITY_S) *
                   POLL_DELIVERY_GRANULARITY_S;
        if (m > c->window_end)
            c->window_end = m;
    }
    if (!dc->range &&
        source_volume(c->source, dc->end - dc->window_s, dc->end, &sv)) {
        d.v[M_SOURCE_VOLUME] = sv;
        d.has[M_SOURCE_VOLUME] = true;
    }
    emit(p, FAM_CONNECTION, labels, nlabels, dc->t, d.v, d.has);
    return 0;
}

static void delivery_done(void *ud, enum seg_status st, const char *msg)
{
    struct delivery_ctx *dc = ud;
    dc->p->health.last_attempt[POLL_DELIVERY] = clock_wall(dc->p->clock);
    note_endpoint(dc->p, SEGEP_DELIVERY_METRICS, st, msg);
    note_result(dc->p, POLL_DELIVERY, st, msg);
    free(dc->source_id);
    free(dc->dest_id);
    free(dc);
}

void poller_poll_delivery(struct poller *p, double now)
{
    poller_poll_delivery_window(p, now, 0);
}

static void poll_delivery(struct poller *p, double now, double window_s,
                          bool history);

void poller_poll_delivery_window(struct poller *p, double now,
                                 double window_s)
{
    poll_delivery(p, now, window_s, false);
}

void poller_poll_delivery_history(struct poller *p, double now,
                                  double window_s)
{
    poll_delivery(p, now, window_s, true);
}

/* The newest complete minute of event volume seen for s, or 0. */
static double volume_known_until(const struct poll_source *s)
{
    if (s->nvol == 0 || s->vol[s->nvol - 1].bucket_s >= 3600)
        return 0;
    return s->vol[s->nvol - 1].t;
}

static void poll_delivery(struct poller *p, double now, double window_s,
                          bool history)
{
    if (!(window_s > 0))
        window_s = p->ws->delivery_window_s;
    if (window_s > POLL_DELIVERY_WINDOW_MAX_S)
        window_s = POLL_DELIVERY_WINDOW_MAX_S;
    for (size_t i = 0; i < p->topo.nconns; i++) {
        struct poll_connection *c = &p->topo.conns[i];
        /* A window ends where the source's event volume is known (its
         * newest complete minute, a minute or two ago), so its
         * source_volume covers exactly the same time: a source that stops
         * is then not mistaken for a connection that stalls.  Without
         * recent volume it ends on the last whole minute: the API counts
         * whole minutes, and a window ending mid-minute would count that
         * minute again in the next one.  It starts where the previous one
         * ended: windows neither overlap nor leave gaps (within the API's
         * 4-hour limit), so their counts add up.  With no whole minute
         * since the last window, the minute so far is read (to the
         * second) for the rules, and the windows stay where they are.
         * The first window (nothing read yet) ends now, to the second, as
         * fresh as can be; the tiling starts at its last whole minute. */
        double end = floor(now);
        bool partial = false;
        double known = volume_known_until(c->source);
        if (known > c->window_end && known >= now - 5 * 60) {
            end = known;
        } else if (!history && c->window_end > 0) {
            double minute = floor(now / POLL_DELIVERY_GRANULARITY_S) *
                            POLL_DELIVERY_GRANULARITY_S;
            if (minute > c->window_end)
                end = minute;
            else
                partial = true;
        }
        double start = end - window_s;
        if (!history && c->window_end > 0 && c->window_end < end &&
            end - c->window_end <= POLL_DELIVERY_WINDOW_MAX_S)
            start = c->window_end;
        struct delivery_ctx *dc = xcalloc(1, sizeof(*dc));
        dc->p = p;
        dc->source_id = xstrdup(c->source->id);
        dc->dest_id = xstrdup(c->dest_id);
        dc->end = end;
        dc->t = history ? start : end;
        dc->window_s = end - start;
        dc->history = history;
        dc->partial = partial;
        struct strbuf pq = STRBUF_INIT;
        strbuf_adds(&pq, "/destinations/");
        strbuf_add_urlenc(&pq, c->dest_id);
        strbuf_adds(&pq, "/delivery-metrics");
        seg_query_add(&pq, "sourceId", c->source->id);
        seg_query_add_time(&pq, "startTime", start);
        seg_query_add_time(&pq, "endTime", end);
        seg_query_add(&pq, "granularity", "MINUTE");
        call(p, SEGEP_DELIVERY_METRICS, strbuf_str(&pq), false,
                 c->priority, delivery_page, delivery_done, dc);
        strbuf_free(&pq);
    }
}

void poller_poll_delivery_range(struct poller *p, double start, double end,
                                bool hourly)
{
    if (!(end > start))
        return;
    for (size_t i = 0; i < p->topo.nconns; i++) {
        struct poll_connection *c = &p->topo.conns[i];
        struct delivery_ctx *dc = xcalloc(1, sizeof(*dc));
        dc->p = p;
        dc->source_id = xstrdup(c->source->id);
        dc->dest_id = xstrdup(c->dest_id);
        dc->end = end;
        dc->t = end;
        dc->window_s = end - start;
        dc->range = true;
        struct strbuf pq = STRBUF_INIT;
        strbuf_adds(&pq, "/destinations/");
        strbuf_add_urlenc(&pq, c->dest_id);
        strbuf_adds(&pq, "/delivery-metrics");
        seg_query_add(&pq, "sourceId", c->source->id);
        seg_query_add_time(&pq, "startTime", start);
        seg_query_add_time(&pq, "endTime", end);
        seg_query_add(&pq, "granularity", hourly ? "HOUR" : "MINUTE");
        call(p, SEGEP_DELIVERY_METRICS, strbuf_str(&pq), false, 0,
             delivery_page, delivery_done, dc);
        strbuf_free(&pq);
    }
}

/* ---- discard reasons (Delivery Overview) ---------------------------------- */

struct reasons_ctx {
    struct poller *p;
    char *source_id, *dest_id;
    struct discard_reasons r;
    poll_reasons_fn fn;
    void *ud;
};

static int reasons_page(void *ud, const char *body, size_t len, char **next,
                        char *err, size_t errlen)
{
    struct reasons_ctx *rc = ud;
    struct seg_overview o;
    /* a retried page must not count twice: parse into a copy */
    struct discard_reasons r = rc->r;
    *next = NULL;
    if (segparse_failed_delivery(body, len, &r, &o, err, errlen) != 0)
        return -1;
    rc->r = r;
    note_implausible(rc->p, "delivery overview", &o.implausible);
    *next = o.next;
    o.next = NULL;
    seg_overview_free(&o);
    return 0;
}

static void reasons_done(void *ud, enum seg_status st, const char *msg)
{
    struct reasons_ctx *rc = ud;
    struct poller *p = rc->p;
    if (p->overview_outstanding > 0)
        p->overview_outstanding--;
    note_endpoint(p, SEGEP_DELIVERY_OVERVIEW, st, msg);
    if (st == SEG_OK) {
        p->health.reasons_fetched++;
        rc->r.fetched_at = clock_wall(p->clock);
        discard_reasons_finish(&rc->r);
        rc->fn(rc->ud, rc->source_id, rc->dest_id, &rc->r);
    } else if (st != SEG_CANCELLED) {
        p->health.reasons_failed++;
        log_complain(&p->reasons_log, LOG_WARN, "poll: ws=%s discard reasons "
                     "of '%s' <- '%s': %s: %s (alerts go out without them)",
                     p->ws->name, rc->dest_id, rc->source_id,
                     seg_status_name(st), msg);
        rc->fn(rc->ud, rc->source_id, rc->dest_id, NULL);
    }
    free(rc->source_id);
    free(rc->dest_id);
    free(rc);
}

enum poll_reasons_result poller_fetch_reasons(struct poller *p,
                                              const char *source_id,
                                              const char *dest_id,
                                              double now, double window_s,
                                              poll_reasons_fn fn, void *ud)
{
    double cap = p->ws->overview_budget;
    if (cap <= 0)
        return POLL_REASONS_OFF;
    if ((double)p->overview_outstanding >= ceil(cap)) {
        p->health.reasons_over_budget++;
        return POLL_REASONS_BUDGET;
    }
    if (window_s < POLL_DELIVERY_GRANULARITY_S)
        window_s = POLL_DELIVERY_GRANULARITY_S;
    if (window_s > POLL_DELIVERY_WINDOW_MAX_S)
        window_s = POLL_DELIVERY_WINDOW_MAX_S;
    struct reasons_ctx *rc = xcalloc(1, sizeof(*rc));
    rc->p = p;
    rc->source_id = xstrdup(source_id);
    rc->dest_id = xstrdup(dest_id);
    rc->fn = fn;
    rc->ud = ud;
    discard_reasons_init(&rc->r);
    rc->r.from = now - window_s;
    rc->r.to = now;
    struct strbuf pq = STRBUF_INIT;
    strbuf_adds(&pq, "/delivery-overview/failed-delivery");
    seg_query_add(&pq, "sourceId", source_id);
    seg_query_add(&pq, "destinationConfigId", dest_id);
    seg_query_add_time(&pq, "startTime", now - window_s);
    seg_query_add_time(&pq, "endTime", now);
    seg_query_add(&pq, "granularity", "MINUTE");
    seg_query_add(&pq, "groupBy.0", "discardReason");
    p->overview_outstanding++;
    seg_call(p->client, SEGEP_DELIVERY_OVERVIEW, strbuf_str(&pq), true,
             POLL_PRIORITY_OVERVIEW, reasons_page, reasons_done, rc);
    strbuf_free(&pq);
    return POLL_REASONS_QUEUED;
}

/* ---- event volume ------------------------------------------------------------- */

struct volume_ctx {
    struct poller *p;
    double start;               /* first bucket's start */
    double bucket;              /* seconds: 60 or 3600 */
    size_t nbuckets;            /* in the window asked for */
    double *total;              /* per bucket: sum over every group */
    struct key_set groups;      /* source ids seen ("" = ungrouped) */
    size_t dups;                /* groups repeated across pages */
};

static void volume_ctx_free(struct volume_ctx *vc)
{
    free(vc->total);
    key_set_free(&vc->groups);
    free(vc);
}

/* Add a point to the workspace total when it is a bucket of the window. */
static void add_to_total(struct volume_ctx *vc,
                         const struct seg_volume_point *pt)
{
    double k = (pt->time - vc->start) / vc->bucket;
    if (k < 0 || k != floor(k) || k >= (double)vc->nbuckets)
        return;
    vc->total[(size_t)k] += pt->count;
}

static int volume_page(void *ud, const char *body, size_t len, char **next,
                       char *err, size_t errlen)
{
    struct volume_ctx *vc = ud;
    struct poller *p = vc->p;
    struct seg_volume v = { 0 };
    if (segparse_event_volume(body, len, &v, err, errlen) != 0)
        return -1;
    for (size_t g = 0; g < v.ngroups; g++) {
        const struct seg_volume_group *grp = &v.groups[g];
        if (!key_set_add(&vc->groups, grp->source_id ? grp->source_id : "")) {
            vc->dups++;
            continue;
        }
        for (size_t i = 0; i < grp->npoints; i++)
            add_to_total(vc, &grp->points[i]);
        if (!grp->source_id)
            continue;       /* ungrouped: only part of the total */
        struct poll_source *s = source_by_id(p, grp->source_id);
        if (!s)
            continue;       /* not a selected source */
        struct kv labels[] = {
            { "workspace", p->ws->name },
            { "source", s->slug },
            { "source_id", s->id },
        };
        for (size_t i = 0; i < grp->npoints; i++) {
            double vals[M__COUNT] = { 0 };
            bool has[M__COUNT] = { 0 };
            vals[M_EVENT_VOLUME] = grp->points[i].count;
            has[M_EVENT_VOLUME] = true;
            /* Stamp the bucket at its end: a window (now - 1h, now] then
             * holds the last complete hour, and with an offset of 7d the
             * same hour last week. */
            double t_end = grp->points[i].time + vc->bucket;
            remember_volume(p, s, t_end, grp->points[i].count, vc->bucket);
            emit(p, FAM_SOURCE, labels, ARRAY_SIZE(labels), t_end, vals, has);
        }
    }
    if (v.skipped)
        log_warn("poll: ws=%s event volume: skipped %zu malformed entries (%s)",
                 p->ws->name, v.skipped, v.warning);
    note_implausible(p, "event volume", &v.implausible);
    *next = v.next;
    v.next = NULL;
    seg_volume_free(&v);
    return 0;
}

/* The workspace total, once every page was read (a partial sum would look
 * like a drop). */
static void emit_total(struct volume_ctx *vc)
{
    struct poller *p = vc->p;
    struct kv labels[] = { { "workspace", p->ws->name } };
    for (size_t i = 0; i < vc->nbuckets; i++) {
        double vals[M__COUNT] = { 0 };
        bool has[M__COUNT] = { 0 };
        vals[M_EVENT_VOLUME] = vc->total[i];
        has[M_EVENT_VOLUME] = true;
        emit(p, FAM_SOURCE, labels, ARRAY_SIZE(labels),
             vc->start + (double)(i + 1) * vc->bucket, vals, has);
    }
}

static void volume_done(void *ud, enum seg_status st, const char *msg)
{
    struct volume_ctx *vc = ud;
    struct poller *p = vc->p;
    if (vc->dups)
        log_warn("poll: ws=%s event volume: dropped %zu groups repeated "
                 "across pages", p->ws->name, vc->dups);
    if (st == SEG_OK)
        emit_total(vc);
    volume_ctx_free(vc);
    p->health.last_attempt[POLL_VOLUME] = clock_wall(p->clock);
    note_endpoint(p, SEGEP_EVENTS_VOLUME, st, msg);
    note_result(p, POLL_VOLUME, st, msg);
}

static void shift_time(double *t, double step_s)
{
    if (*t > 0)
        *t += step_s;
}

void poller_shift_times(struct poller *p, double step_s)
{
    for (int k = 0; k < POLL__COUNT; k++) {
        shift_time(&p->health.last_ok[k], step_s);
        shift_time(&p->health.last_attempt[k], step_s);
    }
    for (int ep = 0; ep < SEGEP__COUNT; ep++)
        shift_time(&p->health.forbidden_since[ep], step_s);
    for (size_t i = 0; i < p->topo.nconns; i++)
        shift_time(&p->topo.conns[i].last_polled, step_s);
}

void poller_cancel(struct poller *p)
{
    seg_client_cancel_queued(p->client);
}

int poller_in_flight(const struct poller *p)
{
    return seg_client_in_flight(p->client);
}

void poller_poll_volume(struct poller *p, double from, double to)
{
    poller_poll_volume_bucket(p, from, to, poller_volume_bucket(p));
}

void poller_poll_volume_bucket(struct poller *p, double from, double to,
                               double bucket)
{
    /* Only complete buckets, ending a minute before now as Segment advises:
     * a partial bucket would look like a volume drop. */
    double end = floor((to - 60) / bucket) * bucket;
    double start = floor(from / bucket) * bucket;
    if (end <= start)
        return;
    struct strbuf pq = STRBUF_INIT;
    strbuf_adds(&pq, "/events/volume");
    seg_query_add(&pq, "granularity", bucket < 3600 ? "MINUTE" : "HOUR");
    seg_query_add_time(&pq, "startTime", start);
    seg_query_add_time(&pq, "endTime", end);
    seg_query_add(&pq, "groupBy.0", "source");
    struct volume_ctx *vc = xcalloc(1, sizeof(*vc));
    vc->p = p;
    vc->start = start;
    vc->bucket = bucket;
    vc->nbuckets = (size_t)llround((end - start) / bucket);
    vc->total = xcalloc(vc->nbuckets, sizeof(*vc->total));
    call(p, SEGEP_EVENTS_VOLUME, strbuf_str(&pq), true, 5,
             volume_page, volume_done, vc);
    strbuf_free(&pq);
}

/* ---- usage ----------------------------------------------------------------------- */

static const enum seg_endpoint usage_endpoints[USAGE__COUNT] = {
    [USAGE_MTU_SOURCES] = SEGEP_USAGE_MTU_SOURCES,
    [USAGE_MTU_WORKSPACE] = SEGEP_USAGE_MTU,
    [USAGE_API_CALLS_SOURCES] = SEGEP_USAGE_API_CALLS_SOURCES,
    [USAGE_API_CALLS_WORKSPACE] = SEGEP_USAGE_API_CALLS,
};

struct usage_ctx {
    struct poller *p;
    enum seg_usage_kind kind;
    struct key_set rows;        /* "sourceId/timestamp" seen */
    size_t dups;
    double polled_at;           /* when the sweep started: today's rows */
};

/* A row's billing period, when it carries a sane one: remember the
 * latest. */
static void learn_period(struct poller *p, const struct seg_usage_row *row)
{
    double ps = row->period_start, pe = row->period_end;
    if (!isfinite(ps) || !isfinite(pe) || pe <= ps)
        return;
    if (p->have_period && ps <= p->period_start)
        return;
    p->have_period = true;
    p->period_start = ps;
    p->period_end = pe;
}

static int usage_page(void *ud, const char *body, size_t len, char **next,
                      char *err, size_t errlen)
{
    struct usage_ctx *uc = ud;
    struct poller *p = uc->p;
    struct seg_usage u = { 0 };
    if (segparse_usage(uc->kind, body, len, &u, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < u.nrows; i++) {
        const struct seg_usage_row *row = &u.rows[i];
        char key[160];
        snprintf(key, sizeof(key), "%.120s/%.0f",
                 row->source_id ? row->source_id : "", row->time);
        if (!key_set_add(&uc->rows, key)) {
            uc->dups++;
            continue;
        }
        learn_period(p, row);
        /* A daily row is cumulative through the end of its day, today's
         * through now: stamp it there, so a forecast's line runs through
         * the right points (a row stamped at its day's start would put a
         * whole day's growth a day early, and today's partial count at
         * midnight).  "Now" is the sweep's start, the same for MTU and API
         * calls: their rows then share one sample of the usage series --
         * stamped apart, the newer row would leave the other metric
         * without a latest value. */
        double t = row->time + 86400;
        if (t > uc->polled_at)
            t = uc->polled_at;
        if (row->source_id) {
            const struct poll_source *s = source_by_id(p, row->source_id);
            struct kv labels[] = {
                { "workspace", p->ws->name },
                { "source", s ? s->slug : row->source_id },
                { "source_id", row->source_id },
            };
            if (!s && p->health.discovered)
                continue;   /* an excluded or disabled source */
            emit(p, FAM_USAGE, labels, ARRAY_SIZE(labels), t, row->v,
                 row->has);
        } else {
            struct kv labels[] = { { "workspace", p->ws->name } };
            emit(p, FAM_USAGE, labels, 1, t, row->v, row->has);
        }
    }
    if (u.skipped)
        log_warn("poll: ws=%s %s: skipped %zu malformed rows (%s)", p->ws->name,
                 seg_usage_path(uc->kind), u.skipped, u.warning);
    note_implausible(p, seg_usage_path(uc->kind), &u.implausible);
    *next = u.next;
    u.next = NULL;
    seg_usage_free(&u);
    return 0;
}

/* Say once per learned period when it is not the configured cycle. */
static void check_period(struct poller *p)
{
    if (!p->have_period || p->period_logged == p->period_start)
        return;
    p->period_logged = p->period_start;
    double cs, ce;
    billing_cycle_utc(p->period_start, p->ws->billing_cycle_day, &cs, &ce);
    if (cs == p->period_start && ce == p->period_end)
        return;
    char a[32], b[32];
    format_date(p->period_start, a, sizeof(a));
    format_date(p->period_end, b, sizeof(b));
    log_info("poll: ws=%s usage rows give the billing period %s..%s, not the "
             "cycle of billing_cycle_day = %d; following the rows", p->ws->name,
             a, b, p->ws->billing_cycle_day);
}

static void usage_done(void *ud, enum seg_status st, const char *msg)
{
    struct usage_ctx *uc = ud;
    struct poller *p = uc->p;
    if (uc->dups)
        log_warn("poll: ws=%s %s: dropped %zu rows repeated across pages",
                 p->ws->name, seg_usage_path(uc->kind), uc->dups);
    check_period(p);
    p->health.last_attempt[POLL_USAGE] = clock_wall(p->clock);
    note_endpoint(p, usage_endpoints[uc->kind], st, msg);
    note_result(p, POLL_USAGE, st, msg);
    key_set_free(&uc->rows);
    free(uc);
}

bool poller_period(const struct poller *p, double *start, double *end)
{
    if (!p->have_period)
        return false;
    *start = p->period_start;
    *end = p->period_end;
    return true;
}

void poller_usage_period(const struct poller *p, double now, double *start,
                         double *end)
{
    billing_cycle_utc(now, p->ws->billing_cycle_day, start, end);
    if (!p->have_period || now < p->period_start)
        return;
    if (now < p->period_end) {
        *start = p->period_start;
        *end = p->period_end;
        return;
    }
    /* Past the learned period: the next cycle starts on its day of the
     * month (until rows of the new period say more). */
    double ps = p->period_start;
    int y, m, d;
    civil_from_days((int64_t)floor(ps / 86400), &y, &m, &d);
    if (fmod(ps, 86400) == 0 && d >= 1 && d <= 28)
        billing_cycle_utc(now, d, start, end);
}

void poller_poll_usage(struct poller *p, double now)
{
    double start, end;
    poller_usage_period(p, now, &start, &end);
    char period[16];
    format_date(start, period, sizeof(period));
    for (int k = 0; k < USAGE__COUNT; k++) {
        struct usage_ctx *uc = xcalloc(1, sizeof(*uc));
        uc->p = p;
        uc->kind = (enum seg_usage_kind)k;
        uc->polled_at = now;
        struct strbuf pq = STRBUF_INIT;
        strbuf_adds(&pq, seg_usage_path(uc->kind));
        seg_query_add(&pq, "period", period);
        call(p, usage_endpoints[k], strbuf_str(&pq), true, 1,
                 usage_page, usage_done, uc);
        strbuf_free(&pq);
    }
}
