/*
 * deliver.c - see deliver.h.
 */
#include "notify/deliver.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "notify/smtp.h"

#define PAGERDUTY_DEFAULT_URL "https://events.pagerduty.com/v2/enqueue"

struct attempt {
    struct deliverer *owner;
    enum receiver_type type;
    int pending;                /* outstanding requests (alertmanager fan-out) */
    int ok;                     /* requests that succeeded */
    struct delivery_verdict worst;
    deliver_done_fn done;
    void *ud;
};

struct deliverer {
    struct http_client *http;
    struct http_transport transport;    /* carries the HTTP posts */
    const struct clock *clock;
    struct smtp_worker *smtp;
    bool dry_run;
    unsigned in_flight;
    struct attempt **email;     /* handed to the SMTP worker */
    size_t nemail, email_cap;
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

static void finish(struct attempt *a)
{
    struct delivery_verdict v = a->worst;
    if (a->type == RECV_ALERTMANAGER && a->ok > 0) {
        /* HA path: one Alertmanager that took it is enough; the others get
         * it again at the next evaluation. */
        v.outcome = DELIVERY_OK;
    }
    a->owner->in_flight--;
    deliver_done_fn done = a->done;
    void *ud = a->ud;
    free(a);
    done(ud, &v);
}

static void on_post_done(struct http_request *r, void *ud)
{
    struct attempt *a = ud;
    struct delivery_verdict v;
    payload_classify_http(a->type, r->status, r->curl_code, strbuf_str(&r->body),
                          r->body.len, r->retry_after,
                          clock_wall(a->owner->clock), &v);
    if (v.outcome == DELIVERY_OK)
        a->ok++;
    else if (a->worst.outcome == DELIVERY_OK || v.outcome == DELIVERY_PERMANENT)
        a->worst = v;
    http_request_free(r);
    if (--a->pending == 0)
        finish(a);
}

static void post_json(struct attempt *a, const char *url,
                      const struct strbuf *body, const struct receiver_cfg *rc)
{
    struct http_request *r = http_request_new(url);
    r->method = "POST";
    strbuf_add(&r->post_body, body->buf ? body->buf : "", body->len);
    http_request_add_header(r, "Content-Type: application/json");
    for (size_t i = 0; i < rc->headers.n; i++)
        http_request_add_header(r, "%s: %s", rc->headers.items[i].key,
                                rc->headers.items[i].value);
    if (rc->type == RECV_WEBHOOK && rc->hmac_secret) {
        struct strbuf sig = STRBUF_INIT;
        double ts = floor(clock_wall(a->owner->clock));
        payload_webhook_signature(rc->hmac_secret, body->buf, body->len, ts, &sig);
        http_request_add_header(r, "X-Segalert-Signature: %s", strbuf_str(&sig));
        http_request_add_header(r, "X-Segalert-Timestamp: %.0f", ts);
        strbuf_free(&sig);
    }
    r->timeout_ms = (long)(rc->timeout_s > 0 ? rc->timeout_s * 1000 : 10000);
    r->max_body = 64 * 1024;
    r->done = on_post_done;
    r->ud = a;
    a->pending++;
    if (a->owner->transport.submit(a->owner->transport.ud, r) != 0) {
        a->pending--;
        a->worst.outcome = DELIVERY_RETRY;
        snprintf(a->worst.reason, sizeof(a->worst.reason), "%.120s", r->error);
        http_request_free(r);
    }
}

static void post_alertmanager(struct attempt *a, const char *base,
                              const struct strbuf *body,
                              const struct receiver_cfg *rc)
{
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    char *url = xasprintf("%.*s/api/v2/alerts", (int)len, base);
    post_json(a, url, body, rc);
    free(url);
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
    dl->in_flight++;
    if (!rc) {
        a->type = RECV_LOG;
        a->worst.outcome = DELIVERY_PERMANENT;
        snprintf(a->worst.reason, sizeof(a->worst.reason),
                 "receiver no longer configured");
        finish(a);
        return;
    }
    a->type = rc->type;
    struct strbuf body = STRBUF_INIT;
    if (dl->dry_run || rc->type == RECV_LOG) {
        payload_log_line(n, &body);
        if (dl->dry_run)
            fputs("dry-run: ", stdout);
        fputs(strbuf_str(&body), stdout);
        if (!body.len || body.buf[body.len - 1] != '\n')
            fputc('\n', stdout);
        fflush(stdout);
        strbuf_free(&body);
        finish(a);
        return;
    }
    switch (rc->type) {
    case RECV_WEBHOOK:
        payload_webhook(n, now, &body);
        post_json(a, rc->url, &body, rc);
        break;
    case RECV_SLACK:
        payload_slack(n, rc, &body);
        post_json(a, rc->url, &body, rc);
        break;
    case RECV_PAGERDUTY:
        payload_pagerduty(n, rc->routing_key, &body);
        post_json(a, rc->url ? rc->url : PAGERDUTY_DEFAULT_URL, &body, rc);
        break;
    case RECV_ALERTMANAGER:
        payload_alertmanager(n, now, resend_s, &body);
        for (size_t i = 0; i < rc->urls.n; i++)
            post_alertmanager(a, rc->urls.items[i], &body, rc);
        if (rc->urls.n == 0 && rc->url)
            post_alertmanager(a, rc->url, &body, rc);
        break;
    case RECV_EMAIL: {
        if (!start_smtp_worker(dl)) {
            a->worst.outcome = DELIVERY_RETRY;
            snprintf(a->worst.reason, sizeof(a->worst.reason),
                     "cannot start the SMTP worker thread");
            break;
        }
        struct smtp_target t;
        smtp_target_from_receiver(&t, rc);
        struct smtp_job *job = smtp_job_new(&t);
        smtp_target_clear(&t);
        payload_email(n, rc, now, "segalert.invalid", &body);
        struct smtp_message m = { body.buf, body.len,
                                  (const char *const *)rc->to.items, rc->to.n };
        smtp_job_add(job, &m, a);
        a->pending = 1;
        XGROW(dl->email, dl->nemail + 1, dl->email_cap);
        dl->email[dl->nemail++] = a;
        smtp_worker_submit(dl->smtp, job);
        break;
    }
    default:
        a->worst.outcome = DELIVERY_PERMANENT;
        snprintf(a->worst.reason, sizeof(a->worst.reason), "unsupported receiver");
        break;
    }
    strbuf_free(&body);
    if (a->pending == 0)
        finish(a);
}

void deliverer_poll(struct deliverer *dl)
{
    struct smtp_job *done[16];
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
