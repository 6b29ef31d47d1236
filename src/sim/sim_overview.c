/*
 * sim_overview.c - Delivery Overview endpoints (see sim_overview.h).
 *
 * A request is answered in three passes: the step's counts per bucket,
 * split by discard code (from the model, or a fixed mix for the source
 * steps); then, for groupBy eventType/eventName, each series split over a
 * fixed catalogue of events; then the groups, paged.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/util.h"
#include "sim_model.h"
#include "sim_overview.h"

enum ov_step {
    OV_RECEIVED = 0,
    OV_FAILED_INGEST,
    OV_FILTERED_SOURCE,
    OV_FILTERED_DEST,
    OV_FAILED_DELIVERY,
    OV_SUCCESSFUL_DELIVERY,
    OV_STEP_COUNT
};

static const char *step_names[OV_STEP_COUNT] = {
    "successfully-received", "failed-on-ingest", "filtered-at-source",
    "filtered-at-destination", "failed-delivery", "successful-delivery",
};

/* Steps after the source: destinationConfigId is required. */
static bool dest_step(int step)
{
    return step >= OV_FILTERED_DEST;
}

int sim_overview_step(const char *name)
{
    for (int i = 0; i < OV_STEP_COUNT; i++)
        if (streq(name, step_names[i]))
            return i;
    return -1;
}

/* Discard codes of the steps the scenario has no codes for. */
struct fixed_reason {
    const char *code;
    double share;
};

static const struct fixed_reason ingest_reasons[] = {
    { "INVALID_PAYLOAD", 0.7 }, { "MESSAGE_TOO_LARGE", 0.3 },
};
static const struct fixed_reason source_filter_reasons[] = {
    { "PROTOCOLS_TRACKING_PLAN", 0.8 }, { "SCHEMA_BLOCKED", 0.2 },
};
#define REASON_DEST_FILTER "DESTINATION_FILTER"
#define REASON_UNSUBSCRIBED "NO_MATCHING_SUBSCRIPTION"
#define REASON_EXPIRED "expires"
#define REASON_FIRST_ATTEMPT "successes.attempt.1"
#define REASON_AFTER_RETRY "successes.attempt.2"

/* The events every source sends, for groupBy eventType / eventName. */
static const struct {
    const char *type, *name;
    double share;
} event_mix[] = {
    { "track", "Product Viewed", 0.24 },
    { "track", "Application Opened", 0.10 },
    { "track", "Product Added", 0.10 },
    { "track", "Signed In", 0.08 },
    { "track", "Checkout Started", 0.06 },
    { "track", "Order Completed", 0.04 },
    { "page", "Home", 0.10 },
    { "page", "Product", 0.12 },
    { "screen", "Feed", 0.04 },
    { "identify", "identify", 0.10 },
    { "group", "group", 0.02 },
};
#define N_EVENTS ARRAY_SIZE(event_mix)

/* One dataset entry under construction. */
struct series {
    const char *reason, *type, *name;   /* NULL: not a grouping */
    int64_t *count, *retry;             /* per bucket */
    int64_t total, total_retry;
};

struct series_list {
    struct series *v;
    size_t n, cap;
    size_t n_buckets;
    bool retries;               /* successful-delivery: retryCount */
};

/* Index of the series with these labels, added when new.  An index, not
 * a pointer: adding a series may move the others. */
static size_t series_add(struct series_list *l, const char *reason,
                         const char *type, const char *name)
{
    for (size_t i = 0; i < l->n; i++) {
        struct series *s = &l->v[i];
        if (streq(s->reason, reason) && streq(s->type, type) &&
            streq(s->name, name))
            return i;           /* same labels: one series */
    }
    XGROW(l->v, l->n + 1, l->cap);
    struct series *s = &l->v[l->n];
    *s = (struct series){ reason, type, name, NULL, NULL, 0, 0 };
    s->count = xcalloc(l->n_buckets + 1, sizeof(*s->count));
    s->retry = xcalloc(l->n_buckets + 1, sizeof(*s->retry));
    return l->n++;
}

/* Add n to bucket b of the series with these labels. */
static void series_count(struct series_list *l, const char *reason,
                         size_t b, int64_t n)
{
    size_t i = series_add(l, reason, NULL, NULL);    /* may move l->v */
    l->v[i].count[b] += n;
}

