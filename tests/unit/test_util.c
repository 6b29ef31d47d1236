/*
 * test_util.c - time parsing/formatting, durations, strings, strbuf.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static void test_iso8601_parse(void **state)
{
    double t;
    assert_int_equal(parse_iso8601("2026-08-20T12:00:00Z", &t), 0);
    assert_true(t == 1787227200.0);
    assert_int_equal(parse_iso8601("2026-08-20T12:00:00.250Z", &t), 0);
    assert_true(fabs(t - 1787227200.25) < 1e-6);
    assert_int_equal(parse_iso8601("2026-08-20T14:00:00+02:00", &t), 0);
    assert_true(t == 1787227200.0);
    assert_int_equal(parse_iso8601("2026-08-01", &t), 0);
    assert_true(t == 1785542400.0);     /* periodStart of the fixtures */
    assert_int_equal(parse_iso8601("1970-01-01T00:00:00Z", &t), 0);
    assert_true(t == 0);
    /* junk and zone-less times are refused, not guessed */
    assert_int_equal(parse_iso8601("2026-08-20T12:00:00", &t), -1);
    assert_int_equal(parse_iso8601("2026-13-01", &t), -1);
    assert_int_equal(parse_iso8601("yesterday", &t), -1);
    assert_int_equal(parse_iso8601("", &t), -1);
    assert_int_equal(parse_iso8601(NULL, &t), -1);
    assert_int_equal(parse_iso8601("2026-08-20T12:00:00Zjunk", &t), -1);
}

static void test_iso8601_format(void **state)
{
    char buf[32];
    format_iso8601(1787227200.9, buf, sizeof(buf));
    assert_string_equal(buf, "2026-08-20T12:00:00Z");
    format_iso8601(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    format_date(1787227200, buf, sizeof(buf));
    assert_string_equal(buf, "2026-08-20");
    /* round trip over a leap day */
    double t;
    assert_int_equal(parse_iso8601("2028-02-29T23:59:59Z", &t), 0);
    format_iso8601(t, buf, sizeof(buf));
    assert_string_equal(buf, "2028-02-29T23:59:59Z");
}

static void test_month_bounds(void **state)
{
    double t;
    assert_int_equal(parse_iso8601("2026-12-15T10:00:00Z", &t), 0);
    char buf[32];
    format_iso8601(month_start_utc(t), buf, sizeof(buf));
    assert_string_equal(buf, "2026-12-01T00:00:00Z");
    format_iso8601(next_month_start_utc(t), buf, sizeof(buf));
    assert_string_equal(buf, "2027-01-01T00:00:00Z");
}

static void test_rfc5322(void **state)
{
    double t;
    assert_int_equal(parse_rfc5322_date("Thu, 20 Aug 2026 16:01:00 +0000", &t), 0);
    char buf[32];
    format_iso8601(t, buf, sizeof(buf));
    assert_string_equal(buf, "2026-08-20T16:01:00Z");
    assert_int_equal(parse_rfc5322_date("Thu, 20 Aug 2026 18:01:00 +0200", &t), 0);
    format_iso8601(t, buf, sizeof(buf));
    assert_string_equal(buf, "2026-08-20T16:01:00Z");
    assert_int_equal(parse_rfc5322_date("20 Aug 2026 16:01:00 GMT", &t), 0);
    assert_int_equal(parse_rfc5322_date("soon", &t), -1);
    assert_int_equal(parse_rfc5322_date("Thu, 20 Foo 2026 16:01:00 +0000", &t), -1);
}

static void test_durations(void **state)
{
    double s;
    assert_int_equal(parse_duration("30s", &s), 0); assert_true(s == 30);
    assert_int_equal(parse_duration("5m", &s), 0); assert_true(s == 300);
    assert_int_equal(parse_duration("1h30m", &s), 0); assert_true(s == 5400);
    assert_int_equal(parse_duration("7d", &s), 0); assert_true(s == 604800);
    assert_int_equal(parse_duration("1w", &s), 0); assert_true(s == 604800);
    assert_int_equal(parse_duration("250ms", &s), 0); assert_true(fabs(s - 0.25) < 1e-9);
    assert_int_equal(parse_duration("0", &s), 0); assert_true(s == 0);
    assert_int_equal(parse_duration("1.5h", &s), 0); assert_true(s == 5400);
    assert_int_equal(parse_duration("", &s), -1);
    assert_int_equal(parse_duration("5", &s), -1);
    assert_int_equal(parse_duration("five minutes", &s), -1);
    assert_int_equal(parse_duration("5x", &s), -1);
    assert_int_equal(parse_duration("-5m", &s), -1);

    char buf[32];
    format_duration(300, buf, sizeof(buf)); assert_string_equal(buf, "5m");
    format_duration(5400, buf, sizeof(buf)); assert_string_equal(buf, "1h30m");
    format_duration(3600, buf, sizeof(buf)); assert_string_equal(buf, "1h");
    format_duration(0.25, buf, sizeof(buf)); assert_string_equal(buf, "250ms");
    format_duration(0, buf, sizeof(buf)); assert_string_equal(buf, "0s");
    format_duration(2 * 86400 + 7200, buf, sizeof(buf)); assert_string_equal(buf, "2d2h");
    format_duration(INFINITY, buf, sizeof(buf)); assert_string_equal(buf, "forever");
}

static void test_strbuf(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    assert_string_equal(strbuf_str(&sb), "");
    for (int i = 0; i < 1000; i++)
        strbuf_addf(&sb, "%d,", i);
    assert_int_equal(sb.len, strlen(sb.buf));
    assert_true(str_has_prefix(sb.buf, "0,1,2,"));
    strbuf_reset(&sb);
    strbuf_add_json_str(&sb, "a\"b\\c\n\x01");
    assert_string_equal(sb.buf, "\"a\\\"b\\\\c\\n\\u0001\"");
    strbuf_reset(&sb);
    strbuf_add_urlenc(&sb, "MA==+/ 2026-08-20T12:00:00Z");
    assert_string_equal(sb.buf, "MA%3D%3D%2B%2F%202026-08-20T12%3A00%3A00Z");
    char *s = strbuf_detach(&sb);
    assert_null(sb.buf);
    free(s);
    strbuf_free(&sb);
}

static void test_strings(void **state)
{
    assert_true(glob_match("web*", "web_prod"));
    assert_false(glob_match("web*", "ios_prod"));
    assert_false(glob_match("*", NULL));
    assert_int_equal(edit_distance("discard_ratoi", "discard_ratio", 3), 2);
    assert_int_equal(edit_distance("abc", "abcdefgh", 3), 4);
    double d;
    long l;
    assert_int_equal(parse_double("2.5", &d), 0);
    assert_int_equal(parse_double("2.5x", &d), -1);
    assert_int_equal(parse_long("42", &l), 0);
    assert_int_equal(l, 42);
    assert_int_equal(parse_long("99999999999999999999999", &l), -1);
    char *buf;
    const char *k, *v;
    assert_int_equal(split_kv("env=prod=x", &buf, &k, &v), 0);
    assert_string_equal(k, "env");
    assert_string_equal(v, "prod=x");
    free(buf);
    assert_int_equal(split_kv("=x", &buf, &k, &v), -1);
    assert_int_equal(split_kv("novalue", &buf, &k, &v), -1);
}

static void test_rng_deterministic(void **state)
{
    struct rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) {
        double x = rng_uniform(&a);
        assert_true(x >= 0 && x < 1);
        assert_true(x == rng_uniform(&b));
    }
}

