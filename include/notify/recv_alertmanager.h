/*
 * recv_alertmanager.h - the `alertmanager` receiver type
 * (recv_alertmanager.c): alerts posted to Alertmanager's /api/v2/alerts on
 * one or more peers, which group and deduplicate them themselves (README.md
 * "High availability").  The type is used through its receiver_ops
 * (receiver.h); what is here is for the tests.
 *
 * Pure; safe on any thread.
 */
#ifndef SEGALERT_RECV_ALERTMANAGER_H
#define SEGALERT_RECV_ALERTMANAGER_H

#include "config/config.h"
#include "core/kv.h"
#include "core/util.h"
#include "notify/notify.h"
#include "notify/receiver.h"

/* How long past the next re-send a firing alert stays active in
 * Alertmanager, in re-send periods. */
#define ALERTMANAGER_ENDS_AFTER_RESENDS 4

extern const struct receiver_ops recv_alertmanager;

/* What an alertmanager receiver reads besides the common options (its
 * receiver_cfg.priv; headers are the common ones, url the first of urls). */
struct alertmanager_cfg {
    struct str_list urls;           /* base URLs, no trailing '/' */
    size_t max_body_bytes;          /* max_body_bytes, default
                                       RENDER_MAX_BODY_DEFAULT */
};

/* r's settings, or NULL when r is NULL or not an alertmanager receiver. */
const struct alertmanager_cfg *
recv_alertmanager_cfg(const struct receiver_cfg *r);

/*
 * Alertmanager POST /api/v2/alerts body: a JSON array with every alert of
 * the notification: {"labels" (+alertname, +severity; names made valid
 * Prometheus label names, empty values dropped), "annotations",
 * "startsAt", "endsAt", "generatorURL"}.  A firing alert's endsAt is
 * now + 4 * resend_s, so Alertmanager keeps it between our re-sends and
 * resolves it by itself if we die; resend_s <= 0 omits endsAt (AM then
 * applies its resolve_timeout).  A resolved alert's endsAt is its ends_at
 * (or `now` when unset), which resolves it in AM.  Appended to out.  No
 * size limit.
 */
void recv_alertmanager_payload(const struct notification *n, double now,
                               double resend_s, struct strbuf *out);

/* The same within max_bytes (what the receiver sends, with its
 * max_body_bytes): render_fit() cuts long label and annotation values with
 * "… [truncated]" (the same cut every time, so an alert keeps its
 * identity in Alertmanager), then leaves the last alerts out of the post
 * (only when thousands of alerts do not fit even with every value cut to
 * RENDER_MIN_FIELD_CAP bytes). */
void recv_alertmanager_payload_max(const struct notification *n, double now,
                                   double resend_s, size_t max_bytes,
                                   struct strbuf *out);

#endif