static void series_free(struct series_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].count);
        free(l->v[i].retry);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* Integer parts of n by shares (sum 1), exact in total, deterministic
 * per (h, bucket, k). */
static void split_shares(int64_t n, const double *share, size_t k_n,
                         uint64_t h, size_t bucket, uint64_t k, int64_t *out)
{
    double left = 1;
    for (size_t i = 0; i < k_n; i++) {
        if (i + 1 == k_n || n <= 0) {
            out[i] = i + 1 == k_n ? n : 0;
            n -= out[i];
            continue;
        }
        double x = (double)n * share[i] / left;
        int64_t part = (int64_t)floor(x + model_hash_unit(h, bucket, k + i));
        out[i] = part > n ? n : part;
        n -= out[i];
        left -= share[i];
    }
}

/* A total per bucket spread over a fixed mix of codes. */
static void add_fixed(struct series_list *l, const int64_t *totals,
                      const struct fixed_reason *mix, size_t n_mix,
                      uint64_t h)
{
    double share[SIM_MAX_REASONS];
    int64_t part[SIM_MAX_REASONS];
    for (size_t i = 0; i < n_mix; i++)
        share[i] = mix[i].share;
    for (size_t b = 0; b < l->n_buckets; b++) {
        split_shares(totals[b], share, n_mix, h, b, 0, part);
        for (size_t i = 0; i < n_mix; i++)
            series_count(l, mix[i].code, b, part[i]);
    }
}

/* Bucket of minute m (in the window). */
static size_t bucket_of(const struct model_window *w, int64_t m)
{
    double rel = (double)m * 60 - w->first;
    size_t i = rel <= 0 ? 0 : (size_t)floor(rel / w->bucket_s);
    return i < w->n ? i : w->n - 1;
}

/* Pass 1: the step's counts per bucket and discard code. */
static void step_series(const struct scenario *sc, const struct sim_source *s,
                        const struct sim_dest *d, int step,
                        const struct model_window *w, struct series_list *l)
{
    if (!dest_step(step)) {
        int64_t *t = xcalloc(w->n + 1, sizeof(*t));
        int64_t m0, m1;
        model_window_minutes(w->start, w->end, w->now, &m0, &m1);
        for (int64_t m = m0; m < m1; m++) {
            struct source_minute sm;
            model_source_minute(sc, s, m, w->now, &sm);
            t[bucket_of(w, m)] += step == OV_RECEIVED ? sm.received
                                : step == OV_FAILED_INGEST
                                    ? sm.failed_on_ingest
                                    : sm.filtered_at_source;
        }
        if (step == OV_RECEIVED) {
            size_t one = series_add(l, NULL, NULL, NULL);
            memcpy(l->v[one].count, t, w->n * sizeof(*t));
        } else if (step == OV_FAILED_INGEST) {
            add_fixed(l, t, ingest_reasons, ARRAY_SIZE(ingest_reasons),
                      s->hash ^ 0x16E57ULL);
        } else {
            add_fixed(l, t, source_filter_reasons,
                      ARRAY_SIZE(source_filter_reasons),
                      s->hash ^ 0xF17ULL);
        }
        free(t);
        return;
    }

    struct conn_bucket *cb = model_connection(sc, s, d, w);
    for (size_t b = 0; b < w->n; b++) {
        const struct conn_bucket *x = &cb[b];
        switch (step) {
        case OV_FILTERED_DEST:
            series_count(l, REASON_DEST_FILTER, b, x->filtered);
            series_count(l, REASON_UNSUBSCRIBED, b, x->unsubscribed);
            break;
        case OV_FAILED_DELIVERY:
            for (size_t k = 0; k < sc->n_reasons; k++)
                if (x->by_reason[k])
                    series_count(l, sc->reason_names[k], b, x->by_reason[k]);
            if (x->expired)
                series_count(l, REASON_EXPIRED, b, x->expired);
            break;
        default: {
            series_count(l, REASON_FIRST_ATTEMPT, b, x->succ_first);
            series_count(l, REASON_AFTER_RETRY, b, x->succ_retry);
            size_t k = series_add(l, REASON_AFTER_RETRY, NULL, NULL);
            l->v[k].retry[b] += x->succ_retry;
            break;
        }
        }
    }
    model_conn_free(cb);
}

