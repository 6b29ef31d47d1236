/* test_store.c - series store: rings, windows, least squares, expiry. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/labels.h"
#include "engine/store.h"

/* cmocka 1.1 has no double assertion with a useful message */
#define assert_near(a, b, eps) near_impl((a), (b), (eps), __LINE__)
static void near_impl(double a, double b, double eps, int line)
{
    if (!(fabs(a - b) <= eps))
        fail_msg("line %d: %.17g != %.17g (eps %g)", line, a, b, eps);
}

struct fixture {
    struct label_pool *pool;
    struct store *st;
    const struct labelset *conn, *src;
};

static const struct labelset *mk(struct label_pool *pool, const char *src,
                                 const char *dst)
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

static struct fixture *fx_new(double ret_conn, double ret_src,
                              size_t max_samples)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct store_limits lim;
    memset(&lim, 0, sizeof(lim));
    lim.retention_s[FAM_CONNECTION] = ret_conn;
    lim.retention_s[FAM_SOURCE] = ret_src;
    lim.spacing_s[FAM_CONNECTION] = 300;
    lim.spacing_s[FAM_SOURCE] = 3600;
    lim.max_samples = max_samples;
    f->pool = label_pool_new();
    f->st = store_new(&lim);
    f->conn = mk(f->pool, "web", "Amplitude");
    f->src = mk(f->pool, "web", NULL);
    return f;
}

static void fx_free(struct fixture *f)
{
    store_free(f->st);
    label_pool_free(f->pool);
    free(f);
}

/* add one value of one metric */
static void add1(struct store *st, struct series *s, double t,
                 enum metric_id m, double v)
{
    double vals[M__COUNT] = { 0 };
    bool has[M__COUNT] = { false };
    vals[m] = v;
    has[m] = true;
    store_add(st, s, t, vals, has);
}

static double latest(const struct series *s, enum metric_id m)
{
    double v;
    return series_latest(s, m, &v, NULL) ? v : NAN;
}

static double win(const struct series *s, enum metric_id m,
                  enum store_agg agg, double from, double to)
{
    double v = -12345;
    return series_window(s, m, agg, from, to, &v) ? v : NAN;
}

static void test_lookup(void **state)
{
    struct fixture *f = fx_new(3600, 3600, 0);
    assert_null(store_find(f->st, FAM_CONNECTION, f->conn));
    struct series *a = store_get_or_add(f->st, FAM_CONNECTION, f->conn);
    assert_non_null(a);
    assert_ptr_equal(store_get_or_add(f->st, FAM_CONNECTION, f->conn), a);
    assert_ptr_equal(store_find(f->st, FAM_CONNECTION, f->conn), a);
    /* same labels, other family: another series */
    struct series *b = store_get_or_add(f->st, FAM_SOURCE, f->conn);
    assert_ptr_not_equal(a, b);
    assert_ptr_equal(series_labels(a), f->conn);
    assert_int_equal(series_family(b), FAM_SOURCE);
    assert_int_equal(store_count(f->st, FAM_CONNECTION), 1);
    assert_int_equal(store_count(f->st, FAM_SOURCE), 1);
    assert_int_equal(store_count(f->st, FAM_USAGE), 0);
    assert_ptr_equal(store_at(f->st, FAM_CONNECTION, 0), a);
    assert_null(store_at(f->st, FAM_CONNECTION, 1));
    assert_true(isinf(series_last_update(a)) && series_last_update(a) < 0);
    assert_int_equal(series_len(a), 0);
    double v;
    assert_false(series_latest(a, M_SUCCESSES, &v, NULL));
    fx_free(f);
}

static void test_add_latest_and_absent(void **state)
{
    struct fixture *f = fx_new(3600, 3600, 0);
    struct series *s = store_get_or_add(f->st, FAM_CONNECTION, f->conn);
    double vals[M__COUNT] = { 0 };
    bool has[M__COUNT] = { false };
    vals[M_SUCCESSES] = 1000;
    vals[M_DISCARDED] = 50;
    has[M_SUCCESSES] = has[M_DISCARDED] = true;
    vals[M_EVENT_VOLUME] = 7;           /* other family: ignored */
    has[M_EVENT_VOLUME] = true;
    metrics_derive(vals, has);
    store_add(f->st, s, 1000, vals, has);
    double v, t;
    assert_true(series_latest(s, M_SUCCESSES, &v, &t));
    assert_true(v == 1000 && t == 1000);
    assert_true(latest(s, M_ATTEMPTED) == 1050);
    assert_near(latest(s, M_DISCARD_RATIO), 50.0 / 1050, 1e-15);
    assert_true(isnan(latest(s, M_EXPIRED)));        /* absent, not 0 */
    assert_true(isnan(latest(s, M_RETRY_RATIO)));
    assert_true(isnan(latest(s, M_EVENT_VOLUME)));   /* not our family */
    assert_true(series_last_update(s) == 1000);

    /* a newer row where successes is missing: latest is no data, the
     * older value is not carried forward */
    add1(f->st, s, 1300, M_DISCARDED, 3);
    assert_true(isnan(latest(s, M_SUCCESSES)));
    assert_true(latest(s, M_DISCARDED) == 3);
    /* an all-absent row (poll returned nothing) */
    bool none[M__COUNT] = { false };
    store_add(f->st, s, 1600, vals, none);
    assert_true(isnan(latest(s, M_DISCARDED)));
    assert_int_equal(series_len(s), 3);
    assert_true(series_last_update(s) == 1600);
    series_touch(s, 1700);
    assert_true(series_last_update(s) == 1700);
    series_touch(s, 100);               /* never goes back */
    assert_true(series_last_update(s) == 1700);
    fx_free(f);
}

