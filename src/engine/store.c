/*
 * store.c - see store.h.
 *
 * Series are found through an open-addressing table keyed by (family,
 * label set pointer) and iterated through one array per family.  A series
 * is one allocation: its header, one struct ring per history group of its
 * family, and the newest value of every metric of the family.  Each ring
 * has one buffer: the regions of 8-byte cells first (times when they are
 * doubles, double columns), then the 4-byte ones (32-bit time offsets,
 * float columns), then the 2-byte ones (16-bit columns), each region
 * holding cap cells of one column in ring order, so a window scan walks
 * contiguous cells and every cell is aligned.
 *
 * A column starts at 16 bits (a count 0..65534; 65535 is "no data") and
 * widens, for the whole column of that series, the first time a value
 * does not round-trip: to a float, else a double.  Times start as 32-bit
 * offsets from a base 2^31 s before the first one, and widen to doubles
 * the first time one is not a whole number of seconds in range.
 */
#include "engine/store.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Cell widths of a column (2 bits each in ring.widths). */
enum width { W16 = 0, W32 = 1, W64 = 2 };
#define W16_NODATA 0xFFFFu
#define T_BASE_BEFORE 2147483648.0     /* 2^31 s: offsets cover +-68 years */
/* A ring has at most one column per metric of a family. */
_Static_assert(M__COUNT <= 32, "ring.widths holds 2 bits per column");

struct ring {
    uint64_t widths;            /* 2 bits per column: enum width */
    uint32_t head, n, cap;      /* rows head .. head+n-1 (mod cap) */
    uint8_t ncol;
    uint8_t n64, n32;           /* columns of 8 and 4 bytes (widths) */
    bool t_wide;                /* times are doubles, else offsets */
    double t_base;
    unsigned char *buf;
};

/* The history groups of one family: metrics with the same history share
 * a ring. */
struct fam_layout {
    int nlatest;                    /* metrics of the family */
    int ngroups;
    int8_t lcol[M__COUNT];          /* metric -> newest-row index, -1 */
    int8_t grp[M__COUNT];           /* metric -> group, -1: newest only */
    int8_t gcol[M__COUNT];          /* metric -> column in its group */
    double hist_s[M__COUNT];        /* per group */
    int ncol[M__COUNT];             /* per group */
    int8_t col_metric[M__COUNT][M__COUNT];  /* group, column -> metric */
};

struct series {
    const struct labelset *labels;
    const struct fam_layout *lay;   /* the store's, for this family */
    enum family fam;
    uint32_t id;
    double last_update;             /* seconds */
    double latest_t;                /* time of the newest row */
    double rolled_to;               /* rows up to here are buckets */
    struct ring rings[];            /* lay->ngroups, then lay->nlatest
                                       doubles: the newest row */
};

struct store {
    struct store_limits lim;
    struct fam_layout lay[FAM__COUNT];
    struct series **slots;          /* hash table, power-of-two size */
    size_t nslots, slots_cap;
    struct series **vec[FAM__COUNT];
    size_t vec_n[FAM__COUNT], vec_cap[FAM__COUNT];
    /* per family: ids of expired series (reusable), and the bound */
    uint32_t *free_ids[FAM__COUNT];
    size_t nfree_ids[FAM__COUNT], free_ids_cap[FAM__COUNT];
    size_t id_bound[FAM__COUNT];
};

#define SLOTS_INIT_CAP 64
/* Metrics whose histories differ by at most this factor share a ring. */
#define RING_MERGE_RATIO 2.0

/* Has a sample been added (latest_t is finite then: store_add takes
 * finite times only)? */
static inline bool has_rows(const struct series *s)
{
    return s->latest_t != -INFINITY;
}

static inline double *latest_of(const struct series *s)
{
    return (double *)(s->rings + s->lay->ngroups);
}

/* ---- limits and layouts ------------------------------------------------ */

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
        if (!(st->lim.rollup_step_s[f] > 0) ||
            !(st->lim.rollup_after_s[f] > 0))
            st->lim.rollup_step_s[f] = st->lim.rollup_after_s[f] = 0;
    }
    if (st->lim.max_samples < 2)
        st->lim.max_samples = st->lim.max_samples ? 2
                                                  : STORE_DEFAULT_MAX_SAMPLES;
}

/* History of m under lim, or a negative value for "newest only". */
static double metric_history(const struct store_limits *lim, int m)
{
    double ret = lim->retention_s[metric_table[m].family];
    double h = lim->history_s[m];
    if (h < 0)
        return -1;
    if (h == 0 || h > ret || isnan(h))
        return ret;
    return h;
}

