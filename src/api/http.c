/*
 * http.c - see http.h.  A thin layer over libcurl's multi interface; the
 * one thing it does itself is the whole-transfer timeout (see http.h for
 * why).
 */
#include "api/http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define DEFAULT_MAX_BODY (8u * 1024 * 1024)
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_TIMEOUT_MS 30000L

struct http_client {
    CURLM *multi;
    int in_flight;
    struct http_request **active;   /* in-flight requests, for aborting */
    size_t nactive, active_cap;
    int watch[HTTP_MAX_WATCH_FDS];  /* extra fds that wake http_run */
    size_t nwatch;
    long max_connects;              /* curl's connection cache size */
};

static bool curl_ready;

struct http_client *http_client_new(void)
{
    if (!curl_ready) {
        /* Not thread-safe; called from the main thread before any worker. */
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = true;
    }
    struct http_client *c = xcalloc(1, sizeof(*c));
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        return NULL;
    }
    /* Reuse connections: the base covers the API; users that run many
     * transfers to a host reserve more (http_client_reserve_connections). */
    c->max_connects = HTTP_BASE_CONNECTIONS;
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, c->max_connects);
    /* Several requests on one HTTP/2 connection when the peer offers it
     * (curl's default since 7.62; said here because we rely on it). */
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return c;
}

void http_client_reserve_connections(struct http_client *c, long n)
{
    if (!c || n <= 0)
        return;
    c->max_connects += n;
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, c->max_connects);
}

static void finish(struct http_client *c, CURL *easy, CURLcode code);

void http_client_abort_all(struct http_client *c)
{
    if (!c)
        return;
    /* Tell each owner.  finish() removes the entry, so always take the
     * last one. */
    while (c->nactive > 0)
        finish(c, c->active[c->nactive - 1]->easy, CURLE_ABORTED_BY_CALLBACK);
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    http_client_abort_all(c);
    free(c->active);
    curl_multi_cleanup(c->multi);
    free(c);
}

struct http_request *http_request_new(const char *url)
{
    struct http_request *r = xcalloc(1, sizeof(*r));
    r->url = xstrdup(url);
    return r;
}

void http_request_add_header(struct http_request *r, const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    r->headers = xrealloc(r->headers, (r->nheaders + 1) * sizeof(char *));
    r->headers[r->nheaders++] = strbuf_detach(&sb);
}

bool http_request_aborted(const struct http_request *r)
{
    return r->curl_code == CURLE_ABORTED_BY_CALLBACK;
}

void http_request_reset(struct http_request *r)
{
    r->status = 0;
    r->curl_code = 0;
    r->body_too_large = false;
    strbuf_reset(&r->body);
    r->error[0] = '\0';
    free(r->retry_after);
    free(r->ratelimit_reset);
    free(r->ratelimit_remaining);
    free(r->content_type);
    r->retry_after = r->ratelimit_reset = r->ratelimit_remaining = NULL;
    r->content_type = NULL;
    r->elapsed_s = 0;
    r->http_major = 0;
}

void http_request_free(struct http_request *r)
{
    if (!r)
        return;
    http_request_reset(r);
    strbuf_free(&r->body);
    strbuf_free(&r->post_body);
    for (size_t i = 0; i < r->nheaders; i++)
        free(r->headers[i]);
    free(r->headers);
    free(r->url);
    free(r);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct http_request *r = ud;
    size_t n = size * nmemb;
    size_t cap = r->max_body ? r->max_body : DEFAULT_MAX_BODY;
    if (r->body.len + n > cap) {
        /* Returning less than n makes curl fail with CURLE_WRITE_ERROR:
         * the transfer stops at once instead of reading 50 MB. */
        r->body_too_large = true;
        return 0;
    }
    strbuf_add(&r->body, data, n);
    return n;
}

/* Keep the value of a header if its name matches (case-insensitive). */
static void grab(char **slot, const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    free(*slot);
    *slot = xstrndup(v, (size_t)(end - v));
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct http_request *r = ud;
    size_t n = size * nmemb;
    grab(&r->retry_after, data, n, "Retry-After");
    grab(&r->ratelimit_reset, data, n, "X-RateLimit-Reset");
    grab(&r->ratelimit_remaining, data, n, "X-RateLimit-Remaining");
    grab(&r->content_type, data, n, "Content-Type");
    return n;
}

int http_submit(struct http_client *c, struct http_request *r)
{
    CURL *e = curl_easy_init();
    if (!e) {
        snprintf(r->error, sizeof(r->error), "curl_easy_init failed");
        return -1;
    }
    struct curl_slist *sl = NULL;
    for (size_t i = 0; i < r->nheaders; i++)
        sl = curl_slist_append(sl, r->headers[i]);
    /* curl adds "Expect: 100-continue" to larger POSTs: one more round
     * trip for nothing with the receivers we talk to. */
    sl = curl_slist_append(sl, "Expect:");

    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(e, CURLOPT_USERAGENT, HTTP_USER_AGENT);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     r->connect_timeout_ms > 0 ? r->connect_timeout_ms
                                               : DEFAULT_CONNECT_TIMEOUT_MS);
    /* No CURLOPT_TIMEOUT: expire() enforces it after reading (http.h). */
    /* https: a second request to a host whose first connection is still
     * being set up waits to learn whether it can share it (HTTP/2, known
     * from the TLS handshake) instead of opening another one.  Not for
     * plain http: curl would learn that only from the first answer, and
     * the requests behind it would wait that long - counted in their
     * timeout, so a slow receiver's burst timed out and was sent again. */
    if (strncasecmp(r->url, "https:", 6) == 0)
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)(r->max_body ? r->max_body : DEFAULT_MAX_BODY));
    if (r->method && strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, strbuf_str(&r->post_body));
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)r->post_body.len);
    } else if (r->method && strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }
    r->error[0] = '\0';
    r->easy = e;
    r->slist = sl;
    r->deadline_ms = now_mono_ms() +
                     (r->timeout_ms > 0 ? r->timeout_ms : DEFAULT_TIMEOUT_MS);
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        snprintf(r->error, sizeof(r->error), "curl_multi_add_handle failed");
        curl_easy_cleanup(e);
        curl_slist_free_all(sl);
        r->easy = r->slist = NULL;
        return -1;
    }
    c->in_flight++;
    XGROW(c->active, c->nactive + 1, c->active_cap);
    c->active[c->nactive++] = r;
    return 0;
}

