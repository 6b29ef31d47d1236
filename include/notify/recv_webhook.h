/*
 * recv_webhook.h - the `webhook` receiver type (recv_webhook.c): the
 * Alertmanager webhook JSON (version 4) it posts and the signature of that
 * body.  The type is used through its receiver_ops (receiver.h); what is
 * here is for the tests.
 *
 * Pure; safe on any thread.
 */
#ifndef SEGALERT_RECV_WEBHOOK_H
#define SEGALERT_RECV_WEBHOOK_H

#include <stddef.h>

#include "config/config.h"
#include "core/util.h"
#include "notify/notify.h"
#include "notify/receiver.h"

extern const struct receiver_ops recv_webhook;

/* What a webhook receiver reads besides the common options (its
 * receiver_cfg.priv; url and headers are the common ones). */
struct webhook_cfg {
    char *hmac_secret;              /* secret; NULL = unsigned */
    size_t max_body_bytes;          /* max_body_bytes, default
                                       RENDER_MAX_BODY_DEFAULT */
};

/* r's settings, or NULL when r is NULL or not a webhook receiver. */
const struct webhook_cfg *recv_webhook_cfg(const struct receiver_cfg *r);

/*
 * Alertmanager webhook JSON, version "4" (what an AM webhook_config
 * receiver gets), so existing receivers work unchanged:
 *   {"version","groupKey","truncatedAlerts":0,"status","receiver",
 *    "groupLabels","commonLabels","commonAnnotations","externalURL",
 *    "alerts":[{"status","labels","annotations","startsAt","endsAt",
 *               "generatorURL","fingerprint"}],
 *    "segalert":{"reason","notificationId"}}
 * Labels get "alertname" and "severity" (render.h); annotations hold
 * summary, description, runbook_url and value (formatted as templates
 * print numbers) when present.  endsAt is "0001-01-01T00:00:00Z" while
 * firing (as AM sends it); a resolved alert without ends_at gets `now`.
 * generatorURL is the external URL or "".  Appended to out.  No size
 * limit: every value whole, every alert.
 */
void recv_webhook_payload(const struct notification *n, double now,
                          struct strbuf *out);

/* The same within max_bytes (what the receiver sends, with its
 * max_body_bytes): render_fit() cuts long values with "… [truncated]",
 * then leaves alerts out, counted in truncatedAlerts. */
void recv_webhook_payload_max(const struct notification *n, double now,
                              size_t max_bytes, struct strbuf *out);

/*
 * The X-Segalert-Signature value for a webhook body sent at `timestamp`
 * (unix seconds, whole seconds are used): appends
 *     t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>
 * to header_value - Stripe's scheme: the time is signed with the exact
 * body bytes, so a receiver that refuses old timestamps (5 minutes, say)
 * refuses replays, and one that also de-duplicates on
 * segalert.notificationId (inside the signed body) gets each notification
 * once.  Verifying examples in docs/notifications.md "Webhook signatures".
 * Returns 0, or -1 when HMAC fails (header_value unchanged).
 */
int recv_webhook_signature(const char *secret, const void *body, size_t len,
                           double timestamp, struct strbuf *header_value);

#endif