static void test_replace_same_time(void **state)
{
    struct fixture *f = fx_new(3600, 3600, 0);
    struct series *s = store_get_or_add(f->st, FAM_CONNECTION, f->conn);
    double vals[M__COUNT] = { 0 };
    bool has[M__COUNT] = { false };
    vals[M_SUCCESSES] = 10;
    vals[M_DISCARDED] = 1;
    has[M_SUCCESSES] = has[M_DISCARDED] = true;
    store_add(f->st, s, 600, vals, has);
    store_add(f->st, s, 900, vals, has);
    /* re-poll of t=600 with new successes and no discarded: replaces the
     * present value, keeps the absent one */
    add1(f->st, s, 600, M_SUCCESSES, 12);
    assert_int_equal(series_len(s), 2);
    double tt[4], vv[4];
    assert_int_equal(series_points(s, M_SUCCESSES, 0, 1e9, tt, vv, 4), 2);
    assert_true(tt[0] == 600 && vv[0] == 12);
    assert_true(tt[1] == 900 && vv[1] == 10);
    assert_int_equal(series_points(s, M_DISCARDED, 0, 1e9, tt, vv, 4), 2);
    assert_true(vv[0] == 1);
    /* idempotent re-poll of the newest row */
    store_add(f->st, s, 900, vals, has);
    store_add(f->st, s, 900, vals, has);
    assert_int_equal(series_len(s), 2);
    assert_true(win(s, M_SUCCESSES, AGG_SUM, 0, 1e9) == 22);
    /* merging into the newest row changes what latest sees; merging into
     * an older one does not */
    add1(f->st, s, 900, M_SUCCESSES, 99);
    assert_true(latest(s, M_SUCCESSES) == 99);
    assert_true(latest(s, M_DISCARDED) == 1);
    add1(f->st, s, 600, M_SUCCESSES, 7);
    assert_true(latest(s, M_SUCCESSES) == 99);
    add1(f->st, s, 900, M_EXPIRED, 4);
    assert_true(latest(s, M_EXPIRED) == 4);
    fx_free(f);
}

static void test_out_of_order(void **state)
{
    struct fixture *f = fx_new(1e6, 1e6, 0);
    struct series *s = store_get_or_add(f->st, FAM_SOURCE, f->src);
    double order[] = { 500, 100, 300, 200, 400, 0, 600, 250 };
    for (size_t i = 0; i < ARRAY_SIZE(order); i++)
        add1(f->st, s, order[i], M_EVENT_VOLUME, order[i] / 100);
    double tt[16], vv[16];
    size_t n = series_points(s, M_EVENT_VOLUME, -1, 1e9, tt, vv, 16);
    assert_int_equal(n, 8);
    double want[] = { 0, 100, 200, 250, 300, 400, 500, 600 };
    for (size_t i = 0; i < n; i++) {
        assert_true(tt[i] == want[i]);
        assert_true(vv[i] == want[i] / 100);
    }
    assert_true(latest(s, M_EVENT_VOLUME) == 6);
    /* max points respected, and (from, to] */
    assert_int_equal(series_points(s, M_EVENT_VOLUME, 100, 300, tt, vv, 16),
                     3);
    assert_true(tt[0] == 200 && tt[2] == 300);
    assert_int_equal(series_points(s, M_EVENT_VOLUME, -1, 1e9, tt, vv, 2), 2);
    assert_true(tt[1] == 100);
    fx_free(f);
}

static void test_out_of_order_wrapped_ring(void **state)
{
    /* retention keeps ~5 rows so the ring wraps; insert in the middle */
    struct fixture *f = fx_new(1200, 1200, 0);
    struct series *s = store_get_or_add(f->st, FAM_CONNECTION, f->conn);
    for (int i = 0; i <= 40; i++)
        add1(f->st, s, i * 300, M_SUCCESSES, i);
    add1(f->st, s, 11250, M_SUCCESSES, -1);
    double tt[16], vv[16];
    size_t n = series_points(s, M_SUCCESSES, -1, 1e9, tt, vv, 16);
    double want_t[] = { 10800, 11100, 11250, 11400, 11700, 12000 };
    double want_v[] = { 36, 37, -1, 38, 39, 40 };
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        assert_true(tt[i] == want_t[i]);
        assert_true(vv[i] == want_v[i]);
    }
    fx_free(f);
}

static void test_retention(void **state)
{
    struct fixture *f = fx_new(600, 600, 0);
    struct series *s = store_get_or_add(f->st, FAM_CONNECTION, f->conn);
    for (int t = 0; t <= 1200; t += 100)
        add1(f->st, s, t, M_SUCCESSES, t);
    /* rows with t >= 1200 - 600 are kept: 600..1200 */
    assert_int_equal(series_len(s), 7);
    double tt[16], vv[16];
    assert_int_equal(series_points(s, M_SUCCESSES, -1, 1e9, tt, vv, 16), 7);
    assert_true(tt[0] == 600);
    /* a sample older than retention is dropped, not inserted */
    add1(f->st, s, 550, M_SUCCESSES, 1);
    assert_int_equal(series_len(s), 7);
    assert_true(isnan(win(s, M_SUCCESSES, AGG_SUM, 0, 590)));
    /* on the retention boundary: kept (merged into the existing row) */
    add1(f->st, s, 600, M_SUCCESSES, 5);
    assert_true(win(s, M_SUCCESSES, AGG_MIN, 0, 1e9) == 5);
    /* a jump forward drops everything older than retention */
    add1(f->st, s, 5000, M_SUCCESSES, 9);
    assert_int_equal(series_len(s), 1);
    assert_true(latest(s, M_SUCCESSES) == 9);

    /* zero retention keeps only the newest row */
    struct fixture *g = fx_new(0, 0, 0);
    struct series *z = store_get_or_add(g->st, FAM_CONNECTION, g->conn);
    for (int t = 0; t < 10; t++)
        add1(g->st, z, t, M_SUCCESSES, t);
    assert_int_equal(series_len(z), 1);
    assert_true(latest(z, M_SUCCESSES) == 9);
    fx_free(g);
    fx_free(f);
}

static void test_max_samples_cap(void **state)
{
    struct fixture *f = fx_new(1e9, 1e9, 4);
    struct series *s = store_get_or_add(f->st, FAM_CONNECTION, f->conn);
    for (int t = 1; t <= 10; t++)
        add1(f->st, s, t, M_SUCCESSES, t);
    assert_int_equal(series_len(s), 4);
    assert_true(win(s, M_SUCCESSES, AGG_MIN, 0, 100) == 7);
    /* older than all when full: dropped */
    add1(f->st, s, 2, M_SUCCESSES, 2);
    assert_true(win(s, M_SUCCESSES, AGG_MIN, 0, 100) == 7);
    /* older than the newest but newer than the oldest: oldest goes */
    add1(f->st, s, 8.5, M_SUCCESSES, 8.5);
    double tt[8], vv[8];
    assert_int_equal(series_points(s, M_SUCCESSES, 0, 100, tt, vv, 8), 4);
    assert_true(tt[0] == 8 && tt[1] == 8.5 && tt[3] == 10);
    fx_free(f);
}

