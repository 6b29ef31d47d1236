/*
 * backtest.h - `segalert backtest` (README.md "Backtest"): fetch the
 * history the rules read from the Segment API, replay it through the
 * daemon's evaluator, alert state machine and dispatcher (routes, groups,
 * repeat) on a fake clock, and report what would have happened.  Nothing
 * is delivered.
 *
 * History fetched per workspace over [from, to): event volume (MINUTE
 * buckets within the last 48 hours, HOUR before), usage (the billing
 * periods containing from and to) and delivery metrics (windows of the
 * workspace's delivery_window within the last 48 hours, HOUR windows up to
 * 7 days back; older delivery history is not available from the API).
 * Requests go through the workspace's seg_client, so request_budget and
 * max_concurrency hold.  The samples of a complete fetch are cached in
 * state_dir/backtest-cache/ under a key of (api_url, workspace, from, to,
 * delivery_window): a second run over the same range sends no request.
 *
 * Ownership: backtest_run() fills a result the caller frees with
 * backtest_result_free().  cfg is borrowed.  Not thread-safe.
 * Errors: -1 with a message in err when a workspace could not be fetched
 * completely (what was fetched is still replayed and reported; the
 * result's complete flag says so) or the configuration has no rule.
 */
#ifndef SEGALERT_BACKTEST_H
#define SEGALERT_BACKTEST_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/clock.h"
#include "core/kv.h"

/* API range limits the fetch plans with (docs/segment-api.md). */
#define BACKTEST_MINUTE_HISTORY_S (48 * 3600.0)
#define BACKTEST_HOUR_HISTORY_S (7 * 86400.0)
/* The replay evaluates the rules on this grid. */
#define BACKTEST_EVAL_STEP_S 60.0

struct backtest_opts {
    double from, to;            /* the range, unix seconds */
    const char *rules_glob;     /* NULL: every rule */
    const struct clock *clock;  /* now (the API's range limits), waits */
    /* Called once per workspace after discovery with the requests still
     * to send and the time the budget needs for them (seconds); not
     * called for a workspace read from the cache.  May be NULL. */
    void (*estimate)(void *ud, const char *workspace, unsigned long requests,
                     double seconds);
    /* Called while fetching: requests sent and planned so far. */
    void (*progress)(void *ud, unsigned long sent, unsigned long planned);
    void *ud;
};

struct backtest_firing {
    struct kv *labels;          /* the alert labels */
    size_t nlabels;
    char *severity;             /* highest severity label while firing */
    double start;               /* became active (the notifications'
                                   startsAt) */
    double fired;               /* became firing */
    double end;                 /* resolved; 0 = still firing at `to` */
};

struct backtest_rule {
    char *name;
    unsigned long notifications;    /* that grouping and repeat would
                                       have sent (any receiver) */
    struct backtest_firing *firings;
    size_t nfirings, cap;
};

struct backtest_result {
    double from, to;
    unsigned long requests;     /* API requests sent (0 from the cache) */
    size_t cached_workspaces;   /* workspaces read from the cache */
    bool complete;              /* every fetch succeeded */
    struct backtest_rule *rules;    /* the rules the glob selected, in
                                       config order */
    size_t nrules;
};

int backtest_run(const struct config *cfg, const struct backtest_opts *o,
                 struct backtest_result *out, char *err, size_t errlen);
void backtest_result_free(struct backtest_result *r);
/* The --json document (README.md "Backtest"). */
void backtest_result_json(const struct backtest_result *r, struct strbuf *out);

#endif
