/*
 * test_silence.c - silences (silence.h): matcher parsing, validation,
 * matching (labels, severity, missing labels), time range, expiry,
 * garbage collection and the state file form.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify/notify.h"
#include "notify/silence.h"
#include "core/util.h"

#define T0 1700000000.0

static void free_kv(struct kv *m)
{
    free(m->key);
    free(m->value);
}

static void test_parse_matcher(void **state)
{
    (void)state;
    struct kv m;
    char err[128];

    assert_int_equal(silence_parse_matcher("rule=discard-ratio", &m, err,
                                           sizeof(err)), 0);
    assert_string_equal(m.key, "rule");
    assert_string_equal(m.value, "discard-ratio");
    free_kv(&m);
    /* only the first '=' splits; the glob may contain more */
    assert_int_equal(silence_parse_matcher("source=a=b*", &m, err,
                                           sizeof(err)), 0);
    assert_string_equal(m.value, "a=b*");
    free_kv(&m);
    assert_int_equal(silence_parse_matcher("team=", &m, err, sizeof(err)), 0);
    assert_string_equal(m.value, "");
    free_kv(&m);

    static const char *const bad[] = { "rule", "=x", "1abc=x", "a-b=x", "" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        err[0] = '\0';
        assert_int_equal(silence_parse_matcher(bad[i], &m, err, sizeof(err)),
                         -1);
        assert_true(strstr(err, "invalid matcher") != NULL);
    }
    assert_int_equal(silence_parse_matcher(NULL, &m, err, sizeof(err)), -1);
}

/* silence_add that must succeed: the new silence. */
static const struct silence *add(struct silences *set, const struct kv *m,
                                 size_t n, double starts_at, double ends_at,
                                 const char *by, const char *comment)
{
    char err[128];
    const struct silence *s = NULL;
    assert_int_equal(silence_add(set, m, n, starts_at, ends_at, by, comment,
                                 T0, &s, err, sizeof(err)),
                     SILENCE_OK);
    assert_non_null(s);
    return s;
}

static void test_add_validation(void **state)
{
    (void)state;
    struct silences *set = silences_new();
    struct kv ok = { "rule", "x" }, badkey = { "no-dash", "x" };
    char err[128];

    const struct silence *s = NULL;
    assert_int_equal(silence_add(set, NULL, 0, T0, T0 + 60, NULL, NULL, T0,
                                 &s, err, sizeof(err)),
                     SILENCE_INVALID);
    assert_null(s);
    assert_true(strstr(err, "at least one matcher") != NULL);
    assert_int_equal(silence_add(set, &badkey, 1, T0, T0 + 60, NULL, NULL, T0,
                                 &s, err, sizeof(err)),
                     SILENCE_INVALID);
    assert_int_equal(silence_add(set, &ok, 1, T0, T0, NULL, NULL, T0, NULL,
                                 err, sizeof(err)),
                     SILENCE_INVALID);
    assert_true(strstr(err, "end after") != NULL);
    assert_int_equal(silences_count(set), 0);

    s = add(set, &ok, 1, T0, T0 + 60, "ops", "deploy");
    assert_non_null(s);
    assert_int_equal(strlen(s->id), 16);
    assert_string_equal(s->created_by, "ops");
    assert_string_equal(s->comment, "deploy");
    assert_string_equal(s->matchers[0].value, "x");
    silences_free(set);
    silences_free(NULL);
}

static void test_ids_unique(void **state)
{
    (void)state;
    struct silences *set = silences_new();
    struct kv m = { "rule", "x" };
    char ids[50][17];

    /* same time for all: the counter still separates them */
    for (int i = 0; i < 50; i++) {
        const struct silence *s = add(set, &m, 1, T0, T0 + 60, NULL, NULL);
        assert_non_null(s);
        snprintf(ids[i], sizeof(ids[i]), "%s", s->id);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(ids[i], ids[k]);
    }
    assert_non_null(silences_get(set, ids[7]));
    assert_null(silences_get(set, "0000000000000000"));
    silences_free(set);
}

