/*
 * exports.c - the daemon's side of exporting (see daemon_int.h and
 * export/exporters.h): what each poller sample is (a window of the
 * tiling or not), the alert states every export interval, the exporters' turn in the loop, and their flush at
 * shutdown.
 *
 * A connection sample is a window of the tiling, a history read (the
 * first sweep's look-back) or the minute so far (a poll with no whole
 * minute since the last window), and the sample sink does not say which.
 * The connection's public state does: the poller sets window_end to the
 * end of a window before handing it over and leaves it alone otherwise
 * (api/poll.h), so a sample stamped anywhere else is not a count of its
 * own (poller_find_connection: O(1)).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "daemon/daemon_int.h"
#include "engine/alert.h"
#include "export/exporters.h"
#include "server/snapshot.h"

/* How long a stopping daemon gives exports in flight (real seconds; a
 * share of the stop flush, like the receivers'). */
#define EXPORT_STOP_FLUSH_S 3.0

struct export_glue {
    double next_alerts;             /* next alert-state sample */
};

/* Is this connection sample not a window of the tiling (a history read,
 * a first window or the minute so far)? */
static bool is_history(struct daemon *d, size_t w, const struct labelset *ls,
                       double t)
{
    const char *src = labelset_get(ls, "source_id");
    const char *dst = labelset_get(ls, "destination_id");
    if (!src || !dst)
        return false;
    const struct poll_connection *c =
        poller_find_connection(d->ws[w].poller, src, dst);
    return c && c->window_end != t;
}

void daemon_export_sample(struct daemon *d, enum family fam,
                          const struct labelset *ls, double t,
                          const double v[M__COUNT], const bool has[M__COUNT])
{
    if (!d->exp)
        return;
    const char *wname = labelset_get(ls, "workspace");
    size_t w = 0;
    while (w < d->nws && !streq(d->ws[w].cfg->name, wname))
        w++;
    if (w == d->nws)
        return;
    const struct workspace_cfg *wc = d->ws[w].cfg;
    struct export_sample s = { 0 };
    s.fam = fam;
    s.labels = ls;
    s.t = t;
    s.v = v;
    s.has = has;
    s.generation = d->poller_generation;
    s.window_s = wc->delivery_window_s;
    s.bucket_s = poller_volume_bucket(d->ws[w].poller);
    s.mtu_limit = wc->mtu_limit;
    s.api_calls_limit = wc->api_calls_limit;
    if (fam == FAM_CONNECTION)
        s.history = is_history(d, w, ls, t);
    exporters_sample(d->exp, &s, daemon_now(d));
}

/* The alert states as gauge points: every pending or firing instance,
 * labelled with its alert labels, rule, severity and state. */
static void export_alerts(struct daemon *d, double now)
{
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(d->ev, &all);
    struct export_point *p = xcalloc(ni ? ni : 1, sizeof(*p));
    size_t n = 0;
    struct labels_builder b;
    labels_builder_init(&b, d->pool);
    for (size_t i = 0; i < ni; i++) {
        const struct eval_instance *in = all[i];
        if (in->st.state != ALERT_PENDING && in->st.state != ALERT_FIRING)
            continue;
        labels_builder_add_set(&b, eval_instance_labels(d->ev, all[i]));
        labels_builder_add(&b, "rule", in->rule->cfg->name);
        labels_builder_add(&b, "severity", alert_severity_label(
            in->st.severity != ALERT_SEV_NONE ? in->st.severity
                                              : ALERT_SEV_CRITICAL,
            in->rule->cfg->severity));
        labels_builder_add(&b, "state",
                           in->st.state == ALERT_PENDING
                               ? "pending" : alert_display_state(&in->st));
        p[n].labels = labels_builder_finish(&b);
        p[n].metric = EXM_ALERT;
        p[n].t = now;
        p[n].v = 1;
        n++;
    }
    labels_builder_free(&b);
    exporters_alerts(d->exp, p, n, now);
    free(p);
}

void daemon_export_start(struct daemon *d, double now)
{
    struct http_transport tr = http_client_transport(d->http);
    d->exp = exporters_new(d->cfg, &tr, d->clock, d->cfg->state_dir, now);
    d->export_glue = xcalloc(1, sizeof(struct export_glue));
    d->export_glue->next_alerts = now;
    if (d->cfg->nexports)
        log_info("daemon: exporting to %zu intakes", d->cfg->nexports);
}

void daemon_export_reload(struct daemon *d, double now)
{
    d->poller_generation++;
    if (d->exp)
        exporters_reload(d->exp, d->cfg, now);
}

double daemon_export_tick(struct daemon *d, double now)
{
    if (!d->exp)
        return INFINITY;
    struct export_glue *g = d->export_glue;
    double iv = exporters_alert_interval(d->exp);
    if (isfinite(iv) && now >= g->next_alerts) {
        export_alerts(d, now);
        g->next_alerts = now + iv;
    }
    double next = exporters_tick(d->exp, now);
    return isfinite(iv) && g->next_alerts < next ? g->next_alerts : next;
}

void daemon_export_stop(struct daemon *d)
{
    if (!d->exp || !exporters_count(d->exp))
        return;
    exporters_flush(d->exp, daemon_now(d));
    int64_t deadline = now_mono_ms() + (int64_t)(EXPORT_STOP_FLUSH_S * 1000);
    while (exporters_busy(d->exp) && now_mono_ms() < deadline) {
        http_run(d->http, 100);
        exporters_tick(d->exp, daemon_now(d));
    }
}

void daemon_export_free(struct daemon *d)
{
    exporters_free(d->exp);
    d->exp = NULL;
    free(d->export_glue);
    d->export_glue = NULL;
}

void daemon_export_snapshot(struct daemon *d, struct snapshot *sn,
                            double now)
{
    size_t n = d->exp ? exporters_count(d->exp) : 0;
    sn->nexporters = n;
    sn->exporters = xcalloc(n ? n : 1, sizeof(*sn->exporters));
    for (size_t i = 0; i < n; i++) {
        struct snap_exporter *e = &sn->exporters[i];
        exporters_stats(d->exp, i, now, &e->st);
        e->name = xstrdup(e->st.name);
        e->type = xstrdup(e->st.type);
        e->st.name = e->st.type = NULL;
    }
}
