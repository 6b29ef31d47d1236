/*
 * http_verdict.c - see http_verdict.h.
 */
#include "notify/http_verdict.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/utf8.h"
#include "notify/render.h"

/* Body bytes quoted in a reason. */
#define EXCERPT_MAX 100
/* Bounds of a server's Retry-After. */
#define RETRY_AFTER_MIN_S 1.0
#define RETRY_AFTER_MAX_S 3600.0

const char *delivery_outcome_name(enum delivery_outcome o)
{
    switch (o) {
    case DELIVERY_OK: return "ok";
    case DELIVERY_RETRY: return "retry";
    case DELIVERY_PERMANENT: return "permanent";
    }
    return "?";
}

void http_verdict_excerpt(const char *body, size_t len, struct strbuf *out)
{
    size_t start = out->len;
    if (body) {
        size_t i = 0;
        while (i < len && isspace((unsigned char)body[i]))
            i++;
        size_t cut = render_utf8_cut(body + i, len - i, EXCERPT_MAX);
        /* from outside: valid UTF-8 on one line, whatever it held */
        struct strbuf fixed = STRBUF_INIT;
        utf8_sanitize_append(&fixed, body + i, cut);
        for (size_t k = 0; k < fixed.len; k++) {
            unsigned char c = (unsigned char)fixed.buf[k];
            if (c == 0xC2 && k + 1 < fixed.len &&
                (unsigned char)fixed.buf[k + 1] < 0xA0) {
                strbuf_addc(out, ' ');      /* a C1 control */
                k++;
                continue;
            }
            strbuf_addc(out, (c < 0x20 || c == 0x7f) ? ' ' : (char)c);
        }
        strbuf_free(&fixed);
        while (out->len > start && out->buf[out->len - 1] == ' ')
            out->buf[--out->len] = '\0';
    }
    if (out->len == start)
        strbuf_adds(out, "(empty body)");
}

void http_verdict_reason(struct delivery_verdict *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
    va_end(ap);
    /* drop a UTF-8 sequence cut by the bound */
    size_t len = strlen(v->reason);
    v->reason[render_utf8_cut(v->reason, len, len)] = '\0';
}

double http_verdict_retry_after(const char *h, double now)
{
    if (!h)
        return -1;
    while (isspace((unsigned char)*h))
        h++;
    double s;
    if (isdigit((unsigned char)*h)) {
        char *end;
        s = strtod(h, &end);
        while (isspace((unsigned char)*end))
            end++;
        if (*end || !isfinite(s))
            return -1;
    } else {
        double t;
        if (parse_rfc5322_date(h, &t) < 0)
            return -1;
        s = t - now;
    }
    return s < RETRY_AFTER_MIN_S ? RETRY_AFTER_MIN_S
           : s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : s;
}

void http_verdict_classify(long status, int curl_code, const char *body,
                           size_t len, const char *retry_after_header,
                           double now, struct delivery_verdict *out)
{
    out->outcome = DELIVERY_OK;
    out->retry_after_s = -1;
    out->reason[0] = '\0';
    if (!body)
        len = 0;

    if (curl_code != 0) {
        out->outcome = DELIVERY_RETRY;
        http_verdict_reason(out, "connect/timeout: %s (curl %d)",
                            curl_easy_strerror((CURLcode)curl_code),
                            curl_code);
        return;
    }

    struct strbuf ex = STRBUF_INIT;
    http_verdict_excerpt(body, len, &ex);
    bool server_error = status >= 500 && status < 600;

    if (status >= 200 && status < 300) {
        http_verdict_reason(out, "HTTP %ld", status);
    } else if (status == 408 || status == 429 || server_error) {
        out->outcome = DELIVERY_RETRY;
        if (status == 429)
            http_verdict_reason(out, "HTTP 429: rate limited");
        else if (status == 408)
            http_verdict_reason(out, "HTTP 408: request timeout");
        else
            http_verdict_reason(out, "HTTP %ld: %s", status, ex.buf);
    } else if (status >= 400 && status < 500) {
        out->outcome = DELIVERY_PERMANENT;
        http_verdict_reason(out, "HTTP %ld: %s", status, ex.buf);
    } else if (status >= 300 && status < 400) {
        out->outcome = DELIVERY_PERMANENT;
        http_verdict_reason(out, "HTTP %ld: redirect not followed (fix the "
                            "URL)", status);
    } else {
        /* 0, 1xx, >= 600: no answer we understand. */
        out->outcome = DELIVERY_RETRY;
        http_verdict_reason(out, "unexpected HTTP status %ld", status);
    }
    if (out->outcome == DELIVERY_RETRY)
        out->retry_after_s = http_verdict_retry_after(retry_after_header, now);
    strbuf_free(&ex);
}
