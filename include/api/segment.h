/*
 * segment.h - the Segment Public API client of one workspace: request
 * building, pagination, retries, rate-limit handling and the request budget.
 *
 * Every request of a workspace goes through one struct seg_client, which
 * owns a queue and starts requests only when
 *   - the workspace's budget allows it: at most `request_budget` requests
 *     in any 60 s window, whatever the endpoints,
 *   - the limit of the request's rate class allows it too (below),
 *   - fewer than `max_concurrency` transfers of this workspace are in flight,
 *   - no 429 back-off of its rate class is in force.
 * It starts, in one tick, everything these allow: a sweep runs at
 * max_concurrency requests in flight for as long as the budget lasts (a
 * burst is limited by the concurrency, not by a pace).
 *
 * How the budget is kept, exactly: the client logs the (monotonic) time
 * at which it starts each request, and starts one only when fewer than
 * floor(budget) requests started in the SEG_BUDGET_WINDOW_S +
 * SEG_BUDGET_GUARD_S seconds before it (a budget below one a minute: one
 * request per 60/budget s).  Then no window of that length, and so no
 * 60 s window, ever holds more than the budget: take any window and the
 * last request started in it; when that one started, every other request
 * of the window had started within the length of a window before it, and
 * fewer than floor(budget) had.  The guard (1 s) is there because the API
 * counts a request when it arrives, a little after the client starts it
 * (connection set-up, the rest of a loop pass): start times that are
 * exactly 60 s apart could arrive less than 60 s apart.  A workspace that
 * is busy all the time thus gets floor(budget) requests per 61 s.  The
 * log holds at most the requests of one window, and only as many as were
 * actually sent.
 *
 * Rate classes (enum seg_rate_class): Segment limits /events/volume on its
 * own (60 requests per minute) and the other endpoints together, so each
 * class has its own limit (kept the same way), 429 pause and slow-down.
 * How the budget is shared: SEGRC_VOLUME may use up to min(60, budget)
 * requests per minute, SEGRC_GENERAL up to the whole budget; both also
 * count in the workspace's log, so the two together never exceed the
 * budget.  The queue is served by priority across classes, so volume
 * (polled at a higher priority than delivery metrics) gets what it needs,
 * up to its 60/min, and the other endpoints get the rest.  SEGRC_OVERVIEW
 * (Delivery Overview, read for discard reasons) may use up to
 * min(overview_budget, budget) per minute; its calls are queued at a
 * priority below every regular poll (POLL_PRIORITY_OVERVIEW in
 * api/poll.c), so they only take what the polls leave, and never more
 * than their cap.  A budget <= 0 means no limit at all (unlimited), for
 * every class; overview_budget <= 0 means only the workspace's.
 *
 * The queue is a heap per rate class (priority, then FIFO) plus one of
 * the calls backing off (by the time they may retry): queuing, picking
 * and starting a request cost O(log n) in the calls queued.
 *
 * After a 429 the requests of that class wait (errors[0].data.msBeforeNext,
 * else X-RateLimit-Reset, else exponential back-off with jitter; every
 * server-supplied wait is clamped to [0.1 s, 10 min]) and the class's
 * effective rate drops to 70 % (its window then lets floor(70 % of the
 * budget) in); each minute without a 429 gives 10 % of it back.
 * A 429 on /events/volume neither pauses nor slows the other
 * endpoints, and a 429 elsewhere does not pause volume.
 *
 * Outcomes are mapped to enum seg_status for the caller.  5xx, 408,
 * transport errors, timeouts and unusable bodies (the page callback
 * returns -1) are retried with back-off up to max_attempts.  401 fails the
 * call and every queued call of the workspace at once (one log line, not a
 * crash loop) and marks it unauthorized until a request succeeds: the
 * token itself is refused.  403 fails only that call (SEG_FORBIDDEN): the
 * token is valid but lacks a permission for that endpoint, so the others
 * keep working.  404 and 422 are reported with Segment's message and the
 * request path.
 *
 * Pagination: the page callback hands back the next cursor; a cursor the
 * listing already followed ends the call with SEG_BADBODY (a message naming
 * the endpoint) instead of going round in circles until the page cap.
 *
 * The token never appears in logs or error messages.
 *
 * Time: every time the client reads (the send logs, back-offs, the 429
 * pauses and recovery, X-RateLimit-Reset, last_success_wall) comes from the
 * clock in its options, so unit tests drive it with a fake clock and a fake
 * transport (struct http_transport) and the end-to-end tests with a
 * scaled one.  Durations it returns are seconds of that clock.
 *
 * Ownership and threads: the client copies its options' strings and the
 * transport struct; the clock and the transport's ud are borrowed and must
 * outlive it.  A client is used from one thread (the one that runs the
 * transport's completions).
 */
