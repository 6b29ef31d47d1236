/*
 * metrics.c - see metrics.h.
 */
#include "engine/metrics.h"

#include "core/util.h"

#include <string.h>

const struct metric_info metric_table[M__COUNT] = {
    [M_SUCCESSES] = { "successes", FAM_CONNECTION, false,
        "Events delivered in the delivery window.", UNIT_COUNT },
    [M_SUCCESSES_FIRST_ATTEMPT] = { "successes_first_attempt", FAM_CONNECTION, false,
        "Events delivered on the first attempt.", UNIT_COUNT },
    [M_SUCCESSES_AFTER_RETRY] = { "successes_after_retry", FAM_CONNECTION, false,
        "Events delivered after one or more retries.", UNIT_COUNT },
    [M_DISCARDED] = { "discarded", FAM_CONNECTION, false,
        "Events permanently failed (discarded).", UNIT_COUNT },
    [M_EXPIRED] = { "expired", FAM_CONNECTION, false,
        "Events that ran out of retry time.", UNIT_COUNT },
    [M_RETRIED] = { "retried", FAM_CONNECTION, false,
        "Retry attempts.", UNIT_COUNT },
    [M_TIME_TO_SUCCESS_AVG] = { "time_to_success_avg", FAM_CONNECTION, false,
        "Average time to successful delivery, seconds.", UNIT_SECONDS },
    [M_TIME_TO_SUCCESS_P95] = { "time_to_success_p95", FAM_CONNECTION, false,
        "95th percentile time to successful delivery, seconds.", UNIT_SECONDS },
    [M_TIME_TO_FIRST_ATTEMPT_AVG] = { "time_to_first_attempt_avg", FAM_CONNECTION, false,
        "Average time to first delivery attempt, seconds.", UNIT_SECONDS },
    [M_TIME_TO_FIRST_ATTEMPT_P95] = { "time_to_first_attempt_p95", FAM_CONNECTION, false,
        "95th percentile time to first delivery attempt, seconds.", UNIT_SECONDS },
    [M_ATTEMPTED] = { "attempted", FAM_CONNECTION, true,
        "successes + discarded + expired.", UNIT_COUNT },
    [M_DISCARD_RATIO] = { "discard_ratio", FAM_CONNECTION, true,
        "(discarded + expired) / attempted.", UNIT_RATIO },
    [M_RETRY_RATIO] = { "retry_ratio", FAM_CONNECTION, true,
        "successes_after_retry / successes.", UNIT_RATIO },
    [M_SOURCE_VOLUME] = { "source_volume", FAM_CONNECTION, false,
        "Events the source received during the delivery window.", UNIT_COUNT },
    [M_EVENT_VOLUME] = { "event_volume", FAM_SOURCE, false,
        "Events received by the source per bucket.", UNIT_COUNT },
    [M_MTU] = { "mtu", FAM_USAGE, false,
        "Monthly tracked users so far this period (identified + never identified).", UNIT_COUNT },
    [M_MTU_IDENTIFIED] = { "mtu_identified", FAM_USAGE, false,
        "Identified users so far this period.", UNIT_COUNT },
    [M_MTU_ANONYMOUS] = { "mtu_anonymous", FAM_USAGE, false,
        "Anonymous users so far this period.", UNIT_COUNT },
    [M_MTU_ANONYMOUS_IDENTIFIED] = { "mtu_anonymous_identified", FAM_USAGE, false,
        "Anonymous users later identified so far this period.", UNIT_COUNT },
    [M_MTU_NEVER_IDENTIFIED] = { "mtu_never_identified", FAM_USAGE, false,
        "Users never identified so far this period.", UNIT_COUNT },
    [M_API_CALLS] = { "api_calls", FAM_USAGE, false,
        "API calls so far this period.", UNIT_COUNT },
};

enum metric_unit metric_unit_of_name(const char *name)
{
    if (!name)
        return UNIT_COUNT;
    size_t n = strlen(name);
    if (n > 6 && streq(name + n - 6, "_ratio"))
        return UNIT_RATIO;
    if (str_has_prefix(name, "time_"))
        return UNIT_SECONDS;
    return UNIT_COUNT;
}

const char *metric_unit_name(enum metric_unit u)
{
    static const char *const names[UNIT__COUNT] = { "count", "ratio",
                                                    "seconds" };
    return (unsigned)u < UNIT__COUNT ? names[u] : "count";
}

enum metric_unit metric_unit_parse(const char *s)
{
    for (int u = 0; u < UNIT__COUNT; u++)
        if (streq(s, metric_unit_name((enum metric_unit)u)))
            return (enum metric_unit)u;
    return UNIT_COUNT;
}

int metric_lookup(const char *name)
{
    for (int i = 0; i < M__COUNT; i++)
        if (streq(metric_table[i].name, name))
            return i;
    return -1;
}

const char *metric_suggest(const char *name)
{
    const char *best = NULL;
    int best_d = 4;
    for (int i = 0; i < M__COUNT; i++) {
        int d = edit_distance(name, metric_table[i].name, 3);
        if (d < best_d) {
            best_d = d;
            best = metric_table[i].name;
        }
    }
    return best;
}

static const char *family_names[FAM__COUNT] = { "connection", "source", "usage" };

const char *family_name(enum family f)
{
    return (unsigned)f < FAM__COUNT ? family_names[f] : "?";
}

int family_lookup(const char *name)
{
    for (int i = 0; i < FAM__COUNT; i++)
        if (streq(family_names[i], name))
            return i;
    return -1;
}

void metrics_derive(double v[M__COUNT], bool has[M__COUNT])
{
    has[M_ATTEMPTED] = has[M_DISCARD_RATIO] = has[M_RETRY_RATIO] = false;
    /* attempted needs successes; discarded/expired missing count as absent
     * inputs only when both are missing (a summary without "expired" is
     * still a valid delivery summary). */
    if (has[M_SUCCESSES] && (has[M_DISCARDED] || has[M_EXPIRED])) {
        double failed = (has[M_DISCARDED] ? v[M_DISCARDED] : 0) +
                        (has[M_EXPIRED] ? v[M_EXPIRED] : 0);
        v[M_ATTEMPTED] = v[M_SUCCESSES] + failed;
        has[M_ATTEMPTED] = true;
        if (v[M_ATTEMPTED] > 0) {
            v[M_DISCARD_RATIO] = failed / v[M_ATTEMPTED];
            has[M_DISCARD_RATIO] = true;
        }
    }
    if (has[M_SUCCESSES] && has[M_SUCCESSES_AFTER_RETRY] && v[M_SUCCESSES] > 0) {
        v[M_RETRY_RATIO] = v[M_SUCCESSES_AFTER_RETRY] / v[M_SUCCESSES];
        has[M_RETRY_RATIO] = true;
    }
}
