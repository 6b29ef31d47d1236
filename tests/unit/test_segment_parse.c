/*
 * test_segment_parse.c - segment_parse against every fixture in
 * tests/fixtures and against hostile bodies (truncated, HTML, huge, deep,
 * wrong types, NUL bytes...).
 *
 * Bodies built from string literals are copied into heap buffers of
 * exactly len bytes, without a terminating NUL, so that ASan/valgrind
 * catch any read past the end (the parsers take (body, len)).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/segment_parse.h"
#include "core/utf8.h"
#include "core/util.h"

#define ERRLEN 256
#define MS 0.001        /* latency_scale for millisecond latencies */
#define RC "\xef\xbf\xbd"  /* U+FFFD, what invalid UTF-8 becomes */

/* ---- helpers ----------------------------------------------------------- */

struct body {
    char *p;
    size_t len;
};

static struct body fixture(const char *name)
{
    char path[512];
    struct body b;
    snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
    b.p = read_file(path, 1u << 20, &b.len);
    if (!b.p)
        fail_msg("cannot read fixture %s", path);
    return b;
}

/* An exact-size, unterminated heap copy of n bytes of s. */
static struct body exact_n(const char *s, size_t n)
{
    struct body b = { xmalloc(n), n };
    memcpy(b.p, s, n);
    return b;
}

static struct body exact(const char *s)
{
    return exact_n(s, strlen(s));
}

static void body_free(struct body *b)
{
    free(b->p);
    b->p = NULL;
}

#define assert_contains(hay, needle) do {                                   \
        if (!strstr((hay), (needle)))                                       \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));        \
    } while (0)

#define assert_near(a, b) do {                                              \
        double a_ = (a), b_ = (b);                                          \
        if (!(fabs(a_ - b_) <= 1e-9 * (fabs(b_) > 1 ? fabs(b_) : 1)))       \
            fail_msg("%.12g != %.12g", a_, b_);                             \
    } while (0)

/* Parsers used in table-driven hostile tests; each returns ret and fills
 * err, leaving nothing to free on -1 (asserted: result empty). */
static int run_sources(const struct body *b, char *err)
{
    struct seg_sources s;
    int rc = segparse_sources(b->p, b->len, &s, err, ERRLEN);
    if (rc < 0) {
        assert_int_equal(s.n, 0);
        assert_null(s.items);
        assert_null(s.next);
    }
    seg_sources_free(&s);
    return rc;
}

static int run_destinations(const struct body *b, char *err)
{
    struct seg_destinations d;
    int rc = segparse_destinations(b->p, b->len, &d, err, ERRLEN);
    if (rc < 0) {
        assert_int_equal(d.n, 0);
        assert_null(d.items);
    }
    seg_destinations_free(&d);
    return rc;
}

static int run_delivery(const struct body *b, char *err)
{
    struct seg_delivery d;
    int rc = segparse_delivery_metrics(b->p, b->len, MS, &d, err, ERRLEN);
    if (rc < 0)
        for (int i = 0; i < M__COUNT; i++)
            assert_false(d.has[i]);
    return rc;
}

static int run_volume(const struct body *b, char *err)
{
    struct seg_volume v;
    int rc = segparse_event_volume(b->p, b->len, &v, err, ERRLEN);
    if (rc < 0) {
        assert_int_equal(v.ngroups, 0);
        assert_null(v.groups);
    }
    seg_volume_free(&v);
    return rc;
}

static int run_usage_kind(enum seg_usage_kind k, const struct body *b,
                          char *err)
{
    struct seg_usage u;
    int rc = segparse_usage(k, b->p, b->len, &u, err, ERRLEN);
    if (rc < 0) {
        assert_int_equal(u.nrows, 0);
        assert_null(u.rows);
    }
    seg_usage_free(&u);
    return rc;
}

static int run_mtu_sources(const struct body *b, char *err)
{
    return run_usage_kind(USAGE_MTU_SOURCES, b, err);
}

static int run_api_ws(const struct body *b, char *err)
{
    return run_usage_kind(USAGE_API_CALLS_WORKSPACE, b, err);
}

typedef int (*runner)(const struct body *, char *);

static const runner all_runners[] = {
    run_sources, run_destinations, run_delivery, run_volume,
    run_mtu_sources, run_api_ws,
};

/* Every parser must refuse body with an error containing want. */
static void expect_all_fail(const char *s, size_t n, const char *want)
{
    struct body b = exact_n(s, n);
    for (size_t i = 0; i < ARRAY_SIZE(all_runners); i++) {
        char err[ERRLEN] = "";
        assert_int_equal(all_runners[i](&b, err), -1);
        assert_contains(err, want);
    }
    body_free(&b);
}

/* ---- fixtures: sources and destinations -------------------------------- */

static void test_fixture_sources_list(void **state)
{
    struct body b = fixture("sources-list.json");
    struct seg_sources s;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_sources(b.p, b.len, &s, err, ERRLEN), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.skipped, 0);
    assert_string_equal(s.warning, "");
    assert_string_equal(s.items[0].id, "rh5BDZp6QDHvXFCkibm1pR");
    assert_string_equal(s.items[0].slug, "web_prod");
    assert_string_equal(s.items[0].name, "Web (prod)");
    assert_true(s.items[0].enabled);
    assert_string_equal(s.items[1].id, "qQEHquLrjRDN9j1ByrChyn");
    assert_string_equal(s.items[1].slug, "ios_prod");
    assert_false(s.items[1].enabled);
    assert_null(s.next);        /* "next": null */
    seg_sources_free(&s);
    assert_null(s.items);
    assert_int_equal(s.n, 0);
    seg_sources_free(&s);       /* second free is harmless */
    seg_sources_free(NULL);
    body_free(&b);
}

static void test_fixture_connected_destinations(void **state)
{
    struct body b = fixture("connected-destinations.json");
    struct seg_destinations d;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_destinations(b.p, b.len, &d, err, ERRLEN), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.skipped, 0);
    assert_string_equal(d.items[0].id, "66be7aeca665bd11f8908630");
    assert_string_equal(d.items[0].name, "Amplitude (prod)");
    assert_string_equal(d.items[0].slug, "amplitude");
    assert_string_equal(d.items[0].metadata_id, "54521fd525e721e32a72ee91");
    assert_string_equal(d.items[0].source_id, "rh5BDZp6QDHvXFCkibm1pR");
    assert_true(d.items[0].enabled);
    assert_string_equal(d.items[1].id, "fP7qoQw2HTWt9WdMr718gn");
    assert_string_equal(d.items[1].slug, "webhooks");
    assert_string_equal(d.items[1].metadata_id, "54521fdc25e721e32a72ef04");
    assert_false(d.items[1].enabled);
    assert_null(d.next);
    /* the masked apiKey ("...dada") must not be copied anywhere */
    for (size_t i = 0; i < d.n; i++) {
        assert_null(strstr(d.items[i].name, "dada"));
        assert_null(strstr(d.items[i].slug, "dada"));
    }
    seg_destinations_free(&d);
    seg_destinations_free(NULL);
    body_free(&b);
}

static void test_fixture_connected_destinations_empty(void **state)
{
    struct body b = fixture("connected-destinations-empty.json");
    struct seg_destinations d;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_destinations(b.p, b.len, &d, err, ERRLEN), 0);
    assert_int_equal(d.n, 0);
    assert_int_equal(d.skipped, 0);
    assert_null(d.next);
    seg_destinations_free(&d);
    body_free(&b);
}

/* ---- fixtures: delivery metrics ---------------------------------------- */

static void test_fixture_delivery_ok(void **state)
{
    struct body b = fixture("delivery-metrics-ok.json");
    struct seg_delivery d;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_delivery_metrics(b.p, b.len, MS, &d, err,
                                               ERRLEN), 0);
    assert_string_equal(d.source_id, "rh5BDZp6QDHvXFCkibm1pR");
    assert_string_equal(d.destination_metadata_id,
                        "54521fd525e721e32a72ee91");
    for (int i = 0; i < M__COUNT; i++)
        assert_int_equal(d.has[i], i <= M_RETRY_RATIO);
    assert_near(d.v[M_SUCCESSES], 48213);
    assert_near(d.v[M_SUCCESSES_FIRST_ATTEMPT], 47950);
    assert_near(d.v[M_SUCCESSES_AFTER_RETRY], 263);
    assert_near(d.v[M_DISCARDED], 112);
    assert_near(d.v[M_EXPIRED], 4);
    assert_near(d.v[M_RETRIED], 391);
    assert_near(d.v[M_TIME_TO_SUCCESS_AVG], 0.412);
    assert_near(d.v[M_TIME_TO_SUCCESS_P95], 1.870);
    assert_near(d.v[M_TIME_TO_FIRST_ATTEMPT_AVG], 0.236);
    assert_near(d.v[M_TIME_TO_FIRST_ATTEMPT_P95], 0.905);
    assert_near(d.v[M_ATTEMPTED], 48329);
    assert_near(d.v[M_DISCARD_RATIO], 116.0 / 48329.0);
    assert_near(d.v[M_RETRY_RATIO], 263.0 / 48213.0);
    assert_int_equal(d.unknown_metrics, 0);
    assert_int_equal(d.skipped, 0);
    assert_string_equal(d.warning, "");
    body_free(&b);
}

static void test_fixture_delivery_recipe(void **state)
{
    struct body b = fixture("delivery-metrics-recipe.json");
    struct seg_delivery d;
    char err[ERRLEN] = "";
    /* latency_scale 1: the recipe's latencies look like seconds */
    assert_int_equal(segparse_delivery_metrics(b.p, b.len, 1.0, &d, err,
                                               ERRLEN), 0);
    assert_string_equal(d.source_id, "e2wdQQGhujzzXEsMHDH5od");
    assert_near(d.v[M_SUCCESSES], 259216);
    assert_near(d.v[M_SUCCESSES_FIRST_ATTEMPT], 231203);
    assert_near(d.v[M_SUCCESSES_AFTER_RETRY], 28013);
    /* total 0 is a sample count: the averages are kept regardless */
    assert_true(d.has[M_TIME_TO_FIRST_ATTEMPT_AVG]);
    assert_near(d.v[M_TIME_TO_FIRST_ATTEMPT_AVG], 30.628389015);
    assert_near(d.v[M_TIME_TO_FIRST_ATTEMPT_P95], 30.628389015);
    assert_false(d.has[M_TIME_TO_SUCCESS_AVG]);
    assert_false(d.has[M_TIME_TO_SUCCESS_P95]);
    /* no discarded/expired/retried: absent, never 0 */
    assert_false(d.has[M_DISCARDED]);
    assert_false(d.has[M_EXPIRED]);
    assert_false(d.has[M_RETRIED]);
    assert_false(d.has[M_ATTEMPTED]);
    assert_false(d.has[M_DISCARD_RATIO]);
    assert_true(d.has[M_RETRY_RATIO]);
    assert_near(d.v[M_RETRY_RATIO], 28013.0 / 259216.0);
    body_free(&b);
}

