/*
 * recv_pagerduty.h - the `pagerduty` receiver type (recv_pagerduty.c):
 * Events API v2 events and how PagerDuty's answers are judged.  The type
 * is used through its receiver_ops (receiver.h); what is here is for the
 * tests.
 *
 * Pure; safe on any thread.
 */
#ifndef SEGALERT_RECV_PAGERDUTY_H
#define SEGALERT_RECV_PAGERDUTY_H

#include <stddef.h>

#include "config/config.h"
#include "core/util.h"
#include "notify/http_verdict.h"
#include "notify/notify.h"
#include "notify/receiver.h"

/* Where PagerDuty receivers send events when no url is given. */
#define PAGERDUTY_DEFAULT_URL "https://events.pagerduty.com/v2/enqueue"

#define PAGERDUTY_SUMMARY_MAX  1024 /* bytes of payload.summary */
#define PAGERDUTY_DEDUP_MAX    255  /* bytes of a dedup_key */
#define PAGERDUTY_MAX_DETAILS  50   /* alerts per firing/resolved list */
/* PagerDuty refuses an event over 512 KB (Events API v2); KB read as
 * 1000 bytes, whichever PagerDuty means. */
#define PAGERDUTY_MAX_BYTES    512000

extern const struct receiver_ops recv_pagerduty;

/* What a pagerduty receiver reads besides the common options (its
 * receiver_cfg.priv; url is the common one). */
struct pagerduty_cfg {
    char *routing_key;              /* secret */
};

/* r's settings, or NULL when r is NULL or not a pagerduty receiver. */
const struct pagerduty_cfg *recv_pagerduty_cfg(const struct receiver_cfg *r);

/*
 * PagerDuty Events API v2.  With firing alerts: a "trigger" event with
 * payload{summary, source, severity, timestamp, component, group, class,
 * custom_details{reason, notification_id, firing[], resolved[]}}, links
 * (distinct runbooks, then the status page), client, client_url.  When
 * nothing fires: only {"routing_key","event_action":"resolve","dedup_key"}.
 * routing_key may be NULL ("" is sent; PagerDuty answers 400).  Appended
 * to out.  Never more than PAGERDUTY_MAX_BYTES: render_fit() cuts long
 * values (a 300 KB destination name) with "… [truncated]", then lists
 * fewer alerts (the others counted in firing_omitted/resolved_omitted).
 */
void recv_pagerduty_payload(const struct notification *n,
                            const char *routing_key, struct strbuf *out);

/*
 * The dedup_key: "segalert:<receiver>:<group_key>" when that fits in 255
 * bytes, else "segalert-" + hex SHA-256 of it (73 bytes).  It depends only
 * on the receiver name and the group key, so trigger and resolve of one
 * group (across restarts) carry the same key.
 */
void recv_pagerduty_dedup_key(const struct notification *n,
                              char out[PAGERDUTY_DEDUP_MAX + 1]);

/* http_verdict_classify(), and a 4xx reason carries PagerDuty's "message"
 * and "errors" from its JSON body. */
void recv_pagerduty_classify(long status, int curl_code, const char *body,
                             size_t len, const char *retry_after_header,
                             double now, struct delivery_verdict *out);

#endif
