/*
 * test_segment.c - the Segment API client (api/segment.h) on a fake clock
 * and a fake transport (fake_transport.h): the request budget, concurrency
 * and priorities, 429 handling (msBeforeNext, X-RateLimit-Reset, back-off
 * with jitter, the pause, the lowered and recovering budget, each per rate
 * class: /events/volume apart from the rest, within one workspace budget),
 * retries of 5xx / timeouts / unusable bodies, 401 (workspace-wide), 403
 * (that call only), 404, 422, pagination (repeating cursors), and that the
 * token never leaks into a message or a log line.
 *
 * Nothing here sleeps: time moves only when a test moves the fake clock,
 * usually by exactly what seg_client_tick() asked for, as the daemon's loop
 * does.
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

#include <curl/curl.h>

#include "api/segment.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "fake_transport.h"

#define T0 1787241600.0         /* 2026-08-20T16:00:00Z, a Thursday */
#define TOKEN "tok-SECRET-5f1d9c"
#define BASE "https://api.test"
#define EPS 1e-6

/* A 429 whose error body asks for a 1 s wait. */
static const char body_429_1s[] =
    "{\"errors\":[{\"type\":\"RequestError\",\"message\":\"Too many "
    "requests\",\"data\":{\"remainingPoints\":0,\"msBeforeNext\":1000,"
    "\"consumedPoints\":61}}]}";

/* ---- harness ------------------------------------------------------------ */

struct env {
    struct clock *clock;
    struct fake_transport fake;
    struct seg_client *c;
};

static struct seg_client_opts opts_default(void)
{
    struct seg_client_opts o = {
        .workspace = "prod",
        .base_url = BASE "/",
        .token = TOKEN,
        .request_budget = 0,        /* unlimited unless a test sets one */
        .max_concurrency = 1,
        .rng_seed = 7,
    };
    return o;
}

static void env_init(struct env *e, struct seg_client_opts o)
{
    memset(e, 0, sizeof(*e));
    e->clock = clock_fake_new(T0);
    e->fake.clock = e->clock;
    o.clock = e->clock;
    struct http_transport t = fake_transport_of(&e->fake);
    e->c = seg_client_new(&o, &t);
}

static void env_free(struct env *e)
{
    /* The client may be freed only when nothing is in flight. */
    while (e->fake.npending)
        fake_reply_with(&e->fake, 0, 200, "{}");
    seg_client_free(e->c);
    fake_free(&e->fake);
    clock_free(e->clock);
}

static double tick(struct env *e)
{
    return seg_client_tick(e->c);
}

static void advance(struct env *e, double s)
{
    clock_fake_advance(e->clock, s);
}

/* Move just past a wait the client asked for (now + w is not always
 * exactly the deadline it computed, in floating point). */
static void advance_past(struct env *e, double w)
{
    clock_fake_advance(e->clock, w + EPS);
}

static struct seg_client_stats stats(const struct env *e)
{
    struct seg_client_stats st;
    seg_client_stats(e->c, &st);
    return st;
}

/* One seg_call: what its page and done callbacks saw. */
struct call {
    int ndone;
    enum seg_status st;
    char msg[1024];
    int npages;
    const char *next;           /* cursor handed back for every page */
    bool number_next;           /* ...with the page number appended */
    const char *const *nexts;   /* or these, one per page (NULL ends) */
};

static int page_cb(void *ud, const char *body, size_t len, char **next,
                   char *err, size_t errlen)
{
    struct call *k = ud;
    k->npages++;
    if (len == 0 || body[0] != '{') {
        snprintf(err, errlen, "not a JSON object");
        return -1;
    }
    if (k->nexts) {
        const char *n = k->nexts[k->npages - 1];
        *next = n ? xstrdup(n) : NULL;
    } else if (k->next && k->number_next) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s%d", k->next, k->npages);
        *next = xstrdup(buf);
    } else {
        *next = k->next ? xstrdup(k->next) : NULL;
    }
    return 0;
}

static void done_cb(void *ud, enum seg_status st, const char *msg)
{
    struct call *k = ud;
    k->ndone++;
    k->st = st;
    snprintf(k->msg, sizeof(k->msg), "%s", msg);
}

static void call_ep(struct env *e, struct call *k, enum seg_endpoint ep,
                    const char *path, bool paged, int priority)
{
    seg_call(e->c, ep, path, paged, priority, page_cb, done_cb, k);
}

static void call(struct env *e, struct call *k, const char *path, int priority)
{
    call_ep(e, k, SEGEP_SOURCES, path, false, priority);
}

/* Tick, then move the clock by what the client asked for (at least a
 * microsecond) until nsent requests were submitted or max_s of fake time
 * have passed.  Pending requests are left alone. */
static void wait_for_sent(struct env *e, size_t nsent, double max_s)
{
    double end = clock_mono(e->clock) + max_s;
    while (e->fake.nsent < nsent && clock_mono(e->clock) < end) {
        double w = tick(e);
        if (e->fake.nsent >= nsent)
            break;
        advance(e, fmax(w, EPS));
    }
}

/* A call that ended once, with st and a message containing needle. */
static void assert_done(const struct call *k, enum seg_status st,
                        const char *needle)
{
    assert_int_equal(k->ndone, 1);
    assert_int_equal(k->st, st);
    if (!strstr(k->msg, needle))
        fail_msg("'%s' not in '%s'", needle, k->msg);
}

/* Nothing more goes out, however long one waits: no hidden retry. */
static void assert_no_more_requests(struct env *e)
{
    size_t n = e->fake.nsent;
    clock_fake_advance(e->clock, 3600);
    seg_client_tick(e->c);
    assert_int_equal(e->fake.nsent, n);
}

static void assert_between(double v, double lo, double hi)
{
    if (!(v >= lo - EPS && v <= hi + EPS))
        fail_msg("%.6f not in [%.6f, %.6f]", v, lo, hi);
}

/* ---- budget, concurrency, priorities ------------------------------------ */

/* Run the client for sim_s seconds of fake time, completing every request
 * at once, moving the clock by exactly what tick() asks for. */
static void run_instant(struct env *e, double sim_s, int max_concurrency)
{
    double end = clock_mono(e->clock) + sim_s;
    int guard = 0;
    while (clock_mono(e->clock) < end && guard++ < 200000) {
        double w = tick(e);
        assert_true(e->fake.npending <= (size_t)max_concurrency);
        if (e->fake.npending) {
            while (e->fake.npending)
                fake_reply_with(&e->fake, 0, 200, "{}");
            continue;
        }
        advance(e, fmin(fmax(w, EPS), end - clock_mono(e->clock) + EPS));
    }
}

/* Most requests that started within any closed 60 s window. */
static size_t max_per_minute(const struct fake_transport *f)
{
    size_t best = 0;
    for (size_t i = 0; i < f->nsent; i++) {
        size_t n = 0;
        for (size_t j = i; j < f->nsent && f->sent[j].mono <=
                 f->sent[i].mono + 60 + EPS; j++)
            n++;
        if (n > best)
            best = n;
    }
    return best;
}

/* Most requests whose URL contains needle (all when NULL) that started
 * within any closed 60 s window. */
