/*
 * poll.h - what segalert collects from one workspace (README.md "What is
 * collected"): discovery of sources and their connected destinations, and
 * the polls of the three metric families, turned into samples handed to a
 * sink.
 *
 * A poller owns the workspace's seg_client (budget, retries) and the
 * discovered topology.  Every operation only queues API calls; the caller
 * drives them with poller_tick() + http_run() until poller_idle().  All
 * requests of the workspace share the client's budget and concurrency.
 *
 * Labels of the samples (borrowed for the duration of the callback):
 *   connection: workspace, source, source_id, destination, destination_id,
 *               destination_type [, mode]
 *   source:     workspace, source, source_id: event volume of one selected
 *               source;
 *               workspace alone: the workspace total, the sum over every
 *               group of the response (all sources, selected or not,
 *               whatever the source filters), one sample per bucket of the
 *               window asked for (0 when no group has that bucket), emitted
 *               when the whole listing was read.  Both are stamped at the
 *               END of their bucket, so a window (now - 1h, now] holds the
 *               last complete hour.
 *   usage:      workspace [, source, source_id for per-source rows]
 * "source" is the source slug, "destination" the destination instance name
 * (its catalog slug when the name is empty), destination_type the catalog
 * slug.  mode is "cloud" or "device" when the destination's catalog entry
 * allows only that mode, and absent otherwise (the API does not say which
 * mode an instance that could use either was set up in; see
 * enum seg_dest_mode in api/segment_parse.h).
 *
 * Scoped failures: a 401 stops the whole workspace (health.unauthorized);
 * a 403 only marks its endpoint forbidden (health.forbidden[]) until that
 * endpoint succeeds again; a 404 on one source's connected destinations
 * (a source deleted since the listing) skips that source, and the rest of
 * the discovery still counts.  Listings drop items repeated across pages
 * (sources and destinations by id, usage rows by source and day, volume
 * groups by source), so a cursor that goes back cannot double a count.
 *
 * Usage periods: the usage endpoints are asked for the billing period
 * containing now: the cycle of the workspace's billing_cycle_day, unless
 * the periodStart/periodEnd of rows already read say otherwise (they
 * win; poller_period() returns the latest such period).
 *
 * Time: health times and last_polled are wall times of the poller's clock,
 * which its seg_client runs on too; the windows of the polls are computed
 * from the `now` the caller passes (read from the same clock).
 */
#ifndef SEGALERT_POLL_H
#define SEGALERT_POLL_H

#include <stdbool.h>

#include "config/config.h"
#include "api/http.h"
#include "engine/discard_reasons.h"
#include "engine/metrics.h"
#include "api/segment.h"

struct sample_sink {
    void (*sample)(void *ud, enum family fam, const struct kv *labels,
                   size_t nlabels, double t, const double v[M__COUNT],
                   const bool has[M__COUNT]);
    void *ud;
};

/* One event-volume bucket (t = its end) of bucket_s seconds (60, 3600). */
struct poll_volume_point {
    double t, count, bucket_s;
};

struct poll_source {
    char *id, *slug, *name;
    /* Recent event-volume buckets, ordered by end time, to give connection
     * series their source_volume (events received during the delivery
     * window): enough for POLL_DELIVERY_WINDOW_MAX_S, minute buckets for
     * the recent part and hourly ones (from back-fill) before that. */
    struct poll_volume_point *vol;
    size_t nvol, vol_cap;
};

struct poll_connection {
    const struct poll_source *source;   /* points into the poller's sources */
    size_t source_index;                /* index of source (discovery use) */
    char *dest_id;
    char *dest_name;
    char *dest_slug;                    /* catalog slug */
    const char *mode;                   /* "cloud", "device" or NULL
                                           (static strings) */
    double last_polled;                 /* wall time of the last good poll */
    double window_end;                  /* where the next delivery window
                                           starts: the end of the last one
                                           read, a whole minute; 0 = none
                                           yet.  A sample of the connection
                                           stamped elsewhere is a history
                                           read, a first window or the
                                           minute so far, not a window of
                                           the tiling */
    int priority;                       /* raised by the scheduler for
                                           connections with active alerts */
};

/* Outcome of the most recent operation of each kind. */
enum poll_kind { POLL_DISCOVERY = 0, POLL_DELIVERY, POLL_VOLUME, POLL_USAGE,
                 POLL__COUNT };
const char *poll_kind_name(enum poll_kind k);
/* The metric family a poll kind reads: "connection" (delivery), "source"
 * (volume), "usage"; "workspace" for discovery. */