static void layout_build(const struct store_limits *lim, enum family f,
                         struct fam_layout *lay)
{
    memset(lay, 0, sizeof(*lay));
    for (int m = 0; m < M__COUNT; m++)
        lay->lcol[m] = lay->grp[m] = lay->gcol[m] = -1;
    /* Histories within a factor RING_MERGE_RATIO share the longer one's
     * ring: a few more rows cost less than another ring and time axis. */
    double hs[M__COUNT];
    int nh = 0;
    for (int m = 0; m < M__COUNT; m++) {
        double h = metric_table[m].family == f ? metric_history(lim, m) : -1;
        int k = 0;
        while (k < nh && hs[k] != h)
            k++;
        if (h >= 0 && k == nh)
            hs[nh++] = h;
    }
    for (int i = 1; i < nh; i++)            /* longest first */
        for (int j = i; j > 0 && hs[j] > hs[j - 1]; j--) {
            double x = hs[j];
            hs[j] = hs[j - 1];
            hs[j - 1] = x;
        }
    for (int i = 0; i < nh; i++)
        if (!lay->ngroups ||
            lay->hist_s[lay->ngroups - 1] > RING_MERGE_RATIO * hs[i])
            lay->hist_s[lay->ngroups++] = hs[i];
    for (int m = 0; m < M__COUNT; m++) {
        if (metric_table[m].family != f)
            continue;
        lay->lcol[m] = (int8_t)lay->nlatest++;
        double h = metric_history(lim, m);
        if (h < 0)
            continue;
        /* the shortest group at least as long */
        int g = lay->ngroups - 1;
        while (lay->hist_s[g] < h)
            g--;
        lay->grp[m] = (int8_t)g;
        lay->gcol[m] = (int8_t)lay->ncol[g];
        lay->col_metric[g][lay->ncol[g]++] = (int8_t)m;
    }
}

static bool layout_equal(const struct fam_layout *a, const struct fam_layout *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

static size_t series_size(const struct fam_layout *lay)
{
    return sizeof(struct series) + (size_t)lay->ngroups * sizeof(struct ring) +
           (size_t)lay->nlatest * sizeof(double);
}

struct store *store_new(const struct store_limits *lim)
{
    struct store *st = xcalloc(1, sizeof(*st));
    limits_copy(st, lim);
    for (int f = 0; f < FAM__COUNT; f++)
        layout_build(&st->lim, (enum family)f, &st->lay[f]);
    st->slots_cap = SLOTS_INIT_CAP;
    st->slots = xcalloc(st->slots_cap, sizeof(*st->slots));
    return st;
}

static void series_free(struct series *s)
{
    for (int g = 0; g < s->lay->ngroups; g++)
        free(s->rings[g].buf);
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
    for (int f = 0; f < FAM__COUNT; f++)
        free(st->free_ids[f]);
    free(st->slots);
    free(st);
}

/* ---- rings: cells ---------------------------------------------------- */

static inline enum width col_width(const struct ring *r, int c)
{
    return (enum width)((r->widths >> (2 * c)) & 3u);
}

static inline size_t width_bytes(enum width w)
{
    return w == W64 ? 8 : w == W32 ? 4 : 2;
}

static inline size_t ring_row_bytes(const struct ring *r)
{
    return (r->t_wide ? 8u : 4u) + 8u * r->n64 + 4u * r->n32 +
           2u * (size_t)(r->ncol - r->n64 - r->n32);
}

/* Bit 0 of every 2-bit field of ring.widths. */
#define FIELD_LOW_BITS 0x5555555555555555ull

/* Bits set in x (no popcount instruction is assumed). */
static inline size_t popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (size_t)((x * 0x0101010101010101ull) >> 56);
}

/* Bit 0 of the fields of the columns of width w (among the ring's). */
static inline uint64_t width_mask(const struct ring *r, enum width w)
{
    uint64_t cols = r->ncol >= 32 ? ~0ull : (1ull << (2 * r->ncol)) - 1;
    uint64_t x = r->widths ^ ((uint64_t)w * FIELD_LOW_BITS);
    return ~(x | (x >> 1)) & FIELD_LOW_BITS & cols;
}

/* Byte offset of a region (column c, or the times when c < 0) for the
 * ring's widths and capacity: the times first, then the 8-byte columns,
 * the 4-byte ones, the 2-byte ones, each class in column order.  The
 * capacity is even, so every region is aligned for its cells.  O(1), and
 * a multiplication when every column is 16-bit (the common case). */
static inline size_t region_offset(const struct ring *r, int c)
{
    if (c < 0)
        return 0;
    size_t cap = r->cap;
    size_t off = cap * (r->t_wide ? 8 : 4);
    if (!r->widths)
        return off + 2 * cap * (size_t)c;
    enum width w = col_width(r, c);
    uint64_t before = width_mask(r, w) & ((1ull << (2 * c)) - 1);
    size_t rank = popcount64(before);
    if (w == W64)
        return off + rank * 8 * cap;
    off += r->n64 * 8 * cap;
    if (w == W32)
        return off + rank * 4 * cap;
    return off + r->n32 * 4 * cap + rank * 2 * cap;
}

