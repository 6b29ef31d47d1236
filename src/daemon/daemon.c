/*
 * daemon.c - see daemon.h: the main loop, signals, start-up and shutdown.
 * The other jobs of the running daemon live beside it (daemon_int.h).
 *
 * Cycle of the main loop (at most DAEMON_MAX_WAIT_S apart):
 *   1. signals and control commands: reload / stop / silences
 *   2. per workspace: start discovery, back-fill and polls that are due
 *   0. a step of the wall clock moves every timer by the step
 *   3. drive HTTP transfers (API polls and receiver posts share the loop;
 *      the SMTP worker's pipe wakes it too), then at once start the polls
 *      that the finished ones made room for; a receiver's answer is saved
 *      right then, before anything else is sent (so a crash re-sends at
 *      most what one save had not yet written)
 *   4. note finished sweeps and workspace health
 *   5. evaluate the rules every eval_interval and after a sweep
 *   6. publish a snapshot for the HTTP server when something changed
 *   7. dispatch: due notifications go to the outbox, the state file is
 *      written, then deliveries start (so nothing is lost on a crash)
 *   8. collect SMTP results, save state if anything changed
 */
#include "daemon/daemon.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "daemon/daemon_int.h"
#include "notify/silence.h"
#include "server/control.h"
#include "server/snapshot.h"

static volatile sig_atomic_t sig_reload, sig_stop;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        sig_reload = 1;
    else
        sig_stop = 1;
}

/* ---- commands from the HTTP server -------------------------------------------------------- */

static void run_controls(struct daemon *d, double now)
{
    struct control_cmd *c;
    while ((c = control_take()) != NULL) {
        c->status = CTRL_OK;
        c->message[0] = '\0';
        switch (c->kind) {
        case CTRL_RELOAD:
            /* the configuration was invalid: the running one is kept */
            if (daemon_reload(d, c->message, sizeof(c->message)) != RELOAD_OK)
                c->status = CTRL_FAILED;
            break;
        case CTRL_SILENCE_ADD: {
            const struct silence *s = NULL;
            enum silence_err e = silence_add(
                dispatch_silences(d->disp), c->matchers, c->nmatchers,
                c->starts_at, c->ends_at, c->created_by, c->comment, now, &s,
                c->message, sizeof(c->message));
            c->status = control_status_of_silence(e);
            if (e == SILENCE_OK) {
                snprintf(c->silence_id, sizeof(c->silence_id), "%s", s->id);
                log_info("daemon: silence %s added", s->id);
                d->dirty = true;
            }
            break;
        }
        case CTRL_SILENCE_EXPIRE: {
            enum silence_err e = silence_expire(dispatch_silences(d->disp),
                                                c->id, now, c->message,
                                                sizeof(c->message));
            c->status = control_status_of_silence(e);
            if (e == SILENCE_OK) {
                log_info("daemon: silence %s expired", c->id);
                d->dirty = true;
            }
            break;
        }
        }
        /* A GET right after this POST must see its effect. */
        daemon_publish_snapshot(d, now);
        control_complete(c);
    }
}

/* ---- health ------------------------------------------------------------- */

/* Log what refreshing everything costs against the budget: at the first
 * discovery and whenever a discovery changes the figures. */
static void log_budget(struct ws_schedule *w)
{
    const struct poll_health *h = poller_health(w->poller);
    if (!h->discovered)
        return;
    struct ws_budget b;
    ws_schedule_budget(w, &b);
    if (w->budget_logged && b.needed_per_min == w->budget_logged_needed &&
        b.budget_per_min == w->budget_logged_budget)
        return;
    w->budget_logged = true;
    w->budget_logged_needed = b.needed_per_min;
    w->budget_logged_budget = b.budget_per_min;
    char every[32], refresh[32];
    format_duration(w->cfg->poll_interval_s, every, sizeof(every));
    format_duration(b.delivery_refresh_s, refresh, sizeof(refresh));
    if (b.needed_per_min <= b.budget_per_min)
        log_info("schedule: ws=%s %zu connections every %s need %.0f "
                 "requests/min with volume and usage, within the budget of "
                 "%.0f/min", w->cfg->name, h->nconnections, every,
                 b.needed_per_min, b.budget_per_min);
    else
        log_warn("schedule: ws=%s %zu connections every %s need %.0f "
                 "requests/min with volume and usage, over the budget of "
                 "%.0f/min: each connection will be read about every %s "
                 "(connections with alerts first); raise request_budget or "
                 "poll_interval", w->cfg->name, h->nconnections, every,
                 b.needed_per_min, b.budget_per_min, refresh);
}

