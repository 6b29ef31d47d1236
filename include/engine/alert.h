/*
 * alert.h - the alert instance state machine (README.md "Rules", "Alert instance
 * states"): inactive -> pending -> firing -> resolved, warn/critical tiers,
 * keep_firing_for, recover hysteresis, no_data handling and Nagios-style
 * flap detection.
 *
 * An instance is one (rule, label set) pair; its identity (rule name and
 * labels) is kept by the caller.  alert_step() is a pure function: the
 * caller evaluates the rule's expressions into a struct alert_verdict and
 * passes the current time in; the instance is updated in place and the
 * transitions that notifications must hear about are returned as events.
 * Nothing here allocates, logs or reads a clock, so `for = "15m"` is tested
 * in microseconds.
 *
 * Times are unix seconds (double).  In the instance, 0 means "never".
 *
 * Decisions on the open questions (see also alert.c):
 *
 * - Tiers.  A rule with `warn` has one instance, not two.  The instance is
 *   pending/firing while either tier holds; `severity` is the highest tier
 *   holding at the latest evaluation.  `for` counts from when any tier
 *   began to hold, so an upgrade warning -> critical while firing is
 *   immediate (ALERT_EV_SEVERITY), and a pending instance fires with the
 *   tier holding at the moment `for` is reached.  A downgrade critical ->
 *   warning while firing is also immediate.  While the condition does not
 *   hold (keep_firing_for, or waiting for `recover`) the severity stays at
 *   the last tier that held.
 *
 * - recover.  With a `recover` expression a firing instance resolves only
 *   at an evaluation where `recover` holds AND neither tier holds (a
 *   resolve while the alert condition is true would re-fire at once, and
 *   an overlapping recover is a rule-writing mistake we must not turn into
 *   a notification storm).  keep_firing_for still applies on top: both
 *   must be satisfied.  Pending instances ignore `recover`: hysteresis is
 *   about leaving the firing state.
 *
 * - no data.  While a verdict has no value the instance holds its state
 *   (the `for` and keep_firing_for clocks are wall-clock and keep running,
 *   but nothing transitions on a step without data).  Once data-less time
 *   reaches no_data_after (counted from the last data, or from creation if
 *   there never was any): keep holds, ok resolves a firing instance
 *   (ALERT_EV_RESOLVED) and drops a pending one silently, alert fires at
 *   once with `nodata` set and the critical tier (a firing instance keeps
 *   firing, gets `nodata` and moves to critical).  When data returns, a
 *   nodata-firing instance is re-evaluated: if no tier holds it resolves at
 *   once (keep_firing_for and `recover` do not apply: the condition never
 *   fired it), otherwise it keeps firing, `nodata` is cleared and the
 *   severity follows the tier holding.  A change of the nodata flag alone is
 *   not an event: consumers read it from the instance when rendering.
 *
 * - API outage (verdict.api_down).  Not "no data": the step is a freeze.
 *   No transition, no value update, no flap observation, and the outage
 *   does not count towards no_data_after (data-less time is accumulated
 *   only over steps that were not api_down).  The caller should also pass
 *   api_down for a workspace until its first poll after start has
 *   completed (the store is empty then, which is not "no data" either).
 *
 * - Flap detection.  Each step that is not api_down records one
 *   observation, "firing or not" after the step's transition (severity
 *   changes do not count).  The percent state change is Nagios's: over the
 *   last 21 observations (20 transitions) each change weighs from 0.75
 *   (oldest) to 1.25 (newest), summed and divided by 20.  Flapping starts
 *   above 50 % and stops below 25 %.  While flapping, FIRING, RESOLVED and
 *   SEVERITY are suppressed (the state machine keeps tracking); the step
 *   that starts flapping emits FLAP_START instead of its transition.  The
 *   step that stops it emits FLAP_STOP and then whatever event brings
 *   consumers up to date with the current state (`announced_*` fields
 *   record what they last heard).  History is kept even when detection is
 *   off; turning it off while flapping emits FLAP_STOP and the catch-up.
 *
 * - Restart.  Every field is a plain number (enums, bools, doubles, one
 *   uint32), so state.c can save and restore an instance field by field;
 *   `value` may be NAN.  A restored pending instance whose active_at + for
 *   has passed fires at the next step whose verdict holds; a restored
 *   firing instance that was announced is not announced again.
 */
#ifndef SEGALERT_ALERT_H
#define SEGALERT_ALERT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

enum alert_state {
    ALERT_INACTIVE = 0,
    ALERT_PENDING,
    ALERT_FIRING
};

/* The tier of an instance.  ALERT_SEV_CRITICAL is the `expr` tier, whose
 * label is the rule's `severity` (default "critical"; see
 * alert_severity_label()); ALERT_SEV_WARNING is the `warn` tier. */
enum alert_severity {
    ALERT_SEV_NONE = 0,
    ALERT_SEV_WARNING,
    ALERT_SEV_CRITICAL
};

enum alert_event_kind {
    ALERT_EV_FIRING = 0,    /* became firing (announced) */
    ALERT_EV_RESOLVED,      /* was announced firing, is no longer firing */
    ALERT_EV_SEVERITY,      /* tier changed while firing */
    ALERT_EV_FLAP_START,
    ALERT_EV_FLAP_STOP
};