static int transport_submit(void *ud, struct http_request *r)
{
    return http_submit(ud, r);
}

struct http_transport http_client_transport(struct http_client *c)
{
    struct http_transport t = { transport_submit, c };
    return t;
}

static void finish(struct http_client *c, CURL *easy, CURLcode code)
{
    struct http_request *r = NULL;
    long version = 0;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &r->elapsed_s);
    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
    r->http_major = version == CURL_HTTP_VERSION_3 ? 3
                  : version == CURL_HTTP_VERSION_2_0 ? 2
                  : version ? 1 : 0;
    r->curl_code = (int)code;
    if (code != CURLE_OK && r->error[0] == '\0')
        snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(code));
    if (r->body_too_large || code == CURLE_FILESIZE_EXCEEDED) {
        r->body_too_large = true;
        snprintf(r->error, sizeof(r->error), "response body larger than %zu bytes",
                 r->max_body ? r->max_body : (size_t)DEFAULT_MAX_BODY);
    }
    for (size_t i = 0; i < c->nactive; i++) {
        if (c->active[i] == r) {
            c->active[i] = c->active[--c->nactive];
            break;
        }
    }
    curl_multi_remove_handle(c->multi, easy);
    curl_easy_cleanup(easy);
    curl_slist_free_all(r->slist);
    r->easy = r->slist = NULL;
    c->in_flight--;
    if (r->done)
        r->done(r, r->ud);
}

/* Time out the transfers past their deadline.  Called right after
 * curl_multi_perform() and dispatch_finished(), so an answer that was
 * waiting in a socket has been read and delivered first. */
static int expire(struct http_client *c)
{
    int64_t now = now_mono_ms();
    size_t i = 0;
    int n = 0;
    while (i < c->nactive) {
        struct http_request *r = c->active[i];
        if (r->deadline_ms > now) {
            i++;
            continue;
        }
        long ms = r->timeout_ms > 0 ? r->timeout_ms : DEFAULT_TIMEOUT_MS;
        snprintf(r->error, sizeof(r->error),
                 "Operation timed out after %ld milliseconds", ms);
        /* finish() puts the last entry at i; done() may append new ones,
         * whose deadlines are in the future */
        finish(c, r->easy, CURLE_OPERATION_TIMEDOUT);
        n++;
    }
    return n;
}

/* Milliseconds until the earliest deadline (>= 0), at most cap. */
static int until_deadline(const struct http_client *c, int cap)
{
    int64_t now = now_mono_ms();
    int64_t best = cap;
    for (size_t i = 0; i < c->nactive; i++) {
        int64_t left = c->active[i]->deadline_ms - now;
        if (left < best)
            best = left < 0 ? 0 : left;
    }
    return (int)best;
}

static int dispatch_finished(struct http_client *c)
{
    CURLMsg *msg;
    int left, n = 0;
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            finish(c, msg->easy_handle, msg->data.result);
            n++;
        }
    }
    return n;
}

int http_run(struct http_client *c, int timeout_ms)
{
    int running = 0;
    curl_multi_perform(c->multi, &running);
    int finished = dispatch_finished(c);
    finished += expire(c);
    if (finished > 0 || timeout_ms <= 0)
        return c->in_flight;
    /* Nothing finished yet: sleep until a socket is ready or the timeout
     * (curl_multi_poll also waits when there is no transfer at all, which
     * makes this the main loop's only sleep). */
    struct curl_waitfd extra[HTTP_MAX_WATCH_FDS];
    for (size_t i = 0; i < c->nwatch; i++) {
        extra[i].fd = c->watch[i];
        extra[i].events = CURL_WAIT_POLLIN;
        extra[i].revents = 0;
    }
    curl_multi_poll(c->multi, extra, (unsigned)c->nwatch,
                    until_deadline(c, timeout_ms), NULL);
    curl_multi_perform(c->multi, &running);
    dispatch_finished(c);
    expire(c);
    return c->in_flight;
}

int http_client_watch_fd(struct http_client *c, int fd)
{
    if (fd < 0 || c->nwatch >= HTTP_MAX_WATCH_FDS)
        return -1;
    c->watch[c->nwatch++] = fd;
    return 0;
}

void http_client_unwatch_fd(struct http_client *c, int fd)
{
    for (size_t i = 0; i < c->nwatch; i++) {
        if (c->watch[i] == fd) {
            c->watch[i] = c->watch[--c->nwatch];
            return;
        }
    }
}

int http_in_flight(const struct http_client *c)
{
    return c->in_flight;
}