/* A column (or the times) resolved once for a scan. */
struct cview {
    const void *p;
    enum width w;
    double t_base;
};

static inline struct cview col_view(const struct ring *r, int c)
{
    struct cview v = { r->buf + region_offset(r, c),
                       c < 0 ? W64 : col_width(r, c), r->t_base };
    if (c < 0 && !r->t_wide)
        v.w = W32;
    return v;
}

static inline double cell_get(const struct cview *v, size_t k)
{
    switch (v->w) {
    case W16: {
        uint16_t x = ((const uint16_t *)v->p)[k];
        return x == W16_NODATA ? NAN : (double)x;
    }
    case W32:
        return (double)((const float *)v->p)[k];
    case W64:
        break;
    }
    return ((const double *)v->p)[k];
}

static inline double time_get(const struct cview *v, size_t k)
{
    if (v->w == W32)
        return v->t_base + (double)((const uint32_t *)v->p)[k];
    return ((const double *)v->p)[k];
}

static bool fits(enum width w, double x)
{
    if (isnan(x) || w == W64)
        return true;
    if (w == W16)
        return x >= 0 && x < W16_NODATA && x == floor(x) &&
               !(x == 0 && signbit(x));
    if (isinf(x))
        return true;
    return fabs(x) <= FLT_MAX && (double)(float)x == x;
}

static bool time_fits(const struct ring *r, double t)
{
    if (r->t_wide)
        return true;
    double off = t - r->t_base;
    return t == floor(t) && off >= 0 && off <= (double)UINT32_MAX &&
           r->t_base + off == t;
}

static inline void cell_put(void *p, enum width w, size_t k, double x)
{
    switch (w) {
    case W16:
        ((uint16_t *)p)[k] = isnan(x) ? (uint16_t)W16_NODATA : (uint16_t)x;
        return;
    case W32:
        ((float *)p)[k] = isnan(x) ? NAN : (float)x;
        return;
    case W64:
        ((double *)p)[k] = x;
        return;
    }
}

static inline void time_put(struct ring *r, size_t k, double t)
{
    void *p = r->buf + region_offset(r, -1);
    if (r->t_wide)
        ((double *)p)[k] = t;
    else
        ((uint32_t *)p)[k] = (uint32_t)(t - r->t_base);
}

static inline size_t ri(const struct ring *r, size_t i)
{
    size_t j = r->head + i;
    return j >= r->cap ? j - r->cap : j;
}

static double row_t(const struct ring *r, size_t i)
{
    struct cview tv = col_view(r, -1);
    return time_get(&tv, ri(r, i));
}

/* Rebuild the buffer with capacity ncap, column widths `widths` and time
 * width t_wide: rows move to 0 .. n-1. */
static void ring_relayout(struct ring *r, size_t ncap, uint64_t widths,
                          bool t_wide)
{
    struct ring o = *r;
    ncap += ncap & 1;               /* even: regions stay aligned */
    r->cap = (uint32_t)ncap;
    r->widths = widths;
    r->n64 = (uint8_t)popcount64(width_mask(r, W64));
    r->n32 = (uint8_t)popcount64(width_mask(r, W32));
    r->t_wide = t_wide;
    r->head = 0;
    r->buf = xmalloc(ncap * ring_row_bytes(r));
    if (o.n) {
        struct cview ot = col_view(&o, -1);
        for (size_t i = 0; i < o.n; i++)
            time_put(r, i, time_get(&ot, ri(&o, i)));
    }
    for (int c = 0; c < r->ncol; c++) {
        void *np = r->buf + region_offset(r, c);
        enum width w = col_width(r, c);
        if (o.n) {
            struct cview ov = col_view(&o, c);
            for (size_t i = 0; i < o.n; i++)
                cell_put(np, w, i, cell_get(&ov, ri(&o, i)));
        }
        /* cells of rows to come hold "no data" until written */
        for (size_t i = o.n; i < ncap; i++)
            cell_put(np, w, i, NAN);
    }
    free(o.buf);
}

/* Write x into column c of physical row k, widening the column first when
 * x does not fit (widening moves the rows to 0 .. n-1: k follows). */
static void ring_set(struct ring *r, int c, size_t k, double x)
{
    enum width w = col_width(r, c);
    if (!fits(w, x)) {
        enum width nw = fits(W32, x) ? W32 : W64;
        uint64_t widths = (r->widths & ~(3ull << (2 * c))) |
                          ((uint64_t)nw << (2 * c));
        size_t head = r->head;
        ring_relayout(r, r->cap, widths, r->t_wide);
        /* relayout moved row i to i: translate k */
        k = k >= head ? k - head : k + r->cap - head;
        w = nw;
    }
    cell_put(r->buf + region_offset(r, c), w, k, x);
}

