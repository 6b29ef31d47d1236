/*
 * exporters.c - see exporters.h.
 */
#include "export/exporters.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/index.h"
#include "core/util.h"

struct exporters {
    const struct config *cfg;
    struct http_transport tr;
    const struct clock *clock;
    char *state_dir;
    struct ledger *ledger;
    struct exporter **x;            /* one per export section, in order */
    size_t n;
    struct exporter **retired;      /* removed, waiting for their request */
    size_t nretired, retired_cap;
    /* alert series sent last time (to send a final 0) */
    const struct labelset **alerts;
    size_t nalerts, alerts_cap;
};

static void build(struct exporters *s, const struct config *cfg, double now)
{
    s->n = cfg->nexports;
    s->x = xcalloc(s->n ? s->n : 1, sizeof(*s->x));
    for (size_t i = 0; i < s->n; i++)
        s->x[i] = exporter_new(&cfg->exports[i], cfg, &s->tr, s->clock,
                               s->state_dir, now);
}

struct exporters *exporters_new(const struct config *cfg,
                                const struct http_transport *tr,
                                const struct clock *clock,
                                const char *state_dir, double now)
{
    struct exporters *s = xcalloc(1, sizeof(*s));
    s->cfg = cfg;
    s->tr = *tr;
    s->clock = clock ? clock : clock_system();
    s->state_dir = xstrdup(state_dir);
    s->ledger = ledger_new(now);
    build(s, cfg, now);
    return s;
}

static void reap(struct exporters *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->nretired; i++) {
        if (exporter_busy(s->retired[i]))
            s->retired[k++] = s->retired[i];
        else
            exporter_free(s->retired[i]);
    }
    s->nretired = k;
}

void exporters_free(struct exporters *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        exporter_free(s->x[i]);
    free(s->x);
    for (size_t i = 0; i < s->nretired; i++)
        exporter_free(s->retired[i]);
    free(s->retired);
    free(s->alerts);
    ledger_free(s->ledger);
    free(s->state_dir);
    free(s);
}

void exporters_reload(struct exporters *s, const struct config *cfg,
                      double now)
{
    struct exporter **old = s->x;
    size_t nold = s->n;
    s->cfg = cfg;
    s->n = cfg->nexports;
    s->x = xcalloc(s->n ? s->n : 1, sizeof(*s->x));
    for (size_t i = 0; i < s->n; i++) {
        const struct export_cfg *xc = &cfg->exports[i];
        for (size_t k = 0; k < nold && !s->x[i]; k++) {
            if (old[k] && streq(exporter_name(old[k]), xc->name)) {
                s->x[i] = old[k];
                old[k] = NULL;
                exporter_set_config(s->x[i], xc, cfg);
            }
        }
        if (!s->x[i])
            s->x[i] = exporter_new(xc, cfg, &s->tr, s->clock, s->state_dir,
                                   now);
    }
    for (size_t k = 0; k < nold; k++) {
        if (!old[k])
            continue;
        exporter_save_cursor(old[k], now);
        exporter_detach(old[k]);
        XGROW(s->retired, s->nretired + 1, s->retired_cap);
        s->retired[s->nretired++] = old[k];
    }
    free(old);
    reap(s);
}

void exporters_sample(struct exporters *s, const struct export_sample *smp,
                      double now)
{
    struct ledger_out o;
    ledger_add(s->ledger, smp, &o);
    if (!o.n)
        return;
    for (size_t i = 0; i < s->n; i++)
        exporter_offer(s->x[i], &o, now);
}

double exporters_alert_interval(const struct exporters *s)
{
    double iv = INFINITY;
    for (size_t i = 0; i < s->cfg->nexports; i++)
        if (s->cfg->exports[i].interval_s < iv)
            iv = s->cfg->exports[i].interval_s;
    return iv;
}

static bool match_point(const void *ctx, size_t idx, const void *key)
{
    const struct export_point *p = ctx;
    return p[idx].labels == key;
}

void exporters_alerts(struct exporters *s, const struct export_point *p,
                      size_t n, double now)
{
    if (!s->n) {
        s->nalerts = 0;
        return;
    }
    /* Alerts that ended since last time: one last 0.  (An index of the
     * active ones keeps this linear: there may be tens of thousands.) */
    struct index_map active = INDEX_MAP_INIT;
    for (size_t i = 0; i < n; i++)
        index_map_put(&active, labelset_hash(p[i].labels), i);
    struct export_point *all = xcalloc(n + s->nalerts + 1, sizeof(*all));
    if (n)
        memcpy(all, p, n * sizeof(*p));
    size_t na = n;
    for (size_t i = 0; i < s->nalerts; i++) {
        const struct labelset *ls = s->alerts[i];
        if (index_map_get(&active, labelset_hash(ls), match_point, p, ls) !=
            INDEX_NONE)
            continue;
        struct export_point z = { 0 };
        z.labels = ls;
        z.metric = EXM_ALERT;
        z.t = now;
        z.v = 0;
        all[na++] = z;
    }
    index_map_free(&active);
    for (size_t i = 0; i < s->n; i++)
        exporter_offer_gauges(s->x[i], all, na, now);
    free(all);
    s->nalerts = 0;
    for (size_t i = 0; i < n; i++) {
        XGROW(s->alerts, s->nalerts + 1, s->alerts_cap);
        s->alerts[s->nalerts++] = p[i].labels;
    }
}

double exporters_tick(struct exporters *s, double now)
{
    double next = INFINITY;
    for (size_t i = 0; i < s->n; i++) {
        double t = exporter_tick(s->x[i], now);
        if (t < next)
            next = t;
    }
    if (s->nretired)
        reap(s);
    return next;
}

void exporters_flush(struct exporters *s, double now)
{
    for (size_t i = 0; i < s->n; i++) {
        exporter_save_cursor(s->x[i], now);
        exporter_flush(s->x[i], now);
    }
}

bool exporters_busy(const struct exporters *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (exporter_busy(s->x[i]))
            return true;
    for (size_t i = 0; i < s->nretired; i++)
        if (exporter_busy(s->retired[i]))
            return true;
    return false;
}

size_t exporters_count(const struct exporters *s)
{
    return s->n;
}

void exporters_stats(const struct exporters *s, size_t i, double now,
                     struct exporter_stats *out)
{
    exporter_stats(s->x[i], now, out);
}

bool exporters_totals(const struct exporters *s, const struct labelset *ls,
                      double tot[EXM__COUNT], bool has[EXM__COUNT])
{
    return ledger_totals(s->ledger, ls, tot, has);
}
