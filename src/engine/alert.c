/*
 * alert.c - see alert.h.
 *
 * A step runs in three phases:
 *   1. time bookkeeping (data-less time, api_down freeze);
 *   2. the state machine proper, which only changes in->state / severity /
 *      nodata and the episode times, and never emits;
 *   3. announcement: record the flap observation, decide flapping, and,
 *      when not flapping, emit whatever makes the consumers' view
 *      (announced_*) equal to the state.
 * Deriving events from "announced vs actual" rather than from each edge
 * makes flap suppression and its catch-up the same code path as the
 * normal case, and makes a restored instance never re-announce.
 */
#include "engine/alert.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

#define FLAP_MASK ((UINT32_C(1) << ALERT_FLAP_HISTORY) - 1)

struct emitter {
    struct alert_event *out;
    int max;
    int n;
};

struct alert_params alert_params_from_rule(const struct rule_cfg *rule,
                                           bool has_recover, bool has_warn)
{
    struct alert_params p = {
        .for_s = rule->for_s,
        .keep_firing_for_s = rule->keep_firing_for_s,
        .has_recover = has_recover,
        .has_warn = has_warn,
        .no_data = rule->no_data,
        .no_data_after_s = rule->no_data_after_s,
        .flap_detection = rule->flap_detection,
    };
    return p;
}

void alert_instance_init(struct alert_instance *in, double now)
{
    *in = (struct alert_instance){
        .state = ALERT_INACTIVE,
        .severity = ALERT_SEV_NONE,
        .created_at = now,
        .value = NAN,
        .announced_severity = ALERT_SEV_NONE,
    };
}

double alert_flap_percent(const struct alert_instance *in)
{
    /*
     * Nagios flapping.c: transition x (1 = oldest .. 20 = newest) weighs
     * 0.75 + (x - 1) * 0.5 / 19; the sum over changes is divided by 20.
     * With fewer than 21 observations the missing old ones count as "no
     * change", as Nagios's history pre-filled with the first state does,
     * so a young instance cannot look like it is flapping.
     */
    const int ntrans = ALERT_FLAP_HISTORY - 1;
    double changes = 0;
    int count = in->flap_count;

    if (count > ALERT_FLAP_HISTORY)
        count = ALERT_FLAP_HISTORY;
    for (int k = 0; k + 1 < count; k++) {
        /* k = 0 is the newest transition (between observations 0 and 1) */
        bool newer = (in->flap_bits >> k) & 1;
        bool older = (in->flap_bits >> (k + 1)) & 1;
        if (newer != older) {
            int x = ntrans - k;
            changes += 0.75 + (double)(x - 1) * 0.5 / (double)(ntrans - 1);
        }
    }
    return changes * 100.0 / (double)ntrans;
}

static void emit(struct emitter *em, const struct alert_instance *in,
                 enum alert_event_kind kind, enum alert_severity sev,
                 enum alert_severity old_sev, double now)
{
    assert(em->n < em->max);
    if (em->n >= em->max)
        return;
    em->out[em->n++] = (struct alert_event){
        .kind = kind,
        .at = now,
        .value = in->value,
        .severity = sev,
        .old_severity = old_sev,
        .nodata = in->nodata,
        .active_at = in->active_at,
        .flap_pct = alert_flap_percent(in),
    };
}

/* ---- phase 2: the state machine ---------------------------------------- */

static void go_inactive(struct alert_instance *in)
{
    in->state = ALERT_INACTIVE;
    in->severity = ALERT_SEV_NONE;
    in->nodata = false;
}

static void resolve(struct alert_instance *in, double now)
{
    go_inactive(in);
    in->resolved_at = now;
}

static void fire(struct alert_instance *in, double now)
{
    in->state = ALERT_FIRING;
    in->fired_at = now;
}

static void step_data(struct alert_instance *in, const struct alert_params *p,
                      const struct alert_verdict *v, double now)
{
    enum alert_severity tier = ALERT_SEV_NONE;

    if (v->crit)
        tier = ALERT_SEV_CRITICAL;
    else if (p->has_warn && v->warn)
        tier = ALERT_SEV_WARNING;
    if (tier != ALERT_SEV_NONE)
        in->last_true_at = now;

    switch (in->state) {
    case ALERT_INACTIVE:
        if (tier == ALERT_SEV_NONE)
            return;
        in->state = ALERT_PENDING;
        in->active_at = now;
        in->severity = tier;
        /* `for = 0` fires in the same step, through the check below */
        if (now - in->active_at >= p->for_s)
            fire(in, now);
        return;

    case ALERT_PENDING:
        if (tier == ALERT_SEV_NONE) {
            /* pending that stops holding goes back to inactive silently */
            go_inactive(in);
            return;
        }
        in->severity = tier;
        /* wall-clock from active_at, so a restored instance whose `for`
         * elapsed while segalert was down fires now */
        if (now - in->active_at >= p->for_s)
            fire(in, now);
        return;

    case ALERT_FIRING:
        if (in->nodata) {
            /* the condition never fired this one: judge it afresh */
            in->nodata = false;
            if (tier == ALERT_SEV_NONE)
                resolve(in, now);
            else
                in->severity = tier;
            return;
        }
        if (tier != ALERT_SEV_NONE) {
            in->severity = tier;
            return;
        }
        if (p->has_recover && !v->recovered)
            return;                     /* hysteresis */
        if (now - in->last_true_at < p->keep_firing_for_s)
            return;
        resolve(in, now);
        return;
    }
}

