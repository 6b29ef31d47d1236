/* test_expr.c - rule expressions: lexing, precedence, semantics, window
 * functions over a real store, forecasting, and every compile error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr.h"
#include "engine/labels.h"
#include "engine/store.h"

#define assert_near(a, b, eps) near_impl((a), (b), (eps), __LINE__)
static void near_impl(double a, double b, double eps, int line)
{
    if (!(fabs(a - b) <= eps) && !(a == b))
        fail_msg("line %d: %.17g != %.17g (eps %g)", line, a, b, eps);
}

/* ---- fixtures ---------------------------------------------------------- */

#define T0 1780000000.0     /* an hour boundary */
#define HOUR 3600.0
#define DAY 86400.0

static struct label_pool *pool;
static struct store *st;
static struct series *conn_ok;      /* healthy connection */
static struct series *conn_bad;     /* 5% discards */
static struct series *conn_zero;    /* attempted 0: no ratios */
static struct series *vol;          /* hourly volume 100+h, h=0..192 */
static struct series *vol_drop;     /* same but the last hour is 50 */
static struct series *usage_line;   /* mtu = 1000 per day, days 0..9 */
static struct series *usage_flat;   /* mtu flat 5000 */
static struct series *usage_noisy;  /* api_calls 1 3 2 5 at +0..+300s */
static double now_vol, now_usage;

static const struct labelset *mk(const char *src, const char *dst)
{
    struct labels_builder b;
    labels_builder_init(&b, pool);
    labels_builder_add(&b, "source", src);
    if (dst)
        labels_builder_add(&b, "destination", dst);
    const struct labelset *ls = labels_builder_finish(&b);
    labels_builder_free(&b);
    return ls;
}

static void add1(struct series *s, double t, enum metric_id m, double v)
{
    double vals[M__COUNT] = { 0 };
    bool has[M__COUNT] = { false };
    vals[m] = v;
    has[m] = true;
    store_add(st, s, t, vals, has);
}

static void add_conn(struct series *s, double t, double succ, double disc,
                     double after_retry, double p95)
{
    double v[M__COUNT] = { 0 };
    bool has[M__COUNT] = { false };
    v[M_SUCCESSES] = succ;
    v[M_DISCARDED] = disc;
    v[M_EXPIRED] = 0;
    v[M_SUCCESSES_AFTER_RETRY] = after_retry;
    v[M_TIME_TO_SUCCESS_P95] = p95;
    has[M_SUCCESSES] = has[M_DISCARDED] = has[M_EXPIRED] = true;
    has[M_SUCCESSES_AFTER_RETRY] = has[M_TIME_TO_SUCCESS_P95] = true;
    metrics_derive(v, has);
    store_add(st, s, t, v, has);
}

static int setup(void **state)
{
    struct store_limits lim = { 0 };
    lim.retention_s[FAM_CONNECTION] = 2 * HOUR;
    lim.retention_s[FAM_SOURCE] = 8 * DAY + HOUR;
    lim.retention_s[FAM_USAGE] = 40 * DAY;
    lim.spacing_s[FAM_CONNECTION] = 300;
    lim.spacing_s[FAM_SOURCE] = HOUR;
    lim.spacing_s[FAM_USAGE] = DAY;
    pool = label_pool_new();
    st = store_new(&lim);
    conn_ok = store_get_or_add(st, FAM_CONNECTION, mk("web", "Amplitude"));
    conn_bad = store_get_or_add(st, FAM_CONNECTION, mk("web", "Mixpanel"));
    conn_zero = store_get_or_add(st, FAM_CONNECTION, mk("web", "S3"));
    add_conn(conn_ok, T0, 1000, 1, 50, 2.5);
    add_conn(conn_bad, T0, 950, 50, 150, 400);
    add_conn(conn_zero, T0, 0, 0, 0, 0);
    vol = store_get_or_add(st, FAM_SOURCE, mk("web", NULL));
    vol_drop = store_get_or_add(st, FAM_SOURCE, mk("ios", NULL));
    for (int h = 0; h <= 192; h++) {
        add1(vol, T0 + h * HOUR, M_EVENT_VOLUME, 100 + h);
        add1(vol_drop, T0 + h * HOUR, M_EVENT_VOLUME, h == 192 ? 50 : 100 + h);
    }
    now_vol = T0 + 192 * HOUR;
    usage_line = store_get_or_add(st, FAM_USAGE, mk("web", NULL));
    usage_flat = store_get_or_add(st, FAM_USAGE, mk("ios", NULL));
    usage_noisy = store_get_or_add(st, FAM_USAGE, mk("android", NULL));
    for (int d = 0; d <= 9; d++) {
        add1(usage_line, T0 + d * DAY, M_MTU, 1000.0 * d);
        add1(usage_flat, T0 + d * DAY, M_MTU, 5000);
    }
    now_usage = T0 + 9 * DAY;
    add1(usage_noisy, now_usage - 300, M_API_CALLS, 1);
    add1(usage_noisy, now_usage - 200, M_API_CALLS, 3);
    add1(usage_noisy, now_usage - 100, M_API_CALLS, 2);
    add1(usage_noisy, now_usage, M_API_CALLS, 5);
    return 0;
}

