/*
 * http.h - non-blocking HTTP transfers on one curl multi handle.
 *
 * The main loop owns one struct http_client.  Callers fill a struct
 * http_request, submit it, and keep calling http_run(); when a transfer
 * finishes its done() callback runs on the calling thread with the status,
 * body (capped) and the headers segalert cares about.  Connections are
 * kept alive and reused between requests to the same host (curl's
 * connection cache, sized with http_client_reserve_connections()), and
 * requests to an https host that speaks HTTP/2 share its connections
 * (multiplexing; plain http is HTTP/1.1, one request per connection at a
 * time).  The client does not limit how many transfers run at
 * once: its users do (the Segment client, the deliverer per receiver host).
 *
 * Timeouts: timeout_ms counts from http_submit() (the transfer really
 * starts then: nothing waits inside curl for another transfer's answer).  It is enforced here rather
 * than by curl, and only after curl has read what the sockets hold: an
 * answer that arrived while the loop was busy elsewhere (evaluating,
 * saving) for longer than the timeout is that answer, not a timeout.
 * curl checks its own overall timeout before it reads, which reported
 * requests the peer had processed as timed out, and their retries were
 * duplicates.  A transfer that did time out completes with curl_code
 * CURLE_OPERATION_TIMEDOUT (28).
 *
 * Ownership: the request is borrowed from submit until done() is called;
 * done() may free it or resubmit it (after http_request_reset()), and may
 * submit other requests.  The client never frees requests;
 * http_client_abort_all() and http_client_free() abort transfers still in
 * flight and call done() for them with curl_code CURLE_ABORTED_BY_CALLBACK
 * (http_request_aborted() says so); done() should not start new transfers
 * for an aborted one.
 *
 * struct http_transport is the seam between code that produces requests
 * (the Segment client, the deliverer) and what carries them: the curl
 * client in production (http_client_transport), a test double in unit
 * tests.
 */
#ifndef SEGALERT_HTTP_H
#define SEGALERT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

struct http_client;
struct http_request;

typedef void (*http_done_fn)(struct http_request *req, void *ud);

struct http_request {
    /* --- input, set by the caller --- */
    char *url;                  /* owned by the request (freed by http_request_free) */
    const char *method;         /* "GET" (default when NULL) or "POST" */
    struct strbuf post_body;    /* body for POST */
    char **headers;             /* "Name: value" lines, owned */
    size_t nheaders;
    long connect_timeout_ms;    /* 0 = 10 s */
    long timeout_ms;            /* whole transfer from http_submit();
                                   0 = 30 s */
    size_t max_body;            /* response cap; 0 = 8 MiB */
    http_done_fn done;
    void *ud;

    /* --- output, valid in done() --- */
    long status;                /* HTTP status; 0 when no response */
    int curl_code;              /* CURLcode; 0 = transfer completed */
    bool body_too_large;        /* the response exceeded max_body */
    struct strbuf body;
    char error[256];            /* curl's message when curl_code != 0 */
    char *retry_after;          /* header values or NULL */
    char *ratelimit_reset;      /* X-RateLimit-Reset */
    char *ratelimit_remaining;  /* X-RateLimit-Remaining */
    char *content_type;
    double elapsed_s;
    int http_major;             /* HTTP version of the answer: 1, 2, 3;
                                   0 = unknown or no answer */

    /* --- private --- */
    void *easy;
    void *slist;
    int64_t deadline_ms;        /* now_mono_ms() when it times out */
};

struct http_client *http_client_new(void);
/* Abort every transfer in flight (done() runs for each); the client stays
 * usable, watched fds included, so the owners of the callbacks can be freed
 * before the client they borrow.  NULL is a no-op. */
void http_client_abort_all(struct http_client *c);
/* Aborts what is in flight (as http_client_abort_all), then frees. */
void http_client_free(struct http_client *c);

struct http_request *http_request_new(const char *url);
/* Add a "Name: value" header line (copied). */
void http_request_add_header(struct http_request *r, const char *fmt, ...)
    PRINTF_LIKE(2, 3);
/* Clear the outputs so the request can be submitted again. */
void http_request_reset(struct http_request *r);
void http_request_free(struct http_request *r);
/* Whether r completed because its client aborted it (shutting down). */
bool http_request_aborted(const struct http_request *r);

/* Keep up to n more idle connections alive for reuse (on top of a base of
 * HTTP_BASE_CONNECTIONS), e.g. a user that may run n transfers at once to
 * a new host.  Calls add up. */
#define HTTP_BASE_CONNECTIONS 64
void http_client_reserve_connections(struct http_client *c, long n);

/* Start a transfer.  Returns 0, or -1 when curl refuses it (done() is then
 * not called; the reason is in r->error). */
int http_submit(struct http_client *c, struct http_request *r);

/*
 * Something that carries requests.  submit() has the contract of
 * http_submit(): it returns 0 and later completes r exactly once by filling
 * r's output fields (status, curl_code, body, error, the header values...)
 * and calling r->done(r, r->ud) on the caller's thread, or returns -1 with
 * a reason in r->error and never calls done().  A unit test's transport
 * keeps the submitted requests and completes them whenever and however the
 * test likes (header values are malloc'd strings: http_request_free
 * releases them).  The struct is copied by its users; ud is borrowed.
 */
struct http_transport {
    int (*submit)(void *ud, struct http_request *r);
    void *ud;
};
/* The curl client c as a transport (its submit is http_submit). */
struct http_transport http_client_transport(struct http_client *c);

/* Drive transfers: wait up to timeout_ms for activity, then run done()
 * for every finished transfer.  Returns the number still in flight. */
int http_run(struct http_client *c, int timeout_ms);
int http_in_flight(const struct http_client *c);

/* Also wake http_run() when fd becomes readable (e.g. the SMTP worker's
 * "jobs finished" pipe), so the loop needs no polling interval for it.
 * At most HTTP_MAX_WATCH_FDS fds; returns 0, or -1 when full or fd < 0.
 * The fd stays the caller's; unwatch it before closing it. */
#define HTTP_MAX_WATCH_FDS 4
int http_client_watch_fd(struct http_client *c, int fd);
void http_client_unwatch_fd(struct http_client *c, int fd);

/* User-Agent sent on every request. */
#define HTTP_USER_AGENT "segalert/" SEGALERT_VERSION

#endif