static void ring_move(struct ring *r, size_t to, size_t from)
{
    if (r->t_wide) {
        double *tp = (double *)(r->buf + region_offset(r, -1));
        tp[to] = tp[from];
    } else {
        uint32_t *tp = (uint32_t *)(r->buf + region_offset(r, -1));
        tp[to] = tp[from];
    }
    for (int c = 0; c < r->ncol; c++) {
        unsigned char *p = r->buf + region_offset(r, c);
        size_t b = width_bytes(col_width(r, c));
        memcpy(p + to * b, p + from * b, b);
    }
}

/* First logical row with time > t (rows are sorted).  Windows sit near the
 * newest rows, so search from the end: gallop back, then bisect. */
static size_t upper_bound(const struct ring *r, double t)
{
    struct cview tv = col_view(r, -1);
    size_t hi = r->n, step = 1;
    while (hi > 0) {
        size_t lo = hi > step ? hi - step : 0;
        if (!(time_get(&tv, ri(r, lo)) > t)) {
            /* answer in (lo, hi] */
            size_t a = lo + 1, b = hi;
            while (a < b) {
                size_t mid = a + (b - a) / 2;
                if (time_get(&tv, ri(r, mid)) > t)
                    b = mid;
                else
                    a = mid + 1;
            }
            return a;
        }
        hi = lo;
        step *= 2;
    }
    return 0;
}

static void drop_oldest(struct ring *r)
{
    r->head = (uint32_t)ri(r, 1);
    r->n--;
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
    if ((unsigned)fam >= FAM__COUNT)
        return NULL;
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

static void series_init_rings(struct series *s)
{
    const struct fam_layout *lay = s->lay;
    for (int g = 0; g < lay->ngroups; g++) {
        memset(&s->rings[g], 0, sizeof(s->rings[g]));
        s->rings[g].ncol = (uint8_t)lay->ncol[g];
    }
    double *lat = latest_of(s);
    for (int c = 0; c < lay->nlatest; c++)
        lat[c] = NAN;
}

struct series *store_get_or_add(struct store *st, enum family fam,
                                const struct labelset *ls)
{
    size_t j = slot_find(st, fam, ls);
    if (st->slots[j])
        return st->slots[j];
    const struct fam_layout *lay = &st->lay[fam];
    struct series *s = xcalloc(1, series_size(lay));
    s->labels = ls;
    s->lay = lay;
    s->fam = fam;
    s->last_update = -INFINITY;
    s->latest_t = -INFINITY;
    s->rolled_to = -INFINITY;
    series_init_rings(s);
    s->id = (uint32_t)(st->nfree_ids[fam]
                           ? st->free_ids[fam][--st->nfree_ids[fam]]
                           : st->id_bound[fam]++);
    st->slots[j] = s;
    XGROW(st->vec[fam], st->vec_n[fam] + 1, st->vec_cap[fam]);
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
            XGROW(st->free_ids[f], st->nfree_ids[f] + 1,
                  st->free_ids_cap[f]);
            st->free_ids[f][st->nfree_ids[f]++] = s->id;
            series_free(s);
            dropped++;
        }
    }
    return dropped;
}

void store_stats(const struct store *st, size_t *nseries, size_t *nsamples,
                 size_t *bytes)
{
    size_t ns = 0, nr = 0;
    size_t b = sizeof(*st) + st->slots_cap * sizeof(*st->slots);
    for (int f = 0; f < FAM__COUNT; f++) {
        b += st->vec_cap[f] * sizeof(*st->vec[f]) +
             st->free_ids_cap[f] * sizeof(*st->free_ids[f]);
        for (size_t i = 0; i < st->vec_n[f]; i++) {
            const struct series *s = st->vec[f][i];
            ns++;
            b += series_size(s->lay);
            for (int g = 0; g < s->lay->ngroups; g++) {
                nr += s->rings[g].n;
                b += (size_t)s->rings[g].cap * ring_row_bytes(&s->rings[g]);
            }
        }
    }
    if (nseries)
        *nseries = ns;
    if (nsamples)
        *nsamples = nr;
    if (bytes)
        *bytes = b;
}

/* store_prefetch(): series headers 2 * PREFETCH_AHEAD places ahead, the
 * rows of their rings PREFETCH_AHEAD ahead (the header is cached by
 * then), at most PREFETCH_MAX_BYTES of them a series. */
#define PREFETCH_AHEAD 4
#define PREFETCH_MAX_BYTES 4096
#define CACHE_LINE 64