static int teardown(void **state)
{
    store_free(st);
    label_pool_free(pool);
    return 0;
}

/* ---- helpers ----------------------------------------------------------- */

static double var_values[EXPR_VAR__COUNT] = { 20000, 1e6, 9 * DAY, 21 * DAY };
static const struct expr_vars vars = { var_values, EXPR_VAR__COUNT };

static struct expr *compile_ok(const char *src)
{
    struct expr_error err;
    struct expr *e = expr_compile(src, &expr_env_std, &err);
    if (!e)
        fail_msg("'%s' failed to compile: col %d: %s", src, err.col, err.msg);
    return e;
}

static struct expr_result ev(const char *src, const struct series *s,
                             double now)
{
    struct expr *e = compile_ok(src);
    struct expr_result r = expr_eval(e, s, now, &vars);
    expr_free(e);
    return r;
}

/* value of an expression without comparison, no series */
static double num(const char *src)
{
    struct expr_result r = ev(src, NULL, 0);
    return r.value;
}

#define assert_num(src, want) \
    assert_near(num(src), (double)(want), 1e-9 * fabs((double)(want)))

static void check_result(const char *src, const struct series *s, double now,
                         bool cond, bool nodata, double value, int line)
{
    struct expr_result r = ev(src, s, now);
    if (r.cond != cond || r.nodata != nodata ||
        !((isnan(value) && isnan(r.value)) || r.value == value ||
          fabs(r.value - value) <= 1e-9 * fabs(value)))
        fail_msg("line %d: '%s': got cond=%d nodata=%d value=%.17g, want "
                 "cond=%d nodata=%d value=%.17g", line, src, r.cond, r.nodata,
                 r.value, cond, nodata, value);
}
#define check(src, s, now, cond, nodata, value) \
    check_result((src), (s), (now), (cond), (nodata), (value), __LINE__)

static void check_error(const char *src, int line, int col, const char *msg,
                        const char *excerpt, int at)
{
    struct expr_error err;
    struct expr *e = expr_compile(src, &expr_env_std, &err);
    if (e) {
        expr_free(e);
        fail_msg("line %d: '%s' compiled but should fail with: %s", at, src,
                 msg);
    }
    if (err.line != line || err.col != col || strcmp(err.msg, msg) != 0)
        fail_msg("line %d: '%s':\n got  %d:%d: %s\n want %d:%d: %s", at, src,
                 err.line, err.col, err.msg, line, col, msg);
    if (excerpt) {
        struct strbuf sb = STRBUF_INIT;
        expr_error_excerpt(&err, src, &sb);
        if (strcmp(strbuf_str(&sb), excerpt) != 0)
            fail_msg("line %d: excerpt\n%s\nwant\n%s", at, strbuf_str(&sb),
                     excerpt);
        strbuf_free(&sb);
    }
}
#define check_err(src, col, msg, excerpt) \
    check_error((src), 1, (col), (msg), (excerpt), __LINE__)

/* ---- tests ------------------------------------------------------------- */

static void test_units(void **state)
{
    assert_num("5%", 0.05);
    assert_num("0.5%", 0.005);
    assert_num("300ms", 0.3);
    assert_num("30s", 30);
    assert_num("5m", 300);
    assert_num("2h", 7200);
    assert_num("7d", 604800);
    assert_num("1w", 604800);
    assert_num("1h30m", 5400);
    assert_num("10k", 10000);
    assert_num("2.5M", 2500000);
    assert_num("1G", 1e9);
    assert_num("42", 42);
    assert_num(".5", 0.5);
    assert_num("1e3", 1000);
    assert_num("1.5e-3", 0.0015);
    assert_num("0", 0);
}

