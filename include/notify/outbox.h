/*
 * outbox.h - the queue of notifications waiting for delivery (docs/notifications.md).
 *
 * Pure queue logic: the caller passes `now` (unix seconds) in, hands due
 * entries to the receivers and reports each outcome back.  Nothing here
 * logs, reads a clock or touches the disk; the daemon saves the outbox
 * (outbox_to_json) in the state file before the first delivery attempt,
 * so a crash loses nothing (at-least-once: an entry in flight at the crash
 * is sent again after the restart).
 *
 * Retry schedule after the k-th failed attempt (k = 1, 2, ...):
 *     base = min(30 s * 2^(k-1), 10 min)
 *     delay = base * (1 - 0.2 * u),  u uniform in [0, 1) from a seeded rng
 * i.e. 30, 60, 120, 240, 480, 600, 600... minus up to 20 % jitter, so
 * entries that failed together do not come back together and no delay
 * exceeds the documented schedule.  A server's Retry-After (clamped to
 * 1 h) is used instead when it is longer, without jitter (coming back
 * earlier than asked is pointless).  No attempt is scheduled later than
 * 24 h after the first attempt; a retryable failure at or after that
 * point gives up: a permanent failure with reason "expired after 24h".
 *
 * Order: entries of the same (receiver, group_key) are handed out one at a
 * time, oldest first: a newer one is not due while an older one is in
 * flight or waiting for its retry.  Otherwise a "resolved" could overtake
 * the "firing" it resolves and leave the receiver showing a stale alert.
 * Notifications without a group_key are not ordered.
 *
 * Capacity: at most max_entries entries (0 = unlimited); adding to a full
 * outbox drops the oldest queued entry, counted as a permanent failure
 * "dropped: outbox full" of its receiver.
 *
 * Statistics (delivered, failed by reason, retries, per receiver) count
 * since the state was created: they are saved in the state file
 * (outbox_stats_to_json, "stats" of outbox_from_json), so totals add up
 * across restarts and crashes (up to the last save).
 */
#ifndef SEGALERT_OUTBOX_H
#define SEGALERT_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "notify/notify.h"

#define OUTBOX_BACKOFF_FIRST_S 30.0
#define OUTBOX_BACKOFF_MAX_S 600.0
#define OUTBOX_JITTER 0.2               /* fraction taken off at most */
#define OUTBOX_RETRY_AFTER_MAX_S 3600.0
#define OUTBOX_GIVE_UP_S 86400.0
#define OUTBOX_REASON_EXPIRED "expired after 24h"
#define OUTBOX_REASON_FULL "dropped: outbox full"
/* Distinct failure reasons kept per receiver; later ones count as "other"
 * so a receiver returning ever-new error texts cannot grow memory. */
#define OUTBOX_MAX_REASONS 16
#define OUTBOX_REASON_LEN 120

enum outbox_entry_state { OB_QUEUED = 0, OB_IN_FLIGHT };

/* One queued notification.  Read-only for callers; valid until
 * outbox_done() removes it or outbox_free(). */
struct outbox_entry {
    uint64_t id;                /* outbox-assigned, > 0, increasing */
    struct notification *n;     /* owned by the outbox */
    int attempts;               /* delivery attempts started */
    double added_at;            /* outbox_add() time */
    double next_attempt;        /* due at or after this time */
    double first_attempt;       /* first handed out; 0 = never */
    char last_error[200];       /* of the last retryable failure, or "" */
    enum outbox_entry_state state;
    uint64_t order_key;         /* hash of (receiver, group_key); 0 = none */
};

/* What a delivery attempt came to. */
enum outbox_result_kind {
    OUTBOX_OK = 0,          /* delivered */
    OUTBOX_RETRY,           /* transient: network, 5xx, 408, 429 */
    OUTBOX_PERMANENT        /* will never work: other 4xx, bad payload */
};
struct outbox_result {
    enum outbox_result_kind kind;
    double retry_after_s;   /* RETRY: the server's Retry-After; 0 = none */
    const char *reason;     /* RETRY: the error (kept in last_error);
                               PERMANENT: the reason counted per receiver
                               (short and stable, "http 404"); may be NULL */
};

/* What outbox_done() did with the entry. */
enum outbox_done_status {
    OUTBOX_UNKNOWN = -1,    /* no such entry in flight (programmer error) */
    OUTBOX_DELIVERED = 0,   /* removed, counted delivered */
    OUTBOX_RESCHEDULED,     /* queued again for entry->next_attempt */
    OUTBOX_FAILED           /* removed, counted failed (permanent or
                               expired) */
};

struct outbox;

/* seed: the jitter rng (any value; tests fix it). */
struct outbox *outbox_new(size_t max_entries, uint64_t seed);
void outbox_free(struct outbox *ob);        /* NULL is a no-op */

/* Queue n (takes ownership), due at once.  Returns the entry id, or 0 when
 * the outbox is full of in-flight entries and n was dropped (freed and
 * counted as OUTBOX_REASON_FULL). */
uint64_t outbox_add(struct outbox *ob, struct notification *n, double now);

