/*
 * httpd.c - see httpd.h.
 *
 * libmicrohttpd calls the access handler several times per request: once
 * when the headers are in (we route, authorise and answer everything that
 * needs no body right there), then once per chunk of body, then once more
 * with no data when the body is complete.  Only POST /api/v1/silences
 * reads a body (parsed by silence_api.c).  What the main loop made of a
 * control command comes back as a code (control.h), mapped to an HTTP
 * status here.
 */
#include "server/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/log.h"
#include "notify/silence.h"
#include "server/api_json.h"
#include "server/conns.h"
#include "server/control.h"
#include "server/html.h"
#include "server/http_guard.h"
#include "server/prom.h"
#include "server/silence_api.h"
#include "server/snapshot.h"

/* How often the watchdog looks at deadlines. */
#define HTTPD_SWEEP_INTERVAL_MS 100
/* Distinct libmicrohttpd messages rate-limited separately (more share the
 * last slot). */
#define HTTPD_LOG_SLOTS 16

struct httpd {
    struct MHD_Daemon *mhd;
    const struct clock *clock;      /* the daemon's, for silence times */
    char *admin_token;
    bool lifecycle;
    bool loopback;
    int port;
    char *listen;
    struct http_guard *guard;
    struct conns *conns;
    atomic_bool stopping;
    atomic_bool drain_done;
    /* the watchdog */
    pthread_t watchdog;
    bool watchdog_running;
    pthread_mutex_t wd_mu;
    pthread_cond_t wd_cv;
    bool wd_stop;
    /* libmicrohttpd's messages ("reached connection limit"), one
     * complaint per format string */
    pthread_mutex_t log_mu;
    struct {
        const char *fmt;
        struct log_complaint c;
    } log_slots[HTTPD_LOG_SLOTS];
};

static double mono_s(void)
{
    return (double)now_mono_ms() / 1000.0;
}

enum route {
    R_NONE = 0,
    R_ROOT,
    R_METRICS,
    R_ALERTS,
    R_RULES,
    R_STATUS,
    R_SILENCES,
    R_SILENCE_ID,           /* DELETE /api/v1/silence/{id} */
    R_SILENCE_EXPIRE,       /* POST /api/v1/silences/{id}/expire */
    R_RELOAD,
    R_HEALTHY,
    R_READY,
};

/* Per-request state kept between handler calls (only for bodies). */
struct req {
    enum route route;
    struct strbuf body;
    bool too_big;
};

/* ---- listen address ---------------------------------------------------- */

static bool addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

int httpd_parse_listen(const char *listen, char *host, size_t hostlen,
                       long *port)
{
    const char *colon;
    if (!listen || !*listen)
        return -1;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return -1;
        size_t n = (size_t)(close - listen - 1);
        if (n == 0 || n >= hostlen)
            return -1;
        memcpy(host, listen + 1, n);
        host[n] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return -1;
        size_t n = (size_t)(colon - listen);
        if (n >= hostlen || memchr(listen, ':', n))
            return -1;
        memcpy(host, listen, n);
        host[n] = '\0';
    }
    if (parse_long(colon + 1, port) != 0 || *port < 0 || *port > 65535)
        return -1;
    if (streq(host, "*"))
        host[0] = '\0';
    return 0;
}

