/*
 * labels.c - see labels.h.
 *
 * Two open-addressing tables (linear probing, power-of-two size, load
 * <= 1/2): interned strings, and interned label sets.  Nothing is ever
 * removed, so no tombstones are needed.
 */
#include "engine/labels.h"

#include <stdlib.h>
#include <string.h>

struct labelset {
    uint64_t hash;
    size_t n;
    struct label_pair pairs[];      /* sorted by key */
};

struct str_slot {
    uint64_t hash;
    char *s;                        /* NULL = empty slot */
};

struct label_pool {
    struct str_slot *strs;
    size_t nstrs, strs_cap;         /* strs_cap is a power of two */
    const struct labelset **sets;
    size_t nsets, sets_cap;
    const struct labelset *empty;
};

#define POOL_INIT_CAP 64

struct label_pool *label_pool_new(void)
{
    struct label_pool *p = xcalloc(1, sizeof(*p));
    p->strs_cap = POOL_INIT_CAP;
    p->strs = xcalloc(p->strs_cap, sizeof(*p->strs));
    p->sets_cap = POOL_INIT_CAP;
    p->sets = xcalloc(p->sets_cap, sizeof(*p->sets));
    return p;
}

void label_pool_free(struct label_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->strs_cap; i++)
        free(p->strs[i].s);
    for (size_t i = 0; i < p->sets_cap; i++)
        free((void *)p->sets[i]);
    free(p->strs);
    free(p->sets);
    free(p);
}

static void strs_grow(struct label_pool *p)
{
    size_t ncap = p->strs_cap * 2;
    struct str_slot *n = xcalloc(ncap, sizeof(*n));
    for (size_t i = 0; i < p->strs_cap; i++) {
        if (!p->strs[i].s)
            continue;
        size_t j = p->strs[i].hash & (ncap - 1);
        while (n[j].s)
            j = (j + 1) & (ncap - 1);
        n[j] = p->strs[i];
    }
    free(p->strs);
    p->strs = n;
    p->strs_cap = ncap;
}

const char *label_pool_intern(struct label_pool *p, const char *s)
{
    uint64_t h = hash_str(s);
    size_t mask = p->strs_cap - 1;
    size_t j = h & mask;
    while (p->strs[j].s) {
        if (p->strs[j].hash == h && strcmp(p->strs[j].s, s) == 0)
            return p->strs[j].s;
        j = (j + 1) & mask;
    }
    p->strs[j].hash = h;
    p->strs[j].s = xstrdup(s);
    const char *r = p->strs[j].s;
    if (++p->nstrs * 2 > p->strs_cap)
        strs_grow(p);
    return r;
}

size_t label_pool_count(const struct label_pool *p)
{
    return p->nsets;
}

static uint64_t pairs_hash(const struct label_pair *pairs, size_t n)
{
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++) {
        /* include the NULs so ("ab","c") and ("a","bc") differ */
        h = hash_bytes(pairs[i].key, strlen(pairs[i].key) + 1, h);
        h = hash_bytes(pairs[i].value, strlen(pairs[i].value) + 1, h);
    }
    return h;
}

static void sets_grow(struct label_pool *p)
{
    size_t ncap = p->sets_cap * 2;
    const struct labelset **n = xcalloc(ncap, sizeof(*n));
    for (size_t i = 0; i < p->sets_cap; i++) {
        if (!p->sets[i])
            continue;
        size_t j = p->sets[i]->hash & (ncap - 1);
        while (n[j])
            j = (j + 1) & (ncap - 1);
        n[j] = p->sets[i];
    }
    free(p->sets);
    p->sets = n;
    p->sets_cap = ncap;
}

/* pairs hold interned strings, sorted, no duplicates */
static const struct labelset *intern_set(struct label_pool *p,
                                         const struct label_pair *pairs,
                                         size_t n)
{
    uint64_t h = pairs_hash(pairs, n);
    size_t mask = p->sets_cap - 1;
    size_t j = h & mask;
    while (p->sets[j]) {
        const struct labelset *ls = p->sets[j];
        if (ls->hash == h && ls->n == n) {
            size_t i = 0;
            /* strings are interned: pointer comparison suffices */
            while (i < n && ls->pairs[i].key == pairs[i].key &&
                   ls->pairs[i].value == pairs[i].value)
                i++;
            if (i == n)
                return ls;
        }
        j = (j + 1) & mask;
    }
    struct labelset *ls = xmalloc(sizeof(*ls) + n * sizeof(ls->pairs[0]));
    ls->hash = h;
    ls->n = n;
    if (n)
        memcpy(ls->pairs, pairs, n * sizeof(pairs[0]));
    p->sets[j] = ls;
    if (++p->nsets * 2 > p->sets_cap)
        sets_grow(p);
    return ls;
}

