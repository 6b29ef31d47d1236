/*
 * heap.c - see heap.h.  The classic array heap: children of i at 2i+1 and
 * 2i+2; every move writes the element's new position through pos().
 */
#include "core/heap.h"

#include <stdlib.h>

#include "core/util.h"

void heap_init(struct heap *h, heap_less_fn less, heap_pos_fn pos)
{
    h->items = NULL;
    h->n = h->cap = 0;
    h->less = less;
    h->pos = pos;
}

void heap_free(struct heap *h)
{
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}

static void place(struct heap *h, size_t i, void *e)
{
    h->items[i] = e;
    *h->pos(e) = i;
}

static void sift_up(struct heap *h, size_t i)
{
    void *e = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!h->less(e, h->items[parent]))
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, e);
}

static void sift_down(struct heap *h, size_t i)
{
    void *e = h->items[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->less(h->items[c + 1], h->items[c]))
            c++;
        if (!h->less(h->items[c], e))
            break;
        place(h, i, h->items[c]);
        i = c;
    }
    place(h, i, e);
}

void heap_push(struct heap *h, void *e)
{
    XGROW(h->items, h->n + 1, h->cap);
    place(h, h->n++, e);
    sift_up(h, h->n - 1);
}

static void remove_at(struct heap *h, size_t i)
{
    void *e = h->items[i];
    *h->pos(e) = HEAP_NONE;
    h->n--;
    if (i == h->n)
        return;
    /* the last element fills the hole; it may belong above or below */
    void *moved = h->items[h->n];
    place(h, i, moved);
    sift_up(h, i);
    sift_down(h, *h->pos(moved));
}

void *heap_pop(struct heap *h)
{
    if (h->n == 0)
        return NULL;
    void *e = h->items[0];
    remove_at(h, 0);
    return e;
}

bool heap_has(const struct heap *h, void *e)
{
    size_t i = *h->pos(e);
    return i < h->n && h->items[i] == e;
}

void heap_remove(struct heap *h, void *e)
{
    if (heap_has(h, e))
        remove_at(h, *h->pos(e));
}

void heap_update(struct heap *h, void *e)
{
    if (!heap_has(h, e)) {
        heap_push(h, e);
        return;
    }
    size_t i = *h->pos(e);
    sift_up(h, i);
    sift_down(h, *h->pos(e));
}
