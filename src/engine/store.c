/*
 * store.c - see store.h.
 *
 * Series are found through an open-addressing table keyed by (family,
 * label set pointer) and iterated through one array per family.  Each
 * series has one allocation for its ring: cap times followed by ncol
 * columns of cap values, so a window scan walks contiguous doubles.
 */
#include "engine/store.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct series {
    const struct labelset *labels;
    const int8_t *col;          /* metric id -> column, -1 if not ours */
    enum family fam;
    int ncol;
    size_t vec_idx;             /* position in the store's family array */
    double last_update;         /* seconds */
    size_t head, n, cap;        /* ring: rows head .. head+n-1 (mod cap) */
    double *t;                  /* cap times, ascending in ring order */
    double *v;                  /* ncol * cap values, column-major */
    /* Copy of the newest row's values: most rules only read latest
     * values, and this keeps them in the cache lines of the struct
     * instead of ncol scattered columns of another allocation. */
    double latest[];
};

struct store {
    struct store_limits lim;
    int8_t col[FAM__COUNT][M__COUNT];
    int ncol[FAM__COUNT];
    struct series **slots;      /* hash table, power-of-two size */
    size_t nslots, slots_cap;
    struct series **vec[FAM__COUNT];
    size_t vec_n[FAM__COUNT], vec_cap[FAM__COUNT];
};

#define SLOTS_INIT_CAP 64

static void limits_copy(struct store *st, const struct store_limits *lim)
{
    if (lim)
        st->lim = *lim;
    else
        memset(&st->lim, 0, sizeof(st->lim));
    for (int f = 0; f < FAM__COUNT; f++) {
        if (!(st->lim.spacing_s[f] > 0))
            st->lim.spacing_s[f] = STORE_DEFAULT_SPACING_S;
        if (!(st->lim.retention_s[f] >= 0))
            st->lim.retention_s[f] = 0;
    }
    if (st->lim.max_samples < 2)
        st->lim.max_samples = st->lim.max_samples ? 2
                                                  : STORE_DEFAULT_MAX_SAMPLES;
}

struct store *store_new(const struct store_limits *lim)
{
    struct store *st = xcalloc(1, sizeof(*st));
    limits_copy(st, lim);
    for (int f = 0; f < FAM__COUNT; f++)
        for (int m = 0; m < M__COUNT; m++)
            st->col[f][m] = -1;
    for (int m = 0; m < M__COUNT; m++) {
        enum family f = metric_table[m].family;
        st->col[f][m] = (int8_t)st->ncol[f]++;
    }
    st->slots_cap = SLOTS_INIT_CAP;
    st->slots = xcalloc(st->slots_cap, sizeof(*st->slots));
    return st;
}

static void series_free(struct series *s)
{
    free(s->t);
    free(s);
}

void store_free(struct store *st)
{
    if (!st)
        return;
    for (int f = 0; f < FAM__COUNT; f++) {
        for (size_t i = 0; i < st->vec_n[f]; i++)
            series_free(st->vec[f][i]);
        free(st->vec[f]);
    }
    free(st->slots);
    free(st);
}

void store_set_limits(struct store *st, const struct store_limits *lim)
{
    limits_copy(st, lim);
}

/* ---- series table ---------------------------------------------------- */

static size_t key_hash(enum family fam, const struct labelset *ls)
{
    uint64_t h = labelset_hash(ls) ^ ((uint64_t)(fam + 1) * 0x9E3779B97F4A7C15ULL);
    h ^= h >> 29;
    return (size_t)h;
}

static size_t slot_find(const struct store *st, enum family fam,
                        const struct labelset *ls)
{
    size_t mask = st->slots_cap - 1;
    size_t j = key_hash(fam, ls) & mask;
    while (st->slots[j] && !(st->slots[j]->labels == ls &&
                             st->slots[j]->fam == fam))
        j = (j + 1) & mask;
    return j;
}

struct series *store_find(const struct store *st, enum family fam,
                          const struct labelset *ls)
{
    return st->slots[slot_find(st, fam, ls)];
}