const struct labelset *label_pool_empty(struct label_pool *p)
{
    if (!p->empty)
        p->empty = intern_set(p, NULL, 0);
    return p->empty;
}

void labels_builder_init(struct labels_builder *b, struct label_pool *pool)
{
    b->pool = pool;
    b->pairs = NULL;
    b->n = b->cap = 0;
}

void labels_builder_add(struct labels_builder *b, const char *key,
                        const char *value)
{
    const char *k = label_pool_intern(b->pool, key);
    const char *v = value && *value ? label_pool_intern(b->pool, value) : NULL;
    for (size_t i = 0; i < b->n; i++) {
        if (b->pairs[i].key == k) {
            b->pairs[i].value = v;
            return;
        }
    }
    XGROW(b->pairs, b->n + 1, b->cap);
    b->pairs[b->n].key = k;
    b->pairs[b->n].value = v;
    b->n++;
}

void labels_builder_add_set(struct labels_builder *b,
                            const struct labelset *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        labels_builder_add(b, ls->pairs[i].key, ls->pairs[i].value);
}

const struct labelset *labels_builder_finish(struct labels_builder *b)
{
    size_t n = 0;
    /* drop removed keys, then insertion-sort: sets are small */
    for (size_t i = 0; i < b->n; i++)
        if (b->pairs[i].value)
            b->pairs[n++] = b->pairs[i];
    for (size_t i = 1; i < n; i++) {
        struct label_pair x = b->pairs[i];
        size_t j = i;
        while (j > 0 && strcmp(b->pairs[j - 1].key, x.key) > 0) {
            b->pairs[j] = b->pairs[j - 1];
            j--;
        }
        b->pairs[j] = x;
    }
    const struct labelset *ls = intern_set(b->pool, b->pairs, n);
    b->n = 0;
    return ls;
}

void labels_builder_free(struct labels_builder *b)
{
    free(b->pairs);
    b->pairs = NULL;
    b->n = b->cap = 0;
}

size_t labelset_count(const struct labelset *ls)
{
    return ls->n;
}

const char *labelset_key(const struct labelset *ls, size_t i)
{
    return i < ls->n ? ls->pairs[i].key : NULL;
}

const char *labelset_value(const struct labelset *ls, size_t i)
{
    return i < ls->n ? ls->pairs[i].value : NULL;
}

const char *labelset_get(const struct labelset *ls, const char *key)
{
    size_t lo = 0, hi = ls->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ls->pairs[mid].key, key);
        if (c == 0)
            return ls->pairs[mid].value;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

uint64_t labelset_hash(const struct labelset *ls)
{
    return ls->hash;
}

void labelset_format(const struct labelset *ls, struct strbuf *sb)
{
    strbuf_addc(sb, '{');
    for (size_t i = 0; i < ls->n; i++) {
        if (i)
            strbuf_addc(sb, ',');
        strbuf_adds(sb, ls->pairs[i].key);
        strbuf_adds(sb, "=\"");
        for (const char *s = ls->pairs[i].value; *s; s++) {
            if (*s == '\\')
                strbuf_adds(sb, "\\\\");
            else if (*s == '"')
                strbuf_adds(sb, "\\\"");
            else if (*s == '\n')
                strbuf_adds(sb, "\\n");
            else
                strbuf_addc(sb, *s);
        }
        strbuf_addc(sb, '"');
    }
    strbuf_addc(sb, '}');
}

const struct labelset *labels_from_kv(struct label_pool *pool,
                                      const struct kv *kv, size_t n)
{
    struct labels_builder b;
    labels_builder_init(&b, pool);
    for (size_t i = 0; i < n; i++)
        labels_builder_add(&b, kv[i].key, kv[i].value);
    const struct labelset *ls = labels_builder_finish(&b);
    labels_builder_free(&b);
    return ls;
}
