/*
 * index.c - see index.h.
 *
 * Open addressing with linear probing; the load is kept under 3/4, so a
 * probe sequence stays short and ends at an empty slot.
 */
#include "core/index.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define INDEX_MIN_CAP 64        /* slots allocated by the first put */

struct index_slot {
    uint64_t hash;
    size_t idx;                 /* INDEX_NONE = empty */
};

void index_map_free(struct index_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

size_t index_map_get(const struct index_map *m, uint64_t hash,
                     index_match_fn match, const void *ctx, const void *key)
{
    if (m->cap == 0)
        return INDEX_NONE;
    for (size_t i = hash & (m->cap - 1); m->slots[i].idx != INDEX_NONE;
         i = (i + 1) & (m->cap - 1))
        if (m->slots[i].hash == hash && match(ctx, m->slots[i].idx, key))
            return m->slots[i].idx;
    return INDEX_NONE;
}

static void slot_insert(struct index_slot *slots, size_t cap, uint64_t hash,
                        size_t idx)
{
    size_t i = hash & (cap - 1);
    while (slots[i].idx != INDEX_NONE)
        i = (i + 1) & (cap - 1);
    slots[i].hash = hash;
    slots[i].idx = idx;
}

bool index_map_remove(struct index_map *m, uint64_t hash, size_t idx)
{
    if (m->cap == 0)
        return false;
    size_t mask = m->cap - 1;
    size_t i = hash & mask;
    while (m->slots[i].idx != INDEX_NONE &&
           !(m->slots[i].hash == hash && m->slots[i].idx == idx))
        i = (i + 1) & mask;
    if (m->slots[i].idx == INDEX_NONE)
        return false;
    /* Backward-shift deletion: later entries of the probe run that could
     * live in the hole move into it, so every run still ends at an empty
     * slot and no tombstone is needed. */
    size_t j = i;
    for (;;) {
        m->slots[i].idx = INDEX_NONE;
        for (;;) {
            j = (j + 1) & mask;
            if (m->slots[j].idx == INDEX_NONE) {
                m->n--;
                return true;
            }
            size_t home = m->slots[j].hash & mask;
            /* j stays when its home lies cyclically in (i, j] */
            bool stays = i <= j ? (i < home && home <= j)
                                : (i < home || home <= j);
            if (!stays)
                break;
        }
        m->slots[i] = m->slots[j];
        i = j;
    }
}

void index_map_put(struct index_map *m, uint64_t hash, size_t idx)
{
    if ((m->n + 1) * 4 > m->cap * 3) {
        size_t cap = m->cap ? m->cap * 2 : INDEX_MIN_CAP;
        struct index_slot *slots = xmalloc(cap * sizeof(*slots));
        for (size_t i = 0; i < cap; i++)
            slots[i].idx = INDEX_NONE;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].idx != INDEX_NONE)
                slot_insert(slots, cap, m->slots[i].hash, m->slots[i].idx);
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    slot_insert(m->slots, m->cap, hash, idx);
    m->n++;
}
