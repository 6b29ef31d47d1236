/*
 * payload.h - what each receiver type puts on the wire (SPEC §5), built
 * from a struct notification, plus the pure half of delivery: classifying
 * an HTTP answer as delivered / retry later / give up.
 *
 * Everything here is pure: no I/O, no clock (callers pass `now`), no
 * globals.  The notify_* senders do the transfers; the outbox decides when
 * to retry from a struct delivery_verdict.
 *
 * Conventions for every builder:
 *   - output is APPENDED to `out` (a caller-owned strbuf); nothing else
 *     is allocated that the caller must free;
 *   - every argument is borrowed; NULL strings in the notification are
 *     treated as absent;
 *   - builders never fail: hostile label values (quotes, control
 *     characters, CR/LF, invalid lengths) are escaped, removed or
 *     truncated, never rejected;
 *   - JSON is compact, keys in a fixed order, label objects sorted by key,
 *     so the same notification always gives the same bytes (retries are
 *     byte-identical, which keeps signatures and dedup simple).
 *
 * Labels on the wire: an alert's labels plus "severity" (the notification
 * model keeps severity apart) and, for the Alertmanager-shaped payloads
 * (webhook, alertmanager), "alertname" = rule, which Alertmanager itself
 * requires by convention and which existing AM templates group on.
 */
#ifndef SEGALERT_PAYLOAD_H
#define SEGALERT_PAYLOAD_H

#include <stddef.h>

#include "config/config.h"
#include "notify/notify.h"
#include "core/util.h"

/* Caps (bytes) that builders respect; exposed for the tests. */
#define PAYLOAD_SLACK_HEADER_MAX   150  /* header block plain_text */
#define PAYLOAD_SLACK_SECTION_MAX  3000 /* section text */
#define PAYLOAD_SLACK_FIELD_MAX    2000 /* one section field */
#define PAYLOAD_SLACK_TEXT_MAX     3000 /* top-level "text" fallback */
#define PAYLOAD_SLACK_MAX_ALERTS   10   /* sections; then "…and N more" */
#define PAYLOAD_PD_SUMMARY_MAX     1024
#define PAYLOAD_PD_DEDUP_MAX       255
#define PAYLOAD_PD_MAX_DETAILS     50   /* alerts per firing/resolved list */
#define PAYLOAD_EMAIL_MAX_ALERTS   100  /* alerts described in a default body */
#define PAYLOAD_EMAIL_LINE_MAX     998  /* RFC 5322 2.1.1, without CRLF */

/*
 * Alertmanager webhook JSON, version "4" (what an AM webhook_config
 * receiver gets), so existing receivers work unchanged:
 *   {"version","groupKey","truncatedAlerts":0,"status","receiver",
 *    "groupLabels","commonLabels","commonAnnotations","externalURL",
 *    "alerts":[{"status","labels","annotations","startsAt","endsAt",
 *               "generatorURL","fingerprint"}],
 *    "segalert":{"reason","notificationId"}}
 * annotations hold summary, description, runbook_url and value (formatted
 * as templates print numbers) when present.  endsAt is
 * "0001-01-01T00:00:00Z" while firing (as AM sends it); a resolved alert
 * without ends_at gets `now`.  generatorURL is the external URL or "".
 */
void payload_webhook(const struct notification *n, double now,
                     struct strbuf *out);

/*
 * Slack incoming-webhook message:
 *   {"text": fallback,
 *    "blocks":[header],
 *    "attachments":[{"color", "blocks":[section per alert (max 10),
 *                    context "…and N more", context reason + status link]}]}
 * The title is "[FIRING:N] rule (workspace)" / "[RESOLVED] rule
 * (workspace)", or r->subject rendered (payload_render_template).  Each
 * alert section has the bold summary, the description and a runbook link
 * as mrkdwn, or r->body rendered with that alert's values; fields:
 * Source, Destination, Workspace (when labelled), Value, Severity.
 * Values substituted into Slack templates are mrkdwn-escaped (&, <, >) so
 * a label cannot inject mentions or links; the template text itself is the
 * operator's mrkdwn.  Lengths are counted in BYTES (never more than
 * Slack's character limits) and cut at a UTF-8 boundary with "…".
 * Colour: #d62728 critical/error, #ff9f0a warning, #1f77b4 info,
 * #2ca02c when every alert is resolved.  r may be NULL (defaults).
 */
void payload_slack(const struct notification *n, const struct receiver_cfg *r,
                   struct strbuf *out);

/*
 * PagerDuty Events API v2.  With firing alerts: a "trigger" event with
 * payload{summary, source, severity, timestamp, component, group, class,
 * custom_details{reason, notification_id, firing[], resolved[]}}, links
 * (distinct runbooks, then the status page), client, client_url.  When
 * nothing fires: only {"routing_key","event_action":"resolve","dedup_key"}.
 * routing_key may be NULL ("" is sent; PagerDuty answers 400).
 */
void payload_pagerduty(const struct notification *n, const char *routing_key,
                       struct strbuf *out);

/*
 * The dedup_key: "segalert:<receiver>:<group_key>" when that fits in 255
 * bytes, else "segalert-" + hex SHA-256 of it (73 bytes).  It depends only
 * on the receiver name and the group key, so trigger and resolve of one
 * group (across restarts) carry the same key.
 */
void payload_pagerduty_dedup_key(const struct notification *n, char out[256]);

