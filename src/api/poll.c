/*
 * poll.c - see poll.h.
 */
#include "api/poll.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "api/segment_parse.h"

struct topology {
    struct poll_source *sources;        /* selected enabled sources */
    size_t nsources, sources_cap;
    struct poll_connection *conns;
    size_t nconns, conns_cap;
};

struct poller {
    const struct workspace_cfg *ws;
    const struct clock *clock;
    struct seg_client *client;
    struct sample_sink sink;
    struct topology topo;
    struct poll_health health;
    /* discovery in progress */
    struct topology *pending;
    int discovery_calls;                /* outstanding */
    bool discovery_failed;
};

const char *poll_kind_name(enum poll_kind k)
{
    static const char *names[POLL__COUNT] = { "discovery", "delivery",
                                              "volume", "usage" };
    return (unsigned)k < POLL__COUNT ? names[k] : "?";
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
    for (size_t i = 0; i < t->nconns; i++) {
        free(t->conns[i].dest_id);
        free(t->conns[i].dest_name);
        free(t->conns[i].dest_slug);
    }
    free(t->sources);
    free(t->conns);
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
    } else if (st != SEG_CANCELLED) {
        p->health.errors[k]++;
        snprintf(p->health.last_error[k], sizeof(p->health.last_error[k]),
                 "%s: %s", seg_status_name(st), msg);
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

static void discovery_finished(struct poller *p)
{
    p->health.last_attempt[POLL_DISCOVERY] = clock_wall(p->clock);
    if (p->discovery_failed) {
        log_warn("poll: ws=%s discovery failed, keeping the previous "
                 "topology (%zu connections)", p->ws->name, p->topo.nconns);
        topology_free(p->pending);
    } else {
        /* Keep last_polled of connections that survive re-discovery. */
        for (size_t i = 0; i < p->pending->nconns; i++) {
            struct poll_connection *n = &p->pending->conns[i];
            for (size_t j = 0; j < p->topo.nconns; j++) {
                struct poll_connection *o = &p->topo.conns[j];
                if (streq(o->dest_id, n->dest_id) &&
                    streq(o->source->id, n->source->id)) {
                    n->last_polled = o->last_polled;
                    n->priority = o->priority;
                    break;
                }
            }
        }
        /* Keep the volume history of sources that survive. */
        for (size_t i = 0; i < p->pending->nsources; i++) {
            struct poll_source *n = &p->pending->sources[i];
            for (size_t j = 0; j < p->topo.nsources; j++) {
                struct poll_source *o = &p->topo.sources[j];
                if (streq(o->id, n->id)) {
                    n->vol = o->vol;
                    n->nvol = o->nvol;
                    n->vol_cap = o->vol_cap;
                    o->vol = NULL;
                    o->nvol = o->vol_cap = 0;
                    break;
                }
            }
        }
        topology_free(&p->topo);
        p->topo = *p->pending;
        p->health.discovered = true;
        p->health.nsources = p->topo.nsources;
        p->health.nconnections = p->topo.nconns;
        log_info("poll: ws=%s discovered %zu sources, %zu connections",
                 p->ws->name, p->topo.nsources, p->topo.nconns);
        note_result(p, POLL_DISCOVERY, SEG_OK, "");
    }
    free(p->pending);
    p->pending = NULL;
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
    /* The sources array may still grow while pages arrive: keep the index
     * and set the pointer once discovery is complete. */
    for (size_t i = 0; i < d.n; i++) {
        if (!destination_selected(p->ws, &d.items[i]))
            continue;
        XGROW(t->conns, t->nconns + 1, t->conns_cap);
        struct poll_connection *c = &t->conns[t->nconns++];
        memset(c, 0, sizeof(*c));
        c->source_index = dc->source_index;
        c->dest_id = xstrdup(d.items[i].id);
        c->dest_name = xstrdup(d.items[i].name && d.items[i].name[0]
                                   ? d.items[i].name : d.items[i].slug);
        c->dest_slug = xstrdup(d.items[i].slug);
    }
    if (d.skipped)
        log_warn("poll: ws=%s connected destinations: skipped %zu malformed "
                 "entries (%s)", p->ws->name, d.skipped, d.warning);
    *next = d.next;
    d.next = NULL;
    seg_destinations_free(&d);
    return 0;
}

static void fix_source_pointers(struct topology *t)
{
    for (size_t i = 0; i < t->nconns; i++)
        t->conns[i].source = &t->sources[t->conns[i].source_index];
}

static void dest_done(void *ud, enum seg_status st, const char *msg)
{
    struct dest_ctx *dc = ud;
    struct poller *p = dc->p;
    free(dc);
    if (st != SEG_OK) {
        p->discovery_failed = true;
        note_result(p, POLL_DISCOVERY, st, msg);
    }
    if (--p->discovery_calls == 0) {
        if (!p->discovery_failed)
            fix_source_pointers(p->pending);
        discovery_finished(p);
    }
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
    p->discovery_calls = (int)t->nsources;
    for (size_t i = 0; i < t->nsources; i++) {
        struct dest_ctx *dc = xcalloc(1, sizeof(*dc));
        dc->p = p;
        dc->source_index = i;
        struct strbuf pq = STRBUF_INIT;
        strbuf_adds(&pq, "/sources/");
        strbuf_add_urlenc(&pq, t->sources[i].id);
        strbuf_adds(&pq, "/connected-destinations");
        seg_call(p->client, SEGEP_DESTINATIONS, strbuf_str(&pq), true, 10,
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
    seg_call(p->client, SEGEP_SOURCES, "/sources", true, 10, sources_page,
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
    for (size_t i = 0; i < p->topo.nsources; i++)
        if (streq(p->topo.sources[i].id, id))
            return &p->topo.sources[i];
    return NULL;
}

/* Remember a volume bucket (sorted, same time replaces) and forget those
 * older than the delivery window needs. */
static void remember_volume(struct poller *p, struct poll_source *s, double t,
                            double count)
{
    size_t i = s->nvol;
    while (i > 0 && s->vol[i - 1].t > t)
        i--;
    if (i > 0 && s->vol[i - 1].t == t) {
        s->vol[i - 1].count = count;
    } else {
        XGROW(s->vol, s->nvol + 1, s->vol_cap);
        memmove(&s->vol[i + 1], &s->vol[i], (s->nvol - i) * sizeof(*s->vol));
        s->vol[i].t = t;
        s->vol[i].count = count;
        s->nvol++;
    }
    double keep_from = s->vol[s->nvol - 1].t - p->ws->delivery_window_s - 3600;
    size_t drop = 0;
    while (drop < s->nvol && s->vol[drop].t < keep_from)
        drop++;
    if (drop) {
        memmove(s->vol, s->vol + drop, (s->nvol - drop) * sizeof(*s->vol));
        s->nvol -= drop;
    }
}

/* Events the source received during the last `window` seconds of complete
 * buckets seen so far (bucket end times in (last - window, last]).  Event
 * volume lags delivery metrics by a bucket or two (only complete buckets
 * are read), so the window is taken back from the newest complete bucket
 * rather than from the delivery window's end.  False when no bucket is
 * recent enough (newer than t - window - 3 buckets). */
static bool source_volume(const struct poll_source *s, double t, double window,
                          double bucket, double *out)
{
    if (s->nvol == 0)
        return false;
    double last = s->vol[s->nvol - 1].t;
    if (last < t - window - 3 * bucket)
        return false;
    double sum = 0;
    for (size_t i = 0; i < s->nvol; i++)
        if (s->vol[i].t > last - window && s->vol[i].t <= last)
            sum += s->vol[i].count;
    *out = sum;
    return true;
}

/* ---- delivery metrics --------------------------------------------------------- */

struct delivery_ctx {
    struct poller *p;
    char *source_id, *dest_id;      /* to find the connection again: the
                                       topology may change meanwhile */
    double t;                       /* sample time = window end */
};

static struct poll_connection *find_conn(struct poller *p, const char *src,
                                         const char *dst)
{
    for (size_t i = 0; i < p->topo.nconns; i++)
        if (streq(p->topo.conns[i].dest_id, dst) &&
            streq(p->topo.conns[i].source->id, src))
            return &p->topo.conns[i];
    return NULL;
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
    struct poll_connection *c = find_conn(p, dc->source_id, dc->dest_id);
    if (!c)
        return 0;   /* removed by a re-discovery meanwhile */
    if (d.unknown_metrics)
        log_debug("poll: ws=%s ignoring %zu unknown delivery metrics (first "
                  "'%s')", p->ws->name, d.unknown_metrics, d.first_unknown);
    struct kv labels[] = {
        { "workspace", p->ws->name },
        { "source", c->source->slug },
        { "source_id", c->source->id },
        { "destination", c->dest_name },
        { "destination_id", c->dest_id },
        { "destination_type", c->dest_slug },
    };
    c->last_polled = clock_wall(p->clock);
    double sv;
    if (source_volume(c->source, dc->t, p->ws->delivery_window_s,
                      poller_volume_bucket(p), &sv)) {
        d.v[M_SOURCE_VOLUME] = sv;
        d.has[M_SOURCE_VOLUME] = true;
    }
    emit(p, FAM_CONNECTION, labels, ARRAY_SIZE(labels), dc->t, d.v, d.has);
    return 0;
}

static void delivery_done(void *ud, enum seg_status st, const char *msg)
{
    struct delivery_ctx *dc = ud;
    dc->p->health.last_attempt[POLL_DELIVERY] = clock_wall(dc->p->clock);
    note_result(dc->p, POLL_DELIVERY, st, msg);
    free(dc->source_id);
    free(dc->dest_id);
    free(dc);
}

void poller_poll_delivery(struct poller *p, double now)
{
    /* The window ends now (to the second), not at the last whole minute:
     * an incident must not wait for the minute to end before it shows. */
    double end = floor(now);
    double start = end - p->ws->delivery_window_s;
    for (size_t i = 0; i < p->topo.nconns; i++) {
        struct poll_connection *c = &p->topo.conns[i];
        struct delivery_ctx *dc = xcalloc(1, sizeof(*dc));
        dc->p = p;
        dc->source_id = xstrdup(c->source->id);
        dc->dest_id = xstrdup(c->dest_id);
        dc->t = end;
        struct strbuf pq = STRBUF_INIT;
        strbuf_adds(&pq, "/destinations/");
        strbuf_add_urlenc(&pq, c->dest_id);
        strbuf_adds(&pq, "/delivery-metrics");
        seg_query_add(&pq, "sourceId", c->source->id);
        seg_query_add_time(&pq, "startTime", start);
        seg_query_add_time(&pq, "endTime", end);
        seg_query_add(&pq, "granularity", "MINUTE");
        seg_call(p->client, SEGEP_DELIVERY_METRICS, strbuf_str(&pq), false,
                 c->priority, delivery_page, delivery_done, dc);
        strbuf_free(&pq);
    }
}

/* ---- event volume ------------------------------------------------------------- */

struct volume_ctx {
    struct poller *p;
    double bucket;              /* seconds: 60 or 3600 */
};

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
        if (!grp->source_id)
            continue;       /* ungrouped total: not asked for */
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
            remember_volume(p, s, t_end, grp->points[i].count);
            emit(p, FAM_SOURCE, labels, ARRAY_SIZE(labels), t_end, vals, has);
        }
    }
    if (v.skipped)
        log_warn("poll: ws=%s event volume: skipped %zu malformed entries (%s)",
                 p->ws->name, v.skipped, v.warning);
    *next = v.next;
    v.next = NULL;
    seg_volume_free(&v);
    return 0;
}

static void volume_done(void *ud, enum seg_status st, const char *msg)
{
    struct volume_ctx *vc = ud;
    struct poller *p = vc->p;
    free(vc);
    p->health.last_attempt[POLL_VOLUME] = clock_wall(p->clock);
    note_result(p, POLL_VOLUME, st, msg);
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
    vc->bucket = bucket;
    seg_call(p->client, SEGEP_EVENTS_VOLUME, strbuf_str(&pq), true, 5,
             volume_page, volume_done, vc);
    strbuf_free(&pq);
}

/* ---- usage ----------------------------------------------------------------------- */

struct usage_ctx {
    struct poller *p;
    enum seg_usage_kind kind;
};

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
        if (row->source_id) {
            const struct poll_source *s = source_by_id(p, row->source_id);
            struct kv labels[] = {
                { "workspace", p->ws->name },
                { "source", s ? s->slug : row->source_id },
                { "source_id", row->source_id },
            };
            if (!s && p->health.discovered)
                continue;   /* an excluded or disabled source */
            emit(p, FAM_USAGE, labels, ARRAY_SIZE(labels), row->time, row->v,
                 row->has);
        } else {
            struct kv labels[] = { { "workspace", p->ws->name } };
            emit(p, FAM_USAGE, labels, 1, row->time, row->v, row->has);
        }
    }
    if (u.skipped)
        log_warn("poll: ws=%s %s: skipped %zu malformed rows (%s)", p->ws->name,
                 seg_usage_path(uc->kind), u.skipped, u.warning);
    *next = u.next;
    u.next = NULL;
    seg_usage_free(&u);
    return 0;
}

