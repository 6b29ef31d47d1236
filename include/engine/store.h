/*
 * store.h - the in-memory series store: (family, label set) -> series, each
 * holding the recent samples of every metric of its family (README.md "What is collected").
 *
 * A series keeps one time axis shared by all its metrics (samples of one
 * poll arrive together) and one value column per metric of the family;
 * a metric absent from a sample is NaN in its column ("no data", never 0).
 * The rows form a ring ordered by time.  Capacity starts small, grows on
 * demand towards retention / spacing and beyond only while the oldest row
 * is still inside retention, never past max_samples: memory follows what
 * the rules need.
 *
 * Ownership: the store owns its series; a struct series pointer is valid
 * until store_expire() drops it or store_free().  Label sets are borrowed
 * and must outlive the store (they live in a label_pool).  Not thread-safe.
 *
 * Windows are left-open: (from, to].  A sample exactly on the boundary
 * between two adjacent windows belongs to the later one only, so
 * sum(event_volume, 1h) over hourly buckets counts one bucket, and
 * sum(m, 1h) + sum(m, 1h, 1h) == sum(m, 2h) (Prometheus 3 semantics).
 */
#ifndef SEGALERT_STORE_H
#define SEGALERT_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/labels.h"
#include "engine/metrics.h"

#define STORE_DEFAULT_MAX_SAMPLES 65536
#define STORE_DEFAULT_SPACING_S   60.0

struct store_limits {
    /* Keep rows with t >= newest_t - retention_s (per family).  The caller
     * derives it from the longest window + offset any rule needs
     * (expr_max_lookback) plus a poll interval of slack.  0 keeps only the
     * newest row. */
    double retention_s[FAM__COUNT];
    /* Expected spacing of samples (the poll interval or bucket size), to
     * size rings; 0 = STORE_DEFAULT_SPACING_S. */
    double spacing_s[FAM__COUNT];
    /* Hard cap on rows per series; 0 = STORE_DEFAULT_MAX_SAMPLES.  When
     * reached, the oldest row is dropped. */
    size_t max_samples;
};

struct store;
struct series;

/* lim is copied; NULL = zero retention, default spacing and cap. */
struct store *store_new(const struct store_limits *lim);
void store_free(struct store *st);                  /* NULL is a no-op */
/* New limits (e.g. after a reload).  Applied to each series at its next
 * store_add; rings never shrink. */
void store_set_limits(struct store *st, const struct store_limits *lim);

/* O(1) lookup by label set pointer; get_or_add creates an empty series. */
struct series *store_find(const struct store *st, enum family fam,
                          const struct labelset *ls);
struct series *store_get_or_add(struct store *st, enum family fam,
                                const struct labelset *ls);

/*
 * Add one row at time t (unix seconds): v[id] for each id with has[id] of
 * the series' family; other families' ids are ignored.  Derived metrics
 * must already be filled in (metrics_derive).
 * - a row with the same t is merged: present metrics replace the stored
 *   value, absent ones keep theirs (re-polls are idempotent, and usage
 *   endpoints add mtu and api_calls to the same day separately);
 * - an older t is inserted in time order;
 * - a row with no metric present is still recorded (all no-data): a poll
 *   that returned nothing makes the latest value "no data";
 * - t older than newest - retention is dropped, and adding a newer row
 *   drops rows that fall out of retention.
 * Updates series_last_update to max(itself, t).
 */
void store_add(struct store *st, struct series *s, double t,
               const double v[M__COUNT], const bool has[M__COUNT]);

/* Iterate the series of a family: i in [0, store_count).  Order is
 * arbitrary and changes when store_expire removes series. */
size_t store_count(const struct store *st, enum family fam);
struct series *store_at(const struct store *st, enum family fam, size_t i);

/* Drop series whose last update is older than now - stale_after_s.
 * Returns how many were dropped.  Invalidates their pointers. */
size_t store_expire(struct store *st, double now, double stale_after_s);

/* Totals: series, rows, and heap bytes used by the store. */
void store_stats(const struct store *st, size_t *nseries, size_t *nsamples,
                 size_t *bytes);

const struct labelset *series_labels(const struct series *s);
enum family series_family(const struct series *s);
/* Newest sample time added, or the latest series_touch(); -INFINITY when
 * never updated. */
double series_last_update(const struct series *s);
/* Mark the series as seen at now (a successful poll with no samples). */
void series_touch(struct series *s, double now);
/* Number of rows held. */
size_t series_len(const struct series *s);

/* Value of metric m in the newest row: what a bare metric name means.
 * false when the series has no rows, m is not of its family, or m is
 * absent from that row.  *t_out (may be NULL) gets the row's time. */
bool series_latest(const struct series *s, enum metric_id m, double *v_out,
                   double *t_out);

/* Copy up to max (t, v) points of metric m with t in (from, to], oldest
 * first, skipping rows where m is absent (sparklines, /metrics).  Returns
 * how many were written. */
size_t series_points(const struct series *s, enum metric_id m, double from,
                     double to, double *t_out, double *v_out, size_t max);

enum store_agg {
    AGG_AVG, AGG_MIN, AGG_MAX, AGG_SUM, AGG_COUNT, AGG_LAST,
    AGG_DELTA,      /* last - first */
    AGG_RATE,       /* (last - first) / (t_last - t_first), per second */
};

/*
 * Aggregate metric m over the rows with t in (from, to], ignoring rows
 * where m is absent.  Returns false ("no value", *out untouched) when the
 * window has no sample - except AGG_COUNT, which is then 0 - and for
 * DELTA/RATE with fewer than 2 samples.
 */
bool series_window(const struct series *s, enum metric_id m,
                   enum store_agg agg, double from, double to, double *out);

/*
 * Least-squares line v = a + b * (t - t0) over the samples of m in
 * (from, to], t0 = time of the first sample (keeps t - t0 small for
 * precision, as Zabbix does).  false with fewer than 2 samples.
 */
bool series_fit(const struct series *s, enum metric_id m, double from,
                double to, double *a, double *b, double *t0);
/* Value of the fitted line at time `at` (forecast). */
bool series_forecast(const struct series *s, enum metric_id m, double from,
                     double to, double at, double *out);
/*
 * Seconds from now until the fitted line reaches threshold: 0 when the
 * line at now is already at or beyond threshold in its direction of
 * travel (rising and >= threshold, or falling and <= threshold); +INFINITY
 * when the line is flat and not at the threshold.
 */
bool series_timeleft(const struct series *s, enum metric_id m, double from,
                     double to, double now, double threshold, double *out);

#endif
