/*
 * deliveries.c - notifications from the dispatcher into the outbox (saved
 * before the first attempt), due outbox entries to the receivers, and each
 * outcome back into the outbox (see daemon_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "daemon/daemon_int.h"
#include "notify/receiver.h"

struct attempt_ctx {
    struct daemon *d;
    uint64_t entry_id;
    char receiver[128];
};

static void on_delivered(void *ud, const struct delivery_verdict *v)
{
    struct attempt_ctx *ac = ud;
    struct daemon *d = ac->d;
    double now = daemon_now(d);
    if (d->stopping && v->outcome != DELIVERY_OK) {
        /* Aborted by our shutdown, not refused by the receiver: the entry
         * stays as it was, so the state file has it queued and due at
         * once after a restart (no back-off, no failure counted). */
        free(ac);
        return;
    }
    struct outbox_result res = { OUTBOX_OK, 0, NULL };
    if (v->outcome != DELIVERY_OK) {
        res.kind = v->outcome == DELIVERY_PERMANENT ? OUTBOX_PERMANENT
                                                    : OUTBOX_RETRY;
        res.retry_after_s = v->retry_after_s > 0 ? v->retry_after_s : 0;
        res.reason = v->reason;
    }
    const struct outbox_entry *e = outbox_get(d->ob, ac->entry_id);
    char nid[160];
    snprintf(nid, sizeof(nid), "%s", e && e->n ? e->n->id : "?");
    switch (outbox_done(d->ob, ac->entry_id, &res, now)) {
    case OUTBOX_DELIVERED:
        log_debug("notify: delivered %s to receiver \"%s\"", nid, ac->receiver);
        break;
    case OUTBOX_RESCHEDULED:
        log_warn("notify: receiver \"%s\" failed for %s (%s); will retry",
                 ac->receiver, nid, v->reason);
        break;
    case OUTBOX_FAILED:
        log_err("notify: receiver \"%s\" permanently failed for %s: %s",
                ac->receiver, nid, v->reason[0] ? v->reason : "gave up");
        break;
    default:
        break;
    }
    d->dirty = true;
    d->outcomes_unsaved = true;
    free(ac);
}

static void deliver(struct daemon *d, struct outbox_entry *e, double now)
{
    struct attempt_ctx *ac = xcalloc(1, sizeof(*ac));
    ac->d = d;
    ac->entry_id = e->id;
    snprintf(ac->receiver, sizeof(ac->receiver), "%s", e->n->receiver);
    deliverer_send(d->dl, e->n, config_receiver(d->cfg, e->n->receiver), now,
                   d->o.eval_interval_s, on_delivered, ac);
}

void daemon_flush_notifications(struct daemon *d, double now)
{
    struct notification **ns = NULL;
    size_t n = dispatch_tick(d->disp, now, &ns);
    for (size_t i = 0; i < n; i++) {
        log_debug("notify: %s queued reason=%s receiver=%s group=%s alerts=%zu",
                 ns[i]->id, notify_reason_name(ns[i]->reason), ns[i]->receiver,
                 ns[i]->group_key, ns[i]->nalerts);
        outbox_add(d->ob, ns[i], now);
    }
    free(ns);
    if (n) {
        /* In the state file before the first delivery attempt. */
        daemon_save_state(d);
    }
    /* A notification goes out only once it is on disk: while saves fail,
     * the outbox waits (bounded by DAEMON_UNSAVED_HOLD_S, after which an
     * unsaved page beats no page). */
    if (d->unwritable_since_ms && !d->dirty)
        d->dirty = true;        /* retry the save every pass */
    if (daemon_hold_unsaved(d))
        return;
    /* Everything due at once: the deliverer queues what cannot start yet
     * (max_connections per receiver host), so no entry waits in the
     * outbox for a loop pass, and one hand-out costs O(due log n). */
    if (outbox_next_due(d->ob) > now)
        return;
    size_t cap = outbox_queued(d->ob);
    struct outbox_entry **due = xcalloc(cap ? cap : 1, sizeof(*due));
    size_t nd = outbox_due(d->ob, now, due, cap);
    for (size_t i = 0; i < nd; i++)
        deliver(d, due[i], now);
    free(due);
}

static void local_written(void *ud, const struct delivery_verdict *v)
{
    (void)ud;
    (void)v;
}

void daemon_write_local(struct daemon *d, const struct notify_alert *a,
                        double now)
{
    for (size_t i = 0; i < d->cfg->nreceivers; i++) {
        const struct receiver_cfg *rc = &d->cfg->receivers[i];
        const struct receiver_ops *ops = receiver_ops_of(rc);
        if (!ops || ops->delivery != RECEIVER_LOCAL)
            continue;
        struct notification *n = notification_new();
        n->id = xasprintf("%s-%.0f", a->rule, now);
        n->receiver = xstrdup(rc->name);
        n->receiver_type = xstrdup(ops->def.name);
        n->route = xstrdup("segalert");
        n->group_key = xasprintf("segalert:{rule=\"%s\"}", a->rule);
        n->reason = NOTIFY_FIRST;
        n->created_at = now;
        n->ngroup_labels = 1;
        n->group_labels = xcalloc(1, sizeof(struct kv));
        n->group_labels[0].key = xstrdup("rule");
        n->group_labels[0].value = xstrdup(a->rule);
        n->nalerts = 1;
        n->alerts = xcalloc(1, sizeof(struct notify_alert));
        notify_alert_copy(&n->alerts[0], a);
        deliverer_send(d->dl, n, rc, now, d->o.eval_interval_s, local_written,
                       NULL);
        notification_free(n);
    }
}

void daemon_stop_flush(struct daemon *d)
{
    /* The deadline is real time on purpose: it bounds how long the process
     * takes to stop, whatever clock the alerts run on. */
    int64_t deadline_ms = now_mono_ms() + (int64_t)(DAEMON_STOP_FLUSH_S * 1000);
    for (size_t i = 0; i < d->nws; i++)
        poller_cancel(d->ws[i].poller);
    while (now_mono_ms() < deadline_ms) {
        double now = daemon_now(d);
        daemon_flush_notifications(d, now);
        deliverer_poll(d->dl);
        if (deliverer_in_flight(d->dl) == 0 &&
            outbox_next_due(d->ob) > daemon_now(d))
            break;
        http_run(d->http, 100);
    }
    if (deliverer_in_flight(d->dl))
        log_warn("daemon: %u deliveries still running at shutdown; they stay "
                 "queued in the state file", deliverer_in_flight(d->dl));
}