static void usage_done(void *ud, enum seg_status st, const char *msg)
{
    struct usage_ctx *uc = ud;
    uc->p->health.last_attempt[POLL_USAGE] = clock_wall(uc->p->clock);
    note_result(uc->p, POLL_USAGE, st, msg);
    free(uc);
}

void poller_poll_usage(struct poller *p, double now)
{
    static const enum seg_endpoint eps[USAGE__COUNT] = {
        [USAGE_MTU_SOURCES] = SEGEP_USAGE_MTU_SOURCES,
        [USAGE_MTU_WORKSPACE] = SEGEP_USAGE_MTU,
        [USAGE_API_CALLS_SOURCES] = SEGEP_USAGE_API_CALLS_SOURCES,
        [USAGE_API_CALLS_WORKSPACE] = SEGEP_USAGE_API_CALLS,
    };
    char period[16];
    format_date(month_start_utc(now), period, sizeof(period));
    for (int k = 0; k < USAGE__COUNT; k++) {
        struct usage_ctx *uc = xcalloc(1, sizeof(*uc));
        uc->p = p;
        uc->kind = (enum seg_usage_kind)k;
        struct strbuf pq = STRBUF_INIT;
        strbuf_adds(&pq, seg_usage_path(uc->kind));
        seg_query_add(&pq, "period", period);
        seg_call(p->client, eps[k], strbuf_str(&pq), true, 1, usage_page,
                 usage_done, uc);
        strbuf_free(&pq);
    }
}