static void test_fixture_delivery_zero(void **state)
{
    struct body b = fixture("delivery-metrics-zero.json");
    struct seg_delivery d;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_delivery_metrics(b.p, b.len, MS, &d, err,
                                               ERRLEN), 0);
    for (int i = M_SUCCESSES; i <= M_TIME_TO_FIRST_ATTEMPT_P95; i++) {
        assert_true(d.has[i]);
        assert_true(d.v[i] == 0.0);
    }
    assert_true(d.has[M_ATTEMPTED]);
    assert_true(d.v[M_ATTEMPTED] == 0.0);
    /* 0/0 has no value: never 0, never NaN */
    assert_false(d.has[M_DISCARD_RATIO]);
    assert_false(d.has[M_RETRY_RATIO]);
    body_free(&b);
}

static void test_fixture_delivery_empty(void **state)
{
    struct body b = fixture("delivery-metrics-empty.json");
    struct seg_delivery d;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_delivery_metrics(b.p, b.len, MS, &d, err,
                                               ERRLEN), 0);
    for (int i = 0; i < M__COUNT; i++)
        assert_false(d.has[i]);
    assert_string_equal(d.source_id, "qQEHquLrjRDN9j1ByrChyn");
    assert_string_equal(d.destination_metadata_id,
                        "54521fdc25e721e32a72ef04");
    assert_int_equal(d.unknown_metrics, 0);
    body_free(&b);
}

/* ---- fixtures: delivery overview (no parser: must be refused clearly) -- */

static void check_overview_refused(const char *name)
{
    struct body b = fixture(name);
    char err[ERRLEN] = "";
    struct seg_error e;
    assert_int_equal(run_volume(&b, err), -1);
    assert_string_equal(err, "missing data.result array");
    assert_int_equal(run_delivery(&b, err), -1);
    assert_string_equal(err, "data.deliveryMetricsSummary is missing, "
                        "expected an object");
    assert_int_equal(segparse_error(b.p, b.len, &e), -1);
    assert_string_equal(e.message, "JSON without errors[]");
    body_free(&b);
}

static void test_fixture_overview_failed(void **state)
{
    check_overview_refused("delivery-overview-failed-delivery.json");
}

/* failed-delivery grouped by discardReason: the reasons and their shares. */
static void test_fixture_failed_delivery_reasons(void **state)
{
    struct body b = fixture("delivery-overview-failed-delivery.json");
    char err[ERRLEN] = "";
    struct discard_reasons r;
    struct seg_overview o;
    discard_reasons_init(&r);
    assert_int_equal(segparse_failed_delivery(b.p, b.len, &r, &o, err,
                                              sizeof(err)), 0);
    discard_reasons_finish(&r);
    assert_int_equal(o.datasets, 3);
    assert_int_equal(o.skipped, 0);
    assert_null(o.next);                /* pagination without next */
    assert_int_equal(r.n, 3);
    assert_true(r.total == 112);
    assert_string_equal(r.top[0].code, "400");
    assert_true(r.top[0].count == 97);
    assert_true(fabs(r.top[0].share - 97.0 / 112) < 1e-9);
    assert_string_equal(r.top[1].code, "INVALID_SETTINGS");
    assert_string_equal(r.top[2].code, "expires");
    assert_true(r.top[2].count == 4);
    seg_overview_free(&o);
    body_free(&b);
}

/* Datasets without a reason or a count are skipped; a missing total is
 * the sum of the series; an error envelope fails. */
static void test_failed_delivery_hostile(void **state)
{
    struct body b = exact("{\"data\":{\"total\":9,\"dataset\":["
        "{\"total\":3,\"series\":[]},"
        "{\"discardReason\":\"401\",\"series\":[{\"time\":\"x\","
        "\"count\":2},{\"count\":\"4\"}]},"
        "{\"discardReason\":\"429\",\"total\":-1},"
        "{\"discardReason\":7,\"total\":1}],"
        "\"pagination\":{\"next\":\"MQ==\"}}}");
    char err[ERRLEN] = "";
    struct discard_reasons r;
    struct seg_overview o;
    discard_reasons_init(&r);
    assert_int_equal(segparse_failed_delivery(b.p, b.len, &r, &o, err,
                                              sizeof(err)), 0);
    discard_reasons_finish(&r);
    assert_int_equal(o.datasets, 1);
    assert_int_equal(o.skipped, 3);
    assert_int_equal(o.implausible.n, 1);
    assert_string_equal(o.next, "MQ==");
    assert_int_equal(r.n, 1);
    assert_string_equal(r.top[0].code, "401");
    assert_true(r.top[0].count == 6);
    assert_true(r.top[0].share == 1);
    seg_overview_free(&o);
    body_free(&b);

    b = exact("{\"errors\":[{\"type\":\"NotFound\",\"message\":\"x\"}]}");
    discard_reasons_init(&r);
    assert_int_equal(segparse_failed_delivery(b.p, b.len, &r, &o, err,
                                              sizeof(err)), -1);
    assert_string_equal(err, "API error NotFound: x");
    assert_int_equal(r.n, 0);
    body_free(&b);
}

static void test_fixture_overview_successful(void **state)
{
    check_overview_refused("delivery-overview-successful-delivery.json");
}

static void test_fixture_overview_received(void **state)
{
    check_overview_refused(
        "delivery-overview-successfully-received-by-type.json");
}

/* ---- fixtures: error envelopes ------------------------------------------- */

static void check_error(const char *name, const char *type,
                        const char *msg_part, const char *field, double ms)
{
    struct body b = fixture(name);
    struct seg_error e;
    assert_int_equal(segparse_error(b.p, b.len, &e), 0);
    assert_string_equal(e.type, type);
    assert_contains(e.message, msg_part);
    assert_string_equal(e.field, field);
    assert_true(e.ms_before_next == ms);
    /* a data parser given the envelope reports it instead of "no data" */
    char err[ERRLEN] = "";
    assert_int_equal(run_sources(&b, err), -1);
    assert_contains(err, "API error ");
    assert_contains(err, type);
    body_free(&b);
}

static void test_fixture_error_401(void **state)
{
    check_error("error-401.json", "Unauthorized", "Unauthorized", "", -1);
}

static void test_fixture_error_404(void **state)
{
    check_error("error-404.json", "NotFound", "Resource not found", "", -1);
}

static void test_fixture_error_422_granularity(void **state)
{
    check_error("error-422-granularity-recipe.json", "bad-request",
                "Granularity 'MINUTE' does not accept range over 4 hours",
                "", -1);
}

static void test_fixture_error_422_range(void **state)
{
    check_error("error-422-range.json", "ValidationFailure",
                "exceeds the maximum allowed", "startTime", -1);
}

static void test_fixture_error_429_spec(void **state)
{
    check_error("error-429-spec-example.json", "RateLimited",
                "Rate limit exceeded", "", -1);
}

static void test_fixture_error_429(void **state)
{
    check_error("error-429.json", "RequestError", "Too many requests", "",
                41250);
    struct body b = fixture("error-429.json");
    char err[ERRLEN] = "";
    assert_int_equal(run_delivery(&b, err), -1);
    assert_string_equal(err, "API error RequestError: Too many requests");
    body_free(&b);
}

/* ---- fixtures: events volume ------------------------------------------- */

static void test_fixture_volume_hour(void **state)
{
    struct body b = fixture("event-volume-hour.json");
    struct seg_volume v;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_event_volume(b.p, b.len, &v, err, ERRLEN), 0);
    assert_int_equal(v.ngroups, 2);
    assert_int_equal(v.skipped, 0);
    assert_null(v.next);
    assert_string_equal(v.groups[0].source_id, "rh5BDZp6QDHvXFCkibm1pR");
    assert_string_equal(v.groups[0].source_name, "Web (prod)");
    assert_string_equal(v.groups[0].source_slug, "web_prod");
    assert_int_equal(v.groups[0].npoints, 3);
    assert_true(v.groups[0].points[0].time == 1787227200);
    assert_true(v.groups[0].points[1].time == 1787227200 + 3600);
    assert_true(v.groups[0].points[2].time == 1787227200 + 7200);
    assert_true(v.groups[0].points[0].count == 131044);
    assert_true(v.groups[0].points[2].count == 131204);
    assert_string_equal(v.groups[1].source_id, "qQEHquLrjRDN9j1ByrChyn");
    assert_string_equal(v.groups[1].source_slug, "ios_prod");
    assert_true(v.groups[1].points[0].count == 17);
    assert_true(v.groups[1].points[2].count == 0);
    seg_volume_free(&v);
    assert_null(v.groups);
    seg_volume_free(NULL);
    body_free(&b);
}

static void test_fixture_volume_day_ungrouped(void **state)
{
    struct body b = fixture("event-volume-day-ungrouped.json");
    struct seg_volume v;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_event_volume(b.p, b.len, &v, err, ERRLEN), 0);
    assert_int_equal(v.ngroups, 1);
    assert_null(v.groups[0].source_id);
    assert_null(v.groups[0].source_name);
    assert_int_equal(v.groups[0].npoints, 2);
    assert_true(v.groups[0].points[0].time == 1787011200);
    assert_true(v.groups[0].points[0].count == 3104455);
    assert_true(v.groups[0].points[1].time == 1787011200 + 86400);
    assert_true(v.groups[0].points[1].count == 3217452);
    assert_null(v.next);
    seg_volume_free(&v);
    body_free(&b);
}

static void test_fixture_volume_eventtype_paged(void **state)
{
    struct body b = fixture("event-volume-eventtype-paged.json");
    struct seg_volume v;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_event_volume(b.p, b.len, &v, err, ERRLEN), 0);
    assert_int_equal(v.ngroups, 2);
    assert_string_equal(v.next, "Mg==");
    assert_null(v.groups[0].source_id);
    assert_int_equal(v.groups[0].npoints, 3);
    assert_true(v.groups[0].points[0].time == 1787241300);
    assert_true(v.groups[0].points[0].count == 97);
    assert_true(v.groups[0].points[1].count == 110);
    assert_true(v.groups[0].points[2].count == 104);
    assert_true(v.groups[1].points[2].count == 2071);
    seg_volume_free(&v);
    body_free(&b);
}

static void test_fixture_volume_recipe(void **state)
{
    struct body b = fixture("event-volume-recipe.json");
    struct seg_volume v;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_event_volume(b.p, b.len, &v, err, ERRLEN), 0);
    assert_int_equal(v.ngroups, 1);
    assert_int_equal(v.groups[0].npoints, 3);
    assert_true(v.groups[0].points[0].time == 1690761600);
    assert_true(v.groups[0].points[0].count == 389258);
    assert_true(v.groups[0].points[2].time == 1690930800);
    assert_true(v.groups[0].points[2].count == 388497);
    seg_volume_free(&v);
    body_free(&b);
}

/* ---- fixtures: usage --------------------------------------------------- */

