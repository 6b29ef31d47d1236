/*
 * http_verdict.h - what one delivery attempt came to (struct
 * delivery_verdict: delivered / retry later / give up, and why), and the
 * rules that turn an HTTP answer into one.
 *
 * Every HTTP receiver type classifies its answers with
 * http_verdict_classify(); a type whose service says more than its status
 * (Slack's error tokens, PagerDuty's JSON errors) calls it first and then
 * refines the verdict with the helpers below.  The SMTP path and the
 * deliverer fill verdicts of their own; the outbox decides about retries
 * from them.
 *
 * Everything here is pure: no I/O, no clock (callers pass `now`), no
 * globals; safe on any thread.  Reasons are one line (control characters
 * replaced), never cut inside a UTF-8 character, safe to log and show.
 */
#ifndef SEGALERT_HTTP_VERDICT_H
#define SEGALERT_HTTP_VERDICT_H

#include <stddef.h>

#include "core/util.h"

enum delivery_outcome {
    DELIVERY_OK = 0,
    DELIVERY_RETRY,         /* transient: back off and try again */
    DELIVERY_PERMANENT      /* will not succeed by retrying: give up, count */
};

/* Bytes of a verdict's reason, NUL included. */
#define DELIVERY_REASON_MAX 128

struct delivery_verdict {
    enum delivery_outcome outcome;
    double retry_after_s;   /* server's Retry-After in [1, 3600], -1 = none */
    char reason[DELIVERY_REASON_MAX];   /* one line, safe to log and show */
};

const char *delivery_outcome_name(enum delivery_outcome o); /* "ok"... */

/*
 * Classify one HTTP delivery attempt.  curl_code != 0 means no usable
 * answer (connect error, timeout...): RETRY.  Then:
 *   2xx OK ("HTTP 204");
 *   408, 429 and 5xx RETRY; other 4xx and 3xx PERMANENT; anything else
 *   (0, 1xx, >= 600) RETRY;
 *   Retry-After (delta seconds or HTTP-date relative to now) is honoured
 *   on any RETRY that carries it, clamped to [1 s, 1 h].
 * Reasons of failures read "HTTP 400: <first 100 bytes of the body,
 * control characters replaced>".  body may be NULL; retry_after_header
 * may be NULL.  This is the signature of receiver_ops.classify
 * (receiver.h).
 */
void http_verdict_classify(long status, int curl_code, const char *body,
                           size_t len, const char *retry_after_header,
                           double now, struct delivery_verdict *out);

/* ---- for type classifiers that refine the verdict ------------------------ */

/* Replace v's reason (printf-style, cut to fit without splitting a UTF-8
 * character). */
void http_verdict_reason(struct delivery_verdict *v, const char *fmt, ...)
    PRINTF_LIKE(2, 3);

/* Append the first 100 bytes of body (leading and trailing blanks
 * dropped, control characters replaced) to out, or "(empty body)". */
void http_verdict_excerpt(const char *body, size_t len, struct strbuf *out);

/* A Retry-After header as seconds in [1, 3600], or -1 when absent or
 * invalid. */
double http_verdict_retry_after(const char *header, double now);

#endif
