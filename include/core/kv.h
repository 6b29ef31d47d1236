/*
 * kv.h - the basic value types shared by every layer: a list of strings
 * (globs, addresses, rule files) and key/value pairs (labels, label=glob
 * matchers, HTTP headers, counters by reason).
 *
 * Ownership: a struct str_list or struct kv_list owns its items and every
 * string in them; *_free() releases them and leaves an empty list, and a
 * zero-initialised list is empty and valid.  Bare struct kv arrays (as in
 * notifications and snapshots) are owned by whoever holds the pointer and
 * are released with kv_array_free(); a kv value may be NULL where the
 * owner documents it.  Nothing here is thread-safe beyond "immutable data
 * may be read from any thread".
 */
#ifndef SEGALERT_KV_H
#define SEGALERT_KV_H

#include <stddef.h>

struct str_list {
    char **items;
    size_t n;
};

/* "key=value" pairs: labels to add, label=glob matchers, headers. */
struct kv {
    char *key;
    char *value;
};

struct kv_list {
    struct kv *items;
    size_t n;
};

/* Append a copy of s. */
void str_list_add(struct str_list *l, const char *s);
void str_list_free(struct str_list *l);
/* Deep copy of src into *dst (which is overwritten, not freed). */
void str_list_copy(struct str_list *dst, const struct str_list *src);

/* Append copies of k and v (v may be NULL). */
void kv_list_add(struct kv_list *l, const char *k, const char *v);
void kv_list_free(struct kv_list *l);
/* Value of the first pair with key k, or NULL. */
const char *kv_list_get(const struct kv_list *l, const char *k);

/* Arrays of n pairs. */
struct kv *kv_array_dup(const struct kv *kv, size_t n);  /* deep copy */
void kv_array_free(struct kv *kv, size_t n);             /* NULL is a no-op */
const char *kv_array_get(const struct kv *kv, size_t n, const char *key);
/* Sort pairs by key (strcmp order; NULL keys first). */
void kv_array_sort(struct kv *kv, size_t n);
/* qsort comparator on the keys of two struct kv. */
int kv_cmp_key(const void *a, const void *b);

#endif