/* Up to max entries due at now (queued, next_attempt <= now, no older
 * entry of the same group and receiver pending), oldest first; each is
 * marked in flight and its attempts counted.  Returns how many. */
size_t outbox_due(struct outbox *ob, double now, struct outbox_entry *out[],
                  size_t max);

/* Report the outcome of an in-flight entry's attempt (see the schedule
 * above).  res->reason is copied. */
enum outbox_done_status outbox_done(struct outbox *ob, uint64_t id,
                                    const struct outbox_result *res,
                                    double now);

/* Earliest next_attempt among entries outbox_due() could hand out, or
 * INFINITY when none can (empty, or everything in flight or waiting
 * behind an entry in flight). */
double outbox_next_due(const struct outbox *ob);

/* Entry by id, or NULL. */
const struct outbox_entry *outbox_get(const struct outbox *ob, uint64_t id);

size_t outbox_count(const struct outbox *ob);       /* all entries */
size_t outbox_queued(const struct outbox *ob);      /* not in flight */
/* Bumped by every change; the daemon saves state when it moved. */
uint64_t outbox_generation(const struct outbox *ob);

/* ---- statistics -------------------------------------------------------- */

struct outbox_stats {
    uint64_t delivered;
    uint64_t failed;        /* permanent + expired + dropped */
    uint64_t retries;       /* retryable failures (a total) */
    size_t queued;          /* entries now in the outbox (in flight too) */
    size_t retrying;        /* of them queued again after a failed attempt,
                               waiting for their retry (a gauge) */
};

/* Stats of one receiver (zeros for one never seen). */
void outbox_receiver_stats(const struct outbox *ob, const char *receiver,
                           struct outbox_stats *out);

struct outbox_failure {
    const char *reason;     /* valid until the next outbox call */
    uint64_t count;
};
/* Permanent failures of receiver by reason, in first-seen order: fills up
 * to max and returns the number of distinct reasons. */
size_t outbox_failures(const struct outbox *ob, const char *receiver,
                       struct outbox_failure out[], size_t max);

/* Receivers with stats or entries: fills up to max names (valid until the
 * next outbox call) and returns how many there are. */
size_t outbox_receivers(const struct outbox *ob, const char *out[],
                        size_t max);

/* ---- state file ---------------------------------------------------------- */

/* Move every entry's times by delta_s (a step of the wall clock: the
 * daemon keeps what each entry had left to wait). */
void outbox_shift_times(struct outbox *ob, double delta_s);

/*
 *   {"next_id": 43,
 *    "entries": [{"id": 41, "attempts": 2, "added_at": ...,
 *                 "next_attempt": ..., "first_attempt": ...,
 *                 "last_error": "...", "notification": {...}}, ...],
 *    "stats": {"RECEIVER": {"delivered": 7, "failed": 1, "retries": 3,
 *              "reasons": [{"reason": "http 404", "count": 1}]}, ...}}
 * (notification as in state.h; "stats" optional, from
 * outbox_stats_to_json(), which outbox_to_json() includes).  No state member: an entry in flight when
 * saved is queued when loaded, due at its stored next_attempt.
 * from_json builds a new outbox (all or nothing) or returns NULL with err.
 */
cJSON *outbox_to_json(const struct outbox *ob);
struct outbox *outbox_from_json(const cJSON *j, size_t max_entries,
                                uint64_t seed, char *err, size_t errlen);

/*
 * The same state one entry at a time, for the state journal
 * (daemon/persist.h), which saves an entry again only when its digest
 * moved.  i < outbox_count(), in the order of "entries" (increasing id);
 * outbox_entry_to_json() is the element of that array (a new tree).  The
 * digest covers what changes while an entry waits (attempts, times,
 * last_error) and the notification's id: a queued notification itself
 * never changes.  outbox_next_id() is "next_id".
 */
/* Squeeze out the holes removals leave (entries stay in id order), so
 * that outbox_entry_at() indexes 0 .. outbox_count() - 1. */
void outbox_compact(struct outbox *ob);
const struct outbox_entry *outbox_entry_at(const struct outbox *ob,
                                           size_t i);
cJSON *outbox_entry_to_json(const struct outbox_entry *e);
uint64_t outbox_entry_digest(const struct outbox_entry *e);
uint64_t outbox_next_id(const struct outbox *ob);
/* The "stats" member (a new tree), and a count bumped whenever it
 * changes (the state journal sets it again only then). */
cJSON *outbox_stats_to_json(const struct outbox *ob);
uint64_t outbox_stats_generation(const struct outbox *ob);
/* The ids of entries added, changed (handed out, rescheduled) or removed
 * since the last outbox_changes_clear(), possibly repeated, so that a save
 * after a delivery costs O(changed) rather than a digest of every entry.
 * Returns false when the log gave up (too long, or a new outbox): then
 * every entry must be looked at. */
bool outbox_changes(const struct outbox *ob, const uint64_t **ids,
                    size_t *n);
void outbox_changes_clear(struct outbox *ob);

#endif
