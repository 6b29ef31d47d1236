/*
 * discard_reasons.c - see discard_reasons.h.
 */
#include "engine/discard_reasons.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"

/* Segment's destination error codes as Delivery Overview reports them
 * (segment-docs "Delivery Overview" discard table and the integration
 * error codes; docs/segment-api.md "Delivery Overview").  kind says who
 * usually owns the fix, for people writing routes. */
struct reason_info {
    const char *code;
    const char *kind;
    const char *meaning;
};

static const struct reason_info reason_table[] = {
    { "400", "payload", "bad request: the destination refused the payload "
      "(missing or invalid field)" },
    { "401", "credentials", "unauthorized: the destination refused the "
      "API key or token in the settings" },
    { "403", "credentials", "forbidden: the credentials lack a permission "
      "the destination needs" },
    { "404", "destination", "not found: the endpoint or object (account, "
      "list, event) does not exist at the destination" },
    { "408", "network", "request timeout at the destination" },
    { "409", "payload", "conflict: the destination refused a duplicate or "
      "conflicting record" },
    { "413", "payload", "payload too large for the destination" },
    { "422", "payload", "unprocessable: the destination's validation "
      "refused the event" },
    { "429", "throttling", "rate limited by the destination; retries ran "
      "out" },
    { "BAD_REQUEST", "payload", "the destination refused the request as "
      "malformed" },
    { "INVALID_SETTINGS", "credentials", "the destination's settings in "
      "Segment are invalid or incomplete (API key, account id)" },
    { "MESSAGE_REJECTED", "payload", "the destination rejected the event "
      "(validation, mapping or unsupported value)" },
    { "UNSUPPORTED_EVENT_TYPE", "payload", "the destination does not "
      "accept this event type" },
    { "PAYLOAD_VALIDATION_FAILED", "payload", "the event failed the "
      "action's field validation" },
    { "ETIMEDOUT", "network", "connection to the destination timed out" },
    { "ESOCKETTIMEDOUT", "network", "socket timeout talking to the "
      "destination" },
    { "ECONNRESET", "network", "the destination reset the connection" },
    { "ECONNREFUSED", "network", "the destination refused the connection" },
    { "EREFUSED", "network", "DNS lookup of the destination refused" },
    { "ENOTFOUND", "network", "the destination's host name does not "
      "resolve" },
    { "EAI_AGAIN", "network", "temporary DNS failure resolving the "
      "destination" },
    { "INTERNAL", "destination", "internal error in the integration" },
    { "RETRY", "destination", "retryable error; retries ran out" },
    { "RESOURCE_LOCKED", "destination", "the destination resource was "
      "locked; retries ran out" },
    { "throttles", "throttling", "dropped by throttling before delivery" },
    { "expires", "expired", "retried until the retry window (4 h) ran "
      "out" },
};

static const struct reason_info *lookup(const char *code)
{
    if (!code)
        return NULL;
    for (size_t i = 0; i < ARRAY_SIZE(reason_table); i++)
        if (strcasecmp(reason_table[i].code, code) == 0)
            return &reason_table[i];
    return NULL;
}

static bool is_5xx(const char *code)
{
    return code && code[0] == '5' && code[1] >= '0' && code[1] <= '9' &&
           code[2] >= '0' && code[2] <= '9' && !code[3];
}

const char *discard_reason_meaning(const char *code)
{
    const struct reason_info *ri = lookup(code);
    if (ri)
        return ri->meaning;
    return is_5xx(code) ? "server error at the destination; retries ran "
                          "out" : "";
}

const char *discard_reason_kind(const char *code)
{
    const struct reason_info *ri = lookup(code);
    if (ri)
        return ri->kind;
    return is_5xx(code) ? "destination" : "";
}

void discard_reasons_init(struct discard_reasons *r)
{
    memset(r, 0, sizeof(*r));
}

void discard_reasons_add(struct discard_reasons *r, const char *code,
                         double count)
{
    if (!code || !*code || !(count > 0) || !isfinite(count))
        return;
    r->total += count;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->top[i].code, code) == 0) {
            r->top[i].count += count;
            return;
        }
    size_t slot = r->n;
    if (r->n == DISCARD_REASONS_MAX) {
        slot = 0;
        for (size_t i = 1; i < r->n; i++)
            if (r->top[i].count < r->top[slot].count)
                slot = i;
        if (r->top[slot].count >= count)
            return;
    } else {
        r->n++;
    }
    struct discard_reason *d = &r->top[slot];
    memset(d, 0, sizeof(*d));
    snprintf(d->code, sizeof(d->code), "%s", code);
    d->count = count;
}

static int by_count(const void *a, const void *b)
{
    const struct discard_reason *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->code, y->code);
}

void discard_reasons_finish(struct discard_reasons *r)
{
    qsort(r->top, r->n, sizeof(r->top[0]), by_count);
    for (size_t i = 0; i < r->n; i++)
        r->top[i].share = r->total > 0 ? r->top[i].count / r->total : 0;
}

const struct discard_reason *
discard_reasons_top(const struct discard_reasons *r)
{
    return r && r->n ? &r->top[0] : NULL;
}

void discard_reasons_format(const struct discard_reasons *r,
                            struct strbuf *out)
{
    for (size_t i = 0; r && i < r->n; i++) {
        const struct discard_reason *d = &r->top[i];
        const char *m = discard_reason_meaning(d->code);
        strbuf_addf(out, "%s%s %.0f%%", i ? "; " : "", d->code,
                    d->share * 100);
        if (*m)
            strbuf_addf(out, " (%s)", m);
    }
}

void discard_reasons_json(const struct discard_reasons *r, const char *key,
                          struct strbuf *out)
{
    jw_open(out, key, '[');
    for (size_t i = 0; r && i < r->n; i++) {
        const struct discard_reason *d = &r->top[i];
        jw_open(out, NULL, '{');
        jw_str(out, "code", d->code);
        jw_double(out, "count", d->count);
        jw_double(out, "share", round(d->share * 10000) / 10000);
        jw_str(out, "meaning", discard_reason_meaning(d->code));
        jw_str(out, "kind", discard_reason_kind(d->code));
        jw_close(out, '}');
    }
    jw_close(out, ']');
}
