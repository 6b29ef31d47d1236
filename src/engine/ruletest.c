/*
 * ruletest.c - see ruletest.h.
 */
#include "engine/ruletest.h"

#include <confuse.h>
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/annotate.h"
#include "config/config.h"
#include "config/scan.h"
#include "config/schema.h"
#include "core/diag.h"
#include "engine/eval.h"
#include "engine/labels.h"
#include "engine/promseries.h"
#include "engine/rules.h"
#include "engine/store.h"

#define DEFAULT_START 1767225600.0     /* 2026-01-01T00:00:00Z */
#define TEST_FILE_MAX (64u << 20)      /* bytes of one test file */

/* Ends the family word of a series title; followed by the section's
 * position, it makes every series title unique (see series_done). */
#define SERIES_SEP '\x1f'

/* ---- schema ------------------------------------------------------------ */

static cfg_opt_t *series_opts(void)
{
    /* One string option per metric, plus labels and interval. */
    static cfg_opt_t opts[M__COUNT + 3];
    static bool built;
    if (!built) {
        for (int m = 0; m < M__COUNT; m++) {
            cfg_opt_t o = CFG_STR((char *)metric_table[m].name, NULL, CFGF_NONE);
            opts[m] = o;
        }
        cfg_opt_t l = CFG_STR_LIST("labels", "{}", CFGF_NONE);
        cfg_opt_t i = CFG_STR("interval", NULL, CFGF_NONE);
        cfg_opt_t e = CFG_END();
        opts[M__COUNT] = l;
        opts[M__COUNT + 1] = i;
        opts[M__COUNT + 2] = e;
        built = true;
    }
    return opts;
}

static cfg_opt_t expect_opts[] = {
    CFG_STR("at", NULL, CFGF_NONE),
    CFG_STR("rule", NULL, CFGF_NONE),
    CFG_STR("state", NULL, CFGF_NONE),
    CFG_STR("severity", NULL, CFGF_NONE),
    CFG_STR_LIST("labels", "{}", CFGF_NONE),
    CFG_STR("summary", NULL, CFGF_NONE),
    CFG_FLOAT("value", NAN, CFGF_NODEFAULT),
    CFG_END()
};

static const char *const test_opt_names[] = {
    "rule_files", "interval", "eval_interval", "start", "mtu_limit",
    "api_calls_limit",
};

/*
 * Called by libconfuse at the end of each series section: libconfuse
 * merges sections that share a title, and a test may hold many series of
 * one family (`series "connection"` twice, one per label set), so each
 * title is made unique by appending SERIES_SEP and the section's position.
 * load_series reads the family up to the first blank or SERIES_SEP.
 */
static int series_done(cfg_t *parent, cfg_opt_t *opt)
{
    (void)parent;
    unsigned n = cfg_opt_size(opt);
    if (n == 0)
        return 0;
    cfg_t *sec = cfg_opt_getnsec(opt, n - 1);
    char *t = xasprintf("%s%c%u", sec->title ? sec->title : "", SERIES_SEP, n);
    free(sec->title);
    sec->title = t;
    return 0;
}

/* ---- reporting --------------------------------------------------------- */

static const char *cur_file;

static void cfg_err(cfg_t *cfg, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* parsed from a buffer: libconfuse knows no file name */
    fprintf(stderr, "%s:%d: %s\n", cur_file, cfg ? cfg->line : 0, msg);
}

/* ---- one test ------------------------------------------------------------ */

/*
 * One series section, as written: a column per metric it names (promtool
 * notation expanded), rows at start + k * step.  Rows are built when they
 * are fed to the store, so a test holds its values as given (9 bytes a
 * value) and the store only what the rules read: memory follows the
 * metrics a test uses, not rows of every metric.
 */
struct section {
    enum family fam;
    const struct labelset *ls;
    double start, step;
    size_t n;                       /* rows: the longest column */
    size_t next;                    /* the next row to feed */
    int ncol;
    enum metric_id col_metric[M__COUNT];
    struct promseries col[M__COUNT];
    bool explicit_derived[M__COUNT];
};