static size_t max_per_minute_of(const struct fake_transport *f,
                                const char *needle)
{
    size_t best = 0;
    for (size_t i = 0; i < f->nsent; i++) {
        if (needle && !strstr(f->sent[i].url, needle))
            continue;
        size_t n = 0;
        for (size_t j = i; j < f->nsent && f->sent[j].mono <=
                 f->sent[i].mono + 60 + EPS; j++)
            n += !needle || strstr(f->sent[j].url, needle) != NULL;
        if (n > best)
            best = n;
    }
    return best;
}

static void test_budget_caps_every_minute(void **state)
{
    (void)state;
    const double B = 30;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.request_budget = B;
    o.max_concurrency = 4;
    env_init(&e, o);
    enum { N = 400 };
    struct call *k = xcalloc(N, sizeof(*k));
    for (int i = 0; i < N; i++)
        call(&e, &k[i], "/sources", 0);

    run_instant(&e, 600, 4);

    /* No 60 s window holds more than the budget... */
    assert_true(max_per_minute(&e.fake) <= (size_t)B);
    /* ...though the budget is not paced out: the first B requests go at
     * once (as fast as the concurrency lets them; here the replies are
     * instant), the next ones when the first leave the window, a minute
     * and SEG_BUDGET_GUARD_S later. */
    for (size_t i = 0; i < (size_t)B; i++)
        assert_between(e.fake.sent[i].mono, 0, 0);
    assert_between(e.fake.sent[(size_t)B].mono,
                   SEG_BUDGET_WINDOW_S + SEG_BUDGET_GUARD_S,
                   SEG_BUDGET_WINDOW_S + SEG_BUDGET_GUARD_S + 1e-3);
    /* The steady rate is close to the budget: 10 minutes, ~10 x B. */
    assert_true(e.fake.nsent >= (size_t)(0.95 * B * 10));
    assert_true(e.fake.nsent <= (size_t)(B * 10) + 1);
    for (size_t i = 0; i < e.fake.nsent; i++)
        assert_int_equal(k[i].st, SEG_OK);
    env_free(&e);
    free(k);
}

static void test_concurrency_never_exceeded(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.request_budget = 600;
    o.max_concurrency = 3;
    env_init(&e, o);
    enum { N = 40 };
    struct call k[N] = { 0 };
    for (int i = 0; i < N; i++)
        call(&e, &k[i], "/sources", 0);
    /* Every request takes 2 s; the clock moves in 0.1 s steps. */
    int guard = 0;
    while (!seg_client_idle(e.c) && guard++ < 100000) {
        tick(&e);
        assert_true(e.fake.npending <= 3);
        assert_int_equal(seg_client_in_flight(e.c), (int)e.fake.npending);
        while (e.fake.npending &&
               e.fake.sent[e.fake.nsent - e.fake.npending].mono + 2 <=
                   clock_mono(e.clock) + EPS)
            fake_reply_with(&e.fake, 0, 200, "{}");
        advance(&e, 0.1);
    }
    assert_true(seg_client_idle(e.c));
    assert_int_equal(e.fake.max_pending, 3);
    assert_int_equal(e.fake.nsent, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(k[i].ndone, 1);
        assert_int_equal(k[i].st, SEG_OK);
    }
    env_free(&e);
}

static void test_priority_then_fifo(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, opts_default());
    static const struct { const char *path; int prio; } calls[] = {
        { "/a", 0 }, { "/b", 5 }, { "/c", 1 }, { "/d", 5 }, { "/e", 0 },
        { "/f", 1 },
    };
    static const char *const expect[] = { "/b", "/d", "/c", "/f", "/a", "/e" };
    struct call k[ARRAY_SIZE(calls)] = { 0 };
    for (size_t i = 0; i < ARRAY_SIZE(calls); i++)
        call(&e, &k[i], calls[i].path, calls[i].prio);
    for (size_t i = 0; i < ARRAY_SIZE(expect); i++) {
        tick(&e);
        assert_int_equal(e.fake.npending, 1);
        char want[64];
        snprintf(want, sizeof(want), BASE "%s", expect[i]);
        assert_string_equal(fake_url(&e.fake, i), want);
        fake_reply_with(&e.fake, 0, 200, "{}");
    }
    assert_true(seg_client_idle(e.c));
    env_free(&e);
}

/* ---- the budget under sustained, bursty demand ---------------------------
 *
 * A small world on the fake clock: calls arrive in bursts (1 to 300, or
 * to half the budget, at a time, every 0 to 20 s: more than the budget),
 * each request takes its own latency (10 ms to 1 s), and some are
 * answered 5xx (retried after a back-off) or 429 (the class pauses and
 * slows down).  The clock moves to the next thing that happens: what
 * tick() asked for, a reply, a burst. */

struct world {
    struct env e;
    struct rng rng;
    double *due;                /* completion time of each pending request,
                                   in the fake transport's order */
    size_t ndue, due_cap;
    struct call *calls;
    size_t ncalls, calls_cap;
    double next_burst;
    double burst_max;           /* calls in a burst: 1 .. this */
    double share_5xx, share_429;
    int max_in_flight;
};

static void world_burst(struct world *w)
{
    size_t n = 1 + (size_t)(rng_uniform(&w->rng) * w->burst_max);
    if (w->ncalls + n > w->calls_cap)
        n = w->calls_cap - w->ncalls;
    for (size_t i = 0; i < n; i++) {
        struct call *k = &w->calls[w->ncalls++];
        double u = rng_uniform(&w->rng);
        if (u < 0.1)
            call_ep(&w->e, k, SEGEP_EVENTS_VOLUME, "/events/volume", false, 5);
        else if (u < 0.2)
            call_ep(&w->e, k, SEGEP_USAGE_MTU, "/usage/mtu/daily", false, 1);
        else
            call_ep(&w->e, k, SEGEP_DELIVERY_METRICS,
                    "/destinations/x/delivery-metrics", false, 0);
    }
    w->next_burst = clock_mono(w->e.clock) + rng_uniform(&w->rng) * 20;
}

static void world_reply(struct world *w, size_t i)
{
    memmove(&w->due[i], &w->due[i + 1], (w->ndue - i - 1) * sizeof(*w->due));
    w->ndue--;
    double u = rng_uniform(&w->rng);
    if (u < w->share_429)
        fake_reply_with(&w->e.fake, i, 429, body_429_1s);
    else if (u < w->share_429 + w->share_5xx)
        fake_reply_with(&w->e.fake, i, 503, "unavailable");
    else
        fake_reply_with(&w->e.fake, i, 200, "{}");
}

static void world_run(struct world *w, double sim_s)
{
    struct env *e = &w->e;
    double end = clock_mono(e->clock) + sim_s;
    w->next_burst = clock_mono(e->clock);
    for (int guard = 0; guard < 2000000; guard++) {
        double now = clock_mono(e->clock);
        if (now >= end)
            return;
        if (now >= w->next_burst)
            world_burst(w);
        double wait = tick(e);
        if (seg_client_in_flight(e->c) > w->max_in_flight)
            w->max_in_flight = seg_client_in_flight(e->c);
        /* Requests submitted by this tick: give each its latency. */
        while (w->ndue < e->fake.npending) {
            XGROW(w->due, w->ndue + 1, w->due_cap);
            w->due[w->ndue++] = now + 0.01 + rng_uniform(&w->rng);
        }
        double next = fmin(now + fmax(wait, EPS), w->next_burst);
        for (size_t i = 0; i < w->ndue; i++)
            next = fmin(next, w->due[i]);
        next = fmin(next, end);
        if (next > now)
            advance(e, next - now);
        now = clock_mono(e->clock);
        for (size_t i = 0; i < w->ndue;) {
            if (w->due[i] <= now + EPS)
                world_reply(w, i);
            else
                i++;
        }
    }
    fail_msg("the world never got to its end");
}