static void test_precedence(void **state)
{
    assert_num("1 + 2 * 3", 7);
    assert_num("(1 + 2) * 3", 9);
    assert_num("2 - 3 - 4", -5);           /* left-associative */
    assert_num("8 / 2 / 2", 2);
    assert_num("-2 * 3", -6);
    assert_num("2 * -3", -6);
    assert_num("- (2 + 3)", -5);
    assert_num("--3", 3);
    assert_num("-2 - -2", 0);
    assert_num("1 + 2 * 3 - 4 / 2", 5);
    assert_num("2 * (3 + 4) * 5", 70);
    /* comparison binds looser than arithmetic */
    check("1 + 2 > 2 * 1", NULL, 0, true, false, 3);
    /* not binds looser than comparison: not (1 > 2) */
    check("not 1 > 2", NULL, 0, true, false, 1);
    /* and binds tighter than or */
    check("1 > 2 or 3 > 2 and 0 > 1", NULL, 0, false, false, 1);
    check("3 > 2 or 1 > 2 and 0 > 1", NULL, 0, true, false, 3);
    check("(3 > 2 or 1 > 2) and 0 > 1", NULL, 0, false, false, 3);
    /* not binds tighter than and */
    check("not 0 and 0", NULL, 0, false, false, 0);
    check("not (0 and 0)", NULL, 0, true, false, 1);
    check("not not 5", NULL, 0, true, false, 1);
    /* whitespace-insensitive */
    check("1+2>2*1", NULL, 0, true, false, 3);
    check("  1 \n+\t2 >\r\n 2 ", NULL, 0, true, false, 3);
}

static void test_comparisons(void **state)
{
    check("1 < 2", NULL, 0, true, false, 1);
    check("2 < 2", NULL, 0, false, false, 2);
    check("2 <= 2", NULL, 0, true, false, 2);
    check("3 <= 2", NULL, 0, false, false, 3);
    check("3 > 2", NULL, 0, true, false, 3);
    check("2 > 2", NULL, 0, false, false, 2);
    check("2 >= 2", NULL, 0, true, false, 2);
    check("1 >= 2", NULL, 0, false, false, 1);
    check("2 == 2", NULL, 0, true, false, 2);
    check("2 == 3", NULL, 0, false, false, 2);
    check("2 != 3", NULL, 0, true, false, 2);
    check("2 != 2", NULL, 0, false, false, 2);
    /* booleans are 1/0 and can be compared or computed with */
    assert_num("(2 > 1) + (3 > 1) + (0 > 1)", 2);
    /* a plain expression: cond is its truth */
    check("0", NULL, 0, false, false, 0);
    check("0.1", NULL, 0, true, false, 0.1);
}

static void test_nodata_logic(void **state)
{
    /* $mtu_limit is NaN in these vars: unknown */
    double vv[EXPR_VAR__COUNT] = { NAN, 1, 2, 3 };
    struct expr_vars nv = { vv, EXPR_VAR__COUNT };
    struct {
        const char *src;
        bool cond, nodata;
    } cases[] = {
        { "$mtu_limit > 1", false, true },
        { "$mtu_limit > 1 and 1 > 2", false, false },  /* false decides */
        { "1 > 2 and $mtu_limit > 1", false, false },
        { "$mtu_limit > 1 and 2 > 1", false, true },
        { "$mtu_limit > 1 or 2 > 1", true, false },    /* true decides */
        { "2 > 1 or $mtu_limit > 1", true, false },
        { "$mtu_limit > 1 or 1 > 2", false, true },
        { "not $mtu_limit > 1", false, true },
        { "not ($mtu_limit > 1 and 1 > 2)", true, false },
        { "$mtu_limit + 1", false, true },
        { "$mtu_limit * 0", false, true },
        { "$mtu_limit == $mtu_limit", false, true },
        { "$api_calls_limit > 0", true, false },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct expr *e = compile_ok(cases[i].src);
        struct expr_result r = expr_eval(e, NULL, 0, &nv);
        if (r.cond != cases[i].cond || r.nodata != cases[i].nodata)
            fail_msg("'%s': cond=%d nodata=%d", cases[i].src, r.cond,
                     r.nodata);
        expr_free(e);
    }
    /* division by zero is no data, not inf */
    check("1 / 0", NULL, 0, false, true, NAN);
    check("1 / 0 > 0", NULL, 0, false, true, NAN);
    check("0 / 0 < 1", NULL, 0, false, true, NAN);
    check("successes / (discarded - 1) > 0", conn_ok, T0, false, true, NAN);
    check("1 / 0 > 0 or 1 > 0", NULL, 0, true, false, NAN);
    /* metrics need a series */
    check("successes > 1", NULL, T0, false, true, NAN);
    /* a series of another family has none of these metrics */
    check("successes > 1", vol, T0, false, true, NAN);
    /* vars NULL or short: no value */
    struct expr *e = compile_ok("$period_remaining > 0");
    struct expr_result r = expr_eval(e, NULL, 0, NULL);
    assert_true(r.nodata && !r.cond);
    struct expr_vars shortv = { var_values, 2 };
    r = expr_eval(e, NULL, 0, &shortv);
    assert_true(r.nodata && !r.cond);
    r = expr_eval(e, NULL, 0, &vars);
    assert_true(!r.nodata && r.cond && r.value == 21 * DAY);
    expr_free(e);
}

