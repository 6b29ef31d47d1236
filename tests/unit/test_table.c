/*
 * test_table.c - the terminal tables of cmd/table.h: padding to the widest
 * cell in UTF-8 characters, "-" for empty cells, control characters as
 * spaces and long cells cut with "...".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cmd/table.h"

static void test_layout(void **state)
{
    (void)state;
    struct table t;
    table_init(&t, 3);
    table_row(&t, "ID", "NAME", "NOTE");
    table_row(&t, "1", "caf\xc3\xa9", NULL);
    table_row(&t, "22", "a\nb", "");
    struct strbuf out = STRBUF_INIT;
    table_write(&t, &out);
    /* "café" is 4 characters wide although 5 bytes; the last column is
     * not padded */
    assert_string_equal(strbuf_str(&out), "ID  NAME  NOTE\n"
                                          "1   caf\xc3\xa9  -\n"
                                          "22  a b   -\n");
    strbuf_free(&out);
    table_free(&t);
    assert_int_equal(t.nrows, 0);
    table_free(&t);
}

static void test_long_cells(void **state)
{
    (void)state;
    char exact[TABLE_CELL_MAX + 1], longer[TABLE_CELL_MAX + 2];
    memset(exact, 'x', TABLE_CELL_MAX);
    exact[TABLE_CELL_MAX] = '\0';
    memset(longer, 'y', TABLE_CELL_MAX + 1);
    longer[TABLE_CELL_MAX + 1] = '\0';
    struct table t;
    table_init(&t, 1);
    table_row(&t, exact);
    table_row(&t, longer);
    struct strbuf out = STRBUF_INIT;
    table_write(&t, &out);
    const char *nl = strchr(strbuf_str(&out), '\n');
    assert_non_null(nl);
    /* a cell of exactly the limit is kept whole */
    assert_int_equal(nl - strbuf_str(&out), TABLE_CELL_MAX);
    const char *second = nl + 1;
    assert_int_equal(strlen(second), TABLE_CELL_MAX + 1);
    assert_memory_equal(second + TABLE_CELL_MAX - 3, "...\n", 4);
    strbuf_free(&out);
    table_free(&t);
}

/* A wide table (status --wide) keeps long cells whole; control
 * characters still print as spaces. */
static void test_wide(void **state)
{
    (void)state;
    char longer[3 * TABLE_CELL_MAX + 1];
    memset(longer, 'y', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    longer[5] = '\033';
    struct table t;
    table_init(&t, 1);
    table_set_wide(&t, true);
    table_row(&t, longer);
    struct strbuf out = STRBUF_INIT;
    table_write(&t, &out);
    assert_int_equal(out.len, sizeof(longer));     /* the cell and '\n' */
    assert_null(strstr(strbuf_str(&out), "..."));
    assert_int_equal(strbuf_str(&out)[5], ' ');
    strbuf_free(&out);
    table_free(&t);
}

/* Terminal escapes from a name (ESC, BEL, DEL, the C1 CSI) print as
 * spaces: a table of alerts cannot recolour or retitle the terminal. */
static void test_escapes(void **state)
{
    (void)state;
    struct table t;
    table_init(&t, 2);
    table_row(&t, "a\x1b[31mb\x07" "c", "d\xc2\x9b" "2Je\x7f");
    struct strbuf out = STRBUF_INIT;
    table_write(&t, &out);
    assert_string_equal(strbuf_str(&out), "a [31mb c  d 2Je \n");
    strbuf_free(&out);
    table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_long_cells),
        cmocka_unit_test(test_wide),
        cmocka_unit_test(test_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