/* Resolve the host part (numeric or a name such as localhost). */
static int resolve(const char *host, long port, struct sockaddr_storage *ss,
                   socklen_t *sslen, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%ld", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve '%s': %s", host,
                 gai_strerror(rc));
        return -1;
    }
    /* "localhost" may list ::1 first; IPv4 is there on every machine,
     * IPv6 not always. */
    const struct addrinfo *pick = res;
    for (const struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    memcpy(ss, pick->ai_addr, pick->ai_addrlen);
    *sslen = pick->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* libmicrohttpd does not tell why it could not start; bind a socket the
 * same way to find out (EADDRINUSE, EACCES, EADDRNOTAVAIL...). */
static void explain_bind_failure(const struct sockaddr_storage *ss,
                                 socklen_t len, char *why, size_t whylen)
{
    int fd = socket(ss->ss_family, SOCK_STREAM, 0);
    if (fd < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) != 0)
        snprintf(why, whylen, "%s", strerror(errno));
    else
        snprintf(why, whylen, "libmicrohttpd could not start");
    close(fd);
}

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *ctype, char *body, size_t len)
{
    /* body is taken over (malloc'd) or NULL */
    struct MHD_Response *r;
    if (body)
        r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    else
        r = MHD_create_response_from_buffer(0, (void *)"",
                                            MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (str_has_prefix(ctype, "text/html")) {
        /* The page has no script and loads nothing: say so, so that an
         * escaping bug could not turn into script execution. */
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; style-src "
                                "'unsafe-inline'; img-src data:; "
                                "base-uri 'none'; form-action 'none'; "
                                "frame-ancestors 'none'");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    }
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "5");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"segalert\"");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_sb(struct MHD_Connection *c, unsigned status,
                                const char *ctype, struct strbuf *sb)
{
    size_t len = sb->len;
    return reply(c, status, ctype, strbuf_detach(sb), len);
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
                                  const char *text)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, text);
    strbuf_addc(&sb, '\n');
    return reply_sb(c, status, "text/plain; charset=utf-8", &sb);
}

static bool is_api(enum route rt)
{
    return rt == R_ALERTS || rt == R_RULES || rt == R_STATUS ||
           rt == R_SILENCES || rt == R_SILENCE_ID || rt == R_SILENCE_EXPIRE;
}

/* Errors in the form of the route: JSON for /api/v1, text elsewhere. */
static enum MHD_Result reply_error(struct MHD_Connection *c, enum route rt,
                                   unsigned status, const char *msg)
{
    if (!is_api(rt))
        return reply_text(c, status, msg);
    struct strbuf sb = STRBUF_INIT;
    api_json_error(&sb, msg);
    return reply_sb(c, status, API_JSON_CONTENT_TYPE, &sb);
}

static enum MHD_Result reply_405(struct MHD_Connection *c, enum route rt,
                                 const char *allow)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "method not allowed (allowed: %s)", allow);
    struct strbuf sb = STRBUF_INIT;
    if (is_api(rt)) {
        api_json_error(&sb, msg);
    } else {
        strbuf_adds(&sb, msg);
        strbuf_addc(&sb, '\n');
    }
    size_t len = sb.len;
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, strbuf_detach(&sb), MHD_RESPMEM_MUST_FREE);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            is_api(rt) ? API_JSON_CONTENT_TYPE
                                       : "text/plain; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- routing ------------------------------------------------------------- */

/* Path -> route; *id (a copy, caller frees) for the silence routes. */
static enum route route_of(const char *url, char **id)
{
    static const struct { const char *path; enum route rt; } fixed[] = {
        { "/", R_ROOT },
        { "/metrics", R_METRICS },
        { "/api/v1/alerts", R_ALERTS },
        { "/api/v1/rules", R_RULES },
        { "/api/v1/status", R_STATUS },
        { "/api/v1/silences", R_SILENCES },
        { "/-/reload", R_RELOAD },
        { "/-/healthy", R_HEALTHY },
        { "/-/ready", R_READY },
    };
    *id = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
        if (streq(url, fixed[i].path))
            return fixed[i].rt;
    if (str_has_prefix(url, "/api/v1/silence/")) {
        const char *p = url + strlen("/api/v1/silence/");
        if (silence_id_valid(p, strlen(p))) {
            *id = xstrdup(p);
            return R_SILENCE_ID;
        }
    }
    if (str_has_prefix(url, "/api/v1/silences/")) {
        const char *p = url + strlen("/api/v1/silences/");
        const char *slash = strchr(p, '/');
        if (slash && streq(slash, "/expire") &&
            silence_id_valid(p, (size_t)(slash - p))) {
            *id = xstrndup(p, (size_t)(slash - p));
            return R_SILENCE_EXPIRE;
        }
    }
    return R_NONE;
}

static const char *allowed_methods(enum route rt)
{
    switch (rt) {
    case R_SILENCES: return "GET, HEAD, POST";
    case R_SILENCE_ID: return "DELETE";
    case R_SILENCE_EXPIRE: return "POST";
    case R_RELOAD: return "POST, PUT";
    default: return "GET, HEAD";
    }
}