static void check_coverage(struct daemon *d, struct ws_schedule *w, double now)
{
    unsigned changed = ws_schedule_coverage(w, now, d->started_at);
    for (int k = POLL_DELIVERY; k < POLL__COUNT; k++) {
        if (!(changed & (1u << k)))
            continue;
        const struct ws_coverage *cv = &w->coverage[k];
        /* A warning, not an error: segalert still works, it sees less;
         * the segalert-coverage alert is what tells people. */
        if (cv->blind)
            log_warn("daemon: workspace \"%s\": %s data not fresh: %s",
                    w->cfg->name, ws_coverage_family((enum poll_kind)k),
                    cv->reason);
        else
            log_info("daemon: workspace \"%s\": %s data fresh again",
                     w->cfg->name, ws_coverage_family((enum poll_kind)k));
        daemon_dispatch_coverage(d, w, (enum poll_kind)k, cv->blind, now);
        d->dirty = true;
        d->snapshot_due = true;
    }
}

static void check_health(struct daemon *d, struct ws_schedule *w, double now)
{
    log_budget(w);
    switch (ws_schedule_health(w, now, d->started_at)) {
    case WS_HEALTH_DOWN:
        log_err("daemon: workspace \"%s\" is down (%s): rule states are "
                "frozen until the API answers again", w->cfg->name,
                w->down_reason);
        daemon_dispatch_meta(d, w, true, now);
        break;
    case WS_HEALTH_UP:
        log_info("daemon: workspace \"%s\" is reachable again", w->cfg->name);
        daemon_dispatch_meta(d, w, false, now);
        break;
    default:
        return;
    }
    d->dirty = true;
    d->snapshot_due = true;     /* the status API shows it at once */
}

/* ---- start-up and shutdown ------------------------------------------------ */

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Everything after the configuration: returns 0, or the exit code. */
static int start(struct daemon *d)
{
    char err[512];
    if (state_dir_prepare(d->cfg->state_dir, err, sizeof(err)) != 0) {
        log_err("daemon: %s", err);
        return 1;
    }
    d->lock = state_lock_acquire(d->cfg->state_dir, err, sizeof(err));
    if (!d->lock) {
        log_err("daemon: %s", err);
        fprintf(stderr, "segalert run: %s\n", err);
        return 1;
    }
    install_signals();
    double now = daemon_now(d);
    d->started_at = now;
    d->pool = label_pool_new();
    struct store_limits lim;
    daemon_store_limits(d, &lim);
    d->store = store_new(&lim);
    d->ev = evaluator_new(d->rs, d->cfg, d->pool);
    d->http = http_client_new();
    if (d->o.once) {
        /* One evaluation: what group_wait would gather is all here at
         * once, so waiting for it would only delay the exit. */
        d->cfg->defaults.group_wait_s = 0;
        for (size_t i = 0; i < d->cfg->nroutes; i++)
            d->cfg->routes[i].timing.group_wait_s = 0;
    }
    d->disp = dispatch_new(d->cfg);
    d->ob = outbox_new(DAEMON_OUTBOX_MAX, (uint64_t)getpid() ^ (uint64_t)now);
    d->dl = deliverer_new(d->http, d->clock, d->o.dry_run);
    daemon_export_start(d, now);
    if (daemon_restore_state(d) != 0) {
        fprintf(stderr, "segalert run: cannot read the state file in %s; not "
                "starting (it would be overwritten)\n", d->cfg->state_dir);
        return 1;
    }
    d->running = true;      /* from here on, stopping saves the state */
    daemon_workspaces_start(d, now);
    d->next_eval = now + d->o.eval_interval_s;
    if (d->cfg->listen && d->cfg->listen[0] && !d->o.once) {
        struct httpd_options ho = {
            .listen = d->cfg->listen,
            .admin_token = d->cfg->admin_token,
            .allowed_hosts = &d->cfg->allowed_hosts,
            .enable_lifecycle = d->cfg->enable_lifecycle,
            .clock = d->clock,
        };
        d->httpd = httpd_start(&ho, err, sizeof(err));
        if (!d->httpd) {
            log_err("daemon: cannot serve HTTP on %s: %s", d->cfg->listen, err);
            fprintf(stderr, "segalert run: cannot listen on %s: %s\n",
                    d->cfg->listen, err);
            return 1;
        }
        log_info("daemon: status page and /metrics on http://%s/",
                 d->cfg->listen);
        daemon_publish_snapshot(d, now);
    }
    log_info("daemon: segalert %s started: %zu workspaces, %zu rules, %zu "
             "receivers%s%s", SEGALERT_VERSION, d->cfg->nworkspaces, d->rs->n,
             d->cfg->nreceivers, d->o.dry_run ? " (dry run)" : "",
             clock_is_system(d->clock) ? "" : " (test clock)");
    return 0;
}