static void test_fixture_mtu_sources_daily(void **state)
{
    struct body b = fixture("mtu-sources-daily.json");
    struct seg_usage u;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_usage(USAGE_MTU_SOURCES, b.p, b.len, &u, err,
                                    ERRLEN), 0);
    assert_int_equal(u.nrows, 4);
    assert_int_equal(u.skipped, 0);
    assert_string_equal(u.next, "NA==");
    struct seg_usage_row *r = &u.rows[0];
    assert_string_equal(r->source_id, "rh5BDZp6QDHvXFCkibm1pR");
    assert_true(r->time == 1785542400);
    assert_true(r->period_start == 1785542400);
    assert_true(r->period_end == 1788220800);
    assert_true(r->v[M_MTU_IDENTIFIED] == 5127);
    assert_true(r->v[M_MTU_NEVER_IDENTIFIED] == 18519);
    assert_true(r->v[M_MTU_ANONYMOUS] == 20412);
    assert_true(r->v[M_MTU_ANONYMOUS_IDENTIFIED] == 1893);
    assert_true(r->has[M_MTU]);
    assert_true(r->v[M_MTU] == 5127 + 18519);
    assert_false(r->has[M_API_CALLS]);
    assert_string_equal(u.rows[3].source_id, "qQEHquLrjRDN9j1ByrChyn");
    assert_true(u.rows[3].time == 1785542400 + 86400);
    assert_true(u.rows[3].v[M_MTU] == 95 + 1197);
    seg_usage_free(&u);
    assert_null(u.rows);
    seg_usage_free(NULL);
    body_free(&b);
}

static void test_fixture_mtu_sources_recipe(void **state)
{
    struct body b = fixture("mtu-sources-recipe.json");
    struct seg_usage u;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_usage(USAGE_MTU_SOURCES, b.p, b.len, &u, err,
                                    ERRLEN), 0);
    assert_int_equal(u.nrows, 2);
    assert_null(u.next);            /* no pagination object at all */
    assert_string_equal(u.warning, "");
    assert_string_equal(u.rows[0].source_id, "9eMzcYkXfNigKZyD3u3kVR");
    assert_true(u.rows[0].time == 1688169600);     /* ".000Z" millis */
    assert_true(u.rows[0].v[M_MTU] == 288);
    assert_true(u.rows[0].has[M_MTU_ANONYMOUS]);
    assert_true(u.rows[0].v[M_MTU_ANONYMOUS] == 0);
    assert_true(u.rows[1].v[M_MTU_IDENTIFIED] == 1);
    seg_usage_free(&u);
    body_free(&b);
}

static void test_fixture_mtu_workspace_daily(void **state)
{
    struct body b = fixture("mtu-workspace-daily.json");
    struct seg_usage u;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_usage(USAGE_MTU_WORKSPACE, b.p, b.len, &u, err,
                                    ERRLEN), 0);
    assert_int_equal(u.nrows, 2);
    assert_null(u.next);
    assert_null(u.rows[0].source_id);
    assert_true(u.rows[0].v[M_MTU] == 5175 + 19130);
    assert_true(u.rows[1].v[M_MTU] == 9406 + 36672);
    assert_true(u.rows[1].v[M_MTU_ANONYMOUS] == 40081);
    assert_true(u.rows[1].period_end == 1788220800);
    seg_usage_free(&u);
    /* the same body read as per-source usage is a clear error */
    assert_int_equal(segparse_usage(USAGE_MTU_SOURCES, b.p, b.len, &u, err,
                                    ERRLEN), -1);
    assert_string_equal(err, "missing data.dailyPerSourceMTUUsage array");
    body_free(&b);
}

static void test_fixture_api_calls_sources(void **state)
{
    struct body b = fixture("api-calls-sources-daily.json");
    struct seg_usage u;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_usage(USAGE_API_CALLS_SOURCES, b.p, b.len, &u,
                                    err, ERRLEN), 0);
    assert_int_equal(u.nrows, 4);
    assert_string_equal(u.next, "NA==");
    assert_string_equal(u.rows[0].source_id, "rh5BDZp6QDHvXFCkibm1pR");
    assert_true(u.rows[0].has[M_API_CALLS]);
    assert_true(u.rows[0].v[M_API_CALLS] == 3104455);
    assert_true(u.rows[1].v[M_API_CALLS] == 6321907);
    assert_true(u.rows[3].v[M_API_CALLS] == 18);
    assert_true(isnan(u.rows[0].period_start));
    assert_true(isnan(u.rows[0].period_end));
    assert_false(u.rows[0].has[M_MTU]);
    seg_usage_free(&u);
    body_free(&b);
}

static void test_fixture_api_calls_workspace(void **state)
{
    struct body b = fixture("api-calls-workspace-daily.json");
    struct seg_usage u;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_usage(USAGE_API_CALLS_WORKSPACE, b.p, b.len, &u,
                                    err, ERRLEN), 0);
    assert_int_equal(u.nrows, 2);
    assert_null(u.next);
    assert_null(u.rows[0].source_id);
    assert_true(u.rows[0].v[M_API_CALLS] == 3104473);
    assert_true(u.rows[1].v[M_API_CALLS] == 6321925);
    assert_true(u.rows[1].time == 1785542400 + 86400);
    seg_usage_free(&u);
    body_free(&b);
}

/* Fails when a fixture is added without a test above. */
static void test_every_fixture_covered(void **state)
{
    static const char *covered[] = {
        "api-calls-sources-daily.json", "api-calls-workspace-daily.json",
        "connected-destinations-empty.json", "connected-destinations.json",
        "delivery-metrics-empty.json", "delivery-metrics-ok.json",
        "delivery-metrics-recipe.json", "delivery-metrics-zero.json",
        "delivery-overview-failed-delivery.json",
        "delivery-overview-successful-delivery.json",
        "delivery-overview-successfully-received-by-type.json",
        "error-401.json", "error-404.json",
        "error-422-granularity-recipe.json", "error-422-range.json",
        "error-429-spec-example.json", "error-429.json",
        "event-volume-day-ungrouped.json", "event-volume-eventtype-paged.json",
        "event-volume-hour.json", "event-volume-recipe.json",
        "mtu-sources-daily.json", "mtu-sources-recipe.json",
        "mtu-workspace-daily.json", "sources-list.json",
    };
    DIR *dir = opendir(FIXTURES_DIR);
    struct dirent *de;
    size_t seen = 0;
    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        bool found = false;
        for (size_t i = 0; i < ARRAY_SIZE(covered); i++)
            found = found || streq(covered[i], de->d_name);
        if (!found)
            fail_msg("fixture %s has no test", de->d_name);
        seen++;
    }
    closedir(dir);
    assert_int_equal(seen, ARRAY_SIZE(covered));
}

/* ---- hostile: body-level refusals -------------------------------------- */

static void test_empty_body(void **state)
{
    char err[ERRLEN] = "";
    struct seg_sources s;
    struct seg_error e;
    assert_int_equal(segparse_sources(NULL, 0, &s, err, ERRLEN), -1);
    assert_string_equal(err, "empty body");
    expect_all_fail("", 0, "empty body");
    expect_all_fail(" \r\n\t ", 5, "empty body (whitespace only)");
    assert_int_equal(segparse_error("", 0, &e), -1);
    assert_string_equal(e.message, "empty body");
    assert_true(e.ms_before_next == -1);
}

static void test_html_body(void **state)
{
    static const char html[] =
        "\r\n  <!DOCTYPE html><html><head><title>502 Bad Gateway</title>"
        "</head><body>nginx</body></html>";
    expect_all_fail(html, strlen(html),
                    "body is HTML, not JSON (status page or proxy error?)");
    struct body b = exact(html);
    struct seg_error e;
    assert_int_equal(segparse_error(b.p, b.len, &e), -1);
    assert_string_equal(e.message, "HTML page");
    body_free(&b);
}

static void test_body_too_large(void **state)
{
    /* valid JSON padded with spaces: refused on size, not on content */
    static const char json[] = "{\"data\":{\"sources\":[]}}";
    size_t n = SEGPARSE_MAX_BODY + 1;
    char *big = xmalloc(n);
    memcpy(big, json, strlen(json));
    memset(big + strlen(json), ' ', n - strlen(json));
    char err[ERRLEN] = "";
    struct seg_sources s;
    assert_int_equal(segparse_sources(big, n, &s, err, ERRLEN), -1);
    assert_string_equal(err, "body too large (8388609 bytes, limit 8388608)");
    struct seg_error e;
    assert_int_equal(segparse_error(big, n, &e), -1);
    assert_string_equal(e.message, "body too large");
    /* exactly at the limit is accepted */
    assert_int_equal(segparse_sources(big, n - 1, &s, err, ERRLEN), 0);
    assert_int_equal(s.n, 0);
    seg_sources_free(&s);
    free(big);
}

static void test_truncated_body(void **state)
{
    static const char json[] = "{\"data\":{\"sources\":[{\"id\":\"abc\"";
    expect_all_fail(json, strlen(json),
                    "invalid JSON at byte 30 (truncated body?)");
    /* an unterminated string (the cJSON#800 overread shape) */
    static const char str[] = "{\"1\":1,";
    expect_all_fail(str, strlen(str), "(truncated body?)");
    struct seg_error e;
    struct body b = exact(json);
    assert_int_equal(segparse_error(b.p, b.len, &e), -1);
    assert_contains(e.message, "not JSON (invalid JSON at byte 30");
    body_free(&b);
}

/* Every strict prefix of every JSON fixture is refused by every parser,
 * with a byte offset in the message, and never read past its end. */
static void test_truncated_fixture_sweep(void **state)
{
    DIR *dir = opendir(FIXTURES_DIR);
    struct dirent *de;
    size_t checked = 0;
    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 5, ".json") != 0)
            continue;
        struct body full = fixture(de->d_name);
        const char *last = strrchr(full.p, '}');
        assert_non_null(last);
        for (size_t cut = 1; cut <= (size_t)(last - full.p); cut++) {
            struct body b = exact_n(full.p, cut);
            char err[ERRLEN] = "";
            struct seg_error e;
            for (size_t r = 0; r < ARRAY_SIZE(all_runners); r++) {
                assert_int_equal(all_runners[r](&b, err), -1);
                if (!str_has_prefix(err, "invalid JSON at byte ") &&
                    !streq(err, "empty body (whitespace only)"))
                    fail_msg("%s cut at %zu: '%s'", de->d_name, cut, err);
            }
            assert_int_equal(segparse_error(b.p, b.len, &e), -1);
            body_free(&b);
            checked++;
        }
        body_free(&full);
    }
    closedir(dir);
    assert_true(checked > 10000);
}

static void test_deep_nesting(void **state)
{
    size_t n = 100000;
    char *deep = xmalloc(n);
    memset(deep, '[', n);
    expect_all_fail(deep, n, "nested deeper than 1000 levels");
    /* same inside a plausible envelope */
    static const char head[] = "{\"data\":{\"sources\":";
    memcpy(deep, head, strlen(head));
    expect_all_fail(deep, n, "nested deeper than 1000 levels");
    for (size_t i = strlen(head); i < n; i += 5)
        memcpy(deep + i, "{\"a\":", n - i < 5 ? n - i : 5);
    expect_all_fail(deep, n, "nested deeper than 1000 levels");
    struct seg_error e;
    assert_int_equal(segparse_error(deep, n, &e), -1);
    assert_contains(e.message, "not JSON");
    free(deep);
    /* 999 levels is still legal JSON, just not what a parser expects */
    struct strbuf sb = STRBUF_INIT;
    for (int i = 0; i < 998; i++)
        strbuf_addc(&sb, '[');
    for (int i = 0; i < 998; i++)
        strbuf_addc(&sb, ']');
    char err[ERRLEN] = "";
    struct body b = exact_n(sb.buf, sb.len);
    assert_int_equal(run_sources(&b, err), -1);
    assert_string_equal(err, "top-level JSON is an array, expected an object");
    body_free(&b);
    strbuf_free(&sb);
}

