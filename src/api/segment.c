/*
 * segment.c - see segment.h.
 */
#include "api/segment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/kv.h"
#include "core/log.h"
#include "core/utf8.h"
#include "api/segment_parse.h"

struct seg_job {
    struct seg_client *client;
    enum seg_endpoint ep;
    enum seg_rate_class rc;
    char *path_query;
    bool paged;
    int priority;
    seg_page_fn page;
    seg_done_fn done;
    void *ud;
    char *cursor;           /* cursor of the page to fetch next, or NULL */
    struct str_list cursors_seen;   /* every cursor this listing followed */
    int pages;
    int attempts;           /* failed attempts of the current page */
    int ratelimit_waits;
    double not_before;      /* monotonic seconds: retry back-off */
    unsigned long seq;      /* FIFO order within a priority */
    struct http_request *req;
};

/* A binary heap of jobs: by priority then seq (what runs next), or by
 * not_before (jobs backing off, in the order they become ready). */
struct job_heap {
    struct seg_job **a;
    size_t n, cap;
    bool by_time;
};

/* The send times of the requests of the last window (monotonic s, oldest
 * first, a ring that grows as needed).  It holds at most as many entries
 * as the limit lets into one window, so its size follows the budget that
 * is actually used, not the one configured. */
struct send_log {
    double *t;
    size_t head, len, cap;
};

/* What paces one stream of requests (the workspace, or a rate class): the
 * sliding-window limit over the send log, and the 429 state. */
struct rate_limit {
    double per_min;                 /* cap before any slow-down; <= 0 =
                                       unlimited */
    double rate_factor;             /* 1.0 normally; lowered after 429s */
    double last_recover;            /* monotonic s: last 429 or recovery step */
    double paused_until;            /* monotonic s */
    struct send_log log;
};

struct seg_client {
    struct seg_client_opts o;
    char *workspace, *base_url, *token;
    struct http_transport transport;
    const struct clock *clock;
    /* Waiting jobs: those that may start (as far as their own back-off
     * goes) per rate class, and those still backing off. */
    struct job_heap ready[SEGRC__COUNT];
    struct job_heap delayed;
    int in_flight;
    unsigned long seq;
    /* The workspace's limit (never slowed or paused: it only enforces the
     * budget over all endpoints) and one per rate class. */
    struct rate_limit total;
    struct rate_limit cls[SEGRC__COUNT];
    struct rng rng;
    struct seg_client_stats st;
    struct log_complaint complain;
};

static const char *endpoint_names[SEGEP__COUNT] = {
    "sources", "connected_destinations", "delivery_metrics", "events_volume",
    "usage_mtu_sources", "usage_mtu", "usage_api_calls_sources", "usage_api_calls",
    "delivery_overview",
};

const char *seg_endpoint_name(enum seg_endpoint ep)
{
    return (unsigned)ep < SEGEP__COUNT ? endpoint_names[ep] : "?";
}

enum seg_rate_class seg_endpoint_rate_class(enum seg_endpoint ep)
{
    return ep == SEGEP_EVENTS_VOLUME ? SEGRC_VOLUME
         : ep == SEGEP_DELIVERY_OVERVIEW ? SEGRC_OVERVIEW : SEGRC_GENERAL;
}

const char *seg_rate_class_name(enum seg_rate_class rc)
{
    static const char *const names[SEGRC__COUNT] = { "general", "volume",
                                                      "overview" };
    return (unsigned)rc < SEGRC__COUNT ? names[rc] : "?";
}

const char *seg_status_name(enum seg_status st)
{
    switch (st) {
    case SEG_OK: return "ok";
    case SEG_RETRY: return "unavailable";
    case SEG_RATELIMITED: return "rate-limited";
    case SEG_AUTH: return "unauthorized";
    case SEG_FORBIDDEN: return "forbidden";
    case SEG_NOTFOUND: return "not-found";
    case SEG_BADREQ: return "bad-request";
    case SEG_BADBODY: return "bad-body";
    case SEG_CANCELLED: return "cancelled";
    }
    return "?";
}

static double mono_s(const struct seg_client *c)
{
    return clock_mono(c->clock);
}

