/*
 * sim_http.c - libmicrohttpd glue: per-request flow is
 *   route -> auth (401) -> rate limits (429) -> forbidden (403) -> fault
 *   draw -> latency sleep -> endpoint handler -> fault rewrite -> headers
 *   -> stats.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "sim_api.h"
#include "sim_http.h"
#include "sim_model.h"
#include "sim_stats.h"

struct sim_server {
    const struct scenario *sc;
    const struct clock *clock;
    struct MHD_Daemon *daemon;
    uint16_t port;
    pthread_mutex_t lock;       /* guards the rate windows and the rng */
    int64_t rl_minute;          /* fixed window: index of the window */
    int64_t vol_window;         /* the same for volume_rate_limit */
    long vol_consumed;
    struct { char *uri; long n; } *seen;    /* fail_first counters */
    size_t nseen, seen_cap;
    long rl_consumed;
    struct rng rng;             /* faults and jitter, seeded from the seed */
};

/* Per request, created by the URI logger so the raw query string is kept. */
struct sim_req {
    char *uri;
    bool started;
    bool api;                   /* counted in stats_begin() */
};

/* Set on shutdown so sleeping handlers give up at once. */
static atomic_int stopping;

/* Sleep real seconds (the caller converts scenario time). */
static void sim_sleep(double seconds)
{
    int64_t end = now_mono_ms() + (int64_t)llround(seconds * 1000);
    while (!atomic_load(&stopping)) {
        int64_t left = end - now_mono_ms();
        if (left <= 0)
            break;
        if (left > 50)
            left = 50;
        struct timespec ts = { 0, (long)left * 1000000L };
        nanosleep(&ts, NULL);
    }
}

/* ---- rate limit -------------------------------------------------------- */

struct rl_state {
    bool enabled, limited;
    long consumed, remaining;
    double reset;               /* unix seconds, end of the window */
};

/* Take a point from a fixed window (*window_idx, *consumed) of limit. */
static void rl_count(struct sim_server *srv, double now, long limit,
                     int64_t *window_idx, long *consumed,
                     struct rl_state *out)
{
    double window = srv->sc->rate_window_s;
    int64_t idx = (int64_t)floor(now / window);
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&srv->lock);
    if (idx != *window_idx) {
        *window_idx = idx;
        *consumed = 0;
    }
    out->consumed = ++*consumed;
    pthread_mutex_unlock(&srv->lock);
    out->enabled = limit > 0;
    out->remaining = limit > out->consumed ? limit - out->consumed : 0;
    out->reset = (double)(idx + 1) * window;
    out->limited = limit > 0 && out->consumed > limit;
}

/*
 * Every request takes a point of the workspace limit; an /events/volume
 * request also takes one of volume_rate_limit, a bucket of its own (as
 * Segment documents 60 per minute for that endpoint).  The headers show
 * the bucket that decided: the volume one for volume requests.
 */
static void rl_take(struct sim_server *srv, enum sim_endpoint ep, double now,
                    struct rl_state *out)
{
    rl_count(srv, now, srv->sc->rate_limit, &srv->rl_minute,
             &srv->rl_consumed, out);
    if (out->limited || ep != EP_VOLUME || srv->sc->volume_rate_limit <= 0)
        return;
    rl_count(srv, now, srv->sc->volume_rate_limit, &srv->vol_window,
             &srv->vol_consumed, out);
}

static void reply_429(struct sim_reply *r, const struct rl_state *rl,
                      double now)
{
    long ms = (long)ceil((rl->reset - now) * 1000);
    struct strbuf *sb = &r->body;
    r->status = 429;
    r->content_type = "application/json";
    strbuf_reset(sb);
    jw_open(sb, NULL, '{');
    jw_open(sb, "errors", '[');
    jw_open(sb, NULL, '{');
    jw_str(sb, "type", "RequestError");
    jw_str(sb, "message", "Too many requests");
    jw_open(sb, "data", '{');
    jw_int(sb, "remainingPoints", 0);
    jw_int(sb, "msBeforeNext", ms < 1 ? 1 : ms);
    jw_int(sb, "consumedPoints", rl->consumed);
    jw_close(sb, '}');
    jw_close(sb, '}');
    jw_close(sb, ']');
    jw_close(sb, '}');
}

