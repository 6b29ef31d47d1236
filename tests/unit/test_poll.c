/*
 * test_poll.c - the poller (api/poll.h) on a fake clock and a fake
 * transport (fake_transport.h) that answers with the JSON fixtures of
 * tests/fixtures: discovery of sources and connected destinations (disabled
 * ones skipped, globs applied), delivery-metrics windows taken from the
 * clock (and a longer one on request, with source_volume over the same
 * window), the samples and labels handed to the sink (the destination's
 * mode), event-volume buckets and the workspace total, the usage endpoints
 * with their period (billing_cycle_day, then what the rows say), and the
 * scoped failures: 403 per endpoint, 404 of one source, repeating cursors
 * and items repeated across pages; thousands of connections found by their
 * ids, answered in any order, kept across a re-discovery.
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
#include <unistd.h>

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
    const char *fail_message;   /* and this message */
    const char *destinations_body;
    fake_route_fn route;        /* a test's own answers, asked first */
    void *route_ud;
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
static void serve_one_at(struct penv *e, size_t i)
{
    struct fake_segment api = { BASE, e->fail_path, e->fail_status,
                                e->destinations_body, e->fail_message,
                                e->route, e->route_ud };
    if (!fake_segment_serve(&e->fake, i, &api))
        fail_msg("unexpected request %s", e->fake.pending[i]->url);
}

static void serve_one(struct penv *e)
{
    serve_one_at(e, 0);
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
    /* [now - delivery_window, now], to the second (a first window, no
     * volume known yet) */
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
                        AMP_ID ",destination_type=amplitude,mode=cloud");
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

    /* The tiling starts at its last whole minute */
    assert_true(conns[0].window_end == T0);

    /* Five minutes later the window has moved with the clock, starts
     * where the tiling is, ends on the last whole minute (the API counts
     * whole minutes: a window ending mid-minute would count it again in
     * the next one): no overlap, no gap. */
    clock_fake_advance(e.clock, 300);
    poller_poll_delivery(e.p, clock_wall(e.clock));
    drive(&e);
    assert_non_null(strstr(fake_url(&e.fake, before + 1),
                           "&startTime=2026-08-20T16%3A00%3A00Z"
                           "&endTime=2026-08-20T16%3A05%3A00Z&"));
    assert_true(e.samples[1].t == T0 + 300);
    assert_true(conns[0].window_end == T0 + 300);

    /* 20 s later no whole minute has passed: the minute so far is read
     * (stamped now) and the windows stay where they are... */
    clock_fake_advance(e.clock, 20);        /* 16:05:50.6 */
    poller_poll_delivery(e.p, clock_wall(e.clock));
    drive(&e);
    assert_non_null(strstr(fake_url(&e.fake, before + 2),
                           "&startTime=2026-08-20T16%3A05%3A00Z"
                           "&endTime=2026-08-20T16%3A05%3A50Z&"));
    assert_true(e.samples[2].t == T0 + 350);
    poller_connections(e.p, &conns);
    assert_true(conns[0].window_end == T0 + 300);
    /* ...so the next window reads that minute whole */
    clock_fake_advance(e.clock, 20);        /* 16:06:10.6 */
    poller_poll_delivery(e.p, clock_wall(e.clock));
    drive(&e);
    assert_non_null(strstr(fake_url(&e.fake, before + 3),
                           "&startTime=2026-08-20T16%3A05%3A00Z"
                           "&endTime=2026-08-20T16%3A06%3A00Z&"));
    assert_true(e.samples[3].t == T0 + 360);
    poller_connections(e.p, &conns);
    assert_true(conns[0].window_end == T0 + 360);
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
     * ios_prod (not selected) is left out... */
    static const double counts[] = { 131044, 129870, 131204 };
    assert_int_equal(e.nsamples, 3 + 5);
    for (size_t i = 0; i < 3; i++) {
        const struct sample *s = &e.samples[i];
        assert_int_equal(s->fam, FAM_SOURCE);
        assert_string_equal(s->labels, WEB_LABELS);
        assert_true(s->t == T0 - 3600 * (3 - (double)i));
        assert_true(s->has[M_EVENT_VOLUME]);
        assert_true(s->v[M_EVENT_VOLUME] == counts[i]);
    }
    /* ...but counts in the workspace total, one sample per bucket of the
     * window asked for (10:00 to 15:00), labelled by the workspace alone
     * and stamped at the bucket's end like the others. */
    static const double totals[] = { 0, 0, 131044 + 17, 129870 + 1,
                                     131204 + 0 };
    for (size_t i = 0; i < ARRAY_SIZE(totals); i++) {
        const struct sample *s = &e.samples[3 + i];
        assert_int_equal(s->fam, FAM_SOURCE);
        assert_string_equal(s->labels, "workspace=prod");
        assert_true(s->t == T0 - 3600 * (5 - (double)i));
        assert_true(s->has[M_EVENT_VOLUME]);
        assert_true(s->v[M_EVENT_VOLUME] == totals[i]);
    }
    assert_true(poller_health(e.p)->last_ok[POLL_VOLUME] == now);

    /* The connection's source_volume is what the source received in the
     * delivery window, counted back from the newest complete bucket:
     * (14:00, 15:00]. */
    poller_poll_delivery(e.p, now);
    drive(&e);
    const struct sample *d = &e.samples[8];
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
    /* the rows of August 1st count through the end of that day */
    double aug2 = aug1 + 86400;
    const struct sample *s;
    s = find_sample(&e, FAM_USAGE, "workspace=prod", aug2, M_API_CALLS);
    assert_non_null(s);
    assert_true(s->v[M_API_CALLS] == 3104473);
    s = find_sample(&e, FAM_USAGE, WEB_LABELS, aug2, M_API_CALLS);
    assert_non_null(s);
    assert_true(s->v[M_API_CALLS] == 3104455);
    s = find_sample(&e, FAM_USAGE, "workspace=prod", aug2, M_MTU);
    assert_non_null(s);
    assert_true(s->v[M_MTU] == 5175 + 19130);
    s = find_sample(&e, FAM_USAGE, WEB_LABELS, aug2, M_MTU);
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