static void world_init(struct world *w, double budget, int concurrency,
                       uint64_t seed)
{
    memset(w, 0, sizeof(*w));
    struct seg_client_opts o = opts_default();
    o.request_budget = budget;
    o.max_concurrency = concurrency;
    o.rng_seed = seed;
    o.max_attempts = 100;
    o.max_ratelimit_waits = 100;
    env_init(&w->e, o);
    rng_seed(&w->rng, seed);
    w->burst_max = fmax(300, budget / 2);
    w->calls_cap = 200000;
    w->calls = xcalloc(w->calls_cap, sizeof(*w->calls));
}

static void world_free(struct world *w)
{
    env_free(&w->e);        /* cancels what is queued */
    free(w->calls);
    free(w->due);
}

/* Most requests (whose URL contains needle, or all) that started within
 * any closed window of window_s seconds; the sends are in time order. */
static size_t max_in_window(const struct fake_transport *f,
                            const char *needle, double window_s)
{
    size_t best = 0, lo = 0, n = 0;
    for (size_t hi = 0; hi < f->nsent; hi++) {
        if (needle && !strstr(f->sent[hi].url, needle))
            continue;
        n++;
        while (f->sent[lo].mono < f->sent[hi].mono - window_s - EPS) {
            if (!needle || strstr(f->sent[lo].url, needle))
                n--;
            lo++;
        }
        if (n > best)
            best = n;
    }
    return best;
}

/* The guarantee of segment.h: whatever the demand, bursts, latencies,
 * retries and 429s, no 60 s window (closed: [t, t + 60]) ever holds more
 * than request_budget requests, nor more than 60 of /events/volume; and
 * with nothing refused, the whole budget is used and the first requests go
 * out at once, max_concurrency of them. */
static void test_budget_exact_under_bursts(void **state)
{
    (void)state;
    static const struct { double budget; int concurrency; } cases[] = {
        { 7, 4 }, { 30, 64 }, { 59.5, 64 }, { 120, 64 }, { 600, 64 },
        { 600, 16 }, { 3000, 64 },
    };
    for (size_t ci = 0; ci < ARRAY_SIZE(cases); ci++) {
        for (int faults = 0; faults < 2; faults++) {
            const double B = cases[ci].budget;
            const int C = cases[ci].concurrency;
            struct world w;
            world_init(&w, B, C, 1000 + ci * 2 + (uint64_t)faults);
            if (faults) {
                w.share_5xx = 0.05;
                w.share_429 = B < 100 ? 0.05 : 0.01;
            }
            const double minutes = 20;
            world_run(&w, minutes * 60);
            const struct fake_transport *f = &w.e.fake;
            size_t total = max_in_window(f, NULL, 60);
            size_t vol = max_in_window(f, "/events/volume", 60);
            size_t cap = (size_t)floor(B);
            if (total > cap || vol > (size_t)fmin(cap, 60))
                fail_msg("budget %.1f, concurrency %d%s: %zu requests "
                         "(%zu of volume) in one 60 s window", B, C,
                         faults ? ", with faults" : "", total, vol);
            assert_true(w.max_in_flight <= C);
            if (faults) {
                /* (the faults did happen) */
                assert_true(stats(&w.e).rate_limited > 0);
                assert_true(stats(&w.e).retries > 0);
                world_free(&w);
                continue;
            }
            /* Demand always exceeded the budget: every window of
             * 60 s + the guard was full, so each such stretch of the run
             * carried floor(B) requests (less the last, partial one). */
            double span = SEG_BUDGET_WINDOW_S + SEG_BUDGET_GUARD_S;
            size_t windows = (size_t)floor(minutes * 60 / span);
            if (f->nsent < windows * cap)
                fail_msg("budget %.1f, concurrency %d: only %zu requests in "
                         "%.0f minutes", B, C, f->nsent, minutes);
            /* A burst at the start: as many as fit in flight, at once. */
            size_t at_once = 0;
            while (at_once < f->nsent && f->sent[at_once].mono == 0)
                at_once++;
            size_t want = (size_t)C < cap ? (size_t)C : cap;
            if (at_once < want && at_once < w.ncalls)
                fail_msg("budget %.1f, concurrency %d: %zu at once at the "
                         "start", B, C, at_once);
            world_free(&w);
        }
    }
}

/* Below one request a minute the budget is one request per 60/budget s. */
static void test_budget_below_one_per_minute(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.request_budget = 0.5;
    o.max_concurrency = 4;
    env_init(&e, o);
    struct call k[6] = { 0 };
    for (size_t i = 0; i < ARRAY_SIZE(k); i++)
        call(&e, &k[i], "/sources", 0);
    run_instant(&e, 600, 4);
    assert_int_equal(e.fake.nsent, 5);
    for (size_t i = 1; i < e.fake.nsent; i++)
        assert_true(e.fake.sent[i].mono - e.fake.sent[i - 1].mono >=
                    120 - EPS);
    env_free(&e);
}

/* Many calls at many priorities, some of them retried: they start by
 * priority, then in the order they were queued, with retries rejoining
 * at their place once their back-off is over. */
static void test_queue_order_at_scale(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.max_concurrency = 1;
    o.max_attempts = 3;
    env_init(&e, o);
    enum { N = 3000 };
    struct call *k = xcalloc(N, sizeof(*k));
    int *prio = xcalloc(N, sizeof(*prio));
    char path[32];
    struct rng r;
    rng_seed(&r, 99);
    for (int i = 0; i < N; i++) {
        prio[i] = (int)(rng_uniform(&r) * 7) - 1;
        snprintf(path, sizeof(path), "/c%d", i);
        call(&e, &k[i], path, prio[i]);
    }
    /* One at a time: each must be the best (priority, then queue order)
     * of those not started yet. */
    bool *started = xcalloc(N, sizeof(*started));
    for (int n = 0; n < N; n++) {
        tick(&e);
        assert_int_equal(e.fake.npending, 1);
        int got = (int)strtol(fake_url(&e.fake, (size_t)n) + strlen(BASE) + 2, NULL, 10);
        assert_false(started[got]);
        for (int i = 0; i < N; i++)
            if (!started[i] && i != got &&
                (prio[i] > prio[got] || (prio[i] == prio[got] && i < got)))
                fail_msg("call %d (priority %d) started before %d "
                         "(priority %d)", got, prio[got], i, prio[i]);
        started[got] = true;
        fake_reply_with(&e.fake, 0, 200, "{}");
    }
    assert_true(seg_client_idle(e.c));

    /* Retries: a 503 sends a call back for 0.5..1 s; the others go on
     * meanwhile, and it comes back before later calls of its priority. */
    struct call a = { 0 }, b = { 0 }, c = { 0 };
    call(&e, &a, "/a", 0);
    call(&e, &b, "/b", 0);
    call(&e, &c, "/c", 0);
    size_t mark = e.fake.nsent;
    tick(&e);
    fake_reply_with(&e.fake, 0, 503, "busy");           /* /a backs off */
    tick(&e);
    assert_string_equal(fake_url(&e.fake, mark + 1), BASE "/b");
    advance(&e, 1.01);
    fake_reply_with(&e.fake, 0, 200, "{}");             /* /b */
    tick(&e);
    assert_string_equal(fake_url(&e.fake, mark + 2), BASE "/a");
    fake_reply_with(&e.fake, 0, 200, "{}");
    tick(&e);
    assert_string_equal(fake_url(&e.fake, mark + 3), BASE "/c");
    fake_reply_with(&e.fake, 0, 200, "{}");
    assert_int_equal(a.st, SEG_OK);
    assert_true(seg_client_idle(e.c));
    free(started);
    free(prio);
    free(k);
    env_free(&e);
}

