/*
 * test_poll.c - the poller (api/poll.h) on a fake clock and a fake
 * transport (fake_transport.h) that answers with the JSON fixtures of
 * tests/fixtures: discovery of sources and connected destinations (disabled
 * ones skipped, globs applied), delivery-metrics windows taken from the
 * clock, the samples and labels handed to the sink, event-volume buckets
 * and the usage endpoints with their period.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/poll.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "fake_segment.h"

#define T0 1787241600.0         /* 2026-08-20T16:00:00Z */
#define BASE "https://api.test"
#define EPS 1e-6

/* Ids and names in sources-list.json and connected-destinations.json. */
#define WEB_ID "rh5BDZp6QDHvXFCkibm1pR"     /* web_prod, enabled */
#define IOS_ID "qQEHquLrjRDN9j1ByrChyn"     /* ios_prod, disabled */
#define AMP_ID "66be7aeca665bd11f8908630"   /* Amplitude (prod), enabled */
#define WEB_LABELS "workspace=prod,source=web_prod,source_id=" WEB_ID

/* ---- harness ------------------------------------------------------------ */

struct sample {
    enum family fam;
    char labels[512];           /* "k=v,k=v" in the order given */
    double t;
    double v[M__COUNT];
    bool has[M__COUNT];
};

struct penv {
    struct clock *clock;
    struct fake_transport fake;
    struct workspace_cfg ws;
    struct poller *p;
    struct sample *samples;
    size_t nsamples, samples_cap;
    const char *fail_path;      /* answer requests whose path contains it */
    long fail_status;           /* with this status */
};

static void on_sample(void *ud, enum family fam, const struct kv *labels,
                      size_t nlabels, double t, const double v[M__COUNT],
                      const bool has[M__COUNT])
{
    struct penv *e = ud;
    XGROW(e->samples, e->nsamples + 1, e->samples_cap);
    struct sample *s = &e->samples[e->nsamples++];
    memset(s, 0, sizeof(*s));
    s->fam = fam;
    size_t off = 0;
    for (size_t i = 0; i < nlabels; i++)
        off += (size_t)snprintf(s->labels + off, sizeof(s->labels) - off,
                                "%s%s=%s", i ? "," : "", labels[i].key,
                                labels[i].value);
    s->t = t;
    memcpy(s->v, v, sizeof(s->v));
    memcpy(s->has, has, sizeof(s->has));
}

static void env_init(struct penv *e)
{
    memset(e, 0, sizeof(*e));
    e->clock = clock_fake_new(T0);
    e->fake.clock = e->clock;
    e->ws.name = (char *)"prod";
    e->ws.api_url = (char *)BASE;
    e->ws.token = (char *)"tok";
    e->ws.delivery_window_s = 3600;
    e->ws.volume_interval_s = 3600;
    e->ws.request_budget = 0;
    e->ws.max_concurrency = 4;
    e->ws.latency_scale = 0.001;
}

/* Create the poller once the test has set up e->ws. */
static void env_start(struct penv *e)
{
    struct http_transport t = fake_transport_of(&e->fake);
    struct sample_sink sink = { on_sample, e };
    e->p = poller_new_transport(&e->ws, &t, e->clock, &sink);
}

static void env_free(struct penv *e)
{
    poller_free(e->p);
    fake_free(&e->fake);
    clock_free(e->clock);
    str_list_free(&e->ws.sources);
    str_list_free(&e->ws.exclude_sources);
    str_list_free(&e->ws.destinations);
    free(e->samples);
}

/* Answer the oldest pending request the way the Segment API would. */
static void serve_one(struct penv *e)
{
    struct fake_segment api = { BASE, e->fail_path, e->fail_status, NULL };
    if (!fake_segment_serve(&e->fake, 0, &api))
        fail_msg("unexpected request %s", e->fake.pending[0]->url);
}

/* Run the poller until it is idle, answering every request at once and
 * moving the clock only when the client asks to wait. */
static void drive(struct penv *e)
{
    for (int guard = 0; guard < 10000; guard++) {
        double w = poller_tick(e->p);
        if (e->fake.npending) {
            while (e->fake.npending)
                serve_one(e);
            continue;
        }
        if (poller_idle(e->p))
            return;
        clock_fake_advance(e->clock, fmax(w, EPS));
    }
    fail_msg("the poller never became idle");
}

static void discover(struct penv *e)
{
    poller_discover(e->p);
    assert_true(poller_discovering(e->p));
    drive(e);
    assert_false(poller_discovering(e->p));
}

static bool sent_contains(const struct penv *e, const char *needle)
{
    for (size_t i = 0; i < e->fake.nsent; i++)
        if (strstr(e->fake.sent[i].url, needle))
            return true;
    return false;
}