static bool method_allowed(enum route rt, const char *method)
{
    bool get = streq(method, "GET") || streq(method, "HEAD");
    switch (rt) {
    case R_SILENCES: return get || streq(method, "POST");
    case R_SILENCE_ID: return streq(method, "DELETE");
    case R_SILENCE_EXPIRE: return streq(method, "POST");
    case R_RELOAD: return streq(method, "POST") || streq(method, "PUT");
    default: return get;
    }
}

/* ---- admin token --------------------------------------------------------- */

/* Compare without an early exit, so timing does not reveal how much of
 * the token was right. */
static bool token_equal(const char *given, const char *want)
{
    size_t gl = strlen(given), wl = strlen(want);
    unsigned char diff = gl != wl;
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)(want[i] ^ (i < gl ? given[i] : 0));
    return diff == 0;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* 0 when the write may go ahead; else the reply was queued (*ret). */
static int authorise(struct httpd *h, struct MHD_Connection *c,
                     enum route rt, enum MHD_Result *ret)
{
    bool have_token = h->admin_token && *h->admin_token;
    if (h->loopback && !have_token)
        return 0;
    if (!have_token) {
        *ret = reply_error(c, rt, MHD_HTTP_FORBIDDEN,
                           "write endpoints are disabled: segalert listens "
                           "on a non-loopback address and no admin_token is "
                           "configured");
        return -1;
    }
    const char *auth = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *tok = auth + 7;
        while (*tok == ' ')
            tok++;
        if (token_equal(tok, h->admin_token))
            return 0;
    }
    *ret = reply_error(c, rt, MHD_HTTP_UNAUTHORIZED,
                       "this endpoint needs Authorization: Bearer "
                       "<admin_token>");
    return -1;
}

/* A request that changes something (http_guard.h): enabled, not from
 * another site, JSON, with the token.  0 when it may go ahead; else the
 * reply was queued (*ret). */
