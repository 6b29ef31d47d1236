/*
 * heap.h - a binary min-heap of pointers whose elements remember where
 * they are, so that any element can be removed, or moved after its key
 * changed, in O(log n): the queues of things due at a time (notification
 * groups by their next flush, outbox entries by their next attempt).
 *
 * Contract:
 *   - The caller's less(a, b) orders the elements (a strict weak order;
 *     break ties, e.g. by a sequence number, when the order of equal keys
 *     matters).  It must not change while an element is in the heap
 *     except through heap_update() right after the change.
 *   - pos(e) returns where e keeps its position: a size_t the heap writes
 *     (HEAP_NONE while e is in no heap).  Set it to HEAP_NONE when the
 *     element is created; an element is in at most one heap at a time.
 *   - A zeroed struct heap is not usable: heap_init() it.
 *
 * Ownership: the heap owns its pointer array, never the elements;
 * heap_free() releases the array (elements stay the caller's).
 * Errors: none; allocation failure aborts (xmalloc).
 * Thread safety: none.
 */
#ifndef SEGALERT_HEAP_H
#define SEGALERT_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The position of an element that is in no heap. */
#define HEAP_NONE SIZE_MAX

typedef bool (*heap_less_fn)(const void *a, const void *b);
typedef size_t *(*heap_pos_fn)(void *e);

struct heap {
    void **items;
    size_t n, cap;
    heap_less_fn less;
    heap_pos_fn pos;
};

void heap_init(struct heap *h, heap_less_fn less, heap_pos_fn pos);
/* Release the array (the heap is empty again); the elements are not
 * touched, so they may already be freed. */
void heap_free(struct heap *h);

static inline size_t heap_count(const struct heap *h) { return h->n; }
/* The least element, or NULL when empty. */
static inline void *heap_top(const struct heap *h)
{
    return h->n ? h->items[0] : NULL;
}

void heap_push(struct heap *h, void *e);
/* Remove and return the least element (NULL when empty). */
void *heap_pop(struct heap *h);
/* Remove e (a no-op when it is in no heap). */
void heap_remove(struct heap *h, void *e);
/* e's key changed: move it to its place (push it when it is in no heap). */
void heap_update(struct heap *h, void *e);
/* Whether e is in a heap. */
bool heap_has(const struct heap *h, void *e);

#endif
