/*
 * httpd.h - the HTTP server (README.md "Operations"): listener, routing,
 * responses and the admin token for the status page, /metrics, the JSON
 * API, silences, reload and health endpoints.  What the pages contain is
 * rendered by html.h, prom.h and api_json.h; the silence POST body is
 * parsed by silence_api.h.
 *
 * Threads: libmicrohttpd serves from its own threads (one per
 * connection, at most HTTPD_MAX_CONNECTIONS, HTTPD_MAX_PER_IP per client
 * address) and a watchdog thread enforces the deadlines and the reserve of
 * conns.h.  Handlers read only the published snapshot
 * (snapshot_acquire/release) and reach mutable state only through
 * control_submit() (control.h), which the main loop answers with
 * control_take()/control_complete().  Before the first snapshot_publish()
 * the pages answer 503 "starting".
 *
 * Routes:
 *   GET  /                          status page (HTML)
 *   GET  /metrics                   Prometheus text format
 *   GET  /api/v1/alerts|rules|status|silences   JSON
 *   POST /api/v1/silences           {"matchers":["rule=x",...],
 *                                    "duration":"2h" | "endsAt":RFC3339,
 *                                    ["startsAt"], "comment",
 *                                    ["createdBy"]} -> {"silenceId":...}
 *   DELETE /api/v1/silence/ID, POST /api/v1/silences/ID/expire
 *   POST|PUT /-/reload              200, or 500 with the errors; only with
 *                                   enable_lifecycle (403 otherwise)
 * Control commands (writes) answer by the main loop's code (control.h):
 * 400 refused, 404 unknown silence, 500 failed, 503 shutting down or no
 * answer within HTTPD_CONTROL_TIMEOUT_S.
 *   GET  /-/healthy                 200 "OK"
 *   GET  /-/ready                   200 once snapshot->ready, else 503
 * Unknown paths 404 (so are paths with control characters, "%00"
 * included); wrong methods 405 with Allow.  HEAD works wherever GET does.
 * Request bodies are capped at HTTPD_MAX_BODY (413).
 *
 * Browsers (http_guard.h): every request needs a Host that names this
 * server (421 otherwise).  Writes (POST, PUT, DELETE) need Content-Type
 * application/json (415) and no cross-site Origin (403).
 *
 * Admin token: when one is configured, every write needs "Authorization:
 * Bearer <admin_token>" (401 otherwise), on every listener.  Without one,
 * writes are accepted on a loopback address (127.0.0.0/8, ::1, or a name
 * that resolves to one) and refused elsewhere (403).  Reads need no token.
 */
#ifndef SEGALERT_HTTPD_H
#define SEGALERT_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/clock.h"
#include "core/util.h"

#define HTTPD_MAX_BODY ((size_t)64 << 10)
/* libmicrohttpd's idle timeout; conns.h adds deadlines it cannot reset. */
#define HTTPD_CONNECTION_TIMEOUT_S 15
/* How long a handler waits for the main loop to run a control command. */
#define HTTPD_CONTROL_TIMEOUT_S 10.0

/* Connections (conns.h): at most HTTPD_MAX_CONNECTIONS in all and
 * HTTPD_MAX_PER_IP from one address, far more than a few Prometheus
 * servers, browsers and CLI runs need, or a reverse proxy (one address for
 * everyone).  HTTPD_RESERVE of the total and HTTPD_RESERVE_PER_IP of each
 * address's share are kept free of connections waiting for their request,
 * so that slow clients reconnecting in bursts never fill the hard limits:
 * a burst makes room for itself by closing the slow ones. */
#define HTTPD_MAX_CONNECTIONS 256
#define HTTPD_MAX_PER_IP 64
#define HTTPD_RESERVE 64
#define HTTPD_RESERVE_PER_IP 32
/* The whole request header within this after connecting (or after the
 * previous answer on a kept-alive connection), the body and the answer
 * within HTTPD_REQUEST_S after it (beyond HTTPD_CONTROL_TIMEOUT_S). */
#define HTTPD_WAIT_S 10.0
#define HTTPD_REQUEST_S 30.0
/* At most one log line per interval about connections closed or refused. */
#define HTTPD_DROP_LOG_INTERVAL_S 60.0

struct httpd;
struct str_list;
struct conns_limits;
struct conns_stats;

struct httpd_options {
    /* "127.0.0.1:9477", "[::1]:9477", "localhost:9477" or ":9477" (every
     * interface: IPv6 dual stack, else IPv4); port 0 picks a free port
     * (see httpd_port). */
    const char *listen;
    const char *admin_token;                /* NULL or "" = none */
    const struct str_list *allowed_hosts;   /* extra Host names; NULL ok */
    bool enable_lifecycle;                  /* POST /-/reload */
    /* The daemon's clock (NULL = clock_system()): silences given as a
     * duration start at its now. */
    const struct clock *clock;
    /* NULL = the HTTPD_* defaults above (tests shorten them). */
    const struct conns_limits *limits;
};

/*
 * Start serving as o says (everything is copied).  Returns the server, or
 * NULL with err ("cannot listen on 127.0.0.1:9477: Address already in
 * use").  Logs one info line with the address.
 */
struct httpd *httpd_start(const struct httpd_options *o, char *err,
                          size_t errlen);

/*
 * Stop accepting, let the requests in progress finish (up to 2 s), free.
 * Control commands submitted while stopping are answered "shutting down"
 * (a helper drains the control queue meanwhile), so this never waits for
 * HTTPD_CONTROL_TIMEOUT_S.  Must not be called while the caller has taken
 * a control command it has not completed yet (e.g. from inside the
 * handling of CTRL_RELOAD): complete it first, then restart the server.
 * NULL is a no-op.
 */
void httpd_stop(struct httpd *h);

/* The port actually bound (useful with port 0). */
int httpd_port(const struct httpd *h);
/* Is the server bound to a loopback address (writes need no admin token
 * when none is configured)? */
bool httpd_is_loopback(const struct httpd *h);
/* Its connections: open, closed past a deadline, closed to make room. */
void httpd_conn_stats(struct httpd *h, struct conns_stats *out);

/*
 * Split a listen address "host:port", "[v6]:port" or ":port" (also
 * "*:port"): host gets the host part ("" for a wildcard; hostlen of
 * HTTPD_HOST_SIZE is enough), *port the port (0 to 65535).  Returns 0, or
 * -1 when malformed.  Also used by the CLI to find a daemon.
 */
#define HTTPD_HOST_SIZE 256
int httpd_parse_listen(const char *listen, char *host, size_t hostlen,
                       long *port);

#endif
