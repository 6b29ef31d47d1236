/*
 * httpd.h - the HTTP server (README.md "Operations"): listener, routing,
 * responses and the admin token for the status page, /metrics, the JSON
 * API, silences, reload and health endpoints.  What the pages contain is
 * rendered by html.h, prom.h and api_json.h; the silence POST body is
 * parsed by silence_api.h.
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
 * Control commands (writes) answer by the main loop's code (control.h):
 * 400 refused, 404 unknown silence, 500 failed, 503 shutting down or no
 * answer within HTTPD_CONTROL_TIMEOUT_S.
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

#include "core/clock.h"
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
 * use").  Logs one info line with the address.  clock (borrowed; NULL =
 * clock_system()) is the daemon's: silences given as a duration start at
 * its now.
 */
struct httpd *httpd_start(const char *listen, const char *admin_token,
                          const struct clock *clock, char *err,
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
/* Is the server bound to a loopback address (no admin token needed)? */
bool httpd_is_loopback(const struct httpd *h);

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