static double section_t(const struct section *sec, size_t k)
{
    return sec->start + (double)k * sec->step;
}

/* Row k of a section; derived metrics computed unless given. */
static void section_row(const struct section *sec, size_t k,
                        double v[M__COUNT], bool has[M__COUNT])
{
    memset(v, 0, M__COUNT * sizeof(*v));
    memset(has, 0, M__COUNT * sizeof(*has));
    for (int c = 0; c < sec->ncol; c++) {
        enum metric_id m = sec->col_metric[c];
        if (k < sec->col[c].n) {
            v[m] = sec->col[c].values[k];
            has[m] = sec->col[c].present[k];
        }
    }
    if (sec->fam != FAM_CONNECTION)
        return;
    double keep_v[M__COUNT];
    bool keep_h[M__COUNT];
    memcpy(keep_v, v, sizeof(keep_v));
    memcpy(keep_h, has, sizeof(keep_h));
    metrics_derive(v, has);
    for (int m = 0; m < M__COUNT; m++)
        if (sec->explicit_derived[m]) {
            v[m] = keep_v[m];
            has[m] = keep_h[m];
        }
}

static void sections_free(struct section *secs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < secs[i].ncol; c++)
            promseries_free(&secs[i].col[c]);
    free(secs);
}

/* Sections ordered by series (family, label set), then position. */
static int cmp_section_ptr(const void *a, const void *b)
{
    const struct section *x = *(const struct section *const *)a;
    const struct section *y = *(const struct section *const *)b;
    if (x->fam != y->fam)
        return x->fam < y->fam ? -1 : 1;
    if (x->ls != y->ls)
        return (uintptr_t)x->ls < (uintptr_t)y->ls ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct test_vars {
    double mtu_limit, api_calls_limit;
};

static void test_vars_fn(void *ud, const char *ws, double now,
                         double vals[EXPR_VAR__COUNT])
{
    const struct test_vars *tv = ud;
    eval_default_vars(NULL, now, vals);
    vals[EXPR_VAR_MTU_LIMIT] = tv->mtu_limit;
    vals[EXPR_VAR_API_CALLS_LIMIT] = tv->api_calls_limit;
}

static void dir_of(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, len, ".");
    else
        snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

/* Parse "k=v" entries into a label set; -1 on a malformed entry. */
static int parse_labels(cfg_t *sec, const char *opt, struct label_pool *pool,
                        const struct labelset **out, struct strbuf *errs)
{
    struct labels_builder b;
    labels_builder_init(&b, pool);
    int rc = 0;
    for (unsigned i = 0; i < cfg_size(sec, opt); i++) {
        char *buf;
        const char *k, *v;
        if (split_kv(cfg_getnstr(sec, opt, i), &buf, &k, &v) != 0) {
            strbuf_addf(errs, "    %s:%d: label '%s' is not key=value\n",
                        cur_file, sec->line, cfg_getnstr(sec, opt, i));
            rc = -1;
            continue;
        }
        labels_builder_add(&b, k, v);
        free(buf);
    }
    *out = labels_builder_finish(&b);
    labels_builder_free(&b);
    return rc;
}

static bool labels_include(const struct labelset *have, const struct labelset *want)
{
    for (size_t i = 0; i < labelset_count(want); i++)
        if (!streq(labelset_get(have, labelset_key(want, i)),
                   labelset_value(want, i)))
            return false;
    return true;
}

struct expectation {
    double at;
    const char *rule, *state, *severity, *summary;
    double value;
    bool has_value;
    const struct labelset *labels;
    int line;
};

/*
 * s as written in a test ("10206m", "90s", "2h"): the largest unit that
 * divides it exactly, so that times a few minutes apart never print alike
 * (format_duration rounds for humans: 10206m is "7d2h").
 */
static void format_exact_duration(double s, char *buf, size_t len)
{
    static const struct { double s; char unit; } units[] = {
        { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
    };
    if (s != 0 && s == floor(s))
        for (size_t i = 0; i < ARRAY_SIZE(units); i++)
            if (fmod(s, units[i].s) == 0) {
                snprintf(buf, len, "%.0f%c", s / units[i].s, units[i].unit);
                return;
            }
    snprintf(buf, len, "%gs", s);
}

/* Check one expectation against the evaluator; append differences. */
static bool check_expect(struct evaluator *ev, struct store *st,
                         const struct expectation *x, double start,
                         const double *vars, struct strbuf *diff)
{
    struct eval_instance *const *all;
    size_t n = evaluator_instances(ev, &all);
    struct strbuf seen = STRBUF_INIT;
    bool want_inactive = streq(x->state, "inactive");
    bool ok = want_inactive;
    size_t matching = 0;
    char at[32];
    format_exact_duration(x->at - start, at, sizeof(at));

    for (size_t i = 0; i < n; i++) {
        struct eval_instance *in = all[i];
        if (!streq(in->rule->cfg->name, x->rule) || !in->selected)
            continue;
        const struct labelset *ls = eval_instance_labels(ev, in);
        if (!labels_include(ls, x->labels))
            continue;
        matching++;
        const char *state = alert_display_state(&in->st);
        struct annotate_ctx ctx;
        annotate_init(&ctx, in, store_find(st, in->rule->family, in->series_labels));
        ctx.vars = vars;
        struct strbuf sum = STRBUF_INIT, desc = STRBUF_INIT;
        annotate_rule_texts(&ctx, &sum, &desc);
        if (want_inactive) {
            if (in->st.state != ALERT_INACTIVE)
                ok = false;
        } else {
            bool good = streq(state, x->state);
            if (good && x->severity && !streq(ctx.severity, x->severity))
                good = false;
            if (good && x->summary && !streq(strbuf_str(&sum), x->summary))
                good = false;
            if (good && x->has_value &&
                !(fabs(in->st.value - x->value) <= fabs(x->value) * 1e-3 + 1e-12))
                good = false;
            if (good)
                ok = true;
        }
        strbuf_addf(&seen, "      got: state=%s severity=%s value=", state,
                    in->st.state == ALERT_INACTIVE ? "none" : ctx.severity);
        template_format_number(in->st.value, &seen);
        strbuf_adds(&seen, " labels=");
        labelset_format(ls, &seen);
        if (x->summary)
            strbuf_addf(&seen, "\n           summary=\"%s\"", strbuf_str(&sum));
        strbuf_addc(&seen, '\n');
        strbuf_free(&sum);
        strbuf_free(&desc);
    }
    if (!ok) {
        strbuf_addf(diff, "    line %d: at %s rule \"%s\": expected state=%s", x->line,
                    at, x->rule, x->state);
        if (x->severity)
            strbuf_addf(diff, " severity=%s", x->severity);
        if (x->has_value)
            strbuf_addf(diff, " value=%g", x->value);
        if (labelset_count(x->labels)) {
            strbuf_adds(diff, " labels=");
            labelset_format(x->labels, diff);
        }
        if (x->summary)
            strbuf_addf(diff, "\n           summary=\"%s\"", x->summary);
        strbuf_addc(diff, '\n');
        if (matching == 0)
            strbuf_adds(diff, "      got: no instance of the rule with these labels\n");
        else
            strbuf_adds(diff, strbuf_str(&seen));
    }
    strbuf_free(&seen);
    return ok;
}

static int load_rules(cfg_t *t, const char *dir, struct config *cfg,
                      struct strbuf *errs)
{
    struct diag_list diags = DIAG_LIST_INIT;
    int rc = 0;
    for (unsigned i = 0; i < cfg_size(t, "rule_files"); i++) {
        const char *pat = cfg_getnstr(t, "rule_files", i);
        char *full = pat[0] == '/' ? xstrdup(pat) : xasprintf("%s/%s", dir, pat);
        glob_t g;
        if (glob(full, 0, NULL, &g) != 0 || g.gl_pathc == 0) {
            strbuf_addf(errs, "    rule_files: '%s' matches no file\n", full);
            rc = -1;
        } else {
            for (size_t k = 0; k < g.gl_pathc; k++)
                config_load_rule_file(cfg, g.gl_pathv[k], &diags);
        }
        globfree(&g);
        free(full);
    }
    for (size_t i = 0; i < diags.n; i++) {
        struct strbuf line = STRBUF_INIT;
        diag_format(&diags.items[i], &line);
        strbuf_addf(errs, "    %s\n", strbuf_str(&line));
        strbuf_free(&line);
    }
    if (diags.nerrors)
        rc = -1;
    diag_list_free(&diags);
    return rc;
}

static int parse_time_opt(cfg_t *sec, const char *opt, double dflt, double *out,
                          struct strbuf *errs)
{
    const char *s = cfg_getstr(sec, opt);
    if (!s) {
        *out = dflt;
        return 0;
    }
    if (parse_duration(s, out) != 0) {
        strbuf_addf(errs, "    %s:%d: invalid duration '%s' for %s%s\n",
                    cur_file, sec->line, s, opt, DURATION_FORMAT_HINT);
        return -1;
    }
    return 0;
}

/* Read one series section into *sec. */
static int load_series(cfg_t *ser, double interval, struct label_pool *pool,
                       struct section *sec, struct strbuf *errs)
{
    /* The title starts with the family; more words may follow to keep
     * titles unique ("usage web"), since libconfuse merges sections that
     * share a title. */
    char fam_name[32];
    snprintf(fam_name, sizeof(fam_name), "%s", cfg_title(ser));
    fam_name[strcspn(fam_name, " \t\x1f")] = '\0';
    int fam = family_lookup(fam_name);
    if (fam < 0) {
        strbuf_addf(errs, "    %s:%d: unknown series family '%s' (connection, "
                    "source or usage)\n", cur_file, ser->line, fam_name);
        return -1;
    }
    sec->fam = (enum family)fam;
    if (parse_labels(ser, "labels", pool, &sec->ls, errs) != 0)
        return -1;
    if (parse_time_opt(ser, "interval", interval, &sec->step, errs) != 0)
        return -1;
    for (int m = 0; m < M__COUNT; m++) {
        const char *text = cfg_getstr(ser, metric_table[m].name);
        if (!text)
            continue;
        if (metric_table[m].family != (enum family)fam) {
            strbuf_addf(errs, "    %s:%d: metric '%s' is not of the %s family\n",
                        cur_file, ser->line, metric_table[m].name, fam_name);
            return -1;
        }
        struct promseries *ps = &sec->col[sec->ncol];
        char err[200];
        if (promseries_parse(text, ps, err, sizeof(err)) != 0) {
            strbuf_addf(errs, "    %s:%d: series %s: %s\n", cur_file, ser->line,
                        metric_table[m].name, err);
            return -1;
        }
        sec->col_metric[sec->ncol++] = (enum metric_id)m;
        if (metric_table[m].derived)
            sec->explicit_derived[m] = true;
        if (ps->n > sec->n)
            sec->n = ps->n;
    }
    return 0;
}

/*
 * A series goes stale (no data) two of its intervals after its last
 * value, so '_' gaps in a test mean what they say: per family, twice the
 * longest gap between consecutive rows of one series (sections with the
 * same labels make one series); 2 * interval when no series has two rows.
 */
static void stale_limits(struct section *secs, size_t n, double interval,
                         double stale_after_s[FAM__COUNT])
{
    struct section **by = xcalloc(n ? n : 1, sizeof(*by));
    for (size_t i = 0; i < n; i++)
        by[i] = &secs[i];
    qsort(by, n, sizeof(*by), cmp_section_ptr);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && by[j]->fam == by[i]->fam && by[j]->ls == by[i]->ls)
            j++;
        double gap = 0;
        if (j == i + 1) {
            if (by[i]->n >= 2)
                gap = by[i]->step;
        } else {
            size_t nt = 0;
            for (size_t k = i; k < j; k++)
                nt += by[k]->n;
            double *t = xcalloc(nt ? nt : 1, sizeof(*t));
            nt = 0;
            for (size_t k = i; k < j; k++)
                for (size_t r = 0; r < by[k]->n; r++)
                    t[nt++] = section_t(by[k], r);
            qsort(t, nt, sizeof(*t), cmp_double);
            for (size_t k = 1; k < nt; k++)
                if (t[k] - t[k - 1] > gap)
                    gap = t[k] - t[k - 1];
            free(t);
        }
        if (2 * gap > stale_after_s[by[i]->fam])
            stale_after_s[by[i]->fam] = 2 * gap;
        i = j;
    }
    free(by);
    for (int f = 0; f < FAM__COUNT; f++)
        if (stale_after_s[f] == 0)
            stale_after_s[f] = 2 * interval;
}

