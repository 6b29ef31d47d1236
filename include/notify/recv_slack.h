/*
 * recv_slack.h - the `slack` receiver type (recv_slack.c): the Slack
 * incoming-webhook message and how Slack's answers are judged.  The type
 * is used through its receiver_ops (receiver.h); what is here is for the
 * tests.
 *
 * Pure; safe on any thread.
 */
#ifndef SEGALERT_RECV_SLACK_H
#define SEGALERT_RECV_SLACK_H

#include <stddef.h>

#include "config/config.h"
#include "core/util.h"
#include "notify/http_verdict.h"
#include "notify/notify.h"
#include "notify/receiver.h"

/* Slack's limits, in bytes (never more than its character limits). */
#define SLACK_HEADER_MAX   150  /* header block plain_text */
#define SLACK_SECTION_MAX  3000 /* section text */
#define SLACK_FIELD_MAX    2000 /* one section field */
#define SLACK_TEXT_MAX     3000 /* top-level "text" fallback */
#define SLACK_MAX_ALERTS   10   /* sections; then "…and N more" */

extern const struct receiver_ops recv_slack;

/*
 * Slack incoming-webhook message:
 *   {"text": fallback,
 *    "blocks":[header],
 *    "attachments":[{"color", "blocks":[section per alert (max 10),
 *                    context "…and N more", context reason + status link]}]}
 * The title is render_title() (r->subject rendered, else "[FIRING:N] rule
 * (workspace)").  Each alert section has the bold summary, the description
 * and a runbook link as mrkdwn, or r->body rendered with that alert's
 * values; fields: Source, Destination, Workspace (when labelled), Value,
 * Severity.  Values substituted into Slack templates are mrkdwn-escaped
 * (&, <, >) so a label cannot inject mentions or links; the template text
 * itself is the operator's mrkdwn.  Lengths are counted in BYTES and cut
 * at a UTF-8 boundary with "…".  Colour: #d62728 critical/error, #ff9f0a
 * warning, #1f77b4 info, #2ca02c when every alert is resolved.  r may be
 * NULL (defaults).  Appended to out.
 */
void recv_slack_payload(const struct notification *n,
                        const struct receiver_cfg *r, struct strbuf *out);

/* http_verdict_classify(), and: a 2xx is OK only with the body "ok"
 * (another 2xx body is RETRY: not confirmed delivered, the outbox gives up
 * after a day); a 4xx whose body is one of Slack's error tokens
 * (channel_not_found...) is PERMANENT with the token as reason. */
void recv_slack_classify(long status, int curl_code, const char *body,
                         size_t len, const char *retry_after_header,
                         double now, struct delivery_verdict *out);

#endif
