/*
 * exporter.c - see exporter.h.
 */
#include "export/exporter.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "export/cursor.h"
#include "export/gzip.h"
#include "export/intake.h"
#include "export/names.h"

/* How much of an intake's answer is read. */
#define EXPORT_MAX_ANSWER_BYTES (64u << 10)

struct exporter {
    char *name;
    const struct export_cfg *xc;    /* NULL once detached */
    const struct config *cfg;
    const struct export_intake *in;
    struct export_limits lim;
    struct http_transport tr;
    const struct clock *clock;

    struct export_ring ring;
    struct export_cursor *cursor;
    uint64_t next_seq;              /* seq of the next point queued */
    uint64_t covered_seq;           /* points below it are covered by the
                                       saved cursor */

    /* the batch of the request in flight, or waiting for its retry */
    struct export_point *batch;
    size_t nbatch, batch_cap;
    struct http_request *req;       /* in flight */
    size_t batch_limit;             /* lowered by 413 answers */
    bool draining;                  /* a round: send until the queue is
                                       empty */
    bool force;                     /* exporter_flush */
    double next_round;              /* next interval tick */
    double next_attempt;            /* back-off: no request before */
    double backoff_s;
    struct strbuf body, raw;        /* scratch: encoded, compressed */

    struct exporter_stats st;
    struct exporter_answer answer;
    struct log_complaint complaint;
};

static const char *const drop_names[EXPORT_DROP__COUNT] = {
    [EXPORT_DROP_BUFFER_FULL] = "buffer_full",
    [EXPORT_DROP_TOO_OLD] = "too_old",
    [EXPORT_DROP_OVERLAP] = "overlap",
};

const char *export_drop_name(enum export_drop d)
{
    return (unsigned)d < EXPORT_DROP__COUNT ? drop_names[d] : "?";
}

/* ---- configuration ----------------------------------------------------------- */

static size_t batch_size(const struct exporter *x)
{
    size_t b = x->xc && x->xc->batch_points ? x->xc->batch_points
                                            : x->lim.batch_points;
    if (x->batch_limit && x->batch_limit < b)
        b = x->batch_limit;
    return b ? b : 1;
}

void exporter_set_config(struct exporter *x, const struct export_cfg *xc,
                         const struct config *cfg)
{
    x->xc = xc;
    x->cfg = cfg;
    x->in = export_intake_of(xc->type);
    memset(&x->lim, 0, sizeof(x->lim));
    if (x->in)
        x->in->limits(xc, &x->lim);
    x->st.type = export_type_name(xc->type);
    x->st.dropped[EXPORT_DROP_BUFFER_FULL] +=
        export_ring_set_cap(&x->ring, xc->buffer_points);
}

void exporter_detach(struct exporter *x)
{
    x->xc = NULL;
    x->cfg = NULL;
}

struct exporter *exporter_new(const struct export_cfg *xc,
                              const struct config *cfg,
                              const struct http_transport *tr,
                              const struct clock *clock, const char *dir,
                              double now)
{
    struct exporter *x = xcalloc(1, sizeof(*x));
    x->name = xstrdup(xc->name);
    x->st.name = x->name;
    x->tr = *tr;
    x->clock = clock ? clock : clock_system();
    export_ring_init(&x->ring, xc->buffer_points);
    exporter_set_config(x, xc, cfg);
    char err[512];
    x->cursor = export_cursor_open(dir, x->name, now, err, sizeof(err));
    if (err[0])
        log_err("%s", err);
    x->next_round = now + xc->interval_s;
    return x;
}

void exporter_free(struct exporter *x)
{
    if (!x)
        return;
    export_ring_free(&x->ring);
    export_cursor_free(x->cursor);
    free(x->batch);
    strbuf_free(&x->body);
    strbuf_free(&x->raw);
    free(x->name);
    free(x);
}

const char *exporter_name(const struct exporter *x)
{
    return x->name;
}

const struct exporter_answer *exporter_last_answer(const struct exporter *x)
{
    return &x->answer;
}

/* ---- queueing -------------------------------------------------------------------- */

static bool wants_workspace(const struct exporter *x,
                            const struct labelset *ls)
{
    const char *ws = labelset_get(ls, "workspace");
    if (!ws || !x->xc)
        return x->xc != NULL;
    for (size_t i = 0; i < x->xc->workspaces.n; i++)
        if (glob_match(x->xc->workspaces.items[i], ws))
            return true;
    return false;
}

/* Make room for one point: `buffer` bounds the queue AND the batch that
 * waits for its retry, so the oldest point goes - the batch's first while
 * it waits, else the queue's first (a batch in flight cannot shrink). */