/* Without groupBy discardReason: one series, the sum. */
static void collapse_reasons(struct series_list *l)
{
    struct series_list out = { NULL, 0, 0, l->n_buckets, l->retries };
    size_t k = series_add(&out, NULL, NULL, NULL);
    struct series *one = &out.v[k];
    for (size_t i = 0; i < l->n; i++)
        for (size_t b = 0; b < l->n_buckets; b++) {
            one->count[b] += l->v[i].count[b];
            one->retry[b] += l->v[i].retry[b];
        }
    series_free(l);
    *l = out;
}

/* Pass 2: each series over the event catalogue, regrouped by the event
 * dimensions asked for. */
static void split_events(struct series_list *l, bool by_type, bool by_name,
                         uint64_t h)
{
    struct series_list out = { NULL, 0, 0, l->n_buckets, l->retries };
    double share[N_EVENTS];
    int64_t part[N_EVENTS], rpart[N_EVENTS];
    for (size_t e = 0; e < N_EVENTS; e++)
        share[e] = event_mix[e].share;
    for (size_t i = 0; i < l->n; i++) {
        const struct series *src = &l->v[i];
        uint64_t hs = h ^ hash_str(src->reason ? src->reason : "");
        size_t dst[N_EVENTS];
        for (size_t e = 0; e < N_EVENTS; e++)
            dst[e] = series_add(&out, src->reason,
                                by_type ? event_mix[e].type : NULL,
                                by_name ? event_mix[e].name : NULL);
        for (size_t b = 0; b < l->n_buckets; b++) {
            split_shares(src->count[b], share, N_EVENTS, hs, b, 0, part);
            split_shares(src->retry[b], share, N_EVENTS, hs, b, N_EVENTS,
                         rpart);
            for (size_t e = 0; e < N_EVENTS; e++) {
                out.v[dst[e]].count[b] += part[e];
                out.v[dst[e]].retry[b] += rpart[e];
            }
        }
    }
    series_free(l);
    *l = out;
}

static void dataset_json(struct strbuf *sb, const struct series *s,
                         const struct model_window *w, bool retries)
{
    jw_open(sb, NULL, '{');
    if (s->reason)
        jw_str(sb, "discardReason", s->reason);
    if (s->name)
        jw_str(sb, "eventName", s->name);
    if (s->type)
        jw_str(sb, "eventType", s->type);
    jw_int(sb, "total", s->total);
    if (retries)
        jw_int(sb, "totalRetryCount", s->total_retry);
    jw_open(sb, "series", '[');
    for (size_t b = 0; b < w->n; b++) {
        jw_open(sb, NULL, '{');
        jw_time(sb, "time", w->first + (double)b * w->bucket_s);
        jw_int(sb, "count", s->count[b]);
        if (retries)
            jw_int(sb, "retryCount", s->retry[b]);
        jw_close(sb, '}');
    }
    jw_close(sb, ']');
    jw_close(sb, '}');
}

/* Largest group first; ties by labels, so pages are stable. */
static int by_total_desc(const void *a, const void *b)
{
    const struct series *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    const char *xs[3] = { x->reason, x->type, x->name };
    const char *ys[3] = { y->reason, y->type, y->name };
    for (int i = 0; i < 3; i++) {
        int c = strcmp(xs[i] ? xs[i] : "", ys[i] ? ys[i] : "");
        if (c)
            return c;
    }
    return 0;
}

/* The required parameter name of q, or a 422 naming it. */
static const char *required(const struct sim_query *q, const char *name,
                            struct sim_reply *r)
{
    const char *v = sim_qget(q, name);
    if (!v || !*v) {
        sim_reply_invalid(r, name, "%s is required", name);
        return NULL;
    }
    return v;
}

/* groupBy values the real API accepts but the simulator does not model. */
static const char *unmodelled_dims[] = {
    "appVersion", "subscriptionId", "activationId", "audienceId", "spaceId",
};