struct seg_client *seg_client_new(const struct seg_client_opts *opts,
                                  const struct http_transport *transport)
{
    struct seg_client *c = xcalloc(1, sizeof(*c));
    c->o = *opts;
    c->workspace = xstrdup(opts->workspace ? opts->workspace : "default");
    c->base_url = xstrdup(opts->base_url);
    size_t bl = strlen(c->base_url);
    while (bl > 0 && c->base_url[bl - 1] == '/')
        c->base_url[--bl] = '\0';
    c->token = xstrdup(opts->token ? opts->token : "");
    c->o.workspace = c->o.base_url = c->o.token = NULL;
    if (c->o.max_concurrency < 1)
        c->o.max_concurrency = 1;
    if (c->o.connect_timeout_s <= 0)
        c->o.connect_timeout_s = 10;
    if (c->o.request_timeout_s <= 0)
        c->o.request_timeout_s = 30;
    if (c->o.max_body == 0)
        c->o.max_body = SEGPARSE_MAX_BODY;
    if (c->o.page_size < 1 || c->o.page_size > 1000)
        c->o.page_size = 200;
    if (c->o.max_pages < 1)
        c->o.max_pages = 500;
    if (c->o.max_attempts < 1)
        c->o.max_attempts = 4;
    if (c->o.max_ratelimit_waits < 1)
        c->o.max_ratelimit_waits = 8;
    if (c->o.retry_base_s <= 0)
        c->o.retry_base_s = 1;
    c->transport = *transport;
    c->clock = opts->clock ? opts->clock : clock_system();
    c->o.clock = NULL;
    double now = mono_s(c), b = c->o.request_budget;
    struct rate_limit init = { .per_min = b, .rate_factor = 1,
                               .last_recover = now };
    c->total = init;
    c->cls[SEGRC_GENERAL] = init;
    c->cls[SEGRC_VOLUME] = init;
    c->cls[SEGRC_OVERVIEW] = init;
    if (b > 0 && b > SEG_VOLUME_LIMIT_PER_MIN)
        c->cls[SEGRC_VOLUME].per_min = SEG_VOLUME_LIMIT_PER_MIN;
    double ob = opts->overview_budget;
    if (ob > 0 && (b <= 0 || ob < b))
        c->cls[SEGRC_OVERVIEW].per_min = ob;
    c->delayed.by_time = true;
    rng_seed(&c->rng, opts->rng_seed ? opts->rng_seed
                                     : (uint64_t)now_mono_ms() ^ (uintptr_t)c);
    return c;
}

static void job_free(struct seg_job *j)
{
    if (!j)
        return;
    http_request_free(j->req);
    free(j->path_query);
    free(j->cursor);
    str_list_free(&j->cursors_seen);
    free(j);
}

static void job_finish(struct seg_job *j, enum seg_status st, const char *msg)
{
    struct seg_client *c = j->client;
    if (st != SEG_OK) {
        c->st.failures++;
        snprintf(c->st.last_error, sizeof(c->st.last_error), "%s %s: %s",
                 seg_endpoint_name(j->ep), seg_status_name(st), msg);
    }
    seg_done_fn done = j->done;
    void *ud = j->ud;
    job_free(j);
    if (done)
        done(ud, st, msg ? msg : "");
}

static void fail_queue(struct seg_client *c, enum seg_status st,
                       const char *msg);

void seg_client_free(struct seg_client *c)
{
    if (!c)
        return;
    fail_queue(c, SEG_CANCELLED, "client stopped");
    for (int rc = 0; rc < SEGRC__COUNT; rc++) {
        free(c->ready[rc].a);
        free(c->cls[rc].log.t);
    }
    free(c->delayed.a);
    free(c->total.log.t);
    free(c->workspace);
    free(c->base_url);
    free(c->token);
    free(c);
}

void seg_query_add(struct strbuf *pq, const char *name, const char *value)
{
    strbuf_addc(pq, strchr(strbuf_str(pq), '?') ? '&' : '?');
    strbuf_adds(pq, name);
    strbuf_addc(pq, '=');
    strbuf_add_urlenc(pq, value);
}

void seg_query_add_time(struct strbuf *pq, const char *name, double t)
{
    char buf[32];
    format_iso8601(t, buf, sizeof(buf));
    seg_query_add(pq, name, buf);
}

/* ---- the queue: heaps of jobs ------------------------------------------- */

