/*
 * rules.c - see rules.h.
 */
#include "engine/rules.h"

#include <math.h>

#include <stdlib.h>
#include <string.h>

#include "engine/labels.h"

/* Labels a series of each family carries (poll.h). */
static const char *family_labels[FAM__COUNT][7] = {
    [FAM_CONNECTION] = { "workspace", "source", "source_id", "destination",
                         "destination_id", "destination_type", NULL },
    [FAM_SOURCE] = { "workspace", "source", "source_id", NULL },
    [FAM_USAGE] = { "workspace", "source", "source_id", NULL },
};

struct name_ctx {
    const struct config *cfg;
    const struct rule_cfg *rc;
    int family;                     /* -1 when unknown */
};

static bool kv_has_key(const struct kv_list *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (streq(l->items[i].key, key))
            return true;
    return false;
}

/* May a template of this rule use name? */
static bool template_name_ok(void *ud, const char *name)
{
    const struct name_ctx *nc = ud;
    if (template_builtin_name(name))
        return true;
    int m = metric_lookup(name);
    if (m >= 0)
        return nc->family < 0 || metric_table[m].family == (enum family)nc->family;
    /* When the expression did not compile the family is unknown: accept
     * the labels of any family rather than report a second, false error. */
    for (int f = 0; f < FAM__COUNT; f++) {
        if (nc->family >= 0 && f != nc->family)
            continue;
        for (int i = 0; family_labels[f][i]; i++)
            if (streq(family_labels[f][i], name))
                return true;
    }
    if (kv_has_key(&nc->rc->labels, name))
        return true;
    for (size_t w = 0; w < nc->cfg->nworkspaces; w++)
        if (kv_has_key(&nc->cfg->workspaces[w].labels, name))
            return true;
    return false;
}

static void report_expr_error(struct diag_list *diags, const struct rule_cfg *rc,
                              const char *what, const char *src, int line,
                              int col, const struct expr_error *err)
{
    struct strbuf raw = STRBUF_INIT, excerpt = STRBUF_INIT;
    expr_error_excerpt(err, src, &raw);
    /* Indent the expression and its caret under the message. */
    strbuf_adds(&excerpt, "    ");
    for (const char *c = strbuf_str(&raw); *c; c++) {
        strbuf_addc(&excerpt, *c);
        if (*c == '\n' && c[1])
            strbuf_adds(&excerpt, "    ");
    }
    while (excerpt.len && excerpt.buf[excerpt.len - 1] == '\n')
        excerpt.buf[--excerpt.len] = '\0';
    strbuf_free(&raw);
    /* The expression's own line/column are relative to the string; map
     * them into the file (a string continued over lines starts at col 1). */
    int fline = line > 0 ? line + (err->line > 1 ? err->line - 1 : 0) : rc->loc.line;
    int fcol = 0;
    if (line > 0 && col > 0)
        fcol = err->line > 1 ? err->col : col + err->col - 1;
    diag_error(diags, rc->loc.file, fline, fcol, "rule \"%s\": %s: %s\n%s",
               rc->name, what, err->msg, strbuf_str(&excerpt));
    strbuf_free(&excerpt);
}

static struct expr *compile_one(struct diag_list *diags, const struct rule_cfg *rc,
                                const char *what, const char *src, int line,
                                int col, int *family, bool *ok)
{
    if (!src)
        return NULL;
    struct expr_error err;
    struct expr *e = expr_compile(src, &expr_env_std, &err);
    if (!e) {
        report_expr_error(diags, rc, what, src, line, col, &err);
        *ok = false;
        return NULL;
    }
    int fam = expr_family(e);
    if (fam < 0) {
        diag_error(diags, rc->loc.file, line > 0 ? line : rc->loc.line, col,
                   "rule \"%s\": %s uses no metric: it would be the same for "
                   "every series", rc->name, what);
        *ok = false;
    } else if (*family >= 0 && fam != *family) {
        diag_error(diags, rc->loc.file, line > 0 ? line : rc->loc.line, col,
                   "rule \"%s\": %s reads %s metrics but the rule's expr reads "
                   "%s metrics; one rule must use one family", rc->name, what,
                   family_name((enum family)fam), family_name((enum family)*family));
        *ok = false;
    } else {
        *family = fam;
    }
    return e;
}

static struct template *compile_template(struct diag_list *diags,
                                         const struct config *cfg,
                                         const struct rule_cfg *rc, int family,
                                         const char *what, const char *src,
                                         int line, int col, bool *ok)
{
    if (!src)
        return NULL;
    struct name_ctx nc = { cfg, rc, family };
    struct template_error err;
    struct template *t = template_compile(src, template_name_ok, &nc, &err);
    if (!t) {
        diag_error(diags, rc->loc.file, line > 0 ? line : rc->loc.line,
                   line > 0 && col > 0 ? col + err.col - 1 : 0,
                   "rule \"%s\": %s: %s", rc->name, what, err.msg);
        *ok = false;
    }
    return t;
}