static int check_write(struct httpd *h, struct MHD_Connection *c,
                       enum route rt, enum MHD_Result *ret)
{
    if (rt == R_RELOAD && !h->lifecycle) {
        *ret = reply_error(c, rt, MHD_HTTP_FORBIDDEN,
                           "reloading over HTTP is disabled: set "
                           "enable_lifecycle = true in the configuration "
                           "to allow it (SIGHUP always reloads)");
        return -1;
    }
    if (!http_guard_origin_ok(header(c, "Origin"),
                              header(c, MHD_HTTP_HEADER_HOST)) ||
        !http_guard_fetch_site_ok(header(c, "Sec-Fetch-Site"))) {
        *ret = reply_error(c, rt, MHD_HTTP_FORBIDDEN,
                           "cross-origin request refused: requests that "
                           "change something may come only from this "
                           "server's own pages or from clients that send "
                           "no Origin");
        return -1;
    }
    if (!http_guard_is_json(header(c, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        *ret = reply_error(c, rt, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                           "requests that change something need "
                           "Content-Type: application/json");
        return -1;
    }
    return authorise(h, c, rt, ret);
}

/* ---- control commands --------------------------------------------------- */

/* Answer cmd without running it (the main loop is going away). */
static void refuse_shutting_down(struct control_cmd *cmd)
{
    cmd->status = CTRL_UNAVAILABLE;
    snprintf(cmd->message, sizeof(cmd->message), "segalert is shutting down");
}

static unsigned http_status_of(enum control_status st)
{
    switch (st) {
    case CTRL_OK: return MHD_HTTP_OK;
    case CTRL_INVALID: return MHD_HTTP_BAD_REQUEST;
    case CTRL_NOT_FOUND: return MHD_HTTP_NOT_FOUND;
    case CTRL_UNAVAILABLE: return MHD_HTTP_SERVICE_UNAVAILABLE;
    case CTRL_FAILED: break;
    }
    return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

/* Have the main loop run cmd.  0 when it succeeded; otherwise -1 with the
 * error answer queued in *ret (what, when the main loop gave no reason). */
static int run_control(struct httpd *h, struct MHD_Connection *c,
                       enum route rt, struct control_cmd *cmd,
                       const char *what, enum MHD_Result *ret)
{
    if (atomic_load(&h->stopping)) {
        refuse_shutting_down(cmd);
    } else if (control_submit(cmd, HTTPD_CONTROL_TIMEOUT_S) != 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "the main loop did not answer within "
                                   "%.0f s", HTTPD_CONTROL_TIMEOUT_S);
        *ret = reply_error(c, rt, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
        return -1;
    }
    if (cmd->status == CTRL_OK)
        return 0;
    *ret = reply_error(c, rt, http_status_of(cmd->status),
                       cmd->message[0] ? cmd->message : what);
    return -1;
}

static enum MHD_Result do_reload(struct httpd *h, struct MHD_Connection *c)
{
    struct control_cmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.kind = CTRL_RELOAD;
    enum MHD_Result ret;
    if (run_control(h, c, R_RELOAD, &cmd, "reload failed", &ret) != 0)
        return ret;
    return reply_text(c, MHD_HTTP_OK, "OK");
}

static enum MHD_Result do_expire(struct httpd *h, struct MHD_Connection *c,
                                 enum route rt, const char *id)
{
    struct control_cmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.kind = CTRL_SILENCE_EXPIRE;
    cmd.id = id;
    enum MHD_Result ret;
    if (run_control(h, c, rt, &cmd, "cannot expire", &ret) != 0)
        return ret;
    struct strbuf sb = STRBUF_INIT;
    api_json_ok(&sb);
    return reply_sb(c, MHD_HTTP_OK, API_JSON_CONTENT_TYPE, &sb);
}

static enum MHD_Result do_add_silence(struct httpd *h,
                                      struct MHD_Connection *c,
                                      struct req *r)
{
    struct silence_request sr;
    char err[300];
    if (silence_api_parse(strbuf_str(&r->body), r->body.len,
                          clock_wall(h->clock), &sr, err, sizeof(err)) != 0)
        return reply_error(c, R_SILENCES, MHD_HTTP_BAD_REQUEST, err);
    struct control_cmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.kind = CTRL_SILENCE_ADD;
    cmd.matchers = sr.matchers;
    cmd.nmatchers = sr.nmatchers;
    cmd.starts_at = sr.starts_at;
    cmd.ends_at = sr.ends_at;
    cmd.created_by = sr.created_by;
    cmd.comment = sr.comment;
    enum MHD_Result ret;
    if (run_control(h, c, R_SILENCES, &cmd, "cannot add silence", &ret) ==
        0) {
        struct strbuf sb = STRBUF_INIT;
        api_json_silence_added(&sb, cmd.silence_id);
        ret = reply_sb(c, MHD_HTTP_OK, API_JSON_CONTENT_TYPE, &sb);
    }
    silence_request_free(&sr);
    return ret;
}

/* ---- GET ----------------------------------------------------------------- */

static enum MHD_Result do_get(struct MHD_Connection *c, enum route rt)
{
    if (rt == R_HEALTHY)
        return reply_text(c, MHD_HTTP_OK, "OK");
    struct snapshot *s = snapshot_acquire();
    if (rt == R_READY) {
        bool ready = s && s->ready;
        char why[512];
        snprintf(why, sizeof(why), "%s",
                 !s ? "starting"
                    : s->not_ready ? s->not_ready
                                   : "starting: waiting for the first poll "
                                     "of every workspace");
        snapshot_release(s);
        return ready ? reply_text(c, MHD_HTTP_OK, "ready")
                     : reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, why);
    }
    if (!s)
        return reply_error(c, rt, MHD_HTTP_SERVICE_UNAVAILABLE, "starting");
    struct strbuf sb = STRBUF_INIT;
    const char *ctype = API_JSON_CONTENT_TYPE;
    switch (rt) {
    case R_ROOT:
        html_status_page(s, &sb);
        ctype = HTML_CONTENT_TYPE;
        break;
    case R_METRICS:
        prom_render_metrics(s, &sb);
        ctype = PROM_CONTENT_TYPE;
        break;
    case R_ALERTS: api_json_alerts(s, &sb); break;
    case R_RULES: api_json_rules(s, &sb); break;
    case R_STATUS: api_json_status(s, &sb); break;
    case R_SILENCES: api_json_silences(s, &sb); break;
    default: break;
    }
    snapshot_release(s);
    return reply_sb(c, MHD_HTTP_OK, ctype, &sb);
}

/* ---- the handler --------------------------------------------------------- */

/* The connection's entry in the table of conns.h. */
static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Headers are in: check, route, authorise, answer what needs no body.
 * Sets *con_cls when a body is to be read (POST /api/v1/silences). */
static enum MHD_Result on_headers(struct httpd *h, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  void **con_cls)
{
    if (!http_guard_host_ok(h->guard, header(c, MHD_HTTP_HEADER_HOST)))
        return reply_text(c, MHD_HTTP_MISDIRECTED_REQUEST,
                          "misdirected request: the Host header names "
                          "none of this server's addresses (its listen "
                          "address, localhost, an IP address or an "
                          "allowed_hosts entry)");
    char *id = NULL;
    enum route rt = http_guard_path_ok(url) ? route_of(url, &id) : R_NONE;
    enum MHD_Result ret;
    if (rt == R_NONE)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found");
    if (!method_allowed(rt, method)) {
        free(id);
        return reply_405(c, rt, allowed_methods(rt));
    }
    bool write = !streq(method, "GET") && !streq(method, "HEAD");
    if (write && check_write(h, c, rt, &ret) != 0) {
        free(id);
        return ret;
    }
    if (!write)
        return do_get(c, rt);
    if (rt == R_RELOAD)
        return do_reload(h, c);
    if (rt == R_SILENCE_ID || rt == R_SILENCE_EXPIRE) {
        ret = do_expire(h, c, rt, id);
        free(id);
        return ret;
    }
    /* POST /api/v1/silences: refuse an announced oversized body now,
     * before reading it. */
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    long clen = 0;
    if (cl && parse_long(cl, &clen) == 0 && clen > (long)HTTPD_MAX_BODY)
        return reply_error(c, rt, MHD_HTTP_CONTENT_TOO_LARGE,
                           "request body too large (limit 64 KiB)");
    struct req *r = xcalloc(1, sizeof(*r));
    r->route = rt;
    *con_cls = r;
    return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    struct httpd *h = cls;
    struct req *r = *con_cls;
    (void)version;

    if (!r) {
        struct conn *conn = conn_of(c);
        conns_request(h->conns, conn, mono_s());
        enum MHD_Result ret = on_headers(h, c, url, method, con_cls);
        if (!*con_cls)
            conns_answer(h->conns, conn);   /* no body to wait for */
        return ret;
    }

    if (*upload_size) {
        if (!r->too_big && r->body.len + *upload_size <= HTTPD_MAX_BODY)
            strbuf_add(&r->body, upload, *upload_size);
        else
            r->too_big = true;
        *upload_size = 0;
        /* A chunked body past the cap: stop reading, drop the connection. */
        return r->too_big ? MHD_NO : MHD_YES;
    }
    conns_answer(h->conns, conn_of(c));
    if (r->too_big)
        return reply_error(c, r->route, MHD_HTTP_CONTENT_TOO_LARGE,
                           "request body too large (limit 64 KiB)");
    return do_add_silence(h, c, r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct httpd *h = cls;
    (void)toe;
    conns_idle(h->conns, conn_of(c), mono_s());
    struct req *r = *con_cls;
    if (r) {
        strbuf_free(&r->body);
        free(r);
        *con_cls = NULL;
    }
}

/* libmicrohttpd's messages, each kind at most once a minute (log.h's
 * back-off): a connection flood must not become a log flood. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct httpd *h = cls;
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    pthread_mutex_lock(&h->log_mu);
    size_t i = 0;
    while (i < HTTPD_LOG_SLOTS - 1 && h->log_slots[i].fmt &&
           h->log_slots[i].fmt != fmt)
        i++;
    h->log_slots[i].fmt = fmt;
    log_complain(&h->log_slots[i].c, LOG_WARN, "httpd: %s", buf);
    pthread_mutex_unlock(&h->log_mu);
}

/* Connections come and go: the table of conns.h follows them.  "Closed"
 * comes before libmicrohttpd closes the socket. */
static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct httpd *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        conns_close(h->conns, *socket_context);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *addr =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!fd)
        return;
    const struct sockaddr *sa = addr ? addr->client_addr : NULL;
    socklen_t len = !sa ? 0
                    : sa->sa_family == AF_INET6
                        ? (socklen_t)sizeof(struct sockaddr_in6)
                        : (socklen_t)sizeof(struct sockaddr_in);
    *socket_context = conns_open(h->conns, fd->connect_fd, sa, len,
                                 mono_s());
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return http_guard_unescape(s);
}

static void *watchdog_main(void *arg)
{
    struct httpd *h = arg;
    pthread_mutex_lock(&h->wd_mu);
    while (!h->wd_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += HTTPD_SWEEP_INTERVAL_MS * 1000L * 1000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->wd_cv, &h->wd_mu, &until);
        if (h->wd_stop)
            break;
        pthread_mutex_unlock(&h->wd_mu);
        conns_sweep(h->conns, mono_s());
        pthread_mutex_lock(&h->wd_mu);
    }
    pthread_mutex_unlock(&h->wd_mu);
    return NULL;
}

