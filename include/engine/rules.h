/*
 * rules.h - compiled rules: the expressions, templates and timing of every
 * rule section of a configuration, checked as a whole (README.md "Rules").
 *
 * ruleset_compile() compiles every rule and reports every problem to the
 * diag list with the file, line and column where the mistake was written
 * (expression columns are mapped back to the rule file), e.g.
 *   rules/delivery.conf:14:22: rule "discard-ratio": unknown metric
 *   'discard_ratoi' (did you mean 'discard_ratio'?)
 * followed by the expression and a caret.  Checks: syntax, unknown
 * metrics/functions/variables, one metric family per rule (across expr,
 * warn and recover), template names and filters.
 *
 * A ruleset borrows the struct config it was compiled from (rule->cfg); the
 * config must outlive it.
 */
#ifndef SEGALERT_RULES_H
#define SEGALERT_RULES_H

#include "engine/alert.h"
#include "config/config.h"
#include "core/diag.h"
#include "engine/expr.h"
#include "engine/template.h"

struct rule {
    const struct rule_cfg *cfg;     /* borrowed */
    enum family family;
    struct expr *expr;              /* critical tier (severity = cfg->severity) */
    struct expr *warn;              /* NULL when the rule has no warn tier */
    struct expr *recover;           /* NULL when no hysteresis */
    struct template *summary;       /* NULL when not set */
    struct template *description;
    struct alert_params params;
    double lookback_s;              /* longest window + offset of its exprs */
};

struct ruleset {
    struct rule *rules;
    size_t n;
    double lookback_s[FAM__COUNT];  /* per family, the longest of its rules */
    /* Per metric, the longest window + offset any rule reads it over
     * (expr_metric_lookback), or -1 when no rule reads its history: the
     * history the store must keep. */
    double metric_lookback_s[M__COUNT];
    /* Metrics that are the value of some rule (expr_value_metric of its
     * expr): the status page draws their history. */
    bool value_metric[M__COUNT];
};

/* Always returns a ruleset holding the rules that compiled; the caller
 * checks diags->nerrors. */
struct ruleset *ruleset_compile(const struct config *cfg, struct diag_list *diags);
void ruleset_free(struct ruleset *rs);

/*
 * The history the store keeps of each metric for these rules, into
 * lim->history_s (lim->retention_s must be set): as far back as a rule
 * reads it (metric_lookback_s) plus slack_s[its family]; a rule's value
 * metric at least value_history_s (what a sparkline of it draws), within
 * its family's retention; every other metric its newest value only
 * (STORE_LATEST_ONLY).
 */
void ruleset_store_history(const struct ruleset *rs,
                           const double slack_s[FAM__COUNT],
                           double value_history_s, struct store_limits *lim);

/* Does the rule's source/destination/workspace filter select a series with
 * these labels?  A filter entry "*" also selects series without the label
 * (workspace-wide usage series have no source); an entry "" selects only
 * series without the label. */
bool rule_selects(const struct rule *r, const struct labelset *series_labels);

#endif