/* Whether a should leave heap h before b. */
static bool job_before(const struct job_heap *h, const struct seg_job *a,
                       const struct seg_job *b)
{
    if (h->by_time && a->not_before != b->not_before)
        return a->not_before < b->not_before;
    if (!h->by_time && a->priority != b->priority)
        return a->priority > b->priority;
    return a->seq < b->seq;
}

static void heap_push(struct job_heap *h, struct seg_job *j)
{
    XGROW(h->a, h->n + 1, h->cap);
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!job_before(h, j, h->a[up]))
            break;
        h->a[i] = h->a[up];
        i = up;
    }
    h->a[i] = j;
}

static struct seg_job *heap_top(const struct job_heap *h)
{
    return h->n ? h->a[0] : NULL;
}

static struct seg_job *heap_pop(struct job_heap *h)
{
    if (h->n == 0)
        return NULL;
    struct seg_job *top = h->a[0], *last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= h->n)
            break;
        if (k + 1 < h->n && job_before(h, h->a[k + 1], h->a[k]))
            k++;
        if (!job_before(h, h->a[k], last))
            break;
        h->a[i] = h->a[k];
        i = k;
    }
    if (h->n)
        h->a[i] = last;
    return top;
}

static size_t queued(const struct seg_client *c)
{
    size_t n = c->delayed.n;
    for (int rc = 0; rc < SEGRC__COUNT; rc++)
        n += c->ready[rc].n;
    return n;
}

/* Queue j: with its class when it may start now, else with the jobs
 * backing off until not_before. */
static void enqueue(struct seg_client *c, struct seg_job *j)
{
    if (j->not_before > mono_s(c))
        heap_push(&c->delayed, j);
    else
        heap_push(&c->ready[j->rc], j);
}

/* Any queued job, for failing them all (NULL when none is left). */
static struct seg_job *take_any(struct seg_client *c)
{
    for (int rc = 0; rc < SEGRC__COUNT; rc++)
        if (c->ready[rc].n)
            return heap_pop(&c->ready[rc]);
    return heap_pop(&c->delayed);
}

void seg_call(struct seg_client *c, enum seg_endpoint ep, const char *path_query,
              bool paged, int priority, seg_page_fn page, seg_done_fn done,
              void *ud)
{
    struct seg_job *j = xcalloc(1, sizeof(*j));
    j->client = c;
    j->ep = ep;
    j->rc = seg_endpoint_rate_class(ep);
    j->path_query = xstrdup(path_query);
    j->paged = paged;
    j->priority = priority;
    j->page = page;
    j->done = done;
    j->ud = ud;
    j->seq = c->seq++;
    enqueue(c, j);
}

/* Back-off for the n-th failed attempt: base * 2^(n-1), capped at 60 s,
 * with "full jitter" in [50 %, 100 %] so retries of many connections do
 * not arrive in lockstep. */