/* Free what start() and the loop built; NULL-safe at every step, so a
 * failed start-up can call it too. */
static void teardown(struct daemon *d)
{
    httpd_stop(d->httpd);
    snapshot_clear();
    if (d->running) {
        daemon_export_stop(d);
        daemon_stop_flush(d);
        /* Abort what is still in flight (callbacks run now, while the
         * pollers, the deliverer and the outbox exist), then free the
         * rest: the deliverer before the HTTP client it borrows (freeing
         * it unwatches the SMTP worker's fd there). */
        d->stopping = true;
        http_client_abort_all(d->http);
        deliverer_free(d->dl);
        d->dl = NULL;
        http_client_free(d->http);
        d->http = NULL;
        daemon_save_state(d);
    }
    http_client_abort_all(d->http);
    deliverer_free(d->dl);          /* before the client it watches */
    http_client_free(d->http);
    daemon_workspaces_stop(d);
    daemon_reasons_free(d);         /* after the pollers (their calls) */
    daemon_export_free(d);      /* after the client (its callbacks ran) */
    outbox_free(d->ob);
    dispatch_free(d->disp);
    evaluator_free(d->ev);
    store_free(d->store);
    free(d->latency_warned);
    label_pool_free(d->pool);
    ruleset_free(d->rs);
    persist_free(d->persist);       /* closes the journal, before the lock */
    state_lock_release(d->lock);
    config_free(d->cfg);
}

/* ---- the loop --------------------------------------------------------------- */

/* The wall clock jumped by step_s (positive: forward) while running: every
 * timer and alert time moves with it, so each keeps the (monotonic) time
 * it had left: nothing waits "until tomorrow", nothing fires early. */
static void clock_stepped(struct daemon *d, double step_s, double now)
{
    char by[32];
    format_duration(fabs(step_s), by, sizeof(by));
    log_warn("daemon: the wall clock jumped %s by %s (%.0f s): timers, polls, "
             "notification groups, queued deliveries and alert times move "
             "with it", step_s > 0 ? "forward" : "back", by, fabs(step_s));
    struct eval_instance *const *all;
    size_t n = evaluator_instances(d->ev, &all);
    for (size_t i = 0; i < n; i++)
        timefix_instance(&all[i]->st, step_s, now);
    dispatch_shift_times(d->disp, step_s);
    outbox_shift_times(d->ob, step_s);
    for (size_t i = 0; i < d->nws; i++)
        ws_schedule_shift_times(&d->ws[i], step_s);
    daemon_reasons_shift_times(d, step_s);
    d->next_eval += step_s;
    d->started_at += step_s;
    if (d->unwritable_since_wall > 0)
        d->unwritable_since_wall += step_s;
    d->eval_requested = true;       /* the instances are saved with it */
    d->dirty = true;
    d->snapshot_due = true;
}