/* Number of observations the flap detector keeps (Nagios's 21). */
#define ALERT_FLAP_HISTORY 21
/* Flapping starts above / stops below this percent state change. */
#define ALERT_FLAP_HIGH_PCT 50.0
#define ALERT_FLAP_LOW_PCT 25.0
/* alert_step() never emits more events than this in one step. */
#define ALERT_STEP_MAX_EVENTS 4

/* The per-rule timing knobs, copied from the rule (alert_params_from_rule)
 * so the state machine does not depend on config lifetime. */
struct alert_params {
    double for_s;               /* hold this long pending before firing */
    double keep_firing_for_s;   /* stay firing this long after cond stops */
    bool has_recover;           /* the rule has a `recover` expression */
    bool has_warn;              /* the rule has a `warn` expression */
    enum no_data_mode no_data;  /* keep | ok | alert */
    double no_data_after_s;     /* data-less time before no_data applies */
    bool flap_detection;
};

/* What one evaluation of the rule for this instance produced. */
struct alert_verdict {
    bool crit;          /* `expr` holds */
    bool warn;          /* `warn` holds (ignored unless params.has_warn) */
    bool recovered;     /* `recover` holds (ignored unless has_recover) */
    bool nodata;        /* the expression has no value; crit, warn and
                           recovered are then ignored */
    double value;       /* the rule value; NAN when there is none */
    bool api_down;      /* the workspace could not be polled: freeze; all
                           other fields are ignored */
};

/* One instance.  Plain numbers only (see "Restart" above). */
struct alert_instance {
    enum alert_state state;
    enum alert_severity severity;   /* tier while pending/firing; NONE when
                                       inactive */
    bool nodata;            /* firing because of no_data = alert
                               (displayed as state "nodata") */
    double created_at;      /* alert_instance_init() time */
    double active_at;       /* became pending (kept when going firing) of
                               the current or most recent episode */
    double fired_at;        /* became firing, current or most recent */
    double resolved_at;     /* last resolve (firing -> inactive) */
    double last_true_at;    /* last step where a tier held */
    double last_data_at;    /* last step with a value */
    double last_eval_at;    /* last alert_step() call, api_down included */
    double nodata_s;        /* data-less time so far (api_down excluded);
                               0 whenever the last step had data */
    double value;           /* value at the last step; NAN when none */
    double data_through;    /* newest sample time of the series at the last
                               step with data (eval.c): after a restart the
                               first polls may end earlier, and a verdict on
                               older data than already judged is no news */
    /* flap detection: bit i = firing at the i-th most recent observation */
    uint32_t flap_bits;
    int flap_count;         /* observations recorded, <= ALERT_FLAP_HISTORY */
    bool flapping;
    /* what notification consumers last heard (FIRING/RESOLVED/SEVERITY) */
    bool announced_firing;
    enum alert_severity announced_severity;
};

/* A transition to notify about. */
struct alert_event {
    enum alert_event_kind kind;
    double at;                      /* the step's `now` */
    double value;                   /* the step's value; NAN when none */
    enum alert_severity severity;   /* FIRING: tier fired with; SEVERITY:
                                       new tier; RESOLVED: tier last
                                       announced; FLAP_*: current tier */
    enum alert_severity old_severity; /* SEVERITY: previous tier; else NONE */
    bool nodata;                    /* FIRING/SEVERITY: firing because of
                                       no_data = alert */
    double active_at;               /* episode start (for startsAt) */
    double flap_pct;                /* percent state change at this step */
};

/* Copy the knobs of rule; has_recover / has_warn say whether the compiled
 * rule has those expressions. */
struct alert_params alert_params_from_rule(const struct rule_cfg *rule,
                                           bool has_recover, bool has_warn);

/* A fresh inactive instance created at now. */
void alert_instance_init(struct alert_instance *in, double now);

/*
 * Advance in by one evaluation.  Writes at most max_out events into out
 * (ALERT_STEP_MAX_EVENTS is always enough; a smaller max_out is a
 * programmer error, extra events are dropped) and returns how many.
 */
int alert_step(struct alert_instance *in, const struct alert_params *p,
               const struct alert_verdict *v, double now,
               struct alert_event out[], int max_out);

/* Nagios weighted percent state change (0..100) over the recorded
 * observations. */
double alert_flap_percent(const struct alert_instance *in);

/* "inactive", "pending", "firing" */
const char *alert_state_name(enum alert_state s);
/* The state shown to users and templates: as above, or "nodata" for an
 * instance firing because of no_data = alert. */
const char *alert_display_state(const struct alert_instance *in);
/* "none", "warning", "critical" */
const char *alert_severity_name(enum alert_severity s);
/* The severity label of a tier for notifications: rule_severity (the
 * rule's `severity`, "critical" when NULL) for the expr tier, "warning"
 * for the warn tier, "none" otherwise. */
const char *alert_severity_label(enum alert_severity s,
                                 const char *rule_severity);
/* "firing", "resolved", "severity", "flap_start", "flap_stop" */
const char *alert_event_kind_name(enum alert_event_kind k);

#endif