static void test_nul_bytes(void **state)
{
    static const char in_str[] =
        "{\"data\":{\"sources\":[{\"id\":\"ab\0cd\",\"enabled\":true}]}}";
    expect_all_fail(in_str, sizeof(in_str) - 1,
                    "invalid JSON at byte 29: NUL byte in body");
    static const char trailing[] = "{\"data\":{\"sources\":[]}}\0junk";
    expect_all_fail(trailing, sizeof(trailing) - 1,
                    "invalid JSON at byte 23: NUL byte in body");
}

static void test_trailing_garbage(void **state)
{
    static const char json[] = "{\"data\":{\"sources\":[]}} xyz";
    expect_all_fail(json, strlen(json),
                    "invalid JSON: trailing data at byte 24");
    /* two concatenated bodies (a retried write?) are not one body */
    static const char two[] = "{\"data\":{}}{\"data\":{}}";
    expect_all_fail(two, strlen(two), "trailing data at byte 11");
    /* trailing whitespace is fine */
    struct body b = exact("{\"data\":{\"sources\":[]}}\r\n\n");
    char err[ERRLEN] = "";
    assert_int_equal(run_sources(&b, err), 0);
    body_free(&b);
}

static void test_not_json(void **state)
{
    static const char txt[] = "Service Unavailable";
    expect_all_fail(txt, strlen(txt), "invalid JSON at byte 0");
    struct body b = exact(txt);
    struct seg_error e;
    assert_int_equal(segparse_error(b.p, b.len, &e), -1);
    assert_string_equal(e.message, "not JSON (invalid JSON at byte 0)");
    body_free(&b);
    /* NaN is not JSON either */
    static const char nan_body[] = "{\"data\":{\"total\":NaN}}";
    expect_all_fail(nan_body, strlen(nan_body), "invalid JSON at byte");
}

static void test_wrong_top_level_and_data(void **state)
{
    expect_all_fail("[1,2]", 5, "top-level JSON is an array, expected an "
                    "object");
    expect_all_fail("\"x\"", 3, "top-level JSON is a string");
    expect_all_fail("42", 2, "top-level JSON is a number");
    expect_all_fail("null", 4, "top-level JSON is null");
    expect_all_fail("{\"data\":[]}", 11, "data is an array, expected an "
                    "object");
    expect_all_fail("{\"data\":null}", 13, "data is null, expected an "
                    "object");
    expect_all_fail("{}", 2, "data is missing, expected an object");
}

/* ---- hostile: sources / destinations rows ------------------------------ */

static void test_sources_bad_rows(void **state)
{
    struct body b = exact(
        "{\"data\":{\"sources\":["
        "{\"id\":\"A\",\"slug\":\"a\",\"enabled\":true},"
        "{\"id\":\"B\",\"enabled\":false},"        /* no slug, no name */
        "7,"
        "{\"slug\":\"noid\",\"enabled\":true},"
        "{\"id\":\"\",\"enabled\":true},"
        "{\"id\":42,\"enabled\":true},"
        "{\"id\":\"C\",\"enabled\":\"yes\"},"
        "{\"id\":\"D\"}"
        "],\"pagination\":{\"current\":\"MA==\",\"next\":\"MTA=\"}}}");
    struct seg_sources s;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_sources(b.p, b.len, &s, err, ERRLEN), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.skipped, 6);
    assert_string_equal(s.warning, "sources[2]: a number, not an object");
    assert_string_equal(s.items[0].id, "A");
    assert_string_equal(s.items[1].id, "B");
    assert_string_equal(s.items[1].slug, "");
    assert_string_equal(s.items[1].name, "");
    assert_false(s.items[1].enabled);
    assert_string_equal(s.next, "MTA=");
    seg_sources_free(&s);
    body_free(&b);
}

static void test_sources_missing_id_warning(void **state)
{
    struct body b = exact(
        "{\"data\":{\"sources\":["
        "{\"id\":\"A\",\"enabled\":true},{\"id\":\"B\",\"enabled\":true},"
        "{\"id\":\"C\",\"enabled\":true},{\"enabled\":true}]}}");
    struct seg_sources s;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_sources(b.p, b.len, &s, err, ERRLEN), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.skipped, 1);
    assert_string_equal(s.warning, "sources[3]: missing id");
    seg_sources_free(&s);
    body_free(&b);
}

static void test_sources_wrong_container(void **state)
{
    char err[ERRLEN] = "";
    struct body b = exact("{\"data\":{\"sources\":{\"id\":\"A\"}}}");
    assert_int_equal(run_sources(&b, err), -1);
    assert_string_equal(err, "data.sources is an object, expected an array");
    body_free(&b);
    b = exact("{\"data\":{\"destinations\":[]}}");
    assert_int_equal(run_sources(&b, err), -1);
    assert_string_equal(err, "missing data.sources array");
    body_free(&b);
}

static void test_destinations_bad_rows(void **state)
{
    struct body b = exact(
        "{\"data\":{\"destinations\":["
        "{\"id\":\"D1\",\"enabled\":true,\"settings\":{\"apiKey\":\"SECRET\"}},"
        "{\"id\":\"D2\",\"enabled\":true,\"metadata\":[1],\"sourceId\":5},"
        "{\"name\":\"no id\",\"enabled\":true},"
        "{\"id\":\"D3\",\"enabled\":null},"
        "\"D4\""
        "]}}");
    struct seg_destinations d;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_destinations(b.p, b.len, &d, err, ERRLEN), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.skipped, 3);
    assert_string_equal(d.warning, "destinations[2]: missing id");
    assert_string_equal(d.items[0].id, "D1");
    assert_string_equal(d.items[0].name, "");
    assert_string_equal(d.items[0].slug, "");
    assert_string_equal(d.items[0].metadata_id, "");
    assert_string_equal(d.items[0].source_id, "");
    assert_string_equal(d.items[1].slug, "");   /* metadata is an array */
    assert_string_equal(d.items[1].source_id, "");
    assert_null(d.next);
    seg_destinations_free(&d);
    body_free(&b);
}

/* ---- hostile: pagination ----------------------------------------------- */

static void check_next(const char *pagination, const char *want_next,
                       const char *want_warning)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "{\"data\":{\"sources\":[]%s}}", pagination);
    struct body b = exact_n(sb.buf, sb.len);
    struct seg_sources s;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_sources(b.p, b.len, &s, err, ERRLEN), 0);
    if (want_next)
        assert_string_equal(s.next, want_next);
    else
        assert_null(s.next);
    assert_string_equal(s.warning, want_warning);
    seg_sources_free(&s);
    body_free(&b);
    strbuf_free(&sb);
}

static void test_pagination_cursors(void **state)
{
    check_next("", NULL, "");
    check_next(",\"pagination\":null", NULL, "");
    check_next(",\"pagination\":{\"current\":\"MA==\"}", NULL, "");
    check_next(",\"pagination\":{\"next\":null}", NULL, "");
    check_next(",\"pagination\":{\"next\":\"\"}", NULL, "");
    check_next(",\"pagination\":{\"next\":\"a+b/c==\"}", "a+b/c==", "");
    check_next(",\"pagination\":{\"next\":42}", NULL,
               "pagination.next is a number, treated as last page");
    check_next(",\"pagination\":{\"next\":{\"c\":1}}", NULL,
               "pagination.next is an object, treated as last page");
    check_next(",\"pagination\":{\"next\":true}", NULL,
               "pagination.next is a bool, treated as last page");
    check_next(",\"pagination\":\"MA==\"", NULL,
               "pagination is a string, treated as last page");
}

/* ---- hostile: delivery metrics ----------------------------------------- */

static void parse_delivery_ok(const char *metrics, double scale,
                              struct seg_delivery *d)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "{\"data\":{\"deliveryMetricsSummary\":{\"sourceId\":"
                "\"S\",\"metrics\":[%s]}}}", metrics);
    struct body b = exact_n(sb.buf, sb.len);
    char err[ERRLEN] = "";
    if (segparse_delivery_metrics(b.p, b.len, scale, d, err, ERRLEN) != 0)
        fail_msg("unexpected error: %s", err);
    body_free(&b);
    strbuf_free(&sb);
}

static void test_delivery_any_order_and_unknown(void **state)
{
    struct seg_delivery d;
    parse_delivery_ok(
        "{\"metricName\":\"successes_p99\",\"total\":5},"
        "{\"metricName\":\"discarded\",\"total\":10},"
        "{\"metricName\":\"successes\",\"total\":90,\"breakdown\":["
        "{\"metricName\":\"successes_after_retry\",\"value\":9},"
        "{\"metricName\":\"successes_on_third_attempt\",\"value\":1}]}",
        MS, &d);
    assert_int_equal(d.unknown_metrics, 2);
    assert_string_equal(d.first_unknown, "successes_p99");
    assert_true(d.v[M_SUCCESSES] == 90);
    assert_true(d.v[M_DISCARDED] == 10);
    assert_true(d.v[M_SUCCESSES_AFTER_RETRY] == 9);
    assert_false(d.has[M_SUCCESSES_FIRST_ATTEMPT]);
    assert_false(d.has[M_EXPIRED]);
    assert_true(d.v[M_ATTEMPTED] == 100);
    assert_near(d.v[M_DISCARD_RATIO], 0.1);
    assert_near(d.v[M_RETRY_RATIO], 0.1);
    assert_string_equal(d.source_id, "S");
    assert_string_equal(d.destination_metadata_id, "");
}

static void test_delivery_bad_values(void **state)
{
    struct seg_delivery d;
    parse_delivery_ok(
        "{\"metricName\":\"successes\",\"total\":\"abc\",\"breakdown\":["
        "{\"metricName\":\"successes_on_first_attempt\",\"value\":true},"
        "{\"metricName\":\"successes_after_retry\",\"value\":{}}]},"
        "{\"metricName\":\"discarded\",\"total\":-3},"
        "{\"metricName\":\"expired\",\"total\":1e400},"
        "{\"metricName\":\"retried\",\"total\":\"NaN\"},"
        "{\"metricName\":\"time_to_success\",\"total\":1,\"breakdown\":["
        "{\"metricName\":\"time_to_success_average\",\"value\":\"0x10\"},"
        "{\"metricName\":\"time_to_success_p95\",\"value\":null}]},"
        "{\"metricName\":\"time_to_first_attempt\",\"breakdown\":["
        "{\"metricName\":\"time_to_first_attempt_average\",\"value\":\" 5\"},"
        "{\"metricName\":\"time_to_first_attempt_p95\",\"value\":\"inf\"}]}"
        ",{\"metricName\":\"time_to_success\",\"breakdown\":["
        "{\"metricName\":\"time_to_success_average\",\"value\":\"+5\"},"
        "{\"metricName\":\"time_to_success_p95\",\"value\":\".5\"}]}",
        MS, &d);
    /* every value is malformed: nothing present, nothing derived */
    for (int i = 0; i < M__COUNT; i++)
        if (d.has[i])
            fail_msg("metric %d present (%g)", i, d.v[i]);
    assert_string_equal(d.warning, "successes: value is a string, not a "
                        "count");
    assert_int_equal(d.unknown_metrics, 0);
}

