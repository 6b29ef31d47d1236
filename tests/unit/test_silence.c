/*
 * test_silence.c - silences (silence.h): matcher parsing, validation,
 * matching (labels, severity, missing labels), time range, expiry,
 * garbage collection, the state file form, the count and size limits and
 * loading 200,000 silences without comparing ids quadratically.
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

static void test_limits(void **state)
{
    (void)state;
    struct silences *set = silences_new();
    assert_int_equal(silences_get_limits(set)->max_count, 0);
    struct silence_limits lim = { 2, 40 };
    silences_set_limits(set, &lim);
    struct kv m = { "rule", "x" };
    char err[200];
    const struct silence *a = add(set, &m, 1, T0, T0 + 60, "ops", "one");
    /* a pending silence counts too */
    add(set, &m, 1, T0 + 100, T0 + 200, "ops", "two");
    const struct silence *s = NULL;
    assert_int_equal(silence_add(set, &m, 1, T0, T0 + 60, "ops", "three",
                                 T0, &s, err, sizeof(err)),
                     SILENCE_LIMIT);
    assert_null(s);
    assert_non_null(strstr(err, "2 silences are active or pending, as many "
                                "as max_silences allows"));
    assert_int_equal(silences_count(set), 2);
    /* an expired one does not */
    char id[32];
    snprintf(id, sizeof(id), "%s", a->id);
    assert_int_equal(silence_expire(set, id, T0 + 1, err, sizeof(err)),
                     SILENCE_OK);
    assert_int_equal(silence_add(set, &m, 1, T0, T0 + 60, "ops", "three",
                                 T0 + 1, &s, err, sizeof(err)),
                     SILENCE_OK);
    /* size: "rule=x" 6 + "ops" 3 + comment */
    assert_int_equal(silence_size(&m, 1, "ops", "abc"), 12);
    assert_int_equal(silence_size(&m, 1, NULL, NULL), 6);
    lim.max_count = 0;
    silences_set_limits(set, &lim);
    char comment[64];
    memset(comment, 'c', 31);
    comment[31] = '\0';
    assert_int_equal(silence_add(set, &m, 1, T0, T0 + 60, "ops", comment,
                                 T0 + 1, NULL, err, sizeof(err)),
                     SILENCE_OK);
    comment[31] = 'c';
    comment[32] = '\0';
    assert_int_equal(silence_add(set, &m, 1, T0, T0 + 60, "ops", comment,
                                 T0 + 1, NULL, err, sizeof(err)),
                     SILENCE_LIMIT);
    assert_non_null(strstr(err, "41 bytes"));
    assert_non_null(strstr(err, "max_silence_size_bytes (40)"));

    /* loading keeps everything a state file holds, limits or not */
    cJSON *tree = silences_to_json(set);
    char *text = cJSON_PrintUnformatted(tree);
    cJSON_Delete(tree);
    cJSON *j = cJSON_Parse(text);
    free(text);
    struct silences *back = silences_new();
    lim.max_count = 1;
    lim.max_bytes = 1;
    silences_set_limits(back, &lim);
    if (silences_from_json(back, j, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(silences_count(back), 4);
    assert_int_equal(silences_get_limits(back)->max_count, 1);
    cJSON_Delete(j);
    silences_free(back);
    silences_free(set);
}

/* A state file with 200,000 silences (the audit's took 5.7 minutes to
 * load: every id was compared with every earlier one).  Loading looks
 * each id up in a hash index: the comparisons stay below n, where the
 * scan made n(n-1)/2 = 2e10. */
#define MANY_SILENCES 200000

static void test_load_many(void **state)
{
    (void)state;
    cJSON *arr = cJSON_CreateArray();
    char id[32];
    for (int i = 0; i < MANY_SILENCES; i++) {
        cJSON *o = cJSON_CreateObject();
        snprintf(id, sizeof(id), "%016x", (unsigned)i * 2654435761u);
        cJSON_AddStringToObject(o, "id", id);
        cJSON *m = cJSON_AddArrayToObject(o, "matchers");
        cJSON_AddItemToArray(m, cJSON_CreateString("rule=x"));
        cJSON_AddNumberToObject(o, "starts_at", T0);
        cJSON_AddNumberToObject(o, "ends_at", T0 + 3600 + i);
        cJSON_AddItemToArray(arr, o);
    }
    struct silences *set = silences_new();
    char err[160];
    assert_int_equal(silences_from_json(set, arr, err, sizeof(err)), 0);
    assert_int_equal(silences_count(set), MANY_SILENCES);
    assert_true(silences_load_compares(set) < MANY_SILENCES);
    /* every one is found by id, and new ids do not collide */
    for (int i = 0; i < MANY_SILENCES; i += 997) {
        snprintf(id, sizeof(id), "%016x", (unsigned)i * 2654435761u);
        const struct silence *s = silences_get(set, id);
        assert_non_null(s);
        assert_true(s->ends_at == T0 + 3600 + i);
    }
    struct kv m = { "rule", "y" };
    const struct silence *fresh = add(set, &m, 1, T0, T0 + 60, NULL, "new");
    assert_ptr_equal(silences_get(set, fresh->id), fresh);
    /* a duplicate at the very end is still caught */
    cJSON *dup = cJSON_Duplicate(cJSON_GetArrayItem(arr, 12345), true);
    cJSON_AddItemToArray(arr, dup);
    struct silences *other = silences_new();
    assert_int_equal(silences_from_json(other, arr, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "duplicate id"));
    assert_int_equal(silences_count(other), 0);
    silences_free(other);
    /* gc drops all but the last 10 (and the fresh one, over by then),
     * and keeps the index right */
    char fresh_id[32];
    snprintf(fresh_id, sizeof(fresh_id), "%s", fresh->id);
    assert_int_equal(silences_gc(set, T0 + 3600 + MANY_SILENCES - 10, 0),
                     MANY_SILENCES - 10 + 1);
    assert_int_equal(silences_count(set), 10);
    for (int i = MANY_SILENCES - 12; i < MANY_SILENCES; i++) {
        snprintf(id, sizeof(id), "%016x", (unsigned)i * 2654435761u);
        const struct silence *s = silences_get(set, id);
        if (i < MANY_SILENCES - 10) {
            assert_null(s);
        } else {
            assert_non_null(s);
            assert_string_equal(s->id, id);
        }
    }
    assert_null(silences_get(set, fresh_id));
    silences_free(set);
    cJSON_Delete(arr);
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
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_load_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