static void test_window_aggregates(void **state)
{
    struct fixture *f = fx_new(1e6, 1e6, 0);
    struct series *s = store_get_or_add(f->st, FAM_SOURCE, f->src);
    /* t: 100 200 300 400 500, v: 4 2 8 6 (gap at 400) 10 */
    add1(f->st, s, 100, M_EVENT_VOLUME, 4);
    add1(f->st, s, 200, M_EVENT_VOLUME, 2);
    add1(f->st, s, 300, M_EVENT_VOLUME, 8);
    bool none[M__COUNT] = { false };
    double vals[M__COUNT] = { 0 };
    store_add(f->st, s, 400, vals, none);
    add1(f->st, s, 500, M_EVENT_VOLUME, 10);

    /* (100, 500]: 2 8 10 -- 100 excluded (left-open), 400 absent */
    assert_true(win(s, M_EVENT_VOLUME, AGG_SUM, 100, 500) == 20);
    assert_true(win(s, M_EVENT_VOLUME, AGG_COUNT, 100, 500) == 3);
    assert_near(win(s, M_EVENT_VOLUME, AGG_AVG, 100, 500), 20.0 / 3,
                        1e-12);
    assert_true(win(s, M_EVENT_VOLUME, AGG_MIN, 100, 500) == 2);
    assert_true(win(s, M_EVENT_VOLUME, AGG_MAX, 100, 500) == 10);
    assert_true(win(s, M_EVENT_VOLUME, AGG_LAST, 100, 500) == 10);
    assert_true(win(s, M_EVENT_VOLUME, AGG_DELTA, 100, 500) == 8);
    assert_near(win(s, M_EVENT_VOLUME, AGG_RATE, 100, 500),
                        8.0 / 300, 1e-15);
    /* (99, 300]: 4 2 8 */
    assert_true(win(s, M_EVENT_VOLUME, AGG_SUM, 99, 300) == 14);
    assert_true(win(s, M_EVENT_VOLUME, AGG_DELTA, 99, 300) == 4);
    assert_true(win(s, M_EVENT_VOLUME, AGG_LAST, 99, 450) == 8);
    /* adjacent windows partition: (0,300] + (300,500] = (0,500] */
    assert_true(win(s, M_EVENT_VOLUME, AGG_SUM, 0, 300) +
                win(s, M_EVENT_VOLUME, AGG_SUM, 300, 500) ==
                win(s, M_EVENT_VOLUME, AGG_SUM, 0, 500));
    /* a window holding only the absent row: no value; count is 0 */
    for (int a = AGG_AVG; a <= AGG_RATE; a++) {
        if (a == AGG_COUNT)
            assert_true(win(s, M_EVENT_VOLUME, a, 350, 450) == 0);
        else
            assert_true(isnan(win(s, M_EVENT_VOLUME, (enum store_agg)a, 350,
                                  450)));
    }
    /* empty before the data / after it */
    assert_true(isnan(win(s, M_EVENT_VOLUME, AGG_SUM, 0, 50)));
    assert_true(isnan(win(s, M_EVENT_VOLUME, AGG_MAX, 500, 900)));
    /* one sample: delta and rate have no value, the rest do */
    assert_true(isnan(win(s, M_EVENT_VOLUME, AGG_DELTA, 450, 500)));
    assert_true(isnan(win(s, M_EVENT_VOLUME, AGG_RATE, 450, 500)));
    assert_true(win(s, M_EVENT_VOLUME, AGG_AVG, 450, 500) == 10);
    /* wrong family metric */
    assert_true(isnan(win(s, M_SUCCESSES, AGG_SUM, 0, 1000)));
    double v;
    assert_false(series_window(s, M_SUCCESSES, AGG_COUNT, 0, 1000, &v));
    fx_free(f);
}

static void test_fit_forecast_timeleft(void **state)
{
    struct fixture *f = fx_new(1e6, 1e6, 0);
    struct series *s = store_get_or_add(f->st, FAM_SOURCE, f->src);
    /* x = t - 1000: 0 100 200 300, y: 1 3 2 5.
     * mean x 150, mean y 2.75, Sxx 50000, Sxy 550: b = 0.011, a = 1.1 */
    add1(f->st, s, 1000, M_EVENT_VOLUME, 1);
    add1(f->st, s, 1100, M_EVENT_VOLUME, 3);
    add1(f->st, s, 1200, M_EVENT_VOLUME, 2);
    add1(f->st, s, 1300, M_EVENT_VOLUME, 5);
    double a, b, t0, v;
    assert_true(series_fit(s, M_EVENT_VOLUME, 900, 1300, &a, &b, &t0));
    assert_near(a, 1.1, 1e-12);
    assert_near(b, 0.011, 1e-15);
    assert_true(t0 == 1000);
    assert_true(series_forecast(s, M_EVENT_VOLUME, 900, 1300, 1500, &v));
    assert_near(v, 6.6, 1e-12);
    /* y(now=1300) = 4.4; to 10 at slope 0.011: 509.0909... s */
    assert_true(series_timeleft(s, M_EVENT_VOLUME, 900, 1300, 1300, 10, &v));
    assert_near(v, 5.6 / 0.011, 1e-9);
    /* rising and already at/above 4: 0 */
    assert_true(series_timeleft(s, M_EVENT_VOLUME, 900, 1300, 1300, 4, &v));
    assert_true(v == 0);
    assert_true(series_timeleft(s, M_EVENT_VOLUME, 900, 1300, 1300, 4.4, &v));
    assert_near(v, 0, 1e-9);
    /* the window decides which samples count: (1000, 1300] -> 3 2 5,
     * x = 0 100 200, mean y 10/3, Sxy 200, Sxx 20000: b = 0.01, a = 7/3 */
    assert_true(series_fit(s, M_EVENT_VOLUME, 1000, 1300, &a, &b, &t0));
    assert_true(t0 == 1100);
    assert_near(b, 0.01, 1e-15);
    assert_near(a, 7.0 / 3, 1e-12);
    /* fewer than 2 samples: no value */
    assert_false(series_fit(s, M_EVENT_VOLUME, 1200, 1300, &a, &b, &t0));
    assert_false(series_forecast(s, M_EVENT_VOLUME, 1200, 1300, 2000, &v));
    assert_false(series_timeleft(s, M_EVENT_VOLUME, 1200, 1300, 1300, 9, &v));
    assert_false(series_timeleft(s, M_EVENT_VOLUME, 900, 1300, 1300, NAN,
                                 &v));

    /* flat line: never reaches 10 -> +inf; at 5 already -> 0 */
    struct series *flat = store_get_or_add(f->st, FAM_SOURCE,
                                           mk(f->pool, "flat", NULL));
    for (int i = 0; i < 3; i++)
        add1(f->st, flat, 100 * i, M_EVENT_VOLUME, 5);
    assert_true(series_timeleft(flat, M_EVENT_VOLUME, -1, 200, 200, 10, &v));
    assert_true(isinf(v) && v > 0);
    assert_true(series_timeleft(flat, M_EVENT_VOLUME, -1, 200, 200, 5, &v));
    assert_true(v == 0);
    assert_true(series_forecast(flat, M_EVENT_VOLUME, -1, 200, 1e6, &v));
    assert_true(v == 5);

    /* falling 10 8 6 at 0 100 200: b = -0.02, y(200) = 6 */
    struct series *down = store_get_or_add(f->st, FAM_SOURCE,
                                           mk(f->pool, "down", NULL));
    add1(f->st, down, 0, M_EVENT_VOLUME, 10);
    add1(f->st, down, 100, M_EVENT_VOLUME, 8);
    add1(f->st, down, 200, M_EVENT_VOLUME, 6);
    assert_true(series_timeleft(down, M_EVENT_VOLUME, -1, 200, 200, 2, &v));
    assert_near(v, 200, 1e-9);
    /* falling and already below 7: 0 */
    assert_true(series_timeleft(down, M_EVENT_VOLUME, -1, 200, 200, 7, &v));
    assert_true(v == 0);
    assert_true(series_forecast(down, M_EVENT_VOLUME, -1, 200, 500, &v));
    assert_near(v, 0, 1e-9);

    /* precision: unix-epoch times, a perfect line */
    struct series *big = store_get_or_add(f->st, FAM_SOURCE,
                                          mk(f->pool, "big", NULL));
    double base = 1.78e9;
    for (int i = 0; i < 30; i++)
        add1(f->st, big, base + 86400.0 * i, M_EVENT_VOLUME, 1e6 + 1000.0 * i);
    assert_true(series_forecast(big, M_EVENT_VOLUME, base - 1, base + 3e6,
                                base + 86400.0 * 40, &v));
    assert_near(v, 1e6 + 40000, 1e-6);
    fx_free(f);
}