/* ---- 429 ---------------------------------------------------------------- */

static void test_429_waits_ms_before_next(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.request_budget = 60;
    env_init(&e, o);
    struct call a = { 0 }, b = { 0 };
    call(&e, &a, "/a", 0);
    call(&e, &b, "/b", 0);
    tick(&e);
    assert_int_equal(e.fake.nsent, 1);

    /* msBeforeNext (41250 ms) wins over an X-RateLimit-Reset 5 s away. */
    char *body = fake_fixture("error-429.json");
    struct fake_reply r = { .status = 429, .body = body,
                            .ratelimit_reset = "Thu, 20 Aug 2026 16:00:05 "
                                               "+0000" };
    fake_complete(&e.fake, 0, &r);
    free(body);
    assert_int_equal(a.ndone, 0);
    struct seg_client_stats st = stats(&e);
    assert_int_equal(st.rate_limited, 1);
    assert_between(st.paused_for_s, 41.25, 41.5);
    assert_between(st.effective_budget, 42, 42);

    /* The whole workspace waits: neither the retry nor b starts. */
    double w = tick(&e);
    assert_between(w, 41.25, 41.5);
    advance(&e, 41.2);
    tick(&e);
    assert_int_equal(e.fake.nsent, 1);
    advance(&e, 0.35);
    tick(&e);
    assert_int_equal(e.fake.nsent, 2);
    assert_string_equal(fake_url(&e.fake, 1), BASE "/a");
    fake_reply_with(&e.fake, 0, 200, "{}");
    assert_int_equal(a.st, SEG_OK);
    assert_int_equal(a.ndone, 1);
    env_free(&e);
}

static void test_429_waits_until_ratelimit_reset(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, opts_default());
    /* Wall and monotonic time differ (mono starts at 0): the reset is a
     * wall-clock date. */
    advance(&e, 5);
    struct call a = { 0 };
    call(&e, &a, "/a", 0);
    tick(&e);
    char *body = fake_fixture("error-429-spec-example.json");
    struct fake_reply r = { .status = 429, .body = body,
                            .ratelimit_reset = "Thu, 20 Aug 2026 16:00:35 "
                                               "+0000" };
    fake_complete(&e.fake, 0, &r);
    assert_between(tick(&e), 30, 30.25);
    assert_between(stats(&e).paused_for_s, 30, 30.25);
    advance(&e, 29.9);
    tick(&e);
    assert_int_equal(e.fake.nsent, 1);
    advance(&e, 0.4);
    tick(&e);
    assert_int_equal(e.fake.nsent, 2);

    /* A reset already past is no hint: back-off (1 s base, 2nd wait:
     * 2 s x [0.5, 1] + up to 0.25 s of jitter). */
    struct fake_reply past = { .status = 429, .body = body,
                               .ratelimit_reset = "Thu, 20 Aug 2026 "
                                                  "15:59:00 +0000" };
    fake_complete(&e.fake, 0, &past);
    assert_between(tick(&e), 1, 2.25);
    free(body);
    env_free(&e);
}

/* The pause after the n-th hint-less 429 of a call. */
static double pause_after_bare_429(struct env *e)
{
    fake_reply_with(&e->fake, 0, 429, "{\"errors\":[{\"type\":\"RateLimited\","
                    "\"message\":\"Rate limit exceeded\"}]}");
    return tick(e);
}

static void test_429_exponential_backoff_with_jitter(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.retry_base_s = 1;
    o.max_ratelimit_waits = 10;
    env_init(&e, o);
    struct call a = { 0 };
    call(&e, &a, "/a", 0);
    tick(&e);
    for (int n = 1; n <= 8; n++) {
        double cap = fmin(pow(2, n - 1), 60);
        double w = pause_after_bare_429(&e);
        /* base x 2^(n-1) capped at 60 s, x [0.5, 1], + [0, 0.25) s */
        assert_between(w, fmax(cap * 0.5, 0.1), cap + 0.25);
        advance_past(&e, w);
        tick(&e);
        assert_int_equal(e.fake.nsent, (size_t)n + 1);
    }
    fake_reply_with(&e.fake, 0, 200, "{}");
    assert_int_equal(a.st, SEG_OK);
    env_free(&e);

    /* The jitter differs between clients (seeds). */
    double first[16];
    size_t distinct = 0;
    for (int s = 0; s < 16; s++) {
        o.rng_seed = (uint64_t)s + 1;
        env_init(&e, o);
        struct call k = { 0 };
        call(&e, &k, "/a", 0);
        tick(&e);
        first[s] = pause_after_bare_429(&e);
        assert_between(first[s], 0.5, 1.25);
        bool seen = false;
        for (int j = 0; j < s; j++)
            seen = seen || fabs(first[j] - first[s]) < 1e-9;
        distinct += !seen;
        env_free(&e);
    }
    assert_true(distinct >= 12);
}

static void test_429_gives_up_after_max_waits(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.max_ratelimit_waits = 3;
    env_init(&e, o);
    struct call a = { 0 };
    call(&e, &a, "/a", 0);
    for (int n = 1; n <= 3; n++) {
        wait_for_sent(&e, (size_t)n, 60);
        assert_int_equal(e.fake.nsent, n);
        fake_reply_with(&e.fake, 0, 429, body_429_1s);
        assert_int_equal(a.ndone, 0);
    }
    wait_for_sent(&e, 4, 60);
    fake_reply_with(&e.fake, 0, 429, body_429_1s);
    assert_done(&a, SEG_RATELIMITED, "GET /a: still rate limited after 3 "
                "waits");
    assert_int_equal(stats(&e).rate_limited, 4);
    assert_int_equal(e.fake.nsent, 4);
    assert_no_more_requests(&e);
    env_free(&e);
}

static void test_429_budget_drops_and_recovers(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.request_budget = 60;
    env_init(&e, o);
    struct call a = { 0 };
    call(&e, &a, "/a", 0);
    tick(&e);
    fake_reply_with(&e.fake, 0, 429, body_429_1s);
    assert_between(stats(&e).effective_budget, 42, 42);

    /* The lowered budget is what limits the requests: once the pause is
     * over, 42 in the window (the one that got the 429 counts), however
     * many are queued. */
    struct call k[60] = { 0 };
    for (size_t i = 0; i < ARRAY_SIZE(k); i++)
        call(&e, &k[i], "/b", 0);
    run_instant(&e, 30, 1);
    assert_int_equal(e.fake.nsent, 42);
    assert_true(e.fake.sent[1].mono >= 1);        /* after the pause */
    assert_int_equal(a.st, SEG_OK);

    /* +10 % of the budget per quiet minute, counted from the 429. */
    double t429 = e.fake.sent[0].mono;
    advance(&e, t429 + 59.5 - clock_mono(e.clock));
    tick(&e);
    assert_between(stats(&e).effective_budget, 42, 42);
    advance(&e, 0.6);
    tick(&e);
    assert_between(stats(&e).effective_budget, 48, 48);
    advance(&e, 60);
    tick(&e);
    assert_between(stats(&e).effective_budget, 54, 54);
    advance(&e, 60);
    tick(&e);
    assert_between(stats(&e).effective_budget, 60, 60);
    advance(&e, 600);
    tick(&e);
    assert_between(stats(&e).effective_budget, 60, 60);
    env_free(&e);

    /* Two 429s in a row: 70 % of 70 %.  Then a single tick three quiet
     * minutes later gives back 3 x 10 %. */
    env_init(&e, o);
    struct call b = { 0 };
    call(&e, &b, "/a", 0);
    tick(&e);
    fake_reply_with(&e.fake, 0, 429, body_429_1s);
    wait_for_sent(&e, 2, 10);
    fake_reply_with(&e.fake, 0, 429, body_429_1s);
    assert_between(stats(&e).effective_budget, 29.4, 29.4);
    advance(&e, 185);
    tick(&e);
    assert_between(stats(&e).effective_budget, 47.4, 47.4);
    env_free(&e);
}