/* Today's workspace rows of both usage kinds, answered 20 seconds apart. */
static bool route_usage_today(void *ud, const char *path, long *status,
                              const char **body)
{
    struct penv *e = ud;
    *status = 200;
    if (str_has_prefix(path, "/usage/mtu/daily?")) {
        clock_fake_advance(e->clock, 20);
        *body = "{\"data\":{\"dailyWorkspaceMTUUsage\":[{\"periodStart\":"
                "1785542400,\"periodEnd\":1788220800,\"anonymous\":\"100\","
                "\"anonymousIdentified\":\"0\",\"identified\":\"50\","
                "\"neverIdentified\":\"100\","
                "\"timestamp\":\"2026-08-20T00:00:00Z\"}]}}";
        return true;
    }
    if (str_has_prefix(path, "/usage/api-calls/daily?")) {
        clock_fake_advance(e->clock, 20);
        *body = "{\"data\":{\"dailyWorkspaceAPICallsUsage\":[{\"apiCalls\":"
                "\"4000\",\"timestamp\":\"2026-08-20T00:00:00Z\"}]}}";
        return true;
    }
    return false;
}

/* Today's count runs through the sweep's start, for both kinds alike: one
 * sample carrying MTU and API calls, however late each answer arrives (two
 * samples stamped apart would leave the newer without the other metric). */
static void test_usage_today_one_sample(void **state)
{
    (void)state;
    struct penv e;
    env_init(&e);
    e.route = route_usage_today;
    e.route_ud = &e;
    env_start(&e);
    discover(&e);
    clock_fake_advance(e.clock, 30);
    double now = clock_wall(e.clock);
    size_t before = e.nsamples;
    poller_poll_usage(e.p, now);
    drive(&e);
    assert_true(clock_wall(e.clock) >= now + 40);
    const struct sample *mtu = NULL, *calls = NULL;
    for (size_t i = before; i < e.nsamples; i++) {
        const struct sample *x = &e.samples[i];
        if (x->fam != FAM_USAGE || strcmp(x->labels, "workspace=prod") != 0)
            continue;
        if (x->has[M_MTU])
            mtu = x;
        if (x->has[M_API_CALLS])
            calls = x;
    }
    assert_non_null(mtu);
    assert_non_null(calls);
    assert_true(mtu->v[M_MTU] == 150);
    assert_true(calls->v[M_API_CALLS] == 4000);
    assert_true(mtu->t == now);
    assert_true(calls->t == now);
    env_free(&e);
}

/* ---- scoped failures ----------------------------------------------------- */

/* Redirect stderr (where the log goes) into a temporary file. */
struct capture {
    int saved;
    FILE *tmp;
};

static void capture_start(struct capture *cap)
{
    fflush(stderr);
    cap->tmp = tmpfile();
    assert_non_null(cap->tmp);
    cap->saved = dup(2);
    dup2(fileno(cap->tmp), 2);
}

static char *capture_end(struct capture *cap)
{
    fflush(stderr);
    dup2(cap->saved, 2);
    close(cap->saved);
    fseek(cap->tmp, 0, SEEK_END);
    long n = ftell(cap->tmp);
    char *s = xcalloc(1, (size_t)n + 1);
    fseek(cap->tmp, 0, SEEK_SET);
    size_t got = fread(s, 1, (size_t)n, cap->tmp);
    s[got] = '\0';
    fclose(cap->tmp);
    return s;
}

