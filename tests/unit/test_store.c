/* test_store.c - series store: rings, windows, least squares, expiry. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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
    struct store_limits lim = { { 0 }, { 0 }, 0 };
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
     * connection metric */
    size_t ncol = 0;
    for (int m = 0; m < M__COUNT; m++)
        ncol += metric_table[m].family == FAM_CONNECTION;
    assert_true(bytes2 - bytes0 == 26 * (1 + ncol) * sizeof(double));
    store_stats(f->st, NULL, NULL, NULL);
    store_free(NULL);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