/* Seconds of the daemon's clock until something is due (<= the cap). */
static double next_wait(struct daemon *d, double now)
{
    double wait = DAEMON_MAX_WAIT_S;
    for (size_t i = 0; i < d->nws; i++)
        wait = fmin(wait, poller_tick(d->ws[i].poller));
    wait = fmin(wait, dispatch_next_due(d->disp) - now);
    /* Held entries are due but wait for a save (retried every pass) */
    if (!daemon_hold_unsaved(d))
        wait = fmin(wait, outbox_next_due(d->ob) - now);
    wait = fmin(wait, d->next_eval - now);
    wait = fmin(wait, d->next_export - now);
    return wait;
}

/* Requests that finished in http_run() left free slots: fill them (and
 * hand the new transfers to curl) before the rest of the pass, which may
 * evaluate every rule, so that polling goes on at max_concurrency while
 * it does.  Each client starts everything its budget allows in one tick:
 * the loop never limits polling to a request per pass. */
static void refill_polls(struct daemon *d)
{
    bool started = false;
    for (size_t i = 0; i < d->nws; i++) {
        struct poller *p = d->ws[i].poller;
        int before = poller_in_flight(p);
        poller_tick(p);
        started = started || poller_in_flight(p) > before;
    }
    if (started)
        http_run(d->http, 0);
}

/* --once: done when every workspace was polled (or failed for good) and the
 * notifications that cycle caused were sent.  Returns true to stop; *rc is
 * 1 when the API could not be read. */
struct once_state {
    bool polled;
    double deadline;
};

static bool once_done(struct daemon *d, struct once_state *os, double now,
                      int *rc)
{
    if (!os->polled) {
        for (size_t i = 0; i < d->nws; i++) {
            const struct poll_health *h = poller_health(d->ws[i].poller);
            if (!d->ws[i].polled_once && !h->unauthorized &&
                !(h->errors[POLL_DISCOVERY] && !h->discovered))
                return false;
            if (!poller_idle(d->ws[i].poller))
                return false;
        }
        os->polled = true;
        daemon_evaluate(d, now);
        /* One cycle includes the notifications it causes (group_wait is 0
         * with --once): they are flushed and sent before the exit. */
        os->deadline = now;
        for (size_t i = 0; i < d->nws; i++) {
            const struct poll_health *h = poller_health(d->ws[i].poller);
            for (int k = 0; k < POLL__COUNT; k++)
                if (h->errors[k])
                    *rc = 1;
            if (h->unauthorized)
                *rc = 1;
        }
    }
    /* done when no group is due, nothing is queued for now and no
     * delivery is in flight (a retry due later waits for the next run) */
    return now >= os->deadline && dispatch_next_due(d->disp) > now &&
           outbox_next_due(d->ob) > now && deliverer_in_flight(d->dl) == 0;
}

/* --once past its deadline: say what was not finished. */
static void once_timed_out(struct daemon *d, const struct once_state *os)
{
    struct strbuf what = STRBUF_INIT;
    for (size_t i = 0; i < d->nws; i++) {
        const struct ws_schedule *w = &d->ws[i];
        const struct poll_health *h = poller_health(w->poller);
        if (!h->discovered)
            strbuf_addf(&what, "%sws=%s: discovery", what.len ? ", " : "",
                        w->cfg->name);
        for (int k = POLL_DELIVERY; k < POLL__COUNT; k++)
            if (!w->swept[k] && h->discovered)
                strbuf_addf(&what, "%sws=%s: %s", what.len ? ", " : "",
                            w->cfg->name, poll_kind_name((enum poll_kind)k));
    }
    if (os->polled && !what.len)
        strbuf_adds(&what, "notifications still waiting to be sent");
    log_err("daemon: --once gave up after %.0f s; not finished: %s",
            d->o.once_timeout_s, what.len ? what.buf : "?");
    strbuf_free(&what);
}

