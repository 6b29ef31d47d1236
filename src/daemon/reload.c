/*
 * reload.c - loading the configuration and its rules, the pieces derived
 * from them (store limits, one schedule per workspace), and SIGHUP /
 * POST /-/reload (see daemon_int.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "daemon/daemon_int.h"
#include "notify/receiver.h"

struct config *daemon_load_config(const char *path, struct ruleset **rs_out,
                                  double eval_interval_s)
{
    struct diag_list diags = DIAG_LIST_INIT;
    struct config *cfg = config_load(path, &diags);
    if (cfg)
        config_require_rules(cfg, &diags);
    struct ruleset *rs = cfg ? ruleset_compile(cfg, &diags) : NULL;
    for (size_t i = 0; i < diags.n; i++) {
        struct strbuf line = STRBUF_INIT;
        diag_format(&diags.items[i], &line);
        if (diags.items[i].severity == DIAG_ERROR)
            log_err("config: %s", strbuf_str(&line));
        else
            log_warn("config: %s", strbuf_str(&line));
        strbuf_free(&line);
    }
    if (!cfg || diags.nerrors) {
        ruleset_free(rs);
        config_free(cfg);
        diag_list_free(&diags);
        return NULL;
    }
    diag_list_free(&diags);
    /* A receiver that groups and deduplicates by itself (Alertmanager, the
     * HA path) gets routes that send at once and re-send every evaluation
     * while firing (README.md "High availability"). */
    for (size_t i = 0; i < cfg->nroutes; i++) {
        struct route_cfg *r = &cfg->routes[i];
        const struct receiver_ops *ops = NULL;
        if (r->receiver_index >= 0 &&
            (size_t)r->receiver_index < cfg->nreceivers)
            ops = receiver_ops_of(&cfg->receivers[r->receiver_index]);
        if (ops && ops->dedups_itself) {
            r->timing.has_group_wait = r->timing.has_group_interval =
                r->timing.has_repeat_interval = true;
            r->timing.group_wait_s = 0;
            r->timing.group_interval_s = eval_interval_s;
            r->timing.repeat_interval_s = eval_interval_s;
        }
    }
    *rs_out = rs;
    return cfg;
}

/* Event volume rows older than this become hourly rows: the back-fill
 * at start reads hours up to about two hours ago and minutes after
 * (schedule.c), so the rules see the same resolution after a week of
 * running as after a start, and a week of minutes costs a week of hours. */
#define VOLUME_ROLLUP_AFTER_S (2 * 3600.0)
#define VOLUME_ROLLUP_STEP_S 3600.0

void daemon_store_limits(const struct daemon *d, struct store_limits *lim)
{
    memset(lim, 0, sizeof(*lim));
    double poll = 60;
    bool minute_volume = false;
    for (size_t i = 0; i < d->cfg->nworkspaces; i++) {
        poll = fmax(poll, d->cfg->workspaces[i].poll_interval_s);
        minute_volume |= d->cfg->workspaces[i].volume_interval_s < 3600;
    }
    /* What the rules read, plus slack, plus an hour for sparklines. */
    double slack[FAM__COUNT] = {
        [FAM_CONNECTION] = 2 * poll,
        [FAM_SOURCE] = 2 * 3600,
        [FAM_USAGE] = 2 * 86400,
    };
    lim->retention_s[FAM_CONNECTION] =
        fmax(d->rs->lookback_s[FAM_CONNECTION], 3600) + slack[FAM_CONNECTION];
    lim->retention_s[FAM_SOURCE] =
        fmax(d->rs->lookback_s[FAM_SOURCE], 3600) + slack[FAM_SOURCE];
    lim->retention_s[FAM_USAGE] =
        fmax(d->rs->lookback_s[FAM_USAGE], 35 * 86400.0);
    lim->spacing_s[FAM_CONNECTION] = poll;
    /* Size volume rings for the hourly back-fill that dominates a week of
     * history; the recent minute buckets make a ring grow by doubling.
     * Sizing for minutes would reserve 10,000 rows per source. */
    lim->spacing_s[FAM_SOURCE] = 3600;
    lim->spacing_s[FAM_USAGE] = 86400;
    /* History per metric: as far back as a rule reads it, plus slack (a
     * sample may be stamped after the evaluation that reads it); the
     * value metric of a rule as far back as its sparkline draws, within
     * what the family keeps.  Everything else: the newest value only. */
    ruleset_store_history(d->rs, slack, DAEMON_SPARK_WINDOW_S, lim);
    if (minute_volume &&
        lim->retention_s[FAM_SOURCE] > VOLUME_ROLLUP_AFTER_S + 3600) {
        lim->rollup_after_s[FAM_SOURCE] = VOLUME_ROLLUP_AFTER_S;
        lim->rollup_step_s[FAM_SOURCE] = VOLUME_ROLLUP_STEP_S;
    }
}

