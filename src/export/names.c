/*
 * names.c - see names.h.
 */
#include "export/names.h"

#include <stddef.h>

#define CONN(id, name, m, help) \
    [id] = { name, "connection", EXK_COUNT, m, false, "{event}", NULL, \
             "segment_" name "_total", help }
#define LAT(id, name, m, help) \
    [id] = { name, "connection", EXK_GAUGE, m, false, "s", "second", \
             "segment_" name "_seconds", help }
#define USAGE(id, name, m, unit, ws, help) \
    [id] = { name, "usage", EXK_GAUGE, m, ws, unit, NULL, "segment_" name, \
             help }

const struct export_metric_info export_metric_table[EXM__COUNT] = {
    CONN(EXM_SUCCESSES, "successes", M_SUCCESSES,
         "Events delivered, per delivery window."),
    CONN(EXM_SUCCESSES_FIRST_ATTEMPT, "successes_first_attempt",
         M_SUCCESSES_FIRST_ATTEMPT,
         "Events delivered on the first attempt, per delivery window."),
    CONN(EXM_SUCCESSES_AFTER_RETRY, "successes_after_retry",
         M_SUCCESSES_AFTER_RETRY,
         "Events delivered after one or more retries, per delivery window."),
    CONN(EXM_DISCARDED, "discarded", M_DISCARDED,
         "Events permanently failed (discarded), per delivery window."),
    CONN(EXM_EXPIRED, "expired", M_EXPIRED,
         "Events that ran out of retry time, per delivery window."),
    CONN(EXM_RETRIED, "retried", M_RETRIED,
         "Retry attempts, per delivery window."),
    CONN(EXM_ATTEMPTED, "attempted", M_ATTEMPTED,
         "successes + discarded + expired, per delivery window."),
    LAT(EXM_TIME_TO_SUCCESS_AVG, "time_to_success_avg", M_TIME_TO_SUCCESS_AVG,
        "Average time to successful delivery over the window, seconds."),
    LAT(EXM_TIME_TO_SUCCESS_P95, "time_to_success_p95", M_TIME_TO_SUCCESS_P95,
        "95th percentile time to successful delivery over the window, "
        "seconds."),
    LAT(EXM_TIME_TO_FIRST_ATTEMPT_AVG, "time_to_first_attempt_avg",
        M_TIME_TO_FIRST_ATTEMPT_AVG,
        "Average time to the first delivery attempt over the window, "
        "seconds."),
    LAT(EXM_TIME_TO_FIRST_ATTEMPT_P95, "time_to_first_attempt_p95",
        M_TIME_TO_FIRST_ATTEMPT_P95,
        "95th percentile time to the first delivery attempt over the "
        "window, seconds."),
    [EXM_EVENT_VOLUME] = { "event_volume", "source", EXK_COUNT,
        M_EVENT_VOLUME, false, "{event}", NULL, "segment_event_volume_total",
        "Events received by a source, per complete volume bucket." },
    [EXM_WORKSPACE_EVENT_VOLUME] = { "workspace_event_volume", "source",
        EXK_COUNT, M_EVENT_VOLUME, true, "{event}", NULL,
        "segment_workspace_event_volume_total",
        "Events received by every source of the workspace, per complete "
        "volume bucket." },
    USAGE(EXM_MTU, "mtu", M_MTU, "{user}", false,
          "Monthly tracked users of a source so far this usage period."),
    USAGE(EXM_MTU_IDENTIFIED, "mtu_identified", M_MTU_IDENTIFIED, "{user}",
          false, "Identified users of a source so far this period."),
    USAGE(EXM_MTU_ANONYMOUS, "mtu_anonymous", M_MTU_ANONYMOUS, "{user}",
          false, "Anonymous users of a source so far this period."),
    USAGE(EXM_MTU_ANONYMOUS_IDENTIFIED, "mtu_anonymous_identified",
          M_MTU_ANONYMOUS_IDENTIFIED, "{user}", false,
          "Anonymous users of a source later identified, this period."),
    USAGE(EXM_MTU_NEVER_IDENTIFIED, "mtu_never_identified",
          M_MTU_NEVER_IDENTIFIED, "{user}", false,
          "Users of a source never identified, this period."),
    USAGE(EXM_API_CALLS, "api_calls", M_API_CALLS, "{call}", false,
          "API calls of a source so far this usage period."),
    USAGE(EXM_WORKSPACE_MTU, "workspace_mtu", M_MTU, "{user}", true,
          "Monthly tracked users of the workspace so far this usage period."),
    USAGE(EXM_WORKSPACE_MTU_IDENTIFIED, "workspace_mtu_identified",
          M_MTU_IDENTIFIED, "{user}", true,
          "Identified users of the workspace so far this period."),
    USAGE(EXM_WORKSPACE_MTU_ANONYMOUS, "workspace_mtu_anonymous",
          M_MTU_ANONYMOUS, "{user}", true,
          "Anonymous users of the workspace so far this period."),
    USAGE(EXM_WORKSPACE_MTU_ANONYMOUS_IDENTIFIED,
          "workspace_mtu_anonymous_identified", M_MTU_ANONYMOUS_IDENTIFIED,
          "{user}", true,
          "Anonymous users of the workspace later identified, this period."),
    USAGE(EXM_WORKSPACE_MTU_NEVER_IDENTIFIED, "workspace_mtu_never_identified",
          M_MTU_NEVER_IDENTIFIED, "{user}", true,
          "Users of the workspace never identified, this period."),
    USAGE(EXM_WORKSPACE_API_CALLS, "workspace_api_calls", M_API_CALLS,
          "{call}", true, "API calls of the workspace so far this period."),
    USAGE(EXM_WORKSPACE_MTU_LIMIT, "workspace_mtu_limit", -1, "{user}", true,
          "The plan's MTU limit (mtu_limit of the workspace)."),
    USAGE(EXM_WORKSPACE_API_CALLS_LIMIT, "workspace_api_calls_limit", -1,
          "{call}", true,
          "The plan's API call limit (api_calls_limit of the workspace)."),
    [EXM_ALERT] = { "alert", "alert", EXK_GAUGE, -1, false, "1", NULL, NULL,
        "1 while an alert is pending or firing (labels rule, severity, "
        "state and the alert's labels)." },
    [EXM_EXPORT_TEST] = { "export_test", "segalert", EXK_GAUGE, -1, false,
        "1", NULL, NULL, "1, sent by `segalert export-test` (label "
        "exporter)." },
};

int export_metric_of(enum family fam, enum metric_id m, bool workspace_level)
{
    for (int i = 0; i < EXM__COUNT; i++) {
        const struct export_metric_info *x = &export_metric_table[i];
        if (x->metric == (int)m && metric_table[m].family == fam &&
            (fam == FAM_CONNECTION || x->workspace_level == workspace_level))
            return i;
    }
    return -1;
}

bool export_is_workspace_level(enum family fam, const char *source_label)
{
    return fam != FAM_CONNECTION && (!source_label || !source_label[0]);
}
