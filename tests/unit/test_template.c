/*
 * test_template.c - template compile errors and rendering (golden strings).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/template.h"

struct ctx { const char *names[8]; double nums[8]; const char *strs[8]; };

static bool num(void *ud, const char *name, double *out)
{
    struct ctx *c = ud;
    for (int i = 0; c->names[i]; i++)
        if (strcmp(c->names[i], name) == 0 && !c->strs[i]) {
            *out = c->nums[i];
            return true;
        }
    return false;
}

static bool str(void *ud, const char *name, const char **out)
{
    struct ctx *c = ud;
    for (int i = 0; c->names[i]; i++)
        if (strcmp(c->names[i], name) == 0 && c->strs[i]) {
            *out = c->strs[i];
            return true;
        }
    return false;
}

static struct ctx demo = {
    { "value", "attempted", "source", "destination", "window", "p95", "nan", NULL },
    { 0.0241, 48329, 0, 0, 3600, 1.87, NAN, 0 },
    { NULL, NULL, "web_prod", "Amplitude \"prod\"", NULL, NULL, NULL, NULL },
};

static char *render(const char *src)
{
    struct template_error err;
    struct template *t = template_compile(src, NULL, NULL, &err);
    assert_non_null(t);
    struct strbuf sb = STRBUF_INIT;
    struct template_lookup lk = { num, str, &demo };
    template_render(t, &lk, &sb);
    template_free(t);
    return strbuf_detach(&sb);
}

#define RENDERS(src, want) do { char *got_ = render(src); \
    assert_string_equal(got_, want); free(got_); } while (0)

static void test_render(void **state)
{
    RENDERS("{{destination}} discards {{value|pct}} of events from {{source}}",
            "Amplitude \"prod\" discards 2.41% of events from web_prod");
    RENDERS("{{value|pct}} of {{attempted|si}} attempted in the last {{window|dur}}.",
            "2.41% of 48.3k attempted in the last 1h.");
    RENDERS("p95 {{ p95 | round:1 }}s", "p95 1.9s");
    RENDERS("{{source|upper}}", "WEB_PROD");
    RENDERS("{{destination|json}}", "\"Amplitude \\\"prod\\\"\"");
    RENDERS("{{missing}}|{{nan|pct}}|{{attempted}}", "|n/a|48329");
    RENDERS("no placeholders", "no placeholders");
    RENDERS("", "");
    RENDERS("{{value}}", "0.0241");
    RENDERS("{{value|round:0}}", "0");
    /* default:TEXT for names without a value (a workspace-wide series has
     * no source) */
    RENDERS("{{missing|default:all sources}} now", "all sources now");
    RENDERS("{{source|default:all sources}}", "web_prod");
    RENDERS("{{nan|default: none }}|x", "none|x");
    RENDERS("{{missing|default:n/a|upper}}", "N/A");
}

static bool only_known(void *ud, const char *name)
{
    return template_builtin_name(name) || strcmp(name, "source") == 0;
}

static void expect_error(const char *src, int col, const char *msg)
{
    struct template_error err;
    struct template *t = template_compile(src, only_known, NULL, &err);
    assert_null(t);
    assert_int_equal(err.col, col);
    assert_string_equal(err.msg, msg);
}

static void test_errors(void **state)
{
    expect_error("{{value|pc}}", 9, "unknown filter 'pc' (filters: pct, si, dur, round:N, upper, json, default:TEXT)");
    expect_error("{{value|default}}", 16, "filter 'default' needs a text, e.g. default:all sources");
    expect_error("x {{sourse}}", 5, "unknown name 'sourse' in template");
    expect_error("{{value", 1, "'{{' without a closing '}}'");
    expect_error("{{}}", 3, "expected a name after '{{'");
    expect_error("{{value|round}}", 14, "filter 'round' needs a digit argument, e.g. round:2");
    expect_error("{{value value}}", 9, "unexpected 'v' in placeholder");
}

static void test_formats(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    template_format_pct(0.002, &sb); assert_string_equal(sb.buf, "0.2%"); strbuf_reset(&sb);
    template_format_pct(0.25, &sb); assert_string_equal(sb.buf, "25.0%"); strbuf_reset(&sb);
    template_format_si(2500000, &sb); assert_string_equal(sb.buf, "2.5M"); strbuf_reset(&sb);
    template_format_si(950, &sb); assert_string_equal(sb.buf, "950"); strbuf_reset(&sb);
    template_format_number(INFINITY, &sb); assert_string_equal(sb.buf, "+Inf");
    strbuf_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