/* Run one test; pre: problems found before the parse (unknown keys),
 * which fail the test after it has run. */
static bool run_test(cfg_t *t, const char *dir, const char *pre, FILE *out)
{
    struct strbuf errs = STRBUF_INIT;
    struct config *cfg = config_new_defaults();
    struct label_pool *pool = label_pool_new();
    struct ruleset *rs = NULL;
    struct store *st = NULL;
    struct evaluator *ev = NULL;
    struct section *secs = NULL;
    size_t nsecs = 0;
    struct expectation *ex = NULL;
    size_t nex = 0;
    double *times = NULL;
    bool ok = false;
    const char *name = cfg_title(t);

    if (load_rules(t, dir, cfg, &errs) != 0)
        goto done;
    {
        struct diag_list diags = DIAG_LIST_INIT;
        rs = ruleset_compile(cfg, &diags);
        for (size_t i = 0; i < diags.n; i++) {
            struct strbuf line = STRBUF_INIT;
            diag_format(&diags.items[i], &line);
            strbuf_addf(&errs, "    %s\n", strbuf_str(&line));
            strbuf_free(&line);
        }
        size_t nerr = diags.nerrors;
        diag_list_free(&diags);
        if (nerr)
            goto done;
    }

    double interval, eval_interval, start = DEFAULT_START;
    if (parse_time_opt(t, "interval", 60, &interval, &errs) != 0 ||
        interval <= 0)
        goto done;
    if (parse_time_opt(t, "eval_interval", interval < 60 ? interval : 60,
                       &eval_interval, &errs) != 0 || eval_interval <= 0)
        goto done;
    if (cfg_getstr(t, "start") && parse_iso8601(cfg_getstr(t, "start"), &start) != 0) {
        strbuf_addf(&errs, "    %s:%d: invalid start time '%s'\n", cur_file,
                    t->line, cfg_getstr(t, "start"));
        goto done;
    }
    struct test_vars tv = { cfg_getfloat(t, "mtu_limit"),
                            cfg_getfloat(t, "api_calls_limit") };

    secs = xcalloc(cfg_size(t, "series") + 1, sizeof(*secs));
    for (unsigned i = 0; i < cfg_size(t, "series"); i++) {
        struct section *sec = &secs[nsecs++];
        sec->start = start;
        if (load_series(cfg_getnsec(t, "series", i), interval, pool, sec,
                        &errs) != 0)
            goto done;
    }

    nex = cfg_size(t, "expect");
    ex = xcalloc(nex ? nex : 1, sizeof(*ex));
    /* the newest sample, or start when there is none */
    double end = -INFINITY;
    for (size_t i = 0; i < nsecs; i++)
        if (secs[i].n && section_t(&secs[i], secs[i].n - 1) > end)
            end = section_t(&secs[i], secs[i].n - 1);
    if (end == -INFINITY)
        end = start;
    for (size_t i = 0; i < nex; i++) {
        cfg_t *e = cfg_getnsec(t, "expect", (unsigned)i);
        struct expectation *x = &ex[i];
        double at;
        x->line = e->line;
        x->rule = cfg_getstr(e, "rule");
        x->state = cfg_getstr(e, "state");
        x->severity = cfg_getstr(e, "severity");
        x->summary = cfg_getstr(e, "summary");
        x->has_value = cfg_size(e, "value") > 0;
        x->value = x->has_value ? cfg_getfloat(e, "value") : NAN;
        if (!cfg_getstr(e, "at") || parse_duration(cfg_getstr(e, "at"), &at) != 0) {
            strbuf_addf(&errs, "    %s:%d: expect needs at = \"<duration>\"\n",
                        cur_file, e->line);
            goto done;
        }
        if (!x->rule || !x->state) {
            strbuf_addf(&errs, "    %s:%d: expect needs rule and state\n",
                        cur_file, e->line);
            goto done;
        }
        if (!streq(x->state, "inactive") && !streq(x->state, "pending") &&
            !streq(x->state, "firing") && !streq(x->state, "nodata")) {
            strbuf_addf(&errs, "    %s:%d: state must be inactive, pending, "
                        "firing or nodata, not '%s'\n", cur_file, e->line, x->state);
            goto done;
        }
        bool known = false;
        for (size_t r = 0; r < rs->n; r++)
            known |= streq(rs->rules[r].cfg->name, x->rule);
        if (!known) {
            strbuf_addf(&errs, "    %s:%d: no rule named \"%s\" in rule_files\n",
                        cur_file, e->line, x->rule);
            goto done;
        }
        if (parse_labels(e, "labels", pool, &x->labels, &errs) != 0)
            goto done;
        x->at = start + at;
        if (x->at > end)
            end = x->at;
    }

    /* Evaluation times: the grid plus every expectation time. */
    size_t ngrid = (size_t)floor((end - start) / eval_interval) + 1;
    if (ngrid > 1000000) {
        strbuf_addf(&errs, "    %s:%d: more than a million evaluations; use a "
                    "larger eval_interval\n", cur_file, t->line);
        goto done;
    }
    size_t ntimes = 0;
    times = xcalloc(ngrid + nex, sizeof(double));
    for (size_t i = 0; i < ngrid; i++)
        times[ntimes++] = start + (double)i * eval_interval;
    for (size_t i = 0; i < nex; i++)
        times[ntimes++] = ex[i].at;
    qsort(times, ntimes, sizeof(double), cmp_double);

    /* The store keeps the history the rules read (samples are never newer
     * than the evaluation, so window + offset is enough; the slack is for
     * good measure) and of every other metric only its newest value,
     * which templates read. */
    struct store_limits lim = { 0 };
    for (int f = 0; f < FAM__COUNT; f++) {
        lim.retention_s[f] = rs->lookback_s[f] + 2 * interval + 86400;
        lim.spacing_s[f] = interval;
    }
    double slack[FAM__COUNT];
    for (int f = 0; f < FAM__COUNT; f++)
        slack[f] = 2 * interval;
    ruleset_store_history(rs, slack, 0, &lim);
    st = store_new(&lim);
    ev = evaluator_new(rs, cfg, pool);
    struct eval_hooks hooks = { NULL, test_vars_fn, &tv, { 0 } };
    stale_limits(secs, nsecs, interval, hooks.stale_after_s);
    ok = true;
    for (size_t i = 0; i < ntimes; i++) {
        if (i > 0 && times[i] == times[i - 1])
            continue;
        double now = times[i];
        /* feed what is due, section by section (rows of one section are
         * in time order; the store orders rows of one series) */
        for (size_t k = 0; k < nsecs; k++) {
            struct section *sec = &secs[k];
            if (sec->next >= sec->n || section_t(sec, sec->next) > now)
                continue;
            struct series *s = store_get_or_add(st, sec->fam, sec->ls);
            for (; sec->next < sec->n && section_t(sec, sec->next) <= now;
                 sec->next++) {
                double v[M__COUNT];
                bool has[M__COUNT];
                section_row(sec, sec->next, v, has);
                store_add(st, s, section_t(sec, sec->next), v, has);
            }
        }
        const struct eval_event *evs;
        evaluator_run(ev, st, now, &hooks, &evs);
        double vals[EXPR_VAR__COUNT];
        test_vars_fn(&tv, NULL, now, vals);
        for (size_t k = 0; k < nex; k++)
            if (ex[k].at == now &&
                !check_expect(ev, st, &ex[k], start, vals, &errs))
                ok = false;
    }

done:
    if (*pre)
        ok = false;
    fprintf(out, "%s %s\n", ok ? "ok  " : "FAIL", name);
    if (*pre)
        fputs(pre, out);
    if (!ok)
        fputs(strbuf_str(&errs), out);
    strbuf_free(&errs);
    evaluator_free(ev);
    store_free(st);
    ruleset_free(rs);
    sections_free(secs, nsecs);
    free(ex);
    free(times);
    label_pool_free(pool);
    config_free(cfg);
    return ok;
}

