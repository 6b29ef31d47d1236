/*
 * deliver.c - see deliver.h.
 *
 * HTTP posts go through one FIFO per receiver host (scheme://host:port):
 * a post starts when fewer than its receiver's max_connections posts are
 * in progress to that host, otherwise it waits at the back of the host's
 * queue, and each finished post starts the next one.  Hosts are few (one
 * per receiver URL) and live as long as the deliverer; they are found
 * through a hash index.
 */
#include "notify/deliver.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/index.h"
#include "core/log.h"
#include "notify/receiver.h"
#include "notify/recv_log.h"
#include "notify/smtp.h"

/* Default per-request timeout, and how much of an answer is read. */
#define DEFAULT_TIMEOUT_S 10.0
#define MAX_ANSWER_BYTES (64 * 1024)
/* Finished SMTP jobs collected per call. */
#define SMTP_COLLECT_BATCH 16

struct attempt {
    struct deliverer *owner;
    receiver_classify_fn classify;      /* HTTP answers */
    bool any_url_suffices;
    int pending;                /* outstanding requests (fan-out), plus one
                                   while deliverer_send() runs */
    int ok;                     /* requests that succeeded */
    struct delivery_verdict worst;
    deliver_done_fn done;
    void *ud;
};

/* One receiver host and its queue. */
struct host {
    char *key;                  /* scheme://host:port, lower case */
    uint64_t hash;
    unsigned active;            /* posts submitted, not completed */
    struct post *head, *tail;   /* waiting, oldest first */
    long reserved;              /* idle connections reserved in the client */
};

/* One HTTP post of an attempt: the request's ud. */
struct post {
    struct attempt *a;
    struct host *h;
    struct http_request *r;
    unsigned limit;             /* the receiver's max_connections */
    struct post *next;          /* in the host's queue */
};

struct deliverer {
    struct http_client *http;
    struct http_transport transport;    /* carries the HTTP posts */
    const struct clock *clock;
    struct smtp_worker *smtp;
    bool dry_run;
    unsigned in_flight;
    unsigned waiting;           /* posts queued behind a host's limit */
    struct attempt **email;     /* handed to the SMTP worker */
    size_t nemail, email_cap;
    struct host **hosts;
    size_t nhosts, hosts_cap;
    struct index_map host_index;        /* key -> hosts[] */
};

struct deliverer *deliverer_new(struct http_client *http,
                                const struct clock *clock, bool dry_run)
{
    struct deliverer *dl = xcalloc(1, sizeof(*dl));
    dl->http = http;
    dl->transport = http_client_transport(http);
    dl->clock = clock ? clock : clock_system();
    dl->dry_run = dry_run;
    return dl;
}

void deliverer_free(struct deliverer *dl)
{
    if (!dl)
        return;
    deliverer_poll(dl);
    if (dl->smtp)
        http_client_unwatch_fd(dl->http, smtp_worker_fd(dl->smtp));
    smtp_worker_free(dl->smtp);
    for (size_t i = 0; i < dl->nemail; i++)
        free(dl->email[i]);
    free(dl->email);
    /* Posts still waiting were never sent: no callback (deliver.h). */
    for (size_t i = 0; i < dl->nhosts; i++) {
        struct host *h = dl->hosts[i];
        while (h->head) {
            struct post *p = h->head;
            h->head = p->next;
            http_request_free(p->r);
            if (--p->a->pending == 0)
                free(p->a);
            free(p);
        }
        free(h->key);
        free(h);
    }
    free(dl->hosts);
    index_map_free(&dl->host_index);
    free(dl);
}

void deliverer_set_transport(struct deliverer *dl, struct http_transport t)
{
    dl->transport = t;
}

unsigned deliverer_in_flight(const struct deliverer *dl)
{
    return dl->in_flight;
}

unsigned deliverer_waiting(const struct deliverer *dl)
{
    return dl->waiting;
}

/* ---- receiver hosts -------------------------------------------------------- */

