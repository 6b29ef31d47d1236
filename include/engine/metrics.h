/*
 * metrics.h - the catalogue of metrics segalert collects (README.md "What is collected"): names
 * usable in rules, the family each belongs to, and the derived ones.
 *
 * Metric ids are small integers so that a series' per-metric rings can be
 * an array indexed by id.  Derived metrics (attempted, discard_ratio,
 * retry_ratio) are computed once when samples are stored, by
 * metrics_derive(), so window functions work on them like on any other.
 */
#ifndef SEGALERT_METRICS_H
#define SEGALERT_METRICS_H

#include <stdbool.h>

enum family {
    FAM_CONNECTION = 0,     /* source -> destination delivery metrics */
    FAM_SOURCE,             /* event volume per source */
    FAM_USAGE,              /* MTU and API calls, workspace or per source */
    FAM__COUNT
};

enum metric_id {
    /* connection family */
    M_SUCCESSES = 0,
    M_SUCCESSES_FIRST_ATTEMPT,
    M_SUCCESSES_AFTER_RETRY,
    M_DISCARDED,
    M_EXPIRED,
    M_RETRIED,
    M_TIME_TO_SUCCESS_AVG,
    M_TIME_TO_SUCCESS_P95,
    M_TIME_TO_FIRST_ATTEMPT_AVG,
    M_TIME_TO_FIRST_ATTEMPT_P95,
    M_ATTEMPTED,            /* derived: successes + discarded + expired */
    M_DISCARD_RATIO,        /* derived: (discarded + expired) / attempted */
    M_RETRY_RATIO,          /* derived: successes_after_retry / successes */
    M_SOURCE_VOLUME,        /* joined: events the connection's source received
                               during the delivery window (from event volume) */
    /* source family */
    M_EVENT_VOLUME,
    /* usage family */
    M_MTU,                  /* identified + neverIdentified */
    M_MTU_IDENTIFIED,
    M_MTU_ANONYMOUS,
    M_MTU_ANONYMOUS_IDENTIFIED,
    M_MTU_NEVER_IDENTIFIED,
    M_API_CALLS,
    M__COUNT
};

/* What a metric's numbers mean, for people: the status page, `segalert
 * status`, log lines and notifications format a value by its unit. */
enum metric_unit {
    UNIT_COUNT = 0,         /* events, users, calls: SI (48.3k) */
    UNIT_RATIO,             /* 0..1: percent (4.8 %) */
    UNIT_SECONDS,           /* a time: duration (2m0s) */
    UNIT__COUNT
};

struct metric_info {
    const char *name;       /* rule name, also /metrics "segment_<name>" */
    enum family family;
    bool derived;
    const char *help;       /* one line for /metrics HELP and docs */
    enum metric_unit unit;  /* from the name: metric_unit_of_name() */
};

extern const struct metric_info metric_table[M__COUNT];

/* Name -> id, or -1. */
int metric_lookup(const char *name);
/* Closest metric name within edit distance 3, or NULL (did-you-mean). */
const char *metric_suggest(const char *name);
const char *family_name(enum family f);
/* The unit a metric name implies, the one rule for every metric:
 * "*_ratio" is a ratio, "time_*" ("*_avg", "*_p95" of a time) are seconds,
 * everything else counts.  metric_table[].unit is filled from it. */
enum metric_unit metric_unit_of_name(const char *name);
/* "count", "ratio", "seconds" (JSON and docs). */
const char *metric_unit_name(enum metric_unit u);
/* metric_unit_name() back; UNIT_COUNT for NULL or an unknown name. */
enum metric_unit metric_unit_parse(const char *s);     /* "connection" ... */
int family_lookup(const char *name);        /* -1 when unknown */

/*
 * Fill in derived metrics of one connection sample.  vals[] is indexed by
 * metric id, has[] says which are present.  A derived value whose inputs
 * are missing or whose denominator is 0 is left absent (never 0 or inf).
 */
void metrics_derive(double vals[M__COUNT], bool has[M__COUNT]);

#endif