static void test_rule_value(void **state)
{
    double r_bad = 50.0 / 1000;
    check("discard_ratio > 2% and attempted >= 100", conn_bad, T0, true,
          false, r_bad);
    check("discard_ratio > 2% and attempted >= 100", conn_ok, T0, false,
          false, 1.0 / 1001);
    check("attempted >= 100 and discard_ratio > 2%", conn_bad, T0, true,
          false, 1000);
    /* value of a parenthesised / arithmetic LHS */
    check("(successes + 50) * 2 > 3", conn_bad, T0, true, false, 2000);
    check("not (attempted < 5)", conn_bad, T0, true, false, 1000);
    /* first in source order, even when nested on the right */
    check("1 + (successes > 1)", conn_bad, T0, true, false, 950);
    check("successes * 2", conn_bad, T0, true, false, 1900);
    /* attempted 0: ratio has no value, but the second test decides */
    check("discard_ratio > 2% and attempted >= 100", conn_zero, T0, false,
          false, NAN);
    check("discard_ratio > 2%", conn_zero, T0, false, true, NAN);
    check("discard_ratio > 2% or attempted < 100", conn_zero, T0, true, false,
          NAN);
    check("attempted", conn_zero, T0, false, false, 0);
    check("retry_ratio > 10% and successes >= 100", conn_bad, T0, true, false,
          150.0 / 950);
    check("time_to_success_p95 > 5m", conn_bad, T0, true, false, 400);
    check("time_to_success_p95 > 5m", conn_ok, T0, false, false, 2.5);
    /* last(m) is the bare metric */
    check("last(successes) == successes", conn_bad, T0, true, false, 950);
    /* metric absent from the newest row */
    check("expired == 0", conn_bad, T0, true, false, 0);
    check("successes_first_attempt > 0", conn_bad, T0, false, true, NAN);
}

static void test_window_functions(void **state)
{
    double n = now_vol;     /* newest sample h=192, value 292 */
    check("sum(event_volume, 1h)", vol, n, true, false, 292);
    check("sum(event_volume, 2h)", vol, n, true, false, 292 + 291);
    check("sum(event_volume, 1h, 7d)", vol, n, true, false, 124);
    check("sum(event_volume, 1h, 1w)", vol, n, true, false, 124);
    check("sum(event_volume, 1h, 1d)", vol, n, true, false, 268);
    check("avg(event_volume, 3h)", vol, n, true, false, 291);
    check("avg(event_volume, 3h, 2h)", vol, n, true, false, 289);
    check("min(event_volume, 3h)", vol, n, true, false, 290);
    check("max(event_volume, 3h)", vol, n, true, false, 292);
    check("max(event_volume, 3h, 7d)", vol, n, true, false, 124);
    check("count(event_volume, 1d)", vol, n, true, false, 24);
    check("count(event_volume, 1d, 1d)", vol, n, true, false, 24);
    check("last(event_volume, 1d, 1h)", vol, n, true, false, 291);
    check("delta(event_volume, 3h)", vol, n, true, false, 2);
    check("delta(event_volume, 1d, 7d)", vol, n, true, false, 23);
    check("rate(event_volume, 3h)", vol, n, true, false, 2.0 / 7200);
    /* evaluation time between samples: window (now-1h, now] */
    check("sum(event_volume, 1h)", vol, n + 1800, true, false, 292);
    check("sum(event_volume, 1h)", vol, n + HOUR, false, true, NAN);
    /* empty windows: no value; count 0 with data */
    check("sum(event_volume, 1h, 30d)", vol, n, false, true, NAN);
    check("avg(event_volume, 1h, 30d) > 0", vol, n, false, true, NAN);
    check("count(event_volume, 1h, 30d)", vol, n, false, false, 0);
    check("count(event_volume, 1h, 30d) == 0", vol, n, true, false, 0);
    check("delta(event_volume, 1h)", vol, n, false, true, NAN);
    check("rate(event_volume, 1h) > 0", vol, n, false, true, NAN);
    /* week-over-week drop rule */
    const char *drop = "sum(event_volume,1h) < 0.5 * sum(event_volume,1h,7d)";
    check(drop, vol, n, false, false, 292);
    check(drop, vol_drop, n, true, false, 50);
    check(drop, vol, n + 8 * DAY, false, true, NAN);
    /* connection windows */
    check("sum(successes, 1h) + sum(discarded, 1h) == attempted", conn_bad,
          T0, true, false, 1000);
}

