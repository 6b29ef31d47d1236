/*
 * labels.h - interned, sorted label sets ({source="web",destination="X"}).
 *
 * Every distinct label set exists once per pool, so two sets are equal
 * exactly when their pointers are equal: the store keys series by pointer
 * and alert instances compare identities without touching strings.  Keys
 * and values are interned strings owned by the pool as well.
 *
 * Ownership: a label_pool owns every string and label set it hands out;
 * they stay valid, immutable, until label_pool_free().  Label sets are
 * never freed one by one (label sets are few and long-lived: one per
 * series, plus the alert labels).  A pool is not thread-safe for interning;
 * reading an already interned set from another thread is safe as long as
 * the pool outlives the reader.
 */
#ifndef SEGALERT_LABELS_H
#define SEGALERT_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/kv.h"
#include "core/util.h"

struct label_pool;
struct labelset;

struct label_pool *label_pool_new(void);
void label_pool_free(struct label_pool *pool);     /* NULL is a no-op */

/* Intern a string: equal strings give the same pointer, valid until the
 * pool is freed. */
const char *label_pool_intern(struct label_pool *pool, const char *s);
/* Number of distinct label sets interned so far (stats). */
size_t label_pool_count(const struct label_pool *pool);
/* The empty label set "{}" of this pool. */
const struct labelset *label_pool_empty(struct label_pool *pool);

/*
 * Builder: add pairs in any order, then finish to get the interned set.
 * A later add of the same key replaces the earlier value; a NULL or empty
 * value removes the key (Prometheus treats an empty label as absent).
 * Strings are copied (interned) at add time, so the caller's buffers can
 * be reused immediately.  After finish the builder is empty and reusable;
 * labels_builder_free() releases its scratch memory (not the sets).
 */
struct label_pair {
    const char *key;        /* interned */
    const char *value;      /* interned; NULL while building = removed */
};

struct labels_builder {
    struct label_pool *pool;
    struct label_pair *pairs;
    size_t n, cap;
};

void labels_builder_init(struct labels_builder *b, struct label_pool *pool);
void labels_builder_add(struct labels_builder *b, const char *key,
                        const char *value);
/* Add every pair of ls (same replace rules). */
void labels_builder_add_set(struct labels_builder *b,
                            const struct labelset *ls);
const struct labelset *labels_builder_finish(struct labels_builder *b);
void labels_builder_free(struct labels_builder *b);
/* The interned set of n key/value pairs (a poller's sample labels): the
 * builder in one call. */
const struct labelset *labels_from_kv(struct label_pool *pool,
                                      const struct kv *kv, size_t n);

/* Accessors.  Pairs are sorted by key (strcmp order); i < count. */
size_t labelset_count(const struct labelset *ls);
const char *labelset_key(const struct labelset *ls, size_t i);
const char *labelset_value(const struct labelset *ls, size_t i);
/* Value of key, or NULL when the set has no such label. */
const char *labelset_get(const struct labelset *ls, const char *key);
/* Content hash (FNV-1a over the pairs): stable across runs and pools, so
 * it can serve as an alert fingerprint. */
uint64_t labelset_hash(const struct labelset *ls);
/* Append {k="v",...} (Prometheus text format: \\, \" and \n escaped in
 * values) to sb; the empty set is "{}". */
void labelset_format(const struct labelset *ls, struct strbuf *sb);

#endif
