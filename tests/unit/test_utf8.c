/*
 * test_utf8.c - UTF-8 validation and repair (core/utf8.h) and the JSON
 * string writer that relies on it (strbuf_add_json_str): overlongs,
 * surrogates, truncated sequences, code points above U+10FFFF, stray
 * continuation bytes, valid 1- to 4-byte characters, and cuts that never
 * split a character.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/json.h"
#include "core/utf8.h"
#include "core/util.h"

#define R UTF8_REPLACEMENT

/* sanitize(in) == want, and the result is well-formed. */
static void check_fix(const char *in, size_t len, const char *want)
{
    struct strbuf sb = STRBUF_INIT;
    utf8_sanitize_append(&sb, in, len);
    assert_string_equal(strbuf_str(&sb), want);
    assert_true(utf8_valid(strbuf_str(&sb), sb.len));
    strbuf_free(&sb);
}
#define FIX(lit, want) check_fix((lit), sizeof(lit) - 1, (want))

static void test_valid(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "", "plain ascii", "caf\xc3\xa9",               /* 2 bytes */
        "\xe2\x82\xac euro", "\xef\xbf\xbd",            /* 3 bytes */
        "\xf0\x9f\x98\x80 grin",                        /* 4 bytes */
        "\xf4\x8f\xbf\xbf",                             /* U+10FFFF */
        "\xed\x9f\xbf",                                 /* U+D7FF */
        "\xee\x80\x80",                                 /* U+E000 */
        "\xc2\x80", "\xe0\xa0\x80", "\xf0\x90\x80\x80", /* lowest of each */
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        assert_true(utf8_valid(ok[i], strlen(ok[i])));
        check_fix(ok[i], strlen(ok[i]), ok[i]);     /* unchanged */
    }
    assert_int_equal(utf8_char_len("\xf0\x9f\x98\x80", 4, NULL), 4);
    assert_int_equal(utf8_char_len("\xe2\x82\xac", 3, NULL), 3);
    assert_int_equal(utf8_char_len("\xc3\xa9", 2, NULL), 2);
    assert_int_equal(utf8_char_len("a", 1, NULL), 1);
    /* a NUL inside a counted string is U+0000: well-formed */
    assert_true(utf8_valid("a\0b", 3));
}

static void test_overlong(void **state)
{
    (void)state;
    assert_false(utf8_valid("\xc0\xaf", 2));        /* '/' in 2 bytes */
    assert_false(utf8_valid("\xc1\xbf", 2));
    assert_false(utf8_valid("\xe0\x80\xaf", 3));    /* '/' in 3 bytes */
    assert_false(utf8_valid("\xe0\x9f\xbf", 3));
    assert_false(utf8_valid("\xf0\x80\x80\xaf", 4));
    assert_false(utf8_valid("\xf0\x8f\xbf\xbf", 4));
    /* C0 and C1 can never start a character: each byte is replaced */
    FIX("\xc0\xaf", R R);
    /* E0 80: E0 alone is the maximal subpart, 80 is a stray byte */
    FIX("\xe0\x80\xaf", R R R);
    FIX("\xf0\x80\x80\xaf", R R R R);
    FIX("a\xc0\x80z", "a" R R "z");                 /* "modified UTF-8" NUL */
}

static void test_surrogates(void **state)
{
    (void)state;
    assert_false(utf8_valid("\xed\xa0\x80", 3));    /* U+D800 */
    assert_false(utf8_valid("\xed\xbf\xbf", 3));    /* U+DFFF */
    /* CESU-8 pair for U+1F600 */
    assert_false(utf8_valid("\xed\xa0\xbd\xed\xb8\x80", 6));
    FIX("\xed\xa0\x80", R R R);
    FIX("x\xed\xa0\xbd\xed\xb8\x80y", "x" R R R R R R "y");
}

static void test_above_max(void **state)
{
    (void)state;
    assert_false(utf8_valid("\xf4\x90\x80\x80", 4));    /* U+110000 */
    assert_false(utf8_valid("\xf5\x80\x80\x80", 4));
    assert_false(utf8_valid("\xf8\x88\x80\x80\x80", 5));    /* 5-byte form */
    assert_false(utf8_valid("\xfe", 1));
    assert_false(utf8_valid("\xff", 1));
    FIX("\xf4\x90\x80\x80", R R R R);
    FIX("\xff\xfe", R R);
}