#ifndef SEGALERT_SEGMENT_H
#define SEGALERT_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http.h"
#include "core/clock.h"

enum seg_status {
    SEG_OK = 0,
    SEG_RETRY,          /* 5xx / timeout / transport error, attempts exhausted */
    SEG_RATELIMITED,    /* 429s exhausted the retry allowance */
    SEG_AUTH,           /* 401: token refused (the whole workspace) */
    SEG_FORBIDDEN,      /* 403: token lacks the permission for this call */
    SEG_NOTFOUND,       /* 404 */
    SEG_BADREQ,         /* 422 / 400 / other 4xx: our request was refused */
    SEG_BADBODY,        /* 2xx with a body we cannot use, attempts
                           exhausted; or a pagination cursor that repeats */
    SEG_CANCELLED,      /* client freed or workspace failed before the call ran */
};
const char *seg_status_name(enum seg_status st);

enum seg_endpoint {
    SEGEP_SOURCES = 0,
    SEGEP_DESTINATIONS,
    SEGEP_DELIVERY_METRICS,
    SEGEP_EVENTS_VOLUME,
    SEGEP_USAGE_MTU_SOURCES,
    SEGEP_USAGE_MTU,
    SEGEP_USAGE_API_CALLS_SOURCES,
    SEGEP_USAGE_API_CALLS,
    SEGEP_DELIVERY_OVERVIEW,    /* /delivery-overview/failed-delivery */
    SEGEP__COUNT
};
const char *seg_endpoint_name(enum seg_endpoint ep);  /* "delivery_metrics" */

/* Endpoints that Segment rate-limits together (see the header comment). */
enum seg_rate_class {
    SEGRC_GENERAL = 0,  /* everything but /events/volume */
    SEGRC_VOLUME,       /* /events/volume */
    SEGRC_OVERVIEW,     /* Delivery Overview: segalert's own cap
                           (overview_budget), not Segment's */
    SEGRC__COUNT
};
/* Segment's own limit of /events/volume, requests per minute. */
#define SEG_VOLUME_LIMIT_PER_MIN 60.0
/* The budget's window, and the margin added to it for the time between
 * starting a request and its arrival at the API (see above). */
#define SEG_BUDGET_WINDOW_S 60.0
#define SEG_BUDGET_GUARD_S 1.0
enum seg_rate_class seg_endpoint_rate_class(enum seg_endpoint ep);
const char *seg_rate_class_name(enum seg_rate_class rc);   /* "volume" */

struct seg_client_opts {
    const char *workspace;      /* name, for logs */
    const char *base_url;       /* e.g. https://api.segmentapis.com */
    const char *token;          /* bearer token (secret) */
    double request_budget;      /* requests per minute; <= 0 = unlimited */
    double overview_budget;     /* Delivery Overview requests per minute,
                                   inside request_budget; <= 0 = no cap of
                                   its own */
    int max_concurrency;        /* >= 1 */
    double connect_timeout_s;   /* default 10 */
    double request_timeout_s;   /* default 30 */
    size_t max_body;            /* default 8 MiB */
    int page_size;              /* pagination.count, default 200 (1..1000) */
    int max_pages;              /* per call, default 500 */
    int max_attempts;           /* per request for 5xx/timeouts, default 4 */
    int max_ratelimit_waits;    /* 429s tolerated per request, default 8 */
    double retry_base_s;        /* first back-off, default 1 s (cap 60 s) */
    const struct clock *clock;  /* NULL = clock_system() */
    uint64_t rng_seed;          /* back-off jitter; 0 = from the time and
                                   the client's address */
};

/*
 * Called for every page body of a call.  Parse it, keep what it holds,
 * and set *next to a malloc'd cursor for the next page (NULL on the last
 * page or for unpaged endpoints).  Return 0, or -1 with a reason in err
 * when the body is unusable (the request is then retried as a 5xx).
 */
