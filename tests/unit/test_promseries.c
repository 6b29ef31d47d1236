/*
 * test_promseries.c - promtool series notation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "engine/promseries.h"

static void expect(const char *text, const char *want)
{
    struct promseries s;
    char err[200];
    assert_int_equal(promseries_parse(text, &s, err, sizeof(err)), 0);
    char got[1000] = "";
    size_t off = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.present[i])
            off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%g",
                                    i ? " " : "", s.values[i]);
        else
            off += (size_t)snprintf(got + off, sizeof(got) - off, "%s_",
                                    i ? " " : "");
    }
    assert_string_equal(got, want);
    promseries_free(&s);
}

static void test_forms(void **state)
{
    expect("1 2 3", "1 2 3");
    expect("1000x5", "1000 1000 1000 1000 1000 1000");
    expect("0x3", "0 0 0 0");           /* not hexadecimal 3 */
    expect("1e3x1 2.5e-1", "1000 1000 0.25");
    expect("1+1x3", "1 2 3 4");
    expect("10-2x2", "10 8 6");
    expect("0.5+0.25x2", "0.5 0.75 1");
    expect("_", "_");
    expect("_x3", "_ _ _");
    expect("1 _x2 5+5x1", "1 _ _ 5 10");
    expect("10k 2.5M 1G", "10000 2.5e+06 1e+09");
    expect("  7  ", "7");
    expect("", "");
    expect("-3 -1+1x2", "-3 -1 0 1");
}

static void test_errors(void **state)
{
    struct promseries s;
    char err[200];
    assert_int_equal(promseries_parse("1 2 abc", &s, err, sizeof(err)), -1);
    assert_string_equal(err, "column 5: invalid series value 'abc' (expected a "
                        "number, a+bxn, axn, _ or _xn)");
    assert_int_equal(s.n, 0);
    assert_int_equal(promseries_parse("1+x3", &s, err, sizeof(err)), -1);
    assert_int_equal(promseries_parse("1+2", &s, err, sizeof(err)), -1);
    assert_int_equal(promseries_parse("1x", &s, err, sizeof(err)), -1);
    assert_int_equal(promseries_parse("1x-2", &s, err, sizeof(err)), -1);
    assert_int_equal(promseries_parse("_y", &s, err, sizeof(err)), -1);
    assert_int_equal(promseries_parse("1x99999999", &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "invalid") ? err : strstr(err, "longer"));
    assert_int_equal(promseries_parse("1x60000 1x60000", &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer than"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