static void test_delivery_negative_and_huge_named(void **state)
{
    struct seg_delivery d;
    parse_delivery_ok("{\"metricName\":\"discarded\",\"total\":-3}", MS, &d);
    assert_false(d.has[M_DISCARDED]);
    assert_string_equal(d.warning, "discarded: value is a negative or "
                        "non-finite number, not a count");
    parse_delivery_ok("{\"metricName\":\"expired\",\"total\":1e400}", MS, &d);
    assert_false(d.has[M_EXPIRED]);
    assert_contains(d.warning, "expired: value is a negative or non-finite");
    assert_int_equal(d.implausible.n, 1);
    /* 1e300 is finite but above SEGPARSE_MAX_COUNT: implausible too (it
     * used to be kept as a count) */
    parse_delivery_ok("{\"metricName\":\"expired\",\"total\":1e300}", MS, &d);
    assert_false(d.has[M_EXPIRED]);
    assert_string_equal(d.warning, "expired: value 1e+300 is above 1e+15, "
                        "not a count");
    assert_int_equal(d.implausible.n, 1);
    assert_string_equal(d.implausible.first, "expired = 1e+300");
    /* SEGPARSE_MAX_COUNT itself is a count */
    parse_delivery_ok("{\"metricName\":\"expired\",\"total\":1e15}", MS, &d);
    assert_true(d.has[M_EXPIRED]);
    assert_int_equal(d.implausible.n, 0);
}

static void test_delivery_string_counts(void **state)
{
    struct seg_delivery d;
    parse_delivery_ok(
        "{\"metricName\":\"successes\",\"total\":\"48213\",\"breakdown\":["
        "{\"metricName\":\"successes_on_first_attempt\",\"value\":\"47950\"}"
        "]},"
        "{\"metricName\":\"time_to_success\",\"total\":\"x\",\"breakdown\":["
        "{\"metricName\":\"time_to_success_p95\",\"value\":\"1870.5\"}]}",
        MS, &d);
    assert_true(d.v[M_SUCCESSES] == 48213);
    assert_true(d.v[M_SUCCESSES_FIRST_ATTEMPT] == 47950);
    assert_near(d.v[M_TIME_TO_SUCCESS_P95], 1.8705);
    /* time_to_success.total is never read, so "x" is no problem */
    assert_string_equal(d.warning, "");
}

static void test_delivery_malformed_entries(void **state)
{
    struct seg_delivery d;
    parse_delivery_ok(
        "7,null,{\"total\":3},{\"metricName\":5,\"total\":3},"
        "{\"metricName\":\"successes\",\"total\":4,\"breakdown\":{\"a\":1}},"
        "{\"metricName\":\"discarded\",\"total\":1,\"breakdown\":[7,"
        "{\"metricName\":\"discarded_400\",\"value\":1}]},"
        "{\"metricName\":\"successes\",\"total\":999}",
        MS, &d);
    assert_int_equal(d.skipped, 4);
    assert_string_equal(d.warning, "metrics[0]: a number without metricName");
    assert_true(d.v[M_SUCCESSES] == 4);     /* the duplicate is ignored */
    assert_true(d.v[M_DISCARDED] == 1);
    assert_int_equal(d.unknown_metrics, 1);
    assert_string_equal(d.first_unknown, "discarded_400");
    assert_false(d.has[M_SUCCESSES_FIRST_ATTEMPT]);
}

static void test_delivery_duplicate_warning(void **state)
{
    struct seg_delivery d;
    parse_delivery_ok("{\"metricName\":\"retried\",\"total\":1},"
                      "{\"metricName\":\"retried\",\"total\":2}", MS, &d);
    assert_true(d.v[M_RETRIED] == 1);
    assert_string_equal(d.warning, "retried: duplicate metric, first value "
                        "kept");
}

static void test_delivery_latency_scale(void **state)
{
    struct seg_delivery d;
    static const char m[] =
        "{\"metricName\":\"time_to_success\",\"total\":100,\"breakdown\":["
        "{\"metricName\":\"time_to_success_average\",\"value\":250}]},"
        "{\"metricName\":\"retried\",\"total\":250}";
    parse_delivery_ok(m, 1.0, &d);
    assert_true(d.v[M_TIME_TO_SUCCESS_AVG] == 250);
    parse_delivery_ok(m, MS, &d);
    assert_near(d.v[M_TIME_TO_SUCCESS_AVG], 0.25);
    assert_true(d.v[M_RETRIED] == 250);       /* counts are not scaled */
}

static void test_delivery_wrong_containers(void **state)
{
    char err[ERRLEN] = "";
    struct body b = exact("{\"data\":{\"deliveryMetricsSummary\":"
                          "{\"metrics\":{\"successes\":1}}}}");
    assert_int_equal(run_delivery(&b, err), -1);
    assert_string_equal(err, "data.deliveryMetricsSummary.metrics is an "
                        "object, expected an array");
    body_free(&b);
    b = exact("{\"data\":{\"deliveryMetricsSummary\":{}}}");
    assert_int_equal(run_delivery(&b, err), -1);
    assert_string_equal(err, "missing data.deliveryMetricsSummary.metrics "
                        "array");
    body_free(&b);
    b = exact("{\"data\":{\"deliveryMetricsSummary\":[]}}");
    assert_int_equal(run_delivery(&b, err), -1);
    assert_string_equal(err, "data.deliveryMetricsSummary is an array, "
                        "expected an object");
    body_free(&b);
}

static void test_delivery_long_ids_truncated(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, "{\"data\":{\"deliveryMetricsSummary\":{\"sourceId\":\"");
    for (int i = 0; i < 200; i++)
        strbuf_addc(&sb, 'x');
    strbuf_adds(&sb, "\",\"destinationMetadataId\":7,\"metrics\":[]}}}");
    struct body b = exact_n(sb.buf, sb.len);
    struct seg_delivery d;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_delivery_metrics(b.p, b.len, MS, &d, err,
                                               ERRLEN), 0);
    assert_int_equal(strlen(d.source_id), sizeof(d.source_id) - 1);
    assert_string_equal(d.destination_metadata_id, "");
    body_free(&b);
    strbuf_free(&sb);
}

/* ---- hostile: events volume -------------------------------------------- */

static void test_volume_bad_points(void **state)
{
    struct body b = exact(
        "{\"data\":{\"result\":[{\"source\":{\"id\":\"S1\"},\"series\":["
        "{\"time\":\"2026-08-20T12:00:00Z\",\"count\":10},"
        "{\"time\":1787230800,\"count\":11},"
        "{\"time\":\"yesterday\",\"count\":12},"
        "{\"time\":\"2026-08-20T15:00:00Z\",\"count\":-1},"
        "{\"time\":\"2026-08-20T16:00:00Z\",\"count\":1e400},"
        "{\"time\":\"2026-08-20T17:00:00Z\",\"count\":\"131044\"},"
        "{\"time\":\"2026-08-20T18:00:00Z\"},"
        "[]"
        "]}]}}");
    struct seg_volume v;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_event_volume(b.p, b.len, &v, err, ERRLEN), 0);
    assert_int_equal(v.ngroups, 1);
    assert_int_equal(v.skipped, 6);
    assert_string_equal(v.warning, "result[0].series[1]: bad time or count");
    assert_string_equal(v.groups[0].source_id, "S1");
    assert_null(v.groups[0].source_name);
    assert_null(v.groups[0].source_slug);
    assert_int_equal(v.groups[0].npoints, 2);
    assert_true(v.groups[0].points[0].count == 10);
    assert_true(v.groups[0].points[1].time == 1787227200 + 5 * 3600);
    assert_true(v.groups[0].points[1].count == 131044);
    seg_volume_free(&v);
    body_free(&b);
}

static void test_volume_bad_groups(void **state)
{
    struct body b = exact(
        "{\"data\":{\"result\":["
        "\"g\","
        "{\"total\":5},"
        "{\"series\":{}},"
        "{\"source\":{\"name\":\"no id\"},\"series\":[]},"
        "{\"source\":\"S\",\"series\":[]},"
        "{\"source\":null,\"series\":[]},"
        "{\"source\":{\"id\":\"S2\",\"name\":3},\"series\":[]}"
        "],\"pagination\":{\"next\":\"Mg==\"}}}");
    struct seg_volume v;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_event_volume(b.p, b.len, &v, err, ERRLEN), 0);
    assert_int_equal(v.ngroups, 2);
    assert_int_equal(v.skipped, 5);
    assert_string_equal(v.warning, "result[0]: a string, not an object");
    assert_null(v.groups[0].source_id);          /* source: null */
    assert_int_equal(v.groups[0].npoints, 0);
    assert_string_equal(v.groups[1].source_id, "S2");
    assert_null(v.groups[1].source_name);
    assert_string_equal(v.next, "Mg==");
    seg_volume_free(&v);
    body_free(&b);

    b = exact("{\"data\":{\"result\":[{\"source\":{},\"series\":[]}]}}");
    assert_int_equal(segparse_event_volume(b.p, b.len, &v, err, ERRLEN), 0);
    assert_int_equal(v.ngroups, 0);
    assert_string_equal(v.warning, "result[0]: source without id");
    seg_volume_free(&v);
    body_free(&b);
}

static void test_volume_result_missing(void **state)
{
    char err[ERRLEN] = "";
    struct body b = exact("{\"data\":{\"path\":\"/x\"}}");
    assert_int_equal(run_volume(&b, err), -1);
    assert_string_equal(err, "missing data.result array");
    body_free(&b);
    b = exact("{\"data\":{\"result\":{\"series\":[]}}}");
    assert_int_equal(run_volume(&b, err), -1);
    assert_string_equal(err, "data.result is an object, expected an array");
    body_free(&b);
    b = exact("{\"data\":{\"result\":\"[]\"}}");
    assert_int_equal(run_volume(&b, err), -1);
    assert_string_equal(err, "data.result is a string, expected an array");
    body_free(&b);
}

/* ---- hostile: usage ---------------------------------------------------- */

static void test_usage_paths(void **state)
{
    assert_string_equal(seg_usage_path(USAGE_MTU_SOURCES),
                        "/usage/mtu/sources/daily");
    assert_string_equal(seg_usage_path(USAGE_MTU_WORKSPACE),
                        "/usage/mtu/daily");
    assert_string_equal(seg_usage_path(USAGE_API_CALLS_SOURCES),
                        "/usage/api-calls/sources/daily");
    assert_string_equal(seg_usage_path(USAGE_API_CALLS_WORKSPACE),
                        "/usage/api-calls/daily");
    assert_null(seg_usage_path(USAGE__COUNT));
}