/* ---- faults ------------------------------------------------------------ */

static int pick_fault(struct sim_server *srv, const char *path,
                      struct rng *detail)
{
    const struct sim_faults *f = &srv->sc->faults;
    double sum = 0;
    for (int i = 0; i < SIM_FAULT_COUNT; i++)
        sum += f->share[i];
    if (sum <= 0)
        return -1;
    bool match = f->n_paths == 0;
    for (size_t i = 0; i < f->n_paths && !match; i++)
        match = glob_match(f->paths[i], path);
    if (!match)
        return -1;
    double u = rng_uniform(detail), acc = 0;
    for (int i = 0; i < SIM_FAULT_COUNT; i++) {
        acc += f->share[i];
        if (u < acc)
            return i;
    }
    return -1;
}

/* fail_first: how many times this exact URL was asked for, this one
 * included. */
static long seen_count(struct sim_server *srv, const char *uri)
{
    long n = 0;
    pthread_mutex_lock(&srv->lock);
    for (size_t i = 0; i < srv->nseen; i++) {
        if (strcmp(srv->seen[i].uri, uri) == 0) {
            n = ++srv->seen[i].n;
            break;
        }
    }
    if (n == 0) {
        XGROW(srv->seen, srv->nseen + 1, srv->seen_cap);
        srv->seen[srv->nseen].uri = xstrdup(uri);
        srv->seen[srv->nseen].n = n = 1;
        srv->nseen++;
    }
    pthread_mutex_unlock(&srv->lock);
    return n;
}

static bool fault_path(const struct sim_faults *f, const char *path)
{
    bool match = f->n_paths == 0;
    for (size_t i = 0; i < f->n_paths && !match; i++)
        match = glob_match(f->paths[i], path);
    return match;
}

static const char html_502[] =
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><center><h1>502 Bad Gateway</h1></center><hr>"
    "<center>segalert-sim</center></body></html>\n";

static const char html_200[] =
    "<!DOCTYPE html>\n<html><head><title>Segment</title></head>\n"
    "<body><p>We're sorry, something went wrong. Please try again "
    "later.</p></body></html>\n";

static void set_body(struct sim_reply *r, int status, const char *ctype,
                     const char *body)
{
    r->status = status;
    r->content_type = ctype;
    strbuf_reset(&r->body);
    strbuf_adds(&r->body, body);
}

/* Rewrite a finished reply according to the fault drawn for it. */
static void apply_fault(int fault, struct sim_reply *r, struct rng *detail)
{
    switch (fault) {
    case SIM_FAULT_ERROR_5XX:
        switch (rng_next(detail) % 3) {
        case 0:
            sim_reply_error(r, 500, "InternalServerError",
                            "Internal server error", NULL);
            break;
        case 1:
            set_body(r, 502, "text/html", html_502);
            break;
        default:
            set_body(r, 503, "text/plain",
                     "upstream connect error or disconnect/reset before "
                     "headers. reset reason: overflow");
            break;
        }
        break;
    case SIM_FAULT_GARBAGE: {
        size_t n = 64 + rng_next(detail) % 448;
        r->status = 200;
        r->content_type = "application/json";
        strbuf_reset(&r->body);
        for (size_t i = 0; i < n; i++)
            strbuf_addc(&r->body, (char)(rng_next(detail) & 0xff));
        break;
    }
    case SIM_FAULT_TRUNCATED:
        r->status = 200;
        r->body.len /= 2;
        if (r->body.buf)
            r->body.buf[r->body.len] = '\0';
        break;
    case SIM_FAULT_ERROR_422:
        sim_reply_error(r, 422, "ValidationFailure", "Invalid date/time "
                        "range: injected by segalert-sim", "startTime");
        break;
    case SIM_FAULT_HTML:
        if (rng_next(detail) % 2)
            set_body(r, 502, "text/html", html_502);
        else
            set_body(r, 200, "text/html", html_200);
        break;
    default:
        break;
    }
}