static const struct sample *find_sample(const struct penv *e,
                                        enum family fam, const char *labels,
                                        double t, enum metric_id m)
{
    for (size_t i = 0; i < e->nsamples; i++) {
        const struct sample *s = &e->samples[i];
        if (s->fam == fam && strcmp(s->labels, labels) == 0 && s->t == t &&
            s->has[m])
            return s;
    }
    return NULL;
}

/* ---- discovery ---------------------------------------------------------- */

static void test_discovery(void **state)
{
    (void)state;
    struct penv e;
    env_init(&e);
    env_start(&e);
    clock_fake_advance(e.clock, 7.25);
    discover(&e);

    /* The disabled source's destinations are not even asked for. */
    assert_int_equal(e.fake.nsent, 2);
    assert_string_equal(fake_url(&e.fake, 0),
                        BASE "/sources?pagination.count=200");
    assert_string_equal(fake_url(&e.fake, 1),
                        BASE "/sources/" WEB_ID "/connected-destinations?"
                        "pagination.count=200");
    assert_false(sent_contains(&e, IOS_ID));

    /* The disabled connection (Webhooks) is skipped. */
    struct poll_connection *conns;
    assert_int_equal(poller_connections(e.p, &conns), 1);
    assert_string_equal(conns[0].source->slug, "web_prod");
    assert_string_equal(conns[0].source->id, WEB_ID);
    assert_string_equal(conns[0].dest_id, AMP_ID);
    assert_string_equal(conns[0].dest_name, "Amplitude (prod)");
    assert_string_equal(conns[0].dest_slug, "amplitude");

    const struct poll_health *h = poller_health(e.p);
    assert_true(h->discovered);
    assert_int_equal(h->nsources, 1);
    assert_int_equal(h->nconnections, 1);
    assert_true(h->last_ok[POLL_DISCOVERY] == T0 + 7.25);
    assert_true(h->last_attempt[POLL_DISCOVERY] == T0 + 7.25);
    assert_int_equal(h->errors[POLL_DISCOVERY], 0);
    env_free(&e);
}