static size_t count_substr(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static size_t count_family(const struct penv *e, enum family fam)
{
    size_t n = 0;
    for (size_t i = 0; i < e->nsamples; i++)
        n += e->samples[i].fam == fam;
    return n;
}

/* A 403 on one endpoint: only that endpoint is marked forbidden, with
 * Segment's message and since when; the workspace is not unauthorized and
 * the other endpoints go on.  The next success of the endpoint clears it. */
static void test_403_scoped_and_cleared(void **state)
{
    (void)state;
    struct penv e;
    env_init(&e);
    env_start(&e);
    discover(&e);
    clock_fake_advance(e.clock, 30);
    double t403 = clock_wall(e.clock);
    e.fail_path = "/usage/mtu/daily?";
    e.fail_status = 403;
    e.fail_message = "This token lacks the Workspace Owner role";
    poller_poll_usage(e.p, t403);
    poller_poll_delivery(e.p, t403);
    drive(&e);

    const struct poll_health *h = poller_health(e.p);
    assert_false(h->unauthorized);
    assert_true(h->forbidden[SEGEP_USAGE_MTU]);
    assert_true(h->forbidden_since[SEGEP_USAGE_MTU] == t403);
    assert_non_null(strstr(h->forbidden_msg[SEGEP_USAGE_MTU],
                           "HTTP 403: This token lacks the Workspace Owner "
                           "role"));
    assert_non_null(strstr(h->forbidden_msg[SEGEP_USAGE_MTU],
                           "GET /usage/mtu/daily?period="));
    for (int ep = 0; ep < SEGEP__COUNT; ep++)
        if (ep != SEGEP_USAGE_MTU)
            assert_false(h->forbidden[ep]);
    assert_int_equal(h->errors[POLL_USAGE], 1);
    assert_non_null(strstr(h->last_error[POLL_USAGE], "forbidden: "));
    /* Every other call went out and delivered. */
    assert_int_equal(count_family(&e, FAM_CONNECTION), 1);
    assert_non_null(find_sample(&e, FAM_USAGE, "workspace=prod",
                                T0 - 18 * 86400 - 16 * 3600, M_API_CALLS));
    assert_null(find_sample(&e, FAM_USAGE, "workspace=prod",
                            T0 - 18 * 86400 - 16 * 3600, M_MTU));

    /* Still forbidden later: "since" stays. */
    clock_fake_advance(e.clock, 600);
    poller_poll_usage(e.p, clock_wall(e.clock));
    drive(&e);
    assert_true(h->forbidden[SEGEP_USAGE_MTU]);
    assert_true(h->forbidden_since[SEGEP_USAGE_MTU] == t403);

    /* The permission is granted: cleared by the endpoint's success. */
    e.fail_path = NULL;
    clock_fake_advance(e.clock, 600);
    poller_poll_usage(e.p, clock_wall(e.clock));
    drive(&e);
    assert_false(h->forbidden[SEGEP_USAGE_MTU]);
    assert_true(h->forbidden_since[SEGEP_USAGE_MTU] == 0);
    assert_string_equal(h->forbidden_msg[SEGEP_USAGE_MTU], "");

    /* A 403 on the sources listing fails the discovery (the previous
     * topology is kept) but does not make the workspace unauthorized. */
    e.fail_path = "/sources?";
    discover(&e);
    assert_true(h->forbidden[SEGEP_SOURCES]);
    assert_false(h->unauthorized);
    assert_int_equal(h->nconnections, 1);
    assert_int_equal(h->errors[POLL_DISCOVERY], 1);
    env_free(&e);
}

/* Two enabled sources; the second one's connected destinations are a
 * 404 (deleted since the listing). */
#define GONE_ID "GoneSource0000000000000"
static const char two_sources[] =
    "{\"data\":{\"sources\":["
    "{\"id\":\"" WEB_ID "\",\"slug\":\"web_prod\",\"name\":\"Web (prod)\","
    "\"enabled\":true},"
    "{\"id\":\"" GONE_ID "\",\"slug\":\"gone\",\"name\":\"Gone\","
    "\"enabled\":true}]}}";

static bool route_two_sources(void *ud, const char *path, long *status,
                              const char **body)
{
    (void)ud;
    if (!str_has_prefix(path, "/sources?"))
        return false;
    *status = 200;
    *body = two_sources;
    return true;
}

static void test_404_source_skipped(void **state)
{
    (void)state;
    struct penv e;
    env_init(&e);
    e.route = route_two_sources;
    e.fail_path = "/sources/" GONE_ID "/connected-destinations";
    e.fail_status = 404;
    e.fail_message = "Resource not found";
    env_start(&e);
    enum log_level saved = log_get_level();
    log_set_level(LOG_WARN);
    struct capture cap;
    capture_start(&cap);
    discover(&e);
    clock_fake_advance(e.clock, 600);
    discover(&e);
    char *logs = capture_end(&cap);
    log_set_level(saved);

    const struct poll_health *h = poller_health(e.p);
    assert_true(h->discovered);
    assert_int_equal(h->errors[POLL_DISCOVERY], 0);
    assert_true(h->last_ok[POLL_DISCOVERY] == clock_wall(e.clock));
    assert_int_equal(h->nsources, 1);
    assert_int_equal(h->nconnections, 1);
    assert_int_equal(h->nsources_skipped, 1);
    assert_int_equal(h->sources_skipped, 2);
    struct poll_connection *conns;
    assert_int_equal(poller_connections(e.p, &conns), 1);
    assert_string_equal(conns[0].source->id, WEB_ID);
    assert_string_equal(conns[0].dest_id, AMP_ID);
    /* Logged once, not at every discovery. */
    if (count_substr(logs, "(" GONE_ID ") skipped") != 1)
        fail_msg("not logged exactly once:\n%s", logs);
    assert_non_null(strstr(logs, "Resource not found"));
    free(logs);

    /* The source is back: it is discovered again. */
    e.fail_path = NULL;
    e.destinations_body = "{\"data\":{\"destinations\":[]}}";
    discover(&e);
    assert_int_equal(h->nsources, 2);
    assert_int_equal(h->nsources_skipped, 0);
    env_free(&e);
}

/* ---- pagination ---------------------------------------------------------- */

#define C_ID "CcSource000000000000000"
/* Listings served in two pages by a test route; "loop" sends the first
 * page's cursor again from the second page. */
struct paged_route {
    bool loop;
};

static bool route_paged(void *ud, const char *path, long *status,
                        const char **body)
{
    const struct paged_route *r = ud;
    bool second = strstr(path, "pagination.cursor=") != NULL;
    *status = 200;
    if (str_has_prefix(path, "/sources?")) {
        /* web_prod on both pages; C only on the second. */
        *body = !second
            ? "{\"data\":{\"sources\":[{\"id\":\"" WEB_ID "\",\"slug\":"
              "\"web_prod\",\"name\":\"Web\",\"enabled\":true}],"
              "\"pagination\":{\"next\":\"UDI=\"}}}"
            : r->loop
            ? "{\"data\":{\"sources\":[],\"pagination\":{\"next\":\"UDI=\"}}}"
            : "{\"data\":{\"sources\":[{\"id\":\"" C_ID "\",\"slug\":\"c\","
              "\"name\":\"C\",\"enabled\":true},{\"id\":\"" WEB_ID "\","
              "\"slug\":\"web_prod\",\"name\":\"Web\",\"enabled\":true}]}}";
        return true;
    }
    if (strstr(path, "/connected-destinations?")) {
        /* The same destination on both pages. */
        *body = !second
            ? "{\"data\":{\"destinations\":[{\"id\":\"D1\",\"name\":\"d1\","
              "\"enabled\":true,\"metadata\":{\"slug\":\"webhooks\"}}],"
              "\"pagination\":{\"next\":\"UDI=\"}}}"
            : "{\"data\":{\"destinations\":[{\"id\":\"D1\",\"name\":\"d1\","
              "\"enabled\":true,\"metadata\":{\"slug\":\"webhooks\"}}]}}";
        return true;
    }
    if (str_has_prefix(path, "/usage/mtu/daily?")) {
        /* The 1st of August on both pages. */
        static const char row1[] =
            "{\"periodStart\":1785542400,\"periodEnd\":1788220800,"
            "\"anonymous\":\"1\",\"anonymousIdentified\":\"1\","
            "\"identified\":\"10\",\"neverIdentified\":\"5\","
            "\"timestamp\":\"2026-08-01T00:00:00Z\"}";
        static const char row2[] =
            "{\"periodStart\":1785542400,\"periodEnd\":1788220800,"
            "\"anonymous\":\"2\",\"anonymousIdentified\":\"1\","
            "\"identified\":\"20\",\"neverIdentified\":\"9\","
            "\"timestamp\":\"2026-08-02T00:00:00Z\"}";
        static char first[512], next[512];
        snprintf(first, sizeof(first), "{\"data\":{\"dailyWorkspaceMTUUsage\""
                 ":[%s],\"pagination\":{\"next\":\"UDI=\"}}}", row1);
        snprintf(next, sizeof(next), "{\"data\":{\"dailyWorkspaceMTUUsage\":"
                 "[%s,%s]}}", row1, row2);
        *body = second ? next : first;
        return true;
    }
    if (str_has_prefix(path, "/events/volume?")) {
        /* web_prod on both pages, a second source on the second. */
        *body = !second
            ? "{\"data\":{\"result\":[{\"source\":{\"id\":\"" WEB_ID "\"},"
              "\"series\":[{\"time\":\"2026-08-20T14:00:00Z\",\"count\":10}]"
              "}],\"pagination\":{\"next\":\"UDI=\"}}}"
            : "{\"data\":{\"result\":[{\"source\":{\"id\":\"" WEB_ID "\"},"
              "\"series\":[{\"time\":\"2026-08-20T14:00:00Z\",\"count\":10}]"
              "},{\"source\":{\"id\":\"" C_ID "\"},\"series\":[{\"time\":"
              "\"2026-08-20T14:00:00Z\",\"count\":7}]}]}}";
        return true;
    }
    return false;
}

static void test_items_repeated_across_pages_dropped(void **state)
{
    (void)state;
    struct penv e;
    struct paged_route r = { false };
    env_init(&e);
    str_list_add(&e.ws.exclude_sources, "c");
    e.route = route_paged;
    e.route_ud = &r;
    env_start(&e);
    discover(&e);
    /* web_prod once (C is excluded), D1 once. */
    const struct poll_health *h = poller_health(e.p);
    assert_int_equal(h->nsources, 1);
    assert_int_equal(h->nconnections, 1);

    clock_fake_advance(e.clock, 30);
    double now = clock_wall(e.clock);
    poller_poll_usage(e.p, now);
    poller_poll_volume(e.p, now - 2 * 3600, now);
    drive(&e);
    /* One MTU sample per day, not two for the 1st. */
    size_t mtu = 0;
    for (size_t i = 0; i < e.nsamples; i++)
        mtu += e.samples[i].fam == FAM_USAGE && e.samples[i].has[M_MTU] &&
               strcmp(e.samples[i].labels, "workspace=prod") == 0;
    assert_int_equal(mtu, 2);
    const struct sample *s = find_sample(&e, FAM_USAGE, "workspace=prod",
                                         T0 - 18 * 86400 - 16 * 3600, M_MTU);
    assert_non_null(s);
    assert_true(s->v[M_MTU] == 15);
    /* One volume sample of web_prod for 14:00, and the total counts it
     * once, with the excluded source C. */
    size_t web = 0;
    for (size_t i = 0; i < e.nsamples; i++)
        web += e.samples[i].fam == FAM_SOURCE &&
               strcmp(e.samples[i].labels, WEB_LABELS) == 0;
    assert_int_equal(web, 1);
    s = find_sample(&e, FAM_SOURCE, "workspace=prod", T0 - 3600,
                    M_EVENT_VOLUME);
    assert_non_null(s);
    assert_true(s->v[M_EVENT_VOLUME] == 17);
    env_free(&e);
}

static void test_repeating_cursor_fails_discovery(void **state)
{
    (void)state;
    struct penv e;
    struct paged_route r = { true };
    env_init(&e);
    env_start(&e);
    discover(&e);
    assert_int_equal(poller_health(e.p)->nconnections, 1);

    e.route = route_paged;
    e.route_ud = &r;
    discover(&e);
    const struct poll_health *h = poller_health(e.p);
    assert_int_equal(h->errors[POLL_DISCOVERY], 1);
    assert_non_null(strstr(h->last_error[POLL_DISCOVERY],
                           "bad-body: sources: GET /sources: pagination "
                           "cursor 'UDI=' repeats"));
    /* The previous topology is kept; exactly two pages were read. */
    assert_int_equal(h->nconnections, 1);
    struct poll_connection *conns;
    poller_connections(e.p, &conns);
    assert_string_equal(conns[0].dest_id, AMP_ID);
    size_t listings = 0;
    for (size_t i = 0; i < e.fake.nsent; i++)
        listings += strstr(e.fake.sent[i].url, BASE "/sources?") != NULL;
    assert_int_equal(listings, 1 + 2);
    env_free(&e);
}

/* ---- destination mode ---------------------------------------------------- */

static void test_destination_mode(void **state)
{
    (void)state;
    static const struct {
        const char *meta;
        const char *mode;       /* NULL: no mode label */
    } cases[] = {
        /* device only: browser component, cloud mode ruled out */
        { "\"components\":[{\"type\":\"BROWSER\"}],\"supportedFeatures\":"
          "{\"cloudModeInstances\":\"NONE\",\"deviceModeInstances\":"
          "\"SINGLE\"}", "device" },
        /* cloud only, by its actions */
        { "\"actions\":[{\"platform\":\"CLOUD\"}],\"supportedFeatures\":"
          "{\"deviceModeInstances\":\"NONE\"}", "cloud" },
        /* both allowed: the API does not say which this instance uses */
        { "\"components\":[{\"type\":\"SERVER\"},{\"type\":\"IOS\"}],"
          "\"supportedFeatures\":{\"cloudModeInstances\":\"MULTIPLE\","
          "\"deviceModeInstances\":\"SINGLE\"}", NULL },
        /* a server component alone does not rule device mode out */
        { "\"components\":[{\"type\":\"SERVER\"}],\"supportedFeatures\":{}",
          NULL },
        /* "0" says nothing */
        { "\"components\":[{\"type\":\"SERVER\"}],\"supportedFeatures\":"
          "{\"cloudModeInstances\":\"0\",\"deviceModeInstances\":\"0\"}",
          NULL },
        /* contradictions */
        { "\"components\":[{\"type\":\"SERVER\"}],\"supportedFeatures\":"
          "{\"cloudModeInstances\":\"NONE\",\"deviceModeInstances\":\"NONE\"}",
          NULL },
        { "\"supportedFeatures\":\"garbage\",\"components\":7", NULL },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char body[1024];
        snprintf(body, sizeof(body), "{\"data\":{\"destinations\":[{\"id\":"
                 "\"D1\",\"name\":\"d\",\"enabled\":true,\"metadata\":{"
                 "\"slug\":\"x\",%s}}]}}", cases[i].meta);
        struct penv e;
        env_init(&e);
        e.destinations_body = body;
        env_start(&e);
        discover(&e);
        poller_poll_delivery(e.p, clock_wall(e.clock));
        drive(&e);
        assert_int_equal(e.nsamples, 1);
        const char *m = strstr(e.samples[0].labels, ",mode=");
        if (cases[i].mode ? !m || strcmp(m + 6, cases[i].mode) != 0 : !!m)
            fail_msg("case %zu: labels %s", i, e.samples[0].labels);
        struct poll_connection *conns;
        poller_connections(e.p, &conns);
        assert_true(cases[i].mode ? conns[0].mode &&
                                        strcmp(conns[0].mode,
                                               cases[i].mode) == 0
                                  : conns[0].mode == NULL);
        env_free(&e);
    }
}

/* ---- longer delivery window ---------------------------------------------- */

/* Minute buckets of 1 event for 14:00-16:00, hourly buckets of 100 events
 * before (as back-fill reads them). */
static bool route_volume_history(void *ud, const char *path, long *status,
                                 const char **body)
{
    static char buf[16384];
    (void)ud;
    if (!str_has_prefix(path, "/events/volume?"))
        return false;
    bool minute = strstr(path, "granularity=MINUTE") != NULL;
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, "{\"data\":{\"result\":[{\"source\":{\"id\":\"" WEB_ID
                "\"},\"series\":[");
    if (minute) {
        for (int m = 0; m < 119; m++)       /* 14:00 .. 15:58 */
            strbuf_addf(&sb, "%s{\"time\":\"2026-08-20T%02d:%02d:00Z\","
                        "\"count\":1}", m ? "," : "", 14 + m / 60, m % 60);
    } else {
        for (int h = 10; h < 14; h++)
            strbuf_addf(&sb, "%s{\"time\":\"2026-08-20T%02d:00:00Z\","
                        "\"count\":100}", h > 10 ? "," : "", h);
    }
    strbuf_adds(&sb, "]}]}}");
    snprintf(buf, sizeof(buf), "%s", strbuf_str(&sb));
    strbuf_free(&sb);
    *status = 200;
    *body = buf;
    return true;
}

