/*
 * eval.h - one evaluation pass: every rule against every series of its
 * family that its filters select, feeding alert_step() and collecting the
 * transition events for the notification pipeline (README.md "Rules").
 *
 * The evaluator owns the alert instances, keyed by (rule, series labels);
 * an instance is created the first time a rule meets a series and keeps
 * its state (and flap history) from then on.  Instances whose series has
 * left the store are stepped with "no data" so no_data rules still see
 * them.  Everything is pure with `now` passed in.
 *
 * Alert labels (what notifications and routes see) are the series labels,
 * plus the workspace's `labels`, plus the rule's `labels`, plus
 * rule=<name>; they are built lazily, the first time an instance leaves
 * inactive, to keep memory proportional to alerts, not to series.
 */
#ifndef SEGALERT_EVAL_H
#define SEGALERT_EVAL_H

#include <stddef.h>

#include "engine/alert.h"
#include "engine/labels.h"
#include "engine/rules.h"
#include "engine/store.h"

struct eval_instance {
    const struct rule *rule;                /* borrowed from the ruleset */
    const struct labelset *series_labels;   /* identity, with the rule */
    const struct labelset *labels;          /* alert labels, NULL until built */
    struct alert_instance st;
    const char *workspace;                  /* interned "workspace" label, or
                                               NULL (cached for $variables) */
    bool selected;                          /* the rule's filters select it */
    uint32_t seen_pass;                     /* last pass that found its series
                                               (its low 32 bits) */
};

struct eval_event {
    struct eval_instance *inst;
    struct alert_event ev;
};

struct eval_hooks {
    /* Is the workspace's API unreachable/unauthorized right now?  States
     * freeze instead of counting as no data.  NULL = never. */
    bool (*api_down)(void *ud, const char *workspace);
    /* Fill $variables for a workspace (expr.h EXPR_VAR_*).  NULL = the
     * workspace's mtu_limit/api_calls_limit from the config and the
     * calendar month containing now as the usage period. */
    void (*vars)(void *ud, const char *workspace, double now,
                 double vals[EXPR_VAR__COUNT]);
    void *ud;
    /* A series whose newest sample is older than this (per family) is
     * stale: the rule sees "no data" instead of old values, as
     * Prometheus' lookback delta does.  0 = never stale. */
    double stale_after_s[FAM__COUNT];
};

struct evaluator;

/* rs, cfg and pool are borrowed and must outlive the evaluator. */
struct evaluator *evaluator_new(const struct ruleset *rs,
                                const struct config *cfg,
                                struct label_pool *pool);
void evaluator_free(struct evaluator *ev);

/* Run one pass at now.  Returns the number of transition events; *events
 * points to them, valid until the next pass or evaluator_free. */
size_t evaluator_run(struct evaluator *ev, struct store *st, double now,
                     const struct eval_hooks *hooks,
                     const struct eval_event **events);

/* All instances (including inactive ones), for status pages and state. */
size_t evaluator_instances(const struct evaluator *ev,
                           struct eval_instance *const **out);
/* The instance of rule rule_name for a series, or NULL. */
struct eval_instance *evaluator_find(const struct evaluator *ev,
                                     const char *rule_name,
                                     const struct labelset *series_labels);
/* Put back an instance saved before a restart or carried over a reload:
 * the rule is found by name; returns the instance, or NULL when the rule
 * no longer exists (the saved state is then dropped). */
struct eval_instance *evaluator_restore(struct evaluator *ev,
                                        const char *rule_name,
                                        const struct labelset *series_labels,
                                        const struct alert_instance *st);
/* Build (once) and return the instance's alert labels. */
const struct labelset *eval_instance_labels(struct evaluator *ev,
                                            struct eval_instance *in);

/* Statistics of the last pass. */
struct eval_stats {
    size_t evaluations;         /* (rule, series) evaluations */
    double duration_s;
    size_t instances;
    size_t pending, firing;
};
void evaluator_stats(const struct evaluator *ev, struct eval_stats *out);
/* Moves whenever an instance may have changed (a pass, a restore): the
 * state saver skips the instances when it did not. */
unsigned long evaluator_generation(const struct evaluator *ev);
/* Say that an instance was changed outside a pass (through the pointers
 * evaluator_instances() hands out). */
void evaluator_mark_changed(struct evaluator *ev);

/* Default $variables for a workspace config (NULL = all limits 0). */
void eval_default_vars(const struct workspace_cfg *ws, double now,
                       double vals[EXPR_VAR__COUNT]);

#endif