void store_prefetch(const struct store *st, enum family fam, size_t i)
{
    size_t n = st->vec_n[fam];
    if (i + 2 * PREFETCH_AHEAD < n)
        __builtin_prefetch(st->vec[fam][i + 2 * PREFETCH_AHEAD]);
    if (i + PREFETCH_AHEAD >= n)
        return;
    const struct series *s = st->vec[fam][i + PREFETCH_AHEAD];
    size_t budget = PREFETCH_MAX_BYTES;
    for (int g = 0; g < s->lay->ngroups && budget; g++) {
        const struct ring *r = &s->rings[g];
        size_t len = (size_t)r->cap * ring_row_bytes(r);
        if (len > budget)
            len = budget;
        budget -= len;
        for (size_t off = 0; off < len; off += CACHE_LINE)
            __builtin_prefetch(r->buf + off);
    }
}

bool store_keeps_history(const struct store *st, enum metric_id m)
{
    return (unsigned)m < M__COUNT &&
           st->lay[metric_table[m].family].grp[m] >= 0;
}

size_t series_id(const struct series *s)
{
    return s->id;
}

size_t store_id_bound(const struct store *st, enum family fam)
{
    return (unsigned)fam < FAM__COUNT ? st->id_bound[fam] : 0;
}

/* ---- adding rows -------------------------------------------------------- */

static void ring_add(const struct store *st, struct series *s, int g,
                     double t, const double v[M__COUNT],
                     const bool has[M__COUNT])
{
    struct ring *r = &s->rings[g];
    const struct fam_layout *lay = s->lay;
    double ret = lay->hist_s[g];
    double newest = r->n ? row_t(r, r->n - 1) : t;
    if (t < newest - ret)
        return;
    if (t > newest)
        newest = t;
    while (r->n && row_t(r, 0) < newest - ret)
        drop_oldest(r);

    /* fast path: append after the newest row */
    size_t p = (!r->n || row_t(r, r->n - 1) < t) ? r->n : upper_bound(r, t);
    if (p > 0 && row_t(r, p - 1) == t) {
        for (int c = 0; c < r->ncol; c++) {
            int m = lay->col_metric[g][c];
            if (has[m])
                ring_set(r, c, ri(r, p - 1), v[m]);
        }
        return;
    }

    size_t max = st->lim.max_samples;
    if (r->n == r->cap || r->n >= max) {
        if (r->cap < max && r->n == r->cap) {
            size_t target = (size_t)ceil(ret / st->lim.spacing_s[s->fam]) + 2;
            size_t ncap = !r->cap ? (target < 4 ? target : 4)
                        : r->cap < target ? target : (size_t)r->cap * 2;
            if (ncap > max)
                ncap = max;
            if (!r->buf)
                r->t_base = floor(t) - T_BASE_BEFORE;
            ring_relayout(r, ncap, r->widths, r->t_wide);
        } else {
            if (p == 0)
                return;         /* older than everything we can hold */
            drop_oldest(r);
            p--;
        }
    }
    if (!time_fits(r, t))
        ring_relayout(r, r->cap, r->widths, true);

    /* shift rows p .. n-1 one place towards the end */
    for (size_t i = r->n; i > p; i--)
        ring_move(r, ri(r, i), ri(r, i - 1));
    size_t k = ri(r, p);
    time_put(r, k, t);
    r->n++;
    for (int c = 0; c < r->ncol; c++) {
        int m = lay->col_metric[g][c];
        ring_set(r, c, ri(r, p), has[m] ? v[m] : NAN);
    }
}

static double bucket_end(double t, double step)
{
    return ceil(t / step) * step;
}

static double nan_add(double a, double b)
{
    return isnan(a) ? b : isnan(b) ? a : a + b;
}

/* Merge the rows of r with t in (from, to] into one row per bucket. */
static void ring_rollup(struct ring *r, double from, double to, double step)
{
    size_t i0 = upper_bound(r, from), i1 = upper_bound(r, to);
    if (i1 - i0 < 2)
        goto stamp;
    size_t w = i0;                      /* next row to write */
    double cur = NAN;
    for (size_t i = i0; i < i1; i++) {
        double e = bucket_end(row_t(r, i), step);
        if (w > i0 && e == cur) {
            for (int c = 0; c < r->ncol; c++) {
                struct cview a = col_view(r, c);
                double sum = nan_add(cell_get(&a, ri(r, w - 1)),
                                     cell_get(&a, ri(r, i)));
                ring_set(r, c, ri(r, w - 1), sum);
            }
            continue;
        }
        if (w != i)
            ring_move(r, ri(r, w), ri(r, i));
        w++;
        cur = e;
    }
    size_t gone = i1 - w;
    for (size_t i = i1; i < r->n; i++)
        ring_move(r, ri(r, i - gone), ri(r, i));
    r->n -= (uint32_t)gone;
    i1 = w;
stamp:
    /* rows keep their values; their time becomes the bucket's end */
    for (size_t i = i0; i < i1; i++) {
        double e = bucket_end(row_t(r, i), step);
        if (!time_fits(r, e))
            ring_relayout(r, r->cap, r->widths, true);
        time_put(r, ri(r, i), e);
    }
}

