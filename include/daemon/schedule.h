/*
 * schedule.h - when each workspace is polled, and whether it is healthy.
 *
 * One struct ws_schedule per workspace drives its poller (api/poll.h):
 *   - discovery at start, then every WS_DISCOVERY_INTERVAL_S (every poll
 *     interval, at least a minute, while discovery fails or the token is
 *     refused: a 401 is retried at a slow pace, never in a tight loop);
 *   - once discovered, a single back-fill of the event-volume history the
 *     rules look back over (hourly buckets), so a restart does not blind
 *     week-over-week rules;
 *   - the delivery, volume and usage polls every poll_interval /
 *     volume_interval / usage_interval; a family is not started again
 *     while its previous sweep is still running.  Delivery sweeps put the
 *     connections with pending or firing alerts first (needs->active_conns,
 *     looked up in the poller's index: O(connections + alerts) per sweep)
 *     so a budget that cannot cover everything still refreshes what
 *     matters.  The first delivery sweep waits for the first volume sweep
 *     and also reads the last 4 hours in one history window (the past the
 *     rules compare a connection with; poller_poll_delivery_history).
 * A family's sweep is finished when none of its calls is queued or in
 * flight (poller_kind_idle).
 *
 * Health: a workspace is down when its token is refused, or when requests
 * have failed for longer than max(3 poll intervals, 10 min) since the last
 * success (or since start), or when discovery never succeeded in that
 * time.  ws_schedule_health() reports the transitions; the daemon raises
 * and resolves the segalert-workspace-down meta-alert on them.
 *
 * Coverage: whether what the rules read is fresh.  A family (delivery
 * metrics of the connections, event volume of the sources, usage) is
 * "blind" when it has not been read for WS_COVERAGE_STALE_FACTOR times its
 * interval (counted from start before the first success), or when the
 * request budget cannot refresh every series within its interval (the
 * connections are then refreshed more slowly: the oldest connection's age
 * says by how much).  ws_schedule_coverage() updates it; the daemon raises
 * a segalert-coverage meta-alert per family that is blind, and the status
 * page, `segalert status` and /-/ready show it.  ws_schedule_budget() is
 * what the daemon logs at start and after each discovery: the requests per
 * minute needed to refresh everything in time against the budget.
 *
 * The achieved request rate is sampled every WS_RATE_SAMPLE_S into a ring
 * per workspace (no limit on the number of workspaces).
 *
 * Pure scheduling over the poller: no clock is read here, `now` is passed
 * in (seconds of the daemon's clock).  Not thread-safe (main loop only).
 */
#ifndef SEGALERT_SCHEDULE_H
#define SEGALERT_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>

#include "api/poll.h"
#include "config/config.h"
#include "engine/metrics.h"

#define WS_DISCOVERY_INTERVAL_S 1800.0
/* Window of the first delivery sweep after start (the API's MINUTE
 * granularity allows at most 4 hours). */
#define WS_FIRST_DELIVERY_WINDOW_S (4 * 3600.0)
/* Volume polls at an interval that divides the day run this many seconds
 * after each multiple of it (whole minutes for 1m): a minute's count may be
 * read a minute after it ends, so reading just after the boundary gets
 * each minute the moment it is allowed -- a poll at hh:mm:59 would wait
 * almost a minute more. */
#define WS_VOLUME_PHASE_S 5.0
#define WS_RATE_SAMPLE_S 5.0
/* Samples kept: WS_RATE_SAMPLES x WS_RATE_SAMPLE_S must exceed a minute. */
#define WS_RATE_SAMPLES 32

/* A family is blind when its data is older than this many intervals. */
#define WS_COVERAGE_STALE_FACTOR 3.0
#define WS_COVERAGE_REASON_MAX 320

struct ws_coverage {
    bool blind;                     /* the segalert-coverage alert fires */
    double since;                   /* when it went blind */
    char reason[WS_COVERAGE_REASON_MAX];
    char endpoint[48];              /* an endpoint refused (403), or "" */
};

/* What refreshing every series of a workspace in time costs. */
struct ws_budget {
    double needed_per_min;          /* all families */
    double delivery_per_min;        /* connections x (60 / poll_interval) */
    double budget_per_min;          /* effective (after 429 slow-downs) */
    /* when needed > budget: how often each connection is refreshed instead
     * of poll_interval (seconds); else poll_interval */
    double delivery_refresh_s;
};

struct ws_rate_sample {
    double t;                   /* 0 = empty slot */
    unsigned long total;        /* requests sent so far */
};

