/*
 * test_schedule.c - when the daemon polls a workspace (daemon/schedule.h),
 * on a fake clock, with a real poller and API client talking to a fake
 * Segment API (fake_segment.h): discovery first, then the one back-fill,
 * then each family every interval and never twice at once; discovery again
 * after 30 minutes, sooner after a refusal; connections with active alerts
 * polled first; health transitions; the achieved request rate.
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
#include "daemon/schedule.h"
#include "fake_segment.h"

#define T0 1787241600.0         /* 2026-08-20T16:00:00Z */
#define BASE "https://api.test"
#define WEB_ID "rh5BDZp6QDHvXFCkibm1pR"

struct senv {
    struct clock *clock;
    struct fake_transport fake;
    struct fake_segment api;
    struct workspace_cfg ws;
    struct ws_schedule sched;
    struct schedule_needs needs;
    const char *active_dest;    /* active_conns names it */
    size_t samples;
};

static void on_sample(void *ud, enum family fam, const struct kv *labels,
                      size_t n, double t, const double v[M__COUNT],
                      const bool has[M__COUNT])
{
    ((struct senv *)ud)->samples++;
}

static void active_conns(void *ud, schedule_conn_fn fn, void *ctx)
{
    const struct senv *e = ud;
    if (e->active_dest) {
        fn(ctx, WEB_ID, e->active_dest);
        /* unknown to the poller (another workspace's): ignored */
        fn(ctx, "other-source", e->active_dest);
    }
}

static void env_init(struct senv *e)
{
    memset(e, 0, sizeof(*e));
    log_set_level(LOG_ERR);
    e->clock = clock_fake_new(T0);
    e->fake.clock = e->clock;
    e->api.base = BASE;
    e->ws.name = (char *)"prod";
    e->ws.api_url = (char *)BASE;
    e->ws.token = (char *)"tok";
    e->ws.poll_interval_s = 300;
    e->ws.delivery_window_s = 3600;
    e->ws.volume_interval_s = 300;
    e->ws.usage_interval_s = 21600;
    e->ws.request_budget = 0;
    e->ws.max_concurrency = 4;
    e->ws.latency_scale = 1;
    e->needs.lookback_s[FAM_SOURCE] = 7 * 86400.0;   /* week over week */
    e->needs.active_conns = active_conns;
    e->needs.ud = e;
}

static void env_start(struct senv *e)
{
    struct http_transport t = fake_transport_of(&e->fake);
    struct sample_sink sink = { on_sample, e };
    ws_schedule_init(&e->sched, &e->ws,
                     poller_new_transport(&e->ws, &t, e->clock, &sink),
                     clock_wall(e->clock));
}

static void env_free(struct senv *e)
{
    ws_schedule_free(&e->sched);
    fake_free(&e->fake);
    clock_free(e->clock);
}

static double now(const struct senv *e)
{
    return clock_wall(e->clock);
}

/* Answer requests until none is pending (the client may still hold some
 * back, waiting on the clock: retries). */
static void answer_all(struct senv *e)
{
    for (int guard = 0; guard < 1000; guard++) {
        poller_tick(e->sched.poller);
        if (!e->fake.npending)
            return;
        while (e->fake.npending)
            if (!fake_segment_serve(&e->fake, 0, &e->api))
                fail_msg("unexpected request %s", e->fake.pending[0]->url);
    }
    fail_msg("requests never stop");
}

/* Answer the pending requests whose URL contains needle, leave the rest. */
static void serve_matching(struct senv *e, const char *needle)
{
    poller_tick(e->sched.poller);
    for (size_t i = 0; i < e->fake.npending;) {
        if (strstr(e->fake.pending[i]->url, needle)) {
            if (!fake_segment_serve(&e->fake, i, &e->api))
                fail_msg("unexpected request %s", e->fake.pending[i]->url);
        } else {
            i++;
        }
    }
}

/* Let the schedule start what is due, then answer every request; with the
 * clock standing still no retry comes due.  Returns whether a sweep
 * finished. */
static bool run_cycle(struct senv *e)
{
    ws_schedule_tick(&e->sched, now(e), &e->needs);
    answer_all(e);
    return ws_schedule_note_sweeps(&e->sched, now(e));
}

static size_t count_sent(const struct senv *e, const char *needle, size_t from)
{
    size_t n = 0;
    for (size_t i = from; i < e->fake.nsent; i++)
        n += strstr(e->fake.sent[i].url, needle) != NULL;
    return n;
}

