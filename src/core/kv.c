/*
 * kv.c - see kv.h.
 */
#include "core/kv.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void str_list_add(struct str_list *l, const char *s)
{
    l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
    l->items[l->n++] = xstrdup(s);
}

void str_list_free(struct str_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void str_list_copy(struct str_list *dst, const struct str_list *src)
{
    dst->items = NULL;
    dst->n = 0;
    for (size_t i = 0; i < src->n; i++)
        str_list_add(dst, src->items[i]);
}

void kv_list_add(struct kv_list *l, const char *k, const char *v)
{
    l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
    l->items[l->n].key = xstrdup(k);
    l->items[l->n].value = xstrdup(v);
    l->n++;
}

void kv_list_free(struct kv_list *l)
{
    kv_array_free(l->items, l->n);
    l->items = NULL;
    l->n = 0;
}

const char *kv_list_get(const struct kv_list *l, const char *k)
{
    return kv_array_get(l->items, l->n, k);
}

struct kv *kv_array_dup(const struct kv *kv, size_t n)
{
    struct kv *out = xcalloc(n ? n : 1, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        out[i].key = xstrdup(kv[i].key);
        out[i].value = xstrdup(kv[i].value);
    }
    return out;
}

void kv_array_free(struct kv *kv, size_t n)
{
    if (!kv)
        return;
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

const char *kv_array_get(const struct kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (streq(kv[i].key, key))
            return kv[i].value;
    return NULL;
}

int kv_cmp_key(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    if (!x->key || !y->key)
        return (x->key != NULL) - (y->key != NULL);
    return strcmp(x->key, y->key);
}

void kv_array_sort(struct kv *kv, size_t n)
{
    if (n > 1)
        qsort(kv, n, sizeof(*kv), kv_cmp_key);
}
