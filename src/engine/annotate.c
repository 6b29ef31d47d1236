/*
 * annotate.c - see annotate.h.
 */
#include "engine/annotate.h"

#include <math.h>
#include <string.h>

static bool lookup_number(void *ud, const char *name, double *out)
{
    const struct annotate_ctx *c = ud;
    if (strcmp(name, "value") == 0) {
        *out = c->in->st.value;
        return true;
    }
    if (strcmp(name, "window") == 0) {
        *out = c->window_s;
        return true;
    }
    static const char *var_names[EXPR_VAR__COUNT] = {
        [EXPR_VAR_MTU_LIMIT] = "mtu_limit",
        [EXPR_VAR_API_CALLS_LIMIT] = "api_calls_limit",
        [EXPR_VAR_PERIOD_ELAPSED] = "period_elapsed",
        [EXPR_VAR_PERIOD_REMAINING] = "period_remaining",
    };
    for (int i = 0; i < EXPR_VAR__COUNT; i++) {
        if (strcmp(name, var_names[i]) == 0) {
            *out = c->vars ? c->vars[i] : NAN;
            return true;
        }
    }
    int m = metric_lookup(name);
    if (m >= 0) {
        double t;
        if (c->series && series_latest(c->series, (enum metric_id)m, out, &t))
            return true;
        *out = NAN;
        return true;
    }
    return false;
}

static bool lookup_string(void *ud, const char *name, const char **out)
{
    const struct annotate_ctx *c = ud;
    const struct rule_cfg *rc = c->in->rule->cfg;
    const char *v = NULL;
    if (strcmp(name, "rule") == 0)
        v = rc->name;
    else if (strcmp(name, "severity") == 0)
        v = c->severity;
    else if (strcmp(name, "state") == 0)
        v = c->state;
    else if (strcmp(name, "summary") == 0)
        v = c->summary;
    else if (strcmp(name, "description") == 0)
        v = c->description;
    else if (strcmp(name, "runbook_url") == 0)
        v = rc->runbook_url;
    else if (strcmp(name, "status_url") == 0)
        v = c->status_url;
    else if (strcmp(name, "reason") == 0)
        v = c->reason;
    else if (strcmp(name, "started_at") == 0)
        v = c->started_at[0] ? c->started_at : NULL;
    else {
        const struct labelset *ls = c->in->labels ? c->in->labels
                                                  : c->in->series_labels;
        v = labelset_get(ls, name);
    }
    *out = v;
    return v != NULL;
}

void annotate_init(struct annotate_ctx *ctx, const struct eval_instance *in,
                   const struct series *s)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->in = in;
    ctx->series = s;
    ctx->severity = alert_severity_label(
        in->st.severity != ALERT_SEV_NONE ? in->st.severity : ALERT_SEV_CRITICAL,
        in->rule->cfg->severity);
    ctx->state = alert_display_state(&in->st);
    ctx->window_s = in->rule->lookback_s > 0 ? in->rule->lookback_s : 3600;
    if (in->st.active_at > 0)
        format_iso8601(in->st.active_at, ctx->started_at, sizeof(ctx->started_at));
}

void annotate_render(const struct template *t, const struct annotate_ctx *ctx,
                     struct strbuf *out)
{
    struct template_lookup lk = { lookup_number, lookup_string, (void *)ctx };
    template_render(t, &lk, out);
}

void annotate_rule_texts(struct annotate_ctx *ctx, struct strbuf *summary,
                         struct strbuf *description)
{
    strbuf_reset(summary);
    strbuf_reset(description);
    ctx->summary = ctx->description = NULL;
    if (ctx->in->rule->summary) {
        annotate_render(ctx->in->rule->summary, ctx, summary);
        ctx->summary = strbuf_str(summary);
    }
    if (ctx->in->rule->description) {
        annotate_render(ctx->in->rule->description, ctx, description);
        ctx->description = strbuf_str(description);
    }
}