static void test_usage_mtu_bad_rows(void **state)
{
    struct body b = exact(
        "{\"data\":{\"dailyPerSourceMTUUsage\":["
        /* 0: fine, counts as JSON numbers, periods missing */
        "{\"sourceId\":\"S\",\"identified\":5,\"neverIdentified\":7,"
        "\"anonymous\":9,\"anonymousIdentified\":2,"
        "\"timestamp\":\"2026-08-01\"},"
        /* 1: identified bad -> mtu absent, rest kept */
        "{\"sourceId\":\"S\",\"identified\":\"-5\",\"neverIdentified\":\"7\","
        "\"anonymous\":\"1e400\",\"anonymousIdentified\":true,"
        "\"periodStart\":\"abc\",\"periodEnd\":1788220800,"
        "\"timestamp\":\"2026-08-02T00:00:00.000Z\"},"
        /* 2: neverIdentified bad -> mtu absent though identified is set */
        "{\"sourceId\":\"T\",\"identified\":\"4\",\"neverIdentified\":null,"
        "\"timestamp\":\"2026-08-03T00:00:00Z\"},"
        /* skipped: no sourceId, empty sourceId, no timestamp, bad
         * timestamp, numeric timestamp, no count at all, not an object */
        "{\"identified\":\"1\",\"timestamp\":\"2026-08-01T00:00:00Z\"},"
        "{\"sourceId\":\"\",\"identified\":\"1\","
        "\"timestamp\":\"2026-08-01T00:00:00Z\"},"
        "{\"sourceId\":\"S\",\"identified\":\"1\"},"
        "{\"sourceId\":\"S\",\"identified\":\"1\",\"timestamp\":\"soon\"},"
        "{\"sourceId\":\"S\",\"identified\":\"1\",\"timestamp\":1785542400},"
        "{\"sourceId\":\"S\",\"identified\":\"x\","
        "\"timestamp\":\"2026-08-01T00:00:00Z\"},"
        "[]"
        "],\"pagination\":{\"next\":7}}}");
    struct seg_usage u;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_usage(USAGE_MTU_SOURCES, b.p, b.len, &u, err,
                                    ERRLEN), 0);
    assert_int_equal(u.nrows, 3);
    assert_int_equal(u.skipped, 7);
    assert_null(u.next);
    struct seg_usage_row *r = &u.rows[0];
    assert_true(r->time == 1785542400);
    assert_true(r->v[M_MTU] == 12);
    assert_true(r->v[M_MTU_ANONYMOUS] == 9);
    assert_true(isnan(r->period_start));
    r = &u.rows[1];
    assert_true(r->time == 1785542400 + 86400);
    assert_false(r->has[M_MTU]);
    assert_false(r->has[M_MTU_IDENTIFIED]);
    assert_false(r->has[M_MTU_ANONYMOUS]);
    assert_false(r->has[M_MTU_ANONYMOUS_IDENTIFIED]);
    assert_true(r->has[M_MTU_NEVER_IDENTIFIED]);
    assert_true(r->v[M_MTU_NEVER_IDENTIFIED] == 7);
    assert_true(isnan(r->period_start));
    assert_true(r->period_end == 1788220800);
    r = &u.rows[2];
    assert_string_equal(r->source_id, "T");
    assert_true(r->has[M_MTU_IDENTIFIED]);
    assert_true(r->v[M_MTU_IDENTIFIED] == 4);
    assert_false(r->has[M_MTU_NEVER_IDENTIFIED]);
    assert_false(r->has[M_MTU]);
    assert_string_equal(u.warning,
                        "dailyPerSourceMTUUsage[1]: identified is not a "
                        "count");
    seg_usage_free(&u);
    body_free(&b);
}

static void test_usage_api_calls_variants(void **state)
{
    struct body b = exact(
        "{\"data\":{\"dailyWorkspaceAPICallsUsage\":["
        "{\"apiCalls\":3104473,\"timestamp\":\"2026-08-01T00:00:00Z\","
        "\"sourceId\":\"ignored\"},"
        "{\"apiCalls\":\"18446744073709551615\","
        "\"timestamp\":\"2026-08-02T00:00:00Z\"},"
        "{\"apiCalls\":\"12abc\",\"timestamp\":\"2026-08-03T00:00:00Z\"},"
        "{\"apiCalls\":null,\"timestamp\":\"2026-08-04T00:00:00Z\"},"
        "{\"timestamp\":\"2026-08-05T00:00:00Z\"}"
        "]}}");
    struct seg_usage u;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_usage(USAGE_API_CALLS_WORKSPACE, b.p, b.len, &u,
                                    err, ERRLEN), 0);
    /* 2^64 - 1 API calls is above SEGPARSE_MAX_COUNT: implausible, its row
     * has no usable count (it used to be kept) */
    assert_int_equal(u.nrows, 1);
    assert_int_equal(u.skipped, 4);
    assert_string_equal(u.warning, "dailyWorkspaceAPICallsUsage[1]: no usable "
                        "count");
    assert_int_equal(u.implausible.n, 1);
    assert_string_equal(u.implausible.first,
                        "apiCalls = \"18446744073709551615\"");
    assert_null(u.rows[0].source_id);
    assert_true(u.rows[0].v[M_API_CALLS] == 3104473);
    for (int i = M_MTU; i <= M_MTU_NEVER_IDENTIFIED; i++)
        assert_false(u.rows[0].has[i]);
    seg_usage_free(&u);
    body_free(&b);
}

static void test_usage_wrong_container(void **state)
{
    char err[ERRLEN] = "";
    struct body b = exact("{\"data\":{\"dailyPerSourceAPICallsUsage\":{}}}");
    struct seg_usage u;
    assert_int_equal(segparse_usage(USAGE_API_CALLS_SOURCES, b.p, b.len, &u,
                                    err, ERRLEN), -1);
    assert_string_equal(err, "data.dailyPerSourceAPICallsUsage is an object, "
                        "expected an array");
    assert_null(u.rows);
    seg_usage_free(&u);
    body_free(&b);
}

/* ---- error envelope edge cases ------------------------------------------- */

static void check_error_body(const char *json, int want_rc,
                             const char *want_msg, double want_ms)
{
    struct body b = exact(json);
    struct seg_error e;
    assert_int_equal(segparse_error(b.p, b.len, &e), want_rc);
    assert_string_equal(e.message, want_msg);
    assert_true(e.ms_before_next == want_ms);
    body_free(&b);
}

static void test_error_envelope_edges(void **state)
{
    check_error_body("{\"errors\":[]}", -1, "JSON without errors[]", -1);
    check_error_body("{\"errors\":{}}", -1, "JSON without errors[]", -1);
    check_error_body("{\"errors\":[\"boom\"]}", -1, "JSON without errors[]",
                     -1);
    check_error_body("{\"data\":{}}", -1, "JSON without errors[]", -1);
    check_error_body("[]", -1, "not JSON (top-level JSON is an array, "
                     "expected an object)", -1);
    check_error_body("{\"errors\":[{}]}", 0, "", -1);
    check_error_body("{\"errors\":[{\"message\":\"m\",\"data\":"
                     "{\"msBeforeNext\":\"41250\"}}]}", 0, "m", 41250);
    check_error_body("{\"errors\":[{\"message\":\"m\",\"data\":"
                     "{\"msBeforeNext\":-5}}]}", 0, "m", -1);
    check_error_body("{\"errors\":[{\"message\":\"m\",\"data\":"
                     "{\"msBeforeNext\":1e400}}]}", 0, "m", -1);
    check_error_body("{\"errors\":[{\"message\":7,\"data\":[1]}]}", 0, "", -1);
}

static void test_error_long_fields_truncated(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, "{\"errors\":[{\"type\":\"");
    for (int i = 0; i < 300; i++)
        strbuf_addc(&sb, 't');
    strbuf_adds(&sb, "\",\"message\":\"");
    for (int i = 0; i < 2000; i++)
        strbuf_addc(&sb, 'm');
    strbuf_adds(&sb, "\"}]}");
    struct body b = exact_n(sb.buf, sb.len);
    struct seg_error e;
    assert_int_equal(segparse_error(b.p, b.len, &e), 0);
    assert_int_equal(strlen(e.type), sizeof(e.type) - 1);
    assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
    body_free(&b);
    strbuf_free(&sb);
}

static void test_err_buffer_small_or_null(void **state)
{
    struct body b = exact("<html>");
    struct seg_sources s;
    char tiny[8];
    assert_int_equal(segparse_sources(b.p, b.len, &s, tiny, sizeof(tiny)), -1);
    assert_string_equal(tiny, "body is");
    assert_int_equal(segparse_sources(b.p, b.len, &s, NULL, 0), -1);
    body_free(&b);
}

/* ---- hostile fixture files (tests/fixtures/hostile, also fuzz seeds) ---- */

static const struct {
    const char *file;
    const char *want;           /* every parser fails with this in err */
} hostile_refused[] = {
    { "hostile/html-502.html",
      "body is HTML, not JSON (status page or proxy error?)" },
    { "hostile/truncated-delivery-metrics.json",
      "invalid JSON at byte 599 (truncated body?)" },
    { "hostile/deep-nesting.json",
      "nested deeper than 1000 levels" },
    { "hostile/nul-in-body.json",
      "invalid JSON at byte 49: NUL byte in body" },
    { "hostile/trailing-garbage.json",
      "invalid JSON: trailing data at byte 24" },
    { "hostile/data-is-array.json",
      "data is an array, expected an object" },
};

static void test_hostile_files_refused(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(hostile_refused); i++) {
        struct body b = fixture(hostile_refused[i].file);
        expect_all_fail(b.p, b.len, hostile_refused[i].want);
        struct seg_error e;
        assert_int_equal(segparse_error(b.p, b.len, &e), -1);
        body_free(&b);
    }
}

static void test_hostile_huge_numbers(void **state)
{
    struct body b = fixture("hostile/huge-numbers.json");
    struct seg_delivery d;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_delivery_metrics(b.p, b.len, MS, &d, err,
                                               ERRLEN), 0);
    assert_false(d.has[M_SUCCESSES]);           /* 1e400 */
    assert_false(d.has[M_DISCARDED]);           /* -112 */
    assert_true(d.has[M_EXPIRED]);              /* "4" */
    assert_true(d.v[M_EXPIRED] == 4);
    assert_false(d.has[M_ATTEMPTED]);
    assert_false(d.has[M_DISCARD_RATIO]);
    assert_string_equal(d.warning, "successes: value is a negative or "
                        "non-finite number, not a count");
    body_free(&b);
}

static void test_hostile_delivery_wrong_types(void **state)
{
    struct body b = fixture("hostile/delivery-metrics-wrong-types.json");
    char err[ERRLEN] = "";
    assert_int_equal(run_delivery(&b, err), -1);
    assert_string_equal(err, "data.deliveryMetricsSummary.metrics is an "
                        "object, expected an array");
    body_free(&b);

    b = fixture("hostile/delivery-metrics-strings-and-unknown.json");
    struct seg_delivery d;
    assert_int_equal(segparse_delivery_metrics(b.p, b.len, MS, &d, err,
                                               ERRLEN), 0);
    assert_false(d.has[M_SUCCESSES]);                   /* "abc" */
    assert_true(d.v[M_SUCCESSES_FIRST_ATTEMPT] == 47950);  /* "47950" */
    assert_false(d.has[M_SUCCESSES_AFTER_RETRY]);       /* false */
    assert_true(d.v[M_DISCARDED] == 112);               /* "112" */
    assert_false(d.has[M_TIME_TO_SUCCESS_P95]);         /* breakdown {} */
    assert_false(d.has[M_ATTEMPTED]);
    assert_false(d.has[M_RETRY_RATIO]);
    assert_int_equal(d.unknown_metrics, 1);
    assert_string_equal(d.first_unknown, "successes_p99");
    assert_string_equal(d.warning, "successes: value is a string, not a "
                        "count");
    body_free(&b);
}