/* A 429 on /events/volume pauses and slows volume only: the other
 * endpoints go on at their full budget. */
static void test_volume_429_does_not_pause_others(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.request_budget = 120;
    o.max_concurrency = 4;
    env_init(&e, o);
    assert_true(seg_endpoint_rate_class(SEGEP_EVENTS_VOLUME) == SEGRC_VOLUME);
    assert_true(seg_endpoint_rate_class(SEGEP_DELIVERY_METRICS) ==
                SEGRC_GENERAL);
    struct seg_client_stats st = stats(&e);
    assert_between(st.class_budget[SEGRC_VOLUME], 60, 60);  /* its own cap */
    assert_between(st.class_budget[SEGRC_GENERAL], 120, 120);

    struct call v = { 0 }, v2 = { 0 }, d[5] = { { 0 } };
    call_ep(&e, &v, SEGEP_EVENTS_VOLUME, "/events/volume?g=1", false, 5);
    tick(&e);
    char *body = fake_fixture("error-429.json");         /* 41.25 s */
    fake_reply_with(&e.fake, 0, 429, body);
    free(body);
    st = stats(&e);
    assert_between(st.class_paused_for_s[SEGRC_VOLUME], 41.25, 41.5);
    assert_between(st.class_budget[SEGRC_VOLUME], 42, 42);
    assert_int_equal(st.class_rate_limited[SEGRC_VOLUME], 1);
    assert_between(st.paused_for_s, 0, 0);
    assert_between(st.class_paused_for_s[SEGRC_GENERAL], 0, 0);
    assert_between(st.effective_budget, 120, 120);

    /* Delivery metrics start at once, while volume waits out its
     * pause. */
    call_ep(&e, &v2, SEGEP_EVENTS_VOLUME, "/events/volume?g=2", false, 5);
    for (size_t i = 0; i < ARRAY_SIZE(d); i++)
        call_ep(&e, &d[i], SEGEP_DELIVERY_METRICS, "/destinations/x/"
                "delivery-metrics", false, 0);
    for (int n = 0; n < 200 && clock_mono(e.clock) < 41; n++) {
        double w = tick(&e);
        while (e.fake.npending)
            fake_reply_with(&e.fake, 0, 200, "{}");
        advance(&e, fmin(fmax(w, EPS), 41 - clock_mono(e.clock) + EPS));
    }
    for (size_t i = 0; i < ARRAY_SIZE(d); i++)
        assert_int_equal(d[i].st, SEG_OK);
    assert_int_equal(d[4].ndone, 1);
    assert_true(e.fake.sent[5].mono < 5);
    assert_int_equal(v.ndone, 0);
    assert_int_equal(v2.ndone, 0);
    for (size_t i = 1; i < e.fake.nsent; i++)
        assert_null(strstr(fake_url(&e.fake, i), "/events/volume"));

    /* After the pause both volume calls go, in their order... */
    wait_for_sent(&e, 7, 5);
    assert_int_equal(e.fake.nsent, 8);
    assert_true(e.fake.sent[6].mono >= 41.25);
    assert_string_equal(fake_url(&e.fake, 6), BASE "/events/volume?g=1");
    assert_string_equal(fake_url(&e.fake, 7), BASE "/events/volume?g=2");
    fake_reply_with(&e.fake, 0, 200, "{}");
    fake_reply_with(&e.fake, 0, 200, "{}");
    assert_int_equal(v.st, SEG_OK);
    assert_int_equal(v2.st, SEG_OK);

    /* ...and then at volume's lowered pace: 42/min, 48/min from a quiet
     * minute after the 429, while the general budget stays whole. */
    struct call more[100] = { { 0 } };
    for (size_t i = 0; i < ARRAY_SIZE(more); i++)
        call_ep(&e, &more[i], SEGEP_EVENTS_VOLUME, "/events/volume?m", false,
                5);
    run_instant(&e, 60, 4);
    size_t n = max_per_minute_of(&e.fake, "/events/volume");
    if (n > 48 || n < 40)
        fail_msg("%zu volume requests in a minute", n);
    assert_between(stats(&e).effective_budget, 120, 120);
    env_free(&e);
}

/* And the other way round: a 429 on delivery metrics pauses the general
 * class; volume goes on. */
static void test_other_429_does_not_pause_volume(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.request_budget = 120;
    o.max_concurrency = 4;
    env_init(&e, o);
    struct call d = { 0 }, d2 = { 0 }, v = { 0 };
    call_ep(&e, &d, SEGEP_DELIVERY_METRICS, "/destinations/x/delivery-metrics",
            false, 0);
    tick(&e);
    char *body = fake_fixture("error-429.json");         /* 41.25 s */
    fake_reply_with(&e.fake, 0, 429, body);
    free(body);
    struct seg_client_stats st = stats(&e);
    assert_between(st.paused_for_s, 41.25, 41.5);
    assert_between(st.effective_budget, 84, 84);
    assert_between(st.class_paused_for_s[SEGRC_VOLUME], 0, 0);
    assert_between(st.class_budget[SEGRC_VOLUME], 60, 60);

    call(&e, &d2, "/sources", 0);
    call_ep(&e, &v, SEGEP_EVENTS_VOLUME, "/events/volume", false, 5);
    advance(&e, 1);
    double w = tick(&e);
    assert_int_equal(e.fake.nsent, 2);
    assert_string_equal(fake_url(&e.fake, 1), BASE "/events/volume");
    fake_reply_with(&e.fake, 0, 200, "{}");
    assert_int_equal(v.st, SEG_OK);
    /* The general calls wait for the end of their pause. */
    assert_between(w, 40, 40.5);
    advance(&e, 40);
    tick(&e);
    assert_int_equal(e.fake.nsent, 2);
    wait_for_sent(&e, 3, 5);
    assert_true(e.fake.sent[2].mono >= 41.25);
    fake_reply_with(&e.fake, 0, 200, "{}");
    wait_for_sent(&e, 4, 5);
    fake_reply_with(&e.fake, 0, 200, "{}");
    assert_int_equal(d.st, SEG_OK);
    assert_int_equal(d2.st, SEG_OK);
    env_free(&e);
}

/* Volume (at a higher priority, as the poller queues it) gets what it
 * needs up to its 60/min, the rest of the budget goes to the others, and
 * together they never exceed the budget in any 60 s window. */