static void test_forecast_timeleft(void **state)
{
    double n = now_usage;   /* mtu = 1000/day, 9000 now */
    check("forecast(mtu, 7d, 3d)", usage_line, n, true, false, 12000);
    check("forecast(mtu, 7d, 0)", usage_line, n, true, false, 9000);
    check("forecast(mtu, 7d, $period_remaining) > $mtu_limit", usage_line, n,
          true, false, 30000);
    check("forecast(mtu, 7d, 1d + 1d) > 10k", usage_line, n, true, false,
          11000);
    check("timeleft(mtu, 7d, 15000)", usage_line, n, true, false, 6 * DAY);
    check("timeleft(mtu, 7d, $mtu_limit) < $period_remaining", usage_line, n,
          true, false, 11 * DAY);
    /* already past in the direction of travel */
    check("timeleft(mtu, 7d, 5000)", usage_line, n, false, false, 0);
    check("timeleft(mtu, 7d, 5000) < 1d", usage_line, n, true, false, 0);
    /* a flat line never reaches: +inf, which is data */
    check("timeleft(mtu, 7d, 9000) > 1000d", usage_flat, n, true, false,
          INFINITY);
    check("timeleft(mtu, 7d, 9000) < 3d", usage_flat, n, false, false,
          INFINITY);
    check("forecast(mtu, 30d, 1w)", usage_flat, n, true, false, 5000);
    /* hand-computed least squares: y = 1 3 2 5 at x = 0 100 200 300,
     * b = 0.011, a = 1.1 (t0 = now - 300) */
    check("forecast(api_calls, 400s, 200s)", usage_noisy, n, true, false,
          1.1 + 0.011 * 500);
    check("timeleft(api_calls, 400s, 10)", usage_noisy, n, true, false,
          (10 - 4.4) / 0.011);
    /* the window limits the fit: (now-250, now] -> 3 2 5 */
    check("forecast(api_calls, 250s, 0)", usage_noisy, n, true, false,
          7.0 / 3 + 0.01 * 200);
    /* one sample, unknown horizon / threshold: no value */
    check("forecast(api_calls, 50s, 1h)", usage_noisy, n, false, true, NAN);
    check("timeleft(api_calls, 50s, 1)", usage_noisy, n, false, true, NAN);
    double vv[EXPR_VAR__COUNT] = { NAN, NAN, NAN, NAN };
    struct expr_vars nv = { vv, EXPR_VAR__COUNT };
    struct expr *e = compile_ok("forecast(mtu, 7d, $period_remaining) > 1");
    struct expr_result r = expr_eval(e, usage_line, n, &nv);
    assert_true(r.nodata && !r.cond && isnan(r.value));
    expr_free(e);
    e = compile_ok("timeleft(mtu, 7d, $mtu_limit) < 3d");
    r = expr_eval(e, usage_line, n, &nv);
    assert_true(r.nodata && !r.cond);
    expr_free(e);
}

static void test_introspection(void **state)
{
    struct expr *e = compile_ok(
        "sum(event_volume,1h) < 0.5 * sum(event_volume,1h,7d)");
    assert_int_equal(expr_family(e), FAM_SOURCE);
    assert_true(expr_max_lookback(e) == 7 * DAY + HOUR);
    assert_true(expr_uses_metric(e, M_EVENT_VOLUME));
    assert_false(expr_uses_metric(e, M_SUCCESSES));
    assert_false(expr_uses_metric(e, (enum metric_id)-1));
    assert_false(expr_uses_metric(e, M__COUNT));
    assert_string_equal(expr_source(e),
                        "sum(event_volume,1h) < 0.5 * sum(event_volume,1h,7d)");
    expr_free(e);

    e = compile_ok("discard_ratio > 2% and attempted >= 100");
    assert_int_equal(expr_family(e), FAM_CONNECTION);
    assert_true(expr_max_lookback(e) == 0);
    assert_true(expr_uses_metric(e, M_DISCARD_RATIO));
    assert_true(expr_uses_metric(e, M_ATTEMPTED));
    struct strbuf sb = STRBUF_INIT;
    expr_dump(e, &sb);
    assert_string_equal(sb.buf, "latest(discard_ratio) capture const(0.02) gt "
                        "latest(attempted) const(100) ge and");
    strbuf_free(&sb);
    expr_free(e);

    e = compile_ok("forecast(mtu, 30d, $period_remaining) > $mtu_limit and "
                   "delta(api_calls, 1d, 2d) > 0");
    assert_int_equal(expr_family(e), FAM_USAGE);
    assert_true(expr_max_lookback(e) == 30 * DAY);
    expr_free(e);

    e = compile_ok("1 > 2");
    assert_int_equal(expr_family(e), -1);
    expr_free(e);

    /* without an env, variables are unknown; err may be NULL */
    assert_null(expr_compile("$mtu_limit > 1", NULL, NULL));
    assert_null(expr_compile(NULL, NULL, NULL));
    expr_free(NULL);
}