static void test_expire(void **state)
{
    struct fixture *f = fx_new(3600, 3600, 0);
    struct series *a = store_get_or_add(f->st, FAM_CONNECTION, f->conn);
    struct series *b = store_get_or_add(f->st, FAM_SOURCE, f->src);
    add1(f->st, a, 1000, M_SUCCESSES, 1);
    add1(f->st, b, 100, M_EVENT_VOLUME, 1);
    assert_int_equal(store_expire(f->st, 1000, 500), 1);
    assert_ptr_equal(store_find(f->st, FAM_CONNECTION, f->conn), a);
    assert_null(store_find(f->st, FAM_SOURCE, f->src));
    assert_int_equal(store_count(f->st, FAM_SOURCE), 0);
    /* touched series survive; never-updated ones expire */
    struct series *c = store_get_or_add(f->st, FAM_SOURCE, f->src);
    assert_ptr_not_equal(c, NULL);
    series_touch(c, 1900);
    store_get_or_add(f->st, FAM_USAGE, f->src);
    assert_int_equal(store_expire(f->st, 2000, 500), 2);  /* a and usage */
    assert_ptr_equal(store_find(f->st, FAM_SOURCE, f->src), c);
    assert_int_equal(store_count(f->st, FAM_CONNECTION), 0);
    fx_free(f);
}

static void test_many_series_expire_half(void **state)
{
    struct fixture *f = fx_new(3600, 3600, 0);
    enum { N = 3000 };
    const struct labelset *ls[N];
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "dest-%d", i);
        ls[i] = mk(f->pool, "web", name);
        struct series *s = store_get_or_add(f->st, FAM_CONNECTION, ls[i]);
        add1(f->st, s, i % 2 ? 5000 : 100, M_SUCCESSES, i);
    }
    assert_int_equal(store_count(f->st, FAM_CONNECTION), N);
    assert_int_equal(store_expire(f->st, 5000, 1000), N / 2);
    assert_int_equal(store_count(f->st, FAM_CONNECTION), N / 2);
    for (int i = 0; i < N; i++) {
        struct series *s = store_find(f->st, FAM_CONNECTION, ls[i]);
        if (i % 2) {
            assert_non_null(s);
            assert_true(latest(s, M_SUCCESSES) == i);
            assert_ptr_equal(series_labels(s), ls[i]);
        } else {
            assert_null(s);
        }
    }
    /* iteration sees exactly the survivors */
    double sum = 0;
    for (size_t i = 0; i < store_count(f->st, FAM_CONNECTION); i++)
        sum += latest(store_at(f->st, FAM_CONNECTION, i), M_SUCCESSES);
    assert_true(sum == (double)(N / 2) * (N / 2));  /* 1+3+...+(N-1) */
    fx_free(f);
}

static void test_stats_and_growth(void **state)
{
    /* retention 2h at 5m spacing: target 26 rows */
    struct fixture *f = fx_new(7200, 0, 0);
    struct series *s = store_get_or_add(f->st, FAM_CONNECTION, f->conn);
    size_t ns, nr, bytes0, bytes1, bytes2;
    store_stats(f->st, &ns, &nr, &bytes0);
    assert_int_equal(ns, 1);
    assert_int_equal(nr, 0);
    for (int i = 0; i < 3; i++)
        add1(f->st, s, i * 300, M_SUCCESSES, i);
    store_stats(f->st, &ns, &nr, &bytes1);
    assert_int_equal(nr, 3);
    assert_true(bytes1 > bytes0);
    for (int i = 3; i < 200; i++)
        add1(f->st, s, i * 300, M_SUCCESSES, i);
    store_stats(f->st, &ns, &nr, &bytes2);
    assert_int_equal(nr, 25);           /* 7200 / 300 + 1 */
    /* ring stayed at the target: 26 rows of 1 time + one column per
     * connection metric, in their narrowest cells (whole seconds: 32-bit
     * offsets; small counts and no-data: 16 bits) */
    size_t ncol = 0;
    for (int m = 0; m < M__COUNT; m++)
        ncol += metric_table[m].family == FAM_CONNECTION;
    assert_true(bytes2 - bytes0 == 26 * (sizeof(uint32_t) +
                                         ncol * sizeof(uint16_t)));
    store_stats(f->st, NULL, NULL, NULL);
    store_free(NULL);
    fx_free(f);
}

/* ---- narrow cells, per-metric history, roll-up, new limits, ids ------ */

/* Bit for bit: the double read back is the one added (-0.0 included). */
#define assert_same(a, b) same_impl((a), (b), __LINE__)
static void same_impl(double a, double b, int line)
{
    if (memcmp(&a, &b, sizeof(a)) != 0)
        fail_msg("line %d: %.17g is not bit for bit %.17g", line, a, b);
}

static size_t store_bytes(const struct store *st)
{
    size_t b;
    store_stats(st, NULL, NULL, &b);
    return b;
}

static size_t store_rows(const struct store *st)
{
    size_t n;
    store_stats(st, NULL, &n, NULL);
    return n;
}

