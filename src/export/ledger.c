/*
 * ledger.c - see ledger.h.
 */
#include "export/ledger.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/poll.h"
#include "core/index.h"
#include "core/util.h"

/* A volume bucket waiting to become final. */
struct pending_bucket {
    double t;               /* bucket end */
    double v;               /* latest value read */
};

struct lseries {
    const struct labelset *ls;
    uint64_t key;           /* labelset_hash */
    enum family fam;
    bool ws_level;
    /* connection: the window the poller read last (mirror of its
     * window_end) and the poller instance it belongs to */
    unsigned gen;
    double gen_end;
    /* source: buckets not final yet, by end time; the newest end seen */
    struct pending_bucket pend[LEDGER_PENDING_MAX];
    size_t npend;
    double newest_t;
    /* end of the newest interval counted, newest gauge time */
    double count_end;
    double gauge_t;
    /* usage: the newest time of each exported metric ([EXM__COUNT],
     * allocated for usage series only): MTU and API calls come in
     * separate samples stamped alike (api/poll.c) */
    double *usage_t;
    /* running totals: connection counts (EXM_SUCCESSES...) or volume */
    double total[LEDGER_TOTALS];
    bool has_total;
};

struct ledger {
    double horizon;         /* data ending before this is history */
    struct lseries *s;
    size_t n, cap;
    struct index_map by_ls;
};

/* The connection counts, in export order, with their catalogue ids. */
static const int conn_counts[LEDGER_TOTALS] = {
    EXM_SUCCESSES, EXM_SUCCESSES_FIRST_ATTEMPT, EXM_SUCCESSES_AFTER_RETRY,
    EXM_DISCARDED, EXM_EXPIRED, EXM_RETRIED, EXM_ATTEMPTED
};
static const int conn_gauges[] = {
    EXM_TIME_TO_SUCCESS_AVG, EXM_TIME_TO_SUCCESS_P95,
    EXM_TIME_TO_FIRST_ATTEMPT_AVG, EXM_TIME_TO_FIRST_ATTEMPT_P95
};

struct ledger *ledger_new(double started_at)
{
    struct ledger *l = xcalloc(1, sizeof(*l));
    l->horizon = started_at - LEDGER_BACKFILL_S;
    return l;
}

void ledger_free(struct ledger *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i].usage_t);
    free(l->s);
    index_map_free(&l->by_ls);
    free(l);
}

size_t ledger_series(const struct ledger *l)
{
    return l->n;
}

static bool match_ls(const void *ctx, size_t idx, const void *key)
{
    const struct ledger *l = ctx;
    return l->s[idx].ls == key;
}

static struct lseries *find(const struct ledger *l, const struct labelset *ls)
{
    size_t i = index_map_get(&l->by_ls, labelset_hash(ls), match_ls, l, ls);
    return i == INDEX_NONE ? NULL : &l->s[i];
}

static struct lseries *get(struct ledger *l, const struct export_sample *smp)
{
    struct lseries *s = find(l, smp->labels);
    if (s)
        return s;
    XGROW(l->s, l->n + 1, l->cap);
    s = &l->s[l->n];
    memset(s, 0, sizeof(*s));
    s->ls = smp->labels;
    s->key = labelset_hash(smp->labels);
    s->fam = smp->fam;
    s->ws_level = export_is_workspace_level(smp->fam,
                                            labelset_get(smp->labels,
                                                         "source"));
    index_map_put(&l->by_ls, s->key, l->n);
    l->n++;
    return s;
}

static void put(struct ledger_out *out, const struct lseries *s, int metric,
                double t, double interval_s, double v)
{
    if (out->n == LEDGER_MAX_POINTS || !isfinite(v))
        return;
    struct export_point *p = &out->p[out->n++];
    memset(p, 0, sizeof(*p));
    p->labels = s->ls;
    p->metric = metric;
    p->t = t;
    p->interval_s = interval_s;
    p->v = v;
}

/* ---- connection ------------------------------------------------------------ */

static void add_connection(struct lseries *s, const struct export_sample *smp,
                           struct ledger_out *out)
{
    double end = smp->t;
    double window = smp->window_s > 0 ? smp->window_s
                                      : POLL_DELIVERY_WINDOW_MAX_S;
    if (window > POLL_DELIVERY_WINDOW_MAX_S)
        window = POLL_DELIVERY_WINDOW_MAX_S;
    /* The poller's rule (api/poll.c): continue the previous window of the
     * same poller when it ended before this one and within the API's
     * limit, else read window seconds back. */
    double start = end - window;
    if (s->gen == smp->generation && s->gen_end > 0 && s->gen_end < end &&
        end - s->gen_end <= POLL_DELIVERY_WINDOW_MAX_S)
        start = s->gen_end;
    s->gen = smp->generation;
    s->gen_end = end;
    if (start < s->count_end)
        return;         /* overlaps what was counted: cannot be split */
    s->count_end = end;
    out->count_end = end;
    for (size_t i = 0; i < LEDGER_TOTALS; i++) {
        int m = export_metric_table[conn_counts[i]].metric;
        if (!smp->has[m])
            continue;
        put(out, s, conn_counts[i], start, end - start, smp->v[m]);
        s->total[i] += smp->v[m];
        s->has_total = true;
    }
    for (size_t i = 0; i < ARRAY_SIZE(conn_gauges); i++) {
        int m = export_metric_table[conn_gauges[i]].metric;
        if (smp->has[m])
            put(out, s, conn_gauges[i], end, 0, smp->v[m]);
    }
    if (end > s->gauge_t)
        s->gauge_t = end;
}