static void test_longer_delivery_window(void **state)
{
    (void)state;
    struct penv e;
    env_init(&e);
    e.ws.volume_interval_s = 300;           /* MINUTE buckets */
    e.ws.delivery_window_s = 3600;
    e.route = route_volume_history;
    env_start(&e);
    discover(&e);
    clock_fake_advance(e.clock, 30);        /* 16:00:30 */
    double now = clock_wall(e.clock);
    poller_poll_volume_bucket(e.p, now - 6 * 3600, now - 2 * 3600, 3600);
    poller_poll_volume(e.p, now - 2 * 3600, now);
    drive(&e);
    size_t before = e.fake.nsent, nbefore = e.nsamples;

    /* The regular window: the last hour of minute buckets. */
    poller_poll_delivery(e.p, now);
    /* A longer one on request, and one capped at 4 hours. */
    poller_poll_delivery_window(e.p, now, 4 * 3600);
    poller_poll_delivery_window(e.p, now, 9 * 3600);
    drive(&e);
    assert_int_equal(e.fake.nsent, before + 3);
    /* Windows end where the source's volume is known (its newest
     * complete minute, 15:59), so source_volume covers the same time. */
    assert_non_null(strstr(fake_url(&e.fake, before),
                           "&startTime=2026-08-20T14%3A59%3A00Z"
                           "&endTime=2026-08-20T15%3A59%3A00Z&"));
    for (size_t i = 1; i < 3; i++)
        assert_non_null(strstr(fake_url(&e.fake, before + i),
                               "&startTime=2026-08-20T11%3A59%3A00Z"
                               "&endTime=2026-08-20T15%3A59%3A00Z&"));
    assert_int_equal(e.nsamples, nbefore + 3);
    /* source_volume counts back from the newest bucket (15:59): the last
     * hour is 60 minute buckets; four hours are 119 minute buckets
     * (14:00-15:59), the hours 12-13 and 13-14, and the last minute of
     * 11-12 pro rata. */
    const struct sample *s = &e.samples[nbefore];
    assert_true(s->has[M_SOURCE_VOLUME]);
    assert_true(s->v[M_SOURCE_VOLUME] == 60);
    for (size_t i = 1; i < 3; i++) {
        s = &e.samples[nbefore + i];
        assert_true(s->has[M_SOURCE_VOLUME]);
        if (fabs(s->v[M_SOURCE_VOLUME] - (119 + 200 + 100 / 60.0)) > 1e-6)
            fail_msg("source_volume %.6f", s->v[M_SOURCE_VOLUME]);
        assert_true(s->t == now - 90);      /* stamped at the end */
    }

    /* A history read: a 4-hour window (ending now: the volume known has
     * not moved since the last window) with the source_volume of the 4
     * hours known, stamped at the window's start (the past, never the
     * present). */
    before = e.fake.nsent;
    nbefore = e.nsamples;
    poller_poll_delivery_history(e.p, now, 4 * 3600);
    drive(&e);
    assert_int_equal(e.fake.nsent, before + 1);
    assert_non_null(strstr(fake_url(&e.fake, before),
                           "&startTime=2026-08-20T12%3A00%3A30Z"
                           "&endTime=2026-08-20T16%3A00%3A30Z&"));
    s = &e.samples[nbefore];
    assert_true(s->t == now - 4 * 3600);
    assert_true(fabs(s->v[M_SOURCE_VOLUME] - (119 + 200 + 100 / 60.0)) < 1e-6);
    env_free(&e);
}

