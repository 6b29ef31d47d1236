/*
 * sim_api.h - the Segment Public API endpoints of the simulator: query
 * parsing (dot and bracket forms, percent-decoding), pagination, input
 * validation and the JSON bodies, shaped like the JSON files in tests/fixtures.
 *
 * Pure apart from reading the scenario: no HTTP library here, so the
 * request thread (sim_http.c) owns auth, rate limits, faults and latency.
 */
#ifndef SEGALERT_SIM_API_H
#define SEGALERT_SIM_API_H

#include "core/util.h"
#include "sim_scenario.h"

enum sim_endpoint {
    EP_SOURCES = 0,
    EP_CONNECTED,
    EP_DELIVERY,
    EP_VOLUME,
    EP_MTU_SOURCES,
    EP_MTU,
    EP_API_SOURCES,
    EP_API,
    EP_OTHER,           /* unknown paths (404) */
    EP_COUNT
};

/* Stats key: "sources", "connected_destinations", ... "other". */
const char *sim_endpoint_name(enum sim_endpoint ep);

/* Which endpoint a (decoded) path belongs to. */
enum sim_endpoint sim_api_route(const char *path);

struct sim_reply {
    int status;
    struct strbuf body;
    const char *content_type;   /* static string */
};

/* Fill r (zero-initialised by the caller) with the standard envelope
 * {"errors":[{"type":..,"message":..[,"field":..][,"status":..]}]}. */
void sim_reply_error(struct sim_reply *r, int status, const char *type,
                     const char *message, const char *field);

/*
 * Answer GET path?query (query without '?', may be NULL; path already
 * split off) at wall time now.  The reply is zero-initialised by the
 * caller and released with strbuf_free(&r->body).
 */
void sim_api_handle(const struct scenario *sc, const char *path,
                    const char *query, double now, struct sim_reply *r);

/* Percent-decode s (no '+' to space: timestamps may carry "+00:00"). */
char *sim_url_decode(const char *s, size_t len);

#endif