static void test_matching(void **state)
{
    (void)state;
    struct silences *set = silences_new();
    struct kv m[2] = { { "rule", "discard-*" }, { "source", "web" } };
    struct kv labels[] = { { "rule", "discard-ratio" }, { "source", "web" },
                           { "workspace", "prod" } };
    struct kv other[] = { { "rule", "discard-ratio" }, { "source", "ios" } };

    const struct silence *s = add(set, m, 2, T0, T0 + 3600, NULL, NULL);
    assert_true(silence_matches(s, labels, 3, "critical"));
    assert_false(silence_matches(s, other, 2, "critical"));
    /* missing label = "" */
    assert_false(silence_matches(s, labels, 1, "critical"));

    struct kv sev = { "severity", "warn*" };
    const struct silence *s2 = add(set, &sev, 1, T0, T0 + 3600, NULL, NULL);
    assert_true(silence_matches(s2, other, 2, "warning"));
    assert_false(silence_matches(s2, other, 2, "critical"));
    assert_false(silence_matches(s2, other, 2, NULL));

    struct kv noteam = { "team", "" };
    const struct silence *s3 = add(set, &noteam, 1, T0, T0 + 60, NULL, NULL);
    assert_true(silence_matches(s3, labels, 3, NULL));

    /* time range: [starts_at, ends_at) */
    assert_null(silences_match(set, other, 2, "critical", T0 - 1));
    assert_false(silence_is_active(s, T0 - 1));
    assert_true(silence_is_active(s, T0));
    assert_true(silence_is_active(s, T0 + 3599));
    assert_false(silence_is_active(s, T0 + 3600));
    const struct silence *hit = silences_match(set, other, 2, "warning",
                                               T0 + 10);
    assert_non_null(hit);
    /* the first match in the order added */
    assert_string_equal(hit->matchers[0].key, "severity");
    assert_null(silences_match(set, other, 2, "warning", T0 + 4000));
    silences_free(set);
}

static void test_expire_and_gc(void **state)
{
    (void)state;
    struct silences *set = silences_new();
    struct kv m = { "rule", "x" };
    struct kv labels[] = { { "rule", "x" } };
    char err[128], id[17], future[17];

    snprintf(id, sizeof(id), "%s",
             add(set, &m, 1, T0, T0 + 3600, NULL, NULL)->id);
    snprintf(future, sizeof(future), "%s",
             add(set, &m, 1, T0 + 7200, T0 + 9000, NULL, NULL)->id);
    assert_non_null(silences_match(set, labels, 1, NULL, T0 + 100));
    assert_int_equal(silence_expire(set, id, T0 + 100, err, sizeof(err)),
                     SILENCE_OK);
    assert_null(silences_match(set, labels, 1, NULL, T0 + 100));
    assert_true(silences_get(set, id)->ends_at == T0 + 100);
    assert_int_equal(silence_expire(set, id, T0 + 200, err, sizeof(err)),
                     SILENCE_ENDED);
    assert_true(strstr(err, "already expired") != NULL);
    assert_int_equal(silence_expire(set, "nope", T0, err, sizeof(err)),
                     SILENCE_NOT_FOUND);
    assert_true(strstr(err, "no silence") != NULL);
    /* a pending silence expired before it starts never becomes active */
    assert_int_equal(silence_expire(set, future, T0 + 300, err, sizeof(err)),
                     SILENCE_OK);
    assert_null(silences_match(set, labels, 1, NULL, T0 + 8000));

    /* expired ones stay listed until gc */
    size_t n;
    silences_list(set, &n);
    assert_int_equal(n, 2);
    assert_int_equal(silences_gc(set, T0 + 150, 86400), 0);
    assert_int_equal(silences_gc(set, T0 + 100 + 86401, 86400), 1);
    assert_int_equal(silences_gc(set, T0 + 300 + 86401, 86400), 1);
    assert_int_equal(silences_count(set), 0);
    silences_free(set);
}