/* ---- unknown keys -------------------------------------------------------- */

/* The options section kind sec accepts (NULL-terminated into names). */
static size_t known_opts(const char *sec, const char **names, size_t cap)
{
    size_t n = 0;
    if (streq(sec, "test")) {
        for (size_t i = 0; i < ARRAY_SIZE(test_opt_names) && n < cap; i++)
            names[n++] = test_opt_names[i];
    } else if (streq(sec, "series")) {
        for (int m = 0; m < M__COUNT && n < cap; m++)
            names[n++] = metric_table[m].name;
        if (n + 2 <= cap) {
            names[n++] = "labels";
            names[n++] = "interval";
        }
    } else if (streq(sec, "expect")) {
        for (size_t i = 0; expect_opts[i].name && n < cap; i++)
            names[n++] = expect_opts[i].name;
    }
    return n;
}

/* The sections a section kind (NULL: the top level) may hold. */
static bool section_allowed(const char *parent, const char *name)
{
    if (!parent)
        return streq(name, "test");
    return streq(parent, "test") &&
           (streq(name, "series") || streq(name, "expect"));
}

/* The top-level section holding section i (i itself at top level). */
static int top_of(const struct scan *sc, int i)
{
    while (i >= 0 && sc->secs[i].parent >= 0)
        i = sc->secs[i].parent;
    return i;
}