/* ---- MHD callbacks ----------------------------------------------------- */

static bool auth_ok(struct MHD_Connection *conn, const char *token)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    return strcmp(h, token) == 0;
}

static enum MHD_Result queue(struct MHD_Connection *conn,
                             const struct sim_reply *r,
                             const struct rl_state *rl)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->body.len, (void *)strbuf_str(&r->body), MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type",
                            r->content_type ? r->content_type
                                            : "application/json");
    if (rl && rl->enabled) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%ld", rl->consumed);
        MHD_add_response_header(resp, "X-RateLimit-Consumed", buf);
        snprintf(buf, sizeof(buf), "%ld", rl->remaining);
        MHD_add_response_header(resp, "X-RateLimit-Remaining", buf);
        model_format_rfc5322(rl->reset, buf, sizeof(buf));
        MHD_add_response_header(resp, "X-RateLimit-Reset", buf);
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Split the raw request target into a decoded path and the raw query. */
static char *split_uri(const char *uri, const char **query)
{
    const char *p = uri;
    /* absolute-form "http://host/path" */
    const char *scheme = p[0] != '/' ? strstr(p, "://") : NULL;
    if (scheme) {
        p = strchr(scheme + 3, '/');
        if (!p)
            p = "/";
    }
    const char *q = strchr(p, '?');
    *query = q ? q + 1 : NULL;
    return sim_url_decode(p, q ? (size_t)(q - p) : strlen(p));
}

static enum MHD_Result serve_sim(struct MHD_Connection *conn,
                                 const char *path, const char *method)
{
    struct sim_reply r = { 0 };
    enum MHD_Result ret;
    if (strcmp(path, "/sim/stats") == 0 && strcmp(method, "GET") == 0) {
        r.status = 200;
        r.content_type = "application/json";
        stats_json(&r.body);
    } else if (strcmp(path, "/sim/reset-stats") == 0 &&
               strcmp(method, "POST") == 0) {
        stats_reset();
        set_body(&r, 200, "application/json", "{\"ok\":true}");
    } else {
        sim_reply_error(&r, 404, "NotFound", "Resource not found", NULL);
    }
    ret = queue(conn, &r, NULL);
    strbuf_free(&r.body);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    struct sim_server *srv = cls;
    const struct scenario *sc = srv->sc;
    struct sim_req *rq = *con_cls;
    const char *query;

    if (!rq) {                  /* no URI logger call: should not happen */
        rq = xcalloc(1, sizeof(*rq));
        rq->uri = xstrdup(url);
        *con_cls = rq;
    }
    if (!rq->started) {
        rq->started = true;
        rq->api = !str_has_prefix(rq->uri, "/sim/");
        if (rq->api)
            stats_begin();
        return MHD_YES;         /* answer once the (ignored) body is read */
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }

    char *path = split_uri(rq->uri, &query);
    if (str_has_prefix(path, "/sim/")) {
        enum MHD_Result ret = serve_sim(conn, path, method);
        free(path);
        return ret;
    }

    double now = clock_wall(srv->clock);
    int64_t t0 = now_mono_ms();         /* real: for the debug log */
    enum sim_endpoint ep = sim_api_route(path);
    struct sim_reply r = { 0 };
    struct rl_state rl = { 0 };
    struct rng detail;
    int fault = -1;

    pthread_mutex_lock(&srv->lock);
    rng_seed(&detail, rng_next(&srv->rng));
    pthread_mutex_unlock(&srv->lock);

    if (!auth_ok(conn, sc->token)) {
        sim_reply_error(&r, 401, "Unauthorized", "Unauthorized", NULL);
        stats_arrival(true);
    } else {
        rl_take(srv, ep, now, &rl);
        stats_arrival(!rl.limited);
        if (rl.limited)
            reply_429(&r, &rl, now);
        else if (sim_globs_match(sc->faults.forbidden,
                                 sc->faults.n_forbidden, path))
            sim_reply_error(&r, 403, "Forbidden", "The token does not have "
                            "the permission this endpoint needs", NULL);
        else
            fault = pick_fault(srv, path, &detail);
        if (r.status == 0 && sc->faults.fail_first > 0 &&
            fault_path(&sc->faults, path)) {
            long n = seen_count(srv, rq->uri);
            if (n <= sc->faults.fail_first) {
                static const int cycle[] = { SIM_FAULT_ERROR_5XX,
                    SIM_FAULT_GARBAGE, SIM_FAULT_TRUNCATED, SIM_FAULT_HTML };
                fault = cycle[(n - 1) % 4];
            }
        }
    }

    double delay = sc->latency_s + sc->latency_jitter_s * rng_uniform(&detail);
    if (fault == SIM_FAULT_SLOW)
        delay += sc->faults.slow_for_s;
    if (delay > 0)
        sim_sleep(clock_real_delay(srv->clock, delay));

    if (fault == SIM_FAULT_DROP) {
        stats_record(ep, 0);
        log_debug("sim: %s %s -> dropped", method, rq->uri);
        strbuf_free(&r.body);
        free(path);
        return MHD_NO;
    }
    if (r.status == 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            sim_reply_error(&r, 405, "MethodNotAllowed",
                            "Only GET is supported", NULL);
        else
            sim_api_handle(sc, path, query, clock_wall(srv->clock), &r);
        apply_fault(fault, &r, &detail);
    }
    enum MHD_Result ret = queue(conn, &r, &rl);
    stats_record(ep, r.status);
    log_debug("sim: %s %s -> %d (%lld ms)", method, rq->uri, r.status,
              (long long)(now_mono_ms() - t0));
    strbuf_free(&r.body);
    free(path);
    return ret;
}

