/*
 * dispatch.h - the notification dispatcher (docs/notifications.md): routes, groups, the
 * notification log (dedup) and silences, Alertmanager's model made
 * explicit and persistable.  Pure: no I/O but log lines, every time is
 * passed in.  docs/notifications.md describes the behaviour for users.
 *
 * Flow:
 *   dispatch_alert(d, a, now)  for every alert instance change (firing,
 *                              severity change, resolved, flapping) AND once
 *                              per evaluation for every firing alert.
 *   dispatch_tick(d, now, &v)  the notifications due now, in group order.
 *   dispatch_next_due(d)       when to call dispatch_tick next.
 *
 * Routing: routes in config order; a route matches when each match entry
 * label=glob matches the alert's label (a missing label is ""), where
 * "severity" also names the alert's severity; no entries = matches
 * everything; the first match wins unless it has continue = true.
 *
 * Groups: one per (route, values of the group_by labels); group_by "..."
 * means every label.  group_key = `route:{k="v",...}` (sorted by key,
 * labels the alert lacks omitted), stable across restarts.  Each group
 * is evaluated ("flushed") group_wait after it was created, then on a grid
 * of group_interval; at each flush the notification log of the group
 * decides (first / new_alerts / resolved / all_resolved / flapping /
 * repeat / nothing).
 *
 * Cost: routing an alert costs O(routes + its labels), independent of the
 * number of groups and alerts held (groups and alerts are found through
 * hash indexes); dispatch_tick() and dispatch_next_due() cost O(1) plus
 * O(log groups) per group due or changed since the last call (a changed
 * group's next due time is recomputed once, from its alerts).  Adding or
 * ending a silence makes every group's due time recomputed once.
 *
 * Ownership: the dispatcher copies everything it keeps (the config's
 * routes and receivers, the alerts), so the config and the alert may be
 * freed right after the call.  Notifications returned by dispatch_tick()
 * belong to the caller (notification_free each, free the array).
 */
#ifndef SEGALERT_DISPATCH_H
#define SEGALERT_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "notify/notify.h"
#include "notify/silence.h"

struct dispatcher;

/* A dispatcher for cfg's routes, receivers, defaults and external_url. */
struct dispatcher *dispatch_new(const struct config *cfg);
void dispatch_free(struct dispatcher *d);           /* NULL is a no-op */

/*
 * Swap in a new configuration (reload).  Groups whose route no longer
 * exists, or whose route now names another receiver, are dropped without
 * a notification (their alerts form new groups at the next evaluation).
 * Alerts whose route no longer matches them, or whose group_key changed
 * (group_by edited), are marked resolved in their old group, so that group
 * sends its resolved / all_resolved as usual and the new group starts
 * with "first".  New timing applies from the next flush.
 */
void dispatch_set_config(struct dispatcher *d, const struct config *cfg);

/* Feed an alert instance (copied).  A resolved alert that is in no group
 * is ignored; a firing alert matching no route is counted as unrouted and
 * logged once per rule. */
void dispatch_alert(struct dispatcher *d, const struct notify_alert *a,
                    double now);

/*
 * Flush every group due at now.  Returns the number of notifications and
 * sets *out to a new array of them (NULL when 0); the caller owns the
 * array and each notification.  Ids are "<16 hex of hash(group_key,
 * receiver)>-<sequence>", the sequence increasing across the dispatcher's
 * life and restarts (it is part of the state).
 */
size_t dispatch_tick(struct dispatcher *d, double now,
                     struct notification ***out);

/* Earliest time a dispatch_tick() could produce or change something;
 * INFINITY when nothing is pending.  O(1) plus the recomputation of the
 * groups changed since the last call (see "Cost" above). */
double dispatch_next_due(struct dispatcher *d);

/* The dispatcher's silences, for `silence add/expire/list` and the status
 * page.  Adding or expiring takes effect at the next flush of each group.
 * They carry the configuration's max_silences and max_silence_size_bytes
 * (dispatch_new, dispatch_set_config; kept by dispatch_from_json). */
struct silences *dispatch_silences(struct dispatcher *d);

struct dispatch_stats {
    size_t groups;                  /* gauge */
    size_t alerts;                  /* gauge: alerts held in groups */
    size_t silenced;                /* gauge: firing alerts in groups that an
                                       active silence matches (at the last
                                       time passed in) */
    uint64_t notifications[NOTIFY__COUNT];  /* counters, by reason */
    uint64_t unrouted;              /* distinct alerts that matched no route */
    uint64_t suppressed_short_lived;/* fired and resolved before any
                                       notification: not sent */
    uint64_t silenced_resolved;     /* resolved while silenced, never
                                       announced: not sent */
};
void dispatch_stats(const struct dispatcher *d, struct dispatch_stats *out);

/*
 * State file form (version 1):
 *   {"version": 1, "seq": N, "groups": [...], "silences": [...]}
 * Each group holds its route, receiver, key, labels, created_at, next
 * flush time, alerts (full notify_alert copies) and its notification log
 * entry (announced fingerprints with severity, flapping, muted; time of
 * the last notification).  dispatch_to_json() returns a new tree (caller
 * deletes).  dispatch_from_json() replaces groups, log, silences and
 * sequence, then reconciles the groups with the current config as
 * dispatch_set_config() does; on a malformed document it returns -1 with
 * a message in err and leaves the dispatcher unchanged.
 */
cJSON *dispatch_to_json(const struct dispatcher *d);
int dispatch_from_json(struct dispatcher *d, const cJSON *j, char *err,
                       size_t errlen);

/*
 * The same state one group at a time, for the state journal
 * (daemon/persist.h), which saves a group again only when its digest
 * moved.  i < dispatch_group_count(), groups in the order of "groups";
 * dispatch_group_to_json() is the element of that array (a new tree);
 * the digest covers exactly what it writes.  dispatch_seq() is "seq".
 */
size_t dispatch_group_count(const struct dispatcher *d);
const char *dispatch_group_key(const struct dispatcher *d, size_t i);
uint64_t dispatch_group_digest(const struct dispatcher *d, size_t i);
cJSON *dispatch_group_to_json(const struct dispatcher *d, size_t i);
uint64_t dispatch_seq(const struct dispatcher *d);
/* Moves whenever a group may have changed (an alert routed, a flush, a
 * new configuration, a restore): the state saver skips the groups when it
 * did not.  Silences are not covered. */
uint64_t dispatch_generation(const struct dispatcher *d);

/* Move every group's times (created, next flush, last notified, its
 * alerts' starts and ends) by delta_s: the wall clock stepped, and each
 * group keeps what it had left to wait.  Silences keep theirs. */
void dispatch_shift_times(struct dispatcher *d, double delta_s);

#endif
