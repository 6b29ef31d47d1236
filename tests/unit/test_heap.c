/*
 * test_heap.c - core/heap.h: pops come out in order (ties broken by the
 * caller's sequence), elements can be removed and re-keyed anywhere in the
 * heap, positions follow the elements, an element leaves with HEAP_NONE.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "core/heap.h"
#include "core/util.h"

#define N 3000

struct item {
    double key;
    unsigned seq;
    size_t pos;
};

static bool item_less(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key;
    return x->seq < y->seq;
}

static size_t *item_pos(void *e)
{
    return &((struct item *)e)->pos;
}

/* Every element's position names it, and no child is less than its
 * parent. */
static void check(const struct heap *h)
{
    for (size_t i = 0; i < h->n; i++) {
        const struct item *e = h->items[i];
        assert_int_equal(e->pos, i);
        if (i > 0)
            assert_false(item_less(e, h->items[(i - 1) / 2]));
    }
}

static void test_order_remove_update(void **state)
{
    (void)state;
    static struct item it[N];
    struct heap h;
    heap_init(&h, item_less, item_pos);
    assert_null(heap_top(&h));
    assert_null(heap_pop(&h));
    struct rng r;
    rng_seed(&r, 42);
    for (unsigned i = 0; i < N; i++) {
        it[i].key = (double)(rng_next(&r) % 500);   /* many ties */
        it[i].seq = i;
        it[i].pos = HEAP_NONE;
        assert_false(heap_has(&h, &it[i]));
        heap_push(&h, &it[i]);
    }
    check(&h);
    /* remove a third, re-key another third (up and down) */
    for (unsigned i = 0; i < N; i += 3) {
        heap_remove(&h, &it[i]);
        assert_int_equal(it[i].pos, HEAP_NONE);
        heap_remove(&h, &it[i]);            /* a no-op now */
    }
    check(&h);
    for (unsigned i = 1; i < N; i += 3) {
        it[i].key = i % 2 ? -it[i].key : it[i].key + 1000;
        heap_update(&h, &it[i]);
    }
    check(&h);
    /* an element in no heap is pushed by update */
    it[0].key = -1e9;
    heap_update(&h, &it[0]);
    assert_ptr_equal(heap_top(&h), &it[0]);
    size_t want = heap_count(&h);
    const struct item *prev = NULL;
    size_t got = 0;
    struct item *e;
    while ((e = heap_pop(&h)) != NULL) {
        assert_int_equal(e->pos, HEAP_NONE);
        if (prev)
            assert_false(item_less(e, prev));
        prev = e;
        got++;
    }
    assert_int_equal(got, want);
    heap_free(&h);
    heap_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_remove_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