/* ---- usage period -------------------------------------------------------- */

static void test_usage_period(void **state)
{
    (void)state;
    const double aug1 = T0 - 19 * 86400 - 16 * 3600;
    const double sep1 = aug1 + 31 * 86400;
    struct penv e;
    env_init(&e);
    e.ws.billing_cycle_day = 15;
    env_start(&e);
    discover(&e);
    double start = -1, end = -1;
    assert_false(poller_period(e.p, &start, &end));
    assert_true(start == -1 && end == -1);
    poller_usage_period(e.p, T0, &start, &end);
    assert_true(start == aug1 + 14 * 86400 && end == sep1 + 14 * 86400);

    /* No row read yet: the cycle of billing_cycle_day. */
    size_t before = e.fake.nsent;
    poller_poll_usage(e.p, T0);
    drive(&e);
    assert_non_null(strstr(fake_url(&e.fake, before),
                           "/usage/mtu/sources/daily?period=2026-08-15&"));

    /* The rows said 2026-08-01 .. 2026-09-01: that wins from now on. */
    assert_true(poller_period(e.p, &start, &end));
    assert_true(start == aug1 && end == sep1);
    poller_usage_period(e.p, T0, &start, &end);
    assert_true(start == aug1 && end == sep1);
    before = e.fake.nsent;
    poller_poll_usage(e.p, T0 + 60);
    drive(&e);
    for (size_t i = before; i < e.fake.nsent; i++)
        assert_non_null(strstr(fake_url(&e.fake, i), "period=2026-08-01&"));

    /* Past the learned period: the next cycle on its day (the 1st), not
     * on billing_cycle_day. */
    poller_usage_period(e.p, sep1 + 2 * 86400, &start, &end);
    assert_true(start == sep1 && end == sep1 + 30 * 86400);
    env_free(&e);

    /* A cycle that began last month. */
    env_init(&e);
    e.ws.billing_cycle_day = 25;
    env_start(&e);
    poller_poll_usage(e.p, T0);
    poller_tick(e.p);
    assert_non_null(strstr(fake_url(&e.fake, 0), "period=2026-07-25&"));
    drive(&e);
    env_free(&e);
}

