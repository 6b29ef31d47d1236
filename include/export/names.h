/*
 * names.h - the metrics segalert exports (README.md "Export to your
 * observability tool", the mapping table): for each one its name without
 * prefix, the family that is its Influx measurement, whether it is a count
 * (an amount over an interval that adds up) or a gauge, its unit, the
 * Segment metric it comes from and its name on /metrics.
 *
 * One aggregation level per name: a per-source series and the workspace
 * total (the series without a `source` label) of the same Segment metric
 * are different metrics here (`event_volume` and `workspace_event_volume`,
 * `mtu` and `workspace_mtu`), so that summing one name never counts an
 * event twice.  The catalogue's derived ratios and `source_volume` are not
 * exported: they are computed from the counts in the tool.
 *
 * Everything here is static data and pure functions, safe on any thread.
 */
#ifndef SEGALERT_EXPORT_NAMES_H
#define SEGALERT_EXPORT_NAMES_H

#include <stdbool.h>

#include "engine/metrics.h"

enum export_metric {
    /* connection: counts over the delivery window */
    EXM_SUCCESSES = 0,
    EXM_SUCCESSES_FIRST_ATTEMPT,
    EXM_SUCCESSES_AFTER_RETRY,
    EXM_DISCARDED,
    EXM_EXPIRED,
    EXM_RETRIED,
    EXM_ATTEMPTED,
    /* connection: gauges of the delivery window, seconds */
    EXM_TIME_TO_SUCCESS_AVG,
    EXM_TIME_TO_SUCCESS_P95,
    EXM_TIME_TO_FIRST_ATTEMPT_AVG,
    EXM_TIME_TO_FIRST_ATTEMPT_P95,
    /* source: counts per volume bucket */
    EXM_EVENT_VOLUME,
    EXM_WORKSPACE_EVENT_VOLUME,
    /* usage of one source: gauges, cumulative since the period start */
    EXM_MTU,
    EXM_MTU_IDENTIFIED,
    EXM_MTU_ANONYMOUS,
    EXM_MTU_ANONYMOUS_IDENTIFIED,
    EXM_MTU_NEVER_IDENTIFIED,
    EXM_API_CALLS,
    /* usage of the workspace, and its plan limits (when configured) */
    EXM_WORKSPACE_MTU,
    EXM_WORKSPACE_MTU_IDENTIFIED,
    EXM_WORKSPACE_MTU_ANONYMOUS,
    EXM_WORKSPACE_MTU_ANONYMOUS_IDENTIFIED,
    EXM_WORKSPACE_MTU_NEVER_IDENTIFIED,
    EXM_WORKSPACE_API_CALLS,
    EXM_WORKSPACE_MTU_LIMIT,
    EXM_WORKSPACE_API_CALLS_LIMIT,
    /* alert states: 1 while pending/firing, with rule, severity, state */
    EXM_ALERT,
    /* what `segalert export-test` sends: 1 */
    EXM_EXPORT_TEST,
    EXM__COUNT
};

enum export_kind {
    EXK_COUNT = 0,      /* an amount over [t, t + interval): adds up */
    EXK_GAUGE           /* a value at t */
};

struct export_metric_info {
    const char *name;       /* exported name without prefix */
    const char *family;     /* "connection", "source", "usage", "alert",
                               "segalert": the Influx measurement after
                               the prefix */
    enum export_kind kind;
    int metric;             /* the enum metric_id it comes from, -1 none */
    bool workspace_level;   /* the series without a source label */
    const char *unit;       /* UCUM, for OTLP: "{event}", "s", "{user}" */
    const char *dd_unit;    /* Datadog unit name, NULL when none fits */
    const char *prom;       /* name on /metrics; NULL: not there under
                               this name (alert states are ALERTS) */
    const char *help;       /* one line for docs, /metrics HELP, OTLP */
};

extern const struct export_metric_info export_metric_table[EXM__COUNT];

/* The exported metric of catalogue metric m for a series of family fam
 * that is (workspace_level) or is not a workspace total; -1 when m is not
 * exported. */
int export_metric_of(enum family fam, enum metric_id m, bool workspace_level);

/* Whether a series (its labels as a source label value or NULL) is a
 * workspace total: a source or usage series without a source label. */
bool export_is_workspace_level(enum family fam, const char *source_label);

#endif