static void series_rollup(const struct store *st, struct series *s)
{
    double step = st->lim.rollup_step_s[s->fam];
    if (!(step > 0))
        return;
    double cutoff = floor((s->latest_t - st->lim.rollup_after_s[s->fam]) /
                          step) * step;
    if (!(cutoff > s->rolled_to))
        return;
    for (int g = 0; g < s->lay->ngroups; g++)
        ring_rollup(&s->rings[g], s->rolled_to, cutoff, step);
    s->rolled_to = cutoff;
}

void store_add(struct store *st, struct series *s, double t,
               const double v[M__COUNT], const bool has[M__COUNT])
{
    if (!isfinite(t))
        return;
    if (has_rows(s) && t < s->latest_t - st->lim.retention_s[s->fam])
        return;
    if (t <= s->rolled_to &&
        bucket_end(t, st->lim.rollup_step_s[s->fam]) != t)
        return;
    if (t > s->last_update)
        s->last_update = t;
    for (int g = 0; g < s->lay->ngroups; g++)
        ring_add(st, s, g, t, v, has);

    const struct fam_layout *lay = s->lay;
    double *lat = latest_of(s);
    if (!has_rows(s) || t > s->latest_t) {
        for (int m = 0; m < M__COUNT; m++)
            if (lay->lcol[m] >= 0)
                lat[lay->lcol[m]] = has[m] ? v[m] : NAN;
        s->latest_t = t;
        series_rollup(st, s);
    } else if (t == s->latest_t) {
        for (int m = 0; m < M__COUNT; m++)
            if (lay->lcol[m] >= 0 && has[m])
                lat[lay->lcol[m]] = v[m];
    }
}

/* ---- new limits -------------------------------------------------------- */

/* Rows [i0, i0 + rows) of ring `from` as the time axis of ring r (empty,
 * columns still no data), within capacity for history hist_s. */
static void ring_copy_times(const struct store *st, const struct series *s,
                            struct ring *r, const struct ring *from,
                            size_t i0, size_t rows, double hist_s)
{
    size_t target = (size_t)ceil(hist_s / st->lim.spacing_s[s->fam]) + 2;
    size_t cap = rows > target ? rows : target;
    if (cap > st->lim.max_samples)
        cap = st->lim.max_samples;
    if (rows > cap) {
        i0 += rows - cap;
        rows = cap;
    }
    r->t_base = from->t_base;
    ring_relayout(r, cap, 0, from->t_wide);
    struct cview tv = col_view(from, -1);
    for (size_t i = 0; i < rows; i++)
        time_put(r, i, time_get(&tv, ri(from, i0 + i)));
    r->n = (uint32_t)rows;
}

/*
 * Move s to the store's (new) layout for its family; s is freed.  The time
 * axis of every new ring is the newest rows of the longest ring s had (or
 * only its newest row when it had no history).  A metric that had a
 * column keeps its values at those times; one that had none starts with
 * its newest value, the rest no data.
 */
static struct series *series_relayout(struct store *st, struct series *s,
                                      const struct fam_layout *old)
{
    const struct fam_layout *lay = &st->lay[s->fam];
    struct series *n = xcalloc(1, series_size(lay));
    memcpy(n, s, sizeof(*n));
    n->lay = lay;
    series_init_rings(n);
    const double *old_latest = (const double *)(s->rings + old->ngroups);
    memcpy(latest_of(n), old_latest, (size_t)lay->nlatest * sizeof(double));

    /* the time axis: the longest ring the series had, else its newest
     * row alone */
    struct ring one = { 0 };
    const struct ring *from = NULL;
    for (int g = 0; g < old->ngroups; g++)
        if (s->rings[g].n && (!from || s->rings[g].n > from->n))
            from = &s->rings[g];
    if (!from && has_rows(s)) {
        one.t_base = floor(s->latest_t) - T_BASE_BEFORE;
        ring_relayout(&one, 1, 0, false);
        if (!time_fits(&one, s->latest_t))
            ring_relayout(&one, 1, 0, true);
        time_put(&one, 0, s->latest_t);
        one.n = 1;
        from = &one;
    }
    for (int g = 0; from && g < lay->ngroups; g++) {
        struct ring *r = &n->rings[g];
        double newest = row_t(from, from->n - 1);
        size_t i0 = 0;
        while (i0 < from->n && row_t(from, i0) < newest - lay->hist_s[g])
            i0++;
        ring_copy_times(st, n, r, from, i0, from->n - i0, lay->hist_s[g]);
        for (int c = 0; c < r->ncol; c++) {
            int m = lay->col_metric[g][c];
            int og = old->grp[m];
            const struct ring *o = og >= 0 ? &s->rings[og] : NULL;
            struct cview ov = o ? col_view(o, old->gcol[m])
                                : col_view(from, -1);
            struct cview ot = o ? col_view(o, -1) : ov;
            size_t j = 0;
            for (size_t i = 0; i < r->n; i++) {
                /* row_t, not a view: ring_set may widen (reallocate) r */
                double t = row_t(r, i), x = NAN;
                if (o) {
                    while (j < o->n && time_get(&ot, ri(o, j)) < t)
                        j++;
                    if (j < o->n && time_get(&ot, ri(o, j)) == t)
                        x = cell_get(&ov, ri(o, j));
                } else if (t == s->latest_t) {
                    x = old_latest[lay->lcol[m]];
                }
                ring_set(r, c, i, x);
            }
        }
    }
    free(one.buf);
    series_free(s);
    return n;
}