/* Calls cancelled before they finished are counted, not errors. */
static void test_cancel_counted(void **state)
{
    (void)state;
    struct penv e;
    env_init(&e);
    e.ws.max_concurrency = 1;
    env_start(&e);
    discover(&e);
    poller_poll_usage(e.p, T0);
    poller_tick(e.p);
    poller_cancel(e.p);
    drive(&e);
    const struct poll_health *h = poller_health(e.p);
    assert_int_equal(h->cancelled[POLL_USAGE], 3);
    assert_int_equal(h->errors[POLL_USAGE], 0);
    env_free(&e);
}

/* ---- many connections --------------------------------------------------- */

/* A workspace of NSRC sources with NDST connections each; every source
 * uses the same destination ids (d00, d01, ...), so only the pair
 * (source id, destination id) tells connections apart.  In the second
 * generation every third source is gone and NNEW sources are new. */
enum { NSRC = 300, NDST = 10, NNEW = 40 };

struct many_route {
    int gen;
    struct strbuf body;
};

static bool src_present(int gen, int i)
{
    return gen == 1 ? i < NSRC : (i % 3 != 0 && i < NSRC + NNEW);
}

static bool route_many(void *ud, const char *path, long *status,
                       const char **body)
{
    struct many_route *r = ud;
    strbuf_reset(&r->body);
    if (str_has_prefix(path, "/sources?")) {
        strbuf_adds(&r->body, "{\"data\":{\"sources\":[");
        bool first = true;
        for (int i = 0; i < NSRC + NNEW; i++) {
            if (!src_present(r->gen, i))
                continue;
            strbuf_addf(&r->body, "%s{\"id\":\"SRC%04d\",\"slug\":\"src%d\","
                        "\"name\":\"Source %d\",\"enabled\":true}",
                        first ? "" : ",", i, i, i);
            first = false;
        }
        strbuf_adds(&r->body, "]}}");
    } else if (str_has_prefix(path, "/sources/SRC")) {
        int src = (int)strtol(path + strlen("/sources/SRC"), NULL, 10);
        strbuf_adds(&r->body, "{\"data\":{\"destinations\":[");
        for (int d = 0; d < NDST; d++)
            strbuf_addf(&r->body, "%s{\"id\":\"d%02d\",\"name\":\"Dest %d\","
                        "\"enabled\":true,\"sourceId\":\"SRC%04d\","
                        "\"metadata\":{\"id\":\"m%d\",\"slug\":\"webhooks\"}}",
                        d ? "," : "", d, d, src, d);
        strbuf_adds(&r->body, "]}}");
    } else {
        return false;
    }
    *status = 200;
    *body = strbuf_str(&r->body);
    return true;
}