static void test_hostile_volume_wrong_types(void **state)
{
    struct body b = fixture("hostile/event-volume-wrong-types.json");
    struct seg_volume v;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_event_volume(b.p, b.len, &v, err, ERRLEN), 0);
    assert_int_equal(v.ngroups, 1);
    assert_int_equal(v.skipped, 4);         /* 2 points + 2 groups */
    assert_string_equal(v.groups[0].source_id, "S1");
    assert_int_equal(v.groups[0].npoints, 1);
    assert_true(v.groups[0].points[0].time == 1787227200 + 3600);
    assert_true(v.groups[0].points[0].count == 7);
    assert_null(v.next);                    /* "next": 12 */
    assert_string_equal(v.warning, "result[0].series[0]: bad time or count");
    seg_volume_free(&v);
    body_free(&b);
}

static void test_hostile_usage_mixed_types(void **state)
{
    struct body b = fixture("hostile/usage-mixed-types.json");
    struct seg_usage u;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_usage(USAGE_MTU_SOURCES, b.p, b.len, &u, err,
                                    ERRLEN), 0);
    assert_int_equal(u.nrows, 1);
    assert_int_equal(u.skipped, 2);
    assert_null(u.next);                    /* "next": "" */
    assert_string_equal(u.warning, "dailyPerSourceMTUUsage[1]: missing "
                        "sourceId");
    struct seg_usage_row *r = &u.rows[0];
    assert_string_equal(r->source_id, "S1");
    assert_true(r->period_start == 1785542400);
    assert_true(isnan(r->period_end));
    assert_true(r->v[M_MTU_ANONYMOUS] == 20412);
    assert_true(r->v[M_MTU] == 5127 + 18519);
    seg_usage_free(&u);
    body_free(&b);
}

/* Fails when a hostile fixture is added without a test above. */
/* Names with invalid UTF-8 and terminal escapes (what segalert-sim
 * serves for t034): repaired, escapes kept for each consumer to escape. */
static void test_hostile_invalid_utf8_names(void **state)
{
    (void)state;
    struct body b = fixture("hostile/invalid-utf8-names.json");
    struct seg_sources s;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_sources(b.p, b.len, &s, err, ERRLEN), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.items[0].id, "src" RC "1");
    assert_string_equal(s.items[0].slug, "web" RC RC "\x1b[31m");
    assert_string_equal(s.items[0].name, "Web " RC RC RC " prod\x07\xc2\x9b");
    seg_sources_free(&s);
    body_free(&b);
}

/* An error envelope whose message is long and full of invalid bytes, with
 * trailing junk (found by fuzz_segment_parse: the message cut by errlen
 * split a U+FFFD): every message is valid UTF-8. */
static void test_hostile_long_error(void **state)
{
    (void)state;
    struct body b = fixture("hostile/long-error-invalid-utf8.json");
    struct seg_sources s;
    struct seg_error e;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_sources(b.p, b.len, &s, err, ERRLEN), -1);
    assert_true(utf8_valid(err, strlen(err)));
    segparse_error(b.p, b.len, &e);
    assert_true(utf8_valid(e.message, strlen(e.message)));
    assert_true(utf8_valid(e.type, strlen(e.type)));
    body_free(&b);
}

static void test_every_hostile_fixture_covered(void **state)
{
    static const char *others[] = {
        "huge-numbers.json", "delivery-metrics-wrong-types.json",
        "delivery-metrics-strings-and-unknown.json",
        "event-volume-wrong-types.json", "usage-mixed-types.json",
        "invalid-utf8-names.json", "long-error-invalid-utf8.json",
    };
    DIR *dir = opendir(FIXTURES_DIR "/hostile");
    struct dirent *de;
    size_t seen = 0;
    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        bool found = false;
        for (size_t i = 0; i < ARRAY_SIZE(others); i++)
            found = found || streq(others[i], de->d_name);
        for (size_t i = 0; i < ARRAY_SIZE(hostile_refused); i++)
            found = found || streq(hostile_refused[i].file + 8, de->d_name);
        if (!found)
            fail_msg("hostile fixture %s has no test", de->d_name);
        seen++;
    }
    closedir(dir);
    assert_int_equal(seen, ARRAY_SIZE(others) + ARRAY_SIZE(hostile_refused));
}

/* ---- hostile values: implausible numbers, invalid UTF-8 ------------------ */

/* The audit's case: a count of 1.79e308 made attempted = inf and
 * discard_ratio = 0, hiding the discards.  Implausible counts are absent
 * (and counted), so the derived values are absent too, never inf or 0. */
static void test_implausible_counts_never_inf_or_zero(void **state)
{
    (void)state;
    struct seg_delivery d;
    parse_delivery_ok("{\"metricName\":\"successes\",\"total\":1.79e308},"
                      "{\"metricName\":\"discarded\",\"total\":50},"
                      "{\"metricName\":\"expired\",\"total\":1.79e308}", MS,
                      &d);
    assert_false(d.has[M_SUCCESSES]);
    assert_false(d.has[M_EXPIRED]);
    assert_true(d.has[M_DISCARDED] && d.v[M_DISCARDED] == 50);
    for (int m = 0; m < M__COUNT; m++)
        if (d.has[m])
            assert_true(isfinite(d.v[m]));
    assert_false(d.has[M_ATTEMPTED]);
    assert_false(d.has[M_DISCARD_RATIO]);
    assert_contains(d.warning, "successes: value 1.79e+308 is above 1e+15");
    /* a big count that is still plausible is kept, ratios are right */
    parse_delivery_ok("{\"metricName\":\"successes\",\"total\":999999999999000},"
                      "{\"metricName\":\"discarded\",\"total\":1000},"
                      "{\"metricName\":\"expired\",\"total\":0}", MS, &d);
    assert_true(d.has[M_ATTEMPTED] && d.v[M_ATTEMPTED] == 1e15);
    assert_true(d.has[M_DISCARD_RATIO] && d.v[M_DISCARD_RATIO] > 0);
    /* negative counts and latencies, numeric strings out of range */
    parse_delivery_ok("{\"metricName\":\"retried\",\"total\":-4},"
                      "{\"metricName\":\"discarded\",\"total\":\"1e999\"},"
                      "{\"metricName\":\"time_to_success\",\"breakdown\":["
                      "{\"metricName\":\"time_to_success_p95\","
                      "\"value\":-250}]}", MS, &d);
    assert_false(d.has[M_RETRIED]);
    assert_false(d.has[M_DISCARDED]);
    assert_false(d.has[M_TIME_TO_SUCCESS_P95]);

    /* event volume: the point is skipped, never stored as inf */
    struct body b = exact(
        "{\"data\":{\"result\":[{\"source\":{\"id\":\"S1\"},\"series\":["
        "{\"time\":\"2026-08-20T12:00:00Z\",\"count\":1.79e308},"
        "{\"time\":\"2026-08-20T12:01:00Z\",\"count\":-7},"
        "{\"time\":\"2026-08-20T12:02:00Z\",\"count\":12}]}]}}");
    struct seg_volume v;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_event_volume(b.p, b.len, &v, err, ERRLEN), 0);
    assert_int_equal(v.groups[0].npoints, 1);
    assert_true(v.groups[0].points[0].count == 12);
    assert_int_equal(v.skipped, 2);
    seg_volume_free(&v);
    body_free(&b);

    /* usage: absent, and a row without any usable count is skipped */
    b = exact("{\"data\":{\"dailyWorkspaceMTUUsage\":["
              "{\"identified\":\"1.79e308\",\"neverIdentified\":\"5\","
              "\"anonymous\":\"5\",\"anonymousIdentified\":\"-1\","
              "\"periodStart\":1e300,\"timestamp\":\"2026-08-01\"}]}}");
    struct seg_usage u;
    assert_int_equal(segparse_usage(USAGE_MTU_WORKSPACE, b.p, b.len, &u, err,
                                    ERRLEN), 0);
    assert_int_equal(u.nrows, 1);
    assert_false(u.rows[0].has[M_MTU_IDENTIFIED]);
    assert_false(u.rows[0].has[M_MTU_ANONYMOUS_IDENTIFIED]);
    assert_false(u.rows[0].has[M_MTU]);
    assert_true(isnan(u.rows[0].period_start));
    seg_usage_free(&u);
    body_free(&b);
}

/* The implausible values are counted, the first one named. */
static void test_implausible_counted(void **state)
{
    (void)state;
    struct seg_delivery d;
    parse_delivery_ok("{\"metricName\":\"successes\",\"total\":1.79e308},"
                      "{\"metricName\":\"discarded\",\"total\":-1},"
                      "{\"metricName\":\"expired\",\"total\":true}", MS, &d);
    assert_int_equal(d.implausible.n, 2);       /* the bool is not a number */
    assert_string_equal(d.implausible.first, "successes = 1.79e+308");

    struct body b = exact(
        "{\"data\":{\"result\":[{\"series\":["
        "{\"time\":\"2026-08-20T12:00:00Z\",\"count\":1e400},"
        "{\"time\":\"2026-08-20T12:01:00Z\",\"count\":\"x\"}]}]}}");
    struct seg_volume v;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_event_volume(b.p, b.len, &v, err, ERRLEN), 0);
    assert_int_equal(v.implausible.n, 1);
    assert_string_equal(v.implausible.first, "count = inf");
    seg_volume_free(&v);
    body_free(&b);

    b = exact("{\"data\":{\"dailyWorkspaceMTUUsage\":["
              "{\"identified\":\"-3\",\"neverIdentified\":\"5\","
              "\"anonymous\":\"5\",\"anonymousIdentified\":\"1\","
              "\"periodStart\":1e300,\"timestamp\":\"2026-08-01\"}]}}");
    struct seg_usage u;
    assert_int_equal(segparse_usage(USAGE_MTU_WORKSPACE, b.p, b.len, &u, err,
                                    ERRLEN), 0);
    assert_int_equal(u.implausible.n, 2);
    assert_string_equal(u.implausible.first, "identified = \"-3\"");
    seg_usage_free(&u);
    body_free(&b);
}


/* No raw ill-formed byte left, and the replacement there. */
static void assert_repaired(const char *s)
{
    if (!s)
        fail_msg("NULL string");
    if (!strstr(s, RC))
        fail_msg("'%s' has no U+FFFD", s);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == 0xff || *p == 0xc0 || *p == 0xfe)
            fail_msg("'%s' still holds byte 0x%02x", s, *p);
}

