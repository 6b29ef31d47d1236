/*
 * annotate.h - the values a template sees for one alert instance
 * (README.md "Rules", templates): every label, rule, severity, state, value, every
 * metric of the instance's series (latest sample), window, started_at,
 * summary, description, runbook_url, status_url.
 *
 * Used for rule summaries/descriptions (segalert test, notifications) and
 * for receiver subjects and bodies.
 */
#ifndef SEGALERT_ANNOTATE_H
#define SEGALERT_ANNOTATE_H

#include "engine/eval.h"
#include "engine/template.h"

struct annotate_ctx {
    const struct eval_instance *in;
    const struct series *series;    /* may be NULL (no metrics then) */
    const char *severity;           /* "critical", "warning"... */
    const char *state;              /* "firing", "resolved", "pending"... */
    const char *summary;            /* rendered summary, may be NULL */
    const char *description;        /* rendered description, may be NULL */
    const char *status_url;         /* may be NULL */
    const char *reason;             /* notification reason, may be NULL */
    double window_s;                /* shown by {{window}} */
    const double *vars;             /* $variables (EXPR_VAR__COUNT) or NULL */
    char started_at[32];            /* filled by annotate_init */
};

/* Fill severity/state/window/started_at from the instance. */
void annotate_init(struct annotate_ctx *ctx, const struct eval_instance *in,
                   const struct series *s);
void annotate_render(const struct template *t, const struct annotate_ctx *ctx,
                     struct strbuf *out);
/* Render the rule's summary and description into ctx->summary /
 * ctx->description (strings owned by the two strbufs given). */
void annotate_rule_texts(struct annotate_ctx *ctx, struct strbuf *summary,
                         struct strbuf *description);

#endif