/* The value of "name=" in a label list "k=v,k=v". */
static void label_of(const char *labels, const char *name, char *out,
                     size_t len)
{
    char key[64];
    snprintf(key, sizeof(key), "%s=", name);
    const char *p = labels;
    out[0] = '\0';
    while (p && *p) {
        if (str_has_prefix(p, key)) {
            p += strlen(key);
            size_t n = strcspn(p, ",");
            snprintf(out, len, "%.*s", (int)n, p);
            return;
        }
        p = strchr(p, ',');
        p = p ? p + 1 : NULL;
    }
}

/* Thousands of connections: every answer, in any order, lands on the
 * connection it was asked for; a re-discovery keeps what it knew of the
 * connections and sources that stay, and finds every connection by its
 * ids (poller_find_connection). */
/* ---- implausible numbers ------------------------------------------------ */

static bool route_implausible(void *ud, const char *path, long *status,
                              const char **body)
{
    (void)ud;
    if (!strstr(path, "/delivery-metrics"))
        return false;
    *status = 200;
    *body = "{\"data\":{\"deliveryMetricsSummary\":{\"sourceId\":\"" WEB_ID
            "\",\"metrics\":[{\"metricName\":\"successes\",\"total\":1.79e308},"
            "{\"metricName\":\"discarded\",\"total\":50},"
            "{\"metricName\":\"expired\",\"total\":1.79e308}]}}}";
    return true;
}

/* A count of 1.79e308 is refused at parse time: counted in the health,
 * warned about once however often it comes (rate-limited), and never a
 * sample value: no attempted = inf, no discard_ratio = 0. */
