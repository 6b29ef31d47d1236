/*
 * timefix.c - see timefix.h.
 */
#include "daemon/timefix.h"

#include <math.h>

#include "core/json.h"

/* Which members of a record are times: events happened, timers are due. */
struct tfields {
    const char *const *events;
    const char *const *timers;
};

static const char *const root_events[] = { "saved_at", NULL };
static const char *const instance_events[] = {
    "created_at", "active_at", "fired_at", "resolved_at", "last_true_at",
    "last_data_at", "last_eval_at", "data_through", NULL
};
static const char *const group_events[] = { "created_at", NULL };
static const char *const group_timers[] = { "next_flush", NULL };
static const char *const nflog_events[] = { "notified_at", NULL };
static const char *const alert_events[] = { "starts_at", "ends_at", NULL };
static const char *const entry_events[] = { "added_at", "first_attempt",
                                            NULL };
static const char *const entry_timers[] = { "next_attempt", NULL };
static const char *const notification_events[] = { "created_at", NULL };

/* One pass: find the latest event (shift == 0) or move every time. */
struct pass {
    double latest;
    double shift;
};

static void visit(cJSON *o, const char *const *names, struct pass *ps,
                  bool event)
{
    if (!cJSON_IsObject(o) || !names)
        return;
    for (size_t i = 0; names[i]; i++) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(o, names[i]);
        double v;
        if (!m || !json_number_value(m, &v) || !isfinite(v) || v <= 0)
            continue;
        if (ps->shift == 0) {
            if (event && v > ps->latest)
                ps->latest = v;
        } else {
            cJSON_ReplaceItemInObjectCaseSensitive(o, names[i],
                                                   json_double(v + ps->shift));
        }
    }
}

static void visit_record(cJSON *o, struct tfields f, struct pass *ps)
{
    visit(o, f.events, ps, true);
    visit(o, f.timers, ps, false);
}

static void visit_alerts(cJSON *o, struct pass *ps)
{
    cJSON *a;
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "alerts");
    if (cJSON_IsArray(arr))
        cJSON_ArrayForEach(a, arr)
            visit(a, alert_events, ps, true);
}

static cJSON *array_at(cJSON *root, const char *section, const char *name)
{
    cJSON *s = section ? cJSON_GetObjectItemCaseSensitive(root, section)
                       : root;
    cJSON *arr = cJSON_IsObject(s) ? cJSON_GetObjectItemCaseSensitive(s, name)
                                   : NULL;
    return cJSON_IsArray(arr) ? arr : NULL;
}

static void walk(cJSON *root, struct pass *ps)
{
    cJSON *it, *arr;
    visit(root, root_events, ps, true);
    if ((arr = array_at(root, NULL, "instances")) != NULL)
        cJSON_ArrayForEach(it, arr)
            visit(cJSON_GetObjectItemCaseSensitive(it, "state"),
                  instance_events, ps, true);
    if ((arr = array_at(root, "dispatch", "groups")) != NULL)
        cJSON_ArrayForEach(it, arr) {
            visit_record(it, (struct tfields){ group_events, group_timers },
                         ps);
            visit(cJSON_GetObjectItemCaseSensitive(it, "nflog"),
                  nflog_events, ps, true);
            visit_alerts(it, ps);
        }
    if ((arr = array_at(root, "outbox", "entries")) != NULL)
        cJSON_ArrayForEach(it, arr) {
            visit_record(it, (struct tfields){ entry_events, entry_timers },
                         ps);
            cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "notification");
            visit(n, notification_events, ps, true);
            if (cJSON_IsObject(n))
                visit_alerts(n, ps);
        }
}

double timefix_state_doc(cJSON *root, double now, double tolerance_s)
{
    if (!cJSON_IsObject(root) || !(now > 0))
        return 0;
    struct pass ps = { 0, 0 };
    walk(root, &ps);
    if (!(ps.latest > now + tolerance_s))
        return 0;
    double ahead = ps.latest - now;
    ps.shift = -ahead;
    walk(root, &ps);
    return ahead;
}

static void shift(double *t, double delta_s)
{
    if (*t > 0)
        *t += delta_s;
}

void timefix_instance(struct alert_instance *st, double delta_s, double now)
{
    shift(&st->created_at, delta_s);
    shift(&st->active_at, delta_s);
    shift(&st->fired_at, delta_s);
    shift(&st->resolved_at, delta_s);
    shift(&st->last_true_at, delta_s);
    shift(&st->last_data_at, delta_s);
    shift(&st->last_eval_at, delta_s);
    if (st->data_through > now)
        st->data_through = now;
}

double clock_watch_step(struct clock_watch *w, const struct clock *c,
                        double tolerance_s)
{
    double offset = clock_wall(c) - clock_mono(c);
    double step = w->known ? offset - w->offset : 0;
    /* followed every pass: only a jump within one pass is a step (slow
     * drift is the clock discipline's business) */
    w->offset = offset;
    w->known = true;
    return fabs(step) > tolerance_s ? step : 0;
}
