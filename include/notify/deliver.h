/*
 * deliver.h - one delivery attempt of a notification through a receiver:
 * builds the payload (payload.h), sends it (HTTP posts as non-blocking
 * transfers on the main loop's http_client, email through the SMTP worker
 * thread, log lines to stdout) and reports one verdict per attempt.
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
#include "notify/notify.h"
#include "notify/payload.h"

/* v: the outcome (for alertmanager fan-out: OK when at least one URL took
 * it, else the worst failure).  ud is the caller's. */
typedef void (*deliver_done_fn)(void *ud, const struct delivery_verdict *v);

struct deliverer;

/* http and clock are borrowed (clock: timestamps of signatures, Retry-After
 * dates; NULL = clock_system()); dry_run prints every notification instead
 * of sending. */
struct deliverer *deliverer_new(struct http_client *http,
                                const struct clock *clock, bool dry_run);
/* Carry HTTP posts through t instead of http (a unit test's double, see
 * api/http.h); t.ud is borrowed. */
void deliverer_set_transport(struct deliverer *dl, struct http_transport t);
/* Stops the SMTP worker (the running batch finishes).  Deliveries still
 * pending get no callback: their outbox entries stay queued. */
void deliverer_free(struct deliverer *dl);

/* Start an attempt.  n and rc are borrowed for the duration of the call
 * (payloads are built at once).  resend_s: the alertmanager re-send
 * period (endsAt horizon).  rc NULL = the receiver no longer exists. */
void deliverer_send(struct deliverer *dl, const struct notification *n,
                    const struct receiver_cfg *rc, double now, double resend_s,
                    deliver_done_fn done, void *ud);
/* Collect finished email batches (call every loop cycle). */
void deliverer_poll(struct deliverer *dl);
/* Attempts started and not yet reported. */
unsigned deliverer_in_flight(const struct deliverer *dl);

#endif