static void test_errors_names(void **state)
{
    check_err("discard_ratoi > 2%", 1,
              "unknown metric 'discard_ratoi' (did you mean 'discard_ratio'?)",
              "discard_ratoi > 2%\n^");
    check_err("attempted >= 100 and discard_ratoi > 2%", 22,
              "unknown metric 'discard_ratoi' (did you mean 'discard_ratio'?)",
              "attempted >= 100 and discard_ratoi > 2%\n"
              "                     ^");
    check_err("zzzzzzzzzzzz > 1", 1, "unknown metric 'zzzzzzzzzzzz'", NULL);
    check_err("sum(event_volume, 1h) > 0 and discarded > 1", 31,
              "mixes metric families: 'event_volume' (source) and "
              "'discarded' (connection)",
              "sum(event_volume, 1h) > 0 and discarded > 1\n"
              "                              ^");
    check_err("mtu > 1 or avg(successes, 1h) > 0", 16,
              "mixes metric families: 'mtu' (usage) and 'successes' "
              "(connection)", NULL);
    check_err("$mtu_limt > 1", 1,
              "unknown variable '$mtu_limt' (did you mean '$mtu_limit'?)",
              "$mtu_limt > 1\n^");
    check_err("mtu > $nothing_like_it", 7, "unknown variable '$nothing_like_it'",
              NULL);
    check_err("$ > 1", 1, "expected a variable name after '$'", NULL);
    check_err("avgg(successes, 1h) > 1", 1,
              "unknown function 'avgg' (did you mean 'avg'?)", NULL);
    check_err("mtu > frobnicate(mtu, 1h)", 7,
              "unknown function 'frobnicate' (functions: avg min max sum "
              "count last delta rate forecast timeleft)", NULL);
    check_err("successes(1h) > 1", 1, "'successes' is a metric, not a function",
              NULL);
    check_err("avg > 1", 1,
              "function 'avg' needs arguments: avg(metric, window[, offset])",
              NULL);
    check_err("successes > 1 AND attempted > 1", 15,
              "unexpected 'AND' (keywords are lowercase: 'and')", NULL);
    check_err("NOT successes > 1", 1,
              "unknown metric 'NOT' (keywords are lowercase: 'not')", NULL);
}

static void test_errors_calls(void **state)
{
    const char *avg_usage = "avg(metric, window[, offset])";
    char msg[128];
    snprintf(msg, sizeof(msg), "avg() takes more arguments: %s", avg_usage);
    check_err("avg(successes) > 1", 1, msg, "avg(successes) > 1\n^");
    snprintf(msg, sizeof(msg), "avg() takes arguments: %s", avg_usage);
    check_err("avg() > 1", 1, msg, NULL);
    snprintf(msg, sizeof(msg), "avg() takes at most 3 arguments: %s",
             avg_usage);
    check_err("avg(successes, 1h, 1d, 2d) > 1", 1, msg, NULL);
    check_err("1 < avg(2, 1h)", 9,
              "first argument of avg() must be a metric name",
              "1 < avg(2, 1h)\n        ^");
    check_err("avg(successes * 2, 1h) > 1", 5,
              "first argument of avg() must be a metric name", NULL);
    check_err("avg(last(successes), 1h) > 1", 5,
              "first argument of avg() must be a metric name", NULL);
    check_err("avg(successes, 0s) > 1", 16,
              "window of avg() must be a positive duration such as 1h",
              "avg(successes, 0s) > 1\n               ^");
    check_err("avg(successes, -5m) > 1", 16,
              "window of avg() must be a positive duration such as 1h", NULL);
    check_err("avg(successes, $mtu_limit) > 1", 16,
              "window of avg() must be a constant duration such as 1h", NULL);
    check_err("avg(successes, 1h + 1h) > 1", 19,
              "expected ')' to close avg()", NULL);
    check_err("sum(successes, 1h, -1d) > 1", 20,
              "offset of sum() must be a non-negative duration such as 7d",
              NULL);
    check_err("sum(successes, 1h, attempted) > 1", 20,
              "offset of sum() must be a constant duration such as 7d", NULL);
    check_err("sum(discard_ratoi, 1h) > 1", 5,
              "unknown metric 'discard_ratoi' (did you mean 'discard_ratio'?)",
              NULL);
    check_err("forecast(mtu, 7d) > 1", 1,
              "forecast() takes 3 arguments: forecast(metric, window, horizon)",
              NULL);
    check_err("forecast(mtu, 7d, 1d, 2) > 1", 1,
              "forecast() takes 3 arguments: forecast(metric, window, horizon)",
              NULL);
    check_err("timeleft(mtu, $mtu_limit, 1) > 1", 15,
              "window of timeleft() must be a constant duration such as 1h",
              NULL);
    check_err("timeleft(mtu) > 1", 1,
              "timeleft() takes more arguments: timeleft(metric, window, "
              "threshold)", NULL);
    check_err("last(mtu, 0) > 1", 11,
              "window of last() must be a positive duration such as 1h", NULL);
    check_err("forecast(mtu, 7d, event_volume) > 1", 19,
              "mixes metric families: 'mtu' (usage) and 'event_volume' "
              "(source)", NULL);
}

