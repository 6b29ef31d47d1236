/*
 * sim_model.h - the numbers the simulator serves, each a pure function of
 * the scenario and time.  Nothing is stored per minute: any historical
 * range is recomputed on demand, and every endpoint derives its figures
 * from the same per-minute event counts, so they agree with each other.
 *
 * Time convention: a window [start, end) covers the whole minutes M with
 * floor_minute(start) <= M < end and M <= now; minutes that start in the
 * future do not exist yet.
 */
#ifndef SEGALERT_SIM_MODEL_H
#define SEGALERT_SIM_MODEL_H

#include <stdint.h>

#include "sim_scenario.h"

/* Events the source received in the minute starting at minute*60. */
int64_t model_minute_events(const struct scenario *sc,
                            const struct sim_source *s, int64_t minute);

/* Sum of minute counts over [start, end), clipped at now (unix seconds). */
int64_t model_events(const struct scenario *sc, const struct sim_source *s,
                     double start, double end, double now);

/* Source-level pipeline counts of one minute (the events so far when it
 * is the current minute): what Delivery Overview's source steps show. */
struct source_minute {
    int64_t received;           /* == model_minute_events (event volume) */
    int64_t failed_on_ingest;   /* refused at ingestion, not in received */
    int64_t filtered_at_source; /* part of received, reaches no destination */
};
void model_source_minute(const struct scenario *sc, const struct sim_source *s,
                         int64_t minute, double now, struct source_minute *out);

/*
 * The buckets of a window: bucket i starts at first + i * bucket_s (the
 * first one also takes a minute that starts before first).  The window
 * covers the minutes M with floor_minute(start) <= M < end and M <= now.
 */
struct model_window {
    double start, end, now;
    double first, bucket_s;
    size_t n;
};

/*
 * What one connection did in one bucket.  filtered and unsubscribed count
 * events (by the minute they arrived); the rest counts deliveries (events
 * x fanout) by the time the outcome happened: an event that failed during
 * a destination_outage is `retried` when it arrives but a success or
 * `expired` only when its retries end, possibly in a later bucket, and
 * not at all while that is still in the future.
 */
struct conn_bucket {
    int64_t filtered;           /* dropped by destination filters */
    int64_t unsubscribed;       /* matched no Actions subscription */
    int64_t deliveries;         /* deliveries attempted, by arrival */
    int64_t succ_first, succ_retry;
    int64_t discarded, expired, retried;
    int64_t *by_reason;         /* discarded per scenario reason code
                                   (sc->n_reasons entries) */
    double tts_w, tts95_w, tts_n;   /* time to success: weighted sums */
    double tfa_w, tfa95_w, tfa_n;   /* time to first attempt */
};

/* w->n buckets for connection d of source s (all zero for a disabled or
 * device-mode connection); free with model_conn_free. */
struct conn_bucket *model_connection(const struct scenario *sc,
                                     const struct sim_source *s,
                                     const struct sim_dest *d,
                                     const struct model_window *w);
void model_conn_free(struct conn_bucket *b);

struct delivery_summary {
    int64_t successes, first_attempt, after_retry;
    int64_t discarded, expired, retried;
    int64_t attempted;          /* deliveries attempted in the window */
    double tts_avg_s, tts_p95_s;  /* time to success, seconds */
    double tfa_avg_s, tfa_p95_s;  /* time to first attempt, seconds */
};

/* Delivery figures of one connection over [start, end) clipped at now:
 * model_connection with one bucket. */
void model_delivery(const struct scenario *sc, const struct sim_source *s,
                    const struct sim_dest *d, double start, double end,
                    double now, struct delivery_summary *out);

/* Minute range [*m0, *m1) of a window, clipped so no minute is future. */
void model_window_minutes(double start, double end, double now,
                          int64_t *m0, int64_t *m1);

struct mtu_counts {
    int64_t identified, never_identified, anonymous, anonymous_identified;
};

/* Cumulative usage of a source from period_start up to t (> period_start). */
void model_mtu(const struct scenario *sc, const struct sim_source *s,
               double period_start, double t, struct mtu_counts *out);
int64_t model_api_calls(const struct scenario *sc, const struct sim_source *s,
                        double period_start, double t);

/* Usage period (billing cycle) containing day t: [*ps, *pe). */
void model_period(const struct scenario *sc, double t, double *ps, double *pe);

/* Whether an incident is active at t, and its active seconds in [a, b). */
int model_incident_active(const struct sim_incident *inc, double t);
double model_incident_overlap(const struct sim_incident *inc, double a,
                              double b);

/* Deterministic uniform [0,1) from a few integers (splitmix64). */
double model_hash_unit(uint64_t a, uint64_t b, uint64_t c);

/* Calendar helpers (proleptic Gregorian, UTC). */
int64_t model_days_from_civil(int64_t y, int m, int d);
void model_civil_from_days(int64_t z, int *y, int *m, int *d);
/* "Thu, 20 Aug 2026 16:01:00 +0000" */
void model_format_rfc5322(double t, char *buf, size_t len);

#endif