static void test_budget_shared_with_volume(void **state)
{
    (void)state;
    static const double budgets[] = { 100, 60, 30 };
    for (size_t bi = 0; bi < ARRAY_SIZE(budgets); bi++) {
        const double B = budgets[bi];
        const double V = fmin(B, 60);
        struct env e;
        struct seg_client_opts o = opts_default();
        o.request_budget = B;
        o.max_concurrency = 4;
        env_init(&e, o);
        enum { N = 2000 };
        struct call *k = xcalloc(N, sizeof(*k));
        for (int i = 0; i < N; i++) {
            if (i % 2)
                call_ep(&e, &k[i], SEGEP_EVENTS_VOLUME, "/events/volume",
                        false, 5);
            else
                call_ep(&e, &k[i], SEGEP_DELIVERY_METRICS,
                        "/destinations/x/delivery-metrics", false, 0);
        }
        run_instant(&e, 600, 4);
        size_t nvol = 0;
        for (size_t i = 0; i < e.fake.nsent; i++)
            nvol += strstr(e.fake.sent[i].url, "/events/volume") != NULL;
        size_t total = max_per_minute_of(&e.fake, NULL);
        size_t vol = max_per_minute_of(&e.fake, "/events/volume");
        if (total > (size_t)B || vol > (size_t)V)
            fail_msg("budget %.0f: %zu per minute, %zu of them volume", B,
                     total, vol);
        /* Volume got its share (10 minutes of V/min), the others the
         * rest of the budget, and the budget was used. */
        assert_true(nvol >= (size_t)((V - 2) * 10) - 2);
        assert_true(e.fake.nsent >= (size_t)(0.95 * B * 10));
        if (B > V)
            assert_true(e.fake.nsent - nvol >= (size_t)(0.9 * (B - V) * 10));
        env_free(&e);
        free(k);
    }
}

/* ---- 5xx, timeouts, bodies ---------------------------------------------- */

static void test_5xx_and_timeouts_retried_with_backoff(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.retry_base_s = 2;
    o.max_attempts = 4;
    env_init(&e, o);
    struct call a = { 0 };
    call(&e, &a, "/a", 0);
    tick(&e);

    struct fake_reply r503 = { .status = 503, .content_type = "text/plain",
                               .body = "upstream connect error" };
    fake_complete(&e.fake, 0, &r503);
    double w = tick(&e);
    assert_between(w, 1, 2);                /* base x [0.5, 1] */
    advance(&e, w - 0.01);
    tick(&e);
    assert_int_equal(e.fake.nsent, 1);      /* not before the back-off */
    advance_past(&e, 0.01);
    tick(&e);
    assert_int_equal(e.fake.nsent, 2);

    fake_reply_with(&e.fake, 0, 500, "{\"errors\":[{\"type\":\"Internal"
                    "ServerError\",\"message\":\"Internal server error\"}]}");
    w = tick(&e);
    assert_between(w, 2, 4);                /* doubled */
    advance_past(&e, w);
    tick(&e);
    assert_int_equal(e.fake.nsent, 3);

    struct fake_reply timeout = { .curl_code = CURLE_OPERATION_TIMEDOUT,
                                  .error = "Operation timed out after 30000 "
                                           "milliseconds" };
    fake_complete(&e.fake, 0, &timeout);
    w = tick(&e);
    assert_between(w, 4, 8);
    advance_past(&e, w);
    tick(&e);
    assert_int_equal(e.fake.nsent, 4);
    assert_int_equal(a.ndone, 0);

    fake_reply_with(&e.fake, 0, 502, "<html>bad gateway</html>");
    assert_done(&a, SEG_RETRY, "GET /a: HTTP 502");
    assert_done(&a, SEG_RETRY, "gave up after 4 attempts");
    assert_int_equal(stats(&e).retries, 3);
    assert_int_equal(e.fake.nsent, 4);
    assert_no_more_requests(&e);
    env_free(&e);
}

static void test_backoff_capped_at_60s(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.retry_base_s = 40;
    o.max_attempts = 6;
    env_init(&e, o);
    struct call a = { 0 };
    call(&e, &a, "/a", 0);
    tick(&e);
    for (int n = 1; n <= 5; n++) {
        fake_reply_with(&e.fake, 0, 500, "");
        double cap = fmin(40 * pow(2, n - 1), 60);
        double w = tick(&e);
        assert_between(w, cap * 0.5, cap);
        assert_true(w <= 60);
        advance_past(&e, w);
        tick(&e);
    }
    fake_reply_with(&e.fake, 0, 500, "");
    assert_int_equal(a.st, SEG_RETRY);
    assert_int_equal(e.fake.nsent, 6);
    env_free(&e);
}

static void test_408_retried(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, opts_default());
    struct call a = { 0 };
    call(&e, &a, "/a", 0);
    tick(&e);
    fake_reply_with(&e.fake, 0, 408, "");
    assert_int_equal(a.ndone, 0);
    wait_for_sent(&e, 2, 10);
    fake_reply_with(&e.fake, 0, 200, "{}");
    assert_int_equal(a.st, SEG_OK);
    env_free(&e);
}

static void test_unusable_body_retried_then_badbody(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.max_attempts = 3;
    env_init(&e, o);
    struct call a = { 0 }, b = { 0 };
    call(&e, &a, "/a", 0);
    tick(&e);
    for (int n = 1; n <= 3; n++) {
        assert_int_equal(a.ndone, 0);
        wait_for_sent(&e, (size_t)n, 10);
        fake_reply_with(&e.fake, 0, 200, "<!DOCTYPE html><p>sorry</p>");
    }
    assert_done(&a, SEG_BADBODY, "GET /a: unusable response body: not a "
                "JSON object");
    assert_int_equal(a.npages, 3);

    /* A body over the size cap is unusable too. */
    call(&e, &b, "/b", 0);
    for (int n = 1; n <= 3; n++) {
        wait_for_sent(&e, 3 + (size_t)n, 10);
        struct fake_reply big = { .status = 200,
                                  .curl_code = CURLE_WRITE_ERROR,
                                  .body_too_large = true,
                                  .error = "response body larger than "
                                           "8388608 bytes" };
        fake_complete(&e.fake, 0, &big);
    }
    assert_done(&b, SEG_BADBODY, "response body larger than");
    assert_int_equal(b.npages, 0);
    env_free(&e);
}

/* ---- 401/403, 404, 422 -------------------------------------------------- */

static void test_401_fails_every_queued_call(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, opts_default());
    struct call a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
    call(&e, &a, "/a", 0);
    call(&e, &b, "/b", 0);
    call(&e, &c, "/c", 0);
    tick(&e);
    assert_int_equal(e.fake.nsent, 1);
    char *body = fake_fixture("error-401.json");
    fake_reply_with(&e.fake, 0, 401, body);
    free(body);
    struct call *all[] = { &a, &b, &c };
    for (size_t i = 0; i < ARRAY_SIZE(all); i++)
        assert_done(all[i], SEG_AUTH, "HTTP 401: Unauthorized");
    struct seg_client_stats st = stats(&e);
    assert_true(st.unauthorized);
    assert_int_equal(st.queued, 0);
    assert_int_equal(e.fake.nsent, 1);     /* b and c never went out */

    /* The next success clears it. */
    advance(&e, 12);
    call(&e, &d, "/d", 0);
    tick(&e);
    fake_reply_with(&e.fake, 0, 200, "{}");
    assert_int_equal(d.st, SEG_OK);
    st = stats(&e);
    assert_false(st.unauthorized);
    assert_true(st.last_success_wall == T0 + 12);
    env_free(&e);
}

