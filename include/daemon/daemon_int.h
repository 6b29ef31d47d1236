/*
 * daemon_int.h - the running daemon's state, shared by the files of the
 * daemon layer only (never included outside src/daemon/):
 *
 *   daemon.c     the main loop, signals, start-up and shutdown
 *   schedule.c   when each workspace is polled, its health
 *   alerts.c     evaluation -> alert transitions -> the dispatcher,
 *                including the segalert-workspace-down meta-alert
 *   deliveries.c dispatcher -> outbox -> receivers, and the outcomes back
 *   persist.c    the state document: what is saved (what changed since
 *                the last save, daemon/persist.h), how it is restored
 *   reload.c     loading the configuration and rules, SIGHUP reloads
 *   publish.c    the snapshot the HTTP server reads
 *   exports.c    samples and alert states to the exporters
 *
 * Everything here is owned and touched by the main thread; the HTTP
 * server thread sees only published snapshots and talks to the loop
 * through control commands (server/control.h).
 */
#ifndef SEGALERT_DAEMON_INT_H
#define SEGALERT_DAEMON_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "api/http.h"
#include "config/config.h"
#include "core/clock.h"
#include "daemon/daemon.h"
#include "daemon/persist.h"
#include "daemon/schedule.h"
#include "daemon/state.h"
#include "daemon/timefix.h"
#include "engine/discard_reasons.h"
#include "engine/eval.h"
#include "engine/labels.h"
#include "engine/rules.h"
#include "engine/store.h"
#include "notify/deliver.h"
#include "notify/dispatch.h"
#include "notify/outbox.h"
#include "server/httpd.h"

/* Most notifications the outbox holds; adding to a full outbox drops the
 * oldest queued one (counted). */
#define DAEMON_OUTBOX_MAX 100000
/* How long SIGTERM waits for deliveries in flight (real seconds: it is
 * about the service manager's stop timeout, not about alert time). */
#define DAEMON_STOP_FLUSH_S 10.0
/* Longest sleep of one loop pass, in seconds of the daemon's clock. */
#define DAEMON_MAX_WAIT_S 1.0
/* How far back the status page's sparkline of an alert reaches (the
 * history of its rule's value metric, which the store keeps that long). */
#define DAEMON_SPARK_WINDOW_S (6 * 3600.0)
#define META_RULE_WORKSPACE_DOWN "segalert-workspace-down"
#define META_RULE_COVERAGE "segalert-coverage"
#define META_RULE_STATE_UNWRITABLE "segalert-state-unwritable"
/* While the state cannot be saved (disk full, read-only file system),
 * notifications not yet on disk wait at most this long (real seconds)
 * before they go out anyway: a crash meanwhile would lose them, a page
 * held for ever would be worse. */
#define DAEMON_UNSAVED_HOLD_S 120.0
/* While saves fail, one attempt per this many (real) seconds at most. */
#define DAEMON_SAVE_RETRY_S 1.0
/* At most one "still cannot save" error line per this many seconds. */
#define DAEMON_SAVE_ERR_LOG_S 60.0

struct daemon {
    struct daemon_opts o;
    const struct clock *clock;
    const char *config_path;
    struct config *cfg;
    struct ruleset *rs;
    struct label_pool *pool;
    struct store *store;
    struct evaluator *ev;
    struct http_client *http;
    struct dispatcher *disp;
    struct outbox *ob;
    struct state_lock *lock;
    struct persist *persist;        /* the state on disk; from the restore */
    struct ws_schedule *ws;         /* one per configured workspace */
    size_t nws;
    double next_eval;
    bool eval_requested;
    bool snapshot_due;
    bool dirty;                     /* state changed since the last save */
    bool outcomes_unsaved;          /* a receiver answered since the last
                                       save: saved before anything else */
    struct clock_watch clock_watch; /* steps of the wall clock */
    /* Saving fails (persist.c): since when (real monotonic ms, 0 = it
     * works), how often, when the last error line was logged. */
    int64_t unwritable_since_ms;
    double unwritable_since_wall;   /* the same, on the daemon's clock */
    unsigned long save_failures;
    int64_t save_err_logged_ms;
    int64_t save_attempt_ms;        /* the last attempt that failed */
    char save_error[512];           /* the last failure */
    bool state_meta_firing;         /* segalert-state-unwritable announced */
    bool running;                   /* state restored: stopping saves it */
    bool stopping;                  /* aborting what is in flight at exit */
    struct deliverer *dl;
    struct httpd *httpd;
    double started_at;
    /* exporting (exports.c): the exporters and the ledger, what the
     * glue keeps, and the generation of the pollers (bumped whenever they
     * are replaced: a new poller starts new delivery windows) */
    struct exporters *exp;
    struct export_glue *export_glue;
    unsigned poller_generation;
    double next_export;             /* clock time the exporters want a
                                       turn */
    /* connections whose implausible latencies were logged (interned label
     * sets, compared by pointer) */
    const struct labelset **latency_warned;
    size_t nlatency_warned, latency_warned_cap;
    struct reasons_cache *reasons;  /* reasons.c */
};

static inline double daemon_now(const struct daemon *d)
{
    return clock_wall(d->clock);
}

/* reasons.c: discard reasons of connections with discard alerts
 * (README.md "Discard reasons").  daemon_reasons_request() runs after
 * each evaluation and asks the pollers for the reasons of every pending
 * or firing instance whose rule wants them and whose cached reasons are
 * older than the rule's window; nothing waits for the answers: the next
 * evaluation attaches what has arrived.  The cache is keyed by
 * (workspace, source id, destination id) and lives as long as the
 * daemon (pollers replaced by a reload cancel their calls, which then
 * leave the entry to be asked again). */
