/*
 * store.h - the in-memory series store: (family, label set) -> series, each
 * holding the newest value of every metric of its family and the recent
 * history of the metrics the rules read (README.md "What is collected").
 *
 * What a series keeps:
 * - the newest row: the value of every metric of the family in the newest
 *   sample (what a bare metric name, templates, the status page, /metrics
 *   and `segalert fetch` read);
 * - history, per metric, as far back as store_limits.history_s says: the
 *   caller derives it from the windows its rules read (rules.h
 *   metric_lookback_s), so a metric that no window reads costs no history.
 *   Metrics with the same history share one ring (one time axis, one
 *   column per metric); a metric absent from a sample is "no data" in its
 *   column (never 0).  Every sample adds a row to every ring, so a ring's
 *   rows are exactly the samples of the last history_s seconds.
 *
 * Values are stored in the narrowest form that gives them back bit for bit
 * (a 16-bit count, a float, else a double; times as 32-bit offsets when
 * they are whole seconds), per column and per series: a read returns
 * exactly the double that was added.  Ring capacity starts small, grows
 * on demand towards history / spacing and beyond only while the oldest row
 * is still inside the history, never past max_samples: memory follows
 * what the rules need.
 *
 * Roll-up (store_limits.rollup_*, per family): rows older than
 * rollup_after_s are merged into buckets of rollup_step_s, stamped at the
 * bucket's end and holding the sum of the rows merged (for families whose
 * metrics are counts per bucket, like event volume: a week of minute rows
 * becomes a week of hourly rows, what the daemon back-fills at start).
 *
 * Ownership: the store owns its series; a struct series pointer is valid
 * until store_expire() drops it, store_set_limits() moves it (when the
 * history its family keeps changes) or store_free(); its series_id()
 * stays.  Label sets are borrowed and must outlive the store (they live in
 * a label_pool).  Not thread-safe.
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
/* store_limits.history_s: keep no history of this metric, only its value
 * in the newest row. */
#define STORE_LATEST_ONLY (-1.0)

struct store_limits {
    /* Keep rows with t >= newest_t - retention_s (per family): the most
     * history any metric of the family keeps, and how old a sample may be
     * to be accepted.  0 keeps only the newest row. */
    double retention_s[FAM__COUNT];
    /* Expected spacing of samples (the poll interval or bucket size), to
     * size rings; 0 = STORE_DEFAULT_SPACING_S. */
    double spacing_s[FAM__COUNT];
    /* Hard cap on rows per ring; 0 = STORE_DEFAULT_MAX_SAMPLES.  When
     * reached, the oldest row is dropped. */
    size_t max_samples;
    /* History per metric, seconds (rows with t >= newest_t - history_s),
     * at most its family's retention_s.  0 = the family's retention_s (a
     * zeroed struct keeps every metric as long as its family);
     * STORE_LATEST_ONLY = only the newest value. */
    double history_s[M__COUNT];
    /* Roll-up per family: rows whose bucket of rollup_step_s ends at or
     * before newest_t - rollup_after_s are merged into one row per bucket
     * (stamped at the bucket end, values summed).  0 = never. */
    double rollup_after_s[FAM__COUNT];
    double rollup_step_s[FAM__COUNT];
};

struct store;
struct series;

/* lim is copied; NULL = zero retention, default spacing and cap. */
struct store *store_new(const struct store_limits *lim);
void store_free(struct store *st);                  /* NULL is a no-op */
/* New limits (e.g. after a reload).  Applied to every series now: a metric
 * that gains history starts it from the rows its family still holds (the
 * rows of the longest history it had, its values where it had a column,
 * else no data); a metric that loses history keeps its newest value.
 * Series of a family whose history changes move (new pointers). */
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
 *   drops rows that fall out of each metric's history;
 * - with roll-up, a row older than the rolled-up part that does not fall
 *   on a bucket end is dropped (its bucket already counts it).
 * Updates series_last_update to max(itself, t).
 */
void store_add(struct store *st, struct series *s, double t,
               const double v[M__COUNT], const bool has[M__COUNT]);

/* Iterate the series of a family: i in [0, store_count).  Order is
 * creation order until store_expire removes series (it then moves the
 * last one into the hole). */
size_t store_count(const struct store *st, enum family fam);
struct series *store_at(const struct store *st, enum family fam, size_t i);

/* Drop series whose last update is older than now - stale_after_s.
 * Returns how many were dropped.  Invalidates their pointers. */
size_t store_expire(struct store *st, double now, double stale_after_s);

/* Totals: series, rows (of every ring), and heap bytes used by the store. */
void store_stats(const struct store *st, size_t *nseries, size_t *nsamples,
                 size_t *bytes);
/* A hint for a caller reading store_at(st, fam, i) for i = 0, 1, 2...:
 * call it before reading series i; it asks the CPU for the series a few
 * places ahead, so the reads do not wait on memory.  No effect on
 * results. */
void store_prefetch(const struct store *st, enum family fam, size_t i);
/* Does the store keep history of m (else only its newest value)? */
bool store_keeps_history(const struct store *st, enum metric_id m);

/* A small integer naming the series among those of its family for as
 * long as it is in the store, below store_id_bound(st, family); ids of
 * expired series are reused (a caller keeping per-series data in a plain
 * array checks the series' labels).  Survives store_set_limits(). */
size_t series_id(const struct series *s);
size_t store_id_bound(const struct store *st, enum family fam);

const struct labelset *series_labels(const struct series *s);
enum family series_family(const struct series *s);
/* Newest sample time added, or the latest series_touch(); -INFINITY when
 * never updated. */
double series_last_update(const struct series *s);
/* Mark the series as seen at now (a successful poll with no samples). */
void series_touch(struct series *s, double now);
/* Number of samples held: the rows of its longest history (0 before the
 * first sample; 1 when it keeps no history, once it has a sample). */
size_t series_len(const struct series *s);

/* Value of metric m in the newest row: what a bare metric name means.
 * false when the series has no rows, m is not of its family, or m is
 * absent from that row.  *t_out (may be NULL) gets the row's time. */
bool series_latest(const struct series *s, enum metric_id m, double *v_out,
                   double *t_out);

/* Copy up to max (t, v) points of metric m with t in (from, to], oldest
 * first, skipping rows where m is absent (sparklines).  Only the history
 * the store keeps of m: none for a metric kept as newest value only.
 * Returns how many were written. */
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
 * DELTA/RATE with fewer than 2 samples.  A metric kept as newest value
 * only has no rows.
 */
bool series_window(const struct series *s, enum metric_id m,
                   enum store_agg agg, double from, double to, double *out);

/* What one scan of a window gathers: any aggregate follows from it. */
struct store_window {
    size_t n;                       /* samples (rows where m is present) */
    double sum, min, max;
    double first, last, t_first, t_last;
};
/* Scan the rows of m with t in (from, to] once.  false when m is not a
 * metric of the series' family (then no aggregate has a value, not even
 * COUNT); a metric kept as newest value only gives n = 0. */
bool series_window_scan(const struct series *s, enum metric_id m,
                        double from, double to, struct store_window *w);
/* The aggregate of a scanned window, as series_window() gives it. */
bool store_window_agg(const struct store_window *w, enum store_agg agg,
                      double *out);

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