static void test_truncated(void **state)
{
    (void)state;
    size_t bad = 0;
    assert_int_equal(utf8_char_len("\xe2\x82", 2, &bad), 0);
    assert_int_equal(bad, 2);
    assert_int_equal(utf8_char_len("\xf0\x9f\x98", 3, &bad), 0);
    assert_int_equal(bad, 3);
    assert_int_equal(utf8_char_len("\x80", 1, &bad), 0);
    assert_int_equal(bad, 1);
    assert_false(utf8_valid("\xc3", 1));
    assert_false(utf8_valid("abc\xe2\x82", 5));
    /* a truncated sequence is ONE replacement (its maximal subpart), and
     * what follows is kept */
    FIX("\xe2\x82x", R "x");
    FIX("\xf0\x9f\x98!", R "!");
    FIX("end\xf0\x9f", "end" R);
    FIX("\xe2\x82\xe2\x82\xac", R "\xe2\x82\xac");
    /* stray continuation bytes: one replacement each */
    FIX("\x80\xbf", R R);
    /* a lead byte before an ASCII byte */
    FIX("\xc3(", R "(");
}

static void test_dup_copy_cut(void **state)
{
    (void)state;
    assert_null(utf8_sanitize_dup(NULL));
    char *d = utf8_sanitize_dup("ok\xffok");
    assert_string_equal(d, "ok" R "ok");
    free(d);
    d = utf8_sanitize_dup("caf\xc3\xa9");
    assert_string_equal(d, "caf\xc3\xa9");
    free(d);

    char buf[6];
    /* "ab" + U+FFFD (3 bytes) fits 5 + NUL */
    utf8_sanitize_copy(buf, sizeof(buf), "ab\xff");
    assert_string_equal(buf, "ab" R);
    /* "abc" + U+FFFD does not: the replacement is dropped whole */
    utf8_sanitize_copy(buf, sizeof(buf), "abc\xff");
    assert_string_equal(buf, "abc");
    utf8_sanitize_copy(buf, sizeof(buf), "\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
    assert_string_equal(buf, "\xf0\x9f\x98\x80");
    utf8_sanitize_copy(buf, sizeof(buf), NULL);
    assert_string_equal(buf, "");

    const char *s = "a\xf0\x9f\x98\x80" "b";
    assert_int_equal(utf8_cut(s, 6, 0), 0);
    assert_int_equal(utf8_cut(s, 6, 1), 1);
    for (size_t max = 2; max < 5; max++)
        assert_int_equal(utf8_cut(s, 6, max), 1);   /* never splits */
    assert_int_equal(utf8_cut(s, 6, 5), 5);
    assert_int_equal(utf8_cut(s, 6, 99), 6);
}

/* Every JSON string written is valid JSON in well-formed UTF-8 that a
 * strict decoder reads back. */
static void test_json_writer(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    strbuf_add_json_str(&sb, "n\xff\xc0\xafm\xed\xa0\x80" "e\x1b[31m\x07"
                             "\x7f\xc2\x9b\xe2\x82\xac");
    assert_true(utf8_valid(sb.buf, sb.len));
    assert_string_equal(sb.buf, "\"n" R R R "m" R R R "e\\u001b[31m\\u0007"
                                "\\u007f\\u009b\xe2\x82\xac\"");
    cJSON *j = cJSON_Parse(sb.buf);
    assert_non_null(j);
    cJSON_Delete(j);
    strbuf_reset(&sb);
    /* the simulator's writer keeps the bytes */
    jw_str_bytes(&sb, NULL, "n\xff" "e\x1b");
    assert_string_equal(sb.buf, "\"n\xff" "e\\u001b\"");
    strbuf_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_overlong),
        cmocka_unit_test(test_surrogates),
        cmocka_unit_test(test_above_max),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_dup_copy_cut),
        cmocka_unit_test(test_json_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
