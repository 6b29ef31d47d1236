/*
 * expr.h - the rule expression language (README.md "Rules"): a hand-written lexer and
 * recursive-descent parser that compile an expression string into a flat
 * postfix program, and an allocation-free evaluator over one series.
 *
 *   discard_ratio > 2% and attempted >= 100
 *   sum(event_volume, 1h) < 0.5 * sum(event_volume, 1h, 7d)
 *   forecast(mtu, 7d, $period_remaining) > $mtu_limit
 *
 * Grammar (lowest precedence first; binary operators are left-associative):
 *   expr    := or
 *   or      := and ("or" and)*
 *   and     := not ("and" not)*
 *   not     := "not" not | cmp
 *   cmp     := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)*
 *   sum     := prod (("+" | "-") prod)*
 *   prod    := unary (("*" | "/") unary)*
 *   unary   := "-" unary | primary
 *   primary := NUMBER | METRIC | $VARIABLE | "(" expr ")" | call
 *   call    := AGG "(" METRIC "," WINDOW ["," OFFSET] ")"     AGG: avg min
 *                                      max sum count last delta rate
 *            | "last" "(" METRIC ")"
 *            | "forecast" "(" METRIC "," WINDOW "," expr ")"    horizon, s
 *            | "timeleft" "(" METRIC "," WINDOW "," expr ")"    threshold
 * NUMBER takes an optional unit: % (x0.01), ms s m h d w (seconds; may be
 * chained: 1h30m), k M G (x1e3, x1e6, x1e9).  WINDOW (> 0) and OFFSET
 * (>= 0) are number literals (seconds, usually with a time unit).
 * Keywords are lowercase.  A window covers (now - offset - window,
 * now - offset], left-open (see store.h).
 *
 * Values are doubles or "no value" (missing metric, empty window, division
 * by zero, fewer than 2 samples for delta/rate/forecast/timeleft, unset
 * variable).  Arithmetic propagates no-value; a comparison with a no-value
 * operand is "unknown"; and/or/not use three-valued (Kleene) logic, so
 * "false and unknown" is false, "true or unknown" is true.  Comparisons
 * and logic yield 1 or 0.
 */
#ifndef SEGALERT_EXPR_H
#define SEGALERT_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/metrics.h"
#include "engine/store.h"
#include "core/util.h"

/* Names the compiler accepts as $variables (without the '$').  At eval
 * time vars->values[i] is the value of var_names[i]. */
struct expr_env {
    const char *const *var_names;
    size_t nvars;
};

/* The standard variables (README.md "What is collected"), in this order. */
enum expr_std_var {
    EXPR_VAR_MTU_LIMIT = 0,
    EXPR_VAR_API_CALLS_LIMIT,
    EXPR_VAR_PERIOD_ELAPSED,        /* seconds since the usage period start */
    EXPR_VAR_PERIOD_REMAINING,      /* seconds to the usage period end */
    EXPR_VAR__COUNT
};
extern const struct expr_env expr_env_std;

/* Variable values for one evaluation; NaN = not available (no value).
 * values may be NULL when n == 0. */
struct expr_vars {
    const double *values;
    size_t n;
};

#define EXPR_ERR_MSG_MAX 256

/* Where and why compilation failed.  line/col are 1-based within the
 * expression string (col counts bytes on that line); offset is the byte
 * offset from the start of the expression. */
struct expr_error {
    int line;
    int col;
    size_t offset;
    char msg[EXPR_ERR_MSG_MAX];     /* one line, no trailing period */
};

/* Append the offending line of src and a caret under err->col:
 *     "discard_ratoi > 2%\n^"
 * (no trailing newline; tabs are kept in the caret line so it lines up). */
void expr_error_excerpt(const struct expr_error *err, const char *src,
                        struct strbuf *sb);

struct expr;

/*
 * Compile src.  env lists the accepted $variables (NULL = none).  Returns a
 * heap object the caller frees with expr_free(), or NULL with *err filled
 * in (err may be NULL).  Static checks: syntax, unknown metric (with a
 * did-you-mean), unknown variable or function, argument count and kinds,
 * metrics from more than one family, nesting deeper than EXPR_MAX_DEPTH.
 */
#define EXPR_MAX_DEPTH 64
struct expr *expr_compile(const char *src, const struct expr_env *env,
                          struct expr_error *err);
void expr_free(struct expr *e);                     /* NULL is a no-op */

/* The family of the metrics used, or -1 when the expression uses none. */
int expr_family(const struct expr *e);
/* Longest window + offset used, seconds (0 when only latest values): the
 * retention the store needs for this expression. */
double expr_max_lookback(const struct expr *e);
/* Longest window + offset over which a window function, forecast() or
 * timeleft() reads m (seconds), or -1 when nothing reads m's history (a
 * bare name and last(m) read only the newest value). */
double expr_metric_lookback(const struct expr *e, enum metric_id m);
bool expr_uses_metric(const struct expr *e, enum metric_id m);
/* The source text the expression was compiled from. */
/* The metric the rule value reads (the first metric of the left-hand side
 * of the first comparison, else the first metric read), or -1. */
int expr_value_metric(const struct expr *e);
/* The unit of the rule value, from the metrics it reads: "a / b" of one
 * unit is a ratio, "x / 60" or "x * 2" keeps x's unit, count() counts,
 * timeleft() is seconds; a value that reads no metric counts. */
enum metric_unit expr_value_unit(const struct expr *e);
const char *expr_source(const struct expr *e);

struct expr_result {
    bool cond;      /* the expression holds (true and decided) */
    bool nodata;    /* the outcome could not be decided for lack of data */
    /* The rule value: the left-hand side of the first comparison (in
     * source order), or the whole value when there is no comparison.  NaN
     * when that operand has no value. */
    double value;
};

/*
 * Evaluate for one series at time now (seconds).  s may be NULL (every
 * metric is then no-value).  vars may be NULL.  Allocation-free; safe to
 * call concurrently on the same expr.
 */
struct expr_result expr_eval(const struct expr *e, const struct series *s,
                             double now, const struct expr_vars *vars);

/*
 * Windows of one series at one `now`, shared by the expressions evaluated
 * for it (a rule's expr, warn and recover often read the same windows, an
 * expression may read one twice, or two aggregates of one window): each
 * distinct (metric, window, offset) is scanned once.  The caller owns it
 * (on the stack is fine) and resets it before another series or another
 * `now`.  A full memo scans again.
 */
#define EXPR_MEMO_MAX 16
struct expr_memo_entry {
    int metric;
    double window_s, offset_s;
    bool of_family;             /* series_window_scan()'s answer */
    struct store_window w;
};
struct expr_memo {
    size_t n;
    struct expr_memo_entry e[EXPR_MEMO_MAX];
};
static inline void expr_memo_reset(struct expr_memo *m)
{
    m->n = 0;
}
/* expr_eval with a memo (NULL: one private to the call). */
struct expr_result expr_eval_memo(const struct expr *e,
                                  const struct series *s, double now,
                                  const struct expr_vars *vars,
                                  struct expr_memo *memo);

/* Append a readable dump of the compiled program (debugging, tests). */
void expr_dump(const struct expr *e, struct strbuf *sb);

#endif
