/*
 * sim_api.h - routing and the Segment Public API endpoints of the
 * simulator: sources, connected destinations, delivery metrics, event
 * volume and usage, with the JSON bodies shaped like the files in
 * tests/fixtures (Delivery Overview is in sim_overview.h).
 *
 * Pure apart from reading the scenario: no HTTP library here, so the
 * request thread (sim_http.c) owns auth, rate limits, faults and latency.
 */
#ifndef SEGALERT_SIM_API_H
#define SEGALERT_SIM_API_H

#include "core/util.h"
#include "sim_query.h"
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
    EP_OVERVIEW,        /* /delivery-overview/{step} */
    EP_OTHER,           /* unknown paths (404) */
    EP_COUNT
};

/* Stats key: "sources", "connected_destinations", ... "other". */
const char *sim_endpoint_name(enum sim_endpoint ep);

/* Which endpoint a (decoded) path belongs to. */
enum sim_endpoint sim_api_route(const char *path);

/*
 * Answer GET path?query (query without '?', may be NULL; path already
 * split off) at scenario time now.  The reply is zero-initialised by the
 * caller and released with strbuf_free(&r->body).
 */
void sim_api_handle(const struct scenario *sc, const char *path,
                    const char *query, double now, struct sim_reply *r);

#endif