static void test_width_promotion(void **state)
{
    /* 2h at 5m spacing: rings settle at 26 rows */
    struct fixture *f = fx_new(7200, 0, 0);
    struct series *s = store_get_or_add(f->st, FAM_CONNECTION, f->conn);
    double vals[M__COUNT] = { 0 };
    bool has[M__COUNT] = { false };
    has[M_SUCCESSES] = has[M_DISCARDED] = true;
    for (int i = 0; i < 30; i++) {
        vals[M_SUCCESSES] = i == 29 ? 65534 : i;    /* the widest count */
        vals[M_DISCARDED] = 1;
        store_add(f->st, s, i * 300, vals, has);
    }
    size_t b16 = store_bytes(f->st);
    /* values that need a float, then a double, in successes only: the
     * column widens for every row it holds, discarded stays 16-bit */
    double wide[] = { 65535, -1, 0.5, -0.0, INFINITY, -INFINITY, 1e10,
                      16777217.0, 0.1, 1e300, 4.9406564584124654e-324,
                      -123456.789 };
    double t0 = 30 * 300;
    for (size_t k = 0; k < ARRAY_SIZE(wide); k++) {
        vals[M_SUCCESSES] = wide[k];
        store_add(f->st, s, t0 + (double)k * 300, vals, has);
        if (k == 0)     /* 65535 is not a 16-bit count: float cells */
            assert_int_equal(store_bytes(f->st) - b16, 26 * 2);
        if (k == 6)     /* up to 1e10 every value is a float */
            assert_int_equal(store_bytes(f->st) - b16, 26 * 2);
        /* every value kept reads back bit for bit */
        double tt[32], vv[32];
        size_t n = series_points(s, M_SUCCESSES, -1, 1e9, tt, vv, 32);
        assert_int_equal(n, 25);
        for (size_t i = 0; i < n; i++) {
            size_t j = (size_t)llround(tt[i] / 300);
            double want = j < 30 ? (j == 29 ? 65534 : (double)j)
                                 : wide[j - 30];
            assert_same(vv[i], want);
        }
        assert_same(latest(s, M_SUCCESSES), wide[k]);
    }
    /* 16777217 needs a double: 6 more bytes per row than 16 bits */
    assert_int_equal(store_bytes(f->st) - b16, 26 * 6);
    assert_true(win(s, M_DISCARDED, AGG_SUM, -1, 1e9) == 25);
    assert_true(win(s, M_SUCCESSES, AGG_MIN, t0 + 4 * 300, t0 + 6 * 300) ==
                -INFINITY);

    /* widths are per series: a second series starts narrow */
    const struct labelset *other = mk(f->pool, "web", "Mixpanel");
    struct series *s2 = store_get_or_add(f->st, FAM_CONNECTION, other);
    size_t before = store_bytes(f->st);
    add1(f->st, s2, 0, M_SUCCESSES, 7);
    size_t ncol = 0;
    for (int m = 0; m < M__COUNT; m++)
        ncol += metric_table[m].family == FAM_CONNECTION;
    /* first ring: 4 rows of a 32-bit time and 16-bit columns */
    assert_int_equal(store_bytes(f->st) - before,
                     4 * (sizeof(uint32_t) + ncol * sizeof(uint16_t)));
    assert_same(latest(s2, M_SUCCESSES), 7);
    fx_free(f);
}

static void test_widen_wrapped_ring(void **state)
{
    /* the ring wraps (head moves); widening a column while merging into an
     * older row must write the value at that row */
    struct fixture *f = fx_new(1200, 1200, 0);
    struct series *s = store_get_or_add(f->st, FAM_CONNECTION, f->conn);
    for (int i = 0; i <= 40; i++)
        add1(f->st, s, i * 300, M_SUCCESSES, i);
    add1(f->st, s, 39 * 300, M_SUCCESSES, 0.25);        /* float */
    add1(f->st, s, 37 * 300, M_SUCCESSES, 0.1);         /* double */
    double tt[8], vv[8];
    size_t n = series_points(s, M_SUCCESSES, -1, 1e9, tt, vv, 8);
    double want_v[] = { 36, 0.1, 38, 0.25, 40 };
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_true(tt[i] == (36 + i) * 300.0);
        assert_same(vv[i], want_v[i]);
    }
    /* a time that is not whole seconds, in the wrapped ring */
    add1(f->st, s, 40 * 300 + 0.5, M_SUCCESSES, 41);
    add1(f->st, s, 39 * 300 + 0.25, M_SUCCESSES, 42);
    n = series_points(s, M_SUCCESSES, -1, 1e9, tt, vv, 8);
    /* 10800 is now older than 12000.5 - 1200: gone */
    double want_t[] = { 11100, 11400, 11700, 11700.25, 12000, 12000.5 };
    double want_w[] = { 0.1, 38, 0.25, 42, 40, 41 };
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        assert_same(tt[i], want_t[i]);
        assert_same(vv[i], want_w[i]);
    }
    fx_free(f);
}

static void test_no_data_cells(void **state)
{
    struct fixture *f = fx_new(1e6, 1e6, 0);
    struct series *s = store_get_or_add(f->st, FAM_CONNECTION, f->conn);
    /* a NaN added as present is no data, in every width */
    double col[][4] = {
        { 1, NAN, 2, NAN },             /* 16-bit */
        { 0.5, NAN, 1.5, NAN },         /* float */
        { 0.1, NAN, 0.2, NAN },         /* double */
    };
    enum metric_id m[] = { M_SUCCESSES, M_DISCARDED, M_EXPIRED };
    for (int i = 0; i < 4; i++) {
        double vals[M__COUNT] = { 0 };
        bool has[M__COUNT] = { false };
        for (int c = 0; c < 3; c++) {
            vals[m[c]] = col[c][i];
            has[m[c]] = true;
        }
        has[M_RETRIED] = i == 0;        /* absent after the first row */
        vals[M_RETRIED] = 3;
        store_add(f->st, s, 100 * (i + 1), vals, has);
        for (int c = 0; c < 3; c++)
            if (isnan(col[c][i]))
                assert_true(isnan(latest(s, m[c])));
            else
                assert_same(latest(s, m[c]), col[c][i]);
    }
    for (int c = 0; c < 3; c++) {
        assert_true(win(s, m[c], AGG_COUNT, 0, 1e9) == 2);
        assert_same(win(s, m[c], AGG_SUM, 0, 1e9), col[c][0] + col[c][2]);
        assert_same(win(s, m[c], AGG_LAST, 0, 1e9), col[c][2]);
        assert_true(isnan(win(s, m[c], AGG_SUM, 350, 1e9)));
        double tt[8], vv[8];
        assert_int_equal(series_points(s, m[c], 0, 1e9, tt, vv, 8), 2);
        assert_true(tt[0] == 100 && tt[1] == 300);
    }
    assert_true(win(s, M_RETRIED, AGG_COUNT, 0, 1e9) == 1);
    assert_true(isnan(latest(s, M_RETRIED)));
    /* a column widened by a later row keeps its no-data cells */
    add1(f->st, s, 500, M_SUCCESSES, 1e300);
    assert_true(win(s, M_SUCCESSES, AGG_COUNT, 0, 1e9) == 3);
    fx_free(f);
}