const char *poll_kind_family(enum poll_kind k);
/* The poll kind an endpoint serves (discovery for sources and connected
 * destinations). */
enum poll_kind poll_kind_of_endpoint(enum seg_endpoint ep);

/* Longest error message kept per poll kind (bytes, with the NUL). */
#define POLL_ERROR_MAX 320

struct poll_health {
    double last_ok[POLL__COUNT];        /* wall time, 0 = never */
    double last_attempt[POLL__COUNT];
    unsigned long errors[POLL__COUNT];  /* failed calls */
    char last_error[POLL__COUNT][POLL_ERROR_MAX];
    unsigned long cancelled[POLL__COUNT];   /* calls cancelled before they
                                               finished (poller_cancel) */
    bool unauthorized;                  /* 401: the token is refused */
    /* 403 per endpoint: the token lacks that permission.  Set by a 403 of
     * the endpoint, with the message (the request and Segment's message)
     * and since when (wall time); cleared when the endpoint succeeds. */
    bool forbidden[SEGEP__COUNT];
    double forbidden_since[SEGEP__COUNT];
    char forbidden_msg[SEGEP__COUNT][POLL_ERROR_MAX];
    bool discovered;                    /* at least one discovery succeeded */
    unsigned long discoveries;          /* ...how many (each swaps the
                                           topology in) */
    size_t nsources, nconnections;
    size_t nsources_skipped;            /* sources of the last discovery
                                           left out: their connected
                                           destinations were a 404 */
    unsigned long sources_skipped;      /* the same, over all discoveries */
    unsigned long samples;              /* samples handed to the sink */
    /* Discard reasons (poller_fetch_reasons): requests answered, refused
     * for the overview budget, failed. */
    unsigned long reasons_fetched, reasons_over_budget, reasons_failed;
    unsigned long implausible;          /* values refused as implausible
                                           (segment_parse.h), over all
                                           polls; each poll that has some
                                           logs a rate-limited warning */
};

/* Delivery metrics at MINUTE granularity accept windows up to 4 hours. */
#define POLL_DELIVERY_WINDOW_MAX_S (4 * 3600.0)
/* Delivery metrics at MINUTE granularity count whole minutes: a window
 * [start, end) covers the minutes that start in it (docs/segment-api.md),
 * so windows that tile end on a whole minute. */
#define POLL_DELIVERY_GRANULARITY_S 60.0

struct poller;

/* ws and clock are borrowed and must outlive the poller (clock NULL =
 * clock_system()); sink is copied.  Requests go out on http. */
struct poller *poller_new(const struct workspace_cfg *ws,
                          struct http_client *http, const struct clock *clock,
                          const struct sample_sink *sink);
/* The same over any transport (copied; unit tests pass a fake one). */
struct poller *poller_new_transport(const struct workspace_cfg *ws,
                                    const struct http_transport *transport,
                                    const struct clock *clock,
                                    const struct sample_sink *sink);
void poller_free(struct poller *p);

/* Queue a discovery (GET /sources, then connected destinations of every
 * selected enabled source).  The topology is swapped in when all calls
 * succeeded (sources whose connected destinations are a 404 left out); on
 * failure the previous one is kept. */
void poller_discover(struct poller *p);
/* One delivery-metrics request per connection, window [now - window, now]
 * with the workspace's delivery_window, continuing the previous window:
 * windows end on the newest whole minute whose event volume is known, or
 * else on the last whole minute (POLL_DELIVERY_GRANULARITY_S).  When no
 * whole minute has passed since the last window, the minute so far is
 * read for the rules (stamped now) without moving window_end: the next
 * window reads it whole.  A connection's first window without known
 * volume ends now, to the second (fresh for the rules and for `segalert
 * fetch`); window_end is then its last whole minute. */
void poller_poll_delivery(struct poller *p, double now);
/* A history read: one summary per connection over [now - window_s, now]
 * (capped at POLL_DELIVERY_WINDOW_MAX_S), stamped at the window's START,
 * so it counts as the past (rules comparing a connection with its last
 * hours have it at once) and never as the present (rules reading the last
 * minutes do not see a 4-hour summary as a 5-minute one, and alerts
 * restored after a restart are not resolved by it). */
void poller_poll_delivery_history(struct poller *p, double now,
                                  double window_s);
/* The same over window_s instead (<= 0: delivery_window), capped at
 * POLL_DELIVERY_WINDOW_MAX_S.  The samples' source_volume covers the same
 * window.  Samples are stamped at the window's end. */
void poller_poll_delivery_window(struct poller *p, double now,
                                 double window_s);