static void note(struct strbuf *msgs, FILE *err_out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A problem with a key: into the FAIL text of its test, or to err_out
 * when it is outside every test. */
static void note(struct strbuf *msgs, FILE *err_out, const char *fmt, ...)
{
    struct strbuf line = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&line, fmt, ap);
    va_end(ap);
    if (msgs)
        strbuf_addf(msgs, "    %s\n", strbuf_str(&line));
    else
        fprintf(err_out, "%s\n", strbuf_str(&line));
    strbuf_free(&line);
}

/*
 * Report unknown options and misplaced sections of a test file with
 * FILE:LINE and a did-you-mean, and blank them out of text so that
 * libconfuse parses the rest: one misspelled key fails its own test, not
 * the file.  msgs[i] collects the problems of top-level section i.
 * Returns the number of problems.
 */
static int check_keys(struct scan *sc, char *text, const char *path,
                      FILE *err_out, struct strbuf *msgs)
{
    int nbad = 0;
    for (size_t i = 0; i < sc->nsecs; i++) {
        struct scan_sec *s = &sc->secs[i];
        const char *parent = s->parent >= 0 ? sc->secs[s->parent].name : NULL;
        if (s->parent >= 0 && sc->secs[s->parent].blanked) {
            s->blanked = true;
            continue;
        }
        if (section_allowed(parent, s->name))
            continue;
        const char *cands[] = { "test", "series", "expect" };
        const char *sugg = schema_closest(s->name, cands, ARRAY_SIZE(cands));
        int top = top_of(sc, (int)i);
        bool hint = sugg && !streq(sugg, s->name);
        note(top >= 0 && top != (int)i ? &msgs[top] : NULL, err_out,
             "%s:%d: unknown section '%s' in %s%s%s%s", path, s->line,
             s->name, parent ? parent : "the file",
             hint ? "; did you mean '" : "", hint ? sugg : "",
             hint ? "'?" : "");
        scan_blank(text, s->off, s->end);
        s->blanked = true;
        nbad++;
    }
    for (size_t i = 0; i < sc->nopts; i++) {
        const struct scan_opt *o = &sc->opts[i];
        if (o->sec >= 0 && sc->secs[o->sec].blanked)
            continue;
        const char *names[M__COUNT + ARRAY_SIZE(test_opt_names) + 8];
        size_t n = o->sec >= 0
                       ? known_opts(sc->secs[o->sec].name, names, ARRAY_SIZE(names))
                       : 0;
        bool known = false;
        for (size_t k = 0; k < n && !known; k++)
            known = streq(names[k], o->name);
        if (known)
            continue;
        const char *sugg = schema_closest(o->name, names, n);
        int top = o->sec >= 0 ? top_of(sc, o->sec) : -1;
        char *where = o->sec >= 0 ? scan_label(sc->secs[o->sec].name,
                                               sc->secs[o->sec].title)
                                  : xstrdup("the file (outside any test)");
        if (sugg)
            note(top >= 0 ? &msgs[top] : NULL, err_out,
                 "%s:%d: unknown option '%s' in %s; did you mean '%s'?", path,
                 o->line, o->name, where, sugg);
        else
            note(top >= 0 ? &msgs[top] : NULL, err_out,
                 "%s:%d: unknown option '%s' in %s", path, o->line, o->name,
                 where);
        free(where);
        scan_blank(text, o->off, o->end);
        nbad++;
    }
    return nbad;
}