void daemon_workspaces_start(struct daemon *d, double now)
{
    d->nws = d->cfg->nworkspaces;
    d->ws = xcalloc(d->nws ? d->nws : 1, sizeof(*d->ws));
    struct sample_sink sink = { daemon_on_sample, d };
    for (size_t i = 0; i < d->nws; i++) {
        const struct workspace_cfg *wc = &d->cfg->workspaces[i];
        ws_schedule_init(&d->ws[i], wc,
                         poller_new(wc, d->http, d->clock, &sink), now);
    }
}

void daemon_workspaces_stop(struct daemon *d)
{
    for (size_t i = 0; i < d->nws; i++)
        ws_schedule_free(&d->ws[i]);
    free(d->ws);
    d->ws = NULL;
    d->nws = 0;
}

/* Is the rule the same in both configs (so its instances keep state)? */
static bool rule_unchanged(const struct rule_cfg *a, const struct rule_cfg *b)
{
    return streq(a->expr, b->expr) && streq(a->warn, b->warn) &&
           streq(a->recover, b->recover) && a->for_s == b->for_s &&
           a->keep_firing_for_s == b->keep_firing_for_s &&
           a->no_data == b->no_data && a->no_data_after_s == b->no_data_after_s &&
           streq(a->severity, b->severity);
}

/* Instances of unchanged rules move to the new evaluator; an announced
 * alert of a removed or changed rule is resolved, or it would stay firing
 * in its group for ever.  Returns how many were kept. */
static size_t carry_instances(struct daemon *d, struct evaluator *ev,
                              const struct ruleset *rs, double now)
{
    size_t kept = 0;
    struct eval_instance *const *all;
    size_t ni = evaluator_instances(d->ev, &all);
    for (size_t i = 0; i < ni; i++) {
        const struct rule_cfg *old = all[i]->rule->cfg;
        bool carried = false;
        for (size_t k = 0; k < rs->n && !carried; k++) {
            if (streq(rs->rules[k].cfg->name, old->name) &&
                rule_unchanged(rs->rules[k].cfg, old)) {
                evaluator_restore(ev, old->name, all[i]->series_labels,
                                  &all[i]->st);
                kept++;
                carried = true;
            }
        }
        if (!carried && all[i]->st.state == ALERT_FIRING &&
            all[i]->st.announced_firing)
            daemon_resolve_instance(d, all[i], now);
    }
    return kept;
}

/* The pollers point into the old config: cancel what is queued and let
 * transfers in flight finish before replacing them (bounded by the
 * request timeout). */
static void drain_pollers(struct daemon *d)
{
    for (size_t i = 0; i < d->nws; i++)
        poller_cancel(d->ws[i].poller);
    for (;;) {
        int inflight = 0;
        for (size_t i = 0; i < d->nws; i++)
            inflight += poller_in_flight(d->ws[i].poller);
        if (!inflight)
            break;
        http_run(d->http, 100);
    }
}

