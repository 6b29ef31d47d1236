/*
 * test_index.c - core/index.h: the hash -> index map (empty map, growth,
 * keys whose hashes collide, repeated keys, removal, freeing).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/index.h"
#include "core/util.h"

#define NKEYS 5000      /* enough to grow the map several times */

static bool name_match(const void *ctx, size_t idx, const void *key)
{
    const char *const *names = ctx;
    return strcmp(names[idx], key) == 0;
}

static void test_empty(void **state)
{
    (void)state;
    struct index_map m = INDEX_MAP_INIT;
    const char *names[] = { "a" };
    assert_int_equal(index_map_get(&m, hash_str("a"), name_match, names, "a"),
                     INDEX_NONE);
    index_map_free(&m);         /* an empty map frees as a no-op */
    index_map_free(&m);
    assert_null(m.slots);
    assert_int_equal(m.n, 0);
}

static void test_many(void **state)
{
    (void)state;
    static char buf[NKEYS][16];
    static const char *names[NKEYS];
    struct index_map m = INDEX_MAP_INIT;
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(buf[i], sizeof(buf[i]), "rule-%zu", i);
        names[i] = buf[i];
        index_map_put(&m, hash_str(names[i]), i);
    }
    assert_int_equal(m.n, NKEYS);
    assert_true(m.cap >= NKEYS);
    assert_int_equal(m.cap & (m.cap - 1), 0);       /* a power of two */
    for (size_t i = 0; i < NKEYS; i++)
        assert_int_equal(index_map_get(&m, hash_str(names[i]), name_match,
                                       names, names[i]), i);
    assert_int_equal(index_map_get(&m, hash_str("rule-x"), name_match, names,
                                   "rule-x"), INDEX_NONE);
    index_map_free(&m);
    assert_int_equal(m.cap, 0);
}

/* Equal hashes of different keys are told apart by the match function. */
static void test_collisions(void **state)
{
    (void)state;
    const char *names[] = { "alpha", "beta", "gamma" };
    struct index_map m = INDEX_MAP_INIT;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        index_map_put(&m, 42, i);
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        assert_int_equal(index_map_get(&m, 42, name_match, names, names[i]),
                         i);
    assert_int_equal(index_map_get(&m, 42, name_match, names, "delta"),
                     INDEX_NONE);
    /* the same hash in the last slot wraps around to the first */
    struct index_map w = INDEX_MAP_INIT;
    index_map_put(&w, 0, 0);
    uint64_t last = UINT64_MAX; /* masked to cap - 1 */
    index_map_put(&w, last, 1);
    index_map_put(&w, last, 2);
    assert_int_equal(index_map_get(&w, last, name_match, names, "gamma"), 2);
    assert_int_equal(index_map_get(&w, 0, name_match, names, "alpha"), 0);
    index_map_free(&w);
    index_map_free(&m);
}

/* put does not look for the key: the caller looks first when the first
 * of a name must win (as the config loader does for rules). */
static void test_first_wins(void **state)
{
    (void)state;
    const char *names[] = { "same", "same", "other" };
    struct index_map m = INDEX_MAP_INIT;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        uint64_t h = hash_str(names[i]);
        if (index_map_get(&m, h, name_match, names, names[i]) == INDEX_NONE)
            index_map_put(&m, h, i);
    }
    assert_int_equal(m.n, 2);
    assert_int_equal(index_map_get(&m, hash_str("same"), name_match, names,
                                   "same"), 0);
    assert_int_equal(index_map_get(&m, hash_str("other"), name_match, names,
                                   "other"), 2);
    index_map_free(&m);
}

/* Removing keys (colliding ones included) in a scattered order leaves
 * every other key findable; swap-remove as the dispatcher does it. */
static void test_remove(void **state)
{
    (void)state;
    static char buf[NKEYS][16];
    static const char *names[NKEYS];
    static size_t where[NKEYS];         /* key k -> its array index */
    static size_t key_at[NKEYS];        /* array index -> key */
    struct index_map m = INDEX_MAP_INIT;
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(buf[i], sizeof(buf[i]), "fp-%zu", i);
        where[i] = key_at[i] = i;
        /* every fourth key shares its hash with the key before it */
        index_map_put(&m, hash_str(buf[i - (i % 4 == 3)]), i);
    }
    size_t n = NKEYS;
    assert_false(index_map_remove(&m, 12345, 0));
    for (size_t step = 0; step < NKEYS / 2; step++) {
        size_t k = (step * 7919) % NKEYS;       /* scattered */
        if (where[k] == INDEX_NONE)
            continue;
        size_t i = where[k];
        uint64_t hk = hash_str(buf[k - (k % 4 == 3)]);
        assert_true(index_map_remove(&m, hk, i));
        assert_false(index_map_remove(&m, hk, i));
        where[k] = INDEX_NONE;
        n--;
        if (i != n) {       /* the last element moves into the hole */
            size_t moved = key_at[n];
            uint64_t hm = hash_str(buf[moved - (moved % 4 == 3)]);
            assert_true(index_map_remove(&m, hm, n));
            index_map_put(&m, hm, i);
            key_at[i] = moved;
            where[moved] = i;
        }
    }
    assert_int_equal(m.n, n);
    for (size_t i = 0; i < n; i++)
        names[i] = buf[key_at[i]];
    for (size_t k = 0; k < NKEYS; k++)
        assert_int_equal(index_map_get(&m, hash_str(buf[k - (k % 4 == 3)]),
                                       name_match, names, buf[k]),
                         where[k]);
    index_map_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_first_wins),
        cmocka_unit_test(test_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