int ruletest_run_file(const char *path, FILE *out, FILE *err_out, int *passed,
                      int *failed)
{
    cfg_opt_t test_opts[] = {
        CFG_STR_LIST("rule_files", "{}", CFGF_NONE),
        CFG_STR("interval", NULL, CFGF_NONE),
        CFG_STR("eval_interval", NULL, CFGF_NONE),
        CFG_STR("start", NULL, CFGF_NONE),
        CFG_FLOAT("mtu_limit", 0, CFGF_NONE),
        CFG_FLOAT("api_calls_limit", 0, CFGF_NONE),
        CFG_SEC("series", series_opts(),
                CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
        CFG_SEC("expect", expect_opts, CFGF_MULTI),
        CFG_END()
    };
    cfg_opt_t file_opts[] = {
        CFG_SEC("test", test_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
        CFG_END()
    };
    cur_file = path;
    size_t len;
    char *text = read_file(path, TEST_FILE_MAX, &len);
    if (!text) {
        fprintf(err_out, "%s: cannot read: %s\n", path, strerror(errno));
        return 2;
    }
    struct scan sc = { 0 };
    scan_text(&sc, text, len);
    struct strbuf *msgs = xcalloc(sc.nsecs + 1, sizeof(*msgs));
    int nbad = check_keys(&sc, text, path, err_out, msgs);

    int ret = 0;
    cfg_t *cfg = cfg_init(file_opts, CFGF_NONE);
    cfg_set_error_function(cfg, cfg_err);
    cfg_set_validate_func(cfg, "test|series", series_done);
    int rc = cfg_parse_buf(cfg, text);
    if (rc != CFG_SUCCESS) {
        ret = 2;
        goto out;
    }
    char dir[4096];
    dir_of(path, dir, sizeof(dir));
    unsigned n = cfg_size(cfg, "test");
    if (n == 0)
        fprintf(err_out, "%s: warning: no test sections\n", path);
    for (unsigned i = 0; i < n; i++) {
        cfg_t *t = cfg_getnsec(cfg, "test", i);
        const char *pre = "";
        for (size_t k = 0; k < sc.nsecs; k++)
            if (sc.secs[k].parent < 0 && streq(sc.secs[k].name, "test") &&
                streq(sc.secs[k].title, cfg_title(t)))
                pre = strbuf_str(&msgs[k]);
        if (run_test(t, dir, pre, out))
            (*passed)++;
        else
            (*failed)++;
    }
    if (nbad)
        ret = 2;
out:
    cfg_free(cfg);
    for (size_t k = 0; k < sc.nsecs; k++)
        strbuf_free(&msgs[k]);
    free(msgs);
    scan_free(&sc);
    free(text);
    return ret;
}