/* The HTTP server is started once (httpd.h): what it was given. */
static bool http_settings_changed(const struct config *a,
                                  const struct config *b)
{
    bool same = streq(a->listen, b->listen) &&
                streq(a->admin_token, b->admin_token) &&
                a->enable_lifecycle == b->enable_lifecycle &&
                a->allowed_hosts.n == b->allowed_hosts.n;
    for (size_t i = 0; same && i < a->allowed_hosts.n; i++)
        same = streq(a->allowed_hosts.items[i], b->allowed_hosts.items[i]);
    return !same;
}

enum reload_status daemon_reload(struct daemon *d, char *msg, size_t msglen)
{
    log_info("daemon: reloading %s", d->config_path);
    if (msglen)
        msg[0] = '\0';
    struct ruleset *rs = NULL;
    struct config *cfg = daemon_load_config(d->config_path, &rs,
                                            d->o.eval_interval_s);
    if (!cfg) {
        log_err("daemon: reload failed; keeping the running configuration");
        snprintf(msg, msglen, "%s has errors (see the log or run segalert "
                 "check); the running configuration is kept", d->config_path);
        return RELOAD_INVALID;
    }
    if (!streq(cfg->state_dir, d->cfg->state_dir))
        log_warn("daemon: state_dir changed; it takes effect on restart");
    if (http_settings_changed(cfg, d->cfg))
        log_warn("daemon: listen, admin_token, allowed_hosts or "
                 "enable_lifecycle changed; the HTTP server takes them on "
                 "restart");
    double now = daemon_now(d);
    struct evaluator *ev = evaluator_new(rs, cfg, d->pool);
    size_t kept = carry_instances(d, ev, rs, now);
    /* A workspace that the reload removes cannot come back up: resolve its
     * meta-alerts now, or they would stay firing in their groups for ever. */
    for (size_t i = 0; i < d->nws; i++) {
        if (config_workspace(cfg, d->ws[i].cfg->name))
            continue;
        if (d->ws[i].down)
            daemon_dispatch_meta(d, &d->ws[i], false, now);
        for (int k = POLL_DELIVERY; k < POLL__COUNT; k++)
            if (d->ws[i].coverage[k].blind)
                daemon_dispatch_coverage(d, &d->ws[i], (enum poll_kind)k,
                                         false, now);
    }
    drain_pollers(d);

    /* What the new run of a workspace keeps from the old one (matched by
     * name): the history already back-filled into the store, how far event
     * volume was read, and whether its meta-alert is firing. */
    size_t nold = d->nws;
    struct ws_schedule *old = xcalloc(nold ? nold : 1, sizeof(*old));
    char **old_names = xcalloc(nold ? nold : 1, sizeof(*old_names));
    for (size_t i = 0; i < nold; i++) {
        old[i] = d->ws[i];
        old_names[i] = xstrdup(d->ws[i].cfg->name);
    }
    daemon_workspaces_stop(d);
    evaluator_free(d->ev);
    ruleset_free(d->rs);
    dispatch_set_config(d->disp, cfg);
    config_free(d->cfg);
    d->cfg = cfg;
    d->rs = rs;
    d->ev = ev;
    struct store_limits lim;
    daemon_store_limits(d, &lim);
    store_set_limits(d->store, &lim);
    daemon_workspaces_start(d, now);
    daemon_export_reload(d, now);
    for (size_t i = 0; i < d->nws; i++)
        for (size_t k = 0; k < nold; k++)
            if (streq(old_names[k], d->ws[i].cfg->name))
                ws_schedule_carry_over(&d->ws[i], &old[k]);
    for (size_t k = 0; k < nold; k++)
        free(old_names[k]);
    free(old_names);
    free(old);
    log_configure(cfg->log_level, cfg->log_format, d->o.verbose > 0,
                  d->o.log_format);
    log_info("daemon: reloaded: %zu workspaces, %zu rules (%zu alert instances "
             "kept)", cfg->nworkspaces, rs->n, kept);
    d->eval_requested = true;
    d->dirty = true;
    return RELOAD_OK;
}