static double backoff_s(struct seg_client *c, int n)
{
    double d = c->o.retry_base_s * pow(2, n > 1 ? n - 1 : 0);
    if (d > 60)
        d = 60;
    return d * (0.5 + 0.5 * rng_uniform(&c->rng));
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static bool cursor_seen(const struct seg_job *j, const char *cursor)
{
    for (size_t i = 0; i < j->cursors_seen.n; i++)
        if (streq(j->cursors_seen.items[i], cursor))
            return true;
    return false;
}

/* Fail every queued job at once (after a 401: the token is bad for all). */
static void fail_queue(struct seg_client *c, enum seg_status st, const char *msg)
{
    struct seg_job *j;
    while ((j = take_any(c)) != NULL)
        job_finish(j, st, msg);
}

static void retry_later(struct seg_client *c, struct seg_job *j, double delay)
{
    j->not_before = mono_s(c) + delay;
    c->st.retries++;
    enqueue(c, j);
}

/* Describe an error response for logs: Segment's message when the body is
 * its error envelope, else what the body looked like. */
static void describe_error(const struct http_request *r, char *buf, size_t len,
                           double *ms_before_next)
{
    struct seg_error e;
    *ms_before_next = -1;
    if (segparse_error(r->body.buf ? r->body.buf : "", r->body.len, &e) == 0) {
        *ms_before_next = e.ms_before_next;
        if (e.field[0])
            snprintf(buf, len, "%s (field %s)", e.message[0] ? e.message : e.type,
                     e.field);
        else
            snprintf(buf, len, "%s", e.message[0] ? e.message : e.type);
    } else {
        snprintf(buf, len, "%s", e.message);
    }
}

static void handle_response(struct http_request *r, void *ud)
{
    struct seg_job *j = ud;
    struct seg_client *c = j->client;
    char msg[600];
    double ms_before_next = -1;

    c->in_flight--;
    if (r->curl_code == CURLE_ABORTED_BY_CALLBACK) {
        job_finish(j, SEG_CANCELLED, "aborted");
        return;
    }

    int cls;
    if (r->curl_code != 0 && !r->body_too_large)
        cls = SEGCLS_5XX;
    else if (r->status >= 200 && r->status < 300)
        cls = SEGCLS_2XX;
    else if (r->status == 401 || r->status == 403)
        cls = SEGCLS_AUTH;
    else if (r->status == 404)
        cls = SEGCLS_404;
    else if (r->status == 429)
        cls = SEGCLS_429;
    else if (r->status >= 500 || r->status == 408)
        cls = SEGCLS_5XX;
    else
        cls = SEGCLS_4XX;
    c->st.by_class[j->ep][cls]++;

    /* The path is safe to log: it holds ids and times, never the token. */
    const char *what = j->path_query;

    if (r->body_too_large) {
        snprintf(msg, sizeof(msg), "GET %s: %s", what, r->error);
        goto retry;
    }
    switch (cls) {
    case SEGCLS_2XX: {
        char err[300] = "";
        char *next = NULL;
        const char *body = r->body.buf ? r->body.buf : "";
        if (j->page && j->page(j->ud, body, r->body.len, &next, err,
                               sizeof(err)) != 0) {
            snprintf(msg, sizeof(msg), "GET %s: unusable response body: %s",
                     what, err);
            free(next);
            goto retry;
        }
        c->st.unauthorized = false;
        c->st.last_success_wall = clock_wall(c->clock);
        j->attempts = 0;
        j->pages++;
        free(j->cursor);
        j->cursor = NULL;
        if (j->paged && next && next[0]) {
            if (cursor_seen(j, next)) {
                /* Following it would fetch pages already seen, for ever
                 * (until the page cap): the listing is broken. */
                snprintf(msg, sizeof(msg), "%s: GET %s: pagination cursor "
                         "'%.*s' repeats after page %d; listing stopped",
                         seg_endpoint_name(j->ep), what,
                         (int)utf8_cut(next, strlen(next), 64), next,
                         j->pages);
                free(next);
                log_warn("segment: ws=%s %s", c->workspace, msg);
                job_finish(j, SEG_BADBODY, msg);
                return;
            }
            if (j->pages >= c->o.max_pages) {
                free(next);
                snprintf(msg, sizeof(msg), "GET %s: stopped after %d pages "
                         "(page cap)", what, j->pages);
                log_warn("segment: ws=%s %s", c->workspace, msg);
                job_finish(j, SEG_OK, "");
                return;
            }
            str_list_add(&j->cursors_seen, next);
            j->cursor = next;
            http_request_free(j->req);
            j->req = NULL;
            j->not_before = 0;
            enqueue(c, j);
            return;
        }
        free(next);
        log_release(&c->complain, "segment: ws=%s requests succeed again",
                    c->workspace);
        job_finish(j, SEG_OK, "");
        return;
    }
    case SEGCLS_AUTH:
        describe_error(r, msg, sizeof(msg), &ms_before_next);
        if (r->status == 403) {
            /* A valid token without this permission: only this call
             * fails; the caller records which endpoint is forbidden. */
            char m2[1300];
            snprintf(m2, sizeof(m2), "GET %s: HTTP 403: %s", what, msg);
            log_debug("segment: ws=%s forbidden: %s", c->workspace, m2);
            job_finish(j, SEG_FORBIDDEN, m2);
            return;
        }
        if (!c->st.unauthorized)
            log_err("segment: ws=%s unauthorized (HTTP %ld) on GET %s: %s - "
                    "check the token and its permissions", c->workspace,
                    r->status, what, msg);
        c->st.unauthorized = true;
        {
            char m2[700];
            snprintf(m2, sizeof(m2), "HTTP %ld: %s", r->status, msg);
            job_finish(j, SEG_AUTH, m2);
            fail_queue(c, SEG_AUTH, m2);
        }
        return;
    case SEGCLS_404: {
        char m[600], m2[1300];
        describe_error(r, m, sizeof(m), &ms_before_next);
        snprintf(m2, sizeof(m2), "GET %s: HTTP 404: %s", what, m);
        log_warn("segment: ws=%s %s", c->workspace, m2);
        job_finish(j, SEG_NOTFOUND, m2);
        return;
    }
    case SEGCLS_4XX: {
        char m[600], m2[1300];
        describe_error(r, m, sizeof(m), &ms_before_next);
        snprintf(m2, sizeof(m2), "GET %s: HTTP %ld: %s", what, r->status, m);
        log_err("segment: ws=%s request refused: %s", c->workspace, m2);
        job_finish(j, SEG_BADREQ, m2);
        return;
    }
    case SEGCLS_429: {
        double wait = -1, now = mono_s(c);
        enum seg_rate_class rc = seg_endpoint_rate_class(j->ep);
        struct rate_limit *b = &c->cls[rc];
        describe_error(r, msg, sizeof(msg), &ms_before_next);
        c->st.rate_limited++;
        c->st.class_rate_limited[rc]++;
        if (ms_before_next >= 0) {
            wait = ms_before_next / 1000.0;
        } else if (r->ratelimit_reset) {
            double reset;
            if (parse_rfc5322_date(r->ratelimit_reset, &reset) == 0)
                wait = reset - clock_wall(c->clock);
        }
        if (wait < 0)
            wait = backoff_s(c, j->ratelimit_waits + 1);
        /* Never trust a server-supplied wait blindly: 0.1 s .. 10 min,
         * plus a little jitter so our requests don't all return at once. */
        wait = clamp(wait, 0.1, 600) + rng_uniform(&c->rng) * 0.25;
        if (now + wait > b->paused_until)
            b->paused_until = now + wait;
        b->rate_factor = fmax(b->rate_factor * 0.7, 0.1);
        b->last_recover = now;
        log_complain(&c->complain, LOG_WARN,
                     "segment: ws=%s rate limited (429) on %s; waiting %.1f s, "
                     "%s budget lowered to %.0f/min", c->workspace,
                     seg_endpoint_name(j->ep), wait, seg_rate_class_name(rc),
                     b->per_min * b->rate_factor);
        if (++j->ratelimit_waits > c->o.max_ratelimit_waits) {
            char m2[700];
            snprintf(m2, sizeof(m2), "GET %s: still rate limited after %d waits",
                     what, j->ratelimit_waits - 1);
            job_finish(j, SEG_RATELIMITED, m2);
            return;
        }
        http_request_free(j->req);
        j->req = NULL;
        j->not_before = 0;      /* the class's pause covers it */
        enqueue(c, j);
        return;
    }
    default: /* SEGCLS_5XX */
        if (r->curl_code != 0) {
            snprintf(msg, sizeof(msg), "GET %s: %s", what, r->error);
        } else {
            char m[400];
            describe_error(r, m, sizeof(m), &ms_before_next);
            snprintf(msg, sizeof(msg), "GET %s: HTTP %ld: %s", what, r->status, m);
        }
        goto retry;
    }

retry:
    j->attempts++;
    if (j->attempts >= c->o.max_attempts) {
        enum seg_status st = cls == SEGCLS_2XX ? SEG_BADBODY : SEG_RETRY;
        char m2[700];
        snprintf(m2, sizeof(m2), "%s (gave up after %d attempts)", msg,
                 j->attempts);
        log_complain(&c->complain, LOG_ERR, "segment: ws=%s %s", c->workspace,
                     m2);
        job_finish(j, st, m2);
        return;
    }
    double d = backoff_s(c, j->attempts);
    log_debug("segment: ws=%s %s; retry %d in %.1f s", c->workspace, msg,
              j->attempts, d);
    http_request_free(j->req);
    j->req = NULL;
    retry_later(c, j, d);
}

static const char *accept_for(enum seg_endpoint ep)
{
    /* Delivery metrics has no stable (v1) version: ask for beta. */
    return ep == SEGEP_DELIVERY_METRICS || ep == SEGEP_DELIVERY_OVERVIEW
               ? "application/vnd.segment.v1beta+json"
               : "application/vnd.segment.v1+json";
}

static void start_job(struct seg_client *c, struct seg_job *j)
{
    struct strbuf url = STRBUF_INIT;
    strbuf_adds(&url, c->base_url);
    strbuf_adds(&url, j->path_query);
    if (j->paged) {
        char cnt[16];
        snprintf(cnt, sizeof(cnt), "%d", c->o.page_size);
        /* seg_query_add looks for '?' in the whole URL: fine, the base URL
         * has no query. */
        seg_query_add(&url, "pagination.count", cnt);
        if (j->cursor)
            seg_query_add(&url, "pagination.cursor", j->cursor);
    }
    struct http_request *r = http_request_new(strbuf_str(&url));
    strbuf_free(&url);
    http_request_add_header(r, "Authorization: Bearer %s", c->token);
    http_request_add_header(r, "Accept: %s", accept_for(j->ep));
    r->connect_timeout_ms = (long)(c->o.connect_timeout_s * 1000);
    r->timeout_ms = (long)(c->o.request_timeout_s * 1000);
    r->max_body = c->o.max_body;
    r->done = handle_response;
    r->ud = j;
    j->req = r;
    c->st.requests[j->ep]++;
    if (c->transport.submit(c->transport.ud, r) != 0) {
        char m[400];
        snprintf(m, sizeof(m), "GET %s: %s", j->path_query, r->error);
        job_finish(j, SEG_RETRY, m);
        return;
    }
    c->in_flight++;
}

/* ---- the budget: sliding windows over the send times ------------------ */

static bool limited(const struct rate_limit *b)
{
    return b->per_min > 0;
}

/* The window a limit is enforced over: at most *max requests in any
 * *window_s seconds.  That is floor(rate) per SEG_BUDGET_WINDOW_S (a
 * fraction of a request cannot be sent), or one per 60/rate s below one
 * a minute; plus SEG_BUDGET_GUARD_S (see segment.h). */
static void limit_window(const struct rate_limit *b, size_t *max,
                         double *window_s)
{
    double r = b->per_min * b->rate_factor;
    if (r >= 1) {
        *max = (size_t)floor(r + 1e-9);
        *window_s = SEG_BUDGET_WINDOW_S + SEG_BUDGET_GUARD_S;
    } else {
        *max = 1;
        *window_s = SEG_BUDGET_WINDOW_S / r + SEG_BUDGET_GUARD_S;
    }
}

/* Forget the sends that left the window ending at now. */
static void log_prune(struct rate_limit *b, double now)
{
    size_t max;
    double window_s;
    if (!limited(b))
        return;
    limit_window(b, &max, &window_s);
    struct send_log *l = &b->log;
    while (l->len && l->t[l->head] <= now - window_s) {
        l->head = (l->head + 1) % l->cap;
        l->len--;
    }
}

/* Seconds until one more request fits in the window (0 when it does
 * now).  Call log_prune() first. */
static double log_ready_in(const struct rate_limit *b, double now)
{
    size_t max;
    double window_s;
    if (!limited(b))
        return 0;
    limit_window(b, &max, &window_s);
    const struct send_log *l = &b->log;
    if (l->len < max)
        return 0;
    /* The window must lose len - max + 1 sends: it has when the newest
     * of those (index len - max from the oldest) leaves it. */
    double t = l->t[(l->head + l->len - max) % l->cap] + window_s;
    return t > now ? t - now : 0;
}

static void log_push(struct rate_limit *b, double now)
{
    if (!limited(b))
        return;
    struct send_log *l = &b->log;
    if (l->len == l->cap) {
        size_t ncap = l->cap ? 2 * l->cap : 64;
        double *t = xmalloc(ncap * sizeof(*t));
        for (size_t i = 0; i < l->len; i++)
            t[i] = l->t[(l->head + i) % l->cap];
        free(l->t);
        l->t = t;
        l->cap = ncap;
        l->head = 0;
    }
    l->t[(l->head + l->len) % l->cap] = now;
    l->len++;
}

/* Give 10 % of the rate back per quiet minute after a 429, counted from
 * the 429 (a 429 sets last_recover too), however seldom the client is
 * ticked. */
static void limit_recover(struct seg_client *c, struct rate_limit *b,
                          enum seg_rate_class rc, double now)
{
    if (b->rate_factor >= 1 || now - b->last_recover < 60)
        return;
    double minutes = floor((now - b->last_recover) / 60);
    b->rate_factor += 0.1 * minutes;
    if (b->rate_factor > 1 - 1e-9)     /* 0.7 + 3 x 0.1 is not 1.0 */
        b->rate_factor = 1;
    b->last_recover += 60 * minutes;
    log_info("segment: ws=%s %s budget recovering: %.0f/min", c->workspace,
             seg_rate_class_name(rc), b->per_min * b->rate_factor);
}

/* When class rc may start a request: the end of its 429 pause, or when
 * its window has room (now when both allow it). */
static double class_ready_at(const struct seg_client *c,
                             enum seg_rate_class rc, double now)
{
    const struct rate_limit *b = &c->cls[rc];
    double t = now + log_ready_in(b, now);
    return b->paused_until > t ? b->paused_until : t;
}

/* The rate class whose next job runs next: of the classes that may start
 * a request now, the one whose best job has the highest priority (then
 * the oldest); -1 when none.  *earliest becomes when a class that holds a
 * job but may not start it now could. */
static int pick_class(const struct seg_client *c, double now,
                      double *earliest)
{
    int best = -1;
    for (int rc = 0; rc < SEGRC__COUNT; rc++) {
        const struct seg_job *j = heap_top(&c->ready[rc]);
        if (!j)
            continue;
        double at = class_ready_at(c, (enum seg_rate_class)rc, now);
        if (at > now) {
            if (at < *earliest)
                *earliest = at;
            continue;
        }
        if (best < 0 || job_before(&c->ready[rc], j,
                                   heap_top(&c->ready[best])))
            best = rc;
    }
    return best;
}

double seg_client_tick(struct seg_client *c)
{
    double now = mono_s(c);

    for (int rc = 0; rc < SEGRC__COUNT; rc++) {
        limit_recover(c, &c->cls[rc], (enum seg_rate_class)rc, now);
        log_prune(&c->cls[rc], now);
    }
    log_prune(&c->total, now);
    /* Jobs whose back-off is over join their class. */
    while (c->delayed.n && heap_top(&c->delayed)->not_before <= now) {
        struct seg_job *j = heap_pop(&c->delayed);
        heap_push(&c->ready[j->rc], j);
    }

    /* Start everything the budget and the concurrency allow: every
     * request is written to the send logs as it starts, so the next
     * round sees it. */
    double earliest = INFINITY;
    while (c->in_flight < c->o.max_concurrency) {
        double total_in = log_ready_in(&c->total, now);
        earliest = INFINITY;
        int rc = pick_class(c, now, &earliest);
        if (rc < 0)
            break;
        if (total_in > 0) {
            /* A class could go, but the workspace's window is full. */
            earliest = now + total_in;
            break;
        }
        struct seg_job *j = heap_pop(&c->ready[rc]);
        log_push(&c->total, now);
        log_push(&c->cls[rc], now);
        start_job(c, j);
    }
    if (c->delayed.n && heap_top(&c->delayed)->not_before < earliest)
        earliest = heap_top(&c->delayed)->not_before;
    if (queued(c) == 0)
        return c->in_flight == 0 ? 3600 : 1.0;
    if (c->in_flight >= c->o.max_concurrency)
        return 1.0;
    return isfinite(earliest) ? (earliest - now > 0 ? earliest - now : 0) : 1.0;
}

void seg_client_cancel_queued(struct seg_client *c)
{
    fail_queue(c, SEG_CANCELLED, "cancelled");
}

int seg_client_in_flight(const struct seg_client *c)
{
    return c->in_flight;
}

bool seg_client_idle(const struct seg_client *c)
{
    return queued(c) == 0 && c->in_flight == 0;
}

void seg_client_stats(const struct seg_client *c, struct seg_client_stats *out)
{
    *out = c->st;
    out->in_flight = c->in_flight;
    out->queued = queued(c);
    double now = mono_s(c);
    for (int rc = 0; rc < SEGRC__COUNT; rc++) {
        const struct rate_limit *b = &c->cls[rc];
        out->class_budget[rc] = limited(b) ? b->per_min * b->rate_factor
                                                  : 0;
        out->class_paused_for_s[rc] = b->paused_until > now
                                          ? b->paused_until - now : 0;
    }
    out->effective_budget = c->o.request_budget *
                            c->cls[SEGRC_GENERAL].rate_factor;
    out->paused_for_s = out->class_paused_for_s[SEGRC_GENERAL];
}