void store_set_limits(struct store *st, const struct store_limits *lim)
{
    limits_copy(st, lim);
    for (int f = 0; f < FAM__COUNT; f++) {
        struct fam_layout old = st->lay[f], nl;
        layout_build(&st->lim, (enum family)f, &nl);
        if (layout_equal(&st->lay[f], &nl))
            continue;
        st->lay[f] = nl;
        for (size_t i = 0; i < st->vec_n[f]; i++) {
            struct series *s = st->vec[f][i];
            /* its slot, found while s is still alive */
            size_t j = slot_find(st, s->fam, s->labels);
            /* the series points at the store's layout, now the new one:
             * give it the old one while it moves */
            s->lay = &old;
            struct series *n = series_relayout(st, s, &old);
            st->vec[f][i] = n;
            st->slots[j] = n;
        }
    }
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
    size_t n = has_rows(s) ? 1 : 0;
    for (int g = 0; g < s->lay->ngroups; g++)
        if (s->rings[g].n > n)
            n = s->rings[g].n;
    return n;
}

bool series_latest(const struct series *s, enum metric_id m, double *v_out,
                   double *t_out)
{
    if ((unsigned)m >= M__COUNT || !has_rows(s))
        return false;
    int c = s->lay->lcol[m];
    if (c < 0)
        return false;
    double v = latest_of(s)[c];
    if (isnan(v))
        return false;
    *v_out = v;
    if (t_out)
        *t_out = s->latest_t;
    return true;
}

/* The ring and column of m's history, or NULL. */
static const struct ring *history_of(const struct series *s, enum metric_id m,
                                     int *col)
{
    if ((unsigned)m >= M__COUNT || s->lay->grp[m] < 0)
        return NULL;
    *col = s->lay->gcol[m];
    return &s->rings[(int)s->lay->grp[m]];
}

size_t series_points(const struct series *s, enum metric_id m, double from,
                     double to, double *t_out, double *v_out, size_t max)
{
    int c;
    const struct ring *r = history_of(s, m, &c);
    size_t w = 0;
    if (!r)
        return 0;
    struct cview tv = col_view(r, -1), cv = col_view(r, c);
    for (size_t i = upper_bound(r, from); i < r->n && w < max; i++) {
        size_t k = ri(r, i);
        double t = time_get(&tv, k);
        if (t > to)
            break;
        double v = cell_get(&cv, k);
        if (isnan(v))
            continue;
        t_out[w] = t;
        v_out[w] = v;
        w++;
    }
    return w;
}

/* Physical rows k0 .. k1-1 with times of type TT (TGET(k) reads one) and
 * cells of type VT (VGET(k), NAN for no data): add the rows up to `to`
 * into the locals of scan_segment (registers, not *w, in the loop).
 * Sets stop when a row past `to` ends the window. */
#define SCAN_SEGMENT(TT, TGET, VT, VGET)                                    \
    do {                                                                    \
        const TT *tp = tv->p;                                               \
        const VT *vp = cv->p;                                               \
        for (size_t k = k0; k < k1; k++) {                                  \
            double t = TGET(k);                                             \
            if (t > to) {                                                   \
                stop = true;                                                \
                break;                                                      \
            }                                                               \
            double v = VGET(k);                                             \
            if (isnan(v))                                                   \
                continue;                                                   \
            if (!n) {                                                       \
                first = v;                                                  \
                t_first = t;                                                \
            }                                                               \
            last = v;                                                       \
            t_last = t;                                                     \
            sum += v;                                                       \
            if (v < mn)                                                     \
                mn = v;                                                     \
            if (v > mx)                                                     \
                mx = v;                                                     \
            n++;                                                            \
        }                                                                   \
    } while (0)
#define T32(k) (tv->t_base + (double)tp[k])
#define T64(k) (tp[k])
#define V16(k) (vp[k] == W16_NODATA ? NAN : (double)vp[k])
#define V32(k) ((double)vp[k])
#define V64(k) (vp[k])