/* scheme://host:port of url, lower case, the port made explicit; user
 * info, path, query and fragment left out.  A string that is not an
 * absolute URL is its own key. */
static char *host_key(const char *url)
{
    const char *sep = strstr(url, "://");
    if (!sep)
        return xstrdup(url);
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', alen);
    while (at) {        /* the last '@' ends the user info */
        alen -= (size_t)(at + 1 - auth);
        auth = at + 1;
        at = memchr(auth, '@', alen);
    }
    struct strbuf sb = STRBUF_INIT;
    for (const char *p = url; p < sep; p++)
        strbuf_addc(&sb, (char)tolower((unsigned char)*p));
    strbuf_adds(&sb, "://");
    bool has_port = false;
    for (size_t i = 0; i < alen; i++) {
        if (auth[i] == ':' && !memchr(auth + i, ']', alen - i))
            has_port = true;
        strbuf_addc(&sb, (char)tolower((unsigned char)auth[i]));
    }
    if (!has_port)
        strbuf_adds(&sb, strncmp(sb.buf, "https:", 6) == 0 ? ":443" : ":80");
    return strbuf_detach(&sb);
}

static bool host_match(const void *ctx, size_t idx, const void *key)
{
    const struct deliverer *dl = ctx;
    return streq(dl->hosts[idx]->key, key);
}

static struct host *host_get(struct deliverer *dl, const char *url)
{
    char *key = host_key(url);
    uint64_t h = hash_str(key);
    size_t i = index_map_get(&dl->host_index, h, host_match, dl, key);
    if (i != INDEX_NONE) {
        free(key);
        return dl->hosts[i];
    }
    struct host *ho = xcalloc(1, sizeof(*ho));
    ho->key = key;
    ho->hash = h;
    XGROW(dl->hosts, dl->nhosts + 1, dl->hosts_cap);
    index_map_put(&dl->host_index, h, dl->nhosts);
    dl->hosts[dl->nhosts++] = ho;
    return ho;
}

static void finish(struct attempt *a)
{
    struct delivery_verdict v = a->worst;
    if (a->any_url_suffices && a->ok > 0) {
        /* HA peers: one that took it is enough; the others get it again
         * with the next re-send. */
        v.outcome = DELIVERY_OK;
    }
    a->owner->in_flight--;
    deliver_done_fn done = a->done;
    void *ud = a->ud;
    free(a);
    done(ud, &v);
}

static void record(struct attempt *a, const struct delivery_verdict *v)
{
    if (v->outcome == DELIVERY_OK)
        a->ok++;
    else if (a->worst.outcome == DELIVERY_OK ||
             v->outcome == DELIVERY_PERMANENT)
        a->worst = *v;
}

static void pump(struct host *h);

static void on_post_done(struct http_request *r, void *ud)
{
    struct post *p = ud;
    struct attempt *a = p->a;
    struct host *h = p->h;
    struct delivery_verdict v;
    bool aborted = http_request_aborted(r);
    h->active--;
    a->classify(r->status, r->curl_code, strbuf_str(&r->body), r->body.len,
                r->retry_after, clock_wall(a->owner->clock), &v);
    if (v.outcome != DELIVERY_OK) {
        /* say which server: a receiver may post to several (the host,
         * never the path, which may be the secret part of the URL) */
        const char *host = strstr(h->key, "://");
        struct strbuf why = STRBUF_INIT;
        strbuf_addf(&why, "%s: %s", host ? host + 3 : h->key, v.reason);
        size_t n = why.len < sizeof(v.reason) - 1 ? why.len
                                                  : sizeof(v.reason) - 1;
        memcpy(v.reason, why.buf, n);
        v.reason[n] = '\0';
        strbuf_free(&why);
    }
    record(a, &v);
    http_request_free(r);
    free(p);
    /* The connection is free: the next post to the host goes now (not
     * when the HTTP client is shutting down). */
    if (!aborted)
        pump(h);
    if (--a->pending == 0)
        finish(a);
}