static void test_fractional_and_far_times(void **state)
{
    struct fixture *f = fx_new(1e12, 1e12, 0);
    struct series *s = store_get_or_add(f->st, FAM_SOURCE, f->src);
    double t0 = 1767225600;            /* 2026-01-01 */
    double ts[] = { t0, t0 + 60, t0 + 120.5, t0 + 180, t0 + 3e9,
                    t0 - 3e9, t0 + 0.001, 1e-3 };
    for (size_t i = 0; i < ARRAY_SIZE(ts); i++)
        add1(f->st, s, ts[i], M_EVENT_VOLUME, (double)i);
    double tt[16], vv[16];
    size_t n = series_points(s, M_EVENT_VOLUME, -INFINITY, INFINITY, tt, vv,
                             16);
    assert_int_equal(n, ARRAY_SIZE(ts));
    double want_t[] = { t0 - 3e9, 1e-3, t0, t0 + 0.001, t0 + 60, t0 + 120.5,
                        t0 + 180, t0 + 3e9 };
    double want_v[] = { 5, 7, 0, 6, 1, 2, 3, 4 };
    for (size_t i = 0; i < n; i++) {
        assert_same(tt[i], want_t[i]);
        assert_same(vv[i], want_v[i]);
    }
    double t;
    double v;
    assert_true(series_latest(s, M_EVENT_VOLUME, &v, &t));
    assert_same(t, t0 + 3e9);
    /* windows are (from, to] on the exact times */
    assert_true(win(s, M_EVENT_VOLUME, AGG_COUNT, t0 + 120, t0 + 120.5) == 1);
    assert_true(win(s, M_EVENT_VOLUME, AGG_COUNT, t0 + 120.5, t0 + 180) == 1);
    assert_true(win(s, M_EVENT_VOLUME, AGG_SUM, t0, t0 + 0.001) == 6);

    /* a fractional first time: doubles from the start */
    struct series *c = store_get_or_add(f->st, FAM_CONNECTION, f->conn);
    add1(f->st, c, 100.25, M_SUCCESSES, 1);
    add1(f->st, c, 200, M_SUCCESSES, 2);
    assert_int_equal(series_points(c, M_SUCCESSES, 0, 1e9, tt, vv, 16), 2);
    assert_same(tt[0], 100.25);
    assert_same(tt[1], 200);
    fx_free(f);
}

static void test_history_per_metric(void **state)
{
    struct store_limits lim;
    memset(&lim, 0, sizeof(lim));
    lim.retention_s[FAM_CONNECTION] = 3600;
    lim.spacing_s[FAM_CONNECTION] = 300;
    for (int m = 0; m < M__COUNT; m++)
        lim.history_s[m] = STORE_LATEST_ONLY;
    lim.history_s[M_SUCCESSES] = 3600;
    lim.history_s[M_DISCARDED] = 2400;      /* within 2x: shares that ring */
    lim.history_s[M_EXPIRED] = 600;         /* its own ring */
    struct label_pool *pool = label_pool_new();
    struct store *st = store_new(&lim);
    const struct labelset *ls = mk(pool, "web", "Amplitude");
    struct series *s = store_get_or_add(st, FAM_CONNECTION, ls);
    assert_true(store_keeps_history(st, M_SUCCESSES));
    assert_true(store_keeps_history(st, M_EXPIRED));
    assert_false(store_keeps_history(st, M_RETRIED));
    for (int i = 0; i <= 40; i++) {
        double vals[M__COUNT] = { 0 };
        bool has[M__COUNT] = { false };
        vals[M_SUCCESSES] = vals[M_DISCARDED] = vals[M_EXPIRED] =
            vals[M_RETRIED] = i;
        has[M_SUCCESSES] = has[M_DISCARDED] = has[M_EXPIRED] =
            has[M_RETRIED] = true;
        store_add(st, s, i * 300, vals, has);
    }
    double now = 40 * 300;
    /* rows t >= now - history: 13 of the long ring, 3 of the short one */
    assert_int_equal(store_rows(st), 13 + 3);
    assert_int_equal(series_len(s), 13);
    assert_true(win(s, M_SUCCESSES, AGG_COUNT, -1, now) == 13);
    assert_true(win(s, M_DISCARDED, AGG_COUNT, -1, now) == 13);
    assert_true(win(s, M_EXPIRED, AGG_COUNT, -1, now) == 3);
    assert_true(win(s, M_EXPIRED, AGG_SUM, -1, now) == 38 + 39 + 40);
    /* newest only: the latest value, no window, no points */
    assert_true(latest(s, M_RETRIED) == 40);
    assert_true(win(s, M_RETRIED, AGG_COUNT, -1, now) == 0);
    assert_true(isnan(win(s, M_RETRIED, AGG_LAST, -1, now)));
    double tt[4], vv[4];
    assert_int_equal(series_points(s, M_RETRIED, -1, now, tt, vv, 4), 0);
    /* a late row within retention goes to the rings that still reach it */
    double vals[M__COUNT] = { 0 };
    bool has[M__COUNT] = { false };
    vals[M_SUCCESSES] = vals[M_EXPIRED] = 99;
    has[M_SUCCESSES] = has[M_EXPIRED] = true;
    store_add(st, s, now - 450, vals, has);
    assert_true(win(s, M_SUCCESSES, AGG_COUNT, -1, now) == 14);
    assert_true(win(s, M_EXPIRED, AGG_COUNT, -1, now) == 4);
    store_add(st, s, now - 1550, vals, has);
    assert_true(win(s, M_SUCCESSES, AGG_COUNT, -1, now) == 15);
    assert_true(win(s, M_EXPIRED, AGG_COUNT, -1, now) == 4);
    assert_true(latest(s, M_SUCCESSES) == 40);
    store_free(st);
    label_pool_free(pool);
}