/* Billing cycles that start on another day than the 1st. */
static void test_billing_cycle(void **state)
{
    double t, start, end, want_s, want_e;
    assert_int_equal(parse_iso8601("2026-08-10T12:00:00Z", &t), 0);
    billing_cycle_utc(t, 15, &start, &end);
    parse_iso8601("2026-07-15", &want_s);
    parse_iso8601("2026-08-15", &want_e);
    assert_true(start == want_s && end == want_e);
    assert_int_equal(parse_iso8601("2026-08-15T00:00:00Z", &t), 0);
    billing_cycle_utc(t, 15, &start, &end);
    parse_iso8601("2026-09-15", &want_e);
    assert_true(start == t && end == want_e);
    /* across the year; day 1 is the calendar month */
    assert_int_equal(parse_iso8601("2027-01-03T00:00:00Z", &t), 0);
    billing_cycle_utc(t, 28, &start, &end);
    parse_iso8601("2026-12-28", &want_s);
    parse_iso8601("2027-01-28", &want_e);
    assert_true(start == want_s && end == want_e);
    billing_cycle_utc(t, 1, &start, &end);
    assert_true(start == month_start_utc(t) && end == next_month_start_utc(t));
    billing_cycle_utc(t, 0, &start, &end);          /* out of range: the 1st */
    assert_true(start == month_start_utc(t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso8601_parse),
        cmocka_unit_test(test_billing_cycle),
        cmocka_unit_test(test_iso8601_format),
        cmocka_unit_test(test_month_bounds),
        cmocka_unit_test(test_rfc5322),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_strbuf),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_rng_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