/*
 * Alertmanager POST /api/v2/alerts body: a JSON array with every alert of
 * the notification: {"labels" (+alertname, +severity; names made valid
 * Prometheus label names, empty values dropped), "annotations",
 * "startsAt", "endsAt", "generatorURL"}.  A firing alert's endsAt is
 * now + 4 * resend_s, so Alertmanager keeps it between our re-sends and
 * resolves it by itself if we die; resend_s <= 0 omits endsAt (AM then
 * applies its resolve_timeout).  A resolved alert's endsAt is its ends_at
 * (or `now` when unset), which resolves it in AM.
 */
void payload_alertmanager(const struct notification *n, double now,
                          double resend_s, struct strbuf *out);

/*
 * A complete RFC 5322 message (headers, blank line, body), CRLF line ends
 * everywhere, no line longer than 998 bytes, ready for libesmtp:
 *   Date (now, "+0000"), From (r->from, else "segalert <segalert@DOMAIN>"),
 *   To (r->to, comma-separated, folded), Subject, Message-ID
 *   <notification id@DOMAIN>, MIME-Version, Content-Type text/plain UTF-8,
 *   Content-Transfer-Encoding: 8bit, Auto-Submitted: auto-generated,
 *   X-Segalert-Reason, X-Segalert-Notification.
 * Every header value has CR and LF removed before use (header injection).
 * The Subject (default as Slack's title, or r->subject rendered) is
 * RFC 2047 B-encoded in UTF-8 encoded-words of at most 75 chars, folded,
 * when it contains a non-ASCII byte.  Body: r->body rendered, or a plain
 * description of every alert; line ends normalised to CRLF, long lines
 * hard-wrapped, and a line consisting of a single "." is sent as ". " so
 * the message stays valid even through a transport that does not
 * dot-stuff (libesmtp does).  message_id_domain NULL = "segalert.invalid".
 */
void payload_email(const struct notification *n, const struct receiver_cfg *r,
                   double now, const char *message_id_domain,
                   struct strbuf *out);

/*
 * One line per notification (ends with "\n"), for the `log` receiver:
 *   notify receiver=console id=ID reason=first status=firing
 *   rule=delivery-discard-ratio alerts=2 firing=2 resolved=0
 *   severity=critical labels={source="web",...} summary="..."
 * labels = the labels common to every alert; summary = the first firing
 * (else first) alert's.  Values with spaces, quotes or control characters
 * are quoted with C escapes, so the line never breaks.
 */
void payload_log_line(const struct notification *n, struct strbuf *out);

/*
 * Render a receiver subject/body template against the notification.
 * Names: "rule", "severity" (notification_severity), "state"/"status"
 * (notification_status), "reason", and "value", "summary", "description",
 * "runbook_url", "started_at", then every label - all of them from the
 * first firing alert, else the first alert (its labels include the
 * group's common labels) - "status_url" (external URL), "receiver", and
 * the numbers "count", "firing", "resolved" (alerts in the notification).
 * A compile error renders the raw text (`segalert check` reports template
 * errors before we get here).
 */
void payload_render_template(const char *tpl_text, const struct notification *n,
                             struct strbuf *out);

/* HMAC-SHA256(key, data) as 64 lower-case hex digits + NUL.  0 / -1. */
int hmac_sha256_hex(const void *key, size_t keylen, const void *data,
                    size_t len, char out[65]);

/*
 * The X-Segalert-Signature value for a webhook body: appends
 * "sha256=" + hex(HMAC-SHA256(secret, body[0..len))) to header_value.
 * Exactly the body bytes are signed, nothing else (SPEC §5).  `timestamp`
 * (the X-Segalert-Timestamp value) is NOT part of the MAC and is ignored;
 * receivers that want replay protection de-duplicate on
 * segalert.notificationId, which is inside the signed body.
 * Returns 0, or -1 when HMAC fails (header_value unchanged).
 */
int payload_webhook_signature(const char *secret, const void *body, size_t len,
                              double timestamp, struct strbuf *header_value);

/* ---- delivery results ------------------------------------------------ */

enum delivery_outcome {
    DELIVERY_OK = 0,
    DELIVERY_RETRY,         /* transient: back off and try again */
    DELIVERY_PERMANENT      /* will not succeed by retrying: give up, count */
};

struct delivery_verdict {
    enum delivery_outcome outcome;
    double retry_after_s;   /* server's Retry-After in [1, 3600], -1 = none */
    char reason[128];       /* one line, safe to log and show */
};

/*
 * Classify one HTTP delivery attempt.  curl_code != 0 means no usable
 * answer (connect error, timeout...): RETRY.  Then by receiver type:
 *   all: 408, 429 and 5xx RETRY; other 4xx and 3xx PERMANENT; Retry-After
 *        (delta seconds or HTTP-date relative to now) is honoured on any
 *        RETRY that carries it, clamped to [1 s, 1 h]
 *   slack: OK only for a 2xx with body "ok"; another 2xx body is RETRY
 *        (not confirmed delivered; the outbox gives up after 24 h); a 4xx
 *        whose body is one of Slack's error tokens (channel_not_found...)
 *        is PERMANENT with the token as reason
 *   pagerduty: any 2xx OK (202 expected); a 400 reason carries PagerDuty's
 *        "message" and "errors" from its JSON body
 *   webhook, alertmanager, others: any 2xx OK
 * Other reasons read "HTTP 400: <first 100 bytes of the body, control
 * characters replaced>".  body may be NULL; retry_after_header may be NULL.
 */
void payload_classify_http(enum receiver_type t, long status, int curl_code,
                           const char *body, size_t len,
                           const char *retry_after_header, double now,
                           struct delivery_verdict *out);

const char *delivery_outcome_name(enum delivery_outcome o); /* "ok"... */

#endif
