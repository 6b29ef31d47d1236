/*
 * template.h - "{{name|filter|filter:arg}}" templates for summaries,
 * descriptions, email subjects/bodies and chat messages (README.md "Rules").
 *
 * Names resolve, at render time, through a caller-supplied lookup to either
 * a number (value, metrics) or a string (labels, rule, severity...).
 * Filters:
 *   pct       number as a percentage: 0.0123 -> "1.23%"
 *   si        number with an SI suffix: 48329 -> "48.3k"
 *   dur       seconds as a duration: 5400 -> "1h30m"
 *   round:N   number with N decimals (0..9)
 *   upper     upper-case the text
 *   json      the text as a JSON string literal (with quotes)
 *   default:TEXT   TEXT when the name has no value or renders empty
 *             ({{source|default:all sources}} for a workspace-wide series)
 * A number without filter prints with up to 6 significant digits.  A name
 * without value renders as "n/a" when numeric filters are applied, else "".
 * "{{{{" is not special; "{{" without a closing "}}" is a compile error.
 *
 * Compiling checks the syntax, the filters and - through an optional
 * predicate - the names, so `segalert check` reports mistakes with columns.
 * Rendering is pure and never fails.
 */
#ifndef SEGALERT_TEMPLATE_H
#define SEGALERT_TEMPLATE_H

#include <stdbool.h>

#include "core/util.h"
#include "engine/metrics.h"

struct template;

struct template_error {
    int col;                /* 1-based column in the template text */
    char msg[256];
};

/* Returns true when name may be used (a label, a metric, a builtin). */
typedef bool (*template_name_ok_fn)(void *ud, const char *name);

/* NULL on error (err filled).  name_ok may be NULL (accept every name). */
struct template *template_compile(const char *src, template_name_ok_fn name_ok,
                                  void *ud, struct template_error *err);
void template_free(struct template *t);

/* Render lookups: return true and set *num or *str when name has a value.
 * A string lookup result is borrowed for the duration of the call. */
struct template_lookup {
    bool (*number)(void *ud, const char *name, double *num);
    bool (*string)(void *ud, const char *name, const char **str);
    void *ud;
};

void template_render(const struct template *t, const struct template_lookup *lk,
                     struct strbuf *out);

/* Value formatting shared with payload builders. */
void template_format_number(double v, struct strbuf *out);
void template_format_pct(double v, struct strbuf *out);
void template_format_si(double v, struct strbuf *out);
/* A value as a person reads it in its unit: 4.8% (ratio), 1m59s or 4.21s
 * (seconds), 48.3k (count); "no data" for NaN.  Every place that shows a
 * rule value (page, `segalert status`, log lines, notifications) uses it. */
void template_format_unit(enum metric_unit u, double v, struct strbuf *out);

/* Names every template may use besides labels and metrics. */
bool template_builtin_name(const char *name);

#endif