static void make_room(struct exporter *x)
{
    if (x->ring.n + x->nbatch < x->ring.cap)
        return;
    if (x->nbatch && !x->req) {
        memmove(&x->batch[0], &x->batch[1],
                (x->nbatch - 1) * sizeof(x->batch[0]));
        x->nbatch--;
        x->st.dropped[EXPORT_DROP_BUFFER_FULL]++;
    } else if (x->ring.n) {
        struct export_point gone;
        export_ring_take(&x->ring, &gone, 1);
        x->st.dropped[EXPORT_DROP_BUFFER_FULL]++;
    }
}

static void queue(struct exporter *x, const struct export_point *p,
                  double now)
{
    struct export_point q = *p;
    q.queued_at = now;
    q.seq = x->next_seq++;
    x->st.queued++;
    make_room(x);
    x->st.dropped[EXPORT_DROP_BUFFER_FULL] += export_ring_push(&x->ring, &q);
}

void exporter_offer(struct exporter *x, const struct ledger_out *o,
                    double now)
{
    if (!o->n || !wants_workspace(x, o->p[0].labels))
        return;
    double from = export_cursor_get(x->cursor, o->key);
    double floor_t = export_cursor_floor(x->cursor);
    if (floor_t > from)
        from = floor_t;
    double end = 0;
    for (size_t i = 0; i < o->n; i++) {
        const struct export_point *p = &o->p[i];
        if (export_metric_table[p->metric].kind == EXK_COUNT) {
            /* whole seconds: a tolerance for the float round trip of the
             * cursor file */
            if (p->t < from - 1e-3) {
                /* exported already (a re-read after a restart), or -
                 * straddling the cursor - impossible to export without
                 * counting part of it twice */
                if (p->t + p->interval_s > from + 1e-3)
                    x->st.dropped[EXPORT_DROP_OVERLAP]++;
                continue;
            }
            if (p->t + p->interval_s > end)
                end = p->t + p->interval_s;
        }
        queue(x, p, now);
    }
    if (end > 0 && end > export_cursor_get(x->cursor, o->key))
        export_cursor_set(x->cursor, o->key, end);
}

void exporter_offer_gauges(struct exporter *x, const struct export_point *p,
                           size_t n, double now)
{
    for (size_t i = 0; i < n; i++)
        if (wants_workspace(x, p[i].labels))
            queue(x, &p[i], now);
}

/* ---- sending ------------------------------------------------------------------------ */

static void set_error(struct exporter *x, const char *fmt, ...)
    PRINTF_LIKE(2, 3);
static void set_error(struct exporter *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->st.last_error, sizeof(x->st.last_error), fmt, ap);
    va_end(ap);
}

void exporter_save_cursor(struct exporter *x, double now)
{
    if (!export_cursor_dirty(x->cursor)) {
        x->covered_seq = x->next_seq;
        return;
    }
    char err[512];
    if (export_cursor_save(x->cursor, now, err, sizeof(err)) != 0)
        /* Sending anyway: losing the data for sure is worse than the
         * chance of a repeat after a crash. */
        log_complain(&x->complaint, LOG_ERR, "export: %s: %s", x->name, err);
    x->covered_seq = x->next_seq;
}

/* Drop the batch's points that the intake would refuse as too old. */
static void drop_too_old(struct exporter *x, double now)
{
    if (!(x->lim.max_age_s > 0))
        return;
    size_t k = 0;
    for (size_t i = 0; i < x->nbatch; i++) {
        const struct export_point *p = &x->batch[i];
        /* a count is stamped at its start */
        if (p->t < now - x->lim.max_age_s)
            x->st.dropped[EXPORT_DROP_TOO_OLD]++;
        else
            x->batch[k++] = *p;
    }
    x->nbatch = k;
}

/* Give the batch's points [from, nbatch) back to the queue. */
static void give_back(struct exporter *x, size_t from)
{
    if (from >= x->nbatch)
        return;
    x->st.dropped[EXPORT_DROP_BUFFER_FULL] +=
        export_ring_unshift(&x->ring, &x->batch[from], x->nbatch - from);
    x->nbatch = from;
}

static void on_done(struct http_request *r, void *ud);

/* Encode x->batch into the request body within the intake's limits,
 * giving back what does not fit; false when nothing is left to send. */