/* Start-up: discovery, then volume and usage, then the first delivery. */
static void start_up(struct senv *e)
{
    run_cycle(e);
    run_cycle(e);
    run_cycle(e);
    assert_true(e->sched.polled_once);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_first_cycle(void **state)
{
    struct senv e;
    env_init(&e);
    env_start(&e);

    /* Nothing but discovery before the topology is known. */
    ws_schedule_tick(&e.sched, now(&e), &e.needs);
    poller_tick(e.sched.poller);
    assert_int_equal(e.fake.nsent, 1);
    assert_non_null(strstr(fake_url(&e.fake, 0), "/sources?"));
    assert_false(run_cycle(&e));            /* discovery is not a sweep */
    assert_true(poller_health(e.sched.poller)->discovered);
    assert_false(e.sched.polled_once);

    /* Then the back-fill (a week of hourly volume), volume and usage;
     * delivery waits for the volume its source_volume is joined from. */
    size_t before = e.fake.nsent;
    assert_true(run_cycle(&e));
    assert_true(e.sched.backfilled);
    assert_false(e.sched.polled_once);
    assert_int_equal(count_sent(&e, "/delivery-metrics?", before), 0);
    assert_int_equal(count_sent(&e, "granularity=HOUR", before), 1);
    assert_true(count_sent(&e, "granularity=MINUTE", before) >= 1);
    assert_int_equal(count_sent(&e, "/usage/mtu/daily?", before), 1);

    /* The first delivery sweep reads the last 4 hours as history, and the
     * delivery window as the present. */
    before = e.fake.nsent;
    assert_true(run_cycle(&e));
    assert_true(e.sched.polled_once);
    assert_int_equal(count_sent(&e, "/delivery-metrics?", before), 2);
    assert_int_equal(e.sched.last_sweep_requests[POLL_DELIVERY], 2);
    assert_true(e.sched.last_sweep_s[POLL_DELIVERY] == 0);  /* clock still */
    assert_int_equal(count_sent(&e, "startTime=2026-08-20T12%3A00%3A00", before),
                     1);
    assert_int_equal(count_sent(&e, "startTime=2026-08-20T15%3A00%3A00", before),
                     1);
    assert_true(e.samples > 0);

    /* Later ones start where the previous window ended. */
    clock_fake_advance(e.clock, 300);
    before = e.fake.nsent;
    run_cycle(&e);
    assert_int_equal(count_sent(&e, "startTime=2026-08-20T16%3A00%3A00Z"
                                    "&endTime=2026-08-20T16%3A05%3A00Z",
                                before), 1);
    env_free(&e);
}

static void test_intervals(void **state)
{
    struct senv e;
    env_init(&e);
    env_start(&e);
    start_up(&e);
    /* Started on the 5-minute mark: volume again 5 seconds later, on its
     * grid (test_volume_polls_on_the_minute). */
    clock_fake_advance(e.clock, WS_VOLUME_PHASE_S);
    size_t mark = e.fake.nsent;
    run_cycle(&e);
    assert_int_equal(count_sent(&e, "/events/volume?", mark), 1);
    assert_int_equal(count_sent(&e, "/delivery-metrics?", mark), 0);
    mark = e.fake.nsent;

    /* Before an interval has passed nothing is polled again. */
    clock_fake_advance(e.clock, 299 - WS_VOLUME_PHASE_S);
    assert_false(run_cycle(&e));
    assert_int_equal(e.fake.nsent, mark);

    /* After 5 minutes: delivery again, not usage (6 h); event volume 5
     * seconds past the 5-minute mark, when its last bucket may be read. */
    clock_fake_advance(e.clock, 1);
    assert_true(run_cycle(&e));
    assert_int_equal(count_sent(&e, "/delivery-metrics?", mark), 1);
    assert_int_equal(count_sent(&e, "/events/volume?", mark), 0);
    clock_fake_advance(e.clock, WS_VOLUME_PHASE_S);
    run_cycle(&e);
    assert_int_equal(count_sent(&e, "/events/volume?", mark), 1);
    assert_int_equal(count_sent(&e, "/usage/", mark), 0);
    assert_int_equal(count_sent(&e, "granularity=HOUR", mark), 0); /* once */

    /* Usage after 6 hours; discovery after 30 minutes. */
    mark = e.fake.nsent;
    clock_fake_advance(e.clock, 21600);
    run_cycle(&e);
    assert_int_equal(count_sent(&e, "/usage/mtu/daily?", mark), 1);
    assert_int_equal(count_sent(&e, "/sources?", mark), 1);
    env_free(&e);
}

/* The last poll of the first connection. */
static double first_conn_last_polled(const struct senv *e)
{
    struct poll_connection *conns;
    size_t n = poller_connections(e->sched.poller, &conns);
    assert_true(n > 0);
    return conns[0].last_polled;
}

/* The wall clock set back a day while running: with the schedule's and
 * the poller's times moved by the step (ws_schedule_shift_times), the next
 * delivery poll comes when it was due, not a day later; ages stay. */
static void test_clock_step_back(void **state)
{
    struct senv e;
    env_init(&e);
    env_start(&e);
    start_up(&e);
    double polled = first_conn_last_polled(&e);
    clock_fake_set_wall(e.clock, now(&e) - 86400);
    ws_schedule_shift_times(&e.sched, -86400);
    assert_true(first_conn_last_polled(&e) == polled - 86400);
    assert_true(poller_health(e.sched.poller)->last_ok[POLL_DELIVERY] <=
                now(&e));
    size_t mark = e.fake.nsent;
    clock_fake_advance(e.clock, 299);
    run_cycle(&e);
    assert_int_equal(count_sent(&e, "/delivery-metrics?", mark), 0);
    clock_fake_advance(e.clock, 1);
    run_cycle(&e);
    assert_int_equal(count_sent(&e, "/delivery-metrics?", mark), 1);
    env_free(&e);
}

/* Minute volume polls fall just after each whole minute, whenever the
 * daemon started: the minute that ended a minute before is then read at
 * once (a poll at hh:mm:59 would leave it for almost another minute). */
static void test_volume_polls_on_the_minute(void **state)
{
    (void)state;
    struct senv e;
    env_init(&e);
    e.ws.volume_interval_s = 60;
    clock_fake_advance(e.clock, 37);         /* started at 16:00:37 */
    env_start(&e);
    start_up(&e);
    double last = 0;
    for (int i = 0; i < 5; i++) {
        size_t mark = e.fake.nsent;
        double t0 = now(&e);
        /* step a second at a time until the next volume request */
        while (count_sent(&e, "/events/volume?", mark) == 0) {
            clock_fake_advance(e.clock, 1);
            run_cycle(&e);
            assert_true(now(&e) - t0 <= 61);
        }
        double t = now(&e);
        double phase = fmod(t, 60);
        assert_true(phase >= WS_VOLUME_PHASE_S && phase < WS_VOLUME_PHASE_S + 1.5);
        if (last > 0)
            assert_true(fabs(t - last - 60) < 1.5);
        last = t;
        /* the request reads through the minute that ended a minute ago */
        char want[64];
        char iso[32];
        time_t end = (time_t)(floor(t / 60) * 60 - 60);
        strftime(iso, sizeof(iso), "%Y-%m-%dT%H%%3A%M%%3A%SZ", gmtime(&end));
        snprintf(want, sizeof(want), "endTime=%s", iso);
        assert_true(count_sent(&e, want, mark) == 1);
    }
    env_free(&e);
}

/* A sweep still running when its interval comes round is not doubled. */
static void test_no_overlap(void **state)
{
    struct senv e;
    env_init(&e);
    env_start(&e);
    start_up(&e);
    clock_fake_advance(e.clock, 300);
    size_t mark = e.fake.nsent;
    ws_schedule_tick(&e.sched, now(&e), &e.needs);
    poller_tick(e.sched.poller);
    assert_int_equal(count_sent(&e, "/delivery-metrics?", mark), 1);
    /* The delivery poll hangs past the next interval: it is not sent
     * again, and it does not hold up event volume (its sweep ends with
     * its own calls). */
    serve_matching(&e, "/events/volume");
    assert_true(ws_schedule_note_sweeps(&e.sched, now(&e)));
    assert_false(e.sched.running[POLL_VOLUME]);
    assert_true(e.sched.running[POLL_DELIVERY]);
    clock_fake_advance(e.clock, 600);
    size_t mark_v = e.fake.nsent;
    ws_schedule_tick(&e.sched, now(&e), &e.needs);
    poller_tick(e.sched.poller);
    assert_int_equal(count_sent(&e, "/delivery-metrics?", mark), 1);
    assert_int_equal(count_sent(&e, "/events/volume?", mark_v), 1);
    assert_true(e.sched.running[POLL_DELIVERY]);
    answer_all(&e);
    assert_true(ws_schedule_note_sweeps(&e.sched, now(&e)));
    assert_false(e.sched.running[POLL_DELIVERY]);
    env_free(&e);
}

/* Three enabled connections, one request at a time: the one with an
 * active alert goes first. */
static const char three_destinations[] =
    "{\"data\":{\"destinations\":["
    "{\"id\":\"d1\",\"name\":\"One\",\"enabled\":true,\"sourceId\":\"" WEB_ID "\","
    "\"metadata\":{\"id\":\"m1\",\"slug\":\"one\"}},"
    "{\"id\":\"d2\",\"name\":\"Two\",\"enabled\":true,\"sourceId\":\"" WEB_ID "\","
    "\"metadata\":{\"id\":\"m2\",\"slug\":\"two\"}},"
    "{\"id\":\"d3\",\"name\":\"Three\",\"enabled\":true,\"sourceId\":\"" WEB_ID "\","
    "\"metadata\":{\"id\":\"m3\",\"slug\":\"three\"}}],"
    "\"pagination\":{\"current\":\"MA==\",\"totalEntries\":3}}}";

static size_t first_delivery_index(const struct senv *e, size_t from)
{
    for (size_t i = from; i < e->fake.nsent; i++)
        if (strstr(e->fake.sent[i].url, "/delivery-metrics?"))
            return i;
    return (size_t)-1;
}

static void test_active_connections_first(void **state)
{
    struct senv e;
    env_init(&e);
    e.ws.max_concurrency = 1;
    e.api.destinations_body = three_destinations;
    env_start(&e);
    start_up(&e);
    size_t i = first_delivery_index(&e, 0);
    assert_non_null(strstr(fake_url(&e.fake, i), "/destinations/d1/"));

    e.active_dest = "d3";
    clock_fake_advance(e.clock, 300);
    size_t mark = e.fake.nsent;
    run_cycle(&e);
    i = first_delivery_index(&e, mark);
    assert_non_null(strstr(fake_url(&e.fake, i), "/destinations/d3/"));
    assert_int_equal(count_sent(&e, "/delivery-metrics?", mark), 3);

    /* The alert is gone: so is the priority. */
    e.active_dest = NULL;
    clock_fake_advance(e.clock, 300);
    mark = e.fake.nsent;
    run_cycle(&e);
    i = first_delivery_index(&e, mark);
    assert_non_null(strstr(fake_url(&e.fake, i), "/destinations/d1/"));
    env_free(&e);
}

static void test_refused_token(void **state)
{
    struct senv e;
    env_init(&e);
    e.api.fail_path = "/sources";
    e.api.fail_status = 401;
    env_start(&e);
    double t0 = now(&e);
    run_cycle(&e);
    assert_true(poller_health(e.sched.poller)->unauthorized);
    assert_int_equal(ws_schedule_health(&e.sched, now(&e), t0),
                     WS_HEALTH_DOWN);
    assert_true(e.sched.down);
    assert_non_null(strstr(e.sched.down_reason, "401"));
    assert_int_equal(ws_schedule_health(&e.sched, now(&e), t0),
                     WS_HEALTH_SAME);

    /* Retried at the poll interval, not in a loop and not after 30 min. */
    size_t mark = e.fake.nsent;
    clock_fake_advance(e.clock, 200);
    run_cycle(&e);
    assert_int_equal(e.fake.nsent, mark);
    clock_fake_advance(e.clock, 100);
    e.api.fail_path = NULL;             /* the token is fixed */
    run_cycle(&e);
    assert_int_equal(count_sent(&e, "/sources?", mark), 1);
    assert_false(poller_health(e.sched.poller)->unauthorized);
    assert_int_equal(ws_schedule_health(&e.sched, now(&e), t0), WS_HEALTH_UP);
    assert_false(e.sched.down);
    env_free(&e);
}

/* 5xx for longer than the grace period (max(3 poll intervals, 10 min))
 * takes the workspace down; a success brings it back. */
static void test_failing_requests(void **state)
{
    struct senv e;
    env_init(&e);
    env_start(&e);
    double t0 = now(&e);
    start_up(&e);
    assert_int_equal(ws_schedule_health(&e.sched, now(&e), t0),
                     WS_HEALTH_SAME);
    e.api.fail_path = "/delivery-metrics";
    e.api.fail_status = 503;
    /* From now on every request fails; each minute the retries back off
     * on the clock and give up.  The grace counts from the last success. */
    e.api.fail_path = "/";
    double first_fail = now(&e);
    enum ws_health_change h = WS_HEALTH_SAME;
    while (h == WS_HEALTH_SAME && now(&e) - first_fail < 3600) {
        clock_fake_advance(e.clock, 60);
        run_cycle(&e);
        h = ws_schedule_health(&e.sched, now(&e), t0);
    }
    assert_int_equal(h, WS_HEALTH_DOWN);
    /* not before the grace: max(3 x 300 s, 600 s) after the last success */
    assert_true(now(&e) - first_fail > 900);
    assert_true(now(&e) - first_fail <= 900 + 300 + 60);
    assert_non_null(strstr(e.sched.down_reason, "503"));
    e.api.fail_path = NULL;
    for (int i = 0; i < 10 && h != WS_HEALTH_UP; i++) {
        clock_fake_advance(e.clock, 60);
        run_cycle(&e);
        h = ws_schedule_health(&e.sched, now(&e), t0);
    }
    assert_int_equal(h, WS_HEALTH_UP);
    env_free(&e);
}

static void test_rate_sampling(void **state)
{
    struct senv e;
    env_init(&e);
    env_start(&e);
    assert_true(ws_schedule_rate_last_minute(&e.sched, now(&e)) == 0);
    ws_schedule_sample_rate(&e.sched, now(&e));
    start_up(&e);
    size_t sent = e.fake.nsent;
    clock_fake_advance(e.clock, 30);
    ws_schedule_sample_rate(&e.sched, now(&e));
    /* sent requests over 30 s, as a per-minute rate */
    double r = ws_schedule_rate_last_minute(&e.sched, now(&e));
    assert_true(fabs(r - (double)sent * 2) < 1e-9);
    /* samples closer than WS_RATE_SAMPLE_S are not taken */
    clock_fake_advance(e.clock, 1);
    ws_schedule_sample_rate(&e.sched, now(&e));
    assert_true(fabs(ws_schedule_rate_last_minute(&e.sched, now(&e)) - r) <
                1e-9);
    env_free(&e);
}

static void test_carry_over(void **state)
{
    struct senv e;
    env_init(&e);
    env_start(&e);
    start_up(&e);
    e.sched.down = true;
    e.sched.down_since = T0;
    snprintf(e.sched.down_reason, sizeof(e.sched.down_reason), "boom");

    struct ws_schedule next;
    struct http_transport t = fake_transport_of(&e.fake);
    struct sample_sink sink = { on_sample, &e };
    ws_schedule_init(&next, &e.ws,
                     poller_new_transport(&e.ws, &t, e.clock, &sink), now(&e));
    ws_schedule_carry_over(&next, &e.sched);
    assert_true(next.backfilled);
    assert_true(next.volume_done_to == e.sched.volume_done_to);
    assert_true(next.down);
    assert_string_equal(next.down_reason, "boom");
    assert_false(next.polled_once);     /* a new poller polls afresh */
    ws_schedule_free(&next);
    env_free(&e);
}

/* Coverage: a family refused with 403, a family gone stale, and a budget
 * too small for the connections each make it blind; recovery clears it. */
static void test_coverage(void **state)
{
    struct senv e;
    env_init(&e);
    e.ws.volume_interval_s = 60;
    e.ws.usage_interval_s = 3600;
    e.api.fail_path = "/usage/mtu/daily";
    e.api.fail_status = 403;
    env_start(&e);
    double t0 = now(&e);
    start_up(&e);
    unsigned changed = ws_schedule_coverage(&e.sched, now(&e), t0);
    assert_int_equal(changed, 1u << POLL_USAGE);
    assert_true(e.sched.coverage[POLL_USAGE].blind);
    assert_string_equal(e.sched.coverage[POLL_USAGE].endpoint, "usage_mtu");
    assert_non_null(strstr(e.sched.coverage[POLL_USAGE].reason, "(403)"));
    assert_false(e.sched.coverage[POLL_DELIVERY].blind);
    assert_false(e.sched.coverage[POLL_VOLUME].blind);
    assert_int_equal(ws_schedule_coverage(&e.sched, now(&e), t0), 0);

    /* Volume stops answering: blind after 3 intervals, not before. */
    e.api.fail_path = "/events/volume";
    e.api.fail_status = 500;
    double stop = now(&e);
    unsigned got = 0;
    while (!(got & (1u << POLL_VOLUME)) && now(&e) - stop < 600) {
        clock_fake_advance(e.clock, 30);
        run_cycle(&e);
        got |= ws_schedule_coverage(&e.sched, now(&e), t0);
    }
    assert_true(e.sched.coverage[POLL_VOLUME].blind);
    assert_true(now(&e) - stop > 3 * 60);
    assert_non_null(strstr(e.sched.coverage[POLL_VOLUME].reason,
                           "no source data for"));
    /* Everything answers: volume is fresh again at its next poll, usage
     * (its 403 cleared by a success) at the next usage poll. */
    e.api.fail_path = NULL;
    clock_fake_advance(e.clock, 60);
    run_cycle(&e);
    assert_int_equal(ws_schedule_coverage(&e.sched, now(&e), t0),
                     1u << POLL_VOLUME);
    assert_false(e.sched.coverage[POLL_VOLUME].blind);
    assert_true(e.sched.coverage[POLL_USAGE].blind);
    clock_fake_advance(e.clock, 3600);
    run_cycle(&e);
    ws_schedule_coverage(&e.sched, now(&e), t0);
    assert_false(e.sched.coverage[POLL_USAGE].blind);

    /* A budget of 1/min cannot read the connection every 5 minutes with
     * volume every minute: delivery coverage is blind at once. */
    e.ws.request_budget = 1;
    ws_schedule_free(&e.sched);
    env_start(&e);
    double t1 = now(&e);                    /* as if the daemon restarted */
    for (int i = 0; i < 20 && !poller_health(e.sched.poller)->discovered;
         i++) {
        run_cycle(&e);
        clock_fake_advance(e.clock, 30);    /* the bucket refills slowly */
    }
    struct ws_budget b;
    ws_schedule_budget(&e.sched, &b);
    assert_true(b.needed_per_min > b.budget_per_min);
    ws_schedule_coverage(&e.sched, now(&e), t1);
    assert_true(e.sched.coverage[POLL_DELIVERY].blind);
    assert_non_null(strstr(e.sched.coverage[POLL_DELIVERY].reason,
                           "request_budget 1/min cannot read 1 connections"));
    env_free(&e);
}

/* One connection stops answering (404 on its delivery metrics) while the
 * others answer: delivery coverage goes blind when it was last read more
 * than 3 poll intervals ago, exactly then (the check remembers the oldest
 * connection between loop passes but never misses it), and fresh again
 * once it is read. */
static void test_coverage_stale_connection(void **state)
{
    struct senv e;
    env_init(&e);
    e.ws.volume_interval_s = 60;
    e.api.destinations_body = three_destinations;
    env_start(&e);
    double t0 = now(&e);
    start_up(&e);
    assert_int_equal(ws_schedule_coverage(&e.sched, now(&e), t0), 0);

    e.api.fail_path = "/destinations/d2/";
    e.api.fail_status = 404;
    double limit = WS_COVERAGE_STALE_FACTOR * e.ws.poll_interval_s;
    bool went_blind = false;
    for (int step = 0; step < 200; step++) {
        clock_fake_advance(e.clock, 10);
        run_cycle(&e);
        ws_schedule_coverage(&e.sched, now(&e), t0);
        double oldest = ws_schedule_oldest_connection(&e.sched, now(&e), t0);
        bool blind = e.sched.coverage[POLL_DELIVERY].blind;
        if (blind != (oldest > limit))
            fail_msg("step %d: oldest %.0f s, limit %.0f s, blind %d", step,
                     oldest, limit, blind);
        if (blind) {
            went_blind = true;
            assert_non_null(strstr(e.sched.coverage[POLL_DELIVERY].reason,
                                   "a connection was last read"));
            break;
        }
    }
    assert_true(went_blind);

    e.api.fail_path = NULL;
    for (int step = 0; step < 60 && e.sched.coverage[POLL_DELIVERY].blind;
         step++) {
        clock_fake_advance(e.clock, 10);
        run_cycle(&e);
        ws_schedule_coverage(&e.sched, now(&e), t0);
    }
    assert_false(e.sched.coverage[POLL_DELIVERY].blind);
    assert_true(ws_schedule_oldest_connection(&e.sched, now(&e), t0) <= limit);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_cycle),
        cmocka_unit_test(test_intervals),
        cmocka_unit_test(test_clock_step_back),
        cmocka_unit_test(test_volume_polls_on_the_minute),
        cmocka_unit_test(test_no_overlap),
        cmocka_unit_test(test_active_connections_first),
        cmocka_unit_test(test_refused_token),
        cmocka_unit_test(test_failing_requests),
        cmocka_unit_test(test_rate_sampling),
        cmocka_unit_test(test_carry_over),
        cmocka_unit_test(test_coverage_stale_connection),
        cmocka_unit_test(test_coverage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