static void test_implausible_counted_and_warned(void **state)
{
    (void)state;
    struct penv e;
    env_init(&e);
    e.route = route_implausible;
    env_start(&e);
    discover(&e);
    enum log_level saved = log_get_level();
    log_set_level(LOG_WARN);
    struct capture cap;
    capture_start(&cap);
    for (int i = 0; i < 3; i++) {
        clock_fake_advance(e.clock, 300);
        poller_poll_delivery(e.p, clock_wall(e.clock));
        drive(&e);
    }
    char *logs = capture_end(&cap);
    log_set_level(saved);

    assert_int_equal(poller_health(e.p)->implausible, 6);
    assert_int_equal(e.nsamples, 3);
    for (size_t i = 0; i < e.nsamples; i++) {
        const struct sample *s = &e.samples[i];
        for (int m = 0; m < M__COUNT; m++)
            if (s->has[m])
                assert_true(isfinite(s->v[m]));
        assert_false(s->has[M_ATTEMPTED]);
        assert_false(s->has[M_DISCARD_RATIO]);
        assert_true(s->has[M_DISCARDED] && s->v[M_DISCARDED] == 50);
    }
    /* one warning line, not one per poll */
    const char *w = strstr(logs, "implausible value");
    assert_non_null(w);
    assert_null(strstr(w + 1, "implausible value"));
    assert_non_null(strstr(logs, "first: successes = 1.79e+308"));
    free(logs);
    env_free(&e);
}

static void test_many_connections_indexed(void **state)
{
    (void)state;
    struct penv e;
    env_init(&e);
    e.ws.max_concurrency = 64;
    struct many_route r = { 1, STRBUF_INIT };
    e.route = route_many;
    e.route_ud = &r;
    env_start(&e);
    discover(&e);
    assert_int_equal(poller_health(e.p)->nconnections, NSRC * NDST);

    /* Delivery: answered newest first, each answer checked against the
     * sample it produced. */
    clock_fake_advance(e.clock, 60);
    double t1 = clock_wall(e.clock);
    poller_poll_delivery(e.p, t1);
    size_t answered = 0;
    for (int guard = 0; guard < 100000 && !poller_idle(e.p); guard++) {
        poller_tick(e.p);
        while (e.fake.npending) {
            size_t i = e.fake.npending - 1;
            char src[32], dst[32], got[64];
            const char *u = e.fake.pending[i]->url;
            const char *d = strstr(u, "/destinations/") + 14;
            snprintf(dst, sizeof(dst), "%.*s", (int)strcspn(d, "/"), d);
            const char *s = strstr(u, "sourceId=") + 9;
            snprintf(src, sizeof(src), "%.*s", (int)strcspn(s, "&"), s);
            size_t before = e.nsamples;
            serve_one_at(&e, i);
            assert_int_equal(e.nsamples, before + 1);
            const char *labels = e.samples[before].labels;
            label_of(labels, "source_id", got, sizeof(got));
            assert_string_equal(got, src);
            label_of(labels, "destination_id", got, sizeof(got));
            assert_string_equal(got, dst);
            answered++;
        }
    }
    assert_int_equal(answered, NSRC * NDST);
    struct poll_connection *conns;
    size_t n = poller_connections(e.p, &conns);
    for (size_t i = 0; i < n; i++)
        assert_true(conns[i].last_polled == t1);

    /* A re-discovery: a third of the sources gone, some new. */
    r.gen = 2;
    clock_fake_advance(e.clock, 600);
    discover(&e);
    n = poller_connections(e.p, &conns);
    size_t want = 0;
    for (int i = 0; i < NSRC + NNEW; i++)
        want += src_present(2, i) ? NDST : 0;
    assert_int_equal(n, want);
    for (int i = 0; i < NSRC + NNEW; i++) {
        char src[32], dst[32];
        snprintf(src, sizeof(src), "SRC%04d", i);
        for (int d = 0; d < NDST; d++) {
            snprintf(dst, sizeof(dst), "d%02d", d);
            struct poll_connection *c = poller_find_connection(e.p, src, dst);
            if (!src_present(2, i)) {
                assert_null(c);
                continue;
            }
            assert_non_null(c);
            assert_string_equal(c->source->id, src);
            assert_string_equal(c->dest_id, dst);
            /* what was known survives; a new connection starts afresh */
            assert_true(c->last_polled == (i < NSRC ? t1 : 0));
        }
    }
    assert_null(poller_find_connection(e.p, "SRC0001", "d99"));
    assert_null(poller_find_connection(e.p, "nope", "d01"));
    strbuf_free(&r.body);
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
        cmocka_unit_test(test_usage_today_one_sample),
        cmocka_unit_test(test_403_scoped_and_cleared),
        cmocka_unit_test(test_404_source_skipped),
        cmocka_unit_test(test_items_repeated_across_pages_dropped),
        cmocka_unit_test(test_repeating_cursor_fails_discovery),
        cmocka_unit_test(test_destination_mode),
        cmocka_unit_test(test_longer_delivery_window),
        cmocka_unit_test(test_usage_period),
        cmocka_unit_test(test_cancel_counted),
        cmocka_unit_test(test_implausible_counted_and_warned),
        cmocka_unit_test(test_many_connections_indexed),
    };
    log_set_level(LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