static bool build_body(struct exporter *x, double now, bool *gz)
{
    struct export_encode_ctx ctx = { x->xc, x->cfg, now, NULL, NULL };
    size_t max_body = x->lim.max_body ? x->lim.max_body : SIZE_MAX;
    *gz = x->xc->gzip;
    if (!*gz && x->lim.max_wire && x->lim.max_wire < max_body)
        max_body = x->lim.max_wire;
    for (;;) {
        strbuf_reset(&x->raw);
        size_t k = x->in->encode(&ctx, x->batch, x->nbatch, max_body,
                                 &x->raw);
        give_back(x, k);
        if (!*gz)
            return x->nbatch > 0;
        if (export_gzip(x->raw.buf, x->raw.len, &x->body) != 0) {
            *gz = false;        /* send it plain rather than not at all */
            return x->nbatch > 0;
        }
        if (!x->lim.max_wire || x->body.len <= x->lim.max_wire ||
            x->nbatch <= 1)
            return x->nbatch > 0;
        give_back(x, x->nbatch / 2);
    }
}

static void submit(struct exporter *x, double now)
{
    bool gz;
    drop_too_old(x, now);
    if (!x->nbatch || !build_body(x, now, &gz)) {
        x->nbatch = 0;
        return;
    }
    /* write-ahead: the cursor covers every point before it leaves */
    for (size_t i = 0; i < x->nbatch; i++)
        if (x->batch[i].seq >= x->covered_seq) {
            exporter_save_cursor(x, now);
            break;
        }
    struct strbuf url = STRBUF_INIT;
    x->in->url(x->xc, &url);
    struct http_request *r = http_request_new(strbuf_str(&url));
    r->method = "POST";
    const struct strbuf *payload = gz ? &x->body : &x->raw;
    strbuf_add(&r->post_body, payload->buf ? payload->buf : "",
               payload->len);
    http_request_add_header(r, "Content-Type: %s", x->in->content_type);
    if (gz)
        http_request_add_header(r, "Content-Encoding: gzip");
    struct str_list auth = { NULL, 0 };
    if (x->in->auth)
        x->in->auth(x->xc, &auth);
    for (size_t i = 0; i < auth.n; i++)
        http_request_add_header(r, "%s", auth.items[i]);
    str_list_free(&auth);
    for (size_t i = 0; i < x->xc->headers.n; i++)
        http_request_add_header(r, "%s: %s", x->xc->headers.items[i].key,
                                x->xc->headers.items[i].value);
    r->timeout_ms = (long)(x->xc->timeout_s * 1000);
    r->max_body = EXPORT_MAX_ANSWER_BYTES;
    r->done = on_done;
    r->ud = x;

    memset(&x->answer, 0, sizeof(x->answer));
    x->answer.points = x->nbatch;
    x->answer.bytes = payload->len;
    x->answer.gzip = gz;
    snprintf(x->answer.url, sizeof(x->answer.url), "%s", strbuf_str(&url));
    strbuf_free(&url);
    x->st.last_attempt = now;
    x->st.bytes_encoded += x->raw.len;
    x->req = r;
    if (x->tr.submit(x->tr.ud, r) != 0) {
        x->req = NULL;
        set_error(x, "cannot start the request: %s", r->error);
        http_request_free(r);
        x->backoff_s = EXPORT_BACKOFF_MIN_S;
        x->next_attempt = now + x->backoff_s;
    }
}

static void back_off(struct exporter *x, double now, double retry_after)
{
    x->backoff_s = x->backoff_s > 0 ? x->backoff_s * 2 : EXPORT_BACKOFF_MIN_S;
    if (x->backoff_s > EXPORT_BACKOFF_MAX_S)
        x->backoff_s = EXPORT_BACKOFF_MAX_S;
    double wait = retry_after > x->backoff_s ? retry_after : x->backoff_s;
    x->next_attempt = now + wait;
    x->st.next_attempt = x->next_attempt;
}