/* A past window [start, end) for every connection (`segalert backtest`):
 * granularity HOUR when hourly (windows up to 7 days back), else MINUTE
 * (within 48 hours, at most POLL_DELIVERY_WINDOW_MAX_S).  Samples are
 * stamped at end, without source_volume (the caller has the volume), and
 * the tiling of poller_poll_delivery() is left alone. */
void poller_poll_delivery_range(struct poller *p, double start, double end,
                                bool hourly);
/* Event volume of complete buckets in [from, to) (MINUTE granularity when
 * volume_interval < 1 h, else HOUR), grouped by source. */
void poller_poll_volume(struct poller *p, double from, double to);
/* The same with an explicit bucket size (60 or 3600): back-fill reads old
 * history by the hour even when regular polls read minutes. */
void poller_poll_volume_bucket(struct poller *p, double from, double to,
                               double bucket);
/* The four usage endpoints for the usage period containing now (see
 * poller_usage_period). */
void poller_poll_usage(struct poller *p, double now);
/* The latest billing period the usage rows carried (periodStart,
 * periodEnd; unix seconds, end exclusive).  False, leaving start and end
 * alone, until a row carried one. */
bool poller_period(const struct poller *p, double *start, double *end);
/* The billing period containing now as the poller sees it: the learned
 * period when it contains now; after it, the cycle on the learned period's
 * day of the month; else the cycle of the workspace's billing_cycle_day
 * (core/util.h billing_cycle_utc).  [*start, *end), unix seconds. */
void poller_usage_period(const struct poller *p, double now, double *start,
                         double *end);

/*
 * Discard reasons of one connection (README.md "Discard reasons"): one
 * GET /delivery-overview/failed-delivery?groupBy=discardReason over
 * [now - window_s, now) (window_s clamped to [60 s, 4 h]: MINUTE
 * granularity, whose range limit is 4 hours), paged.  Its calls are
 * queued at POLL_PRIORITY_OVERVIEW, below every regular poll, in the
 * client's SEGRC_OVERVIEW class (at most overview_budget a minute, inside
 * request_budget).  At most ceil(overview_budget) of them wait or run at
 * once: beyond that the fetch is refused (POLL_REASONS_BUDGET), so a
 * burst of alerts never builds a queue that would answer late; the
 * caller asks again later.  fn is called once with the finished reasons
 * (shares computed, from/to/fetched_at set), or with NULL when the call
 * failed; never when it was cancelled (reload, shutdown).  The ids are
 * copied.
 */
#define POLL_PRIORITY_OVERVIEW (-10)
enum poll_reasons_result {
    POLL_REASONS_QUEUED = 0,
    POLL_REASONS_BUDGET,        /* overview_budget in use: not queued */
    POLL_REASONS_OFF            /* overview_budget = 0 */
};
typedef void (*poll_reasons_fn)(void *ud, const char *source_id,
                                const char *dest_id,
                                const struct discard_reasons *reasons);
enum poll_reasons_result poller_fetch_reasons(struct poller *p,
                                              const char *source_id,
                                              const char *dest_id,
                                              double now, double window_s,
                                              poll_reasons_fn fn, void *ud);

/* The wall clock jumped by step_s while running (daemon/timefix.h): the
 * health times and every connection's last poll move with it, so ages
 * ("last poll 3 s ago", the coverage check) stay what they were.  Sample
 * times and the delivery windows are the API's times and stay. */
void poller_shift_times(struct poller *p, double step_s);
/* Cancel queued calls (reload, shutdown); calls in flight finish. */
void poller_cancel(struct poller *p);
/* Calls in flight. */
int poller_in_flight(const struct poller *p);
/* Drive the client: returns seconds of the poller's clock until it wants
 * another tick. */
double poller_tick(struct poller *p);
bool poller_idle(const struct poller *p);
/* No call of kind k queued or in flight (its sweep is over). */
bool poller_kind_idle(const struct poller *p, enum poll_kind k);
/* True while a discovery is queued or running. */
bool poller_discovering(const struct poller *p);

const struct poll_health *poller_health(const struct poller *p);
const struct seg_client *poller_client(const struct poller *p);
size_t poller_connections(const struct poller *p,
                          struct poll_connection **out);
/* The connection of the current topology with these ids, or NULL; O(1)
 * (the topology is indexed when a discovery swaps it in).  The pointer is
 * valid until the next discovery finishes. */
struct poll_connection *poller_find_connection(struct poller *p,
                                               const char *source_id,
                                               const char *dest_id);
const struct workspace_cfg *poller_workspace(const struct poller *p);

/* Volume bucket size in seconds for this workspace (60 or 3600). */
double poller_volume_bucket(const struct poller *p);

#endif