/* ---- start / stop -------------------------------------------------------- */

static struct MHD_Daemon *start_mhd(struct httpd *h, unsigned flags,
                                    const struct sockaddr_storage *ss,
                                    const struct conns_limits *lim)
{
    return MHD_start_daemon(
        flags | MHD_USE_INTERNAL_POLLING_THREAD |
            MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG | MHD_USE_AUTO |
            MHD_USE_ITC,
        0, NULL, NULL, handle, h,
        /* the logger first: libmicrohttpd warns (through its own logger)
         * about any option given before it */
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)h,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)lim->max_total,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)lim->max_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTPD_CONNECTION_TIMEOUT_S,
        MHD_OPTION_NOTIFY_COMPLETED, completed, (void *)h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, (void *)h,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, (void *)NULL,
        MHD_OPTION_END);
}

static void free_httpd(struct httpd *h)
{
    http_guard_free(h->guard);
    conns_free(h->conns);
    pthread_mutex_destroy(&h->log_mu);
    pthread_mutex_destroy(&h->wd_mu);
    pthread_cond_destroy(&h->wd_cv);
    free(h->admin_token);
    free(h->listen);
    free(h);
}

struct httpd *httpd_start(const struct httpd_options *o, char *err,
                          size_t errlen)
{
    static const struct conns_limits defaults = {
        .max_total = HTTPD_MAX_CONNECTIONS,
        .max_per_ip = HTTPD_MAX_PER_IP,
        .reserve = HTTPD_RESERVE,
        .reserve_per_ip = HTTPD_RESERVE_PER_IP,
        .wait_s = HTTPD_WAIT_S,
        .request_s = HTTPD_REQUEST_S,
        .report_interval_s = HTTPD_DROP_LOG_INTERVAL_S,
    };
    const char *listen = o->listen;
    const struct conns_limits *lim = o->limits ? o->limits : &defaults;
    char host[HTTPD_HOST_SIZE], why[320];
    long port = 0;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    memset(&ss, 0, sizeof(ss));
    if (httpd_parse_listen(listen, host, sizeof(host), &port) != 0) {
        snprintf(err, errlen, "invalid listen address '%s': expected "
                              "HOST:PORT, [IPv6]:PORT or :PORT",
                 listen ? listen : "");
        return NULL;
    }
    struct httpd *h = xcalloc(1, sizeof(*h));
    h->admin_token = xstrdup(o->admin_token);
    h->lifecycle = o->enable_lifecycle;
    h->listen = xstrdup(listen);
    h->clock = o->clock ? o->clock : clock_system();
    h->guard = http_guard_new(host, o->allowed_hosts);
    h->conns = conns_new(lim);
    pthread_mutex_init(&h->log_mu, NULL);
    pthread_mutex_init(&h->wd_mu, NULL);
    pthread_cond_init(&h->wd_cv, NULL);
    atomic_init(&h->stopping, false);
    atomic_init(&h->drain_done, false);
    if (host[0]) {
        if (resolve(host, port, &ss, &sslen, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", listen, why);
            goto fail;
        }
        h->loopback = addr_is_loopback((struct sockaddr *)&ss);
        h->mhd = start_mhd(h, ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0,
                           &ss, lim);
    } else {
        /* Every interface: IPv6 with v4-mapped addresses where the kernel
         * has IPv6, plain IPv4 otherwise. */
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_any;
        in6->sin6_port = htons((uint16_t)port);
        sslen = sizeof(*in6);
        h->mhd = start_mhd(h, MHD_USE_DUAL_STACK, &ss, lim);
        if (!h->mhd) {
            memset(&ss, 0, sizeof(ss));
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            in->sin_family = AF_INET;
            in->sin_addr.s_addr = htonl(INADDR_ANY);
            in->sin_port = htons((uint16_t)port);
            sslen = sizeof(*in);
            h->mhd = start_mhd(h, 0, &ss, lim);
        }
    }
    if (!h->mhd) {
        explain_bind_failure(&ss, sslen, why, sizeof(why));
        snprintf(err, errlen, "cannot listen on %s: %s", listen, why);
        goto fail;
    }
    if (pthread_create(&h->watchdog, NULL, watchdog_main, h) != 0) {
        MHD_stop_daemon(h->mhd);
        snprintf(err, errlen, "cannot listen on %s: cannot start a thread",
                 listen);
        goto fail;
    }
    h->watchdog_running = true;
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? (int)info->port : (int)port;
    bool token = h->admin_token && *h->admin_token;
    log_info("httpd: listening on %s (port %d)%s%s", listen, h->port,
             token ? "; writes need the admin token"
                   : h->loopback ? "; writes open to local clients (no "
                                   "admin_token)"
                                 : "; writes disabled (no admin_token)",
             h->lifecycle ? "; reload over HTTP enabled" : "");
    return h;
fail:
    free_httpd(h);
    return NULL;
}

/* While libmicrohttpd waits for its connection threads, answer any control
 * command they submitted: the main loop may not be looking any more. */
static void *drain_main(void *arg)
{
    struct httpd *h = arg;
    const struct timespec nap = { 0, 5 * 1000 * 1000 };
    while (!atomic_load(&h->drain_done)) {
        struct control_cmd *c;
        while ((c = control_take()) != NULL) {
            refuse_shutting_down(c);
            control_complete(c);
        }
        nanosleep(&nap, NULL);
    }
    return NULL;
}

void httpd_stop(struct httpd *h)
{
    if (!h)
        return;
    atomic_store(&h->stopping, true);
    pthread_t t;
    bool drained = pthread_create(&t, NULL, drain_main, h) == 0;
    /* Stop accepting, then give requests in progress a moment to send
     * their answers (MHD_stop_daemon cuts open connections short). */
    MHD_socket fd = MHD_quiesce_daemon(h->mhd);
    const struct timespec nap = { 0, 10 * 1000 * 1000 };
    for (int i = 0; i < 200; i++) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!info || info->num_connections == 0)
            break;
        nanosleep(&nap, NULL);
    }
    MHD_stop_daemon(h->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    /* the deadlines held while requests finished; no connection is left */
    if (h->watchdog_running) {
        pthread_mutex_lock(&h->wd_mu);
        h->wd_stop = true;
        pthread_cond_signal(&h->wd_cv);
        pthread_mutex_unlock(&h->wd_mu);
        pthread_join(h->watchdog, NULL);
    }
    atomic_store(&h->drain_done, true);
    if (drained)
        pthread_join(t, NULL);
    log_info("httpd: stopped listening on %s", h->listen);
    free_httpd(h);
}

int httpd_port(const struct httpd *h)
{
    return h ? h->port : 0;
}

bool httpd_is_loopback(const struct httpd *h)
{
    return h && h->loopback;
}

void httpd_conn_stats(struct httpd *h, struct conns_stats *out)
{
    conns_get_stats(h->conns, out);
}