static void test_rollup(void **state)
{
    struct store_limits lim;
    memset(&lim, 0, sizeof(lim));
    lim.retention_s[FAM_SOURCE] = 8 * 86400;
    lim.spacing_s[FAM_SOURCE] = 3600;
    lim.rollup_after_s[FAM_SOURCE] = 7200;
    lim.rollup_step_s[FAM_SOURCE] = 3600;
    struct label_pool *pool = label_pool_new();
    struct store *st = store_new(&lim);
    struct series *s = store_get_or_add(st, FAM_SOURCE, mk(pool, "web", NULL));
    /* minute rows from 60 s to 4 h: value 1, except 2000 per minute in
     * the second hour (the sum outgrows 16 bits) and no data in minutes
     * 121..130 */
    double sum_h[5] = { 0 };
    for (int i = 1; i <= 240; i++) {
        double v = i > 60 && i <= 120 ? 2000 : 1;
        double vals[M__COUNT] = { 0 };
        bool has[M__COUNT] = { false };
        vals[M_EVENT_VOLUME] = v;
        has[M_EVENT_VOLUME] = !(i > 120 && i <= 130);
        store_add(st, s, i * 60, vals, has);
        if (has[M_EVENT_VOLUME])
            sum_h[(i - 1) / 60 + 1] += v;
    }
    /* newest 4h: rows up to 2h became one row per hour, at the hour's
     * end; the last 2h are still minutes */
    double tt[256], vv[256];
    size_t n = series_points(s, M_EVENT_VOLUME, -1, 1e9, tt, vv, 256);
    assert_int_equal(n, 2 + 110);
    assert_true(tt[0] == 3600 && vv[0] == sum_h[1]);
    assert_true(tt[1] == 7200 && vv[1] == sum_h[2]);
    assert_true(vv[1] == 120000);
    assert_true(tt[2] == 7800 + 60);            /* minutes after the gap */
    /* window sums over whole hours are unchanged */
    assert_true(win(s, M_EVENT_VOLUME, AGG_SUM, 0, 7200) ==
                sum_h[1] + sum_h[2]);
    assert_true(win(s, M_EVENT_VOLUME, AGG_SUM, 7200, 14400) ==
                sum_h[3] + sum_h[4]);
    assert_true(win(s, M_EVENT_VOLUME, AGG_COUNT, 0, 7200) == 2);
    assert_true(win(s, M_EVENT_VOLUME, AGG_COUNT, 7200, 14400) == 110);
    /* a late minute inside a rolled-up hour is already counted: dropped */
    add1(st, s, 1800, M_EVENT_VOLUME, 500);
    assert_true(win(s, M_EVENT_VOLUME, AGG_SUM, 0, 3600) == sum_h[1]);
    /* an hourly row (a back-fill) on a bucket end replaces the bucket */
    add1(st, s, 3600, M_EVENT_VOLUME, 61);
    assert_true(win(s, M_EVENT_VOLUME, AGG_SUM, 0, 3600) == 61);
    /* the hour with no data in its first minutes sums what is there */
    double more[M__COUNT] = { 0 };
    bool mh[M__COUNT] = { false };
    mh[M_EVENT_VOLUME] = true;
    more[M_EVENT_VOLUME] = 1;
    for (int i = 241; i <= 300; i++)
        store_add(st, s, i * 60, more, mh);
    n = series_points(s, M_EVENT_VOLUME, -1, 1e9, tt, vv, 256);
    assert_true(tt[2] == 10800 && vv[2] == sum_h[3] && vv[2] == 50);
    assert_true(tt[3] == 10800 + 60);
    /* an hour with no data at all stays no data */
    struct series *z = store_get_or_add(st, FAM_SOURCE, mk(pool, "ios", NULL));
    bool none[M__COUNT] = { false };
    for (int i = 1; i <= 300; i++)
        store_add(st, z, i * 60, more, i <= 60 ? none : mh);
    assert_true(win(z, M_EVENT_VOLUME, AGG_COUNT, 0, 3600) == 0);
    assert_true(win(z, M_EVENT_VOLUME, AGG_SUM, 3600, 7200) == 60);
    n = series_points(z, M_EVENT_VOLUME, -1, 1e9, tt, vv, 256);
    assert_true(tt[0] == 7200 && vv[0] == 60);
    store_free(st);
    label_pool_free(pool);
}

static void fill_conn(struct store *st, struct series *s, int from, int to)
{
    for (int i = from; i <= to; i++) {
        double vals[M__COUNT] = { 0 };
        bool has[M__COUNT] = { false };
        vals[M_SUCCESSES] = i;
        vals[M_DISCARDED] = 100 + i;
        vals[M_EXPIRED] = 0.1 * i;
        vals[M_RETRIED] = i % 3 ? i : NAN;
        has[M_SUCCESSES] = has[M_DISCARDED] = has[M_EXPIRED] =
            has[M_RETRIED] = true;
        store_add(st, s, i * 300, vals, has);
    }
}