struct ws_schedule {
    const struct workspace_cfg *cfg;    /* borrowed from the running config */
    struct poller *poller;              /* owned */
    double next_discovery;
    double next_delivery, next_volume, next_usage;
    double volume_done_to;          /* volume polled up to (bucket end) */
    bool backfilled;
    bool polled_once;               /* a sweep of every family completed */
    bool running[POLL__COUNT];      /* sweep started and not yet finished */
    bool swept[POLL__COUNT];        /* a sweep finished (ok or not) */
    /* The running sweep's start and the workspace's request count then;
     * the last finished sweep's length and the requests sent meanwhile
     * (all endpoints).  Logged at debug level (the sweep benchmark reads
     * them). */
    double sweep_started[POLL__COUNT];
    unsigned long sweep_requests0[POLL__COUNT];
    double last_sweep_s[POLL__COUNT];
    unsigned long last_sweep_requests[POLL__COUNT];
    bool down;                      /* meta-alert firing */
    double down_since;
    char down_reason[POLL_ERROR_MAX];  /* the poller's last error */
    /* indexed by enum poll_kind (POLL_DELIVERY, POLL_VOLUME, POLL_USAGE) */
    struct ws_coverage coverage[POLL__COUNT];
    bool budget_logged;             /* the figures below were logged */
    double budget_logged_needed, budget_logged_budget;
    /* The coverage check's memory of the least recently polled
     * connection (its last poll, or started_at when never), valid for the
     * topology of discovery number oldest_discovery and for
     * oldest_started_at.  A connection's last poll only moves forward, so
     * the age it gives is never less than the true one: while that is
     * within the limit nothing is blind, and the connections need not be
     * scanned on every loop pass. */
    bool oldest_valid;
    unsigned long oldest_discovery;
    double oldest_polled, oldest_started_at;
    struct ws_rate_sample rates[WS_RATE_SAMPLES];
    unsigned rate_pos;
    double last_rate_sample;
};

/* Called by schedule_needs.active_conns for each connection with an
 * alert; the strings are borrowed for the call. */
typedef void (*schedule_conn_fn)(void *ctx, const char *source_id,
                                 const char *dest_id);

/* What the rules need from the schedule. */
struct schedule_needs {
    /* Longest window + offset the rules read, per family (back-fill). */
    double lookback_s[FAM__COUNT];
    /* Call fn(ctx, source id, destination instance id) for every
     * connection that has a pending or firing alert (a connection may
     * come more than once, and may belong to another workspace).  NULL =
     * none has.  A delivery sweep asks once and finds each connection in
     * the poller's index: O(connections with alerts), not a comparison
     * of every alert with every connection. */
    void (*active_conns)(void *ud, schedule_conn_fn fn, void *ctx);
    void *ud;
};

/* Start scheduling a workspace: everything is due at now.  Takes
 * ownership of poller. */
void ws_schedule_init(struct ws_schedule *w, const struct workspace_cfg *cfg,
                      struct poller *poller, double now);
/* Free the poller (cancelling what it has queued). */
void ws_schedule_free(struct ws_schedule *w);
/* Carry over what a reload must keep from the previous run of the same
 * workspace: the back-fill and how far volume was read, the down and
 * coverage states (their alerts stay announced). */
void ws_schedule_carry_over(struct ws_schedule *w,
                            const struct ws_schedule *old);

/* The wall clock jumped by step_s while running (daemon/timefix.h): the
 * next polls, the running sweeps' starts, the down and blind times, the
 * request-rate samples and the poller's own times (poller_shift_times)
 * move with it, so each poll keeps the monotonic time it had left: a
 * clock set back a day does not stop polling for a day.  How far volume
 * was read is the API's time and stays. */
void ws_schedule_shift_times(struct ws_schedule *w, double step_s);

/* Queue whatever is due at now. */
void ws_schedule_tick(struct ws_schedule *w, double now,
                      const struct schedule_needs *needs);
/* Note the sweeps finished at now; true when one finished (evaluate
 * soon). */
bool ws_schedule_note_sweeps(struct ws_schedule *w, double now);

enum ws_health_change { WS_HEALTH_SAME = 0, WS_HEALTH_DOWN, WS_HEALTH_UP };
/* Update w->down (and down_since / down_reason) from the poller's health
 * at now; started_at is when the daemon started. */
enum ws_health_change ws_schedule_health(struct ws_schedule *w, double now,
                                         double started_at);

/* The family a poll kind reads ("connection", "source", "usage"). */
const char *ws_coverage_family(enum poll_kind k);

/* The cost of refreshing every series in time (see above). */
void ws_schedule_budget(const struct ws_schedule *w, struct ws_budget *out);

/* Update w->coverage at now; returns a bit (1 << kind) for every poll kind
 * whose blind state changed.  Nothing is blind while the workspace is down
 * (the workspace-down alert says it) or before discovery succeeded. */
unsigned ws_schedule_coverage(struct ws_schedule *w, double now,
                              double started_at);

/* Record the request total (call every loop pass; samples every
 * WS_RATE_SAMPLE_S) and read the rate achieved over the last minute
 * (requests per minute; 0 before two samples a second apart exist). */
void ws_schedule_sample_rate(struct ws_schedule *w, double now);
double ws_schedule_rate_last_minute(const struct ws_schedule *w, double now);

/* Age of the least recently polled connection (never polled: since
 * started_at), or -1 without connections. */
double ws_schedule_oldest_connection(const struct ws_schedule *w, double now,
                                     double started_at);

#endif