/* One contiguous run of rows, a loop per cell width (the widths are
 * fixed for the run: no branch on them per row), added to *w.  true: the
 * window ended inside the run. */
static bool scan_segment(const struct cview *tv, const struct cview *cv,
                         size_t k0, size_t k1, double to,
                         struct store_window *w)
{
    bool stop = false;
    size_t n = w->n;
    double sum = w->sum, mn = w->min, mx = w->max;
    double first = w->first, last = w->last;
    double t_first = w->t_first, t_last = w->t_last;
    if (tv->w == W32) {
        switch (cv->w) {
        case W16: SCAN_SEGMENT(uint32_t, T32, uint16_t, V16); break;
        case W32: SCAN_SEGMENT(uint32_t, T32, float, V32); break;
        case W64: SCAN_SEGMENT(uint32_t, T32, double, V64); break;
        }
    } else {
        switch (cv->w) {
        case W16: SCAN_SEGMENT(double, T64, uint16_t, V16); break;
        case W32: SCAN_SEGMENT(double, T64, float, V32); break;
        case W64: SCAN_SEGMENT(double, T64, double, V64); break;
        }
    }
    w->n = n;
    w->sum = sum;
    w->min = mn;
    w->max = mx;
    w->first = first;
    w->last = last;
    w->t_first = t_first;
    w->t_last = t_last;
    return stop;
}

#undef SCAN_SEGMENT
#undef T32
#undef T64
#undef V16
#undef V32
#undef V64

bool series_window_scan(const struct series *s, enum metric_id m,
                        double from, double to, struct store_window *w)
{
    w->n = 0;
    w->sum = 0;
    w->min = INFINITY;
    w->max = -INFINITY;
    w->first = w->last = w->t_first = w->t_last = 0;
    int c;
    const struct ring *r = history_of(s, m, &c);
    if (!r)
        return (unsigned)m < M__COUNT && s->lay->lcol[m] >= 0;
    struct cview tv = col_view(r, -1), cv = col_view(r, c);
    /* the rows from the first one in the window, as up to two runs of
     * physical rows (the ring wraps at most once) */
    size_t i = upper_bound(r, from);
    while (i < r->n) {
        size_t k = ri(r, i), run = r->n - i;
        if (run > r->cap - k)
            run = r->cap - k;
        if (scan_segment(&tv, &cv, k, k + run, to, w))
            break;
        i += run;
    }
    return true;
}

bool store_window_agg(const struct store_window *w, enum store_agg agg,
                      double *out)
{
    if (agg == AGG_COUNT) {
        *out = (double)w->n;
        return true;
    }
    if (!w->n)
        return false;
    switch (agg) {
    case AGG_AVG: *out = w->sum / (double)w->n; return true;
    case AGG_MIN: *out = w->min; return true;
    case AGG_MAX: *out = w->max; return true;
    case AGG_SUM: *out = w->sum; return true;
    case AGG_LAST: *out = w->last; return true;
    case AGG_DELTA:
        if (w->n < 2)
            return false;
        *out = w->last - w->first;
        return true;
    case AGG_RATE:
        if (w->n < 2)
            return false;
        *out = (w->last - w->first) / (w->t_last - w->t_first);
        return true;
    case AGG_COUNT:
        break;
    }
    return false;
}

bool series_window(const struct series *s, enum metric_id m,
                   enum store_agg agg, double from, double to, double *out)
{
    struct store_window w;
    return series_window_scan(s, m, from, to, &w) &&
           store_window_agg(&w, agg, out);
}

bool series_fit(const struct series *s, enum metric_id m, double from,
                double to, double *a, double *b, double *t0)
{
    int c;
    const struct ring *r = history_of(s, m, &c);
    if (!r)
        return false;
    struct cview tv = col_view(r, -1), cv = col_view(r, c);
    size_t start = upper_bound(r, from), n = 0;
    double origin = 0, sx = 0, sy = 0;
    for (size_t i = start; i < r->n && time_get(&tv, ri(r, i)) <= to; i++) {
        double v = cell_get(&cv, ri(r, i));
        if (isnan(v))
            continue;
        double t = time_get(&tv, ri(r, i));
        if (!n)
            origin = t;
        sx += t - origin;
        sy += v;
        n++;
    }
    if (n < 2)
        return false;
    /* second pass around the means: no catastrophic cancellation */
    double mx = sx / (double)n, my = sy / (double)n, sxx = 0, sxy = 0;
    for (size_t i = start; i < r->n && time_get(&tv, ri(r, i)) <= to; i++) {
        double v = cell_get(&cv, ri(r, i));
        if (isnan(v))
            continue;
        double dx = time_get(&tv, ri(r, i)) - origin - mx;
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