void sim_overview_handle(const struct scenario *sc, const char *path,
                         int step, struct sim_query *q, double now,
                         struct sim_reply *r)
{
    const char *sid, *gs, *st, *et, *did = NULL;
    const char *group_by[SIM_MAX_LIST];
    const struct sim_source *s;
    const struct sim_dest *d = NULL;
    enum sim_gran g;
    double start, end;
    struct sim_page pg;
    bool by_reason = false, by_type = false, by_name = false;

    if (!(sid = required(q, "sourceId", r)) ||
        (dest_step(step) && !(did = required(q, "destinationConfigId", r))) ||
        !(st = required(q, "startTime", r)) ||
        !(et = required(q, "endTime", r)) ||
        !(gs = required(q, "granularity", r)))
        return;
    if (sim_parse_gran(gs, &g, r) != 0 ||
        sim_parse_time(st, "startTime", &start, r) != 0 ||
        sim_parse_time(et, "endTime", &end, r) != 0 ||
        sim_check_range(start, end, now, g, &sim_overview_limits, r) != 0 ||
        sim_page_parse(sc, q, path, &pg, r) != 0)
        return;
    size_t n_gb = sim_qlist(q, "groupBy", group_by);
    for (size_t i = 0; i < n_gb; i++) {
        if (streq(group_by[i], "discardReason") && step != OV_RECEIVED) {
            by_reason = true;
        } else if (streq(group_by[i], "eventType")) {
            by_type = true;
        } else if (streq(group_by[i], "eventName")) {
            by_name = true;
        } else {
            bool known = streq(group_by[i], "discardReason");
            for (size_t k = 0; k < ARRAY_SIZE(unmodelled_dims); k++)
                known = known || streq(group_by[i], unmodelled_dims[k]);
            sim_reply_invalid(r, "groupBy", known
                ? "groupBy '%s' is not supported by segalert-sim for this "
                  "step"
                : "Invalid groupBy '%s': must be one of eventName, "
                  "eventType, discardReason, appVersion, subscriptionId, "
                  "activationId, audienceId, spaceId", group_by[i]);
            return;
        }
    }
    s = scenario_find_source(sc, sid);
    if (!s) {
        sim_reply_not_found(r);
        return;
    }
    if (did) {
        const struct sim_source *owner = NULL;
        d = scenario_find_dest(sc, did, &owner);
        if (!d || owner != s) {
            sim_reply_not_found(r);
            return;
        }
    }

    double bs = sim_gran_seconds(g);
    struct model_window w = { start, end, now, floor(start / bs) * bs, bs, 0 };
    for (double b = w.first; b < end && b <= now; b += bs)
        w.n++;
    struct series_list l = { NULL, 0, 0, w.n,
                             step == OV_SUCCESSFUL_DELIVERY };
    step_series(sc, s, d, step, &w, &l);
    if (!by_reason)
        collapse_reasons(&l);
    if (by_type || by_name)
        split_events(&l, by_type, by_name,
                     (d ? d->hash : s->hash) ^ (uint64_t)step);

    /* Groups with no events are left out; the ungrouped answer always
     * has its one dataset. */
    bool grouped = by_reason || by_type || by_name;
    int64_t total = 0;
    size_t n_sets = 0;
    for (size_t i = 0; i < l.n; i++) {
        struct series *x = &l.v[i];
        for (size_t b = 0; b < w.n; b++) {
            x->total += x->count[b];
            x->total_retry += x->retry[b];
        }
        total += x->total;
        if (!grouped || x->total > 0)
            l.v[n_sets++] = *x;
        else {
            free(x->count);
            free(x->retry);
        }
    }
    l.n = n_sets;
    if (grouped)
        qsort(l.v, l.n, sizeof(*l.v), by_total_desc);

    size_t lo, hi;
    sim_page_range(&pg, l.n, &lo, &hi);
    struct strbuf *sb = &r->body;
    jw_open(sb, NULL, '{');
    jw_open(sb, "data", '{');
    jw_int(sb, "total", total);
    jw_open(sb, "dataset", '[');
    for (size_t i = lo; i < hi; i++)
        dataset_json(sb, &l.v[i], &w, l.retries);
    jw_close(sb, ']');
    sim_page_json(sb, &pg, l.n);
    jw_close(sb, '}');
    jw_close(sb, '}');
    sim_reply_ok(r);
    series_free(&l);
}