/* Invalid UTF-8 in any string of any body (names, slugs, ids, messages,
 * metric names) comes out repaired (U+FFFD), never as raw bytes. */
static void test_invalid_utf8_repaired(void **state)
{
    (void)state;
    char err[ERRLEN] = "";
    struct body b = exact(
        "{\"data\":{\"sources\":[{\"id\":\"id\xff\",\"slug\":\"web\xc0\xaf\","
        "\"name\":\"Web \xfe prod\",\"enabled\":true}]}}");
    struct seg_sources s;
    assert_int_equal(segparse_sources(b.p, b.len, &s, err, ERRLEN), 0);
    assert_int_equal(s.n, 1);
    assert_repaired(s.items[0].id);
    assert_string_equal(s.items[0].slug, "web" RC RC);
    assert_string_equal(s.items[0].name, "Web " RC " prod");
    seg_sources_free(&s);
    body_free(&b);

    b = exact("{\"data\":{\"destinations\":[{\"id\":\"D\xff\",\"name\":"
              "\"Amp\xed\xa0\x80litude\",\"enabled\":true,\"sourceId\":\"S\xff\","
              "\"metadata\":{\"slug\":\"amp\xff\",\"id\":\"M\xff\"}}]}}");
    struct seg_destinations d;
    assert_int_equal(segparse_destinations(b.p, b.len, &d, err, ERRLEN), 0);
    assert_int_equal(d.n, 1);
    assert_repaired(d.items[0].id);
    assert_string_equal(d.items[0].name, "Amp" RC RC RC "litude");
    assert_repaired(d.items[0].slug);
    assert_repaired(d.items[0].metadata_id);
    assert_repaired(d.items[0].source_id);
    seg_destinations_free(&d);
    body_free(&b);

    b = exact("{\"data\":{\"deliveryMetricsSummary\":{\"sourceId\":\"S\xff\","
              "\"destinationMetadataId\":\"M\xff\",\"metrics\":["
              "{\"metricName\":\"new\xff\",\"total\":1},"
              "{\"metricName\":\"successes\",\"total\":1},"
              "{\"metricName\":\"successes\",\"total\":2}]}}}");
    struct seg_delivery dm;
    assert_int_equal(segparse_delivery_metrics(b.p, b.len, MS, &dm, err,
                                               ERRLEN), 0);
    assert_repaired(dm.source_id);
    assert_repaired(dm.destination_metadata_id);
    assert_repaired(dm.first_unknown);
    body_free(&b);

    b = exact("{\"data\":{\"result\":[{\"source\":{\"id\":\"S\xff\","
              "\"name\":\"n\xff\",\"slug\":\"s\xff\"},\"series\":[]}]}}");
    struct seg_volume v;
    assert_int_equal(segparse_event_volume(b.p, b.len, &v, err, ERRLEN), 0);
    assert_repaired(v.groups[0].source_id);
    assert_repaired(v.groups[0].source_name);
    assert_repaired(v.groups[0].source_slug);
    seg_volume_free(&v);
    body_free(&b);

    b = exact("{\"data\":{\"dailyPerSourceMTUUsage\":[{\"sourceId\":\"S\xff\","
              "\"identified\":1,\"timestamp\":\"2026-08-01\"}]}}");
    struct seg_usage u;
    assert_int_equal(segparse_usage(USAGE_MTU_SOURCES, b.p, b.len, &u, err,
                                    ERRLEN), 0);
    assert_repaired(u.rows[0].source_id);
    seg_usage_free(&u);
    body_free(&b);

    /* error envelopes: the message a log line shows */
    b = exact("{\"errors\":[{\"type\":\"Bad\xff\",\"message\":\"no \xc0\xaf"
              "way\",\"field\":\"f\xff\"}]}");
    struct seg_error e;
    assert_int_equal(segparse_error(b.p, b.len, &e), 0);
    assert_repaired(e.type);
    assert_string_equal(e.message, "no " RC RC "way");
    assert_repaired(e.field);
    assert_int_equal(segparse_sources(b.p, b.len, &s, err, ERRLEN), -1);
    assert_repaired(err);
    seg_sources_free(&s);
    body_free(&b);

    /* warnings name what the body held */
    b = exact("{\"data\":{\"deliveryMetricsSummary\":{\"metrics\":["
              "{\"metricName\":\"time_to_success\",\"breakdown\":["
              "{\"metricName\":\"time_to_success_p95\",\"value\":1},"
              "{\"metricName\":\"time_to_success_p95\",\"value\":2}]},"
              "{\"metricName\":\"successes\",\"total\":\"x\xff\"}]}}}");
    assert_int_equal(segparse_delivery_metrics(b.p, b.len, MS, &dm, err,
                                               ERRLEN), 0);
    assert_contains(dm.warning, "duplicate");
    body_free(&b);
    /* a long message full of replacements, cut to fit err: on a
     * character, never inside a U+FFFD (found by fuzz_segment_parse) */
    struct strbuf big = STRBUF_INIT;
    strbuf_adds(&big, "{\"errors\":[{\"message\":\"Rate limit");
    for (int i = 0; i < 200; i++)
        strbuf_addc(&big, '\xff');
    strbuf_adds(&big, "\"}]}");
    b = exact_n(big.buf, big.len);
    for (size_t errlen = 20; errlen <= ERRLEN; errlen++) {
        assert_int_equal(segparse_sources(b.p, b.len, &s, err, errlen), -1);
        assert_true(utf8_valid(err, strlen(err)));
    }
    assert_int_equal(segparse_error(b.p, b.len, &e), 0);
    assert_true(utf8_valid(e.message, strlen(e.message)));
    body_free(&b);
    strbuf_free(&big);

    /* the cursor too: it is shown when it repeats */
    b = exact("{\"data\":{\"sources\":[{\"id\":\"a\",\"enabled\":true}],"
              "\"pagination\":{\"next\":\"c\xff\"}}}");
    assert_int_equal(segparse_sources(b.p, b.len, &s, err, ERRLEN), 0);
    assert_repaired(s.next);
    seg_sources_free(&s);
    body_free(&b);
}

/* A long name full of multi-byte characters is cut, in fixed buffers,
 * without splitting a character. */
static void test_fixed_buffers_cut_on_characters(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, "{\"data\":{\"deliveryMetricsSummary\":{\"sourceId\":\"x");
    for (int i = 0; i < 40; i++)
        strbuf_adds(&sb, "\xe2\x82\xac");       /* 120 bytes of euros */
    strbuf_adds(&sb, "\",\"metrics\":[]}}}");
    struct body b = exact_n(sb.buf, sb.len);
    struct seg_delivery d;
    char err[ERRLEN] = "";
    assert_int_equal(segparse_delivery_metrics(b.p, b.len, MS, &d, err,
                                               ERRLEN), 0);
    size_t n = strlen(d.source_id);
    assert_true(n > 0 && n < sizeof(d.source_id));
    assert_int_equal((n - 1) % 3, 0);           /* whole characters only */
    assert_null(strstr(d.source_id, RC));
    body_free(&b);
    strbuf_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_sources_list),
        cmocka_unit_test(test_fixture_connected_destinations),
        cmocka_unit_test(test_fixture_connected_destinations_empty),
        cmocka_unit_test(test_fixture_delivery_ok),
        cmocka_unit_test(test_fixture_delivery_recipe),
        cmocka_unit_test(test_fixture_delivery_zero),
        cmocka_unit_test(test_fixture_delivery_empty),
        cmocka_unit_test(test_fixture_overview_failed),
        cmocka_unit_test(test_fixture_overview_successful),
        cmocka_unit_test(test_fixture_overview_received),
        cmocka_unit_test(test_fixture_error_401),
        cmocka_unit_test(test_fixture_error_404),
        cmocka_unit_test(test_fixture_error_422_granularity),
        cmocka_unit_test(test_fixture_error_422_range),
        cmocka_unit_test(test_fixture_error_429_spec),
        cmocka_unit_test(test_fixture_error_429),
        cmocka_unit_test(test_fixture_volume_hour),
        cmocka_unit_test(test_fixture_volume_day_ungrouped),
        cmocka_unit_test(test_fixture_volume_eventtype_paged),
        cmocka_unit_test(test_fixture_volume_recipe),
        cmocka_unit_test(test_fixture_mtu_sources_daily),
        cmocka_unit_test(test_fixture_mtu_sources_recipe),
        cmocka_unit_test(test_fixture_mtu_workspace_daily),
        cmocka_unit_test(test_fixture_api_calls_sources),
        cmocka_unit_test(test_fixture_api_calls_workspace),
        cmocka_unit_test(test_every_fixture_covered),
        cmocka_unit_test(test_empty_body),
        cmocka_unit_test(test_html_body),
        cmocka_unit_test(test_body_too_large),
        cmocka_unit_test(test_truncated_body),
        cmocka_unit_test(test_truncated_fixture_sweep),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_wrong_top_level_and_data),
        cmocka_unit_test(test_sources_bad_rows),
        cmocka_unit_test(test_sources_missing_id_warning),
        cmocka_unit_test(test_sources_wrong_container),
        cmocka_unit_test(test_destinations_bad_rows),
        cmocka_unit_test(test_pagination_cursors),
        cmocka_unit_test(test_delivery_any_order_and_unknown),
        cmocka_unit_test(test_delivery_bad_values),
        cmocka_unit_test(test_delivery_negative_and_huge_named),
        cmocka_unit_test(test_delivery_string_counts),
        cmocka_unit_test(test_delivery_malformed_entries),
        cmocka_unit_test(test_delivery_duplicate_warning),
        cmocka_unit_test(test_delivery_latency_scale),
        cmocka_unit_test(test_delivery_wrong_containers),
        cmocka_unit_test(test_delivery_long_ids_truncated),
        cmocka_unit_test(test_volume_bad_points),
        cmocka_unit_test(test_volume_bad_groups),
        cmocka_unit_test(test_volume_result_missing),
        cmocka_unit_test(test_usage_paths),
        cmocka_unit_test(test_usage_mtu_bad_rows),
        cmocka_unit_test(test_usage_api_calls_variants),
        cmocka_unit_test(test_usage_wrong_container),
        cmocka_unit_test(test_error_envelope_edges),
        cmocka_unit_test(test_error_long_fields_truncated),
        cmocka_unit_test(test_err_buffer_small_or_null),
        cmocka_unit_test(test_hostile_files_refused),
        cmocka_unit_test(test_hostile_huge_numbers),
        cmocka_unit_test(test_implausible_counts_never_inf_or_zero),
        cmocka_unit_test(test_implausible_counted),
        cmocka_unit_test(test_hostile_invalid_utf8_names),
        cmocka_unit_test(test_hostile_long_error),
        cmocka_unit_test(test_invalid_utf8_repaired),
        cmocka_unit_test(test_fixed_buffers_cut_on_characters),
        cmocka_unit_test(test_hostile_delivery_wrong_types),
        cmocka_unit_test(test_hostile_volume_wrong_types),
        cmocka_unit_test(test_hostile_usage_mixed_types),
        cmocka_unit_test(test_every_hostile_fixture_covered),
        cmocka_unit_test(test_fixture_failed_delivery_reasons),
        cmocka_unit_test(test_failed_delivery_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