static void test_401_with_calls_in_flight(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.max_concurrency = 2;
    env_init(&e, o);
    struct call a = { 0 }, b = { 0 }, c = { 0 };
    call(&e, &a, "/a", 0);
    call(&e, &b, "/b", 0);
    call(&e, &c, "/c", 0);
    tick(&e);
    assert_int_equal(e.fake.npending, 2);
    fake_reply_with(&e.fake, 0, 401, "{\"errors\":[{\"type\":\"Unauthorized\","
                    "\"message\":\"token revoked\"}]}");
    assert_done(&a, SEG_AUTH, "HTTP 401: token revoked");
    assert_done(&c, SEG_AUTH, "HTTP 401: token revoked");
    assert_int_equal(b.ndone, 0);           /* in flight: its own answer */
    assert_true(stats(&e).unauthorized);
    fake_reply_with(&e.fake, 0, 200, "{}");
    assert_int_equal(b.st, SEG_OK);
    assert_false(stats(&e).unauthorized);
    env_free(&e);
}

/* 403: the token is good but lacks a permission for that endpoint; the
 * other calls, queued or in flight, go on, and the workspace is not
 * marked unauthorized. */
static void test_403_fails_only_that_call(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.max_concurrency = 2;
    env_init(&e, o);
    struct call a = { 0 }, b = { 0 }, c = { 0 };
    call_ep(&e, &a, SEGEP_USAGE_MTU, "/usage/mtu/daily?period=2026-08-01",
            false, 0);
    call(&e, &b, "/b", 0);
    call(&e, &c, "/c", 0);
    tick(&e);
    assert_int_equal(e.fake.npending, 2);
    fake_reply_with(&e.fake, 0, 403, "{\"errors\":[{\"type\":\"Forbidden\","
                    "\"message\":\"token lacks permission\"}]}");
    assert_done(&a, SEG_FORBIDDEN, "GET /usage/mtu/daily?period=2026-08-01: "
                "HTTP 403: token lacks permission");
    assert_int_equal(b.ndone, 0);
    assert_int_equal(c.ndone, 0);           /* still queued */
    struct seg_client_stats st = stats(&e);
    assert_false(st.unauthorized);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.by_class[SEGEP_USAGE_MTU][SEGCLS_AUTH], 1);
    assert_int_equal(st.failures, 1);
    /* Not retried; the rest runs as usual. */
    tick(&e);
    assert_int_equal(e.fake.nsent, 3);
    fake_reply_with(&e.fake, 0, 200, "{}");
    fake_reply_with(&e.fake, 0, 200, "{}");
    assert_int_equal(b.st, SEG_OK);
    assert_int_equal(c.st, SEG_OK);
    assert_no_more_requests(&e);
    assert_string_equal(seg_status_name(SEG_FORBIDDEN), "forbidden");
    env_free(&e);
}

static void test_404_and_422_report_message_and_path(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, opts_default());
    struct call nf = { 0 }, bad = { 0 };
    call_ep(&e, &nf, SEGEP_DESTINATIONS,
            "/sources/NoSuch/connected-destinations", true, 0);
    call_ep(&e, &bad, SEGEP_DELIVERY_METRICS,
            "/destinations/d1/delivery-metrics?sourceId=s1", false, 0);
    tick(&e);
    char *b404 = fake_fixture("error-404.json");
    fake_reply_with(&e.fake, 0, 404, b404);
    free(b404);
    assert_done(&nf, SEG_NOTFOUND, "GET /sources/NoSuch/connected-"
                "destinations: HTTP 404: Resource not found");
    tick(&e);
    char *b422 = fake_fixture("error-422-range.json");
    fake_reply_with(&e.fake, 0, 422, b422);
    free(b422);
    assert_done(&bad, SEG_BADREQ, "GET /destinations/d1/delivery-metrics?"
                "sourceId=s1: HTTP 422: The time range between startTime and "
                "endTime exceeds");
    assert_done(&bad, SEG_BADREQ, "(field startTime)");
    /* Neither is retried. */
    assert_int_equal(e.fake.nsent, 2);
    assert_no_more_requests(&e);
    assert_int_equal(stats(&e).failures, 2);
    env_free(&e);
}

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

static void test_token_never_in_messages_or_logs(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.max_attempts = 2;
    o.max_ratelimit_waits = 1;
    enum log_level saved_level = log_get_level();
    struct capture cap;
    struct call k[8] = { 0 };
    char *b401 = fake_fixture("error-401.json");
    char *b404 = fake_fixture("error-404.json");
    char *b422 = fake_fixture("error-422-range.json");

    log_set_level(LOG_DEBUG);
    capture_start(&cap);
    env_init(&e, o);
    call(&e, &k[0], "/a", 0);
    tick(&e);
    /* The token does go out, in the Authorization header only. */
    assert_string_equal(e.fake.sent[0].auth, "Bearer " TOKEN);
    assert_null(strstr(e.fake.sent[0].url, TOKEN));
    fake_reply_with(&e.fake, 0, 404, b404);
    call(&e, &k[1], "/b", 0);
    tick(&e);
    fake_reply_with(&e.fake, 0, 422, b422);
    call(&e, &k[2], "/c", 0);
    tick(&e);
    fake_reply_with(&e.fake, 0, 429, body_429_1s);
    wait_for_sent(&e, 4, 10);
    fake_reply_with(&e.fake, 0, 429, body_429_1s);
    call(&e, &k[3], "/d", 0);
    wait_for_sent(&e, 5, 10);
    fake_reply_with(&e.fake, 0, 503, "busy");
    wait_for_sent(&e, 6, 10);
    struct fake_reply timeout = { .curl_code = CURLE_OPERATION_TIMEDOUT,
                                  .error = "Operation timed out" };
    fake_complete(&e.fake, 0, &timeout);
    call(&e, &k[4], "/e", 0);
    wait_for_sent(&e, 7, 10);
    fake_reply_with(&e.fake, 0, 200, "garbage");
    wait_for_sent(&e, 8, 10);
    fake_reply_with(&e.fake, 0, 200, "garbage");
    e.fake.refuse = 1;
    call(&e, &k[5], "/f", 0);
    tick(&e);
    call(&e, &k[6], "/g", 0);
    call(&e, &k[7], "/h", 0);
    wait_for_sent(&e, 9, 10);
    fake_reply_with(&e.fake, 0, 401, b401);
    struct seg_client_stats st = stats(&e);
    env_free(&e);
    char *logs = capture_end(&cap);
    log_set_level(saved_level);

    static const enum seg_status expect[] = { SEG_NOTFOUND, SEG_BADREQ,
        SEG_RATELIMITED, SEG_RETRY, SEG_BADBODY, SEG_RETRY, SEG_AUTH,
        SEG_AUTH };
    for (size_t i = 0; i < ARRAY_SIZE(k); i++) {
        assert_int_equal(k[i].ndone, 1);
        assert_int_equal(k[i].st, expect[i]);
        assert_true(k[i].msg[0] != '\0');
        assert_null(strstr(k[i].msg, TOKEN));
    }
    assert_non_null(strstr(k[5].msg, "fake transport refused it"));
    assert_null(strstr(st.last_error, TOKEN));
    /* The capture worked: the log has the 401 line. */
    assert_non_null(strstr(logs, "unauthorized (HTTP 401)"));
    assert_null(strstr(logs, TOKEN));
    free(logs);
    free(b401);
    free(b404);
    free(b422);
}