static void slots_grow(struct store *st)
{
    struct series **old = st->slots;
    size_t ocap = st->slots_cap;
    st->slots_cap *= 2;
    st->slots = xcalloc(st->slots_cap, sizeof(*st->slots));
    for (size_t i = 0; i < ocap; i++)
        if (old[i])
            st->slots[slot_find(st, old[i]->fam, old[i]->labels)] = old[i];
    free(old);
}

struct series *store_get_or_add(struct store *st, enum family fam,
                                const struct labelset *ls)
{
    size_t j = slot_find(st, fam, ls);
    if (st->slots[j])
        return st->slots[j];
    struct series *s = xcalloc(1, sizeof(*s) +
                                  (size_t)st->ncol[fam] * sizeof(double));
    s->labels = ls;
    s->fam = fam;
    s->col = st->col[fam];
    s->ncol = st->ncol[fam];
    s->last_update = -INFINITY;
    st->slots[j] = s;
    XGROW(st->vec[fam], st->vec_n[fam] + 1, st->vec_cap[fam]);
    s->vec_idx = st->vec_n[fam];
    st->vec[fam][st->vec_n[fam]++] = s;
    if (++st->nslots * 2 > st->slots_cap)
        slots_grow(st);
    return s;
}

/* Backward-shift deletion keeps linear probing tombstone-free. */
static void slot_remove(struct store *st, struct series *s)
{
    size_t mask = st->slots_cap - 1;
    size_t i = slot_find(st, s->fam, s->labels);
    st->slots[i] = NULL;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!st->slots[j])
            break;
        size_t k = key_hash(st->slots[j]->fam, st->slots[j]->labels) & mask;
        /* move slots[j] into the hole unless its home lies in (i, j] */
        bool home_between = i <= j ? (k > i && k <= j) : (k > i || k <= j);
        if (!home_between) {
            st->slots[i] = st->slots[j];
            st->slots[j] = NULL;
            i = j;
        }
    }
    st->nslots--;
}

size_t store_count(const struct store *st, enum family fam)
{
    return (unsigned)fam < FAM__COUNT ? st->vec_n[fam] : 0;
}

struct series *store_at(const struct store *st, enum family fam, size_t i)
{
    return i < store_count(st, fam) ? st->vec[fam][i] : NULL;
}

size_t store_expire(struct store *st, double now, double stale_after_s)
{
    size_t dropped = 0;
    double cutoff = now - stale_after_s;
    for (int f = 0; f < FAM__COUNT; f++) {
        size_t i = 0;
        while (i < st->vec_n[f]) {
            struct series *s = st->vec[f][i];
            if (!(s->last_update < cutoff)) {
                i++;
                continue;
            }
            slot_remove(st, s);
            struct series *last = st->vec[f][--st->vec_n[f]];
            st->vec[f][i] = last;
            last->vec_idx = i;
            series_free(s);
            dropped++;
        }
    }
    return dropped;
}

void store_stats(const struct store *st, size_t *nseries, size_t *nsamples,
                 size_t *bytes)
{
    size_t ns = 0, nr = 0, b = sizeof(*st) + st->slots_cap * sizeof(*st->slots);
    for (int f = 0; f < FAM__COUNT; f++) {
        b += st->vec_cap[f] * sizeof(*st->vec[f]);
        for (size_t i = 0; i < st->vec_n[f]; i++) {
            const struct series *s = st->vec[f][i];
            ns++;
            nr += s->n;
            b += sizeof(*s) + (size_t)s->ncol * sizeof(double) +
                 s->cap * (size_t)(1 + s->ncol) * sizeof(double);
        }
    }
    if (nseries)
        *nseries = ns;
    if (nsamples)
        *nsamples = nr;
    if (bytes)
        *bytes = b;
}

/* ---- rings ------------------------------------------------------------ */

static inline size_t ri(const struct series *s, size_t i)
{
    size_t j = s->head + i;
    return j >= s->cap ? j - s->cap : j;
}

static inline double row_t(const struct series *s, size_t i)
{
    return s->t[ri(s, i)];
}

static inline double row_v(const struct series *s, int c, size_t i)
{
    return s->v[(size_t)c * s->cap + ri(s, i)];
}

