/*
 * test_discard_reasons.c - the reasons table and the top-N keeping of
 * engine/discard_reasons.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "core/util.h"
#include "engine/discard_reasons.h"

static void test_meanings(void **state)
{
    (void)state;
    static const char *documented[] = {
        "400", "401", "403", "404", "408", "413", "429", "INVALID_SETTINGS",
        "MESSAGE_REJECTED", "ETIMEDOUT", "ECONNRESET", "ENOTFOUND",
        "expires", "throttles", "BAD_REQUEST", "UNSUPPORTED_EVENT_TYPE",
        "INTERNAL", "RETRY", "RESOURCE_LOCKED", "EREFUSED",
    };
    for (size_t i = 0; i < ARRAY_SIZE(documented); i++) {
        if (!*discard_reason_meaning(documented[i]))
            fail_msg("no meaning for %s", documented[i]);
        if (!*discard_reason_kind(documented[i]))
            fail_msg("no kind for %s", documented[i]);
    }
    /* case varies in the API (ETIMEDOUT / etimedout) */
    assert_string_equal(discard_reason_meaning("etimedout"),
                        discard_reason_meaning("ETIMEDOUT"));
    assert_string_equal(discard_reason_kind("401"), "credentials");
    assert_string_equal(discard_reason_kind("INVALID_SETTINGS"),
                        "credentials");
    assert_string_equal(discard_reason_kind("400"), "payload");
    assert_string_equal(discard_reason_kind("429"), "throttling");
    /* any 5xx */
    assert_string_equal(discard_reason_kind("502"), "destination");
    assert_non_null(strstr(discard_reason_meaning("599"), "server error"));
    /* unknown: "" */
    assert_string_equal(discard_reason_meaning("5000"), "");
    assert_string_equal(discard_reason_meaning("WHATEVER"), "");
    assert_string_equal(discard_reason_meaning(NULL), "");
}

static void test_top_and_shares(void **state)
{
    (void)state;
    struct discard_reasons r;
    discard_reasons_init(&r);
    assert_null(discard_reasons_top(&r));
    discard_reasons_add(&r, "400", 30);
    discard_reasons_add(&r, "401", 70);
    discard_reasons_add(&r, "400", 0);        /* nothing */
    discard_reasons_add(&r, "", 5);           /* no code: ignored */
    discard_reasons_add(&r, "x", NAN);
    discard_reasons_finish(&r);
    assert_int_equal(r.n, 2);
    assert_true(r.total == 100);
    assert_string_equal(discard_reasons_top(&r)->code, "401");
    assert_true(fabs(r.top[0].share - 0.7) < 1e-12);
    assert_true(fabs(r.top[1].share - 0.3) < 1e-12);

    struct strbuf sb = STRBUF_INIT;
    discard_reasons_format(&r, &sb);
    assert_non_null(strstr(strbuf_str(&sb), "401 70% (unauthorized"));
    assert_non_null(strstr(strbuf_str(&sb), "; 400 30% (bad request"));
    strbuf_free(&sb);
    discard_reasons_json(&r, NULL, &sb);
    assert_non_null(strstr(strbuf_str(&sb),
                           "{\"code\":\"401\",\"count\":70,\"share\":0.7,"));
    strbuf_free(&sb);
}

/* More codes than kept: the largest stay, every count is in the total,
 * a code seen again while kept is summed. */
static void test_keeps_largest(void **state)
{
    (void)state;
    struct discard_reasons r;
    discard_reasons_init(&r);
    const char *codes[] = { "a", "b", "c", "d", "e", "f", "g" };
    for (size_t i = 0; i < ARRAY_SIZE(codes); i++)
        discard_reasons_add(&r, codes[i], (double)(i + 1));
    discard_reasons_add(&r, "g", 10);
    discard_reasons_finish(&r);
    assert_int_equal(r.n, DISCARD_REASONS_MAX);
    assert_true(r.total == 28 + 10);
    assert_string_equal(r.top[0].code, "g");
    assert_true(r.top[0].count == 17);
    assert_string_equal(r.top[DISCARD_REASONS_MAX - 1].code, "c");
    /* a long code is cut, not overflowed */
    char longc[200];
    memset(longc, 'Z', sizeof(longc) - 1);
    longc[sizeof(longc) - 1] = '\0';
    discard_reasons_init(&r);
    discard_reasons_add(&r, longc, 1);
    assert_int_equal(strlen(r.top[0].code), DISCARD_REASON_CODE_MAX - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meanings),
        cmocka_unit_test(test_top_and_shares),
        cmocka_unit_test(test_keeps_largest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