static int loop(struct daemon *d)
{
    int rc = 0;
    struct once_state once = { false, 0 };
    /* The --once deadline is real time: it bounds a cron job's run. */
    int64_t once_deadline_ms = now_mono_ms() +
                               (int64_t)(d->o.once_timeout_s * 1000);
    while (!sig_stop) {
        double now = daemon_now(d);
        double step = clock_watch_step(&d->clock_watch, d->clock,
                                       TIMEFIX_TOLERANCE_S);
        if (step != 0)
            clock_stepped(d, step, now);
        if (sig_reload) {
            char msg[512];
            sig_reload = 0;
            daemon_reload(d, msg, sizeof(msg));
            d->snapshot_due = true;
        }
        run_controls(d, now);
        struct schedule_needs needs;
        daemon_schedule_needs(d, &needs);
        for (size_t i = 0; i < d->nws; i++)
            ws_schedule_tick(&d->ws[i], now, &needs);
        daemon_schedule_needs_free(&needs);
        double wait = next_wait(d, now);
        double real_wait = clock_real_delay(d->clock, wait);
        http_run(d->http, real_wait <= 0 ? 0 : (int)(real_wait * 1000) + 1);
        refill_polls(d);
        /* Receivers that answered are saved before anything else is sent
         * or evaluated: a crash re-sends at most what this one write had
         * not made durable (README.md "Restarts and duplicates"). */
        deliverer_poll(d->dl);
        if (d->outcomes_unsaved)
            daemon_save_state(d);
        now = daemon_now(d);
        for (size_t i = 0; i < d->nws; i++) {
            if (ws_schedule_note_sweeps(&d->ws[i], now))
                d->eval_requested = true;
            check_health(d, &d->ws[i], now);
            check_coverage(d, &d->ws[i], now);
            ws_schedule_sample_rate(&d->ws[i], now);
        }
        if (now >= d->next_eval || d->eval_requested) {
            daemon_evaluate(d, now);
            d->eval_requested = false;
            d->next_eval = now + d->o.eval_interval_s;
            d->snapshot_due = true;
        }
        if (d->snapshot_due) {
            daemon_publish_snapshot(d, now);
            d->snapshot_due = false;
        }
        daemon_flush_notifications(d, now);
        deliverer_poll(d->dl);
        d->next_export = daemon_export_tick(d, now);
        if (d->dirty)
            daemon_save_state(d);
        if (d->o.once && once_done(d, &once, now, &rc))
            break;
        if (d->o.once && now_mono_ms() >= once_deadline_ms) {
            once_timed_out(d, &once);
            rc = 1;
            break;
        }
    }
    return rc;
}

int daemon_run(const struct daemon_opts *opts)
{
    struct daemon dd = { 0 };
    struct daemon *d = &dd;
    d->o = *opts;
    if (d->o.eval_interval_s <= 0)
        d->o.eval_interval_s = 15;
    if (d->o.once_timeout_s <= 0)
        d->o.once_timeout_s = DAEMON_ONCE_TIMEOUT_S;
    d->clock = opts->clock ? opts->clock : clock_system();
    d->config_path = opts->config_path ? opts->config_path
                                       : config_default_path();
    log_configure(NULL, NULL, d->o.verbose > 0, d->o.log_format);
    d->cfg = daemon_load_config(d->config_path, &d->rs, d->o.eval_interval_s);
    if (!d->cfg) {
        fprintf(stderr, "segalert run: configuration errors in %s; not "
                "starting (details above; `segalert check` lists them)\n",
                d->config_path);
        return 2;
    }
    log_configure(d->cfg->log_level, d->cfg->log_format, d->o.verbose > 0,
                  d->o.log_format);
    int rc = start(d);
    if (rc == 0) {
        rc = loop(d);
        log_info("daemon: stopping");
    }
    bool was_running = d->running;
    teardown(d);
    if (was_running)
        log_info("daemon: stopped");
    return rc;
}