/* ---- pagination --------------------------------------------------------- */

static void test_pagination_count_and_encoded_cursor(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.page_size = 50;
    env_init(&e, o);
    struct call a = { 0 }, v = { 0 };
    a.next = "a/b+c=d&e f";
    call_ep(&e, &a, SEGEP_SOURCES, "/sources", true, 0);
    tick(&e);
    assert_string_equal(fake_url(&e.fake, 0),
                        BASE "/sources?pagination.count=50");
    assert_string_equal(e.fake.sent[0].accept,
                        "application/vnd.segment.v1+json");
    fake_reply_with(&e.fake, 0, 200, "{}");
    a.next = NULL;              /* the second page is the last */
    tick(&e);
    assert_string_equal(fake_url(&e.fake, 1),
                        BASE "/sources?pagination.count=50&pagination.cursor="
                        "a%2Fb%2Bc%3Dd%26e%20f");
    fake_reply_with(&e.fake, 0, 200, "{}");
    assert_int_equal(a.st, SEG_OK);
    assert_int_equal(a.npages, 2);

    /* A path with its own query string gets '&'. */
    call_ep(&e, &v, SEGEP_EVENTS_VOLUME, "/events/volume?granularity=HOUR",
            true, 0);
    tick(&e);
    assert_string_equal(fake_url(&e.fake, 2), BASE "/events/volume?"
                        "granularity=HOUR&pagination.count=50");
    fake_reply_with(&e.fake, 0, 200, "{}");
    env_free(&e);
}

static void test_unpaged_call_ignores_cursor(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, opts_default());
    struct call d = { 0 };
    d.next = "MA==";
    call_ep(&e, &d, SEGEP_DELIVERY_METRICS,
            "/destinations/d1/delivery-metrics?sourceId=s1", false, 0);
    tick(&e);
    assert_null(strstr(fake_url(&e.fake, 0), "pagination"));
    assert_string_equal(e.fake.sent[0].accept,
                        "application/vnd.segment.v1beta+json");
    fake_reply_with(&e.fake, 0, 200, "{}");
    tick(&e);
    assert_int_equal(e.fake.nsent, 1);
    assert_int_equal(d.st, SEG_OK);
    env_free(&e);
}

static void test_page_cap(void **state)
{
    (void)state;
    struct env e;
    struct seg_client_opts o = opts_default();
    o.max_pages = 3;
    env_init(&e, o);
    struct call a = { 0 };
    a.next = "Mg==";            /* there is always another page */
    a.number_next = true;       /* with a new cursor each time */
    call_ep(&e, &a, SEGEP_SOURCES, "/sources", true, 0);
    for (int n = 0; n < 10 && !a.ndone; n++) {
        tick(&e);
        if (e.fake.npending)
            fake_reply_with(&e.fake, 0, 200, "{}");
    }
    assert_int_equal(a.st, SEG_OK);
    assert_int_equal(a.npages, 3);
    assert_int_equal(e.fake.nsent, 3);
    env_free(&e);
}

/* A cursor the listing already followed: following it again would go
 * round in circles until the page cap.  The call ends with an error that
 * names the endpoint, and nothing more goes out. */
static void test_repeating_cursor_ends_listing(void **state)
{
    (void)state;
    static const char *const loop[] = { "QQ==", "Qg==", "QQ==", NULL };
    static const char *const same[] = { "QQ==", "QQ==", NULL };
    static const struct {
        const char *const *nexts;
        int pages;
    } cases[] = { { loop, 3 }, { same, 2 } };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct env e;
        env_init(&e, opts_default());
        struct call a = { 0 };
        a.nexts = cases[i].nexts;
        call_ep(&e, &a, SEGEP_DESTINATIONS,
                "/sources/s1/connected-destinations", true, 0);
        for (int n = 0; n < 10 && !a.ndone; n++) {
            tick(&e);
            if (e.fake.npending)
                fake_reply_with(&e.fake, 0, 200, "{}");
        }
        assert_int_equal(a.npages, cases[i].pages);
        assert_done(&a, SEG_BADBODY, "connected_destinations: GET "
                    "/sources/s1/connected-destinations: pagination cursor "
                    "'QQ==' repeats");
        assert_int_equal(e.fake.nsent, (size_t)cases[i].pages);
        assert_no_more_requests(&e);
        env_free(&e);
    }
}

/* ---- cancellation ------------------------------------------------------- */

static void test_cancel_and_abort(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, opts_default());
    struct call a = { 0 }, b = { 0 }, c = { 0 };
    call(&e, &a, "/a", 0);
    call(&e, &b, "/b", 0);
    call(&e, &c, "/c", 0);
    tick(&e);
    struct fake_reply aborted = { .curl_code = CURLE_ABORTED_BY_CALLBACK,
                                  .error = "aborted" };
    fake_complete(&e.fake, 0, &aborted);
    assert_int_equal(a.st, SEG_CANCELLED);
    seg_client_cancel_queued(e.c);
    assert_int_equal(b.st, SEG_CANCELLED);
    assert_int_equal(c.st, SEG_CANCELLED);
    assert_true(seg_client_idle(e.c));
    /* Freeing the client cancels what is still queued. */
    struct call d = { 0 };
    call(&e, &d, "/d", 0);
    env_free(&e);
    assert_int_equal(d.ndone, 1);
    assert_int_equal(d.st, SEG_CANCELLED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_caps_every_minute),
        cmocka_unit_test(test_budget_exact_under_bursts),
        cmocka_unit_test(test_budget_below_one_per_minute),
        cmocka_unit_test(test_queue_order_at_scale),
        cmocka_unit_test(test_concurrency_never_exceeded),
        cmocka_unit_test(test_priority_then_fifo),
        cmocka_unit_test(test_429_waits_ms_before_next),
        cmocka_unit_test(test_429_waits_until_ratelimit_reset),
        cmocka_unit_test(test_429_exponential_backoff_with_jitter),
        cmocka_unit_test(test_429_gives_up_after_max_waits),
        cmocka_unit_test(test_429_budget_drops_and_recovers),
        cmocka_unit_test(test_volume_429_does_not_pause_others),
        cmocka_unit_test(test_other_429_does_not_pause_volume),
        cmocka_unit_test(test_budget_shared_with_volume),
        cmocka_unit_test(test_5xx_and_timeouts_retried_with_backoff),
        cmocka_unit_test(test_backoff_capped_at_60s),
        cmocka_unit_test(test_408_retried),
        cmocka_unit_test(test_unusable_body_retried_then_badbody),
        cmocka_unit_test(test_401_fails_every_queued_call),
        cmocka_unit_test(test_401_with_calls_in_flight),
        cmocka_unit_test(test_403_fails_only_that_call),
        cmocka_unit_test(test_404_and_422_report_message_and_path),
        cmocka_unit_test(test_token_never_in_messages_or_logs),
        cmocka_unit_test(test_pagination_count_and_encoded_cursor),
        cmocka_unit_test(test_unpaged_call_ignores_cursor),
        cmocka_unit_test(test_page_cap),
        cmocka_unit_test(test_repeating_cursor_ends_listing),
        cmocka_unit_test(test_cancel_and_abort),
    };
    log_set_level(LOG_ERR);     /* the 429 and retry lines are expected */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