/* Start the posts at the head of h's queue while their limit allows. */
static void pump(struct host *h)
{
    while (h->head && h->active < h->head->limit) {
        struct post *p = h->head;
        struct attempt *a = p->a;
        struct deliverer *dl = a->owner;
        h->head = p->next;
        if (!h->head)
            h->tail = NULL;
        dl->waiting--;
        h->active++;
        if (dl->transport.submit(dl->transport.ud, p->r) == 0)
            continue;
        h->active--;
        struct delivery_verdict v = { DELIVERY_RETRY, -1, "" };
        snprintf(v.reason, sizeof(v.reason), "%.120s", p->r->error);
        record(a, &v);
        http_request_free(p->r);
        free(p);
        if (--a->pending == 0)
            finish(a);
    }
}

static void post_json(struct attempt *a, const char *url,
                      const struct strbuf *body, const struct receiver_cfg *rc,
                      const struct str_list *extra_headers)
{
    struct http_request *r = http_request_new(url);
    r->method = "POST";
    strbuf_add(&r->post_body, body->buf ? body->buf : "", body->len);
    http_request_add_header(r, "Content-Type: application/json");
    for (size_t i = 0; i < rc->headers.n; i++)
        http_request_add_header(r, "%s: %s", rc->headers.items[i].key,
                                rc->headers.items[i].value);
    for (size_t i = 0; i < extra_headers->n; i++)
        http_request_add_header(r, "%s", extra_headers->items[i]);
    r->timeout_ms = (long)((rc->timeout_s > 0 ? rc->timeout_s
                                              : DEFAULT_TIMEOUT_S) * 1000);
    r->max_body = MAX_ANSWER_BYTES;

    struct deliverer *dl = a->owner;
    struct post *p = xcalloc(1, sizeof(*p));
    p->a = a;
    p->h = host_get(dl, url);
    p->r = r;
    p->limit = rc->max_connections > 0 ? (unsigned)rc->max_connections
                                       : RECEIVER_MAX_CONNECTIONS;
    if ((long)p->limit > p->h->reserved) {
        /* keep that many connections to the host alive between posts */
        http_client_reserve_connections(dl->http,
                                        (long)p->limit - p->h->reserved);
        p->h->reserved = (long)p->limit;
    }
    r->done = on_post_done;
    r->ud = p;
    a->pending++;
    if (p->h->tail)
        p->h->tail->next = p;
    else
        p->h->head = p;
    p->h->tail = p;
    dl->waiting++;
    pump(p->h);
}

/* RECEIVER_HTTP: one POST per URL, all with the same body and headers. */
static void send_http(struct attempt *a, const struct receiver_ops *ops,
                      const struct receiver_cfg *rc, const struct strbuf *body)
{
    struct str_list urls = { NULL, 0 }, headers = { NULL, 0 };
    a->classify = ops->classify ? ops->classify : http_verdict_classify;
    a->any_url_suffices = ops->any_url_suffices;
    if (ops->http_urls)
        ops->http_urls(rc, &urls);
    else if (rc->url)
        str_list_add(&urls, rc->url);
    if (ops->http_headers)
        ops->http_headers(rc, body, clock_wall(a->owner->clock), &headers);
    if (urls.n == 0) {
        a->worst.outcome = DELIVERY_PERMANENT;
        http_verdict_reason(&a->worst, "no URL to post to");
    }
    for (size_t i = 0; i < urls.n; i++)
        post_json(a, urls.items[i], body, rc, &headers);
    str_list_free(&urls);
    str_list_free(&headers);
}

/* The SMTP worker thread starts with the first email (many setups send
 * none).  When it cannot start, emails fail as retryable and are tried
 * again later; nothing else is affected.  Its "finished" pipe wakes the
 * main loop through the HTTP client's poll. */
static bool start_smtp_worker(struct deliverer *dl)
{
    if (dl->smtp)
        return true;
    dl->smtp = smtp_worker_new();
    if (!dl->smtp)
        return false;
    http_client_watch_fd(dl->http, smtp_worker_fd(dl->smtp));
    return true;
}