static void step_nodata(struct alert_instance *in,
                        const struct alert_params *p, double now)
{
    if (in->nodata_s < p->no_data_after_s)
        return;                         /* hold until no_data_after */

    switch (p->no_data) {
    case NODATA_KEEP:
        return;
    case NODATA_OK:
        if (in->state == ALERT_FIRING)
            resolve(in, now);
        else if (in->state == ALERT_PENDING)
            go_inactive(in);
        return;
    case NODATA_ALERT:
        if (in->state == ALERT_INACTIVE)
            in->active_at = now;
        if (in->state != ALERT_FIRING)
            fire(in, now);
        in->nodata = true;
        in->severity = ALERT_SEV_CRITICAL;
        return;
    }
}

/* ---- phase 3: announcement --------------------------------------------- */

static void flap_record(struct alert_instance *in)
{
    uint32_t bit = in->state == ALERT_FIRING;

    in->flap_bits = ((in->flap_bits << 1) | bit) & FLAP_MASK;
    if (in->flap_count < ALERT_FLAP_HISTORY)
        in->flap_count++;
}

/* Emit what consumers have not heard yet; at most one event. */
static void catch_up(struct alert_instance *in, struct emitter *em,
                     double now)
{
    bool firing = in->state == ALERT_FIRING;

    if (firing && !in->announced_firing) {
        emit(em, in, ALERT_EV_FIRING, in->severity, ALERT_SEV_NONE, now);
        in->announced_firing = true;
        in->announced_severity = in->severity;
    } else if (!firing && in->announced_firing) {
        emit(em, in, ALERT_EV_RESOLVED, in->announced_severity,
             ALERT_SEV_NONE, now);
        in->announced_firing = false;
        in->announced_severity = ALERT_SEV_NONE;
    } else if (firing && in->severity != in->announced_severity) {
        emit(em, in, ALERT_EV_SEVERITY, in->severity,
             in->announced_severity, now);
        in->announced_severity = in->severity;
    }
}

static void announce(struct alert_instance *in, const struct alert_params *p,
                     struct emitter *em, double now)
{
    bool was_flapping = in->flapping;
    double pct;

    flap_record(in);
    pct = alert_flap_percent(in);
    if (!p->flap_detection)
        in->flapping = false;
    else if (!in->flapping && pct > ALERT_FLAP_HIGH_PCT)
        in->flapping = true;
    else if (in->flapping && pct < ALERT_FLAP_LOW_PCT)
        in->flapping = false;

    if (in->flapping) {
        /* the one "flapping" notification replaces the fire/resolve
         * stream, including this step's transition */
        if (!was_flapping)
            emit(em, in, ALERT_EV_FLAP_START, in->severity, ALERT_SEV_NONE,
                 now);
        return;
    }
    if (was_flapping)
        emit(em, in, ALERT_EV_FLAP_STOP, in->severity, ALERT_SEV_NONE, now);
    catch_up(in, em, now);
}

int alert_step(struct alert_instance *in, const struct alert_params *p,
               const struct alert_verdict *v, double now,
               struct alert_event out[], int max_out)
{
    struct emitter em = { out, max_out, 0 };
    double prev = in->last_eval_at > 0 ? in->last_eval_at : in->created_at;
    double dt = now - prev;

    assert(max_out >= ALERT_STEP_MAX_EVENTS);
    /* a clock stepping back must not make data-less time shrink */
    if (!(dt > 0))
        dt = 0;
    in->last_eval_at = now;

    if (v->api_down)
        return 0;       /* an outage is not data, nor its absence: freeze */

    if (v->nodata) {
        in->value = NAN;
        in->nodata_s += dt;
        step_nodata(in, p, now);
    } else {
        in->value = v->value;
        in->last_data_at = now;
        in->nodata_s = 0;
        step_data(in, p, v, now);
    }
    announce(in, p, &em, now);
    return em.n;
}

/* ---- names -------------------------------------------------------------- */

const char *alert_state_name(enum alert_state s)
{
    switch (s) {
    case ALERT_INACTIVE: return "inactive";
    case ALERT_PENDING: return "pending";
    case ALERT_FIRING: return "firing";
    }
    return "unknown";
}

const char *alert_display_state(const struct alert_instance *in)
{
    if (in->state == ALERT_FIRING && in->nodata)
        return "nodata";
    return alert_state_name(in->state);
}

const char *alert_severity_name(enum alert_severity s)
{
    switch (s) {
    case ALERT_SEV_NONE: return "none";
    case ALERT_SEV_WARNING: return "warning";
    case ALERT_SEV_CRITICAL: return "critical";
    }
    return "unknown";
}

const char *alert_severity_label(enum alert_severity s,
                                 const char *rule_severity)
{
    if (s == ALERT_SEV_CRITICAL)
        return rule_severity ? rule_severity : "critical";
    return alert_severity_name(s);
}

const char *alert_event_kind_name(enum alert_event_kind k)
{
    switch (k) {
    case ALERT_EV_FIRING: return "firing";
    case ALERT_EV_RESOLVED: return "resolved";
    case ALERT_EV_SEVERITY: return "severity";
    case ALERT_EV_FLAP_START: return "flap_start";
    case ALERT_EV_FLAP_STOP: return "flap_stop";
    }
    return "unknown";
}