static void ring_resize(struct series *s, size_t ncap)
{
    double *buf = xmalloc(ncap * (size_t)(1 + s->ncol) * sizeof(double));
    double *nv = buf + ncap;
    for (size_t i = 0; i < s->n; i++) {
        size_t k = ri(s, i);
        buf[i] = s->t[k];
        for (int c = 0; c < s->ncol; c++)
            nv[(size_t)c * ncap + i] = s->v[(size_t)c * s->cap + k];
    }
    free(s->t);
    s->t = buf;
    s->v = nv;
    s->cap = ncap;
    s->head = 0;
}

/* First logical row with time > t (rows are sorted). */
static size_t upper_bound(const struct series *s, double t)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (row_t(s, mid) > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void refresh_latest(struct series *s)
{
    size_t k = ri(s, s->n - 1);
    for (int c = 0; c < s->ncol; c++)
        s->latest[c] = s->v[(size_t)c * s->cap + k];
}

static void drop_oldest(struct series *s)
{
    s->head = ri(s, 1);
    s->n--;
}

void store_add(struct store *st, struct series *s, double t,
               const double v[M__COUNT], const bool has[M__COUNT])
{
    if (!isfinite(t))
        return;
    double ret = st->lim.retention_s[s->fam];
    double newest = s->n ? row_t(s, s->n - 1) : t;
    if (t < newest - ret)
        return;
    if (t > newest)
        newest = t;
    if (t > s->last_update)
        s->last_update = t;
    while (s->n && row_t(s, 0) < newest - ret)
        drop_oldest(s);

    /* fast path: append after the newest row */
    size_t p = (!s->n || row_t(s, s->n - 1) < t) ? s->n : upper_bound(s, t);
    if (p > 0 && row_t(s, p - 1) == t) {
        size_t k = ri(s, p - 1);
        for (int m = 0; m < M__COUNT; m++)
            if (has[m] && s->col[m] >= 0)
                s->v[(size_t)s->col[m] * s->cap + k] = v[m];
        if (p == s->n)
            refresh_latest(s);
        return;
    }

    if (s->n == s->cap) {
        size_t max = st->lim.max_samples;
        if (s->cap < max) {
            size_t target = (size_t)ceil(ret / st->lim.spacing_s[s->fam]) + 2;
            size_t ncap = !s->cap ? (target < 4 ? target : 4)
                        : s->cap < target ? target : s->cap * 2;
            if (ncap > max)
                ncap = max;
            ring_resize(s, ncap);
        } else {
            if (p == 0)
                return;         /* older than everything we can hold */
            drop_oldest(s);
            p--;
        }
    }

    /* shift rows p .. n-1 one place towards the end */
    for (size_t i = s->n; i > p; i--) {
        size_t to = ri(s, i), from = ri(s, i - 1);
        s->t[to] = s->t[from];
        for (int c = 0; c < s->ncol; c++)
            s->v[(size_t)c * s->cap + to] = s->v[(size_t)c * s->cap + from];
    }
    size_t k = ri(s, p);
    s->t[k] = t;
    for (int c = 0; c < s->ncol; c++)
        s->v[(size_t)c * s->cap + k] = NAN;
    for (int m = 0; m < M__COUNT; m++)
        if (has[m] && s->col[m] >= 0)
            s->v[(size_t)s->col[m] * s->cap + k] = v[m];
    s->n++;
    if (p == s->n - 1)
        refresh_latest(s);
}

/* ---- accessors ---------------------------------------------------------- */

const struct labelset *series_labels(const struct series *s)
{
    return s->labels;
}

enum family series_family(const struct series *s)
{
    return s->fam;
}

double series_last_update(const struct series *s)
{
    return s->last_update;
}

void series_touch(struct series *s, double now)
{
    if (now > s->last_update)
        s->last_update = now;
}

size_t series_len(const struct series *s)
{
    return s->n;
}

static int metric_col(const struct series *s, enum metric_id m)
{
    return (unsigned)m < M__COUNT ? s->col[m] : -1;
}

bool series_latest(const struct series *s, enum metric_id m, double *v_out,
                   double *t_out)
{
    int c = metric_col(s, m);
    if (c < 0 || !s->n)
        return false;
    double v = s->latest[c];
    if (isnan(v))
        return false;
    *v_out = v;
    if (t_out)
        *t_out = row_t(s, s->n - 1);
    return true;
}

size_t series_points(const struct series *s, enum metric_id m, double from,
                     double to, double *t_out, double *v_out, size_t max)
{
    int c = metric_col(s, m);
    size_t w = 0;
    if (c < 0)
        return 0;
    for (size_t i = upper_bound(s, from); i < s->n && w < max; i++) {
        double t = row_t(s, i);
        if (t > to)
            break;
        double v = row_v(s, c, i);
        if (isnan(v))
            continue;
        t_out[w] = t;
        v_out[w] = v;
        w++;
    }
    return w;
}

bool series_window(const struct series *s, enum metric_id m,
                   enum store_agg agg, double from, double to, double *out)
{
    int c = metric_col(s, m);
    if (c < 0)
        return false;
    size_t n = 0;
    double sum = 0, mn = INFINITY, mx = -INFINITY;
    double first = 0, last = 0, t_first = 0, t_last = 0;
    for (size_t i = upper_bound(s, from); i < s->n; i++) {
        double t = row_t(s, i);
        if (t > to)
            break;
        double v = row_v(s, c, i);
        if (isnan(v))
            continue;
        if (!n) {
            first = v;
            t_first = t;
        }
        last = v;
        t_last = t;
        sum += v;
        if (v < mn)
            mn = v;
        if (v > mx)
            mx = v;
        n++;
    }
    if (agg == AGG_COUNT) {
        *out = (double)n;
        return true;
    }
    if (!n)
        return false;
    switch (agg) {
    case AGG_AVG: *out = sum / (double)n; return true;
    case AGG_MIN: *out = mn; return true;
    case AGG_MAX: *out = mx; return true;
    case AGG_SUM: *out = sum; return true;
    case AGG_LAST: *out = last; return true;
    case AGG_DELTA:
        if (n < 2)
            return false;
        *out = last - first;
        return true;
    case AGG_RATE:
        if (n < 2)
            return false;
        *out = (last - first) / (t_last - t_first);
        return true;
    case AGG_COUNT:
        break;
    }
    return false;
}

bool series_fit(const struct series *s, enum metric_id m, double from,
                double to, double *a, double *b, double *t0)
{
    int c = metric_col(s, m);
    if (c < 0)
        return false;
    size_t start = upper_bound(s, from), n = 0;
    double origin = 0, sx = 0, sy = 0;
    for (size_t i = start; i < s->n && row_t(s, i) <= to; i++) {
        double v = row_v(s, c, i);
        if (isnan(v))
            continue;
        if (!n)
            origin = row_t(s, i);
        sx += row_t(s, i) - origin;
        sy += v;
        n++;
    }
    if (n < 2)
        return false;
    /* second pass around the means: no catastrophic cancellation */
    double mx = sx / (double)n, my = sy / (double)n, sxx = 0, sxy = 0;
    for (size_t i = start; i < s->n && row_t(s, i) <= to; i++) {
        double v = row_v(s, c, i);
        if (isnan(v))
            continue;
        double dx = row_t(s, i) - origin - mx;
        sxx += dx * dx;
        sxy += dx * (v - my);
    }
    if (!(sxx > 0))
        return false;
    *b = sxy / sxx;
    *a = my - *b * mx;
    *t0 = origin;
    return true;
}

bool series_forecast(const struct series *s, enum metric_id m, double from,
                     double to, double at, double *out)
{
    double a, b, t0;
    if (!series_fit(s, m, from, to, &a, &b, &t0))
        return false;
    *out = a + b * (at - t0);
    return true;
}

bool series_timeleft(const struct series *s, enum metric_id m, double from,
                     double to, double now, double threshold, double *out)
{
    double a, b, t0;
    if (isnan(threshold) || !series_fit(s, m, from, to, &a, &b, &t0))
        return false;
    double y = a + b * (now - t0);
    if (b > 0)
        *out = y >= threshold ? 0 : (threshold - y) / b;
    else if (b < 0)
        *out = y <= threshold ? 0 : (threshold - y) / b;
    else
        *out = y == threshold ? 0 : INFINITY;
    return true;
}