static double max3(double a, double b, double c)
{
    double m = a > b ? a : b;
    return m > c ? m : c;
}

struct ruleset *ruleset_compile(const struct config *cfg, struct diag_list *diags)
{
    struct ruleset *rs = xcalloc(1, sizeof(*rs));
    rs->rules = xcalloc(cfg->nrules ? cfg->nrules : 1, sizeof(struct rule));
    for (int m = 0; m < M__COUNT; m++)
        rs->metric_lookback_s[m] = -1;
    for (size_t i = 0; i < cfg->nrules; i++) {
        const struct rule_cfg *rc = &cfg->rules[i];
        struct rule r = { .cfg = rc };
        int family = -1;
        bool ok = true;
        if (!rc->expr) {
            diag_error(diags, rc->loc.file, rc->loc.line, 0,
                       "rule \"%s\": missing expr", rc->name);
            continue;
        }
        r.expr = compile_one(diags, rc, "expr", rc->expr, rc->expr_line,
                             rc->expr_col, &family, &ok);
        r.warn = compile_one(diags, rc, "warn", rc->warn, rc->warn_line,
                             rc->warn_col, &family, &ok);
        r.recover = compile_one(diags, rc, "recover", rc->recover,
                                rc->recover_line, rc->recover_col, &family, &ok);
        r.summary = compile_template(diags, cfg, rc, family, "summary",
                                     rc->summary, rc->summary_line,
                                     rc->summary_col, &ok);
        r.description = compile_template(diags, cfg, rc, family, "description",
                                         rc->description, rc->description_line,
                                         rc->description_col, &ok);
        if (!ok || family < 0) {
            expr_free(r.expr);
            expr_free(r.warn);
            expr_free(r.recover);
            template_free(r.summary);
            template_free(r.description);
            continue;
        }
        r.family = (enum family)family;
        r.params = alert_params_from_rule(rc, r.recover != NULL, r.warn != NULL);
        r.lookback_s = max3(expr_max_lookback(r.expr),
                            r.warn ? expr_max_lookback(r.warn) : 0,
                            r.recover ? expr_max_lookback(r.recover) : 0);
        if (r.lookback_s > rs->lookback_s[r.family])
            rs->lookback_s[r.family] = r.lookback_s;
        for (int m = 0; m < M__COUNT; m++) {
            const struct expr *ex[3] = { r.expr, r.warn, r.recover };
            for (int k = 0; k < 3; k++) {
                double back = ex[k] ? expr_metric_lookback(ex[k],
                                                           (enum metric_id)m)
                                    : -1;
                if (back > rs->metric_lookback_s[m])
                    rs->metric_lookback_s[m] = back;
            }
        }
        int vm = expr_value_metric(r.expr);
        if (vm >= 0)
            rs->value_metric[vm] = true;
        rs->rules[rs->n++] = r;
    }
    return rs;
}

void ruleset_free(struct ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++) {
        struct rule *r = &rs->rules[i];
        expr_free(r->expr);
        expr_free(r->warn);
        expr_free(r->recover);
        template_free(r->summary);
        template_free(r->description);
    }
    free(rs->rules);
    free(rs);
}

static bool filter_selects(const struct str_list *globs, const char *v1,
                           const char *v2, const char *v3)
{
    if (globs->n == 0)
        return true;
    for (size_t i = 0; i < globs->n; i++) {
        const char *g = globs->items[i];
        if (streq(g, "*"))
            return true;
        /* "" selects series without the label (workspace-wide totals). */
        if (g[0] == '\0' && !v1)
            return true;
        if (glob_match(g, v1) || glob_match(g, v2) || glob_match(g, v3))
            return true;
    }
    return false;
}

bool rule_selects(const struct rule *r, const struct labelset *ls)
{
    const struct rule_cfg *rc = r->cfg;
    return filter_selects(&rc->workspaces, labelset_get(ls, "workspace"),
                          NULL, NULL) &&
           filter_selects(&rc->sources, labelset_get(ls, "source"),
                          labelset_get(ls, "source_id"), NULL) &&
           filter_selects(&rc->destinations, labelset_get(ls, "destination"),
                          labelset_get(ls, "destination_type"),
                          labelset_get(ls, "destination_id"));
}

void ruleset_store_history(const struct ruleset *rs,
                           const double slack_s[FAM__COUNT],
                           double value_history_s, struct store_limits *lim)
{
    for (int m = 0; m < M__COUNT; m++) {
        enum family f = metric_table[m].family;
        double back = rs->metric_lookback_s[m];
        double h = back >= 0 ? back + slack_s[f] : STORE_LATEST_ONLY;
        if (rs->value_metric[m] && value_history_s > 0)
            h = fmax(h, fmin(value_history_s, lim->retention_s[f]));
        lim->history_s[m] = h < 0 ? STORE_LATEST_ONLY
                                  : fmin(h, lim->retention_s[f]);
    }
}