typedef int (*seg_page_fn)(void *ud, const char *body, size_t len,
                           char **next, char *err, size_t errlen);
/* Called exactly once per call with its outcome; message explains failures
 * (e.g. Segment's 422 message), "" on success. */
typedef void (*seg_done_fn)(void *ud, enum seg_status st, const char *message);

struct seg_client;

/* Requests go out through transport (copied; see http.h). */
struct seg_client *seg_client_new(const struct seg_client_opts *opts,
                                  const struct http_transport *transport);
/* Cancels queued calls (done() with SEG_CANCELLED).  Transfers already in
 * flight must have finished (or the http client been freed) first. */
void seg_client_free(struct seg_client *c);

/*
 * Queue a call.  path_query is the path with its own query string, already
 * encoded (build it with seg_query_*), e.g.
 * "/destinations/ID/delivery-metrics?sourceId=X&granularity=MINUTE".
 * When paged, pagination.count and pagination.cursor are appended for each
 * page.  Higher priority calls start first (FIFO within a priority).
 */
void seg_call(struct seg_client *c, enum seg_endpoint ep, const char *path_query,
              bool paged, int priority, seg_page_fn page, seg_done_fn done,
              void *ud);

/* Fail every queued (not yet started) call with SEG_CANCELLED. */
void seg_client_cancel_queued(struct seg_client *c);
/* Transfers of this client in flight now. */
int seg_client_in_flight(const struct seg_client *c);

/* Start whatever the budget and concurrency allow; call after http_run()
 * and whenever time has passed.  Returns seconds of the client's clock
 * until it wants to be ticked again (0.0 = as soon as possible; a large
 * value when idle); clock_real_delay() turns them into a real wait. */
double seg_client_tick(struct seg_client *c);

/* No call queued or in flight. */
bool seg_client_idle(const struct seg_client *c);

/* Classes of HTTP outcomes counted in by_class[][], in this order. */
enum seg_status_class {
    SEGCLS_2XX = 0,
    SEGCLS_AUTH,        /* 401, 403 (SEG_AUTH / SEG_FORBIDDEN) */
    SEGCLS_404,
    SEGCLS_4XX,         /* 422, 400 and any other 4xx */
    SEGCLS_429,
    SEGCLS_5XX,         /* 5xx, 408 and transport errors */
    SEGCLS__COUNT
};
/* The class as a label value: "2xx", "401_403", "404", "4xx", "429",
 * "5xx" (the code_class of /metrics and the keys of /api/v1/status). */
static inline const char *seg_status_class_name(enum seg_status_class c)
{
    static const char *const names[SEGCLS__COUNT] = {
        "2xx", "401_403", "404", "4xx", "429", "5xx"
    };
    return (unsigned)c < SEGCLS__COUNT ? names[c] : "?";
}

struct seg_client_stats {
    unsigned long requests[SEGEP__COUNT];       /* sent */
    unsigned long by_class[SEGEP__COUNT][SEGCLS__COUNT];
    unsigned long rate_limited;                 /* 429s received */
    unsigned long retries;
    unsigned long failures;                     /* calls that ended not OK */
    int in_flight;
    size_t queued;
    double effective_budget;                    /* per minute, after 429
                                                   slow-down (SEGRC_GENERAL) */
    double paused_for_s;                        /* remaining 429 back-off
                                                   (SEGRC_GENERAL) */
    /* The same per rate class; class_budget is 0 when unlimited. */
    double class_budget[SEGRC__COUNT];
    double class_paused_for_s[SEGRC__COUNT];
    unsigned long class_rate_limited[SEGRC__COUNT];
    bool unauthorized;                          /* 401 until a success */
    double last_success_wall;                   /* unix time, 0 = never */
    char last_error[256];
};
void seg_client_stats(const struct seg_client *c, struct seg_client_stats *out);

/* ---- query building (documented dot form, percent-encoded values) ----- */

/* Append "name=value" (value percent-encoded) with '?' or '&' as needed. */
void seg_query_add(struct strbuf *pq, const char *name, const char *value);
/* Append an ISO-8601 UTC timestamp parameter. */
void seg_query_add_time(struct strbuf *pq, const char *name, double t);

#endif