static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct sim_req *rq = xcalloc(1, sizeof(*rq));
    rq->uri = xstrdup(uri ? uri : "/");
    return rq;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct sim_req *rq = *con_cls;
    if (!rq)
        return;
    if (rq->api && rq->started)
        stats_end();
    free(rq->uri);
    free(rq);
    *con_cls = NULL;
}

struct sim_server *sim_server_start(const struct scenario *sc,
                                    const struct clock *clock,
                                    const char *addr, uint16_t port,
                                    char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    memset(&ss, 0, sizeof(ss));
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
            goto bad_addr;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
            goto bad_addr;
    }
    if (log_enabled(LOG_DEBUG))
        flags |= MHD_USE_ERROR_LOG;

    struct sim_server *srv = xcalloc(1, sizeof(*srv));
    srv->sc = sc;
    srv->clock = clock;
    srv->rl_minute = -1;
    srv->vol_window = -1;
    pthread_mutex_init(&srv->lock, NULL);
    rng_seed(&srv->rng, sc->seed ^ 0xFA17ULL);
    atomic_store(&stopping, 0);
    stats_init(clock);
    srv->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, handler, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_URI_LOG_CALLBACK, uri_logger, srv,
        MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%u (address in use?)",
                 addr, (unsigned)port);
        pthread_mutex_destroy(&srv->lock);
        free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : port;
    return srv;

bad_addr:
    snprintf(err, errlen, "invalid listen address '%s' (want an IP literal "
             "such as 127.0.0.1)", addr);
    return NULL;
}

uint16_t sim_server_port(const struct sim_server *srv)
{
    return srv->port;
}

void sim_server_stop(struct sim_server *srv)
{
    if (!srv)
        return;
    atomic_store(&stopping, 1);
    MHD_stop_daemon(srv->daemon);
    for (size_t k = 0; k < srv->nseen; k++)
        free(srv->seen[k].uri);
    free(srv->seen);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
    stats_free();
}
