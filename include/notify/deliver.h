/*
 * deliver.h - one delivery attempt of a notification through a receiver:
 * the receiver's type (receiver.h) builds the payload, and the deliverer
 * carries it the way the type asks - HTTP posts as non-blocking transfers
 * on the main loop's http_client (to one or more URLs), email through the
 * SMTP worker thread, or the type's own write() at once - and reports one
 * verdict per attempt.  No type is known here by name.
 *
 * Connections: at most rc->max_connections posts of a receiver are in
 * progress at once to each host (scheme://host:port) it posts to, counting
 * the posts of every receiver to that host; the others wait in the host's
 * queue, first in first out, and start as earlier ones finish.  A post's
 * timeout (rc->timeout_s) runs from when it starts, not while it waits.
 * Connections are kept alive and reused (api/http.h), so a burst of
 * notifications to one receiver opens max_connections connections, not
 * one per notification.
 *
 * Used by the daemon (the outbox decides about retries) and by
 * `segalert notify-test`.  Runs on the main thread; done() is called from
 * deliverer_poll() or http_run() on that thread, exactly once per
 * deliverer_send().
 */
#ifndef SEGALERT_DELIVER_H
#define SEGALERT_DELIVER_H

#include <stdbool.h>

#include "config/config.h"
#include "api/http.h"
#include "core/clock.h"
#include "notify/http_verdict.h"
#include "notify/notify.h"

/* v: the outcome (for a fan-out to several URLs: the worst failure, or OK
 * when the type is content with any URL taking it and one did).  ud is the
 * caller's. */
typedef void (*deliver_done_fn)(void *ud, const struct delivery_verdict *v);

struct deliverer;

/* http and clock are borrowed (clock: timestamps of signatures, Retry-After
 * dates; NULL = clock_system()); dry_run prints every notification (the
 * log receiver's line after "dry-run: ") instead of sending. */
struct deliverer *deliverer_new(struct http_client *http,
                                const struct clock *clock, bool dry_run);
/* Carry HTTP posts through t instead of http (a unit test's double, see
 * api/http.h); t.ud is borrowed. */
void deliverer_set_transport(struct deliverer *dl, struct http_transport t);
/* Stops the SMTP worker (the running batch finishes).  Deliveries still
 * pending get no callback: their outbox entries stay queued.  Abort the
 * HTTP client's transfers first (http_client_abort_all): posts waiting in
 * a host's queue are dropped here, posts in progress must have completed. */
void deliverer_free(struct deliverer *dl);

/* Start an attempt.  n and rc are borrowed for the duration of the call
 * (payloads are built at once).  resend_s: the re-send period of routes to
 * receivers that deduplicate themselves (receiver_ops.build).  rc NULL =
 * the receiver no longer exists (PERMANENT); a type that was not
 * registered through receivers_register() is PERMANENT too. */
void deliverer_send(struct deliverer *dl, const struct notification *n,
                    const struct receiver_cfg *rc, double now, double resend_s,
                    deliver_done_fn done, void *ud);
/* Collect finished email batches (call every loop cycle). */
void deliverer_poll(struct deliverer *dl);
/* Attempts started and not yet reported (waiting ones included). */
unsigned deliverer_in_flight(const struct deliverer *dl);
/* HTTP posts waiting for a connection to their host. */
unsigned deliverer_waiting(const struct deliverer *dl);

#endif
