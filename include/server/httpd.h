/*
 * httpd.h - the HTTP server (SPEC §6): status page, /metrics, the JSON
 * API, silences, reload and health endpoints; plus the small client the
 * `status` and `silence` commands use to talk to a running daemon.
 *
 * Threads: libmicrohttpd serves from its own threads (one per
 * connection, at most HTTPD_MAX_CONNECTIONS).  Handlers read only the
 * published snapshot (snapshot_acquire/release) and reach mutable state
 * only through control_submit() (control.h), which the main loop answers
 * with control_take()/control_complete().  Before the first
 * snapshot_publish() the pages answer 503 "starting".
 *
 * Routes:
 *   GET  /                          status page (HTML)
 *   GET  /metrics                   Prometheus text format
 *   GET  /api/v1/alerts|rules|status|silences   JSON
 *   POST /api/v1/silences           {"matchers":["rule=x",...],
 *                                    "duration":"2h" | "endsAt":RFC3339,
 *                                    ["startsAt"], ["comment"],
 *                                    ["createdBy"]} -> {"silenceId":...}
 *   DELETE /api/v1/silence/ID, POST /api/v1/silences/ID/expire
 *   POST|PUT /-/reload              200, or 500 with the errors
 *   GET  /-/healthy                 200 "OK"
 *   GET  /-/ready                   200 once snapshot->ready, else 503
 * Unknown paths 404; wrong methods 405 with Allow.  HEAD works wherever
 * GET does.  Request bodies are capped at HTTPD_MAX_BODY (413).
 *
 * Admin token: on a loopback address (127.0.0.0/8, ::1, or a name that
 * resolves to one) anyone local may POST/DELETE.  Elsewhere every
 * POST/PUT/DELETE needs "Authorization: Bearer <admin_token>" (401
 * otherwise); with no admin token configured they are refused (403).
 */
#ifndef SEGALERT_HTTPD_H
#define SEGALERT_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/util.h"

#define HTTPD_MAX_BODY ((size_t)64 << 10)
#define HTTPD_MAX_CONNECTIONS 64
#define HTTPD_CONNECTION_TIMEOUT_S 15
/* How long a handler waits for the main loop to run a control command. */
#define HTTPD_CONTROL_TIMEOUT_S 10.0

struct httpd;

/*
 * Start serving on listen: "127.0.0.1:9477", "[::1]:9477", "localhost:9477"
 * or ":9477" (every interface: IPv6 dual stack, else IPv4).  Port 0 picks
 * a free port (see httpd_port).  admin_token (copied; may be NULL) guards
 * the write endpoints on a non-loopback address.  Returns the server, or
 * NULL with err ("cannot listen on 127.0.0.1:9477: Address already in
 * use").  Logs one info line with the address.
 */
struct httpd *httpd_start(const char *listen, const char *admin_token,
                          char *err, size_t errlen);

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
/* Is the server bound to a loopback address (no admin token needed)? */
bool httpd_is_loopback(const struct httpd *h);

/* ---- client side (segalert status / silence) ------------------------- */

/*
 * Base URL of a daemon listening on listen: "http://127.0.0.1:9477";
 * wildcard hosts (":9477", "0.0.0.0", "[::]") are reached on loopback.
 * Returns 0, or -1 when listen is "" (HTTP disabled) or malformed.
 */
int httpd_listen_url(const char *listen, char *url, size_t len);

enum httpd_client_result {
    HTTPD_CLIENT_OK = 0,        /* got an HTTP response (any status) */
    HTTPD_CLIENT_DOWN,          /* nothing listening (connection refused) */
    HTTPD_CLIENT_ERROR,         /* anything else (timeout, bad URL...) */
};

/*
 * One request to base_url + path with libcurl (no proxy, 20 s timeout,
 * response capped at 32 MiB).  body (may be NULL) is sent as JSON;
 * admin_token (may be NULL) as a Bearer token.  On HTTPD_CLIENT_OK,
 * *status holds the HTTP status and out the body; otherwise err says
 * why.  The caller has called curl_global_init().
 */
enum httpd_client_result httpd_client_request(const char *base_url,
                                              const char *method,
                                              const char *path,
                                              const char *admin_token,
                                              const char *body, long *status,
                                              struct strbuf *out, char *err,
                                              size_t errlen);

#endif
