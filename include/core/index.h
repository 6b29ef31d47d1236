/*
 * index.h - a hash table from a key to an index into an array that the
 * caller owns (rules by name, config sections by name and title), so that
 * finding an element by key costs O(1) instead of a scan of the array.
 *
 * The map stores only the 64-bit hash and the index; it never sees or
 * copies a key.  The caller computes the hash (hash_str() / hash_bytes()
 * in core/util.h) and, on lookup, passes a match function that compares
 * its key with the element at an index.  One map type therefore serves
 * any key shape, and equal hashes of different keys are told apart by
 * the caller's comparison.
 *
 * Contract:
 *   - A zeroed struct index_map (INDEX_MAP_INIT) is an empty, valid map;
 *     it is a plain value so it can live inside another struct.
 *   - index_map_put() does not look for the key: adding a key that is
 *     already present adds a second entry, and index_map_get() then returns
 *     either.  Look first when keys may repeat ("first one wins").
 *   - Indexes are the caller's; the map does not follow the array when it
 *     is reordered.  index_map_remove() takes one entry out (an element
 *     that moves in the array is removed and put again under its new
 *     index).
 *
 * Ownership: the map owns its slot array; index_map_free() releases it and
 * leaves an empty map (freeing an empty map is a no-op).
 * Errors: none; allocation failure aborts (xmalloc).
 * Thread safety: none; a map that is no longer modified may be read from
 * any thread.
 */
#ifndef SEGALERT_INDEX_H
#define SEGALERT_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What index_map_get() returns when the key is absent. */
#define INDEX_NONE SIZE_MAX

struct index_slot;              /* private to index.c */

struct index_map {
    struct index_slot *slots;
    size_t cap;                 /* 0 or a power of two */
    size_t n;                   /* entries stored */
};
#define INDEX_MAP_INIT { NULL, 0, 0 }

/* Whether the caller's element at idx has key.  ctx is passed through
 * from index_map_get() (usually the array's owner). */
typedef bool (*index_match_fn)(const void *ctx, size_t idx, const void *key);

/* The index stored under hash whose element matches key, or INDEX_NONE. */
size_t index_map_get(const struct index_map *m, uint64_t hash,
                     index_match_fn match, const void *ctx, const void *key);

/* Add idx under hash (see the contract about keys already present). */
void index_map_put(struct index_map *m, uint64_t hash, size_t idx);

/* Remove the entry stored under hash with index idx; returns whether there
 * was one.  O(1) on average; the slot array does not shrink. */
bool index_map_remove(struct index_map *m, uint64_t hash, size_t idx);

void index_map_free(struct index_map *m);

#endif
