/*
 * buffer.c - see buffer.h.  The array grows by doubling up to cap, so a
 * large configured buffer costs memory only when an intake falls behind.
 */
#include "export/buffer.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* First allocation of a ring that receives points. */
#define RING_INITIAL_SLOTS 256

void export_ring_init(struct export_ring *r, size_t cap)
{
    memset(r, 0, sizeof(*r));
    r->cap = cap ? cap : 1;
}

void export_ring_free(struct export_ring *r)
{
    free(r->p);
    memset(r, 0, sizeof(*r));
}

const struct export_point *export_ring_at(const struct export_ring *r,
                                          size_t i)
{
    return &r->p[(r->head + i) % r->alloc];
}

/* Reallocate to `slots` slots with the points in order from index 0. */
static void relayout(struct export_ring *r, size_t slots)
{
    struct export_point *np = xcalloc(slots, sizeof(*np));
    for (size_t i = 0; i < r->n; i++)
        np[i] = *export_ring_at(r, i);
    free(r->p);
    r->p = np;
    r->alloc = slots;
    r->head = 0;
}

/* Room for one more point (alloc < cap), growing by doubling. */
static void grow(struct export_ring *r)
{
    size_t slots = r->alloc ? r->alloc * 2 : RING_INITIAL_SLOTS;
    if (slots > r->cap)
        slots = r->cap;
    relayout(r, slots);
}

size_t export_ring_set_cap(struct export_ring *r, size_t cap)
{
    if (!cap)
        cap = 1;
    size_t dropped = 0;
    while (r->n > cap) {
        r->head = (r->head + 1) % r->alloc;
        r->n--;
        dropped++;
    }
    r->cap = cap;
    if (r->alloc > cap)
        relayout(r, cap);
    return dropped;
}

size_t export_ring_push(struct export_ring *r, const struct export_point *pt)
{
    size_t dropped = 0;
    if (r->n == r->alloc && r->alloc < r->cap)
        grow(r);
    if (r->n == r->alloc) {     /* full at cap: drop the oldest */
        r->head = (r->head + 1) % r->alloc;
        r->n--;
        dropped = 1;
    }
    r->p[(r->head + r->n) % r->alloc] = *pt;
    r->n++;
    return dropped;
}

size_t export_ring_unshift(struct export_ring *r,
                           const struct export_point *pts, size_t n)
{
    size_t room = r->cap - r->n;
    size_t keep = n < room ? n : room;
    while (r->alloc < r->n + keep)
        grow(r);
    for (size_t i = keep; i > 0; i--) {
        r->head = (r->head + r->alloc - 1) % r->alloc;
        r->p[r->head] = pts[i - 1];
        r->n++;
    }
    return n - keep;
}

size_t export_ring_take(struct export_ring *r, struct export_point *out,
                        size_t max)
{
    size_t k = max < r->n ? max : r->n;
    for (size_t i = 0; i < k; i++)
        out[i] = *export_ring_at(r, i);
    if (k) {
        r->head = (r->head + k) % r->alloc;
        r->n -= k;
    }
    return k;
}
