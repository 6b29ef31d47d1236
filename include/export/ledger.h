/*
 * ledger.h - what each sample the pollers hand the daemon means as
 * exported points, so that the counts of a series add up: every count is
 * an amount over an interval [start, end) that no other exported count of
 * the series overlaps.
 *
 *   connection  A regular delivery sample covers the poller's window: it
 *               starts where the previous window of the same poller ended
 *               (the windows tile, api/poll.h), or, for the first window
 *               of a poller or after a gap of more than the API's 4 hours,
 *               at end - window_s.  Its counts become count points over
 *               that window; its latencies gauges at its end.  A history
 *               read (the 4-hour window the first sweep reads, stamped at
 *               its start) is the past summarised in one value: it is
 *               never exported.  A window that starts before the end of
 *               one already counted (a poller replaced by a reload) is
 *               skipped whole: a summary cannot be split.
 *   source      Event volume buckets are re-read while late events may
 *               still change them (the last two buckets of every poll), so
 *               a bucket becomes a count only once it can no longer change:
 *               when the series has a bucket two bucket lengths newer.  A
 *               bucket is counted once, with its latest value.
 *   usage       Cumulative counts since the period start: gauges, one per
 *               newer row of each metric (MTU and API calls come in
 *               samples of their own, stamped alike); the workspace's
 *               plan limits ride along.
 * History from before the ledger started (the back-filled hourly volume,
 * past usage rows) is not exported: only what ends after
 * started_at - LEDGER_BACKFILL_S, which keeps the first minutes of volume
 * that a restart re-reads (so exports resume where the previous run
 * stopped) and never mistakes an hourly back-fill bucket for a minute.
 *
 * The ledger also keeps, per series, the running total of its counts
 * since it started: the counters of /metrics (segment_*_total), which add
 * up the same way.
 *
 * What was exported before a restart is not the ledger's business: each
 * exporter keeps its own persisted cursor (export/cursor.h) and drops
 * counts that start before it.
 *
 * Ownership: the ledger owns its per-series state; label sets are borrowed
 * (the daemon's pool outlives it).  Errors: none.  Thread safety: none;
 * the main loop only.
 */
#ifndef SEGALERT_EXPORT_LEDGER_H
#define SEGALERT_EXPORT_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/labels.h"
#include "engine/metrics.h"
#include "export/buffer.h"
#include "export/names.h"

/* How far before its start the ledger takes data: enough for the event
 * volume a restart re-reads, short of the hourly back-fill (which ends two
 * hours before the first volume poll). */
#define LEDGER_BACKFILL_S 3600.0
/* Volume buckets of a series waiting to be final, at most. */
#define LEDGER_PENDING_MAX 8
/* Points one sample can make, at most. */
#define LEDGER_MAX_POINTS 16
/* Counts of one series with a running total (the connection counts). */
#define LEDGER_TOTALS 7

/* A sample as the poller handed it, with what the daemon knows about it. */
struct export_sample {
    enum family fam;
    const struct labelset *labels;  /* interned; has "workspace" */
    double t;                       /* the poller's sample time */
    const double *v;                /* [M__COUNT] */
    const bool *has;                /* [M__COUNT] */
    /* connection */
    bool history;                   /* not a window of the tiling (a
                                       history read, the minute so far):
                                       not exported */
    unsigned generation;            /* the poller instance that read it
                                       (a new poller starts new windows) */
    double window_s;                /* the window of a poll that does not
                                       continue the previous one */
    /* source */
    double bucket_s;                /* bucket of the regular volume polls */
    /* usage, workspace level: the plan limits (0 = unset) */
    double mtu_limit, api_calls_limit;
};

/* What one sample means: points (their seq and queued_at unset) of the
 * series `key` (its label set's hash, the cursors' key). */
struct ledger_out {
    struct export_point p[LEDGER_MAX_POINTS];
    size_t n;
    uint64_t key;
    double count_end;       /* end of the newest count interval, 0 none */
};

struct ledger;

/* started_at: when the daemon started (the clock's time). */
struct ledger *ledger_new(double started_at);
void ledger_free(struct ledger *l);     /* NULL is a no-op */

/* Turn s into points (out is overwritten).  Counts come in interval order
 * per series. */
void ledger_add(struct ledger *l, const struct export_sample *s,
                struct ledger_out *out);

/* Running totals of the counts of series ls since the ledger started,
 * indexed by enum export_metric (only the count metrics of its family are
 * set in has); false when the ledger knows no count of it. */
bool ledger_totals(const struct ledger *l, const struct labelset *ls,
                   double tot[EXM__COUNT], bool has[EXM__COUNT]);

/* Series the ledger tracks (stats). */
size_t ledger_series(const struct ledger *l);

#endif