/* RECEIVER_SMTP: the message to the worker thread, which reports back
 * through deliverer_poll(). */
static void send_smtp(struct attempt *a, const struct receiver_ops *ops,
                      const struct receiver_cfg *rc, const struct strbuf *body)
{
    struct deliverer *dl = a->owner;
    if (!start_smtp_worker(dl)) {
        a->worst.outcome = DELIVERY_RETRY;
        http_verdict_reason(&a->worst, "cannot start the SMTP worker thread");
        return;
    }
    struct smtp_target t;
    const struct str_list *rcpts = NULL;
    memset(&t, 0, sizeof(t));
    ops->smtp(rc, &t, &rcpts);
    struct smtp_job *job = smtp_job_new(&t);
    smtp_target_clear(&t);
    struct smtp_message m = { body->buf, body->len,
                              (const char *const *)rcpts->items, rcpts->n };
    smtp_job_add(job, &m, a);
    a->pending++;
    XGROW(dl->email, dl->nemail + 1, dl->email_cap);
    dl->email[dl->nemail++] = a;
    smtp_worker_submit(dl->smtp, job);
}

void deliverer_send(struct deliverer *dl, const struct notification *n,
                    const struct receiver_cfg *rc, double now, double resend_s,
                    deliver_done_fn done, void *ud)
{
    struct attempt *a = xcalloc(1, sizeof(*a));
    a->owner = dl;
    a->done = done;
    a->ud = ud;
    a->worst.outcome = DELIVERY_OK;
    a->worst.retry_after_s = -1;
    /* held until the end of this function, so that a post failing at once
     * cannot finish (and free) the attempt while it is being built */
    a->pending = 1;
    dl->in_flight++;
    const struct receiver_ops *ops = receiver_ops_of(rc);
    struct strbuf body = STRBUF_INIT;
    if (!rc) {
        a->worst.outcome = DELIVERY_PERMANENT;
        http_verdict_reason(&a->worst, "receiver no longer configured");
    } else if (dl->dry_run) {
        /* what the log receiver would print, for every receiver */
        recv_log_line(n, &body);
        recv_log_print("dry-run: ", &body);
    } else if (!ops) {
        a->worst.outcome = DELIVERY_PERMANENT;
        http_verdict_reason(&a->worst, "unsupported receiver");
    } else {
        ops->build(rc, n, now, resend_s, &body);
        switch (ops->delivery) {
        case RECEIVER_HTTP:
            send_http(a, ops, rc, &body);
            break;
        case RECEIVER_SMTP:
            send_smtp(a, ops, rc, &body);
            break;
        case RECEIVER_LOCAL:
            ops->write(rc, &body, &a->worst);
            break;
        }
    }
    strbuf_free(&body);
    if (--a->pending == 0)
        finish(a);
}

void deliverer_poll(struct deliverer *dl)
{
    struct smtp_job *done[SMTP_COLLECT_BATCH];
    size_t n;
    if (!dl->smtp)
        return;
    while ((n = smtp_worker_collect(dl->smtp, done, ARRAY_SIZE(done))) > 0) {
        for (size_t i = 0; i < n; i++) {
            struct smtp_job *job = done[i];
            for (size_t k = 0; k < job->n; k++) {
                struct attempt *a = job->msgs[k].cookie;
                const struct smtp_result *r = &job->msgs[k].result;
                for (size_t e = 0; e < dl->nemail; e++) {
                    if (dl->email[e] == a) {
                        dl->email[e] = dl->email[--dl->nemail];
                        break;
                    }
                }
                if (r->status != SMTP_DELIVERED) {
                    a->worst.outcome = r->status == SMTP_PERMFAIL
                                           ? DELIVERY_PERMANENT : DELIVERY_RETRY;
                    snprintf(a->worst.reason, sizeof(a->worst.reason),
                             "smtp %d: %.100s", r->code,
                             r->text[0] ? r->text : job->err);
                }
                a->pending = 0;
                finish(a);
            }
            smtp_job_free(job);
        }
    }
}