static void test_discovery_globs(void **state)
{
    (void)state;
    static const struct {
        const char *sources, *exclude, *dests;
        size_t nsources, nconns, nrequests;
    } cases[] = {
        { "Web*", NULL, NULL, 1, 1, 2 },            /* source name */
        { "web_prod", NULL, NULL, 1, 1, 2 },        /* slug */
        { WEB_ID, NULL, NULL, 1, 1, 2 },            /* id */
        { "nomatch*", NULL, NULL, 0, 0, 1 },
        { "ios_*", NULL, NULL, 0, 0, 1 },           /* matches a disabled one */
        { NULL, "web_*", NULL, 0, 0, 1 },
        { NULL, WEB_ID, NULL, 0, 0, 1 },
        { NULL, "ios_*", NULL, 1, 1, 2 },
        { NULL, NULL, "amplitude", 1, 1, 2 },       /* catalog slug */
        { NULL, NULL, "Amplitude (prod)", 1, 1, 2 },/* instance name */
        { NULL, NULL, AMP_ID, 1, 1, 2 },            /* id */
        { NULL, NULL, "webhooks", 1, 0, 2 },        /* only the disabled one */
        { NULL, NULL, "mixpanel*", 1, 0, 2 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct penv e;
        env_init(&e);
        if (cases[i].sources)
            str_list_add(&e.ws.sources, cases[i].sources);
        if (cases[i].exclude)
            str_list_add(&e.ws.exclude_sources, cases[i].exclude);
        if (cases[i].dests)
            str_list_add(&e.ws.destinations, cases[i].dests);
        env_start(&e);
        discover(&e);
        const struct poll_health *h = poller_health(e.p);
        if (h->nsources != cases[i].nsources ||
            h->nconnections != cases[i].nconns ||
            e.fake.nsent != cases[i].nrequests)
            fail_msg("case %zu: %zu sources, %zu connections, %zu requests",
                     i, h->nsources, h->nconnections, e.fake.nsent);
        assert_true(h->discovered);
        env_free(&e);
    }
}

static void test_discovery_failure_keeps_topology(void **state)
{
    (void)state;
    struct penv e;
    env_init(&e);
    env_start(&e);
    discover(&e);
    assert_int_equal(poller_health(e.p)->nconnections, 1);

    e.fail_path = "/connected-destinations";
    e.fail_status = 401;
    discover(&e);
    struct poll_connection *conns;
    assert_int_equal(poller_connections(e.p, &conns), 1);
    assert_string_equal(conns[0].dest_id, AMP_ID);
    const struct poll_health *h = poller_health(e.p);
    assert_true(h->unauthorized);
    assert_int_equal(h->errors[POLL_DISCOVERY], 1);
    assert_non_null(strstr(h->last_error[POLL_DISCOVERY], "unauthorized"));

    e.fail_path = NULL;
    clock_fake_advance(e.clock, 60);
    discover(&e);
    assert_false(h->unauthorized);
    assert_true(h->last_ok[POLL_DISCOVERY] == clock_wall(e.clock));
    env_free(&e);
}

/* ---- delivery metrics --------------------------------------------------- */

static void test_delivery_window_and_labels(void **state)
{
    (void)state;
    struct penv e;
    env_init(&e);
    e.ws.delivery_window_s = 1800;
    env_start(&e);
    discover(&e);
    size_t before = e.fake.nsent;

    clock_fake_advance(e.clock, 30.6);      /* 16:00:30.6 */
    poller_poll_delivery(e.p, clock_wall(e.clock));
    drive(&e);
    assert_int_equal(e.fake.nsent, before + 1);
    /* [now - delivery_window, now], to the second */
    assert_string_equal(fake_url(&e.fake, before),
        BASE "/destinations/" AMP_ID "/delivery-metrics?sourceId=" WEB_ID
        "&startTime=2026-08-20T15%3A30%3A30Z&endTime=2026-08-20T16%3A00%3A30Z"
        "&granularity=MINUTE");
    assert_string_equal(e.fake.sent[before].accept,
                        "application/vnd.segment.v1beta+json");

    assert_int_equal(e.nsamples, 1);
    const struct sample *s = &e.samples[0];
    assert_int_equal(s->fam, FAM_CONNECTION);
    assert_string_equal(s->labels, "workspace=prod,source=web_prod,source_id="
                        WEB_ID ",destination=Amplitude (prod),destination_id="
                        AMP_ID ",destination_type=amplitude");
    assert_true(s->t == T0 + 30);
    assert_true(s->has[M_SUCCESSES] && s->v[M_SUCCESSES] == 48213);
    assert_true(s->has[M_DISCARDED] && s->v[M_DISCARDED] == 112);
    assert_true(s->has[M_EXPIRED] && s->v[M_EXPIRED] == 4);
    assert_true(fabs(s->v[M_TIME_TO_SUCCESS_AVG] - 0.412) < 1e-9);
    assert_false(s->has[M_SOURCE_VOLUME]);  /* no volume polled yet */

    struct poll_connection *conns;
    poller_connections(e.p, &conns);
    assert_true(conns[0].last_polled == T0 + 30.6);
    assert_true(poller_health(e.p)->last_ok[POLL_DELIVERY] == T0 + 30.6);
    assert_true(poller_health(e.p)->last_attempt[POLL_DELIVERY] == T0 + 30.6);
    assert_int_equal(poller_health(e.p)->samples, 1);

    /* Five minutes later the window has moved with the clock. */
    clock_fake_advance(e.clock, 300);
    poller_poll_delivery(e.p, clock_wall(e.clock));
    drive(&e);
    assert_non_null(strstr(fake_url(&e.fake, before + 1),
                           "&startTime=2026-08-20T15%3A35%3A30Z"
                           "&endTime=2026-08-20T16%3A05%3A30Z&"));
    assert_true(e.samples[1].t == T0 + 330);
    env_free(&e);
}

/* ---- event volume ------------------------------------------------------- */

static void test_volume_buckets(void **state)
{
    (void)state;
    struct penv e;
    env_init(&e);
    e.ws.volume_interval_s = 3600;          /* HOUR buckets */
    env_start(&e);
    discover(&e);
    size_t before = e.fake.nsent;
    assert_true(poller_volume_bucket(e.p) == 3600);

    clock_fake_advance(e.clock, 30.6);
    double now = clock_wall(e.clock);
    poller_poll_volume(e.p, now - 6 * 3600, now);
    drive(&e);
    /* Complete buckets only: the last ends a minute before now at the
     * latest. */
    assert_string_equal(fake_url(&e.fake, before),
        BASE "/events/volume?granularity=HOUR"
        "&startTime=2026-08-20T10%3A00%3A00Z&endTime=2026-08-20T15%3A00%3A00Z"
        "&groupBy.0=source&pagination.count=200");

    /* Buckets 12:00, 13:00 and 14:00 of web_prod, stamped at their end;
     * ios_prod (not selected) is left out. */
    static const double counts[] = { 131044, 129870, 131204 };
    assert_int_equal(e.nsamples, 3);
    for (size_t i = 0; i < 3; i++) {
        const struct sample *s = &e.samples[i];
        assert_int_equal(s->fam, FAM_SOURCE);
        assert_string_equal(s->labels, WEB_LABELS);
        assert_true(s->t == T0 - 3600 * (3 - (double)i));
        assert_true(s->has[M_EVENT_VOLUME]);
        assert_true(s->v[M_EVENT_VOLUME] == counts[i]);
    }
    assert_true(poller_health(e.p)->last_ok[POLL_VOLUME] == now);

    /* The connection's source_volume is what the source received in the
     * delivery window, counted back from the newest complete bucket:
     * (14:00, 15:00]. */
    poller_poll_delivery(e.p, now);
    drive(&e);
    const struct sample *d = &e.samples[3];
    assert_int_equal(d->fam, FAM_CONNECTION);
    assert_true(d->has[M_SOURCE_VOLUME]);
    assert_true(d->v[M_SOURCE_VOLUME] == 131204);
    env_free(&e);
}

static void test_volume_minute_buckets(void **state)
{
    (void)state;
    struct penv e;
    env_init(&e);
    e.ws.volume_interval_s = 300;           /* MINUTE buckets */
    env_start(&e);
    assert_true(poller_volume_bucket(e.p) == 60);
    clock_fake_advance(e.clock, 30.6);
    double now = clock_wall(e.clock);
    poller_poll_volume(e.p, now - 3600, now);
    poller_tick(e.p);
    assert_string_equal(fake_url(&e.fake, 0),
        BASE "/events/volume?granularity=MINUTE"
        "&startTime=2026-08-20T15%3A00%3A00Z&endTime=2026-08-20T15%3A59%3A00Z"
        "&groupBy.0=source&pagination.count=200");
    drive(&e);
    env_free(&e);
}

/* ---- usage -------------------------------------------------------------- */

static void test_usage(void **state)
{
    (void)state;
    struct penv e;
    env_init(&e);
    env_start(&e);
    discover(&e);
    size_t before = e.fake.nsent;

    clock_fake_advance(e.clock, 30.6);
    double now = clock_wall(e.clock);
    poller_poll_usage(e.p, now);
    drive(&e);

    /* The four endpoints, for the period containing now, and the second
     * page of the two per-source lists. */
    assert_int_equal(e.fake.nsent, before + 6);
    static const char *const want[] = {
        "/usage/mtu/sources/daily?period=2026-08-01&pagination.count=200",
        "/usage/mtu/daily?period=2026-08-01&pagination.count=200",
        "/usage/api-calls/sources/daily?period=2026-08-01&pagination.count=200",
        "/usage/api-calls/daily?period=2026-08-01&pagination.count=200",
        ("/usage/api-calls/sources/daily?period=2026-08-01&pagination.count=200"
         "&pagination.cursor=NA%3D%3D"),
    };
    for (size_t i = 0; i < ARRAY_SIZE(want); i++)
        if (!sent_contains(&e, want[i]))
            fail_msg("no request for %s", want[i]);

    double aug1 = T0 - 19 * 86400 - 16 * 3600;     /* 2026-08-01T00:00Z */
    const struct sample *s;
    s = find_sample(&e, FAM_USAGE, "workspace=prod", aug1, M_API_CALLS);
    assert_non_null(s);
    assert_true(s->v[M_API_CALLS] == 3104473);
    s = find_sample(&e, FAM_USAGE, WEB_LABELS, aug1, M_API_CALLS);
    assert_non_null(s);
    assert_true(s->v[M_API_CALLS] == 3104455);
    s = find_sample(&e, FAM_USAGE, "workspace=prod", aug1, M_MTU);
    assert_non_null(s);
    assert_true(s->v[M_MTU] == 5175 + 19130);
    s = find_sample(&e, FAM_USAGE, WEB_LABELS, aug1, M_MTU);
    assert_non_null(s);
    assert_true(s->v[M_MTU] == 5127 + 18519);

    /* Every sample is a usage sample of the workspace or of web_prod:
     * rows of the unselected ios_prod are dropped. */
    assert_true(e.nsamples >= 8);
    for (size_t i = 0; i < e.nsamples; i++) {
        assert_int_equal(e.samples[i].fam, FAM_USAGE);
        assert_true(strcmp(e.samples[i].labels, "workspace=prod") == 0 ||
                    strcmp(e.samples[i].labels, WEB_LABELS) == 0);
    }
    assert_true(poller_health(e.p)->last_ok[POLL_USAGE] == now);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_discovery_globs),
        cmocka_unit_test(test_discovery_failure_keeps_topology),
        cmocka_unit_test(test_delivery_window_and_labels),
        cmocka_unit_test(test_volume_buckets),
        cmocka_unit_test(test_volume_minute_buckets),
        cmocka_unit_test(test_usage),
    };
    log_set_level(LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