/* ---- source ------------------------------------------------------------------ */

static void settle(struct lseries *s, size_t i, double bucket,
                   struct ledger_out *out)
{
    const struct pending_bucket *b = &s->pend[i];
    int m = s->ws_level ? EXM_WORKSPACE_EVENT_VOLUME : EXM_EVENT_VOLUME;
    if (b->t - bucket >= s->count_end - 1e-6) {
        put(out, s, m, b->t - bucket, bucket, b->v);
        s->count_end = b->t;
        out->count_end = b->t;
        s->total[0] += b->v;
        s->has_total = true;
    }
    memmove(&s->pend[i], &s->pend[i + 1],
            (s->npend - i - 1) * sizeof(s->pend[0]));
    s->npend--;
}

static void add_volume(struct ledger *l, struct lseries *s,
                       const struct export_sample *smp,
                       struct ledger_out *out)
{
    double t = smp->t;
    double bucket = smp->bucket_s > 0 ? smp->bucket_s : 60;
    if (!smp->has[M_EVENT_VOLUME] || t - bucket < l->horizon ||
        t <= s->count_end)
        return;     /* back-fill, or already counted */
    size_t i = 0;
    while (i < s->npend && s->pend[i].t < t)
        i++;
    if (i < s->npend && s->pend[i].t == t) {
        s->pend[i].v = smp->v[M_EVENT_VOLUME];     /* a re-read */
    } else {
        if (s->npend == LEDGER_PENDING_MAX) {
            /* Out of room (buckets out of order): the oldest is final. */
            settle(s, 0, bucket, out);
            if (i > 0)
                i--;
        }
        memmove(&s->pend[i + 1], &s->pend[i],
                (s->npend - i) * sizeof(s->pend[0]));
        s->pend[i].t = t;
        s->pend[i].v = smp->v[M_EVENT_VOLUME];
        s->npend++;
    }
    if (t > s->newest_t)
        s->newest_t = t;
    /* Final: two buckets older than the newest (the polls re-read the
     * last two). */
    while (s->npend && s->pend[0].t <= s->newest_t - 2 * bucket + 1e-6)
        settle(s, 0, bucket, out);
}

/* ---- usage --------------------------------------------------------------------- */

/* A gauge of a usage series when newer than the last one of its metric. */
static void put_usage(struct lseries *s, int x, double t, double v,
                      struct ledger_out *out)
{
    if (t <= s->usage_t[x])
        return;
    s->usage_t[x] = t;
    put(out, s, x, t, 0, v);
}

static void add_usage(struct ledger *l, struct lseries *s,
                      const struct export_sample *smp, struct ledger_out *out)
{
    double t = smp->t;
    if (t < l->horizon)
        return;
    if (!s->usage_t)
        s->usage_t = xcalloc(EXM__COUNT, sizeof(*s->usage_t));
    if (t > s->gauge_t)
        s->gauge_t = t;
    for (int m = 0; m < M__COUNT; m++) {
        if (metric_table[m].family != FAM_USAGE || !smp->has[m])
            continue;
        int x = export_metric_of(FAM_USAGE, (enum metric_id)m, s->ws_level);
        if (x >= 0)
            put_usage(s, x, t, smp->v[m], out);
    }
    if (s->ws_level && smp->mtu_limit > 0)
        put_usage(s, EXM_WORKSPACE_MTU_LIMIT, t, smp->mtu_limit, out);
    if (s->ws_level && smp->api_calls_limit > 0)
        put_usage(s, EXM_WORKSPACE_API_CALLS_LIMIT, t, smp->api_calls_limit,
                  out);
}

void ledger_add(struct ledger *l, const struct export_sample *smp,
                struct ledger_out *out)
{
    out->n = 0;
    out->count_end = 0;
    out->key = 0;
    if (!smp->labels || !isfinite(smp->t))
        return;
    if (smp->fam == FAM_CONNECTION && smp->history)
        return;     /* the past in one value: never a count of now */
    struct lseries *s = get(l, smp);
    out->key = s->key;
    switch (smp->fam) {
    case FAM_CONNECTION: add_connection(s, smp, out); break;
    case FAM_SOURCE: add_volume(l, s, smp, out); break;
    case FAM_USAGE: add_usage(l, s, smp, out); break;
    default: break;
    }
}

bool ledger_totals(const struct ledger *l, const struct labelset *ls,
                   double tot[EXM__COUNT], bool has[EXM__COUNT])
{
    const struct lseries *s = find(l, ls);
    if (!s || !s->has_total)
        return false;
    if (s->fam == FAM_CONNECTION) {
        for (size_t i = 0; i < LEDGER_TOTALS; i++) {
            tot[conn_counts[i]] = s->total[i];
            has[conn_counts[i]] = true;
        }
    } else if (s->fam == FAM_SOURCE) {
        int m = s->ws_level ? EXM_WORKSPACE_EVENT_VOLUME : EXM_EVENT_VOLUME;
        tot[m] = s->total[0];
        has[m] = true;
    }
    return true;
}