static void test_errors_syntax(void **state)
{
    check_err("", 1, "empty expression", "\n^");
    check_err("   ", 1, "empty expression", NULL);
    check_err("(successes > 1", 1, "unbalanced parenthesis: '(' is never closed",
              "(successes > 1\n^");
    check_err("((successes > 1)", 1,
              "unbalanced parenthesis: '(' is never closed", NULL);
    check_err("successes > 1)", 14,
              "unbalanced parenthesis: ')' without matching '('",
              "successes > 1)\n             ^");
    check_err("(successes > 1 attempted)", 16,
              "expected ')' but found 'attempted'", NULL);
    check_err("successes > 1 attempted >= 100", 15,
              "unexpected 'attempted' after a complete expression (missing "
              "'and' or 'or'?)", NULL);
    check_err("successes >", 12, "unexpected end of expression: expected a "
              "value", "successes >\n           ^");
    check_err("successes > > 1", 13, "expected a number, metric, $variable, "
              "function or '(' but found '>'", NULL);
    check_err("successes > 1 and", 18, "unexpected end of expression: "
              "expected a value", NULL);
    check_err("()", 2, "expected a number, metric, $variable, function or "
              "'(' but found ')'", NULL);
    check_err("successes = 1", 11, "unexpected '=' (use '==' to compare)",
              NULL);
    check_err("!successes", 1, "unexpected '!' (use 'not')", NULL);
    check_err("successes > 1 && attempted > 1", 15, "unexpected '&' (use "
              "'and')", NULL);
    check_err("successes > 1 || attempted > 1", 15, "unexpected '|' (use "
              "'or')", NULL);
    check_err("successes # 1", 11, "unexpected character '#'", NULL);
    check_err("successes > \x01", 13, "unexpected byte 0x01", NULL);
    check_err("successes > 5x", 13,
              "invalid number '5x' (units: % ms s m h d w k M G)", NULL);
    check_err("successes > 5mm", 13,
              "invalid number '5mm' (units: % ms s m h d w k M G)", NULL);
    check_err("successes > 1e999", 13, "number '1e999' out of range", NULL);
    check_err("1 < successes < 5", 15,
              "comparisons cannot be chained: write 'a < b and b < c'", NULL);
}

static void test_errors_position(void **state)
{
    /* multi-line expressions report line and column within the line */
    check_error("successes > 1 and\n  discard_ratoi > 1", 2, 3,
                "unknown metric 'discard_ratoi' (did you mean "
                "'discard_ratio'?)", "  discard_ratoi > 1\n  ^", __LINE__);
    /* tabs are kept so the caret lines up */
    check_error("\tzzzzzzzzzzzz", 1, 2, "unknown metric 'zzzzzzzzzzzz'",
                "\tzzzzzzzzzzzz\n\t^", __LINE__);
    struct expr_error err;
    assert_null(expr_compile("mtu >\n\n  foo_bar_baz_qux", &expr_env_std,
                             &err));
    assert_int_equal(err.line, 3);
    assert_int_equal(err.col, 3);
    assert_int_equal(err.offset, 9);

    /* nesting is bounded (fuzzing, stack) */
    struct strbuf sb = STRBUF_INIT;
    for (int i = 0; i < 70; i++)
        strbuf_addc(&sb, '(');
    strbuf_adds(&sb, "1");
    for (int i = 0; i < 70; i++)
        strbuf_addc(&sb, ')');
    check_err(sb.buf, 65, "expression nested too deeply (more than 64 levels)",
              NULL);
    strbuf_reset(&sb);
    for (int i = 0; i < 100; i++)
        strbuf_adds(&sb, "-");
    strbuf_adds(&sb, "1");
    check_err(sb.buf, 65, "expression nested too deeply (more than 64 levels)",
              NULL);
    strbuf_reset(&sb);
    for (int i = 0; i < 50; i++)
        strbuf_adds(&sb, "not ");
    strbuf_adds(&sb, "1");
    struct expr *e = compile_ok(sb.buf);         /* 50 levels: fine */
    assert_true(expr_eval(e, NULL, 0, NULL).cond);
    expr_free(e);
    /* deep but legal: 60 nested parens, each with pending operands */
    strbuf_reset(&sb);
    for (int i = 0; i < 60; i++)
        strbuf_adds(&sb, "1 or 1 and 1 == 1 + 1 * (");
    strbuf_adds(&sb, "1");
    for (int i = 0; i < 60; i++)
        strbuf_addc(&sb, ')');
    e = compile_ok(sb.buf);
    assert_true(expr_eval(e, NULL, 0, NULL).cond);
    expr_free(e);
    strbuf_free(&sb);
}