static void on_done(struct http_request *r, void *ud)
{
    struct exporter *x = ud;
    x->req = NULL;
    double now = clock_wall(x->clock);
    struct exporter_answer *a = &x->answer;
    a->done = true;
    a->status = r->status;
    a->curl_code = r->curl_code;
    snprintf(a->curl_error, sizeof(a->curl_error), "%s", r->error);
    snprintf(a->body, sizeof(a->body), "%.*s",
             (int)(r->body.len < sizeof(a->body) - 1 ? r->body.len
                                                      : sizeof(a->body) - 1),
             r->body.buf ? r->body.buf : "");
    if (r->curl_code == CURLE_ABORTED_BY_CALLBACK || !x->xc) {
        /* shutdown, reload or a retired exporter: keep the points */
        give_back(x, 0);
        http_request_free(r);
        return;
    }
    size_t rejected = 0;
    struct delivery_verdict *v = &a->verdict;
    if (x->in->classify)
        x->in->classify(r, now, v, &rejected);
    else
        export_classify_common(r, now, v, &rejected);
    a->rejected = rejected;
    size_t n = x->nbatch;
    switch (v->outcome) {
    case DELIVERY_OK:
        x->st.requests_ok++;
        x->st.bytes_sent += a->bytes;
        if (rejected > n)
            rejected = n;
        x->st.sent += n - rejected;
        x->st.failed += rejected;
        x->st.last_ok = now;
        x->st.up = true;
        x->st.next_attempt = 0;
        x->nbatch = 0;
        x->backoff_s = 0;
        x->next_attempt = 0;
        if (rejected) {
            set_error(x, "%s", v->reason);
            log_warn("export: %s: %s", x->name, v->reason);
        } else {
            x->st.last_error[0] = '\0';
        }
        log_release(&x->complaint, "export: %s: %s accepts points again",
                    x->name, x->st.type);
        break;
    case DELIVERY_RETRY:
        x->force = false;       /* a flush tries once */
        x->st.requests_retried++;
        x->st.up = false;
        set_error(x, "%s", v->reason);
        log_complain(&x->complaint, LOG_WARN, "export: %s: %s; %zu points "
                     "kept for a retry", x->name, v->reason,
                     n + x->ring.n);
        back_off(x, now, v->retry_after_s);
        break;
    case DELIVERY_PERMANENT:
        x->st.up = false;
        set_error(x, "%s", v->reason);
        if (r->status == 413 && n > 1) {
            /* too large after all: the same points in smaller batches */
            x->batch_limit = n / 2;
            give_back(x, 0);
            x->st.requests_retried++;
            break;
        }
        x->force = false;
        x->st.requests_failed++;
        x->st.failed += n;
        x->nbatch = 0;
        log_complain(&x->complaint, LOG_ERR, "export: %s: %s; %zu points "
                     "dropped (not retried)", x->name, v->reason, n);
        back_off(x, now, v->retry_after_s);
        break;
    }
    http_request_free(r);
}

/* Take the next batch from the queue and send it. */
static void send_next(struct exporter *x, double now)
{
    size_t want = batch_size(x);
    if (x->batch_cap < want) {
        x->batch = xrealloc(x->batch, want * sizeof(*x->batch));
        x->batch_cap = want;
    }
    x->nbatch = export_ring_take(&x->ring, x->batch, want);
    submit(x, now);
}

double exporter_tick(struct exporter *x, double now)
{
    if (!x->xc || !x->in)
        return INFINITY;
    if (now >= x->next_round) {
        x->draining = true;
        x->next_round = now + x->xc->interval_s;
    }
    if (x->req)
        return x->next_round;
    bool backing_off = now < x->next_attempt && !x->force;
    if (!backing_off) {
        if (x->nbatch) {
            submit(x, now);     /* the batch of a failed request */
        } else if (x->ring.n && (x->draining || x->force ||
                                 x->ring.n >= batch_size(x))) {
            send_next(x, now);
        }
    }
    if (!x->req && !x->nbatch && !x->ring.n) {
        x->draining = false;
        x->force = false;
    }
    if (x->req)
        return x->next_round;
    if (backing_off && (x->nbatch || x->ring.n))
        return x->next_attempt < x->next_round ? x->next_attempt
                                               : x->next_round;
    if (x->nbatch || (x->ring.n && x->draining))
        return now;     /* more to send at once */
    return x->next_round;
}

void exporter_flush(struct exporter *x, double now)
{
    x->force = true;
    x->draining = true;
    exporter_tick(x, now);
}

bool exporter_busy(const struct exporter *x)
{
    return x->req != NULL;
}

size_t exporter_pending(const struct exporter *x)
{
    return x->ring.n + x->nbatch;
}

void exporter_stats(const struct exporter *x, double now,
                    struct exporter_stats *out)
{
    *out = x->st;
    out->buffered = x->ring.n + x->nbatch;
    out->in_flight = x->req != NULL;
    double oldest = INFINITY;
    for (size_t i = 0; i < x->nbatch; i++)
        if (x->batch[i].queued_at < oldest)
            oldest = x->batch[i].queued_at;
    if (x->ring.n && export_ring_at(&x->ring, 0)->queued_at < oldest)
        oldest = export_ring_at(&x->ring, 0)->queued_at;
    out->lag_s = isfinite(oldest) && now > oldest ? now - oldest : 0;
}