struct reasons_cache;
void daemon_reasons_request(struct daemon *d, double now);
/* The wall clock jumped by step_s: the cached answers' and the requests'
 * times move with it (a clock set back must not keep them for a day). */
void daemon_reasons_shift_times(struct daemon *d, double step_s);
/* Whether in's rule wants discard reasons (the rule's `reasons`, by
 * default on for rules that read discarded or discard_ratio). */
bool daemon_reasons_wanted(const struct eval_instance *in);
/* The cached reasons of in's connection, or NULL. */
const struct discard_reasons *daemon_reasons_get(struct daemon *d,
                                                 const struct eval_instance *in);
void daemon_reasons_free(struct daemon *d);

/* alerts.c */
void daemon_evaluate(struct daemon *d, double now);
/* The sample sink of every poller: samples go into the store. */
void daemon_on_sample(void *ud, enum family fam, const struct kv *labels,
                      size_t n, double t, const double v[M__COUNT],
                      const bool has[M__COUNT]);
/* Raise (firing) or resolve the workspace-down meta-alert of w. */
void daemon_dispatch_meta(struct daemon *d, const struct ws_schedule *w,
                          bool firing, double now);
/* Raise or resolve the segalert-coverage meta-alert of w's family k. */
void daemon_dispatch_coverage(struct daemon *d, const struct ws_schedule *w,
                              enum poll_kind k, bool firing, double now);
/* segalert-state-unwritable: fire (every pass while saves fail; the
 * first time also to the log receivers at once) or resolve. */
void daemon_state_meta(struct daemon *d, double now);
/* Resolve an announced alert whose rule is gone (reload). */
void daemon_resolve_instance(struct daemon *d, struct eval_instance *in,
                             double now);
/* $variables of a workspace at now (engine/eval.h hooks.vars): the plan
 * limits and the usage period the API reported. */
void daemon_vars(void *ud, const char *workspace, double now,
                 double vals[EXPR_VAR__COUNT]);
/* Connection priorities for the scheduler (struct schedule_needs). */
void daemon_schedule_needs(struct daemon *d, struct schedule_needs *needs);
void daemon_schedule_needs_free(struct schedule_needs *needs);

/* deliveries.c */
/* Outbox in, due entries out; while daemon_hold_unsaved(), nothing goes
 * out of the outbox. */
void daemon_flush_notifications(struct daemon *d, double now);
/* Write one alert to every receiver of the local kind (log) at once,
 * outside the outbox: for what cannot wait for a save. */
void daemon_write_local(struct daemon *d, const struct notify_alert *a,
                        double now);
/* Stop polling and give deliveries up to DAEMON_STOP_FLUSH_S. */
void daemon_stop_flush(struct daemon *d);

/* persist.c */
/* Append what changed since the last save to the journal (compacting when
 * the journal is due); a full snapshot once d->stopping is set (the last
 * save of a clean shutdown).  0 (d->dirty cleared), or -1: the failure is
 * logged (the first at once, then at most every DAEMON_SAVE_ERR_LOG_S)
 * and d->unwritable_since_ms set until a save succeeds again; meanwhile
 * one attempt per DAEMON_SAVE_RETRY_S (a failing attempt costs a full
 * snapshot), except the last save of a shutdown. */
int daemon_save_state(struct daemon *d);
/* Is the state unwritable for less than DAEMON_UNSAVED_HOLD_S, so that
 * notifications not on disk must wait? */
bool daemon_hold_unsaved(const struct daemon *d);
/* Create d->persist, read the state into the evaluator, dispatcher and
 * outbox, and compact it (a full snapshot, an empty journal).  0, or -1
 * when the state exists but cannot be read (starting anyway would
 * overwrite it at the first save). */
int daemon_restore_state(struct daemon *d);

/* reload.c */
/* Load and check the configuration and its rules; logs every diagnostic.
 * NULL on errors. */
struct config *daemon_load_config(const char *path, struct ruleset **rs_out,
                                  double eval_interval_s);
/* Limits of the series store derived from the config and the rules. */
void daemon_store_limits(const struct daemon *d, struct store_limits *lim);
/* Start a schedule (and poller) per workspace of d->cfg. */
void daemon_workspaces_start(struct daemon *d, double now);
void daemon_workspaces_stop(struct daemon *d);

enum reload_status {
    RELOAD_OK = 0,
    RELOAD_INVALID,         /* the new configuration has errors: kept the
                               running one */
};
/* Reload the configuration file.  On RELOAD_INVALID msg says why (for the
 * HTTP API); the errors themselves are logged. */
enum reload_status daemon_reload(struct daemon *d, char *msg, size_t msglen);

/* publish.c */
void daemon_publish_snapshot(struct daemon *d, double now);

/* exports.c */
void daemon_export_start(struct daemon *d, double now);
/* After a reload replaced the configuration and the pollers. */
void daemon_export_reload(struct daemon *d, double now);
/* A sample of a poller (called by daemon_on_sample after the store). */
void daemon_export_sample(struct daemon *d, enum family fam,
                          const struct labelset *ls, double t,
                          const double v[M__COUNT], const bool has[M__COUNT]);
/* Alert states when due, then the exporters' sends; returns the clock
 * time of the next thing to do. */
double daemon_export_tick(struct daemon *d, double now);
/* Shutdown: send what is queued, for a few seconds at most. */
void daemon_export_stop(struct daemon *d);
void daemon_export_free(struct daemon *d);
/* Fill the snapshot's exporters and the series' running totals. */
struct snapshot;
void daemon_export_snapshot(struct daemon *d, struct snapshot *sn,
                            double now);

#endif