static void expect_value_metric(const char *src, int want)
{
    struct expr *e = compile_ok(src);
    assert_int_equal(expr_value_metric(e), want);
    expr_free(e);
}

static void test_value_metric(void **state)
{
    (void)state;
    expect_value_metric("discard_ratio > 2% and attempted >= 100", M_DISCARD_RATIO);
    expect_value_metric("sum(event_volume, 1h) / sum(event_volume, 1h, 7d) < 50%",
                        M_EVENT_VOLUME);
    expect_value_metric("forecast(mtu, 3d, $period_remaining) > $mtu_limit",
                        M_MTU);
    expect_value_metric("$mtu_limit > 0 and api_calls > 1", M_API_CALLS);
    expect_value_metric("attempted == 0 and source_volume >= 100", M_ATTEMPTED);
}

static void expect_unit(const char *src, enum metric_unit want)
{
    struct expr_error err;
    struct expr *e = expr_compile(src, &expr_env_std, &err);
    assert_non_null(e);
    assert_int_equal(expr_value_unit(e), want);
    expr_free(e);
}

/* The rule value's unit: what the page, `status`, the log and the
 * notifications format it by. */
static void test_value_unit(void **state)
{
    (void)state;
    expect_unit("discard_ratio > 2%", UNIT_RATIO);
    expect_unit("(sum(discarded, 15m) + sum(expired, 15m)) / "
                "sum(attempted, 15m) > 5% and sum(attempted, 15m) >= 200",
                UNIT_RATIO);
    expect_unit("avg(time_to_success_p95, 15m) > 15m", UNIT_SECONDS);
    expect_unit("avg(event_volume, 10m) / (sum(event_volume, 1h, 7d) / 60) "
                "< 40%", UNIT_RATIO);
    expect_unit("avg(event_volume, 3m) < 10% * avg(event_volume, 1h, 10m)",
                UNIT_COUNT);
    expect_unit("count(time_to_success_avg, 1h) < 3", UNIT_COUNT);
    expect_unit("timeleft(mtu, 3d, 1000) < 2d", UNIT_SECONDS);
    expect_unit("forecast(mtu, 3d, $period_remaining) > $mtu_limit",
                UNIT_COUNT);
    expect_unit("$mtu_limit > 0", UNIT_COUNT);
    /* a count times a ratio of counts is a count (the stall rule's value:
     * the events due to the connection), not a ratio */
    expect_unit("last(source_volume) * sum(attempted, 6h, 5m) / "
                "sum(source_volume, 6h, 5m) >= 50", UNIT_COUNT);
    expect_unit("sum(successes, 15m) * discard_ratio > 10", UNIT_COUNT);
    expect_unit("avg(time_to_success_p95, 15m) / avg(time_to_success_p95, "
                "1h, 1d) > 2", UNIT_RATIO);
    /* one rule for every metric: the table follows the names */
    for (int m = 0; m < M__COUNT; m++)
        assert_int_equal(metric_table[m].unit,
                         metric_unit_of_name(metric_table[m].name));
    assert_int_equal(metric_unit_of_name("retry_ratio"), UNIT_RATIO);
    assert_int_equal(metric_unit_of_name("time_to_first_attempt_p95"),
                     UNIT_SECONDS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_value_unit),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_nodata_logic),
        cmocka_unit_test(test_rule_value),
        cmocka_unit_test(test_window_functions),
        cmocka_unit_test(test_forecast_timeleft),
        cmocka_unit_test(test_introspection),
        cmocka_unit_test(test_errors_names),
        cmocka_unit_test(test_errors_calls),
        cmocka_unit_test(test_errors_syntax),
        cmocka_unit_test(test_errors_position),
        cmocka_unit_test(test_value_metric),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
