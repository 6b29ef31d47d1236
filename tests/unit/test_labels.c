/* test_labels.c - interned label sets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/labels.h"

static const struct labelset *make(struct label_pool *pool, const char *k1,
                                   const char *v1, const char *k2,
                                   const char *v2)
{
    struct labels_builder b;
    labels_builder_init(&b, pool);
    if (k1)
        labels_builder_add(&b, k1, v1);
    if (k2)
        labels_builder_add(&b, k2, v2);
    const struct labelset *ls = labels_builder_finish(&b);
    labels_builder_free(&b);
    return ls;
}

static void test_intern_identity(void **state)
{
    struct label_pool *pool = label_pool_new();
    const struct labelset *a = make(pool, "source", "web", "destination",
                                    "Amplitude");
    const struct labelset *b = make(pool, "destination", "Amplitude",
                                    "source", "web");
    const struct labelset *c = make(pool, "source", "web", "destination",
                                    "Mixpanel");
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    assert_int_equal(labelset_hash(a), labelset_hash(b));
    assert_int_equal(label_pool_count(pool), 2);
    /* a separate pool gives the same content hash (stable fingerprint) */
    struct label_pool *pool2 = label_pool_new();
    const struct labelset *a2 = make(pool2, "source", "web", "destination",
                                     "Amplitude");
    assert_int_equal(labelset_hash(a), labelset_hash(a2));
    label_pool_free(pool2);
    label_pool_free(pool);
}

static void test_strings_interned(void **state)
{
    struct label_pool *pool = label_pool_new();
    char buf[16];
    strncpy(buf, "web", sizeof(buf));
    const char *s1 = label_pool_intern(pool, buf);
    strncpy(buf, "xyz", sizeof(buf));       /* caller's buffer reused */
    const char *s2 = label_pool_intern(pool, "web");
    assert_ptr_equal(s1, s2);
    assert_string_equal(s1, "web");
    assert_ptr_not_equal(label_pool_intern(pool, "xyz"), s1);
    label_pool_free(pool);
}

static void test_sorted_accessors(void **state)
{
    struct label_pool *pool = label_pool_new();
    struct labels_builder b;
    labels_builder_init(&b, pool);
    labels_builder_add(&b, "workspace", "prod");
    labels_builder_add(&b, "source", "web");
    labels_builder_add(&b, "destination_type", "amplitude");
    labels_builder_add(&b, "destination", "Amplitude");
    const struct labelset *ls = labels_builder_finish(&b);
    assert_int_equal(labelset_count(ls), 4);
    assert_string_equal(labelset_key(ls, 0), "destination");
    assert_string_equal(labelset_key(ls, 1), "destination_type");
    assert_string_equal(labelset_key(ls, 2), "source");
    assert_string_equal(labelset_key(ls, 3), "workspace");
    assert_string_equal(labelset_value(ls, 3), "prod");
    assert_null(labelset_key(ls, 4));
    assert_string_equal(labelset_get(ls, "source"), "web");
    assert_string_equal(labelset_get(ls, "destination_type"), "amplitude");
    assert_string_equal(labelset_get(ls, "workspace"), "prod");
    assert_string_equal(labelset_get(ls, "destination"), "Amplitude");
    assert_null(labelset_get(ls, "team"));
    assert_null(labelset_get(ls, ""));
    /* builder is reusable after finish */
    labels_builder_add(&b, "source", "web");
    const struct labelset *one = labels_builder_finish(&b);
    assert_int_equal(labelset_count(one), 1);
    labels_builder_free(&b);
    label_pool_free(pool);
}

static void test_replace_and_remove(void **state)
{
    struct label_pool *pool = label_pool_new();
    struct labels_builder b;
    labels_builder_init(&b, pool);
    labels_builder_add(&b, "env", "dev");
    labels_builder_add(&b, "team", "data");
    labels_builder_add(&b, "env", "prod");      /* later wins */
    labels_builder_add(&b, "team", "");         /* empty removes */
    labels_builder_add(&b, "x", NULL);          /* NULL removes/absent */
    const struct labelset *ls = labels_builder_finish(&b);
    assert_int_equal(labelset_count(ls), 1);
    assert_string_equal(labelset_get(ls, "env"), "prod");

    /* add_set: merge rule labels over series labels */
    labels_builder_add(&b, "source", "web");
    labels_builder_add(&b, "env", "staging");
    labels_builder_add_set(&b, ls);
    const struct labelset *m = labels_builder_finish(&b);
    assert_int_equal(labelset_count(m), 2);
    assert_string_equal(labelset_get(m, "env"), "prod");
    assert_string_equal(labelset_get(m, "source"), "web");

    /* empty set */
    const struct labelset *e = labels_builder_finish(&b);
    assert_ptr_equal(e, label_pool_empty(pool));
    assert_int_equal(labelset_count(e), 0);
    labels_builder_free(&b);
    label_pool_free(pool);
}

static void test_format(void **state)
{
    struct label_pool *pool = label_pool_new();
    struct strbuf sb = STRBUF_INIT;
    const struct labelset *ls = make(pool, "source", "web", "destination",
                                     "Amplitude");
    labelset_format(ls, &sb);
    assert_string_equal(sb.buf, "{destination=\"Amplitude\",source=\"web\"}");
    strbuf_reset(&sb);
    ls = make(pool, "name", "a\"b\\c\nd", NULL, NULL);
    labelset_format(ls, &sb);
    assert_string_equal(sb.buf, "{name=\"a\\\"b\\\\c\\nd\"}");
    strbuf_reset(&sb);
    labelset_format(label_pool_empty(pool), &sb);
    assert_string_equal(sb.buf, "{}");
    strbuf_free(&sb);
    label_pool_free(pool);
}

static void test_many_sets_rehash(void **state)
{
    struct label_pool *pool = label_pool_new();
    const struct labelset *sets[2000];
    char v[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(v, sizeof(v), "dest-%d", i);
        sets[i] = make(pool, "destination", v, "source", i % 2 ? "a" : "b");
    }
    assert_int_equal(label_pool_count(pool), 2000);
    for (int i = 0; i < 2000; i++) {
        snprintf(v, sizeof(v), "dest-%d", i);
        assert_ptr_equal(make(pool, "source", i % 2 ? "a" : "b",
                              "destination", v), sets[i]);
    }
    /* ("ab","c") vs ("a","bc") must not collide into equality */
    assert_ptr_not_equal(make(pool, "ab", "c", NULL, NULL),
                         make(pool, "a", "bc", NULL, NULL));
    label_pool_free(pool);
    label_pool_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intern_identity),
        cmocka_unit_test(test_strings_interned),
        cmocka_unit_test(test_sorted_accessors),
        cmocka_unit_test(test_replace_and_remove),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_many_sets_rehash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