static void test_set_limits_moves_series(void **state)
{
    struct store_limits lim;
    memset(&lim, 0, sizeof(lim));
    lim.retention_s[FAM_CONNECTION] = 3600;
    lim.spacing_s[FAM_CONNECTION] = 300;
    for (int m = 0; m < M__COUNT; m++)
        lim.history_s[m] = STORE_LATEST_ONLY;
    lim.history_s[M_SUCCESSES] = 3600;
    lim.history_s[M_EXPIRED] = 600;
    lim.history_s[M_RETRIED] = 3600;
    struct label_pool *pool = label_pool_new();
    struct store *st = store_new(&lim);
    enum { N = 100 };
    const struct labelset *ls[N];
    size_t ids[N];
    char name[32];
    for (int k = 0; k < N; k++) {
        snprintf(name, sizeof(name), "dest-%d", k);
        ls[k] = mk(pool, "web", name);
        struct series *s = store_get_or_add(st, FAM_CONNECTION, ls[k]);
        ids[k] = series_id(s);
        fill_conn(st, s, 0, 12 + k % 3);
        series_touch(s, 5000 + k);
    }
    /* source series: their family's layout does not change, they stay */
    struct series *src = store_get_or_add(st, FAM_SOURCE,
                                          mk(pool, "web", NULL));
    add1(st, src, 100, M_EVENT_VOLUME, 5);

    /* successes loses part of its history, discarded gains some (it had
     * only its newest value), expired gets longer than it had, retried
     * loses all of it */
    lim.history_s[M_SUCCESSES] = 1200;
    lim.history_s[M_DISCARDED] = 3600;
    lim.history_s[M_EXPIRED] = 3600;
    lim.history_s[M_RETRIED] = STORE_LATEST_ONLY;
    store_set_limits(st, &lim);
    assert_ptr_equal(store_find(st, FAM_SOURCE, series_labels(src)), src);
    assert_false(store_keeps_history(st, M_RETRIED));
    assert_true(store_keeps_history(st, M_DISCARDED));
    for (int k = 0; k < N; k++) {
        int last = 12 + k % 3;
        double now = last * 300;
        struct series *s = store_find(st, FAM_CONNECTION, ls[k]);
        assert_non_null(s);
        assert_ptr_equal(store_at(st, FAM_CONNECTION, (size_t)k), s);
        assert_ptr_equal(series_labels(s), ls[k]);
        assert_int_equal(series_id(s), ids[k]);
        assert_true(series_last_update(s) == 5000 + k);
        /* newest values all kept */
        assert_true(latest(s, M_SUCCESSES) == last);
        assert_true(latest(s, M_DISCARDED) == 100 + last);
        assert_same(latest(s, M_EXPIRED), 0.1 * last);
        if (last % 3)
            assert_true(latest(s, M_RETRIED) == last);
        else
            assert_true(isnan(latest(s, M_RETRIED)));
        double tt[32], vv[32];
        /* successes: the last 1200 s, values as they were */
        size_t n = series_points(s, M_SUCCESSES, -1, 1e9, tt, vv, 32);
        assert_int_equal(n, 5);
        for (size_t i = 0; i < n; i++)
            assert_true(tt[i] == now - 1200 + 300.0 * (double)i &&
                        vv[i] == tt[i] / 300);
        /* discarded: its newest value starts its history */
        n = series_points(s, M_DISCARDED, -1, 1e9, tt, vv, 32);
        assert_int_equal(n, 1);
        assert_true(tt[0] == now && vv[0] == 100 + last);
        /* expired: its old 600 s, then no data further back */
        n = series_points(s, M_EXPIRED, -1, 1e9, tt, vv, 32);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++) {
            assert_true(tt[i] == now - 600 + 300.0 * (double)i);
            assert_same(vv[i], 0.1 * (tt[i] / 300));
        }
        assert_true(win(s, M_RETRIED, AGG_COUNT, -1, 1e9) == 0);
        /* and the series goes on */
        fill_conn(st, s, last + 1, last + 2);
        assert_true(win(s, M_DISCARDED, AGG_COUNT, -1, 1e9) == 3);
        assert_true(win(s, M_SUCCESSES, AGG_COUNT, -1, 1e9) == 5);
    }

    /* every metric newest only, then history again: it starts from the
     * newest row */
    for (int m = 0; m < M__COUNT; m++)
        lim.history_s[m] = STORE_LATEST_ONLY;
    store_set_limits(st, &lim);
    struct series *s = store_find(st, FAM_CONNECTION, ls[0]);
    assert_int_equal(series_len(s), 1);
    assert_true(latest(s, M_SUCCESSES) == 14);
    lim.history_s[M_SUCCESSES] = 0;         /* the family's retention */
    store_set_limits(st, &lim);
    s = store_find(st, FAM_CONNECTION, ls[0]);
    double tt[4], vv[4];
    assert_int_equal(series_points(s, M_SUCCESSES, -1, 1e9, tt, vv, 4), 1);
    assert_true(tt[0] == 14 * 300 && vv[0] == 14);
    /* the same limits again: nothing moves */
    store_set_limits(st, &lim);
    assert_ptr_equal(store_find(st, FAM_CONNECTION, ls[0]), s);
    assert_int_equal(store_count(st, FAM_CONNECTION), N);
    store_free(st);
    label_pool_free(pool);
}

static void test_ids_reused(void **state)
{
    struct fixture *f = fx_new(3600, 3600, 0);
    enum { N = 8 };
    const struct labelset *ls[N];
    struct series *s[N];
    char name[32];
    /* 6 connection series, 2 source series: ids count per family */
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "dest-%d", i);
        ls[i] = mk(f->pool, "web", name);
        s[i] = store_get_or_add(f->st, i < 6 ? FAM_CONNECTION : FAM_SOURCE,
                                ls[i]);
        add1(f->st, s[i], i < 4 ? 100 : 1000, i < 6 ? M_SUCCESSES
                                                    : M_EVENT_VOLUME, 1);
    }
    /* ids are small, distinct within their family, below its bound */
    bool seen[6] = { false };
    for (int i = 0; i < 6; i++) {
        assert_true(series_id(s[i]) < 6);
        assert_false(seen[series_id(s[i])]);
        seen[series_id(s[i])] = true;
    }
    assert_true(series_id(s[6]) < 2 && series_id(s[7]) < 2 &&
                series_id(s[6]) != series_id(s[7]));
    assert_int_equal(store_id_bound(f->st, FAM_CONNECTION), 6);
    assert_int_equal(store_id_bound(f->st, FAM_SOURCE), 2);
    assert_int_equal(store_id_bound(f->st, FAM_USAGE), 0);
    size_t gone[4];
    for (int i = 0; i < 4; i++)
        gone[i] = series_id(s[i]);
    assert_int_equal(store_expire(f->st, 1000, 500), 4);
    /* new series of the family take the freed ids; the bound stays */
    bool reused[6] = { false };
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "new-%d", i);
        struct series *n = store_get_or_add(f->st, FAM_CONNECTION,
                                            mk(f->pool, "web", name));
        size_t id = series_id(n);
        bool was_gone = false;
        for (int k = 0; k < 4; k++)
            was_gone |= gone[k] == id;
        assert_true(was_gone);
        assert_false(reused[id]);
        reused[id] = true;
    }
    assert_int_equal(store_id_bound(f->st, FAM_CONNECTION), 6);
    /* survivors keep theirs */
    for (int i = 4; i < N; i++)
        assert_int_equal(series_id(store_find(f->st, i < 6 ? FAM_CONNECTION
                                                            : FAM_SOURCE,
                                              ls[i])),
                         series_id(s[i]));
    /* one more than ever: a new id */
    struct series *x = store_get_or_add(f->st, FAM_CONNECTION, ls[0]);
    assert_int_equal(series_id(x), 6);
    assert_int_equal(store_id_bound(f->st, FAM_CONNECTION), 7);
    assert_int_equal(series_id(store_get_or_add(f->st, FAM_USAGE, ls[0])), 0);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_add_latest_and_absent),
        cmocka_unit_test(test_replace_same_time),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_out_of_order_wrapped_ring),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_max_samples_cap),
        cmocka_unit_test(test_window_aggregates),
        cmocka_unit_test(test_fit_forecast_timeleft),
        cmocka_unit_test(test_expire),
        cmocka_unit_test(test_many_series_expire_half),
        cmocka_unit_test(test_stats_and_growth),
        cmocka_unit_test(test_width_promotion),
        cmocka_unit_test(test_widen_wrapped_ring),
        cmocka_unit_test(test_no_data_cells),
        cmocka_unit_test(test_fractional_and_far_times),
        cmocka_unit_test(test_history_per_metric),
        cmocka_unit_test(test_rollup),
        cmocka_unit_test(test_set_limits_moves_series),
        cmocka_unit_test(test_ids_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