static void test_json_roundtrip(void **state)
{
    (void)state;
    struct silences *set = silences_new();
    struct kv m[2] = { { "rule", "discard-*" }, { "source", "a=b" } };
    char err[128];

    add(set, m, 2, T0, T0 + 3600, "ops", "deploy \"x\"");
    add(set, m, 1, T0 + 10, T0 + 20, NULL, NULL);
    cJSON *j = silences_to_json(set);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);

    struct silences *back = silences_new();
    cJSON *p = cJSON_Parse(text);
    assert_int_equal(silences_from_json(back, p, err, sizeof(err)), 0);
    cJSON_Delete(p);
    j = silences_to_json(back);
    char *again = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    assert_string_equal(text, again);

    size_t n;
    const struct silence *s = silences_list(back, &n);
    assert_int_equal(n, 2);
    assert_string_equal(s[0].matchers[1].value, "a=b");
    assert_string_equal(s[0].comment, "deploy \"x\"");
    assert_null(s[1].created_by);
    /* new ids after a load do not collide with loaded ones */
    const struct silence *fresh = add(back, m, 1, T0, T0 + 1, NULL, NULL);
    assert_string_not_equal(fresh->id, s[0].id);
    assert_string_not_equal(fresh->id, s[1].id);
    free(text);
    free(again);
    silences_free(back);
    silences_free(set);
}

static void test_from_json_errors(void **state)
{
    (void)state;
    struct silences *set = silences_new();
    struct kv m = { "rule", "x" };
    char err[160];
    static const char *const bad[] = {
        "{}",
        "[1]",
        "[{\"id\":\"a\",\"matchers\":[],\"starts_at\":1,\"ends_at\":2}]",
        "[{\"id\":\"a\",\"matchers\":[\"bad\"],\"starts_at\":1,\"ends_at\":2}]",
        "[{\"id\":\"a\",\"matchers\":[3],\"starts_at\":1,\"ends_at\":2}]",
        "[{\"id\":\"a\",\"matchers\":[\"a=b\"],\"starts_at\":3,\"ends_at\":2}]",
        "[{\"id\":\"a\",\"matchers\":[\"a=b\"],\"starts_at\":1}]",
        /* a duplicate id (one string on two lines) */
        ("[{\"id\":\"a\",\"matchers\":[\"a=b\"],\"starts_at\":1,\"ends_at\":2},"
         " {\"id\":\"a\",\"matchers\":[\"a=b\"],\"starts_at\":1,\"ends_at\":2}]"),
    };

    add(set, &m, 1, T0, T0 + 60, NULL, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        cJSON *j = cJSON_Parse(bad[i]);
        assert_non_null(j);
        err[0] = '\0';
        assert_int_equal(silences_from_json(set, j, err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
        cJSON_Delete(j);
        assert_int_equal(silences_count(set), 1);   /* unchanged */
    }
    silences_free(set);
}

static void test_id_valid(void **state)
{
    (void)state;
    assert_true(silence_id_valid("0123456789abcdef", 16));
    assert_true(silence_id_valid("A-b_9", 5));
    /* only the first len bytes count: an id inside a path */
    assert_true(silence_id_valid("abc/expire", 3));
    assert_false(silence_id_valid("abc/expire", 4));
    assert_false(silence_id_valid("", 0));
    assert_false(silence_id_valid("a.b", 3));
    assert_false(silence_id_valid("a%2f", 4));
    char longest[SILENCE_ID_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    assert_true(silence_id_valid(longest, SILENCE_ID_MAX));
    assert_false(silence_id_valid(longest, SILENCE_ID_MAX + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_matcher),
        cmocka_unit_test(test_add_validation),
        cmocka_unit_test(test_ids_unique),
        cmocka_unit_test(test_matching),
        cmocka_unit_test(test_expire_and_gc),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_from_json_errors),
        cmocka_unit_test(test_id_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
