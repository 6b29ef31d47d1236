/*
 * fake_transport.h - a test double of struct http_transport (api/http.h)
 * for the unit tests of the Segment client and the poller.
 *
 * It keeps every submitted struct http_request in `pending`, records the
 * URL, the Authorization and Accept headers and the time of a test clock at
 * which each was submitted (`sent`, in order), and lets the test complete
 * a pending request later with the status, headers, body or transport
 * error of its choosing - the way the curl client does it: fill the
 * request's output fields, then call r->done(r, r->ud) (which may free it).
 *
 * Header-only (static inline) because every unit test binary is built from
 * one .c file.  Not thread-safe; ownership: the fake owns `sent`, the
 * client owns the requests.
 */
#ifndef SEGALERT_TEST_FAKE_TRANSPORT_H
#define SEGALERT_TEST_FAKE_TRANSPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/http.h"
#include "core/clock.h"
#include "core/util.h"

struct fake_sent {
    char *url;
    char *auth;             /* value of the Authorization header or NULL */
    char *accept;
    double mono, wall;      /* the clock when it was submitted */
};

struct fake_transport {
    const struct clock *clock;
    struct http_request **pending;  /* submitted, not completed, in order */
    size_t npending, pending_cap;
    size_t max_pending;             /* most pending at once */
    struct fake_sent *sent;
    size_t nsent, sent_cap;
    int refuse;                     /* submit() fails this many times */
};

/* What a completion looks like; zero fields are absent. */
struct fake_reply {
    long status;
    const char *body;
    const char *retry_after;
    const char *ratelimit_reset;    /* X-RateLimit-Reset */
    const char *content_type;
    int curl_code;                  /* a CURLcode: transport failure */
    const char *error;              /* its message */
    bool body_too_large;
};

static inline char *fake_header(const struct http_request *r,
                                const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++)
        if (strncasecmp(r->headers[i], name, nl) == 0 &&
            r->headers[i][nl] == ':')
            return xstrdup(r->headers[i] + nl + 1 +
                           (r->headers[i][nl + 1] == ' '));
    return NULL;
}

static inline int fake_submit(void *ud, struct http_request *r)
{
    struct fake_transport *f = ud;
    if (f->refuse > 0) {
        f->refuse--;
        snprintf(r->error, sizeof(r->error), "fake transport refused it");
        return -1;
    }
    XGROW(f->sent, f->nsent + 1, f->sent_cap);
    struct fake_sent *s = &f->sent[f->nsent++];
    s->url = xstrdup(r->url);
    s->auth = fake_header(r, "Authorization");
    s->accept = fake_header(r, "Accept");
    s->mono = clock_mono(f->clock);
    s->wall = clock_wall(f->clock);
    XGROW(f->pending, f->npending + 1, f->pending_cap);
    f->pending[f->npending++] = r;
    if (f->npending > f->max_pending)
        f->max_pending = f->npending;
    return 0;
}

static inline struct http_transport fake_transport_of(struct fake_transport *f)
{
    struct http_transport t = { fake_submit, f };
    return t;
}

/* Complete pending request i (0 = the oldest) with reply. */
static inline void fake_complete(struct fake_transport *f, size_t i,
                                 const struct fake_reply *reply)
{
    if (i >= f->npending) {
        fprintf(stderr, "fake_complete: no pending request %zu\n", i);
        abort();
    }
    struct http_request *r = f->pending[i];
    memmove(&f->pending[i], &f->pending[i + 1],
            (f->npending - i - 1) * sizeof(*f->pending));
    f->npending--;
    r->status = reply->status;
    r->curl_code = reply->curl_code;
    r->body_too_large = reply->body_too_large;
    if (reply->body)
        strbuf_adds(&r->body, reply->body);
    snprintf(r->error, sizeof(r->error), "%s",
             reply->error ? reply->error : "");
    r->retry_after = xstrdup(reply->retry_after);
    r->ratelimit_reset = xstrdup(reply->ratelimit_reset);
    r->content_type = xstrdup(reply->content_type ? reply->content_type
                                                  : "application/json");
    if (r->done)
        r->done(r, r->ud);
}

/* Complete pending request i with a status and a body. */
static inline void fake_reply_with(struct fake_transport *f, size_t i,
                                   long status, const char *body)
{
    struct fake_reply reply = { .status = status, .body = body };
    fake_complete(f, i, &reply);
}

/* URL of the n-th submitted request (0 = the first), or "" when none. */
static inline const char *fake_url(const struct fake_transport *f, size_t n)
{
    return n < f->nsent ? f->sent[n].url : "";
}

static inline void fake_free(struct fake_transport *f)
{
    for (size_t i = 0; i < f->nsent; i++) {
        free(f->sent[i].url);
        free(f->sent[i].auth);
        free(f->sent[i].accept);
    }
    free(f->sent);
    free(f->pending);
    memset(f, 0, sizeof(*f));
}

/* A fixture of tests/fixtures as a NUL-terminated string (caller frees). */
static inline char *fake_fixture(const char *name)
{
    char path[512];
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
    char *s = read_file(path, 1u << 20, &len);
    if (!s) {
        fprintf(stderr, "cannot read fixture %s\n", path);
        abort();
    }
    return s;
}

#endif
